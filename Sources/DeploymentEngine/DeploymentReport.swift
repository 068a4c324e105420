import Foundation
import Rollout

/// A run of `shift deploy` (one or several aliases) as a report shows it, read back from the deployments' journals
/// and the target's metrics and logs: typed data that the HTML, Markdown and JSON renderers lay out.
public struct DeploymentReport: Sendable, Equatable, Codable {
    /// The run: its first deployment's id.
    public var run: String
    public var aliases: [AliasReport]
    /// What the run did besides rollouts (an alias created on its first version, one left unchanged).
    public var notes: [String]

    public init(run: String, aliases: [AliasReport], notes: [String] = []) {
        self.run = run
        self.aliases = aliases
        self.notes = notes
    }

    /// Every recorded event of the run, in the order they happened (what the renderers of a live run consumed).
    public var events: [RecordedEvent] {
        aliases.flatMap(\.events).enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }.map(\.element)
    }
}

/// One alias's rollout in a report.
public struct AliasReport: Sendable, Equatable, Codable {
    public var alias: AliasRef
    public var deploymentId: String
    /// The version the alias served before, and the one it moves to.
    public var from: String?
    public var to: String
    public var schedule: TrafficSchedule?
    public var alarmNames: [String]
    public var status: DeploymentStatus
    public var reason: String?
    public var startedAt: Instant
    /// nil while the deployment runs.
    public var endedAt: Instant?
    /// The instant the report describes: the end, or now for a running deployment.
    public var asOf: Instant
    /// Wall-clock time between the first and the last recorded event (differs from schedule time under a time scale).
    public var wallMilliseconds: Int64?
    /// The new version's share of the alias over time: one entry per weight it held, from the start.
    public var steps: [WeightStep]
    /// Calls and errors of the old and the new version through the alias, per one-minute metric period.
    public var minutes: [MinuteTraffic]
    /// The same over the whole deployment (the sum of `minutes`).
    public var totals: [VersionTraffic]
    public var alarmChanges: [AlarmChange]
    public var hooks: [HookRun]
    public var judgements: [JudgementMark]
    /// When traffic went back to the old version, and why.
    public var rollback: Mark?
    /// The last log lines of the new version's failed calls.
    public var errorLogs: [LogLine]
    /// The deployment's recorded events, in order.
    public var events: [RecordedEvent]

    /// The first minute of the time axis and the minute after its last: whole metric periods.
    public var axis: (from: Instant, to: Instant) {
        (Instant.minutes(startedAt.minuteIndex), Instant.minutes(asOf.minuteIndex + 1))
    }

    /// Each alarm's last known state (nil before its first evaluation changed it), by name.
    public var lastAlarmStates: [(name: String, change: AlarmChange?)] {
        alarmNames.map { name in (name, alarmChanges.last { $0.alarm == name }) }
    }
}

/// The new version's weight from `at` until the next step (or the end of the axis).
public struct WeightStep: Sendable, Equatable, Codable {
    public var at: Instant
    /// 0…1.
    public var weight: Double
}

/// What each version served in one metric period.
public struct MinuteTraffic: Sendable, Equatable, Codable {
    public var start: Instant
    public var old: VersionTraffic?
    public var new: VersionTraffic
}

/// An alarm's change of state.
public struct AlarmChange: Sendable, Equatable, Codable {
    public var at: Instant
    public var alarm: String
    public var state: AlarmState
    public var reason: String
}

/// A lifecycle hook's run: started, and finished unless the deployment ended first.
public struct HookRun: Sendable, Equatable, Codable {
    public var hook: LifecycleHook
    public var function: String
    public var startedAt: Instant
    public var deadline: Instant
    public var finishedAt: Instant?
    public var succeeded: Bool?
    public var detail: String?
}

/// A judgement whose verdict changed.
public struct JudgementMark: Sendable, Equatable, Codable {
    public var at: Instant
    public var judgement: StepJudgement
}

/// A moment with its reason.
public struct Mark: Sendable, Equatable, Codable {
    public var at: Instant
    public var reason: String
}

extension DeploymentReport {
    /// How many of the new version's failed-call log lines a report keeps.
    public static let errorLogLimit = 20

    /// The report of the run that deployment `selector` belongs to (a deployment id, or a unique prefix of one),
    /// or of the latest run when `selector` is nil or `latest`. A running deployment is reported as of `now`.
    public static func build(target: any DeploymentTarget, selector: String?, now: Instant) async throws -> DeploymentReport {
        let chosen = try await deployment(target: target, selector: selector)
        let run = try await target.recordedEvents(deploymentId: chosen.id).last?.run
        var records = try await run.asyncMap { try await target.deployments(ofRun: $0) } ?? []
        if !records.contains(where: { $0.id == chosen.id }) { records.append(chosen) }
        var aliases: [AliasReport] = []
        for record in records {
            aliases.append(try await aliasReport(record, target: target, now: now))
        }
        return DeploymentReport(run: run ?? chosen.id, aliases: aliases)
    }

