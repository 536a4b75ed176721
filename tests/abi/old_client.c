/*
 * A program built against the header as released at 0.1
 * (tests/abi/netdl-0.1.h, and only that header), run against the current
 * library by tests/abi_compat.rs: what a binary compiled in the 0.1 days
 * does must keep working. It fills net_params with the 0.1 fields only
 * (the rest, `reserved`, zero: fields added since are carved out of it and
 * zero means their default), uses the 0.1 enum values, downloads, requests
 * into memory, cancels, polls, and checks every event field by field.
 * Prints one line per failed check; exits 1 on any failure.
 *
 *   old_client BASE_URL DIRECTORY
 *
 * BASE_URL is the test server (tests/support) and DIRECTORY an empty
 * folder used as NET_DIR_DOCUMENTS.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "netdl-0.1.h"

/* The 0.1 layout, as this program was compiled against it. */
_Static_assert(sizeof(net_params) == 160, "net_params is 160 bytes");
_Static_assert(sizeof(net_event) == 192, "net_event is 192 bytes");
_Static_assert(offsetof(net_params, max_body) == 88, "0.1 net_params layout");
_Static_assert(offsetof(net_params, reserved) == 96, "0.1 net_params layout");
_Static_assert(offsetof(net_event, filename) == 120, "0.1 net_event layout");
_Static_assert(offsetof(net_event, reserved) == 128, "0.1 net_event layout");

static int failures = 0;
#define CHECK(cond)                                                         \
    do {                                                                    \
        if (!(cond)) {                                                      \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);          \
            failures++;                                                     \
        }                                                                   \
    } while (0)

static const char *base;
static const char *dir;

static const char *url_of(char *buf, size_t size, const char *path) {
    snprintf(buf, size, "%s%s", base, path);
    return buf;
}

