import Foundation

/// Builds the typed model from the parsed document, section by section.
struct TemplateBuilder {
    let root: Node
    let path: String
    let options: LoadOptions
    var sink: DiagnosticSink
    var resolver: Resolver!
    /// The properties node of the function being read, while its properties are resolved one by one.
    var cleanOwner: Position?
    /// Properties of that function that resolved without any report, by key, with the position of the value node.
    /// Resolution is deterministic (its caches only grow, and strictness changes only the wording of reports), so
    /// resolving them again for the full property map would give the same value and report nothing again.
    var cleanlyResolved: [String: (position: Position, value: TemplateValue?)] = [:]
    /// The `Api` events read so far, by API, path and method: the SAM transform refuses a second one.
    var apiRoutes: [String: (event: String, position: Position)] = [:]
    /// `Globals.Api` and `Globals.HttpApi`, for the implicit APIs' stage settings.
    var apiGlobals: [String: Node] = [:]

    init(root: Node, path: String, options: LoadOptions, sink: DiagnosticSink) {
        self.root = root
        self.path = path
        self.options = options
        self.sink = sink
    }

    var diagnostics: [Diagnostic] { (resolver?.sink ?? sink).items }

    mutating func error(_ message: String, at location: SourceLocation) { resolver.sink.error(message, at: location) }
    mutating func warning(_ message: String, at location: SourceLocation) { resolver.sink.warning(message, at: location) }
    mutating func error(_ message: String, at position: Position) { resolver.sink.error(message, at: position) }
    mutating func warning(_ message: String, at position: Position) { resolver.sink.warning(message, at: position) }
    /// The full location of a position in this template.
    func located(_ position: Position) -> SourceLocation { SourceLocation(file: path, position) }

