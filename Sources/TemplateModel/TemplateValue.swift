import Foundation

/// A template value after intrinsic functions were evaluated: what JSON can hold.
public enum TemplateValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case list([TemplateValue])
    case map([String: TemplateValue])

    /// The value as a string the way CloudFormation stringifies scalars (`128`, `true`).
    public var stringValue: String? {
        switch self {
        case .string(let text): return text
        case .number(let number): return Self.format(number)
        case .bool(let flag): return flag ? "true" : "false"
        default: return nil
        }
    }

    /// The value as an integer, accepting numeric strings as CloudFormation does.
    public var intValue: Int? {
        switch self {
        case .number(let number): return number.rounded() == number && abs(number) < 1e15 ? Int(number) : nil
        case .string(let text): return Int(text.trimmingCharacters(in: .whitespaces))
        default: return nil
        }
    }

    /// The value as a number, accepting numeric strings.
    public var doubleValue: Double? {
        switch self {
        case .number(let number): return number
        case .string(let text): return Double(text.trimmingCharacters(in: .whitespaces))
        default: return nil
        }
    }

    /// The value as a boolean, accepting `"true"`/`"false"` in any case as SAM does.
    public var boolValue: Bool? {
        switch self {
        case .bool(let flag): return flag
        case .string(let text):
            switch text.lowercased() {
            case "true": return true
            case "false": return false
            default: return nil
            }
        default: return nil
        }
    }

    public var listValue: [TemplateValue]? {
        if case .list(let items) = self { return items }
        return nil
    }

    public var mapValue: [String: TemplateValue]? {
        if case .map(let map) = self { return map }
        return nil
    }

    public subscript(key: String) -> TemplateValue? {
        mapValue?[key]
    }

    static func format(_ number: Double) -> String {
        if number.rounded() == number && abs(number) < 1e15 { return String(Int(number)) }
        return String(number)
    }

    /// The Foundation object for `JSONSerialization`.
    public var jsonObject: Any {
        switch self {
        case .null: return NSNull()
        case .bool(let flag): return flag
        case .number(let number):
            if number.rounded() == number && abs(number) < 1e15 { return Int(number) }
            return number
        case .string(let text): return text
        case .list(let items): return items.map(\.jsonObject)
        case .map(let map): return map.mapValues(\.jsonObject)
        }
    }

    /// Reads a plain YAML scalar the way a YAML 1.1 loader (PyYAML, which SAM uses) types it.
    static func plainScalar(_ text: String) -> TemplateValue {
        // Only text starting like one of the words below can be one (this skips the string comparisons for most text).
        guard let first = text.utf8.first else { return .null }
        switch first | 0x20 {
        case UInt8(ascii: "~"), UInt8(ascii: "n"), UInt8(ascii: "t"), UInt8(ascii: "y"), UInt8(ascii: "o"), UInt8(ascii: "f"):
            break
        default:
            return number(text)
        }
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON": return .bool(true)
        case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF": return .bool(false)
        default: return number(text)
        }
    }

    /// A plain scalar that is none of YAML's words: a number when it reads as one, else text.
    private static func number(_ text: String) -> TemplateValue {
        guard let first = text.utf8.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+")
            || first == UInt8(ascii: ".") || (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9"))
        else { return .string(text) }
        let digits = text.drop { $0 == "-" || $0 == "+" }
        // A leading zero (`007`, `01`) stays text: such values are identifiers, not numbers.
        if digits.count > 1, digits.first == "0", digits.dropFirst().first != "." { return .string(text) }
        if let integer = Int(text) { return .number(Double(integer)) }
        if text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }),
           text.allSatisfy({ "0123456789.eE+-".contains($0) }), let number = Double(text) {
            return .number(number)
        }
        return .string(text)
    }
}

extension TemplateValue: Encodable {
    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let flag): try container.encode(flag)
        case .number(let number):
            if number.rounded() == number && abs(number) < 1e15 { try container.encode(Int(number)) } else { try container.encode(number) }
        case .string(let text): try container.encode(text)
        case .list(let items): try container.encode(items)
        case .map(let map): try container.encode(map)
        }
    }
}
