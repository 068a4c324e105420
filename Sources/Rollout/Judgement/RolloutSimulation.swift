#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A rollout run in virtual time against synthetic traffic: the Rollout value, the alarms that guard the alias
/// (evaluated on one-minute datapoints synthesized from the simulated calls), the judgement and seeded random
/// calls, without a process, a socket or a clock. It answers "would this plan catch a version that fails this
/// often, and how many calls would fail first?" in well under a millisecond per run.
///
/// It drives the rollout as the engine's executor does: alarms are evaluated when the deployment begins (before
/// the rollout starts, so an alarm already in ALARM fails it with the alias untouched) and then every
/// `evaluationInterval`, each change goes to `Rollout.alarmChanged`, timers fire at the rollout's deadlines, and
/// minutes before the one the deployment started in are missing data. The deployment starts at a random second
/// of a minute, as a real one does: where CloudWatch's periods fall against the steps decides what an alarm sees.
/// Hooks are assumed to succeed at once: the simulation is about traffic.
public struct RolloutSimulation: Sendable {
    public let configuration: RolloutConfiguration
    /// Calls per second through the alias (finite, ≥ 0).
    public let rate: Double
    /// How often the executor looks (it evaluates alarms and judgement at this interval); at least a second.
    public let evaluationInterval: Duration
    public let identity: AliasIdentity
    let alarms: SimulatedAlarms

    /// `alarms` are the alarms that guard the alias; those the simulation cannot synthesize metrics for (or that
    /// CloudWatch would refuse) are left out of the runs (`DetectionAnalysis` says which).
    public init(configuration: RolloutConfiguration, rate: Double,
                identity: AliasIdentity = AliasIdentity(functionName: "function", alias: "live", oldVersion: "old"),
                alarms: [AlarmDefinition] = [], evaluationInterval: Duration = .seconds(10)) {
        self.init(configuration: configuration, rate: rate, identity: identity,
                  alarms: SimulatedAlarms(alarms, identity: identity, newVersion: configuration.newVersion),
                  evaluationInterval: evaluationInterval)
    }

    init(configuration: RolloutConfiguration, rate: Double, identity: AliasIdentity, alarms: SimulatedAlarms, evaluationInterval: Duration) {
        self.configuration = configuration
        // Traffic is a count of calls: anything but a finite rate ≥ 0 is no traffic rather than a crash.
        self.rate = rate.isFinite ? max(0, rate) : 0
        self.identity = identity
        self.alarms = alarms
        // Virtual time must move: a second is finer than any executor looks.
        self.evaluationInterval = max(evaluationInterval, .seconds(1))
    }

    /// How one simulated rollout ended.
    public struct Outcome: Sendable, Equatable {
        public var status: DeploymentStatus
        public var reason: String
        /// The last verdict (nil without judgement).
        public var verdict: Verdict?
        /// The highest weight the new version had: 1 means it reached 100 %.
        public var peakWeight: Double
        /// The new version's weight when the alias was put back on the old version (nil: it never was).
        public var weightAtRollback: Double?
        /// The alarm whose ALARM failed the deployment.
        public var alarm: String?
        /// Whether the judgement (not the hold limit) failed it.
        public var failedByJudgement: Bool
        public var newCalls: Int
        /// Calls the new version failed before the rollout ended: the blast radius.
        public var newErrors: Int
        public var endedAfter: Duration

        /// Failed before the new version reached 100 % (also before it got any traffic).
        public var caughtBeforeFullTraffic: Bool { status == .failed && peakWeight < 1 }
    }

    /// One run with the given error rates; `seed` makes it repeatable (the traffic and the start's second).
    public func run(seed: UInt64, oldErrorRate: Double, newErrorRate: Double) -> Outcome {
        var random = SplitMix64(seed: seed)
        let second = Int(random.next() % 60)
        var run = Run(self, traffic: Traffic(random: random), startSecond: second, oldErrorRate: oldErrorRate, newErrorRate: newErrorRate)
        return run.outcome()
    }

    /// One run with the expected number of calls and errors in every interval instead of random ones: what the
    /// alarms see of a steady regression, with the deployment starting `startSecond` seconds into a minute.
    func runExpected(startSecond: Int, oldErrorRate: Double, newErrorRate: Double) -> Outcome {
        var run = Run(self, traffic: Traffic(random: nil), startSecond: startSecond, oldErrorRate: oldErrorRate, newErrorRate: newErrorRate)
        return run.outcome()
    }

