import Foundation
import Testing

extension DeployFixture {
    /// Starts `shift deploy` of `code` in the background and waits until `event` (a JSON event name) is printed.
    func startDeploy(_ code: String, _ extra: [String], waitingFor predicate: @escaping ([String: Any]) -> Bool)
        throws -> (process: Process, log: URL, finished: DispatchSemaphore) {
        let log = folder.appendingPathComponent("deploy-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = Process()
        process.executableURL = CLI.binary
        process.arguments = ["deploy", template, "--state-dir", state, "--output", "json", "--parameter-overrides", "Code=\(code)", "--no-judge"] + extra
        process.standardOutput = try FileHandle(forWritingTo: log)
        process.standardError = FileHandle.nullDevice
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        try process.run()
        CLI.waitUntil(timeout: 60) { Self.events((try? String(contentsOf: log, encoding: .utf8)) ?? "").contains(where: predicate) }
        return (process, log, finished)
    }

    static func named(_ name: String) -> ([String: Any]) -> Bool { { $0["event"] as? String == name } }

    /// An instant of the JSON events (`time`, ISO 8601 on the state directory's time base) in ms.
    static func milliseconds(_ event: [String: Any]?) -> Double? {
        guard let text = event?["time"] as? String else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let date = formatter.date(from: text) ?? ISO8601DateFormatter().date(from: text)
        return date.map { $0.timeIntervalSince1970 * 1000 }
    }
}

@Suite("shift deploy on the deployment engine, run as processes", .serialized)
struct DeployEngineEndToEndTests {
    /// The bug of the issue: a faulty release rolled back at 60x, then a good one deployed at once.
    /// Each process used to start its own scaled clock at the wall time, so the second run read the
    /// first run's errors as current and rolled the good release back.
    @Test func aGoodReleaseRightAfterARolledBackOneSucceeds() throws {
        let app = try DeployFixture()
        #expect(try app.deploy("good1").status == 0)
        let bad = try app.deploy("faulty", ["--time-scale", "60", "--traffic", app.traffic, "--rate", "40"])
        #expect(bad.status == 3, "\(bad.stderr)")
        #expect(bad.events.contains(where: DeployFixture.named("deployment.rolledBack")))
        let good = try app.deploy("good2", ["--time-scale", "60", "--traffic", app.traffic, "--rate", "40"])
        #expect(good.status == 0, "\(good.events.filter { ($0["event"] as? String)?.hasPrefix("deployment") == true })")
        #expect(good.events.contains(where: DeployFixture.named("deployment.succeeded")))
        // The summary counts this deployment's traffic alone: the faulty version 2 served none of it.
        let summary = try #require(good.events.first(where: DeployFixture.named("deployment.summary")))
        let versions = summary["versions"] as? [String: [String: Int]]
        #expect(versions?["3"]?["errors"] == 0)
        #expect(versions?["2"] == nil && versions?["1"] != nil)
        #expect(try app.alias()?["FunctionVersion"] as? String == "3")
        // Times never run backwards across the three processes.
        let first = DeployFixture.milliseconds(bad.events.last), second = DeployFixture.milliseconds(good.events.first)
        #expect(first != nil && second != nil && second! >= first!)
    }

