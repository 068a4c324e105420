import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The content-addressed code store under `<state>/code/<sha256-hex>/`.
///
/// A snapshot is a copy of a code folder (or of inline code) taken at publish time; the version runs from
/// it, so later edits on disk never change a published version. Identical code is stored once.
///
/// `CodeSha256` (AWS: the hash of the deployment zip; we cannot reproduce AWS's zip byte for byte, so our
/// hashes never equal AWS's) is the base64 SHA-256 of this serialization, version `shift-code-v1`:
///
///     "shift-code-v1\n"
///     then for every entry, sorted by relative path (UTF-8 bytes, '/'-separated, no leading "./"):
///       directory: "d " + mode + " " + path + "\0"
///       file:      "f " + mode + " " + path + "\0" + decimal byte count + "\0" + contents
///       symlink:   "l " + path + "\0" + link target + "\0"
///
/// where `mode` is the permission bits as 4 octal digits (`0755`). The root folder's own mode is not hashed.
/// An entry whose name is one of `ignoredNames` or ends in `.pyc` is skipped, with everything below it, at
/// any depth: neither hashed nor copied, so running a function or a tool in the folder is not a code change.
/// (Skipping them kept the version string: a folder without such entries hashes as before, so existing state
/// directories see no change; a new string would have made every function publish and shift once for nothing.)
/// Symlinks: a relative link that stays inside the folder is kept as a link; a link that is absolute or
/// escapes the folder is followed and its target copied (file or folder), so the snapshot is self-contained;
/// a dangling escaping link is an error. Other file types (sockets, fifos, devices) are an error.
/// Inline code is a single file `fileName` with mode 0644. The state directory is skipped when it lies
/// inside the code folder.
struct CodeStore: Sendable {
    /// What SAM's builders leave out of a function's artifact (aws-lambda-builders: `EXCLUDED_FILES` of the
    /// Python workflows, `.aws-sam` and `.git` in the Node one) that no function reads at run time, plus macOS's
    /// `.DS_Store`. Kept although the Python builder drops them, because shift runs the folder as it is (no
    /// `sam build` reinstalls them): `*.so`, `*.egg`, `*.egg-info` (vendored packages), `.env`, `env`, `ENV`
    /// (a dotenv file or a package may have those names) and `.cache`. README.md lists the same names.
    static let ignoredNames: Set<String> = [
        ".aws-sam", ".git", ".gitignore", ".chalice", "__pycache__", ".Python",
        "pip-log.txt", "pip-delete-this-directory.txt", "htmlcov", ".tox", ".nox", ".coverage", ".pytest_cache",
        ".python-version", ".mypy_cache", ".dmypy.json", ".pyre", ".venv", "venv", "venv.bak", "env.bak",
        ".uv-cache", "uv.lock.bak", ".vscode", ".idea", ".DS_Store",
    ]

    /// Whether an entry named `name` stays out of hashes and snapshots.
    static func isIgnored(_ name: String) -> Bool {
        ignoredNames.contains(name) || name.hasSuffix(".pyc")
    }

    let root: URL
    /// Folders never copied into a snapshot even when inside a code folder: the state directory itself
    /// (`CodeUri: .` next to `.shift/` must not snapshot the snapshots).
    let excluded: [String]

    init(root: URL, excluding excluded: [URL] = []) {
        self.root = root
        self.excluded = excluded.map { CodeStore.resolvedPath($0.path) ?? $0.standardizedFileURL.path }
    }

    private enum Entry {
        case directory(path: String, mode: UInt32)
        case file(path: String, mode: UInt32, source: String)
        case inlineFile(path: String, contents: [UInt8])
        case symlink(path: String, target: String)

        var path: String {
            switch self {
            case .directory(let p, _), .file(let p, _, _), .inlineFile(let p, _), .symlink(let p, _): p
            }
        }
    }

