import Foundation

/// Turns what a function returned into the HTTP response API Gateway, a function URL or a load balancer
/// would send; nil when AWS would answer 502 (a response it cannot read).
enum FrontDoorResponseMapping {
    static func map(_ payload: [UInt8], kind: FrontDoorRoute.Kind) -> FrontDoorResponse? {
        let parsed = FrontDoorJSON.parse(payload)
        switch kind {
        case .httpApi(.v2), .functionUrl:
            guard let parsed else { return nil }
            guard case .object = parsed, parsed["statusCode"] != nil else {
                // Payload 2.0's shortcut: any other valid JSON is a 200 with that JSON as the body (a bare string as its text).
                let body: [UInt8]
                if case .string(let text) = parsed { body = Array(text.utf8) } else { body = payload }
                return FrontDoorResponse(status: 200, headers: [("Content-Type", "application/json")], body: body)
            }
            return structured(parsed, cookies: true)
        case .restApi, .httpApi(.v1), .loadBalancer:
            guard let parsed, case .object = parsed else { return nil }
            return structured(parsed, cookies: false)
        }
    }

    /// `statusCode`, `headers`, `multiValueHeaders`, (2.0) `cookies`, `body`, `isBase64Encoded`.
    private static func structured(_ object: FrontDoorJSON, cookies: Bool) -> FrontDoorResponse? {
        guard let status = integer(object["statusCode"]), (100...599).contains(status) else { return nil }
        var headers: [(name: String, value: String)] = []
        var named: Set<String> = []
        if let multi = object["multiValueHeaders"], !multi.isNull {
            guard let members = multi.sortedMembers else { return nil }
            for (name, values) in members {
                guard case .array(let list) = values else { return nil }
                for value in list { headers.append((name, text(value))) }
                named.insert(name.lowercased())
            }
        }
        if let single = object["headers"], !single.isNull {
            guard let members = single.sortedMembers else { return nil }
            // `headers` and `multiValueHeaders` merge; a name in both keeps the multi-value list, as API Gateway does.
            for (name, value) in members where named.isEmpty || !named.contains(name.lowercased()) {
                headers.append((name, text(value)))
            }
        }
        if cookies, case .array(let list)? = object["cookies"] {
            for cookie in list { headers.append(("Set-Cookie", text(cookie))) }
        }
        var body: [UInt8] = []
        if let value = object["body"], !value.isNull {
            let string = text(value)
            if bool(object["isBase64Encoded"]) {
                guard let data = Data(base64Encoded: string, options: .ignoreUnknownCharacters) else { return nil }
                body = Array(data)
            } else {
                body = Array(string.utf8)
            }
        }
        if cookies, !headers.contains(where: { FrontDoorRequest.equalsIgnoringCase($0.name, "content-type") }) {
            headers.append(("Content-Type", "application/json"))
        }
        // One that cannot be a header line is left out, warm or cold (NIO would fail the whole answer on it).
        headers.removeAll { !HTTPFieldLine.isWritable(name: $0.name, value: $0.value) }
        return FrontDoorResponse(status: status, headers: headers, body: body)
    }

    private static func integer(_ value: FrontDoorJSON?) -> Int? {
        switch value {
        case .number(let literal)?: Int(literal) ?? Double(literal).flatMap { Int(exactly: $0.rounded(.towardZero)) }
        case .string(let text)?: Int(text)
        default: nil
        }
    }

    private static func bool(_ value: FrontDoorJSON?) -> Bool {
        switch value {
        case .bool(let flag)?: flag
        case .number(let literal)?: (Double(literal) ?? 0) != 0
        case .string(let text)?: text.lowercased() == "true"
        default: false
        }
    }

    /// A value as header or body text: strings as they are, anything else as its JSON.
    private static func text(_ value: FrontDoorJSON) -> String {
        switch value {
        case .string(let string): return string
        case .number(let literal):
            // As Foundation prints the number it read: `200`, `1.5`, `1000` for `1e3`.
            if let integer = Int64(literal) { return String(integer) }
            return Double(literal).map { NSNumber(value: $0).stringValue } ?? literal
        case .bool(let flag): return flag ? "true" : "false"
        case .null: return "null"
        case .array(let elements): return "[" + elements.map(json).joined(separator: ",") + "]"
        case .object(let members): return "{" + members.map { JSON.quote($0.key) + ":" + json($0.value) }.joined(separator: ",") + "}"
        }
    }

    private static func json(_ value: FrontDoorJSON) -> String {
        if case .string(let string) = value { return JSON.quote(string) }
        return text(value)
    }
}
