/*
 * A download that finishes anyway: retries with backoff, resume where the
 * connection dropped, mirrors in order, and a size and SHA-256 that the
 * file must match before it takes the target's place.
 *
 *   resilient SHA256 SIZE FILENAME DIRECTORY URL [MIRROR...]
 *
 * Exits 0 when the verified file is in DIRECTORY/FILENAME, 1 otherwise.
 * Uses only netdl.h.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "netdl.h"

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: %s SHA256 SIZE FILENAME DIRECTORY URL [MIRROR...]\n", argv[0]);
        return 2;
    }
    if (!net_set_directory(NET_DIR_DOCUMENTS, argv[4])) {
        fprintf(stderr, "bad directory: %s\n", argv[4]);
        return 2;
    }

    net_options opts = net_options_init();
    opts.max_retries = 5;                        /* per URL; backoff 1 s doubling to 30 s */
    opts.retry_delay_ms = 50;                    /* a faster backoff than the default */
    opts.expected_size = strtoull(argv[2], NULL, 10);
    opts.sha256 = argv[1];                       /* hex; checked while the file is written */
    opts.mirrors = (const char *const *)&argv[6]; /* tried in order after URL */
    opts.mirror_count = (size_t)(argc - 6);

    net_params params = {0};
    params.progress = 1;
    params.options = &opts; /* copied before net_download returns */

    net_id id = net_download(argv[5], "GET", &params, argv[3], NET_DIR_DOCUMENTS);
    for (;;) { /* the game loop: poll once per frame */
        net_event ev[16];
        size_t n = net_poll(ev, 16);
        for (size_t i = 0; i < n; i++) {
            if (ev[i].id != id) {
                continue;
            }
            if (ev[i].phase == NET_PHASE_BEGAN) {
                printf("began attempt=%u from=%lld of=%lld%s\n", ev[i].attempt,
                       (long long)ev[i].bytes_transferred, (long long)ev[i].bytes_estimated,
                       (ev[i].flags & NET_EVENT_RESUMED) ? " resumed" : "");
            } else if (ev[i].phase == NET_PHASE_ENDED) {
                int ok = !ev[i].is_error && ev[i].status >= 200 && ev[i].status < 300;
                printf("ended status=%d attempt=%u bytes=%lld received=%lld url=%s%s%s\n",
                       ev[i].status, ev[i].attempt, (long long)ev[i].bytes_transferred,
                       (long long)ev[i].bytes_received, ev[i].url,
                       ok ? "" : " error=", ok ? "" : net_error_name(ev[i].error_code));
                return ok ? 0 : 1;
            }
        }
        struct timespec frame = {0, 16 * 1000 * 1000};
        nanosleep(&frame, NULL);
    }
}
