import Foundation
import Runtime
import TemplateModel

/// The local Lambda service a command runs on: state store, metrics, logs, runtime and service, opened together.
public struct ServiceStack: Sendable {
    public let store: StateStore
    public let metrics: MetricsStore
    public let logs: LogRecorder
    public let runtime: LocalRuntime
    public let service: LambdaService
    /// The state directory's time base (or a test's manual clock).
    public let clock: any RuntimeClock

    /// Ends every function process, writes pending metrics and logs, and releases the state directory.
    public func close() async {
        await runtime.shutdown()
        try? metrics.flush()
        try? await logs.flush()
        (clock as? StateClock)?.close()
        try? store.close()
    }
}

/// Shared setup of `shift serve` and `shift bench serve`: template → `FunctionDefinition`s (through
/// `FunctionMapping`), then the stores, the runtime and the service.
public enum ServiceSetup {
    /// The definitions of every function of `template` that can run here; the others (S3 code, images,
    /// published layer ARNs) come back with the reason, for the caller to warn about or refuse.
    public static func definitions(template: Template, stateDirectory: URL) -> (definitions: [FunctionDefinition], skipped: [String: String]) {
        let mapping = FunctionMapping(template: template, stateDirectory: stateDirectory)
        let names = Set(template.functions.map(\.functionName))
        let logicalIds = Dictionary(template.functions.map { ($0.logicalId, $0.functionName) }, uniquingKeysWith: { a, _ in a })
        var definitions: [FunctionDefinition] = []
        var skipped: [String: String] = [:]
        for function in template.functions {
            do {
                definitions.append(FunctionDefinition(
                    latest: try mapping.configuration(for: function),
                    publishesAllProperties: function.autoPublishAliasAllProperties,
                    asyncConfig: asyncConfig(of: function, functionNames: names, logicalIds: logicalIds),
                    description: function.versionDescription ?? function.description ?? ""))
            } catch let error as DeploymentError {
                skipped[function.logicalId] = error.message
            } catch {
                skipped[function.logicalId] = "\(error)"
            }
        }
        return (definitions, skipped)
    }

    /// `EventInvokeConfig` and `DeadLetterQueue`: Lambda destinations that are functions of this template
    /// become local invocations; every other target is kept in the state directory.
    public static func asyncConfig(of function: Function, functionNames: Set<String>, logicalIds: [String: String]) -> AsyncInvokeConfig {
        func destination(_ value: EventInvokeConfig.Destination?) -> AsyncInvokeConfig.Destination? {
            guard let value, let target = value.destination, !target.isEmpty else { return nil }
            if let (name, qualifier) = try? LambdaArn.parseFunctionReference(target) {
                let local = logicalIds[name] ?? name
                if functionNames.contains(local) { return .function(qualifier.map { "\(local):\($0)" } ?? local) }
            }
            return .other(target)
        }
        let config = function.eventInvokeConfig
        let deadLetter = function.properties["DeadLetterQueue"]?.mapValue?["TargetArn"]?.stringValue
        return AsyncInvokeConfig(
            maximumRetryAttempts: config?.maximumRetryAttempts ?? 2,
            maximumEventAgeInSeconds: config?.maximumEventAgeInSeconds ?? 21_600,
            onSuccess: destination(config?.onSuccess), onFailure: destination(config?.onFailure),
            deadLetterTarget: deadLetter)
    }

    /// Where functions run on this state directory keep Python bytecode, warm from one command to the next.
    public static func bytecodeCacheDirectory(in stateDirectory: URL) -> String {
        stateDirectory.appendingPathComponent("pycache", isDirectory: true).path
    }

    /// Opens the state directory, its time base (`clock` replaces it in tests) and everything on top of them.
    public static func open(definitions: [FunctionDefinition], stateDirectory: URL, region: String, accountId: String, timeScale: Double,
                            clock injected: (any RuntimeClock)? = nil, routingSeed: UInt64? = nil, readOnly: Bool = false,
                            configure: (inout LocalRuntime.Options) -> Void = { _ in }) async throws -> ServiceStack {
        // A read-only opener (a dry run) must not join the time base: that writes to the directory.
        let clock: any RuntimeClock = try injected ?? (readOnly ? ScaledClock(timeScale: timeScale) : StateClock.open(directory: stateDirectory, timeScale: timeScale))
        let store: StateStore
        do {
            store = try await StateStore.open(
                directory: stateDirectory,
                options: StateStore.Options(arn: LambdaArn(region: region, accountId: accountId), readOnly: readOnly, clock: clock))
        } catch {
            (clock as? StateClock)?.close()
            throw error
        }
        do {
            let metrics = try MetricsStore(store: store)
            let logs = LogRecorder(store: store, clock: clock)
            var options = LocalRuntime.Options()
            options.logHandler = logs.handler
            if !readOnly { options.bytecodeCacheDirectory = bytecodeCacheDirectory(in: stateDirectory) }
            configure(&options)
            let runtime = try LocalRuntime(options: options)
            let service = LambdaService(store: store, metrics: metrics, runtime: runtime, clock: clock, routingSeed: routingSeed)
            try await service.register(definitions)
            return ServiceStack(store: store, metrics: metrics, logs: logs, runtime: runtime, service: service, clock: clock)
        } catch {
            (clock as? StateClock)?.close()
            try? store.close()
            throw error
        }
    }
}
