#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import NIOCore
import Synchronization

/// The meeting point of one execution environment: callers hand it events, the environment's
/// Runtime API connections take them (`next`) and answer them (`response` / `error`).
///
/// All state sits behind one `Mutex`; continuations are resumed and channels written outside it.
/// Every ending of an invocation runs on the environment's event loop, after draining the
/// process's output pipe, so the log of an invocation holds everything printed before it answered.
final class EnvironmentBroker: Sendable {
    /// Fixed facts about the environment.
    struct Identity: Sendable {
        var environmentId: String
        var functionName: String
        var version: String
        var logGroupName: String
        var logStreamName: String
        var memorySizeMB: Int
        var timeout: Duration
        var initTimeout: Duration
        var idleTimeout: Duration
        var shutdownGrace: Duration
        /// The CPU of the environment's loop, where its processes run once warm (`CPUPlacement`); nil: anywhere.
        var cpu: Int?
    }

    /// Told how an event ended, on the environment's event loop.
    typealias Completion = @Sendable (InvocationOutcome) -> Void
    typealias Machine = EnvironmentStateMachine<Completion, ParkedNext>
    typealias Phase = Machine.Phase

    /// Where the environment's processes run (`CPUPlacement`).
    enum Placement: Equatable {
        /// Anywhere, until the runtime asks for its first event.
        case starting
        /// On the loop's CPU; `longRuns` invocations in a row have run long.
        case beside(longRuns: Int)
        /// Anywhere, for good: invocations ran long.
        case released
    }

    /// A `GET next` waiting for an event.
    struct ParkedNext: Sendable {
        var channel: any Channel
        var keepAlive: Bool
    }

    /// The state machine plus what the I/O around it needs.
    struct State: Sendable {
        var machine = Machine(spawnedAt: .now())
        var pid: pid_t = 0
        /// The timeout of the event being served, to cancel when it is answered.
        var timeoutTask: Scheduled<Void>?
        /// The log of the invocation being served (init output first, on a cold start).
        var log = ""
        var logTruncated = false
        /// Bytes after the last newline the process printed.
        var partialLine: [UInt8] = []
        var peakKilobytes = 0
        var finishing: Finishing?
        var exitStatus: ExitStatus?
        var exitWaiters: [CheckedContinuation<Void, Never>] = []
        var idleGeneration = 0
        var idleSince: NIODeadline = .now()
        var lastMemoryRead: NIODeadline = .uptimeNanoseconds(0)
        var idleTimerArmed = false
        var outputFD: Int32 = -1
        /// The keeper of the process: every process of the environment is under it.
        var keeper: pid_t = 0
        /// The connection the event in progress went out on: answers on it are the environment's own.
        var deliveredOn: (any Channel)?
        var placement = Placement.starting
    }

    let identity: Identity
    let loop: any EventLoop
    let logSink: (@Sendable (LogEvent) -> Void)?
    let state = Mutex(State())

    init(identity: Identity, loop: any EventLoop, logSink: (@Sendable (LogEvent) -> Void)?) {
        self.identity = identity
        self.loop = loop
        self.logSink = logSink
    }

    // MARK: - Life cycle

    /// Records the spawned process and a duplicate of its output pipe's read end (only to ask how
    /// many bytes are unread: NIO reads the pipe).
    func attach(pid: pid_t, keeper: pid_t, outputFD: Int32, spawnedAt: NIODeadline) {
        state.withLock {
            $0.pid = pid
            $0.keeper = keeper
            $0.outputFD = outputFD
            $0.machine.spawned(at: spawnedAt)
        }
        loop.scheduleTask(in: TimeAmount(identity.initTimeout)) { [self] in
            let stillInitializing = state.withLock { $0.machine.phase == .initializing }
            if stillInitializing { finish(.initTimedOut) }
        }
    }

    var phase: Phase { state.withLock { $0.machine.phase } }
    var pid: pid_t { state.withLock { $0.pid } }
    var isAvailable: Bool { state.withLock { $0.machine.phase != .terminated } }

