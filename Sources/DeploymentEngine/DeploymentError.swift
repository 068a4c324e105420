/// A deployment problem a user can act on: what is wrong, where, and how to fix it.
public struct DeploymentError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of problem it is (callers pick exit codes and wording by it).
    public enum Code: String, Sendable, Equatable {
        /// A flag, a template property or a file the user passed cannot be used as it is.
        case invalidInput
        /// The function cannot run here (S3 code, container image, published layer ARN).
        case notDeployable
        /// Another process is changing the same alias.
        case aliasBusy
    }

    public var code: Code
    public var message: String

    public init(_ code: Code = .invalidInput, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
