import Foundation
import Rollout
import Runtime
import Synchronization
import TemplateModel

/// One alias being moved from `oldVersion` to `newVersion`, with the alarms and hooks that judge it.
struct FunctionRollout: Sendable {
    let functionName: String
    let alias: String
    let oldVersion: String
    let newVersion: String
    let deploymentId: String
    var rollout: Rollout
    let hookFunctions: [LifecycleHook: String]
    let evaluators: [AlarmEvaluator]
    var alarmStates: [String: AlarmState] = [:]
    /// Hook execution ids this deployment waits for.
    var hookExecutions: [String: LifecycleHook] = [:]
    var nextWake: Instant?
    var finished: DeploymentStatus?

    /// Builds the rollout and writes its deployment record (status Created) before anything happens.
    static func make(plan: FunctionPlan, template: Template, oldVersion: String, newVersion: String,
                     settings: DeploySettings, session: LocalSession) async throws -> FunctionRollout {
        let name = plan.function.functionName
        var evaluators: [AlarmEvaluator] = []
        var definitions = try plan.alarmIds.compactMap { id in try template.alarm(named: id).map(AlarmMapping.definition) }
        let resource = "\(name):\(plan.alias)"
        if let rate = settings.alarmErrorRate {
            definitions.append(.errorRate(above: rate, functionName: name, newVersion: newVersion, resource: resource,
                                          name: "--alarm-error-rate \(TemplateValueFormat.percent(rate))%"))
        }
        if let milliseconds = settings.alarmP99Ms {
            definitions.append(.p99Duration(aboveMilliseconds: milliseconds, functionName: name, newVersion: newVersion, resource: resource,
                                            name: "--alarm-p99-ms \(TemplateValueFormat.percent(milliseconds))"))
        }
        for definition in definitions {
            do throws(RolloutError) {
                evaluators.append(try AlarmEvaluator(definition))
            } catch {
                throw CLIError("alarm \(definition.name) of \(plan.function.logicalId): \(error.message)")
            }
        }
        let configuration = RolloutConfiguration(newVersion: newVersion, schedule: plan.schedule, hooks: Set(plan.hooks.keys),
                                                 hookTimeout: settings.hookTimeout)
        let rollout = Rollout(configuration: configuration)
        let record = DeploymentRecord(functionName: name, aliasName: plan.alias, status: rollout.status.rawValue,
                                      currentVersion: Int(oldVersion), targetVersion: Int(newVersion) ?? 0,
                                      startedAt: Int64(Date().timeIntervalSince1970 * 1000), engineState: try JSONEncoder().encode(rollout))
        try await session.store.createDeployment(record)
        return FunctionRollout(functionName: name, alias: plan.alias, oldVersion: oldVersion, newVersion: newVersion, deploymentId: record.id,
                               rollout: rollout, hookFunctions: plan.hooks, evaluators: evaluators)
    }
}

/// Something that happened outside the loop: a hook's report, a hook function that failed, a signal.
private enum LoopInput: Sendable {
    case hookReport(HookReport)
    case hookInvocationFailed(deploymentId: String, executionId: String, message: String)
    case signal(Int32)
}

/// Inputs gathered by child tasks, drained by the loop between steps.
private final class Inbox: Sendable {
    private let items = Mutex<[LoopInput]>([])
    func push(_ input: LoopInput) { items.withLock { $0.append(input) } }
    func drain() -> [LoopInput] {
        items.withLock { items in
            defer { items.removeAll() }
            return items
        }
    }
}

/// Set once every rollout has finished; the traffic replay stops on it.
private final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

/// Drives every rollout: feeds it time, alarm states and hook reports, and carries out its actions.
struct RolloutLoop {
    private let inbox = Inbox()
    let session: LocalSession
    let output: DeployOutput
    var rollouts: [FunctionRollout]
    let replay: TrafficReplay?

    /// How often alarms are evaluated, in schedule time (CloudWatch evaluates once a minute; more often
    /// only reacts sooner to a period that just completed).
    static let evaluationInterval: Int64 = 10_000

