import Foundation
import Testing

/// Scripts written for AWS, run unmodified (boto3, the AWS CLI) against `shift serve`, and the same checks against a
/// moto server: `Tests/Compatibility/aws_compat.py` holds the checks and what AWS documents for each.
@Suite("AWS scripts run unmodified against shift serve", .serialized)
struct AWSCompatibilityTests {
    static let script = CLI.packageRoot.appendingPathComponent("Tests/Compatibility/aws_compat.py").path
    static let hasMoto: Bool = (try? CLI.shell("python3 -c 'import moto.server, flask'").status) == 0
    static let checks = [
        "request_id_on_every_answer", "revision_id_precondition", "last_modified_stable", "pagination", "payload_limits",
        "stack_trace_user_frames", "invoke_foreign_arn", "delete_missing_function", "update_code_zip", "update_configuration", "tags",
        "reserved_concurrency", "account_settings",
        "delete_alias_and_version", "codedeploy_get_deployment", "codedeploy_list_and_paginate", "codedeploy_waiter", "codedeploy_unknown_ids",
    ]
    static let credentials = ["AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "AWS_DEFAULT_REGION": "us-east-1"]

    /// A template with `PyEcho` (AutoPublishAlias live, AllAtOnce) and `Boom`, deployed twice: the second deploy is a
    /// Succeeded CodeDeploy deployment, whose id comes back.
    static func deployedApp() throws -> (folder: URL, deploymentId: String) {
        let folder = try CLI.temporaryDirectory()
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("src"), withIntermediateDirectories: true)
        try "def handler(event, context):\n    return {'event': event}\ndef boom(event, context):\n    raise RuntimeError('boom')\n"
            .write(to: folder.appendingPathComponent("src/app.py"), atomically: true, encoding: .utf8)
        try """
        Transform: AWS::Serverless-2016-10-31
        Resources:
          PyEcho:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: src, Handler: app.handler, Runtime: python3.12, AutoPublishAlias: live, DeploymentPreference: {Type: AllAtOnce}}
          Boom:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: src, Handler: app.boom, Runtime: python3.12}
        """.write(to: folder.appendingPathComponent("template.yaml"), atomically: true, encoding: .utf8)
        let first = try CLI.run(["deploy", "template.yaml", "--state-dir", "state"], in: folder)
        guard first.status == 0 else { throw CLIFailure("deploy failed: \(first.stderr)") }
        try Self.changeCode(in: folder, "v2")
        let second = try CLI.run(["deploy", "template.yaml", "--state-dir", "state", "--output", "json"], in: folder)
        guard second.status == 0, let id = Self.deploymentId(in: second.stdout) else { throw CLIFailure("deploy failed: \(second.stderr)\n\(second.stdout)") }
        return (folder, id)
    }

    static func changeCode(in folder: URL, _ marker: String) throws {
        let file = folder.appendingPathComponent("src/app.py")
        try (try String(contentsOf: file, encoding: .utf8) + "# \(marker)\n").write(to: file, atomically: true, encoding: .utf8)
    }

    static func deploymentId(in jsonLines: String) -> String? {
        for line in jsonLines.split(separator: "\n") {
            if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let id = object["deploymentId"] as? String { return id }
        }
        return nil
    }