    private static func deployment(target: any DeploymentTarget, selector: String?) async throws -> JournalRecord {
        let recent = try await target.recentDeployments(limit: 1000)
        guard let selector, selector != "latest" else {
            guard let latest = recent.first else {
                throw DeploymentError(.invalidInput, "there is no deployment to report in this state directory yet: run `deploy` with a new version first")
            }
            return latest
        }
        if let exact = try await target.deployment(id: selector) { return exact }
        let matches = recent.filter { $0.id.hasPrefix(selector.lowercased()) }
        if matches.count == 1 { return matches[0] }
        let known = recent.prefix(5).map { "\($0.id) (\($0.alias), version \($0.fromVersion ?? "none") → \($0.toVersion))" }
        if matches.count > 1 {
            throw DeploymentError(.invalidInput, "'\(selector)' is the start of \(matches.count) deployment ids; give more of it: "
                + matches.prefix(5).map(\.id).joined(separator: ", "))
        }
        throw DeploymentError(.invalidInput, "no deployment has the id '\(selector)'; "
            + (known.isEmpty ? "this state directory has none yet" : "the latest are: " + known.joined(separator: "; "))
            + " (or pass `latest`)")
    }

    private static func aliasReport(_ record: JournalRecord, target: any DeploymentTarget, now: Instant) async throws -> AliasReport {
        let events = try await target.recordedEvents(deploymentId: record.id)
        let asOf = record.endedAt ?? max(now, events.last?.at ?? record.startedAt)
        var report = AliasReport(
            alias: record.alias, deploymentId: record.id, from: record.fromVersion, to: record.toVersion, schedule: nil, alarmNames: [],
            status: record.status, reason: record.reason, startedAt: record.startedAt, endedAt: record.endedAt, asOf: asOf,
            wallMilliseconds: events.count > 1 ? events[events.count - 1].wallMilliseconds - events[0].wallMilliseconds : nil,
            steps: [WeightStep(at: record.startedAt, weight: 0)], minutes: [], totals: [], alarmChanges: [], hooks: [], judgements: [],
            rollback: nil, errorLogs: [], events: events)
        for recorded in events {
            let at = recorded.at
            switch recorded.event {
            case let .deploymentStarted(_, _, _, _, schedule, alarms, _):
                report.schedule = schedule
                report.alarmNames = alarms
            case let .trafficShifted(_, weights):
                report.addStep(WeightStep(at: at, weight: weights[record.toVersion] ?? 0))
            case let .rolledBack(_, _, _, reason):
                report.addStep(WeightStep(at: at, weight: 0))
                report.rollback = Mark(at: at, reason: reason)
            case let .alarmChanged(_, alarm, state, reason):
                report.alarmChanges.append(AlarmChange(at: at, alarm: alarm, state: state, reason: reason))
            case let .judged(_, judgement):
                report.judgements.append(JudgementMark(at: at, judgement: judgement))
            case let .hookStarted(_, hook, function, _, deadline):
                report.hooks.append(HookRun(hook: hook, function: function, startedAt: at, deadline: deadline))
            case let .hookFinished(_, hook, succeeded, detail):
                if let index = report.hooks.lastIndex(where: { $0.hook == hook && $0.finishedAt == nil }) {
                    report.hooks[index].finishedAt = at
                    report.hooks[index].succeeded = succeeded
                    report.hooks[index].detail = detail
                }
            default:
                break
            }
        }
        let (from, to) = report.axis
        var minute = from
        while minute < to {
            let next = minute + .seconds(60)
            report.minutes.append(MinuteTraffic(
                start: minute,
                old: await record.fromVersion.asyncMap { await target.traffic(of: record.alias, version: $0, from: minute, to: next) },
                new: await target.traffic(of: record.alias, version: record.toVersion, from: minute, to: next)))
            minute = next
        }
        for version in [record.fromVersion, record.toVersion].compactMap({ $0 }) {
            report.totals.append(await target.traffic(of: record.alias, version: version, from: from, to: to))
        }
        report.errorLogs = try await target.errorLogs(function: record.alias.function, version: record.toVersion, from: from, to: to,
                                                      limit: errorLogLimit)
        return report
    }
}

extension AliasReport {
    /// A weight set at the same instant as the one before replaces it: the alias never served the earlier one.
    mutating func addStep(_ step: WeightStep) {
        if let last = steps.last, last.at == step.at { steps.removeLast() }
        if let last = steps.last, last.weight == step.weight { return }
        steps.append(step)
    }
}

extension Optional {
    fileprivate func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
