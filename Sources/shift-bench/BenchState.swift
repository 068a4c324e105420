import ArgumentParser
import Foundation
import Runtime
#if canImport(Glibc)
import Glibc
#endif

/// `shift-bench state`: what resolving an alias and its routed version costs an invocation, from the state store's
/// cache (`cachedTarget` + `cachedVersion`) and from the database (`resolveTarget` + `getVersion`), beside the floor
/// of the cache's freshness check (one `pread` of the generation file).
struct BenchState: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state",
        abstract: "Resolve an alias and a version: ns per cache hit, µs per database read, beside one pread.")

    @Option(help: "Calls per sample of the cache and pread figures.")
    var batch = 100_000

    @Option(help: "Database resolutions measured (each one a sample).")
    var reads = 5000

    @Option(help: "Samples of the cache and pread figures (the median is reported).")
    var repeats = 15

    mutating func validate() throws {
        guard batch > 0, reads > 0, repeats > 0 else { throw ValidationError("--batch, --reads and --repeats must be positive") }
    }

    func run() async throws {
        #if DEBUG
        print("build: debug (figures are several times those of `swift run -c release shift-bench state`)")
        #else
        print("build: release")
        #endif
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("shift-bench-state-\(getpid())")
        defer { try? FileManager.default.removeItem(at: root) }
        // An hour's lifetime, so that no sample crosses an expiry and measures a miss.
        let store = try await StateStore.open(directory: root, options: .init(resolutionCacheLifetime: .seconds(3600)))
        defer { try? store.close() }
        let configuration = VersionConfiguration(runtime: "python3.12", handler: "app.handler")
        for n in 1...2 {
            try await store.publishVersion(function: "fn", configuration: configuration, code: .inline(fileName: "app.py", contents: "v\(n)"))
        }
        try await store.createAlias(function: "fn", name: "live", functionVersion: "1", routingConfig: RoutingConfig(additionalVersionWeights: ["2": 0.1]))

        // The database: one invocation of an alias reads both, one after the other.
        var targetReads: [Double] = [], versionReads: [Double] = []
        for _ in 0..<reads {
            var start = ContinuousClock.now
            _ = try await store.resolveTarget(function: "fn", qualifier: "live")
            targetReads.append(Measure.milliseconds(ContinuousClock.now - start) * 1000)
            start = ContinuousClock.now
            _ = try await store.getVersion(function: "fn", version: 2)
            versionReads.append(Measure.milliseconds(ContinuousClock.now - start) * 1000)
        }
        print("resolveTarget (alias, database): median \(Measure.format(Measure.median(targetReads))) µs, p90 \(Measure.format(Measure.percentile(targetReads, 90))) µs")
        print("getVersion (database):           median \(Measure.format(Measure.median(versionReads))) µs, p90 \(Measure.format(Measure.percentile(versionReads, 90))) µs")

        guard store.cachedTarget(function: "fn", qualifier: "live") != nil, store.cachedVersion(function: "fn", version: 2) != nil else {
            throw ValidationError("the cache did not hold the alias after resolveTarget; the figures below would measure misses")
        }
        let batch = self.batch
        func nanosecondsPerCall(_ body: () -> Bool) -> [Double] {
            Measure.milliseconds(runs: repeats) {
                var hits = 0
                for _ in 0..<batch where body() { hits += 1 }
                precondition(hits == batch, "a measured call missed")
            }.map { $0 * 1e6 / Double(batch) }
        }
        let targetHits = nanosecondsPerCall { store.cachedTarget(function: "fn", qualifier: "live") != nil }
        let versionHits = nanosecondsPerCall { store.cachedVersion(function: "fn", version: 2) != nil }
        let descriptor = open(root.appendingPathComponent("generation").path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw ValidationError("cannot open \(root.path)/generation") }
        defer { close(descriptor) }
        let preads = nanosecondsPerCall {
            var value: UInt64 = 0
            return withUnsafeMutableBytes(of: &value) { pread(descriptor, $0.baseAddress, 8, 0) } == 8
        }
        print("cachedTarget (alias, hit):       median \(Measure.format(Measure.median(targetHits), digits: 0)) ns")
        print("cachedVersion (hit):             median \(Measure.format(Measure.median(versionHits), digits: 0)) ns")
        print("floor, pread of 8 bytes:         median \(Measure.format(Measure.median(preads), digits: 0)) ns")
        let cached = Measure.median(targetHits) + Measure.median(versionHits)
        let database = (Measure.median(targetReads) + Measure.median(versionReads)) * 1000
        print("alias + routed version per invocation: \(Measure.format(cached / 1000, digits: 2)) µs cached vs \(Measure.format(database / 1000)) µs from the database (\(Measure.format(database / cached, digits: 0))x)")
    }
}
