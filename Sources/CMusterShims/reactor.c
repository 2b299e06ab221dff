// Thin epoll wrappers for FDReactor: Glibc's Swift overlay does not export epoll,
// and epoll_event is packed on x86_64, which Swift does not import faithfully.
#include "muster_shims.h"

#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>

int muster_epoll_create(void) {
    return epoll_create1(EPOLL_CLOEXEC);
}

int muster_epoll_add(int epfd, int fd, unsigned long long token) {
    struct epoll_event event;
    event.events = EPOLLIN | EPOLLHUP | EPOLLERR;
    event.data.u64 = token;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event);
}

int muster_epoll_del(int epfd, int fd) {
    struct epoll_event unused;
    return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &unused);
}

int muster_epoll_wait(int epfd, unsigned long long *tokens, int max) {
    struct epoll_event events[64];
    if (max > 64) max = 64;
    int count;
    do { count = epoll_wait(epfd, events, max, -1); } while (count < 0 && errno == EINTR);
    for (int i = 0; i < count; i++) tokens[i] = events[i].data.u64;
    return count;
}
