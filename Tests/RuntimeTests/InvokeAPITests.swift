import Foundation
import Testing
@testable import Runtime

@Suite("Invoke API over loopback HTTP")
struct InvokeAPITests {
    @Test func requestResponseAnswers200WithExecutedVersion() async throws {
        try await withInvokeAPI { api in
            let response = try await api.invoke("echo", #"{"n": 1}"#)
            #expect(response.status == 200)
            #expect(response.headers["x-amz-executed-version"] == "$LATEST")
            #expect(response.headers["x-amz-function-error"] == nil)
            #expect(response.headers["x-amzn-requestid"]?.isEmpty == false)
            #expect((response.json["event"] as? [String: Any])?["n"] as? Int == 1)
        }
    }

    @Test func functionErrorIs200WithUnhandled() async throws {
        try await withInvokeAPI { api in
            let response = try await api.invoke("fail")
            #expect(response.status == 200)
            #expect(response.headers["x-amz-function-error"] == "Unhandled")
            #expect(response.json["errorType"] as? String == "ValueError")
            #expect(response.json["errorMessage"] as? String == "always fails")
        }
    }

    @Test func eventIs202AndRunsLater() async throws {
        try await withInvokeAPI { api in
            let response = try await api.invoke("record", #"{"queued": true}"#, headers: [("X-Amz-Invocation-Type", "Event")])
            #expect(response.status == 202)
            #expect(response.body.isEmpty)
            await api.service.waitUntilEventQueueIdle()
            let events = try recordedEvents(api)
            #expect(events.count == 1)
            #expect(events.first?["queued"] as? Bool == true)
        }
    }

    @Test func dryRunIs204AndRunsNothing() async throws {
        try await withInvokeAPI { api in
            let response = try await api.invoke("record", headers: [("X-Amz-Invocation-Type", "DryRun")])
            #expect(response.status == 204)
            #expect(try recordedEvents(api).isEmpty)
            #expect(await api.runtime.environmentStatuses().isEmpty)
        }
    }

    @Test func unknownInvocationTypeIs400() async throws {
        try await withInvokeAPI { api in
            let response = try await api.invoke("echo", headers: [("X-Amz-Invocation-Type", "Sometime")])
            #expect(response.status == 400)
            #expect(response.headers["x-amzn-errortype"] == "InvalidParameterValueException")
        }
    }

    @Test func tailLogReturnsBase64Log() async throws {
        try await withInvokeAPI { api in
            let response = try await api.invoke("echo", headers: [("X-Amz-Log-Type", "Tail")])
            let encoded = try #require(response.headers["x-amz-log-result"])
            let log = String(decoding: try #require(Data(base64Encoded: encoded)), as: UTF8.self)
            #expect(log.contains("START RequestId: "))
            #expect(log.contains("echo says hi"))
            #expect(log.contains("REPORT RequestId: "))
        }
    }

    @Test func unknownFunctionIs404WithAWSErrorBody() async throws {
        try await withInvokeAPI { api in
            let response = try await api.invoke("nope")
            #expect(response.status == 404)
            #expect(response.headers["x-amzn-errortype"] == "ResourceNotFoundException")
            #expect(response.json["Type"] as? String == "User")
            #expect((response.json["Message"] as? String)?.hasPrefix("Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope") == true)
            #expect(response.json["message"] as? String == response.json["Message"] as? String)
        }
    }

    @Test func invalidJSONIs400InvalidRequestContent() async throws {
        try await withInvokeAPI { api in
            let response = try await api.invoke("echo", #"{"broken": "#)
            #expect(response.status == 400)
            #expect(response.headers["x-amzn-errortype"] == "InvalidRequestContentException")
        }
    }

    @Test func oversizedPayloadsAre413() async throws {
        try await withInvokeAPI { api in
            let big = "\"" + String(repeating: "x", count: LocalRuntime.maximumRequestBytes) + "\""
            let sync = try await api.invoke("echo", big)
            #expect(sync.status == 413)
            #expect(sync.headers["x-amzn-errortype"] == "RequestEntityTooLargeException")
            // AWS's answer on the wire is RequestEntityTooLargeException (botocore's model names RequestTooLargeException).
            #expect(sync.headers["x-amzn-requestid"]?.isEmpty == false)
            // Asynchronous: 1 MB is accepted (the limit before 2025 was 256 KB), one byte more is not.
            let fits = "\"" + String(repeating: "x", count: LambdaService.maximumEventBytes - 2) + "\""
            #expect(LambdaService.maximumEventBytes == 1_048_576)
            #expect(try await api.invoke("echo", fits, headers: [("X-Amz-Invocation-Type", "Event")]).status == 202)
            let event = "\"" + String(repeating: "x", count: LambdaService.maximumEventBytes - 1) + "\""
            let async = try await api.invoke("echo", event, headers: [("X-Amz-Invocation-Type", "Event")])
            #expect(async.status == 413)
            #expect(async.headers["x-amzn-errortype"] == "RequestEntityTooLargeException")
            // The connection and the server survive both.
            #expect(try await api.invoke("echo").status == 200)
        }
    }

    @Test func throttledIs429() async throws {
        try await withInvokeAPI { api in
            let response = try await api.invoke("throttled")
            #expect(response.status == 429)
            #expect(response.headers["x-amzn-errortype"] == "TooManyRequestsException")
            // AWS's body: botocore's TooManyRequestsException shape (Type, message, Reason).
            let body = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
            #expect(body["Type"] as? String == "User")
            #expect(body["Reason"] as? String == "ReservedFunctionConcurrentInvocationLimitExceeded")
            #expect((body["message"] as? String)?.hasPrefix("Rate Exceeded. throttled has ReservedConcurrentExecutions 0") == true, "\(body)")
            let throttles = api.metrics.totals(metric: .throttles)
            #expect(throttles.values.reduce(0, +) == 1)
        }
    }

    @Test func runtimeFailureIs500ServiceException() async throws {
        try await withInvokeAPI(configure: { $0.pythonCommand = "/nonexistent/python3" }) { api in
            let response = try await api.invoke("echo")
            #expect(response.status == 500)
            #expect(response.headers["x-amzn-errortype"] == "ServiceException")
            #expect(response.json["Type"] as? String == "Service")
        }
    }

    @Test(arguments: [
        ("echo%3Apinned", nil as String?),
        ("echo", "pinned"),
        ("arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aecho%3Apinned", nil),
        ("123456789012%3Afunction%3Aecho", "pinned"),
    ])
    func functionNameForms(path: String, qualifier: String?) async throws {
        try await withInvokeAPI { api in
            #expect(try await api.http("POST", "/2015-03-31/functions/echo/versions", json: "{}").status == 201)
            #expect(try await api.http("POST", "/2015-03-31/functions/echo/aliases", json: #"{"Name":"pinned","FunctionVersion":"1"}"#).status == 201)
            let query = qualifier.map { "?Qualifier=\($0)" } ?? ""
            let response = try await api.http("POST", "/2015-03-31/functions/\(path)/invocations\(query)", json: "{}")
            #expect(response.status == 200)
            #expect(response.headers["x-amz-executed-version"] == "1")
            #expect(response.json["arn"] as? String == "arn:aws:lambda:us-east-1:123456789012:function:echo:pinned")
        }
    }

    @Test func conflictingQualifiersAre400() async throws {
        try await withInvokeAPI { api in
            let response = try await api.http("POST", "/2015-03-31/functions/echo%3Aa/invocations?Qualifier=b", json: "{}")
            #expect(response.status == 400)
            #expect(response.headers["x-amzn-errortype"] == "InvalidParameterValueException")
        }
    }

    @Test func badRequestsEndOnlyTheirConnection() async throws {
        try await withInvokeAPI { api in
            // Garbage on a raw socket: the server answers 400 or closes, and keeps serving others.
            let port = api.port
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                Thread {
                    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                    var address = sockaddr_in()
                    address.sin_family = sa_family_t(AF_INET)
                    address.sin_port = in_port_t(UInt16(port).bigEndian)
                    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
                    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
                    let junk = Array("NOT HTTP AT ALL\r\n\u{0}\u{1}\u{2}\r\n\r\n".utf8)
                    _ = junk.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    var buffer = [UInt8](repeating: 0, count: 512)
                    _ = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                    close(fd)
                    continuation.resume()
                }.start()
            }
            #expect(try await api.invoke("echo").status == 200)
        }
    }

    @Test func keepAliveServesManyRequestsOnOneConnection() async throws {
        try await withInvokeAPI { api in
            let port = api.port
            let statuses: [Int] = try await withCheckedThrowingContinuation { continuation in
                Thread {
                    let client = LoopbackHTTPClient(port: port)
                    do {
                        var statuses: [Int] = []
                        for _ in 0..<50 { statuses.append(try client.request("POST", "/2015-03-31/functions/echo/invocations", body: Array("{}".utf8)).status) }
                        continuation.resume(returning: statuses)
                    } catch { continuation.resume(throwing: error) }
                }.start()
            }
            #expect(statuses == Array(repeating: 200, count: 50))
            #expect(api.metrics.totals(metric: .invocations).values.reduce(0, +) == 50)
        }
    }

    @Test func metricsEndpointServesPrometheusText() async throws {
        try await withInvokeAPI { api in
            _ = try await api.invoke("echo")
            let response = try await api.http("GET", "/metrics")
            #expect(response.status == 200)
            #expect(response.headers["content-type"]?.hasPrefix("text/plain") == true)
            #expect(response.text.contains(#"shift_lambda_invocations_total{function_name="echo",resource="echo",executed_version="$LATEST"} 1"#))
        }
    }

    @Test func logsReachTheStateStore() async throws {
        try await withInvokeAPI { api in
            let response = try await api.invoke("echo")
            let requestId = try #require(response.headers["x-amzn-requestid"])
            try await api.logs.flush()
            let lines = try await api.store.logs(function: "echo", requestId: requestId)
            #expect(lines.map(\.message).contains("echo says hi"))
            #expect(lines.first?.message.hasPrefix("START RequestId: \(requestId)") == true)
            #expect(lines.last?.message.hasPrefix("REPORT RequestId: \(requestId)") == true)
            #expect(lines.allSatisfy { $0.stream.contains("/[$LATEST]") })
        }
    }
}
