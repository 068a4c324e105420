/// The lifecycle hooks CodeDeploy runs around traffic shifting for Lambda.
public enum LifecycleHook: String, Sendable, Hashable, Codable, CodingKeyRepresentable, CaseIterable {
    /// `BeforeAllowTraffic`: runs while the new version still has 0 %.
    case preTraffic = "PreTraffic"
    /// `AfterAllowTraffic`: runs once the new version has 100 %.
    case postTraffic = "PostTraffic"
}

/// What a hook reported (or failed to report).
public enum HookVerdict: String, Sendable, Hashable, Codable {
    case succeeded = "Succeeded"
    case failed = "Failed"
    /// No `PutLifecycleEventHookExecutionStatus` arrived before the hook deadline.
    case timedOut = "TimedOut"
}

/// A CodeDeploy deployment status, spelled as AWS spells it.
public enum DeploymentStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case created = "Created"
    case inProgress = "InProgress"
    case baking = "Baking"
    case succeeded = "Succeeded"
    case failed = "Failed"
    case stopped = "Stopped"

    /// Succeeded, Failed and Stopped never change again.
    public var isFinal: Bool {
        switch self {
        case .succeeded, .failed, .stopped: true
        case .created, .inProgress, .baking: false
        }
    }
}

/// Something the executor must do for the rollout; it only `switch`es on these.
///
/// All actions are idempotent, so re-emitting them after a restart is safe.
public enum RolloutAction: Sendable, Equatable, Codable {
    /// Invoke the hook function asynchronously; its report must arrive by `deadline`.
    case invokeHook(LifecycleHook, deadline: Instant)
    /// Route `weight` (0…1) of the alias's traffic to `version`. `1` means: the alias's primary
    /// version becomes `version` with no additional weights (AWS forbids a 1.0 additional weight).
    case setWeight(version: String, weight: Double)
    /// Call `timerFired(at:)` at (or after) this instant. A new `wake` replaces any earlier one.
    case wake(at: Instant)
    /// Put the alias back on the old version alone at once (new version's weight 0).
    /// Only emitted when the alias had been touched by this rollout.
    case rollBack(reason: String)
    /// The rollout is over; exactly one `finish` is ever emitted (re-emitted only by `resume`).
    case finish(status: DeploymentStatus, reason: String)
}

/// What a rollout needs to know up front.
public struct RolloutConfiguration: Sendable, Equatable, Codable {
    /// The version receiving traffic (e.g. "2").
    public var newVersion: String
    public var schedule: TrafficSchedule
    /// The hooks the deployment preference declares; absent hooks are skipped.
    public var hooks: Set<LifecycleHook>
    /// How long a hook may take to report before it counts as failed (CodeDeploy: one hour).
    public var hookTimeout: Duration
    /// Extra time at 100 % during which alarms can still roll back (0 = CodeDeploy's Lambda behaviour).
    public var bakeTime: Duration
    /// Judging the new version against the old (nil: alarms and hooks only). It gates the last step before 100 %.
    public var judgement: JudgementSettings?

    public init(
        newVersion: String,
        schedule: TrafficSchedule,
        hooks: Set<LifecycleHook> = [],
        hookTimeout: Duration = .seconds(3600),
        bakeTime: Duration = .zero,
        judgement: JudgementSettings? = nil
    ) {
        self.newVersion = newVersion
        self.schedule = schedule
        self.hooks = hooks
        self.hookTimeout = hookTimeout
        self.bakeTime = bakeTime
        self.judgement = judgement
    }
}

/// A public, read-only view of where a rollout is (for progress output and reports).
public enum RolloutPhase: Sendable, Equatable, Codable {
    /// Not started.
    case created
    /// Waiting for the PreTraffic hook; the alias is untouched.
    case beforeAllowTraffic(hookDeadline: Instant)
    /// Holding `percent` (point `pointIndex` of the schedule) until `nextShiftAt`.
    case allowTraffic(pointIndex: Int, percent: Double, since: Instant, nextShiftAt: Instant)
    /// 100 % reached; waiting for the PostTraffic hook (nil once it succeeded or when there is none) and the bake time.
    case afterAllowTraffic(since: Instant, hookDeadline: Instant?, bakeUntil: Instant)
    /// Over.
    case finished(status: DeploymentStatus, reason: String, at: Instant, rolledBack: Bool)
}
