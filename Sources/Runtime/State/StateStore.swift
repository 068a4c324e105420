import Foundation
import GRDB

/// Durable local state in one directory (e.g. `.shift/`): `state.sqlite` (WAL), `code/` snapshots, `lock`.
///
/// One process at a time owns the directory (an exclusive `flock`); a second one waits up to
/// `Options.lockTimeout`, then fails naming the holder's pid. Read-only stores skip the lock.
/// Every write is one SQLite transaction, so a crash (even `kill -9`) leaves the last committed state.
public final class StateStore: Sendable {
    /// How to open a state directory.
    public struct Options: Sendable {
        public var arn: LambdaArn
        /// How long to wait for another process to release the directory.
        public var lockTimeout: Duration
        /// Open without the lock and without writing (status commands while a deployment runs).
        public var readOnly: Bool
        /// Where the instants the store writes (`published_at`, an alias's `updated_at`) come from: the
        /// directory's `StateClock`, so they are on the same time base as metrics and logs.
        public var clock: any RuntimeClock

        public init(arn: LambdaArn = LambdaArn(), lockTimeout: Duration = .seconds(10), readOnly: Bool = false,
                    clock: any RuntimeClock = ScaledClock(timeScale: 1)) {
            self.arn = arn
            self.lockTimeout = lockTimeout
            self.readOnly = readOnly
            self.clock = clock
        }
    }

    public let directory: URL
    public let options: Options
    let database: DatabasePool
    let codeStore: CodeStore
    private let lock: StateDirectoryLock?

    public var databasePath: String { directory.appendingPathComponent("state.sqlite").path }

    private init(directory: URL, options: Options, database: DatabasePool, lock: StateDirectoryLock?) {
        self.directory = directory
        self.options = options
        self.database = database
        self.lock = lock
        self.codeStore = CodeStore(root: directory.appendingPathComponent("code", isDirectory: true), excluding: [directory])
    }

    /// Opens (creating if needed) the state directory, takes its lock and migrates the schema.
    public static func open(directory: URL, options: Options = Options()) async throws -> StateStore {
        let fileManager = FileManager.default
        if !options.readOnly {
            do {
                try fileManager.createDirectory(at: directory, withIntermediateDirectories: true)
            } catch {
                throw StateError(.stateUnavailable, "Cannot create the state directory \(directory.path). Check the path and its permissions.", cause: error)
            }
        }
        let lock = options.readOnly ? nil : try await StateDirectoryLock(path: directory.appendingPathComponent("lock").path, timeout: options.lockTimeout)
        do {
            var configuration = Configuration()
            configuration.readonly = options.readOnly
            configuration.busyMode = .timeout(10)
            configuration.label = "shift-state"
            let pool = try DatabasePool(path: directory.appendingPathComponent("state.sqlite").path, configuration: configuration)
            if !options.readOnly {
                try StateSchema.migrator.migrate(pool)
            }
            return StateStore(directory: directory, options: options, database: pool, lock: lock)
        } catch let error as StateError {
            lock?.release()
            throw error
        } catch {
            lock?.release()
            throw StateError(.stateUnavailable, "Cannot open the state database in \(directory.path): \(error). If it is damaged, move the directory away and deploy again.", cause: error)
        }
    }

    /// Closes the database and releases the directory lock. The store is unusable afterwards.
    public func close() throws {
        defer { lock?.release() }
        try database.close()
    }

    /// Runs a write transaction, mapping database errors to `StateError`.
    func write<T: Sendable>(_ updates: @Sendable @escaping (Database) throws -> T) async throws -> T {
        do {
            return try await database.write(updates)
        } catch let error as StateError {
            throw error
        } catch {
            throw StateError(.stateUnavailable, "Writing the state database failed: \(error).", cause: error)
        }
    }

    func read<T: Sendable>(_ value: @Sendable @escaping (Database) throws -> T) async throws -> T {
        do {
            return try await database.read(value)
        } catch let error as StateError {
            throw error
        } catch {
            throw StateError(.stateUnavailable, "Reading the state database failed: \(error).", cause: error)
        }
    }

    /// Whether SQLite's integrity check passes (used after crashes and in tests).
    public func integrityCheck() async throws -> Bool {
        try await read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") == "ok" }
    }

    /// Now on the store's clock, for the instants it writes.
    func nowMilliseconds() -> Int64 { options.clock.nowMilliseconds }
}

/// The schema, as numbered migrations (never edit a shipped migration; add a new one).
enum StateSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE functions (
                    name TEXT PRIMARY KEY NOT NULL,
                    last_version INTEGER NOT NULL DEFAULT 0,
                    created_at INTEGER NOT NULL
                );
                CREATE TABLE versions (
                    function TEXT NOT NULL REFERENCES functions(name),
                    version INTEGER NOT NULL,
                    code_sha256 TEXT NOT NULL,
                    code_hex TEXT NOT NULL,
                    configuration TEXT NOT NULL,
                    description TEXT NOT NULL,
                    published_at INTEGER NOT NULL,
                    PRIMARY KEY (function, version)
                );
                CREATE TABLE aliases (
                    function TEXT NOT NULL REFERENCES functions(name),
                    name TEXT NOT NULL,
                    function_version TEXT NOT NULL,
                    description TEXT NOT NULL,
                    routing TEXT,
                    revision_id TEXT NOT NULL,
                    updated_at INTEGER NOT NULL,
                    PRIMARY KEY (function, name)
                );
                CREATE TABLE deployments (
                    id TEXT PRIMARY KEY NOT NULL,
                    function TEXT NOT NULL,
                    alias TEXT NOT NULL,
                    status TEXT NOT NULL,
                    current_version INTEGER,
                    target_version INTEGER NOT NULL,
                    reason TEXT,
                    started_at INTEGER NOT NULL,
                    ended_at INTEGER,
                    engine_state BLOB
                );
                CREATE INDEX deployments_by_alias ON deployments(function, alias, started_at);
                CREATE TABLE deployment_events (
                    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
                    deployment_id TEXT NOT NULL REFERENCES deployments(id),
                    at INTEGER NOT NULL,
                    kind TEXT NOT NULL,
                    status TEXT,
                    detail BLOB
                );
                CREATE INDEX deployment_events_by_deployment ON deployment_events(deployment_id, sequence);
                CREATE TABLE dead_letters (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    function TEXT NOT NULL,
                    qualifier TEXT,
                    request_id TEXT NOT NULL,
                    condition TEXT NOT NULL,
                    error_type TEXT,
                    error_message TEXT,
                    approximate_invoke_count INTEGER NOT NULL,
                    payload BLOB NOT NULL,
                    recorded_at INTEGER NOT NULL
                );
                CREATE INDEX dead_letters_by_function ON dead_letters(function, id);
                CREATE TABLE metrics (
                    function TEXT NOT NULL,
                    resource TEXT NOT NULL,
                    executed_version TEXT NOT NULL,
                    period_start INTEGER NOT NULL,
                    aggregate BLOB NOT NULL,
                    PRIMARY KEY (function, resource, executed_version, period_start)
                );
                CREATE INDEX metrics_by_period ON metrics(period_start);
                CREATE TABLE logs (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    function TEXT NOT NULL,
                    version TEXT NOT NULL,
                    stream TEXT NOT NULL,
                    request_id TEXT,
                    timestamp INTEGER NOT NULL,
                    message TEXT NOT NULL
                );
                CREATE INDEX logs_by_function ON logs(function, timestamp);
                CREATE INDEX logs_by_request ON logs(request_id);
                """)
        }
        return migrator
    }
}
