import Foundation

/// The HTTP ways into a function: `Api` and `HttpApi` events, `FunctionUrlConfig`, load balancer target groups.
extension TemplateBuilder {
    static let httpMethods = ["ANY", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]

    /// The `Api`/`HttpApi` events and the `FunctionUrlConfig` of a serverless function, each checked as the SAM
    /// transform would; a bad one is reported at its node and left out.
    mutating func httpEvents(_ props: Node?, of id: String) -> [HttpEvent] {
        var result: [HttpEvent] = []
        for event in props?["Events"]?.entries ?? [] {
            guard let type = event.value["Type"]?.scalar, type == "Api" || type == "HttpApi" else { continue }
            if let parsed = apiEvent(event, isHttpApi: type == "HttpApi", of: id) { result.append(parsed) }
        }
        if let config = props?["FunctionUrlConfig"], let value = resolver.resolve(config), value != .null {
            let authType = value["AuthType"]?.stringValue
            if authType == nil {
                error("FunctionUrlConfig of '\(id)' needs AuthType: NONE (anyone may call the URL) or AWS_IAM", at: config.location)
            } else if let authType, authType != "NONE", authType != "AWS_IAM" {
                error("AuthType '\(authType)' of the FunctionUrlConfig of '\(id)' must be NONE or AWS_IAM\(suggestion(for: authType, among: ["NONE", "AWS_IAM"]))",
                      at: config["AuthType"]?.location ?? config.location)
            } else if let authType {
                result.append(HttpEvent(name: "FunctionUrlConfig", source: .functionUrl(authType: authType), api: id, method: nil, path: nil,
                                        stage: "$default", binaryMediaTypes: [], stageVariables: [:], pathPatterns: [], priority: 0,
                                        location: located(config.location)))
            }
        }
        return result
    }

    /// One `Api` or `HttpApi` event. Two events with the same method and path on one API are refused, as the SAM
    /// transform refuses them; only paths and methods written as plain text are compared.
    private mutating func apiEvent(_ event: Node.Entry, isHttpApi: Bool, of id: String) -> HttpEvent? {
        let name = "\(id).\(event.key)"
        let typeName = isHttpApi ? "HttpApi" : "Api"
        let properties = event.value["Properties"]
        let pathNode = properties?["Path"], methodNode = properties?["Method"]
        let path = pathNode.flatMap { resolver.resolve($0)?.stringValue }
        let method = methodNode.flatMap { resolver.resolve($0)?.stringValue }
        if !isHttpApi || pathNode != nil || methodNode != nil {
            // An HttpApi event without Path and Method is the API's $default route; every other needs both.
            guard let path, let method else {
                let missing = path == nil ? "Path" : "Method"
                error("\(typeName) event \(name) needs \(missing) (e.g. Path: /hello, Method: get)\(isHttpApi ? ", or neither for the $default route" : "")",
                      at: (path == nil ? pathNode : methodNode)?.location ?? event.value.location)
                return nil
            }
            guard Self.httpMethods.contains(method.uppercased()) else {
                error("Method '\(method)' of \(typeName) event \(name) is not an HTTP method\(suggestion(for: method.uppercased(), among: Self.httpMethods)); use one of \(Self.httpMethods.joined(separator: ", ")) (any case)",
                      at: methodNode?.location ?? event.value.location)
                return nil
            }
            if let problem = Self.pathProblem(path) {
                error("Path '\(path)' of \(typeName) event \(name) \(problem)", at: pathNode?.location ?? event.value.location)
                return nil
            }
        }
        let apiNode = properties?[isHttpApi ? "ApiId" : "RestApiId"]
        var api = isHttpApi ? "ServerlessHttpApi" : "ServerlessRestApi"
        if let apiNode {
            guard let target = referencedLogicalId(apiNode) ?? apiNode.scalar else { return nil }
            api = target
        }
        if let path, let method, let methodNode {
            let key = "\(api) \(method.lowercased()) \(path)"
            if let first = apiRoutes[key] {
                error("API method \"\(method)\" defined multiple times for path \"\(path)\" of \(api): event \(name) repeats \(first.event) (line \(first.position.line)), and the SAM transform rejects that; change the Path or Method of one", at: methodNode.location)
                return nil
            }
            apiRoutes[key] = (name, methodNode.location)
        }
        var source = HttpEvent.Source.restApi
        if isHttpApi {
            let version = properties?["PayloadFormatVersion"].flatMap { resolver.resolve($0)?.stringValue } ?? "2.0"
            guard version == "1.0" || version == "2.0" else {
                error("PayloadFormatVersion '\(version)' of HttpApi event \(name) must be \"1.0\" or \"2.0\"", at: properties?["PayloadFormatVersion"]?.location ?? event.value.location)
                return nil
            }
            source = .httpApi(payloadFormatVersion: version)
        }
        let settings = apiSettings(api, isHttpApi: isHttpApi)
        return HttpEvent(name: event.key, source: source, api: api, method: method.flatMap { $0.uppercased() == "ANY" ? nil : $0.uppercased() },
                         path: path, stage: settings.stage, binaryMediaTypes: settings.binaryMediaTypes, stageVariables: settings.variables,
                         pathPatterns: [], priority: 0, location: located(event.value.location))
    }

