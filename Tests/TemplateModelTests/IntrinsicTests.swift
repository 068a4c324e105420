import Testing
@testable import TemplateModel

@Suite("Intrinsic functions")
struct IntrinsicTests {
    private func environment(_ variables: String, extra: String = "") -> [String: String]? {
        let template = loaded(header + """
        Parameters:
          Stage:
            Type: String
            Default: dev
          Sizes:
            Type: CommaDelimitedList
            Default: "a, b,c"
        Mappings:
          Regions:
            us-east-1:
              Ami: ami-123
        Conditions:
          IsProd: !Equals [!Ref Stage, prod]
          IsDev: !Not [!Condition IsProd]
          Both: !And [!Condition IsDev, !Equals [1, "1"]]
          Either: !Or [!Condition IsProd, !Condition IsDev]
        \(extra)
        Resources:
          Table:
            Type: AWS::DynamoDB::Table
            Properties:
              TableName: !Sub "${AWS::StackName}-table"
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              FunctionName: !Sub "${Stage}-fn"
              Runtime: python3.12
              Handler: app.handler
              AutoPublishAlias: live
              Environment:
                Variables:
        \(variables)
        """)
        return template?.function(named: "Fn")?.environment
    }

    @Test func refGivesParametersPseudoParametersAndResourceNames() {
        let env = environment("""
                  STAGE: !Ref Stage
                  REGION: !Ref AWS::Region
                  ACCOUNT: !Ref "AWS::AccountId"
                  STACK: !Ref AWS::StackName
                  PARTITION: !Ref AWS::Partition
                  TABLE: !Ref Table
                  SELF: { Ref: Fn }
        """)
        #expect(env == ["STAGE": "dev", "REGION": "us-east-1", "ACCOUNT": "123456789012", "STACK": "app", "PARTITION": "aws",
                        "TABLE": "app-table", "SELF": "dev-fn"])
    }

    @Test func subInBothFormsWithEscapesAndAttributes() {
        let env = environment("""
                  A: !Sub "${Stage}-${AWS::Region}-${!Literal}"
                  B: !Sub ["${Name}/${Stage}", {Name: !Ref Table}]
                  C: !Sub "${Fn.Arn}"
                  D: { "Fn::Sub": "x-${Stage}" }
        """)
        #expect(env?["A"] == "dev-us-east-1-${Literal}")
        #expect(env?["B"] == "app-table/dev")
        #expect(env?["C"] == "arn:aws:lambda:us-east-1:123456789012:function:dev-fn")
        #expect(env?["D"] == "x-dev")
    }

    @Test func listFunctions() {
        let env = environment("""
                  JOINED: !Join [":", [a, !Ref Stage, 3]]
                  SELECTED: !Select [1, !Ref Sizes]
                  SPLIT: !Select [2, !Split ["/", "x/y/z"]]
                  MAPPED: !FindInMap [Regions, !Ref AWS::Region, Ami]
                  ENCODED: !Base64 "hi"
                  AZ: !Select [0, !GetAZs ""]
                  ATT: !GetAtt Table.Arn
                  ATT2: !GetAtt [Fn, Arn]
        """)
        #expect(env?["JOINED"] == "a:dev:3")
        #expect(env?["SELECTED"] == "b")
        #expect(env?["SPLIT"] == "z")
        #expect(env?["MAPPED"] == "ami-123")
        #expect(env?["ENCODED"] == "aGk=")
        #expect(env?["AZ"] == "us-east-1a")
        #expect(env?["ATT"] == "arn:aws:dynamodb:us-east-1:123456789012:table/app-table")
        #expect(env?["ATT2"] == "arn:aws:lambda:us-east-1:123456789012:function:dev-fn")
    }

    @Test func conditionsAndIf() {
        let env = environment("""
                  PROD: !If [IsProd, yes-prod, no-prod]
                  DEV: !If [IsDev, dev-on, dev-off]
                  BOTH: !If [Both, b, nb]
                  EITHER: !If [Either, e, ne]
                  GONE: !If [IsProd, here, !Ref AWS::NoValue]
        """)
        #expect(env == ["PROD": "no-prod", "DEV": "dev-on", "BOTH": "b", "EITHER": "e"])
    }

    @Test func samAliasAndVersionReferences() {
        let env = environment("""
                  ALIAS: !Ref Fn.Alias
                  VERSION: !Ref Fn.Version
        """)
        #expect(env?["ALIAS"] == "arn:aws:lambda:us-east-1:123456789012:function:dev-fn:live")
        #expect(env?["VERSION"] == "arn:aws:lambda:us-east-1:123456789012:function:dev-fn:$LATEST")
    }

    @Test func resourcesWhoseConditionIsFalseAreLeftOut() {
        let template = loaded(header + """
        Parameters:
          Stage: {Type: String, Default: dev}
        Conditions:
          IsProd: !Equals [!Ref Stage, prod]
        Resources:
          Always:
            Type: AWS::Serverless::Function
            Properties: {Runtime: python3.12, Handler: a.b, InlineCode: "x"}
          OnlyProd:
            Type: AWS::Serverless::Function
            Condition: IsProd
            Properties: {Runtime: python3.12, Handler: a.b, InlineCode: "x"}
        """)
        #expect(template?.functions.map(\.logicalId) == ["Always"])
        let prod = TemplateLoader.load(contents: header + """
        Parameters:
          Stage: {Type: String, Default: dev}
        Conditions:
          IsProd: !Equals [!Ref Stage, prod]
        Resources:
          OnlyProd:
            Type: AWS::Serverless::Function
            Condition: IsProd
            Properties: {Runtime: python3.12, Handler: a.b, InlineCode: "x"}
        """, path: "t.yaml", options: LoadOptions(parameterOverrides: ["Stage": "prod"]))
        #expect(prod.template?.functions.map(\.logicalId) == ["OnlyProd"])
    }

    @Test func unknownReferencesAreErrorsAtTheirLine() {
        let found = errors(header + """
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: app.handler
              Environment:
                Variables:
                  A: !Ref Stagee
                  B: !GetAtt Missing.Arn
                  C: !If [NoSuchCondition, a, b]
        """)
        #expect(found.contains { $0.location.line == 10 && $0.message.contains("Ref to 'Stagee'") })
        #expect(found.contains { $0.location.line == 11 && $0.message.contains("'Missing'") })
        #expect(found.contains { $0.location.line == 12 && $0.message.contains("unknown condition 'NoSuchCondition'") })
    }

    @Test func suggestionsNameTheClosestName() {
        let found = errors(header + """
        Parameters:
          Stage: {Type: String, Default: dev}
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: app.handler
              Environment:
                Variables:
                  A: !Ref Stag
        """)
        #expect(found.first?.message.contains("did you mean 'Stage'?") == true)
        #expect(found.first?.description.hasPrefix("/app/template.yaml:12:") == true, "\(found.first?.description ?? "")")
    }

    @Test func stackNameComesFromTheFolderOrTheCaller() {
        let named = TemplateLoader.load(contents: header + "Resources:\n  T:\n    Type: AWS::SNS::Topic\n", path: "/x/my_app/template.yaml",
                                        options: LoadOptions(stackName: "given"))
        #expect(named.template?.pseudoParameters.stackName == "given")
        #expect(TemplateLoader.defaultStackName(forTemplateAt: "/x/my_app/template.yaml") == "my-app")
    }
}
