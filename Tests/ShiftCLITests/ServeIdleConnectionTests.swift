import Foundation
import Testing

/// Idle clients cannot starve `shift serve`: with its descriptor limit at 1024, a client holds far more
/// connections than that, and an invoke is still answered within 2 s while the server stays idle.
@Suite("shift serve under idle connections", .serialized)
struct ServeIdleConnectionTests {
    /// Opens `HELD` connections and holds them, measures the server's CPU over a second, then invokes `echo`.
    static let flood = """
    import json, os, resource, socket, sys, time, urllib.request
    port, pid, count = int(os.environ["PORT"]), int(os.environ["SERVER_PID"]), int(os.environ["HELD"])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 256), hard))
    held = []
    for _ in range(count):
        s = socket.socket()
        s.settimeout(10)
        try:
            s.connect(("127.0.0.1", port))
        except OSError:
            break
        held.append(s)
    def cpu():
        fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    before = cpu()
    # A sampling window for a rate, not a wait for a condition: an accept loop spinning on EMFILE would use the
    # whole second; an idle server uses almost none of it.
    time.sleep(1)
    busy = cpu() - before
    started = time.time()
    try:
        request = urllib.request.Request("http://127.0.0.1:%d/2015-03-31/functions/echo/invocations" % port, data=b'{"held": true}')
        status = urllib.request.urlopen(request, timeout=10).status
    except Exception as error:
        status = str(error)
    print(json.dumps({"held": len(held), "cpu": busy, "status": status, "seconds": time.time() - started}))
    """

    @Test func anInvokeIsAnsweredWhileAClientHoldsMoreConnectionsThanTheServerHasDescriptors() throws {
        let folder = try ServeCommandTests.app()
        // The server inherits a limit of 1024 descriptors; the client raises its own.
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let original = limit
        limit.rlim_cur = 1024
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let started = Result { try ServeProcess([], in: folder) }
        var restored = original
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &restored)
        let serve = try started.get()
        defer { serve.stop() }
        _ = try Python.run(Python.prelude + #"call("POST", "/2015-03-31/functions/echo/invocations", {})"#, port: serve.port, in: folder)

        let script = folder.appendingPathComponent("flood.py")
        try Self.flood.write(to: script, atomically: true, encoding: .utf8)
        let result = try CLI.shell("python3 '\(script.path)'", environment: [
            "PORT": String(serve.port), "SERVER_PID": String(serve.process.processIdentifier), "HELD": "1500",
        ])
        let report = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]) ?? [:]
        #expect(report["held"] as? Int == 1500, "\(result.stdout) \(result.stderr)")
        #expect(report["status"] as? Int == 200, "\(report)")
        #expect((report["seconds"] as? Double ?? 99) < 2, "\(report)")
        #expect((report["cpu"] as? Double ?? 99) < 0.2, "the server should be idle: \(report)")
    }
}
