/// A parsed CloudWatch metric math expression, evaluated one period at a time.
///
/// Supported: numbers, query ids, `+ - * / ^`, unary minus, parentheses, comparisons
/// (`< <= > >= == !=`), `AND`/`&&`, `OR`/`||`, and the functions `IF(cond, a[, b])`,
/// `FILL(x, value)`, `ABS(x)`. Anything else is rejected with a message saying what is supported.
///
/// Missing data: an operation with a missing operand has no value (CloudWatch only combines series at
/// timestamps present in both); `FILL` replaces a missing value. Decision: division by zero has no
/// value either, so it counts as missing data (guard it with `IF(m2 > 0, …)` or `FILL`).
public struct MetricExpression: Sendable, Equatable, Hashable, CustomStringConvertible {
    indirect enum Node: Sendable, Equatable, Hashable {
        case number(Double)
        case id(String)
        case negate(Node)
        case binary(BinaryOperator, Node, Node)
        case ifThen(Node, Node, Node?)
        case fill(Node, Node)
        case abs(Node)
    }

    enum BinaryOperator: String, Sendable, Hashable {
        case add = "+", subtract = "-", multiply = "*", divide = "/", power = "^"
        case less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">=", equal = "==", notEqual = "!="
        case and = "AND", or = "OR"
    }

    let root: Node
    /// The text as written.
    public let text: String

    public static let supportedSyntax = "numbers, query ids, + - * / ^, parentheses, comparisons < <= > >= == !=, "
        + "AND (&&), OR (||), IF(condition, value[, otherwise]), FILL(x, value), ABS(x)"

    /// Parses `text`; throws a message naming the expression, the position and what is supported.
    public init(_ text: String) throws(RolloutError) {
        var parser = Parser(text: text)
        self.root = try parser.parseAll()
        self.text = text
    }

    public var description: String { text }

    /// The query ids the expression refers to.
    public var referencedIds: Set<String> {
        var ids: Set<String> = []
        func walk(_ n: Node) {
            switch n {
            case .number: break
            case let .id(id): ids.insert(id)
            case let .negate(a), let .abs(a): walk(a)
            case let .binary(_, a, b), let .fill(a, b): walk(a); walk(b)
            case let .ifThen(c, a, b): walk(c); walk(a); if let b { walk(b) }
            }
        }
        walk(root)
        return ids
    }

    /// The value for one period, given the values of the ids in that period (nil = missing).
    public func evaluate(_ value: (String) -> Double?) -> Double? {
        Self.eval(root, value)
    }

    private static func eval(_ node: Node, _ value: (String) -> Double?) -> Double? {
        switch node {
        case let .number(n): return n
        case let .id(id): return value(id)
        case let .negate(a): return eval(a, value).map { -$0 }
        case let .abs(a): return eval(a, value).map { Swift.abs($0) }
        case let .fill(a, b): return eval(a, value) ?? eval(b, value)
        case let .ifThen(c, a, b):
            guard let condition = eval(c, value) else { return nil }
            if condition != 0 { return eval(a, value) }
            return b.flatMap { eval($0, value) }
        case let .binary(op, a, b):
            guard let x = eval(a, value), let y = eval(b, value) else { return nil }
            switch op {
            case .add: return x + y
            case .subtract: return x - y
            case .multiply: return x * y
            case .divide: return y == 0 ? nil : x / y
            case .power: return pow(x, y)
            case .less: return x < y ? 1 : 0
            case .lessOrEqual: return x <= y ? 1 : 0
            case .greater: return x > y ? 1 : 0
            case .greaterOrEqual: return x >= y ? 1 : 0
            case .equal: return x == y ? 1 : 0
            case .notEqual: return x != y ? 1 : 0
            case .and: return (x != 0 && y != 0) ? 1 : 0
            case .or: return (x != 0 || y != 0) ? 1 : 0
            }
        }
    }

    /// Integer powers by repeated multiplication, others via exp/log-free fallback (no Foundation).
    private static func pow(_ x: Double, _ y: Double) -> Double? {
        guard y == y.rounded(), Swift.abs(y) <= 64 else { return nil }
        var result = 1.0
        for _ in 0..<Int(Swift.abs(y)) { result *= x }
        return y < 0 ? (result == 0 ? nil : 1 / result) : result
    }

    private enum Token: Equatable {
        case number(Double), word(String), symbol(String), end
    }

    private struct Parser {
        let text: String
        var tokens: [(token: Token, offset: Int)] = []
        var index = 0

        init(text: String) { self.text = text }

        mutating func parseAll() throws(RolloutError) -> Node {
            try tokenize()
            let node = try parseOr()
            guard case .end = tokens[index].token else { throw failure("unexpected \(describe(tokens[index].token))") }
            return node
        }

        func failure(_ what: String) -> RolloutError {
            let offset = tokens.isEmpty ? 0 : tokens[Swift.min(index, tokens.count - 1)].offset
            return RolloutError(.invalidExpression,
                "cannot parse metric math expression '\(text)': \(what) at character \(offset + 1); supported: \(MetricExpression.supportedSyntax)")
        }

        func describe(_ token: Token) -> String {
            switch token {
            case let .number(n): "number \(n)"
            case let .word(w): "'\(w)'"
            case let .symbol(s): "'\(s)'"
            case .end: "end of expression"
            }
        }

