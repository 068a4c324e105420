import Foundation

/// Stores the runtime's log lines in the state store (`shift logs`), batched.
///
/// Put `handler` in `LocalRuntime.Options.logHandler`; it only appends to a buffer (safe from any
/// thread). `run(every:)` writes the buffer in one transaction per round. Lines between
/// `START RequestId: X` and `REPORT RequestId: X` of a stream carry request id X.
public final class LogRecorder: Sendable {
    private struct State {
        var buffer: [LogRecord] = []
        /// Log stream → the request in progress in it.
        var currentRequest: [String: String] = [:]
        var dropped = 0
    }

    /// Lines kept in memory at most between two flushes; older ones are dropped (and counted).
    public static let bufferLimit = 200_000

    /// How often `serve` and `deploy` write the buffered lines. Short: a flush competes with invocations for the cores,
    /// and many small ones delay a call less than few large ones (`shift-bench serve`, 1 connection: p99 about 1.6 ms
    /// flushing every 50 ms, about 2.1–2.5 ms every 250 ms); an empty buffer costs nothing.
    public static let flushInterval = Duration.milliseconds(50)

    private let store: StateStore
    private let clock: any RuntimeClock
    private let state = ProtectedValue(State())

    public init(store: StateStore, clock: any RuntimeClock) {
        self.store = store
        self.clock = clock
    }

    /// The closure for `LocalRuntime.Options.logHandler`.
    public var handler: @Sendable (LogEvent) -> Void {
        { [self] event in receive(event) }
    }

    /// Lines dropped because the buffer was full.
    public var droppedLines: Int { state.withLock { $0.dropped } }

    public func receive(_ event: LogEvent) {
        let now = clock.nowMilliseconds
        let message = event.message
        state.withLock { state in
            var requestId = state.currentRequest[event.logStreamName]
            if message.hasPrefix("START RequestId: ") {
                let id = Self.requestId(in: message, after: "START RequestId: ")
                state.currentRequest[event.logStreamName] = id
                requestId = id
            } else if message.hasPrefix("REPORT RequestId: ") {
                requestId = Self.requestId(in: message, after: "REPORT RequestId: ")
                state.currentRequest[event.logStreamName] = nil
            }
            if state.buffer.count >= Self.bufferLimit {
                state.buffer.removeFirst(state.buffer.count / 10)
                state.dropped += Self.bufferLimit / 10
            }
            state.buffer.append(LogRecord(functionName: event.functionName, version: event.version, stream: event.logStreamName,
                                          requestId: requestId, timestamp: now, message: message))
        }
    }

    private static func requestId(in message: String, after prefix: String) -> String {
        // Bytes, not Characters: this runs for every START and REPORT line, and the id is ASCII.
        let rest = message.utf8.dropFirst(prefix.utf8.count)
        return String(Substring(rest.prefix { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }))
    }

    /// Writes the buffered lines; on failure they are kept for the next flush.
    public func flush() async throws {
        let batch = state.withLock { state -> [LogRecord] in
            defer { state.buffer = [] }
            return state.buffer
        }
        guard !batch.isEmpty else { return }
        do {
            try await store.appendLogs(batch)
        } catch {
            // Only what is not stored yet is tried again.
            let written = (error as? LogAppendError)?.written ?? 0
            state.withLock { $0.buffer.insert(contentsOf: batch.dropFirst(written), at: 0) }
            throw (error as? LogAppendError)?.cause ?? error
        }
    }

    /// Flushes every `interval` (real time) until cancelled, then once more.
    public func run(every interval: Duration) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { break }
            try? await flush()
        }
        try? await flush()
    }
}
