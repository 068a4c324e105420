import Foundation

/// A function as the service knows it: how to run `$LATEST`, and how to publish versions of it.
public struct FunctionDefinition: Sendable {
    /// `$LATEST`: the code folder on disk now, version "$LATEST".
    public var latest: FunctionConfiguration
    /// Which configuration fields make a new version (SAM's AutoPublishAlias rule: code, Environment,
    /// MemorySize; every field when `AutoPublishAliasAllProperties` is true).
    public var publishesAllProperties: Bool
    /// Asynchronous invocation settings (`EventInvokeConfig`).
    public var asyncConfig: AsyncInvokeConfig
    public var description: String
    /// The `CodeSha256` of the zip UpdateFunctionCode unpacked into `latest.codeDirectory`; nil for the template's folder.
    public var uploadedCodeSha256: String?

    public init(latest: FunctionConfiguration, publishesAllProperties: Bool = false,
                asyncConfig: AsyncInvokeConfig = AsyncInvokeConfig(), description: String = "") {
        self.latest = latest
        self.publishesAllProperties = publishesAllProperties
        self.asyncConfig = asyncConfig
        self.description = description
    }

    public var name: String { latest.functionName }
}

/// `EventInvokeConfig`: retries and destinations of asynchronous invocations.
public struct AsyncInvokeConfig: Sendable, Equatable {
    /// Where a destination record goes.
    public enum Destination: Sendable, Equatable {
        /// Another local function (by name): invoked asynchronously with the record.
        case function(String)
        /// A queue, topic, bus or bucket ARN: no such service locally, so the record is kept in the state dir.
        case other(String)
    }

    public var maximumRetryAttempts: Int
    public var maximumEventAgeInSeconds: Int
    public var onSuccess: Destination?
    public var onFailure: Destination?
    /// `DeadLetterQueue.TargetArn`: the event alone goes there after the last failure (kept in the state dir).
    public var deadLetterTarget: String?

    public init(maximumRetryAttempts: Int = 2, maximumEventAgeInSeconds: Int = 21_600, onSuccess: Destination? = nil, onFailure: Destination? = nil,
                deadLetterTarget: String? = nil) {
        self.maximumRetryAttempts = maximumRetryAttempts
        self.maximumEventAgeInSeconds = maximumEventAgeInSeconds
        self.onSuccess = onSuccess
        self.onFailure = onFailure
        self.deadLetterTarget = deadLetterTarget
    }
}

extension FunctionDefinition {
    /// The stored configuration of a version published from `latest`.
    func versionConfiguration(layerHashes: [LayerReference]) -> VersionConfiguration {
        VersionConfiguration(
            runtime: latest.runtime, handler: latest.handler ?? "", memorySize: latest.memorySize, timeout: latest.timeout,
            environment: latest.environment, layers: layerHashes, architectures: [], ephemeralStorage: 512,
            extra: latest.reservedConcurrency.map { ["ReservedConcurrentExecutions": String($0)] } ?? [:])
    }
}
