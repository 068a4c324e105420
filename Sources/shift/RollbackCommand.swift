import ArgumentParser
import Foundation
import Runtime
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
    var template: String = "template.yaml"

    @OptionGroup var templateOptions: TemplateOptions
    @OptionGroup var stateOptions: StateOptions

    func run() async throws {
        var name = function
        var aliasName = alias ?? "live"
        if FileManager.default.fileExists(atPath: template),
           let model = try? TemplateFile.load(template, options: try templateOptions.loadOptions()).template,
           let target = model.function(named: function) {
            name = target.functionName
            aliasName = alias ?? target.autoPublishAlias ?? "live"
        }
        let directory = stateOptions.directory(forTemplate: template)
        do {
            let store = try await StateStore.open(directory: directory)
            defer { try? store.close() }
            let output = DeployOutput(format: .text)
            if try await Recovery(store: store, output: output).recover([(name, aliasName)]) > 0 { return }
            // The newest deployment that moved traffic forward (rollbacks are deployments too, and are skipped).
            let history = try await store.listDeployments(function: name, alias: aliasName, limit: 100)
            guard let last = history.first(where: { $0.status == "Succeeded" && !($0.reason ?? "").hasPrefix("rollback of") }),
                  let previous = last.currentVersion else {
                throw CLIError("no deployment of \(name):\(aliasName) to roll back; `shift status` lists what is deployed")
            }
            let alias = try await store.getAlias(function: name, name: aliasName)
            guard alias.functionVersion != String(previous) || alias.routingConfig?.additionalVersionWeights.isEmpty == false else {
                print("\(name):\(aliasName) already serves version \(previous)")
                return
            }
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let record = DeploymentRecord(functionName: name, aliasName: aliasName, status: "Created",
                                          currentVersion: Int(alias.functionVersion), targetVersion: previous,
                                          reason: "rollback of deployment \(last.id)", startedAt: now)
            try await store.createDeployment(record)
            _ = try await store.updateAlias(function: name, name: aliasName, functionVersion: String(previous), routingConfig: RoutingConfig())
            _ = try await store.recordTransition(deploymentId: record.id, DeploymentTransition(
                at: now, kind: "rollback", status: "Succeeded", reason: "rollback of deployment \(last.id): alias back on version \(previous)", endedAt: now))
            print("\(name):\(aliasName) rolled back from version \(alias.functionVersion) to \(previous)")
        } catch let error as CLIError {
            FileHandle.standardError.write(Data("shift rollback: error: \(error.message)\n".utf8))
            throw ExitCode(1)
        } catch let error as StateError {
            FileHandle.standardError.write(Data("shift rollback: error: \(error.message)\n".utf8))
            throw ExitCode(1)
        }
    }
}
