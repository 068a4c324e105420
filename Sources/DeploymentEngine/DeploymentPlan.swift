import Foundation
import Rollout
import TemplateModel

/// What a deployment was asked to do, parsed.
public struct DeploymentRequest: Sendable {
    public var templatePath: String
    /// A strategy for every function, overriding DeploymentPreference.Type.
    public var strategy: String?
    /// Deploy only these functions (logical ids or names); empty: every function with AutoPublishAlias.
    public var functions: [String]
    public var hookTimeout: Duration
    /// Extra alarm: the new version's error rate (percent) above which it rolls back.
    public var alarmErrorRate: Double?
    /// Extra alarm: the new version's p99 duration (ms) above which it rolls back.
    public var alarmP99Ms: Double?
    /// The aliases shift as one release: a failure of any rolls all back.
    public var allOrNothing: Bool
    /// Deployment configs the template names but does not define (`--deployment-config NAME=SHAPE`).
    public var deploymentConfigs: [String: CustomDeploymentConfig]
    /// Judge each new version against the old on the traffic both serve (nil: alarms and hooks only). Applies to
    /// schedules with a step below 100 %; AllAtOnce leaves no old version to compare with.
    public var judgement: JudgementSettings?
    /// Calls per second through each alias that the dry run's detection analysis assumes; nil: each alias's share
    /// of `replayRate`, as the replayed traffic is shared round-robin among the aliases deployed.
    public var expectedRate: Double?
    /// Calls per second of schedule time that replayed traffic sends through all aliases together.
    public var replayRate: Double
    /// The faulty version's error rate whose blast radius the dry run estimates.
    public var assumedErrorRate: Double

    public init(templatePath: String, strategy: String? = nil, functions: [String] = [], hookTimeout: Duration = .seconds(3600),
                alarmErrorRate: Double? = nil, alarmP99Ms: Double? = nil, allOrNothing: Bool = false,
                deploymentConfigs: [String: CustomDeploymentConfig] = [:], judgement: JudgementSettings? = nil,
                expectedRate: Double? = nil, replayRate: Double = 20, assumedErrorRate: Double = 0.05) {
        self.judgement = judgement
        self.expectedRate = expectedRate
        self.replayRate = replayRate
        self.assumedErrorRate = assumedErrorRate
        self.templatePath = templatePath
        self.strategy = strategy
        self.functions = functions
        self.hookTimeout = hookTimeout
        self.alarmErrorRate = alarmErrorRate
        self.alarmP99Ms = alarmP99Ms
        self.allOrNothing = allOrNothing
        self.deploymentConfigs = deploymentConfigs
    }
}

/// What a deployment will do for one function with AutoPublishAlias, read from the template alone.
public struct FunctionPlan: Sendable {
    public var function: Function
    public var alias: String
    public var schedule: TrafficSchedule
    /// Where the schedule came from: `--strategy`, `DeploymentPreference`, or the default AllAtOnce.
    public var scheduleSource: String
    /// Hook function names by hook.
    public var hooks: [LifecycleHook: String]
    /// Template alarms watched (logical ids); names of alarms not in the template are warnings.
    public var alarmIds: [String]

    public var aliasRef: AliasRef { AliasRef(function: function.functionName, alias: alias) }
}

/// A function's plan joined with the target's state: the publish decision and what happens to the alias.
public struct AliasPlan: Sendable {
    public var plan: FunctionPlan
    public var preview: PublishPreview
    public var routing: AliasRouting?
    public var decision: AliasDecision
    /// An interrupted deployment of this alias that will be closed (rolled back) first, with the reason.
    public var recover: (record: JournalRecord, reason: String)?
    /// The persisted progress of the interrupted deployment this one continues.
    public var resume: RolloutJournal?
    /// Older interrupted deployments of the alias (a crash during an earlier recovery): closed first.
    public var stale: [JournalRecord] = []
}

