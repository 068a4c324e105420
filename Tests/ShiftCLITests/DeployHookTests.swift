import Foundation
import Testing

/// Hooks written for AWS: they report through `AWS_ENDPOINT_URL_CODEDEPLOY`, which `deploy` serves.
enum HookCode {
    /// A hook with the standard library only, reporting `status` (or nothing, when nil).
    static func urllib(_ status: String?) -> String {
        """
        import json, os, urllib.request
        def handler(event, context):
            if \(status == nil ? "True" : "False"):
                return "silent"
            body = json.dumps({"deploymentId": event["DeploymentId"], "lifecycleEventHookExecutionId": event["LifecycleEventHookExecutionId"], "status": "\(status ?? "")"}).encode()
            request = urllib.request.Request(os.environ["AWS_ENDPOINT_URL_CODEDEPLOY"], data=body, method="POST", headers={
                "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus"})
            with urllib.request.urlopen(request) as response:
                return json.loads(response.read())
        """
    }

    /// The hook of the AWS documentation, with boto3, unmodified.
    static let boto3 = """
    import boto3
    def handler(event, context):
        codedeploy = boto3.client("codedeploy")
        lambda_client = boto3.client("lambda")
        result = lambda_client.invoke(FunctionName="Fn:live", Payload=b"{}")
        status = "Succeeded" if "FunctionError" not in result else "Failed"
        return codedeploy.put_lifecycle_event_hook_execution_status(
            deploymentId=event["DeploymentId"],
            lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
            status=status)
    """

    static func fixture(pre: String? = nil, post: String? = nil) throws -> DeployFixture {
        var hooks: [String] = []
        var resources = ""
        for (name, code) in [("PreHook", pre), ("PostHook", post)] {
            guard let code else { continue }
            hooks.append("\(name == "PreHook" ? "PreTraffic" : "PostTraffic"): !Ref \(name)")
            resources += """
              \(name):
                Type: AWS::Serverless::Function
                Properties:
                  Runtime: python3.12
                  Handler: index.handler
                  Timeout: 30
                  InlineCode: |
            \(code.split(separator: "\n", omittingEmptySubsequences: false).map { "            " + $0 }.joined(separator: "\n"))

            """
        }
        let hookBlock = hooks.isEmpty ? "" : "        Hooks:\n" + hooks.map { "          \($0)" }.joined(separator: "\n")
        return try DeployFixture(hooks: hookBlock.isEmpty ? "" : hookBlock.replacingOccurrences(of: "        Hooks", with: "        Hooks"), extraResources: resources)
    }

    static func python(has module: String) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import \(module)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}

@Suite("shift deploy with lifecycle hooks", .serialized)
struct DeployHookTests {
    @Test func passingPreTrafficHookLetsTheShiftGoOn() throws {
        let app = try HookCode.fixture(pre: HookCode.urllib("Succeeded"))
        #expect(try app.deploy("good1").status == 0)
        let run = try app.deploy("good2", DeployFixture.fast)
        #expect(run.status == 0, "\(run.stderr) \(run.events)")
        let names = run.events.compactMap { $0["event"] as? String }
        let started = try #require(names.firstIndex(of: "hook.started"))
        let finished = try #require(names.firstIndex(of: "hook.finished"))
        let shifted = try #require(names.firstIndex(of: "traffic.shifted"))
        #expect(started < finished && finished < shifted, "the PreTraffic hook must pass before any traffic moves: \(names)")
        #expect(run.events.first { $0["event"] as? String == "hook.finished" }?["status"] as? String == "Succeeded")
        #expect(try app.alias()?["FunctionVersion"] as? String == "2")
    }

    @Test func failingPreTrafficHookLeavesTheAliasAlone() throws {
        let app = try HookCode.fixture(pre: HookCode.urllib("Failed"))
        #expect(try app.deploy("good1").status == 0)
        let run = try app.deploy("good2", DeployFixture.fast)
        #expect(run.status == 3)
        #expect(!run.events.contains { $0["event"] as? String == "traffic.shifted" })
        #expect(!run.events.contains { $0["event"] as? String == "deployment.rolledBack" })
        #expect((run.events.first { $0["event"] as? String == "deployment.failed" }?["reason"] as? String)?.contains("alias left unchanged") == true)
        #expect(try app.alias()?["FunctionVersion"] as? String == "1")
        #expect(try app.alias()?["RoutingConfig"] == nil || ((try app.alias()?["RoutingConfig"] as? [String: Any])?["AdditionalVersionWeights"] as? [String: Double])?.isEmpty != false)
    }

    @Test func silentHookFailsAfterTheHookTimeout() throws {
        let app = try HookCode.fixture(pre: HookCode.urllib(nil))
        #expect(try app.deploy("good1").status == 0)
        let run = try app.deploy("good2", ["--time-scale", "120", "--hook-timeout", "2m"])
        #expect(run.status == 3)
        let reason = run.events.first { $0["event"] as? String == "deployment.failed" }?["reason"] as? String ?? ""
        #expect(reason.contains("PreTraffic hook did not report") && reason.contains("PutLifecycleEventHookExecutionStatus"), "\(reason)")
        #expect(try app.alias()?["FunctionVersion"] as? String == "1")
    }

    @Test func failingPostTrafficHookRollsBack() throws {
        let app = try HookCode.fixture(post: HookCode.urllib("Failed"))
        #expect(try app.deploy("good1").status == 0)
        let run = try app.deploy("good2", DeployFixture.fast)
        #expect(run.status == 3)
        let shifts = run.events.filter { $0["event"] as? String == "traffic.shifted" }.compactMap { $0["weights"] as? [String: Double] }
        #expect(shifts.last == ["2": 1])
        #expect(run.events.contains { $0["event"] as? String == "deployment.rolledBack" })
        #expect(try app.alias()?["FunctionVersion"] as? String == "1")
    }

    @Test(.enabled(if: HookCode.python(has: "boto3"), "needs boto3 for python3 (pip install boto3)"))
    func boto3HookRunsUnmodified() throws {
        let app = try HookCode.fixture(pre: HookCode.boto3)
        #expect(try app.deploy("good1").status == 0)
        let run = try app.deploy("good2", DeployFixture.fast)
        #expect(run.status == 0, "\(run.stderr) \(run.events)")
        #expect(run.events.first { $0["event"] as? String == "hook.finished" }?["status"] as? String == "Succeeded")
        #expect(try app.alias()?["FunctionVersion"] as? String == "2")
    }
}
