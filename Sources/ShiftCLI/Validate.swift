import ArgumentParser
import DeploymentEngine
import Foundation
import Rollout
import TemplateModel

/// `shift validate`: reads a template and reports what it holds or what is wrong with it.
struct Validate: AsyncParsableCommand, JSONOutputCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a SAM template and show the functions, layers and alarms it defines.",
        discussion: "Exit status: 0 valid (warnings allowed), 1 invalid. Errors go to stderr as path:line:column: error: message.")

    @Argument(help: "The SAM template, YAML or JSON (template.yml when there is no template.yaml).")
    var template: String = TemplateFile.defaultPath

    @OptionGroup var templateOptions: TemplateOptions
    @OptionGroup var deploymentConfigOptions: DeploymentConfigOptions

    @Option(name: .long, help: "text or json (one object on stdout).")
    var output: OutputFormat = .text

    static let jsonStyle = JSONOutput.Style.report

    func run() async throws {
        let result = try TemplateFile.load(template, options: try templateOptions.loadOptions())
        var diagnostics = result.diagnostics
        var schedules: [String: TrafficSchedule] = [:]
        if let model = result.partialTemplate {
            let checked = ScheduleCheck.schedules(for: model, adding: try deploymentConfigOptions.configs())
            schedules = checked.schedules
            diagnostics += checked.diagnostics
            // Templates are often checked without their code (in CI, or before a build), so a missing folder is only a warning here.
            diagnostics += FunctionMapping.missingFolders(in: model).map { Diagnostic(.warning, at: $0.location, $0.message) }
        }
        DiagnosticPrinter.print(diagnostics)
        let valid = result.template != nil && !diagnostics.hasErrors
        switch output {
        case .json:
            let object = ValidateReport.json(template: valid ? result.template : nil, schedules: schedules, diagnostics: diagnostics)
            print(object)
        case .text:
            if valid, let model = result.template {
                print(ValidateReport.text(model, schedules: schedules, diagnostics: diagnostics))
            } else {
                let errors = diagnostics.filter { $0.severity == .error }.count
                Terminal.standard.write("\(template): invalid, \(English.count(errors, "error"))\n", to: .error)
            }
        }
        if !valid { throw ExitCode(1) }
    }
}
