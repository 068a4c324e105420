import Foundation

/// Evaluates intrinsic functions (`Ref`, `Fn::Sub`, …) and conditions against one template.
///
/// A class because references are resolved lazily and memoised (a function's name may itself
/// use `Fn::Sub`), and cycles must be caught; it never leaves the loader.
final class Resolver {
    /// A class, not a struct: it is looked up by logical id many times, and a copy of a class is one retain.
    final class Resource {
        let type: String
        let node: Node
        let properties: Node?
        let location: SourceLocation

        init(type: String, node: Node, properties: Node?, location: SourceLocation) {
            self.type = type
            self.node = node
            self.properties = properties
            self.location = location
        }
    }

    var sink: DiagnosticSink
    let pseudo: PseudoParameters
    var parameters: [String: TemplateValue]
    let mappings: Node?
    let conditionNodes: [String: Node]
    var resources: [String: Resource]
    /// Version numbers to give `Ref: Fn.Version` (a deployment knows them; validation does not).
    let versionNumbers: [String: String]

    /// When false, broken references are warnings: used for properties shift does not use, which the
    /// SAM translator does not check either (Policies, Events, Role…), so that real templates still load.
    var strict = true
    /// Parameters with no value: a `Ref` to one is treated as absent rather than as a wrong value.
    var unsetParameters: Set<String> = []

    private var conditionCache: [String: Bool] = [:]
    private var conditionsInProgress: Set<String> = []
    private var refCache: [String: TemplateValue] = [:]
    private var refsInProgress: Set<String> = []

    init(sink: DiagnosticSink, pseudo: PseudoParameters, parameters: [String: TemplateValue], mappings: Node?,
         conditions: [String: Node], resources: [String: Resource], versionNumbers: [String: String]) {
        self.sink = sink
        self.pseudo = pseudo
        self.parameters = parameters
        self.mappings = mappings
        self.conditionNodes = conditions
        self.resources = resources
        self.versionNumbers = versionNumbers
    }

    // MARK: Values

    /// The value of a node, or nil when it is (or resolves to) `AWS::NoValue`.
    func resolve(_ node: Node) -> TemplateValue? {
        switch node.kind {
        case .scalar(let text, let plain):
            return plain ? TemplateValue.plainScalar(text) : .string(text)
        case .sequence(let items):
            return .list(items.compactMap { resolve($0) })
        case .mapping(let entries):
            if let (name, argument) = node.intrinsic {
                return evaluate(name, argument, at: node.location)
            }
            var map: [String: TemplateValue] = [:]
            map.reserveCapacity(entries.count)
            for entry in entries {
                if let value = resolve(entry.value) { map[entry.key] = value }
            }
            return .map(map)
        }
    }

    /// Resolves a node that must give a string; reports a located error otherwise.
    func string(_ node: Node, what: String) -> String? {
        guard let value = resolve(node) else { return nil }
        if let text = value.stringValue { return text }
        problem("\(what) must be a string, but it is \(describe(value)) here", at: node.location)
        return nil
    }

    func describe(_ value: TemplateValue) -> String {
        switch value {
        case .null: return "empty (null)"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .list: return "a list"
        case .map: return "a map"
        }
    }

    /// A broken reference: an error, or a warning while resolving properties shift does not use.
    func problem(_ message: String, at location: SourceLocation) {
        if strict { sink.error(message, at: location) } else { sink.warning(message + DiagnosticSink.lenientSuffix, at: location) }
    }

    func problem(_ message: String, at position: Position) {
        problem(message, at: sink.location(position))
    }

    /// Resolves with broken references reported as warnings.
    func resolveLeniently(_ node: Node) -> TemplateValue? {
        let saved = strict
        strict = false
        defer { strict = saved }
        return resolve(node)
    }

    // MARK: Intrinsics

