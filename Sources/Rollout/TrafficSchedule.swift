/// One step of a traffic-shifting schedule: either move the new version to a percentage, or wait.
public enum TrafficStep: Sendable, Equatable, Hashable, Codable {
    /// Route `percent` (1…100) of the alias's traffic to the new version now.
    case shift(toPercent: Double)
    /// Keep the current weights for `minutes` minutes before the next step.
    case wait(minutes: Int)
}

/// A point of the flat schedule view: at `minute` after traffic starts, the new version gets `percent`.
public struct TrafficPoint: Sendable, Equatable, Hashable, Codable {
    public var minute: Int
    public var percent: Double

    public init(minute: Int, percent: Double) {
        self.minute = minute
        self.percent = percent
    }
}

/// A user-defined CodeDeploy deployment config (`TrafficRoutingConfig`), looked up by its name.
///
/// Percentages and intervals are integers, as in the CodeDeploy API (`canaryPercentage: Integer`).
public enum CustomDeploymentConfig: Sendable, Equatable, Hashable, Codable {
    /// `TimeBasedCanary`: `canaryPercentage` at once, the rest after `canaryInterval` minutes.
    case timeBasedCanary(canaryPercentage: Int, canaryInterval: Int)
    /// `TimeBasedLinear`: `+linearPercentage` every `linearInterval` minutes until 100 %.
    case timeBasedLinear(linearPercentage: Int, linearInterval: Int)
    /// `AllAtOnce`: 100 % at once.
    case allAtOnce
}

/// How traffic moves from the old version to the new one, built from a deployment preference `Type`.
///
/// Accepted names, in lookup order:
/// 1. the CodeDeploy predefined names, with or without the `CodeDeployDefault.Lambda` prefix;
/// 2. a custom config passed in by name (exact match);
/// 3. the pattern names `Canary<N>Percent<M>Minutes` and `Linear<N>PercentEvery<M>Minutes`
///    (prefix allowed; `Minute` only for M = 1), with integer N in 1…99 and integer M ≥ 1, written
///    without leading zeros. Anything else is unknown, and `nearNames` offers what it may have meant.
///
/// Decision: percentages are whole numbers, like CodeDeploy's `canaryPercentage`/`linearPercentage`
/// (Integer in the API); `Canary2.5Percent5Minutes` is rejected with a message saying so.
public struct TrafficSchedule: Sendable, Equatable, Hashable, Codable {
    /// The shape of the schedule.
    public enum Kind: Sendable, Equatable, Hashable, Codable {
        /// `percent` at once, 100 % after `intervalMinutes`.
        case canary(percent: Int, intervalMinutes: Int)
        /// `+percent` every `intervalMinutes`; the last step goes to 100 %.
        case linear(percent: Int, intervalMinutes: Int)
        /// 100 % at once.
        case allAtOnce
    }

    /// The name as given (prefix kept), for messages and reports.
    public var name: String
    public var kind: Kind

    public static let predefinedPrefix = "CodeDeployDefault.Lambda"

    /// The predefined CodeDeploy names (without prefix).
    public static let predefinedNames: [String] = [
        "Canary10Percent5Minutes", "Canary10Percent10Minutes", "Canary10Percent15Minutes",
        "Canary10Percent30Minutes", "Linear10PercentEvery1Minute", "Linear10PercentEvery2Minutes",
        "Linear10PercentEvery3Minutes", "Linear10PercentEvery10Minutes", "AllAtOnce",
    ]

    public init(name: String, kind: Kind) {
        self.name = name
        self.kind = kind
    }

