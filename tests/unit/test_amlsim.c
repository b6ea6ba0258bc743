/* test_amlsim.c — the AMLSim readers (amlsim.h) on inputs built here: CSV rows
 * good and bad (reported with file and line), step ordering and event times,
 * the generated transaction records (read back by the engine's decoder), the
 * ustar walker on hand-made headers (prefix, GNU long names, pax paths,
 * corrupt and truncated archives), gzip in memory, and whole .tgz files and
 * folders through fw_amlsim_load. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "amlsim.h"
#include "txn.h"

/* ------------------------------------------------------------ helpers */

typedef struct bad_rows {
    int n;
    char file[8][128];
    uint64_t line[8];
    char reason[8][200];
} bad_rows;

static void on_bad(void *opaque, const char *file, uint64_t line, const char *reason) {
    bad_rows *b = opaque;
    if (b->n < 8) {
        snprintf(b->file[b->n], sizeof(b->file[0]), "%s", file);
        b->line[b->n] = line;
        snprintf(b->reason[b->n], sizeof(b->reason[0]), "%s", reason);
    }
    b->n++;
}

static void assert_contains(const char *s, const char *part) {
    if (!strstr(s, part))
        fail_msg("\"%s\" does not contain \"%s\"", s, part);
}

/* A set read from two CSV strings, finished. */
static fw_amlsim_data *set_of(const char *nodes, const char *txns, bad_rows *bad) {
    char errstr[256] = "";
    fw_amlsim_data *d = fw_amlsim_new("t", "test");
    assert_non_null(d);
    if (fw_amlsim_parse_nodes(d, nodes, strlen(nodes), "nodes.csv", on_bad, bad, errstr,
                              sizeof(errstr)) != FW_OK ||
        fw_amlsim_parse_transactions(d, txns, strlen(txns), "transactions.csv", on_bad, bad,
                                     errstr, sizeof(errstr)) != FW_OK)
        fail_msg("parse failed: %s", errstr);
    fw_amlsim_finish(d);
    return d;
}

/* ------------------------------------------------------------ CSV */

