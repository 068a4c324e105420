import Rollout
import Synchronization

/// A queue of inputs that one consumer awaits, racing a deadline on the deployment clock.
///
/// Producers (child tasks reading hook outcomes and signals) `push`; the executor calls `next(until:)`
/// and gets the next input, or nil once the deadline is reached. Nothing pushed is ever lost: an input
/// that arrives while the wait is being cancelled goes back to the front of the queue.
final class Mailbox<Item: Sendable>: Sendable {
    private struct State {
        var items: [Item] = []
        var waiter: CheckedContinuation<Item?, Never>?
        var waiterCancelled = false
    }

    private let state = Mutex(State())

    func push(_ item: Item) {
        let waiter = state.withLock { state -> CheckedContinuation<Item?, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.items.append(item)
            return nil
        }
        waiter?.resume(returning: item)
    }

    private func pushFront(_ item: Item) {
        state.withLock { $0.items.insert(item, at: 0) }
    }

    /// The next item, or nil when the waiting task is cancelled.
    private func receive() async -> Item? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Item?, Never>) in
                let immediate: Item?? = state.withLock { state in
                    if !state.items.isEmpty { return .some(state.items.removeFirst()) }
                    if state.waiterCancelled {
                        state.waiterCancelled = false
                        return .some(nil)
                    }
                    state.waiter = continuation
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Item?, Never>? in
                guard let waiter = state.waiter else {
                    state.waiterCancelled = true
                    return nil
                }
                state.waiter = nil
                return waiter
            }
            waiter?.resume(returning: nil)
        }
    }

    /// The next item, or nil when `clock` reaches `deadline` first (at once for a deadline that passed
    /// while an item waits: items come first).
    func next(until deadline: Instant?, clock: any DeploymentClock) async -> Item? {
        if let item = state.withLock({ $0.items.isEmpty ? nil : $0.items.removeFirst() }) { return item }
        return await withTaskGroup(of: Item?.self) { group in
            group.addTask { await self.receive() }
            if let deadline {
                group.addTask {
                    try? await clock.sleep(until: deadline)
                    return nil
                }
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            // The loser may still have taken an item in the race: keep it for the next call.
            while let other = await group.next() {
                if let item = other { pushFront(item) }
            }
            state.withLock { $0.waiterCancelled = false }
            return first
        }
    }
}
