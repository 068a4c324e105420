import Foundation
import Testing

/// Concurrency as Lambda counts it, through `shift serve` and `shift deploy` run as processes: the account
/// limit, `ReservedConcurrentExecutions`, AWS's throttle answers.
@Suite("Concurrency limits of shift serve", .serialized)
struct ConcurrencyCommandTests {
    /// `busy` (no reservation), `pinned` (ReservedConcurrentExecutions 2) and `off` (0). Each call of `app.hold`
    /// checks in under `gates/<gate>/started` and returns once `gates/<gate>/release` exists, so a test holds
    /// exactly the calls it means to hold without sleeping.
    static func app() throws -> URL {
        let folder = try CLI.temporaryDirectory()
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("py"), withIntermediateDirectories: true)
        try """
        import os, time
        def hold(event, context):
            gate = os.path.join(os.environ["GATES"], event["gate"])
            os.makedirs(os.path.join(gate, "started"), exist_ok=True)
            open(os.path.join(gate, "started", context.aws_request_id), "w").close()
            deadline = time.time() + 120
            while not os.path.exists(os.path.join(gate, "release")) and time.time() < deadline:
                time.sleep(0.01)
            return "ok"
        """.write(to: folder.appendingPathComponent("py/app.py"), atomically: true, encoding: .utf8)
        try """
        Transform: AWS::Serverless-2016-10-31
        Globals:
          Function:
            Runtime: python3.12
            CodeUri: py
            Handler: app.hold
            Timeout: 150
            Environment:
              Variables:
                GATES: \(folder.path)/gates
        Resources:
          Busy:
            Type: AWS::Serverless::Function
            Properties: {FunctionName: busy}
          Pinned:
            Type: AWS::Serverless::Function
            Properties: {FunctionName: pinned, ReservedConcurrentExecutions: 2}
          Off:
            Type: AWS::Serverless::Function
            Properties: {FunctionName: "off", ReservedConcurrentExecutions: 0}
        """.write(to: folder.appendingPathComponent("template.yaml"), atomically: true, encoding: .utf8)
        return folder
    }

    /// Python helpers: `burst(function, gate, n)` starts n calls in threads; `wait_for(...)` polls a condition
    /// with a generous bound; `started(gate)` counts the calls that reached the function.
    static let prelude = Python.prelude + """
    import threading, time
    GATES = os.environ["GATES"]
    def started(gate):
        path = os.path.join(GATES, gate, "started")
        return len(os.listdir(path)) if os.path.isdir(path) else 0
    def release(gate):
        os.makedirs(os.path.join(GATES, gate), exist_ok=True)
        open(os.path.join(GATES, gate, "release"), "w").close()
    def wait_for(what, condition, timeout=120):
        deadline = time.time() + timeout
        while not condition():
            if time.time() > deadline:
                raise SystemExit("timed out waiting for " + what)
            time.sleep(0.01)
    def burst(function, gate, n):
        answers, threads = [], []
        def one():
            answers.append(call("POST", "/2015-03-31/functions/%s/invocations" % function, {"gate": gate}))
        for _ in range(n):
            t = threading.Thread(target=one)
            t.start()
            threads.append(t)
        return answers, threads
    def throttle(answer):
        status, headers, body = answer
        fields = json.loads(body)
        return (status, headers.get("x-amzn-ErrorType"), fields.get("Type"), fields.get("Reason"), fields.get("message", "").startswith("Rate Exceeded."))

    """

    static func run(_ script: String, serve: ServeProcess, in folder: URL) throws -> String {
        let file = folder.appendingPathComponent("script-\(UUID().uuidString.prefix(6)).py")
        try (prelude + script).write(to: file, atomically: true, encoding: .utf8)
        let result = try CLI.shell("python3 '\(file.path)'", environment: [
            "PORT": String(serve.port), "GATES": folder.appendingPathComponent("gates").path,
            "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "AWS_DEFAULT_REGION": "us-east-1",
        ])
        guard result.status == 0 else { throw CLIFailure("python failed (\(result.status)): \(result.stderr)\n\(result.stdout)\nserve: \(serve.stderr)") }
        return result.stdout
    }

    @Test func fortySimultaneousSlowCallsAllSucceedUnderTheDefaultLimit() throws {
        let folder = try Self.app()
        defer { try? FileManager.default.removeItem(at: folder) }
        let serve = try ServeProcess([], in: folder)
        defer { serve.stop() }
        let out = try Self.run("""
        answers, threads = burst("busy", "forty", 40)
        # All 40 inside the function at once: only then does any of them return.
        wait_for("40 calls in flight", lambda: started("forty") == 40 or len(answers) > 0)
        print(started("forty"), len(answers))
        release("forty")
        for t in threads: t.join()
        print(sorted(set(status for status, _, _ in answers)), len(answers))
        """, serve: serve, in: folder)
        #expect(out == "40 0\n[200] 40\n", "\(serve.stderr)")
    }

    @Test func aReservationThrottlesExactlyTheExcessAndABurstLeavesItsShare() throws {
        let folder = try Self.app()
        defer { try? FileManager.default.removeItem(at: folder) }
        // 10 in all: pinned keeps 2, busy and every other unreserved function share 8.
        let serve = try ServeProcess(["--max-concurrency", "10"], in: folder)
        defer { serve.stop() }
        let out = try Self.run("""
        busy, busy_threads = burst("busy", "a", 12)
        wait_for("8 busy calls running and 4 throttled", lambda: started("a") == 8 and len(busy) == 4)
        pinned, pinned_threads = burst("pinned", "b", 5)
        wait_for("2 pinned calls running and 3 throttled", lambda: started("b") == 2 and len(pinned) == 3)
        print("busy", sorted(set(throttle(a) for a in busy)))
        print("pinned", sorted(set(throttle(a) for a in pinned)))
        # An asynchronous call is queued, never throttled back to its caller; it runs once a slot frees.
        status, _, _ = call("POST", "/2015-03-31/functions/pinned/invocations", {"gate": "c"}, {"X-Amz-Invocation-Type": "Event"})
        print("event", status)
        release("c")
        release("a")
        release("b")
        for t in busy_threads + pinned_threads: t.join()
        print("after", [status for status, _, _ in busy].count(200), [status for status, _, _ in pinned].count(200))
        wait_for("the queued event to run", lambda: started("c") == 1)
        s, _, metrics = call("GET", "/metrics")
        throttles = {}
        for line in metrics.decode().splitlines():
            if line.startswith("shift_lambda_throttles_total{"):
                name = line.split('function_name="')[1].split('"')[0]
                throttles[name] = throttles.get(name, 0) + float(line.split()[-1])
        for name in sorted(throttles): print("shift_lambda_throttles_total", name, int(throttles[name]))
        """, serve: serve, in: folder)
        let lines = out.split(separator: "\n").map(String.init)
        #expect(Array(lines.prefix(4)) == [
            "busy [(429, 'TooManyRequestsException', 'User', 'ConcurrentInvocationLimitExceeded', True)]",
            "pinned [(429, 'TooManyRequestsException', 'User', 'ReservedFunctionConcurrentInvocationLimitExceeded', True)]",
            "event 202",
            "after 8 2",
        ], "\(out)\n\(serve.stderr)")
        // AWS's Throttles metric counts the throttled calls: busy's 4; pinned's 3 and any attempt of the queued
        // event that found both slots taken.
        func throttles(_ function: String) -> Double? {
            lines.first { $0.hasPrefix("shift_lambda_throttles_total \(function) ") }.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }
        }
        #expect(throttles("busy") == 4, "\(out)")
        #expect((throttles("pinned") ?? 0) >= 3, "\(out)")
    }

    @Test(.enabled(if: Python.hasBoto3, "needs boto3 (pip install boto3)"))
    func boto3ReadsTheThrottleAndQueuesEvents() throws {
        let folder = try Self.app()
        defer { try? FileManager.default.removeItem(at: folder) }
        let serve = try ServeProcess([], in: folder)
        defer { serve.stop() }
        let out = try Self.run("""
        import boto3, botocore
        client = boto3.client("lambda", endpoint_url=BASE, config=botocore.config.Config(retries={"total_max_attempts": 1}))
        try:
            client.invoke(FunctionName="off", Payload=json.dumps({"gate": "x"}))
            print("not throttled")
        except client.exceptions.TooManyRequestsException as e:
            print(e.response["Error"]["Code"], e.response.get("Reason"), e.response["ResponseMetadata"]["HTTPStatusCode"])
        print(client.invoke(FunctionName="off", InvocationType="Event", Payload=json.dumps({"gate": "x"}))["StatusCode"])
        """, serve: serve, in: folder)
        #expect(out == "TooManyRequestsException ReservedFunctionConcurrentInvocationLimitExceeded 429\n202\n")
    }

    @Test func reservationsBeyondTheLimitAreRefusedWithTheLimitThatFits() throws {
        let folder = try Self.app()
        defer { try? FileManager.default.removeItem(at: folder) }
        for command in [["serve", "--port", "0"], ["deploy", "--dry-run"], ["deploy"]] {
            let result = try CLI.run(command + ["--max-concurrency", "2"], in: folder)
            #expect(result.status != 0)
            #expect(result.stderr.contains("reservations (pinned 2) total 2 of the account concurrency limit 2"), "\(command): \(result.stderr)")
            #expect(result.stderr.contains("raise the limit to at least 3 (shift serve/deploy --max-concurrency)"), "\(command): \(result.stderr)")
        }
        let zero = try CLI.run(["serve", "--max-concurrency", "0"], in: folder)
        #expect(zero.status != 0)
        #expect(zero.stderr.contains("--max-concurrency must be from 1 to 100000"), "\(zero.stderr)")
    }
}
