/*
 * The C ABI from C, the bad-input matrix: NULL, empty, non-UTF-8 and 1 MiB
 * URLs, other schemes, CR/LF in methods and headers, filenames that escape
 * or name a directory, an uncreatable base directory, enum ranges, reserved
 * fields, NULL/zero poll buffers, unknown ids, one real download with a
 * zero-filled params struct, and every call after net_shutdown. Prints one line per failed check; exits 1 on any failure.
 *
 *   abi_test URL_OF_20000_BYTES DIRECTORY
 */
#define _POSIX_C_SOURCE 200809L /* mkdir */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "netdl.h"
#include "netdl.h" /* included twice on purpose */

_Static_assert(sizeof(net_params) == 160, "net_params size is pinned");
_Static_assert(sizeof(net_event) == 192, "net_event size is pinned");

static int failures = 0;
#define CHECK(cond)                                                         \
    do {                                                                    \
        if (!(cond)) {                                                      \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);          \
            failures++;                                                     \
        }                                                                   \
    } while (0)

/* Waits for the ended event of `id`; returns a copy (pointers stay valid
 * until the next poll). */
static net_event ended(net_id id) {
    net_event ev[8];
    for (int tries = 0; tries < 100; tries++) {
        size_t n = net_wait(ev, 8, 100);
        for (size_t i = 0; i < n; i++)
            if (ev[i].id == id && ev[i].phase == NET_PHASE_ENDED)
                return ev[i];
    }
    net_event none;
    memset(&none, 0, sizeof none);
    printf("FAIL: no ended event for %llu\n", (unsigned long long)id);
    failures++;
    return none;
}

