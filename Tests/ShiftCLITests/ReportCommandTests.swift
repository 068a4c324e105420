import Foundation
import Testing
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Whether headless Chromium is here (Debian's `chromium`; `.ci/run` installs it).
enum Chromium {
    static let path: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }
}

@Suite("shift report and deploy --report on the bundled example", .serialized)
struct ReportCommandTests {
    /// The bundled demo, rolled back by its alarm, with the report written when it ends.
    static func rolledBackDemo() throws -> (state: URL, report: URL, finished: [String: Any]) {
        let folder = try CLI.temporaryDirectory()
        let state = folder.appendingPathComponent("state"), report = folder.appendingPathComponent("rollout.html")
        let example = CLI.packageRoot.appendingPathComponent("examples/greeter")
        let first = try CLI.run(["deploy", "--state-dir", state.path], in: example)
        #expect(first.status == 0, "\(first.stderr)")
        let canary = try CLI.run(["deploy", "--state-dir", state.path, "--parameter-overrides", "GreeterCode=src/greeter-v2",
                                  "--time-scale", "60", "--traffic", "traffic.jsonl", "--rate", "40", "--report", report.path, "--output", "json"],
                                 in: example)
        #expect(canary.status == 3, "\(canary.stderr)")
        let last = try #require(canary.stdout.split(separator: "\n").last)
        let finished = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
        return (state, report, finished)
    }

    @Test func deployWritesTheReportAndReportRendersItInEveryFormat() throws {
        let (state, report, finished) = try Self.rolledBackDemo()
        #expect(finished["event"] as? String == "run.finished" && finished["report"] as? String == report.path, "\(finished)")
        let html = try String(contentsOf: report, encoding: .utf8)
        let parser = XMLParser(data: Data(html.utf8))
        #expect(parser.parse(), "the report is well-formed XHTML: \(String(describing: parser.parserError)) at line \(parser.lineNumber)")
        #expect(html.contains("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"timeline\""))
        #expect(html.contains("class=\"rollback\"") && html.contains("GreeterErrorsAlarm") && html.contains("title lookup failed"))
        #expect(!html.contains("http://") || !html.contains("src=\"http"), "nothing is fetched")

        // `report latest` makes the same page from the state directory alone.
        let latest = try CLI.run(["report", "latest", "--state-dir", state.path])
        #expect(latest.status == 0, "\(latest.stderr)")
        #expect(latest.stdout == html)

        let markdown = try CLI.run(["report", "--state-dir", state.path, "--format", "markdown"])
        #expect(markdown.status == 0, "\(markdown.stderr)")
        #expect(markdown.stdout.hasPrefix("### Deployment: Failed\n\n#### Greeter:live\n"), "\(markdown.stdout)")

        let functions = try #require(finished["functions"] as? [[String: Any]])
        let id = try #require(functions.first { $0["function"] as? String == "Greeter" }?["deploymentId"] as? String)
        let jsonFile = state.deletingLastPathComponent().appendingPathComponent("report.json")
        let json = try CLI.run(["report", String(id.prefix(8)), "--state-dir", state.path, "--output", jsonFile.path])
        #expect(json.status == 0 && json.stdout.contains("wrote the json report of Greeter:live to \(jsonFile.path)"), "\(json.stdout)\(json.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: jsonFile)) as? [String: Any])
        let deployment = try #require((object["deployments"] as? [[String: Any]])?.first)
        #expect(deployment["deploymentId"] as? String == id && deployment["status"] as? String == "Failed")
        let totals = try #require(deployment["totals"] as? [[String: Any]])
        let minutes = try #require(deployment["minutes"] as? [[String: Any]])
        // The totals are the minutes' sum, version by version.
        for total in totals {
            let version = total["version"] as? String
            let sum = minutes.flatMap { ($0["versions"] as? [[String: Any]]) ?? [] }.filter { $0["version"] as? String == version }
                .reduce(0) { $0 + (($1["invocations"] as? Int) ?? 0) }
            #expect(sum == total["invocations"] as? Int, "\(version ?? "?")")
        }
        #expect((deployment["events"] as? [[String: Any]])?.last?["event"] as? String == "deployment.summary")
    }

