import Foundation
import GRDB

/// Per-invocation metrics aggregated into one-minute periods of the runtime clock, like CloudWatch's `AWS/Lambda`.
///
/// `record` is the hot path: one lock, two dictionary updates, no I/O. Aggregates wait in memory until
/// `flush()` adds them to the `metrics` table of the state store (call it periodically with
/// `runPeriodicFlush(every:)`, and on shutdown). Queries combine what is stored with what is pending.
public final class MetricsStore: Sendable {
    /// CloudWatch's period for Lambda metrics, in ms.
    public static let periodMilliseconds: Int64 = 60_000

    struct PeriodKey: Hashable, Sendable {
        var series: MetricSeries
        var periodStart: Int64
    }

    private struct Pending: Sendable {
        var periods: [PeriodKey: PeriodAggregate] = [:]
        /// Running totals since the state directory was created (for Prometheus).
        var totals: [MetricSeries: PeriodAggregate] = [:]
    }

    private let state: ProtectedValue<Pending>
    /// Serialises flushes and queries so no aggregate is ever seen twice or not at all.
    private let persistence = ProtectedValue(())
    private let database: DatabasePool?

    /// - Parameter store: where to persist; nil keeps metrics in memory only.
    public init(store: StateStore?) throws {
        database = store?.database
        var pending = Pending()
        if let database {
            let rows = try Self.readSerially(database) { db in try Row.fetchAll(db, sql: "SELECT function, resource, executed_version, aggregate FROM metrics") }
            for row in rows {
                let series = MetricSeries(functionName: row["function"], resource: row["resource"], executedVersion: row["executed_version"])
                pending.totals[series, default: PeriodAggregate()].merge(try Self.decode(row["aggregate"]))
            }
        }
        state = ProtectedValue(pending)
    }

    /// The period that contains `milliseconds`.
    public static func periodStart(_ milliseconds: Int64) -> Int64 {
        milliseconds - ((milliseconds % periodMilliseconds) + periodMilliseconds) % periodMilliseconds
    }

    /// Records one invocation or throttled request. Cheap (about a microsecond); safe from any thread.
    public func record(_ sample: InvocationSample) {
        let series = MetricSeries(functionName: sample.functionName, qualifier: sample.qualifier, executedVersion: sample.executedVersion)
        let key = PeriodKey(series: series, periodStart: Self.periodStart(sample.startMilliseconds))
        state.withLock { pending in
            pending.periods[key, default: PeriodAggregate()].add(sample)
            pending.totals[series, default: PeriodAggregate()].add(sample)
        }
    }

    /// Records that an event could not be written to the function's dead-letter queue.
    public func recordDeadLetterError(functionName: String, qualifier: String?, executedVersion: String, atMilliseconds: Int64) {
        recordCount(functionName: functionName, qualifier: qualifier, executedVersion: executedVersion, at: atMilliseconds) { $0.deadLetterErrors += 1 }
    }

    /// Records that a record could not be delivered to an `OnSuccess`/`OnFailure` destination.
    public func recordDestinationDeliveryFailure(functionName: String, qualifier: String?, executedVersion: String, atMilliseconds: Int64) {
        recordCount(functionName: functionName, qualifier: qualifier, executedVersion: executedVersion, at: atMilliseconds) { $0.destinationDeliveryFailures += 1 }
    }

    private func recordCount(functionName: String, qualifier: String?, executedVersion: String, at: Int64, _ change: (inout PeriodAggregate) -> Void) {
        let series = MetricSeries(functionName: functionName, qualifier: qualifier, executedVersion: executedVersion)
        let key = PeriodKey(series: series, periodStart: Self.periodStart(at))
        state.withLock { pending in
            change(&pending.periods[key, default: PeriodAggregate()])
            change(&pending.totals[series, default: PeriodAggregate()])
        }
    }

