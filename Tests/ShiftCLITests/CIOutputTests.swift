import Foundation
import Testing

/// What a CI job reads: `--output json` of every command, exit statuses, and messages a person can act on.
@Suite("CI-facing output, run as processes", .serialized)
struct CIOutputTests {
    /// `2026-04-12T10:00:00.000Z`: the one timestamp format of every JSON output.
    static func isTimestamp(_ value: Any?) -> Bool {
        guard let text = value as? String else { return false }
        return text.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil
    }

    static func report(_ text: String) -> [String: Any]? {
        try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
    }

    @Test func everyDeployStreamEndsWithRunFinished() throws {
        let app = try DeployFixture()
        let first = try app.deploy("good1")
        #expect(first.status == 0, "\(first.stderr)")
        let finished = try #require(first.events.last)
        #expect(finished["event"] as? String == "run.finished")
        #expect(finished["status"] as? String == "Succeeded" && finished["exitCode"] as? Int == 0)
        let functions = finished["functions"] as? [[String: Any]] ?? []
        #expect(functions.count == 1)
        #expect(functions.first?["function"] as? String == "Fn" && functions.first?["alias"] as? String == "live")
        #expect(functions.first?["status"] as? String == "Created" && functions.first?["version"] as? String == "1")
        // A first deployment has its summary too.
        let summary = try #require(first.events.first(where: DeployFixture.named("deployment.summary")))
        #expect(summary["to"] as? String == "1" && summary["status"] as? String == "Succeeded")
        #expect(summary["from"] is NSNull && summary["deploymentId"] is NSNull)

        let unchanged = try app.deploy("good1")
        #expect(unchanged.events.last?["event"] as? String == "run.finished")
        #expect((unchanged.events.last?["functions"] as? [[String: Any]])?.first?["status"] as? String == "Unchanged")

        let plan = try app.deploy("good2", ["--dry-run"])
        #expect(plan.events.last?["event"] as? String == "run.finished" && plan.events.last?["dryRun"] as? Bool == true)
        #expect((plan.events.last?["functions"] as? [[String: Any]])?.first?["status"] as? String == "Planned")
    }

    @Test func templateAndUsageErrorsAreJSONOnStdout() throws {
        let folder = try CLI.temporaryDirectory()
        let template = folder.appendingPathComponent("template.yaml")
        try """
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: app.handler
              AutoPublishAlias: live
              Environment:
                Variables:
                  X: !Ref Nowhere
        """.write(to: template, atomically: true, encoding: .utf8)
        let deploy = try CLI.run(["deploy", template.path, "--output", "json"])
        #expect(deploy.status == 1)
        #expect(deploy.stderr.contains("(1 error above)"), "\(deploy.stderr)")
        let lines = DeployFixture.events(deploy.stdout)
        let last = try #require(lines.last)
        #expect(last["event"] as? String == "run.finished" && last["status"] as? String == "Error" && last["exitCode"] as? Int == 1)
        let error = try #require(last["error"] as? [String: Any])
        let diagnostic = try #require((error["diagnostics"] as? [[String: Any]])?.first)
        #expect(diagnostic["file"] as? String == template.path)
        #expect(diagnostic["line"] as? Int == 11 && (diagnostic["column"] as? Int ?? 0) > 1, "\(diagnostic)")
        #expect((diagnostic["message"] as? String)?.contains("Nowhere") == true)

        let usage = try CLI.run(["deploy", template.path, "--output", "json", "--time-scale", "0"])
        #expect(usage.status == 1)
        let usageLine = try #require(DeployFixture.events(usage.stdout).last)
        #expect(usageLine["event"] as? String == "run.finished" && usageLine["exitCode"] as? Int == 1)
        #expect(((usageLine["error"] as? [String: Any])?["message"] as? String)?.contains("--time-scale") == true)
        #expect(usage.stderr.contains("--time-scale"))

        let validate = try CLI.run(["validate", folder.appendingPathComponent("missing.yaml").path, "--output", "json"])
        #expect(validate.status == 1)
        let report = try #require(Self.report(validate.stdout), "\(validate.stdout)")
        #expect(((report["error"] as? [String: Any])?["message"] as? String)?.contains("no such file") == true)
        let invalid = try CLI.run(["validate", template.path])
        #expect(invalid.stderr.contains("invalid, 1 error\n"), "\(invalid.stderr)")

        let unknownOption = try CLI.run(["status", "--output", "json", "--no-such-option"])
        #expect(unknownOption.status == 1)
        #expect(Self.report(unknownOption.stdout)?["exitCode"] as? Int == 1, "\(unknownOption.stdout)")
    }

