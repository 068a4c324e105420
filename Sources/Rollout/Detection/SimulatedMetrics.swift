/// The function, alias and old version a rollout shifts between: what tells an alarm's dimensions apart.
/// The new version is the rollout configuration's.
public struct AliasIdentity: Sendable, Hashable, Codable {
    public var functionName: String
    public var alias: String
    public var oldVersion: String

    public init(functionName: String, alias: String, oldVersion: String) {
        self.functionName = functionName
        self.alias = alias
        self.oldVersion = oldVersion
    }

    /// `fn:alias`: the `Resource` dimension of every call through the alias.
    public var resource: String { "\(functionName):\(alias)" }
}

/// Which of the alias's calls an alarm's metrics count.
public enum AlarmScope: String, Sendable, Hashable, Codable, CaseIterable {
    /// Only the new version's (`ExecutedVersion` of the new version): what an alarm guarding a rollout should watch.
    case newVersion
    /// Only the old version's: the alarm cannot see the new version at all.
    case oldVersion
    /// Both versions' (the whole alias or function): the new version's errors are diluted by the old version's calls.
    case bothVersions
    /// None: another function, another `Resource`, a version that is neither, or a dimension Lambda does not publish.
    case noCalls
    /// A metric the simulation does not synthesize (another namespace, `Duration`, `Throttles`, …).
    case notSimulated
}

/// How the simulation synthesizes one metric of an alarm: which count of which versions' calls.
struct MetricSelector: Sendable, Hashable {
    enum Kind: Sendable, Hashable {
        case invocations
        case errors
    }

    var kind: Kind
    var old: Bool
    var new: Bool
}

/// What one of an alarm's metrics is, seen from the alias's calls.
enum MetricResolution: Sendable, Equatable {
    case counted(MetricSelector)
    /// It matches none of the alias's calls; the text says which dimension rules them out.
    case noCalls(String)
    /// The simulation cannot synthesize it; the text says what it is.
    case notSimulated(String)
}

extension AliasIdentity {
    /// Matches a metric's dimensions against the calls through the alias, as the local runtime's metrics store does
    /// (`MetricSeries.matches`): every dimension given must match, an unknown one matches nothing.
    func resolve(_ metric: MetricIdentity, newVersion: String) -> MetricResolution {
        guard metric.namespace == LambdaMetric.namespace else {
            return .notSimulated("it watches \(metric.namespace)/\(metric.metricName), a metric the simulation does not synthesize "
                + "(it synthesizes AWS/Lambda Invocations and Errors)")
        }
        let kind: MetricSelector.Kind
        switch metric.metricName {
        case "Invocations": kind = .invocations
        case "Errors": kind = .errors
        default:
            return .notSimulated("it watches AWS/Lambda \(metric.metricName); the simulation models how often calls fail, "
                + "not their \(metric.metricName == "Duration" ? "latency" : metric.metricName)")
        }
        var old = true, new = true
        for (name, value) in metric.dimensions.sorted(by: { $0.key < $1.key }) {
            switch name {
            case "FunctionName":
                if value != functionName { return .noCalls("FunctionName=\(value) is not the function \(functionName)") }
            case "Resource":
                if value != resource { return .noCalls("Resource=\(value), while calls through the alias carry Resource=\(resource)") }
            case "ExecutedVersion":
                old = old && value == oldVersion
                new = new && value == newVersion
                if !old, !new {
                    return .noCalls("ExecutedVersion=\(value) is neither the new version (\(newVersion)) nor the old one (\(oldVersion))")
                }
            default:
                return .noCalls("\(name) is not a dimension Lambda publishes (FunctionName, Resource, ExecutedVersion)")
            }
        }
        return .counted(MetricSelector(kind: kind, old: old, new: new))
    }
}

/// One-minute `AWS/Lambda` datapoints synthesized from simulated calls, as the local runtime records them:
/// `Invocations` one sample of 1 a call, `Errors` one sample of 0 or 1 a call, no datapoint in a minute without calls.
///
/// Minutes before the one the deployment started in are missing data, as the engine's metric source has them, so
/// the alarms judge this deployment's traffic only.
struct SimulatedMetrics: MetricDataSource {
    /// The calls of one minute, fractional in the expected-traffic mode.
    struct Minute: Sendable, Equatable {
        var oldCalls = 0.0, oldErrors = 0.0, newCalls = 0.0, newErrors = 0.0
    }

