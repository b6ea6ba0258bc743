/* test_generate.c — the synthetic data generator: byte-for-byte determinism,
 * the shape of every fraud scenario (accounts, amounts, timing, distances),
 * the fraud ratio and the scenario mix, the legitimate behaviour that makes
 * rules noisy (travel, paydays) and its bounds, the NDJSON records (read back
 * with the engine's own decoder and a small JSON syntax check), unique ids,
 * and the `generate` command writing a file. Time is the model's event time
 * only: nothing sleeps. */
#include <inttypes.h>
#include <math.h>
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
    int s = fw_gen_scenario_index(name);
    if (s < 0)
        fail_msg("scenario %s is not in the table", name);
    return s;
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

#define SEC_MS 1000LL
#define MIN_MS 60000LL
#define HOUR_MS 3600000LL

static double km_between(const fw_gen_txn *a, const fw_gen_txn *b) {
    const double rad = M_PI / 180.0 / 1e4;
    double la1 = a->lat_e4 * rad, la2 = b->lat_e4 * rad;
    double dlat = la2 - la1, dlon = (b->lon_e4 - a->lon_e4) * rad;
    double h = sin(dlat / 2) * sin(dlat / 2) + cos(la1) * cos(la2) * sin(dlon / 2) * sin(dlon / 2);
    return 2 * 6371.0 * asin(sqrt(h < 1 ? h : 1));
}

static double kmh_between(const fw_gen_txn *a, const fw_gen_txn *b) {
    double hours = (double)(b->ts_ms - a->ts_ms) / 3600000.0;
    return hours > 0 ? km_between(a, b) / hours : INFINITY;
}

/* A counterparty as one number: its kind, and whose outside payee it is. */
static uint64_t cp_key(const fw_gen_txn *t) {
    uint64_t owner = t->cp_kind == FW_GEN_CP_PAYEE ? t->customer : 0;
    return (uint64_t)t->cp_kind << 60 | owner << 28 | t->counterparty;
}

static bool same_country(unsigned a, unsigned b) {
    return !strcmp(fw_gen_city_country(a), fw_gen_city_country(b));
}

/* Does any city of the country of @p city lie 1000 km or more from it? */
static bool has_far_city_at_home(unsigned city) {
    int32_t la, lo, lb, ob;
    fw_gen_city_position(city, &la, &lo);
    for (unsigned c = 0; *fw_gen_city_country(c); c++) {
        if (!same_country(c, city))
            continue;
        fw_gen_city_position(c, &lb, &ob);
        fw_gen_txn x = { .lat_e4 = la, .lon_e4 = lo }, y = { .lat_e4 = lb, .lon_e4 = ob };
        if (km_between(&x, &y) >= 1000)
            return true;
    }
    return false;
}

static void check_two_places(const fw_gen *g, const fw_gen_txn *f, const fw_gen_txn *l,
                             int64_t max_gap, bool domestic) {
    assert_int_equal(f->type, FW_TXN_PURCHASE);
    assert_int_equal(l->type, FW_TXN_PURCHASE);
    /* The purchase at home is the cardholder's own: only the clone's is fraud. */
    assert_false(fw_gen_txn_is_fraud(f));
    assert_true(fw_gen_txn_is_fraud(l));
    assert_int_equal(f->channel, FW_GEN_POS);
    assert_int_equal(l->channel, FW_GEN_POS);
    assert_true(f->card != 0 && f->card == l->card);
    assert_int_equal(f->city, fw_gen_customer_city(g, f->customer));
    assert_true(l->ts_ms - f->ts_ms >= 5 * MIN_MS && l->ts_ms - f->ts_ms <= max_gap);
    if (domestic)
        assert_true(same_country(f->city, l->city));
    else
        assert_false(same_country(f->city, l->city));
    /* Far enough that the rule's 900 km/h is passed with margin. */
    if (km_between(f, l) < 900 || kmh_between(f, l) < 1000)
        fail_msg("jump of %.0f km in %.1f min: %.0f km/h", km_between(f, l),
                 (double)(l->ts_ms - f->ts_ms) / 60000, kmh_between(f, l));
}

/* fan_in: 6-12 distinct senders, one TRANSFER each, to one customer's account. */
static void check_fan_in(const fw_gen_txn *v, const inst *x) {
    const fw_gen_txn *f = &v[x->idx[0]];
    int64_t span = v[x->idx[x->n - 1]].ts_ms - f->ts_ms;
    assert_true(span >= 2 * HOUR_MS && span <= 48 * HOUR_MS);
    for (int k = 0; k < x->n; k++) {
        const fw_gen_txn *t = &v[x->idx[k]];
        assert_int_equal(t->type, FW_TXN_TRANSFER);
        assert_int_equal(t->cp_kind, FW_GEN_CP_ACCOUNT);
        assert_int_equal(t->counterparty, f->counterparty);
        assert_true(t->customer != t->counterparty);
        assert_true(t->amount_cents >= 20000 && t->amount_cents <= 300000);
        for (int j = 0; j < k; j++)
            assert_true(v[x->idx[j]].customer != t->customer);
    }
}