    /// What is wrong with an API path, or nil: it starts with `/`, a `{name}` is a whole segment, `{name+}` only the last.
    static func pathProblem(_ path: String) -> String? {
        guard path.hasPrefix("/") else { return "must start with '/' (e.g. /\(path))" }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        for (index, segment) in segments.enumerated() {
            let opens = segment.contains("{"), closes = segment.contains("}")
            guard opens || closes else { continue }
            guard segment.hasPrefix("{"), segment.hasSuffix("}"), segment.count > 2,
                  !segment.dropFirst().dropLast().contains(where: { $0 == "{" || $0 == "}" }) else {
                return "has '\(segment)', which is not a whole-segment path parameter; write /{name} or /{proxy+}"
            }
            if segment.hasSuffix("+}"), index != segments.count - 1 {
                return "has the greedy parameter '\(segment)' before the last segment; {name+} must end the path"
            }
        }
        return nil
    }

    /// The stage name, binary media types and stage variables of an API of this template (or of the implicit one).
    private mutating func apiSettings(_ api: String, isHttpApi: Bool) -> (stage: String, binaryMediaTypes: [String], variables: [String: String]) {
        let explicit = resolver.resources[api]
        let properties = explicit?.properties ?? apiGlobals[isHttpApi ? "HttpApi" : "Api"]
        let value = properties.flatMap { resolver.resolveLeniently($0) }
        var stage = isHttpApi ? "$default" : "Prod"
        if explicit != nil, let name = value?["StageName"]?.stringValue, !name.isEmpty { stage = name }
        let types = (value?["BinaryMediaTypes"]?.listValue ?? []).compactMap { $0.stringValue?.replacingOccurrences(of: "~1", with: "/") }
        var variables: [String: String] = [:]
        for (key, item) in value?[isHttpApi ? "StageVariables" : "Variables"]?.mapValue ?? [:] {
            if let text = item.stringValue { variables[key] = text }
        }
        return (stage, isHttpApi ? [] : types, variables)
    }

    // MARK: Load balancers

    /// Target groups of `TargetType: lambda` whose `Targets` name a function of this template become that function's
    /// HTTP events, with the `path-pattern`s and priorities of the listener rules (or listener default actions)
    /// forwarding to them.
    mutating func attachLoadBalancerTargets(_ template: inout Template) {
        let resources = resolver.resources
        var routes: [String: (patterns: [String], priority: Int?)] = [:]
        for (_, resource) in resources where resource.type == "AWS::ElasticLoadBalancingV2::ListenerRule" || resource.type == "AWS::ElasticLoadBalancingV2::Listener" {
            let isRule = resource.type.hasSuffix("ListenerRule")
            let actions = resource.properties?[isRule ? "Actions" : "DefaultActions"]?.items ?? []
            var patterns: [String] = []
            if isRule, let conditions = resource.properties.flatMap({ resolver.resolveLeniently($0) })?["Conditions"]?.listValue {
                for condition in conditions where condition["Field"]?.stringValue == "path-pattern" {
                    let values = condition["PathPatternConfig"]?["Values"]?.listValue ?? condition["Values"]?.listValue ?? []
                    patterns += values.compactMap(\.stringValue)
                }
            }
            let priority = isRule ? resource.properties?["Priority"].flatMap({ resolver.resolveLeniently($0)?.intValue }) : nil
            for action in actions {
                var groups = action["TargetGroupArn"].map { [$0] } ?? []
                groups += action["ForwardConfig"]?["TargetGroups"]?.items?.compactMap { $0["TargetGroupArn"] } ?? []
                for group in groups {
                    guard let target = referencedLogicalId(group) else { continue }
                    var entry = routes[target] ?? ([], nil)
                    entry.patterns += patterns
                    if isRule && patterns.isEmpty { entry.patterns += ["*"] }
                    if let priority { entry.priority = min(entry.priority ?? priority, priority) }
                    routes[target] = entry
                }
            }
        }
        for (groupId, resource) in resources.sorted(by: { $0.key < $1.key }) where resource.type == "AWS::ElasticLoadBalancingV2::TargetGroup" {
            guard let properties = resource.properties, resolver.resolveLeniently(properties)?["TargetType"]?.stringValue == "lambda" else { continue }
            var multiValue = false
            for attribute in properties["TargetGroupAttributes"]?.items ?? [] where attribute["Key"]?.scalar == "lambda.multi_value_headers.enabled" {
                multiValue = attribute["Value"].flatMap { resolver.resolveLeniently($0)?.boolValue } ?? false
            }
            for target in properties["Targets"]?.items ?? [] {
                guard let idNode = target["Id"] else { continue }
                guard let functionId = referencedLogicalId(idNode),
                      let index = template.functions.firstIndex(where: { $0.logicalId == functionId }) else {
                    warning("target group \(groupId) targets a function that is not in this template; its requests are not served locally",
                            at: idNode.location)
                    continue
                }
                let rules = routes[groupId]
                template.functions[index].httpEvents.append(HttpEvent(
                    name: groupId, source: .loadBalancer(multiValueHeaders: multiValue), api: groupId, method: nil, path: nil, stage: "$default",
                    binaryMediaTypes: [], stageVariables: [:], pathPatterns: rules?.patterns ?? [],
                    priority: rules?.priority ?? 0, location: resource.location))
            }
        }
    }
}
