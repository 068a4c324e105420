import Foundation
import Testing
@testable import TemplateModel

@Suite("Bad input: located, human errors, never a crash or a hang")
struct BadInputTests {
    @Test func emptyFile() {
        #expect(errors("").first?.message.contains("empty") == true)
        #expect(errors("   \n\n# only a comment\n").first != nil)
    }

    @Test func documentThatIsNotAMap() {
        let found = errors("- a\n- b\n")
        #expect(found.first?.message.contains("must be a map of sections") == true)
        #expect(found.first?.location.line == 1)
        #expect(errors("just a string").first?.message.contains("must be a map") == true)
    }

    @Test func brokenIndentationPointsAtTheLine() {
        let found = errors("Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n   Properties:\n      Runtime: x\n")
        #expect(found.count == 1)
        #expect(found.first?.location.line == 4, "\(found.map(\.description))")
        #expect(found.first?.message.contains("YAML") == true)
    }

    @Test func duplicateKeys() {
        let found = errors("Resources:\n  Fn:\n    Type: AWS::SNS::Topic\n  Fn:\n    Type: AWS::SNS::Topic\n")
        #expect(found.first?.message.contains("duplicate key 'Fn'") == true, "\(found.map(\.description))")
        #expect(found.first?.location.line == 2 || found.first?.location.line == 4)
    }

    @Test func wrongTypes() {
        #expect(errors("Resources: [a, b]\n").first?.message.contains("non-empty map") == true)
        #expect(errors("Resources:\n  Fn: 3\n").first?.message.contains("must be a map with a Type") == true)
        #expect(errors("Resources:\n  Fn:\n    Properties: {}\n").first?.message.contains("has no Type") == true)
        #expect(errors("Globals: [1, 2]\nResources:\n  T: {Type: AWS::SNS::Topic}\n").first?.message.contains("Globals section must be") == true)
        #expect(errors("Globals:\n  Function:\n    Nope: 1\nResources:\n  T: {Type: AWS::SNS::Topic}\n").first?.message.contains("'Nope' is not a property Globals.Function supports") == true)
    }

    @Test func binaryGarbage() {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let text = String(decoding: bytes, as: UTF8.self)
        let result = load(text)
        #expect(result.template == nil)
        #expect(result.diagnostics.hasErrors)
        let withNul = load("Resources:\u{0}\u{1}\u{2}")
        #expect(withNul.diagnostics.first?.message.contains("NUL") == true)
    }

    @Test func aliasBombIsRefused() {
        var yaml = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
        var previous = "a"
        for name in ["b", "c", "d", "e", "f", "g", "h", "i"] {
            yaml += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ",") + "]\n"
            previous = name
        }
        yaml += "Resources:\n  T:\n    Type: AWS::SNS::Topic\n    Properties: {Tags: *i}\n"
        let start = ContinuousClock.now
        let found = errors(yaml)
        #expect(found.first?.message.contains("alias bomb") == true, "\(found.map(\.description))")
        #expect(ContinuousClock.now - start < .seconds(30))
    }

    @Test(arguments: ["[", "{a: "])
    func deepNestingIsRefusedWithoutRecursing(opener: String) {
        let yaml = "Resources: " + String(repeating: opener, count: 20_000)
        let found = errors(yaml)
        #expect(found.first?.message.contains("nests more than") == true, "\(found.map(\.description))")
        #expect(found.first?.location.line == 1)
    }

    @Test func deepBlockNestingIsRefused() {
        var yaml = ""
        for depth in 0..<1_000 { yaml += String(repeating: " ", count: depth) + "k:\n" }
        #expect(errors(yaml).first?.message.contains("nests more than") == true)
        let dashes = String(repeating: "- ", count: 20_000) + "x\n"
        #expect(errors(dashes).first?.message.contains("nests more than") == true)
    }

    @Test func unknownSectionAndResourceTypesAreWarnings() throws {
        let result = load(header + "Resourcez: {}\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: q}\n")
        #expect(result.template != nil)
        #expect(result.diagnostics.contains { $0.severity == .warning && $0.message.contains("did you mean 'Resources'?") })
        #expect(result.diagnostics.contains { $0.severity == .warning && $0.message.contains("Q (AWS::SQS::Queue) is not run locally") })
    }
}