static int same(const char *a, const char *b) {
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static int same_ci(const char *a, const char *b) {
    for (; *a && *b; a++, b++) {
        char x = (*a >= 'A' && *a <= 'Z') ? (char)(*a + 32) : *a;
        char y = (*b >= 'A' && *b <= 'Z') ? (char)(*b + 32) : *b;
        if (x != y)
            return 0;
    }
    return *a == *b;
}

/* The value of response header `name` (case-insensitive), or NULL. */
static const char *header(const net_event *ev, const char *name) {
    CHECK(ev->header_count == 0 || ev->headers != NULL);
    for (size_t i = 0; i < ev->header_count; i++)
        if (same_ci(ev->headers[i].name, name))
            return ev->headers[i].value;
    return NULL;
}

static int body_contains(const net_event *ev, const char *text) {
    size_t n = strlen(text);
    const char *body = ev->body;
    for (size_t i = 0; body != NULL && i + n <= ev->body_len; i++)
        if (memcmp(body + i, text, n) == 0)
            return 1;
    return 0;
}

static int body_ends_with(const net_event *ev, const char *text) {
    size_t n = strlen(text);
    return ev->body != NULL && ev->body_len >= n &&
           memcmp((const char *)ev->body + ev->body_len - n, text, n) == 0;
}

/* What each event of one request is checked against, and what was seen. */
struct expect {
    net_id id;
    void *user_data;
    const char *url;
    const char *filename; /* downloads: as given; NULL for requests */
    net_dir base_dir;     /* downloads: as given */
    char path[4096];      /* downloads: DIRECTORY/filename; "" if rejected */
    net_id never;         /* a cancelled id: none of its events may come */
    int began, progress, ended;
    int64_t last;
    void (*ended_check)(const net_event *ev, struct expect *x);
    net_error error_code; /* expected in ended; NET_ERROR_NONE: success */
    int status;           /* expected in every event of a success */
};

/* Fields every event of the request must have right. */
static void check_common(const net_event *ev, struct expect *x) {
    CHECK(ev->id == x->id);
    CHECK(ev->user_data == x->user_data);
    CHECK(ev->error != NULL);
    CHECK(ev->url != NULL);
    if (x->filename != NULL) {
        CHECK(same(ev->filename, x->filename));
        CHECK(ev->base_dir == x->base_dir);
        if (x->path[0] == '\0')
            CHECK(ev->path == NULL);
        else
            CHECK(same(ev->path, x->path));
    } else {
        CHECK(ev->filename == NULL);
        CHECK(ev->path == NULL);
    }
    CHECK(ev->bytes_transferred >= x->last);
    x->last = ev->bytes_transferred;
    switch (ev->phase) {
    case NET_PHASE_BEGAN:
        CHECK(x->began == 0 && x->progress == 0 && x->ended == 0);
        CHECK(ev->bytes_transferred == 0);
        x->began++;
        break;
    case NET_PHASE_PROGRESS:
        CHECK(x->began == 1 && x->ended == 0);
        CHECK(ev->bytes_transferred > 0);
        x->progress++;
        break;
    case NET_PHASE_ENDED:
        CHECK(x->ended == 0);
        x->ended++;
        break;
    default:
        printf("FAIL: id %llu: phase %u\n", (unsigned long long)ev->id, ev->phase);
        failures++;
    }
    if (ev->phase != NET_PHASE_ENDED || x->error_code == NET_ERROR_NONE) {
        CHECK(!ev->is_error);
        CHECK(ev->error_code == NET_ERROR_NONE);
        CHECK(ev->error != NULL && ev->error[0] == '\0');
        CHECK(ev->status == x->status);
        if (x->url != NULL)
            CHECK(same(ev->url, x->url));
    } else {
        if (!ev->is_error || ev->error_code != x->error_code) {
            printf("FAIL: id %llu: got %s (%s), want %s\n", (unsigned long long)ev->id,
                   net_error_name(ev->error_code), ev->error, net_error_name(x->error_code));
            failures++;
        }
        CHECK(ev->error != NULL && strlen(ev->error) > 0);
        CHECK(ev->body == NULL && ev->body_len == 0);
    }
    if (ev->phase == NET_PHASE_ENDED && x->ended_check != NULL)
        x->ended_check(ev, x);
}

/* Polls until the `ended` event of x->id (or, with `until_began`, its
 * `began`), checking every event of it. One request runs at a time, so an
 * event of any other id is a failure. */
static void run(struct expect *x, int until_began) {
    net_event ev[8];
    for (int tries = 0; tries < 200; tries++) {
        size_t n = (tries % 2) ? net_wait(ev, 8, 100) : net_poll(ev, 8);
        for (size_t i = 0; i < n; i++) {
            if (ev[i].id != x->id) {
                printf("FAIL: event of id %llu (phase %u) while waiting for %llu%s\n",
                       (unsigned long long)ev[i].id, ev[i].phase, (unsigned long long)x->id,
                       ev[i].id == x->never && x->never ? ", which was cancelled" : "");
                failures++;
                continue;
            }
            check_common(&ev[i], x);
        }
        if (x->ended || (until_began && x->began))
            return;
    }
    printf("FAIL: id %llu did not %s\n", (unsigned long long)x->id, until_began ? "begin" : "end");
    failures++;
}

static void expect_init(struct expect *x, net_id id, void *user_data, const char *url,
                        const char *filename) {
    memset(x, 0, sizeof *x);
    CHECK(id != 0);
    x->id = id;
    x->user_data = user_data;
    x->url = url;
    x->filename = filename;
    x->status = 200;
    x->base_dir = NET_DIR_DOCUMENTS;
    if (filename != NULL)
        snprintf(x->path, sizeof x->path, "%s/%s", dir, filename);
}

/* tests/support's body(len, seed): xorshift64*, little-endian words. */
static int file_has_body(const char *path, long len, uint64_t seed) {
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 0;
    uint64_t x = (seed * UINT64_C(0x9E3779B97F4A7C15)) | 1;
    long i = 0;
    int ok = 1, c = 0;
    while (ok && i < len) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        uint64_t word = x * UINT64_C(0x2545F4914F6CDD1D);
        for (int k = 0; k < 8 && i < len; k++, i++)
            ok = (c = fgetc(f)) == (int)((word >> (8 * k)) & 0xff);
    }
    ok = ok && fgetc(f) == EOF;
    fclose(f);
    return ok;
}

/* --- ended checks of particular requests --- */

static void slow_ended(const net_event *ev, struct expect *x) {
    (void)x;
    CHECK(ev->bytes_transferred == 60000);
    CHECK(ev->bytes_estimated == 60000);
    CHECK(same(header(ev, "Content-Length"), "60000"));
    CHECK(same(header(ev, "Content-Type"), "application/octet-stream"));
    CHECK(ev->response_type == NET_RESPONSE_BINARY);
    CHECK(ev->body == NULL && ev->body_len == 0);
}

static void echo_post_ended(const net_event *ev, struct expect *x) {
    (void)x;
    CHECK(ev->response_type == NET_RESPONSE_TEXT);
    CHECK(ev->body != NULL && ev->body_len > 0);
    CHECK(ev->bytes_transferred == (int64_t)ev->body_len);
    CHECK(ev->bytes_estimated == (int64_t)ev->body_len);
    CHECK(ev->body_len >= 11 && memcmp(ev->body, "POST /echo\n", 11) == 0);
    CHECK(body_contains(ev, "\nX-Old-Client: 0.1\n"));
    CHECK(body_contains(ev, "\nX-Second: two\n"));
    CHECK(body_contains(ev, "application/x-www-form-urlencoded"));
    CHECK(body_ends_with(ev, "\n\nname=old&v=0.1"));
}

