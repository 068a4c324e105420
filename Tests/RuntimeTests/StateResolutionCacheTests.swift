import Foundation
import Synchronization
import Testing
@testable import Runtime

/// The resolution cache's ages, on a clock that moves only when a test says, so that no assertion depends on
/// how fast the machine is.
final class ManualCacheClock: Sendable {
    private let base = ContinuousClock.now
    private let offset = Mutex(Duration.zero)

    func now() -> ContinuousClock.Instant { base + offset.withLock { $0 } }
    func advance(by duration: Duration) { offset.withLock { $0 += duration } }
}

/// Stores opened on one state directory, as separate processes would (each its own database pool, cache and
/// generation descriptor), with function `fn` at versions 1–3 and alias `live` → 1 plus 2 at 10 %.
private struct SharedDirectory {
    let root: URL
    let clock = ManualCacheClock()
    var directory: URL { root.appendingPathComponent(".shift") }
    var generationPath: String { directory.appendingPathComponent(ResolutionCache.fileName).path }

    static let tenPercent = RoutingConfig(additionalVersionWeights: ["2": 0.1])
    static let half = RoutingConfig(additionalVersionWeights: ["2": 0.5])

    func open(readOnly: Bool = false, lifetime: Duration = .seconds(1)) async throws -> StateStore {
        var options = StateStore.Options(readOnly: readOnly, resolutionCacheLifetime: lifetime)
        let clock = self.clock
        options.resolutionCacheClock = { clock.now() }
        return try await StateStore.open(directory: directory, options: options)
    }

    static func with(_ body: (SharedDirectory, StateStore) async throws -> Void) async throws {
        let shared = SharedDirectory(root: try makeTemporaryDirectory())
        defer { removeTemporaryDirectory(shared.root) }
        let store = try await shared.open()
        defer { try? store.close() }
        for n in 1...3 {
            try await store.publishVersion(function: "fn", configuration: pythonConfiguration, code: .inline(fileName: "app.py", contents: "v\(n)"))
        }
        try await store.createAlias(function: "fn", name: "live", functionVersion: "1", routingConfig: tenPercent)
        try await body(shared, store)
    }

    func generationBytes() throws -> Data { try Data(contentsOf: URL(fileURLWithPath: generationPath)) }
    /// Rewrites the file in place (as a writer does), never replacing it: the stores keep it open.
    func setGenerationBytes(_ bytes: Data) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: generationPath))
        defer { try? handle.close() }
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: bytes)
    }
}

private extension InvocationTarget {
    var routing: RoutingConfig? {
        if case .alias(let alias) = self { return alias.routingConfig }
        return nil
    }
}

/// What the writer of `racingUpdatesNeverLeaveAnOlderAnswerInTheCache` has done so far.
private final class UpdateProgress: Sendable {
    /// Revision id → its place in the sequence of updates.
    let order = Mutex([String: Int]())
    /// The place of the last update that has returned.
    let returned = Mutex(-1)
    /// Answers the reader got from the cache.
    let hits = Mutex(0)
}

@Suite struct StateResolutionCacheTests {
    @Test func aResolvedAliasIsCachedAndAnUpdateNeverLeavesTheOldWeights() async throws {
        try await SharedDirectory.with { _, store in
            #expect(store.cachedTarget(function: "fn", qualifier: "live") == nil, "nothing is cached before a resolve")
            let resolved = try await store.resolveTarget(function: "fn", qualifier: "live")
            #expect(store.cachedTarget(function: "fn", qualifier: "live") == resolved)
            #expect(resolved.routing == SharedDirectory.tenPercent)

            try await store.updateAlias(function: "fn", name: "live", routingConfig: SharedDirectory.half)
            #expect(store.cachedTarget(function: "fn", qualifier: "live") == nil)
            #expect(try await store.resolveTarget(function: "fn", qualifier: "live").routing == SharedDirectory.half)
            #expect(store.cachedTarget(function: "fn", qualifier: "live")?.routing == SharedDirectory.half)
        }
    }

