/*
 * netdl's side of the benchmark: a "game" that drives netdl only through
 * include/netdl.h, polling once per frame. bench/run builds and runs it;
 * see bench/README.md. Prints one JSON object on stdout.
 *
 *   netdl_bench fetch LIST OUTDIR [options]  download every line of LIST
 *       (URL<TAB>RELATIVE_PATH), all submitted at once, then poll once per
 *       frame until every request ended; times every net_poll call.
 *   netdl_bench idle LIST OUTDIR [options]   fetch, then measure memory
 *       after the end and CPU over --idle-s seconds with nothing in flight.
 *   netdl_bench poll                          ns per net_poll, empty queue.
 *   netdl_bench queue OUTDIR [--count N]      memory per queued request.
 *
 * Options: --cacert FILE  --frame-ms N (16)  --cap N (1024 events per poll)
 *          --progress  --idle-s N (10)  --count N (100000)
 *          --segments N  --max-retries N  --retry-delay-ms N
 *          --max-speed N (bytes/s): net_options of every download (without
 *          any of them: no net_options at all)
 *          --global-max-speed N (bytes/s): net_set_max_speed before
 *          submitting
 *          --persist: net_options.persist = 1 and a tag (the line's index)
 *          for every download: journalled in NET_DIR_APPLICATION_SUPPORT,
 *          which is set to --app-support DIR (default OUTDIR.support, on
 *          the same file system as the downloads)
 *
 * Exit status: 0 when every request ended with status 200 and no error.
 */
#define _GNU_SOURCE /* clock_nanosleep, mallinfo2, syscall */
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "netdl.h"

/* ---- small utilities ---------------------------------------------------- */

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t process_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t deadline_ns) {
    struct timespec ts = {(time_t)(deadline_ns / 1000000000u), (long)(deadline_ns % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

static void sleep_s(double s) { sleep_until(now_ns() + (uint64_t)(s * 1e9)); }

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "netdl_bench: out of memory\n");
        exit(2);
    }
    return p;
}

static void *xrealloc(void *p, size_t n) {
    p = realloc(p, n ? n : 1);
    if (!p) {
        fprintf(stderr, "netdl_bench: out of memory\n");
        exit(2);
    }
    return p;
}

