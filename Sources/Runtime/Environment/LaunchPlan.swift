import Foundation

/// How to start an execution environment of one function version: the command and its clean,
/// Lambda-shaped environment (the caller's own environment is never passed through).
struct LaunchPlan: Sendable {
    var executable: String
    var arguments: [String]
    /// Everything except the per-environment `AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_LOG_STREAM_NAME` and `TMPDIR`.
    var environment: [String: String]
    var workingDirectory: String
    /// E.g. the local interpreter's version differs from the template's `Runtime`.
    var warnings: [String]

    /// Lambda's limit on `Environment.Variables`, measured as their JSON text.
    static let environmentLimitBytes = 4096

    /// Fails when the function cannot run locally, with what to change.
    static func validate(_ config: FunctionConfiguration) throws {
        let who = "\(config.functionName):\(config.version)"
        guard config.codeDirectory.hasPrefix("/") else {
            throw RuntimeError(.invalidConfiguration, "The code folder of \(who) must be an absolute path, not \(config.codeDirectory).")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: config.codeDirectory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RuntimeError(.invalidConfiguration, "The code folder \(config.codeDirectory) of \(who) does not exist. Check CodeUri.")
        }
        guard (128...10240).contains(config.memorySize) else {
            throw RuntimeError(.invalidConfiguration, "MemorySize \(config.memorySize) of \(who) is outside 128–10240 MB.")
        }
        guard (1...900).contains(config.timeout) else {
            throw RuntimeError(.invalidConfiguration, "Timeout \(config.timeout) of \(who) is outside 1–900 seconds.")
        }
        let measured = "{" + config.environment.sorted { $0.key < $1.key }.map { "\(JSON.quote($0.key)):\(JSON.quote($0.value))" }.joined(separator: ",") + "}"
        if measured.utf8.count > environmentLimitBytes {
            throw RuntimeError(
                .invalidConfiguration,
                "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: \(measured.prefix(200))… (\(measured.utf8.count) bytes) — function \(who): move large values to a file in the code folder or a parameter store.")
        }
        switch config.runtimeFamily {
        case .python, .node:
            guard let handler = config.handler, handler.contains(".") else {
                throw RuntimeError(.invalidConfiguration, "\(who) (\(config.runtime)) needs a Handler of the form module.function, not \(config.handler ?? "nothing").")
            }
        case .provided:
            break
        case .unsupported:
            throw RuntimeError(
                .invalidConfiguration,
                "Runtime \(config.runtime) of \(who) cannot run locally; shift runs python3.x, nodejs* and provided* (a bootstrap executable).")
        }
    }

