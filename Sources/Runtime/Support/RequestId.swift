import Foundation
import Synchronization

/// Request ids and trace headers as AWS writes them, formatted by hand: they are made for every invocation, and
/// Foundation's `UUID`, a lower-cased copy of its string and `String(_:radix:)` cost microseconds there.
enum RequestId {
    /// A random (version 4) UUID in lower case.
    static func make() -> String {
        var generator = IdentifierGenerator()
        let high: UInt64 = generator.next() & ~0xF000 | 0x4000
        let low: UInt64 = generator.next() & 0x3FFF_FFFF_FFFF_FFFF | 0x8000_0000_0000_0000
        return String(unsafeUninitializedCapacity: 36) { buffer in
            var writer = HexWriter(buffer)
            writer.hex(high >> 32, 8)
            writer.byte(UInt8(ascii: "-"))
            writer.hex(high >> 16, 4)
            writer.byte(UInt8(ascii: "-"))
            writer.hex(high, 4)
            writer.byte(UInt8(ascii: "-"))
            writer.hex(low >> 48, 4)
            writer.byte(UInt8(ascii: "-"))
            writer.hex(low, 12)
            return writer.count
        }
    }

    /// An X-Ray trace header as Lambda passes it to a function: `Root=1-{epoch}-{24 hex};Parent={16 hex};Sampled=0`.
    static func traceHeader(epochSeconds: UInt64 = UInt64(Date().timeIntervalSince1970)) -> String {
        var generator = IdentifierGenerator()
        let root: UInt64 = generator.next(), rootLow: UInt64 = generator.next(), parent: UInt64 = generator.next()
        return String(unsafeUninitializedCapacity: 74) { buffer in
            var writer = HexWriter(buffer)
            writer.text("Root=1-")
            writer.hex(epochSeconds, 8)
            writer.byte(UInt8(ascii: "-"))
            writer.hex(root >> 32, 8)
            writer.hex(rootLow, 16)
            writer.text(";Parent=")
            writer.hex(parent, 16)
            writer.text(";Sampled=0")
            return writer.count
        }
    }

    /// Unique, unpredictable-enough numbers for identifiers without a system call each (`SystemRandomNumberGenerator`
    /// costs a `getrandom` per number, five per invocation): SplitMix64 over a process-wide counter that starts at a
    /// random seed. SplitMix64's output function is a bijection, so no two numbers of one process repeat until 2^64
    /// have been drawn; another process starts elsewhere. Request ids are not secrets (Lambda's are not either).
    struct IdentifierGenerator: RandomNumberGenerator {
        private static let counter = Atomic<UInt64>(UInt64.random(in: .min ... .max))

        mutating func next() -> UInt64 {
            var z = Self.counter.wrappingAdd(0x9E37_79B9_7F4A_7C15, ordering: .relaxed).newValue
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Writes ASCII into a string's buffer.
    private struct HexWriter {
        let buffer: UnsafeMutableBufferPointer<UInt8>
        var count = 0

        init(_ buffer: UnsafeMutableBufferPointer<UInt8>) { self.buffer = buffer }

        mutating func byte(_ value: UInt8) {
            buffer[count] = value
            count += 1
        }

        mutating func text(_ text: StaticString) {
            for index in 0..<text.utf8CodeUnitCount { byte(text.utf8Start[index]) }
        }

        /// The low `digits` hex digits of `value`, in lower case.
        mutating func hex(_ value: UInt64, _ digits: Int) {
            let table: StaticString = "0123456789abcdef"
            for shift in stride(from: 4 * (digits - 1), through: 0, by: -4) { byte(table.utf8Start[Int(value >> UInt64(shift) & 0xF)]) }
        }
    }
}
