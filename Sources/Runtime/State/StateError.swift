import Foundation

/// An error from the state store, the code store or the alias rules.
///
/// `message` says what is wrong and how to fix it. Errors that mirror an AWS Lambda API error carry
/// the AWS error type name (`awsErrorType`) and HTTP status, so an Invoke API server can answer with
/// `x-amzn-ErrorType: <awsErrorType>` and `awsErrorBody`.
public struct StateError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is; stable for programs to switch on.
    public enum Code: String, Sendable, Equatable {
        /// 404 `ResourceNotFoundException`: a function, version or alias does not exist.
        case resourceNotFound
        /// 409 `ResourceConflictException`: the alias already exists.
        case resourceConflict
        /// 412 `PreconditionFailedException`: the `RevisionId` is stale.
        case preconditionFailed
        /// 400 `InvalidParameterValueException`: a parameter breaks an AWS rule.
        case invalidParameterValue
        /// 400 `ValidationException`: a parameter breaks the API model (pattern, length, range).
        case validation
        /// Another process holds what this one needs: the alias (`AliasLock`), or the directory's clock at another time scale.
        case stateLocked
        /// The state directory or database cannot be opened or used.
        case stateUnavailable
        /// A code folder could not be snapshotted.
        case codeSnapshotFailed
    }

    public var code: Code
    public var message: String
    public var cause: (any Error)?
    /// A more specific AWS error name than the code's (CodeDeploy's exceptions, say).
    private var specificType: String?

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil, awsErrorType: String? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
        self.specificType = awsErrorType
    }

    /// The AWS error type name for `x-amzn-ErrorType`, or nil for local-only failures.
    public var awsErrorType: String? {
        if let specificType { return specificType }
        return switch code {
        case .resourceNotFound: "ResourceNotFoundException"
        case .resourceConflict: "ResourceConflictException"
        case .preconditionFailed: "PreconditionFailedException"
        case .invalidParameterValue: "InvalidParameterValueException"
        case .validation: "ValidationException"
        case .stateLocked, .stateUnavailable, .codeSnapshotFailed: nil
        }
    }

    /// The HTTP status AWS answers with (500 for local-only failures).
    public var httpStatus: Int {
        switch code {
        case .resourceNotFound: 404
        case .resourceConflict: 409
        case .preconditionFailed: 412
        case .invalidParameterValue, .validation: 400
        case .stateLocked, .stateUnavailable, .codeSnapshotFailed: 500
        }
    }

    /// `{"Type":"User","Message":"…"}` (or `"Service"` for local failures), as the Lambda API renders errors.
    public var awsErrorBody: Data {
        let body = ["Type": awsErrorType == nil ? "Service" : "User", "Message": message]
        return (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data()
    }

    public var description: String {
        var text = "\(awsErrorType ?? code.rawValue): \(message)"
        if let cause { text += " (cause: \(cause))" }
        return text
    }
}