    /// Builds the plan. `optDirectory` is the merged layers folder (nil without layers); Python writes its
    /// bytecode under `bytecodeCacheDirectory`.
    static func make(
        _ config: FunctionConfiguration,
        optDirectory: String?,
        bootstrapDirectory: String,
        bytecodeCacheDirectory: String,
        options: LocalRuntime.Options
    ) async throws -> LaunchPlan {
        try validate(config)
        let who = "\(config.functionName):\(config.version)"
        let opt = optDirectory
        let variable = InterpreterResolver.overrideVariable(for: config.runtime)
        var warnings: [String] = []
        var path: [String] = []
        if let opt { path.append("\(opt)/bin") }
        var executable: String
        var arguments: [String] = []
        var env: [String: String] = [:]

        switch config.runtimeFamily {
        case .python:
            let command = try InterpreterResolver.command(
                for: config.runtime, fallback: options.pythonCommand, environment: options.callerEnvironment, searchPath: options.searchPath)
            let python = try await InterpreterResolver.python(command, searchPath: options.searchPath, variable: variable)
            executable = python.path
            arguments = ["-S", "\(bootstrapDirectory)/bootstrap.py"]
            let wanted = String(config.runtime.dropFirst("python".count))
            if !wanted.isEmpty, wanted != python.version {
                warnings.append(
                    "\(config.functionName) declares \(config.runtime) but the local interpreter \(python.path) is Python \(python.version); running it anyway. To run Python \(wanted), set \(variable) to its path.")
            }
            var pythonPath = [config.codeDirectory]
            if let opt { pythonPath += ["\(opt)/python/lib/python\(python.version)/site-packages", "\(opt)/python"] }  // Lambda's order
            if options.includeMachineSitePackages { pythonPath += python.sitePackages }
            env["PYTHONPATH"] = pythonPath.joined(separator: ":")
            env["PYTHONUNBUFFERED"] = "1"
            path.append((python.path as NSString).deletingLastPathComponent)
        case .node:
            let command = try InterpreterResolver.command(
                for: config.runtime, fallback: options.nodeCommand, environment: options.callerEnvironment, searchPath: options.searchPath)
            let node = try await InterpreterResolver.node(command, searchPath: options.searchPath, variable: variable)
            executable = node.path
            arguments = ["\(bootstrapDirectory)/bootstrap.js"]
            let wanted = config.runtime.dropFirst("nodejs".count).prefix { $0.isNumber }
            if !wanted.isEmpty, wanted != node.version {
                warnings.append(
                    "\(config.functionName) declares \(config.runtime) but the local node \(node.path) is Node.js \(node.version); running it anyway. To run Node.js \(wanted), set \(variable) to its path.")
            }
            if let opt { env["NODE_PATH"] = ["\(opt)/nodejs/node\(node.version)/node_modules", "\(opt)/nodejs/node_modules"].joined(separator: ":") }
            path.append((node.path as NSString).deletingLastPathComponent)
        case .provided:
            let own = "\(config.codeDirectory)/bootstrap"
            if FileManager.default.fileExists(atPath: own) {
                executable = own
            } else if let opt, FileManager.default.fileExists(atPath: "\(opt)/bootstrap") {
                executable = "\(opt)/bootstrap"
            } else {
                throw RuntimeError(
                    .invalidConfiguration,
                    "\(who) (\(config.runtime)) has no executable `bootstrap` in its code folder \(config.codeDirectory) nor at the root of a layer. Add one (chmod +x).")
            }
            guard FileManager.default.isExecutableFile(atPath: executable) else {
                throw RuntimeError(.invalidConfiguration, "\(executable) of \(who) is not executable: chmod +x it.")
            }
            if let opt, FileManager.default.fileExists(atPath: "\(opt)/python") { env["PYTHONPATH"] = "\(opt)/python" }
            if let opt, FileManager.default.fileExists(atPath: "\(opt)/nodejs/node_modules") { env["NODE_PATH"] = "\(opt)/nodejs/node_modules" }
        case .unsupported:
            preconditionFailure("validate() rejects unsupported runtimes")
        }
        path += ["/usr/local/bin", "/usr/bin", "/bin"]
        var libraryPath: [String] = []
        if let opt { libraryPath.append("\(opt)/lib") }
        libraryPath += ["\(config.codeDirectory)/lib", "/lib64", "/usr/lib64"]

        // Defaults a function may override, then its own variables, then the reserved ones.
        var environment: [String: String] = [
            "PATH": path.joined(separator: ":"),
            "LD_LIBRARY_PATH": libraryPath.joined(separator: ":"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            // Running a function must not write into its code folder; set for every runtime, since a
            // `provided` bootstrap may run Python too.
            "PYTHONPYCACHEPREFIX": bytecodeCacheDirectory,
        ]
        environment.merge(env) { _, new in new }
        environment.merge(config.environment) { _, new in new }
        let reserved: [String: String] = [
            "_HANDLER": config.handler ?? "",
            "LAMBDA_TASK_ROOT": config.codeDirectory,
            "LAMBDA_RUNTIME_DIR": bootstrapDirectory,
            "AWS_LAMBDA_FUNCTION_NAME": config.functionName,
            "AWS_LAMBDA_FUNCTION_VERSION": config.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": String(config.memorySize),
            "AWS_LAMBDA_LOG_GROUP_NAME": config.logGroupName,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": config.region,
            "AWS_DEFAULT_REGION": config.region,
            "AWS_EXECUTION_ENV": "AWS_Lambda_\(config.runtime)",
            "AWS_ACCESS_KEY_ID": "AKIDLOCALSHIFT000000",
            "AWS_SECRET_ACCESS_KEY": "shift-local-dummy-secret-access-key",
            "AWS_SESSION_TOKEN": "shift-local-dummy-session-token",
        ]
        environment.merge(reserved) { _, new in new }
        return LaunchPlan(
            executable: executable, arguments: arguments, environment: environment,
            workingDirectory: config.codeDirectory, warnings: warnings)
    }
}
