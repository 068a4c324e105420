import Foundation
import Testing
@testable import Runtime

#if canImport(Glibc)
import Glibc
#endif

/// A LambdaService with Python functions behind a real front door on 127.0.0.1:0.
struct FrontDoorHarness: Sendable {
    let server: FrontDoorServer
    let service: LambdaService
    let failures: FailureLog

    var port: Int { server.port }

    /// Sends `request` as written (a whole HTTP/1.1 message) on a new connection and reads one response.
    func send(_ request: [UInt8]) async throws -> RawHTTPResponse {
        let port = self.port
        return try await withCheckedThrowingContinuation { continuation in
            Thread {
                do { continuation.resume(returning: try RawHTTPResponse.exchange(port: port, request)) } catch { continuation.resume(throwing: error) }
            }.start()
        }
    }

    /// A request with these headers (sent in order, repeats kept) and body; `Content-Length` is added.
    func request(_ method: String, _ target: String, headers: [(String, String)] = [("Host", "localhost")], body: [UInt8] = []) async throws -> RawHTTPResponse {
        var text = "\(method) \(target) HTTP/1.1\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" { text += "Content-Length: \(body.count)\r\n" }
        if !headers.contains(where: { $0.0.lowercased() == "connection" }) { text += "Connection: close\r\n" }
        text += "\r\n"
        return try await send(Array(text.utf8) + body)
    }
}

/// What the router reported as 502s caused by functions.
final class FailureLog: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

import Synchronization

/// One response read off a socket: status, headers in order (repeats kept), body.
struct RawHTTPResponse: Sendable {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:] }

    func values(_ name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    /// A blocking TCP connection to 127.0.0.1:`port` whose reads give up after 30 s; the caller closes it.
    static func connectLoopback(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let error = SystemCallError(call: "connect", errno: errno)
            close(fd)
            throw error
        }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    /// Connects, writes `request`, and reads the first response (by `Content-Length`, or to the end).
    static func exchange(port: Int, _ request: [UInt8]) throws -> RawHTTPResponse {
        let fd = try connectLoopback(port: port)
        defer { close(fd) }
        var sent = 0
        while sent < request.count {
            let n = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            // The server may answer (e.g. 413) and close before the whole body is sent.
            if n <= 0 { break }
            sent += n
        }
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        var headEnd: Int?
        var expected: Int?
        while true {
            if let end = headEnd, let length = expected, data.count >= end + length { break }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            data += chunk[0..<n]
            if headEnd == nil, let range = findHeadEnd(data) {
                headEnd = range
                let head = String(decoding: data[0..<range], as: UTF8.self)
                for line in head.split(separator: "\r\n") where line.lowercased().hasPrefix("content-length:") {
                    expected = Int(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces))
                }
            }
        }
        guard let end = headEnd else { throw SystemCallError(call: "recv (no response head)", errno: 0) }
        let lines = String(decoding: data[0..<end], as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: true)
        let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        let headers = lines.dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        let body = Array(data[end...].prefix(expected ?? Int.max))
        return RawHTTPResponse(status: status, headers: headers, body: body)
    }

    private static func findHeadEnd(_ data: [UInt8]) -> Int? {
        guard data.count >= 4 else { return nil }
        for i in 0...(data.count - 4) where data[i] == 13 && data[i + 1] == 10 && data[i + 2] == 13 && data[i + 3] == 10 { return i + 4 }
        return nil
    }
}

/// The Python handlers the front door tests use (module `web`).
let frontDoorFixtureCode = """
import base64, json, threading
def echo(event, context):
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(event)}
def headers(event, context):
    return {"statusCode": 201, "headers": {"X-Single": "one"}, "multiValueHeaders": {"X-Multi": ["a", "b"]},
            "cookies": ["c1=v1; Path=/", "c2=v2"], "body": "ok"}
def binary(event, context):
    data = base64.b64decode(event["body"]) if event.get("isBase64Encoded") else (event.get("body") or "").encode()
    return {"statusCode": 200, "headers": {"Content-Type": "application/octet-stream"},
            "body": base64.b64encode(bytes(reversed(data))).decode(), "isBase64Encoded": True}
def split(event, context):
    return {"statusCode": 200, "headers": {"X-Split": "a\\r\\nInjected: yes", "X-Fine": "ok"}, "body": "whole"}
def bare(event, context):
    return "just text"
def fail(event, context):
    raise ValueError("the front door test function fails")
def malformed(event, context):
    return {"body": "no status code"}
def slow(event, context):
    threading.Event().wait()  # never answers: the runtime ends it at its 1 s timeout
    return {"statusCode": 200}
"""

/// Runs `body` with functions `echo`, `headers`, `binary`, `bare`, `fail`, `malformed`, `slow` (timeout 1 s)
/// behind a front door with `routes`, then shuts everything down.
func withFrontDoor(_ routes: [FrontDoorRoute], _ body: (FrontDoorHarness) async throws -> Void) async throws {
    let fixtures = try FixtureFolder()
    let code = try fixtures.write("fn", ["web.py": frontDoorFixtureCode])
    let store = try await StateStore.open(directory: URL(fileURLWithPath: fixtures.path + "/state"))
    let metrics = try MetricsStore(store: store)
    let runtime = try LocalRuntime(options: testOptions())
    let service = LambdaService(store: store, metrics: metrics, runtime: runtime, clock: ScaledClock(timeScale: 1))
    let names = ["echo", "headers", "binary", "bare", "fail", "malformed", "slow", "split"]
    try await service.register(names.map { name in
        FunctionDefinition(latest: FunctionConfiguration(functionName: name, runtime: "python3.12", handler: "web.\(name)", codeDirectory: code,
                                                         timeout: name == "slow" ? 1 : 10))
    })
    let failures = FailureLog()
    let router = FrontDoorRouter(routes: routes, service: service, accountId: "123456789012", region: "us-east-1") { function, message in
        failures.append("\(function): \(message)")
    }
    let server = try await FrontDoorServer.bind(port: 0, router: router)
    let harness = FrontDoorHarness(server: server, service: service, failures: failures)
    do {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
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
