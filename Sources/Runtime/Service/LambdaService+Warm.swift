import Foundation
import NIOCore
import Synchronization

/// The warm path: an invocation started from the caller's event loop, without a hop through the actor, when
/// everything it needs is known already (see `invokeWarm`).
extension LambdaService {
    /// What `LambdaService` keeps behind its lock rather than in the actor.
    struct Shared {
        var definitions: [String: FunctionDefinition] = [:] { didSet { dropResolved() } }
        /// Added to every function's environment: where the Invoke API and CodeDeploy endpoints listen.
        var serviceEnvironment: [String: String] = [:] { didSet { dropResolved() } }
        /// Resolved configurations (with the service's environment), dropped whenever either of the above changes.
        var latestConfigurations: [String: FunctionConfiguration] = [:]
        var versionConfigurations: [EnvironmentKey: (published: (String, Int64), configuration: FunctionConfiguration)] = [:]
        /// Invocations in flight by function, for the `ConcurrentExecutions` metric.
        var inFlight: [String: Int] = [:]
        /// Invocations answered by the warm path.
        var warmAnswers = 0
        /// Moves whenever the resolved configurations are dropped: what was built from older values is not kept.
        var epoch: UInt64 = 0

        mutating func enter(_ name: String) -> Int {
            inFlight[name, default: 0] += 1
            return inFlight[name, default: 1]
        }

        mutating func leave(_ name: String) {
            inFlight[name, default: 1] -= 1
        }

        mutating func dropResolved() {
            epoch &+= 1
            latestConfigurations = [:]
            versionConfigurations = [:]
        }
    }

    var definitions: [String: FunctionDefinition] {
        get { shared.withLock { $0.definitions } }
        set { shared.withLock { $0.definitions = newValue } }
    }

    var serviceEnvironment: [String: String] {
        get { shared.withLock { $0.serviceEnvironment } }
        set { shared.withLock { $0.serviceEnvironment = newValue } }
    }

    /// How many invocations the warm path answered (the rest went through `invoke`), for benchmarks and tests.
    public nonisolated var warmPathAnswers: Int { shared.withLock { $0.warmAnswers } }

    /// Starts a RequestResponse invocation on a warm environment at once, without suspending, and returns true;
    /// `completion` then runs on the environment's event loop with the answer (metrics and logs recorded as
    /// `invoke` records them), or with nil when the environment ended before it took the event. Returns false,
    /// having done nothing, when the call needs more than the warm path has (another invocation type, an alias
    /// not resolved yet, no idle environment, a throttle, an unknown function): `invoke` answers it then, errors included.
    public nonisolated func invokeWarm(_ request: InvokeRequest, preferring loop: (any EventLoop)?,
                                       completion: @escaping @Sendable (InvokeResponse?) -> Void) -> Bool {
        guard request.invocationType == .requestResponse,
              let (name, qualifier) = try? LambdaArn.parseFunctionReference(request.function, qualifier: request.qualifier),
              let target = resolveCached(name: name, qualifier: qualifier) else { return false }
        let requestId = request.requestId ?? RequestId.make()
        let start = clock.nowMilliseconds
        let inFlight = shared.withLock { $0.enter(name) }
        let tailLog = request.tailLog
        let started = runtime.invokeWarm(
            target.choices, choose: target.choose, payload: request.payload, requestId: requestId, clientContext: request.clientContext,
            invokedFunctionArn: store.options.arn.function(name, qualifier: qualifier), preferring: loop
        ) { [self] result in
            shared.withLock {
                $0.leave(name)
                if result != nil { $0.warmAnswers += 1 }
            }
            guard let result else { return completion(nil) }
            // The configuration's version: `$LATEST` or the number an alias routed to.
            let executedVersion = result.executedVersion
            record(result, name: name, qualifier: qualifier, executedVersion: executedVersion, start: start, inFlight: inFlight)
            completion(Self.response(result, executedVersion: executedVersion, tailLog: tailLog))
        }
        if !started { shared.withLock { $0.leave(name) } }
        return started
    }

    /// The Invoke answer to a finished synchronous invocation.
    static func response(_ result: InvocationResult, executedVersion: String, tailLog: Bool) -> InvokeResponse {
        let logResult = tailLog ? Data(result.log.utf8.suffix(4096)).base64EncodedString() : nil
        return InvokeResponse(statusCode: 200, payload: result.payload, executedVersion: executedVersion,
                              functionError: result.functionError, logResult: logResult, result: result, requestId: result.requestId)
    }
}