/* A field of /proc/self/status in KiB ("VmRSS", "VmHWM"); -1 if absent. */
static long status_kib(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long v = -1;
    size_t len = strlen(field);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, field, len) == 0 && line[len] == ':') {
            v = strtol(line + len + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

/* Bytes malloc has handed out and not got back (all arenas, mmapped too). */
static long long heap_in_use(void) {
    struct mallinfo2 mi = mallinfo2();
    return (long long)mi.uordblks + (long long)mi.hblkhd;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The q-quantile (0..1) of a sorted array, nearest rank. */
static uint64_t quantile(const uint64_t *sorted, size_t n, double q) {
    if (n == 0)
        return 0;
    size_t rank = (size_t)(q * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

/* CPU time of every thread but the calling one, in ns (netdl's threads:
 * the process has no others). Uses the per-thread CPU clocks of Linux. */
static uint64_t other_threads_cpu_ns(int *threads) {
    pid_t self = (pid_t)syscall(SYS_gettid);
    DIR *d = opendir("/proc/self/task");
    uint64_t total = 0;
    int count = 0;
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        pid_t tid = (pid_t)atoi(e->d_name);
        if (tid == self)
            continue;
        /* MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED) */
        clockid_t clk = (clockid_t)((~(unsigned)tid << 3) | 6u);
        struct timespec ts;
        if (clock_gettime(clk, &ts) == 0) {
            total += (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
            count++;
        }
    }
    closedir(d);
    if (threads)
        *threads = count;
    return total;
}

/* CPU time of each thread of the process by name (threads of one name
 * added up), e.g. netdl-agent, netdl-journal and the main thread. */
enum { MAX_NAMES = 8 };
typedef struct thread_cpu {
    size_t count;
    char name[MAX_NAMES][16];
    uint64_t ns[MAX_NAMES];
} thread_cpu;

static thread_cpu threads_cpu_by_name(void) {
    thread_cpu t = {0};
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return t;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        pid_t tid = (pid_t)atoi(e->d_name);
        char path[64], name[16] = "";
        snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)tid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (fgets(name, sizeof name, f))
            name[strcspn(name, "\n")] = 0;
        fclose(f);
        clockid_t clk = (clockid_t)((~(unsigned)tid << 3) | 6u); /* as above */
        struct timespec ts;
        if (clock_gettime(clk, &ts) != 0)
            continue;
        size_t i = 0;
        while (i < t.count && strcmp(t.name[i], name) != 0)
            i++;
        if (i == t.count) {
            if (t.count == MAX_NAMES)
                continue;
            memcpy(t.name[i], name, sizeof name);
            t.count++;
        }
        t.ns[i] += (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    }
    closedir(d);
    return t;
}

/* ---- options -------------------------------------------------------------- */

typedef struct options {
    const char *mode;
    const char *list;
    const char *outdir;
    const char *cacert;
    double frame_ms;
    size_t cap;
    bool progress;
    double idle_s;
    size_t count;
    /* net_options, passed only when one of them is set (the other cases
     * run with none, as before). */
    bool use_net_options;
    uint32_t segments, max_retries, retry_delay_ms;
    uint64_t max_speed;
    uint64_t global_max_speed; /* net_set_max_speed; 0: not called */
    bool persist;
    const char *app_support; /* NET_DIR_APPLICATION_SUPPORT; NULL: not set */
} options;

static void usage(void) {
    fprintf(stderr, "usage: netdl_bench fetch|idle LIST OUTDIR [--cacert F] [--frame-ms N] "
                    "[--cap N] [--progress] [--idle-s N]\n"
                    "             [--segments N] [--max-retries N] [--retry-delay-ms N]\n"
                    "             [--max-speed N] [--global-max-speed N]\n"
                    "             [--persist] [--app-support DIR]\n"
                    "       netdl_bench poll\n"
                    "       netdl_bench queue OUTDIR [--count N]\n");
    exit(2);
}

static options parse(int argc, char **argv) {
    options o = {0};
    o.frame_ms = 16;
    o.cap = 1024;
    o.idle_s = 10;
    o.count = 100000;
    const char *pos[3] = {0};
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(a, "--cacert") == 0 && has_value)
            o.cacert = argv[++i];
        else if (strcmp(a, "--frame-ms") == 0 && has_value)
            o.frame_ms = atof(argv[++i]);
        else if (strcmp(a, "--cap") == 0 && has_value)
            o.cap = (size_t)atol(argv[++i]);
        else if (strcmp(a, "--idle-s") == 0 && has_value)
            o.idle_s = atof(argv[++i]);
        else if (strcmp(a, "--count") == 0 && has_value)
            o.count = (size_t)atol(argv[++i]);
        else if (strcmp(a, "--segments") == 0 && has_value)
            o.segments = (uint32_t)atol(argv[++i]);
        else if (strcmp(a, "--max-retries") == 0 && has_value)
            o.max_retries = (uint32_t)atol(argv[++i]);
        else if (strcmp(a, "--retry-delay-ms") == 0 && has_value)
            o.retry_delay_ms = (uint32_t)atol(argv[++i]);
        else if (strcmp(a, "--max-speed") == 0 && has_value)
            o.max_speed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(a, "--global-max-speed") == 0 && has_value)
            o.global_max_speed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(a, "--app-support") == 0 && has_value)
            o.app_support = argv[++i];
        else if (strcmp(a, "--progress") == 0)
            o.progress = true;
        else if (strcmp(a, "--persist") == 0)
            o.persist = true;
        else if (a[0] == '-' || npos == 3)
            usage();
        else
            pos[npos++] = a;
    }
    if (npos < 1)
        usage();
    o.mode = pos[0];
    if (strcmp(o.mode, "fetch") == 0 || strcmp(o.mode, "idle") == 0) {
        if (npos != 3)
            usage();
        o.list = pos[1];
        o.outdir = pos[2];
    } else if (strcmp(o.mode, "queue") == 0) {
        if (npos != 2)
            usage();
        o.outdir = pos[1];
    } else if (strcmp(o.mode, "poll") != 0 || npos != 1) {
        usage();
    }
    if (o.cap == 0 || o.frame_ms < 0 || o.count == 0)
        usage();
    o.use_net_options =
        o.segments || o.max_retries || o.retry_delay_ms || o.max_speed || o.persist;
    if (o.persist && !o.app_support && o.outdir) {
        /* Beside OUTDIR: the same file system (a tmpfs in bench/run), so
         * the journal's fsyncs cost what netdl does, not a disk's. */
        static char support[4096];
        if ((size_t)snprintf(support, sizeof support, "%s.support", o.outdir) >= sizeof support)
            usage();
        o.app_support = support;
    }
    return o;
}

