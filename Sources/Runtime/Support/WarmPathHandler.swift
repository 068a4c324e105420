import NIOCore
import NIOHTTP1

/// What a server answers from its event loop without the async path: the Invoke API's synchronous call of a warm
/// function, the front door's request to one (`WarmPathHandler`).
protocol WarmPathResponder: Sendable {
    /// What the head of a request the warm path may take says.
    associatedtype Candidate
    /// The candidate a request with this head is, or nil when the async server answers it.
    func candidate(_ head: HTTPRequestHead, channel: any Channel) -> Candidate?
    /// The largest body a candidate may have; a larger one goes to the async server.
    var bodyLimit: Int { get }
    /// The headers `candidate` and `start` read, by lower-case name (nil: all of them): `RawWarmPath` keeps only these.
    static var rawHeaders: [String]? { get }
    /// Starts answering a whole candidate and returns true, or returns false (having done nothing) when the async
    /// server should answer it after all. `completion` gets the answer, or nil when the async server should answer
    /// (from any thread).
    func start(_ head: HTTPRequestHead, _ candidate: Candidate, body: ByteBuffer, loop: any EventLoop,
               completion: @escaping @Sendable (WarmAnswer?) -> Void) -> Bool
}

/// An answer written by `WarmPathHandler`.
struct WarmAnswer: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]
    /// A HEAD request's answer: the headers of the body, without it.
    var omitBody = false
}

