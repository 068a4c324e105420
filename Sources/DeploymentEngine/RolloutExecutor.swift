import Foundation
import Rollout

/// One alias to move from `oldVersion` to `newVersion`, with what judges it.
public struct RolloutSpec: Sendable {
    public var alias: AliasRef
    public var deploymentId: String
    public var oldVersion: String
    public var newVersion: String
    public var configuration: RolloutConfiguration
    /// Hook function names by hook.
    public var hookFunctions: [LifecycleHook: String]
    public var alarms: [AlarmDefinition]
    /// The persisted progress of an interrupted deployment to continue, nil for a new one.
    public var resumeFrom: RolloutJournal?

    public init(alias: AliasRef, deploymentId: String, oldVersion: String, newVersion: String, configuration: RolloutConfiguration,
                hookFunctions: [LifecycleHook: String] = [:], alarms: [AlarmDefinition] = [], resumeFrom: RolloutJournal? = nil) {
        self.alias = alias
        self.deploymentId = deploymentId
        self.oldVersion = oldVersion
        self.newVersion = newVersion
        self.configuration = configuration
        self.hookFunctions = hookFunctions
        self.alarms = alarms
        self.resumeFrom = resumeFrom
    }
}

/// What the executor persists for a rollout after every input, before acting: a killed process resumes from it.
public struct RolloutJournal: Sendable, Codable, Equatable {
    public var rollout: Rollout
    public var oldVersion: String
    public var newVersion: String
    /// When the deployment began on the time base (its traffic is counted from that minute on).
    public var startedAt: Instant
    /// Hook execution ids the rollout waits for.
    public var hookExecutions: [String: LifecycleHook]

    public func encoded() -> [UInt8] {
        // A Rollout always encodes (plain values only).
        (try? Array(JSONEncoder().encode(self))) ?? []
    }

    public static func decode(_ bytes: [UInt8]) -> RolloutJournal? {
        try? JSONDecoder().decode(RolloutJournal.self, from: Data(bytes))
    }
}

/// How a rollout ended.
public struct RolloutResult: Sendable, Equatable {
    public var alias: AliasRef
    public var deploymentId: String
    public var status: DeploymentStatus
    public var reason: String
    /// The judgement could not tell before the hold ran out; the alias followed `onInconclusive`.
    public var endedInconclusive = false
}

/// Something from outside that the executor must react to.
public enum ExecutorInput: Sendable {
    /// Stop every rollout (Ctrl-C, SIGTERM, a CI cancel): roll back what was touched, status Stopped.
    case abort(reason: String)
}

/// Drives `Rollout` values against a target: feeds them time, alarm states and hook outcomes, journals
/// each new state, then carries out its actions. It sleeps until the earliest deadline (a rollout's
/// timer or the next alarm evaluation) on the injected clock, never polling.
public struct RolloutExecutor: Sendable {
    public struct Options: Sendable {
        /// How often alarms are evaluated, in schedule time (CloudWatch evaluates once a minute; more often
        /// only reacts sooner to a period that just completed).
        public var evaluationInterval: Duration = .seconds(10)
        /// The aliases shift as one release: a failure of any rolls all back.
        public var allOrNothing = false
        /// Emit `.progress` after each alarm evaluation (a live view); it reads every rollout's traffic, so
        /// callers that do not show it turn it off.
        public var reportsProgress = true

        public init(evaluationInterval: Duration = .seconds(10), allOrNothing: Bool = false, reportsProgress: Bool = true) {
            self.evaluationInterval = evaluationInterval
            self.allOrNothing = allOrNothing
            self.reportsProgress = reportsProgress
        }
    }

    let target: any DeploymentTarget
    let clock: any DeploymentClock
    let options: Options
    let emit: DeploymentEventSink

    public init(target: any DeploymentTarget, clock: any DeploymentClock, options: Options = Options(), emit: @escaping DeploymentEventSink) {
        self.target = target
        self.clock = clock
        self.options = options
        self.emit = emit
    }

    private enum Input: Sendable {
        case hook(HookOutcome)
        case external(ExecutorInput)
    }

