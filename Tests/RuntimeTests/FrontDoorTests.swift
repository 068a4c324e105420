import Foundation
import Testing
@testable import Runtime

/// The front door over real HTTP on port 0: routing, multi-value fields, cookies, binary bodies, errors, limits.
@Suite("Front door", .serialized)
struct FrontDoorTests {
    static let rest = FrontDoorRoute(kind: .restApi, apiId: "restapi", stage: "Prod", method: "GET", path: "/echo", function: "echo")
    static let http = FrontDoorRoute(kind: .httpApi(payloadVersion: .v2), apiId: "httpapi", stage: "$default", method: "GET", path: "/v2/echo", function: "echo")

    @Test func repeatedHeadersAndQueryKeysArriveAsEachFormatSendsThem() async throws {
        let alb = FrontDoorRoute(kind: .loadBalancer(targetGroupArn: "arn:tg", multiValueHeaders: true), apiId: "tg", stage: "$default",
                                 pathPatterns: ["/alb*"], function: "echo")
        try await withFrontDoor([Self.rest, Self.http, alb]) { door in
            let headers = [("Host", "localhost"), ("X-A", "1"), ("X-A", "2")]
            let rest = try await Self.echoed(door, "/echo?x=1&x=2&y=a%20b", headers: headers)
            #expect(rest["headers"] as? [String: String] == ["Host": "localhost", "X-A": "2"])
            #expect(rest["multiValueHeaders"] as? [String: [String]] == ["Host": ["localhost"], "X-A": ["1", "2"]])
            #expect(rest["queryStringParameters"] as? [String: String] == ["x": "2", "y": "a b"])
            #expect(rest["multiValueQueryStringParameters"] as? [String: [String]] == ["x": ["1", "2"], "y": ["a b"]])
            let v2 = try await Self.echoed(door, "/v2/echo?x=1&x=2", headers: headers)
            #expect(v2["headers"] as? [String: String] == ["host": "localhost", "x-a": "1,2"])
            #expect(v2["queryStringParameters"] as? [String: String] == ["x": "1,2"])
            #expect(v2["rawQueryString"] as? String == "x=1&x=2")
            let balancer = try await Self.echoed(door, "/alb/x?k=1&k=2&s=a%20b", headers: headers)
            #expect(balancer["multiValueQueryStringParameters"] as? [String: [String]] == ["k": ["1", "2"], "s": ["a%20b"]])
            // A load balancer passes `Connection` on; API Gateway drops it.
            #expect(balancer["multiValueHeaders"] as? [String: [String]] == ["host": ["localhost"], "x-a": ["1", "2"], "connection": ["close"]])
        }
    }

