#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The findings about one alarm that guards a rollout: what its dimensions watch, what its threshold asks of the
/// new version at the first step's weight, whether it can fire inside that step, and whether it sees enough calls.
///
/// Thresholds are read on steady expected traffic through the alarm's own evaluator (so metric math counts as it
/// would), and "inside the step" by running the rollout on expected traffic with the new version failing every
/// call, from several seconds of the minute: the same evaluation as the engine's, without the noise.
struct AlarmReview {
    let alarm: AlarmDefinition
    let scope: AlarmScope
    /// Why the alarm is not simulated or sees no call.
    let why: String?
    /// The plan without judgement: what the alarms do on their own.
    let configuration: RolloutConfiguration
    let identity: AliasIdentity
    let options: DetectionAnalysis.Options

    /// The start seconds (of a minute) the step check tries.
    static let startSeconds = [0, 10, 20, 30, 40, 50]

    func findings() -> [AlarmFinding] {
        var found: [AlarmFinding] = []
        func add(_ code: AlarmFinding.Code, _ text: String) {
            found.append(AlarmFinding(alarm: alarm.name, code: code, message: "alarm '\(alarm.name)' \(text)"))
        }
        let newVersion = configuration.newVersion
        let watchNew = "watch the new version: dimension `ExecutedVersion` with `!GetAtt \(identity.functionName).Version.Version`"
        // The engine reads no period before the deployment's first minute, whatever the metric.
        if alarm.treatMissingData == .breaching {
            add(.missingDataBreaching, "has TreatMissingData breaching: the periods before the deployment have no data for it, so it is "
                + "in ALARM when the deployment begins and every deployment fails before any traffic shifts; use TreatMissingData notBreaching")
        }
        switch scope {
        case .notSimulated:
            add(.notSimulated, "is not simulated: \(why ?? "its metrics cannot be synthesized"); the simulated figures leave it out")
            return found
        case .noCalls:
            add(.watchesNoCalls, "watches none of the alias's calls (\(why ?? "its dimensions match none")), so it never sees "
                + "version \(newVersion)'s errors; use the dimensions FunctionName \(identity.functionName), Resource \(identity.resource), and \(watchNew)")
            return found
        case .oldVersion:
            add(.watchesOldVersionOnly, "watches only the old version (ExecutedVersion \(identity.oldVersion)): it cannot see version "
                + "\(newVersion)'s errors, and while it is in ALARM no deployment can start, not even one of a fix; \(watchNew)")
            return found
        case .newVersion, .bothVersions:
            if alarm.treatMissingData == .breaching { return found }
        }
        let points = configuration.schedule.points
        // All at once: there is no step before 100 % for an alarm to guard.
        guard points.count > 1, let evaluator = try? AlarmEvaluator(alarm) else { return found }
        let weight = points[0].percent / 100
        let stepMinutes = points[1].minute - points[0].minute
        let isCanary = if case .canary = configuration.schedule.kind { true } else { false }
        let step = "\(isCanary ? "the canary step" : "the first step") (\(Self.number(points[0].percent)) % for \(stepMinutes) min)"
        let threshold = "its threshold (\(alarm.comparisonOperator.phrase) \(AlarmEvaluator.format(alarm.threshold)))"
        // Which way the threshold moves to make the alarm fire later (looser) or sooner (tighter).
        let greater = [.greaterThanThreshold, .greaterThanOrEqualToThreshold].contains(alarm.comparisonOperator)
        let loosen = greater ? "raise" : "lower", tighten = greater ? "lower" : "raise"
        let steady = SteadyTraffic(alarm: alarm, evaluator: evaluator, identity: identity, newVersion: newVersion, options: options)

        let atBaseline = steady.value(weight: weight, newErrorRate: options.baselineErrorRate, withOld: true)
        if steady.breaches(atBaseline) {
            add(.breachesWithoutRegression, "is already past \(threshold) when version \(newVersion) fails as often as the old one "
                + "(\(Self.percent(options.baselineErrorRate))): at \(Self.number(points[0].percent)) % it reads "
                + "\(atBaseline.map(AlarmEvaluator.format) ?? "?"), so it would roll back a version as good as the old one; "
                + "\(loosen) the threshold, or alarm on the new version's error rate (Errors / Invocations × 100)")
            return found
        }
        let needed = steady.neededErrorRate(weight: weight, withOld: true)
        let own = scope == .bothVersions ? steady.neededErrorRate(weight: weight, withOld: false) : needed
        if scope == .bothVersions, let own, needed.map({ $0 > max(own * 1.5, own + 0.001) }) ?? true {
            let cost: String
            if let needed {
                cost = "version \(newVersion) would have to fail more than \(Self.percent(needed)) of its calls to cross \(threshold)"
            } else {
                let most = steady.value(weight: weight, newErrorRate: 1, withOld: true).map(AlarmEvaluator.format) ?? "?"
                cost = "it cannot cross \(threshold) even if every call of version \(newVersion) fails (it would read \(most))"
            }
            add(.diluted, "watches both versions (its metrics have no ExecutedVersion dimension), so the old version's calls dilute "
                + "the new one's: at \(Self.number(points[0].percent)) % \(cost), against \(Self.percent(own)) if it watched only the "
                + "new version; \(watchNew)")
        } else if needed == nil {
            let calls = options.rate * 60 * weight
            let most = steady.value(weight: weight, newErrorRate: 1, withOld: true).map(AlarmEvaluator.format) ?? "no value"
            add(.unreachableThreshold, "cannot cross \(threshold) at \(Self.number(points[0].percent)) % of \(Self.number(options.rate)) "
                + "calls/s: version \(newVersion) serves about \(Self.number(calls)) calls a minute, and even if every one failed the "
                + "alarm would read \(most); \(tighten) the threshold, or alarm on the error rate (Errors / Invocations × 100)")
        }

        if needed != nil {
            let probe = RolloutSimulation(configuration: configuration, rate: options.rate, identity: identity, alarms: [alarm],
                                          evaluationInterval: options.evaluationInterval)
            let inStep = Self.startSeconds.filter {
                probe.runExpected(startSecond: $0, oldErrorRate: options.baselineErrorRate, newErrorRate: 1).weightAtRollback == weight
            }.count
            if inStep < Self.startSeconds.count {
                let m = alarm.datapointsToAlarm, period = alarm.period
                var fixes: [String] = []
                if period > 60 { fixes.append("use Period 60") }
                if m > max(1, stepMinutes) { fixes.append(stepMinutes <= 1 ? "DatapointsToAlarm 1" : "DatapointsToAlarm \(stepMinutes) or fewer") }
                let fix = fixes.isEmpty ? "lengthen the step" : fixes.joined(separator: " and ")
                let when = inStep == 0 ? "cannot go to ALARM inside \(step)"
                    : "goes to ALARM inside \(step) only for some start times (\(inStep) of \(Self.startSeconds.count) tried)"
                add(.tooSlowForStep, "\(when), even if every call of version \(newVersion) failed: it needs \(m) breaching "
                    + "period\(m == 1 ? "" : "s") of \(period) s (DatapointsToAlarm \(m) × Period \(period) = \(Self.duration(m * period))), "
                    + "and periods are aligned to the clock, not to the step; \(fix)")
            }
        }

        let perPeriod = options.rate * Double(alarm.period) * (scope == .newVersion ? weight : 1)
        if perPeriod < 3 {
            let who = scope == .newVersion ? "version \(newVersion)" : "the alias"
            let counted = switch alarm.treatMissingData {
            case .notBreaching: "counts them as not breaching"
            case .missing: "leaves them out"
            case .ignore: "keeps the alarm's state through them"
            case .breaching: "counts them as breaching"
            }
            add(.sparseData, "sees few calls: at \(Self.number(points[0].percent)) % of \(Self.number(options.rate)) calls/s \(who) serves "
                + "about \(Self.number(perPeriod)) calls per \(alarm.period)-s period and \(Self.percent(exp(-perPeriod))) of periods have "
                + "none (TreatMissingData \(alarm.treatMissingData.rawValue) \(counted)): too few to tell a regression from noise; "
                + "send more traffic through the alias, or lengthen the step and the Period")
        }
        return found
    }