/* ---- the URL list ------------------------------------------------------- */

typedef struct job {
    char *url;
    char *path;
} job;

static job *read_list(const char *file, size_t *count) {
    FILE *f = fopen(file, "r");
    if (!f) {
        fprintf(stderr, "netdl_bench: cannot open %s: %s\n", file, strerror(errno));
        exit(2);
    }
    size_t n = 0, capacity = 1024;
    job *jobs = xmalloc(capacity * sizeof *jobs);
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t len;
    while ((len = getline(&line, &line_cap, f)) > 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        char *tab = strchr(line, '\t');
        if (!tab)
            continue;
        *tab = 0;
        if (n == capacity) {
            capacity *= 2;
            jobs = xrealloc(jobs, capacity * sizeof *jobs);
        }
        jobs[n].url = strdup(line);
        jobs[n].path = strdup(tab + 1);
        n++;
    }
    free(line);
    fclose(f);
    *count = n;
    return jobs;
}

/* ---- fetch: the frame loop --------------------------------------------- */

typedef struct fetch_result {
    size_t requests, ok, failures, h1, h2, other_proto;
    long long bytes;
    double submit_s, wall_s;
    size_t frames, polls_with_events, events, progress_events, max_events_per_poll;
    /* From the `ended` events: the highest attempt number, how many
     * downloads continued earlier data, body bytes that came from the
     * network (all attempts). */
    uint32_t max_attempt;
    size_t resumed;
    long long bytes_received;
    uint64_t *poll_ns; /* one per net_poll call while requests were live */
    size_t npoll;
    uint64_t poll_ns_with_events;
    long rss_before_kib, rss_start_kib, rss_end_kib;
    long long heap_start, heap_end;
    thread_cpu threads_at_end; /* CPU by thread name when the last request ended */
} fetch_result;

/* The value of response header `name` in `e`, or NULL. */
static const char *header(const net_event *e, const char *name) {
    for (size_t i = 0; i < e->header_count; i++)
        if (strcasecmp(e->headers[i].name, name) == 0)
            return e->headers[i].value;
    return NULL;
}

