import ArgumentParser
import Foundation
import Rollout

/// `shift bench rollout`: a whole canary in virtual time — synthetic invocations routed by the
/// current weight, per-minute metrics, an error-rate alarm evaluated every minute, the state machine.
struct BenchRollout: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollout",
        abstract: "Simulate a traffic-shifting rollout over synthetic invocations in virtual time."
    )

    @Option(help: "Deployment strategy (a deployment preference Type).")
    var strategy = "Linear10PercentEvery10Minutes"

    @Option(help: "Number of synthetic invocations.")
    var invocations = 1_000_000

    @Option(help: "Virtual minutes of traffic.")
    var minutes = 100

    @Option(help: "How many times to repeat the simulation (the median is reported).")
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

    func run() throws {
        let schedule = try TrafficSchedule(named: strategy)
        let clock = ContinuousClock()
        var times: [Duration] = []
        var summary: Simulation.Summary?
        for _ in 0..<repeats {
            var simulation = Simulation(
                schedule: schedule, invocations: invocations, minutes: minutes, seed: seed,
                errorRate: (old: oldErrorRate, new: newErrorRate))
            let started = clock.now
            let result = try simulation.run()
            times.append(clock.now - started)
            if let summary, summary != result { throw ValidationError("the simulation is not deterministic") }
            summary = result
        }
        let sorted = times.sorted()
        let seconds = { (d: Duration) in Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
        let s = summary!
        print("bench rollout: \(strategy), \(invocations) invocations over \(minutes) virtual minutes, seed \(seed), \(repeats) runs")
        print("result: \(s.status.rawValue) at minute \(s.finishedAtMinute.map(String.init) ?? "-") — \(s.reason)")
        print("traffic: new version served \(s.newInvocations) invocations (\(s.newErrors) errors), old \(s.oldInvocations) (\(s.oldErrors) errors); \(s.alarmEvaluations) alarm evaluations, \(s.weightChanges) weight changes")
        print(String(format: "wall time: median %.3f s (min %.3f s, max %.3f s)", seconds(sorted[sorted.count / 2]), seconds(sorted[0]), seconds(sorted[sorted.count - 1])))
    }
}

/// The simulation of one rollout in virtual time.
private struct Simulation {
    struct Summary: Equatable {
        var status: DeploymentStatus
        var reason: String
        var finishedAtMinute: Int?
        var newInvocations = 0, newErrors = 0, oldInvocations = 0, oldErrors = 0
        var alarmEvaluations = 0, weightChanges = 0
    }

    /// One recorded invocation.
    struct InvocationRecord {
        var timestamp: Instant
        var isNewVersion: Bool
        var isError: Bool
        var durationMilliseconds: Double
    }

    let schedule: TrafficSchedule
    let invocations: Int
    let minutes: Int
    var generator: SplitMix64
    let errorRate: (old: Double, new: Double)

    init(schedule: TrafficSchedule, invocations: Int, minutes: Int, seed: UInt64, errorRate: (old: Double, new: Double)) {
        self.schedule = schedule
        self.invocations = invocations
        self.minutes = minutes
        self.generator = SplitMix64(seed: seed)
        self.errorRate = errorRate
    }

    mutating func run() throws -> Summary {
        let function = "bench", oldVersion = "1", newVersion = "2"
        let epoch = Instant.minutes(29_000_000)   // any minute-aligned virtual start
        let alarm = try AlarmEvaluator(.errorRate(above: 5, functionName: function, newVersion: newVersion))
        let metric = { (name: String, version: String) in LambdaMetric.identity(name, functionName: function, executedVersion: version) }
        let series = [oldVersion, newVersion].map { v in (metric("Invocations", v), metric("Errors", v), metric("Duration", v)) }

        var rollout = Rollout(configuration: RolloutConfiguration(newVersion: newVersion, schedule: schedule))
        var store = MetricStore()
        var weight = 0.0
        var summary = Summary(status: .created, reason: "")
        var alarmState = AlarmState.insufficientData

        func apply(_ actions: [RolloutAction], minute: Int) {
            for action in actions {
                switch action {
                case let .setWeight(_, w): weight = w; summary.weightChanges += 1
                case .rollBack: weight = 0; summary.weightChanges += 1
                case let .finish(status, reason):
                    summary.status = status
                    summary.reason = reason
                    summary.finishedAtMinute = minute
                case .invokeHook, .wake: break
                }
            }
        }
        apply(rollout.start(at: epoch), minute: 0)

        var records: [InvocationRecord] = []
        records.reserveCapacity(invocations)
        let stepMs = Double(minutes) * 60_000 / Double(invocations)
        var next = 0
        for minute in 0..<minutes {
            // This minute's invocations, routed by the weight in force, aggregated per version.
            var count = [0, 0], errors = [0, 0]
            var duration = [MetricDatapoint(values: []), MetricDatapoint(values: [])]
            let minuteEnd = Int64(minute + 1) * 60_000
            while next < invocations, Int64(Double(next) * stepMs) < minuteEnd {
                let record = InvocationRecord(
                    timestamp: Instant(millisecondsSinceEpoch: epoch.millisecondsSinceEpoch + Int64(Double(next) * stepMs)),
                    isNewVersion: generator.nextUnit() < weight,
                    isError: false,
                    durationMilliseconds: 20 + 200 * generator.nextUnit() * generator.nextUnit())
                var r = record
                r.isError = generator.nextUnit() < (r.isNewVersion ? errorRate.new : errorRate.old)
                records.append(r)
                let v = r.isNewVersion ? 1 : 0
                count[v] += 1
                if r.isError { errors[v] += 1 }
                duration[v].add(r.durationMilliseconds, keepValue: false)
                next += 1
            }
            let minuteIndex = epoch.minuteIndex + Int64(minute)
            for v in 0..<2 where count[v] > 0 {
                store.put(series[v].0, minute: minuteIndex, MetricDatapoint(sampleCount: Double(count[v]), sum: Double(count[v]), minimum: 1, maximum: 1))
                store.put(series[v].1, minute: minuteIndex, MetricDatapoint(sampleCount: Double(count[v]), sum: Double(errors[v]),
                                                                            minimum: errors[v] == count[v] ? 1 : 0, maximum: errors[v] > 0 ? 1 : 0))
                store.put(series[v].2, minute: minuteIndex, duration[v])
            }
            summary.newInvocations += count[1]; summary.newErrors += errors[1]
            summary.oldInvocations += count[0]; summary.oldErrors += errors[0]

            // The minute is complete: evaluate the alarm, then let due timers fire.
            let now = epoch + .seconds(60 * Int64(minute + 1))
            let evaluation = alarm.evaluate(at: now, data: store, previous: alarmState)
            summary.alarmEvaluations += 1
            if evaluation.state != alarmState {
                alarmState = evaluation.state
                apply(rollout.alarmChanged(alarm.definition.name, to: evaluation.state, reason: evaluation.reason, at: now), minute: minute + 1)
            }
            if let deadline = rollout.nextDeadline, deadline <= now {
                apply(rollout.timerFired(at: now), minute: minute + 1)
            }
        }
        precondition(records.count == invocations)
        if !summary.status.isFinal { summary.reason = rollout.reason; summary.status = rollout.status }
        return summary
    }
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
