import Foundation

/// Turns what a function returned into the HTTP response API Gateway, a function URL or a load balancer
/// would send; nil when AWS would answer 502 (a response it cannot read).
enum FrontDoorResponseMapping {
    static func map(_ payload: [UInt8], kind: FrontDoorRoute.Kind) -> FrontDoorResponse? {
        let parsed = try? JSONSerialization.jsonObject(with: Data(payload), options: [.fragmentsAllowed])
        switch kind {
        case .httpApi(.v2), .functionUrl:
            guard let parsed else { return nil }
            guard let object = parsed as? [String: Any], object["statusCode"] != nil else {
                // Payload 2.0's shortcut: any other valid JSON is a 200 with that JSON as the body (a bare string as its text).
                let body = (parsed as? String).map { Array($0.utf8) } ?? payload
                return FrontDoorResponse(status: 200, headers: [("Content-Type", "application/json")], body: body)
            }
            return structured(object, cookies: true)
        case .restApi, .httpApi(.v1), .loadBalancer:
            guard let object = parsed as? [String: Any] else { return nil }
            return structured(object, cookies: false)
        }
    }

    /// `statusCode`, `headers`, `multiValueHeaders`, (2.0) `cookies`, `body`, `isBase64Encoded`.
    private static func structured(_ object: [String: Any], cookies: Bool) -> FrontDoorResponse? {
        guard let status = integer(object["statusCode"]), (100...599).contains(status) else { return nil }
        var headers: [(name: String, value: String)] = []
        var named: Set<String> = []
        if let multi = object["multiValueHeaders"] as? [String: Any] {
            for (name, values) in multi.sorted(by: { $0.key < $1.key }) {
                guard let list = values as? [Any] else { return nil }
                for value in list { headers.append((name, text(value))) }
                named.insert(name.lowercased())
            }
        } else if object["multiValueHeaders"] != nil, !(object["multiValueHeaders"] is NSNull) {
            return nil
        }
        if let single = object["headers"] as? [String: Any] {
            // `headers` and `multiValueHeaders` merge; a name in both keeps the multi-value list, as API Gateway does.
            for (name, value) in single.sorted(by: { $0.key < $1.key }) where !named.contains(name.lowercased()) {
                headers.append((name, text(value)))
            }
        } else if object["headers"] != nil, !(object["headers"] is NSNull) {
            return nil
        }
        if cookies, let list = object["cookies"] as? [Any] {
            for cookie in list { headers.append(("Set-Cookie", text(cookie))) }
        }
        var body: [UInt8] = []
        if let value = object["body"], !(value is NSNull) {
            let string = text(value)
            if bool(object["isBase64Encoded"]) {
                guard let data = Data(base64Encoded: string, options: .ignoreUnknownCharacters) else { return nil }
                body = Array(data)
            } else {
                body = Array(string.utf8)
            }
        }
        if cookies, !headers.contains(where: { $0.name.lowercased() == "content-type" }) {
            headers.append(("Content-Type", "application/json"))
        }
        return FrontDoorResponse(status: status, headers: headers, body: body)
    }

    private static func integer(_ value: Any?) -> Int? {
        if let number = value as? NSNumber, !(value is Bool) { return number.intValue }
        if let text = value as? String { return Int(text) }
        return nil
    }

    private static func bool(_ value: Any?) -> Bool {
        if let flag = value as? Bool { return flag }
        if let number = value as? NSNumber { return number.boolValue }
        if let text = value as? String { return text.lowercased() == "true" }
        return false
    }

    private static func text(_ value: Any) -> String {
        switch value {
        case let string as String: string
        case let number as NSNumber: number.stringValue
        default: "\(value)"
        }
    }
}
