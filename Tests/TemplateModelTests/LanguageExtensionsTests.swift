import Testing
@testable import TemplateModel

@Suite("AWS::LanguageExtensions")
struct LanguageExtensionsTests {
    @Test func forEachExpandsResourcesWithSubstitutions() throws {
        let template = try #require(loaded("""
        Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]
        Parameters:
          Names: {Type: CommaDelimitedList, Default: "alpha,beta-2"}
        Resources:
          Fn::ForEach::Functions:
            - Name
            - !Ref Names
            - "&{Name}Function":
                Type: AWS::Serverless::Function
                Properties:
                  CodeUri: functions/${Name}/
                  Handler: main.handler
                  Runtime: python3.12
                  Environment:
                    Variables:
                      NAME: !Ref Name
                      LABEL: !Sub "fn-${Name}"
        """))
        #expect(template.functions.map(\.logicalId).sorted() == ["alphaFunction", "beta2Function"])
        let beta = try #require(template.function(named: "beta2Function"))
        #expect(beta.codeUri == "functions/beta-2/")
        #expect(beta.environment == ["NAME": "beta-2", "LABEL": "fn-beta-2"])
    }

    @Test func nestedLoopsAndReferencesToGeneratedResources() throws {
        let template = try #require(loaded("""
        Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]
        Resources:
          Fn::ForEach::Layers:
            - Layer
            - [common, db]
            - ${Layer}Layer:
                Type: AWS::Serverless::LayerVersion
                Properties:
                  ContentUri: layers/${Layer}
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: a.b
              Layers: [!Ref commonLayer, !Ref dbLayer]
        """))
        #expect(template.function(named: "Fn")?.layers == [.local(logicalId: "commonLayer"), .local(logicalId: "dbLayer")])
    }

    @Test func malformedForEachIsALocatedError() {
        let found = errors("""
        Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]
        Resources:
          Fn::ForEach::Broken:
            - Name
            - {not: a list}
            - ${Name}Topic: {Type: AWS::SNS::Topic}
        """)
        #expect(found.first?.message.contains("collection of Fn::ForEach::Broken") == true)
        #expect(found.first?.location.line == 5)
    }

    @Test func toJsonStringKeepsSlashes() throws {
        let template = try #require(loaded(header + """
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: a.b
              Environment:
                Variables:
                  CONFIG:
                    Fn::ToJsonString: {paths: [/health, /metrics]}
        """))
        #expect(template.functions.first?.environment?["CONFIG"] == #"{"paths":["/health","/metrics"]}"#)
    }

    @Test func oneProblemIsReportedOnceAsAnError() {
        let result = load(header + """
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: !Ref Missing
              Handler: a.b
        """)
        let about = result.diagnostics.filter { $0.message.contains("Ref to 'Missing'") }
        #expect(about.count == 1)
        #expect(about.first?.severity == .error)
    }
}
