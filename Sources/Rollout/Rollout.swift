/// One deployment of a new Lambda version behind an alias, as CodeDeploy runs it: a value that
/// takes inputs with explicit instants and returns the actions to perform.
///
/// Lifecycle: Created → BeforeAllowTraffic (PreTraffic hook, new version at 0 %, alias untouched)
/// → AllowTraffic (the schedule's points, one per timer) → AfterAllowTraffic (PostTraffic hook at
/// 100 %, status Baking) → Succeeded.
/// - A failed or silent PreTraffic hook → Failed, alias untouched (no weight action ever emitted).
/// - An alarm in ALARM at any moment (also before start), a failed or silent PostTraffic hook → Failed;
///   an abort → Stopped. Once the alias was touched, both first emit `.rollBack` (new version → 0 %).
///
/// Inputs that make no sense in the current state (a second `start`, a hook report for a hook that
/// is not awaited or arrives after its deadline, anything after a final status) are ignored and
/// return no action: they can be caused by users or by races, so they never crash.
///
/// Each traffic point is held for its full interval measured from when it was actually applied, so a
/// late timer (or a restart) delays the rest of the schedule rather than skipping weights.
///
/// The whole value is `Codable`: persist it after every input, decode it after a restart, then call
/// `resume(at:)` to learn what must happen now (overdue timers fire, the alias weight is re-asserted).
public struct Rollout: Sendable, Equatable, Codable {
    public let configuration: RolloutConfiguration
    private var state: State
    /// When `start(at:)` was called.
    public private(set) var startedAt: Instant?
    /// The last state reported for each alarm.
    public private(set) var alarmStates: [String: AlarmState] = [:]
    /// What each hook reported (or that it timed out).
    public private(set) var hookVerdicts: [LifecycleHook: HookVerdict] = [:]
    /// The latest look at the new version against the old (with judgement configured).
    public private(set) var judgement: StepJudgement?
    /// When the last step before 100 % was due but held for want of a Pass (with judgement configured).
    public private(set) var heldSince: Instant?
    /// The hold ran out on an Inconclusive judgement: the rollout went on or rolled back by `onInconclusive`,
    /// not because the new version was shown good or bad.
    public var endedInconclusive: Bool { heldOut ?? false }
    /// Optional so that journals written before the judgement existed still decode (and resume).
    private var heldOut: Bool?

    private enum State: Sendable, Equatable, Codable {
        /// Created: nothing happened yet. Next: `beforeAllowTraffic` (start with a PreTraffic hook),
        /// `allowTraffic` / `afterAllowTraffic` (start without one), `finished` (alarm → Failed, abort → Stopped).
        case created
        /// BeforeAllowTraffic: the PreTraffic hook was invoked at `since` and must report by `deadline`;
        /// the alias is untouched. Next: `allowTraffic` / `afterAllowTraffic` (hook succeeded),
        /// `finished` (hook failed or silent, alarm → Failed; abort → Stopped; never a rollback).
        case beforeAllowTraffic(since: Instant, deadline: Instant)
        /// AllowTraffic: the new version has held `schedule.points[pointIndex]` since `since`.
        /// Next: `allowTraffic(pointIndex + 1)` when the interval elapsed, `afterAllowTraffic` when the
        /// next point is the last (100 %), `finished` with a rollback (alarm → Failed, abort → Stopped).
        case allowTraffic(pointIndex: Int, since: Instant)
        /// AfterAllowTraffic (status Baking): 100 % since `since`; waits for the PostTraffic hook and
        /// the bake time (`since + bakeTime`). Next: `finished` (Succeeded; or rollback then Failed / Stopped).
        case afterAllowTraffic(since: Instant, hook: PostTrafficHook)
        /// Final: Succeeded, Failed or Stopped. Nothing leaves this state.
        case finished(Outcome)
    }

    /// Where the PostTraffic hook stands during AfterAllowTraffic.
    private enum PostTrafficHook: Sendable, Equatable, Codable {
        /// Invoked; must report by `deadline`.
        case awaiting(deadline: Instant)
        /// Reported success, or none is configured.
        case done
    }

    private struct Outcome: Sendable, Equatable, Codable {
        var status: DeploymentStatus
        var reason: String
        var at: Instant
        var rolledBack: Bool
    }

    public init(configuration: RolloutConfiguration) {
        self.configuration = configuration
        self.state = .created
    }

    // MARK: - Views

    /// The CodeDeploy status of the deployment.
    public var status: DeploymentStatus {
        switch state {
        case .created: .created
        case .beforeAllowTraffic, .allowTraffic: .inProgress
        case .afterAllowTraffic: .baking
        case let .finished(outcome): outcome.status
        }
    }