    @Test func versionAndDefaultTemplateYml() throws {
        let version = try CLI.run(["--version"])
        #expect(version.status == 0)
        #expect(version.stdout.wholeMatch(of: /\d+\.\d+\.\d+\n/) != nil, "\(version.stdout)")

        let app = try DeployFixture()
        let folder = app.folder
        try FileManager.default.moveItem(atPath: app.template, toPath: folder.appendingPathComponent("template.yml").path)
        let validate = try CLI.run(["validate"], in: folder)
        #expect(validate.status == 0, "\(validate.stderr)")
        #expect(validate.stdout.contains("template.yml: valid, 1 function, 0 layers, 1 alarm"), "\(validate.stdout)")
        let deploy = try CLI.run(["deploy", "--output", "json"], in: folder)
        #expect(deploy.status == 0, "\(deploy.stderr)")
        #expect(DeployFixture.events(deploy.stdout).contains(where: DeployFixture.named("alias.created")))
        let status = try CLI.run(["status"], in: folder)
        #expect(status.stdout.contains("alias live → version 1"), "\(status.stdout) \(status.stderr)")
    }

    @Test func metricsAndLogsOfAnUnknownFunctionFail() throws {
        let app = try DeployFixture()
        #expect(try app.deploy("good1").status == 0)
        for command in ["metrics", "logs"] {
            let unknown = try CLI.run([command, "Fm", "--template", app.template, "--state-dir", app.state])
            #expect(unknown.status == 1, "\(command): \(unknown.stdout)")
            #expect(unknown.stderr.contains("no function 'Fm'") && unknown.stderr.contains("did you mean Fn?"), "\(unknown.stderr)")
            let json = try CLI.run([command, "Fm", "--template", app.template, "--state-dir", app.state, "--output", "json"])
            #expect(json.status == 1)
            #expect(json.stdout.contains("no function 'Fm'"), "\(command): \(json.stdout)")
            let known = try CLI.run([command, "Fn", "--template", app.template, "--state-dir", app.state])
            #expect(known.status == 0, "\(command): \(known.stderr)")
        }
        // A qualifier that is neither a version nor an alias is a typo too.
        let typo = try CLI.run(["metrics", "Fn:lve", "--template", app.template, "--state-dir", app.state])
        #expect(typo.status == 1 && typo.stderr.contains("Fn has no version or alias 'lve'; did you mean 'live'?"), "\(typo.stderr)")
        #expect(try CLI.run(["metrics", "Fn:live", "--template", app.template, "--state-dir", app.state]).status == 0)
        #expect(try CLI.run(["metrics", "Fn:1", "--template", app.template, "--state-dir", app.state]).status == 0)
    }

    /// Two aliases, one finished at once (AllAtOnce) and one shifting by canary, with traffic through both: what
    /// runs through the first after its deployment ended is not its summary's.
    @Test func trafficAfterADeploymentEndedIsNotInItsSummary() throws {
        let app = try DeployFixture(extraResources: """
          Quick:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: !Ref Code
              Handler: app.handler
              Runtime: python3.12
              AutoPublishAlias: live
              DeploymentPreference:
                Type: AllAtOnce
        """)
        #expect(try app.deploy("good1").status == 0)
        let run = try app.deploy("good2", ["--time-scale", "60", "--traffic", app.traffic, "--rate", "40"])
        #expect(run.status == 0, "\(run.stderr)")
        func served(_ function: String) -> Int {
            let summary = run.events.first { $0["event"] as? String == "deployment.summary" && $0["function"] as? String == function }
            let versions = summary?["versions"] as? [String: [String: Int]] ?? [:]
            return versions.values.reduce(0) { $0 + ($1["invocations"] ?? 0) }
        }
        #expect(served("Fn") > 40, "\(run.events)")
        #expect(served("Quick") * 4 < served("Fn"), "Quick: \(served("Quick")), Fn: \(served("Fn"))")

        // Text status shows when each deployment ran.
        let status = try CLI.run(["status", "--state-dir", app.state])
        #expect(status.stdout.contains(/Succeeded \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d – \d\d:\d\d:\d\d UTC\)/), "\(status.stdout)")
    }

