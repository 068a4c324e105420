#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation

/// Reads resident memory from /proc without Foundation (a few microseconds per file).
enum ProcessMemory {
    /// Peak RSS of `pid` (VmHWM) plus the current RSS of its descendants, in kB.
    /// Returns nil when the process is gone.
    static func treeKilobytes(pid: pid_t) -> Int? {
        guard let status = readSmallFile("/proc/\(pid)/status") else { return nil }
        var total = field("VmHWM:", in: status) ?? field("VmRSS:", in: status) ?? 0
        for child in children(of: pid) {
            total += descendantsRSS(pid: child, depth: 0)
        }
        return total
    }

    /// Current RSS of `pid` plus its descendants, in kB (0 when gone).
    static func currentTreeKilobytes(pid: pid_t) -> Int {
        descendantsRSS(pid: pid, depth: 0)
    }

    private static func descendantsRSS(pid: pid_t, depth: Int) -> Int {
        guard depth < 16, let status = readSmallFile("/proc/\(pid)/status") else { return 0 }
        var total = field("VmRSS:", in: status) ?? 0
        for child in children(of: pid) { total += descendantsRSS(pid: child, depth: depth + 1) }
        return total
    }

    private static func children(of pid: pid_t) -> [pid_t] {
        guard let text = readSmallFile("/proc/\(pid)/task/\(pid)/children") else { return [] }
        return text.split(separator: " ").compactMap { pid_t($0.trimmingWhitespace) }
    }

    private static func field(_ name: String, in text: String) -> Int? {
        guard let range = text.range(of: name) else { return nil }
        let rest = text[range.upperBound...].drop { $0 == " " || $0 == "\t" }
        return Int(rest.prefix { $0.isNumber })
    }

    static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        var used = 0
        while used < buffer.count {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + used, $0.count - used) }
            if n <= 0 { break }
            used += n
        }
        return String(decoding: buffer[0..<used], as: UTF8.self)
    }
}

extension Substring {
    var trimmingWhitespace: Substring {
        var s = self
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return s
    }
}
