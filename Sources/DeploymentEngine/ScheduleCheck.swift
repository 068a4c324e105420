import Rollout
import TemplateModel

/// Turns each function's DeploymentPreference Type into a traffic schedule, reporting names that are not schedules.
public enum ScheduleCheck {
    /// The template's custom `AWS::CodeDeploy::DeploymentConfig`s, by name and by logical id.
    public static func customConfigs(of template: Template) -> (configs: [String: CustomDeploymentConfig], diagnostics: [Diagnostic]) {
        var configs: [String: CustomDeploymentConfig] = [:]
        var diagnostics: [Diagnostic] = []
        for config in template.deploymentConfigs {
            let custom: CustomDeploymentConfig
            switch config.routing {
            case .allAtOnce:
                custom = .allAtOnce
            case .timeBasedCanary(let percentage, let interval), .timeBasedLinear(let percentage, let interval):
                guard percentage.rounded() == percentage else {
                    diagnostics.append(Diagnostic(.error, at: config.location,
                        "deployment config '\(config.logicalId)' shifts \(percentage) %; CodeDeploy takes whole percentages"))
                    continue
                }
                if case .timeBasedCanary = config.routing {
                    custom = .timeBasedCanary(canaryPercentage: Int(percentage), canaryInterval: interval)
                } else {
                    custom = .timeBasedLinear(linearPercentage: Int(percentage), linearInterval: interval)
                }
            }
            configs[config.name] = custom
            configs[config.logicalId] = custom
        }
        return (configs, diagnostics)
    }

    /// The schedule of every enabled deployment preference, keyed by function logical id.
    public static func schedules(for template: Template) -> (schedules: [String: TrafficSchedule], diagnostics: [Diagnostic]) {
        var (configs, diagnostics) = customConfigs(of: template)
        var schedules: [String: TrafficSchedule] = [:]
        for function in template.functions {
            guard let preference = function.deploymentPreference, preference.enabled, let type = preference.type else { continue }
            do {
                schedules[function.logicalId] = try TrafficSchedule(named: type, customConfigs: configs)
            } catch {
                diagnostics.append(Diagnostic(.error, at: preference.typeLocation, "DeploymentPreference.Type of '\(function.logicalId)': \(error.message)"))
            }
        }
        return (schedules, diagnostics)
    }
}
