// `up -d` without a second program start: fork the supervisor straight from the
// command, while it is still single-threaded.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "muster_shims.h"

int muster_thread_count(void) {
    muster_proc_stat stat;
    return muster_read_stat(getpid(), &stat) == 0 ? stat.threads : -1;
}

static void close_from(int lowest) {
#ifdef SYS_close_range
    if (syscall(SYS_close_range, lowest, ~0U, 0) == 0) return;
#endif
    long highest = sysconf(_SC_OPEN_MAX);
    for (int fd = lowest; fd < highest; fd++) close(fd);
}

pid_t muster_fork_detached(int report_fd, int log_fd) {
    if (muster_thread_count() != 1) {
        errno = EAGAIN;
        return -2;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0) return pid;
    // The child: a session of its own, stdin from /dev/null, stdout and stderr to
    // the log, the report pipe on fd 3, nothing else.
    setsid();
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0 && null_fd != 0) {
        dup2(null_fd, 0);
        close(null_fd);
    }
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    if (report_fd != 3) dup2(report_fd, 3);
    close_from(4);
    return 0;
}

int muster_wait_for_exit(pid_t pid, int timeout_ms) {
#ifdef SYS_pidfd_open
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0) return errno == ESRCH ? 1 : -1;
    struct pollfd entry = { .fd = fd, .events = POLLIN };
    int ready;
    do { ready = poll(&entry, 1, timeout_ms); } while (ready < 0 && errno == EINTR);
    close(fd);
    return ready > 0 ? 1 : 0;
#else
    (void)pid; (void)timeout_ms;
    return -1;
#endif
}

int muster_signal_instance(pid_t pid, unsigned long long start_time, int sig) {
    // The pidfd pins the process: once it is open, the start time read below is
    // that of the process the signal reaches, even if the pid is reused meanwhile.
#if defined(SYS_pidfd_open) && defined(SYS_pidfd_send_signal)
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0) return errno == ESRCH ? 1 : -1;
    muster_proc_stat stat;
    int result = 1;
    if (muster_read_stat(pid, &stat) == 0 && stat.start_time == start_time) {
        result = syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) == 0 ? 0 : (errno == ESRCH ? 1 : -1);
    }
    close(fd);
    return result;
#else
    muster_proc_stat stat;
    if (muster_read_stat(pid, &stat) != 0 || stat.start_time != start_time) return 1;
    return kill(pid, sig) == 0 ? 0 : (errno == ESRCH ? 1 : -1);
#endif
}

int muster_shm_attached(int shmid) {
    struct shmid_ds info;
    if (shmctl(shmid, IPC_STAT, &info) != 0) return errno == EINVAL || errno == EIDRM ? 0 : -1;
    return (int)info.shm_nattch;
}
