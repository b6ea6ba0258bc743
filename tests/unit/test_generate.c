/* test_generate.c — the synthetic data generator: byte-for-byte determinism,
 * the shape of every fraud scenario, the fraud ratio, the NDJSON records (read
 * back with the engine's own decoder and a small JSON syntax check), unique
 * ids, and the `generate` command writing a file. Time is the model's event
 * time only: nothing sleeps. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "commands.h"
#include "fw_time.h"
#include "gen_model.h"
#include "txn.h"

#define START_2024 1704067200000LL /* 2024-01-01T00:00:00Z */

static fw_gen_conf conf_of(uint64_t seed, uint32_t customers, double ratio, uint64_t count) {
    return (fw_gen_conf){
        .seed = seed,
        .customers = customers,
        .fraud_ratio = ratio,
        .start_ms = START_2024,
        .count = count,
    };
}

static fw_gen *gen_new(const fw_gen_conf *c) {
    char errstr[256] = "";
    fw_gen *g = fw_gen_new(c, errstr, sizeof(errstr));
    if (!g)
        fail_msg("fw_gen_new: %s", errstr);
    return g;
}

/* All records of a bounded run (count must be set). */
static fw_gen_txn *collect(fw_gen *g, uint64_t count) {
    fw_gen_txn *v = calloc(count + 1, sizeof(*v));
    assert_non_null(v);
    uint64_t n = 0;
    while (n <= count && fw_gen_next(g, &v[n]))
        n++;
    assert_int_equal(n, count);
    return v;
}

/* The NDJSON of a run, as the command writes it. */
static char *render(const fw_gen_conf *c, size_t *len) {
    fw_gen *g = gen_new(c);
    size_t cap = (size_t)c->count * (FW_GEN_JSON_MAX + 1) + 1;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t n = 0;
    fw_gen_txn t;
    while (fw_gen_next(g, &t)) {
        n += fw_gen_format_json(g, &t, buf + n);
        buf[n++] = '\n';
    }
    fw_gen_destroy(g);
    *len = n;
    return buf;
}

/* ------------------------------------------------------------ determinism */

