import Foundation
import Rollout
import TemplateModel

/// The two shapes of `--output json`: streams (`deploy`, `serve`, `logs`) write one compact object a line
/// (JSON Lines) as things happen; reports (`validate`, `status`, `metrics`) write one object when done.
/// Every time in either is an ISO 8601 instant in UTC with milliseconds (`Instant`'s description).
enum JSONOutput {
    /// Whether a command's JSON is a stream of lines or one report object.
    enum Style {
        case stream
        case report
    }

    static func time(_ instant: Instant) -> String { instant.description }

    static func time(milliseconds: Int64) -> String { Instant(millisecondsSinceEpoch: milliseconds).description }

    /// Now on the wall clock, for output written before a command knows its state directory's time base.
    static var wallClock: String { time(milliseconds: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))) }

    /// One line of a stream, newline included.
    static func line(_ object: [String: Any]) -> String {
        serialize(object, options: [.sortedKeys, .withoutEscapingSlashes]) + "\n"
    }

    /// A whole report, to `print`.
    static func report(_ object: Any) -> String {
        serialize(object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }

    private static func serialize(_ object: Any, options: JSONSerialization.WritingOptions) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: options)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static func diagnostic(_ diagnostic: Diagnostic) -> [String: Any] {
        ["severity": diagnostic.severity.rawValue, "file": diagnostic.location.file, "line": diagnostic.location.line,
         "column": diagnostic.location.column, "message": diagnostic.message]
    }

    /// What failed, as the `error` member of a stream's last line or of a report: the message and, for a template, where.
    static func error(_ failure: Failure) -> [String: Any] {
        ["message": failure.message, "diagnostics": failure.diagnostics.map(diagnostic)]
    }

    /// The JSON of a failure of a command whose output style is `style`, written instead of its usual output.
    static func failure(_ failure: Failure, style: Style) -> String {
        switch style {
        case .stream:
            line(["event": "error", "time": wallClock, "exitCode": failure.exitCode, "error": error(failure)])
        case .report:
            report(["exitCode": failure.exitCode, "error": error(failure)]) + "\n"
        }
    }
}

/// A command's failure as the one error path reports it: a message (with the template's diagnostics) and an exit status.
struct Failure {
    var message: String
    var diagnostics: [Diagnostic] = []
    var exitCode: Int32 = 1
}

/// A command with `--output text|json`; the error path writes its failures as JSON in the command's style.
protocol JSONOutputCommand {
    associatedtype Format: OutputFormatChoice
    static var jsonStyle: JSONOutput.Style { get }
    var output: Format { get }
    /// The JSON of a failure the command did not report itself (usage errors, errors it throws).
    static func json(for failure: Failure) -> String
}

extension JSONOutputCommand {
    static func json(for failure: Failure) -> String { JSONOutput.failure(failure, style: jsonStyle) }
}

/// An error whose JSON the command already wrote (deploy's `run.finished` line); the error path only prints its text.
struct ReportedError: Error {
    var underlying: any Error
}
