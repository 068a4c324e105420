import Foundation
import Testing

/// A small app with releases of one python function (three, plus any given), an error-rate alarm on the new version
/// (or, with `aliasWideAlarm`, on the whole alias), and a helper to read `--output json` events.
struct DeployFixture {
    let folder: URL
    var template: String { folder.appendingPathComponent("template.yaml").path }
    var state: String { folder.appendingPathComponent("state").path }
    var traffic: String { folder.appendingPathComponent("traffic.jsonl").path }

    init(hooks: String = "", extraResources: String = "", treatMissingData: String = "notBreaching", templateAlarm: Bool = true,
         releases extraReleases: [String: String] = [:], aliasWideAlarm: Bool = false, threshold: Int = 10, events: Int = 20) throws {
        folder = try CLI.temporaryDirectory()
        let releases = extraReleases.merging([
            "good1": "def handler(event, context):\n    return {'release': 1}\n",
            "good2": "def handler(event, context):\n    return {'release': 2}\n",
            "faulty": "calls = 0\ndef handler(event, context):\n    global calls\n    calls += 1\n    if calls % 2 == 0:\n        raise ValueError('release 3 is broken')\n    return {'release': 3}\n",
        ]) { given, _ in given }
        // The new version's dimension, or none: the alias's calls of every version together.
        let versionDimension = aliasWideAlarm ? "" : "\n                - {Name: ExecutedVersion, Value: !GetAtt Fn.Version.Version}"
        for (name, code) in releases {
            try FileManager.default.createDirectory(at: folder.appendingPathComponent(name), withIntermediateDirectories: true)
            try code.write(to: folder.appendingPathComponent("\(name)/app.py"), atomically: true, encoding: .utf8)
        }
        try (1...events).map { "{\"n\": \($0)}" }.joined(separator: "\n").write(toFile: folder.appendingPathComponent("traffic.jsonl").path, atomically: true, encoding: .utf8)
        try """
        Transform: AWS::Serverless-2016-10-31
        Parameters:
          Code: {Type: String, Default: good1}
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: !Ref Code
              Handler: app.handler
              Runtime: python3.12
              AutoPublishAlias: live
              DeploymentPreference:
                Type: Canary10Percent5Minutes
                Alarms: \(templateAlarm ? "[!Ref ErrorRate]" : "[]")
        \(hooks)
          ErrorRate:
            Type: AWS::CloudWatch::Alarm
            Properties:
              ComparisonOperator: GreaterThanThreshold
              EvaluationPeriods: 1
              Threshold: \(threshold)
              TreatMissingData: \(treatMissingData)
              Metrics:
                - Id: rate
                  Expression: errors / invocations * 100
                - Id: errors
                  ReturnData: false
                  MetricStat:
                    Metric:
                      Namespace: AWS/Lambda
                      MetricName: Errors
                      Dimensions:
                        - {Name: Resource, Value: !Sub "${Fn}:live"}\(versionDimension)
                    Period: 60
                    Stat: Sum
                - Id: invocations
                  ReturnData: false
                  MetricStat:
                    Metric:
                      Namespace: AWS/Lambda
                      MetricName: Invocations
                      Dimensions:
                        - {Name: Resource, Value: !Sub "${Fn}:live"}\(versionDimension)
                    Period: 60
                    Stat: Sum
        \(extraResources)
        """.write(toFile: template, atomically: true, encoding: .utf8)
    }

    /// `shift deploy` with the given release, as JSON events; not judged unless asked (these apps serve too few
    /// calls for a verdict, and the tests are about alarms, hooks and timing).
    func deploy(_ code: String, _ extra: [String] = [], judged: Bool = false, environment: [String: String] = [:]) throws
        -> (status: Int32, events: [[String: Any]], stderr: String) {
        let result = try CLI.run(["deploy", template, "--state-dir", state, "--output", "json", "--parameter-overrides", "Code=\(code)"]
                                 + (judged ? [] : ["--no-judge"]) + extra, environment: environment)
        return (result.status, Self.events(result.stdout), result.stderr)
    }

