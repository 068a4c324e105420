import Foundation
import Runtime
import TemplateModel

/// Template HTTP events → the front door's route table: each request goes through the function's
/// `AutoPublishAlias` when it has one (its weights apply), else `$LATEST`.
public enum FrontDoorMapping {
    /// The routes of every function in `served` (function names); the others are not running here.
    public static func routes(of template: Template, served: Set<String>) -> [FrontDoorRoute] {
        let region = template.pseudoParameters.region, account = template.pseudoParameters.accountId
        var routes: [FrontDoorRoute] = []
        for function in template.functions where served.contains(function.functionName) {
            for event in function.httpEvents {
                let kind: FrontDoorRoute.Kind
                var apiId = shortId(event.api, length: 10)
                switch event.source {
                case .restApi:
                    kind = .restApi
                case .httpApi(let version):
                    kind = .httpApi(payloadVersion: version == "1.0" ? .v1 : .v2)
                case .functionUrl:
                    kind = .functionUrl
                    apiId = shortId(function.functionName, length: 32)
                case .loadBalancer(let multiValue):
                    kind = .loadBalancer(targetGroupArn: "arn:aws:elasticloadbalancing:\(region):\(account):targetgroup/\(event.api)/\(shortId(event.api, length: 16))",
                                         multiValueHeaders: multiValue)
                }
                routes.append(FrontDoorRoute(
                    kind: kind, apiId: apiId, stage: event.stage, method: event.method, path: event.path, pathPatterns: event.pathPatterns,
                    priority: event.priority, function: function.functionName, qualifier: function.autoPublishAlias,
                    binaryMediaTypes: event.binaryMediaTypes, stageVariables: event.stageVariables.isEmpty ? nil : event.stageVariables))
            }
        }
        return routes
    }

    /// One line per route, for `serve` to print: `GET /hello → Greeter:live (REST API)`.
    public static func describe(_ routes: [FrontDoorRoute]) -> [String] {
        routes.map { route in
            let target = route.qualifier.map { "\(route.function):\($0)" } ?? route.function
            switch route.kind {
            case .restApi: return "\(route.routeKey) → \(target) (REST API, stage \(route.stage))"
            case .httpApi(let version): return "\(route.routeKey) → \(target) (HTTP API, payload \(version.rawValue))"
            case .functionUrl: return "any path on Host \(route.function.lowercased()).localhost → \(target) (function URL)"
            case .loadBalancer: return "\(route.pathPatterns.isEmpty ? "any path" : route.pathPatterns.joined(separator: ", ")) → \(target) (load balancer target group)"
            }
        }
    }

    /// A stable lower-case id derived from a logical id, shaped as AWS's generated ones.
    static func shortId(_ seed: String, length: Int) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        var out = ""
        for round in 0..<length {
            if round % 8 == 0 {
                for byte in seed.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
                hash = (hash ^ UInt64(round)) &* 0x100_0000_01b3
            }
            out.append(alphabet[Int((hash >> UInt64((round % 8) * 7)) % 36)])
        }
        return out
    }
}
