/// Builds and parses Lambda function ARNs for one region and account.
public struct LambdaArn: Sendable, Equatable {
    public var region: String
    public var accountId: String

    public init(region: String = "us-east-1", accountId: String = "123456789012") {
        self.region = region
        self.accountId = accountId
    }

    /// `arn:aws:lambda:<region>:<account>:function:<fn>` plus `:<qualifier>` when given.
    public func function(_ name: String, qualifier: String? = nil) -> String {
        let base = "arn:aws:lambda:\(region):\(accountId):function:\(name)"
        return qualifier.map { base + ":" + $0 } ?? base
    }

    /// Splits an Invoke API `FunctionName` (`name`, `name:qualifier`, `account:function:name[:qualifier]`
    /// or a full ARN) and reconciles it with a `Qualifier` query parameter.
    ///
    /// Region and account in an ARN are not checked: locally there is one of each.
    public static func parseFunctionReference(_ reference: String, qualifier: String? = nil) throws -> (name: String, qualifier: String?) {
        var parts = reference.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        if parts.count >= 7, parts[0] == "arn", parts[2] == "lambda", parts[5] == "function" {
            parts = Array(parts[6...])
        } else if parts.count >= 3, parts[1] == "function", parts[0].allSatisfy(\.isNumber) {
            parts = Array(parts[2...])
        }
        guard (1...2).contains(parts.count), !parts[0].isEmpty, parts.allSatisfy({ !$0.isEmpty }) else {
            throw StateError(.validation, "1 validation error detected: Value '\(reference)' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?")
        }
        let derived = parts.count == 2 ? parts[1] : nil
        if let derived, let qualifier, derived != qualifier {
            throw StateError(.invalidParameterValue, "The derived qualifier from the function name does not match the specified qualifier.")
        }
        return (parts[0], derived ?? qualifier)
    }
}
