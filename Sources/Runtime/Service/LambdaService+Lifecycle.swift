import Foundation

/// `$LATEST` as the Lambda API shows it: its configuration, code hash and revision.
public struct LatestFunction: Sendable {
    public var definition: FunctionDefinition
    /// The zip's hash after UpdateFunctionCode, else the code folder's (`CodeStore`'s serialization).
    public var codeSha256: String
    public var revision: LatestRevision
}

/// What UpdateFunctionConfiguration changes; nil keeps the current value.
public struct ConfigurationUpdate: Sendable {
    public var environment: [String: String]?
    public var timeout: Int?
    public var memorySize: Int?
    /// Layer ARNs (`arn:aws:lambda:…:layer:NAME:N`), replacing the current list.
    public var layers: [String]?
    public var description: String?
    public var handler: String?

    public init(environment: [String: String]? = nil, timeout: Int? = nil, memorySize: Int? = nil, layers: [String]? = nil,
                description: String? = nil, handler: String? = nil) {
        self.environment = environment
        self.timeout = timeout
        self.memorySize = memorySize
        self.layers = layers
        self.description = description
        self.handler = handler
    }
}

/// The Lambda lifecycle API: `$LATEST`'s revision, code and configuration updates, deletion.
///
/// Updates change `$LATEST` of this service (this `shift serve`) only: the template's code folder is never
/// written, and the next `shift serve` or `shift deploy` starts again from the template. Published versions
/// snapshot what `$LATEST` was, so they persist either way.
extension LambdaService {
    /// `$LATEST` with its code hash and revision (recording a change of either since the last look).
    public func latest(_ name: String) async throws -> LatestFunction {
        let definition = try requireDefinition(name)
        let layers = try definition.latest.layers.map { path in
            LayerReference(name: URL(fileURLWithPath: path).lastPathComponent, codeSha256: try store.codeHash(.directory(URL(fileURLWithPath: path))))
        }
        let codeSha256 = try latestCodeSha256(definition)
        let configuration = try StateStore.encode(definition.versionConfiguration(layerHashes: layers))
        let digest = SHA256.hex(SHA256.hash(Array("\(codeSha256)\0\(configuration)\0\(definition.description)".utf8)))
        let revision = try await store.latestRevision(function: name, digest: digest)
        return LatestFunction(definition: definition, codeSha256: codeSha256, revision: revision)
    }

    /// `CodeSha256` of `$LATEST`: the uploaded zip's, else the code folder's.
    func latestCodeSha256(_ definition: FunctionDefinition) throws -> String {
        if let uploaded = definition.uploadedCodeSha256 { return uploaded }
        return try store.codeHash(.directory(URL(fileURLWithPath: definition.latest.codeDirectory)))
    }

    /// Fails with 412 unless `revisionId` (when given) is `$LATEST`'s current one.
    public func requireLatestRevision(_ name: String, _ revisionId: String?) async throws {
        guard let revisionId else { return }
        let current = try await latest(name).revision.revisionId
        if revisionId != current {
            throw StateError(.preconditionFailed, "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
        }
    }

    /// UpdateFunctionCode with `ZipFile`: unpacks it under the state directory (`uploads/<function>/<sha256-hex>/`)
    /// as `$LATEST`'s code. `CodeSha256` becomes the base64 SHA-256 of the zip, as on AWS.
    public func updateCode(_ name: String, zip: [UInt8], revisionId: String?) async throws -> LatestFunction {
        _ = try requireDefinition(name)
        try await requireLatestRevision(name, revisionId)
        let digest = SHA256.hash(zip)
        let folder = store.directory.appendingPathComponent("uploads/\(name)/\(SHA256.hex(digest))", isDirectory: true)
        try await ZipArchive.extract(zip, into: folder)
        // Read again: the unpacking awaited, and another update may have changed the definition meanwhile.
        var definition = try requireDefinition(name)
        definition.latest.codeDirectory = folder.path
        definition.uploadedCodeSha256 = Data(digest).base64EncodedString()
        definitions[name] = definition
        return try await latest(name)
    }

    /// UpdateFunctionConfiguration: Environment, Timeout, MemorySize, Layers, Description, Handler.
    public func updateConfiguration(_ name: String, _ update: ConfigurationUpdate, revisionId: String?) async throws -> LatestFunction {
        var definition = try requireDefinition(name)
        try await requireLatestRevision(name, revisionId)
        if let timeout = update.timeout {
            guard (1...900).contains(timeout) else {
                throw StateError(.validation, "1 validation error detected: Value '\(timeout)' at 'timeout' failed to satisfy constraint: Member must have value \(timeout < 1 ? "greater than or equal to 1" : "less than or equal to 900")")
            }
            definition.latest.timeout = timeout
        }
        if let memory = update.memorySize {
            guard (128...10_240).contains(memory) else {
                throw StateError(.validation, "1 validation error detected: Value '\(memory)' at 'memorySize' failed to satisfy constraint: Member must have value \(memory < 128 ? "greater than or equal to 128" : "less than or equal to 10240")")
            }
            definition.latest.memorySize = memory
        }
        if let environment = update.environment {
            let size = environment.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
            guard size <= 4096 else {
                throw StateError(.invalidParameterValue, "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: \(size) bytes of names and values; keep them under 4096.")
            }
            definition.latest.environment = environment
        }
        if let arns = update.layers {
            definition.latest.layers = try arns.map(layerFolder)
        }
        if let description = update.description { definition.description = description }
        if let handler = update.handler { definition.latest.handler = handler }
        definitions[name] = definition
        return try await latest(name)
    }

    /// The folder of a layer ARN among the layers some served function uses (`…:layer:NAME:N`, matched by NAME).
    private func layerFolder(_ arn: String) throws -> String {
        let parts = arn.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let known = Set(definitions.values.flatMap(\.latest.layers))
        let name = parts.count >= 7 && parts[5] == "layer" ? parts[6] : arn
        guard let folder = known.sorted().first(where: { URL(fileURLWithPath: $0).lastPathComponent == name }) else {
            let names = known.map { URL(fileURLWithPath: $0).lastPathComponent }.sorted()
            throw StateError(.invalidParameterValue, "Layer version \(arn) does not exist. Layers served here: \(names.isEmpty ? "none" : names.joined(separator: ", ")); use the ARN get_function shows for one of them.")
        }
        return folder
    }

    /// DeleteFunction: a published version (409 while an alias routes to it), or the whole function.
    public func deleteFunction(_ name: String, qualifier: String?) async throws {
        _ = try requireDefinition(name)
        if let qualifier {
            if qualifier == "$LATEST" {
                throw StateError(.invalidParameterValue, "$LATEST version cannot be deleted without deleting the function.")
            }
            guard let number = Int(qualifier) else {
                throw StateError(.invalidParameterValue, "Deletion of aliases is not supported through DeleteFunction; call DeleteAlias for \(name):\(qualifier).")
            }
            try await store.deleteVersion(function: name, version: number)
            await runtime.shutdownEnvironments(of: name, version: qualifier)
            return
        }
        definitions[name] = nil
        try await store.deleteFunction(name)
        await runtime.shutdownEnvironments(of: name)
    }

    func requireDefinition(_ name: String) throws -> FunctionDefinition {
        guard let definition = definitions[name] else {
            throw StateError(.resourceNotFound, "Function not found: \(store.options.arn.function(name))")
        }
        return definition
    }
}
