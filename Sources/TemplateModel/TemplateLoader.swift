import Foundation

/// What a caller can set when a template is read: parameter values and pseudo parameters.
public struct LoadOptions: Sendable {
    public var parameterOverrides: [String: String]
    public var stackName: String?
    public var region: String
    public var accountId: String
    /// Version numbers that `Fn.Version` references resolve to, by function logical id.
    public var versionNumbers: [String: String]

    public init(parameterOverrides: [String: String] = [:], stackName: String? = nil, region: String = "us-east-1",
                accountId: String = "123456789012", versionNumbers: [String: String] = [:]) {
        self.parameterOverrides = parameterOverrides
        self.stackName = stackName
        self.region = region
        self.accountId = accountId
        self.versionNumbers = versionNumbers
    }
}

/// The outcome of reading a template: the model when there were no errors, and every diagnostic.
public struct LoadResult: Sendable {
    public var template: Template?
    public var diagnostics: [Diagnostic]
    /// What could be built despite errors, so callers can add their own checks to one report.
    public var partialTemplate: Template?

    public init(template: Template?, diagnostics: [Diagnostic], partialTemplate: Template? = nil) {
        self.template = template
        self.diagnostics = diagnostics
        self.partialTemplate = partialTemplate ?? template
    }
}

/// Reads SAM templates. Pure: it takes the file's contents and the path to report, and never opens files.
public enum TemplateLoader {
    static let topLevelSections = ["AWSTemplateFormatVersion", "Transform", "Description", "Metadata", "Parameters", "Mappings",
                                   "Conditions", "Globals", "Resources", "Outputs", "Rules"]

    public static func load(contents: String, path: String, options: LoadOptions = LoadOptions()) -> LoadResult {
        var sink = DiagnosticSink(path: path)
        guard let root = YAMLReader.read(contents, path: path, diagnostics: &sink) else {
            return LoadResult(template: nil, diagnostics: sink.items)
        }
        guard let sections = root.entries else {
            sink.error("a template must be a map of sections (Resources, Parameters, …), but this document is \(root.kindName)", at: root.location)
            return LoadResult(template: nil, diagnostics: sink.items)
        }
        for entry in sections where !topLevelSections.contains(entry.key) {
            sink.warning("unknown top-level section '\(entry.key)'\(suggestion(for: entry.key, among: topLevelSections)); it is ignored", at: entry.keyLocation)
        }
        var builder = TemplateBuilder(root: root, path: path, options: options, sink: sink)
        let template = builder.build()
        let diagnostics = builder.diagnostics
        return LoadResult(template: diagnostics.hasErrors ? nil : template, diagnostics: diagnostics, partialTemplate: template)
    }

    /// The stack name SAM CLI would use: the template's folder name, made a valid stack name.
    public static func defaultStackName(forTemplateAt path: String) -> String {
        let folder = URL(fileURLWithPath: path).standardizedFileURL.deletingLastPathComponent().lastPathComponent
        let cleaned = String(folder.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "-" })
        return cleaned.isEmpty || cleaned == "-" ? "shift-local" : cleaned
    }
}
