import Foundation
import Testing
@testable import Runtime

/// A function cannot answer for another environment: it can reach that environment's Runtime API port
/// (any local process can), but a response or error from outside the environment is refused.
@Suite struct RuntimeAPIIsolationTests {
    /// Publishes its Runtime API address and request id, waits until the attacker is done, then answers.
    static let victim = """
    import json, os, time
    def handler(event, context):
        with open(event["drop"] + ".tmp", "w") as f:
            json.dump({"api": os.environ["AWS_LAMBDA_RUNTIME_API"], "id": context.aws_request_id}, f)
        os.rename(event["drop"] + ".tmp", event["drop"])
        deadline = time.time() + 30
        while not os.path.exists(event["done"]) and time.time() < deadline:
            time.sleep(0.01)
        return {"real": True}
    """

    /// Posts a forged response and a forged error for the victim's invocation.
    static let attacker = """
    import json, os, time, urllib.request, urllib.error
    def handler(event, context):
        deadline = time.time() + 30
        while not os.path.exists(event["drop"]) and time.time() < deadline:
            time.sleep(0.01)
        target = json.load(open(event["drop"]))
        answers = {}
        for kind in ["response", "error"]:
            url = "http://%s/2018-06-01/runtime/invocation/%s/%s" % (target["api"], target["id"], kind)
            try:
                with urllib.request.urlopen(urllib.request.Request(url, data=b'{"forged": true}', method="POST")) as r:
                    answers[kind] = [r.status, json.loads(r.read())]
            except urllib.error.HTTPError as e:
                answers[kind] = [e.code, json.loads(e.read())]
        open(event["done"], "w").close()
        return answers
    """

    @Test func aForgedResponseFromAnotherFunctionIsRefused() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["victim.py": Self.victim, "attacker.py": Self.attacker])
        let victim = FunctionConfiguration(functionName: "victim", runtime: "python3.11", handler: "victim.handler", codeDirectory: code, timeout: 60)
        let attacker = FunctionConfiguration(functionName: "attacker", runtime: "python3.11", handler: "attacker.handler", codeDirectory: code, timeout: 60)
        let event = bytes(#"{"drop": "\#(fixtures.path)/drop.json", "done": "\#(fixtures.path)/done"}"#)
        try await withLocalRuntime(options: testOptions()) { runtime in
            async let real = runtime.invoke(victim, payload: event)
            async let forged = runtime.invoke(attacker, payload: event)
            let (victimResult, attackerResult) = try await (real, forged)
            #expect(victimResult.text == #"{"real": true}"#, "\(victimResult.log)")
            #expect(victimResult.functionError == nil)
            for kind in ["response", "error"] {
                let answer = attackerResult.json[kind] as? [Any] ?? []
                #expect(answer.first as? Int == 403, "\(kind): \(attackerResult.text) \(attackerResult.log)")
                let body = answer.last as? [String: Any] ?? [:]
                #expect(body["errorType"] as? String == "AccessDeniedException")
                #expect((body["errorMessage"] as? String ?? "").hasPrefix("Only the execution environment of victim:$LATEST may answer invocation "))
            }
        }
    }
}
