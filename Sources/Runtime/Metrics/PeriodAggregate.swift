/// Everything recorded for one series in one one-minute period; merges associatively.
struct PeriodAggregate: Sendable, Equatable, Codable {
    var invocations = 0
    var errors = 0
    var throttles = 0
    var deadLetterErrors = 0
    var destinationDeliveryFailures = 0
    var durationSum = 0.0
    var durationMin = Double.infinity
    var durationMax = -Double.infinity
    var durationHistogram = LogHistogram()
    var concurrencyCount = 0
    var concurrencySum = 0
    var concurrencyMin = Int.max
    var concurrencyMax = Int.min

    @inline(__always)
    mutating func add(_ sample: InvocationSample) {
        if sample.throttled {
            throttles += 1
            return
        }
        invocations += 1
        if sample.errorType != nil { errors += 1 }
        let duration = sample.durationMilliseconds
        durationSum += duration
        if duration < durationMin { durationMin = duration }
        if duration > durationMax { durationMax = duration }
        durationHistogram.add(duration)
        concurrencyCount += 1
        concurrencySum += sample.concurrency
        if sample.concurrency < concurrencyMin { concurrencyMin = sample.concurrency }
        if sample.concurrency > concurrencyMax { concurrencyMax = sample.concurrency }
    }

    mutating func merge(_ other: PeriodAggregate) {
        invocations += other.invocations
        errors += other.errors
        throttles += other.throttles
        deadLetterErrors += other.deadLetterErrors
        destinationDeliveryFailures += other.destinationDeliveryFailures
        durationSum += other.durationSum
        durationMin = min(durationMin, other.durationMin)
        durationMax = max(durationMax, other.durationMax)
        durationHistogram.merge(other.durationHistogram)
        concurrencyCount += other.concurrencyCount
        concurrencySum += other.concurrencySum
        concurrencyMin = min(concurrencyMin, other.concurrencyMin)
        concurrencyMax = max(concurrencyMax, other.concurrencyMax)
    }

    /// The CloudWatch statistics of `metric` for this period, or nil when it has no samples.
    func datapoint(_ metric: MetricName, timestamp: Int64) -> MetricDatapoint? {
        func counted(_ n: Int) -> MetricDatapoint? {
            n > 0 ? MetricDatapoint(timestamp: timestamp, sampleCount: Double(n), sum: Double(n), minimum: 1, maximum: 1, distribution: .ones) : nil
        }
        switch metric {
        case .invocations: return counted(invocations)
        case .throttles: return counted(throttles)
        case .deadLetterErrors: return counted(deadLetterErrors)
        case .destinationDeliveryFailures: return counted(destinationDeliveryFailures)
        case .errors:
            // Lambda publishes Errors as 0 or 1 per invocation, so Average is the error rate.
            guard invocations > 0 else { return nil }
            return MetricDatapoint(
                timestamp: timestamp, sampleCount: Double(invocations), sum: Double(errors),
                minimum: errors == invocations ? 1 : 0, maximum: errors > 0 ? 1 : 0,
                distribution: .zerosThenOnes(zeros: invocations - errors, total: invocations)
            )
        case .duration:
            guard durationHistogram.count > 0 else { return nil }
            return MetricDatapoint(
                timestamp: timestamp, sampleCount: Double(durationHistogram.count), sum: durationSum,
                minimum: durationMin, maximum: durationMax, distribution: .histogram(durationHistogram)
            )
        case .concurrentExecutions:
            guard concurrencyCount > 0 else { return nil }
            return MetricDatapoint(
                timestamp: timestamp, sampleCount: Double(concurrencyCount), sum: Double(concurrencySum),
                minimum: Double(concurrencyMin), maximum: Double(concurrencyMax), distribution: .none
            )
        }
    }
}
