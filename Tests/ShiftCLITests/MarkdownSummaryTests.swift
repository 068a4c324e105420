import Foundation
@testable import ShiftCLI
import Testing

/// The Markdown summary of `deploy`: `--output markdown`, and appended to `$GITHUB_STEP_SUMMARY`.
@Suite("deploy's Markdown summary", .serialized)
struct MarkdownSummaryTests {
    /// A table row's cells, split as GitHub splits them: on each pipe not preceded by a backslash.
    static func cells(_ row: Substring) -> [String] {
        var cells: [String] = [], current = "", previous: Character?
        for character in row {
            if character == "|", previous != "\\" {
                cells.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
            } else {
                current.append(character)
            }
            previous = character
        }
        return Array(cells.dropFirst())
    }

    /// The two cells of each row of the Markdown tables, by the first.
    static func rows(_ markdown: String) -> [String: String] {
        var rows: [String: String] = [:]
        for line in markdown.split(separator: "\n") where line.hasPrefix("| ") {
            let cells = cells(line)
            #expect(cells.count == 2, "a row of two cells: \(line)")
            if cells.count == 2 { rows[cells[0]] = cells[1] }
        }
        return rows
    }

    @Test func aRolledBackDeploymentIsAppendedToTheStepSummaryWithTheRunsNumbers() throws {
        let app = try DeployFixture()
        #expect(try app.deploy("good1").status == 0)
        let summaryFile = app.folder.appendingPathComponent("step-summary.md")
        let earlier = "## Tests\n\nAll passed."
        try earlier.write(to: summaryFile, atomically: true, encoding: .utf8)
        let result = try CLI.run(["deploy", app.template, "--state-dir", app.state, "--output", "json", "--parameter-overrides", "Code=faulty",
                                  "--no-judge", "--time-scale", "60", "--traffic", app.traffic, "--rate", "60"],
                                 environment: ["GITHUB_STEP_SUMMARY": summaryFile.path])
        #expect(result.status == 3, "\(result.stderr)")
        let events = DeployFixture.events(result.stdout)
        let summary = try #require(events.first { $0["event"] as? String == "deployment.summary" })
        let versions = try #require(summary["versions"] as? [String: [String: Int]])

        let written = try String(contentsOf: summaryFile, encoding: .utf8)
        #expect(written.hasPrefix(earlier + "\n\n### Deployment: Failed\n"), "the earlier step's content is kept, a paragraph of its own: \(written)")
        let markdown = String(written.dropFirst(earlier.count))
        #expect(markdown.contains("#### Fn:live"), "\(markdown)")
        let rows = Self.rows(markdown)
        #expect(rows["Outcome"] == "**Failed**", "\(rows)")
        #expect(rows["Versions"] == "1 → 2 (serves version 1)", "\(rows)")
        #expect(rows["Strategy"] == "Canary10Percent5Minutes", "\(rows)")
        #expect(rows["Deployment"] == "`\(summary["deploymentId"] as? String ?? "?")`", "\(rows)")
        for version in ["1", "2"] {
            let counts = try #require(versions[version])
            let calls = counts["invocations"] ?? -1, errors = counts["errors"] ?? -1
            #expect(rows["Version \(version)"] == "\(calls) invocation\(calls == 1 ? "" : "s"), \(errors) error\(errors == 1 ? "" : "s")",
                    "\(rows) vs \(versions)")
        }
        #expect((versions["2"]?["errors"] ?? 0) > 0)
        #expect(rows["Alarms"] == "ErrorRate: ALARM", "\(rows)")
        let reason = try #require(events.first { $0["event"] as? String == "deployment.failed" }?["reason"] as? String)
        #expect(rows["Reason"] == MarkdownSummary.escape(reason), "\(rows)")

