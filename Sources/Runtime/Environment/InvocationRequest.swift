/// One event on its way to an execution environment.
struct InvocationRequest: Sendable {
    var requestId: String
    var payload: [UInt8]
    var invokedFunctionArn: String
    var traceId: String
    var clientContext: String?
    var cognitoIdentity: String?
}

/// How an environment dealt with an event.
enum InvocationOutcome: Sendable {
    /// The environment ran (or failed to run) the event; a result for the caller.
    case completed(CompletedInvocation)
    /// The environment was already gone before it could take the event; try another one.
    case unavailable
}

/// The parts of an `InvocationResult` the environment knows.
struct CompletedInvocation: Sendable {
    var payload: [UInt8]
    var functionError: String?
    var errorType: String?
    var duration: Duration
    var initDuration: Duration?
    var maxMemoryUsedMB: Int
    var log: String
}

/// What ended an invocation.
enum InvocationEnding: Sendable {
    /// `POST …/response` with this body.
    case response([UInt8])
    /// `POST …/error`: the runtime's error document and `Lambda-Runtime-Function-Error-Type`.
    case functionError(body: [UInt8], errorType: String?)
    /// The response body was over the 6 MB limit.
    case responseTooLarge(size: Int)
    /// The deadline passed.
    case timedOut
    /// `POST /runtime/init/error`.
    case initError(body: [UInt8], errorType: String?)
    /// The runtime did not call `next` within the init timeout.
    case initTimedOut
    /// The process exited (or was killed) while the event was in flight or during init.
    case exited(ExitStatus)
    /// The process tree used more memory than `MemorySize`.
    case outOfMemory
}