    /// Adds everything pending to the database in one transaction. On failure nothing is lost: the
    /// pending aggregates stay in memory for the next flush.
    public func flush() throws {
        guard let database else { return }
        try persistence.withLock { _ in
            let batch = state.withLock { pending -> [PeriodKey: PeriodAggregate] in
                defer { pending.periods.removeAll(keepingCapacity: true) }
                return pending.periods
            }
            guard !batch.isEmpty else { return }
            do {
                // Another process may flush the same period at once: IMMEDIATE takes the write lock before the
                // SELECT, so the merge reads the other's committed aggregate instead of overwriting it.
                try database.writeWithoutTransaction { connection in
                    try connection.immediateTransaction { db in
                        let select = try db.cachedStatement(sql: "SELECT aggregate FROM metrics WHERE function = ? AND resource = ? AND executed_version = ? AND period_start = ?")
                        let upsert = try db.cachedStatement(sql: "INSERT OR REPLACE INTO metrics (function, resource, executed_version, period_start, aggregate) VALUES (?, ?, ?, ?, ?)")
                        for (key, aggregate) in batch {
                            let arguments: StatementArguments = [key.series.functionName, key.series.resource, key.series.executedVersion, key.periodStart]
                            var merged = aggregate
                            if let stored = try Data.fetchOne(select, arguments: arguments) {
                                merged = try Self.decode(stored)
                                merged.merge(aggregate)
                            }
                            try upsert.execute(arguments: arguments + [try Self.encode(merged)])
                        }
                    }
                }
            } catch {
                state.withLock { pending in
                    for (key, aggregate) in batch { pending.periods[key, default: PeriodAggregate()].merge(aggregate) }
                }
                throw StateError(.stateUnavailable, "Saving metrics to the state database failed: \(error). They are kept in memory and retried on the next flush.", cause: error)
            }
        }
    }

