/// Everything the local runtime needs to run one version of one Lambda function.
///
/// An inline-code function is just a `codeDirectory` the caller wrote. All paths are absolute.
public struct FunctionConfiguration: Sendable, Hashable {
    /// The function's local name (`FunctionName`, else the logical id).
    public var functionName: String
    /// `$LATEST` or a published version number such as `"1"`.
    public var version: String
    /// The SAM `Runtime`: `python3.12`, `nodejs20.x`, `provided.al2023`, …
    public var runtime: String
    /// The SAM `Handler` (`module.function`); `nil` for `provided*` runtimes that ignore it.
    public var handler: String?
    /// Absolute path of the function's code folder (`LAMBDA_TASK_ROOT`).
    public var codeDirectory: String
    /// Absolute paths of the layers' folders, in the template's order (later layers win).
    public var layers: [String]
    /// `MemorySize` in MB.
    public var memorySize: Int
    /// `Timeout` in seconds.
    public var timeout: Int
    /// `Environment.Variables`.
    public var environment: [String: String]
    /// `ReservedConcurrentExecutions`, if any: the template's value, which `LambdaService.register` makes the
    /// function's reservation. `LocalRuntime` counts reservations per function (`setReservedConcurrency`), not
    /// per configuration, as Lambda does.
    public var reservedConcurrency: Int?
    public var region: String
    public var accountId: String

    public init(
        functionName: String,
        version: String = "$LATEST",
        runtime: String,
        handler: String? = nil,
        codeDirectory: String,
        layers: [String] = [],
        memorySize: Int = 128,
        timeout: Int = 3,
        environment: [String: String] = [:],
        reservedConcurrency: Int? = nil,
        region: String = "us-east-1",
        accountId: String = "123456789012"
    ) {
        self.functionName = functionName
        self.version = version
        self.runtime = runtime
        self.handler = handler
        self.codeDirectory = codeDirectory
        self.layers = layers
        self.memorySize = memorySize
        self.timeout = timeout
        self.environment = environment
        self.reservedConcurrency = reservedConcurrency
        self.region = region
        self.accountId = accountId
    }

    /// `arn:aws:lambda:<region>:<account>:function:<name>`.
    public var functionArn: String { "arn:aws:lambda:\(region):\(accountId):function:\(functionName)" }

    /// The ARN qualified with the version, as Lambda reports it for a version invocation.
    public var qualifiedArn: String { version == "$LATEST" ? functionArn : "\(functionArn):\(version)" }

    /// `/aws/lambda/<function>`.
    public var logGroupName: String { "/aws/lambda/\(functionName)" }

    /// The language family the runtime name belongs to.
    public var runtimeFamily: RuntimeFamily { RuntimeFamily(runtime) }

    /// Which environments may serve this configuration: one set per function name and version.
    var environmentKey: EnvironmentKey { EnvironmentKey(functionName: functionName, version: version) }
}

/// The language family of a Lambda runtime identifier.
public enum RuntimeFamily: Sendable, Hashable {
    /// `python3.x`: shift's bundled Python bootstrap on the machine's `python3`.
    case python
    /// `nodejs*`: shift's bundled Node bootstrap on the machine's `node`.
    case node
    /// `provided*`: the function's (or a layer's) own `bootstrap` executable.
    case provided
    /// Anything else (java, dotnet, ruby …): not supported locally.
    case unsupported

    init(_ runtime: String) {
        if runtime.hasPrefix("python") { self = .python }
        else if runtime.hasPrefix("nodejs") { self = .node }
        else if runtime.hasPrefix("provided") { self = .provided }
        else { self = .unsupported }
    }
}

/// Environments are kept per function name and version, so versions never share one.
struct EnvironmentKey: Hashable, Sendable, CustomStringConvertible {
    var functionName: String
    var version: String
    var description: String { "\(functionName):\(version)" }
}
