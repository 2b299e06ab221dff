// The commit muster was built from. scripts/install and scripts/package write
// build_info.h (ignored by git) before a release build; other builds say "unknown".
#include "muster_shims.h"

#if __has_include("build_info.h")
#include "build_info.h"
#endif

#ifndef MUSTER_BUILD_COMMIT
#define MUSTER_BUILD_COMMIT "unknown"
#endif

const char *muster_build_commit(void) { return MUSTER_BUILD_COMMIT; }

#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <errno.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

int muster_has_pidfd(void) {
    long fd = syscall(SYS_pidfd_open, getpid(), 0);
    if (fd < 0) return 0;
    close((int)fd);
    return 1;
}

int muster_has_child_subreaper(void) {
    int value = 0;
    return prctl(PR_GET_CHILD_SUBREAPER, &value, 0, 0, 0) == 0;
}

int muster_has_pdeathsig(void) {
    int value = 0;
    return prctl(PR_GET_PDEATHSIG, &value, 0, 0, 0) == 0;
}
