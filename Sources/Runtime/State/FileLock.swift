import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive `flock` on one file, with a short note (the holder's pid and purpose) written into it.
///
/// The kernel releases the lock when the holder exits, even on `kill -9`, so a stale note never blocks
/// anyone. `flock` belongs to the open file description, so two locks in one process exclude each other too.
final class FileLock: Sendable {
    let path: String
    private let descriptor: ProtectedValue<Int32>

    private init(path: String, descriptor: Int32, note: String?) {
        if let note {
            _ = ftruncate(descriptor, 0)
            _ = note.withCString { pwrite(descriptor, $0, strlen($0), 0) }
        }
        self.path = path
        self.descriptor = ProtectedValue(descriptor)
    }

    /// The outcome of `tryAcquire`.
    enum Attempt {
        case acquired(FileLock)
        /// Someone else holds the lock; `note` is what they wrote, if anything yet.
        case held(note: String?)
    }

    /// Takes the lock at once, or reports who holds it.
    static func tryAcquire(path: String, note: String? = nil) throws -> Attempt {
        let fd = try openFile(path)
        guard try lock(fd, path: path, wait: false) else {
            let holder = readNote(fd)
            close(fd)
            return .held(note: holder)
        }
        return .acquired(FileLock(path: path, descriptor: fd, note: note))
    }

    /// Takes the lock, waiting for it. Waiting blocks the calling thread, so only wait for locks that
    /// are held for milliseconds (a read-modify-write of a small file, a schema migration).
    static func acquire(path: String, note: String? = nil) throws -> FileLock {
        let fd = try openFile(path)
        _ = try lock(fd, path: path, wait: true)
        return FileLock(path: path, descriptor: fd, note: note)
    }

    /// Runs `body` holding the (waited-for) lock on `path`.
    static func withLock<T>(path: String, _ body: () throws -> T) throws -> T {
        let lock = try acquire(path: path)
        defer { lock.release() }
        return try body()
    }

    private static func openFile(_ path: String) throws -> Int32 {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, StateDirectory.fileMode)
        guard fd >= 0 else {
            throw StateError(.stateUnavailable, "Cannot open the lock file \(path): \(String(cString: strerror(errno))). Check that the state directory is writable.")
        }
        return fd
    }

    /// Whether the lock was taken (always true when waiting); closes `fd` before throwing.
    private static func lock(_ fd: Int32, path: String, wait: Bool) throws -> Bool {
        while flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0 {
            let failure = errno
            if failure == EINTR { continue }
            if failure == EWOULDBLOCK && !wait { return false }
            close(fd)
            throw StateError(.stateUnavailable, "Cannot lock \(path): \(String(cString: strerror(failure))).")
        }
        return true
    }

    private static func readNote(_ fd: Int32) -> String? {
        var bytes = [UInt8](repeating: 0, count: 1024)
        let count = pread(fd, &bytes, bytes.count, 0)
        guard count > 0 else { return nil }
        let text = String(decoding: bytes[0..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }

    /// Releases the lock, clearing the note first so nobody reads it as current; idempotent.
    func release() {
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
