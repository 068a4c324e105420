import ArgumentParser
import DeploymentEngine
import Foundation
import Runtime
import TemplateModel

/// `shift serve`: every function of the template behind a local Lambda Invoke API (and CodeDeploy's hook call).
struct Serve: AsyncParsableCommand, JSONOutputCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the template's functions through a local Lambda Invoke API.",
        discussion: """
        Prints `listening on http://HOST:PORT` once bound (with --output json: a serve.listening line with its url). Point AWS SDKs and the AWS CLI at it with \
        --endpoint-url (any credentials); functions get it as AWS_ENDPOINT_URL_LAMBDA and \
        AWS_ENDPOINT_URL_CODEDEPLOY. Versions, aliases, metrics and logs persist in the state folder. \
        SIGINT/SIGTERM stop the server and every function process, and save metrics and logs. \
        When functions have HTTP events (Api, HttpApi, FunctionUrlConfig, load balancer target groups), an HTTP \
        front door serves them as API Gateway would on --http-port (default \(FrontDoorServer.defaultPort), as \
        `sam local start-api`) and prints `front door on http://HOST:PORT`; each request goes through the \
        function's AutoPublishAlias (its weights apply), else $LATEST.
        """)

    @Option(name: .shortAndLong, help: "The SAM template.")
    var template: String = TemplateFile.defaultPath

    @Option(help: "The address to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "The port to listen on (0 picks a free one).")
    var port: Int = 3001

    @Option(help: "The port of the HTTP front door for the template's Api, HttpApi, function URL and load balancer events (0 picks a free one).")
    var httpPort: Int = FrontDoorServer.defaultPort

    @Option(help: "Run the service clock (metric periods, retry backoffs) this many times faster than real time.")
    var timeScale: Double = 1

    @Option(help: "text or json (one JSON object a line: serve.listening, serve.http, warning, serve.stopping, serve.stopped).")
    var output: OutputFormat = .text

    @OptionGroup var templateOptions: TemplateOptions
    @OptionGroup var stateOptions: StateOptions
    @OptionGroup var concurrencyOptions: ConcurrencyOptions

    static let jsonStyle = JSONOutput.Style.stream

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be 0…65535") }
        guard (0...65_535).contains(httpPort) else { throw ValidationError("--http-port must be 0…65535") }
        guard StateClock.timeScaleRange.contains(timeScale) else {
            throw ValidationError("--time-scale must be from 0.001 to 100000, e.g. 60 (a minute lasts a second)")
        }
    }

    func run() async throws {
        let loaded = try TemplateFile.loadOrFail(template, options: try templateOptions.loadOptions())
        let stateDirectory = stateOptions.directory(forTemplate: template)
        let (definitions, skipped) = ServiceSetup.definitions(template: loaded, stateDirectory: stateDirectory)
        for (function, reason) in skipped.sorted(by: { $0.key < $1.key }) {
            Terminal.standard.write("warning: \(function) is not served: \(reason)\n", to: .error)
            if output == .json { emit("warning", ["function": function, "message": "\(function) is not served: \(reason)"]) }
        }
        let stack = try await ServiceSetup.open(
            definitions: definitions, stateDirectory: stateDirectory, region: loaded.pseudoParameters.region,
            accountId: loaded.pseudoParameters.accountId, timeScale: timeScale, configure: concurrencyOptions.configure)
        let hooks = LifecycleHooks()
        let server: InvokeAPIServer
        do {
            server = try await InvokeAPIServer.bind(host: host, port: port, service: stack.service, hooks: hooks)
        } catch {
            await stack.close()
            throw error
        }
        // Functions reach the service on loopback even when it listens on every address.
        let reachable = (host == "0.0.0.0" || host == "::") ? "http://127.0.0.1:\(server.port)" : server.url
        await stack.service.setEndpoint(reachable, region: loaded.pseudoParameters.region)
        let routes = FrontDoorMapping.routes(of: loaded, served: Set(definitions.map(\.name)))
        let frontDoor: FrontDoorServer?
        do {
            frontDoor = routes.isEmpty ? nil : try await FrontDoorServer.bind(
                host: host, port: httpPort, router: FrontDoorRouter.logging(routes: routes, service: stack.service, template: loaded))
        } catch {
            await server.closeListener()
            await stack.close()
            throw error
        }
        let signals = Signals.stream()  // handlers in place before anyone learns the address
        switch output {
        case .json: emit("serve.listening", ["url": server.url, "functions": definitions.map(\.name), "stateDir": stateDirectory.path], clock: stack.clock)
        case .text: Terminal.standard.write("listening on \(server.url)\n", to: .output)
        }
        if let frontDoor {
            switch output {
            case .json: emit("serve.http", ["url": frontDoor.url, "routes": FrontDoorMapping.describe(routes)], clock: stack.clock)
            case .text: Terminal.standard.write("front door on \(frontDoor.url)\n", to: .output)
            }
            for line in FrontDoorMapping.describe(routes) { Terminal.standard.write("  \(line)\n", to: .error) }
        }
        Terminal.standard.write("serving \(definitions.map(\.name).joined(separator: ", ")) (state: \(stateDirectory.path))\n", to: .error)

        let runtime = stack.runtime
        await withDiscardingTaskGroup { group in
            group.addTask {
                do { try await server.run() } catch {
                    Terminal.standard.write("\(Shift.name) serve: the server stopped: \(error)\n", to: .error)
                }
            }
            if let frontDoor {
                group.addTask {
                    do { try await frontDoor.run() } catch {
                        Terminal.standard.write("\(Shift.name) serve: the HTTP front door stopped: \(error)\n", to: .error)
                    }
                }
            }
            group.addTask { await stack.service.runEventQueue() }
            // Often enough that a deployment running beside this server sees its traffic in the current period.
            group.addTask { await stack.metrics.runPeriodicFlush(every: .milliseconds(250)) }
            if let clock = stack.clock as? StateClock {
                group.addTask { await clock.runPeriodicCheckpoints() }
            }
            group.addTask { await stack.logs.run(every: LogRecorder.flushInterval) }
            for await number in signals {
                Terminal.standard.write("\(Shift.name) serve: \(Signals.describe(number)), shutting functions down…\n", to: .error)
                if output == .json { emit("serve.stopping", ["reason": Signals.describe(number)], clock: stack.clock) }
                break
            }
            await server.closeListener()
            await frontDoor?.closeListener()
            // In-flight invocations end (answered as function errors) once their processes are gone.
            await runtime.shutdown()
            group.cancelAll()
        }
        let clock = stack.clock
        await stack.close()
        Terminal.standard.write("\(Shift.name) serve: stopped\n", to: .error)
        if output == .json { emit("serve.stopped", [:], clock: clock) }
    }

    /// One line of the `--output json` stream, at `clock`'s now (the state folder's time base) once the service runs.
    private func emit(_ event: String, _ fields: [String: Any], clock: (any RuntimeClock)? = nil) {
        var object = fields
        object["event"] = event
        object["time"] = clock.map { JSONOutput.time(milliseconds: $0.nowMilliseconds) } ?? JSONOutput.wallClock
        Terminal.standard.write(JSONOutput.line(object), to: .output)
    }
}
