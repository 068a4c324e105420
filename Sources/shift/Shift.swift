import ArgumentParser
import Foundation
import Logging

@main
struct Shift: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Safe serverless releases, run locally: SAM templates, a Lambda-compatible runtime and CodeDeploy-style rollouts.",
        subcommands: [Validate.self, Invoke.self, Deploy.self, Status.self, RollbackCommand.self, Serve.self, MetricsCommand.self,
                      Logs.self, Bench.self])

    /// Diagnostics of the runtime go to stderr at `warning` and above (`SHIFT_LOG_LEVEL=debug` for more),
    /// so stdout carries only each command's own output.
    static func main() async {
        let level = ProcessInfo.processInfo.environment["SHIFT_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        LoggingSystem.bootstrap { _ in CLILogHandler(level: level) }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
