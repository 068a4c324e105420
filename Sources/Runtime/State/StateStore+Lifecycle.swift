import Foundation
import GRDB

/// `$LATEST`'s `RevisionId` and `LastModified`: they change only when its code or configuration does.
public struct LatestRevision: Sendable, Equatable {
    public var revisionId: String
    /// Runtime-clock epoch ms of the last change seen.
    public var lastModified: Int64
}

extension StateSchema {
    /// The tables the Lambda lifecycle API adds: `$LATEST`'s revision, tags.
    static func registerLifecycleMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("lambda-api-v1") { db in
            try db.execute(sql: """
                CREATE TABLE function_latest (
                    function TEXT PRIMARY KEY NOT NULL,
                    digest TEXT NOT NULL,
                    revision_id TEXT NOT NULL,
                    last_modified INTEGER NOT NULL
                );
                CREATE TABLE function_tags (
                    function TEXT NOT NULL,
                    key TEXT NOT NULL,
                    value TEXT NOT NULL,
                    PRIMARY KEY (function, key)
                );
                """)
        }
    }
}

extension StateStore {
    /// `$LATEST`'s revision for `digest` (its code hash and configuration): the stored one while the digest is
    /// unchanged, else a new RevisionId and LastModified = now. A read-only store reports without writing.
    public func latestRevision(function: String, digest: String) async throws -> LatestRevision {
        if let known = try await read({ db in
            try Row.fetchOne(db, sql: "SELECT * FROM function_latest WHERE function = ? AND digest = ?", arguments: [function, digest])
                .map { LatestRevision(revisionId: $0["revision_id"], lastModified: $0["last_modified"]) }
        }) {
            return known
        }
        let fresh = LatestRevision(revisionId: UUID().uuidString.lowercased(), lastModified: nowMilliseconds())
        guard !options.readOnly else { return fresh }
        return try await write { db in
            // Another process may have recorded the same digest meanwhile: keep its answer.
            if let row = try Row.fetchOne(db, sql: "SELECT * FROM function_latest WHERE function = ? AND digest = ?", arguments: [function, digest]) {
                return LatestRevision(revisionId: row["revision_id"], lastModified: row["last_modified"])
            }
            try db.execute(sql: "INSERT OR REPLACE INTO function_latest (function, digest, revision_id, last_modified) VALUES (?, ?, ?, ?)",
                           arguments: [function, digest, fresh.revisionId, fresh.lastModified])
            return fresh
        }
    }

    /// A published version's RevisionId: versions never change, so it is derived from what identifies one.
    public static func revisionId(of version: FunctionVersion) -> String {
        let digest = SHA256.hash(Array("\(version.functionName)\0\(version.version)\0\(version.codeSha256)\0\(version.publishedAt)".utf8))
        return uuidString(digest)
    }

