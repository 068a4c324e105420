import Foundation
import Testing

/// `shift deploy` on a real pseudo-terminal: the live status lines under the events, replayed through a
/// small terminal emulator to see the screen a user sees.
@Suite("shift deploy's live view on a terminal", .serialized)
struct LiveViewTests {
    static let terminal = ["TERM": "xterm-256color"]

    /// Three aliases whose status lines are each wider than 80 columns.
    static func threeAliases() throws -> DeployFixture {
        let extra = ["CheckoutFunctionWithAFairlyLongName", "Counter"].map { name in
            """
              \(name):
                Type: AWS::Serverless::Function
                Properties:
                  CodeUri: !Ref Code
                  Handler: app.handler
                  Runtime: python3.12
                  AutoPublishAlias: live
                  DeploymentPreference:
                    Type: Linear50PercentEvery1Minute

            """
        }
        return try DeployFixture(extraResources: extra.joined())
    }

    @Test func statusLinesFitTheWidthAndLeaveNoStaleCopies() throws {
        let app = try Self.threeAliases()
        #expect(try app.deploy("good1").status == 0)
        let functions = ["Fn", "CheckoutFunctionWithAFairlyLongName", "Counter"]
        let run = try PseudoTerminal.run(["deploy", app.template, "--state-dir", app.state, "--parameter-overrides", "Code=good2", "--no-judge",
                                          "--time-scale", "60", "--traffic", app.traffic, "--rate", "40"],
                                         columns: 80, environment: Self.terminal.merging(["SHIFT_LOG_LEVEL": "debug"]) { $1 })
        var screen = ScreenReplay(columns: 80, rows: 24)
        screen.watched = functions.map { "\($0):live | " }
        screen.feed(run.bytes)
        let shown = String(decoding: run.bytes, as: UTF8.self)
        #expect(run.status == 0, "\(shown)")
        #expect(screen.unknown.isEmpty, "\(screen.unknown)")
        let statusLines = screen.finishedLines.filter { line in screen.watched.contains { line.text.hasPrefix($0) } }
        #expect(Set(statusLines.map { $0.text.prefix { $0 != " " } }).count == 3, "a status line for each alias: \(shown)")
        #expect(statusLines.allSatisfy { $0.rows == 1 && $0.text.count <= 80 })
        #expect(!screen.wraps.contains { line in screen.watched.contains { line.hasPrefix($0) } }, "a status line wrapped: \(screen.wraps)")
        #expect(screen.mostCopies == 1, "stale status lines stayed on screen: \(screen.text.joined(separator: "\n"))")
        // At the end the block is gone: only the events and the runtime's log on stderr (each execution
        // environment it starts, while the block is up), each a line of its own.
        let final = screen.text
        #expect(!final.contains { line in screen.watched.contains { line.hasPrefix($0) } }, "\(final.joined(separator: "\n"))")
        let log = final.filter { $0.contains("debug:") || $0.contains("warning:") }
        #expect(log.filter { $0.contains("started execution environment") }.count >= 3)
        #expect(log.allSatisfy { $0.hasPrefix("debug: ") || $0.hasPrefix("warning: ") }, "\(final.joined(separator: "\n"))")
        #expect(final.filter { $0.contains("Succeeded") }.count >= 3)
        let coloured = Self.escapes(run.bytes).contains("ESC[1m")
        #expect(coloured, "colour is on by default on a terminal")
    }

    @Test func noColorDropsTheColourButKeepsTheInPlaceRedraw() throws {
        let app = try DeployFixture()
        #expect(try app.deploy("good1").status == 0)
        let run = try PseudoTerminal.run(["deploy", app.template, "--state-dir", app.state, "--parameter-overrides", "Code=good2", "--no-judge",
                                          "--time-scale", "60"],
                                         columns: 80, environment: Self.terminal.merging(["NO_COLOR": "1"]) { $1 })
        #expect(run.status == 0)
        let escapes = Self.escapes(run.bytes)
        #expect(escapes.contains { $0.hasSuffix("A") } && escapes.contains("ESC[J"), "the block is redrawn in place: \(escapes)")
        #expect(!escapes.contains { $0.hasSuffix("m") }, "no colour with NO_COLOR: \(escapes)")
        var screen = ScreenReplay(columns: 80, rows: 24)
        screen.watched = ["Fn:live | "]
        screen.feed(run.bytes)
        #expect(screen.finishedLines.contains { $0.text.hasPrefix("Fn:live | step 1/2") })
        #expect(screen.mostCopies == 1)
    }

    @Test func aDumbTerminalGetsPlainLinesWithoutEscapes() throws {
        let app = try DeployFixture()
        #expect(try app.deploy("good1").status == 0)
        let run = try PseudoTerminal.run(["deploy", app.template, "--state-dir", app.state, "--parameter-overrides", "Code=good2", "--no-judge",
                                          "--time-scale", "60"],
                                         columns: 80, environment: ["TERM": "dumb"])
        #expect(run.status == 0)
        #expect(Self.escapes(run.bytes).isEmpty)
        #expect(String(decoding: run.bytes, as: UTF8.self).contains("summary: Succeeded"))
    }

    /// At time scale 2 a progress update comes every five seconds; the redraw at the new width comes
    /// right after SIGWINCH with the same text, cut at the new margin.
    @Test func aResizedWindowGetsTheBlockRedrawnAtItsWidth() throws {
        let app = try DeployFixture()
        #expect(try app.deploy("good1").status == 0)
        let run = try PseudoTerminal.run(["deploy", app.template, "--state-dir", app.state, "--parameter-overrides", "Code=good2", "--no-judge",
                                          "--time-scale", "2"],
                                         columns: 120, environment: Self.terminal, resize: (60, "step 1/2"))
        let resizedAt = try #require(run.resizedAt, "\(String(decoding: run.bytes, as: UTF8.self))")
        var screen = ScreenReplay(columns: 120, rows: 24)
        screen.feed(run.bytes.prefix(resizedAt))
        screen.resize(columns: 60)
        screen.feed(run.bytes.dropFirst(resizedAt))
        let status = screen.finishedLines.filter { $0.text.hasPrefix("Fn:live | ") }
        let before = try #require(status.last { $0.offset <= resizedAt }), after = try #require(status.first { $0.offset > resizedAt })
        #expect(before.text.count > 60)
        #expect(after.rows == 1 && after.text.count <= 60 && after.text.hasSuffix("…"), "\(after.text)")
        #expect(before.text.hasPrefix(after.text.dropLast()), "redrawn on SIGWINCH, not by the next update: \(before.text) / \(after.text)")
        // Interrupted: the deployment rolls back and says so, with no status line left behind.
        #expect(run.status == 3)
        #expect(!screen.text.contains { $0.hasPrefix("Fn:live | ") }, "\(screen.text.joined(separator: "\n"))")
    }

    /// The control sequences in `bytes`, as `ESC[` parameters and final byte.
    static func escapes(_ bytes: [UInt8]) -> [String] {
        let text = String(decoding: bytes, as: UTF8.self)
        return text.split(separator: "\u{1B}", omittingEmptySubsequences: true).dropFirst(text.hasPrefix("\u{1B}") ? 0 : 1).map { part in
            let body = part.dropFirst().prefix { !$0.isLetter }
            let final = part.dropFirst(body.count + 1).first.map(String.init) ?? ""
            return "ESC[" + body + final
        }
    }
}
