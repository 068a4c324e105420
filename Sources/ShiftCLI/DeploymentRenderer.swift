import DeploymentEngine
import Foundation
import Rollout
import Synchronization
import TemplateModel

/// Renders the engine's event stream for people (readable lines, under them a live status line per alias on a
/// terminal), machines (one JSON object a line, `--output json`, ending with `run.finished`) or CI pages (one
/// Markdown summary at the end, `--output markdown`, and appended to `summaryFile`). Times are the state
/// directory's time base.
final class DeploymentRenderer: Sendable {
    let format: DeployOutputFormat
    /// A status line per alias is redrawn in place only on a terminal.
    let live: Bool
    private let run = Mutex(RunRecord())
    private let dryRun: Bool
    /// Where the Markdown summary is appended when the run ends (`$GITHUB_STEP_SUMMARY`), whatever the format.
    private let summaryFile: String?

    init(format: DeployOutputFormat, dryRun: Bool = false, summaryFile: String? = nil) {
        self.format = format
        self.live = format == .text && Terminal.standard.isLive
        self.dryRun = dryRun
        self.summaryFile = summaryFile
    }

    /// The sink to hand to the engine.
    var sink: DeploymentEventSink { { [self] at, event in render(event, at: at) } }

    func render(_ event: DeploymentEvent, at: Instant) {
        if case .progress(let rollouts) = event {
            if live { Terminal.standard.show(Self.statusLines(rollouts, at: at)) }
            return
        }
        let (name, alias, fields, described) = Self.describe(event)
        let repeated = run.withLock { $0.record(event, at: at) }
        switch format {
        case .json:
            write(JSONOutput.line(Self.jsonObject(name: name, alias: alias, fields: fields, at: at)))
        case .markdown:
            break
        case .text:
            var text = described
            // The rollback line already gave the reason; the final status does not repeat it.
            if repeated, case let .finished(_, _, status, _, _) = event { text = "deployment \(status.rawValue)" }
            // Nor does the rollback line repeat the alarm's explanation printed just above it.
            if case let .rolledBack(alias, _, _, _) = event {
                for explanation in run.withLock({ $0.alarmExplanations[alias] ?? [] }) {
                    text = text.replacingOccurrences(of: " (\(explanation))", with: " (explained above)")
                }
            }
            guard !text.isEmpty else { return }
            let prefix = alias.map { "\($0) " } ?? ""
            write("\(Self.clockTime(at)) \(prefix)\(text)\n")
        }
    }

    /// Ends the run: `--output json` with its `run.finished` line (the status, the exit code and each alias's outcome),
    /// `--output markdown` with its summary; the summary is also appended to `summaryFile`.
    /// What the run told so far.
    var record: RunRecord { run.withLock { $0 } }

    /// Ends the output: `run.finished` (with the path of the report written, if any) and the Markdown summary.
    func finish(exitCode: Int32, failure: Failure? = nil, report: String? = nil) {
        let record = self.record
        if format == .json {
            write(Self.runFinished(exitCode: exitCode, outcomes: record.outcomes, failure: failure, dryRun: dryRun,
                                   time: record.lastInstant.map(JSONOutput.time) ?? JSONOutput.wallClock, report: report))
        }
        guard format == .markdown || summaryFile != nil else { return }
        let markdown = MarkdownSummary.render(record, exitCode: exitCode, failure: failure, dryRun: dryRun)
        if format == .markdown { write(markdown) }
        if let summaryFile { MarkdownSummary.append(markdown, to: summaryFile) }
    }

    /// The run's status in one word: what `run.finished` and the Markdown summary say.
    static func runStatus(exitCode: Int32, outcomes: [RunRecord.Outcome]) -> String {
        switch exitCode {
        case 0: "Succeeded"
        case 3: outcomes.contains { $0.status == DeploymentStatus.failed.rawValue } ? "Failed" : "Stopped"
        case 4: "Inconclusive"
        default: "Error"
        }
    }

