import Foundation
import Testing
@testable import TemplateModel

/// `Api`, `HttpApi`, `FunctionUrlConfig` and load balancer target groups read into `Function.httpEvents`.
@Suite("HTTP events")
struct HttpEventTests {
    static func function(_ events: String, extra: String = "", properties: String = "", resources: String = "") -> String {
        """
        Transform: AWS::Serverless-2016-10-31
        \(extra)
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: app.handler
              InlineCode: "x"
              AutoPublishAlias: live\(properties)
              Events:
        \(events)
        \(resources)
        """
    }

    @Test func apiAndHttpApiEventsWithTheirStagesAndMediaTypes() throws {
        let yaml = Self.function("""
                Users:
                  Type: Api
                  Properties:
                    Path: /users/{id}
                    Method: get
                Files:
                  Type: HttpApi
                  Properties:
                    Path: /files/{proxy+}
                    Method: ANY
                    PayloadFormatVersion: "1.0"
                Default:
                  Type: HttpApi
                Staged:
                  Type: Api
                  Properties:
                    Path: /staged
                    Method: post
                    RestApiId: !Ref Explicit
        """, extra: "Globals:\n  Api:\n    BinaryMediaTypes: ['image~1png']\n", resources: """
          Explicit:
            Type: AWS::Serverless::Api
            Properties:
              StageName: v1
              Variables: {color: blue}
        """)
        let events = try #require(loaded(yaml)?.function(named: "Fn")?.httpEvents)
        #expect(events.count == 4)
        let users = try #require(events.first { $0.name == "Users" })
        #expect(users.source == .restApi && users.method == "GET" && users.path == "/users/{id}" && users.stage == "Prod")
        #expect(users.api == "ServerlessRestApi" && users.binaryMediaTypes == ["image/png"])
        let files = try #require(events.first { $0.name == "Files" })
        #expect(files.source == .httpApi(payloadFormatVersion: "1.0") && files.method == nil && files.stage == "$default")
        let fallback = try #require(events.first { $0.name == "Default" })
        #expect(fallback.path == nil && fallback.method == nil && fallback.source == .httpApi(payloadFormatVersion: "2.0"))
        let staged = try #require(events.first { $0.name == "Staged" })
        #expect(staged.api == "Explicit" && staged.stage == "v1" && staged.stageVariables == ["color": "blue"] && staged.binaryMediaTypes.isEmpty)
    }

    @Test func functionURLAndLoadBalancerTargets() throws {
        let yaml = Self.function("""
                Ping:
                  Type: Schedule
                  Properties: {Schedule: rate(1 minute)}
        """, properties: "\n      FunctionUrlConfig:\n        AuthType: NONE", resources: """
          Group:
            Type: AWS::ElasticLoadBalancingV2::TargetGroup
            Properties:
              TargetType: lambda
              Targets: [{Id: !GetAtt Fn.Arn}]
              TargetGroupAttributes:
                - {Key: lambda.multi_value_headers.enabled, Value: "true"}
          Rule:
            Type: AWS::ElasticLoadBalancingV2::ListenerRule
            Properties:
              ListenerArn: arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/x/y/z
              Priority: 5
              Actions: [{Type: forward, TargetGroupArn: !Ref Group}]
              Conditions:
                - Field: path-pattern
                  PathPatternConfig: {Values: [/api/*]}
        """)
        let result = load(yaml)
        let events = try #require(result.template?.function(named: "Fn")?.httpEvents)
        #expect(events.count == 2, "\(result.diagnostics.map(\.description))")
        #expect(events.contains { $0.source == .functionUrl(authType: "NONE") && $0.path == nil })
        let group = try #require(events.first { $0.name == "Group" })
        #expect(group.source == .loadBalancer(multiValueHeaders: true) && group.pathPatterns == ["/api/*"] && group.priority == 5)
        #expect(!result.diagnostics.contains { $0.message.contains("Group (AWS::ElasticLoadBalancingV2::TargetGroup) is not run locally") })
    }

    @Test(arguments: [
        ("Type: Api\n          Properties:\n            Method: get", "needs Path", 13),
        ("Type: Api\n          Properties:\n            Path: /x\n            Method: fetch", "Method 'fetch' of Api event Fn.Bad is not an HTTP method", 16),
        ("Type: Api\n          Properties:\n            Path: /x\n            Method: gett", "did you mean 'GET'?", 16),
        ("Type: Api\n          Properties:\n            Path: x\n            Method: get", "must start with '/'", 15),
        ("Type: Api\n          Properties:\n            Path: /a{id}\n            Method: get", "not a whole-segment path parameter", 15),
        ("Type: Api\n          Properties:\n            Path: /{proxy+}/x\n            Method: get", "{name+} must end the path", 15),
        ("Type: HttpApi\n          Properties:\n            Path: /x", "needs Method", 13),
        ("Type: HttpApi\n          Properties:\n            PayloadFormatVersion: '3.0'", "PayloadFormatVersion '3.0'", 15),
    ])
    func badEventsAreLocatedErrors(event: String, message: String, line: Int) throws {
        let yaml = Self.function("        Bad:\n          \(event)")
        let found = errors(yaml)
        #expect(found.count == 1, "\(found.map(\.description))")
        #expect(found.first?.message.contains(message) == true, "\(found.map(\.description))")
        #expect(found.first?.location.line == line, "\(found.map(\.description))")
    }

    @Test func functionURLNeedsAValidAuthType() {
        let missing = errors(Self.function("        Ping:\n          Type: Schedule", properties: "\n      FunctionUrlConfig:\n        Cors: {}"))
        #expect(missing.first?.message.contains("needs AuthType: NONE") == true, "\(missing.map(\.description))")
        let wrong = errors(Self.function("        Ping:\n          Type: Schedule", properties: "\n      FunctionUrlConfig:\n        AuthType: AWS_IAMM"))
        #expect(wrong.first?.message.contains("did you mean 'AWS_IAM'?") == true, "\(wrong.map(\.description))")
        #expect(wrong.first?.location.line == 12)
    }
}
