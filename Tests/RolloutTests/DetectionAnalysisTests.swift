import Foundation
import Testing
@testable import Rollout

/// The dry run's detection analysis: what each alarm can see inside the step it guards, and what the plan catches.
@Suite struct DetectionAnalysisTests {
    static let identity = AliasIdentity(functionName: "greeter", alias: "live", oldVersion: "1")
    static let alias = ["FunctionName": "greeter", "Resource": "greeter:live"]
    static let newVersion = ["FunctionName": "greeter", "Resource": "greeter:live", "ExecutedVersion": "2"]

    static func stat(_ metric: String, _ dimensions: [String: String], namespace: String = "AWS/Lambda", period: Int = 60) -> MetricStat {
        MetricStat(metric: MetricIdentity(namespace: namespace, metricName: metric, dimensions: dimensions), period: period, statistic: .sum)
    }

    /// `Errors / Invocations × 100` above `percent`, as users write an error-rate alarm.
    static func errorRate(_ name: String, above percent: Double, _ dimensions: [String: String]) -> AlarmDefinition {
        AlarmDefinition(name: name, metric: .metricMath([
            .metric("errors", stat("Errors", dimensions)), .metric("invocations", stat("Invocations", dimensions)),
            .expression("rate", "IF(invocations > 0, errors / invocations * 100, 0)"),
        ]), evaluationPeriods: 1, threshold: percent, comparisonOperator: .greaterThanThreshold, treatMissingData: .notBreaching)
    }

    /// Any error of the new version, per minute: the usual SAM rollback alarm, scoped to the version.
    static let anyError = AlarmDefinition(name: "NewVersionErrors", metric: .metric(stat("Errors", newVersion)), evaluationPeriods: 1,
                                          threshold: 0, comparisonOperator: .greaterThanThreshold, treatMissingData: .notBreaching)

    static func plan(_ strategy: String = "Canary10Percent5Minutes", judgement: JudgementSettings? = nil) -> RolloutConfiguration {
        RolloutConfiguration(newVersion: "2", schedule: try! TrafficSchedule(named: strategy), judgement: judgement)
    }

    static func analyze(_ alarms: [AlarmDefinition], _ configuration: RolloutConfiguration = plan(),
                        options: DetectionAnalysis.Options = .init(rate: 20)) throws(RolloutError) -> DetectionAnalysis {
        try DetectionAnalysis.analyze(configuration: configuration, identity: identity, alarms: alarms, options: options)
    }

    @Test func anAliasWideErrorRateAlarmIsDilutedByTheCanaryWeight() throws {
        let analysis = try Self.analyze([Self.errorRate("AliasErrorRate", above: 5, Self.alias)])
        #expect(analysis.alarms.map(\.scope) == [.bothVersions])
        let finding = try #require(analysis.warnings.first { $0.code == .diluted })
        // At 10 % the alias's rate is a tenth of the new version's: it reaches 5 % when the new version fails 50 %.
        #expect(finding.message.contains("at 10 % version 2 would have to fail more than 50 % of its calls"), "\(finding.message)")
        #expect(finding.message.contains("against 5 % if it watched only the new version"))
        #expect(finding.message.contains("`ExecutedVersion` with `!GetAtt greeter.Version.Version`"))
        let caught = try #require(analysis.alarmsOnly.smallestCaughtIncrease)
        #expect(caught >= 0.5, "caught from \(caught)")
        #expect(analysis.alarmsOnly.blastRadius.caughtShare < 0.05)
    }

