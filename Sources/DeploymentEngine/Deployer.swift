import Foundation
import Rollout
import TemplateModel

/// How a deployment ended, for the caller's exit status.
public enum DeploymentOutcome: Sendable, Equatable {
    /// Nothing to do (no alias, or every alias already serves its version).
    case nothingToDo
    /// Rollouts ran; one result per alias that shifted.
    case rolledOut([RolloutResult])

    /// True when no rollout ended other than Succeeded.
    public var succeeded: Bool {
        switch self {
        case .nothingToDo: true
        case .rolledOut(let results): results.allSatisfy { $0.status == .succeeded }
        }
    }

    /// True when a rollout ended on an Inconclusive judgement (promoted or rolled back by `onInconclusive`) and
    /// none failed for another reason: the judgement could not tell, which is neither a pass nor a caught fault.
    public var inconclusive: Bool {
        guard case .rolledOut(let results) = self, results.contains(where: \.endedInconclusive) else { return false }
        return results.allSatisfy { $0.status == .succeeded || $0.endedInconclusive }
    }
}

/// Runs `shift deploy` and its dry run against a target: plan, publish, then one executor for every alias.
public struct Deployer: Sendable {
    let target: any DeploymentTarget
    let clock: any DeploymentClock
    let emit: DeploymentEventSink
    let executorOptions: RolloutExecutor.Options

    public init(target: any DeploymentTarget, clock: any DeploymentClock, executorOptions: RolloutExecutor.Options = .init(),
                emit: @escaping DeploymentEventSink) {
        self.target = target
        self.clock = clock
        self.executorOptions = executorOptions
        self.emit = emit
    }

    /// The plan of every alias, read without changing anything.
    /// The plan of every alias, with a detection analysis of its rollout; `resolve` reads the template again with
    /// the version numbers a deployment would publish (for alarms on `!GetAtt Fn.Version.Version`).
    public func dryRun(template: Template, request: DeploymentRequest, resolve: @Sendable ([String: String]) throws -> Template) async throws {
        let (plans, warnings) = try DeploymentPlanner.plans(for: template, request: request)
        let now = clock.now
        for warning in warnings { emit(now, .warning(warning)) }
        guard !plans.isEmpty else {
            emit(now, .nothingToDeploy(reason: "no function has AutoPublishAlias"))
            return
        }
        var decided: [AliasPlan] = []
        for plan in plans { decided.append(try await DeploymentPlanner.decide(plan, target: target)) }
        let versions = Dictionary(uniqueKeysWithValues: decided.map { ($0.plan.function.logicalId, Self.analysedVersions($0).new) })
        let resolved = try resolve(versions)
        let resolvedPlans = try DeploymentPlanner.plans(for: resolved, request: request).plans
        let rate = request.expectedRate ?? TrafficReplay.perAliasRate(request.replayRate, aliases: plans.count)
        for aliasPlan in decided {
            let plan = aliasPlan.plan
            let timeline = plan.schedule.points.map { now + .seconds(Int64($0.minute) * 60) }
            var detection: DetectionAnalysis?
            if aliasPlan.decision != .unchanged,
               let resolvedPlan = resolvedPlans.first(where: { $0.function.logicalId == plan.function.logicalId }) {
                detection = try analyze(resolvedPlan, template: resolved, request: request, decided: aliasPlan, rate: rate)
            }
            emit(now, .planned(AliasPlanReport(
                alias: plan.aliasRef, currentVersion: aliasPlan.routing?.primary, newVersion: aliasPlan.preview.version,
                publishes: aliasPlan.preview.wouldCreate, codeSha256: aliasPlan.preview.codeSha256, latestVersion: aliasPlan.preview.latestVersion,
                changes: aliasPlan.preview.changes, decision: aliasPlan.decision, schedule: plan.schedule, scheduleSource: plan.scheduleSource,
                timeline: timeline, hooks: plan.hooks, alarms: plan.alarmIds + Self.flagAlarmNames(request), detection: detection)))
        }
        emit(now, .planFinished(aliases: plans.count))
    }