    private func evaluate(_ name: String, _ argument: Node, at location: Position) -> TemplateValue? {
        switch name {
        case "Ref":
            guard let target = argument.scalar, !argument.isNull else {
                problem("Ref takes the name of a parameter or resource, not \(argument.kindName)", at: argument.location)
                return .null
            }
            return ref(target, at: argument.location)
        case "Condition":
            guard let target = argument.scalar else {
                problem("Condition takes the name of a condition of the Conditions section", at: argument.location)
                return .bool(false)
            }
            return .bool(condition(target, at: argument.location))
        case "Fn::Sub": return sub(argument, at: location)
        case "Fn::GetAtt": return getAtt(argument, at: location)
        case "Fn::Join":
            guard let items = argument.items, items.count == 2 else {
                problem("Fn::Join takes [delimiter, [values…]]", at: argument.location)
                return .string("")
            }
            let delimiter = string(items[0], what: "the Fn::Join delimiter") ?? ""
            guard let list = resolve(items[1])?.listValue else {
                problem("the second argument of Fn::Join must be a list", at: items[1].location)
                return .string("")
            }
            let parts = list.compactMap { value -> String? in
                if let text = value.stringValue { return text }
                problem("Fn::Join can only join strings and numbers, but one value is \(describe(value))", at: items[1].location)
                return nil
            }
            return .string(parts.joined(separator: delimiter))
        case "Fn::Select":
            guard let items = argument.items, items.count == 2 else {
                problem("Fn::Select takes [index, [values…]]", at: argument.location)
                return .null
            }
            guard let index = resolve(items[0])?.intValue else {
                problem("the Fn::Select index must be a whole number", at: items[0].location)
                return .null
            }
            guard let list = resolve(items[1])?.listValue else {
                problem("the second argument of Fn::Select must be a list", at: items[1].location)
                return .null
            }
            guard list.indices.contains(index) else {
                problem("Fn::Select index \(index) is out of range: " + (list.isEmpty ? "the list is empty" : "the indexes are 0…\(list.count - 1)"),
                        at: items[0].location)
                return .null
            }
            return list[index]
        case "Fn::Split":
            guard let items = argument.items, items.count == 2 else {
                problem("Fn::Split takes [delimiter, string]", at: argument.location)
                return .list([])
            }
            let delimiter = string(items[0], what: "the Fn::Split delimiter") ?? ","
            let source = string(items[1], what: "the string Fn::Split splits") ?? ""
            guard !delimiter.isEmpty else {
                problem("the Fn::Split delimiter must not be empty", at: items[0].location)
                return .list([.string(source)])
            }
            return .list(source.components(separatedBy: delimiter).map { .string($0) })
        case "Fn::FindInMap": return findInMap(argument)
        case "Fn::If":
            guard let items = argument.items, items.count == 3, let conditionName = items[0].scalar else {
                problem("Fn::If takes [condition name, value if true, value if false]", at: argument.location)
                return .null
            }
            return condition(conditionName, at: items[0].location) ? resolve(items[1]) : resolve(items[2])
        case "Fn::Equals":
            guard let items = argument.items, items.count == 2 else {
                problem("Fn::Equals takes exactly two values", at: argument.location)
                return .bool(false)
            }
            let left = resolve(items[0]) ?? .null
            let right = resolve(items[1]) ?? .null
            return .bool(comparable(left) == comparable(right))
        case "Fn::Not":
            guard let items = argument.items, items.count == 1 else {
                problem("Fn::Not takes a list with one condition", at: argument.location)
                return .bool(false)
            }
            return .bool(!boolean(items[0]))
        case "Fn::And", "Fn::Or":
            guard let items = argument.items, (2...10).contains(items.count) else {
                problem("\(name) takes a list of 2 to 10 conditions", at: argument.location)
                return .bool(false)
            }
            let values = items.map { boolean($0) }
            return .bool(name == "Fn::And" ? values.allSatisfy { $0 } : values.contains(true))
        case "Fn::Base64":
            let text = string(argument, what: "the Fn::Base64 argument") ?? ""
            return .string(Data(text.utf8).base64EncodedString())
        case "Fn::GetAZs":
            var region = pseudo.region
            if let given = resolve(argument)?.stringValue, !given.isEmpty { region = given }
            return .list(["a", "b", "c"].map { .string(region + $0) })
        case "Fn::Length":
            guard let list = resolve(argument)?.listValue else {
                problem("Fn::Length takes a list", at: argument.location)
                return .number(0)
            }
            return .number(Double(list.count))
        case "Fn::ToJsonString":
            let value = resolve(argument) ?? .null
            let data = (try? JSONSerialization.data(withJSONObject: value.jsonObject, options: [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes])) ?? Data()
            return .string(String(decoding: data, as: UTF8.self))
        case "Fn::ImportValue":
            let exported = resolve(argument)?.stringValue ?? "?"
            sink.warning("Fn::ImportValue '\(exported)' reads another stack's output, which does not exist locally; it resolves to the placeholder 'imported-\(exported)'", at: location)
            return .string("imported-\(exported)")
        case "Fn::Cidr":
            sink.warning("Fn::Cidr is not evaluated locally; it resolves to an empty list", at: location)
            return .list([])
        case "Fn::Transform":
            sink.warning("Fn::Transform (macros such as AWS::Include) is not run locally; the value is left empty", at: location)
            return nil
        default:
            problem("unknown intrinsic function '\(name)'; CloudFormation's are Ref, Fn::Sub, Fn::GetAtt, Fn::Join, Fn::Select, Fn::Split, Fn::FindInMap, Fn::If, Fn::Equals, Fn::Not, Fn::And, Fn::Or, Fn::Base64, Fn::GetAZs, Fn::ImportValue", at: location)
            return .null
        }
    }