static void test_same_seed_same_bytes(void **state) {
    (void)state;
    fw_gen_conf c = conf_of(42, 2000, 0.05, 20000);
    size_t la, lb, lc;
    char *a = render(&c, &la), *b = render(&c, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    c.seed = 43;
    char *d = render(&c, &lc);
    assert_true(la != lc || memcmp(a, d, la) != 0);
    free(a);
    free(b);
    free(d);
}

/* Without fraud, the first records do not depend on how many are asked for
 * (with fraud, instances that would not fit before the end change the tail). */
static void test_prefix_stable_across_counts(void **state) {
    (void)state;
    fw_gen_conf c = conf_of(7, 500, 0.0, 3000);
    size_t la, lb;
    char *a = render(&c, &la);
    c.count = 1000;
    char *b = render(&c, &lb);
    assert_true(lb < la);
    assert_memory_equal(a, b, lb);
    free(a);
    free(b);
}

/* --------------------------------------------------------- stream basics */

static void test_count_and_time_order(void **state) {
    (void)state;
    fw_gen_conf c = conf_of(1, 1000, 0.05, 5000);
    fw_gen *g = gen_new(&c);
    fw_gen_txn *v = collect(g, c.count);
    fw_gen_txn extra;
    assert_false(fw_gen_next(g, &extra));
    assert_int_equal(v[0].ts_ms, START_2024);
    for (uint64_t i = 0; i < c.count; i++) {
        assert_int_equal(v[i].seq, i);
        if (i && v[i].ts_ms < v[i - 1].ts_ms)
            fail_msg("record %llu at %lld is before record %llu at %lld",
                     (unsigned long long)i, (long long)v[i].ts_ms, (unsigned long long)i - 1,
                     (long long)v[i - 1].ts_ms);
    }
    const fw_gen_stats *st = fw_gen_get_stats(g);
    assert_int_equal(st->records, c.count);
    free(v);
    fw_gen_destroy(g);
}

/* 4 transactions per customer per day: 1000 customers make ~4000 a day. */
static void test_event_time_rate(void **state) {
    (void)state;
    fw_gen_conf c = conf_of(3, 1000, 0.0, 40000);
    fw_gen *g = gen_new(&c);
    fw_gen_txn *v = collect(g, c.count);
    double days = (double)(v[c.count - 1].ts_ms - v[0].ts_ms) / 86400000.0;
    double per_day = (double)c.count / days;
    if (per_day < 3600 || per_day > 4400)
        fail_msg("%.0f transactions a day, expected about 4000", per_day);
    /* Busier at midday than at night. */
    uint64_t by_hour[24] = { 0 };
    for (uint64_t i = 0; i < c.count; i++)
        by_hour[(v[i].ts_ms / 3600000) % 24]++;
    assert_true(by_hour[12] > 4 * by_hour[3]);
    free(v);
    fw_gen_destroy(g);
}

static void test_bad_conf(void **state) {
    (void)state;
    char errstr[256];
    fw_gen_conf c = conf_of(1, 0, 0.01, 10);
    assert_null(fw_gen_new(&c, errstr, sizeof(errstr)));
    assert_non_null(strstr(errstr, "customers"));
    c = conf_of(1, 10, 1.5, 10);
    assert_null(fw_gen_new(&c, errstr, sizeof(errstr)));
    assert_non_null(strstr(errstr, "ratio"));
    c = conf_of(1, 10, 0.01, 10);
    c.start_ms = -1;
    assert_null(fw_gen_new(&c, errstr, sizeof(errstr)));
    fw_gen_destroy(NULL);
}

/* -------------------------------------------------------------- scenarios */

typedef struct inst {
    int scenario;
    int n;
    uint64_t idx[FW_GEN_MAX_INSTANCE]; /* records, in emission order */
} inst;

static int scenario_index(const char *name) {
    for (int s = 0; s < fw_gen_nscenarios; s++)
        if (!strcmp(fw_gen_scenarios[s].name, name))
            return s;
    fail_msg("scenario %s is not in the table", name);
    return -1;
}

/* Groups fraud records by instance. */
static inst *group(const fw_gen_txn *v, uint64_t n, uint64_t ninst) {
    inst *in = calloc(ninst + 1, sizeof(*in));
    assert_non_null(in);
    for (uint64_t i = 0; i < n; i++) {
        if (v[i].scenario < 0)
            continue;
        assert_true(v[i].instance < ninst);
        inst *x = &in[v[i].instance];
        if (x->n == 0)
            x->scenario = v[i].scenario;
        assert_int_equal(x->scenario, v[i].scenario);
        assert_true(x->n < FW_GEN_MAX_INSTANCE);
        x->idx[x->n++] = i;
    }
    return in;
}

#define MIN_MS 60000LL

/* Checks one complete instance against its scenario's definition. */
static void check_shape(const fw_gen_txn *v, const inst *x) {
    const fw_gen_scenario *sc = &fw_gen_scenarios[x->scenario];
    const fw_gen_txn *f = &v[x->idx[0]], *l = &v[x->idx[x->n - 1]];
    const char *name = sc->name;
    if (x->n < sc->min_txns || x->n > sc->max_txns)
        fail_msg("%s instance %llu has %d transactions, expected %d..%d", name,
                 (unsigned long long)f->instance, x->n, sc->min_txns, sc->max_txns);
    for (int k = 0; k < x->n; k++)
        assert_int_equal(v[x->idx[k]].customer, f->customer);
    int64_t span = l->ts_ms - f->ts_ms;

    if (!strcmp(name, "high_amount")) {
        assert_int_equal(f->type, FW_TXN_PURCHASE);
        assert_true(f->amount_cents > 500000);
    } else if (!strcmp(name, "card_testing")) {
        /* Small purchases below 10 on one card, then one above 1000 on it. */
        for (int k = 0; k < x->n; k++) {
            const fw_gen_txn *t = &v[x->idx[k]];
            assert_int_equal(t->type, FW_TXN_PURCHASE);
            assert_int_equal(t->card, f->card);
            assert_true(t->card != 0);
            if (k < x->n - 1)
                assert_true(t->amount_cents < 1000);
        }
        assert_true(x->n - 1 >= 2);
        assert_true(l->amount_cents > 100000);
        assert_true(span <= 5 * MIN_MS);
    } else if (!strcmp(name, "velocity")) {
        for (int k = 0; k < x->n; k++)
            assert_true(v[x->idx[k]].amount_cents > 100000);
        assert_true(x->n >= 3);
        assert_true(span <= 30 * MIN_MS);
    } else if (!strcmp(name, "account_takeover")) {
        const fw_gen_txn *pw = &v[x->idx[x->n - 2]];
        assert_int_equal(pw->type, FW_TXN_PASSWORD_CHANGE);
        assert_int_equal(l->type, FW_TXN_WITHDRAWAL);
        assert_true(l->amount_cents > 500000);
        assert_true(l->ts_ms - pw->ts_ms <= 30 * MIN_MS);
    } else if (!strcmp(name, "structuring")) {
        int64_t total = 0;
        for (int k = 0; k < x->n; k++) {
            const fw_gen_txn *t = &v[x->idx[k]];
            assert_int_equal(t->type, FW_TXN_TRANSFER);
            assert_int_equal(t->cp_kind, FW_GEN_CP_EXTERNAL); /* one counterparty */
            assert_true(t->amount_cents < 1000000);
            total += t->amount_cents;
        }
        assert_true(total > 1000000);
        assert_true(span < 24 * 60 * MIN_MS);
    } else if (!strcmp(name, "rapid_small")) {
        assert_true(x->n >= 5);
        for (int k = 0; k < x->n; k++)
            assert_true(v[x->idx[k]].amount_cents < 5000);
        assert_true(span <= 10 * MIN_MS);
    } else if (!strcmp(name, "location_jump")) {
        assert_int_equal(x->n, 2);
        assert_string_not_equal(fw_gen_city_country(f->city), fw_gen_city_country(l->city));
        assert_true(span <= 60 * MIN_MS);
    } else {
        fail_msg("no shape check for scenario %s", name);
    }
}

/* Exclusive scenarios: no normal record of the customer inside the instance,
 * so "X then immediately Y" patterns see exactly the injected sequence. */
static void check_exclusive(const fw_gen_txn *v, const inst *x) {
    if (!fw_gen_scenarios[x->scenario].exclusive)
        return;
    uint32_t c = v[x->idx[0]].customer;
    for (uint64_t i = x->idx[0]; i <= x->idx[x->n - 1]; i++)
        if (v[i].customer == c && v[i].scenario < 0)
            fail_msg("normal record %llu of customer %u inside %s instance %llu",
                     (unsigned long long)i, c, fw_gen_scenarios[x->scenario].name,
                     (unsigned long long)v[x->idx[0]].instance);
}

static void check_all_instances(fw_gen *g, const fw_gen_txn *v, uint64_t n, int *seen) {
    const fw_gen_stats *st = fw_gen_get_stats(g);
    inst *in = group(v, n, st->instances);
    uint64_t fraud = 0;
    for (uint64_t k = 0; k < st->instances; k++) {
        if (in[k].n == 0)
            fail_msg("instance %llu started but wrote nothing", (unsigned long long)k);
        check_shape(v, &in[k]);
        check_exclusive(v, &in[k]);
        fraud += (uint64_t)in[k].n;
        if (seen)
            seen[in[k].scenario]++;
    }
    assert_int_equal(fraud, st->fraud);
    free(in);
}

static void test_every_scenario_shape(void **state) {
    (void)state;
    fw_gen_conf c = conf_of(42, 5000, 0.05, 100000);
    fw_gen *g = gen_new(&c);
    fw_gen_txn *v = collect(g, c.count);
    int seen[16] = { 0 };
    check_all_instances(g, v, c.count, seen);
    const char *const expected[] = { "high_amount", "card_testing", "velocity",
                                     "account_takeover", "structuring", "rapid_small",
                                     "location_jump" };
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        int s = scenario_index(expected[i]);
        if (seen[s] < 20)
            fail_msg("scenario %s: %d instances in 100000 records at 5%%", expected[i],
                     seen[s]);
    }
    free(v);
    fw_gen_destroy(g);
}

