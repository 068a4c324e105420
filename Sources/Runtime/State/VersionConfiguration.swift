import Foundation

/// Everything about a function that a published version freezes besides its code.
///
/// Two configurations are "the same" for the no-op publish rule when they are `==`.
public struct VersionConfiguration: Codable, Sendable, Equatable {
    public var runtime: String
    public var handler: String
    /// MB, 128–10240.
    public var memorySize: Int
    /// Seconds, 1–900.
    public var timeout: Int
    public var environment: [String: String]
    /// Layers in merge order, each frozen by content hash.
    public var layers: [LayerReference]
    public var architectures: [String]
    /// MB of `/tmp`, 512–10240.
    public var ephemeralStorage: Int
    /// Anything else the caller wants frozen with the version (SnapStart, DLQ target, …), as strings.
    public var extra: [String: String]

    public init(
        runtime: String, handler: String, memorySize: Int = 128, timeout: Int = 3,
        environment: [String: String] = [:], layers: [LayerReference] = [], architectures: [String] = ["x86_64"],
        ephemeralStorage: Int = 512, extra: [String: String] = [:]
    ) {
        self.runtime = runtime
        self.handler = handler
        self.memorySize = memorySize
        self.timeout = timeout
        self.environment = environment
        self.layers = layers
        self.architectures = architectures
        self.ephemeralStorage = ephemeralStorage
        self.extra = extra
    }
}

/// A layer as a version sees it: its name and the snapshot of its content (see `StateStore.snapshotCode`).
public struct LayerReference: Codable, Sendable, Equatable {
    public var name: String
    /// Base64 SHA-256 of the layer's folder serialization; the snapshot lives in `StateStore.codeDirectory(for:)`.
    public var codeSha256: String

    public init(name: String, codeSha256: String) {
        self.name = name
        self.codeSha256 = codeSha256
    }
}

/// A published, immutable version of a function.
public struct FunctionVersion: Codable, Sendable, Equatable {
    public var functionName: String
    /// 1, 2, … per function, never reused.
    public var version: Int
    /// Base64 SHA-256 of the code snapshot (see `CodeStore` for what is hashed).
    public var codeSha256: String
    /// The read-only snapshot of the code: run the version from here, never from the source folder.
    public var codeDirectory: URL
    public var configuration: VersionConfiguration
    public var description: String
    /// Wall-clock epoch ms of publication.
    public var publishedAt: Int64

    /// `"1"`, `"2"`, … as AWS spells versions in APIs and the `ExecutedVersion` dimension.
    public var versionString: String { String(version) }
}

/// Where a function's code comes from when publishing or snapshotting.
public enum CodeSource: Sendable, Equatable {
    /// A folder (`CodeUri`); snapshotted recursively.
    case directory(URL)
    /// `InlineCode`: one file named `fileName` holding `contents`.
    case inline(fileName: String, contents: String)
}

/// The result of snapshotting code into the content-addressed store.
public struct CodeSnapshot: Sendable, Equatable {
    /// Base64 SHA-256 (`CodeSha256` as AWS renders it).
    public var sha256: String
    /// Hex SHA-256: the snapshot's folder name under `<state>/code/`.
    public var sha256Hex: String
    public var directory: URL
}
