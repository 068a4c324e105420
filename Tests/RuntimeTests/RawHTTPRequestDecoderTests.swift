import Foundation
import NIOCore
import Testing
@testable import Runtime

/// What the decoder reported, in a form tests can compare.
private enum Seen: Equatable, CustomStringConvertible {
    case expectsContinue
    case request(Request)

    struct Request: Equatable {
        var method = "GET"
        var target = "/2018-06-01/runtime/invocation/next"
        var minorVersion = 1
        var keepAlive = true
        var errorType: String?
        var body: String?
        var bodySize = 0
    }

    var description: String {
        switch self {
        case .expectsContinue: "expectsContinue"
        case .request(let r): "\(r.method) \(r.target) 1.\(r.minorVersion) keepAlive=\(r.keepAlive) errorType=\(r.errorType ?? "-") body=\(r.body.map { "\($0.count) bytes" } ?? "nil") bodySize=\(r.bodySize)"
        }
    }
}

private let next = "/2018-06-01/runtime/invocation/next"
private let keptHeader = "lambda-runtime-function-error-type"

/// Feeds `pieces` to one decoder as successive reads, carrying unread bytes over the way `RuntimeAPIHandler` does,
/// and returns every event.
private func decode(_ pieces: [[UInt8]], bodyLimit: Int = 1 << 20) throws(RawHTTPError) -> [Seen] {
    var decoder = RawHTTPRequestDecoder(bodyLimit: bodyLimit, keptHeaders: [keptHeader])
    var unread = ByteBuffer()
    var seen: [Seen] = []
    for piece in pieces {
        unread.writeBytes(piece)
        while let event = try decoder.decode(&unread) {
            switch event {
            case .expectsContinue:
                seen.append(.expectsContinue)
            case .request(let request):
                #expect(request.bodySize >= request.body?.readableBytes ?? 0)
                if request.bodySize > bodyLimit { #expect(request.body == nil) }
                seen.append(.request(Seen.Request(
                    method: request.method, target: request.target, minorVersion: request.minorVersion, keepAlive: request.keepAlive,
                    errorType: request.header(keptHeader), body: request.body.map { String(decoding: $0.readableBytesView, as: UTF8.self) },
                    bodySize: request.bodySize)))
            }
        }
        unread.discardReadBytes()
    }
    return seen
}

private func decode(_ text: String, bodyLimit: Int = 1 << 20) throws(RawHTTPError) -> [Seen] {
    try decode([Array(text.utf8)], bodyLimit: bodyLimit)
}

/// `bytes` cut into pieces of 1...`largest` bytes, at places chosen by `random`.
private func pieces(_ bytes: [UInt8], largest: Int, _ random: inout SplitMix64) -> [[UInt8]] {
    var result: [[UInt8]] = []
    var start = 0
    while start < bytes.count {
        let end = min(bytes.count, start + Int.random(in: 1...largest, using: &random))
        result.append(Array(bytes[start..<end]))
        start = end
    }
    return result
}

private func post(_ id: String, _ body: String, extraHeaders: String = "") -> String {
    "POST /2018-06-01/runtime/invocation/\(id)/response HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n\(extraHeaders)Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
}

private func posted(_ id: String, _ body: String?, size: Int? = nil, errorType: String? = nil, keepAlive: Bool = true) -> Seen {
    .request(Seen.Request(method: "POST", target: "/2018-06-01/runtime/invocation/\(id)/response", keepAlive: keepAlive,
                          errorType: errorType, body: body, bodySize: size ?? body?.utf8.count ?? 0))
}

private let getNext = "GET \(next) HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n"
private let nextSeen = Seen.request(Seen.Request())

@Suite struct RawHTTPRequestDecoderTests {
    @Test func getWithoutBody() throws {
        #expect(try decode(getNext) == [nextSeen])
    }

    @Test func incompleteHeadWaitsAndIsMidRequest() throws {
        var decoder = RawHTTPRequestDecoder(bodyLimit: 100, keptHeaders: [])
        var buffer = ByteBuffer(string: "GET \(next) HTTP/1.1\r\nHost: x\r\n")
        #expect(try decoder.decode(&buffer) == nil)
        #expect(decoder.isMidRequest)
        buffer.writeString("\r\n")
        guard case .request(let request) = try decoder.decode(&buffer) else { Issue.record("no request"); return }
        #expect(request.target == next)
        #expect(!decoder.isMidRequest)
        #expect(buffer.readableBytes == 0)
    }

    @Test func postWithContentLength() throws {
        let body = #"{"statusCode":200,"body":"hello"}"#
        #expect(try decode(post("req-1", body)) == [posted("req-1", body)])
    }

    @Test func emptyPostHasNoBody() throws {
        #expect(try decode(post("req-1", "")) == [posted("req-1", nil)])
    }

    /// The same stream of requests gives the same events whole, a byte at a time, and in random pieces.
    @Test func splittingTheBytesChangesNothing() throws {
        let stream = post("a", String(repeating: "0123456789", count: 300))
            + "POST /2018-06-01/runtime/invocation/b/error HTTP/1.1\r\nLambda-Runtime-Function-Error-Type: Boom\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "4\r\nwiki\r\n5;x=y\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nTrailer: 1\r\n\r\n"
            + getNext
            + "\r\n" + post("c", "tail")
        let bytes = Array(stream.utf8)
        let whole = try decode([bytes])
        #expect(whole.count == 4)
        #expect(whole.first == posted("a", String(repeating: "0123456789", count: 300)))
        #expect(whole[1] == .request(Seen.Request(method: "POST", target: "/2018-06-01/runtime/invocation/b/error", errorType: "Boom",
                                                  body: "wikipedia in\r\n\r\nchunks.", bodySize: 23)))
        #expect(whole[2] == nextSeen)
        #expect(whole[3] == posted("c", "tail"))
        #expect(try decode(bytes.map { [$0] }) == whole)
        var random = SplitMix64(seed: 42)
        for largest in [2, 3, 7, 16, 100, 1000] {
            for _ in 0..<20 {
                let split = pieces(bytes, largest: largest, &random)
                #expect(try decode(split) == whole, "pieces of at most \(largest) bytes: \(split.map(\.count))")
            }
        }
    }

    @Test func pipelinedRequestsInOneBuffer() throws {
        #expect(try decode(post("req-1", "done") + getNext) == [posted("req-1", "done"), nextSeen])
        #expect(try decode(getNext + getNext + getNext) == [nextSeen, nextSeen, nextSeen])
    }

    @Test func chunkedBodies() throws {
        let head = "POST /2018-06-01/runtime/invocation/c/response HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        // Upper and lower case hex, leading zeros, extensions with and without values, spaces before an extension.
        let chunks = "1A\r\nabcdefghijklmnopqrstuvwxyz\r\n1a;name=value\r\nABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n0003;a;b=\"q;t\"\r\n123\r\n2 ;ext\r\n45\r\n0\r\n\r\n"
        let body = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ12345"
        #expect(try decode(head + chunks + getNext) == [posted("c", body), nextSeen])
        // Trailers are read and dropped; the request after them decodes.
        let trailers = "5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other: d\r\n\r\n"
        #expect(try decode(head + trailers + getNext) == [posted("c", "hello"), nextSeen])
        // No chunk at all but the last one: an empty body.
        #expect(try decode(head + "0\r\n\r\n") == [posted("c", nil)])
        // `Transfer-Encoding` in any case, its value too.
        #expect(try decode("POST /2018-06-01/runtime/invocation/c/response HTTP/1.1\r\ntransfer-ENCODING: Chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
            == [posted("c", "ok")])
    }

    @Test func expectContinueWhenTheHeadArrivesAlone() throws {
        let head = "POST /2018-06-01/runtime/invocation/big/response HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
        #expect(try decode([Array(head.utf8), Array("hello".utf8)]) == [.expectsContinue, posted("big", "hello")])
        // Body already there: no need to ask for it.
        #expect(try decode(head + "hello") == [posted("big", "hello")])
        // Chunked too, and `Expect` in any case.
        let chunked = "POST /2018-06-01/runtime/invocation/big/response HTTP/1.1\r\nEXPECT: 100-Continue\r\nTransfer-Encoding: chunked\r\n\r\n"
        #expect(try decode([Array(chunked.utf8), Array("2\r\nhi\r\n0\r\n\r\n".utf8)]) == [.expectsContinue, posted("big", "hi")])
        // No body, nothing to continue.
        #expect(try decode("GET \(next) HTTP/1.1\r\nExpect: 100-continue\r\n\r\n") == [nextSeen])
    }

    @Test func keepAliveRules() throws {
        func keepAlive(_ version: String, _ headers: String) throws -> Bool? {
            guard case .request(let r) = try decode("GET \(next) HTTP/\(version)\r\n\(headers)\r\n").first else { return nil }
            return r.keepAlive
        }
        #expect(try keepAlive("1.0", "") == false)
        #expect(try keepAlive("1.0", "Connection: keep-alive\r\n") == true)
        #expect(try keepAlive("1.0", "connection: Keep-Alive\r\n") == true)
        #expect(try keepAlive("1.1", "") == true)
        #expect(try keepAlive("1.1", "Connection: close\r\n") == false)
        #expect(try keepAlive("1.1", "CONNECTION: Upgrade ,  CLOSE \r\n") == false)
        #expect(try keepAlive("1.1", "Connection: keep-alive\r\n") == true)
        #expect(try keepAlive("1.0", "Connection: keep-alive, close\r\n") == false)
        // `close` wins wherever it stands (RFC 9112 9.3).
        #expect(try keepAlive("1.0", "Connection: close, keep-alive\r\n") == false)
        #expect(try keepAlive("1.0", "Connection: close\r\nConnection: keep-alive\r\n") == false)
        #expect(try keepAlive("1.1", "Connection: close\r\nConnection: keep-alive\r\n") == false)
        guard case .request(let r) = try decode("GET \(next) HTTP/1.0\r\n\r\n").first else { Issue.record("no request"); return }
        #expect(r.minorVersion == 0)
    }

    @Test func headerNamesInAnyCaseAndTheKeptHeader() throws {
        let request = "POST /2018-06-01/runtime/invocation/e/error HTTP/1.1\r\nCONTENT-length: 2\r\n"
            + "LAMBDA-RUNTIME-FUNCTION-ERROR-TYPE:\tFirst.Error \r\nlambda-runtime-function-error-type:   Second.Error\t\r\nX-Other: y\r\n\r\n{}"
        #expect(try decode(request) == [.request(Seen.Request(method: "POST", target: "/2018-06-01/runtime/invocation/e/error",
                                                            errorType: "Second.Error", body: "{}", bodySize: 2))])
        // Only kept headers are kept.
        var decoder = RawHTTPRequestDecoder(bodyLimit: 10, keptHeaders: [keptHeader])
        var buffer = ByteBuffer(string: request)
        guard case .request(let decoded) = try decoder.decode(&buffer) else { Issue.record("no request"); return }
        #expect(decoded.headers.map(\.name) == [keptHeader, keptHeader])
        #expect(decoded.header("x-other") == nil)
        // The same Content-Length twice is one.
        #expect(try decode("POST /2018-06-01/runtime/invocation/x/response HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nokGET / HTTP/1.1\r\n\r\n").count == 2)
    }

    @Test func bodiesAboveTheLimitAreCountedAndConsumed() throws {
        let big = String(repeating: "x", count: 25)
        #expect(try decode(post("big", big) + getNext, bodyLimit: 10) == [posted("big", nil, size: 25), nextSeen])
        #expect(try decode(post("edge", "0123456789") + getNext, bodyLimit: 10) == [posted("edge", "0123456789"), nextSeen])
        // In pieces, the kept part dropped once the limit is passed.
        let bytes = Array((post("big", big) + getNext).utf8)
        #expect(try decode(bytes.map { [$0] }, bodyLimit: 10) == [posted("big", nil, size: 25), nextSeen])
        // Chunked: the limit applies to the sum of the chunks.
        let chunked = "POST /2018-06-01/runtime/invocation/big/response HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n"
        #expect(try decode(chunked + getNext, bodyLimit: 10) == [posted("big", nil, size: 16), nextSeen])
    }

    @Test func blankLinesBeforeARequestAreSkipped() throws {
        #expect(try decode("\r\n\r\n\n" + getNext) == [nextSeen])
        #expect(try decode([Array("\r\n".utf8), Array("\r".utf8), Array("\n".utf8), Array(getNext.utf8)]) == [nextSeen])
        #expect(try decode(post("a", "ok") + "\r\n" + getNext) == [posted("a", "ok"), nextSeen])
    }
}

