import Foundation
import Testing
@testable import Rollout

/// Minutes after an arbitrary epoch offset, plus seconds.
func at(_ minutes: Int64, _ seconds: Int64 = 0) -> Instant {
    Instant(millisecondsSinceEpoch: 1_000_020_000 + minutes * 60_000 + seconds * 1000)
}

func config(_ strategy: String, hooks: Set<LifecycleHook> = [], bake: Duration = .zero) -> RolloutConfiguration {
    RolloutConfiguration(newVersion: "2", schedule: try! TrafficSchedule(named: strategy), hooks: hooks, bakeTime: bake)
}

func weight(_ w: Double) -> RolloutAction { .setWeight(version: "2", weight: w) }

extension Array where Element == RolloutAction {
    var finishStatus: DeploymentStatus? {
        for a in self { if case let .finish(status, _) = a { return status } }
        return nil
    }
    var hasWeightAction: Bool { contains { if case .setWeight = $0 { true } else { false } } }
    var hasRollBack: Bool { contains { if case .rollBack = $0 { true } else { false } } }
}

struct RolloutLifecycleTests {
    @Test func canary10Percent5MinutesWithoutHooks() {
        var r = Rollout(configuration: config("Canary10Percent5Minutes"))
        #expect(r.status == .created)
        #expect(r.start(at: at(0)) == [weight(0.1), .wake(at: at(5))])
        #expect(r.status == .inProgress)
        #expect(r.phase == .allowTraffic(pointIndex: 0, percent: 10, since: at(0), nextShiftAt: at(5)))
        #expect(r.timerFired(at: at(4, 59)) == [.wake(at: at(5))])
        let end = r.timerFired(at: at(5))
        #expect(end == [weight(1), .finish(status: .succeeded, reason: "version 2 receives 100 % of the traffic")])
        #expect(r.status == .succeeded)
        #expect(r.weight == 1)
        #expect(r.phase == .finished(status: .succeeded, reason: r.reason, at: at(5), rolledBack: false))
    }

    @Test func linear10PercentEvery1MinuteFullSequence() {
        var r = Rollout(configuration: config("Linear10PercentEvery1Minute"))
        var actions = r.start(at: at(0))
        for minute in 1...9 { actions += r.timerFired(at: at(Int64(minute))) }
        var expected: [RolloutAction] = []
        for step in 1...9 { expected += [weight(Double(step) / 10), .wake(at: at(Int64(step)))] }
        expected += [weight(1), .finish(status: .succeeded, reason: "version 2 receives 100 % of the traffic")]
        #expect(actions == expected)
    }

    @Test(arguments: TrafficSchedule.predefinedNames)
    func everyPredefinedStrategyFollowsItsSchedule(name: String) {
        let schedule = try! TrafficSchedule(named: name)
        var r = Rollout(configuration: config(name, hooks: [.preTraffic, .postTraffic]))
        #expect(r.start(at: at(0)) == [.invokeHook(.preTraffic, deadline: at(60)), .wake(at: at(60))])
        #expect(r.status == .inProgress)
        var actions = r.hookFinished(.preTraffic, succeeded: true, at: at(1))
        var now = at(1)
        var weights: [Double] = []
        var wakes: [Instant] = []
        while r.status == .inProgress {
            for a in actions {
                if case let .setWeight(_, w) = a { weights.append(w) }
                if case let .wake(t) = a { wakes.append(t) }
            }
            guard let next = r.nextDeadline else { break }
            now = next
            actions = r.timerFired(at: now)
        }
        for a in actions { if case let .setWeight(_, w) = a { weights.append(w) } }
        #expect(weights == schedule.points.map { $0.percent / 100 })
        // Each wake is exactly the schedule's gap after the previous shift (hook passed at minute 1).
        #expect(wakes.map { ($0 - at(1)).components.seconds / 60 } == schedule.points.dropFirst().map { Int64($0.minute) })
        #expect(r.status == .baking)
        #expect(actions.last == .wake(at: now + .seconds(3600)))
        #expect(actions.contains(.invokeHook(.postTraffic, deadline: now + .seconds(3600))))
        let done = r.hookFinished(.postTraffic, succeeded: true, at: now + .seconds(30))
        #expect(done.finishStatus == .succeeded)
        #expect(r.hookVerdicts == [.preTraffic: .succeeded, .postTraffic: .succeeded])
        #expect(r.reason.contains("PostTraffic hook succeeded"))
    }

    @Test func allAtOnceGoesStraightTo100() {
        var r = Rollout(configuration: config("AllAtOnce"))
        #expect(r.start(at: at(0)).prefix(1) == [weight(1)])
        #expect(r.status == .succeeded)
    }

