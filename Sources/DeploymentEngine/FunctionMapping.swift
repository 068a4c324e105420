import Foundation
import Runtime
import TemplateModel

/// Maps a template's function to what the runtime runs: absolute code folders, merged layers, defaults.
public struct FunctionMapping {
    let template: Template
    /// The folder relative paths of the template are resolved against.
    let templateDirectory: URL
    /// Where inline code is written so it can run as a folder.
    let scratchDirectory: URL

    public init(template: Template, stateDirectory: URL) {
        self.template = template
        self.templateDirectory = URL(fileURLWithPath: template.path).standardizedFileURL.deletingLastPathComponent()
        self.scratchDirectory = stateDirectory.appendingPathComponent("inline")
    }

    /// The runtime configuration of `function` at `version`, with `environment` added (endpoints, overrides).
    public func configuration(for function: Function, version: String = "$LATEST", environment extra: [String: String] = [:]) throws -> FunctionConfiguration {
        guard function.packageType == "Zip" else {
            throw DeploymentError(.notDeployable, "\(function.logicalId) is a container image function; shift runs zip functions only (Runtime + Handler + CodeUri)")
        }
        guard let runtime = function.runtime else {
            throw DeploymentError(.notDeployable, "\(function.logicalId) has no Runtime; add e.g. Runtime: python3.12 to it in \(template.path)")
        }
        let codeDirectory = try codeFolder(of: function, runtime: runtime)
        var layers: [String] = []
        for layer in function.layers ?? [] {
            switch layer {
            case .local(let logicalId):
                guard let definition = template.layer(logicalId: logicalId) else { continue }
                guard case .directory(let path) = definition.content else {
                    throw DeploymentError(.notDeployable, "layer \(logicalId) of \(function.logicalId) has its content in S3 (\(definition.contentUri ?? "?")), which cannot be fetched locally; point ContentUri at a local folder")
                }
                layers.append(try existingFolder(path, what: "\(Self.contentKey(of: definition)) of layer \(logicalId)", at: definition.contentLocation))
            case .arn(let arn):
                throw DeploymentError(.notDeployable, "\(function.logicalId) uses the published layer \(arn), which cannot be fetched locally; add the layer to the template as an AWS::Serverless::LayerVersion with a local ContentUri")
            }
        }
        var environment = function.environment ?? [:]
        environment.merge(extra) { $1 }
        return FunctionConfiguration(
            functionName: function.functionName, version: version, runtime: runtime, handler: function.handler,
            codeDirectory: codeDirectory, layers: layers, memorySize: function.memorySize ?? 128, timeout: function.timeout ?? 3,
            environment: environment, reservedConcurrency: function.reservedConcurrentExecutions,
            region: template.pseudoParameters.region, accountId: template.pseudoParameters.accountId)
    }

    private func codeFolder(of function: Function, runtime: String) throws -> String {
        switch function.code {
        case .directory(let path):
            return try existingFolder(path, what: "\(Self.codeKey(of: function)) of \(function.logicalId)", at: function.codeLocation)
        case .inline(let code):
            return try writeInline(code, function: function, runtime: runtime)
        case .s3(let uri):
            throw DeploymentError(.notDeployable, "the code of \(function.logicalId) is in S3 (\(uri)), which cannot be fetched locally; point CodeUri at a local folder")
        case .image(let image):
            throw DeploymentError(.notDeployable, "\(function.logicalId) is the container image \(image); shift runs zip functions only")
        }
    }

    private func existingFolder(_ path: String, what: String, at location: SourceLocation) throws -> String {
        let (resolved, problem) = Self.check(folder: path, what: what, in: templateDirectory)
        if let problem { throw DeploymentError(.notDeployable, "\(location): \(problem)") }
        return resolved
    }

    /// The folder `path` names (relative to the template's folder unless absolute), and why it cannot be run from, if it cannot.
    private static func check(folder path: String, what: String, in templateDirectory: URL) -> (resolved: String, problem: String?) {
        let url = path.hasPrefix("/") ? URL(fileURLWithPath: path) : templateDirectory.appendingPathComponent(path)
        let resolved = url.standardizedFileURL.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: resolved, isDirectory: &isDirectory) else {
            return (resolved, "\(what) is '\(path)', but \(resolved) does not exist; fix the path (it is relative to the template's folder)")
        }
        guard isDirectory.boolValue else {
            return (resolved, "\(what) is '\(path)', a file; shift runs code from a folder, so point it at the unpacked folder")
        }
        return (resolved, nil)
    }

    private static func codeKey(of function: Function) -> String {
        function.resourceType == "AWS::Lambda::Function" ? "Code" : "CodeUri"
    }

    private static func contentKey(of layer: Layer) -> String {
        layer.resourceType == "AWS::Lambda::LayerVersion" ? "Content" : "ContentUri"
    }

    /// The local code folders that cannot be run from, each an error at the line naming it: those of `functions`
    /// and the template layers they use, or of every function and layer when `functions` is nil.
    public static func missingFolders(in template: Template, of functions: [Function]? = nil) -> [Diagnostic] {
        let directory = URL(fileURLWithPath: template.path).standardizedFileURL.deletingLastPathComponent()
        var diagnostics: [Diagnostic] = []
        var layerIds = functions == nil ? template.layers.map(\.logicalId) : []
        for function in functions ?? template.functions {
            if case .directory(let path) = function.code,
               let problem = check(folder: path, what: "\(codeKey(of: function)) of \(function.logicalId)", in: directory).problem {
                diagnostics.append(Diagnostic(.error, at: function.codeLocation, problem))
            }
            guard functions != nil else { continue }
            for case .local(let id) in function.layers ?? [] where !layerIds.contains(id) { layerIds.append(id) }
        }
        for id in layerIds {
            guard let layer = template.layer(logicalId: id), case .directory(let path)? = layer.content,
                  let problem = check(folder: path, what: "\(contentKey(of: layer)) of layer \(id)", in: directory).problem else { continue }
            diagnostics.append(Diagnostic(.error, at: layer.contentLocation, problem))
        }
        return diagnostics
    }

    /// Inline code becomes `<handler module>.py|.js` in a folder named by its content, so it is written once.
    private func writeInline(_ code: String, function: Function, runtime: String) throws -> String {
        let module = function.handler.map { String($0.split(separator: ".").dropLast().joined(separator: ".")) } ?? "index"
        let fileExtension = runtime.hasPrefix("python") ? "py" : (runtime.hasPrefix("nodejs") ? "js" : "sh")
        // FNV-1a: stable across runs (unlike hashValue), so the same code reuses its folder.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in (module + "\u{0}" + code).utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let folder = scratchDirectory.appendingPathComponent("\(function.logicalId)-\(String(hash, radix: 16))")
        let file = folder.appendingPathComponent("\(module.isEmpty ? "index" : module).\(fileExtension)")
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try code.write(to: file, atomically: true, encoding: .utf8)
        } catch {
            throw DeploymentError(.notDeployable, "could not write the inline code of \(function.logicalId) to \(file.path): \(error.localizedDescription)")
        }
        return folder.path
    }
}
