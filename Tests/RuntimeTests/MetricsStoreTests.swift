import Foundation
import Testing
@testable import Runtime

@Suite struct MetricsStoreTests {
    let t0: Int64 = 1_700_000_040_000 // a period boundary (divisible by 60 000)

    private func sample(_ version: String, qualifier: String? = "live", at offset: Int64 = 0, duration: Double = 10,
                        error: String? = nil, throttled: Bool = false, concurrency: Int = 1) -> InvocationSample {
        InvocationSample(functionName: "fn", qualifier: qualifier, executedVersion: version, startMilliseconds: t0 + offset,
                         durationMilliseconds: duration, errorType: error, throttled: throttled, concurrency: concurrency)
    }

    @Test func periodsAreOneMinuteOfTheRuntimeClock() {
        #expect(t0 % 60_000 == 0)
        #expect(MetricsStore.periodStart(t0) == t0)
        #expect(MetricsStore.periodStart(t0 + 59_999) == t0)
        #expect(MetricsStore.periodStart(t0 + 60_000) == t0 + 60_000)
        #expect(MetricsStore.periodStart(-1) == -60_000)
    }

    @Test func countsAddUpAcrossVersionsAliasAndFunction() throws {
        let metrics = try MetricsStore(store: nil)
        var recorded = (v1: 0, v2: 0, errors: 0, throttles: 0)
        var generator = SplitMix64(seed: 3)
        for i in 0..<10_000 {
            let version = generator.nextUnit() < 0.2 ? "2" : "1"
            let error: String? = (version == "2" && i % 10 == 0) ? "Unhandled" : nil
            let throttled = i % 97 == 0
            metrics.record(sample(version, at: Int64(i) * 30, error: error, throttled: throttled))
            if throttled { recorded.throttles += 1; continue }
            if version == "1" { recorded.v1 += 1 } else { recorded.v2 += 1 }
            if error != nil { recorded.errors += 1 }
        }
        metrics.record(sample("1", qualifier: nil)) // unqualified: Resource "fn", not part of the alias
        let range = (from: t0, to: t0 + 3_600_000)
        func sum(_ metric: MetricName, _ dimensions: [String: String]) throws -> Double {
            try metrics.datapoints(metric: metric, dimensions: dimensions, from: range.from, to: range.to).reduce(0) { $0 + $1.sum }
        }
        let alias = ["FunctionName": "fn", "Resource": "fn:live"]
        let v1 = try sum(.invocations, alias.merging(["ExecutedVersion": "1"]) { $1 })
        let v2 = try sum(.invocations, alias.merging(["ExecutedVersion": "2"]) { $1 })
        #expect(v1 == Double(recorded.v1))
        #expect(v2 == Double(recorded.v2))
        #expect(try sum(.invocations, alias) == v1 + v2)
        #expect(try sum(.invocations, ["FunctionName": "fn"]) == v1 + v2 + 1)
        #expect(try sum(.errors, alias) == Double(recorded.errors))
        #expect(try sum(.errors, alias.merging(["ExecutedVersion": "1"]) { $1 }) == 0)
        #expect(try sum(.throttles, alias) == Double(recorded.throttles))
        #expect(try sum(.invocations, ["FunctionName": "other"]) == 0)
        #expect(try sum(.invocations, ["Color": "blue"]) == 0)
        // 10 000 samples 30 ms apart span 5 minutes.
        #expect(try metrics.datapoints(metric: .invocations, dimensions: alias, from: range.from, to: range.to).map(\.timestamp)
                == (0..<5).map { t0 + Int64($0) * 60_000 })
    }

    @Test func errorsAverageIsTheErrorRate() throws {
        let metrics = try MetricsStore(store: nil)
        for i in 0..<8 { metrics.record(sample("1", error: i < 2 ? "Unhandled" : nil)) }
        let point = try #require(try metrics.datapoints(metric: .errors, dimensions: ["Resource": "fn:live"], from: t0, to: t0 + 60_000).first)
        #expect(point.sum == 2)
        #expect(point.sampleCount == 8)
        #expect(point.average == 0.25)
        #expect(point.maximum == 1)
        #expect(point.percentile(50) == 0)
        #expect(point.percentile(99) == 1)
    }

    @Test func durationStatisticsAndPercentiles() throws {
        let metrics = try MetricsStore(store: nil)
        for d in 1...1000 { metrics.record(sample("1", duration: Double(d) * 1.5, concurrency: d % 7 + 1)) }
        let point = try #require(try metrics.datapoints(metric: .duration, dimensions: ["FunctionName": "fn"], from: t0, to: t0 + 60_000).first)
        #expect(point.sampleCount == 1000)
        #expect(point.minimum == 1.5)
        #expect(point.maximum == 1500)
        #expect(abs(point.average - 750.75) < 1e-9)
        for (p, exact) in [(50.0, 750.0), (90.0, 1350.0), (99.0, 1485.0), (100.0, 1500.0)] {
            let value = try #require(point.statistic("p\(Int(p))"))
            #expect(abs(value - exact) / exact < 0.005, "p\(p) = \(value), exact \(exact)")
        }
        let concurrency = try #require(try metrics.datapoints(metric: .concurrentExecutions, dimensions: [:], from: t0, to: t0 + 60_000).first)
        #expect(concurrency.maximum == 7)
        #expect(concurrency.statistic("Maximum") == 7)
    }

    @Test func deadLetterAndDestinationFailuresAreCounted() throws {
        let metrics = try MetricsStore(store: nil)
        metrics.recordDeadLetterError(functionName: "fn", qualifier: "live", executedVersion: "2", atMilliseconds: t0)
        metrics.recordDestinationDeliveryFailure(functionName: "fn", qualifier: "live", executedVersion: "2", atMilliseconds: t0)
        metrics.recordDestinationDeliveryFailure(functionName: "fn", qualifier: "live", executedVersion: "2", atMilliseconds: t0 + 1)
        let dims = ["FunctionName": "fn"]
        #expect(try metrics.datapoints(metric: .deadLetterErrors, dimensions: dims, from: t0, to: t0 + 60_000).first?.sum == 1)
        #expect(try metrics.datapoints(metric: .destinationDeliveryFailures, dimensions: dims, from: t0, to: t0 + 60_000).first?.sum == 2)
        #expect(try metrics.datapoints(metric: .invocations, dimensions: dims, from: t0, to: t0 + 60_000).isEmpty)
    }

    @Test func flushedMetricsSurviveReopenAndMergeWithNewOnes() async throws {
        let root = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(root) }
        let directory = root.appendingPathComponent(".shift")
        do {
            let store = try await StateStore.open(directory: directory)
            let metrics = try MetricsStore(store: store)
            for _ in 0..<100 { metrics.record(sample("1", duration: 20)) }
            try metrics.flush()
            for _ in 0..<50 { metrics.record(sample("1", duration: 40)) } // pending, same period
            #expect(try metrics.datapoints(metric: .invocations, dimensions: ["Resource": "fn:live"], from: t0, to: t0 + 60_000).first?.sum == 150)
            try metrics.flush()
            try store.close()
        }
        let store = try await StateStore.open(directory: directory)
        defer { try? store.close() }
        let metrics = try MetricsStore(store: store)
        for _ in 0..<10 { metrics.record(sample("2", duration: 5)) }
        let duration = try #require(try metrics.datapoints(metric: .duration, dimensions: ["Resource": "fn:live"], from: t0, to: t0 + 60_000).first)
        #expect(duration.sampleCount == 160)
        let expectedSum: Double = 100 * 20 + 50 * 40 + 10 * 5
        #expect(duration.sum == expectedSum)
        #expect(duration.minimum == 5)
        #expect(duration.maximum == 40)
        #expect(metrics.totals(metric: .invocations)[MetricSeries(functionName: "fn", resource: "fn:live", executedVersion: "1")] == 150)
        try metrics.flush()
        #expect(try metrics.datapoints(metric: .invocations, dimensions: ["Resource": "fn:live"], from: t0, to: t0 + 60_000).first?.sum == 160)
    }

    @Test func prometheusTextHasTotalsWithLabels() throws {
        let metrics = try MetricsStore(store: nil)
        metrics.record(sample("1", duration: 12))
        metrics.record(sample("2", duration: 8, error: "Unhandled"))
        metrics.record(sample("2", throttled: true))
        let text = metrics.prometheusText()
        #expect(text.contains("# TYPE shift_lambda_invocations_total counter\n"))
        #expect(text.contains("shift_lambda_invocations_total{function_name=\"fn\",resource=\"fn:live\",executed_version=\"1\"} 1\n"))
        #expect(text.contains("shift_lambda_errors_total{function_name=\"fn\",resource=\"fn:live\",executed_version=\"2\"} 1\n"))
        #expect(text.contains("shift_lambda_throttles_total{function_name=\"fn\",resource=\"fn:live\",executed_version=\"2\"} 1\n"))
        #expect(text.contains("shift_lambda_duration_milliseconds_sum{function_name=\"fn\",resource=\"fn:live\",executed_version=\"1\"} 12\n"))
    }

    @Test func recordingIsThreadSafe() async throws {
        let metrics = try MetricsStore(store: nil)
        let perTask = 50_000
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<4 {
                group.addTask {
                    for i in 0..<perTask {
                        metrics.record(InvocationSample(functionName: "fn", qualifier: "live", executedVersion: task % 2 == 0 ? "1" : "2",
                                                        startMilliseconds: self.t0 + Int64(i), durationMilliseconds: Double(i % 500)))
                    }
                }
            }
        }
        let total = try metrics.datapoints(metric: .invocations, dimensions: ["Resource": "fn:live"], from: t0, to: t0 + 3_600_000).reduce(0) { $0 + $1.sum }
        #expect(total == Double(4 * perTask))
    }
}

