import Foundation
import GRDB

extension StateStore {
    /// Registers a function (idempotent). Publishing registers it too.
    public func registerFunction(_ name: String) async throws {
        // A read-only store (a dry run) knows the function from the template alone.
        guard !options.readOnly else { return }
        let now = nowMilliseconds()
        try await write(invalidatesResolutions: true) { db in
            try db.execute(sql: "INSERT OR IGNORE INTO functions (name, created_at) VALUES (?, ?)", arguments: [name, now])
        }
    }

    /// The names of all registered functions, sorted.
    public func listFunctions() async throws -> [String] {
        try await read { db in try String.fetchAll(db, sql: "SELECT name FROM functions ORDER BY name") }
    }

    /// Snapshots code into the content-addressed store (also for layers) and returns its hash and folder.
    public func snapshotCode(_ source: CodeSource) throws -> CodeSnapshot {
        try codeStore.snapshot(source)
    }

    /// The `CodeSha256` a publish of `source` would record, without storing anything (for dry runs).
    public func codeHash(_ source: CodeSource) throws -> String {
        try codeStore.hash(source)
    }

    /// The snapshot folder for a `CodeSha256` (base64) or hex hash, if stored.
    public func codeDirectory(for sha256: String) -> URL? {
        codeStore.directory(for: sha256)
    }

    /// Publishes a new version from the code as it is now, or returns the latest version unchanged when
    /// both its code hash and configuration equal what is given (AWS's no-op publish).
    ///
    /// - Parameter reportedSha256: the `CodeSha256` to record instead of the snapshot's (an uploaded zip's hash).
    /// - Returns: the version and whether it was newly created.
    @discardableResult
    public func publishVersion(
        function: String, configuration: VersionConfiguration, code: CodeSource, description: String = "", reportedSha256: String? = nil
    ) async throws -> (version: FunctionVersion, created: Bool) {
        var stored = try codeStore.snapshot(code)
        if let reportedSha256 { stored.sha256 = reportedSha256 }
        let snapshot = stored
        let configurationJSON = try Self.encode(configuration)
        let now = nowMilliseconds()
        let codeRoot = codeStore.root
        return try await write(invalidatesResolutions: true) { db in
            try db.execute(sql: "INSERT OR IGNORE INTO functions (name, created_at) VALUES (?, ?)", arguments: [function, now])
            if let latest = try Row.fetchOne(db, sql: "SELECT * FROM versions WHERE function = ? ORDER BY version DESC LIMIT 1", arguments: [function]) {
                let existing = try Self.version(from: latest, codeRoot: codeRoot)
                if existing.codeSha256 == snapshot.sha256 && existing.configuration == configuration {
                    return (existing, false)
                }
            }
            let next = try Int.fetchOne(db, sql: "SELECT last_version FROM functions WHERE name = ?", arguments: [function])! + 1
            try db.execute(sql: "UPDATE functions SET last_version = ? WHERE name = ?", arguments: [next, function])
            try db.execute(
                sql: "INSERT INTO versions (function, version, code_sha256, code_hex, configuration, description, published_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                arguments: [function, next, snapshot.sha256, snapshot.sha256Hex, configurationJSON, description, now]
            )
            let version = FunctionVersion(
                functionName: function, version: next, codeSha256: snapshot.sha256, codeDirectory: snapshot.directory,
                configuration: configuration, description: description, publishedAt: now
            )
            return (version, true)
        }
    }

    /// All published versions of a function, oldest first (`$LATEST` is not stored: it is the code on disk).
    public func listVersions(function: String) async throws -> [FunctionVersion] {
        let codeRoot = codeStore.root
        return try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM versions WHERE function = ? ORDER BY version", arguments: [function])
                .map { try Self.version(from: $0, codeRoot: codeRoot) }
        }
    }

    /// One published version; 404 `ResourceNotFoundException` when it does not exist. Always reads the database,
    /// and leaves the answer for `cachedVersion`.
    public func getVersion(function: String, version: Int) async throws -> FunctionVersion {
        let codeRoot = codeStore.root
        let arn = options.arn
        let ticket = resolutionCache.ticket()
        let found = try await read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM versions WHERE function = ? AND version = ?", arguments: [function, version]) else {
                throw StateError(.resourceNotFound, "Function not found: \(arn.function(function, qualifier: String(version)))")
            }
            return try Self.version(from: row, codeRoot: codeRoot)
        }
        resolutionCache.fill(found, ticket: ticket)
        return found
    }

    /// The newest published version, or nil when none has been published.
    public func latestPublishedVersion(function: String) async throws -> FunctionVersion? {
        let codeRoot = codeStore.root
        return try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM versions WHERE function = ? ORDER BY version DESC LIMIT 1", arguments: [function])
                .map { try Self.version(from: $0, codeRoot: codeRoot) }
        }
    }

    static func version(from row: Row, codeRoot: URL) throws -> FunctionVersion {
        let json: String = row["configuration"]
        let configuration = try JSONDecoder().decode(VersionConfiguration.self, from: Data(json.utf8))
        let hex: String = row["code_hex"]
        return FunctionVersion(
            functionName: row["function"], version: row["version"], codeSha256: row["code_sha256"],
            codeDirectory: codeRoot.appendingPathComponent(hex, isDirectory: true), configuration: configuration,
            description: row["description"], publishedAt: row["published_at"]
        )
    }

    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
