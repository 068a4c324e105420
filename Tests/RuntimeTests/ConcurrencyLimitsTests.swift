import Testing
@testable import Runtime

@Suite struct ConcurrencyLimitsTests {
    private func admit(_ limits: inout ConcurrencyLimits, _ name: String, times: Int) -> (slots: [ConcurrencyLimits.Slot], throttles: [ThrottleReason]) {
        var slots: [ConcurrencyLimits.Slot] = [], throttles: [ThrottleReason] = []
        for _ in 0..<times {
            switch limits.acquire(name, version: "$LATEST") {
            case .success(let slot): slots.append(slot)
            case .failure(let throttle): throttles.append(throttle.reason)
            }
        }
        return (slots, throttles)
    }

    @Test func unreservedBurstLeavesTheReservedShare() throws {
        var limits = ConcurrencyLimits(accountLimit: 10)
        try limits.setReservations(["reserved": 3])
        #expect(limits.unreservedLimit == 7)
        let burst = admit(&limits, "busy", times: 12)
        #expect(burst.slots.count == 7)
        #expect(burst.throttles == Array(repeating: .concurrentInvocationLimitExceeded, count: 5))
        let reserved = admit(&limits, "reserved", times: 5)
        #expect(reserved.slots.count == 3)
        #expect(reserved.throttles == Array(repeating: .reservedFunctionConcurrentInvocationLimitExceeded, count: 2))
        #expect(limits.inFlight == 10)
        #expect(limits.inFlight(of: "reserved") == 3)
    }

    @Test func releaseFreesTheSlotItTookAfterTheReservationChanged() throws {
        var limits = ConcurrencyLimits(accountLimit: 10)
        let early = admit(&limits, "f", times: 2)
        try limits.setReservations(["f": 1])
        // The two unreserved calls still run; f's reservation (1) is free for a new call.
        #expect(admit(&limits, "f", times: 2).slots.count == 1)
        for slot in early.slots { limits.release(slot) }
        #expect(admit(&limits, "other", times: 9).slots.count == 9)
        #expect(limits.inFlight == 10)
    }

    @Test func zeroThrottlesEverything() throws {
        var limits = ConcurrencyLimits(accountLimit: 10)
        try limits.setReservations(["off": 0])
        guard case .failure(let throttle) = limits.acquire("off", version: "3") else { Issue.record("admitted"); return }
        #expect(throttle.reason == .reservedFunctionConcurrentInvocationLimitExceeded)
        #expect(throttle.message.contains("off has ReservedConcurrentExecutions 0, which throttles every invocation; off:3 was throttled"))
    }

    @Test func reservationsMustLeaveATenthUnreserved() throws {
        var limits = ConcurrencyLimits(accountLimit: 100)
        #expect(limits.minimumUnreserved == 10)
        try limits.setReservations(["a": 50, "b": 40])
        let error = #expect(throws: RuntimeError.self) { try limits.setReservations(["c": 1]) }
        #expect(error?.awsErrorType == "InvalidParameterValueException")
        #expect(error?.message.contains("minimum value of [10]") == true)
        #expect(error?.message.contains("reservations (a 50, b 40, c 1) total 91 of the account concurrency limit 100") == true)
        #expect(error?.message.contains("raise the limit to at least 101") == true, "\(error?.message ?? "")")
        #expect(limits.reservation(of: "c") == nil)  // a refused change changes nothing
        let negative = #expect(throws: RuntimeError.self) { try limits.setReservations(["a": -1]) }
        #expect(negative?.message.contains("must be 0 or more") == true)
        // Replacing a reservation counts the new value, not both.
        try limits.setReservations(["a": 49, "b": nil])
        #expect(limits.unreservedLimit == 51)
    }

    @Test func theDefaultFollowsTheMachine() {
        let gigabyte: UInt64 = 1 << 30
        #expect(ConcurrencyLimits.defaultLimit(physicalMemory: 16 * gigabyte, openFileLimit: 1_048_576) == 128)
        #expect(ConcurrencyLimits.defaultLimit(physicalMemory: 2 * gigabyte, openFileLimit: nil) == 64)
        #expect(ConcurrencyLimits.defaultLimit(physicalMemory: 1024 * gigabyte, openFileLimit: nil) == 1000)
        #expect(ConcurrencyLimits.defaultLimit(physicalMemory: 16 * gigabyte, openFileLimit: 256) == 32)
    }
}

/// Reserved concurrency set while the service runs (what PutFunctionConcurrency and its siblings call).
@Suite struct ReservedConcurrencyAPITests {
    @Test func putGetDeleteApplyToTheNextCall() async throws {
        try await withInvokeAPI(configure: { $0.maximumConcurrency = 20 }) { api in
            let service = api.service
            #expect(try await service.functionConcurrency(function: "echo") == nil)
            #expect(await service.accountConcurrency() == (20, 20))  // the harness's `throttled` reserves 0
            try await service.putFunctionConcurrency(function: "arn:aws:lambda:us-east-1:123456789012:function:echo", reservedConcurrentExecutions: 0)
            #expect(try await service.functionConcurrency(function: "echo") == 0)
            let throttled = try await api.invoke("echo")
            #expect(throttled.status == 429)
            #expect(throttled.json["Reason"] as? String == "ReservedFunctionConcurrentInvocationLimitExceeded")
            try await service.putFunctionConcurrency(function: "echo", reservedConcurrentExecutions: 5)
            #expect(await service.accountConcurrency() == (20, 15))
            #expect(try await api.invoke("echo").status == 200)
            try await service.deleteFunctionConcurrency(function: "echo")
            #expect(try await service.functionConcurrency(function: "echo") == nil)
            #expect(await service.accountConcurrency() == (20, 20))

            let tooMuch = await #expect(throws: RuntimeError.self) { try await service.putFunctionConcurrency(function: "echo", reservedConcurrentExecutions: 19) }
            #expect(tooMuch?.awsErrorType == "InvalidParameterValueException")
            #expect(tooMuch?.message.contains("minimum value of [2]") == true)
            let qualified = await #expect(throws: StateError.self) { try await service.putFunctionConcurrency(function: "echo:live", reservedConcurrentExecutions: 1) }
            #expect(qualified?.code == .invalidParameterValue)
            let missing = await #expect(throws: StateError.self) { try await service.functionConcurrency(function: "nope") }
            #expect(missing?.code == .resourceNotFound)
        }
    }
}
