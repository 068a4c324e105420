import Foundation
import Synchronization
import Runtime
import TemplateModel

/// The local Lambda a command works with: state store, metrics, processes and the service joining them.
///
/// `open` takes the state directory's lock; `close` always shuts every function process down and
/// flushes metrics, so a command that opened a session ends with nothing left running.
struct LocalSession: Sendable {
    let stateDirectory: URL
    let store: StateStore
    let metrics: MetricsStore
    let runtime: LocalRuntime
    let clock: ScaledClock
    let service: LambdaService
    let hooks: LifecycleHooks

    static func open(stateDirectory: URL, template: Template, timeScale: Double, routingSeed: UInt64? = nil) async throws -> LocalSession {
        let arn = LambdaArn(region: template.pseudoParameters.region, accountId: template.pseudoParameters.accountId)
        let store = try await StateStore.open(directory: stateDirectory, options: StateStore.Options(arn: arn))
        do {
            let metrics = try MetricsStore(store: store)
            var options = LocalRuntime.Options()
            options.idleTimeout = .seconds(60)
            let logs = LogSink(store: store)
            options.logHandler = { event in logs.add(event) }
            let runtime = try LocalRuntime(options: options)
            let clock = ScaledClock(timeScale: timeScale)
            let service = LambdaService(store: store, metrics: metrics, runtime: runtime, clock: clock, routingSeed: routingSeed)
            return LocalSession(stateDirectory: stateDirectory, store: store, metrics: metrics, runtime: runtime, clock: clock,
                                service: service, hooks: LifecycleHooks(), logs: logs)
        } catch {
            try? store.close()
            throw error
        }
    }

    private let logs: LogSink

    private init(stateDirectory: URL, store: StateStore, metrics: MetricsStore, runtime: LocalRuntime, clock: ScaledClock,
                 service: LambdaService, hooks: LifecycleHooks, logs: LogSink) {
        self.stateDirectory = stateDirectory
        self.store = store
        self.metrics = metrics
        self.runtime = runtime
        self.clock = clock
        self.service = service
        self.hooks = hooks
        self.logs = logs
    }

    /// Function definitions for every function of the template that can run here; the others are
    /// returned as warnings (S3 code, images, published layer ARNs).
    static func definitions(for template: Template, stateDirectory: URL) -> (definitions: [FunctionDefinition], skipped: [String: String]) {
        let mapping = FunctionMapping(template: template, stateDirectory: stateDirectory)
        var definitions: [FunctionDefinition] = []
        var skipped: [String: String] = [:]
        for function in template.functions {
            do {
                let configuration = try mapping.configuration(for: function)
                definitions.append(FunctionDefinition(
                    latest: configuration, publishesAllProperties: function.autoPublishAliasAllProperties,
                    asyncConfig: asyncConfig(of: function, in: template), description: function.versionDescription ?? ""))
            } catch let error as CLIError {
                skipped[function.logicalId] = error.message
            } catch {
                skipped[function.logicalId] = "\(error)"
            }
        }
        return (definitions, skipped)
    }

    static func asyncConfig(of function: Function, in template: Template) -> AsyncInvokeConfig {
        guard let config = function.eventInvokeConfig else { return AsyncInvokeConfig() }
        func destination(_ value: EventInvokeConfig.Destination?) -> AsyncInvokeConfig.Destination? {
            guard let target = value?.destination else { return nil }
            if let local = template.function(named: target) { return .function(local.functionName) }
            if let name = target.split(separator: ":").last, target.contains(":function:"), let local = template.function(named: String(name)) {
                return .function(local.functionName)
            }
            return .other(target)
        }
        return AsyncInvokeConfig(maximumRetryAttempts: config.maximumRetryAttempts ?? 2,
                                 maximumEventAgeInSeconds: config.maximumEventAgeInSeconds ?? 21_600,
                                 onSuccess: destination(config.onSuccess), onFailure: destination(config.onFailure))
    }

    /// Shuts every function process down, saves metrics and logs, releases the state directory.
    func close() async {
        await runtime.shutdown()
        try? metrics.flush()
        await logs.flush()
        try? store.close()
    }
}

/// Collects log lines from the runtime's callback and writes them to the state store in batches.
final class LogSink: Sendable {
    private let store: StateStore
    private let buffer = Mutex<[LogRecord]>([])

    init(store: StateStore) { self.store = store }

    func add(_ event: LogEvent) {
        let record = LogRecord(functionName: event.functionName, version: event.version, stream: event.logStreamName,
                               requestId: nil, timestamp: event.timestampMs, message: event.message)
        buffer.withLock { $0.append(record) }
    }

    func flush() async {
        let records = buffer.withLock { buffer in
            defer { buffer.removeAll() }
            return buffer
        }
        guard !records.isEmpty else { return }
        try? await store.appendLogs(records)
    }
}
