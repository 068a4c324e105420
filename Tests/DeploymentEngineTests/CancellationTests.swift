import DeploymentEngine
import Rollout
import Testing

@Suite("Deployer on the local target: cancellation", .serialized, .enabled(if: Python.available, "needs python3"))
struct CancellationTests {
    /// Cancelling the task that runs `Deployer.deploy` (what a host does to stop it) must end it without
    /// writing more: the deployment stays resumable, as after a kill.
    @Test func cancellingTheDeployTaskEndsItPromptly() async throws {
        try await AppFixture.with { app in
            try await app.withSession { session in
                _ = try await session.deploy(app.releases("good1"))
                let deployment = session.startDeploy(app.releases("good2"), session.request(strategy: "Canary10Percent5Minutes"), killable: true)
                try await session.drive(until: "the canary step") { $0.shifts().count == 1 }
                deployment.task.cancel()
                try await waitUntil("the cancelled deployment to end", timeout: .seconds(30)) { deployment.isDone }
                #expect(try await session.routing() == AliasRouting(primary: "1", additional: ["2": 0.1]))
                #expect(try await session.target.unfinishedDeployments(of: .live).count == 1)
            }
        }
    }
}
