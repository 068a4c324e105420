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

    /// ISO 8601 in UTC with milliseconds, reading the epoch as the Unix epoch (`1970-01-01T00:00:00.000Z`): the one
    /// timestamp format of everything `shift` prints, so JSON consumers parse a single shape.
    public var description: String {
        let ms = millisecondsSinceEpoch
        let msOfDay = ((ms % 86_400_000) + 86_400_000) % 86_400_000
        let days = (ms - msOfDay) / 86_400_000
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ v: Int64, _ width: Int) -> String {
            let text = String(v)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let seconds = msOfDay / 1000
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(seconds / 3600, 2)):\(pad(seconds / 60 % 60, 2)):\(pad(seconds % 60, 2))"
            + ".\(pad(msOfDay % 1000, 3))Z"
    }
}

extension Duration {
    /// The duration truncated to whole milliseconds.
    public var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
