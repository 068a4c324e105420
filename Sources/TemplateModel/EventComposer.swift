import CYaml

/// Composes `Node`s straight from libyaml's events, without Yams' intermediate tree.
///
/// It handles the ordinary case only: whenever the input is unusual — a YAML error, a duplicate or non-scalar key,
/// an alias used as a key or to an unknown anchor, more than one document, an empty stream, or more nodes than the
/// alias budget allows — it returns nil and the caller reads the text through Yams, which reports those cases.
/// So the result, when there is one, is exactly what `YAMLReader.Converter` makes of Yams' tree.
enum EventComposer {
    static func compose(_ text: String, path: String) -> Node? {
        var text = text
        text.makeContiguousUTF8()
        return text.utf8.withContiguousStorageIfAvailable { bytes -> Node? in
            guard let base = bytes.baseAddress, bytes.count > 0 else { return nil }
            var composer = Composer(path: path)
            return composer.run(base, count: bytes.count)
        } ?? nil
    }

    private struct Frame {
        var isMapping: Bool
        var items: [Node] = []
        var entries: [Node.Entry] = []
        var keys: Set<String>?
        var pendingKey: String?
        var pendingKeyLocation: Position?
        var tag: String
        var location: Position
        var anchor: String?
        /// Nodes this collection expands to, itself included (keys do not count, as in `Converter`).
        var count = 1
    }

    private struct Composer {
        let path: String
        var stack: [Frame] = []
        var anchors: [String: (node: Node, count: Int)] = [:]
        var root: Node?

        init(path: String) { self.path = path }

        mutating func run(_ base: UnsafePointer<UInt8>, count: Int) -> Node? {
            var parser = yaml_parser_t()
            guard yaml_parser_initialize(&parser) == 1 else { return nil }
            defer { yaml_parser_delete(&parser) }
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, base, count)
            var event = yaml_event_t()
            var documents = 0
            while true {
                guard yaml_parser_parse(&parser, &event) == 1 else { return nil }
                let ok: Bool
                switch event.type {
                case YAML_STREAM_START_EVENT, YAML_DOCUMENT_END_EVENT:
                    ok = true
                case YAML_DOCUMENT_START_EVENT:
                    documents += 1
                    ok = documents == 1
                case YAML_STREAM_END_EVENT:
                    yaml_event_delete(&event)
                    return root
                case YAML_SCALAR_EVENT:
                    ok = scalar(event)
                case YAML_ALIAS_EVENT:
                    ok = alias(event)
                case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                    ok = start(event)
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    ok = end()
                default:
                    ok = false
                }
                yaml_event_delete(&event)
                if !ok { return nil }
            }
        }

        func location(_ event: yaml_event_t) -> Position {
            Position(line: event.start_mark.line + 1, column: event.start_mark.column + 1)
        }

        /// True when the next node of the innermost mapping is a key.
        var expectsKey: Bool {
            guard let top = stack.last else { return false }
            return top.isMapping && top.pendingKey == nil
        }

        mutating func scalar(_ event: yaml_event_t) -> Bool {
            guard let text = Self.text(event.data.scalar.value, count: event.data.scalar.length) else { return false }
            let here = location(event)
            let anchor = event.data.scalar.anchor
            if expectsKey {
                // An anchored key can be aliased as a value later. Yams' duplicate-key check resolves the implicit tag of
                // every key (its `Tag` is a shared class), so such an alias reads as tagged, not plain.
                if let anchor { anchors[String(cString: anchor)] = (Self.scalarNode(text, event, at: here, asKey: true), 1) }
                return key(text, at: here)
            }
            let node = Self.scalarNode(text, event, at: here)
            if let anchor { anchors[String(cString: anchor)] = (node, 1) }
            return attach(node, count: 1)
        }