    @Test func aKilledDeploymentIsResumedWithoutRestartingItsSchedule() throws {
        let app = try DeployFixture()
        #expect(try app.deploy("good1").status == 0)
        let (process, log, finished) = try app.startDeploy("good2", ["--time-scale", "60"], waitingFor: DeployFixture.named("traffic.shifted"))
        kill(process.processIdentifier, SIGKILL)
        finished.wait()
        let firstRun = DeployFixture.events((try? String(contentsOf: log, encoding: .utf8)) ?? "")
        let started = try #require(firstRun.first(where: DeployFixture.named("deployment.started")))
        let resumed = try app.deploy("good2", ["--time-scale", "60"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let again = try #require(resumed.events.first(where: DeployFixture.named("deployment.started")))
        #expect(again["resumed"] as? Bool == true)
        #expect(again["deploymentId"] as? String == started["deploymentId"] as? String)
        #expect(!resumed.events.contains(where: DeployFixture.named("version.published")), "resuming publishes nothing new")
        let succeeded = try #require(resumed.events.first(where: DeployFixture.named("deployment.succeeded")))
        // Canary10Percent5Minutes: five minutes of schedule from the first start (plus the killed run's
        // one-checkpoint margin), not five more minutes after the resume.
        let elapsed = try #require(DeployFixture.milliseconds(succeeded)) - (try #require(DeployFixture.milliseconds(started)))
        #expect(elapsed >= 300_000 && elapsed < 330_000, "elapsed \(elapsed) ms of schedule time")
        #expect(try app.alias()?["FunctionVersion"] as? String == "2")
        let record = try #require((try app.status()["deployments"] as? [[String: Any]])?.first)
        #expect(record["Status"] as? String == "Succeeded")
    }

    @Test func aSecondDeploymentOfTheSameAliasFailsAtOnceNamingTheFirst() throws {
        let app = try DeployFixture()
        #expect(try app.deploy("good1").status == 0)
        let (process, log, finished) = try app.startDeploy("good2", ["--time-scale", "1"], waitingFor: DeployFixture.named("traffic.shifted"))
        defer {
            kill(process.processIdentifier, SIGINT)
            finished.wait()
        }
        let id = DeployFixture.events((try? String(contentsOf: log, encoding: .utf8)) ?? "")
            .first(where: DeployFixture.named("deployment.started"))?["deploymentId"] as? String
        let second = try app.deploy("good2", ["--time-scale", "1"])
        #expect(second.status == 1)
        #expect(second.stderr.contains("\(process.processIdentifier)"), "\(second.stderr)")
        #expect(id != nil && second.stderr.contains(id!), "\(second.stderr)")
    }

    @Test(.enabled(if: HookCode.python(has: "boto3"), "needs boto3 (pip install boto3)"))
    func serveAndDeployShareTheStateDirectory() throws {
        let app = try DeployFixture()
        #expect(try app.deploy("good1").status == 0)
        let serve = try ServeProcess(["--template", app.template, "--state-dir", app.state, "--time-scale", "20"], in: app.folder)
        defer { _ = serve.stop() }
        let half: ([String: Any]) -> Bool = { ($0["weights"] as? [String: Double])?["2"] == 0.5 }
        let (process, log, finished) = try app.startDeploy("good2", ["--time-scale", "20", "--strategy", "Canary50Percent5Minutes"], waitingFor: half)
        // Traffic of our own, through serve's endpoint, while the alias is split 50/50 (15 s of wall time).
        let script = """
        import boto3, collections, json, sys
        client = boto3.client("lambda", endpoint_url=sys.argv[1], region_name="us-east-1",
                              aws_access_key_id="x", aws_secret_access_key="x")
        counts = collections.Counter()
        for _ in range(120):
            counts[client.invoke(FunctionName="Fn", Qualifier="live", Payload=b"{}")["ExecutedVersion"]] += 1
        print(json.dumps(counts))
        """
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", "-c", script, serve.url]
        let output = Pipe()
        python.standardOutput = output
        try python.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        python.waitUntilExit()
        let counts = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Int])
        #expect((counts["1"] ?? 0) >= 30 && (counts["2"] ?? 0) >= 30, "ExecutedVersion counts \(counts)")
        #expect(finished.wait(timeout: .now() + 60) == .success)
        #expect(process.terminationStatus == 0)
        let events = DeployFixture.events((try? String(contentsOf: log, encoding: .utf8)) ?? "")
        // serve's invocations are in the metrics the deployment judged and summarised.
        let versions = events.first(where: DeployFixture.named("deployment.summary"))?["versions"] as? [String: [String: Int]]
        #expect((versions?["2"]?["invocations"] ?? 0) >= (counts["2"] ?? 0), "\(String(describing: versions))")
        #expect(try app.alias()?["FunctionVersion"] as? String == "2")
    }
}
