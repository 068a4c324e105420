import Foundation

/// Reserved concurrency through the Lambda API (PutFunctionConcurrency, GetFunctionConcurrency,
/// DeleteFunctionConcurrency, GetAccountSettings): names resolved and checked here, counting in `LocalRuntime`.
///
/// A reservation set here lasts while this service runs; the template's `ReservedConcurrentExecutions`
/// applies again whenever the template is loaded (the next `shift serve` or `shift deploy`).
extension LambdaService {
    /// Sets `function`'s reserved concurrency; returns it. `function` is a name or an unqualified ARN.
    @discardableResult
    public func putFunctionConcurrency(function: String, reservedConcurrentExecutions value: Int) async throws -> Int {
        let name = try concurrencyTarget(function)
        try await runtime.setReservedConcurrency(value, for: name)
        return value
    }

    /// `function`'s reserved concurrency, nil when it has none.
    public func functionConcurrency(function: String) async throws -> Int? {
        await runtime.reservedConcurrency(of: try concurrencyTarget(function))
    }

    /// Removes `function`'s reservation: it shares the unreserved concurrency again.
    public func deleteFunctionConcurrency(function: String) async throws {
        try await runtime.setReservedConcurrency(nil, for: try concurrencyTarget(function))
    }

    /// The account concurrency limit and what reservations leave unreserved.
    public func accountConcurrency() async -> (limit: Int, unreserved: Int) {
        await runtime.accountConcurrency
    }

    private func concurrencyTarget(_ reference: String) throws -> String {
        let (name, qualifier) = try LambdaArn.parseFunctionReference(reference)
        guard definition(named: name) != nil else {
            throw StateError(.resourceNotFound, "Function not found: \(store.options.arn.function(name)); it is not in the template being served")
        }
        if let qualifier {
            throw StateError(.invalidParameterValue, "Reserved concurrency applies to the whole function \(name), every version and alias; drop the qualifier :\(qualifier).")
        }
        return name
    }
}
