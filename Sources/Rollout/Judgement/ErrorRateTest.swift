#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Whether a check (or a step) has shown the new version acceptable, unacceptable, or cannot tell yet.
public enum Verdict: String, Sendable, Codable, Equatable, CaseIterable {
    /// The new version is shown to be within the tolerance.
    case pass = "Pass"
    /// The new version is shown to be worse than the tolerance allows.
    case fail = "Fail"
    /// Not enough calls yet to tell either way.
    case inconclusive = "Inconclusive"
}

/// What the judgement tolerates and how sure it must be before it says Pass or Fail.
public struct JudgementPolicy: Sendable, Equatable, Codable {
    /// The largest tolerated increase of the error rate, absolute (0.01: one percentage point).
    public var maxErrorIncrease: Double
    /// 1 − the probability, over the whole rollout, of a wrong Fail (or a wrong Pass) from one check.
    public var confidence: Double
    /// The largest tolerated relative increase of the latency quantile (0.2: 20 %).
    public var maxLatencyIncrease: Double
    /// The latency quantile compared (0.95: p95).
    public var latencyQuantile: Double
    /// Latency increases smaller than this are never a failure, whatever their ratio: a 1 ms function that
    /// takes 1.3 ms is not a regression anyone can act on.
    public var latencyFloorMilliseconds: Double
    /// Calls the new version must have served before its latency can fail it. Its first calls are mostly the first
    /// of freshly started processes (a bias, not noise, that no confidence level covers); from a hundred on, the
    /// few of them sit above the lower bound of a p95.
    public var latencyMinimumCalls: Int

    public static let standard = JudgementPolicy()

    public init(maxErrorIncrease: Double = 0.01, confidence: Double = 0.99, maxLatencyIncrease: Double = 0.2,
                latencyQuantile: Double = 0.95, latencyFloorMilliseconds: Double = 10, latencyMinimumCalls: Int = 100) {
        self.latencyMinimumCalls = latencyMinimumCalls
        self.maxErrorIncrease = maxErrorIncrease
        self.confidence = confidence
        self.maxLatencyIncrease = maxLatencyIncrease
        self.latencyQuantile = latencyQuantile
        self.latencyFloorMilliseconds = latencyFloorMilliseconds
    }

    /// The error probability each check may spend: `1 − confidence`.
    public var alpha: Double { min(max(1 - confidence, 1e-12), 0.5) }
}

/// Calls a version served and how many of them failed (function errors and timeouts).
public struct CallCounts: Sendable, Equatable, Codable {
    public var invocations: Int
    public var errors: Int

    public init(invocations: Int, errors: Int) {
        self.invocations = max(0, invocations)
        self.errors = min(max(0, errors), self.invocations)
    }

    public var rate: Double { invocations == 0 ? 0 : Double(errors) / Double(invocations) }
}

/// The error-rate comparison of a new version with the old one, on the calls each served.
public struct ErrorRateJudgement: Sendable, Equatable {
    public var verdict: Verdict
    public var new: CallCounts
    public var old: CallCounts
    /// The estimated increase of the error rate, new − old (Agresti–Caffo adjusted).
    public var increase: Double
    /// The always-valid confidence interval of the increase at this look.
    public var lower: Double
    public var upper: Double
    /// Calls the new version must serve before a Pass is possible, if it fails as often as the old one does.
    public var minimumNewCalls: Int
}

