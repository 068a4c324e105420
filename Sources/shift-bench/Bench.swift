import ArgumentParser
import Foundation

/// `shift-bench`: measured figures the issues ask for, as medians of repeated runs in one process, each beside its floor.
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shift-bench",
        abstract: "Benchmarks: template loading, the runtime, a rollout through the deployment engine, the Invoke API, the judgement, state resolution.",
        subcommands: [BenchTemplate.self, BenchRuntime.self, BenchRollout.self, BenchServe.self, BenchJudgement.self, BenchFrontDoor.self, BenchState.self])
}

/// Timing helpers shared by the benchmarks.
enum Measure {
    /// Runs `body` `runs` times after one warm-up and returns each duration in milliseconds.
    static func milliseconds(runs: Int, _ body: () throws -> Void) rethrows -> [Double] {
        try body()
        var samples: [Double] = []
        for _ in 0..<runs {
            let start = ContinuousClock.now
            try body()
            samples.append(milliseconds(ContinuousClock.now - start))
        }
        return samples
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    static func percentile(_ samples: [Double], _ p: Double) -> Double {
        guard !samples.isEmpty else { return .nan }
        let sorted = samples.sorted()
        let rank = min(sorted.count - 1, max(0, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1))
        return sorted[rank]
    }

    static func median(_ samples: [Double]) -> Double { percentile(samples, 50) }

    static func format(_ value: Double, digits: Int = 2) -> String { String(format: "%.\(digits)f", value) }
}
