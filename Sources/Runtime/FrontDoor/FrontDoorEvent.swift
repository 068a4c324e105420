import Foundation

/// Builds the event a function receives for a request, as API Gateway (payload 1.0 and 2.0), function URLs
/// and load balancers send it. Written straight to bytes: this is on every request's path.
struct FrontDoorEvent {
    var request: FrontDoorRequest
    var match: FrontDoorRouteTable.Match
    var accountId: String
    var region: String
    var requestId: String

    var route: FrontDoorRoute { match.route }

    func encoded() -> [UInt8] {
        var json = JSONBuffer()
        json.bytes.reserveCapacity(1024 + request.body.count * 4 / 3)
        switch route.kind {
        case .restApi: payloadV1(&json, version: nil)
        case .httpApi(.v1): payloadV1(&json, version: "1.0")
        case .httpApi(.v2), .functionUrl: payloadV2(&json)
        case .loadBalancer(let arn, let multiValue): loadBalancer(&json, targetGroupArn: arn, multiValue: multiValue)
        }
        return json.bytes
    }

    /// The path without a stage prefix the request carried.
    private var resourcePath: String {
        let path = request.path
        guard match.stagePrefixed, let slash = path.dropFirst().firstIndex(of: "/") else { return match.stagePrefixed ? "/" : path }
        return String(path[slash...])
    }

    private var domainName: String {
        switch route.kind {
        case .functionUrl: "\(route.apiId).lambda-url.\(region).on.aws"
        default: request.header("host") ?? "localhost"
        }
    }

    private var domainPrefix: String {
        let host = domainName
        return host.firstIndex(of: ".").map { String(host[..<$0]) } ?? host
    }

    // MARK: Payload format 1.0 (REST APIs, HTTP APIs asking for 1.0)

    private func payloadV1(_ json: inout JSONBuffer, version: String?) {
        let path = resourcePath
        json.open()
        if let version { json.field("version", version) }
        json.field("resource", route.path ?? "/{proxy+}")
        json.field("path", path)
        json.field("httpMethod", request.method)
        let headers = request.groupedHeaders(lowercased: false)
        json.key("headers")
        json.object(headers.map { ($0.name, $0.values.last ?? "") })
        json.key("multiValueHeaders")
        json.multiObject(headers.map { ($0.name, $0.values) })
        let query = request.groupedQuery(decode: true)
        json.key("queryStringParameters")
        if query.isEmpty { json.null() } else { json.object(query.map { ($0.key, $0.values.last ?? "") }) }
        json.key("multiValueQueryStringParameters")
        if query.isEmpty { json.null() } else { json.multiObject(query.map { ($0.key, $0.values) }) }
        json.key("pathParameters")
        if match.pathParameters.isEmpty { json.null() } else { json.object(match.pathParameters.sorted { $0.key < $1.key }) }
        json.key("stageVariables")
        if let variables = route.stageVariables, !variables.isEmpty { json.object(variables.sorted { $0.key < $1.key }) } else { json.null() }
        json.key("requestContext")
        json.open()
        json.field("accountId", accountId)
        json.field("apiId", route.apiId)
        json.field("domainName", domainName)
        json.field("domainPrefix", domainPrefix)
        json.field("extendedRequestId", requestId)
        json.field("httpMethod", request.method)
        json.key("identity")
        json.open()
        for name in ["accessKey", "accountId", "apiKey", "apiKeyId", "caller", "cognitoAuthenticationProvider", "cognitoAuthenticationType",
                     "cognitoIdentityId", "cognitoIdentityPoolId", "principalOrgId"] {
            json.key(name)
            json.null()
        }
        json.field("sourceIp", request.sourceIp)
        json.key("user")
        json.null()
        json.key("userAgent")
        json.stringOrNull(request.header("user-agent"))
        json.key("userArn")
        json.null()
        json.close()
        json.field("path", route.stage == "$default" ? path : "/\(route.stage)\(path)")
        json.field("protocol", request.protocolName)
        json.field("requestId", requestId)
        json.field("requestTime", Self.clf(request.receivedAtMilliseconds))
        json.field("requestTimeEpoch", request.receivedAtMilliseconds)
        json.field("resourceId", Self.resourceId(route.path ?? "$default"))
        json.field("resourcePath", route.path ?? "/{proxy+}")
        json.field("stage", route.stage)
        json.close()
        let binary = route.kind == .restApi ? Self.matches(request.header("content-type"), route.binaryMediaTypes) : !Self.isText(request.header("content-type"))
        body(&json, binary: binary, emptyAs: .null)
        json.close()
    }