/// A sequential test of "the new version fails more often than the old by more than the tolerance".
///
/// It is the mixture sequential probability ratio test (mSPRT) of Johari, Koomen, Pekelis and Walsh,
/// "Always Valid Inference: Continuous Monitoring of A/B Tests", Operations Research 70(3), 2022, on the
/// difference of two proportions with its normal approximation and a normal mixing distribution
/// N(θ₀, τ²). Its likelihood ratio against θ = θ₀ is
///
///     Λ = √(V / (V + τ²)) · exp(τ² (θ̂ − θ₀)² / (2 V (V + τ²)))
///
/// where θ̂ is the observed difference and V its variance; rejecting θ₀ when Λ ≥ 1/α is valid however often
/// one looks. Inverting it gives a confidence sequence θ̂ ± r, with
///
///     r = √( 2 V (V + τ²) / τ² · (ln(1/α) + ½ ln((V + τ²) / V)) )
///
/// so the verdict is Fail when the whole interval lies above the tolerated increase, Pass when it lies below,
/// and Inconclusive otherwise. Proportions get one error and one success added per version (Agresti and
/// Caffo, The American Statistician 54(4), 2000) so that "no errors yet" has a variance. τ is twice the tolerated
/// increase: early on the interval's radius grows as V/τ, so a mixture tuned to the tolerance itself needed 159
/// calls to fail a version failing half of them; at 2× it takes 82, while a +3 % version against an error-free old
/// one is caught as often (simulated: 98 % either way at 20 calls/s, Canary10Percent5Minutes).
public enum ErrorRateTest {
    public static func judge(new: CallCounts, old: CallCounts, policy: JudgementPolicy) -> ErrorRateJudgement {
        let minimum = minimumNewCalls(oldRate: old.rate, oldCalls: old.invocations, policy: policy)
        guard new.invocations > 0, old.invocations > 0 else {
            return ErrorRateJudgement(verdict: .inconclusive, new: new, old: old, increase: new.rate - old.rate,
                                      lower: -1, upper: 1, minimumNewCalls: minimum)
        }
        let (increase, radius) = interval(new: new, old: old, policy: policy)
        let lower = increase - radius, upper = increase + radius
        return ErrorRateJudgement(verdict: verdict(lower: lower, upper: upper, policy: policy), new: new, old: old, increase: increase,
                                  lower: lower, upper: upper, minimumNewCalls: minimum)
    }

    /// The verdict alone, without the sample size or the figures: what a simulation needs at every look.
    static func verdict(new: CallCounts, old: CallCounts, policy: JudgementPolicy) -> Verdict {
        guard new.invocations > 0, old.invocations > 0 else { return .inconclusive }
        let (increase, radius) = interval(new: new, old: old, policy: policy)
        return verdict(lower: increase - radius, upper: increase + radius, policy: policy)
    }

    private static func verdict(lower: Double, upper: Double, policy: JudgementPolicy) -> Verdict {
        lower > policy.maxErrorIncrease ? .fail : (upper < policy.maxErrorIncrease ? .pass : .inconclusive)
    }

    /// The adjusted increase and the confidence sequence's radius.
    static func interval(new: CallCounts, old: CallCounts, policy: JudgementPolicy) -> (increase: Double, radius: Double) {
        let pNew = (Double(new.errors) + 1) / (Double(new.invocations) + 2)
        let pOld = (Double(old.errors) + 1) / (Double(old.invocations) + 2)
        let variance = pNew * (1 - pNew) / (Double(new.invocations) + 2) + pOld * (1 - pOld) / (Double(old.invocations) + 2)
        let tau = max(2 * policy.maxErrorIncrease, 2e-4)
        return (pNew - pOld, radius(variance: variance, mixingVariance: tau * tau, alpha: policy.alpha))
    }

    /// Half the width of the mSPRT's confidence sequence at this look.
    public static func radius(variance: Double, mixingVariance: Double, alpha: Double) -> Double {
        let v = max(variance, 1e-18)
        return (2 * v * (v + mixingVariance) / mixingVariance * (log(1 / alpha) + 0.5 * log((v + mixingVariance) / v))).squareRoot()
    }

    /// The fewest calls on the new version after which an interval around the old version's own rate lies
    /// below the tolerance: fewer than this and even a version exactly as good as the old cannot pass.
    /// The old version's calls are taken as they are now (at least as many as the new one's).
    public static func minimumNewCalls(oldRate: Double, oldCalls: Int, policy: JudgementPolicy) -> Int {
        let oldErrors = Int((oldRate * Double(oldCalls)).rounded())
        func passes(_ n: Int) -> Bool {
            let old = CallCounts(invocations: max(oldCalls, n), errors: oldCalls >= n ? oldErrors : Int((oldRate * Double(n)).rounded()))
            let new = CallCounts(invocations: n, errors: Int((oldRate * Double(n)).rounded()))
            let (increase, radius) = interval(new: new, old: old, policy: policy)
            return increase + radius < policy.maxErrorIncrease
        }
        var high = 1
        while !passes(high) {
            if high >= 1 << 40 { return high }
            high *= 2
        }
        var low = high / 2
        while low + 1 < high {
            let middle = (low + high) / 2
            if passes(middle) { high = middle } else { low = middle }
        }
        return high
    }
}
