import ArgumentParser
import Foundation
import Runtime
#if canImport(Glibc)
import Glibc
#endif

/// `shift bench runtime`: cold start, warm latency and throughput of the local Lambda runtime,
/// with the bare interpreter start beside each figure (all measured in this one run).
struct BenchRuntime: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runtime",
        abstract: "Measure cold starts, warm invocation latency and throughput of the local runtime.")

    @Option(help: "Cold starts measured per runtime.")
    var coldRuns = 15

    @Option(help: "Warm invocations measured per runtime.")
    var warmRuns = 3000

    @Option(help: "Seconds of each throughput measurement.")
    var seconds = 2.0

    func run() async throws {
        let root = FileManager.default.temporaryDirectory.path + "/shift-bench-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let python = try write(root + "/py", "app.py", "def handler(event, context):\n    return event\n")
        let node = try write(root + "/node", "index.js", "exports.handler = async (event) => event;\n")
        let cDir = try write(root + "/c", "bootstrap.c", Self.cBootstrap)
        let cc = try Self.runCommand("/bin/sh", ["-c", "cc -O2 -o '\(cDir)/bootstrap' '\(cDir)/bootstrap.c'"])
        guard cc.status == 0 else { throw ValidationError("cc failed: \(cc.output)") }

        var options = LocalRuntime.Options()
        options.maximumConcurrency = 64
        let runtime = try LocalRuntime(options: options)
        let payload = Array("{\"hello\":\"world\"}".utf8)
        func config(_ name: String, _ runtime: String, _ handler: String?, _ dir: String, version: String = "$LATEST") -> FunctionConfiguration {
            FunctionConfiguration(functionName: name, version: version, runtime: runtime, handler: handler, codeDirectory: dir)
        }
        let py = config("bench-py", "python3.11", "app.handler", python)
        let js = config("bench-node", "nodejs20.x", "index.handler", node)
        let c = config("bench-c", "provided.al2023", nil, cDir)
        let pyWarnings = try await runtime.prepare(py)
        let jsWarnings = try await runtime.prepare(js)
        for warning in pyWarnings + jsWarnings { print("note: \(warning)") }

        // Bare interpreter starts, through the same resolved interpreters the runtime uses.
        let pythonPath = try Self.runCommand("/bin/sh", ["-c", "python3 -c 'import sys;print(sys.executable)'"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        let nodePath = try Self.runCommand("/bin/sh", ["-c", "node -p process.execPath"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        // Cold starts (a new version each time, so a new environment each time), interleaved with
        // the bare interpreter starts they are compared with, so both see the same machine load.
        var bare: [String: [Double]] = [:]
        var coldWall: [String: [Double]] = [:]
        var coldInit: [String: [Double]] = [:]
        var extra: [String: [Double]] = [:]
        for i in 0..<coldRuns {
            let pairs: [(String, FunctionConfiguration, String, [String])] = [
                ("python", py, pythonPath, ["-S", "-c", "pass"]),
                ("node", js, nodePath, ["-e", "0"]),
                ("C", c, "/bin/true", []),
            ]
            for (name, base, interpreter, args) in pairs {
                let bareMs = try Self.timeSpawn(interpreter, args)
                var fresh = base
                fresh.version = "\(i + 1)"
                let start = ContinuousClock.now
                let result = try await runtime.invoke(fresh, payload: payload)
                let wall = Measure.milliseconds(ContinuousClock.now - start)
                guard result.functionError == nil else {
                    throw ValidationError("\(base.functionName) failed: \(String(decoding: result.payload, as: UTF8.self))\n\(result.log)")
                }
                bare[name, default: []].append(bareMs)
                coldWall[name, default: []].append(wall)
                coldInit[name, default: []].append(Measure.milliseconds(result.initDuration ?? .zero))
                extra[name, default: []].append(wall - bareMs)
            }
            bare["python+site", default: []].append(try Self.timeSpawn(pythonPath, ["-c", "pass"]))
        }
        for name in ["bench-py", "bench-node", "bench-c"] { await runtime.shutdownEnvironments(of: name) }

        // Warm latency: one caller, one environment.
        func warm(_ config: FunctionConfiguration) async throws -> (p50: Double, p99: Double) {
            for _ in 0..<200 { _ = try await runtime.invoke(config, payload: payload) }
            var samples: [Double] = []
            samples.reserveCapacity(warmRuns)
            for _ in 0..<warmRuns {
                let start = ContinuousClock.now
                _ = try await runtime.invoke(config, payload: payload)
                samples.append(Measure.milliseconds(ContinuousClock.now - start) * 1000)
            }
            return (Measure.percentile(samples, 50), Measure.percentile(samples, 99))
        }
        let warmPy = try await warm(py)
        let warmC = try await warm(c)
        let warmJs = try await warm(js)

        // Throughput with 1 and 4 concurrent callers.
        func throughput(_ config: FunctionConfiguration, callers: Int) async throws -> Double {
            let deadline = ContinuousClock.now + .seconds(seconds)
            let count = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<callers {
                    group.addTask {
                        var n = 0
                        while ContinuousClock.now < deadline {
                            _ = try await runtime.invoke(config, payload: payload)
                            n += 1
                        }
                        return n
                    }
                }
                return try await group.reduce(0, +)
            }
            return Double(count) / seconds
        }
        for callers in [4] { _ = try await throughput(c, callers: callers) }  // start the environments
        _ = try await throughput(py, callers: 4)
        let c1 = try await throughput(c, callers: 1)
        let c4 = try await throughput(c, callers: 4)
        let py1 = try await throughput(py, callers: 1)
        let py4 = try await throughput(py, callers: 4)
        await runtime.shutdown()

        func f(_ x: Double) -> String { String(format: "%.2f", x) }
        func us(_ x: Double) -> String { String(format: "%.0f µs", x) }
        print("shift bench runtime — medians, \(coldRuns) cold starts, \(warmRuns) warm invocations, \(f(seconds)) s throughput runs")
        func m(_ d: [String: [Double]], _ k: String) -> Double { Measure.median(d[k] ?? []) }
        print("process start (bare):       /bin/true \(f(m(bare, "C"))) ms; python3 -S -c pass \(f(m(bare, "python"))) ms (with site: \(f(m(bare, "python+site"))) ms); node -e 0 \(f(m(bare, "node"))) ms")
        for (name, label) in [("python", "python -S"), ("node", "node"), ("C", "/bin/true")] {
            print("cold start to first result  \(name.padding(toLength: 6, withPad: " ", startingAt: 0)) \(f(m(coldWall, name))) ms (init \(f(m(coldInit, name))) ms) = bare \(label) + \(f(m(extra, name))) ms (ratio \(f(m(coldWall, name) / m(bare, name)))x)")
        }
        print("warm invoke                 python p50 \(us(warmPy.p50)) p99 \(us(warmPy.p99)); provided(C) p50 \(us(warmC.p50)) p99 \(us(warmC.p99)); node p50 \(us(warmJs.p50)) p99 \(us(warmJs.p99))")
        print("throughput                  provided(C) 1 caller \(Int(c1))/s, 4 callers \(Int(c4))/s (x\(f(c4 / c1))); python 1 caller \(Int(py1))/s, 4 callers \(Int(py4))/s (x\(f(py4 / py1)))")
    }

    private func write(_ dir: String, _ name: String, _ content: String) throws -> String {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try content.write(toFile: "\(dir)/\(name)", atomically: true, encoding: .utf8)
        return dir
    }

    /// Spawns and reaps with a blocking waitpid (no polling), returning milliseconds.
    static func timeSpawn(_ path: String, _ args: [String]) throws -> Double {
        let start = ContinuousClock.now
        let status = try spawnAndWait(path, args, captureOutput: false).status
        guard status == 0 else { throw ValidationError("\(path) \(args) exited with \(status)") }
        return Measure.milliseconds(ContinuousClock.now - start)
    }

    static func runCommand(_ path: String, _ args: [String]) throws -> (status: Int32, output: String) {
        try spawnAndWait(path, args, captureOutput: true)
    }

    private static func spawnAndWait(_ path: String, _ args: [String], captureOutput: Bool) throws -> (status: Int32, output: String) {
        var fds: [Int32] = [0, 0]
        if captureOutput { _ = pipe(&fds) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if captureOutput {
            posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
            posix_spawn_file_actions_addclose(&actions, fds[0])
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        }
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + args).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let pathVariable = "PATH=" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        var env: [UnsafeMutablePointer<CChar>?] = [strdup(pathVariable), strdup("LANG=C.UTF-8"), nil]
        defer { env.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, nil, argv, &env)
        guard rc == 0 else { throw ValidationError("posix_spawn \(path): \(rc)") }
        var output = [UInt8]()
        if captureOutput {
            close(fds[1])
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = read(fds[0], &chunk, 4096)
                if n <= 0 { break }
                output += chunk[0..<n]
            }
            close(fds[0])
        }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return ((status >> 8) & 0xff, String(decoding: output, as: UTF8.self))
    }

    /// A tiny C runtime client (keep-alive HTTP/1.1 on one socket; echoes the event), compiled at bench time.
    static let cBootstrap = #"""
/* Minimal Lambda Runtime API client: keep-alive HTTP/1.1 over one socket, echoes the event. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static char buf[1 << 16];
static size_t have = 0;

static int fill(int fd) {
    ssize_t n = read(fd, buf + have, sizeof buf - have);
    if (n <= 0) return -1;
    have += (size_t)n;
    return 0;
}

/* Reads one response; copies the request id header (if any) and the body. */
static int response(int fd, char *id, char *body, size_t *bodylen) {
    char *end;
    while (!(end = memmem(buf, have, "\r\n\r\n", 4))) if (fill(fd)) return -1;
    size_t headlen = (size_t)(end - buf) + 4, clen = 0;
    buf[headlen - 1] = 0;
    for (char *line = strstr(buf, "\r\n"); line && line < buf + headlen; line = strstr(line + 2, "\r\n")) {
        char *h = line + 2;
        if (!strncasecmp(h, "Content-Length:", 15)) clen = strtoul(h + 15, 0, 10);
        if (id && !strncasecmp(h, "Lambda-Runtime-Aws-Request-Id:", 30)) {
            char *v = h + 30; while (*v == ' ') v++;
            size_t n = strcspn(v, "\r"); memcpy(id, v, n); id[n] = 0;
        }
    }
    while (have < headlen + clen) if (fill(fd)) return -1;
    if (body) { memcpy(body, buf + headlen, clen); *bodylen = clen; }
    memmove(buf, buf + headlen + clen, have - headlen - clen);
    have -= headlen + clen;
    return 0;
}

int main(void) {
    char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    char *colon = strrchr(api, ':');
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(colon + 1));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr)) return 1;
    static char id[256], event[1 << 15], out[1 << 16];
    size_t len = 0;
    for (;;) {
        const char *next = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n";
        if (write(fd, next, strlen(next)) < 0) return 1;
        if (response(fd, id, event, &len)) return 1;
        int n = snprintf(out, sizeof out, "POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", id, len);
        memcpy(out + n, event, len);
        if (write(fd, out, (size_t)n + len) < 0) return 1;
        if (response(fd, 0, 0, 0)) return 1;
    }
}
"""#
}
