import Foundation
import Synchronization

/// A language interpreter resolved once to its real path (a `python3` found on PATH may be a
/// version-manager shim that costs ~150 ms a start).
struct Interpreter: Sendable, Hashable {
    /// The real executable (`sys.executable`, `process.execPath`).
    var path: String
    /// `3.11`, `20`.
    var version: String
    /// The machine's site-packages folders (Python only); added at the end of `PYTHONPATH`
    /// because the bootstrap runs with `-S` (no `site`, no slow `.pth` files).
    var sitePackages: [String] = []
}

/// Resolves `python3` / `node` once per process and caches the answer.
enum InterpreterResolver {
    private static let cache = Mutex<[String: Interpreter]>([:])

    static func python(_ command: String, searchPath: String) async throws -> Interpreter {
        try await resolve(
            command, searchPath: searchPath, language: "Python",
            arguments: ["-S", "-c", "import sys, sysconfig; p = sysconfig.get_paths(); print(sys.executable); print('%d.%d' % sys.version_info[:2]); print(p['purelib']); print(p['platlib'])"]
        ) { lines in
            guard lines.count >= 2 else { return nil }
            var site: [String] = []
            for dir in lines.dropFirst(2) where !site.contains(dir) { site.append(dir) }
            return Interpreter(path: lines[0], version: lines[1], sitePackages: site)
        }
    }

    static func node(_ command: String, searchPath: String) async throws -> Interpreter {
        try await resolve(
            command, searchPath: searchPath, language: "Node.js",
            arguments: ["-e", "console.log(process.execPath); console.log(process.versions.node.split('.')[0])"]
        ) { lines in
            guard lines.count >= 2 else { return nil }
            return Interpreter(path: lines[0], version: lines[1])
        }
    }

    private static func resolve(
        _ command: String, searchPath: String, language: String, arguments: [String],
        parse: ([String]) -> Interpreter?
    ) async throws -> Interpreter {
        let cacheKey = "\(command)\u{0}\(searchPath)"
        if let known = cache.withLock({ $0[cacheKey] }) { return known }
        guard let found = ProcessSpawner.which(command, path: searchPath) else {
            throw RuntimeError(
                .interpreterNotFound,
                "`\(command)` was not found on PATH (\(searchPath)). Install \(language), or point shift at it (LocalRuntime.Options).")
        }
        let run: (status: ExitStatus, output: String)
        do {
            run = try await ProcessSpawner.run(executable: found, arguments: arguments, environment: ProcessInfo.processInfo.environment)
        } catch {
            throw RuntimeError(.interpreterNotFound, "\(found) could not be started to learn its version.", cause: error)
        }
        let lines = run.output.split(separator: "\n").map { String($0.trimmingWhitespace) }.filter { !$0.isEmpty }
        guard run.status.exitCode == 0, let interpreter = parse(lines) else {
            throw RuntimeError(.interpreterNotFound, "\(found) did not report its version (\(run.status)): \(run.output.prefix(300))")
        }
        cache.withLock { $0[cacheKey] = interpreter }
        return interpreter
    }
}
