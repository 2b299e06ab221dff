// Where ext4 puts a new folder (see FolderPlacement+Linux.swift for why muster cares), and
// who owns a copied cluster.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "muster_shims.h"

static int open_folder(const char *path) { return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK); }

int muster_spread_subfolders(const char *path) {
    int fd = open_folder(path);
    if (fd < 0) return -1;
    int flags = 0;
    int result = ioctl(fd, FS_IOC_GETFLAGS, &flags);
    if (result == 0 && !(flags & FS_TOPDIR_FL)) {
        flags |= FS_TOPDIR_FL;
        result = ioctl(fd, FS_IOC_SETFLAGS, &flags);
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return result == 0 ? 0 : -1;
}

int muster_subfolders_spread(const char *path) {
    int fd = open_folder(path);
    if (fd < 0) return -1;
    int flags = 0;
    int result = ioctl(fd, FS_IOC_GETFLAGS, &flags);
    int saved = errno;
    close(fd);
    errno = saved;
    if (result != 0) return -1;
    return (flags & FS_TOPDIR_FL) ? 1 : 0;
}

int muster_on_ext_file_system(const char *path) {
    struct statfs info;
    if (statfs(path, &info) != 0) return -1;
    return info.f_type == 0xEF53 ? 1 : 0;  // EXT2_SUPER_MAGIC, the same for ext3 and ext4
}

static _Thread_local uid_t own_uid;
static _Thread_local gid_t own_gid;
static _Thread_local int own_failures;

static int own_entry(const char *path, const struct stat *info, int type, struct FTW *where) {
    (void)where;
    if (type == FTW_NS || type == FTW_DNR) {
        own_failures++;
        return 0;
    }
    if ((info->st_uid != own_uid || info->st_gid != own_gid) && lchown(path, own_uid, own_gid) != 0) own_failures++;
    return 0;
}

int muster_own_tree(const char *path, uid_t uid, gid_t gid) {
    own_uid = uid;
    own_gid = gid;
    own_failures = 0;
    if (nftw(path, own_entry, 16, FTW_PHYS) != 0) return -1;
    return own_failures == 0 ? 0 : -1;
}
