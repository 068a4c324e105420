import ArgumentParser
import DeploymentEngine
import Foundation
import Runtime
import TemplateModel

/// `shift invoke`: runs one function of the template once, like `sam local invoke`, without Docker.
struct Invoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Invoke a function of the template once ($LATEST: its code on disk now).",
        discussion: """
        The result goes to stdout as JSON, the function's log (START/END/REPORT) to stderr. \
        Exit status: 0 success, 2 the function failed (its error JSON on stdout), 1 any other error.
        """)

    @Argument(help: "The function's logical id or FunctionName.")
    var function: String

    @Option(name: .shortAndLong, help: "The SAM template.")
    var template: String = TemplateFile.defaultPath

    @Option(name: .shortAndLong, help: "The event: a JSON file, or - for stdin (default {}).")
    var event: String?

    @Option(name: .long, help: "Environment variable overrides, SAM's format: {\"Fn\": {\"K\": \"V\"}, \"Parameters\": {\"K\": \"V\"}}.")
    var envVars: String?

    @OptionGroup var templateOptions: TemplateOptions
    @OptionGroup var stateOptions: StateOptions

    func run() async throws {
        let loaded = try TemplateFile.loadOrFail(template, options: try templateOptions.loadOptions())
        guard let target = loaded.function(named: function) else {
            let names = loaded.functions.map(\.logicalId).joined(separator: ", ")
            throw CLIError("no function '\(function)' in \(template)\(names.isEmpty ? "" : "; it has: \(names)")")
        }
        let payload = try readEvent()
        let overrides = try readEnvironmentOverrides(for: target)
        let stateDirectory = stateOptions.directory(forTemplate: template)
        let mapping = FunctionMapping(template: loaded, stateDirectory: stateDirectory)
        let configuration = try mapping.configuration(for: target, environment: overrides)
        var options = LocalRuntime.Options()
        options.idleTimeout = .seconds(5)
        options.bytecodeCacheDirectory = ServiceSetup.bytecodeCacheDirectory(in: stateDirectory)
        let runtime = try LocalRuntime(options: options)
        let result: InvocationResult
        do {
            result = try await Signals.run(cleanup: { await runtime.shutdown() }) {
                try await runtime.invoke(configuration, payload: payload)
            }
        } catch {
            await runtime.shutdown()
            throw error
        }
        await runtime.shutdown()
        // Warnings (an interpreter version that differs from Runtime) reach stderr through the runtime's logger.
        Terminal.standard.write(result.log, to: .error)
        if !result.log.hasSuffix("\n") { Terminal.standard.write("\n", to: .error) }
        Terminal.put(bytes: result.payload, .output)
        Terminal.standard.write("\n", to: .output)
        if result.functionError != nil { throw ExitCode(2) }
    }

    private func readEvent() throws -> [UInt8] {
        guard let event else { return Array("{}".utf8) }
        let data: Data
        if event == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let contents = FileManager.default.contents(atPath: event) else {
                throw CLIError("cannot read the event file '\(event)'; pass a JSON file or - for stdin")
            }
            data = contents
        }
        // The strict scan names where the text goes wrong (and refuses what Foundation lets pass, such as a trailing
        // comma, which the function's runtime would refuse); Foundation still checks the encoding.
        let source = event == "-" ? "<stdin>" : event
        if let problem = JSONSyntax.firstProblem(in: Array(data)) {
            throw CLIError("the event is not valid JSON: \(source):\(problem.line):\(problem.column): \(problem.message)")
        }
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw CLIError("the event \(source) is not valid JSON (\(error.localizedDescription)); Lambda events are JSON in UTF-8")
        }
        return Array(data)
    }

    /// SAM CLI's `--env-vars` file: per-function maps by logical id or name, and `Parameters` for all.
    private func readEnvironmentOverrides(for target: Function) throws -> [String: String] {
        guard let envVars else { return [:] }
        guard let data = FileManager.default.contents(atPath: envVars),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw CLIError("--env-vars '\(envVars)' must be a JSON file like {\"\(target.logicalId)\": {\"NAME\": \"value\"}}")
        }
        var result: [String: String] = [:]
        for key in ["Parameters", target.functionName, target.logicalId] {
            guard let map = object[key] as? [String: Any] else { continue }
            for (name, value) in map {
                if let text = value as? String { result[name] = text } else { result[name] = "\(value)" }
            }
        }
        return result
    }
}

/// Where `shift` keeps its durable state (versions, aliases, deployments, metrics, logs).
struct StateOptions: ParsableArguments {
    @Option(name: .long, help: "The state folder (default: .shift beside the template).")
    var stateDir: String?

    func directory(forTemplate template: String) -> URL {
        if let stateDir { return URL(fileURLWithPath: stateDir).standardizedFileURL }
        return URL(fileURLWithPath: template).standardizedFileURL.deletingLastPathComponent().appendingPathComponent(".shift")
    }
}
