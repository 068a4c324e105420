import Foundation

/// The runtime's notion of time: epoch milliseconds and sleeping, possibly running faster than the wall clock.
///
/// Everything that AWS measures in minutes (metric periods, retry backoffs, traffic-shift intervals) is
/// measured on this clock, so `--time-scale 60` runs a 10-minute canary in 10 real seconds.
public protocol RuntimeClock: Sendable {
    /// Now, in (scaled) milliseconds since the Unix epoch.
    var nowMilliseconds: Int64 { get }
    /// Suspends for `duration` of this clock's time. Throws `CancellationError` when cancelled.
    func sleep(for duration: Duration) async throws
}

extension RuntimeClock {
    /// Suspends until this clock reads `deadline` (epoch ms); returns at once if it is past.
    public func sleep(untilMilliseconds deadline: Int64) async throws {
        let remaining = deadline - nowMilliseconds
        if remaining > 0 { try await sleep(for: .milliseconds(remaining)) }
    }
}

/// A duration in (fractional) seconds.
private func secondsOf(_ duration: Duration) -> Double {
    let (s, atto) = duration.components
    return Double(s) + Double(atto) / 1e18
}

/// The wall clock sped up by `timeScale`: one scaled minute takes `60 / timeScale` real seconds.
///
/// Create one per process and share it: each instance has its own origin. Scaled time starts at the wall time of creation and then advances `timeScale` times faster, so
/// timestamps stay plausible (near today) while periods go by quickly.
public struct ScaledClock: RuntimeClock {
    public let timeScale: Double
    private let originWallMilliseconds: Int64
    private let originInstant: ContinuousClock.Instant

    /// - Parameter timeScale: how many times faster than the wall clock; must be > 0 (1 = real time).
    public init(timeScale: Double = 1) {
        precondition(timeScale > 0 && timeScale.isFinite, "time scale must be a positive number")
        self.timeScale = timeScale
        self.originWallMilliseconds = Int64((Date().timeIntervalSince1970 * 1000).rounded())
        self.originInstant = ContinuousClock.now
    }

    public var nowMilliseconds: Int64 {
        let elapsed = secondsOf(ContinuousClock.now - originInstant)
        return originWallMilliseconds + Int64((elapsed * timeScale * 1000).rounded(.down))
    }

    public func sleep(for duration: Duration) async throws {
        let real = secondsOf(duration) / timeScale
        guard real > 0 else { return }
        try await Task.sleep(for: .nanoseconds(Int64((real * 1e9).rounded(.up))))
    }
}

/// A clock that moves only when told to, for tests: `advance(by:)` wakes every sleeper whose deadline has come.
public final class ManualClock: RuntimeClock {
    private struct Sleeper {
        var id: UInt64
        var deadline: Int64
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: Int64
        var nextID: UInt64 = 0
        var sleepers: [Sleeper] = []
        var cancelled: Set<UInt64> = []
    }

    private let state: ProtectedValue<State>

    public init(startMilliseconds: Int64 = 1_700_000_000_000) {
        state = ProtectedValue(State(now: startMilliseconds))
    }

    public var nowMilliseconds: Int64 { state.withLock { $0.now } }

    /// How many tasks are currently sleeping on this clock (lets tests wait for a sleeper to arrive).
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    public func sleep(for duration: Duration) async throws {
        let ms = Int64((secondsOf(duration) * 1000).rounded(.up))
        let id = state.withLock { s -> UInt64 in s.nextID += 1; return s.nextID }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let outcome: Result<Void, any Error>? = state.withLock { s in
                    if s.cancelled.remove(id) != nil { return .failure(CancellationError()) }
                    let deadline = s.now + ms
                    if deadline <= s.now { return .success(()) }
                    s.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let sleeper: Sleeper? = state.withLock { s in
                if let index = s.sleepers.firstIndex(where: { $0.id == id }) { return s.sleepers.remove(at: index) }
                s.cancelled.insert(id)
                return nil
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves time forward and wakes the sleepers that are due (outside the lock).
    public func advance(by duration: Duration) {
        let ms = Int64((secondsOf(duration) * 1000).rounded())
        let due: [Sleeper] = state.withLock { s in
            s.now += ms
            let now = s.now
            let due = s.sleepers.filter { $0.deadline <= now }
            s.sleepers.removeAll { $0.deadline <= now }
            return due
        }
        for sleeper in due { sleeper.continuation.resume() }
    }
}
