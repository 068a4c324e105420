import Foundation

/// One queued asynchronous (Event) invocation.
struct AsyncEvent: Sendable {
    var requestId: String
    var function: String
    var qualifier: String?
    var payload: [UInt8]
    /// Service-clock ms when it was queued (for `MaximumEventAgeInSeconds`).
    var queuedAt: Int64
}

/// The bookkeeping of the Event queue, inside the service actor.
struct EventQueueState {
    /// Events queued or being processed (destinations they produce count before they finish).
    var outstanding = 0
    var idleWaiters: [CheckedContinuation<Void, Never>] = []
    /// Attempts that may start now; a retry waiting for its backoff holds none.
    var freeSlots = 8
    var slotWaiters: [CheckedContinuation<Void, Never>] = []
}

/// How an asynchronous invocation ended, as destination records name it.
enum AsyncCondition: String {
    case success = "Success"
    case retriesExhausted = "RetriesExhausted"
    case eventAgeExceeded = "EventAgeExceeded"
}

extension LambdaService {
    /// Runs the Event queue until the calling task is cancelled: each event's attempts, retries
    /// (function errors after 1 and 2 minutes of the service clock; throttles from 1 s doubling up to
    /// 5 minutes) and destinations. Call it in the owner's task group; queued events are dropped on cancellation.
    public nonisolated func runEventQueue() async {
        await withDiscardingTaskGroup { group in
            for await event in eventStream {
                group.addTask { await self.process(event) }
            }
        }
    }

    /// Returns when no Event invocation is queued, running or waiting for a retry (tests, benchmarks).
    public func waitUntilEventQueueIdle() async {
        if eventQueue.outstanding == 0 { return }
        await withCheckedContinuation { eventQueue.idleWaiters.append($0) }
    }

    /// Events queued, running or waiting for a retry.
    public var outstandingEvents: Int { eventQueue.outstanding }

    /// Queues an Event invocation; returns its request id.
    func enqueueEvent(function: String, qualifier: String?, payload: [UInt8]) -> String {
        let id = RequestId.make()
        eventQueue.outstanding += 1
        eventContinuation.yield(AsyncEvent(requestId: id, function: function, qualifier: qualifier, payload: payload, queuedAt: clock.nowMilliseconds))
        return id
    }

    private func finishEvent() {
        eventQueue.outstanding -= 1
        guard eventQueue.outstanding == 0 else { return }
        let waiters = eventQueue.idleWaiters
        eventQueue.idleWaiters = []
        for waiter in waiters { waiter.resume() }
    }

    private func acquireSlot() async {
        if eventQueue.freeSlots > 0 {
            eventQueue.freeSlots -= 1
            return
        }
        await withCheckedContinuation { eventQueue.slotWaiters.append($0) }
    }

    private func releaseSlot() {
        if eventQueue.slotWaiters.isEmpty {
            eventQueue.freeSlots += 1
        } else {
            eventQueue.slotWaiters.removeFirst().resume()  // the slot passes to the waiter
        }
    }

    /// Attempts one event until it succeeds, runs out of retries or grows too old, then delivers its record.
    private func process(_ event: AsyncEvent) async {
        defer { finishEvent() }
        let config = definition(named: event.function)?.asyncConfig ?? AsyncInvokeConfig()
        let maximumAge = Int64(config.maximumEventAgeInSeconds) * 1000
        var attempts = 0
        var throttleDelay = Duration.seconds(1)
        var last: (result: InvocationResult, version: String)?
        var condition = AsyncCondition.retriesExhausted
        while true {
            if clock.nowMilliseconds - event.queuedAt > maximumAge {
                condition = .eventAgeExceeded
                break
            }
            await acquireSlot()
            let outcome: Result<(InvocationResult, String), any Error>
            do {
                outcome = .success(try await run(name: event.function, qualifier: event.qualifier, payload: event.payload,
                                                 requestId: event.requestId, clientContext: nil))
            } catch {
                outcome = .failure(error)
            }
            releaseSlot()
            do {
                switch outcome {
                case .success(let (result, version)):
                    attempts += 1
                    last = (result, version)
                    if result.functionError == nil {
                        await deliver(event, condition: .success, attempts: attempts, last: last, to: config.onSuccess, config: config)
                        return
                    }
                    if attempts > config.maximumRetryAttempts { break }
                    // Lambda retries a failed event after about one minute, then about two.
                    try await clock.sleep(for: .seconds(60 * attempts))
                    continue
                case .failure(let error as RuntimeError) where error.code == .tooManyRequests:
                    try await clock.sleep(for: throttleDelay)
                    throttleDelay = min(throttleDelay * 2, .seconds(300))
                    continue
                case .failure(let error as RuntimeError) where error.code == .shutDown:
                    return
                case .failure:
                    // Not runnable (deleted alias, bad configuration): nothing a retry would change.
                    break
                }
            } catch {
                return  // cancelled while waiting for a retry: the queue is shutting down
            }
            break
        }
        await deliver(event, condition: condition, attempts: attempts, last: last, to: config.onFailure, config: config)
    }

