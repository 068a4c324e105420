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
        if text.utf8.contains(0) {
            diagnostics.error("the file contains NUL bytes, so it is not a YAML or JSON text file; pass the template itself (template.yaml)", at: start)
            return nil
        }
        if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            diagnostics.error("the template is empty; a SAM template needs at least a 'Resources' section", at: start)
            return nil
        }
        if let deep = firstTooDeepLocation(text, path: path) {
            diagnostics.error("the document nests more than \(maximumDepth) levels deep; SAM templates never need that, so it was not read (check for runaway brackets or indentation)", at: deep)
            return nil
        }
        let yamsNode: Yams.Node?
        do {
            yamsNode = try Yams.compose(yaml: text)
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
            diagnostics.error(problem.message, at: problem.location)
            return nil
        }
        return node
    }

    /// Estimates nesting from the text alone (indentation levels, `- ` runs, open brackets),
    /// so that a 20,000-deep document is refused before anything recursive touches it.
    static func firstTooDeepLocation(_ text: String, path: String) -> SourceLocation? {
        var indents: [Int] = []
        var flowDepth = 0
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var column = 0
            var sawContent = false
            var leadingDashes = 0
            var inLeadingRun = true
            var previous: Character = " "
            for character in line {
                column += 1
                if inLeadingRun {
                    if character == " " { previous = character; continue }
                    if character == "-" { previous = character; continue }
                    if previous == "-" && character != " " { inLeadingRun = false }
                    else if character == "#" { break }
                    else { inLeadingRun = false }
                    if !inLeadingRun && !sawContent {
                        sawContent = true
                        let indent = line.prefix(while: { $0 == " " }).count
                        while let last = indents.last, last >= indent { indents.removeLast() }
                        indents.append(indent)
                        leadingDashes = line.dropFirst(indent).split(separator: " ", omittingEmptySubsequences: true)
                            .prefix(while: { $0 == "-" }).count
                    }
                }
                switch character {
                case "[", "{": flowDepth += 1
                case "]", "}": flowDepth = max(0, flowDepth - 1)
                default: break
                }
                if flowDepth + indents.count + leadingDashes > maximumDepth {
                    return SourceLocation(file: path, line: lineNumber, column: column)
                }
                previous = character
            }
        }
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
        var problem: (location: SourceLocation, message: String)?

        init(path: String) { self.path = path }

        func location(_ mark: Mark?) -> SourceLocation {
            SourceLocation(file: path, line: mark?.line ?? 1, column: mark?.column ?? 1)
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
            let tag = node.tag.rawValue
            let converted: Node
            switch node {
            case .scalar(let scalar):
                converted = Node(.scalar(scalar.string, plain: scalar.style == .plain && tag != "!" && tag != "tag:yaml.org,2002:str"), at: here)
            case .sequence(let sequence):
                var items: [Node] = []
                items.reserveCapacity(sequence.count)
                for item in sequence {
                    items.append(convert(item, budget: &budget))
                    if problem != nil { break }
                }
                converted = Node(.sequence(items), at: here)
            case .mapping(let mapping):
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
