import Foundation
import Testing
@testable import Runtime

@Suite struct FaultTests {
    @Test func timeoutDiscardsTheEnvironment() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["app.py": "import time\ndef handler(e, c):\n    print('sleeping')\n    time.sleep(e)\n    return 'done'\n"])
        let config = FunctionConfiguration(functionName: "sleepy", runtime: "python3.11", handler: "app.handler", codeDirectory: code, timeout: 1)
        try await withLocalRuntime(options: testOptions()) { runtime in
            let started = ContinuousClock.now
            let result = try await runtime.invoke(config, payload: bytes("30"))
            // The handler sleeps 30 s: ending well before that proves the timeout cut it (bounds are loose on purpose:
            // these machines are shared, and how late a timer fires is not what is tested).
            #expect(ContinuousClock.now - started < .seconds(20))
            #expect(result.duration >= .seconds(1) && result.duration < .seconds(10))
            #expect(result.functionError == "Unhandled")
            #expect(result.errorType == "Sandbox.Timedout")
            #expect(result.json["errorMessage"] as? String == "RequestId: \(result.requestId) Error: Task timed out after 1.00 seconds")
            #expect(result.log.contains("sleeping\n"))
            #expect(result.log.contains(" \(result.requestId) Task timed out after 1.00 seconds\nEND RequestId: \(result.requestId)\nREPORT"))
            let next = try await runtime.invoke(config, payload: bytes("0"))
            #expect(next.text == "\"done\"")
            #expect(next.environmentId != result.environmentId)
            #expect(next.isColdStart)
        }
    }

    @Test func processExitMidInvocation() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["app.py": "import os\ndef handler(e, c):\n    if e == 'die':\n        os._exit(1)\n    return 'alive'\n"])
        let config = FunctionConfiguration(functionName: "crasher", runtime: "python3.11", handler: "app.handler", codeDirectory: code)
        try await withLocalRuntime(options: testOptions()) { runtime in
            let crashed = try await runtime.invoke(config, payload: bytes("\"die\""))
            #expect(crashed.errorType == "Runtime.ExitError")
            #expect(crashed.json["errorMessage"] as? String == "RequestId: \(crashed.requestId) Error: Runtime exited with error: exit status 1")
            let next = try await runtime.invoke(config, payload: bytes("\"ok\""))
            #expect(next.text == "\"alive\"")
            #expect(next.environmentId != crashed.environmentId)
        }
    }

    @Test func nodeProcessKilledBySignal() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["index.js": "exports.handler = async () => { process.kill(process.pid, 'SIGKILL'); };"])
        let config = FunctionConfiguration(functionName: "killer", runtime: "nodejs20.x", handler: "index.handler", codeDirectory: code)
        try await withLocalRuntime(options: testOptions()) { runtime in
            let result = try await runtime.invoke(config, payload: bytes("{}"))
            #expect(result.errorType == "Runtime.ExitError")
            #expect((result.json["errorMessage"] as? String)?.hasSuffix("Runtime exited with error: signal: killed") == true)
        }
    }

    @Test(arguments: [
        ("import missing_module\ndef handler(e, c):\n    return 1\n", "Runtime.ImportModuleError", "No module named 'missing_module'"),
        ("raise RuntimeError('init exploded')\ndef handler(e, c):\n    return 1\n", "RuntimeError", "init exploded"),
        ("def other(e, c):\n    return 1\n", "Runtime.HandlerNotFound", "Handler 'handler' missing"),
    ])
    func pythonInitFailures(source: String, functionType: String, message: String) async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["app.py": source])
        let config = FunctionConfiguration(functionName: "badinit", runtime: "python3.11", handler: "app.handler", codeDirectory: code)
        try await withLocalRuntime(options: testOptions()) { runtime in
            let result = try await runtime.invoke(config, payload: bytes("{}"))
            #expect(result.functionError == "Unhandled")
            #expect(result.errorType == "Runtime.InitError")
            #expect(result.json["errorType"] as? String == functionType)
            #expect((result.json["errorMessage"] as? String)?.contains(message) == true, "\(result.text)")
            #expect(result.log.contains("INIT_REPORT"))
            #expect(await runtime.environmentStatuses().isEmpty)
        }
    }

    @Test func exitBeforeNextIsAnInitError() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["bootstrap": "#!/bin/sh\necho 'cannot start: missing config' >&2\nexit 2\n"], executable: ["bootstrap"])
        let config = FunctionConfiguration(functionName: "quitter", runtime: "provided.al2023", codeDirectory: code)
        try await withLocalRuntime(options: testOptions()) { runtime in
            let result = try await runtime.invoke(config, payload: bytes("{}"))
            #expect(result.errorType == "Runtime.InitError")
            let message = result.json["errorMessage"] as? String ?? ""
            #expect(message.hasPrefix("RequestId: \(result.requestId) Error: Runtime exited with error: exit status 2"))
            #expect(message.contains("cannot start: missing config"))
            #expect(result.log.contains("cannot start: missing config\n"))
        }
    }

    @Test func hangingInitTimesOut() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["bootstrap": "#!/bin/sh\nsleep 30\n"], executable: ["bootstrap"])
        let config = FunctionConfiguration(functionName: "hanger", runtime: "provided.al2023", codeDirectory: code)
        try await withLocalRuntime(options: testOptions { $0.initTimeout = .milliseconds(500) }) { runtime in
            let started = ContinuousClock.now
            let result = try await runtime.invoke(config, payload: bytes("{}"))
            // The bootstrap sleeps 30 s; a hung init must be cut long before that.
            #expect(ContinuousClock.now - started < .seconds(20))
            #expect(result.errorType == "Sandbox.Timedout")
        }
    }

    @Test func responseOver6MBIsRejected() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["app.py": "def handler(e, c):\n    return 'x' * (e or 0)\n"])
        let config = FunctionConfiguration(functionName: "big", runtime: "python3.11", handler: "app.handler", codeDirectory: code)
        try await withLocalRuntime(options: testOptions()) { runtime in
            let result = try await runtime.invoke(config, payload: bytes("6291600"))
            #expect(result.errorType == "Function.ResponseSizeTooLarge")
            #expect(result.functionError == "Unhandled")
            // Just under the limit works (6291556 bytes including the JSON quotes).
            let fits = try await runtime.invoke(config, payload: bytes("6291554"))
            #expect(fits.payload.count == 6_291_556)
            #expect(fits.functionError == nil)
        }
    }

    @Test func requestOver6MBThrows() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["app.py": "def handler(e, c):\n    return 1\n"])
        let config = FunctionConfiguration(functionName: "req", runtime: "python3.11", handler: "app.handler", codeDirectory: code)
        try await withLocalRuntime(options: testOptions()) { runtime in
            let error = await #expect(throws: RuntimeError.self) {
                try await runtime.invoke(config, payload: [UInt8](repeating: 0x20, count: 6_291_457))
            }
            #expect(error?.code == .requestTooLarge)
            #expect(error?.awsErrorType == "RequestEntityTooLargeException")
            #expect(error?.httpStatus == 413)
        }
    }

    @Test func environmentOver4KBThrows() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["app.py": "def handler(e, c):\n    return 1\n"])
        let config = FunctionConfiguration(
            functionName: "fat-env", runtime: "python3.11", handler: "app.handler", codeDirectory: code,
            environment: ["BIG": String(repeating: "v", count: 4100)])
        try await withLocalRuntime(options: testOptions()) { runtime in
            let error = await #expect(throws: RuntimeError.self) { try await runtime.invoke(config, payload: bytes("{}")) }
            #expect(error?.code == .invalidConfiguration)
            #expect(error?.message.contains("exceeded the 4KB limit") == true)
            #expect(error?.message.contains("fat-env") == true)
        }
    }

    @Test func memoryOverMemorySizeIsKilled() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["app.py": "import time\ndef handler(e, c):\n    block = b'x' * (e * 1024 * 1024)\n    time.sleep(0.2)\n    return len(block)\n"])
        let config = FunctionConfiguration(functionName: "hog", runtime: "python3.11", handler: "app.handler", codeDirectory: code, memorySize: 128)
        try await withLocalRuntime(options: testOptions()) { runtime in
            let small = try await runtime.invoke(config, payload: bytes("10"))
            #expect(small.functionError == nil)
            let result = try await runtime.invoke(config, payload: bytes("200"))
            #expect(result.errorType == "Runtime.OutOfMemory", "\(result.text)")
            #expect(result.maxMemoryUsedMB > 128)
            #expect(result.log.contains("Max Memory Used: \(result.maxMemoryUsedMB) MB"))
            let after = try await runtime.invoke(config, payload: bytes("1"))
            #expect(after.functionError == nil)
            #expect(after.environmentId != result.environmentId)
        }
    }
}