    /// Why the rollout is where it is; for a final status, the recorded reason.
    public var reason: String {
        switch state {
        case .created:
            return "created; not started"
        case let .beforeAllowTraffic(_, deadline):
            return "BeforeAllowTraffic: waiting for the PreTraffic hook to report until \(deadline)"
        case let .allowTraffic(index, since):
            return "AllowTraffic: version \(configuration.newVersion) at \(format(points[index].percent)) % since \(since)"
        case let .afterAllowTraffic(_, hook):
            switch hook {
            case let .awaiting(deadline): return "AfterAllowTraffic: waiting for the PostTraffic hook to report until \(deadline)"
            case .done: return "AfterAllowTraffic: baking at 100 %"
            }
        case let .finished(outcome):
            return outcome.reason
        }
    }

    /// The new version's weight (0…1) that the alias should have now.
    public var weight: Double {
        switch state {
        case .created, .beforeAllowTraffic: 0
        case let .allowTraffic(index, _): points[index].percent / 100
        case .afterAllowTraffic: 1
        case let .finished(outcome): outcome.status == .succeeded ? 1 : 0
        }
    }

    /// The instant of the next timer the rollout waits for, if any.
    public var nextDeadline: Instant? {
        switch state {
        case .created, .finished: nil
        case let .beforeAllowTraffic(_, deadline): deadline
        case let .allowTraffic(index, since): heldSince.map(holdEnd) ?? nextShift(after: index, since: since)
        case let .afterAllowTraffic(since, hook): afterDeadline(since: since, hook: hook)
        }
    }

    /// A public view of the private state.
    public var phase: RolloutPhase {
        switch state {
        case .created:
            return .created
        case let .beforeAllowTraffic(_, deadline):
            return .beforeAllowTraffic(hookDeadline: deadline)
        case let .allowTraffic(index, since):
            return .allowTraffic(pointIndex: index, percent: points[index].percent, since: since,
                                 nextShiftAt: heldSince.map(holdEnd) ?? nextShift(after: index, since: since))
        case let .afterAllowTraffic(since, hook):
            let deadline: Instant? = if case let .awaiting(d) = hook { d } else { nil }
            return .afterAllowTraffic(since: since, hookDeadline: deadline, bakeUntil: since + configuration.bakeTime)
        case let .finished(outcome):
            return .finished(status: outcome.status, reason: outcome.reason, at: outcome.at, rolledBack: outcome.rolledBack)
        }
    }

    // MARK: - Inputs

    /// Starts the deployment: invokes the PreTraffic hook, or shifts the first weight when there is none.
    public mutating func start(at now: Instant) -> [RolloutAction] {
        guard case .created = state else { return [] }
        startedAt = now
        if configuration.hooks.contains(.preTraffic) {
            let deadline = now + configuration.hookTimeout
            state = .beforeAllowTraffic(since: now, deadline: deadline)
            return [.invokeHook(.preTraffic, deadline: deadline), .wake(at: deadline)]
        }
        return allowTraffic(at: now)
    }

    /// A hook reported through `PutLifecycleEventHookExecutionStatus`.
    public mutating func hookFinished(_ hook: LifecycleHook, succeeded: Bool, at now: Instant) -> [RolloutAction] {
        switch (state, hook) {
        case let (.beforeAllowTraffic(_, deadline), .preTraffic):
            guard now <= deadline else { return timerFired(at: now) }
            if succeeded {
                hookVerdicts[.preTraffic] = .succeeded
                return allowTraffic(at: now)
            }
            hookVerdicts[.preTraffic] = .failed
            return finish(.failed, "PreTraffic hook reported Failed at \(now); alias left unchanged", at: now)
        case let (.afterAllowTraffic(since, .awaiting(deadline)), .postTraffic):
            guard now <= deadline else { return timerFired(at: now) }
            if succeeded {
                hookVerdicts[.postTraffic] = .succeeded
                state = .afterAllowTraffic(since: since, hook: .done)
                return bakeOrSucceed(since: since, at: now)
            }
            hookVerdicts[.postTraffic] = .failed
            return finish(.failed, "PostTraffic hook reported Failed at \(now); rolled back to the previous version", at: now)
        default:
            return []
        }
    }

