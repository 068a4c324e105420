import ArgumentParser
import Foundation
import TemplateModel

/// `shift bench template`: loading the shared corpus and a generated 1,000-function template.
struct BenchTemplate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "template",
        abstract: "Time loading every corpus template and a generated 1,000-function template (medians).")

    @Option(help: "The corpus folder (its apps/ and sam-translator/input/ are loaded).")
    var corpus: String = "../shared/corpus"

    @Option(help: "Repetitions per measurement.")
    var runs: Int = 15

    @Option(help: "Functions in the generated template.")
    var functions: Int = 1000

    func run() throws {
        let folders = ["apps", "sam-translator/input"].map { URL(fileURLWithPath: corpus).appendingPathComponent($0) }
        let files = folders.flatMap { folder in
            ((try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)) ?? []).filter { $0.pathExtension == "yaml" }
        }
        let texts = try files.map { ($0.path, try String(contentsOf: $0, encoding: .utf8)) }
        print("runs per figure: \(runs)")
        if texts.isEmpty {
            print("corpus: not found at \(corpus) (pass --corpus)")
        } else {
            let bytes = texts.reduce(0) { $0 + $1.1.utf8.count }
            let samples = Measure.milliseconds(runs: runs) {
                for (path, text) in texts { _ = TemplateLoader.load(contents: text, path: path) }
            }
            print("corpus (\(texts.count) templates, \(bytes / 1024) KiB): median \(Measure.format(Measure.median(samples))) ms, p90 \(Measure.format(Measure.percentile(samples, 90))) ms")
        }
        let generated = Self.generatedTemplate(functions: functions)
        var loadedFunctions = 0
        let samples = Measure.milliseconds(runs: runs) {
            loadedFunctions = TemplateLoader.load(contents: generated, path: "generated/template.yaml").template?.functions.count ?? -1
        }
        print("generated (\(loadedFunctions) functions, \(generated.utf8.count / 1024) KiB): median \(Measure.format(Measure.median(samples))) ms, p90 \(Measure.format(Measure.percentile(samples, 90))) ms")
    }

    /// A template shaped like real ones: Globals, parameters, intrinsics, aliases, deployment preferences and alarms.
    static func generatedTemplate(functions: Int) -> String {
        var text = """
        AWSTemplateFormatVersion: '2010-09-09'
        Transform: AWS::Serverless-2016-10-31
        Parameters:
          Stage: {Type: String, Default: dev, AllowedValues: [dev, prod]}
        Conditions:
          IsProd: !Equals [!Ref Stage, prod]
        Globals:
          Function:
            Runtime: python3.12
            Timeout: 10
            MemorySize: 256
            Environment:
              Variables:
                STAGE: !Ref Stage
        Resources:
          Table:
            Type: AWS::DynamoDB::Table
            Properties: {TableName: !Sub "${AWS::StackName}-table"}

        """
        for index in 0..<functions {
            text += """
              Fn\(index):
                Type: AWS::Serverless::Function
                Properties:
                  FunctionName: !Sub "${Stage}-fn-\(index)"
                  CodeUri: src/fn\(index)
                  Handler: app.handler
                  AutoPublishAlias: live
                  Environment:
                    Variables:
                      TABLE: !Ref Table
                      ARN: !GetAtt Table.Arn
                      MODE: !If [IsProd, strict, relaxed]
                  DeploymentPreference:
                    Type: Canary10Percent5Minutes
                    Alarms: [!Ref Fn\(index)Errors]
              Fn\(index)Errors:
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
                    - {Name: Resource, Value: !Sub "${Fn\(index)}:live"}

            """
        }
        return text
    }
}
