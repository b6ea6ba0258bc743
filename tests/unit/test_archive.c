/* test_archive.c — the gzip inflater and the ustar walker (archive.h) on
 * inputs built here: hand-made tar headers (prefix, GNU long names, pax
 * paths, an early stop, corrupt and truncated archives) and gzip in memory
 * (several members, padding, trailing garbage, truncation, corruption, the
 * output limit). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <cmocka.h>

#include "archive.h"
#include "tar_build.h"

static void assert_contains(const char *s, const char *part) {
    if (!strstr(s, part))
        fail_msg("\"%s\" does not contain \"%s\"", s, part);
}

/* ------------------------------------------------------------ tar */

typedef struct seen {
    int n;
    char name[8][300];
    char type[8];
    size_t size[8];
    char first[8];
} seen;

static bool collect(void *opaque, const fw_tar_entry *e) {
    seen *s = opaque;
    if (s->n < 8) {
        snprintf(s->name[s->n], sizeof(s->name[0]), "%s", e->name);
        s->type[s->n] = e->type;
        s->size[s->n] = e->size;
        s->first[s->n] = e->size ? e->data[0] : 0;
    }
    s->n++;
    return true;
}

static bool stop_at_first(void *opaque, const fw_tar_entry *e) {
    (void)e;
    ++*(int *)opaque;
    return false;
}

static void test_tar_walk(void **state) {
    (void)state;
    static tarbuf t;
    t.len = 0;
    tar_add(&t, "set/", NULL, '5', NULL, 0);
    tar_add(&t, "nodes.csv", "deep/set", '0', "abc", 3);
    char longname[200];
    memset(longname, 'n', sizeof(longname));
    memcpy(longname + 190, "/x.csv", 7);
    tar_add(&t, "././@LongLink", NULL, 'L', longname, strlen(longname) + 1);
    tar_add(&t, "truncated-name", NULL, '0', "L", 1);
    const char pax[] = "29 path=pax/transactions.csv\n";
    tar_add(&t, "PaxHeader", NULL, 'x', pax, strlen(pax));
    tar_add(&t, "short", NULL, '\0', "P", 1);
    tar_end(&t);
    seen s = { 0 };
    char errstr[256] = "";
    if (fw_tar_each(t.data, t.len, collect, &s, errstr, sizeof(errstr)) != FW_OK)
        fail_msg("walk failed: %s", errstr);
    assert_int_equal(s.n, 4);
    assert_string_equal(s.name[0], "set/");
    assert_int_equal(s.type[0], '5');
    assert_string_equal(s.name[1], "deep/set/nodes.csv");
    assert_int_equal(s.size[1], 3);
    assert_int_equal(s.first[1], 'a');
    assert_string_equal(s.name[2], longname);
    assert_int_equal(s.first[2], 'L');
    assert_string_equal(s.name[3], "pax/transactions.csv");
    assert_int_equal(s.type[3], '0'); /* '\0' reads as a regular file */
    int calls = 0;
    assert_int_equal(fw_tar_each(t.data, t.len, stop_at_first, &calls, errstr, sizeof(errstr)),
                     FW_OK);
    assert_int_equal(calls, 1);
    /* No end marker, ending on a block boundary: accepted. */
    s.n = 0;
    assert_int_equal(fw_tar_each(t.data, t.len - 1024, collect, &s, errstr, sizeof(errstr)),
                     FW_OK);
    assert_int_equal(s.n, 4);
    /* Empty input: an empty archive. */
    assert_int_equal(fw_tar_each(t.data, 0, collect, &s, errstr, sizeof(errstr)), FW_OK);
}