    /// Flushes every `interval` (real time) until the task is cancelled, then flushes once more.
    /// Flush errors are retried on the next round.
    public func runPeriodicFlush(every interval: Duration) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { break }
            try? flush()
        }
        try? flush()
    }

    /// A synchronous read on the writer's serial queue, never from the reader pool. These reads run inside async
    /// code (the engine's alarm and judgement looks) beside async state reads (the invoke path); a reader of the
    /// pool is given back only when its task resumes on the cooperative pool, one thread per core, so blocking
    /// those threads on the pool (and on the flush lock behind it) deadlocked a deployment under load. The writer
    /// queue finishes its jobs without the cooperative pool; metric reads are few (a handful every 10 s).
    private static func readSerially<T>(_ database: DatabasePool, _ body: (Database) throws -> T) throws -> T {
        try database.writeWithoutTransaction(body)
    }

    /// Per-minute values of `metric` for the series matching `dimensions`, for periods starting in [from, to).
    ///
    /// Series are combined per period, so `["FunctionName": fn, "Resource": "fn:live"]` is the alias's total
    /// over all executed versions. Periods without samples are absent (CloudWatch's "missing data").
    public func datapoints(metric: MetricName, dimensions: [String: String], from: Int64, to: Int64) throws -> [MetricDatapoint] {
        try aggregates(dimensions: dimensions, from: from, to: to)
            .sorted { $0.key < $1.key }
            .compactMap { $0.value.datapoint(metric, timestamp: $0.key) }
    }

    /// Combined aggregates per period start for matching series.
    private func aggregates(dimensions: [String: String], from: Int64, to: Int64) throws -> [Int64: PeriodAggregate] {
        try persistence.withLock { _ in
            var byPeriod: [Int64: PeriodAggregate] = [:]
            if let database {
                var sql = "SELECT * FROM metrics WHERE period_start >= ? AND period_start < ?"
                var arguments: StatementArguments = [from, to]
                if let name = dimensions["FunctionName"] { sql += " AND function = ?"; arguments += [name] }
                if let resource = dimensions["Resource"] { sql += " AND resource = ?"; arguments += [resource] }
                if let version = dimensions["ExecutedVersion"] { sql += " AND executed_version = ?"; arguments += [version] }
                let rows = try Self.readSerially(database) { db in try Row.fetchAll(db, sql: sql, arguments: arguments) }
                for row in rows {
                    let series = MetricSeries(functionName: row["function"], resource: row["resource"], executedVersion: row["executed_version"])
                    guard series.matches(dimensions) else { continue }
                    byPeriod[row["period_start"], default: PeriodAggregate()].merge(try Self.decode(row["aggregate"]))
                }
            }
            let pending = state.withLock { $0.periods.filter { $0.key.periodStart >= from && $0.key.periodStart < to && $0.key.series.matches(dimensions) } }
            for (key, aggregate) in pending { byPeriod[key.periodStart, default: PeriodAggregate()].merge(aggregate) }
            return byPeriod
        }
    }

    /// Totals per series since the state directory was created: what Prometheus counters show.
    public func totals(metric: MetricName) -> [MetricSeries: Double] {
        state.withLock { pending in
            pending.totals.compactMapValues { aggregate in
                switch metric {
                case .duration: aggregate.durationHistogram.count > 0 ? aggregate.durationSum : nil
                case .concurrentExecutions: aggregate.concurrencyCount > 0 ? Double(aggregate.concurrencyMax) : nil
                default: aggregate.datapoint(metric, timestamp: 0)?.sum
                }
            }
        }
    }

    /// The current totals in Prometheus text exposition format (version 0.0.4).
    public func prometheusText() -> String {
        let totals = state.withLock { $0.totals }.sorted {
            ($0.key.functionName, $0.key.resource, $0.key.executedVersion) < ($1.key.functionName, $1.key.resource, $1.key.executedVersion)
        }
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ value: (PeriodAggregate) -> Double?) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (series, aggregate) in totals {
                guard let v = value(aggregate) else { continue }
                out += "\(name){function_name=\"\(Self.escape(series.functionName))\",resource=\"\(Self.escape(series.resource))\",executed_version=\"\(Self.escape(series.executedVersion))\"} \(Self.format(v))\n"
            }
        }
        family("shift_lambda_invocations_total", "counter", "Invocations (AWS/Lambda Invocations); throttled requests excluded.") { Double($0.invocations) }
        family("shift_lambda_errors_total", "counter", "Invocations that ended in a function error (AWS/Lambda Errors).") { Double($0.errors) }
        family("shift_lambda_throttles_total", "counter", "Throttled requests (AWS/Lambda Throttles).") { Double($0.throttles) }
        family("shift_lambda_dead_letter_errors_total", "counter", "Events that could not be sent to the dead-letter queue.") { Double($0.deadLetterErrors) }
        family("shift_lambda_destination_delivery_failures_total", "counter", "Records that could not be delivered to a destination.") { Double($0.destinationDeliveryFailures) }
        family("shift_lambda_duration_milliseconds_sum", "counter", "Total invocation duration in ms (AWS/Lambda Duration).") { $0.durationHistogram.count > 0 ? $0.durationSum : nil }
        family("shift_lambda_duration_milliseconds_count", "counter", "Invocations with a measured duration.") { $0.durationHistogram.count > 0 ? Double($0.durationHistogram.count) : nil }
        family("shift_lambda_duration_milliseconds_max", "gauge", "Longest invocation duration in ms.") { $0.durationHistogram.count > 0 ? $0.durationMax : nil }
        family("shift_lambda_concurrent_executions_max", "gauge", "Most executions in flight at once (AWS/Lambda ConcurrentExecutions, Maximum).") { $0.concurrencyCount > 0 ? Double($0.concurrencyMax) : nil }
        return out
    }

    private static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    private static func encode(_ aggregate: PeriodAggregate) throws -> Data {
        try PropertyListEncoder.binary.encode(aggregate)
    }

    private static func decode(_ data: Data) throws -> PeriodAggregate {
        try PropertyListDecoder().decode(PeriodAggregate.self, from: data)
    }
}

extension PropertyListEncoder {
    fileprivate static var binary: PropertyListEncoder {
        let encoder = PropertyListEncoder()
        encoder.outputFormat = .binary
        return encoder
    }
}
