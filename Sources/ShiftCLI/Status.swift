import ArgumentParser
import Foundation
import Rollout
import Runtime

/// `shift status`: versions, aliases and deployments in the state directory (read without the lock).
struct Status: AsyncParsableCommand, JSONOutputCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show published versions, aliases and deployments (also while a deployment runs, or after one was killed).")

    @Option(name: .shortAndLong, help: "The SAM template (its folder holds the default state directory).")
    var template: String = TemplateFile.defaultPath

    @OptionGroup var stateOptions: StateOptions

    @Option(help: "text or json.")
    var output: OutputFormat = .text

    static let jsonStyle = JSONOutput.Style.report

    func run() async throws {
        let store = try await StateDirectory.openReadOnly(stateOptions.directory(forTemplate: template))
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
                     "LastModified": JSONOutput.time(milliseconds: version.publishedAt)]
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
             "Reason": record.reason ?? NSNull(), "StartedAt": JSONOutput.time(milliseconds: record.startedAt),
             "EndedAt": record.endedAt.map { JSONOutput.time(milliseconds: $0) } ?? NSNull()]
        }
        switch output {
        case .json:
            print(JSONOutput.report(["functions": functions, "deployments": deploymentObjects]))
        case .text:
            if lines.isEmpty { lines.append("no functions published yet") }
            if !deployments.isEmpty { lines.append("deployments (newest first):") }
            for record in deployments.prefix(20) {
                let from = record.currentVersion.map(String.init) ?? "-"
                lines.append("  \(record.id.prefix(8)) \(record.functionName):\(record.aliasName) \(from) → \(record.targetVersion) \(record.status) "
                    + "\(Self.period(record.startedAt, record.endedAt))\(record.reason.map { ": \($0)" } ?? "")")
            }
            print(lines.joined(separator: "\n"))
        }
    }

    /// When a deployment ran, on the time base, to the second: `2026-04-12 10:00:00 – 10:05:02 UTC`, or `since …` while it runs.
    static func period(_ started: Int64, _ ended: Int64?) -> String {
        func seconds(_ milliseconds: Int64) -> String {
            let text = JSONOutput.time(milliseconds: milliseconds)
            return String(text.prefix(10)) + " " + String(text.dropFirst(11).prefix(8))
        }
        let start = seconds(started)
        guard let ended else { return "(since \(start) UTC)" }
        let end = seconds(ended)
        // The same day is not written twice.
        return "(\(start) – \(end.hasPrefix(start.prefix(10)) ? String(end.dropFirst(11)) : end) UTC)"
    }
}
