import ArgumentParser
import Runtime

/// `--max-concurrency`, shared by the commands that run functions (`serve`, `deploy`).
struct ConcurrencyOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The account concurrency limit: most invocations in flight at once across all functions of this process; "
            + "ReservedConcurrentExecutions are carved out of it. Default here: \(ConcurrencyLimits.machineDefault) "
            + "(the smallest of 1000, one per 128 MB of memory but at least 64, and the open-file limit / 8).",
        valueName: "n"))
    var maxConcurrency: Int?

    func validate() throws {
        if let maxConcurrency, !(1...100_000).contains(maxConcurrency) {
            throw ValidationError("--max-concurrency must be from 1 to 100000 invocations in flight, e.g. 64")
        }
    }

    /// Applies the limit to the runtime's options (the default stays when the flag is absent).
    func configure(_ options: inout LocalRuntime.Options) {
        if let maxConcurrency { options.maximumConcurrency = maxConcurrency }
    }
}
