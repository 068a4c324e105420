import Foundation

/// A deployment as stored: one row per deployment of a new version to an alias.
///
/// `status` and `engineState` belong to the rollout engine (which this module does not know): `status`
/// is its status name (`Created`, `InProgress`, `Succeeded`, …), `engineState` its persisted state as JSON.
public struct DeploymentRecord: Codable, Sendable, Equatable {
    public var id: String
    public var functionName: String
    public var aliasName: String
    public var status: String
    /// The version the alias pointed at before (nil on the first deployment).
    public var currentVersion: Int?
    public var targetVersion: Int
    /// Why it ended (or is stopping): a failed hook, an alarm, …
    public var reason: String?
    /// Runtime-clock epoch ms.
    public var startedAt: Int64
    public var endedAt: Int64?
    /// Opaque JSON from the rollout engine, enough to resume after a restart.
    public var engineState: Data?

    public init(
        id: String = UUID().uuidString.lowercased(), functionName: String, aliasName: String, status: String,
        currentVersion: Int?, targetVersion: Int, reason: String? = nil, startedAt: Int64, endedAt: Int64? = nil,
        engineState: Data? = nil
    ) {
        self.id = id
        self.functionName = functionName
        self.aliasName = aliasName
        self.status = status
        self.currentVersion = currentVersion
        self.targetVersion = targetVersion
        self.reason = reason
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.engineState = engineState
    }
}

/// One entry in a deployment's transition log, written before the transition is acted on.
public struct DeploymentJournalEntry: Codable, Sendable, Equatable {
    /// Global, increasing: the order of events.
    public var sequence: Int64
    public var deploymentId: String
    /// Runtime-clock epoch ms.
    public var at: Int64
    /// What happened or is about to be done (`ShiftTraffic`, `AlarmFired`, …); the engine's vocabulary.
    public var kind: String
    /// The deployment status after this event, when it changes it.
    public var status: String?
    /// Opaque JSON details.
    public var detail: Data?
}

/// A change to a deployment, recorded atomically with its event.
public struct DeploymentTransition: Sendable {
    public var at: Int64
    public var kind: String
    public var detail: Data?
    /// New status, or nil to keep it.
    public var status: String?
    /// New engine state, or nil to keep it.
    public var engineState: Data?
    public var reason: String?
    public var endedAt: Int64?

    public init(at: Int64, kind: String, detail: Data? = nil, status: String? = nil, engineState: Data? = nil, reason: String? = nil, endedAt: Int64? = nil) {
        self.at = at
        self.kind = kind
        self.detail = detail
        self.status = status
        self.engineState = engineState
        self.reason = reason
        self.endedAt = endedAt
    }
}
