import Foundation

/// Byte-level checks that stand in for `Character` properties on ASCII text (where a byte is a character).
enum ASCII {
    static func isLetter(_ byte: UInt8) -> Bool {
        (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z")
    }

    static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    /// `text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }`: any other byte (non-ASCII included) fails both.
    static func isAlphanumeric(_ text: String) -> Bool {
        text.utf8.allSatisfy { isLetter($0) || isDigit($0) }
    }

    /// An environment variable name: a letter, then letters, digits and underscores, all ASCII.
    static func isEnvironmentName(_ text: String) -> Bool {
        guard let first = text.utf8.first, isLetter(first) else { return false }
        return text.utf8.allSatisfy { isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "_") }
    }

    /// Where `needle` (ASCII) first occurs: on bytes for ASCII text, through Foundation's search for any other.
    static func range(of needle: StaticString, in text: String) -> Range<String.Index>? {
        let pattern = UnsafeBufferPointer(start: needle.utf8Start, count: needle.utf8CodeUnitCount)
        guard text.utf8.allSatisfy({ $0 < 0x80 }) else { return text.range(of: needle.description) }
        let bytes = text.utf8
        guard let head = pattern.first, pattern.count <= bytes.count else { return nil }
        var index = bytes.startIndex
        while let found = bytes[index...].firstIndex(of: head) {
            var end = found
            var matched = true
            for expected in pattern {
                guard end < bytes.endIndex, bytes[end] == expected else { matched = false; break }
                end = bytes.index(after: end)
            }
            if matched { return found..<end }
            index = bytes.index(after: found)
        }
        return nil
    }
}
