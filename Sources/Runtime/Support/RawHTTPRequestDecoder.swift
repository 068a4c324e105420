import NIOCore

/// A whole HTTP/1.x request read by `RawHTTPRequestDecoder`.
struct RawHTTPRequest {
    var method: String
    /// The request target as sent (path and query).
    var target: String
    /// `HTTP/1.<minor>`.
    var minorVersion: Int
    /// Whether the connection stays open after the answer (HTTP/1.1 unless `Connection: close`, HTTP/1.0 only with
    /// `Connection: keep-alive`).
    var keepAlive: Bool
    /// The headers the decoder was asked to keep (`RawHTTPRequestDecoder.keptHeaders`) in their order, each time one
    /// came: by its lower-case name, or as sent when every header is kept.
    var headers: [(name: String, value: String)]
    /// The body, or nil when it was empty or larger than the decoder's body limit (then only `bodySize` tells).
    var body: ByteBuffer?
    var bodySize: Int
    /// How the body is framed: a `Content-Length` (nil when there is none) or chunks.
    var contentLength: Int?
    var chunked = false
    var expectsContinue = false

    /// The last value of a header.
    func header(_ lowercaseName: String) -> String? {
        headers.last { RawHTTPRequestDecoder.equalsLowercase($0.name.utf8, lowercaseName.utf8) }?.value
    }
}

/// Reads HTTP/1.x requests from bytes by hand: a request line, headers, and a body by `Content-Length` or
/// chunked. NIO's decoder (llhttp, a part per event, `HTTPHeaders` of every header) costs a warm invocation more than
/// the rest of its bookkeeping together, and the servers using this one read few headers of simple requests.
///
/// It is strict where the servers need it (one body framing, sizes that parse, a bounded head) and throws
/// `RawHTTPError` for anything else: the connection is then closed, as NIO's decoder closes it.
struct RawHTTPRequestDecoder {
    /// What one call of `decode` found.
    enum Event {
        /// The head asked for `Expect: 100-continue` and its body is still to come.
        case expectsContinue
        case request(RawHTTPRequest)
    }

    /// A head longer than this is refused (NIO's default limit).
    static let maximumHeadBytes = 80 * 1024
    /// Bodies above this are read and counted but not kept.
    let bodyLimit: Int
    /// Lower-case names of the headers to keep; nil keeps every one.
    let keptHeaders: [String]?

    private enum State {
        case head
        case fixedBody(RawHTTPRequest, remaining: Int)
        case chunkSize(RawHTTPRequest)
        case chunkData(RawHTTPRequest, remaining: Int)
        case chunkDataEnd(RawHTTPRequest)
        case trailers(RawHTTPRequest)
    }

    private var state = State.head
    /// How far the search for the end of a head has looked already (a head arriving in many reads is scanned once).
    private var scanned = 0

    init(bodyLimit: Int, keptHeaders: [String]?) {
        self.bodyLimit = bodyLimit
        self.keptHeaders = keptHeaders
    }

    /// The request whose head has been read while its body is still arriving, and how many body bytes are still to
    /// come (nil: chunked, unknown).
    var awaitingBody: (request: RawHTTPRequest, remaining: Int?)? {
        switch state {
        case .head: nil
        case .fixedBody(let request, let remaining): (request, remaining)
        case .chunkSize(let request), .chunkData(let request, _), .chunkDataEnd(let request), .trailers(let request): (request, nil)
        }
    }

    /// Whether a request has begun and is not whole yet.
    var isMidRequest: Bool {
        if case .head = state { scanned > 0 } else { true }
    }

    /// Consumes what it can of `buffer` and returns the next event, or nil when more bytes are needed.
    mutating func decode(_ buffer: inout ByteBuffer) throws(RawHTTPError) -> Event? {
        while true {
            switch state {
            case .head:
                guard let (request, framing, expectsContinue) = try readHead(&buffer) else { return nil }
                switch framing {
                case .length(0):
                    return .request(request)
                case .length(let length):
                    state = .fixedBody(request, remaining: length)
                case .chunked:
                    state = .chunkSize(request)
                }
                if expectsContinue, buffer.readableBytes == 0 { return .expectsContinue }
            case .fixedBody(var request, let remaining):
                guard buffer.readableBytes > 0 else { return nil }
                let take = min(remaining, buffer.readableBytes)
                state = .head  // the state lets go of the body, so appending does not copy it
                append(buffer.readSlice(length: take)!, to: &request)
                if take == remaining {
                    state = .head
                    return .request(request)
                }
                state = .fixedBody(request, remaining: remaining - take)
                return nil
            case .chunkSize(let request):
                guard let line = try readLine(&buffer, limit: 1024) else { return nil }
                let size = try Self.chunkSize(line)
                state = size == 0 ? .trailers(request) : .chunkData(request, remaining: size)
            case .chunkData(var request, let remaining):
                guard buffer.readableBytes > 0 else { return nil }
                let take = min(remaining, buffer.readableBytes)
                state = .head  // as above
                append(buffer.readSlice(length: take)!, to: &request)
                state = take == remaining ? .chunkDataEnd(request) : .chunkData(request, remaining: remaining - take)
                if take < remaining { return nil }
            case .chunkDataEnd(let request):
                guard buffer.readableBytes >= 2 else { return nil }
                guard buffer.readInteger(as: UInt16.self) == 0x0D0A else { throw RawHTTPError("a chunk that does not end with CRLF") }
                state = .chunkSize(request)
            case .trailers(let request):
                guard let line = try readLine(&buffer, limit: Self.maximumHeadBytes) else { return nil }
                if line.isEmpty {
                    state = .head
                    return .request(request)
                }
            }
        }
    }

