import Foundation
import NIOHTTP1

/// One HTTP request to the front door, fully read, with its headers in the order and spelling sent.
public struct FrontDoorRequest: Sendable {
    public var method: String
    /// The request target as sent (`/path?query`, still percent-encoded).
    public var uri: String
    /// `HTTP/1.1`.
    public var protocolName: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    public var sourceIp: String
    /// When it arrived, in milliseconds since the epoch.
    public var receivedAtMilliseconds: Int64

    public init(method: String, uri: String, protocolName: String = "HTTP/1.1", headers: [(name: String, value: String)], body: [UInt8] = [],
                sourceIp: String = "127.0.0.1", receivedAtMilliseconds: Int64 = Int64(Date().timeIntervalSince1970 * 1000)) {
        self.method = method
        self.uri = uri
        self.protocolName = protocolName
        self.headers = headers
        self.body = body
        self.sourceIp = sourceIp
        self.receivedAtMilliseconds = receivedAtMilliseconds
    }

    /// A request as NIO read it.
    init(head: HTTPRequestHead, body: [UInt8], sourceIp: String) {
        self.init(method: head.method.rawValue, uri: head.uri,
                  protocolName: head.version == .http1_1 ? "HTTP/1.1" : "HTTP/\(head.version.major).\(head.version.minor)",
                  headers: head.headers.map { ($0.name, $0.value) }, body: body, sourceIp: sourceIp)
    }

    /// The path, without the query.
    public var path: String {
        guard let mark = uri.utf8.firstIndex(of: UInt8(ascii: "?")) else { return uri.isEmpty ? "/" : uri }
        return String(uri[..<mark])
    }

    /// The query as sent, without `?` (`""` when there is none).
    public var rawQuery: String {
        guard let mark = uri.utf8.firstIndex(of: UInt8(ascii: "?")) else { return "" }
        return String(uri[uri.index(after: mark)...])
    }

    /// The first value of a header (case-insensitive name).
    public func header(_ name: String) -> String? {
        headers.first { Self.equalsIgnoringCase($0.name, name) }?.value
    }

    /// Header names are ASCII tokens: compared byte by byte, without Foundation's locale-aware comparison.
    static func equalsIgnoringCase(_ a: String, _ b: String) -> Bool {
        var a = a.utf8.makeIterator(), b = b.utf8.makeIterator()
        while true {
            switch (a.next(), b.next()) {
            case (nil, nil): return true
            case (let x?, let y?): if x != y, x | 0x20 != y | 0x20 || !(UInt8(ascii: "a")...UInt8(ascii: "z")).contains(x | 0x20) { return false }
            default: return false
            }
        }
    }

    /// Headers grouped case-insensitively under the first spelling seen, values in order.
    /// - Parameter hopByHop: keeps `Connection` (a load balancer passes it on; API Gateway does not).
    func groupedHeaders(lowercased: Bool, hopByHop: Bool = false) -> [(name: String, values: [String])] {
        var result: [(name: String, values: [String])] = []
        var index: [String: Int] = [:]
        for (name, value) in headers {
            let key = name.lowercased()
            if !hopByHop, key == "connection" { continue }
            if let at = index[key] {
                result[at].values.append(value)
            } else {
                index[key] = result.count
                result.append((lowercased ? key : name, [value]))
            }
        }
        return result
    }

    /// Query pairs in order; `decode` percent-decodes (API Gateway does; a load balancer passes them as sent).
    func queryPairs(decode: Bool) -> [(key: String, value: String)] {
        let raw = rawQuery
        guard !raw.isEmpty else { return [] }
        return raw.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(parts[0]), value = parts.count == 2 ? String(parts[1]) : ""
            guard decode else { return (key, value) }
            return (key.removingPercentEncoding ?? key, value.removingPercentEncoding ?? value)
        }
    }

    /// Query values grouped by key, keys in first-seen order.
    func groupedQuery(decode: Bool) -> [(key: String, values: [String])] {
        var result: [(key: String, values: [String])] = []
        var index: [String: Int] = [:]
        for (key, value) in queryPairs(decode: decode) {
            if let at = index[key] { result[at].values.append(value) } else {
                index[key] = result.count
                result.append((key, [value]))
            }
        }
        return result
    }
}

/// The answer the front door writes.
public struct FrontDoorResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// API Gateway's own error documents: `{"message":"…"}`.
    static func gatewayMessage(_ status: Int, _ message: String) -> FrontDoorResponse {
        FrontDoorResponse(status: status, headers: [("Content-Type", "application/json"), ("x-amzn-ErrorType", errorType(status))],
                          body: Array("{\"message\":\(JSON.quote(message))}".utf8))
    }

    private static func errorType(_ status: Int) -> String {
        switch status {
        case 403: "MissingAuthenticationTokenException"
        case 404: "NotFoundException"
        case 413: "RequestEntityTooLargeException"
        default: "InternalServerErrorException"
        }
    }
}
