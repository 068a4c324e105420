import NIOCore

/// The life of one execution environment as seen through its Runtime API, as a value: each input
/// (an event from a caller, a `next`, an answer, a fault) returns what to do. No I/O and no clock:
/// time comes in as a parameter. `EnvironmentBroker` keeps it behind a lock and performs the actions.
///
/// `Waiter` is what resumes the caller of an event; `Connection` is a parked `GET next`.
struct EnvironmentStateMachine<Waiter, Connection> {
    /// Where the environment is in its life.
    enum Phase: Sendable, Equatable {
        /// The process was spawned and has not called `next` yet. Next: `ready` (first `next`) or `terminated`.
        case initializing
        /// The runtime has initialized; it serves events one at a time. Next: `terminated`.
        case ready
        /// Discarded (fault, idle timeout, shutdown): it takes no more events. Terminal.
        case terminated
    }

    /// The event being served.
    struct Invocation {
        var request: InvocationRequest
        var waiter: Waiter
        /// When the event was handed to the runtime; nil while it waits for a `next`.
        var deliveredAt: NIODeadline?
    }

    private(set) var phase: Phase = .initializing
    private(set) var current: Invocation?
    private var parked: Connection?
    private var lastFinishedRequestId: String?
    private var spawnedAt: NIODeadline
    /// Set by the first `next`, reported with the first invocation.
    private var pendingInitDuration: Duration?
    /// An init failure (init/error, exit, init timeout) that came before any event; the next event reports it.
    private(set) var initFailure: InvocationEnding?

    init(spawnedAt: NIODeadline) {
        self.spawnedAt = spawnedAt
    }

    /// Whether an event has been handed to the runtime and not answered yet.
    var isServing: Bool { current?.deliveredAt != nil }

    /// Whether `requestId` is the event being served (for its timeout).
    func isServing(_ requestId: String) -> Bool {
        current?.request.requestId == requestId && current?.deliveredAt != nil
    }

    mutating func spawned(at instant: NIODeadline) {
        spawnedAt = instant
    }

    // MARK: Caller side

    enum SubmitAction {
        /// The environment is gone; give the waiter back (the caller tries another environment).
        case unavailable(Waiter)
        /// Init failed before this event arrived: end it with that failure (`finish(ending)`), as Lambda
        /// reports an init error to the invocation that caused the cold start.
        case failInit(InvocationEnding)
        /// The runtime has not asked yet: the event goes out with its next `next`.
        case wait
        /// A `next` is waiting: send the event on this connection (then call `delivered(at:)`).
        case deliver(Connection)
    }

    mutating func submit(_ request: InvocationRequest, waiter: Waiter) -> SubmitAction {
        if let failure = initFailure {
            initFailure = nil
            precondition(current == nil, "an environment serves one event at a time")
            current = Invocation(request: request, waiter: waiter)
            phase = .initializing
            return .failInit(failure)
        }
        guard phase != .terminated else { return .unavailable(waiter) }
        precondition(current == nil, "an environment serves one event at a time")
        current = Invocation(request: request, waiter: waiter)
        guard phase == .ready, let connection = parked else { return .wait }
        parked = nil
        return .deliver(connection)
    }

    /// The event was written to a `next`; returns it, or nil when there is none to send anymore.
    mutating func delivered(at instant: NIODeadline) -> InvocationRequest? {
        guard var invocation = current, invocation.deliveredAt == nil else { return nil }
        invocation.deliveredAt = instant
        current = invocation
        return invocation.request
    }

    // MARK: Runtime API side

    enum NextAction: Equatable {
        /// Send the current event on this `next`.
        case deliver
        /// Keep the request open until an event comes.
        case park
        /// 403 InvalidStateTransition, with why.
        case reject(String)
    }

