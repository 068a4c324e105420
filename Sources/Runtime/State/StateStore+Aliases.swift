import Foundation
import GRDB

extension StateStore {
    /// CreateAlias: 409 if it exists, 404 if the function or a version does not, 400 for rule violations.
    @discardableResult
    public func createAlias(
        function: String, name: String, functionVersion: String, description: String = "", routingConfig: RoutingConfig? = nil
    ) async throws -> AliasConfiguration {
        try AliasRules.validateName(name)
        try AliasRules.validateVersion(functionVersion)
        let routing = Self.normalized(routingConfig)
        try AliasRules.validateRouting(primary: functionVersion, routing: routing)
        let routingJSON = try routing.map(Self.encode)
        let arn = options.arn
        let now = nowMilliseconds()
        return try await write(invalidatesResolutions: true) { db in
            try Self.requireFunction(db, function, arn: arn)
            try Self.requireVersions(db, function, primary: functionVersion, routing: routing, arn: arn)
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM aliases WHERE function = ? AND name = ?", arguments: [function, name]) != nil {
                throw StateError(.resourceConflict, "Alias already exists: \(arn.function(function, qualifier: name))")
            }
            let revision = UUID().uuidString.lowercased()
            try db.execute(
                sql: "INSERT INTO aliases (function, name, function_version, description, routing, revision_id, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                arguments: [function, name, functionVersion, description, routingJSON, revision, now]
            )
            return AliasConfiguration(
                aliasArn: arn.function(function, qualifier: name), name: name, functionVersion: functionVersion,
                description: description, routingConfig: routing, revisionId: revision
            )
        }
    }

    /// UpdateAlias: nil arguments keep the current value; an empty `RoutingConfig` removes the routing.
    /// A `revisionId` that is not the alias's current one fails with 412 `PreconditionFailedException`.
    @discardableResult
    public func updateAlias(
        function: String, name: String, functionVersion: String? = nil, description: String? = nil,
        routingConfig: RoutingConfig? = nil, revisionId: String? = nil
    ) async throws -> AliasConfiguration {
        try AliasRules.validateName(name)
        if let functionVersion { try AliasRules.validateVersion(functionVersion) }
        let arn = options.arn
        let now = nowMilliseconds()
        return try await write(invalidatesResolutions: true) { db in
            try Self.requireFunction(db, function, arn: arn)
            var alias = try Self.fetchAlias(db, function: function, name: name, arn: arn)
            if let revisionId, revisionId != alias.revisionId {
                throw StateError(.preconditionFailed, "The Revision Id provided does not match the latest Revision Id. Call the GetAlias API to retrieve the latest Revision Id")
            }
            if let functionVersion { alias.functionVersion = functionVersion }
            if let description { alias.description = description }
            if let routingConfig { alias.routingConfig = Self.normalized(routingConfig) }
            try AliasRules.validateRouting(primary: alias.functionVersion, routing: alias.routingConfig)
            try Self.requireVersions(db, function, primary: alias.functionVersion, routing: alias.routingConfig, arn: arn)
            alias.revisionId = UUID().uuidString.lowercased()
            try db.execute(
                sql: "UPDATE aliases SET function_version = ?, description = ?, routing = ?, revision_id = ?, updated_at = ? WHERE function = ? AND name = ?",
                arguments: [alias.functionVersion, alias.description, try alias.routingConfig.map(Self.encode), alias.revisionId, now, function, name]
            )
            return alias
        }
    }

    /// GetAlias; 404 when the function or alias does not exist.
    public func getAlias(function: String, name: String) async throws -> AliasConfiguration {
        let arn = options.arn
        return try await read { db in
            try Self.requireFunction(db, function, arn: arn)
            return try Self.fetchAlias(db, function: function, name: name, arn: arn)
        }
    }

    /// DeleteAlias; 404 when the function or alias does not exist.
    public func deleteAlias(function: String, name: String) async throws {
        let arn = options.arn
        try await write(invalidatesResolutions: true) { db in
            try Self.requireFunction(db, function, arn: arn)
            try db.execute(sql: "DELETE FROM aliases WHERE function = ? AND name = ?", arguments: [function, name])
            if db.changesCount == 0 {
                throw StateError(.resourceNotFound, "Alias not found: \(arn.function(function, qualifier: name))")
            }
        }
    }

    /// ListAliases, by name; with `functionVersion`, only aliases routing to that version (as primary or extra).
    public func listAliases(function: String, functionVersion: String? = nil) async throws -> [AliasConfiguration] {
        let arn = options.arn
        return try await read { db in
            try Self.requireFunction(db, function, arn: arn)
            let all = try Row.fetchAll(db, sql: "SELECT * FROM aliases WHERE function = ? ORDER BY name", arguments: [function])
                .map { try Self.alias(from: $0, arn: arn) }
            guard let functionVersion else { return all }
            return all.filter { $0.functionVersion == functionVersion || $0.routingConfig?.additionalVersionWeights[functionVersion] != nil }
        }
    }

    private static func normalized(_ routing: RoutingConfig?) -> RoutingConfig? {
        guard let routing, !routing.additionalVersionWeights.isEmpty else { return nil }
        return routing
    }

    private static func requireFunction(_ db: Database, _ function: String, arn: LambdaArn) throws {
        if try Bool.fetchOne(db, sql: "SELECT 1 FROM functions WHERE name = ?", arguments: [function]) == nil {
            throw StateError(.resourceNotFound, "Function not found: \(arn.function(function))")
        }
    }

    private static func requireVersions(_ db: Database, _ function: String, primary: String, routing: RoutingConfig?, arn: LambdaArn) throws {
        for version in [primary] + (routing?.additionalVersionWeights.keys.sorted() ?? []) where version != "$LATEST" {
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM versions WHERE function = ? AND version = ?", arguments: [function, Int(version) ?? -1]) == nil {
                throw StateError(.resourceNotFound, "Function not found: \(arn.function(function, qualifier: version))")
            }
        }
    }

    private static func fetchAlias(_ db: Database, function: String, name: String, arn: LambdaArn) throws -> AliasConfiguration {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM aliases WHERE function = ? AND name = ?", arguments: [function, name]) else {
            throw StateError(.resourceNotFound, "Alias not found: \(arn.function(function, qualifier: name))")
        }
        return try alias(from: row, arn: arn)
    }

    static func alias(from row: Row, arn: LambdaArn) throws -> AliasConfiguration {
        let routingJSON: String? = row["routing"]
        let routing = try routingJSON.map { try JSONDecoder().decode(RoutingConfig.self, from: Data($0.utf8)) }
        let function: String = row["function"]
        let name: String = row["name"]
        return AliasConfiguration(
            aliasArn: arn.function(function, qualifier: name), name: name, functionVersion: row["function_version"],
            description: row["description"], routingConfig: routing, revisionId: row["revision_id"]
        )
    }
}
