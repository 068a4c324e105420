import Foundation
import Testing
@testable import Runtime

/// The CPUs a Python function's main thread may run on, read by the function itself: at init (module level) and
/// during each invocation. An event `{"sleep": ms}` makes the invocation run that long: the function's own work, the
/// input the placement judges (it counts invocations of 2 ms or more), not a wait of the test's; every assertion reads
/// what the function reported once its call has returned.
private let affinityReporter = """
    import time
    def cpus():
        for line in open("/proc/self/status"):
            if line.startswith("Cpus_allowed_list:"):
                return line.split(":", 1)[1].strip()
    AT_INIT = cpus()
    def handler(event, context):
        time.sleep(event.get("sleep", 0) / 1000)
        return {"init": AT_INIT, "now": cpus()}
    """

/// `0-2,5` as a set.
private func cpuSet(_ list: Any?) -> Set<Int> {
    guard let list = list as? String else { return [] }
    var cpus: Set<Int> = []
    for range in list.split(separator: ",") {
        let bounds = range.split(separator: "-").compactMap { Int($0) }
        if let low = bounds.first, let high = bounds.last, low <= high { cpus.formUnion(low...high) }
    }
    return cpus
}

@Suite("CPU placement", .enabled(if: CPUPlacement.allowed.count > 1, "needs more than one CPU and CPU affinity (Linux)"))
struct CPUPlacementTests {
    private let everyCPU = Set(CPUPlacement.allowed)

    @Test func aWarmEnvironmentRunsOnItsLoopsCPUAfterStartingAnywhere() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["app.py": affinityReporter])
        let config = FunctionConfiguration(functionName: "placed", runtime: "python3.11", handler: "app.handler", codeDirectory: code, timeout: 10)
        try await withLocalRuntime(options: testOptions()) { runtime in
            let first = try await runtime.invoke(config, payload: bytes("{}"))
            #expect(first.functionError == nil, "\(first.text)\n\(first.log)")
            // The cold start ran on every CPU; the first event already on one.
            #expect(cpuSet(first.json["init"]) == everyCPU)
            let placed = cpuSet(first.json["now"])
            #expect(placed.count == 1 && placed.isSubset(of: everyCPU), "\(first.text)")
            let second = try await runtime.invoke(config, payload: bytes("{}"))
            #expect(cpuSet(second.json["now"]) == placed)
            #expect(second.environmentId == first.environmentId)
        }
    }

    @Test func longInvocationsInARowReleaseTheEnvironmentToEveryCPU() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["app.py": affinityReporter])
        let config = FunctionConfiguration(functionName: "released", runtime: "python3.11", handler: "app.handler", codeDirectory: code, timeout: 10)
        let long = bytes(#"{"sleep": \#(Int(CPUPlacement.releaseAfter / .milliseconds(1)) + 3)}"#)
        try await withLocalRuntime(options: testOptions()) { runtime in
            let first = try await runtime.invoke(config, payload: bytes("{}"))
            #expect(first.functionError == nil, "\(first.text)\n\(first.log)")
            let placed = cpuSet(first.json["now"])
            #expect(placed.count == 1)
            // Fewer long runs than it takes, then a short one: the count starts again and it stays.
            for _ in 1..<CPUPlacement.releaseAfterRuns { _ = try await runtime.invoke(config, payload: long) }
            #expect(cpuSet(try await runtime.invoke(config, payload: bytes("{}")).json["now"]) == placed)
            for _ in 0..<CPUPlacement.releaseAfterRuns {
                #expect(cpuSet(try await runtime.invoke(config, payload: long).json["now"]) == placed)
            }
            let after = try await runtime.invoke(config, payload: bytes("{}"))
            #expect(cpuSet(after.json["now"]) == everyCPU, "\(after.text)")
            #expect(after.environmentId == first.environmentId)
        }
    }
}
