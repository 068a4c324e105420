import Testing
@testable import TemplateModel

@Suite("Globals, parameters and function properties")
struct GlobalsAndParametersTests {
    static let globals = header + """
    Globals:
      Function:
        Runtime: python3.12
        Timeout: 10
        MemorySize: 256
        Layers: [arn:aws:lambda:us-east-1:1:layer:global:1]
        Environment:
          Variables:
            SHARED: global
            OVERRIDDEN: global
        AutoPublishAlias: live
    Resources:
      Plain:
        Type: AWS::Serverless::Function
        Properties:
          Handler: a.handler
      Custom:
        Type: AWS::Serverless::Function
        Properties:
          Handler: b.handler
          Runtime: nodejs20.x
          Timeout: 30
          Layers: [arn:aws:lambda:us-east-1:1:layer:own:1]
          Environment:
            Variables:
              OVERRIDDEN: local
              OWN: mine
      Ignoring:
        Type: AWS::Serverless::Function
        IgnoreGlobals: [Layers, Environment]
        Properties:
          Handler: c.handler
      IgnoringAll:
        Type: AWS::Serverless::Function
        IgnoreGlobals: "*"
        Properties:
          Handler: d.handler
          Runtime: python3.11
    """

    @Test func primitivesAreOverriddenMapsMergedListsConcatenated() throws {
        let template = try #require(loaded(Self.globals))
        let plain = try #require(template.function(named: "Plain"))
        #expect(plain.runtime == "python3.12")
        #expect(plain.timeout == 10)
        #expect(plain.memorySize == 256)
        #expect(plain.autoPublishAlias == "live")
        #expect(plain.environment == ["SHARED": "global", "OVERRIDDEN": "global"])
        let custom = try #require(template.function(named: "Custom"))
        #expect(custom.runtime == "nodejs20.x")
        #expect(custom.timeout == 30)
        #expect(custom.environment == ["SHARED": "global", "OVERRIDDEN": "local", "OWN": "mine"])
        #expect(custom.layers == [.arn("arn:aws:lambda:us-east-1:1:layer:global:1"), .arn("arn:aws:lambda:us-east-1:1:layer:own:1")])
    }

    @Test func ignoreGlobals() throws {
        let template = try #require(loaded(Self.globals))
        let ignoring = try #require(template.function(named: "Ignoring"))
        #expect(ignoring.layers == nil)
        #expect(ignoring.environment == nil)
        #expect(ignoring.timeout == 10)
        let all = try #require(template.function(named: "IgnoringAll"))
        #expect(all.timeout == nil)
        #expect(all.autoPublishAlias == nil)
    }

