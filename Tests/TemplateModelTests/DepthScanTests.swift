import Foundation
import Testing
@testable import TemplateModel

/// The depth pre-scan skips plain bytes within a line; it must find exactly what the byte-by-byte scan found.
@Suite("Depth pre-scan")
struct DepthScanTests {
    static func reference(_ text: String, path: String) -> TemplateModel.SourceLocation? {
        let bytes = text.utf8
        let maximumDepth = YAMLReader.maximumDepth
        let space = UInt8(ascii: " "), dash = UInt8(ascii: "-"), newline = UInt8(ascii: "\n"), hash = UInt8(ascii: "#")
        var indents: [Int] = []
        var flowDepth = 0
        var line = 1
        var column = 0
        var atLineStart = true
        var indent = 0
        var dashes = 0
        var lastWasDash = false
        for byte in bytes {
            if byte == newline {
                line += 1
                column = 0
                atLineStart = true
                indent = 0
                dashes = 0
                lastWasDash = false
                continue
            }
            column += 1
            if atLineStart {
                if byte == space {
                    if lastWasDash { dashes += 1; lastWasDash = false } else if dashes == 0 { indent += 1 }
                    continue
                }
                if byte == dash && !lastWasDash { lastWasDash = true; continue }
                // A dash not followed by a space starts a scalar (`-1`, `--x`), not a sequence entry.
                if lastWasDash && byte != space { lastWasDash = false }
                atLineStart = false
                if byte == hash { continue }
                while let last = indents.last, last >= indent { indents.removeLast() }
                indents.append(indent)
            }
            if byte == UInt8(ascii: "[") || byte == UInt8(ascii: "{") {
                flowDepth += 1
            } else if byte == UInt8(ascii: "]") || byte == UInt8(ascii: "}") {
                flowDepth = max(0, flowDepth - 1)
            }
            if flowDepth + indents.count + dashes > maximumDepth {
                return TemplateModel.SourceLocation(file: path, line: line, column: column)
            }
        }
        if indents.count + dashes > maximumDepth { return TemplateModel.SourceLocation(file: path, line: line, column: max(1, column)) }
        return nil
    }


    @Test func agreesWithTheByteByByteScan() throws {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array(" -#[{]}\na:x".utf8)
        var texts: [String] = []
        for length in [0, 1, 5, 300, 3000] {
            for _ in 0..<60 {
                let bytes = (0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] }
                texts.append(String(decoding: bytes, as: UTF8.self))
            }
        }
        texts.append(String(repeating: "[", count: 300))
        texts.append("a: " + String(repeating: "{b: ", count: 300))
        texts.append(String(repeating: "- ", count: 300) + "x")
        texts.append(String(repeating: "- ", count: 300) + "# c\n")
        texts.append(String(repeating: "- ", count: 300) + "#")
        texts.append((0..<300).map { String(repeating: " ", count: $0) + "k:\n" }.joined())
        texts.append((0..<300).map { String(repeating: " ", count: $0) + "k: [x]\n" }.joined() + "# end")
        texts.append(String(repeating: "# [[[[\n", count: 100) + String(repeating: "[", count: 200))
        for url in Corpus.templates { texts.append(try String(contentsOf: url, encoding: .utf8)) }
        for text in texts {
            #expect(YAMLReader.firstTooDeepLocation(text, path: "p") == Self.reference(text, path: "p"), "\(text.prefix(80).debugDescription)")
        }
    }
}
