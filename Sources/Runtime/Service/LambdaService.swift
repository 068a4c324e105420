import Foundation
import Synchronization

/// What an Invoke call asks for.
public struct InvokeRequest: Sendable {
    /// How the caller wants the answer (`X-Amz-Invocation-Type`).
    public enum InvocationType: String, Sendable {
        case requestResponse = "RequestResponse"
        case event = "Event"
        case dryRun = "DryRun"
    }

    /// A name, `name:qualifier`, a partial ARN or a full ARN.
    public var function: String
    public var qualifier: String?
    public var payload: [UInt8]
    public var invocationType: InvocationType
    /// `X-Amz-Log-Type: Tail`.
    public var tailLog: Bool
    public var clientContext: String?
    /// The invocation's request id (a new one when nil): the Invoke API passes the id it answers with.
    public var requestId: String?

    public init(function: String, qualifier: String? = nil, payload: [UInt8] = Array("{}".utf8),
                invocationType: InvocationType = .requestResponse, tailLog: Bool = false, clientContext: String? = nil,
                requestId: String? = nil) {
        self.requestId = requestId
        self.function = function
        self.qualifier = qualifier
        self.payload = payload
        self.invocationType = invocationType
        self.tailLog = tailLog
        self.clientContext = clientContext
    }
}

/// What an Invoke call answers (status 200 also for function errors, as Lambda does).
public struct InvokeResponse: Sendable {
    public var statusCode: Int
    public var payload: [UInt8]
    public var executedVersion: String?
    /// `Unhandled` when the function failed.
    public var functionError: String?
    /// Base64 of the last 4 KB of the invocation's log, when asked for.
    public var logResult: String?
    /// The full invocation result, for callers inside the process (nil for Event and DryRun).
    public var result: InvocationResult?
    /// The request id (`x-amzn-RequestId`): the invocation's, or the queued event's.
    public var requestId: String?
}

