#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A rollout run in virtual time against synthetic traffic: the Rollout value, its judgement and seeded
/// random calls, without a process, a socket or a clock. It answers "would this plan catch a version that
/// fails this often, and how many calls would fail first?" in microseconds per run.
public struct RolloutSimulation: Sendable {
    public var configuration: RolloutConfiguration
    /// Calls per second through the alias.
    public var rate: Double
    /// How often the executor looks (it evaluates alarms and judgement at this interval).
    public var evaluationInterval: Duration
    public var oldVersion: String

    public init(configuration: RolloutConfiguration, rate: Double, evaluationInterval: Duration = .seconds(10), oldVersion: String = "old") {
        self.configuration = configuration
        self.rate = rate
        self.evaluationInterval = evaluationInterval
        self.oldVersion = oldVersion
    }

    /// How one simulated rollout ended.
    public struct Outcome: Sendable, Equatable {
        public var status: DeploymentStatus
        public var reason: String
        /// The last verdict (nil without judgement).
        public var verdict: Verdict?
        /// The new version's weight when it ended: 1 means it reached 100 % before anything stopped it.
        public var weightAtEnd: Double
        public var newCalls: Int
        /// Calls the new version failed before the rollout ended: the blast radius.
        public var newErrors: Int
        public var endedAfter: Duration
        /// Whether the judgement (not the hold limit) failed it.
        public var failedByJudgement: Bool
    }

    /// One run with the given error rates; `seed` makes it repeatable.
    public func run(seed: UInt64, oldErrorRate: Double, newErrorRate: Double) -> Outcome {
        var random = SplitMix64(seed: seed)
        var rollout = Rollout(configuration: configuration)
        let start = Instant.zero
        var now = start
        var weight = 0.0
        var new = CallCounts(invocations: 0, errors: 0), old = CallCounts(invocations: 0, errors: 0)
        var shiftStarted = false, look = 0, failedByJudgement = false
        var finished: (DeploymentStatus, String)?

        func apply(_ actions: [RolloutAction]) {
            for action in actions {
                switch action {
                case .setWeight(_, let w):
                    weight = w
                    shiftStarted = true
                case .rollBack: weight = 0
                case .finish(let status, let reason): finished = (status, reason)
                case .invokeHook, .wake: break
                }
            }
        }
        // Hooks are assumed to succeed at once: the simulation is about traffic.
        apply(rollout.start(at: now))
        if case .beforeAllowTraffic = rollout.phase { apply(rollout.hookFinished(.preTraffic, succeeded: true, at: now)) }
        let horizon = start + .seconds(86_400 * 7)
        while finished == nil, now < horizon {
            let tick = now + evaluationInterval
            let next = min(tick, rollout.nextDeadline ?? tick)
            // Calls in (now, next], split by the weight in effect.
            let seconds = Double((next - now).wholeMilliseconds) / 1000
            let calls = random.poisson(rate * seconds)
            let toNew = random.binomial(calls, weight)
            new.invocations += toNew
            new.errors += random.binomial(toNew, newErrorRate)
            old.invocations += calls - toNew
            old.errors += random.binomial(calls - toNew, oldErrorRate)
            now = next
            if case .afterAllowTraffic(_, let deadline, _) = rollout.phase, deadline != nil {
                apply(rollout.hookFinished(.postTraffic, succeeded: true, at: now))
            }
            if now == tick, shiftStarted, let settings = configuration.judgement {
                look += 1
                let judgement = Judgement.judge(newVersion: configuration.newVersion, oldVersion: oldVersion, new: new, old: old,
                                                newDurations: DurationDistribution([]), oldDurations: DurationDistribution([]),
                                                policy: settings.policy, look: look)
                let before = finished == nil
                apply(rollout.judged(judgement, at: now))
                if before, judgement.verdict == .fail, finished != nil { failedByJudgement = true }
            }
            if finished == nil { apply(rollout.timerFired(at: now)) }
        }
        let (status, reason) = finished ?? (.inProgress, "still running after a week of virtual time")
        let weightAtEnd: Double = if case .finished(_, _, _, let rolledBack) = rollout.phase, !rolledBack, status == .succeeded { 1 } else { weight }
        return Outcome(status: status, reason: reason, verdict: rollout.judgement?.verdict, weightAtEnd: weightAtEnd,
                       newCalls: new.invocations, newErrors: new.errors, endedAfter: now - start, failedByJudgement: failedByJudgement)
    }
}

/// A small seeded generator (SplitMix64; Steele, Lea and Flood, OOPSLA 2014): fast and repeatable everywhere.
/// Runtime has the same dozen lines for its weighted routing; neither module may import the other.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }

    mutating func normal() -> Double {
        // Box–Muller.
        let u = max(uniform(), 1e-300), v = uniform()
        return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
    }

    /// Exact below 64 trials, the normal approximation above (ample for traffic).
    mutating func binomial(_ n: Int, _ p: Double) -> Int {
        guard n > 0, p > 0 else { return 0 }
        if p >= 1 { return n }
        if n < 64 {
            var k = 0
            for _ in 0..<n where uniform() < p { k += 1 }
            return k
        }
        let mean = Double(n) * p, sd = (Double(n) * p * (1 - p)).squareRoot()
        return min(n, max(0, Int((mean + sd * normal()).rounded())))
    }

    /// Knuth's method below a mean of 30, the normal approximation above.
    mutating func poisson(_ mean: Double) -> Int {
        guard mean > 0 else { return 0 }
        if mean < 30 {
            let limit = exp(-mean)
            var k = 0, product = uniform()
            while product > limit {
                k += 1
                product *= uniform()
            }
            return k
        }
        return max(0, Int((mean + mean.squareRoot() * normal()).rounded()))
    }
}