    private mutating func append(_ slice: ByteBuffer, to request: inout RawHTTPRequest) {
        request.bodySize += slice.readableBytes
        guard request.bodySize <= bodyLimit else {
            request.body = nil
            return
        }
        if request.body == nil {
            request.body = slice
        } else {
            var slice = slice
            request.body!.writeBuffer(&slice)
        }
    }

    private enum Framing {
        case length(Int)
        case chunked
    }

    /// The size on a chunk line: hex digits only (`Int(_:radix:)` would take a sign, and a negative size would read
    /// a slice of negative length), then optional whitespace and extensions (`;name=value`), which are ignored.
    private static func chunkSize(_ line: [UInt8]) throws(RawHTTPError) -> Int {
        var size = 0
        var index = 0
        while index < line.count, let digit = hexDigit(line[index]) {
            guard index < 15 else { throw RawHTTPError("a chunk size of more than 15 hexadecimal digits") }
            size = size << 4 | digit
            index += 1
        }
        let rest = line[index...].drop { $0 == 0x20 || $0 == 0x09 }
        guard index > 0, rest.first == nil || rest.first == UInt8(ascii: ";") else {
            throw RawHTTPError("a chunk size that is not a hexadecimal number")
        }
        return size
    }

    private static func hexDigit(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte - UInt8(ascii: "A")) + 10
        default: nil
        }
    }

    /// One line without its CRLF (a bare LF is taken too), or nil when it has not arrived whole.
    private func readLine(_ buffer: inout ByteBuffer, limit: Int) throws(RawHTTPError) -> [UInt8]? {
        let view = buffer.readableBytesView
        guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if view.count > limit { throw RawHTTPError("a line longer than \(limit) bytes") }
            return nil
        }
        var line = Array(view[view.startIndex..<newline])
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        buffer.moveReaderIndex(forwardBy: newline - view.startIndex + 1)
        return line
    }

    private mutating func readHead(_ buffer: inout ByteBuffer) throws(RawHTTPError) -> (RawHTTPRequest, Framing, Bool)? {
        // Blank lines before a request are allowed (RFC 9112 2.2).
        while let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self), first == 0x0D || first == 0x0A {
            buffer.moveReaderIndex(forwardBy: 1)
        }
        let found: Int? = buffer.withUnsafeReadableBytes { bytes in
            var index = max(scanned - 3, 0)
            while index + 3 < bytes.count {
                if bytes[index + 3] != 0x0A {
                    index += bytes[index + 3] == 0x0D ? 1 : 4
                    continue
                }
                if bytes[index] == 0x0D, bytes[index + 1] == 0x0A, bytes[index + 2] == 0x0D { return index + 4 }
                index += 1
            }
            return nil
        }
        guard let length = found else {
            // A line ending in a bare LF means the CRLFCRLF never comes: refuse it now (NIO's strict llhttp did too)
            // rather than hold the connection until it goes idle. The first byte is not a LF (blank lines were skipped).
            let bareLineFeed = buffer.withUnsafeReadableBytes { bytes in
                (max(scanned, 1)..<max(bytes.count, 1)).contains { bytes[$0] == 0x0A && bytes[$0 - 1] != 0x0D }
            }
            if bareLineFeed { throw RawHTTPError("a line that ends in a bare LF instead of CRLF") }
            scanned = buffer.readableBytes
            if scanned > Self.maximumHeadBytes { throw RawHTTPError("a request head longer than \(Self.maximumHeadBytes) bytes") }
            return nil
        }
        scanned = 0
        guard length <= Self.maximumHeadBytes else { throw RawHTTPError("a request head longer than \(Self.maximumHeadBytes) bytes") }
        let head = buffer.readSlice(length: length)!
        return try head.withUnsafeReadableBytes { bytes throws(RawHTTPError) in try parseHead(bytes) }
    }

    private func parseHead(_ bytes: UnsafeRawBufferPointer) throws(RawHTTPError) -> (RawHTTPRequest, Framing, Bool) {
        let end = bytes.count - 2  // the blank line's CRLF
        var lineEnd = 0
        while bytes[lineEnd] != 0x0D { lineEnd += 1 }
        // METHOD SP TARGET SP HTTP/1.x
        guard let space1 = (0..<lineEnd).first(where: { bytes[$0] == 0x20 }), space1 > 0,
              let space2 = (space1 + 1..<lineEnd).first(where: { bytes[$0] == 0x20 }), space2 > space1 + 1,
              lineEnd - space2 == 9 else { throw RawHTTPError("a malformed request line") }
        let version = UnsafeRawBufferPointer(rebasing: bytes[space2 + 1..<lineEnd])
        guard version.starts(with: "HTTP/1.".utf8), let minor = version.last.map({ Int($0) - 0x30 }), minor == 0 || minor == 1 else {
            throw RawHTTPError("an HTTP version other than 1.0 or 1.1")
        }
        let method = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[0..<space1]), as: UTF8.self)
        let target = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[space1 + 1..<space2]), as: UTF8.self)
        guard method.utf8.allSatisfy(Self.isTokenByte) else { throw RawHTTPError("a malformed method") }

        var request = RawHTTPRequest(method: method, target: target, minorVersion: minor, keepAlive: minor == 1, headers: [], body: nil, bodySize: 0)
        var contentLength: Int?
        var chunked = false
        var expectsContinue = false
        // `close` ends the connection wherever it stands among the options (RFC 9112 9.3).
        var closeAsked = false
        var index = lineEnd + 2
        while index < end {
            var lineEnd = index
            while bytes[lineEnd] != 0x0D || bytes[lineEnd + 1] != 0x0A { lineEnd += 1 }
            guard let colon = (index..<lineEnd).first(where: { bytes[$0] == UInt8(ascii: ":") }), colon > index else {
                throw RawHTTPError("a header line without a name and a colon")
            }
            let nameBytes = UnsafeRawBufferPointer(rebasing: bytes[index..<colon])
            guard nameBytes.allSatisfy(Self.isTokenByte) else { throw RawHTTPError("a malformed header name") }
            var valueStart = colon + 1, valueEnd = lineEnd
            while valueStart < valueEnd, bytes[valueStart] == 0x20 || bytes[valueStart] == 0x09 { valueStart += 1 }
            while valueEnd > valueStart, bytes[valueEnd - 1] == 0x20 || bytes[valueEnd - 1] == 0x09 { valueEnd -= 1 }
            let value = UnsafeRawBufferPointer(rebasing: bytes[valueStart..<valueEnd])
            if Self.equalsLowercase(nameBytes, "content-length") {
                guard value.count > 0, value.count <= 18, value.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                    throw RawHTTPError("a Content-Length that is not a number")
                }
                let parsed = value.reduce(0) { $0 * 10 + Int($1 - 0x30) }
                if let contentLength, contentLength != parsed { throw RawHTTPError("two different Content-Length headers") }
                contentLength = parsed
            } else if Self.equalsLowercase(nameBytes, "transfer-encoding") {
                guard Self.equalsLowercase(value, "chunked"), !chunked else { throw RawHTTPError("a Transfer-Encoding other than chunked") }
                chunked = true
            } else if Self.equalsLowercase(nameBytes, "connection") {
                for option in value.split(separator: UInt8(ascii: ",")) {
                    let first = option.firstIndex { $0 != 0x20 && $0 != 0x09 } ?? option.endIndex
                    let last = option.lastIndex { $0 != 0x20 && $0 != 0x09 }.map { $0 + 1 } ?? first
                    let token = option[first..<max(first, last)]
                    if Self.equalsLowercase(token, "close".utf8) { closeAsked = true }
                    if Self.equalsLowercase(token, "keep-alive".utf8), minor == 0 { request.keepAlive = true }
                }
            } else if Self.equalsLowercase(nameBytes, "expect") {
                expectsContinue = Self.equalsLowercase(value, "100-continue")
            }
            if let keptHeaders {
                if let kept = keptHeaders.first(where: { Self.equalsLowercase(nameBytes, $0.utf8) }) {
                    request.headers.append((kept, String(decoding: value, as: UTF8.self)))
                }
            } else {
                request.headers.append((String(decoding: nameBytes, as: UTF8.self), String(decoding: value, as: UTF8.self)))
            }
            index = lineEnd + 2
        }
        if chunked, contentLength != nil { throw RawHTTPError("both Content-Length and Transfer-Encoding") }
        if closeAsked { request.keepAlive = false }
        request.contentLength = contentLength
        request.chunked = chunked
        request.expectsContinue = expectsContinue
        return (request, chunked ? .chunked : .length(contentLength ?? 0), expectsContinue && (chunked || (contentLength ?? 0) > 0))
    }

    private static func equalsLowercase(_ bytes: some Collection<UInt8>, _ lowercase: StaticString) -> Bool {
        equalsLowercase(bytes, UnsafeBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount))
    }

    /// Whether `bytes` equal `lowercase` ignoring ASCII case.
    static func equalsLowercase(_ bytes: some Collection<UInt8>, _ lowercase: some Collection<UInt8>) -> Bool {
        guard bytes.count == lowercase.count else { return false }
        return zip(bytes, lowercase).allSatisfy { byte, expected in (byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte) == expected }
    }

    /// RFC 9110's `tchar`.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}

/// A request `RawHTTPRequestDecoder` will not read: the connection is closed.
struct RawHTTPError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = "Malformed HTTP request: \(description)." }
}
