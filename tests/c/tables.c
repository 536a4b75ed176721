/*
 * The header's tables from C (run by tests/tables.rs):
 *
 *   tables NAME=VALUE...
 *
 * Each argument is what Rust says about one constant (ErrorKind, BaseDir,
 * Phase). Checks that every NET_ERROR_* constant's net_error_name() is the
 * constant's own name (the macro name, stringized by the preprocessor);
 * that every argument names a NET_ERROR_* / NET_DIR_* / NET_PHASE_*
 * constant of netdl.h with that value; and that every constant listed
 * below is named by exactly one argument. Prints one line per failed
 * check; exits 1 on any failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netdl.h"

struct constant {
    const char *name;
    unsigned long value;
    int seen;
};

/* #c: the macro's name as written; (c): its value. */
#define CONSTANT(c) {#c, (c), 0}

static struct constant constants[] = {
    CONSTANT(NET_ERROR_NONE),
    CONSTANT(NET_ERROR_INVALID_ARGUMENT),
    CONSTANT(NET_ERROR_UNSUPPORTED_SCHEME),
    CONSTANT(NET_ERROR_DNS),
    CONSTANT(NET_ERROR_CONNECT),
    CONSTANT(NET_ERROR_TLS),
    CONSTANT(NET_ERROR_TIMEOUT),
    CONSTANT(NET_ERROR_NETWORK),
    CONSTANT(NET_ERROR_PROTOCOL),
    CONSTANT(NET_ERROR_TOO_MANY_REDIRECTS),
    CONSTANT(NET_ERROR_TOO_LARGE),
    CONSTANT(NET_ERROR_IO),
    CONSTANT(NET_ERROR_INTERNAL),
    CONSTANT(NET_ERROR_INTEGRITY),
    CONSTANT(NET_DIR_DOCUMENTS),
    CONSTANT(NET_DIR_TEMPORARY),
    CONSTANT(NET_DIR_CACHES),
    CONSTANT(NET_DIR_APPLICATION_SUPPORT),
    CONSTANT(NET_DIR_RESOURCE),
    CONSTANT(NET_PHASE_BEGAN),
    CONSTANT(NET_PHASE_PROGRESS),
    CONSTANT(NET_PHASE_ENDED),
};
#define COUNT (sizeof constants / sizeof *constants)

static int failures = 0;

static struct constant *find(const char *name, size_t len) {
    for (size_t i = 0; i < COUNT; i++)
        if (strlen(constants[i].name) == len && strncmp(constants[i].name, name, len) == 0)
            return &constants[i];
    return NULL;
}

int main(int argc, char **argv) {
    /* The library names every error constant as the header does. */
    for (size_t i = 0; i < COUNT; i++) {
        const struct constant *c = &constants[i];
        if (strncmp(c->name, "NET_ERROR_", 10) != 0)
            continue;
        const char *name = net_error_name((net_error)c->value);
        if (name == NULL || strcmp(name, c->name) != 0) {
            printf("FAIL net_error_name(%lu) is %s, the header calls it %s\n", c->value,
                   name ? name : "NULL", c->name);
            failures++;
        }
    }
    if (strcmp(net_error_name(NET_ERROR_INTEGRITY + 1000), "NET_ERROR_UNKNOWN") != 0) {
        printf("FAIL net_error_name of an unknown code is not NET_ERROR_UNKNOWN\n");
        failures++;
    }

    /* What Rust says, constant by constant. */
    for (int i = 1; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        if (eq == NULL) {
            printf("FAIL argument %s is not NAME=VALUE\n", argv[i]);
            failures++;
            continue;
        }
        struct constant *c = find(argv[i], (size_t)(eq - argv[i]));
        unsigned long value = strtoul(eq + 1, NULL, 10);
        if (c == NULL) {
            printf("FAIL Rust has %s; this program does not know it\n", argv[i]);
            failures++;
        } else if (c->value != value) {
            printf("FAIL %s: header %lu, Rust %lu\n", c->name, c->value, value);
            failures++;
        } else {
            c->seen++;
        }
    }
    for (size_t i = 0; i < COUNT; i++) {
        if (constants[i].seen != 1) {
            printf("FAIL %s named %d times by Rust (want once)\n", constants[i].name,
                   constants[i].seen);
            failures++;
        }
    }
    printf("%zu constants checked, %d failures\n", COUNT, failures);
    return failures == 0 ? 0 : 1;
}
