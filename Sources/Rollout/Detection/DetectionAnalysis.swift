#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What a plan's alarms, and the judgement, could catch of a faulty new version before it reaches 100 % of an
/// alias's traffic: per alarm, what keeps it from firing inside the step it guards; for the plan, the smallest
/// error-rate regression caught in most rollouts and the calls that fail first, from seeded virtual-time runs.
public struct DetectionAnalysis: Sendable, Equatable, Codable {
    /// The traffic and the regressions the analysis assumes.
    public struct Options: Sendable, Equatable, Codable {
        /// Calls per second through the alias.
        public var rate: Double
        /// How often the old version's calls fail (0…1): the level a regression adds to.
        public var baselineErrorRate: Double
        /// How often a faulty new version's calls fail (0…1), for the blast radius.
        public var assumedErrorRate: Double
        /// Simulated rollouts per figure.
        public var runs: Int
        public var seed: UInt64
        /// The share of rollouts in which a regression must be caught to count as caught.
        public var detectionProbability: Double
        /// How often the executor evaluates alarms and looks at the versions (the engine's default: 10 s).
        public var evaluationInterval: Duration

        public init(rate: Double, baselineErrorRate: Double = 0, assumedErrorRate: Double = 0.05, runs: Int = 200, seed: UInt64 = 1,
                    detectionProbability: Double = 0.95, evaluationInterval: Duration = .seconds(10)) {
            self.rate = rate
            self.baselineErrorRate = baselineErrorRate
            self.assumedErrorRate = assumedErrorRate
            self.runs = runs
            self.seed = seed
            self.detectionProbability = detectionProbability
            self.evaluationInterval = evaluationInterval
        }
    }

    public var options: Options
    /// The judgement behind the `withJudgement` figures: the plan's, or the standard settings when it has none.
    public var judgement: JudgementSettings
    /// Whether the plan itself judges the new version against the old.
    public var judgementConfigured: Bool
    /// Every alarm that guards the alias, in the order given.
    public var alarms: [AlarmAnalysis]
    /// What the alarms catch on their own.
    public var alarmsOnly: DetectionFigures
    /// What the alarms and the judgement catch together.
    public var withJudgement: DetectionFigures

    /// Every alarm's findings, in order: the warnings to print.
    public var warnings: [AlarmFinding] { alarms.flatMap(\.findings) }
}

/// One alarm as the analysis sees it.
public struct AlarmAnalysis: Sendable, Equatable, Codable {
    public var name: String
    public var scope: AlarmScope
    /// What keeps it from catching a regression in time, each with what to change; empty when nothing does.
    public var findings: [AlarmFinding]

    /// Whether the simulated rollouts evaluate it.
    public var simulated: Bool { scope != .notSimulated }
}

/// A reason an alarm may not catch a faulty new version in time, with what to change.
public struct AlarmFinding: Sendable, Equatable, Codable {
    /// The kind of problem, stable for machines.
    public enum Code: String, Sendable, Equatable, Codable, CaseIterable {
        /// Its metric is one the simulation does not synthesize: the figures leave it out.
        case notSimulated
        /// Its dimensions match none of the alias's calls.
        case watchesNoCalls
        /// It watches the old version only.
        case watchesOldVersionOnly
        /// `TreatMissingData: breaching`: in ALARM before any traffic, so every deployment fails.
        case missingDataBreaching
        /// Already over its threshold when the new version is as good as the old one.
        case breachesWithoutRegression
        /// It watches both versions, so the new version must fail far more often to cross the threshold.
        case diluted
        /// Even a new version failing every call cannot cross the threshold at the step's weight and rate.
        case unreachableThreshold
        /// Its periods and datapoints take longer than the step it guards.
        case tooSlowForStep
        /// Too few calls per period at the step's weight for the alarm to tell a regression from noise.
        case sparseData
    }

    public var alarm: String
    public var code: Code
    /// What is wrong and what to change, for a person.
    public var message: String

