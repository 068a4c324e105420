import DeploymentEngine
import Foundation
import Rollout
import Runtime
import TemplateModel

/// Reads a template from disk and hands it to the pure loader.
enum TemplateFile {
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
            throw CLIError("\(path) is not a valid template (\(diagnostics.filter { $0.severity == .error }.count) error(s) above); `shift validate \(path)` shows the details")
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
    static func print(_ diagnostics: [Diagnostic]) {
        for diagnostic in diagnostics {
            FileHandle.standardError.write(Data((diagnostic.description + "\n").utf8))
        }
    }
}

extension TemplateFile {
    /// A function's local name from a logical id or name, using the template when it can be read.
    static func functionName(_ reference: String, template: String, options: TemplateOptions) -> String {
        guard FileManager.default.fileExists(atPath: template),
              let loaded = try? TemplateFile.load(template, options: try options.loadOptions()).template else { return reference }
        let (name, qualifier) = (try? LambdaArn.parseFunctionReference(reference)) ?? (reference, nil)
        guard let function = loaded.function(named: name) else { return reference }
        return qualifier.map { "\(function.functionName):\($0)" } ?? function.functionName
    }
}
