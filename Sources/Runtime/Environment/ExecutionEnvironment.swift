#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import NIOCore
import NIOPosix

/// One execution environment: a runtime process, its own Runtime API listener, its private TMPDIR.
final class ExecutionEnvironment: Sendable {
    let id: String
    let config: FunctionConfiguration
    let broker: EnvironmentBroker
    let server: RuntimeAPIServer
    let pid: pid_t
    let temporaryDirectory: String
    let logStreamName: String

    private init(id: String, config: FunctionConfiguration, broker: EnvironmentBroker, server: RuntimeAPIServer, pid: pid_t, temporaryDirectory: String, logStreamName: String) {
        self.id = id
        self.config = config
        self.broker = broker
        self.server = server
        self.pid = pid
        self.temporaryDirectory = temporaryDirectory
        self.logStreamName = logStreamName
    }

    var isAvailable: Bool { broker.isAvailable }

    /// Spawns the runtime process; returns as soon as it runs (init goes on in the process).
    static func start(
        config: FunctionConfiguration,
        plan: LaunchPlan,
        workDirectory: String,
        loop: any EventLoop,
        cpu: Int?,
        options: LocalRuntime.Options
    ) async throws -> ExecutionEnvironment {
        let id = Self.makeEnvironmentId()
        let streamName = "\(Self.utcDatePath())/[\(config.version)]\(id)"
        let who = "\(config.functionName):\(config.version)"
        let broker = EnvironmentBroker(
            identity: .init(
                environmentId: id, functionName: config.functionName, version: config.version,
                logGroupName: config.logGroupName, logStreamName: streamName, memorySizeMB: config.memorySize,
                timeout: .seconds(config.timeout), initTimeout: options.initTimeout,
                idleTimeout: options.idleTimeout, shutdownGrace: options.shutdownGracePeriod, cpu: cpu),
            loop: loop, logSink: options.logHandler)
        let server: RuntimeAPIServer
        do {
            server = try await RuntimeAPIServer.start(broker: broker, idleConnectionTimeout: options.idleConnectionTimeout)
        } catch let error as RuntimeError {
            throw error
        } catch {
            throw RuntimeError(.environmentStartFailed, "The Runtime API listener for \(who) could not bind 127.0.0.1.", cause: UnderlyingError(error))
        }

        let temporaryDirectory = "\(workDirectory)/env-\(id)/tmp"
        do {
            try FileManager.default.createDirectory(atPath: temporaryDirectory, withIntermediateDirectories: true)
        } catch {
            await server.close()
            throw RuntimeError(.environmentStartFailed, "Could not create the TMPDIR \(temporaryDirectory) for \(who).", cause: UnderlyingError(error))
        }

        var environment = plan.environment
        environment["AWS_LAMBDA_RUNTIME_API"] = server.address
        environment["AWS_LAMBDA_LOG_STREAM_NAME"] = streamName
        environment["TMPDIR"] = temporaryDirectory

        var fds: [Int32] = [0, 0]
        guard ProcessSpawner.makePipe(&fds) else {
            await server.close()
            throw RuntimeError(.environmentStartFailed, "Could not create the output pipe for \(who).", cause: SystemCallError(call: "pipe", errno: errno))
        }
        let process: SpawnedProcess
        let spawnedAt = NIODeadline.now()
        do {
            process = try ProcessSpawner.spawn(
                executable: plan.executable, arguments: plan.arguments, environment: environment,
                workingDirectory: plan.workingDirectory, outputFD: fds[1])
        } catch {
            close(fds[0]); close(fds[1])
            await server.close()
            try? FileManager.default.removeItem(atPath: "\(workDirectory)/env-\(id)")
            let hint = error.errno == ENOEXEC ? " Start the file with a #! line (e.g. #!/bin/sh)." : ""
            throw RuntimeError(.invalidConfiguration, "Could not start \(plan.executable) for \(who).\(hint)", cause: error)
        }
        close(fds[1])
        let pid = process.pid
        let drainFD = dup(fds[0])
        _ = fcntl(drainFD, F_SETFD, FD_CLOEXEC)
        broker.attach(pid: pid, keeper: process.keeper, outputFD: drainFD, spawnedAt: spawnedAt)

        let pipe = try? await NIOPipeBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ProcessOutputHandler(broker: broker))
                }
            }
            .takingOwnershipOfDescriptor(input: fds[0])
            .get()
        if pipe == nil {
            close(fds[0])
            broker.outputClosed()
        }

        let sampler = loop.scheduleRepeatedTask(initialDelay: .milliseconds(50), delay: .milliseconds(50)) { _ in
            broker.sampleMemory()
        }
        let envDirectory = "\(workDirectory)/env-\(id)"
        ProcessSpawner.watch(process) { status in
            sampler.cancel()
            try? FileManager.default.removeItem(atPath: envDirectory)
            server.channel.close(promise: nil)
            broker.processExited(status)
        }
        return ExecutionEnvironment(
            id: id, config: config, broker: broker, server: server, pid: pid,
            temporaryDirectory: temporaryDirectory, logStreamName: streamName)
    }

    /// SIGTERM the process group, SIGKILL after the grace period; returns once it is reaped.
    func shutdown() async {
        broker.terminate()
        await broker.waitForExit()
    }

    private static func makeEnvironmentId() -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        return bytes.map { String(format: "%02x", $0) }.joined()
    }

    private static func utcDatePath() -> String {
        var t = time(nil)
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(format: "%04d/%02d/%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday))
    }
}

/// Feeds what the process prints to its broker.
private final class ProcessOutputHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let broker: EnvironmentBroker
    init(broker: EnvironmentBroker) { self.broker = broker }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        broker.output(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        broker.outputClosed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
