/*
 * Minimal netdl example: download one file while a "game loop" polls once
 * per 16 ms frame, printing each phase.
 *
 *   download URL FILENAME [DIRECTORY]
 *
 * The file is saved as DIRECTORY/FILENAME (default: NET_DIR_DOCUMENTS).
 * Exits 0 when the file arrived with a 2xx status, 1 otherwise.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <stdio.h>
#include <time.h>

#include "netdl.h"

_Static_assert(sizeof(net_params) == 160, "net_params size is pinned");
_Static_assert(sizeof(net_event) == 192, "net_event size is pinned");

static void sleep_one_frame(void) {
    struct timespec frame = {0, 16 * 1000 * 1000};
    nanosleep(&frame, NULL);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s URL FILENAME [DIRECTORY]\n", argv[0]);
        return 2;
    }
    if (argc > 3 && !net_set_directory(NET_DIR_DOCUMENTS, argv[3])) {
        fprintf(stderr, "bad directory: %s\n", argv[3]);
        return 2;
    }

    net_params params = {0}; /* zero means default for every field */
    params.progress = true;
    params.timeout = 10;
    net_id id = net_download(argv[1], "GET", &params, argv[2], NET_DIR_DOCUMENTS);
    printf("netdl %s: request %llu\n", net_version(), (unsigned long long)id);

    int result = -1;
    while (result < 0) { /* the game's frame loop */
        net_event events[16];
        size_t n = net_poll(events, 16);
        for (size_t i = 0; i < n; i++) {
            const net_event *e = &events[i];
            switch (e->phase) {
            case NET_PHASE_BEGAN:
                printf("began status=%d estimated=%lld\n", e->status, (long long)e->bytes_estimated);
                break;
            case NET_PHASE_PROGRESS:
                printf("progress %lld/%lld\n", (long long)e->bytes_transferred,
                       (long long)e->bytes_estimated);
                break;
            case NET_PHASE_ENDED:
                if (e->is_error) {
                    printf("ended error=%s message=%s\n", net_error_name(e->error_code), e->error);
                    result = 1;
                } else {
                    printf("ended status=%d bytes=%lld path=%s\n", e->status,
                           (long long)e->bytes_transferred, e->path);
                    result = (e->status >= 200 && e->status < 300) ? 0 : 1;
                }
                break;
            }
        }
        if (result < 0)
            sleep_one_frame();
    }
    net_shutdown();
    return result;
}
