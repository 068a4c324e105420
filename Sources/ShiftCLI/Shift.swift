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

    static let configuration = CommandConfiguration(
        commandName: name,
        abstract: "Safe serverless releases, run locally: SAM templates, a Lambda-compatible runtime and CodeDeploy-style rollouts.",
        subcommands: [Validate.self, Invoke.self, Deploy.self, Status.self, RollbackCommand.self, Serve.self, MetricsCommand.self,
                      Logs.self])

    /// Diagnostics of the runtime go to stderr at `warning` and above (`SHIFT_LOG_LEVEL=debug` for more),
    /// so stdout carries only each command's own output.
    static func main() async {
        let level = ProcessInfo.processInfo.environment["SHIFT_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        LoggingSystem.bootstrap { _ in CLILogHandler(level: level) }
        if let message = unknownCommandMessage(Array(CommandLine.arguments.dropFirst())) {
            FileHandle.standardError.write(Data("\(name): error: \(message)\n".utf8))
            Foundation.exit(1)
        }
        do {
            // Whatever ends the command, its output and errors stay on screen, not a stale status block.
            defer { Terminal.standard.show([]) }
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            // The one error-reporting path: errors a user can act on are one line on stderr and exit 1.
            if let message = Self.userMessage(error) {
                let command = CommandLine.arguments.dropFirst().first { !$0.hasPrefix("-") }.map { " \($0)" } ?? ""
                FileHandle.standardError.write(Data("\(name)\(command): error: \(message)\n".utf8))
                Foundation.exit(1)
            }
            exit(withError: error)
        }
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
}
