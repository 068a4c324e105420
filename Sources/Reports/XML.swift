/// A small XML tree for the report's XHTML and SVG: attributes keep the order they are given in and text is escaped
/// on output, so that the same data always gives the same bytes and any text (a log line) stays well-formed.
struct XMLNode: Sendable {
    enum Content: Sendable {
        case element(name: String, attributes: [(String, String)], children: [XMLNode])
        case text(String)
    }

    var content: Content

    init(_ name: String, _ attributes: [(String, String)] = [], _ children: [XMLNode] = []) {
        content = .element(name: name, attributes: attributes, children: children)
    }

    /// An element holding text only.
    init(_ name: String, _ attributes: [(String, String)] = [], text: String) {
        self.init(name, attributes, [.text(text)])
    }

    static func text(_ text: String) -> XMLNode {
        XMLNode(content: .text(text))
    }

    private init(content: Content) {
        self.content = content
    }

    /// Elements whose children go on lines of their own (block structure), so that a reader can diff two reports.
    private static let blocks: Set<String> = [
        "html", "head", "body", "section", "table", "thead", "tbody", "tr", "svg", "g", "figure", "ul", "header", "dl",
    ]

    func render(into output: inout String) {
        switch content {
        case .text(let text):
            Self.escape(text, into: &output, quotes: false)
        case let .element(name, attributes, children):
            output += "<" + name
            for (key, value) in attributes {
                output += " " + key + "=\""
                Self.escape(value, into: &output, quotes: true)
                output += "\""
            }
            if children.isEmpty {
                output += "/>"
                return
            }
            output += ">"
            let block = Self.blocks.contains(name)
            for child in children {
                if block { output += "\n" }
                child.render(into: &output)
            }
            if block { output += "\n" }
            output += "</" + name + ">"
        }
    }

    /// `&`, `<`, `>` (and `"` in attributes) as entities; characters XML 1.0 cannot hold (most C0 controls, such as
    /// a terminal's escape codes in a log line) as U+FFFD.
    static func escape(_ text: String, into output: inout String, quotes: Bool) {
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": output += "&amp;"
            case "<": output += "&lt;"
            case ">": output += "&gt;"
            case "\"" where quotes: output += "&quot;"
            case "\n" where quotes: output += "&#10;"
            case "\t", "\n", "\r": output.unicodeScalars.append(scalar)
            case _ where scalar.value < 0x20 || (0xFFFE...0xFFFF).contains(scalar.value):
                output += "\u{FFFD}"
            default: output.unicodeScalars.append(scalar)
            }
        }
    }
}
