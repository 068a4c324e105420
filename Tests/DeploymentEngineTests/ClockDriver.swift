import Runtime
import Testing

/// Moves a `ManualClock` in schedule-sized steps, each only once the executor is asleep on it (so every
/// deadline is met at its exact instant and nothing races the step).
struct ClockDriver: Sendable {
    let clock: ManualClock
    /// The executor's evaluation interval: every deadline of a rollout started on a step lies on a step.
    var step: Duration = .seconds(10)

    /// Steps until `done` holds, at most `limit` of schedule time. While `hold` holds (a hook runs in real
    /// time and must report before its deadline in schedule time) it waits instead of stepping.
    func advance(until what: String, atMost limit: Duration = .seconds(3 * 3600), sourceLocation: SourceLocation = #_sourceLocation,
                 hold: @Sendable () -> Bool = { false }, _ done: @Sendable () -> Bool) async throws {
        var moved: Duration = .zero
        while true {
            try await waitUntil("the executor to sleep on the clock (\(what))", sourceLocation: sourceLocation) {
                done() || (clock.sleeperCount > 0 && !hold())
            }
            if done() { return }
            guard moved < limit else {
                Issue.record("\(what) did not happen within \(limit) of schedule time", sourceLocation: sourceLocation)
                throw TimedOut(what: what)
            }
            clock.advance(by: step)
            moved += step
            // The executor wakes (its sleeper is gone at once) and sleeps again when it is done with this instant.
        }
    }

    /// Steps `duration` of schedule time, letting the executor settle at every step.
    func advance(by duration: Duration, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        var moved: Duration = .zero
        while moved < duration {
            try await waitUntil("the executor to sleep on the clock", sourceLocation: sourceLocation) { clock.sleeperCount > 0 }
            clock.advance(by: step)
            moved += step
        }
        try await waitUntil("the executor to sleep on the clock", sourceLocation: sourceLocation) { clock.sleeperCount > 0 }
    }
}
