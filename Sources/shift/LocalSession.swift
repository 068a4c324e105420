import Foundation
import Runtime
import TemplateModel

/// What `deploy` works with: the service stack of `ServiceSetup` plus the local CodeDeploy hooks.
///
/// `close` always shuts every function process down and saves metrics and logs, so a command that
/// opened a session ends with nothing left running.
struct LocalSession: Sendable {
    let stack: ServiceStack
    let hooks: LifecycleHooks

    var store: StateStore { stack.store }
    var metrics: MetricsStore { stack.metrics }
    var runtime: LocalRuntime { stack.runtime }
    var clock: ScaledClock { stack.clock }
    var service: LambdaService { stack.service }

    /// Opens the state directory and the service stack on it.
    static func open(stateDirectory: URL, template: Template, timeScale: Double, routingSeed: UInt64? = nil) async throws -> LocalSession {
        let stack = try await ServiceSetup.open(
            definitions: [], stateDirectory: stateDirectory, region: template.pseudoParameters.region,
            accountId: template.pseudoParameters.accountId, timeScale: timeScale, routingSeed: routingSeed)
        return LocalSession(stack: stack, hooks: LifecycleHooks())
    }

    func close() async {
        await stack.close()
    }
}