    /// An alarm changed state. ALARM fails the deployment at once, whatever the phase (also before start).
    public mutating func alarmChanged(_ name: String, to alarmState: AlarmState, reason: String? = nil, at now: Instant) -> [RolloutAction] {
        if case .finished = state { return [] }
        alarmStates[name] = alarmState
        guard alarmState == .alarm else { return [] }
        let detail = reason.map { " (\($0))" } ?? ""
        let suffix = aliasTouched ? "; rolled back to the previous version" : "; alias left unchanged"
        return finish(.failed, "alarm '\(name)' is in ALARM at \(now)\(detail)\(suffix)", at: now)
    }

    /// A look at the new version against the old. Fail rolls back at once, as an alarm does; Pass ends a hold
    /// of the last step before 100 %; anything else is recorded for the gate at that step's end.
    public mutating func judged(_ judgement: StepJudgement, at now: Instant) -> [RolloutAction] {
        guard configuration.judgement != nil else { return [] }
        switch state {
        case .created, .beforeAllowTraffic, .finished:
            return []
        case let .allowTraffic(index, _):
            self.judgement = judgement
            if judgement.verdict == .fail { return failJudged(judgement, at: now) }
            if judgement.verdict == .pass, heldSince != nil {
                heldSince = nil
                return shift(to: index + 1, at: now)
            }
            return []
        case .afterAllowTraffic:
            self.judgement = judgement
            return judgement.verdict == .fail ? failJudged(judgement, at: now) : []
        }
    }

    /// A timer asked for by `.wake(at:)` fired (or any time passed). Fires what is due at `now`.
    public mutating func timerFired(at now: Instant) -> [RolloutAction] {
        switch state {
        case .created, .finished:
            return []
        case let .beforeAllowTraffic(since, deadline):
            guard now >= deadline else { return [.wake(at: deadline)] }
            hookVerdicts[.preTraffic] = .timedOut
            return finish(.failed, "PreTraffic hook did not report Succeeded or Failed through "
                + "PutLifecycleEventHookExecutionStatus within \(minutesText(deadline - since)) "
                + "(invoked at \(since), deadline \(deadline)); alias left unchanged", at: now)
        case let .allowTraffic(index, since):
            let due = heldSince.map(holdEnd) ?? nextShift(after: index, since: since)
            guard now >= due else { return [.wake(at: due)] }
            return gate(index: index, due: nextShift(after: index, since: since), at: now)
        case let .afterAllowTraffic(since, hook):
            if case let .awaiting(deadline) = hook {
                guard now >= deadline else { return [.wake(at: afterDeadline(since: since, hook: hook))] }
                hookVerdicts[.postTraffic] = .timedOut
                return finish(.failed, "PostTraffic hook did not report Succeeded or Failed through "
                    + "PutLifecycleEventHookExecutionStatus within \(minutesText(configuration.hookTimeout)) "
                    + "(deadline \(deadline)); rolled back to the previous version", at: now)
            }
            return bakeOrSucceed(since: since, at: now)
        }
    }

    /// Stops the deployment (user request, Ctrl-C, CI cancel): rolls back if the alias was touched, then Stopped.
    public mutating func abort(reason: String, at now: Instant) -> [RolloutAction] {
        if case .finished = state { return [] }
        let suffix = aliasTouched ? "; rolled back to the previous version" : "; alias left unchanged"
        return finish(.stopped, "stopped: \(reason)\(suffix)", at: now)
    }

    /// Skips the remaining waits (test environments, `--skip-shift`): during AllowTraffic the new
    /// version goes to 100 % now and the PostTraffic hook runs. Ignored in any other phase, so hooks
    /// and alarms keep their say.
    public mutating func promote(at now: Instant) -> [RolloutAction] {
        guard case .allowTraffic = state else { return [] }
        return shift(to: points.count - 1, at: now)
    }

    /// After restoring a persisted rollout: the actions that make the world match it at `now`.
    ///
    /// Re-asserts the alias weight (or the rollback / final status), then fires whatever became due
    /// while the process was down. A hook is not re-invoked: its pending report is still awaited
    /// until the persisted deadline (the executor keeps the hook execution id).
    public mutating func resume(at now: Instant) -> [RolloutAction] {
        switch state {
        case .created:
            return []
        case let .finished(outcome):
            return (outcome.rolledBack ? [.rollBack(reason: outcome.reason)] : [])
                + [.finish(status: outcome.status, reason: outcome.reason)]
        case .beforeAllowTraffic:
            return timerFired(at: now)
        case .allowTraffic, .afterAllowTraffic:
            let assert: RolloutAction = .setWeight(version: configuration.newVersion, weight: weight)
            let due = timerFired(at: now)
            if due.contains(where: { if case .setWeight = $0 { true } else { false } }) { return due }
            return [assert] + due
        }
    }

    // MARK: - Transitions

