import Foundation
import Testing
@testable import Runtime

@Suite struct StateVersionTests {
    @Test func publishNumbersVersionsAndSnapshotsCode() async throws {
        try await withTemporaryStore { store, root in
            let code = root.appendingPathComponent("src")
            try writeFiles(["app.py": "def handler(e, c): return 1\n", "lib/util.py": "X = 1\n"], into: code)
            let (v1, created) = try await store.publishVersion(function: "fn", configuration: pythonConfiguration, code: .directory(code), description: "first")
            #expect(created)
            #expect(v1.version == 1)
            #expect(v1.codeSha256.count == 44) // base64 of 32 bytes
            #expect(try String(contentsOf: v1.codeDirectory.appendingPathComponent("lib/util.py"), encoding: .utf8) == "X = 1\n")
            #expect(try await store.getVersion(function: "fn", version: 1) == v1)
            #expect(try await store.listVersions(function: "fn") == [v1])
        }
    }

    @Test func publishingUnchangedCodeAndConfigurationReturnsTheLatestVersion() async throws {
        try await withTemporaryStore { store, root in
            let code = root.appendingPathComponent("src")
            try writeFiles(["app.py": "A\n"], into: code)
            let first = try await store.publishVersion(function: "fn", configuration: pythonConfiguration, code: .directory(code))
            let again = try await store.publishVersion(function: "fn", configuration: pythonConfiguration, code: .directory(code), description: "ignored")
            #expect(!again.created)
            #expect(again.version == first.version)
            #expect(try await store.listVersions(function: "fn").count == 1)
        }
    }

    @Test func changedCodePublishesANewVersion() async throws {
        try await withTemporaryStore { store, root in
            let code = root.appendingPathComponent("src")
            try writeFiles(["app.py": "A\n"], into: code)
            let v1 = try await store.publishVersion(function: "fn", configuration: pythonConfiguration, code: .directory(code)).version
            try writeFiles(["app.py": "B\n"], into: code)
            let v2 = try await store.publishVersion(function: "fn", configuration: pythonConfiguration, code: .directory(code)).version
            #expect(v2.version == 2)
            #expect(v2.codeSha256 != v1.codeSha256)
        }
    }

    @Test func changedConfigurationPublishesANewVersion() async throws {
        try await withTemporaryStore { store, root in
            let code = root.appendingPathComponent("src")
            try writeFiles(["app.py": "A\n"], into: code)
            let v1 = try await store.publishVersion(function: "fn", configuration: pythonConfiguration, code: .directory(code)).version
            var changed = pythonConfiguration
            changed.environment = ["STAGE": "prod"]
            let v2 = try await store.publishVersion(function: "fn", configuration: changed, code: .directory(code)).version
            #expect(v2.version == 2)
            #expect(v2.codeSha256 == v1.codeSha256)
            #expect(v2.codeDirectory == v1.codeDirectory) // identical code is stored once
            #expect(try await store.getVersion(function: "fn", version: 2).configuration.environment == ["STAGE": "prod"])
        }
    }

    @Test func publishedVersionIsImmutableWhenFilesOnDiskChange() async throws {
        try await withTemporaryStore { store, root in
            let code = root.appendingPathComponent("src")
            try writeFiles(["app.py": "original\n"], into: code)
            let v1 = try await store.publishVersion(function: "fn", configuration: pythonConfiguration, code: .directory(code)).version
            try writeFiles(["app.py": "edited\n", "new.py": "N\n"], into: code)
            let reread = try await store.getVersion(function: "fn", version: 1)
            #expect(try String(contentsOf: reread.codeDirectory.appendingPathComponent("app.py"), encoding: .utf8) == "original\n")
            #expect(!FileManager.default.fileExists(atPath: reread.codeDirectory.appendingPathComponent("new.py").path))
            #expect(reread.codeSha256 == v1.codeSha256)
        }
    }

    @Test func missingVersionIsResourceNotFound() async throws {
        try await withTemporaryStore { store, _ in
            let error = await #expect(throws: StateError.self) { try await store.getVersion(function: "fn", version: 9) }
            #expect(error?.code == .resourceNotFound)
            #expect(error?.message == "Function not found: arn:aws:lambda:us-east-1:123456789012:function:fn:9")
        }
    }