    @Test func failedPreTrafficHookFailsWithAliasUntouched() {
        var r = Rollout(configuration: config("Canary10Percent5Minutes", hooks: [.preTraffic]))
        var actions = r.start(at: at(0))
        actions += r.hookFinished(.preTraffic, succeeded: false, at: at(2))
        #expect(!actions.hasWeightAction)
        #expect(!actions.hasRollBack)
        #expect(actions.last == .finish(status: .failed, reason: r.reason))
        #expect(r.reason.contains("PreTraffic hook reported Failed"))
        #expect(r.hookVerdicts[.preTraffic] == .failed)
        #expect(r.timerFired(at: at(100)).isEmpty)
    }

    @Test func silentPreTrafficHookTimesOutAfterOneHour() {
        var r = Rollout(configuration: config("Canary10Percent5Minutes", hooks: [.preTraffic]))
        var actions = r.start(at: at(0))
        #expect(r.timerFired(at: at(59, 59)) == [.wake(at: at(60))])
        actions += r.timerFired(at: at(60))
        #expect(!actions.hasWeightAction)
        #expect(r.status == .failed)
        #expect(r.hookVerdicts[.preTraffic] == .timedOut)
        #expect(r.reason.contains("PreTraffic hook did not report"))
        #expect(r.reason.contains("PutLifecycleEventHookExecutionStatus within 60 min"))
        // A report arriving afterwards is ignored.
        #expect(r.hookFinished(.preTraffic, succeeded: true, at: at(61)).isEmpty)
    }

    @Test func customHookTimeoutIsHonoured() {
        var c = config("AllAtOnce", hooks: [.preTraffic])
        c.hookTimeout = .seconds(90)
        var r = Rollout(configuration: c)
        #expect(r.start(at: at(0)) == [.invokeHook(.preTraffic, deadline: at(1, 30)), .wake(at: at(1, 30))])
        _ = r.timerFired(at: at(1, 30))
        #expect(r.reason.contains("within 90 s"))
    }

    @Test func lateReportCountsAsTimeout() {
        var r = Rollout(configuration: config("AllAtOnce", hooks: [.preTraffic]))
        _ = r.start(at: at(0))
        let actions = r.hookFinished(.preTraffic, succeeded: true, at: at(60, 1))
        #expect(actions.finishStatus == .failed)
        #expect(r.hookVerdicts[.preTraffic] == .timedOut)
    }

    @Test func failedPostTrafficHookRollsBack() {
        var r = Rollout(configuration: config("AllAtOnce", hooks: [.postTraffic]))
        #expect(r.start(at: at(0)) == [weight(1), .invokeHook(.postTraffic, deadline: at(60)), .wake(at: at(60))])
        #expect(r.status == .baking)
        let actions = r.hookFinished(.postTraffic, succeeded: false, at: at(3))
        #expect(actions == [.rollBack(reason: r.reason), .finish(status: .failed, reason: r.reason)])
        #expect(r.weight == 0)
        #expect(r.phase == .finished(status: .failed, reason: r.reason, at: at(3), rolledBack: true))
    }

    @Test func silentPostTrafficHookRollsBack() {
        var r = Rollout(configuration: config("AllAtOnce", hooks: [.postTraffic]))
        _ = r.start(at: at(0))
        let actions = r.timerFired(at: at(60))
        #expect(actions.hasRollBack)
        #expect(actions.finishStatus == .failed)
        #expect(r.reason.contains("PostTraffic hook did not report"))
    }

    @Test func hookReportsForTheWrongHookAreIgnored() {
        var r = Rollout(configuration: config("Canary10Percent5Minutes", hooks: [.preTraffic, .postTraffic]))
        #expect(r.hookFinished(.preTraffic, succeeded: true, at: at(0)).isEmpty)  // before start
        _ = r.start(at: at(0))
        #expect(r.hookFinished(.postTraffic, succeeded: true, at: at(1)).isEmpty)
        _ = r.hookFinished(.preTraffic, succeeded: true, at: at(1))
        #expect(r.hookFinished(.preTraffic, succeeded: false, at: at(2)).isEmpty)  // duplicate
        #expect(r.status == .inProgress)
        #expect(r.start(at: at(2)).isEmpty)  // second start
    }

    @Test func bakeTimeKeeps100PercentUnderWatch() {
        var r = Rollout(configuration: config("AllAtOnce", hooks: [.postTraffic], bake: .seconds(600)))
        _ = r.start(at: at(0))
        #expect(r.hookFinished(.postTraffic, succeeded: true, at: at(2)) == [.wake(at: at(10))])
        #expect(r.status == .baking)
        #expect(r.timerFired(at: at(9)) == [.wake(at: at(10))])
        let alarmed = r.alarmChanged("errors", to: .alarm, at: at(9, 30))
        #expect(alarmed.hasRollBack)
        #expect(r.status == .failed)
    }
}

