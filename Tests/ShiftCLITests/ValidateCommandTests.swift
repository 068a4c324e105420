import Foundation
import Testing

@Suite("shift validate, run as a process")
struct ValidateCommandTests {
    @Test func bundledExampleIsValid() throws {
        let result = try CLI.run(["validate", "examples/greeter/template.yaml"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("valid, 3 functions, 0 layers, 2 alarms"), "\(result.stdout)")
        #expect(result.stdout.contains("Canary10Percent5Minutes [0m→10% 5m→100%]"))
    }

    @Test func jsonOutputHasResolvedFunctionsAndSchedules() throws {
        let result = try CLI.run(["validate", "examples/greeter/template.yaml", "--output", "json",
                                  "--parameter-overrides", "Stage=prod", "ParameterKey=GreeterCode,ParameterValue=src/greeter-v2"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let functions = try #require(object["functions"] as? [[String: Any]])
        let greeter = try #require(functions.first { $0["LogicalId"] as? String == "Greeter" })
        #expect(greeter["CodeUri"] as? String == "src/greeter-v2")
        #expect(greeter["Runtime"] as? String == "python3.12")
        #expect(greeter["MemorySize"] as? Int == 128)
        #expect(greeter["Timeout"] as? Int == 5)
        #expect((greeter["Environment"] as? [String: String]) == ["STAGE": "prod", "GREETING": "Hello"])
        #expect(greeter["AutoPublishAlias"] as? String == "live")
        let preference = try #require(greeter["DeploymentPreference"] as? [String: Any])
        #expect(preference["Type"] as? String == "Canary10Percent5Minutes")
        #expect(preference["Alarms"] as? [String] == ["GreeterErrorsAlarm", "GreeterAliasErrorsAlarm"])
        #expect((preference["Hooks"] as? [String: Any])?["PreTraffic"] as? String == "PreTrafficCheck")
        let schedule = try #require(preference["Schedule"] as? [[String: Any]])
        #expect(schedule.count == 2)
        #expect(schedule[0]["minute"] as? Int == 0 && schedule[0]["percent"] as? Int == 10)
        #expect(schedule[1]["minute"] as? Int == 5 && schedule[1]["percent"] as? Int == 100)
        let counter = try #require(functions.first { $0["LogicalId"] as? String == "Counter" })
        #expect(counter["MemorySize"] as? Int == 128)
        #expect(counter["DeploymentPreference"] is NSNull)
        #expect((object["alarms"] as? [[String: Any]])?.first?["LogicalId"] as? String == "GreeterErrorsAlarm")
    }

    @Test func errorsAreLocatedOnStderrWithExitOne() throws {
        let folder = try CLI.temporaryDirectory()
        let template = folder.appendingPathComponent("template.yaml")
        try """
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: app.handler
              AutoPublishAlias: live
              DeploymentPreference:
                Type: Canary150Percent5Minutes
              Environment:
                Variables:
                  X: !Ref Nowhere
        """.write(to: template, atomically: true, encoding: .utf8)
        let result = try CLI.run(["validate", template.path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("\(template.path):13:"), "\(result.stderr)")
        #expect(result.stderr.contains("error: Ref to 'Nowhere'"))
        #expect(result.stderr.contains("\(template.path):10:"), "\(result.stderr)")
        #expect(result.stderr.contains("Canary150Percent5Minutes"))
    }

    @Test(arguments: [
        ("LinearPercentEvery3Minutes", "LinearPercentEvery3Minutes"),
        ("Canary10Percent0Minutes", "Canary10Percent0Minutes"),
        ("Canary10Percent5Minute", "did you mean 'Canary10Percent5Minutes'?"),
    ])
    func unknownOrImpossibleStrategiesAreNamed(type: String, named: String) throws {
        let folder = try CLI.temporaryDirectory()
        let template = folder.appendingPathComponent("template.yaml")
        try """
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties: {Runtime: python3.12, Handler: a.b, AutoPublishAlias: live, DeploymentPreference: {Type: \(type)}}
        """.write(to: template, atomically: true, encoding: .utf8)
        let result = try CLI.run(["validate", template.path, "--output", "json"])
        #expect(result.status == 1)
        #expect(result.stderr.contains(named) && result.stderr.contains(":5:"), "\(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect(object?["valid"] as? Bool == false && object?["exitCode"] as? Int == 1)
    }

    /// Problems are listed in the order of the file, whichever check found them.
    @Test func diagnosticsFollowTheFile() throws {
        let folder = try CLI.temporaryDirectory()
        let template = folder.appendingPathComponent("template.yaml")
        try """
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: pyhton3.12
              Handler: a.b
              AutoPublishAlias: live
              DeploymentPreference: {Type: Canary10Percent5Minute}
          Other:
            Type: AWS::Serverless::Funtion
        """.write(to: template, atomically: true, encoding: .utf8)
        let result = try CLI.run(["validate", template.path])
        #expect(result.status == 1)
        let lines = result.stderr.split(separator: "\n").compactMap { line -> Int? in
            guard line.hasPrefix(template.path + ":") else { return nil }
            return Int(line.dropFirst(template.path.count + 1).prefix { $0.isNumber })
        }
        #expect(lines.count >= 2, "\(result.stderr)")
        #expect(lines == lines.sorted(), "\(result.stderr)")
    }

    @Test func missingFileAndFolderAreClearErrors() throws {
        let missing = try CLI.run(["validate", "no/such/template.yaml"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("no such file"))
        let folder = try CLI.run(["validate", "examples/greeter"])
        #expect(folder.status == 1)
        #expect(folder.stderr.contains("is a folder"))
    }

    @Test func badParameterOverrideIsAUsageError() throws {
        let result = try CLI.run(["validate", "examples/greeter/template.yaml", "--parameter-overrides", "NoEquals"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("should read NAME=VALUE"))
    }
}
