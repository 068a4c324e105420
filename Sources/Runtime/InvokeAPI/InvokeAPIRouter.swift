import Foundation

/// The one place that speaks AWS's wire formats: Lambda's REST API (`2015-03-31`, `2017-03-31` tags) and
/// CodeDeploy's JSON 1.1 API on the same endpoint, plus Prometheus metrics. Each operation is one row of
/// `lambdaOperations` or `codeDeployOperations`; every answer carries `x-amzn-RequestId`, and every error is
/// AWS's JSON error with a code from botocore's service models. No I/O of its own.
public struct InvokeAPIRouter: Sendable {
    public let service: LambdaService
    public let hooks: LifecycleHooks?

    public init(service: LambdaService, hooks: LifecycleHooks?) {
        self.service = service
        self.hooks = hooks
    }

    /// One Lambda REST operation: method, path pattern (`{Name}` captures a segment), handler.
    struct LambdaOperation: Sendable {
        var name: String
        var method: String
        var path: [String]
        var handle: @Sendable (InvokeAPIRouter, OperationCall) async throws -> InvokeAPIResponse

        init(_ name: String, _ method: String, _ path: String, _ handle: @escaping @Sendable (InvokeAPIRouter, OperationCall) async throws -> InvokeAPIResponse) {
            self.name = name
            self.method = method
            self.path = path.split(separator: "/").map(String.init)
            self.handle = handle
        }

        func match(_ method: String, _ segments: [String]) -> [String: String]? {
            guard method == self.method, segments.count == path.count else { return nil }
            var parameters: [String: String] = [:]
            for (pattern, segment) in zip(path, segments) {
                if pattern.hasPrefix("{") { parameters[String(pattern.dropFirst().dropLast())] = segment } else if pattern != segment { return nil }
            }
            return parameters
        }
    }

    /// A request matched to an operation: its path parameters and the raw request.
    struct OperationCall: Sendable {
        var request: InvokeAPIRequest
        var parameters: [String: String]
        var requestId: String

        subscript(_ name: String) -> String { parameters[name] ?? "" }
        var query: [String: String] { request.query }
    }

    /// Lambda's operations, as botocore's `lambda/2015-03-31/service-2.json` defines their HTTP bindings.
    static let lambdaOperations: [LambdaOperation] = [
        .init("Invoke", "POST", "2015-03-31/functions/{FunctionName}/invocations") { try await $0.invoke($1) },
        .init("ListFunctions", "GET", "2015-03-31/functions") { try await $0.listFunctions($1) },
        .init("GetFunction", "GET", "2015-03-31/functions/{FunctionName}") { try await $0.getFunction($1, wrapped: true) },
        .init("DeleteFunction", "DELETE", "2015-03-31/functions/{FunctionName}") { try await $0.deleteFunction($1) },
        .init("GetFunctionConfiguration", "GET", "2015-03-31/functions/{FunctionName}/configuration") { try await $0.getFunction($1, wrapped: false) },
        .init("UpdateFunctionConfiguration", "PUT", "2015-03-31/functions/{FunctionName}/configuration") { try await $0.updateFunctionConfiguration($1) },
        .init("UpdateFunctionCode", "PUT", "2015-03-31/functions/{FunctionName}/code") { try await $0.updateFunctionCode($1) },
        .init("PublishVersion", "POST", "2015-03-31/functions/{FunctionName}/versions") { try await $0.publishVersion($1) },
        .init("ListVersionsByFunction", "GET", "2015-03-31/functions/{FunctionName}/versions") { try await $0.listVersions($1) },
        .init("CreateAlias", "POST", "2015-03-31/functions/{FunctionName}/aliases") { try await $0.createAlias($1) },
        .init("ListAliases", "GET", "2015-03-31/functions/{FunctionName}/aliases") { try await $0.listAliases($1) },
        .init("GetAlias", "GET", "2015-03-31/functions/{FunctionName}/aliases/{Name}") { try await $0.getAlias($1) },
        .init("UpdateAlias", "PUT", "2015-03-31/functions/{FunctionName}/aliases/{Name}") { try await $0.updateAlias($1) },
        .init("DeleteAlias", "DELETE", "2015-03-31/functions/{FunctionName}/aliases/{Name}") { try await $0.deleteAlias($1) },
        .init("TagResource", "POST", "2017-03-31/tags/{Resource}") { try await $0.tagResource($1) },
        .init("UntagResource", "DELETE", "2017-03-31/tags/{Resource}") { try await $0.untagResource($1) },
        .init("ListTags", "GET", "2017-03-31/tags/{Resource}") { try await $0.listTags($1) },
        .init("PutFunctionConcurrency", "PUT", "2017-10-31/functions/{FunctionName}/concurrency") { try await $0.putFunctionConcurrency($1) },
        .init("GetFunctionConcurrency", "GET", "2019-09-30/functions/{FunctionName}/concurrency") { try await $0.getFunctionConcurrency($1) },
        .init("DeleteFunctionConcurrency", "DELETE", "2017-10-31/functions/{FunctionName}/concurrency") { try await $0.deleteFunctionConcurrency($1) },
        .init("GetAccountSettings", "GET", "2016-08-19/account-settings") { try await $0.getAccountSettings($1) },
    ]

