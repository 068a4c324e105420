import Foundation
import Testing
@testable import Runtime

/// A wall clock that moves only when told to.
private final class TestWall: Sendable {
    private let now: ProtectedValue<Int64>

    init(_ start: Int64) { now = ProtectedValue(start) }

    var read: @Sendable () -> Int64 { { [now] in now.withLock { $0 } } }
    var milliseconds: Int64 { now.withLock { $0 } }
    func advance(seconds: Double) { now.withLock { $0 += Int64(seconds * 1000) } }
}

/// The pid of a process that has exited and been reaped.
private func deadPid() throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/true")
    try process.run()
    process.waitUntilExit()
    return process.processIdentifier
}

@Suite struct StateClockTests {
    /// Not on a minute boundary, so a jump to the next minute is visible.
    let t0: Int64 = 1_700_000_012_345

    private func withDirectory(_ body: (URL) throws -> Void) throws {
        let root = try makeTemporaryDirectory("clock")
        defer { removeTemporaryDirectory(root) }
        try body(root.appendingPathComponent(".shift"))
    }

    @Test func aFreshDirectoryReadsTheWall() throws {
        try withDirectory { directory in
            let wall = TestWall(t0)
            let clock = try StateClock.open(directory: directory, timeScale: 1, wallMilliseconds: wall.read)
            defer { clock.close() }
            #expect(clock.nowMilliseconds == t0)
            wall.advance(seconds: 12.5)
            #expect(clock.nowMilliseconds == wall.milliseconds)
        }
    }

    @Test func aNewOpenContinuesFromTheLastInstantOfAScaledRun() throws {
        try withDirectory { directory in
            let wall = TestWall(t0)
            let scaled = try StateClock.open(directory: directory, timeScale: 60, wallMilliseconds: wall.read)
            wall.advance(seconds: 10)
            #expect(scaled.nowMilliseconds == t0 + 600_000) // ten scaled minutes
            scaled.close()
            let last = t0 + 600_000

            // Later in real time, but not yet at the scaled run's last instant: time carries on from there.
            wall.advance(seconds: 20)
            let real = try StateClock.open(directory: directory, timeScale: 1, wallMilliseconds: wall.read)
            #expect(real.nowMilliseconds == last)
            wall.advance(seconds: 1)
            #expect(real.nowMilliseconds == last + 1000)
            real.close()

            // A scaled run again starts where the real-time one stopped, not at the wall.
            let again = try StateClock.open(directory: directory, timeScale: 60, wallMilliseconds: wall.read)
            defer { again.close() }
            #expect(again.nowMilliseconds == last + 1000)
            wall.advance(seconds: 1)
            #expect(again.nowMilliseconds == last + 1000 + 60_000)
        }
    }

    @Test func timeNeverRunsBackwardsWhenTheWallDoes() throws {
        try withDirectory { directory in
            let wall = TestWall(t0)
            let clock = try StateClock.open(directory: directory, timeScale: 60, wallMilliseconds: wall.read)
            defer { clock.close() }
            wall.advance(seconds: 2)
            let before = clock.nowMilliseconds
            wall.advance(seconds: -1) // NTP stepped the wall back
            #expect(clock.nowMilliseconds == before)
        }
    }

    @Test func aKilledUserLeavesAMarginOfOneCheckpointInterval() throws {
        try withDirectory { directory in
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let last = t0 + 300_000
            // A user at --time-scale 60 checkpointed at `last`, then was killed: its pid is gone, it never closed.
            let record = StateClock.Record(
                anchor: .init(wall: t0, virtual: t0, timeScale: 60), lastVirtual: last, closedCleanly: false,
                users: [.init(pid: try deadPid(), token: "killed")], boot: StateClock.bootIdentity())
            try record.write(directory)
            let wall = TestWall(t0 + 6_000)
            let clock = try StateClock.open(directory: directory, timeScale: 1, wallMilliseconds: wall.read)
            defer { clock.close() }
            // One second of its scaled time (a minute) past its last checkpoint.
            #expect(clock.nowMilliseconds == last + 60_000)
            #expect(StateClock.Record.read(directory)?.users.map(\.pid) == [getpid()]) // the dead user is gone
        }
    }

    @Test func anAbsurdScaleInTheFileIsReadAsTheNearestBoundNeverATrap() throws {
        try withDirectory { directory in
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            // What an older shift accepted (`--time-scale 1e300`), then killed mid-run.
            let record = StateClock.Record(
                anchor: .init(wall: t0, virtual: t0, timeScale: 1e300), lastVirtual: t0, closedCleanly: false,
                users: [.init(pid: try deadPid(), token: "killed")], boot: StateClock.bootIdentity())
            try record.write(directory)
            let clock = try StateClock.open(directory: directory, timeScale: 1, wallMilliseconds: TestWall(t0 + 6_000).read)
            defer { clock.close() }
            #expect(clock.nowMilliseconds >= t0)
            #expect(clock.nowMilliseconds < Int64.max / 4)
        }
        #expect(throws: StateError.self) { try StateClock.open(directory: URL(fileURLWithPath: "/tmp/never-created"), timeScale: 1e9) }
    }

