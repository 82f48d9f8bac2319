/* free_guard: an LD_PRELOAD library for tests/zeroize.rs. It reports every heap block that is
 * freed (by free, or by realloc moving it) while still holding a given secret, so a copy of
 * key material that was dropped without being zeroized is caught whatever the heap layout.
 *
 * FREE_GUARD_NEEDLE: the secret as hex, each byte XOR 0xA5 (so the environment never holds it).
 * FREE_GUARD_REPORT: a file each finding is appended to, with a backtrace. */
#define _GNU_SOURCE
#include <execinfo.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stdio.h>

extern void __libc_free(void *);
extern void *__libc_malloc(size_t);

static unsigned char needle[64];
static size_t needle_len; /* 0: not configured (the guard is then a no-op) */
static int report_fd = -1;
static int configured;
static __thread int busy;

static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void configure(void) {
    configured = 1;
    const char *h = getenv("FREE_GUARD_NEEDLE");
    const char *path = getenv("FREE_GUARD_REPORT");
    if (!h || !path) return;
    size_t n = strlen(h) / 2;
    if (n < 8 || n > sizeof needle) return;
    for (size_t i = 0; i < n; i++) {
        int hi = hex(h[2 * i]), lo = hex(h[2 * i + 1]);
        if (hi < 0 || lo < 0) return;
        needle[i] = (unsigned char)((hi << 4 | lo) ^ 0xA5);
    }
    report_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (report_fd >= 0) needle_len = n;
}

static void inspect(void *p, const char *how) {
    if (!p || busy) return;
    busy = 1;
    if (!configured) configure();
    size_t n = needle_len ? malloc_usable_size(p) : 0;
    const unsigned char *b = p;
    for (size_t i = 0; needle_len && i + needle_len <= n; i++) {
        if (b[i] == needle[0] && memcmp(b + i, needle, needle_len) == 0) {
            char line[160];
            int len = snprintf(line, sizeof line,
                               "FOUND: %s of a %zu-byte block holding the secret at offset %zu\n",
                               how, n, i);
            write(report_fd, line, (size_t)len);
            void *frames[48];
            backtrace_symbols_fd(frames, backtrace(frames, 48), report_fd);
            break;
        }
    }
    busy = 0;
}

void free(void *p) {
    inspect(p, "free");
    __libc_free(p);
}

/* realloc as allocate, copy, free, so the block it leaves behind is inspected too. */
void *realloc(void *p, size_t size) {
    if (!p) return __libc_malloc(size);
    if (size == 0) {
        free(p);
        return NULL;
    }
    void *q = __libc_malloc(size);
    if (!q) return NULL;
    size_t old = malloc_usable_size(p);
    memcpy(q, p, old < size ? old : size);
    inspect(p, "realloc");
    __libc_free(p);
    return q;
}