    public init(alarm: String, code: Code, message: String) {
        self.alarm = alarm
        self.code = code
        self.message = message
    }
}

/// What a plan catches, with alarms alone or with the judgement too.
public struct DetectionFigures: Sendable, Equatable, Codable {
    /// The smallest increase of the new version's error rate over the old one's (absolute: 0.02 is two percentage
    /// points) that is rolled back before 100 % in at least `detectionProbability` of the runs; nil when none is,
    /// up to a new version that fails every call. A plan that also rolls back good versions (`falseRollbackShare`)
    /// catches everything for the wrong reason.
    public var smallestCaughtIncrease: Double?
    /// The share of runs in which a new version exactly as good as the old one was rolled back.
    public var falseRollbackShare: Double
    /// What a new version failing at the assumed rate costs.
    public var blastRadius: BlastRadius
}

/// The calls a faulty new version fails before the rollout ends, over the simulated runs.
public struct BlastRadius: Sendable, Equatable, Codable {
    /// The new version's error rate assumed.
    public var newErrorRate: Double
    /// Failed calls on the new version until the rollout ended (rolled back, or at 100 %, after which every call
    /// of the new version fails at this rate), mean over the runs.
    public var meanFailedCalls: Double
    /// The share of runs rolled back before 100 %.
    public var caughtShare: Double
    /// Minutes from the deployment's start to the rollback, mean over the runs that were caught; nil when none was.
    public var meanMinutesToRollback: Double?
}

extension DetectionAnalysis {
    /// Analyzes one alias's plan: `configuration` (its schedule and judgement), the alarms that guard the alias and
    /// who it is (to tell which calls an alarm's dimensions match). Pure and seeded: the same input gives the same
    /// output. Throws when an option is out of range, naming it.
    public static func analyze(configuration: RolloutConfiguration, identity: AliasIdentity, alarms: [AlarmDefinition],
                               options: Options) throws(RolloutError) -> DetectionAnalysis {
        try validate(options)
        let simulated = SimulatedAlarms(alarms, identity: identity, newVersion: configuration.newVersion)
        let judgement = configuration.judgement ?? JudgementSettings()
        var alarmsOnly = configuration, judged = configuration
        alarmsOnly.judgement = nil
        judged.judgement = judgement
        func simulation(_ configuration: RolloutConfiguration) -> RolloutSimulation {
            RolloutSimulation(configuration: configuration, rate: options.rate, identity: identity, alarms: simulated,
                              evaluationInterval: options.evaluationInterval)
        }
        var seeds = SplitMix64(seed: options.seed)
        let runSeeds = (0..<options.runs).map { _ in seeds.next() }
        let alarmAnalyses = zip(alarms, simulated.scopes).map { alarm, scope in
            AlarmAnalysis(name: scope.name, scope: scope.scope,
                          findings: AlarmReview(alarm: alarm, scope: scope.scope, why: scope.why, configuration: alarmsOnly,
                                                identity: identity, options: options).findings())
        }
        return DetectionAnalysis(
            options: options, judgement: judgement, judgementConfigured: configuration.judgement != nil, alarms: alarmAnalyses,
            alarmsOnly: figures(simulation(alarmsOnly), seeds: runSeeds, options: options),
            withJudgement: figures(simulation(judged), seeds: runSeeds, options: options))
    }

