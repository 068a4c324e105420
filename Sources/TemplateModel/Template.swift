/// A SAM template after Globals, Conditions, Parameters and intrinsic functions were applied.
public struct Template: Sendable {
    /// The path the template was read from, as the caller gave it.
    public var path: String
    public var formatVersion: String?
    public var transforms: [String]
    public var description: String?
    public var parameters: [Parameter]
    public var functions: [Function]
    public var layers: [Layer]
    public var alarms: [Alarm]
    public var deploymentConfigs: [DeploymentConfig]
    /// Resources that `shift` does not run (tables, queues, APIs…), kept so references to them resolve.
    public var otherResources: [OtherResource]
    public var outputs: [String: TemplateValue]
    /// The pseudo parameters the template was resolved with.
    public var pseudoParameters: PseudoParameters

    /// The function with this logical id or function name.
    public func function(named name: String) -> Function? {
        functions.first { $0.logicalId == name } ?? functions.first { $0.functionName == name }
    }

    /// The custom deployment configuration with this name or logical id.
    public func deploymentConfig(named name: String) -> DeploymentConfig? {
        deploymentConfigs.first { $0.name == name } ?? deploymentConfigs.first { $0.logicalId == name }
    }

    public func layer(logicalId: String) -> Layer? {
        layers.first { $0.logicalId == logicalId }
    }

    public func alarm(named name: String) -> Alarm? {
        alarms.first { $0.logicalId == name } ?? alarms.first { $0.alarmName == name }
    }
}

/// Values for `AWS::Region`, `AWS::AccountId` and the other pseudo parameters.
public struct PseudoParameters: Sendable, Hashable {
    public var region: String
    public var accountId: String
    public var partition: String
    public var stackName: String

    public init(region: String = "us-east-1", accountId: String = "123456789012", partition: String = "aws", stackName: String) {
        self.region = region
        self.accountId = accountId
        self.partition = partition
        self.stackName = stackName
    }
}

/// A template parameter and the value it took.
public struct Parameter: Sendable, Hashable {
    public var name: String
    public var type: String
    public var value: TemplateValue
    public var location: SourceLocation
}

/// How a function's code is given.
public enum CodeSource: Sendable, Hashable {
    /// A local folder (or zip/jar file), relative to the template's folder unless absolute.
    case directory(String)
    /// `InlineCode` (SAM) or `Code.ZipFile` (CloudFormation).
    case inline(String)
    /// Code in S3: valid, but it cannot run locally.
    case s3(String)
    /// A container image: valid, but it cannot run locally.
    case image(String)
}

/// A layer a function uses: one of this template's, or an external ARN.
public enum LayerReference: Sendable, Hashable {
    case local(logicalId: String)
    case arn(String)
}

/// `AWS::Serverless::Function` or `AWS::Lambda::Function`.
public struct Function: Sendable {
    public var logicalId: String
    public var resourceType: String
    public var location: SourceLocation
    /// The name the function runs under: `FunctionName` when set, else the logical id.
    public var functionName: String
    /// `FunctionName` as the template gives it, nil when absent.
    public var explicitFunctionName: String?
    public var packageType: String
    public var runtime: String?
    public var handler: String?
    /// `CodeUri` as resolved, or nil when absent (then the code is the template's folder).
    public var codeUri: String?
    public var code: CodeSource
    /// Where the code is named (`CodeUri`, `Code`), or the resource when the template's folder is the code.
    public var codeLocation: SourceLocation
    public var memorySize: Int?
    public var timeout: Int?
    /// `Environment.Variables`, values stringified as Lambda does.
    public var environment: [String: String]?
    public var layers: [LayerReference]?
    public var architectures: [String]?
    public var autoPublishAlias: String?
    public var autoPublishAliasAllProperties: Bool
    public var deploymentPreference: DeploymentPreference?
    public var reservedConcurrentExecutions: Int?
    public var provisionedConcurrentExecutions: Int?
    public var ephemeralStorageMB: Int?
    public var eventInvokeConfig: EventInvokeConfig?
    public var description: String?
    public var versionDescription: String?
    /// Every property after Globals and intrinsics, for what the typed fields do not cover.
    public var properties: [String: TemplateValue]
    /// The HTTP requests that invoke it: `Api` and `HttpApi` events, its `FunctionUrlConfig`, load balancer target groups.
    public var httpEvents: [HttpEvent] = []
}

/// One way HTTP requests reach a function, as the template declares it.
public struct HttpEvent: Sendable, Hashable {
    /// Who turns the request into an event.
    public enum Source: Sendable, Hashable {
        /// `Type: Api`: an API Gateway REST API (payload format 1.0).
        case restApi
        /// `Type: HttpApi`: an API Gateway HTTP API, with its `PayloadFormatVersion` (`2.0` unless set).
        case httpApi(payloadFormatVersion: String)
        /// `FunctionUrlConfig` (payload format 2.0), with its `AuthType`.
        case functionUrl(authType: String)
        /// An `AWS::ElasticLoadBalancingV2::TargetGroup` of `TargetType: lambda` targeting the function.
        case loadBalancer(multiValueHeaders: Bool)
    }

