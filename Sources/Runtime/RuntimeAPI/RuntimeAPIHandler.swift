import NIOCore

/// Serves the Lambda Runtime API (`/2018-06-01/runtime/...`) for ONE execution environment.
///
/// It reads requests from bytes itself (`RawHTTPRequestDecoder`) and writes responses as pre-rendered bytes, with no
/// HTTP handlers in the pipeline: each invocation crosses this connection twice (`next`, `response`), and NIO's
/// decoder and its parts cost more there than the rest of the Runtime API. Every response carries a `Content-Length`.
final class RuntimeAPIHandler: IdleTrackingHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The largest response body a function may post (Lambda's figure in its 413 message).
    static let maximumResponseBytes = 6_291_556

    private let broker: EnvironmentBroker
    let idle: IdleConnectionTracker
    private var decoder = RawHTTPRequestDecoder(bodyLimit: RuntimeAPIHandler.maximumResponseBytes,
                                                keptHeaders: ["lambda-runtime-function-error-type"])
    /// Bytes read but not decoded yet.
    private var unread: ByteBuffer?
    private var closing = false

    init(broker: EnvironmentBroker, connections: IdleConnectionPolicy) {
        self.broker = broker
        self.idle = IdleConnectionTracker(policy: connections)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        var bytes = unwrapInboundIn(data)
        if var pending = unread {
            unread = nil  // let go of it, so appending does not copy
            pending.writeBuffer(&bytes)
            bytes = pending
        }
        idle.requestArriving(context: context)
        do {
            while !closing, let event = try decoder.decode(&bytes) {
                switch event {
                case .expectsContinue:
                    var buffer = context.channel.allocator.buffer(capacity: 32)
                    buffer.writeStaticString("HTTP/1.1 100 Continue\r\n\r\n")
                    context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
                case .request(let request):
                    idle.requestEnded()
                    route(context: context, request: request)
                }
            }
        } catch {
            // A malformed request ends only this connection, told what was wrong.
            let message = "\(error) Send HTTP/1.1 with a Content-Length or chunked body (the Lambda Runtime API)."
            write(context, .status(code: 400, reason: "Bad Request",
                                   body: String(decoding: JSON.errorDocument(message: message, type: "InvalidRequest"), as: UTF8.self)),
                  keepAlive: false)
            return
        }
        if bytes.readableBytes > 0 {
            bytes.discardReadBytes()
            unread = bytes
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        idle.closed()
        broker.connectionClosed(context.channel)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idle.closed()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private static let prefix = "/2018-06-01/runtime/"

    private func route(context: ChannelHandlerContext, request: RawHTTPRequest) {
        let keepAlive = request.keepAlive
        guard request.target.hasPrefix(Self.prefix) else { return write(context, .notFound, keepAlive: keepAlive) }
        let path = request.target.dropFirst(Self.prefix.count)
        let reply: EnvironmentBroker.Reply
        if path == "invocation/next" {
            guard request.method == "GET" else { return write(context, .methodNotAllowed, keepAlive: keepAlive) }
            reply = broker.next(channel: context.channel, keepAlive: keepAlive)
        } else if path == "init/error" {
            guard request.method == "POST" else { return write(context, .methodNotAllowed, keepAlive: keepAlive) }
            reply = broker.initError(body: Self.bytes(request), errorType: request.header("lambda-runtime-function-error-type"), on: context.channel)
        } else if path.hasPrefix("invocation/") {
            let rest = path.dropFirst("invocation/".count)
            guard request.method == "POST", let slash = rest.lastIndex(of: "/") else {
                return write(context, .notFound, keepAlive: keepAlive)
            }
            let requestId = String(rest[..<slash])
            switch rest[rest.index(after: slash)...] {
            case "response":
                if request.bodySize > Self.maximumResponseBytes {
                    reply = broker.answer(requestId: requestId, ending: .responseTooLarge(size: request.bodySize), on: context.channel)
                } else {
                    reply = broker.answer(requestId: requestId, ending: .response(Self.bytes(request)), on: context.channel)
                }
            case "error":
                let type = request.header("lambda-runtime-function-error-type")
                reply = broker.answer(requestId: requestId, ending: .functionError(body: Self.bytes(request), errorType: type), on: context.channel)
            default:
                return write(context, .notFound, keepAlive: keepAlive)
            }
        } else {
            return write(context, .notFound, keepAlive: keepAlive)
        }
        write(context, reply, keepAlive: keepAlive)
    }

    private static func bytes(_ request: RawHTTPRequest) -> [UInt8] {
        guard let body = request.body else { return [] }
        return Array(body.readableBytesView)
    }

    private func write(_ context: ChannelHandlerContext, _ reply: EnvironmentBroker.Reply, keepAlive: Bool) {
        guard case .status(let code, let reason, let text) = reply else { return }
        var buffer = context.channel.allocator.buffer(capacity: 128 + text.utf8.count)
        buffer.writeString("HTTP/1.1 \(code) \(reason)\r\nContent-Type: application/json\r\nContent-Length: \(text.utf8.count)\r\n")
        if !keepAlive { buffer.writeString("Connection: close\r\n") }
        buffer.writeString("\r\n")
        buffer.writeString(text)
        idle.responseEnded(context: context)
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        } else {
            closing = true
            context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { [channel = context.channel] _ in channel.close(promise: nil) }
        }
    }
}

extension EnvironmentBroker.Reply {
    static let notFound = Self.status(code: 404, reason: "Not Found", body: #"{"errorMessage":"Not found","errorType":"NotFound"}"#)
    static let methodNotAllowed = Self.status(code: 405, reason: "Method Not Allowed", body: #"{"errorMessage":"Method not allowed","errorType":"MethodNotAllowed"}"#)
}
