/* fuzz_archive.c — libFuzzer target for the gzip inflater and the tar walker
 * (archive.h). Every input goes to the tar walker, and to the gzip inflater
 * and then the tar walker on what it yields. What must hold for any input:
 * errors are printable sentences; the inflater's output respects its limit;
 * tar members lie inside the buffer with NUL-terminated names and typeflags
 * normalised. Violations abort, which the fuzzer or the sanitizers report. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "fuzz_archive: check failed: %s (%s:%d)\n", #cond, __FILE__,\
                    __LINE__);                                                           \
            abort();                                                                     \
        }                                                                                \
    } while (0)

#define GUNZIP_MAX ((size_t)4 << 20)

static void check_message(const char *s) {
    size_t n = strlen(s);
    CHECK(n > 0);
    for (size_t i = 0; i < n; i++)
        CHECK((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f);
}

typedef struct walk {
    const char *base;
    size_t n;
} walk;

static bool check_member(void *opaque, const fw_tar_entry *e) {
    walk *w = opaque;
    CHECK(e->name && strlen(e->name) <= 4096 + 256);
    CHECK(e->offset + 512 <= w->n);
    CHECK(e->size <= w->n);
    CHECK(!e->size || (e->data >= w->base && e->data + e->size <= w->base + w->n));
    CHECK(e->type != '\0' && e->type != '7');
    return true;
}

static void fuzz_tar(const char *p, size_t n) {
    walk w = { .base = p, .n = n };
    char errstr[300] = "";
    fw_err err = fw_tar_each(p, n, check_member, &w, errstr, sizeof(errstr));
    CHECK(err == FW_OK || err == FW_ERR_INVALID);
    if (err)
        check_message(errstr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = (const char *)data;
    fuzz_tar(p, size);
    char *out = NULL, errstr[300] = "";
    size_t out_len = 0;
    fw_err err = fw_gunzip(p, size, GUNZIP_MAX, &out, &out_len, errstr, sizeof(errstr));
    CHECK(err == FW_OK || err == FW_ERR_INVALID || err == FW_ERR_LIMIT);
    if (err) {
        CHECK(!out);
        check_message(errstr);
    } else {
        CHECK(out_len <= GUNZIP_MAX);
        fuzz_tar(out, out_len);
        free(out);
    }
    return 0;
}
