import Testing
@testable import TemplateModel

/// What AWS (or the SAM transform) would reject is an error here too, and what it accepts loads.
@Suite("What AWS rejects and accepts")
struct AWSRejectsTests {
    static func function(runtime: String) -> String {
        header + """
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: \(runtime)
              Handler: app.handler
              InlineCode: "x"
        """
    }

    @Test func misspelledRuntimeIsAnErrorNamingTheNearestOne() {
        let found = errors(Self.function(runtime: "pyhton3.12"))
        #expect(found.count == 1)
        #expect(found.first?.message.contains("'pyhton3.12'") == true && found.first?.message.contains("did you mean 'python3.12'?") == true,
                "\(found.map(\.description))")
        #expect(found.first?.location.line == 6 && found.first?.location.column == 16, "\(found.map(\.description))")
        #expect(errors(Self.function(runtime: "cobol")).first?.message.contains("use one of python3.14") == true)
    }

    @Test(arguments: [("python2.7", "python3.14"), ("nodejs18.x", "nodejs24.x"), ("go1.x", "provided.al2023"), ("python3.9", "python3.14")])
    func deprecatedRuntimeIsAWarningNamingTheSuccessor(runtime: String, successor: String) {
        let result = load(Self.function(runtime: runtime))
        #expect(result.template != nil)
        let warning = result.diagnostics.first { $0.message.contains("Runtime '\(runtime)'") }
        #expect(warning?.severity == .warning && warning?.message.contains("deprecated") == true, "\(result.diagnostics.map(\.description))")
        #expect(warning?.message.contains("move to \(successor)") == true)
        #expect(warning?.location.line == 6)
    }

    @Test(arguments: LambdaRuntime.supported)
    func supportedRuntimesLoadWithoutAWord(runtime: String) {
        let result = load(Self.function(runtime: runtime))
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics.map(\.description))")
    }

    @Test func unknownServerlessAndLambdaTypesAreErrorsWithASuggestion() {
        let serverless = errors(header + "Resources:\n  Fn:\n    Type: AWS::Serverless::Funtion\n    Properties: {Runtime: python3.12, Handler: a.b}\n")
        #expect(serverless.first?.message.contains("unknown resource type 'AWS::Serverless::Funtion' of 'Fn'; did you mean 'AWS::Serverless::Function'?") == true,
                "\(serverless.map(\.description))")
        #expect(serverless.first?.location.line == 4 && serverless.first?.location.column == 11)
        let lambda = errors("Resources:\n  L:\n    Type: AWS::Lambda::LayerVersio\n")
        #expect(lambda.first?.message.contains("did you mean 'AWS::Lambda::LayerVersion'?") == true, "\(lambda.map(\.description))")
        let far = errors("Resources:\n  L:\n    Type: AWS::Lambda::Spaceship\n")
        #expect(far.first?.message.contains("AWS::Lambda::* types are") == true, "\(far.map(\.description))")
        // Other families are not checked here: shift keeps them by name only.
        #expect(loaded("Resources:\n  T:\n    Type: AWS::SNS::Topicc\n") != nil)
    }

    @Test func lambdaFunctionAndLayerTakeLocalFoldersAsSAMCLIDoes() throws {
        let template = try #require(loaded("""
        Resources:
          Fn:
            Type: AWS::Lambda::Function
            Properties:
              Runtime: python3.12
              Handler: app.handler
              Code: src/
              Layers: [!Ref Deps]
          Deps:
            Type: AWS::Lambda::LayerVersion
            Properties:
              Content: layer/
        """))
        let function = try #require(template.function(named: "Fn"))
        #expect(function.code == .directory("src/"))
        #expect(function.codeLocation.line == 7 && function.codeLocation.column == 13)
        let layer = try #require(template.layer(logicalId: "Deps"))
        #expect(layer.content == .directory("layer/"))
        #expect(layer.contentLocation.line == 12)
        #expect(function.layers == [.local(logicalId: "Deps")])
    }

    @Test func codeLocationIsTheCodeUriLine() throws {
        let template = try #require(loaded(header + """
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: app.handler
              CodeUri: src/missing
          Here:
            Type: AWS::Serverless::Function
            Properties: {Runtime: python3.12, Handler: app.handler}
        """))
        #expect(template.function(named: "Fn")?.codeLocation.line == 8)
        #expect(template.function(named: "Here")?.codeLocation.line == 10, "no CodeUri: the resource itself")
    }

    static func twoApiEvents(_ first: String, _ second: String) -> String {
        header + """
        Resources:
          A:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: app.handler
              InlineCode: "x"
              Events:
                GetRoot: {Type: Api, Properties: {\(first)}}
          B:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: app.handler
              InlineCode: "x"
              Events:
                GetRoot: {Type: Api, Properties: {\(second)}}
          Other:
            Type: AWS::Serverless::Api
            Properties: {StageName: prod}
        """
    }

    @Test func sameMethodAndPathTwiceOnTheImplicitApiIsAnError() {
        let found = errors(Self.twoApiEvents("Path: /, Method: get", "Path: /, Method: GET"))
        #expect(found.count == 1)
        #expect(found.first?.message.contains(#"API method "GET" defined multiple times for path "/""#) == true, "\(found.map(\.description))")
        #expect(found.first?.message.contains("B.GetRoot repeats A.GetRoot") == true)
        #expect(found.first?.location.line == 18)
    }

    @Test(arguments: [
        ("Path: /, Method: get", "Path: /, Method: post"),
        ("Path: /, Method: get", "Path: /x, Method: get"),
        ("Path: /, Method: get", "Path: /, Method: get, RestApiId: !Ref Other"),
    ])
    func differentMethodPathOrApiIsFine(first: String, second: String) {
        #expect(loaded(Self.twoApiEvents(first, second)) != nil)
    }
}