    /// The event's key under `Events`, `FunctionUrlConfig`, or the target group's logical id.
    public var name: String
    public var source: Source
    /// The API's logical id (`ServerlessRestApi`, `ServerlessHttpApi` or the `RestApiId`/`ApiId` target); the target group's for a load balancer.
    public var api: String
    /// The upper-cased method; nil for `ANY` (and for function URLs and load balancers, which take every method).
    public var method: String?
    /// `/users/{id}`; nil for every path (an HTTP API's `$default` route, function URLs, load balancers).
    public var path: String?
    /// The stage: `Prod` for the implicit REST API, `$default` for the implicit HTTP API, else the API's `StageName`.
    public var stage: String
    /// REST APIs: the API's `BinaryMediaTypes` (`~1` already read as `/`).
    public var binaryMediaTypes: [String]
    /// The stage's variables (`Variables` of a REST API, `StageVariables` of an HTTP API).
    public var stageVariables: [String: String]
    /// Load balancers: the `path-pattern` values of the listener rules forwarding to the group (empty: every path).
    public var pathPatterns: [String]
    /// Load balancers: the lowest listener rule `Priority` forwarding to the group (0 for a default action).
    public var priority: Int
    public var location: SourceLocation
}

/// `DeploymentPreference` of a function.
public struct DeploymentPreference: Sendable, Hashable {
    /// The traffic-shifting configuration name as written (predefined, pattern or custom).
    public var type: String?
    public var typeLocation: SourceLocation
    public var enabled: Bool
    /// Alarm logical ids of this template, or alarm names as written.
    public var alarms: [String]
    public var preTrafficHook: String?
    public var postTrafficHook: String?
    public var role: TemplateValue?
    public var triggerConfigurations: TemplateValue?
    public var passthroughCondition: Bool?
    public var location: SourceLocation
}

/// `EventInvokeConfig` of a function: asynchronous retries and destinations.
public struct EventInvokeConfig: Sendable, Hashable {
    public var maximumEventAgeInSeconds: Int?
    public var maximumRetryAttempts: Int?
    public var onSuccess: Destination?
    public var onFailure: Destination?

    /// Where an asynchronous invocation record goes.
    public struct Destination: Sendable, Hashable {
        /// `Lambda`, `SQS`, `SNS`, `EventBridge` or `S3Bucket`.
        public var type: String?
        /// The target: for a function of this template its logical id, else the ARN as resolved.
        public var destination: String?
    }
}

/// `AWS::Serverless::LayerVersion` or `AWS::Lambda::LayerVersion`.
public struct Layer: Sendable, Hashable {
    public var logicalId: String
    public var resourceType: String
    public var layerName: String
    public var contentUri: String?
    public var content: CodeSource?
    /// Where the content is named (`ContentUri`, `Content`).
    public var contentLocation: SourceLocation
    public var compatibleRuntimes: [String]?
    public var compatibleArchitectures: [String]?
    public var location: SourceLocation
}

/// `AWS::CloudWatch::Alarm`.
public struct Alarm: Sendable, Hashable {
    public var logicalId: String
    public var alarmName: String
    public var metricName: String?
    public var namespace: String?
    public var statistic: String?
    public var extendedStatistic: String?
    public var period: Int?
    public var evaluationPeriods: Int?
    public var datapointsToAlarm: Int?
    public var threshold: Double?
    public var comparisonOperator: String?
    public var treatMissingData: String?
    public var dimensions: [Dimension]
    /// The `Metrics` (metric math) form, empty for a single-metric alarm.
    public var metrics: [MetricDataQuery]
    public var properties: [String: TemplateValue]
    public var location: SourceLocation

    /// A `Name`/`Value` dimension.
    public struct Dimension: Sendable, Hashable {
        public var name: String
        public var value: String
    }

    /// One entry of `Metrics`: an expression or a metric statistic.
    public struct MetricDataQuery: Sendable, Hashable {
        public var id: String
        public var expression: String?
        public var metricName: String?
        public var namespace: String?
        public var dimensions: [Dimension]
        public var period: Int?
        public var stat: String?
        public var returnData: Bool
        public var label: String?
    }
}

/// `AWS::CodeDeploy::DeploymentConfig` with a Lambda traffic-routing config.
public struct DeploymentConfig: Sendable, Hashable {
    public var logicalId: String
    public var name: String
    public var routing: Routing
    public var location: SourceLocation

    /// `TrafficRoutingConfig`.
    public enum Routing: Sendable, Hashable {
        case timeBasedCanary(percentage: Double, intervalMinutes: Int)
        case timeBasedLinear(percentage: Double, intervalMinutes: Int)
        case allAtOnce
    }
}

/// A resource kept by logical id and type only.
public struct OtherResource: Sendable, Hashable {
    public var logicalId: String
    public var type: String
    public var location: SourceLocation
}