    /// The last line of every `deploy --output json`, also when it failed before anything was deployed.
    static func runFinished(exitCode: Int32, outcomes: [RunRecord.Outcome], failure: Failure?, dryRun: Bool = false,
                            time: String = JSONOutput.wallClock, report: String? = nil) -> String {
        var object: [String: Any] = ["event": "run.finished", "time": time, "status": runStatus(exitCode: exitCode, outcomes: outcomes),
                                     "exitCode": exitCode, "functions": outcomes.map(\.json)]
        if let report { object["report"] = report }
        if dryRun { object["dryRun"] = true }
        if let failure { object["error"] = JSONOutput.error(failure) }
        return JSONOutput.line(object)
    }

    /// One event as a line of `--output json` (and of a JSON report's `events`).
    static func jsonObject(name: String, alias: AliasRef?, fields: [String: Any], at: Instant) -> [String: Any] {
        var object = fields
        object["event"] = name
        object["time"] = JSONOutput.time(at)
        if let alias {
            object["function"] = alias.function
            object["alias"] = alias.alias
        }
        return object
    }

    /// The JSON event name, its alias, its fields and its text line.
    static func describe(_ event: DeploymentEvent) -> (String, AliasRef?, [String: Any], String) {
        switch event {
        case .warning(let message):
            return ("warning", nil, ["message": message], "warning: \(message)")
        case .nothingToDeploy(let reason):
            return ("deployment.nothing", nil, ["reason": reason], "nothing to deploy: \(reason)")
        case .planned(let plan):
            return ("plan.function", plan.alias, planFields(plan), planText(plan))
        case .planFinished(let count):
            return ("plan", nil, ["dryRun": true, "functions": count], "dry run: nothing was published or changed")
        case let .versionPublished(alias, version, codeSha256, created):
            return (created ? "version.published" : "version.unchanged", alias, ["version": version, "codeSha256": codeSha256],
                    created ? "published version \(version) (CodeSha256 \(codeSha256))" : "no change since version \(version)")
        case let .aliasCreated(alias, version):
            return ("alias.created", alias, ["version": version, "weights": [version: 1.0]],
                    "created alias \(alias.alias) on version \(version) (first deployment: no traffic shift)")
        case let .aliasUnchanged(alias, version):
            return ("deployment.unchanged", alias, ["version": version], "alias \(alias.alias) already serves version \(version): nothing to do")
        case let .deploymentRecovered(alias, id, version, reason):
            return ("deployment.recovered", alias, ["deploymentId": id, "version": version, "reason": reason],
                    "closed interrupted deployment \(id): \(reason)")
        case let .deploymentStarted(alias, id, from, to, schedule, _, resumed):
            return ("deployment.started", alias,
                    ["deploymentId": id, "from": from, "to": to, "strategy": schedule.name, "resumed": resumed,
                     "schedule": schedule.points.map { ["minute": $0.minute, "percent": $0.percent] }],
                    "deployment \(id) \(resumed ? "resumed" : "started"): version \(from) → \(to), \(schedule.name)")
        case let .hookStarted(alias, hook, function, executionId, deadline):
            return ("hook.started", alias,
                    ["hook": hook.rawValue, "hookFunction": function, "executionId": executionId, "deadline": JSONOutput.time(deadline)],
                    "\(hook.rawValue) hook \(function) invoked; it must report by \(clockTime(deadline))")
        case let .hookFinished(alias, hook, succeeded, detail):
            var fields: [String: Any] = ["hook": hook.rawValue, "status": succeeded ? "Succeeded" : "Failed"]
            if let detail { fields["reason"] = detail }
            let text = detail.map { "\(hook.rawValue) hook function failed: \($0)" } ?? "\(hook.rawValue) hook reported \(succeeded ? "Succeeded" : "Failed")"
            return ("hook.finished", alias, fields, text)
        case let .trafficShifted(alias, weights):
            let parts = weights.sorted { (Int($0.key) ?? 0, $0.key) < (Int($1.key) ?? 0, $1.key) }.map { "version \($0.key) \(percent($0.value))" }
            return ("traffic.shifted", alias, ["weights": weights], "traffic: " + parts.joined(separator: ", "))
        case let .alarmChanged(alias, alarm, state, reason):
            return ("alarm.changed", alias, ["alarm": alarm, "state": state.rawValue, "reason": reason],
                    "alarm \(alarm) is \(state.rawValue): \(reason)")
        case let .judged(alias, judgement):
            var fields: [String: Any] = ["verdict": judgement.verdict.rawValue, "errors": judgement.errors.rawValue, "reason": judgement.reason,
                                         "minimumNewCalls": judgement.minimumNewCalls]
            if let latency = judgement.latency { fields["latency"] = latency.rawValue }
            let checks = "errors \(judgement.errors.rawValue)" + (judgement.latency.map { ", latency \($0.rawValue)" } ?? "")
            return ("judgement", alias, fields, "judgement \(judgement.verdict.rawValue) (\(checks)): \(judgement.reason)")
        case let .rolledBack(alias, id, version, reason):
            return ("deployment.rolledBack", alias, ["deploymentId": id, "reason": reason, "weights": [version: 1.0]],
                    "ROLLED BACK to version \(version): \(reason)")
        case let .finished(alias, id, status, version, reason):
            let name = status == .succeeded ? "deployment.succeeded" : (status == .stopped ? "deployment.stopped" : "deployment.failed")
            return (name, alias, ["deploymentId": id, "status": status.rawValue, "reason": reason, "version": version],
                    "deployment \(status.rawValue): \(reason)")
        case .progress:
            return ("progress", nil, [:], "")
        case let .summary(alias, id, status, from, to, reason, traffic):
            var versions: [String: [String: Int]] = [:]
            for entry in traffic { versions[entry.version] = ["invocations": entry.invocations, "errors": entry.errors] }
            // A first deployment's summary says nothing the line that created the alias did not.
            let text = id == nil ? "" : "summary: \(status.rawValue); " + traffic.map {
                "version \($0.version): \(English.count($0.invocations, "invocation")), \(English.count($0.errors, "error"))"
            }.joined(separator: "; ")
            return ("deployment.summary", alias,
                    ["deploymentId": id ?? NSNull(), "status": status.rawValue, "from": from ?? NSNull(), "to": to, "reason": reason,
                     "versions": versions],
                    text)
        }
    }