/* fan_out: one account, 6-10 distinct counterparties within 30 min - 6 h. */
static void check_fan_out(const fw_gen_txn *v, const inst *x) {
    const fw_gen_txn *f = &v[x->idx[0]];
    int64_t span = v[x->idx[x->n - 1]].ts_ms - f->ts_ms;
    assert_true(span >= 30 * MIN_MS && span <= 6 * HOUR_MS);
    for (int k = 0; k < x->n; k++) {
        const fw_gen_txn *t = &v[x->idx[k]];
        assert_int_equal(t->type, FW_TXN_TRANSFER);
        assert_int_equal(t->customer, f->customer);
        assert_true(t->cp_kind == FW_GEN_CP_ACCOUNT || t->cp_kind == FW_GEN_CP_EXTERNAL_K);
        if (t->cp_kind == FW_GEN_CP_ACCOUNT)
            assert_true(t->counterparty != t->customer);
        assert_true(t->amount_cents >= 30000 && t->amount_cents <= 300000);
        for (int j = 0; j < k; j++)
            assert_true(cp_key(&v[x->idx[j]]) != cp_key(t));
    }
}

/* cycle: A→B→…→A over 3-5 distinct accounts, each hop forwarding 85-95 %. */
static void check_cycle(const fw_gen_txn *v, const inst *x) {
    const fw_gen_txn *f = &v[x->idx[0]];
    assert_true(f->amount_cents >= 200000 && f->amount_cents <= 2000000);
    for (int k = 0; k < x->n; k++) {
        const fw_gen_txn *t = &v[x->idx[k]], *nx = &v[x->idx[(k + 1) % x->n]];
        assert_int_equal(t->type, FW_TXN_TRANSFER);
        assert_int_equal(t->cp_kind, FW_GEN_CP_ACCOUNT);
        assert_int_equal(t->counterparty, nx->customer); /* the last one closes the loop */
        for (int j = 0; j < k; j++)
            assert_true(v[x->idx[j]].customer != t->customer);
        if (k == 0)
            continue;
        const fw_gen_txn *pv = &v[x->idx[k - 1]];
        int64_t gap = t->ts_ms - pv->ts_ms;
        assert_true(gap >= 20 * MIN_MS && gap <= 12 * HOUR_MS);
        double share = (double)t->amount_cents / (double)pv->amount_cents;
        if (share < 0.849 || share > 0.95)
            fail_msg("cycle hop %d forwards %.3f of what it received", k, share);
    }
}

/* mule_cashout: [LOGIN] PASSWORD_CHANGE, transfers to 1-3 distinct mules, and
 * each mule's cash-out of 90-100 % of it 5-60 min later. */
static void check_mule_cashout(const fw_gen_txn *v, const inst *x) {
    int k = 0;
    const fw_gen_txn *f = &v[x->idx[0]];
    if (f->type == FW_TXN_LOGIN)
        f = &v[x->idx[++k]];
    assert_int_equal(f->type, FW_TXN_PASSWORD_CHANGE);
    uint32_t victim = f->customer;
    const fw_gen_txn *in[3];
    int nin = 0, nout = 0;
    int64_t prev = f->ts_ms;
    for (k++; k < x->n; k++) {
        const fw_gen_txn *t = &v[x->idx[k]];
        if (t->customer == victim) {
            assert_true(nin < 3);
            assert_int_equal(t->type, FW_TXN_TRANSFER);
            assert_int_equal(t->cp_kind, FW_GEN_CP_ACCOUNT);
            assert_true(t->counterparty != victim);
            assert_true(t->amount_cents >= 100000 && t->amount_cents <= 490000);
            int64_t gap = t->ts_ms - prev;
            if (nin == 0)
                assert_true(gap >= 2 * MIN_MS && gap <= 20 * MIN_MS);
            else
                assert_true(gap >= 1 * MIN_MS && gap <= 5 * MIN_MS);
            for (int j = 0; j < nin; j++)
                assert_true(in[j]->counterparty != t->counterparty);
            in[nin++] = t;
            prev = t->ts_ms;
            continue;
        }
        const fw_gen_txn *got = NULL; /* a mule cashing out what it received */
        for (int j = 0; j < nin; j++)
            if (in[j]->counterparty == t->customer)
                got = in[j];
        if (!got)
            fail_msg("mule_cashout: record of customer %u before it received anything",
                     t->customer);
        nout++;
        if (t->type == FW_TXN_WITHDRAWAL)
            assert_true(t->channel == FW_GEN_ATM && t->atm);
        else
            assert_true(t->type == FW_TXN_TRANSFER && t->cp_kind == FW_GEN_CP_EXTERNAL_K);
        int64_t gap = t->ts_ms - got->ts_ms;
        assert_true(gap >= 5 * MIN_MS && gap <= 60 * MIN_MS);
        assert_true(t->amount_cents * 10 >= got->amount_cents * 9);
        assert_true(t->amount_cents <= got->amount_cents);
    }
    assert_true(nin >= 1 && nout == nin);
}

