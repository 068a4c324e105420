/// One HTTP route of the front door: which requests reach which function, and the event they become.
///
/// The engine maps a template's `Api`/`HttpApi` events, `FunctionUrlConfig`s and load balancer target
/// groups to these; the runtime knows nothing of templates.
public struct FrontDoorRoute: Sendable, Hashable {
    /// Who sends the event in AWS, which decides its shape, the response mapping and the error bodies.
    public enum Kind: Sendable, Hashable {
        /// An API Gateway REST API (`Events: Api`): payload format 1.0; unmatched requests get 403.
        case restApi
        /// An API Gateway HTTP API (`Events: HttpApi`): payload format 2.0 (or 1.0 when asked); unmatched get 404.
        case httpApi(payloadVersion: PayloadVersion)
        /// A function URL: payload format 2.0, every method and path.
        case functionUrl
        /// An Application Load Balancer target group.
        case loadBalancer(targetGroupArn: String, multiValueHeaders: Bool)
    }

    /// API Gateway's payload format versions.
    public enum PayloadVersion: String, Sendable, Hashable {
        case v1 = "1.0"
        case v2 = "2.0"
    }

    public var kind: Kind
    /// The API's logical id (`ServerlessRestApi`, `ServerlessHttpApi` or an explicit one); the URL id for a function URL.
    public var apiId: String
    /// The stage requests are served from (`Prod`, `$default` …), reported in `requestContext.stage`.
    public var stage: String
    /// The upper-cased method, nil for `ANY`.
    public var method: String?
    /// `/users/{id}`, `/files/{proxy+}`; nil matches every path (`$default`, function URLs, load balancers).
    public var path: String?
    /// Load balancer `path-pattern` conditions (`*` and `?` wildcards); empty matches every path.
    public var pathPatterns: [String]
    /// Load balancer rule priority (lower first) among load balancer routes.
    public var priority: Int
    /// The function's name, as the Lambda service knows it.
    public var function: String
    /// The alias requests go through (weights apply), nil for `$LATEST`.
    public var qualifier: String?
    /// REST APIs: media types whose request bodies are base64-encoded (`image/png`, `image/*`, `*/*`).
    public var binaryMediaTypes: [String]
    /// `stageVariables` of the event, nil when the stage has none.
    public var stageVariables: [String: String]?

    public init(kind: Kind, apiId: String, stage: String, method: String? = nil, path: String? = nil, pathPatterns: [String] = [],
                priority: Int = 0, function: String, qualifier: String? = nil, binaryMediaTypes: [String] = [],
                stageVariables: [String: String]? = nil) {
        self.kind = kind
        self.apiId = apiId
        self.stage = stage
        self.method = method.map { $0.uppercased() == "ANY" ? nil : $0.uppercased() } ?? nil
        self.path = path
        self.pathPatterns = pathPatterns
        self.priority = priority
        self.function = function
        self.qualifier = qualifier
        self.binaryMediaTypes = binaryMediaTypes
        self.stageVariables = stageVariables
    }

    /// `GET /users/{id}`, `ANY /{proxy+}` or `$default`, as API Gateway names routes.
    public var routeKey: String {
        guard let path else { return "$default" }
        return "\(method ?? "ANY") \(path)"
    }

    /// The event's payload format.
    var payloadVersion: PayloadVersion {
        switch kind {
        case .restApi: .v1
        case .httpApi(let version): version
        case .functionUrl: .v2
        case .loadBalancer: .v1
        }
    }
}
