import Testing
@testable import Rollout

let lambdaNamespace = "AWS/Lambda"

func errorsAlarm(n: Int, m: Int? = nil, missing: TreatMissingData = .missing, period: Int = 60,
                 threshold: Double = 0, statistic: Statistic = .sum) -> AlarmDefinition {
    AlarmDefinition(
        name: "errors",
        metric: .metric(MetricStat(metric: MetricIdentity(namespace: lambdaNamespace, metricName: "Errors",
                                                          dimensions: ["FunctionName": "fn"]),
                                   period: period, statistic: statistic)),
        evaluationPeriods: n, datapointsToAlarm: m, threshold: threshold,
        comparisonOperator: .greaterThanThreshold, treatMissingData: missing)
}

let fnErrors = MetricIdentity(namespace: lambdaNamespace, metricName: "Errors", dimensions: ["FunctionName": "fn"])

struct AlarmDecisionTests {
    // AWS's table ("How alarm state is evaluated when data is missing"), 3 of 3, threshold 0,
    // 0 = not breaching, 1 = breaching (X), nil = missing; columns MISSING, IGNORE, BREACHING, NOT BREACHING.
    // `nil` in the expected column means "retain current state".
    static let awsTable: [([Double?], [AlarmState?])] = [
        ([0, nil, 1, nil, 1], [.ok, .ok, .ok, .ok]),
        ([0, nil, nil, nil, nil], [.ok, .ok, .ok, .ok]),
        ([nil, nil, nil, nil, nil], [.insufficientData, nil, .alarm, .ok]),
        ([0, 1, 1, nil, 1], [.alarm, .alarm, .alarm, .alarm]),
        ([nil, nil, 1, nil, nil], [.alarm, nil, .alarm, .ok]),
    ]

    @Test(arguments: 0..<awsTable.count)
    func awsMissingDataTable(row: Int) throws {
        let (range, expected) = Self.awsTable[row]
        let treatments: [TreatMissingData] = [.missing, .ignore, .breaching, .notBreaching]
        for (treatment, want) in zip(treatments, expected) {
            for previous in [AlarmState.ok, .alarm] {
                let result = AlarmEvaluator.decide(range: range, definition: errorsAlarm(n: 3, missing: treatment), previous: previous)
                #expect(result.state == (want ?? previous), "row \(row) \(treatment) previous \(previous): \(result.reason)")
            }
        }
    }

    @Test func mOfNCountsBreachingAmongTheMostRecentN() {
        let d = errorsAlarm(n: 3, m: 2, threshold: 5)
        #expect(AlarmEvaluator.decide(range: [9, 9, 1, 6, 7], definition: d, previous: .ok).state == .alarm)
        #expect(AlarmEvaluator.decide(range: [9, 9, 1, 2, 7], definition: d, previous: .ok).state == .ok)
        // Missing points are skipped when enough real ones remain in the range (TreatMissingData unused).
        let skip = AlarmEvaluator.decide(range: [6, 7, nil, 1, nil], definition: errorsAlarm(n: 3, m: 2, missing: .notBreaching, threshold: 5), previous: .ok)
        #expect(skip.state == .alarm)
        #expect(skip.reason == "Threshold Crossed: 2 out of the last 3 datapoints of Errors (Sum) [6, 7, 1] were greater than the threshold (5) (minimum 2 datapoints for OK -> ALARM transition)")
    }

    /// A CloudWatch user reads the reason as CloudWatch's StateReason: the metric, each datapoint with its time, one number, one verb.
    @Test func reasonNamesTheMetricAndTheTimeOfEachDatapoint() throws {
        var store = MetricStore()
        store.record(fnErrors, value: 4, at: at(9, 10))  // 1970-01-12T13:56:10Z
        let evaluation = try AlarmEvaluator(errorsAlarm(n: 1)).evaluate(at: at(10, 30), data: store)
        #expect(evaluation.state == .alarm)
        #expect(evaluation.reason == "Threshold Crossed: 1 out of the last 1 datapoint of Errors (Sum) [4 (13:56)] was greater than the threshold (0) (minimum 1 datapoint for OK -> ALARM transition)")
        let rate = try AlarmEvaluator(.errorRate(above: 10, functionName: "fn", newVersion: "2"))
        #expect(rate.evaluate(at: at(10, 30), data: store).reason.contains("of rate = FILL(errors, 0) / invocations * 100"))
        let missing = AlarmEvaluator.decide(range: [nil, nil, 9, nil, nil], definition: errorsAlarm(n: 3, m: 3, missing: .breaching, threshold: 5),
                                            previous: .ok)
        #expect(missing.reason == "Threshold Crossed: 1 out of the 1 datapoint of Errors (Sum) present in the last 5 periods [-, -, 9, -, -] was greater than the threshold (5); TreatMissingData breaching counts the 2 missing ones as breaching (minimum 3 datapoints for OK -> ALARM transition)")
    }