    /// One rollout in progress: the engine's loop, with the world it acts on.
    private struct Run {
        // The simulation's settings as plain values: a debug build copies a whole struct on each read of a member.
        let rate: Double
        let interval: Duration
        let policy: JudgementPolicy?
        let newVersion: String, oldVersion: String
        var traffic: Traffic
        let oldErrorRate: Double, newErrorRate: Double
        let start: Instant
        var now: Instant
        var rollout: Rollout
        var monitor: AlarmMonitor
        var metrics: SimulatedMetrics
        var weight = 0.0, peakWeight = 0.0
        var weightAtRollback: Double?
        /// Since the shift began, for the judgement and the blast radius.
        var newCalls = 0.0, newErrors = 0.0, oldCalls = 0.0, oldErrors = 0.0
        var shiftStarted = false, look = 0, failedByJudgement = false
        var firedAlarm: String?
        /// As the executor keeps it: the last `.wake` asked for, cleared when it fires or the rollout finishes.
        var nextWake: Instant?
        var nextEvaluation: Instant
        var lastEvaluatedMinute: Int64?
        var finished: (status: DeploymentStatus, reason: String)?
        /// The last look, when it went in with its verdict alone (see `judge`).
        var bareLook: (look: Int, new: CallCounts, old: CallCounts)?

        init(_ simulation: RolloutSimulation, traffic: Traffic, startSecond: Int, oldErrorRate: Double, newErrorRate: Double) {
            rate = simulation.rate
            interval = simulation.evaluationInterval
            policy = simulation.configuration.judgement?.policy
            newVersion = simulation.configuration.newVersion
            oldVersion = simulation.identity.oldVersion
            self.traffic = traffic
            self.oldErrorRate = oldErrorRate
            self.newErrorRate = newErrorRate
            start = .seconds(Int64(startSecond))
            now = start
            nextEvaluation = start
            rollout = Rollout(configuration: simulation.configuration)
            monitor = simulation.alarms.monitor
            metrics = SimulatedMetrics(selectors: simulation.alarms.selectors, firstMinute: start.minuteIndex)
        }

        mutating func outcome() -> Outcome {
            // The alias served the old version alone in the minute before the deployment began.
            serve(from: .minutes(start.minuteIndex), to: start)
            evaluate()
            if finished == nil { apply(rollout.start(at: now)) }
            let horizon = start + .seconds(86_400 * 7)
            while finished == nil, now < horizon {
                let next = min(nextEvaluation, nextWake ?? nextEvaluation)
                serve(from: now, to: next)
                now = next
                if now >= nextEvaluation { evaluate() }
                if finished == nil, let wake = nextWake, now >= wake {
                    nextWake = nil
                    completeLook()
                    apply(rollout.timerFired(at: now))
                }
            }
            let end = finished ?? (.inProgress, "still running after a week of virtual time")
            return Outcome(status: end.status, reason: end.reason, verdict: rollout.judgement?.verdict, peakWeight: peakWeight,
                           weightAtRollback: weightAtRollback, alarm: firedAlarm, failedByJudgement: failedByJudgement,
                           newCalls: Int(newCalls.rounded()), newErrors: Int(newErrors.rounded()), endedAfter: now - start)
        }

        mutating func apply(_ actions: [RolloutAction]) {
            var queue = actions[...]
            while let action = queue.popFirst() {
                switch action {
                case .setWeight(_, let w):
                    weight = w
                    peakWeight = max(peakWeight, w)
                    shiftStarted = true
                case .rollBack:
                    weightAtRollback = weight
                    weight = 0
                case .finish(let status, let reason):
                    finished = (status, reason)
                    nextWake = nil
                case .invokeHook(let hook, _): queue += rollout.hookFinished(hook, succeeded: true, at: now)
                case .wake(let at): nextWake = at
                }
            }
        }

        /// The calls in [from, to) at the current weight, cut at minute boundaries for the datapoints.
        mutating func serve(from: Instant, to end: Instant) {
            var t = from
            while t < end {
                let pieceEnd = min(end, Instant.minutes(t.minuteIndex + 1))
                let calls = traffic.calls(rate * Double((pieceEnd - t).wholeMilliseconds) / 1000)
                let toNew = traffic.share(calls, weight)
                let failedNew = traffic.share(toNew, newErrorRate)
                let failedOld = traffic.share(calls - toNew, oldErrorRate)
                metrics.add(minute: t.minuteIndex, .init(oldCalls: calls - toNew, oldErrors: failedOld, newCalls: toNew, newErrors: failedNew))
                if t >= start {
                    newCalls += toNew
                    newErrors += failedNew
                    oldCalls += calls - toNew
                    oldErrors += failedOld
                }
                t = pieceEnd
            }
        }