/* Checks one complete instance against its scenario's definition. */
static void check_shape(const fw_gen *g, const fw_gen_txn *v, const inst *x) {
    const fw_gen_scenario *sc = &fw_gen_scenarios[x->scenario];
    const fw_gen_txn *f = &v[x->idx[0]], *l = &v[x->idx[x->n - 1]];
    const char *name = sc->name;
    if (x->n < sc->min_txns || x->n > sc->max_txns)
        fail_msg("%s instance %llu has %d transactions, expected %d..%d", name,
                 (unsigned long long)f->instance, x->n, sc->min_txns, sc->max_txns);
    if (!sc->targets || !*sc->targets)
        fail_msg("scenario %s names no rule meant to catch it", name);
    bool several = !strcmp(name, "fan_in") || !strcmp(name, "cycle") ||
                   !strcmp(name, "mule_cashout");
    for (int k = 0; k < x->n && !several; k++)
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
        check_two_places(g, f, l, 55 * MIN_MS, false);
    } else if (!strcmp(name, "impossible_travel")) {
        assert_int_equal(x->n, 2);
        check_two_places(g, f, l, 50 * MIN_MS, has_far_city_at_home(f->city));
    } else if (!strcmp(name, "fan_in")) {
        check_fan_in(v, x);
    } else if (!strcmp(name, "fan_out")) {
        check_fan_out(v, x);
    } else if (!strcmp(name, "cycle")) {
        check_cycle(v, x);
    } else if (!strcmp(name, "mule_cashout")) {
        check_mule_cashout(v, x);
    } else {
        fail_msg("no shape check for scenario %s", name);
    }
}

/* Exclusive scenarios: from the start of the instance to a participating
 * customer's last record in it, no normal record of theirs and no normal
 * transfer to them, so "X then immediately Y" and money-flow patterns see
 * exactly the injected sequence. And no instance starts with a customer still
 * taking part in another. */
static void check_exclusive(const fw_gen_txn *v, const inst *x, const inst *all,
                            uint64_t ninst) {
    uint32_t who[2 * FW_GEN_MAX_INSTANCE];
    uint64_t until[2 * FW_GEN_MAX_INSTANCE]; /* their last record in the instance */
    int nwho = 0;
    for (int k = 0; k < x->n; k++) {
        const fw_gen_txn *t = &v[x->idx[k]];
        uint32_t c[2] = { t->customer, t->cp_kind == FW_GEN_CP_ACCOUNT ? t->counterparty
                                                                       : FW_GEN_NONE };
        for (int j = 0; j < 2 && c[j] != FW_GEN_NONE; j++) {
            int w = 0;
            while (w < nwho && who[w] != c[j])
                w++;
            if (w == nwho)
                who[nwho++] = c[j];
            until[w] = x->idx[k];
        }
    }
    uint64_t me = v[x->idx[0]].instance;
    for (uint64_t o = me + 1; o < ninst; o++) {
        const inst *y = &all[o];
        for (int k = 0; k < y->n; k++) {
            const fw_gen_txn *t = &v[y->idx[k]];
            for (int w = 0; w < nwho; w++)
                if (y->idx[0] < until[w] &&
                    (t->customer == who[w] ||
                     (t->cp_kind == FW_GEN_CP_ACCOUNT && t->counterparty == who[w])))
                    fail_msg("customer %u is in instances %llu and %llu at once", who[w],
                             (unsigned long long)me, (unsigned long long)o);
        }
    }
    if (!fw_gen_scenarios[x->scenario].exclusive)
        return;
    for (uint64_t i = x->idx[0]; i <= x->idx[x->n - 1]; i++) {
        const fw_gen_txn *t = &v[i];
        if (t->scenario >= 0)
            continue;
        for (int w = 0; w < nwho; w++) {
            if (i > until[w])
                continue; /* done with its part: free again (after a cool-down) */
            if (t->customer == who[w])
                fail_msg("normal record %llu of customer %u inside %s instance %llu",
                         (unsigned long long)i, who[w], fw_gen_scenarios[x->scenario].name,
                         (unsigned long long)me);
            if (t->cp_kind == FW_GEN_CP_ACCOUNT && t->counterparty == who[w])
                fail_msg("normal transfer %llu to customer %u inside %s instance %llu",
                         (unsigned long long)i, who[w], fw_gen_scenarios[x->scenario].name,
                         (unsigned long long)me);
        }
    }
}

static void check_all_instances(fw_gen *g, const fw_gen_txn *v, uint64_t n, int *seen) {
    const fw_gen_stats *st = fw_gen_get_stats(g);
    inst *in = group(v, n, st->instances);
    uint64_t fraud = 0;
    for (uint64_t k = 0; k < st->instances; k++) {
        if (in[k].n == 0)
            fail_msg("instance %llu started but wrote nothing", (unsigned long long)k);
        check_shape(g, v, &in[k]);
        check_exclusive(v, &in[k], in, st->instances);
        for (int i = 0; i < in[k].n; i++)
            fraud += fw_gen_txn_is_fraud(&v[in[k].idx[i]]);
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
    int seen[FW_GEN_MAX_SCENARIOS] = { 0 };
    check_all_instances(g, v, c.count, seen);
    const char *const expected[] = { "high_amount", "card_testing", "velocity",
                                     "account_takeover", "structuring", "rapid_small",
                                     "location_jump", "impossible_travel", "fan_in",
                                     "fan_out", "cycle", "mule_cashout" };
    assert_int_equal(fw_gen_nscenarios, sizeof(expected) / sizeof(expected[0]));
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        int s = scenario_index(expected[i]);
        if (seen[s] < 20)
            fail_msg("scenario %s: %d instances in 100000 records at 5%%", expected[i],
                     seen[s]);
    }
    free(v);
    fw_gen_destroy(g);
}

