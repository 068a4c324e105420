import Foundation
import Synchronization

/// The process's terminal while a command shows a live block of status lines under its output. It is the
/// one writer: other output goes through `write(_:to:)`, which erases the block first and draws it again
/// after, so the block never leaves a stale copy and never runs into a warning.
final class Terminal: Sendable {
    static let standard = Terminal(environment: ProcessInfo.processInfo.environment)

    /// A block can be redrawn in place: stdout is a terminal that moves its cursor (TERM set, not dumb).
    let isLive: Bool
    /// Status lines are coloured: live, and `NO_COLOR` unset or empty (https://no-color.org).
    let usesColor: Bool
    private let errorIsTerminal: Bool
    private let block = Mutex(Block())

    private struct Block {
        var lines: [Line] = []
        /// Rows on screen; the cursor waits at the start of the row below them.
        var rows = 0
    }

    /// Where a write goes.
    enum Stream {
        case output, error
    }

    init(environment: [String: String]) {
        let term = environment["TERM"] ?? ""
        isLive = isatty(STDOUT_FILENO) == 1 && !term.isEmpty && term != "dumb"
        usesColor = isLive && (environment["NO_COLOR"] ?? "").isEmpty
        errorIsTerminal = isatty(STDERR_FILENO) == 1
    }

    /// Replaces the block with `lines` (none: the block is gone).
    func show(_ lines: [Line]) {
        guard isLive else { return }
        block.withLock { block in
            let erase = Self.erase(block.rows)
            block.lines = lines
            Self.put(erase + draw(&block), .output)
        }
    }

    /// Writes whole lines (`text` ends with a newline) above the block.
    func write(_ text: String, to stream: Stream) {
        block.withLock { block in
            // Text for a stderr that is not the screen cannot collide with the block.
            guard block.rows > 0, stream == .output || errorIsTerminal else { return Self.put(text, stream) }
            Self.put(Self.erase(block.rows), .output)
            Self.put(text, stream)
            Self.put(draw(&block), .output)
        }
    }

    /// Draws the block again at the terminal's new width on every SIGWINCH, until cancelled.
    func redrawOnResize() async {
        for await _ in Signals.stream([SIGWINCH]) {
            block.withLock { block in Self.put(Self.erase(block.rows) + draw(&block), .output) }
        }
    }

    /// The block's lines at the terminal's current size; sets `rows`.
    private func draw(_ block: inout Block) -> String {
        let (columns, height) = Self.size()
        var lines = block.lines
        // A block taller than the screen would scroll its top out of reach of the next erase.
        let fit = max(1, height - 1)
        if lines.count > fit {
            let hidden = lines.count - fit + 1
            lines = Array(lines.prefix(fit - 1))
            var more = Line()
            more.append("… and \(hidden) more", .dim)
            lines.append(more)
        }
        block.rows = lines.count
        // One column spare: characters of ambiguous width (→, ≤, …) take two columns in CJK locales.
        return lines.map { $0.rendered(columns: columns - 1, color: usesColor) + "\n" }.joined()
    }

    /// Moves the cursor up to the block's first row and erases from there to the end of the screen.
    private static func erase(_ rows: Int) -> String {
        rows == 0 ? "" : "\r\u{1B}[\(rows)A\u{1B}[J"
    }

    private static func put(_ text: String, _ stream: Stream) {
        guard !text.isEmpty else { return }
        put(bytes: Array(text.utf8), stream)
    }

    /// Writes all of `bytes` with write(2), never crashing: a closed pipe (`shiftctl … | head`) only ends the
    /// output (SIGPIPE is ignored at start-up), where FileHandle.write would trap.
    static func put(bytes: [UInt8], _ stream: Stream) {
        let descriptor = stream == .output ? STDOUT_FILENO : STDERR_FILENO
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Foundation.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0, errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }

    /// Columns and rows of the terminal on stdout (80×24 when it does not say).
    private static func size() -> (columns: Int, rows: Int) {
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return (80, 24) }
        return (Int(size.ws_col), size.ws_row > 0 ? Int(size.ws_row) : 24)
    }

    /// A line of the block: runs of text, each in an optional colour.
    struct Line: Sendable {
        /// An SGR parameter.
        enum Color: String, Sendable {
            case bold = "1", dim = "2", red = "31", green = "32", yellow = "33"
        }

        private var runs: [(text: String, color: Color?)] = []

        mutating func append(_ text: String, _ color: Color? = nil) {
            runs.append((text, color))
        }

        /// The line cut to `columns` terminal columns (an ellipsis marks a cut); colour escapes take none.
        func rendered(columns: Int, color: Bool) -> String {
            let fits = runs.reduce(0) { $0 + $1.text.reduce(0) { $0 + $1.terminalColumns } } <= columns
            var budget = fits ? columns : columns - 1
            var output = ""
            for run in runs {
                var text = ""
                for character in run.text {
                    budget -= character.terminalColumns
                    if budget < 0 { break }
                    text.append(character)
                }
                if let sgr = run.color?.rawValue, color, !text.isEmpty {
                    output += "\u{1B}[\(sgr)m\(text)\u{1B}[0m"
                } else {
                    output += text
                }
                if budget < 0 { break }
            }
            return fits || columns < 1 ? output : output + "…"
        }
    }
}

extension Character {
    /// Columns a terminal gives the character: none for controls and marks, two for East Asian wide
    /// characters and emoji, otherwise one (ambiguous ones such as → too, as outside CJK locales).
    var terminalColumns: Int {
        guard let first = unicodeScalars.first else { return 0 }
        switch first.properties.generalCategory {
        case .control, .format, .nonspacingMark, .enclosingMark: return 0
        default: break
        }
        if unicodeScalars.contains(where: { $0.properties.isEmojiPresentation || $0.value == 0xFE0F }) { return 2 }
        switch first.value {
        case 0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF,
             0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60, 0xFFE0...0xFFE6, 0x20000...0x3FFFD:
            return 2
        default:
            return 1
        }
    }
}
