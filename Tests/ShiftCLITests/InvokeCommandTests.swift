import Foundation
import Testing

@Suite("shift invoke, run as a process")
struct InvokeCommandTests {
    /// A template with a python and a node function in a fresh folder.
    static func app() throws -> URL {
        let folder = try CLI.temporaryDirectory()
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("py"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("js"), withIntermediateDirectories: true)
        try """
        import os, time, pathlib
        def ok(event, context):
            return {"echo": event, "greeting": os.environ.get("GREETING"), "name": context.function_name}
        def fail(event, context):
            raise KeyError("missing thing")
        def slow(event, context):
            pathlib.Path(os.environ["MARKER"]).write_text(str(os.getpid()))
            time.sleep(30)
        """.write(to: folder.appendingPathComponent("py/app.py"), atomically: true, encoding: .utf8)
        try """
        exports.handler = async (event, context) => ({ sum: (event.a || 0) + (event.b || 0), fn: context.functionName });
        """.write(to: folder.appendingPathComponent("js/index.js"), atomically: true, encoding: .utf8)
        try """
        Transform: AWS::Serverless-2016-10-31
        Globals:
          Function:
            Environment:
              Variables:
                GREETING: hi
                MARKER: \(folder.path)/marker
        Resources:
          Ok:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: py, Handler: app.ok, Runtime: python3.12}
          Fail:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: py, Handler: app.fail, Runtime: python3.12}
          Slow:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: py, Handler: app.slow, Runtime: python3.12, Timeout: 60}
          Adder:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: js, Handler: index.handler, Runtime: nodejs20.x, FunctionName: adder}
          Inline:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: index.handler
              InlineCode: |
                def handler(event, context):
                    return "inline:" + str(event.get("n"))
        """.write(to: folder.appendingPathComponent("template.yaml"), atomically: true, encoding: .utf8)
        return folder
    }

    /// Pids of live processes whose command line mentions `text`.
    static func processes(mentioning text: String) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.filter { Int($0) != nil }.filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: data, as: UTF8.self).contains(text)
        }
    }

    @Test func pythonResultOnStdoutLogOnStderr() throws {
        let app = try Self.app()
        let result = try CLI.run(["invoke", "Ok", "--event", "-"], in: app, stdin: Data(#"{"x": 1}"#.utf8))
        #expect(result.status == 0, "\(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect((object?["echo"] as? [String: Int]) == ["x": 1])
        #expect(object?["greeting"] as? String == "hi")
        #expect(object?["name"] as? String == "Ok")
        #expect(result.stderr.contains("START RequestId: "))
        #expect(result.stderr.contains("Version: $LATEST"))
        #expect(result.stderr.contains("REPORT RequestId: ") && result.stderr.contains("Init Duration: "))
    }

    @Test func nodeByFunctionNameWithAnEventFile() throws {
        let app = try Self.app()
        let event = app.appendingPathComponent("event.json")
        try #"{"a": 2, "b": 3}"#.write(to: event, atomically: true, encoding: .utf8)
        let result = try CLI.run(["invoke", "adder", "--template", app.appendingPathComponent("template.yaml").path, "--event", event.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains(#""sum":5"#))
        #expect(result.stdout.contains(#""fn":"adder""#))
    }

    @Test func inlineCodeRuns() throws {
        let app = try Self.app()
        let result = try CLI.run(["invoke", "Inline", "--event", "-"], in: app, stdin: Data(#"{"n": 7}"#.utf8))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("inline:7"))
    }

    @Test func functionErrorExitsTwoWithTheErrorJSON() throws {
        let app = try Self.app()
        let result = try CLI.run(["invoke", "Fail"], in: app)
        #expect(result.status == 2)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect(object?["errorType"] as? String == "KeyError")
        #expect((object?["errorMessage"] as? String)?.contains("missing thing") == true)
        #expect(object?["stackTrace"] != nil)
    }

    @Test func envVarsFileOverridesVariables() throws {
        let app = try Self.app()
        let overrides = app.appendingPathComponent("env.json")
        try #"{"Ok": {"GREETING": "hello from file"}}"#.write(to: overrides, atomically: true, encoding: .utf8)
        let result = try CLI.run(["invoke", "Ok", "--env-vars", overrides.path], in: app)
        #expect(result.stdout.contains("hello from file"), "\(result.stderr)")
    }

    @Test func otherErrorsExitOneWithAClearMessage() throws {
        let app = try Self.app()
        let unknown = try CLI.run(["invoke", "Nope"], in: app)
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("no function 'Nope'") && unknown.stderr.contains("Ok, Fail"))
        let badEvent = try CLI.run(["invoke", "Ok", "--event", "-"], in: app, stdin: Data("{not json".utf8))
        #expect(badEvent.status == 1)
        #expect(badEvent.stderr.contains("not valid JSON"))
        let noTemplate = try CLI.run(["invoke", "Ok"], in: try CLI.temporaryDirectory())
        #expect(noTemplate.status == 1)
        #expect(noTemplate.stderr.contains("template.yaml"))
    }

    @Test func theInterpreterVariableComesFromTheEnvironment() throws {
        let app = try Self.app()
        let missing = try CLI.run(["invoke", "Ok"], in: app, environment: ["SHIFT_PYTHON3_12": "/nonexistent/python3.12"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("SHIFT_PYTHON3_12=/nonexistent/python3.12: there is no such file."), "\(missing.stderr)")
        // Another runtime's variable leaves this one alone.
        let other = try CLI.run(["invoke", "adder"], in: app, environment: ["SHIFT_PYTHON3_12": "/nonexistent/python3.12"])
        #expect(other.status == 0, "\(other.stderr)")
    }

    @Test func noProcessIsLeftBehindEvenOnCtrlC() throws {
        let app = try Self.app()
        _ = try CLI.run(["invoke", "Ok"], in: app)
        #expect(Self.processes(mentioning: app.path).isEmpty)

        let process = Process()
        process.executableURL = CLI.binary
        process.arguments = ["invoke", "Slow"]
        process.currentDirectoryURL = app
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        try process.run()
        let marker = app.appendingPathComponent("marker")
        CLI.waitUntil(timeout: 20) { FileManager.default.fileExists(atPath: marker.path) }
        let handlerPid = try #require(try? String(contentsOf: marker, encoding: .utf8))
        kill(process.processIdentifier, SIGINT)
        #expect(finished.wait(timeout: .now() + 10) == .success)
        #expect(process.terminationStatus == 128 + SIGINT)
        // The function process is reaped right after shift exits: wait for that, bounded.
        CLI.waitUntil(timeout: 10) { !FileManager.default.fileExists(atPath: "/proc/\(handlerPid)") }
        #expect(!FileManager.default.fileExists(atPath: "/proc/\(handlerPid)"), "the function process \(handlerPid) survived")
        #expect(Self.processes(mentioning: app.path).isEmpty)
    }
}
