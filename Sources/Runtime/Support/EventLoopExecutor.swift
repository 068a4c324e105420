import NIOCore
import NIOPosix

/// Swift concurrency on SwiftNIO's event loops, one per core.
public enum EventLoopExecutor {
    /// Makes `MultiThreadedEventLoopGroup.singleton` (one loop per core) Swift concurrency's global executor.
    ///
    /// Without it every invocation crosses threads several times (the loop that read the request, the
    /// cooperative pool for the Invoke API task and the actors, the environment's loop, back): each crossing is a
    /// futex wake and a context switch, and those were most of a warm invoke's time. On the loops, a task that
    /// resumes stays on the loop it runs on, so a request, its environment and its answer can share one thread.
    /// Call it once, first thing in `main`, before any task exists; returns false where it is unavailable (the
    /// program then runs on the cooperative pool, as before).
    @discardableResult
    public static func install() -> Bool {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }
}
