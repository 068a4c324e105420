import ArgumentParser
import Foundation
import Runtime
import TemplateModel

/// `shift metrics`: a function's per-minute AWS/Lambda metrics per executed version, from the state folder.
struct MetricsCommand: AsyncParsableCommand, JSONOutputCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Show a function's per-minute metrics (Invocations, Errors, Throttles, Duration, ConcurrentExecutions) per executed version.",
        discussion: """
        FUNCTION alone covers every alias and version; FUNCTION:QUALIFIER (alias or version) only that \
        Resource. Rows with ExecutedVersion * are the total over versions. Works while `serve` runs \
        (it saves metrics every second).
        """)

    @Argument(help: "FUNCTION or FUNCTION:QUALIFIER (logical id or name).")
    var function: String

    @Option(help: "How far back: 90s, 15m, 2h, 1d.")
    var since: String = "15m"

    @Option(help: "text or json (one object: the function and its datapoints).")
    var output: OutputFormat = .text

    @Option(name: .shortAndLong, help: "The SAM template (locates the default state folder, maps logical ids).")
    var template: String = TemplateFile.defaultPath

    @OptionGroup var templateOptions: TemplateOptions
    @OptionGroup var stateOptions: StateOptions

    func validate() throws {
        guard DurationText.milliseconds(since) != nil else { throw ValidationError("--since must look like 90s, 15m, 2h or 1d") }
    }

    static let jsonStyle = JSONOutput.Style.report

    func run() async throws {
        let model = TemplateFile.loadIfPresent(template, options: templateOptions)
        let reference = TemplateFile.functionName(function, in: model)
        let (name, qualifier) = try LambdaArn.parseFunctionReference(reference)
        let store = try await StateDirectory.openReadOnly(stateOptions.directory(forTemplate: template))
        defer { try? store.close() }
        try await TemplateFile.requireKnown(name, written: function, store: store, template: model, templatePath: template)
        if let qualifier, qualifier != "$LATEST" {
            // An unknown qualifier is a typo, not "no datapoints".
            let known = try await store.listVersions(function: name).map(\.versionString) + store.listAliases(function: name).map(\.name)
            guard known.contains(qualifier) else {
                let near = NameSuggestion.closest(to: qualifier, in: known).map { "did you mean '\($0)'? " } ?? ""
                throw CLIError("\(name) has no version or alias '\(qualifier)'; \(near)it has \(known.isEmpty ? "none yet" : known.joined(separator: ", ")) (and $LATEST)")
            }
        }
        let metrics = try MetricsStore(store: store)
        var dimensions = ["FunctionName": name]
        if let qualifier { dimensions["Resource"] = qualifier == "$LATEST" ? name : "\(name):\(qualifier)" }
        var versions = Set<String>()
        for metric in [MetricName.invocations, .throttles] {
            for series in metrics.totals(metric: metric).keys where series.matches(dimensions) { versions.insert(series.executedVersion) }
        }
        let now = StateClock.peek(directory: stateOptions.directory(forTemplate: template))
        let from = MetricsStore.periodStart(now - DurationText.milliseconds(since)!)
        let to = Int64.max / 2  // a faster service clock (--time-scale) writes periods ahead of the wall clock
        var rows: [Row] = []
        for version in versions.sorted(by: Self.versionOrder) + ["*"] {
            var filter = dimensions
            if version != "*" { filter["ExecutedVersion"] = version }
            rows += try Self.rows(metrics, filter: filter, version: version, from: from, to: to)
        }
        switch output {
        case .json:
            let report: [String: Any] = ["function": name, "resource": dimensions["Resource"] ?? NSNull(), "since": JSONOutput.time(milliseconds: from),
                                         "datapoints": rows.map(\.json)]
            print(JSONOutput.report(report))
        case .text:
            guard !rows.isEmpty else {
                print("no datapoints for \(reference) in the last \(since)")
                return
            }
            print("VERSION   MINUTE (UTC)      INVOCATIONS  ERRORS  THROTTLES   AVG ms   MAX ms   P50 ms   P90 ms   P99 ms  CONCURRENT")
            for row in rows { print(row.text) }
        }
    }

    private static func versionOrder(_ a: String, _ b: String) -> Bool {
        switch (Int(a), Int(b)) {
        case let (x?, y?): x < y
        case (nil, _?): true
        case (_?, nil): false
        case (nil, nil): a < b
        }
    }

    private static func rows(_ metrics: MetricsStore, filter: [String: String], version: String, from: Int64, to: Int64) throws -> [Row] {
        var byMinute: [Int64: Row] = [:]
        func row(_ t: Int64) -> Row { byMinute[t] ?? Row(version: version, timestamp: t) }
        for point in try metrics.datapoints(metric: .invocations, dimensions: filter, from: from, to: to) {
            var r = row(point.timestamp); r.invocations = Int(point.sum); byMinute[point.timestamp] = r
        }
        for point in try metrics.datapoints(metric: .errors, dimensions: filter, from: from, to: to) {
            var r = row(point.timestamp); r.errors = Int(point.sum); byMinute[point.timestamp] = r
        }
        for point in try metrics.datapoints(metric: .throttles, dimensions: filter, from: from, to: to) {
            var r = row(point.timestamp); r.throttles = Int(point.sum); byMinute[point.timestamp] = r
        }
        for point in try metrics.datapoints(metric: .duration, dimensions: filter, from: from, to: to) {
            var r = row(point.timestamp)
            r.duration = [point.average, point.maximum, point.percentile(50) ?? 0, point.percentile(90) ?? 0, point.percentile(99) ?? 0]
            byMinute[point.timestamp] = r
        }
        for point in try metrics.datapoints(metric: .concurrentExecutions, dimensions: filter, from: from, to: to) {
            var r = row(point.timestamp); r.concurrency = Int(point.maximum); byMinute[point.timestamp] = r
        }
        return byMinute.values.sorted { $0.timestamp < $1.timestamp }
    }

    /// One minute of one executed version (or `*`, all of them).
    struct Row {
        var version: String
        var timestamp: Int64
        var invocations = 0
        var errors = 0
        var throttles = 0
        /// avg, max, p50, p90, p99 (ms).
        var duration: [Double]?
        var concurrency: Int?

        var minute: String {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = "yyyy-MM-dd HH:mm"
            return formatter.string(from: Date(timeIntervalSince1970: Double(timestamp) / 1000))
        }

        var text: String {
            func pad(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }
            let d = duration.map { $0.map { String(format: "%.2f", $0) } } ?? Array(repeating: "-", count: 5)
            return version.padding(toLength: 9, withPad: " ", startingAt: 0) + " " + minute + pad(String(invocations), 13) + pad(String(errors), 8)
                + pad(String(throttles), 11) + d.map { pad($0, 9) }.joined() + pad(concurrency.map(String.init) ?? "-", 12)
        }

        var json: [String: Any] {
            var object: [String: Any] = [
                "executedVersion": version, "timestamp": JSONOutput.time(milliseconds: timestamp),
                "invocations": invocations, "errors": errors, "throttles": throttles,
            ]
            if let d = duration { object["duration"] = ["avg": d[0], "max": d[1], "p50": d[2], "p90": d[3], "p99": d[4]] }
            if let concurrency { object["concurrentExecutionsMax"] = concurrency }
            return object
        }
    }
}

/// Opening a state folder for reading while `shift serve` may hold it.
enum StateDirectory {
    static func openReadOnly(_ directory: URL) async throws -> StateStore {
        guard FileManager.default.fileExists(atPath: directory.appendingPathComponent("state.sqlite").path) else {
            throw CLIError("no state in \(directory.path) yet; run `\(Shift.name) deploy` or `\(Shift.name) serve` first (or pass --state-dir)")
        }
        return try await StateStore.open(directory: directory, options: StateStore.Options(readOnly: true))
    }
}
