import DeploymentEngine
import Rollout
import Testing

@Suite("Deployer on the local target: all-or-nothing releases", .serialized, .enabled(if: Python.available, "needs python3"))
struct AllOrNothingTests {
    /// How Bravo, the middle function of the release, fails.
    enum Failure: String, CaseIterable, Sendable {
        /// Its new version raises and its alarm fires during its canary.
        case alarm
        /// Its PreTraffic hook reports Failed.
        case preTrafficHook
    }

    static let alpha = AliasRef(function: "Alpha", alias: "live")
    static let bravo = AliasRef(function: "Bravo", alias: "live")
    static let charlie = AliasRef(function: "Charlie", alias: "live")

    /// Alpha is AllAtOnce (already Succeeded when Bravo fails), Charlie is Linear (mid-shift when Bravo fails).
    @Test(arguments: Failure.allCases)
    func oneFailureRollsBackTheWholeRelease(failure: Failure) async throws {
        let functions: [AppFixture.FunctionSpec] = [
            .init(name: "Alpha", type: "AllAtOnce"),
            .init(name: "Bravo", type: "Canary10Percent5Minutes", preTraffic: failure == .preTrafficHook),
            .init(name: "Charlie", type: "Linear10PercentEvery1Minute"),
        ]
        try await AppFixture.with(functions) { app in
            if failure == .preTrafficHook { try app.setHook("BravoPreTrafficHook", .failed) }
            try await app.withSession { session in
                _ = try await session.deploy(app.releases("good1"))
                let releases = ["Alpha": "good2", "Bravo": failure == .alarm ? "broken" : "good2", "Charlie": "good2"]
                let deployment = session.startDeploy(releases, session.request(allOrNothing: true))
                if failure == .alarm {
                    try await session.drive(until: "Bravo's canary") { !$0.shifts(of: Self.bravo).isEmpty }
                    try await session.invoke("Bravo", qualifier: "2")
                }
                try await session.driveToEnd([Self.alpha, Self.bravo, Self.charlie], atMost: .seconds(600))
                let outcome = try await deployment.value

                let events = session.log.events
                let bravo = try #require(events.finished(Self.bravo))
                #expect(bravo.status == .failed, "\(bravo.reason)")
                #expect(bravo.reason.contains(failure == .alarm ? "BravoErrors" : "PreTraffic hook reported Failed"), "\(bravo.reason)")
                for other in [Self.alpha, Self.charlie] {
                    // The last word on each other alias: stopped with the release, back on version 1.
                    let last = try #require(events.finishes(other).last)
                    #expect(last.status == .stopped && last.version == "1", "\(other): \(last.status) \(last.reason)")
                    #expect(last.reason.contains("Bravo:live"), "\(other): \(last.reason)")
                    #expect(events.rolledBack(other)?.version == "1")
                }
                #expect(events.finishes(Self.alpha).map(\.status) == [.succeeded, .stopped], "Alpha had succeeded before Bravo failed")
                #expect(events.shifts(of: Self.charlie).count < 10, "Charlie never reached 100 %")
                #expect(Set(outcome.results.map(\.status)) == [.failed, .stopped])
                for alias in [Self.alpha, Self.bravo, Self.charlie] {
                    #expect(try await session.routing(alias) == AliasRouting(primary: "1"), "\(alias)")
                }
            }
        }
    }
}
