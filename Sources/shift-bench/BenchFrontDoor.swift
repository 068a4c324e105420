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

    @Option(help: "Runs of each server at each connection count, taken in turn; the medians are reported (a busy machine's noise falls on all three).")
    var rounds = 3

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
        let seconds = self.seconds, rounds = max(1, self.rounds)
        let lines: [String]
        do {
            lines = try await withThrowingTaskGroup(of: [String]?.self) { group in
                group.addTask { try await invokeAPI.run(); return nil }
                group.addTask { try await frontDoor.run(); return nil }
                group.addTask { await stack.metrics.runPeriodicFlush(every: .seconds(1)); return nil }
                group.addTask { await stack.logs.run(every: LogRecorder.flushInterval); return nil }
                group.addTask {
                    var targets = [
                        ("bare NIO", "http://127.0.0.1:\(trivial.port)/"),
                        ("Invoke API", "http://127.0.0.1:\(invokeAPI.port)/2015-03-31/functions/bench-c/invocations"),
                        ("front door", "http://127.0.0.1:\(frontDoor.port)/bench"),
                    ]
                    // The event the front door sends is ~50 times the Invoke API's payload; the same event posted to the
                    // Invoke API shows what carrying it costs, apart from the front door's own work.
                    let eventFile = root + "/event.json"
                    guard system("curl -sf -X POST -H 'Content-Type: application/json' -d '\(body)' -o '\(eventFile)' 'http://127.0.0.1:\(frontDoor.port)/bench'") == 0,
                          let event = try? String(contentsOfFile: eventFile, encoding: .utf8), !event.contains("]==]") else {
                        throw ValidationError("could not read the front door's event with curl")
                    }
                    try "wrk.method = \"POST\"\nwrk.body = [==[\(event)]==]\nwrk.headers[\"Content-Type\"] = \"application/json\"\n"
                        .write(toFile: root + "/event.lua", atomically: true, encoding: .utf8)
                    targets.append(("Invoke API, event", targets[1].1))
                    func script(_ name: String) -> String { root + (name == "Invoke API, event" ? "/event.lua" : "/post.lua") }
                    // Warm: 8 environments, and every server's connections.
                    for (_, url) in targets { _ = try await Wrk.run(url: url, connections: 8, seconds: 1, script: root + "/post.lua") }
                    var lines = ["shift bench frontdoor — \(ProcessInfo.processInfo.activeProcessorCount) cores, wrk --latency, keep-alive, \(seconds) s a run, "
                                 + "medians of \(rounds) run\(rounds == 1 ? "" : "s") each, POST \(body) to a compiled provided function; "
                                 + "cpu: this process's CPU time per request (the servers, the invoke path and the Runtime API; not wrk, not the function)"]
                    for connections in [1, 8] {
                        var results: [String: [Wrk.Result]] = [:]
                        for _ in 0..<rounds {
                            for (name, url) in targets {
                                let before = Wrk.processCPU()
                                var result = try await Wrk.run(url: url, connections: connections, seconds: seconds, script: script(name))
                                result.cpuPerRequest = (Wrk.processCPU() - before) / Double(max(result.requests, 1))
                                results[name, default: []].append(result)
                            }
                        }
                        let bare = Wrk.median(results["bare NIO"]!), api = Wrk.median(results["Invoke API"]!), door = Wrk.median(results["front door"]!)
                        let apiEvent = Wrk.median(results["Invoke API, event"]!)
                        let added = (door.p50 / api.p50 - 1) * 100
                        func describe(_ name: String, _ result: Wrk.Result) -> String {
                            "\(name) p50 \(Wrk.us(result.p50)) \(Int(result.rate))/s cpu \(Wrk.us(result.cpuPerRequest))"
                        }
                        lines.append("\(connections) connection\(connections == 1 ? " " : "s"): \(describe("bare NIO", bare)) | \(describe("Invoke API", api)) | "
                                     + "\(describe("front door", door)) (p50 \(String(format: "%+.0f", added)) % of the Invoke API's; aim ≤ +30 %\(connections == 8 ? ", ≥ 8000/s" : ""))"
                                     + " | \(describe("Invoke API with the front door's event", apiEvent))"
                                     + ([api, door, apiEvent].contains { $0.non2xx > 0 } ? " [non-2xx: Invoke API \(api.non2xx), front door \(door.non2xx), event \(apiEvent.non2xx)]" : ""))
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
        var requests = 0
        /// Microseconds of this process's CPU time per request, when measured.
        var cpuPerRequest: Double = 0
        /// Microseconds.
        var p99: Double = 0
    }

    static func us(_ value: Double) -> String { String(format: "%.0f µs", value) }

    /// Each figure's median over the runs (they may come from different runs).
    static func median(_ results: [Result]) -> Result {
        func middle(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        return Result(p50: middle(results.map(\.p50)), rate: middle(results.map(\.rate)), non2xx: results.map(\.non2xx).reduce(0, +),
                      requests: results.map(\.requests).reduce(0, +), cpuPerRequest: middle(results.map(\.cpuPerRequest)))
    }

    /// User and system CPU time this process has used, in microseconds.
    static func processCPU() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        func micros(_ time: timeval) -> Double { Double(time.tv_sec) * 1_000_000 + Double(time.tv_usec) }
        return micros(usage.ru_utime) + micros(usage.ru_stime)
    }

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
            if fields.count >= 3, fields[1] == "requests", fields[2] == "in" { result.requests = Int(fields[0]) ?? 0 }
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