    /// CodeDeploy's operations by `X-Amz-Target` (JSON 1.1, botocore's `codedeploy/2014-10-06/service-2.json`).
    typealias CodeDeployHandler = @Sendable (InvokeAPIRouter, [String: Any], String) async throws -> InvokeAPIResponse
    static let codeDeployOperations: [String: CodeDeployHandler] = [
        "GetDeployment": { router, body, _ in try await router.getDeployment(body) },
        "ListDeployments": { router, body, _ in try await router.listDeployments(body) },
        "StopDeployment": { router, body, requestId in try await router.stopDeployment(body, requestId: requestId) },
        "PutLifecycleEventHookExecutionStatus": { router, body, _ in try await router.putLifecycleEventHookExecutionStatus(body) },
    ]

    public func respond(to request: InvokeAPIRequest) async -> InvokeAPIResponse {
        let requestId = RequestId.make()
        var response = await dispatch(request, requestId: requestId)
        if !response.headers.contains(where: { $0.0.lowercased() == "x-amzn-requestid" }) {
            response.headers.append(("x-amzn-RequestId", requestId))
        }
        return response
    }

    private func dispatch(_ request: InvokeAPIRequest, requestId: String) async -> InvokeAPIResponse {
        let segments = request.segments
        if request.method == "POST", segments.isEmpty, request.headers["x-amz-target"] != nil {
            return await codeDeploy(request, requestId: requestId)
        }
        if segments == ["metrics"], request.method == "GET" {
            return InvokeAPIResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4")],
                                     body: Array(service.metrics.prometheusText().utf8))
        }
        for operation in Self.lambdaOperations {
            guard let parameters = operation.match(request.method, segments) else { continue }
            do {
                return try await operation.handle(self, OperationCall(request: request, parameters: parameters, requestId: requestId))
            } catch {
                return .lambdaError(error, requestId: requestId)
            }
        }
        return .lambdaError(404, type: "UnknownOperationException", message: "No operation at \(request.method) \(request.path); see the README for the operations this server implements.",
                            requestId: requestId)
    }

    // MARK: CodeDeploy

    private func codeDeploy(_ request: InvokeAPIRequest, requestId: String) async -> InvokeAPIResponse {
        let target = request.headers["x-amz-target"] ?? ""
        let prefix = "CodeDeploy_20141006."
        guard target.hasPrefix(prefix), let operation = Self.codeDeployOperations[String(target.dropFirst(prefix.count))] else {
            let known = Self.codeDeployOperations.keys.sorted().map { prefix + $0 }.joined(separator: ", ")
            return .codeDeployError(type: "UnknownOperationException", message: "Unknown operation \(target); this server implements \(known)", requestId: requestId)
        }
        let body: [String: Any]
        if request.body.isEmpty {
            body = [:]
        } else if let object = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any] {
            body = object
        } else {
            return .codeDeployError(type: "SerializationException", message: "The request body is not a JSON object", requestId: requestId)
        }
        do {
            return try await operation(self, body, requestId)
        } catch let error as StateError {
            return .codeDeployError(error.httpStatus >= 500 ? 500 : 400, type: error.awsErrorType ?? "InternalFailure", message: error.message, requestId: requestId)
        } catch {
            return .codeDeployError(500, type: "InternalFailure", message: "\(error)", requestId: requestId)
        }
    }
}
