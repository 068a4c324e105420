/// The deployment's alarms with their current states: evaluate them all at an instant and get the changes
/// to feed into `Rollout.alarmChanged(_:to:reason:at:)`.
public struct AlarmMonitor: Sendable, Equatable {
    public private(set) var evaluators: [AlarmEvaluator]
    /// The current state of each alarm by name (CloudWatch starts alarms in INSUFFICIENT_DATA).
    public private(set) var states: [String: AlarmState]

    /// A change of one alarm's state.
    public struct Change: Sendable, Equatable, Codable {
        public var alarmName: String
        public var evaluation: AlarmEvaluation
    }

    /// Validates every definition; alarm names must be unique.
    public init(_ definitions: [AlarmDefinition]) throws(RolloutError) {
        var evaluators: [AlarmEvaluator] = []
        var states: [String: AlarmState] = [:]
        for definition in definitions {
            guard states[definition.name] == nil else {
                throw RolloutError(.invalidAlarm, "alarm '\(definition.name)' is defined twice; alarm names must be unique")
            }
            evaluators.append(try AlarmEvaluator(definition))
            states[definition.name] = .insufficientData
        }
        self.evaluators = evaluators
        self.states = states
    }

    /// Evaluates every alarm at `now`; returns the alarms whose state changed, in definition order.
    public mutating func evaluate(at now: Instant, data: some MetricDataSource) -> [Change] {
        var changes: [Change] = []
        for evaluator in evaluators {
            let name = evaluator.definition.name
            let previous = states[name] ?? .insufficientData
            let evaluation = evaluator.evaluate(at: now, data: data, previous: previous)
            if evaluation.state != previous {
                states[name] = evaluation.state
                changes.append(Change(alarmName: name, evaluation: evaluation))
            }
        }
        return changes
    }
}
