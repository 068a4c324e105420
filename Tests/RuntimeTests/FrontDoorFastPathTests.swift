import Foundation
import Testing
@testable import Runtime

/// The front door's own JSON reading and writing, which replaced Foundation on every request's path, held
/// against Foundation: the same documents accepted, the same values read, the same text written.
@Suite("Front door fast paths")
struct FrontDoorFastPathTests {
    static let valid = [
        #"{"statusCode":200,"headers":{"Content-Type":"text/plain"},"body":"ok"}"#,
        #"  {"a" : [1, -2, 3.5, -0.25e-3, 1E+2, 0, true, false, null, {}, []], "b": {"c": "d"}}  "#,
        #"{"escapes":"q\" b\\ s\/ \b\f\n\r\t \u0041\u00e9\u4e2d\u0000 end"}"#,
        #"{"pair":"\ud83d\ude00","raw":"é中😀"}"#,
        #""just text""#, "42", "-1.5", "true", "null", "[]", "{}",
        #"{"dup":1,"dup":2}"#,
        String(repeating: "[", count: 100) + String(repeating: "]", count: 100),
    ]
    static let invalid = [
        "", " ", "{", "}", #"{"a" 1}"#, #"{a:1}"#, "'x'", "01", "1.", ".5", "-", "1e", "+1", "tru", "nul",
        #""unterminated"#, "\"tab\there\"", #""\x""#, #""\u12""#, #"{"a":1} x"#, "[1] [2]", "NaN", "Infinity",
        String(repeating: "[", count: 600) + String(repeating: "]", count: 600),
    ]