/// Answers what its `Responder` takes inside the connection's pipeline: the request is read, handed on and the answer
/// written back, all from event-loop callbacks, with no task, actor or `NIOAsyncChannel` in between (an invocation of
/// a warm function then needs no thread hand-off at all when its environment runs on the same loop).
///
/// Everything else passes through untouched to the async server behind it, which answers with the whole of the
/// server's behaviour; so does a request the responder gives back. NIO's `HTTPServerPipelineHandler` ahead of this
/// one keeps one request at a time in flight on a connection, so the answers of both paths stay in order.
final class WarmPathHandler<Responder: WarmPathResponder>: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart
    typealias PendingClose = (mode: CloseMode, promise: EventLoopPromise<Void>?)

    private enum State {
        /// Between requests.
        case idle
        /// A candidate's body is being read.
        case reading(HTTPRequestHead, Responder.Candidate, ByteBuffer)
        /// A request the async server answers: its parts pass through, until its answer ends; once the request is
        /// whole, the server's stop waits for the answer.
        case passing(answering: Bool, pendingCloses: [PendingClose])
        /// The warm path answers; closes asked for meanwhile wait for its answer.
        case answering(HTTPRequestHead, ByteBuffer, pendingCloses: [PendingClose])
    }

    private let responder: Responder
    private var state = State.idle

    init(_ responder: Responder) {
        self.responder = responder
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (state, unwrapInboundIn(data)) {
        case (.idle, .head(let head)):
            if let candidate = responder.candidate(head, channel: context.channel) {
                let length = head.headers.first(name: "content-length").flatMap(Int.init) ?? 0
                state = .reading(head, candidate, context.channel.allocator.buffer(capacity: min(max(length, 0), responder.bodyLimit)))
            } else {
                state = .passing(answering: false, pendingCloses: [])
                context.fireChannelRead(data)
            }
        case (.reading(let head, let candidate, var body), .body(var chunk)):
            if body.readableBytes + chunk.readableBytes > responder.bodyLimit {
                // The async server counts and refuses it.
                state = .passing(answering: false, pendingCloses: [])
                context.fireChannelRead(wrapInboundOut(.head(head)))
                context.fireChannelRead(wrapInboundOut(.body(body)))
                context.fireChannelRead(data)
            } else {
                state = .idle  // the state lets go of the buffer, so appending does not copy it
                body.writeBuffer(&chunk)
                state = .reading(head, candidate, body)
            }
        case (.reading(let head, let candidate, let body), .end):
            start(head, candidate, body, context: context)
        case (.passing(_, let pendingCloses), .end):
            state = .passing(answering: true, pendingCloses: pendingCloses)
            context.fireChannelRead(data)
        default:
            context.fireChannelRead(data)
        }
    }

    private func start(_ head: HTTPRequestHead, _ candidate: Responder.Candidate, _ body: ByteBuffer, context: ChannelHandlerContext) {
        state = .answering(head, body, pendingCloses: [])
        let loop = context.eventLoop
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: loop)
        let started = responder.start(head, candidate, body: body, loop: loop) { answer in
            if loop.inEventLoop {
                bound.value.handler.finish(answer, context: bound.value.context)
            } else {
                loop.execute { bound.value.handler.finish(answer, context: bound.value.context) }
            }
        }
        if !started, case .answering = state { pass(head, body, context: context) }
    }

    /// Hands a whole request to the async server.
    private func pass(_ head: HTTPRequestHead, _ body: ByteBuffer, context: ChannelHandlerContext, pendingCloses: [PendingClose] = []) {
        state = .passing(answering: true, pendingCloses: pendingCloses)
        context.fireChannelRead(wrapInboundOut(.head(head)))
        if body.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(.body(body))) }
        context.fireChannelRead(wrapInboundOut(.end(nil)))
    }

    private func finish(_ answer: WarmAnswer?, context: ChannelHandlerContext) {
        guard case .answering(let head, let body, let pendingCloses) = state else { return }
        guard let answer else {
            // Given back (an environment that ended before it took the event): the async server answers. Today that
            // only happens inside `start`, before any close could wait; should it come later, a connection the async
            // side has closed meanwhile is just closed.
            guard pendingCloses.allSatisfy({ $0.mode == .input }) else {
                state = .idle
                for (mode, promise) in pendingCloses { context.close(mode: mode, promise: promise) }
                return
            }
            return pass(head, body, context: context, pendingCloses: pendingCloses)
        }
        state = .idle
        let keepAlive = head.isKeepAlive && pendingCloses.isEmpty
        let parts = HTTPConnectionLoop.parts(status: answer.status, headers: answer.headers, body: answer.body, omitBody: answer.omitBody,
                                             version: head.version, keepAlive: keepAlive, allocator: context.channel.allocator)
        for part in parts.dropLast() { context.write(wrapOutboundOut(part), promise: nil) }
        let written = context.writeAndFlush(wrapOutboundOut(parts[parts.count - 1]))
        if !keepAlive {
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            written.whenComplete { _ in
                if pendingCloses.isEmpty { bound.value.close(promise: nil) }
                for (mode, promise) in pendingCloses { bound.value.close(mode: mode, promise: promise) }
            }
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .passing(answering: true, let pendingCloses) = state, case .end = unwrapOutboundIn(data) else {
            return context.write(data, promise: promise)
        }
        state = .idle
        guard !pendingCloses.isEmpty else { return context.write(data, promise: promise) }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.write(data, promise: written)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        written.futureResult.whenComplete { result in
            promise?.completeWith(result)
            for (mode, pending) in pendingCloses { bound.value.close(mode: mode, promise: pending) }
        }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        // The server stopping closes each connection, its input first (which for NIO ends the connection at once):
        // an answer still on its way is written first.
        switch state {
        case .answering(let head, let body, let pendingCloses):
            state = .answering(head, body, pendingCloses: pendingCloses + [(mode, promise)])
        case .passing(answering: true, let pendingCloses) where mode == .input:
            // Only the stop's input close waits: the async side closing the whole connection itself has given up on it.
            state = .passing(answering: true, pendingCloses: pendingCloses + [(mode, promise)])
        default:
            context.close(mode: mode, promise: promise)
            failPendingCloses()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failPendingCloses()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        failPendingCloses()
    }

    /// Closes that waited for an answer that will not be written any more.
    private func failPendingCloses() {
        let pending: [PendingClose]
        switch state {
        case .answering(let head, let body, let closes):
            pending = closes
            state = .answering(head, body, pendingCloses: [])
        case .passing(let answering, let closes):
            pending = closes
            state = .passing(answering: answering, pendingCloses: [])
        case .idle, .reading:
            pending = []
        }
        for (_, promise) in pending { promise?.fail(ChannelError.alreadyClosed) }
    }
}