struct RolloutAlarmAndAbortTests {
    @Test func alarmBeforeStartFailsWithoutTouchingTheAlias() {
        var r = Rollout(configuration: config("Canary10Percent5Minutes"))
        let actions = r.alarmChanged("errors", to: .alarm, reason: "Threshold Crossed", at: at(0))
        #expect(actions == [.finish(status: .failed, reason: r.reason)])
        #expect(r.reason == "alarm 'errors' is in ALARM at \(at(0)) (Threshold Crossed); alias left unchanged")
        #expect(r.start(at: at(1)).isEmpty)
        #expect(r.alarmStates == ["errors": .alarm])
    }

    @Test func okAndInsufficientDataAreRecordedButHarmless() {
        var r = Rollout(configuration: config("Canary10Percent5Minutes"))
        _ = r.start(at: at(0))
        #expect(r.alarmChanged("a", to: .insufficientData, at: at(1)).isEmpty)
        #expect(r.alarmChanged("a", to: .ok, at: at(2)).isEmpty)
        #expect(r.alarmStates == ["a": .ok])
        #expect(r.status == .inProgress)
    }

    @Test func alarmDuringPreTrafficFailsWithoutRollback() {
        var r = Rollout(configuration: config("Canary10Percent5Minutes", hooks: [.preTraffic]))
        _ = r.start(at: at(0))
        let actions = r.alarmChanged("a", to: .alarm, at: at(1))
        #expect(actions == [.finish(status: .failed, reason: r.reason)])
    }

    @Test(arguments: 0..<10)
    func alarmAtEachLinearStepRollsBackAtOnce(step: Int) {
        var r = Rollout(configuration: config("Linear10PercentEvery1Minute", hooks: [.postTraffic]))
        _ = r.start(at: at(0))
        for minute in 0..<step { _ = r.timerFired(at: at(Int64(minute + 1))) }
        #expect(r.weight == Double(step + 1) / 10)
        let actions = r.alarmChanged("a", to: .alarm, at: at(Int64(step), 30))
        #expect(actions == [.rollBack(reason: r.reason), .finish(status: .failed, reason: r.reason)])
        #expect(r.reason.hasSuffix("rolled back to the previous version"))
        #expect(r.weight == 0)
        #expect(r.timerFired(at: at(100)).isEmpty)
        #expect(r.alarmChanged("a", to: .ok, at: at(101)).isEmpty)
    }

    @Test func abortBeforeStartAndDuringPreTrafficStopsWithoutRollback() {
        var r = Rollout(configuration: config("Canary10Percent5Minutes", hooks: [.preTraffic]))
        #expect(r.abort(reason: "user", at: at(0)) == [.finish(status: .stopped, reason: "stopped: user; alias left unchanged")])
        var s = Rollout(configuration: config("Canary10Percent5Minutes", hooks: [.preTraffic]))
        _ = s.start(at: at(0))
        #expect(s.abort(reason: "ctrl-c", at: at(1)).finishStatus == .stopped)
        #expect(!s.abort(reason: "again", at: at(2)).hasRollBack)
    }

    @Test func abortDuringTrafficAndBakingRollsBack() {
        var r = Rollout(configuration: config("Canary10Percent5Minutes", hooks: [.postTraffic]))
        _ = r.start(at: at(0))
        let a = r.abort(reason: "user", at: at(1))
        #expect(a == [.rollBack(reason: "stopped: user; rolled back to the previous version"),
                      .finish(status: .stopped, reason: "stopped: user; rolled back to the previous version")])
        var s = Rollout(configuration: config("Canary10Percent5Minutes", hooks: [.postTraffic]))
        _ = s.start(at: at(0))
        _ = s.timerFired(at: at(5))
        #expect(s.status == .baking)
        #expect(s.abort(reason: "user", at: at(6)).hasRollBack)
        #expect(s.status == .stopped)
        #expect(s.abort(reason: "twice", at: at(7)).isEmpty)
    }

    @Test func nothingHappensAfterSuccess() {
        var r = Rollout(configuration: config("AllAtOnce"))
        _ = r.start(at: at(0))
        #expect(r.alarmChanged("a", to: .alarm, at: at(1)).isEmpty)
        #expect(r.abort(reason: "late", at: at(1)).isEmpty)
        #expect(r.status == .succeeded)
    }
}

struct RolloutPersistenceTests {
    func roundTrip(_ r: Rollout) throws -> Rollout {
        try JSONDecoder().decode(Rollout.self, from: JSONEncoder().encode(r))
    }

