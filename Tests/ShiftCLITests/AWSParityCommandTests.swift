import Foundation
import Testing

/// `validate` catches what AWS or the deploy would reject and accepts what AWS accepts; `deploy` and `invoke` agree.
@Suite("validate, deploy and invoke agree with AWS, run as a process")
struct AWSParityCommandTests {
    /// A folder with `template.yaml` holding `resources` (under `Resources:`) and a python `src/app.py`.
    static func app(_ resources: String) throws -> URL {
        let folder = try CLI.temporaryDirectory()
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("src"), withIntermediateDirectories: true)
        try "def handler(event, context):\n    return {'ok': True}\n".write(to: folder.appendingPathComponent("src/app.py"), atomically: true, encoding: .utf8)
        try ("Transform: AWS::Serverless-2016-10-31\nResources:\n" + resources)
            .write(to: folder.appendingPathComponent("template.yaml"), atomically: true, encoding: .utf8)
        return folder
    }

    static func function(type: String = "Canary10Percent5Minutes", codeUri: String = "src") -> String {
        """
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: \(codeUri)
              Handler: app.handler
              Runtime: python3.12
              AutoPublishAlias: live
              DeploymentPreference:
                Type: \(type)
        """
    }

    @Test func configNotInTheTemplateIsAWarningAndDeployAsksForItsShape() throws {
        let app = try Self.app(Self.function(type: "TestDeploymentConfiguration"))
        let template = app.appendingPathComponent("template.yaml").path
        let validate = try CLI.run(["validate", template])
        #expect(validate.status == 0, "\(validate.stderr)")
        #expect(validate.stderr.contains("\(template):11:15: warning: DeploymentPreference.Type of 'Fn' is 'TestDeploymentConfiguration'"), "\(validate.stderr)")
        #expect(validate.stderr.contains("--deployment-config TestDeploymentConfiguration="))

        let state = app.appendingPathComponent("state").path
        let deploy = try CLI.run(["deploy", template, "--state-dir", state, "--dry-run"])
        #expect(deploy.status == 1)
        #expect(deploy.stderr.contains("\(template):11:15: DeploymentPreference.Type 'TestDeploymentConfiguration' of Fn"), "\(deploy.stderr)")
        #expect(deploy.stderr.contains("--deployment-config TestDeploymentConfiguration=Canary10Percent5Minutes"))

        let given = ["--deployment-config", "TestDeploymentConfiguration=Canary20Percent7Minutes"]
        let known = try CLI.run(["validate", template] + given)
        #expect(known.status == 0 && !known.stderr.contains("warning"), "\(known.stderr)")
        #expect(known.stdout.contains("TestDeploymentConfiguration [0m→20% 7m→100%]"), "\(known.stdout)")
        let planned = try CLI.run(["deploy", template, "--state-dir", state, "--dry-run"] + given)
        #expect(planned.status == 0, "\(planned.stderr)")
        let deployed = try CLI.run(["deploy", template, "--state-dir", state, "--time-scale", "600"] + given)
        #expect(deployed.status == 0, "\(deployed.stderr)")
    }

    @Test(arguments: [
        ("Nope", "should read NAME=SHAPE"),
        ("X=Canary10Percent5Minute", "did you mean 'Canary10Percent5Minutes'?"),
        ("X=Sometimes", "'Sometimes' is not a shape"),
        ("AllAtOnce=Canary10Percent5Minutes", "'AllAtOnce' already names a schedule"),
    ])
    func badDeploymentConfigFlagsAreUsageErrors(flag: String, message: String) throws {
        let app = try Self.app(Self.function())
        let result = try CLI.run(["validate", app.appendingPathComponent("template.yaml").path, "--deployment-config", flag])
        #expect(result.status != 0)
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }

    @Test func strategyTyposNameTheNearestValidName() throws {
        let app = try Self.app(Self.function())
        let template = app.appendingPathComponent("template.yaml").path
        let result = try CLI.run(["deploy", template, "--state-dir", app.appendingPathComponent("state").path, "--dry-run",
                                  "--strategy", "Canary10Percent5Minute"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("--strategy: unknown deployment strategy 'Canary10Percent5Minute'; did you mean 'Canary10Percent5Minutes'?"),
                "\(result.stderr)")
        let unknown = try CLI.run(["deploy", template, "--state-dir", app.appendingPathComponent("state").path, "--dry-run", "--strategy", "Fastest"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("--deployment-config Fastest="), "\(unknown.stderr)")
    }

    @Test func missingCodeFolderWarnsInValidateAndStopsDeployAndInvokeFirst() throws {
        let app = try Self.app(Self.function(codeUri: "nowhere"))
        let template = app.appendingPathComponent("template.yaml").path
        let located = "\(template):6:16:"
        let validate = try CLI.run(["validate", template])
        #expect(validate.status == 0)
        #expect(validate.stderr.contains("\(located) warning: CodeUri of Fn is 'nowhere'"), "\(validate.stderr)")

        let state = app.appendingPathComponent("state")
        let deploy = try CLI.run(["deploy", template, "--state-dir", state.path])
        #expect(deploy.status == 1)
        #expect(deploy.stderr.contains("\(located) error: CodeUri of Fn is 'nowhere'") && deploy.stderr.contains("nothing was changed"), "\(deploy.stderr)")
        #expect(!FileManager.default.fileExists(atPath: state.path), "deploy changed the state folder before failing")

        let invoke = try CLI.run(["invoke", "Fn", "--state-dir", state.path], in: app)
        #expect(invoke.status == 1)
        #expect(invoke.stderr.contains("template.yaml:6:16: CodeUri of Fn is 'nowhere'"), "\(invoke.stderr)")
    }

    @Test func lambdaFunctionAndLayerWithLocalFoldersValidateAndRun() throws {
        let app = try Self.app("""
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
        """)
        try FileManager.default.createDirectory(at: app.appendingPathComponent("layer/python"), withIntermediateDirectories: true)
        try "GREETING = 'from the layer'\n".write(to: app.appendingPathComponent("layer/python/greeting.py"), atomically: true, encoding: .utf8)
        try "import greeting\ndef handler(event, context):\n    return {'greeting': greeting.GREETING}\n"
            .write(to: app.appendingPathComponent("src/app.py"), atomically: true, encoding: .utf8)
        let validate = try CLI.run(["validate", "template.yaml"], in: app)
        #expect(validate.status == 0, "\(validate.stderr)")
        #expect(!validate.stderr.contains("warning"), "\(validate.stderr)")
        let invoke = try CLI.run(["invoke", "Fn"], in: app)
        #expect(invoke.status == 0, "\(invoke.stderr)")
        #expect(invoke.stdout.contains("from the layer"), "\(invoke.stdout)")
    }

    @Test func unknownCommandsGetDidYouMean() throws {
        let result = try CLI.run(["valdate", "template.yaml"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("unknown command 'valdate'; did you mean 'validate'?"), "\(result.stderr)")
        let far = try CLI.run(["frobnicate"])
        #expect(far.status == 1)
        #expect(far.stderr.contains("The commands are validate, invoke, deploy"), "\(far.stderr)")
        #expect(try CLI.run(["help"]).status == 0)
    }
}

/// The shared corpus (../shared/corpus): every template the reference translator accepts passes `shift validate`.
enum CLICorpus {
    static let root: URL? = {
        let candidate = CLI.packageRoot.deletingLastPathComponent().appendingPathComponent("shared/corpus")
        return FileManager.default.fileExists(atPath: candidate.appendingPathComponent("expected").path) ? candidate : nil
    }()

    /// The templates the oracle translated (its summary has no "error").
    static var accepted: [URL] {
        guard let root else { return [] }
        return ["apps", "sam-translator/input"].flatMap { folder in
            ((try? FileManager.default.contentsOfDirectory(at: root.appendingPathComponent(folder), includingPropertiesForKeys: nil)) ?? [])
                .filter { ["yaml", "yml"].contains($0.pathExtension) }
        }.filter { template in
            let summary = root.appendingPathComponent("expected/\(template.deletingPathExtension().lastPathComponent).json")
            guard let data = try? Data(contentsOf: summary),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return false }
            return object["error"] == nil
        }.sorted { $0.path < $1.path }
    }

    /// The parameter values the oracle used for an app template (apps/params.json).
    static func overrides(for template: URL) -> [String] {
        guard let root, template.path.contains("/apps/"),
              let data = try? Data(contentsOf: root.appendingPathComponent("apps/params.json")),
              let all = try? JSONSerialization.jsonObject(with: data) as? [String: [String: String]],
              let values = all[template.deletingPathExtension().lastPathComponent], !values.isEmpty else { return [] }
        return ["--parameter-overrides"] + values.sorted { $0.key < $1.key }.map { "ParameterKey=\($0.key),ParameterValue=\($0.value)" }
    }
}

@Suite("shift validate on the shared corpus")
struct CorpusValidateCommandTests {
    @Test(.enabled(if: CLICorpus.root != nil, "../shared/corpus not found beside the checkout"))
    func everyTemplateTheTranslatorAcceptsIsValid() throws {
        let templates = CLICorpus.accepted
        #expect(templates.count > 80, "expected the whole corpus, found \(templates.count) accepted templates")
        #expect(templates.contains { $0.lastPathComponent == "function_with_custom_codedeploy_deployment_preference.yaml" })
        #expect(templates.contains { $0.lastPathComponent == "function_with_custom_conditional_codedeploy_deployment_preference.yaml" })
        for template in templates {
            // The oracle translates in ap-southeast-1 (corpus/README.md).
            let result = try CLI.run(["validate", template.path, "--region", "ap-southeast-1"] + CLICorpus.overrides(for: template))
            #expect(result.status == 0, "\(template.lastPathComponent): \(result.stderr.split(separator: "\n").filter { $0.contains("error") })")
        }
    }
}
