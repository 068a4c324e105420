import Foundation
import Testing
@testable import Runtime

@Suite struct NodeRuntimeTests {
    @Test func asyncHandlerSeesContext() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["src/index.js": """
            let count = 0;
            exports.handler = async (event, context) => {
              count += 1;
              console.log("hello from node");
              return { event, count, name: context.functionName, version: context.functionVersion,
                       memory: context.memoryLimitInMB, id: context.awsRequestId, arn: context.invokedFunctionArn,
                       remaining: context.getRemainingTimeInMillis(), tz: process.env.TZ,
                       extraCA: process.env.NODE_EXTRA_CA_CERTS ?? null };
            };
            """])
        let config = FunctionConfiguration(functionName: "nodey", runtime: "nodejs20.x", handler: "src/index.handler", codeDirectory: code)
        try await withLocalRuntime(options: testOptions()) { runtime in
            let result = try await runtime.invoke(config, payload: bytes(#"{"b":2}"#), requestId: "node-1")
            #expect(result.functionError == nil, "\(result.text)\n\(result.log)")
            let body = result.json
            #expect((body["event"] as? [String: Any])?["b"] as? Int == 2)
            #expect(body["name"] as? String == "nodey")
            #expect(body["version"] as? String == "$LATEST")
            #expect(body["memory"] as? String == "128")
            #expect(body["id"] as? String == "node-1")
            #expect(body["arn"] as? String == "arn:aws:lambda:us-east-1:123456789012:function:nodey")
            #expect((body["remaining"] as? Int ?? 0) > 2000)
            #expect(body["tz"] as? String == ":UTC")
            #expect(body["extraCA"] is NSNull)
            #expect(result.log.contains("\tnode-1\tINFO\thello from node\n"))
            let again = try await runtime.invoke(config, payload: bytes("{}"))
            #expect(again.json["count"] as? Int == 2)
            #expect(again.environmentId == result.environmentId)
        }
    }

    @Test func callbackStyleAndErrors() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", [
            "cb.js": "exports.handler = (event, context, callback) => { setTimeout(() => callback(null, {ok: event.n + 1}), 5); };",
            "fail.js": "exports.handler = async () => { throw new TypeError('nope'); };",
            "esm.mjs": "export const handler = async (event) => ({ esm: true });",
        ])
        let cb = FunctionConfiguration(functionName: "cb", runtime: "nodejs20.x", handler: "cb.handler", codeDirectory: code)
        let fail = FunctionConfiguration(functionName: "fail", runtime: "nodejs20.x", handler: "fail.handler", codeDirectory: code)
        let esm = FunctionConfiguration(functionName: "esm", runtime: "nodejs20.x", handler: "esm.handler", codeDirectory: code)
        try await withLocalRuntime(options: testOptions()) { runtime in
            async let a = runtime.invoke(cb, payload: bytes(#"{"n":41}"#))
            async let b = runtime.invoke(fail, payload: bytes("{}"))
            async let c = runtime.invoke(esm, payload: bytes("{}"))
            let (ra, rb, rc) = try await (a, b, c)
            #expect(ra.text == #"{"ok":42}"#)
            #expect(rb.functionError == "Unhandled")
            #expect(rb.errorType == "TypeError")
            #expect(rb.json["errorMessage"] as? String == "nope")
            #expect(rc.text == #"{"esm":true}"#)
        }
    }

    @Test func nodeLayer() async throws {
        let fixtures = try FixtureFolder()
        let layer = try fixtures.write("layer", ["nodejs/node_modules/greet/index.js": "module.exports = (n) => `hi ${n}`;"])
        let code = try fixtures.write("fn", ["index.js": "const greet = require('greet'); exports.handler = async (e) => greet(e.name);"])
        let config = FunctionConfiguration(functionName: "greeter", runtime: "nodejs20.x", handler: "index.handler", codeDirectory: code, layers: [layer])
        try await withLocalRuntime(options: testOptions()) { runtime in
            let result = try await runtime.invoke(config, payload: bytes(#"{"name":"ann"}"#))
            #expect(result.text == "\"hi ann\"", "\(result.log)")
        }
    }
}

extension NodeRuntimeTests {
    @Test func largeEventsRoundTrip() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["index.js": "exports.handler = async (event) => ({ size: event.length, echo: event });"])
        let config = FunctionConfiguration(functionName: "bignode", runtime: "nodejs20.x", handler: "index.handler", codeDirectory: code, timeout: 30)
        let big = String(repeating: "abcdefgh", count: 400_000)
        try await withLocalRuntime(options: testOptions()) { runtime in
            for _ in 0..<2 {
                let result = try await runtime.invoke(config, payload: bytes("\"\(big)\""))
                #expect(result.json["size"] as? Int == big.utf8.count, "\(result.text.prefix(300)) \(result.log.prefix(1000))")
                #expect(result.json["echo"] as? String == big)
            }
        }
    }
}
