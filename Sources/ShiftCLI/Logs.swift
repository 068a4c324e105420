import ArgumentParser
import Foundation
import Runtime

/// `shift logs`: a function's log lines (group `/aws/lambda/<function>`) from the state folder.
struct Logs: AsyncParsableCommand, JSONOutputCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a function's logs (START/END/REPORT and its own lines), optionally following new ones.",
        discussion: """
        Each line: the log stream (YYYY/MM/DD/[version]environment), the time (UTC) and the message; with --output json \
        one object a line: {"function", "version", "stream", "requestId", "time", "message"}.
        """)

    @Argument(help: "The function's logical id or name.")
    var function: String

    @Option(help: "How far back: 90s, 10m, 2h, 1d.")
    var since: String = "10m"

    @Flag(name: .shortAndLong, help: "Keep printing new lines until interrupted.")
    var follow = false

    @Option(name: .shortAndLong, help: "The SAM template (locates the default state folder, maps logical ids).")
    var template: String = TemplateFile.defaultPath

    @Option(help: "text or json (one JSON object a line).")
    var output: OutputFormat = .text

    @OptionGroup var templateOptions: TemplateOptions
    @OptionGroup var stateOptions: StateOptions

    func validate() throws {
        guard DurationText.milliseconds(since) != nil else { throw ValidationError("--since must look like 90s, 10m, 2h or 1d") }
    }

    static let jsonStyle = JSONOutput.Style.stream

    func run() async throws {
        let model = TemplateFile.loadIfPresent(template, options: templateOptions)
        let reference = TemplateFile.functionName(function, in: model)
        let name = (try? LambdaArn.parseFunctionReference(reference).name) ?? reference
        let store = try await StateDirectory.openReadOnly(stateOptions.directory(forTemplate: template))
        defer { try? store.close() }
        try await TemplateFile.requireKnown(name, written: function, store: store, template: model, templatePath: template)
        var cursor = StateClock.peek(directory: stateOptions.directory(forTemplate: template)) - DurationText.milliseconds(since)!
        var seenAtCursor = 0  // lines at exactly `cursor` already printed
        while true {
            let records = try await store.logs(function: name, from: cursor, limit: 5000)
            var printed = 0
            var out = ""
            for (index, record) in records.enumerated() {
                if index < seenAtCursor && record.timestamp == cursor { continue }
                let time = JSONOutput.time(milliseconds: record.timestamp)
                switch output {
                case .json:
                    out += JSONOutput.line(["function": name, "version": record.version, "stream": record.stream,
                                            "requestId": record.requestId ?? NSNull(), "time": time, "message": record.message])
                case .text: out += "\(record.stream) \(time) \(record.message)\n"
                }
                printed += 1
            }
            if !out.isEmpty { Terminal.standard.write(out, to: .output) }
            if let last = records.last {
                let atLast = records.reversed().prefix { $0.timestamp == last.timestamp }.count
                seenAtCursor = last.timestamp == cursor ? max(seenAtCursor, atLast) : atLast
                cursor = last.timestamp
            }
            if records.count == 5000 && printed > 0 { continue }  // more to read right away
            guard follow else { return }
            try await Task.sleep(for: .milliseconds(500))
        }
    }
}
