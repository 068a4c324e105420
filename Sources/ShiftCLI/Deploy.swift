import ArgumentParser
import DeploymentEngine
import Foundation
import Rollout
import Runtime
import TemplateModel

/// `shift deploy`: publish what the template describes and move each alias's traffic to it safely.
struct Deploy: AsyncParsableCommand, JSONOutputCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish new versions and shift alias traffic to them (Canary, Linear, AllAtOnce), rolling back on alarms.",
        discussion: """
        Every function with AutoPublishAlias gets a version from its code on disk; an alias that already \
        serves an older version is moved by its DeploymentPreference (or --strategy) while alarms are watched \
        and the new version is judged against the old on the calls each serves (a Fail rolls back at once; \
        the last step before 100 % waits for a Pass, up to --judge-hold). \
        Exit status: 0 deployed (or nothing to deploy, or a dry run), 3 a new version was rolled back or \
        stopped, 4 the judgement stayed Inconclusive (too few calls to tell; the alias follows \
        --on-inconclusive), 1 any other error.
        """)

    @Argument(help: "The SAM template (template.yml when there is no template.yaml).")
    var template: String = TemplateFile.defaultPath

    @Option(help: "A strategy for every function, overriding DeploymentPreference.Type (e.g. Canary10Percent5Minutes, Linear10PercentEvery1Minute, AllAtOnce).")
    var strategy: String?

    @Option(help: "How many times faster than real time the schedule, metrics and hook timeout run (60: a minute lasts a second).")
    var timeScale: Double = 1

    @Option(help: "Events to replay through the alias while traffic shifts: a .jsonl file (one event a line) or a folder of .json files.")
    var traffic: String?

    @Option(help: "Serve the template's HTTP events (Api, HttpApi, function URLs, load balancers) on this port while traffic shifts, through the aliases (0 picks a free one).")
    var httpPort: Int?

    @Option(help: "Invocations per second (wall time) of the replayed traffic.")
    var rate: Double = 20

    @Flag(help: "Show the plan (versions, changes, schedule, hooks, alarms); publish and change nothing.")
    var dryRun = false

    @Option(help: "text, json (one JSON object a line per event, the last one run.finished) or markdown (a table per alias at the end, for a CI summary or a pull-request comment).")
    var output: DeployOutputFormat = .text

    @Flag(help: "Do not append the Markdown summary to the file GITHUB_STEP_SUMMARY names (GitHub Actions sets it).")
    var noSummary = false

    @Option(help: "When the deployment ends, write its report to this file: HTML with a timeline (.html) or Markdown (.md); see `report`.")
    var report: String?

    @Option(name: .customLong("function"), help: "Deploy only this function (logical id or name); repeatable.")
    var functions: [String] = []

    @Option(help: "How long a hook may take to report, in schedule time (e.g. 60m, 90s, 1h).")
    var hookTimeout: String = "60m"

    @Option(help: "Also roll back when the new version's error rate exceeds this (e.g. 5%).")
    var alarmErrorRate: String?

    @Option(help: "Also roll back when the new version's p99 duration exceeds this many milliseconds.")
    var alarmP99Ms: String?

    @Option(help: "Seed for the alias's weighted routing (repeatable runs).")
    var seed: UInt64?

    @Option(help: "For --dry-run's detection analysis: calls per second through each alias in schedule time (default: --rate / --time-scale).")
    var expectedRate: Double?

    @Option(help: "For --dry-run's detection analysis: the error rate of a faulty new version whose failed calls it estimates (e.g. 5%).")
    var assumeErrorRate: String = "5%"

    @Flag(help: "Shift the template's aliases as one release: an alarm or hook failure on any of them rolls all of them back.")
    var allOrNothing = false

    @OptionGroup(title: "Judging the new version against the old") var judgementOptions: JudgementOptions
    @OptionGroup var templateOptions: TemplateOptions
    @OptionGroup var deploymentConfigOptions: DeploymentConfigOptions
    @OptionGroup var stateOptions: StateOptions
    @OptionGroup var concurrencyOptions: ConcurrencyOptions

    func validate() throws {
        guard StateClock.timeScaleRange.contains(timeScale) else {
            throw ValidationError("--time-scale must be from 0.001 to 100000, e.g. 60 (a minute lasts a second)")
        }
        if let httpPort, !(0...65_535).contains(httpPort) { throw ValidationError("--http-port must be 0…65535") }
        if httpPort != nil, dryRun { throw ValidationError("--http-port serves traffic while a deployment shifts it; a --dry-run shifts nothing, so drop one of them") }
        guard rate > 0, rate <= 10_000 else { throw ValidationError("--rate must be between 0 and 10000 invocations per second") }
        if let expectedRate, !(expectedRate > 0 && expectedRate <= 100_000) {
            throw ValidationError("--expected-rate must be above 0 and at most 100000 calls per second, e.g. 20")
        }
        _ = try JudgementOptions.percent(assumeErrorRate, "--assume-error-rate", example: "5%", upTo100: true)
        _ = try parsedHookTimeout()
        if let alarmErrorRate {
            do throws(RolloutError) { _ = try AlarmDefinition.parseErrorRateFlag(alarmErrorRate) } catch { throw ValidationError(error.message) }
        }
        if let alarmP99Ms {
            do throws(RolloutError) { _ = try AlarmDefinition.parseMillisecondsFlag(alarmP99Ms) } catch { throw ValidationError(error.message) }
        }
        if let report {
            guard ReportFormat(fileName: report) != nil else {
                throw ValidationError("--report '\(report)' must end in .html or .md (or .json), which chooses the report's format")
            }
            guard !dryRun else { throw ValidationError("--report describes a deployment; a --dry-run has none (--output markdown prints the plan)") }
        }
        if let strategy {
            do throws(RolloutError) { _ = try TrafficSchedule(named: strategy) } catch {
                // A custom config of the template may carry this name; checked again once the template is read.
                if error.code != .unknownStrategy { throw ValidationError("--strategy: \(error.message)") }
            }
        }
    }

    func parsedHookTimeout() throws -> Duration {
        guard let duration = DurationText.parse(hookTimeout) else {
            throw ValidationError("--hook-timeout '\(hookTimeout)' is not a duration; write e.g. 60m, 90s or 1h")
        }
        return duration
    }

    static let jsonStyle = JSONOutput.Style.stream

    /// GitHub Actions' job summary file, which every step appends its Markdown to.
    static var stepSummaryFile: String? {
        ProcessInfo.processInfo.environment["GITHUB_STEP_SUMMARY"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// A deploy that fails before it starts still ends its stream with `run.finished`.
    static func json(for failure: Failure) -> String {
        DeploymentRenderer.runFinished(exitCode: failure.exitCode, outcomes: [], failure: failure)
    }

    func run() async throws {
        let renderer = DeploymentRenderer(format: output, dryRun: dryRun, summaryFile: noSummary ? nil : Self.stepSummaryFile)
        let outcome: DeploymentOutcome
        let reportPath: String?
        do {
            (outcome, reportPath) = try await deploy(renderer)
        } catch {
            let failure = Shift.failure(error)
            renderer.finish(exitCode: failure.exitCode, failure: failure)
            throw ReportedError(underlying: error)
        }
        let exitCode: Int32 = outcome.inconclusive ? 4 : (outcome.succeeded ? 0 : 3)
        renderer.finish(exitCode: exitCode, report: reportPath)
        if exitCode != 0 { throw ExitCode(exitCode) }
    }

    /// The front door on `port`, its URL on stderr (stdout carries the deployment's own output).
    private func openFrontDoor(port: Int, template: Template, target: LocalTarget) async throws -> FrontDoorServer? {
        let routes = FrontDoorMapping.routes(of: template, served: Set(await target.stack.service.functionNames))
        guard !routes.isEmpty else {
            Terminal.standard.write("warning: --http-port: no function of \(template.path) has an HTTP event (Api, HttpApi, FunctionUrlConfig, load balancer target group); nothing is served\n", to: .error)
            return nil
        }
        let server = try await FrontDoorServer.bind(host: "127.0.0.1", port: port,
                                                    router: .logging(routes: routes, service: target.stack.service, template: template))
        Terminal.standard.write("front door on \(server.url)\n", to: .error)
        return server
    }

    private func deploy(_ renderer: DeploymentRenderer) async throws -> (DeploymentOutcome, report: String?) {
        let request = DeploymentRequest(
            templatePath: template, strategy: strategy, functions: functions, hookTimeout: try parsedHookTimeout(),
            alarmErrorRate: try alarmErrorRate.map { text throws -> Double in
                do throws(RolloutError) { return try AlarmDefinition.parseErrorRateFlag(text) } catch { throw ValidationError(error.message) }
            },
            alarmP99Ms: try alarmP99Ms.map { text throws -> Double in
                do throws(RolloutError) { return try AlarmDefinition.parseMillisecondsFlag(text) } catch { throw ValidationError(error.message) }
            },
            allOrNothing: allOrNothing, deploymentConfigs: try deploymentConfigOptions.configs(),
            judgement: try judgementOptions.settings(), expectedRate: expectedRate, replayRate: rate / timeScale,
            assumedErrorRate: try JudgementOptions.percent(assumeErrorRate, "--assume-error-rate", example: "5%", upTo100: true))
        let loadOptions = try templateOptions.loadOptions()
        let templatePath = template
        // `Fn.Version` references (hooks' environments, alarms) resolve once versions have numbers.
        let resolve: @Sendable ([String: String]) throws -> Template = { versions in
            var options = loadOptions
            options.versionNumbers = versions
            return try TemplateFile.loadOrFail(templatePath, options: options, deploymentConfigs: request.deploymentConfigs)
        }
        let loaded = try TemplateFile.loadOrFail(template, options: loadOptions, deploymentConfigs: request.deploymentConfigs)
        try TemplateFile.requireCodeFolders(of: loaded.functions.filter { $0.autoPublishAlias != nil }, in: loaded)
        // Read the traffic first: a bad file is reported before anything is published.
        let replay = try traffic.map { try TrafficReplay(path: $0, rate: rate) }
        let stateDirectory = stateOptions.directory(forTemplate: template)
        let region = loaded.pseudoParameters.region, accountId = loaded.pseudoParameters.accountId
        if dryRun {
            try await LocalTarget.withPlanningTarget(stateDirectory: stateDirectory, region: region, accountId: accountId, timeScale: timeScale,
                                                     configure: concurrencyOptions.configure) { target in
                try await target.load(loaded)
                try await Deployer(target: target, clock: target.deploymentClock, emit: renderer.sink)
                    .dryRun(template: loaded, request: request, resolve: resolve)
            }
            return (.nothingToDo, nil)
        }
        let target = try await LocalTarget.open(stateDirectory: stateDirectory, region: region, accountId: accountId,
                                                timeScale: timeScale, routingSeed: seed, configure: concurrencyOptions.configure)
        let outcome: DeploymentOutcome
        do {
            try await target.load(loaded, requiring: loaded.functions.filter { $0.autoPublishAlias != nil }.map(\.logicalId))
            var frontDoor: FrontDoorServer?
            if let httpPort { frontDoor = try await openFrontDoor(port: httpPort, template: loaded, target: target) }
            let (inputs, continuation) = AsyncStream<ExecutorInput>.makeStream()
            let deployer = Deployer(target: target, clock: target.deploymentClock,
                                    executorOptions: .init(reportsProgress: renderer.live), emit: renderer.sink)
            outcome = try await withThrowingTaskGroup(of: DeploymentOutcome?.self) { group in
                group.addTask {
                    for await number in Signals.stream() { continuation.yield(.abort(reason: Signals.describe(number))) }
                    return nil
                }
                group.addTask {
                    if let reason = await target.nextStopRequest() { continuation.yield(.abort(reason: reason)) }
                    return nil
                }
                if let frontDoor {
                    group.addTask {
                        try? await frontDoor.run()
                        return nil
                    }
                }
                if renderer.live {
                    group.addTask {
                        await Terminal.standard.redrawOnResize()
                        return nil
                    }
                }
                group.addTask {
                    try await deployer.deploy(template: loaded, request: request, resolve: resolve, traffic: replay, inputs: inputs)
                }
                var outcome = DeploymentOutcome.nothingToDo
                while let next = try await group.next() {
                    if let next {
                        outcome = next
                        group.cancelAll()
                    }
                }
                await frontDoor?.closeListener()
                return outcome
            }
            if let report { try await writeReport(to: report, target: target, record: renderer.record) }
        } catch {
            await target.close()
            throw error
        }
        await target.close()
        return (outcome, report)
    }

    /// The report of this run's rollouts (a run that shifted nothing gets one that says what it did instead).
    private func writeReport(to path: String, target: LocalTarget, record: RunRecord) async throws {
        let format = ReportFormat(fileName: path) ?? .html
        let document: String
        if let first = record.outcomes.lazy.compactMap(\.deploymentId).first {
            let report = try await DeploymentReport.build(target: target, selector: first, now: target.deploymentClock.now)
            document = ReportDocument.render(report, format: format)
        } else if format == .markdown {
            document = MarkdownSummary.render(record, exitCode: 0, failure: nil, dryRun: false)
        } else {
            let notes = record.outcomes.map { "\($0.alias): \($0.status)" + ($0.version.map { " on version \($0)" } ?? "") }
            document = ReportDocument.render(DeploymentReport(run: "", aliases: [], notes: notes + (record.nothingToDeploy.map { [$0] } ?? [])), format: format)
        }
        try ReportDocument.write(document, to: path)
    }
}