    @Test func fifteenMinutesOfPeriodsCannotFireInsideAFiveMinuteCanary() throws {
        let slow = AlarmDefinition(name: "SlowErrors", metric: .metric(Self.stat("Errors", Self.newVersion, period: 300)), evaluationPeriods: 3,
                                   threshold: 0, comparisonOperator: .greaterThanThreshold, treatMissingData: .notBreaching)
        let analysis = try Self.analyze([slow])
        #expect(analysis.warnings.map(\.code) == [.tooSlowForStep])
        let message = analysis.warnings[0].message
        #expect(message.contains("cannot go to ALARM inside the canary step (10 % for 5 min)"), "\(message)")
        #expect(message.contains("DatapointsToAlarm 3 × Period 300 = 15 min"))
        #expect(message.hasSuffix("use Period 60"))
        #expect(analysis.alarmsOnly.smallestCaughtIncrease == nil)
    }

    @Test func aVersionScopedErrorsAlarmIsNotFlaggedAndCatchesFivePercent() throws {
        let analysis = try Self.analyze([Self.anyError, Self.errorRate("NewVersionErrorRate", above: 5, Self.newVersion)])
        #expect(analysis.alarms.map(\.scope) == [.newVersion, .newVersion])
        #expect(analysis.warnings.isEmpty, "\(analysis.warnings.map(\.message))")
        let caught = try #require(analysis.alarmsOnly.smallestCaughtIncrease)
        #expect(caught <= 0.05)
        let blast = analysis.alarmsOnly.blastRadius
        #expect(blast.newErrorRate == 0.05)
        #expect(blast.caughtShare >= 0.95)
        // 120 calls a minute reach the canary; at 5 % the first minute's errors fire the alarm.
        #expect(blast.meanFailedCalls < 20, "\(blast)")
        #expect(try #require(blast.meanMinutesToRollback) < 2)
        #expect(analysis.alarmsOnly.falseRollbackShare == 0)
    }

    @Test func judgementCatchesSmallerRegressionsThanADilutedAlarm() throws {
        let analysis = try Self.analyze([Self.errorRate("AliasErrorRate", above: 5, Self.alias)])
        #expect(!analysis.judgementConfigured)
        #expect(analysis.judgement == JudgementSettings())
        let alone = try #require(analysis.alarmsOnly.smallestCaughtIncrease)
        let judged = try #require(analysis.withJudgement.smallestCaughtIncrease)
        #expect(judged < alone)
        #expect(judged <= 0.03)
        #expect(analysis.withJudgement.blastRadius.caughtShare >= 0.95)
        #expect(analysis.withJudgement.falseRollbackShare <= 0.05)
    }

    @Test func theSameSeedGivesTheSameAnalysis() throws {
        let alarms = [Self.errorRate("AliasErrorRate", above: 5, Self.alias), Self.anyError]
        let options = DetectionAnalysis.Options(rate: 5, baselineErrorRate: 0.01, runs: 100, seed: 7)
        let first = try Self.analyze(alarms, Self.plan("Linear10PercentEvery1Minute"), options: options)
        let second = try Self.analyze(alarms, Self.plan("Linear10PercentEvery1Minute"), options: options)
        #expect(first == second)
        #expect(try JSONDecoder().decode(DetectionAnalysis.self, from: JSONEncoder().encode(first)) == first)
    }

    @Test func onePlanIsAnalyzedWellWithinABoundGenerousForCI() throws {
        let start = ContinuousClock.now
        _ = try Self.analyze([Self.errorRate("AliasErrorRate", above: 5, Self.alias), Self.anyError])
        let elapsed = ContinuousClock.now - start
        #expect(elapsed < .seconds(2), "\(elapsed)")
    }

