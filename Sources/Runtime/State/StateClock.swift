import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The state directory's time base: virtual (scaled) time shared by every process that opens the directory, never running backwards.
///
/// Metrics, logs and stored instants are stamped on this clock. Were each process to start its own
/// `ScaledClock` at the wall time, a `--time-scale 60` run would stamp data minutes into the future and
/// the next process would read those minutes as current. So the time base lives in `clock.json`: an anchor
/// (a wall instant, the virtual instant it maps to, the scale), the last virtual instant any user recorded,
/// and the users (pid and token) sharing it now. Every read-modify-write of the file holds `clock.lock`.
public final class StateClock: RuntimeClock {
    /// How often a user should `checkpoint()` (real time; `runPeriodicCheckpoints` does). A user that was
    /// killed may have stamped data up to this long (scaled) after its last checkpoint, so the next one starts past that.
    public static let checkpointInterval: Duration = .seconds(1)

    /// The wall clock in epoch milliseconds.
    public static func systemWall() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }

    public let timeScale: Double
    public let directory: URL
    private let token: String
    private let wall: @Sendable () -> Int64
    private let state: ProtectedValue<Live>

    /// What this process knows of the time base.
    private struct Live {
        var anchor: Record.Anchor
        /// The largest instant handed out, so a wall clock stepped backwards (NTP) cannot make time run backwards.
        var floor: Int64
        var closed = false
    }

    private init(directory: URL, timeScale: Double, token: String, anchor: Record.Anchor, wall: @escaping @Sendable () -> Int64) {
        self.directory = directory
        self.timeScale = timeScale
        self.token = token
        self.wall = wall
        self.state = ProtectedValue(Live(anchor: anchor, floor: anchor.virtual))
    }

    /// Joins the directory's time base, creating or restarting it when nobody uses it.
    ///
    /// Throws `StateError(.stateLocked)` when a live process uses the time base at another scale: two
    /// scales cannot share one virtual time.
    public static func open(directory: URL, timeScale: Double, wallMilliseconds: @escaping @Sendable () -> Int64 = StateClock.systemWall) throws -> StateClock {
        guard timeScaleRange.contains(timeScale) else {
            throw StateError(.invalidParameterValue, "The time scale must be from \(timeScaleRange.lowerBound) to 100000 (60: a minute lasts a second), not \(timeScale).")
        }
        try StateDirectory.prepare(directory)
        let token = UUID().uuidString.lowercased()
        let anchor: Record.Anchor = try FileLock.withLock(path: lockPath(directory)) {
            let now = wallMilliseconds()
            let record = Record.read(directory)
            let boot = bootIdentity()
            let live = record.map { liveUsers($0, boot: boot) } ?? []
            let anchor: Record.Anchor
            if let record, !live.isEmpty {
                guard record.anchor.timeScale == timeScale else {
                    throw scaleConflict(directory: directory, running: record.anchor.timeScale, requested: timeScale, users: live)
                }
                anchor = record.anchor
            } else {
                var start = now
                if let record {
                    // A user that did not close may have stamped data after its last checkpoint.
                    let extra = record.closedCleanly ? 0 : margin(timeScale: record.anchor.timeScale)
                    start = max(now, record.lastVirtual + extra)
                }
                anchor = Record.Anchor(wall: now, virtual: start, timeScale: timeScale)
            }
            let updated = Record(
                anchor: anchor, lastVirtual: max(record?.lastVirtual ?? anchor.virtual, anchor.virtual(atWall: now)),
                closedCleanly: false, users: live + [Record.User(pid: getpid(), token: token)], boot: boot)
            try updated.write(directory)
            return anchor
        }
        return StateClock(directory: directory, timeScale: timeScale, token: token, anchor: anchor, wall: wallMilliseconds)
    }

    public var nowMilliseconds: Int64 {
        state.withLock { live in
            live.floor = max(live.floor, live.anchor.virtual(atWall: wall()))
            return live.floor
        }
    }

    /// The scales a clock accepts: beyond them a minute of schedule lasts less than a millisecond, or for weeks,
    /// and instants computed from them would overflow.
    public static let timeScaleRange: ClosedRange<Double> = 0.001...100_000

    /// `value` rounded into Int64, saturating instead of trapping (a corrupt or hand-edited clock.json included).
    static func saturating(_ value: Double) -> Int64 {
        guard value.isFinite else { return value > 0 ? Int64.max / 2 : (value < 0 ? Int64.min / 2 : 0) }
        return Int64(min(max(value, Double(Int64.min / 2)), Double(Int64.max / 2)))
    }

    /// Sleeps `duration` of virtual time, that is `duration / timeScale` of real time.
    public func sleep(for duration: Duration) async throws {
        let (seconds, attoseconds) = duration.components
        let real = (Double(seconds) + Double(attoseconds) / 1e18) / timeScale
        guard real > 0 else { return }
        try await Task.sleep(for: .nanoseconds(Self.saturating((real * 1e9).rounded(.up))))
    }

    /// Jumps virtual time forward to the start of the next minute, when this process alone uses the time base and timeScale > 1 (a new deployment then starts on a fresh metric period); otherwise does nothing. Returns now.
    ///
    /// Other users would keep the old anchor and disagree about now, hence "alone"; in real time a jump
    /// would leave the wall clock behind for good, hence "scaled".
    @discardableResult
    public func startFreshMinute() throws -> Int64 {
        guard timeScale > 1 else { return nowMilliseconds }
        return try FileLock.withLock(path: Self.lockPath(directory)) {
            let record = Record.read(directory)
            let boot = Self.bootIdentity()
            let others = record.map { Self.liveUsers($0, boot: boot).filter { $0.token != token } } ?? []
            let closed = state.withLock { $0.closed }
            guard others.isEmpty, !closed else { return nowMilliseconds }
            let now = nowMilliseconds
            let period = MetricsStore.periodMilliseconds
            let start = now % period == 0 ? now : MetricsStore.periodStart(now) + period
            let anchor = Record.Anchor(wall: wall(), virtual: start, timeScale: timeScale)
            state.withLock { live in
                live.anchor = anchor
                live.floor = max(live.floor, start)
            }
            let updated = Record(
                anchor: anchor, lastVirtual: max(record?.lastVirtual ?? start, start), closedCleanly: false,
                users: [Record.User(pid: getpid(), token: token)], boot: boot)
            try updated.write(directory)
            return nowMilliseconds
        }
    }

    /// Records the current instant in the directory (call periodically, e.g. every second, and it is called by close).
    public func checkpoint() throws {
        guard !state.withLock({ $0.closed }) else { return }
        try update { record in
            if !record.users.contains(where: { $0.token == token }) {
                record.users.append(Record.User(pid: getpid(), token: token))
            }
        }
    }

    /// Checkpoints every `interval` (real time) until the task is cancelled; `close()` records the final instant.
    public func runPeriodicCheckpoints(every interval: Duration = StateClock.checkpointInterval) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { break }
            try? checkpoint()
        }
    }

    /// Records the final instant and gives up this process's share of the time base. Idempotent.
    public func close() {
        let wasOpen = state.withLock { live in
            defer { live.closed = true }
            return !live.closed
        }
        guard wasOpen else { return }
        // Nothing to tell a caller that is shutting down: a failed write only costs the next user a margin.
        try? update { record in
            record.users.removeAll { $0.token == token }
            record.closedCleanly = record.users.isEmpty
        }
    }

    deinit { close() }

    /// Read-modify-write of the record under the lock: the last instant is raised to now and dead users
    /// are dropped (while this process is live its checkpoints cover whatever they stamped).
    private func update(_ change: (inout Record) -> Void) throws {
        let now = nowMilliseconds
        try FileLock.withLock(path: Self.lockPath(directory)) {
            let boot = Self.bootIdentity()
            let anchor = state.withLock { $0.anchor }
            // Someone removed or damaged the file: what this process knows is the best account left.
            var record = Record.read(directory) ?? Record(anchor: anchor, lastVirtual: now, closedCleanly: false, users: [], boot: boot)
            record.users = Self.liveUsers(record, boot: boot)
            record.boot = boot
            record.lastVirtual = max(record.lastVirtual, now)
            change(&record)
            try record.write(directory)
        }
    }

    // MARK: - Rules

    private static func margin(timeScale: Double) -> Int64 {
        let (seconds, attoseconds) = checkpointInterval.components
        return saturating(((Double(seconds) + Double(attoseconds) / 1e18) * 1000 * timeScale).rounded(.up))
    }

    /// The users whose process still runs. After a reboot every recorded pid is stale (and may have been reused).
    private static func liveUsers(_ record: Record, boot: String?) -> [Record.User] {
        if let recorded = record.boot, let boot, recorded != boot { return [] }
        return record.users.filter { isAlive($0.pid) }
    }

    static func isAlive(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        return kill(pid, 0) == 0 || errno == EPERM
    }

    private static func scaleConflict(directory: URL, running: Double, requested: Double, users: [Record.User]) -> StateError {
        let pids = Array(Set(users.map(\.pid))).sorted().map(String.init)
        let who = pids.count == 1 ? "process \(pids[0])" : "processes \(pids.joined(separator: ", "))"
        let those = pids.count == 1 ? "that process" : "those processes"
        return StateError(
            .stateLocked,
            "The state directory's clock runs at --time-scale \(format(running)) (used by \(who)), not \(format(requested)); pass --time-scale \(format(running)), or stop \(those). (State directory: \(directory.path))")
    }

    private static func format(_ scale: Double) -> String {
        scale == scale.rounded() && abs(scale) < 1e15 ? String(Int64(scale)) : String(scale)
    }

    static func fileURL(_ directory: URL) -> URL { directory.appendingPathComponent("clock.json") }
    private static func lockPath(_ directory: URL) -> String { directory.appendingPathComponent("clock.lock").path }

    /// Identifies this boot of the machine, so that pids recorded before a reboot count as dead.
    static func bootIdentity() -> String? {
        #if os(Linux)
        let text = try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)
        return text?.trimmingCharacters(in: .whitespacesAndNewlines)
        #elseif canImport(Darwin)
        var boot = timeval()
        var size = MemoryLayout<timeval>.size
        guard sysctlbyname("kern.boottime", &boot, &size, nil, 0) == 0 else { return nil }
        return "\(boot.tv_sec).\(boot.tv_usec)"
        #else
        return nil
        #endif
    }
}

