import Testing
@testable import TemplateModel

/// Loads template text under a fixed path, so messages can be matched with their locations.
func load(_ yaml: String, overrides: [String: String] = [:], stackName: String? = nil) -> LoadResult {
    TemplateLoader.load(contents: yaml, path: "/app/template.yaml", options: LoadOptions(parameterOverrides: overrides, stackName: stackName))
}

/// The template, failing the test with every diagnostic when it did not load.
func loaded(_ yaml: String, overrides: [String: String] = [:], sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Template? {
    let result = load(yaml, overrides: overrides)
    if result.template == nil {
        Issue.record("did not load: \(result.diagnostics.map(\.description))", sourceLocation: sourceLocation)
    }
    return result.template
}

/// The errors of a template that must not load.
func errors(_ yaml: String, overrides: [String: String] = [:], sourceLocation: Testing.SourceLocation = #_sourceLocation) -> [Diagnostic] {
    let result = load(yaml, overrides: overrides)
    let errors = result.diagnostics.filter { $0.severity == .error }
    if errors.isEmpty { Issue.record("expected errors, got none", sourceLocation: sourceLocation) }
    #expect(result.template == nil, sourceLocation: sourceLocation)
    return errors
}



let header = """
Transform: AWS::Serverless-2016-10-31

"""
