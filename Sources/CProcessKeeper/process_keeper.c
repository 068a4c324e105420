// Every function process must die with shift, however shift dies, SIGKILL included. Nothing runs in
// a process after its SIGKILL, so the cleanup has to live in other processes: each runtime is started
// by a small keeper that never execs. The keeper
//   - is a child subreaper (Linux), so every process the runtime starts, double-forked or in its own
//     session, stays its descendant and comes back to it as an orphan;
//   - holds the read end of a "lifeline" pipe whose write end only shift holds: when shift dies, the
//     lifeline reads end of file and the keeper kills everything under it;
//   - when the runtime exits (recycle, fault, shutdown), kills whatever the runtime left behind, reaps
//     it, then reports the runtime's wait status to shift and exits;
//   - starts the runtime with PR_SET_PDEATHSIG(SIGKILL), so the runtime dies even if the keeper is killed.
// Keepers are forked from one "zygote", itself forked from shift at the first spawn, that serves spawn
// requests over a socket. Forking shift itself for each environment would make every keeper pin a
// copy-on-write snapshot of shift's memory for the environment's whole life, and make shift pay a page
// copy for each page it writes after every spawn. The zygote and keepers are forks of a multithreaded
// process that never exec: they may only make async-signal-safe calls (no malloc, no stdio, nothing of
// Swift), which is why this is C.

#define _GNU_SOURCE
#include "process_keeper.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

// Linux spellings; elsewhere (macOS) descriptors are made close-on-exec by fcntl or not at all.
#ifndef SOCK_CLOEXEC
#define SOCK_CLOEXEC 0
#endif
#ifndef MSG_CMSG_CLOEXEC
#define MSG_CMSG_CLOEXEC 0
#endif
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

static int lifeline[2] = {-1, -1};
static int lifeline_error = 0;
static pthread_once_t lifeline_once = PTHREAD_ONCE_INIT;

static void make_lifeline(void) {
    if (pipe(lifeline) != 0) { lifeline_error = errno; return; }
    fcntl(lifeline[0], F_SETFD, FD_CLOEXEC);
    fcntl(lifeline[1], F_SETFD, FD_CLOEXEC);
}

// MARK: - Async-signal-safe helpers (keeper and runtime child)

static void write_all(int fd, const void *bytes, size_t count) {
    const char *p = bytes;
    while (count > 0) {
        ssize_t n = write(fd, p, count);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        p += n;
        count -= (size_t)n;
    }
}

static void close_range_from(int first, int last) {
    if (first > last) return;
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)first, (unsigned)last, 0) == 0) return;
#endif
    struct rlimit limit;
    int top = last;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY && (rlim_t)top >= limit.rlim_cur) top = (int)limit.rlim_cur - 1;
    if (top > 65535) top = 65535;
    for (int fd = first; fd <= top; fd++) close(fd);
}

/// Closes every descriptor from 3 up, except those in `keep` (sorted, all >= 3).
static void close_all_but(const int *keep, int count) {
    int from = 3;
    for (int i = 0; i < count; i++) {
        close_range_from(from, keep[i] - 1);
        from = keep[i] + 1;
    }
    close_range_from(from, INT32_MAX);
}

static void sort_fds(int *fds, int count) {
    for (int i = 1; i < count; i++)
        for (int j = i; j > 0 && fds[j - 1] > fds[j]; j--) { int t = fds[j]; fds[j] = fds[j - 1]; fds[j - 1] = t; }
}

static void reset_signal_dispositions(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    sigemptyset(&action.sa_mask);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        sigaction(sig, &action, NULL);  // fails harmlessly for the C library's reserved signals
    }
}

static int sigchld_pipe[2] = {-1, -1};

static void on_sigchld(int sig) {
    (void)sig;
    int saved = errno;
    char byte = 0;
    (void)!write(sigchld_pipe[1], &byte, 1);
    errno = saved;
}

/// SIGCHLD wakes the poll loop through `sigchld_pipe` (the keeper's and the zygote's); SIGPIPE is ignored, so a
/// write to a vanished shift fails instead of killing the process. Async-signal-safe; -1 with errno when the pipe fails.
static int watch_children(void) {
    if (pipe(sigchld_pipe) != 0) return -1;
    fcntl(sigchld_pipe[0], F_SETFL, O_NONBLOCK);
    fcntl(sigchld_pipe[1], F_SETFL, O_NONBLOCK);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_sigchld;
    action.sa_flags = SA_NOCLDSTOP | SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigaction(SIGCHLD, &action, NULL);
    action.sa_handler = SIG_IGN;
    action.sa_flags = 0;
    sigaction(SIGPIPE, &action, NULL);
    return 0;
}

