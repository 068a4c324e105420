import DeploymentEngine
import Foundation
import Rollout
import Runtime
import TemplateModel

/// Reads a template from disk and hands it to the pure loader.
enum TemplateFile {
    /// The template a command reads when none is named: `template.yaml`, else `template.yml` if only that exists, as SAM CLI looks.
    static var defaultPath: String {
        let fileManager = FileManager.default
        return !fileManager.fileExists(atPath: "template.yaml") && fileManager.fileExists(atPath: "template.yml") ? "template.yml" : "template.yaml"
    }

    static func load(_ path: String, options: LoadOptions) throws -> LoadResult {
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CLIError("cannot read template '\(path)': no such file; pass the path of a SAM template (template.yaml)")
        }
        guard !isDirectory.boolValue else {
            throw CLIError("'\(path)' is a folder; pass the template file inside it (e.g. \(path)/template.yaml)")
        }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw CLIError("cannot read template '\(path)': \(error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            let diagnostic = Diagnostic(.error, at: SourceLocation(file: path, line: 1, column: 1),
                                        "the file is not UTF-8 text (is it a binary file?); pass a YAML or JSON SAM template")
            return LoadResult(template: nil, diagnostics: [diagnostic])
        }
        return TemplateLoader.load(contents: text, path: path, options: options)
    }
}

extension TemplateFile {
    /// The template, or a thrown error after printing its diagnostics (for commands that run it).
    static func loadOrFail(_ path: String, options: LoadOptions, deploymentConfigs: [String: CustomDeploymentConfig] = [:]) throws -> Template {
        let result = try load(path, options: options)
        var diagnostics = result.diagnostics
        if let model = result.partialTemplate { diagnostics += ScheduleCheck.schedules(for: model, adding: deploymentConfigs).diagnostics }
        DiagnosticPrinter.print(diagnostics.filter { $0.severity == .error })
        guard let template = result.template, !diagnostics.hasErrors else {
            let errors = diagnostics.filter { $0.severity == .error }
            throw CLIError("\(path) is not a valid template (\(English.count(errors.count, "error")) above); `\(Shift.name) validate \(path)` shows the details",
                           diagnostics: errors)
        }
        return template
    }
}

extension TemplateFile {
    /// Fails before anything is changed when a code folder `functions` run from is missing, each reported at its line.
    static func requireCodeFolders(of functions: [Function], in template: Template) throws {
        let missing = FunctionMapping.missingFolders(in: template, of: functions)
        guard !missing.isEmpty else { return }
        DiagnosticPrinter.print(missing)
        throw CLIError("\(missing.count) code folder(s) missing (above); nothing was changed")
    }
}

/// Writes diagnostics the way compilers do, on stderr.
enum DiagnosticPrinter {
    /// In the order of the file (stable for one position), as a reader goes through it.
    static func print(_ diagnostics: [Diagnostic]) {
        let ordered = diagnostics.enumerated().sorted { a, b in
            let (x, y) = (a.element.location, b.element.location)
            return (x.file, x.line, x.column, a.offset) < (y.file, y.line, y.column, b.offset)
        }.map(\.element)
        for diagnostic in ordered {
            Terminal.standard.write((diagnostic.description + "\n"), to: .error)
        }
    }
}

extension TemplateFile {
    /// The template when it can be read, for commands that only use it to map logical ids to names.
    static func loadIfPresent(_ path: String, options: TemplateOptions) -> Template? {
        guard FileManager.default.fileExists(atPath: path), let loadOptions = try? options.loadOptions() else { return nil }
        return try? TemplateFile.load(path, options: loadOptions).template
    }

    /// A function's local name from a logical id or name (with its qualifier, if any).
    static func functionName(_ reference: String, in template: Template?) -> String {
        let (name, qualifier) = (try? LambdaArn.parseFunctionReference(reference)) ?? (reference, nil)
        guard let function = template?.function(named: name) else { return reference }
        return qualifier.map { "\(function.functionName):\($0)" } ?? function.functionName
    }

    /// Fails, naming the functions there are, when neither the state folder nor the template knows `name`.
    static func requireKnown(_ name: String, written: String, store: StateStore, template: Template?, templatePath: String) async throws {
        var known = Set(try await store.listFunctions())
        known.formUnion(template?.functions.map(\.functionName) ?? [])
        guard !known.contains(name) else { return }
        let suggestion = NameSuggestion.closest(to: name, in: known.sorted()).map { "did you mean \($0)? " } ?? ""
        let list = known.isEmpty ? "none has run or been deployed yet" : "known: \(known.sorted().joined(separator: ", "))"
        throw CLIError("no function '\(written)' in \(template == nil ? "the state folder" : "\(templatePath) or the state folder"); \(suggestion)\(list)")
    }
}
