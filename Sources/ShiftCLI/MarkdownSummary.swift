import DeploymentEngine
import Foundation
import Rollout
import TemplateModel

/// A deploy run as GitHub-flavoured Markdown, for `$GITHUB_STEP_SUMMARY` and pull-request comments: a short table
/// per alias (outcome, versions, each version's calls and errors, alarms, reason), or the dry run's plan. Built from
/// the renderer's `RunRecord`, so it says what `run.finished` says; aliases sorted, numbers as plain integers.
enum MarkdownSummary {
    /// `status` names a run that has not ended (a report of a running deployment); else the exit code does.
    static func render(_ record: RunRecord, exitCode: Int32, failure: Failure?, dryRun: Bool, status: String? = nil) -> String {
        let outcomes = record.outcomes.sorted { ($0.alias.function, $0.alias.alias) < ($1.alias.function, $1.alias.alias) }
        var blocks: [String] = []
        if dryRun {
            blocks.append(failure == nil ? "### Deployment plan (dry run: nothing was published or changed)" : "### Deployment plan: Error")
        } else {
            blocks.append("### Deployment: \(status ?? DeploymentRenderer.runStatus(exitCode: exitCode, outcomes: outcomes))")
        }
        if let failure { blocks.append(fenced(failure.message)) }
        if !record.warnings.isEmpty { blocks.append(record.warnings.map { "- **warning:** \(escape($0))" }.joined(separator: "\n")) }
        if let reason = record.nothingToDeploy { blocks.append("Nothing to deploy: \(escape(reason))") }
        for outcome in outcomes {
            blocks.append("#### \(escape(outcome.alias.description))")
            if let plan = outcome.plan {
                blocks.append(table(planRows(plan)))
                if let detection = plan.detection { blocks.append(detectionList(detection, allAtOnce: plan.schedule.points.count == 1)) }
            } else {
                blocks.append(table(outcomeRows(outcome)))
            }
        }
        return blocks.joined(separator: "\n\n") + "\n"
    }

    private static func outcomeRows(_ outcome: RunRecord.Outcome) -> [(String, String)] {
        var rows = [("Outcome", "**\(escape(outcome.status))**" + (outcome.verdict.map { " (judgement \($0.rawValue))" } ?? ""))]
        let serves = outcome.version.map { "serves version \(escape($0))" } ?? "serves no version"
        if let from = outcome.from, let target = outcome.target {
            rows.append(("Versions", "\(escape(from)) → \(escape(target)) (\(serves))"))
        } else {
            rows.append(("Versions", serves))
        }
        if let id = outcome.deploymentId { rows.append(("Deployment", "`\(id)`")) }
        if let strategy = outcome.strategy { rows.append(("Strategy", escape(strategy))) }
        for traffic in outcome.traffic.sorted(by: { versionOrder($0.version, $1.version) }) {
            rows.append(("Version \(escape(traffic.version))",
                         "\(English.count(traffic.invocations, "invocation")), \(English.count(traffic.errors, "error"))"))
        }
        if !outcome.alarms.isEmpty {
            rows.append(("Alarms", outcome.alarms.sorted { $0.key < $1.key }.map { "\(escape($0.key)): \($0.value.rawValue)" }.joined(separator: ", ")))
        }
        if let reason = outcome.reason { rows.append(("Reason", escape(reason))) }
        return rows
    }

    private static func planRows(_ plan: AliasPlanReport) -> [(String, String)] {
        var rows = [("Action", escape(DeploymentRenderer.actionText(plan)))]
        let versions = plan.currentVersion.map { "\(escape($0)) → \(escape(plan.newVersion))" } ?? "none → \(escape(plan.newVersion))"
        rows.append(("Versions", versions + (plan.publishes ? " (publishes version \(escape(plan.newVersion)))" : "")))
        rows.append(("Changes", plan.changes.isEmpty ? "none" : plan.changes.map(escape).joined(separator: ", ")))
        rows.append(("Strategy", escape(plan.schedule.name)))
        rows.append(("Schedule", plan.schedule.points.map { "minute \($0.minute) → \(TemplateValueFormat.percent($0.percent)) %" }.joined(separator: ", ")
            + " (\(escape(plan.scheduleSource)))"))
        if !plan.hooks.isEmpty {
            rows.append(("Hooks", plan.hooks.sorted { $0.key.rawValue > $1.key.rawValue }.map { "\($0.key.rawValue) \(escape($0.value))" }.joined(separator: ", ")))
        }
        rows.append(("Alarms", plan.alarms.isEmpty ? "none" : plan.alarms.map(escape).joined(separator: ", ")))
        return rows
    }