    /// The versions a rollout of this plan would move between. A first deployment only creates the alias, so it is
    /// analysed as the rollout of the next release (N + 1 replacing the N it creates): in CI the state is usually fresh.
    static func analysedVersions(_ decided: AliasPlan) -> (old: String, new: String) {
        if decided.decision == .create { return (decided.preview.version, String((Int(decided.preview.version) ?? 1) + 1)) }
        return (decided.routing?.primary ?? decided.preview.version, decided.preview.version)
    }

    /// Simulates the alias's rollout at the expected traffic: what its alarms (and the judgement) would catch.
    private func analyze(_ plan: FunctionPlan, template: Template, request: DeploymentRequest, decided: AliasPlan,
                         rate: Double) throws -> DetectionAnalysis? {
        let (oldVersion, newVersion) = Self.analysedVersions(decided)
        let alarms = try alarmDefinitions(plan, template: template, request: request, newVersion: newVersion)
        guard plan.schedule.points.count > 1 || !alarms.isEmpty else { return nil }
        let configuration = RolloutConfiguration(newVersion: newVersion, schedule: plan.schedule, hooks: Set(plan.hooks.keys),
                                                 hookTimeout: request.hookTimeout,
                                                 judgement: plan.schedule.points.count > 1 ? request.judgement : nil)
        do throws(RolloutError) {
            return try DetectionAnalysis.analyze(
                configuration: configuration,
                identity: AliasIdentity(functionName: plan.function.functionName, alias: plan.alias, oldVersion: oldVersion),
                alarms: alarms, options: DetectionAnalysis.Options(rate: rate, assumedErrorRate: request.assumedErrorRate))
        } catch {
            throw DeploymentError(.invalidInput, error.message)
        }
    }

