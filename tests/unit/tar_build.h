/* tar_build.h — ustar archives built in memory for the tests of the tar
 * walker (test_archive.c) and of the AMLSim loader (test_amlsim.c): one
 * header per member, checksum computed, bodies padded to 512 bytes. */
#ifndef FW_TEST_TAR_BUILD_H
#define FW_TEST_TAR_BUILD_H

#include <stdio.h>
#include <string.h>

typedef struct tarbuf {
    unsigned char data[64 * 1024];
    size_t len;
} tarbuf;

/* Appends a ustar header (checksum computed) and @p body padded to 512. */
static inline void tar_add(tarbuf *t, const char *name, const char *prefix, char type,
                    const char *body, size_t size) {
    unsigned char *h = t->data + t->len;
    memset(h, 0, 512);
    memcpy(h, name, strnlen(name, 100));
    memcpy(h + 100, "0000644", 7);
    memcpy(h + 108, "0000000", 7);
    memcpy(h + 116, "0000000", 7);
    snprintf((char *)h + 124, 12, "%011o", (unsigned)size);
    memcpy(h + 136, "00000000000", 11);
    h[156] = (unsigned char)type;
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    if (prefix)
        memcpy(h + 345, prefix, strlen(prefix));
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum); /* six digits, NUL, space */
    h[155] = ' ';
    t->len += 512;
    if (size) {
        memcpy(t->data + t->len, body, size);
        t->len += (size + 511) / 512 * 512;
    }
}

static inline void tar_end(tarbuf *t) {
    memset(t->data + t->len, 0, 1024);
    t->len += 1024;
}

#endif
