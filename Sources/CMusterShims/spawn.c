#define _GNU_SOURCE
#include "muster_shims.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <sched.h>
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

/// The child shares the spawning thread's memory (CLONE_VM | CLONE_VFORK, as
/// posix_spawn does), so it reports a failed step by writing here before _exit.
typedef struct {
    const muster_spawn_config *config;
    volatile int step;
    volatile int err;
} spawn_state;

static void fail_step(spawn_state *state, int step) {
    state->err = errno;
    state->step = step;
    _exit(127);
}

/// Runs in the child until execve. It shares the address space of muster, so it
/// only makes raw system calls: glibc's setuid() and friends would signal muster's
/// own threads to change their credentials too.
static int child_main(void *argument) {
    spawn_state *state = argument;
    const muster_spawn_config *c = state->config;
    reset_signals();
    if (c->new_session && setsid() < 0) fail_step(state, MUSTER_STEP_SETSID);
    int fds[3] = { c->stdin_fd, c->stdout_fd, c->stderr_fd };
    // A source descriptor among 0..3 would be overwritten by an earlier dup2.
    for (int i = 0; i < 3; i++) {
        if (fds[i] >= 0 && fds[i] <= 3 && fds[i] != i) {
            int moved = fcntl(fds[i], F_DUPFD_CLOEXEC, 4);
            if (moved < 0) fail_step(state, MUSTER_STEP_DUP);
            for (int j = i + 1; j < 3; j++) if (fds[j] == fds[i]) fds[j] = moved;
            fds[i] = moved;
        }
    }
    int fd3 = c->fd3;
    if (fd3 >= 0 && fd3 < 3) {
        fd3 = fcntl(fd3, F_DUPFD_CLOEXEC, 4);
        if (fd3 < 0) fail_step(state, MUSTER_STEP_DUP);
    }
    for (int i = 0; i < 3; i++) {
        if (fds[i] < 0) continue;
        if (fds[i] == i) {
            int flags = fcntl(i, F_GETFD);
            if (flags >= 0) fcntl(i, F_SETFD, flags & ~FD_CLOEXEC);
        } else if (dup2(fds[i], i) < 0) {
            fail_step(state, MUSTER_STEP_DUP);
        }
    }
    if (fd3 >= 0) {
        if (fd3 == 3) {
            int flags = fcntl(3, F_GETFD);
            if (flags >= 0) fcntl(3, F_SETFD, flags & ~FD_CLOEXEC);
        } else if (dup2(fd3, 3) < 0) {
            fail_step(state, MUSTER_STEP_DUP);
        }
        cloexec_from(4);
    } else {
        cloexec_from(3);
    }
    if (c->cwd && chdir(c->cwd) != 0) fail_step(state, MUSTER_STEP_CHDIR);
    if (c->drop_privileges) {
        if (syscall(SYS_setgroups, 0, NULL) != 0) fail_step(state, MUSTER_STEP_SETGROUPS);
        if (syscall(SYS_setresgid, c->gid, c->gid, c->gid) != 0) fail_step(state, MUSTER_STEP_SETGID);
        if (syscall(SYS_setresuid, c->uid, c->uid, c->uid) != 0) fail_step(state, MUSTER_STEP_SETUID);
    }
    // After the credential change, which clears the parent-death signal.
    if (c->parent_death_signal > 0) {
        if (prctl(PR_SET_PDEATHSIG, c->parent_death_signal) != 0) fail_step(state, MUSTER_STEP_PDEATHSIG);
        if (getppid() != c->expected_parent) { errno = ESRCH; fail_step(state, MUSTER_STEP_PARENT_GONE); }
    }
    execve(c->path, c->argv, c->envp);
    fail_step(state, MUSTER_STEP_EXEC);
    return 127;
}

/// The child's stack. Spawns happen one at a time (one spawner thread, and the
/// parent waits in clone until the child has exec'd or exited), so one is enough.
static char child_stack[256 * 1024] __attribute__((aligned(64)));
static pthread_mutex_t child_stack_lock = PTHREAD_MUTEX_INITIALIZER;

int muster_spawn(const muster_spawn_config *c, pid_t *pid_out, int *err_out) {
    spawn_state state = { c, 0, 0 };
    // No signal handler of muster's may run in the child, which shares its memory.
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pthread_mutex_lock(&child_stack_lock);
    // vfork semantics: no copy of muster's page tables (a fork of a large process
    // and the exec that throws the copy away cost milliseconds per service).
    pid_t pid = clone(child_main, child_stack + sizeof child_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &state);
    int clone_errno = errno;
    pthread_mutex_unlock(&child_stack_lock);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (pid < 0) {
        *err_out = clone_errno;
        return MUSTER_STEP_FORK;
    }
    *pid_out = pid;  // on a failed step it has already exited with 127; the caller's reaper collects it
    if (state.step != 0) {
        *err_out = state.err;
        return state.step;
    }
    return 0;
}

int muster_set_child_subreaper(void) {
    return prctl(PR_SET_CHILD_SUBREAPER, 1);
}

int muster_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

int muster_dup3_cloexec(int oldfd, int newfd) {
    return dup3(oldfd, newfd, O_CLOEXEC);
}

int muster_set_pipe_size(int fd, int size) {
    return fcntl(fd, F_SETPIPE_SZ, size);
}
