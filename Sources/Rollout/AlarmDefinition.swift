/// How an alarm compares a datapoint with its threshold.
public enum ComparisonOperator: String, Sendable, Hashable, Codable, CaseIterable {
    case greaterThanOrEqualToThreshold = "GreaterThanOrEqualToThreshold"
    case greaterThanThreshold = "GreaterThanThreshold"
    case lessThanThreshold = "LessThanThreshold"
    case lessThanOrEqualToThreshold = "LessThanOrEqualToThreshold"

    /// Whether `value` breaches `threshold`.
    public func breaches(_ value: Double, _ threshold: Double) -> Bool {
        switch self {
        case .greaterThanOrEqualToThreshold: value >= threshold
        case .greaterThanThreshold: value > threshold
        case .lessThanThreshold: value < threshold
        case .lessThanOrEqualToThreshold: value <= threshold
        }
    }

    var phrase: String {
        switch self {
        case .greaterThanOrEqualToThreshold: "greater than or equal to"
        case .greaterThanThreshold: "greater than"
        case .lessThanThreshold: "less than"
        case .lessThanOrEqualToThreshold: "less than or equal to"
        }
    }
}

/// How an alarm treats periods without data (`TreatMissingData`); AWS's default is `missing`.
public enum TreatMissingData: String, Sendable, Hashable, Codable, CaseIterable {
    case missing
    case notBreaching
    case breaching
    case ignore
}

/// A metric with a statistic over a period (an alarm's `MetricName`/`Namespace`/`Dimensions`/`Statistic`/`Period`,
/// or a `MetricStat` in metric math).
public struct MetricStat: Sendable, Hashable, Codable {
    public var metric: MetricIdentity
    /// Seconds; a multiple of 60.
    public var period: Int
    public var statistic: Statistic

    public init(metric: MetricIdentity, period: Int, statistic: Statistic) {
        self.metric = metric
        self.period = period
        self.statistic = statistic
    }
}

/// One entry of an alarm's `Metrics` list.
public struct MetricDataQuery: Sendable, Hashable, Codable {
    /// What the query computes.
    public enum Source: Sendable, Hashable, Codable {
        /// `Expression`: metric math over other queries' ids.
        case expression(String)
        /// `MetricStat`: a metric's statistic.
        case metricStat(MetricStat)
    }

    public var id: String
    public var source: Source
    /// `ReturnData`: exactly one query of an alarm returns the data the alarm compares.
    public var returnData: Bool

    public init(id: String, source: Source, returnData: Bool) {
        self.id = id
        self.source = source
        self.returnData = returnData
    }

    public static func expression(_ id: String, _ expression: String, returnData: Bool = true) -> MetricDataQuery {
        MetricDataQuery(id: id, source: .expression(expression), returnData: returnData)
    }

    public static func metric(_ id: String, _ stat: MetricStat, returnData: Bool = false) -> MetricDataQuery {
        MetricDataQuery(id: id, source: .metricStat(stat), returnData: returnData)
    }
}

/// What an alarm watches: a single metric, or a metric math `Metrics` list.
public enum AlarmMetric: Sendable, Hashable, Codable {
    case metric(MetricStat)
    case metricMath([MetricDataQuery])
}

/// A CloudWatch metric alarm (`AWS::CloudWatch::Alarm`) as far as its evaluation goes.
public struct AlarmDefinition: Sendable, Hashable, Codable {
    public var name: String
    public var metric: AlarmMetric
    /// N.
    public var evaluationPeriods: Int
    /// M of N; defaults to N.
    public var datapointsToAlarm: Int
    public var threshold: Double
    public var comparisonOperator: ComparisonOperator
    public var treatMissingData: TreatMissingData

    public init(
        name: String,
        metric: AlarmMetric,
        evaluationPeriods: Int,
        datapointsToAlarm: Int? = nil,
        threshold: Double,
        comparisonOperator: ComparisonOperator,
        treatMissingData: TreatMissingData = .missing
    ) {
        self.name = name
        self.metric = metric
        self.evaluationPeriods = evaluationPeriods
        self.datapointsToAlarm = datapointsToAlarm ?? evaluationPeriods
        self.threshold = threshold
        self.comparisonOperator = comparisonOperator
        self.treatMissingData = treatMissingData
    }

    /// The alarm's period in seconds (metric math: the common period of its metrics).
    public var period: Int {
        switch metric {
        case let .metric(stat): return stat.period
        case let .metricMath(queries):
            for q in queries { if case let .metricStat(stat) = q.source { return stat.period } }
            return 60
        }
    }
}
