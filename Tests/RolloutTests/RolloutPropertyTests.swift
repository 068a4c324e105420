import Foundation
import Testing
@testable import Rollout

/// SplitMix64: a tiny seeded generator so property runs are reproducible without extra packages.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One input of a random run.
enum Event: Equatable {
    case start, hook(LifecycleHook, Bool), alarm(String, AlarmState), timer, timerAtDeadline, abort
}

struct Run {
    var rollout: Rollout
    var log: [(event: Event, at: Instant, actions: [RolloutAction])] = []
}

func randomConfiguration(_ g: inout SeededGenerator) -> RolloutConfiguration {
    let names = TrafficSchedule.predefinedNames + [
        "Canary\(Int.random(in: 1...99, using: &g))Percent\(Int.random(in: 1...20, using: &g))Minutes",
        "Linear\(Int.random(in: 1...99, using: &g))PercentEvery\(Int.random(in: 1...5, using: &g))Minutes",
    ]
    var hooks: Set<LifecycleHook> = []
    if Bool.random(using: &g) { hooks.insert(.preTraffic) }
    if Bool.random(using: &g) { hooks.insert(.postTraffic) }
    return RolloutConfiguration(
        newVersion: "7",
        schedule: try! TrafficSchedule(named: names.randomElement(using: &g)!),
        hooks: hooks,
        hookTimeout: .seconds(60 * Int64.random(in: 1...90, using: &g)),
        bakeTime: Bool.random(using: &g) ? .zero : .seconds(60 * Int64.random(in: 1...10, using: &g)))
}

func randomEvents(_ g: inout SeededGenerator) -> [(Event, Int64)] {
    var events: [(Event, Int64)] = []
    var clock: Int64 = 0
    for _ in 0..<Int.random(in: 1...80, using: &g) {
        clock += Int64.random(in: 0...(10 * 60_000), using: &g)
        let event: Event
        switch Int.random(in: 0..<100, using: &g) {
        case 0..<8: event = .start
        case 8..<20: event = .hook(LifecycleHook.allCases.randomElement(using: &g)!, Int.random(in: 0..<10, using: &g) > 1)
        case 20..<30:
            let state: AlarmState = Int.random(in: 0..<10, using: &g) == 0 ? .alarm : [.ok, .insufficientData].randomElement(using: &g)!
            event = .alarm(["a", "b"].randomElement(using: &g)!, state)
        case 30..<55: event = .timer
        case 55..<98: event = .timerAtDeadline
        default: event = .abort
        }
        events.append((event, clock))
    }
    return events
}

/// Drives a rollout; with `persistEachStep` the value is JSON-encoded and decoded between inputs.
func drive(_ configuration: RolloutConfiguration, _ events: [(Event, Int64)], persistEachStep: Bool = false) -> Run {
    var run = Run(rollout: Rollout(configuration: configuration))
    var now = Instant.minutes(1_000_000)
    for (event, offset) in events {
        let t = Instant.minutes(1_000_000) + .milliseconds(offset)
        now = max(now, t)
        if persistEachStep {
            run.rollout = try! JSONDecoder().decode(Rollout.self, from: JSONEncoder().encode(run.rollout))
        }
        let actions: [RolloutAction]
        switch event {
        case .start: actions = run.rollout.start(at: now)
        case let .hook(hook, ok): actions = run.rollout.hookFinished(hook, succeeded: ok, at: now)
        case let .alarm(name, state): actions = run.rollout.alarmChanged(name, to: state, at: now)
        case .timer: actions = run.rollout.timerFired(at: now)
        case .timerAtDeadline:
            if let deadline = run.rollout.nextDeadline { now = max(now, deadline) }
            actions = run.rollout.timerFired(at: now)
        case .abort: actions = run.rollout.abort(reason: "property", at: now)
        }
        run.log.append((event, now, actions))
    }
    // Every run must end: abort whatever is still going.
    let last = run.rollout.abort(reason: "end of run", at: now)
    run.log.append((.abort, now, last))
    return run
}

struct RolloutPropertyTests {
    static let seeds: [UInt64] = Array(1...400)

