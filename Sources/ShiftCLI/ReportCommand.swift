import ArgumentParser
import DeploymentEngine
import Foundation
import Reports
import Rollout
import Runtime

/// `shift report`: a finished or running deployment as an HTML page with a timeline, Markdown, or JSON.
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Render a deployment (finished or running) as an HTML page with a timeline, as Markdown, or as JSON.",
        discussion: """
        The report covers the run the deployment belongs to: every alias that `deploy` shifted with it. HTML is \
        one self-contained file (no network, no script): per alias a header, an SVG timeline (the new version's \
        weight, calls and errors per minute of each version, alarm states, hooks, judgement verdicts, the \
        rollback), the steps, the alarms with their last evaluation and the last log lines of the new version's \
        failed calls. Markdown is the table `deploy` appends to GITHUB_STEP_SUMMARY. Example: \
        shiftctl report latest --output report.html
        """)

    @Argument(help: "A deployment id, or its first characters as `status` shows them, or latest.")
    var deployment: String = "latest"

    @Option(help: "html, markdown or json (default: from --output's extension, else html).")
    var format: ReportFormat?

    @Option(name: .shortAndLong, help: "The file to write (default: standard output).")
    var output: String?

    @Option(name: .shortAndLong, help: "The SAM template (its folder holds the default state directory).")
    var template: String = TemplateFile.defaultPath

    @OptionGroup var stateOptions: StateOptions

    func validate() throws {
        if format == nil, let output, ReportFormat(fileName: output) == nil {
            throw ValidationError("--output '\(output)' has no extension that names a format (.html, .md or .json); add one or pass --format")
        }
    }

    func run() async throws {
        let format = format ?? output.flatMap(ReportFormat.init(fileName:)) ?? .html
        let directory = stateOptions.directory(forTemplate: template)
        guard FileManager.default.fileExists(atPath: directory.appendingPathComponent("state.sqlite").path) else {
            throw CLIError("no state directory at \(directory.path): nothing was deployed from here yet "
                + "(run `deploy` first, or pass --state-dir or --template to find the state)")
        }
        let report = try await LocalTarget.withPlanningTarget(stateDirectory: directory, region: "us-east-1", accountId: "123456789012",
                                                              timeScale: 1) { target in
            try await DeploymentReport.build(target: target, selector: deployment, now: target.deploymentClock.now)
        }
        let document = ReportDocument.render(report, format: format)
        if let output, output != "-" {
            try ReportDocument.write(document, to: output)
            Terminal.standard.write("wrote the \(format.rawValue) report of \(report.aliases.map(\.alias.description).joined(separator: ", ")) to \(output)\n",
                                    to: .output)
        } else {
            Terminal.standard.write(document, to: .output)
        }
    }
}

/// What `report` and `deploy --report` write.
enum ReportFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case html
    case markdown
    case json

    /// The format a file name's extension names (`.html`/`.htm`, `.md`/`.markdown`, `.json`), nil for any other.
    init?(fileName: String) {
        switch URL(fileURLWithPath: fileName).pathExtension.lowercased() {
        case "html", "htm", "xhtml": self = .html
        case "md", "markdown": self = .markdown
        case "json": self = .json
        default: return nil
        }
    }
}

/// A deployment report in each format, from the same typed data.
enum ReportDocument {
    static func render(_ report: DeploymentReport, format: ReportFormat) -> String {
        switch format {
        case .html: HTMLReport.render(report)
        case .markdown: markdown(report)
        case .json: JSONOutput.report(json(report))
        }
    }

    /// The Markdown `deploy` writes at its end, made from the recorded events through the same run record.
    static func markdown(_ report: DeploymentReport) -> String {
        var record = RunRecord()
        for recorded in report.events { _ = record.record(recorded.event, at: recorded.at) }
        let statuses = report.aliases.map(\.status)
        let running = statuses.contains { $0 == .inProgress || $0 == .created }
        let exitCode: Int32 = statuses.allSatisfy { $0 == .succeeded } ? 0 : 3
        return MarkdownSummary.render(record, exitCode: exitCode, failure: nil, dryRun: false, status: running ? "InProgress" : nil)
    }

    /// The report's data as one JSON object; its events are the lines `deploy --output json` printed.
    static func json(_ report: DeploymentReport) -> [String: Any] {
        func traffic(_ t: VersionTraffic) -> [String: Any] { ["version": t.version, "invocations": t.invocations, "errors": t.errors] }
        return [
            "run": report.run,
            "deployments": report.aliases.map { alias -> [String: Any] in
                [
                    "function": alias.alias.function, "alias": alias.alias.alias, "deploymentId": alias.deploymentId,
                    "status": alias.status.rawValue, "from": alias.from ?? NSNull(), "to": alias.to,
                    "strategy": alias.schedule?.name ?? NSNull(), "reason": alias.reason ?? NSNull(),
                    "startedAt": JSONOutput.time(alias.startedAt), "endedAt": alias.endedAt.map(JSONOutput.time) ?? NSNull(),
                    "asOf": JSONOutput.time(alias.asOf), "wallMilliseconds": alias.wallMilliseconds ?? NSNull(),
                    "steps": alias.steps.map { ["time": JSONOutput.time($0.at), "weight": $0.weight] },
                    "minutes": alias.minutes.map { minute -> [String: Any] in
                        ["time": JSONOutput.time(minute.start), "versions": ([minute.old].compactMap { $0 } + [minute.new]).map(traffic)]
                    },
                    "totals": alias.totals.map(traffic),
                    "alarms": alias.lastAlarmStates.map { name, change -> [String: Any] in
                        ["name": name, "state": change?.state.rawValue ?? NSNull(), "time": change.map { JSONOutput.time($0.at) } ?? NSNull(),
                         "reason": change?.reason ?? NSNull()]
                    },
                    "rollback": alias.rollback.map { ["time": JSONOutput.time($0.at), "reason": $0.reason] } ?? NSNull(),
                    "errorLogs": alias.errorLogs.map { line -> [String: Any] in
                        ["time": JSONOutput.time(line.at), "requestId": line.requestId.map { $0 as Any } ?? NSNull(), "message": line.message]
                    },
                    "events": alias.events.map { recorded -> [String: Any] in
                        let (name, ref, fields, _) = DeploymentRenderer.describe(recorded.event)
                        return DeploymentRenderer.jsonObject(name: name, alias: ref, fields: fields, at: recorded.at)
                    },
                ]
            },
        ]
    }

    /// Writes the whole file at once (a reader never sees half a report); the folder must exist.
    static func write(_ document: String, to path: String) throws {
        do {
            try Data(document.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw CLIError("cannot write the report to \(path): \(error.localizedDescription) (check that its folder exists and is writable)")
        }
    }
}
