/// A sparse log-linear histogram of non-negative values with at most 0.4 % relative error (HdrHistogram's idea).
///
/// Values are kept in integer units (`1/unitsPerValue`; microseconds for milliseconds). Below 256 units each
/// unit is its own bucket; above, a bucket spans 1/128 of its power of two: 7 significant bits.
struct LogHistogram: Sendable, Equatable, Codable {
    static let unitsPerValue = 1000.0

    /// Bucket index → count.
    private(set) var buckets: [Int32: UInt32] = [:]
    private(set) var count: Int = 0

    @inline(__always)
    static func index(units: UInt64) -> Int32 {
        if units < 256 { return Int32(units) }
        let exponent = (64 - units.leadingZeroBitCount) - 8
        let mantissa = units >> UInt64(exponent) // in [128, 255]
        return Int32(128 * (exponent + 1)) + Int32(mantissa) - 128
    }

    /// The midpoint of a bucket, in units.
    static func midpoint(index: Int32) -> Double {
        if index < 256 { return Double(index) }
        let exponent = Int(index) / 128 - 1
        let mantissa = UInt64(Int(index) - 128 * (exponent + 1) + 128)
        let lower = Double(mantissa << UInt64(exponent))
        return lower + Double((UInt64(1) << UInt64(exponent)) - 1) / 2
    }

    @inline(__always)
    mutating func add(_ value: Double) {
        let units = value <= 0 ? 0 : UInt64(min(value * Self.unitsPerValue, 1e18).rounded())
        buckets[Self.index(units: units), default: 0] += 1
        count += 1
    }

    mutating func merge(_ other: LogHistogram) {
        for (index, n) in other.buckets { buckets[index, default: 0] += n }
        count += other.count
    }

    /// Nearest-rank percentile, clamped to the exact minimum and maximum.
    func percentile(_ p: Double, minimum: Double, maximum: Double) -> Double? {
        guard count > 0 else { return nil }
        let rank = max(1, Int((p / 100 * Double(count)).rounded(.up)))
        var seen = 0
        for index in buckets.keys.sorted() {
            seen += Int(buckets[index]!)
            if seen >= rank {
                return min(maximum, max(minimum, Self.midpoint(index: index) / Self.unitsPerValue))
            }
        }
        return maximum
    }
}
