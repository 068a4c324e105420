import Foundation
import Testing
@testable import Runtime

#if canImport(Glibc)
import Glibc
#endif

/// The Invoke API's warm path (`InvokeWarmPathHandler`): a synchronous call of a warm function is answered from the
/// connection's event loop, exactly as the general path answers it; everything else still reaches the general path.
@Suite("Invoke API warm path")
struct InvokeWarmPathTests {
    @Test func aWarmCallIsAnsweredLikeTheFirstColdOne() async throws {
        try await withInvokeAPI { api in
            let cold = try await api.invoke("echo", #"{"n":1}"#)
            #expect(api.service.warmPathAnswers == 0)
            let warm = try await api.invoke("echo", #"{"n":2}"#, headers: [("X-Amz-Log-Type", "Tail")])
            #expect(api.service.warmPathAnswers == 1)
            #expect(cold.status == 200 && warm.status == 200)
            for name in ["x-amzn-requestid", "x-amz-executed-version", "content-type", "date"] {
                #expect(warm.headers[name] != nil, "warm answer lacks \(name)")
            }
            #expect(warm.headers["x-amz-executed-version"] == cold.headers["x-amz-executed-version"])
            #expect(warm.headers["x-amzn-requestid"] != cold.headers["x-amzn-requestid"])
            #expect((warm.json["event"] as? [String: Any])?["n"] as? Int == 2)
            let log = String(decoding: Data(base64Encoded: warm.headers["x-amz-log-result"] ?? "") ?? Data(), as: UTF8.self)
            #expect(log.contains("echo says hi"))
            #expect(log.contains("REPORT RequestId: \(warm.headers["x-amzn-requestid"] ?? "?")"))
            // The log recorder and the metrics saw it as any other invocation.
            #expect(api.metrics.totals(metric: .invocations).values.reduce(0, +) == 2)
        }
    }

    @Test func anAliasIsServedWarmAndAWeightChangeAppliesToTheNextCall() async throws {
        try await withInvokeAPI { api in
            _ = try await api.http("POST", "/2015-03-31/functions/echo/versions", json: "{}")
            _ = try await api.service.store.publishVersion(
                function: "echo", configuration: VersionConfiguration(runtime: "python3.12", handler: "app.echo", environment: ["V": "2"]),
                code: .directory(URL(fileURLWithPath: api.fixtures.path + "/fn")))
            _ = try await api.http("POST", "/2015-03-31/functions/echo/aliases", json: #"{"Name":"live","FunctionVersion":"1"}"#)
            let live = "/2015-03-31/functions/echo/invocations?Qualifier=live"
            var executed: [String] = []
            for path in [live, live, "/2015-03-31/functions/echo%3Alive/invocations", "/2015-03-31/functions/echo:live/invocations"] {
                executed.append(try await api.http("POST", path, json: "{}").headers["x-amz-executed-version"] ?? "?")
            }
            #expect(executed == ["1", "1", "1", "1"])
            #expect(api.service.warmPathAnswers >= 2)  // the first call resolved the alias; the store's cache may expire (1 s)
            // Another process's change of the alias is just as immediate (the state directory's generation, see
            // StateResolutionCacheTests); here through this server's own API.
            let update = try await api.http("PUT", "/2015-03-31/functions/echo/aliases/live", json: #"{"FunctionVersion":"2"}"#)
            #expect(update.status == 200)
            let before = api.service.warmPathAnswers
            let after = try await api.http("POST", live, json: "{}")
            #expect(after.headers["x-amz-executed-version"] == "2")
            let warm = try await api.http("POST", live, json: "{}")
            #expect(warm.headers["x-amz-executed-version"] == "2")
            #expect(api.service.warmPathAnswers > before)
            let conflicting = try await api.http("POST", "/2015-03-31/functions/echo%3Alive/invocations?Qualifier=1", json: "{}")
            #expect(conflicting.status == 400)
        }
    }

    @Test func whatTheWarmPathDoesNotTakeIsAnsweredByTheGeneralPath() async throws {
        try await withInvokeAPI { api in
            _ = try await api.invoke("echo")  // warm from here on
            let notJSON = try await api.invoke("echo", "{not json")
            #expect(notJSON.status == 400)
            #expect(notJSON.headers["x-amzn-errortype"] == "InvalidRequestContentException")
            let event = try await api.invoke("echo", headers: [("X-Amz-Invocation-Type", "Event")])
            #expect(event.status == 202)
            let dryRun = try await api.invoke("echo", headers: [("X-Amz-Invocation-Type", "DryRun")])
            #expect(dryRun.status == 204)
            let missingAlias = try await api.http("POST", "/2015-03-31/functions/echo/invocations?Qualifier=nope", json: "{}")
            #expect(missingAlias.status == 404)
            let unknown = try await api.invoke("nope")
            #expect(unknown.status == 404)
            #expect(unknown.headers["x-amzn-errortype"] == "ResourceNotFoundException")
            let byArn = try await api.http("POST", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aecho/invocations", json: "{}")
            #expect(byArn.status == 200)
            let throttled = try await api.invoke("throttled")
            #expect(throttled.status == 429)
            #expect(api.service.warmPathAnswers == 0)
            await api.service.waitUntilEventQueueIdle()
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        try await withInvokeAPI { api in
            _ = try await api.invoke("echo")
            // Three requests in one write: a warm one, one for the general path, a warm one.
            func post(_ body: String, _ extra: String = "") -> String {
                "POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: x\r\n\(extra)Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
            }
            let request = post(#"{"n":1}"#) + post(#"{"n":2}"#, "X-Amz-Invocation-Type: DryRun\r\n") + post(#"{"n":3}"#)
            let text = try await rawExchange(port: api.port, request, responses: 3)
            let statuses = text.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix(3) }
            #expect(statuses == ["200", "204", "200"])
            let first = try #require(text.range(of: #""n": 1"#) ?? text.range(of: #""n":1"#))
            let third = try #require(text.range(of: #""n": 3"#) ?? text.range(of: #""n":3"#))
            #expect(first.lowerBound < third.lowerBound)
            #expect(api.service.warmPathAnswers == 2)
        }
    }

    @Test func stoppingTheServerLetsAWarmCallInFlightAnswer() async throws {
        let slowCode = """
        import os, time
        def slow(event, context):
            gate = os.path.join(os.environ["RECORD_DIR"], "gate")
            deadline = time.time() + 30  # a wait for the gate file, bounded: the test opens it
            while not os.path.exists(gate) and time.time() < deadline:
                time.sleep(0.005)
            return {"done": True}
        """
        try await withInvokeAPI(definitions: { _, fixtures in
            let code = (try? fixtures.write("slow", ["slow.py": slowCode])) ?? ""
            return [FunctionDefinition(latest: FunctionConfiguration(functionName: "slow", runtime: "python3.12", handler: "slow.slow", codeDirectory: code,
                                                                     environment: ["RECORD_DIR": fixtures.path + "/records"]))]
        }) { api in
            let gate = api.fixtures.path + "/records/gate"
            _ = FileManager.default.createFile(atPath: gate, contents: nil)
            let first = try await api.invoke("slow")
            #expect(first.status == 200, "\(first.text)")  // warm, on its own server below
            try FileManager.default.removeItem(atPath: gate)
            let server = try await InvokeAPIServer.bind(service: api.service)
            let port = server.port
            let answer = try await withThrowingTaskGroup(of: LoopbackHTTPClient.Response?.self) { group in
                group.addTask { try await server.run(); return nil }
                group.addTask {
                    try await withCheckedThrowingContinuation { continuation in
                        Thread {
                            let client = LoopbackHTTPClient(port: port)
                            defer { client.close() }
                            continuation.resume(with: Result { try client.request("POST", "/2015-03-31/functions/slow/invocations", body: Array("{}".utf8)) })
                        }.start()
                    }
                }
                try await waitUntil(.seconds(30)) { await api.runtime.environmentStatuses().contains { $0.functionName == "slow" && $0.isBusy } }
                #expect(api.service.warmPathAnswers == 0)
                await server.closeListener()
                group.cancelAll()  // the server stops while the call runs
                _ = FileManager.default.createFile(atPath: gate, contents: nil)
                var answer: LoopbackHTTPClient.Response?
                while let next = try await group.next() { if let next { answer = next } }
                return answer
            }
            #expect(answer?.status == 200)
            #expect(answer?.json["done"] as? Bool == true)
            #expect(api.service.warmPathAnswers == 1)
        }
    }
}

/// What the warm path keeps beside the actor: resolved configurations and an alias's draw.
/// The Invoke API's raw path (`InvokeRawPath`): warm calls are read and answered from the connection's bytes;
/// everything else is handed to NIO's HTTP handlers byte for byte, one request at a time, in order.
@Suite("Invoke API raw path")
struct InvokeRawPathTests {
    private func post(_ body: String, _ extra: String = "") -> String {
        "POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: x\r\n\(extra)Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
    }

    @Test func otherOperationsBetweenWarmCallsOnOneConnectionAreAnsweredInOrder() async throws {
        try await withInvokeAPI { api in
            _ = try await api.invoke("echo")
            let request = "GET /2015-03-31/functions/echo HTTP/1.1\r\nHost: x\r\n\r\n" + post(#"{"n":1}"#)
                + post(#"{"n":2}"#, "X-Amz-Invocation-Type: DryRun\r\n") + post(#"{"n":3}"#)
                + "GET /2015-03-31/functions/nope HTTP/1.1\r\nHost: x\r\n\r\n" + post(#"{"n":4}"#)
            let text = try await rawExchange(port: api.port, request, responses: 6)
            let statuses = text.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix(3) }
            #expect(statuses == ["200", "200", "204", "200", "404", "200"], "\(text)")
            #expect(text.contains(#""FunctionName":"echo""#) || text.contains(#""FunctionName": "echo""#))
            let order = [1, 3, 4].map { n in text.range(of: #""n": \#(n)"#) ?? text.range(of: #""n":\#(n)"#) }
            #expect(order.allSatisfy { $0 != nil })
            #expect(zip(order, order.dropFirst()).allSatisfy { $0!.lowerBound < $1!.lowerBound })
            #expect(api.service.warmPathAnswers == 3)
        }
    }

    @Test func aChunkedCallHandsTheConnectionToNIOAndItsWarmCallsStillAnswer() async throws {
        try await withInvokeAPI { api in
            _ = try await api.invoke("echo")
            let chunked = "POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "4\r\n{\"n\"\r\n3\r\n:1}\r\n0\r\n\r\n"
            let text = try await rawExchange(port: api.port, chunked + post(#"{"n":2}"#) + post(#"{"n":3}"#), responses: 3)
            let statuses = text.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix(3) }
            #expect(statuses == ["200", "200", "200"], "\(text)")
            let order = [1, 2, 3].map { n in text.range(of: #""n": \#(n)"#) ?? text.range(of: #""n":\#(n)"#) }
            #expect(order.allSatisfy { $0 != nil }, "\(text)")
            #expect(zip(order, order.dropFirst()).allSatisfy { $0!.lowerBound < $1!.lowerBound })
        }
    }

    @Test func expectContinueIsAnsweredWithAContinueAndThenTheCall() async throws {
        try await withInvokeAPI { api in
            _ = try await api.invoke("echo")
            let connection = try RawConnection(port: api.port)
            let body = #"{"n":7}"#
            connection.send("POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: \(body.utf8.count)\r\n\r\n")
            let continued = connection.read(until: "\r\n\r\n")
            #expect(continued.hasPrefix("HTTP/1.1 100 Continue"), "\(continued)")
            connection.send(body)
            let answer = connection.read(until: #"7}"#)
            #expect(answer.contains("HTTP/1.1 200 OK"), "\(answer)")
            // The connection goes on with the raw path.
            let before = api.service.warmPathAnswers
            connection.send(post(#"{"n":8}"#))
            #expect(connection.read(until: #"8}"#).contains("HTTP/1.1 200 OK"))
            #expect(api.service.warmPathAnswers == before + 1)
        }
    }

    @Test func aWarmCallAskingToCloseIsAnsweredAndClosed() async throws {
        try await withInvokeAPI { api in
            _ = try await api.invoke("echo")
            let before = api.service.warmPathAnswers
            let text = try await rawExchange(port: api.port, post(#"{"n":1}"#, "Connection: close\r\n") + post(#"{"n":2}"#), responses: 2)
            // One answer, with Connection: close, then the end of the connection (rawExchange stops there).
            #expect(text.components(separatedBy: "HTTP/1.1 200").count == 2, "\(text)")
            #expect(text.lowercased().contains("connection: close"))
            #expect(api.service.warmPathAnswers == before + 1)
        }
    }

    /// Reads until the server closes the connection.
    private func exchangeUntilClose(port: Int, _ request: String) async -> String {
        await Task.detached {
            guard let connection = try? RawConnection(port: port) else { return "" }
            connection.send(request)
            return connection.read(until: "\u{0}never", timeout: 30)
        }.value
    }

    private func call(_ function: String, _ body: String) -> String {
        "POST /2015-03-31/functions/\(function)/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
    }

    /// After a request that ends the connection (it asks to close, is HTTP/1.0, or NIO refuses it), a warm call
    /// pipelined behind it is neither run nor answered: the review found all three run and answered after the close.
    @Test(arguments: ["GET /2015-03-31/functions/record HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                      "GET /2015-03-31/functions/record HTTP/1.0\r\nHost: x\r\n\r\n",
                      "FOO /2015-03-31/functions/record HTTP/1.1\r\nHost: x\r\n\r\n"])
    func nothingAfterARequestThatEndsTheConnectionIsRun(first: String) async throws {
        try await withInvokeAPI { api in
            _ = try await api.invoke("record", #"{"warm":1}"#)
            let before = try recordedEvents(api).count
            let text = await exchangeUntilClose(port: api.port, first + call("record", #"{"after":"end"}"#))
            let answers = text.components(separatedBy: "HTTP/1.").dropFirst().filter { $0.dropFirst(2).prefix(3).allSatisfy(\.isNumber) }
            #expect(answers.count == 1, "\(text)")
            #expect(try recordedEvents(api).count == before)
        }
    }

    /// A warm call pipelined behind a held one of a client that has left is not run.
    @Test func aClientThatLeftHasNoMoreCallsRun() async throws {
        // With {"hold": true} the function says it started, then waits for the test's gate file (bounded).
        let held = """
            import os, time
            def handler(event, context):
                if event.get("hold"):
                    directory = os.environ["GATE_DIR"]
                    open(os.path.join(directory, "started"), "w").close()
                    deadline = time.time() + 30
                    while not os.path.exists(os.path.join(directory, "gate")) and time.time() < deadline:
                        time.sleep(0.005)
                return "done"
            """
        let connections = IdleConnectionPolicy()
        try await withInvokeAPI(connections: connections, definitions: { _, fixtures in
            let code = try! fixtures.write("held", ["app.py": held])
            return [FunctionDefinition(latest: FunctionConfiguration(functionName: "held", runtime: "python3.12", handler: "app.handler", codeDirectory: code,
                                                                     timeout: 60, environment: ["GATE_DIR": fixtures.path + "/gates"]))]
        }) { api in
            _ = try await api.invoke("held", "{}")
            _ = try await api.invoke("record", #"{"warm":1}"#)
            let before = try recordedEvents(api).count
            let directory = api.fixtures.path + "/gates"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            func heldCalls() -> Int {
                Int(api.metrics.totals(metric: .invocations).filter { $0.key.functionName == "held" }.values.reduce(0, +))
            }
            let port = api.port, request = call("held", #"{"hold":true}"#) + call("record", #"{"after":"gone"}"#)
            let connection = try RawConnection(port: port)
            connection.send(request)
            try await waitUntil(.seconds(30)) { FileManager.default.fileExists(atPath: directory + "/started") }
            // The client leaves while the held call runs; the server has seen it go before the call ends.
            let open = connections.openConnections
            shutdown(connection.fd, Int32(SHUT_RDWR))
            try await waitUntil(.seconds(30)) { connections.openConnections < open }
            #expect(connections.openConnections < open)
            _ = FileManager.default.createFile(atPath: directory + "/gate", contents: nil)
            try await waitUntil(.seconds(30)) { heldCalls() == 2 }
            // A call of its own on another connection: a wrongly started one would have begun before it.
            _ = try await api.invoke("record", #"{"mine":1}"#)
            #expect(try recordedEvents(api).count == before + 1)
        }
    }

    @Test func aMalformedRequestGetsTheAPIsErrorAndTheConnectionEnds() async throws {
        try await withInvokeAPI { api in
            _ = try await api.invoke("echo")
            let text = try await rawExchange(port: api.port, post("{}") + "NOT HTTP AT ALL\r\n\r\n", responses: 3)
            let statuses = text.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix(3) }.filter { $0.allSatisfy(\.isNumber) }
            #expect(statuses == ["200", "400"], "\(text)")
            #expect(text.contains("InvalidRequestContentException"))
        }
    }
}

@Suite("Warm path resolution")
struct WarmPathResolutionTests {
    /// A service with `fn` (Python, echo) on a fresh state directory.
    private static func withService(seed: UInt64? = nil, _ body: (LambdaService, StateStore, LocalRuntime) async throws -> Void) async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["app.py": "def echo(e, c):\n    return e\n"])
        let store = try await StateStore.open(directory: URL(fileURLWithPath: fixtures.path + "/state"),
                                              options: StateStore.Options(resolutionCacheLifetime: .seconds(600)))
        defer { try? store.close() }
        let runtime = try LocalRuntime(options: testOptions())
        let service = LambdaService(store: store, metrics: try MetricsStore(store: store), runtime: runtime, clock: ScaledClock(timeScale: 1),
                                    routingSeed: seed)
        try await service.register([FunctionDefinition(latest: FunctionConfiguration(functionName: "fn", runtime: "python3.12", handler: "app.echo",
                                                                                     codeDirectory: code))])
        do {
            try await body(service, store, runtime)
        } catch {
            await runtime.shutdown()
            throw error
        }
        await runtime.shutdown()
    }

    /// A change of `$LATEST` while a resolve awaits the store is never overwritten by the configuration built before it.
    @Test func anUpdateDuringAResolveIsNotLost() async throws {
        try await Self.withService { service, store, _ in
            _ = try await store.createAlias(function: "fn", name: "cur", functionVersion: "$LATEST")
            var lost: [Int] = []
            for round in 0..<40 {
                async let racing = service.resolve(name: "fn", qualifier: "cur")
                _ = try await service.updateConfiguration("fn", ConfigurationUpdate(environment: ["N": "\(round)"]), revisionId: nil)
                _ = try await racing
                let (now, _) = try await service.resolve(name: "fn", qualifier: nil)
                if now.environment["N"] != "\(round)" { lost.append(round) }
            }
            #expect(lost.isEmpty, "rounds whose update was replaced by an older configuration: \(lost)")
        }
    }

    /// The warm path draws between an alias's versions only once it can serve either: when the drawn version would have
    /// had no idle environment, the general path's own draw would be a second one, and the less warm version (the
    /// canary) would get fewer calls than its weight.
    @Test func theWarmPathDoesNotSkewAnAliasesWeights() async throws {
        try await Self.withService(seed: 7) { service, store, runtime in
            _ = try await service.publishVersion(function: "fn")
            _ = try await service.updateConfiguration("fn", ConfigurationUpdate(environment: ["V": "2"]), revisionId: nil)
            _ = try await service.publishVersion(function: "fn")
            _ = try await store.createAlias(function: "fn", name: "live", functionVersion: "1", routingConfig: RoutingConfig(additionalVersionWeights: ["2": 0.5]))
            let request = InvokeRequest(function: "fn", qualifier: "live")
            var seen: Set<String> = []
            while seen.count < 2 { seen.insert(try await service.invoke(request).executedVersion ?? "") }
            var counts: [String: Int] = [:]
            for _ in 0..<100 {
                await runtime.shutdownEnvironments(of: "fn", version: "2")  // version 2 has no idle environment now
                let warm: InvokeResponse?? = await withCheckedContinuation { continuation in
                    let started = service.invokeWarm(request, preferring: nil) { continuation.resume(returning: .some($0)) }
                    if !started { continuation.resume(returning: .none) }
                }
                let response: InvokeResponse
                if case .some(.some(let answered)) = warm { response = answered } else { response = try await service.invoke(request) }
                counts[response.executedVersion ?? "", default: 0] += 1
            }
            // 50 % expected; 38 is 2.4 standard deviations below (with seed 7, a second draw gave version 2 23 calls).
            #expect(counts["2", default: 0] >= 38, "versions served: \(counts)")
        }
    }
}

/// The front door's warm path: a request to a warm function is answered from the event loop, as the async path answers it.
@Suite("Front door warm path")
struct FrontDoorWarmPathTests {
    @Test func aWarmRequestIsAnsweredLikeTheColdOne() async throws {
        try await withFrontDoor([FrontDoorTests.rest]) { door in
            let cold = try await door.request("GET", "/echo?x=1")
            #expect(door.service.warmPathAnswers == 0)
            let warm = try await door.request("GET", "/echo?x=1")
            #expect(door.service.warmPathAnswers == 1)
            #expect(cold.status == 200 && warm.status == 200)
            #expect(Set(cold.headers.map { $0.0.lowercased() }) == Set(warm.headers.map { $0.0.lowercased() }))
            #expect(warm.values("x-amzn-RequestId") != cold.values("x-amzn-RequestId"))
            func event(_ response: RawHTTPResponse) -> [String: Any] {
                var event = response.json
                event["requestContext"] = nil  // request id and time
                return event
            }
            #expect(NSDictionary(dictionary: event(cold)) == NSDictionary(dictionary: event(warm)))
            // What the front door answers itself comes at once, and a HEAD gets no body.
            #expect(try await door.request("GET", "/nowhere").status == 403)
            let head = try await door.request("HEAD", "/echo")
            #expect(head.body.isEmpty)
        }
    }

    @Test func aFunctionsHeaderThatWouldSplitTheAnswerIsLeftOut() async throws {
        let split = FrontDoorRoute(kind: .restApi, apiId: "restapi", stage: "Prod", method: "GET", path: "/split", function: "split")
        try await withFrontDoor([split]) { door in
            let cold = try await door.request("GET", "/split")
            let warm = try await door.request("GET", "/split")
            #expect(door.service.warmPathAnswers == 1)
            #expect(cold.status == 200 && cold.values("X-Fine") == ["ok"] && cold.values("Injected").isEmpty)
            #expect(warm.status == 200)
            #expect(warm.values("X-Fine") == ["ok"])
            #expect(warm.values("Injected").isEmpty && warm.values("X-Split").isEmpty)
            #expect(String(decoding: warm.body, as: UTF8.self) == "whole")
        }
    }

    @Test func beforeItsAliasExistsARouteIsServedWarmFromLatestAndThenByTheAlias() async throws {
        let live = FrontDoorRoute(kind: .restApi, apiId: "restapi", stage: "Prod", method: "GET", path: "/echo", function: "echo", qualifier: "live")
        try await withFrontDoor([live]) { door in
            var versions: [String] = []
            for _ in 0..<3 { versions += try await door.request("GET", "/echo").values("X-Shift-Executed-Version") }
            #expect(versions == ["$LATEST", "$LATEST", "$LATEST"])
            #expect(door.service.warmPathAnswers == 2)
            let (version, _) = try await door.service.publishVersion(function: "echo")
            _ = try await door.service.store.createAlias(function: "echo", name: "live", functionVersion: version.versionString)
            versions = []
            for _ in 0..<2 { versions += try await door.request("GET", "/echo").values("X-Shift-Executed-Version") }
            #expect(versions == ["1", "1"])
        }
    }
}

/// Writes `request` on a fresh connection and reads until `responses` whole answers (by Content-Length) arrived.
private func rawExchange(port: Int, _ request: String, responses: Int) async throws -> String {
    try await withCheckedThrowingContinuation { continuation in
        Thread {
            let fd: Int32
            do { fd = try RawHTTPResponse.connectLoopback(port: port) } catch { return continuation.resume(throwing: error) }
            defer { close(fd) }
            let bytes = Array(request.utf8)
            _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            var data: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65_536)
            while countWhole(data) < responses {
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { break }
                data += chunk[0..<n]
            }
            continuation.resume(returning: String(decoding: data, as: UTF8.self))
        }.start()
    }
}

/// How many whole responses `data` holds.
private func countWhole(_ data: [UInt8]) -> Int {
    var text = Substring(String(decoding: data, as: UTF8.self))
    var count = 0
    while let end = text.range(of: "\r\n\r\n") {
        let head = text[..<end.lowerBound].lowercased()
        let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
            .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
        let bodyStart = end.upperBound
        guard text.utf8.distance(from: bodyStart, to: text.endIndex) >= length else { break }
        count += 1
        text = text[text.utf8.index(bodyStart, offsetBy: length)...]
    }
    return count
}
