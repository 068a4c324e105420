import Foundation
import Testing
@testable import Runtime

@Suite struct MetricsClockTests {
    @Test func scaledClockRunsFaster() async throws {
        let clock = ScaledClock(timeScale: 600) // one scaled minute = 0.1 real seconds
        let start = clock.nowMilliseconds
        let real = ContinuousClock()
        let elapsed = try await real.measure { try await clock.sleep(for: .seconds(60)) }
        // A scaled sleep never ends early; how late it ends depends on the machine's load, so the
        // check is the ratio of scaled to real time measured in this run, not a wall-clock bound.
        #expect(elapsed >= .milliseconds(100))
        let scaledElapsed = Double(clock.nowMilliseconds - start)
        #expect(scaledElapsed >= 60_000)
        let ratio = scaledElapsed / (elapsed / .milliseconds(1))
        #expect(ratio > 500 && ratio < 700, "scaled/real = \(ratio)")
    }

    @Test func scaleOneStartsNearWallTime() {
        let clock = ScaledClock()
        let wall = Int64(Date().timeIntervalSince1970 * 1000)
        #expect(abs(clock.nowMilliseconds - wall) < 1000)
    }

    @Test func manualClockWakesSleepersWhenAdvanced() async throws {
        let clock = ManualClock(startMilliseconds: 0)
        let woke = Task { try await clock.sleep(for: .seconds(60)); return clock.nowMilliseconds }
        while clock.sleeperCount == 0 { await Task.yield() }
        clock.advance(by: .seconds(59))
        #expect(clock.sleeperCount == 1)
        clock.advance(by: .seconds(1))
        #expect(try await woke.value == 60_000)
        try await clock.sleep(untilMilliseconds: 1000) // in the past: returns at once
    }

    @Test func manualClockSleepIsCancellable() async throws {
        let clock = ManualClock()
        let sleeper = Task { try await clock.sleep(for: .seconds(3600)) }
        while clock.sleeperCount == 0 { await Task.yield() }
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(clock.sleeperCount == 0)
    }

    @Test func metricPeriodsFollowTheScaledClock() throws {
        let clock = ManualClock(startMilliseconds: 1_700_000_040_000)
        let metrics = try MetricsStore(store: nil)
        for _ in 0..<3 {
            metrics.record(InvocationSample(functionName: "fn", qualifier: nil, executedVersion: "$LATEST", startMilliseconds: clock.nowMilliseconds, durationMilliseconds: 1))
            clock.advance(by: .seconds(60))
        }
        let points = try metrics.datapoints(metric: .invocations, dimensions: ["Resource": "fn"], from: 0, to: .max)
        #expect(points.map(\.timestamp) == [1_700_000_040_000, 1_700_000_100_000, 1_700_000_160_000])
    }
}
