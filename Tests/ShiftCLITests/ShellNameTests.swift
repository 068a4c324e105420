import Foundation
import Testing

/// `shift` is a builtin of bash, sh and zsh: what the README and the help texts tell people to type must
/// work when pasted into bash, which means through `shiftctl` (or a path), never the bare word `shift`.
@Suite struct ShellNameTests {
    static let bash = ["/bin/bash", "/usr/bin/bash"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// The code blocks of README.md meant for a shell, as (first line number, lines).
    static func shellBlocks() throws -> [(line: Int, lines: [String])] {
        let readme = try String(contentsOf: CLI.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        var blocks: [(Int, [String])] = [], current: [String]?, start = 0
        for (index, line) in readme.components(separatedBy: "\n").enumerated() {
            if line.hasPrefix("```") {
                if current != nil {
                    blocks.append((start, current!))
                    current = nil
                } else if ["sh", "bash", "shell", "console"].contains(line.dropFirst(3).trimmingCharacters(in: .whitespaces)) {
                    current = []
                    start = index + 2
                }
            } else {
                current?.append(line)
            }
        }
        return blocks
    }

    /// The commands of a block: the first word of each line that is not a continuation of the one before.
    static func commandWords(_ lines: [String]) -> [String] {
        var words: [String] = [], continued = false
        for line in lines {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if !continued, !trimmed.isEmpty, !trimmed.hasPrefix("#") {
                words.append(String(trimmed.prefix { !$0.isWhitespace }))
            }
            continued = trimmed.hasSuffix("\\")
        }
        return words
    }

    @Test func noReadmeCommandStartsWithTheBuiltinsName() throws {
        let blocks = try Self.shellBlocks()
        #expect(blocks.count >= 2)
        for block in blocks {
            let words = Self.commandWords(block.lines)
            #expect(!words.contains("shift"), "README.md:\(block.line): a line starts with the bare word `shift`, the shell builtin; write `shiftctl …` or `swift run shift …`")
        }
    }

    @Test func helpTextsNameTheProgramAsItWasStarted() throws {
        let subcommands = ["validate", "invoke", "deploy", "status", "rollback", "serve", "metrics", "logs"]
        let root = try CLI.run(["--help"], binary: CLI.shiftctl)
        #expect(root.status == 0)
        #expect(root.stdout.contains("USAGE: shiftctl <subcommand>"))
        for subcommand in subcommands {
            let help = try CLI.run([subcommand, "--help"], binary: CLI.shiftctl)
            #expect(help.status == 0, "\(subcommand) --help")
            #expect(help.stdout.contains("USAGE: shiftctl \(subcommand)"), "\(help.stdout)")
            // An example line in a help text is pasted as is: it must not start with the builtin's name.
            let examples = help.stdout.components(separatedBy: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { $0.hasPrefix("shift ") || $0.hasPrefix("$ shift ") }
            #expect(examples.isEmpty, "\(subcommand) --help: \(examples)")
        }
        let asShift = try CLI.run(["deploy", "--help"])
        #expect(asShift.stdout.contains("USAGE: shift deploy"))
    }

    @Test func errorsNameTheProgramAsItWasStarted() throws {
        let result = try CLI.run(["validate", "no-such-template.yaml"], binary: CLI.shiftctl)
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("shiftctl validate: error: "), "\(result.stderr)")
    }

    /// The README's Quick start, pasted into bash with the freshly built programs first on PATH (instead of
    /// its install line), in a copy of the example: every command runs the tool, none the builtin.
    @Test(.enabled(if: bash != nil, "needs bash"), .timeLimit(.minutes(3)))
    func quickStartRunsWhenPastedIntoBash() throws {
        let block = try #require(try Self.shellBlocks().first { $0.lines.contains { $0.hasPrefix("cd examples/greeter") } })
        let pasted = block.lines.filter { !$0.hasPrefix("scripts/install") && !$0.hasPrefix("export PATH=") }
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        try FileManager.default.createDirectory(at: work.appendingPathComponent("examples"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: CLI.packageRoot.appendingPathComponent("examples/greeter"),
                                         to: work.appendingPathComponent("examples/greeter"))
        let script = (["export PATH=\"\(CLI.shiftctl.deletingLastPathComponent().path):$PATH\""] + pasted).joined(separator: "\n")
        let result = try CLI.run(["-c", script], in: work, binary: URL(fileURLWithPath: Self.bash!))
        #expect(!result.stderr.contains("numeric argument required"), "\(result.stderr)")
        #expect(!result.stderr.contains("command not found"), "\(result.stderr)")
        #expect(result.stdout.contains("Greeter"), "validate shows the function")
        #expect(result.stdout.contains("Hello, Ada"), "invoke ran the function: \(result.stdout)")
        #expect(result.stdout.contains("created alias live on version 1"), "\(result.stdout)")
        #expect(result.stdout.contains("ROLLED BACK to version 1"), "\(result.stdout)")
        #expect(result.stdout.contains("dry run"), "\(result.stdout)")
        #expect(result.status == 0, "the last command (status) succeeds: \(result.stderr)")
    }

    /// `shiftctl … | head` closes the pipe early: the tool must finish its work and exit as usual, not trap on
    /// the failed write (or die of SIGPIPE) mid-deployment.
    @Test(.enabled(if: bash != nil, "needs bash"))
    func aClosedPipeEndsTheOutputNotTheProgram() throws {
        let bin = CLI.shiftctl.path
        // `true` exits without reading, so every write of the dry run meets a closed pipe.
        let script = "'\(bin)' deploy examples/greeter/template.yaml --dry-run --output json --state-dir \"$(mktemp -d)\" | true; "
            + "echo \"status ${PIPESTATUS[0]}\""
        let result = try CLI.run(["-c", script], binary: URL(fileURLWithPath: Self.bash!))
        #expect(result.stdout == "status 0\n", "\(result.stdout)\(result.stderr)")
    }
}
