import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import DeploymentEngine
import Runtime
#if canImport(Glibc)
import Glibc
#endif

/// `shift bench serve`: warm invocations through the Invoke API with wrk (keep-alive, 1, 4, 8 and 16 connections)
/// beside the C floor of the same path (`CFloorBroker`), measured in the same run; the bundled Python bootstrap's
/// cold start beside `python3 -c pass`; 100,000 invocations with nothing lost and the metrics conserved; RSS with
/// 20 warm environments.
struct BenchServe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Measure warm invocations through the Invoke API beside the C floor, cold starts, conservation over 100,000 invocations, and memory.")

    @Option(help: "Seconds of each wrk run.")
    var seconds = 5

    @Option(help: "Cold starts of the Python bootstrap measured.")
    var coldRuns = 15

    @Option(help: "Invocations in the conservation run.")
    var total = 100_000

    @Option(help: "Concurrent callers in the conservation run.")
    var callers = 16

    func run() async throws {
        guard system("command -v wrk > /dev/null") == 0 else { throw ValidationError("wrk is not installed (apt-get install wrk)") }
        let root = FileManager.default.temporaryDirectory.path + "/shift-bench-serve-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let cDir = root + "/c", pyDir = root + "/py", floorDir = root + "/floor"
        for dir in [cDir, pyDir, floorDir] { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        try BenchRuntime.cBootstrap.write(toFile: cDir + "/bootstrap.c", atomically: true, encoding: .utf8)
        try "def handler(event, context):\n    return event\n".write(toFile: pyDir + "/app.py", atomically: true, encoding: .utf8)
        guard system("cc -O2 -o '\(cDir)/bootstrap' '\(cDir)/bootstrap.c'") == 0 else { throw ValidationError("cc failed to build the C bootstrap") }
        try "wrk.method = \"POST\"\nwrk.body = '\(String(decoding: Self.payload, as: UTF8.self))'\nwrk.headers[\"Content-Type\"] = \"application/json\"\n"
            .write(toFile: root + "/post.lua", atomically: true, encoding: .utf8)

        func c(_ name: String) -> FunctionDefinition {
            FunctionDefinition(latest: FunctionConfiguration(functionName: name, runtime: "provided.al2023", codeDirectory: cDir))
        }
        func py(_ name: String) -> FunctionDefinition {
            FunctionDefinition(latest: FunctionConfiguration(functionName: name, runtime: "python3.12", handler: "app.handler", codeDirectory: pyDir))
        }
        let definitions = [c("bench-c"), c("bench-count"), py("bench-py")] + (0..<20).map { py("rss-\($0)") }
        let stack = try await ServiceSetup.open(definitions: definitions, stateDirectory: URL(fileURLWithPath: root + "/state"),
                                                region: "us-east-1", accountId: "123456789012", timeScale: 1) {
            $0.maximumConcurrency = 64
        }
        let server = try await InvokeAPIServer.bind(host: "127.0.0.1", port: 0, service: stack.service)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let floor = try CFloorBroker.start(in: floorDir, function: cDir + "/bootstrap", environments: 16, workers: cores)
        let report: [String]
        do {
            report = try await withThrowingTaskGroup(of: [String]?.self) { group in
                group.addTask { try await server.run(); return nil }
                group.addTask { await stack.service.runEventQueue(); return nil }
                group.addTask { await stack.metrics.runPeriodicFlush(every: .seconds(1)); return nil }
                group.addTask { await stack.logs.run(every: LogRecorder.flushInterval); return nil }
                group.addTask {
                    try await measure(stack: stack, port: server.port, floorPort: floor.port, script: root + "/post.lua", pyDir: pyDir)
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
            floor.stop()
            await stack.close()
            throw error
        }
        floor.stop()
        await stack.close()
        for line in report { print(line) }
    }

    static let payload = Array(#"{"hello":"world"}"#.utf8)

    private func measure(stack: ServiceStack, port: Int, floorPort: Int, script: String, pyDir: String) async throws -> [String] {
        let payload = Self.payload
        let invokePath = { (name: String) in "/2015-03-31/functions/\(name)/invocations" }
        let shiftURL = "http://127.0.0.1:\(port)" + invokePath("bench-c"), floorURL = "http://127.0.0.1:\(floorPort)/"
        var lines = ["shift bench serve — \(ProcessInfo.processInfo.activeProcessorCount) cores, wrk --latency, keep-alive, \(seconds) s a run, "
                     + "POST \(String(decoding: payload, as: UTF8.self)) to a compiled provided function (C, echoing its event); "
                     + "floor: C broker + the same C function on loopback, measured in this run"]

        // Warm up: environments for 16 connections, and the floor's connections.
        _ = try await Load.run(callers: 16, requests: 200, port: port, path: invokePath("bench-c"), body: payload)
        _ = try await Wrk.run(url: floorURL, connections: 16, seconds: 1, script: script)
        _ = try await Load.run(callers: 1, requests: 200, port: port, path: invokePath("bench-py"), body: payload)

        func ratio(_ a: Double, _ b: Double) -> String { String(format: "%.2f", a / b) }
        for connections in [1, 4, 8, 16] {
            let base = try await Wrk.run(url: floorURL, connections: connections, seconds: seconds, script: script)
            let api = try await Wrk.run(url: shiftURL, connections: connections, seconds: seconds, script: script)
            lines.append("\(String(format: "%2d", connections)) connection\(connections == 1 ? " " : "s"): "
                         + "Invoke API p50 \(Load.us(api.p50)) p99 \(Load.us(api.p99)) \(Int(api.rate))/s | "
                         + "floor p50 \(Load.us(base.p50)) p99 \(Load.us(base.p99)) \(Int(base.rate))/s | "
                         + "p50 ×\(ratio(api.p50, base.p50)) of the floor, throughput ×\(ratio(api.rate, base.rate))"
                         + (api.non2xx + base.non2xx > 0 ? " [non-2xx: Invoke API \(api.non2xx), floor \(base.non2xx)]" : " (0 non-2xx)"))
        }
        let python = try await Wrk.run(url: "http://127.0.0.1:\(port)" + invokePath("bench-py"), connections: 1, seconds: seconds, script: script)
        lines.append(" 1 connection : Invoke API → python3 (bundled bootstrap) p50 \(Load.us(python.p50)) p99 \(Load.us(python.p99)) \(Int(python.rate))/s")

        // Cold starts of the bundled Python bootstrap (a new version each time: a new environment), interleaved with
        // the bare interpreter start they are compared with, so both see the same load.
        let interpreter = try BenchRuntime.runCommand("/bin/sh", ["-c", "python3 -c 'import sys;print(sys.executable)'"])
            .output.trimmingCharacters(in: .whitespacesAndNewlines)
        var bare: [Double] = [], cold: [Double] = []
        for i in 0..<coldRuns {
            bare.append(try BenchRuntime.timeSpawn(interpreter, ["-c", "pass"]))
            let config = FunctionConfiguration(functionName: "bench-cold", version: "\(i + 1)", runtime: "python3.12", handler: "app.handler", codeDirectory: pyDir)
            let start = ContinuousClock.now
            let result = try await stack.runtime.invoke(config, payload: payload)
            cold.append(Measure.milliseconds(ContinuousClock.now - start))
            guard result.functionError == nil else { throw ValidationError("the cold Python function failed: \(result.log)") }
            await stack.runtime.shutdownEnvironments(of: "bench-cold")
        }
        let (coldMs, bareMs) = (Measure.median(cold), Measure.median(bare))
        lines.append("cold start to the first answer, bundled Python bootstrap: \(Measure.format(coldMs)) ms beside python3 -c pass \(Measure.format(bareMs)) ms "
                     + "(+\(Measure.format(coldMs - bareMs)) ms; aim ≤ +10 ms), medians of \(coldRuns)")

        // Conservation: every request answered 200, and Invocations adds up to exactly what was sent.
        let started = ContinuousClock.now
        let bulk = try await Load.run(callers: callers, requests: total / callers, port: port, path: invokePath("bench-count"), body: payload,
                                      keepSamples: false)
        let elapsed = Measure.milliseconds(ContinuousClock.now - started) / 1000
        let sent = (total / callers) * callers
        try stack.metrics.flush()
        let points = try stack.metrics.datapoints(metric: .invocations, dimensions: ["FunctionName": "bench-count"], from: 0, to: Int64.max / 2)
        let counted = Int(points.reduce(0) { $0 + $1.sum })
        let throttles = Int(try stack.metrics.datapoints(metric: .throttles, dimensions: ["FunctionName": "bench-count"], from: 0, to: Int64.max / 2)
            .reduce(0) { $0 + $1.sum })
        lines.append("\(sent) invocations, \(callers) callers: \(bulk.ok) × 200, \(bulk.failures) other, \(String(format: "%.1f", elapsed)) s (\(Int(Double(sent) / elapsed))/s); "
                     + "Invocations metric \(counted) (\(counted == sent && bulk.ok == sent ? "conserved" : "MISMATCH")), Throttles \(throttles); log lines dropped \(stack.logs.droppedLines); "
                     + "answered by the warm path since the start: \(stack.service.warmPathAnswers)")

        // Memory: only the 20 python environments warm.
        for name in ["bench-c", "bench-count", "bench-py"] { await stack.runtime.shutdownEnvironments(of: name) }
        let before = Memory.rss(getpid())
        for i in 0..<20 { _ = try await Load.run(callers: 1, requests: 3, port: port, path: invokePath("rss-\(i)"), body: payload) }
        let environments = await stack.runtime.environmentStatuses()
        let selfRSS = Memory.rss(getpid())
        let children = environments.map { Memory.rss($0.pid) }.reduce(0, +)
        lines.append("RSS with \(environments.count) warm python environments: shift \(selfRSS / 1024) MB (\(before / 1024) MB before), function processes \(children / 1024) MB in total (\(children / 1024 / max(1, environments.count)) MB each)")
        return lines
    }
}

/// Keep-alive callers on their own threads (so the measured path holds no Swift concurrency thread).
enum Load {
    struct Result {
        var p50: Double
        var p99: Double
        /// Requests per second over the whole run.
        var rate: Double
        var ok: Int
        var failures: Int
    }

    static func us(_ value: Double) -> String { String(format: "%.0f µs", value) }

    static func run(callers: Int, requests: Int, port: Int, path: String, body: [UInt8], keepSamples: Bool = true) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Swift.Result { try runBlocking(callers: callers, requests: requests, port: port, path: path, body: body, keepSamples: keepSamples) })
            }.start()
        }
    }

    private final class Shared: @unchecked Sendable {
        let lock = NSLock()
        var samples: [Double] = []
        var ok = 0
        var failures = 0
        var error: (any Error)?
    }

    private static func runBlocking(callers: Int, requests: Int, port: Int, path: String, body: [UInt8], keepSamples: Bool) throws -> Result {
        let shared = Shared()
        let group = DispatchGroup()
        let start = ContinuousClock.now
        for _ in 0..<callers {
            group.enter()
            Thread {
                defer { group.leave() }
                let client = LoopbackHTTPClient(port: port)
                var samples: [Double] = []
                samples.reserveCapacity(keepSamples ? requests : 0)
                var ok = 0, failures = 0
                do {
                    for _ in 0..<requests {
                        let t0 = ContinuousClock.now
                        let response = try client.request("POST", path, body: body)
                        if keepSamples { samples.append(Measure.milliseconds(ContinuousClock.now - t0) * 1000) }
                        if response.status == 200 && response.headers["x-amz-function-error"] == nil { ok += 1 } else { failures += 1 }
                    }
                } catch {
                    shared.lock.lock(); shared.error = error; shared.lock.unlock()
                }
                client.close()
                shared.lock.lock()
                shared.samples += samples
                shared.ok += ok
                shared.failures += failures
                shared.lock.unlock()
            }.start()
        }
        group.wait()
        let elapsed = Measure.milliseconds(ContinuousClock.now - start) / 1000
        if let error = shared.error { throw error }
        let sorted = shared.samples.sorted()
        return Result(p50: Measure.percentile(sorted, 50), p99: Measure.percentile(sorted, 99),
                      rate: Double(shared.ok + shared.failures) / elapsed, ok: shared.ok, failures: shared.failures)
    }
}

/// Resident memory from /proc, in KB.
enum Memory {
    static func rss(_ pid: Int32) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }
}

/// The floor: a SwiftNIO HTTP/1.1 server answering `ok` to everything, with the same pipeline as the Invoke API.
struct TrivialHTTPServer {
    let channel: any Channel
    let port: Int

    static func start() async throws -> TrivialHTTPServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(Handler())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return TrivialHTTPServer(channel: channel, port: channel.localAddress?.port ?? 0)
    }

    final class Handler: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = unwrapInboundIn(data) else { return }
            var headers = HTTPHeaders()
            headers.add(name: "Content-Length", value: "2")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "ok")))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
