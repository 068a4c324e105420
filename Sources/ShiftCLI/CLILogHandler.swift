import Foundation
import Logging

/// Prints log records as a CLI does: `warning: message` on stderr, without timestamps or labels, above
/// a live status block if one is shown.
struct CLILogHandler: LogHandler {
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    init(level: Logger.Level) {
        self.logLevel = level
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        Terminal.standard.write("\(event.level.rawValue): \(event.message)\n", to: .error)
    }
}
