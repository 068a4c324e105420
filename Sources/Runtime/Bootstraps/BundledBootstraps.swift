/// The Runtime API clients shift ships for `python3.x` and `nodejs*`, embedded as source text and
/// written once to the cache folder at run time (no SwiftPM resources).
enum BundledBootstraps {
    /// Raw-socket HTTP/1.1 keep-alive client: ~160 µs a request cheaper than `http.client`.
    static let python = #"""
# shift's Python bootstrap: a Lambda Runtime API client on the standard library only.
import os, sys, time
import _socket  # not `socket`: that module pulls in enum and selectors, slower to start


def _json_codec():
    """loads/dumps on the C accelerator alone: importing `json` costs ~10 ms (re, enum) per cold start."""
    try:
        import _json

        class _Context(object):
            strict = True
            object_hook = None
            object_pairs_hook = None
            parse_float = float
            parse_int = int
            parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}.__getitem__
            memo = {}

        scan = _json.make_scanner(_Context())

        def default(o):
            raise TypeError("Object of type %s is not JSON serializable" % o.__class__.__name__)

        encode = _json.make_encoder(None, default, _json.encode_basestring_ascii, None, ": ", ", ", False, False, True)

        def loads(data):
            text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
            text = text.strip(" \t\n\r")
            try:
                value, end = scan(text, 0)
            except StopIteration:
                import json
                return json.loads(text)  # raises json's own, precise error
            if end != len(text):
                import json
                return json.loads(text)
            return value

        def dumps(value):
            if isinstance(value, str):
                return _json.encode_basestring_ascii(value)
            return "".join(encode(value, 0))

        return loads, dumps
    except Exception:
        import json
        return json.loads, json.dumps


_loads, _dumps = _json_codec()

_api = os.environ["AWS_LAMBDA_RUNTIME_API"]
_host, _, _port = _api.rpartition(":")
_head_extra = "Host: " + _api + "\r\n"
_sock = None
_buf = b""


def _connect():
    global _sock, _buf
    s = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    s.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
    s.connect((_host, int(_port)))
    _sock = s
    _buf = b""


def _read_response():
    global _buf
    buf = _buf
    while True:
        i = buf.find(b"\r\n\r\n")
        if i >= 0:
            break
        chunk = _sock.recv(65536)
        if not chunk:
            raise ConnectionError("Runtime API closed the connection")
        buf += chunk
    lines = buf[:i].decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    n = int(hdrs.get("content-length", "0"))
    rest = buf[i + 4:]
    if len(rest) < n:
        parts = [rest]
        have = len(rest)
        while have < n:
            chunk = _sock.recv(max(65536, n - have))
            if not chunk:
                raise ConnectionError("Runtime API closed the connection")
            parts.append(chunk)
            have += len(chunk)
        rest = b"".join(parts)
    _buf = rest[n:]
    return status, hdrs, rest[:n]


def _request(method, path, body=b"", headers=""):
    global _sock
    for attempt in (0, 1):
        if _sock is None:
            _connect()
        try:
            head = "%s /2018-06-01/runtime/%s HTTP/1.1\r\n%sContent-Length: %d\r\n%s\r\n" % (
                method, path, _head_extra, len(body), headers)
            if body:
                _sock.sendall(head.encode("latin-1") + body)
            else:
                _sock.sendall(head.encode("latin-1"))
            status, hdrs, data = _read_response()
            if hdrs.get("connection", "").lower() == "close":
                _sock.close()
                _sock = None
            return status, hdrs, data
        except OSError:
            _sock = None
            if attempt:
                raise


class LambdaContext(object):
    # Fixed for the life of the environment: read once, not per invocation.
    function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
    function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
    memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
    log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
    log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")

    def __init__(self, request_id, deadline_ms, arn, client_context, identity):
        self.aws_request_id = request_id
        self._deadline_ms = deadline_ms
        self.invoked_function_arn = arn
        self.client_context = client_context
        self.identity = identity

    def get_remaining_time_in_millis(self):
        return max(int(self._deadline_ms - time.time() * 1000), 0)