    @Test func shortfallIsFilledPerTreatment() {
        let range: [Double?] = [nil, nil, 9, nil, nil]
        func state(_ t: TreatMissingData, m: Int) -> AlarmState {
            AlarmEvaluator.decide(range: range, definition: errorsAlarm(n: 3, m: m, missing: t, threshold: 5), previous: .insufficientData).state
        }
        #expect(state(.breaching, m: 3) == .alarm)     // 1 real + 2 filled breaching
        #expect(state(.notBreaching, m: 2) == .ok)     // 1 of 2
        #expect(state(.notBreaching, m: 1) == .alarm)
        #expect(state(.missing, m: 3) == .alarm)       // decided on the real point alone
        #expect(state(.ignore, m: 3) == .insufficientData)  // undecidable → keeps the current state
        #expect(state(.ignore, m: 1) == .alarm)
    }

    @Test func ignoreGoesOkWhenAlarmIsOutOfReach() {
        let d = errorsAlarm(n: 3, m: 3, missing: .ignore, threshold: 5)
        #expect(AlarmEvaluator.decide(range: [nil, 1, nil, nil, nil], definition: d, previous: .alarm).state == .ok)
    }

    @Test(arguments: ComparisonOperator.allCases)
    func comparisonOperators(op: ComparisonOperator) {
        let expected: [Double: Bool] = switch op {
        case .greaterThanOrEqualToThreshold: [4: false, 5: true, 6: true]
        case .greaterThanThreshold: [4: false, 5: false, 6: true]
        case .lessThanThreshold: [4: true, 5: false, 6: false]
        case .lessThanOrEqualToThreshold: [4: true, 5: true, 6: false]
        }
        for (value, breaches) in expected { #expect(op.breaches(value, 5) == breaches) }
    }
}

struct AlarmEvaluationWithDataTests {
    @Test func evaluatesCompletePeriodsEndingBeforeNow() throws {
        var store = MetricStore()
        store.record(fnErrors, value: 1, at: at(7, 10))
        store.record(fnErrors, value: 1, at: at(8, 10))
        store.record(fnErrors, value: 1, at: at(9, 59))
        store.record(fnErrors, value: 5, at: at(10, 1))   // the current, incomplete minute is not evaluated
        let evaluator = try AlarmEvaluator(errorsAlarm(n: 2))
        let result = evaluator.evaluate(at: at(10, 30), data: store)
        #expect(result.datapoints == [nil, 1, 1, 1])  // minutes 6…9: N = 2 plus 2 look-back periods
        #expect(result.state == .alarm)
        #expect(evaluator.evaluate(at: at(20), data: store).state == .insufficientData)
    }

    @Test func periodsOf300SecondsAggregateFiveMinutes() throws {
        var store = MetricStore()
        // Periods align to the epoch: 300 s periods start at minutes ≡ 0 (mod 5): 16_660, 16_665, …
        let base = Instant.minutes(16_660)
        for minute in 0..<10 { store.record(fnErrors, value: Double(minute), at: base + .seconds(60 * Int64(minute))) }
        let sum = try AlarmEvaluator(errorsAlarm(n: 1, period: 300, threshold: 10))
        let values = sum.periodValues(at: base + .seconds(600), count: 2, data: store)
        let expected: [Double?] = [10, 35]  // 0+1+2+3+4, 5+6+7+8+9
        #expect(values == expected)
        #expect(sum.evaluate(at: base + .seconds(600), data: store).state == .alarm)
        // Evaluated one minute earlier, the second period is incomplete and not seen.
        let earlier = sum.periodValues(at: base + .seconds(540), count: 2, data: store)
        #expect(earlier == [nil, 10])
        let average = try AlarmEvaluator(errorsAlarm(n: 1, period: 300, statistic: .average))
        #expect(average.periodValues(at: base + .seconds(600), count: 1, data: store) == [7])
        let maximum = try AlarmEvaluator(errorsAlarm(n: 1, period: 600, statistic: .maximum))  // minutes 16_660…16_669
        #expect(maximum.periodValues(at: base + .seconds(600), count: 1, data: store) == [9])
    }

