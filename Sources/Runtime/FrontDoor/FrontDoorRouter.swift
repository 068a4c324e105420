import Foundation

/// Answers front door requests: route, event, invocation through the Lambda service (the alias's weights and
/// metrics apply as for any Invoke call), response. No I/O of its own.
public struct FrontDoorRouter: Sendable {
    public let table: FrontDoorRouteTable
    public let service: LambdaService
    public let accountId: String
    public let region: String
    /// Told about every request answered 502 because of the function: `function:version`, and why.
    public let onFunctionFailure: @Sendable (_ function: String, _ message: String) -> Void

    /// API Gateway's own request limit (10 MB); Lambda's 6 MB applies to the event built from it.
    public static let maximumBodyBytes = 10_485_760
    /// A load balancer's limit on a request body for a Lambda target (1 MB).
    public static let maximumLoadBalancerBodyBytes = 1_048_576

    public init(routes: [FrontDoorRoute], service: LambdaService, accountId: String, region: String,
                onFunctionFailure: @escaping @Sendable (_ function: String, _ message: String) -> Void = { _, _ in }) {
        self.table = FrontDoorRouteTable(routes)
        self.service = service
        self.accountId = accountId
        self.region = region
        self.onFunctionFailure = onFunctionFailure
    }

    /// - Parameter oversizedBodyBytes: set when the body was over `maximumBodyBytes` (and dropped): its size.
    public func respond(to request: FrontDoorRequest, oversizedBodyBytes: Int? = nil) async -> FrontDoorResponse {
        switch prepare(request, oversizedBodyBytes: oversizedBodyBytes) {
        case .answer(let response):
            return response
        case .invoke(let invocation):
            do {
                return answer(invocation, with: try await invoke(invocation))
            } catch {
                return failure(invocation, "could not be invoked: \(error)")
            }
        }
    }

    /// What a request needs: an answer of the front door's own (no route, too large), or an invocation.
    enum Prepared {
        case answer(FrontDoorResponse)
        case invoke(Invocation)
    }

    /// The event of a routed request, and what answering it needs.
    struct Invocation: Sendable {
        var route: FrontDoorRoute
        var event: [UInt8]
        var requestId: String
        var isLoadBalancer: Bool
    }

    /// Routes `request` and builds its event.
    func prepare(_ request: FrontDoorRequest, oversizedBodyBytes: Int? = nil) -> Prepared {
        guard let match = table.match(method: request.method, path: request.path, host: request.header("host")) else {
            return .answer(table.unmatchedIsForbidden ? .gatewayMessage(403, "Missing Authentication Token") : .gatewayMessage(404, "Not Found"))
        }
        let route = match.route
        var isLoadBalancer = false
        if case .loadBalancer = route.kind { isLoadBalancer = true }
        let limit = isLoadBalancer ? Self.maximumLoadBalancerBodyBytes : Self.maximumBodyBytes
        let tooLarge = isLoadBalancer ? FrontDoorResponse(status: 413) : .gatewayMessage(413, "Request Entity Too Large")
        if oversizedBodyBytes != nil || request.body.count > limit { return .answer(tooLarge) }
        let requestId = RequestId.make()
        let event = FrontDoorEvent(request: request, match: match, accountId: accountId, region: region, requestId: requestId).encoded()
        if event.count > LocalRuntime.maximumRequestBytes { return .answer(tooLarge) }
        return .invoke(Invocation(route: route, event: event, requestId: requestId, isLoadBalancer: isLoadBalancer))
    }

    /// The HTTP answer to an invocation's result, as API Gateway or the load balancer maps it.
    func answer(_ invocation: Invocation, with response: InvokeResponse) -> FrontDoorResponse {
        let route = invocation.route
        var where_: String { "\(route.function):\(response.executedVersion ?? "$LATEST")" }
        if response.functionError != nil {
            let (type, message) = JSON.errorFields(response.payload)
            return failure(invocation, "\(where_) failed: \(type ?? "Unhandled"): \(message ?? String(decoding: response.payload.prefix(500), as: UTF8.self))")
        }
        guard var mapped = FrontDoorResponseMapping.map(response.payload, kind: route.kind) else {
            return failure(invocation, "\(where_) returned a response \(Self.describe(route.kind)) cannot read (it needs a JSON object with a statusCode, 100–599): \(String(decoding: response.payload.prefix(300), as: UTF8.self))")
        }
        mapped.headers.append(("x-amzn-RequestId", invocation.requestId))
        // Not an AWS header: shows which version of a weighted alias served the request.
        if let version = response.executedVersion { mapped.headers.append(("X-Shift-Executed-Version", version)) }
        return mapped
    }

    private func failure(_ invocation: Invocation, _ why: String) -> FrontDoorResponse {
        onFunctionFailure(invocation.route.function, why)
        return invocation.isLoadBalancer ? FrontDoorResponse(status: 502) : .gatewayMessage(502, "Internal server error")
    }

    /// The call an invocation makes: through the route's alias, or through `$LATEST` when the store knows the alias
    /// is missing (no deployment has made it yet; see `StateStore.cachedAbsence`).
    func call(_ invocation: Invocation) -> InvokeRequest {
        let route = invocation.route
        let missing = route.qualifier.map { service.store.cachedAbsence(function: route.function, qualifier: $0) } ?? false
        return InvokeRequest(function: route.function, qualifier: missing ? nil : route.qualifier, payload: invocation.event)
    }

    /// Invokes through the route's alias; before the first deploy made that alias, through `$LATEST`.
    private func invoke(_ invocation: Invocation) async throws -> InvokeResponse {
        let call = call(invocation)
        do {
            return try await service.invoke(call)
        } catch let error as StateError where error.code == .resourceNotFound && call.qualifier != nil {
            return try await service.invoke(InvokeRequest(function: call.function, payload: call.payload))
        }
    }

    private static func describe(_ kind: FrontDoorRoute.Kind) -> String {
        switch kind {
        case .restApi: "API Gateway (REST API, payload 1.0)"
        case .httpApi(let version): "API Gateway (HTTP API, payload \(version.rawValue))"
        case .functionUrl: "a function URL"
        case .loadBalancer: "the load balancer"
        }
    }
}
