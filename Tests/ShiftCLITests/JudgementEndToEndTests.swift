import Foundation
import Testing

/// The judgement with real processes: a new version against the old on the same replayed traffic, under a
/// Canary10Percent5Minutes whose only alarm watches the whole alias at 5 % (at a 10 % canary it cannot fire).
@Suite("shift deploy judges the new version against the old, run as processes", .serialized)
struct JudgementEndToEndTests {
    /// The fixture app with the judgement's releases, and its only alarm on the whole alias at 5 %.
    static func app() throws -> DeployFixture {
        try DeployFixture(releases: [
            "base": "def handler(event, context):\n    return {'release': 'base'}\n",
            "healthy": "def handler(event, context):\n    return {'release': 'healthy'}\n",
            // Every 33rd call of each process fails: 3 % of the calls, none of the old version's.
            "fails3": "calls = 0\ndef handler(event, context):\n    global calls\n    calls += 1\n    if calls % 33 == 0:\n        raise ValueError('one call in 33 fails')\n    return {'release': 'fails3'}\n",
            "slow": "import time\ndef handler(event, context):\n    time.sleep(0.05)\n    return {'release': 'slow'}\n",
        ], aliasWideAlarm: true, threshold: 5, events: 50)
    }

    /// Outside CI, whatever the machine running the tests says.
    static let local = ["CI": ""]

    static func last(_ events: [[String: Any]], _ name: String) -> [String: Any]? {
        events.last { $0["event"] as? String == name }
    }

    @Test(.timeLimit(.minutes(3)))
    func aVersionFailingThreePercentIsRolledBackDuringTheCanaryThoughItsAlarmCannotFire() throws {
        let app = try Self.app()
        #expect(try app.deploy("base").status == 0)
        // The canary is held (up to an hour of schedule time) until the judgement can tell.
        let run = try app.deploy("fails3", ["--time-scale", "60", "--traffic", app.traffic, "--rate", "1000", "--judge-hold", "60m"], judged: true, environment: Self.local)
        #expect(run.status == 3, "\(run.stderr)")
        let judgement = try #require(Self.last(run.events, "judgement"))
        #expect(judgement["verdict"] as? String == "Fail" && judgement["errors"] as? String == "Fail")
        let reason = judgement["reason"] as? String ?? ""
        #expect(reason.contains("version 2 failed") && reason.contains("for version 1; the tolerated increase is 1 %; confidence 0.99"), "\(reason)")
        let rolledBack = try #require(Self.last(run.events, "deployment.rolledBack"))
        #expect((rolledBack["reason"] as? String ?? "").hasPrefix("judgement Fail: version 2 failed"))
        // It never reached 100 %, and the alias-wide alarm never fired.
        let weights = run.events.filter { $0["event"] as? String == "traffic.shifted" }.compactMap { ($0["weights"] as? [String: Double])?["2"] }
        #expect(weights.allSatisfy { $0 < 1 }, "\(weights)")
        #expect(!run.events.contains { $0["event"] as? String == "alarm.changed" && $0["state"] as? String == "ALARM" })
        let finished = try #require(run.events.last)
        #expect(finished["status"] as? String == "Failed" && finished["exitCode"] as? Int == 3)
        #expect((finished["functions"] as? [[String: Any]])?.first?["verdict"] as? String == "Fail")
    }

    @Test(.timeLimit(.minutes(3)))
    func aVersionFiftyMillisecondsSlowerIsRolledBackOnLatency() throws {
        let app = try Self.app()
        #expect(try app.deploy("base").status == 0)
        let run = try app.deploy("slow", ["--time-scale", "60", "--traffic", app.traffic, "--rate", "200", "--judge-hold", "60m"], judged: true, environment: Self.local)
        #expect(run.status == 3, "\(run.stderr)")
        let judgement = try #require(Self.last(run.events, "judgement"))
        #expect(judgement["verdict"] as? String == "Fail" && judgement["latency"] as? String == "Fail", "\(judgement)")
        let reason = judgement["reason"] as? String ?? ""
        #expect(reason.contains("version 2's p95 latency is") && reason.contains("the tolerated increase is 20 %"), "\(reason)")
    }

    @Test(.timeLimit(.minutes(3)))
    func aHealthyVersionPassesAndGoesToFullTraffic() throws {
        let app = try Self.app()
        #expect(try app.deploy("base").status == 0)
        let run = try app.deploy("healthy", ["--time-scale", "60", "--traffic", app.traffic, "--rate", "500", "--judge-hold", "60m"], judged: true, environment: Self.local)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(Self.last(run.events, "judgement")?["verdict"] as? String == "Pass")
        let succeeded = try #require(Self.last(run.events, "deployment.succeeded"))
        #expect((succeeded["reason"] as? String ?? "").contains("judgement Pass"))
        #expect((run.events.last?["functions"] as? [[String: Any]])?.first?["verdict"] as? String == "Pass")
    }