    static func echoed(_ door: FrontDoorHarness, _ target: String, method: String = "GET", headers: [(String, String)] = [("Host", "localhost")],
                       body: [UInt8] = []) async throws -> [String: Any] {
        let response = try await door.request(method, target, headers: headers, body: body)
        #expect(response.status == 200, "\(target): \(response.status) \(response.text)")
        return (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
    }

    @Test func responseHeadersCookiesAndStatusComeBackAsEachFormatMapsThem() async throws {
        let v2 = FrontDoorRoute(kind: .httpApi(payloadVersion: .v2), apiId: "h", stage: "$default", method: "GET", path: "/v2", function: "headers")
        let v1 = FrontDoorRoute(kind: .restApi, apiId: "r", stage: "Prod", method: "GET", path: "/v1", function: "headers")
        try await withFrontDoor([v1, v2]) { door in
            let second = try await door.request("GET", "/v2")
            #expect(second.status == 201)
            #expect(second.values("Set-Cookie") == ["c1=v1; Path=/", "c2=v2"])
            #expect(second.values("X-Multi") == ["a", "b"] && second.values("X-Single") == ["one"])
            #expect(second.text == "ok")
            #expect(second.values("x-amzn-RequestId").count == 1)
            // Payload 1.0 has no `cookies`: they are ignored, as API Gateway ignores them.
            let first = try await door.request("GET", "/v1")
            #expect(first.status == 201 && first.values("Set-Cookie").isEmpty && first.values("X-Multi") == ["a", "b"])
        }
    }

    @Test func binaryBodiesRoundTripBase64Encoded() async throws {
        let v2 = FrontDoorRoute(kind: .httpApi(payloadVersion: .v2), apiId: "h", stage: "$default", method: "POST", path: "/bin", function: "binary")
        let rest = FrontDoorRoute(kind: .restApi, apiId: "r", stage: "Prod", method: "POST", path: "/rest-bin", function: "binary",
                                  binaryMediaTypes: ["application/octet-stream"])
        let restEcho = FrontDoorRoute(kind: .restApi, apiId: "r", stage: "Prod", method: "POST", path: "/rest-echo", function: "echo",
                                      binaryMediaTypes: ["image/*"])
        let bytes = (0..<1024).map { UInt8(truncatingIfNeeded: $0 * 7) }
        try await withFrontDoor([v2, rest, restEcho]) { door in
            let headers = [("Host", "localhost"), ("Content-Type", "application/octet-stream")]
            for path in ["/bin", "/rest-bin"] {
                let response = try await door.request("POST", path, headers: headers, body: bytes)
                #expect(response.status == 200, "\(path): \(response.text)")
                #expect(response.body == Array(bytes.reversed()), "\(path)")
            }
            let image = try await Self.echoed(door, "/rest-echo", method: "POST", headers: [("Host", "x"), ("Content-Type", "image/png")], body: [0, 1, 2, 255])
            #expect(image["isBase64Encoded"] as? Bool == true && image["body"] as? String == "AAEC/w==")
            let text = try await Self.echoed(door, "/rest-echo", method: "POST", headers: [("Host", "x"), ("Content-Type", "text/plain")], body: Array("hi".utf8))
            #expect(text["isBase64Encoded"] as? Bool == false && text["body"] as? String == "hi")
        }
    }

    @Test func pathParametersGreedyPathsAndPrecedence() async throws {
        let routes = [
            FrontDoorRoute(kind: .restApi, apiId: "r", stage: "Prod", method: "GET", path: "/users/{id}", function: "echo"),
            FrontDoorRoute(kind: .restApi, apiId: "r", stage: "Prod", method: "GET", path: "/users/me", function: "bare"),
            FrontDoorRoute(kind: .restApi, apiId: "r", stage: "Prod", method: "ANY", path: "/files/{proxy+}", function: "echo"),
            FrontDoorRoute(kind: .restApi, apiId: "r", stage: "Prod", method: "DELETE", path: "/files/{proxy+}", function: "fail"),
            FrontDoorRoute(kind: .restApi, apiId: "r", stage: "Prod", method: "GET", path: "/users/{id}/orders/{order}", function: "echo"),
        ]
        try await withFrontDoor(routes) { door in
            let user = try await Self.echoed(door, "/users/42")
            #expect(user["pathParameters"] as? [String: String] == ["id": "42"] && user["resource"] as? String == "/users/{id}")
            let order = try await Self.echoed(door, "/users/a%20b/orders/7")
            #expect(order["pathParameters"] as? [String: String] == ["id": "a b", "order": "7"])
            // A literal segment beats a parameter.
            let me = try await door.request("GET", "/users/me")
            #expect(me.status == 502, "bare is not a 1.0 response: the literal route was chosen")
            let file = try await Self.echoed(door, "/files/a/b/c.txt", method: "PUT")
            #expect(file["pathParameters"] as? [String: String] == ["proxy": "a/b/c.txt"] && file["httpMethod"] as? String == "PUT")
            #expect(try await door.request("DELETE", "/files/x").status == 502, "an exact method beats ANY")
            // The deployed URL's stage prefix works too, and is not part of `path`.
            let staged = try await Self.echoed(door, "/Prod/users/9")
            #expect(staged["path"] as? String == "/users/9" && (staged["requestContext"] as? [String: Any])?["path"] as? String == "/Prod/users/9")
            // REST APIs answer unknown routes (and known paths with another method) with 403.
            for (method, path) in [("GET", "/nowhere"), ("POST", "/users/1"), ("GET", "/files")] {
                let missing = try await door.request(method, path)
                #expect(missing.status == 403 && missing.text == #"{"message":"Missing Authentication Token"}"#, "\(method) \(path)")
            }
        }
        let httpRoutes = [FrontDoorRoute(kind: .httpApi(payloadVersion: .v2), apiId: "h", stage: "$default", method: "GET", path: "/pets/{id}", function: "echo")]
        try await withFrontDoor(httpRoutes) { door in
            let pet = try await Self.echoed(door, "/pets/7")
            #expect(pet["routeKey"] as? String == "GET /pets/{id}" && pet["pathParameters"] as? [String: String] == ["id": "7"])
            let missing = try await door.request("GET", "/cats/7")
            #expect(missing.status == 404 && missing.text == #"{"message":"Not Found"}"#)
        }
    }

    @Test func defaultRouteAndFunctionURLsCatchWhatNoRouteMatches() async throws {
        let routes = [
            FrontDoorRoute(kind: .httpApi(payloadVersion: .v2), apiId: "h", stage: "$default", method: "GET", path: "/exact", function: "bare"),
            FrontDoorRoute(kind: .httpApi(payloadVersion: .v2), apiId: "h", stage: "$default", function: "echo"),
            FrontDoorRoute(kind: .functionUrl, apiId: "u", stage: "$default", function: "headers"),
        ]
        try await withFrontDoor(routes) { door in
            #expect(try await door.request("GET", "/exact").text == "just text")
            let fallback = try await Self.echoed(door, "/anything/else")
            #expect(fallback["routeKey"] as? String == "$default")
            // A Host naming the function picks its URL, as `curl http://headers.localhost:PORT/` does.
            #expect(try await door.request("GET", "/exact", headers: [("Host", "headers.localhost:3000")]).status == 201)
        }
    }

    @Test func functionFailuresBecomeGatewayErrors() async throws {
        let routes = ["fail", "malformed", "slow"].map {
            FrontDoorRoute(kind: .restApi, apiId: "r", stage: "Prod", method: "GET", path: "/\($0)", function: $0)
        } + [
            FrontDoorRoute(kind: .loadBalancer(targetGroupArn: "arn:tg", multiValueHeaders: false), apiId: "tg", stage: "$default",
                           pathPatterns: ["/alb/*"], function: "fail"),
            FrontDoorRoute(kind: .httpApi(payloadVersion: .v2), apiId: "h", stage: "$default", method: "GET", path: "/bare", function: "bare"),
            FrontDoorRoute(kind: .httpApi(payloadVersion: .v2), apiId: "h", stage: "$default", method: "GET", path: "/v2fail", function: "fail"),
        ]
        try await withFrontDoor(routes) { door in
            for path in ["/fail", "/malformed", "/slow", "/v2fail"] {
                let response = try await door.request("GET", path)
                #expect(response.status == 502 && response.text == #"{"message":"Internal server error"}"#, "\(path): \(response.text)")
            }
            let balancer = try await door.request("GET", "/alb/x")
            #expect(balancer.status == 502 && balancer.body.isEmpty)
            let failures = door.failures.all
            #expect(failures.contains { $0.contains("fail:$LATEST failed: ValueError: the front door test function fails") }, "\(failures)")
            #expect(failures.contains { $0.contains("malformed") && $0.contains("statusCode") }, "\(failures)")
            #expect(failures.contains { $0.contains("slow") && $0.contains("Timedout") }, "\(failures)")
            // Payload 2.0's shortcut: a bare string is a 200 with that text.
            let bare = try await door.request("GET", "/bare")
            #expect(bare.status == 200 && bare.text == "just text")
        }
    }

    @Test func oversizedBodiesGet413AndMalformedHTTPEndsOnlyItsConnection() async throws {
        let alb = FrontDoorRoute(kind: .loadBalancer(targetGroupArn: "arn:tg", multiValueHeaders: false), apiId: "tg", stage: "$default",
                                 pathPatterns: ["/alb"], function: "echo")
        let post = FrontDoorRoute(kind: .restApi, apiId: "r", stage: "Prod", method: "POST", path: "/echo", function: "echo")
        try await withFrontDoor([post, alb]) { door in
            let big = try await door.request("POST", "/echo", headers: [("Host", "x"), ("Content-Type", "text/plain")],
                                             body: [UInt8](repeating: 0x61, count: FrontDoorRouter.maximumBodyBytes + 1))
            #expect(big.status == 413 && big.text == #"{"message":"Request Entity Too Large"}"#)
            // Under API Gateway's 10 MB, but the event would be over Lambda's 6 MB.
            let overLambda = try await door.request("POST", "/echo", headers: [("Host", "x"), ("Content-Type", "text/plain")],
                                                    body: [UInt8](repeating: 0x61, count: 7_000_000))
            #expect(overLambda.status == 413)
            let balancer = try await door.request("POST", "/alb", headers: [("Host", "x"), ("Content-Type", "text/plain")],
                                                  body: [UInt8](repeating: 0x61, count: FrontDoorRouter.maximumLoadBalancerBodyBytes + 1))
            #expect(balancer.status == 413 && balancer.body.isEmpty)
            for garbage in ["NOT HTTP AT ALL\r\n\r\n", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n", "GET /\u{1}bad HTTP/9.9\r\n\r\n"] {
                let answer = try? await door.send(Array(garbage.utf8))
                #expect(answer == nil || answer!.status == 400, "\(garbage.debugDescription)")
            }
            let fine = try await door.request("POST", "/echo", headers: [("Host", "x"), ("Content-Type", "text/plain")], body: Array("still up".utf8))
            #expect(fine.status == 200 && fine.json["body"] as? String == "still up")
        }
    }
}