/// Malformed requests throw `RawHTTPError` promptly: no trap, no waiting for bytes that cannot mend them.
@Suite struct RawHTTPRequestDecoderErrorTests {
    private func expectRefused(_ text: String, _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(throws: RawHTTPError.self, comment, sourceLocation: sourceLocation) { try decode(text) }
    }

    @Test func badRequestLines() {
        expectRefused("GARBAGE\r\n\r\n")
        expectRefused("GET /\r\n\r\n", "HTTP/0.9")
        expectRefused("GET  / HTTP/1.1\r\n\r\n")
        expectRefused(" GET / HTTP/1.1\r\n\r\n")
        expectRefused("GET / HTTP/1.1 \r\n\r\n")
        expectRefused("GET /a b HTTP/1.1\r\n\r\n")
        expectRefused("G(T / HTTP/1.1\r\n\r\n")
        expectRefused("GET / HTTP/1.1x\r\n\r\n")
    }

    @Test func versionsOtherThan1_0And1_1() {
        expectRefused("GET / HTTP/2.0\r\n\r\n")
        expectRefused("GET / HTTP/1.2\r\n\r\n")
        expectRefused("GET / HTTP/1.x\r\n\r\n")
        expectRefused("GET / HTTPS/1.\r\n\r\n")
        expectRefused("GET / http/1.1\r\n\r\n")
    }