    @Test func aDeploymentWithoutTrafficEndsInconclusive() throws {
        let app = try Self.app()
        #expect(try app.deploy("base").status == 0)
        // Outside CI an Inconclusive release goes on (loudly: exit 4); in CI it is rolled back.
        let local = try app.deploy("healthy", ["--time-scale", "600"], judged: true, environment: Self.local)
        #expect(local.status == 4, "\(local.stderr)")
        let finished = try #require(local.events.last)
        #expect(finished["status"] as? String == "Inconclusive" && finished["exitCode"] as? Int == 4)
        let function = (finished["functions"] as? [[String: Any]])?.first
        #expect(function?["verdict"] as? String == "Inconclusive" && function?["status"] as? String == "Succeeded")
        let lastLook = try #require(Self.last(local.events, "judgement"))
        #expect((lastLook["reason"] as? String ?? "").contains("served no calls yet"), "\(lastLook)")

        #expect(try app.deploy("base", ["--time-scale", "600"]).status == 0)
        let ci = try app.deploy("healthy", ["--time-scale", "600"], judged: true, environment: ["CI": "true"])
        #expect(ci.status == 4, "\(ci.stderr)")
        let rolledBack = try #require(Self.last(ci.events, "deployment.rolledBack"))
        #expect((rolledBack["reason"] as? String ?? "").contains("judgement Inconclusive after holding 10 % for 10 min more (--on-inconclusive fail)"))
        #expect((ci.events.last?["functions"] as? [[String: Any]])?.first?["status"] as? String == "Failed")
    }
}

/// The dry run as a pull-request check: could this plan's alarms catch anything, and what would the judgement add?
@Suite("shift deploy --dry-run's detection analysis, run as a process")
struct DetectionDryRunTests {
    @Test func theBundledExampleIsAnalysedAndItsWeakAlarmFlagged() throws {
        let state = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: state) }
        let text = try CLI.run(["deploy", "examples/greeter/template.yaml", "--dry-run", "--state-dir", state.path])
        #expect(text.status == 0, "\(text.stderr)")
        // The default --rate (20/s) is shared by the example's two aliases, as the replayed traffic would be.
        #expect(text.stdout.contains("detection at 10 calls/s (200 simulated rollouts):"), "\(text.stdout)")
        #expect(text.stdout.contains("alarm GreeterErrorsAlarm: watches the new version"))
        #expect(text.stdout.contains("warning: alarm 'GreeterAliasErrorsAlarm' watches both versions"), "\(text.stdout)")
        #expect(text.stdout.contains("`ExecutedVersion` with `!GetAtt Greeter.Version.Version`"))
        // A first deployment is analysed as the next release's rollout: version 2 replacing 1.
        #expect(text.stdout.contains("at 10 % version 2 would have to fail"))
        #expect(text.stdout.contains("caught before 100 % in 95 % of rollouts: alarms alone +"))

        let json = try CLI.run(["deploy", "examples/greeter/template.yaml", "--dry-run", "--state-dir", state.path, "--output", "json",
                                "--expected-rate", "5", "--assume-error-rate", "10%"])
        #expect(json.status == 0, "\(json.stderr)")
        let plan = try #require(DeployFixture.events(json.stdout).first { $0["event"] as? String == "plan.function" && $0["function"] as? String == "Greeter" })
        let detection = try #require(plan["detection"] as? [String: Any])
        #expect(detection["rate"] as? Double == 5)
        let alarms = detection["alarms"] as? [[String: Any]] ?? []
        let weak = alarms.first { $0["name"] as? String == "GreeterAliasErrorsAlarm" }
        #expect((weak?["findings"] as? [[String: Any]])?.contains { $0["code"] as? String == "diluted" } == true, "\(alarms)")
        let blast = (detection["alarmsOnly"] as? [String: Any])?["blastRadius"] as? [String: Any]
        #expect(blast?["newErrorRate"] as? Double == 0.1)
        // The judgement never catches less than the alarms alone.
        let alone = (detection["alarmsOnly"] as? [String: Any])?["smallestCaughtIncrease"] as? Double
        let judged = (detection["withJudgement"] as? [String: Any])?["smallestCaughtIncrease"] as? Double
        if let alone, let judged { #expect(judged <= alone) }
    }

    @Test func plansThatCannotCatchAnythingSaySo() throws {
        let state = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: state) }
        let allAtOnce = try CLI.run(["deploy", "examples/greeter/template.yaml", "--dry-run", "--state-dir", state.path,
                                     "--function", "Greeter", "--strategy", "AllAtOnce"])
        #expect(allAtOnce.stdout.contains("warning: AllAtOnce gives the new version every call at once"), "\(allAtOnce.stdout)")
        #expect(!allAtOnce.stdout.contains("--no-judge"))
        // In CI, at a trickle of traffic, the judgement would roll back even a good version: said, not hidden.
        let trickle = try CLI.run(["deploy", "examples/greeter/template.yaml", "--dry-run", "--state-dir", state.path,
                                   "--function", "Greeter", "--expected-rate", "0.001"], environment: ["CI": "true"])
        #expect(trickle.stdout.contains("--on-inconclusive fail rolls back a version exactly as good as the old one"), "\(trickle.stdout)")
        #expect(trickle.stdout.contains("with judgement (rolls back good versions too)"))
    }
}