    @Test func everyJSONTimeHasMillisecondsInUTC() throws {
        let app = try DeployFixture()
        #expect(try app.deploy("good1").status == 0)
        let run = try app.deploy("good2", ["--time-scale", "120", "--traffic", app.traffic, "--rate", "50"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.events.allSatisfy { Self.isTimestamp($0["time"]) }, "\(run.events.map { $0["time"] ?? "-" })")
        let status = try #require(Self.report(try CLI.run(["status", "--state-dir", app.state, "--output", "json"]).stdout))
        let deployment = try #require((status["deployments"] as? [[String: Any]])?.first)
        #expect(Self.isTimestamp(deployment["StartedAt"]) && Self.isTimestamp(deployment["EndedAt"]), "\(deployment)")
        let version = (status["functions"] as? [[String: Any]])?.first?["Versions"] as? [[String: Any]]
        #expect(Self.isTimestamp(version?.first?["LastModified"]), "\(String(describing: version))")

        let metrics = try CLI.run(["metrics", "Fn", "--template", app.template, "--state-dir", app.state, "--since", "1d", "--output", "json"])
        let report = try #require(Self.report(metrics.stdout), "\(metrics.stdout) \(metrics.stderr)")
        #expect(report["function"] as? String == "Fn" && Self.isTimestamp(report["since"]))
        let datapoints = report["datapoints"] as? [[String: Any]] ?? []
        #expect(!datapoints.isEmpty && datapoints.allSatisfy { Self.isTimestamp($0["timestamp"]) }, "\(datapoints)")

        let logs = try CLI.run(["logs", "Fn", "--template", app.template, "--state-dir", app.state, "--since", "1d", "--output", "json"])
        let lines = DeployFixture.events(logs.stdout)
        #expect(!lines.isEmpty && lines.allSatisfy { Self.isTimestamp($0["time"]) && $0["message"] is String }, "\(logs.stdout)")
        #expect(lines.contains { ($0["message"] as? String)?.hasPrefix("START RequestId:") == true })
    }

    @Test func aBadEventNamesItsLineAndColumn() throws {
        let app = try InvokeCommandTests.app()
        let result = try CLI.run(["invoke", "Ok", "--event", "-"], in: app, stdin: Data("{\n  \"a\": 1,\n  \"b\" 2\n}".utf8))
        #expect(result.status == 1)
        #expect(result.stderr.contains("<stdin>:3:7: expected ':' after the member name, found '2'"), "\(result.stderr)")
        let file = app.appendingPathComponent("event.json")
        // Foundation's parser lets a trailing comma pass; Lambda's runtimes do not.
        try "[1, 2,]".write(to: file, atomically: true, encoding: .utf8)
        let trailing = try CLI.run(["invoke", "Ok", "--event", file.path], in: app)
        #expect(trailing.stderr.contains("\(file.path):1:7: expected a value"), "\(trailing.stderr)")
        let unclosed = try CLI.run(["invoke", "Ok", "--event", "-"], in: app, stdin: Data("{\"é\": \"x".utf8))
        #expect(unclosed.stderr.contains("<stdin>:1:9: the string is not closed"), "\(unclosed.stderr)")
    }

    @Test func aRollbackReasonIsPrintedOnce() throws {
        let app = try DeployFixture()
        #expect(try app.deploy("good1").status == 0)
        let run = try CLI.run(["deploy", app.template, "--state-dir", app.state, "--parameter-overrides", "Code=faulty",
                               "--time-scale", "60", "--traffic", app.traffic, "--rate", "60"])
        #expect(run.status == 3, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        let rollback = try #require(lines.first { $0.contains("ROLLED BACK to version 1: ") }, "\(run.stdout)")
        let reason = String(rollback[rollback.range(of: "ROLLED BACK to version 1: ")!.upperBound...])
        #expect(run.stdout.components(separatedBy: reason).count == 2, "\(run.stdout)")
        #expect(lines.contains { $0.hasSuffix("Fn:live deployment Failed") }, "\(run.stdout)")
        // The alarm speaks CloudWatch (the metric, the datapoint with its time, the threshold), once: on its own
        // line, which the rollback line refers to.
        let alarm = try #require(lines.first { $0.contains("alarm ErrorRate is ALARM: ") }, "\(run.stdout)")
        #expect(alarm.contains(/Threshold Crossed: 1 out of the last 1 datapoint of rate = errors \/ invocations \* 100 \[[\d.]+ \(\d\d:\d\d\)\] was greater than the threshold \(10\)/),
                "\(alarm)")
        #expect(reason.contains("alarm 'ErrorRate' is in ALARM at ") && reason.contains("(explained above)"), "\(reason)")
        #expect(run.stdout.components(separatedBy: "Threshold Crossed").count == 2, "\(run.stdout)")
        #expect(!run.stdout.contains(/\b1 (errors|invocations|datapoints)\b/), "\(run.stdout)")
    }

    @Test func serveStreamsJSONLinesAndSaysWhatStoppedIt() throws {
        let folder = try ServeCommandTests.app()
        let serve = try ServeProcess(["--output", "json"], in: folder)
        #expect(serve.port > 0)
        #expect(serve.stop() == 0)
        let lines = DeployFixture.events(serve.stdout)
        #expect(lines.map { $0["event"] as? String ?? "-" } == ["serve.listening", "serve.stopping", "serve.stopped"], "\(serve.stdout)")
        #expect(lines.allSatisfy { Self.isTimestamp($0["time"]) })
        #expect(lines.dropFirst().first?["reason"] as? String == "terminated (SIGTERM)")
        #expect(serve.stderr.contains("shift serve: terminated (SIGTERM), shutting functions down"), "\(serve.stderr)")
    }

    /// Numbers a person can type but no clock or timer can hold are refused, never a trap (exit 132).
    @Test(arguments: [["--time-scale", "1e300"], ["--time-scale", "1e-9"], ["--judge-hold", "1e15m"], ["--hook-timeout", "1e20m"],
                      ["--max-error-increase", "0"], ["--assume-error-rate", "150%"], ["--expected-rate", "0"]])
    func outOfRangeNumbersAreUsageErrors(_ flag: [String]) throws {
        let result = try CLI.run(["deploy", "examples/greeter/template.yaml", "--dry-run", "--state-dir", try CLI.temporaryDirectory().path] + flag)
        #expect(result.status == 1, "\(flag): \(result.stderr)")
        #expect(result.stderr.contains(flag[0]), "\(result.stderr)")
    }
}
