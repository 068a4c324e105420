#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// What `resolveTarget` and `getVersion` answered lately, so that a warm invocation of an alias or a version
/// can be routed without a database read (issues 13 and 16).
///
/// Several processes share one state directory (`shift deploy` moves an alias's weights while `shift serve`
/// answers), so an answer is only trusted while the directory's `generation` file (8 bytes) holds the value it
/// held before that answer was read from the database. Every write that can change an answer stores a fresh
/// random value there after its transaction commits, whichever process makes it: a reader that still sees the
/// old value read after that commit's rows were visible, and any other value (a new one, a torn one, none at all)
/// only ever makes it read again. Random values rather than a counter, so writers in two processes never need a
/// read-modify-write of the file. An answer older than `lifetime` is stale too, so a writer that died between
/// its commit and the generation write (or a binary that predates the file) leaves at most that much staleness.
final class ResolutionCache: Sendable {
    /// The generation file's name in the state directory.
    static let fileName = "generation"
    /// More answers than this and the cache starts over: it only ever holds names that resolved, but a
    /// long-running server beside many deployments must not grow without bound.
    static let capacity = 4096

    /// The generation a database read began under, and when.
    struct Ticket {
        let generation: UInt64
        let instant: ContinuousClock.Instant
    }

    private struct TargetKey: Hashable {
        let function: String
        let qualifier: String
    }

    private struct VersionKey: Hashable {
        let function: String
        let version: Int
    }

    private struct Entry<Value> {
        let value: Value
        let ticket: Ticket
    }

    private struct Entries {
        var targets: [TargetKey: Entry<InvocationTarget>] = [:]
        /// Qualifiers `resolveTarget` answered ResourceNotFound for (an alias a deployment has not made yet).
        var absent: [TargetKey: Ticket] = [:]
        var versions: [VersionKey: Entry<FunctionVersion>] = [:]
    }

    /// The generation file, kept open for `pread`; -1 when the cache is off (a read-only store without the file).
    private let descriptor: Int32
    private let writable: Bool
    private let lifetime: Duration
    private let now: @Sendable () -> ContinuousClock.Instant
    private let entries = Mutex(Entries())