    @Test func codeHashIgnoresFolderLocationButSeesModesAndSymlinks() async throws {
        try await withTemporaryStore { store, root in
            let a = root.appendingPathComponent("a"), b = root.appendingPathComponent("b")
            try writeFiles(["x/run.sh": "echo hi\n", "data.txt": "d"], into: a)
            try writeFiles(["x/run.sh": "echo hi\n", "data.txt": "d"], into: b)
            let hashA = try store.snapshotCode(.directory(a)).sha256
            #expect(try store.snapshotCode(.directory(b)).sha256 == hashA)

            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: b.appendingPathComponent("x/run.sh").path)
            let executable = try store.snapshotCode(.directory(b))
            #expect(executable.sha256 != hashA)
            let copied = try FileManager.default.attributesOfItem(atPath: executable.directory.appendingPathComponent("x/run.sh").path)
            #expect((copied[.posixPermissions] as? Int) == 0o755)

            try FileManager.default.createSymbolicLink(atPath: b.appendingPathComponent("link.txt").path, withDestinationPath: "data.txt")
            let outside = root.appendingPathComponent("outside.txt")
            try Data("outside".utf8).write(to: outside)
            try FileManager.default.createSymbolicLink(atPath: b.appendingPathComponent("escape.txt").path, withDestinationPath: outside.path)
            let linked = try store.snapshotCode(.directory(b))
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: linked.directory.appendingPathComponent("link.txt").path) == "data.txt")
            let escapedCopy = linked.directory.appendingPathComponent("escape.txt").path
            #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: escapedCopy)) == nil) // copied, not linked
            #expect(FileManager.default.contents(atPath: escapedCopy) == Data("outside".utf8))
        }
    }

    @Test func inlineCodeAndLayersAreSnapshotted() async throws {
        try await withTemporaryStore { store, root in
            let layerFolder = root.appendingPathComponent("layer")
            try writeFiles(["python/shared.py": "S = 1\n"], into: layerFolder)
            let layer = try store.snapshotCode(.directory(layerFolder))
            #expect(store.codeDirectory(for: layer.sha256) == layer.directory)
            var configuration = pythonConfiguration
            configuration.layers = [LayerReference(name: "shared", codeSha256: layer.sha256)]
            let inline = CodeSource.inline(fileName: "app.py", contents: "def handler(e, c): pass\n")
            let v1 = try await store.publishVersion(function: "fn", configuration: configuration, code: inline).version
            #expect(FileManager.default.contents(atPath: v1.codeDirectory.appendingPathComponent("app.py").path) == Data("def handler(e, c): pass\n".utf8))
            #expect(try await store.publishVersion(function: "fn", configuration: configuration, code: inline).created == false)
        }
    }

    @Test func whatSAMsBuildersDropIsNeitherHashedNorSnapshotted() async throws {
        try await withTemporaryStore { store, root in
            let code = root.appendingPathComponent("src")
            try writeFiles(["app.py": "A\n", "lib/util.py": "U\n"], into: code)
            let clean = try store.snapshotCode(.directory(code))
            try writeFiles([
                "__pycache__/app.cpython-312.pyc": "bytecode", "lib/__pycache__/util.cpython-312.pyc": "bytecode", "legacy.pyc": "old",
                ".git/HEAD": "ref: refs/heads/main\n", ".aws-sam/build/template.yaml": "t", ".DS_Store": "finder",
                ".pytest_cache/v/cache/lastfailed": "{}", "lib/.mypy_cache/3.12/x.json": "{}", ".venv/bin/python": "p", ".vscode/settings.json": "{}",
            ], into: code)
            let dirty = try store.snapshotCode(.directory(code))
            #expect(dirty.sha256 == clean.sha256)
            #expect(dirty.directory == clean.directory)
            let snapshotted = (FileManager.default.enumerator(atPath: dirty.directory.path)?.allObjects as? [String] ?? []).sorted()
            #expect(snapshotted == ["app.py", "lib", "lib/util.py"])
        }
    }

    /// Skipping ignored entries kept `shift-code-v1`: a folder without them hashes as it always did, so state
    /// directories written before see no change. The expected value is Python's hashlib over the documented
    /// serialization: "shift-code-v1\n" "f 0644 app.py\0" "2\0" "A\n" "d 0755 lib\0" "f 0755 lib/run.sh\0" "3\0" "ok\n".
    @Test func aFolderWithoutIgnoredEntriesHashesAsBefore() async throws {
        try await withTemporaryStore { store, root in
            let code = root.appendingPathComponent("src")
            try writeFiles(["app.py": "A\n", "lib/run.sh": "ok\n", "__pycache__/app.cpython-312.pyc": "bytecode"], into: code)
            for (path, mode) in [("app.py", 0o644), ("lib", 0o755), ("lib/run.sh", 0o755)] {
                try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: code.appendingPathComponent(path).path)
            }
            #expect(try store.codeHash(.directory(code)) == "RiCXmvMnMbtjkmefvIMcSUHtJ7UOhVp0eKSLN22w+Xw=")
        }
    }

    @Test(arguments: ["vendor/_speedups.cpython-312-x86_64-linux-gnu.so", "pkg-1.0.dist-info/METADATA", "pkg.egg-info/PKG-INFO", ".env", "env/settings.py", ".cache/model.bin"])
    func filesAFunctionMayReadStillCount(_ path: String) async throws {
        try await withTemporaryStore { store, root in
            let code = root.appendingPathComponent("src")
            try writeFiles(["app.py": "A\n"], into: code)
            let before = try store.codeHash(.directory(code))
            try writeFiles([path: "data"], into: code)
            let snapshot = try store.snapshotCode(.directory(code))
            #expect(snapshot.sha256 != before)
            #expect(FileManager.default.fileExists(atPath: snapshot.directory.appendingPathComponent(path).path))
        }
    }

    @Test func stateDirectoryInsideTheCodeFolderIsNotSnapshotted() async throws {
        let project = try makeTemporaryDirectory("project")
        defer { removeTemporaryDirectory(project) }
        try writeFiles(["app.py": "A\n"], into: project)
        let store = try await StateStore.open(directory: project.appendingPathComponent(".shift"))
        defer { try? store.close() }
        let v1 = try await store.publishVersion(function: "fn", configuration: pythonConfiguration, code: .directory(project)).version
        #expect(!FileManager.default.fileExists(atPath: v1.codeDirectory.appendingPathComponent(".shift").path))
        // The database changed since, yet publishing again is a no-op.
        #expect(try await store.publishVersion(function: "fn", configuration: pythonConfiguration, code: .directory(project)).created == false)
    }
}
