import DeploymentEngine
import Foundation
import Rollout
import Runtime
import Synchronization
import TemplateModel
import Testing

/// Whether python3 can run the fixture functions here.
enum Python {
    static let available: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import json, urllib.request"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()
}

/// What a lifecycle hook function does when invoked: reports a status through CodeDeploy's
/// `PutLifecycleEventHookExecutionStatus`, or returns without reporting.
enum HookMode: String, Sendable {
    case succeeded = "Succeeded"
    case failed = "Failed"
    case silent
}

/// A SAM app on disk: python functions with AutoPublishAlias `live`, each with an alarm on the errors of its
/// new version (FunctionName + ExecutedVersion, so direct invocations of the version count), optional
/// hooks, and releases of their code (`good1`, `good2`, `good3`, `broken`) chosen by parameter.
struct AppFixture: Sendable {
    struct FunctionSpec: Sendable {
        var name: String
        /// The DeploymentPreference Type (a request's strategy overrides it).
        var type = "AllAtOnce"
        var preTraffic = false
        var postTraffic = false
    }

    let folder: URL
    let functions: [FunctionSpec]
    var templatePath: String { folder.appendingPathComponent("template.yaml").path }
    var stateDirectory: URL { folder.appendingPathComponent("state") }

    static let releases = [
        "good1": "def handler(event, context):\n    return {'release': 1}\n",
        "good2": "def handler(event, context):\n    return {'release': 2}\n",
        "good3": "def handler(event, context):\n    return {'release': 3}\n",
        "broken": "def handler(event, context):\n    raise ValueError('this release is broken')\n",
    ]

    /// The hook: its behaviour is read from a file at each invocation, so a test can change it between runs.
    static let hookCode = """
    import json, os, urllib.request
    def handler(event, context):
        with open(os.environ["MODE_FILE"]) as f:
            mode = f.read().strip()
        if mode == "silent":
            return "silent"
        body = json.dumps({"deploymentId": event["DeploymentId"], "lifecycleEventHookExecutionId": event["LifecycleEventHookExecutionId"], "status": mode}).encode()
        request = urllib.request.Request(os.environ["AWS_ENDPOINT_URL_CODEDEPLOY"], data=body, method="POST", headers={
            "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus"})
        with urllib.request.urlopen(request) as response:
            return json.loads(response.read())
    """