    /// Opens `<directory>/generation`, creating it (0600, with a first random value) unless `readOnly`.
    /// Never fails: without the file the cache is off and every lookup goes to the database.
    init(directory: URL, readOnly: Bool, lifetime: Duration, now: @escaping @Sendable () -> ContinuousClock.Instant) {
        let path = directory.appendingPathComponent(Self.fileName).path
        if !readOnly { StateDirectory.createPrivateFile(path) }
        let fd = open(path, (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC)
        descriptor = fd
        writable = !readOnly && fd >= 0
        self.lifetime = lifetime
        self.now = now
        if writable {
            var info = stat()
            if fstat(fd, &info) == 0, info.st_size < 8 { advance() }
        }
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    /// The generation now, or nil when it cannot be read whole (no file, a short file): then nothing is trusted.
    private func generation() -> UInt64? {
        guard descriptor >= 0 else { return nil }
        var value: UInt64 = 0
        let count = withUnsafeMutableBytes(of: &value) { pread(descriptor, $0.baseAddress, 8, 0) }
        return count == 8 ? value : nil
    }

    /// Take one before a database read whose answer is to be cached, and pass it to `fill`.
    func ticket() -> Ticket? {
        generation().map { Ticket(generation: $0, instant: now()) }
    }

    /// Marks every cached answer, in every process on this directory, stale. Call after a committed write
    /// that can change what `resolveTarget` or `getVersion` answer.
    func advance() {
        // This process's own answers go whatever happens to the file, so a failed write below costs other
        // processes at most `lifetime` of staleness and this one none.
        entries.withLock { $0 = Entries() }
        guard writable else { return }
        let value = UInt64.random(in: .min ... .max)
        _ = withUnsafeBytes(of: value) { pwrite(descriptor, $0.baseAddress, 8, 0) }
    }

    private func isFresh(_ ticket: Ticket, generation: UInt64, at instant: ContinuousClock.Instant) -> Bool {
        ticket.generation == generation && instant - ticket.instant < lifetime
    }

    func target(function: String, qualifier: String?) -> InvocationTarget? {
        guard let current = generation() else { return nil }
        let instant = now()
        let key = TargetKey(function: function, qualifier: qualifier ?? "$LATEST")
        return entries.withLock { entries in
            guard let entry = entries.targets[key], isFresh(entry.ticket, generation: current, at: instant) else { return nil }
            return entry.value
        }
    }

    func isAbsent(function: String, qualifier: String?) -> Bool {
        guard let current = generation() else { return false }
        let instant = now()
        let key = TargetKey(function: function, qualifier: qualifier ?? "$LATEST")
        return entries.withLock { entries in
            guard let ticket = entries.absent[key] else { return false }
            return isFresh(ticket, generation: current, at: instant)
        }
    }

    func markAbsent(function: String, qualifier: String?, ticket: Ticket?) {
        guard let ticket else { return }
        entries.withLock { entries in
            if entries.absent.count >= Self.capacity { entries.absent.removeAll() }
            entries.absent[TargetKey(function: function, qualifier: qualifier ?? "$LATEST")] = ticket
        }
    }

    func version(function: String, version: Int) -> FunctionVersion? {
        guard let current = generation() else { return nil }
        let instant = now()
        let key = VersionKey(function: function, version: version)
        return entries.withLock { entries in
            guard let entry = entries.versions[key], isFresh(entry.ticket, generation: current, at: instant) else { return nil }
            return entry.value
        }
    }

    func fill(_ target: InvocationTarget, function: String, qualifier: String?, ticket: Ticket?) {
        guard let ticket else { return }
        let key = TargetKey(function: function, qualifier: qualifier ?? "$LATEST")
        entries.withLock { entries in
            if entries.targets.count >= Self.capacity { entries.targets.removeAll() }
            entries.targets[key] = Entry(value: target, ticket: ticket)
            if case .version(let version) = target { Self.insert(version, ticket: ticket, into: &entries) }
        }
    }

    func fill(_ version: FunctionVersion, ticket: Ticket?) {
        guard let ticket else { return }
        entries.withLock { Self.insert(version, ticket: ticket, into: &$0) }
    }

    private static func insert(_ version: FunctionVersion, ticket: Ticket, into entries: inout Entries) {
        if entries.versions.count >= capacity { entries.versions.removeAll() }
        entries.versions[VersionKey(function: version.functionName, version: version.version)] = Entry(value: version, ticket: ticket)
    }
}

extension StateStore {
    /// `resolveTarget`'s answer for `function` + `qualifier` without waiting, when a successful `resolveTarget` in
    /// this process answered it under the state directory's current generation within the last second
    /// (`Options.resolutionCacheLifetime`); nil otherwise: call `resolveTarget` then. Missing functions, versions and
    /// aliases are never answered here, so they always get `resolveTarget`'s error (see `cachedAbsence`).
    public func cachedTarget(function: String, qualifier: String?) -> InvocationTarget? {
        resolutionCache.target(function: function, qualifier: qualifier)
    }

    /// Whether `resolveTarget` answered ResourceNotFound for `function` + `qualifier` in this process, under the state
    /// directory's current generation and within the last second: an alias that no deployment has made yet. False
    /// when not known.
    public func cachedAbsence(function: String, qualifier: String?) -> Bool {
        resolutionCache.isAbsent(function: function, qualifier: qualifier)
    }

    /// `getVersion`'s answer without waiting, under the same rules as `cachedTarget`; nil when not known to be current.
    public func cachedVersion(function: String, version: Int) -> FunctionVersion? {
        resolutionCache.version(function: function, version: version)
    }
}
