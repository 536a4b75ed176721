/*
 * netdl demo: downloads several files at once while a "game loop" polls
 * once per 16 ms frame, drawing live per-file progress bars and a total
 * (bytes, rate, ETA) on a terminal, or plain progress lines otherwise.
 *
 *   demo [-o OUTDIR] URL...
 *
 * Files are saved as OUTDIR/<last path segment of the URL> (OUTDIR defaults
 * to ./downloads). Ctrl-C cancels everything (no partial file remains) and
 * exits 130. Exits 0 when every file arrived with a 2xx status, 1 otherwise.
 * Uses only netdl.h.
 */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "netdl.h"

#define MAX_FILES 256
#define BAR_WIDTH 30

typedef struct {
    const char *url;
    char name[128];
    net_id id;
    long long done, total; /* total -1 while unknown */
    int finished;          /* 0 running, 1 ok, -1 failed */
    char message[160];
} file_t;

static volatile sig_atomic_t interrupted = 0;
static void on_sigint(int sig) { (void)sig; interrupted = 1; }

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* "812 B", "3.4 KB", "12.0 MB": decimal units, as rates are usually read. */
static const char *human(double bytes, char *buf, size_t len) {
    const char *units[] = {"B", "KB", "MB", "GB"};
    int u = 0;
    while (bytes >= 1000 && u < 3) {
        bytes /= 1000;
        u++;
    }
    snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
    return buf;
}

/* The last path segment of a URL, without the query: the output name. */
static void name_from_url(const char *url, char *out, size_t len, int index) {
    const char *end = url + strcspn(url, "?#");
    const char *start = end;
    while (start > url && start[-1] != '/')
        start--;
    size_t n = (size_t)(end - start);
    if (n == 0 || n >= len)
        snprintf(out, len, "file-%d", index);
    else
        snprintf(out, len, "%.*s", (int)n, start);
}

static void totals(const file_t *f, int n, long long *done, long long *total, int *left) {
    *done = *total = 0;
    *left = 0;
    for (int i = 0; i < n; i++) {
        *done += f[i].done;
        *total += f[i].total > 0 ? f[i].total : f[i].done;
        *left += f[i].finished == 0;
    }
}

static void draw_bars(const file_t *f, int n, double elapsed, int first) {
    char a[32], b[32], c[32];
    if (!first)
        printf("\033[%dA", n + 1); /* back to the first bar */
    for (int i = 0; i < n; i++) {
        double frac = f[i].total > 0 ? (double)f[i].done / (double)f[i].total : 0;
        if (f[i].finished == 1)
            frac = 1;
        int fill = (int)(frac * BAR_WIDTH);
        printf("\r\033[K%-20.20s [", f[i].name);
        for (int k = 0; k < BAR_WIDTH; k++)
            putchar(k < fill ? '#' : '.');
        printf("] %3d%% %10s %s\n", (int)(frac * 100), human((double)f[i].done, a, sizeof a),
               f[i].finished < 0 ? "FAILED" : f[i].finished ? "done" : "");
    }
    long long done, total;
    int left;
    totals(f, n, &done, &total, &left);
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    double eta = rate > 0 && total > done ? (double)(total - done) / rate : 0;
    printf("\r\033[Ktotal %s / %s  %s/s  ETA %.1f s  (%d running)\n", human((double)done, a, sizeof a),
           human((double)total, b, sizeof b), human(rate, c, sizeof c), eta, left);
    fflush(stdout);
}

static void print_line(const file_t *f, int n, double elapsed) {
    char a[32], b[32], c[32];
    long long done, total;
    int left;
    totals(f, n, &done, &total, &left);
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    printf("progress: %s of %s, %s/s, %d of %d files running\n", human((double)done, a, sizeof a),
           human((double)total, b, sizeof b), human(rate, c, sizeof c), left, n);
    fflush(stdout);
}

