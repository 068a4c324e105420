import NIOCore
import NIOHTTP1

/// Serves the Lambda Runtime API (`/2018-06-01/runtime/...`) for ONE execution environment.
///
/// Responses are written as pre-rendered bytes (no HTTP response encoder in the pipeline) to keep
/// the warm path short; every response carries a `Content-Length`.
final class RuntimeAPIHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = ByteBuffer

    /// The largest response body a function may post (Lambda's figure in its 413 message).
    static let maximumResponseBytes = 6_291_556

    private let broker: EnvironmentBroker
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var bodySize = 0

    init(broker: EnvironmentBroker) {
        self.broker = broker
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = nil
            bodySize = 0
            if head.headers.first(name: "expect")?.lowercased() == "100-continue" {
                var buffer = context.channel.allocator.buffer(capacity: 32)
                buffer.writeString("HTTP/1.1 100 Continue\r\n\r\n")
                context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
            }
        case .body(var part):
            bodySize += part.readableBytes
            if bodySize <= Self.maximumResponseBytes {
                if body == nil { body = part } else { body!.writeBuffer(&part) }
            } else {
                body = nil
            }
        case .end:
            guard let head else { return }
            self.head = nil
            route(context: context, head: head)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        broker.connectionClosed(context.channel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A malformed request ends only this connection.
        context.close(promise: nil)
    }

    private static let prefix = "/2018-06-01/runtime/"

    private func route(context: ChannelHandlerContext, head: HTTPRequestHead) {
        let keepAlive = head.isKeepAlive
        guard head.uri.hasPrefix(Self.prefix) else { return write(context, .notFound, keepAlive: keepAlive) }
        let path = head.uri.dropFirst(Self.prefix.count)
        let reply: EnvironmentBroker.Reply
        if path == "invocation/next" {
            guard head.method == .GET else { return write(context, .methodNotAllowed, keepAlive: keepAlive) }
            reply = broker.next(channel: context.channel, keepAlive: keepAlive)
        } else if path == "init/error" {
            guard head.method == .POST else { return write(context, .methodNotAllowed, keepAlive: keepAlive) }
            reply = broker.initError(body: bodyBytes(), errorType: head.headers.first(name: "lambda-runtime-function-error-type"), on: context.channel)
        } else if path.hasPrefix("invocation/") {
            let rest = path.dropFirst("invocation/".count)
            guard head.method == .POST, let slash = rest.lastIndex(of: "/") else {
                return write(context, .notFound, keepAlive: keepAlive)
            }
            let requestId = String(rest[..<slash])
            switch rest[rest.index(after: slash)...] {
            case "response":
                if bodySize > Self.maximumResponseBytes {
                    reply = broker.answer(requestId: requestId, ending: .responseTooLarge(size: bodySize), on: context.channel)
                } else {
                    reply = broker.answer(requestId: requestId, ending: .response(bodyBytes()), on: context.channel)
                }
            case "error":
                let type = head.headers.first(name: "lambda-runtime-function-error-type")
                reply = broker.answer(requestId: requestId, ending: .functionError(body: bodyBytes(), errorType: type), on: context.channel)
            default:
                return write(context, .notFound, keepAlive: keepAlive)
            }
        } else {
            return write(context, .notFound, keepAlive: keepAlive)
        }
        write(context, reply, keepAlive: keepAlive)
    }

    private func bodyBytes() -> [UInt8] {
        defer { body = nil }
        guard var body else { return [] }
        return body.readBytes(length: body.readableBytes) ?? []
    }

    private func write(_ context: ChannelHandlerContext, _ reply: EnvironmentBroker.Reply, keepAlive: Bool) {
        guard case .status(let code, let reason, let text) = reply else { return }
        var buffer = context.channel.allocator.buffer(capacity: 128 + text.utf8.count)
        buffer.writeString("HTTP/1.1 \(code) \(reason)\r\nContent-Type: application/json\r\nContent-Length: \(text.utf8.count)\r\n")
        if !keepAlive { buffer.writeString("Connection: close\r\n") }
        buffer.writeString("\r\n")
        buffer.writeString(text)
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        } else {
            context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { [channel = context.channel] _ in channel.close(promise: nil) }
        }
    }
}

extension EnvironmentBroker.Reply {
    static let notFound = Self.status(code: 404, reason: "Not Found", body: #"{"errorMessage":"Not found","errorType":"NotFound"}"#)
    static let methodNotAllowed = Self.status(code: 405, reason: "Method Not Allowed", body: #"{"errorMessage":"Method not allowed","errorType":"MethodNotAllowed"}"#)
}
