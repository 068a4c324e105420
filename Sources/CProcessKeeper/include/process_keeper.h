#ifndef SHIFT_PROCESS_KEEPER_H
#define SHIFT_PROCESS_KEEPER_H

#include <sys/types.h>

/// A runtime process started under its keeper (see process_keeper.c).
typedef struct {
    /// The runtime process; also the id of its process group.
    pid_t pid;
    /// The keeper, a child of the caller: wait for it with waitpid.
    pid_t keeper;
    /// Read end (close-on-exec) on which the keeper writes the runtime's raw wait status, once the
    /// runtime and every process it started are gone.
    int status_fd;
} shift_kept_process;

/// Starts `path` with exactly `argv` and `envp`, in `directory` (NULL: unchanged), stdin from
/// /dev/null, stdout and stderr on `output_fd`, in its own process group, signal dispositions
/// and mask at their defaults, every other descriptor closed.
///
/// Returns 0 and fills `out`, or an errno value (the runtime could not be started; nothing is left running).
int shift_keeper_spawn(const char *path, char *const argv[], char *const envp[], const char *directory,
                       int output_fd, shift_kept_process *out);

/// Restricts thread `tid` (0: the calling thread) to the `count` CPUs in `cpus`. Returns 0, or an errno value
/// (ENOSYS where CPU affinity does not exist).
int shift_set_cpus(pid_t tid, const int *cpus, int count);

/// Writes the CPUs thread `tid` may run on into `cpus` (at most `capacity`) and returns how many, or -1.
int shift_get_cpus(pid_t tid, int *cpus, int capacity);

#endif
