// Thin inotify wrappers for FileWatcher+Linux.swift: Glibc's Swift overlay does not
// export <sys/inotify.h>. Events are decoded in Swift from the raw buffer.
#include "muster_shims.h"

#include <errno.h>
#include <sys/inotify.h>
#include <unistd.h>

int muster_inotify_open(void) {
    return inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
}

int muster_inotify_watch_folder(int fd, const char *path) {
    // Entries written, created, moved in or out, or deleted; the folder itself going away.
    uint32_t mask = IN_CLOSE_WRITE | IN_MODIFY | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO
        | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK;
    int wd = inotify_add_watch(fd, path, mask);
    return wd < 0 ? -errno : wd;
}

int muster_inotify_unwatch(int fd, int wd) {
    return inotify_rm_watch(fd, wd);
}

long muster_inotify_read(int fd, void *buffer, long size) {
    long count;
    do { count = read(fd, buffer, (size_t)size); } while (count < 0 && errno == EINTR);
    return count < 0 ? -errno : count;
}

unsigned muster_inotify_flag_is_folder(void) { return IN_ISDIR; }
unsigned muster_inotify_flag_self_gone(void) { return IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED; }
unsigned muster_inotify_flag_overflow(void) { return IN_Q_OVERFLOW; }
