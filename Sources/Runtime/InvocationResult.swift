import Foundation

/// What one synchronous invocation produced, with the figures Lambda puts in its `REPORT` line.
public struct InvocationResult: Sendable {
    /// The response body, or the error document when `functionError` is set.
    public var payload: [UInt8]
    /// `"Unhandled"` when the function (or its environment) failed; what Lambda sends as `X-Amz-Function-Error`.
    public var functionError: String?
    /// The `errorType` of a failed invocation (`Sandbox.Timedout`, `Runtime.ExitError`, the exception's type …).
    public var errorType: String?
    public var requestId: String
    /// The version that ran (`X-Amz-Executed-Version`).
    public var executedVersion: String
    /// From handing the event to the runtime until its response.
    public var duration: Duration
    /// Duration rounded up to the millisecond, as Lambda bills it.
    public var billedDurationMs: Int
    /// Process start until the first `next`, on a cold start only.
    public var initDuration: Duration?
    public var memorySizeMB: Int
    /// Peak resident memory of the environment's process tree so far.
    public var maxMemoryUsedMB: Int
    /// This invocation's log: any init output, `START`, the function's lines, `END`, `REPORT`.
    public var log: String
    /// The execution environment that served it (also the tail of the log stream name).
    public var environmentId: String
    /// `YYYY/MM/DD/[<version>]<environment id>`.
    public var logStreamName: String
    /// Non-fatal notes from starting the environment (e.g. interpreter version differs from `Runtime`).
    public var warnings: [String]

    /// Whether this was a cold start.
    public var isColdStart: Bool { initDuration != nil }

    /// `X-Amz-Log-Result` for `X-Amz-Log-Type: Tail`: base64 of the last 4 KB of this invocation's log.
    public var logTailBase64: String {
        Data(log.utf8.suffix(4096)).base64EncodedString()
    }
}

/// One line a function printed (or one framing line), for `shift logs` to store.
public struct LogEvent: Sendable {
    public var functionName: String
    public var version: String
    /// `/aws/lambda/<function>`.
    public var logGroupName: String
    /// `YYYY/MM/DD/[<version>]<environment id>`.
    public var logStreamName: String
    /// Milliseconds since the epoch when shift read the line.
    public var timestampMs: Int64
    /// The line without its newline.
    public var message: String
}
