/// The outcome of evaluating an alarm at one instant.
public struct AlarmEvaluation: Sendable, Equatable, Codable {
    public var state: AlarmState
    /// Why, in CloudWatch's words where possible ("2 of the last 3 datapoints were greater than …").
    public var reason: String
    /// The evaluation range's period values, oldest first; nil where data is missing.
    public var datapoints: [Double?]
}

/// A validated alarm, ready to be evaluated against one-minute datapoints with CloudWatch's M-of-N rules.
///
/// Periods are aligned to the epoch (a 300 s period covers minutes 0–4, 5–9, …); a period counts
/// only once complete, so evaluating at `now` looks at the periods ending at or before `now`'s
/// minute boundary. Periods longer than 60 s merge their one-minute datapoints before the statistic.
///
/// Missing data follows the AWS documentation ("How alarm state is evaluated when data is missing"):
/// CloudWatch reads an evaluation range longer than N periods (here N + 2, as in AWS's own examples
/// where N = 3 shows 5 datapoints).
/// - At least N real datapoints in the range: the most recent N real ones decide; TreatMissingData is not used.
/// - Fewer: all real datapoints are used and only the shortfall is filled according to TreatMissingData:
///   `breaching` / `notBreaching` fill with breaching / good points; `missing`: if the whole range is
///   empty → INSUFFICIENT_DATA, else the real points decide on their own with M lowered to their count
///   (AWS: `- - X - -` with 3 of 3 → ALARM); `ignore`: ALARM if the real points already reach M, OK if M
///   cannot be reached even with every missing point breaching, else the current state is kept
///   (AWS: `- - X - -` → retain, `- - - - -` → retain, `0 - - - -` → OK).
public struct AlarmEvaluator: Sendable, Equatable {
    public let definition: AlarmDefinition

    /// Extra periods read beyond N (CloudWatch's evaluation range).
    public static let extraLookbackPeriods = 2

    private enum Compiled: Sendable {
        case single(MetricStat)
        /// Metric stats by id; expressions in dependency order; the id whose values the alarm compares.
        case math(stats: [(String, MetricStat)], expressions: [(String, MetricExpression)], result: String)
    }

    private let compiled: Compiled

    /// Two evaluators are equal when their definitions are (the compiled form derives from it).
    public static func == (lhs: AlarmEvaluator, rhs: AlarmEvaluator) -> Bool { lhs.definition == rhs.definition }

    /// Validates the definition as CloudWatch would; throws a message naming the alarm and the fix.
    public init(_ definition: AlarmDefinition) throws(RolloutError) {
        self.definition = definition
        let name = definition.name
        func invalid(_ text: String) -> RolloutError { RolloutError(.invalidAlarm, "alarm '\(name)': \(text)") }

        guard definition.evaluationPeriods >= 1 else { throw invalid("EvaluationPeriods must be at least 1") }
        guard (1...definition.evaluationPeriods).contains(definition.datapointsToAlarm) else {
            throw invalid("DatapointsToAlarm (\(definition.datapointsToAlarm)) must be between 1 and EvaluationPeriods (\(definition.evaluationPeriods))")
        }
        guard definition.threshold.isFinite else { throw invalid("Threshold must be a finite number") }
        func checkPeriod(_ period: Int) throws(RolloutError) {
            guard period >= 60, period % 60 == 0 else {
                throw invalid("Period \(period) is not supported; use a multiple of 60 seconds (metrics are recorded per minute)")
            }
        }

        switch definition.metric {
        case let .metric(stat):
            try checkPeriod(stat.period)
            compiled = .single(stat)
        case let .metricMath(queries):
            guard !queries.isEmpty else { throw invalid("Metrics is empty") }
            var seen: Set<String> = []
            var stats: [(String, MetricStat)] = []
            var expressions: [String: MetricExpression] = [:]
            var period: Int?
            for q in queries {
                guard let first = q.id.first, first.isLowercase, first.isASCII,
                      q.id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") })
                else { throw invalid("metric id '\(q.id)' must start with a lowercase letter and contain only letters, digits and _") }
                guard seen.insert(q.id).inserted else { throw invalid("metric id '\(q.id)' is used twice") }
                switch q.source {
                case let .metricStat(stat):
                    try checkPeriod(stat.period)
                    if let period, period != stat.period {
                        throw invalid("all metrics of a metric math alarm must have the same Period (\(period) vs \(stat.period) for '\(q.id)')")
                    }
                    period = stat.period
                    stats.append((q.id, stat))
                case let .expression(text):
                    do {
                        expressions[q.id] = try MetricExpression(text)
                    } catch {
                        throw invalid("metric '\(q.id)': \(error.message)")
                    }
                }
            }
            let returning = queries.filter(\.returnData).map(\.id)
            guard returning.count == 1 else {
                throw invalid(returning.isEmpty
                    ? "no metric has ReturnData: true; set it on exactly the one whose value the alarm compares"
                    : "several metrics have ReturnData: true (\(returning.joined(separator: ", "))); set it on exactly one")
            }
            guard period != nil else { throw invalid("metric math needs at least one MetricStat") }
            // Dependency order, rejecting unknown ids and cycles.
            var ordered: [(String, MetricExpression)] = []
            var state: [String: Bool] = [:]  // false = visiting, true = done
            func visit(_ id: String, from: String) throws(RolloutError) {
                guard let expression = expressions[id] else {
                    guard seen.contains(id) else {
                        throw invalid("expression '\(from)' refers to unknown id '\(id)'; known ids: \(seen.sorted().joined(separator: ", "))")
                    }
                    return
                }
                if state[id] == true { return }
                if state[id] == false { throw invalid("expression '\(id)' refers to itself through '\(from)'") }
                state[id] = false
                for dep in expression.referencedIds.sorted() { try visit(dep, from: id) }
                state[id] = true
                ordered.append((id, expression))
            }
            for q in queries { if expressions[q.id] != nil { try visit(q.id, from: q.id) } }
            compiled = .math(stats: stats, expressions: ordered, result: returning[0])
        }
    }

