import Foundation
import Rollout
import Runtime
import TemplateModel

/// Carries out `shift deploy`: publishes versions, then drives one `Rollout` per alias against the
/// local runtime, writing every transition to the state directory before acting on it.
struct DeploymentRunner {
    let settings: DeploySettings
    let output: DeployOutput

    func run() async throws -> Int32 {
        let template = try TemplateFile.loadOrFail(settings.templatePath, options: settings.loadOptions)
        // Read the traffic first: a bad file is reported before anything is published.
        let replay = try settings.traffic.map { try TrafficReplay(path: $0, rate: settings.rate) }
        let (plans, warnings) = try DeploymentPlanner.plans(for: template, settings: settings)
        for warning in warnings { output.event("warning", ["message": warning], text: "warning: \(warning)") }
        guard !plans.isEmpty else {
            output.event("deployment.nothing", ["reason": "no function has AutoPublishAlias"], text: "nothing to deploy: no function has AutoPublishAlias")
            return 0
        }
        if settings.dryRun {
            return try await DryRunReport(settings: settings, output: output).run(template: template, plans: plans)
        }
        let session = try await LocalSession.open(stateDirectory: settings.stateDirectory, template: template,
                                                  timeScale: settings.timeScale, routingSeed: settings.seed)
        do {
            let code = try await deploy(session: session, template: template, plans: plans, replay: replay)
            await session.close()
            return code
        } catch {
            await session.close()
            throw error
        }
    }

    private func deploy(session: LocalSession, template: Template, plans: [FunctionPlan], replay: TrafficReplay?) async throws -> Int32 {
        let store = session.store
        let service = session.service
        try await Recovery(store: store, output: output).recover(plans.map { ($0.function.functionName, $0.alias) })

        // 1. Publish from the code on disk.
        let (definitions, skipped) = ServiceSetup.definitions(template: template, stateDirectory: settings.stateDirectory)
        for plan in plans {
            if let reason = skipped[plan.function.logicalId] { throw CLIError("\(plan.function.logicalId) cannot be deployed locally: \(reason)") }
        }
        try await service.register(definitions)
        var published: [String: FunctionVersion] = [:]
        for plan in plans {
            let (version, created) = try await service.publishVersion(function: plan.function.functionName, rule: .autoPublishAlias)
            published[plan.function.logicalId] = version
            output.event(created ? "version.published" : "version.unchanged", function: plan.function.functionName, alias: plan.alias,
                         ["version": version.versionString, "codeSha256": version.codeSha256],
                         text: created ? "published version \(version.version) (CodeSha256 \(version.codeSha256))"
                                       : "no change since version \(version.version)")
        }

        // 2. Resolve the template again, now that `Fn.Version` references have numbers (hooks and alarms use them).
        var options = settings.loadOptions
        options.versionNumbers = published.mapValues(\.versionString)
        let resolved = try TemplateFile.loadOrFail(settings.templatePath, options: options)
        let finalPlans = try DeploymentPlanner.plans(for: resolved, settings: settings).plans
        try await service.register(ServiceSetup.definitions(template: resolved, stateDirectory: settings.stateDirectory).definitions)

        // 3. Decide per alias: create it, leave it, or roll out.
        var rollouts: [FunctionRollout] = []
        for plan in finalPlans {
            let name = plan.function.functionName
            guard let version = published[plan.function.logicalId] else { continue }
            let newVersion = version.versionString
            let existing = try? await store.getAlias(function: name, name: plan.alias)
            guard let existing else {
                _ = try await store.createAlias(function: name, name: plan.alias, functionVersion: newVersion,
                                                description: "managed by shift deploy")
                output.event("alias.created", function: name, alias: plan.alias, ["version": newVersion, "weights": [newVersion: 1.0]],
                             text: "created alias \(plan.alias) on version \(newVersion) (first deployment: no traffic shift)")
                continue
            }
            if existing.functionVersion == newVersion {
                // Already the primary; weights left on another version (set by hand) are cleared.
                if !(existing.routingConfig?.additionalVersionWeights.isEmpty ?? true) {
                    _ = try await store.updateAlias(function: name, name: plan.alias, routingConfig: RoutingConfig())
                }
                output.event("deployment.unchanged", function: name, alias: plan.alias, ["version": newVersion],
                             text: "alias \(plan.alias) already serves version \(newVersion): nothing to do")
                continue
            }
            rollouts.append(try await FunctionRollout.make(plan: plan, template: resolved, oldVersion: existing.functionVersion,
                                                           newVersion: newVersion, settings: settings, session: session))
        }
        guard !rollouts.isEmpty else { return 0 }

        // 4. Shift traffic while the Invoke API and the CodeDeploy endpoint serve the functions (hooks call them).
        let server = try await InvokeAPIServer.bind(host: "127.0.0.1", port: 0, service: service, hooks: session.hooks)
        await service.setEndpoint(server.url, region: resolved.pseudoParameters.region)
        let loop = RolloutLoop(session: session, output: output, rollouts: rollouts, replay: replay)
        let outcomes = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            group.addTask { await service.runEventQueue() }
            let outcomes = try await loop.run()
            group.cancelAll()
            return outcomes
        }
        return outcomes.allSatisfy { $0 == .succeeded } ? 0 : 3
    }
}

/// Puts aliases left mid-shift by a killed `shift` back on their old version, recording why.
struct Recovery {
    let store: StateStore
    let output: DeployOutput?

    /// Rolls back every unfinished deployment of these aliases; returns how many there were.
    @discardableResult
    func recover(_ aliases: [(function: String, alias: String)]) async throws -> Int {
        let unfinished = try await store.unfinishedDeployments()
        var count = 0
        for record in unfinished where aliases.contains(where: { $0.function == record.functionName && $0.alias == record.aliasName }) {
            let back = record.currentVersion.map(String.init)
            var note = "alias left as it was"
            if let back {
                _ = try await store.updateAlias(function: record.functionName, name: record.aliasName, functionVersion: back,
                                                routingConfig: RoutingConfig())
                note = "alias \(record.aliasName) put back on version \(back)"
            } else if (try? await store.getAlias(function: record.functionName, name: record.aliasName)) != nil {
                note = "alias left on version \(record.targetVersion)"
            }
            let reason = "shift stopped during this deployment (it was \(record.status)); \(note)"
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            _ = try await store.recordTransition(deploymentId: record.id, DeploymentTransition(
                at: now, kind: "recovered", status: DeploymentStatus.stopped.rawValue, reason: reason, endedAt: now))
            output?.event("deployment.recovered", function: record.functionName, alias: record.aliasName,
                          ["deploymentId": record.id, "reason": reason, "version": back ?? String(record.targetVersion)],
                          text: "recovered interrupted deployment \(record.id): \(note)")
            count += 1
        }
        return count
    }
}
