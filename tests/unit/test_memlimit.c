/* test_memlimit.c — --max-memory's sizes, and what an engine does while the
 * memory is full: no new key of state (entities and language rule keys,
 * counted), the keys it holds go on, and new keys come again after. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "engine.h"
#include "memlimit.h"
#include "txn.h"

static void test_sizes(void **state) {
    (void)state;
    static const struct {
        const char *spec;
        uint64_t allowed, want;
    } ok[] = {
        { "0", 1000, 0 },          { "off", 1000, 0 },        { "none", 0, 0 },
        { "75%", 1000, 750 },      { "100%", 1000, 1000 },    { "12.5%", 1 << 20, 131072 },
        { "4096", 0, 4096 },       { "64K", 0, 65536 },       { "512M", 0, 512ull << 20 },
        { "4G", 0, 4ull << 30 },   { "1.5GiB", 0, 3ull << 29 }, { "2gb", 0, 2ull << 30 },
        { "1T", 0, 1ull << 40 },
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        uint64_t got = 12345;
        char err[160] = "";
        if (!fw_memlimit_parse(ok[i].spec, ok[i].allowed, &got, err, sizeof(err)))
            fail_msg("\"%s\" refused: %s", ok[i].spec, err);
        if (got != ok[i].want)
            fail_msg("\"%s\" of %llu: %llu, want %llu", ok[i].spec,
                     (unsigned long long)ok[i].allowed, (unsigned long long)got,
                     (unsigned long long)ok[i].want);
    }
    static const struct {
        const char *spec, *why;
        uint64_t allowed;
    } bad[] = {
        { "150%", "more than all", 1000 }, { "50%", "cannot be read", 0 },
        { "lots", "not a memory size", 0 }, { "-1", "not a memory size", 0 },
        { "4X", "not a memory size", 0 },   { "4GG", "not a memory size", 0 },
        { "", "not a memory size", 0 },     { "1e30T", "not a memory size", 0 },
        { "5%%", "not a memory size", 100 },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t got = 0;
        char err[160] = "";
        if (fw_memlimit_parse(bad[i].spec, bad[i].allowed, &got, err, sizeof(err)))
            fail_msg("\"%s\" accepted as %llu", bad[i].spec, (unsigned long long)got);
        if (!strstr(err, bad[i].why) || !strstr(err, bad[i].spec))
            fail_msg("\"%s\": the reason \"%s\" lacks \"%s\" or the value", bad[i].spec, err,
                     bad[i].why);
    }
}

static void test_machine(void **state) {
    (void)state;
    uint64_t allowed = fw_memlimit_allowed(), rss = fw_memlimit_rss();
    if (!allowed || !rss || rss >= allowed)
        fail_msg("allowed %llu, resident %llu: expected both, the first larger",
                 (unsigned long long)allowed, (unsigned long long)rss);
    fw_memlimit m = { .limit = 1 };
    bool changed;
    assert_true(fw_memlimit_check(&m, 5000, &changed)); /* over one byte */
    assert_true(changed);
    assert_true(m.full);
    assert_false(fw_memlimit_check(&m, 5500, &changed)); /* within the second: not read */
    assert_false(changed);
    m.limit = allowed;
    assert_true(fw_memlimit_check(&m, 6000, &changed)); /* back under */
    assert_true(changed);
    assert_false(m.full);
    assert_true(fw_memlimit_check(&m, 7000, &changed)); /* still under: read, no change */
    assert_false(changed);
}

static void on_alert(void *opaque, const fw_alert *a) {
    (void)opaque;
    (void)a;
}

/* Three payments of @p account a second apart, @p from on. */
static void pay(fw_engine *e, const char *account, int64_t from) {
    fw_engine_out out = { .alert = on_alert };
    for (int i = 0; i < 3; i++) {
        char line[256];
        int n = snprintf(line, sizeof(line),
                         "{\"transaction_id\":\"%s-%lld\",\"timestamp\":%lld,\"amount\":20,"
                         "\"account_id\":\"%s\",\"customer_id\":\"c-%s\",\"merchant_id\":"
                         "\"m-%d\"}", account, (long long)from + i, (long long)from + i * 1000,
                         account, account, i);
        fw_txn t;
        fw_decode_error err;
        assert_int_equal(fw_txn_decode_json(line, (size_t)n, NULL, 0, &t, &err), FW_OK);
        fw_engine_process(e, &t, &out);
    }
}

static void test_engine_while_full(void **state) {
    (void)state;
    fw_rules r;
    fw_rules_defaults(&r);
    r.time.max_out_of_orderness_ms = 0; /* each record is judged as it comes */
    char err[256];
    fw_engine *e = fw_engine_new(&r, err, sizeof(err));
    if (!e)
        fail_msg("engine: %s", err);
    int64_t t0 = 1704067200000;
    pay(e, "a1", t0);
    const fw_state_stats *ss = fw_engine_state_stats(e);
    uint64_t held = fw_engine_keys(e);
    assert_true(held > 0);
    assert_int_equal(ss->memory_refusals, 0);

    fw_engine_set_memory_full(e, true);
    pay(e, "a2", t0 + 10000);
    if (ss->memory_refusals < 3 || fw_engine_keys(e) != held)
        fail_msg("while full: %llu refused, %llu keys (held %llu before)",
                 (unsigned long long)ss->memory_refusals, (unsigned long long)fw_engine_keys(e),
                 (unsigned long long)held);
    /* a1's keys go on: nothing of it is refused. */
    uint64_t refused = ss->memory_refusals;
    pay(e, "a1", t0 + 20000);
    if (ss->memory_refusals != refused)
        fail_msg("a1 holds its keys, yet %llu more were refused",
                 (unsigned long long)(ss->memory_refusals - refused));
    fw_engine_set_memory_full(e, false);
    pay(e, "a3", t0 + 30000);
    if (ss->memory_refusals != refused || fw_engine_keys(e) <= held)
        fail_msg("after: %llu refused (was %llu), %llu keys (held %llu)",
                 (unsigned long long)ss->memory_refusals, (unsigned long long)refused,
                 (unsigned long long)fw_engine_keys(e), (unsigned long long)held);
    fw_engine_destroy(e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_machine),
        cmocka_unit_test(test_engine_while_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