static void check_time_order(const fw_gen_txn *v, uint64_t n) {
    for (uint64_t i = 1; i < n; i++)
        if (v[i].ts_ms < v[i - 1].ts_ms)
            fail_msg("record %llu at %lld is before record %llu at %lld",
                     (unsigned long long)i, (long long)v[i].ts_ms, (unsigned long long)i - 1,
                     (long long)v[i - 1].ts_ms);
}

/* A bounded run never ends inside an instance, even a short one. */
static void test_count_never_truncates(void **state) {
    (void)state;
    for (uint64_t seed = 0; seed < 20; seed++) {
        fw_gen_conf c = conf_of(seed, 50, 0.3, 60);
        fw_gen *g = gen_new(&c);
        fw_gen_txn *v = collect(g, c.count);
        check_all_instances(g, v, c.count, NULL);
        check_time_order(v, c.count);
        free(v);
        fw_gen_destroy(g);
    }
}

/* Tiny populations at high ratios: customers are often all busy. Time still
 * never goes back, and every instance is whole. */
static void test_tiny_population(void **state) {
    (void)state;
    static const struct {
        uint32_t customers;
        double ratio;
    } cases[] = { { 1, 0.5 }, { 2, 0.9 }, { 3, 1.0 }, { 5, 0.5 } };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fw_gen_conf c = conf_of(i, cases[i].customers, cases[i].ratio, 5000);
        fw_gen *g = gen_new(&c);
        fw_gen_txn *v = collect(g, c.count);
        check_time_order(v, c.count);
        check_all_instances(g, v, c.count, NULL);
        assert_true(fw_gen_get_stats(g)->fraud > 0);
        free(v);
        fw_gen_destroy(g);
    }
}

