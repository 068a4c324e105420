import ArgumentParser
import DeploymentEngine
import Foundation
import TemplateModel

/// `shift rollback`: put an alias back on the version it served before the last deployment.
struct RollbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Roll an alias back: finish an interrupted deployment on its old version, or undo the last one.")

    @Argument(help: "The function (logical id or FunctionName).")
    var function: String

    @Option(help: "The alias (default: the function's AutoPublishAlias, else live).")
    var alias: String?

    @Option(name: .shortAndLong, help: "The SAM template.")
    var template: String = TemplateFile.defaultPath

    @OptionGroup var templateOptions: TemplateOptions
    @OptionGroup var stateOptions: StateOptions

    func run() async throws {
        var name = function
        var aliasName = alias ?? "live"
        var region = "us-east-1", accountId = "123456789012"
        if FileManager.default.fileExists(atPath: template),
           let model = try? TemplateFile.load(template, options: try templateOptions.loadOptions()).template {
            region = model.pseudoParameters.region
            accountId = model.pseudoParameters.accountId
            if let target = model.function(named: function) {
                name = target.functionName
                aliasName = alias ?? target.autoPublishAlias ?? "live"
            }
        }
        let renderer = DeploymentRenderer(format: .text)
        let target = try await LocalTarget.open(stateDirectory: stateOptions.directory(forTemplate: template), region: region, accountId: accountId)
        do {
            try await Deployer(target: target, clock: target.deploymentClock, emit: renderer.sink).rollback(AliasRef(function: name, alias: aliasName))
        } catch {
            await target.close()
            throw error
        }
        await target.close()
    }
}
