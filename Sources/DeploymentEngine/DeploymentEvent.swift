import Foundation
import Rollout

/// One alias of one function: what a deployment moves.
public struct AliasRef: Sendable, Hashable, Codable, CustomStringConvertible {
    public var function: String
    public var alias: String

    public init(function: String, alias: String) {
        self.function = function
        self.alias = alias
    }

    public var description: String { "\(function):\(alias)" }
}

/// Invocations and errors one version served through the alias during a deployment.
public struct VersionTraffic: Sendable, Equatable, Codable {
    public var version: String
    public var invocations: Int
    public var errors: Int

    public init(version: String, invocations: Int, errors: Int) {
        self.version = version
        self.invocations = invocations
        self.errors = errors
    }
}

/// Where one alias's rollout stands, for live views.
public struct RolloutProgress: Sendable, Equatable, Codable {
    public var alias: AliasRef
    public var oldVersion: String
    public var newVersion: String
    public var phase: RolloutPhase
    public var stepCount: Int
    public var traffic: [VersionTraffic]
    /// Alarm states by name, sorted by name.
    public var alarms: [AlarmStatus]
    /// The latest judgement's verdict (nil when the rollout is not judged or not looked at yet).
    public var verdict: Verdict?
}

/// One alarm's state, as a live view shows it.
public struct AlarmStatus: Sendable, Equatable, Codable {
    public var name: String
    public var state: AlarmState

    public init(name: String, state: AlarmState) {
        self.name = name
        self.state = state
    }
}

/// What the dry run says about one alias.
public struct AliasPlanReport: Sendable, Equatable, Codable {
    public var alias: AliasRef
    public var currentVersion: String?
    public var newVersion: String
    public var publishes: Bool
    public var codeSha256: String
    public var latestVersion: Int?
    public var changes: [String]
    public var decision: AliasDecision
    public var schedule: TrafficSchedule
    public var scheduleSource: String
    /// When each point of the schedule would apply, from now, on the state directory's time base.
    public var timeline: [Instant]
    public var hooks: [LifecycleHook: String]
    public var alarms: [String]
    /// Whether this plan's alarms (and the judgement) could catch a faulty version, simulated at the expected
    /// traffic; nil when the schedule has nothing to watch (AllAtOnce without alarms) or nothing would change.
    public var detection: DetectionAnalysis?
}

/// What a deployment does to one alias.
public enum AliasDecision: Sendable, Equatable, Codable {
    /// No alias yet: create it on the new version, no shift (first deployment).
    case create
    /// The alias already serves the new version alone.
    case unchanged
    /// Shift traffic by the schedule from `from` to the new version.
    case shift(from: String)
    /// Continue the interrupted deployment `deploymentId` (same target version) where it stood.
    case resume(deploymentId: String, from: String)
}

/// Everything a deployment reports, in order: the one stream that the text and JSON renderers, reports and tests consume.
/// The events of a rollout are also kept in the deployment's journal (`RecordedEvent`), so that a report can be made later.
public enum DeploymentEvent: Sendable, Equatable, Codable {
    /// Something the user should know that does not stop the deployment.
    case warning(String)
    /// No function of the template has an alias to deploy to.
    case nothingToDeploy(reason: String)
    /// The dry run's plan for one alias.
    case planned(AliasPlanReport)
    /// The dry run is over; nothing changed.
    case planFinished(aliases: Int)
    /// A version was published (`created`) or the code on disk matches an existing one.
    case versionPublished(AliasRef, version: String, codeSha256: String, created: Bool)
    /// First deployment: the alias was created on `version`.
    case aliasCreated(AliasRef, version: String)
    /// The alias already serves `version`: nothing to do.
    case aliasUnchanged(AliasRef, version: String)
    /// An interrupted deployment was closed: rolled back to `version` (its target no longer matches, or a rollback was asked for).
    case deploymentRecovered(AliasRef, deploymentId: String, version: String, reason: String)
    /// A rollout began (or `resumed` after an interruption), watching `alarms` (names).
    case deploymentStarted(AliasRef, deploymentId: String, from: String, to: String, schedule: TrafficSchedule, alarms: [String], resumed: Bool)
    /// A lifecycle hook function was invoked and must report by `deadline`.
    case hookStarted(AliasRef, hook: LifecycleHook, function: String, executionId: String, deadline: Instant)
    /// A hook reported (or its function failed before reporting).
    case hookFinished(AliasRef, hook: LifecycleHook, succeeded: Bool, detail: String?)
    /// The alias now routes these weights (version → 0…1).
    case trafficShifted(AliasRef, weights: [String: Double])
    /// An alarm changed state.
    case alarmChanged(AliasRef, alarm: String, state: AlarmState, reason: String)
    /// The judgement of the new version against the old changed its verdict (or a check's), with its reason.
    case judged(AliasRef, StepJudgement)
    /// All traffic was put back on `version`.
    case rolledBack(AliasRef, deploymentId: String, version: String, reason: String)
    /// The rollout ended; `version` is what the alias serves.
    case finished(AliasRef, deploymentId: String, status: DeploymentStatus, version: String, reason: String)
    /// Periodic: where every unfinished rollout stands.
    case progress([RolloutProgress])
    /// After the end: what each version served during the deployment, counted up to the instant it ended. A first
    /// deployment (the alias created, no shift) has one too, without a deployment id or a version it came from.
    case summary(AliasRef, deploymentId: String?, status: DeploymentStatus, from: String?, to: String, reason: String, traffic: [VersionTraffic])
}

/// A rollout's event as its deployment's journal keeps it: when (on the time base, and on the wall clock, which
/// differ under `--time-scale`), and the run (one `shift deploy`) that told it, named by its first deployment's id.
public struct RecordedEvent: Sendable, Equatable, Codable {
    public var at: Instant
    public var wallMilliseconds: Int64
    public var run: String
    public var event: DeploymentEvent

    public init(at: Instant, wallMilliseconds: Int64, run: String, event: DeploymentEvent) {
        self.at = at
        self.wallMilliseconds = wallMilliseconds
        self.run = run
        self.event = event
    }
}

/// Receives events with the instant (on the deployment's time base) at which they happened.
public typealias DeploymentEventSink = @Sendable (Instant, DeploymentEvent) -> Void

/// Small number formatting shared by the engine's names and the renderers.
public enum TemplateValueFormat {
    public static func percent(_ value: Double) -> String {
        value.rounded() == value ? String(Int(value)) : String(format: "%.2f", value)
    }
}
