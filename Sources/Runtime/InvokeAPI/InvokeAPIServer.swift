import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

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
                        // Every header this server writes is its own (names and values it made): NIO's validation of
                        // each response header would only cost time (the front door, which passes a function's headers on, keeps it).
                        try RawWarmPath.install(on: channel, InvokeWarmPath(service: service), connections: connections,
                                                errors: InvokeAPIProtocolErrorHandler(), outboundHeaderValidation: false)
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

    /// One connection's requests, answered in order (see `HTTPConnectionLoop`).
    private func serve(_ connection: Connection) async {
        let channel = connection.channel
        await HTTPConnectionLoop.serve(connection, bodyLimit: LocalRuntime.maximumRequestBytes) { request, keepAlive, outbound in
            var headers: [String: String] = [:]
            for (name, value) in request.head.headers { headers[Self.lowercased(name)] = value }
            let apiRequest = InvokeAPIRequest(method: request.head.method.rawValue, uri: request.head.uri, headers: headers, body: request.body,
                                              oversizedBodyBytes: request.oversizedBodyBytes)
            let response = await LocalRuntime.$callerLoop.withValue(channel.eventLoop) { await router.respond(to: apiRequest) }
            try await HTTPConnectionLoop.write(status: response.status, headers: response.headers, body: response.body, version: request.head.version,
                                               keepAlive: keepAlive, to: outbound, allocator: channel.allocator)
        }
    }

    /// Header names are ASCII: lower-cased bytewise (`String.lowercased()` consults Unicode tables for every one).
    static func lowercased(_ name: String) -> String {
        guard name.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) else { return name }
        return String(decoding: name.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
    }
}