    static func events(_ text: String) -> [[String: Any]] {
        text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func status() throws -> [String: Any] {
        let result = try CLI.run(["status", "--state-dir", state, "--output", "json"])
        return (try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]) ?? [:]
    }

    /// The alias `live` of `Fn` as `shift status` reports it.
    func alias() throws -> [String: Any]? {
        let functions = try status()["functions"] as? [[String: Any]] ?? []
        return (functions.first { $0["FunctionName"] as? String == "Fn" }?["Aliases"] as? [[String: Any]])?.first
    }

    /// Starts `shift deploy` of `code` in the background (real time) and waits until traffic starts to shift.
    func startDeployAndWaitForShift(_ code: String) throws -> (process: Process, log: URL, finished: DispatchSemaphore) {
        let log = folder.appendingPathComponent("deploy-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = Process()
        process.executableURL = CLI.binary
        process.arguments = ["deploy", template, "--state-dir", state, "--output", "json", "--parameter-overrides", "Code=\(code)", "--time-scale", "1", "--no-judge"]
        process.standardOutput = try FileHandle(forWritingTo: log)
        process.standardError = FileHandle.nullDevice
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        try process.run()
        CLI.waitUntil(timeout: 30) { ((try? String(contentsOf: log, encoding: .utf8)) ?? "").contains("traffic.shifted") }
        return (process, log, finished)
    }

    /// Fast schedule time, and no judgement: these tests are about alarms, hooks and timing, with few calls.
    static let fast = ["--time-scale", "600", "--no-judge"]
}

@Suite("shift deploy, run as a process", .serialized)
struct DeployCommandTests {
    @Test func firstDeploymentCreatesTheAliasWithoutAShift() throws {
        let app = try DeployFixture()
        let run = try app.deploy("good1")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.events.contains { $0["event"] as? String == "version.published" && $0["version"] as? String == "1" })
        #expect(run.events.contains { $0["event"] as? String == "alias.created" })
        #expect(!run.events.contains { $0["event"] as? String == "traffic.shifted" })
        #expect(try app.alias()?["FunctionVersion"] as? String == "1")
        let again = try app.deploy("good1")
        #expect(again.status == 0)
        #expect(again.events.contains { $0["event"] as? String == "deployment.unchanged" })
    }

    @Test func invokingAFunctionDoesNotMakeTheNextDeploymentPublish() throws {
        let app = try DeployFixture()
        #expect(try app.deploy("good1").status == 0)
        let invoked = try CLI.run(["invoke", "Fn", "--template", app.template, "--state-dir", app.state, "--parameter-overrides", "Code=good1"])
        #expect(invoked.status == 0, "\(invoked.stderr)")
        #expect(invoked.stdout.contains("\"release\": 1"), "\(invoked.stdout)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: app.folder.appendingPathComponent("good1").path) == ["app.py"])
        let again = try app.deploy("good1")
        #expect(again.status == 0, "\(again.stderr)")
        let names = again.events.compactMap { $0["event"] as? String }
        #expect(names.contains("version.unchanged") && names.contains("deployment.unchanged"), "\(names)")
        #expect(!names.contains("version.published") && !names.contains("deployment.started"), "\(names)")
    }

    @Test func theStateDirectoryInsideTheCodeFolderIsNoChangeForTheDryRun() throws {
        // No CodeUri: the template's folder is the code, and `.shift` (with its bytecode cache) lies inside it.
        let folder = try CLI.temporaryDirectory()
        try "def handler(event, context):\n    return 'ok'\n".write(to: folder.appendingPathComponent("app.py"), atomically: true, encoding: .utf8)
        try """
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties: {Handler: app.handler, Runtime: python3.12, AutoPublishAlias: live}
        """.write(to: folder.appendingPathComponent("template.yaml"), atomically: true, encoding: .utf8)
        #expect(try CLI.run(["deploy", "template.yaml"], in: folder).status == 0)
        #expect(try CLI.run(["invoke", "Fn"], in: folder).status == 0)
        let dryRun = try CLI.run(["deploy", "template.yaml", "--dry-run", "--output", "json"], in: folder)
        let plan = DeployFixture.events(dryRun.stdout).first { $0["event"] as? String == "plan.function" }
        #expect(plan?["publishes"] as? Bool == false, "\(dryRun.stdout) \(dryRun.stderr)")
        #expect(plan?["changes"] as? [String] == [], "\(dryRun.stdout)")
    }

