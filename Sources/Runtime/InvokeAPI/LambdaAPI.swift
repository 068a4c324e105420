import Foundation

/// The Lambda operations of `InvokeAPIRouter.lambdaOperations`: each turns an `OperationCall` into AWS's answer.
extension InvokeAPIRouter {
    // MARK: Invoke

    func invoke(_ call: OperationCall) async throws -> InvokeAPIResponse {
        let request = call.request
        let (name, qualifier) = try localFunction(call["FunctionName"], qualifier: call.query["Qualifier"])
        if let size = request.oversizedBodyBytes {
            throw RuntimeError(.requestTooLarge, "Request must be smaller than \(LocalRuntime.maximumRequestBytes) bytes for the InvokeFunction operation (\(name) got \(size) bytes). Send a reference to the data instead.")
        }
        let typeHeader = request.headers["x-amz-invocation-type"] ?? "RequestResponse"
        guard let type = InvokeRequest.InvocationType(rawValue: typeHeader) else {
            throw StateError(.invalidParameterValue, "X-Amz-Invocation-Type must be RequestResponse, Event or DryRun, not '\(typeHeader)'")
        }
        guard let payload = Self.invokePayload(request.body, validate: type != .dryRun) else {
            return .lambdaError(400, type: "InvalidRequestContentException",
                                message: "Could not parse request body into json: the payload is not valid JSON. Send a JSON document (e.g. {\"key\": \"value\"}).",
                                requestId: call.requestId)
        }
        var clientContext = request.headers["x-amz-client-context"]
        if let encoded = clientContext, let data = Data(base64Encoded: encoded) { clientContext = String(decoding: data, as: UTF8.self) }
        let invokeRequest = InvokeRequest(function: name, qualifier: qualifier, payload: payload, invocationType: type,
                                          tailLog: request.headers["x-amz-log-type"] == "Tail", clientContext: clientContext,
                                          requestId: call.requestId)
        return Self.answer(try await service.invoke(invokeRequest), requestId: call.requestId)
    }