def _error_document(exc, tb, request_id=None):
    import traceback
    # Only the user's frames, as AWS's runtime reports them: not this bootstrap's.
    frames = [f for f in traceback.extract_tb(tb) if f.filename != __file__] if tb is not None else []
    doc = {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "stackTrace": traceback.format_list(frames),
    }
    if request_id:
        doc["requestId"] = request_id
    return doc


def _log_error(doc):
    sys.stdout.write("[ERROR] %s: %s\n%s" % (doc["errorType"], doc["errorMessage"],
                                              "".join(["Traceback (most recent call last):\n"] + doc["stackTrace"]) if doc["stackTrace"] else ""))
    sys.stdout.flush()


def _init_error(doc):
    _log_error(doc)
    _request("POST", "init/error", _dumps(doc).encode(), "Lambda-Runtime-Function-Error-Type: %s\r\n" % doc["errorType"])
    sys.exit(1)


def _load_handler():
    handler = os.environ.get("_HANDLER", "")
    modname, _, fname = handler.rpartition(".")
    if not modname or not fname:
        _init_error({"errorMessage": "Bad handler '%s': not enough values to unpack (expected 2, got 1)" % handler,
                     "errorType": "Runtime.MalformedHandlerName", "stackTrace": []})
    modname = modname.replace("/", ".")
    try:
        __import__(modname)
        module = sys.modules[modname]
    except ImportError as exc:
        _init_error({"errorMessage": "Unable to import module '%s': %s" % (modname, exc),
                     "errorType": "Runtime.ImportModuleError", "stackTrace": []})
    except SyntaxError as exc:
        _init_error({"errorMessage": "Syntax error in module '%s': %s" % (modname, exc),
                     "errorType": "Runtime.UserCodeSyntaxError", "stackTrace": []})
    except Exception as exc:
        _init_error(_error_document(exc, sys.exc_info()[2]))
    fn = getattr(module, fname, None)
    if fn is None:
        _init_error({"errorMessage": "Handler '%s' missing on module '%s'" % (fname, modname),
                     "errorType": "Runtime.HandlerNotFound", "stackTrace": []})
    return fn


def main():
    task_root = os.environ.get("LAMBDA_TASK_ROOT")
    if task_root and task_root not in sys.path:
        sys.path.insert(0, task_root)
    handler = _load_handler()
    dumps = _dumps
    loads = _loads
    while True:
        status, hdrs, body = _request("GET", "invocation/next")
        if status != 200:
            raise SystemExit("next failed with status %d: %r" % (status, body))
        request_id = hdrs.get("lambda-runtime-aws-request-id")
        trace = hdrs.get("lambda-runtime-trace-id")
        if trace:
            os.environ["_X_AMZN_TRACE_ID"] = trace
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        cc = hdrs.get("lambda-runtime-client-context")
        ci = hdrs.get("lambda-runtime-cognito-identity")
        context = LambdaContext(request_id, int(hdrs.get("lambda-runtime-deadline-ms", "0")),
                                hdrs.get("lambda-runtime-invoked-function-arn"),
                                loads(cc) if cc else None, loads(ci) if ci else None)
        try:
            event = loads(body) if body else None
            result = dumps(handler(event, context)).encode()
        except Exception as exc:
            doc = _error_document(exc, sys.exc_info()[2], request_id)
            _log_error(doc)
            _request("POST", "invocation/%s/error" % request_id, dumps(doc).encode(),
                     "Lambda-Runtime-Function-Error-Type: Unhandled\r\n")
            continue
        _request("POST", "invocation/%s/response" % request_id, result)


main()
"""#

    /// A raw `net` keep-alive client; async, callback and `context.succeed` style handlers.
    static let node = #"""
// shift's Node.js bootstrap: a Lambda Runtime API client on the standard library only.
"use strict";
const net = require("net");
const path = require("path");
const util = require("util");
const url = require("url");

