import DeploymentEngine
import Foundation
import Rollout

/// A deployment report as one self-contained XHTML file: no network, no script, readable from disk and on paper.
/// Per alias: a header table, the SVG timeline, the steps, the alarms with their last evaluation, the judgement,
/// the hooks and the last log lines of the new version's failed calls.
public enum HTMLReport {
    public static func render(_ report: DeploymentReport) -> String {
        let title = "shift deployment report: " + report.aliases.map(\.alias.description).joined(separator: ", ")
        var body: [XMLNode] = [
            XMLNode("h1", text: "Deployment report"),
        ]
        if !report.run.isEmpty {
            body.append(XMLNode("p", [("class", "run")], [.text("Run "), XMLNode("code", text: report.run), .text(" · "
                + (report.aliases.count == 1 ? "1 alias" : "\(report.aliases.count) aliases"))]))
        }
        if !report.notes.isEmpty { body.append(XMLNode("ul", [("class", "notes")], report.notes.map { XMLNode("li", text: $0) })) }
        if report.aliases.isEmpty { body.append(XMLNode("p", text: "No traffic was shifted in this run, so there is no timeline to show.")) }
        body += report.aliases.map(section)
        let html = XMLNode("html", [("xmlns", "http://www.w3.org/1999/xhtml"), ("lang", "en")], [
            XMLNode("head", [], [
                XMLNode("meta", [("charset", "utf-8")]),
                XMLNode("meta", [("name", "generator"), ("content", "shift")]),
                XMLNode("title", text: title),
                XMLNode("style", text: stylesheet),
            ]),
            XMLNode("body", [], body),
        ])
        var output = "<!DOCTYPE html>\n"
        html.render(into: &output)
        return output + "\n"
    }

    private static func section(_ alias: AliasReport) -> XMLNode {
        var children: [XMLNode] = [
            XMLNode("h2", [], [.text(alias.alias.description + " "), XMLNode("span", [("class", "status \(alias.status.rawValue.lowercased())")],
                                                                          text: alias.status.rawValue)]),
            table(headers: nil, rows: summaryRows(alias)),
            XMLNode("figure", [], [
                Timeline(report: alias).render(),
                XMLNode("figcaption", [], legend(alias)),
            ]),
            XMLNode("h3", text: "Steps"),
            table(headers: ["#", "at", "version \(alias.to)", alias.from.map { "version \($0)" } ?? "other versions", "what"],
                  rows: alias.steps.enumerated().map { index, step in
                      [String(index + 1), Format.offset(step.at, from: alias.startedAt), Format.percent(step.weight),
                       Format.percent(1 - step.weight), stepCause(step, in: alias)]
                  }),
            XMLNode("h3", text: "Alarms"),
        ]
        if alias.alarmNames.isEmpty {
            children.append(XMLNode("p", text: "No alarm watched this deployment."))
        } else {
            children.append(table(headers: ["alarm", "last state", "since", "last evaluation"], rows: alias.lastAlarmStates.map { name, change in
                guard let change else { return [name, "not evaluated", "", ""] }
                return [name, change.state.rawValue, Format.offset(change.at, from: alias.startedAt), change.reason]
            }))
        }
        if !alias.judgements.isEmpty {
            children.append(XMLNode("h3", text: "Judgement of version \(alias.to) against version \(alias.from ?? "?")"))
            children.append(table(headers: ["at", "verdict", "errors", "latency", "reason"], rows: alias.judgements.map { mark in
                [Format.offset(mark.at, from: alias.startedAt), mark.judgement.verdict.rawValue, mark.judgement.errors.rawValue,
                 mark.judgement.latency?.rawValue ?? "—", mark.judgement.reason]
            }))
        }
        if !alias.hooks.isEmpty {
            children.append(XMLNode("h3", text: "Lifecycle hooks"))
            children.append(table(headers: ["hook", "function", "started", "finished", "outcome"], rows: alias.hooks.map { hook in
                [hook.hook.rawValue, hook.function, Format.offset(hook.startedAt, from: alias.startedAt),
                 hook.finishedAt.map { Format.offset($0, from: alias.startedAt) } ?? "—",
                 hook.succeeded.map { $0 ? "Succeeded" : "Failed" + (hook.detail.map { ": \($0)" } ?? "") } ?? "no report"]
            }))
        }
        children.append(XMLNode("h3", text: "Errors of version \(alias.to)"))
        if alias.errorLogs.isEmpty {
            children.append(XMLNode("p", text: "No failed call of version \(alias.to) was logged during the deployment."))
        } else {
            children.append(XMLNode("p", text: "The last \(alias.errorLogs.count == 1 ? "line" : "\(alias.errorLogs.count) lines") "
                + "its failed calls logged (see `logs` for all of them):"))
            children.append(XMLNode("pre", [("class", "log")], text: alias.errorLogs.map { line in
                "\(Format.offset(line.at, from: alias.startedAt))  \(line.requestId.map { String($0.prefix(8)) } ?? "-")  \(line.message)"
            }.joined(separator: "\n")))
        }
        return XMLNode("section", [("id", "deployment-\(alias.deploymentId)")], children)
    }

