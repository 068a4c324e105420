import Foundation
import Testing

/// Runs `shift` on a real pseudo-terminal of a given size (Python's `os.openpty`, TIOCSWINSZ) and keeps
/// every byte it writes there, stdout and stderr interleaved as a user's screen gets them.
enum PseudoTerminal {
    struct Run {
        var status: Int32
        var bytes: [UInt8]
        /// Where in `bytes` the window was resized (nil: it was not).
        var resizedAt: Int?
    }

    /// Runs `shift ARGS` on a `columns`×`rows` terminal. With `resize`, once `marker` appears in the output
    /// the window becomes `columns` wide; as soon as a line is drawn after that the command gets SIGINT.
    static func run(_ arguments: [String], columns: Int, rows: Int = 24, environment: [String: String],
                    resize: (columns: Int, marker: String)? = nil) throws -> Run {
        let folder = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let capture = folder.appendingPathComponent("screen.bin")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", driver, String(columns), String(rows), capture.path,
                             resize.map { "\($0.columns):\($0.marker)" } ?? "", CLI.binary.path] + arguments
        process.currentDirectoryURL = CLI.packageRoot
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = nil
        env.merge(environment) { $1 }
        process.environment = env
        let output = Pipe()
        process.standardOutput = output
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        try process.run()
        let offset = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        finished.wait()
        let bytes = [UInt8]((try? Data(contentsOf: capture)) ?? Data())
        return Run(status: process.terminationStatus, bytes: bytes, resizedAt: Int(offset.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    /// The pty's session leader is the command, with the pty as its controlling terminal, so a resize
    /// reaches it as SIGWINCH. Everything is read until the last writer closes the pty (EIO), so the
    /// command never blocks on a full pty; a command still running after two minutes is killed.
    private static let driver = """
    import fcntl, os, select, signal, struct, subprocess, sys, termios, time
    columns, rows, capture, resize = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    def size(fd, columns):
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    master, slave = os.openpty()
    size(slave, columns)
    child = subprocess.Popen(sys.argv[5:], stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                             preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
    os.close(slave)
    data, resized_at, interrupted = bytearray(), None, False
    deadline = time.monotonic() + 120
    while True:
        if time.monotonic() > deadline:
            child.kill()
        if select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            data += chunk
        if resize and resized_at is None and resize.split(":", 1)[1].encode() in data:
            resized_at = len(data)
            size(master, int(resize.split(":", 1)[0]))
        if resized_at is not None and not interrupted and b"\\n" in data[resized_at:]:
            child.send_signal(signal.SIGINT)
            interrupted = True
    child.wait()
    open(capture, "wb").write(bytes(data))
    print("" if resized_at is None else resized_at)
    sys.exit(child.returncode if child.returncode >= 0 else 128 - child.returncode)
    """
}

/// Just enough of a VT100 to replay what `shift` writes and see the screen a user sees: text with
/// auto-wrap at the right margin (xterm's deferred wrap), CR, LF, cursor up (CUU), erase in line (EL)
/// and in display (ED, from the cursor); colour (SGR) changes nothing. Rows scrolled off the top stay
/// as scrollback; the cursor cannot move up into them.
struct ScreenReplay {
    private(set) var columns: Int
    let rows: Int
    private var lines: [[Character]] = [[]]
    /// Whether row i continues row i - 1 because the text wrapped.
    private var wrapped = [false]
    private var row = 0, column = 0, pendingWrap = false
    private var state = Parser.ground
    private var utf8: [UInt8] = []
    private var offset = 0

    /// Each line as it was finished by a line feed: where in the stream, its text, and how many rows it took.
    private(set) var finishedLines: [(offset: Int, text: String, rows: Int)] = []
    /// Each logical line at the moment it wrapped onto a second row.
    private(set) var wraps: [String] = []
    /// Control sequences this replay does not know (their effect is not modelled).
    private(set) var unknown: Set<String> = []
    /// The most logical lines starting with one same prefix of `watched` seen at any line feed.
    private(set) var mostCopies = 0
    var watched: [String] = []

    private enum Parser {
        case ground, escape, csi(String)
    }

    init(columns: Int, rows: Int) {
        self.columns = columns
        self.rows = rows
    }

    /// A narrower window, as xterm does it: rows keep their text, cut at the new margin.
    mutating func resize(columns: Int) {
        self.columns = columns
        lines = lines.map { Array($0.prefix(columns)) }
        column = min(column, columns - 1)
        pendingWrap = false
    }

    mutating func feed(_ bytes: some Sequence<UInt8>) {
        for byte in bytes {
            offset += 1
            switch state {
            case .ground: ground(byte)
            case .escape: state = byte == UInt8(ascii: "[") ? .csi("") : .ground
            case .csi(let parameters):
                if (0x20...0x3F).contains(byte) {
                    state = .csi(parameters + String(UnicodeScalar(byte)))
                } else {
                    state = .ground
                    control(Character(UnicodeScalar(byte)), parameters)
                }
            }
        }
    }

    /// The logical lines (wrapped rows joined) from the first row of scrollback to the last non-empty one.
    var text: [String] {
        var result: [String] = []
        for index in lines.indices {
            if wrapped[index], !result.isEmpty { result[result.count - 1] += String(lines[index]) } else { result.append(String(lines[index])) }
        }
        while result.last?.trimmingCharacters(in: .whitespaces).isEmpty == true { result.removeLast() }
        return result
    }

    private mutating func ground(_ byte: UInt8) {
        switch byte {
        case 0x1B: state = .escape
        case 0x0D: column = 0; pendingWrap = false
        case 0x0A: lineFeed()
        case 0x08: column = max(0, column - 1); pendingWrap = false
        case 0..<0x20, 0x7F: break
        case 0..<0x80: put(Character(UnicodeScalar(byte)))
        default:
            utf8.append(byte)
            let length = utf8[0] >= 0xF0 ? 4 : utf8[0] >= 0xE0 ? 3 : 2
            if utf8.count == length {
                put(Character(String(decoding: utf8, as: UTF8.self)))
                utf8 = []
            }
        }
    }

    private mutating func control(_ final: Character, _ parameters: String) {
        let count = max(1, Int(parameters) ?? 1)
        switch (final, parameters) {
        case ("A", _):
            row = max(top, row - count)
            pendingWrap = false
        case ("K", ""), ("K", "0"):
            lines[row] = Array(lines[row].prefix(column))
        case ("J", ""), ("J", "0"):
            lines[row] = Array(lines[row].prefix(column))
            for below in (row + 1)..<lines.count {
                lines[below] = []
                wrapped[below] = false
            }
        case ("m", _): break
        default: unknown.insert("ESC[\(parameters)\(final)")
        }
    }

    private var top: Int { max(0, lines.count - rows) }

    private mutating func put(_ character: Character) {
        if pendingWrap {
            wraps.append(logicalLine(endingAt: row))
            advance(wrapping: true)
            column = 0
        }
        while lines[row].count < column { lines[row].append(" ") }
        if column < lines[row].count { lines[row][column] = character } else { lines[row].append(character) }
        if column == columns - 1 { pendingWrap = true } else { column += 1 }
    }

    private mutating func lineFeed() {
        let start = firstRow(of: row)
        finishedLines.append((offset, logicalLine(endingAt: row), row - start + 1))
        advance(wrapping: false)
        let current = text
        for prefix in watched {
            mostCopies = max(mostCopies, current.filter { $0.hasPrefix(prefix) }.count)
        }
    }

    private mutating func advance(wrapping: Bool) {
        pendingWrap = false
        row += 1
        if row == lines.count {
            lines.append([])
            wrapped.append(wrapping)
        } else {
            wrapped[row] = wrapping
        }
    }

    private func firstRow(of row: Int) -> Int {
        var start = row
        while start > 0, wrapped[start] { start -= 1 }
        return start
    }

    private func logicalLine(endingAt row: Int) -> String {
        (firstRow(of: row)...row).map { String(lines[$0]) }.joined()
    }
}
