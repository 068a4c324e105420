import ArgumentParser
import Foundation
import Rollout
import Runtime
import TemplateModel

/// `shift deploy`: publish what the template describes and move each alias's traffic to it safely.
struct Deploy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish new versions and shift alias traffic to them (Canary, Linear, AllAtOnce), rolling back on alarms.",
        discussion: """
        Every function with AutoPublishAlias gets a version from its code on disk; an alias that already \
        serves an older version is moved by its DeploymentPreference (or --strategy) while alarms are watched. \
        Exit status: 0 deployed (or nothing to deploy, or a dry run), 3 a new version was rolled back or \
        stopped, 1 any other error.
        """)

    @Argument(help: "The SAM template.")
    var template: String

    @Option(help: "A strategy for every function, overriding DeploymentPreference.Type (e.g. Canary10Percent5Minutes, Linear10PercentEvery1Minute, AllAtOnce).")
    var strategy: String?

    @Option(help: "How many times faster than real time the schedule, metrics and hook timeout run (60: a minute lasts a second).")
    var timeScale: Double = 1

    @Option(help: "Events to replay through the alias while traffic shifts: a .jsonl file (one event a line) or a folder of .json files.")
    var traffic: String?

    @Option(help: "Invocations per second (wall time) of the replayed traffic.")
    var rate: Double = 20

    @Flag(help: "Show the plan (versions, changes, schedule, hooks, alarms); publish and change nothing.")
    var dryRun = false

    @Option(help: "text or json (one JSON object a line per event).")
    var output: OutputFormat = .text

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

    @OptionGroup var templateOptions: TemplateOptions
    @OptionGroup var stateOptions: StateOptions

    func validate() throws {
        guard timeScale > 0, timeScale.isFinite else { throw ValidationError("--time-scale must be a positive number, e.g. 60") }
        guard rate > 0, rate <= 10_000 else { throw ValidationError("--rate must be between 0 and 10000 invocations per second") }
        _ = try parsedHookTimeout()
        if let alarmErrorRate {
            do throws(RolloutError) { _ = try AlarmDefinition.parseErrorRateFlag(alarmErrorRate) } catch { throw ValidationError(error.message) }
        }
        if let alarmP99Ms {
            do throws(RolloutError) { _ = try AlarmDefinition.parseMillisecondsFlag(alarmP99Ms) } catch { throw ValidationError(error.message) }
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

    func run() async throws {
        let settings = DeploySettings(
            templatePath: template, loadOptions: try templateOptions.loadOptions(), stateDirectory: stateOptions.directory(forTemplate: template),
            strategy: strategy, timeScale: timeScale, traffic: traffic, rate: rate, dryRun: dryRun, functions: functions,
            hookTimeout: try parsedHookTimeout(),
            alarmErrorRate: try alarmErrorRate.map { text throws -> Double in
                do throws(RolloutError) { return try AlarmDefinition.parseErrorRateFlag(text) } catch { throw ValidationError(error.message) }
            },
            alarmP99Ms: try alarmP99Ms.map { text throws -> Double in
                do throws(RolloutError) { return try AlarmDefinition.parseMillisecondsFlag(text) } catch { throw ValidationError(error.message) }
            },
            seed: seed)
        let output = DeployOutput(format: output)
        let code: Int32
        do {
            code = try await DeploymentRunner(settings: settings, output: output).run()
        } catch let error as CLIError {
            FileHandle.standardError.write(Data("shift deploy: error: \(error.message)\n".utf8))
            throw ExitCode(1)
        } catch let error as StateError {
            FileHandle.standardError.write(Data("shift deploy: error: \(error.message)\n".utf8))
            throw ExitCode(1)
        } catch let error as RuntimeError {
            FileHandle.standardError.write(Data("shift deploy: error: \(error.message)\n".utf8))
            throw ExitCode(1)
        }
        if code != 0 { throw ExitCode(code) }
    }
}

/// Everything `deploy` was asked to do, parsed.
struct DeploySettings: Sendable {
    var templatePath: String
    var loadOptions: LoadOptions
    var stateDirectory: URL
    var strategy: String?
    var timeScale: Double
    var traffic: String?
    var rate: Double
    var dryRun: Bool
    var functions: [String]
    var hookTimeout: Duration
    var alarmErrorRate: Double?
    var alarmP99Ms: Double?
    var seed: UInt64?
}