    private static func summaryRows(_ alias: AliasReport) -> [[String]] {
        var rows: [[String]] = []
        rows.append(["Outcome", alias.status.rawValue + (alias.endedAt == nil ? " (running; as of \(Format.offset(alias.asOf, from: alias.startedAt)))" : "")])
        rows.append(["Versions", "\(alias.from ?? "none") → \(alias.to)"])
        if let schedule = alias.schedule { rows.append(["Strategy", schedule.name]) }
        if let reason = alias.reason { rows.append(["Reason", reason]) }
        rows.append(["Started", Format.timestamp(alias.startedAt)])
        var duration = Format.duration(milliseconds: ((alias.endedAt ?? alias.asOf) - alias.startedAt).wholeMilliseconds) + " of schedule time"
        if let wall = alias.wallMilliseconds { duration += ", " + Format.duration(milliseconds: wall) + " of wall time" }
        rows.append(["Duration", duration])
        for traffic in alias.totals {
            rows.append(["Version \(traffic.version)", "\(traffic.invocations) \(traffic.invocations == 1 ? "call" : "calls"), "
                + "\(traffic.errors) \(traffic.errors == 1 ? "error" : "errors")"])
        }
        rows.append(["Deployment", alias.deploymentId])
        return rows
    }

    private static func stepCause(_ step: WeightStep, in alias: AliasReport) -> String {
        if let rollback = alias.rollback, rollback.at == step.at, step.weight == 0 { return "rolled back" }
        if step.at == alias.startedAt, step.weight == 0 { return "deployment started" }
        return step.weight >= 1 ? "all traffic" : "traffic shifted"
    }

    private static func legend(_ alias: AliasReport) -> [XMLNode] {
        func swatch(_ kind: String, _ text: String) -> [XMLNode] {
            [XMLNode("span", [("class", "swatch \(kind)")], text: "\u{25A0}"), .text(" \(text)  ")]
        }
        var nodes: [XMLNode] = []
        if let from = alias.from { nodes += swatch("old", "version \(from) calls/min") }
        nodes += swatch("new", "version \(alias.to) calls/min")
        nodes += swatch("errors", "errors")
        nodes += swatch("step", "version \(alias.to)'s weight (right scale)")
        if !alias.judgements.isEmpty { nodes += swatch("pass", "judgement: Pass") + swatch("fail", "Fail") + swatch("inconclusive", "Inconclusive") }
        if alias.rollback != nil { nodes += swatch("rollback", "rollback") }
        return nodes
    }

    private static func table(headers: [String]?, rows: [[String]]) -> XMLNode {
        var children: [XMLNode] = []
        if let headers {
            children.append(XMLNode("thead", [], [XMLNode("tr", [], headers.map { XMLNode("th", text: $0) })]))
            children.append(XMLNode("tbody", [], rows.map { XMLNode("tr", [], $0.map { XMLNode("td", text: $0) }) }))
        } else {
            children.append(XMLNode("tbody", [], rows.map { row in
                XMLNode("tr", [], [XMLNode("th", [("scope", "row")], text: row[0])] + row.dropFirst().map { XMLNode("td", text: $0) })
            }))
        }
        return XMLNode("table", [], children)
    }

