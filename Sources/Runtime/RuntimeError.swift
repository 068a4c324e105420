/// A failure of the local runtime itself (not of the function), with a message saying how to fix it.
///
/// Function failures (exceptions, timeouts, crashes) are not thrown: they come back as an
/// `InvocationResult` with `functionError` set, as Lambda answers them with status 200.
public struct RuntimeError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, in terms a caller can map to an Invoke API answer.
    public enum Code: String, Sendable {
        /// The request payload is over 6 MB.
        case requestTooLarge
        /// Reserved or unreserved concurrency is exhausted (see `ConcurrencyLimits`).
        case tooManyRequests
        /// The function's configuration cannot run (environment over 4 KB, unknown runtime, missing bootstrap …),
        /// or a reservation of concurrency cannot be made.
        case invalidConfiguration
        /// `python3` / `node` cannot be found or started.
        case interpreterNotFound
        /// A process or the Runtime API listener could not be started.
        case environmentStartFailed
        /// The runtime has been shut down.
        case shutDown
    }

    public var code: Code
    public var message: String
    public var cause: (any Error & Sendable)?
    /// Why a `.tooManyRequests` was throttled (Lambda's `Reason`).
    public var throttleReason: ThrottleReason?

    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    /// The Lambda service error name (`x-amzn-ErrorType`).
    public var awsErrorType: String {
        switch code {
        case .requestTooLarge: "RequestEntityTooLargeException"
        case .tooManyRequests: "TooManyRequestsException"
        case .invalidConfiguration: "InvalidParameterValueException"
        case .interpreterNotFound, .environmentStartFailed, .shutDown: "ServiceException"
        }
    }

    /// The HTTP status Lambda answers with.
    public var httpStatus: Int {
        switch code {
        case .requestTooLarge: 413
        case .tooManyRequests: 429
        case .invalidConfiguration: 400
        case .interpreterNotFound, .environmentStartFailed, .shutDown: 500
        }
    }

    public var description: String {
        if let cause { return "\(code.rawValue): \(message) (cause: \(cause))" }
        return "\(code.rawValue): \(message)"
    }
}

/// A plain OS error (`errno` and the call that failed), used as a `cause`.
struct SystemCallError: Error, Sendable, CustomStringConvertible {
    var call: String
    var errno: Int32
    var description: String { "\(call) failed: \(String(cString: strerror(errno))) (errno \(errno))" }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Any error, kept as its description so it can travel as a `Sendable` cause.
struct UnderlyingError: Error, Sendable, CustomStringConvertible {
    var description: String
    init(_ error: any Error) { description = String(describing: error) }
}
