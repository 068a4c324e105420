import Foundation
import Yams

/// Turns template text into `Node`s, guarding against the inputs that would crash or hang a naive reader.
enum YAMLReader {
    /// Deeper than this and we refuse before composing: the composer recurses once per level.
    static let maximumDepth = 256
    /// More nodes than this after expanding aliases is an alias bomb, not a template.
    static let maximumNodes = 1_000_000

    static let shortFormTags: [String: String] = [
        "!Ref": "Ref", "!Condition": "Condition",
        "!Sub": "Fn::Sub", "!GetAtt": "Fn::GetAtt", "!Join": "Fn::Join", "!Select": "Fn::Select",
        "!Split": "Fn::Split", "!FindInMap": "Fn::FindInMap", "!If": "Fn::If", "!Equals": "Fn::Equals",
        "!Not": "Fn::Not", "!And": "Fn::And", "!Or": "Fn::Or", "!Base64": "Fn::Base64",
        "!GetAZs": "Fn::GetAZs", "!ImportValue": "Fn::ImportValue", "!Cidr": "Fn::Cidr",
        "!Transform": "Fn::Transform", "!Length": "Fn::Length", "!ToJsonString": "Fn::ToJsonString",
    ]

    static func read(_ text: String, path: String, diagnostics: inout DiagnosticSink) -> Node? {
        let start = SourceLocation(file: path, line: 1, column: 1)
        if containsNUL(text) {
            diagnostics.error("the file contains NUL bytes, so it is not a YAML or JSON text file; pass the template itself (template.yaml)", at: start)
            return nil
        }
        if text.utf8.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            diagnostics.error("the template is empty; a SAM template needs at least a 'Resources' section", at: start)
            return nil
        }
        if let deep = firstTooDeepLocation(text, path: path) {
            diagnostics.error("the document nests more than \(maximumDepth) levels deep; SAM templates never need that, so it was not read (check for runaway brackets or indentation)", at: deep)
            return nil
        }
        // The common case straight from libyaml's events; anything unusual is read (and reported) through Yams.
        if let node = EventComposer.compose(text, path: path) { return node }
        return readWithYams(text, path: path, diagnostics: &diagnostics)
    }

    /// Reads through Yams' tree: slower, but it is the reference, and it words every YAML problem.
    static func readWithYams(_ text: String, path: String, diagnostics: inout DiagnosticSink) -> Node? {
        let start = SourceLocation(file: path, line: 1, column: 1)
        let yamsNode: Yams.Node?
        do {
            // The basic resolver has no regular expressions: Yams would otherwise run several per scalar to type it
            // (and again when hashing keys for its duplicate check); we type plain scalars ourselves.
            yamsNode = try Parser(yaml: text, resolver: .basic, constructor: .default, encoding: .default).singleRoot()
        } catch let error as YamlError {
            let (location, message) = describe(error, path: path)
            diagnostics.error(message, at: location)
            return nil
        } catch {
            diagnostics.error("could not read the YAML: \(error)", at: start)
            return nil
        }
        guard let yamsNode else {
            diagnostics.error("the template has no content; a SAM template needs at least a 'Resources' section", at: start)
            return nil
        }
        var budget = maximumNodes
        var converter = Converter(path: path)
        let node = converter.convert(yamsNode, budget: &budget)
        if let problem = converter.problem {
            diagnostics.error(problem.message, at: SourceLocation(file: path, problem.location))
            return nil
        }
        return node
    }

    static func containsNUL(_ text: String) -> Bool {
        let found = text.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            guard let base = bytes.baseAddress else { return false }
            return memchr(base, 0, bytes.count) != nil
        }
        return found ?? text.utf8.contains(0)
    }

    /// Estimates nesting from the text alone (indentation levels, `- ` runs, open brackets),
    /// so that a 20,000-deep document is refused before anything recursive touches it.
    static func firstTooDeepLocation(_ text: String, path: String) -> SourceLocation? {
        if let found = text.utf8.withContiguousStorageIfAvailable({ firstTooDeepLocation(in: $0, path: path) }) { return found }
        return Array(text.utf8).withUnsafeBufferPointer { firstTooDeepLocation(in: $0, path: path) }
    }

    private static func firstTooDeepLocation(in bytes: UnsafeBufferPointer<UInt8>, path: String) -> SourceLocation? {
        let space = UInt8(ascii: " "), dash = UInt8(ascii: "-"), newline = UInt8(ascii: "\n"), hash = UInt8(ascii: "#")
        var indents: [Int] = []
        var flowDepth = 0
        var line = 1
        var lineStart = 0
        var atLineStart = true
        var indent = 0
        var dashes = 0
        var lastWasDash = false
        // After a comment that starts a line, the next byte is checked even if it is plain: `dashes` may have grown.
        var uncheckedComment = false
        var index = 0
        let count = bytes.count
        while index < count {
            var byte = bytes[index]
            if !atLineStart && !uncheckedComment {
                // Within a line only brackets change the depth: skip to the next one or to the end of the line.
                // (`byte & 0xDF` folds `{` onto `[` and `}` onto `]`.)
                while byte != newline && byte & 0xDF != UInt8(ascii: "[") && byte & 0xDF != UInt8(ascii: "]") {
                    index += 1
                    if index == count { break }
                    byte = bytes[index]
                }
                if index == count { break }
            }
            index += 1
            if byte == newline {
                line += 1
                lineStart = index
                atLineStart = true
                indent = 0
                dashes = 0
                lastWasDash = false
                uncheckedComment = false
                continue
            }
            let column = index - lineStart
            if atLineStart {
                if byte == space {
                    if lastWasDash { dashes += 1; lastWasDash = false } else if dashes == 0 { indent += 1 }
                    continue
                }
                if byte == dash && !lastWasDash { lastWasDash = true; continue }
                // A dash not followed by a space starts a scalar (`-1`, `--x`), not a sequence entry.
                if lastWasDash && byte != space { lastWasDash = false }
                atLineStart = false
                if byte == hash { uncheckedComment = true; continue }
                while let last = indents.last, last >= indent { indents.removeLast() }
                indents.append(indent)
            }
            uncheckedComment = false
            if byte == UInt8(ascii: "[") || byte == UInt8(ascii: "{") {
                flowDepth += 1
            } else if byte == UInt8(ascii: "]") || byte == UInt8(ascii: "}") {
                flowDepth = max(0, flowDepth - 1)
            }
            if flowDepth + indents.count + dashes > maximumDepth {
                return SourceLocation(file: path, line: line, column: column)
            }
        }
        let column = count - lineStart
        if indents.count + dashes > maximumDepth { return SourceLocation(file: path, line: line, column: max(1, column)) }
        return nil
    }

    static func describe(_ error: YamlError, path: String) -> (SourceLocation, String) {
        func location(_ mark: Mark?) -> SourceLocation {
            SourceLocation(file: path, line: max(1, mark?.line ?? 1), column: max(1, mark?.column ?? 1))
        }
        switch error {
        case .scanner(let context, let problem, let mark, _):
            return (location(mark), "YAML syntax: \(problem)\(context.map { " \($0.text)" } ?? ""); check the indentation and quoting on this line")
        case .parser(let context, let problem, let mark, _):
            return (location(mark), "YAML structure: \(problem)\(context.map { " \($0.text)" } ?? ""); check that items at one level share one indentation")
        case .composer(let context, let problem, let mark, _):
            return (location(mark), "YAML: \(problem)\(context.map { " \($0.text)" } ?? "")")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return (location(context.mark), "duplicate key \(duplicates.map { "'\($0)'" }.joined(separator: ", ")) in one mapping; keep only one of them")
        case .reader(let problem, let offset, _, _):
            return (location(nil), "cannot read the text (\(problem)) at byte \(offset ?? 0); save the template as UTF-8")
        default:
            return (location(nil), "could not read the YAML: \(error)")
        }
    }

    /// Converts Yams nodes, expanding aliases under a node budget.
    struct Converter {
        let path: String
        var problem: (location: Position, message: String)?

        init(path: String) { self.path = path }

        func location(_ mark: Mark?) -> Position {
            Position(line: mark?.line ?? 1, column: mark?.column ?? 1)
        }

        mutating func convert(_ node: Yams.Node, budget: inout Int) -> Node {
            let here = location(node.mark)
            budget -= 1
            if budget < 0 {
                if problem == nil {
                    problem = (here, "the document expands to more than \(YAMLReader.maximumNodes) nodes through YAML aliases (*name); this looks like an alias bomb, so it was not read. Write the values out instead of aliasing them")
                }
                return Node(.scalar("", plain: true), at: here)
            }
            // The tag as written, read before anything resolves it ("" when there is none).
            let tag: String
            let converted: Node
            switch node {
            case .scalar(let scalar):
                tag = scalar.tag.rawValue
                converted = Node(.scalar(scalar.string, plain: scalar.style == .plain && tag.isEmpty), at: here)
            case .sequence(let sequence):
                tag = sequence.tag.rawValue
                var items: [Node] = []
                items.reserveCapacity(sequence.count)
                for item in sequence {
                    items.append(convert(item, budget: &budget))
                    if problem != nil { break }
                }
                converted = Node(.sequence(items), at: here)
            case .mapping(let mapping):
                tag = mapping.tag.rawValue
                var entries: [Node.Entry] = []
                entries.reserveCapacity(mapping.count)
                for (key, value) in mapping {
                    let keyText: String
                    if let text = key.scalar?.string {
                        keyText = text
                    } else {
                        if problem == nil {
                            problem = (location(key.mark), "a mapping key must be a plain name, not \(key.isMapping ? "a map" : "a list")")
                        }
                        keyText = ""
                    }
                    // `<<` merge keys are YAML 1.1 only; templates keep them as written, like PyYAML's SafeLoader would.
                    entries.append(Node.Entry(key: keyText, keyLocation: location(key.mark), value: convert(value, budget: &budget)))
                    if problem != nil { break }
                }
                converted = Node(.mapping(entries), at: here)
            case .alias:
                tag = ""
                converted = Node(.scalar("", plain: true), at: here)
            }
            if let longName = YAMLReader.shortFormTags[tag] {
                var argument = converted
                if longName == "Fn::GetAtt", let text = converted.scalar {
                    // `!GetAtt A.B` is the string form of `Fn::GetAtt: [A, B]`.
                    argument = Node(.scalar(text, plain: false), at: here)
                }
                return Node(.mapping([Node.Entry(key: longName, keyLocation: here, value: argument)]), at: here)
            }
            return converted
        }
    }
}

private extension Yams.Node {
    var isMapping: Bool {
        if case .mapping = self { return true }
        return false
    }
}
