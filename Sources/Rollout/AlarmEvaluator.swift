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
        return periodStarts(at: now, count: count).map { value(periodStart: $0, minutes: minutes, data: data) }
    }

    /// The first minute of each of the `count` periods ending at the last complete period before `now`, oldest first.
    private func periodStarts(at now: Instant, count: Int) -> [Int64] {
        let minutes = Int64(definition.period / 60)
        let nowMinute = now.minuteIndex
        let end = (nowMinute >= 0 ? nowMinute / minutes : (nowMinute - minutes + 1) / minutes) * minutes
        return (0..<count).map { end - Int64(count - $0) * minutes }
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
        let count = n + Self.extraLookbackPeriods
        return Self.decide(range: periodValues(at: now, count: count, data: data), definition: definition, previous: previous,
                           periodStarts: periodStarts(at: now, count: count))
    }

    /// The M-of-N decision over an evaluation range (oldest first, nil = missing); exposed for tests.
    /// `periodStarts` (minute indexes, one per value) put each datapoint's time in the reason, as CloudWatch does.
    ///
    /// The reason reads like CloudWatch's `StateReason` ("Threshold Crossed: 1 out of the last 1 datapoint of
    /// Errors (Sum) [4 (10:00)] was greater than the threshold (0) …"), naming the metric the alarm compares.
    public static func decide(range: [Double?], definition d: AlarmDefinition, previous: AlarmState,
                              periodStarts: [Int64] = []) -> AlarmEvaluation {
        let n = d.evaluationPeriods
        let m = d.datapointsToAlarm
        let op = d.comparisonOperator.phrase
        let threshold = format(d.threshold)
        let metric = label(d.metric)
        let present = range.indices.filter { range[$0] != nil }
        func breaches(_ index: Int) -> Bool { range[index].map { d.comparisonOperator.breaches($0, d.threshold) } ?? false }
        func list(_ indices: [Int]) -> String {
            "[" + indices.map { index in
                let value = range[index].map(format) ?? "-"
                return index < periodStarts.count ? "\(value) (\(clockTime(minute: periodStarts[index])))" : value
            }.joined(separator: ", ") + "]"
        }
        func verb(_ count: Int) -> String { count == 1 ? "was" : "were" }
        func result(_ state: AlarmState, _ reason: String) -> AlarmEvaluation {
            let heading = switch state {
            case .alarm: "Threshold Crossed"
            case .ok: "Threshold not crossed"
            case .insufficientData: "Insufficient Data"
            }
            return AlarmEvaluation(state: state, reason: "\(heading): \(reason)", datapoints: range)
        }
        let needed = "minimum \(English.count(m, "datapoint")) for OK -> ALARM transition"

        if present.count >= n {
            let recent = Array(present.suffix(n))
            let breaching = recent.filter(breaches).count
            return result(breaching >= m ? .alarm : .ok, "\(breaching) out of the last \(English.count(n, "datapoint")) of \(metric) "
                + "\(list(recent)) \(verb(breaching)) \(op) the threshold (\(threshold)) (\(needed))")
        }

        let breachingReal = present.filter(breaches).count
        let missing = n - present.count
        let periods = "in the last \(English.count(range.count, "period")) \(list(Array(range.indices)))"
        let base = present.isEmpty ? "no datapoint of \(metric) \(periods); "
            : "\(breachingReal) out of the \(English.count(present.count, "datapoint")) of \(metric) present \(periods) "
                + "\(verb(breachingReal)) \(op) the threshold (\(threshold)); "
        switch d.treatMissingData {
        case .breaching:
            let breaching = breachingReal + missing
            return result(breaching >= m ? .alarm : .ok,
                          base + "TreatMissingData breaching counts the \(English.count(missing, "missing one")) as breaching (\(needed))")
        case .notBreaching:
            return result(breachingReal >= m ? .alarm : .ok,
                          base + "TreatMissingData notBreaching counts the \(English.count(missing, "missing one")) as not breaching (\(needed))")
        case .missing:
            if present.isEmpty { return result(.insufficientData, base + "TreatMissingData missing") }
            let lowered = min(m, present.count)
            return result(breachingReal >= lowered ? .alarm : .ok, base + "TreatMissingData missing judges the present ones alone "
                + "(minimum \(English.count(lowered, "datapoint")) for OK -> ALARM transition)")
        case .ignore:
            if breachingReal >= m { return result(.alarm, base + "TreatMissingData ignore (\(needed))") }
            if breachingReal + missing < m {
                return result(.ok, base + "TreatMissingData ignore, and \(m) cannot be reached even if the missing ones breach")
            }
            return AlarmEvaluation(state: previous, reason: "Unchanged: \(base)TreatMissingData ignore keeps \(previous.rawValue) "
                + "until \(m) breach or cannot", datapoints: range)
        }
    }

    /// The metric an alarm compares, as a reason names it: `Errors (Sum)`, or a metric math id with its expression.
    static func label(_ metric: AlarmMetric) -> String {
        func stat(_ stat: MetricStat) -> String { "\(stat.metric.metricName) (\(stat.statistic))" }
        switch metric {
        case let .metric(single):
            return stat(single)
        case let .metricMath(queries):
            guard let returned = queries.first(where: \.returnData) else { return "the alarm's metric" }
            switch returned.source {
            case let .expression(text): return "\(returned.id) = \(text)"
            case let .metricStat(single): return stat(single)
            }
        }
    }

    /// `HH:mm` (UTC) of a minute index, as a datapoint's time in a reason.
    static func clockTime(minute: Int64) -> String {
        let ofDay = ((minute % 1440) + 1440) % 1440
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(two(ofDay / 60)):\(two(ofDay % 60))"
    }

    static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String((value * 1000).rounded() / 1000)
    }
}
