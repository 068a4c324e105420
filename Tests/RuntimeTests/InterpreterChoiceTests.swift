import Foundation
import Logging
import Synchronization
import Testing
@testable import Runtime

/// Keeps the messages of warnings logged through it.
final class WarningRecorder: LogHandler, Sendable {
    private let recorded = Mutex<[String]>([])
    var messages: [String] { recorded.withLock { $0 } }

    var logLevel: Logger.Level {
        get { .warning }
        set {}
    }
    var metadata: Logger.Metadata {
        get { [:] }
        set {}
    }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }

    func log(event: Logging.LogEvent) {
        if event.level == .warning { recorded.withLock { $0.append("\(event.message)") } }
    }
}

/// `SHIFT_<RUNTIME>` picks the interpreter of one runtime; a differing version is a warning naming it, once.
@Suite struct InterpreterChoiceTests {
    @Test(arguments: [("python3.12", "SHIFT_PYTHON3_12"), ("nodejs20.x", "SHIFT_NODEJS20_X"), ("python3.9", "SHIFT_PYTHON3_9")])
    func theVariableIsNamedForTheRuntime(_ runtime: String, _ variable: String) {
        #expect(InterpreterResolver.overrideVariable(for: runtime) == variable)
    }

    @Test func theVariableChoosesTheInterpreterThatRunsTheFunction() async throws {
        let fixtures = try FixtureFolder()
        // A virtual environment's interpreter keeps its own path as sys.executable, so the function can tell.
        let venv = "\(fixtures.path)/venv"
        let create = try await ProcessSpawner.run(
            executable: try await resolvedPython(), arguments: ["-m", "venv", "--without-pip", venv], environment: ProcessInfo.processInfo.environment)
        #expect(create.status.exitCode == 0, "\(create.output)")
        let code = try fixtures.write("fn", ["app.py": "import sys\ndef handler(e, c):\n    return sys.executable\n"])
        let chosen = FunctionConfiguration(functionName: "chosen", runtime: "python3.12", handler: "app.handler", codeDirectory: code)
        var other = chosen
        other.functionName = "other"
        other.runtime = "python3.11"
        try await withLocalRuntime(options: testOptions { $0.callerEnvironment = ["SHIFT_PYTHON3_12": "\(venv)/bin/python3"] }) { runtime in
            let result = try await runtime.invoke(chosen, payload: bytes("{}"))
            #expect(result.text == "\"\(venv)/bin/python3\"", "\(result.log)")
            let unaffected = try await runtime.invoke(other, payload: bytes("{}"))
            #expect(unaffected.functionError == nil && !unaffected.text.contains(venv), "\(unaffected.text)")
        }
    }

    @Test(arguments: [
        ("/nonexistent/python3.12", "there is no such file"),
        ("notes.txt", "was not found on PATH"),
        ("<fixtures>/notes.txt", "not executable (chmod +x it)"),
        ("<fixtures>", "a folder"),
    ])
    func anUnusableInterpreterIsAnErrorNamingTheVariable(_ value: String, _ problem: String) async throws {
        let fixtures = try FixtureFolder()
        try fixtures.write(".", ["notes.txt": "not an interpreter"])
        let code = try fixtures.write("fn", ["app.py": "def handler(e, c):\n    return 1\n"])
        let chosen = value.replacingOccurrences(of: "<fixtures>", with: fixtures.path)
        let config = FunctionConfiguration(functionName: "picky", runtime: "python3.12", handler: "app.handler", codeDirectory: code)
        try await withLocalRuntime(options: testOptions { $0.callerEnvironment = ["SHIFT_PYTHON3_12": chosen] }) { runtime in
            let error = await #expect(throws: RuntimeError.self) { try await runtime.invoke(config, payload: bytes("{}")) }
            #expect(error?.code == .interpreterNotFound)
            let message = error?.message ?? ""
            #expect(message.hasPrefix("SHIFT_PYTHON3_12=\(chosen): "), "\(message)")
            #expect(message.contains(problem), "\(message)")
            #expect(message.contains("Set it to the path of a python3.12 interpreter, or unset it"), "\(message)")
        }
    }

    @Test func aDifferentVersionIsLoggedOncePerFunctionNotPerVersionOrEnvironment() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["app.py": "def handler(e, c):\n    return 1\n"])
        let recorder = WarningRecorder()
        let latest = FunctionConfiguration(functionName: "old", runtime: "python3.7", handler: "app.handler", codeDirectory: code)
        var v1 = latest, v2 = latest, sibling = latest
        v1.version = "1"
        v2.version = "2"
        sibling.functionName = "also-old"
        try await withLocalRuntime(options: testOptions { $0.logger = Logger(label: "test") { _ in recorder } }) { runtime in
            for config in [latest, v1, v2, latest, sibling] {
                let result = try await runtime.invoke(config, payload: bytes("{}"))
                #expect(result.text == "1")
            }
            await runtime.shutdownEnvironments(of: "old")
            _ = try await runtime.invoke(v1, payload: bytes("{}"))
        }
        let messages = recorder.messages
        #expect(messages.count == 2, "\(messages)")
        #expect(messages.first?.hasPrefix("old declares python3.7 but the local interpreter ") == true, "\(messages)")
        #expect(messages.first?.hasSuffix("running it anyway. To run Python 3.7, set SHIFT_PYTHON3_7 to its path.") == true, "\(messages)")
        #expect(messages.last?.hasPrefix("also-old declares python3.7") == true, "\(messages)")
    }
}
