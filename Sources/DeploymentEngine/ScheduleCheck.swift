import Rollout
import TemplateModel

/// Turns deployment config names (each function's DeploymentPreference Type, `--strategy`) into traffic schedules.
///
/// A name is, in lookup order: a CodeDeploy predefined name, a custom config (the template's
/// `AWS::CodeDeploy::DeploymentConfig`s and those given with `--deployment-config`), or a pattern name.
/// A name close to one of those is a typo, an error naming the valid one. Any other name may be a
/// config that exists in the AWS account: `validate` warns, `deploy` asks for its shape.
public enum ScheduleCheck {
    /// The template's custom `AWS::CodeDeploy::DeploymentConfig`s, by name and by logical id, with `given`
    /// (from `--deployment-config`) added.
    public static func customConfigs(of template: Template, adding given: [String: CustomDeploymentConfig] = [:])
        -> (configs: [String: CustomDeploymentConfig], diagnostics: [Diagnostic]) {
        var configs: [String: CustomDeploymentConfig] = [:]
        var diagnostics: [Diagnostic] = []
        for config in template.deploymentConfigs {
            if given[config.name] != nil || given[config.logicalId] != nil {
                diagnostics.append(Diagnostic(.error, at: config.location,
                    "deployment config '\(config.name)' is defined here and by --deployment-config; drop one of them"))
                continue
            }
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
        configs.merge(given) { template, _ in template }
        return (configs, diagnostics)
    }

    /// The schedule `name` stands for, or nil when it names no config known here and is close to none
    /// (a config that may exist in the AWS account). A near miss of a valid name throws, naming it.
    public static func schedule(named name: String, configs: [String: CustomDeploymentConfig]) throws(RolloutError) -> TrafficSchedule? {
        do throws(RolloutError) {
            return try TrafficSchedule(named: name, customConfigs: configs)
        } catch let error where error.code == .unknownStrategy {
            let candidates = TrafficSchedule.nearNames(for: name, customConfigs: configs.keys.sorted())
            guard let near = NameSuggestion.closest(to: name, in: candidates) else { return nil }
            throw RolloutError(.unknownStrategy, "unknown deployment strategy '\(name)'; did you mean '\(near)'?")
        }
    }

    /// How to tell shift the shape of a config it does not know.
    public static func defineHint(_ name: String) -> String {
        "give its shape with --deployment-config \(name)=Canary10Percent5Minutes (any predefined or Canary/Linear pattern name), "
            + "or define it in the template as an AWS::CodeDeploy::DeploymentConfig"
    }

    /// `NAME=SHAPE` of `--deployment-config`: a config name the template uses and a predefined or pattern name giving its shape.
    public static func parseDeploymentConfig(_ text: String) throws(RolloutError) -> (name: String, config: CustomDeploymentConfig) {
        guard let equals = text.firstIndex(of: "="), equals != text.startIndex, text.index(after: equals) != text.endIndex else {
            throw RolloutError(.invalidFlag, "--deployment-config '\(text)' should read NAME=SHAPE, e.g. MyConfig=Canary20Percent7Minutes")
        }
        let name = String(text[..<equals]), shape = String(text[text.index(after: equals)...])
        if (try? TrafficSchedule(named: name)) != nil {
            throw RolloutError(.invalidFlag, "--deployment-config \(text): '\(name)' already names a schedule; use it as it is, or give your config another name")
        }
        let schedule: TrafficSchedule?
        do throws(RolloutError) { schedule = try Self.schedule(named: shape, configs: [:]) } catch {
            throw RolloutError(.invalidFlag, "--deployment-config \(text): \(error.message)")
        }
        guard let schedule else {
            throw RolloutError(.invalidFlag, "--deployment-config \(text): '\(shape)' is not a shape; write a predefined name or "
                + "Canary<N>Percent<M>Minutes, Linear<N>PercentEvery<M>Minutes, AllAtOnce")
        }
        return (name, CustomDeploymentConfig(schedule.kind))
    }

    /// The schedule of every enabled deployment preference, keyed by function logical id.
    public static func schedules(for template: Template, adding given: [String: CustomDeploymentConfig] = [:])
        -> (schedules: [String: TrafficSchedule], diagnostics: [Diagnostic]) {
        var (configs, diagnostics) = customConfigs(of: template, adding: given)
        var schedules: [String: TrafficSchedule] = [:]
        for function in template.functions {
            guard let preference = function.deploymentPreference, preference.enabled, let type = preference.type else { continue }
            do throws(RolloutError) {
                if let schedule = try schedule(named: type, configs: configs) {
                    schedules[function.logicalId] = schedule
                } else {
                    diagnostics.append(Diagnostic(.warning, at: preference.typeLocation,
                        "DeploymentPreference.Type of '\(function.logicalId)' is '\(type)', which is neither a predefined or pattern name "
                            + "nor a deployment config of this template; on AWS it must exist in the account. To deploy it here, \(defineHint(type))"))
                }
            } catch {
                diagnostics.append(Diagnostic(.error, at: preference.typeLocation, "DeploymentPreference.Type of '\(function.logicalId)': \(error.message)"))
            }
        }
        return (schedules, diagnostics)
    }
}