static void test_tar_malformed(void **state) {
    (void)state;
    static tarbuf t, bad;
    t.len = 0;
    tar_add(&t, "a.csv", NULL, '0', "hello world", 11);
    tar_end(&t);
    char errstr[256];
    seen s;
    /* A flipped byte in the header: checksum mismatch, with its offset. */
    bad = t;
    bad.data[10] ^= 1;
    assert_int_equal(fw_tar_each(bad.data, bad.len, collect, &s, errstr, sizeof(errstr)),
                     FW_ERR_INVALID);
    assert_contains(errstr, "checksum");
    assert_contains(errstr, "offset 0");
    /* The member cut short. */
    assert_int_equal(fw_tar_each(t.data, 512 + 5, collect, &s, errstr, sizeof(errstr)),
                     FW_ERR_INVALID);
    assert_contains(errstr, "truncated");
    /* A size field that is not octal (checksum fixed up so only the size is wrong). */
    bad.len = 0;
    tar_add(&bad, "a.csv", NULL, '0', "x", 1);
    bad.data[124] = '9';
    memset(bad.data + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += bad.data[i];
    snprintf((char *)bad.data + 148, 8, "%06o", sum);
    assert_int_equal(fw_tar_each(bad.data, bad.len, collect, &s, errstr, sizeof(errstr)),
                     FW_ERR_INVALID);
    assert_contains(errstr, "size");
    /* Garbage after the last member that is less than a header. */
    bad = t;
    bad.len = 1024 + 100;
    memset(bad.data + 1024, 'x', 100);
    assert_int_equal(fw_tar_each(bad.data, bad.len, collect, &s, errstr, sizeof(errstr)),
                     FW_ERR_INVALID);
    assert_contains(errstr, "less than a 512-byte header");
    /* A pax record whose length does not match. */
    bad.len = 0;
    const char pax[] = "99 path=x\n";
    tar_add(&bad, "PaxHeader", NULL, 'x', pax, strlen(pax));
    tar_end(&bad);
    assert_int_equal(fw_tar_each(bad.data, bad.len, collect, &s, errstr, sizeof(errstr)),
                     FW_ERR_INVALID);
    assert_contains(errstr, "pax");
}

/* ------------------------------------------------------------ gzip */

/* gzip of @p n bytes, in memory (deflate with the gzip wrapper). */
static unsigned char *gzip_mem(const void *p, size_t n, size_t *out_len) {
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&zs, (uLong)n) + 64;
    unsigned char *out = malloc(cap);
    assert_non_null(out);
    zs.next_in = (Bytef *)(uintptr_t)p;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *out_len = cap - zs.avail_out;
    deflateEnd(&zs);
    return out;
}

static void test_gunzip(void **state) {
    (void)state;
    char text[100000];
    for (size_t i = 0; i < sizeof(text); i++)
        text[i] = (char)('a' + i % 23);
    size_t gz_len;
    unsigned char *gz = gzip_mem(text, sizeof(text), &gz_len);
    char *out, errstr[256];
    size_t out_len;
    assert_int_equal(fw_gunzip(gz, gz_len, 1 << 20, &out, &out_len, errstr, sizeof(errstr)),
                     FW_OK);
    assert_int_equal(out_len, sizeof(text));
    assert_memory_equal(out, text, sizeof(text));
    free(out);
    /* Two members and zero padding: joined. */
    unsigned char *two = calloc(2 * gz_len + 16, 1);
    memcpy(two, gz, gz_len);
    memcpy(two + gz_len, gz, gz_len);
    assert_int_equal(fw_gunzip(two, 2 * gz_len + 16, 1 << 20, &out, &out_len, errstr,
                               sizeof(errstr)), FW_OK);
    assert_int_equal(out_len, 2 * sizeof(text));
    free(out);
    /* Garbage after the stream. */
    memset(two + gz_len, 'z', 4);
    assert_int_equal(fw_gunzip(two, gz_len + 4, 1 << 20, &out, &out_len, errstr,
                               sizeof(errstr)), FW_ERR_INVALID);
    assert_contains(errstr, "after the gzip stream");
    free(two);
    /* Truncated, corrupt, over the limit, not gzip. */
    assert_int_equal(fw_gunzip(gz, gz_len / 2, 1 << 20, &out, &out_len, errstr,
                               sizeof(errstr)), FW_ERR_INVALID);
    assert_contains(errstr, "truncated");
    gz[gz_len / 2] ^= 0xff;
    gz[gz_len / 2 + 1] ^= 0xff;
    fw_err err = fw_gunzip(gz, gz_len, 1 << 20, &out, &out_len, errstr, sizeof(errstr));
    assert_int_equal(err, FW_ERR_INVALID);
    gz[gz_len / 2] ^= 0xff;
    gz[gz_len / 2 + 1] ^= 0xff;
    assert_int_equal(fw_gunzip(gz, gz_len, 1000, &out, &out_len, errstr, sizeof(errstr)),
                     FW_ERR_LIMIT);
    assert_contains(errstr, "more than 1000 bytes");
    assert_int_equal(fw_gunzip("plain", 5, 1000, &out, &out_len, errstr, sizeof(errstr)),
                     FW_ERR_INVALID);
    assert_contains(errstr, "not gzip");
    free(gz);
}

static void test_sniff(void **state) {
    (void)state;
    static tarbuf t;
    tar_add(&t, "a", NULL, '0', "x", 1);
    tar_end(&t);
    assert_true(fw_archive_is_ustar(t.data, t.len));
    assert_false(fw_archive_is_ustar(t.data, 511));
    assert_false(fw_archive_is_gzip(t.data, t.len));
    assert_true(fw_archive_is_gzip("\x1f\x8b", 2));
    assert_false(fw_archive_is_gzip("\x1f", 1));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tar_walk),
        cmocka_unit_test(test_tar_malformed),
        cmocka_unit_test(test_gunzip),
        cmocka_unit_test(test_sniff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