/// SIGKILLs every direct child of the keeper. Returns 0 when /proc cannot tell (then only the
/// runtime's group is known to be gone).
static int kill_children(void) {
#ifdef __linux__
    char path[64] = "/proc/self/task/";
    char digits[16];
    int n = 0;
    for (pid_t p = getpid(); p > 0; p /= 10) digits[n++] = (char)('0' + p % 10);
    size_t at = strlen(path);
    while (n > 0) path[at++] = digits[--n];
    memcpy(path + at, "/children", sizeof "/children");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buffer[8192];
    ssize_t length = read(fd, buffer, sizeof buffer);
    close(fd);
    if (length < 0) return 0;
    // A full buffer may end mid-number: drop the last token (the next round gets it).
    if ((size_t)length == sizeof buffer) while (length > 0 && buffer[length - 1] != ' ') length--;
    pid_t child = 0;
    for (ssize_t i = 0; i < length; i++) {
        if (buffer[i] >= '0' && buffer[i] <= '9') {
            child = child * 10 + (buffer[i] - '0');
        } else {
            if (child > 0) kill(child, SIGKILL);
            child = 0;
        }
    }
    if (child > 0) kill(child, SIGKILL);
    return 1;
#else
    return 0;
#endif
}

/// Kills the runtime's group and, round by round, every orphan that comes back to the keeper (a
/// killed process's children are reparented to the subreaper), reaping each, until none is left.
static void kill_everything(pid_t runtime, int runtime_reaped) {
    kill(-runtime, SIGKILL);
    if (!runtime_reaped) kill(runtime, SIGKILL);  // once reaped, its pid may belong to someone else
    for (;;) {
        int known = kill_children();
        pid_t reaped = waitpid(-1, NULL, known ? 0 : WNOHANG);
        if (reaped < 0 && errno == EINTR) continue;
        if (reaped <= 0) return;
    }
}

// MARK: - The runtime child (vfork: shares the keeper's memory until exec)

struct launch {
    const char *path;
    char *const *argv;
    char *const *envp;
    const char *directory;
    int output_fd;
    int null_fd;
    pid_t keeper;
    volatile int error;
};

static void start_runtime(struct launch *launch) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &action, NULL);
    sigaction(SIGPIPE, &action, NULL);
    setpgid(0, 0);
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != launch->keeper) { launch->error = ESRCH; _exit(127); }
#endif
    if (dup2(launch->null_fd, 0) < 0 || dup2(launch->output_fd, 1) < 0 || dup2(launch->output_fd, 2) < 0) {
        launch->error = errno;
        _exit(127);
    }
    close_range_from(3, INT32_MAX);
    if (launch->directory && chdir(launch->directory) != 0) { launch->error = errno; _exit(127); }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(launch->path, launch->argv, launch->envp);
    launch->error = errno;
    _exit(127);
}

// MARK: - The keeper

static void report(int fd, int32_t value) { write_all(fd, &value, sizeof value); }