    @Test func statisticsOfADatapoint() {
        let p = MetricDatapoint(values: [4, 1, 3, 2])
        #expect(p.value(of: .sampleCount) == 4)
        #expect(p.value(of: .sum) == 10)
        #expect(p.value(of: .average) == 2.5)
        #expect(p.value(of: .minimum) == 1)
        #expect(p.value(of: .maximum) == 4)
        #expect(MetricDatapoint(values: []).value(of: .sum) == nil)
    }

    @Test func percentilesUseNearestRank() throws {
        let hundred = MetricDatapoint(values: (1...100).map(Double.init).reversed())
        #expect(hundred.value(of: .percentile(99)) == 99)
        #expect(hundred.value(of: .percentile(90)) == 90)
        #expect(hundred.value(of: .percentile(50)) == 50)
        #expect(hundred.value(of: .percentile(100)) == 100)
        let ten = MetricDatapoint(values: (1...10).map(Double.init))
        #expect(ten.value(of: .percentile(99)) == 10)   // rank ceil(9.9) = 10
        #expect(ten.value(of: .percentile(90)) == 9)
        #expect(ten.value(of: .percentile(99.9)) == 10)
        #expect(MetricDatapoint(sampleCount: 3, sum: 3, minimum: 1, maximum: 1).value(of: .percentile(99)) == nil)
        #expect(try Statistic(parsing: "p99.9") == .percentile(99.9))
        #expect(try Statistic(parsing: "Sum") == .sum)
        #expect(throws: RolloutError.self) { try Statistic(parsing: "Median") }
        #expect(throws: RolloutError.self) { try Statistic(parsing: "p101") }
    }

    @Test func p99AcrossMinutesOfALongerPeriodUsesAllSamples() throws {
        var store = MetricStore()
        let duration = MetricIdentity(namespace: lambdaNamespace, metricName: "Duration", dimensions: [:])
        let base = Instant.minutes(16_660)
        for i in 1...100 { store.record(duration, value: Double(i), at: base + .seconds(Int64(i % 2) * 60)) }
        let alarm = AlarmDefinition(name: "p99", metric: .metric(MetricStat(metric: duration, period: 120, statistic: .percentile(99))),
                                    evaluationPeriods: 1, threshold: 98, comparisonOperator: .greaterThanThreshold)
        let evaluation = try AlarmEvaluator(alarm).evaluate(at: base + .seconds(120), data: store)
        #expect(evaluation.datapoints.last == 99)
        #expect(evaluation.state == .alarm)
    }
}

struct MetricMathTests {
    static let fn = "fn"
    static func stat(_ name: String, _ s: Statistic = .sum) -> MetricStat {
        MetricStat(metric: LambdaMetric.identity(name, functionName: fn, executedVersion: "2"), period: 60, statistic: s)
    }

    static func rateAlarm(_ expression: String, missing: TreatMissingData = .missing) -> AlarmDefinition {
        AlarmDefinition(name: "rate", metric: .metricMath([
            .metric("errors", stat("Errors")), .metric("invocations", stat("Invocations")),
            .expression("e1", expression),
        ]), evaluationPeriods: 1, threshold: 5, comparisonOperator: .greaterThanThreshold, treatMissingData: missing)
    }

    func store(errors: Int, invocations: Int, minute: Int64 = 9) -> MetricStore {
        var s = MetricStore()
        for i in 0..<invocations {
            s.record(Self.stat("Invocations").metric, value: 1, at: at(minute, Int64(i % 60)), keepValue: false)
            s.record(Self.stat("Errors").metric, value: i < errors ? 1 : 0, at: at(minute, Int64(i % 60)), keepValue: false)
        }
        return s
    }

    @Test func errorRateAboveThreshold() throws {
        let evaluator = try AlarmEvaluator(Self.rateAlarm("errors / invocations * 100"))
        let high = evaluator.evaluate(at: at(10), data: store(errors: 3, invocations: 50))
        #expect(high.datapoints.last == 6)
        #expect(high.state == .alarm)
        #expect(evaluator.evaluate(at: at(10), data: store(errors: 2, invocations: 50)).state == .ok)  // 4 %
        #expect(evaluator.evaluate(at: at(10), data: store(errors: 5, invocations: 100)).state == .ok)  // exactly 5 %
    }