    @Test func alarmsThatCannotSeeTheNewVersionSayWhatToChange() throws {
        let custom = AlarmDefinition(name: "CheckoutFailures", metric: .metric(Self.stat("Failures", [:], namespace: "Shop")), evaluationPeriods: 1,
                                     threshold: 0, comparisonOperator: .greaterThanThreshold)
        let stale = AlarmDefinition(name: "StaleVersion", metric: .metric(Self.stat("Errors", ["FunctionName": "greeter", "ExecutedVersion": "7"])),
                                    evaluationPeriods: 1, threshold: 0, comparisonOperator: .greaterThanThreshold)
        let otherFunction = AlarmDefinition(name: "Counter", metric: .metric(Self.stat("Errors", ["FunctionName": "counter"])),
                                            evaluationPeriods: 1, threshold: 0, comparisonOperator: .greaterThanThreshold)
        let old = AlarmDefinition(name: "OldVersion", metric: .metric(Self.stat("Errors", ["FunctionName": "greeter", "ExecutedVersion": "1"])),
                                  evaluationPeriods: 1, threshold: 0, comparisonOperator: .greaterThanThreshold)
        let analysis = try Self.analyze([custom, stale, otherFunction, old])
        #expect(analysis.alarms.map(\.scope) == [.notSimulated, .noCalls, .noCalls, .oldVersion])
        #expect(analysis.alarms.map(\.simulated) == [false, true, true, true])
        #expect(analysis.warnings.map(\.code) == [.notSimulated, .watchesNoCalls, .watchesNoCalls, .watchesOldVersionOnly])
        let messages = analysis.warnings.map(\.message)
        #expect(messages[0].contains("it watches Shop/Failures, a metric the simulation does not synthesize"))
        #expect(messages[1].contains("ExecutedVersion=7 is neither the new version (2) nor the old one (1)"))
        #expect(messages[2].contains("FunctionName=counter is not the function greeter"))
        #expect(messages[3].contains("it cannot see version 2's errors"))
        #expect(messages.dropFirst().allSatisfy { $0.contains("!GetAtt greeter.Version.Version") })
        // Nothing the runs evaluate can fire on the new version.
        #expect(analysis.alarmsOnly.smallestCaughtIncrease == nil)
    }

    @Test func missingDataTreatedAsBreachingFailsEveryDeploymentBeforeTraffic() throws {
        var alarm = Self.anyError
        alarm.treatMissingData = .breaching
        let analysis = try Self.analyze([alarm])
        #expect(analysis.warnings.map(\.code) == [.missingDataBreaching])
        #expect(analysis.alarmsOnly.falseRollbackShare == 1)
        #expect(analysis.alarmsOnly.blastRadius.meanFailedCalls == 0)
        // As in the engine: the alarm fails the deployment before it starts, so the alias is never touched.
        let simulation = RolloutSimulation(configuration: Self.plan(), rate: 20, identity: Self.identity, alarms: [alarm])
        let outcome = simulation.run(seed: 1, oldErrorRate: 0, newErrorRate: 0)
        #expect(outcome.status == .failed)
        #expect(outcome.alarm == "NewVersionErrors")
        #expect(outcome.peakWeight == 0 && outcome.weightAtRollback == nil && outcome.newCalls == 0)
        #expect(outcome.reason.hasSuffix("; alias left unchanged"))
    }

    @Test func thresholdsOutOfReachAndOldErrorsAreFlagged() throws {
        let tooMany = AlarmDefinition(name: "ManyErrors", metric: .metric(Self.stat("Errors", Self.newVersion)), evaluationPeriods: 1,
                                      threshold: 500, comparisonOperator: .greaterThanThreshold, treatMissingData: .notBreaching)
        var aliasErrors = Self.anyError
        aliasErrors.name = "AliasErrors"
        aliasErrors.metric = .metric(Self.stat("Errors", Self.alias))
        let analysis = try Self.analyze([tooMany, aliasErrors], options: .init(rate: 20, baselineErrorRate: 0.01))
        #expect(analysis.warnings.map(\.code) == [.unreachableThreshold, .breachesWithoutRegression])
        #expect(analysis.warnings[0].message.contains("version 2 serves about 120 calls a minute"), "\(analysis.warnings[0].message)")
        #expect(analysis.warnings[1].message.contains("would roll back a version as good as the old one"))
        #expect(analysis.alarmsOnly.falseRollbackShare > 0.9)
    }

