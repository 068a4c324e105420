import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// The part of an HTTP/1.1 server that the Invoke API and the front door share: whole requests off one
/// connection in order (keep-alive), `100-continue` answered, a body over the limit counted and dropped as it
/// arrives (never held), until the client closes, asks to close, or the server stops. Errors end only that connection.
enum HTTPConnectionLoop {
    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>
    typealias Outbound = NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>

    /// One whole request: its head, its body (empty when over the limit), and the size of a body over the limit.
    struct Request {
        var head: HTTPRequestHead
        var body: [UInt8]
        var oversizedBodyBytes: Int?
    }

    /// Serves `connection`: `respond` writes the answer to each request to `outbound`, with `keepAlive` deciding
    /// `Connection: close`.
    static func serve(_ connection: Connection, bodyLimit limit: Int,
                      respond: (_ request: Request, _ keepAlive: Bool, _ outbound: Outbound) async throws -> Void) async {
        let channel = connection.channel
        do {
            try await withTaskCancellationHandler {
                try await connection.executeThenClose { inbound, outbound in
                    var head: HTTPRequestHead?
                    var body = channel.allocator.buffer(capacity: 0)
                    var received = 0
                    for try await part in inbound {
                        switch part {
                        case .head(let next):
                            head = next
                            body.clear()
                            received = 0
                            if next.headers.first(name: "expect")?.lowercased() == "100-continue" {
                                try await outbound.write(.head(HTTPResponseHead(version: next.version, status: .continue)))
                            }
                        case .body(var chunk):
                            received += chunk.readableBytes
                            if received <= limit { body.writeBuffer(&chunk) } else { body.clear() }
                        case .end:
                            guard let request = head else { continue }
                            head = nil
                            let bytes = received <= limit ? body.readBytes(length: body.readableBytes) ?? [] : []
                            let keepAlive = request.isKeepAlive && !Task.isCancelled
                            try await respond(Request(head: request, body: bytes, oversizedBodyBytes: received > limit ? received : nil),
                                              keepAlive, outbound)
                            if !keepAlive { return }
                        }
                    }
                }
            } onCancel: {
                // An idle keep-alive connection would otherwise wait for the client forever.
                channel.close(mode: .input, promise: nil)
            }
        } catch {
            // A malformed request or a vanished client ends only this connection.
        }
    }

    /// Writes a response head (with `Content-Length`, `Date` and, unless kept alive, `Connection: close`) and its body.
    static func write(status: Int, headers extra: some Sequence<(String, String)>, body: [UInt8], omitBody: Bool = false,
                      version: HTTPVersion, keepAlive: Bool, to outbound: Outbound, allocator: ByteBufferAllocator) async throws {
        try await outbound.write(contentsOf: parts(status: status, headers: extra, body: body, omitBody: omitBody, version: version,
                                                   keepAlive: keepAlive, allocator: allocator))
    }

    /// The parts of a response: its head (with `Content-Length`, `Date` and, unless kept alive, `Connection: close`),
    /// its body and its end.
    static func parts(status: Int, headers extra: some Sequence<(String, String)>, body: [UInt8], omitBody: Bool = false,
                      version: HTTPVersion, keepAlive: Bool, allocator: ByteBufferAllocator) -> [HTTPServerResponsePart] {
        var headers = HTTPHeaders()
        for (name, value) in extra { headers.add(name: name, value: value) }
        headers.add(name: "Content-Length", value: String(body.count))
        headers.add(name: "Date", value: httpDate())
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let head = HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: status), headers: headers)
        if body.isEmpty || omitBody { return [.head(head), .end(nil)] }
        var buffer = allocator.buffer(capacity: body.count)
        buffer.writeBytes(body)
        return [.head(head), .body(.byteBuffer(buffer)), .end(nil)]
    }

    /// The `Date` header changes once a second: formatted once a second.
    private static let lastDate = Mutex<(second: time_t, text: String)>((0, ""))

    static func httpDate() -> String {
        let now = time(nil)
        if let cached = lastDate.withLock({ $0.second == now ? $0.text : nil }) { return cached }
        var second = now
        var parts = tm()
        gmtime_r(&second, &parts)
        var buffer = [Int8](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
        let text = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        lastDate.withLock { $0 = (now, text) }
        return text
    }
}