static fetch_result fetch(const options *o) {
    fetch_result r = {0};
    size_t n;
    job *jobs = read_list(o->list, &n);
    r.requests = n;
    r.rss_before_kib = status_kib("VmRSS");
    /* Creates netdl's client and network thread. */
    if (!net_set_directory(NET_DIR_CACHES, o->outdir)) {
        fprintf(stderr, "netdl_bench: net_set_directory(%s) failed\n", o->outdir);
        exit(2);
    }
    if (o->app_support && !net_set_directory(NET_DIR_APPLICATION_SUPPORT, o->app_support)) {
        fprintf(stderr, "netdl_bench: net_set_directory(%s) failed\n", o->app_support);
        exit(2);
    }
    r.rss_start_kib = status_kib("VmRSS");
    r.heap_start = heap_in_use();
    if (o->global_max_speed)
        net_set_max_speed(o->global_max_speed);

    size_t poll_cap = 4096;
    r.poll_ns = xmalloc(poll_cap * sizeof *r.poll_ns);
    net_event *events = xmalloc(o->cap * sizeof *events);
    /* A game reuses its event array every frame: it is in memory, not
     * first-touched inside the first net_poll calls. */
    memset(events, 0, o->cap * sizeof *events);
    net_params params;
    memset(&params, 0, sizeof params);
    params.ca_file = o->cacert;
    params.progress = o->progress;
    net_options net_opts = net_options_init();
    net_opts.segments = o->segments;
    net_opts.max_retries = o->max_retries;
    net_opts.retry_delay_ms = o->retry_delay_ms;
    net_opts.max_speed = o->max_speed;
    net_opts.persist = o->persist;
    char tag[24];
    if (o->use_net_options)
        params.options = &net_opts;

    uint64_t t0 = now_ns();
    for (size_t i = 0; i < n; i++) {
        params.user_data = (void *)(uintptr_t)i;
        if (o->persist) { /* netdl copies the tag, as it does the strings */
            snprintf(tag, sizeof tag, "%zu", i);
            net_opts.tag = tag;
        }
        if (net_download(jobs[i].url, "GET", &params, jobs[i].path, NET_DIR_CACHES) == 0) {
            fprintf(stderr, "netdl_bench: net_download returned 0\n");
            exit(2);
        }
        /* netdl copied both strings; a game frees its temporaries here. */
        free(jobs[i].url);
        free(jobs[i].path);
        jobs[i].url = jobs[i].path = NULL;
    }
    uint64_t t_submitted = now_ns();
    r.submit_s = (double)(t_submitted - t0) / 1e9;

    uint64_t frame_ns = (uint64_t)(o->frame_ms * 1e6);
    uint64_t next_frame = t_submitted;
    size_t ended = 0;
    uint64_t t_end = t_submitted;
    while (ended < n) {
        uint64_t a = now_ns();
        size_t k = net_poll(events, o->cap);
        uint64_t b = now_ns();
        if (r.npoll == poll_cap) {
            poll_cap *= 2;
            r.poll_ns = xrealloc(r.poll_ns, poll_cap * sizeof *r.poll_ns);
        }
        r.poll_ns[r.npoll++] = b - a;
        r.frames++;
        if (k > 0) {
            r.polls_with_events++;
            r.poll_ns_with_events += b - a;
            r.events += k;
            if (k > r.max_events_per_poll)
                r.max_events_per_poll = k;
        }
        for (size_t i = 0; i < k; i++) {
            const net_event *e = &events[i];
            if (e->phase != NET_PHASE_ENDED) {
                r.progress_events++;
                continue;
            }
            ended++;
            if (e->attempt > r.max_attempt)
                r.max_attempt = e->attempt;
            if (e->flags & NET_EVENT_RESUMED)
                r.resumed++;
            r.bytes_received += e->bytes_received;
            if (e->is_error || e->status != 200) {
                r.failures++;
                if (r.failures <= 5)
                    fprintf(stderr, "netdl_bench: %s: status %d %s %s\n", e->url, e->status,
                            net_error_name(e->error_code), e->error);
                continue;
            }
            /* --persist: each event echoes its request's tag. */
            if (o->persist && (!e->tag || strtoull(e->tag, NULL, 10) != (uintptr_t)e->user_data)) {
                r.failures++;
                fprintf(stderr, "netdl_bench: %s: tag %s, expected %zu\n", e->url,
                        e->tag ? e->tag : "(none)", (size_t)(uintptr_t)e->user_data);
                continue;
            }
            r.ok++;
            r.bytes += e->bytes_transferred;
            const char *proto = header(e, "x-proto");
            if (proto && strcmp(proto, "HTTP/1.1") == 0)
                r.h1++;
            else if (proto && strcmp(proto, "HTTP/2.0") == 0)
                r.h2++;
            else
                r.other_proto++;
        }
        if (ended == n) {
            t_end = now_ns();
            break;
        }
        /* The rest of the frame: the game renders. Fixed-rate frames; a
         * late frame starts the next one at once. */
        next_frame += frame_ns;
        uint64_t now = now_ns();
        if (next_frame < now)
            next_frame = now;
        else
            sleep_until(next_frame);
    }
    r.wall_s = (double)(t_end - t0) / 1e9;
    r.threads_at_end = threads_cpu_by_name();
    net_poll(events, o->cap); /* frees the last batch's event memory */
    r.rss_end_kib = status_kib("VmRSS");
    r.heap_end = heap_in_use();
    free(jobs);
    free(events);
    return r;
}

