import Foundation
import Rollout
import Runtime
import TemplateModel

/// Turns a template's `AWS::CloudWatch::Alarm` into what the Rollout module evaluates.
public enum AlarmMapping {
    public static func definition(_ alarm: Alarm) throws -> AlarmDefinition {
        func dimensions(_ list: [Alarm.Dimension]) -> [String: String] {
            Dictionary(list.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
        }
        let metric: AlarmMetric
        if alarm.metrics.isEmpty {
            guard let name = alarm.metricName else {
                throw DeploymentError(.invalidInput, "alarm \(alarm.logicalId) has no MetricName; it cannot be evaluated")
            }
            let statisticText = alarm.extendedStatistic ?? alarm.statistic ?? "Sum"
            let statistic = try parse(statisticText, alarm: alarm)
            metric = .metric(MetricStat(
                metric: MetricIdentity(namespace: alarm.namespace ?? LambdaMetric.namespace, metricName: name, dimensions: dimensions(alarm.dimensions)),
                period: alarm.period ?? 60, statistic: statistic))
        } else {
            metric = .metricMath(try alarm.metrics.map { query in
                if let expression = query.expression {
                    return .expression(query.id, expression, returnData: query.returnData)
                }
                guard let name = query.metricName else {
                    throw DeploymentError(.invalidInput, "alarm \(alarm.logicalId): metric \(query.id) has neither Expression nor MetricStat.Metric.MetricName")
                }
                let stat = MetricStat(
                    metric: MetricIdentity(namespace: query.namespace ?? LambdaMetric.namespace, metricName: name, dimensions: dimensions(query.dimensions)),
                    period: query.period ?? 60, statistic: try parse(query.stat ?? "Sum", alarm: alarm))
                return .metric(query.id, stat, returnData: query.returnData)
            })
        }
        guard let comparison = alarm.comparisonOperator.flatMap(ComparisonOperator.init(rawValue:)) else {
            throw DeploymentError(.invalidInput, "alarm \(alarm.logicalId) has ComparisonOperator \(alarm.comparisonOperator ?? "(none)"), which shift cannot evaluate; use GreaterThanThreshold, GreaterThanOrEqualToThreshold, LessThanThreshold or LessThanOrEqualToThreshold")
        }
        return AlarmDefinition(
            name: alarm.logicalId, metric: metric, evaluationPeriods: alarm.evaluationPeriods ?? 1,
            datapointsToAlarm: alarm.datapointsToAlarm, threshold: alarm.threshold ?? 0, comparisonOperator: comparison,
            treatMissingData: alarm.treatMissingData.flatMap(TreatMissingData.init(rawValue:)) ?? .missing)
    }

    private static func parse(_ statistic: String, alarm: Alarm) throws -> AlarmStatistic {
        do throws(RolloutError) {
            return try AlarmStatistic(parsing: statistic)
        } catch {
            throw DeploymentError(.invalidInput, "alarm \(alarm.logicalId): \(error.message)")
        }
    }
}

/// Reads one-minute datapoints for alarm evaluation from the runtime's metrics store.
public struct RuntimeMetricSource: MetricDataSource {
    let metrics: MetricsStore

    public init(metrics: MetricsStore) {
        self.metrics = metrics
    }

    public func datapoint(_ metric: MetricIdentity, minute: Int64) -> AlarmDatapoint? {
        guard metric.namespace == LambdaMetric.namespace, let name = MetricName(rawValue: metric.metricName) else { return nil }
        let start = minute * 60_000
        guard let point = try? metrics.datapoints(metric: name, dimensions: metric.dimensions, from: start, to: start + 60_000).first,
              point.sampleCount > 0 else { return nil }
        // Percentiles come from the runtime's histogram: the 1st…100th percentiles stand in for the raw samples,
        // which keeps nearest-rank percentiles exact to the histogram's precision within one minute.
        var values: [Double] = []
        if name == .duration {
            values = (1...100).compactMap { point.percentile(Double($0)) }
        }
        return AlarmDatapoint(sampleCount: point.sampleCount, sum: point.sum, minimum: point.minimum, maximum: point.maximum, values: values)
    }
}
