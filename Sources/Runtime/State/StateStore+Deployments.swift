import Foundation
import GRDB

extension StateStore {
    /// Stores a new deployment and its first event (`kind` = "Created") in one transaction.
    public func createDeployment(_ deployment: DeploymentRecord) async throws {
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO deployments (id, function, alias, status, current_version, target_version, reason, started_at, ended_at, engine_state)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    deployment.id, deployment.functionName, deployment.aliasName, deployment.status, deployment.currentVersion,
                    deployment.targetVersion, deployment.reason, deployment.startedAt, deployment.endedAt, deployment.engineState,
                ]
            )
            try db.execute(
                sql: "INSERT INTO deployment_events (deployment_id, at, kind, status, detail) VALUES (?, ?, 'Created', ?, NULL)",
                arguments: [deployment.id, deployment.startedAt, deployment.status]
            )
        }
    }

    /// Appends an event and applies its changes to the deployment row in one transaction.
    /// Call it before acting on the transition, so a restart sees what was about to happen.
    @discardableResult
    public func recordTransition(deploymentId: String, _ transition: DeploymentTransition) async throws -> DeploymentJournalEntry {
        try await write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM deployments WHERE id = ?", arguments: [deploymentId]) != nil else {
                throw StateError(.resourceNotFound, "Deployment \(deploymentId) not found. List deployments to find its id.")
            }
            try db.execute(
                sql: """
                    UPDATE deployments SET status = COALESCE(?, status), engine_state = COALESCE(?, engine_state),
                        reason = COALESCE(?, reason), ended_at = COALESCE(?, ended_at) WHERE id = ?
                    """,
                arguments: [transition.status, transition.engineState, transition.reason, transition.endedAt, deploymentId]
            )
            try db.execute(
                sql: "INSERT INTO deployment_events (deployment_id, at, kind, status, detail) VALUES (?, ?, ?, ?, ?)",
                arguments: [deploymentId, transition.at, transition.kind, transition.status, transition.detail]
            )
            return DeploymentJournalEntry(
                sequence: db.lastInsertedRowID, deploymentId: deploymentId, at: transition.at, kind: transition.kind,
                status: transition.status, detail: transition.detail
            )
        }
    }

    /// One deployment; 404 when unknown.
    public func deployment(id: String) async throws -> DeploymentRecord {
        try await read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM deployments WHERE id = ?", arguments: [id]) else {
                throw StateError(.resourceNotFound, "Deployment \(id) not found. List deployments to find its id.")
            }
            return Self.deployment(from: row)
        }
    }

    /// Deployments, newest first, optionally of one function and alias.
    public func listDeployments(function: String? = nil, alias: String? = nil, limit: Int = 100) async throws -> [DeploymentRecord] {
        try await read { db in
            var sql = "SELECT * FROM deployments WHERE 1"
            var arguments: StatementArguments = []
            if let function { sql += " AND function = ?"; arguments += [function] }
            if let alias { sql += " AND alias = ?"; arguments += [alias] }
            sql += " ORDER BY started_at DESC, rowid DESC LIMIT ?"
            arguments += [limit]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.deployment(from:))
        }
    }

    /// The deployments that have not ended (`ended_at` unset), oldest first: what to resume after a restart.
    public func unfinishedDeployments() async throws -> [DeploymentRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM deployments WHERE ended_at IS NULL ORDER BY started_at, rowid").map(Self.deployment(from:))
        }
    }

    /// A deployment's transition log, in order.
    public func deploymentEvents(deploymentId: String) async throws -> [DeploymentJournalEntry] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM deployment_events WHERE deployment_id = ? ORDER BY sequence", arguments: [deploymentId]).map { row in
                DeploymentJournalEntry(sequence: row["sequence"], deploymentId: row["deployment_id"], at: row["at"], kind: row["kind"], status: row["status"], detail: row["detail"])
            }
        }
    }

    /// The deployments with a journal entry of `kind`, in the order of their first such entry.
    public func deploymentIds(withEventKind kind: String) async throws -> [String] {
        try await read { db in
            try String.fetchAll(db, sql: """
                SELECT deployment_id FROM deployment_events WHERE kind = ? GROUP BY deployment_id ORDER BY MIN(sequence)
                """, arguments: [kind])
        }
    }

    private static func deployment(from row: Row) -> DeploymentRecord {
        DeploymentRecord(
            id: row["id"], functionName: row["function"], aliasName: row["alias"], status: row["status"],
            currentVersion: row["current_version"], targetVersion: row["target_version"], reason: row["reason"],
            startedAt: row["started_at"], endedAt: row["ended_at"], engineState: row["engine_state"]
        )
    }
}
