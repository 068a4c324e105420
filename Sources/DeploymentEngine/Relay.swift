import Synchronization

/// Hands values from producers to whichever consumer is reading now, keeping those that arrive while none is.
///
/// An `AsyncStream` ends for good when the task reading it is cancelled, so a target that serves one deployment
/// after another (each cancels its reader when it ends) needs a new stream per reader; what is sent between two
/// readers waits for the next.
final class Relay<Element: Sendable>: Sendable {
    private struct State {
        var pending: [Element] = []
        var reader: (id: Int, continuation: AsyncStream<Element>.Continuation)?
        var nextId = 0
        var finished = false
    }

    private let state = Mutex(State())

    func send(_ value: Element) {
        state.withLock { state in
            if let reader = state.reader {
                reader.continuation.yield(value)
            } else if !state.finished {
                state.pending.append(value)
            }
        }
    }

    /// A stream for a new reader (the previous one's ends): first what waited, then what is sent from now on.
    func stream() -> AsyncStream<Element> {
        let (stream, continuation) = AsyncStream<Element>.makeStream()
        let id = state.withLock { state -> Int in
            state.reader?.continuation.finish()
            if state.finished {
                continuation.finish()
                return -1
            }
            state.nextId += 1
            state.reader = (state.nextId, continuation)
            for value in state.pending { continuation.yield(value) }
            state.pending.removeAll()
            return state.nextId
        }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { state in
                if state.reader?.id == id { state.reader = nil }
            }
        }
        return stream
    }

    /// Ends the current reader's stream and every later one.
    func finish() {
        state.withLock { state in
            state.finished = true
            state.reader?.continuation.finish()
            state.reader = nil
            state.pending.removeAll()
        }
    }
}
