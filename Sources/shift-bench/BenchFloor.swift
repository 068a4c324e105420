import ArgumentParser
import Foundation

/// The floor of a warm invoke on this machine, in C: a broker that hands each caller's keep-alive HTTP request to a
/// parked Runtime API `next` of a compiled function and its `response` back, doing nothing else (no routing, no
/// metrics, no logs). One worker process per core shares the invoke listener, each with its own Runtime API
/// listener and functions, so the floor uses both cores as `shift serve` may. Compiled with the system `cc` at run time.
struct CFloorBroker {
    let process: Process
    private let control: Pipe
    /// The invoke port (any path is an invoke).
    let port: Int

    /// Starts `workers` workers with `environments` function processes each running `function`.
    static func start(in directory: String, function: String, environments: Int, workers: Int) throws -> CFloorBroker {
        try source.write(toFile: directory + "/broker.c", atomically: true, encoding: .utf8)
        guard system("cc -O2 -o '\(directory)/broker' '\(directory)/broker.c'") == 0 else { throw ValidationError("cc failed to build the C floor broker") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: directory + "/broker")
        process.arguments = [function, String(environments), String(workers)]
        let control = Pipe(), output = Pipe()
        process.standardInput = control
        process.standardOutput = output
        try process.run()
        let line = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let port = Int(line) else { throw ValidationError("the C floor broker did not print its port (got '\(line)')") }
        return CFloorBroker(process: process, control: control, port: port)
    }