    /// Deploys every alias of the template: recovers or resumes interrupted deployments, publishes, creates
    /// first aliases, and shifts the others by their schedules while `traffic` (if any) runs through them.
    /// `resolve` reads the template again with the published version numbers (for `Fn.Version` references).
    public func deploy(template: Template, request: DeploymentRequest, resolve: @Sendable ([String: String]) throws -> Template,
                       traffic: TrafficReplay? = nil, inputs: AsyncStream<ExecutorInput>) async throws -> DeploymentOutcome {
        let (plans, warnings) = try DeploymentPlanner.plans(for: template, request: request)
        for warning in warnings { emit(clock.now, .warning(warning)) }
        guard !plans.isEmpty else {
            emit(clock.now, .nothingToDeploy(reason: "no function has AutoPublishAlias"))
            return .nothingToDo
        }
        // 1. Decide per alias (reading only), then take each alias for its deployment: a second deployment of
        // the same alias fails here, before writing anything, naming this one. A resumed deployment keeps its id.
        var decided: [AliasPlan] = []
        var ids: [AliasRef: String] = [:]
        for plan in plans {
            let aliasPlan = try await DeploymentPlanner.decide(plan, target: target)
            if case .resume(let id, _) = aliasPlan.decision { ids[plan.aliasRef] = id } else { ids[plan.aliasRef] = UUID().uuidString.lowercased() }
            decided.append(aliasPlan)
        }
        var leases: [any AliasLease] = []
        defer { for lease in leases { lease.release() } }
        for plan in plans {
            leases.append(try target.lease(plan.aliasRef, holder: "deployment \(ids[plan.aliasRef]!)"))
        }
        // Close what cannot be resumed.
        for aliasPlan in decided {
            for record in aliasPlan.stale { try await recover(record, reason: "a later deployment of the alias superseded it") }
            if let (record, why) = aliasPlan.recover { try await recover(record, reason: why) }
        }

        // 2. Publish from the code on disk.
        var versions: [String: String] = [:]
        for aliasPlan in decided {
            let alias = aliasPlan.plan.aliasRef
            if aliasPlan.decision == .unchanged {
                // The alias's version already is the code on disk (it may be older than the latest version).
                versions[aliasPlan.plan.function.logicalId] = aliasPlan.preview.version
                emit(clock.now, .versionPublished(alias, version: aliasPlan.preview.version, codeSha256: aliasPlan.preview.codeSha256, created: false))
                continue
            }
            let published = try await target.publish(function: alias.function)
            versions[aliasPlan.plan.function.logicalId] = published.version
            emit(clock.now, .versionPublished(alias, version: published.version, codeSha256: published.codeSha256, created: published.created))
        }

        // 3. `Fn.Version` references (hooks' environments, alarms) resolve now that versions have numbers.
        let resolved = try resolve(versions)
        let finalPlans = try DeploymentPlanner.plans(for: resolved, request: request).plans
        try await prepare(resolved)

        // 4. Per alias: create it, leave it, resume or start a rollout.
        var specs: [RolloutSpec] = []
        var freshPeriod = false
        for aliasPlan in decided {
            guard let plan = finalPlans.first(where: { $0.function.logicalId == aliasPlan.plan.function.logicalId }),
                  let newVersion = versions[plan.function.logicalId] else { continue }
            let alias = plan.aliasRef
            let alarms = try alarmDefinitions(plan, template: resolved, request: request, newVersion: newVersion)
            let configuration = RolloutConfiguration(newVersion: newVersion, schedule: plan.schedule, hooks: Set(plan.hooks.keys),
                                                     hookTimeout: request.hookTimeout,
                                                     judgement: plan.schedule.points.count > 1 ? request.judgement : nil)
            switch aliasPlan.decision {
            case .create:
                try await target.createAlias(alias, version: newVersion)
                let now = clock.now
                emit(now, .aliasCreated(alias, version: newVersion))
                // Nothing was served through the alias before this instant, and the deployment ends at it.
                emit(now, .summary(alias, deploymentId: nil, status: .succeeded, from: nil, to: newVersion,
                                   reason: "first deployment: alias \(alias.alias) created on version \(newVersion)",
                                   traffic: [VersionTraffic(version: newVersion, invocations: 0, errors: 0)]))
            case .unchanged:
                // Weights left on another version (set by hand) are cleared.
                if let routing = aliasPlan.routing, !routing.additional.isEmpty {
                    try await target.setRouting(of: alias, to: AliasRouting(primary: newVersion))
                }
                emit(clock.now, .aliasUnchanged(alias, version: newVersion))
            case .resume(let deploymentId, let from):
                specs.append(RolloutSpec(alias: alias, deploymentId: deploymentId, oldVersion: from, newVersion: newVersion,
                                         configuration: aliasPlan.resume?.rollout.configuration ?? configuration, hookFunctions: plan.hooks,
                                         alarms: alarms, resumeFrom: aliasPlan.resume))
            case .shift(let from):
                if !freshPeriod {
                    try clock.startFreshPeriod()
                    freshPeriod = true
                }
                let id = ids[alias] ?? UUID().uuidString.lowercased()
                try await target.createDeployment(JournalRecord(id: id, alias: alias, status: .created, fromVersion: from,
                                                                toVersion: newVersion, startedAt: clock.now))
                specs.append(RolloutSpec(alias: alias, deploymentId: id, oldVersion: from, newVersion: newVersion,
                                         configuration: configuration, hookFunctions: plan.hooks, alarms: alarms))
            }
        }
        guard !specs.isEmpty else { return .nothingToDo }

        // 5. Shift, with the replayed traffic running through the aliases until every rollout ended.
        var options = executorOptions
        options.allOrNothing = request.allOrNothing
        let executor = RolloutExecutor(target: target, clock: clock, options: options, emit: emit)
        let target = self.target
        let aliases = specs.map(\.alias)
        let finalSpecs = specs
        let results = try await withThrowingTaskGroup(of: [RolloutResult]?.self) { group in
            if let traffic {
                group.addTask {
                    await traffic.run(aliases: aliases, target: target)
                    return nil
                }
            }
            group.addTask { try await executor.run(finalSpecs, inputs: inputs) }
            var results: [RolloutResult] = []
            while let next = try await group.next() {
                if let next {
                    results = next
                    group.cancelAll()
                }
            }
            return results
        }
        return .rolledOut(results)
    }

