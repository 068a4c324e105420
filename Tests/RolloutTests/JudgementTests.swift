import Foundation
import Testing
@testable import Rollout

/// The judgement statistics against values computed independently with SciPy
/// (`python3 scripts/reference/judgement.py > Tests/RolloutTests/Fixtures/judgement-reference.json`).
@Suite struct JudgementTests {
    struct Reference: Decodable {
        struct ErrorCase: Decodable {
            var newErrors, newCalls, oldErrors, oldCalls: Int
            var maxIncrease, confidence, increase, radius: Double
        }
        struct BinomialCase: Decodable {
            var k, n: Int
            var p, cdf: Double
        }
        struct RankCase: Decodable {
            var n: Int
            var q, alpha: Double
            var lowerRank, upperRank: Int?
        }
        var errorRate: [ErrorCase]
        var binomial: [BinomialCase]
        var quantileRanks: [RankCase]
    }

    static let reference: Reference = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/judgement-reference.json")
        return try! JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }()

    @Test func errorRateIntervalsMatchTheIntegratedMixtureRatio() {
        for c in Self.reference.errorRate {
            let policy = JudgementPolicy(maxErrorIncrease: c.maxIncrease, confidence: c.confidence)
            let new = CallCounts(invocations: c.newCalls, errors: c.newErrors), old = CallCounts(invocations: c.oldCalls, errors: c.oldErrors)
            let judgement = ErrorRateTest.judge(new: new, old: old, policy: policy)
            #expect(abs(judgement.increase - c.increase) < 1e-12, "\(c)")
            let radius = (judgement.upper - judgement.lower) / 2
            #expect(abs(radius - c.radius) / c.radius < 1e-6, "\(c): radius \(radius) against \(c.radius)")
            let expected: Verdict = c.increase - c.radius > c.maxIncrease ? .fail : (c.increase + c.radius < c.maxIncrease ? .pass : .inconclusive)
            #expect(judgement.verdict == expected, "\(c)")
        }
    }

    @Test func errorRateEdgeCases() {
        let policy = JudgementPolicy.standard
        // No traffic on either side: nothing to judge, and the sample size still says how many calls it takes.
        let none = ErrorRateTest.judge(new: CallCounts(invocations: 0, errors: 0), old: CallCounts(invocations: 0, errors: 0), policy: policy)
        #expect(none.verdict == .inconclusive)
        #expect(none.minimumNewCalls > 0)
        let onlyOld = ErrorRateTest.judge(new: CallCounts(invocations: 0, errors: 0), old: CallCounts(invocations: 5000, errors: 0), policy: policy)
        #expect(onlyOld.verdict == .inconclusive)
        // Zero errors on both sides with plenty of calls passes; all errors on the new side against none fails at once.
        #expect(ErrorRateTest.judge(new: CallCounts(invocations: 5000, errors: 0), old: CallCounts(invocations: 50000, errors: 0), policy: policy).verdict == .pass)
        #expect(ErrorRateTest.judge(new: CallCounts(invocations: 20, errors: 20), old: CallCounts(invocations: 200, errors: 0), policy: policy).verdict == .fail)
        // All errors on both sides is no increase.
        #expect(ErrorRateTest.judge(new: CallCounts(invocations: 5000, errors: 5000), old: CallCounts(invocations: 50000, errors: 50000), policy: policy).verdict == .pass)
        // Huge counts stay finite and decide.
        let huge = ErrorRateTest.judge(new: CallCounts(invocations: 1 << 40, errors: 1 << 35), old: CallCounts(invocations: 1 << 40, errors: 1 << 35), policy: policy)
        #expect(huge.verdict == .pass)
        #expect(huge.lower.isFinite && huge.upper.isFinite)
    }

    @Test func minimumSampleSizeIsWhereAVersionAsGoodAsTheOldFirstPasses() {
        let policy = JudgementPolicy.standard
        for oldRate in [0.0, 0.001, 0.02] {
            let n = ErrorRateTest.minimumNewCalls(oldRate: oldRate, oldCalls: 100_000, policy: policy)
            let errorsAt = { (calls: Int) in Int((oldRate * Double(calls)).rounded()) }
            let old = CallCounts(invocations: 100_000, errors: errorsAt(100_000))
            #expect(ErrorRateTest.judge(new: CallCounts(invocations: n, errors: errorsAt(n)), old: old, policy: policy).verdict == .pass, "\(oldRate): \(n)")
            #expect(ErrorRateTest.judge(new: CallCounts(invocations: n - 1, errors: errorsAt(n - 1)), old: old, policy: policy).verdict != .pass, "\(oldRate): \(n - 1)")
        }
    }

    @Test func binomialTailsMatchSciPy() {
        for c in Self.reference.binomial {
            let cdf = Binomial.cdf(c.k, n: c.n, p: c.p)
            #expect(abs(cdf - c.cdf) <= 1e-9 * max(1, c.cdf) + 1e-300, "\(c): \(cdf)")
        }
    }

    @Test func quantileBoundRanksMatchSciPy() {
        for c in Self.reference.quantileRanks {
            // Durations 1…n ms make the order statistic's value its rank.
            let sample = DurationDistribution(samples: (1...c.n).map(Double.init))
            let bounds = LatencyTest.quantileBounds(sample, q: c.q, alpha: c.alpha)
            #expect(bounds.lower.map { Int($0) } == c.lowerRank, "\(c)")
            #expect(bounds.upper.map { Int($0) } == c.upperRank, "\(c)")
        }
    }

    @Test func latencyVerdicts() {
        let policy = JudgementPolicy.standard
        let old = DurationDistribution((0..<5000).map { .init(milliseconds: 20 + Double($0 % 100) / 10, count: 1) })
        let same = DurationDistribution((0..<600).map { .init(milliseconds: 20 + Double($0 % 100) / 10, count: 1) })
        let slower = DurationDistribution((0..<600).map { .init(milliseconds: 70 + Double($0 % 100) / 10, count: 1) })
        #expect(LatencyTest.judge(new: same, old: old, policy: policy, look: 10).verdict == .pass)
        #expect(LatencyTest.judge(new: slower, old: old, policy: policy, look: 10).verdict == .fail)
        // Too few calls to bound the new version's p95 from above: no Pass yet.
        let few = DurationDistribution(samples: [20, 21, 22])
        let judgement = LatencyTest.judge(new: few, old: old, policy: policy, look: 1)
        #expect(judgement.verdict == .inconclusive)
        #expect(judgement.minimumNewCalls > 3)
        #expect(LatencyTest.judge(new: DurationDistribution([]), old: DurationDistribution([]), policy: policy, look: 1).verdict == .inconclusive)
        // Alpha spent over every possible look sums to at most alpha.
        let spent = (1...100_000).reduce(0.0) { $0 + LatencyTest.spentAlpha(0.01, look: $1) }
        #expect(spent <= 0.01)
    }
}
