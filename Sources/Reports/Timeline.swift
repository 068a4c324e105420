import DeploymentEngine
import Foundation
import Rollout

/// One alias's timeline as SVG, laid out on fixed geometry: time on the x axis over whole metric minutes; calls per
/// minute of each version as bars (errors in red over them) on the left scale; the new version's weight as a step
/// line (one horizontal segment per step) on the right scale; judgement verdicts above the plot; hook and rollback
/// markers across it; one band per alarm below it, coloured by state.
struct Timeline {
    static let width = 960.0
    static let left = 64.0, right = 896.0
    static let verdictRow = 18.0
    static let plotTop = 34.0, plotBottom = 234.0
    static let axisLabels = 252.0
    static let firstBand = 270.0, bandHeight = 24.0

    let report: AliasReport

    var height: Double { Self.firstBand + Double(max(report.alarmNames.count, 1)) * Self.bandHeight + 8 }

    private var axis: (from: Instant, to: Instant) { report.axis }

    func x(_ instant: Instant) -> Double {
        let span = Double((axis.to - axis.from).wholeMilliseconds)
        let offset = Double((instant - axis.from).wholeMilliseconds)
        return Self.left + (Self.right - Self.left) * min(max(offset / max(span, 1), 0), 1)
    }

    func yWeight(_ weight: Double) -> Double { Self.plotBottom - (Self.plotBottom - Self.plotTop) * weight }

    /// The left scale's top: the busiest minute of either version, rounded up to a readable number.
    var callScale: Int {
        let busiest = report.minutes.map { max($0.old?.invocations ?? 0, $0.new.invocations) }.max() ?? 0
        return Self.niceCeiling(max(busiest, 1))
    }

    func render() -> XMLNode {
        var children: [XMLNode] = [
            XMLNode("title", text: "Timeline of \(report.alias): version \(report.to)'s weight, calls and errors per minute, alarms"),
            XMLNode("rect", [("class", "plot"), ("x", f(Self.left)), ("y", f(Self.plotTop)), ("width", f(Self.right - Self.left)),
                             ("height", f(Self.plotBottom - Self.plotTop))]),
        ]
        children += grid() + bars() + stepLine() + markers() + verdicts() + alarmBands()
        return XMLNode("svg", [("xmlns", "http://www.w3.org/2000/svg"), ("class", "timeline"), ("role", "img"),
                               ("viewBox", "0 0 \(f(Self.width)) \(f(height))"), ("width", f(Self.width)), ("height", f(height))], children)
    }

    /// Minute ticks (at most a dozen labelled), the call scale on the left and the weight scale on the right.
    private func grid() -> [XMLNode] {
        var nodes: [XMLNode] = []
        let minutes = Int((axis.to - axis.from).wholeMilliseconds / 60_000)
        let every = max(1, Int((Double(minutes) / 12).rounded(.up)))
        for minute in stride(from: 0, through: minutes, by: every) {
            let px = x(axis.from + .seconds(Int64(minute) * 60))
            nodes.append(XMLNode("line", [("class", "tick"), ("x1", f(px)), ("y1", f(Self.plotTop)), ("x2", f(px)), ("y2", f(Self.plotBottom + 4))]))
            nodes.append(XMLNode("text", [("class", "axis"), ("x", f(px)), ("y", f(Self.axisLabels)), ("text-anchor", "middle")],
                                 text: "+\(minute)m"))
        }
        for (fraction, label) in [(0.0, "0"), (0.5, callScale % 2 == 0 ? "\(callScale / 2)" : Format.fixed(Double(callScale) / 2)), (1.0, "\(callScale)")] {
            nodes.append(XMLNode("text", [("class", "axis"), ("x", f(Self.left - 6)), ("y", f(yWeight(fraction) + 4)), ("text-anchor", "end")],
                                 text: label))
        }
        for percent in [0, 50, 100] {
            nodes.append(XMLNode("text", [("class", "axis weight"), ("x", f(Self.right + 6)), ("y", f(yWeight(Double(percent) / 100) + 4))],
                                 text: "\(percent) %"))
        }
        nodes.append(XMLNode("text", [("class", "axis"), ("x", f(Self.left - 6)), ("y", f(Self.plotTop - 6)), ("text-anchor", "end")],
                             text: "calls/min"))
        return nodes
    }

    /// Per minute, the old version's bar then the new one's, each with its errors drawn over it from the base.
    private func bars() -> [XMLNode] {
        var nodes: [XMLNode] = []
        let scale = Double(callScale)
        for minute in report.minutes {
            let x0 = x(minute.start), x1 = x(minute.start + .seconds(60))
            let barWidth = (x1 - x0) * 0.36
            for (index, traffic) in [minute.old, minute.new].enumerated() {
                guard let traffic, traffic.invocations > 0 else { continue }
                let bx = x0 + (x1 - x0) * 0.12 + Double(index) * barWidth
                let version = index == 0 ? "old" : "new"
                let height = (Self.plotBottom - Self.plotTop) * Double(traffic.invocations) / scale
                let tip = "version \(traffic.version), minute +\((minute.start - axis.from).wholeMilliseconds / 60_000): "
                    + "\(traffic.invocations) calls, \(traffic.errors) errors"
                nodes.append(XMLNode("rect", [("class", "calls \(version)"), ("x", f(bx)), ("y", f(Self.plotBottom - height)),
                                              ("width", f(barWidth)), ("height", f(height))], [XMLNode("title", text: tip)]))
                if traffic.errors > 0 {
                    let errorHeight = (Self.plotBottom - Self.plotTop) * Double(traffic.errors) / scale
                    nodes.append(XMLNode("rect", [("class", "errors \(version)"), ("x", f(bx)), ("y", f(Self.plotBottom - errorHeight)),
                                                  ("width", f(barWidth)), ("height", f(errorHeight))], [XMLNode("title", text: tip)]))
                }
            }
        }
        return nodes
    }

