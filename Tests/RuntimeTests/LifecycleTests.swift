import Foundation
import Synchronization
import Testing
@testable import Runtime

@Suite struct LifecycleTests {
    @Test func parallelInvocationsUseSeveralEnvironments() async throws {
        let fixtures = try FixtureFolder()
        let barrier = try fixtures.write("barrier", [:])
        // Each handler checks in, then waits until all four are in: only concurrent environments get there.
        let code = try fixtures.write("fn", ["app.py": """
            import os, time
            def handler(e, c):
                open(os.path.join(e, c.aws_request_id), "w").close()
                deadline = time.time() + 10
                while len(os.listdir(e)) < 4 and time.time() < deadline:
                    time.sleep(0.01)
                return [os.getpid(), len(os.listdir(e))]
            """])
        let config = FunctionConfiguration(functionName: "parallel", runtime: "python3.11", handler: "app.handler", codeDirectory: code, timeout: 15)
        try await withLocalRuntime(options: testOptions()) { runtime in
            let results = try await withThrowingTaskGroup(of: InvocationResult.self) { group in
                for _ in 0..<4 { group.addTask { try await runtime.invoke(config, payload: bytes("\"\(barrier)\"")) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.allSatisfy { $0.text.hasSuffix(", 4]") }, "\(results.map(\.text))")
            #expect(Set(results.map(\.environmentId)).count == 4)
            #expect(Set(results.map(\.text)).count == 4)
            #expect(await runtime.environmentStatuses().count == 4)
        }
    }

    @Test func reservedConcurrencyThrottles() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["app.py": "import time\ndef handler(e, c):\n    time.sleep(e)\n    return 'ok'\n"])
        let config = FunctionConfiguration(functionName: "reserved", runtime: "python3.11", handler: "app.handler", codeDirectory: code)
        var zero = config
        zero.functionName = "zero"
        try await withLocalRuntime(options: testOptions()) { runtime in
            try await runtime.setReservedConcurrency(["reserved": 1, "zero": 0])
            async let slow = runtime.invoke(config, payload: bytes("1"))
            try await waitUntilBusy(runtime)
            #expect(await runtime.concurrentExecutions(of: "reserved") == 1)
            let error = await #expect(throws: RuntimeError.self) { try await runtime.invoke(config, payload: bytes("0")) }
            #expect(error?.code == .tooManyRequests)
            #expect(error?.awsErrorType == "TooManyRequestsException")
            #expect(error?.message.hasPrefix("Rate Exceeded.") == true)
            #expect(error?.throttleReason == .reservedFunctionConcurrentInvocationLimitExceeded)
            #expect(try await slow.text == "\"ok\"")
            let after = try await runtime.invoke(config, payload: bytes("0"))
            #expect(after.text == "\"ok\"")
            let none = await #expect(throws: RuntimeError.self) { try await runtime.invoke(zero, payload: bytes("0")) }
            #expect(none?.throttleReason == .reservedFunctionConcurrentInvocationLimitExceeded)
            // Deleting the reservation lets the function share the unreserved pool again.
            try await runtime.setReservedConcurrency(nil, for: "zero")
            #expect(try await runtime.invoke(zero, payload: bytes("0")).text == "\"ok\"")
        }
    }

