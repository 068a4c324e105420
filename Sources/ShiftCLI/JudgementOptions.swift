import ArgumentParser
import Foundation
import Rollout

/// `deploy`'s options for judging the new version against the old on the traffic both serve.
struct JudgementOptions: ParsableArguments {
    @Flag(help: "Do not judge the new version against the old; alarms and hooks alone decide.")
    var noJudge = false

    @Option(help: "The largest tolerated increase of the new version's error rate, in percentage points (e.g. 1%, 0.5%).")
    var maxErrorIncrease: String = "1%"

    @Option(help: "How sure the judgement must be before it says Pass or Fail (0.5 to 0.9999).")
    var confidence: Double = 0.99

    @Option(help: "The largest tolerated increase of the new version's p95 latency (e.g. 20%).")
    var maxLatencyIncrease: String = "20%"

    @Option(help: "What an Inconclusive judgement does once the last step before 100 % was held for --judge-hold: fail (roll back) or pass (go on). Default: fail when the CI environment variable is set, else pass.")
    var onInconclusive: JudgementSettings.OnInconclusive?

    @Option(help: "How long the last step before 100 % may be held, in schedule time, while the judgement is Inconclusive (e.g. 10m).")
    var judgeHold: String = "10m"

    func validate() throws {
        _ = try settings(environment: [:])
    }

    /// The settings, or nil with `--no-judge`.
    func settings(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> JudgementSettings? {
        guard !noJudge else { return nil }
        guard confidence >= 0.5, confidence <= 0.9999 else {
            throw ValidationError("--confidence \(confidence) is out of range; use a probability from 0.5 to 0.9999, e.g. 0.99")
        }
        guard let hold = DurationText.parse(judgeHold) else {
            throw ValidationError("--judge-hold '\(judgeHold)' is not a duration; write e.g. 10m, 90s or 1h")
        }
        let policy = JudgementPolicy(maxErrorIncrease: try Self.percent(maxErrorIncrease, "--max-error-increase", example: "1%"),
                                     confidence: confidence,
                                     maxLatencyIncrease: try Self.percent(maxLatencyIncrease, "--max-latency-increase", example: "20%"))
        return JudgementSettings(policy: policy, holdLimit: hold, onInconclusive: onInconclusive ?? Self.defaultOnInconclusive(environment))
    }

    /// CI systems (GitHub Actions, GitLab, CircleCI, Buildkite, Jenkins via plugins…) set `CI`: there, a release
    /// nobody could judge must not go out; on a laptop the person watching decides.
    static func defaultOnInconclusive(_ environment: [String: String]) -> JudgementSettings.OnInconclusive {
        let ci = environment["CI"]?.lowercased() ?? ""
        return ci.isEmpty || ci == "false" || ci == "0" ? .pass : .fail
    }

    /// "1%", "0.5 %" or "1" (a number is percent too: `1` is one percent, never 100 %) → 0.01.
    static func percent(_ text: String, _ flag: String, example: String, upTo100: Bool = false) throws -> Double {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let number = trimmed.hasSuffix("%") ? String(trimmed.dropLast()).trimmingCharacters(in: .whitespaces) : trimmed
        guard let value = Double(number), value.isFinite, value > 0, upTo100 ? value <= 100 : value < 100 else {
            throw ValidationError("\(flag) '\(text)' is not a percentage above 0 and \(upTo100 ? "at most" : "below") 100, e.g. \(example)")
        }
        return value / 100
    }
}

extension JudgementSettings.OnInconclusive: ExpressibleByArgument {}
