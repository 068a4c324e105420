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

    /// One open connection; its idle time is an atomic, so that a request costs no lock.
    fileprivate final class Entry: Sendable {
        let channel: any Channel
        /// `NIODeadline.uptimeNanoseconds` since when it has had no request in progress; `busy` while one is.
        let idleSince: Atomic<UInt64>
        static let busy = UInt64.max

        init(channel: any Channel, idleSince: NIODeadline) {
            self.channel = channel
            self.idleSince = Atomic(idleSince.uptimeNanoseconds)
        }
    }

    private struct Registry {
        var connections: [ObjectIdentifier: Entry] = [:]
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
        try install(on: channel, tracker: IdleConnectionTracker(policy: self))
    }

    /// The same, sharing `tracker` with a handler ahead of the HTTP decoder that answers some requests itself.
    func install(on channel: any Channel, tracker: IdleConnectionTracker) throws {
        try channel.pipeline.syncOperations.addHandler(IdleConnectionHandler<HTTPServerResponsePart>(tracker: tracker) {
            if case .end = $0 { true } else { false }
        })
    }

    // MARK: - Bookkeeping (from the connections' event loops)

    /// A new connection: registered if there is room, after closing the longest-idle one if need be.
    /// Returns nil when every connection is busy: the caller closes the newcomer.
    fileprivate func admit(_ channel: any Channel, at now: NIODeadline) -> Entry? {
        let entry = Entry(channel: channel, idleSince: now)
        let (admitted, evicted) = registry.withLock { registry -> (Bool, (any Channel)?) in
            var evicted: (any Channel)?
            if registry.connections.count >= maximumConnections {
                var oldest: (key: ObjectIdentifier, since: UInt64)?
                for (key, entry) in registry.connections {
                    let since = entry.idleSince.load(ordering: .relaxed)
                    if since != Entry.busy, since < (oldest?.since ?? .max) { oldest = (key, since) }
                }
                guard let oldest else { return (false, nil) }
                evicted = registry.connections.removeValue(forKey: oldest.key)?.channel
            }
            registry.connections[ObjectIdentifier(entry)] = entry
            return (true, evicted)
        }
        evicted?.close(promise: nil)
        return admitted ? entry : nil
    }

    fileprivate func remove(_ entry: Entry) {
        _ = registry.withLock { $0.connections.removeValue(forKey: ObjectIdentifier(entry)) }
    }
}

/// Tracks one connection for its `IdleConnectionPolicy`: busy from the end of a request until a write
/// ends its response, idle otherwise; closes it after the policy's idle timeout. Used from the connection's
/// event loop only, by `IdleConnectionHandler` or by a handler that reads requests itself.
final class IdleConnectionTracker {
    private let policy: IdleConnectionPolicy
    private var busy = false
    private var entry: IdleConnectionPolicy.Entry?
    private var admitted = false
    /// After `closed()` nothing is tracked any more (a late answer must not arm a timer on a closed connection).
    private var ended = false
    /// Armed at most once at a time and moved on lazily when it fires early, so that a busy keep-alive
    /// connection schedules no timer per request.
    private var timer: Scheduled<Void>?
    private var idleSince = NIODeadline.now()

    init(policy: IdleConnectionPolicy) {
        self.policy = policy
    }

    /// The connection is open (from `handlerAdded` when it is active already, else from `channelActive`).
    func admit(context: ChannelHandlerContext) {
        guard !admitted, !ended else { return }
        admitted = true
        idleSince = .now()
        entry = policy.admit(context.channel, at: idleSince)
        guard entry != nil else {
            context.close(promise: nil)
            return
        }
        armTimer(context: context)
    }

    /// A whole request has arrived: a call is in progress until its response ends.
    func requestEnded() {
        guard !ended else { return }
        busy = true
        entry?.idleSince.store(IdleConnectionPolicy.Entry.busy, ordering: .relaxed)
    }

    /// Part of a request arrived: activity, not yet a call in progress (a client that sends a few bytes now and
    /// then and never finishes stays the first to be closed).
    func requestArriving(context: ChannelHandlerContext) {
        if !busy { markIdle(context: context) }
    }

    /// A response has been written whole.
    func responseEnded(context: ChannelHandlerContext) {
        guard busy else { return }
        busy = false
        markIdle(context: context)
    }

    /// The connection is gone.
    func closed() {
        ended = true
        timer?.cancel()
        timer = nil
        if let entry { policy.remove(entry) }
        entry = nil
    }

    private func markIdle(context: ChannelHandlerContext) {
        guard !ended else { return }
        idleSince = .now()
        entry?.idleSince.store(idleSince.uptimeNanoseconds, ordering: .relaxed)
        if timer == nil { armTimer(context: context) }
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

/// `IdleConnectionTracker` in a pipeline that turns bytes into `HTTPServerRequestPart`s.
private final class IdleConnectionHandler<Response>: ChannelDuplexHandler, IdleTrackingHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = Response
    typealias OutboundOut = Response

    let idle: IdleConnectionTracker
    private let endsResponse: (Response) -> Bool

    init(tracker: IdleConnectionTracker, endsResponse: @escaping (Response) -> Bool) {
        self.idle = tracker
        self.endsResponse = endsResponse
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = unwrapInboundIn(data) {
            idle.requestEnded()
        } else {
            idle.requestArriving(context: context)
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if endsResponse(unwrapOutboundIn(data)) { idle.responseEnded(context: context) }
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        idle.closed()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idle.closed()
    }
}

/// A handler that keeps its connection's `IdleConnectionTracker`: the connection is admitted once it is open.
protocol IdleTrackingHandler: ChannelInboundHandler {
    var idle: IdleConnectionTracker { get }
}

extension IdleTrackingHandler {
    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { idle.admit(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        idle.admit(context: context)
        context.fireChannelActive()
    }
}
