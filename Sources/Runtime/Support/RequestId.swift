/// Request ids as AWS writes them: random (version 4) UUIDs in lower case.
enum RequestId {
    /// Formatted by hand, without Foundation's `UUID` and a lower-cased copy of its string (this runs for every invocation).
    static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let high: UInt64 = generator.next() & ~0xF000 | 0x4000
        let low: UInt64 = generator.next() & 0x3FFF_FFFF_FFFF_FFFF | 0x8000_0000_0000_0000
        let hex: StaticString = "0123456789abcdef"
        return String(unsafeUninitializedCapacity: 36) { buffer in
            var at = 0
            for nibble in 0..<32 {
                if nibble == 8 || nibble == 12 || nibble == 16 || nibble == 20 {
                    buffer[at] = UInt8(ascii: "-")
                    at += 1
                }
                let word = nibble < 16 ? high : low
                buffer[at] = hex.utf8Start[Int(word >> UInt64(60 - 4 * (nibble % 16)) & 0xF)]
                at += 1
            }
            return at
        }
    }
}
