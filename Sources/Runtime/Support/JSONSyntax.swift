import Foundation

/// Whether bytes are one JSON value (RFC 8259, any value at the top, whitespace around it), without building it.
///
/// The Invoke API checks every payload before it runs the function and passes the bytes on unchanged, so
/// parsing them into Foundation objects only to throw them away was a cost on every invocation. Anything this
/// scanner does not settle itself (bytes beyond ASCII in strings, very deep nesting, UTF-16) goes to
/// `JSONSerialization`. Unlike Foundation on Linux it refuses trailing commas (`[1,]`), as Lambda does.
enum JSONSyntax {
    static func isValid(_ bytes: [UInt8]) -> Bool {
        switch scan(bytes) {
        case .valid: return true
        // Foundation also reads UTF-16 and UTF-32 (told by zero bytes or a byte-order mark) and a UTF-8 BOM.
        case .invalid where !(bytes.first.map { $0 >= 0x80 } ?? false) && !bytes.contains(0): return false
        case .invalid, .undecided: return (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) != nil
        }
    }

    enum Verdict { case valid, invalid, undecided }

    private enum Container { case object, array }

    static func scan(_ bytes: [UInt8]) -> Verdict {
        bytes.withUnsafeBufferPointer { b -> Verdict in
            var i = 0
            let n = b.count
            var stack: [Container] = []
            func skipSpace() { while i < n, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 } }
            func digits() -> Bool {
                let start = i
                while i < n, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }
                return i > start
            }
            /// One string from its opening quote; nil when undecided.
            func string() -> Bool? {
                i += 1
                while i < n {
                    let c = b[i]
                    if c == 0x22 { i += 1; return true }
                    if c < 0x20 { return false }
                    if c >= 0x80 { return nil }
                    if c == 0x5C {
                        i += 1
                        guard i < n else { return false }
                        switch b[i] {
                        case 0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74: i += 1
                        case 0x75:
                            // \u escapes of surrogates must pair up: leave them to Foundation.
                            guard i + 4 < n else { return false }
                            for k in 1...4 where !(b[i + k].isHexDigit) { return false }
                            if b[i + 1] | 0x20 == 0x64, (0x38...0x66).contains(b[i + 2] | 0x20) { return nil }
                            i += 5
                        default: return false
                        }
                    } else {
                        i += 1
                    }
                }
                return false
            }
            /// A member's key and its colon, from the opening quote; nil when undecided, false when invalid.
            func key() -> Bool? {
                guard i < n, b[i] == 0x22 else { return false }
                guard let ok = string() else { return nil }
                guard ok else { return false }
                skipSpace()
                guard i < n, b[i] == 0x3A else { return false }
                i += 1
                skipSpace()
                return true
            }
            skipSpace()
            while true {
                // A value.
                guard i < n else { return .invalid }
                switch b[i] {
                case 0x7B:  // {
                    i += 1
                    skipSpace()
                    if i < n, b[i] == 0x7D { i += 1; break }
                    guard stack.count < 256 else { return .undecided }
                    stack.append(.object)
                    guard let ok = key() else { return .undecided }
                    guard ok else { return .invalid }
                    continue
                case 0x5B:  // [
                    i += 1
                    skipSpace()
                    if i < n, b[i] == 0x5D { i += 1; break }
                    guard stack.count < 256 else { return .undecided }
                    stack.append(.array)
                    continue
                case 0x22:
                    guard let ok = string() else { return .undecided }
                    guard ok else { return .invalid }
                case 0x74, 0x66, 0x6E:  // true false null
                    let word: [UInt8] = b[i] == 0x74 ? Array("true".utf8) : b[i] == 0x66 ? Array("false".utf8) : Array("null".utf8)
                    guard i + word.count <= n, b[i..<(i + word.count)].elementsEqual(word) else { return .invalid }
                    i += word.count
                case 0x2D, 0x30...0x39:
                    if b[i] == 0x2D { i += 1 }
                    guard i < n else { return .invalid }
                    if b[i] == 0x30 { i += 1 } else if !digits() { return .invalid }
                    if i < n, b[i] == 0x2E { i += 1; guard digits() else { return .invalid } }
                    if i < n, b[i] | 0x20 == 0x65 {
                        i += 1
                        if i < n, b[i] == 0x2B || b[i] == 0x2D { i += 1 }
                        guard digits() else { return .invalid }
                    }
                default:
                    return .invalid
                }
                // After a value: close containers or go on to the next member.
                while true {
                    skipSpace()
                    guard let top = stack.last else {
                        return i == n ? .valid : .invalid
                    }
                    guard i < n else { return .invalid }
                    if b[i] == 0x2C {  // ,
                        i += 1
                        skipSpace()
                        if top == .object {
                            guard let ok = key() else { return .undecided }
                            guard ok else { return .invalid }
                        }
                        break
                    }
                    guard b[i] == (top == .object ? 0x7D : 0x5D) else { return .invalid }
                    i += 1
                    stack.removeLast()
                }
            }
        }
    }
}

private extension UInt8 {
    var isHexDigit: Bool { (0x30...0x39).contains(self) || (0x61...0x66).contains(self | 0x20) }
}
