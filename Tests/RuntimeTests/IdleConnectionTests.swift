import Foundation
import Testing
@testable import Runtime

/// A raw loopback connection, to hold idle and to see when the server closes it.
final class RawConnection {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { Glibc.close(fd); throw POSIXError(.ECONNREFUSED) }
    }

    deinit { Glibc.close(fd) }

    func send(_ text: String) {
        _ = Array(text.utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Reads until `marker` has been seen (or the connection ends); returns what was read.
    func read(until marker: String, timeout: TimeInterval = 30) -> String {
        var text = ""
        setTimeout(timeout)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !text.contains(marker) {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            text += String(decoding: buffer[0..<n], as: UTF8.self)
        }
        return text
    }

    /// Whether the server closed the connection within `timeout` (a read returned end of file).
    func isClosed(within timeout: TimeInterval) -> Bool {
        setTimeout(timeout)
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, 0)
        return n == 0 || (n < 0 && errno == ECONNRESET)
    }

    /// Whether the server has closed it, without waiting.
    var isClosedNow: Bool {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_DONTWAIT))
        return n == 0 || (n < 0 && errno == ECONNRESET)
    }

    private func setTimeout(_ seconds: TimeInterval) {
        var value = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }
}

@Suite(.serialized) struct IdleConnectionTests {
    static let invokeEcho = "POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\n{}"

    @Test func anIdleKeepAliveConnectionIsClosedAfterTheTimeoutAndABusyOneIsNot() async throws {
        // Held until the test releases it (a file), once an idle connection has shown the timeout passed.
        let gate = FileManager.default.temporaryDirectory.appendingPathComponent("shift-gate-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: gate) }
        let sleepy = "import os, time\ndef handler(event, context):\n    deadline = time.time() + 30\n"
            + "    while not os.path.exists('\(gate)') and time.time() < deadline:\n        time.sleep(0.01)\n    return 'slept'\n"
        try await withInvokeAPI(
            configure: { $0.idleConnectionTimeout = .milliseconds(200) },
            connections: IdleConnectionPolicy(idleTimeout: .milliseconds(200)),
            definitions: { _, fixtures in
                let code = try! fixtures.write("sleepy", ["app.py": sleepy])
                return [FunctionDefinition(latest: FunctionConfiguration(functionName: "sleepy", runtime: "python3.12", handler: "app.handler", codeDirectory: code))]
            }
        ) { harness in
            let first = try await harness.invoke("echo")
            #expect(first.status == 200)
            let environments = await harness.runtime.environmentStatuses().map(\.environmentId)

            let connection = try RawConnection(port: harness.port)
            connection.send(Self.invokeEcho)
            #expect(connection.read(until: "\"version\"").hasPrefix("HTTP/1.1 200 OK"))
            let started = Date()
            #expect(connection.isClosed(within: 10))
            #expect(Date().timeIntervalSince(started) >= 0.15)

            // Busy past the timeout: a call in progress is never cut, nor the runtime's parked `next`.
            async let held = harness.invoke("sleepy")
            let idle = try RawConnection(port: harness.port)
            #expect(idle.isClosed(within: 10), "an idle connection opened after the call began was closed: the timeout passed")
            _ = FileManager.default.createFile(atPath: gate, contents: nil)
            let slow = try await held
            #expect(slow.status == 200 && String(decoding: slow.body, as: UTF8.self) == "\"slept\"")
            let again = try await harness.invoke("echo")
            #expect(again.status == 200)
            #expect(await harness.runtime.environmentStatuses().filter { $0.functionName == "echo" }.map(\.environmentId) == environments)
        }
    }

    @Test func aRequestThatNeverFinishesArrivingIsNotACallInProgress() async throws {
        try await withInvokeAPI(connections: IdleConnectionPolicy(idleTimeout: .milliseconds(200))) { harness in
            let connection = try RawConnection(port: harness.port)
            connection.send("POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{")
            #expect(connection.isClosed(within: 10))
        }
    }

    @Test func beyondTheCapTheLongestIdleConnectionsMakeRoom() async throws {
        let policy = IdleConnectionPolicy(maximumConnections: 4)
        try await withInvokeAPI(connections: policy) { harness in
            let idle = try (0..<10).map { _ in try RawConnection(port: harness.port) }
            try await waitUntil(.seconds(10)) { policy.openConnections == 4 }
            let answer = try await harness.invoke("echo")
            #expect(answer.status == 200)
            #expect(policy.openConnections <= 4)
            // Idle ones were closed to make room for the newer ones (and one more for the invoke's connection).
            try await waitUntil(.seconds(10)) { idle.filter(\.isClosedNow).count >= 7 }
            #expect(idle.filter(\.isClosedNow).count == 7)
        }
    }
}