    /// The event an Invoke body makes: `{}` for an empty or blank body (as Lambda sends), the body itself otherwise;
    /// nil when `validate` and it is not JSON (the warm path's rule too).
    static func invokePayload(_ body: [UInt8], validate: Bool) -> [UInt8]? {
        if body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return Array("{}".utf8) }
        return !validate || JSONSyntax.isValid(body) ? body : nil
    }

    /// Invoke's HTTP answer to an invocation (the warm path's too).
    static func answer(_ response: InvokeResponse, requestId: String) -> InvokeAPIResponse {
        var headers: [(String, String)] = [("x-amzn-RequestId", response.requestId ?? requestId)]
        if let version = response.executedVersion { headers.append(("X-Amz-Executed-Version", version)) }
        if let error = response.functionError { headers.append(("X-Amz-Function-Error", error)) }
        if let log = response.logResult { headers.append(("X-Amz-Log-Result", log)) }
        if response.statusCode == 200 { headers.append(("Content-Type", "application/json")) }
        return InvokeAPIResponse(status: response.statusCode, headers: headers, body: response.payload)
    }

    // MARK: Functions and versions

    /// A `FunctionName` (name, `name:qualifier`, partial or full ARN) of this server's region and account.
    /// An ARN of another account or region names a function that is not here: 404, as AWS answers.
    func localFunction(_ reference: String, qualifier: String? = nil) throws -> (name: String, qualifier: String?) {
        let parsed = try LambdaArn.parseFunctionReference(reference, qualifier: qualifier)
        let arn = service.store.options.arn
        let parts = reference.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let foreign: Bool
        if parts.count >= 7, parts[0] == "arn" {
            foreign = parts[3] != arn.region || parts[4] != arn.accountId
        } else if parts.count >= 3, parts[1] == "function" {
            foreign = parts[0] != arn.accountId
        } else {
            foreign = false
        }
        if foreign {
            throw StateError(.resourceNotFound, "Function not found: \(reference). This server serves region \(arn.region), account \(arn.accountId); use the function's name or its ARN \(arn.function(parsed.name)).")
        }
        return parsed
    }

    func listFunctions(_ call: OperationCall) async throws -> InvokeAPIResponse {
        let names = await service.functionNames
        let (page, next) = try Self.page(names, key: { $0 }, call)
        var functions: [Any] = []
        for name in page { functions.append(try await latestObject(name)) }
        return .json(200, Self.withMarker(["Functions": functions], next))
    }

    func getFunction(_ call: OperationCall, wrapped: Bool) async throws -> InvokeAPIResponse {
        let (name, qualifier) = try localFunction(call["FunctionName"], qualifier: call.query["Qualifier"])
        let definition = try await service.requireDefinition(name)
        let configuration: [String: Any]
        var codeLocation = definition.latest.codeDirectory
        switch try await service.store.resolveTarget(function: name, qualifier: qualifier) {
        case .latest:
            configuration = try await latestObject(name)
        case .version(let version):
            configuration = versionObject(version)
            codeLocation = version.codeDirectory.path
        case .alias(let alias):
            if let number = Int(alias.functionVersion) {
                let version = try await service.store.getVersion(function: name, version: number)
                configuration = versionObject(version)
                codeLocation = version.codeDirectory.path
            } else {
                configuration = try await latestObject(name)
            }
        }
        guard wrapped else { return .json(200, configuration) }
        var answer: [String: Any] = [
            "Configuration": configuration,
            "Code": ["RepositoryType": "S3", "Location": URL(fileURLWithPath: codeLocation).absoluteString],
            "Tags": try await service.store.tags(function: name),
        ]
        if let concurrency = await concurrencyObject(name) { answer["Concurrency"] = concurrency }
        return .json(200, answer)
    }

    func publishVersion(_ call: OperationCall) async throws -> InvokeAPIResponse {
        let (name, _) = try localFunction(call["FunctionName"])
        let body = try Self.jsonBody(call.request)
        let latest = try await service.latest(name)
        if let expected = body["CodeSha256"] as? String, expected != latest.codeSha256 {
            throw StateError(.preconditionFailed, "CodeSHA256 (\(expected)) is different from current CodeSHA256 in $LATEST (\(latest.codeSha256)). Please try again with the CodeSHA256 in $LATEST.")
        }
        try await service.requireLatestRevision(name, body["RevisionId"] as? String)
        let (version, _) = try await service.publishVersion(function: name, description: body["Description"] as? String, rule: .anyChange)
        return .json(201, versionObject(version))
    }

    func listVersions(_ call: OperationCall) async throws -> InvokeAPIResponse {
        let (name, _) = try localFunction(call["FunctionName"])
        var latest = try await latestObject(name)
        latest["FunctionArn"] = service.store.options.arn.function(name, qualifier: "$LATEST")
        let versions: [(key: String, object: [String: Any])] = [("", latest)]
            + (try await service.store.listVersions(function: name)).map { (String(format: "%010d", $0.version), versionObject($0)) }
        let (page, next) = try Self.page(versions, key: \.key, call)
        return .json(200, Self.withMarker(["Versions": page.map(\.object)], next))
    }

    func deleteFunction(_ call: OperationCall) async throws -> InvokeAPIResponse {
        let (name, qualifier) = try localFunction(call["FunctionName"], qualifier: call.query["Qualifier"])
        try await service.deleteFunction(name, qualifier: qualifier)
        return InvokeAPIResponse(status: 204)
    }

    func updateFunctionCode(_ call: OperationCall) async throws -> InvokeAPIResponse {
        let (name, _) = try localFunction(call["FunctionName"])
        let body = try Self.jsonBody(call.request)
        for unsupported in ["S3Bucket", "S3Key", "S3ObjectVersion", "ImageUri"] where body[unsupported] != nil {
            throw StateError(.invalidParameterValue, "\(unsupported) is not emulated: shift serve takes the code as ZipFile (aws lambda update-function-code --zip-file fileb://code.zip).")
        }
        guard let encoded = body["ZipFile"] as? String, let zip = Data(base64Encoded: encoded) else {
            throw StateError(.invalidParameterValue, "Please provide a source for function code: ZipFile (the bytes of a .zip; the AWS CLI's --zip-file fileb://code.zip).")
        }
        let revisionId = body["RevisionId"] as? String
        if body["DryRun"] as? Bool == true {
            try await service.requireLatestRevision(name, revisionId)
            return .json(200, try await latestObject(name))
        }
        _ = try await service.updateCode(name, zip: Array(zip), revisionId: revisionId)
        if body["Publish"] as? Bool == true {
            let (version, _) = try await service.publishVersion(function: name, rule: .anyChange)
            return .json(200, versionObject(version))
        }
        return .json(200, try await latestObject(name))
    }

    func updateFunctionConfiguration(_ call: OperationCall) async throws -> InvokeAPIResponse {
        let (name, _) = try localFunction(call["FunctionName"])
        let body = try Self.jsonBody(call.request)
        var update = ConfigurationUpdate()
        if let environment = body["Environment"] as? [String: Any] {
            update.environment = (environment["Variables"] as? [String: Any] ?? [:]).mapValues { "\($0)" }
        }
        update.timeout = (body["Timeout"] as? NSNumber)?.intValue
        update.memorySize = (body["MemorySize"] as? NSNumber)?.intValue
        update.layers = body["Layers"] as? [String]
        update.description = body["Description"] as? String
        update.handler = body["Handler"] as? String
        _ = try await service.updateConfiguration(name, update, revisionId: body["RevisionId"] as? String)
        return .json(200, try await latestObject(name))
    }

    // MARK: Aliases

    func createAlias(_ call: OperationCall) async throws -> InvokeAPIResponse {
        let (name, _) = try localFunction(call["FunctionName"])
        let body = try Self.jsonBody(call.request)
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

    func listAliases(_ call: OperationCall) async throws -> InvokeAPIResponse {
        let (name, _) = try localFunction(call["FunctionName"])
        let aliases = try await service.store.listAliases(function: name, functionVersion: call.query["FunctionVersion"])
        let (page, next) = try Self.page(aliases, key: \.name, call)
        return .json(200, Self.withMarker(["Aliases": page.map(Self.aliasObject)], next))
    }

    func getAlias(_ call: OperationCall) async throws -> InvokeAPIResponse {
        let (name, _) = try localFunction(call["FunctionName"])
        return .json(200, Self.aliasObject(try await service.store.getAlias(function: name, name: call["Name"])))
    }

    func updateAlias(_ call: OperationCall) async throws -> InvokeAPIResponse {
        let (name, _) = try localFunction(call["FunctionName"])
        let body = try Self.jsonBody(call.request)
        var routing = try Self.routing(body)
        if routing == nil, body["RoutingConfig"] != nil { routing = RoutingConfig() }  // `{}` or null removes the routing
        let updated = try await service.store.updateAlias(
            function: name, name: call["Name"], functionVersion: body["FunctionVersion"] as? String, description: body["Description"] as? String,
            routingConfig: routing, revisionId: body["RevisionId"] as? String)
        return .json(200, Self.aliasObject(updated))
    }

    func deleteAlias(_ call: OperationCall) async throws -> InvokeAPIResponse {
        let (name, _) = try localFunction(call["FunctionName"])
        try await service.store.deleteAlias(function: name, name: call["Name"])
        return InvokeAPIResponse(status: 204)
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

    // MARK: Tags

    /// The function a tagging ARN names (an unqualified function ARN of this region and account).
    private func taggedFunction(_ call: OperationCall) async throws -> String {
        let resource = call["Resource"]
        guard resource.hasPrefix("arn:") else {
            throw StateError(.validation, "1 validation error detected: Value '\(resource)' at 'resource' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:(function:[a-zA-Z0-9-_]+(:(\\$LATEST|[a-zA-Z0-9-_]+))?|layer:…)")
        }
        let (name, qualifier) = try localFunction(resource)
        if let qualifier {
            throw StateError(.invalidParameterValue, "Tags are not supported on a qualified ARN (\(qualifier)); tag the function's unqualified ARN \(service.store.options.arn.function(name)).")
        }
        _ = try await service.requireDefinition(name)
        return name
    }

    func tagResource(_ call: OperationCall) async throws -> InvokeAPIResponse {
        let name = try await taggedFunction(call)
        let tags = (try Self.jsonBody(call.request)["Tags"] as? [String: Any] ?? [:]).mapValues { "\($0)" }
        try await service.store.updateTags(function: name, adding: tags)
        return InvokeAPIResponse(status: 204)
    }

    func untagResource(_ call: OperationCall) async throws -> InvokeAPIResponse {
        let name = try await taggedFunction(call)
        try await service.store.updateTags(function: name, removing: call.request.queryItems.filter { $0.name == "tagKeys" }.map(\.value))
        return InvokeAPIResponse(status: 204)
    }

    func listTags(_ call: OperationCall) async throws -> InvokeAPIResponse {
        .json(200, ["Tags": try await service.store.tags(function: try await taggedFunction(call))])
    }

    // MARK: Pagination

    /// One page of `items` (sorted by `key`) after `Marker`, at most `MaxItems` (default 50, as AWS's list calls),
    /// and the marker of the next page. A marker is the next item's key, so deleting items between pages skips nothing.
    static func page<T>(_ items: [T], key: (T) -> String, _ call: OperationCall) throws -> (page: [T], nextMarker: String?) {
        var limit = 50
        if let text = call.query["MaxItems"] {
            guard let value = Int(text), (1...10_000).contains(value) else {
                throw StateError(.validation, "1 validation error detected: Value '\(text)' at 'maxItems' failed to satisfy constraint: Member must have value \((Int(text) ?? 0) < 1 ? "greater than or equal to 1" : "less than or equal to 10000")")
            }
            limit = value
        }
        var remaining = items[...]
        if let marker = call.query["Marker"], !marker.isEmpty {
            guard let data = Data(base64Encoded: marker), let start = String(data: data, encoding: .utf8) else {
                throw StateError(.invalidParameterValue, "Invalid Marker '\(marker)': pass the NextMarker of the previous page unchanged.")
            }
            remaining = remaining.drop { key($0) < start }
        }
        let page = Array(remaining.prefix(limit))
        let next = remaining.count > limit ? Data(key(remaining[remaining.startIndex + limit]).utf8).base64EncodedString() : nil
        return (page, next)
    }

    static func withMarker(_ object: [String: Any], _ next: String?) -> [String: Any] {
        var object = object
        if let next { object["NextMarker"] = next }
        return object
    }

    static func jsonBody(_ request: InvokeAPIRequest) throws -> [String: Any] {
        if request.body.isEmpty { return [:] }
        guard let object = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any] else {
            throw StateError(.invalidParameterValue, "The request body is not a JSON object; send the parameters as JSON.")
        }
        return object
    }

    // MARK: FunctionConfiguration shapes

    private func latestObject(_ name: String) async throws -> [String: Any] {
        let latest = try await service.latest(name)
        let configuration = latest.definition.latest
        return Self.configurationObject(
            arn: service.store.options.arn, name: configuration.functionName, version: "$LATEST", runtime: configuration.runtime,
            handler: configuration.handler ?? "", memorySize: configuration.memorySize, timeout: configuration.timeout,
            environment: configuration.environment, codeSha256: latest.codeSha256, description: latest.definition.description,
            lastModified: latest.revision.lastModified, revisionId: latest.revision.revisionId,
            layers: configuration.layers.map { URL(fileURLWithPath: $0).lastPathComponent })
    }

    private func versionObject(_ version: FunctionVersion) -> [String: Any] {
        let stored = version.configuration
        return Self.configurationObject(
            arn: service.store.options.arn, name: version.functionName, version: version.versionString, runtime: stored.runtime,
            handler: stored.handler, memorySize: stored.memorySize, timeout: stored.timeout, environment: stored.environment,
            codeSha256: version.codeSha256, description: version.description, lastModified: version.publishedAt,
            revisionId: StateStore.revisionId(of: version), layers: stored.layers.map(\.name))
    }

    static func configurationObject(arn: LambdaArn, name: String, version: String, runtime: String, handler: String, memorySize: Int,
                                    timeout: Int, environment: [String: String], codeSha256: String, description: String,
                                    lastModified: Int64, revisionId: String, layers: [String]) -> [String: Any] {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss.SSSZ"
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
            "LastModified": formatter.string(from: Date(timeIntervalSince1970: Double(lastModified) / 1000)),
            "CodeSha256": codeSha256,
            "Version": version,
            "RevisionId": revisionId,
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
}
