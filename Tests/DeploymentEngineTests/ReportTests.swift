import DeploymentEngine
import Foundation
import Reports
import Rollout
import Runtime
import Testing
#if canImport(FoundationXML)
import FoundationXML
#endif

@Suite("Deployment reports from recorded deployments", .serialized, .enabled(if: Python.available, "needs python3"))
struct ReportTests {
    /// A Linear rollout with calls through the alias at every step: the report's step line has one segment per
    /// step, its totals are the calls that were answered, and the same state renders to the same bytes.
    @Test func linearRolloutReportsEveryStepAndEveryCall() async throws {
        try await AppFixture.with { app in
            try await app.withSession { session in
                _ = try await session.deploy(app.releases("good1"))
                let deployment = session.startDeploy(app.releases("good2"), session.request(strategy: "Linear10PercentEvery1Minute"))
                var answered: [String: Int] = [:]
                for step in 1...9 {
                    try await session.drive(until: "step \(step)") { $0.shifts().count == step }
                    for _ in 0..<(3 * step) {
                        let response = try await session.invoke(qualifier: "live")
                        answered[response.executedVersion ?? "?", default: 0] += 1
                    }
                }
                try await session.driveToEnd()
                _ = try await deployment.value
                let shifts = session.log.events.shifts()
                #expect(shifts.count == 10)

                let report = try await DeploymentReport.build(target: session.target, selector: "latest", now: session.now)
                let alias = try #require(report.aliases.first)
                #expect(report.aliases.count == 1 && alias.status == .succeeded && alias.from == "1" && alias.to == "2")
                #expect(alias.steps.map(\.weight) == shifts.map { $0["2"] ?? 0 })
                // Totals: exactly the calls the alias answered, per version, and the sum of the minutes.
                #expect(alias.totals == [VersionTraffic(version: "1", invocations: answered["1"] ?? 0, errors: 0),
                                         VersionTraffic(version: "2", invocations: answered["2"] ?? 0, errors: 0)])
                #expect(alias.minutes.reduce(0) { $0 + $1.new.invocations } == answered["2"] ?? 0)
                #expect(alias.minutes.reduce(0) { $0 + ($1.old?.invocations ?? 0) } == answered["1"] ?? 0)
                #expect(answered.values.reduce(0, +) == 135)
                // And what the runtime's metrics store counted for the alias, per executed version, since it began.
                let stored = session.target.stack.metrics.totals(metric: .invocations)
                for total in alias.totals {
                    let series = stored.filter { $0.key.matches(["FunctionName": "Fn", "Resource": "Fn:live", "ExecutedVersion": total.version]) }
                    #expect(Int(series.values.reduce(0, +)) == total.invocations, "version \(total.version)")
                }

                let html = HTMLReport.render(report)
                let document = try XHTMLDocument(html)
                #expect(document.root == "html" && document.namespaces.contains("http://www.w3.org/2000/svg"))
                let steps = document.elements.filter { $0.name == "line" && $0.attributes["class"] == "step" }
                #expect(steps.count == shifts.count, "one segment per traffic step")
                // Each segment is horizontal, starts where the one before ended, and sits higher for a larger weight.
                let ys = steps.compactMap { Double($0.attributes["y1"] ?? "") }
                #expect(steps.allSatisfy { $0.attributes["y1"] == $0.attributes["y2"] })
                #expect(zip(steps, steps.dropFirst()).allSatisfy { $0.attributes["x2"] == $1.attributes["x1"] })
                #expect(zip(ys, ys.dropFirst()).allSatisfy { $0 > $1 })
                #expect(html.contains("\(answered["2"] ?? 0) calls, 0 errors"))
                #expect(!html.contains("<script"), "no script is needed to see the report")

                // The same state gives the same bytes, also when read again from the journal.
                let again = try await DeploymentReport.build(target: session.target, selector: alias.deploymentId, now: session.now)
                #expect(again == report)
                #expect(HTMLReport.render(again) == html)
            }
        }
    }

    /// A rolled-back canary: the rollback, the alarm's band and the new version's error lines are in the report.
    @Test func rolledBackCanaryShowsTheRollbackTheAlarmAndTheErrors() async throws {
        try await AppFixture.with { app in
            try await app.withSession { session in
                _ = try await session.deploy(app.releases("good1"))
                let deployment = session.startDeploy(app.releases("broken"), session.request(strategy: "Canary10Percent5Minutes"))
                try await session.drive(until: "the canary step") { $0.shifts().count == 1 }
                let response = try await session.invoke(qualifier: "2")
                #expect(response.functionError != nil)
                try await session.driveToEnd(atMost: .seconds(600))
                _ = try await deployment.value

                let report = try await DeploymentReport.build(target: session.target, selector: nil, now: session.now)
                let alias = try #require(report.aliases.first)
                #expect(alias.status == .failed)
                let rollback = try #require(alias.rollback)
                #expect(rollback.reason.contains("FnErrors"))
                #expect(alias.steps.map(\.weight) == [0.1, 0])
                #expect(alias.alarmNames == ["FnErrors"] && alias.alarmChanges.last?.state == .alarm)
                #expect(alias.errorLogs.contains { $0.message.contains("this release is broken") }, "\(alias.errorLogs)")
                let document = try XHTMLDocument(HTMLReport.render(report))
                #expect(document.elements.contains { $0.name == "line" && $0.attributes["class"] == "rollback" })
                #expect(document.elements.contains { $0.name == "rect" && $0.attributes["class"] == "band alarm" })
                #expect(document.text.contains("this release is broken"))
            }
        }
    }

    /// Two aliases shifted by one run: one report, a timeline each, whichever deployment id is asked for.
    @Test func aRunOfTwoAliasesHasATimelineEach() async throws {
        try await AppFixture.with([.init(name: "Fn"), .init(name: "Gn")]) { app in
            try await app.withSession { session in
                _ = try await session.deploy(app.releases("good1"))
                let deployment = session.startDeploy(app.releases("good2"), session.request(strategy: "Canary10Percent5Minutes"))
                let gn = AliasRef(function: "Gn", alias: "live")
                try await session.driveToEnd([.live, gn])
                _ = try await deployment.value

                let report = try await DeploymentReport.build(target: session.target, selector: nil, now: session.now)
                #expect(Set(report.aliases.map(\.alias)) == [.live, gn] && report.aliases.allSatisfy { $0.status == .succeeded })
                for alias in report.aliases {
                    let same = try await DeploymentReport.build(target: session.target, selector: alias.deploymentId, now: session.now)
                    #expect(same == report, "the run of \(alias.alias)'s deployment is the same run")
                }
                let document = try XHTMLDocument(HTMLReport.render(report))
                #expect(document.elements.filter { $0.name == "svg" }.count == 2)
                #expect(document.elements.filter { $0.name == "section" }.count == 2)
            }
        }
    }

    @Test func anUnknownDeploymentIsAClearError() async throws {
        try await AppFixture.with { app in
            try await app.withSession { session in
                await #expect(throws: DeploymentError.self) {
                    _ = try await DeploymentReport.build(target: session.target, selector: "latest", now: session.now)
                }
                _ = try await session.deploy(app.releases("good1"))
                let error = await #expect(throws: DeploymentError.self) {
                    _ = try await DeploymentReport.build(target: session.target, selector: "nope", now: session.now)
                }
                #expect(error?.message.contains("no deployment has the id 'nope'") == true, "\(String(describing: error))")
            }
        }
    }
}

/// A document parsed as XML (which well-formed XHTML is): its elements in order and its text.
struct XHTMLDocument {
    struct Element {
        var name: String
        var attributes: [String: String]
    }

    var root = ""
    var elements: [Element] = []
    var namespaces: Set<String> = []
    var text = ""

    init(_ source: String) throws {
        let delegate = Collector()
        let parser = XMLParser(data: Data(source.utf8))
        parser.delegate = delegate
        guard parser.parse() else {
            throw FixtureError(message: "not well-formed: \(parser.parserError.map { "\($0)" } ?? "?") at line \(parser.lineNumber)")
        }
        root = delegate.elements.first?.name ?? ""
        elements = delegate.elements
        namespaces = Set(delegate.elements.compactMap { $0.attributes["xmlns"] })
        text = delegate.text
    }

    private final class Collector: NSObject, XMLParserDelegate {
        var elements: [Element] = []
        var text = ""

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            elements.append(Element(name: name, attributes: attributes))
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            text += string
        }
    }
}
