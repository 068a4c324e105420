import ArgumentParser

@main
struct Shift: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Safe serverless releases, locally.",
        subcommands: [Bench.self])
}

// Temporary wiring for `shift bench runtime` (the composition root registers it for real).
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Benchmarks.", subcommands: [BenchRuntime.self])
}
