import Foundation
import Rollout
import Runtime
import Synchronization
import TemplateModel

/// The deployment target on this machine: the state directory's store, the local runtime running the
/// template's functions, the Invoke API (where hooks report through CodeDeploy's call) and its metrics.
public final class LocalTarget: TemplateAwareTarget {
    public let stack: ServiceStack
    public let stateDirectory: URL
    let hooks: LifecycleHooks
    /// The Invoke API, where hooks report: bound at open, served by `run()`. A server stops for good when its
    /// run ends, so each later run (the next deployment on this target) binds a new one on the same address.
    private let idleServer: Mutex<InvokeAPIServer?>
    private let endpoint: (host: String, port: Int)
    private let region: String
    private let hookRequests = Relay<HookRequest>()
    private let outcomes: Relay<HookOutcome>
    /// The deployments this process created: the ones a StopDeployment request can stop here.
    let createdDeployments = Mutex<Set<String>>([])

    private struct HookRequest: Sendable {
        var function: String
        var deploymentId: String
        var executionId: String
    }

    private init(stack: ServiceStack, stateDirectory: URL, server: InvokeAPIServer, hooks: LifecycleHooks, outcomes: Relay<HookOutcome>,
                 region: String) {
        self.stack = stack
        self.hooks = hooks
        self.stateDirectory = stateDirectory
        self.idleServer = Mutex(server)
        self.endpoint = (server.host, server.port)
        self.outcomes = outcomes
        self.region = region
    }

    /// Every hook outcome from now on (and those that arrived while nobody read them), for one reader at a time.
    public var hookOutcomes: AsyncStream<HookOutcome> { outcomes.stream() }

    /// Opens the state directory and its time base; functions are loaded from the template by `load`.
    /// - Parameters:
    ///   - clock: replaces the state directory's time base (tests pass a `ManualClock`).
    ///   - configure: adjusts the runtime's options (e.g. the account concurrency limit).
    public static func open(stateDirectory: URL, region: String = "us-east-1", accountId: String = "123456789012", timeScale: Double = 1,
                            clock: (any RuntimeClock)? = nil, routingSeed: UInt64? = nil, readOnly: Bool = false,
                            configure: (inout LocalRuntime.Options) -> Void = { _ in }) async throws -> LocalTarget {
        let stack = try await ServiceSetup.open(definitions: [], stateDirectory: stateDirectory, region: region, accountId: accountId,
                                                timeScale: timeScale, clock: clock, routingSeed: routingSeed, readOnly: readOnly,
                                                configure: configure)
        let target: LocalTarget
        do {
            let outcomes = Relay<HookOutcome>()
            let hooks = LifecycleHooks { report in
                outcomes.send(HookOutcome(deploymentId: report.deploymentId, executionId: report.executionId, succeeded: report.succeeded))
            }
            let server = try await InvokeAPIServer.bind(host: "127.0.0.1", port: 0, service: stack.service, hooks: hooks)
            target = LocalTarget(stack: stack, stateDirectory: stateDirectory, server: server, hooks: hooks, outcomes: outcomes, region: region)
        } catch {
            await stack.close()
            throw error
        }
        await stack.service.setEndpoint(target.endpointURL, region: region)
        return target
    }

    /// Runs `body` on a target that only reads the state directory (a dry run): it writes nothing there,
    /// and a directory that does not exist yet reads as a fresh one (nothing deployed).
    public static func withPlanningTarget<T: Sendable>(stateDirectory: URL, region: String, accountId: String, timeScale: Double,
                                                       configure: (inout LocalRuntime.Options) -> Void = { _ in },
                                                       _ body: (LocalTarget) async throws -> T) async throws -> T {
        let exists = FileManager.default.fileExists(atPath: stateDirectory.appendingPathComponent("state.sqlite").path)
        let directory = exists ? stateDirectory
            : FileManager.default.temporaryDirectory.appendingPathComponent("shift-plan-\(UUID().uuidString)")
        defer { if !exists { try? FileManager.default.removeItem(at: directory) } }
        let target = try await open(stateDirectory: directory, region: region, accountId: accountId, timeScale: timeScale,
                                    clock: ManualClock(startMilliseconds: StateClock.peek(directory: stateDirectory)), readOnly: exists,
                                    configure: configure)
        do {
            let result = try await body(target)
            await target.close()
            return result
        } catch {
            await target.close()
            throw error
        }
    }

    /// The deployment clock reading this target's time base.
    public var deploymentClock: any DeploymentClock { RuntimeDeploymentClock(stack.clock) }

    /// Stops every function process and saves metrics, logs and the time base.
    public func close() async {
        hookRequests.finish()
        outcomes.finish()
        await idleServer.withLock { server in
            defer { server = nil }
            return server
        }?.closeListener()
        await stack.close()
    }

