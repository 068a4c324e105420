/// An error a user can act on: what went wrong, what is accepted instead.
public struct RolloutError: Error, Sendable, Equatable, Codable, CustomStringConvertible {
    /// What kind of input was rejected.
    public enum Code: String, Sendable, Equatable, Codable {
        /// A deployment preference `Type` that is neither predefined, nor a pattern name, nor a custom config.
        case unknownStrategy
        /// A strategy whose numbers cannot work (0 %, 100 % or more, zero minutes).
        case impossibleStrategy
        /// An alarm definition that CloudWatch would refuse.
        case invalidAlarm
        /// A metric math expression that does not parse or refers to unknown ids.
        case invalidExpression
        /// A command-line flag value that does not parse.
        case invalidFlag
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