    /// CloudFormation compares condition operands as strings (`true` equals `"true"`).
    private func comparable(_ value: TemplateValue) -> TemplateValue {
        if let text = value.stringValue { return .string(text) }
        if case .list(let items) = value { return .list(items.map(comparable)) }
        return value
    }

    private func boolean(_ node: Node) -> Bool {
        guard let value = resolve(node) else { return false }
        if let flag = value.boolValue { return flag }
        problem("a condition must be true or false (Fn::Equals, Fn::Not, Fn::And, Fn::Or or {Condition: name}), but this is \(describe(value))", at: node.location)
        return false
    }

    // MARK: Conditions

    /// The value of a named condition; unknown names and cycles are located errors.
    func condition(_ name: String, at location: Position) -> Bool {
        if let cached = conditionCache[name] { return cached }
        guard let node = conditionNodes[name] else {
            problem("unknown condition '\(name)'\(suggestion(for: name, among: Array(conditionNodes.keys))); define it in the Conditions section", at: location)
            conditionCache[name] = false
            return false
        }
        guard !conditionsInProgress.contains(name) else {
            problem("condition '\(name)' depends on itself; break the cycle in the Conditions section", at: location)
            return false
        }
        conditionsInProgress.insert(name)
        let value = boolean(node)
        conditionsInProgress.remove(name)
        conditionCache[name] = value
        return value
    }

    // MARK: Ref

    static let pseudoParameterNames = ["AWS::Region", "AWS::AccountId", "AWS::Partition", "AWS::StackName", "AWS::StackId",
                                       "AWS::URLSuffix", "AWS::NotificationARNs", "AWS::NoValue"]

    func ref(_ name: String, at location: Position) -> TemplateValue? {
        if let value = parameters[name] { return value }
        if unsetParameters.contains(name) { return nil }
        switch name {
        case "AWS::Region": return .string(pseudo.region)
        case "AWS::AccountId": return .string(pseudo.accountId)
        case "AWS::Partition": return .string(pseudo.partition)
        case "AWS::StackName": return .string(pseudo.stackName)
        case "AWS::StackId":
            return .string("arn:\(pseudo.partition):cloudformation:\(pseudo.region):\(pseudo.accountId):stack/\(pseudo.stackName)/00000000-0000-0000-0000-000000000000")
        case "AWS::URLSuffix": return .string("amazonaws.com")
        case "AWS::NotificationARNs": return .list([])
        case "AWS::NoValue": return nil
        default: break
        }
        if resources[name] != nil { return resourceRef(name) }
        if let value = samResourceReference(name) { return value }
        if isGeneratedBySAM(name) { return .string(name) }
        problem("Ref to '\(name)', but there is no parameter, pseudo parameter or resource of that name\(suggestion(for: name, among: Array(parameters.keys) + Array(resources.keys)))", at: location)
        return .string(name)
    }