    mutating func build() -> Template? {
        let stackName = options.stackName ?? TemplateLoader.defaultStackName(forTemplateAt: path)
        let pseudo = PseudoParameters(region: options.region, accountId: options.accountId,
                                      partition: options.region.hasPrefix("cn-") ? "aws-cn" : (options.region.hasPrefix("us-gov-") ? "aws-us-gov" : "aws"),
                                      stackName: stackName)
        let (parameters, parameterValues, unsetParameters) = readParameters()
        var conditions: [String: Node] = [:]
        if let node = root["Conditions"], !node.isNull {
            if let entries = node.entries {
                for entry in entries { conditions[entry.key] = entry.value }
            } else {
                sink.error("the Conditions section must be a map of condition names to conditions", at: node.location)
            }
        }
        let mappings = root["Mappings"]
        if let mappings, !mappings.isNull, mappings.entries == nil {
            sink.error("the Mappings section must be a map", at: mappings.location)
        }
        let resourceNodes = readResources(parameters: parameterValues)
        let globals = readGlobals()
        apiGlobals = globals.filter { $0.key == "Api" || $0.key == "HttpApi" }
        var resources: [String: Resolver.Resource] = [:]
        for (id, node) in resourceNodes {
            let type = node["Type"]?.scalar ?? ""
            var properties = node["Properties"]
            if type == "AWS::Serverless::Function", let globalFunction = globals["Function"] {
                properties = mergeGlobals(globalFunction, into: properties, resource: node, id: id)
            } else if type == "AWS::Serverless::LayerVersion", let globalLayer = globals["LayerVersion"] {
                properties = mergeGlobals(globalLayer, into: properties, resource: node, id: id)
            }
            resources[id] = Resolver.Resource(type: type, node: node, properties: properties, location: located(node.location))
        }
        resolver = Resolver(sink: sink, pseudo: pseudo, parameters: parameterValues, mappings: mappings, conditions: conditions,
                            resources: resources, versionNumbers: options.versionNumbers)
        resolver.unsetParameters = unsetParameters
        // Every condition is evaluated once so that a broken one is reported even when unused.
        for name in conditions.keys.sorted() { _ = resolver.condition(name, at: conditions[name]!.location) }

        var template = Template(
            path: path,
            formatVersion: root["AWSTemplateFormatVersion"]?.scalar,
            transforms: readTransforms(),
            description: root["Description"].flatMap { resolver.resolve($0)?.stringValue },
            parameters: parameters,
            functions: [], layers: [], alarms: [], deploymentConfigs: [], otherResources: [], outputs: [:],
            pseudoParameters: pseudo)

        let hasServerless = resources.values.contains { $0.type.hasPrefix("AWS::Serverless::") }
        if hasServerless && !template.transforms.contains("AWS::Serverless-2016-10-31") {
            warning("the template uses AWS::Serverless resources but has no 'Transform: AWS::Serverless-2016-10-31'; AWS would reject it", at: root.location)
        }

        for (id, node) in resourceNodes {
            let resource = resources[id]!
            if let family = Self.checkedTypeFamilies.first(where: { resource.type.hasPrefix($0.key) }), !family.value.contains(resource.type) {
                // CloudFormation rejects an unknown type of these families; here it would silently not run.
                let near = NameSuggestion.closest(to: resource.type, in: family.value)
                error("unknown resource type '\(resource.type)' of '\(id)'" + (near.map { "; did you mean '\($0)'?" }
                    ?? "; \(family.key)* types are \(family.value.joined(separator: ", "))"), at: node["Type"]?.location ?? node.location)
                continue
            }
            if let condition = node["Condition"] {
                guard let name = condition.scalar else {
                    error("a resource's Condition must be the name of a condition", at: condition.location)
                    continue
                }
                if !resolver.condition(name, at: condition.location) { continue }
            }
            switch resource.type {
            case "AWS::Serverless::Function":
                if let function = serverlessFunction(id, resource) { template.functions.append(function) }
            case "AWS::Lambda::Function":
                if let function = lambdaFunction(id, resource) { template.functions.append(function) }
            case "AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion":
                if let layer = layer(id, resource) { template.layers.append(layer) }
            case "AWS::CloudWatch::Alarm":
                if let alarm = alarm(id, resource) { template.alarms.append(alarm) }
            case "AWS::CodeDeploy::DeploymentConfig":
                if let config = deploymentConfig(id, resource) { template.deploymentConfigs.append(config) }
            default:
                if let properties = resource.properties { _ = resolver.resolveLeniently(properties) }
                template.otherResources.append(OtherResource(logicalId: id, type: resource.type, location: resource.location))
                // APIs and target groups are served by the front door (`shift serve --http-port`).
                if !["AWS::Lambda::Version", "AWS::Lambda::Alias", "AWS::Lambda::Permission", "AWS::Lambda::EventInvokeConfig",
                     "AWS::Serverless::Api", "AWS::Serverless::HttpApi", "AWS::ElasticLoadBalancingV2::TargetGroup"].contains(resource.type) {
                    warning("\(id) (\(resource.type)) is not run locally; references to it resolve to its name", at: node.location)
                }
            }
        }
        attachLoadBalancerTargets(&template)
        checkReferences(&template)
        if let outputs = root["Outputs"]?.entries {
            let parameters = resolver.parameters
            for entry in ForEach.expand(outputs, collection: { Self.forEachCollection($0, parameters: parameters) }, sink: &resolver.sink) {
                if let condition = entry.value["Condition"]?.scalar, !resolver.condition(condition, at: entry.value.location) { continue }
                if let value = entry.value["Value"].flatMap({ resolver.resolveLeniently($0) }) { template.outputs[entry.key] = value }
            }
        }
        return template
    }

    /// Every type of the resource families a typo in would lose a function or layer (SAM specification, CloudFormation resource reference).
    static let checkedTypeFamilies: [String: [String]] = [
        "AWS::Serverless::": ["AWS::Serverless::Function", "AWS::Serverless::LayerVersion", "AWS::Serverless::Api", "AWS::Serverless::HttpApi",
                              "AWS::Serverless::SimpleTable", "AWS::Serverless::StateMachine", "AWS::Serverless::Application",
                              "AWS::Serverless::Connector", "AWS::Serverless::GraphQLApi", "AWS::Serverless::CapacityProvider"],
        "AWS::Lambda::": ["AWS::Lambda::Function", "AWS::Lambda::LayerVersion", "AWS::Lambda::Version", "AWS::Lambda::Alias",
                          "AWS::Lambda::Permission", "AWS::Lambda::EventInvokeConfig", "AWS::Lambda::EventSourceMapping",
                          "AWS::Lambda::LayerVersionPermission", "AWS::Lambda::Url", "AWS::Lambda::CodeSigningConfig",
                          "AWS::Lambda::CapacityProvider"],
    ]