    // MARK: Payload format 2.0 (HTTP APIs, function URLs)

    private func payloadV2(_ json: inout JSONBuffer) {
        json.open()
        json.field("version", "2.0")
        json.field("routeKey", route.routeKey)
        json.field("rawPath", request.path)
        json.field("rawQueryString", request.rawQuery)
        var cookies: [String] = []
        var headers: [(String, String)] = []
        for (name, values) in request.groupedHeaders(lowercased: true) {
            if name == "cookie" {
                for value in values {
                    cookies += value.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                }
            } else {
                headers.append((name, values.joined(separator: ",")))
            }
        }
        if !cookies.isEmpty {
            json.key("cookies")
            json.array(cookies)
        }
        json.key("headers")
        json.object(headers)
        let query = request.groupedQuery(decode: true)
        if !query.isEmpty {
            json.key("queryStringParameters")
            json.object(query.map { ($0.key, $0.values.joined(separator: ",")) })
        }
        if !match.pathParameters.isEmpty {
            json.key("pathParameters")
            json.object(match.pathParameters.sorted { $0.key < $1.key })
        }
        if let variables = route.stageVariables, !variables.isEmpty {
            json.key("stageVariables")
            json.object(variables.sorted { $0.key < $1.key })
        }
        json.key("requestContext")
        json.open()
        json.field("accountId", accountId)
        json.field("apiId", route.apiId)
        json.field("domainName", domainName)
        json.field("domainPrefix", domainPrefix)
        json.key("http")
        json.open()
        json.field("method", request.method)
        json.field("path", request.path)
        json.field("protocol", request.protocolName)
        json.field("sourceIp", request.sourceIp)
        json.field("userAgent", request.header("user-agent") ?? "")
        json.close()
        json.field("requestId", requestId)
        json.field("routeKey", route.routeKey)
        json.field("stage", route.stage)
        json.field("time", Self.clf(request.receivedAtMilliseconds))
        json.field("timeEpoch", request.receivedAtMilliseconds)
        json.close()
        body(&json, binary: !Self.isText(request.header("content-type")), emptyAs: .absent)
        json.close()
    }

    // MARK: Load balancers

    private func loadBalancer(_ json: inout JSONBuffer, targetGroupArn: String, multiValue: Bool) {
        json.open()
        json.key("requestContext")
        json.open()
        json.key("elb")
        json.open()
        json.field("targetGroupArn", targetGroupArn)
        json.close()
        json.close()
        json.field("httpMethod", request.method)
        json.field("path", request.path)
        // A load balancer passes query keys and values as sent (still percent-encoded).
        let query = request.groupedQuery(decode: false)
        let headers = request.groupedHeaders(lowercased: true, hopByHop: true)
        if multiValue {
            json.key("multiValueQueryStringParameters")
            json.multiObject(query.map { ($0.key, $0.values) })
            json.key("multiValueHeaders")
            json.multiObject(headers.map { ($0.name, $0.values) })
        } else {
            json.key("queryStringParameters")
            json.object(query.map { ($0.key, $0.values.last ?? "") })
            json.key("headers")
            json.object(headers.map { ($0.name, $0.values.last ?? "") })
        }
        body(&json, binary: !Self.isText(request.header("content-type")), emptyAs: .emptyString)
        json.close()
    }

    // MARK: Bodies

    enum EmptyBody { case null, absent, emptyString }

    private func body(_ json: inout JSONBuffer, binary: Bool, emptyAs empty: EmptyBody) {
        if request.body.isEmpty {
            switch empty {
            case .null:
                json.key("body")
                json.null()
            case .absent: break
            case .emptyString: json.field("body", "")
            }
            json.field("isBase64Encoded", false)
            return
        }
        json.key("body")
        if binary {
            json.string(Data(request.body).base64EncodedString())
        } else {
            json.string(String(decoding: request.body, as: UTF8.self))
        }
        json.field("isBase64Encoded", binary)
    }

    /// Whether a body of this content type arrives as text in HTTP APIs, function URLs and load balancers;
    /// anything else (no type included) is base64-encoded.
    static func isText(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let type = mediaType(contentType)
        if type.hasPrefix("text/") || type.hasSuffix("+json") || type.hasSuffix("+xml") { return true }
        return textApplicationTypes.contains(type)
    }

    private static let textApplicationTypes: Set = ["application/json", "application/javascript", "application/xml", "application/yaml", "application/graphql"]

    /// Whether a REST API treats this content type as binary (its `BinaryMediaTypes`, with `*` wildcards).
    static func matches(_ contentType: String?, _ mediaTypes: [String]) -> Bool {
        guard let contentType, !mediaTypes.isEmpty else { return false }
        let type = mediaType(contentType)
        return mediaTypes.contains { FrontDoorRouteTable.glob($0.lowercased(), matches: type) }
    }

