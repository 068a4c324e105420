import Foundation
import Testing
@testable import Runtime

@Suite struct PythonRuntimeTests {
    @Test func echoesEventAndContext() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["app.py": """
            import os, time
            def handler(event, context):
                print("hello from python")
                return {"event": event, "name": context.function_name, "version": context.function_version,
                        "memory": context.memory_limit_in_mb, "id": context.aws_request_id,
                        "arn": context.invoked_function_arn, "group": context.log_group_name,
                        "stream": context.log_stream_name, "remaining": context.get_remaining_time_in_millis(),
                        "tz": os.environ.get("TZ"), "tmp": os.environ.get("TMPDIR"), "cwd": os.getcwd(),
                        "home": os.environ.get("HOME"), "region": os.environ.get("AWS_REGION")}
            """])
        let config = FunctionConfiguration(functionName: "echo", version: "3", runtime: "python3.11", handler: "app.handler", codeDirectory: code, timeout: 5)
        try await withLocalRuntime(options: testOptions()) { runtime in
            let result = try await runtime.invoke(config, payload: bytes(#"{"a":1}"#), requestId: "req-1")
            #expect(result.functionError == nil, "\(result.text)\n\(result.log)")
            let body = result.json
            #expect((body["event"] as? [String: Any])?["a"] as? Int == 1)
            #expect(body["name"] as? String == "echo")
            #expect(body["version"] as? String == "3")
            #expect(body["memory"] as? String == "128")
            #expect(body["id"] as? String == "req-1")
            #expect(body["arn"] as? String == "arn:aws:lambda:us-east-1:123456789012:function:echo:3")
            #expect(body["group"] as? String == "/aws/lambda/echo")
            #expect(body["stream"] as? String == result.logStreamName)
            #expect(result.logStreamName.hasSuffix("/[3]\(result.environmentId)"))
            let remaining = body["remaining"] as? Int ?? 0
            #expect(remaining > 3000 && remaining <= 5000)
            #expect(body["tz"] as? String == ":UTC")
            #expect(body["home"] is NSNull)
            #expect(body["cwd"] as? String == code)
            #expect((body["tmp"] as? String)?.contains("shift-runtime-") == true)
            #expect(result.isColdStart)
            #expect(result.log.contains("START RequestId: req-1 Version: 3\nhello from python\nEND RequestId: req-1\nREPORT RequestId: req-1\tDuration: "))
            #expect(result.log.contains("\tInit Duration: "))
            #expect(result.log.contains("\tMemory Size: 128 MB\tMax Memory Used: "))
            #expect(result.maxMemoryUsedMB > 1)
            let tail = String(decoding: Data(base64Encoded: result.logTailBase64) ?? Data(), as: UTF8.self)
            #expect(tail == result.log)
        }
    }
}

extension PythonRuntimeTests {
    @Test func warmEnvironmentIsReusedAndKeepsModuleState() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["app.py": """
            count = 0
            def handler(event, context):
                global count
                count += 1
                return count
            """])
        let config = FunctionConfiguration(functionName: "counter", runtime: "python3.11", handler: "app.handler", codeDirectory: code)
        try await withLocalRuntime(options: testOptions()) { runtime in
            let first = try await runtime.invoke(config, payload: bytes("{}"))
            let second = try await runtime.invoke(config, payload: bytes("{}"))
            let third = try await runtime.invoke(config, payload: bytes("{}"))
            #expect([first.text, second.text, third.text] == ["1", "2", "3"])
            #expect(first.isColdStart && !second.isColdStart && !third.isColdStart)
            #expect(second.environmentId == first.environmentId && third.environmentId == first.environmentId)
            #expect(!second.log.contains("Init Duration"))
        }
    }

    @Test func versionsGetTheirOwnEnvironments() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["app.py": "def handler(e, c):\n    return c.function_version\n"])
        let v1 = FunctionConfiguration(functionName: "versioned", version: "1", runtime: "python3.11", handler: "app.handler", codeDirectory: code)
        var v2 = v1
        v2.version = "2"
        try await withLocalRuntime(options: testOptions()) { runtime in
            let a = try await runtime.invoke(v1, payload: bytes("{}"))
            let b = try await runtime.invoke(v2, payload: bytes("{}"))
            #expect(a.text == "\"1\"" && b.text == "\"2\"")
            #expect(a.environmentId != b.environmentId)
            #expect(b.log.contains("START RequestId: \(b.requestId) Version: 2"))
        }
    }

    @Test func handlerExceptionBecomesUnhandledError() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["pkg/mod.py": "def handler(e, c):\n    raise ValueError('bad input')\n"])
        let config = FunctionConfiguration(functionName: "raiser", runtime: "python3.11", handler: "pkg/mod.handler", codeDirectory: code)
        try await withLocalRuntime(options: testOptions()) { runtime in
            let result = try await runtime.invoke(config, payload: bytes("{}"))
            #expect(result.functionError == "Unhandled")
            #expect(result.errorType == "ValueError")
            #expect(result.json["errorMessage"] as? String == "bad input")
            #expect((result.json["stackTrace"] as? [String])?.isEmpty == false)
            #expect(result.log.contains("[ERROR] ValueError: bad input"))
            // The environment survives a handled exception.
            let again = try await runtime.invoke(config, payload: bytes("{}"))
            #expect(again.environmentId == result.environmentId)
        }
    }

    @Test func layersAreMergedInOrder() async throws {
        let fixtures = try FixtureFolder()
        let first = try fixtures.write("layer1", ["python/helper.py": "WHO = 'first'\n", "python/only_first.py": "X = 1\n"])
        let second = try fixtures.write("layer2", ["python/helper.py": "WHO = 'second'\n"])
        let code = try fixtures.write("fn", ["app.py": "import helper, only_first\ndef handler(e, c):\n    return [helper.WHO, only_first.X]\n"])
        let config = FunctionConfiguration(functionName: "layered", runtime: "python3.11", handler: "app.handler", codeDirectory: code, layers: [first, second])
        try await withLocalRuntime(options: testOptions()) { runtime in
            let result = try await runtime.invoke(config, payload: bytes("{}"))
            #expect(result.text == #"["second", 1]"#, "\(result.log)")
        }
    }

    @Test func interpreterVersionMismatchIsAWarning() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["app.py": "def handler(e, c):\n    return 1\n"])
        let config = FunctionConfiguration(functionName: "old", runtime: "python3.7", handler: "app.handler", codeDirectory: code)
        try await withLocalRuntime(options: testOptions()) { runtime in
            let warnings = try await runtime.prepare(config)
            #expect(warnings.count == 1)
            #expect(warnings.first?.contains("python3.7") == true)
            let result = try await runtime.invoke(config, payload: bytes("{}"))
            #expect(result.text == "1")
            #expect(result.warnings == warnings)
        }
    }
}
