// /proc/PID/stat, read and parsed without allocating: every stop and every leak
// check scans all of /proc, so this is on the path of `muster down`.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "muster_shims.h"

int muster_read_stat(int pid, muster_proc_stat *out) {
    char path[32];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char buffer[1024];
    ssize_t length = 0;
    for (;;) {
        ssize_t got = read(fd, buffer + length, sizeof buffer - 1 - (size_t)length);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        length += got;
        if ((size_t)length >= sizeof buffer - 1) break;
    }
    close(fd);
    if (length <= 0) return -1;
    buffer[length] = 0;
    // "PID (COMM) S PPID PGRP SESSION ...": COMM may hold spaces and ')'.
    char *open_paren = strchr(buffer, '(');
    char *close_paren = strrchr(buffer, ')');
    if (open_paren == NULL || close_paren == NULL || close_paren < open_paren || close_paren[1] != ' ') return -1;
    size_t name_length = (size_t)(close_paren - open_paren - 1);
    if (name_length >= sizeof out->name) name_length = sizeof out->name - 1;
    memcpy(out->name, open_paren + 1, name_length);
    out->name[name_length] = 0;
    out->pid = atoi(buffer);
    char *cursor = close_paren + 2;
    out->state = *cursor;
    // Fields after the state: ppid (4), pgrp (5), session (6), flags (9), num_threads (20),
    // starttime (22).
    unsigned long long values[20] = {0};
    for (int field = 4; field <= 22; field++) {
        cursor = strchr(cursor, ' ');
        if (cursor == NULL) return -1;
        cursor++;
        values[field - 4] = strtoull(cursor, NULL, 10);
        if (*cursor == '-') values[field - 4] = (unsigned long long)strtoll(cursor, NULL, 10);
    }
    out->ppid = (int)values[0];
    out->pgrp = (int)values[1];
    out->session = (int)values[2];
    out->exiting = (values[5] & 0x4) != 0;  // PF_EXITING
    out->threads = (int)values[16];
    out->start_time = values[18];
    return 0;
}