    // MARK: Sections

    private func readTransforms() -> [String] {
        guard let node = root["Transform"] else { return [] }
        if let text = node.scalar { return [text] }
        return node.items?.compactMap(\.scalar) ?? []
    }

    private mutating func readParameters() -> ([Parameter], [String: TemplateValue], Set<String>) {
        var unset: Set<String> = []
        var parameters: [Parameter] = []
        var values: [String: TemplateValue] = [:]
        let node = root["Parameters"]
        let entries = node?.entries ?? []
        if let node, !node.isNull, node.entries == nil {
            sink.error("the Parameters section must be a map of parameter names to definitions", at: node.location)
        }
        let names = Set(entries.map(\.key))
        for key in options.parameterOverrides.keys.sorted() where !names.contains(key) {
            sink.warning("--parameter-overrides sets '\(key)', but the template has no such parameter\(suggestion(for: key, among: Array(names))); it is ignored", at: root.location)
        }
        for entry in entries {
            let definition = entry.value
            let name = entry.key
            guard definition.entries != nil else {
                sink.error("parameter '\(name)' must be a map with at least a Type", at: definition.location)
                continue
            }
            let type = definition["Type"]?.scalar ?? {
                sink.error("parameter '\(name)' has no Type; add 'Type: String'", at: entry.keyLocation)
                return "String"
            }()
            let raw: String
            if let override = options.parameterOverrides[name] {
                raw = override
            } else if let defaultNode = definition["Default"] {
                if let items = defaultNode.items {
                    raw = items.compactMap(\.scalar).joined(separator: ",")
                } else {
                    raw = defaultNode.scalar ?? ""
                }
            } else {
                // CloudFormation would ask for a value; SAM CLI and `sam validate` go on, and so do we, loudly.
                sink.warning("parameter '\(name)' has no Default and no value was given, so it is empty; pass --parameter-overrides \(name)=VALUE", at: entry.keyLocation)
                raw = ""
                unset.insert(name)
            }
            let isList = type == "CommaDelimitedList" || type.hasPrefix("List<")
            if type.hasPrefix("AWS::SSM::Parameter::Value<"), options.parameterOverrides[name] == nil {
                sink.warning("parameter '\(name)' reads SSM parameter '\(raw)', which is not looked up locally; its name is used as the value (pass --parameter-overrides \(name)=VALUE)", at: entry.keyLocation)
            }
            if !raw.isEmpty || definition["Default"] != nil || options.parameterOverrides[name] != nil {
                validate(parameter: name, type: type, raw: raw, isList: isList, definition: definition, at: located(entry.keyLocation))
            }
            let value: TemplateValue = isList
                ? .list(raw.isEmpty ? [] : raw.components(separatedBy: ",").map { .string($0.trimmingCharacters(in: .whitespaces)) })
                : .string(raw)
            values[name] = value
            parameters.append(Parameter(name: name, type: type, value: value, location: located(entry.keyLocation)))
        }
        return (parameters, values.filter { !unset.contains($0.key) }, unset)
    }

