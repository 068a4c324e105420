import ArgumentParser
import DeploymentEngine
import Foundation
import Rollout
import TemplateModel

/// The options every command that reads a template shares.
struct TemplateOptions: ParsableArguments {
    @Option(name: .long, parsing: .upToNextOption,
            help: ArgumentHelp("Template parameter values: K=V … (or SAM's ParameterKey=K,ParameterValue=V).", valueName: "K=V"))
    var parameterOverrides: [String] = []

    @Option(name: .long, help: "The stack name (AWS::StackName); default: the template's folder name.")
    var stackName: String?

    @Option(name: .long, help: "The region (AWS::Region) the template resolves with.")
    var region: String = "us-east-1"

    func validate() throws {
        _ = try parsedOverrides()
    }

    /// `K=V` pairs, also in SAM's `ParameterKey=K,ParameterValue=V` form, and several in one argument separated by spaces.
    func parsedOverrides() throws -> [String: String] {
        var result: [String: String] = [:]
        for argument in parameterOverrides {
            for item in Self.split(argument) {
                if item.hasPrefix("ParameterKey=") {
                    let parts = item.split(separator: ",", maxSplits: 1).map(String.init)
                    guard parts.count == 2, parts[1].hasPrefix("ParameterValue=") else {
                        throw ValidationError("--parameter-overrides: '\(item)' should read ParameterKey=NAME,ParameterValue=VALUE")
                    }
                    result[String(parts[0].dropFirst("ParameterKey=".count))] = String(parts[1].dropFirst("ParameterValue=".count))
                } else if let equals = item.firstIndex(of: "="), equals != item.startIndex {
                    result[String(item[..<equals])] = String(item[item.index(after: equals)...])
                } else {
                    throw ValidationError("--parameter-overrides: '\(item)' should read NAME=VALUE")
                }
            }
        }
        return result
    }

    /// Splits `A=1 B="x y"` on spaces outside quotes, as SAM CLI accepts one string of several pairs.
    static func split(_ argument: String) -> [String] {
        var items: [String] = []
        var current = ""
        var quote: Character?
        for character in argument {
            if let open = quote {
                if character == open { quote = nil } else { current.append(character) }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == " " {
                if !current.isEmpty { items.append(current); current = "" }
            } else {
                current.append(character)
            }
        }
        if !current.isEmpty { items.append(current) }
        return items
    }

    func loadOptions() throws -> LoadOptions {
        LoadOptions(parameterOverrides: try parsedOverrides(), stackName: stackName, region: region)
    }
}

/// `--deployment-config NAME=SHAPE`: the shape of a deployment config the template names but does not define
/// (one that exists in the AWS account), shared by `validate` and `deploy`.
struct DeploymentConfigOptions: ParsableArguments {
    @Option(name: .customLong("deployment-config"),
            help: ArgumentHelp("A deployment config the template uses but does not define, with its shape: NAME=SHAPE, e.g. "
                               + "TestDeploymentConfiguration=Canary20Percent7Minutes (repeatable).", valueName: "NAME=SHAPE"))
    var entries: [String] = []

    func validate() throws {
        _ = try configs()
    }

    func configs() throws -> [String: CustomDeploymentConfig] {
        var result: [String: CustomDeploymentConfig] = [:]
        for entry in entries {
            do throws(RolloutError) {
                let (name, config) = try ScheduleCheck.parseDeploymentConfig(entry)
                if result[name] != nil { throw RolloutError(.invalidFlag, "--deployment-config gives '\(name)' twice; keep one") }
                result[name] = config
            } catch {
                throw ValidationError(error.message)
            }
        }
        return result
    }
}

/// Output format shared by the commands.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable, OutputFormatChoice {
    case text
    case json

    var isJSON: Bool { self == .json }
}

/// `deploy`'s output format: the shared ones, and Markdown for CI summaries and pull-request comments.
enum DeployOutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable, OutputFormatChoice {
    case text
    case json
    case markdown

    var isJSON: Bool { self == .json }
}

/// An `--output` choice, so that the error path can tell whether a command's failures are written as JSON.
protocol OutputFormatChoice {
    var isJSON: Bool { get }
}

/// A failure the CLI reports as one message and exit code 1; a template's errors come with their locations.
struct CLIError: Error, CustomStringConvertible {
    var message: String
    var diagnostics: [Diagnostic]
    var description: String { message }
    init(_ message: String, diagnostics: [Diagnostic] = []) {
        self.message = message
        self.diagnostics = diagnostics
    }
}
