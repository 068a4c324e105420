#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import NIOCore
import Synchronization

/// The environment's output: log lines framed per invocation and sent to the log sink; time formatting for REPORT lines.
extension EnvironmentBroker {
    // MARK: - Output

    /// Bytes the process printed (stdout and stderr share one pipe, as in Lambda), split into lines
    /// with memchr (a function printing megabytes must not wait for us).
    func output(_ buffer: ByteBuffer) {
        var events: [LogEvent] = []
        let timestamp = logSink == nil ? 0 : Self.epochMilliseconds()
        buffer.withUnsafeReadableBytes { raw in
            guard let base = raw.baseAddress, raw.count > 0 else { return }
            state.withLock { state in
                var start = 0
                while start < raw.count, let found = memchr(base + start, 0x0A, raw.count - start) {
                    let end = base.distance(to: UnsafeRawPointer(found))
                    let chunk = UnsafeRawBufferPointer(start: base + start, count: end - start)
                    let line: String
                    if state.partialLine.isEmpty {
                        line = String(decoding: chunk, as: UTF8.self)
                    } else {
                        state.partialLine.append(contentsOf: chunk)
                        line = String(decoding: state.partialLine, as: UTF8.self)
                        state.partialLine.removeAll(keepingCapacity: true)
                    }
                    appendLine(line, to: &state, events: &events, timestamp: timestamp)
                    start = end + 1
                }
                if start < raw.count {
                    state.partialLine.append(contentsOf: UnsafeRawBufferPointer(start: base + start, count: raw.count - start))
                }
            }
        }
        emit(events)
    }

    /// The output pipe reached its end (or could not be watched): no more output will come.
    func outputClosed() {
        let fd = state.withLock { state -> Int32 in
            defer { state.outputFD = -1 }
            return state.outputFD
        }
        if fd >= 0 { close(fd) }
        flushPartialLine()
    }

    func flushPartialLine() {
        var events: [LogEvent] = []
        state.withLock { flushPartialLine(state: &$0, into: &events) }
        emit(events)
    }

    func flushPartialLine(state: inout State, into events: inout [LogEvent]) {
        guard !state.partialLine.isEmpty else { return }
        let line = String(decoding: state.partialLine, as: UTF8.self)
        state.partialLine = []
        events += appendLine(line, to: &state)
    }

    /// An invocation's own log keeps at most this much function output (the log handler gets it all).
    static let maximumLogBytes = 1 << 20

    func appendLine(_ line: String, to state: inout State, framing: Bool = false) -> [LogEvent] {
        var events: [LogEvent] = []
        appendLine(line, to: &state, framing: framing, events: &events, timestamp: logSink == nil ? 0 : Self.epochMilliseconds())
        return events
    }

    func appendLine(_ line: String, to state: inout State, framing: Bool = false, events: inout [LogEvent], timestamp: Int64) {
        if framing || state.log.utf8.count + line.utf8.count < Self.maximumLogBytes {
            state.log += line
            state.log += "\n"
        } else if !state.logTruncated {
            state.logTruncated = true
            state.log += "[shift: this invocation's log is cut at \(Self.maximumLogBytes) bytes; the log stream has every line]\n"
        }
        guard logSink != nil else { return }
        events.append(LogEvent(
            functionName: identity.functionName, version: identity.version, logGroupName: identity.logGroupName,
            logStreamName: identity.logStreamName, timestampMs: timestamp, message: line))
    }

    func emit(_ events: [LogEvent]) {
        guard let logSink else { return }
        for event in events { logSink(event) }
    }

    // MARK: - Formatting

    static func epochMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    static func milliseconds(_ d: Duration) -> String {
        let (s, atto) = d.components
        let hundredths = Int64(s) * 100_000 + (atto + 5_000_000_000_000) / 10_000_000_000_000
        return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
    }

    static func billedMilliseconds(_ d: Duration) -> Int {
        let (s, atto) = d.components
        let micro = Int(s) * 1_000_000 + Int(atto / 1_000_000_000_000)
        return max(1, (micro + 999) / 1000)
    }

    static func isoTimestamp() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }
}