    @Test func badInputIsAClearError() throws {
        let state = try CLI.temporaryDirectory()
        let none = try CLI.run(["report", "--state-dir", state.path])
        #expect(none.status == 1 && none.stderr.contains("nothing was deployed from here yet"), "\(none.stderr)")
        let badExtension = try CLI.run(["report", "--output", "report.txt"])
        #expect(badExtension.status != 0 && badExtension.stderr.contains("(.html, .md or .json)"), "\(badExtension.stderr)")
        let deployReport = try CLI.run(["deploy", "examples/greeter/template.yaml", "--report", "out.pdf"])
        #expect(deployReport.status != 0 && deployReport.stderr.contains("--report 'out.pdf' must end in .html or .md"), "\(deployReport.stderr)")
    }

    /// The example's rolled-back report in a real browser: it loads, draws, and is not blank.
    @Test(.enabled(if: Chromium.path != nil, "needs Debian's chromium (.ci/run installs it)"))
    func chromiumRendersTheReport() throws {
        let (_, report, _) = try Self.rolledBackDemo()
        let png = report.deletingLastPathComponent().appendingPathComponent("report.png")
        let browser = URL(fileURLWithPath: Chromium.path!)
        let flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--window-size=1100,1400",
                     "--user-data-dir=\(report.deletingLastPathComponent().appendingPathComponent("profile").path)"]
        let dom = try CLI.run(flags + ["--dump-dom", report.absoluteString], binary: browser)
        #expect(dom.status == 0, "\(dom.stderr)")
        #expect(dom.stdout.contains("<svg") && dom.stdout.contains("Greeter:live"), "the page loaded: \(dom.stdout.prefix(300))")
        #expect(!dom.stderr.contains("net::ERR"), "nothing failed to load: \(dom.stderr)")
        let shot = try CLI.run(flags + ["--screenshot=\(png.path)", report.absoluteString], binary: browser)
        #expect(shot.status == 0 && FileManager.default.fileExists(atPath: png.path), "\(shot.stderr)")
        // Counted by decoding the PNG: a blank page is one colour; the report has text, bars, lines and bands.
        let check = try CLI.run(["python3", "-c", Self.pngColours, png.path], binary: URL(fileURLWithPath: "/usr/bin/env"))
        let figures = check.stdout.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        #expect(check.status == 0 && figures.count == 2, "\(check.stdout)\(check.stderr)")
        if figures.count == 2 {
            #expect(figures[0] > 20_000, "pixels that are not the background: \(figures[0])")
            #expect(figures[1] > 50, "distinct colours: \(figures[1])")
        }
    }

    /// Prints the number of pixels unlike the top-left one and the number of distinct colours of an 8-bit RGB(A) PNG.
    static let pngColours = """
        import struct, sys, zlib
        data = open(sys.argv[1], "rb").read()
        assert data[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
        pos, idat = 8, b""
        while pos < len(data):
            length, kind = struct.unpack(">I4s", data[pos:pos + 8])
            body = data[pos + 8:pos + 8 + length]
            if kind == b"IHDR":
                width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            elif kind == b"IDAT":
                idat += body
            pos += 12 + length
        assert depth == 8 and colour in (2, 6)
        bpp = 3 if colour == 2 else 4
        raw, stride = zlib.decompress(idat), width * bpp
        rows, prev, i = [], bytearray(stride), 0
        for _ in range(height):
            f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride]); i += 1 + stride
            for x in range(stride):
                a = line[x - bpp] if x >= bpp else 0; b = prev[x]; c = prev[x - bpp] if x >= bpp else 0
                if f == 1: line[x] = (line[x] + a) & 255
                elif f == 2: line[x] = (line[x] + b) & 255
                elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
                elif f == 4:
                    p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            rows.append(bytes(line)); prev = line
        background = rows[0][:3]
        pixels = [row[x:x + 3] for row in rows for x in range(0, stride, bpp)]
        print(sum(1 for p in pixels if p != background), len(set(pixels)))
        """
}
