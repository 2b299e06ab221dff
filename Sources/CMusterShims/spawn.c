#define _GNU_SOURCE
#include "muster_shims.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/// Marks every descriptor from `from` up as close-on-exec, so nothing muster holds
/// (other services' pipes, sockets, log files) leaks into a child.
static void cloexec_from(int from) {
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)from, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
#endif
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536) max = 65536;
    for (int fd = from; fd < max; fd++) {
        int flags = fcntl(fd, F_GETFD);
        if (flags >= 0 && !(flags & FD_CLOEXEC)) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    }
}

static void reset_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        sigaction(sig, &sa, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static void report_and_exit(int fd, int step) {
    int payload[2] = { step, errno };
    ssize_t ignored = write(fd, payload, sizeof payload);
    (void)ignored;
    _exit(127);
}

int muster_spawn(const muster_spawn_config *c, pid_t *pid_out, int *err_out) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) { *err_out = errno; return MUSTER_STEP_PIPE; }

    pid_t pid = fork();
    if (pid < 0) {
        *err_out = errno;
        close(report[0]);
        close(report[1]);
        return MUSTER_STEP_FORK;
    }
    if (pid == 0) {
        int w = report[1];
        reset_signals();
        if (c->new_session && setsid() < 0) report_and_exit(w, MUSTER_STEP_SETSID);
        // Move the report pipe out of the way of 0..3 before the dup2s.
        if (w <= 3) {
            int moved = fcntl(w, F_DUPFD_CLOEXEC, 4);
            if (moved < 0) report_and_exit(w, MUSTER_STEP_DUP);
            w = moved;
        }
        int fds[3] = { c->stdin_fd, c->stdout_fd, c->stderr_fd };
        for (int i = 0; i < 3; i++) {
            if (fds[i] < 0) continue;
            if (fds[i] == i) {
                int flags = fcntl(i, F_GETFD);
                if (flags >= 0) fcntl(i, F_SETFD, flags & ~FD_CLOEXEC);
            } else if (dup2(fds[i], i) < 0) {
                report_and_exit(w, MUSTER_STEP_DUP);
            }
        }
        if (c->fd3 >= 0) {
            if (c->fd3 == 3) {
                int flags = fcntl(3, F_GETFD);
                if (flags >= 0) fcntl(3, F_SETFD, flags & ~FD_CLOEXEC);
            } else if (dup2(c->fd3, 3) < 0) {
                report_and_exit(w, MUSTER_STEP_DUP);
            }
            cloexec_from(4);
        } else {
            cloexec_from(3);
        }
        if (c->cwd && chdir(c->cwd) != 0) report_and_exit(w, MUSTER_STEP_CHDIR);
        if (c->drop_privileges) {
            if (setgroups(0, NULL) != 0) report_and_exit(w, MUSTER_STEP_SETGROUPS);
            if (setgid(c->gid) != 0) report_and_exit(w, MUSTER_STEP_SETGID);
            if (setuid(c->uid) != 0) report_and_exit(w, MUSTER_STEP_SETUID);
        }
        // After the credential change, which clears the parent-death signal.
        if (c->parent_death_signal > 0) {
            if (prctl(PR_SET_PDEATHSIG, c->parent_death_signal) != 0) report_and_exit(w, MUSTER_STEP_PDEATHSIG);
            if (getppid() != c->expected_parent) { errno = ESRCH; report_and_exit(w, MUSTER_STEP_PARENT_GONE); }
        }
        execve(c->path, c->argv, c->envp);
        report_and_exit(w, MUSTER_STEP_EXEC);
    }

    close(report[1]);
    int payload[2] = { 0, 0 };
    ssize_t got;
    do { got = read(report[0], payload, sizeof payload); } while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got == (ssize_t)sizeof payload) {
        *err_out = payload[1];
        *pid_out = pid;  // already exited with 127; the caller's reaper collects it
        return payload[0];
    }
    *pid_out = pid;
    return 0;
}

int muster_set_child_subreaper(void) {
    return prctl(PR_SET_CHILD_SUBREAPER, 1);
}

int muster_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

int muster_set_pipe_size(int fd, int size) {
    return fcntl(fd, F_SETPIPE_SZ, size);
}