/* Unbounded, then drained (the Ctrl-C path): open instances are finished. */
static void test_drain_completes_instances(void **state) {
    (void)state;
    fw_gen_conf c = conf_of(9, 300, 0.2, 0);
    fw_gen *g = gen_new(&c);
    uint64_t cap = 20000, n = 0;
    fw_gen_txn *v = calloc(cap, sizeof(*v));
    assert_non_null(v);
    while (n < 3000 && fw_gen_next(g, &v[n]))
        n++;
    assert_int_equal(n, 3000);
    fw_gen_drain(g);
    uint64_t before = n;
    while (n < cap && fw_gen_next(g, &v[n])) {
        assert_true(v[n].scenario >= 0); /* only the scheduled rest comes out */
        n++;
    }
    assert_true(n < cap);
    assert_true(n > before); /* structuring spans hours: something was open */
    check_all_instances(g, v, n, NULL);
    fw_gen_txn extra;
    assert_false(fw_gen_next(g, &extra));
    free(v);
    fw_gen_destroy(g);
}

/* ------------------------------------------------------------ fraud ratio */

static double ratio_of(uint64_t seed, uint32_t customers, double ratio, uint64_t count) {
    fw_gen_conf c = conf_of(seed, customers, ratio, count);
    fw_gen *g = gen_new(&c);
    fw_gen_txn t;
    while (fw_gen_next(g, &t))
        ;
    const fw_gen_stats *st = fw_gen_get_stats(g);
    assert_int_equal(st->records, count);
    double r = (double)st->fraud / (double)st->records;
    fw_gen_destroy(g);
    return r;
}

static void test_fraud_ratio(void **state) {
    (void)state;
    static const struct {
        uint64_t seed;
        uint32_t customers;
        double ratio;
        uint64_t count;
        double lo, hi;
    } cases[] = {
        { 42, 10000, 0.01, 200000, 0.0095, 0.0105 },
        { 5, 10000, 0.10, 50000, 0.095, 0.105 },
        { 6, 2000, 0.001, 200000, 0.0008, 0.0012 },
        { 7, 1000, 0.01, 1000, 0.005, 0.02 },   /* small runs land close too */
        { 8, 1000, 0.0, 20000, 0.0, 0.0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double r = ratio_of(cases[i].seed, cases[i].customers, cases[i].ratio, cases[i].count);
        if (r < cases[i].lo || r > cases[i].hi)
            fail_msg("case %zu: fraud ratio %.5f for target %.4f, expected %.4f..%.4f", i, r,
                     cases[i].ratio, cases[i].lo, cases[i].hi);
    }
}

/* ---------------------------------------------------------- normal traffic */

static void test_normal_traffic(void **state) {
    (void)state;
    fw_gen_conf c = conf_of(11, 10000, 0.01, 300000);
    fw_gen *g = gen_new(&c);
    fw_gen_txn *v = collect(g, c.count);
    uint64_t large = 0, types[FW_TXN_TYPE_OTHER + 1] = { 0 };
    for (uint64_t i = 0; i < c.count; i++) {
        const fw_gen_txn *t = &v[i];
        if (t->scenario >= 0)
            continue;
        types[t->type]++;
        if (t->legit_large) {
            large++;
            assert_true(t->amount_cents > 500000);
        } else if (t->amount_cents > FW_GEN_NORMAL_MAX_CENTS) {
            fail_msg("normal record %llu: amount %lld cents", (unsigned long long)i,
                     (long long)t->amount_cents);
        }
        /* Everyday traffic happens in the home country. */
        assert_string_equal(fw_gen_city_country(t->city),
                            fw_gen_customer_country(g, t->customer));
    }
    assert_int_equal(large, fw_gen_get_stats(g)->legit_large);
    assert_true(large >= 3 && large <= 40); /* 1 in 20000 of ~297000 */
    assert_true(types[FW_TXN_PURCHASE] > c.count * 8 / 10);
    for (int k = FW_TXN_TRANSFER; k <= FW_TXN_LOGIN; k++)
        if (types[k] == 0)
            fail_msg("no normal record of type %d", k);
    free(v);
    fw_gen_destroy(g);
}

/* ------------------------------------------------------------- the records */

/* Minimal JSON syntax check of one flat object; collects its keys. */
typedef struct jscan {
    const char *p, *end;
    char keys[32][24];
    int nkeys;
} jscan;

static bool js_string(jscan *j, char *out, size_t outsz) {
    if (j->p >= j->end || *j->p != '"')
        return false;
    size_t n = 0;
    for (j->p++; j->p < j->end && *j->p != '"'; j->p++) {
        if ((unsigned char)*j->p < 0x20 || *j->p == '\\')
            return false; /* the generator never needs escapes */
        if (out && n + 1 < outsz)
            out[n++] = *j->p;
    }
    if (out)
        out[n] = '\0';
    return j->p++ < j->end;
}

static bool js_number(jscan *j) {
    const char *s = j->p;
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p >= j->end || *j->p < '0' || *j->p > '9')
        return false;
    if (*j->p == '0' && j->p + 1 < j->end && j->p[1] >= '0' && j->p[1] <= '9')
        return false; /* no leading zeros */
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9')
            return false;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    return j->p > s;
}