    @Test func divisionByZeroIsMissingData() throws {
        var s = MetricStore()
        s.record(Self.stat("Invocations").metric, value: 0, at: at(9))
        s.record(Self.stat("Errors").metric, value: 0, at: at(9))
        let plain = try AlarmEvaluator(Self.rateAlarm("(errors/invocations)*100"))
        #expect(plain.evaluate(at: at(10), data: s).state == .insufficientData)
        let guarded = try AlarmEvaluator(Self.rateAlarm("IF(invocations > 0, errors/invocations*100, 0)"))
        let r = guarded.evaluate(at: at(10), data: s)
        #expect(r.datapoints.last == 0)
        #expect(r.state == .ok)
    }

    @Test func fillReplacesMissing() throws {
        var s = MetricStore()
        s.record(Self.stat("Invocations").metric, value: 1, at: at(9))
        let unfilled = try AlarmEvaluator(Self.rateAlarm("errors / invocations * 100", missing: .breaching))
        #expect(unfilled.evaluate(at: at(10), data: s).state == .alarm)  // errors missing → rate missing → breaching
        let filled = try AlarmEvaluator(Self.rateAlarm("FILL(errors, 0) / invocations * 100", missing: .breaching))
        let result = filled.evaluate(at: at(10), data: s)
        #expect(result.datapoints.suffix(1) == [0])
        #expect(result.state == .ok)
    }

    @Test(arguments: [
        ("1 + 2 * 3", 7.0), ("(1 + 2) * 3", 9), ("-2 ^ 2", -4), ("2 ^ 3 ^ 1", 8), ("10 / 4", 2.5),
        ("IF(3 > 2, 1, 0)", 1), ("IF(3 < 2, 1)", nil), ("IF(1 >= 1 AND 2 != 3, 5, 6)", 5), ("IF(0 || 0, 5, 6)", 6),
        ("ABS(-3)", 3), ("FILL(m, 7)", 7), ("m + 1", nil), ("1 / 0", nil), ("1e2 + .5", 100.5), ("2 == 2", 1),
    ] as [(String, Double?)])
    func expressionValues(text: String, value: Double?) throws {
        #expect(try MetricExpression(text).evaluate { _ in nil } == value)
    }

    @Test(arguments: [
        "errors /", "FOO(m1)", "m1 $ m2", "(m1", "m1 m2", "IF(m1)", "FILL(m1, REPEAT)", "Errors / m1", "1..2", "",
    ])
    func unknownSyntaxIsAClearError(text: String) {
        #expect {
            try MetricExpression(text)
        } throws: { error in
            let e = error as! RolloutError
            return e.code == .invalidExpression && e.message.contains("'\(text)'") && e.message.contains("supported:")
        }
    }

    @Test func definitionsAreValidated() {
        func message(_ d: AlarmDefinition) -> String? {
            do { _ = try AlarmEvaluator(d); return nil } catch { return error.message }
        }
        #expect(message(Self.rateAlarm("errors / missing_id")).map { $0.contains("unknown id 'missing_id'") } == true)
        #expect(message(errorsAlarm(n: 3, m: 4))?.contains("DatapointsToAlarm") == true)
        #expect(message(errorsAlarm(n: 0))?.contains("EvaluationPeriods") == true)
        #expect(message(errorsAlarm(n: 1, period: 90))?.contains("multiple of 60") == true)
        var noReturn = Self.rateAlarm("errors")
        noReturn.metric = .metricMath([.metric("a", Self.stat("Errors"))])
        #expect(message(noReturn)?.contains("ReturnData") == true)
        var cycle = Self.rateAlarm("x")
        cycle.metric = .metricMath([.metric("a", Self.stat("Errors")), .expression("x", "y + a", returnData: true),
                                    .expression("y", "x", returnData: false)])
        #expect(message(cycle)?.contains("refers to itself") == true)
        var twoPeriods = Self.rateAlarm("a / b")
        twoPeriods.metric = .metricMath([.metric("a", Self.stat("Errors")),
                                         .metric("b", MetricStat(metric: fnErrors, period: 120, statistic: .sum)),
                                         .expression("e", "a / b")])
        #expect(message(twoPeriods)?.contains("same Period") == true)
        var badId = Self.rateAlarm("a")
        badId.metric = .metricMath([.metric("Bad", Self.stat("Errors")), .expression("e", "1")])
        #expect(message(badId)?.contains("lowercase") == true)
    }

    @Test func expressionsMayReferToOtherExpressions() throws {
        let d = AlarmDefinition(name: "chain", metric: .metricMath([
            .metric("m1", Self.stat("Errors")), .metric("m2", Self.stat("Invocations")),
            .expression("pct", "ratio * 100", returnData: true), .expression("ratio", "m1 / m2", returnData: false),
        ]), evaluationPeriods: 1, threshold: 5, comparisonOperator: .greaterThanThreshold)
        #expect(try AlarmEvaluator(d).evaluate(at: at(10), data: store(errors: 1, invocations: 10)).datapoints.last == 10)
    }
}

