import Foundation

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

    static func stream(_ signals: [Int32] = [SIGINT, SIGTERM]) -> AsyncStream<Int32> {
        AsyncStream { continuation in
            let sources = signals.map { number -> DispatchSourceSignal in
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { continuation.yield(number) }
                source.resume()
                return source
            }
            let box = SourceBox(sources)
            continuation.onTermination = { _ in box.cancel() }
        }
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

/// Dispatch sources are thread-safe to cancel; the box only carries them into the termination handler.
private final class SourceBox: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]
    init(_ sources: [any DispatchSourceSignal]) { self.sources = sources }
    func cancel() { for source in sources { source.cancel() } }
}