    @Test func latestVersionsAndNoQualifierAreCachedToo() async throws {
        try await SharedDirectory.with { _, store in
            _ = try await store.resolveTarget(function: "fn", qualifier: nil)
            #expect(store.cachedTarget(function: "fn", qualifier: nil) == .latest(functionName: "fn"))
            #expect(store.cachedTarget(function: "fn", qualifier: "$LATEST") == .latest(functionName: "fn"))

            let two = try await store.resolveTarget(function: "fn", qualifier: "2")
            #expect(store.cachedTarget(function: "fn", qualifier: "2") == two)
            // A numbered qualifier's version serves `cachedVersion` as well.
            guard case .version(let version) = two else { Issue.record("version 2 resolved to \(two)"); return }
            #expect(store.cachedVersion(function: "fn", version: 2) == version)
            #expect(store.cachedVersion(function: "fn", version: 3) == nil)
            let three = try await store.getVersion(function: "fn", version: 3)
            #expect(store.cachedVersion(function: "fn", version: 3) == three)
        }
    }

    @Test func missingFunctionsVersionsAndAliasesAreNeverCached() async throws {
        try await SharedDirectory.with { _, store in
            for (function, qualifier) in [("fn", "beta"), ("fn", "9"), ("nope", nil)] as [(String, String?)] {
                await #expect(throws: StateError.self) { try await store.resolveTarget(function: function, qualifier: qualifier) }
                #expect(store.cachedTarget(function: function, qualifier: qualifier) == nil)
            }
            await #expect(throws: StateError.self) { try await store.getVersion(function: "fn", version: 9) }
            #expect(store.cachedVersion(function: "fn", version: 9) == nil)
        }
    }

    /// An alias no deployment has made yet is known missing, so the front door can serve `$LATEST` without a read, until
    /// any process makes it (or a second passes).
    @Test func aMissingAliasIsKnownMissingUntilAnyStoreMakesIt() async throws {
        try await SharedDirectory.with { shared, store in
            let other = try await shared.open(lifetime: .seconds(3600))
            defer { try? other.close() }
            #expect(!other.cachedAbsence(function: "fn", qualifier: "beta"))
            await #expect(throws: StateError.self) { try await other.resolveTarget(function: "fn", qualifier: "beta") }
            #expect(other.cachedAbsence(function: "fn", qualifier: "beta"))
            #expect(!other.cachedAbsence(function: "fn", qualifier: "live"))
            _ = try await store.createAlias(function: "fn", name: "beta", functionVersion: "3")
            #expect(!other.cachedAbsence(function: "fn", qualifier: "beta"))
            _ = try await other.resolveTarget(function: "fn", qualifier: "beta")  // no longer missing
        }
    }

    /// What two processes on one directory do: the store that did not write learns of the write at once,
    /// through the generation file alone (the lifetime is an hour: only the generation can drop the answers).
    @Test func aWriteThroughAnotherStoreDropsTheCachedAnswersAtOnce() async throws {
        try await SharedDirectory.with { shared, writer in
            let server = try await shared.open(lifetime: .seconds(3600))
            defer { try? server.close() }
            let reader = try await shared.open(readOnly: true, lifetime: .seconds(3600))
            defer { try? reader.close() }
            for store in [server, reader] {
                _ = try await store.resolveTarget(function: "fn", qualifier: "live")
                _ = try await store.getVersion(function: "fn", version: 2)
                #expect(store.cachedTarget(function: "fn", qualifier: "live")?.routing == SharedDirectory.tenPercent)
                #expect(store.cachedVersion(function: "fn", version: 2) != nil)
            }

            try await writer.updateAlias(function: "fn", name: "live", routingConfig: SharedDirectory.half)
            for store in [server, reader] {
                #expect(store.cachedTarget(function: "fn", qualifier: "live") == nil)
                #expect(store.cachedVersion(function: "fn", version: 2) == nil)
                #expect(try await store.resolveTarget(function: "fn", qualifier: "live").routing == SharedDirectory.half)
                #expect(store.cachedTarget(function: "fn", qualifier: "live")?.routing == SharedDirectory.half)
            }
        }
    }

