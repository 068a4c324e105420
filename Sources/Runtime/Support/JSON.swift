import Foundation

/// Tiny JSON helpers for the error documents (no Codable round trip on the hot path).
enum JSON {
    static func quote(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let c where c.value < 0x20: out += String(format: "\\u%04x", c.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// `{"errorMessage":…,"errorType":…}` as Lambda writes its own errors.
    static func errorDocument(message: String, type: String) -> [UInt8] {
        Array("{\"errorMessage\":\(quote(message)),\"errorType\":\(quote(type))}".utf8)
    }

    /// Reads `errorType` and `errorMessage` from an error document a runtime posted, if it is one.
    static func errorFields(_ body: [UInt8]) -> (type: String?, message: String?) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return (nil, nil) }
        return (object["errorType"] as? String, object["errorMessage"] as? String)
    }
}
