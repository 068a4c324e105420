import Foundation
import Testing

/// No process a function starts outlives `shift`, however `shift` ends: each test kills `serve` or
/// `deploy` while a function spins at 100 % CPU after starting a child, a child in its own session
/// and a double-forked daemon, and expects every one of them gone within 3 s.
@Suite("function processes die with shift", .serialized)
struct ProcessLifetimeTests {
    /// A handler that starts three helpers carrying `marker` on their command line, then replaces the
    /// runtime process itself with an endless loop under the same marker.
    static func spinner(_ marker: String) -> String {
        """
        import os, subprocess, sys
        def handler(event, context):
            sleeper = [sys.executable, "-c", "import time\\nwhile True: time.sleep(1)", "\(marker)"]
            subprocess.Popen(sleeper)
            subprocess.Popen(sleeper, start_new_session=True)
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    os.execv(sys.executable, sleeper)
                os._exit(0)
            os.execv(sys.executable, [sys.executable, "-c", "while True: pass", "\(marker)"])
        """
    }

    /// Processes whose command line carries `marker`.
    static func marked(_ marker: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                  String(decoding: data, as: UTF8.self).contains(marker),
                  let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return false }
            return !status.contains("State:\tZ")
        }
    }

    /// Waits until the four marked processes run, sends `signal` to `victim`, and expects every marked
    /// process gone 3 s later (killing leftovers so that a failure does not leave spinners behind).
    static func expectAllGone(after signal: Int32, of victim: Process, marker: String) {
        #expect(CLI.waitUntil(timeout: 60) { marked(marker).count >= 4 }, "the function did not start its processes")
        kill(victim.processIdentifier, signal)
        let gone = CLI.waitUntil(timeout: 3) { marked(marker).isEmpty }
        let left = marked(marker)
        for pid in left { kill(pid, SIGKILL) }
        #expect(gone, "still alive 3 s after \(signal == SIGKILL ? "SIGKILL" : "SIGTERM"): \(left)")
        victim.waitUntilExit()
    }

    static func serveApp(_ marker: String) throws -> URL {
        let folder = try CLI.temporaryDirectory()
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("py"), withIntermediateDirectories: true)
        try spinner(marker).write(to: folder.appendingPathComponent("py/app.py"), atomically: true, encoding: .utf8)
        try """
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Spinner:
            Type: AWS::Serverless::Function
            Properties: {Runtime: python3.12, CodeUri: py, Handler: app.handler, Timeout: 600}
        """.write(to: folder.appendingPathComponent("template.yaml"), atomically: true, encoding: .utf8)
        return folder
    }

    @Test(arguments: [SIGKILL, SIGTERM])
    func serveTakesEveryFunctionProcessWithIt(signal: Int32) throws {
        let marker = "shift-lifetime-\(UUID().uuidString)"
        let folder = try Self.serveApp(marker)
        let serve = try ServeProcess([], in: folder)
        let caller = Process()
        caller.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        caller.arguments = ["python3", "-c", "import urllib.request; urllib.request.urlopen(urllib.request.Request('\(serve.url)/2015-03-31/functions/Spinner/invocations', data=b'{}'))"]
        caller.standardError = FileHandle.nullDevice
        try caller.run()
        defer { caller.terminate() }
        Self.expectAllGone(after: signal, of: serve.process, marker: marker)
    }

    @Test(arguments: [SIGKILL, SIGTERM])
    func deployTakesEveryHookProcessWithIt(signal: Int32) throws {
        let marker = "shift-lifetime-\(UUID().uuidString)"
        let app = try HookCode.fixture(pre: Self.spinner(marker))
        #expect(try app.deploy("good1").status == 0)
        let deploy = Process()
        deploy.executableURL = CLI.binary
        deploy.arguments = ["deploy", app.template, "--state-dir", app.state, "--output", "json", "--parameter-overrides", "Code=good2"] + DeployFixture.fast
        deploy.standardOutput = FileHandle.nullDevice
        deploy.standardError = FileHandle.nullDevice
        try deploy.run()
        Self.expectAllGone(after: signal, of: deploy, marker: marker)
    }
}