/// Lambda, locally: published versions, weighted aliases, invocations with metrics and logs.
///
/// Joins the state store (versions, aliases), the runtime (processes) and the metrics store; the
/// Invoke API server and `shift deploy` both drive it.
public actor LambdaService {
    public let store: StateStore
    public let metrics: MetricsStore
    public let runtime: LocalRuntime
    public let clock: any RuntimeClock
    private let router: AliasRouter
    /// What a warm invocation reads without the actor (`invokeWarm`), behind a lock.
    let shared = Mutex(Shared())
    /// The Invoke API's URL once `setEndpoint` was called.
    public private(set) var endpointURL: String?
    /// The asynchronous invocation queue (see `LambdaService+Async.swift`).
    nonisolated let eventStream: AsyncStream<AsyncEvent>
    nonisolated let eventContinuation: AsyncStream<AsyncEvent>.Continuation
    var eventQueue = EventQueueState()

    /// - Parameter asyncConcurrency: most attempts of queued (Event) invocations running at once.
    public init(store: StateStore, metrics: MetricsStore, runtime: LocalRuntime, clock: any RuntimeClock, routingSeed: UInt64? = nil,
                asyncConcurrency: Int = 8) {
        self.store = store
        self.metrics = metrics
        self.runtime = runtime
        self.clock = clock
        self.router = AliasRouter(seed: routingSeed ?? UInt64.random(in: 0...UInt64.max))
        (eventStream, eventContinuation) = AsyncStream<AsyncEvent>.makeStream()
        eventQueue.freeSlots = max(1, asyncConcurrency)
    }

    /// Makes the functions known (and registers them in the store); replaces earlier definitions of the same names.
    public func register(_ functions: [FunctionDefinition]) async throws {
        // The template's ReservedConcurrentExecutions (or its absence) is each function's reservation from now on.
        try await runtime.setReservedConcurrency(Dictionary(functions.map { ($0.name, $0.latest.reservedConcurrency) }, uniquingKeysWith: { $1 }))
        for function in functions {
            definitions[function.name] = function
            try await store.registerFunction(function.name)
        }
    }

    public func definition(named name: String) -> FunctionDefinition? { definitions[name] }

    public var functionNames: [String] { definitions.keys.sorted() }

    /// Sets the endpoint every function gets as `AWS_ENDPOINT_URL_LAMBDA` / `AWS_ENDPOINT_URL_CODEDEPLOY`,
    /// with a region and dummy credentials, so code written for AWS reaches this service unmodified.
    public func setEndpoint(_ url: String, region: String) {
        serviceEnvironment = [
            "AWS_ENDPOINT_URL_LAMBDA": url,
            "AWS_ENDPOINT_URL_CODEDEPLOY": url,
            "AWS_ENDPOINT_URL": url,
        ]
        endpointURL = url
        _ = region
    }

    // MARK: Versions

    /// When a publish makes a new version.
    public enum PublishRule: Sendable {
        /// Lambda's PublishVersion: any change of code or configuration since the last version.
        case anyChange
        /// SAM's AutoPublishAlias: a change of code, Environment or MemorySize (any change with
        /// `AutoPublishAliasAllProperties`).
        case autoPublishAlias
    }

    /// Whether `publishVersion(function:rule:)` would make a new version now, and what changed; writes nothing.
    /// What publishing would do, against the latest version or, with `version`, against that one (is what an alias
    /// serves already what is on disk?).
    public func publishPreview(function name: String, comparedWith version: Int? = nil, rule: PublishRule = .autoPublishAlias) async throws -> PublishPlan {
        guard let definition = definitions[name] else {
            throw StateError(.resourceNotFound, "Function not found: \(name); it is not in the template being served")
        }
        let layers = try definition.latest.layers.map { path in
            LayerReference(name: URL(fileURLWithPath: path).lastPathComponent, codeSha256: try store.codeHash(.directory(URL(fileURLWithPath: path))))
        }
        let codeSha256 = try latestCodeSha256(definition)
        let base: FunctionVersion?
        if let version { base = try await store.getVersion(function: name, version: version) } else { base = try await store.latestPublishedVersion(function: name) }
        return PublishPlan.compare(definition, codeSha256: codeSha256, layers: layers, latest: base, rule: rule)
    }

    /// Publishes `$LATEST` as a new version, or returns the latest version when nothing that counts changed.
    public func publishVersion(function name: String, description: String? = nil, rule: PublishRule = .anyChange) async throws -> (version: FunctionVersion, created: Bool) {
        guard let definition = definitions[name] else {
            throw StateError(.resourceNotFound, "Function not found: \(name); it is not in the template being served")
        }
        let layers = try definition.latest.layers.map { path -> LayerReference in
            let snapshot = try store.snapshotCode(.directory(URL(fileURLWithPath: path)))
            return LayerReference(name: URL(fileURLWithPath: path).lastPathComponent, codeSha256: snapshot.sha256)
        }
        let configuration = definition.versionConfiguration(layerHashes: layers)
        let code = CodeSource.directory(URL(fileURLWithPath: definition.latest.codeDirectory))
        if rule == .autoPublishAlias, let latest = try await store.latestPublishedVersion(function: name) {
            let plan = PublishPlan.compare(definition, codeSha256: try latestCodeSha256(definition), layers: layers, latest: latest, rule: rule)
            if !plan.wouldCreate { return (latest, false) }
        }
        return try await store.publishVersion(function: name, configuration: configuration, code: code,
                                              description: description ?? definition.description, reportedSha256: definition.uploadedCodeSha256)
    }

    // MARK: Invoking

    /// Lambda's limit on an Event (asynchronous) payload: 1 MB (the Invoke API reference; it was 256 KB before 2025).
    public static let maximumEventBytes = 1_048_576

    /// Runs an invocation to completion (RequestResponse), queues it (Event, 202) or only checks it
    /// (DryRun, 204), and records its metrics and logs. Queued events run only while some task runs
    /// `runEventQueue()`.
    public func invoke(_ request: InvokeRequest) async throws -> InvokeResponse {
        let (name, qualifier) = try LambdaArn.parseFunctionReference(request.function, qualifier: request.qualifier)
        guard definitions[name] != nil else {
            throw StateError(.resourceNotFound, "Function not found: \(store.options.arn.function(name, qualifier: qualifier))")
        }
        switch request.invocationType {
        case .dryRun:
            let (_, executedVersion) = try await resolve(name: name, qualifier: qualifier)
            return InvokeResponse(statusCode: 204, payload: [], executedVersion: executedVersion)
        case .event:
            guard request.payload.count <= Self.maximumEventBytes else {
                throw RuntimeError(.requestTooLarge, "Request must be smaller than \(Self.maximumEventBytes) bytes for an asynchronous (Event) invocation of \(name); got \(request.payload.count) bytes. Send a reference to the data instead.")
            }
            _ = try await store.resolveTarget(function: name, qualifier: qualifier)
            let id = enqueueEvent(function: name, qualifier: qualifier, payload: request.payload)
            return InvokeResponse(statusCode: 202, payload: [], requestId: id)
        case .requestResponse:
            let (result, executedVersion) = try await run(name: name, qualifier: qualifier, payload: request.payload,
                                                           requestId: request.requestId, clientContext: request.clientContext)
            return Self.response(result, executedVersion: executedVersion, tailLog: request.tailLog)
        }
    }

    /// One run of `name` + `qualifier` with its metrics (a throttle is recorded, then thrown).
    func run(name: String, qualifier: String?, payload: [UInt8], requestId: String?, clientContext: String?) async throws -> (InvocationResult, String) {
        let (configuration, executedVersion) = try await resolve(name: name, qualifier: qualifier)
        let start = clock.nowMilliseconds
        let inFlight = shared.withLock { $0.enter(name) }
        defer { shared.withLock { $0.leave(name) } }
        let result: InvocationResult
        do {
            result = try await runtime.invoke(configuration, payload: payload, requestId: requestId, clientContext: clientContext,
                                              invokedFunctionArn: store.options.arn.function(name, qualifier: qualifier))
        } catch let error as RuntimeError where error.code == .tooManyRequests {
            metrics.record(InvocationSample(functionName: name, qualifier: qualifier, executedVersion: executedVersion,
                                            startMilliseconds: start, durationMilliseconds: 0, errorType: nil, throttled: true, concurrency: inFlight))
            throw error
        }
        record(result, name: name, qualifier: qualifier, executedVersion: executedVersion, start: start, inFlight: inFlight)
        return (result, executedVersion)
    }

    nonisolated func record(_ result: InvocationResult, name: String, qualifier: String?, executedVersion: String, start: Int64, inFlight: Int) {
        metrics.record(InvocationSample(
            functionName: name, qualifier: qualifier, executedVersion: executedVersion, startMilliseconds: start,
            durationMilliseconds: Double(result.duration.components.seconds) * 1000 + Double(result.duration.components.attoseconds) / 1e15,
            errorType: result.functionError == nil ? nil : (result.errorType ?? "Unhandled"), throttled: false, concurrency: inFlight))
    }

    /// The configuration to run for `name` + `qualifier`: `$LATEST` from disk, a version from its snapshot,
    /// an alias through weighted routing.
    public func resolve(name: String, qualifier: String?) async throws -> (FunctionConfiguration, executedVersion: String) {
        let notFound = StateError(.resourceNotFound, "Function not found: \(store.options.arn.function(name, qualifier: qualifier))")
        guard definitions[name] != nil else { throw notFound }
        // `register` stored every defined function, so `$LATEST` needs no database read (the hot path).
        let target: InvocationTarget = (qualifier == nil || qualifier == "$LATEST")
            ? .latest(functionName: name) : try await store.resolveTarget(function: name, qualifier: qualifier)
        let resolved: (FunctionConfiguration?, String)
        switch target {
        case .latest:
            resolved = (latestConfiguration(name), "$LATEST")
        case .version(let version):
            resolved = (configuration(of: version), version.versionString)
        case .alias(let alias):
            let chosen = router.route(alias)
            if let number = Int(chosen) {
                let version = try await store.getVersion(function: name, version: number)
                resolved = (configuration(of: version), version.versionString)
            } else {
                resolved = (latestConfiguration(name), "$LATEST")
            }
            // The other version too, so that the warm path, which needs every version an alias routes to, finds it.
            for other in alias.routedVersions where other != chosen {
                if let number = Int(other), store.cachedVersion(function: name, version: number) == nil {
                    _ = try? await store.getVersion(function: name, version: number)
                }
            }
        }
        guard let configuration = resolved.0 else { throw notFound }  // deleted meanwhile
        return (configuration, resolved.1)
    }

    /// What a warm invocation may run: one configuration, or the versions of a weighted alias, between which
    /// `choose` draws only once an idle environment of each is in hand (a call that then goes the general way has
    /// not spent a draw, so the alias's weights and a seeded router's sequence are the general path's).
    struct WarmTarget: Sendable {
        var choices: [FunctionConfiguration]
        var choose: @Sendable () -> Int
    }

    /// `resolve` without awaiting: nil when it would need the store's database (an alias or version the store has
    /// not answered under the state directory's current generation, see `StateStore.cachedTarget`).
    nonisolated func resolveCached(name: String, qualifier: String?) -> WarmTarget? {
        func one(_ configuration: FunctionConfiguration?) -> WarmTarget? { configuration.map { WarmTarget(choices: [$0], choose: { 0 }) } }
        guard let qualifier, qualifier != "$LATEST" else { return one(latestConfiguration(name)) }
        switch store.cachedTarget(function: name, qualifier: qualifier) {
        case nil:
            return nil
        case .latest:
            return one(latestConfiguration(name))
        case .version(let version):
            return one(configuration(of: version))
        case .alias(let alias):
            let versions = alias.routedVersions
            var choices: [FunctionConfiguration] = []
            for candidate in versions {
                if let number = Int(candidate) {
                    guard let version = store.cachedVersion(function: name, version: number), let configuration = configuration(of: version) else { return nil }
                    choices.append(configuration)
                } else {
                    guard let configuration = latestConfiguration(name) else { return nil }
                    choices.append(configuration)
                }
            }
            let router = router
            return WarmTarget(choices: choices, choose: { versions.firstIndex(of: router.route(alias)) ?? 0 })
        }
    }

    /// `$LATEST` with the service's endpoints, built once per definition and endpoint (an unchanged configuration
    /// is then the same value, which the runtime compares on every invocation); nil for an unknown function. Read
    /// and cached under one lock, so a definition changed meanwhile is never cached in its old form.
    private nonisolated func latestConfiguration(_ name: String) -> FunctionConfiguration? {
        shared.withLock { shared in
            if let known = shared.latestConfigurations[name] { return known }
            guard var configuration = shared.definitions[name]?.latest else { return nil }
            configuration.environment.merge(shared.serviceEnvironment) { $1 }
            shared.latestConfigurations[name] = configuration
            return configuration
        }
    }

    /// A published version runs from its snapshot: its own code, layers and configuration; nil when its function is
    /// no longer defined.
    private nonisolated func configuration(of version: FunctionVersion) -> FunctionConfiguration? {
        let key = EnvironmentKey(functionName: version.functionName, version: version.versionString)
        let (known, epoch, serviceEnvironment, definition) = shared.withLock {
            ($0.versionConfigurations[key], $0.epoch, $0.serviceEnvironment, $0.definitions[version.functionName])
        }
        // Numbers restart after a DeleteFunction (perhaps by another process): code and publication tell the versions apart.
        if let known, known.published == (version.codeSha256, version.publishedAt) { return known.configuration }
        guard let definition else { return nil }
        let stored = version.configuration
        var environment = stored.environment
        environment.merge(serviceEnvironment) { $1 }
        let layers = stored.layers.compactMap { store.codeDirectory(for: $0.codeSha256)?.path }
        let configuration = FunctionConfiguration(
            functionName: version.functionName, version: version.versionString, runtime: stored.runtime,
            handler: stored.handler.isEmpty ? nil : stored.handler, codeDirectory: version.codeDirectory.path, layers: layers,
            memorySize: stored.memorySize, timeout: stored.timeout, environment: environment,
            reservedConcurrency: stored.extra["ReservedConcurrentExecutions"].flatMap(Int.init),
            region: definition.latest.region, accountId: definition.latest.accountId)
        // Built from what the lock gave: kept only if nothing it was built from changed meanwhile.
        shared.withLock { if $0.epoch == epoch { $0.versionConfigurations[key] = ((version.codeSha256, version.publishedAt), configuration) } }
        return configuration
    }
}
