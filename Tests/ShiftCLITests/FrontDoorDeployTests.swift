import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// `shift deploy --http-port`: HTTP requests during a canary go through the alias's weights.
@Suite("HTTP front door during a deployment", .serialized)
struct FrontDoorDeployTests {
    /// `Fn` of `DeployFixture` with an HttpApi route; its releases answer `{"release": N}` (payload 2.0's JSON shortcut).
    static let events = """
          Events:
            Release:
              Type: HttpApi
              Properties:
                Path: /release
                Method: get
    """

    @Test func aCanaryAtTenPercentServesAboutTenPercentOfHTTPRequests() throws {
        let app = try DeployFixture(hooks: Self.events, templateAlarm: false)
        #expect(try app.deploy("good1").status == 0)
        let stdout = app.folder.appendingPathComponent("deploy.out"), stderr = app.folder.appendingPathComponent("deploy.err")
        for file in [stdout, stderr] { _ = FileManager.default.createFile(atPath: file.path, contents: nil) }
        let process = Process()
        process.executableURL = CLI.binary
        // Real time: the canary step lasts five minutes, far longer than the requests take.
        process.arguments = ["deploy", app.template, "--state-dir", app.state, "--output", "json", "--parameter-overrides", "Code=good2",
                             "--no-judge", "--http-port", "0", "--seed", "7"]
        process.standardOutput = try FileHandle(forWritingTo: stdout)
        process.standardError = try FileHandle(forWritingTo: stderr)
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        try process.run()
        defer {
            if process.isRunning { process.interrupt() }
            _ = finished.wait(timeout: .now() + 30)
        }
        func text(_ url: URL) -> String { (try? String(contentsOf: url, encoding: .utf8)) ?? "" }
        #expect(CLI.waitUntil(timeout: 60) { text(stdout).contains("traffic.shifted") && text(stderr).contains("front door on ") },
                "\(text(stdout))\n\(text(stderr))")
        let line = try #require(text(stderr).split(separator: "\n").first { $0.hasPrefix("front door on ") })
        let port = try #require(Int(line.split(separator: ":").last ?? ""))
        var releases: [Int: Int] = [:]
        let total = 400
        for _ in 0..<total {
            let response = try CLI.httpGet(port: port, path: "/release")
            #expect(response.status == 200, "\(response.body)")
            let release = (try? JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any])?["release"] as? Int ?? 0
            releases[release, default: 0] += 1
            #expect(response.headers["x-shift-executed-version"] == String(release), "\(response.headers)")
        }
        #expect(releases[1, default: 0] + releases[2, default: 0] == total, "\(releases)")
        // 10 % of 400 is 40 (σ ≈ 6): 8…100 is more than five σ either side.
        #expect((8...100).contains(releases[2, default: 0]), "new version served \(releases[2, default: 0]) of \(total): \(releases)")
        // The Invoke path counts them: the alias's metrics hold every HTTP request.
        process.interrupt()
        _ = finished.wait(timeout: .now() + 60)
        let metrics = try CLI.run(["metrics", "Fn:live", "--template", app.template, "--state-dir", app.state, "--output", "json"])
        let datapoints = (try? JSONSerialization.jsonObject(with: Data(metrics.stdout.utf8)) as? [String: Any])?["datapoints"] as? [[String: Any]] ?? []
        var counted: [String: Int] = [:]
        for point in datapoints {
            if let version = point["executedVersion"] as? String { counted[version, default: 0] += point["invocations"] as? Int ?? 0 }
        }
        #expect(counted["1"] == releases[1] && counted["2"] == releases[2], "metrics \(counted), responses \(releases)")
    }
}

extension CLI {
    /// A GET on 127.0.0.1:`port` with curl-like simplicity: status, lower-cased headers, body text.
    static func httpGet(port: Int, path: String) throws -> (status: Int, headers: [String: String], body: String) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.timeoutInterval = 30
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: (Int, [String: String], String) = (0, [:], "")
        URLSession.shared.dataTask(with: request) { data, response, _ in
            let http = response as? HTTPURLResponse
            var headers: [String: String] = [:]
            for (key, value) in http?.allHeaderFields ?? [:] { headers["\(key)".lowercased()] = "\(value)" }
            result = (http?.statusCode ?? 0, headers, String(decoding: data ?? Data(), as: UTF8.self))
            done.signal()
        }.resume()
        done.wait()
        return result
    }
}
