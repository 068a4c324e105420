import DeploymentEngine
import Rollout
import Testing

/// The weights a schedule's points give versions "1" → "2", as the alias reports them.
func expectedWeights(_ schedule: TrafficSchedule) -> [[String: Double]] {
    schedule.points.map { point in
        point.percent >= 100 ? ["2": 1] : ["1": Double(100 - Int(point.percent)) / 100, "2": point.percent / 100]
    }
}

@Suite("Deployer on the local target: every strategy shape", .serialized, .enabled(if: Python.available, "needs python3"))
struct StrategyTests {
    @Test(arguments: ["AllAtOnce", "Canary10Percent5Minutes", "Linear10PercentEvery1Minute"])
    func shiftsByTheSchedulesPointsAndSucceeds(strategy: String) async throws {
        try await AppFixture.with { app in
            try await app.withSession { session in
                #expect(try await session.deploy(app.releases("good1")) == .nothingToDo)
                #expect(try await session.routing() == AliasRouting(primary: "1"))

                let deployment = session.startDeploy(app.releases("good2"), session.request(strategy: strategy))
                try await session.driveToEnd()
                let outcome = try await deployment.value

                let schedule = try TrafficSchedule(named: strategy)
                let entries = session.log.entries
                let events = entries.map(\.event)
                let started = try #require(events.started())
                #expect(started.from == "1" && started.to == "2" && !started.resumed)
                #expect(events.shifts() == expectedWeights(schedule))
                // Each point applies at its minute after the start: the executor meets every deadline on the manual clock.
                let startedAt = try #require(entries.first { if case .deploymentStarted = $0.event { true } else { false } }?.at)
                let shiftInstants = entries.filter { if case .trafficShifted = $0.event { true } else { false } }.map(\.at)
                #expect(shiftInstants == schedule.points.map { startedAt + .seconds(60 * $0.minute) })
                let finished = try #require(events.finished())
                #expect(finished.status == .succeeded && finished.version == "2", "\(finished.reason)")
                #expect(finished.deploymentId == started.deploymentId)
                #expect(events.rolledBack() == nil)
                #expect(outcome.results.map(\.status) == [.succeeded] && outcome.results.map(\.deploymentId) == [started.deploymentId])
                #expect(try await session.routing() == AliasRouting(primary: "2"))
                let record = try #require(try await session.target.deployments(of: .live, limit: 1).first)
                #expect(record.id == started.deploymentId && record.status == .succeeded && record.endedAt != nil)
            }
        }
    }
}
