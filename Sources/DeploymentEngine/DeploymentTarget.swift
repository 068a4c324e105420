import Rollout

/// The time base a deployment runs on: instants in, sleeping until deadlines.
public protocol DeploymentClock: Sendable {
    var now: Instant { get }
    /// Returns at `deadline` (at once if it passed); throws `CancellationError` when cancelled.
    func sleep(until deadline: Instant) async throws
    /// Called before new rollouts start: a virtual time base moves to the start of the next minute, so
    /// the deployment's metric periods hold its own traffic alone. A wall clock does nothing.
    func startFreshPeriod() throws
    /// The wall clock (epoch ms), which runs slower than `now` under a time scale: reports show both durations.
    var wallMilliseconds: Int64 { get }
}

extension DeploymentClock {
    public func startFreshPeriod() throws {}
    public var wallMilliseconds: Int64 { now.millisecondsSinceEpoch }
}

/// How an alias routes its traffic: the primary version plus at most a few weighted others (AWS's RoutingConfig).
public struct AliasRouting: Sendable, Equatable, Codable {
    public var primary: String
    public var additional: [String: Double]

    public init(primary: String, additional: [String: Double] = [:]) {
        self.primary = primary
        self.additional = additional
    }

    /// The routing of an alias moving from `old` to `new` with the new version at `weight` (0…1).
    public static func shifting(from old: String, to new: String, weight: Double) -> AliasRouting {
        if weight >= 1 { return AliasRouting(primary: new) }
        if weight <= 0 { return AliasRouting(primary: old) }
        return AliasRouting(primary: old, additional: [new: weight])
    }

    /// Version → share of the traffic (the primary gets the rest), rounded to 1/10,000.
    public var weights: [String: Double] {
        var result: [String: Double] = [:]
        var rest = 1.0
        for (version, weight) in additional {
            let rounded = (weight * 10_000).rounded() / 10_000
            result[version] = rounded
            rest -= rounded
        }
        result[primary] = (rest * 10_000).rounded() / 10_000
        return result
    }
}

/// A version as publishing left it.
public struct PublishedVersion: Sendable, Equatable {
    public var version: String
    public var codeSha256: String
    /// False when the code and configuration matched the latest version, which is returned instead.
    public var created: Bool

    public init(version: String, codeSha256: String, created: Bool) {
        self.version = version
        self.codeSha256 = codeSha256
        self.created = created
    }
}

/// What publishing would do, without doing it.
public struct PublishPreview: Sendable, Equatable {
    /// The version the alias would move to: the next number when `wouldCreate`, else the latest.
    public var version: String
    public var wouldCreate: Bool
    public var codeSha256: String
    public var latestVersion: Int?
    /// What differs from the latest version (`code …`, `Environment`, …).
    public var changes: [String]

    public init(version: String, wouldCreate: Bool, codeSha256: String, latestVersion: Int?, changes: [String]) {
        self.version = version
        self.wouldCreate = wouldCreate
        self.codeSha256 = codeSha256
        self.latestVersion = latestVersion
        self.changes = changes
    }
}

/// A hook's outcome as the target saw it: a `PutLifecycleEventHookExecutionStatus` report, or a hook function that failed before reporting.
public struct HookOutcome: Sendable, Equatable {
    public var deploymentId: String
    public var executionId: String
    public var succeeded: Bool
    /// Why it failed when the hook function itself did (nil for a report).
    public var failure: String?

    public init(deploymentId: String, executionId: String, succeeded: Bool, failure: String? = nil) {
        self.deploymentId = deploymentId
        self.executionId = executionId
        self.succeeded = succeeded
        self.failure = failure
    }
}

/// A deployment as its journal keeps it: enough to show it and to resume it.
public struct JournalRecord: Sendable, Equatable {
    public var id: String
    public var alias: AliasRef
    public var status: DeploymentStatus
    /// The version the alias served before (nil on a first deployment).
    public var fromVersion: String?
    public var toVersion: String
    public var startedAt: Instant
    public var endedAt: Instant?
    public var reason: String?
    /// The executor's persisted progress (JSON), written before every action.
    public var progress: [UInt8]?

    public init(id: String, alias: AliasRef, status: DeploymentStatus, fromVersion: String?, toVersion: String, startedAt: Instant,
                endedAt: Instant? = nil, reason: String? = nil, progress: [UInt8]? = nil) {
        self.id = id
        self.alias = alias
        self.status = status
        self.fromVersion = fromVersion
        self.toVersion = toVersion
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.reason = reason
        self.progress = progress
    }
}