    @Test func badContentLength() {
        for value in ["abc", "-1", "+1", "1 2", "1,1", "", "0x10", "12345678901234567890"] {
            expectRefused("POST / HTTP/1.1\r\nContent-Length: \(value)\r\n\r\n", "Content-Length: \(value)")
        }
        expectRefused("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd")
    }

    @Test func badFraming() {
        expectRefused("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        expectRefused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n")
        for value in ["gzip", "gzip, chunked", "identity", "chunked, chunked"] {
            expectRefused("POST / HTTP/1.1\r\nTransfer-Encoding: \(value)\r\n\r\n0\r\n\r\n", "Transfer-Encoding: \(value)")
        }
        expectRefused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    }

    @Test func badChunks() {
        let head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        for size in ["zz", "", ";ext", "-1", "-5", "+5", "1 0", "0x5", "1000000000000000", "5 5"] {
            expectRefused(head + "\(size)\r\nhello\r\n0\r\n\r\n", "chunk size \(size)")
        }
        expectRefused(head + "5\r\nhelloX\r\n0\r\n\r\n", "chunk data longer than its size")
        expectRefused(head + String(repeating: "0", count: 2000), "a chunk-size line without an end")
    }

    @Test func headOver80KBWithoutAnEnd() throws {
        var decoder = RawHTTPRequestDecoder(bodyLimit: 100, keptHeaders: [])
        var buffer = ByteBuffer(string: "GET / HTTP/1.1\r\n")
        let line = "X-Filler: " + String(repeating: "a", count: 1000) + "\r\n"
        var threw = false
        for _ in 0..<100 {
            buffer.writeString(line)
            do {
                #expect(try decoder.decode(&buffer) == nil)
            } catch {
                threw = true
                break
            }
        }
        #expect(threw)
        #expect(buffer.readableBytes <= RawHTTPRequestDecoder.maximumHeadBytes + line.utf8.count)
        // And a whole head over the limit in one read.
        expectRefused("GET / HTTP/1.1\r\nX-Big: \(String(repeating: "b", count: 90_000))\r\n\r\n")
    }

