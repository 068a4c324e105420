import ArgumentParser

@main
struct Shift: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Safe serverless releases, locally.")
}