    /// `Fn.Alias` and `Fn.Version`: the references SAM adds for a function with `AutoPublishAlias`.
    private func samResourceReference(_ name: String) -> TemplateValue? {
        guard let dot = name.lastIndex(of: ".") else { return nil }
        let logicalId = String(name[..<dot])
        let member = String(name[name.index(after: dot)...])
        guard let resource = resources[logicalId], resource.type == "AWS::Serverless::Function" else { return nil }
        guard let arn = functionArn(logicalId)?.stringValue else { return nil }
        switch member {
        case "DestinationTopic", "DestinationQueue":
            return .string("\(logicalId)\(member)")
        case "Alias":
            let alias = resource.properties?["AutoPublishAlias"].flatMap { resolve($0)?.stringValue } ?? "live"
            return .string("\(arn):\(alias)")
        case "Version":
            return .string("\(arn):\(versionNumbers[logicalId] ?? "$LATEST")")
        default:
            return nil
        }
    }

    /// Resources the SAM transform adds (`FnRole`, `FnAliaslive`, `ServerlessRestApi`, …) are named after the
    /// SAM resource they come from, so a reference to one starts with a SAM logical id.
    private func isGeneratedBySAM(_ name: String) -> Bool {
        let implicit = ["ServerlessRestApi", "ServerlessHttpApi", "ServerlessDeploymentApplication", "CodeDeployServiceRole"]
        if implicit.contains(where: { name.hasPrefix($0) }) { return true }
        return resources.contains { id, resource in
            resource.type.hasPrefix("AWS::Serverless::") && name.count > id.count && name.hasPrefix(id)
                && name.dropFirst(id.count).allSatisfy { $0.isLetter || $0.isNumber }
        }
    }

    /// What `Ref` gives for a resource of this template (REFERENCE.md, local decisions).
    func resourceRef(_ logicalId: String) -> TemplateValue {
        if let cached = refCache[logicalId] { return cached }
        guard let resource = resources[logicalId] else { return .string(logicalId) }
        if refsInProgress.contains(logicalId) {
            problem("the name of resource '\(logicalId)' refers to itself; give it a literal name", at: resource.location)
            return .string(logicalId)
        }
        refsInProgress.insert(logicalId)
        defer { refsInProgress.remove(logicalId) }
        let value: TemplateValue
        func property(_ key: String) -> String? {
            resource.properties?[key].flatMap { resolve($0)?.stringValue }
        }
        switch resource.type {
        case "AWS::Serverless::Function", "AWS::Lambda::Function":
            value = .string(property("FunctionName") ?? logicalId)
        case "AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion":
            let name = property("LayerName") ?? logicalId
            value = .string("arn:\(pseudo.partition):lambda:\(pseudo.region):\(pseudo.accountId):layer:\(name):1")
        case "AWS::CloudWatch::Alarm":
            value = .string(property("AlarmName") ?? logicalId)
        case "AWS::CodeDeploy::DeploymentConfig":
            value = .string(property("DeploymentConfigName") ?? logicalId)
        case "AWS::Lambda::Alias":
            let function = property("FunctionName") ?? "?"
            value = .string("\(lambdaArn(function)):\(property("Name") ?? logicalId)")
        case "AWS::Lambda::Version":
            value = .string("\(lambdaArn(property("FunctionName") ?? "?")):1")
        default:
            let last = resource.type.split(separator: ":").last.map(String.init) ?? ""
            value = .string(property(last + "Name") ?? property("Name") ?? logicalId)
        }
        refCache[logicalId] = value
        return value
    }

    private func lambdaArn(_ nameOrArn: String) -> String {
        nameOrArn.hasPrefix("arn:") ? nameOrArn : "arn:\(pseudo.partition):lambda:\(pseudo.region):\(pseudo.accountId):function:\(nameOrArn)"
    }

