import NIOCore
import NIOHTTP1

/// The Invoke API's first handler: answers a warm synchronous Invoke straight from the bytes of the connection
/// (`RawHTTPRequestDecoder`, `InvokeWarmPath`), and passes every other request on, byte for byte, to NIO's HTTP
/// handlers and the async server behind it.
///
/// The warm path behind NIO's decoder spent about as much of a call's CPU in the HTTP machinery (decoder, pipelining
/// handler, encoder, parts and headers) as in the invocation itself. Here a warm call is read, dispatched and answered
/// with one buffer each way.
///
/// One request is handled at a time: the next one is looked at only once the answer to the previous one, from either
/// path, has been written (`InvokeAnswerEndMarker` tells when the async server's has). A request whose end cannot be
/// found without NIO's decoder (a malformed head) hands the rest of the connection to NIO for good; so does a chunked
/// one (rare from SDKs, and the general path reads it whole anyway).
final class InvokeRawPath: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    typealias PendingClose = (mode: CloseMode, promise: EventLoopPromise<Void>?)

    /// The headers the warm path reads.
    static let keptHeaders = ["x-amz-invocation-type", "x-amz-log-type", "x-amz-client-context"]

    private enum Mode {
        /// Looking at requests.
        case reading
        /// Forwarding the rest of a request the async server answers.
        case passing(remaining: Int)
        /// Forwarding everything, for good.
        case passingAll
    }

    private let responder: InvokeWarmPath
    private let idle: IdleConnectionTracker
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

    init(responder: InvokeWarmPath, idle: IdleConnectionTracker) {
        self.responder = responder
        self.idle = idle
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { idle.admit(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        idle.admit(context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if case .passingAll = mode { return context.fireChannelRead(data) }
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
        }
        while var bytes = unread, bytes.readableBytes > 0 {
            switch mode {
            case .passingAll:
                unread = nil
                forwarded = true
                context.fireChannelRead(wrapInboundOut(bytes))
                return
            case .passing(let remaining):
                let slice = bytes.readSlice(length: min(remaining, bytes.readableBytes))!
                unread = bytes.readableBytes > 0 ? bytes : nil
                mode = remaining == slice.readableBytes ? .reading : .passing(remaining: remaining - slice.readableBytes)
                forwarded = true
                context.fireChannelRead(wrapInboundOut(slice))
            case .reading:
                guard answering == nil, passedInFlight == 0, bytes.readableBytes >= needed else { return }
                var decoder = RawHTTPRequestDecoder(bodyLimit: LocalRuntime.maximumRequestBytes, keptHeaders: Self.keptHeaders)
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
                    guard request.minorVersion == 1, let candidate = candidate(request) else {
                        pass(length: consumed)
                        continue
                    }
                    let whole = bytes.readSlice(length: consumed)!
                    unread = bytes.readableBytes > 0 ? bytes : nil
                    idle.requestEnded()
                    start(whole, request, candidate, context: context)
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
                    if head.minorVersion == 1, !head.expectsContinue, candidate(head) != nil {
                        needed = consumed + remaining  // its body is still arriving
                        return
                    }
                    needed = 0
                    pass(length: consumed + remaining)
                }
            }
        }
    }

    /// Hands the next `length` bytes (one whole request, of which some may be still to come) to the async server.
    private func pass(length: Int) {
        passedInFlight += 1
        mode = .passing(remaining: length)
    }

    private func candidate(_ request: RawHTTPRequest) -> InvokeWarmPath.Candidate? {
        guard request.method == "POST", !request.expectsContinue, !request.chunked,
              (request.contentLength ?? 0) <= responder.bodyLimit else { return nil }
        return InvokeWarmPath.candidate(uri: request.target) { name in request.headers.filter { $0.name == name }.map(\.value) }
    }

    private func start(_ whole: ByteBuffer, _ request: RawHTTPRequest, _ candidate: InvokeWarmPath.Candidate, context: ChannelHandlerContext) {
        answering = whole
        let loop = context.eventLoop
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: loop)
        let keepAlive = request.keepAlive
        let body = request.body ?? context.channel.allocator.buffer(capacity: 0)
        let started = responder.start(candidate, body: body, loop: loop) { answer in
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

    private func finish(_ answer: InvokeAPIResponse?, keepAlive requested: Bool, context: ChannelHandlerContext) {
        guard answering != nil else { return }
        guard let answer else { return giveBack(context: context) }
        answering = nil
        let closes = pendingCloses
        pendingCloses = []
        let keepAlive = requested && closes.isEmpty
        idle.responseEnded(context: context)
        let written = context.writeAndFlush(wrapOutboundOut(Self.render(answer, keepAlive: keepAlive, allocator: context.channel.allocator)))
        if !keepAlive {
            mode = .passingAll  // nothing more is read here; NIO drops what comes
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

    /// An Invoke answer as HTTP/1.1 bytes, with the headers `HTTPConnectionLoop` writes.
    static func render(_ answer: InvokeAPIResponse, keepAlive: Bool, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 256 + answer.body.count)
        buffer.writeStaticString("HTTP/1.1 ")
        buffer.writeString(String(answer.status))
        buffer.writeStaticString(" ")
        buffer.writeString(HTTPResponseStatus(statusCode: answer.status).reasonPhrase)
        buffer.writeStaticString("\r\n")
        for (name, value) in answer.headers {
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
        buffer.writeBytes(answer.body)
        return buffer
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard event is InvokeAnswerEndMarker.Ended else { return context.triggerUserOutboundEvent(event, promise: promise) }
        promise?.succeed()
        guard passedInFlight > 0 else { return }
        passedInFlight -= 1
        if passedInFlight == 0 { process(context: context) }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        // The server stopping closes each connection, its input first: an answer on its way here is written first
        // (the async server's are waited for by `WarmPathHandler`).
        guard answering != nil else { return context.close(mode: mode, promise: promise) }
        pendingCloses.append((mode, promise))
    }

    func channelInactive(context: ChannelHandlerContext) {
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

/// Tells `InvokeRawPath` that an answer of the async server has been written whole (an outbound user event, sent
/// once the answer's end has gone past), so that it looks at the next request only then. It sits where every
/// answer's parts pass: right after NIO's HTTP handlers.
final class InvokeAnswerEndMarker: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// The event.
    struct Ended {}

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let ends = if case .end = unwrapOutboundIn(data) { true } else { false }
        context.write(data, promise: promise)
        if ends { context.triggerUserOutboundEvent(Ended(), promise: nil) }
    }
}