    private var endpointURL: String { "http://\(endpoint.host):\(endpoint.port)" }

    /// The server this run serves: the one bound at open, or a new one on the same address (functions were
    /// told its URL); if that address was taken meanwhile, any free port, which functions started from now on learn.
    private func serverForRun() async -> InvokeAPIServer? {
        if let server = idleServer.withLock({ server -> InvokeAPIServer? in
            defer { server = nil }
            return server
        }) { return server }
        if let server = try? await InvokeAPIServer.bind(host: endpoint.host, port: endpoint.port, service: stack.service, hooks: hooks) {
            return server
        }
        guard let server = try? await InvokeAPIServer.bind(host: endpoint.host, port: 0, service: stack.service, hooks: hooks) else { return nil }
        await stack.service.setEndpoint(server.url, region: region)
        return server
    }

    public func load(_ template: Template) async throws {
        try await load(template, requiring: [])
    }

    /// Registers the template's functions, refusing those in `required` that cannot run here.
    public func load(_ template: Template, requiring required: [String]) async throws {
        let (definitions, skipped) = ServiceSetup.definitions(template: template, stateDirectory: stateDirectory)
        for logicalId in required {
            if let reason = skipped[logicalId] { throw DeploymentError(.notDeployable, "\(logicalId) cannot be deployed locally: \(reason)") }
        }
        try await stack.service.register(definitions)
    }

