import Foundation
import Testing

/// The state directory holds function output, logs and request ids: its owner's alone, whatever the umask.
@Suite("state directory permissions", .serialized)
struct StateDirectoryModeTests {
    static func mode(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions]) as? Int ?? -1) & 0o777
    }

    @Test func directoryIs0700AndItsFiles0600UnderUmask022() throws {
        let folder = try ServeCommandTests.app()
        let state = folder.appendingPathComponent("state").path
        let previous = umask(0o022)
        defer { umask(previous) }
        let serve = try ServeProcess(["--state-dir", state], in: folder)
        defer { serve.stop() }
        _ = try Python.run(Python.prelude + #"call("POST", "/2015-03-31/functions/echo/invocations", {})"#, port: serve.port, in: folder)

        #expect(String(Self.mode(state), radix: 8) == "700")
        let files = try FileManager.default.contentsOfDirectory(atPath: state).filter { name in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: "\(state)/\(name)", isDirectory: &isDirectory) && !isDirectory.boolValue
        }
        #expect(Set(["state.sqlite", "state.sqlite-wal", "state.sqlite-shm"]).isSubset(of: files), "\(files)")
        for name in files {
            #expect(String(Self.mode("\(state)/\(name)"), radix: 8) == "600", "\(name)")
        }
    }

    @Test func aStateDirectoryOfAnotherUserIsRefused() throws {
        let app = try DeployFixture()
        // As root, a folder given to `nobody`; otherwise a folder root owns.
        let foreign: String
        if getuid() == 0 {
            foreign = app.folder.appendingPathComponent("theirs").path
            try FileManager.default.createDirectory(atPath: foreign, withIntermediateDirectories: true)
            #expect(chown(foreign, 65534, 65534) == 0)
        } else {
            foreign = "/usr"
        }
        let result = try CLI.run(["deploy", app.template, "--state-dir", foreign, "--parameter-overrides", "Code=good1", "--no-judge"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("The state directory \(foreign) belongs to"), "\(result.stderr)")
        #expect(result.stderr.contains("pass a --state-dir of your own"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(foreign)/state.sqlite"))
    }
}