static void test_csv_rows_and_labels(void **state) {
    (void)state;
    bad_rows bad = { 0 };
    /* BOM, CRLF, columns in another order, an extra column, blank lines, quotes. */
    const char *nodes = "\xef\xbb\xbfisFraud,init_balance,nodeid,fraudStep\r\n"
                        "0,1.5,10,-1\r\n"
                        "1,2.5,11,3\r\n"
                        "\r\n"
                        "true,0,\"12\",1\r\n"
                        "x,0,13,1\r\n"      /* line 6: bad flag */
                        "0,0,11,1\r\n"      /* line 7: duplicate */
                        "0,0,bad id,1\r\n"; /* line 8: bad id */
    const char *txns = "sourceNodeId,targetNodeId,value,time\n"
                       "10,11,100.5,2\n"
                       "11,12,7,1\n"
                       "12,99,3e2,2\n"      /* 99 is not in nodes.csv */
                       "10,11,-1,1\n"       /* line 5: negative */
                       "10,11,nan,1\n"      /* line 6 */
                       "10,11,5\n"          /* line 7: 3 fields */
                       "10,11,5,1.5\n"      /* line 8: fractional step */
                       "10,11,5,1,extra\n"  /* line 9: 5 fields */
                       "  10 , 12 , 1 , 3  \n";
    fw_amlsim_data *d = set_of(nodes, txns, &bad);
    assert_int_equal(bad.n, 8);
    static const uint64_t lines[] = { 6, 7, 8, 5, 6, 7, 8, 9 };
    for (int i = 0; i < 8; i++)
        if (bad.line[i] != lines[i])
            fail_msg("bad row %d reported at line %llu, expected %llu (%s)", i,
                     (unsigned long long)bad.line[i], (unsigned long long)lines[i],
                     bad.reason[i]);
    assert_string_equal(bad.file[0], "nodes.csv");
    assert_string_equal(bad.file[3], "transactions.csv");
    assert_contains(bad.reason[0], "isFraud");
    assert_contains(bad.reason[1], "listed twice");
    assert_contains(bad.reason[2], "nodeid");
    assert_contains(bad.reason[3], "value");
    assert_contains(bad.reason[5], "expected 4 fields");
    assert_contains(bad.reason[6], "time");
    assert_int_equal(fw_amlsim_bad_lines(d), 8);

    assert_int_equal(fw_amlsim_nlabelled(d), 3);
    assert_int_equal(fw_amlsim_naccounts(d), 4); /* 99 added, unlabelled */
    assert_int_equal(fw_amlsim_nfraud(d), 2);
    uint32_t a11 = fw_amlsim_find_account(d, fw_str_c("11"));
    uint32_t a99 = fw_amlsim_find_account(d, fw_str_c("99"));
    assert_true(a11 != UINT32_MAX && a99 != UINT32_MAX);
    assert_int_equal(fw_amlsim_fraud(d)[a11], 1);
    assert_int_equal(fw_amlsim_fraud(d)[a99], 0);
    assert_int_equal(fw_amlsim_find_account(d, fw_str_c("1")), UINT32_MAX);

    /* Ordered by step, then line: (1, line 3), (2, line 2), (2, line 4), (3, line 10). */
    assert_int_equal(fw_amlsim_ntxn(d), 4);
    const fw_amlsim_txn *t = fw_amlsim_txns(d);
    static const uint32_t order[] = { 3, 2, 4, 10 };
    for (int i = 0; i < 4; i++)
        assert_int_equal(t[i].line, order[i]);
    /* Step 1 starts at the epoch; the two rows of step 2 split its day. */
    assert_int_equal(t[0].ts_ms, FW_AMLSIM_EPOCH_MS);
    assert_int_equal(t[1].ts_ms, FW_AMLSIM_EPOCH_MS + FW_AMLSIM_STEP_MS);
    assert_int_equal(t[2].ts_ms, FW_AMLSIM_EPOCH_MS + FW_AMLSIM_STEP_MS * 3 / 2);
    assert_int_equal(t[3].ts_ms, FW_AMLSIM_EPOCH_MS + 2 * FW_AMLSIM_STEP_MS);
    assert_true(t[2].value == 300.0);
    /* Record ids lead back to the rows. */
    assert_int_equal(fw_amlsim_find_txn(d, fw_str_c("aml-4")), 2);
    assert_int_equal(fw_amlsim_find_txn(d, fw_str_c("aml-5")), UINT32_MAX); /* skipped row */
    assert_int_equal(fw_amlsim_find_txn(d, fw_str_c("aml-")), UINT32_MAX);
    assert_int_equal(fw_amlsim_find_txn(d, fw_str_c("aml-99999999999")), UINT32_MAX);
    assert_int_equal(fw_amlsim_find_txn(d, fw_str_c("tx-4")), UINT32_MAX);
    fw_amlsim_destroy(d);
}

static void test_csv_headers(void **state) {
    (void)state;
    char errstr[256];
    fw_amlsim_data *d = fw_amlsim_new("t", "test");
    const char *no_flag = "nodeid,init_balance\n1,2\n";
    assert_int_equal(fw_amlsim_parse_nodes(d, no_flag, strlen(no_flag), "n.csv", NULL, NULL,
                                           errstr, sizeof(errstr)), FW_ERR_INVALID);
    assert_contains(errstr, "n.csv:1");
    assert_contains(errstr, "isFraud");
    assert_int_equal(fw_amlsim_parse_nodes(d, "\n\n", 2, "n.csv", NULL, NULL, errstr,
                                           sizeof(errstr)), FW_ERR_INVALID);
    assert_contains(errstr, "empty file");
    const char *no_time = "\nsourceNodeId,targetNodeId,value\n1,2,3\n";
    assert_int_equal(fw_amlsim_parse_transactions(d, no_time, strlen(no_time), "t.csv", NULL,
                                                  NULL, errstr, sizeof(errstr)),
                     FW_ERR_INVALID);
    assert_contains(errstr, "t.csv:2");
    assert_contains(errstr, "\"time\"");
    fw_amlsim_destroy(d);
}

