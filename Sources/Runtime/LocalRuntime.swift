import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Runs Lambda functions as local processes behind the Lambda Runtime API.
///
/// Owns the execution environments of many functions and versions (keyed by name + version, so
/// versions never share one), keeps them warm and reuses them, shuts idle ones down, enforces
/// reserved and account-level concurrency (throttling, as Lambda does, rather than queueing; see
/// `ConcurrencyLimits`).
///
/// Known differences from Lambda:
/// - Layers are merged into a private folder, not mounted at `/opt`: code that hard-codes an
///   absolute `/opt/...` path does not find them (use `PATH`, `PYTHONPATH`, `NODE_PATH`,
///   `LD_LIBRARY_PATH`, which point at the merged folder). Likewise the code folder is its real
///   path, not `/var/task`.
/// - Functions run on the machine's `python3` / `node` (a differing version is a warning; `SHIFT_<RUNTIME>`
///   picks another interpreter per runtime, see `Options.callerEnvironment`) and the
///   machine's libraries; Python also sees the machine's site-packages after the code and layers
///   (`Options.includeMachineSitePackages`), but no bundled boto3.
/// - Memory is measured (peak RSS of the process tree, sampled every 50 ms and at each answer) and
///   enforced by killing the environment, not by a cgroup; CPU is not scaled with `MemorySize`.
/// - No network or filesystem isolation; `TMPDIR` is a private folder (not `/tmp`), removed at shutdown.
public actor LocalRuntime {
    /// Tunables; the defaults suit a developer machine.
    public struct Options: Sendable {
        /// A warm environment unused this long is shut down.
        public var idleTimeout: Duration = .seconds(300)
        /// The account concurrency limit: most invocations in flight at once across all functions (and most
        /// environments kept); reservations are carved out of it. Default: `ConcurrencyLimits.machineDefault`.
        public var maximumConcurrency = ConcurrencyLimits.machineDefault
        /// Longest time a runtime may take from start to its first `next`.
        public var initTimeout: Duration = .seconds(10)
        /// A Runtime API connection with no request in progress this long is closed (a parked `next` is in progress).
        public var idleConnectionTimeout: Duration = IdleConnectionPolicy.defaultIdleTimeout
        /// Between SIGTERM and SIGKILL at shutdown.
        public var shutdownGracePeriod: Duration = .milliseconds(500)
        /// Where the bundled bootstraps are written once (default: the system temp folder).
        public var cacheDirectory: String?
        /// The command (or path) of the Python interpreter.
        public var pythonCommand = "python3"
        /// The command (or path) of Node.js.
        public var nodeCommand = "node"
        /// Where to look for those commands (default: the caller's PATH).
        public var searchPath: String = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        /// The caller's environment, read (never passed to functions) for an interpreter per runtime:
        /// `SHIFT_<RUNTIME>`, e.g. `SHIFT_PYTHON3_12=/usr/bin/python3.12`, wins over `pythonCommand` / `nodeCommand`.
        public var callerEnvironment: [String: String] = ProcessInfo.processInfo.environment
        /// Where Python writes bytecode (`PYTHONPYCACHEPREFIX`) instead of `__pycache__` in the code folder.
        /// A lasting folder keeps caches warm across runs (`shift` uses `<state>/pycache`); by default a
        /// folder of this runtime, removed at shutdown.
        public var bytecodeCacheDirectory: String?
        /// Whether Python functions may also import the machine's site-packages (after the code
        /// folder and layers). Lambda offers only its own runtime packages.
        public var includeMachineSitePackages = true
        /// Receives every log line (function output and START/END/REPORT), e.g. for `shift logs`.
        public var logHandler: (@Sendable (LogEvent) -> Void)?
        /// The event loops serving the Runtime API listeners and output pipes.
        public var eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
        public var logger = Logger(label: "shift.runtime")

        public init() {}
    }

    /// A snapshot of one execution environment.
    public struct EnvironmentStatus: Sendable {
        public var environmentId: String
        public var functionName: String
        public var version: String
        public var pid: Int32
        public var isBusy: Bool
        public var logStreamName: String
    }

    /// Lambda's synchronous request limit (6 MB).
    public static let maximumRequestBytes = 6_291_456

    private let options: Options
    private let workDirectory: String
    /// The CPU each event loop keeps to (`CPUPlacement`); empty when nothing is placed.
    private let loopCPUs: [ObjectIdentifier: Int]
    private let bootstrapDirectory: String
    private let bytecodeCacheDirectory: String
    /// Warnings already logged: each is logged once per runtime, not once per version or environment.
    private var loggedWarnings: Set<String> = []
    private var plans: [EnvironmentKey: LaunchPlan] = [:]
    /// The environments and concurrency: behind a lock rather than the actor, so that a warm invocation is
    /// started from the caller's event loop without a hop (`invokeWarm`).
    private let pool: Mutex<Pool>
    /// The loops of `options.eventLoopGroup`, to tell whether the caller runs on one of them.
    private let loops: Set<ObjectIdentifier>

    /// What `pool` guards.
    private struct Pool {
        var environments: [EnvironmentKey: [ExecutionEnvironment]] = [:]
        /// The configuration each key runs now: an environment started for another one is stale.
        var configurations: [EnvironmentKey: FunctionConfiguration] = [:]
        var busy: Set<String> = []
        var lastUsed: [String: UInt64] = [:]
        var useCounter: UInt64 = 0
        var starting = 0
        /// Environments starting, by the loop they will run on.
        var startingOn: [ObjectIdentifier: Int] = [:]
        var limits: ConcurrencyLimits
        var isShutDown = false

        /// An idle, current environment of `config`, the one on `loop` first.
        func idle(_ config: FunctionConfiguration, preferring loop: (any EventLoop)?) -> ExecutionEnvironment? {
            var warm: ExecutionEnvironment?
            for environment in environments[config.environmentKey] ?? [] where !busy.contains(environment.id) && environment.isAvailable && environment.config == config {
                warm = environment
                if loop == nil || environment.broker.loop === loop { break }
            }
            return warm
        }

        /// An idle, current environment of `config`, the one on `loop` first; marked busy.
        mutating func takeWarm(_ config: FunctionConfiguration, preferring loop: (any EventLoop)?) -> ExecutionEnvironment? {
            let warm = idle(config, preferring: loop)
            if let warm { busy.insert(warm.id) }
            return warm
        }

        /// Gives an environment back after an invocation; returns true when it must end (it runs a configuration
        /// changed while it was busy): the caller terminates it after letting go of the lock.
        mutating func release(_ environment: ExecutionEnvironment) -> Bool {
            busy.remove(environment.id)
            useCounter += 1
            lastUsed[environment.id] = useCounter
            let key = environment.config.environmentKey
            let stale = configurations[key] != environment.config
            if stale || !environment.isAvailable {
                environments[key]?.removeAll { $0 === environment }
                lastUsed[environment.id] = nil
            }
            return stale
        }

        func throttleError(_ throttle: ConcurrencyLimits.Throttle) -> RuntimeError {
            var error = RuntimeError(.tooManyRequests, throttle.message)
            error.throttleReason = throttle.reason
            return error
        }
    }

    public init(options: Options = Options()) throws {
        self.options = options
        self.pool = Mutex(Pool(limits: ConcurrencyLimits(accountLimit: options.maximumConcurrency)))
        self.loops = Set(options.eventLoopGroup.makeIterator().map { ObjectIdentifier($0) })
        self.loopCPUs = CPUPlacement.place(options.eventLoopGroup)
        let temp = FileManager.default.temporaryDirectory.path
        let cache = options.cacheDirectory ?? "\(temp)/shift-runtime-cache"
        self.bootstrapDirectory = try Self.writeBootstraps(into: cache)
        self.workDirectory = "\(temp)/shift-runtime-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        // Absolute: Python would take a relative prefix from the function's working folder, its code folder.
        self.bytecodeCacheDirectory = options.bytecodeCacheDirectory.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
            ?? "\(workDirectory)/pycache"
        do {
            try FileManager.default.createDirectory(atPath: workDirectory, withIntermediateDirectories: true)
        } catch {
            throw RuntimeError(.environmentStartFailed, "Could not create the work folder \(workDirectory); check the temp folder is writable.", cause: UnderlyingError(error))
        }
    }

    /// Safety net for a runtime dropped without `shutdown()`: kill what is left (the waiter threads
    /// reap the processes and remove their TMPDIRs).
    deinit {
        for environment in pool.withLock({ $0.environments.values.flatMap { $0 } }) where environment.pid > 0 {
            kill(-environment.pid, SIGKILL)
        }
    }

    // MARK: - Invoking

    /// Runs one synchronous invocation. Function failures come back in the result
    /// (`functionError`); throttling, oversized requests and unusable configurations throw `RuntimeError`.
    ///
    /// - Parameters:
    ///   - requestId: defaults to a new UUID.
    ///   - clientContext: the client context JSON (already base64-decoded from `X-Amz-Client-Context`).
    ///   - cognitoIdentity: the Cognito identity JSON, if any.
    ///   - invokedFunctionArn: the ARN the caller used (e.g. with `:live`); defaults to the version's ARN.
    public func invoke(
        _ config: FunctionConfiguration,
        payload: [UInt8],
        requestId: String? = nil,
        clientContext: String? = nil,
        cognitoIdentity: String? = nil,
        invokedFunctionArn: String? = nil
    ) async throws -> InvocationResult {
        guard payload.count <= Self.maximumRequestBytes else {
            throw RuntimeError(
                .requestTooLarge,
                "Request must be smaller than \(Self.maximumRequestBytes) bytes for the InvokeFunction operation (\(config.functionName):\(config.version) got \(payload.count) bytes). Send a reference (e.g. a file path) instead of the data.")
        }
        let slot = try pool.withLock { pool throws(RuntimeError) -> ConcurrencyLimits.Slot in
            guard !pool.isShutDown else { throw RuntimeError(.shutDown, "The local runtime has been shut down; create a new one to invoke \(config.functionName).") }
            switch pool.limits.acquire(config.functionName, version: config.version) {
            case .success(let admitted): return admitted
            case .failure(let throttle): throw pool.throttleError(throttle)
            }
        }
        defer { pool.withLock { $0.limits.release(slot) } }

        let request = Self.request(for: config, payload: payload, requestId: requestId, clientContext: clientContext,
                                   cognitoIdentity: cognitoIdentity, invokedFunctionArn: invokedFunctionArn)
        for _ in 0..<3 {
            let (environment, warnings) = try await acquireEnvironment(for: config)
            let outcome = await environment.broker.invoke(request)
            if pool.withLock({ $0.release(environment) }) { environment.broker.terminate() }
            if case .completed(let done) = outcome {
                return Self.result(done, of: request, config: config, environment: environment, warnings: done.initDuration == nil ? [] : warnings)
            }
        }
        throw RuntimeError(.environmentStartFailed, "Execution environments of \(config.functionName):\(config.version) kept ending before they could take the event.")
    }

    /// Starts one synchronous invocation on a warm, idle environment at once, without suspending, and returns true;
    /// `completion` then runs on that environment's event loop with the result, or with nil when the environment
    /// ended before it took the event. Returns false, having done nothing, when it cannot start at once (no idle
    /// environment of some choice, a throttle, the runtime shutting down): `invoke` then does the whole job.
    ///
    /// `choices` are the configurations the call may run (the versions of a weighted alias); `choose` picks one, and is
    /// called only once an idle environment of every choice is in hand, so a call that goes the general way has not
    /// spent a draw. An environment on `loop` (the caller's) is taken first: the event, the answer and the reply to
    /// the caller are then written from one thread with no hand-off at all.
    public nonisolated func invokeWarm(
        _ choices: [FunctionConfiguration], choose: () -> Int, payload: [UInt8], requestId: String, clientContext: String? = nil,
        invokedFunctionArn: String? = nil, preferring loop: (any EventLoop)?, completion: @escaping @Sendable (InvocationResult?) -> Void
    ) -> Bool {
        guard let first = choices.first, payload.count <= Self.maximumRequestBytes else { return false }
        let taken = pool.withLock { pool -> (ExecutionEnvironment, ConcurrencyLimits.Slot)? in
            guard !pool.isShutDown else { return nil }
            for config in choices {
                guard pool.configurations[config.environmentKey] == config, pool.idle(config, preferring: loop) != nil else { return nil }
            }
            // Every version of one function counts against the same limits.
            guard case .success(let slot) = pool.limits.acquire(first.functionName, version: first.version) else { return nil }
            let chosen = choices.count == 1 ? first : choices[min(max(choose(), 0), choices.count - 1)]
            guard let environment = pool.takeWarm(chosen, preferring: loop) else {
                pool.limits.release(slot)
                return nil
            }
            return (environment, slot)
        }
        guard let (environment, slot) = taken else { return false }
        let config = environment.config
        let request = Self.request(for: config, payload: payload, requestId: requestId, clientContext: clientContext,
                                   cognitoIdentity: nil, invokedFunctionArn: invokedFunctionArn)
        environment.broker.invoke(request) { [self] outcome in
            let stale = pool.withLock {
                $0.limits.release(slot)
                return $0.release(environment)
            }
            if stale { environment.broker.terminate() }
            guard case .completed(let done) = outcome else { return completion(nil) }
            // A warm environment has no init, so no start-up warnings to pass on.
            completion(Self.result(done, of: request, config: config, environment: environment, warnings: []))
        }
        return true
    }

    private static func request(for config: FunctionConfiguration, payload: [UInt8], requestId: String?, clientContext: String?,
                                cognitoIdentity: String?, invokedFunctionArn: String?) -> InvocationRequest {
        InvocationRequest(
            requestId: requestId ?? RequestId.make(),
            payload: payload,
            invokedFunctionArn: invokedFunctionArn ?? config.qualifiedArn,
            traceId: RequestId.traceHeader(),
            clientContext: clientContext,
            cognitoIdentity: cognitoIdentity)
    }

    private static func result(_ done: CompletedInvocation, of request: InvocationRequest, config: FunctionConfiguration,
                               environment: ExecutionEnvironment, warnings: [String]) -> InvocationResult {
        InvocationResult(
            payload: done.payload, functionError: done.functionError, errorType: done.errorType,
            requestId: request.requestId, executedVersion: config.version, duration: done.duration,
            billedDurationMs: EnvironmentBroker.billedMilliseconds(done.duration), initDuration: done.initDuration,
            memorySizeMB: config.memorySize, maxMemoryUsedMB: done.maxMemoryUsedMB, log: done.log,
            environmentId: environment.id, logStreamName: environment.logStreamName, warnings: warnings)
    }

    /// Resolves the interpreter and merges layers without starting anything; returns warnings
    /// (such as an interpreter version that differs from the function's `Runtime`).
    public func prepare(_ config: FunctionConfiguration) async throws -> [String] {
        try await plan(for: config).warnings
    }

    /// Invocations in flight now, of one function or of all (the `ConcurrentExecutions` metric).
    public func concurrentExecutions(of functionName: String? = nil) -> Int {
        pool.withLock { pool in functionName.map { pool.limits.inFlight(of: $0) } ?? pool.limits.inFlight }
    }

    // MARK: - Reserved concurrency

    /// Sets a function's reserved concurrency (Lambda's PutFunctionConcurrency), or removes it with nil
    /// (DeleteFunctionConcurrency). It applies to every version and alias of the function from the next
    /// invocation on; invocations in flight finish. Throws `.invalidConfiguration` (InvalidParameterValueException)
    /// for a negative value or one that leaves less than `ConcurrencyLimits.minimumUnreserved` unreserved.
    public func setReservedConcurrency(_ value: Int?, for functionName: String) throws(RuntimeError) {
        try setReservedConcurrency([functionName: value])
    }

    /// Sets or removes several reservations at once, checking their total once (a template's functions).
    public func setReservedConcurrency(_ changes: [String: Int?]) throws(RuntimeError) {
        try pool.withLock { pool throws(RuntimeError) in try pool.limits.setReservations(changes) }
    }

    /// A function's reserved concurrency (GetFunctionConcurrency), nil when it has none.
    public func reservedConcurrency(of functionName: String) -> Int? { pool.withLock { $0.limits.reservation(of: functionName) } }

    /// The account limit and what reservations leave of it (GetAccountSettings' `ConcurrentExecutions`
    /// and `UnreservedConcurrentExecutions`).
    public var accountConcurrency: (limit: Int, unreserved: Int) { pool.withLock { ($0.limits.accountLimit, $0.limits.unreservedLimit) } }

    /// The environments alive right now.
    public func environmentStatuses() -> [EnvironmentStatus] {
        pool.withLock { pool in
            pool.environments.values.flatMap { $0 }.filter(\.isAvailable).map {
                EnvironmentStatus(
                    environmentId: $0.id, functionName: $0.config.functionName, version: $0.config.version,
                    pid: $0.pid, isBusy: pool.busy.contains($0.id), logStreamName: $0.logStreamName)
            }
        }
    }

    // MARK: - Shutting down

    /// Ends every environment (SIGTERM, then SIGKILL after the grace period), waits until each
    /// process is reaped and removes the temp folders. In-flight invocations end with `Runtime.ExitError`.
    public func shutdown() async {
        let all = pool.withLock { pool in
            pool.isShutDown = true
            defer { pool.environments = [:] }
            return pool.environments.values.flatMap { $0 }
        }
        await withTaskGroup(of: Void.self) { group in
            for environment in all {
                group.addTask { await environment.shutdown() }
            }
        }
        try? FileManager.default.removeItem(atPath: workDirectory)
        // Bytecode of files in the work folder (merged layers, TMPDIRs) lives at the same path under a lasting
        // cache folder, and those paths never come back.
        try? FileManager.default.removeItem(atPath: bytecodeCacheDirectory + workDirectory)
    }

    /// Ends the idle environments of one function (all versions, or one), e.g. after its code changed.
    /// Busy ones end after their current invocation.
    public func shutdownEnvironments(of functionName: String, version: String? = nil) async {
        var ending: [ExecutionEnvironment] = []
        pool.withLock { pool in
            for (key, list) in pool.environments where key.functionName == functionName && (version == nil || key.version == version) {
                ending += list.filter { !pool.busy.contains($0.id) }
                pool.environments[key] = list.filter { pool.busy.contains($0.id) }
            }
        }
        for key in plans.keys where key.functionName == functionName && (version == nil || key.version == version) { plans[key] = nil }
        await withTaskGroup(of: Void.self) { group in
            for environment in ending { group.addTask { await environment.shutdown() } }
        }
    }

    /// Ends the environments of one function at once, busy ones included: their invocations end with
    /// `Runtime.ExitError`. For invocations nobody waits for any more (hooks of a finished deployment).
    public func terminateEnvironments(of functionName: String) {
        let ending = pool.withLock { pool in pool.environments.filter { $0.key.functionName == functionName }.values.flatMap { $0 } }
        for environment in ending { environment.broker.terminate() }
    }

    // MARK: - Environments

    private func acquireEnvironment(for config: FunctionConfiguration) async throws -> (ExecutionEnvironment, [String]) {
        let key = config.environmentKey
        let (changed, stale) = pool.withLock { pool -> (Bool, [ExecutionEnvironment]) in
            var stale: [ExecutionEnvironment] = []
            let changed = pool.configurations[key].map { $0 != config } ?? false
            if changed {
                // $LATEST changed (code or configuration): its environments are stale.
                stale = (pool.environments[key] ?? []).filter { !pool.busy.contains($0.id) }
                pool.environments[key] = pool.environments[key]?.filter { pool.busy.contains($0.id) }
            }
            pool.configurations[key] = config
            pool.environments[key]?.removeAll { !$0.isAvailable && !pool.busy.contains($0.id) }
            return (changed, stale)
        }
        for environment in stale { environment.broker.terminate() }
        if changed { plans[key] = nil }
        let plan = try await plan(for: config)
        // An environment on the caller's own event loop first (its connection's, see `callerLoop`): the event, the
        // answer and the reply to the caller are then written from one thread.
        let here = Self.callerLoop.flatMap { loops.contains(ObjectIdentifier($0)) ? $0 : nil }
        enum Next { case warm(ExecutionEnvironment), start(any EventLoop, evicted: [ExecutionEnvironment]) }
        let next = try pool.withLock { pool throws(RuntimeError) -> Next in
            if let warm = pool.takeWarm(config, preferring: here) { return .warm(warm) }
            guard !pool.isShutDown else { throw RuntimeError(.shutDown, "The local runtime is shutting down; \(config.functionName) was not started.") }
            let evicted = Self.evictIdleEnvironments(&pool, keeping: options.maximumConcurrency - 1)
            let loop = Self.loopForNewEnvironment(pool, of: key, preferring: here, in: options.eventLoopGroup)
            pool.starting += 1
            pool.startingOn[ObjectIdentifier(loop), default: 0] += 1
            return .start(loop, evicted: evicted)
        }
        let loop: any EventLoop
        switch next {
        case .warm(let warm):
            return (warm, plan.warnings)
        case .start(let chosen, let evicted):
            for environment in evicted { environment.broker.terminate() }
            loop = chosen
        }
        defer {
            pool.withLock { pool in
                pool.starting -= 1
                pool.startingOn[ObjectIdentifier(loop), default: 1] -= 1
            }
        }
        let environment = try await ExecutionEnvironment.start(
            config: config, plan: plan, workDirectory: workDirectory, loop: loop, cpu: loopCPUs[ObjectIdentifier(loop)], options: options)
        let admitted = pool.withLock { pool -> Bool in
            guard !pool.isShutDown else { return false }
            pool.environments[key, default: []].append(environment)
            pool.busy.insert(environment.id)
            return true
        }
        guard admitted else {
            await environment.shutdown()
            throw RuntimeError(.shutDown, "The local runtime shut down while \(config.functionName) was starting.")
        }
        options.logger.debug(
            "started execution environment",
            metadata: ["function": "\(key)", "environment": "\(environment.id)", "pid": "\(environment.pid)"])
        return (environment, plan.warnings)
    }

    /// The loop with the fewest environments of `key` (and starting ones of any function), the caller's own on
    /// a tie: a function's environments spread over every core, and a single caller finds its environment on its own loop.
    private static func loopForNewEnvironment(_ pool: Pool, of key: EnvironmentKey, preferring here: (any EventLoop)?,
                                              in group: any EventLoopGroup) -> any EventLoop {
        var counts = pool.startingOn
        for environment in pool.environments[key] ?? [] where environment.isAvailable { counts[ObjectIdentifier(environment.broker.loop), default: 0] += 1 }
        var best = here ?? group.next()
        for loop in group.makeIterator() where counts[ObjectIdentifier(loop), default: 0] < counts[ObjectIdentifier(best), default: 0] {
            best = loop
        }
        return best
    }

    /// The event loop of the connection an invocation came in on, set by the server around the request: its
    /// environment is looked for (and started, on a tie) there first.
    @TaskLocal static var callerLoop: (any EventLoop)?

    /// Keeps at most `limit` environments (plus those starting) by taking out the least recently used idle ones;
    /// returns them for the caller to end once it let go of the lock.
    private static func evictIdleEnvironments(_ pool: inout Pool, keeping limit: Int) -> [ExecutionEnvironment] {
        var all = pool.environments.values.flatMap { $0 }.filter(\.isAvailable)
        guard all.count + pool.starting > limit else { return [] }
        let lastUsed = pool.lastUsed
        all = all.filter { !pool.busy.contains($0.id) }.sorted { lastUsed[$0.id, default: 0] < lastUsed[$1.id, default: 0] }
        let evicted = Array(all.prefix(max(0, all.count + pool.starting - limit)))
        for environment in evicted {
            pool.environments[environment.config.environmentKey]?.removeAll { $0 === environment }
            pool.lastUsed[environment.id] = nil
        }
        return evicted
    }

    private func plan(for config: FunctionConfiguration) async throws -> LaunchPlan {
        let key = config.environmentKey
        if let plan = plans[key], pool.withLock({ $0.configurations[key] == config }) { return plan }
        try LaunchPlan.validate(config)
        var optDirectory: String?
        if !config.layers.isEmpty {
            let folder = "\(workDirectory)/opt/\(Self.safeName(config.functionName))-\(Self.safeName(config.version))-\(UInt32.random(in: 0...UInt32.max))"
            do {
                // Copying a large layer takes a while: off the actor, so other invocations go on.
                let layers = config.layers
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    Thread.detachNewThread {
                        continuation.resume(with: Result { try LayerMerger.merge(layers, into: folder) })
                    }
                }
            } catch let error as RuntimeError {
                throw error
            } catch {
                throw RuntimeError(.invalidConfiguration, "The layers of \(config.functionName):\(config.version) could not be merged into \(folder).", cause: UnderlyingError(error))
            }
            optDirectory = folder
        }
        let plan = try await LaunchPlan.make(
            config, optDirectory: optDirectory, bootstrapDirectory: bootstrapDirectory,
            bytecodeCacheDirectory: bytecodeCacheDirectory, options: options)
        for warning in plan.warnings where loggedWarnings.insert(warning).inserted { options.logger.warning("\(warning)") }
        plans[key] = plan
        pool.withLock { $0.configurations[key] = config }
        return plan
    }

    // MARK: - Helpers

    /// Writes the bundled bootstraps once, into a folder named for their content.
    private static func writeBootstraps(into cache: String) throws -> String {
        var hash: UInt64 = 0xcbf29ce484222325
        for byte in (BundledBootstraps.python + BundledBootstraps.node).utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100000001b3
        }
        let folder = "\(cache)/bootstrap-\(String(hash, radix: 16))"
        let fm = FileManager.default
        if fm.fileExists(atPath: "\(folder)/bootstrap.js") { return folder }
        do {
            let staging = "\(folder).\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
            try fm.createDirectory(atPath: staging, withIntermediateDirectories: true)
            try BundledBootstraps.python.write(toFile: "\(staging)/bootstrap.py", atomically: false, encoding: .utf8)
            try BundledBootstraps.node.write(toFile: "\(staging)/bootstrap.js", atomically: false, encoding: .utf8)
            if rename(staging, folder) != 0 { try? fm.removeItem(atPath: staging) }  // another process won the race
        } catch {
            throw RuntimeError(.environmentStartFailed, "Could not write the bundled bootstraps to \(folder); check the cache folder is writable.", cause: UnderlyingError(error))
        }
        return folder
    }

    private static func safeName(_ s: String) -> String {
        String(s.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
    }
}

/// Runs `body` with a fresh `LocalRuntime` and always shuts it down afterwards, processes included.
public func withLocalRuntime<T: Sendable>(
    options: LocalRuntime.Options = LocalRuntime.Options(),
    _ body: (LocalRuntime) async throws -> T
) async throws -> T {
    let runtime = try LocalRuntime(options: options)
    do {
        let value = try await body(runtime)
        await runtime.shutdown()
        return value
    } catch {
        await runtime.shutdown()
        throw error
    }
}

extension LogEvent {
    /// An `AsyncStream` of log events and the handler to put in `LocalRuntime.Options.logHandler`.
    public static func makeStream(bufferingNewest limit: Int = 10_000) -> (stream: AsyncStream<LogEvent>, handler: @Sendable (LogEvent) -> Void) {
        let (stream, continuation) = AsyncStream<LogEvent>.makeStream(bufferingPolicy: .bufferingNewest(limit))
        return (stream, { continuation.yield($0) })
    }
}
