/// Where JSON text first stops being valid (RFC 8259), as line and column: JSONSerialization only says
/// that a document is invalid, and a user fixing an event file needs to know where.
struct JSONSyntax {
    /// The first syntax error: 1-based line and column (in characters) and what was expected there.
    struct Problem: Error, Equatable {
        var line: Int
        var column: Int
        var message: String
    }

    /// Nesting deeper than this is reported rather than followed, so no input can exhaust the stack.
    static let maximumDepth = 512

    /// The first syntax error of `bytes`, nil when they are one valid JSON value (surrounded by whitespace).
    static func firstProblem(in bytes: [UInt8]) -> Problem? {
        var scanner = JSONSyntax(bytes: bytes)
        do throws(Failure) {
            try scanner.document()
            return nil
        } catch {
            return scanner.locate(error)
        }
    }

    private struct Failure: Error {
        var offset: Int
        var message: String
    }

    private let bytes: [UInt8]
    private var index = 0
    private var depth = 0

    private init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    private mutating func document() throws(Failure) {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        skipWhitespace()
        try value()
        skipWhitespace()
        guard index == bytes.count else { throw failure("unexpected \(found) after the JSON value; an event is one value") }
    }

    private mutating func value() throws(Failure) {
        guard index < bytes.count else { throw failure("the JSON ends where a value was expected") }
        switch bytes[index] {
        case UInt8(ascii: "{"): try container(close: "}", member: true)
        case UInt8(ascii: "["): try container(close: "]", member: false)
        case UInt8(ascii: "\""): try string()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
        default: throw failure("expected a value (an object, array, string, number, true, false or null), found \(found)")
        }
    }

    /// An object (`member`: `"name": value` entries) or an array, from its opening bracket.
    private mutating func container(close: Character, member: Bool) throws(Failure) {
        depth += 1
        guard depth <= Self.maximumDepth else { throw failure("the JSON nests more than \(Self.maximumDepth) levels deep") }
        index += 1
        skipWhitespace()
        let closing = UInt8(ascii: close.unicodeScalars.first!)
        if index < bytes.count, bytes[index] == closing {
            index += 1
            depth -= 1
            return
        }
        while true {
            if member {
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                    throw failure("expected a member name in double quotes, found \(found)")
                }
                try string()
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw failure("expected ':' after the member name, found \(found)") }
                index += 1
                skipWhitespace()
            }
            try value()
            skipWhitespace()
            guard index < bytes.count else { throw failure("the JSON ends before the closing '\(close)'") }
            if bytes[index] == closing {
                index += 1
                depth -= 1
                return
            }
            guard bytes[index] == UInt8(ascii: ",") else { throw failure("expected ',' or '\(close)', found \(found)") }
            index += 1
            skipWhitespace()
        }
    }

    private mutating func string() throws(Failure) {
        index += 1
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { break }
                if bytes[index] == UInt8(ascii: "u") {
                    for _ in 0..<4 {
                        index += 1
                        guard index < bytes.count, Self.isHexDigit(bytes[index]) else { throw failure("\\u must be followed by four hex digits") }
                    }
                } else if !Array(#""\/bfnrt"#.utf8).contains(bytes[index]) {
                    throw failure(#"invalid escape in a string; JSON's escapes are \" \\ \/ \b \f \n \r \t and \uXXXX"#)
                }
                index += 1
            case 0..<0x20:
                throw failure("a control character in a string; write it as an escape such as \\n or \\t")
            default:
                index += 1
            }
        }
        throw failure("the string is not closed (a '\"' is missing)")
    }

    private mutating func number() throws(Failure) {
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, Self.isDigit(bytes[index]) else { throw failure("expected a digit, found \(found)") }
        if bytes[index] == UInt8(ascii: "0") { index += 1 } else { skipDigits() }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < bytes.count, Self.isDigit(bytes[index]) else { throw failure("expected a digit after the decimal point, found \(found)") }
            skipDigits()
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, Self.isDigit(bytes[index]) else { throw failure("expected a digit in the exponent, found \(found)") }
            skipDigits()
        }
    }

    private mutating func literal(_ word: String) throws(Failure) {
        for expected in word.utf8 {
            guard index < bytes.count, bytes[index] == expected else { throw failure("expected \(word), found \(found)") }
            index += 1
        }
    }

    private mutating func skipWhitespace() {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    private mutating func skipDigits() {
        while index < bytes.count, Self.isDigit(bytes[index]) { index += 1 }
    }

    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        isDigit(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte)
    }

    /// The character at the current position, quoted, for messages.
    private var found: String {
        guard index < bytes.count else { return "the end of the input" }
        let byte = bytes[index]
        guard byte >= 0x20, byte < 0x7F else { return byte < 0x80 ? "a control character" : "a non-ASCII character" }
        return "'\(Character(Unicode.Scalar(byte)))'"
    }

    private func failure(_ message: String) -> Failure { Failure(offset: index, message: message) }

    /// Converts a byte offset to line and column; a column counts characters, not bytes.
    private func locate(_ failure: Failure) -> Problem {
        var line = 1, column = 1
        for byte in bytes[..<min(failure.offset, bytes.count)] {
            if byte == 0x0A {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return Problem(line: line, column: column, message: failure.message)
    }
}
