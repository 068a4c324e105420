import DeploymentEngine
import Rollout
import Testing

@Suite("Deployer on the local target: lifecycle hooks reporting through the CodeDeploy endpoint", .serialized,
       .enabled(if: Python.available, "needs python3"))
struct HookTests {
    @Test func passingPreTrafficHookLetsTheShiftGoOn() async throws {
        try await AppFixture.with([.init(name: "Fn", preTraffic: true)]) { app in
            try await app.withSession { session in
                _ = try await session.deploy(app.releases("good1"))
                let deployment = session.startDeploy(app.releases("good2"), session.request(strategy: "Canary10Percent5Minutes"))
                try await session.driveToEnd()
                let outcome = try await deployment.value

                let events = session.log.events
                #expect(events.hookStarts().map(\.hook) == [.preTraffic])
                #expect(events.hookResults().map(\.hook) == [.preTraffic] && events.hookResults().map(\.succeeded) == [true])
                // The hook passes before any traffic moves.
                let hookDone = try #require(events.firstIndex { if case .hookFinished = $0 { true } else { false } })
                let firstShift = try #require(events.firstIndex { if case .trafficShifted = $0 { true } else { false } })
                #expect(hookDone < firstShift)
                #expect(events.shifts() == [["1": 0.9, "2": 0.1], ["2": 1]])
                #expect(events.finished()?.status == .succeeded)
                #expect(outcome.succeeded)
                #expect(try await session.routing() == AliasRouting(primary: "2"))
            }
        }
    }

    @Test func failingPreTrafficHookLeavesTheAliasUntouched() async throws {
        try await AppFixture.with([.init(name: "Fn", preTraffic: true)]) { app in
            try app.setHook("FnPreTrafficHook", .failed)
            try await app.withSession { session in
                _ = try await session.deploy(app.releases("good1"))
                let deployment = session.startDeploy(app.releases("good2"), session.request(strategy: "Canary10Percent5Minutes"))
                try await session.driveToEnd()
                let outcome = try await deployment.value

                let events = session.log.events
                #expect(events.hookResults().map(\.succeeded) == [false])
                #expect(events.shifts().isEmpty)
                #expect(events.rolledBack() == nil)
                let finished = try #require(events.finished())
                #expect(finished.status == .failed && finished.version == "1")
                #expect(finished.reason.contains("PreTraffic hook reported Failed") && finished.reason.contains("alias left unchanged"),
                        "\(finished.reason)")
                #expect(!outcome.succeeded)
                #expect(try await session.routing() == AliasRouting(primary: "1"))
            }
        }
    }

    @Test func silentPreTrafficHookFailsAtTheHookTimeoutInScheduleTime() async throws {
        try await AppFixture.with([.init(name: "Fn", preTraffic: true)]) { app in
            try app.setHook("FnPreTrafficHook", .silent)
            try await app.withSession { session in
                _ = try await session.deploy(app.releases("good1"))
                let deployment = session.startDeploy(app.releases("good2"),
                                                     session.request(strategy: "Canary10Percent5Minutes", hookTimeout: .seconds(120)))
                try await session.log.waitFor("the PreTraffic hook to start") { !$0.hookStarts().isEmpty }
                let invokedAt = session.now
                // Nothing reports: only schedule time passing ends it.
                let log = session.log
                try await session.driver.advance(until: "the deployment to fail") { log.events.finished() != nil }
                let outcome = try await deployment.value

                let finishedAt = try #require(session.log.entries.first { if case .finished = $0.event { true } else { false } }?.at)
                #expect(finishedAt == invokedAt + .seconds(120))
                let events = session.log.events
                #expect(events.hookResults().isEmpty)
                #expect(events.shifts().isEmpty)
                let finished = try #require(events.finished())
                #expect(finished.status == .failed)
                #expect(finished.reason.contains("PreTraffic hook did not report") && finished.reason.contains("2 min"), "\(finished.reason)")
                #expect(!outcome.succeeded)
                #expect(try await session.routing() == AliasRouting(primary: "1"))
            }
        }
    }

    @Test func failingPostTrafficHookRollsBack() async throws {
        try await AppFixture.with([.init(name: "Fn", postTraffic: true)]) { app in
            try app.setHook("FnPostTrafficHook", .failed)
            try await app.withSession { session in
                _ = try await session.deploy(app.releases("good1"))
                let deployment = session.startDeploy(app.releases("good2"), session.request(strategy: "Canary10Percent5Minutes"))
                try await session.driveToEnd()
                let outcome = try await deployment.value

                let events = session.log.events
                #expect(events.shifts() == [["1": 0.9, "2": 0.1], ["2": 1]])
                #expect(events.hookStarts().map(\.hook) == [.postTraffic])
                #expect(events.hookResults().map(\.succeeded) == [false])
                let rolledBack = try #require(events.rolledBack())
                #expect(rolledBack.version == "1")
                let finished = try #require(events.finished())
                #expect(finished.status == .failed && finished.version == "1")
                #expect(finished.reason.contains("PostTraffic hook reported Failed"), "\(finished.reason)")
                #expect(!outcome.succeeded)
                #expect(try await session.routing() == AliasRouting(primary: "1"))
            }
        }
    }
}
