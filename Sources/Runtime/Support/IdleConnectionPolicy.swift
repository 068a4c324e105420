#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import NIOCore
import NIOHTTP1
import Synchronization

/// What an HTTP server does with connections that sit idle: closes a keep-alive connection that has
/// no request in progress after `idleTimeout` (AWS's load balancers: 60 s), and keeps at most
/// `maximumConnections` open, closing the longest-idle one for a newcomer (or the newcomer, when
/// every connection is busy), so that idle clients can never use up the process's descriptors.
///
/// One policy per server; install it on each accepted connection after the HTTP decoder:
/// `try policy.install(on: channel)`. A call is in progress from the end of its request until its
/// response is written, however long that takes (a parked Runtime API `next` is never idle); the
/// idle clock restarts with every part of a request that arrives.
public final class IdleConnectionPolicy: Sendable {
    /// AWS's load balancers close idle connections after 60 s.
    public static let defaultIdleTimeout: Duration = .seconds(60)

    public let idleTimeout: Duration
    public let maximumConnections: Int

    private struct Registry {
        var connections: [ObjectIdentifier: Entry] = [:]
    }

    private struct Entry {
        var channel: any Channel
        /// Since when it has had no request in progress; nil while one is.
        var idleSince: NIODeadline?
    }

    private let registry = Mutex(Registry())

    /// - Parameter maximumConnections: defaults to what the descriptor limit leaves after a reserve for
    ///   function processes, pipes and the state database (`descriptorBudget()`).
    public init(idleTimeout: Duration = IdleConnectionPolicy.defaultIdleTimeout, maximumConnections: Int = IdleConnectionPolicy.descriptorBudget()) {
        self.idleTimeout = idleTimeout
        self.maximumConnections = max(1, maximumConnections)
    }

    /// Three quarters of the soft `RLIMIT_NOFILE`, and at most the limit less 256.
    public static func descriptorBudget() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < rlim_t(Int32.max) else { return 16_384 }
        let soft = Int(clamping: limit.rlim_cur)
        return max(16, min(soft * 3 / 4, soft - 256))
    }

    /// Connections open now.
    public var openConnections: Int { registry.withLock { $0.connections.count } }

    /// Adds the policy to a connection whose pipeline turns bytes into `HTTPServerRequestPart`s and
    /// whose responses are `HTTPServerResponsePart`s (as after `configureHTTPServerPipeline`).
    public func install(on channel: any Channel) throws {
        try channel.pipeline.syncOperations.addHandler(IdleConnectionHandler<HTTPServerResponsePart>(policy: self) {
            if case .end = $0 { true } else { false }
        })
    }

    /// The same, for a server that writes each response as one pre-rendered `ByteBuffer`; add it
    /// between the request decoder and the server's handler.
    func installForRenderedResponses(on channel: any Channel) throws {
        try channel.pipeline.syncOperations.addHandler(IdleConnectionHandler<ByteBuffer>(policy: self) { _ in true })
    }

    // MARK: - Bookkeeping (from the connections' event loops)

    /// A new connection: registered if there is room, after closing the longest-idle one if need be.
    /// Returns false when every connection is busy: the caller closes the newcomer.
    fileprivate func admit(_ channel: any Channel, at now: NIODeadline) -> Bool {
        let (admitted, evicted) = registry.withLock { registry -> (Bool, (any Channel)?) in
            var evicted: (any Channel)?
            if registry.connections.count >= maximumConnections {
                var oldest: (key: ObjectIdentifier, since: NIODeadline)?
                for (key, entry) in registry.connections {
                    if let since = entry.idleSince, since < (oldest?.since ?? .distantFuture) { oldest = (key, since) }
                }
                guard let oldest else { return (false, nil) }
                evicted = registry.connections.removeValue(forKey: oldest.key)?.channel
            }
            registry.connections[ObjectIdentifier(channel)] = Entry(channel: channel, idleSince: now)
            return (true, evicted)
        }
        evicted?.close(promise: nil)
        return admitted
    }

    fileprivate func update(_ channel: any Channel, idleSince: NIODeadline?) {
        registry.withLock { $0.connections[ObjectIdentifier(channel)]?.idleSince = idleSince }
    }

    fileprivate func remove(_ channel: any Channel) {
        _ = registry.withLock { $0.connections.removeValue(forKey: ObjectIdentifier(channel)) }
    }
}

/// Tracks one connection for its `IdleConnectionPolicy`: busy from the end of a request until a write
/// ends its response, idle otherwise; closes it after the policy's idle timeout.
private final class IdleConnectionHandler<Response>: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = Response
    typealias OutboundOut = Response

    private let policy: IdleConnectionPolicy
    private let endsResponse: (Response) -> Bool
    private var busy = false
    private var registered = false
    /// Armed at most once at a time and moved on lazily when it fires early, so that a busy keep-alive
    /// connection schedules no timer per request.
    private var timer: Scheduled<Void>?
    private var idleSince = NIODeadline.now()

    init(policy: IdleConnectionPolicy, endsResponse: @escaping (Response) -> Bool) {
        self.policy = policy
        self.endsResponse = endsResponse
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { admit(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        if !registered { admit(context: context) }
        context.fireChannelActive()
    }

    private func admit(context: ChannelHandlerContext) {
        registered = true
        idleSince = .now()
        guard policy.admit(context.channel, at: idleSince) else {
            context.close(promise: nil)
            return
        }
        armTimer(context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = unwrapInboundIn(data) {
            busy = true
            policy.update(context.channel, idleSince: nil)
        } else if !busy {
            // A request still arriving is activity, not yet a call in progress: a client that sends
            // a few bytes now and then and never finishes stays the first to be closed.
            markIdle(context: context)
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if busy, endsResponse(unwrapOutboundIn(data)) {
            busy = false
            markIdle(context: context)
        }
        context.write(data, promise: promise)
    }

    private func markIdle(context: ChannelHandlerContext) {
        idleSince = .now()
        policy.update(context.channel, idleSince: idleSince)
        if timer == nil { armTimer(context: context) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        policy.remove(context.channel)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        policy.remove(context.channel)
    }

    /// Closes the connection once it has been idle for the policy's timeout; a timer that fires while the
    /// connection is busy ends (the next idle moment arms one), and one that fires early moves on.
    private func armTimer(context: ChannelHandlerContext) {
        timer?.cancel()
        let channel = context.channel
        let loop = context.eventLoop.assumeIsolated()
        func schedule(at deadline: NIODeadline) {
            timer = loop.scheduleTask(deadline: deadline) { [self] in
                timer = nil
                guard !busy else { return }
                let due = idleSince + TimeAmount(policy.idleTimeout)
                if NIODeadline.now() >= due { channel.close(promise: nil) } else { schedule(at: due) }
            }
        }
        schedule(at: idleSince + TimeAmount(policy.idleTimeout))
    }
}