static void test_records_decode(void **state) {
    (void)state;
    fw_amlsim_data *d = set_of("nodeid,isFraud\nA,0\nB.2,1\n",
                               "sourceNodeId,targetNodeId,value,time\nA,B.2,1234.5,149\n", NULL);
    fw_buf b;
    fw_buf_init(&b, 0);
    assert_true(fw_amlsim_write_record(d, 0, &b));
    assert_false(fw_amlsim_write_record(d, 1, &b));
    fw_txn t;
    fw_decode_error err;
    if (fw_txn_decode_json(b.data, b.len, NULL, 0, &t, &err) != FW_OK)
        fail_msg("record rejected: %s: %.*s", err.reason, (int)b.len, b.data);
    assert_true(fw_str_eq_c(t.transaction_id, "aml-2"));
    assert_true(fw_str_eq_c(t.account_id, "A"));
    assert_true(fw_str_eq_c(t.customer_id, "A"));
    assert_true(fw_str_eq_c(t.counterparty_id, "B.2"));
    assert_int_equal(t.type, FW_TXN_TRANSFER);
    assert_true(t.amount == 1234.5);
    assert_int_equal(t.ts_ms, FW_AMLSIM_EPOCH_MS + 148 * FW_AMLSIM_STEP_MS);
    fw_buf_fini(&b);
    fw_amlsim_destroy(d);
}

/* ------------------------------------------------------------ tar */

typedef struct tarbuf {
    unsigned char data[64 * 1024];
    size_t len;
} tarbuf;

/* Appends a ustar header (checksum computed) and @p body padded to 512. */
static void tar_add(tarbuf *t, const char *name, const char *prefix, char type,
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

static void tar_end(tarbuf *t) {
    memset(t->data + t->len, 0, 1024);
    t->len += 1024;
}

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

/* ------------------------------------------------------------ loading */

static const char nodes_csv[] = "nodeid,isFraud,init_balance,fraudStep\n0,0,1,-1\n1,1,1,2\n"
                                "2,1,1,2\n";
static const char txns_csv[] = "sourceNodeId,targetNodeId,value,time\n0,1,10,1\n1,2,20,2\n";

static void write_tgz(const char *path, const tarbuf *t) {
    gzFile gz = gzopen(path, "wb");
    assert_non_null(gz);
    assert_int_equal(gzwrite(gz, t->data, (unsigned)t->len), (int)t->len);
    assert_int_equal(gzclose(gz), Z_OK);
}

static void write_text(const char *path, const char *s) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(s, f);
    fclose(f);
}

static void free_sets(fw_amlsim_data **sets, size_t n) {
    for (size_t i = 0; i < n; i++)
        fw_amlsim_destroy(sets[i]);
    free(sets);
}