    /// Colours work on screen and on paper (no backgrounds needed to read them); nothing is fetched.
    static let stylesheet = """
        body { font: 14px/1.4 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2328; margin: 2em auto; max-width: 1000px; padding: 0 1em; }
        h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom: 1px solid #d0d7de; padding-bottom: 0.2em; }
        table { border-collapse: collapse; margin: 0.5em 0 1em; } th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top; }
        th[scope=row] { background: #f6f8fa; font-weight: 600; } thead th { background: #f6f8fa; }
        code, pre { font-family: ui-monospace, Menlo, Consolas, monospace; } pre.log { background: #f6f8fa; padding: 8px; overflow-x: auto; white-space: pre-wrap; }
        .status { font-size: 0.7em; padding: 2px 8px; border-radius: 10px; background: #eaeef2; vertical-align: middle; }
        .status.succeeded { background: #dafbe1; } .status.failed, .status.stopped { background: #ffebe9; }
        figure { margin: 0; } figcaption { font-size: 12px; color: #57606a; }
        svg.timeline { max-width: 100%; height: auto; font-size: 11px; }
        svg .plot { fill: none; stroke: #d0d7de; } svg .tick { stroke: #eaeef2; } svg .axis { fill: #57606a; } svg .label { fill: #1f2328; font-size: 10px; }
        svg .calls.old { fill: #8da9c4; } svg .calls.new { fill: #f2b35d; } svg .errors { fill: #cf222e; }
        svg .step { stroke: #0969da; stroke-width: 2.5; } svg .riser { stroke: #0969da; stroke-width: 1.5; }
        svg .hook { stroke: #8250df; stroke-dasharray: 4 3; } svg .hook-span.ok { fill: #8250df; } svg .hook-span.failed { fill: #cf222e; }
        svg line.rollback { stroke: #cf222e; stroke-width: 2; } svg text.rollback { fill: #cf222e; font-weight: 600; }
        svg .verdict.pass { fill: #1a7f37; } svg .verdict.fail { fill: #cf222e; } svg .verdict.inconclusive { fill: #8c959f; }
        svg .band.ok { fill: #1a7f37; } svg .band.alarm { fill: #cf222e; } svg .band.insufficient_data { fill: #8c959f; }
        .swatch.old { color: #8da9c4; } .swatch.new { color: #f2b35d; } .swatch.errors, .swatch.fail, .swatch.rollback { color: #cf222e; }
        .swatch.step { color: #0969da; } .swatch.pass { color: #1a7f37; } .swatch.inconclusive { color: #8c959f; }
        @media print { body { margin: 0; max-width: none; } h2 { break-before: page; } section:first-of-type h2 { break-before: auto; } svg .band, svg rect, .swatch { print-color-adjust: exact; -webkit-print-color-adjust: exact; } }
        """
}

/// Text for numbers and times, the same on every machine (no locale, UTC).
enum Format {
    static func fixed(_ value: Double) -> String {
        let tenths = (value * 10).rounded()
        let whole = Int(tenths) / 10, fraction = abs(Int(tenths)) % 10
        return (tenths < 0 && whole == 0 ? "-" : "") + "\(whole).\(fraction)"
    }

    static func percent(_ share: Double) -> String {
        let percent = share * 100
        return percent == percent.rounded() ? "\(Int(percent)) %" : fixed(percent) + " %"
    }

    /// `+m:ss` (or `+h:mm:ss`) after `start`.
    static func offset(_ instant: Instant, from start: Instant) -> String {
        let seconds = max(0, (instant - start).wholeMilliseconds) / 1000
        let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60)
        return h > 0 ? "+\(h):\(pad(m)):\(pad(s))" : "+\(m):\(pad(s))"
    }

    /// `1h 2m 3s`, `4m 5s`, `6.2 s`.
    static func duration(milliseconds: Int64) -> String {
        let ms = max(0, milliseconds)
        if ms < 60_000 { return fixed(Double(ms) / 1000) + " s" }
        let seconds = ms / 1000
        let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60)
        return h > 0 ? "\(h)h \(m)m \(s)s" : "\(m)m \(s)s"
    }

    /// ISO 8601 in UTC with milliseconds, as the JSON output writes instants.
    static func timestamp(_ instant: Instant) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: Double(instant.millisecondsSinceEpoch) / 1000))
    }

    private static func pad(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
}