    /// 16 bytes of a digest in UUID form (version 4 / variant bits set, as RevisionIds look on AWS).
    static func uuidString(_ digest: [UInt8]) -> String {
        var bytes = Array(digest.prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = SHA256.hex(bytes)
        let parts = [hex.prefix(8), hex.dropFirst(8).prefix(4), hex.dropFirst(12).prefix(4), hex.dropFirst(16).prefix(4), hex.dropFirst(20)]
        return parts.joined(separator: "-")
    }

    /// DeleteFunction with a version: 409 when an alias routes to it.
    public func deleteVersion(function: String, version: Int) async throws {
        let arn = options.arn
        try await write(invalidatesResolutions: true) { db in
            let aliases = try Row.fetchAll(db, sql: "SELECT * FROM aliases WHERE function = ? ORDER BY name", arguments: [function])
                .map { try Self.alias(from: $0, arn: arn) }
                .filter { $0.functionVersion == String(version) || $0.routingConfig?.additionalVersionWeights[String(version)] != nil }
            if !aliases.isEmpty {
                throw StateError(.resourceConflict, "Unable to delete version because the following aliases reference it: [\(aliases.map(\.name).joined(separator: ", "))]. Point them at another version (update_alias) or delete them first.")
            }
            try db.execute(sql: "DELETE FROM versions WHERE function = ? AND version = ?", arguments: [function, version])
            if db.changesCount == 0 {
                throw StateError(.resourceNotFound, "Function not found: \(arn.function(function, qualifier: String(version)))")
            }
        }
    }

    /// DeleteFunction without a qualifier: its versions, aliases, tags and `$LATEST` revision go (deployment history stays).
    public func deleteFunction(_ function: String) async throws {
        try await write(invalidatesResolutions: true) { db in
            for table in ["aliases", "versions", "function_tags", "function_latest"] {
                try db.execute(sql: "DELETE FROM \(table) WHERE function = ?", arguments: [function])
            }
            try db.execute(sql: "DELETE FROM functions WHERE name = ?", arguments: [function])
        }
    }

    /// A function's tags.
    public func tags(function: String) async throws -> [String: String] {
        try await read { db in
            Dictionary(try Row.fetchAll(db, sql: "SELECT key, value FROM function_tags WHERE function = ?", arguments: [function])
                .map { ($0["key"] as String, $0["value"] as String) }, uniquingKeysWith: { $1 })
        }
    }

    /// TagResource (adds or replaces) and UntagResource (removes `removing`).
    public func updateTags(function: String, adding: [String: String] = [:], removing: [String] = []) async throws {
        try await write { db in
            for (key, value) in adding {
                try db.execute(sql: "INSERT OR REPLACE INTO function_tags (function, key, value) VALUES (?, ?, ?)", arguments: [function, key, value])
            }
            for key in removing {
                try db.execute(sql: "DELETE FROM function_tags WHERE function = ? AND key = ?", arguments: [function, key])
            }
        }
    }

    /// Records a StopDeployment request for the process running the deployment (it watches `stopRequest(deploymentId:)`).
    /// 400 `DeploymentAlreadyCompletedException` once it ended.
    public func requestStop(deploymentId: String, reason: String) async throws {
        let now = nowMilliseconds()
        try await write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT status, ended_at FROM deployments WHERE id = ?", arguments: [deploymentId]) else {
                throw StateError(.resourceNotFound, "The deployment \(deploymentId) could not be found; list_deployments shows the ids.",
                                 awsErrorType: "DeploymentDoesNotExistException")
            }
            let ended: Int64? = row["ended_at"]
            if ended != nil {
                let status: String = row["status"]
                throw StateError(.invalidParameterValue, "The deployment \(deploymentId) has already completed (\(status)); there is nothing to stop.",
                                 awsErrorType: "DeploymentAlreadyCompletedException")
            }
            try db.execute(sql: "INSERT INTO deployment_events (deployment_id, at, kind, status, detail) VALUES (?, ?, ?, NULL, ?)",
                           arguments: [deploymentId, now, Self.stopRequestKind, Data(reason.utf8)])
        }
    }

    /// The StopDeployment requests of deployments that have not ended: deployment id → reason of the first request.
    public func pendingStopRequests() async throws -> [String: String] {
        try await read { db in
            var requests: [String: String] = [:]
            let rows = try Row.fetchAll(db, sql: """
                SELECT e.deployment_id AS id, e.detail AS detail FROM deployment_events e JOIN deployments d ON d.id = e.deployment_id
                WHERE e.kind = ? AND d.ended_at IS NULL ORDER BY e.sequence
                """, arguments: [Self.stopRequestKind])
            for row in rows {
                let id: String = row["id"]
                let detail: Data? = row["detail"]
                if requests[id] == nil { requests[id] = detail.map { String(decoding: $0, as: UTF8.self) } ?? "stopped by a StopDeployment call" }
            }
            return requests
        }
    }

    /// The journal kind of a StopDeployment request.
    public static let stopRequestKind = "StopRequested"
}