    private mutating func validate(parameter name: String, type: String, raw: String, isList: Bool, definition: Node, at location: SourceLocation) {
        let items = isList ? raw.components(separatedBy: ",").map { $0.trimmingCharacters(in: .whitespaces) } : [raw]
        let isNumber = type == "Number" || type == "List<Number>"
        for item in items {
            if isNumber && Double(item) == nil {
                sink.error("parameter '\(name)' is a \(type) but its value '\(item)' is not a number", at: location)
            }
            if let allowed = definition["AllowedValues"]?.items?.compactMap(\.scalar), !allowed.isEmpty, !allowed.contains(item) {
                sink.error("parameter '\(name)' is '\(item)', which is not one of its AllowedValues: \(allowed.joined(separator: ", "))", at: location)
            }
            if let pattern = definition["AllowedPattern"]?.scalar {
                if let regex = try? NSRegularExpression(pattern: "^(?:\(pattern))$") {
                    let range = NSRange(item.startIndex..., in: item)
                    if regex.firstMatch(in: item, range: range) == nil {
                        let hint = definition["ConstraintDescription"]?.scalar.map { " (\($0))" } ?? ""
                        sink.error("parameter '\(name)' is '\(item)', which does not match its AllowedPattern \(pattern)\(hint)", at: location)
                    }
                } else {
                    sink.error("the AllowedPattern of parameter '\(name)' is not a valid regular expression", at: location)
                }
            }
            if let number = Double(item) {
                if let minimum = definition["MinValue"]?.scalar.flatMap(Double.init), number < minimum {
                    sink.error("parameter '\(name)' is \(item), below its MinValue \(TemplateValue.format(minimum))", at: location)
                }
                if let maximum = definition["MaxValue"]?.scalar.flatMap(Double.init), number > maximum {
                    sink.error("parameter '\(name)' is \(item), above its MaxValue \(TemplateValue.format(maximum))", at: location)
                }
            }
            if let minimum = definition["MinLength"]?.scalar.flatMap(Int.init), item.count < minimum {
                sink.error("parameter '\(name)' has length \(item.count), shorter than its MinLength \(minimum)", at: location)
            }
            if let maximum = definition["MaxLength"]?.scalar.flatMap(Int.init), item.count > maximum {
                sink.error("parameter '\(name)' has length \(item.count), longer than its MaxLength \(maximum)", at: location)
            }
        }
    }

    /// A `Fn::ForEach` collection: a literal list, or a `!Ref` to a list parameter.
    private static func forEachCollection(_ node: Node, parameters: [String: TemplateValue]) -> [String]? {
        if let items = node.items { return items.compactMap(\.scalar).count == items.count ? items.compactMap(\.scalar) : nil }
        if let (name, argument) = node.intrinsic, name == "Ref", let parameter = argument.scalar, let value = parameters[parameter] {
            return value.listValue?.compactMap(\.stringValue) ?? value.stringValue.map { $0.split(separator: ",").map(String.init) }
        }
        return nil
    }

    private mutating func readResources(parameters: [String: TemplateValue]) -> [(String, Node)] {
        guard let node = root["Resources"] else {
            sink.error("the template has no Resources section; add one with at least one resource", at: root.location)
            return []
        }
        guard let entries = node.entries, !entries.isEmpty else {
            sink.error("the Resources section must be a non-empty map of logical ids to resources", at: node.location)
            return []
        }
        var result: [(String, Node)] = []
        if entries.contains(where: { $0.key.hasPrefix(ForEach.prefix) }), !readTransforms().contains("AWS::LanguageExtensions") {
            sink.warning("Fn::ForEach needs 'AWS::LanguageExtensions' in the template's Transform; add it before AWS::Serverless-2016-10-31", at: node.location)
        }
        let expanded = ForEach.expand(entries, collection: { Self.forEachCollection($0, parameters: parameters) }, sink: &sink)
        for entry in expanded {
            guard ASCII.isAlphanumeric(entry.key), !entry.key.isEmpty else {
                sink.error("logical id '\(entry.key)' must be alphanumeric (A-Z, a-z, 0-9)", at: entry.keyLocation)
                continue
            }
            guard entry.value.entries != nil else {
                sink.error("resource '\(entry.key)' must be a map with a Type, but it is \(entry.value.kindName)", at: entry.value.location)
                continue
            }
            guard let type = entry.value["Type"], let text = type.scalar, !type.isNull else {
                sink.error("resource '\(entry.key)' has no Type; add e.g. 'Type: AWS::Serverless::Function'", at: entry.keyLocation)
                continue
            }
            if let properties = entry.value["Properties"], !properties.isNull, properties.entries == nil, properties.intrinsic == nil {
                sink.error("the Properties of '\(entry.key)' must be a map, but they are \(properties.kindName)", at: properties.location)
                continue
            }
            _ = text
            result.append((entry.key, entry.value))
        }
        return result
    }

    // MARK: Globals

