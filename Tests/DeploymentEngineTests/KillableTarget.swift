import DeploymentEngine
import Rollout
import Synchronization
import TemplateModel

/// The local target behind a switch that simulates `kill -9` of the deploying process: once `kill()` was
/// called, every call that would change the world throws before reaching the target, so nothing more is
/// written, and the deployment task ends at its next action instead of living on in the test process.
final class KillableTarget: TemplateAwareTarget {
    let base: LocalTarget
    private let killed = Mutex(false)

    struct Killed: Error {}

    init(_ base: LocalTarget) {
        self.base = base
    }

    func kill() { killed.withLock { $0 = true } }

    private func alive() throws {
        if killed.withLock({ $0 }) { throw Killed() }
    }

    func load(_ template: Template) async throws {
        try alive()
        try await base.load(template)
    }

    func run() async { await base.run() }
    func previewPublish(function: String) async throws -> PublishPreview { try await base.previewPublish(function: function) }

    func versionMatchesDisk(function: String, version: String) async throws -> Bool {
        try await base.versionMatchesDisk(function: function, version: version)
    }

    func publish(function: String) async throws -> PublishedVersion {
        try alive()
        return try await base.publish(function: function)
    }

    func routing(of alias: AliasRef) async throws -> AliasRouting? { try await base.routing(of: alias) }

    func createAlias(_ alias: AliasRef, version: String) async throws {
        try alive()
        try await base.createAlias(alias, version: version)
    }

    func setRouting(of alias: AliasRef, to routing: AliasRouting) async throws {
        try alive()
        try await base.setRouting(of: alias, to: routing)
    }

    func startHook(function: String, deploymentId: String, executionId: String) async throws {
        try alive()
        try await base.startHook(function: function, deploymentId: deploymentId, executionId: executionId)
    }

    func finishHooks(deploymentId: String) async { await base.finishHooks(deploymentId: deploymentId) }
    var hookOutcomes: AsyncStream<HookOutcome> { base.hookOutcomes }
    var metrics: any MetricDataSource { base.metrics }

    func traffic(of alias: AliasRef, version: String, from: Instant, to: Instant) async -> VersionTraffic {
        await base.traffic(of: alias, version: version, from: from, to: to)
    }

    func durations(of alias: AliasRef, version: String, from: Instant, to: Instant) async -> DurationDistribution {
        await base.durations(of: alias, version: version, from: from, to: to)
    }

    func invoke(_ alias: AliasRef, payload: [UInt8]) async {
        guard (try? alive()) != nil else { return }
        await base.invoke(alias, payload: payload)
    }

    func lease(_ alias: AliasRef, holder: String) throws -> any AliasLease {
        try alive()
        return try base.lease(alias, holder: holder)
    }

    func createDeployment(_ record: JournalRecord) async throws {
        try alive()
        try await base.createDeployment(record)
    }

    func recordTransition(deploymentId: String, at: Instant, kind: String, status: DeploymentStatus?, progress: [UInt8]?,
                          reason: String?, ended: Bool) async throws {
        try alive()
        try await base.recordTransition(deploymentId: deploymentId, at: at, kind: kind, status: status, progress: progress,
                                        reason: reason, ended: ended)
    }

    func recordEvent(deploymentId: String, _ event: RecordedEvent) async throws {
        try alive()
        try await base.recordEvent(deploymentId: deploymentId, event)
    }
    func recordedEvents(deploymentId: String) async throws -> [RecordedEvent] { try await base.recordedEvents(deploymentId: deploymentId) }
    func deployments(ofRun run: String) async throws -> [JournalRecord] { try await base.deployments(ofRun: run) }
    func deployment(id: String) async throws -> JournalRecord? { try await base.deployment(id: id) }
    func recentDeployments(limit: Int) async throws -> [JournalRecord] { try await base.recentDeployments(limit: limit) }
    func errorLogs(function: String, version: String, from: Instant, to: Instant, limit: Int) async throws -> [LogLine] {
        try await base.errorLogs(function: function, version: version, from: from, to: to, limit: limit)
    }
    func deployments(of alias: AliasRef, limit: Int) async throws -> [JournalRecord] { try await base.deployments(of: alias, limit: limit) }
    func unfinishedDeployments(of alias: AliasRef) async throws -> [JournalRecord] { try await base.unfinishedDeployments(of: alias) }
}
