import DeploymentEngine
import Rollout
import Synchronization
import Testing

/// Every event a deployment emitted, with its instant, and waiting (bounded in wall time) until the log satisfies a condition.
final class EventLog: Sendable {
    struct Entry: Sendable {
        var at: Instant
        var event: DeploymentEvent
    }

    private struct Waiter {
        var condition: @Sendable ([DeploymentEvent]) -> Bool
        var continuation: CheckedContinuation<Bool, Never>
    }

    private struct State {
        var entries: [Entry] = []
        var waiters: [UInt64: Waiter] = [:]
        /// Waits whose time ran out before they registered.
        var expired: Set<UInt64> = []
        var nextId: UInt64 = 0
    }

    private let state = Mutex(State())

    /// The sink to hand to the executor or deployer.
    var sink: DeploymentEventSink {
        { [self] at, event in append(Entry(at: at, event: event)) }
    }

    var entries: [Entry] { state.withLock { $0.entries } }
    var events: [DeploymentEvent] { entries.map(\.event) }

    private func append(_ entry: Entry) {
        let satisfied = state.withLock { state -> [Waiter] in
            state.entries.append(entry)
            let events = state.entries.map(\.event)
            let ready = state.waiters.filter { $0.value.condition(events) }
            for id in ready.keys { state.waiters[id] = nil }
            return Array(ready.values)
        }
        for waiter in satisfied { waiter.continuation.resume(returning: true) }
    }

    /// Returns once `condition` holds for the events so far; records an issue naming `what` and throws after `timeout` of wall time.
    func waitFor(_ what: String, timeout: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation,
                 _ condition: @escaping @Sendable ([DeploymentEvent]) -> Bool) async throws {
        let id = state.withLock { state -> UInt64 in
            state.nextId += 1
            return state.nextId
        }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            let waiter = state.withLock { state -> Waiter? in
                if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
                state.expired.insert(id)
                return nil
            }
            waiter?.continuation.resume(returning: false)
        }
        defer { timer.cancel() }
        let satisfied = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let immediate = state.withLock { state -> Bool? in
                if state.expired.remove(id) != nil { return false }
                if condition(state.entries.map(\.event)) { return true }
                state.waiters[id] = Waiter(condition: condition, continuation: continuation)
                return nil
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
        guard satisfied else {
            Issue.record("timed out after \(timeout) waiting for \(what); events: \(events.map(\.brief))", sourceLocation: sourceLocation)
            throw TimedOut(what: what)
        }
    }
}

struct TimedOut: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Polls `condition` (wall time bounded) for states that announce nothing, such as a sleeper on the manual clock.
func waitUntil(_ what: String, timeout: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation,
               _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("timed out after \(timeout) waiting for \(what)", sourceLocation: sourceLocation)
            throw TimedOut(what: what)
        }
        // Not a wait for time to pass: a poll of a condition, at a fine grain so that steps stay fast.
        try await Task.sleep(for: .microseconds(200))
    }
}

// MARK: Reading the log

extension [DeploymentEvent] {
    /// The weights of every traffic shift of `alias`, in order.
    func shifts(of alias: AliasRef = .live) -> [[String: Double]] {
        compactMap { if case let .trafficShifted(a, weights) = $0, a == alias { weights } else { nil } }
    }

    /// The first `.finished` of `alias`.
    func finished(_ alias: AliasRef = .live) -> (deploymentId: String, status: DeploymentStatus, version: String, reason: String)? {
        finishes(alias).first
    }

    /// Every `.finished` of `alias` (an all-or-nothing release can stop an alias that had succeeded).
    func finishes(_ alias: AliasRef = .live) -> [(deploymentId: String, status: DeploymentStatus, version: String, reason: String)] {
        compactMap { event -> (String, DeploymentStatus, String, String)? in
            if case let .finished(a, id, status, version, reason) = event, a == alias { return (id, status, version, reason) }
            return nil
        }
    }

    func started(_ alias: AliasRef = .live) -> (deploymentId: String, from: String, to: String, resumed: Bool)? {
        lazy.compactMap { event -> (String, String, String, Bool)? in
            if case let .deploymentStarted(a, id, from, to, _, _, resumed) = event, a == alias { return (id, from, to, resumed) }
            return nil
        }.first
    }

    func rolledBack(_ alias: AliasRef = .live) -> (deploymentId: String, version: String, reason: String)? {
        lazy.compactMap { event -> (String, String, String)? in
            if case let .rolledBack(a, id, version, reason) = event, a == alias { return (id, version, reason) }
            return nil
        }.first
    }

    func hookStarts(_ alias: AliasRef = .live) -> [(hook: LifecycleHook, executionId: String)] {
        compactMap { if case let .hookStarted(a, hook, _, id, _) = $0, a == alias { (hook, id) } else { nil } }
    }

    func hookDeadlines(_ alias: AliasRef = .live) -> [Instant] {
        compactMap { if case let .hookStarted(a, _, _, _, deadline) = $0, a == alias { deadline } else { nil } }
    }

    func hookResults(_ alias: AliasRef = .live) -> [(hook: LifecycleHook, succeeded: Bool)] {
        compactMap { if case let .hookFinished(a, hook, succeeded, _) = $0, a == alias { (hook, succeeded) } else { nil } }
    }

    func alarmStates(_ alias: AliasRef = .live) -> [AlarmState] {
        compactMap { if case let .alarmChanged(a, _, state, _) = $0, a == alias { state } else { nil } }
    }

    var hookRunning: Bool {
        let started = count { if case .hookStarted = $0 { true } else { false } }
        let finished = count { if case .hookFinished = $0 { true } else { false } }
        return started > finished
    }
}

extension DeploymentEvent {
    /// One line for failure messages.
    var brief: String {
        switch self {
        case let .trafficShifted(alias, weights): "shifted \(alias) \(weights.sorted { $0.key < $1.key })"
        case let .finished(alias, _, status, version, reason): "finished \(alias) \(status.rawValue) on \(version): \(reason)"
        case let .alarmChanged(alias, alarm, state, _): "alarm \(alias) \(alarm) \(state.rawValue)"
        case .progress: "progress"
        default: "\(self)"
        }
    }
}

extension AliasRef {
    static let live = AliasRef(function: "Fn", alias: "live")
}