    private static func planFields(_ plan: AliasPlanReport) -> [String: Any] {
        [
            "currentVersion": plan.currentVersion ?? NSNull(), "newVersion": plan.newVersion, "publishes": plan.publishes,
            "codeSha256": plan.codeSha256, "changes": plan.changes, "action": actionText(plan),
            "strategy": plan.schedule.name, "strategySource": plan.scheduleSource,
            "schedule": zip(plan.schedule.points, plan.timeline).map { ["minute": $0.minute, "percent": $0.percent, "at": JSONOutput.time($1)] },
            "hooks": Dictionary(uniqueKeysWithValues: plan.hooks.map { ($0.key.rawValue, $0.value) }), "alarms": plan.alarms,
            "detection": plan.detection.map(detectionFields) ?? NSNull(),
        ]
    }

    /// The detection analysis as JSON: rates as fractions, counts as numbers, findings with their codes.
    private static func detectionFields(_ d: DetectionAnalysis) -> [String: Any] {
        func figures(_ f: DetectionFigures) -> [String: Any] {
            [
                "smallestCaughtIncrease": f.smallestCaughtIncrease ?? NSNull(), "falseRollbackShare": f.falseRollbackShare,
                "blastRadius": [
                    "newErrorRate": f.blastRadius.newErrorRate, "meanFailedCalls": f.blastRadius.meanFailedCalls,
                    "caughtShare": f.blastRadius.caughtShare, "meanMinutesToRollback": f.blastRadius.meanMinutesToRollback ?? NSNull(),
                ] as [String: Any],
            ]
        }
        return [
            "rate": d.options.rate, "runs": d.options.runs, "detectionProbability": d.options.detectionProbability,
            "judgementConfigured": d.judgementConfigured, "alarmsOnly": figures(d.alarmsOnly), "withJudgement": figures(d.withJudgement),
            "alarms": d.alarms.map { alarm -> [String: Any] in
                ["name": alarm.name, "scope": alarm.scope.rawValue,
                 "findings": alarm.findings.map { ["code": $0.code.rawValue, "message": $0.message] }]
            },
        ]
    }

    static func actionText(_ plan: AliasPlanReport) -> String {
        switch plan.decision {
        case .create: "create alias \(plan.alias.alias) on version \(plan.newVersion) (first deployment: no traffic shift)"
        case .unchanged: "nothing to do: alias \(plan.alias.alias) serves version \(plan.newVersion)"
        case .shift(let from): "shift alias \(plan.alias.alias) from version \(from) to \(plan.newVersion) by \(plan.schedule.name)"
        case .resume(let id, let from): "resume deployment \(id) of alias \(plan.alias.alias) from version \(from) to \(plan.newVersion)"
        }
    }

