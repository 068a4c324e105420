import Foundation
@testable import Runtime

/// A fresh temporary folder, removed by the caller with `removeTemporaryDirectory`.
func makeTemporaryDirectory(_ label: String = "state") throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("shift-\(label)-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Removes a temporary folder, first making read-only snapshot folders writable again.
func removeTemporaryDirectory(_ url: URL) {
    if let enumerator = FileManager.default.enumerator(atPath: url.path) {
        while let item = enumerator.nextObject() as? String {
            let path = url.path + "/" + item
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
            }
        }
    }
    try? FileManager.default.removeItem(at: url)
}

/// Writes `files` (relative path → contents) into `folder`, creating subfolders.
func writeFiles(_ files: [String: String], into folder: URL) throws {
    for (path, contents) in files {
        let url = folder.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(contents.utf8).write(to: url)
    }
}

/// Opens a store in a new temporary folder and runs `body`, cleaning up afterwards.
func withTemporaryStore<T>(_ body: (StateStore, URL) async throws -> T) async throws -> T {
    let root = try makeTemporaryDirectory()
    defer { removeTemporaryDirectory(root) }
    let store = try await StateStore.open(directory: root.appendingPathComponent(".shift"))
    defer { try? store.close() }
    return try await body(store, root)
}

let pythonConfiguration = VersionConfiguration(runtime: "python3.12", handler: "app.handler")