    /// Runs `body` with a fresh app in a temporary folder, removed afterwards.
    static func with<T>(_ functions: [FunctionSpec] = [FunctionSpec(name: "Fn")], _ body: (AppFixture) async throws -> T) async throws -> T {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("shift-engine-test-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let app = AppFixture(folder: folder, functions: functions)
        try app.write()
        return try await body(app)
    }

    private func write() throws {
        for (name, code) in Self.releases {
            let directory = folder.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try code.write(to: directory.appendingPathComponent("app.py"), atomically: true, encoding: .utf8)
        }
        var parameters = ""
        var resources = ""
        for function in functions {
            let name = function.name
            parameters += "  Code\(name): {Type: String, Default: good1}\n"
            var hooks = ""
            for (hook, enabled) in [("PreTraffic", function.preTraffic), ("PostTraffic", function.postTraffic)] where enabled {
                let hookName = "\(name)\(hook)Hook"
                hooks += "          \(hook): !Ref \(hookName)\n"
                try setHook(hookName, .succeeded)
                resources += """
                  \(hookName):
                    Type: AWS::Serverless::Function
                    Properties:
                      Runtime: python3.12
                      Handler: index.handler
                      Timeout: 30
                      Environment:
                        Variables:
                          MODE_FILE: \(modeFile(hookName).path)
                      InlineCode: |
                \(Self.hookCode.split(separator: "\n", omittingEmptySubsequences: false).map { "            " + $0 }.joined(separator: "\n"))

                """
            }
            resources += """
              \(name):
                Type: AWS::Serverless::Function
                Properties:
                  CodeUri: !Ref Code\(name)
                  Handler: app.handler
                  Runtime: python3.12
                  AutoPublishAlias: live
                  DeploymentPreference:
                    Type: \(function.type)
                    Alarms: [!Ref \(name)Errors]
            \(hooks.isEmpty ? "" : "        Hooks:\n" + hooks)
              \(name)Errors:
                Type: AWS::CloudWatch::Alarm
                Properties:
                  Namespace: AWS/Lambda
                  MetricName: Errors
                  Dimensions:
                    - {Name: FunctionName, Value: !Ref \(name)}
                    - {Name: ExecutedVersion, Value: !GetAtt \(name).Version.Version}
                  Statistic: Sum
                  Period: 60
                  EvaluationPeriods: 1
                  Threshold: 0
                  ComparisonOperator: GreaterThanThreshold
                  TreatMissingData: notBreaching

            """
        }
        try """
        Transform: AWS::Serverless-2016-10-31
        Parameters:
        \(parameters)Resources:
        \(resources)
        """.write(toFile: templatePath, atomically: true, encoding: .utf8)
    }

    private func modeFile(_ hookName: String) -> URL { folder.appendingPathComponent("\(hookName).mode") }

    /// Sets what the hook function `hookName` (e.g. `FnPreTrafficHook`) does from its next invocation on.
    func setHook(_ hookName: String, _ mode: HookMode) throws {
        try mode.rawValue.write(to: modeFile(hookName), atomically: true, encoding: .utf8)
    }

    /// The template with each function's code folder (`releases` by function name; others keep `good1`),
    /// `Fn.Version` references resolved to `versions` when given.
    func template(_ releases: [String: String], versions: [String: String] = [:]) throws -> Template {
        let contents = try String(contentsOfFile: templatePath, encoding: .utf8)
        var overrides: [String: String] = [:]
        for (function, release) in releases { overrides["Code\(function)"] = release }
        let result = TemplateLoader.load(contents: contents, path: templatePath,
                                         options: LoadOptions(parameterOverrides: overrides, versionNumbers: versions))
        guard let template = result.template else {
            throw FixtureError(message: "the fixture template does not load: \(result.diagnostics.map(\.description))")
        }
        return template
    }

    /// The same release for every function.
    func releases(_ release: String) -> [String: String] {
        Dictionary(uniqueKeysWithValues: functions.map { ($0.name, release) })
    }

    /// Runs `body` on a new target over the state directory with a manual clock at `start` (epoch ms), or
    /// with `clock` continuing from an earlier session; always closes it.
    func withSession<T>(start: Int64 = Session.defaultStart, clock: ManualClock? = nil, _ body: (Session) async throws -> T) async throws -> T {
        let clock = clock ?? ManualClock(startMilliseconds: start)
        let target = try await LocalTarget.open(stateDirectory: stateDirectory, clock: clock, routingSeed: 7)
        let session = Session(app: self, clock: clock, target: target)
        do {
            let result = try await body(session)
            await session.close()
            return result
        } catch {
            await session.close()
            throw error
        }
    }
}

extension DeploymentOutcome {
    /// The rollouts' results (none when there was nothing to do).
    var results: [RolloutResult] {
        if case let .rolledOut(results) = self { return results }
        return []
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// One process's view of the app: a target on the state directory, its manual clock, the events of its deployments.
final class Session: Sendable {
    /// 2023-11-14T22:13:20Z: twenty seconds into a minute, so schedule steps and metric periods do not coincide.
    static let defaultStart: Int64 = 1_700_000_000_000

    let app: AppFixture
    let clock: ManualClock
    let target: LocalTarget
    /// The same target behind a kill switch, for deployments a test kills.
    let killable: KillableTarget
    let log = EventLog()
    let driver: ClockDriver
    let inputs: AsyncStream<ExecutorInput>
    private let inputContinuation: AsyncStream<ExecutorInput>.Continuation
    private let running = Mutex<[Deployment]>([])

    init(app: AppFixture, clock: ManualClock, target: LocalTarget) {
        self.app = app
        self.clock = clock
        self.target = target
        self.killable = KillableTarget(target)
        self.driver = ClockDriver(clock: clock)
        (inputs, inputContinuation) = AsyncStream<ExecutorInput>.makeStream()
    }

    var now: Instant { Instant(millisecondsSinceEpoch: clock.nowMilliseconds) }

    /// A request for the app's template; `strategy` nil keeps each function's DeploymentPreference Type.
    func request(strategy: String? = nil, hookTimeout: Duration = .seconds(3600), allOrNothing: Bool = false) -> DeploymentRequest {
        DeploymentRequest(templatePath: app.templatePath, strategy: strategy, hookTimeout: hookTimeout, allOrNothing: allOrNothing)
    }

    /// `shift deploy` of `releases` (function → release), run to its end; only for deployments that need no time to pass (a first one).
    func deploy(_ releases: [String: String], _ request: DeploymentRequest? = nil) async throws -> DeploymentOutcome {
        try await deployer(releases, request ?? self.request(), target: target)()
    }

    /// Starts `shift deploy` of `releases` in a task; drive the clock, then await its value. A `killable`
    /// deployment goes through the kill switch (see `kill(_:)`).
    func startDeploy(_ releases: [String: String], _ request: DeploymentRequest? = nil, killable: Bool = false) -> Deployment {
        let deployment = Deployment(deployer(releases, request ?? self.request(), target: killable ? self.killable : target))
        running.withLock { $0.append(deployment) }
        return deployment
    }

    private func deployer(_ releases: [String: String], _ request: DeploymentRequest,
                          target: any TemplateAwareTarget) -> @Sendable () async throws -> DeploymentOutcome {
        let app = self.app, log = self.log, inputs = self.inputs, clock = self.target.deploymentClock
        return {
            let template = try app.template(releases)
            try await target.load(template)
            let deployer = Deployer(target: target, clock: clock, emit: log.sink)
            return try await deployer.deploy(template: template, request: request, resolve: { versions in
                try app.template(releases, versions: versions)
            }, inputs: inputs)
        }
    }

    /// Simulates `kill -9` of the process running a killable deployment: from now on nothing it does reaches
    /// the state directory. Its task is cancelled and time is moved on, so that it ends at its next action
    /// even if it ignores the cancellation; this session's clock is then useless (close the session).
    func kill(_ deployment: Deployment, sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws {
        killable.kill()
        deployment.task.cancel()
        clock.advance(by: .seconds(24 * 3600))
        try await waitUntil("the killed deployment's task to end", sourceLocation: sourceLocation) { deployment.isDone }
    }

    /// Sends an input (an abort) to the running executor.
    func send(_ input: ExecutorInput) {
        inputContinuation.yield(input)
    }

    /// Steps the clock until every alias in `aliases` finished, holding while a hook runs.
    func driveToEnd(_ aliases: [AliasRef] = [.live], atMost limit: Duration = .seconds(3 * 3600),
                    sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws {
        let log = self.log
        let first = log.events.count
        try await driver.advance(until: "the deployment of \(aliases) to finish", atMost: limit, sourceLocation: sourceLocation,
                                 hold: { log.events.hookRunning }) {
            let events = log.events.dropFirst(first)
            return aliases.allSatisfy { Array(events).finished($0) != nil }
        }
    }

    /// Steps the clock until the events satisfy `condition`.
    func drive(until what: String, atMost limit: Duration = .seconds(3 * 3600), sourceLocation: Testing.SourceLocation = #_sourceLocation,
               _ condition: @escaping @Sendable ([DeploymentEvent]) -> Bool) async throws {
        let log = self.log
        try await driver.advance(until: what, atMost: limit, sourceLocation: sourceLocation, hold: { log.events.hookRunning }) {
            condition(log.events)
        }
    }

    /// Invokes a version (or alias) of a function directly, as a client of the Invoke API would.
    @discardableResult
    func invoke(_ function: String = "Fn", qualifier: String) async throws -> InvokeResponse {
        try await target.stack.service.invoke(InvokeRequest(function: function, qualifier: qualifier))
    }

    func routing(_ alias: AliasRef = .live) async throws -> AliasRouting? {
        try await target.routing(of: alias)
    }

    /// Ends any deployment still running (as a kill would) and closes the target (ends function processes, saves metrics).
    func close() async {
        let unfinished = running.withLock { $0 }.filter { !$0.isDone }
        for deployment in unfinished { try? await kill(deployment) }
        inputContinuation.finish()
        await target.close()
    }
}

/// A `Deployer.deploy` running in its own task.
final class Deployment: Sendable {
    let task: Task<DeploymentOutcome, any Error>
    private let done: Flag

    init(_ run: @escaping @Sendable () async throws -> DeploymentOutcome) {
        let done = Flag()
        self.done = done
        task = Task {
            defer { done.set() }
            return try await run()
        }
    }

    var isDone: Bool { done.value }
    var value: DeploymentOutcome { get async throws { try await task.value } }
}

final class Flag: Sendable {
    private let state = Mutex(false)
    func set() { state.withLock { $0 = true } }
    var value: Bool { state.withLock { $0 } }
}
