import Foundation
import Testing

/// `shift serve`, `shift metrics` and `shift logs`, run as processes and driven over loopback HTTP.
@Suite("shift serve, run as a process", .serialized)
struct ServeCommandTests {
    /// A template: echo, a caller that invokes echo through boto3 and AWS_ENDPOINT_URL_LAMBDA, a failing
    /// function whose failures go to `Sink`, which records what it receives.
    static func app() throws -> URL {
        let folder = try CLI.temporaryDirectory()
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("py"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("records"), withIntermediateDirectories: true)
        try """
        import json, os
        def echo(event, context):
            print("echo got", json.dumps(event))
            return {"event": event, "version": context.function_version}
        def caller(event, context):
            import boto3
            client = boto3.client("lambda")
            answer = client.invoke(FunctionName="echo", Payload=json.dumps({"from": "caller"}))
            return {"endpoint": os.environ["AWS_ENDPOINT_URL_LAMBDA"], "answer": json.loads(answer["Payload"].read())}
        def fail(event, context):
            raise RuntimeError("flaky failed")
        def sink(event, context):
            with open(os.path.join(os.environ["RECORDS"], context.aws_request_id + ".json"), "w") as f:
                json.dump(event, f)
        """.write(to: folder.appendingPathComponent("py/app.py"), atomically: true, encoding: .utf8)
        try """
        Transform: AWS::Serverless-2016-10-31
        Globals:
          Function:
            Runtime: python3.12
            CodeUri: py
            Timeout: 30
            Environment:
              Variables:
                RECORDS: \(folder.path)/records
        Resources:
          Echo:
            Type: AWS::Serverless::Function
            Properties: {Handler: app.echo, FunctionName: echo}
          Caller:
            Type: AWS::Serverless::Function
            Properties: {Handler: app.caller}
          Flaky:
            Type: AWS::Serverless::Function
            Properties:
              Handler: app.fail
              EventInvokeConfig:
                MaximumRetryAttempts: 1
                DestinationConfig:
                  OnFailure:
                    Type: Lambda
                    Destination: !GetAtt Sink.Arn
          Sink:
            Type: AWS::Serverless::Function
            Properties: {Handler: app.sink}
        """.write(to: folder.appendingPathComponent("template.yaml"), atomically: true, encoding: .utf8)
        return folder
    }

