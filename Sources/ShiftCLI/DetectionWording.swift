import Foundation
import Rollout

/// The dry run's detection analysis in words, shared by the text plan and the Markdown one: a heading, then
/// notes, warnings (the findings) and the simulated figures, in the order they are read.
struct DetectionWording {
    /// One line under the heading.
    struct Line: Equatable {
        var text: String
        var isWarning = false
    }

    var heading: String
    var lines: [Line] = []

    init(_ d: DetectionAnalysis, allAtOnce: Bool) {
        let rate = d.options.rate >= 10 ? String(format: "%.0f", d.options.rate) : String(format: "%.3g", d.options.rate)
        heading = "detection at \(rate) calls/s (\(d.options.runs) simulated rollouts)"
        if allAtOnce {
            lines.append(Line(text: "AllAtOnce gives the new version every call at once: nothing compares it with the old one, "
                + "and an alarm can only roll it back after its errors reached every user; a canary or linear strategy limits that", isWarning: true))
        }
        for alarm in d.alarms where alarm.findings.isEmpty {
            lines.append(Line(text: "alarm \(alarm.name): \(alarm.scope == .newVersion ? "watches the new version" : "no finding")"))
        }
        for finding in d.warnings { lines.append(Line(text: finding.message, isWarning: true)) }
        let tolerated = 1 - d.options.detectionProbability
        if d.alarmsOnly.falseRollbackShare > tolerated {
            lines.append(Line(text: "the alarms roll back a version exactly as good as the old one in "
                + "\(Judgement.percentText(d.alarmsOnly.falseRollbackShare)) of rollouts: fix them before trusting what they catch", isWarning: true))
        } else if d.judgementConfigured, d.withJudgement.falseRollbackShare > tolerated {
            lines.append(Line(text: "at this traffic the judgement cannot tell in time, and --on-inconclusive \(d.judgement.onInconclusive.rawValue) "
                + "rolls back a version exactly as good as the old one in \(Judgement.percentText(d.withJudgement.falseRollbackShare)) of rollouts; "
                + "send more calls, lengthen --judge-hold, or use --on-inconclusive pass", isWarning: true))
        }
        func caught(_ f: DetectionFigures) -> String {
            if f.falseRollbackShare > tolerated { return "(rolls back good versions too)" }
            return f.smallestCaughtIncrease.map { "+\(Judgement.percentText($0)) errors or more" } ?? "nothing up to 100 % errors"
        }
        let p = Judgement.percentText(d.options.detectionProbability)
        let judged = d.judgementConfigured ? "; with judgement \(caught(d.withJudgement))"
            : (allAtOnce ? "" : " (the judgement is off: --no-judge)")
        lines.append(Line(text: "caught before 100 % in \(p) of rollouts: alarms alone \(caught(d.alarmsOnly))\(judged)"))
        func radius(_ f: DetectionFigures) -> String {
            let b = f.blastRadius
            let when = b.meanMinutesToRollback.map { String(format: " after %.1f min", $0) } ?? ""
            let failed = b.meanFailedCalls.rounded() == 1 ? "1 failed call" : String(format: "%.0f failed calls", b.meanFailedCalls)
            return "rolled back in \(Judgement.percentText(b.caughtShare)) of rollouts\(when), \(failed) on average"
        }
        lines.append(Line(text: "a version failing \(Judgement.percentText(d.alarmsOnly.blastRadius.newErrorRate)) of its calls: alarms alone \(radius(d.alarmsOnly))"
            + (d.judgementConfigured ? "; with judgement \(radius(d.withJudgement))" : "")))
    }
}
