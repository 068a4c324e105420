#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
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

/// Starts processes with `posix_spawn` (no fork of the Swift process, no polling waits).
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
    ) throws(SystemCallError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outputFD, 1)
        posix_spawn_file_actions_adddup2(&actions, outputFD, 2)
        if let addClosefrom = GNUSpawn.addClosefrom { _ = addClosefrom(&actions, 3) }
        if let workingDirectory {
            guard let addChdir = GNUSpawn.addChdir else {
                throw SystemCallError(call: "posix_spawn_file_actions_addchdir_np (glibc 2.29 or later is needed)", errno: ENOSYS)
            }
            _ = addChdir(&actions, workingDirectory)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        sigdelset(&allSignals, SIGKILL)
        sigdelset(&allSignals, SIGSTOP)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setpgroup(&attributes, 0)
        let flags = Int32(POSIX_SPAWN_SETPGROUP) | Int32(POSIX_SPAWN_SETSIGDEF) | Int32(POSIX_SPAWN_SETSIGMASK)
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let argv = CStringArray([executable] + arguments)
        let envp = CStringArray(environment.map { "\($0.key)=\($0.value)" })
        var pid: pid_t = 0
        var rc = posix_spawn(&pid, executable, &actions, &attributes, argv.pointers, envp.pointers)
        // ETXTBSY: a file just written is still open for writing in a child some other thread forked
        // and has not exec'd yet. It passes within microseconds.
        var attempts = 0
        while rc == ETXTBSY && attempts < 50 {
            attempts += 1
            usleep(2000)
            rc = posix_spawn(&pid, executable, &actions, &attributes, argv.pointers, envp.pointers)
        }
        argv.free()
        envp.free()
        guard rc == 0 else { throw SystemCallError(call: "posix_spawn \(executable)", errno: rc) }
        return pid
    }

    /// Blocks the calling thread until `pid` exits; kills what is left of its process group before
    /// reaping it (the pid cannot be reused while unreaped), then returns the status.
    static func waitForExit(pid: pid_t) -> ExitStatus {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
        kill(-pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // SIGKILL is delivered asynchronously: give what is left of the group (grandchildren) a
        // moment to be gone, so "shut down" means no process of the environment is left.
        var waited = 0
        while kill(-pid, 0) == 0 && waited < 100 {
            usleep(2000)
            waited += 1
        }
        return ExitStatus(raw: status)
    }

    /// Calls `onExit` from a dedicated thread when `pid` exits. A thread blocked in `waitid` costs
    /// nothing while it waits and learns of the exit at once (no polling).
    static func watch(pid: pid_t, onExit: @escaping @Sendable (ExitStatus) -> Void) {
        Thread.detachNewThread {
            onExit(waitForExit(pid: pid))
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
        let pid: pid_t
        do {
            pid = try spawn(executable: executable, arguments: arguments, environment: environment, workingDirectory: nil, outputFD: fds[1])
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
                let status = waitForExit(pid: pid)
                continuation.resume(returning: (status, String(decoding: output, as: UTF8.self)))
            }
        }
    }

    /// A close-on-exec pipe (the spawn file actions also close every other descriptor in the child).
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

/// A NULL-terminated `char *[]` for `posix_spawn`, freed explicitly.
private struct CStringArray {
    var pointers: [UnsafeMutablePointer<CChar>?]
    init(_ strings: [String]) {
        pointers = strings.map { strdup($0) } + [nil]
    }
    func free() {
        for p in pointers { Glibc.free(p) }
    }
}

/// glibc's `posix_spawn_file_actions_add{chdir,closefrom}_np`, which Swift's Glibc module does not
/// export (they are GNU extensions); looked up once.
private enum GNUSpawn {
    typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    typealias AddClosefrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    static let addChdir: AddChdir? = dlsym(nil, "posix_spawn_file_actions_addchdir_np").map { unsafeBitCast($0, to: AddChdir.self) }
    static let addClosefrom: AddClosefrom? = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np").map { unsafeBitCast($0, to: AddClosefrom.self) }
}