    @Test func healthyVersionShiftsStepByStepAndSucceeds() throws {
        let app = try DeployFixture()
        #expect(try app.deploy("good1").status == 0)
        let run = try app.deploy("good2", DeployFixture.fast + ["--traffic", app.traffic, "--rate", "100"])
        #expect(run.status == 0, "\(run.stderr) \(run.events)")
        let shifts = run.events.filter { $0["event"] as? String == "traffic.shifted" }.compactMap { $0["weights"] as? [String: Double] }
        #expect(shifts == [["1": 0.9, "2": 0.1], ["2": 1]])
        // Both versions run; a local interpreter other than python3.12 is still reported once.
        #expect(run.stderr.components(separatedBy: "Fn declares python3.12").count <= 2, "\(run.stderr)")
        #expect(run.events.last { $0["event"] as? String == "deployment.succeeded" } != nil)
        let alias = try #require(try app.alias())
        #expect(alias["FunctionVersion"] as? String == "2")
        let routing = (alias["RoutingConfig"] as? [String: Any])?["AdditionalVersionWeights"] as? [String: Double]
        #expect(routing?.isEmpty ?? true)
        let deployments = try app.status()["deployments"] as? [[String: Any]] ?? []
        #expect(deployments.first?["Status"] as? String == "Succeeded")
        #expect(deployments.first?["CurrentVersion"] as? String == "1" && deployments.first?["TargetVersion"] as? String == "2")
    }

    @Test func trafficFromAFolderOfEventsRunsThroughTheAlias() throws {
        let app = try DeployFixture()
        let events = app.folder.appendingPathComponent("events")
        try FileManager.default.createDirectory(at: events, withIntermediateDirectories: true)
        for index in 1...3 { try "{\"n\": \(index)}".write(to: events.appendingPathComponent("\(index).json"), atomically: true, encoding: .utf8) }
        #expect(try app.deploy("good1").status == 0)
        let run = try app.deploy("good2", ["--time-scale", "120", "--traffic", events.path, "--rate", "50"])
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try #require(run.events.first { $0["event"] as? String == "deployment.summary" })
        let versions = summary["versions"] as? [String: [String: Int]] ?? [:]
        #expect((versions["1"]?["invocations"] ?? 0) + (versions["2"]?["invocations"] ?? 0) > 0, "\(versions)")
        let broken = app.folder.appendingPathComponent("broken.jsonl")
        try "{\"ok\": 1}\nnot json\n".write(to: broken, atomically: true, encoding: .utf8)
        let bad = try CLI.run(["deploy", app.template, "--state-dir", app.state, "--traffic", broken.path])
        #expect(bad.status == 1 && bad.stderr.contains("broken.jsonl:2"), "\(bad.stderr)")
    }

