/// A CloudWatch metric: namespace, name and the exact set of dimensions.
public struct MetricIdentity: Sendable, Hashable, Codable, CustomStringConvertible {
    public var namespace: String
    public var metricName: String
    public var dimensions: [String: String]

    public init(namespace: String, metricName: String, dimensions: [String: String] = [:]) {
        self.namespace = namespace
        self.metricName = metricName
        self.dimensions = dimensions
    }

    public var description: String {
        let dims = dimensions.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        return "\(namespace)/\(metricName){\(dims)}"
    }
}

/// A CloudWatch statistic: `Statistic` (SampleCount, Average, Sum, Minimum, Maximum) or an
/// `ExtendedStatistic` percentile such as `p99` or `p99.9`.
public enum Statistic: Sendable, Hashable, Codable, CustomStringConvertible {
    case sampleCount
    case average
    case sum
    case minimum
    case maximum
    /// `pNN`: the percentile NN (0…100).
    case percentile(Double)

    /// Parses `Sum`, `Average`, …, `p99`, `p99.9` (the `Stat` of a `MetricStat` takes both forms).
    public init(parsing text: String) throws(RolloutError) {
        switch text {
        case "SampleCount": self = .sampleCount
        case "Average": self = .average
        case "Sum": self = .sum
        case "Minimum": self = .minimum
        case "Maximum": self = .maximum
        default:
            if text.hasPrefix("p") || text.hasPrefix("P"), let p = Double(text.dropFirst()), p >= 0, p <= 100 {
                self = .percentile(p)
                return
            }
            throw RolloutError(.invalidAlarm, "unknown statistic '\(text)'; accepted: SampleCount, Average, Sum, "
                + "Minimum, Maximum, or a percentile p0...p100 such as p99 or p99.9")
        }
    }

    public var description: String {
        switch self {
        case .sampleCount: "SampleCount"
        case .average: "Average"
        case .sum: "Sum"
        case .minimum: "Minimum"
        case .maximum: "Maximum"
        case let .percentile(p): p == p.rounded() ? "p\(Int(p))" : "p\(p)"
        }
    }
}

/// The statistics of one metric over one period (a one-minute datapoint, or several merged).
public struct MetricDatapoint: Sendable, Equatable, Codable {
    public var sampleCount: Double
    public var sum: Double
    public var minimum: Double
    public var maximum: Double
    /// The raw samples, needed for percentiles; may be empty when no percentile is ever asked for.
    public var values: [Double]

    public init(sampleCount: Double, sum: Double, minimum: Double, maximum: Double, values: [Double] = []) {
        self.sampleCount = sampleCount
        self.sum = sum
        self.minimum = minimum
        self.maximum = maximum
        self.values = values
    }

    /// A datapoint of the given samples (kept for percentiles).
    public init(values: [Double]) {
        self.init(sampleCount: 0, sum: 0, minimum: .infinity, maximum: -.infinity)
        for v in values { add(v) }
    }

    /// Adds one sample; `keepValue: false` saves memory when no percentile is needed.
    public mutating func add(_ value: Double, keepValue: Bool = true) {
        sampleCount += 1
        sum += value
        if value < minimum { minimum = value }
        if value > maximum { maximum = value }
        if keepValue { values.append(value) }
    }

    /// Combines two datapoints of the same metric (aggregating one-minute datapoints into longer periods).
    public mutating func merge(_ other: MetricDatapoint) {
        sampleCount += other.sampleCount
        sum += other.sum
        minimum = Swift.min(minimum, other.minimum)
        maximum = Swift.max(maximum, other.maximum)
        values += other.values
    }

    /// The statistic's value; nil when it cannot be computed (no samples, or a percentile without raw values).
    ///
    /// Percentiles use the nearest-rank method on the raw samples: pNN is the smallest sample such that
    /// at least NN % of the samples are less than or equal to it (CloudWatch's own estimate may differ slightly).
    public func value(of statistic: Statistic) -> Double? {
        guard sampleCount > 0 else { return nil }
        switch statistic {
        case .sampleCount: return sampleCount
        case .sum: return sum
        case .average: return sum / sampleCount
        case .minimum: return minimum
        case .maximum: return maximum
        case let .percentile(p):
            guard !values.isEmpty else { return nil }
            let sorted = values.sorted()
            let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
            return sorted[Swift.max(0, Swift.min(sorted.count - 1, rank - 1))]
        }
    }
}

/// Where alarm evaluation reads one-minute datapoints from.
public protocol MetricDataSource: Sendable {
    /// The datapoint of `metric` for the one-minute period `minute` (an `Instant.minuteIndex`), nil when nothing was recorded.
    func datapoint(_ metric: MetricIdentity, minute: Int64) -> MetricDatapoint?
}

/// An in-memory `MetricDataSource`: one-minute datapoints keyed by metric and minute.
public struct MetricStore: MetricDataSource, Sendable, Equatable, Codable {
    private var series: [MetricIdentity: [Int64: MetricDatapoint]] = [:]

    public init() {}

    /// Records one sample at `instant` (e.g. `Invocations` 1, `Errors` 0/1, `Duration` in ms).
    public mutating func record(_ metric: MetricIdentity, value: Double, at instant: Instant, keepValue: Bool = true) {
        series[metric, default: [:]][instant.minuteIndex, default: MetricDatapoint(values: [])].add(value, keepValue: keepValue)
    }

    /// Merges a prepared datapoint into the minute `minute`.
    public mutating func put(_ metric: MetricIdentity, minute: Int64, _ datapoint: MetricDatapoint) {
        if series[metric]?[minute] != nil {
            series[metric]![minute]!.merge(datapoint)
        } else {
            series[metric, default: [:]][minute] = datapoint
        }
    }

    public func datapoint(_ metric: MetricIdentity, minute: Int64) -> MetricDatapoint? {
        series[metric]?[minute]
    }
}