static void expect_error(net_id id, net_error code, const char *what) {
    CHECK(id != 0);
    net_event e = ended(id);
    if (!e.is_error || e.error_code != code) {
        printf("FAIL %s: got %s (%s), want %s\n", what, net_error_name(e.error_code),
               e.error ? e.error : "(null)", net_error_name(code));
        failures++;
    }
    CHECK(e.error != NULL && (e.is_error ? strlen(e.error) > 0 : strlen(e.error) == 0));
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: abi_test URL DIRECTORY\n");
        return 2;
    }
    const char *url = argv[1];
    CHECK(net_set_directory(NET_DIR_DOCUMENTS, argv[2]));
    CHECK(!net_set_directory(NET_DIR_DOCUMENTS, "relative/path"));
    CHECK(!net_set_directory(99, argv[2]));
    CHECK(!net_set_directory(NET_DIR_DOCUMENTS, NULL));
    CHECK(strlen(net_version()) > 0);
    CHECK(strcmp(net_error_name(NET_ERROR_NONE), "NET_ERROR_NONE") == 0);
    CHECK(strcmp(net_error_name(NET_ERROR_TIMEOUT), "NET_ERROR_TIMEOUT") == 0);
    CHECK(strcmp(net_error_name(NET_ERROR_INTERNAL), "NET_ERROR_INTERNAL") == 0);
    CHECK(strcmp(net_error_name(12345), "NET_ERROR_UNKNOWN") == 0);

    char path[4096];
    size_t len = net_get_directory(NET_DIR_DOCUMENTS, path, sizeof path);
    CHECK(len == strlen(argv[2]) && strcmp(path, argv[2]) == 0);
    CHECK(net_get_directory(NET_DIR_DOCUMENTS, NULL, 0) == len);
    CHECK(net_get_directory(77, path, sizeof path) == 0);

    /* Polling with nowhere to write never blocks and delivers nothing. */
    net_event ev[4];
    CHECK(net_poll(NULL, 4) == 0);
    CHECK(net_poll(ev, 0) == 0);
    CHECK(net_wait(NULL, 4, 10) == 0);
    CHECK(!net_cancel(0));
    CHECK(!net_cancel(424242));

    /* Bad arguments: an id and an error event, never a crash. */
    expect_error(net_download(NULL, "GET", NULL, "a.bin", NET_DIR_DOCUMENTS),
                 NET_ERROR_INVALID_ARGUMENT, "NULL url");
    expect_error(net_download("", "GET", NULL, "a.bin", NET_DIR_DOCUMENTS),
                 NET_ERROR_INVALID_ARGUMENT, "empty url");
    expect_error(net_download("http://127.0.0.1/\xff\xfe", "GET", NULL, "a.bin", NET_DIR_DOCUMENTS),
                 NET_ERROR_INVALID_ARGUMENT, "invalid UTF-8");
    expect_error(net_download("ftp://127.0.0.1/x", "GET", NULL, "a.bin", NET_DIR_DOCUMENTS),
                 NET_ERROR_UNSUPPORTED_SCHEME, "ftp");
    expect_error(net_download(url, "GET", NULL, NULL, NET_DIR_DOCUMENTS),
                 NET_ERROR_INVALID_ARGUMENT, "NULL filename");
    expect_error(net_download(url, "GET", NULL, "a.bin", 5), NET_ERROR_INVALID_ARGUMENT,
                 "base_dir out of range");
    expect_error(net_download(url, "GET", NULL, "a.bin", NET_DIR_RESOURCE),
                 NET_ERROR_INVALID_ARGUMENT, "resource dir");
    expect_error(net_request(url, "BAD METHOD", NULL), NET_ERROR_INVALID_ARGUMENT, "method");
    expect_error(net_request(url, "GET\r\nX-Injected: 1", NULL), NET_ERROR_INVALID_ARGUMENT, "CRLF method");
    expect_error(net_request(url, "", NULL), NET_ERROR_INVALID_ARGUMENT, "empty method");

    /* Schemes other than http(s). */
    const char *schemes[] = {"file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/x",
                             "dict://127.0.0.1/x", "ldap://127.0.0.1/x"};
    for (size_t i = 0; i < sizeof schemes / sizeof *schemes; i++)
        expect_error(net_download(schemes[i], NULL, NULL, "s.bin", NET_DIR_DOCUMENTS),
                     NET_ERROR_UNSUPPORTED_SCHEME, schemes[i]);

    /* A 1 MiB URL. */
    static char huge[(1 << 20) + 32];
    memcpy(huge, "http://127.0.0.1/", 17);
    memset(huge + 17, 'a', 1 << 20);
    huge[17 + (1 << 20)] = 0;
    expect_error(net_request(huge, NULL, NULL), NET_ERROR_INVALID_ARGUMENT, "1 MiB URL");

    /* Filenames that leave their base directory or name no file. */
    const char *names[] = {"", "/etc/passwd", "../x.bin", "a/../../x.bin", "dir/", "."};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        expect_error(net_download(url, NULL, NULL, names[i], NET_DIR_DOCUMENTS), NET_ERROR_INVALID_ARGUMENT,
                     names[i]);

    /* A filename that is an existing directory; a base directory whose
     * parent is a regular file (cannot be created). */
    char dir[4200], file[4200];
    snprintf(dir, sizeof dir, "%s/existing-dir", argv[2]);
    mkdir(argv[2], 0755);
    CHECK(mkdir(dir, 0755) == 0);
    expect_error(net_download(url, NULL, NULL, "existing-dir", NET_DIR_DOCUMENTS), NET_ERROR_INVALID_ARGUMENT,
                 "filename is a directory");
    snprintf(file, sizeof file, "%s/plain-file", argv[2]);
    FILE *plain = fopen(file, "w");
    CHECK(plain != NULL);
    if (plain)
        fclose(plain);
    snprintf(dir, sizeof dir, "%s/plain-file/sub", argv[2]);
    CHECK(net_set_directory(NET_DIR_CACHES, dir));
    expect_error(net_download(url, NULL, NULL, "x.bin", NET_DIR_CACHES), NET_ERROR_IO, "uncreatable base dir");

    net_params p;
    memset(&p, 0, sizeof p);
    p.reserved[3] = 1;
    expect_error(net_request(url, NULL, &p), NET_ERROR_INVALID_ARGUMENT, "reserved");
    memset(&p, 0, sizeof p);
    p.reserved32 = 1;
    expect_error(net_request(url, NULL, &p), NET_ERROR_INVALID_ARGUMENT, "reserved32");
    /* net_options' extension rule: a size that is no version's size, or a
     * larger struct whose bytes past this header's are not zero, are
     * refused; a larger one with a zero tail is read as this one. */
    struct {
        net_options o;
        unsigned char newer[16];
    } ext;
    memset(&ext, 0, sizeof ext);
    memset(&p, 0, sizeof p);
    p.options = &ext.o;
    expect_error(net_request(url, NULL, &p), NET_ERROR_INVALID_ARGUMENT, "options size 0");
    ext.o.size = 32;
    expect_error(net_request(url, NULL, &p), NET_ERROR_INVALID_ARGUMENT, "options size 32");
    ext.o.size = (uint32_t)sizeof ext;
    ext.newer[7] = 1;
    expect_error(net_request(url, NULL, &p), NET_ERROR_INVALID_ARGUMENT, "unknown newer field");
    ext.newer[7] = 0;
    ext.o.max_retries = 101;
    expect_error(net_request(url, NULL, &p), NET_ERROR_INVALID_ARGUMENT, "max_retries 101");
    ext.o.max_retries = 0;
    {
        net_event e = ended(net_request(url, NULL, &p));
        CHECK(!e.is_error && e.status == 200 && e.attempt == 1 && e.flags == 0);
    }
    ext.o = net_options_init();
    CHECK(ext.o.size == sizeof(net_options) && ext.o.max_retries == 0 && ext.o.sha256 == NULL);
    ext.o.reserved8 = 1;
    expect_error(net_request(url, NULL, &p), NET_ERROR_INVALID_ARGUMENT, "options reserved8");
    ext.o = net_options_init();
    ext.o.reserved24[1] = 1;
    expect_error(net_request(url, NULL, &p), NET_ERROR_INVALID_ARGUMENT, "options reserved24");
    /* A caller built against the first net_options (64 bytes, up to
     * `segments`): nothing past its struct is read, whatever lies there. */
    ext.o = net_options_init();
    ext.o.size = 64;
    ext.o.persist = 1;         /* refused on a request, were it read */
    ext.o.reserved24[0] = 7;   /* refused, were it read */
    ext.o.tag = (const char *)1; /* a wild pointer, were it read */
    {
        net_event e = ended(net_request(url, NULL, &p));
        CHECK(!e.is_error && e.status == 200 && e.tag == NULL);
    }
    ext.o.size = 72; /* cuts `max_speed` */
    expect_error(net_request(url, NULL, &p), NET_ERROR_INVALID_ARGUMENT, "options size 72");
    memset(&p, 0, sizeof p);
    p.progress_of = 2;
    expect_error(net_request(url, NULL, &p), NET_ERROR_INVALID_ARGUMENT, "progress_of");
    memset(&p, 0, sizeof p);
    p.header_count = 2;
    expect_error(net_request(url, NULL, &p), NET_ERROR_INVALID_ARGUMENT, "NULL headers");
    memset(&p, 0, sizeof p);
    p.body_type = 9;
    expect_error(net_request(url, NULL, &p), NET_ERROR_INVALID_ARGUMENT, "body_type");
    memset(&p, 0, sizeof p);
    net_header bad[] = {{"X-Ok", "a\r\nInjected: 1"}, {"X-Bad\r\nName", "v"}, {"X Space", "v"},
                        {"X-Ok", "line\nfeed"}, {"", "v"}, {NULL, "v"}, {"X-Ok", NULL}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        p.headers = &bad[i];
        p.header_count = 1;
        expect_error(net_request(url, NULL, &p), NET_ERROR_INVALID_ARGUMENT, "bad header");
    }

    /* user_data is echoed even when params are rejected. */
    int marker = 7;
    memset(&p, 0, sizeof p);
    p.user_data = &marker;
    p.body_type = 9;
    net_id id = net_request(url, NULL, &p);
    net_event e = ended(id);
    CHECK(e.user_data == &marker);

    /* A real download with a zero-filled params struct and progress on. */
    memset(&p, 0, sizeof p);
    p.progress = true;
    p.user_data = &marker;
    id = net_download(url, "get", &p, "sub/c.bin", NET_DIR_DOCUMENTS);
    int began = 0, ended_n = 0;
    long long last = 0;
    while (!ended_n) {
        size_t n = net_wait(ev, 4, 5000);
        CHECK(n > 0);
        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++) {
            CHECK(ev[i].id == id && ev[i].user_data == &marker);
            CHECK(ev[i].bytes_transferred >= last);
            last = ev[i].bytes_transferred;
            if (ev[i].phase == NET_PHASE_BEGAN) {
                began++;
                CHECK(ev[i].status == 200 && ev[i].bytes_estimated == 20000);
                CHECK(ev[i].header_count > 0 && ev[i].headers != NULL);
            } else if (ev[i].phase == NET_PHASE_ENDED) {
                ended_n++;
                CHECK(!ev[i].is_error && ev[i].error_code == NET_ERROR_NONE);
                CHECK(ev[i].status == 200 && ev[i].bytes_transferred == 20000);
                CHECK(ev[i].path != NULL && strstr(ev[i].path, "sub/c.bin") != NULL);
                CHECK(ev[i].filename != NULL && strcmp(ev[i].filename, "sub/c.bin") == 0);
                CHECK(ev[i].base_dir == NET_DIR_DOCUMENTS);
                CHECK(ev[i].response_type == NET_RESPONSE_BINARY);
                CHECK(ev[i].body == NULL && ev[i].body_len == 0);
                CHECK(strcmp(ev[i].url, url) == 0);
            }
        }
    }
    CHECK(began == 1 && ended_n == 1);

    /* Booleans are bytes: any non-zero value is true (a C bool, 0xff from
     * memset, an old binary's padding). */
    memset(&p, 0, sizeof p);
    memset(&p.progress, 0xff, sizeof p.progress);
    memset(&p.no_redirects, 0x80, sizeof p.no_redirects);
    id = net_request(url, NULL, &p);
    began = 0;
    for (int tries = 0; tries < 50; tries++) {
        size_t n = net_wait(ev, 4, 100);
        int done = 0;
        for (size_t i = 0; i < n; i++) {
            CHECK(ev[i].id == id);
            began += ev[i].phase == NET_PHASE_BEGAN;
            if (ev[i].phase == NET_PHASE_ENDED) {
                CHECK(!ev[i].is_error && ev[i].status == 200 && ev[i].body_len == 20000);
                done = 1;
            }
        }
        if (done)
            break;
    }
    CHECK(began == 1);

    /* After shutdown every call is a harmless no-op. */
    net_shutdown();
    net_shutdown();
    CHECK(net_download(url, "GET", NULL, "late.bin", NET_DIR_DOCUMENTS) == 0);
    CHECK(net_request(url, "GET", NULL) == 0);
    CHECK(!net_cancel(id));
    CHECK(net_poll(ev, 4) == 0);
    CHECK(net_wait(ev, 4, 10) == 0);
    CHECK(!net_set_directory(NET_DIR_DOCUMENTS, argv[2]));
    CHECK(!net_set_app_name("x"));
    CHECK(!net_set_limits(1, 1));
    CHECK(net_get_directory(NET_DIR_DOCUMENTS, path, sizeof path) == 0);
    CHECK(net_queue_create() == NULL);
    CHECK(net_queue_poll(NULL, ev, 4) == 0);
    CHECK(net_queue_wait(NULL, ev, 4, 10) == 0);
    net_queue_destroy(NULL);

    printf("%s: %d failure(s)\n", failures ? "FAILED" : "ok", failures);
    return failures ? 1 : 0;
}