enum DeploymentPlanner {
    /// The functions to deploy: those with AutoPublishAlias, narrowed by `--function`.
    static func plans(for template: Template, request: DeploymentRequest) throws -> (plans: [FunctionPlan], warnings: [String]) {
        var warnings: [String] = []
        var selected = template.functions.filter { $0.autoPublishAlias != nil }
        if !request.functions.isEmpty {
            selected = try request.functions.map { name in
                guard let function = template.function(named: name) else {
                    let names = template.functions.map(\.logicalId)
                    let suggestion = NameSuggestion.closest(to: name, in: names).map { " (did you mean \($0)?)" } ?? ""
                    throw DeploymentError(.invalidInput, "--function \(name): no such function in \(request.templatePath)\(suggestion); it has \(names.joined(separator: ", "))")
                }
                guard function.autoPublishAlias != nil else {
                    throw DeploymentError(.invalidInput, "--function \(name): it has no AutoPublishAlias, so there is no alias to deploy to; add AutoPublishAlias: live")
                }
                return function
            }
        }
        let (customConfigs, configProblems) = ScheduleCheck.customConfigs(of: template, adding: request.deploymentConfigs)
        if let problem = configProblems.first { throw DeploymentError(.invalidInput, problem.description) }
        var strategySchedule: TrafficSchedule?
        if let strategy = request.strategy {
            do throws(RolloutError) { strategySchedule = try ScheduleCheck.schedule(named: strategy, configs: customConfigs) } catch {
                throw DeploymentError(.invalidInput, "--strategy: \(error.message)")
            }
            guard strategySchedule != nil else {
                throw DeploymentError(.invalidInput, "--strategy \(strategy) is neither a predefined or pattern name nor a deployment config of the template; \(ScheduleCheck.defineHint(strategy))")
            }
        }
        var plans: [FunctionPlan] = []
        for function in selected {
            let preference = function.deploymentPreference
            let found: TrafficSchedule?
            let source: String
            do throws(RolloutError) {
                if let strategySchedule {
                    found = strategySchedule
                    source = "--strategy"
                } else if let preference, preference.enabled, let type = preference.type {
                    found = try ScheduleCheck.schedule(named: type, configs: customConfigs)
                    source = "DeploymentPreference"
                } else {
                    found = try TrafficSchedule(named: "AllAtOnce")
                    source = preference == nil ? "no DeploymentPreference: AllAtOnce" : "DeploymentPreference disabled: AllAtOnce"
                }
            } catch {
                throw DeploymentError(.invalidInput, "\(function.logicalId): \(error.message)")
            }
            guard let schedule = found else {
                // Only a DeploymentPreference Type (not --strategy, checked above) is left unknown.
                let type = preference?.type ?? ""
                throw DeploymentError(.invalidInput, "\(preference?.typeLocation.description ?? request.templatePath): DeploymentPreference.Type '\(type)' of \(function.logicalId) is a deployment config shift does not know (on AWS it may exist in the account); \(ScheduleCheck.defineHint(type))")
            }
            var hooks: [LifecycleHook: String] = [:]
            var alarmIds: [String] = []
            if let preference, preference.enabled {
                for (hook, id) in [(LifecycleHook.preTraffic, preference.preTrafficHook), (.postTraffic, preference.postTrafficHook)] {
                    guard let id else { continue }
                    guard let target = template.function(named: id) else {
                        throw DeploymentError(.invalidInput, "\(function.logicalId): the \(hook.rawValue) hook \(id) is not a function of the template")
                    }
                    hooks[hook] = target.functionName
                }
                for alarm in preference.alarms {
                    if let defined = template.alarm(named: alarm) {
                        alarmIds.append(defined.logicalId)
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

    /// One function's plan against the target's state: the one decision deploy and its dry run share.
    static func decide(_ plan: FunctionPlan, target: any DeploymentTarget) async throws -> AliasPlan {
        let alias = plan.aliasRef
        var preview = try await target.previewPublish(function: alias.function)
        var routing = try await target.routing(of: alias)
        var recover: (JournalRecord, String)?
        var resume: (record: JournalRecord, journal: RolloutJournal)?
        // The newest unfinished deployment is the one to resume; older ones (a crash during a recovery) are closed.
        let unfinished = try await target.unfinishedDeployments(of: alias)
        if let last = unfinished.last {
            if !preview.wouldCreate, last.toVersion == preview.version, let journal = last.progress.flatMap(RolloutJournal.decode) {
                resume = (last, journal)
            } else {
                let why = preview.wouldCreate || last.toVersion != preview.version
                    ? "its target version \(last.toVersion) no longer matches the code on disk (which would be version \(preview.version))"
                    : "its progress could not be read"
                recover = (last, why)
                if let from = last.fromVersion { routing = AliasRouting(primary: from) }
            }
        }
        let decision: AliasDecision
        if let resume {
            decision = .resume(deploymentId: resume.record.id, from: resume.record.fromVersion ?? routing?.primary ?? preview.version)
        } else if let routing {
            if routing.primary != preview.version, recover == nil,
               try await target.versionMatchesDisk(function: alias.function, version: routing.primary) {
                // The code on disk is the version the alias serves (a release rolled back, then the old code
                // deployed again): nothing to publish, nothing to shift.
                preview = PublishPreview(version: routing.primary, wouldCreate: false, codeSha256: preview.codeSha256,
                                         latestVersion: preview.latestVersion, changes: [])
            }
            decision = routing.primary == preview.version ? .unchanged : .shift(from: routing.primary)
        } else {
            decision = .create
        }
        return AliasPlan(plan: plan, preview: preview, routing: routing, decision: decision, recover: recover, resume: resume?.journal,
                         stale: Array(unfinished.dropLast()))
    }
}
