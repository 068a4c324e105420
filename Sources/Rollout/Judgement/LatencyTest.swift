#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Per-invocation durations of one version as a histogram: ascending values, each with how many calls took it.
public struct DurationDistribution: Sendable, Equatable {
    public struct Bucket: Sendable, Equatable {
        public var milliseconds: Double
        public var count: Int

        public init(milliseconds: Double, count: Int) {
            self.milliseconds = milliseconds
            self.count = count
        }
    }

    public private(set) var buckets: [Bucket]
    public private(set) var count: Int

    /// Buckets in any order; equal values are merged.
    public init(_ buckets: [Bucket]) {
        var merged: [Bucket] = []
        for bucket in buckets.filter({ $0.count > 0 }).sorted(by: { $0.milliseconds < $1.milliseconds }) {
            if merged.last?.milliseconds == bucket.milliseconds { merged[merged.count - 1].count += bucket.count } else { merged.append(bucket) }
        }
        self.buckets = merged
        self.count = merged.reduce(0) { $0 + $1.count }
    }

    /// Exact samples, one bucket each.
    public init(samples: [Double]) {
        self.init(samples.map { Bucket(milliseconds: $0, count: 1) })
    }

    /// The i-th smallest duration, 1-based.
    public func orderStatistic(_ rank: Int) -> Double? {
        guard rank >= 1, rank <= count else { return nil }
        var seen = 0
        for bucket in buckets {
            seen += bucket.count
            if seen >= rank { return bucket.milliseconds }
        }
        return buckets.last?.milliseconds
    }

    /// The quantile by nearest rank.
    public func quantile(_ q: Double) -> Double? {
        orderStatistic(max(1, Int((q * Double(count)).rounded(.up))))
    }
}

/// The latency comparison of a new version with the old one at one look.
public struct LatencyJudgement: Sendable, Equatable {
    public var verdict: Verdict
    public var quantile: Double
    public var newCalls: Int
    public var oldCalls: Int
    /// Point estimates of the quantile.
    public var newEstimate: Double?
    public var oldEstimate: Double?
    /// Confidence bounds of each version's quantile (nil: not enough calls to bound it on that side).
    public var newLower: Double?
    public var newUpper: Double?
    public var oldLower: Double?
    public var oldUpper: Double?
    /// Calls the new version must serve before its quantile has an upper bound at this look (before a Pass is possible).
    public var minimumNewCalls: Int
}

/// A comparison of one latency quantile (p95 by default) of the new version with the old one's.
///
/// Each version's quantile gets a distribution-free confidence interval from its order statistics: the
/// number of durations below the true q-quantile is Binomial(n, q), so X₍ₗ₎ ≤ ξ_q ≤ X₍ᵤ₎ with the ranks l, u
/// taken from that binomial's tails (the classical interval; e.g. David and Nagaraja, "Order Statistics",
/// 3rd ed., §7.1). Looking again and again is paid for by alpha spending: look k (1, 2, …) may spend
/// α · 6/(π² k²), which sums to α over every look there can be. The verdict is Fail when the new version's
/// lower bound exceeds the old one's upper bound by more than the tolerance, Pass when the new version's upper
/// bound is within the tolerance of the old one's lower bound, Inconclusive otherwise. Each of the two
/// one-sided bounds spends half of the look's α.
public enum LatencyTest {
    public static func judge(new: DurationDistribution, old: DurationDistribution, policy: JudgementPolicy, look: Int) -> LatencyJudgement {
        let alpha = spentAlpha(policy.alpha, look: look)
        let q = policy.latencyQuantile
        let newBounds = quantileBounds(new, q: q, alpha: alpha / 2)
        let oldBounds = quantileBounds(old, q: q, alpha: alpha / 2)
        var verdict = Verdict.inconclusive
        if new.count >= policy.latencyMinimumCalls, let newLower = newBounds.lower, let oldUpper = oldBounds.upper,
           newLower > tolerated(oldUpper, policy) {
            verdict = .fail
        } else if let newUpper = newBounds.upper, let oldLower = oldBounds.lower, newUpper <= tolerated(oldLower, policy) {
            verdict = .pass
        }
        return LatencyJudgement(
            verdict: verdict, quantile: q, newCalls: new.count, oldCalls: old.count,
            newEstimate: new.quantile(q), oldEstimate: old.quantile(q),
            newLower: newBounds.lower, newUpper: newBounds.upper, oldLower: oldBounds.lower, oldUpper: oldBounds.upper,
            minimumNewCalls: minimumCallsForUpperBound(q: q, alpha: alpha / 2))
    }

