/// The Lambda runtime identifiers a zip function may name, in one table.
///
/// Source: the Lambda developer guide's "Lambda runtimes" page (supported and deprecated tables), checked in
/// February 2026; a runtime whose deprecation date had passed by then is in `deprecated`.
public enum LambdaRuntime {
    /// Identifiers Lambda creates and updates functions with, newest of each language first.
    public static let supported: [String] = [
        "python3.14", "python3.13", "python3.12", "python3.11", "python3.10",
        "nodejs24.x", "nodejs22.x", "nodejs20.x",
        "java25", "java21", "java17", "java11", "java8.al2",
        "dotnet10", "dotnet8",
        "ruby3.4", "ruby3.3", "ruby3.2",
        "provided.al2023", "provided.al2",
    ]

    /// Deprecated identifiers, each with the supported one to move to. Lambda still runs such functions but
    /// blocks creating, then updating, them, so a template naming one is valid but should change.
    public static let deprecated: [String: String] = [
        "python3.9": "python3.14", "python3.8": "python3.14", "python3.7": "python3.14", "python3.6": "python3.14",
        "python2.7": "python3.14",
        "nodejs18.x": "nodejs24.x", "nodejs16.x": "nodejs24.x", "nodejs14.x": "nodejs24.x", "nodejs12.x": "nodejs24.x",
        "nodejs10.x": "nodejs24.x", "nodejs8.10": "nodejs24.x", "nodejs6.10": "nodejs24.x", "nodejs4.3": "nodejs24.x",
        "nodejs4.3-edge": "nodejs24.x", "nodejs": "nodejs24.x",
        "java8": "java25",
        "dotnet7": "dotnet10", "dotnet6": "dotnet10", "dotnetcore3.1": "dotnet10", "dotnetcore2.1": "dotnet10",
        "dotnetcore2.0": "dotnet10", "dotnetcore1.0": "dotnet10",
        "ruby2.7": "ruby3.4", "ruby2.5": "ruby3.4",
        "go1.x": "provided.al2023", "provided": "provided.al2023",
    ]

    /// What is wrong with `runtime`, if anything: an unknown name is an error, a deprecated one a warning.
    static func problem(with runtime: String, of id: String) -> (severity: Diagnostic.Severity, message: String)? {
        if supported.contains(runtime) { return nil }
        if let successor = deprecated[runtime] {
            return (.warning, "Runtime '\(runtime)' of '\(id)' is deprecated: Lambda blocks creating, then updating, functions that use it; move to \(successor)")
        }
        if let near = NameSuggestion.closest(to: runtime, in: supported + deprecated.keys.sorted()) {
            return (.error, "Runtime '\(runtime)' of '\(id)' is not a Lambda runtime; did you mean '\(near)'?")
        }
        return (.error, "Runtime '\(runtime)' of '\(id)' is not a Lambda runtime; use one of \(supported.joined(separator: ", "))")
    }
}
