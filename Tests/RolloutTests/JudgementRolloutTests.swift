import Foundation
import Testing
@testable import Rollout

/// The judgement inside the rollout: Fail rolls back like an alarm, the last step before 100 % waits for a Pass.
@Suite struct JudgementRolloutTests {
    static func rollout(_ strategy: String = "Canary10Percent5Minutes", onInconclusive: JudgementSettings.OnInconclusive = .fail) -> Rollout {
        Rollout(configuration: RolloutConfiguration(
            newVersion: "3", schedule: try! TrafficSchedule(named: strategy),
            judgement: JudgementSettings(holdLimit: .seconds(600), onInconclusive: onInconclusive)))
    }

    static func look(_ verdict: Verdict) -> StepJudgement {
        StepJudgement(verdict: verdict, errors: verdict, latency: nil, reason: "reason \(verdict.rawValue)", minimumNewCalls: 100)
    }

    @Test func aFailRollsBackAtOnceDuringTheCanary() {
        var r = Self.rollout()
        _ = r.start(at: .zero)
        let actions = r.judged(Self.look(.fail), at: .seconds(30))
        #expect(actions.first == .rollBack(reason: r.reason))
        #expect(r.status == .failed)
        #expect(r.reason.hasPrefix("judgement Fail: reason Fail"))
    }

    @Test func theCanaryIsHeldUntilAPass() {
        var r = Self.rollout()
        _ = r.start(at: .zero)
        _ = r.judged(Self.look(.inconclusive), at: .seconds(290))
        // Due at 5 min, Inconclusive: held for up to 10 more minutes.
        #expect(r.timerFired(at: .minutes(5)) == [.wake(at: .minutes(15))])
        #expect(r.heldSince == .minutes(5))
        #expect(r.weight == 0.1)
        // Persisted and restored mid-hold, it still waits.
        var restored = try! JSONDecoder.roundTrip(r)
        #expect(restored.nextDeadline == .minutes(15))
        #expect(restored.resume(at: .minutes(6)).contains(.wake(at: .minutes(15))))
        // A Pass ends the hold at once.
        let actions = restored.judged(Self.look(.pass), at: .minutes(7))
        #expect(actions.first == .setWeight(version: "3", weight: 1))
        #expect(restored.status == .succeeded)
        #expect(restored.reason.contains("judgement Pass"))
    }

    @Test func aPassBeforeTheStepEndsLetsItEndOnTime() {
        var r = Self.rollout()
        _ = r.start(at: .zero)
        _ = r.judged(Self.look(.pass), at: .minutes(4))
        #expect(r.timerFired(at: .minutes(5)).first == .setWeight(version: "3", weight: 1))
    }

    @Test func theHoldLimitFollowsOnInconclusive() {
        var failing = Self.rollout()
        _ = failing.start(at: .zero)
        _ = failing.timerFired(at: .minutes(5))
        let actions = failing.timerFired(at: .minutes(15))
        #expect(actions.first == .rollBack(reason: failing.reason))
        #expect(failing.reason.contains("judgement Inconclusive after holding 10 % for 10 min more (--on-inconclusive fail)"))

        var passing = Self.rollout(onInconclusive: .pass)
        _ = passing.start(at: .zero)
        _ = passing.judged(Self.look(.inconclusive), at: .minutes(1))
        _ = passing.timerFired(at: .minutes(5))
        #expect(passing.timerFired(at: .minutes(15)).first == .setWeight(version: "3", weight: 1))
        #expect(passing.status == .succeeded)
        #expect(passing.judgement?.verdict == .inconclusive)
        #expect(passing.reason.contains("judgement Inconclusive"))
    }

    @Test func onlyTheLastStepBeforeFullTrafficIsGated() {
        var r = Self.rollout("Linear10PercentEvery1Minute")
        _ = r.start(at: .zero)
        for minute in 1...8 { _ = r.timerFired(at: .minutes(Int64(minute))) }
        #expect(r.weight == 0.9)
        #expect(r.timerFired(at: .minutes(9)) == [.wake(at: .minutes(19))])
    }

    @Test func aJournalWrittenBeforeTheJudgementStillResumes() throws {
        var r = Rollout(configuration: RolloutConfiguration(newVersion: "3", schedule: try! TrafficSchedule(named: "Canary10Percent5Minutes")))
        _ = r.start(at: .zero)
        var object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(r)) as? [String: Any])
        // What an older shift wrote: none of the judgement's fields.
        for key in ["judgement", "heldSince", "heldOut"] { object.removeValue(forKey: key) }
        if var configuration = object["configuration"] as? [String: Any] {
            configuration.removeValue(forKey: "judgement")
            object["configuration"] = configuration
        }
        var restored = try JSONDecoder().decode(Rollout.self, from: JSONSerialization.data(withJSONObject: object))
        #expect(restored.timerFired(at: .minutes(5)).first == .setWeight(version: "3", weight: 1))
    }

    @Test func withoutJudgementLooksAreIgnored() {
        var r = Rollout(configuration: RolloutConfiguration(newVersion: "3", schedule: try! TrafficSchedule(named: "Canary10Percent5Minutes")))
        _ = r.start(at: .zero)
        #expect(r.judged(Self.look(.fail), at: .minutes(1)).isEmpty)
        #expect(r.timerFired(at: .minutes(5)).first == .setWeight(version: "3", weight: 1))
    }

    // MARK: Properties in virtual time

    static let canary = RolloutConfiguration(newVersion: "2", schedule: try! TrafficSchedule(named: "Canary10Percent5Minutes"),
                                             judgement: JudgementSettings())

    @Test(arguments: [0.0, 0.001, 0.01, 0.05])
    func anIdenticalVersionIsFailedAtMostAtTheFalsePositiveRate(errorRate: Double) {
        let simulation = RolloutSimulation(configuration: Self.canary, rate: 20)
        let runs = 500
        let failed = (0..<runs).filter { simulation.run(seed: UInt64($0), oldErrorRate: errorRate, newErrorRate: errorRate).failedByJudgement }.count
        #expect(Double(failed) / Double(runs) <= 1 - JudgementPolicy.standard.confidence, "\(failed) of \(runs) A/A rollouts failed")
    }

    @Test func aVersionWithThreePercentMoreErrorsIsCaught() {
        let simulation = RolloutSimulation(configuration: Self.canary, rate: 20)
        let runs = 500
        let outcomes = (0..<runs).map { simulation.run(seed: UInt64($0), oldErrorRate: 0, newErrorRate: 0.03) }
        let caught = outcomes.filter(\.caughtBeforeFullTraffic).count
        let byJudgement = outcomes.filter(\.failedByJudgement).count
        #expect(Double(caught) / Double(runs) >= 0.95, "caught \(caught) of \(runs)")
        #expect(Double(byJudgement) / Double(runs) >= 0.95, "failed by judgement in \(byJudgement) of \(runs)")
        // Never at 100 %: the canary is where it is caught.
        #expect(outcomes.allSatisfy { $0.peakWeight < 1 })
    }
}

extension JSONDecoder {
    static func roundTrip<T: Codable>(_ value: T) throws -> T {
        try JSONDecoder().decode(T.self, from: JSONEncoder().encode(value))
    }
}
