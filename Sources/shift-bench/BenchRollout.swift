import ArgumentParser
import DeploymentEngine
import Foundation
import Rollout
import Runtime
import Synchronization

/// `shift-bench rollout`: a whole rollout driven by the real `RolloutExecutor` on a manual clock, over
/// synthetic invocations routed by the alias's current weights, with an error-rate alarm; beside the
/// floor (the same traffic generated and aggregated with no engine), measured in the same run.
struct BenchRollout: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollout",
        abstract: "A rollout through the deployment engine over synthetic invocations in virtual time, beside the traffic-only floor.")

    @Option(help: "Deployment strategy (a deployment preference Type).")
    var strategy = "Linear10PercentEvery10Minutes"

    @Option(help: "Number of synthetic invocations.")
    var invocations = 1_000_000

    @Option(help: "Virtual minutes of traffic.")
    var minutes = 100

    @Option(help: "How many times to repeat (the median is reported).")
    var repeats = 7

    @Option(help: "Seed of the synthetic traffic.")
    var seed: UInt64 = 42

    @Option(help: "Error probability of the new version (0...1); above the alarm's 5 % it rolls back.")
    var newErrorRate = 0.01

    @Option(help: "Error probability of the old version (0...1).")
    var oldErrorRate = 0.02

    mutating func validate() throws {
        guard invocations > 0, minutes > 0, repeats > 0 else { throw ValidationError("--invocations, --minutes and --repeats must be positive") }
        guard (0...1).contains(newErrorRate), (0...1).contains(oldErrorRate) else { throw ValidationError("error rates are probabilities in 0...1") }
        do { _ = try TrafficSchedule(named: strategy) } catch { throw ValidationError(error.message) }
    }

    func run() async throws {
        let schedule = try TrafficSchedule(named: strategy)
        var engineTimes: [Double] = [], floorTimes: [Double] = []
        var summary: SimulationSummary?
        for _ in 0..<repeats {
            let floorStart = ContinuousClock.now
            _ = await simulate(schedule: schedule, engine: false)
            floorTimes.append(Measure.milliseconds(ContinuousClock.now - floorStart))
            let start = ContinuousClock.now
            let result = await simulate(schedule: schedule, engine: true)
            engineTimes.append(Measure.milliseconds(ContinuousClock.now - start))
            if let summary, summary != result { throw ValidationError("the simulation is not deterministic: \(summary) vs \(result)") }
            summary = result
        }
        let s = summary!
        let engine = Measure.median(engineTimes), floor = Measure.median(floorTimes)
        print("bench rollout: \(strategy), \(English.count(invocations, "invocation")) over \(English.count(minutes, "virtual minute")), "
            + "seed \(seed), \(English.count(repeats, "run"))")
        print("result: \(s.status) — \(s.reason)")
        print("traffic: new version served \(English.count(s.newInvocations, "invocation")) (\(English.count(s.newErrors, "error"))), "
            + "old \(s.oldInvocations) (\(English.count(s.oldErrors, "error"))); \(English.count(s.weightChanges, "weight change"))")
        print("floor (traffic only, no engine): median \(Measure.format(floor)) ms")
        print("engine (RolloutExecutor on a manual clock): median \(Measure.format(engine)) ms, \(Measure.format(engine / floor)) × the floor")
    }

    /// One run: minute by minute, generate that minute's traffic by the alias's weights, then let the
    /// executor see the minute pass (alarm evaluation, timers) before the next one.
    private func simulate(schedule: TrafficSchedule, engine: Bool) async -> SimulationSummary {
        let clock = ManualClock(startMilliseconds: 29_000_000 * 60_000)
        let target = SimulatedTarget()
        let alias = AliasRef(function: "bench", alias: "live")
        var summary = SimulationSummary()
        var generator = SplitMix64(seed: seed)
        let epoch = Instant(millisecondsSinceEpoch: clock.nowMilliseconds)
        let stepMs = Double(minutes) * 60_000 / Double(invocations)
        let metric = { (name: String, version: String) in LambdaMetric.identity(name, functionName: "bench", executedVersion: version) }
        let series = ["1", "2"].map { v in (metric("Invocations", v), metric("Errors", v), metric("Duration", v)) }
        let spec = RolloutSpec(alias: alias, deploymentId: "bench", oldVersion: "1", newVersion: "2",
                               configuration: RolloutConfiguration(newVersion: "2", schedule: schedule),
                               alarms: [.errorRate(above: 5, functionName: "bench", newVersion: "2")])
        let executor = RolloutExecutor(target: target, clock: RuntimeDeploymentClock(clock),
                                       options: .init(evaluationInterval: .seconds(60))) { _, event in
            if case let .finished(_, _, status, _, reason) = event { target.setOutcome("\(status.rawValue): \(reason)") }
        }
        let (inputs, continuation) = AsyncStream<ExecutorInput>.makeStream()
        await withTaskGroup(of: Void.self) { group in
            if engine {
                group.addTask { _ = try? await executor.run([spec], inputs: inputs) }
            }
            var next = 0
            for minute in 0..<minutes {
                if engine { await target.waitUntilIdle(clock) }
                let weight = target.newWeight
                var count = [0, 0], errors = [0, 0]
                var duration = [AlarmDatapoint(values: []), AlarmDatapoint(values: [])]
                let minuteEnd = Int64(minute + 1) * 60_000
                while next < invocations, Int64(Double(next) * stepMs) < minuteEnd {
                    let v = generator.nextUnit() < weight ? 1 : 0
                    count[v] += 1
                    if generator.nextUnit() < (v == 1 ? newErrorRate : oldErrorRate) { errors[v] += 1 }
                    duration[v].add(20 + 200 * generator.nextUnit() * generator.nextUnit(), keepValue: false)
                    next += 1
                }
                let minuteIndex = epoch.minuteIndex + Int64(minute)
                for v in 0..<2 where count[v] > 0 {
                    target.put(series[v].0, minute: minuteIndex, AlarmDatapoint(sampleCount: Double(count[v]), sum: Double(count[v]), minimum: 1, maximum: 1))
                    target.put(series[v].1, minute: minuteIndex, AlarmDatapoint(sampleCount: Double(count[v]), sum: Double(errors[v]),
                                                                                  minimum: errors[v] == count[v] ? 1 : 0, maximum: errors[v] > 0 ? 1 : 0))
                    target.put(series[v].2, minute: minuteIndex, duration[v])
                }
                summary.newInvocations += count[1]; summary.newErrors += errors[1]
                summary.oldInvocations += count[0]; summary.oldErrors += errors[0]
                clock.advance(by: .seconds(60))
            }
            continuation.yield(.abort(reason: "the simulated traffic ended"))
            continuation.finish()
            await group.waitForAll()
        }
        summary.weightChanges = target.weightChanges
        let outcome = target.outcome
        summary.status = String(outcome.prefix { $0 != ":" })
        summary.reason = outcome
        return summary
    }
}

