import Foundation
import Rollout
import TemplateModel

/// What `deploy` will do for one function with AutoPublishAlias: its alias, schedule, hooks and alarms.
struct FunctionPlan: Sendable {
    var function: Function
    var alias: String
    var schedule: TrafficSchedule
    /// Where the schedule came from: `--strategy`, `DeploymentPreference`, or the default AllAtOnce.
    var scheduleSource: String
    /// Hook function names by hook.
    var hooks: [LifecycleHook: String]
    /// Template alarms watched (logical ids); names of alarms not in the template are warnings.
    var alarmIds: [String]
}

enum DeploymentPlanner {
    /// The functions to deploy: those with AutoPublishAlias, narrowed by `--function`.
    static func plans(for template: Template, settings: DeploySettings) throws -> (plans: [FunctionPlan], warnings: [String]) {
        var warnings: [String] = []
        var selected = template.functions.filter { $0.autoPublishAlias != nil }
        if !settings.functions.isEmpty {
            selected = try settings.functions.map { name in
                guard let function = template.function(named: name) else {
                    throw CLIError("--function \(name): no such function in \(settings.templatePath); it has \(template.functions.map(\.logicalId).joined(separator: ", "))")
                }
                guard function.autoPublishAlias != nil else {
                    throw CLIError("--function \(name): it has no AutoPublishAlias, so there is no alias to deploy to; add AutoPublishAlias: live")
                }
                return function
            }
        }
        let (customConfigs, _) = ScheduleCheck.customConfigs(of: template)
        var plans: [FunctionPlan] = []
        for function in selected {
            let preference = function.deploymentPreference
            let schedule: TrafficSchedule
            let source: String
            do throws(RolloutError) {
                if let strategy = settings.strategy {
                    schedule = try TrafficSchedule(named: strategy, customConfigs: customConfigs)
                    source = "--strategy"
                } else if let preference, preference.enabled, let type = preference.type {
                    schedule = try TrafficSchedule(named: type, customConfigs: customConfigs)
                    source = "DeploymentPreference"
                } else {
                    schedule = try TrafficSchedule(named: "AllAtOnce")
                    source = preference == nil ? "no DeploymentPreference: AllAtOnce" : "DeploymentPreference disabled: AllAtOnce"
                }
            } catch {
                throw CLIError("\(function.logicalId): \(error.message)")
            }
            var hooks: [LifecycleHook: String] = [:]
            var alarmIds: [String] = []
            if let preference, preference.enabled {
                for (hook, id) in [(LifecycleHook.preTraffic, preference.preTrafficHook), (.postTraffic, preference.postTrafficHook)] {
                    guard let id else { continue }
                    guard let target = template.function(named: id) else {
                        throw CLIError("\(function.logicalId): the \(hook.rawValue) hook \(id) is not a function of the template")
                    }
                    hooks[hook] = target.functionName
                }
                for alarm in preference.alarms {
                    if template.alarm(named: alarm) != nil {
                        alarmIds.append(template.alarm(named: alarm)!.logicalId)
                    } else {
                        warnings.append("\(function.logicalId): alarm '\(alarm)' is not defined in the template, so it cannot be evaluated locally; define it as an AWS::CloudWatch::Alarm or use --alarm-error-rate")
                    }
                }
            }
            plans.append(FunctionPlan(function: function, alias: function.autoPublishAlias!, schedule: schedule, scheduleSource: source,
                                      hooks: hooks, alarmIds: alarmIds))
        }
        return (plans, warnings)
    }
}