static void echo_put_file_ended(const net_event *ev, struct expect *x) {
    (void)x;
    CHECK(ev->body_len >= 10 && memcmp(ev->body, "PUT /echo\n", 10) == 0);
    CHECK(body_contains(ev, "application/octet-stream"));
    CHECK(body_ends_with(ev, "\n\nsent from a file"));
}

static void redirect_ended(const net_event *ev, struct expect *x) {
    (void)x;
    CHECK(ev->status == 302);
    CHECK(same(header(ev, "Location"), "/redirect/0"));
}

static void not_found_ended(const net_event *ev, struct expect *x) {
    (void)x;
    CHECK(ev->body != NULL && ev->body_len == 10 && memcmp(ev->body, "status 404", 10) == 0);
    CHECK(ev->bytes_transferred == 10);
}

/* A request that fails with `code`: one `ended`, never `began`. */
static void expect_error(net_id id, void *tag, net_error code) {
    struct expect x;
    expect_init(&x, id, tag, NULL, NULL);
    x.error_code = code;
    run(&x, 0);
    CHECK(x.began == 0 && x.progress == 0 && x.ended == 1);
}

/* A download rejected before it started: as above, and the event names
 * the filename and directory as given, with no path. */
static void expect_rejected(net_id id, void *tag, const char *filename, net_dir base_dir) {
    struct expect x;
    expect_init(&x, id, tag, NULL, filename);
    x.base_dir = base_dir;
    x.path[0] = '\0';
    x.error_code = NET_ERROR_INVALID_ARGUMENT;
    run(&x, 0);
    CHECK(x.began == 0 && x.progress == 0 && x.ended == 1);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: old_client BASE_URL DIRECTORY\n");
        return 2;
    }
    base = argv[1];
    dir = argv[2];
    char url[1024], path[4096];
    static int tag_a, tag_b, tag_c, tag_d, tag_e;

    CHECK(strlen(net_version()) > 0);
    CHECK(net_set_app_name("oldclient"));
    CHECK(net_set_limits(8, 4));
    CHECK(net_set_directory(NET_DIR_DOCUMENTS, dir));
    CHECK(net_get_directory(NET_DIR_DOCUMENTS, path, sizeof path) == strlen(dir));
    CHECK(same(path, dir));
    CHECK(same(net_error_name(NET_ERROR_TOO_LARGE), "NET_ERROR_TOO_LARGE"));

    /* A download with progress and a request header: began, progress,
     * ended, every field. */
    net_header one[] = {{"X-Old-Client", "0.1"}};
    net_params p;
    memset(&p, 0, sizeof p);
    p.progress = true;
    p.user_data = &tag_a;
    p.headers = one;
    p.header_count = 1;
    p.timeout = 20;
    url_of(url, sizeof url, "/slow/60000?chunk=6000&ms=20");
    struct expect x;
    expect_init(&x, net_download(url, "GET", &p, "old/slow.bin", NET_DIR_DOCUMENTS), &tag_a,
                url, "old/slow.bin");
    x.ended_check = slow_ended;
    run(&x, 0);
    CHECK(x.began == 1 && x.progress >= 1 && x.ended == 1);
    CHECK(file_has_body(x.path, 60000, 0));

    /* Without progress: `ended` only, and the file byte for byte. */
    memset(&p, 0, sizeof p);
    url_of(url, sizeof url, "/bytes/20000?seed=7");
    expect_init(&x, net_download(url, "GET", &p, "old/plain.bin", NET_DIR_DOCUMENTS), NULL, url,
                "old/plain.bin");
    run(&x, 0);
    CHECK(x.began == 0 && x.progress == 0 && x.ended == 1);
    CHECK(x.last == 20000);
    CHECK(file_has_body(x.path, 20000, 7));

    /* A request into memory with headers and a body (text by default). */
    net_header two[] = {{"X-Old-Client", "0.1"}, {"X-Second", "two"}};
    const char *form = "name=old&v=0.1";
    memset(&p, 0, sizeof p);
    p.headers = two;
    p.header_count = 2;
    p.body = form;
    p.body_len = strlen(form);
    p.user_data = &tag_b;
    p.body_type = NET_BODY_AUTO;
    url_of(url, sizeof url, "/echo");
    expect_init(&x, net_request(url, "POST", &p), &tag_b, url, NULL);
    x.ended_check = echo_post_ended;
    run(&x, 0);
    CHECK(x.ended == 1);

    /* The body streamed from a file in a base directory, labelled binary. */
    snprintf(path, sizeof path, "%s/upload.txt", dir);
    FILE *up = fopen(path, "wb");
    CHECK(up != NULL);
    if (up != NULL) {
        fputs("sent from a file", up);
        fclose(up);
    }
    memset(&p, 0, sizeof p);
    p.body_file = "upload.txt";
    p.body_file_dir = NET_DIR_DOCUMENTS;
    p.body_type = NET_BODY_BINARY;
    expect_init(&x, net_request(url, "PUT", &p), NULL, url, NULL);
    x.ended_check = echo_put_file_ended;
    run(&x, 0);

    /* no_redirects, max_redirects, max_body. */
    memset(&p, 0, sizeof p);
    p.no_redirects = true;
    url_of(url, sizeof url, "/redirect/1");
    expect_init(&x, net_request(url, "GET", &p), NULL, url, NULL);
    x.status = 302;
    x.ended_check = redirect_ended;
    run(&x, 0);
    memset(&p, 0, sizeof p);
    p.max_redirects = 1;
    p.user_data = &tag_c;
    expect_error(net_request(url_of(url, sizeof url, "/redirect/3"), "GET", &p), &tag_c,
                 NET_ERROR_TOO_MANY_REDIRECTS);
    memset(&p, 0, sizeof p);
    p.max_body = 1000;
    p.user_data = &tag_c;
    expect_error(net_request(url_of(url, sizeof url, "/bytes/5000"), "GET", &p), &tag_c,
                 NET_ERROR_TOO_LARGE);
    memset(&p, 0, sizeof p);
    p.timeout = 1;
    p.user_data = &tag_c;
    expect_error(net_request(url_of(url, sizeof url, "/silent"), "GET", &p), &tag_c,
                 NET_ERROR_TIMEOUT);

    /* A 404 download is not an error; the target is not written. */
    memset(&p, 0, sizeof p);
    url_of(url, sizeof url, "/status/404");
    expect_init(&x, net_download(url, "GET", &p, "old/missing.bin", NET_DIR_DOCUMENTS), NULL,
                url, "old/missing.bin");
    x.status = 404;
    x.ended_check = not_found_ended;
    run(&x, 0);
    CHECK(fopen(x.path, "rb") == NULL);

    /* Bad requests: one `ended` with the error code, never `began`, even
     * with progress on. */
    memset(&p, 0, sizeof p);
    p.progress = true;
    p.user_data = &tag_d;
    expect_error(net_request("ftp://127.0.0.1/x", "GET", &p), &tag_d, NET_ERROR_UNSUPPORTED_SCHEME);
    expect_error(net_request(url_of(url, sizeof url, "/echo"), "BAD METHOD", &p), &tag_d,
                 NET_ERROR_INVALID_ARGUMENT);
    expect_rejected(net_download(url, "GET", &p, "../escape.bin", NET_DIR_DOCUMENTS), &tag_d,
                    "../escape.bin", NET_DIR_DOCUMENTS);
    expect_rejected(net_download(url, "GET", &p, "x.bin", NET_DIR_RESOURCE), &tag_d, "x.bin",
                    NET_DIR_RESOURCE);
    /* A base directory 0.1 did not have: no filename can be resolved. */
    expect_error(net_download(url, "GET", &p, "x.bin", 5), &tag_d, NET_ERROR_INVALID_ARGUMENT);

    /* Cancel a running download: true once, then silence. */
    memset(&p, 0, sizeof p);
    p.progress = true;
    p.user_data = &tag_e;
    url_of(url, sizeof url, "/stall-after-headers?len=100");
    struct expect stalled;
    expect_init(&stalled, net_download(url, "GET", &p, "old/cancelled.bin", NET_DIR_DOCUMENTS),
                &tag_e, url, "old/cancelled.bin");
    run(&stalled, 1);
    CHECK(stalled.began == 1 && stalled.ended == 0);
    CHECK(net_cancel(stalled.id));
    CHECK(!net_cancel(stalled.id));
    /* A later request ends; nothing of the cancelled one shows up. */
    memset(&p, 0, sizeof p);
    url_of(url, sizeof url, "/bytes/1");
    expect_init(&x, net_request(url, "GET", &p), NULL, url, NULL);
    x.never = stalled.id;
    run(&x, 0);
    net_event rest[4];
    CHECK(net_poll(rest, 4) == 0);
    CHECK(fopen(stalled.path, "rb") == NULL);

    net_shutdown();
    CHECK(net_download(url, "GET", NULL, "late.bin", NET_DIR_DOCUMENTS) == 0);
    if (failures == 0)
        printf("old client: all checks passed\n");
    return failures == 0 ? 0 : 1;
}
