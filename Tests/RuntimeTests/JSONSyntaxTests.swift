import Foundation
import Testing
@testable import Runtime

/// The Invoke API's payload check answers as `JSONSerialization` does, without building the value.
@Suite("JSON syntax check")
struct JSONSyntaxTests {
    static let valid = [
        "{}", "[]", " {} ", "\n[1, 2.5, -3e+2, 0, -0.0, 1E-7]\t", #"{"a":{"b":[true,false,null,"x\"y\\z\/\b\f\n\r\t\u00e9"]}}"#,
        "\"text\"", "42", "true", "null", #"{"hello":"world"}"#, #"[[], {}, [{}], {"k": []}]"#, #"{"a" : 1 , "b" : [ 1 , 2 ] }"#,
    ]
    static let invalid = [
        "", " ", "{", "}", "[", "{\"a\"}", "{\"a\":}", "{a:1}", "[1 2]", "01", "1.", ".5", "-", "1e", "+1",
        "tru", "nul", "True", "\"open", "\"tab\there\"", #""\x""#, #""\u12G4""#, "{} {}", "[]]", "{\"broken\": ", "'single'", "NaN",
    ]

    @Test func decidesValidPayloadsAsFoundationDoes() {
        for text in Self.valid {
            let bytes = Array(text.utf8)
            #expect(JSONSyntax.scan(bytes) == .valid, "\(text)")
            #expect((try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) != nil, "Foundation disagrees on \(text)")
        }
    }

    @Test func decidesInvalidPayloadsAsFoundationDoes() {
        for text in Self.invalid {
            let bytes = Array(text.utf8)
            #expect(!JSONSyntax.isValid(bytes), "\(text)")
            #expect((try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) == nil, "Foundation disagrees on \(text)")
        }
    }

    /// Foundation on Linux takes `[1,]` and `{"a":1,}`; they are not JSON (RFC 8259), Lambda refuses them, and a
    /// function's own parser (Python's `json`, Node's `JSON.parse`) would fail on them.
    @Test func refusesTrailingCommasAsLambdaDoes() {
        for text in ["[1,]", #"{"a":1,}"#, "[[],]"] { #expect(!JSONSyntax.isValid(Array(text.utf8)), "\(text)") }
    }

    @Test func leavesWhatItDoesNotSettleToFoundation() {
        #expect(JSONSyntax.scan(Array(#"{"name":"Zoë"}"#.utf8)) == .undecided)
        #expect(JSONSyntax.isValid(Array(#"{"name":"Zoë"}"#.utf8)))
        #expect(JSONSyntax.scan(Array((String(repeating: "[", count: 300) + String(repeating: "]", count: 300)).utf8)) == .undecided)
        let utf16 = Array(#"{"a":1}"#.data(using: .utf16)!)
        #expect(JSONSyntax.isValid(utf16) == ((try? JSONSerialization.jsonObject(with: Data(utf16), options: [.fragmentsAllowed])) != nil))
    }
}
