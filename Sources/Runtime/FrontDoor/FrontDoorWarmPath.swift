import NIOCore
import NIOHTTP1

/// The front door's warm path (`WarmPathHandler`): a request routed to a warm function is answered from the
/// connection's event loop through `LambdaService.invokeWarm`, and one the front door answers itself (no route, too
/// large) at once. A request for a function that is cold or busy, whose alias is not resolved yet, or that asks
/// `Expect: 100-continue`, is answered by the async server.
struct FrontDoorWarmPath: WarmPathResponder {
    let router: FrontDoorRouter

    var bodyLimit: Int { FrontDoorRouter.maximumBodyBytes }
    static var rawHeaders: [String]? { nil }

    func candidate(_ head: HTTPRequestHead, channel: any Channel) -> String? {
        head.headers.contains(name: "expect") ? nil : channel.remoteAddress?.ipAddress ?? "127.0.0.1"
    }

    func start(_ head: HTTPRequestHead, _ sourceIp: String, body: ByteBuffer, loop: any EventLoop,
               completion: @escaping @Sendable (WarmAnswer?) -> Void) -> Bool {
        let request = FrontDoorRequest(head: head, body: Array(body.readableBytesView), sourceIp: sourceIp)
        let omitBody = head.method == .HEAD
        switch router.prepare(request) {
        case .answer(let response):
            completion(Self.answer(response, omitBody: omitBody))
            return true
        case .invoke(let invocation):
            return router.service.invokeWarm(router.call(invocation), preferring: loop) { [router] response in
                completion(response.map { Self.answer(router.answer(invocation, with: $0), omitBody: omitBody) })
            }
        }
    }

    /// The function does not decide the framing; the server does.
    static func answer(_ response: FrontDoorResponse, omitBody: Bool) -> WarmAnswer {
        let headers = response.headers.filter { name, _ in
            !["content-length", "transfer-encoding", "connection"].contains { FrontDoorRequest.equalsIgnoringCase(name, $0) }
        }.map { ($0.name, $0.value) }
        return WarmAnswer(status: response.status, headers: headers, body: response.body, omitBody: omitBody)
    }
}
