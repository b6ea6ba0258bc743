/* fuzz_amlsim.c — libFuzzer target for the AMLSim CSV readers (amlsim.h).
 * The bytes before the first form feed (\f) are nodes.csv and the rest
 * transactions.csv (without a form feed, the whole input is both). What must
 * hold for any input: errors are printable sentences; a finished data set is
 * ordered by (step, line) with non-decreasing event times, its accounts and
 * record ids resolve both ways, and each record it writes decodes with the
 * engine's decoder to the same values. Violations abort, which the fuzzer or
 * the sanitizers report. The gzip and tar readers have fuzz_archive.c. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlsim.h"
#include "txn.h"

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "fuzz_amlsim: check failed: %s (%s:%d)\n", #cond, __FILE__, \
                    __LINE__);                                                           \
            abort();                                                                     \
        }                                                                                \
    } while (0)

static void check_message(const char *s) {
    size_t n = strlen(s);
    CHECK(n > 0);
    for (size_t i = 0; i < n; i++)
        CHECK((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f);
}

static void count_bad(void *opaque, const char *file, uint64_t line, const char *reason) {
    CHECK(file && line > 0);
    check_message(reason);
    ++*(uint64_t *)opaque;
}

static void check_set(const fw_amlsim_data *d) {
    uint32_t nacc = fw_amlsim_naccounts(d), ntxn = fw_amlsim_ntxn(d);
    CHECK(fw_amlsim_nlabelled(d) <= nacc && fw_amlsim_nfraud(d) <= fw_amlsim_nlabelled(d));
    for (uint32_t a = 0; a < nacc; a++) {
        fw_str id = fw_amlsim_account_id(d, a);
        CHECK(id.ptr && id.len > 0 && id.len <= FW_AMLSIM_MAX_ID);
        CHECK(fw_amlsim_find_account(d, id) == a);
        CHECK(fw_amlsim_fraud(d)[a] <= 1);
    }
    const fw_amlsim_txn *t = fw_amlsim_txns(d);
    fw_buf b;
    fw_buf_init(&b, 0);
    for (uint32_t i = 0; i < ntxn; i++) {
        CHECK(t[i].src < nacc && t[i].dst < nacc);
        CHECK(t[i].value >= 0 && t[i].step >= 0 && t[i].step <= FW_AMLSIM_MAX_STEP);
        if (i) {
            CHECK(t[i - 1].step < t[i].step ||
                  (t[i - 1].step == t[i].step && t[i - 1].line < t[i].line));
            CHECK(t[i - 1].ts_ms <= t[i].ts_ms);
        }
        char id[32];
        snprintf(id, sizeof(id), "aml-%u", (unsigned)t[i].line);
        CHECK(fw_amlsim_find_txn(d, fw_str_c(id)) == i);
        fw_buf_reset(&b);
        CHECK(fw_amlsim_write_record(d, i, &b));
        fw_txn x;
        fw_decode_error err;
        if (fw_txn_decode_json(b.data, b.len, NULL, 0, &x, &err) != FW_OK) {
            fprintf(stderr, "fuzz_amlsim: record rejected: %s\n%.*s\n", err.reason,
                    (int)b.len, b.data);
            abort();
        }
        CHECK(fw_str_eq_c(x.transaction_id, id));
        CHECK(x.ts_ms == t[i].ts_ms);
        CHECK(x.amount == t[i].value);
        CHECK(x.type == FW_TXN_TRANSFER);
        CHECK(fw_str_eq(x.account_id, fw_amlsim_account_id(d, t[i].src)));
        CHECK(fw_str_eq(x.counterparty_id, fw_amlsim_account_id(d, t[i].dst)));
    }
    fw_buf_fini(&b);
}

static void fuzz_csv(const char *p, size_t n) {
    const char *ff = memchr(p, '\f', n);
    const char *nodes = p, *txns = ff ? ff + 1 : p;
    size_t nodes_len = ff ? (size_t)(ff - p) : n, txns_len = ff ? n - nodes_len - 1 : n;
    fw_amlsim_data *d = fw_amlsim_new("fuzz", "fuzz");
    CHECK(d);
    char errstr[300] = "";
    uint64_t bad = 0;
    fw_err err = fw_amlsim_parse_nodes(d, nodes, nodes_len, "nodes.csv", count_bad, &bad,
                                       errstr, sizeof(errstr));
    if (!err)
        err = fw_amlsim_parse_transactions(d, txns, txns_len, "transactions.csv", count_bad,
                                           &bad, errstr, sizeof(errstr));
    CHECK(err == FW_OK || err == FW_ERR_INVALID);
    if (err) {
        check_message(errstr);
    } else {
        CHECK(bad == fw_amlsim_bad_lines(d));
        fw_amlsim_finish(d);
        check_set(d);
    }
    fw_amlsim_destroy(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_csv((const char *)data, size);
    return 0;
}
