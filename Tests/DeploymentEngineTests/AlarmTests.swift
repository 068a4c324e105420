import DeploymentEngine
import Rollout
import Testing

@Suite("Deployer on the local target: alarms and aborts", .serialized, .enabled(if: Python.available, "needs python3"))
struct AlarmTests {
    static let linear = "Linear10PercentEvery1Minute"

    /// Linear10PercentEvery1Minute has 10 points; at the last (100 %) the deployment ends at once, so an
    /// alarm can catch it at the first nine.
    @Test(arguments: 0..<9)
    func alarmDuringALinearStepRollsBack(step: Int) async throws {
        try await AppFixture.with { app in
            try await app.withSession { session in
                _ = try await session.deploy(app.releases("good1"))
                let deployment = session.startDeploy(app.releases("broken"), session.request(strategy: Self.linear))
                try await session.drive(until: "step \(step)") { $0.shifts().count == step + 1 }
                let stepAt = session.now
                // Errors of the new version, invoked directly: the alarm's dimensions (FunctionName, ExecutedVersion) count them.
                let response = try await session.invoke(qualifier: "2")
                #expect(response.functionError != nil && response.executedVersion == "2")
                try await session.driveToEnd(atMost: .seconds(120))
                let outcome = try await deployment.value

                let entries = session.log.entries
                let events = entries.map(\.event)
                let schedule = try TrafficSchedule(named: Self.linear)
                #expect(events.shifts() == Array(expectedWeights(schedule).prefix(step + 1)), "never past step \(step)")
                let alarmAt = try #require(entries.first { if case .alarmChanged(_, _, .alarm, _) = $0.event { true } else { false } }?.at)
                // Caught once the minute of the errors is complete, before the step's minute is over.
                #expect(alarmAt > stepAt && alarmAt < stepAt + .seconds(60), "alarm at \(alarmAt), step at \(stepAt)")
                let rolledBack = try #require(events.rolledBack())
                #expect(rolledBack.version == "1" && rolledBack.reason.contains("FnErrors"), "\(rolledBack.reason)")
                let finished = try #require(events.finished())
                #expect(finished.status == .failed && finished.version == "1")
                #expect(finished.reason.contains("alarm 'FnErrors' is in ALARM"), "\(finished.reason)")
                #expect(outcome.results.map(\.status) == [.failed])
                #expect(try await session.routing() == AliasRouting(primary: "1"))
                #expect(try await session.target.deployments(of: .live, limit: 1).first?.status == .failed)
            }
        }
    }

    @Test func abortMidCanaryStopsAndRollsBack() async throws {
        try await AppFixture.with { app in
            try await app.withSession { session in
                _ = try await session.deploy(app.releases("good1"))
                let deployment = session.startDeploy(app.releases("good2"), session.request(strategy: "Canary10Percent5Minutes"))
                try await session.drive(until: "the canary step, a minute in") { $0.shifts().count == 1 }
                try await session.driver.advance(by: .seconds(60))
                session.send(.abort(reason: "interrupted by signal 2"))
                try await session.log.waitFor("the deployment to stop") { $0.finished() != nil }
                let outcome = try await deployment.value

                let events = session.log.events
                #expect(events.shifts() == [["1": 0.9, "2": 0.1]])
                let rolledBack = try #require(events.rolledBack())
                #expect(rolledBack.version == "1")
                let finished = try #require(events.finished())
                #expect(finished.status == .stopped && finished.version == "1")
                #expect(finished.reason.contains("interrupted by signal 2") && finished.reason.contains("rolled back"), "\(finished.reason)")
                #expect(outcome.results.map(\.status) == [.stopped])
                #expect(try await session.routing() == AliasRouting(primary: "1"))
                #expect(try await session.target.deployments(of: .live, limit: 1).first?.status == .stopped)
            }
        }
    }

    @Test func abortWhileThePreTrafficHookIsPendingStopsWithoutTouchingTheAlias() async throws {
        try await AppFixture.with([.init(name: "Fn", preTraffic: true)]) { app in
            try app.setHook("FnPreTrafficHook", .silent)
            try await app.withSession { session in
                _ = try await session.deploy(app.releases("good1"))
                let deployment = session.startDeploy(app.releases("good2"), session.request(strategy: "Canary10Percent5Minutes"))
                try await session.log.waitFor("the PreTraffic hook to start") { !$0.hookStarts().isEmpty }
                session.send(.abort(reason: "interrupted by signal 15"))
                try await session.log.waitFor("the deployment to stop") { $0.finished() != nil }
                let outcome = try await deployment.value

                let events = session.log.events
                #expect(events.shifts().isEmpty && events.rolledBack() == nil)
                let finished = try #require(events.finished())
                #expect(finished.status == .stopped && finished.reason.contains("alias left unchanged"), "\(finished.reason)")
                #expect(outcome.results.map(\.status) == [.stopped])
                #expect(try await session.routing() == AliasRouting(primary: "1"))
            }
        }
    }

    /// Each `shift deploy` is a process of its own: a new target on the same state directory, with the time base going on.
    @Test func failedDeploymentThenHealthyOneOnTheSameStateAndClock() async throws {
        try await AppFixture.with { app in
            let (clock, firstId) = try await app.withSession { session in
                _ = try await session.deploy(app.releases("good1"))
                let faulty = session.startDeploy(app.releases("broken"), session.request(strategy: "Canary10Percent5Minutes"))
                try await session.drive(until: "the canary step") { $0.shifts().count == 1 }
                try await session.invoke(qualifier: "2")
                try await session.driveToEnd()
                #expect(try await faulty.value.results.map(\.status) == [.failed])
                #expect(try await session.routing() == AliasRouting(primary: "1"))
                return (session.clock, try #require(session.log.events.finished()?.deploymentId))
            }
            try await app.withSession(clock: clock) { session in
                let healthy = session.startDeploy(app.releases("good2"), session.request(strategy: "Canary10Percent5Minutes"))
                try await session.driveToEnd()
                let outcome = try await healthy.value

                let events = session.log.events
                let started = try #require(events.started())
                // The faulty version stays published; the healthy code is the next one.
                #expect(started.from == "1" && started.to == "3" && !started.resumed && started.deploymentId != firstId)
                #expect(events.shifts() == [["1": 0.9, "3": 0.1], ["3": 1]])
                #expect(!events.alarmStates().contains(.alarm), "version 2's errors must not judge version 3")
                #expect(events.finished()?.status == .succeeded)
                #expect(outcome.succeeded)
                #expect(try await session.routing() == AliasRouting(primary: "3"))
                let history = try await session.target.deployments(of: .live, limit: 10)
                #expect(history.map(\.status) == [.succeeded, .failed])
            }
        }
    }

    /// One target serving two deployments one after the other (a long-lived host, `shift serve` deploying).
    @Test
    func twoDeploymentsWithHooksOnOneTarget() async throws {
        try await AppFixture.with([.init(name: "Fn", preTraffic: true)]) { app in
            try await app.withSession { session in
                _ = try await session.deploy(app.releases("good1"))
                for (release, version) in [("good2", "2"), ("good3", "3")] {
                    let mark = session.log.events.count
                    let deployment = session.startDeploy(app.releases(release), session.request(strategy: "Canary10Percent5Minutes"))
                    try await session.driveToEnd()
                    #expect(try await deployment.value.succeeded)
                    #expect(Array(session.log.events.dropFirst(mark)).hookResults().map(\.succeeded) == [true])
                    #expect(try await session.routing() == AliasRouting(primary: version))
                }
            }
        }
    }
}
