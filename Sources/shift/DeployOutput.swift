import Foundation
import Synchronization

/// What `deploy` tells its user: one JSON object a line (`--output json`), or readable lines with a
/// live status line on a terminal.
final class DeployOutput: Sendable {
    let format: OutputFormat
    /// A status line is redrawn in place only on a terminal.
    let live: Bool
    private let statusShown = Mutex(false)

    init(format: OutputFormat) {
        self.format = format
        self.live = format == .text && isatty(STDOUT_FILENO) == 1
    }

    /// One event: `{"event": name, "time": …, "function": …, "alias": …, …fields}`.
    func event(_ name: String, function: String? = nil, alias: String? = nil, _ fields: [String: Any] = [:], text: String) {
        switch format {
        case .json:
            var object = fields
            object["event"] = name
            object["time"] = Self.timestamp()
            if let function { object["function"] = function }
            if let alias { object["alias"] = alias }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
            write(String(decoding: data, as: UTF8.self) + "\n")
        case .text:
            let prefix = function.map { name in alias.map { "\(name):\($0)" } ?? name }.map { "\($0) " } ?? ""
            write("\(Self.clockTime()) \(prefix)\(text)\n")
        }
    }

    /// The live view's line (per function: step, weights, invocations/errors, alarms, next step).
    func status(_ line: String) {
        guard live else { return }
        statusShown.withLock { shown in
            FileHandle.standardOutput.write(Data("\r\u{1B}[K\(line)".utf8))
            shown = true
        }
    }

    private func write(_ text: String) {
        statusShown.withLock { shown in
            if shown { FileHandle.standardOutput.write(Data("\r\u{1B}[K".utf8)) }
            shown = false
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }

    static func timestamp() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }

    static func clockTime() -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm:ss"
        return formatter.string(from: Date())
    }

    /// `{"1": 0.9, "2": 0.1}` as the alias routes, the primary getting the rest.
    static func weights(old: String, new: String, newWeight: Double) -> [String: Double] {
        if newWeight >= 1 { return [new: 1] }
        if newWeight <= 0 { return [old: 1] }
        let rounded = (newWeight * 10_000).rounded() / 10_000
        return [old: (10_000 - rounded * 10_000).rounded() / 10_000, new: rounded]
    }

    static func percent(_ weight: Double) -> String {
        TemplateValueFormat.percent((weight * 10_000).rounded() / 100) + "%"
    }
}