    @Test func deletingAVersionDropsItHereAndInAnotherStore() async throws {
        try await SharedDirectory.with { shared, store in
            let other = try await shared.open(lifetime: .seconds(3600))
            defer { try? other.close() }
            _ = try await store.getVersion(function: "fn", version: 3)
            _ = try await other.getVersion(function: "fn", version: 3)
            try await store.deleteVersion(function: "fn", version: 3)
            #expect(store.cachedVersion(function: "fn", version: 3) == nil)
            #expect(other.cachedVersion(function: "fn", version: 3) == nil)
            await #expect(throws: StateError.self) { try await other.getVersion(function: "fn", version: 3) }
        }
    }

    /// Updates through one store while another resolves and reads its cache as fast as it can: an answer the cache
    /// gives is never older than the last update that had returned before the call was made.
    @Test func racingUpdatesNeverLeaveAnOlderAnswerInTheCache() async throws {
        try await SharedDirectory.with { shared, writer in
            let server = try await shared.open(lifetime: .seconds(3600))
            defer { try? server.close() }
            let updates = 150
            let progress = UpdateProgress()
            let first = try await writer.getAlias(function: "fn", name: "live")
            progress.order.withLock { $0[first.revisionId] = -1 }
            let stale = try await withThrowingTaskGroup(of: Int.self) { group in
                group.addTask {
                    for n in 0..<updates {
                        let weight = Double(n % 9 + 1) / 10
                        let alias = try await writer.updateAlias(function: "fn", name: "live", routingConfig: RoutingConfig(additionalVersionWeights: ["2": weight]))
                        progress.order.withLock { $0[alias.revisionId] = n }
                        progress.returned.withLock { $0 = n }
                    }
                    return 0
                }
                group.addTask {
                    var stale = 0
                    while progress.returned.withLock({ $0 }) < updates - 1 {
                        _ = try await server.resolveTarget(function: "fn", qualifier: "live")
                        for _ in 0..<20 {
                            let before = progress.returned.withLock { $0 }
                            guard case .alias(let alias) = server.cachedTarget(function: "fn", qualifier: "live") else { continue }
                            progress.hits.withLock { $0 += 1 }
                            // An answer read after an update returned carries that update's revision or a later one's;
                            // one the writer has not recorded yet is later still.
                            if let place = progress.order.withLock({ $0[alias.revisionId] }), place < before { stale += 1 }
                        }
                    }
                    return stale
                }
                return try await group.reduce(0, +)
            }
            #expect(stale == 0)
            #expect(progress.hits.withLock { $0 } > 0, "the reader got answers from the cache while the writer wrote")
            #expect(try await server.resolveTarget(function: "fn", qualifier: "live").routing == RoutingConfig(additionalVersionWeights: ["2": Double((updates - 1) % 9 + 1) / 10]))
        }
    }

    /// Version numbers start again at 1 after DeleteFunction: a cached version 1 must not outlive its function.
    @Test func deletingAndRecreatingAFunctionDropsItsVersions() async throws {
        try await SharedDirectory.with { shared, store in
            let other = try await shared.open(lifetime: .seconds(3600))
            defer { try? other.close() }
            let old = try await other.getVersion(function: "fn", version: 1)
            try await store.deleteFunction("fn")
            #expect(other.cachedVersion(function: "fn", version: 1) == nil)
            let new = try await store.publishVersion(function: "fn", configuration: pythonConfiguration, code: .inline(fileName: "app.py", contents: "new")).version
            #expect(new.version == 1 && new.codeSha256 != old.codeSha256)
            #expect(try await other.getVersion(function: "fn", version: 1) == new)
            #expect(other.cachedVersion(function: "fn", version: 1) == new)
        }
    }

