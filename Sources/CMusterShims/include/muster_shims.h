#ifndef MUSTER_SHIMS_H
#define MUSTER_SHIMS_H

#include <sys/types.h>

/// What the child does between fork and exec. Every step is async-signal-safe.
typedef struct {
    /// Absolute path of the program (PATH lookup is done by the caller, with the child's PATH).
    const char *path;
    char *const *argv;
    char *const *envp;
    /// Working directory, or NULL to inherit.
    const char *cwd;
    /// Descriptors for 0, 1 and 2 in the child.
    int stdin_fd;
    int stdout_fd;
    int stderr_fd;
    /// Descriptor passed on as fd 3 (a detached supervisor's report pipe), or -1.
    int fd3;
    /// Non-zero: setsid(), so the service is a session and process-group leader.
    int new_session;
    /// Non-zero: drop to uid/gid (setgroups, setgid, setuid) before exec.
    int drop_privileges;
    uid_t uid;
    gid_t gid;
    /// Signal the kernel sends the child when the spawning thread dies (0: none).
    int parent_death_signal;
    /// The spawning process's pid, to close the race where it died before prctl.
    pid_t expected_parent;
} muster_spawn_config;

/// Steps that can fail in the child; reported back with errno through a CLOEXEC pipe.
enum {
    MUSTER_STEP_FORK = 1,
    MUSTER_STEP_SETSID = 2,
    MUSTER_STEP_DUP = 3,
    MUSTER_STEP_CHDIR = 4,
    MUSTER_STEP_SETGROUPS = 5,
    MUSTER_STEP_SETGID = 6,
    MUSTER_STEP_SETUID = 7,
    MUSTER_STEP_PDEATHSIG = 8,
    MUSTER_STEP_PARENT_GONE = 9,
    MUSTER_STEP_EXEC = 10,
    MUSTER_STEP_PIPE = 11,
};

/// Forks and execs. Returns 0 and sets *pid on success; otherwise returns the failed
/// step and sets *err to its errno (the child, if any, has already exited).
int muster_spawn(const muster_spawn_config *config, pid_t *pid, int *err);

/// Forks the guardian: a tiny process in its own session that reads "+PGID\n" and
/// "-PGID\n" lines from command_fd and, when the pipe closes (muster exited or was
/// SIGKILLed), sends SIGKILL to every process group still registered. Returns its pid,
/// or -1 with errno set.
pid_t muster_start_guardian(int command_fd);

/// Makes orphaned descendants re-parent to this process, so they are reaped here.
int muster_set_child_subreaper(void);

/// pipe2(O_CLOEXEC), which Glibc's Swift overlay does not export.
int muster_pipe_cloexec(int fds[2]);

/// Grows a pipe's kernel buffer (F_SETPIPE_SZ) to cut wake-ups for chatty services.
int muster_set_pipe_size(int fd, int size);
/// epoll for FDReactor: create (close-on-exec), watch fd for input under a token,
/// stop watching, and wait (forever, EINTR retried) for up to 64 tokens.
int muster_epoll_create(void);
int muster_epoll_add(int epfd, int fd, unsigned long long token);
int muster_epoll_del(int epfd, int fd);
int muster_epoll_wait(int epfd, unsigned long long *tokens, int max);
#endif