    /// After a rolled-back release, deploying the old code again is nothing to do: the alias already serves it,
    /// though the latest version is the rolled-back one (AWS would publish a third version; a canary of identical
    /// code would only wait for nothing).
    @Test func redeployingTheCodeTheAliasServesIsNothingToDo() throws {
        let app = try DeployFixture()
        #expect(try app.deploy("good1").status == 0)
        #expect(try app.deploy("faulty", ["--time-scale", "60", "--traffic", app.traffic, "--rate", "60"]).status == 3)
        let again = try app.deploy("good1", DeployFixture.fast)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.events.contains { $0["event"] as? String == "version.unchanged" && $0["version"] as? String == "1" })
        #expect(again.events.contains { $0["event"] as? String == "deployment.unchanged" })
        #expect(!again.events.contains { $0["event"] as? String == "version.published" || $0["event"] as? String == "deployment.started" })
    }

    @Test func faultyVersionIsRolledBackDuringTheCanary() throws {
        let app = try DeployFixture()
        #expect(try app.deploy("good1").status == 0)
        let run = try app.deploy("faulty", ["--time-scale", "60", "--traffic", app.traffic, "--rate", "60"])
        #expect(run.status == 3, "\(run.stderr)")
        let alarm = run.events.first { $0["event"] as? String == "alarm.changed" && $0["state"] as? String == "ALARM" }
        #expect(alarm?["alarm"] as? String == "ErrorRate")
        let rolledBack = try #require(run.events.first { $0["event"] as? String == "deployment.rolledBack" })
        #expect((rolledBack["reason"] as? String)?.contains("ErrorRate") == true)
        // Never past the canary step, then all traffic back on version 1.
        let shifts = run.events.filter { $0["event"] as? String == "traffic.shifted" }.compactMap { $0["weights"] as? [String: Double] }
        #expect(shifts == [["1": 0.9, "2": 0.1]])
        let alias = try #require(try app.alias())
        #expect(alias["FunctionVersion"] as? String == "1")
        let summary = try #require(run.events.first { $0["event"] as? String == "deployment.summary" })
        let versions = summary["versions"] as? [String: [String: Int]]
        #expect((versions?["2"]?["errors"] ?? 0) > 0)
        #expect(versions?["1"]?["errors"] == 0)
        #expect((try app.status()["deployments"] as? [[String: Any]])?.first?["Status"] as? String == "Failed")
        let finished = try #require(run.events.last)
        #expect(finished["event"] as? String == "run.finished" && finished["status"] as? String == "Failed" && finished["exitCode"] as? Int == 3)
        let function = (finished["functions"] as? [[String: Any]])?.first
        #expect(function?["status"] as? String == "Failed" && function?["version"] as? String == "1", "\(finished)")
    }

    @Test func errorRateFlagRollsBackWithoutATemplateAlarm() throws {
        let app = try DeployFixture(templateAlarm: false)
        #expect(try app.deploy("good1").status == 0)
        let run = try app.deploy("faulty", ["--strategy", "Linear10PercentEvery1Minute", "--time-scale", "60", "--traffic", app.traffic,
                                            "--rate", "60", "--alarm-error-rate", "20%"])
        #expect(run.status == 3)
        #expect(run.events.contains { $0["event"] as? String == "alarm.changed" && ($0["alarm"] as? String)?.hasPrefix("--alarm-error-rate") == true && $0["state"] as? String == "ALARM" })
        #expect(try app.alias()?["FunctionVersion"] as? String == "1")
    }

    @Test func alarmAlreadyInAlarmFailsBeforeAnyShift() throws {
        let app = try DeployFixture(treatMissingData: "breaching")
        #expect(try app.deploy("good1").status == 0)
        let run = try app.deploy("good2", DeployFixture.fast)
        #expect(run.status == 3)
        #expect(!run.events.contains { $0["event"] as? String == "traffic.shifted" })
        #expect(!run.events.contains { $0["event"] as? String == "hook.started" })
        let failed = run.events.first { $0["event"] as? String == "deployment.failed" }
        #expect((failed?["reason"] as? String)?.contains("ErrorRate") == true)
        #expect(try app.alias()?["FunctionVersion"] as? String == "1")
    }

    @Test func dryRunChangesNothing() throws {
        let app = try DeployFixture()
        let before = try CLI.run(["deploy", app.template, "--state-dir", app.state, "--dry-run", "--output", "json"])
        #expect(before.status == 0)
        #expect(!FileManager.default.fileExists(atPath: app.state), "a dry run must not create the state directory")
        #expect(try app.deploy("good1").status == 0)
        let status = try app.status()
        let plan = try app.deploy("good2", ["--dry-run"])
        #expect(plan.status == 0)
        let function = try #require(plan.events.first { $0["event"] as? String == "plan.function" })
        #expect(function["currentVersion"] as? String == "1")
        #expect(function["newVersion"] as? String == "2")
        #expect(function["publishes"] as? Bool == true)
        #expect((function["changes"] as? [String])?.first?.hasPrefix("code") == true)
        #expect((function["schedule"] as? [[String: Any]])?.count == 2)
        #expect(function["alarms"] as? [String] == ["ErrorRate"])
        #expect(NSDictionary(dictionary: try app.status()).isEqual(to: status), "the dry run changed the state")
    }

    @Test func killedMidShiftLeavesARecordAndRecovers() throws {
        let app = try DeployFixture()
        #expect(try app.deploy("good1").status == 0)
        let (process, _, finished) = try app.startDeployAndWaitForShift("good2")
        kill(process.processIdentifier, SIGKILL)
        finished.wait()
        let stuck = try #require((try app.status()["deployments"] as? [[String: Any]])?.first)
        #expect(stuck["Status"] as? String == "InProgress")
        let weights = (try app.alias()?["RoutingConfig"] as? [String: Any])?["AdditionalVersionWeights"] as? [String: Double]
        #expect(weights == ["2": 0.1])
        let rollback = try CLI.run(["rollback", "Fn", "--template", app.template, "--state-dir", app.state])
        #expect(rollback.status == 0, "\(rollback.stderr)")
        let alias = try #require(try app.alias())
        #expect(alias["FunctionVersion"] as? String == "1")
        let routing = (alias["RoutingConfig"] as? [String: Any])?["AdditionalVersionWeights"] as? [String: Double]
        #expect(routing?.isEmpty ?? true)
        let recovered = try #require((try app.status()["deployments"] as? [[String: Any]])?.first { $0["DeploymentId"] as? String == stuck["DeploymentId"] as? String })
        #expect(recovered["Status"] as? String == "Stopped")
        #expect((recovered["Reason"] as? String)?.contains("put back on version 1") == true)
        // Deploying again works from the consistent state.
        #expect(try app.deploy("good2", DeployFixture.fast).status == 0)
        #expect(try app.alias()?["FunctionVersion"] as? String == "2")
    }

    @Test func badInputIsAClearError() throws {
        let app = try DeployFixture()
        let strategy = try CLI.run(["deploy", app.template, "--state-dir", app.state, "--strategy", "Canary200Percent5Minutes"])
        #expect(strategy.status != 0 && strategy.stderr.contains("Canary200Percent5Minutes"))
        let function = try CLI.run(["deploy", app.template, "--state-dir", app.state, "--function", "Nope"])
        #expect(function.status == 1 && function.stderr.contains("--function Nope"))
        let traffic = try CLI.run(["deploy", app.template, "--state-dir", app.state, "--traffic", "/no/such.jsonl"])
        #expect(traffic.status == 1 && traffic.stderr.contains("/no/such.jsonl"))
        let scale = try CLI.run(["deploy", app.template, "--time-scale", "0"])
        #expect(scale.status != 0 && scale.stderr.contains("--time-scale"))
    }
}

