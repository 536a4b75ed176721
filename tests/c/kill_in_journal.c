/* Test shim, loaded with LD_PRELOAD into a process that runs persisted
 * downloads (tests/journal.rs): it kills that process with SIGKILL at an
 * exact point of a journal write, the moment a real kill can only hit by
 * chance.
 *
 *   NETDL_TEST_KILL="write N"   half-way through the Nth write(2) into a
 *                               `*.journal.tmp` (counted over the process):
 *                               half of its bytes are written, then SIGKILL
 *   NETDL_TEST_KILL="rename N"  just before the Nth rename of a
 *                               `*.journal.tmp` into place (the temporary
 *                               file is whole and flushed)
 *
 * Without the variable every call goes straight to the C library. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static const char SUFFIX[] = ".journal.tmp";

static int ends_with_suffix(const char *path) {
    size_t n = strlen(path), s = sizeof SUFFIX - 1;
    return n >= s && strcmp(path + n - s, SUFFIX) == 0;
}

/* Set once, before the process's own code runs (see `setup`). */
static char kind;   /* the point to kill at: 'w' or 'r' (0: never) */
static long target; /* and which call of that kind, from 1 */
static long count;  /* calls of that kind seen so far (atomic) */

typedef int (*open_fn)(const char *, int, ...);
static open_fn libc_open, libc_open64;
static ssize_t (*libc_write)(int, const void *, size_t);
static int (*libc_rename)(const char *, const char *);

/* Reads the kill point and resolves the C library's functions (POSIX lets
 * dlsym's result be cast to a function pointer). */
__attribute__((constructor)) static void setup(void) {
    libc_open = (open_fn)dlsym(RTLD_NEXT, "open");
    libc_open64 = (open_fn)dlsym(RTLD_NEXT, "open64");
    libc_write = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    libc_rename = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
    const char *v = getenv("NETDL_TEST_KILL");
    char word[16];
    long n;
    if (v && sscanf(v, "%15s %ld", word, &n) == 2 && n > 0) {
        kind = strcmp(word, "write") == 0 ? 'w' : strcmp(word, "rename") == 0 ? 'r' : 0;
        target = n;
    }
}

/* True on the Nth call of kind `k`. */
static int is_the_one(char k) {
    return kind == k && __atomic_add_fetch(&count, 1, __ATOMIC_SEQ_CST) == target;
}

/* Whether descriptor `fd` is open on a `*.journal.tmp`. */
static int is_journal_temp(int fd) {
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0) return 0;
    path[n] = '\0';
    return ends_with_suffix(path);
}

/* Only descriptors opened on a journal's temporary file are looked at
 * (a write to any other one costs a compare). */
static int journal_fd = -1;

/* open/open64 through the C library's `real` one, noting a journal's
 * temporary file. */
static int opened(open_fn real, const char *path, int flags, va_list ap) {
    mode_t mode = (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
    int fd = real(path, flags, mode);
    if (fd >= 0 && ends_with_suffix(path)) __atomic_store_n(&journal_fd, fd, __ATOMIC_SEQ_CST);
    return fd;
}

int open64(const char *path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    int fd = opened(libc_open64, path, flags, ap);
    va_end(ap);
    return fd;
}

int open(const char *path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    int fd = opened(libc_open, path, flags, ap);
    va_end(ap);
    return fd;
}

ssize_t write(int fd, const void *buf, size_t len) {
    if (fd == __atomic_load_n(&journal_fd, __ATOMIC_SEQ_CST) && is_journal_temp(fd) &&
        is_the_one('w')) {
        if (len / 2 > 0) libc_write(fd, buf, len / 2);
        kill(getpid(), SIGKILL);
    }
    return libc_write(fd, buf, len);
}

int rename(const char *from, const char *to) {
    if (ends_with_suffix(from) && is_the_one('r')) kill(getpid(), SIGKILL);
    return libc_rename(from, to);
}