    private func functionArn(_ logicalId: String) -> TemplateValue? {
        guard let name = resourceRef(logicalId).stringValue else { return nil }
        return .string(lambdaArn(name))
    }

    // MARK: Fn::GetAtt

    private func getAtt(_ argument: Node, at location: Position) -> TemplateValue? {
        var logicalId: String?
        var attribute: String?
        if let text = argument.scalar, let dot = text.firstIndex(of: ".") {
            logicalId = String(text[..<dot])
            attribute = String(text[text.index(after: dot)...])
        } else if let items = argument.items, items.count == 2 {
            logicalId = items[0].scalar
            attribute = string(items[1], what: "the Fn::GetAtt attribute")
        }
        guard let logicalId, let attribute else {
            problem("Fn::GetAtt takes [LogicalId, Attribute] or 'LogicalId.Attribute'", at: argument.location)
            return .null
        }
        guard let resource = resources[logicalId] else {
            // SAM's `Fn.Version.Version` and `Fn.Alias.…` go through the function's generated resources.
            if let dot = logicalId.firstIndex(of: "."), let base = samResourceReference(logicalId) {
                if attribute == "Version" { return .string(versionNumbers[String(logicalId[..<dot])] ?? "$LATEST") }
                return base
            }
            if isGeneratedBySAM(logicalId) {
                return .string(attribute == "Arn" ? "arn:\(pseudo.partition):generated:\(pseudo.region):\(pseudo.accountId):\(logicalId)" : "\(logicalId).\(attribute)")
            }
            problem("Fn::GetAtt refers to '\(logicalId)', but there is no resource of that name\(suggestion(for: logicalId, among: Array(resources.keys)))", at: argument.location)
            return .string("\(logicalId).\(attribute)")
        }
        if attribute.hasPrefix("Version."), resource.type == "AWS::Serverless::Function" {
            return .string(versionNumbers[logicalId] ?? "$LATEST")
        }
        switch (resource.type, attribute) {
        case ("AWS::Serverless::Function", "Arn"), ("AWS::Lambda::Function", "Arn"):
            return functionArn(logicalId)
        case ("AWS::Serverless::LayerVersion", "Arn"), ("AWS::Lambda::LayerVersion", "Arn"), ("AWS::Lambda::LayerVersion", "LayerVersionArn"):
            return resourceRef(logicalId)
        case (_, "Arn"):
            let parts = resource.type.split(separator: ":").map(String.init)
            let service = parts.count > 1 ? parts[1].lowercased() : "resource"
            let kind = parts.last?.lowercased() ?? "resource"
            let name = resourceRef(logicalId).stringValue ?? logicalId
            return .string("arn:\(pseudo.partition):\(service):\(pseudo.region):\(pseudo.accountId):\(kind)/\(name)")
        case (_, let attribute) where attribute.hasSuffix("Name"):
            return resourceRef(logicalId)
        default:
            return .string("\(logicalId).\(attribute)")
        }
    }

    // MARK: Fn::Sub