    /// Sends the record to the destination (and, after a failure, the event to the dead-letter queue).
    private func deliver(_ event: AsyncEvent, condition: AsyncCondition, attempts: Int, last: (result: InvocationResult, version: String)?,
                         to destination: AsyncInvokeConfig.Destination?, config: AsyncInvokeConfig) async {
        let executedVersion = last?.version ?? "$LATEST"
        let now = clock.nowMilliseconds
        if condition != .success, let target = config.deadLetterTarget {
            let error = last.flatMap { Self.errorFields(of: $0.result) }
            let record = DeadLetterRecord(
                functionName: event.function, qualifier: event.qualifier, requestId: event.requestId, condition: condition.rawValue,
                errorType: error?.type ?? last?.result.errorType, errorMessage: error?.message ?? "dead-letter queue \(target)",
                approximateInvokeCount: attempts, payload: Data(event.payload), recordedAt: now)
            do {
                try await store.addDeadLetter(record)
            } catch {
                metrics.recordDeadLetterError(functionName: event.function, qualifier: event.qualifier, executedVersion: executedVersion, atMilliseconds: now)
            }
        }
        guard let destination else { return }
        let record = destinationRecord(event, condition: condition, attempts: attempts, last: last)
        switch destination {
        case .function(let reference):
            guard let (name, qualifier) = try? LambdaArn.parseFunctionReference(reference), definition(named: name) != nil,
                  (try? await store.resolveTarget(function: name, qualifier: qualifier)) != nil else {
                metrics.recordDestinationDeliveryFailure(functionName: event.function, qualifier: event.qualifier, executedVersion: executedVersion, atMilliseconds: now)
                return
            }
            _ = enqueueEvent(function: name, qualifier: qualifier, payload: record)
        case .other(let arn):
            let stored = DeadLetterRecord(
                functionName: event.function, qualifier: event.qualifier, requestId: event.requestId, condition: condition.rawValue,
                errorType: condition == .success ? "OnSuccess" : "OnFailure", errorMessage: arn,
                approximateInvokeCount: attempts, payload: Data(record), recordedAt: now)
            do {
                try await store.addDeadLetter(stored)
            } catch {
                metrics.recordDestinationDeliveryFailure(functionName: event.function, qualifier: event.qualifier, executedVersion: executedVersion, atMilliseconds: now)
            }
        }
    }

    /// The invocation record of REFERENCE.md ("Asynchronous invocation").
    private func destinationRecord(_ event: AsyncEvent, condition: AsyncCondition, attempts: Int, last: (result: InvocationResult, version: String)?) -> [UInt8] {
        func json(_ bytes: [UInt8]) -> Any {
            (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) ?? String(decoding: bytes, as: UTF8.self)
        }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var record: [String: Any] = [
            "version": "1.0",
            "timestamp": formatter.string(from: Date(timeIntervalSince1970: Double(clock.nowMilliseconds) / 1000)),
            "requestContext": [
                "requestId": event.requestId,
                "functionArn": store.options.arn.function(event.function, qualifier: event.qualifier ?? "$LATEST"),
                "condition": condition.rawValue,
                "approximateInvokeCount": attempts,
            ] as [String: Any],
            "requestPayload": json(event.payload),
        ]
        if let last {
            var response: [String: Any] = ["statusCode": 200, "executedVersion": last.version]
            if let error = last.result.functionError { response["functionError"] = error }
            record["responseContext"] = response
            record["responsePayload"] = json(last.result.payload)
        }
        let data = (try? JSONSerialization.data(withJSONObject: record, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Array(data)
    }

    private static func errorFields(of result: InvocationResult) -> (type: String?, message: String?)? {
        guard result.functionError != nil,
              let object = try? JSONSerialization.jsonObject(with: Data(result.payload)) as? [String: Any] else { return nil }
        return (object["errorType"] as? String, object["errorMessage"] as? String)
    }
}
