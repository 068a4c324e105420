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
        }
    }
}
