import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The Lambda Invoke API (plus the CodeDeploy hook call and `/metrics`) over HTTP/1.1 with keep-alive.
///
/// `bind` listens (port 0 picks a free port, read it from `port`); `run()` serves until its task is
/// cancelled, each connection in its own child task so one bad connection never takes the server
/// down. Cancelling closes the listener and every connection once its current request is answered.
public final class InvokeAPIServer: Sendable {
    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    public let host: String
    /// The port actually bound.
    public let port: Int
    public let router: InvokeAPIRouter
    private let listener: NIOAsyncChannel<Connection, Never>

    /// `http://HOST:PORT`.
    public var url: String { "http://\(host.contains(":") ? "[\(host)]" : host):\(port)" }

    private init(host: String, port: Int, router: InvokeAPIRouter, listener: NIOAsyncChannel<Connection, Never>) {
        self.host = host
        self.port = port
        self.router = router
        self.listener = listener
    }

    /// Binds `host:port` (0: any free port). `connections` closes idle keep-alive connections and caps how many are open.
    public static func bind(host: String = "127.0.0.1", port: Int = 0, service: LambdaService, hooks: LifecycleHooks? = nil,
                            connections: IdleConnectionPolicy = IdleConnectionPolicy(),
                            eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> InvokeAPIServer {
        let listener: NIOAsyncChannel<Connection, Never>
        do {
            listener = try await ServerBootstrap(group: eventLoopGroup)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .bind(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: false)
                        try channel.pipeline.syncOperations.addHandler(InvokeAPIProtocolErrorHandler())
                        try connections.install(on: channel)
                        return try Connection(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw RuntimeError(.environmentStartFailed, "Cannot listen on \(host):\(port) (\(error)). Pick another --port (0 picks a free one) or stop what uses it.",
                               cause: UnderlyingError(error))
        }
        guard let bound = listener.channel.localAddress?.port else {
            try? await listener.channel.close()
            throw RuntimeError(.environmentStartFailed, "The Invoke API listener on \(host) has no local port.")
        }
        return InvokeAPIServer(host: host, port: bound, router: InvokeAPIRouter(service: service, hooks: hooks), listener: listener)
    }

    /// Serves until the calling task is cancelled; then stops accepting, finishes the requests in
    /// progress and closes every connection.
    public func run() async throws {
        let channel = listener.channel
        do {
            try await withTaskCancellationHandler {
                try await withThrowingDiscardingTaskGroup { group in
                    try await listener.executeThenClose { connections in
                        for try await connection in connections {
                            group.addTask { await self.serve(connection) }
                        }
                    }
                }
            } onCancel: {
                channel.close(promise: nil)
            }
        } catch where Task.isCancelled {
            // Stopping is the normal way out.
        }
    }

    /// Stops accepting connections (`run()` returns once the open ones end).
    public func closeListener() async {
        try? await listener.channel.close()
    }

    /// One connection: requests in order (keep-alive), until the client closes, asks to close, or the
    /// server stops. Errors end only this connection.
    private func serve(_ connection: Connection) async {
        let limit = LocalRuntime.maximumRequestBytes
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
                            var headers: [String: String] = [:]
                            for (name, value) in request.headers { headers[Self.lowercased(name)] = value }
                            let bytes = received <= limit ? body.readBytes(length: body.readableBytes) ?? [] : []
                            let apiRequest = InvokeAPIRequest(method: request.method.rawValue, uri: request.uri, headers: headers, body: bytes,
                                                              oversizedBodyBytes: received > limit ? received : nil)
                            let response = await LocalRuntime.$callerLoop.withValue(channel.eventLoop) { await router.respond(to: apiRequest) }
                            let keepAlive = request.isKeepAlive && !Task.isCancelled
                            try await write(response, version: request.version, keepAlive: keepAlive, to: outbound, allocator: channel.allocator)
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

    private func write(_ response: InvokeAPIResponse, version: HTTPVersion, keepAlive: Bool,
                       to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>, allocator: ByteBufferAllocator) async throws {
        var headers = HTTPHeaders()
        headers.reserveCapacity(response.headers.count + 3)
        for (name, value) in response.headers { headers.add(name: name, value: value) }
        headers.add(name: "Content-Length", value: String(response.body.count))
        headers.add(name: "Date", value: Self.httpDate())
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let head = HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
        if response.body.isEmpty {
            try await outbound.write(contentsOf: [.head(head), .end(nil)])
        } else {
            var buffer = allocator.buffer(capacity: response.body.count)
            buffer.writeBytes(response.body)
            try await outbound.write(contentsOf: [.head(head), .body(.byteBuffer(buffer)), .end(nil)])
        }
    }

    /// Header names are ASCII: lower-cased bytewise (`String.lowercased()` consults Unicode tables for every one).
    static func lowercased(_ name: String) -> String {
        guard name.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) else { return name }
        return String(decoding: name.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
    }

    /// The `Date` header changes once a second: formatted once a second.
    private static let lastDate = Mutex<(second: time_t, text: String)>((0, ""))

    private static func httpDate() -> String {
        let now = time(nil)
        if let cached = lastDate.withLock({ $0.second == now ? $0.text : nil }) { return cached }
        let text = formatHTTPDate(now)
        lastDate.withLock { $0 = (now, text) }
        return text
    }

    private static func formatHTTPDate(_ second: time_t) -> String {
        var now = second
        var parts = tm()
        gmtime_r(&now, &parts)
        var buffer = [Int8](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
