import ArgumentParser
import Foundation
import Rollout
import Runtime

/// `shift-bench judgement`: one look of the judgement at a million recorded invocations per version, and the dry
/// run's detection analysis of a plan, each beside its floor.
struct BenchJudgement: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "judgement",
        abstract: "The judgement's cost per look at 1M invocations per version, and the dry-run detection analysis per plan.")

    @Option(help: "Invocations recorded per version.")
    var invocations = 1_000_000

    @Option(help: "Virtual minutes the invocations are spread over (the store keeps one histogram a minute).")
    var minutes = 10

    @Option(help: "How many times to repeat each measurement (the median is reported).")
    var repeats = 15

    @Option(help: "Calls per second through the alias, for the detection analysis.")
    var rate = 20.0

    @Option(help: "Simulated rollouts per figure of the detection analysis.")
    var runs = 200

    mutating func validate() throws {
        guard invocations > 0, minutes > 0, repeats > 0, runs > 0 else { throw ValidationError("--invocations, --minutes, --repeats and --runs must be positive") }
        guard rate > 0 else { throw ValidationError("--rate must be positive") }
    }

    func run() throws {
        #if DEBUG
        print("build: debug (figures are several times those of `swift run -c release shift-bench judgement`)")
        #else
        print("build: release")
        #endif
        try judgementPerLook()
        try detectionAnalysis()
    }

    /// The durations of each version recorded through the runtime's metrics store and read back as the engine reads
    /// them (one log-histogram a minute, ~0.4 % buckets), then one `Judgement.judge` on a million calls each.
    private func judgementPerLook() throws {
        let store = try MetricsStore(store: nil)
        var random = Runtime.SplitMix64(seed: 11)
        func normal() -> Double {
            let u = max(Double.random(in: 0..<1, using: &random), 1e-300), v = Double.random(in: 0..<1, using: &random)
            return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
        }
        let spanMilliseconds = Int64(minutes) * 60_000
        for (version, median) in [("1", 40.0), ("2", 42.0)] {
            for i in 0..<invocations {
                // Log-normal around the median, wide as real latencies are (1 ms to seconds).
                let duration = median * exp(0.9 * normal())
                store.record(InvocationSample(functionName: "bench", qualifier: "live", executedVersion: version,
                                              startMilliseconds: Int64(i) * spanMilliseconds / Int64(invocations), durationMilliseconds: duration,
                                              errorType: Double.random(in: 0..<1, using: &random) < 0.01 ? "Unhandled" : nil))
            }
        }
        func distribution(_ version: String) throws -> DurationDistribution {
            let points = try store.datapoints(metric: .duration, dimensions: ["FunctionName": "bench", "Resource": "bench:live", "ExecutedVersion": version],
                                              from: 0, to: spanMilliseconds)
            return DurationDistribution(points.flatMap { $0.valueCounts.map { DurationDistribution.Bucket(milliseconds: $0.value, count: $0.count) } })
        }
        func counts(_ version: String) throws -> CallCounts {
            let dimensions = ["FunctionName": "bench", "Resource": "bench:live", "ExecutedVersion": version]
            let errors = try store.datapoints(metric: .errors, dimensions: dimensions, from: 0, to: spanMilliseconds)
            return CallCounts(invocations: Int(errors.reduce(0) { $0 + $1.sampleCount }), errors: Int(errors.reduce(0) { $0 + $1.sum }))
        }
        let old = try distribution("1"), new = try distribution("2")
        let oldCounts = try counts("1"), newCounts = try counts("2")
        var judgement: StepJudgement?
        // A look takes microseconds: time a batch of them and divide.
        let batch = 20
        let looks = Measure.milliseconds(runs: repeats) {
            for look in 1...batch {
                judgement = Judgement.judge(newVersion: "2", oldVersion: "1", new: newCounts, old: oldCounts, newDurations: new, oldDurations: old,
                                            policy: .standard, look: look)
            }
        }.map { $0 * 1000 / Double(batch) }
        var total = 0
        let floor = Measure.milliseconds(runs: repeats) {
            for _ in 1...batch {
                for bucket in opaque(new).buckets { total &+= bucket.count }
                for bucket in opaque(old).buckets { total &+= bucket.count }
            }
        }.map { $0 * 1000 / Double(batch) }
        let reading = Measure.milliseconds(runs: repeats) { _ = try? (distribution("2"), distribution("1"), counts("2"), counts("1")) }
        let look = Measure.median(looks), summed = Measure.median(floor)
        print("judgement: \(Judgement.grouped(newCounts.invocations)) and \(Judgement.grouped(oldCounts.invocations)) calls, "
            + "\(Judgement.grouped(new.buckets.count)) and \(Judgement.grouped(old.buckets.count)) duration buckets over \(minutes) one-minute histograms, "
            + "\(repeats) repeats of \(batch) looks")
        print("  verdict: \(judgement?.verdict.rawValue ?? "?") — \(judgement?.reason ?? "")")
        print("  per look (Judgement.judge): median \(Measure.format(look)) µs")
        print("  floor (summing both versions' buckets once): median \(Measure.format(summed)) µs; the look is \(Measure.format(look / summed, digits: 1)) × the floor")
        print("  reading the counts and distributions back from the metrics store (the engine does it per look): median \(Measure.format(Measure.median(reading))) ms")
        precondition(total > 0, "the floor summed no bucket")
    }

    /// The detection analysis of a canary and a linear plan, each with the example's alarm on the new version's
    /// error rate; beside one of its figures alone (the blast radius: `runs` rollouts with the alarm and the judgement).
    private func detectionAnalysis() throws {
        let identity = AliasIdentity(functionName: "bench", alias: "live", oldVersion: "1")
        let dimensions = ["FunctionName": "bench", "Resource": "bench:live", "ExecutedVersion": "2"]
        func stat(_ metric: String) -> MetricStat {
            MetricStat(metric: MetricIdentity(namespace: LambdaMetric.namespace, metricName: metric, dimensions: dimensions), period: 60, statistic: .sum)
        }
        let alarm = AlarmDefinition(name: "ErrorRate", metric: .metricMath([
            .metric("errors", stat("Errors")), .metric("invocations", stat("Invocations")),
            .expression("rate", "IF(invocations > 0, errors / invocations * 100, 0)"),
        ]), evaluationPeriods: 1, threshold: 5, comparisonOperator: .greaterThanThreshold, treatMissingData: .notBreaching)
        let options = DetectionAnalysis.Options(rate: rate, runs: runs)
        let analysisRepeats = max(3, repeats / 3)
        print("detection analysis: 1 alarm (the new version's error rate above 5 %), \(Measure.format(rate, digits: 0)) calls/s, "
            + "\(runs) runs per figure, \(analysisRepeats) repeats")
        for strategy in ["Canary10Percent5Minutes", "Linear10PercentEvery1Minute"] {
            let configuration = RolloutConfiguration(newVersion: "2", schedule: try TrafficSchedule(named: strategy))
            var analysis: DetectionAnalysis?
            let times = try Measure.milliseconds(runs: analysisRepeats) {
                analysis = try DetectionAnalysis.analyze(configuration: configuration, identity: identity, alarms: [alarm], options: options)
            }
            var judged = configuration
            judged.judgement = JudgementSettings()
            let simulation = RolloutSimulation(configuration: judged, rate: rate, identity: identity, alarms: [alarm])
            let floor = Measure.milliseconds(runs: analysisRepeats) {
                for seed in 0..<UInt64(runs) { _ = simulation.run(seed: seed, oldErrorRate: 0, newErrorRate: options.assumedErrorRate) }
            }
            let a = analysis!
            func caught(_ figures: DetectionFigures) -> String {
                figures.smallestCaughtIncrease.map { "+" + Judgement.percentText($0) } ?? "none"
            }
            let median = Measure.median(times), floorMedian = Measure.median(floor)
            print("  \(strategy): median \(Measure.format(median)) ms per plan; floor (one figure: \(runs) rollouts) "
                + "\(Measure.format(floorMedian)) ms; \(Measure.format(median / floorMedian, digits: 1)) × the floor")
            print("    smallest regression caught in 95 % of runs: alarms \(caught(a.alarmsOnly)), with judgement \(caught(a.withJudgement)); "
                + "at 5 % errors: \(Measure.format(a.alarmsOnly.blastRadius.meanFailedCalls, digits: 1)) and "
                + "\(Measure.format(a.withJudgement.blastRadius.meanFailedCalls, digits: 1)) failed calls; warnings: \(a.warnings.count)")
        }
    }
}

/// The value, unknown to the optimizer: the floor must sum the buckets every time, not once for all repeats.
@_optimize(none)
private func opaque<T>(_ value: T) -> T { value }
