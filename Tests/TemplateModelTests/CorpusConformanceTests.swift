import Foundation
import Testing
@testable import TemplateModel

/// The shared corpus: real SAM templates with the reference translator's summaries (../shared/corpus).
enum Corpus {
    static let root: URL? = {
        if let override = ProcessInfo.processInfo.environment["SHIFT_CORPUS"] { return URL(fileURLWithPath: override) }
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let candidate = package.deletingLastPathComponent().appendingPathComponent("shared/corpus")
        return FileManager.default.fileExists(atPath: candidate.appendingPathComponent("expected").path) ? candidate : nil
    }()

    /// The oracle translates in ap-southeast-1 (corpus/README.md), so the corpus is read in that region.
    /// Templates a local tool also rejects; the others of the translator's `error_*` are cloud-only checks
    /// (a missing CodeUri means the template's folder, as in SAM CLI).
    static let acceptedLocally: Set<String> = ["error_function_no_codeuri"]

    static var templates: [URL] {
        guard let root else { return [] }
        let folders = [root.appendingPathComponent("apps"), root.appendingPathComponent("sam-translator/input")]
        return folders.flatMap { folder in
            ((try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)) ?? [])
                .filter { $0.pathExtension == "yaml" || $0.pathExtension == "yml" }
        }.sorted { $0.path < $1.path }
    }

    static func parameters(for template: URL) -> [String: String] {
        guard let root, template.path.contains("/apps/"),
              let data = try? Data(contentsOf: root.appendingPathComponent("apps/params.json")),
              let all = try? JSONSerialization.jsonObject(with: data) as? [String: [String: String]] else { return [:] }
        return all[template.deletingPathExtension().lastPathComponent] ?? [:]
    }

    static func expected(for template: URL) -> [String: Any]? {
        guard let root else { return nil }
        let file = root.appendingPathComponent("expected/\(template.deletingPathExtension().lastPathComponent).json")
        guard let data = try? Data(contentsOf: file) else { return nil }
        return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    }

    static func load(_ template: URL) throws -> LoadResult {
        let text = try String(contentsOf: template, encoding: .utf8)
        return TemplateLoader.load(contents: text, path: template.path, options: LoadOptions(parameterOverrides: parameters(for: template), region: "ap-southeast-1"))
    }
}

func isIntrinsic(_ value: Any?) -> Bool {
    if let map = value as? [String: Any], map.count == 1, let key = map.keys.first { return key == "Ref" || key.hasPrefix("Fn::") }
    if let text = value as? String { return text.hasPrefix("{'Fn::") || text.hasPrefix("{'Ref'") }
    return false
}

/// Compares a resolved value with the translator's, which keeps intrinsics unresolved: those are skipped.
func agrees(_ expected: Any?, _ actual: Any?) -> Bool {
    if isIntrinsic(expected) { return true }
    switch (expected, actual) {
    case (nil, nil), (is NSNull, nil), (nil, is NSNull), (is NSNull, is NSNull): return true
    case (let e as [String: Any], let a as [String: Any]):
        // A key whose value is an unresolved intrinsic may be absent here (a parameter without a value).
        let required = Set(e.filter { !isIntrinsic($0.value) }.keys)
        return required.isSubset(of: Set(a.keys)) && Set(a.keys).isSubset(of: Set(e.keys)) && e.allSatisfy { agrees($0.value, a[$0.key]) }
    case (let e as [Any], let a as [Any]):
        return e.count == a.count && zip(e, a).allSatisfy { agrees($0, $1) }
    case (let e?, let a?) where !(e is NSNull) && !(a is NSNull):
        return scalarText(e) == scalarText(a)
    default:
        return false
    }
}

private func scalarText(_ value: Any) -> String {
    if let number = value as? NSNumber {
        if String(cString: number.objCType) == "c" { return number.boolValue ? "true" : "false" }
        return number.doubleValue.rounded() == number.doubleValue ? String(Int(number.doubleValue)) : String(number.doubleValue)
    }
    if let flag = value as? Bool { return flag ? "true" : "false" }
    return "\(value)"
}

/// `{"Ref": X}` → X, as the translator writes references to hooks and alarms.
private func referenced(_ value: Any?) -> Any? {
    if let map = value as? [String: Any], map.count == 1, let target = map["Ref"] as? String { return target }
    return value
}

@Suite("Conformance with the reference translator (../shared/corpus)")
struct CorpusConformanceTests {
    @Test(.enabled(if: Corpus.root != nil, "../shared/corpus not found beside the checkout (set SHIFT_CORPUS to point at it)"))
    func corpusIsPresent() {
        #expect(Corpus.templates.count > 90, "expected the whole corpus, found \(Corpus.templates.count) templates")
    }

