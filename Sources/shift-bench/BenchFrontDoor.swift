import ArgumentParser
import DeploymentEngine
import Foundation
import Runtime
#if canImport(Glibc)
import Glibc
#endif

/// `shift bench frontdoor`: wrk (keep-alive, 1 and 8 connections) against the HTTP front door, the Invoke API
/// and a bare SwiftNIO server, in one run, all calling the same compiled `provided` function.
struct BenchFrontDoor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "frontdoor",
        abstract: "Measure the HTTP front door against the Invoke API and a bare NIO server with wrk.")

    @Option(help: "Seconds of each wrk run.")
    var seconds = 5

    func run() async throws {
        guard system("command -v wrk > /dev/null") == 0 else { throw ValidationError("wrk is not installed (apt-get install wrk)") }
        let root = FileManager.default.temporaryDirectory.path + "/shift-bench-frontdoor-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let cDir = root + "/c"
        try FileManager.default.createDirectory(atPath: cDir, withIntermediateDirectories: true)
        try BenchRuntime.cBootstrap.write(toFile: cDir + "/bootstrap.c", atomically: true, encoding: .utf8)
        guard system("cc -O2 -o '\(cDir)/bootstrap' '\(cDir)/bootstrap.c'") == 0 else { throw ValidationError("cc failed to build the C bootstrap") }
        let body = #"{"hello":"world"}"#
        try "wrk.method = \"POST\"\nwrk.body = '\(body)'\nwrk.headers[\"Content-Type\"] = \"application/json\"\n"
            .write(toFile: root + "/post.lua", atomically: true, encoding: .utf8)

        let definition = FunctionDefinition(latest: FunctionConfiguration(functionName: "bench-c", runtime: "provided.al2023", codeDirectory: cDir))
        let stack = try await ServiceSetup.open(definitions: [definition], stateDirectory: URL(fileURLWithPath: root + "/state"),
                                                region: "us-east-1", accountId: "123456789012", timeScale: 1) { $0.maximumConcurrency = 64 }
        let invokeAPI = try await InvokeAPIServer.bind(host: "127.0.0.1", port: 0, service: stack.service)
        // The C function echoes its event: an object without statusCode, which payload 2.0 answers as a 200 JSON body.
        let routes = [FrontDoorRoute(kind: .httpApi(payloadVersion: .v2), apiId: "bench", stage: "$default", method: "POST", path: "/bench", function: "bench-c")]
        let frontDoor = try await FrontDoorServer.bind(port: 0, router: FrontDoorRouter(routes: routes, service: stack.service,
                                                                                        accountId: "123456789012", region: "us-east-1"))
        let trivial = try await TrivialHTTPServer.start()
        let seconds = self.seconds
        let lines: [String]
        do {
            lines = try await withThrowingTaskGroup(of: [String]?.self) { group in
                group.addTask { try await invokeAPI.run(); return nil }
                group.addTask { try await frontDoor.run(); return nil }
                group.addTask { await stack.metrics.runPeriodicFlush(every: .seconds(1)); return nil }
                group.addTask { await stack.logs.run(every: .milliseconds(250)); return nil }
                group.addTask {
                    let targets = [
                        ("bare NIO", "http://127.0.0.1:\(trivial.port)/"),
                        ("Invoke API", "http://127.0.0.1:\(invokeAPI.port)/2015-03-31/functions/bench-c/invocations"),
                        ("front door", "http://127.0.0.1:\(frontDoor.port)/bench"),
                    ]
                    // Warm: 8 environments, and every server's connections.
                    for (_, url) in targets { _ = try await Wrk.run(url: url, connections: 8, seconds: 1, script: root + "/post.lua") }
                    var lines = ["shift bench frontdoor — \(ProcessInfo.processInfo.activeProcessorCount) cores, wrk --latency, keep-alive, \(seconds) s a run, POST \(body) to a compiled provided function"]
                    for connections in [1, 8] {
                        var results: [String: Wrk.Result] = [:]
                        for (name, url) in targets {
                            results[name] = try await Wrk.run(url: url, connections: connections, seconds: seconds, script: root + "/post.lua")
                        }
                        let bare = results["bare NIO"]!, api = results["Invoke API"]!, door = results["front door"]!
                        let added = (door.p50 / api.p50 - 1) * 100
                        lines.append("\(connections) connection\(connections == 1 ? " " : "s"): bare NIO p50 \(Wrk.us(bare.p50)) \(Int(bare.rate))/s | "
                                     + "Invoke API p50 \(Wrk.us(api.p50)) \(Int(api.rate))/s | front door p50 \(Wrk.us(door.p50)) \(Int(door.rate))/s "
                                     + "(p50 \(String(format: "%+.0f", added)) % of the Invoke API's; aim ≤ +30 %\(connections == 8 ? ", ≥ 8000/s" : ""))"
                                     + ([api, door].contains { $0.non2xx > 0 } ? " [non-2xx: Invoke API \(api.non2xx), front door \(door.non2xx)]" : ""))
                    }
                    return lines
                }
                var lines: [String] = []
                while let next = try await group.next() {
                    if let next {
                        lines = next
                        group.cancelAll()
                    }
                }
                return lines
            }
        } catch {
            try? await trivial.channel.close()
            await stack.close()
            throw error
        }
        try? await trivial.channel.close()
        await stack.close()
        for line in lines { print(line) }
    }
}

/// Runs `wrk --latency` and reads its p50, rate and non-2xx count.
enum Wrk {
    struct Result {
        /// Microseconds.
        var p50: Double
        var rate: Double
        var non2xx: Int
        /// Microseconds.
        var p99: Double = 0
    }

    static func us(_ value: Double) -> String { String(format: "%.0f µs", value) }

    static func run(url: String, connections: Int, seconds: Int, script: String) async throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["wrk", "--latency", "-t", String(min(connections, 2)), "-c", String(connections), "-d", "\(seconds)s", "-s", script, url]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = await Task.detached { pipe.fileHandleForReading.readDataToEndOfFile() }.value
        let text = String(decoding: data, as: UTF8.self)
        var result = Result(p50: 0, rate: 0, non2xx: 0)
        for line in text.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if line.hasPrefix("50%"), fields.count >= 2 { result.p50 = microseconds(String(fields[1])) }
            if line.hasPrefix("99%"), fields.count >= 2 { result.p99 = microseconds(String(fields[1])) }
            if line.hasPrefix("Requests/sec:"), fields.count >= 2 { result.rate = Double(fields[1]) ?? 0 }
            if line.hasPrefix("Non-2xx or 3xx responses:"), let last = fields.last { result.non2xx = Int(last) ?? 0 }
        }
        return result
    }

    /// `85.00us`, `1.20ms`, `2.00s` → microseconds.
    static func microseconds(_ text: String) -> Double {
        for (unit, factor) in [("us", 1.0), ("ms", 1000.0), ("s", 1_000_000.0)] where text.hasSuffix(unit) {
            return (Double(text.dropLast(unit.count)) ?? 0) * factor
        }
        return 0
    }
}