    /// The detection analysis as a list: its warnings first, then what it would catch and at what cost.
    private static func detectionList(_ detection: DetectionAnalysis, allAtOnce: Bool) -> String {
        let wording = DetectionWording(detection, allAtOnce: allAtOnce)
        let ordered = wording.lines.filter(\.isWarning) + wording.lines.filter { !$0.isWarning }
        return "\(escape(wording.heading.prefix(1).uppercased() + wording.heading.dropFirst())):\n\n"
            + ordered.map { "- " + ($0.isWarning ? "**warning:** " : "") + escape($0.text) }.joined(separator: "\n")
    }

    private static func table(_ rows: [(String, String)]) -> String {
        guard let first = rows.first else { return "" }
        return (["| \(first.0) | \(first.1) |", "|:--|:--|"] + rows.dropFirst().map { "| \($0.0) | \($0.1) |" }).joined(separator: "\n")
    }

    /// Versions by number (10 after 9), then by text.
    private static func versionOrder(_ a: String, _ b: String) -> Bool {
        (Int(a) ?? Int.max, a) < (Int(b) ?? Int.max, b)
    }

    /// Text as it reads, inside a table cell or a list item: Markdown's punctuation backslash-escaped (a `|` would end
    /// the cell), line breaks as `<br>` (a newline would end the row). An `_` inside a word (`Hook_Name`) cannot
    /// start emphasis in GitHub's Markdown and stays as it is.
    static func escape<S: StringProtocol>(_ text: S) -> String {
        let characters = Array(text)
        func isWord(_ index: Int) -> Bool { characters.indices.contains(index) && (characters[index].isLetter || characters[index].isNumber) }
        var result = ""
        // Characters, so that "\r\n" is one line break.
        for (index, character) in characters.enumerated() {
            switch character {
            case "\r\n", "\r", "\n", "\u{2028}", "\u{2029}":
                result += "<br>"
            case "_" where isWord(index - 1) && isWord(index + 1):
                result.append(character)
            case "\\", "`", "*", "_", "[", "]", "<", ">", "|", "&", "~":
                result += "\\" + String(character)
            default:
                result.append(character)
            }
        }
        return result
    }

    /// A message in a fenced block, its fence longer than any run of backticks inside it.
    private static func fenced(_ text: String) -> String {
        var longest = 0, run = 0
        for character in text {
            run = character == "`" ? run + 1 : 0
            longest = max(longest, run)
        }
        let fence = String(repeating: "`", count: max(3, longest + 1))
        return "\(fence)\n\(text)\n\(fence)"
    }

    /// Appends `markdown` to the file (GitHub's step summary), creating it if needed; a file that cannot be written
    /// is a warning, never a failure of the deployment it describes.
    static func append(_ markdown: String, to path: String) {
        do {
            if !FileManager.default.fileExists(atPath: path), !FileManager.default.createFile(atPath: path, contents: nil) {
                throw CocoaError(.fileWriteUnknown)
            }
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            // A blank line after what an earlier step wrote, so that its last paragraph ends there.
            var separator = ""
            let end = try handle.seekToEnd()
            if end > 0 {
                try handle.seek(toOffset: end - 1)
                separator = try handle.read(upToCount: 1) == Data("\n".utf8) ? "\n" : "\n\n"
            }
            try handle.seekToEnd()
            try handle.write(contentsOf: Data((separator + markdown).utf8))
        } catch {
            Terminal.standard.write("warning: cannot append the deployment summary to GITHUB_STEP_SUMMARY (\(path)): "
                + "\(error.localizedDescription); the deployment is not affected (--no-summary skips the summary)\n", to: .error)
        }
    }
}