    /// `type/subtype` of a `Content-Type`, lower-cased, without its parameters or surrounding blanks.
    static func mediaType(_ contentType: String) -> String {
        let utf8 = contentType.utf8
        let end = utf8.firstIndex(of: UInt8(ascii: ";")) ?? utf8.endIndex
        var type = utf8[..<end].drop { $0 == 0x20 || $0 == 0x09 }
        while let last = type.last, last == 0x20 || last == 0x09 { type = type.dropLast() }
        return String(decoding: type, as: UTF8.self).lowercased()
    }

    // MARK: Values

    private static let months: StaticString = "JanFebMarAprMayJunJulAugSepOctNovDec"

    /// `15/May/2020:06:01:09 +0000`, API Gateway's request time (written byte by byte: it is in every event).
    static func clf(_ milliseconds: Int64) -> String {
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let year = Int(1900 + parts.tm_year)
        guard (0...9999).contains(year) else { return "01/Jan/1970:00:00:00 +0000" }
        return String(unsafeUninitializedCapacity: 26) { out in
            var at = 0
            func put(_ byte: UInt8) { out[at] = byte; at += 1 }
            func two(_ value: Int32) { put(UInt8(ascii: "0") + UInt8(value / 10)); put(UInt8(ascii: "0") + UInt8(value % 10)) }
            two(parts.tm_mday)
            put(UInt8(ascii: "/"))
            for offset in 0..<3 { put(months.utf8Start[Int(parts.tm_mon) * 3 + offset]) }
            put(UInt8(ascii: "/"))
            two(Int32(year / 100))
            two(Int32(year % 100))
            put(UInt8(ascii: ":"))
            two(parts.tm_hour)
            put(UInt8(ascii: ":"))
            two(parts.tm_min)
            put(UInt8(ascii: ":"))
            two(parts.tm_sec)
            for byte in " +0000".utf8 { put(byte) }
            return at
        }
    }

    /// A stable six-character resource id per route path, shaped as API Gateway's.
    static func resourceId(_ path: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in path.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<6).map { alphabet[Int((hash >> UInt64($0 * 6)) % 36)] })
    }
}

/// A JSON document written in order, straight to UTF-8 bytes.
struct JSONBuffer {
    var bytes: [UInt8] = []
    private var needsComma = false

    mutating func open() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    mutating func close() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    mutating func key(_ name: String) {
        separate()
        quote(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    mutating func string(_ value: String) {
        separate()
        quote(value)
        needsComma = true
    }

    mutating func stringOrNull(_ value: String?) {
        if let value { string(value) } else { null() }
    }

    mutating func null() {
        separate()
        bytes.append(contentsOf: "null".utf8)
        needsComma = true
    }

    mutating func field(_ name: String, _ value: String) {
        key(name)
        string(value)
    }

    mutating func field(_ name: String, _ value: Int64) {
        key(name)
        bytes.append(contentsOf: String(value).utf8)
        needsComma = true
    }

    mutating func field(_ name: String, _ value: Bool) {
        key(name)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
        needsComma = true
    }

    mutating func object(_ pairs: [(String, String)]) {
        open()
        for (name, value) in pairs { field(name, value) }
        close()
    }

    mutating func array(_ values: [String]) {
        separate()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
        for value in values { string(value) }
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    mutating func multiObject(_ pairs: [(String, [String])]) {
        open()
        for (name, values) in pairs {
            key(name)
            array(values)
        }
        close()
    }

    private mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    private mutating func quote(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { utf8 in
            // Runs of plain bytes are copied whole; only the few that JSON escapes are written one by one.
            var start = 0
            for at in utf8.indices {
                let byte = utf8[at]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<at]))
                escape(byte)
                start = at + 1
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func escape(_ byte: UInt8) {
        bytes.append(UInt8(ascii: "\\"))
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(byte)
        case 0x0A: bytes.append(UInt8(ascii: "n"))
        case 0x0D: bytes.append(UInt8(ascii: "r"))
        case 0x09: bytes.append(UInt8(ascii: "t"))
        default:
            let hex: StaticString = "0123456789abcdef"
            bytes.append(UInt8(ascii: "u"))
            bytes.append(UInt8(ascii: "0"))
            bytes.append(UInt8(ascii: "0"))
            bytes.append(hex.utf8Start[Int(byte >> 4)])
            bytes.append(hex.utf8Start[Int(byte & 0xF)])
        }
    }
}