    /// The largest latency the new version may have against an old one of `old` milliseconds.
    public static func tolerated(_ old: Double, _ policy: JudgementPolicy) -> Double {
        max(old * (1 + policy.maxLatencyIncrease), old + policy.latencyFloorMilliseconds)
    }

    /// The share of α that look `k` (1-based) may spend.
    public static func spentAlpha(_ alpha: Double, look: Int) -> Double {
        let k = Double(max(1, look))
        return alpha * 6 / (Double.pi * Double.pi * k * k)
    }

    /// One-sided bounds of the q-quantile, each holding with probability at least 1 − alpha.
    public static func quantileBounds(_ sample: DurationDistribution, q: Double, alpha: Double) -> (lower: Double?, upper: Double?) {
        let n = sample.count
        guard n > 0 else { return (nil, nil) }
        // Lower: the largest l with P(Bin(n, q) ≤ l − 1) ≤ alpha, so that X₍ₗ₎ ≤ ξ_q with probability ≥ 1 − alpha.
        var lower: Double?
        if let k = largestRank(n: n, p: q, whereCDFAtMost: alpha) { lower = sample.orderStatistic(k + 1) }
        // Upper: the smallest u with P(Bin(n, q) ≤ u − 1) ≥ 1 − alpha.
        var upper: Double?
        if let k = smallestRank(n: n, p: q, whereCDFAtLeast: 1 - alpha), k + 1 <= n { upper = sample.orderStatistic(k + 1) }
        return (lower, upper)
    }

    /// The fewest calls for which the q-quantile has an upper bound: 1 − qⁿ ≥ 1 − alpha.
    public static func minimumCallsForUpperBound(q: Double, alpha: Double) -> Int {
        Int((log(alpha) / log(q)).rounded(.up))
    }

    /// The largest k in 0…n with P(Bin(n, p) ≤ k) ≤ target, or nil when even k = 0 exceeds it.
    static func largestRank(n: Int, p: Double, whereCDFAtMost target: Double) -> Int? {
        guard Binomial.cdf(0, n: n, p: p) <= target else { return nil }
        var low = 0, high = n
        while low < high {
            let middle = (low + high + 1) / 2
            if Binomial.cdf(middle, n: n, p: p) <= target { low = middle } else { high = middle - 1 }
        }
        return low
    }

    /// The smallest k in 0…n with P(Bin(n, p) ≤ k) ≥ target.
    static func smallestRank(n: Int, p: Double, whereCDFAtLeast target: Double) -> Int? {
        var low = 0, high = n
        while low < high {
            let middle = (low + high) / 2
            if Binomial.cdf(middle, n: n, p: p) >= target { high = middle } else { low = middle + 1 }
        }
        return low
    }
}

/// The binomial distribution's CDF through the regularized incomplete beta function, so that a million
/// calls cost as much as ten.
public enum Binomial {
    /// P(Bin(n, p) ≤ k).
    public static func cdf(_ k: Int, n: Int, p: Double) -> Double {
        if k < 0 { return 0 }
        if k >= n { return 1 }
        if p <= 0 { return 1 }
        if p >= 1 { return 0 }
        // P(X ≤ k) = I_{1−p}(n − k, k + 1).
        return IncompleteBeta.regularized(x: 1 - p, a: Double(n - k), b: Double(k + 1))
    }
}

/// The regularized incomplete beta function I_x(a, b), by its continued fraction (modified Lentz's method;
/// Press et al., "Numerical Recipes", 3rd ed., §6.4).
public enum IncompleteBeta {
    public static func regularized(x: Double, a: Double, b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let logFront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log(1 - x)
        // The fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry otherwise.
        if x < (a + 1) / (a + b + 2) {
            return exp(logFront) * continuedFraction(x: x, a: a, b: b) / a
        }
        return 1 - exp(logFront) * continuedFraction(x: 1 - x, a: b, b: a) / b
    }

    static func continuedFraction(x: Double, a: Double, b: Double) -> Double {
        let tiny = 1e-300, epsilon = 1e-15
        var c = 1.0
        var d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...10_000 {
            let m = Double(m), m2 = 2 * m
            var aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2))
            d = 1 + aa * d
            if abs(d) < tiny { d = tiny }
            c = 1 + aa / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))
            d = 1 + aa * d
            if abs(d) < tiny { d = tiny }
            c = 1 + aa / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < epsilon { break }
        }
        return h
    }
}