    /// The value of the alarm's metric (or expression) for each of `count` periods ending at the last
    /// complete period before `now`, oldest first.
    public func periodValues(at now: Instant, count: Int, data: some MetricDataSource) -> [Double?] {
        let minutes = Int64(definition.period / 60)
        let nowMinute = now.minuteIndex
        let end = (nowMinute >= 0 ? nowMinute / minutes : (nowMinute - minutes + 1) / minutes) * minutes
        return (0..<count).map { j in
            value(periodStart: end - Int64(count - j) * minutes, minutes: minutes, data: data)
        }
    }

    private func statValue(_ stat: MetricStat, periodStart: Int64, minutes: Int64, data: some MetricDataSource) -> Double? {
        var merged: MetricDatapoint?
        for minute in periodStart..<(periodStart + minutes) {
            guard let point = data.datapoint(stat.metric, minute: minute) else { continue }
            if merged == nil { merged = point } else { merged!.merge(point) }
        }
        return merged?.value(of: stat.statistic)
    }

    private func value(periodStart: Int64, minutes: Int64, data: some MetricDataSource) -> Double? {
        switch compiled {
        case let .single(stat):
            return statValue(stat, periodStart: periodStart, minutes: minutes, data: data)
        case let .math(stats, expressions, result):
            var values: [String: Double?] = [:]
            for (id, stat) in stats { values[id] = statValue(stat, periodStart: periodStart, minutes: minutes, data: data) }
            for (id, expression) in expressions {
                values[id] = expression.evaluate { values[$0] ?? nil }
            }
            return values[result] ?? nil
        }
    }

    /// Evaluates the alarm at `now`; `previous` is the state `ignore` keeps.
    public func evaluate(at now: Instant, data: some MetricDataSource, previous: AlarmState = .insufficientData) -> AlarmEvaluation {
        let n = definition.evaluationPeriods
        let range = periodValues(at: now, count: n + Self.extraLookbackPeriods, data: data)
        return Self.decide(range: range, definition: definition, previous: previous)
    }

    /// The M-of-N decision over an evaluation range (oldest first, nil = missing); exposed for tests.
    public static func decide(range: [Double?], definition d: AlarmDefinition, previous: AlarmState) -> AlarmEvaluation {
        let n = d.evaluationPeriods
        let m = d.datapointsToAlarm
        let real = range.compactMap { $0 }
        let op = d.comparisonOperator.phrase
        let threshold = format(d.threshold)
        func result(_ state: AlarmState, _ reason: String) -> AlarmEvaluation {
            AlarmEvaluation(state: state, reason: reason, datapoints: range)
        }

        if real.count >= n {
            let recent = Array(real.suffix(n))
            let breaching = recent.filter { d.comparisonOperator.breaches($0, d.threshold) }.count
            let list = recent.map(format).joined(separator: ", ")
            let text = "\(breaching) out of the last \(n) datapoints [\(list)] were \(op) the threshold (\(threshold)) "
                + "(minimum \(m) datapoints for ALARM)"
            return result(breaching >= m ? .alarm : .ok, "Threshold \(breaching >= m ? "Crossed" : "not crossed"): \(text)")
        }

        let breachingReal = real.filter { d.comparisonOperator.breaches($0, d.threshold) }.count
        let missing = n - real.count
        let list = range.map { $0.map(format) ?? "-" }.joined(separator: ", ")
        let base = "\(real.count) of \(n) datapoints present in [\(list)], \(breachingReal) \(op) the threshold (\(threshold)); "
            + "TreatMissingData \(d.treatMissingData.rawValue)"
        switch d.treatMissingData {
        case .breaching:
            let breaching = breachingReal + missing
            return result(breaching >= m ? .alarm : .ok, base + ": \(missing) missing counted as breaching, \(breaching) of \(m) needed")
        case .notBreaching:
            return result(breachingReal >= m ? .alarm : .ok, base + ": \(missing) missing counted as not breaching, \(breachingReal) of \(m) needed")
        case .missing:
            if real.isEmpty {
                return result(.insufficientData, "Insufficient Data: no datapoints in the last \(range.count) periods; TreatMissingData missing")
            }
            let needed = min(m, real.count)
            return result(breachingReal >= needed ? .alarm : .ok, base + ": evaluated on the \(real.count) present, \(needed) needed")
        case .ignore:
            if breachingReal >= m { return result(.alarm, base + ": \(breachingReal) breaching reach \(m)") }
            if breachingReal + missing < m { return result(.ok, base + ": \(m) breaching cannot be reached") }
            return result(previous, base + ": not decidable, keeping \(previous.rawValue)")
        }
    }

    static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String((value * 1000).rounded() / 1000)
    }
}
