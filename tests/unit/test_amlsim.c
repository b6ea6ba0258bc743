/* test_amlsim.c — the AMLSim readers (amlsim.h) on inputs built here: CSV rows
 * good and bad (reported with file and line), step ordering and event times,
 * the generated transaction records (read back by the engine's decoder), and
 * whole .tgz files and folders through fw_amlsim_load. The gzip inflater and
 * the tar walker have their own tests (test_archive.c). */
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
#include "tar_build.h"
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
        cmocka_unit_test(test_load_archives_and_folders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
