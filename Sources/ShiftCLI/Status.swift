import ArgumentParser
import Foundation
import Runtime

/// `shift status`: versions, aliases and deployments in the state directory (read without the lock).
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show published versions, aliases and deployments (also while a deployment runs, or after one was killed).")

    @Option(name: .shortAndLong, help: "The SAM template (its folder holds the default state directory).")
    var template: String = "template.yaml"

    @OptionGroup var stateOptions: StateOptions

    @Option(help: "text or json.")
    var output: OutputFormat = .text

    func run() async throws {
        let directory = stateOptions.directory(forTemplate: template)
        let store: StateStore
        do {
            store = try await StateDirectory.openReadOnly(directory)
        } catch let error as CLIError {
            FileHandle.standardError.write(Data("shift status: \(error.message)\n".utf8))
            throw ExitCode(1)
        } catch let error as StateError {
            FileHandle.standardError.write(Data("shift status: error: \(error.message)\n".utf8))
            throw ExitCode(1)
        }
        defer { try? store.close() }
        var functions: [[String: Any]] = []
        var lines: [String] = []
        for name in try await store.listFunctions() {
            let versions = try await store.listVersions(function: name)
            let aliases = try await store.listAliases(function: name)
            functions.append([
                "FunctionName": name,
                "Versions": versions.map { version -> [String: Any] in
                    ["Version": version.versionString, "CodeSha256": version.codeSha256, "Description": version.description,
                     "Runtime": version.configuration.runtime, "MemorySize": version.configuration.memorySize,
                     "LastModified": ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(version.publishedAt) / 1000))]
                },
                "Aliases": aliases.map { (try? JSONSerialization.jsonObject(with: $0.jsonData())) ?? [:] },
            ])
            lines.append("\(name): " + (versions.isEmpty ? "no published version" : "versions \(versions.map(\.versionString).joined(separator: ", "))"))
            for alias in aliases {
                let extra = alias.additionalVersion.map { ", version \($0.version) \(DeploymentRenderer.percent($0.weight))" } ?? ""
                lines.append("  alias \(alias.name) → version \(alias.functionVersion)\(extra)")
            }
        }
        let deployments = try await store.listDeployments()
        let deploymentObjects = deployments.map { record -> [String: Any] in
            ["DeploymentId": record.id, "FunctionName": record.functionName, "Alias": record.aliasName, "Status": record.status,
             "CurrentVersion": record.currentVersion.map(String.init) ?? NSNull(), "TargetVersion": String(record.targetVersion),
             "Reason": record.reason ?? NSNull(), "StartedAt": Self.iso(record.startedAt), "EndedAt": record.endedAt.map(Self.iso) ?? NSNull()]
        }
        switch output {
        case .json:
            let data = try JSONSerialization.data(withJSONObject: ["functions": functions, "deployments": deploymentObjects],
                                                  options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
        case .text:
            if lines.isEmpty { lines.append("no functions published yet") }
            if !deployments.isEmpty { lines.append("deployments (newest first):") }
            for record in deployments.prefix(20) {
                let from = record.currentVersion.map(String.init) ?? "-"
                lines.append("  \(record.id.prefix(8)) \(record.functionName):\(record.aliasName) \(from) → \(record.targetVersion) \(record.status)\(record.reason.map { ": \($0)" } ?? "")")
            }
            print(lines.joined(separator: "\n"))
        }
    }

    static func iso(_ milliseconds: Int64) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }
}
