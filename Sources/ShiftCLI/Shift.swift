import ArgumentParser
import Foundation
import Logging
import DeploymentEngine
import Runtime
import TemplateModel

/// The entry point both executables (`shift` and `shiftctl`) call: one program under two names.
public enum ShiftCommandLine {
    public static func main() async { await Shift.main() }
}

struct Shift: AsyncParsableCommand {
    /// The name this process was started as: `shiftctl` in a shell (where `shift` is a builtin), else `shift`.
    /// Usage lines and error prefixes use it, so what the tool prints can be pasted back.
    static let name: String = {
        let invoked = CommandLine.arguments.first.map { URL(fileURLWithPath: $0).lastPathComponent } ?? "shift"
        return invoked == "shiftctl" ? "shiftctl" : "shift"
    }()

    /// The version `shift --version` prints.
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: name,
        abstract: "Safe serverless releases, run locally: SAM templates, a Lambda-compatible runtime and CodeDeploy-style rollouts.",
        version: version,
        subcommands: [Validate.self, Invoke.self, Deploy.self, Status.self, ReportCommand.self, RollbackCommand.self, Serve.self, MetricsCommand.self,
                      Logs.self])

    /// Diagnostics of the runtime go to stderr at `warning` and above (`SHIFT_LOG_LEVEL=debug` for more),
    /// so stdout carries only each command's own output.
    static func main() async {
        let level = ProcessInfo.processInfo.environment["SHIFT_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        LoggingSystem.bootstrap { _ in CLILogHandler(level: level) }
        // A closed pipe (`shiftctl deploy --output json | head`) must end the output, not kill the process mid-rollout.
        signal(SIGPIPE, SIG_IGN)
        Signals.unblock()
        if let message = unknownCommandMessage(Array(CommandLine.arguments.dropFirst())) {
            report(CLIError(message), command: nil)
        }
        var parsed: (any ParsableCommand)?
        do {
            // Whatever ends the command, its output and errors stay on screen, not a stale status block.
            defer { Terminal.standard.show([]) }
            var command = try parseAsRoot()
            parsed = command
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            report(error, command: parsed)
        }
    }

    /// The one error-reporting path: one message on stderr and exit 1; under `--output json` the failure is
    /// also JSON on stdout, in the command's style (deploy's `run.finished`, a stream's last line, a report).
    static func report(_ error: any Error, command: (any ParsableCommand)?) -> Never {
        var error = error
        var json = jsonCommand(command)
        if let reported = error as? ReportedError {
            error = reported.underlying
            json = nil
        }
        // The command already said why (a rolled-back deployment, an invalid template's report).
        if let code = error as? ExitCode { Foundation.exit(code.rawValue) }
        // --help and --version.
        if exitCode(for: error) == .success { exit(withError: error) }
        let failure = failure(error)
        if userMessage(error) != nil {
            let names = configuration.subcommands.map { $0._commandName }
            let command = CommandLine.arguments.dropFirst().first { !$0.hasPrefix("-") }.flatMap { names.contains($0) ? " \($0)" : nil } ?? ""
            Terminal.standard.write("\(Self.name)\(command): error: \(failure.message)\n", to: .error)
        } else {
            // A usage error: the parser's message with the usage it refers to.
            Terminal.standard.write((fullMessage(for: error) + "\n"), to: .error)
        }
        if let json { Terminal.standard.write(json.json(for: failure), to: .output) }
        Foundation.exit(failure.exitCode)
    }

    /// What a failure says, for the text and the JSON of the error path.
    static func failure(_ error: any Error) -> Failure {
        if let error = error as? CLIError { return Failure(message: error.message, diagnostics: error.diagnostics) }
        return Failure(message: userMessage(error) ?? message(for: error))
    }

    /// "Did you mean" for a first argument that names no command (ArgumentParser would only call it unexpected).
    static func unknownCommandMessage(_ arguments: [String]) -> String? {
        guard let first = arguments.first, !first.hasPrefix("-") else { return nil }
        let names = configuration.subcommands.map { $0._commandName }
        guard !names.contains(first), first != "help" else { return nil }
        let near = NameSuggestion.closest(to: first, in: names).map { "did you mean '\($0)'? " } ?? ""
        return "unknown command '\(first)'; \(near)The commands are \(names.joined(separator: ", ")) (\(name) --help tells more)"
    }

    /// The message of an error that says what is wrong and how to fix it (nil for anything else).
    static func userMessage(_ error: any Error) -> String? {
        switch error {
        case let error as CLIError: error.message
        case let error as DeploymentError: error.message
        case let error as StateError: error.message
        case let error as RuntimeError: error.message
        default: nil
        }
    }

    /// The command whose `--output json` was asked for: the parsed one, or when parsing failed, the subcommand
    /// named on the command line if `--output json` is among its arguments.
    private static func jsonCommand(_ command: (any ParsableCommand)?) -> (any JSONOutputCommand.Type)? {
        if let command {
            guard let command = command as? any JSONOutputCommand, command.output.isJSON else { return nil }
            return type(of: command)
        }
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard let name = arguments.first(where: { !$0.hasPrefix("-") }),
              let type = configuration.subcommands.first(where: { $0._commandName == name }) as? any JSONOutputCommand.Type else { return nil }
        let asksForJSON = arguments.contains("--output=json") || zip(arguments, arguments.dropFirst()).contains { $0 == "--output" && $1 == "json" }
        return asksForJSON ? type : nil
    }
}
