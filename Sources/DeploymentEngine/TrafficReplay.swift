import Foundation

/// Replays recorded events through aliases at a fixed rate while traffic shifts, as real invocations.
public struct TrafficReplay: Sendable {
    public let events: [[UInt8]]
    public let rate: Double
    /// At most this many replayed invocations in flight; more would only queue in the runtime.
    static let maximumInFlight = 8

    /// Reads a `.jsonl` file (one event a line) or a folder of `.json` files (sorted by name).
    public init(path: String, rate: Double) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DeploymentError(.invalidInput, "--traffic '\(path)' does not exist; pass a .jsonl file or a folder of .json events")
        }
        var events: [[UInt8]] = []
        if isDirectory.boolValue {
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
            for file in files {
                let data = FileManager.default.contents(atPath: (path as NSString).appendingPathComponent(file)) ?? Data()
                try Self.check(data, where: "\(path)/\(file)")
                events.append(Array(data))
            }
        } else {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                guard !trimmed.isEmpty else { continue }
                try Self.check(Data(trimmed.utf8), where: "\(path):\(number + 1)")
                events.append(Array(trimmed.utf8))
            }
        }
        guard !events.isEmpty else { throw DeploymentError(.invalidInput, "--traffic '\(path)' holds no events; write one JSON event per line, or .json files in the folder") }
        self.events = events
        self.rate = rate
    }

    private static func check(_ data: Data, where location: String) throws {
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw DeploymentError(.invalidInput, "--traffic: \(location) is not valid JSON; each event must be one JSON value")
        }
    }

    /// The calls per second (wall time) each of `aliases` aliases receives: the rate is shared round-robin.
    public static func perAliasRate(_ rate: Double, aliases: Int) -> Double {
        rate / Double(max(1, aliases))
    }

    /// Sends events round-robin to `aliases` until cancelled (the deployment ended).
    func run(aliases: [AliasRef], target: any DeploymentTarget) async {
        guard !aliases.isEmpty else { return }
        // Nanoseconds, not whole milliseconds: 400/s must not become 333/s. Deadlines accumulate, so a late wake
        // catches up and the average rate holds.
        let interval = Duration.nanoseconds(Int64((1e9 / rate).rounded()))
        await withTaskGroup(of: Void.self) { group in
            var sent = 0
            var inFlight = 0
            var next = ContinuousClock.now
            while !Task.isCancelled {
                if inFlight >= Self.maximumInFlight {
                    await group.next()
                    inFlight -= 1
                    continue
                }
                let alias = aliases[sent % aliases.count]
                let event = events[sent % events.count]
                sent += 1
                inFlight += 1
                group.addTask { await target.invoke(alias, payload: event) }
                next += interval
                try? await Task.sleep(until: next, clock: .continuous)
            }
            group.cancelAll()
        }
    }
}