    /// One horizontal segment per step (to the next step, the last to the end of the axis), joined by risers.
    private func stepLine() -> [XMLNode] {
        var nodes: [XMLNode] = []
        for (index, step) in report.steps.enumerated() {
            let end = index + 1 < report.steps.count ? report.steps[index + 1].at : axis.to
            let y = f(yWeight(step.weight))
            nodes.append(XMLNode("line", [("class", "step"), ("x1", f(x(step.at))), ("y1", y), ("x2", f(x(end))), ("y2", y)],
                                 [XMLNode("title", text: "version \(report.to) at \(Format.percent(step.weight)) from \(Format.offset(step.at, from: report.startedAt))")]))
            if index + 1 < report.steps.count {
                let next = f(yWeight(report.steps[index + 1].weight))
                nodes.append(XMLNode("line", [("class", "riser"), ("x1", f(x(end))), ("y1", y), ("x2", f(x(end))), ("y2", next)]))
            }
        }
        return nodes
    }

    /// Hooks (a dashed line from start to finish) and the rollback (a red line across the plot).
    private func markers() -> [XMLNode] {
        var nodes: [XMLNode] = []
        for hook in report.hooks {
            let start = x(hook.startedAt), end = x(hook.finishedAt ?? report.asOf)
            let outcome = hook.succeeded.map { $0 ? "succeeded" : "failed" } ?? "no report"
            let tip = "\(hook.hook.rawValue) hook \(hook.function): \(outcome)"
            nodes.append(XMLNode("line", [("class", "hook"), ("x1", f(start)), ("y1", f(Self.plotTop)), ("x2", f(start)), ("y2", f(Self.plotBottom))],
                                 [XMLNode("title", text: tip)]))
            nodes.append(XMLNode("rect", [("class", "hook-span " + (hook.succeeded == false ? "failed" : "ok")), ("x", f(start)),
                                          ("y", f(Self.plotTop)), ("width", f(max(end - start, 1))), ("height", "6")], [XMLNode("title", text: tip)]))
            nodes.append(XMLNode("text", [("class", "label"), ("x", f(start + 3)), ("y", f(Self.plotTop + 16))], text: hook.hook.rawValue))
        }
        if let rollback = report.rollback {
            let px = x(rollback.at)
            nodes.append(XMLNode("line", [("class", "rollback"), ("x1", f(px)), ("y1", f(Self.plotTop)), ("x2", f(px)), ("y2", f(Self.plotBottom))],
                                 [XMLNode("title", text: "rolled back: \(rollback.reason)")]))
            nodes.append(XMLNode("text", [("class", "label rollback"), ("x", f(px + 3)), ("y", f(Self.plotTop + 28))], text: "rollback"))
        }
        return nodes
    }

    /// A dot per change of verdict above the plot.
    private func verdicts() -> [XMLNode] {
        report.judgements.map { mark in
            XMLNode("circle", [("class", "verdict \(mark.judgement.verdict.rawValue.lowercased())"), ("cx", f(x(mark.at))),
                               ("cy", f(Self.verdictRow)), ("r", "5")],
                    [XMLNode("title", text: "\(mark.judgement.verdict.rawValue) at \(Format.offset(mark.at, from: report.startedAt)): \(mark.judgement.reason)")])
        }
    }

    /// One band per alarm: unknown until its first evaluation, then its state until the next change.
    private func alarmBands() -> [XMLNode] {
        var nodes: [XMLNode] = []
        if report.alarmNames.isEmpty {
            nodes.append(XMLNode("text", [("class", "label"), ("x", f(Self.left)), ("y", f(Self.firstBand + 12))], text: "no alarms watched"))
        }
        for (row, name) in report.alarmNames.enumerated() {
            let top = Self.firstBand + Double(row) * Self.bandHeight
            nodes.append(XMLNode("text", [("class", "label"), ("x", f(Self.left)), ("y", f(top + 9))], text: name))
            let changes = report.alarmChanges.filter { $0.alarm == name }
            for (index, change) in changes.enumerated() {
                let end = index + 1 < changes.count ? changes[index + 1].at : axis.to
                nodes.append(XMLNode("rect", [("class", "band \(change.state.rawValue.lowercased())"), ("x", f(x(change.at))), ("y", f(top + 12)),
                                              ("width", f(max(x(end) - x(change.at), 1))), ("height", "8")],
                                     [XMLNode("title", text: "\(name) \(change.state.rawValue) from \(Format.offset(change.at, from: report.startedAt)): \(change.reason)")]))
            }
        }
        return nodes
    }

    /// Coordinates with one decimal: enough for a screen, and the same text on every machine.
    private func f(_ value: Double) -> String { Format.fixed(value) }

    /// 1, 2, 5 × 10ⁿ at or above `value`.
    static func niceCeiling(_ value: Int) -> Int {
        var magnitude = 1
        while magnitude * 10 <= value { magnitude *= 10 }
        for factor in [1, 2, 5, 10] where factor * magnitude >= value { return factor * magnitude }
        return 10 * magnitude
    }
}