    @Test(arguments: Corpus.templates)
    func templateAgreesWithTranslator(_ url: URL) throws {
        guard let expected = Corpus.expected(for: url) else {
            Issue.record("no expected summary for \(url.lastPathComponent)")
            return
        }
        let name = url.deletingPathExtension().lastPathComponent
        let result = try Corpus.load(url)
        let errors = result.diagnostics.filter { $0.severity == .error }
        if expected["error"] != nil, !Corpus.acceptedLocally.contains(name) {
            #expect(!errors.isEmpty, "the translator rejects \(name) (\(expected["error"]!)), so should we")
            return
        }
        #expect(errors.isEmpty, "\(name) should load: \(errors.map(\.description))")
        guard let template = result.template, expected["error"] == nil else { return }
        let isApp = url.path.contains("/apps/")

        let expectedFunctions = (expected["functions"] as? [[String: Any]] ?? []).filter {
            ($0["Source"] as? String).map { $0 == "AWS::Serverless::Function" || $0 == "AWS::Lambda::Function" } ?? false
        }
        for e in expectedFunctions {
            let id = e["LogicalId"] as! String
            guard let f = template.functions.first(where: { $0.logicalId == id }) else {
                #expect(!(e["Condition"] is NSNull), "\(name): function \(id) is missing")
                continue
            }
            #expect(agrees(e["Runtime"], f.runtime), "\(name) \(id) Runtime: \(String(describing: e["Runtime"])) vs \(String(describing: f.runtime))")
            #expect(agrees(e["Handler"], f.handler), "\(name) \(id) Handler")
            #expect(agrees(e["MemorySize"], f.memorySize), "\(name) \(id) MemorySize")
            #expect(agrees(e["Timeout"], f.timeout), "\(name) \(id) Timeout")
            #expect(agrees(e["FunctionName"], f.explicitFunctionName), "\(name) \(id) FunctionName")
            #expect(agrees(e["Architectures"], f.architectures), "\(name) \(id) Architectures")
            #expect(agrees(e["Environment"], f.environment), "\(name) \(id) Environment: \(String(describing: e["Environment"])) vs \(String(describing: f.environment))")
            if f.resourceType == "AWS::Serverless::Function" {
                #expect(agrees(e["AutoPublishAlias"], f.autoPublishAlias), "\(name) \(id) AutoPublishAlias")
                var inline: String?
                if case .inline(let code) = f.code { inline = code }
                #expect(agrees(e["InlineCode"], inline), "\(name) \(id) InlineCode")
                let expectedUri = e["CodeUri"]
                if isApp, let packaged = expectedUri as? String, packaged.hasPrefix("s3://sam-cli-local-artifacts/") {
                    let path = String(packaged.dropFirst("s3://sam-cli-local-artifacts/".count))
                    #expect(normalized(f.codeUri ?? ".") == path, "\(name) \(id) CodeUri \(f.codeUri ?? ".") vs \(path)")
                } else if let map = expectedUri as? [String: Any] {
                    if let bucket = map["Bucket"] as? String, let key = map["Key"] as? String {
                        #expect(f.codeUri == "s3://\(bucket)/\(key)", "\(name) \(id) CodeUri")
                    }
                } else if inline == nil {
                    #expect(agrees(expectedUri, f.codeUri), "\(name) \(id) CodeUri")
                }
            }
            let layers = f.layers?.map { layer -> Any in
                switch layer {
                case .local(let id): return ["Layer": id]
                case .arn(let arn): return arn
                }
            }
            let expectedLayers = (e["Layers"] as? [Any])?.map { item -> Any in
                if let map = item as? [String: Any], let layer = map["Layer"] { return ["Layer": layer] }
                return item
            } ?? e["Layers"]
            #expect(agrees(expectedLayers, layers), "\(name) \(id) Layers: \(String(describing: expectedLayers)) vs \(String(describing: layers))")
        }

        let preferences = expected["deployment_preferences"] as? [[String: Any]] ?? []
        for e in preferences {
            guard let id = e["Function"] as? String, let f = template.functions.first(where: { $0.logicalId == id }) else { continue }
            guard let dp = f.deploymentPreference else {
                Issue.record("\(name): \(id) should have a deployment preference")
                continue
            }
            #expect(dp.enabled, "\(name) \(id): the translator made a deployment group, so the preference is enabled")
            #expect(agrees(e["Type"], dp.type), "\(name) \(id) Type \(String(describing: e["Type"])) vs \(String(describing: dp.type))")
            if let alarms = e["Alarms"] as? [Any] {
                #expect(agrees(alarms.map { referenced($0) ?? NSNull() }, dp.alarms), "\(name) \(id) Alarms \(alarms) vs \(dp.alarms)")
            }
            let hooks = e["Hooks"] as? [String: Any] ?? [:]
            #expect(agrees(referenced(hooks["PreTraffic"]), dp.preTrafficHook), "\(name) \(id) PreTraffic")
            #expect(agrees(referenced(hooks["PostTraffic"]), dp.postTrafficHook), "\(name) \(id) PostTraffic")
        }
        let enabled = template.functions.filter { $0.deploymentPreference?.enabled == true }
        let loadedPreferences = preferences.filter { e in template.functions.contains { $0.logicalId == e["Function"] as? String } }
        #expect(enabled.count == loadedPreferences.count, "\(name): \(enabled.count) enabled deployment preferences vs \(loadedPreferences.count) deployment groups")

        for e in expected["layers"] as? [[String: Any]] ?? [] {
            guard let samId = e["SamLogicalId"] as? String, let layer = template.layer(logicalId: samId) else { continue }
            #expect(agrees(e["LayerName"], layer.layerName), "\(name) \(samId) LayerName \(String(describing: e["LayerName"])) vs \(layer.layerName)")
            #expect(agrees(e["CompatibleRuntimes"], layer.compatibleRuntimes), "\(name) \(samId) CompatibleRuntimes")
            if let uri = e["ContentUri"] as? String, !uri.hasPrefix("s3://sam-cli-local-artifacts/") {
                #expect(layer.contentUri == uri, "\(name) \(samId) ContentUri")
            }
        }
    }

    private func normalized(_ path: String) -> String {
        let standardized = (path as NSString).standardizingPath
        return standardized.hasPrefix("./") ? String(standardized.dropFirst(2)) : standardized
    }
}