    /// `shift rollback`: closes an interrupted deployment on its old version, or puts the alias back on the
    /// version it served before its last successful deployment (recorded as a deployment of its own).
    public func rollback(_ alias: AliasRef) async throws {
        let lease = try target.lease(alias, holder: "shift rollback")
        defer { lease.release() }
        let unfinished = try await target.unfinishedDeployments(of: alias)
        if !unfinished.isEmpty {
            for record in unfinished { try await recover(record, reason: "a rollback was asked for") }
            return
        }
        // The newest deployment that moved traffic forward (rollbacks are deployments too, and are skipped).
        let history = try await target.deployments(of: alias, limit: 100)
        guard let last = history.first(where: { $0.status == .succeeded && !($0.reason ?? "").hasPrefix(Self.rollbackPrefix) }),
              let previous = last.fromVersion else {
            throw DeploymentError(.invalidInput, "no deployment of \(alias) to roll back; the status command lists what is deployed")
        }
        guard let routing = try await target.routing(of: alias) else {
            throw DeploymentError(.invalidInput, "\(alias) does not exist; deploy the template first")
        }
        let now = clock.now
        guard routing.primary != previous || !routing.additional.isEmpty else {
            emit(now, .aliasUnchanged(alias, version: previous))
            return
        }
        let id = UUID().uuidString.lowercased()
        let why = "\(Self.rollbackPrefix) deployment \(last.id): alias back on version \(previous)"
        try await target.createDeployment(JournalRecord(id: id, alias: alias, status: .created, fromVersion: routing.primary,
                                                        toVersion: previous, startedAt: now, reason: why))
        try await target.setRouting(of: alias, to: AliasRouting(primary: previous))
        try await target.recordTransition(deploymentId: id, at: now, kind: "rollback", status: .succeeded, progress: nil, reason: why, ended: true)
        emit(now, .rolledBack(alias, deploymentId: id, version: previous, reason: why))
    }

    static let rollbackPrefix = "rollback of"

    /// Closes an interrupted deployment that will not be resumed: the alias goes back to its old version.
    private func recover(_ record: JournalRecord, reason: String) async throws {
        let now = clock.now
        var note = "alias left as it was"
        if let from = record.fromVersion {
            note = "alias \(record.alias.alias) put back on version \(from)"
        }
        let why = "shift stopped during this deployment (it was \(record.status.rawValue)) and \(reason); \(note)"
        try await target.recordTransition(deploymentId: record.id, at: now, kind: "recovered", status: .stopped, progress: nil,
                                          reason: why, ended: true)
        if let from = record.fromVersion {
            try await target.setRouting(of: record.alias, to: AliasRouting(primary: from))
        }
        emit(now, .deploymentRecovered(record.alias, deploymentId: record.id, version: record.fromVersion ?? record.toVersion, reason: why))
    }

    /// Lets the target learn the resolved template (hook functions' environments name the new versions).
    private func prepare(_ template: Template) async throws {
        if let preparing = target as? any TemplateAwareTarget { try await preparing.load(template) }
    }

    private func alarmDefinitions(_ plan: FunctionPlan, template: Template, request: DeploymentRequest, newVersion: String) throws -> [AlarmDefinition] {
        let name = plan.function.functionName
        var definitions = try plan.alarmIds.compactMap { id in try template.alarm(named: id).map(AlarmMapping.definition) }
        let resource = "\(name):\(plan.alias)"
        if let rate = request.alarmErrorRate {
            definitions.append(.errorRate(above: rate, functionName: name, newVersion: newVersion, resource: resource,
                                          name: Self.errorRateAlarmName(rate)))
        }
        if let milliseconds = request.alarmP99Ms {
            definitions.append(.p99Duration(aboveMilliseconds: milliseconds, functionName: name, newVersion: newVersion, resource: resource,
                                            name: Self.p99AlarmName(milliseconds)))
        }
        return definitions
    }

    private static func errorRateAlarmName(_ rate: Double) -> String { "--alarm-error-rate \(TemplateValueFormat.percent(rate))%" }
    private static func p99AlarmName(_ milliseconds: Double) -> String { "--alarm-p99-ms \(TemplateValueFormat.percent(milliseconds))" }

    static func flagAlarmNames(_ request: DeploymentRequest) -> [String] {
        [request.alarmErrorRate.map(errorRateAlarmName), request.alarmP99Ms.map(p99AlarmName)].compactMap { $0 }
    }
}

/// A target that runs the template's functions itself and must know them (the local runtime); a cloud target has them deployed already.
public protocol TemplateAwareTarget: DeploymentTarget {
    func load(_ template: Template) async throws
}
