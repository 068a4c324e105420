import Foundation
import Testing
@testable import Runtime

/// Running a function must not change its code: Python's bytecode goes to the runtime's cache folder.
@Suite struct BytecodeCacheTests {
    /// Every path under `folder` (relative), files and folders.
    static func tree(_ folder: String) -> [String] {
        (FileManager.default.enumerator(atPath: folder)?.allObjects as? [String] ?? []).sorted()
    }

    @Test func runningAPythonFunctionLeavesItsCodeFolderAndHashAsTheyWere() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", [
            "app.py": "import shared\nfrom lib import helper\ndef handler(e, c):\n    return [helper.VALUE, shared.WHO]\n",
            "lib/__init__.py": "",
            "lib/helper.py": "VALUE = 42\n",
        ])
        let layer = try fixtures.write("layer", ["python/shared.py": "WHO = 'layer'\n"])
        let cache = "\(fixtures.path)/state/pycache"
        let store = CodeStore(root: URL(fileURLWithPath: "\(fixtures.path)/state/code"))
        let before = (Self.tree(code), try store.hash(.directory(URL(fileURLWithPath: code))))
        let config = FunctionConfiguration(functionName: "clean", runtime: "python3.12", handler: "app.handler", codeDirectory: code, layers: [layer])
        try await withLocalRuntime(options: testOptions { $0.bytecodeCacheDirectory = cache }) { runtime in
            let result = try await runtime.invoke(config, payload: bytes("{}"))
            #expect(result.text == #"[42, "layer"]"#, "\(result.log)")
        }
        #expect(Self.tree(code) == before.0)
        #expect(try store.hash(.directory(URL(fileURLWithPath: code))) == before.1)
        #expect(Self.tree(layer) == ["python", "python/shared.py"])
        // The bytecode is kept, warm for the next run, at the code's own path under the cache folder...
        let cached = Self.tree(cache + code)
        #expect(cached.contains { $0.hasPrefix("app.cpython-") && $0.hasSuffix(".pyc") }, "\(cached)")
        #expect(cached.contains { $0.hasPrefix("lib/helper.cpython-") }, "\(cached)")
        // ...but not for the runtime's private copies of layers, whose paths never come back.
        #expect(!Self.tree(cache).contains { $0.contains("shift-runtime-") }, "\(Self.tree(cache))")
    }

    @Test func withoutACacheFolderBytecodeStaysOutOfTheCodeFolderToo() async throws {
        let fixtures = try FixtureFolder()
        let code = try fixtures.write("fn", ["app.py": "import helper\ndef handler(e, c):\n    return helper.VALUE\n", "helper.py": "VALUE = 7\n"])
        let config = FunctionConfiguration(functionName: "default-cache", runtime: "python3.12", handler: "app.handler", codeDirectory: code)
        try await withLocalRuntime(options: testOptions()) { runtime in
            let result = try await runtime.invoke(config, payload: bytes("{}"))
            #expect(result.text == "7", "\(result.log)")
        }
        #expect(Self.tree(code) == ["app.py", "helper.py"])
    }
}
