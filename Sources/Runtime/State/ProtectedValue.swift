import Foundation

/// A value behind a lock, for shared mutable state that must be reachable synchronously (hot paths).
///
/// `Synchronization.Mutex` would do, but the package still targets macOS 14, where it is unavailable.
final class ProtectedValue<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    /// Runs `body` with exclusive access. Never call out (resume continuations, do I/O) from inside.
    @inline(__always)
    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
