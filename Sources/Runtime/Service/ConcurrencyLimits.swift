import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why Lambda throttled an invocation (the `Reason` of a `TooManyRequestsException`).
public enum ThrottleReason: String, Sendable {
    /// The function's reserved concurrency is in use (or is 0).
    case reservedFunctionConcurrentInvocationLimitExceeded = "ReservedFunctionConcurrentInvocationLimitExceeded"
    /// The account's unreserved concurrency is in use.
    case concurrentInvocationLimitExceeded = "ConcurrentInvocationLimitExceeded"
}

/// Concurrency counted as Lambda counts it: an account-level limit, per-function reservations carved
/// out of it, and one pool (the limit minus every reservation) shared by the functions without one.
///
/// A function with a reservation runs at most that many invocations at once and never more; its share
/// is not available to the others, so a burst of unreserved functions cannot starve it. A reservation
/// of 0 throttles every invocation of the function.
public struct ConcurrencyLimits: Sendable {
    /// Where an admitted invocation is counted, so that releasing it frees the same slot even when the
    /// function's reservation changed meanwhile.
    public struct Slot: Sendable {
        let functionName: String
        let reserved: Bool
    }

    /// A throttled invocation.
    public struct Throttle: Error, Sendable {
        public var reason: ThrottleReason
        public var message: String
    }

    /// The account-level limit: most invocations in flight at once, across all functions.
    public let accountLimit: Int
    public private(set) var reservations: [String: Int] = [:]
    private var reservedInFlight: [String: Int] = [:]
    private var unreservedInFlight = 0
    private var inFlightByFunction: [String: Int] = [:]
    public private(set) var inFlight = 0

    public init(accountLimit: Int) {
        self.accountLimit = max(1, accountLimit)
    }

    // MARK: - The default limit

    /// The default account limit on this machine: the smallest of AWS's default (1,000 per region), one
    /// execution environment per 128 MB of memory (Lambda's default `MemorySize`; at least 64), and what
    /// the open-file limit allows (about 8 descriptors per environment: its Runtime API listener and
    /// connections, its output pipe, the caller's connection).
    ///
    /// Each invocation in flight is a whole process here, not a slice of a fleet: a limit the machine
    /// cannot hold would turn a burst into swapping or `EMFILE` rather than clean 429s.
    public static let machineDefault: Int = defaultLimit(physicalMemory: ProcessInfo.processInfo.physicalMemory,
                                                         openFileLimit: currentOpenFileLimit())

    /// The rule behind `machineDefault`.
    public static func defaultLimit(physicalMemory: UInt64, openFileLimit: UInt64?) -> Int {
        let byMemory = max(64, Int(clamping: physicalMemory / (128 << 20)))
        let byDescriptors = openFileLimit.map { max(8, Int(clamping: $0 / 8)) } ?? Int.max
        return min(1000, byMemory, byDescriptors)
    }

    private static func currentOpenFileLimit() -> UInt64? {
        var limit = rlimit()
        #if os(Linux)
        let resource = Int32(RLIMIT_NOFILE.rawValue)
        #else
        let resource = RLIMIT_NOFILE
        #endif
        // RLIM_INFINITY does not import into Swift on Linux; any value this large means no limit.
        guard getrlimit(resource, &limit) == 0, UInt64(limit.rlim_cur) < 1 << 40 else { return nil }
        return UInt64(limit.rlim_cur)
    }

    // MARK: - Reservations

    /// The concurrency left to functions without a reservation.
    public var unreservedLimit: Int { accountLimit - reservations.values.reduce(0, +) }

    /// Reservations must leave at least this much unreserved: AWS keeps 100 of its default 1,000 for the
    /// functions without a reservation; here a tenth of the account limit (at least 1).
    public var minimumUnreserved: Int { max(1, accountLimit / 10) }

    public func reservation(of functionName: String) -> Int? { reservations[functionName] }

    /// Sets (or, with nil, removes) reservations at once, checking the total once: the template's functions
    /// arrive together, and their sum is what must fit.
    public mutating func setReservations(_ changes: [String: Int?]) throws(RuntimeError) {
        var proposed = reservations
        for (name, value) in changes {
            if let value, value < 0 {
                throw RuntimeError(.invalidConfiguration, "ReservedConcurrentExecutions of \(name) is \(value); it must be 0 or more (0 throttles every invocation).")
            }
            proposed[name] = value
        }
        let total = proposed.values.reduce(0, +)
        guard accountLimit - total >= minimumUnreserved else {
            let parts = proposed.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            throw RuntimeError(
                .invalidConfiguration,
                "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [\(minimumUnreserved)]: "
                + "reservations (\(parts)) total \(total) of the account concurrency limit \(accountLimit). "
                + "Lower them, or raise the limit to at least \(Self.smallestLimit(reserving: total)) (shift serve/deploy --max-concurrency).")
        }
        reservations = proposed
    }

    /// The smallest account limit whose `minimumUnreserved` still fits beside `total` reserved.
    static func smallestLimit(reserving total: Int) -> Int {
        var limit = total + 1
        while limit - total < max(1, limit / 10) { limit += 1 }
        return limit
    }

    // MARK: - Admitting invocations

    /// Admits one invocation of `functionName`, or says why Lambda would throttle it.
    public mutating func acquire(_ functionName: String, version: String) -> Result<Slot, Throttle> {
        if let reserved = reservations[functionName] {
            let running = reservedInFlight[functionName, default: 0]
            guard running < reserved else {
                let detail = reserved == 0
                    ? "\(functionName) has ReservedConcurrentExecutions 0, which throttles every invocation"
                    : "\(functionName) has ReservedConcurrentExecutions \(reserved), and \(running) of its invocations are in flight"
                return .failure(Throttle(
                    reason: .reservedFunctionConcurrentInvocationLimitExceeded,
                    message: "Rate Exceeded. \(detail); \(functionName):\(version) was throttled. Retry later, or raise its reservation "
                        + "(ReservedConcurrentExecutions in the template, or PutFunctionConcurrency)."))
            }
            reservedInFlight[functionName] = running + 1
            count(functionName, +1)
            return .success(Slot(functionName: functionName, reserved: true))
        }
        guard unreservedInFlight < unreservedLimit else {
            let reserved = accountLimit - unreservedLimit
            return .failure(Throttle(
                reason: .concurrentInvocationLimitExceeded,
                message: "Rate Exceeded. \(unreservedInFlight) invocations of functions without reserved concurrency are in flight, all of the unreserved "
                    + "concurrency (the account limit \(accountLimit)\(reserved > 0 ? " minus \(reserved) reserved" : "")); \(functionName):\(version) was throttled. "
                    + "Retry later, or raise the limit (shift serve/deploy --max-concurrency)."))
        }
        unreservedInFlight += 1
        count(functionName, +1)
        return .success(Slot(functionName: functionName, reserved: false))
    }

    /// Frees what `acquire` took.
    public mutating func release(_ slot: Slot) {
        if slot.reserved {
            reservedInFlight[slot.functionName, default: 1] -= 1
        } else {
            unreservedInFlight -= 1
        }
        count(slot.functionName, -1)
    }

    /// Invocations of `functionName` in flight now.
    public func inFlight(of functionName: String) -> Int { inFlightByFunction[functionName, default: 0] }

    private mutating func count(_ functionName: String, _ delta: Int) {
        inFlight += delta
        let now = inFlightByFunction[functionName, default: 0] + delta
        inFlightByFunction[functionName] = now == 0 ? nil : now
    }
}