    /// The snapshot folder for a hash given as base64 (as in `CodeSha256`) or hex.
    func directory(for sha256: String) -> URL? {
        let hex: String
        if sha256.count == 64, sha256.allSatisfy(\.isHexDigit) {
            hex = sha256.lowercased()
        } else if let data = Data(base64Encoded: sha256), data.count == 32 {
            hex = SHA256.hex(Array(data))
        } else {
            return nil
        }
        let url = root.appendingPathComponent(hex, isDirectory: true)
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    /// The `CodeSha256` (base64) the snapshot of `source` would have, computed without storing anything.
    func hash(_ source: CodeSource) throws -> String {
        try snapshot(source, store: false).sha256
    }

    func snapshot(_ source: CodeSource, store: Bool = true) throws -> CodeSnapshot {
        let entries: [Entry]
        switch source {
        case .directory(let url):
            let rootPath = url.standardizedFileURL.path
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: rootPath, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw StateError(.codeSnapshotFailed, "The code folder \(rootPath) does not exist or is not a folder. Check CodeUri.")
            }
            var collected: [Entry] = []
            try collect(directory: rootPath, relative: "", root: realPath(rootPath) ?? rootPath, depth: 0, into: &collected)
            entries = collected
        case .inline(let fileName, let contents):
            guard !fileName.isEmpty, !fileName.contains("/"), fileName != ".", fileName != ".." else {
                throw StateError(.codeSnapshotFailed, "Inline code needs a plain file name, got '\(fileName)'.")
            }
            entries = [.inlineFile(path: fileName, contents: Array(contents.utf8))]
        }
        let sorted = entries.sorted { Array($0.path.utf8).lexicographicallyPrecedes(Array($1.path.utf8)) }

        let staging = root.appendingPathComponent(".staging-\(UUID().uuidString)", isDirectory: true)
        if store {
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: false)
        }
        defer { if store { try? FileManager.default.removeItem(at: staging) } }

