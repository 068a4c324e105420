import ArgumentParser

@main
struct Shift: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Safe serverless releases, run locally: SAM templates, a Lambda-compatible runtime and CodeDeploy-style rollouts.",
        subcommands: [Validate.self, Invoke.self, Deploy.self, Status.self, RollbackCommand.self, Serve.self, MetricsCommand.self,
                      Logs.self, Bench.self])
}