    /// Looks up a deployment preference `Type`; throws a message naming it and listing what is accepted.
    public init(named rawName: String, customConfigs: [String: CustomDeploymentConfig] = [:]) throws(RolloutError) {
        let name = rawName.trimmingSpaces
        let bare = name.hasPrefix(Self.predefinedPrefix) ? String(name.dropFirst(Self.predefinedPrefix.count)) : name
        if Self.predefinedNames.contains(bare), let kind = try Self.parsePattern(bare, original: rawName) {
            self.init(name: rawName, kind: kind)
            return
        }
        if let custom = customConfigs[name] {
            self.init(name: rawName, kind: try Self.kind(of: custom, name: rawName))
            return
        }
        if let kind = try Self.parsePattern(bare, original: rawName) {
            self.init(name: rawName, kind: kind)
            return
        }
        var accepted = "accepted: \(Self.predefinedNames.joined(separator: ", ")) (optionally prefixed with "
            + "'\(Self.predefinedPrefix)'), 'Canary<N>Percent<M>Minutes' or 'Linear<N>PercentEvery<M>Minutes' "
            + "with whole N in 1...99 and M >= 1"
        if customConfigs.isEmpty {
            accepted += ", or the name of a custom deployment config"
        } else {
            accepted += ", or a custom deployment config: \(customConfigs.keys.sorted().joined(separator: ", "))"
        }
        throw RolloutError(.unknownStrategy, "unknown deployment strategy '\(rawName)'; \(accepted)")
    }

    /// The schedule as steps: shifts separated by waits, always ending with a shift to 100 %.
    public var steps: [TrafficStep] {
        var steps: [TrafficStep] = []
        var previousMinute = 0
        for (index, point) in points.enumerated() {
            if index > 0 { steps.append(.wait(minutes: point.minute - previousMinute)) }
            steps.append(.shift(toPercent: point.percent))
            previousMinute = point.minute
        }
        return steps
    }

    /// The flat view: `[(0, 10), (5, 100)]` for Canary10Percent5Minutes.
    public var points: [TrafficPoint] {
        switch kind {
        case .allAtOnce:
            return [TrafficPoint(minute: 0, percent: 100)]
        case let .canary(percent, interval):
            return [TrafficPoint(minute: 0, percent: Double(percent)), TrafficPoint(minute: interval, percent: 100)]
        case let .linear(percent, interval):
            var result: [TrafficPoint] = []
            var current = 0
            var minute = 0
            while current < 100 {
                current = min(100, current + percent)
                result.append(TrafficPoint(minute: minute, percent: Double(current)))
                minute += interval
            }
            return result
        }
    }

    /// The flat view as tuples, as `shift validate` prints it.
    public var flat: [(minute: Int, percent: Double)] {
        points.map { ($0.minute, $0.percent) }
    }

    /// Minutes from the first shift to 100 %.
    public var totalMinutes: Int { points.last?.minute ?? 0 }

    private static func kind(of custom: CustomDeploymentConfig, name: String) throws(RolloutError) -> Kind {
        switch custom {
        case .allAtOnce:
            return .allAtOnce
        case let .timeBasedCanary(percent, interval):
            try check(percent: percent, minutes: interval, name: name)
            return .canary(percent: percent, intervalMinutes: interval)
        case let .timeBasedLinear(percent, interval):
            try check(percent: percent, minutes: interval, name: name)
            return .linear(percent: percent, intervalMinutes: interval)
        }
    }

    private static func check(percent: Int, minutes: Int, name: String) throws(RolloutError) {
        guard (1...99).contains(percent) else {
            throw RolloutError(
                .impossibleStrategy,
                "deployment strategy '\(name)' shifts \(percent) %; the percentage must be a whole number in 1...99"
            )
        }
        guard minutes >= 1 else {
            throw RolloutError(
                .impossibleStrategy,
                "deployment strategy '\(name)' waits \(minutes) minutes; the interval must be at least 1 minute"
            )
        }
    }