    static func processExists(_ pid: Int32) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return false }
        return !status.contains("State:\tZ")
    }

    @Test func invokeAPIStatusesThroughTheServer() throws {
        let folder = try Self.app()
        let serve = try ServeProcess([], in: folder)
        defer { serve.stop() }
        #expect(serve.url.hasPrefix("http://127.0.0.1:"))
        let out = try Python.run(Python.prelude + """
        s, h, b = call("POST", "/2015-03-31/functions/echo/invocations", {"a": 1})
        print(s, h.get("X-Amz-Executed-Version"), json.loads(b)["event"]["a"])
        s, h, b = call("POST", "/2015-03-31/functions/Flaky/invocations", {}, {"X-Amz-Invocation-Type": "DryRun"})
        print(s)
        s, h, b = call("POST", "/2015-03-31/functions/missing/invocations", {})
        print(s, h.get("x-amzn-ErrorType"))
        """, port: serve.port, in: folder)
        #expect(out == "200 $LATEST 1\n204\n404 ResourceNotFoundException\n")
    }

    @Test(.enabled(if: Python.hasBoto3 && Python.hasAWSCLI, "needs boto3 and the aws CLI (pip install boto3 awscli)"))
    func boto3AndTheAWSCLIInvokeAnAlias() throws {
        let folder = try Self.app()
        let serve = try ServeProcess([], in: folder)
        defer { serve.stop() }
        let out = try Python.run("""
        import boto3, json, os
        c = boto3.client("lambda", endpoint_url="http://127.0.0.1:" + os.environ["PORT"])
        v = c.publish_version(FunctionName="echo")["Version"]
        a = c.create_alias(FunctionName="echo", Name="live", FunctionVersion=v)
        r = c.invoke(FunctionName="echo:live", Payload=b'{"via": "boto3"}', LogType="Tail")
        print(v, a["AliasArn"], r["ExecutedVersion"], json.loads(r["Payload"].read())["event"]["via"], "START" in __import__("base64").b64decode(r["LogResult"]).decode())
        try:
            c.get_alias(FunctionName="echo", Name="nope")
        except c.exceptions.ResourceNotFoundException as e:
            print("404", e.response["Error"]["Code"])
        """, port: serve.port, in: folder)
        #expect(out == "1 arn:aws:lambda:us-east-1:123456789012:function:echo:live 1 boto3 True\n404 ResourceNotFoundException\n")

        let outFile = folder.appendingPathComponent("out.json").path
        let cli = try CLI.shell("aws lambda invoke --endpoint-url \(serve.url) --function-name echo:live --payload '{\"via\":\"cli\"}' --cli-binary-format raw-in-base64-out '\(outFile)' 2>&1 || aws lambda invoke --endpoint-url \(serve.url) --function-name echo:live --payload '{\"via\":\"cli\"}' '\(outFile)'",
                                environment: ["AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "AWS_DEFAULT_REGION": "us-east-1"])
        #expect(cli.status == 0, "\(cli.stdout)\(cli.stderr)")
        #expect(cli.stdout.contains("\"ExecutedVersion\": \"1\""))
        let answer = try String(contentsOfFile: outFile, encoding: .utf8)
        #expect(answer.contains("\"via\": \"cli\""))
    }

    @Test(.enabled(if: Python.hasBoto3, "needs boto3 (pip install boto3)"))
    func aFunctionInvokesAnotherThroughTheEndpoint() throws {
        let folder = try Self.app()
        let serve = try ServeProcess([], in: folder)
        defer { serve.stop() }
        let out = try Python.run(Python.prelude + """
        s, h, b = call("POST", "/2015-03-31/functions/Caller/invocations", {})
        r = json.loads(b)
        print(s, h.get("X-Amz-Function-Error"), r["endpoint"] == BASE, r["answer"]["event"]["from"])
        """, port: serve.port, in: folder)
        #expect(out == "200 None True caller\n")
    }

    @Test func asyncFailuresAreRetriedAndReachTheDestination() throws {
        let folder = try Self.app()
        // 1000× faster: the one-minute retry takes 60 ms (and the 6-hour event age 21.6 s).
        let serve = try ServeProcess(["--time-scale", "1000"], in: folder)
        defer { serve.stop() }
        let out = try Python.run(Python.prelude + """
        s, h, b = call("POST", "/2015-03-31/functions/Flaky/invocations", {"job": 42}, {"X-Amz-Invocation-Type": "Event"})
        print(s, h.get("x-amzn-RequestId") is not None)
        """, port: serve.port, in: folder)
        #expect(out == "202 True\n")
        let records = folder.appendingPathComponent("records").path
        // The destination function writes the record as it goes: wait until one is there whole.
        var record: [String: Any]?
        CLI.waitUntil(timeout: 30) {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: records)) ?? []
            record = files.lazy.compactMap { file in
                (try? Data(contentsOf: URL(fileURLWithPath: records + "/" + file))).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
            }.first
            return record != nil
        }
        let received = try #require(record, "no destination record arrived; serve stderr: \(serve.stderr)")
        let context = try #require(received["requestContext"] as? [String: Any])
        #expect(context["condition"] as? String == "RetriesExhausted")
        #expect(context["approximateInvokeCount"] as? Int == 2)
        #expect((received["requestPayload"] as? [String: Any])?["job"] as? Int == 42)
        #expect((received["responseContext"] as? [String: Any])?["functionError"] as? String == "Unhandled")
    }

    @Test func metricsAddUpAndStateSurvivesARestart() throws {
        let folder = try Self.app()
        let state = folder.appendingPathComponent("state").path
        var serve = try ServeProcess(["--state-dir", state], in: folder)
        // Two versions of echo, alias live split between them; 60 invocations of the alias, 5 of $LATEST.
        let setup = try Python.run(Python.prelude + """
        s1, _, v1 = call("POST", "/2015-03-31/functions/echo/versions", {})
        s2, _, a = call("POST", "/2015-03-31/functions/echo/aliases", {"Name": "live", "FunctionVersion": "1"})
        print(s1, json.loads(v1)["Version"], s2)
        """, port: serve.port, in: folder)
        #expect(setup == "201 1 201\n")
        serve.stop()
        // Change the code's configuration: a new version on the next publish.
        let template = folder.appendingPathComponent("template.yaml")
        try (try String(contentsOf: template, encoding: .utf8)).replacingOccurrences(of: "Timeout: 30", with: "Timeout: 31")
            .write(to: template, atomically: true, encoding: .utf8)

        serve = try ServeProcess(["--state-dir", state], in: folder)
        let counts = try Python.run(Python.prelude + """
        s, _, b = call("GET", "/2015-03-31/functions/echo/aliases/live")
        assert s == 200 and json.loads(b)["FunctionVersion"] == "1", (s, b)
        s, _, v2 = call("POST", "/2015-03-31/functions/echo/versions", {})
        assert json.loads(v2)["Version"] == "2", v2
        s, _, b = call("PUT", "/2015-03-31/functions/echo/aliases/live", {"RoutingConfig": {"AdditionalVersionWeights": {"2": 0.5}}})
        assert s == 200, b
        seen = {}
        for i in range(60):
            s, h, b = call("POST", "/2015-03-31/functions/echo%3Alive/invocations", {"i": i})
            assert s == 200, b
            seen[h["X-Amz-Executed-Version"]] = seen.get(h["X-Amz-Executed-Version"], 0) + 1
        for i in range(5):
            call("POST", "/2015-03-31/functions/echo/invocations", {})
        print(seen.get("1", 0), seen.get("2", 0))
        """, port: serve.port, in: folder)
        #expect(serve.stop() == 0)
        let split = counts.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        #expect(split.count == 2 && split.reduce(0, +) == 60)

        // One report object: the function, the resource, and its datapoints.
        func datapoints(_ arguments: [String]) throws -> (report: [String: Any], rows: [[String: Any]]) {
            let result = try CLI.run(["metrics"] + arguments + ["--output", "json", "--state-dir", state], in: folder)
            #expect(result.status == 0, "\(result.stderr)")
            let report = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]) ?? [:]
            return (report, report["datapoints"] as? [[String: Any]] ?? [])
        }
        let (metrics, rows) = try datapoints(["echo:live"])
        func sum(_ version: String) -> Int { rows.filter { $0["executedVersion"] as? String == version }.reduce(0) { $0 + ($1["invocations"] as? Int ?? 0) } }
        #expect(sum("1") == split[0])
        #expect(sum("2") == split[1])
        #expect(sum("*") == 60)
        #expect(metrics["resource"] as? String == "echo:live" && metrics["function"] as? String == "echo")
        let allRows = try datapoints(["echo"]).rows
        #expect(allRows.filter { $0["executedVersion"] as? String == "*" }.reduce(0) { $0 + ($1["invocations"] as? Int ?? 0) } == 65)
        let text = try CLI.run(["metrics", "Echo", "--state-dir", state], in: folder)
        #expect(text.stdout.hasPrefix("VERSION   MINUTE (UTC)"))

        let logs = try CLI.run(["logs", "echo", "--state-dir", state], in: folder)
        #expect(logs.status == 0)
        #expect(logs.stdout.components(separatedBy: "START RequestId: ").count - 1 == 65)
        #expect(logs.stdout.contains("echo got {\"i\": 59}"))
    }

    @Test func sigtermStopsEveryFunctionProcess() throws {
        let folder = try Self.app()
        let serve = try ServeProcess([], in: folder)
        _ = try Python.run(Python.prelude + """
        for fn in ["echo", "Sink", "Flaky"]:
            call("POST", "/2015-03-31/functions/%s/invocations" % fn, {})
        """, port: serve.port, in: folder)
        let children = serve.childPids
        #expect(children.count >= 3)
        #expect(serve.stop() == 0)
        // Keepers end what is left under them once they see shift gone: within milliseconds, so a bounded wait.
        #expect(CLI.waitUntil(timeout: 5) { children.filter(Self.processExists).isEmpty }, "\(children.filter(Self.processExists))")
        #expect(serve.stderr.contains("shift serve: stopped"))
    }

    @Test func aSecondServerOnTheSameStateRunsBesideTheFirst() throws {
        let folder = try Self.app()
        let serve = try ServeProcess([], in: folder)
        defer { serve.stop() }
        let second = try ServeProcess([], in: folder)
        #expect(second.port != serve.port)
        #expect(second.stop() == 0)
    }
}