    private static func planText(_ plan: AliasPlanReport) -> String {
        var text = "\(actionText(plan))\n    code \(plan.codeSha256)"
        if let latest = plan.latestVersion, plan.decision == .unchanged, String(latest) != plan.newVersion {
            text += " (the alias's version \(plan.newVersion) is this code; the latest, version \(latest), is not)"
        } else {
            text += plan.latestVersion.map { " (latest version \($0): \(plan.changes.isEmpty ? "unchanged" : plan.changes.joined(separator: ", ")))" } ?? " (no version yet)"
        }
        text += "\n    schedule (\(plan.scheduleSource)): " + plan.schedule.points.map { "minute \($0.minute) → \(TemplateValueFormat.percent($0.percent))%" }.joined(separator: ", ")
        if !plan.hooks.isEmpty { text += "\n    hooks: " + plan.hooks.sorted { $0.key.rawValue > $1.key.rawValue }.map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", ") }
        if !plan.alarms.isEmpty { text += "\n    alarms: " + plan.alarms.joined(separator: ", ") }
        if let detection = plan.detection { text += detectionText(detection, allAtOnce: plan.schedule.points.count == 1) }
        return text
    }

    /// What the plan would catch, in words: the findings as warnings, then the simulated figures.
    static func detectionText(_ d: DetectionAnalysis, allAtOnce: Bool) -> String {
        let wording = DetectionWording(d, allAtOnce: allAtOnce)
        return "\n    \(wording.heading):" + wording.lines.map { "\n      " + ($0.isWarning ? "warning: " : "") + $0.text }.joined()
    }

    /// A line per alias that is still shifting: its phase, its alarms, then each version's traffic.
    static func statusLines(_ rollouts: [RolloutProgress], at now: Instant) -> [Terminal.Line] {
        rollouts.map { rollout in
            var line = Terminal.Line()
            line.append(rollout.alias.description, .bold)
            func part(_ text: String, _ color: Terminal.Line.Color? = nil) {
                line.append(" | ", .dim)
                line.append(text, color)
            }
            switch rollout.phase {
            case .created: part("created")
            case .beforeAllowTraffic(let deadline): part("PreTraffic hook (≤\(minutes(deadline - now)))", .yellow)
            case .allowTraffic(let index, let percent, _, let next):
                part("step \(index + 1)/\(rollout.stepCount) v\(rollout.newVersion) \(TemplateValueFormat.percent(percent))%, next in \(minutes(next - now))")
            case .afterAllowTraffic: part("100%, PostTraffic/bake")
            case .finished(let status, _, _, _): part(status.rawValue, status == .succeeded ? .green : .red)
            }
            // The verdict and alarms before traffic: a line cut at the terminal's width keeps what decides a rollback.
            if let verdict = rollout.verdict {
                line.append(" | ", .dim)
                line.append("judged ")
                line.append(verdict.rawValue, verdict == .fail ? .red : (verdict == .pass ? .green : .yellow))
            }
            for (index, alarm) in rollout.alarms.enumerated() {
                line.append(index == 0 ? " | " : " ", index == 0 ? .dim : nil)
                line.append("\(alarm.name)=")
                line.append(alarm.state.rawValue, alarm.state == .alarm ? .red : (alarm.state == .ok ? .green : .yellow))
            }
            for traffic in rollout.traffic {
                part("v\(traffic.version) \(English.count(traffic.invocations, "call"))/")
                line.append(English.count(traffic.errors, "error"), traffic.errors > 0 ? .red : nil)
            }
            return line
        }
    }

    private func write(_ text: String) {
        Terminal.standard.write(text, to: .output)
    }

    /// `HH:mm:ss` of an instant of the time base (UTC, as every stored instant).
    static func clockTime(_ instant: Instant) -> String {
        let text = instant.description
        guard let t = text.firstIndex(of: "T") else { return text }
        return String(text[text.index(after: t)...].prefix(8))
    }

    static func percent(_ weight: Double) -> String {
        TemplateValueFormat.percent((weight * 10_000).rounded() / 100) + "%"
    }

    static func minutes(_ duration: Duration) -> String {
        let seconds = max(0, Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
        return seconds >= 60 ? String(format: "%.1f min", seconds / 60) : String(format: "%.0f s", seconds)
    }
}