const api = process.env.AWS_LAMBDA_RUNTIME_API;
const [host, port] = [api.slice(0, api.lastIndexOf(":")), Number(api.slice(api.lastIndexOf(":") + 1))];
const base = "/2018-06-01/runtime/";

// A keep-alive HTTP/1.1 client on one raw socket: `http` costs milliseconds to load and
// ~200 µs a request more. The Runtime API always answers with a Content-Length.
let sock = null;
let buf = Buffer.alloc(0);
let waiting = null;

function fail(err) {
  const w = waiting;
  waiting = null;
  sock = null;
  buf = Buffer.alloc(0);
  if (w) w.reject(err);
}

function connect() {
  sock = net.createConnection({ host, port });
  sock.setNoDelay(true);
  sock.on("data", (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    pump();
  });
  sock.on("error", fail);
  sock.on("close", () => fail(new Error("Runtime API closed the connection")));
}

function pump() {
  if (!waiting) return;
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) return;
  const lines = buf.toString("latin1", 0, end).split("\r\n");
  const status = Number(lines[0].split(" ")[1]);
  const headers = {};
  for (let i = 1; i < lines.length; i++) {
    const c = lines[i].indexOf(":");
    headers[lines[i].slice(0, c).trim().toLowerCase()] = lines[i].slice(c + 1).trim();
  }
  const length = Number(headers["content-length"] || 0);
  if (buf.length < end + 4 + length) return;
  const body = buf.subarray(end + 4, end + 4 + length);
  buf = buf.subarray(end + 4 + length);
  const w = waiting;
  waiting = null;
  if ((headers.connection || "").toLowerCase() === "close") {
    const s = sock;
    sock = null;
    s.removeAllListeners("close");
    s.destroy();
  }
  w.resolve({ status, headers, body });
}

function request(method, p, body, headers) {
  return new Promise((resolve, reject) => {
    if (!sock) connect();
    waiting = { resolve, reject };
    const payload = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
    let head = `${method} ${base}${p} HTTP/1.1\r\nHost: ${api}\r\nContent-Length: ${payload.length}\r\n`;
    for (const k in headers || {}) head += `${k}: ${headers[k]}\r\n`;
    head += "\r\n";
    sock.write(payload.length ? Buffer.concat([Buffer.from(head, "latin1"), payload]) : Buffer.from(head, "latin1"));
  });
}

let currentRequestId = "";
function patchConsole() {
  const write = (level) => (...args) => {
    process.stdout.write(`${new Date().toISOString()}\t${currentRequestId}\t${level}\t${util.format(...args).replace(/\n/g, "\r")}\n`);
  };
  console.log = console.info = write("INFO");
  console.warn = write("WARN");
  console.error = write("ERROR");
  console.debug = write("DEBUG");
  console.trace = write("TRACE");
}

function errorDocument(err) {
  if (err instanceof Error) {
    return {
      errorType: err.name || "Error",
      errorMessage: err.message,
      // Only the user's frames: not this bootstrap's, nor Node's internals.
      stackTrace: (err.stack || "").split("\n").slice(1).map((l) => l.trim())
        .filter((l) => !l.includes(__filename) && !l.includes("node:internal")),
    };
  }
  return { errorType: typeof err === "string" ? "string" : typeof err, errorMessage: String(err), stackTrace: [] };
}

async function initError(doc) {
  console.error(`${doc.errorType}: ${doc.errorMessage}`);
  await request("POST", "init/error", JSON.stringify(doc), { "Lambda-Runtime-Function-Error-Type": doc.errorType });
  process.exit(1);
}