    @Test func headerLinesWithoutANameAndColon() {
        expectRefused("GET / HTTP/1.1\r\nHost localhost\r\n\r\n")
        expectRefused("GET / HTTP/1.1\r\n: value\r\n\r\n")
        expectRefused("GET / HTTP/1.1\r\nBad Name: value\r\n\r\n")
        expectRefused("GET / HTTP/1.1\r\nName : value\r\n\r\n")
        expectRefused("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", "obsolete line folding")
    }

    /// Lines ending in a bare LF never make a CRLFCRLF: they are refused now, as NIO's (strict llhttp) decoder
    /// refused them, rather than held until the connection goes idle.
    @Test func bareLineFeedsAreRefused() {
        expectRefused("GET \(next) HTTP/1.1\nHost: 127.0.0.1\n\n")
        expectRefused("GET \(next) HTTP/1.1\r\nHost: 127.0.0.1\n\n")
        expectRefused("GET \(next) HTTP/1.1\r\nHost: 127.0.0.1\n")
    }

    /// Random mutations of valid requests, fed in random pieces, either decode or throw: never trap, never spin.
    @Test(.timeLimit(.minutes(1))) func mutatedRequestsDecodeOrThrow() throws {
        let valid = [
            getNext,
            post("req-1", #"{"ok":true}"#) + getNext,
            "POST /2018-06-01/runtime/invocation/r/error HTTP/1.1\r\nLambda-Runtime-Function-Error-Type: E\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "4\r\nwiki\r\n5;x=y\r\npedia\r\n0\r\nT: 1\r\n\r\n",
            "\r\nGET \(next) HTTP/1.0\r\nConnection: keep-alive\r\nExpect: 100-continue\r\n\r\n",
            "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n{}\n",
        ].map { Array($0.utf8) }
        let interesting = Array("\r\n :;-+0169aAfFxz\t,\"".utf8) + [0, 0x7F, 0x80, 0xFF]
        var random = SplitMix64(seed: 2026)
        var outcomes = (decoded: 0, refused: 0, waiting: 0)
        for _ in 0..<20_000 {
            var bytes = valid.randomElement(using: &random)!
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                var at = Int.random(in: 0..<bytes.count, using: &random)
                // Half the time at a line's start, where sizes and names begin.
                if Bool.random(using: &random), let lineStart = bytes[..<at].lastIndex(of: 0x0A) { at = lineStart + 1 }
                switch Int.random(in: 0..<6, using: &random) {
                case 0: bytes[at] = interesting.randomElement(using: &random)!
                case 1: bytes[at] = UInt8.random(in: 0...255, using: &random)
                case 2: bytes.insert(interesting.randomElement(using: &random)!, at: at)
                case 3: bytes.remove(at: at)
                case 4: bytes.insert(contentsOf: bytes[at..<min(bytes.count, at + Int.random(in: 1...20, using: &random))], at: at)
                default: bytes.removeSubrange(at...)
                }
                if bytes.isEmpty { bytes = [0x47] }
            }
            do {
                let events = try decode(pieces(bytes, largest: Int.random(in: 1...64, using: &random), &random), bodyLimit: 8)
                if events.isEmpty { outcomes.waiting += 1 } else { outcomes.decoded += 1 }
            } catch {
                outcomes.refused += 1
            }
        }
        // The mutations reach all three outcomes, so the test exercises more than the refusals.
        #expect(outcomes.decoded > 100 && outcomes.refused > 100 && outcomes.waiting > 100, "\(outcomes)")
    }
}