    @Test func restoredMidwayFiresTheOverdueStepAndHoldsItFully() throws {
        var r = Rollout(configuration: config("Linear10PercentEvery10Minutes", hooks: [.preTraffic]))
        _ = r.start(at: at(0))
        _ = r.hookFinished(.preTraffic, succeeded: true, at: at(1))
        _ = r.timerFired(at: at(11))
        _ = r.timerFired(at: at(21))   // 30 % since minute 21, next at 31
        var restored = try roundTrip(r)
        #expect(restored == r)
        #expect(restored.startedAt == at(0))
        #expect(restored.hookVerdicts == [.preTraffic: .succeeded])
        // The process was down from minute 25 to 47: the step due at 31 fires now, the next waits 10 minutes.
        #expect(restored.resume(at: at(47)) == [weight(0.4), .wake(at: at(57))])
        #expect(restored.phase == .allowTraffic(pointIndex: 3, percent: 40, since: at(47), nextShiftAt: at(57)))
    }

    @Test func restoredBeforeTheStepIsDueReassertsTheWeight() throws {
        var r = Rollout(configuration: config("Canary10Percent30Minutes"))
        _ = r.start(at: at(0))
        var restored = try roundTrip(r)
        #expect(restored.resume(at: at(12)) == [weight(0.1), .wake(at: at(30))])
    }

    @Test func restoredDuringPreTrafficWaitsForTheSameDeadlineOrTimesOut() throws {
        var r = Rollout(configuration: config("AllAtOnce", hooks: [.preTraffic]))
        _ = r.start(at: at(0))
        var early = try roundTrip(r)
        #expect(early.resume(at: at(10)) == [.wake(at: at(60))])
        var late = try roundTrip(r)
        let actions = late.resume(at: at(61))
        #expect(actions.finishStatus == .failed)
        #expect(!actions.hasWeightAction)
    }

    @Test func restoredAfterRollbackReassertsIt() throws {
        var r = Rollout(configuration: config("Canary10Percent5Minutes"))
        _ = r.start(at: at(0))
        _ = r.alarmChanged("a", to: .alarm, at: at(1))
        var restored = try roundTrip(r)
        #expect(restored.resume(at: at(9)) == [.rollBack(reason: r.reason), .finish(status: .failed, reason: r.reason)])
        var created = Rollout(configuration: config("AllAtOnce"))
        #expect(created.resume(at: at(0)).isEmpty)
    }

    @Test func persistedFormIsReadableJSON() throws {
        var r = Rollout(configuration: config("Canary10Percent5Minutes"))
        _ = r.start(at: at(0))
        let json = String(decoding: try JSONEncoder().encode(r), as: UTF8.self)
        #expect(json.contains("\"allowTraffic\""))
        #expect(json.contains("\"pointIndex\":0"))
    }
}

struct RolloutPromoteAndInstantTests {
    @Test func promoteSkipsTheRemainingWaitsButKeepsThePostTrafficHook() {
        var r = Rollout(configuration: config("Linear10PercentEvery10Minutes", hooks: [.preTraffic, .postTraffic]))
        _ = r.start(at: at(0))
        #expect(r.promote(at: at(1)).isEmpty)   // BeforeAllowTraffic: the hook still decides
        _ = r.hookFinished(.preTraffic, succeeded: true, at: at(1))
        #expect(r.promote(at: at(2)) == [weight(1), .invokeHook(.postTraffic, deadline: at(62)), .wake(at: at(62))])
        #expect(r.status == .baking)
        #expect(r.promote(at: at(3)).isEmpty)
    }

    @Test func instantsPrintAsUTC() {
        #expect(Instant.zero.description == "1970-01-01T00:00:00.000Z")
        #expect(Instant(millisecondsSinceEpoch: 1_764_079_500_123).description == "2025-11-25T14:05:00.123Z")
        #expect(Instant(millisecondsSinceEpoch: 951_782_400_000).description == "2000-02-29T00:00:00.000Z")
        #expect(Instant(millisecondsSinceEpoch: -1000).description == "1969-12-31T23:59:59.000Z")
        #expect(Instant.minutes(1).minuteIndex == 1)
        #expect(Instant(millisecondsSinceEpoch: -1).minuteIndex == -1)
    }

    @Test func errorsAndExpressionsRoundTripThroughJSON() throws {
        let e = RolloutError(.unknownStrategy, "x")
        #expect(try JSONDecoder().decode(RolloutError.self, from: JSONEncoder().encode(e)) == e)
        let x = try MetricExpression("IF(m2 > 0, m1 / m2 * 100, 0)")
        #expect(try JSONDecoder().decode(MetricExpression.self, from: JSONEncoder().encode(x)) == x)
    }
}
