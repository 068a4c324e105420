import Foundation

/// Typed readers for the resources `shift` runs.
extension TemplateBuilder {
    static let aliasNamePattern = try! NSRegularExpression(pattern: "^(?!^[0-9]+$)([a-zA-Z0-9-_]+)$")
    static let reservedEnvironmentKeys: Set<String> = ["_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR"]

    /// Whether `aliasNamePattern` matches: decided on the bytes for the usual names, by the expression for any other.
    static func isValidAliasName(_ alias: String) -> Bool {
        var allDigits = true
        var plain = !alias.isEmpty
        for byte in alias.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): continue
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                allDigits = false
            default:
                plain = false
            }
            if !plain { break }
        }
        if plain { return !allDigits }
        return aliasNamePattern.firstMatch(in: alias, range: NSRange(alias.startIndex..., in: alias)) != nil
    }

    /// A property's node and its resolved value, nil when absent or `AWS::NoValue`.
    struct Property {
        var node: Node
        var value: TemplateValue
    }

    mutating func property(_ properties: Node?, _ key: String) -> Property? {
        guard let node = properties?[key] else { return nil }
        guard let value = resolveProperty(node, key, of: properties), value != .null else { return nil }
        return Property(node: node, value: value)
    }

    /// Resolves a property's value, remembering it when it belongs to the function being read and reported nothing.
    mutating func resolveProperty(_ node: Node, _ key: String, of properties: Node?) -> TemplateValue? {
        let before = resolver.sink.reports
        let value = resolver.resolve(node)
        if let owner = cleanOwner, properties?.location == owner, resolver.sink.reports == before {
            cleanlyResolved[key] = (node.location, value)
        }
        return value
    }

    mutating func stringProperty(_ properties: Node?, _ key: String, of id: String) -> String? {
        guard let property = property(properties, key) else { return nil }
        if let text = property.value.stringValue { return text }
        error("\(key) of '\(id)' must be a string, but it is \(resolver.describe(property.value))", at: property.node.location)
        return nil
    }

    mutating func intProperty(_ properties: Node?, _ key: String, of id: String, range: ClosedRange<Int>? = nil, unit: String = "") -> Int? {
        guard let property = property(properties, key) else { return nil }
        guard let number = property.value.intValue else {
            error("\(key) of '\(id)' must be a whole number, but it is \(property.value.stringValue.map { "'\($0)'" } ?? resolver.describe(property.value))", at: property.node.location)
            return nil
        }
        if let range, !range.contains(number) {
            error("\(key) of '\(id)' is \(number)\(unit), outside the allowed \(range.lowerBound)–\(range.upperBound)\(unit)", at: property.node.location)
        }
        return number
    }

    mutating func boolProperty(_ properties: Node?, _ key: String, of id: String) -> Bool? {
        guard let property = property(properties, key) else { return nil }
        if let flag = property.value.boolValue { return flag }
        error("\(key) of '\(id)' must be true or false", at: property.node.location)
        return nil
    }

    mutating func stringListProperty(_ properties: Node?, _ key: String, of id: String) -> [String]? {
        guard let property = property(properties, key) else { return nil }
        guard let items = property.value.listValue else {
            error("\(key) of '\(id)' must be a list, but it is \(resolver.describe(property.value))", at: property.node.location)
            return nil
        }
        return items.compactMap { item in
            if let text = item.stringValue { return text }
            error("every item of \(key) of '\(id)' must be a string", at: property.node.location)
            return nil
        }
    }

    mutating func lenientStringList(_ properties: Node?, _ key: String, of id: String) -> [String]? {
        let saved = resolver.strict
        resolver.strict = false
        defer { resolver.strict = saved }
        return stringListProperty(properties, key, of: id)
    }

    /// The logical id a `Ref`/`Fn::GetAtt` node points at, when it points at a resource of this template.
    func referencedLogicalId(_ node: Node) -> String? {
        guard let (name, argument) = node.intrinsic else { return nil }
        switch name {
        case "Ref":
            return argument.scalar.flatMap { resolver.resources[$0] != nil ? $0 : nil }
        case "Fn::GetAtt":
            let id = argument.scalar.map { String($0.prefix { $0 != "." }) } ?? argument.items?.first?.scalar
            return id.flatMap { resolver.resources[$0] != nil ? $0 : nil }
        default:
            return nil
        }
    }

    // MARK: Functions

    mutating func serverlessFunction(_ id: String, _ resource: Resolver.Resource) -> Function? {
        let props = resource.properties
        startFunction(props)
        defer { cleanOwner = nil }
        let location = resource.location
        let packageType = stringProperty(props, "PackageType", of: id) ?? "Zip"
        let runtime = stringProperty(props, "Runtime", of: id)
        let handler = stringProperty(props, "Handler", of: id)
        var codeUri: String?
        var code = CodeSource.directory(".")
        let inline = stringProperty(props, "InlineCode", of: id)
        if let codeNode = props?["CodeUri"], let value = resolveProperty(codeNode, "CodeUri", of: props), value != .null {
            switch value {
            case .string(let text):
                codeUri = text
                if text.hasPrefix("s3://") {
                    code = .s3(text)
                } else if let scheme = ASCII.range(of: "://", in: text) {
                    error("CodeUri '\(text)' of '\(id)' uses \(text[..<scheme.lowerBound])://, which is neither a local path nor s3://bucket/key", at: codeNode.location)
                } else {
                    code = .directory(text)
                }
            case .map(let map):
                let bucket = map["Bucket"]?.stringValue ?? "?"
                let key = map["Key"]?.stringValue ?? "?"
                codeUri = "s3://\(bucket)/\(key)"
                code = .s3(codeUri!)
            default:
                error("CodeUri of '\(id)' must be a local folder, s3://bucket/key or {Bucket, Key}, but it is \(resolver.describe(value))", at: codeNode.location)
            }
            if let inline {
                warning("'\(id)' sets both InlineCode and CodeUri; InlineCode takes precedence, as in SAM", at: codeNode.location)
                code = .inline(inline)
                codeUri = nil
            }
        } else if let inline {
            code = .inline(inline)
        }
        if packageType == "Image" {
            guard let image = stringProperty(props, "ImageUri", of: id) else {
                error("'\(id)' has PackageType Image but no ImageUri; 'ImageUri' must be set", at: location)
                return nil
            }
            code = .image(image)
            warning("'\(id)' is a container image function (\(image)); shift runs zip functions only, so it is validated but not run", at: location)
        } else if packageType != "Zip" {
            error("PackageType of '\(id)' must be Zip or Image, not '\(packageType)'", at: props?["PackageType"].map { located($0.location) } ?? location)
        } else {
            checkRuntimeAndHandler(id, runtime: runtime, handler: handler, at: location, properties: props)
        }
        if case .s3(let uri) = code {
            warning("the code of '\(id)' is in S3 (\(uri)), which cannot be fetched locally; it validates but cannot run", at: props?["CodeUri"].map { located($0.location) } ?? location)
        }
        let codeNode = props?["InlineCode"] ?? props?["CodeUri"] ?? (packageType == "Image" ? props?["ImageUri"] : nil)
        var function = commonFunction(id, resource, packageType: packageType, runtime: runtime, handler: handler, codeUri: codeUri, code: code,
                                      codeLocation: codeNode.map { located($0.location) } ?? location)

        if let aliasNode = props?["AutoPublishAlias"] {
            let alias = resolver.resolve(aliasNode)?.stringValue ?? ""
            if alias.isEmpty {
                error("AutoPublishAlias of '\(id)' is empty; an alias name is required to create an alias (e.g. 'live')", at: aliasNode.location)
            } else if alias.count > 128 || !Self.isValidAliasName(alias) {
                error("AutoPublishAlias name ('\(alias)') of '\(id)' must contain only alphanumeric characters, hyphens, or underscores matching (?!^[0-9]+$)([a-zA-Z0-9-_]+) pattern, at most 128 characters", at: aliasNode.location)
            } else {
                function.autoPublishAlias = alias
            }
        }
        function.autoPublishAliasAllProperties = boolProperty(props, "AutoPublishAliasAllProperties", of: id) ?? false
        function.versionDescription = stringProperty(props, "VersionDescription", of: id)
        if let preference = props?["DeploymentPreference"] {
            function.deploymentPreference = deploymentPreference(preference, of: id, hasAlias: props?["AutoPublishAlias"] != nil)
        }
        if let provisioned = props?["ProvisionedConcurrencyConfig"], let value = resolver.resolve(provisioned), value != .null {
            if props?["AutoPublishAlias"] == nil {
                error("ProvisionedConcurrencyConfig of '\(id)' needs AutoPublishAlias: provisioned concurrency is set on the alias", at: provisioned.location)
            }
            function.provisionedConcurrentExecutions = value["ProvisionedConcurrentExecutions"]?.intValue
        }
        if let eic = props?["EventInvokeConfig"] { function.eventInvokeConfig = eventInvokeConfig(eic, of: id) }
        function.httpEvents = httpEvents(props, of: id)
        return function
    }

    mutating func lambdaFunction(_ id: String, _ resource: Resolver.Resource) -> Function? {
        let props = resource.properties
        startFunction(props)
        defer { cleanOwner = nil }
        let packageType = stringProperty(props, "PackageType", of: id) ?? "Zip"
        let runtime = stringProperty(props, "Runtime", of: id)
        let handler = stringProperty(props, "Handler", of: id)
        guard let codeNode = props?["Code"], let value = resolver.resolve(codeNode), value.mapValue != nil || value.stringValue != nil else {
            error("AWS::Lambda::Function '\(id)' needs Code (ZipFile, S3Bucket/S3Key, ImageUri, or a local folder)", at: resource.location)
            return nil
        }
        let code = value.mapValue ?? [:]
        let source: CodeSource
        var codeUri: String?
        if let path = value.stringValue {
            // SAM CLI's local convention: a folder that `sam package` uploads and rewrites to S3Bucket/S3Key.
            codeUri = path
            source = path.hasPrefix("s3://") ? .s3(path) : .directory(path)
            if case .s3 = source {
                warning("the code of '\(id)' is in S3 (\(path)), which cannot be fetched locally; it validates but cannot run", at: codeNode.location)
            }
        } else if let zip = code["ZipFile"]?.stringValue {
            source = .inline(zip)
        } else if let image = code["ImageUri"]?.stringValue {
            source = .image(image)
            warning("'\(id)' is a container image function; it is validated but not run", at: codeNode.location)
        } else if let bucket = code["S3Bucket"]?.stringValue, let key = code["S3Key"]?.stringValue {
            codeUri = "s3://\(bucket)/\(key)"
            source = .s3(codeUri!)
            warning("the code of '\(id)' is in S3 (\(codeUri!)), which cannot be fetched locally; it validates but cannot run", at: codeNode.location)
        } else {
            error("Code of '\(id)' must have ZipFile, S3Bucket and S3Key, or ImageUri", at: codeNode.location)
            return nil
        }
        if packageType == "Zip" { checkRuntimeAndHandler(id, runtime: runtime, handler: handler, at: resource.location, properties: props) }
        return commonFunction(id, resource, packageType: packageType, runtime: runtime, handler: handler, codeUri: codeUri, code: source,
                              codeLocation: located(codeNode.location))
    }

    mutating func startFunction(_ props: Node?) {
        cleanOwner = props?.location
        cleanlyResolved.removeAll(keepingCapacity: true)
    }

    mutating func checkRuntimeAndHandler(_ id: String, runtime: String?, handler: String?, at location: SourceLocation, properties: Node?) {
        for (key, value) in [("Runtime", runtime), ("Handler", handler)] where value == nil {
            if let written = properties?[key] {
                error("\(key) of '\(id)' resolves to nothing (is it a parameter without a value? pass --parameter-overrides)", at: written.location)
                return
            }
        }
        guard let runtime else {
            error("function '\(id)' has no Runtime; Runtime and Handler need to be present when PackageType is Zip (e.g. Runtime: python3.12)", at: location)
            return
        }
        if let problem = LambdaRuntime.problem(with: runtime, of: id) {
            let at = properties?["Runtime"].map { located($0.location) } ?? location
            if problem.severity == .error { error(problem.message, at: at) } else { warning(problem.message, at: at) }
        }
        if handler == nil, !runtime.hasPrefix("provided") {
            error("function '\(id)' has no Handler; Runtime and Handler need to be present when PackageType is Zip (e.g. Handler: app.handler)", at: location)
        }
    }

    /// The properties both function types share.
    mutating func commonFunction(_ id: String, _ resource: Resolver.Resource, packageType: String, runtime: String?, handler: String?,
                                 codeUri: String?, code: CodeSource, codeLocation: SourceLocation) -> Function {
        let props = resource.properties
        let explicitName = stringProperty(props, "FunctionName", of: id)
        var environment: [String: String]?
        if let envNode = props?["Environment"], let env = resolveProperty(envNode, "Environment", of: props), env != .null {
            if let variables = env["Variables"] {
                if let map = variables.mapValue {
                    var result: [String: String] = [:]
                    var size = 0
                    for (key, value) in map {
                        guard let text = value.stringValue else {
                            error("environment variable \(key) of '\(id)' must be a string, but it is \(resolver.describe(value))", at: envNode.location)
                            continue
                        }
                        if Self.reservedEnvironmentKeys.contains(key) {
                            error("environment variable \(key) of '\(id)' is reserved by Lambda and cannot be set; rename it", at: envNode.location)
                        } else if !ASCII.isEnvironmentName(key) {
                            error("environment variable name '\(key)' of '\(id)' must start with a letter and hold only letters, digits and underscores", at: envNode.location)
                        }
                        result[key] = text
                        size += key.utf8.count + text.utf8.count
                    }
                    if size > 4096 {
                        error("the environment variables of '\(id)' take \(size) bytes; Lambda allows 4 KB (4096 bytes) in all. Move large values to a file or a parameter store", at: envNode.location)
                    }
                    environment = result
                } else if variables != .null {
                    error("Environment.Variables of '\(id)' must be a map of names to values", at: envNode.location)
                }
            } else if env.mapValue == nil {
                error("Environment of '\(id)' must be a map with Variables", at: envNode.location)
            }
        }
        var layers: [LayerReference]?
        if let layersNode = props?["Layers"], layersNode.intrinsic == nil || resolver.resolve(layersNode)?.listValue != nil {
            if let items = layersNode.items {
                layers = items.compactMap { item in
                    if let target = referencedLogicalId(item), let type = resolver.resources[target]?.type, type.hasSuffix("LayerVersion") {
                        return .local(logicalId: target)
                    }
                    guard let value = resolver.resolve(item) else { return nil }
                    guard let arn = value.stringValue else {
                        error("each layer of '\(id)' must be a layer ARN or !Ref to a LayerVersion", at: item.location)
                        return nil
                    }
                    return .arn(arn)
                }
            } else if let list = resolver.resolve(layersNode)?.listValue {
                layers = list.compactMap { $0.stringValue.map(LayerReference.arn) }
            } else {
                error("Type of property 'Layers' is invalid: Layers of '\(id)' must be a list of layer ARNs or !Ref LayerVersion", at: layersNode.location)
            }
        }
        // A single string (often a !Ref to a String parameter) is accepted as a one-item list, as SAM does.
        var architectures = property(props, "Architectures").flatMap { $0.value.stringValue.map { [$0] } }
            ?? stringListProperty(props, "Architectures", of: id)
        if let list = architectures {
            if list.count != 1 || !["x86_64", "arm64"].contains(list[0]) {
                error("Architectures of '\(id)' must be exactly one of [x86_64] or [arm64]", at: props?["Architectures"].map { located($0.location) } ?? resource.location)
                architectures = nil
            }
        }
        var ephemeral: Int?
        if let storage = property(props, "EphemeralStorage") {
            ephemeral = storage.value["Size"]?.intValue
            if let size = ephemeral, !(512...10240).contains(size) {
                error("EphemeralStorage.Size of '\(id)' is \(size) MB, outside 512–10240 MB", at: storage.node.location)
            }
        }
        var properties: [String: TemplateValue] = [:]
        properties.reserveCapacity(props?.entries?.count ?? 0)
        for entry in props?.entries ?? [] {
            let value: TemplateValue?
            if let clean = cleanlyResolved[entry.key], clean.position == entry.value.location {
                value = clean.value
            } else {
                value = resolver.resolveLeniently(entry.value)
            }
            if let value { properties[entry.key] = value }
        }
        cleanOwner = nil
        return Function(
            logicalId: id, resourceType: resource.type, location: resource.location,
            functionName: explicitName ?? id, explicitFunctionName: explicitName,
            packageType: packageType, runtime: runtime, handler: handler, codeUri: codeUri, code: code, codeLocation: codeLocation,
            memorySize: intProperty(props, "MemorySize", of: id, range: 128...10240, unit: " MB"),
            timeout: intProperty(props, "Timeout", of: id, range: 1...900, unit: " s"),
            environment: environment, layers: layers, architectures: architectures,
            autoPublishAlias: nil, autoPublishAliasAllProperties: false, deploymentPreference: nil,
            reservedConcurrentExecutions: intProperty(props, "ReservedConcurrentExecutions", of: id, range: 0...100_000),
            provisionedConcurrentExecutions: nil, ephemeralStorageMB: ephemeral, eventInvokeConfig: nil,
            description: stringProperty(props, "Description", of: id), versionDescription: nil,
            properties: properties)
    }

    // MARK: Deployment preference

    mutating func deploymentPreference(_ node: Node, of id: String, hasAlias: Bool) -> DeploymentPreference? {
        guard let value = resolver.resolve(node), value != .null else { return nil }
        guard value.mapValue != nil else {
            error("DeploymentPreference of '\(id)' must be a map with Type (e.g. Type: Canary10Percent5Minutes)", at: node.location)
            return nil
        }
        // An intrinsic (Fn::If) over the whole preference: work on the branch it chose.
        let body = node.intrinsic == nil ? node : Self.chosenBranch(node, resolver: resolver) ?? node
        var enabled = true
        if let enabledNode = body["Enabled"], let flag = resolver.resolve(enabledNode) {
            guard let parsed = flag.boolValue else {
                error("DeploymentPreference.Enabled of '\(id)' must be true or false", at: enabledNode.location)
                return nil
            }
            enabled = parsed
        }
        if !hasAlias && enabled {
            error("'DeploymentPreference' of '\(id)' requires AutoPublishAlias property to be specified: traffic shifts between versions of an alias", at: node.location)
        }
        var type: String?
        let typeNode = body["Type"]
        if let typeNode {
            if let target = referencedLogicalId(typeNode), resolver.resources[target]?.type == "AWS::CodeDeploy::DeploymentConfig" {
                type = resolver.resourceRef(target).stringValue
            } else if let text = resolver.resolve(typeNode)?.stringValue {
                type = text
            } else {
                error("DeploymentPreference.Type of '\(id)' must be a name such as Canary10Percent5Minutes", at: typeNode.location)
            }
        } else if enabled {
            error("DeploymentPreference of '\(id)' has no Type; add one such as Type: Canary10Percent5Minutes", at: node.location)
        }
        var alarms: [String] = []
        if let alarmsNode = body["Alarms"] {
            var items: [Node] = []
            var current = alarmsNode
            while current.intrinsic?.name == "Fn::If", let branch = Self.chosenBranch(current, resolver: resolver) { current = branch }
            if let list = current.items {
                items = list
            } else if !(resolver.resolve(current).map { $0 == .null } ?? true) {
                error("Alarms of the DeploymentPreference of '\(id)' must be a list (of alarm names or !Ref Alarm), not \(current.kindName)", at: alarmsNode.location)
            }
            for item in items {
                if let target = referencedLogicalId(item) {
                    alarms.append(target)
                } else if let name = resolver.resolve(item)?.stringValue {
                    alarms.append(name)
                } else if resolver.resolve(item) != nil {
                    error("each alarm must be an alarm name or !Ref to an AWS::CloudWatch::Alarm", at: item.location)
                }
            }
        }
        var pre: String?
        var post: String?
        if let hooksNode = body["Hooks"], let hooks = resolver.resolve(hooksNode), hooks != .null {
            if let entries = hooksNode.entries, hooksNode.intrinsic == nil {
                for entry in entries {
                    guard entry.key == "PreTraffic" || entry.key == "PostTraffic" else {
                        error("'\(entry.key)' is not a hook; DeploymentPreference.Hooks takes PreTraffic and PostTraffic", at: entry.keyLocation)
                        continue
                    }
                    let hook = referencedLogicalId(entry.value) ?? resolver.resolve(entry.value)?.stringValue
                    if entry.key == "PreTraffic" { pre = hook } else { post = hook }
                }
            } else {
                error("'Hooks' property of 'DeploymentPreference' of '\(id)' must be a dictionary with PreTraffic and/or PostTraffic", at: hooksNode.location)
            }
        }
        var passthrough: Bool?
        if let passNode = body["PassthroughCondition"] {
            if let intrinsic = passNode.intrinsic, intrinsic.name != "Ref", intrinsic.name != "Fn::FindInMap" {
                error("PassthroughCondition of '\(id)' supports only FindInMap and parameter Refs, not \(intrinsic.name)", at: passNode.location)
            } else if let flag = resolver.resolve(passNode)?.boolValue {
                passthrough = flag
            } else {
                error("Invalid value for property PassthroughCondition of '\(id)': it must be true or false", at: passNode.location)
            }
        }
        return DeploymentPreference(
            type: type, typeLocation: located(typeNode?.location ?? node.location), enabled: enabled, alarms: alarms,
            preTrafficHook: pre, postTrafficHook: post,
            role: body["Role"].flatMap { resolver.resolve($0) },
            triggerConfigurations: body["TriggerConfigurations"].flatMap { resolver.resolve($0) },
            passthroughCondition: passthrough, location: located(node.location))
    }

    static func chosenBranch(_ node: Node, resolver: Resolver) -> Node? {
        guard let (name, argument) = node.intrinsic, name == "Fn::If", let items = argument.items, items.count == 3,
              let condition = items[0].scalar else { return nil }
        return resolver.condition(condition, at: items[0].location) ? items[1] : items[2]
    }

    mutating func eventInvokeConfig(_ node: Node, of id: String) -> EventInvokeConfig? {
        guard let value = resolver.resolve(node), value != .null else { return nil }
        var config = EventInvokeConfig()
        config.maximumEventAgeInSeconds = intProperty(node, "MaximumEventAgeInSeconds", of: id, range: 60...21600, unit: " s")
        config.maximumRetryAttempts = intProperty(node, "MaximumRetryAttempts", of: id, range: 0...2)
        if let destinations = node["DestinationConfig"] {
            for key in ["OnSuccess", "OnFailure"] {
                guard let target = destinations[key] else { continue }
                let type = target["Type"].flatMap { resolver.resolve($0)?.stringValue }
                var destination: String?
                if let destinationNode = target["Destination"] {
                    destination = referencedLogicalId(destinationNode).flatMap { resolver.resources[$0]?.type.hasSuffix("Function") == true ? $0 : nil }
                        ?? resolver.resolve(destinationNode)?.stringValue
                }
                if let type, !["SQS", "SNS", "Lambda", "EventBridge", "S3Bucket"].contains(type) {
                    error("\(key) Type '\(type)' of '\(id)' is not one of SQS, SNS, Lambda, EventBridge, S3Bucket", at: target.location)
                }
                if destination == nil, let type, !["SQS", "SNS"].contains(type) {
                    error("\(key) of '\(id)' has Type \(type) but no Destination; Destination is required if Type is not SQS or SNS", at: target.location)
                }
                let entry = EventInvokeConfig.Destination(type: type, destination: destination)
                if key == "OnSuccess" { config.onSuccess = entry } else { config.onFailure = entry }
            }
        }
        return config
    }
}
