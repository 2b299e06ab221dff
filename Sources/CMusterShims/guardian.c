#define _GNU_SOURCE
#include "muster_shims.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_GROUPS 8192

/// The guardian runs between fork and _exit without exec, so it touches only
/// async-signal-safe calls and static memory: no malloc, no stdio.
static pid_t groups[MAX_GROUPS];
static int group_count;

static void close_all_but(int keep) {
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536) max = 65536;
#ifdef SYS_close_range
    int ok = 1;
    if (keep > 0 && syscall(SYS_close_range, 0U, (unsigned)(keep - 1), 0U) != 0) ok = 0;
    if (ok && syscall(SYS_close_range, (unsigned)(keep + 1), ~0U, 0U) == 0) return;
#endif
    for (int fd = 0; fd < max; fd++) if (fd != keep) close(fd);
}

static void apply(char op, long value) {
    if (value <= 1) return;
    pid_t pgid = (pid_t)value;
    if (op == '+') {
        for (int i = 0; i < group_count; i++) if (groups[i] == pgid) return;
        if (group_count < MAX_GROUPS) groups[group_count++] = pgid;
    } else if (op == '-') {
        for (int i = 0; i < group_count; i++) {
            if (groups[i] == pgid) { groups[i] = groups[--group_count]; return; }
        }
    }
}

static void guard(int fd) {
    char buf[4096];
    char op = 0;
    long value = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        for (ssize_t i = 0; i < n; i++) {
            char ch = buf[i];
            if (ch == '+' || ch == '-') { op = ch; value = 0; }
            else if (ch >= '0' && ch <= '9') value = value * 10 + (ch - '0');
            else if (ch == '\n') { apply(op, value); op = 0; value = 0; }
        }
    }
    for (int i = 0; i < group_count; i++) {
        kill(-groups[i], SIGKILL);
        kill(groups[i], SIGKILL);
    }
    _exit(0);
}

pid_t muster_start_guardian(int command_fd) {
    pid_t pid = fork();
    if (pid != 0) return pid;
    setsid();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGPIPE, &sa, NULL);
    sigaction(SIGQUIT, &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    prctl(PR_SET_NAME, "muster-guardian");
    close_all_but(command_fd);
    guard(command_fd);
    _exit(0);
}
