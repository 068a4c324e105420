import Foundation
import Testing
@testable import TemplateModel

/// Byte-level shortcuts must agree with the character-wise code and regular expressions they stand in for.
@Suite("Fast paths: same results as the general code")
struct FastPathTests {
    static func value(_ sub: String) -> (TemplateValue?, [Diagnostic]) {
        let result = load("""
        Transform: AWS::Serverless-2016-10-31
        Parameters:
          Stage: {Type: String, Default: dev}
        Resources:
          Topic:
            Type: AWS::SNS::Topic
        Outputs:
          Out:
            Value: !Sub '\(sub)'
        """)
        return (result.template?.outputs["Out"], result.diagnostics)
    }

    @Test(arguments: [
        ("${Stage}", "dev"), ("${ Stage }", "dev"), ("a${Stage}b${Stage}", "adevbdev"), ("${!Literal}", "${Literal}"),
        ("${ !Literal }", "${Literal}"), ("$${Stage}", "$dev"), ("$", "$"), ("end$", "end$"), ("{${Stage}}", "{dev}"),
        ("$ {Stage}", "$ {Stage}"), ("${AWS::Region}", "us-east-1"), ("é-${Stage}-ü", "é-dev-ü"), ("${Stage}}", "dev}"),
        ("${Topic.TopicName}", "Topic"),
    ])
    func subSubstitutes(template: String, expected: String) {
        let (value, diagnostics) = Self.value(template)
        #expect(value == .string(expected), "\(diagnostics.map(\.description))")
    }

    @Test(arguments: ["x-${Stage", "é-${Stage", "${"])
    func subReportsUnclosedOpenings(template: String) {
        let (_, diagnostics) = Self.value(template)
        #expect(diagnostics.contains { $0.message.contains("unclosed '${'") && $0.location.line == 9 }, "\(diagnostics.map(\.description))")
    }

    @Test func aliasNamesAgreeWithThePattern() {
        let names = ["live", "a-b_c", "Live2", "123", "0", "-", "_", "a b", "a.b", "a:b", "a\n", "12\n", "a\r\n", "é", "", "a@b", "Z9", "a/b",
                     "[", "`", "^", "\\", "]", "a\u{2028}", "007x", "x\u{301}"]
        for name in names {
            let expected = TemplateBuilder.aliasNamePattern.firstMatch(in: name, range: NSRange(name.startIndex..., in: name)) != nil
            #expect(TemplateBuilder.isValidAliasName(name) == expected, "\(name.debugDescription)")
        }
    }

    @Test func asciiChecksAgreeWithCharacterProperties() {
        let samples = ["Fn", "Fn1", "fn_1", "_x", "1a", "", "a-b", "é", "e\u{301}", "A\r\nB", "Ⅻ", "٣", "ab c", "Z", "@", "[", "`", "{", "x\u{0}"]
        for text in samples {
            #expect(ASCII.isAlphanumeric(text) == text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }, "\(text.debugDescription)")
            let invalid = text.first.map { !$0.isLetter } ?? true || !text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
            #expect(ASCII.isEnvironmentName(text) == !invalid, "\(text.debugDescription)")
        }
        for text in ["s3://b/k", "://", "a:/b", "x", "", "é://x", "a::://", "http:/ /x", "ftp://h"] {
            let expected = text.range(of: "://").map { text[..<$0.lowerBound] }
            #expect(ASCII.range(of: "://", in: text).map { text[..<$0.lowerBound] } == expected, "\(text.debugDescription)")
        }
    }

    /// The full property map reuses only values that resolved without a report; broken ones are resolved again,
    /// and the problem is still reported once, as the error.
    @Test func functionPropertiesResolvedOnceAndReportedOnce() {
        let result = load("""
        Transform: AWS::Serverless-2016-10-31
        Parameters:
          Stage: {Type: String, Default: dev}
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: app.handler
              FunctionName: !Sub "${Stage}-fn"
              Description: !Ref Missing
              Environment:
                Variables:
                  A: !Ref Stage
                  B: !GetAtt Nope.Arn
        """)
        let messages = result.diagnostics.map { "\($0.location.line):\($0.severity.rawValue): \($0.message)" }
        #expect(messages.contains { $0.hasPrefix("11:error: Ref to 'Missing'") }, "\(messages)")
        #expect(!messages.contains { $0.hasPrefix("11:warning: Ref to 'Missing'") }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("15:error: Fn::GetAtt refers to 'Nope'") }, "\(messages)")
        #expect(!messages.contains { $0.hasPrefix("15:warning: Fn::GetAtt refers to 'Nope'") }, "\(messages)")
        let ok = load("""
        Transform: AWS::Serverless-2016-10-31
        Parameters:
          Stage: {Type: String, Default: dev}
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: app.handler
              FunctionName: !Sub "${Stage}-fn"
              Environment:
                Variables:
                  A: !Ref Stage
        """).template?.functions.first
        #expect(ok?.properties["FunctionName"] == .string("dev-fn"))
        #expect(ok?.properties["Environment"] == .map(["Variables": .map(["A": .string("dev")])]))
        #expect(ok?.properties["Runtime"] == .string("python3.12"))
    }

    @Test func plainScalarsAreTypedAsBefore() {
        // The typing before the first-byte shortcut.
        func reference(_ text: String) -> TemplateValue {
            switch text {
            case "", "~", "null", "Null", "NULL": return .null
            case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON": return .bool(true)
            case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF": return .bool(false)
            default: break
            }
            guard let first = text.utf8.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+")
                || first == UInt8(ascii: ".") || (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9"))
            else { return .string(text) }
            let digits = text.drop { $0 == "-" || $0 == "+" }
            if digits.count > 1, digits.first == "0", digits.dropFirst().first != "." { return .string(text) }
            if let integer = Int(text) { return .number(Double(integer)) }
            if text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }),
               text.allSatisfy({ "0123456789.eE+-".contains($0) }), let number = Double(text) {
                return .number(number)
            }
            return .string(text)
        }
        let samples = ["", "~", "null", "Null", "NULL", "nULL", "true", "True", "TRUE", "tRUE", "yes", "Yes", "YES", "on", "On", "ON", "oN",
                       "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "^", "n", "t", "nope", "often", "12", "-3", "+4",
                       "1.5", ".5", "1e3", "007", "0", "0.1", "-0", "x", "Z", "python3.12", "app.handler", "~x", "\u{212A}", "é"]
        for text in samples {
            #expect(TemplateValue.plainScalar(text) == reference(text), "\(text.debugDescription)")
        }
    }
}
