import Foundation
import Testing
@testable import Runtime

#if canImport(Glibc)
import Glibc
#endif

@Suite struct StateStoreTests {
    @Test func stateSurvivesReopen() async throws {
        let root = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(root) }
        let directory = root.appendingPathComponent(".shift")
        let alias: AliasConfiguration
        do {
            let store = try await StateStore.open(directory: directory)
            try await store.publishVersion(function: "fn", configuration: pythonConfiguration, code: .inline(fileName: "app.py", contents: "1"))
            try await store.publishVersion(function: "fn", configuration: pythonConfiguration, code: .inline(fileName: "app.py", contents: "2"))
            alias = try await store.createAlias(function: "fn", name: "live", functionVersion: "1", routingConfig: RoutingConfig(additionalVersionWeights: ["2": 0.1]))
            try store.close()
        }
        let store = try await StateStore.open(directory: directory)
        defer { try? store.close() }
        #expect(try await store.listFunctions() == ["fn"])
        #expect(try await store.listVersions(function: "fn").map(\.version) == [1, 2])
        #expect(try await store.getAlias(function: "fn", name: "live") == alias)
        #expect(try await store.integrityCheck())
        // Numbering continues after a reopen.
        let v3 = try await store.publishVersion(function: "fn", configuration: pythonConfiguration, code: .inline(fileName: "app.py", contents: "3"))
        #expect(v3.version.version == 3)
    }

    @Test func deploymentTransitionsAreLoggedInOrder() async throws {
        try await withTemporaryStore { store, _ in
            let record = DeploymentRecord(functionName: "fn", aliasName: "live", status: "Created", currentVersion: 1, targetVersion: 2, startedAt: 1000)
            try await store.createDeployment(record)
            try await store.recordTransition(deploymentId: record.id, DeploymentTransition(at: 1100, kind: "ShiftTraffic", detail: Data(#"{"weight":0.1}"#.utf8), status: "InProgress", engineState: Data(#"{"step":1}"#.utf8)))
            try await store.recordTransition(deploymentId: record.id, DeploymentTransition(at: 1200, kind: "AlarmFired", status: "Failed", reason: "Alarm errors in ALARM", endedAt: 1200))
            let stored = try await store.deployment(id: record.id)
            #expect(stored.status == "Failed")
            #expect(stored.engineState == Data(#"{"step":1}"#.utf8)) // kept when a transition does not change it
            #expect(stored.reason == "Alarm errors in ALARM")
            #expect(stored.endedAt == 1200)
            let events = try await store.deploymentEvents(deploymentId: record.id)
            #expect(events.map(\.kind) == ["Created", "ShiftTraffic", "AlarmFired"])
            #expect(events.map(\.sequence) == events.map(\.sequence).sorted())
            #expect(try await store.listDeployments(function: "fn", alias: "live").map(\.id) == [record.id])
            #expect(try await store.unfinishedDeployments().isEmpty)
            let missing = await #expect(throws: StateError.self) { try await store.recordTransition(deploymentId: "nope", DeploymentTransition(at: 0, kind: "X")) }
            #expect(missing?.code == .resourceNotFound)
        }
    }

    @Test func deadLettersAndLogsAreStored() async throws {
        try await withTemporaryStore { store, _ in
            let stored = try await store.addDeadLetter(DeadLetterRecord(
                functionName: "fn", qualifier: "live", requestId: "r1", condition: "RetriesExhausted", errorType: "Unhandled",
                errorMessage: "boom", approximateInvokeCount: 3, payload: Data("{}".utf8), recordedAt: 5))
            #expect(stored.id > 0)
            #expect(try await store.deadLetters(function: "fn") == [stored])
            try await store.appendLogs([
                LogRecord(functionName: "fn", version: "2", stream: "2026/11/25/[2]abc", requestId: "r1", timestamp: 10, message: "START RequestId: r1 Version: 2"),
                LogRecord(functionName: "fn", version: "2", stream: "2026/11/25/[2]abc", requestId: "r1", timestamp: 11, message: "END RequestId: r1"),
                LogRecord(functionName: "fn", version: "2", stream: "2026/11/25/[2]abc", requestId: "r2", timestamp: 12, message: "START RequestId: r2 Version: 2"),
            ])
            #expect(try await store.logs(function: "fn", requestId: "r1").map(\.message) == ["START RequestId: r1 Version: 2", "END RequestId: r1"])
            #expect(try await store.logs(function: "fn", from: 11, to: 13).count == 2)
        }
    }

    @Test func logLinesStoredTogetherComeBackOneByOneWithTheirTimes() async throws {
        let root = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(root) }
        let store = try await StateStore.open(directory: root.appendingPathComponent(".shift"))
        defer { try? store.close() }
        func line(_ request: String?, _ time: Int64, _ message: String, stream: String = "s1") -> LogRecord {
            LogRecord(functionName: "fn", version: "1", stream: stream, requestId: request, timestamp: time, message: message)
        }
        let lines = [line("r1", 10, "START RequestId: r1"), line("r1", 10, "carriage return\r"), line(nil, 10, "other stream", stream: "s2"),
                     line("r1", 10, ""), line("r1", 10, "END RequestId: r1"), line("r1", 11, "REPORT RequestId: r1"), line("r2", 11, "START RequestId: r2")]
        #expect(StateStore.grouped(lines).count == 4)  // r1 at 10, s2, r1 at 11, r2
        try await store.appendLogs(lines)
        let back = try await store.logs(function: "fn")
        #expect(back.map(\.message) == ["START RequestId: r1", "carriage return\r", "", "END RequestId: r1", "other stream", "REPORT RequestId: r1", "START RequestId: r2"])
        #expect(back.map(\.timestamp) == [10, 10, 10, 10, 10, 11, 11])
        #expect(back.map(\.stream) == ["s1", "s1", "s1", "s1", "s2", "s1", "s1"])
        #expect(try await store.logs(function: "fn", limit: 3).map(\.message) == ["START RequestId: r1", "carriage return\r", ""])
        #expect(try await store.logs(function: "fn", requestId: "r1").count == 5)
        // A stream's lines keep their order even when one without a request comes after an invocation in the same ms.
        let ordered = [line(nil, 20, "init output"), line("r3", 20, "START RequestId: r3"), line("r3", 20, "REPORT RequestId: r3"),
                       line(nil, 20, "a background thread after it")]
        try await store.appendLogs(ordered)
        #expect(try await store.logs(function: "fn", from: 20).map(\.message) == ordered.map(\.message))
    }

    @Test func storedInstantsComeFromTheStoreClock() async throws {
        let root = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(root) }
        let clock = ManualClock(startMilliseconds: 1_800_000_000_000)
        let store = try await StateStore.open(directory: root.appendingPathComponent(".shift"), options: .init(clock: clock))
        defer { try? store.close() }
        let published = try await store.publishVersion(function: "fn", configuration: pythonConfiguration, code: .inline(fileName: "app.py", contents: "1"))
        #expect(published.version.publishedAt == 1_800_000_000_000)
        clock.advance(by: .seconds(90))
        try await store.createAlias(function: "fn", name: "live", functionVersion: "1")
        let updatedAt = try await store.read { db in try Int64.fetchOne(db, sql: "SELECT updated_at FROM aliases WHERE name = 'live'") }
        #expect(updatedAt == 1_800_000_090_000)
    }

    @Test func aSecondAliasLockFailsAtOnceNamingThePidAndTheHolder() throws {
        let root = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(root) }
        let lock = try AliasLock.acquire(directory: root, function: "Greeter", alias: "live", holder: "deployment 5f3c")
        defer { lock.release() }
        let error = #expect(throws: StateError.self) {
            _ = try AliasLock.acquire(directory: root, function: "Greeter", alias: "live", holder: "deployment other")
        }
        #expect(error?.code == .stateLocked)
        #expect(error?.message == "Greeter:live is being deployed by process \(getpid()) (deployment 5f3c); wait for it, or stop it (kill \(getpid())) and deploy again to resume.")
        // Another alias of the same function, and the same alias name of another function, are free.
        try AliasLock.acquire(directory: root, function: "Greeter", alias: "beta", holder: "deployment b").release()
        try AliasLock.acquire(directory: root, function: "Other", alias: "live", holder: "deployment c").release()
    }

    @Test func anAliasLockIsFreeAfterReleaseAndAfterDeinit() throws {
        let root = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(root) }
        let first = try AliasLock.acquire(directory: root, function: "fn", alias: "live", holder: "deployment 1")
        first.release()
        first.release() // idempotent
        do {
            _ = try AliasLock.acquire(directory: root, function: "fn", alias: "live", holder: "deployment 2")
        } // dropped here
        let third = try AliasLock.acquire(directory: root, function: "fn", alias: "live", holder: "rollback 3")
        third.release()
    }

    @Test func aliasLockFileNamesCannotEscapeTheLocksFolder() {
        #expect(AliasLock.fileNameComponent("Greeter-1_a") == "Greeter-1_a")
        #expect(AliasLock.fileNameComponent("../x@y.%") == "%2E%2E%2Fx%40y%2E%25")
    }

    /// A child process (python3) holds the alias lock; while it lives the alias is refused naming its pid,
    /// and after `kill -9` the kernel has released the lock.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")))
    func aKilledHolderFreesTheAlias() async throws {
        let root = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(root) }
        _ = try AliasLock.acquire(directory: root, function: "fn", alias: "live", holder: "setup") // creates locks/
        let script = """
            import fcntl, os, sys, time
            lock = open(sys.argv[1], "a+")
            fcntl.flock(lock, fcntl.LOCK_EX)
            lock.seek(0); lock.truncate(); lock.write(f"{os.getpid()} deployment child\\n"); lock.flush()
            print("locked", flush=True)
            time.sleep(60)
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script, root.appendingPathComponent("locks/fn@live.lock").path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        #expect(await LineReader(output.fileHandleForReading).next() == "locked")

        let error = #expect(throws: StateError.self) {
            _ = try AliasLock.acquire(directory: root, function: "fn", alias: "live", holder: "deployment parent")
        }
        #expect(error?.message.contains("process \(process.processIdentifier) (deployment child)") == true, "\(error?.message ?? "")")

        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let lock = try AliasLock.acquire(directory: root, function: "fn", alias: "live", holder: "deployment parent")
        lock.release()
    }

    /// Two stores (as two processes would) open one fresh directory at once, then publish versions of one
    /// function and flush metrics of one period concurrently: no migration clash, no busy failure, no lost count.
    @Test func twoStoresOnOneDirectoryWriteConcurrentlyWithoutLosingAnything() async throws {
        let root = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(root) }
        let directory = root.appendingPathComponent(".shift")
        async let openedA = StateStore.open(directory: directory)
        async let openedB = StateStore.open(directory: directory)
        let stores = try await [openedA, openedB]
        defer { for store in stores { try? store.close() } }

        let publishes = 25, rounds = 20, samplesPerRound = 50
        let start: Int64 = 1_700_000_040_000
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, store) in stores.enumerated() {
                group.addTask {
                    for n in 0..<publishes {
                        try await store.publishVersion(function: "fn", configuration: pythonConfiguration, code: .inline(fileName: "app.py", contents: "\(index)-\(n)"))
                    }
                }
                group.addTask {
                    let metrics = try MetricsStore(store: store)
                    for _ in 0..<rounds {
                        for i in 0..<samplesPerRound {
                            metrics.record(InvocationSample(functionName: "fn", qualifier: "live", executedVersion: "1",
                                                            startMilliseconds: start + Int64(i), durationMilliseconds: 1, errorType: i % 5 == 0 ? "Unhandled" : nil))
                        }
                        try metrics.flush()
                        await Task.yield()
                    }
                }
            }
            try await group.waitForAll()
        }

        #expect(try await stores[0].listVersions(function: "fn").map(\.version) == Array(1...(2 * publishes)))
        let reader = try MetricsStore(store: stores[1])
        let alias = ["FunctionName": "fn", "Resource": "fn:live"]
        let invocations = try reader.datapoints(metric: .invocations, dimensions: alias, from: start, to: start + 60_000)
        let errors = try reader.datapoints(metric: .errors, dimensions: alias, from: start, to: start + 60_000)
        #expect(invocations.map(\.sum) == [Double(2 * rounds * samplesPerRound)])
        #expect(errors.map(\.sum) == [Double(2 * rounds * samplesPerRound / 5)])
        #expect(try await stores[0].integrityCheck())
    }

    @Test func aReadOnlyStoreOpensBesideAWriter() async throws {
        try await withTemporaryStore { store, _ in
            try await store.registerFunction("fn")
            let reader = try await StateStore.open(directory: store.directory, options: .init(readOnly: true))
            defer { try? reader.close() }
            #expect(try await reader.listFunctions() == ["fn"])
        }
    }

    /// A second process (python3) writes transactions in a loop; meanwhile a store opens the same directory
    /// and writes too; after `kill -9` mid-writes the state passes the integrity check and shows a
    /// consistent last committed transaction.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")))
    func killDashNineDuringWritesLeavesAReadableState() async throws {
        let root = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(root) }
        let directory = root.appendingPathComponent(".shift")
        do {
            let store = try await StateStore.open(directory: directory)
            try await store.createDeployment(DeploymentRecord(id: "d1", functionName: "fn", aliasName: "live", status: "InProgress", currentVersion: 1, targetVersion: 2, startedAt: 0))
            try store.close()
        }
        let script = """
            import sqlite3, os, sys
            state = sys.argv[1]
            db = sqlite3.connect(os.path.join(state, "state.sqlite"), isolation_level=None, timeout=10)
            print("started", flush=True)
            i = 0
            while True:
                db.execute("BEGIN IMMEDIATE")
                db.execute("INSERT INTO deployment_events (deployment_id, at, kind, detail) VALUES ('d1', ?, 'Tick', ?)", (i, os.urandom(4000)))
                db.execute("UPDATE deployments SET engine_state = ? WHERE id = 'd1'", (str(i).encode(),))
                db.execute("COMMIT")
                i += 1
                if i == 300: print("written", flush=True)
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script, directory.path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        let lines = LineReader(output.fileHandleForReading)
        #expect(await lines.next() == "started")

        // The directory is shared now: a store opens and writes while the other process does.
        do {
            let beside = try await StateStore.open(directory: directory)
            try await beside.registerFunction("beside")
            try beside.close()
        }

        #expect(await lines.next() == "written")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)

        let store = try await StateStore.open(directory: directory)
        defer { try? store.close() }
        #expect(try await store.integrityCheck())
        let ticks = try await store.deploymentEvents(deploymentId: "d1").filter { $0.kind == "Tick" }
        #expect(ticks.count >= 300)
        // The row update and the event insert were one transaction: both or neither survived.
        let state = try await store.deployment(id: "d1").engineState.map { String(decoding: $0, as: UTF8.self) }
        #expect(state == String(ticks.count - 1))
        #expect(try await store.listFunctions() == ["beside"])
        try await store.registerFunction("after-crash") // and it is writable
    }
}

/// Reads lines from a pipe on a background thread.
private final class LineReader: Sendable {
    private let handle: FileHandle
    private let buffer = ProtectedValue(Data())

    init(_ handle: FileHandle) { self.handle = handle }

    func next() async -> String? {
        let handle = self.handle, buffer = self.buffer
        return await Task.detached {
            while true {
                let line: String? = buffer.withLock { data in
                    guard let newline = data.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
                    let line = String(decoding: data[data.startIndex..<newline], as: UTF8.self)
                    data = Data(data[(newline + 1)...])
                    return line
                }
                if let line { return line }
                let chunk = handle.availableData
                if chunk.isEmpty { return nil }
                buffer.withLock { $0.append(chunk) }
            }
        }.value
    }
}
