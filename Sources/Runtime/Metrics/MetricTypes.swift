/// The `AWS/Lambda` metrics the runtime records.
public enum MetricName: String, Sendable, CaseIterable, Codable {
    case invocations = "Invocations"
    case errors = "Errors"
    case throttles = "Throttles"
    case duration = "Duration"
    case concurrentExecutions = "ConcurrentExecutions"
    case deadLetterErrors = "DeadLetterErrors"
    case destinationDeliveryFailures = "DestinationDeliveryFailures"
}

/// The dimensions of one metric series: `FunctionName`, `Resource`, `ExecutedVersion`.
public struct MetricSeries: Hashable, Sendable, Codable {
    public var functionName: String
    /// `fn:alias`, `fn:N`, or `fn` for an unqualified invocation.
    public var resource: String
    /// `"1"`, `"2"`, … or `"$LATEST"`.
    public var executedVersion: String

    public init(functionName: String, resource: String, executedVersion: String) {
        self.functionName = functionName
        self.resource = resource
        self.executedVersion = executedVersion
    }

    /// The series of an invocation of `functionName` with `qualifier` (alias name, version number, `$LATEST` or nil).
    public init(functionName: String, qualifier: String?, executedVersion: String) {
        let resource = (qualifier == nil || qualifier == "$LATEST") ? functionName : "\(functionName):\(qualifier!)"
        self.init(functionName: functionName, resource: resource, executedVersion: executedVersion)
    }

    /// Whether this series matches every given dimension (`FunctionName`, `Resource`, `ExecutedVersion`).
    /// An unknown dimension name matches nothing, as in CloudWatch.
    public func matches(_ dimensions: [String: String]) -> Bool {
        for (name, value) in dimensions {
            switch name {
            case "FunctionName": if functionName != value { return false }
            case "Resource": if resource != value { return false }
            case "ExecutedVersion": if executedVersion != value { return false }
            default: return false
            }
        }
        return true
    }
}

/// One invocation (or throttled request) as the metrics see it.
public struct InvocationSample: Sendable {
    public var functionName: String
    /// Alias name, version number, or nil for an unqualified invocation.
    public var qualifier: String?
    /// The version that ran (for a throttle: the one that would have run).
    public var executedVersion: String
    /// Runtime-clock epoch ms at the start; decides the one-minute period.
    public var startMilliseconds: Int64
    public var durationMilliseconds: Double
    /// The function error type (`Unhandled`, `Handled`, a timeout…), nil on success.
    public var errorType: String?
    /// A throttled request counts only in `Throttles`, in neither `Invocations` nor `Errors`.
    public var throttled: Bool
    /// Executions in flight (this one included) when it started.
    public var concurrency: Int

    public init(
        functionName: String, qualifier: String?, executedVersion: String, startMilliseconds: Int64,
        durationMilliseconds: Double, errorType: String? = nil, throttled: Bool = false, concurrency: Int = 1
    ) {
        self.functionName = functionName
        self.qualifier = qualifier
        self.executedVersion = executedVersion
        self.startMilliseconds = startMilliseconds
        self.durationMilliseconds = durationMilliseconds
        self.errorType = errorType
        self.throttled = throttled
        self.concurrency = concurrency
    }
}

/// One one-minute value of a metric: CloudWatch's statistics for the period.
public struct MetricDatapoint: Sendable, Equatable {
    /// Start of the period, runtime-clock epoch ms (a multiple of 60 000).
    public var timestamp: Int64
    public var sampleCount: Double
    public var sum: Double
    public var minimum: Double
    public var maximum: Double
    let distribution: Distribution

    public var average: Double { sampleCount > 0 ? sum / sampleCount : 0 }

    /// The p-th percentile (0–100) by nearest rank; within 0.4 % of the true sample for `Duration`.
    public func percentile(_ p: Double) -> Double? { distribution.percentile(p, minimum: minimum, maximum: maximum) }

    /// The period's samples as ascending (value, count) pairs: the duration histogram's buckets (within 0.4 %),
    /// empty for metrics without a distribution. What a comparison of two versions' latencies needs.
    public var valueCounts: [(value: Double, count: Int)] {
        guard case .histogram(let histogram) = distribution else { return [] }
        return histogram.buckets.keys.sorted().map { index in
            (min(maximum, max(minimum, LogHistogram.midpoint(index: index) / LogHistogram.unitsPerValue)), Int(histogram.buckets[index]!))
        }
    }

    /// A statistic by its CloudWatch name: `SampleCount`, `Sum`, `Average`, `Minimum`, `Maximum`, or `pNN`/`pNN.N`.
    public func statistic(_ name: String) -> Double? {
        switch name {
        case "SampleCount": return sampleCount
        case "Sum": return sum
        case "Average": return average
        case "Minimum": return minimum
        case "Maximum": return maximum
        default:
            guard name.hasPrefix("p"), let p = Double(name.dropFirst()), p >= 0, p <= 100 else { return nil }
            return percentile(p)
        }
    }
}

/// How a datapoint's samples are distributed, for percentiles.
enum Distribution: Sendable, Equatable {
    /// Every sample is 1 (counts like Invocations).
    case ones
    /// `zeros` samples of 0 then the rest 1 (Errors: one sample per invocation).
    case zerosThenOnes(zeros: Int, total: Int)
    /// Bucketed values (Duration).
    case histogram(LogHistogram)
    /// No percentile available (ConcurrentExecutions).
    case none

    func percentile(_ p: Double, minimum: Double, maximum: Double) -> Double? {
        switch self {
        case .ones: return 1
        case .zerosThenOnes(let zeros, let total):
            guard total > 0 else { return nil }
            let rank = max(1, Int((p / 100 * Double(total)).rounded(.up)))
            return rank > zeros ? 1 : 0
        case .histogram(let histogram): return histogram.percentile(p, minimum: minimum, maximum: maximum)
        case .none: return nil
        }
    }
}