    /// Runs the checks; returns `NAME → ok | skip | FAIL: …`.
    static func runChecks(endpoint: String, target: String, deploymentId: String = "", in folder: URL) throws -> [String: String] {
        let result = try CLI.shell("python3 '\(script)'", environment: credentials.merging([
            "ENDPOINT": endpoint, "TARGET": target, "FUNCTION": "PyEcho", "BOOM": "Boom", "DEPLOYMENT": deploymentId,
        ]) { $1 })
        guard result.status == 0 else { throw CLIFailure("the checks crashed (\(result.status)): \(result.stderr)\n\(result.stdout)") }
        var outcomes: [String: String] = [:]
        for line in result.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            let name = parts[1].split(separator: ":").first.map(String.init) ?? parts[1]
            outcomes[name] = parts[0] == "FAIL" ? "FAIL: \(line)" : parts[0]
        }
        return outcomes
    }

    @Test(.enabled(if: Python.hasBoto3, "needs boto3 (pip install boto3)"))
    func everyCheckPassesAgainstShiftServe() throws {
        let (folder, deploymentId) = try Self.deployedApp()
        let serve = try ServeProcess(["--state-dir", "state"], in: folder)
        defer { serve.stop() }
        let outcomes = try Self.runChecks(endpoint: serve.url, target: "shift", deploymentId: deploymentId, in: folder)
        for check in Self.checks {
            #expect(outcomes[check] == "ok", "\(check): \(outcomes[check] ?? "did not run")")
        }
        // The template's code folder is never written by UpdateFunctionCode.
        let source = try String(contentsOf: folder.appendingPathComponent("src/app.py"), encoding: .utf8)
        #expect(source.contains("def boom") && !source.contains("updated"))
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("state/uploads/PyEcho").path))
    }

    @Test(.enabled(if: Python.hasBoto3 && AWSCompatibilityTests.hasMoto, "needs boto3 and moto[server] (pip install 'moto[server]')"))
    func theSameChecksAgainstMotoWhereMotoFollowsAWS() throws {
        let folder = try CLI.temporaryDirectory()
        let moto = Process()
        moto.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        moto.arguments = ["python3", "-m", "moto.server", "-p", "0"]
        let log = folder.appendingPathComponent("moto.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        moto.standardOutput = try FileHandle(forWritingTo: log)
        moto.standardError = try FileHandle(forWritingTo: log)
        try moto.run()
        defer {
            // SIGKILL: the test process's children inherit a mask that blocks SIGTERM, and moto keeps nothing to save.
            kill(moto.processIdentifier, SIGKILL)
            moto.waitUntilExit()
        }
        var endpoint = ""
        #expect(CLI.waitUntil(timeout: 60) {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            guard let range = text.range(of: #"http://127\.0\.0\.1:\d+"#, options: .regularExpression) else { return false }
            endpoint = String(text[range])
            return true
        })
        let outcomes = try Self.runChecks(endpoint: endpoint, target: "moto", in: folder)
        // Where moto follows AWS the check passes; everywhere else the script names how moto differs (and skips).
        #expect(outcomes["delete_missing_function"] == "ok")
        #expect(outcomes["tags"] == "ok")
        #expect(outcomes["reserved_concurrency"] == "ok")
        for check in Self.checks {
            #expect(outcomes[check] == "ok" || outcomes[check] == "skip", "\(check): \(outcomes[check] ?? "did not run")")
        }
    }

    @Test(.enabled(if: Python.hasBoto3 && Python.hasAWSCLI, "needs boto3 and the aws CLI (pip install boto3 awscli)"))
    func theAWSCLIStopsARunningDeploymentAndItsWaiterFails() throws {
        let (folder, succeeded) = try Self.deployedApp()
        let serve = try ServeProcess(["--state-dir", "state"], in: folder)
        defer { serve.stop() }
        let aws = "aws --endpoint-url \(serve.url) --output json"
        let wait = try CLI.shell("\(aws) deploy wait deployment-successful --deployment-id \(succeeded)", environment: Self.credentials)
        #expect(wait.status == 0, "\(wait.stderr)")

        try Self.changeCode(in: folder, "v3")
        let deploy = Process()
        deploy.executableURL = CLI.binary
        deploy.arguments = ["deploy", "template.yaml", "--state-dir", "state", "--strategy", "Linear10PercentEvery10Minutes"]
        deploy.currentDirectoryURL = folder
        let stderrFile = folder.appendingPathComponent("deploy.out")
        _ = FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        deploy.standardError = try FileHandle(forWritingTo: stderrFile)
        deploy.standardOutput = try FileHandle(forWritingTo: stderrFile)
        try deploy.run()
        defer { if deploy.isRunning { deploy.terminate() } }

        var running = ""
        #expect(CLI.waitUntil(timeout: 60) {
            let list = try? CLI.shell("\(aws) deploy list-deployments --include-only-statuses InProgress", environment: Self.credentials)
            let ids = (try? JSONSerialization.jsonObject(with: Data((list?.stdout ?? "").utf8)) as? [String: Any])?["deployments"] as? [String]
            running = ids?.first ?? ""
            return !running.isEmpty
        })
        let stop = try CLI.shell("\(aws) deploy stop-deployment --deployment-id \(running)", environment: Self.credentials)
        #expect(stop.status == 0, "\(stop.stderr)")
        #expect(stop.stdout.contains("\"status\": \"Pending\""), "\(stop.stdout)")
        #expect(CLI.waitUntil(timeout: 60) { !deploy.isRunning })
        deploy.waitUntilExit()
        let deployErrors = (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? ""
        #expect(deploy.terminationStatus == 3, "\(deployErrors)")
        #expect(deployErrors.contains("StopDeployment"), "\(deployErrors)")

        let failed = try CLI.shell("\(aws) deploy wait deployment-successful --deployment-id \(running)", environment: Self.credentials)
        #expect(failed.status != 0)
        #expect((failed.stdout + failed.stderr).contains("Waiter DeploymentSuccessful failed"), "\(failed.stdout)\(failed.stderr)")
        let info = try CLI.shell("\(aws) deploy get-deployment --deployment-id \(running)", environment: Self.credentials)
        #expect(info.stdout.contains("\"status\": \"Stopped\"") && info.stdout.contains("MANUAL_STOP"), "\(info.stdout)")
        let alias = try CLI.shell("\(aws) lambda get-alias --function-name PyEcho --name live", environment: Self.credentials)
        #expect(alias.stdout.contains("\"FunctionVersion\": \"2\"") && !alias.stdout.contains("AdditionalVersionWeights\": {\"3\""), "\(alias.stdout)")
    }

    @Test(.enabled(if: Python.hasBoto3, "needs boto3 (pip install boto3)"))
    func oversizedHeadersGetAnAWSJSONError() throws {
        let (folder, _) = try Self.deployedApp()
        let serve = try ServeProcess(["--state-dir", "state"], in: folder)
        defer { serve.stop() }
        let out = try Python.run(Python.prelude + """
        s, h, b = call("GET", "/2015-03-31/functions/PyEcho", None, {"X-Big": "x" * 100000})
        print(s, h.get("x-amzn-ErrorType"), bool(h.get("x-amzn-RequestId")), "80 KB" in json.loads(b)["Message"])
        """, port: serve.port, in: folder)
        #expect(out == "400 InvalidRequestContentException True True\n")
    }
}
