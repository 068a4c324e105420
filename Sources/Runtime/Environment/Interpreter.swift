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

    /// The caller's variable that picks the interpreter of one runtime: `SHIFT_PYTHON3_12` for `python3.12`,
    /// `SHIFT_NODEJS20_X` for `nodejs20.x`.
    static func overrideVariable(for runtime: String) -> String {
        "SHIFT_" + String(runtime.uppercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
    }

    /// The interpreter to run `runtime` with: what its `SHIFT_<RUNTIME>` variable in `environment` names
    /// (a path, or a command on `searchPath`), else `fallback`.
    static func command(for runtime: String, fallback: String, environment: [String: String], searchPath: String) throws -> String {
        let variable = overrideVariable(for: runtime)
        guard let chosen = environment[variable], !chosen.isEmpty else { return fallback }
        let fix = "Set it to the path of a \(runtime) interpreter, or unset it to use `\(fallback)` from PATH."
        guard chosen.contains("/") else {
            guard let found = ProcessSpawner.which(chosen, path: searchPath) else {
                throw RuntimeError(.interpreterNotFound, "\(variable)=\(chosen): `\(chosen)` was not found on PATH (\(searchPath)). \(fix)")
            }
            return found
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: chosen, isDirectory: &isDirectory) else {
            throw RuntimeError(.interpreterNotFound, "\(variable)=\(chosen): there is no such file. \(fix)")
        }
        guard !isDirectory.boolValue else {
            throw RuntimeError(.interpreterNotFound, "\(variable)=\(chosen): that is a folder, not an interpreter. \(fix)")
        }
        guard FileManager.default.isExecutableFile(atPath: chosen) else {
            throw RuntimeError(.interpreterNotFound, "\(variable)=\(chosen): the file is not executable (chmod +x it). \(fix)")
        }
        return chosen
    }

    /// `variable` is the `SHIFT_<RUNTIME>` to suggest when `command` is not found.
    static func python(_ command: String, searchPath: String, variable: String? = nil) async throws -> Interpreter {
        try await resolve(
            command, searchPath: searchPath, language: "Python", variable: variable,
            arguments: ["-S", "-c", "import sys, sysconfig; p = sysconfig.get_paths(); print(sys.executable); print('%d.%d' % sys.version_info[:2]); print(p['purelib']); print(p['platlib'])"]
        ) { lines in
            guard lines.count >= 2 else { return nil }
            var site: [String] = []
            for dir in lines.dropFirst(2) where !site.contains(dir) { site.append(dir) }
            return Interpreter(path: lines[0], version: lines[1], sitePackages: site)
        }
    }

    static func node(_ command: String, searchPath: String, variable: String? = nil) async throws -> Interpreter {
        try await resolve(
            command, searchPath: searchPath, language: "Node.js", variable: variable,
            arguments: ["-e", "console.log(process.execPath); console.log(process.versions.node.split('.')[0])"]
        ) { lines in
            guard lines.count >= 2 else { return nil }
            return Interpreter(path: lines[0], version: lines[1])
        }
    }

    private static func resolve(
        _ command: String, searchPath: String, language: String, variable: String?, arguments: [String],
        parse: ([String]) -> Interpreter?
    ) async throws -> Interpreter {
        let cacheKey = "\(command)\u{0}\(searchPath)"
        if let known = cache.withLock({ $0[cacheKey] }) { return known }
        guard let found = ProcessSpawner.which(command, path: searchPath) else {
            throw RuntimeError(
                .interpreterNotFound,
                "`\(command)` was not found on PATH (\(searchPath)). Install \(language), or set \(variable ?? "SHIFT_<RUNTIME>") to the path of an interpreter.")
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