static void print_fetch(const fetch_result *r) {
    qsort(r->poll_ns, r->npoll, sizeof *r->poll_ns, cmp_u64);
    double per_event = r->events ? (double)r->poll_ns_with_events / (double)r->events : 0;
    printf("\"requests\": %zu, \"ok\": %zu, \"failures\": %zu, \"bytes\": %lld,\n", r->requests,
           r->ok, r->failures, r->bytes);
    printf("\"protocols\": {\"HTTP/1.1\": %zu, \"HTTP/2.0\": %zu, \"other\": %zu},\n", r->h1, r->h2,
           r->other_proto);
    printf("\"submit_s\": %.6f, \"submit_ns_per_request\": %.1f, \"wall_s\": %.6f,\n", r->submit_s,
           r->requests ? r->submit_s * 1e9 / (double)r->requests : 0, r->wall_s);
    printf("\"frames\": %zu, \"events\": %zu, \"progress_events\": %zu,\n", r->frames, r->events,
           r->progress_events);
    printf("\"poll\": {\"calls\": %zu, \"p50_ns\": %llu, \"p99_ns\": %llu, \"p999_ns\": %llu, "
           "\"max_ns\": %llu, \"calls_with_events\": %zu, \"ns_per_event\": %.1f, "
           "\"max_events_per_call\": %zu},\n",
           r->npoll, (unsigned long long)quantile(r->poll_ns, r->npoll, 0.5),
           (unsigned long long)quantile(r->poll_ns, r->npoll, 0.99),
           (unsigned long long)quantile(r->poll_ns, r->npoll, 0.999),
           (unsigned long long)(r->npoll ? r->poll_ns[r->npoll - 1] : 0), r->polls_with_events,
           per_event, r->max_events_per_poll);
    printf("\"rss_kib\": {\"before_netdl\": %ld, \"start\": %ld, \"end\": %ld, \"peak\": %ld},\n",
           r->rss_before_kib, r->rss_start_kib, r->rss_end_kib, status_kib("VmHWM"));
    printf("\"max_attempt\": %u, \"resumed\": %zu, \"bytes_received\": %lld,\n", r->max_attempt,
           r->resumed, r->bytes_received);
    printf("\"heap_bytes\": {\"start\": %lld, \"end\": %lld},\n", r->heap_start, r->heap_end);
    printf("\"thread_cpu_s\": {");
    for (size_t i = 0; i < r->threads_at_end.count; i++)
        printf("%s\"%s\": %.6f", i ? ", " : "", r->threads_at_end.name[i],
               (double)r->threads_at_end.ns[i] / 1e9);
    printf("}");
}

