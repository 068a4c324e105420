import Foundation

/// Chooses the route of a request as API Gateway, function URLs and load balancers do, all on one port.
///
/// Order: a `Host` whose first label is a function URL's function name (`greeter.localhost`) picks that URL;
/// then API routes, the most specific path first (literal segment over `{param}` over `{proxy+}`, an exact
/// method over `ANY`); then an HTTP API's `$default`; then load balancer rules by priority; then the first
/// function URL. A path that starts with a route's stage name (`/Prod/hello`, as the deployed URL has it)
/// matches that route too, as SAM CLI serves both.
public struct FrontDoorRouteTable: Sendable {
    /// A route with its path split once.
    struct Entry: Sendable {
        var route: FrontDoorRoute
        var segments: [Segment]
    }

    enum Segment: Sendable, Hashable {
        case literal(String)
        case parameter(String)
        case greedy(String)

        var rank: Int {
            switch self {
            case .literal: 3
            case .parameter: 2
            case .greedy: 1
            }
        }
    }

    /// What matched a request.
    public struct Match: Sendable {
        public var route: FrontDoorRoute
        /// Decoded values of the path's `{name}` and `{name+}` segments.
        public var pathParameters: [String: String]
        /// Whether the request path carried the stage name in front (then it is not part of `path`).
        public var stagePrefixed: Bool
    }

    public let routes: [FrontDoorRoute]
    private let entries: [Entry]
    private let stages: Set<String>

    public init(_ routes: [FrontDoorRoute]) {
        self.routes = routes
        entries = routes.map { Entry(route: $0, segments: $0.path.map(Self.segments(ofTemplate:)) ?? []) }
        stages = Set(routes.compactMap { route -> String? in
            switch route.kind {
            case .restApi, .httpApi: route.stage == "$default" ? nil : route.stage
            case .functionUrl, .loadBalancer: nil
            }
        })
    }

    /// Whether an unmatched request gets API Gateway REST's 403 `Missing Authentication Token` (no HTTP API
    /// route exists) rather than HTTP API's 404 `Not Found`.
    public var unmatchedIsForbidden: Bool {
        var rest = false
        for route in routes {
            switch route.kind {
            case .restApi: rest = true
            case .httpApi: return false
            case .functionUrl, .loadBalancer: continue
            }
        }
        return rest
    }

    /// The route for `method` on `path` (percent-encoded, without the query), `host` from the `Host` header.
    public func match(method: String, path: String, host: String?) -> Match? {
        if let host, let urlRoute = functionURL(forHost: host) {
            return Match(route: urlRoute, pathParameters: [:], stagePrefixed: false)
        }
        let segments = Self.segments(ofRequest: path)
        if let match = apiMatch(method: method, segments: segments, stagePrefixed: false) { return match }
        if let first = segments.first, stages.contains(first),
           let match = apiMatch(method: method, segments: Array(segments.dropFirst()), stagePrefixed: true, stage: first) {
            return match
        }
        if let fallback = entries.first(where: { if case .httpApi = $0.route.kind { $0.route.path == nil } else { false } }) {
            return Match(route: fallback.route, pathParameters: [:], stagePrefixed: false)
        }
        let balancers = entries.filter { if case .loadBalancer = $0.route.kind { true } else { false } }.sorted { $0.route.priority < $1.route.priority }
        for entry in balancers where entry.route.pathPatterns.isEmpty || entry.route.pathPatterns.contains(where: { Self.glob($0, matches: path) }) {
            return Match(route: entry.route, pathParameters: [:], stagePrefixed: false)
        }
        if let url = entries.first(where: { $0.route.kind == .functionUrl }) {
            return Match(route: url.route, pathParameters: [:], stagePrefixed: false)
        }
        return nil
    }

    private func functionURL(forHost host: String) -> FrontDoorRoute? {
        guard let dot = host.utf8.firstIndex(of: UInt8(ascii: ".")), dot > host.startIndex else { return nil }
        let label = host[..<dot].lowercased()
        return entries.first { $0.route.kind == .functionUrl && $0.route.function.lowercased() == label }?.route
    }

    private func apiMatch(method: String, segments: [String], stagePrefixed: Bool, stage: String? = nil) -> Match? {
        var best: (entry: Entry, parameters: [String: String])?
        for entry in entries where entry.route.path != nil {
            switch entry.route.kind {
            case .restApi, .httpApi: break
            case .functionUrl, .loadBalancer: continue
            }
            if let stage, entry.route.stage != stage { continue }
            if let wanted = entry.route.method, wanted != method { continue }
            guard let parameters = Self.bind(entry.segments, to: segments) else { continue }
            if let current = best, !Self.isMoreSpecific(entry, than: current.entry) { continue }
            best = (entry, parameters)
        }
        return best.map { Match(route: $0.entry.route, pathParameters: $0.parameters, stagePrefixed: stagePrefixed) }
    }

    /// Literal over parameter over greedy at the first segment where they differ; then the longer path;
    /// then an exact method over `ANY`.
    static func isMoreSpecific(_ a: Entry, than b: Entry) -> Bool {
        for (x, y) in zip(a.segments, b.segments) where x.rank != y.rank {
            return x.rank > y.rank
        }
        if a.segments.count != b.segments.count { return a.segments.count > b.segments.count }
        return a.route.method != nil && b.route.method == nil
    }

    /// The path parameters when `template` matches `request`, else nil.
    static func bind(_ template: [Segment], to request: [String]) -> [String: String]? {
        var parameters: [String: String] = [:]
        for (index, segment) in template.enumerated() {
            switch segment {
            case .literal(let text):
                guard index < request.count, request[index] == text else { return nil }
            case .parameter(let name):
                guard index < request.count, !request[index].isEmpty else { return nil }
                parameters[name] = request[index]
            case .greedy(let name):
                // `{proxy+}` needs at least one segment, as API Gateway's does.
                guard index < request.count else { return nil }
                parameters[name] = request[index...].joined(separator: "/")
                return parameters
            }
        }
        return template.count == request.count ? parameters : nil
    }

    static func segments(ofTemplate path: String) -> [Segment] {
        path.split(separator: "/", omittingEmptySubsequences: true).map { part in
            guard part.hasPrefix("{"), part.hasSuffix("}") else { return .literal(String(part)) }
            let name = part.dropFirst().dropLast()
            return name.hasSuffix("+") ? .greedy(String(name.dropLast())) : .parameter(String(name))
        }
    }

    /// The request path's segments, percent-decoded (a trailing slash adds none).
    static func segments(ofRequest path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map { part in
            // Byte-wise: `contains("%")` on a substring is Foundation's locale-aware search.
            part.utf8.contains(UInt8(ascii: "%")) ? (String(part).removingPercentEncoding ?? String(part)) : String(part)
        }
    }

    /// An ALB `path-pattern`: case-sensitive, `*` any run of characters (slashes too), `?` one character.
    static func glob(_ pattern: String, matches text: String) -> Bool {
        let p = Array(pattern.utf8), t = Array(text.utf8)
        var pi = 0, ti = 0, star = -1, mark = 0
        while ti < t.count {
            if pi < p.count, p[pi] == UInt8(ascii: "?") || p[pi] == t[ti] {
                pi += 1; ti += 1
            } else if pi < p.count, p[pi] == UInt8(ascii: "*") {
                star = pi; mark = ti; pi += 1
            } else if star >= 0 {
                pi = star + 1; mark += 1; ti = mark
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.count
    }
}
