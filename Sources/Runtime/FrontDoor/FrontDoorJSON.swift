import Foundation

/// A function's answer read as JSON for the response mapping, on every front door request's path.
///
/// `parse` reads UTF-8 JSON in one pass, strictly; whatever it does not take (another encoding, an invalid
/// escape, deep nesting, bad UTF-8, or simply invalid JSON) goes to `JSONSerialization`, which decides as
/// before, so the fast path never accepts what Foundation would refuse.
indirect enum FrontDoorJSON {
    case object([(key: String, value: FrontDoorJSON)])
    case array([FrontDoorJSON])
    case string(String)
    /// The number as written (`200`, `1.5e3`).
    case number(String)
    case bool(Bool)
    case null

    /// The document, or nil when it is not JSON.
    static func parse(_ bytes: [UInt8]) -> FrontDoorJSON? {
        if let fast = parseUTF8(bytes) { return fast }
        return parseWithFoundation(bytes)
    }

    /// The fast path alone: nil for invalid JSON and for whatever it leaves to Foundation.
    static func parseUTF8(_ bytes: [UInt8]) -> FrontDoorJSON? {
        bytes.withUnsafeBufferPointer { buffer -> FrontDoorJSON? in
            var reader = Reader(bytes: buffer)
            guard let value = reader.value(depth: 0) else { return nil }
            reader.skipWhitespace()
            return reader.at == buffer.count ? value : nil
        }
    }

    static func parseWithFoundation(_ bytes: [UInt8]) -> FrontDoorJSON? {
        guard let parsed = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) else { return nil }
        return FrontDoorJSON(foundation: parsed)
    }

    /// The last value of `key` in an object (as `JSONSerialization` keeps the last of repeated keys).
    subscript(key: String) -> FrontDoorJSON? {
        guard case .object(let members) = self else { return nil }
        return members.last { $0.key == key }?.value
    }

    /// An object's members, one per key (the last one written), sorted by key.
    var sortedMembers: [(key: String, value: FrontDoorJSON)]? {
        guard case .object(let members) = self else { return nil }
        var seen: Set<String> = []
        var unique: [(key: String, value: FrontDoorJSON)] = []
        for member in members.reversed() where seen.insert(member.key).inserted { unique.append(member) }
        return unique.sorted { $0.key < $1.key }
    }

    var isNull: Bool {
        if case .null = self { true } else { false }
    }

    private init(foundation value: Any) {
        if let string = value as? String {
            self = .string(string)
        } else if type(of: value) == Bool.self, let flag = value as? Bool {
            self = .bool(flag)
        } else if let number = value as? NSNumber {
            // Foundation boxes `true`/`false` as NSNumbers of type "c".
            self = String(cString: number.objCType) == "c" ? .bool(number.boolValue) : .number(number.stringValue)
        } else if let array = value as? [Any] {
            self = .array(array.map(FrontDoorJSON.init(foundation:)))
        } else if let object = value as? [String: Any] {
            self = .object(object.map { ($0.key, FrontDoorJSON(foundation: $0.value)) })
        } else {
            self = .null
        }
    }

    /// RFC 8259 over UTF-8 bytes; nil on anything else.
    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var at = 0

        /// `JSONSerialization`'s nesting limit.
        static let maximumDepth = 512

        mutating func skipWhitespace() {
            while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x0A || bytes[at] == 0x0D || bytes[at] == 0x09 { at += 1 }
        }

        mutating func value(depth: Int) -> FrontDoorJSON? {
            skipWhitespace()
            guard at < bytes.count, depth < Self.maximumDepth else { return nil }
            switch bytes[at] {
            case UInt8(ascii: "{"): return object(depth: depth + 1)
            case UInt8(ascii: "["): return array(depth: depth + 1)
            case UInt8(ascii: "\""): return string().map(FrontDoorJSON.string)
            case UInt8(ascii: "t"): return literal("true") ? .bool(true) : nil
            case UInt8(ascii: "f"): return literal("false") ? .bool(false) : nil
            case UInt8(ascii: "n"): return literal("null") ? .null : nil
            default: return number()
            }
        }

        private mutating func object(depth: Int) -> FrontDoorJSON? {
            at += 1
            var members: [(key: String, value: FrontDoorJSON)] = []
            skipWhitespace()
            if at < bytes.count, bytes[at] == UInt8(ascii: "}") {
                at += 1
                return .object(members)
            }
            while true {
                skipWhitespace()
                guard at < bytes.count, bytes[at] == UInt8(ascii: "\""), let key = string() else { return nil }
                skipWhitespace()
                guard at < bytes.count, bytes[at] == UInt8(ascii: ":") else { return nil }
                at += 1
                guard let value = value(depth: depth) else { return nil }
                members.append((key, value))
                skipWhitespace()
                guard at < bytes.count else { return nil }
                if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
                guard bytes[at] == UInt8(ascii: "}") else { return nil }
                at += 1
                return .object(members)
            }
        }

        private mutating func array(depth: Int) -> FrontDoorJSON? {
            at += 1
            var elements: [FrontDoorJSON] = []
            skipWhitespace()
            if at < bytes.count, bytes[at] == UInt8(ascii: "]") {
                at += 1
                return .array(elements)
            }
            while true {
                guard let element = value(depth: depth) else { return nil }
                elements.append(element)
                skipWhitespace()
                guard at < bytes.count else { return nil }
                if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
                guard bytes[at] == UInt8(ascii: "]") else { return nil }
                at += 1
                return .array(elements)
            }
        }

        /// A string starting at its opening quote. Escapes other than `\uXXXX` outside the surrogates are
        /// decoded here; a surrogate pair, like invalid UTF-8, is left to Foundation.
        private mutating func string() -> String? {
            at += 1
            let start = at
            var ascii = true
            while at < bytes.count {
                let byte = bytes[at]
                if byte == UInt8(ascii: "\"") {
                    let raw = UnsafeBufferPointer(rebasing: bytes[start..<at])
                    // ASCII needs no validation (the common case: header names, JSON bodies).
                    let text = ascii ? String(decoding: raw, as: UTF8.self) : String(validating: raw, as: UTF8.self)
                    at += 1
                    return text
                }
                if byte == UInt8(ascii: "\\") { break }
                if byte < 0x20 { return nil }
                if byte >= 0x80 { ascii = false }
                at += 1
            }
            // With escapes: decode into bytes.
            var decoded = Array(bytes[start..<at])
            while at < bytes.count {
                let byte = bytes[at]
                at += 1
                switch byte {
                case UInt8(ascii: "\""): return String(validating: decoded, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard at < bytes.count else { return nil }
                    let escape = bytes[at]
                    at += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(escape)
                    case UInt8(ascii: "b"): decoded.append(0x08)
                    case UInt8(ascii: "f"): decoded.append(0x0C)
                    case UInt8(ascii: "n"): decoded.append(0x0A)
                    case UInt8(ascii: "r"): decoded.append(0x0D)
                    case UInt8(ascii: "t"): decoded.append(0x09)
                    case UInt8(ascii: "u"):
                        guard at + 4 <= bytes.count else { return nil }
                        var code: UInt32 = 0
                        for digit in bytes[at..<at + 4] {
                            guard let value = Self.hexValue(digit) else { return nil }
                            code = code << 4 | value
                        }
                        at += 4
                        guard let scalar = Unicode.Scalar(code) else { return nil }
                        decoded.append(contentsOf: String(Character(scalar)).utf8)
                    default: return nil
                    }
                case 0..<0x20: return nil
                default: decoded.append(byte)
                }
            }
            return nil
        }

        private static func hexValue(_ digit: UInt8) -> UInt32? {
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(digit - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(digit - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(digit - UInt8(ascii: "A") + 10)
            default: nil
            }
        }

        private mutating func literal(_ word: StaticString) -> Bool {
            let count = word.utf8CodeUnitCount
            guard at + count <= bytes.count else { return false }
            for offset in 0..<count where bytes[at + offset] != word.utf8Start[offset] { return false }
            at += count
            return true
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
        private mutating func number() -> FrontDoorJSON? {
            let start = at
            func digits() -> Int {
                let first = at
                while at < bytes.count, bytes[at] >= UInt8(ascii: "0"), bytes[at] <= UInt8(ascii: "9") { at += 1 }
                return at - first
            }
            if at < bytes.count, bytes[at] == UInt8(ascii: "-") { at += 1 }
            guard at < bytes.count else { return nil }
            if bytes[at] == UInt8(ascii: "0") {
                at += 1
            } else if digits() == 0 {
                return nil
            }
            if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
                at += 1
                guard digits() > 0 else { return nil }
            }
            if at < bytes.count, bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E") {
                at += 1
                if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
                guard digits() > 0 else { return nil }
            }
            return .number(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self))
        }
    }
}
