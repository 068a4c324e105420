import Foundation
import Testing
@testable import Runtime

/// An unmodified shell runtime client: loops on curl, as in the AWS custom runtime tutorial.
let curlBootstrap = """
    #!/bin/sh
    set -eu
    API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"
    while true; do
      HEADERS="$(mktemp)"
      EVENT=$(curl -sS -LD "$HEADERS" "$API/next")
      ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
      rm -f "$HEADERS"
      echo "shell got $EVENT"
      curl -sS -X POST "$API/$ID/response" -d "{\\"shell\\":$EVENT,\\"tool\\":\\"$(layer-tool)\\",\\"ld\\":\\"$LD_LIBRARY_PATH\\"}" > /dev/null
    done
    """

@Suite struct ProvidedRuntimeTests {
    @Test func curlShellBootstrapWithLayerBinaries() async throws {
        let fixtures = try FixtureFolder()
        let layer = try fixtures.write("layer", ["bin/layer-tool": "#!/bin/sh\necho from-layer\n", "lib/.keep": ""], executable: ["bin/layer-tool"])
        let code = try fixtures.write("fn", ["bootstrap": curlBootstrap], executable: ["bootstrap"])
        let config = FunctionConfiguration(functionName: "shell", runtime: "provided.al2023", codeDirectory: code, layers: [layer])
        try await withLocalRuntime(options: testOptions()) { runtime in
            let first = try await runtime.invoke(config, payload: bytes(#"{"x":1}"#))
            #expect(first.functionError == nil, "\(first.text)\n\(first.log)")
            #expect((first.json["shell"] as? [String: Any])?["x"] as? Int == 1)
            #expect(first.json["tool"] as? String == "from-layer")
            #expect((first.json["ld"] as? String)?.hasSuffix("/lib:\(code)/lib:/lib64:/usr/lib64") == true)
            #expect(first.log.contains("shell got {\"x\":1}"))
            let second = try await runtime.invoke(config, payload: bytes(#"{"x":2}"#))
            #expect((second.json["shell"] as? [String: Any])?["x"] as? Int == 2)
            #expect(second.environmentId == first.environmentId)
        }
    }

    @Test func bootstrapFromALayer() async throws {
        let fixtures = try FixtureFolder()
        let layer = try fixtures.write("layer", ["bootstrap": curlBootstrap, "bin/layer-tool": "#!/bin/sh\necho layer-runtime\n"], executable: ["bootstrap", "bin/layer-tool"])
        let code = try fixtures.write("fn", ["README": "code without a bootstrap"])
        let config = FunctionConfiguration(functionName: "layer-runtime", runtime: "provided.al2", codeDirectory: code, layers: [layer])
        try await withLocalRuntime(options: testOptions()) { runtime in
            let result = try await runtime.invoke(config, payload: bytes("7"))
            #expect(result.json["shell"] as? Int == 7, "\(result.log)")
        }
    }

    @Test func missingBootstrapIsAConfigurationError() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["README": "nothing"])
        let config = FunctionConfiguration(functionName: "nobootstrap", runtime: "provided.al2023", codeDirectory: code)
        try await withLocalRuntime(options: testOptions()) { runtime in
            let error = await #expect(throws: RuntimeError.self) { try await runtime.invoke(config, payload: bytes("{}")) }
            #expect(error?.code == .invalidConfiguration)
            #expect(error?.message.contains("bootstrap") == true)
        }
    }

    /// The official AWS Python runtime interface client, unmodified, from PyPI.
    @Test(.enabled(if: AwsLambdaRIC.folder != nil, "pip could not install awslambdaric (pip install awslambdaric==4.2.2 needs PyPI)"))
    func officialAwsLambdaRIC() async throws {
        let python = try await resolvedPython()
        let cache = try #require(AwsLambdaRIC.folder)
        try """
            count = 0
            def handler(event, context):
                global count
                count += 1
                print("ric says hi")
                return {"event": event, "count": count, "id": context.aws_request_id,
                        "remaining": context.get_remaining_time_in_millis(), "name": context.function_name}
            def fail(event, context):
                raise KeyError("missing")
            """.write(toFile: "\(cache)/ric_app.py", atomically: true, encoding: .utf8)
        try "#!/bin/sh\nexec \(python) -m awslambdaric \"$_HANDLER\"\n".write(toFile: "\(cache)/bootstrap", atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: "\(cache)/bootstrap")
        let config = FunctionConfiguration(functionName: "ric", runtime: "provided.al2023", handler: "ric_app.handler", codeDirectory: cache)
        var failing = config
        failing.functionName = "ric-fail"
        failing.handler = "ric_app.fail"
        try await withLocalRuntime(options: testOptions()) { runtime in
            let first = try await runtime.invoke(config, payload: bytes(#"{"k":"v"}"#), requestId: "ric-1")
            #expect(first.functionError == nil, "\(first.text)\n\(first.log)")
            #expect((first.json["event"] as? [String: Any])?["k"] as? String == "v")
            #expect(first.json["id"] as? String == "ric-1")
            #expect(first.json["name"] as? String == "ric")
            #expect((first.json["remaining"] as? Int ?? 0) > 1000)
            #expect(first.log.contains("ric says hi"))
            let second = try await runtime.invoke(config, payload: bytes("{}"))
            #expect(second.json["count"] as? Int == 2)
            let failed = try await runtime.invoke(failing, payload: bytes("{}"))
            #expect(failed.functionError == "Unhandled")
            #expect(failed.errorType == "KeyError", "\(failed.text)")
        }
    }
}

/// A folder holding awslambdaric (installed there once with pip, as CI pins it), or nil when pip cannot.
enum AwsLambdaRIC {
    static let folder: String? = {
        let cache = FileManager.default.temporaryDirectory.path + "/shift-test-cache/awslambdaric-fn"
        if FileManager.default.fileExists(atPath: "\(cache)/awslambdaric/__init__.py") { return cache }
        let pip = Process()
        pip.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        pip.arguments = ["python3", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target", cache, "awslambdaric==4.2.2"]
        pip.standardOutput = FileHandle.nullDevice
        pip.standardError = FileHandle.nullDevice
        guard (try? pip.run()) != nil else { return nil }
        pip.waitUntilExit()
        return pip.terminationStatus == 0 && FileManager.default.fileExists(atPath: "\(cache)/awslambdaric/__init__.py") ? cache : nil
    }()
}

extension ProvidedRuntimeTests {
    /// curl sends `Expect: 100-continue` for bodies over 1 MB and waits a second unless answered.
    @Test func largeCurlResponseGetsContinue() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["bootstrap": """
            #!/bin/sh
            set -eu
            API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"
            { printf '"'; head -c 2000000 /dev/zero | tr '\\0' a; printf '"'; } > "$TMPDIR/big.json"
            while true; do
              HEADERS="$(mktemp)"
              curl -sS -o /dev/null -D "$HEADERS" "$API/next"
              ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
              if [ -f "$TMPDIR/curl.log" ]; then
                if grep -q "HTTP/1.1 100 Continue" "$TMPDIR/curl.log"; then R='"continued"'; else R='"waited"'; fi
                rm -f "$TMPDIR/curl.log"
                curl -sS -X POST "$API/$ID/response" -d "$R" > /dev/null
              else
                curl -v -sS -X POST "$API/$ID/response" --data-binary @"$TMPDIR/big.json" > /dev/null 2> "$TMPDIR/curl.log"
              fi
            done
            """], executable: ["bootstrap"])
        let config = FunctionConfiguration(functionName: "bigcurl", runtime: "provided.al2023", codeDirectory: code)
        try await withLocalRuntime(options: testOptions()) { runtime in
            let big = try await runtime.invoke(config, payload: bytes("{}"))
            #expect(big.payload.count == 2_000_002)
            let verdict = try await runtime.invoke(config, payload: bytes("{}"))
            #expect(verdict.text == "\"continued\"", "\(verdict.log)")
        }
    }
}