    mutating func next(_ connection: Connection, at instant: NIODeadline) -> NextAction {
        switch phase {
        case .terminated:
            return .reject("the environment is shutting down")
        case .initializing:
            phase = .ready
            pendingInitDuration = .nanoseconds(Int64((instant - spawnedAt).nanoseconds))
        case .ready:
            break
        }
        if let invocation = current {
            if invocation.deliveredAt != nil {
                return .reject("next called while invocation \(invocation.request.requestId) is in progress")
            }
            return .deliver
        }
        if parked != nil { return .reject("another next is already waiting") }
        parked = connection
        return .park
    }

    /// A parked `next`'s connection closed.
    mutating func connectionClosed(where isIt: (Connection) -> Bool) {
        if let connection = parked, isIt(connection) { parked = nil }
    }

    enum AnswerCheck: Equatable {
        case accept
        /// 403: the id is known but not in progress (answered twice, or not handed out yet).
        case invalidStateTransition
        /// 400: an id this environment never served.
        case invalidRequestID
    }

    /// Whether a `…/response` or `…/error` for `requestId` may be taken.
    func check(answerFor requestId: String) -> AnswerCheck {
        if let invocation = current, invocation.request.requestId == requestId, invocation.deliveredAt != nil { return .accept }
        if lastFinishedRequestId == requestId || current?.request.requestId == requestId { return .invalidStateTransition }
        return .invalidRequestID
    }

    /// Whether `POST /runtime/init/error` is allowed now.
    var acceptsInitError: Bool { phase == .initializing }

    // MARK: Endings

    /// An invocation that ended, with what the report needs.
    struct Ended {
        var invocation: Invocation
        var wasInitializing: Bool
        /// Init duration to report with this invocation (cold start only).
        var initDuration: Duration?
        /// Handed-out-to-answer time (zero if it never reached the runtime).
        var duration: Duration
    }

    enum EndAction {
        /// Nothing was in flight: nothing to report.
        case none(discard: Bool)
        /// Report this invocation; `discard` when the environment must go (kill it now).
        case ended(Ended, discard: Bool)
    }

    /// Ends the current invocation (if any) with `ending` at `instant`.
    mutating func end(_ ending: InvocationEnding, at instant: NIODeadline) -> EndAction {
        let wasInitializing = phase == .initializing
        guard let invocation = current else {
            // A fault with no event in flight (an idle process died, init failed first).
            if case .response = ending { return .none(discard: false) }
            if phase == .initializing, initFailure == nil, ending.isFault { initFailure = ending }
            let wasAlive = phase != .terminated
            phase = .terminated
            return .none(discard: wasAlive)
        }
        current = nil
        lastFinishedRequestId = invocation.request.requestId
        let discard = ending.isFault || wasInitializing
        if discard { phase = .terminated }
        let initDuration = pendingInitDuration ?? (wasInitializing ? .nanoseconds(Int64((instant - spawnedAt).nanoseconds)) : nil)
        pendingInitDuration = nil
        let duration = invocation.deliveredAt.map { Duration.nanoseconds(Int64((instant - $0).nanoseconds)) } ?? .zero
        return .ended(Ended(invocation: invocation, wasInitializing: wasInitializing, initDuration: initDuration, duration: duration), discard: discard)
    }

    /// The environment stops taking events (idle timeout, eviction, shutdown, a late fault found at
    /// completion). Returns whether it was still alive.
    @discardableResult
    mutating func terminate() -> Bool {
        defer { phase = .terminated }
        return phase != .terminated
    }
}

extension InvocationEnding {
    /// Whether the environment must be discarded after this ending.
    var isFault: Bool {
        switch self {
        case .response, .functionError, .responseTooLarge: false
        case .timedOut, .initError, .initTimedOut, .exited, .outOfMemory: true
        }
    }
}

extension EnvironmentStateMachine: Sendable where Waiter: Sendable, Connection: Sendable {}
extension EnvironmentStateMachine.Invocation: Sendable where Waiter: Sendable {}
extension EnvironmentStateMachine.Ended: Sendable where Waiter: Sendable {}
