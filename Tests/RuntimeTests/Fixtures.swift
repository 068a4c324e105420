import Foundation
import Testing
@testable import Runtime

/// A temp folder holding fixture functions, removed at the end of the test.
final class FixtureFolder: @unchecked Sendable {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.path + "/shift-rt-test-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `files` (relative path → content) under `name`; returns the folder's absolute path.
    @discardableResult
    func write(_ name: String, _ files: [String: String], executable: Set<String> = []) throws -> String {
        let root = "\(path)/\(name)"
        for (relative, content) in files {
            let file = "\(root)/\(relative)"
            try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try content.write(toFile: file, atomically: true, encoding: .utf8)
            if executable.contains(relative) {
                try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: file)
            }
        }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        return root
    }
}

func testOptions(_ configure: (inout LocalRuntime.Options) -> Void = { _ in }) -> LocalRuntime.Options {
    var options = LocalRuntime.Options()
    options.shutdownGracePeriod = .milliseconds(200)
    configure(&options)
    return options
}

extension InvocationResult {
    var text: String { String(decoding: payload, as: UTF8.self) }
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(payload))) as? [String: Any] ?? [:] }
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

/// Whether a process with this pid still exists (zombies count as gone: they have been killed).
func processExists(_ pid: Int32) -> Bool {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return false }
    return !status.contains("State:\tZ")
}

/// The real python3 (resolved once), for fixtures that run Python themselves.
func resolvedPython() async throws -> String {
    try await InterpreterResolver.python("python3", searchPath: ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").path
}

/// Polls `condition` until it holds or `timeout` passes: a wait for a condition with a bound, never a sleep
/// standing in for one. The caller asserts the condition afterwards.
func waitUntil(_ timeout: Duration, _ condition: () async -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while await !condition(), ContinuousClock.now < deadline {
        try await Task.sleep(for: .milliseconds(5))
    }
}

/// Waits (up to 10 s) until some environment is serving an event.
func waitUntilBusy(_ runtime: LocalRuntime) async throws {
    try await waitUntil(.seconds(10)) { await runtime.environmentStatuses().contains(where: \.isBusy) }
}