/// What one simulated rollout did; equal across repeats (the traffic is seeded).
private struct SimulationSummary: Equatable {
    var status = "", reason = ""
    var newInvocations = 0, newErrors = 0, oldInvocations = 0, oldErrors = 0, weightChanges = 0
}

/// A target in memory: routing, one-minute metrics and nothing else, so the benchmark measures the engine.
private final class SimulatedTarget: DeploymentTarget {
    private struct State {
        var routing = AliasRouting(primary: "1")
        var metrics = MetricStore()
        var weightChanges = 0
        var outcome = "no outcome"
        var transitions = 0
    }

    private let state = Mutex(State())
    let hookOutcomes = AsyncStream<HookOutcome> { _ in }

    var newWeight: Double { state.withLock { $0.routing.additional["2"] ?? ($0.routing.primary == "2" ? 1 : 0) } }
    var weightChanges: Int { state.withLock { $0.weightChanges } }
    var outcome: String { state.withLock { $0.outcome } }
    func setOutcome(_ text: String) { state.withLock { $0.outcome = text } }
    func put(_ metric: MetricIdentity, minute: Int64, _ point: AlarmDatapoint) { state.withLock { $0.metrics.put(metric, minute: minute, point) } }

    /// Waits (yielding, never sleeping) until the executor sleeps on the clock again after an advance.
    func waitUntilIdle(_ clock: ManualClock) async {
        while clock.sleeperCount == 0, outcome == "no outcome" { await Task.yield() }
    }

    func run() async {}
    func previewPublish(function: String) async throws -> PublishPreview { PublishPreview(version: "2", wouldCreate: false, codeSha256: "", latestVersion: 2, changes: []) }
    func versionMatchesDisk(function: String, version: String) async throws -> Bool { version == "2" }
    func publish(function: String) async throws -> PublishedVersion { PublishedVersion(version: "2", codeSha256: "", created: false) }
    func routing(of alias: AliasRef) async throws -> AliasRouting? { state.withLock { $0.routing } }
    func createAlias(_ alias: AliasRef, version: String) async throws { state.withLock { $0.routing = AliasRouting(primary: version) } }
    func setRouting(of alias: AliasRef, to routing: AliasRouting) async throws {
        state.withLock {
            $0.routing = routing
            $0.weightChanges += 1
        }
    }
    func startHook(function: String, deploymentId: String, executionId: String) async throws {}
    func finishHooks(deploymentId: String) async {}
    var metrics: any MetricDataSource { state.withLock { $0.metrics } }
    func traffic(of alias: AliasRef, version: String, from: Instant, to: Instant) async -> VersionTraffic {
        VersionTraffic(version: version, invocations: 0, errors: 0)
    }
    func durations(of alias: AliasRef, version: String, from: Instant, to: Instant) async -> DurationDistribution {
        DurationDistribution([])
    }
    func invoke(_ alias: AliasRef, payload: [UInt8]) async {}
    func lease(_ alias: AliasRef, holder: String) throws -> any AliasLease { NoLease() }
    func createDeployment(_ record: JournalRecord) async throws {}
    func recordTransition(deploymentId: String, at: Instant, kind: String, status: DeploymentStatus?, progress: [UInt8]?,
                          reason: String?, ended: Bool) async throws {
        state.withLock { $0.transitions += 1 }
    }
    func recordEvent(deploymentId: String, _ event: RecordedEvent) async throws {}
    func recordedEvents(deploymentId: String) async throws -> [RecordedEvent] { [] }
    func deployments(ofRun run: String) async throws -> [JournalRecord] { [] }
    func deployment(id: String) async throws -> JournalRecord? { nil }
    func recentDeployments(limit: Int) async throws -> [JournalRecord] { [] }
    func errorLogs(function: String, version: String, from: Instant, to: Instant, limit: Int) async throws -> [LogLine] { [] }
    func deployments(of alias: AliasRef, limit: Int) async throws -> [JournalRecord] { [] }
    func unfinishedDeployments(of alias: AliasRef) async throws -> [JournalRecord] { [] }
}

private struct NoLease: AliasLease {
    func release() {}
}

/// SplitMix64: fast, seeded, good enough for synthetic traffic.
private struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A uniform double in [0, 1).
    mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}