    static let globalSections = ["Function", "Api", "HttpApi", "SimpleTable", "StateMachine", "LayerVersion", "CapacityProvider"]
    static let globalFunctionProperties = ["Handler", "Runtime", "CodeUri", "DeadLetterQueue", "Description", "MemorySize", "Timeout",
        "VpcConfig", "Environment", "Tags", "PropagateTags", "Tracing", "KmsKeyArn", "AutoPublishAlias", "AutoPublishAliasAllProperties",
        "Layers", "DeploymentPreference", "RolePath", "PermissionsBoundary", "ReservedConcurrentExecutions", "ProvisionedConcurrencyConfig",
        "AssumeRolePolicyDocument", "EventInvokeConfig", "FileSystemConfigs", "CodeSigningConfigArn", "Architectures", "SnapStart",
        "EphemeralStorage", "FunctionUrlConfig", "RuntimeManagementConfig", "LoggingConfig", "RecursiveLoop", "SourceKMSKeyArn",
        "TenancyConfig", "DurableConfig", "CapacityProviderConfig", "FunctionScalingConfig", "PublishToLatestPublished", "VersionDeletionPolicy"]

    private mutating func readGlobals() -> [String: Node] {
        guard let node = root["Globals"] else { return [:] }
        guard let entries = node.entries, !entries.isEmpty else {
            sink.error("the Globals section must be a non-empty map (Function:, Api:, …), but it is \(node.kindName)", at: node.location)
            return [:]
        }
        var result: [String: Node] = [:]
        for entry in entries {
            guard Self.globalSections.contains(entry.key) else {
                sink.error("'\(entry.key)' is not a Globals section\(suggestion(for: entry.key, among: Self.globalSections)); use one of \(Self.globalSections.joined(separator: ", "))", at: entry.keyLocation)
                continue
            }
            guard let properties = entry.value.entries else {
                sink.error("Globals.\(entry.key) must be a map of properties", at: entry.value.location)
                continue
            }
            if entry.key == "Function" {
                for property in properties where !Self.globalFunctionProperties.contains(property.key) {
                    sink.error("'\(property.key)' is not a property Globals.Function supports\(suggestion(for: property.key, among: Self.globalFunctionProperties)); set it on each function instead", at: property.keyLocation)
                }
            }
            result[entry.key] = entry.value
        }
        return result
    }

    /// SAM's merge: a resource's primitive wins, maps merge key by key, lists concatenate globals first.
    private mutating func mergeGlobals(_ globals: Node, into properties: Node?, resource: Node, id: String) -> Node? {
        var ignored: Set<String> = []
        if let ignore = resource["IgnoreGlobals"] {
            if ignore.scalar == "*" { return properties }
            if let names = ignore.items?.compactMap(\.scalar) {
                for name in names where globals[name] == nil {
                    sink.error("IgnoreGlobals of '\(id)' names '\(name)', which Globals does not set; list only properties of Globals, or '*'", at: ignore.location)
                }
                ignored = Set(names)
            } else {
                sink.error("IgnoreGlobals of '\(id)' must be '*' or a list of property names", at: ignore.location)
            }
        }
        var merged = properties?.entries ?? []
        for global in globals.entries ?? [] where !ignored.contains(global.key) {
            if let index = merged.firstIndex(where: { $0.key == global.key }) {
                merged[index].value = Self.merge(global: global.value, local: merged[index].value)
            } else {
                merged.append(global)
            }
        }
        return Node(.mapping(merged), at: properties?.location ?? resource.location)
    }

    static func merge(global: Node, local: Node) -> Node {
        if global.intrinsic != nil || local.intrinsic != nil { return local }
        switch (global.kind, local.kind) {
        case (.mapping(let globalEntries), .mapping(var localEntries)):
            for entry in globalEntries {
                if let index = localEntries.firstIndex(where: { $0.key == entry.key }) {
                    localEntries[index].value = merge(global: entry.value, local: localEntries[index].value)
                } else {
                    localEntries.append(entry)
                }
            }
            return Node(.mapping(localEntries), at: local.location)
        case (.sequence(let globalItems), .sequence(let localItems)):
            return Node(.sequence(globalItems + localItems), at: local.location)
        default:
            return local
        }
    }
}
