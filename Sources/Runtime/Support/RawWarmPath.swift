import NIOCore
import NIOHTTP1

/// A server's first handler (the Invoke API's, the front door's): answers what its `Responder` takes straight from the
/// bytes of the connection (`RawHTTPRequestDecoder`), and passes every other request on, byte for byte, to NIO's HTTP
/// handlers, the `WarmPathHandler` and the async server behind them.
///
/// The warm path behind NIO's decoder spent about as much of a call's CPU in the HTTP machinery (decoder, pipelining
/// handler, encoder, parts and headers) as in the invocation itself. Here a warm call is read, dispatched and answered
/// with one buffer each way.
///
/// One request is handled at a time: the next one is looked at only once the answer to the previous one, from either
/// path, has been written (`AnswerEndMarker` tells when the async server's has). A request whose end cannot be found
/// without NIO's decoder (a malformed head) hands the rest of the connection to NIO for good; so does a chunked one
/// (rare from clients, and `WarmPathHandler` still takes it). HTTP/1.0 and `Expect: 100-continue` go to NIO.
final class RawWarmPath<Responder: WarmPathResponder>: ChannelDuplexHandler, IdleTrackingHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    typealias PendingClose = (mode: CloseMode, promise: EventLoopPromise<Void>?)

    private enum Mode {
        /// Looking at requests.
        case reading
        /// Forwarding the rest of a request the async server answers; the connection ends after its answer unless
        /// `keepAlive`.
        case passing(remaining: Int, keepAlive: Bool)
        /// Forwarding everything, for good.
        case passingAll
        /// The connection is ending (an answer said `Connection: close`, or it closed): what comes is dropped.
        case ending
    }

    /// Bytes kept at most while a request is answered before reading stops (pipelined requests wait in them).
    static var heldBytesLimit: Int { 64 * 1024 }

    private let responder: Responder
    let idle: IdleConnectionTracker
    private var mode = Mode.reading
    /// Bytes read and not dealt with yet.
    private var unread: ByteBuffer?
    /// Bytes `unread` must hold before a request is looked at again (its head and body).
    private var needed = 0
    /// The request being answered here (kept to hand it on should the warm path give it back).
    private var answering: ByteBuffer?
    /// Requests handed on whose answers have not ended yet.
    private var passedInFlight = 0
    /// Closes asked for while an answer is on its way here.
    private var pendingCloses: [PendingClose] = []
    /// Inside `channelRead`, whose `channelReadComplete` follows.
    private var inRead = false
    /// A `read()` held back while `unread` is over `heldBytesLimit` and a request is being answered.
    private var readHeld = false

    init(_ responder: Responder, idle: IdleConnectionTracker) {
        self.responder = responder
        self.idle = idle
    }

    /// Sets up an accepted connection of a server with a warm path: this handler, NIO's HTTP/1.1 server handlers,
    /// `AnswerEndMarker`, `errors` (nil: NIO's own answer to a request it cannot parse), the idle policy and
    /// `WarmPathHandler`, ahead of the async server.
    static func install(on channel: any Channel, _ responder: Responder, connections: IdleConnectionPolicy,
                        errors: (any ChannelHandler)?, outboundHeaderValidation: Bool) throws {
        let pipeline = channel.pipeline.syncOperations
        let idle = IdleConnectionTracker(policy: connections)
        try pipeline.addHandler(RawWarmPath(responder, idle: idle))
        try pipeline.configureHTTPServerPipeline(withErrorHandling: errors == nil, withOutboundHeaderValidation: outboundHeaderValidation)
        try pipeline.addHandler(AnswerEndMarker())
        if let errors { try pipeline.addHandler(errors) }
        try connections.install(on: channel, tracker: idle)
        // What the raw path hands on: a warm call in chunks, or after a connection went to NIO for good.
        try pipeline.addHandler(WarmPathHandler(responder))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        switch mode {
        case .passingAll: return context.fireChannelRead(data)
        case .ending: return
        case .reading, .passing: break
        }
        idle.requestArriving(context: context)
        if var pending = unread {
            unread = nil  // let go of it, so appending does not copy
            pending.writeBuffer(&bytes)
            bytes = pending
        }
        unread = bytes
        inRead = true
        process(context: context)
        inRead = false
    }

    /// Deals with what `unread` holds, as far as it can now.
    private func process(context: ChannelHandlerContext) {
        var forwarded = false
        defer {
            // The async server takes what it was given at a read's end: outside a read, that end is ours to send.
            if forwarded, !inRead { context.fireChannelReadComplete() }
            if answering == nil, passedInFlight == 0 { releaseHeldRead(context: context) }
        }
        while var bytes = unread, bytes.readableBytes > 0 {
            switch mode {
            case .ending:
                unread = nil
                return
            case .passingAll:
                unread = nil
                forwarded = true
                context.fireChannelRead(wrapInboundOut(bytes))
                return
            case .passing(let remaining, let keepAlive):
                let slice = bytes.readSlice(length: min(remaining, bytes.readableBytes))!
                unread = bytes.readableBytes > 0 ? bytes : nil
                if remaining > slice.readableBytes {
                    mode = .passing(remaining: remaining - slice.readableBytes, keepAlive: keepAlive)
                } else {
                    // A request that ends the connection: nothing after it is answered (NIO would refuse it).
                    mode = keepAlive ? .reading : .ending
                }
                forwarded = true
                context.fireChannelRead(wrapInboundOut(slice))
            case .reading:
                guard answering == nil, passedInFlight == 0 else { return }
                guard bytes.readableBytes >= needed else { return }
                var decoder = RawHTTPRequestDecoder(bodyLimit: responder.bodyLimit, keptHeaders: Responder.rawHeaders)
                var rest = bytes
                let event: RawHTTPRequestDecoder.Event?
                do {
                    event = try decoder.decode(&rest)
                } catch {
                    // NIO's decoder answers it (InvokeAPIProtocolErrorHandler) and ends the connection.
                    mode = .passingAll
                    continue
                }
                let consumed = rest.readerIndex - bytes.readerIndex
                switch event {
                case .request(let request):
                    needed = 0
                    let head = eligible(request) ? Self.head(request) : nil
                    guard let head, let candidate = responder.candidate(head, channel: context.channel) else {
                        pass(length: consumed, keepAlive: request.keepAlive)
                        continue
                    }
                    let whole = bytes.readSlice(length: consumed)!
                    unread = bytes.readableBytes > 0 ? bytes : nil
                    idle.requestEnded()
                    start(whole, head, candidate, body: request.body, keepAlive: request.keepAlive, context: context)
                case .expectsContinue, nil:
                    guard let (head, remaining) = decoder.awaitingBody else {
                        needed = bytes.readableBytes + 1  // the head is not whole yet
                        return
                    }
                    guard let remaining else {
                        mode = .passingAll
                        passedInFlight += 1
                        continue
                    }
                    if eligible(head), responder.candidate(Self.head(head), channel: context.channel) != nil {
                        needed = consumed + remaining  // its body is still arriving
                        return
                    }
                    needed = 0
                    pass(length: consumed + remaining, keepAlive: head.keepAlive)
                }
            }
        }
    }

    /// Hands the next `length` bytes (one whole request, of which some may be still to come) to the async server.
    private func pass(length: Int, keepAlive: Bool) {
        passedInFlight += 1
        mode = .passing(remaining: length, keepAlive: keepAlive)
    }

    /// Reads again once nothing is being answered (`read` held one back while `unread` was full).
    private func releaseHeldRead(context: ChannelHandlerContext) {
        guard readHeld else { return }
        readHeld = false
        context.read()
    }

    /// Holds back reading while a request is answered and `heldBytesLimit` bytes wait behind it.
    func read(context: ChannelHandlerContext) {
        let busy = answering != nil || passedInFlight > 0
        if busy, case .reading = mode, (unread?.readableBytes ?? 0) > Self.heldBytesLimit {
            readHeld = true
            return
        }
        context.read()
    }

    /// What the raw path takes at all: HTTP/1.1, a body of known length within the limit, no `Expect`.
    private func eligible(_ request: RawHTTPRequest) -> Bool {
        request.minorVersion == 1 && !request.expectsContinue && !request.chunked && (request.contentLength ?? 0) <= responder.bodyLimit
    }

    /// The head the responder reads: the request line and the headers it keeps.
    private static func head(_ request: RawHTTPRequest) -> HTTPRequestHead {
        var headers = HTTPHeaders()
        headers.reserveCapacity(request.headers.count)
        for (name, value) in request.headers { headers.add(name: name, value: value) }
        return HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: request.method), uri: request.target, headers: headers)
    }

    /// `keepAlive` is the request's (its head here holds only the headers the responder reads).
    private func start(_ whole: ByteBuffer, _ head: HTTPRequestHead, _ candidate: Responder.Candidate, body: ByteBuffer?, keepAlive: Bool,
                       context: ChannelHandlerContext) {
        answering = whole
        let loop = context.eventLoop
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: loop)
        let body = body ?? context.channel.allocator.buffer(capacity: 0)
        let started = responder.start(head, candidate, body: body, loop: loop) { answer in
            if loop.inEventLoop {
                bound.value.handler.finish(answer, keepAlive: keepAlive, context: bound.value.context)
            } else {
                loop.execute { bound.value.handler.finish(answer, keepAlive: keepAlive, context: bound.value.context) }
            }
        }
        if !started, answering != nil { giveBack(context: context) }
    }

    /// The warm path did not take the request after all: the async server answers it.
    private func giveBack(context: ChannelHandlerContext) {
        guard let whole = answering else { return }
        answering = nil
        passedInFlight += 1
        let closes = pendingCloses
        pendingCloses = []
        context.fireChannelRead(wrapInboundOut(whole))
        if !inRead { context.fireChannelReadComplete() }
        // From the tail again: the async server's answer to it is waited for (`WarmPathHandler`).
        for (mode, promise) in closes { context.pipeline.close(mode: mode, promise: promise) }
        process(context: context)
    }

    private func finish(_ answer: WarmAnswer?, keepAlive requested: Bool, context: ChannelHandlerContext) {
        guard answering != nil else { return }
        if case .ending = mode, !context.channel.isActive {
            answering = nil  // the client is gone
            return
        }
        guard let answer else { return giveBack(context: context) }
        answering = nil
        let closes = pendingCloses
        pendingCloses = []
        let keepAlive = requested && closes.isEmpty
        idle.responseEnded(context: context)
        let written = context.writeAndFlush(wrapOutboundOut(Self.render(answer, keepAlive: keepAlive, allocator: context.channel.allocator)))
        if !keepAlive {
            mode = .ending
            unread = nil
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            written.whenComplete { _ in
                if closes.isEmpty { bound.value.close(promise: nil) }
                for (mode, promise) in closes { bound.value.close(mode: mode, promise: promise) }
            }
            return
        }
        process(context: context)
    }

    /// An answer as HTTP/1.1 bytes, with the headers `HTTPConnectionLoop` writes; a header that is not one clean line
    /// is left out (`HTTPFieldLine`), never allowed to split the response.
    static func render(_ answer: WarmAnswer, keepAlive: Bool, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 256 + (answer.omitBody ? 0 : answer.body.count))
        buffer.writeStaticString("HTTP/1.1 ")
        buffer.writeString(String(answer.status))
        buffer.writeStaticString(" ")
        buffer.writeString(HTTPResponseStatus(statusCode: answer.status).reasonPhrase)
        buffer.writeStaticString("\r\n")
        for (name, value) in answer.headers where HTTPFieldLine.isWritable(name: name, value: value) {
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
            buffer.writeStaticString("\r\n")
        }
        buffer.writeStaticString("Content-Length: ")
        buffer.writeString(String(answer.body.count))
        buffer.writeStaticString("\r\nDate: ")
        buffer.writeString(HTTPConnectionLoop.httpDate())
        buffer.writeStaticString(keepAlive ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n")
        if !answer.omitBody { buffer.writeBytes(answer.body) }
        return buffer
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let ended = event as? AnswerEndMarker.Ended else { return context.triggerUserOutboundEvent(event, promise: promise) }
        promise?.succeed()
        if ended.closes {
            // An error, a stop or an HTTP/1.0 answer: the async server ends the connection after it.
            mode = .ending
            unread = nil
        }
        guard passedInFlight > 0 else { return }
        passedInFlight -= 1
        if passedInFlight == 0 { process(context: context) }
    }

    func close(context: ChannelHandlerContext, mode closeMode: CloseMode, promise: EventLoopPromise<Void>?) {
        // The server stopping closes each connection, its input first: an answer on its way here is written first
        // (the async server's are waited for by `WarmPathHandler`); nothing after it is started.
        mode = .ending
        unread = nil
        guard answering != nil else { return context.close(mode: closeMode, promise: promise) }
        pendingCloses.append((closeMode, promise))
    }

    func channelInactive(context: ChannelHandlerContext) {
        mode = .ending
        unread = nil
        failPendingCloses()
        idle.closed()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        failPendingCloses()
        idle.closed()
    }

    private func failPendingCloses() {
        let closes = pendingCloses
        pendingCloses = []
        for (_, promise) in closes { promise?.fail(ChannelError.alreadyClosed) }
    }
}

/// Tells `RawWarmPath` that an answer of the async server has been written whole (an outbound user event, sent
/// once the answer's end has gone past), so that it looks at the next request only then. It sits where every
/// answer's parts pass: right after NIO's HTTP handlers.
final class AnswerEndMarker: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// The event: `closes` when the answer ends the connection.
    struct Ended {
        var closes: Bool
    }

    /// Whether the answer being written ends the connection (its head says so).
    private var closes = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var ends = false
        switch unwrapOutboundIn(data) {
        case .head(let head) where head.status.code >= 200: closes = !head.isKeepAlive
        case .head, .body: break
        case .end: ends = true
        }
        context.write(data, promise: promise)
        if ends { context.triggerUserOutboundEvent(Ended(closes: closes), promise: nil) }
    }
}

/// What may be written as a header line.
enum HTTPFieldLine {
    /// A token for a name, and a value without CR, LF or NUL: a function's answer may hold anything, and NIO's encoder
    /// fails the whole response (the client sees the connection end) on a header that is not.
    static func isWritable(name: String, value: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy(RawHTTPRequestDecoder.isTokenByte) && !value.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0 }
    }
}