    func run() async throws -> [DeploymentStatus] {
        let inbox = self.inbox
        let done = Flag()
        var rollouts = self.rollouts
        let startedAt = instant()
        try await withThrowingTaskGroup(of: Void.self) { group in
            let hooks = session.hooks
            group.addTask {
                for await report in hooks.reports { inbox.push(.hookReport(report)) }
            }
            group.addTask {
                for await number in Signals.stream() { inbox.push(.signal(number)) }
            }
            if let replay {
                let targets = rollouts.map { ($0.functionName, $0.alias) }
                let service = session.service
                group.addTask { await replay.run(service: service, targets: targets, until: { done.isSet }) }
            }
            var nextEvaluation: Int64 = 0
            var lastStatus = ContinuousClock.now - .seconds(1)
            for index in rollouts.indices {
                let now = instant()
                let rollout = rollouts[index]
                let schedule = rollout.rollout.configuration.schedule
                output.event("deployment.started", function: rollout.functionName, alias: rollout.alias,
                             ["deploymentId": rollout.deploymentId, "from": rollout.oldVersion, "to": rollout.newVersion, "strategy": schedule.name,
                              "schedule": schedule.points.map { ["minute": $0.minute, "percent": $0.percent] }],
                             text: "deployment \(rollout.deploymentId) started: version \(rollout.oldVersion) → \(rollout.newVersion), \(schedule.name)")
                // An alarm already in ALARM fails the deployment before it starts, as in CodeDeploy.
                for (name, evaluation) in evaluateAlarms(&rollouts[index], at: now) {
                    let actions = rollouts[index].rollout.alarmChanged(name, to: evaluation.state, reason: evaluation.reason, at: now)
                    try await perform(actions, on: &rollouts[index], input: "alarm \(name) \(evaluation.state.rawValue)", at: now, group: &group)
                }
                guard rollouts[index].finished == nil else { continue }
                let actions = rollouts[index].rollout.start(at: now)
                try await perform(actions, on: &rollouts[index], input: "start", at: now, group: &group)
            }
            while rollouts.contains(where: { $0.finished == nil }) {
                for input in inbox.drain() {
                    try await handle(input, rollouts: &rollouts, group: &group)
                }
                let now = instant()
                if now.millisecondsSinceEpoch >= nextEvaluation {
                    nextEvaluation = now.millisecondsSinceEpoch + Self.evaluationInterval
                    for index in rollouts.indices where rollouts[index].finished == nil {
                        let changes = evaluateAlarms(&rollouts[index], at: now)
                        for (name, evaluation) in changes {
                            let actions = rollouts[index].rollout.alarmChanged(name, to: evaluation.state, reason: evaluation.reason, at: now)
                            try await perform(actions, on: &rollouts[index], input: "alarm \(name) \(evaluation.state.rawValue)", at: now, group: &group)
                        }
                    }
                }
                for index in rollouts.indices where rollouts[index].finished == nil {
                    if let wake = rollouts[index].nextWake, now >= wake {
                        rollouts[index].nextWake = nil
                        let actions = rollouts[index].rollout.timerFired(at: now)
                        try await perform(actions, on: &rollouts[index], input: "timer", at: now, group: &group)
                    }
                }
                if ContinuousClock.now - lastStatus >= .milliseconds(500) {
                    lastStatus = ContinuousClock.now
                    output.status(statusLine(rollouts, since: startedAt, at: now))
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            done.set()
            group.cancelAll()
        }
        for rollout in rollouts { summarize(rollout, since: startedAt) }
        return rollouts.map { $0.finished ?? .failed }
    }

    /// The service clock's time (scaled by `--time-scale`): its minutes are the metrics' periods.
    private func instant() -> Instant {
        Instant(millisecondsSinceEpoch: session.clock.nowMilliseconds)
    }

    private func handle(_ input: LoopInput, rollouts: inout [FunctionRollout], group: inout ThrowingTaskGroup<Void, any Error>) async throws {
        let now = instant()
        switch input {
        case .hookReport(let report):
            guard let index = rollouts.firstIndex(where: { $0.deploymentId == report.deploymentId }),
                  let hook = rollouts[index].hookExecutions.removeValue(forKey: report.executionId) else { return }
            output.event("hook.finished", function: rollouts[index].functionName, alias: rollouts[index].alias,
                         ["hook": hook.rawValue, "status": report.succeeded ? "Succeeded" : "Failed", "executionId": report.executionId],
                         text: "\(hook.rawValue) hook reported \(report.succeeded ? "Succeeded" : "Failed")")
            let actions = rollouts[index].rollout.hookFinished(hook, succeeded: report.succeeded, at: now)
            try await perform(actions, on: &rollouts[index], input: "hook \(hook.rawValue) \(report.succeeded ? "Succeeded" : "Failed")", at: now, group: &group)
        case .hookInvocationFailed(let deploymentId, let executionId, let message):
            guard let index = rollouts.firstIndex(where: { $0.deploymentId == deploymentId }),
                  let hook = rollouts[index].hookExecutions.removeValue(forKey: executionId) else { return }
            _ = try? await session.hooks.report(deploymentId: deploymentId, executionId: executionId, status: "Failed")
            output.event("hook.finished", function: rollouts[index].functionName, alias: rollouts[index].alias,
                         ["hook": hook.rawValue, "status": "Failed", "reason": message],
                         text: "\(hook.rawValue) hook function failed: \(message)")
            let actions = rollouts[index].rollout.hookFinished(hook, succeeded: false, at: now)
            try await perform(actions, on: &rollouts[index], input: "hook \(hook.rawValue) function failed", at: now, group: &group)
        case .signal(let number):
            for index in rollouts.indices where rollouts[index].finished == nil {
                let actions = rollouts[index].rollout.abort(reason: "interrupted by signal \(number)", at: now)
                try await perform(actions, on: &rollouts[index], input: "abort", at: now, group: &group)
            }
        }
    }

    /// Evaluates every alarm; returns those whose state changed.
    @discardableResult
    private func evaluateAlarms(_ rollout: inout FunctionRollout, at now: Instant) -> [(String, AlarmEvaluation)] {
        let source = RuntimeMetricSource(metrics: session.metrics)
        var changes: [(String, AlarmEvaluation)] = []
        for evaluator in rollout.evaluators {
            let name = evaluator.definition.name
            let previous = rollout.alarmStates[name] ?? .insufficientData
            let evaluation = evaluator.evaluate(at: now, data: source, previous: previous)
            if rollout.alarmStates[name] != evaluation.state {
                rollout.alarmStates[name] = evaluation.state
                output.event("alarm.changed", function: rollout.functionName, alias: rollout.alias,
                             ["alarm": name, "state": evaluation.state.rawValue, "reason": evaluation.reason],
                             text: "alarm \(name) is \(evaluation.state.rawValue): \(evaluation.reason)")
                changes.append((name, evaluation))
            }
        }
        return changes
    }

    /// Writes the rollout's new state, then carries out its actions.
    private func perform(_ actions: [RolloutAction], on rollout: inout FunctionRollout, input: String, at now: Instant,
                         group: inout ThrowingTaskGroup<Void, any Error>) async throws {
        guard !actions.isEmpty else { return }
        let store = session.store
        let final = actions.compactMap { action -> (DeploymentStatus, String)? in
            if case let .finish(status, reason) = action { return (status, reason) }
            return nil
        }.first
        let detail = try JSONEncoder().encode(actions)
        let wall = Int64(Date().timeIntervalSince1970 * 1000)
        _ = try await store.recordTransition(deploymentId: rollout.deploymentId, DeploymentTransition(
            at: wall, kind: input, detail: detail, status: rollout.rollout.status.rawValue,
            engineState: try JSONEncoder().encode(rollout.rollout), reason: final?.1, endedAt: final == nil ? nil : wall))
        for action in actions {
            switch action {
            case .invokeHook(let hook, let deadline):
                guard let hookFunction = rollout.hookFunctions[hook] else { continue }
                let executionId = await session.hooks.expect(deploymentId: rollout.deploymentId)
                rollout.hookExecutions[executionId] = hook
                output.event("hook.started", function: rollout.functionName, alias: rollout.alias,
                             ["hook": hook.rawValue, "hookFunction": hookFunction, "executionId": executionId,
                              "deadline": deadline.millisecondsSinceEpoch],
                             text: "\(hook.rawValue) hook \(hookFunction) invoked; it must report within \(Self.minutes(deadline - now))")
                let payload = try JSONSerialization.data(withJSONObject: ["DeploymentId": rollout.deploymentId, "LifecycleEventHookExecutionId": executionId])
                let service = session.service
                let deploymentId = rollout.deploymentId
                let inbox = self.inbox
                // CodeDeploy invokes hooks asynchronously; a hook function that fails without reporting
                // fails the hook at once instead of leaving the deployment waiting for its deadline.
                group.addTask {
                    var failure: String?
                    do {
                        let response = try await service.invoke(InvokeRequest(function: hookFunction, payload: Array(payload)))
                        if response.functionError != nil {
                            failure = "\(hookFunction) raised an error: \(String(decoding: response.payload.prefix(500), as: UTF8.self))"
                        }
                    } catch {
                        failure = "\(hookFunction) could not be invoked: \(error)"
                    }
                    if let failure { inbox.push(.hookInvocationFailed(deploymentId: deploymentId, executionId: executionId, message: failure)) }
                }
            case .setWeight(let version, let weight):
                try await setAlias(rollout, newWeight: weight)
                let weights = DeployOutput.weights(old: rollout.oldVersion, new: version, newWeight: weight)
                output.event("traffic.shifted", function: rollout.functionName, alias: rollout.alias, ["weights": weights],
                             text: "traffic: version \(rollout.oldVersion) \(DeployOutput.percent(1 - min(max(weight, 0), 1))), version \(version) \(DeployOutput.percent(min(max(weight, 0), 1)))")
            case .wake(let at):
                rollout.nextWake = at
            case .rollBack(let reason):
                try await setAlias(rollout, newWeight: 0)
                output.event("deployment.rolledBack", function: rollout.functionName, alias: rollout.alias,
                             ["deploymentId": rollout.deploymentId, "reason": reason, "weights": [rollout.oldVersion: 1.0]],
                             text: "ROLLED BACK to version \(rollout.oldVersion): \(reason)")
            case .finish(let status, let reason):
                rollout.finished = status
                await session.hooks.finish(deploymentId: rollout.deploymentId)
                let name = status == .succeeded ? "deployment.succeeded" : (status == .stopped ? "deployment.stopped" : "deployment.failed")
                output.event(name, function: rollout.functionName, alias: rollout.alias,
                             ["deploymentId": rollout.deploymentId, "status": status.rawValue, "reason": reason, "version": status == .succeeded ? rollout.newVersion : rollout.oldVersion],
                             text: "deployment \(status.rawValue): \(reason)")
            }
        }
    }

    /// The alias routes `newWeight` to the new version (1: the new version alone, 0: the old one alone).
    private func setAlias(_ rollout: FunctionRollout, newWeight: Double) async throws {
        let store = session.store
        if newWeight >= 1 {
            _ = try await store.updateAlias(function: rollout.functionName, name: rollout.alias, functionVersion: rollout.newVersion, routingConfig: RoutingConfig())
        } else if newWeight <= 0 {
            _ = try await store.updateAlias(function: rollout.functionName, name: rollout.alias, functionVersion: rollout.oldVersion, routingConfig: RoutingConfig())
        } else {
            _ = try await store.updateAlias(function: rollout.functionName, name: rollout.alias, functionVersion: rollout.oldVersion,
                                            routingConfig: RoutingConfig(additionalVersionWeights: [rollout.newVersion: newWeight]))
        }
    }

    private func statusLine(_ rollouts: [FunctionRollout], since: Instant, at now: Instant) -> String {
        rollouts.map { rollout in
            var parts = ["\(rollout.functionName):\(rollout.alias)"]
            switch rollout.rollout.phase {
            case .created: parts.append("created")
            case .beforeAllowTraffic(let deadline): parts.append("PreTraffic hook (≤\(Self.minutes(deadline - now)))")
            case .allowTraffic(let index, let percent, _, let next):
                parts.append("step \(index + 1)/\(rollout.rollout.configuration.schedule.points.count) v\(rollout.newVersion) \(TemplateValueFormat.percent(percent))%, next in \(Self.minutes(next - now))")
            case .afterAllowTraffic: parts.append("100%, PostTraffic/bake")
            case .finished(let status, _, _, _): parts.append(status.rawValue)
            }
            for count in counts(rollout, since: since, until: now) {
                parts.append("v\(count.version) \(count.invocations) calls/\(count.errors) errors")
            }
            if !rollout.alarmStates.isEmpty {
                parts.append(rollout.alarmStates.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.rawValue)" }.joined(separator: " "))
            }
            return parts.joined(separator: " | ")
        }.joined(separator: "  ‖  ")
    }

    /// Invocations and errors per version through the alias between two instants.
    private func counts(_ rollout: FunctionRollout, since: Instant, until: Instant) -> [(version: String, invocations: Int, errors: Int)] {
        [rollout.oldVersion, rollout.newVersion].map { version in
            let dimensions = ["FunctionName": rollout.functionName, "Resource": "\(rollout.functionName):\(rollout.alias)", "ExecutedVersion": version]
            func sum(_ metric: MetricName) -> Int {
                // Metrics are kept per minute: count from the start of the minute the deployment started in.
                let points = (try? session.metrics.datapoints(metric: metric, dimensions: dimensions, from: since.minuteIndex * 60_000,
                                                              to: until.millisecondsSinceEpoch + 60_000)) ?? []
                return Int(points.reduce(0) { $0 + $1.sum })
            }
            return (version, sum(.invocations), sum(.errors))
        }
    }

    private func summarize(_ rollout: FunctionRollout, since: Instant) {
        var perVersion: [String: [String: Int]] = [:]
        for count in counts(rollout, since: since, until: instant()) {
            perVersion[count.version] = ["invocations": count.invocations, "errors": count.errors]
        }
        let status = rollout.finished ?? .failed
        output.event("deployment.summary", function: rollout.functionName, alias: rollout.alias,
                     ["deploymentId": rollout.deploymentId, "status": status.rawValue, "from": rollout.oldVersion, "to": rollout.newVersion,
                      "reason": rollout.rollout.reason, "versions": perVersion],
                     text: "summary: \(status.rawValue); " + perVersion.sorted { $0.key < $1.key }.map {
                         "version \($0.key): \($0.value["invocations"] ?? 0) invocations, \($0.value["errors"] ?? 0) errors"
                     }.joined(separator: "; "))
    }

    static func minutes(_ duration: Duration) -> String {
        let seconds = max(0, Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
        return seconds >= 60 ? String(format: "%.1f min", seconds / 60) : String(format: "%.0f s", seconds)
    }
}
