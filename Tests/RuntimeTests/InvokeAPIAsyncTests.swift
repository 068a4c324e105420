import Foundation
import Testing
@testable import Runtime

/// Event invocations: retries on the (fast) service clock, destinations, dead-letter records.
@Suite("Invoke API asynchronous invocations")
struct InvokeAPIAsyncTests {
    /// 6000× faster: a one-minute retry delay takes 10 ms.
    static let fast = 6000.0

    static func failing(_ code: String, _ config: AsyncInvokeConfig) -> FunctionDefinition {
        FunctionDefinition(latest: FunctionConfiguration(functionName: "flaky", runtime: "python3.12", handler: "app.fail", codeDirectory: code), asyncConfig: config)
    }

    @Test func functionErrorsAreRetriedThenSentToOnFailure() async throws {
        let config = AsyncInvokeConfig(maximumRetryAttempts: 2, onFailure: .other("arn:aws:sqs:us-east-1:123456789012:failures"))
        try await withInvokeAPI(timeScale: Self.fast, definitions: { code, _ in [Self.failing(code, config)] }) { api in
            let started = ContinuousClock.now
            let response = try await api.invoke("flaky", #"{"order": 7}"#, headers: [("X-Amz-Invocation-Type", "Event")])
            #expect(response.status == 202)
            await api.service.waitUntilEventQueueIdle()
            #expect(ContinuousClock.now - started < .seconds(20))
            let totals = api.metrics.totals(metric: .invocations).filter { $0.key.functionName == "flaky" }
            #expect(totals.values.reduce(0, +) == 3)  // the first attempt and two retries
            #expect(api.metrics.totals(metric: .errors).filter { $0.key.functionName == "flaky" }.values.reduce(0, +) == 3)
            let records = try await api.store.deadLetters(function: "flaky")
            #expect(records.count == 1)
            let record = try #require(records.first)
            #expect(record.condition == "RetriesExhausted")
            #expect(record.errorType == "OnFailure")
            #expect(record.errorMessage == "arn:aws:sqs:us-east-1:123456789012:failures")
            #expect(record.approximateInvokeCount == 3)
            let body = try #require(try JSONSerialization.jsonObject(with: record.payload) as? [String: Any])
            #expect(body["version"] as? String == "1.0")
            let context = try #require(body["requestContext"] as? [String: Any])
            #expect(context["condition"] as? String == "RetriesExhausted")
            #expect(context["approximateInvokeCount"] as? Int == 3)
            #expect(context["requestId"] as? String == response.headers["x-amzn-requestid"])
            #expect(context["functionArn"] as? String == "arn:aws:lambda:us-east-1:123456789012:function:flaky:$LATEST")
            #expect((body["requestPayload"] as? [String: Any])?["order"] as? Int == 7)
            let responseContext = try #require(body["responseContext"] as? [String: Any])
            #expect(responseContext["functionError"] as? String == "Unhandled")
            #expect(responseContext["executedVersion"] as? String == "$LATEST")
            #expect((body["responsePayload"] as? [String: Any])?["errorType"] as? String == "ValueError")
        }
    }

    @Test func onSuccessDeliversToALocalFunction() async throws {
        let config = AsyncInvokeConfig(onSuccess: .function("record"))
        try await withInvokeAPI(timeScale: Self.fast, definitions: { code, _ in
            [FunctionDefinition(latest: FunctionConfiguration(functionName: "source", runtime: "python3.12", handler: "app.echo", codeDirectory: code),
                                asyncConfig: config)]
        }) { api in
            _ = try await api.invoke("source", #"{"hello": "dest"}"#, headers: [("X-Amz-Invocation-Type", "Event")])
            await api.service.waitUntilEventQueueIdle()
            let events = try recordedEvents(api)
            #expect(events.count == 1)
            let record = try #require(events.first)
            #expect((record["requestContext"] as? [String: Any])?["condition"] as? String == "Success")
            #expect((record["requestPayload"] as? [String: Any])?["hello"] as? String == "dest")
            #expect((record["responseContext"] as? [String: Any])?["statusCode"] as? Int == 200)
            #expect(((record["responsePayload"] as? [String: Any])?["event"] as? [String: Any])?["hello"] as? String == "dest")
        }
    }

    @Test func deadLetterQueueKeepsTheEventAlone() async throws {
        let config = AsyncInvokeConfig(maximumRetryAttempts: 0, deadLetterTarget: "arn:aws:sqs:us-east-1:123456789012:dlq")
        try await withInvokeAPI(timeScale: Self.fast, definitions: { code, _ in [Self.failing(code, config)] }) { api in
            _ = try await api.invoke("flaky", #"{"keep": "me"}"#, headers: [("X-Amz-Invocation-Type", "Event")])
            await api.service.waitUntilEventQueueIdle()
            let records = try await api.store.deadLetters(function: "flaky")
            #expect(records.count == 1)
            #expect(records.first?.errorType == "ValueError")
            #expect(records.first?.errorMessage == "always fails")
            #expect(records.first?.approximateInvokeCount == 1)
            let event = try JSONSerialization.jsonObject(with: try #require(records.first?.payload)) as? [String: Any]
            #expect(event?["keep"] as? String == "me")
        }
    }

    @Test func throttledEventsBackOffUntilTooOld() async throws {
        let config = AsyncInvokeConfig(maximumEventAgeInSeconds: 60, onFailure: .function("record"))
        // 60×: the 60 s age limit is 1 s of real time, enough for the queue to start even on a busy machine.
        try await withInvokeAPI(timeScale: 60, definitions: { code, _ in
            [FunctionDefinition(latest: FunctionConfiguration(functionName: "blocked", runtime: "python3.12", handler: "app.echo", codeDirectory: code,
                                                              reservedConcurrency: 0), asyncConfig: config)]
        }) { api in
            _ = try await api.invoke("blocked", #"{"n": 1}"#, headers: [("X-Amz-Invocation-Type", "Event")])
            await api.service.waitUntilEventQueueIdle()
            // 1 + 2 + 4 + … s of backoff pass 60 s after 6 doublings: 7 throttles (fewer if the machine is slow), then EventAgeExceeded.
            let throttles = api.metrics.totals(metric: .throttles).filter { $0.key.functionName == "blocked" }.values.reduce(0, +)
            #expect((3...7).contains(throttles), "\(throttles) throttles")
            #expect(api.metrics.totals(metric: .invocations).filter { $0.key.functionName == "blocked" }.isEmpty)
            let record = try #require(try recordedEvents(api).first)
            let context = try #require(record["requestContext"] as? [String: Any])
            #expect(context["condition"] as? String == "EventAgeExceeded")
            #expect(context["approximateInvokeCount"] as? Int == 0)
        }
    }

    @Test func unknownDestinationFunctionCountsDeliveryFailure() async throws {
        let config = AsyncInvokeConfig(onSuccess: .function("not-here"))
        try await withInvokeAPI(timeScale: Self.fast, definitions: { code, _ in
            [FunctionDefinition(latest: FunctionConfiguration(functionName: "source", runtime: "python3.12", handler: "app.echo", codeDirectory: code),
                                asyncConfig: config)]
        }) { api in
            _ = try await api.invoke("source", headers: [("X-Amz-Invocation-Type", "Event")])
            await api.service.waitUntilEventQueueIdle()
            #expect(api.metrics.totals(metric: .destinationDeliveryFailures).filter { $0.key.functionName == "source" }.values.reduce(0, +) == 1)
        }
    }
}