/// Synchronous metric reads happen inside async code (the deployment engine's alarm and judgement looks)
/// while async state reads run beside them (the invoke path). A read taken from the database's reader pool
/// is given back only when its task resumes on the cooperative pool, which has one thread per core: blocking
/// those threads on the reader pool (and on the flush lock behind it) deadlocked a deployment under load.
@Suite struct MetricsStoreUnderLoadTests {
    let t0: Int64 = 1_700_000_040_000

    func sample(_ i: Int) -> InvocationSample {
        InvocationSample(functionName: "fn", qualifier: "live", executedVersion: "1", startMilliseconds: t0,
                         durationMilliseconds: Double(i % 50), errorType: nil, throttled: false, concurrency: 1)
    }

    @Test(.timeLimit(.minutes(1)))
    func synchronousMetricReadsBesideAsyncStateReadsNeverDeadlock() async throws {
        let root = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(root) }
        let store = try await StateStore.open(directory: root.appendingPathComponent(".shift"))
        defer { try? store.close() }
        let metrics = try MetricsStore(store: store)
        let blockers = max(2, ProcessInfo.processInfo.activeProcessorCount) + 2
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<40 {
                // The function does not exist: each read still takes and gives back a reader of the pool.
                group.addTask { for _ in 0..<200 { _ = try? await store.listAliases(function: "fn") } }
            }
            for _ in 0..<blockers {
                group.addTask { [self] in
                    for i in 0..<300 {
                        metrics.record(sample(i))
                        _ = try metrics.datapoints(metric: .invocations, dimensions: ["Resource": "fn:live"], from: t0, to: t0 + 60_000)
                        if i % 10 == 0 { try metrics.flush() }
                    }
                }
            }
            try await group.waitForAll()
        }
        try metrics.flush()
        #expect(try metrics.datapoints(metric: .invocations, dimensions: ["Resource": "fn:live"], from: t0, to: t0 + 60_000).first?.sum == Double(blockers * 300))
    }
}
