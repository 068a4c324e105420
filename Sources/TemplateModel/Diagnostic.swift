/// A position in a template file: 1-based line and column.
public struct SourceLocation: Sendable, Hashable, Codable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// One finding about a template: what is wrong, where, and how to fix it.
public struct Diagnostic: Sendable, Hashable, Codable, CustomStringConvertible {
    /// How bad a finding is: errors make a template unusable, warnings do not.
    public enum Severity: String, Sendable, Hashable, Codable {
        case error
        case warning
    }

    public var severity: Severity
    public var location: SourceLocation
    public var message: String

    public init(_ severity: Severity, at location: SourceLocation, _ message: String) {
        self.severity = severity
        self.location = location
        self.message = message
    }

    /// The compiler-style line `path:line:column: error: message`.
    public var description: String { "\(location): \(severity.rawValue): \(message)" }
}

extension [Diagnostic] {
    /// True when any diagnostic is an error.
    public var hasErrors: Bool { contains { $0.severity == .error } }
}

/// Collects diagnostics while a template is read.
struct DiagnosticSink {
    /// The file the positions of `Node`s are in.
    let path: String
    private(set) var items: [Diagnostic] = []
    /// A value resolved twice (typed, then into the full property map) reports its problems once.
    private var seen: Set<String> = []
    /// Every report made, repeated ones included: unchanged across a resolution means it reported nothing.
    private(set) var reports = 0

    init(path: String) { self.path = path }

    func location(_ position: Position) -> SourceLocation { SourceLocation(file: path, position) }

    mutating func error(_ message: String, at position: Position) { error(message, at: location(position)) }

    mutating func warning(_ message: String, at position: Position) { warning(message, at: location(position)) }

    mutating func error(_ message: String, at location: SourceLocation) {
        add(Diagnostic(.error, at: location, message))
    }

    mutating func warning(_ message: String, at location: SourceLocation) {
        add(Diagnostic(.warning, at: location, message))
    }

    /// Marks a problem in a property shift does not use; the same problem where it is used is an error.
    static let lenientSuffix = " (not used locally, so only a warning)"

    private mutating func add(_ diagnostic: Diagnostic) {
        // One problem, one line: a value resolved both strictly and leniently keeps its error only.
        var message = diagnostic.message
        if message.hasSuffix(Self.lenientSuffix) { message.removeLast(Self.lenientSuffix.count) }
        let key = "\(diagnostic.location)|\(message)"
        guard seen.insert(key).inserted else {
            if diagnostic.severity == .error, let index = items.firstIndex(where: {
                $0.severity == .warning && $0.location == diagnostic.location && $0.message.hasPrefix(message) }) {
                items[index] = diagnostic
            }
            return
        }
        items.append(diagnostic)
    }

    var hasErrors: Bool { items.hasErrors }
}
