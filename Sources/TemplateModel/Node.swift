/// A line and column (1-based) in the template being read. Nodes carry this rather than a `SourceLocation`, whose
/// file path would be retained and released with every copy of a node; the path is added when a diagnostic is made.
struct Position: Sendable, Hashable {
    var line: Int32
    var column: Int32

    init(line: Int, column: Int) {
        self.line = Int32(truncatingIfNeeded: line)
        self.column = Int32(truncatingIfNeeded: column)
    }
}

extension SourceLocation {
    init(file: String, _ position: Position) {
        self.init(file: file, line: Int(position.line), column: Int(position.column))
    }
}

/// A YAML/JSON node of a template with the place it was written, short-form tags (`!Ref x`)
/// already turned into their long form (`{"Ref": "x"}`).
struct Node: Sendable {
    /// A mapping entry; keys of templates are always scalars.
    struct Entry: Sendable {
        var key: String
        var keyLocation: Position
        var value: Node
    }

    /// What a node holds.
    enum Kind: Sendable {
        /// A scalar as written; `plain` is false for quoted and block scalars, which are always strings.
        case scalar(String, plain: Bool)
        case sequence([Node])
        case mapping([Entry])
    }

    var kind: Kind
    var location: Position

    init(_ kind: Kind, at location: Position) {
        self.kind = kind
        self.location = location
    }

    var entries: [Entry]? {
        if case .mapping(let entries) = kind { return entries }
        return nil
    }

    var items: [Node]? {
        if case .sequence(let items) = kind { return items }
        return nil
    }

    /// The scalar text, when this is a scalar.
    var scalar: String? {
        if case .scalar(let text, _) = kind { return text }
        return nil
    }

    /// The text of a scalar that YAML reads as null (`~`, `null`, empty) is nil.
    var isNull: Bool {
        if case .scalar(let text, let plain) = kind {
            return plain && (text.isEmpty || text == "~" || text == "null" || text == "Null" || text == "NULL")
        }
        return false
    }

    subscript(key: String) -> Node? {
        entries?.first { $0.key == key }?.value
    }

    func entry(_ key: String) -> Entry? {
        entries?.first { $0.key == key }
    }

    /// The intrinsic function this node calls, when it is a one-key mapping such as `{"Fn::Sub": …}`.
    var intrinsic: (name: String, argument: Node)? {
        guard let entries, entries.count == 1 else { return nil }
        let key = entries[0].key
        guard key == "Ref" || key.hasPrefix("Fn::") || key == "Condition" else { return nil }
        return (key, entries[0].value)
    }

    /// A short name for the node's kind, for messages.
    var kindName: String {
        switch kind {
        case .scalar: return isNull ? "null" : "a scalar"
        case .sequence: return "a list"
        case .mapping: return intrinsic.map { "the intrinsic \($0.name)" } ?? "a map"
        }
    }
}
