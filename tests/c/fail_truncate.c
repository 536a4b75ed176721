/* Test shim, loaded with LD_PRELOAD into a test process (tests/suspend.rs):
 * while the file named by NETDL_TEST_FAIL_TRUNCATE exists, every
 * ftruncate(2) fails with EIO -- a local failure the test switches on and
 * off from outside, at the moment it chooses, with no hook in the library.
 *
 * Without the variable, or while that file does not exist, every call goes
 * straight to the C library. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

/* True while the switch file exists. */
static int failing(void) {
    const char *flag = getenv("NETDL_TEST_FAIL_TRUNCATE");
    return flag != NULL && access(flag, F_OK) == 0;
}

static int (*real_ftruncate)(int, off_t);
static int (*real_ftruncate64)(int, off64_t);

/* Resolved once, before the process's own code runs (POSIX lets dlsym's
 * result be cast to a function pointer). */
__attribute__((constructor)) static void resolve(void) {
    real_ftruncate = (int (*)(int, off_t))dlsym(RTLD_NEXT, "ftruncate");
    real_ftruncate64 = (int (*)(int, off64_t))dlsym(RTLD_NEXT, "ftruncate64");
}

int ftruncate(int fd, off_t length) {
    if (failing()) {
        errno = EIO;
        return -1;
    }
    return real_ftruncate(fd, length);
}

int ftruncate64(int fd, off64_t length) {
    if (failing()) {
        errno = EIO;
        return -1;
    }
    return real_ftruncate64(fd, length);
}