        // --no-summary leaves the file as it was.
        let quiet = try CLI.run(["deploy", app.template, "--state-dir", app.state, "--parameter-overrides", "Code=good2", "--no-summary"]
                                + DeployFixture.fast, environment: ["GITHUB_STEP_SUMMARY": summaryFile.path])
        #expect(quiet.status == 0, "\(quiet.stderr)")
        #expect(try String(contentsOf: summaryFile, encoding: .utf8) == written)
    }

    @Test func theDryRunPrintsThePlanWithTheWeakAlarmsWarningAndAppendsIt() throws {
        let state = try CLI.temporaryDirectory()
        let summaryFile = state.appendingPathComponent("step-summary.md")
        let example = CLI.packageRoot.appendingPathComponent("examples/greeter")
        let result = try CLI.run(["deploy", "--dry-run", "--output", "markdown", "--state-dir", state.appendingPathComponent("state").path],
                                 in: example, environment: ["GITHUB_STEP_SUMMARY": summaryFile.path])
        #expect(result.status == 0, "\(result.stderr)")
        let markdown = result.stdout
        #expect(markdown.hasPrefix("### Deployment plan (dry run: nothing was published or changed)\n"), "\(markdown)")
        #expect(markdown.contains("#### Greeter:live"), "\(markdown)")
        #expect(markdown.contains("| Action | create alias live on version 1 (first deployment: no traffic shift) |"), "\(markdown)")
        #expect(markdown.contains("| Strategy | Canary10Percent5Minutes |\n| Schedule | minute 0 → 10 %, minute 5 → 100 % (DeploymentPreference) |"), "\(markdown)")
        #expect(markdown.contains("| Alarms | GreeterErrorsAlarm, GreeterAliasErrorsAlarm |"), "\(markdown)")
        #expect(markdown.contains("\n- **warning:** alarm 'GreeterAliasErrorsAlarm' watches both versions"), "\(markdown)")
        #expect(markdown.contains("\n- caught before 100 % in 95 % of rollouts: alarms alone +"), "\(markdown)")
        #expect(markdown.contains("\n- a version failing 5 % of its calls: alarms alone rolled back in "), "\(markdown)")
        // The Greeter's table comes after the Counter's: aliases sorted.
        let counter = try #require(markdown.range(of: "#### Counter:live")), greeter = try #require(markdown.range(of: "#### Greeter:live"))
        #expect(counter.lowerBound < greeter.lowerBound)
        // A dry run, in a pull request's job, puts its plan in the summary too.
        #expect(try String(contentsOf: summaryFile, encoding: .utf8) == markdown)

        // A summary file that cannot be written is a warning; the dry run still succeeds.
        let unwritable = state.appendingPathComponent("missing/folder/summary.md").path
        let warned = try CLI.run(["deploy", "--dry-run", "--state-dir", state.appendingPathComponent("state").path],
                                 in: example, environment: ["GITHUB_STEP_SUMMARY": unwritable])
        #expect(warned.status == 0, "\(warned.stderr)")
        #expect(warned.stderr.contains("warning: cannot append the deployment summary to GITHUB_STEP_SUMMARY (\(unwritable))"), "\(warned.stderr)")
        #expect(!FileManager.default.fileExists(atPath: unwritable))
    }

    @Test func otherCommandsRefuseMarkdown() throws {
        let result = try CLI.run(["status", "--output", "markdown"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("markdown"), "\(result.stderr)")
    }

    @Test func escapingKeepsATableRowOneRow() {
        let reason = "alarm A|B is ALARM:\nrate > 5 % *and* `x`\r\nline_three _em_ [link](y) & \\|"
        let escaped = MarkdownSummary.escape(reason)
        #expect(!escaped.contains("\n") && !escaped.contains("\r"))
        #expect(escaped == "alarm A\\|B is ALARM:<br>rate \\> 5 % \\*and\\* \\`x\\`<br>line_three \\_em\\_ \\[link\\](y) \\& \\\\\\|")
        // Split as GitHub splits a row: on pipes not escaped; the reason stays one cell.
        #expect(Self.cells("| Reason | \(escaped) |"[...]).count == 2)
    }
}
