/// Lambda's metrics (`AWS/Lambda`) as the local runtime records them.
public enum LambdaMetric {
    public static let namespace = "AWS/Lambda"

    /// A metric of one executed version: dimensions `FunctionName`, `ExecutedVersion` and, when given, `Resource` (`fn:alias`).
    public static func identity(_ metricName: String, functionName: String, executedVersion: String, resource: String? = nil) -> MetricIdentity {
        var dimensions = ["FunctionName": functionName, "ExecutedVersion": executedVersion]
        if let resource { dimensions["Resource"] = resource }
        return MetricIdentity(namespace: namespace, metricName: metricName, dimensions: dimensions)
    }
}

extension AlarmDefinition {
    /// `--alarm-error-rate 5%`: the NEW version's `Errors / Invocations * 100` above `percent` over one 60 s period.
    ///
    /// A minute without invocations of the new version has no datapoint and counts as not breaching.
    public static func errorRate(
        above percent: Double,
        functionName: String,
        newVersion: String,
        resource: String? = nil,
        name: String? = nil
    ) -> AlarmDefinition {
        let stat = { (metric: String) in
            MetricStat(metric: LambdaMetric.identity(metric, functionName: functionName, executedVersion: newVersion, resource: resource),
                       period: 60, statistic: .sum)
        }
        return AlarmDefinition(
            name: name ?? "\(functionName)-v\(newVersion)-error-rate",
            metric: .metricMath([
                .metric("errors", stat("Errors")),
                .metric("invocations", stat("Invocations")),
                .expression("rate", "FILL(errors, 0) / invocations * 100", returnData: true),
            ]),
            evaluationPeriods: 1,
            threshold: percent,
            comparisonOperator: .greaterThanThreshold,
            treatMissingData: .notBreaching
        )
    }

    /// `--alarm-p99-ms 800`: the NEW version's `Duration` p99 above `milliseconds` over one 60 s period.
    public static func p99Duration(
        aboveMilliseconds milliseconds: Double,
        functionName: String,
        newVersion: String,
        resource: String? = nil,
        name: String? = nil
    ) -> AlarmDefinition {
        AlarmDefinition(
            name: name ?? "\(functionName)-v\(newVersion)-p99-duration",
            metric: .metric(MetricStat(
                metric: LambdaMetric.identity("Duration", functionName: functionName, executedVersion: newVersion, resource: resource),
                period: 60, statistic: .percentile(99))),
            evaluationPeriods: 1,
            threshold: milliseconds,
            comparisonOperator: .greaterThanThreshold,
            treatMissingData: .notBreaching
        )
    }

    /// Parses `--alarm-error-rate` values: `5%`, `5`, `0.5%` → percent in (0, 100].
    public static func parseErrorRateFlag(_ text: String) throws(RolloutError) -> Double {
        let trimmed = text.trimmingSpaces
        let number = trimmed.hasSuffix("%") ? String(trimmed.dropLast()).trimmingSpaces : trimmed
        guard let value = Double(number), value.isFinite, value > 0, value <= 100 else {
            throw RolloutError(.invalidFlag, "--alarm-error-rate '\(text)' is not a percentage; use a number in (0, 100], e.g. 5% or 0.5%")
        }
        return value
    }

    /// Parses `--alarm-p99-ms` values: `800`, `800ms`, `1.5s` → milliseconds > 0.
    public static func parseMillisecondsFlag(_ text: String) throws(RolloutError) -> Double {
        let trimmed = text.trimmingSpaces
        var value: Double?
        if trimmed.hasSuffix("ms") {
            value = Double(String(trimmed.dropLast(2)).trimmingSpaces)
        } else if trimmed.hasSuffix("s") {
            value = Double(String(trimmed.dropLast()).trimmingSpaces).map { $0 * 1000 }
        } else {
            value = Double(trimmed)
        }
        guard let value, value.isFinite, value > 0 else {
            throw RolloutError(.invalidFlag, "--alarm-p99-ms '\(text)' is not a duration; use milliseconds > 0, e.g. 800 or 800ms")
        }
        return value
    }
}