    @Test func overallConcurrencyThrottles() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["app.py": "import time\ndef handler(e, c):\n    time.sleep(e)\n    return 'ok'\n"])
        let a = FunctionConfiguration(functionName: "a", runtime: "python3.11", handler: "app.handler", codeDirectory: code)
        var b = a
        b.functionName = "b"
        try await withLocalRuntime(options: testOptions { $0.maximumConcurrency = 1 }) { runtime in
            async let slow = runtime.invoke(a, payload: bytes("1"))
            try await waitUntilBusy(runtime)
            let error = await #expect(throws: RuntimeError.self) { try await runtime.invoke(b, payload: bytes("0")) }
            #expect(error?.code == .tooManyRequests)
            #expect(error?.throttleReason == .concurrentInvocationLimitExceeded)
            #expect(try await slow.text == "\"ok\"")
            // With one environment allowed, b replaces a's idle one.
            let other = try await runtime.invoke(b, payload: bytes("0"))
            #expect(other.text == "\"ok\"")
            #expect(await runtime.environmentStatuses().map(\.functionName) == ["b"])
        }
    }

    @Test func shutdownLeavesNoProcesses() async throws {
        let fixtures = try FixtureFolder()
        // The shell runtime starts a grandchild that ignores SIGTERM; the process group must still go.
        let code = try fixtures.write("fn", ["bootstrap": "#!/bin/sh\n(trap '' TERM; sleep 60) &\necho $! > \"$TMPDIR/child\"\n" + curlBootstrap.split(separator: "\n").dropFirst().joined(separator: "\n")], executable: ["bootstrap"])
        let layer = try fixtures.write("layer", ["bin/layer-tool": "#!/bin/sh\necho x\n"], executable: ["bin/layer-tool"])
        let shell = FunctionConfiguration(functionName: "shell", runtime: "provided.al2023", codeDirectory: code, layers: [layer])
        let pyCode = try fixtures.write("py", ["app.py": "def handler(e, c):\n    return 1\n"])
        let python = FunctionConfiguration(functionName: "py", runtime: "python3.11", handler: "app.handler", codeDirectory: pyCode)
        let runtime = try LocalRuntime(options: testOptions())
        _ = try await runtime.invoke(shell, payload: bytes("{}"))
        _ = try await runtime.invoke(python, payload: bytes("{}"))
        let statuses = await runtime.environmentStatuses()
        #expect(statuses.count == 2)
        let shellStatus = try #require(statuses.first { $0.functionName == "shell" })
        let tmp = try FileManager.default.contentsOfDirectory(atPath: FileManager.default.temporaryDirectory.path)
            .filter { $0.hasPrefix("shift-runtime-\(getpid())-") }
        #expect(!tmp.isEmpty)
        // The grandchild's pid, read from the environment's TMPDIR.
        let envTmp = try #require(tmp.lazy.map { FileManager.default.temporaryDirectory.path + "/" + $0 + "/env-\(shellStatus.environmentId)/tmp/child" }.first { FileManager.default.fileExists(atPath: $0) })
        let grandchild = Int32(try String(contentsOfFile: envTmp, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(grandchild > 0 && processExists(grandchild))
        await runtime.shutdown()
        for status in statuses { #expect(!processExists(status.pid), "pid \(status.pid) of \(status.functionName) survived shutdown") }
        #expect(!processExists(grandchild))
        #expect(!FileManager.default.fileExists(atPath: envTmp))
        await #expect(throws: RuntimeError.self) { try await runtime.invoke(python, payload: bytes("{}")) }
    }

    @Test func idleEnvironmentsAreShutDown() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["app.py": "def handler(e, c):\n    return 1\n"])
        let config = FunctionConfiguration(functionName: "idle", runtime: "python3.11", handler: "app.handler", codeDirectory: code)
        try await withLocalRuntime(options: testOptions { $0.idleTimeout = .milliseconds(300) }) { runtime in
            let first = try await runtime.invoke(config, payload: bytes("{}"))
            let pid = try #require(await runtime.environmentStatuses().first?.pid)
            let warm = try await runtime.invoke(config, payload: bytes("{}"))
            #expect(warm.environmentId == first.environmentId)
            // The idle environment is shut down once idle for 300 ms: wait for that, bounded.
            try await waitUntil(.seconds(10)) { !processExists(pid) }
            #expect(!processExists(pid))
            let cold = try await runtime.invoke(config, payload: bytes("{}"))
            #expect(cold.isColdStart)
            #expect(cold.environmentId != first.environmentId)
        }
    }

    @Test func logLinesAreStreamed() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["app.py": "print('init line')\ndef handler(e, c):\n    print('one')\n    print('two')\n    return 1\n"])
        let config = FunctionConfiguration(functionName: "logger", runtime: "python3.11", handler: "app.handler", codeDirectory: code)
        let lines = Mutex<[LogEvent]>([])
        let options = testOptions { $0.logHandler = { event in lines.withLock { $0.append(event) } } }
        let result = try await withLocalRuntime(options: options) { runtime in
            try await runtime.invoke(config, payload: bytes("{}"), requestId: "log-1")
        }
        let messages = lines.withLock { $0.map(\.message) }
        #expect(messages.prefix(5) == ["init line", "START RequestId: log-1 Version: $LATEST", "one", "two", "END RequestId: log-1"])
        #expect(messages.count == 6 && messages[5].hasPrefix("REPORT RequestId: log-1\tDuration: "))
        #expect(lines.withLock { $0.allSatisfy { $0.logStreamName == result.logStreamName && $0.logGroupName == "/aws/lambda/logger" } })
        #expect(result.log == messages.joined(separator: "\n") + "\n")
    }

    @Test func reportLineFormat() {
        #expect(EnvironmentBroker.milliseconds(.microseconds(12_345)) == "12.35")
        #expect(EnvironmentBroker.milliseconds(.microseconds(48_260)) == "48.26")
        #expect(EnvironmentBroker.milliseconds(.microseconds(1_005)) == "1.01")
        #expect(EnvironmentBroker.billedMilliseconds(.microseconds(12_340)) == 13)
        #expect(EnvironmentBroker.billedMilliseconds(.microseconds(200)) == 1)
        #expect(EnvironmentBroker.billedMilliseconds(.milliseconds(3)) == 3)
    }
}