    /// A writer that died between its commit and the generation write: the generation is as before the write
    /// (put back here by hand), so the other store still answers from its cache, until the lifetime (1 s) passes.
    /// This is also what the tests above would see without the generation check.
    @Test func withoutAGenerationChangeAnAnswerLastsOneLifetimeAtMost() async throws {
        try await SharedDirectory.with { shared, writer in
            let server = try await shared.open()
            defer { try? server.close() }
            _ = try await server.resolveTarget(function: "fn", qualifier: "live")
            let before = try shared.generationBytes()
            try await writer.updateAlias(function: "fn", name: "live", routingConfig: SharedDirectory.half)
            #expect(try shared.generationBytes() != before, "the write changed the generation")
            try shared.setGenerationBytes(before)

            #expect(server.cachedTarget(function: "fn", qualifier: "live")?.routing == SharedDirectory.tenPercent)
            shared.clock.advance(by: .milliseconds(999))
            #expect(server.cachedTarget(function: "fn", qualifier: "live")?.routing == SharedDirectory.tenPercent)
            shared.clock.advance(by: .milliseconds(1))
            #expect(server.cachedTarget(function: "fn", qualifier: "live") == nil)
            #expect(try await server.resolveTarget(function: "fn", qualifier: "live").routing == SharedDirectory.half)
        }
    }

    /// Whatever is in the file, a value other than the one an answer was read under only ever causes a reload.
    @Test func aTornShortOrMissingGenerationOnlyCausesReloads() async throws {
        try await SharedDirectory.with { shared, store in
            let resolved = try await store.resolveTarget(function: "fn", qualifier: "live")
            var torn = try shared.generationBytes()
            torn[0] ^= 0xFF
            try shared.setGenerationBytes(torn)
            #expect(store.cachedTarget(function: "fn", qualifier: "live") == nil)
            _ = try await store.resolveTarget(function: "fn", qualifier: "live")
            #expect(store.cachedTarget(function: "fn", qualifier: "live") == resolved)

            try shared.setGenerationBytes(Data([1, 2, 3]))
            #expect(store.cachedTarget(function: "fn", qualifier: "live") == nil)
            #expect(try await store.resolveTarget(function: "fn", qualifier: "live") == resolved)
            #expect(store.cachedTarget(function: "fn", qualifier: "live") == nil, "a short generation is never trusted")

            // The next write puts a whole value back, and the cache works again.
            try await store.updateAlias(function: "fn", name: "live", description: "again")
            let updated = try await store.resolveTarget(function: "fn", qualifier: "live")
            #expect(store.cachedTarget(function: "fn", qualifier: "live") == updated)

        }
    }

    @Test func aReadOnlyStoreWithoutTheFileCreatesNothingAndCachesNothing() async throws {
        try await SharedDirectory.with { shared, _ in
            try FileManager.default.removeItem(atPath: shared.generationPath)
            let reader = try await shared.open(readOnly: true)
            defer { try? reader.close() }
            #expect(try await reader.resolveTarget(function: "fn", qualifier: "live").routing == SharedDirectory.tenPercent)
            #expect(reader.cachedTarget(function: "fn", qualifier: "live") == nil)
            #expect(!FileManager.default.fileExists(atPath: shared.generationPath))
        }
    }

    @Test func theGenerationFileIsTheOwnersAlone() async throws {
        try await SharedDirectory.with { shared, _ in
            let mode = (try FileManager.default.attributesOfItem(atPath: shared.generationPath)[.posixPermissions] as? Int ?? -1) & 0o777
            #expect(String(mode, radix: 8) == "600")
            #expect(try shared.generationBytes().count == 8)
        }
    }
}
