import Foundation

/// Durations as users write them on the command line: `500ms`, `90s`, `15m`, `2h`, `1d`, or plain seconds.
enum DurationText {
    /// The longest duration accepted: ten years, far beyond any schedule, and far from overflowing an instant.
    static let limit: Double = 10 * 365 * 86_400_000

    static func milliseconds(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(String, Double)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        for (suffix, factor) in units where trimmed.hasSuffix(suffix) {
            guard let value = Double(trimmed.dropLast(suffix.count)), value >= 0, value * factor <= limit else { return nil }
            return Int64((value * factor).rounded())
        }
        guard let value = Double(trimmed), value >= 0, value * 1000 <= limit else { return nil }
        return Int64((value * 1000).rounded())
    }

    static func parse(_ text: String) -> Duration? {
        milliseconds(text).map { .milliseconds($0) }
    }
}
