import Foundation

/// Unpacks an uploaded deployment package (UpdateFunctionCode's `ZipFile`).
///
/// Python's `zipfile` does the reading (no zip library among the package's dependencies; a machine serving
/// functions has `python3`). It drops absolute paths and `..` from names, so nothing lands outside the
/// folder, and the files keep their Unix modes (a `provided` runtime's `bootstrap` stays executable).
enum ZipArchive {
    static let extractor = """
    import os, sys, zipfile
    try:
        archive = zipfile.ZipFile(sys.argv[1])
        for info in archive.infolist():
            path = archive.extract(info, sys.argv[2])
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                os.chmod(path, mode)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        sys.stdout.write(str(exc))
        sys.exit(3)
    """

    /// Extracts `zip` into `folder` (kept when it exists: the folder's name is the zip's hash).
    static func extract(_ zip: [UInt8], into folder: URL) async throws {
        let fileManager = FileManager.default
        if fileManager.fileExists(atPath: folder.path) { return }
        guard zip.count >= 4, zip[0] == 0x50, zip[1] == 0x4B else {
            throw StateError(.invalidParameterValue, "Could not unzip uploaded file. Please check your file, then try to upload again. (ZipFile does not start like a zip archive; send the bytes of a .zip.)")
        }
        let parent = folder.deletingLastPathComponent()
        let staging = parent.appendingPathComponent(".staging-\(UUID().uuidString.prefix(8))", isDirectory: true)
        do {
            try fileManager.createDirectory(at: staging, withIntermediateDirectories: true)
        } catch {
            throw StateError(.stateUnavailable, "Cannot create \(staging.path) to unpack the uploaded code: \(error). Check the state directory's permissions.", cause: error)
        }
        defer { try? fileManager.removeItem(at: staging) }
        let archive = staging.appendingPathComponent("code.zip")
        try Data(zip).write(to: archive)
        let content = staging.appendingPathComponent("content", isDirectory: true)
        guard let python = ProcessSpawner.which("python3", path: ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin") else {
            throw StateError(.stateUnavailable, "Unpacking an uploaded ZipFile needs python3 on PATH; install it, or deploy the code through the template instead.")
        }
        let run: (status: ExitStatus, output: String)
        do {
            run = try await ProcessSpawner.run(executable: python, arguments: ["-c", extractor, archive.path, content.path],
                                               environment: ProcessInfo.processInfo.environment)
        } catch {
            throw StateError(.stateUnavailable, "\(python) could not be started to unpack the uploaded code: \(error)", cause: error)
        }
        switch run.status.exitCode {
        case 0: break
        case 3: throw StateError(.invalidParameterValue, "Could not unzip uploaded file. Please check your file, then try to upload again. (\(run.output.prefix(200)))")
        default: throw StateError(.stateUnavailable, "Unpacking the uploaded code failed (\(run.status)): \(run.output.prefix(300))")
        }
        if !fileManager.fileExists(atPath: content.path) { try fileManager.createDirectory(at: content, withIntermediateDirectories: true) }
        do {
            try fileManager.moveItem(at: content, to: folder)
        } catch where fileManager.fileExists(atPath: folder.path) {
            // Another upload of the same zip won the race: its folder has the same content.
        } catch {
            throw StateError(.stateUnavailable, "Cannot move the unpacked code to \(folder.path): \(error)", cause: error)
        }
    }
}
