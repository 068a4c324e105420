/// SplitMix64: a tiny, fast, seedable generator (Steele, Lea, Flood 2014); good enough for traffic splits.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform draw in [0, 1) with 53 bits of precision.
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}

/// Chooses the version that serves an invocation of a weighted alias.
///
/// `choose(_:draw:)` is the pure rule; an instance adds a shared seeded generator for concurrent callers.
public final class AliasRouter: Sendable {
    private let generator: ProtectedValue<SplitMix64>

    /// A fixed seed makes the sequence of choices reproducible (tests, `--seed`).
    public init(seed: UInt64) { generator = ProtectedValue(SplitMix64(seed: seed)) }

    /// The version for one invocation: the extra version when `draw` < its weight, else the primary.
    /// - Parameter draw: uniform in [0, 1).
    public static func choose(_ alias: AliasConfiguration, draw: Double) -> String {
        if let (version, weight) = alias.additionalVersion, draw < weight { return version }
        return alias.functionVersion
    }

    /// The version for the next invocation, drawing from the shared generator.
    public func route(_ alias: AliasConfiguration) -> String {
        guard alias.additionalVersion != nil else { return alias.functionVersion }
        let draw = generator.withLock { $0.nextUnit() }
        return Self.choose(alias, draw: draw)
    }
}
