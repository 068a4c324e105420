import Foundation

/// One HTTP request to the Invoke API, fully read.
public struct InvokeAPIRequest: Sendable {
    public var method: String
    /// The path as sent (still percent-encoded), without the query.
    public var path: String
    /// Query parameters, percent-decoded (the last value of a repeated name).
    public var query: [String: String]
    /// Every query parameter in order, repeated names too (`tagKeys=a&tagKeys=b`).
    public var queryItems: [(name: String, value: String)]
    /// Header names lower-cased.
    public var headers: [String: String]
    public var body: [UInt8]
    /// Set when the body was over the server's limit (and dropped): its size.
    public var oversizedBodyBytes: Int?

    public init(method: String, uri: String, headers: [String: String], body: [UInt8], oversizedBodyBytes: Int? = nil) {
        self.method = method
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        self.path = parts.first.map(String.init) ?? "/"
        var query: [String: String] = [:]
        var items: [(name: String, value: String)] = []
        if parts.count == 2 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = Self.decode(kv[0])
                query[key] = kv.count == 2 ? Self.decode(kv[1]) : ""
                items.append((key, query[key] ?? ""))
            }
        }
        self.query = query
        self.queryItems = items
        self.headers = headers
        self.body = body
        self.oversizedBodyBytes = oversizedBodyBytes
    }

    /// Percent-decoding (and `+` as space, as form encoding has it in queries).
    static func decode(_ text: Substring) -> String {
        String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(text)
    }

    /// The path's segments after the leading slash, percent-decoded (`fn%3Alive` → `fn:live`).
    var segments: [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map {
            // A byte search: `Substring.contains(String)` goes through Foundation's locale-aware search.
            $0.utf8.contains(UInt8(ascii: "%")) ? (String($0).removingPercentEncoding ?? String($0)) : String($0)
        }
    }
}

/// The answer to one request.
public struct InvokeAPIResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON body (keys sorted, slashes unescaped).
    static func json(_ status: Int, _ object: Any, headers: [(String, String)] = []) -> InvokeAPIResponse {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return InvokeAPIResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: Array(data))
    }

    /// A Lambda API service error: `x-amzn-ErrorType` and `{"Type","Message"}` (plus `message`, which botocore reads first).
    /// `fields` adds the error's modelled members (e.g. a throttle's `Reason`).
    static func lambdaError(_ status: Int, type: String, message: String, fields: [String: String] = [:],
                            requestId: String = UUID().uuidString.lowercased()) -> InvokeAPIResponse {
        let kind = status >= 500 ? "Service" : "User"
        return json(status, fields.merging(["Type": kind, "Message": message, "message": message]) { $1 },
                    headers: [("x-amzn-ErrorType", type), ("x-amzn-RequestId", requestId)])
    }

    /// A CodeDeploy (JSON 1.1) answer.
    static func codeDeployJSON(_ object: Any) -> InvokeAPIResponse {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return InvokeAPIResponse(status: 200, headers: [("Content-Type", "application/x-amz-json-1.1")], body: Array(data))
    }

    /// A CodeDeploy (JSON 1.1) error: `{"__type","message"}` and `x-amzn-ErrorType`.
    static func codeDeployError(_ status: Int = 400, type: String, message: String, requestId: String = UUID().uuidString.lowercased()) -> InvokeAPIResponse {
        let data = (try? JSONSerialization.data(withJSONObject: ["__type": type, "message": message], options: [.sortedKeys])) ?? Data()
        return InvokeAPIResponse(status: status, headers: [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", type), ("x-amzn-RequestId", requestId)],
                                 body: Array(data))
    }

    /// Maps the service's errors to Lambda's answers.
    static func lambdaError(_ error: any Error, requestId: String = UUID().uuidString.lowercased()) -> InvokeAPIResponse {
        switch error {
        case let error as StateError:
            return lambdaError(error.httpStatus, type: error.awsErrorType ?? "ServiceException", message: error.message, requestId: requestId)
        case let error as RuntimeError:
            return lambdaError(error.httpStatus, type: error.awsErrorType, message: error.message,
                               fields: error.throttleReason.map { ["Reason": $0.rawValue] } ?? [:], requestId: requestId)
        default:
            return lambdaError(500, type: "ServiceException", message: "The local Lambda service failed: \(error)", requestId: requestId)
        }
    }
}