__attribute__((noreturn)) static void keep(struct launch *launch, int report_fd, int lifeline_fd) {
    sigset_t none;
    sigemptyset(&none);
    if (watch_children() != 0) { report(report_fd, -errno); _exit(1); }

    // ETXTBSY: a file just written is still open for writing in a child another thread of shift
    // forked and has not exec'd yet. It passes within microseconds.
    pid_t runtime = -1;
    for (int attempt = 0; attempt < 50; attempt++) {
        launch->error = 0;
        runtime = vfork();
        if (runtime == 0) start_runtime(launch);
        if (runtime < 0) { report(report_fd, -errno); _exit(1); }
        if (launch->error == 0) break;
        while (waitpid(runtime, NULL, 0) < 0 && errno == EINTR) {}
        if (launch->error != ETXTBSY || attempt == 49) { report(report_fd, -launch->error); _exit(1); }
        struct timespec pause = {0, 2000000};
        nanosleep(&pause, NULL);
    }
    sigprocmask(SIG_SETMASK, &none, NULL);
    close(launch->output_fd);
    report(report_fd, (int32_t)runtime);

    int status = 0;
    for (;;) {
        pid_t reaped;
        int ended = 0, reapedStatus = 0;
        // Orphans that end while the runtime lives are reaped here too (no zombies).
        while ((reaped = waitpid(-1, &reapedStatus, WNOHANG)) > 0 || (reaped < 0 && errno == EINTR)) {
            if (reaped == runtime) { status = reapedStatus; ended = 1; break; }
        }
        if (ended) break;
        struct pollfd fds[2] = {{lifeline_fd, POLLIN, 0}, {sigchld_pipe[0], POLLIN, 0}};
        if (poll(fds, 2, -1) < 0) continue;
        if (fds[0].revents) {
            // shift is gone: nobody waits for a status.
            kill_everything(runtime, 0);
            _exit(0);
        }
        char drain[64];
        while (read(sigchld_pipe[0], drain, sizeof drain) > 0) {}
    }
    kill_everything(runtime, 1);
    report(report_fd, (int32_t)status);
    _exit(0);
}

// MARK: - The zygote (a fork of shift that forks keepers)

/// Requests are at most this large: Lambda's environment is at most 4 KB of variables plus its own.
#define REQUEST_BYTES (256 * 1024)
#define REQUEST_STRINGS 8192

static char request[REQUEST_BYTES];
static char *request_strings[REQUEST_STRINGS];

/// Sends `bytes` with `fd` attached (-1: none).
static int send_with_fd(int sock, const void *bytes, size_t length, int fd) {
    struct iovec iov = {(void *)bytes, length};
    union { struct cmsghdr header; char space[CMSG_SPACE(sizeof(int))]; } control;
    memset(&control, 0, sizeof control);
    struct msghdr message;
    memset(&message, 0, sizeof message);
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    if (fd >= 0) {
        message.msg_control = control.space;
        message.msg_controllen = sizeof control.space;
        struct cmsghdr *header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(header), &fd, sizeof fd);
    }
    for (;;) {
        ssize_t n = sendmsg(sock, &message, MSG_NOSIGNAL);
        if (n >= 0) return 0;
        if (errno != EINTR) return errno;
    }
}