int main(int argc, char **argv) {
    const char *outdir = "downloads";
    int opt;
    while ((opt = getopt(argc, argv, "o:")) != -1) {
        if (opt != 'o') {
            fprintf(stderr, "usage: %s [-o OUTDIR] URL...\n", argv[0]);
            return 2;
        }
        outdir = optarg;
    }
    int n = argc - optind;
    if (n < 1 || n > MAX_FILES) {
        fprintf(stderr, "usage: %s [-o OUTDIR] URL... (1 to %d URLs)\n", argv[0], MAX_FILES);
        return 2;
    }
    char abs_out[2 * PATH_MAX], cwd[PATH_MAX];
    if (outdir[0] == '/')
        snprintf(abs_out, sizeof abs_out, "%s", outdir);
    else if (getcwd(cwd, sizeof cwd))
        snprintf(abs_out, sizeof abs_out, "%s/%s", cwd, outdir);
    else
        return 2;
    if (!net_set_directory(NET_DIR_DOCUMENTS, abs_out)) {
        fprintf(stderr, "cannot use %s as output directory\n", abs_out);
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);

    static file_t files[MAX_FILES];
    net_params params = {0};
    params.progress = true;
    params.timeout = 30;
    for (int i = 0; i < n; i++) {
        files[i].url = argv[optind + i];
        files[i].total = -1;
        name_from_url(files[i].url, files[i].name, sizeof files[i].name, i);
        params.user_data = &files[i];
        files[i].id = net_download(files[i].url, "GET", &params, files[i].name, NET_DIR_DOCUMENTS);
    }

    int tty = isatty(STDOUT_FILENO);
    printf("netdl %s: %d file(s) into %s\n", net_version(), n, abs_out);
    double start = now(), last_line = start;
    int left = n, first = 1;
    while (left > 0 && !interrupted) {
        net_event ev[64];
        size_t got;
        while ((got = net_poll(ev, 64)) > 0) {
            for (size_t i = 0; i < got; i++) {
                file_t *f = ev[i].user_data;
                f->done = ev[i].bytes_transferred;
                if (ev[i].bytes_estimated >= 0)
                    f->total = ev[i].bytes_estimated;
                if (ev[i].phase != NET_PHASE_ENDED)
                    continue;
                left--;
                int ok = !ev[i].is_error && ev[i].status >= 200 && ev[i].status < 300;
                f->finished = ok ? 1 : -1;
                if (ev[i].is_error)
                    snprintf(f->message, sizeof f->message, "%s: %s", net_error_name(ev[i].error_code),
                             ev[i].error);
                else if (!ok)
                    snprintf(f->message, sizeof f->message, "HTTP status %d", ev[i].status);
                if (!tty)
                    printf("%s %s%s%s\n", ok ? "done:  " : "FAILED:", f->name, ok ? "" : ": ", f->message);
            }
        }
        double t = now();
        if (tty) {
            draw_bars(files, n, t - start, first);
            first = 0;
        } else if (t - last_line >= 0.5 && left > 0) {
            print_line(files, n, t - start);
            last_line = t;
        }
        struct timespec frame = {0, 16 * 1000 * 1000};
        nanosleep(&frame, NULL);
    }

    int cancelled = 0;
    if (interrupted) {
        for (int i = 0; i < n; i++)
            if (files[i].finished == 0 && net_cancel(files[i].id)) {
                files[i].finished = -1;
                snprintf(files[i].message, sizeof files[i].message, "cancelled");
                cancelled++;
            }
    }
    double elapsed = now() - start;
    if (tty)
        draw_bars(files, n, elapsed, first);
    long long bytes = 0;
    int failures = 0;
    for (int i = 0; i < n; i++) {
        bytes += files[i].finished == 1 ? files[i].done : 0;
        if (files[i].finished != 1) {
            failures++;
            if (tty || files[i].finished == 0 || cancelled)
                printf("failed: %s: %s\n", files[i].name, files[i].message[0] ? files[i].message : "unfinished");
        }
    }
    char a[32], b[32];
    printf("summary: %d file(s), %s in %.2f s, %s/s, %d failure(s)%s\n", n - failures,
           human((double)bytes, a, sizeof a), elapsed, human(elapsed > 0 ? (double)bytes / elapsed : 0, b, sizeof b),
           failures, interrupted ? " (interrupted)" : "");
    net_shutdown(); /* removes the temporary files of cancelled downloads */
    return interrupted ? 130 : failures ? 1 : 0;
}
