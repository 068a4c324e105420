// TEMPORARY: stands in for Runtime's StateClock and AliasLock until branch runtime-timebase is merged.
import Foundation
import Runtime

public final class StateClock: RuntimeClock {
    let base: ScaledClock
    init(base: ScaledClock) { self.base = base }
    public static func open(directory: URL, timeScale: Double) throws -> StateClock { StateClock(base: ScaledClock(timeScale: timeScale)) }
    public var nowMilliseconds: Int64 { base.nowMilliseconds }
    public func sleep(for duration: Duration) async throws { try await base.sleep(for: duration) }
    @discardableResult public func startFreshMinute() throws -> Int64 { nowMilliseconds }
    public func close() {}
}

public final class AliasLock: Sendable {
    public static func acquire(directory: URL, function: String, alias: String, holder: String) throws -> AliasLock { AliasLock() }
    public func release() {}
}

extension StateStore.Options {
    init(arn: LambdaArn, clock: any RuntimeClock, readOnly: Bool = false) { self.init(arn: arn, readOnly: readOnly) }
}