    /// Called from the waiter thread when the process has exited and been reaped.
    func processExited(_ status: ExitStatus) {
        loop.execute { [self] in
            finish(.exited(status))
            let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                state.exitStatus = status
                state.machine.terminate()
                defer { state.exitWaiters = [] }
                return state.exitWaiters
            }
            for waiter in waiters { waiter.resume() }
        }
    }

    /// Waits until the process has exited and been reaped.
    func waitForExit() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state -> Bool in
                if state.exitStatus != nil { return true }
                state.exitWaiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// Stops taking events and asks the process group to end: SIGTERM, then SIGKILL after the grace period.
    func terminate() {
        let pid = state.withLock { state -> pid_t in
            state.machine.terminate()
            return state.exitStatus == nil ? state.pid : 0
        }
        guard pid > 0 else { return }
        kill(-pid, SIGTERM)
        loop.scheduleTask(in: TimeAmount(identity.shutdownGrace)) { [self] in
            let stillRunning = state.withLock { $0.exitStatus == nil }
            if stillRunning { kill(-pid, SIGKILL) }
        }
    }

    /// Kills the process group at once (faults: timeout, out of memory, init failure).
    private func discard(pid: pid_t) {
        if pid > 0 { kill(-pid, SIGKILL) }
    }

    // MARK: - Caller side

    /// Hands an event to the environment and waits until it has been dealt with.
    func invoke(_ request: InvocationRequest) async -> InvocationOutcome {
        await withCheckedContinuation { (continuation: CheckedContinuation<InvocationOutcome, Never>) in
            invoke(request) { continuation.resume(returning: $0) }
        }
    }

    /// Hands an event to the environment; `completion` runs on the environment's loop once it has been dealt
    /// with (at once, on the caller's thread, when the environment is already gone).
    func invoke(_ request: InvocationRequest, completion: @escaping Completion) {
        let action = state.withLock { state -> Machine.SubmitAction in
            state.idleGeneration &+= 1
            return state.machine.submit(request, waiter: completion)
        }
        switch action {
        case .unavailable(let waiter):
            waiter(.unavailable)
        case .failInit(let ending):
            loop.execute { [self] in finish(ending) }
        case .wait:
            break  // delivered when the runtime calls `next`
        case .deliver(let parked):
            // On the loop already (a caller on the environment's own loop): written now, no wake-up at all.
            if loop.inEventLoop {
                deliver(to: parked)
            } else {
                loop.execute { [self] in deliver(to: parked) }
            }
        }
    }

    /// Sends the current event to a waiting `next` and starts the clock.
    private func deliver(to parked: ParkedNext) {
        let now = NIODeadline.now()
        let wallMs = Self.epochMilliseconds()
        let deadlineMs = wallMs + Int64(identity.timeout.components.seconds * 1000)
        let prepared = state.withLock { state -> (InvocationRequest, [LogEvent])? in
            guard let request = state.machine.delivered(at: now) else { return nil }
            let line = "START RequestId: \(request.requestId) Version: \(identity.version)"
            return (request, appendLine(line, to: &state, framing: true))
        }
        guard let (request, events) = prepared else { return }
        emit(events)
        var buffer = parked.channel.allocator.buffer(capacity: 512 + request.payload.count)
        buffer.writeString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: ")
        buffer.writeString(request.requestId)
        buffer.writeString("\r\nLambda-Runtime-Deadline-Ms: \(deadlineMs)\r\nLambda-Runtime-Invoked-Function-Arn: ")
        buffer.writeString(request.invokedFunctionArn)
        buffer.writeString("\r\nLambda-Runtime-Trace-Id: ")
        buffer.writeString(request.traceId)
        if let clientContext = request.clientContext {
            buffer.writeString("\r\nLambda-Runtime-Client-Context: ")
            buffer.writeString(clientContext)
        }
        if let cognito = request.cognitoIdentity {
            buffer.writeString("\r\nLambda-Runtime-Cognito-Identity: ")
            buffer.writeString(cognito)
        }
        buffer.writeString("\r\nContent-Length: \(request.payload.count)\r\n\r\n")
        buffer.writeBytes(request.payload)
        let channel = parked.channel
        if parked.keepAlive {
            channel.writeAndFlush(buffer, promise: nil)
        } else {
            channel.writeAndFlush(buffer).whenComplete { _ in channel.close(promise: nil) }
        }
        let requestId = request.requestId
        let task = loop.scheduleTask(deadline: now + TimeAmount(identity.timeout)) { [self] in
            timeoutFired(requestId: requestId)
        }
        let stale = state.withLock { state -> Bool in
            guard state.machine.isServing(requestId) else { return true }
            state.timeoutTask = task
            state.deliveredOn = channel
            return false
        }
        if stale { task.cancel() }
    }

    private func timeoutFired(requestId: String) {
        let matches = state.withLock { $0.machine.isServing(requestId) }
        if matches { finish(.timedOut) }
    }

    // MARK: - Runtime API side (on the event loop)

    /// A reply for the Runtime API handler to write.
    enum Reply {
        case status(code: Int, reason: String, body: String)
        /// The `next` was parked; the reply comes with an event.
        case parked
        static let accepted = Reply.status(code: 202, reason: "Accepted", body: #"{"status":"OK"}"#)
    }

    /// `GET /runtime/invocation/next`.
    func next(channel: any Channel, keepAlive: Bool) -> Reply {
        let parked = ParkedNext(channel: channel, keepAlive: keepAlive)
        let (action, place) = state.withLock { state in
            let place = identity.cpu != nil && state.placement == .starting
            if place { state.placement = .beside(longRuns: 0) }
            return (state.machine.next(parked, at: .now()), place ? state.pid : 0)
        }
        if let cpu = identity.cpu, place > 0 { CPUPlacement.move(place, to: [cpu]) }
        switch action {
        case .deliver:
            deliver(to: parked)
            return .parked
        case .park:
            return .parked
        case .reject(let why):
            return Self.invalidStateTransition(why)
        }
    }

    /// The connection of a parked `next` closed.
    func connectionClosed(_ channel: any Channel) {
        state.withLock { state in
            state.machine.connectionClosed { $0.channel === channel }
        }
    }

    /// `POST /runtime/invocation/{id}/response` and `…/error`, arriving on `channel`.
    func answer(requestId: String, ending: InvocationEnding, on channel: any Channel) -> Reply {
        switch state.withLock({ $0.machine.check(answerFor: requestId) }) {
        case .accept:
            if let refusal = refuseForeign(channel, what: "invocation \(requestId)") { return refusal }
        case .invalidStateTransition:
            return Self.invalidStateTransition("invocation \(requestId) is not in progress")
        case .invalidRequestID:
            return .status(
                code: 400, reason: "Bad Request",
                body: String(decoding: JSON.errorDocument(message: "Invalid request ID: \(requestId)", type: "InvalidRequestID"), as: UTF8.self))
        }
        finish(ending)
        if case .responseTooLarge = ending {
            return .status(
                code: 413, reason: "Request Entity Too Large",
                body: #"{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).","errorType":"RequestEntityTooLarge"}"#)
        }
        return .accepted
    }

    /// `POST /runtime/init/error`.
    func initError(body: [UInt8], errorType: String?, on channel: any Channel) -> Reply {
        let initializing = state.withLock { $0.machine.acceptsInitError }
        guard initializing else { return Self.invalidStateTransition("init/error is only allowed before the first next") }
        if let refusal = refuseForeign(channel, what: "the init") { return refusal }
        finish(.initError(body: body, errorType: errorType))
        return .accepted
    }

    /// Any local process can reach this port: an answer counts only if it comes on the connection the
    /// event went out on, or from a process under the environment's keeper (a client that opens a
    /// connection per request). Where /proc cannot tell (not Linux), the answer is taken.
    private func refuseForeign(_ channel: any Channel, what: String) -> Reply? {
        let (deliveredOn, keeper) = state.withLock { ($0.deliveredOn, $0.keeper) }
        if let deliveredOn, deliveredOn === channel { return nil }
        guard keeper > 0, let client = channel.remoteAddress?.port, let server = channel.localAddress?.port else { return nil }
        guard PeerProcess.origin(clientPort: client, serverPort: server, root: keeper) == .outside else { return nil }
        let message = "Only the execution environment of \(identity.functionName):\(identity.version) may answer \(what); this connection comes from a process outside it."
        return .status(code: 403, reason: "Forbidden", body: String(decoding: JSON.errorDocument(message: message, type: "AccessDeniedException"), as: UTF8.self))
    }

    private static func invalidStateTransition(_ why: String) -> Reply {
        .status(
            code: 403, reason: "Forbidden",
            body: String(decoding: JSON.errorDocument(message: "State transition is not allowed: \(why)", type: "InvalidStateTransition"), as: UTF8.self))
    }

    // MARK: - Ending an invocation (on the event loop)

    /// An invocation that has been answered (or failed) and waits for the process's output to be read.
    struct Finishing: Sendable {
        var ended: Machine.Ended
        var ending: InvocationEnding
    }

    /// Ends the current invocation (if any) with `ending`. Faults kill the process at once. The
    /// result is completed once everything the process printed before it answered has been read,
    /// so the invocation's log is whole. Must run on the event loop.
    func finish(_ ending: InvocationEnding) {
        let now = NIODeadline.now()
        let (begun, killPid) = state.withLock { state -> (Bool, pid_t) in
            let livePid = state.exitStatus == nil ? state.pid : 0
            switch state.machine.end(ending, at: now) {
            case .none(let discard):
                return (false, discard ? livePid : 0)
            case .ended(let ended, let discard):
                state.timeoutTask?.cancel()
                state.timeoutTask = nil
                state.finishing = Finishing(ended: ended, ending: ending)
                return (true, discard ? livePid : 0)
            }
        }
        discard(pid: killPid)
        if begun { completeWhenOutputRead(attempt: 0) }
    }

    /// Waits (a loop turn at a time) until the output pipe holds no unread bytes, then completes.
    private func completeWhenOutputRead(attempt: Int) {
        let fd = state.withLock { $0.outputFD }
        if fd >= 0, attempt < 200, Self.unreadBytes(fd) > 0 {
            loop.execute { [self] in completeWhenOutputRead(attempt: attempt + 1) }
            return
        }
        complete()
    }

    private static func unreadBytes(_ fd: Int32) -> Int32 {
        var count: Int32 = 0
        return ioctl(fd, UInt(FIONREAD), &count) == 0 ? count : 0
    }

    /// Writes END/REPORT, builds the result and resumes the caller.
    private func complete() {
        // /proc is read at most every few milliseconds (the 50 ms sampler covers long invocations).
        let now = NIODeadline.now()
        let pidNow = state.withLock { state -> pid_t in
            guard now - state.lastMemoryRead >= .milliseconds(5) || state.finishing?.ending.isFault == true else { return 0 }
            state.lastMemoryRead = now
            return state.pid
        }
        let memoryKB = pidNow > 0 ? ProcessMemory.treeKilobytes(pid: pidNow) : nil

        let finished = state.withLock { state -> (Completion, CompletedInvocation, [LogEvent], discard: Bool, release: pid_t)? in
            guard let finishing = state.finishing else { return nil }
            state.finishing = nil
            let current = finishing.ended.invocation
            let wasInitializing = finishing.ended.wasInitializing
            if let memoryKB { state.peakKilobytes = max(state.peakKilobytes, memoryKB) }
            let requestId = current.request.requestId
            var events: [LogEvent] = []
            var result = Self.describe(finishing.ending, requestId: requestId, wasInitializing: wasInitializing, identity: identity, state: state)
            let overMemory = state.peakKilobytes > identity.memorySizeMB * 1024
            if overMemory, result.errorType == nil {
                result = Self.describe(.outOfMemory, requestId: requestId, wasInitializing: false, identity: identity, state: state)
            }
            let discard = result.discard || overMemory
            if current.deliveredAt == nil {
                // Never reached the runtime (init failed first): Lambda still frames it.
                events += appendLine("START RequestId: \(requestId) Version: \(identity.version)", to: &state, framing: true)
            }
            flushPartialLine(state: &state, into: &events)
            for line in result.logLines { events += appendLine(line, to: &state, framing: true) }
            let duration = finishing.ended.duration
            var release: pid_t = 0
            if case .beside(let longRuns) = state.placement {
                let runs = duration >= CPUPlacement.releaseAfter ? longRuns + 1 : 0
                state.placement = runs >= CPUPlacement.releaseAfterRuns ? .released : .beside(longRuns: runs)
                if runs >= CPUPlacement.releaseAfterRuns { release = state.pid }
            }
            let initDuration = finishing.ended.initDuration
            let maxMemoryMB = max(1, (state.peakKilobytes + 1023) / 1024)
            events += appendLine("END RequestId: \(requestId)", to: &state, framing: true)
            var report = "REPORT RequestId: \(requestId)\tDuration: \(Self.milliseconds(duration)) ms\tBilled Duration: \(Self.billedMilliseconds(duration)) ms\tMemory Size: \(identity.memorySizeMB) MB\tMax Memory Used: \(maxMemoryMB) MB"
            if let initDuration { report += "\tInit Duration: \(Self.milliseconds(initDuration)) ms" }
            if discard, let type = result.errorType { report += "\tStatus: error\tError Type: \(type)" }
            events += appendLine(report, to: &state, framing: true)
            let completed = CompletedInvocation(
                payload: result.payload, functionError: result.errorType == nil ? nil : "Unhandled", errorType: result.errorType,
                duration: duration, initDuration: initDuration, maxMemoryUsedMB: maxMemoryMB, log: state.log)
            state.log = ""
            state.logTruncated = false
            if discard {
                state.machine.terminate()
            } else {
                state.idleGeneration &+= 1
            }
            return (current.waiter, completed, events, discard, release)
        }
        guard let (completion, completed, events, discard, release) = finished else { return }
        emit(events)
        if discard { self.discard(pid: state.withLock { $0.exitStatus == nil ? $0.pid : 0 }) } else { scheduleIdleTimeout() }
        completion(.completed(completed))
        if release > 0 { CPUPlacement.move(release, to: CPUPlacement.allowed) }
    }

    /// Arms the idle timer if it is not armed. One timer per environment, re-armed when it fires
    /// early, so a busy environment does not schedule a task per invocation.
    private func scheduleIdleTimeout() {
        let now = NIODeadline.now()
        let arm = state.withLock { state -> Bool in
            state.idleSince = now
            guard !state.idleTimerArmed else { return false }
            state.idleTimerArmed = true
            return true
        }
        if arm { armIdleTimer(at: now + TimeAmount(identity.idleTimeout)) }
    }

    private func armIdleTimer(at deadline: NIODeadline) {
        loop.scheduleTask(deadline: deadline) { [self] in
            let now = NIODeadline.now()
            enum Next { case expire, rearm(NIODeadline), stop }
            let next = state.withLock { state -> Next in
                guard state.machine.phase == .ready else { state.idleTimerArmed = false; return .stop }
                if state.machine.current == nil, state.finishing == nil, now - state.idleSince >= TimeAmount(identity.idleTimeout) {
                    state.idleTimerArmed = false
                    return .expire
                }
                let from = state.machine.current == nil ? state.idleSince : now
                return .rearm(from + TimeAmount(identity.idleTimeout))
            }
            switch next {
            case .expire: terminate()
            case .rearm(let deadline): armIdleTimer(at: deadline)
            case .stop: break
            }
        }
    }


    /// What the caller gets for each ending, in Lambda's words.
    private struct Described {
        var payload: [UInt8]
        var errorType: String?
        var logLines: [String] = []
        var discard = false
    }

    private static func describe(_ ending: InvocationEnding, requestId: String, wasInitializing: Bool, identity: Identity, state: State) -> Described {
        switch ending {
        case .response(let body):
            return Described(payload: body, errorType: nil)
        case .functionError(let body, let headerType):
            let type = JSON.errorFields(body).type ?? headerType ?? "Unhandled"
            return Described(payload: body, errorType: type)
        case .responseTooLarge(let size):
            let message = "Response payload size (\(size) bytes) exceeded maximum allowed payload size (6291556 bytes)."
            return Described(payload: JSON.errorDocument(message: message, type: "Function.ResponseSizeTooLarge"), errorType: "Function.ResponseSizeTooLarge")
        case .timedOut:
            let seconds = String(format: "%.2f", Double(identity.timeout.components.seconds))
            return Described(
                payload: JSON.errorDocument(message: "RequestId: \(requestId) Error: Task timed out after \(seconds) seconds", type: "Sandbox.Timedout"),
                errorType: "Sandbox.Timedout",
                logLines: ["\(isoTimestamp()) \(requestId) Task timed out after \(seconds) seconds"],
                discard: true)
        case .initTimedOut:
            let seconds = String(format: "%.2f", Double(identity.initTimeout.components.seconds))
            return Described(
                payload: JSON.errorDocument(message: "RequestId: \(requestId) Error: Task timed out after \(seconds) seconds during init", type: "Sandbox.Timedout"),
                errorType: "Sandbox.Timedout",
                logLines: ["\(isoTimestamp()) \(requestId) Task timed out after \(seconds) seconds during init"],
                discard: true)
        case .initError(let body, let headerType):
            let fields = JSON.errorFields(body)
            let payload = fields.message == nil
                ? JSON.errorDocument(message: String(decoding: body, as: UTF8.self), type: headerType ?? "Runtime.InitError")
                : body
            return Described(
                payload: payload, errorType: "Runtime.InitError",
                logLines: ["INIT_REPORT Phase: init\tStatus: error\tError Type: \(fields.type ?? headerType ?? "Runtime.InitError")"],
                discard: true)
        case .exited(let status):
            if wasInitializing {
                var message = "RequestId: \(requestId) Error: Runtime exited with error: \(status)"
                if let last = lastOutputLine(state) { message += " (last output: \(last))" }
                return Described(
                    payload: JSON.errorDocument(message: message, type: "Runtime.InitError"), errorType: "Runtime.InitError",
                    logLines: ["INIT_REPORT Phase: init\tStatus: error\tError Type: Runtime.ExitError"], discard: true)
            }
            let message = "RequestId: \(requestId) Error: Runtime exited with error: \(status)"
            return Described(
                payload: JSON.errorDocument(message: message, type: "Runtime.ExitError"), errorType: "Runtime.ExitError",
                logLines: [message, "Runtime.ExitError"], discard: true)
        case .outOfMemory:
            let message = "RequestId: \(requestId) Error: Runtime exited with error: signal: killed (memory used exceeded MemorySize \(identity.memorySizeMB) MB; raise MemorySize or use less memory)"
            return Described(
                payload: JSON.errorDocument(message: message, type: "Runtime.OutOfMemory"), errorType: "Runtime.OutOfMemory",
                logLines: [message, "Runtime.OutOfMemory"], discard: true)
        }
    }

    private static func lastOutputLine(_ state: State) -> String? {
        if !state.partialLine.isEmpty { return String(decoding: state.partialLine, as: UTF8.self) }
        return state.log.split(separator: "\n").last(where: { !$0.hasPrefix("START ") }).map(String.init)
    }

    // MARK: - Memory watch

    /// Samples the tree's memory while an event is in flight; kills it past `MemorySize`.
    func sampleMemory() {
        let pid = state.withLock { $0.machine.isServing ? $0.pid : 0 }
        guard pid > 0 else { return }
        let kb = ProcessMemory.currentTreeKilobytes(pid: pid)
        let over = state.withLock { state -> Bool in
            state.peakKilobytes = max(state.peakKilobytes, kb)
            return state.peakKilobytes > identity.memorySizeMB * 1024 && state.machine.isServing
        }
        if over { finish(.outOfMemory) }
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (s, atto) = duration.components
        self = .nanoseconds(s * 1_000_000_000 + atto / 1_000_000_000)
    }
}
