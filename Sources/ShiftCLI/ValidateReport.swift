import DeploymentEngine
import Foundation
import Rollout
import TemplateModel

/// Renders what `validate` found, as text for people or JSON for tools.
enum ValidateReport {
    static func json(template: Template?, schedules: [String: TrafficSchedule], diagnostics: [Diagnostic]) -> String {
        var object: [String: Any] = [
            "valid": template != nil,
            // As every report of a failure has it: 1 when the template is invalid.
            "exitCode": template != nil ? 0 : 1,
            "diagnostics": diagnostics.map(JSONOutput.diagnostic),
        ]
        if let template {
            object["functions"] = template.functions.map { functionJSON($0, template: template, schedule: schedules[$0.logicalId]) }
            object["layers"] = template.layers.map { layer -> [String: Any] in
                ["LogicalId": layer.logicalId, "LayerName": layer.layerName, "ContentUri": layer.contentUri ?? NSNull(),
                 "CompatibleRuntimes": layer.compatibleRuntimes ?? NSNull(), "CompatibleArchitectures": layer.compatibleArchitectures ?? NSNull()]
            }
            object["alarms"] = template.alarms.map { alarm -> [String: Any] in
                var entry = alarm.properties.mapValues(\.jsonObject)
                entry["LogicalId"] = alarm.logicalId
                entry["AlarmName"] = alarm.alarmName
                return entry
            }
            object["parameters"] = Dictionary(uniqueKeysWithValues: template.parameters.map { ($0.name, $0.value.jsonObject) })
            object["outputs"] = template.outputs.mapValues(\.jsonObject)
            object["stackName"] = template.pseudoParameters.stackName
        }
        return JSONOutput.report(object)
    }

    static func functionJSON(_ function: Function, template: Template, schedule: TrafficSchedule?) -> [String: Any] {
        func orNull(_ value: Any?) -> Any { value ?? NSNull() }
        var inline: String?
        if case .inline(let code) = function.code { inline = code }
        var preference: Any = NSNull()
        if let dp = function.deploymentPreference {
            preference = [
                "Type": orNull(dp.type),
                "Enabled": dp.enabled,
                "Alarms": dp.alarms,
                "Hooks": ["PreTraffic": orNull(dp.preTrafficHook), "PostTraffic": orNull(dp.postTrafficHook)],
                "Schedule": schedule.map { $0.points.map { ["minute": $0.minute, "percent": jsonNumber($0.percent)] } } ?? NSNull(),
            ] as [String: Any]
        }
        let layers = function.layers?.map { layer -> String in
            switch layer {
            case .local(let id): return id
            case .arn(let arn): return arn
            }
        }
        return [
            "LogicalId": function.logicalId,
            "FunctionName": function.functionName,
            "Runtime": orNull(function.runtime),
            "Handler": orNull(function.handler),
            "CodeUri": orNull(function.codeUri ?? (inline == nil && function.packageType == "Zip" ? "." : nil)),
            "InlineCode": orNull(inline),
            "MemorySize": orNull(function.memorySize),
            "Timeout": orNull(function.timeout),
            "Environment": orNull(function.environment),
            "Layers": orNull(layers),
            "Architectures": orNull(function.architectures),
            "AutoPublishAlias": orNull(function.autoPublishAlias),
            "DeploymentPreference": preference,
            "PackageType": function.packageType,
            "Type": function.resourceType,
        ]
    }

    static func jsonNumber(_ value: Double) -> Any {
        value.rounded() == value ? Int(value) as Any : value as Any
    }

    static func text(_ template: Template, schedules: [String: TrafficSchedule], diagnostics: [Diagnostic]) -> String {
        var lines: [String] = []
        let warnings = diagnostics.filter { $0.severity == .warning }.count
        lines.append("\(template.path): valid, \(English.count(template.functions.count, "function")), \(English.count(template.layers.count, "layer")), "
            + "\(English.count(template.alarms.count, "alarm"))\(warnings > 0 ? ", \(English.count(warnings, "warning"))" : "")")
        for function in template.functions {
            var line = "  \(function.logicalId) (\(function.runtime ?? function.packageType))"
            if let alias = function.autoPublishAlias { line += " alias \(alias)" }
            if let dp = function.deploymentPreference {
                line += dp.enabled ? ", \(dp.type ?? "?")" : ", deployment preference disabled"
                if let schedule = schedules[function.logicalId], dp.enabled {
                    line += " [" + schedule.points.map { "\($0.minute)m→\(TemplateValueFormat.percent($0.percent))%" }.joined(separator: " ") + "]"
                }
                if let pre = dp.preTrafficHook { line += ", PreTraffic \(pre)" }
                if let post = dp.postTrafficHook { line += ", PostTraffic \(post)" }
                if !dp.alarms.isEmpty { line += ", alarms \(dp.alarms.joined(separator: ", "))" }
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}
