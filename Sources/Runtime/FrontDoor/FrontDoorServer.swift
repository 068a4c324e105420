import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// The HTTP front door: a template's API routes, function URLs and load balancer targets on one port,
/// HTTP/1.1 with keep-alive.
///
/// `bind` listens (port 0 picks a free port); `run()` serves until its task is cancelled, each connection
/// in its own child task: malformed HTTP gets a 400 from NIO's error handler and ends only its connection.
public final class FrontDoorServer: Sendable {
    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    /// The port `shift serve --http-port` uses unless told otherwise (`sam local start-api`'s default).
    public static let defaultPort = 3000

    public let host: String
    /// The port actually bound.
    public let port: Int
    public let router: FrontDoorRouter
    private let listener: NIOAsyncChannel<Connection, Never>

    /// `http://HOST:PORT`.
    public var url: String { "http://\(host.contains(":") ? "[\(host)]" : host):\(port)" }

    private init(host: String, port: Int, router: FrontDoorRouter, listener: NIOAsyncChannel<Connection, Never>) {
        self.host = host
        self.port = port
        self.router = router
        self.listener = listener
    }

    /// Binds `host:port` (0: any free port). `connections` closes idle keep-alive connections and caps how many are
    /// open, as for the Invoke API: a client holding sockets must not starve the servers.
    public static func bind(host: String = "127.0.0.1", port: Int = 0, router: FrontDoorRouter,
                            connections: IdleConnectionPolicy = IdleConnectionPolicy(),
                            eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> FrontDoorServer {
        let listener: NIOAsyncChannel<Connection, Never>
        do {
            listener = try await ServerBootstrap(group: eventLoopGroup)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .bind(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try RawWarmPath.install(on: channel, FrontDoorWarmPath(router: router), connections: connections,
                                                errors: nil, outboundHeaderValidation: true)
                        return try Connection(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw RuntimeError(.environmentStartFailed, "Cannot listen for HTTP on \(host):\(port) (\(error)). Pick another --http-port (0 picks a free one) or stop what uses it.",
                               cause: UnderlyingError(error))
        }
        guard let bound = listener.channel.localAddress?.port else {
            try? await listener.channel.close()
            throw RuntimeError(.environmentStartFailed, "The HTTP front door's listener on \(host) has no local port.")
        }
        return FrontDoorServer(host: host, port: bound, router: router, listener: listener)
    }

    /// Serves until the calling task is cancelled; then stops accepting, finishes the requests in progress
    /// and closes every connection.
    public func run() async throws {
        let channel = listener.channel
        do {
            try await withTaskCancellationHandler {
                try await withThrowingDiscardingTaskGroup { group in
                    try await listener.executeThenClose { connections in
                        for try await connection in connections {
                            // On the connection's own event loop: each request's read, its invocation's steps and its
                            // write stay on one thread instead of crossing to the global pool and back (measured: about
                            // 5-10 % less CPU per request than on the pool, and a lower p50 at 1 connection).
                            group.addTask(executorPreference: EventLoopTaskExecutor(connection.channel.eventLoop)) { await self.serve(connection) }
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

    /// One connection: requests in order (keep-alive) until the client closes, asks to close, or the server
    /// stops. A body over the limit is counted and dropped as it arrives, never held.
    private func serve(_ connection: Connection) async {
        let channel = connection.channel
        let sourceIp = channel.remoteAddress?.ipAddress ?? "127.0.0.1"
        await HTTPConnectionLoop.serve(connection, bodyLimit: FrontDoorRouter.maximumBodyBytes) { request, keepAlive, outbound in
            let head = request.head
            let response = await router.respond(to: FrontDoorRequest(head: head, body: request.body, sourceIp: sourceIp),
                                                oversizedBodyBytes: request.oversizedBodyBytes)
            let answer = FrontDoorWarmPath.answer(response, omitBody: head.method == .HEAD)
            try await HTTPConnectionLoop.write(status: answer.status, headers: answer.headers, body: answer.body, omitBody: answer.omitBody,
                                               version: head.version, keepAlive: keepAlive, to: outbound, allocator: channel.allocator)
        }
    }
}
