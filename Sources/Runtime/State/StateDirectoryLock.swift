import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The exclusive `flock` on `<state>/lock` that serialises processes using one state directory.
///
/// The holder writes its pid into the file so a waiting process can name it. The kernel releases the
/// lock when the holder exits, even on `kill -9`, so a stale pid in the file never blocks anyone.
/// `flock` belongs to the open file description, so two stores in one process also exclude each other.
public final class StateDirectoryLock: Sendable {
    public let path: String
    private let descriptor: ProtectedValue<Int32>

    /// Takes the lock, retrying every 50 ms until `timeout` has passed.
    public init(path: String, timeout: Duration) async throws {
        self.path = path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw StateError(.stateUnavailable, "Cannot open the lock file \(path): \(String(cString: strerror(errno))). Check that the state directory is writable.")
        }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let failure = errno
            guard failure == EWOULDBLOCK || failure == EINTR else {
                close(fd)
                throw StateError(.stateUnavailable, "Cannot lock \(path): \(String(cString: strerror(failure))).")
            }
            if clock.now >= deadline {
                let holder = Self.readHolder(fd)
                close(fd)
                let who = holder.map { "process \($0)" } ?? "another process"
                throw StateError(
                    .stateLocked,
                    "The state directory is in use by \(who) (lock file \(path)); waited \(timeout). Wait for it to finish, stop it, or use another --state-dir."
                )
            }
            do {
                try await Task.sleep(for: .milliseconds(50))
            } catch {
                close(fd)
                throw error
            }
        }
        // We hold the lock: record our pid for whoever waits next.
        let pid = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
        self.descriptor = ProtectedValue(fd)
    }

    /// The pid recorded in a lock file, if any (for messages).
    private static func readHolder(_ fd: Int32) -> Int32? {
        var bytes = [UInt8](repeating: 0, count: 32)
        let count = pread(fd, &bytes, bytes.count, 0)
        guard count > 0 else { return nil }
        let text = String(decoding: bytes[0..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return Int32(text)
    }

    /// Releases the lock; idempotent.
    public func release() {
        descriptor.withLock { fd in
            guard fd >= 0 else { return }
            _ = ftruncate(fd, 0)
            _ = flock(fd, LOCK_UN)
            close(fd)
            fd = -1
        }
    }

    deinit { release() }
}