/// What a deploy run did to each alias, gathered from its events for the `run.finished` line and the Markdown summary.
struct RunRecord: Sendable {
    /// One alias's outcome so far.
    struct Outcome: Sendable {
        var alias: AliasRef
        var status = "InProgress"
        var version: String?
        var from: String?
        var deploymentId: String?
        var reason: String?
        /// The last judgement's verdict, when the rollout is judged.
        var verdict: Verdict?
        /// The version the deployment moves to (`version` is the one the alias serves once it ended).
        var target: String?
        var strategy: String?
        /// Each version's invocations and errors, from the deployment's summary.
        var traffic: [VersionTraffic] = []
        /// Each alarm's last state.
        var alarms: [String: AlarmState] = [:]
        /// What the dry run would do.
        var plan: AliasPlanReport?

        var json: [String: Any] {
            var object: [String: Any] = ["function": alias.function, "alias": alias.alias, "status": status, "version": version ?? NSNull()]
            if let verdict { object["verdict"] = verdict.rawValue }
            if let from { object["from"] = from }
            if let deploymentId { object["deploymentId"] = deploymentId }
            if let reason { object["reason"] = reason }
            return object
        }
    }

    private(set) var outcomes: [Outcome] = []
    /// The reason of each alias's rollback, so that its final status need not repeat it.
    private var rollbackReasons: [AliasRef: String] = [:]
    /// Explanations of alarms that went to ALARM, per alias, so that the rollback line need not repeat them.
    private(set) var alarmExplanations: [AliasRef: [String]] = [:]
    private(set) var lastInstant: Instant?
    private(set) var warnings: [String] = []
    /// Why the run had nothing to deploy, when it had not.
    private(set) var nothingToDeploy: String?

    /// Takes in one event; true when it is a final status whose reason the rollback line already gave.
    mutating func record(_ event: DeploymentEvent, at: Instant) -> Bool {
        lastInstant = max(lastInstant ?? at, at)
        switch event {
        case .warning(let message):
            warnings.append(message)
        case .nothingToDeploy(let reason):
            nothingToDeploy = reason
        case .planned(let plan):
            update(plan.alias) {
                $0.status = "Planned"; $0.version = plan.newVersion; $0.target = plan.newVersion; $0.from = plan.currentVersion
                $0.strategy = plan.schedule.name; $0.plan = plan
            }
        case let .versionPublished(alias, version, _, _):
            update(alias) { $0.version = version }
        case let .aliasCreated(alias, version):
            update(alias) { $0.status = "Created"; $0.version = version; $0.target = version }
        case let .aliasUnchanged(alias, version):
            update(alias) { $0.status = "Unchanged"; $0.version = version }
        case let .deploymentStarted(alias, id, from, to, schedule, _, _):
            update(alias) { $0.status = "InProgress"; $0.deploymentId = id; $0.from = from; $0.version = to; $0.target = to; $0.strategy = schedule.name }
        case let .rolledBack(alias, _, _, reason):
            rollbackReasons[alias] = reason
        case let .judged(alias, judgement):
            update(alias) { $0.verdict = judgement.verdict }
        case let .alarmChanged(alias, alarm, state, reason):
            update(alias) { $0.alarms[alarm] = state }
            if state == .alarm { alarmExplanations[alias, default: []].append(reason) }
        case let .summary(alias, _, _, _, _, _, traffic):
            update(alias) { $0.traffic = traffic }
        case let .finished(alias, id, status, version, reason):
            update(alias) { $0.status = status.rawValue; $0.deploymentId = id; $0.version = version; $0.reason = reason }
            return rollbackReasons[alias] == reason
        default:
            break
        }
        return false
    }

    private mutating func update(_ alias: AliasRef, _ change: (inout Outcome) -> Void) {
        if let index = outcomes.firstIndex(where: { $0.alias == alias }) {
            change(&outcomes[index])
        } else {
            var outcome = Outcome(alias: alias)
            change(&outcome)
            outcomes.append(outcome)
        }
    }
}