@Suite("shift deploy interrupted")
struct DeployInterruptTests {
    @Test func ctrlCRollsBackAndStops() throws {
        let app = try DeployFixture()
        #expect(try app.deploy("good1").status == 0)
        let (process, log, finished) = try app.startDeployAndWaitForShift("good2")
        kill(process.processIdentifier, SIGINT)
        #expect(finished.wait(timeout: .now() + 15) == .success)
        #expect(process.terminationStatus == 3)
        let events = DeployFixture.events((try? String(contentsOf: log, encoding: .utf8)) ?? "")
        #expect(events.contains { $0["event"] as? String == "deployment.rolledBack" })
        #expect(events.contains { $0["event"] as? String == "deployment.stopped" })
        #expect(try app.alias()?["FunctionVersion"] as? String == "1")
        #expect((try app.status()["deployments"] as? [[String: Any]])?.first?["Status"] as? String == "Stopped")
        let stopped = events.first { $0["event"] as? String == "deployment.stopped" }
        #expect((stopped?["reason"] as? String)?.hasPrefix("stopped: interrupted (Ctrl-C);") == true, "\(String(describing: stopped))")
        let last = events.last
        #expect(last?["event"] as? String == "run.finished" && last?["status"] as? String == "Stopped" && last?["exitCode"] as? Int == 3)
    }
}
