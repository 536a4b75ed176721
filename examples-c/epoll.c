/*
 * netdl in an event loop with no frames: downloads the URLs on the command
 * line, woken only by epoll on net_event_fd() (no sleep, no frame loop).
 *
 *   epoll DIRECTORY URL...
 *
 * URL number i (from 0) is saved as DIRECTORY/i.bin. Prints one line per
 * download as it ends, then a summary; exits 0 when every download
 * arrived with a 2xx status, 1 otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "netdl.h"

enum { CAPACITY = 32 };

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s DIRECTORY URL...\n", argv[0]);
        return 2;
    }
    if (!net_set_directory(NET_DIR_DOCUMENTS, argv[1])) {
        fprintf(stderr, "bad directory: %s\n", argv[1]);
        return 2;
    }

    /* The fd is netdl's: never read or close it; it lives until net_shutdown. */
    int fd = net_event_fd();
    if (fd < 0) {
        fprintf(stderr, "net_event_fd: %s\n", strerror(errno));
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event interest = {.events = EPOLLIN}; /* level-triggered */
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &interest) != 0) {
        perror("epoll");
        return 1;
    }

    int files = argc - 2;
    for (int i = 0; i < files; i++) {
        char name[32];
        snprintf(name, sizeof name, "%d.bin", i);
        net_params params = {0};
        params.user_data = (void *)(argv + 2 + i); /* echoed in its events */
        net_download(argv[2 + i], "GET", &params, name, NET_DIR_DOCUMENTS);
    }

    int ended = 0, failed = 0, wakeups = 0;
    while (ended < files) {
        struct epoll_event ready;
        /* Blocks until events wait. A server's loop would watch its
         * sockets here too; 60 s only bounds this tool's wait. */
        int n = epoll_wait(ep, &ready, 1, 60 * 1000);
        if (n < 0 && errno == EINTR)
            continue;
        if (n != 1) {
            fprintf(stderr, "epoll_wait: %s\n", n == 0 ? "nothing for 60 s" : strerror(errno));
            return 1;
        }
        wakeups++;
        /* Drain: a poll that returns less than its capacity has left the
         * queue empty and the fd unreadable (with EPOLLET as well). */
        size_t got;
        do {
            net_event ev[CAPACITY];
            got = net_poll(ev, CAPACITY);
            for (size_t k = 0; k < got; k++) {
                const net_event *e = &ev[k];
                if (e->phase != NET_PHASE_ENDED)
                    continue;
                int i = (int)((char **)e->user_data - (argv + 2));
                ended++;
                if (e->is_error) {
                    failed++;
                    printf("failed %d %s %s\n", i, net_error_name(e->error_code), e->error);
                } else {
                    failed += e->status < 200 || e->status > 299;
                    printf("ended %d status=%d bytes=%lld\n", i, e->status,
                           (long long)e->bytes_transferred);
                }
            }
        } while (got == CAPACITY);
    }
    printf("done files=%d failed=%d wakeups=%d\n", files, failed, wakeups);

    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL); /* before net_shutdown closes fd */
    close(ep);
    net_shutdown();
    return failed ? 1 : 0;
}
