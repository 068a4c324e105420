import Foundation
import Runtime
import Testing

/// The resolution cache of a store in this process, while another process (`shift serve`, through its Lambda API)
/// moves the alias in the same state directory.
@Suite(.serialized) struct StateCacheAcrossProcessesTests {
    @Test func anAliasMovedByAServeProcessIsNoLongerCachedHere() async throws {
        let folder = try ServeCommandTests.app()
        let state = folder.appendingPathComponent("state")
        let serve = try ServeProcess(["--state-dir", state.path], in: folder)
        defer { serve.stop() }
        let setup = try Python.run(Python.prelude + """
        s1, _, v1 = call("POST", "/2015-03-31/functions/echo/versions", {})
        s2, _, a = call("POST", "/2015-03-31/functions/echo/aliases", {"Name": "live", "FunctionVersion": "1"})
        print(s1, json.loads(v1)["Version"], s2)
        """, port: serve.port, in: folder)
        #expect(setup == "201 1 201\n")

        // An hour's lifetime: only the generation file written by the other process can drop the answer.
        let store = try await StateStore.open(directory: state, options: .init(resolutionCacheLifetime: .seconds(3600)))
        defer { try? store.close() }
        guard case .alias(let before) = try await store.resolveTarget(function: "echo", qualifier: "live") else {
            Issue.record("echo:live did not resolve to an alias")
            return
        }
        #expect(before.functionVersion == "1")
        #expect(store.cachedTarget(function: "echo", qualifier: "live") == .alias(before))

        let moved = try Python.run(Python.prelude + """
        s, _, b = call("PUT", "/2015-03-31/functions/echo/aliases/live", {"FunctionVersion": "$LATEST"})
        print(s, json.loads(b)["FunctionVersion"])
        """, port: serve.port, in: folder)
        #expect(moved == "200 $LATEST\n")
        #expect(store.cachedTarget(function: "echo", qualifier: "live") == nil, "the answer from before the other process's update is gone")
        guard case .alias(let after) = try await store.resolveTarget(function: "echo", qualifier: "live") else {
            Issue.record("echo:live did not resolve to an alias")
            return
        }
        #expect(after.functionVersion == "$LATEST")
        #expect(store.cachedTarget(function: "echo", qualifier: "live") == .alias(after))
    }
}
