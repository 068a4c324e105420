import Foundation
import Testing
@testable import Runtime

/// A raw `http.client` runtime that probes the Runtime API's contract and reports what it saw.
private func probeBootstrap(python: String) -> String {
    """
    #!\(python)
    import os, json, time, http.client
    api = os.environ["AWS_LAMBDA_RUNTIME_API"]
    def req(method, path, body=None, headers={}):
        c = http.client.HTTPConnection(api)
        c.request(method, "/2018-06-01/runtime/" + path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read().decode()
        c.close()
        return {"status": r.status, "body": data, "headers": {k.lower(): v for k, v in r.getheaders()}}
    previous = None
    big = None
    while True:
        n = req("GET", "invocation/next")
        rid = n["headers"]["lambda-runtime-aws-request-id"]
        event = json.loads(n["body"])
        report = {"next": n, "now": int(time.time() * 1000)}
        if event == "probe":
            report["bogus"] = req("POST", "invocation/not-a-request/response", b"{}")
            report["initError"] = req("POST", "init/error", b"{}")
            report["secondNext"] = req("GET", "invocation/next")
            if previous:
                report["answerTwice"] = req("POST", "invocation/%s/response" % previous, b"{}")
            report["bigAnswer"] = big
            req("POST", "invocation/%s/response" % rid, json.dumps(report).encode())
        elif event == "big":
            big = req("POST", "invocation/%s/response" % rid, b"x" * 6291557)
        else:
            req("POST", "invocation/%s/error" % rid, json.dumps({"errorMessage": "custom", "errorType": "MyError", "stackTrace": []}).encode(), {"Lambda-Runtime-Function-Error-Type": "MyError"})
        previous = rid
    """
}

@Suite struct RuntimeAPIContractTests {
    @Test func nextHeadersAndStateErrors() async throws {
        let fixtures = try FixtureFolder()
        let python = try await resolvedPython()
        let code = try fixtures.write("fn", ["bootstrap": probeBootstrap(python: python)], executable: ["bootstrap"])
        let config = FunctionConfiguration(functionName: "probe", version: "7", runtime: "provided.al2023", codeDirectory: code, timeout: 10)
        try await withLocalRuntime(options: testOptions()) { runtime in
            let failed = try await runtime.invoke(config, payload: bytes("\"fail\""))
            #expect(failed.functionError == "Unhandled")
            #expect(failed.errorType == "MyError")
            #expect(failed.json["errorMessage"] as? String == "custom")

            let big = try await runtime.invoke(config, payload: bytes("\"big\""))
            #expect(big.errorType == "Function.ResponseSizeTooLarge")

            let result = try await runtime.invoke(
                config, payload: bytes("\"probe\""), requestId: "probe-req",
                clientContext: #"{"custom":{"k":"v"}}"#, cognitoIdentity: #"{"cognitoIdentityId":"id-1"}"#,
                invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:probe:live")
            #expect(result.functionError == nil, "\(result.text)\n\(result.log)")
            let report = result.json
            let next = report["next"] as? [String: Any] ?? [:]
            let headers = next["headers"] as? [String: String] ?? [:]
            #expect(headers["lambda-runtime-aws-request-id"] == "probe-req")
            #expect(headers["lambda-runtime-invoked-function-arn"] == "arn:aws:lambda:us-east-1:123456789012:function:probe:live")
            #expect(headers["lambda-runtime-trace-id"]?.hasPrefix("Root=1-") == true)
            #expect(headers["lambda-runtime-client-context"] == #"{"custom":{"k":"v"}}"#)
            #expect(headers["lambda-runtime-cognito-identity"] == #"{"cognitoIdentityId":"id-1"}"#)
            let deadline = Int(headers["lambda-runtime-deadline-ms"] ?? "") ?? 0
            let now = report["now"] as? Int ?? 0
            #expect(deadline - now > 9000 && deadline - now <= 10000)

            let bogus = report["bogus"] as? [String: Any] ?? [:]
            #expect(bogus["status"] as? Int == 400)
            #expect((bogus["body"] as? String)?.contains("InvalidRequestID") == true)
            let initError = report["initError"] as? [String: Any] ?? [:]
            #expect(initError["status"] as? Int == 403)
            #expect((initError["body"] as? String)?.contains("InvalidStateTransition") == true)
            let secondNext = report["secondNext"] as? [String: Any] ?? [:]
            #expect(secondNext["status"] as? Int == 403)
            let twice = report["answerTwice"] as? [String: Any] ?? [:]
            #expect(twice["status"] as? Int == 403)
            let bigAnswer = report["bigAnswer"] as? [String: Any] ?? [:]
            #expect(bigAnswer["status"] as? Int == 413)
            #expect(bigAnswer["body"] as? String == #"{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).","errorType":"RequestEntityTooLarge"}"#)
            #expect(result.environmentId == failed.environmentId)
        }
    }

    @Test func acceptedBodyIsStatusOK() async throws {
        let fixtures = try FixtureFolder()
        let python = try await resolvedPython()
        let code = try fixtures.write("fn", ["bootstrap": """
            #!\(python)
            import os, http.client, json
            api = os.environ["AWS_LAMBDA_RUNTIME_API"]
            c = http.client.HTTPConnection(api)
            seen = None
            while True:
                c.request("GET", "/2018-06-01/runtime/invocation/next")
                r = c.getresponse(); r.read()
                rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
                c.request("POST", "/2018-06-01/runtime/invocation/%s/response" % rid, body=json.dumps(seen).encode())
                r = c.getresponse()
                seen = [r.status, r.read().decode()]
            """], executable: ["bootstrap"])
        let config = FunctionConfiguration(functionName: "accepted", runtime: "provided.al2023", codeDirectory: code)
        try await withLocalRuntime(options: testOptions()) { runtime in
            _ = try await runtime.invoke(config, payload: bytes("{}"))
            let second = try await runtime.invoke(config, payload: bytes("{}"))
            #expect(second.text == #"[202, "{\"status\":\"OK\"}"]"#)
        }
    }
}
