#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation

/// Which local process is at the other end of a loopback TCP connection, asked of /proc (Linux).
enum PeerProcess {
    /// Where the client of a connection is, relative to a process tree.
    enum Origin: Equatable {
        /// A descendant of the tree's root (the pid found).
        case inside(pid_t)
        /// Not in the tree (or already gone).
        case outside
        /// /proc cannot tell (not Linux): the caller decides.
        case unknown
    }

    /// Whether the client end of the loopback connection `clientPort` → `serverPort` is held by a
    /// descendant of `root`. Reads /proc/net/tcp and the descriptors of the tree's processes: about a
    /// millisecond, so it is for the rare path only.
    static func origin(clientPort: Int, serverPort: Int, root: pid_t) -> Origin {
        guard let table = readWhole("/proc/net/tcp") else { return .unknown }
        guard let inode = clientInode(in: table, clientPort: clientPort, serverPort: serverPort) else { return .outside }
        let link = "socket:[\(inode)]"
        for pid in descendants(of: root) where holds(pid, link) { return .inside(pid) }
        return .outside
    }

    /// The inode of the socket whose local end is 127.0.0.1:`clientPort` and remote end 127.0.0.1:`serverPort`.
    static func clientInode(in table: String, clientPort: Int, serverPort: Int) -> Substring? {
        let local = "0100007F:" + hex(clientPort), remote = "0100007F:" + hex(serverPort)
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            guard fields.count > 9, fields[1] == local, fields[2] == remote else { continue }
            return fields[9]
        }
        return nil
    }

    private static func hex(_ port: Int) -> String {
        let digits = String(port, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// `root` and every process under it (children of every thread, at any depth).
    static func descendants(of root: pid_t) -> [pid_t] {
        var found: [pid_t] = [root]
        var index = 0
        while index < found.count, found.count < 4096 {
            let pid = found[index]
            index += 1
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
            for task in tasks {
                guard let text = ProcessMemory.readSmallFile("/proc/\(pid)/task/\(task)/children") else { continue }
                found += text.split(separator: " ").compactMap { pid_t($0.trimmingWhitespace) }
            }
        }
        return found
    }

    /// A /proc file, read to its end (they report a size of 0, so Foundation's readers return nothing).
    private static func readWhole(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 { bytes += chunk[0..<n] } else if n < 0 && errno == EINTR { continue } else { break }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func holds(_ pid: pid_t, _ link: String) -> Bool {
        let folder = "/proc/\(pid)/fd"
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return false }
        var buffer = [CChar](repeating: 0, count: 64)
        for entry in entries {
            let count = readlink("\(folder)/\(entry)", &buffer, buffer.count - 1)
            guard count > 0 else { continue }
            if String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) == link { return true }
        }
        return false
    }
}