    let selectors: [MetricIdentity: MetricSelector]
    let firstMinute: Int64
    private(set) var minutes: [Minute] = []

    init(selectors: [MetricIdentity: MetricSelector], firstMinute: Int64) {
        self.selectors = selectors
        self.firstMinute = firstMinute
    }

    mutating func add(minute: Int64, _ calls: Minute) {
        let index = Int(minute - firstMinute)
        guard index >= 0 else { return }
        if index >= minutes.count { minutes += Array(repeating: Minute(), count: index + 1 - minutes.count) }
        minutes[index].oldCalls += calls.oldCalls
        minutes[index].oldErrors += calls.oldErrors
        minutes[index].newCalls += calls.newCalls
        minutes[index].newErrors += calls.newErrors
    }

    func datapoint(_ metric: MetricIdentity, minute: Int64) -> MetricDatapoint? {
        let index = minute - firstMinute
        guard index >= 0, index < minutes.count, let selector = selectors[metric] else { return nil }
        let m = minutes[Int(index)]
        let calls = (selector.old ? m.oldCalls : 0) + (selector.new ? m.newCalls : 0)
        guard calls > 0 else { return nil }
        switch selector.kind {
        case .invocations:
            return MetricDatapoint(sampleCount: calls, sum: calls, minimum: 1, maximum: 1)
        case .errors:
            let errors = (selector.old ? m.oldErrors : 0) + (selector.new ? m.newErrors : 0)
            return MetricDatapoint(sampleCount: calls, sum: errors, minimum: errors < calls ? 0 : 1, maximum: errors > 0 ? 1 : 0)
        }
    }
}

/// The alarms a simulation can evaluate, with what each one's metrics count.
struct SimulatedAlarms: Sendable {
    /// The alarms evaluated, validated.
    var monitor: AlarmMonitor
    var selectors: [MetricIdentity: MetricSelector]
    /// Each alarm given, in order, with its scope and, when it is not simulated or sees no call, why.
    var scopes: [(name: String, scope: AlarmScope, why: String?)]

    init(_ alarms: [AlarmDefinition], identity: AliasIdentity, newVersion: String) {
        var simulated: [AlarmDefinition] = []
        var selectors: [MetricIdentity: MetricSelector] = [:]
        var scopes: [(String, AlarmScope, String?)] = []
        var names: Set<String> = []
        for alarm in alarms {
            guard names.insert(alarm.name).inserted else {
                scopes.append((alarm.name, .notSimulated, "alarm '\(alarm.name)' is defined twice; alarm names must be unique"))
                continue
            }
            do throws(RolloutError) {
                _ = try AlarmEvaluator(alarm)
            } catch {
                scopes.append((alarm.name, .notSimulated, error.message))
                continue
            }
            let stats: [MetricStat] = switch alarm.metric {
            case .metric(let stat): [stat]
            case .metricMath(let queries): queries.compactMap { if case .metricStat(let stat) = $0.source { stat } else { nil } }
            }
            var old = false, new = false
            var noCalls: String?, notSimulated: String?
            var own: [MetricIdentity: MetricSelector] = [:]
            for stat in stats {
                switch identity.resolve(stat.metric, newVersion: newVersion) {
                case .counted(let selector):
                    own[stat.metric] = selector
                    old = old || selector.old
                    new = new || selector.new
                case .noCalls(let why): noCalls = noCalls ?? why
                case .notSimulated(let why): notSimulated = notSimulated ?? why
                }
            }
            if let notSimulated {
                scopes.append((alarm.name, .notSimulated, notSimulated))
                continue
            }
            simulated.append(alarm)
            selectors.merge(own) { first, _ in first }
            let scope: AlarmScope = old && new ? .bothVersions : (new ? .newVersion : (old ? .oldVersion : .noCalls))
            scopes.append((alarm.name, scope, scope == .noCalls ? noCalls : nil))
        }
        do throws(RolloutError) {
            monitor = try AlarmMonitor(simulated)
        } catch {
            preconditionFailure("alarms validated one by one, with unique names, were refused together: \(error.message)")
        }
        self.selectors = selectors
        self.scopes = scopes
    }
}