/// Receives one message into `bytes` and the descriptor attached to it, if any (close-on-exec).
static ssize_t receive_with_fd(int sock, void *bytes, size_t capacity, int *fd) {
    struct iovec iov = {bytes, capacity};
    union { struct cmsghdr header; char space[CMSG_SPACE(sizeof(int))]; } control;
    struct msghdr message;
    memset(&message, 0, sizeof message);
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control.space;
    message.msg_controllen = sizeof control.space;
    *fd = -1;
    ssize_t n;
    while ((n = recvmsg(sock, &message, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {}
    if (n > 0) {
        for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header; header = CMSG_NXTHDR(&message, header)) {
            if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS) memcpy(fd, CMSG_DATA(header), sizeof *fd);
        }
    }
    return n;
}

/// A request: three uint32 (argument count, variable count, whether a directory follows), then the
/// path, the arguments, the variables and the directory, each ending with a NUL.
static int parse_request(size_t length, struct launch *launch) {
    if (length < 12) return EINVAL;
    uint32_t counts[3];
    memcpy(counts, request, sizeof counts);
    if ((size_t)counts[0] + counts[1] + 2 > REQUEST_STRINGS) return E2BIG;
    size_t at = 12;
    size_t wanted = 1 + counts[0] + counts[1] + (counts[2] ? 1 : 0);
    char *strings[2] = {NULL, NULL};
    for (size_t i = 0; i < wanted; i++) {
        if (at >= length) return EINVAL;
        char *string = request + at;
        size_t size = strnlen(string, length - at);
        if (at + size >= length) return EINVAL;
        at += size + 1;
        if (i == 0) strings[0] = string;
        else if (i <= counts[0]) request_strings[i - 1] = string;
        else if (i <= counts[0] + counts[1]) request_strings[i] = string;  // after argv's NULL
        else strings[1] = string;
    }
    request_strings[counts[0]] = NULL;
    request_strings[counts[0] + 1 + counts[1]] = NULL;
    launch->path = strings[0];
    launch->argv = request_strings;
    launch->envp = request_strings + counts[0] + 1;
    launch->directory = counts[2] ? strings[1] : NULL;
    return 0;
}

/// Forks a keeper for one request and answers with the runtime's pid (or -errno), the keeper's pid,
/// and the read end of the keeper's report pipe.
static void spawn_for(int sock, int lifeline_fd, size_t length, int output_fd) {
    int32_t reply[2] = {0, 0};
    struct launch launch;
    memset(&launch, 0, sizeof launch);
    int problem = output_fd < 0 ? EBADF : parse_request(length, &launch);
    int null_fd = -1, reports[2] = {-1, -1};
    if (!problem && (null_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) problem = errno;
    if (!problem && pipe(reports) != 0) problem = errno;
    pid_t keeper = -1;
    if (!problem) {
        fcntl(reports[0], F_SETFD, FD_CLOEXEC);
        launch.output_fd = output_fd;
        launch.null_fd = null_fd;
        sigset_t all, previous;
        sigfillset(&all);
        sigprocmask(SIG_SETMASK, &all, &previous);
        keeper = fork();
        if (keeper == 0) {
            reset_signal_dispositions();
            setpgid(0, 0);
#ifdef __linux__
            prctl(PR_SET_NAME, "shift-keeper");
            prctl(PR_SET_CHILD_SUBREAPER, 1);
#endif
            launch.keeper = getpid();
            int kept[4] = {output_fd, null_fd, reports[1], lifeline_fd};
            sort_fds(kept, 4);
            close_all_but(kept, 4);
            keep(&launch, reports[1], lifeline_fd);
        }
        if (keeper < 0) problem = errno;
        sigprocmask(SIG_SETMASK, &previous, NULL);
    }
    if (output_fd >= 0) close(output_fd);
    if (null_fd >= 0) close(null_fd);
    if (reports[1] >= 0) close(reports[1]);
    if (!problem) {
        int32_t first = 0;
        ssize_t got;
        while ((got = read(reports[0], &first, sizeof first)) < 0 && errno == EINTR) {}
        if (got != sizeof first) problem = ECHILD;
        else if (first <= 0) problem = -first;
        else { reply[0] = first; reply[1] = keeper; }
    }
    if (problem) reply[0] = -problem;
    send_with_fd(sock, reply, sizeof reply, problem ? -1 : reports[0]);
    if (reports[0] >= 0) close(reports[0]);
}

__attribute__((noreturn)) static void zygote(int sock, int lifeline_fd) {
    if (watch_children() != 0) _exit(1);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIG_IGN;
    sigemptyset(&action.sa_mask);
    // shift's own handlers write to its signal pipe: a signal sent to a keeper (a terminal's Ctrl-C reaches the
    // whole process group) must not reach shift that way. Keepers end with their lifeline, not on a signal.
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    action.sa_handler = SIG_DFL;
    sigaction(SIGWINCH, &action, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (;;) {
        struct pollfd fds[2] = {{sock, POLLIN, 0}, {sigchld_pipe[0], POLLIN, 0}};
        if (poll(fds, 2, -1) < 0) continue;
        if (fds[1].revents) {
            char drain[64];
            while (read(sigchld_pipe[0], drain, sizeof drain) > 0) {}
            while (waitpid(-1, NULL, WNOHANG) > 0) {}  // keepers that ended
        }
        if (fds[0].revents) {
            int output_fd;
            ssize_t n = receive_with_fd(sock, request, sizeof request, &output_fd);
            if (n <= 0) _exit(0);  // shift is gone; each keeper sees its lifeline close
            spawn_for(sock, lifeline_fd, (size_t)n, output_fd);
        }
    }
}

// MARK: - In shift

static pthread_mutex_t zygote_lock = PTHREAD_MUTEX_INITIALIZER;
static int zygote_sock = -1;
static pid_t zygote_pid = -1;

/// Forks the zygote (called with `zygote_lock` held).
static int start_zygote(void) {
    if (zygote_pid > 0) waitpid(zygote_pid, NULL, WNOHANG);  // a predecessor that died
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return errno;
    // No handler of shift may run in the zygote: block everything across the fork, reset there.
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t pid = fork();
    if (pid == 0) {
        reset_signal_dispositions();
        setpgid(0, 0);  // the terminal's ^C goes to shift, which stops environments in order
#ifdef __linux__
        prctl(PR_SET_NAME, "shift-keepers");
#endif
        int kept[2] = {sv[1], lifeline[0]};
        sort_fds(kept, 2);
        close_all_but(kept, 2);
        int null_fd = open("/dev/null", O_RDWR);
        if (null_fd >= 0) {
            dup2(null_fd, 0);
            dup2(null_fd, 1);
            dup2(null_fd, 2);
            if (null_fd > 2) close(null_fd);
        }
        zygote(sv[1], lifeline[0]);
    }
    int forkError = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    close(sv[1]);
    if (pid < 0) { close(sv[0]); return forkError; }
    zygote_sock = sv[0];
    zygote_pid = pid;
    return 0;
}

int shift_keeper_spawn(const char *path, char *const argv[], char *const envp[], const char *directory,
                       int output_fd, shift_kept_process *out) {
    pthread_once(&lifeline_once, make_lifeline);
    if (lifeline_error) return lifeline_error;
    uint32_t counts[3] = {0, 0, directory ? 1 : 0};
    size_t length = 12 + strlen(path) + 1 + (directory ? strlen(directory) + 1 : 0);
    for (; argv[counts[0]]; counts[0]++) length += strlen(argv[counts[0]]) + 1;
    for (; envp[counts[1]]; counts[1]++) length += strlen(envp[counts[1]]) + 1;
    if (length > REQUEST_BYTES || (size_t)counts[0] + counts[1] + 2 > REQUEST_STRINGS) return E2BIG;
    char *message = malloc(length);
    if (!message) return ENOMEM;
    memcpy(message, counts, sizeof counts);
    size_t at = 12;
#define APPEND(string) do { size_t size = strlen(string) + 1; memcpy(message + at, string, size); at += size; } while (0)
    APPEND(path);
    for (uint32_t i = 0; i < counts[0]; i++) APPEND(argv[i]);
    for (uint32_t i = 0; i < counts[1]; i++) APPEND(envp[i]);
    if (directory) APPEND(directory);
#undef APPEND

    int32_t reply[2] = {-EPIPE, 0};
    int status_fd = -1;
    int problem = 0;
    pthread_mutex_lock(&zygote_lock);
    // A zygote that died (killed by someone) is replaced once.
    for (int attempt = 0; attempt < 2; attempt++) {
        if (zygote_sock < 0 && (problem = start_zygote()) != 0) break;
        if (send_with_fd(zygote_sock, message, length, output_fd) == 0
            && receive_with_fd(zygote_sock, reply, sizeof reply, &status_fd) == sizeof reply) {
            problem = 0;
            break;
        }
        if (status_fd >= 0) close(status_fd);
        status_fd = -1;
        close(zygote_sock);
        zygote_sock = -1;
        problem = EPIPE;
    }
    pthread_mutex_unlock(&zygote_lock);
    free(message);
    if (problem) return problem;
    if (reply[0] <= 0 || status_fd < 0) {
        if (status_fd >= 0) close(status_fd);
        return reply[0] < 0 ? -reply[0] : ECHILD;
    }
    out->pid = reply[0];
    out->keeper = reply[1];
    out->status_fd = status_fd;
    return 0;
}

// CPU affinity (see CPUPlacement.swift). Linux only; elsewhere nothing is placed.
#ifdef __linux__
#include <sched.h>

int shift_set_cpus(pid_t tid, const int *cpus, int count) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < count; i++) {
        if (cpus[i] >= 0 && cpus[i] < CPU_SETSIZE) CPU_SET(cpus[i], &set);
    }
    return sched_setaffinity(tid, sizeof set, &set) == 0 ? 0 : errno;
}

int shift_get_cpus(pid_t tid, int *cpus, int capacity) {
    cpu_set_t set;
    if (sched_getaffinity(tid, sizeof set, &set) != 0) return -1;
    int count = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE && count < capacity; cpu++) {
        if (CPU_ISSET(cpu, &set)) cpus[count++] = cpu;
    }
    return count;
}
#else
int shift_set_cpus(pid_t tid, const int *cpus, int count) { (void)tid; (void)cpus; (void)count; return ENOSYS; }
int shift_get_cpus(pid_t tid, int *cpus, int capacity) { (void)tid; (void)cpus; (void)capacity; return -1; }
#endif
