import Foundation

/// Whether publishing `$LATEST` would make a new version, and what changed since the latest one.
public struct PublishPlan: Sendable, Equatable {
    /// The `CodeSha256` of the code on disk now.
    public var codeSha256: String
    /// The latest published version, nil before the first publish.
    public var latestVersion: Int?
    public var wouldCreate: Bool
    /// Human descriptions of the differences (`code`, `Environment`, `MemorySize 128 → 256`, …).
    public var changes: [String]

    /// Compares `$LATEST` (its code hash and layer hashes) with the latest version under a publish rule.
    public static func compare(_ definition: FunctionDefinition, codeSha256: String, layers: [LayerReference],
                               latest: FunctionVersion?, rule: LambdaService.PublishRule) -> PublishPlan {
        guard let latest else { return PublishPlan(codeSha256: codeSha256, latestVersion: nil, wouldCreate: true, changes: ["first version"]) }
        let configuration = definition.versionConfiguration(layerHashes: layers)
        let stored = latest.configuration
        var significant: [String] = []
        if latest.codeSha256 != codeSha256 { significant.append("code \(latest.codeSha256.prefix(12))… → \(codeSha256.prefix(12))…") }
        if configuration.environment != stored.environment { significant.append("Environment") }
        if configuration.memorySize != stored.memorySize { significant.append("MemorySize \(stored.memorySize) → \(configuration.memorySize)") }
        if configuration.layers != stored.layers { significant.append("Layers") }
        var other: [String] = []
        if configuration.timeout != stored.timeout { other.append("Timeout \(stored.timeout) → \(configuration.timeout)") }
        if configuration.runtime != stored.runtime { other.append("Runtime \(stored.runtime) → \(configuration.runtime)") }
        if configuration.handler != stored.handler { other.append("Handler \(stored.handler) → \(configuration.handler)") }
        if configuration.extra != stored.extra { other.append("ReservedConcurrentExecutions") }
        let counts = rule == .anyChange || definition.publishesAllProperties ? significant + other : significant
        return PublishPlan(codeSha256: codeSha256, latestVersion: latest.version, wouldCreate: !counts.isEmpty, changes: significant + other)
    }
}