async function loadHandler() {
  const handlerString = process.env._HANDLER || "";
  const root = process.env.LAMBDA_TASK_ROOT || process.cwd();
  const dot = handlerString.lastIndexOf(".");
  if (dot <= 0) {
    return initError({ errorType: "Runtime.MalformedHandlerName", errorMessage: `Bad handler ${handlerString}`, stackTrace: [] });
  }
  const modulePath = path.resolve(root, handlerString.slice(0, dot));
  const fnPath = handlerString.slice(dot + 1).split(".");
  let mod;
  try {
    const fs = require("fs");
    let file = null;
    for (const ext of [".js", ".mjs", ".cjs", ""]) {
      if (fs.existsSync(modulePath + ext) && fs.statSync(modulePath + ext).isFile()) { file = modulePath + ext; break; }
    }
    if (file === null) {
      const err = new Error(`Cannot find module '${handlerString.slice(0, dot)}'`);
      err.code = "MODULE_NOT_FOUND";
      throw err;
    }
    if (file.endsWith(".mjs")) {
      mod = await import(url.pathToFileURL(file).href);
    } else {
      try {
        mod = require(file);
      } catch (err) {
        if (err && err.code === "ERR_REQUIRE_ESM") mod = await import(url.pathToFileURL(file).href);
        else throw err;
      }
    }
  } catch (err) {
    if (err && err.code === "MODULE_NOT_FOUND") {
      return initError({ errorType: "Runtime.ImportModuleError", errorMessage: `Error: ${err.message}`, stackTrace: [] });
    }
    if (err instanceof SyntaxError) {
      return initError({ errorType: "Runtime.UserCodeSyntaxError", errorMessage: `${err.name}: ${err.message}`, stackTrace: [] });
    }
    return initError(errorDocument(err));
  }
  let fn = mod;
  for (const part of fnPath) fn = fn == null ? undefined : fn[part];
  if (typeof fn !== "function" && mod && mod.default) {
    fn = mod.default;
    for (const part of fnPath) fn = fn == null ? undefined : fn[part];
  }
  if (typeof fn !== "function") {
    return initError({ errorType: "Runtime.HandlerNotFound", errorMessage: `${handlerString} is undefined or not exported`, stackTrace: [] });
  }
  return fn;
}

function makeContext(headers) {
  const deadline = Number(headers["lambda-runtime-deadline-ms"] || 0);
  const env = process.env;
  const cc = headers["lambda-runtime-client-context"];
  const ci = headers["lambda-runtime-cognito-identity"];
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    awsRequestId: headers["lambda-runtime-aws-request-id"],
    invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
    clientContext: cc ? JSON.parse(cc) : undefined,
    identity: ci ? JSON.parse(ci) : undefined,
    getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
  };
}

function runHandler(fn, event, context) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err, value) => {
      if (settled) return;
      settled = true;
      if (err !== undefined && err !== null) reject(err); else resolve(value);
    };
    context.done = done;
    context.succeed = (v) => done(null, v);
    context.fail = (e) => done(e || "handled");
    try {
      const result = fn(event, context, done);
      if (result && typeof result.then === "function") result.then((v) => done(null, v), (e) => done(e === undefined || e === null ? new Error(String(e)) : e));
      else if (fn.length < 3) done(null, result);
    } catch (err) {
      done(err);
    }
  });
}

async function main() {
  patchConsole();
  const fn = await loadHandler();
  for (;;) {
    const next = await request("GET", "invocation/next");
    if (next.status !== 200) throw new Error(`next failed with status ${next.status}`);
    const h = next.headers;
    const id = h["lambda-runtime-aws-request-id"];
    currentRequestId = id;
    if (h["lambda-runtime-trace-id"]) process.env._X_AMZN_TRACE_ID = h["lambda-runtime-trace-id"];
    else delete process.env._X_AMZN_TRACE_ID;
    const context = makeContext(h);
    try {
      const event = next.body.length ? JSON.parse(next.body) : null;
      const value = await runHandler(fn, event, context);
      const body = JSON.stringify(value === undefined ? null : value);
      await request("POST", `invocation/${id}/response`, body);
    } catch (err) {
      const doc = errorDocument(err);
      console.error(`Invoke Error \t${JSON.stringify(doc)}`);
      await request("POST", `invocation/${id}/error`, JSON.stringify(doc), { "Lambda-Runtime-Function-Error-Type": "Unhandled" });
    }
  }
}

main().catch((err) => {
  process.stderr.write(`bootstrap failure: ${err && err.stack || err}\n`);
  process.exit(1);
});
"""#
}