    /// Parses `AllAtOnce`, `Canary<N>Percent<M>Minute(s)`, `Linear<N>PercentEvery<M>Minute(s)`; nil if not such a name.
    private static func parsePattern(_ bare: String, original: String) throws(RolloutError) -> Kind? {
        if bare == "AllAtOnce" { return .allAtOnce }
        let isCanary = bare.hasPrefix("Canary")
        let isLinear = bare.hasPrefix("Linear")
        guard isCanary || isLinear else { return nil }
        var rest = Substring(bare.dropFirst(6))
        guard let percentEnd = rest.firstRange(of: "Percent") else { return nil }
        let percentText = rest[..<percentEnd.lowerBound]
        rest = rest[percentEnd.upperBound...]
        if isLinear {
            guard rest.hasPrefix("Every") else { return nil }
            rest = rest.dropFirst(5)
        }
        let minutesText: Substring
        let singular: Bool
        if rest.hasSuffix("Minutes") {
            (minutesText, singular) = (rest.dropLast(7), false)
        } else if rest.hasSuffix("Minute") {
            (minutesText, singular) = (rest.dropLast(6), true)
        } else {
            return nil
        }
        guard !percentText.isEmpty, !minutesText.isEmpty,
              minutesText.allSatisfy({ $0.isASCII && $0.isNumber })
        else { return nil }
        guard percentText.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            if percentText.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }) {
                throw RolloutError(
                    .impossibleStrategy,
                    "deployment strategy '\(original)' uses a fractional percentage; CodeDeploy percentages are whole numbers in 1...99"
                )
            }
            return nil
        }
        // Overlong numbers are impossible, not unknown.
        let percent = percentText.count > 4 ? Int.max : Int(percentText)!
        let minutes = minutesText.count > 9 ? Int.max : Int(minutesText)!
        try check(percent: percent, minutes: minutes, name: original)
        // Only an exact spelling is a pattern name: `Canary10Percent5Minute` or `Canary010Percent5Minutes` is a typo
        // (`Minutes` is accepted for one minute too).
        guard percentText == String(percent), minutesText == String(minutes), !singular || minutes == 1 else { return nil }
        return isCanary ? .canary(percent: percent, intervalMinutes: minutes) : .linear(percent: percent, intervalMinutes: minutes)
    }

    /// `Canary<N>Percent<M>Minutes` or `Linear<N>PercentEvery<M>Minutes`, with `Minute` for one minute as CodeDeploy spells it.
    private static func patternName(canary: Bool, percent: Int, minutes: Int) -> String {
        (canary ? "Canary\(percent)Percent" : "Linear\(percent)PercentEvery") + "\(minutes)Minute" + (minutes == 1 ? "" : "s")
    }

    /// The valid names a mistyped `name` may have meant, for "did you mean": the predefined names, the custom
    /// configs, and the pattern names spelled with the numbers `name` holds (`Canary10Percent5Minute` →
    /// `Canary10Percent5Minutes`), each with the `CodeDeployDefault.Lambda` prefix when `name` has it.
    public static func nearNames(for name: String, customConfigs: some Sequence<String>) -> [String] {
        let prefixed = name.hasPrefix(predefinedPrefix)
        var patterns: [String] = []
        let numbers = name.split { !($0.isASCII && $0.isNumber) }.compactMap { $0.count <= 4 ? Int($0) : nil }
        if numbers.count >= 2, (1...99).contains(numbers[0]), numbers[1] >= 1 {
            patterns = [true, false].map { patternName(canary: $0, percent: numbers[0], minutes: numbers[1]) }
        }
        return (predefinedNames + patterns).map { prefixed ? predefinedPrefix + $0 : $0 } + customConfigs
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return String(s)
    }
}

extension CustomDeploymentConfig {
    /// The config with the shape of a schedule (a predefined or pattern name given for a config's name).
    public init(_ kind: TrafficSchedule.Kind) {
        switch kind {
        case let .canary(percent, interval): self = .timeBasedCanary(canaryPercentage: percent, canaryInterval: interval)
        case let .linear(percent, interval): self = .timeBasedLinear(linearPercentage: percent, linearInterval: interval)
        case .allAtOnce: self = .allAtOnce
        }
    }
}
