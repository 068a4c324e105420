import DeploymentEngine
import Rollout
import Testing

/// A deployment killed mid-way (nothing more written), then `shift deploy` again in a new process (a new
/// target on the same state directory, later in time).
@Suite("Deployer on the local target: kill and resume", .serialized, .enabled(if: Python.available, "needs python3"))
struct ResumeTests {
    /// What the first process left behind.
    struct Killed {
        var deploymentId: String
        /// The schedule time at the kill.
        var at: Instant
        var shifts: [[String: Double]]
        var hookExecutions: [String]
        var hookDeadlines: [Instant]
    }

    /// Deploys `good1` then starts `good2` with `strategy`, kills it once `killWhen` holds, and closes the target.
    func deployAndKill(_ app: AppFixture, strategy: String, killWhen: @escaping @Sendable ([DeploymentEvent]) -> Bool,
                       thenWait extra: Duration = .zero) async throws -> Killed {
        try await app.withSession { session in
            _ = try await session.deploy(app.releases("good1"))
            let deployment = session.startDeploy(app.releases("good2"), session.request(strategy: strategy), killable: true)
            try await session.drive(until: "the point to kill at", killWhen)
            try await session.driver.advance(by: extra)
            let at = session.now
            try await session.kill(deployment)
            let events = session.log.events
            let started = try #require(events.started())
            // The journal says the deployment never ended.
            let unfinished = try await session.target.unfinishedDeployments(of: .live)
            #expect(unfinished.map(\.id) == [started.deploymentId])
            return Killed(deploymentId: started.deploymentId, at: at, shifts: events.shifts(), hookExecutions: events.hookStarts().map(\.executionId),
                          hookDeadlines: events.hookDeadlines())
        }
    }

    @Test func killedWhileThePreTrafficHookIsPendingResumesAndReinvokesIt() async throws {
        try await AppFixture.with([.init(name: "Fn", preTraffic: true)]) { app in
            try app.setHook("FnPreTrafficHook", .silent)
            let killed = try await deployAndKill(app, strategy: "Canary10Percent5Minutes", killWhen: { !$0.hookStarts().isEmpty })
            #expect(killed.shifts.isEmpty && killed.hookExecutions.count == 1)

            try app.setHook("FnPreTrafficHook", .succeeded)
            // Ten minutes later: within the hook's one-hour deadline.
            try await app.withSession(start: killed.at.millisecondsSinceEpoch + 600_000) { session in
                #expect(try await session.routing() == AliasRouting(primary: "1"), "the alias was never touched")
                let deployment = session.startDeploy(app.releases("good2"), session.request(strategy: "Canary10Percent5Minutes"))
                try await session.driveToEnd()
                let outcome = try await deployment.value

                let events = session.log.events
                let started = try #require(events.started())
                #expect(started.resumed && started.deploymentId == killed.deploymentId && started.from == "1" && started.to == "2")
                #expect(!events.contains { if case .versionPublished(_, _, _, true) = $0 { true } else { false } }, "nothing new is published")
                // The hook the killed process waited for runs again with the same execution id.
                #expect(events.hookStarts().map(\.executionId) == killed.hookExecutions)
                #expect(events.hookDeadlines() == killed.hookDeadlines, "the deadline is the one set when the hook was first invoked")
                #expect(events.hookResults().map(\.succeeded) == [true])
                #expect(events.shifts() == [["1": 0.9, "2": 0.1], ["2": 1]])
                #expect(events.finished()?.status == .succeeded)
                #expect(outcome.results.map(\.deploymentId) == [killed.deploymentId] && outcome.succeeded)
                #expect(try await session.routing() == AliasRouting(primary: "2"))
                #expect(try await session.target.unfinishedDeployments(of: .live).isEmpty)
            }
        }
    }

