import Foundation
import Testing
@testable import Runtime

/// The front door's events against AWS's published sample events (Fixtures/http-events, source in its README):
/// each test sends the request the sample records and compares the event the function received, field by field.
@Suite("Front door event shapes against AWS's samples", .serialized)
struct FrontDoorEventShapeTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/http-events")

    static func sample(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: folder.appendingPathComponent(name))
        return try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// Values that differ per request or per API (ids, times, addresses): present, any value.
    static let perRequest: Set<String> = [
        "requestContext.accountId", "requestContext.apiId", "requestContext.domainName", "requestContext.domainPrefix",
        "requestContext.requestId", "requestContext.extendedRequestId", "requestContext.requestTime", "requestContext.requestTimeEpoch",
        "requestContext.time", "requestContext.timeEpoch", "requestContext.resourceId", "requestContext.identity.sourceIp",
        "requestContext.http.sourceIp",
        // Caller identity is filled by IAM or Cognito authorization, which shift does not run: present, null here.
        "requestContext.identity.cognitoIdentityPoolId", "requestContext.identity.accountId", "requestContext.identity.cognitoIdentityId",
        "requestContext.identity.caller", "requestContext.identity.apiKey", "requestContext.identity.apiKeyId",
        "requestContext.identity.accessKey", "requestContext.identity.cognitoAuthenticationType",
        "requestContext.identity.cognitoAuthenticationProvider", "requestContext.identity.userArn", "requestContext.identity.user",
    ]
    /// Parts of the samples made by AWS features shift does not run (authorizers, mutual TLS).
    static let notRun: Set<String> = ["requestContext.authorizer", "requestContext.authentication"]

    /// Every field of `expected` is in `actual` with the same value (header names case-insensitively when asked),
    /// except `perRequest` (present) and `notRun` (skipped); `actual` may hold more.
    static func differences(_ expected: Any, _ actual: Any?, at path: String = "", headerCase: Bool = false) -> [String] {
        if notRun.contains(path) { return [] }
        guard let actual else { return ["\(path) is missing"] }
        if perRequest.contains(path) { return [] }
        if let object = expected as? [String: Any] {
            guard let other = actual as? [String: Any] else { return ["\(path) is \(actual), not an object"] }
            let folds = headerCase && (path == "headers" || path == "multiValueHeaders")
            return object.flatMap { key, value -> [String] in
                let match = folds ? other.first { $0.key.lowercased() == key.lowercased() }?.value : other[key]
                return differences(value, match, at: path.isEmpty ? key : "\(path).\(key)", headerCase: headerCase)
            }
        }
        return (expected as? NSObject)?.isEqual(actual) == true ? [] : ["\(path): expected \(expected), got \(actual)"]
    }

    /// Sends `request` to a front door whose only route is `route` (to `echo`), and returns the event echo received.
    static func event(_ route: FrontDoorRoute, _ method: String, _ target: String, headers: [(String, String)], body: String = "") async throws -> [String: Any] {
        var received: [String: Any] = [:]
        try await withFrontDoor([route]) { door in
            let response = try await door.request(method, target, headers: headers, body: Array(body.utf8))
            #expect(response.status == 200, "\(response.text)")
            received = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
        }
        return received
    }

    static func headers(of sample: [String: Any], _ key: String = "headers") -> [(String, String)] {
        if let single = sample[key] as? [String: String] { return single.map { ($0.key, $0.value) } }
        let multi = sample[key] as? [String: [String]] ?? [:]
        return multi.flatMap { name, values in values.map { (name, $0) } }
    }

    @Test func restApiPayload10MatchesTheSample() async throws {
        let sample = try Self.sample("apigw-request.json")
        let route = FrontDoorRoute(kind: .restApi, apiId: "gy415nuibc", stage: "testStage", method: "ANY", path: "/{proxy+}", function: "echo",
                                   stageVariables: ["stageVariableName": "stageVariableValue"])
        let event = try await Self.event(route, "POST", "/hello/world?name=me", headers: Self.headers(of: sample), body: sample["body"] as! String)
        #expect(Self.differences(sample, event) == [])
        #expect(event["isBase64Encoded"] as? Bool == false)
        #expect((event["requestContext"] as? [String: Any])?["path"] as? String == "/testStage/hello/world")
    }

    @Test func httpApiPayload20MatchesTheSample() async throws {
        let sample = try Self.sample("apigw-v2-request.json")
        let route = FrontDoorRoute(kind: .httpApi(payloadVersion: .v2), apiId: "api-id", stage: "$default", function: "echo",
                                   stageVariables: ["stageVariable1": "value1", "stageVariable2": "value2"])
        let headers = Self.headers(of: sample) + [("Cookie", "cookie1; cookie2"), ("User-Agent", "agent"), ("Content-Type", "application/json")]
        var event = try await Self.event(route, "GET", "/my/path?parameter1=value1&parameter1=value2&parameter2=value", headers: headers,
                                         body: sample["body"] as! String)
        // The sample pairs `$default` with a `{proxy+}` parameter, which no route can give: checked in the routing tests.
        var expected = sample
        expected["pathParameters"] = nil
        #expect(Self.differences(expected, event, headerCase: true) == [])
        #expect((event["headers"] as? [String: String])?.keys.allSatisfy { $0 == $0.lowercased() } == true)
        event["cookies"] = nil
        #expect((event["headers"] as? [String: String])?["cookie"] == nil, "cookies travel in `cookies`, not in headers")
    }

    @Test func httpApiDefaultRouteWithoutBodyMatchesTheSample() async throws {
        let sample = try Self.sample("apigw-v2-request-no-authorizer.json")
        let route = FrontDoorRoute(kind: .httpApi(payloadVersion: .v2), apiId: "aaaaaaaaaa", stage: "$default", function: "echo")
        let event = try await Self.event(route, "GET", "/", headers: Self.headers(of: sample))
        #expect(Self.differences(sample, event) == [])
        #expect(event["body"] == nil && event["queryStringParameters"] == nil && event["cookies"] == nil)
    }

    @Test func functionURLMatchesTheSample() async throws {
        let sample = try Self.sample("lambda-urls-request.json")
        let route = FrontDoorRoute(kind: .functionUrl, apiId: "urlid", stage: "$default", function: "echo")
        let headers = [("header1", "value1"), ("header2", "value1"), ("header2", "value2"), ("Cookie", "cookie1; cookie2"),
                       ("User-Agent", "agent"), ("Content-Type", "text/plain")]
        let event = try await Self.event(route, "POST", "/my/path?parameter1=value1&parameter1=value2&parameter2=value", headers: headers,
                                         body: sample["body"] as! String)
        #expect(Self.differences(sample, event) == [])
        #expect(event["pathParameters"] == nil)
    }

    @Test(arguments: [("alb-lambda-target-request-multivalue-headers.json", true), ("alb-lambda-target-request-headers-only.json", false)])
    func loadBalancerMatchesTheSample(file: String, multiValue: Bool) async throws {
        let sample = try Self.sample(file)
        let arn = try #require(((sample["requestContext"] as? [String: Any])?["elb"] as? [String: Any])?["targetGroupArn"] as? String)
        let route = FrontDoorRoute(kind: .loadBalancer(targetGroupArn: arn, multiValueHeaders: multiValue), apiId: "tg", stage: "$default", function: "echo")
        let event = try await Self.event(route, "GET", "/?key=hello", headers: Self.headers(of: sample, multiValue ? "multiValueHeaders" : "headers"))
        #expect(Self.differences(sample, event) == [])
        // With multi-value headers on, only the multi-value forms arrive (and the other way round).
        #expect((event["headers"] == nil) == multiValue && (event["queryStringParameters"] == nil) == multiValue)
        #expect((event["multiValueHeaders"] == nil) != multiValue)
    }
}
