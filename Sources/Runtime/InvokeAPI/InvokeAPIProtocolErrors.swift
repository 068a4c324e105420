import Foundation
import NIOCore
import NIOHTTP1

/// Answers a request the HTTP parser rejects (headers over its 80 KB, a malformed request line) with AWS's JSON
/// error instead of NIO's bare 400, so SDKs show a code and a message. Otherwise as NIO's
/// `HTTPServerProtocolErrorHandler`: the error still goes on down the pipeline, which closes the connection.
final class InvokeAPIProtocolErrorHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private var hasUnterminatedResponse = false

    /// The answer to a parser error: 400 `InvalidRequestContentException` (Lambda's modelled code for a request it cannot read).
    static func response(for error: HTTPParserError) -> InvokeAPIResponse {
        let message = switch error {
        case .headerOverflow: "The request headers are larger than the 80 KB this server reads; send large data in the body instead."
        default: "The request is not valid HTTP/1.1 (\(error)); check the client."
        }
        var response = InvokeAPIResponse.lambdaError(400, type: "InvalidRequestContentException", message: message)
        response.headers.append(("Connection", "close"))
        response.headers.append(("Content-Length", String(response.body.count)))
        return response
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        // Only when no answer has started; the pipeline closes the channel right after this returns.
        if !hasUnterminatedResponse {
            let response = Self.response(for: parserError)
            let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: response.status), headers: HTTPHeaders(response.headers))
            var body = context.channel.allocator.buffer(capacity: response.body.count)
            body.writeBytes(response.body)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
        context.fireErrorCaught(error)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head) where (100..<200).contains(head.status.code): break  // 100 Continue: the answer is still to come
        case .head: hasUnterminatedResponse = true
        case .body: break
        case .end: hasUnterminatedResponse = false
        }
        context.write(data, promise: promise)
    }
}