    private func sub(_ argument: Node, at location: Position) -> TemplateValue {
        var template: String?
        var templateLocation = argument.location
        var variables: [String: TemplateValue] = [:]
        if let text = argument.scalar {
            template = text
        } else if let items = argument.items, items.count == 2, let text = items[0].scalar {
            template = text
            templateLocation = items[0].location
            guard let entries = items[1].entries else {
                problem("the second argument of Fn::Sub must be a map of variables", at: items[1].location)
                return .string(text)
            }
            for entry in entries {
                if let value = resolve(entry.value) { variables[entry.key] = value }
            }
        }
        guard let template else {
            problem("Fn::Sub takes a string, or [string, {variables}]", at: argument.location)
            return .string("")
        }
        var output = ""
        var rest = Substring(template)
        // On ASCII text bytes are characters, so the scan can run on UTF-8; other text keeps the character-wise search.
        let ascii = template.utf8.allSatisfy { $0 < 0x80 }
        while let start = ascii ? Self.asciiOpening(in: rest) : rest.range(of: "${") {
            output += rest[..<start.lowerBound]
            let afterStart = rest[start.upperBound...]
            guard let end = ascii ? afterStart.utf8.firstIndex(of: UInt8(ascii: "}")) : afterStart.firstIndex(of: "}") else {
                problem("unclosed '${' in Fn::Sub; close it with '}' or write '${!' for a literal", at: templateLocation)
                output += rest[start.lowerBound...]
                rest = ""
                break
            }
            let name = ascii ? Self.asciiTrimmingSpaces(afterStart[..<end])
                : String(afterStart[..<end].drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
            rest = afterStart[afterStart.index(after: end)...]
            if name.hasPrefix("!") {
                output += "${" + name.dropFirst() + "}"
                continue
            }
            let value: TemplateValue?
            if let given = variables[name] {
                value = given
            } else if ascii ? name.utf8.contains(UInt8(ascii: ".")) : name.contains("."), !parameters.keys.contains(name) {
                let dot = name.firstIndex(of: ".")!
                let node = Node(.sequence([
                    Node(.scalar(String(name[..<dot]), plain: false), at: templateLocation),
                    Node(.scalar(String(name[name.index(after: dot)...]), plain: false), at: templateLocation),
                ]), at: templateLocation)
                value = getAtt(node, at: templateLocation)
            } else {
                value = ref(name, at: templateLocation)
            }
            if let text = value?.stringValue {
                output += text
            } else if let value, case .list(let items) = value {
                output += items.compactMap(\.stringValue).joined(separator: ",")
            } else if value != nil {
                problem("'${\(name)}' in Fn::Sub is \(describe(value!)), which cannot be put into a string", at: templateLocation)
            }
        }
        output += rest
        return .string(output)
    }

    /// Where `${` first occurs in ASCII text.
    private static func asciiOpening(in text: Substring) -> Range<String.Index>? {
        let bytes = text.utf8
        var index = bytes.startIndex
        while let dollar = bytes[index...].firstIndex(of: UInt8(ascii: "$")) {
            let next = bytes.index(after: dollar)
            guard next < bytes.endIndex else { return nil }
            if bytes[next] == UInt8(ascii: "{") { return dollar..<bytes.index(after: next) }
            index = next
        }
        return nil
    }

    /// ASCII text without leading and trailing spaces (only " ", as Fn::Sub names are trimmed).
    private static func asciiTrimmingSpaces(_ text: Substring) -> String {
        let bytes = text.utf8
        guard let first = bytes.firstIndex(where: { $0 != UInt8(ascii: " ") }),
              let last = bytes.lastIndex(where: { $0 != UInt8(ascii: " ") }) else { return "" }
        return String(text[first...last])
    }

    // MARK: Fn::FindInMap

    private func findInMap(_ argument: Node) -> TemplateValue? {
        guard let items = argument.items, (3...4).contains(items.count) else {
            problem("Fn::FindInMap takes [MapName, TopLevelKey, SecondLevelKey]", at: argument.location)
            return .null
        }
        let keys = items.prefix(3).map { string($0, what: "a Fn::FindInMap key") ?? "" }
        let fallback = items.count == 4 ? items[3]["DefaultValue"] : nil
        guard let map = mappings?[keys[0]] else {
            if let fallback { return resolve(fallback) }
            problem("Fn::FindInMap: no mapping '\(keys[0])' in the Mappings section\(suggestion(for: keys[0], among: mappings?.entries?.map(\.key) ?? []))", at: items[0].location)
            return .null
        }
        guard let top = map[keys[1]] else {
            if let fallback { return resolve(fallback) }
            problem("Fn::FindInMap: mapping '\(keys[0])' has no key '\(keys[1])'\(suggestion(for: keys[1], among: map.entries?.map(\.key) ?? []))", at: items[1].location)
            return .null
        }
        guard let value = top[keys[2]] else {
            if let fallback { return resolve(fallback) }
            problem("Fn::FindInMap: '\(keys[0])' → '\(keys[1])' has no key '\(keys[2])'\(suggestion(for: keys[2], among: top.entries?.map(\.key) ?? []))", at: items[2].location)
            return .null
        }
        return resolve(value)
    }
}
