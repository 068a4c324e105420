import NIOCore
import NIOPosix

/// One environment's own Runtime API listener on 127.0.0.1 (port 0), so an environment can only
/// ever take its own events.
struct RuntimeAPIServer: Sendable {
    let channel: any Channel
    let port: Int

    /// `127.0.0.1:<port>`, the value of `AWS_LAMBDA_RUNTIME_API`.
    var address: String { "127.0.0.1:\(port)" }

    /// A runtime needs one or two connections; any local process can open more, so they are capped.
    static let maximumConnections = 32

    static func start(broker: EnvironmentBroker, idleConnectionTimeout: Duration) async throws -> RuntimeAPIServer {
        let connections = IdleConnectionPolicy(idleTimeout: idleConnectionTimeout, maximumConnections: maximumConnections)
        let channel = try await ServerBootstrap(group: broker.loop)
            .serverChannelOption(.backlog, value: 32)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // Out of descriptors, accept again a second later instead of spinning (the async bind does this itself).
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(AcceptBackoffHandler()) }
            }
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RuntimeAPIHandler(broker: broker, connections: connections))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        guard let port = channel.localAddress?.port else {
            try? await channel.close()
            throw RuntimeError(.environmentStartFailed, "The Runtime API listener for \(broker.identity.functionName):\(broker.identity.version) has no local port.")
        }
        return RuntimeAPIServer(channel: channel, port: port)
    }

    func close() async {
        try? await channel.close()
    }
}
