#ifndef MUSTER_SHIMS_H
#define MUSTER_SHIMS_H

#include <stddef.h>
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
/// dup3(oldfd, newfd, O_CLOEXEC): a rotated log file put under the same descriptor number.
int muster_dup3_cloexec(int oldfd, int newfd);
int muster_set_pipe_size(int fd, int size);
/// epoll for FDReactor: create (close-on-exec), watch fd for input under a token,
/// stop watching, and wait (forever, EINTR retried) for up to 64 tokens.
int muster_epoll_create(void);
int muster_epoll_add(int epfd, int fd, unsigned long long token);
int muster_epoll_del(int epfd, int fd);
int muster_epoll_wait(int epfd, unsigned long long *tokens, int max);
/// inotify for FileWatcher: open (non-blocking, close-on-exec); watch one folder's
/// entries (returns the watch descriptor or -errno: -ENOSPC when the kernel's limit
/// of watches is reached); stop watching; read raw events (or -errno); and the flags
/// an event's mask is tested against.
int muster_inotify_open(void);
int muster_inotify_watch_folder(int fd, const char *path);
int muster_inotify_unwatch(int fd, int wd);
long muster_inotify_read(int fd, void *buffer, long size);
unsigned muster_inotify_flag_is_folder(void);
unsigned muster_inotify_flag_self_gone(void);
unsigned muster_inotify_flag_overflow(void);
/// TLS over a connected non-blocking socket through the system's OpenSSL 3, loaded on
/// first use (see tls.c). open checks the peer's certificate against the system's trusted
/// ones (or only those in ca_file) and the host name or IP; NULL with a message when it
/// cannot start. handshake, read and write return 1 or the bytes moved, 0 at the peer's
/// close_notify, MUSTER_TLS_WANT_READ or _WRITE to poll and call again, or
/// MUSTER_TLS_FAILED with a message.
#define MUSTER_TLS_WANT_READ (-2)
#define MUSTER_TLS_WANT_WRITE (-3)
#define MUSTER_TLS_FAILED (-1)
void *muster_tls_open(int fd, const char *host, int host_is_ip, const char *ca_file, char *error, size_t capacity);
long muster_tls_handshake(void *tls, char *error, size_t capacity);
long muster_tls_read(void *tls, void *buffer, int size, char *error, size_t capacity);
long muster_tls_write(void *tls, const void *buffer, int size, char *error, size_t capacity);
void muster_tls_close(void *tls);

/// The fields muster uses from /proc/PID/stat.
typedef struct {
    int pid;
    char state;
    int ppid;
    int pgrp;
    int session;
    unsigned long long start_time;
    /// The kernel's PF_EXITING: the process is on its way out (files closed, not yet a zombie).
    int exiting;
    int threads;
    char name[64];
} muster_proc_stat;

/// Reads /proc/PID/stat; 0 on success, -1 when the process is gone or unreadable.
int muster_read_stat(int pid, muster_proc_stat *out);

/// Threads of this process (from /proc/self/stat), or -1.
int muster_thread_count(void);
/// Forks a detached supervisor from a still single-threaded process: in the child
/// (returns 0) setsid, stdin from /dev/null, stdout and stderr to log_fd, report_fd
/// as fd 3 and every other descriptor closed. Returns the child's pid to the parent,
/// -2 when the process already has threads (use exec instead), -1 when fork failed.
pid_t muster_fork_detached(int report_fd, int log_fd);
/// Waits until pid has exited (a zombie counts) with a pidfd: 1 exited (or no such
/// process), 0 timed out, -1 pidfds unsupported (the caller polls instead).
int muster_wait_for_exit(pid_t pid, int timeout_ms);
/// Sends sig to the process pid only if it is still the instance that started at
/// start_time (clock ticks since boot), through a pidfd so a reused pid is never hit:
/// 0 sent, 1 that instance is gone, -1 failed.
int muster_signal_instance(pid_t pid, unsigned long long start_time, int sig);
/// How many processes have the SysV shared memory segment shmid attached:
/// 0 when none or when the segment is gone, -1 when it cannot be read.
int muster_shm_attached(int shmid);
/// The git commit of the build ("unknown" unless scripts/install or scripts/package
/// wrote build_info.h), for `muster --version`.
const char *muster_build_commit(void);

/// Kernel features muster relies on, for `muster doctor`: 1 when available.
int muster_has_pidfd(void);
int muster_has_child_subreaper(void);
int muster_has_pdeathsig(void);
/// One element event of an XML walk: kind 1 starts an element (with its attributes),
/// 2 ends it. Return non-zero to stop the walk.
typedef int (*muster_xml_callback)(void *context, int kind, const char *name, const char **attribute_names,
                                   const char **attribute_values, int attribute_count, int line);

/// Walks an XML document with libxml2, loaded on first use (see xml.c): 0 done,
/// 1 malformed (problem, line and column say where), 2 stopped by the callback,
/// -1 libxml2 could not be loaded. No network and no external entities are used.
int muster_xml_walk(const char *data, size_t length, muster_xml_callback callback, void *context,
                    char *problem, size_t problem_capacity, int *problem_line, int *problem_column);
/// Asks ext2/3/4 to place each folder made directly in `path` the way it places
/// top-level folders: in a block group of its own choosing, spread over the disk,
/// rather than beside `path` (FS_TOPDIR_FL, what `chattr +T` sets). 0 when set (or set
/// already), -1 with errno when the file system has no such flag or refuses it.
int muster_spread_subfolders(const char *path);
/// 1 when `path` has that flag, 0 when not, -1 when it cannot be read.
int muster_subfolders_spread(const char *path);
/// 1 when `path` is on ext2, ext3 or ext4, 0 when on another file system, -1 when unknown.
int muster_on_ext_file_system(const char *path);
/// Gives everything under `path` (links not followed) to uid:gid, changing only what
/// another owns: a walk of lstat calls where a copy already has the right owner.
/// 0 when all is owned so, -1 when something could not be read or changed.
int muster_own_tree(const char *path, uid_t uid, gid_t gid);
#endif
