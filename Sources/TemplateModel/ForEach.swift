/// `Fn::ForEach` of the `AWS::LanguageExtensions` transform: a section entry
/// `Fn::ForEach::Name: [Identifier, Collection, {OutputKeyTemplate: Body}]` becomes one entry per item,
/// with `${Identifier}` (the item) and `&{Identifier}` (the item without non-alphanumerics) substituted
/// in keys and strings, and `{Ref: Identifier}` replaced by the item. Loops may nest.
enum ForEach {
    static let prefix = "Fn::ForEach::"

    /// Expands every loop among `entries`; `collection` turns the loop's collection node into strings.
    static func expand(_ entries: [Node.Entry], collection: (Node) -> [String]?, sink: inout DiagnosticSink, depth: Int = 0) -> [Node.Entry] {
        guard entries.contains(where: { $0.key.hasPrefix(prefix) }) else { return entries }
        var result: [Node.Entry] = []
        for entry in entries {
            guard entry.key.hasPrefix(prefix) else {
                result.append(entry)
                continue
            }
            guard depth < 5 else {
                sink.error("\(entry.key) nests more than 5 loops deep, which AWS::LanguageExtensions does not allow", at: entry.keyLocation)
                continue
            }
            guard let parts = entry.value.items, parts.count == 3, let identifier = parts[0].scalar, !identifier.isEmpty,
                  let outputs = parts[2].entries else {
                sink.error("\(entry.key) must be [Identifier, [values…], {OutputKey${Identifier}: value}]", at: entry.value.location)
                continue
            }
            guard let items = collection(parts[1]) else {
                sink.error("the collection of \(entry.key) must be a list of strings, or a !Ref to a CommaDelimitedList parameter", at: parts[1].location)
                continue
            }
            var expanded: [Node.Entry] = []
            for item in items {
                for output in outputs {
                    let key = substitute(output.key, identifier: identifier, item: item)
                    expanded.append(Node.Entry(key: key, keyLocation: output.keyLocation,
                                               value: substitute(output.value, identifier: identifier, item: item)))
                }
            }
            result += expand(expanded, collection: collection, sink: &sink, depth: depth + 1)
        }
        return result
    }

    private static func substitute(_ text: String, identifier: String, item: String) -> String {
        guard text.contains("{") else { return text }
        let alphanumeric = String(item.filter { $0.isASCII && ($0.isLetter || $0.isNumber) })
        return text.replacingOccurrences(of: "${\(identifier)}", with: item).replacingOccurrences(of: "&{\(identifier)}", with: alphanumeric)
    }

    private static func substitute(_ node: Node, identifier: String, item: String) -> Node {
        switch node.kind {
        case .scalar(let text, let plain):
            return Node(.scalar(substitute(text, identifier: identifier, item: item), plain: plain), at: node.location)
        case .sequence(let items):
            return Node(.sequence(items.map { substitute($0, identifier: identifier, item: item) }), at: node.location)
        case .mapping(let entries):
            if entries.count == 1, entries[0].key == "Ref", entries[0].value.scalar == identifier {
                return Node(.scalar(item, plain: false), at: node.location)
            }
            return Node(.mapping(entries.map { entry in
                Node.Entry(key: substitute(entry.key, identifier: identifier, item: item), keyLocation: entry.keyLocation,
                           value: substitute(entry.value, identifier: identifier, item: item))
            }), at: node.location)
        }
    }
}