static void print_rusage(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("\"cpu_user_s\": %.6f, \"cpu_sys_s\": %.6f, \"maxrss_kib\": %ld",
           (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss);
}

static int mode_fetch(const options *o) {
    fetch_result r = fetch(o);
    /* With --persist it waits for the journal thread to finish writing. */
    uint64_t s0 = now_ns();
    net_shutdown();
    double shutdown_s = (double)(now_ns() - s0) / 1e9;
    printf("{\"mode\": \"fetch\", \"version\": \"%s\",\n", net_version());
    print_fetch(&r);
    printf(",\n\"shutdown_s\": %.6f,\n", shutdown_s);
    print_rusage();
    printf("}\n");
    free(r.poll_ns);
    return r.failures == 0 && r.ok == r.requests ? 0 : 1;
}

/* ---- idle: memory after the end, CPU with nothing in flight -------------- */

static int mode_idle(const options *o) {
    fetch_result r = fetch(o);
    /* 1 s for the network thread to finish its own clean-up. */
    sleep_s(1.0);
    long rss_settled = status_kib("VmRSS");
    long long heap_settled = heap_in_use();

    /* Phase 1: the main thread sleeps; everything the process uses is netdl's. */
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    uint64_t cpu0 = process_cpu_ns();
    int threads = 0;
    uint64_t netdl0 = other_threads_cpu_ns(&threads);
    sleep_s(o->idle_s);
    uint64_t cpu1 = process_cpu_ns();
    uint64_t netdl1 = other_threads_cpu_ns(NULL);
    getrusage(RUSAGE_SELF, &ru1);

    /* Phase 2: the main thread polls once per frame as a game does. */
    net_event events[64];
    uint64_t frame_ns = (uint64_t)(o->frame_ms * 1e6);
    uint64_t netdl2 = other_threads_cpu_ns(NULL);
    uint64_t cpu2 = process_cpu_ns();
    uint64_t t = now_ns(), end = t + (uint64_t)(o->idle_s * 1e9);
    size_t stray = 0, polls = 0;
    while (t < end) {
        stray += net_poll(events, 64);
        polls++;
        t += frame_ns;
        sleep_until(t);
    }
    uint64_t cpu3 = process_cpu_ns();
    uint64_t netdl3 = other_threads_cpu_ns(NULL);
    long rss_after_idle = status_kib("VmRSS");

    net_shutdown();
    long rss_after_shutdown = status_kib("VmRSS");
    printf("{\"mode\": \"idle\", \"version\": \"%s\",\n", net_version());
    print_fetch(&r);
    printf(",\n\"idle_s\": %.3f, \"netdl_threads\": %d,\n", o->idle_s, threads);
    printf("\"idle_sleeping\": {\"process_cpu_ns\": %llu, \"netdl_threads_cpu_ns\": %llu, "
           "\"voluntary_switches\": %ld, \"involuntary_switches\": %ld},\n",
           (unsigned long long)(cpu1 - cpu0), (unsigned long long)(netdl1 - netdl0),
           ru1.ru_nvcsw - ru0.ru_nvcsw, ru1.ru_nivcsw - ru0.ru_nivcsw);
    printf("\"idle_polling\": {\"process_cpu_ns\": %llu, \"netdl_threads_cpu_ns\": %llu, "
           "\"polls\": %zu, \"stray_events\": %zu},\n",
           (unsigned long long)(cpu3 - cpu2), (unsigned long long)(netdl3 - netdl2), polls, stray);
    printf("\"rss_after_kib\": {\"settled_1s\": %ld, \"after_idle\": %ld, \"after_shutdown\": %ld},\n",
           rss_settled, rss_after_idle, rss_after_shutdown);
    printf("\"heap_after_bytes\": {\"settled_1s\": %lld},\n", heap_settled);
    print_rusage();
    printf("}\n");
    free(r.poll_ns);
    return r.failures == 0 && r.ok == r.requests && stray == 0 ? 0 : 1;
}

/* ---- poll: an empty queue ---------------------------------------------- */

/* Submits BURST requests that fail at once (a URL with a space): their
 * `ended` events are made on this (other) thread, as the network thread
 * makes them. */
enum { BURST = 576 };
static void *submit_burst(void *arg) {
    (void)arg;
    for (int i = 0; i < BURST; i++)
        net_request("http://bad url/", NULL, NULL);
    return NULL;
}

static int mode_poll(void) {
    net_event events[64];
    net_set_limits(64, 64); /* creates the client and its thread */
    for (int i = 0; i < 100000; i++)
        net_poll(events, 64);
    enum { BATCHES = 21, CALLS = 200000 };
    uint64_t ns[BATCHES];
    size_t stray = 0;
    for (int b = 0; b < BATCHES; b++) {
        uint64_t t0 = now_ns();
        for (int i = 0; i < CALLS; i++)
            stray += net_poll(events, 64);
        ns[b] = now_ns() - t0;
    }
    qsort(ns, BATCHES, sizeof ns[0], cmp_u64);

    /* A burst: BURST events made by another thread, which then goes quiet;
     * one net_poll takes them all. The cost per event with no other thread
     * busy (compare the frame case, where the network thread and the server
     * keep both cores and their caches busy). */
    static net_event burst[BURST];
    memset(burst, 0, sizeof burst);
    uint64_t burst_ns[BATCHES];
    for (int b = 0; b < BATCHES; b++) {
        pthread_t t;
        if (pthread_create(&t, NULL, submit_burst, NULL) != 0 || pthread_join(t, NULL) != 0) {
            fprintf(stderr, "netdl_bench: pthread failed\n");
            exit(2);
        }
        size_t got = 0;
        uint64_t t0 = now_ns();
        while (got < BURST) /* the events are all queued already: one call */
            got += net_poll(burst + got, BURST - got);
        burst_ns[b] = now_ns() - t0;
        for (size_t i = 0; i < got; i++)
            if (burst[i].error_code != NET_ERROR_INVALID_ARGUMENT)
                stray++;
        net_poll(events, 64); /* hands the burst back */
        sleep_s(0.02);
    }
    qsort(burst_ns, BATCHES, sizeof burst_ns[0], cmp_u64);
    net_shutdown();
    printf("{\"mode\": \"poll\", \"version\": \"%s\", \"calls\": %d, "
           "\"ns_per_call\": {\"median\": %.2f, \"min\": %.2f, \"max\": %.2f}, "
           "\"burst\": {\"events\": %d, \"median_us\": %.1f, \"max_us\": %.1f, "
           "\"ns_per_event\": %.1f}, \"stray_events\": %zu,\n",
           net_version(), BATCHES * CALLS, (double)ns[BATCHES / 2] / CALLS, (double)ns[0] / CALLS,
           (double)ns[BATCHES - 1] / CALLS, BURST, burst_ns[BATCHES / 2] / 1e3,
           burst_ns[BATCHES - 1] / 1e3, (double)burst_ns[BATCHES / 2] / BURST, stray);
    print_rusage();
    printf("}\n");
    return stray == 0 ? 0 : 1;
}

/* ---- queue: memory per queued, not-yet-started request ------------------ */

static int mode_queue(const options *o) {
    /* A local server that accepts connections (the kernel does, into the
     * backlog) and never answers: the one running request hangs, the rest
     * stay queued. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof addr;
    if (s < 0 || bind(s, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(s, 16) != 0 ||
        getsockname(s, (struct sockaddr *)&addr, &alen) != 0) {
        fprintf(stderr, "netdl_bench: cannot listen on 127.0.0.1: %s\n", strerror(errno));
        return 2;
    }
    int port = ntohs(addr.sin_port);
    long rss_before_netdl = status_kib("VmRSS");
    if (!net_set_directory(NET_DIR_CACHES, o->outdir) || !net_set_limits(1, 1)) {
        fprintf(stderr, "netdl_bench: netdl setup failed\n");
        return 2;
    }
    sleep_s(0.2);
    long rss0 = status_kib("VmRSS");
    long long heap0 = heap_in_use();

    char url[128], path[64];
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < o->count; i++) {
        snprintf(url, sizeof url, "http://127.0.0.1:%d/small/g%02zu/f%05zu.bin", port,
                 (i / 1000) % 100, i % 100000);
        snprintf(path, sizeof path, "queue/r%zu/f%05zu.bin", i / 100000, i % 100000);
        if (net_download(url, "GET", NULL, path, NET_DIR_CACHES) == 0) {
            fprintf(stderr, "netdl_bench: net_download returned 0\n");
            return 2;
        }
    }
    uint64_t t1 = now_ns();
    /* Time for the network thread to take every request off its channel. */
    sleep_s(1.0);
    net_event events[64];
    size_t stray = net_poll(events, 64);
    long rss1 = status_kib("VmRSS");
    long long heap1 = heap_in_use();
    long hwm = status_kib("VmHWM");

    uint64_t s0 = now_ns();
    net_shutdown();
    uint64_t s1 = now_ns();
    long rss2 = status_kib("VmRSS");
    close(s);
    double n = (double)o->count;
    printf("{\"mode\": \"queue\", \"version\": \"%s\", \"queued\": %zu,\n", net_version(),
           o->count);
    printf("\"submit_ns_per_request\": %.1f, \"shutdown_s\": %.6f,\n", (double)(t1 - t0) / n,
           (double)(s1 - s0) / 1e9);
    printf("\"rss_kib\": {\"before_netdl\": %ld, \"start\": %ld, \"queued\": %ld, \"peak\": %ld, "
           "\"after_shutdown\": %ld},\n",
           rss_before_netdl, rss0, rss1, hwm, rss2);
    printf("\"heap_bytes\": {\"start\": %lld, \"queued\": %lld},\n", heap0, heap1);
    printf("\"bytes_per_queued_request\": {\"rss\": %.1f, \"heap\": %.1f}, \"stray_events\": %zu,\n",
           (double)(rss1 - rss0) * 1024.0 / n, (double)(heap1 - heap0) / n, stray);
    print_rusage();
    printf("}\n");
    return stray == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    options o = parse(argc, argv);
    if (strcmp(o.mode, "fetch") == 0)
        return mode_fetch(&o);
    if (strcmp(o.mode, "idle") == 0)
        return mode_idle(&o);
    if (strcmp(o.mode, "poll") == 0)
        return mode_poll();
    return mode_queue(&o);
}