    @Test func aCleanlyClosedUserLeavesNoMargin() throws {
        try withDirectory { directory in
            let wall = TestWall(t0)
            let first = try StateClock.open(directory: directory, timeScale: 60, wallMilliseconds: wall.read)
            wall.advance(seconds: 5)
            first.close()
            let second = try StateClock.open(directory: directory, timeScale: 1, wallMilliseconds: wall.read)
            defer { second.close() }
            #expect(second.nowMilliseconds == t0 + 300_000)
        }
    }

    @Test func twoUsersWithTheSameScaleReadTheSameInstant() throws {
        try withDirectory { directory in
            let wall = TestWall(t0)
            let first = try StateClock.open(directory: directory, timeScale: 60, wallMilliseconds: wall.read)
            defer { first.close() }
            wall.advance(seconds: 3)
            let second = try StateClock.open(directory: directory, timeScale: 60, wallMilliseconds: wall.read)
            defer { second.close() }
            #expect(second.nowMilliseconds == first.nowMilliseconds)
            #expect(first.nowMilliseconds == t0 + 180_000)
            wall.advance(seconds: 2.5)
            #expect(second.nowMilliseconds == first.nowMilliseconds)
            #expect(StateClock.Record.read(directory)?.users.count == 2)
        }
    }

    @Test func aDifferentScaleWhileAnotherUserIsLiveThrowsSayingWhatToPass() throws {
        try withDirectory { directory in
            let wall = TestWall(t0)
            let serving = try StateClock.open(directory: directory, timeScale: 60, wallMilliseconds: wall.read)
            let error = #expect(throws: StateError.self) {
                _ = try StateClock.open(directory: directory, timeScale: 1, wallMilliseconds: wall.read)
            }
            #expect(error?.code == .stateLocked)
            let message = error?.message ?? ""
            #expect(message.contains("clock runs at --time-scale 60 (used by process \(getpid()))"), "\(message)")
            #expect(message.contains("pass --time-scale 60, or stop that process"), "\(message)")
            // The failed open did not join: once the user leaves, real time may start.
            serving.close()
            let real = try StateClock.open(directory: directory, timeScale: 1, wallMilliseconds: wall.read)
            real.close()
        }
    }

    @Test func startFreshMinuteJumpsToTheNextMinuteWhenAloneAndScaled() throws {
        try withDirectory { directory in
            let wall = TestWall(t0)
            let clock = try StateClock.open(directory: directory, timeScale: 60, wallMilliseconds: wall.read)
            defer { clock.close() }
            let start = try clock.startFreshMinute()
            #expect(start == MetricsStore.periodStart(t0) + 60_000)
            #expect(start % 60_000 == 0)
            #expect(clock.nowMilliseconds == start)
            wall.advance(seconds: 1)
            #expect(clock.nowMilliseconds == start + 60_000)
            // A process joining later adopts the new anchor.
            let joined = try StateClock.open(directory: directory, timeScale: 60, wallMilliseconds: wall.read)
            defer { joined.close() }
            #expect(joined.nowMilliseconds == clock.nowMilliseconds)
        }
    }

    @Test func startFreshMinuteDoesNothingWhenSharedOrInRealTime() throws {
        try withDirectory { directory in
            let wall = TestWall(t0)
            let first = try StateClock.open(directory: directory, timeScale: 60, wallMilliseconds: wall.read)
            let second = try StateClock.open(directory: directory, timeScale: 60, wallMilliseconds: wall.read)
            #expect(try first.startFreshMinute() == t0)
            #expect(second.nowMilliseconds == first.nowMilliseconds)
            first.close()
            second.close()
        }
        try withDirectory { directory in
            let wall = TestWall(t0)
            let real = try StateClock.open(directory: directory, timeScale: 1, wallMilliseconds: wall.read)
            defer { real.close() }
            #expect(try real.startFreshMinute() == t0)
        }
    }

    @Test func aGarbageClockFileIsAFreshDirectory() throws {
        try withDirectory { directory in
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data("{\"anchor\": 7, not json".utf8).write(to: StateClock.fileURL(directory))
            let wall = TestWall(t0)
            let clock = try StateClock.open(directory: directory, timeScale: 1, wallMilliseconds: wall.read)
            #expect(clock.nowMilliseconds == t0)
            #expect(StateClock.Record.read(directory) != nil) // rewritten
            clock.close()
            clock.close() // idempotent
            let record = try #require(StateClock.Record.read(directory))
            #expect(record.users.isEmpty)
            #expect(record.closedCleanly)
        }
    }

    @Test func checkpointRecordsTheCurrentInstant() throws {
        try withDirectory { directory in
            let wall = TestWall(t0)
            let clock = try StateClock.open(directory: directory, timeScale: 60, wallMilliseconds: wall.read)
            defer { clock.close() }
            wall.advance(seconds: 4)
            try clock.checkpoint()
            let record = try #require(StateClock.Record.read(directory))
            #expect(record.lastVirtual == t0 + 240_000)
            #expect(!record.closedCleanly)
        }
    }
}