struct FlagAlarmTests {
    @Test func errorRateFlagWatchesTheNewVersionOnly() throws {
        let d = AlarmDefinition.errorRate(above: try AlarmDefinition.parseErrorRateFlag("5%"), functionName: "fn", newVersion: "2")
        let evaluator = try AlarmEvaluator(d)
        var s = MetricStore()
        let v2 = { (m: String) in LambdaMetric.identity(m, functionName: "fn", executedVersion: "2") }
        let v1 = { (m: String) in LambdaMetric.identity(m, functionName: "fn", executedVersion: "1") }
        for i in 0..<100 {
            s.record(v1("Invocations"), value: 1, at: at(9, Int64(i % 60)))
            s.record(v1("Errors"), value: 1, at: at(9, Int64(i % 60)))  // the old version is failing badly
        }
        #expect(evaluator.evaluate(at: at(10), data: s).state == .ok)  // no new-version data: not breaching
        for i in 0..<20 {
            s.record(v2("Invocations"), value: 1, at: at(9, Int64(i)))
            s.record(v2("Errors"), value: i < 2 ? 1 : 0, at: at(9, Int64(i)))
        }
        let result = evaluator.evaluate(at: at(10), data: s)
        #expect(result.datapoints.last == 10)
        #expect(result.state == .alarm)
    }

    @Test func p99FlagAlarm() throws {
        let d = AlarmDefinition.p99Duration(aboveMilliseconds: try AlarmDefinition.parseMillisecondsFlag("800ms"), functionName: "fn", newVersion: "3")
        var s = MetricStore()
        let duration = LambdaMetric.identity("Duration", functionName: "fn", executedVersion: "3")
        for i in 1...100 { s.record(duration, value: i == 100 ? 5000 : 100, at: at(9, Int64(i % 60))) }
        #expect(try AlarmEvaluator(d).evaluate(at: at(10), data: s).state == .ok)   // p99 = 100 ms
        for _ in 1...5 { s.record(duration, value: 900, at: at(9)) }
        #expect(try AlarmEvaluator(d).evaluate(at: at(10), data: s).state == .alarm)
    }

    @Test func flagParsing() throws {
        #expect(try AlarmDefinition.parseErrorRateFlag("0.5%") == 0.5)
        #expect(try AlarmDefinition.parseErrorRateFlag(" 5 ") == 5)
        #expect(try AlarmDefinition.parseMillisecondsFlag("1.5s") == 1500)
        #expect(try AlarmDefinition.parseMillisecondsFlag("800") == 800)
        for bad in ["", "abc", "0%", "150%", "-1"] {
            #expect(throws: RolloutError.self) { try AlarmDefinition.parseErrorRateFlag(bad) }
        }
        for bad in ["", "fast", "0", "-5ms"] {
            #expect(throws: RolloutError.self) { try AlarmDefinition.parseMillisecondsFlag(bad) }
        }
    }
}

struct AlarmMonitorTests {
    @Test func reportsOnlyChangesAndDrivesTheRollout() throws {
        var monitor = try AlarmMonitor([.errorRate(above: 5, functionName: "fn", newVersion: "2"), errorsAlarm(n: 1)])
        #expect(monitor.states == ["fn-v2-error-rate": .insufficientData, "errors": .insufficientData])
        var store = MetricStore()
        let first = monitor.evaluate(at: at(10), data: store)
        #expect(first.map(\.alarmName) == ["fn-v2-error-rate"])   // notBreaching → OK; "errors" stays INSUFFICIENT_DATA
        #expect(monitor.evaluate(at: at(10), data: store).isEmpty)
        store.record(fnErrors, value: 3, at: at(10, 5))
        let second = monitor.evaluate(at: at(11), data: store)
        #expect(second.map(\.alarmName) == ["errors"])
        #expect(second[0].evaluation.state == .alarm)
        var rollout = Rollout(configuration: config("Canary10Percent5Minutes"))
        _ = rollout.start(at: at(10))
        let actions = second.flatMap { rollout.alarmChanged($0.alarmName, to: $0.evaluation.state, reason: $0.evaluation.reason, at: at(11)) }
        #expect(actions.hasRollBack)
        #expect(rollout.status == .failed)
    }

    @Test func duplicateNamesAreRejected() {
        #expect(throws: RolloutError.self) { try AlarmMonitor([errorsAlarm(n: 1), errorsAlarm(n: 2)]) }
    }
}
