import Foundation
import Synchronization

/// SIGINT/SIGTERM as an async sequence, so a command can clean up (processes, alias) before it exits.
enum Signals {
    /// A process may start with SIGINT and SIGTERM blocked: a parent that spawns it from a thread that blocks
    /// them (a dispatch worker, as a test runner's or a CI agent's `Process` does) passes its mask on. They
    /// would then stay pending for ever and `serve` or `deploy` could never be stopped; so the main thread,
    /// whose mask every thread started later inherits, takes them again before anything else runs.
    static func unblock() {
        var set = sigset_t()
        sigemptyset(&set)
        for number in [SIGINT, SIGTERM, SIGWINCH] { sigaddset(&set, number) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// The signals as they arrive, from now until the stream ends. While no stream waits for it, SIGINT or SIGTERM
    /// ends the process with status 128 + the signal, as the default action would.
    static func stream(_ signals: [Int32] = [SIGINT, SIGTERM]) -> AsyncStream<Int32> {
        SignalRelay.shared.stream(signals)
    }

    /// What a signal means to the person who sent it: "interrupted (Ctrl-C)", "terminated (SIGTERM)".
    static func describe(_ number: Int32) -> String {
        switch number {
        case SIGINT: "interrupted (Ctrl-C)"
        case SIGTERM: "terminated (SIGTERM)"
        default: "stopped by signal \(number)"
        }
    }

    /// Runs `body`; on SIGINT/SIGTERM runs `cleanup` and exits with 128+signal, as a shell expects.
    static func run<T: Sendable>(cleanup: @escaping @Sendable () async -> Void, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                for await number in stream() {
                    Terminal.standard.write("\n\(Shift.name): \(describe(number)), shutting functions down…\n", to: .error)
                    await cleanup()
                    exit(128 + number)
                }
                return nil
            }
            while let next = try await group.next() {
                if let value = next {
                    group.cancelAll()
                    return value
                }
            }
            preconditionFailure("the command task always returns a value or throws")
        }
    }
}

/// The write end of the pipe the signal handler writes to; set once, before any handler is installed.
nonisolated(unsafe) private var signalPipe: Int32 = -1

/// Signals through a handler that writes their number to a pipe, read by a thread of its own.
///
/// Dispatch's signal sources read a signalfd, which sees a signal only while every thread blocks it; a thread
/// that does not (one NIO or Foundation started) takes it instead and it is lost, so `serve` now and then ignored
/// SIGTERM. A handler runs whichever thread takes the signal, and writing one byte is safe in a handler.
private final class SignalRelay: Sendable {
    static let shared = SignalRelay()

    private struct State {
        var readers: [Int: (signals: [Int32], continuation: AsyncStream<Int32>.Continuation)] = [:]
        var nextId = 0
        var handled: Set<Int32> = []
    }

    private let state = Mutex(State())

    private init() {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        _ = fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK)
        signalPipe = fds[1]
        let input = fds[0]
        let thread = Thread { [self] in
            // This thread takes the signals even if every other one blocks them.
            Signals.unblock()
            var byte: UInt8 = 0
            while true {
                let count = read(input, &byte, 1)
                if count == 1 { deliver(Int32(byte)) } else if count < 0, errno == EINTR { continue } else { return }
            }
        }
        thread.name = "shift-signals"
        thread.start()
    }

    func stream(_ signals: [Int32]) -> AsyncStream<Int32> {
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        let id = state.withLock { state -> Int in
            for number in signals where state.handled.insert(number).inserted {
                signal(number) { number in
                    var byte = UInt8(truncatingIfNeeded: number)
                    _ = write(signalPipe, &byte, 1)
                }
            }
            state.nextId += 1
            state.readers[state.nextId] = (signals, continuation)
            return state.nextId
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.readers.removeValue(forKey: id) }
        }
        return stream
    }

    private func deliver(_ number: Int32) {
        let readers = state.withLock { state in state.readers.values.filter { $0.signals.contains(number) }.map(\.continuation) }
        if readers.isEmpty {
            if number == SIGINT || number == SIGTERM { exit(128 + number) }
            return
        }
        for reader in readers { reader.yield(number) }
    }
}
