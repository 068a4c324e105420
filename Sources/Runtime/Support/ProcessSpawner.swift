#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CProcessKeeper
import Foundation

/// How a child process ended, worded as Lambda words it (`exit status 1`, `signal: killed`).
struct ExitStatus: Sendable, Equatable, CustomStringConvertible {
    /// The raw `waitpid` status word.
    var raw: Int32

    var exitCode: Int32? { raw & 0x7f == 0 ? (raw >> 8) & 0xff : nil }
    var signal: Int32? { raw & 0x7f == 0 ? nil : raw & 0x7f }

    var description: String {
        if let exitCode { return "exit status \(exitCode)" }
        switch signal ?? 0 {
        case SIGKILL: return "signal: killed"
        case SIGTERM: return "signal: terminated"
        case SIGSEGV: return "signal: segmentation fault"
        case SIGABRT: return "signal: aborted"
        case SIGBUS: return "signal: bus error"
        case SIGINT: return "signal: interrupt"
        case let other: return "signal: \(other)"
        }
    }
}

/// A process started by `ProcessSpawner`: the program itself and the keeper that outlives it.
struct SpawnedProcess: Sendable {
    /// The started program; the id of its process group too.
    var pid: pid_t
    /// Its parent, which kills everything under it when the program exits or shift dies.
    var keeper: pid_t
    /// Where the keeper writes the program's wait status once nothing of it is left.
    var statusFD: Int32
}

/// Starts processes under a keeper (`CProcessKeeper`): nothing a function starts outlives its
/// environment, nor shift, however shift ends.
enum ProcessSpawner {
    /// Spawns `executable` with exactly `environment` (nothing inherited), in its own process group,
    /// with stdin from /dev/null and stdout+stderr both on `outputFD`. Signal dispositions are reset
    /// to their defaults (the Swift process ignores SIGPIPE, which children would otherwise inherit).
    static func spawn(
        executable: String,
        arguments: [String],
        environment: [String: String],
        workingDirectory: String?,
        outputFD: Int32
    ) throws(SystemCallError) -> SpawnedProcess {
        let argv = CStringArray([executable] + arguments)
        let envp = CStringArray(environment.map { "\($0.key)=\($0.value)" })
        defer {
            argv.free()
            envp.free()
        }
        var kept = shift_kept_process()
        let rc = argv.pointers.withUnsafeBufferPointer { argvPointer in
            envp.pointers.withUnsafeBufferPointer { envpPointer in
                shift_keeper_spawn(executable, argvPointer.baseAddress, envpPointer.baseAddress, workingDirectory, outputFD, &kept)
            }
        }
        guard rc == 0 else { throw SystemCallError(call: "spawning \(executable)", errno: rc) }
        return SpawnedProcess(pid: kept.pid, keeper: kept.keeper, statusFD: kept.status_fd)
    }

    /// Blocks the calling thread until `process` and everything it started have exited (the keepers'
    /// zygote reaps the keeper), then returns the program's status.
    static func waitForExit(_ process: SpawnedProcess) -> ExitStatus {
        var status: Int32 = 0
        var got = 0
        while got < 4 {
            let n = withUnsafeMutableBytes(of: &status) { read(process.statusFD, $0.baseAddress! + got, 4 - got) }
            if n > 0 { got += n } else if n < 0 && errno == EINTR { continue } else { break }
        }
        close(process.statusFD)
        // No status: the keeper itself was killed, and the program with it (PR_SET_PDEATHSIG).
        return got == 4 ? ExitStatus(raw: status) : ExitStatus(raw: SIGKILL)
    }

    /// Calls `onExit` from a dedicated thread when `process` exits. A thread blocked in `read` costs
    /// nothing while it waits and learns of the exit at once (no polling).
    static func watch(_ process: SpawnedProcess, onExit: @escaping @Sendable (ExitStatus) -> Void) {
        Thread.detachNewThread {
            onExit(waitForExit(process))
        }
    }

    /// Runs a short command to completion and returns its combined output (used once per interpreter).
    static func run(
        executable: String,
        arguments: [String],
        environment: [String: String]
    ) async throws(SystemCallError) -> (status: ExitStatus, output: String) {
        var fds: [Int32] = [0, 0]
        guard makePipe(&fds) else { throw SystemCallError(call: "pipe", errno: errno) }
        let process: SpawnedProcess
        do {
            process = try spawn(executable: executable, arguments: arguments, environment: environment, workingDirectory: nil, outputFD: fds[1])
        } catch {
            close(fds[0]); close(fds[1])
            throw error
        }
        close(fds[1])
        let readFD = fds[0]
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var output = [UInt8]()
                var chunk = [UInt8](repeating: 0, count: 4096)
                while true {
                    let n = chunk.withUnsafeMutableBytes { read(readFD, $0.baseAddress, 4096) }
                    if n > 0 { output.append(contentsOf: chunk[0..<n]) }
                    else if n < 0 && errno == EINTR { continue }
                    else { break }
                }
                close(readFD)
                let status = waitForExit(process)
                continuation.resume(returning: (status, String(decoding: output, as: UTF8.self)))
            }
        }
    }

    /// A close-on-exec pipe (the keeper also closes every other descriptor in the child).
    static func makePipe(_ fds: inout [Int32]) -> Bool {
        guard pipe(&fds) == 0 else { return false }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        return true
    }

    /// Finds `name` on a `PATH`-style search list.
    static func which(_ name: String, path: String) -> String? {
        if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
        for dir in path.split(separator: ":") where !dir.isEmpty {
            let candidate = "\(dir)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}

/// A NULL-terminated `char *[]` for `execve`, freed explicitly.
private struct CStringArray {
    var pointers: [UnsafeMutablePointer<CChar>?]
    init(_ strings: [String]) {
        pointers = strings.map { strdup($0) } + [nil]
    }
    func free() {
        for p in pointers { Glibc.free(p) }
    }
}
