/*
 * Downloads that survive the app: what a game does so that its downloads
 * continue after the OS suspended it, or killed it.
 *
 *   persist DIRECTORY [URL...]
 *
 * At start it restores what an earlier run left unfinished (net_restore);
 * a run with no earlier downloads to restore starts one persisted download
 * per URL, tagged "level-N" (the tag, not a pointer, is how a later run
 * knows which level a download is for). Once a download has received
 * 1 MiB it "goes to the background" for 300 ms: net_suspend, then
 * net_resume, as a game does on SDL_APP_WILLENTERBACKGROUND /
 * SDL_APP_DIDENTERFOREGROUND (onPause / onResume on Android). Files land
 * in DIRECTORY/levels/. Exits 0 when every download ended with its file,
 * 1 otherwise. Uses only netdl.h.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netdl.h"

#define MAX_LEVELS 16

/* The game's own objects: one per level to download. */
typedef struct {
    net_id download; /* 0: not downloading */
    int done;
} Level;

static Level levels[MAX_LEVELS];

/* The level a tag names ("level-3" is levels[3]), or NULL. */
static Level *level_by_tag(const char *tag) {
    int n;
    if (tag == NULL || sscanf(tag, "level-%d", &n) != 1 || n < 0 || n >= MAX_LEVELS) {
        return NULL;
    }
    return &levels[n];
}

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

int main(int argc, char **argv) {
    if (argc < 2 || argc - 2 > MAX_LEVELS) {
        fprintf(stderr, "usage: %s DIRECTORY [URL...] (at most %d)\n", argv[0], MAX_LEVELS);
        return 2;
    }
    /* The journal lives in NET_DIR_APPLICATION_SUPPORT: set the folders
       (or net_set_app_name) before net_restore. */
    char support[4096];
    snprintf(support, sizeof support, "%s/support", argv[1]);
    if (!net_set_directory(NET_DIR_DOCUMENTS, argv[1]) ||
        !net_set_directory(NET_DIR_APPLICATION_SUPPORT, support)) {
        fprintf(stderr, "bad directory: %s\n", argv[1]);
        return 2;
    }

    /* On start: whatever an earlier run left unfinished continues. Each
       one's first event is a `began` with NET_EVENT_RESTORED and its tag. */
    size_t pending = net_restore();
    printf("restored %zu\n", pending);
    if (pending == 0) {
        for (int i = 2; i < argc; i++) {
            char tag[32], filename[64];
            snprintf(tag, sizeof tag, "level-%d", i - 2);
            snprintf(filename, sizeof filename, "levels/%d.pak", i - 2);
            net_options opts = net_options_init();
            opts.persist = 1;    /* journalled: survives a kill */
            opts.tag = tag;      /* copied before net_download returns */
            opts.max_retries = 5;
            net_params params = {0};
            params.progress = 1;
            params.options = &opts;
            level_by_tag(tag)->download =
                net_download(argv[i], "GET", &params, filename, NET_DIR_DOCUMENTS);
            pending++;
        }
    }

    int ok = 1, went_to_background = 0;
    while (pending > 0) { /* the game loop: poll once per frame */
        net_event ev[16];
        size_t n = net_poll(ev, 16);
        for (size_t i = 0; i < n; i++) {
            Level *level = level_by_tag(ev[i].tag);
            if (level == NULL) {
                continue;
            }
            if (ev[i].flags & NET_EVENT_RESTORED && ev[i].phase == NET_PHASE_BEGAN) {
                level->download = ev[i].id; /* the new id of a restored download */
                printf("began %s restored from=%lld\n", ev[i].tag,
                       (long long)ev[i].bytes_transferred);
            }
            if (ev[i].phase == NET_PHASE_PROGRESS && ev[i].bytes_transferred >= (1 << 20) &&
                !went_to_background) {
                /* The OS suspends the app: nothing but net_suspend. */
                went_to_background = 1;
                net_suspend();
                printf("suspended\n");
                fflush(stdout);
                sleep_ms(300);
                net_resume(); /* back in the foreground */
                printf("resumed\n");
            }
            if (ev[i].phase == NET_PHASE_ENDED) {
                int good = !ev[i].is_error && ev[i].status >= 200 && ev[i].status < 300;
                printf("ended %s status=%d bytes=%lld%s%s\n", ev[i].tag, ev[i].status,
                       (long long)ev[i].bytes_transferred, good ? "" : " error=",
                       good ? "" : net_error_name(ev[i].error_code));
                level->done = good;
                ok &= good;
                pending--;
            }
        }
        fflush(stdout);
        sleep_ms(16);
    }
    net_shutdown();
    return ok ? 0 : 1;
}