        mutating func tokenize() throws(RolloutError) {
            let chars = Array(text)
            var i = 0
            while i < chars.count {
                let c = chars[i]
                if c == " " || c == "\t" || c == "\n" { i += 1; continue }
                if c.isASCII && (c.isNumber || c == ".") {
                    let start = i
                    while i < chars.count, chars[i].isASCII, chars[i].isNumber || chars[i] == "." { i += 1 }
                    if i < chars.count, chars[i] == "e" || chars[i] == "E" {
                        var j = i + 1
                        if j < chars.count, chars[j] == "+" || chars[j] == "-" { j += 1 }
                        if j < chars.count, chars[j].isASCII, chars[j].isNumber {
                            i = j
                            while i < chars.count, chars[i].isASCII, chars[i].isNumber { i += 1 }
                        }
                    }
                    guard let n = Double(String(chars[start..<i])) else {
                        index = tokens.count
                        tokens.append((.end, start))
                        throw failure("malformed number '\(String(chars[start..<i]))'")
                    }
                    tokens.append((.number(n), start))
                    continue
                }
                if c.isASCII && (c.isLetter || c == "_") {
                    let start = i
                    while i < chars.count, chars[i].isASCII, chars[i].isLetter || chars[i].isNumber || chars[i] == "_" { i += 1 }
                    tokens.append((.word(String(chars[start..<i])), start))
                    continue
                }
                let two = i + 1 < chars.count ? String(chars[i...i + 1]) : ""
                if ["<=", ">=", "==", "!=", "&&", "||"].contains(two) {
                    tokens.append((.symbol(two), i))
                    i += 2
                    continue
                }
                if "+-*/^()<>,".contains(c) {
                    tokens.append((.symbol(String(c)), i))
                    i += 1
                    continue
                }
                index = tokens.count
                tokens.append((.end, i))
                throw failure("unexpected character '\(c)'")
            }
            tokens.append((.end, chars.count))
        }

        var current: Token { tokens[index].token }

        mutating func accept(_ symbol: String) -> Bool {
            if current == .symbol(symbol) { index += 1; return true }
            return false
        }

        mutating func acceptWord(_ word: String) -> Bool {
            if case let .word(w) = current, w.uppercased() == word { index += 1; return true }
            return false
        }

        mutating func expect(_ symbol: String) throws(RolloutError) {
            guard accept(symbol) else { throw failure("expected '\(symbol)' but found \(describe(current))") }
        }

        mutating func parseOr() throws(RolloutError) -> Node {
            var node = try parseAnd()
            while accept("||") || acceptWord("OR") { node = .binary(.or, node, try parseAnd()) }
            return node
        }

        mutating func parseAnd() throws(RolloutError) -> Node {
            var node = try parseComparison()
            while accept("&&") || acceptWord("AND") { node = .binary(.and, node, try parseComparison()) }
            return node
        }

        mutating func parseComparison() throws(RolloutError) -> Node {
            let node = try parseAdditive()
            for op in [BinaryOperator.lessOrEqual, .greaterOrEqual, .equal, .notEqual, .less, .greater] where accept(op.rawValue) {
                return .binary(op, node, try parseAdditive())
            }
            return node
        }

        mutating func parseAdditive() throws(RolloutError) -> Node {
            var node = try parseMultiplicative()
            while true {
                if accept("+") { node = .binary(.add, node, try parseMultiplicative()) }
                else if accept("-") { node = .binary(.subtract, node, try parseMultiplicative()) }
                else { return node }
            }
        }

        mutating func parseMultiplicative() throws(RolloutError) -> Node {
            var node = try parseUnary()
            while true {
                if accept("*") { node = .binary(.multiply, node, try parseUnary()) }
                else if accept("/") { node = .binary(.divide, node, try parseUnary()) }
                else { return node }
            }
        }

        mutating func parseUnary() throws(RolloutError) -> Node {
            if accept("-") { return .negate(try parseUnary()) }
            if accept("+") { return try parseUnary() }
            let base = try parsePrimary()
            if accept("^") { return .binary(.power, base, try parseUnary()) }
            return base
        }

        mutating func parsePrimary() throws(RolloutError) -> Node {
            switch current {
            case let .number(n):
                index += 1
                return .number(n)
            case .symbol("("):
                index += 1
                let node = try parseOr()
                try expect(")")
                return node
            case let .word(word):
                index += 1
                guard accept("(") else {
                    guard word.first!.isLowercase else {
                        index -= 1
                        if ["REPEAT", "LINEAR"].contains(word.uppercased()) {
                            throw failure("FILL(x, \(word.uppercased())) is not supported, only FILL(x, value)")
                        }
                        throw failure("'\(word)' is not a query id (ids start with a lowercase letter)")
                    }
                    return .id(word)
                }
                let args = try parseArguments()
                switch (word.uppercased(), args.count) {
                case ("IF", 2): return .ifThen(args[0], args[1], nil)
                case ("IF", 3): return .ifThen(args[0], args[1], args[2])
                case ("FILL", 2): return .fill(args[0], args[1])
                case ("ABS", 1): return .abs(args[0])
                case ("IF", _):
                    throw failure("IF takes 2 or 3 arguments, not \(args.count)")
                case ("FILL", _):
                    throw failure("FILL takes 2 arguments, not \(args.count)")
                case ("ABS", _):
                    throw failure("ABS takes 1 argument, not \(args.count)")
                default:
                    throw failure("unsupported function \(word)")
                }
            default:
                throw failure("unexpected \(describe(current))")
            }
        }

        mutating func parseArguments() throws(RolloutError) -> [Node] {
            var args: [Node] = []
            if accept(")") { return args }
            repeat { args.append(try parseOr()) } while accept(",")
            try expect(")")
            return args
        }
    }
}

extension MetricExpression: Codable {
    /// Decodes the expression text and parses it again.
    public init(from decoder: any Decoder) throws {
        try self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }
}
