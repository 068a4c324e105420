#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOPosix

/// One thread for the batched writes that follow the invocations (log lines) into SQLite, working in slices.
///
/// A flush of the log lines of 50 ms of calls takes a few milliseconds of CPU, and was most of the slowest 1 % of warm
/// calls (`shift-bench serve`, 1 connection: p99 1.5–2 ms with it, 0.4–0.7 ms with no flushes). `perf sched` showed
/// why: the scheduler ran it on the CPU of an event loop and its function (`CPUPlacement`) and let the woken loop wait
/// for the whole of it (3.3 ms) while the other CPU sat idle; a higher nice value did not change that. So the writer
/// writes `slice` rows a transaction and offers the CPU between them (p99 0.66–0.89 ms in the same runs).
enum BackgroundWriter {
    /// Rows a transaction writes before the CPU is offered to others (about 0.3 ms of work).
    static let slice = 100

    private static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        return pool
    }()

    /// Lets a thread waiting for this CPU run first.
    static func yield() {
        _ = sched_yield()
    }

    /// Runs `body` on the writer's thread.
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive(body)
    }
}
