import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The exclusive right to change one alias (held by a deployment or a rollback), released when the process exits even on kill -9.
///
/// Other processes may serve, invoke and deploy other aliases of the same state directory meanwhile;
/// only two changes of one alias would interleave their traffic shifts, so only that is excluded.
public final class AliasLock: Sendable {
    public let function: String
    public let alias: String
    private let lock: FileLock

    private init(function: String, alias: String, lock: FileLock) {
        self.function = function
        self.alias = alias
        self.lock = lock
    }

    /// Takes `<directory>/locks/<function>@<alias>.lock` at once or throws StateError(.stateLocked) naming the holder: "Greeter:live is being deployed by process 1234 (deployment 5f3c…); wait for it, or stop it (kill 1234) and deploy again to resume..
    ///
    /// - Parameter holder: what holds the lock, written after the pid for whoever fails next (e.g. "deployment <id>").
    public static func acquire(directory: URL, function: String, alias: String, holder: String) throws -> AliasLock {
        let folder = directory.appendingPathComponent("locks", isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw StateError(.stateUnavailable, "Cannot create \(folder.path). Check the state directory's permissions.", cause: error)
        }
        let path = folder.appendingPathComponent("\(fileNameComponent(function))@\(fileNameComponent(alias)).lock").path
        // One line, so a holder text with newlines cannot fake another pid.
        let note = "\(getpid()) \(holder.replacingOccurrences(of: "\n", with: " "))\n"
        switch try FileLock.tryAcquire(path: path, note: note) {
        case .acquired(let lock):
            return AliasLock(function: function, alias: alias, lock: lock)
        case .held(let note):
            throw heldError(function: function, alias: alias, note: note)
        }
    }

    /// Gives the alias up; idempotent (and done by deinit).
    public func release() { lock.release() }

    private static func heldError(function: String, alias: String, note: String?) -> StateError {
        let fields = note.map { $0.split(separator: " ", maxSplits: 1).map(String.init) } ?? []
        let pid = fields.first.flatMap { Int32($0) }
        let holder = fields.count > 1 ? " (\(fields[1]))" : ""
        let name = "\(function):\(alias)"
        guard let pid else {
            // The holder has taken the lock but not yet written its note.
            return StateError(.stateLocked, "\(name) is being deployed by another process; wait for it, or stop it and deploy again to resume.")
        }
        return StateError(.stateLocked, "\(name) is being deployed by process \(pid)\(holder); wait for it, or stop it (kill \(pid)) and deploy again to resume.")
    }

    /// Function and alias names are restricted by AWS, but the lock must not escape `locks/` whatever it is given:
    /// everything but letters, digits, `-` and `_` is percent-encoded (so `@`, `/`, `.` and `%` cannot collide).
    static func fileNameComponent(_ name: String) -> String {
        var out = ""
        for byte in name.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                out.append(Character(Unicode.Scalar(byte)))
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }
}
