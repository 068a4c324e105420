import Foundation
import Rollout
import Runtime
import TemplateModel

/// `deploy --dry-run`: what each alias would go through, read without writing anything.
struct DryRunReport {
    let settings: DeploySettings
    let output: DeployOutput

    func run(template: Template, plans: [FunctionPlan]) async throws -> Int32 {
        // Read-only: no lock, no new state directory; a missing one means nothing was deployed yet.
        let databaseExists = FileManager.default.fileExists(atPath: settings.stateDirectory.path)
        let store = databaseExists
            ? try? await StateStore.open(directory: settings.stateDirectory, options: StateStore.Options(
                arn: LambdaArn(region: template.pseudoParameters.region, accountId: template.pseudoParameters.accountId), readOnly: true))
            : nil
        defer { try? store?.close() }
        let definitions = ServiceSetup.definitions(template: template, stateDirectory: settings.stateDirectory)
        var reports: [[String: Any]] = []
        for plan in plans {
            let name = plan.function.functionName
            guard let definition = definitions.definitions.first(where: { $0.name == name }) else {
                throw CLIError("\(plan.function.logicalId) cannot be deployed locally: \(definitions.skipped[plan.function.logicalId] ?? "unknown reason")")
            }
            let codeSha256 = try StateStore.codeHash(.directory(URL(fileURLWithPath: definition.latest.codeDirectory)))
            let layers = try definition.latest.layers.map {
                LayerReference(name: URL(fileURLWithPath: $0).lastPathComponent, codeSha256: try StateStore.codeHash(.directory(URL(fileURLWithPath: $0))))
            }
            let latest = try? await store?.latestPublishedVersion(function: name)
            let publish = PublishPlan.compare(definition, codeSha256: codeSha256, layers: layers, latest: latest ?? nil, rule: .autoPublishAlias)
            let alias = try? await store?.getAlias(function: name, name: plan.alias)
            let newVersion = publish.wouldCreate ? String((publish.latestVersion ?? 0) + 1) : String(publish.latestVersion ?? 1)
            let action: String
            if alias == nil {
                action = "create alias \(plan.alias) on version \(newVersion) (first deployment: no traffic shift)"
            } else if alias?.functionVersion == newVersion && (alias?.routingConfig?.additionalVersionWeights.isEmpty ?? true) {
                action = "nothing to do: alias \(plan.alias) serves version \(newVersion)"
            } else {
                action = "shift alias \(plan.alias) from version \(alias!.functionVersion) to \(newVersion) by \(plan.schedule.name)"
            }
            let start = Date()
            let timeline = plan.schedule.points.map { point -> [String: Any] in
                let at = start.addingTimeInterval(Double(point.minute) * 60 / settings.timeScale)
                return ["minute": point.minute, "percent": point.percent, "at": ISO8601DateFormatter().string(from: at)]
            }
            var alarms = plan.alarmIds
            if let rate = settings.alarmErrorRate { alarms.append("--alarm-error-rate \(TemplateValueFormat.percent(rate))%") }
            if let p99 = settings.alarmP99Ms { alarms.append("--alarm-p99-ms \(TemplateValueFormat.percent(p99))") }
            let report: [String: Any] = [
                "function": name, "alias": plan.alias, "currentVersion": alias?.functionVersion ?? NSNull(),
                "newVersion": newVersion, "publishes": publish.wouldCreate, "codeSha256": codeSha256, "changes": publish.changes,
                "strategy": plan.schedule.name, "strategySource": plan.scheduleSource, "schedule": timeline,
                "hooks": Dictionary(uniqueKeysWithValues: plan.hooks.map { ($0.key.rawValue, $0.value) }), "alarms": alarms, "action": action,
            ]
            reports.append(report)
            var text = "\(action)\n    code \(codeSha256)"
            text += publish.latestVersion.map { " (latest version \($0): \(publish.changes.isEmpty ? "unchanged" : publish.changes.joined(separator: ", ")))" } ?? " (no version yet)"
            text += "\n    schedule (\(plan.scheduleSource)): " + plan.schedule.points.map { "minute \($0.minute) → \(TemplateValueFormat.percent($0.percent))%" }.joined(separator: ", ")
            if !plan.hooks.isEmpty { text += "\n    hooks: " + plan.hooks.sorted { $0.key.rawValue > $1.key.rawValue }.map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", ") }
            if !alarms.isEmpty { text += "\n    alarms: " + alarms.joined(separator: ", ") }
            output.event("plan.function", function: name, alias: plan.alias, report, text: text)
        }
        output.event("plan", ["dryRun": true, "functions": reports.count], text: "dry run: nothing was published or changed")
        return 0
    }
}
