import Foundation

/// A hook's answer through `PutLifecycleEventHookExecutionStatus`.
public struct HookReport: Sendable, Equatable {
    public var deploymentId: String
    public var executionId: String
    /// `Succeeded` or `Failed`.
    public var succeeded: Bool
}

/// The local CodeDeploy side of lifecycle hooks: which executions a deployment waits for, and the
/// reports hook functions send back (the Invoke API server routes the CodeDeploy call here).
public actor LifecycleHooks {
    private var pending: [String: String] = [:]  // execution id → deployment id
    private var completed: Set<String> = []
    private let continuation: AsyncStream<HookReport>.Continuation
    private let onReport: (@Sendable (HookReport) -> Void)?
    /// Every accepted report, in arrival order (unless `onReport` takes them).
    public nonisolated let reports: AsyncStream<HookReport>

    /// - Parameter onReport: receives every accepted report instead of `reports`, for a consumer that outlives any
    ///   one iteration (a stream ends for good when the task reading it is cancelled).
    public init(onReport: (@Sendable (HookReport) -> Void)? = nil) {
        (reports, continuation) = AsyncStream<HookReport>.makeStream()
        self.onReport = onReport
    }

    /// Registers a hook execution a deployment is about to start, and returns its id (a new one unless
    /// given: a resumed deployment waits again for the execution it journaled).
    @discardableResult
    public func expect(deploymentId: String, executionId: String? = nil) -> String {
        let id = executionId ?? UUID().uuidString.lowercased()
        completed.remove(id)
        pending[id] = deploymentId
        return id
    }

    /// Accepts a hook's status; errors use CodeDeploy's exception names.
    public func report(deploymentId: String, executionId: String, status: String) throws -> HookReport {
        guard status == "Succeeded" || status == "Failed" else {
            throw StateError(.invalidParameterValue, "status must be Succeeded or Failed, not '\(status)'", awsErrorType: "InvalidLifecycleEventHookExecutionStatusException")
        }
        if completed.contains(executionId) {
            throw StateError(.resourceConflict, "The lifecycle event hook execution \(executionId) has already completed",
                             awsErrorType: "LifecycleEventAlreadyCompletedException")
        }
        guard let owner = pending[executionId] else {
            throw StateError(.resourceNotFound, "Lifecycle event hook execution \(executionId) was not found; it is the LifecycleEventHookExecutionId of the event the hook received",
                             awsErrorType: "InvalidLifecycleEventHookExecutionIdException")
        }
        guard owner == deploymentId else {
            throw StateError(.resourceNotFound, "Deployment \(deploymentId) does not exist; pass the DeploymentId of the event the hook received",
                             awsErrorType: "DeploymentDoesNotExistException")
        }
        pending[executionId] = nil
        completed.insert(executionId)
        let report = HookReport(deploymentId: deploymentId, executionId: executionId, succeeded: status == "Succeeded")
        if let onReport { onReport(report) } else { continuation.yield(report) }
        return report
    }

    /// Forgets a deployment's pending executions (it ended: late reports get LifecycleEventAlreadyCompleted).
    public func finish(deploymentId: String) {
        for (id, owner) in pending where owner == deploymentId {
            pending[id] = nil
            completed.insert(id)
        }
    }
}
