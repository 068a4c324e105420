/// How a rollout uses the comparison of its new version with the old one.
public struct JudgementSettings: Sendable, Equatable, Codable {
    /// What Inconclusive turns into once the last step before 100 % was held as long as allowed.
    public enum OnInconclusive: String, Sendable, Equatable, Codable, CaseIterable {
        /// Roll back, as for a Fail (the default in CI).
        case fail
        /// Go on to 100 % (the default elsewhere); the deployment still ends with the Inconclusive verdict.
        case pass
    }

    public var policy: JudgementPolicy
    /// How long the last step before 100 % may be held past its interval while the verdict is Inconclusive.
    public var holdLimit: Duration
    public var onInconclusive: OnInconclusive

    public init(policy: JudgementPolicy = .standard, holdLimit: Duration = .seconds(600), onInconclusive: OnInconclusive = .fail) {
        self.policy = policy
        self.holdLimit = holdLimit
        self.onInconclusive = onInconclusive
    }
}

/// The verdicts of one look at the new version against the old, with the reason a person reads.
public struct StepJudgement: Sendable, Equatable, Codable {
    public var verdict: Verdict
    public var errors: Verdict
    /// nil when neither version has a recorded duration.
    public var latency: Verdict?
    public var reason: String
    /// Calls the new version must serve before the error check can pass, at the old version's error rate.
    public var minimumNewCalls: Int

    public init(verdict: Verdict, errors: Verdict, latency: Verdict?, reason: String, minimumNewCalls: Int) {
        self.verdict = verdict
        self.errors = errors
        self.latency = latency
        self.reason = reason
        self.minimumNewCalls = minimumNewCalls
    }
}

/// Judges a new version against the old on the calls each served since the shift began.
public enum Judgement {
    /// One look. `look` counts the looks since the shift began (1, 2, …), for the latency check's alpha spending.
    ///
    /// The step is Fail when either check fails, Pass when the error check passes and the latency check does
    /// not fail, Inconclusive otherwise. Latency alone never holds a step: bounding a p95 from above takes far
    /// more calls than bounding an error rate, and a version that is not slower must not wait for them.
    public static func judge(newVersion: String, oldVersion: String, new: CallCounts, old: CallCounts,
                             newDurations: DurationDistribution, oldDurations: DurationDistribution,
                             policy: JudgementPolicy, look: Int) -> StepJudgement {
        let errors = ErrorRateTest.judge(new: new, old: old, policy: policy)
        let latency: LatencyJudgement? = newDurations.count > 0 || oldDurations.count > 0
            ? LatencyTest.judge(new: newDurations, old: oldDurations, policy: policy, look: look) : nil
        let verdict: Verdict
        if errors.verdict == .fail || latency?.verdict == .fail {
            verdict = .fail
        } else if errors.verdict == .pass {
            verdict = .pass
        } else {
            verdict = .inconclusive
        }
        let reason: String
        if let latency, latency.verdict == .fail, errors.verdict != .fail {
            reason = latencyText(latency, newVersion: newVersion, oldVersion: oldVersion, policy: policy)
        } else {
            reason = errorText(errors, newVersion: newVersion, oldVersion: oldVersion, policy: policy)
        }
        return StepJudgement(verdict: verdict, errors: errors.verdict, latency: latency?.verdict, reason: reason,
                             minimumNewCalls: errors.minimumNewCalls)
    }

    static func errorText(_ e: ErrorRateJudgement, newVersion: String, oldVersion: String, policy: JudgementPolicy) -> String {
        let counts = "version \(newVersion) failed \(grouped(e.new.errors)) of \(grouped(e.new.invocations)) \(e.new.invocations == 1 ? "call" : "calls") (\(percentText(e.new.rate))) "
            + "against \(grouped(e.old.errors)) of \(grouped(e.old.invocations)) (\(percentText(e.old.rate))) for version \(oldVersion)"
        let terms = "the tolerated increase is \(percentText(policy.maxErrorIncrease)); confidence \(policy.confidence)"
        switch e.verdict {
        case .fail: return "\(counts); \(terms)"
        case .pass: return "\(counts): within the tolerated increase of \(percentText(policy.maxErrorIncrease)) (confidence \(policy.confidence))"
        case .inconclusive:
            if e.new.invocations == 0 { return "version \(newVersion) served no calls yet; it needs at least \(grouped(e.minimumNewCalls)) to be judged" }
            return "\(counts): not enough calls to tell yet (at least \(grouped(e.minimumNewCalls)) on version \(newVersion) "
                + "are needed at this error rate); \(terms)"
        }
    }

    static func latencyText(_ l: LatencyJudgement, newVersion: String, oldVersion: String, policy: JudgementPolicy) -> String {
        let percentile = l.quantile * 100
        let q = "p" + (percentile == percentile.rounded() ? String(Int(percentile)) : String(percentile))
        let new = l.newEstimate.map(millisecondsText) ?? "?", old = l.oldEstimate.map(millisecondsText) ?? "?"
        return "version \(newVersion)'s \(q) latency is \(new) over \(grouped(l.newCalls)) calls against \(old) over \(grouped(l.oldCalls)) "
            + "for version \(oldVersion); the tolerated increase is \(percentText(policy.maxLatencyIncrease)) "
            + "(and at least \(millisecondsText(policy.latencyFloorMilliseconds))); confidence \(policy.confidence)"
    }

    /// "5.0 %", "0.04 %", "1 %": as many decimals as a small rate needs.
    public static func percentText(_ rate: Double) -> String {
        let percent = rate * 100
        if percent == percent.rounded() { return "\(Int(percent)) %" }
        let decimals = percent >= 1 ? 1 : (percent >= 0.1 ? 2 : 3)
        return "\(rounded(percent, decimals)) %"
    }

    static func millisecondsText(_ ms: Double) -> String { "\(rounded(ms, ms >= 100 ? 0 : 1)) ms" }

    static func rounded(_ value: Double, _ decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let whole = (value * scale).rounded() / scale
        if decimals == 0 { return String(Int(whole)) }
        var text = String(whole)
        let fraction = text.split(separator: ".").last.map(\.count) ?? 0
        if !text.contains(".") { text += "." }
        return text + String(repeating: "0", count: max(0, decimals - fraction))
    }

    /// 7290 → "7,290".
    public static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }
}
