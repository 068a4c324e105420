import Foundation
import Testing
@testable import Runtime

/// A store with function `fn` at versions 1, 2 and 3.
private func withThreeVersions(_ body: (StateStore) async throws -> Void) async throws {
    try await withTemporaryStore { store, _ in
        for n in 1...3 {
            try await store.publishVersion(function: "fn", configuration: pythonConfiguration, code: .inline(fileName: "app.py", contents: "v\(n)"))
        }
        try await body(store)
    }
}

@Suite struct StateAliasTests {
    @Test func createGetListDeleteRenderAsAWS() async throws {
        try await withThreeVersions { store in
            let created = try await store.createAlias(function: "fn", name: "live", functionVersion: "1", description: "prod",
                                                      routingConfig: RoutingConfig(additionalVersionWeights: ["2": 0.25]))
            #expect(created.aliasArn == "arn:aws:lambda:us-east-1:123456789012:function:fn:live")
            #expect(try await store.getAlias(function: "fn", name: "live") == created)
            #expect(try await store.listAliases(function: "fn").map(\.name) == ["live"])
            #expect(try await store.listAliases(function: "fn", functionVersion: "2").map(\.name) == ["live"])
            #expect(try await store.listAliases(function: "fn", functionVersion: "3").isEmpty)
            let json = try JSONSerialization.jsonObject(with: created.jsonData()) as? [String: Any]
            #expect(json?["AliasArn"] as? String == created.aliasArn)
            #expect(json?["FunctionVersion"] as? String == "1")
            #expect((json?["RoutingConfig"] as? [String: Any])?["AdditionalVersionWeights"] as? [String: Double] == ["2": 0.25])
            #expect(json?["RevisionId"] as? String == created.revisionId)
            try await store.deleteAlias(function: "fn", name: "live")
            let error = await #expect(throws: StateError.self) { try await store.getAlias(function: "fn", name: "live") }
            #expect(error?.httpStatus == 404)
            #expect(error?.awsErrorType == "ResourceNotFoundException")
            #expect(error?.message == "Alias not found: arn:aws:lambda:us-east-1:123456789012:function:fn:live")
        }
    }

    @Test func creatingAnExistingAliasIsAConflict() async throws {
        try await withThreeVersions { store in
            try await store.createAlias(function: "fn", name: "live", functionVersion: "1")
            let error = await #expect(throws: StateError.self) { try await store.createAlias(function: "fn", name: "live", functionVersion: "2") }
            #expect(error?.httpStatus == 409)
            #expect(error?.awsErrorType == "ResourceConflictException")
            #expect(error?.message == "Alias already exists: arn:aws:lambda:us-east-1:123456789012:function:fn:live")
        }
    }

