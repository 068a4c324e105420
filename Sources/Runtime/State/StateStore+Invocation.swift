import Foundation
import GRDB

/// What an invocation's qualifier names.
public enum InvocationTarget: Sendable, Equatable {
    /// No qualifier or `$LATEST`: the code on disk now (never stored).
    case latest(functionName: String)
    /// A published version.
    case version(FunctionVersion)
    /// An alias; pick the version per invocation with `AliasRouter`, then `getVersion`.
    case alias(AliasConfiguration)
}

extension StateStore {
    /// Resolves `function` + `qualifier` (nil, `$LATEST`, a version number or an alias name) for an invocation.
    /// Unknown function, version or alias: 404 `ResourceNotFoundException` "Function not found: <arn with qualifier>",
    /// as Invoke answers. Always reads the database, and leaves the answer for `cachedTarget`.
    public func resolveTarget(function: String, qualifier: String?) async throws -> InvocationTarget {
        // Before the read: an answer is only as current as the generation seen before its rows were.
        let ticket = resolutionCache.ticket()
        let target: InvocationTarget
        do {
            target = try await readTarget(function: function, qualifier: qualifier)
        } catch let error as StateError where error.code == .resourceNotFound {
            resolutionCache.markAbsent(function: function, qualifier: qualifier, ticket: ticket)
            throw error
        }
        resolutionCache.fill(target, function: function, qualifier: qualifier, ticket: ticket)
        return target
    }

    private func readTarget(function: String, qualifier: String?) async throws -> InvocationTarget {
        let arn = options.arn
        let codeRoot = codeStore.root
        return try await read { db in
            let notFound = StateError(.resourceNotFound, "Function not found: \(arn.function(function, qualifier: qualifier))")
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM functions WHERE name = ?", arguments: [function]) != nil else { throw notFound }
            guard let qualifier, qualifier != "$LATEST" else { return .latest(functionName: function) }
            if let number = Int(qualifier), qualifier.allSatisfy(\.isNumber) {
                guard let row = try Row.fetchOne(db, sql: "SELECT * FROM versions WHERE function = ? AND version = ?", arguments: [function, number]) else { throw notFound }
                return .version(try Self.version(from: row, codeRoot: codeRoot))
            }
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM aliases WHERE function = ? AND name = ?", arguments: [function, qualifier]) else { throw notFound }
            let routingJSON: String? = row["routing"]
            return .alias(AliasConfiguration(
                aliasArn: arn.function(function, qualifier: qualifier), name: qualifier, functionVersion: row["function_version"],
                description: row["description"], routingConfig: try routingJSON.map { try JSONDecoder().decode(RoutingConfig.self, from: Data($0.utf8)) },
                revisionId: row["revision_id"]
            ))
        }
    }
}
