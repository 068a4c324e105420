import Foundation
import Testing

/// A running `shift serve` process: started on port 0, its URL read from its first stdout line (text or `--output json`).
final class ServeProcess: @unchecked Sendable {
    let process = Process()
    private(set) var url = ""
    private(set) var port = 0
    private let stdoutPipe = Pipe()
    private let stderrFile: URL
    private let started = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var stdoutText = ""

    /// Starts `shift serve --port 0 --http-port 0 ARGS` in `directory` and waits (up to 60 s) for `listening on`.
    init(_ arguments: [String], in directory: URL, environment: [String: String] = [:]) throws {
        stderrFile = directory.appendingPathComponent("serve-\(UUID().uuidString.prefix(6)).stderr")
        _ = FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        process.executableURL = CLI.binary
        process.arguments = ["serve", "--port", "0", "--http-port", "0"] + arguments
        process.currentDirectoryURL = directory
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        process.environment = env
        process.standardOutput = stdoutPipe
        process.standardError = try FileHandle(forWritingTo: stderrFile)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let handle = stdoutPipe.fileHandleForReading
        Thread { [self] in
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                lock.lock()
                stdoutText += String(decoding: data, as: UTF8.self)
                let text = stdoutText
                lock.unlock()
                if url.isEmpty, let address = Self.listeningURL(text) {
                    url = address
                    port = Int(url.split(separator: ":").last ?? "") ?? 0
                    started.signal()
                }
            }
            started.signal()  // ended without listening: let the waiter see it
        }.start()
        guard started.wait(timeout: .now() + 60) == .success, !url.isEmpty else {
            stop()
            throw CLIFailure("shift serve did not start: \(stderr)")
        }
    }

    var stderr: String { (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? "" }

    var stdout: String {
        lock.lock()
        defer { lock.unlock() }
        return stdoutText
    }

    /// The URL of `listening on URL`, or of the `serve.listening` JSON line.
    private static func listeningURL(_ text: String) -> String? {
        for line in text.split(separator: "\n") {
            if line.hasPrefix("listening on ") { return String(line.dropFirst("listening on ".count)) }
            if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
               object["event"] as? String == "serve.listening" { return object["url"] as? String }
        }
        return nil
    }

    /// The processes under the server running now: function processes and their keepers.
    var childPids: [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        var parents: [Int32: Int32] = [:]
        for pid in entries.compactMap(Int32.init) {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
            if fields.count > 1, fields[0] != "Z", let parent = Int32(fields[1]) { parents[pid] = parent }
        }
        func isUnder(_ pid: Int32, depth: Int = 0) -> Bool {
            guard depth < 32, let parent = parents[pid] else { return false }
            return parent == process.processIdentifier || isUnder(parent, depth: depth + 1)
        }
        return parents.keys.filter { isUnder($0) }
    }

    /// SIGTERM, then waits for the exit; returns the exit status.
    @discardableResult
    func stop(signal number: Int32 = SIGTERM) -> Int32 {
        if process.isRunning { kill(process.processIdentifier, number) }
        let finished = DispatchSemaphore(value: 0)
        DispatchQueue.global().async { [process] in
            process.waitUntilExit()
            finished.signal()
        }
        if finished.wait(timeout: .now() + 30) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        return process.terminationStatus
    }
}

struct CLIFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Python helpers for the serve tests.
enum Python {
    static let hasBoto3: Bool = (try? CLI.shell("python3 -c 'import boto3'").status) == 0
    static let hasAWSCLI: Bool = (try? CLI.shell("aws --version").status) == 0

    /// Runs a Python script with `PORT` set; returns stdout (throws with stderr on failure).
    static func run(_ script: String, port: Int, in directory: URL) throws -> String {
        let file = directory.appendingPathComponent("script-\(UUID().uuidString.prefix(6)).py")
        try script.write(to: file, atomically: true, encoding: .utf8)
        let result = try CLI.shell("python3 '\(file.path)'", environment: [
            "PORT": String(port), "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "AWS_DEFAULT_REGION": "us-east-1",
        ])
        guard result.status == 0 else { throw CLIFailure("python failed (\(result.status)): \(result.stderr)\n\(result.stdout)") }
        return result.stdout
    }

    /// urllib helpers (standard library only), prepended to scripts.
    static let prelude = """
    import json, os, urllib.request, urllib.error
    BASE = "http://127.0.0.1:" + os.environ["PORT"]
    def call(method, path, body=None, headers={}):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(BASE + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    """
}

extension CLI {
    /// Runs a shell command line and waits.
    static func shell(_ command: String, environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        process.environment = env
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let outURL = folder.appendingPathComponent("out"), errURL = folder.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        try process.run()
        finished.wait()
        return Result(status: process.terminationStatus, stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
    }
}