extension StateClock {
    /// The time base's current instant, read without joining it or writing anything (status, metrics and
    /// logs commands, dry runs): a live user's clock, else the last instant recorded or the wall, whichever is later.
    public static func peek(directory: URL, wallMilliseconds: @Sendable () -> Int64 = StateClock.systemWall) -> Int64 {
        let wall = wallMilliseconds()
        guard let record = Record.read(directory) else { return wall }
        if !liveUsers(record, boot: bootIdentity()).isEmpty { return max(record.lastVirtual, record.anchor.virtual(atWall: wall)) }
        return max(wall, record.lastVirtual)
    }

    /// The contents of `clock.json`.
    struct Record: Codable, Equatable {
        /// A wall instant and the virtual instant it maps to, at a scale.
        struct Anchor: Codable, Equatable {
            var wall: Int64
            var virtual: Int64
            var timeScale: Double

            func virtual(atWall now: Int64) -> Int64 {
                virtual &+ StateClock.saturating((Double(now &- wall) * timeScale).rounded(.down))
            }
        }

        /// One open `StateClock`; a token because one process may open the clock twice.
        struct User: Codable, Equatable {
            var pid: Int32
            var token: String
        }

        var anchor: Anchor
        /// The largest virtual instant a user has recorded (at a checkpoint or on close).
        var lastVirtual: Int64
        /// Whether the last user to leave closed the clock, rather than being killed.
        var closedCleanly: Bool
        var users: [User]
        var boot: String?

        /// The record, or nil when the file is missing or not a record (then the directory is treated as fresh).
        static func read(_ directory: URL) -> Record? {
            guard let data = try? Data(contentsOf: StateClock.fileURL(directory)),
                  var record = try? JSONDecoder().decode(Record.self, from: data),
                  record.anchor.timeScale > 0, record.anchor.timeScale.isFinite else { return nil }
            // A scale written by an older shift (or by hand) beyond the range is read as the nearest bound, so the
            // time base and its last instant are kept.
            record.anchor.timeScale = min(max(record.anchor.timeScale, StateClock.timeScaleRange.lowerBound), StateClock.timeScaleRange.upperBound)
            return record
        }

        func write(_ directory: URL) throws {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            do {
                try encoder.encode(self).write(to: StateClock.fileURL(directory), options: .atomic)
                StateDirectory.restrict(StateClock.fileURL(directory).path)
            } catch {
                throw StateError(.stateUnavailable, "Cannot write the clock file in \(directory.path): \(error). Check that the state directory is writable.", cause: error)
            }
        }
    }
}