static bool js_object(jscan *j) {
    if (j->p >= j->end || *j->p++ != '{')
        return false;
    for (;;) {
        if (j->nkeys >= 32 || !js_string(j, j->keys[j->nkeys], sizeof(j->keys[0])))
            return false;
        for (int k = 0; k < j->nkeys; k++)
            if (!strcmp(j->keys[k], j->keys[j->nkeys]))
                return false; /* duplicate key */
        j->nkeys++;
        if (j->p >= j->end || *j->p++ != ':')
            return false;
        if (j->p < j->end && *j->p == '"') {
            if (!js_string(j, NULL, 0))
                return false;
        } else if (j->end - j->p >= 4 && !memcmp(j->p, "true", 4)) {
            j->p += 4;
        } else if (j->end - j->p >= 5 && !memcmp(j->p, "false", 5)) {
            j->p += 5;
        } else if (!js_number(j)) {
            return false;
        }
        if (j->p >= j->end)
            return false;
        if (*j->p == '}')
            return ++j->p == j->end;
        if (*j->p++ != ',')
            return false;
    }
}

static bool has_key(const jscan *j, const char *k) {
    for (int i = 0; i < j->nkeys; i++)
        if (!strcmp(j->keys[i], k))
            return true;
    return false;
}

static bool str_eq(fw_str s, const char *c) { return s.ptr && fw_str_eq_c(s, c); }

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void test_records_decode(void **state) {
    (void)state;
    fw_gen_conf c = conf_of(42, 2000, 0.05, 30000); /* ~4 days: dates roll over */
    fw_gen *g = gen_new(&c);
    char rec[FW_GEN_JSON_MAX], key[32], want[64];
    char **ids = calloc(c.count, sizeof(*ids));
    assert_non_null(ids);
    fw_arena scratch;
    assert_true(fw_arena_init(&scratch, 4096));
    fw_gen_txn t;
    uint64_t n = 0;
    while (fw_gen_next(g, &t)) {
        size_t len = fw_gen_format_json(g, &t, rec);
        assert_true(len < FW_GEN_JSON_MAX);

        jscan j = { .p = rec, .end = rec + len };
        if (!js_object(&j))
            fail_msg("record %llu is not a flat JSON object: %.*s", (unsigned long long)n,
                     (int)len, rec);
        static const char *const required[] = {
            "transaction_id", "timestamp", "account_id", "customer_id", "type", "amount",
            "currency", "country", "lat", "lon", "channel", "is_fraud",
        };
        for (size_t k = 0; k < sizeof(required) / sizeof(required[0]); k++)
            if (!has_key(&j, required[k]))
                fail_msg("record %llu lacks %s: %.*s", (unsigned long long)n, required[k],
                         (int)len, rec);
        assert_int_equal(has_key(&j, "scenario"), t.scenario >= 0);
        assert_int_equal(has_key(&j, "scenario_instance"), t.scenario >= 0);
        if (t.type == FW_TXN_PURCHASE)
            assert_true(has_key(&j, "card_id") && has_key(&j, "merchant_id") &&
                        has_key(&j, "merchant_category"));
        if (t.type == FW_TXN_TRANSFER)
            assert_true(has_key(&j, "counterparty_id"));

        /* The engine's decoder reads back what was meant. */
        fw_txn x;
        fw_decode_error err;
        fw_arena_reset(&scratch);
        if (fw_txn_decode_json(rec, len, &scratch, FW_TXN_DEFAULT_MAX_BYTES, &x, &err))
            fail_msg("record %llu rejected (%s): %.*s", (unsigned long long)n, err.reason,
                     (int)len, rec);
        assert_int_equal(x.ts_ms, t.ts_ms);
        assert_int_equal((int64_t)(x.amount * 100 + 0.5), t.amount_cents);
        assert_int_equal(x.type, t.type);
        snprintf(want, sizeof(want), "tx-42-%llu", (unsigned long long)n);
        assert_true(str_eq(x.transaction_id, want));
        snprintf(want, sizeof(want), "cust-%u", t.customer);
        assert_true(str_eq(x.customer_id, want));
        size_t kn = fw_gen_format_key(&t, key);
        key[kn] = '\0';
        assert_true(str_eq(x.account_id, key)); /* the Kafka key is the account */
        assert_true(str_eq(x.country, fw_gen_city_country(t.city)));
        assert_true((x.has & FW_TXN_HAS_LAT) && (x.has & FW_TXN_HAS_LON));
        assert_true(x.lat >= -90 && x.lat <= 90 && x.lon >= -180 && x.lon <= 180);

        ids[n] = strndup(x.transaction_id.ptr, x.transaction_id.len);
        assert_non_null(ids[n]);
        n++;
    }
    assert_int_equal(n, c.count);
    qsort(ids, n, sizeof(*ids), cmp_str);
    for (uint64_t i = 1; i < n; i++)
        if (!strcmp(ids[i], ids[i - 1]))
            fail_msg("transaction_id %s appears twice", ids[i]);
    for (uint64_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    fw_arena_fini(&scratch);
    fw_gen_destroy(g);
}

/* One exact record, so a format change is a visible decision. */
static void test_record_golden(void **state) {
    (void)state;
    fw_gen_conf c = conf_of(42, 50, 0.3, 12);
    fw_gen *g = gen_new(&c);
    fw_gen_txn t;
    char rec[FW_GEN_JSON_MAX];
    assert_true(fw_gen_next(g, &t));
    size_t len = fw_gen_format_json(g, &t, rec);
    const char want[] =
        "{\"transaction_id\":\"tx-42-0\",\"timestamp\":\"2024-01-01T00:00:00.000Z\","
        "\"account_id\":\"acct-37\",\"customer_id\":\"cust-37\",\"type\":\"TRANSFER\","
        "\"amount\":302.08,\"currency\":\"EUR\",\"counterparty_id\":\"acct-17\","
        "\"country\":\"FR\",\"lat\":48.7890,\"lon\":2.3333,\"channel\":\"online\","
        "\"is_fraud\":false}";
    if (len != sizeof(want) - 1 || memcmp(rec, want, len))
        fail_msg("first record of seed 42 changed:\n got  %.*s\n want %s", (int)len, rec,
                 want);
    fw_gen_destroy(g);
}

/* Timestamps at day, month and leap-day boundaries format like fw_time_format. */
static void test_timestamp_format(void **state) {
    (void)state;
    fw_gen_conf c = conf_of(1, 10, 0.0, 1);
    fw_gen *g = gen_new(&c);
    fw_gen_txn t;
    assert_true(fw_gen_next(g, &t));
    static const int64_t when[] = { 0, 999, 86399999, 86400000, 951782399999LL,
                                    951782400000LL, 1709251199123LL, 253402300799999LL };
    char rec[FW_GEN_JSON_MAX], want[32], got[32];
    for (size_t i = 0; i < sizeof(when) / sizeof(when[0]); i++) {
        t.ts_ms = when[i];
        size_t len = fw_gen_format_json(g, &t, rec);
        const char *p = strstr(rec, "\"timestamp\":\"");
        assert_non_null(p);
        p += strlen("\"timestamp\":\"");
        assert_true((size_t)(p - rec) + 24 < len);
        memcpy(got, p, 24);
        got[24] = '\0';
        fw_time_format(when[i], want);
        assert_string_equal(got, want);
    }
    fw_gen_destroy(g);
}

/* The stream ends rather than write a year past 9999. */
static void test_end_of_time(void **state) {
    (void)state;
    fw_gen_conf c = conf_of(1, 10000, 0.01, 1000);
    c.start_ms = 253402300799000LL; /* 9999-12-31T23:59:59.000Z */
    fw_gen *g = gen_new(&c);
    fw_gen_txn t;
    uint64_t n = 0;
    while (fw_gen_next(g, &t)) {
        assert_true(t.ts_ms <= 253402300799999LL);
        n++;
    }
    assert_true(n >= 1 && n < 1000);
    assert_false(fw_gen_next(g, &t));
    fw_gen_destroy(g);
}

/* ------------------------------------------------------------ the command */

static int run_cmd(const char *const *args, int n) {
    char *argv[32];
    assert_true(n < 32);
    for (int i = 0; i < n; i++)
        argv[i] = (char *)args[i];
    argv[n] = NULL;
    return fw_cmd_generate(n, argv);
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void test_command_writes_file(void **state) {
    (void)state;
    char path[] = "/tmp/test_generate_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    const char *args[] = { "generate", "--count", "2500", "--seed", "42", "--customers",
                           "2000", "--fraud-ratio", "0.05", "--output", path, "--quiet" };
    assert_int_equal(run_cmd(args, 12), 0);
    size_t got_len, want_len;
    char *got = slurp(path, &got_len);
    fw_gen_conf c = conf_of(42, 2000, 0.05, 2500); /* default start: 2024-01-01 */
    char *want = render(&c, &want_len);
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
    free(got);
    free(want);

    const char *args2[] = { "generate", "-n", "5", "-o", path, "-q", "--start",
                            "2024-06-01T12:00:00+02:00" };
    assert_int_equal(run_cmd(args2, 8), 0);
    got = slurp(path, &got_len);
    assert_non_null(strstr(got, "\"timestamp\":\"2024-06-01T10:00:00.000Z\""));
    free(got);
    unlink(path);
}

static void test_command_usage_errors(void **state) {
    (void)state;
    static const char *const bad[][6] = {
        { "generate", "--rate", "5", "--interval", "1", NULL },
        { "generate", "--fraud-ratio", "1.5", "-o", "-", NULL },
        { "generate", "--count", "-3", "-o", "-", NULL },
        { "generate", "--count", "0", "-o", "/tmp/never-written", NULL },
        { "generate", "--customers", "0", "-o", "-", NULL },
        { "generate", "--start", "2024-01-01T00:00:00", "-o", "-", NULL }, /* no zone */
        { "generate", "-X", "novalue", "-o", "-", NULL },
        { "generate", "--no-such-flag", NULL },
        { "generate", "-o", "-", "stray", NULL },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int n = 0;
        while (n < 6 && bad[i][n])
            n++;
        int rc = run_cmd(bad[i], n);
        if (rc != 2)
            fail_msg("case %zu (%s %s): exit %d, expected 2", i, bad[i][1], bad[i][2], rc);
    }
    assert_int_equal(access("/tmp/never-written", F_OK), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_bytes),
        cmocka_unit_test(test_prefix_stable_across_counts),
        cmocka_unit_test(test_count_and_time_order),
        cmocka_unit_test(test_event_time_rate),
        cmocka_unit_test(test_bad_conf),
        cmocka_unit_test(test_every_scenario_shape),
        cmocka_unit_test(test_count_never_truncates),
        cmocka_unit_test(test_tiny_population),
        cmocka_unit_test(test_drain_completes_instances),
        cmocka_unit_test(test_fraud_ratio),
        cmocka_unit_test(test_normal_traffic),
        cmocka_unit_test(test_records_decode),
        cmocka_unit_test(test_record_golden),
        cmocka_unit_test(test_timestamp_format),
        cmocka_unit_test(test_end_of_time),
        cmocka_unit_test(test_command_writes_file),
        cmocka_unit_test(test_command_usage_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
