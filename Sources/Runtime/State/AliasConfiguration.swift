import Foundation

/// An alias's traffic split: at most one extra version and the share of invocations it gets.
public struct RoutingConfig: Codable, Sendable, Equatable {
    /// `{"2": 0.1}`: version → weight in [0, 1); the alias's primary version gets the rest.
    public var additionalVersionWeights: [String: Double]

    public init(additionalVersionWeights: [String: Double] = [:]) {
        self.additionalVersionWeights = additionalVersionWeights
    }

    enum CodingKeys: String, CodingKey {
        case additionalVersionWeights = "AdditionalVersionWeights"
    }
}

/// An alias as the Lambda API returns it (`AliasConfiguration`); encodes to AWS's JSON field names.
public struct AliasConfiguration: Codable, Sendable, Equatable {
    /// `arn:aws:lambda:<region>:<account>:function:<fn>:<alias>`.
    public var aliasArn: String
    public var name: String
    /// The primary version (`"3"`, or `"$LATEST"` when not weighted).
    public var functionVersion: String
    public var description: String
    /// Nil when the alias points at one version only.
    public var routingConfig: RoutingConfig?
    /// Changes on every update; pass it back to update conditionally.
    public var revisionId: String

    enum CodingKeys: String, CodingKey {
        case aliasArn = "AliasArn"
        case name = "Name"
        case functionVersion = "FunctionVersion"
        case description = "Description"
        case routingConfig = "RoutingConfig"
        case revisionId = "RevisionId"
    }

    /// The extra version and its weight, if the alias is weighted.
    public var additionalVersion: (version: String, weight: Double)? {
        guard let (version, weight) = routingConfig?.additionalVersionWeights.first else { return nil }
        return (version, weight)
    }

    /// Every version an invocation of the alias can run: the primary, then the extra one.
    public var routedVersions: [String] {
        [functionVersion] + (additionalVersion.map { [$0.version] } ?? [])
    }

    /// The alias as AWS's JSON (`GetAlias`/`CreateAlias` response body), keys sorted.
    public func jsonData() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)) ?? Data()
    }
}

/// AWS's validation rules for alias names, versions and routing, with AWS's error wording.
///
/// Wording of `ValidationException`s follows AWS's standard "1 validation error detected: …" form.
/// Wording known from AWS: "Alias not found", "Alias already exists", "Function not found", the stale
/// RevisionId message, "$LATEST is not supported for an alias pointing to more than 1 version".
/// Guessed (AWS's exact text unknown): the messages for a weight of exactly 1, a primary repeated in
/// the routing config, more than one extra version, and non-numeric routing keys.
public enum AliasRules {
    static let maxNameLength = 128

    /// `(?!^[0-9]+$)([a-zA-Z0-9-_]+)`, at most 128 characters.
    public static func validateName(_ name: String) throws {
        if name.count > maxNameLength || name.isEmpty {
            let bound = name.isEmpty ? "greater than or equal to 1" : "less than or equal to 128"
            throw StateError(.validation, "1 validation error detected: Value '\(name)' at 'name' failed to satisfy constraint: Member must have length \(bound)")
        }
        let allowed = name.unicodeScalars.allSatisfy { ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || $0 == "-" || $0 == "_" }
        let allDigits = name.unicodeScalars.allSatisfy { ("0"..."9").contains($0) }
        if !allowed || allDigits {
            throw StateError(.validation, "1 validation error detected: Value '\(name)' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)")
        }
    }

    /// `$LATEST` or a version number.
    public static func validateVersion(_ version: String, field: String = "functionVersion") throws {
        if version == "$LATEST" { return }
        if version.isEmpty || version.count > 1024 || !version.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) }) || Int(version) == nil {
            throw StateError(.validation, "1 validation error detected: Value '\(version)' at '\(field)' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\$LATEST|[0-9]+)")
        }
    }

    /// The rules that need no stored state: shapes, ranges, `$LATEST`, primary ≠ extra.
    public static func validateRouting(primary: String, routing: RoutingConfig?) throws {
        guard let weights = routing?.additionalVersionWeights, !weights.isEmpty else { return }
        let rendered = "{" + weights.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") + "}"
        for (version, weight) in weights {
            if version.isEmpty || !version.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) }) || Int(version) == nil {
                throw StateError(.validation, "1 validation error detected: Value '\(rendered)' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [0-9]+]")
            }
            if !(weight >= 0 && weight <= 1) {
                throw StateError(.validation, "1 validation error detected: Value '\(rendered)' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0]")
            }
            if weight == 1 {
                throw StateError(.invalidParameterValue, "The weight of version \(version) in AdditionalVersionWeights must be less than 1.0. To send all traffic to version \(version), set FunctionVersion to \(version) and remove the RoutingConfig.")
            }
        }
        if weights.count > 1 {
            throw StateError(.invalidParameterValue, "Number of items in AdditionalVersionWeights is \(weights.count), but an alias can route to at most 1 additional version. Keep one extra version.")
        }
        if primary == "$LATEST" {
            throw StateError(.invalidParameterValue, "$LATEST is not supported for an alias pointing to more than 1 version")
        }
        if weights[primary] != nil {
            throw StateError(.invalidParameterValue, "Version \(primary) is both the alias's FunctionVersion and in AdditionalVersionWeights. The additional version must differ from the primary version.")
        }
    }
}
