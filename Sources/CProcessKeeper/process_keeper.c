// Every function process must die with shift, however shift dies, SIGKILL included. Nothing runs in
// a process after its SIGKILL, so the cleanup has to live in another process: each runtime is started
// by a small keeper, forked from shift, that never execs. The keeper
//   - is a child subreaper (Linux), so every process the runtime starts, double-forked or in its own
//     session, stays its descendant and comes back to it as an orphan;
//   - holds the read end of a "lifeline" pipe whose write end only shift holds: when shift dies, the
//     lifeline reads end of file and the keeper kills everything under it;
//   - when the runtime exits (recycle, fault, shutdown), kills whatever the runtime left behind, reaps
//     it, then reports the runtime's wait status to shift and exits;
//   - starts the runtime with PR_SET_PDEATHSIG(SIGKILL), so the runtime dies even if the keeper is killed.
// The keeper is a fork of a multithreaded process that never execs: it may only make async-signal-safe
// calls (no malloc, no stdio, nothing of Swift), which is why this is C.

#define _GNU_SOURCE
#include "process_keeper.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
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
    if (pipe(sigchld_pipe) != 0) { report(report_fd, -errno); _exit(1); }
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
    sigaction(SIGPIPE, &action, NULL);  // shift gone: the report write must fail, not kill the keeper

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

int shift_keeper_spawn(const char *path, char *const argv[], char *const envp[], const char *directory,
                       int output_fd, shift_kept_process *out) {
    pthread_once(&lifeline_once, make_lifeline);
    if (lifeline_error) return lifeline_error;
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd < 0) return errno;
    int reports[2];
    if (pipe(reports) != 0) { int e = errno; close(null_fd); return e; }
    fcntl(reports[0], F_SETFD, FD_CLOEXEC);
    fcntl(reports[1], F_SETFD, FD_CLOEXEC);
    struct launch launch = {path, argv, envp, directory, output_fd, null_fd, 0, 0};

    // No handler of shift may run in the keeper: block everything across the fork, reset there.
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t keeper = fork();
    if (keeper == 0) {
        reset_signal_dispositions();
        setpgid(0, 0);  // the terminal's ^C goes to shift, which stops environments in order
#ifdef __linux__
        prctl(PR_SET_NAME, "shift-keeper");
        prctl(PR_SET_CHILD_SUBREAPER, 1);
#endif
        launch.keeper = getpid();
        int kept[4] = {output_fd, null_fd, reports[1], lifeline[0]};
        sort_fds(kept, 4);
        close_all_but(kept, 4);
        dup2(null_fd, 0);
        dup2(null_fd, 1);
        dup2(null_fd, 2);
        keep(&launch, reports[1], lifeline[0]);
    }
    int forkError = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    close(reports[1]);
    close(null_fd);
    if (keeper < 0) { close(reports[0]); return forkError; }

    int32_t first = 0;
    ssize_t got;
    while ((got = read(reports[0], &first, sizeof first)) < 0 && errno == EINTR) {}
    if (got != sizeof first || first <= 0) {
        close(reports[0]);
        while (waitpid(keeper, NULL, 0) < 0 && errno == EINTR) {}
        return got == sizeof first && first < 0 ? -first : ECHILD;
    }
    out->pid = first;
    out->keeper = keeper;
    out->status_fd = reports[0];
    return 0;
}
