#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation

/// The state directory holds function output, logs and request ids: it is its owner's alone (0700,
/// files 0600) whatever the umask, and another user's directory is refused rather than written into.
enum StateDirectory {
    /// Mode of the state directory and of its folders.
    static let directoryMode: mode_t = 0o700
    /// Mode of the files shift creates in it.
    static let fileMode: mode_t = 0o600

    /// Creates `directory` (0700) or checks that the existing one belongs to the user running shift,
    /// and takes group and other permissions away from it. `create: false` only checks the owner.
    static func prepare(_ directory: URL, create: Bool = true) throws {
        let path = directory.path
        var info = stat()
        if stat(path, &info) != 0 {
            guard errno == ENOENT, create else { return }  // read-only openers report the missing database themselves
            do {
                try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            } catch {
                throw StateError(.stateUnavailable, "Cannot create the state directory \(path). Check the path and its permissions.", cause: error)
            }
            if mkdir(path, directoryMode) != 0 && errno != EEXIST {
                throw StateError(.stateUnavailable, "Cannot create the state directory \(path): \(String(cString: strerror(errno))). Check the path and its permissions.")
            }
            guard stat(path, &info) == 0 else {
                throw StateError(.stateUnavailable, "Cannot read the state directory \(path): \(String(cString: strerror(errno))).")
            }
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw StateError(.stateUnavailable, "The state directory \(path) is not a directory. Pass another --state-dir.")
        }
        guard info.st_uid == geteuid() else {
            throw StateError(
                .stateUnavailable,
                "The state directory \(path) belongs to \(userName(info.st_uid)), not to you (\(userName(geteuid()))): shift keeps function output and logs there and does not share them. Run as its owner, or pass a --state-dir of your own.")
        }
        // Directories created by earlier versions (0755): close them too.
        if create, info.st_mode & 0o077 != 0 { chmod(path, directoryMode) }
    }

    /// Creates `path` empty with mode 0600 if it does not exist, so that SQLite (which gives its WAL
    /// and shared-memory files the database's mode) and lock files never start readable by others.
    static func createPrivateFile(_ path: String) {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, fileMode)
        guard fd >= 0 else { return }  // the opener that follows reports what is wrong
        var info = stat()
        if fstat(fd, &info) == 0, info.st_uid == geteuid(), info.st_mode & 0o077 != 0 { fchmod(fd, fileMode) }
        close(fd)
    }

    /// Takes group and other permissions away from `path` if it exists and is the user's.
    static func restrict(_ path: String) {
        var info = stat()
        if stat(path, &info) == 0, info.st_uid == geteuid(), info.st_mode & 0o077 != 0 { chmod(path, fileMode) }
    }

    private static func userName(_ uid: uid_t) -> String {
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return "uid \(uid)" }
        return "\(String(cString: name)) (uid \(uid))"
    }
}