    public func run() async {
        let service = stack.service
        let server = await serverForRun()
        let outcomes = self.outcomes
        await withDiscardingTaskGroup { group in
            if let server { group.addTask { try? await server.run() } }
            group.addTask { await service.runEventQueue() }
            group.addTask { await self.stack.metrics.runPeriodicFlush(every: .milliseconds(250)) }
            group.addTask { await self.stack.logs.run(every: LogRecorder.flushInterval) }
            if let clock = self.stack.clock as? StateClock {
                group.addTask { await clock.runPeriodicCheckpoints() }
            }
            var hookFunctions: Set<String> = []
            for await request in hookRequests.stream() {
                hookFunctions.insert(request.function)
                // CodeDeploy invokes hooks asynchronously; a hook function that fails without reporting fails
                // the hook at once instead of leaving the deployment waiting for its deadline.
                group.addTask {
                    let payload = Array(#"{"DeploymentId":"\#(request.deploymentId)","LifecycleEventHookExecutionId":"\#(request.executionId)"}"#.utf8)
                    var failure: String?
                    do {
                        let response = try await service.invoke(InvokeRequest(function: request.function, payload: payload))
                        if response.functionError != nil {
                            failure = "\(request.function) raised an error: \(String(decoding: response.payload.prefix(500), as: UTF8.self))"
                        }
                    } catch {
                        failure = "\(request.function) could not be invoked: \(error)"
                    }
                    guard let failure else { return }
                    // If the hook reported before failing, the executor already has its outcome and ignores this one.
                    outcomes.send(HookOutcome(deploymentId: request.deploymentId, executionId: request.executionId, succeeded: false, failure: failure))
                }
            }
            group.cancelAll()
            // The deployment is over (or its process is going away): a hook still running would hold it
            // until the hook's own timeout.
            for function in hookFunctions { await stack.runtime.terminateEnvironments(of: function) }
        }
    }

    // MARK: Versions and aliases

    public func previewPublish(function: String) async throws -> PublishPreview {
        let plan = try await stack.service.publishPreview(function: function)
        let next = plan.wouldCreate ? (plan.latestVersion ?? 0) + 1 : (plan.latestVersion ?? 1)
        return PublishPreview(version: String(next), wouldCreate: plan.wouldCreate, codeSha256: plan.codeSha256,
                              latestVersion: plan.latestVersion, changes: plan.changes)
    }

    public func versionMatchesDisk(function: String, version: String) async throws -> Bool {
        guard let number = Int(version) else { return false }
        return try await !stack.service.publishPreview(function: function, comparedWith: number).wouldCreate
    }

    public func publish(function: String) async throws -> PublishedVersion {
        let (version, created) = try await stack.service.publishVersion(function: function, rule: .autoPublishAlias)
        return PublishedVersion(version: version.versionString, codeSha256: version.codeSha256, created: created)
    }

    public func routing(of alias: AliasRef) async throws -> AliasRouting? {
        do {
            let configuration = try await stack.store.getAlias(function: alias.function, name: alias.alias)
            return AliasRouting(primary: configuration.functionVersion, additional: configuration.routingConfig?.additionalVersionWeights ?? [:])
        } catch let error as StateError where error.code == .resourceNotFound {
            return nil
        }
    }

    public func createAlias(_ alias: AliasRef, version: String) async throws {
        _ = try await stack.store.createAlias(function: alias.function, name: alias.alias, functionVersion: version,
                                              description: "managed by shift deploy")
    }

    public func setRouting(of alias: AliasRef, to routing: AliasRouting) async throws {
        _ = try await stack.store.updateAlias(function: alias.function, name: alias.alias, functionVersion: routing.primary,
                                              routingConfig: RoutingConfig(additionalVersionWeights: routing.additional))
    }

    // MARK: Hooks

    public func startHook(function: String, deploymentId: String, executionId: String) async throws {
        await hooks.expect(deploymentId: deploymentId, executionId: executionId)
        hookRequests.send(HookRequest(function: function, deploymentId: deploymentId, executionId: executionId))
    }

    public func finishHooks(deploymentId: String) async {
        await hooks.finish(deploymentId: deploymentId)
    }

    // MARK: Metrics and traffic

    public var metrics: any MetricDataSource { RuntimeMetricSource(metrics: stack.metrics) }

    /// The one-minute datapoints of `metric` for what `version` served through `alias`, periods starting in [from, to).
    private func datapoints(_ metric: MetricName, of alias: AliasRef, version: String, from: Instant, to: Instant) -> [Runtime.MetricDatapoint] {
        let dimensions = ["FunctionName": alias.function, "Resource": alias.description, "ExecutedVersion": version]
        return (try? stack.metrics.datapoints(metric: metric, dimensions: dimensions, from: from.millisecondsSinceEpoch,
                                              to: to.millisecondsSinceEpoch)) ?? []
    }

    public func traffic(of alias: AliasRef, version: String, from: Instant, to: Instant) async -> VersionTraffic {
        func sum(_ metric: MetricName) -> Int {
            Int(datapoints(metric, of: alias, version: version, from: from, to: to).reduce(0) { $0 + $1.sum })
        }
        return VersionTraffic(version: version, invocations: sum(.invocations), errors: sum(.errors))
    }

    public func durations(of alias: AliasRef, version: String, from: Instant, to: Instant) async -> DurationDistribution {
        let points = datapoints(.duration, of: alias, version: version, from: from, to: to)
        return DurationDistribution(points.flatMap { $0.valueCounts.map { DurationDistribution.Bucket(milliseconds: $0.value, count: $0.count) } })
    }

    public func invoke(_ alias: AliasRef, payload: [UInt8]) async {
        _ = try? await stack.service.invoke(InvokeRequest(function: alias.function, qualifier: alias.alias, payload: payload))
    }

    // MARK: Journal

    public func lease(_ alias: AliasRef, holder: String) throws -> any AliasLease {
        do {
            return LocalAliasLease(lock: try AliasLock.acquire(directory: stateDirectory, function: alias.function, alias: alias.alias, holder: holder))
        } catch let error as StateError where error.code == .stateLocked {
            throw DeploymentError(.aliasBusy, error.message)
        }
    }

    public func createDeployment(_ record: JournalRecord) async throws {
        createdDeployments.withLock { _ = $0.insert(record.id) }
        try await stack.store.createDeployment(DeploymentRecord(
            id: record.id, functionName: record.alias.function, aliasName: record.alias.alias, status: record.status.rawValue,
            currentVersion: record.fromVersion.flatMap(Int.init), targetVersion: Int(record.toVersion) ?? 0, reason: record.reason,
            startedAt: record.startedAt.millisecondsSinceEpoch, endedAt: record.endedAt?.millisecondsSinceEpoch,
            engineState: record.progress.map { Data($0) }))
    }

    public func recordTransition(deploymentId: String, at: Instant, kind: String, status: DeploymentStatus?, progress: [UInt8]?,
                                 reason: String?, ended: Bool) async throws {
        _ = try await stack.store.recordTransition(deploymentId: deploymentId, DeploymentTransition(
            at: at.millisecondsSinceEpoch, kind: kind, status: status?.rawValue, engineState: progress.map { Data($0) }, reason: reason,
            endedAt: ended ? at.millisecondsSinceEpoch : nil))
    }

    /// Recorded events are journal entries of kind `event <run>`: the run is found by its kind, and they change nothing of the deployment row.
    private static let eventKindPrefix = "event "

    public func recordEvent(deploymentId: String, _ event: RecordedEvent) async throws {
        let detail = try JSONEncoder().encode(event)
        _ = try await stack.store.recordTransition(deploymentId: deploymentId, DeploymentTransition(
            at: event.at.millisecondsSinceEpoch, kind: Self.eventKindPrefix + event.run, detail: detail))
    }

    public func recordedEvents(deploymentId: String) async throws -> [RecordedEvent] {
        let decoder = JSONDecoder()
        // An entry written by another version of shift that no longer decodes is left out rather than failing the report.
        return try await stack.store.deploymentEvents(deploymentId: deploymentId).compactMap { entry in
            guard entry.kind.hasPrefix(Self.eventKindPrefix), let detail = entry.detail else { return nil }
            return try? decoder.decode(RecordedEvent.self, from: detail)
        }
    }

    public func deployments(ofRun run: String) async throws -> [JournalRecord] {
        var records: [JournalRecord] = []
        for id in try await stack.store.deploymentIds(withEventKind: Self.eventKindPrefix + run) {
            if let record = try await deployment(id: id) { records.append(record) }
        }
        return records
    }

    public func deployment(id: String) async throws -> JournalRecord? {
        do {
            return JournalRecord(local: try await stack.store.deployment(id: id))
        } catch let error as StateError where error.code == .resourceNotFound {
            return nil
        }
    }

    public func recentDeployments(limit: Int) async throws -> [JournalRecord] {
        try await stack.store.listDeployments(limit: limit).map(JournalRecord.init(local:))
    }

    public func errorLogs(function: String, version: String, from: Instant, to: Instant, limit: Int) async throws -> [LogLine] {
        // Lines still buffered (the last calls of a deployment that just ended) belong in its report.
        try? await stack.logs.flush()
        let records = try await stack.store.logs(function: function, from: from.millisecondsSinceEpoch, to: to.millisecondsSinceEpoch, limit: 100_000)
            .filter { $0.version == version }
        var failed = Set<String>()
        for record in records where Self.marksFailure(record.message) {
            if let id = record.requestId { failed.insert(id) }
        }
        let lines = records.filter { record in
            guard let id = record.requestId, failed.contains(id) else { return false }
            return !["START RequestId: ", "END RequestId: "].contains { record.message.hasPrefix($0) }
        }
        return lines.suffix(limit).map { LogLine(at: Instant(millisecondsSinceEpoch: $0.timestamp), requestId: $0.requestId, message: $0.message) }
    }

    /// Whether a log line says its call failed, as the runtimes write it: Python's `[ERROR] Type: message`,
    /// Node's `ERROR\tInvoke Error`, or the REPORT line of a call that ended its environment (`Status: error`).
    static func marksFailure(_ message: String) -> Bool {
        message.hasPrefix("[ERROR]") || message.contains("\tERROR\tInvoke Error")
            || (message.hasPrefix("REPORT RequestId: ") && message.contains("\tStatus: error"))
    }

    public func deployments(of alias: AliasRef, limit: Int) async throws -> [JournalRecord] {
        try await stack.store.listDeployments(function: alias.function, alias: alias.alias, limit: limit).map(JournalRecord.init(local:))
    }

    public func unfinishedDeployments(of alias: AliasRef) async throws -> [JournalRecord] {
        try await stack.store.unfinishedDeployments()
            .filter { $0.functionName == alias.function && $0.aliasName == alias.alias }
            .map(JournalRecord.init(local:))
    }
}

extension JournalRecord {
    /// A stored deployment row as the engine sees it.
    init(local record: DeploymentRecord) {
        self.init(id: record.id, alias: AliasRef(function: record.functionName, alias: record.aliasName),
                  status: DeploymentStatus(rawValue: record.status) ?? .inProgress, fromVersion: record.currentVersion.map(String.init),
                  toVersion: String(record.targetVersion), startedAt: Instant(millisecondsSinceEpoch: record.startedAt),
                  endedAt: record.endedAt.map(Instant.init(millisecondsSinceEpoch:)), reason: record.reason,
                  progress: record.engineState.map(Array.init))
    }
}

/// An alias lock file held by this process.
struct LocalAliasLease: AliasLease {
    let lock: AliasLock
    func release() { lock.release() }
}

/// A runtime clock (the state directory's time base, or a test's manual clock) as the deployment clock.
public struct RuntimeDeploymentClock: DeploymentClock {
    public let clock: any RuntimeClock

    public init(_ clock: any RuntimeClock) {
        self.clock = clock
    }

    public var now: Instant { Instant(millisecondsSinceEpoch: clock.nowMilliseconds) }

    public func sleep(until deadline: Instant) async throws {
        try await clock.sleep(untilMilliseconds: deadline.millisecondsSinceEpoch)
    }

    public func startFreshPeriod() throws {
        try (clock as? StateClock)?.startFreshMinute()
    }

    /// The real wall clock under a state directory's time base; a test's manual clock is its own wall.
    public var wallMilliseconds: Int64 {
        clock is StateClock ? StateClock.systemWall() : clock.nowMilliseconds
    }
}
