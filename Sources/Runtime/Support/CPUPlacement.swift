import CProcessKeeper
import Foundation
import NIOCore
import Synchronization

/// Keeps a warm environment's process on the CPU of the event loop that serves it.
///
/// A warm invocation is a ping-pong between one loop thread and one function process (event out, answer back, a
/// few microseconds of work each side). When the two sit on different CPUs every hand-off is a cross-CPU wake-up and
/// every buffer a cache miss: on a 2-core machine a warm call took 170–180 µs that way against 105–140 µs with both
/// on one CPU, and the loop spent a quarter less CPU on it (`shift-bench serve`). Linux's scheduler does not keep
/// them together by itself once the loop is busy, so shift does:
/// - each loop thread keeps to one CPU of those the process may use (loop i on the i-th, wrapping);
/// - an environment's processes run anywhere while they start (a cold start is CPU-heavy work), and move to their
///   loop's CPU once the runtime asks for its first event;
/// - an environment whose invocations run `releaseAfter` or longer, `releaseAfterRuns` times in a row (one slow first
///   call is normal), goes back to every CPU for good: its own work then outweighs the hand-offs, and a busy function
///   must not crowd its loop or its neighbours.
///
/// Nothing is placed where the process may use a single CPU, or where affinity does not exist (not Linux).
enum CPUPlacement {
    /// Invocations at least this long, `releaseAfterRuns` in a row, release their environment to every CPU.
    static let releaseAfter: Duration = .milliseconds(2)
    static let releaseAfterRuns = 3

    /// The CPUs this process may use: its main thread's affinity when the process started (loop threads are
    /// narrowed later, the main thread never is).
    static let allowed: [Int] = {
        var cpus = [Int32](repeating: 0, count: 1024)
        let count = shift_get_cpus(getpid(), &cpus, Int32(cpus.count))
        return count > 0 ? cpus[0..<Int(count)].map(Int.init) : []
    }()

    /// Loops already placed, and their CPUs.
    private static let placed = Mutex<[ObjectIdentifier: Int]>([:])

    /// Pins each loop of `group` to its CPU (once per loop) and returns every loop's CPU; empty when nothing is placed.
    static func place(_ group: any EventLoopGroup) -> [ObjectIdentifier: Int] {
        guard allowed.count > 1 else { return [:] }
        var mapping: [ObjectIdentifier: Int] = [:]
        for (index, loop) in group.makeIterator().enumerated() {
            let cpu = allowed[index % allowed.count]
            mapping[ObjectIdentifier(loop)] = cpu
            let fresh = placed.withLock { $0.updateValue(cpu, forKey: ObjectIdentifier(loop)) == nil }
            if fresh { loop.execute { _ = shift_set_cpus(0, [Int32(cpu)], 1) } }
        }
        return mapping
    }

    /// Moves `root` and every process under it, each thread of each, onto `cpus`.
    static func move(_ root: pid_t, to cpus: [Int]) {
        guard root > 0, !cpus.isEmpty else { return }
        let list = cpus.map(Int32.init)
        for pid in PeerProcess.descendants(of: root) {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? ["\(pid)"]
            for task in tasks {
                guard let tid = pid_t(task) else { continue }
                _ = shift_set_cpus(tid, list, Int32(list.count))
            }
        }
    }
}
