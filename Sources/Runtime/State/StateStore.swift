import Foundation
import GRDB

/// Durable local state in one directory (e.g. `.shift/`): `state.sqlite` (WAL), `code/` snapshots, `locks/`.
///
/// Several processes may open one directory read-write at once (`shift serve` beside `shift deploy`):
/// SQLite's WAL and a busy timeout serialise their transactions, and what must not interleave (two
/// changes of one alias) takes an `AliasLock`. Every write is one IMMEDIATE SQLite transaction, so a
/// crash (even `kill -9`) leaves the last committed state and a read-then-write never fails to upgrade.
public final class StateStore: Sendable {
    /// How to open a state directory.
    public struct Options: Sendable {
        public var arn: LambdaArn
        /// Open without writing (status commands while a deployment runs).
        public var readOnly: Bool
        /// Where the instants the store writes (`published_at`, an alias's `updated_at`) come from: the
        /// directory's `StateClock`, so they are on the same time base as metrics and logs.
        public var clock: any RuntimeClock
        /// How long `cachedTarget`/`cachedVersion` trust an answer at most, even when the state directory's generation
        /// says nothing changed: the bound on staleness after a writer died between its commit and the generation write.
        public var resolutionCacheLifetime: Duration
        /// Where the resolution cache's ages come from (monotonic: an age, not an instant of the state clock); tests advance it.
        var resolutionCacheClock: @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }

        public init(
            arn: LambdaArn = LambdaArn(), readOnly: Bool = false, clock: any RuntimeClock = ScaledClock(timeScale: 1),
            resolutionCacheLifetime: Duration = .seconds(1)
        ) {
            self.arn = arn
            self.readOnly = readOnly
            self.clock = clock
            self.resolutionCacheLifetime = resolutionCacheLifetime
        }
    }

    public let directory: URL
    public let options: Options
    let database: DatabasePool
    let codeStore: CodeStore
    let resolutionCache: ResolutionCache

    public var databasePath: String { directory.appendingPathComponent("state.sqlite").path }

    private init(directory: URL, options: Options, database: DatabasePool, resolutionCache: ResolutionCache) {
        self.directory = directory
        self.options = options
        self.database = database
        self.codeStore = CodeStore(root: directory.appendingPathComponent("code", isDirectory: true), excluding: [directory])
        self.resolutionCache = resolutionCache
    }

    /// Opens (creating if needed) the state directory and migrates the schema.
    public static func open(directory: URL, options: Options = Options()) async throws -> StateStore {
        try StateDirectory.prepare(directory, create: !options.readOnly)
        do {
            var configuration = Configuration()
            configuration.readonly = options.readOnly
            configuration.busyMode = .timeout(10)
            configuration.label = "shift-state"
            let path = directory.appendingPathComponent("state.sqlite").path
            let pool: DatabasePool
            let cache: ResolutionCache
            if options.readOnly {
                pool = try DatabasePool(path: path, configuration: configuration)
                cache = ResolutionCache(directory: directory, readOnly: true, lifetime: options.resolutionCacheLifetime, now: options.resolutionCacheClock)
            } else {
                // Two processes opening a fresh directory would both switch it to WAL and both see migration
                // "v1" unapplied (GRDB reads the applied list outside the migration's transaction), and the
                // second CREATE TABLE would fail. Opening and migrating one at a time takes milliseconds.
                (pool, cache) = try FileLock.withLock(path: directory.appendingPathComponent("schema.lock").path) {
                    // SQLite gives the WAL and shared-memory files the database file's mode.
                    StateDirectory.createPrivateFile(path)
                    for suffix in ["-wal", "-shm"] { StateDirectory.restrict(path + suffix) }
                    let pool = try DatabasePool(path: path, configuration: configuration)
                    try StateSchema.migrator.migrate(pool)
                    // Under the lock, so that no other opener reads the generation file before its first value is in.
                    let cache = ResolutionCache(directory: directory, readOnly: false, lifetime: options.resolutionCacheLifetime, now: options.resolutionCacheClock)
                    return (pool, cache)
                }
            }
            return StateStore(directory: directory, options: options, database: pool, resolutionCache: cache)
        } catch let error as StateError {
            throw error
        } catch {
            throw StateError(.stateUnavailable, "Cannot open the state database in \(directory.path): \(error). If it is damaged, move the directory away and deploy again.", cause: error)
        }
    }

    /// Closes the database. The store is unusable afterwards.
    public func close() throws {
        try database.close()
    }

    /// Runs a write transaction, mapping database errors to `StateError`.
    ///
    /// - Parameter invalidatesResolutions: true for every write that can change what `resolveTarget` or `getVersion`
    ///   answer (rows of `functions`, `versions`, `aliases`): once it commits, cached answers go stale in every process.
    func write<T: Sendable>(invalidatesResolutions: Bool = false, _ updates: @Sendable @escaping (Database) throws -> T) async throws -> T {
        do {
            // After the commit, never before: a reader that sees the new generation must find the new rows. After a
            // failure too, whose outcome (a failed COMMIT) may be unknown: a needless advance only costs a reload.
            defer { if invalidatesResolutions { resolutionCache.advance() } }
            return try await database.writeWithoutTransaction { db in try db.immediateTransaction(updates) }
        } catch let error as StateError {
            throw error
        } catch {
            throw StateError(.stateUnavailable, "Writing the state database failed: \(error).", cause: error)
        }
    }

    /// A write transaction on the calling thread (which waits for the writer), for `BackgroundWriter`; errors as `write`'s.
    func writeNow<T>(_ updates: (Database) throws -> T) throws -> T {
        do {
            return try database.writeWithoutTransaction { db in try db.immediateTransaction(updates) }
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

extension Database {
    /// Runs `updates` in an IMMEDIATE transaction: it takes the write lock before the first read, so a
    /// transaction that reads then writes waits (busy timeout) for another process instead of failing
    /// with SQLITE_BUSY when it would upgrade a stale read snapshot. GRDB 7 picks IMMEDIATE for writes
    /// already; saying so keeps that true whatever its default becomes.
    func immediateTransaction<T>(_ updates: (Database) throws -> T) throws -> T {
        var result: T?
        try inTransaction(.immediate) {
            result = try updates(self)
            return .commit
        }
        guard let result else { preconditionFailure("a committed transaction has a result") }
        return result
    }
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
        registerLifecycleMigration(&migrator)
        migrator.registerMigration("logs-v2") { db in
            // Log lines are read by function and time, never by request id alone; the index on random request ids cost
            // most of each flush (measured: 10 ms against 3.7 ms for 1,500 rows), and flushes compete with invocations
            // for the cores.
            try db.execute(sql: "DROP INDEX IF EXISTS logs_by_request")
        }
        return migrator
    }
}