    @Test func fewCallsPerPeriodAreFlagged() throws {
        let analysis = try Self.analyze([Self.anyError], options: .init(rate: 0.1, runs: 50))
        #expect(analysis.warnings.map(\.code) == [.sparseData])
        #expect(analysis.warnings[0].message.contains("version 2 serves about 0.6 calls per 60-s period and 55 % of periods have none"),
                "\(analysis.warnings[0].message)")
    }

    @Test func optionsOutOfRangeAreRefusedNamingThem() {
        for (options, flag) in [(DetectionAnalysis.Options(rate: 0), "--expected-rate"), (.init(rate: .nan), "--rate"),
                                (.init(rate: 1, assumedErrorRate: 0), "--assume-error-rate"), (.init(rate: 1, assumedErrorRate: 1.5), "--assume-error-rate"),
                                (.init(rate: 1, baselineErrorRate: -0.1), "0...1"), (.init(rate: 1, runs: 0), "runs"),
                                (.init(rate: 1, evaluationInterval: .zero), "at least a second")] {
            do throws(RolloutError) {
                _ = try Self.analyze([], options: options)
                Issue.record("\(options) was accepted")
            } catch {
                #expect(error.code == .invalidFlag)
                #expect(error.message.contains(flag), "\(error.message)")
            }
        }
    }

    // MARK: The simulation's alarms, as the engine evaluates them

    @Test func aVersionScopedAlarmRollsBackTheCanaryAndCountsWhatFailedFirst() {
        let simulation = RolloutSimulation(configuration: Self.plan(), rate: 20, identity: Self.identity, alarms: [Self.anyError])
        let outcomes = (0..<100).map { simulation.run(seed: UInt64($0), oldErrorRate: 0, newErrorRate: 0.25) }
        #expect(outcomes.allSatisfy { $0.caughtBeforeFullTraffic && $0.alarm == "NewVersionErrors" && $0.weightAtRollback == 0.1 })
        // The first complete minute after the shift holds errors; it is evaluated within 10 s of its end.
        #expect(outcomes.allSatisfy { $0.endedAfter <= .seconds(130) }, "\(outcomes.map(\.endedAfter).max()!)")
        #expect(outcomes.allSatisfy { $0.newErrors > 0 && $0.newErrors <= $0.newCalls })
        // A good version goes to 100 %.
        let good = simulation.run(seed: 1, oldErrorRate: 0, newErrorRate: 0)
        #expect(good.status == .succeeded && good.peakWeight == 1 && good.alarm == nil)
    }

    @Test func nonsenseInputsEndARunInsteadOfCrashingOrHanging() {
        let simulation = RolloutSimulation(configuration: Self.plan(), rate: .infinity, identity: Self.identity, alarms: [Self.anyError],
                                           evaluationInterval: .zero)
        let outcome = simulation.run(seed: 1, oldErrorRate: .nan, newErrorRate: -1)
        #expect(outcome.status == .succeeded && outcome.newCalls == 0)
    }

    @Test func expectedTrafficFindsTheMinuteAnAliasWideAlarmCanFire() {
        // Starting on a minute boundary, the new version's first minute is whole: 10 % of calls failing all → 10 % > 5 %.
        let alarm = Self.errorRate("AliasErrorRate", above: 5, Self.alias)
        let simulation = RolloutSimulation(configuration: Self.plan(), rate: 20, identity: Self.identity, alarms: [alarm])
        let onTheMinute = simulation.runExpected(startSecond: 0, oldErrorRate: 0, newErrorRate: 1)
        #expect(onTheMinute.endedAfter == .seconds(60))
        #expect(onTheMinute.newCalls == 120 && onTheMinute.newErrors == 120)
        // Starting at second 50, the first minute holds 50 s of the old version alone (before the deployment, not clipped):
        // 20 new calls failing among 1,200 is 1.7 %; the next minute is the first over 5 %.
        let late = simulation.runExpected(startSecond: 50, oldErrorRate: 0, newErrorRate: 1)
        #expect(late.endedAfter == .seconds(70))
    }
}