static void test_load_archives_and_folders(void **state) {
    (void)state;
    char dir[] = "/tmp/fw-test-amlsim.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[512], sub[256], errstr[512];
    static tarbuf t;
    t.len = 0;
    tar_add(&t, "simA/", NULL, '5', NULL, 0);
    tar_add(&t, "simA/._transactions.csv", NULL, '0', "\0\5junk", 6); /* macOS twin */
    tar_add(&t, "simA/nodes.csv", NULL, '0', nodes_csv, strlen(nodes_csv));
    tar_add(&t, "simA/transactions.csv", NULL, '0', txns_csv, strlen(txns_csv));
    tar_add(&t, "simA/plot.png", NULL, '0', "PNG", 3);
    tar_add(&t, "transactions.csv", NULL, '0', txns_csv, strlen(txns_csv)); /* root set */
    tar_add(&t, "nodes.csv", NULL, '0', nodes_csv, strlen(nodes_csv));
    tar_end(&t);
    snprintf(path, sizeof(path), "%s/b_two.tgz", dir);
    write_tgz(path, &t);

    fw_amlsim_data **sets;
    size_t n;
    if (fw_amlsim_load(path, &sets, &n, NULL, NULL, errstr, sizeof(errstr)) != FW_OK)
        fail_msg("load failed: %s", errstr);
    assert_int_equal(n, 2);
    assert_string_equal(fw_amlsim_name(sets[0]), "simA");
    assert_string_equal(fw_amlsim_name(sets[1]), "b_two"); /* the archive's name */
    assert_int_equal(fw_amlsim_naccounts(sets[0]), 3);
    assert_int_equal(fw_amlsim_nfraud(sets[0]), 2);
    assert_int_equal(fw_amlsim_ntxn(sets[0]), 2);
    free_sets(sets, n);

    /* An unpacked folder, and a folder holding it and the archive (name order). */
    snprintf(sub, sizeof(sub), "%s/a_folder", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    snprintf(path, sizeof(path), "%s/nodes.csv", sub);
    write_text(path, nodes_csv);
    snprintf(path, sizeof(path), "%s/transactions.csv", sub);
    write_text(path, txns_csv);
    assert_int_equal(fw_amlsim_load(sub, &sets, &n, NULL, NULL, errstr, sizeof(errstr)), FW_OK);
    assert_int_equal(n, 1);
    assert_string_equal(fw_amlsim_name(sets[0]), "a_folder");
    free_sets(sets, n);
    assert_int_equal(fw_amlsim_load(dir, &sets, &n, NULL, NULL, errstr, sizeof(errstr)), FW_OK);
    assert_int_equal(n, 3);
    assert_string_equal(fw_amlsim_name(sets[0]), "a_folder");
    assert_string_equal(fw_amlsim_name(sets[1]), "simA");
    free_sets(sets, n);

    /* An archive with transactions.csv but no nodes.csv beside it. */
    t.len = 0;
    tar_add(&t, "x/transactions.csv", NULL, '0', txns_csv, strlen(txns_csv));
    tar_add(&t, "y/nodes.csv", NULL, '0', nodes_csv, strlen(nodes_csv));
    tar_end(&t);
    snprintf(path, sizeof(path), "%s/c_bad.tgz", dir);
    write_tgz(path, &t);
    assert_int_equal(fw_amlsim_load(path, &sets, &n, NULL, NULL, errstr, sizeof(errstr)),
                     FW_ERR_INVALID);
    assert_contains(errstr, "x/transactions.csv has no nodes.csv");
    /* A directory of sets fails as a whole when one archive is bad. */
    assert_int_equal(fw_amlsim_load(dir, &sets, &n, NULL, NULL, errstr, sizeof(errstr)),
                     FW_ERR_INVALID);
    unlink(path);
    /* Not an archive at all; nothing there. */
    snprintf(path, sizeof(path), "%s/d.tgz", dir);
    write_text(path, "hello");
    assert_int_equal(fw_amlsim_load(path, &sets, &n, NULL, NULL, errstr, sizeof(errstr)),
                     FW_ERR_INVALID);
    assert_contains(errstr, "not a .tgz or .tar archive");
    unlink(path);
    snprintf(path, sizeof(path), "%s/missing.tgz", dir);
    assert_int_equal(fw_amlsim_load(path, &sets, &n, NULL, NULL, errstr, sizeof(errstr)),
                     FW_ERR_IO);
    assert_contains(errstr, "missing.tgz");

    /* Clean up. */
    snprintf(path, sizeof(path), "%s/b_two.tgz", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/nodes.csv", sub);
    unlink(path);
    snprintf(path, sizeof(path), "%s/transactions.csv", sub);
    unlink(path);
    rmdir(sub);
    assert_int_equal(rmdir(dir), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_rows_and_labels),
        cmocka_unit_test(test_csv_headers),
        cmocka_unit_test(test_records_decode),
        cmocka_unit_test(test_tar_walk),
        cmocka_unit_test(test_tar_malformed),
        cmocka_unit_test(test_gunzip),
        cmocka_unit_test(test_load_archives_and_folders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
