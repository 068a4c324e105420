/// A point in (possibly virtual) time: milliseconds since an epoch chosen by the caller.
///
/// The Rollout module never reads a clock; instants come in as parameters and leave as deadlines.
public struct Instant: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var millisecondsSinceEpoch: Int64

    public init(millisecondsSinceEpoch: Int64) {
        self.millisecondsSinceEpoch = millisecondsSinceEpoch
    }

    /// The epoch itself; handy for tests and virtual time.
    public static let zero = Instant(millisecondsSinceEpoch: 0)

    public static func milliseconds(_ ms: Int64) -> Instant { Instant(millisecondsSinceEpoch: ms) }
    public static func seconds(_ s: Int64) -> Instant { Instant(millisecondsSinceEpoch: s * 1000) }
    public static func minutes(_ m: Int64) -> Instant { Instant(millisecondsSinceEpoch: m * 60_000) }

    public static func < (lhs: Instant, rhs: Instant) -> Bool {
        lhs.millisecondsSinceEpoch < rhs.millisecondsSinceEpoch
    }

    public static func + (lhs: Instant, rhs: Duration) -> Instant {
        Instant(millisecondsSinceEpoch: lhs.millisecondsSinceEpoch + rhs.wholeMilliseconds)
    }

    public static func - (lhs: Instant, rhs: Instant) -> Duration {
        .milliseconds(lhs.millisecondsSinceEpoch - rhs.millisecondsSinceEpoch)
    }

    /// The index of the one-minute period this instant falls in (CloudWatch periods align to the epoch).
    public var minuteIndex: Int64 {
        let ms = millisecondsSinceEpoch
        return ms >= 0 ? ms / 60_000 : (ms - 59_999) / 60_000
    }

    public init(from decoder: any Decoder) throws {
        millisecondsSinceEpoch = try decoder.singleValueContainer().decode(Int64.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(millisecondsSinceEpoch)
    }

    public var description: String { "t+\(millisecondsSinceEpoch)ms" }
}

extension Duration {
    /// The duration truncated to whole milliseconds.
    var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