/// The exclusive right to change one alias, held for the life of a deployment.
public protocol AliasLease: Sendable {
    func release()
}

/// What a rollout does to the world: publish versions, route aliases, invoke hooks, read metrics, keep the
/// deployment journal. The local runtime is the first implementation; nothing of it may show through here.
public protocol DeploymentTarget: Sendable {
    /// Runs what the target needs while a deployment is in progress (endpoints hooks report to, queues,
    /// periodic flushes) until cancelled.
    func run() async

    /// What publishing `function` would do now.
    func previewPublish(function: String) async throws -> PublishPreview
    /// Whether published `version` already is what is on disk (code and what counts of the configuration).
    func versionMatchesDisk(function: String, version: String) async throws -> Bool
    /// Publishes `function` from its current code unless nothing that counts changed (SAM's AutoPublishAlias rule).
    func publish(function: String) async throws -> PublishedVersion

    /// The alias's routing, nil when it does not exist.
    func routing(of alias: AliasRef) async throws -> AliasRouting?
    func createAlias(_ alias: AliasRef, version: String) async throws
    func setRouting(of alias: AliasRef, to routing: AliasRouting) async throws

    /// Invokes a hook function asynchronously, as CodeDeploy does; its outcome arrives on `hookOutcomes`.
    /// The executor chooses `executionId` and journals it first; a resumed deployment re-invokes the hook it was waiting for with the same id.
    func startHook(function: String, deploymentId: String, executionId: String) async throws
    /// Late reports of this deployment's hooks are refused from now on.
    func finishHooks(deploymentId: String) async
    /// Every hook outcome, in arrival order.
    var hookOutcomes: AsyncStream<HookOutcome> { get }

    /// One-minute datapoints, CloudWatch-style, for alarm evaluation.
    var metrics: any MetricDataSource { get }
    /// Invocations and errors of `version` through `alias` in the periods that start in [from, to).
    func traffic(of alias: AliasRef, version: String, from: Instant, to: Instant) async -> VersionTraffic
    /// Per-invocation durations of `version` through `alias` in the periods that start in [from, to).
    func durations(of alias: AliasRef, version: String, from: Instant, to: Instant) async -> DurationDistribution

    /// Sends one invocation through `alias` (replayed traffic); the answer is not needed.
    func invoke(_ alias: AliasRef, payload: [UInt8]) async

    /// Takes the alias for one deployment, or fails at once naming whoever holds it.
    func lease(_ alias: AliasRef, holder: String) throws -> any AliasLease
    func createDeployment(_ record: JournalRecord) async throws
    /// Appends `kind` to the deployment's journal, with its new status, progress, reason and end, in one write.
    func recordTransition(deploymentId: String, at: Instant, kind: String, status: DeploymentStatus?, progress: [UInt8]?,
                          reason: String?, ended: Bool) async throws
    /// Keeps a rollout's event in its deployment's journal, for reports.
    func recordEvent(deploymentId: String, _ event: RecordedEvent) async throws
    /// A deployment's recorded events, in order.
    func recordedEvents(deploymentId: String) async throws -> [RecordedEvent]
    /// The deployments whose events `run` recorded, in the order they started.
    func deployments(ofRun run: String) async throws -> [JournalRecord]
    /// One deployment, nil when unknown.
    func deployment(id: String) async throws -> JournalRecord?
    /// The most recently started deployments of any alias, newest first.
    func recentDeployments(limit: Int) async throws -> [JournalRecord]
    /// The last `limit` log lines of `version` of `function` in [from, to) that belong to a call that failed, oldest first.
    func errorLogs(function: String, version: String, from: Instant, to: Instant, limit: Int) async throws -> [LogLine]
    /// Deployments of `alias`, newest first.
    func deployments(of alias: AliasRef, limit: Int) async throws -> [JournalRecord]
    /// Deployments of `alias` that never ended (the process running them was killed).
    func unfinishedDeployments(of alias: AliasRef) async throws -> [JournalRecord]
}

/// One line a function wrote, as a report shows it.
public struct LogLine: Sendable, Equatable, Codable {
    public var at: Instant
    public var requestId: String?
    public var message: String

    public init(at: Instant, requestId: String?, message: String) {
        self.at = at
        self.requestId = requestId
        self.message = message
    }
}