        static func scalarNode(_ text: String, _ event: yaml_event_t, at here: Position, asKey: Bool = false) -> Node {
            let data = event.data.scalar
            let tag = data.quoted_implicit == 1 ? "tag:yaml.org,2002:str" : (data.tag.map { String(cString: $0) } ?? "")
            let node = Node(.scalar(text, plain: !asKey && data.style == YAML_PLAIN_SCALAR_STYLE && tag.isEmpty), at: here)
            return tag.isEmpty ? node : wrap(node, tag: tag)
        }

        /// The long form of a short-form intrinsic tag (`!Ref x` → `{Ref: x}`), as `Converter` makes it.
        static func wrap(_ converted: Node, tag: String) -> Node {
            guard let longName = YAMLReader.shortFormTags[tag] else { return converted }
            var argument = converted
            if longName == "Fn::GetAtt", let text = converted.scalar {
                argument = Node(.scalar(text, plain: false), at: converted.location)
            }
            return Node(.mapping([Node.Entry(key: longName, keyLocation: converted.location, value: argument)]), at: converted.location)
        }

        /// The scalar's text; nil for one starting with a byte order mark, which Foundation's decoding (used by Yams) may drop.
        static func text(_ pointer: UnsafeMutablePointer<UInt8>?, count: Int) -> String? {
            guard let pointer, count > 0 else { return "" }
            if count >= 3, pointer[0] == 0xEF, pointer[1] == 0xBB, pointer[2] == 0xBF { return nil }
            return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
        }

        mutating func key(_ text: String, at here: Position) -> Bool {
            let index = stack.count - 1
            // A repeated key is an error Yams reports (with its own wording and place).
            if stack[index].keys != nil {
                guard stack[index].keys!.insert(text).inserted else { return false }
            } else {
                if stack[index].entries.contains(where: { $0.key == text }) { return false }
                if stack[index].entries.count >= 8 {
                    stack[index].keys = Set(stack[index].entries.map(\.key))
                    stack[index].keys!.insert(text)
                }
            }
            stack[index].pendingKey = text
            stack[index].pendingKeyLocation = here
            return true
        }

        mutating func alias(_ event: yaml_event_t) -> Bool {
            guard !expectsKey, let anchor = event.data.alias.anchor, let target = anchors[String(cString: anchor)] else { return false }
            return attach(target.node, count: target.count)
        }

        mutating func start(_ event: yaml_event_t) -> Bool {
            guard !expectsKey else { return false }
            let isMapping = event.type == YAML_MAPPING_START_EVENT
            let data = event.data.sequence_start
            let implicit = isMapping ? event.data.mapping_start.implicit : data.implicit
            let tag = implicit != 0 ? "" : (data.tag.map { String(cString: $0) } ?? "")
            let anchor = data.anchor.map { String(cString: $0) }
            stack.append(Frame(isMapping: isMapping, tag: tag, location: location(event), anchor: anchor))
            if isMapping { stack[stack.count - 1].entries.reserveCapacity(4) }
            return true
        }

        mutating func end() -> Bool {
            guard let frame = stack.popLast() else { return false }
            var node = Node(frame.isMapping ? .mapping(frame.entries) : .sequence(frame.items), at: frame.location)
            if !frame.tag.isEmpty { node = Self.wrap(node, tag: frame.tag) }
            if let anchor = frame.anchor { anchors[anchor] = (node, frame.count) }
            return attach(node, count: frame.count)
        }

        mutating func attach(_ node: Node, count: Int) -> Bool {
            guard count <= YAMLReader.maximumNodes else { return false }
            guard !stack.isEmpty else {
                root = node
                return true
            }
            let index = stack.count - 1
            if stack[index].isMapping {
                guard let key = stack[index].pendingKey, let keyLocation = stack[index].pendingKeyLocation else { return false }
                stack[index].entries.append(Node.Entry(key: key, keyLocation: keyLocation, value: node))
                stack[index].pendingKey = nil
            } else {
                stack[index].items.append(node)
            }
            stack[index].count += count
            return stack[index].count <= YAMLReader.maximumNodes
        }
    }
}