        /// The executor's evaluation: alarms, then a look at the versions; and when the next one is due.
        mutating func evaluate() {
            evaluateAlarms()
            if finished == nil { judge() }
            // With neither alarms nor judgement an evaluation does nothing: skip past every timer. (Otherwise the
            // calls are drawn at every evaluation alike, so that runs with and without judgement see the same calls
            // up to the end of the last step, and judgement can only add catches.)
            nextEvaluation = policy == nil && monitor.evaluators.isEmpty ? start + .seconds(86_400 * 8) : now + interval
        }

        mutating func evaluateAlarms() {
            // An evaluation reads only complete minutes, which no later call changes: a second one within the same
            // minute finds the same states, so the engine's evaluations every 10 s change nothing until a minute ends.
            guard now.minuteIndex != lastEvaluatedMinute, !monitor.evaluators.isEmpty else { return }
            lastEvaluatedMinute = now.minuteIndex
            for change in monitor.evaluate(at: now, data: metrics) where finished == nil {
                apply(rollout.alarmChanged(change.alarmName, to: change.evaluation.state, reason: change.evaluation.reason, at: now))
                if finished != nil { firedAlarm = change.alarmName }
            }
        }

        // Most looks change nothing but the look the rollout keeps, and writing a look's reason costs more than the
        // rest of a run's step. So a look goes in first with its verdict alone (on a copy of the rollout); it is
        // written in full when the rollout acts on it, or before a timer may read the kept one (`completeLook`).
        // The rollout goes through the same states as with full looks all along.
        mutating func judge() {
            guard let policy, shiftStarted else { return }
            look += 1
            let new = CallCounts(invocations: Int(newCalls), errors: Int(newErrors))
            let old = CallCounts(invocations: Int(oldCalls), errors: Int(oldErrors))
            let verdict = ErrorRateTest.verdict(new: new, old: old, policy: policy)
            var trial = rollout
            let bare = StepJudgement(verdict: verdict, errors: verdict, latency: nil, reason: "", minimumNewCalls: 0)
            if trial.judged(bare, at: now).isEmpty {
                rollout = trial
                bareLook = (look, new, old)
                return
            }
            bareLook = nil
            apply(rollout.judged(fullLook(look, new: new, old: old, policy: policy), at: now))
            if finished != nil, verdict == .fail { failedByJudgement = true }
        }

        mutating func completeLook() {
            guard let policy, let kept = bareLook else { return }
            bareLook = nil
            // The same verdict again, with no timer since: the rollout only keeps it.
            apply(rollout.judged(fullLook(kept.look, new: kept.new, old: kept.old, policy: policy), at: now))
        }

        func fullLook(_ look: Int, new: CallCounts, old: CallCounts, policy: JudgementPolicy) -> StepJudgement {
            Judgement.judge(newVersion: newVersion, oldVersion: oldVersion, new: new, old: old,
                            newDurations: DurationDistribution([]), oldDurations: DurationDistribution([]), policy: policy, look: look)
        }
    }
}

/// Where the simulated calls come from: Poisson arrivals and binomial splits, or (without a generator) their
/// expected values, fractional and without noise.
struct Traffic {
    var random: SplitMix64?

    /// The number of calls in an interval where `mean` are expected.
    mutating func calls(_ mean: Double) -> Double {
        guard random != nil else { return mean }
        return Double(random!.poisson(mean))
    }

    /// How many of `n` calls fall in a share `p` of them (go to the new version, fail).
    mutating func share(_ n: Double, _ p: Double) -> Double {
        guard random != nil else { return n * min(max(p, 0), 1) }
        return Double(random!.binomial(Int(n), p))
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
            // Inversion, walking the probabilities up from 0 (from the other end above one half): about n·p steps.
            if p > 0.5 { return n - binomial(n, 1 - p) }
            let odds = p / (1 - p)
            var probability = pow(1 - p, Double(n)), cumulative = probability
            let u = uniform()
            var k = 0
            while u > cumulative, k < n {
                probability *= odds * Double(n - k) / Double(k + 1)
                cumulative += probability
                k += 1
            }
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
