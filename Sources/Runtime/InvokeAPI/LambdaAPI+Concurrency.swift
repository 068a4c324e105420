import Foundation

/// Reserved concurrency and the account's limits, as Lambda's API answers them.
extension InvokeAPIRouter {
    func putFunctionConcurrency(_ call: OperationCall) async throws -> InvokeAPIResponse {
        let body = try Self.jsonBody(call.request)
        guard let value = (body["ReservedConcurrentExecutions"] as? NSNumber).flatMap({ Int(exactly: $0.doubleValue) }), value >= 0 else {
            throw StateError(.invalidParameterValue, "1 validation error detected: Value at 'reservedConcurrentExecutions' failed to satisfy constraint: "
                + "Member must be a whole number greater than or equal to 0")
        }
        let set = try await service.putFunctionConcurrency(function: call["FunctionName"], reservedConcurrentExecutions: value)
        return .json(200, ["ReservedConcurrentExecutions": set])
    }

    func getFunctionConcurrency(_ call: OperationCall) async throws -> InvokeAPIResponse {
        // AWS answers an empty object for a function without a reservation.
        guard let value = try await service.functionConcurrency(function: call["FunctionName"]) else { return .json(200, [:]) }
        return .json(200, ["ReservedConcurrentExecutions": value])
    }

    func deleteFunctionConcurrency(_ call: OperationCall) async throws -> InvokeAPIResponse {
        try await service.deleteFunctionConcurrency(function: call["FunctionName"])
        return InvokeAPIResponse(status: 204)
    }

    func getAccountSettings(_ call: OperationCall) async throws -> InvokeAPIResponse {
        let (limit, unreserved) = await service.accountConcurrency()
        let functions = await service.functionNames
        return .json(200, [
            "AccountLimit": ["ConcurrentExecutions": limit, "UnreservedConcurrentExecutions": unreserved, "CodeSizeUnzipped": 262_144_000,
                             "CodeSizeZipped": 52_428_800, "TotalCodeSize": 80_530_636_800],
            "AccountUsage": ["FunctionCount": functions.count, "TotalCodeSize": 0],
        ])
    }

    /// `Concurrency` of GetFunction's answer, when the function has a reservation.
    func concurrencyObject(_ function: String) async -> [String: Any]? {
        guard let value = try? await service.functionConcurrency(function: function) else { return nil }
        return ["ReservedConcurrentExecutions": value]
    }
}