    @Test func theFastParserAcceptsWhatFoundationAcceptsAndReadsTheSameValues() {
        for text in Self.valid {
            let bytes = Array(text.utf8)
            let foundation = FrontDoorJSON.parseWithFoundation(bytes)
            #expect(foundation != nil, "Foundation refuses \(text)")
            let fast = FrontDoorJSON.parseUTF8(bytes)
            // Only a lone or paired surrogate escape is left to Foundation; everything else here takes the fast path.
            if !text.contains(#"\ud83d"#) { #expect(fast != nil, "the fast path refuses \(text)") }
            if let fast, let foundation { #expect(Self.canonical(fast) == Self.canonical(foundation), "\(text)") }
            #expect(FrontDoorJSON.parse(bytes).map(Self.canonical) == foundation.map(Self.canonical))
        }
    }

    /// Foundation forgives trailing commas; the fast path leaves them to it, which decides as before.
    static let lenient = ["[1,]", #"{"a":1,}"#]

    @Test func whatOnlyFoundationAcceptsIsLeftToIt() {
        for text in Self.lenient {
            let bytes = Array(text.utf8)
            #expect(FrontDoorJSON.parseUTF8(bytes) == nil, "\(text)")
            #expect(FrontDoorJSON.parse(bytes).map(Self.canonical) == FrontDoorJSON.parseWithFoundation(bytes).map(Self.canonical))
            #expect(FrontDoorJSON.parse(bytes) != nil, "\(text)")
        }
    }

    @Test func whatFoundationRefusesIsRefused() {
        var documents = Self.invalid.map { Array($0.utf8) }
        documents.append([0x22, 0xFF, 0xFE, 0x22])  // a string of invalid UTF-8
        for bytes in documents {
            #expect(FrontDoorJSON.parseWithFoundation(bytes) == nil, "Foundation accepts \(bytes)")
            #expect(FrontDoorJSON.parseUTF8(bytes) == nil, "the fast path accepts \(String(decoding: bytes, as: UTF8.self))")
            #expect(FrontDoorJSON.parse(bytes) == nil)
        }
    }

    @Test func responsesMapAsBeforeFromEveryKindOfValue() throws {
        let answer = #"""
        {"statusCode": "201", "headers": {"X-Number": 5, "X-Float": 1.5, "X-Exp": 1e3, "X-Flag": true, "x-dup": "first", "x-dup": "last",
         "X-Multi": "single loses"}, "multiValueHeaders": {"x-multi": ["a", "b"]}, "cookies": ["c=1"], "body": {"nested": [1, "two"]}}
        """#
        let mapped = try #require(FrontDoorResponseMapping.map(Array(answer.utf8), kind: .httpApi(payloadVersion: .v2)))
        #expect(mapped.status == 201)
        let headers = mapped.headers.map { "\($0.name)=\($0.value)" }
        // Numbers read as text as Foundation prints what it read.
        let printed = { (literal: String) in (try? JSONSerialization.jsonObject(with: Data(literal.utf8), options: .fragmentsAllowed) as? NSNumber)?.stringValue ?? "?" }
        #expect(headers == ["x-multi=a", "x-multi=b", "X-Exp=\(printed("1e3"))", "X-Flag=true", "X-Float=\(printed("1.5"))", "X-Number=\(printed("5"))", "x-dup=last",
                            "Set-Cookie=c=1", "Content-Type=application/json"])
        #expect(String(decoding: mapped.body, as: UTF8.self) == #"{"nested":[1,"two"]}"#)

        let binary = #"{"statusCode": 200.0, "body": "AAEC/w==", "isBase64Encoded": "True"}"#
        #expect(FrontDoorResponseMapping.map(Array(binary.utf8), kind: .restApi)?.body == [0, 1, 2, 255])
        for refused in [#"{"statusCode": 600}"#, #"{"statusCode": true}"#, #"{"statusCode": 200, "headers": []}"#,
                        #"{"statusCode": 200, "multiValueHeaders": {"a": "b"}}"#, #""text""#, "not json"] {
            #expect(FrontDoorResponseMapping.map(Array(refused.utf8), kind: .restApi) == nil, "\(refused)")
        }
        #expect(FrontDoorResponseMapping.map(Array(#""just text""#.utf8), kind: .functionUrl)?.body == Array("just text".utf8))
        #expect(FrontDoorResponseMapping.map(Array("not json".utf8), kind: .functionUrl) == nil)
    }

    @Test func eventStringsAreEscapedAsJSONAndReadBackUnchanged() throws {
        let nasty = "quote \" backslash \\ newline \n return \r tab \t bell \u{07} nul \u{00} slash / é中😀"
        var json = JSONBuffer()
        json.open()
        json.field(nasty, nasty)
        json.close()
        #expect(String(decoding: json.bytes, as: UTF8.self)
            .contains(#""quote \" backslash \\ newline \n return \r tab \t bell \u0007 nul \u0000 slash / é中😀""#))
        let object = try #require(JSONSerialization.jsonObject(with: Data(json.bytes)) as? [String: String])
        #expect(object == [nasty: nasty])
    }

    @Test func traceHeadersHaveLambdasShape() throws {
        let header = RequestId.traceHeader(epochSeconds: 0x5F0A_1B2C)
        let pattern = try Regex("^Root=1-5f0a1b2c-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$")
        #expect(header.wholeMatch(of: pattern) != nil, "\(header)")
        #expect(RequestId.traceHeader() != RequestId.traceHeader())
    }

    @Test func requestIdsAreLowerCaseVersion4UUIDs() {
        var seen: Set<String> = []
        for _ in 0..<200 {
            let id = RequestId.make()
            let parsed = UUID(uuidString: id)
            #expect(parsed != nil && id == id.lowercased() && id.count == 36, "\(id)")
            let characters = Array(id)
            #expect(characters[14] == "4" && "89ab".contains(characters[19]), "\(id)")
            seen.insert(id)
        }
        #expect(seen.count == 200)
    }

    @Test func mediaTypesIgnoreParametersBlanksAndCase() {
        #expect(FrontDoorEvent.mediaType(" Application/JSON ; charset=utf-8") == "application/json")
        #expect(FrontDoorEvent.mediaType("text/plain") == "text/plain")
        #expect(FrontDoorEvent.mediaType(";x") == "")
        #expect(FrontDoorEvent.isText("TEXT/html;charset=utf-8") && FrontDoorEvent.isText("application/vnd.api+json"))
        #expect(!FrontDoorEvent.isText("image/png") && !FrontDoorEvent.isText(nil))
        #expect(FrontDoorEvent.matches("Image/PNG; q=1", ["image/*"]) && !FrontDoorEvent.matches("text/plain", ["image/*"]))
        let request = FrontDoorRequest(method: "GET", uri: "/", headers: [("CONTENT-type", "a/b"), ("Content-Type", "c/d")])
        #expect(request.header("content-TYPE") == "a/b" && request.header("content-typ") == nil && request.header("content-type!") == nil)
        #expect(FrontDoorRequest.equalsIgnoringCase("X-A", "x-a") && !FrontDoorRequest.equalsIgnoringCase("x@", "x`"))
    }

    @Test func requestTimesAndPathsReadAsAPIGatewayWritesThem() {
        #expect(FrontDoorEvent.clf(1_589_522_469_000) == "15/May/2020:06:01:09 +0000")
        #expect(FrontDoorEvent.clf(1_703_980_800_999) == "31/Dec/2023:00:00:00 +0000")
        #expect(FrontDoorEvent.clf(0) == "01/Jan/1970:00:00:00 +0000")
        let request = FrontDoorRequest(method: "GET", uri: "/caf%C3%A9/x?a=1&b=%20?", headers: [])
        #expect(request.path == "/caf%C3%A9/x" && request.rawQuery == "a=1&b=%20?")
        #expect(FrontDoorRequest(method: "GET", uri: "", headers: []).path == "/")
        #expect(FrontDoorRouteTable.segments(ofRequest: "/caf%C3%A9//x/") == ["café", "x"])
    }

    /// Keys sorted (the last of repeated keys kept), numbers by value.
    static func canonical(_ value: FrontDoorJSON) -> String {
        switch value {
        case .object: "{" + (value.sortedMembers ?? []).map { "\($0.key.debugDescription):\(canonical($0.value))" }.joined(separator: ",") + "}"
        case .array(let elements): "[" + elements.map(canonical).joined(separator: ",") + "]"
        case .string(let text): text.debugDescription
        case .number(let literal): "\(Double(literal) ?? .nan)"
        case .bool(let flag): "\(flag)"
        case .null: "null"
        }
    }
}