    /// Ends the broker, its workers and their functions (closing its stdin).
    func stop() {
        try? control.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    static let source = #"""
/* The floor of a warm invoke: a caller's keep-alive HTTP request handed to a parked Runtime API `next`
   of a function process and its `response` handed back, with nothing else. Two worker processes (one per
   core) share the invoke listener; each has its own Runtime API listener and its own function processes.
   Usage: broker FUNCTION_BINARY ENVIRONMENTS_PER_WORKER WORKERS; prints the invoke port on stdout. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXC 512
#define BUFSZ (1 << 16)
enum { NONE, LISTEN_INVOKE, LISTEN_RT, CALLER, RUNTIME };
struct conn { int kind; size_t have; char *buf; int peer; int parked; int waiting; size_t bodylen; char *body; };
static struct conn c[MAXC];
static struct pollfd pfd[MAXC];
static int queue[MAXC], qhead = 0, qtail = 0;

static int listener(int *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET; a.sin_addr.s_addr = htonl(INADDR_LOOPBACK); a.sin_port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 512)) { perror("listen"); exit(1); }
    socklen_t len = sizeof a; getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

static void writeall(int fd, const char *p, size_t n) {
    while (n > 0) { ssize_t w = write(fd, p, n); if (w <= 0) return; p += w; n -= (size_t)w; }
}

static void drop(int fd) {
    if (c[fd].kind == CALLER || c[fd].kind == RUNTIME) { close(fd); free(c[fd].buf); c[fd].kind = NONE; c[fd].buf = 0; }
}

/* Sends caller `from`'s request body to runtime `rt` as the answer to its `next`. */
static void deliver(int rt, int from) {
    char head[512];
    int n = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: %d\r\n"
                     "Lambda-Runtime-Deadline-Ms: 9999999999999\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:floor\r\n"
                     "Lambda-Runtime-Trace-Id: Root=1-0-0\r\nContent-Length: %zu\r\n\r\n", from, c[from].bodylen);
    char out[BUFSZ + 512];
    memcpy(out, head, (size_t)n); memcpy(out + n, c[from].body, c[from].bodylen);
    writeall(rt, out, (size_t)n + c[from].bodylen);
    c[rt].parked = 0; c[rt].peer = from;
}

/* Handles complete requests in connection fd's buffer; returns -1 when it closed. */
static int serve(int fd, int nfds) {
    struct conn *k = &c[fd];
    for (;;) {
        char *end = memmem(k->buf, k->have, "\r\n\r\n", 4);
        if (!end) return 0;
        size_t headlen = (size_t)(end - k->buf) + 4, clen = 0;
        for (char *line = strstr(k->buf, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n"))
            if (!strncasecmp(line + 2, "Content-Length:", 15)) clen = strtoul(line + 17, 0, 10);
        if (k->have < headlen + clen) return 0;
        char *body = k->buf + headlen;
        if (k->kind == CALLER) {
            k->body = malloc(clen ? clen : 1); memcpy(k->body, body, clen); k->bodylen = clen;
            int rt = -1;
            for (int i = 0; i < nfds; i++) if (c[i].kind == RUNTIME && c[i].parked) { rt = i; break; }
            if (rt >= 0) deliver(rt, fd); else queue[qtail++ % MAXC] = fd;
        } else if (!strncmp(k->buf, "GET ", 4)) {  /* next */
            if (qhead != qtail) deliver(fd, queue[qhead++ % MAXC]); else k->parked = 1;
        } else {  /* POST …/response */
            static const char ok[] = "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}";
            writeall(fd, ok, sizeof ok - 1);
            int caller = k->peer;
            if (caller >= 0 && c[caller].kind == CALLER) {
                char out[BUFSZ + 256];
                int n = snprintf(out, 256, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Amz-Executed-Version: $LATEST\r\nContent-Length: %zu\r\n\r\n", clen);
                memcpy(out + n, body, clen);
                writeall(caller, out, (size_t)n + clen);
                free(c[caller].body); c[caller].body = 0;
            }
            k->peer = -1;
        }
        memmove(k->buf, k->buf + headlen + clen, k->have - headlen - clen);
        k->have -= headlen + clen;
    }
}

static void worker(int inv, const char *function, int environments) {
    int rtport, rtfd = listener(&rtport);
    char api[64]; snprintf(api, sizeof api, "AWS_LAMBDA_RUNTIME_API=127.0.0.1:%d", rtport);
    for (int i = 0; i < environments; i++) {
        if (fork() == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            char *env[] = {api, 0}, *argv[] = {(char *)function, 0};
            execve(function, argv, env); _exit(127);
        }
    }
    c[inv].kind = LISTEN_INVOKE; c[rtfd].kind = LISTEN_RT;
    for (;;) {
        int n = 0;
        for (int i = 0; i < MAXC; i++) if (c[i].kind != NONE) { pfd[n].fd = i; pfd[n].events = POLLIN; pfd[n].revents = 0; n++; }
        if (poll(pfd, (nfds_t)n, -1) < 0) continue;
        for (int j = 0; j < n; j++) {
            if (!pfd[j].revents) continue;
            int fd = pfd[j].fd;
            if (c[fd].kind == LISTEN_INVOKE || c[fd].kind == LISTEN_RT) {
                int a = accept(fd, 0, 0);
                if (a < 0 || a >= MAXC) { if (a >= 0) close(a); continue; }
                int one = 1; setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                c[a] = (struct conn){c[fd].kind == LISTEN_INVOKE ? CALLER : RUNTIME, 0, malloc(BUFSZ), -1, 0, 0, 0, 0};
                continue;
            }
            ssize_t r = read(fd, c[fd].buf + c[fd].have, BUFSZ - c[fd].have);
            if (r <= 0) { drop(fd); continue; }
            c[fd].have += (size_t)r;
            serve(fd, MAXC);
        }
    }
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: broker FUNCTION ENVIRONMENTS WORKERS\n"); return 2; }
    signal(SIGPIPE, SIG_IGN);
    setpgid(0, 0);  /* its own group, so that ending it ends only it */
    int port, inv = listener(&port);
    printf("%d\n", port); fflush(stdout);
    int workers = atoi(argv[3]);
    for (int w = 0; w < workers; w++) {
        if (fork() == 0) { prctl(PR_SET_PDEATHSIG, SIGKILL); worker(inv, argv[1], atoi(argv[2])); }
    }
    /* Ends (and with it every worker and function) when the bench closes stdin. */
    char b; while (read(0, &b, 1) > 0) {}
    kill(0, SIGKILL);
    return 0;
}
"""#
}
