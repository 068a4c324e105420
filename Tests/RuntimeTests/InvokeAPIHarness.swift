import Foundation
import Testing
@testable import Runtime

/// A LambdaService behind a real Invoke API server on 127.0.0.1:0, with its Event queue running.
struct InvokeAPIHarness: Sendable {
    let fixtures: FixtureFolder
    let store: StateStore
    let metrics: MetricsStore
    let runtime: LocalRuntime
    let service: LambdaService
    let hooks: LifecycleHooks
    let server: InvokeAPIServer
    let logs: LogRecorder

    var port: Int { server.port }

    /// An HTTP request on its own thread (the blocking client must not hold a cooperative thread).
    func http(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = []) async throws -> LoopbackHTTPClient.Response {
        let port = self.port
        return try await withCheckedThrowingContinuation { continuation in
            Thread {
                let client = LoopbackHTTPClient(port: port)
                do { continuation.resume(returning: try client.request(method, path, headers: headers, body: body)) } catch { continuation.resume(throwing: error) }
                client.close()
            }.start()
        }
    }

    func http(_ method: String, _ path: String, headers: [(String, String)] = [], json: String) async throws -> LoopbackHTTPClient.Response {
        try await http(method, path, headers: headers, body: Array(json.utf8))
    }

    func invoke(_ function: String, _ payload: String = "{}", headers: [(String, String)] = []) async throws -> LoopbackHTTPClient.Response {
        try await http("POST", "/2015-03-31/functions/\(function)/invocations", headers: headers, json: payload)
    }
}

extension LoopbackHTTPClient.Response {
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:] }
}

/// The Python functions the Invoke API tests use (module `app`).
let invokeAPIFixtureCode = """
import json, os, time
def echo(event, context):
    print("echo says hi")
    return {"event": event, "version": context.function_version, "arn": context.invoked_function_arn}
def fail(event, context):
    raise ValueError("always fails")
def record(event, context):
    path = os.path.join(os.environ["RECORD_DIR"], context.aws_request_id + ".json")
    with open(path, "w") as f:
        json.dump(event, f)
    return "recorded"
"""

/// Runs `body` with a served LambdaService holding `echo`, `fail`, `record` (+ `extra`), then shuts everything down.
func withInvokeAPI(
    timeScale: Double = 1,
    configure: (inout LocalRuntime.Options) -> Void = { _ in },
    connections: IdleConnectionPolicy = IdleConnectionPolicy(),
    definitions extra: (_ code: String, _ fixtures: FixtureFolder) -> [FunctionDefinition] = { _, _ in [] },
    _ body: (InvokeAPIHarness) async throws -> Void
) async throws {
    let fixtures = try FixtureFolder()
    let code = try fixtures.write("fn", ["app.py": invokeAPIFixtureCode])
    let records = try fixtures.write("records", [:])
    let state = URL(fileURLWithPath: fixtures.path + "/state")
    let store = try await StateStore.open(directory: state)
    let metrics = try MetricsStore(store: store)
    let clock = ScaledClock(timeScale: timeScale)
    let logs = LogRecorder(store: store, clock: clock)
    let runtime = try LocalRuntime(options: testOptions {
        $0.logHandler = logs.handler
        configure(&$0)
    })
    let service = LambdaService(store: store, metrics: metrics, runtime: runtime, clock: clock)
    func define(_ name: String, _ handler: String, reserved: Int? = nil, async config: AsyncInvokeConfig = AsyncInvokeConfig()) -> FunctionDefinition {
        FunctionDefinition(latest: FunctionConfiguration(functionName: name, runtime: "python3.12", handler: handler, codeDirectory: code,
                                                         environment: ["RECORD_DIR": records], reservedConcurrency: reserved),
                           asyncConfig: config)
    }
    try await service.register([define("echo", "app.echo"), define("fail", "app.fail"), define("record", "app.record"),
                                define("throttled", "app.echo", reserved: 0)] + extra(code, fixtures))
    let hooks = LifecycleHooks()
    let server = try await InvokeAPIServer.bind(host: "127.0.0.1", port: 0, service: service, hooks: hooks, connections: connections)
    await service.setEndpoint(server.url, region: "us-east-1")
    let harness = InvokeAPIHarness(fixtures: fixtures, store: store, metrics: metrics, runtime: runtime, service: service, hooks: hooks,
                                   server: server, logs: logs)
    do {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            group.addTask { await service.runEventQueue() }
            try await body(harness)
            group.cancelAll()
        }
    } catch {
        await runtime.shutdown()
        try? store.close()
        throw error
    }
    await runtime.shutdown()
    try? store.close()
}

/// The JSON files the `record` function wrote (one per invocation it received).
func recordedEvents(_ harness: InvokeAPIHarness) throws -> [[String: Any]] {
    let folder = harness.fixtures.path + "/records"
    return try FileManager.default.contentsOfDirectory(atPath: folder).compactMap { name in
        let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + name))
        return try JSONSerialization.jsonObject(with: data) as? [String: Any]
    }
}