/* impossible_travel stays in the country when the country is big enough:
 * customers of the US, Canada and Australia jump within it. A mix of one
 * scenario gives only that one. */
static void test_impossible_travel_domestic(void **state) {
    (void)state;
    fw_gen_conf c = conf_of(5, 3000, 0.05, 60000);
    int s = scenario_index("impossible_travel");
    c.weights[s] = 1;
    fw_gen *g = gen_new(&c);
    fw_gen_txn *v = collect(g, c.count);
    check_all_instances(g, v, c.count, NULL);
    const fw_gen_stats *st = fw_gen_get_stats(g);
    inst *in = group(v, c.count, st->instances);
    int domestic = 0, abroad = 0;
    for (uint64_t k = 0; k < st->instances; k++) {
        assert_int_equal(in[k].scenario, s);
        same_country(v[in[k].idx[0]].city, v[in[k].idx[1]].city) ? domestic++ : abroad++;
    }
    if (domestic < 100 || abroad < 100) /* about half the customers live in US/CA/AU */
        fail_msg("%d domestic and %d foreign jumps", domestic, abroad);
    free(in);
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
        /* Only the scheduled rest comes out: instances, scheduled legitimate records. */
        assert_true(v[n].scenario >= 0 || v[n].origin != FW_GEN_EVERYDAY);
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

/* ------------------------------------------------------------ scenario mix */

static void test_parse_scenarios(void **state) {
    (void)state;
    double w[FW_GEN_MAX_SCENARIOS];
    char err[512];
    assert_true(fw_gen_parse_scenarios("fan_in=2,cycle,structuring=0.5", w, err, sizeof(err)));
    for (int s = 0; s < fw_gen_nscenarios; s++) {
        const char *n = fw_gen_scenarios[s].name;
        double want = !strcmp(n, "fan_in") ? 2 : !strcmp(n, "cycle") ? 1
                      : !strcmp(n, "structuring") ? 0.5 : 0;
        if (w[s] != want)
            fail_msg("%s: weight %g, expected %g", n, w[s], want);
    }
    assert_false(fw_gen_parse_scenarios("fan_in,nope", w, err, sizeof(err)));
    assert_non_null(strstr(err, "\"nope\""));
    assert_non_null(strstr(err, "valid:"));
    for (int s = 0; s < fw_gen_nscenarios; s++) /* the message lists them all */
        assert_non_null(strstr(err, fw_gen_scenarios[s].name));
    static const char *const bad[] = { "", ",cycle", "cycle,", "cycle,cycle", "cycle=",
                                       "cycle=x", "cycle=-1", "cycle=2e6", "cycle=0",
                                       "cycle=1x", "=2" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (fw_gen_parse_scenarios(bad[i], w, err, sizeof(err)))
            fail_msg("\"%s\" accepted", bad[i]);
    assert_true(fw_gen_parse_scenarios("cycle=0,fan_out", w, err, sizeof(err)));

    /* A mix the population cannot host is refused; the default mix leaves out
     * what needs more accounts than there are. */
    fw_gen_conf c = conf_of(1, 6, 0.5, 3000);
    assert_true(fw_gen_parse_scenarios("fan_in", c.weights, err, sizeof(err)));
    assert_null(fw_gen_new(&c, err, sizeof(err)));
    assert_non_null(strstr(err, "at least 7"));
    c.weights[scenario_index("cycle")] = 1;
    fw_gen *g = gen_new(&c);
    fw_gen_txn *v = collect(g, c.count);
    check_all_instances(g, v, c.count, NULL);
    assert_int_equal(fw_gen_get_stats(g)->scen_instances[scenario_index("fan_in")], 0);
    assert_true(fw_gen_get_stats(g)->scen_instances[scenario_index("cycle")] > 0);
    free(v);
    fw_gen_destroy(g);
    c.weights[scenario_index("cycle")] = 0;
    c.fraud_ratio = 0; /* no fraud wanted: nothing to host */
    fw_gen_destroy(gen_new(&c));

    c = conf_of(1, 100, 0.01, 10);
    c.weights[0] = -1;
    assert_null(fw_gen_new(&c, err, sizeof(err)));
    c.weights[0] = 0;
    c.weights[FW_GEN_MAX_SCENARIOS - 1] = 1; /* no such scenario */
    assert_null(fw_gen_new(&c, err, sizeof(err)));
}

/* A mix gives only its scenarios, at their relative rates, and the ratio. */
/* --hot-key: FIELD=SHARE parsed (and refused naming what is wrong); one
 * account or merchant carries the share of all records; the hot account only
 * makes everyday traffic at home; fraud instances stay whole; SHARE 0 changes
 * no byte. */
static void test_hot_key(void **state) {
    (void)state;
    static const struct { const char *spec; bool ok; fw_gen_hot_field field; double share;
                          const char *why; } cases[] = {
        { "account_id=0.3", true, FW_GEN_HOT_ACCOUNT, 0.3, NULL },
        { "merchant_id=1", true, FW_GEN_HOT_MERCHANT, 1, NULL },
        { "merchant_id=0", true, FW_GEN_HOT_NONE, 0, NULL },
        { "account_id", false, 0, 0, "FIELD=SHARE" },
        { "card_id=0.3", false, 0, 0, "FIELD=SHARE" },
        { "=0.3", false, 0, 0, "FIELD=SHARE" },
        { "", false, 0, 0, "FIELD=SHARE" },
        { "account_id=", false, 0, 0, "share in 0..1" },
        { "account_id=1.01", false, 0, 0, "share in 0..1" },
        { "account_id=-0.1", false, 0, 0, "share in 0..1" },
        { "account_id=0.3x", false, 0, 0, "share in 0..1" },
        { "account_id=nan", false, 0, 0, "share in 0..1" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fw_gen_hot_field f = FW_GEN_HOT_NONE;
        double sh = -1;
        char err[256] = "";
        bool ok = fw_gen_parse_hot_key(cases[i].spec, &f, &sh, err, sizeof(err));
        if (ok != cases[i].ok)
            fail_msg("\"%s\": %s, expected %s (%s)", cases[i].spec, ok ? "accepted" : "refused",
                     cases[i].ok ? "accepted" : "refused", err);
        if (ok && (f != cases[i].field || sh != cases[i].share))
            fail_msg("\"%s\": field %d share %g, expected %d %g", cases[i].spec, (int)f, sh,
                     (int)cases[i].field, cases[i].share);
        if (!ok && !strstr(err, cases[i].why))
            fail_msg("\"%s\": message \"%s\" lacks \"%s\"", cases[i].spec, err, cases[i].why);
    }

    const uint64_t n = 20000;
    for (int field = FW_GEN_HOT_ACCOUNT; field <= FW_GEN_HOT_MERCHANT; field++) {
        fw_gen_conf c = conf_of(42, 10000, 0.02, n);
        c.hot_field = (fw_gen_hot_field)field;
        c.hot_share = 0.3;
        fw_gen *g = gen_new(&c);
        fw_gen_txn *v = collect(g, n);
        char id[32];
        fw_gen_hot_key_id(g, id);
        uint64_t hot = 0, hot_fraud = 0, hot_away = 0, hot_card_present = 0;
        unsigned m = FW_GEN_NONE;
        if (field == FW_GEN_HOT_MERCHANT)
            assert_int_equal(sscanf(id, "m-%u", &m), 1);
        for (uint64_t i = 0; i < n; i++) {
            const fw_gen_txn *t = &v[i];
            bool is_hot;
            if (field == FW_GEN_HOT_ACCOUNT)
                is_hot = t->customer == 0;
            else
                is_hot = t->merchant == m && !t->atm;
            hot += is_hot;
            hot_fraud += is_hot && fw_gen_txn_is_fraud(t);
            hot_away += is_hot && t->origin != FW_GEN_EVERYDAY;
            hot_card_present += is_hot && t->channel == FW_GEN_POS;
        }
        double share = (double)hot / (double)n;
        print_message("hot %s: %" PRIu64 " of %" PRIu64 " records (%.4f), stats %" PRIu64
                      ", fraud %" PRIu64 ", not everyday %" PRIu64 ", card present %" PRIu64
                      "\n", id, hot, n, share, fw_gen_get_stats(g)->hot, hot_fraud, hot_away,
                      hot_card_present);
        if (!(share >= 0.295 && share <= 0.305))
            fail_msg("hot %s: share %.4f, expected 0.295..0.305", id, share);
        assert_int_equal(hot, fw_gen_get_stats(g)->hot);
        if (field == FW_GEN_HOT_ACCOUNT) {
            assert_string_equal(id, "acct-0");
            assert_int_equal(hot_fraud, 0); /* never in an instance, payday or trip */
            assert_int_equal(hot_away, 0);
        } else {
            assert_int_equal(hot_card_present, 0); /* an online-only merchant */
        }
        check_all_instances(g, v, n, NULL); /* the fraud is still whole */
        free(v);
        fw_gen_destroy(g);
    }

    /* SHARE 0 and no hot key: the same bytes. A bad configuration is refused. */
    fw_gen_conf c = conf_of(7, 5000, 0.02, 5000);
    size_t la, lb;
    char *a = render(&c, &la);
    c.hot_field = FW_GEN_HOT_ACCOUNT;
    c.hot_share = 0;
    char *b = render(&c, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    free(a);
    free(b);
    char err[256];
    c.hot_share = 1.5;
    assert_null(fw_gen_new(&c, err, sizeof(err)));
    assert_non_null(strstr(err, "hot key"));
}

static void test_scenario_mix(void **state) {
    (void)state;
    fw_gen_conf c = conf_of(3, 10000, 0.05, 200000);
    char err[256];
    assert_true(fw_gen_parse_scenarios("fan_in=2,cycle,structuring", c.weights, err,
                                       sizeof(err)));
    fw_gen *g = gen_new(&c);
    fw_gen_txn *v = collect(g, c.count);
    int seen[FW_GEN_MAX_SCENARIOS] = { 0 };
    check_all_instances(g, v, c.count, seen);
    const fw_gen_stats *st = fw_gen_get_stats(g);
    int fan_in = scenario_index("fan_in"), cycle = scenario_index("cycle");
    int structuring = scenario_index("structuring");
    for (int s = 0; s < fw_gen_nscenarios; s++)
        if (s != fan_in && s != cycle && s != structuring)
            assert_int_equal(seen[s], 0);
    double ratio = (double)seen[fan_in] / seen[cycle];
    if (ratio < 1.6 || ratio > 2.5)
        fail_msg("fan_in/cycle instances %d/%d", seen[fan_in], seen[cycle]);
    double r = (double)st->fraud / (double)st->records;
    assert_true(r > 0.045 && r < 0.055);
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

/* Is a legitimate record made where its origin says: at home (everyday,
 * payday, the home signal of a noisy trip) or in another country (abroad)? */
static void check_origin_place(const fw_gen *g, const fw_gen_txn *t, uint64_t i) {
    bool home = same_country(t->city, fw_gen_customer_city(g, t->customer));
    bool want_home = t->origin != FW_GEN_ABROAD;
    if (home != want_home)
        fail_msg("record %llu of origin %d made in %s, home %s", (unsigned long long)i,
                 t->origin, fw_gen_city_country(t->city),
                 fw_gen_customer_country(g, t->customer));
}

static void test_normal_traffic(void **state) {
    (void)state;
    fw_gen_conf c = conf_of(11, 10000, 0.01, 300000);
    fw_gen *g = gen_new(&c);
    fw_gen_txn *v = collect(g, c.count);
    uint64_t large = 0, abroad = 0, types[FW_TXN_TYPE_OTHER + 1] = { 0 };
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
        check_origin_place(g, t, i);
        abroad += t->origin == FW_GEN_ABROAD || t->origin == FW_GEN_HOME_SIGNAL;
        if (t->type == FW_TXN_TRANSFER)
            assert_true(t->cp_kind == FW_GEN_CP_ACCOUNT || t->cp_kind == FW_GEN_CP_PAYEE);
        if (t->cp_kind == FW_GEN_CP_ACCOUNT)
            assert_true(t->counterparty != t->customer);
    }
    const fw_gen_stats *st = fw_gen_get_stats(g);
    assert_int_equal(large, st->legit_large);
    assert_true(large >= 3 && large <= 40); /* 1 in 20000 of ~297000 */
    assert_int_equal(abroad, st->abroad);
    /* About 4 % of the customers are away at any time. */
    if (abroad < c.count / 100 || abroad > c.count / 10)
        fail_msg("%llu of %llu records abroad", (unsigned long long)abroad,
                 (unsigned long long)c.count);
    assert_true(types[FW_TXN_PURCHASE] > c.count * 8 / 10);
    for (int k = FW_TXN_TRANSFER; k <= FW_TXN_LOGIN; k++)
        if (types[k] == 0)
            fail_msg("no normal record of type %d", k);
    free(v);
    fw_gen_destroy(g);
}

/* Per customer: the previous legitimate record, to follow their travels. */
typedef struct follow {
    fw_gen_txn prev;
    bool has_prev;
    bool travelled;
} follow;

/* Half a year of 1000 customers: most travel. An honest traveller never
 * moves faster than a plane (flights take their time and nothing happens in
 * the air); only the home signal of a noisy trip jumps, and it does so within
 * the hour after a purchase abroad: the location_jump noise. */
static void test_travel(void **state) {
    (void)state;
    fw_gen_conf c = conf_of(21, 1000, 0.0, 720000);
    fw_gen *g = gen_new(&c);
    follow *f = calloc(c.customers, sizeof(*f));
    assert_non_null(f);
    uint64_t abroad_pos = 0, abroad_atm = 0, signals = 0, signal_jumps = 0;
    double fastest = 0;
    fw_gen_txn t;
    for (uint64_t i = 0; fw_gen_next(g, &t); i++) {
        check_origin_place(g, &t, i);
        follow *p = &f[t.customer];
        bool away = t.origin == FW_GEN_ABROAD;
        if (away) {
            p->travelled = true;
            abroad_pos += t.channel == FW_GEN_POS;
            abroad_atm += t.type == FW_TXN_WITHDRAWAL;
            if (t.type == FW_TXN_WITHDRAWAL)
                assert_true(t.atm && t.channel == FW_GEN_ATM);
        }
        signals += t.origin == FW_GEN_HOME_SIGNAL;
        if (p->has_prev) {
            double kmh = kmh_between(&p->prev, &t), km = km_between(&p->prev, &t);
            bool noise = t.origin == FW_GEN_HOME_SIGNAL || p->prev.origin == FW_GEN_HOME_SIGNAL;
            if (km > 100 && kmh > 900 && !noise)
                fail_msg("customer %u moves %.0f km at %.0f km/h (record %llu)", t.customer, km,
                         kmh, (unsigned long long)i);
            if (!noise && km > 100 && kmh > fastest)
                fastest = kmh;
            if (t.origin == FW_GEN_HOME_SIGNAL && p->prev.origin == FW_GEN_ABROAD &&
                t.ts_ms - p->prev.ts_ms < HOUR_MS && kmh > 900)
                signal_jumps++;
        }
        p->prev = t;
        p->has_prev = true;
    }
    int travellers = 0;
    for (uint32_t k = 0; k < c.customers; k++)
        travellers += f[k].travelled;
    /* A trip every 100-300 days: over 180 days, well over half the customers. */
    if (travellers < 500 || travellers > 950)
        fail_msg("%d of 1000 customers travelled", travellers);
    assert_true(fastest > 100 && fastest < 900);
    assert_true(abroad_pos > 1000 && abroad_atm > 100);
    assert_true(signals > 0 && signal_jumps > 0);
    assert_int_equal(signals, fw_gen_get_stats(g)->home_signal);
    free(f);
    fw_gen_destroy(g);
}

/* 00:00 UTC of a date. */
static int64_t day_ms(int64_t y, unsigned m, unsigned d) {
    return fw_days_from_civil(y, m, d) * 86400000LL;
}

/* Paydays: every salaried customer at home gets the salary once, on the
 * 25th (or the Friday before) between 06:00 and 10:00 UTC, about 2500 and
 * only rarely above 5000; bills and shopping follow; a few customers pay
 * several transfers above 1000 within half an hour. */
static void check_payday(int64_t start, int64_t payday_start, uint32_t customers) {
    fw_gen_conf c = conf_of(8, customers, 0.0, 0);
    c.start_ms = start;
    c.count = (uint64_t)customers * 4 * 4; /* four days */
    fw_gen *g = gen_new(&c);
    fw_gen_txn *v = collect(g, c.count);
    uint8_t *paid = calloc(customers, 1);
    int64_t *rush_first = calloc(customers, sizeof(*rush_first));
    uint8_t *rush_n = calloc(customers, 1);
    assert_true(paid && rush_first && rush_n);
    uint64_t salaries = 0, above = 0, bills = 0, rushers = 0, big_rush = 0;
    int64_t *amounts = calloc(customers, sizeof(*amounts));
    assert_non_null(amounts);
    for (uint64_t i = 0; i < c.count; i++) {
        const fw_gen_txn *t = &v[i];
        if (t->origin != FW_GEN_PAYDAY && t->origin != FW_GEN_PAYDAY_RUSH)
            continue; /* (a salary paid abroad counts as made abroad) */
        if (t->type == FW_TXN_DEPOSIT && t->ts_ms < payday_start + 10 * HOUR_MS) {
            assert_true(t->ts_ms >= payday_start + 6 * HOUR_MS);
            if (paid[t->customer]++)
                fail_msg("customer %u paid twice", t->customer);
            amounts[salaries++] = t->amount_cents;
            above += t->amount_cents > 500000;
            assert_true(t->amount_cents <= 500000 || t->legit_large);
            continue;
        }
        assert_true(paid[t->customer]); /* the rest follows the salary */
        assert_true(t->ts_ms < payday_start + 24 * HOUR_MS);
        if (t->type == FW_TXN_TRANSFER) {
            assert_int_equal(t->cp_kind, FW_GEN_CP_PAYEE); /* bills go outside the bank */
            bills++;
        }
        if (t->origin == FW_GEN_PAYDAY_RUSH) {
            assert_true(t->amount_cents > 100000);
            if (rush_n[t->customer]++ == 0) {
                rush_first[t->customer] = t->ts_ms;
                rushers++;
            }
            assert_true(t->ts_ms - rush_first[t->customer] < 25 * MIN_MS);
            big_rush += rush_n[t->customer] == 3;
        }
    }
    const fw_gen_stats *st = fw_gen_get_stats(g);
    assert_true(salaries <= st->salaries && st->salaries <= salaries + salaries / 10);
    assert_int_equal(rushers, st->payday_rush);
    /* 3 in 4 are salaried; a few are travelling or busy. */
    if (salaries < customers * 6 / 10 || salaries > customers * 8 / 10)
        fail_msg("%llu salaries for %u customers", (unsigned long long)salaries, customers);
    int64_t lo = 0, mid = 0;
    for (uint64_t k = 0; k < salaries; k++) {
        lo += amounts[k] < 150000;
        mid += amounts[k] >= 150000 && amounts[k] <= 400000;
    }
    assert_true(mid > (int64_t)salaries * 7 / 10 && lo < (int64_t)salaries / 10);
    assert_true(above <= salaries / 200);
    assert_true(bills > salaries / 2);
    assert_true(rushers > 0 && rushers < salaries / 50 && big_rush > 0);
    free(amounts);
    free(paid);
    free(rush_first);
    free(rush_n);
    free(v);
    fw_gen_destroy(g);
}

static void test_payday(void **state) {
    (void)state;
    /* Thursday 2024-01-25; Saturday 2024-05-25 → Friday the 24th; Sunday
     * 2024-08-25 → Friday the 23rd. */
    check_payday(day_ms(2024, 1, 23), day_ms(2024, 1, 25), 20000);
    check_payday(day_ms(2024, 5, 22), day_ms(2024, 5, 24), 5000);
    check_payday(day_ms(2024, 8, 21), day_ms(2024, 8, 23), 5000);
}

/* Legitimate transfers stay below the money-flow rules: over a month with a
 * payday, no account pays 5 distinct counterparties within 24 h, and no
 * counterparty is paid by 5 distinct accounts within 72 h. */
typedef struct flow {
    uint64_t key;     /* the receiver (fan-in) or the sender (fan-out) */
    uint64_t other;
    int64_t ts;
} flow;

static int cmp_flow(const void *a, const void *b) {
    const flow *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->ts < y->ts ? -1 : x->ts > y->ts;
}

static int max_distinct(flow *fl, size_t n, int64_t window) {
    qsort(fl, n, sizeof(*fl), cmp_flow);
    int best = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t seen[16];
        int k = 0;
        for (size_t j = i; j < n && fl[j].key == fl[i].key && fl[j].ts - fl[i].ts < window;
             j++) {
            int s = 0;
            while (s < k && seen[s] != fl[j].other)
                s++;
            if (s == k && k < 16)
                seen[k++] = fl[j].other;
        }
        if (k > best)
            best = k;
    }
    return best;
}

static void test_legit_money_flows(void **state) {
    (void)state;
    fw_gen_conf c = conf_of(42, 10000, 0.0, 1200000); /* Jan 1 to 29: the 25th is in */
    fw_gen *g = gen_new(&c);
    flow *in = calloc(c.count, sizeof(*in)), *out = calloc(c.count, sizeof(*out));
    assert_true(in && out);
    size_t n = 0;
    fw_gen_txn t;
    while (fw_gen_next(g, &t))
        if (t.type == FW_TXN_TRANSFER) {
            uint64_t to = cp_key(&t);
            in[n] = (flow){ to, t.customer, t.ts_ms };
            out[n++] = (flow){ t.customer, to, t.ts_ms };
        }
    assert_true(fw_gen_get_stats(g)->salaries > 5000);
    int fan_in = max_distinct(in, n, 72 * HOUR_MS), fan_out = max_distinct(out, n, 24 * HOUR_MS);
    if (fan_in >= 5 || fan_out >= 5)
        fail_msg("legitimate fan-in %d, fan-out %d (the rules alert at 5)", fan_in, fan_out);
    free(in);
    free(out);
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
    bool kinds[FW_GEN_CP_PAYEE + 1] = { false };
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
        assert_int_equal(has_key(&j, "scenario"), fw_gen_txn_is_fraud(&t));
        assert_int_equal(has_key(&j, "scenario_instance"), fw_gen_txn_is_fraud(&t));
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
        if (t.cp_kind != FW_GEN_CP_NONE) { /* who receives, in each id scheme */
            if (t.cp_kind == FW_GEN_CP_ACCOUNT)
                snprintf(want, sizeof(want), "acct-%u", t.counterparty);
            else if (t.cp_kind == FW_GEN_CP_EXTERNAL)
                snprintf(want, sizeof(want), "ext-42-%llu", (unsigned long long)t.instance);
            else if (t.cp_kind == FW_GEN_CP_EXTERNAL_K)
                snprintf(want, sizeof(want), "ext-42-%llu-%u", (unsigned long long)t.instance,
                         t.counterparty);
            else
                snprintf(want, sizeof(want), "ext-42-c%u-%u", t.customer, t.counterparty);
            if (!str_eq(x.counterparty_id, want))
                fail_msg("record %llu: counterparty %.*s, expected %s", (unsigned long long)n,
                         (int)x.counterparty_id.len, x.counterparty_id.ptr, want);
            kinds[t.cp_kind] = true;
        }
        assert_true((x.has & FW_TXN_HAS_LAT) && (x.has & FW_TXN_HAS_LON));
        assert_true(x.lat >= -90 && x.lat <= 90 && x.lon >= -180 && x.lon <= 180);

        ids[n] = strndup(x.transaction_id.ptr, x.transaction_id.len);
        assert_non_null(ids[n]);
        n++;
    }
    assert_int_equal(n, c.count);
    for (int k = FW_GEN_CP_ACCOUNT; k <= FW_GEN_CP_PAYEE; k++)
        if (!kinds[k])
            fail_msg("no counterparty of kind %d in %llu records", k, (unsigned long long)n);
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
        "\"account_id\":\"acct-6\",\"card_id\":\"card-6-1\",\"customer_id\":\"cust-6\","
        "\"type\":\"PURCHASE\",\"amount\":20.84,\"currency\":\"USD\","
        "\"merchant_id\":\"m-47\",\"merchant_category\":\"entertainment\","
        "\"country\":\"US\",\"lat\":42.0184,\"lon\":-87.6836,\"channel\":\"pos\","
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

    /* A scenario mix is the weights of the model. */
    const char *args3[] = { "generate", "-n", "3000", "-o", path, "-q", "--fraud-ratio", "0.1",
                            "--scenarios", "fan_in=2,cycle,mule_cashout=0.5" };
    assert_int_equal(run_cmd(args3, 10), 0);
    got = slurp(path, &got_len);
    c = conf_of(42, 10000, 0.1, 3000);
    char err[256];
    assert_true(fw_gen_parse_scenarios("fan_in=2,cycle,mule_cashout=0.5", c.weights, err,
                                       sizeof(err)));
    want = render(&c, &want_len);
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
    assert_null(strstr(got, "\"scenario\":\"velocity\""));
    assert_non_null(strstr(got, "\"scenario\":\"fan_in\""));
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
        { "generate", "--scenarios", "fan_in,nope", "-o", "-", NULL },
        { "generate", "--scenarios", "cycle=-2", "-o", "-", NULL },
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
        cmocka_unit_test(test_impossible_travel_domestic),
        cmocka_unit_test(test_parse_scenarios),
        cmocka_unit_test(test_hot_key),
        cmocka_unit_test(test_scenario_mix),
        cmocka_unit_test(test_normal_traffic),
        cmocka_unit_test(test_travel),
        cmocka_unit_test(test_payday),
        cmocka_unit_test(test_legit_money_flows),
        cmocka_unit_test(test_records_decode),
        cmocka_unit_test(test_record_golden),
        cmocka_unit_test(test_timestamp_format),
        cmocka_unit_test(test_end_of_time),
        cmocka_unit_test(test_command_writes_file),
        cmocka_unit_test(test_command_usage_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
