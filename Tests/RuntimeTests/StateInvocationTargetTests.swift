import Foundation
import Testing
@testable import Runtime

@Suite struct StateInvocationTargetTests {
    @Test(arguments: [
        ("fn", nil, "fn", nil),
        ("fn:live", nil, "fn", "live"),
        ("fn", "3", "fn", "3"),
        ("fn:live", "live", "fn", "live"),
        ("123456789012:function:fn:live", nil, "fn", "live"),
        ("arn:aws:lambda:us-east-1:123456789012:function:fn", "$LATEST", "fn", "$LATEST"),
        ("arn:aws:lambda:eu-west-1:123456789012:function:fn:2", nil, "fn", "2"),
    ] as [(String, String?, String, String?)])
    func functionReferencesAreParsed(reference: String, qualifier: String?, name: String, expected: String?) throws {
        let parsed = try LambdaArn.parseFunctionReference(reference, qualifier: qualifier)
        #expect(parsed.name == name)
        #expect(parsed.qualifier == expected)
    }

    @Test func conflictingQualifiersAreRejected() {
        #expect(throws: StateError.self) { try LambdaArn.parseFunctionReference("fn:live", qualifier: "2") }
        #expect(throws: StateError.self) { try LambdaArn.parseFunctionReference("a:b:c:d") }
        #expect(throws: StateError.self) { try LambdaArn.parseFunctionReference("") }
    }

    @Test func qualifiersResolveToLatestVersionOrAlias() async throws {
        try await withTemporaryStore { store, _ in
            let v1 = try await store.publishVersion(function: "fn", configuration: pythonConfiguration, code: .inline(fileName: "app.py", contents: "1")).version
            let alias = try await store.createAlias(function: "fn", name: "live", functionVersion: "1")
            #expect(try await store.resolveTarget(function: "fn", qualifier: nil) == .latest(functionName: "fn"))
            #expect(try await store.resolveTarget(function: "fn", qualifier: "$LATEST") == .latest(functionName: "fn"))
            #expect(try await store.resolveTarget(function: "fn", qualifier: "1") == .version(v1))
            #expect(try await store.resolveTarget(function: "fn", qualifier: "live") == .alias(alias))
            for (function, qualifier) in [("fn", "2"), ("fn", "beta"), ("nope", nil)] as [(String, String?)] {
                let error = await #expect(throws: StateError.self) { try await store.resolveTarget(function: function, qualifier: qualifier) }
                #expect(error?.httpStatus == 404)
                #expect(error?.message == "Function not found: " + LambdaArn().function(function, qualifier: qualifier))
            }
        }
    }
}