    @Test func killedMidCanaryResumesWithTheOverdueStepAtOnce() async throws {
        try await AppFixture.with { app in
            let killed = try await deployAndKill(app, strategy: "Canary10Percent5Minutes", killWhen: { $0.shifts().count == 1 },
                                                 thenWait: .seconds(60))
            #expect(killed.shifts == [["1": 0.9, "2": 0.1]])
            // Ten minutes later: the 100 % step (due five minutes after the canary) is overdue.
            let resumeAt = killed.at.millisecondsSinceEpoch + 600_000
            try await app.withSession(start: resumeAt) { session in
                #expect(try await session.routing() == AliasRouting(primary: "1", additional: ["2": 0.1]), "left as the kill found it")
                let deployment = session.startDeploy(app.releases("good2"), session.request(strategy: "Canary10Percent5Minutes"))
                try await session.log.waitFor("the resumed deployment to finish") { $0.finished() != nil }
                let outcome = try await deployment.value

                let entries = session.log.entries
                let events = entries.map(\.event)
                let started = try #require(events.started())
                #expect(started.resumed && started.deploymentId == killed.deploymentId)
                // Only the remaining step, at once: the schedule is not restarted.
                #expect(events.shifts() == [["2": 1]])
                #expect(entries.filter { if case .trafficShifted = $0.event { true } else { false } }.map(\.at) == [.milliseconds(resumeAt)])
                #expect(killed.shifts.count + events.shifts().count == 2)
                #expect(events.finished()?.status == .succeeded)
                #expect(outcome.results.map(\.deploymentId) == [killed.deploymentId] && outcome.succeeded)
                #expect(try await session.routing() == AliasRouting(primary: "2"))
            }
        }
    }

    @Test func killedAtLinearStep3ResumesFromStep4() async throws {
        let strategy = "Linear10PercentEvery1Minute"
        try await AppFixture.with { app in
            let killed = try await deployAndKill(app, strategy: strategy, killWhen: { $0.shifts().count == 4 })
            let schedule = try TrafficSchedule(named: strategy)
            #expect(killed.shifts == Array(expectedWeights(schedule).prefix(4)))
            // 90 s after step 3 was applied: step 4 is 30 s overdue.
            let resumeAt = Instant.milliseconds(killed.at.millisecondsSinceEpoch + 90_000)
            try await app.withSession(start: resumeAt.millisecondsSinceEpoch) { session in
                #expect(try await session.routing() == AliasRouting(primary: "1", additional: ["2": 0.4]))
                let deployment = session.startDeploy(app.releases("good2"), session.request(strategy: strategy))
                try await session.driveToEnd()
                let outcome = try await deployment.value

                let entries = session.log.entries
                let events = entries.map(\.event)
                let started = try #require(events.started())
                #expect(started.resumed && started.deploymentId == killed.deploymentId)
                #expect(events.shifts() == Array(expectedWeights(schedule).dropFirst(4)), "steps 4…9, none repeated")
                // Step 4 at once, then each step held for its full minute from when it was applied.
                let instants = entries.filter { if case .trafficShifted = $0.event { true } else { false } }.map(\.at)
                #expect(instants == (0..<6).map { resumeAt + .seconds(60 * $0) })
                #expect(events.finished()?.status == .succeeded)
                #expect(outcome.succeeded)
                #expect(try await session.routing() == AliasRouting(primary: "2"))
            }
        }
    }

    @Test func codeChangedOnDiskClosesTheKilledDeploymentAndDeploysTheNewVersion() async throws {
        try await AppFixture.with { app in
            let killed = try await deployAndKill(app, strategy: "Canary10Percent5Minutes", killWhen: { $0.shifts().count == 1 })
            try await app.withSession(start: killed.at.millisecondsSinceEpoch + 120_000) { session in
                let deployment = session.startDeploy(app.releases("good3"), session.request(strategy: "Canary10Percent5Minutes"))
                try await session.driveToEnd()
                let outcome = try await deployment.value

                let events = session.log.events
                let recovered = try #require(events.lazy.compactMap { event -> (String, String, String)? in
                    if case let .deploymentRecovered(_, id, version, reason) = event { return (id, version, reason) }
                    return nil
                }.first)
                #expect(recovered.0 == killed.deploymentId && recovered.1 == "1")
                #expect(recovered.2.contains("code on disk"), "\(recovered.2)")
                let started = try #require(events.started())
                #expect(!started.resumed && started.deploymentId != killed.deploymentId && started.from == "1" && started.to == "3")
                #expect(events.shifts() == [["1": 0.9, "3": 0.1], ["3": 1]])
                #expect(events.finished()?.status == .succeeded)
                #expect(outcome.results.map(\.deploymentId) == [started.deploymentId] && outcome.succeeded)
                #expect(try await session.routing() == AliasRouting(primary: "3"))
                let history = try await session.target.deployments(of: .live, limit: 10)
                #expect(history.first { $0.id == killed.deploymentId }?.status == .stopped)
                #expect(history.first { $0.id == started.deploymentId }?.status == .succeeded)
            }
        }
    }
}