    @Test func missingCodeUriMeansTheTemplateFolder() throws {
        let template = try #require(loaded(header + """
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties: {Runtime: python3.12, Handler: app.handler}
        """))
        #expect(template.functions.first?.code == .directory("."))
        #expect(template.functions.first?.codeUri == nil)
    }

    @Test func parameterOverridesAndConstraints() throws {
        let text = header + """
        Parameters:
          Stage:
            Type: String
            Default: dev
            AllowedValues: [dev, prod]
          Size:
            Type: Number
            Default: 128
            MinValue: 128
            MaxValue: 1024
          Name:
            Type: String
            Default: abc
            AllowedPattern: "[a-z]+"
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: app.handler
              MemorySize: !Ref Size
              Environment: {Variables: {STAGE: !Ref Stage, NAME: !Ref Name}}
        """
        let template = try #require(loaded(text, overrides: ["Stage": "prod", "Size": "512"]))
        #expect(template.functions[0].memorySize == 512)
        #expect(template.functions[0].environment?["STAGE"] == "prod")
        #expect(errors(text, overrides: ["Stage": "qa"]).first?.message.contains("not one of its AllowedValues: dev, prod") == true)
        #expect(errors(text, overrides: ["Size": "2048"]).first?.message.contains("above its MaxValue 1024") == true)
        #expect(errors(text, overrides: ["Size": "big"]).first?.message.contains("not a number") == true)
        #expect(errors(text, overrides: ["Name": "ABC"]).first?.message.contains("AllowedPattern") == true)
    }

    @Test(arguments: [
        ("MemorySize: 64", "MemorySize of 'Fn' is 64 MB, outside the allowed 128–10240 MB"),
        ("MemorySize: lots", "MemorySize of 'Fn' must be a whole number"),
        ("Timeout: 901", "Timeout of 'Fn' is 901 s, outside the allowed 1–900 s"),
        ("ReservedConcurrentExecutions: -1", "ReservedConcurrentExecutions of 'Fn' is -1, outside the allowed 0–100000"),
        ("ReservedConcurrentExecutions: many", "ReservedConcurrentExecutions of 'Fn' must be a whole number, but it is 'many'"),
        ("AutoPublishAlias: '123'", "AutoPublishAlias name ('123')"),
        ("AutoPublishAlias: 'a b'", "AutoPublishAlias name ('a b')"),
        ("DeploymentPreference: {Type: AllAtOnce}", "requires AutoPublishAlias"),
        ("Layers: arn:aws:lambda:us-east-1:1:layer:x:1", "Layers of 'Fn' must be a list"),
        ("Environment: {Variables: {AWS_REGION: x}}", "AWS_REGION of 'Fn' is reserved"),
        ("Environment: {Variables: {BIG: \(String(repeating: "x", count: 4100))}}", "Lambda allows 4 KB"),
        ("CodeUri: [a]", "CodeUri of 'Fn' must be a local folder"),
        ("CodeUri: http://example.com/x.zip", "neither a local path nor s3://"),
        ("Architectures: [x86_64, arm64]", "exactly one of"),
    ])
    func invalidPropertiesAreLocatedErrors(property: String, message: String) {
        let found = errors(header + """
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: app.handler
              \(property)
        """)
        #expect(found.contains { $0.message.contains(message) }, "\(found.map(\.description))")
        #expect(found.allSatisfy { $0.location.file == "/app/template.yaml" && $0.location.line >= 2 })
    }

    @Test func handlerIsRequiredExceptForProvidedRuntimes() {
        #expect(errors(header + "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties: {Runtime: python3.12}\n")
            .first?.message.contains("has no Handler") == true)
        #expect(loaded(header + "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties: {Runtime: provided.al2023}\n") != nil)
    }

    @Test func deploymentPreferenceHooksAndAlarmsResolveToLogicalIds() throws {
        let template = try #require(loaded(header + """
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: app.handler
              AutoPublishAlias: live
              DeploymentPreference:
                Type: Canary10Percent5Minutes
                Alarms: [!Ref ErrorsAlarm, "external-alarm"]
                Hooks:
                  PreTraffic: !Ref PreHook
                  PostTraffic: post-hook-name
          PreHook:
            Type: AWS::Serverless::Function
            Properties: {Runtime: python3.12, Handler: hook.pre}
          PostHook:
            Type: AWS::Serverless::Function
            Properties: {Runtime: python3.12, Handler: hook.post, FunctionName: post-hook-name}
          ErrorsAlarm:
            Type: AWS::CloudWatch::Alarm
            Properties:
              MetricName: Errors
              Namespace: AWS/Lambda
              Statistic: Sum
              Period: 60
              EvaluationPeriods: 2
              Threshold: 0
              ComparisonOperator: GreaterThanThreshold
              Dimensions:
                - {Name: Resource, Value: !Sub "${Fn}:live"}
        """))
        let dp = try #require(template.function(named: "Fn")?.deploymentPreference)
        #expect(dp.type == "Canary10Percent5Minutes")
        #expect(dp.alarms == ["ErrorsAlarm", "external-alarm"])
        #expect(dp.preTrafficHook == "PreHook")
        #expect(dp.postTrafficHook == "PostHook")
        #expect(template.alarms.first?.dimensions == [.init(name: "Resource", value: "Fn:live")])
        #expect(template.alarms.first?.evaluationPeriods == 2)
    }

    @Test func hooksMustBeFunctionsOfTheTemplate() {
        let found = errors(header + """
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: app.handler
              AutoPublishAlias: live
              DeploymentPreference:
                Type: AllAtOnce
                Hooks: {PreTraffic: nowhere, Sideways: x}
        """)
        #expect(found.contains { $0.message.contains("PreTraffic hook 'nowhere'") })
        #expect(found.contains { $0.message.contains("'Sideways' is not a hook") })
    }

    @Test func customDeploymentConfigs() throws {
        let template = try #require(loaded(header + """
        Resources:
          Slow:
            Type: AWS::CodeDeploy::DeploymentConfig
            Properties:
              ComputePlatform: Lambda
              DeploymentConfigName: slow-linear
              TrafficRoutingConfig:
                Type: TimeBasedLinear
                TimeBasedLinear: {LinearPercentage: 25, LinearInterval: 2}
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: app.handler
              AutoPublishAlias: live
              DeploymentPreference: {Type: !Ref Slow}
        """))
        #expect(template.function(named: "Fn")?.deploymentPreference?.type == "slow-linear")
        #expect(template.deploymentConfig(named: "slow-linear")?.routing == .timeBasedLinear(percentage: 25, intervalMinutes: 2))
    }
}
