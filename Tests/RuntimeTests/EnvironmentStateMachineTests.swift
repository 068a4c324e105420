import NIOCore
import Testing
@testable import Runtime

/// The environment's state machine driven directly, with explicit instants (no processes, no clock).
@Suite struct EnvironmentStateMachineTests {
    typealias Machine = EnvironmentStateMachine<Int, String>
    let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)

    func request(_ id: String) -> InvocationRequest {
        InvocationRequest(requestId: id, payload: [], invokedFunctionArn: "arn", traceId: "t")
    }

    @Test func coldStartDeliversOnFirstNextAndReportsInitDuration() {
        var machine = Machine(spawnedAt: t0)
        guard case .wait = machine.submit(request("a"), waiter: 1) else { Issue.record("expected wait"); return }
        #expect(machine.phase == .initializing)
        #expect(machine.next("conn", at: t0 + .milliseconds(40)) == .deliver)
        #expect(machine.phase == .ready)
        #expect(machine.delivered(at: t0 + .milliseconds(40))?.requestId == "a")
        #expect(machine.check(answerFor: "a") == .accept)
        guard case .ended(let ended, let discard) = machine.end(.response([]), at: t0 + .milliseconds(45)) else {
            Issue.record("expected ended"); return
        }
        #expect(!discard)
        #expect(ended.invocation.waiter == 1)
        #expect(ended.initDuration == .milliseconds(40))
        #expect(ended.duration == .milliseconds(5))
        #expect(machine.check(answerFor: "a") == .invalidStateTransition)
        #expect(machine.check(answerFor: "zzz") == .invalidRequestID)
    }

    /// A runtime can fail its init (and exit) before the event that started it is handed over; that event
    /// must still get the init error, not be retried on fresh environments.
    @Test func initFailureBeforeTheEventIsReportedToIt() {
        var machine = Machine(spawnedAt: t0)
        guard case .none(let discard) = machine.end(.initError(body: Array("boom".utf8), errorType: "Runtime.InitError"), at: t0 + .milliseconds(3)) else {
            Issue.record("expected no invocation to end"); return
        }
        #expect(discard)
        _ = machine.end(.exited(ExitStatus(raw: 1 << 8)), at: t0 + .milliseconds(4))
        machine.terminate()
        guard case .failInit(.initError(_, let type)) = machine.submit(request("a"), waiter: 7) else {
            Issue.record("expected the init failure to be handed to the event"); return
        }
        #expect(type == "Runtime.InitError")
        guard case .ended(let ended, true) = machine.end(.initError(body: [], errorType: type), at: t0 + .milliseconds(5)) else {
            Issue.record("expected the event to end, discarding the environment"); return
        }
        #expect(ended.invocation.waiter == 7)
        #expect(ended.wasInitializing)
        #expect(machine.phase == .terminated)
        guard case .unavailable = machine.submit(request("b"), waiter: 8) else { Issue.record("a second event goes elsewhere"); return }
    }

    @Test func warmEventGoesToTheParkedNext() {
        var machine = Machine(spawnedAt: t0)
        #expect(machine.next("first", at: t0) == .park)
        guard case .deliver(let connection) = machine.submit(request("b"), waiter: 2) else { Issue.record("expected deliver"); return }
        #expect(connection == "first")
        _ = machine.delivered(at: t0 + .milliseconds(1))
        #expect(machine.next("again", at: t0 + .milliseconds(2)) == .reject("next called while invocation b is in progress"))
        guard case .ended(let ended, false) = machine.end(.response([]), at: t0 + .milliseconds(3)) else { Issue.record("expected ended"); return }
        #expect(ended.initDuration == .zero)  // the first next came at once
        #expect(machine.next("third", at: t0 + .milliseconds(4)) == .park)
        #expect(machine.next("fourth", at: t0 + .milliseconds(4)) == .reject("another next is already waiting"))
    }

    @Test func faultsDiscardTheEnvironment() {
        var machine = Machine(spawnedAt: t0)
        _ = machine.next("c", at: t0)
        _ = machine.submit(request("x"), waiter: 3)
        _ = machine.delivered(at: t0)
        guard case .ended(_, true) = machine.end(.timedOut, at: t0 + .seconds(3)) else { Issue.record("expected discard"); return }
        #expect(machine.phase == .terminated)
        guard case .unavailable(let waiter) = machine.submit(request("y"), waiter: 4) else { Issue.record("expected unavailable"); return }
        #expect(waiter == 4)
        #expect(machine.next("d", at: t0) == .reject("the environment is shutting down"))
    }

    @Test func initErrorOnlyBeforeTheFirstNext() {
        var machine = Machine(spawnedAt: t0)
        #expect(machine.acceptsInitError)
        _ = machine.submit(request("i"), waiter: 5)
        guard case .ended(let ended, true) = machine.end(.initError(body: [], errorType: nil), at: t0 + .milliseconds(7)) else {
            Issue.record("expected discard"); return
        }
        #expect(ended.wasInitializing)
        #expect(ended.initDuration == .milliseconds(7))
        #expect(ended.duration == .zero)
        var ready = Machine(spawnedAt: t0)
        _ = ready.next("n", at: t0)
        #expect(!ready.acceptsInitError)
    }

    @Test func idleProcessExitJustDiscards() {
        var machine = Machine(spawnedAt: t0)
        _ = machine.next("n", at: t0)
        guard case .none(discard: true) = machine.end(.exited(ExitStatus(raw: 256)), at: t0) else { Issue.record("expected none"); return }
        guard case .none(discard: false) = machine.end(.exited(ExitStatus(raw: 256)), at: t0) else { Issue.record("expected none"); return }
    }
}
