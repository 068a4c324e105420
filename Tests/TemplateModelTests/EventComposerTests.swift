import Foundation
import Testing
@testable import TemplateModel

/// The fast reader (libyaml events straight to `Node`) must give exactly what the Yams path gives, or step aside.
@Suite("Event composer: same nodes as the Yams path")
struct EventComposerTests {
    static func yams(_ text: String, path: String = "/app/template.yaml") -> Node? {
        var sink = DiagnosticSink(path: path)
        return YAMLReader.readWithYams(text, path: path, diagnostics: &sink)
    }

    static func same(_ a: Node, _ b: Node) -> Bool {
        guard a.location == b.location else { return false }
        switch (a.kind, b.kind) {
        case (.scalar(let x, let p), .scalar(let y, let q)): return x == y && p == q
        case (.sequence(let x), .sequence(let y)): return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
        case (.mapping(let x), .mapping(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.keyLocation == $1.keyLocation && same($0.value, $1.value) }
        default: return false
        }
    }

    static func expectSame(_ text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        let fast = EventComposer.compose(text, path: "/app/template.yaml")
        let reference = yams(text)
        #expect(fast != nil, "the fast path stepped aside", sourceLocation: sourceLocation)
        if let fast, let reference {
            #expect(same(fast, reference), sourceLocation: sourceLocation)
        }
    }

    @Test func corpusTemplatesGiveTheSameNodes() throws {
        for url in Corpus.templates {
            let text = try String(contentsOf: url, encoding: .utf8)
            let fast = EventComposer.compose(text, path: url.path)
            let reference = Self.yams(text, path: url.path)
            if let fast {
                #expect(reference.map { Self.same(fast, $0) } == true, "\(url.lastPathComponent)")
            }
        }
    }

    @Test func tagsStylesAnchorsAndAliases() {
        Self.expectSame("""
        a: !Ref X
        b: !GetAtt R.Arn
        c: !Sub ["${A}", {A: !Ref B}]
        d: 'quoted'
        e: "double"
        f: |
          block
        g: !!str 12
        h: ! plain
        i: &anchor {k: [1, 2, !If [C, x, y]]}
        j: *anchor
        &key k: v
        l: *key
        m: ~
        n: [a, {b: c}, [d]]
        o: !Join [",", [a, b]]
        p: !!map {x: 1}
        q: &s !Ref Y
        r: *s
        &n2 12: x
        s: *n2
        &t !Ref T: y
        u: *t
        &w "quoted": z
        v: *w
        """)
    }

    @Test func unusualInputStepsAside() {
        for text in ["a: 1\na: 2\n", "? [a]\n: 1\n", "a: *nope\n", "a: 1\n---\nb: 2\n", "*x : 1\n", "a: [\n", "", "# only\n"] {
            #expect(EventComposer.compose(text, path: "/app/template.yaml") == nil, "\(text)")
        }
        var many = "a: &a [" + Array(repeating: "x", count: 1000).joined(separator: ",") + "]\n"
        many += "b: &b [" + Array(repeating: "*a", count: 1000).joined(separator: ",") + "]\n"
        many += "c: [*b, *b]\n"
        #expect(EventComposer.compose(many, path: "/app/template.yaml") == nil)
        #expect(errors(many).first?.message.contains("alias bomb") == true)
    }
}