    @Test func unknownFunctionOrVersionIsNotFound() async throws {
        try await withThreeVersions { store in
            let noFunction = await #expect(throws: StateError.self) { try await store.createAlias(function: "other", name: "live", functionVersion: "1") }
            #expect(noFunction?.message == "Function not found: arn:aws:lambda:us-east-1:123456789012:function:other")
            let noVersion = await #expect(throws: StateError.self) {
                try await store.createAlias(function: "fn", name: "live", functionVersion: "1", routingConfig: RoutingConfig(additionalVersionWeights: ["7": 0.1]))
            }
            #expect(noVersion?.code == .resourceNotFound)
            #expect(noVersion?.message == "Function not found: arn:aws:lambda:us-east-1:123456789012:function:fn:7")
        }
    }

    @Test(arguments: [
        ("123", StateError.Code.validation),           // all digits
        ("bad name", .validation),                      // space
        ("caf\u{e9}", .validation),                     // non-ASCII letter
        (String(repeating: "a", count: 129), .validation),
        ("", .validation),
    ])
    func invalidNamesAreRejected(name: String, code: StateError.Code) async throws {
        try await withThreeVersions { store in
            let error = await #expect(throws: StateError.self) { try await store.createAlias(function: "fn", name: name, functionVersion: "1") }
            #expect(error?.code == code)
            #expect(error?.httpStatus == 400)
        }
    }

    @Test(arguments: ["live", "a-b_c", "v2", "1a", String(repeating: "z", count: 128)])
    func validNamesAreAccepted(name: String) async throws {
        try await withThreeVersions { store in
            let alias = try await store.createAlias(function: "fn", name: name, functionVersion: "1")
            #expect(alias.name == name)
        }
    }

    @Test(arguments: [
        ("1", ["2": 1.5], StateError.Code.validation, "Map value must satisfy constraint"),
        ("1", ["2": -0.1], .validation, "Map value must satisfy constraint"),
        ("1", ["2": 1.0], .invalidParameterValue, "must be less than 1.0"),
        ("1", ["2": 0.1, "3": 0.1], .invalidParameterValue, "at most 1 additional version"),
        ("$LATEST", ["2": 0.1], .invalidParameterValue, "$LATEST is not supported for an alias pointing to more than 1 version"),
        ("1", ["$LATEST": 0.1], .validation, "Map keys must satisfy constraint"),
        ("2", ["2": 0.1], .invalidParameterValue, "must differ from the primary version"),
        ("x", [:], .validation, "at 'functionVersion'"),
    ])
    func routingRulesAreEnforced(primary: String, weights: [String: Double], code: StateError.Code, fragment: String) async throws {
        try await withThreeVersions { store in
            let error = await #expect(throws: StateError.self) {
                try await store.createAlias(function: "fn", name: "live", functionVersion: primary, routingConfig: RoutingConfig(additionalVersionWeights: weights))
            }
            #expect(error?.code == code)
            #expect(error?.message.contains(fragment) == true, "\(error?.message ?? "")")
        }
    }

    @Test func latestIsAllowedUnweightedAndZeroWeightIsAllowed() async throws {
        try await withThreeVersions { store in
            #expect(try await store.createAlias(function: "fn", name: "dev", functionVersion: "$LATEST").functionVersion == "$LATEST")
            let zero = try await store.createAlias(function: "fn", name: "live", functionVersion: "1", routingConfig: RoutingConfig(additionalVersionWeights: ["2": 0]))
            #expect(zero.additionalVersion?.weight == 0)
        }
    }

    @Test func updateChangesRevisionAndRejectsAStaleOne() async throws {
        try await withThreeVersions { store in
            let created = try await store.createAlias(function: "fn", name: "live", functionVersion: "1")
            let shifted = try await store.updateAlias(function: "fn", name: "live", routingConfig: RoutingConfig(additionalVersionWeights: ["2": 0.1]), revisionId: created.revisionId)
            #expect(shifted.revisionId != created.revisionId)
            #expect(shifted.functionVersion == "1")
            #expect(shifted.additionalVersion?.version == "2")

            let stale = await #expect(throws: StateError.self) {
                try await store.updateAlias(function: "fn", name: "live", functionVersion: "2", revisionId: created.revisionId)
            }
            #expect(stale?.httpStatus == 412)
            #expect(stale?.awsErrorType == "PreconditionFailedException")
            #expect(stale?.message == "The Revision Id provided does not match the latest Revision Id. Call the GetAlias API to retrieve the latest Revision Id")

            // Promote: primary becomes 2 and the routing is cleared with an empty config.
            let promoted = try await store.updateAlias(function: "fn", name: "live", functionVersion: "2", routingConfig: RoutingConfig(), revisionId: shifted.revisionId)
            #expect(promoted.functionVersion == "2")
            #expect(promoted.routingConfig == nil)
            #expect(try await store.getAlias(function: "fn", name: "live") == promoted)
        }
    }

    @Test func updateThatWouldMakePrimaryEqualExtraIsRejected() async throws {
        try await withThreeVersions { store in
            try await store.createAlias(function: "fn", name: "live", functionVersion: "1", routingConfig: RoutingConfig(additionalVersionWeights: ["2": 0.5]))
            let error = await #expect(throws: StateError.self) { try await store.updateAlias(function: "fn", name: "live", functionVersion: "2") }
            #expect(error?.code == .invalidParameterValue)
        }
    }

    @Test func errorBodyIsAWSShaped() throws {
        let error = StateError(.resourceNotFound, "Alias not found: x")
        let body = try JSONSerialization.jsonObject(with: error.awsErrorBody) as? [String: String]
        #expect(body == ["Type": "User", "Message": "Alias not found: x"])
    }
}
