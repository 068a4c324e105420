import Foundation

/// Maps Invoke API requests (Lambda's REST API `2015-03-31`, CodeDeploy's lifecycle hook call,
/// Prometheus metrics) to `LambdaService` and `LifecycleHooks` calls. No I/O of its own.
public struct InvokeAPIRouter: Sendable {
    public let service: LambdaService
    public let hooks: LifecycleHooks?

    public init(service: LambdaService, hooks: LifecycleHooks?) {
        self.service = service
        self.hooks = hooks
    }

    public func respond(to request: InvokeAPIRequest) async -> InvokeAPIResponse {
        let segments = request.segments
        do {
            if request.method == "POST", segments.isEmpty {
                return await codeDeploy(request)
            }
            if segments == ["metrics"], request.method == "GET" {
                return InvokeAPIResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4")],
                                         body: Array(service.metrics.prometheusText().utf8))
            }
            guard segments.count >= 2, segments[0] == "2015-03-31", segments[1] == "functions" else {
                return .lambdaError(404, type: "UnknownOperationException", message: "No operation at \(request.method) \(request.path)")
            }
            let rest = Array(segments.dropFirst(2))
            switch (request.method, rest.count, rest.count > 1 ? rest[1] : "") {
            case ("GET", 0, _):
                return try await listFunctions()
            case ("POST", 2, "invocations"):
                return await invoke(rest[0], request)
            case ("GET", 1, _):
                return try await getFunction(rest[0], qualifier: request.query["Qualifier"], wrapped: true)
            case ("GET", 2, "configuration"):
                return try await getFunction(rest[0], qualifier: request.query["Qualifier"], wrapped: false)
            case ("POST", 2, "versions"):
                return try await publishVersion(rest[0], request)
            case ("GET", 2, "versions"):
                return try await listVersions(rest[0])
            case ("POST", 2, "aliases"):
                return try await createAlias(rest[0], request)
            case ("GET", 2, "aliases"):
                let name = try functionName(rest[0])
                let aliases = try await service.store.listAliases(function: name, functionVersion: request.query["FunctionVersion"])
                return .json(200, ["Aliases": aliases.map(Self.aliasObject)])
            case ("GET", 3, "aliases"):
                let alias = try await service.store.getAlias(function: try functionName(rest[0]), name: rest[2])
                return .json(200, Self.aliasObject(alias))
            case ("PUT", 3, "aliases"):
                return try await updateAlias(rest[0], alias: rest[2], request)
            case ("DELETE", 3, "aliases"):
                try await service.store.deleteAlias(function: try functionName(rest[0]), name: rest[2])
                return InvokeAPIResponse(status: 204, headers: [("x-amzn-RequestId", UUID().uuidString.lowercased())])
            default:
                return .lambdaError(404, type: "UnknownOperationException", message: "No operation at \(request.method) \(request.path)")
            }
        } catch {
            return .lambdaError(error)
        }
    }

    // MARK: Invoke

    private func invoke(_ function: String, _ request: InvokeAPIRequest) async -> InvokeAPIResponse {
        if let size = request.oversizedBodyBytes {
            return .lambdaError(413, type: "RequestTooLargeException",
                                message: "Request must be smaller than \(LocalRuntime.maximumRequestBytes) bytes for the InvokeFunction operation (got \(size) bytes)")
        }
        let typeHeader = request.headers["x-amz-invocation-type"] ?? "RequestResponse"
        guard let type = InvokeRequest.InvocationType(rawValue: typeHeader) else {
            return .lambdaError(400, type: "InvalidParameterValueException",
                                message: "X-Amz-Invocation-Type must be RequestResponse, Event or DryRun, not '\(typeHeader)'")
        }
        var payload = request.body
        if payload.isEmpty || payload.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            payload = Array("{}".utf8)
        } else if type != .dryRun, (try? JSONSerialization.jsonObject(with: Data(payload), options: [.fragmentsAllowed])) == nil {
            return .lambdaError(400, type: "InvalidRequestContentException",
                                message: "Could not parse request body into json: the payload is not valid JSON. Send a JSON document (e.g. {\"key\": \"value\"}).")
        }
        var clientContext = request.headers["x-amz-client-context"]
        if let encoded = clientContext, let data = Data(base64Encoded: encoded) { clientContext = String(decoding: data, as: UTF8.self) }
        let invokeRequest = InvokeRequest(function: function, qualifier: request.query["Qualifier"], payload: payload, invocationType: type,
                                          tailLog: request.headers["x-amz-log-type"] == "Tail", clientContext: clientContext)
        do {
            let response = try await service.invoke(invokeRequest)
            var headers: [(String, String)] = [("x-amzn-RequestId", response.requestId ?? UUID().uuidString.lowercased())]
            if let version = response.executedVersion { headers.append(("X-Amz-Executed-Version", version)) }
            if let error = response.functionError { headers.append(("X-Amz-Function-Error", error)) }
            if let log = response.logResult { headers.append(("X-Amz-Log-Result", log)) }
            if response.statusCode == 200 { headers.append(("Content-Type", "application/json")) }
            return InvokeAPIResponse(status: response.statusCode, headers: headers, body: response.payload)
        } catch {
            return .lambdaError(error)
        }
    }

    // MARK: Functions and versions

    private func functionName(_ reference: String) throws -> String {
        try LambdaArn.parseFunctionReference(reference).name
    }

    private func listFunctions() async throws -> InvokeAPIResponse {
        var functions: [Any] = []
        for name in await service.functionNames {
            if let definition = await service.definition(named: name) { functions.append(latestObject(definition)) }
        }
        return .json(200, ["Functions": functions])
    }

    private func getFunction(_ reference: String, qualifier: String?, wrapped: Bool) async throws -> InvokeAPIResponse {
        let (name, derived) = try LambdaArn.parseFunctionReference(reference, qualifier: qualifier)
        guard let definition = await service.definition(named: name) else {
            throw StateError(.resourceNotFound, "Function not found: \(service.store.options.arn.function(name, qualifier: derived))")
        }
        let configuration: [String: Any]
        var codeLocation = definition.latest.codeDirectory
        switch try await service.store.resolveTarget(function: name, qualifier: derived) {
        case .latest:
            configuration = latestObject(definition)
        case .version(let version):
            configuration = versionObject(version, definition: definition)
            codeLocation = version.codeDirectory.path
        case .alias(let alias):
            if let number = Int(alias.functionVersion) {
                let version = try await service.store.getVersion(function: name, version: number)
                configuration = versionObject(version, definition: definition)
                codeLocation = version.codeDirectory.path
            } else {
                configuration = latestObject(definition)
            }
        }
        guard wrapped else { return .json(200, configuration) }
        return .json(200, [
            "Configuration": configuration,
            "Code": ["RepositoryType": "Local", "Location": URL(fileURLWithPath: codeLocation).absoluteString],
            "Tags": [String: String](),
        ])
    }

    private func publishVersion(_ reference: String, _ request: InvokeAPIRequest) async throws -> InvokeAPIResponse {
        let name = try functionName(reference)
        let body = try Self.jsonBody(request)
        guard let definition = await service.definition(named: name) else {
            throw StateError(.resourceNotFound, "Function not found: \(service.store.options.arn.function(name))")
        }
        if let expected = body["CodeSha256"] as? String {
            let actual = try service.store.codeHash(.directory(URL(fileURLWithPath: definition.latest.codeDirectory)))
            guard expected == actual else {
                throw StateError(.preconditionFailed, "CodeSHA256 (\(expected)) is different from current CodeSHA256 in $LATEST (\(actual)). Please try again with the CodeSHA256 in $LATEST.")
            }
        }
        let (version, _) = try await service.publishVersion(function: name, description: body["Description"] as? String, rule: .anyChange)
        return .json(201, versionObject(version, definition: definition))
    }

    private func listVersions(_ reference: String) async throws -> InvokeAPIResponse {
        let name = try functionName(reference)
        guard let definition = await service.definition(named: name) else {
            throw StateError(.resourceNotFound, "Function not found: \(service.store.options.arn.function(name))")
        }
        var latest = latestObject(definition)
        latest["FunctionArn"] = service.store.options.arn.function(name, qualifier: "$LATEST")
        let versions = try await service.store.listVersions(function: name).map { versionObject($0, definition: definition) }
        return .json(200, ["Versions": [latest] + versions])
    }

    // MARK: Aliases

    private func createAlias(_ reference: String, _ request: InvokeAPIRequest) async throws -> InvokeAPIResponse {
        let name = try functionName(reference)
        let body = try Self.jsonBody(request)
        guard let aliasName = body["Name"] as? String else {
            throw StateError(.validation, "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null")
        }
        guard let version = body["FunctionVersion"] as? String else {
            throw StateError(.validation, "1 validation error detected: Value null at 'functionVersion' failed to satisfy constraint: Member must not be null")
        }
        let alias = try await service.store.createAlias(function: name, name: aliasName, functionVersion: version,
                                                        description: body["Description"] as? String ?? "", routingConfig: try Self.routing(body))
        return .json(201, Self.aliasObject(alias))
    }

    private func updateAlias(_ reference: String, alias: String, _ request: InvokeAPIRequest) async throws -> InvokeAPIResponse {
        let name = try functionName(reference)
        let body = try Self.jsonBody(request)
        var routing = try Self.routing(body)
        if routing == nil, body["RoutingConfig"] != nil { routing = RoutingConfig() }  // `{}` or null removes the routing
        let updated = try await service.store.updateAlias(
            function: name, name: alias, functionVersion: body["FunctionVersion"] as? String, description: body["Description"] as? String,
            routingConfig: routing, revisionId: body["RevisionId"] as? String)
        return .json(200, Self.aliasObject(updated))
    }

    private static func routing(_ body: [String: Any]) throws -> RoutingConfig? {
        guard let config = body["RoutingConfig"] as? [String: Any], let weights = config["AdditionalVersionWeights"] as? [String: Any] else { return nil }
        var result: [String: Double] = [:]
        for (version, weight) in weights {
            guard let number = (weight as? NSNumber)?.doubleValue else {
                throw StateError(.validation, "1 validation error detected: the weight of version \(version) in AdditionalVersionWeights must be a number")
            }
            result[version] = number
        }
        return RoutingConfig(additionalVersionWeights: result)
    }

    static func aliasObject(_ alias: AliasConfiguration) -> [String: Any] {
        var object: [String: Any] = [
            "AliasArn": alias.aliasArn, "Name": alias.name, "FunctionVersion": alias.functionVersion,
            "Description": alias.description, "RevisionId": alias.revisionId,
        ]
        if let routing = alias.routingConfig { object["RoutingConfig"] = ["AdditionalVersionWeights": routing.additionalVersionWeights] }
        return object
    }

    private static func jsonBody(_ request: InvokeAPIRequest) throws -> [String: Any] {
        if request.body.isEmpty { return [:] }
        guard let object = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any] else {
            throw StateError(.invalidParameterValue, "The request body is not a JSON object; send the parameters as JSON.")
        }
        return object
    }

    // MARK: FunctionConfiguration shapes

    private func latestObject(_ definition: FunctionDefinition) -> [String: Any] {
        let latest = definition.latest
        let sha = (try? service.store.codeHash(.directory(URL(fileURLWithPath: latest.codeDirectory)))) ?? ""
        return Self.configurationObject(
            arn: service.store.options.arn, name: latest.functionName, version: "$LATEST", runtime: latest.runtime, handler: latest.handler ?? "",
            memorySize: latest.memorySize, timeout: latest.timeout, environment: latest.environment, codeSha256: sha,
            description: definition.description, lastModified: nil, layers: latest.layers.map { URL(fileURLWithPath: $0).lastPathComponent })
    }

    private func versionObject(_ version: FunctionVersion, definition: FunctionDefinition) -> [String: Any] {
        let stored = version.configuration
        return Self.configurationObject(
            arn: service.store.options.arn, name: version.functionName, version: version.versionString, runtime: stored.runtime,
            handler: stored.handler, memorySize: stored.memorySize, timeout: stored.timeout, environment: stored.environment,
            codeSha256: version.codeSha256, description: version.description, lastModified: version.publishedAt,
            layers: stored.layers.map(\.name))
    }

    static func configurationObject(arn: LambdaArn, name: String, version: String, runtime: String, handler: String, memorySize: Int,
                                    timeout: Int, environment: [String: String], codeSha256: String, description: String,
                                    lastModified: Int64?, layers: [String]) -> [String: Any] {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss.SSSZ"
        let modified = lastModified.map { Date(timeIntervalSince1970: Double($0) / 1000) } ?? Date()
        return [
            "FunctionName": name,
            "FunctionArn": version == "$LATEST" ? arn.function(name) : arn.function(name, qualifier: version),
            "Runtime": runtime,
            "Role": "arn:aws:iam::\(arn.accountId):role/shift-local",
            "Handler": handler,
            "CodeSize": 0,
            "Description": description,
            "Timeout": timeout,
            "MemorySize": memorySize,
            "LastModified": formatter.string(from: modified),
            "CodeSha256": codeSha256,
            "Version": version,
            "Environment": ["Variables": environment],
            "TracingConfig": ["Mode": "PassThrough"],
            "Layers": layers.map { ["Arn": "arn:aws:lambda:\(arn.region):\(arn.accountId):layer:\($0):1", "CodeSize": 0] as [String: Any] },
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": ["x86_64"],
            "EphemeralStorage": ["Size": 512],
        ]
    }

    // MARK: CodeDeploy

    private func codeDeploy(_ request: InvokeAPIRequest) async -> InvokeAPIResponse {
        let target = request.headers["x-amz-target"] ?? ""
        guard target == "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus" else {
            return .codeDeployError(type: "UnknownOperationException", message: "Unknown operation \(target.isEmpty ? "(no X-Amz-Target)" : target); this server implements CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus only")
        }
        guard let hooks else {
            return .codeDeployError(type: "DeploymentDoesNotExistException", message: "No deployment is running on this server, so there is no lifecycle hook to report to")
        }
        guard let body = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any] else {
            return .codeDeployError(type: "SerializationException", message: "The request body is not a JSON object")
        }
        guard let deploymentId = body["deploymentId"] as? String else {
            return .codeDeployError(type: "DeploymentIdRequiredException", message: "deploymentId is required")
        }
        guard let executionId = body["lifecycleEventHookExecutionId"] as? String else {
            return .codeDeployError(type: "InvalidLifecycleEventHookExecutionIdException", message: "lifecycleEventHookExecutionId is required")
        }
        let status = body["status"] as? String ?? ""
        do {
            let report = try await hooks.report(deploymentId: deploymentId, executionId: executionId, status: status)
            let data = (try? JSONSerialization.data(withJSONObject: ["lifecycleEventHookExecutionId": report.executionId])) ?? Data()
            return InvokeAPIResponse(status: 200, headers: [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", UUID().uuidString.lowercased())],
                                     body: Array(data))
        } catch let error as StateError {
            let type = error.code == .invalidParameterValue ? "InvalidLifecycleEventHookExecutionStatusException" : (error.awsErrorType ?? "InternalFailure")
            return .codeDeployError(type: type, message: error.message)
        } catch {
            return .codeDeployError(500, type: "InternalFailure", message: "\(error)")
        }
    }
}
