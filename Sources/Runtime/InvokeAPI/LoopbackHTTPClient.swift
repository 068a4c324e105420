import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A minimal blocking HTTP/1.1 keep-alive client over one TCP connection (POSIX sockets), for
/// benchmarks and tests that talk to loopback servers: no framework in the measured path.
///
/// Responses must carry `Content-Length` (every server in this package sends it). Not thread-safe:
/// one client per thread.
public final class LoopbackHTTPClient {
    /// A parsed response.
    public struct Response: Sendable {
        public var status: Int
        /// Header names lower-cased.
        public var headers: [String: String]
        public var body: [UInt8]
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    public let host: String
    public let port: Int
    private var fd: Int32 = -1
    private var buffer: [UInt8] = []

    public init(host: String = "127.0.0.1", port: Int) {
        self.host = host
        self.port = port
    }

    deinit { close() }

    public func close() {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
        buffer = []
    }

    private func connect() throws {
        close()
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketFD >= 0 else { throw SystemCallError(call: "socket", errno: errno) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &address.sin_addr)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let error = errno
            _ = Glibc.close(socketFD)
            throw SystemCallError(call: "connect", errno: error)
        }
        var one: Int32 = 1
        setsockopt(socketFD, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        fd = socketFD
    }

    /// Sends one request and reads its response; reconnects once if the kept-alive connection was closed.
    public func request(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = []) throws -> Response {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nContent-Length: \(body.count)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        let bytes = Array(head.utf8) + body
        for attempt in 0..<2 {
            if fd < 0 { try connect() }
            do {
                try send(bytes)
                let response = try readResponse()
                if response.headers["connection"]?.lowercased() == "close" { close() }
                return response
            } catch let error as SystemCallError where attempt == 0 && buffer.isEmpty {
                _ = error
                close()  // the server closed an idle connection: try a fresh one
            }
        }
        throw SystemCallError(call: "request", errno: ECONNRESET)
    }

    private func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent < 0 {
                if errno == EINTR { continue }
                throw SystemCallError(call: "send", errno: errno)
            }
            offset += sent
        }
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                buffer.append(contentsOf: chunk[0..<count])
                return
            }
            if count < 0 && errno == EINTR { continue }
            throw SystemCallError(call: "recv", errno: count == 0 ? ECONNRESET : errno)
        }
    }

    /// Status and headers from the bytes before the blank line (byte-level: this runs once per request).
    private static func parseHead(_ head: ArraySlice<UInt8>) -> (Int, [String: String]) {
        var status = 0
        var headers: [String: String] = [:]
        var lineStart = head.startIndex
        var first = true
        var index = head.startIndex
        while lineStart < head.endIndex {
            index = lineStart
            while index < head.endIndex && head[index] != 13 { index += 1 }
            let line = head[lineStart..<index]
            if first {
                first = false
                if let space = line.firstIndex(of: 32) {
                    var code = 0
                    var digit = space + 1
                    while digit < line.endIndex, (48...57).contains(line[digit]) { code = code * 10 + Int(line[digit] - 48); digit += 1 }
                    status = code
                }
            } else if let colon = line.firstIndex(of: 58) {
                var valueStart = colon + 1
                while valueStart < line.endIndex && line[valueStart] == 32 { valueStart += 1 }
                let name = String(decoding: line[lineStart..<colon].map { (65...90).contains($0) ? $0 + 32 : $0 }, as: UTF8.self)
                headers[name] = String(decoding: line[valueStart...], as: UTF8.self)
            }
            lineStart = index + 2
        }
        return (status, headers)
    }

    private func readResponse() throws -> Response {
        while true {
            var headerEnd: Int?
            if buffer.count >= 4 {
                var i = 0
                let last = buffer.count - 4
                while i <= last {
                    if buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 { headerEnd = i; break }
                    i += 1
                }
            }
            guard let end = headerEnd else {
                try fill()
                continue
            }
            let (status, headers) = Self.parseHead(buffer[0..<end])
            if status == 100 {
                buffer.removeFirst(end + 4)
                continue
            }
            let length = Int(headers["content-length"] ?? "0") ?? 0
            while buffer.count < end + 4 + length { try fill() }
            let body = Array(buffer[(end + 4)..<(end + 4 + length)])
            buffer.removeFirst(end + 4 + length)
            return Response(status: status, headers: headers, body: body)
        }
    }
}