    static func validate(_ options: Options) throws(RolloutError) {
        guard options.rate.isFinite, options.rate > 0, options.rate <= 1_000_000 else {
            throw RolloutError(.invalidFlag, "the traffic rate of the detection analysis is \(options.rate) calls per second; "
                + "give a number in (0, 1000000] (--rate, --expected-rate, or a --traffic file with events)")
        }
        guard (0...1).contains(options.baselineErrorRate) else {
            throw RolloutError(.invalidFlag, "the old version's error rate \(options.baselineErrorRate) is not a share; use a number in 0...1")
        }
        guard options.assumedErrorRate > 0, options.assumedErrorRate <= 1 else {
            throw RolloutError(.invalidFlag, "--assume-error-rate \(options.assumedErrorRate) is not a share of calls; use a percentage in (0, 100], e.g. 5%")
        }
        guard (1...100_000).contains(options.runs) else {
            throw RolloutError(.invalidFlag, "the detection analysis needs between 1 and 100000 runs, not \(options.runs)")
        }
        guard options.detectionProbability > 0, options.detectionProbability <= 1 else {
            throw RolloutError(.invalidFlag, "the detection probability \(options.detectionProbability) is not a probability; use a number in (0, 1]")
        }
        guard options.evaluationInterval >= .seconds(1) else {
            throw RolloutError(.invalidFlag, "the evaluation interval of the detection analysis must be at least a second, not \(options.evaluationInterval)")
        }
    }

    /// Increases of the error rate tried, ascending: 1-1.5-2-3-5-7.5 per decade, the numbers a person reads easily.
    static let increases: [Double] = [
        0.0001, 0.0002, 0.0003, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.0075,
        0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1,
    ]

    static func figures(_ simulation: RolloutSimulation, seeds: [UInt64], options: Options) -> DetectionFigures {
        let base = options.baselineErrorRate
        let needed = Int((options.detectionProbability * Double(seeds.count)).rounded(.up))
        let faulty = seeds.map { simulation.run(seed: $0, oldErrorRate: base, newErrorRate: options.assumedErrorRate) }
        let falseRollbacks = seeds.filter { simulation.run(seed: $0, oldErrorRate: base, newErrorRate: base).caughtBeforeFullTraffic }.count

        // The grid up to a new version that fails every call, with the assumed regression in it: its runs are done.
        var grid = increases.filter { base + $0 < 1 }
        grid.append(1 - base)
        let assumed = options.assumedErrorRate - base
        var known: [Int: Bool] = [:]
        if assumed > 0 {
            if !grid.contains(assumed) { grid = (grid + [assumed]).sorted() }
            known[grid.firstIndex(of: assumed)!] = faulty.filter(\.caughtBeforeFullTraffic).count >= needed
        }
        /// Whether `grid[index]` is caught in at least `needed` runs; stops as soon as the answer is known.
        func caught(_ index: Int) -> Bool {
            if let answer = known[index] { return answer }
            var hits = 0, misses = 0
            for seed in seeds {
                if simulation.run(seed: seed, oldErrorRate: base, newErrorRate: base + grid[index]).caughtBeforeFullTraffic {
                    hits += 1
                    if hits >= needed { break }
                } else {
                    misses += 1
                    if misses > seeds.count - needed { break }
                }
            }
            known[index] = hits >= needed
            return hits >= needed
        }
        // Bisection assumes that a larger regression is caught at least as often, which holds for the same seeds
        // (common random numbers) up to noise.
        var smallest: Double?
        if grid.last! > 0, caught(grid.count - 1) {
            var low = -1, high = grid.count - 1
            if let index = known.keys.first, index < high { if known[index]! { high = index } else { low = index } }
            while high - low > 1 {
                let middle = (low + high) / 2
                if caught(middle) { high = middle } else { low = middle }
            }
            smallest = grid[high]
        }
        let caughtRuns = faulty.filter(\.caughtBeforeFullTraffic)
        let minutes = caughtRuns.map { Double($0.endedAfter.wholeMilliseconds) / 60_000 }
        return DetectionFigures(
            smallestCaughtIncrease: smallest,
            falseRollbackShare: Double(falseRollbacks) / Double(seeds.count),
            blastRadius: BlastRadius(
                newErrorRate: options.assumedErrorRate,
                meanFailedCalls: Double(faulty.map(\.newErrors).reduce(0, +)) / Double(seeds.count),
                caughtShare: Double(caughtRuns.count) / Double(seeds.count),
                meanMinutesToRollback: minutes.isEmpty ? nil : minutes.reduce(0, +) / Double(minutes.count)))
    }
}