        var hasher = SHA256()
        hasher.update("shift-code-v1\n")
        for entry in sorted {
            let destination = staging.path + "/" + entry.path
            switch entry {
            case .directory(let path, let mode):
                hasher.update("d \(Self.octal(mode)) \(path)\0")
                guard store else { continue }
                try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
                _ = chmod(destination, mode_t(mode | 0o700)) // keep writable until the snapshot is complete
            case .file(let path, let mode, let sourcePath):
                guard let data = FileManager.default.contents(atPath: sourcePath) else {
                    throw StateError(.codeSnapshotFailed, "Cannot read \(sourcePath). Check its permissions.")
                }
                hasher.update("f \(Self.octal(mode)) \(path)\0\(data.count)\0")
                hasher.update(data)
                if store { try write(data, to: destination, mode: mode) }
            case .inlineFile(let path, let contents):
                hasher.update("f 0644 \(path)\0\(contents.count)\0")
                hasher.update(contents)
                if store { try write(Data(contents), to: destination, mode: 0o644) }
            case .symlink(let path, let target):
                hasher.update("l \(path)\0\(target)\0")
                if store { try FileManager.default.createSymbolicLink(atPath: destination, withDestinationPath: target) }
            }
        }
        let digest = hasher.finalize()
        let hex = SHA256.hex(digest)
        let final = root.appendingPathComponent(hex, isDirectory: true)
        guard store else { return CodeSnapshot(sha256: Data(digest).base64EncodedString(), sha256Hex: hex, directory: final) }
        // Directory modes last, deepest first, so a read-only folder does not block writing into it.
        for case .directory(let path, let mode) in sorted.reversed() {
            _ = chmod(staging.path + "/" + path, mode_t(mode))
        }
        if !FileManager.default.fileExists(atPath: final.path) {
            if rename(staging.path, final.path) != 0 && !FileManager.default.fileExists(atPath: final.path) {
                throw StateError(.codeSnapshotFailed, "Cannot move the code snapshot into \(final.path): \(String(cString: strerror(errno))).")
            }
        } else {
            makeRemovable(staging.path)
        }
        return CodeSnapshot(sha256: Data(digest).base64EncodedString(), sha256Hex: hex, directory: final)
    }

    private func write(_ data: Data, to path: String, mode: UInt32) throws {
        guard FileManager.default.createFile(atPath: path, contents: data) else {
            throw StateError(.codeSnapshotFailed, "Cannot write the code snapshot file \(path). Check free space and permissions of the state directory.")
        }
        _ = chmod(path, mode_t(mode))
    }

    /// Restores owner write permission on a discarded staging tree so it can be deleted.
    private func makeRemovable(_ path: String) {
        guard let enumerator = FileManager.default.enumerator(atPath: path) else { return }
        _ = chmod(path, 0o700)
        while let item = enumerator.nextObject() as? String {
            var info = stat()
            let full = path + "/" + item
            if lstat(full, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR { _ = chmod(full, 0o700) }
        }
    }

    private func collect(directory: String, relative: String, root: String, depth: Int, into entries: inout [Entry]) throws {
        guard depth < 40 else {
            throw StateError(.codeSnapshotFailed, "The code folder nests more than 40 levels at \(directory); is there a symlink loop?")
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw StateError(.codeSnapshotFailed, "Cannot list \(directory). Check its permissions.", cause: error)
        }
        for name in names where !Self.isIgnored(name) {
            let full = directory + "/" + name
            if !excluded.isEmpty, let resolved = realPath(full), excluded.contains(resolved) { continue }
            let rel = relative.isEmpty ? name : relative + "/" + name
            var info = stat()
            guard lstat(full, &info) == 0 else {
                throw StateError(.codeSnapshotFailed, "Cannot stat \(full): \(String(cString: strerror(errno))).")
            }
            let mode = UInt32(info.st_mode) & 0o7777
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                entries.append(.directory(path: rel, mode: mode))
                try collect(directory: full, relative: rel, root: root, depth: depth + 1, into: &entries)
            case S_IFREG:
                entries.append(.file(path: rel, mode: mode, source: full))
            case S_IFLNK:
                let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: full)) ?? ""
                if !target.hasPrefix("/"), let resolved = realPath(full), resolved == root || resolved.hasPrefix(root + "/") {
                    entries.append(.symlink(path: rel, target: target))
                } else if !target.hasPrefix("/"), realPath(full) == nil, !escapes(relativeTarget: target, linkRelativePath: rel) {
                    entries.append(.symlink(path: rel, target: target)) // dangling but inside: harmless, keep
                } else {
                    var targetInfo = stat()
                    guard stat(full, &targetInfo) == 0 else {
                        throw StateError(.codeSnapshotFailed, "The symlink \(full) points outside the code folder to \(target), which does not exist. Remove the link or make it point to a file.")
                    }
                    let targetMode = UInt32(targetInfo.st_mode) & 0o7777
                    if (targetInfo.st_mode & S_IFMT) == S_IFDIR {
                        entries.append(.directory(path: rel, mode: targetMode))
                        try collect(directory: full, relative: rel, root: root, depth: depth + 1, into: &entries)
                    } else {
                        entries.append(.file(path: rel, mode: targetMode, source: full))
                    }
                }
            default:
                throw StateError(.codeSnapshotFailed, "\(full) is not a file, folder or symlink (a socket, fifo or device?). Remove it from the code folder.")
            }
        }
    }

    /// Whether a relative link target climbs above the code folder's root.
    private func escapes(relativeTarget: String, linkRelativePath: String) -> Bool {
        var depth = linkRelativePath.split(separator: "/").count - 1
        for part in relativeTarget.split(separator: "/") {
            if part == ".." { depth -= 1 } else if part != "." { depth += 1 }
            if depth < 0 { return true }
        }
        return false
    }

    private func realPath(_ path: String) -> String? { Self.resolvedPath(path) }

    static func resolvedPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private static func octal(_ mode: UInt32) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