/// Runtime clients framing their requests in ways the decoder must follow, through a real environment.
@Suite struct RuntimeAPIWireFramingTests {
    /// `http.client` sends an iterable body chunked (no `Content-Length`), as awslambdaric-style streaming clients do.
    @Test func chunkedResponseAndErrorPosts() async throws {
        let fixtures = try FixtureFolder()
        let python = try await resolvedPython()
        let code = try fixtures.write("fn", ["bootstrap": """
            #!\(python)
            import os, http.client
            c = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"])
            while True:
                c.request("GET", "/2018-06-01/runtime/invocation/next")
                r = c.getresponse()
                event = r.read()
                rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
                if event == b'"fail"':
                    parts = iter([b'{"errorMessage":', b'"in chunks",', b'"errorType":"Chunky"}'])
                    c.request("POST", "/2018-06-01/runtime/invocation/%s/error" % rid, body=parts, encode_chunked=True,
                              headers={"Lambda-Runtime-Function-Error-Type": "Chunky", "Transfer-Encoding": "chunked"})
                else:
                    big = [b"x" * 65536 for _ in range(16)] if event == b'"big"' else []
                    parts = iter([b'{"event":', event, b',"pad":"'] + big + [b'"}'])
                    c.request("POST", "/2018-06-01/runtime/invocation/%s/response" % rid, body=parts, encode_chunked=True,
                              headers={"Transfer-Encoding": "chunked"})
                r = c.getresponse()
                r.read()
                if r.status != 202:
                    print("post answered", r.status, flush=True)
            """], executable: ["bootstrap"])
        let config = FunctionConfiguration(functionName: "chunked", runtime: "provided.al2023", codeDirectory: code, timeout: 20)
        try await withLocalRuntime(options: testOptions()) { runtime in
            let small = try await runtime.invoke(config, payload: bytes(#"{"k":[1,2]}"#))
            #expect(small.functionError == nil, "\(small.text)\n\(small.log)")
            #expect(small.text == #"{"event":{"k":[1,2]},"pad":""}"#, "\(small.log)")
            let big = try await runtime.invoke(config, payload: bytes(#""big""#))
            #expect(big.payload.count == #"{"event":"big","pad":""}"#.utf8.count + 16 * 65536, "\(big.log)")
            #expect(big.json["event"] as? String == "big")
            let failed = try await runtime.invoke(config, payload: bytes(#""fail""#))
            #expect(failed.functionError == "Unhandled")
            #expect(failed.errorType == "Chunky", "\(failed.text)\n\(failed.log)")
            #expect(failed.json["errorMessage"] as? String == "in chunks")
            #expect(failed.environmentId == small.environmentId)
            #expect(!failed.log.contains("post answered"), "\(failed.log)")
        }
    }

    /// curl streams a body from stdin chunked; each answer tells how curl sent the one before.
    @Test func curlChunkedResponse() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["bootstrap": """
            #!/bin/sh
            set -eu
            API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"
            SENT='"none"'
            while true; do
              HEADERS="$(mktemp)"
              EVENT=$(curl -sS -D "$HEADERS" "$API/next")
              ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
              rm -f "$HEADERS"
              { printf '{"curl":%s,"sent":%s,"pad":"' "$EVENT" "$SENT"; head -c 300000 /dev/zero | tr '\\0' b; printf '"}'; } |
                curl -v -sS -X POST "$API/$ID/response" -H 'Transfer-Encoding: chunked' --data-binary @- -o "$TMPDIR/answer" 2> "$TMPDIR/curl.log"
              if grep -qi '^> Transfer-Encoding: chunked' "$TMPDIR/curl.log"; then SENT='"chunked"'; else SENT='"plain"'; fi
              if ! grep -q 'HTTP/1.1 202' "$TMPDIR/curl.log"; then SENT='"not accepted"'; fi
            done
            """], executable: ["bootstrap"])
        let config = FunctionConfiguration(functionName: "curlchunked", runtime: "provided.al2023", codeDirectory: code, timeout: 20)
        try await withLocalRuntime(options: testOptions()) { runtime in
            let first = try await runtime.invoke(config, payload: bytes(#"{"n":1}"#))
            #expect(first.functionError == nil, "\(first.text)\n\(first.log)")
            #expect((first.json["curl"] as? [String: Any])?["n"] as? Int == 1, "\(first.log)")
            #expect(first.json["pad"] as? String == String(repeating: "b", count: 300_000))
            let second = try await runtime.invoke(config, payload: bytes(#"{"n":2}"#))
            #expect((second.json["curl"] as? [String: Any])?["n"] as? Int == 2, "\(second.log)")
            #expect(second.json["sent"] as? String == "chunked", "\(second.log)")
        }
    }

    /// A malformed answer gets a 400 that says what is wrong and closes only its connection: the client answers again
    /// on a new one.
    @Test func malformedChunkClosesOnlyThatConnection() async throws {
        let fixtures = try FixtureFolder()
        let python = try await resolvedPython()
        let code = try fixtures.write("fn", ["bootstrap": """
            #!\(python)
            import os, socket, http.client
            api = os.environ["AWS_LAMBDA_RUNTIME_API"]
            host, port = api.rsplit(":", 1)
            while True:
                c = http.client.HTTPConnection(api)
                c.request("GET", "/2018-06-01/runtime/invocation/next")
                r = c.getresponse()
                event = r.read()
                rid = r.getheader("Lambda-Runtime-Aws-Request-Id").encode()
                c.close()
                s = socket.create_connection((host, int(port)))
                s.settimeout(10)
                s.sendall(b"POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n-1\\r\\nx\\r\\n" % rid)
                answer = b""
                while True:
                    part = s.recv(4096)
                    if not part:
                        break
                    answer += part
                closed = answer.startswith(b"HTTP/1.1 400") and b"chunk size" in answer and b"Connection: close" in answer
                s.close()
                c = http.client.HTTPConnection(api)
                c.request("POST", "/2018-06-01/runtime/invocation/%s/response" % rid.decode(), body=b'{"closed":%s}' % (b"true" if closed else b"false"))
                c.getresponse().read()
                c.close()
            """], executable: ["bootstrap"])
        let config = FunctionConfiguration(functionName: "badchunk", runtime: "provided.al2023", codeDirectory: code, timeout: 20)
        try await withLocalRuntime(options: testOptions()) { runtime in
            let first = try await runtime.invoke(config, payload: bytes("{}"))
            #expect(first.text == #"{"closed":true}"#, "\(first.log)")
            let second = try await runtime.invoke(config, payload: bytes("{}"))
            #expect(second.text == #"{"closed":true}"#, "\(second.log)")
        }
    }

    /// A raw socket client writes its answer and its next `GET next` in one `send`: both are served, in order.
    @Test func responseAndNextPipelinedInOneWrite() async throws {
        let fixtures = try FixtureFolder()
        let python = try await resolvedPython()
        let code = try fixtures.write("fn", ["bootstrap": """
            #!\(python)
            import os, socket, json
            host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
            s = socket.create_connection((host, int(port)))
            f = s.makefile("rb")
            def response():
                status = int(f.readline().split()[1])
                headers = {}
                while True:
                    line = f.readline()
                    if line in (b"\\r\\n", b""):
                        break
                    name, value = line.decode().split(":", 1)
                    headers[name.strip().lower()] = value.strip()
                return status, headers, f.read(int(headers.get("content-length", "0")))
            NEXT = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nHost: runtime\\r\\n\\r\\n"
            s.sendall(NEXT)
            status, headers, event = response()
            answered = []
            while True:
                rid = headers["lambda-runtime-aws-request-id"].encode()
                body = json.dumps({"event": json.loads(event), "answered": answered}).encode()
                post = b"POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\\r\\nHost: runtime\\r\\nContent-Length: %d\\r\\n\\r\\n%s" % (rid, len(body), body)
                s.sendall(post + NEXT)
                answered.append(response()[0])
                status, headers, event = response()
            """], executable: ["bootstrap"])
        let config = FunctionConfiguration(functionName: "pipelined", runtime: "provided.al2023", codeDirectory: code, timeout: 20)
        try await withLocalRuntime(options: testOptions()) { runtime in
            let first = try await runtime.invoke(config, payload: bytes("1"))
            #expect(first.text == #"{"event": 1, "answered": []}"#, "\(first.log)")
            let second = try await runtime.invoke(config, payload: bytes("2"))
            #expect(second.text == #"{"event": 2, "answered": [202]}"#, "\(second.log)")
            let third = try await runtime.invoke(config, payload: bytes(#"{"x":"y"}"#))
            #expect(third.text == #"{"event": {"x": "y"}, "answered": [202, 202]}"#, "\(third.log)")
            #expect(third.environmentId == first.environmentId)
        }
    }
}
