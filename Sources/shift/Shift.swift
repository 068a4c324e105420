import ArgumentParser
import Foundation
import Logging
import DeploymentEngine
import Runtime

@main
struct Shift: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Safe serverless releases, run locally: SAM templates, a Lambda-compatible runtime and CodeDeploy-style rollouts.",
        subcommands: [Validate.self, Invoke.self, Deploy.self, Status.self, RollbackCommand.self, Serve.self, MetricsCommand.self,
                      Logs.self])

    /// Diagnostics of the runtime go to stderr at `warning` and above (`SHIFT_LOG_LEVEL=debug` for more),
    /// so stdout carries only each command's own output.
    static func main() async {
        let level = ProcessInfo.processInfo.environment["SHIFT_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        LoggingSystem.bootstrap { _ in CLILogHandler(level: level) }
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
                FileHandle.standardError.write(Data("shift\(command): error: \(message)\n".utf8))
                Foundation.exit(1)
            }
            exit(withError: error)
        }
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