extension LifecycleTests {
    @Test func hugeOutputIsCutInTheInvocationLogOnly() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["app.py": "import sys\ndef handler(e, c):\n    for i in range(30000):\n        sys.stdout.write('line %d %s\\n' % (i, 'x' * 60))\n    return 'ok'\n"])
        let config = FunctionConfiguration(functionName: "chatty", runtime: "python3.11", handler: "app.handler", codeDirectory: code, timeout: 20)
        let count = Mutex(0)
        let options = testOptions { $0.logHandler = { event in if event.message.hasPrefix("line ") { count.withLock { $0 += 1 } } } }
        try await withLocalRuntime(options: options) { runtime in
            let result = try await runtime.invoke(config, payload: bytes("{}"))
            #expect(result.text == "\"ok\"")
            #expect(result.log.utf8.count < 1_100_000)
            #expect(result.log.contains("[shift: this invocation's log is cut"))
            #expect(result.log.contains("END RequestId: \(result.requestId)\nREPORT RequestId: "))
        }
        #expect(count.withLock { $0 } == 30000)
    }
}

extension LifecycleTests {
    @Test func changedLatestConfigurationGetsAFreshEnvironment() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["app.py": "import os\ndef handler(e, c):\n    return os.environ.get('GREETING')\n"])
        var config = FunctionConfiguration(functionName: "mutable", runtime: "python3.11", handler: "app.handler", codeDirectory: code, environment: ["GREETING": "hello"])
        try await withLocalRuntime(options: testOptions()) { runtime in
            let first = try await runtime.invoke(config, payload: bytes("{}"))
            #expect(first.text == "\"hello\"")
            config.environment["GREETING"] = "bonjour"
            let second = try await runtime.invoke(config, payload: bytes("{}"))
            #expect(second.text == "\"bonjour\"")
            #expect(second.environmentId != first.environmentId)
            await runtime.shutdownEnvironments(of: "mutable")
            #expect(await runtime.environmentStatuses().isEmpty)
            let third = try await runtime.invoke(config, payload: bytes("{}"))
            #expect(third.isColdStart)
        }
    }
}

extension LifecycleTests {
    @Test func droppedRuntimeKillsItsProcesses() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["app.py": "def handler(e, c):\n    return 1\n"])
        let config = FunctionConfiguration(functionName: "dropped", runtime: "python3.11", handler: "app.handler", codeDirectory: code)
        var runtime: LocalRuntime? = try LocalRuntime(options: testOptions())
        _ = try await runtime?.invoke(config, payload: bytes("{}"))
        #expect(await runtime?.concurrentExecutions() == 0)
        let pid = try #require(await runtime?.environmentStatuses().first?.pid)
        runtime = nil
        try await waitUntil(.seconds(5)) { !processExists(pid) }
        #expect(!processExists(pid))
    }
}
