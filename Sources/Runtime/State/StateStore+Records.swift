import Foundation
import GRDB

/// An asynchronous event that could not be delivered (the dead-letter queue's content, kept locally).
public struct DeadLetterRecord: Codable, Sendable, Equatable {
    /// Assigned by the store; 0 before it is stored.
    public var id: Int64
    public var functionName: String
    public var qualifier: String?
    public var requestId: String
    /// `RetriesExhausted` or `EventAgeExceeded`.
    public var condition: String
    public var errorType: String?
    public var errorMessage: String?
    public var approximateInvokeCount: Int
    /// The original event.
    public var payload: Data
    /// Runtime-clock epoch ms.
    public var recordedAt: Int64

    public init(
        id: Int64 = 0, functionName: String, qualifier: String?, requestId: String, condition: String, errorType: String?,
        errorMessage: String?, approximateInvokeCount: Int, payload: Data, recordedAt: Int64
    ) {
        self.id = id
        self.functionName = functionName
        self.qualifier = qualifier
        self.requestId = requestId
        self.condition = condition
        self.errorType = errorType
        self.errorMessage = errorMessage
        self.approximateInvokeCount = approximateInvokeCount
        self.payload = payload
        self.recordedAt = recordedAt
    }
}

/// One log line of a function (CloudWatch Logs' group `/aws/lambda/<function>`, stream `stream`).
public struct LogRecord: Codable, Sendable, Equatable {
    public var functionName: String
    public var version: String
    /// `YYYY/MM/DD/[<version>]<environment id>`.
    public var stream: String
    public var requestId: String?
    /// Runtime-clock epoch ms.
    public var timestamp: Int64
    public var message: String

    public init(functionName: String, version: String, stream: String, requestId: String?, timestamp: Int64, message: String) {
        self.functionName = functionName
        self.version = version
        self.stream = stream
        self.requestId = requestId
        self.timestamp = timestamp
        self.message = message
    }
}

extension StateStore {
    /// Stores a dead-letter record; returns it with its id.
    @discardableResult
    public func addDeadLetter(_ record: DeadLetterRecord) async throws -> DeadLetterRecord {
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO dead_letters (function, qualifier, request_id, condition, error_type, error_message, approximate_invoke_count, payload, recorded_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    record.functionName, record.qualifier, record.requestId, record.condition, record.errorType, record.errorMessage,
                    record.approximateInvokeCount, record.payload, record.recordedAt,
                ]
            )
            var stored = record
            stored.id = db.lastInsertedRowID
            return stored
        }
    }

    /// Dead-letter records, oldest first, optionally of one function.
    public func deadLetters(function: String? = nil) async throws -> [DeadLetterRecord] {
        try await read { db in
            let rows = try function.map {
                try Row.fetchAll(db, sql: "SELECT * FROM dead_letters WHERE function = ? ORDER BY id", arguments: [$0])
            } ?? Row.fetchAll(db, sql: "SELECT * FROM dead_letters ORDER BY id")
            return rows.map { row in
                DeadLetterRecord(
                    id: row["id"], functionName: row["function"], qualifier: row["qualifier"], requestId: row["request_id"],
                    condition: row["condition"], errorType: row["error_type"], errorMessage: row["error_message"],
                    approximateInvokeCount: row["approximate_invoke_count"], payload: row["payload"], recordedAt: row["recorded_at"]
                )
            }
        }
    }

    /// Appends log lines (batch them: one call per flush).
    ///
    /// The lines of one stream and request at one millisecond are stored as one row (joined by newlines; a line never
    /// holds one) and `logs` gives them back one by one, each with its own time as before: a warm invocation that
    /// prints nothing writes one or two rows instead of three (START, END, REPORT), and rows, with their two indexes,
    /// are what a flush costs (it competes with the invocations for the cores).
    ///
    /// The lines are written a slice at a time, each its own transaction, the CPU offered to others between them
    /// (`BackgroundWriter`). Should one fail, `LogAppendError.written` tells how many of the first lines are stored.
    public func appendLogs(_ records: [LogRecord]) async throws {
        guard !records.isEmpty else { return }
        try await BackgroundWriter.run { [self] in
            for start in stride(from: 0, to: records.count, by: BackgroundWriter.slice) {
                if start > 0 { BackgroundWriter.yield() }
                let rows = Self.grouped(Array(records[start..<min(start + BackgroundWriter.slice, records.count)]))
                do {
                    try writeNow { db in
                        let statement = try db.cachedStatement(sql: "INSERT INTO logs (function, version, stream, request_id, timestamp, message) VALUES (?, ?, ?, ?, ?, ?)")
                        for record in rows {
                            try statement.execute(arguments: [record.functionName, record.version, record.stream, record.requestId, record.timestamp, record.message])
                        }
                    }
                } catch {
                    throw LogAppendError(written: start, cause: error)
                }
            }
        }
    }

    /// A line joins the row of its stream's previous line when both have the same request and millisecond, so a
    /// stream's lines keep their order (lines of other streams in between do not part them).
    static func grouped(_ records: [LogRecord]) -> [LogRecord] {
        var rows: [LogRecord] = []
        var lastRowOfStream: [String: Int] = [:]
        for record in records {
            if let at = lastRowOfStream[record.stream], rows[at].requestId == record.requestId, rows[at].timestamp == record.timestamp,
               rows[at].functionName == record.functionName, rows[at].version == record.version {
                rows[at].message += "\n"
                rows[at].message += record.message
            } else {
                lastRowOfStream[record.stream] = rows.count
                rows.append(record)
            }
        }
        return rows
    }

    /// Log lines of a function in time order, optionally within [from, to) and/or of one request (found among the
    /// function's lines in that time: there is no index by request).
    public func logs(function: String, from: Int64? = nil, to: Int64? = nil, requestId: String? = nil, limit: Int = 10_000) async throws -> [LogRecord] {
        try await read { db in
            var sql = "SELECT * FROM logs WHERE function = ?"
            var arguments: StatementArguments = [function]
            if let from { sql += " AND timestamp >= ?"; arguments += [from] }
            if let to { sql += " AND timestamp < ?"; arguments += [to] }
            if let requestId { sql += " AND request_id = ?"; arguments += [requestId] }
            sql += " ORDER BY timestamp, id LIMIT ?"
            arguments += [limit]  // a row holds at least one line
            var lines: [LogRecord] = []
            for row in try Row.fetchAll(db, sql: sql, arguments: arguments) {
                let record = LogRecord(functionName: row["function"], version: row["version"], stream: row["stream"], requestId: row["request_id"],
                                       timestamp: row["timestamp"], message: "")
                let message: String = row["message"]
                // Bytes, not Characters: a line ending in "\r" would make "\r\n" one Character.
                for line in message.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) where lines.count < limit {
                    var one = record
                    one.message = String(Substring(line))
                    lines.append(one)
                }
            }
            return lines
        }
    }
}

/// `appendLogs` stored only the first `written` lines before `cause`.
public struct LogAppendError: Error, CustomStringConvertible {
    public var written: Int
    public var cause: any Error
    public var description: String { "\(cause)" }
}