    private var points: [TrafficPoint] { configuration.schedule.points }

    private var aliasTouched: Bool {
        switch state {
        case .allowTraffic, .afterAllowTraffic: true
        case .created, .beforeAllowTraffic, .finished: false
        }
    }

    private func nextShift(after index: Int, since: Instant) -> Instant {
        since + .seconds(60 * (points[index + 1].minute - points[index].minute))
    }

    private func afterDeadline(since: Instant, hook: PostTrafficHook) -> Instant {
        // While the hook is pending only its deadline is a timer; the bake end matters once it passed.
        switch hook {
        case let .awaiting(deadline): return deadline
        case .done: return since + configuration.bakeTime
        }
    }

    /// The end of a step: the last one before 100 % passes only on a Pass while judgement is on; otherwise it is
    /// held up to the hold limit, then Inconclusive follows `onInconclusive`.
    private mutating func gate(index: Int, due: Instant, at now: Instant) -> [RolloutAction] {
        guard let settings = configuration.judgement, index + 1 == points.count - 1, judgement?.verdict != .pass else {
            heldSince = nil
            return shift(to: index + 1, at: now)
        }
        let held = heldSince ?? due
        if now < holdEnd(held) {
            heldSince = held
            return [.wake(at: holdEnd(held))]
        }
        heldSince = nil
        heldOut = true
        let reason = judgement?.reason ?? "no look at the new version's calls was recorded"
        switch settings.onInconclusive {
        case .pass:
            return shift(to: index + 1, at: now)
        case .fail:
            return finish(.failed, "judgement Inconclusive after holding \(format(points[index].percent)) % "
                + "for \(minutesText(settings.holdLimit)) more (--on-inconclusive fail): \(reason); rolled back to the previous version", at: now)
        }
    }

    private func holdEnd(_ since: Instant) -> Instant {
        since + (configuration.judgement?.holdLimit ?? .zero)
    }

    private mutating func failJudged(_ judgement: StepJudgement, at now: Instant) -> [RolloutAction] {
        finish(.failed, "judgement Fail: \(judgement.reason); rolled back to the previous version", at: now)
    }

    private mutating func allowTraffic(at now: Instant) -> [RolloutAction] {
        shift(to: 0, at: now)
    }

    private mutating func shift(to index: Int, at now: Instant) -> [RolloutAction] {
        let set = RolloutAction.setWeight(version: configuration.newVersion, weight: points[index].percent / 100)
        guard index == points.count - 1 else {
            state = .allowTraffic(pointIndex: index, since: now)
            return [set, .wake(at: nextShift(after: index, since: now))]
        }
        if configuration.hooks.contains(.postTraffic) {
            let deadline = now + configuration.hookTimeout
            state = .afterAllowTraffic(since: now, hook: .awaiting(deadline: deadline))
            return [set, .invokeHook(.postTraffic, deadline: deadline),
                    .wake(at: afterDeadline(since: now, hook: .awaiting(deadline: deadline)))]
        }
        state = .afterAllowTraffic(since: now, hook: .done)
        return [set] + bakeOrSucceed(since: now, at: now)
    }

    private mutating func bakeOrSucceed(since: Instant, at now: Instant) -> [RolloutAction] {
        let bakeUntil = since + configuration.bakeTime
        guard now >= bakeUntil else { return [.wake(at: bakeUntil)] }
        let hookText = hookVerdicts[.postTraffic] == .succeeded ? "; PostTraffic hook succeeded" : ""
        var judgementText = ""
        if configuration.judgement != nil, points.count > 1 {
            judgementText = judgement.map { "; judgement \($0.verdict.rawValue): \($0.reason)" } ?? "; judgement Inconclusive: no look was recorded"
        }
        return finish(.succeeded, "version \(configuration.newVersion) receives 100 % of the traffic\(hookText)\(judgementText)", at: now)
    }

    private mutating func finish(_ status: DeploymentStatus, _ reason: String, at now: Instant) -> [RolloutAction] {
        let rollBack = status != .succeeded && aliasTouched
        state = .finished(Outcome(status: status, reason: reason, at: now, rolledBack: rollBack))
        return (rollBack ? [.rollBack(reason: reason)] : []) + [.finish(status: status, reason: reason)]
    }

    private func minutesText(_ d: Duration) -> String {
        let ms = d.wholeMilliseconds
        if ms % 60_000 == 0 { return "\(ms / 60_000) min" }
        return "\(ms / 1000) s"
    }

    private func format(_ percent: Double) -> String {
        percent == percent.rounded() ? String(Int(percent)) : String(percent)
    }
}