    @Test(arguments: seeds)
    func weightsOnlyRiseUntilRollbackAndEveryRunEndsOnce(seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        let configuration = randomConfiguration(&g)
        let run = drive(configuration, randomEvents(&g))
        var weight = 0.0
        var rolledBack = false
        var finishes: [DeploymentStatus] = []
        var touched = false
        for entry in run.log {
            if !finishes.isEmpty { #expect(entry.actions.isEmpty, "seed \(seed): actions after finish") }
            for action in entry.actions {
                switch action {
                case let .setWeight(version, w):
                    #expect(version == "7")
                    #expect(!rolledBack, "seed \(seed): weight after rollback")
                    #expect(w > weight && w <= 1, "seed \(seed): weight \(w) after \(weight)")
                    weight = w
                    touched = true
                case .rollBack:
                    #expect(touched, "seed \(seed): rollback of an untouched alias")
                    #expect(!rolledBack)
                    rolledBack = true
                    weight = 0
                case let .finish(status, reason):
                    #expect(status.isFinal)
                    #expect(!reason.isEmpty)
                    finishes.append(status)
                case let .wake(t):
                    #expect(t >= entry.at)
                case let .invokeHook(_, deadline):
                    #expect(deadline > entry.at)
                }
            }
        }
        #expect(finishes.count == 1, "seed \(seed): \(finishes)")
        #expect(finishes.first == run.rollout.status)
        #expect(run.rollout.weight == weight || (run.rollout.status == .succeeded && weight == 1))
        if run.rollout.status == .succeeded { #expect(weight == 1 && !rolledBack) }
        if run.rollout.hookVerdicts[.preTraffic].map({ $0 != .succeeded }) == true { #expect(!touched) }
        if rolledBack { #expect(run.rollout.status == .failed || run.rollout.status == .stopped) }
    }

    @Test(arguments: seeds.prefix(100))
    func sameInputsGiveSameActionsAndPersistenceChangesNothing(seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        let configuration = randomConfiguration(&g)
        let events = randomEvents(&g)
        let a = drive(configuration, events)
        let b = drive(configuration, events)
        let persisted = drive(configuration, events, persistEachStep: true)
        #expect(a.log.map(\.actions) == b.log.map(\.actions))
        #expect(a.rollout == b.rollout)
        #expect(a.log.map(\.actions) == persisted.log.map(\.actions))
        #expect(a.rollout == persisted.rollout)
    }

    @Test(arguments: seeds.prefix(100))
    func resumingAfterACrashEndsLikeNeverCrashing(seed: UInt64) throws {
        // Run without alarms/aborts/hook failures to a random point, persist, "crash", resume much later:
        // the restored rollout still reaches the same final status, and weights never fall.
        var g = SeededGenerator(seed: seed)
        var configuration = randomConfiguration(&g)
        configuration.hooks = []
        var r = Rollout(configuration: configuration)
        var now = Instant.minutes(5_000)
        _ = r.start(at: now)
        for _ in 0..<Int.random(in: 0...6, using: &g) {
            guard let d = r.nextDeadline else { break }
            now = d
            _ = r.timerFired(at: now)
        }
        var restored = try JSONDecoder().decode(Rollout.self, from: JSONEncoder().encode(r))
        let before = restored.weight
        now = now + .seconds(60 * Int64.random(in: 0...200, using: &g))
        var actions = restored.resume(at: now)
        while let d = restored.nextDeadline {
            now = max(now, d)
            actions += restored.timerFired(at: now)
        }
        let weights = actions.compactMap { if case let .setWeight(_, w) = $0 { w } else { nil } }
        #expect(weights.allSatisfy { $0 >= before })
        #expect(weights == weights.sorted())
        #expect(restored.status == .succeeded)
    }
}

struct RolloutPropertyCoverageTests {
    @Test func randomRunsReachEveryFinalStatusAndRollback() {
        var statuses: [DeploymentStatus: Int] = [:]
        var rollbacks = 0
        for seed in RolloutPropertyTests.seeds {
            var g = SeededGenerator(seed: seed)
            let configuration = randomConfiguration(&g)
            let run = drive(configuration, randomEvents(&g))
            statuses[run.rollout.status, default: 0] += 1
            if run.log.contains(where: { $0.actions.contains { if case .rollBack = $0 { true } else { false } } }) { rollbacks += 1 }
        }
        #expect(statuses[.succeeded, default: 0] > 10)
        #expect(statuses[.failed, default: 0] > 10)
        #expect(statuses[.stopped, default: 0] > 10)
        #expect(rollbacks > 10)
    }
}