    /// "50 %", "5.5 %", "0.25 %": enough digits for the size.
    static func percent(_ share: Double) -> String {
        let p = share * 100
        let digits = p >= 10 ? 0 : (p >= 1 ? 1 : 2)
        return "\(number(p, digits: digits)) %"
    }

    /// 20 → "20", 0.5 → "0.5", 2.25 → "2.3" (one decimal), without trailing zeros.
    static func number(_ value: Double, digits: Int = 1) -> String {
        var text = Judgement.rounded(value, digits)
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return text
    }

    static func duration(_ seconds: Int) -> String {
        seconds % 60 == 0 ? "\(seconds / 60) min" : "\(seconds) s"
    }
}

/// An alarm's value on steady expected traffic: every minute of its period alike.
struct SteadyTraffic {
    let alarm: AlarmDefinition
    let evaluator: AlarmEvaluator
    let selectors: [MetricIdentity: MetricSelector]
    let options: DetectionAnalysis.Options

    init(alarm: AlarmDefinition, evaluator: AlarmEvaluator, identity: AliasIdentity, newVersion: String, options: DetectionAnalysis.Options) {
        self.alarm = alarm
        self.evaluator = evaluator
        self.selectors = SimulatedAlarms([alarm], identity: identity, newVersion: newVersion).selectors
        self.options = options
    }

    /// The alarm's value for one period at `weight`; `withOld: false` leaves the old version's calls out, as if the
    /// alarm watched only the new version.
    func value(weight: Double, newErrorRate: Double, withOld: Bool) -> Double? {
        let minutes = alarm.period / 60
        let perMinute = options.rate * 60
        let old = withOld ? perMinute * (1 - weight) : 0
        var metrics = SimulatedMetrics(selectors: selectors, firstMinute: 0)
        for minute in 0..<minutes {
            metrics.add(minute: Int64(minute), .init(oldCalls: old, oldErrors: old * options.baselineErrorRate,
                                                     newCalls: perMinute * weight, newErrors: perMinute * weight * newErrorRate))
        }
        return evaluator.periodValues(at: .minutes(Int64(minutes)), count: 1, data: metrics)[0]
    }

    func breaches(_ value: Double?) -> Bool {
        value.map { alarm.comparisonOperator.breaches($0, alarm.threshold) } ?? false
    }

    /// The smallest error rate of the new version at which the alarm's value crosses its threshold; nil when even
    /// failing every call does not.
    func neededErrorRate(weight: Double, withOld: Bool) -> Double? {
        var low = options.baselineErrorRate, high = 1.0
        if breaches(value(weight: weight, newErrorRate: low, withOld: withOld)) { return low }
        guard breaches(value(weight: weight, newErrorRate: high, withOld: withOld)) else { return nil }
        for _ in 0..<40 {
            let middle = (low + high) / 2
            if breaches(value(weight: weight, newErrorRate: middle, withOld: withOld)) { high = middle } else { low = middle }
        }
        return high
    }
}
