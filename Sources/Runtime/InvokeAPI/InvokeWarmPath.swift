import Foundation
import NIOCore
import NIOHTTP1

/// The Invoke API's warm path (`WarmPathHandler`): a synchronous Invoke of a warm function, answered from the
/// connection's event loop through `LambdaService.invokeWarm`.
///
/// It takes `POST /2015-03-31/functions/NAME/invocations` with at most a `Qualifier`, a plain name, a synchronous call
/// and a JSON payload. Everything else (other operations, Event and DryRun calls, ARNs and percent-encoding, a cold or
/// busy function, a throttle, a payload that is not JSON or is too large, `Expect: 100-continue`) is answered by the
/// async server, with the whole of the API's behaviour and errors.
struct InvokeWarmPath: WarmPathResponder {
    /// What the head of an Invoke request says.
    struct Candidate {
        var function: String
        var qualifier: String?
        var tailLog: Bool
        var clientContext: String?
    }

    let service: LambdaService

    var bodyLimit: Int { LocalRuntime.maximumRequestBytes }
    static var rawHeaders: [String]? { ["x-amz-invocation-type", "x-amz-log-type", "x-amz-client-context", "content-length", "expect"] }

    func start(_ head: HTTPRequestHead, _ candidate: Candidate, body: ByteBuffer, loop: any EventLoop,
               completion: @escaping @Sendable (WarmAnswer?) -> Void) -> Bool {
        // Not JSON: answered with InvalidRequestContentException there.
        guard let payload = InvokeAPIRouter.invokePayload(Array(body.readableBytesView), validate: true) else { return false }
        let requestId = RequestId.make()
        let request = InvokeRequest(function: candidate.function, qualifier: candidate.qualifier, payload: payload, tailLog: candidate.tailLog,
                                    clientContext: candidate.clientContext, requestId: requestId)
        return service.invokeWarm(request, preferring: loop) { response in
            completion(response.map {
                let answer = InvokeAPIRouter.answer($0, requestId: requestId)
                return WarmAnswer(status: answer.status, headers: answer.headers, body: answer.body)
            })
        }
    }

    func candidate(_ head: HTTPRequestHead, channel: any Channel) -> Candidate? {
        guard head.method == .POST else { return nil }
        let prefix = "/2015-03-31/functions/", suffix = "/invocations"
        let uri = head.uri.utf8
        guard uri.starts(with: prefix.utf8) else { return nil }
        let rest = uri.dropFirst(prefix.utf8.count)
        guard let slash = rest.firstIndex(of: UInt8(ascii: "/")) else { return nil }
        var name = rest[..<slash]
        var qualifier: String?
        // `NAME:QUALIFIER`, as SDKs send it percent-encoded (`NAME%3AQUALIFIER`) or not.
        if let colon = name.firstIndex(of: UInt8(ascii: ":")) ?? Self.encodedColon(in: name) {
            let after = name[colon...].dropFirst(name[colon] == UInt8(ascii: ":") ? 1 : 3)
            guard Self.isQualifier(after) else { return nil }
            qualifier = String(decoding: after, as: UTF8.self)
            name = name[..<colon]
        }
        guard !name.isEmpty, name.count <= 140, name.allSatisfy(Self.isNameByte) else { return nil }
        let tail = rest[slash...]
        guard tail.starts(with: suffix.utf8) else { return nil }
        let query = tail.dropFirst(suffix.utf8.count)
        if !query.isEmpty {
            guard qualifier == nil else { return nil }  // both: the general path checks they agree
            let key = "?Qualifier="
            guard query.starts(with: key.utf8) else { return nil }
            let value = query.dropFirst(key.utf8.count)
            guard Self.isQualifier(value) else { return nil }
            qualifier = String(decoding: value, as: UTF8.self)
        }
        let headers = head.headers
        // A repeated one is read as the general path reads it (the last wins there).
        for name in ["x-amz-invocation-type", "x-amz-log-type", "x-amz-client-context"] where headers[name].count > 1 { return nil }
        if let type = headers.first(name: "x-amz-invocation-type"), type != "RequestResponse" { return nil }
        if headers.contains(name: "expect") { return nil }
        if let length = headers.first(name: "content-length").flatMap(Int.init), length > bodyLimit { return nil }
        var clientContext: String?
        if let encoded = headers.first(name: "x-amz-client-context") {
            guard let decoded = Data(base64Encoded: encoded) else { return nil }
            clientContext = String(decoding: decoded, as: UTF8.self)
        }
        return Candidate(function: String(decoding: name, as: UTF8.self), qualifier: qualifier,
                         tailLog: headers.first(name: "x-amz-log-type") == "Tail", clientContext: clientContext)
    }

    /// A version, an alias or `$LATEST`.
    private static func isQualifier(_ bytes: Substring.UTF8View.SubSequence) -> Bool {
        !bytes.isEmpty && bytes.count <= 128 && bytes.allSatisfy { isNameByte($0) || $0 == UInt8(ascii: "$") }
    }

    private static func encodedColon(in bytes: Substring.UTF8View.SubSequence) -> Substring.UTF8View.Index? {
        var index = bytes.startIndex
        while let percent = bytes[index...].firstIndex(of: UInt8(ascii: "%")) {
            let code = bytes[percent...].dropFirst().prefix(2)
            if code.count == 2, code.first == UInt8(ascii: "3"), code.last.map({ $0 | 0x20 }) == UInt8(ascii: "a") { return percent }
            index = bytes.index(after: percent)
        }
        return nil
    }

    /// Letters, digits, `-` and `_`: what a function name or an alias is made of.
    private static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "_"): true
        default: false
        }
    }
}