    /// A rollout while it runs.
    private struct Running {
        var spec: RolloutSpec
        var journal: RolloutJournal
        var monitor: AlarmMonitor
        var nextWake: Instant?
        var nextEvaluation: Instant
        var finished: (status: DeploymentStatus, reason: String)?
        /// What each version served up to the instant the rollout finished: its summary, whatever runs through the alias later.
        var servedUntilFinished: [VersionTraffic]?
        /// The last judgement shown, so that only changes are told.
        var shownJudgement: StepJudgement?
        /// The run this rollout is part of (its events are journaled under it): the first deployment's id.
        var run: String

        var rollout: Rollout {
            get { journal.rollout }
            set { journal.rollout = newValue }
        }
    }

    /// Runs every rollout to its end. Every journal write happens before the action it describes.
    public func run(_ specs: [RolloutSpec], inputs: AsyncStream<ExecutorInput>) async throws -> [RolloutResult] {
        let mailbox = Mailbox<Input>()
        var running: [Running] = []
        for spec in specs {
            let monitor: AlarmMonitor
            do throws(RolloutError) {
                monitor = try AlarmMonitor(spec.alarms)
            } catch {
                throw DeploymentError(.invalidInput, "alarms of \(spec.alias): \(error.message)")
            }
            let journal = spec.resumeFrom ?? RolloutJournal(
                rollout: Rollout(configuration: spec.configuration), oldVersion: spec.oldVersion, newVersion: spec.newVersion,
                startedAt: clock.now, hookExecutions: [:])
            running.append(Running(spec: spec, journal: journal, monitor: monitor, nextEvaluation: clock.now, run: specs[0].deploymentId))
        }
        let target = self.target
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await target.run() }
            group.addTask {
                for await outcome in target.hookOutcomes { mailbox.push(.hook(outcome)) }
            }
            group.addTask {
                for await input in inputs { mailbox.push(.external(input)) }
            }
            for index in running.indices {
                try await begin(index, &running)
            }
            while running.contains(where: { $0.finished == nil }) {
                let deadline = running.filter { $0.finished == nil }.flatMap { [$0.nextWake, $0.nextEvaluation].compactMap { $0 } }.min()
                let input = await mailbox.next(until: deadline, clock: clock)
                // A cancelled run (its process is going away) stops here, journaling nothing more: it stays resumable.
                try Task.checkCancellation()
                if let input { try await handle(input, &running) }
                let now = clock.now
                var evaluated = false
                for index in running.indices where running[index].finished == nil {
                    if now >= running[index].nextEvaluation {
                        running[index].nextEvaluation = now + options.evaluationInterval
                        try await evaluateAlarms(index, &running, at: now)
                        if running[index].finished == nil { try await judge(index, &running, at: now) }
                        evaluated = true
                    }
                    if running[index].finished == nil, let wake = running[index].nextWake, now >= wake {
                        running[index].nextWake = nil
                        let actions = running[index].rollout.timerFired(at: now)
                        try await perform(actions, index, &running, kind: "timer", at: now)
                    }
                }
                if evaluated, options.reportsProgress { emit(now, .progress(await progress(running, at: now))) }
            }
            group.cancelAll()
        }
        var results: [RolloutResult] = []
        let now = clock.now
        for rollout in running {
            let status = rollout.finished?.status ?? .failed
            let reason = rollout.finished?.reason ?? rollout.rollout.reason
            let traffic = if let served = rollout.servedUntilFinished { served } else { await counts(rollout, until: now) }
            try await tell(.summary(rollout.spec.alias, deploymentId: rollout.spec.deploymentId, status: status, from: rollout.spec.oldVersion,
                                    to: rollout.spec.newVersion, reason: reason, traffic: traffic), rollout, at: now)
            results.append(RolloutResult(alias: rollout.spec.alias, deploymentId: rollout.spec.deploymentId, status: status, reason: reason,
                                         endedInconclusive: rollout.rollout.endedInconclusive))
        }
        return results
    }

    /// Starts a new rollout, or re-asserts a resumed one: alarms are evaluated first either way.
    private func begin(_ index: Int, _ all: inout [Running]) async throws {
        let now = clock.now
        let spec = all[index].spec
        let resumed = spec.resumeFrom != nil
        try await tell(.deploymentStarted(spec.alias, deploymentId: spec.deploymentId, from: spec.oldVersion, to: spec.newVersion,
                                          schedule: spec.configuration.schedule, alarms: spec.alarms.map(\.name), resumed: resumed),
                       all[index], at: now)
        all[index].nextEvaluation = now + options.evaluationInterval
        // An alarm already in ALARM fails the deployment before it starts (or resumes), as in CodeDeploy.
        try await evaluateAlarms(index, &all, at: now)
        guard all[index].finished == nil else { return }
        if resumed {
            let pending = all[index].journal.hookExecutions
            let actions = all[index].rollout.resume(at: now)
            try await perform(actions, index, &all, kind: "resume", at: now)
            // The hook invocation died with the interrupted process; its report would never come.
            if all[index].finished == nil {
                for (executionId, hook) in pending.sorted(by: { $0.key < $1.key }) {
                    try await invokeHook(hook, executionId: executionId, on: all[index], deadline: all[index].nextWake ?? now, at: now)
                }
            }
        } else {
            let actions = all[index].rollout.start(at: now)
            try await perform(actions, index, &all, kind: "start", at: now)
        }
    }

    private func handle(_ input: Input, _ running: inout [Running]) async throws {
        let now = clock.now
        switch input {
        case .hook(let outcome):
            guard let index = running.firstIndex(where: { $0.spec.deploymentId == outcome.deploymentId && $0.finished == nil }),
                  let hook = running[index].journal.hookExecutions.removeValue(forKey: outcome.executionId) else { return }
            try await tell(.hookFinished(running[index].spec.alias, hook: hook, succeeded: outcome.succeeded, detail: outcome.failure),
                           running[index], at: now)
            let actions = running[index].rollout.hookFinished(hook, succeeded: outcome.succeeded, at: now)
            let kind = "hook \(hook.rawValue) \(outcome.succeeded ? "Succeeded" : "Failed")"
            try await perform(actions, index, &running, kind: kind, at: now, force: true)
        case .external(.abort(let reason)):
            for index in running.indices where running[index].finished == nil {
                let actions = running[index].rollout.abort(reason: reason, at: now)
                try await perform(actions, index, &running, kind: "abort", at: now)
            }
        }
    }

    /// Evaluates every alarm of the rollout on this deployment's traffic and feeds changes to it.
    private func evaluateAlarms(_ index: Int, _ all: inout [Running], at now: Instant) async throws {
        let source = DeploymentMetrics(base: target.metrics, firstMinute: all[index].journal.startedAt.minuteIndex)
        for change in all[index].monitor.evaluate(at: now, data: source) {
            let evaluation = change.evaluation
            try await tell(.alarmChanged(all[index].spec.alias, alarm: change.alarmName, state: evaluation.state, reason: evaluation.reason),
                           all[index], at: now)
            guard all[index].finished == nil else { continue }
            let actions = all[index].rollout.alarmChanged(change.alarmName, to: evaluation.state, reason: evaluation.reason, at: now)
            try await perform(actions, index, &all, kind: "alarm \(change.alarmName) \(evaluation.state.rawValue)", at: now)
        }
    }

    /// Judges the new version against the old on what each served since the deployment began, tells a changed
    /// verdict, and feeds it to the rollout (a Fail rolls back, a Pass ends a hold).
    private func judge(_ index: Int, _ all: inout [Running], at now: Instant) async throws {
        let spec = all[index].spec
        guard let settings = spec.configuration.judgement else { return }
        switch all[index].rollout.phase {
        case .allowTraffic, .afterAllowTraffic: break
        case .created, .beforeAllowTraffic, .finished: return
        }
        let (from, to) = Self.window(all[index], until: now)
        let traffic = await counts(all[index], until: now)
        let (old, new) = (traffic[0], traffic[1])
        let newDurations = await target.durations(of: spec.alias, version: spec.newVersion, from: from, to: to)
        let oldDurations = await target.durations(of: spec.alias, version: spec.oldVersion, from: from, to: to)
        // Looks are counted from the deployment's start, so a resumed deployment spends no α twice.
        let look = Int((now - all[index].journal.startedAt).wholeMilliseconds / max(1, options.evaluationInterval.wholeMilliseconds)) + 1
        let judgement = Judgement.judge(
            newVersion: spec.newVersion, oldVersion: spec.oldVersion,
            new: CallCounts(invocations: new.invocations, errors: new.errors), old: CallCounts(invocations: old.invocations, errors: old.errors),
            newDurations: newDurations, oldDurations: oldDurations, policy: settings.policy, look: look)
        let shown = all[index].shownJudgement
        if shown?.verdict != judgement.verdict || shown?.errors != judgement.errors || shown?.latency != judgement.latency {
            all[index].shownJudgement = judgement
            try await tell(.judged(spec.alias, judgement), all[index], at: now)
        }
        let actions = all[index].rollout.judged(judgement, at: now)
        try await perform(actions, index, &all, kind: "judgement \(judgement.verdict.rawValue)", at: now)
    }

    /// Journals the rollout's new state, then carries out its actions.
    private func perform(_ actions: [RolloutAction], _ index: Int, _ all: inout [Running], kind: String, at now: Instant,
                         force: Bool = false) async throws {
        guard !actions.isEmpty || force else { return }
        let spec = all[index].spec
        // Execution ids are chosen here so that the journal knows them before the hooks run.
        var executions: [(LifecycleHook, String, Instant)] = []
        for action in actions {
            if case .invokeHook(let hook, let deadline) = action, spec.hookFunctions[hook] != nil {
                let id = UUID().uuidString.lowercased()
                all[index].journal.hookExecutions[id] = hook
                executions.append((hook, id, deadline))
            }
        }
        let final = actions.lazy.compactMap { action -> (DeploymentStatus, String)? in
            if case let .finish(status, reason) = action { return (status, reason) }
            return nil
        }.first
        if final != nil { all[index].journal.hookExecutions = [:] }
        try await target.recordTransition(deploymentId: spec.deploymentId, at: now, kind: kind, status: all[index].rollout.status,
                                          progress: all[index].journal.encoded(), reason: final?.1, ended: final != nil)
        for action in actions {
            switch action {
            case .invokeHook(let hook, _):
                guard let (_, id, deadline) = executions.first(where: { $0.0 == hook }) else { continue }
                try await invokeHook(hook, executionId: id, on: all[index], deadline: deadline, at: now)
            case .setWeight(let version, let weight):
                let routing = AliasRouting.shifting(from: spec.oldVersion, to: version, weight: weight)
                try await target.setRouting(of: spec.alias, to: routing)
                try await tell(.trafficShifted(spec.alias, weights: routing.weights), all[index], at: now)
            case .wake(let at):
                all[index].nextWake = at
            case .rollBack(let reason):
                try await target.setRouting(of: spec.alias, to: AliasRouting(primary: spec.oldVersion))
                try await tell(.rolledBack(spec.alias, deploymentId: spec.deploymentId, version: spec.oldVersion, reason: reason), all[index], at: now)
            case .finish(let status, let reason):
                all[index].finished = (status, reason)
                all[index].servedUntilFinished = await counts(all[index], until: now)
                all[index].nextWake = nil
                await target.finishHooks(deploymentId: spec.deploymentId)
                try await tell(.finished(spec.alias, deploymentId: spec.deploymentId, status: status,
                                         version: status == .succeeded ? spec.newVersion : spec.oldVersion, reason: reason), all[index], at: now)
                if status != .succeeded, options.allOrNothing, kind != Self.releaseAbort {
                    try await releaseFailed(cause: spec.alias, reason: reason, all: &all, except: spec.deploymentId, at: now)
                }
            }
        }
    }

    /// Journals a rollout's event (for reports), then emits it.
    private func tell(_ event: DeploymentEvent, _ rollout: Running, at now: Instant) async throws {
        try await target.recordEvent(deploymentId: rollout.spec.deploymentId,
                                     RecordedEvent(at: now, wallMilliseconds: clock.wallMilliseconds, run: rollout.run, event: event))
        emit(now, event)
    }

    private func invokeHook(_ hook: LifecycleHook, executionId: String, on rollout: Running, deadline: Instant, at now: Instant) async throws {
        guard let function = rollout.spec.hookFunctions[hook] else { return }
        try await tell(.hookStarted(rollout.spec.alias, hook: hook, function: function, executionId: executionId, deadline: deadline), rollout, at: now)
        try await target.startHook(function: function, deploymentId: rollout.spec.deploymentId, executionId: executionId)
    }

    /// The journal's name for stopping a rollout because another alias of the release failed.
    static let releaseAbort = "release failed"

    /// All-or-nothing: one alias failed, so every other one goes back to its old version, finished or not.
    private func releaseFailed(cause: AliasRef, reason: String, all: inout [Running], except deploymentId: String, at now: Instant) async throws {
        let why = "rolled back with the release: \(cause) failed (\(reason))"
        for index in all.indices where all[index].spec.deploymentId != deploymentId {
            switch all[index].finished?.status {
            case nil:
                let actions = all[index].rollout.abort(reason: why, at: now)
                try await perform(actions, index, &all, kind: Self.releaseAbort, at: now)
            case .succeeded?:
                let spec = all[index].spec
                try await target.recordTransition(deploymentId: spec.deploymentId, at: now, kind: "release rolled back",
                                                  status: .stopped, progress: nil, reason: why, ended: true)
                try await target.setRouting(of: spec.alias, to: AliasRouting(primary: spec.oldVersion))
                all[index].finished = (.stopped, why)
                all[index].servedUntilFinished = await counts(all[index], until: now)
                try await tell(.rolledBack(spec.alias, deploymentId: spec.deploymentId, version: spec.oldVersion, reason: why), all[index], at: now)
                try await tell(.finished(spec.alias, deploymentId: spec.deploymentId, status: .stopped, version: spec.oldVersion, reason: why),
                               all[index], at: now)
            default:
                continue
            }
        }
    }

    /// The metric periods of a rollout so far. Metrics are kept per minute: from the start of the minute the
    /// deployment began in, through the minute `now` is in (what it holds so far).
    private static func window(_ rollout: Running, until now: Instant) -> (from: Instant, to: Instant) {
        (Instant.minutes(rollout.journal.startedAt.minuteIndex), Instant.minutes(now.minuteIndex + 1))
    }

    /// What the old and the new version served so far, in that order.
    private func counts(_ rollout: Running, until now: Instant) async -> [VersionTraffic] {
        let (from, to) = Self.window(rollout, until: now)
        var result: [VersionTraffic] = []
        for version in [rollout.spec.oldVersion, rollout.spec.newVersion] {
            result.append(await target.traffic(of: rollout.spec.alias, version: version, from: from, to: to))
        }
        return result
    }

    private func progress(_ running: [Running], at now: Instant) async -> [RolloutProgress] {
        var result: [RolloutProgress] = []
        for rollout in running where rollout.finished == nil {
            result.append(RolloutProgress(
                alias: rollout.spec.alias, oldVersion: rollout.spec.oldVersion, newVersion: rollout.spec.newVersion,
                phase: rollout.rollout.phase, stepCount: rollout.spec.configuration.schedule.points.count,
                traffic: await counts(rollout, until: now),
                alarms: rollout.monitor.states.sorted { $0.key < $1.key }.map { AlarmStatus(name: $0.key, state: $0.value) },
                verdict: rollout.rollout.judgement?.verdict))
        }
        return result
    }
}

/// The target's metrics as one deployment sees them: periods before it began are missing data, so an
/// earlier deployment's errors never judge this one.
struct DeploymentMetrics: MetricDataSource {
    let base: any MetricDataSource
    let firstMinute: Int64

    func datapoint(_ metric: MetricIdentity, minute: Int64) -> MetricDatapoint? {
        minute < firstMinute ? nil : base.datapoint(metric, minute: minute)
    }
}
