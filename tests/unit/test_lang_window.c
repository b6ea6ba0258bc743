/* test_lang_window.c — table-driven tests of aggregate rules with aligned
 * sliding windows ("window" + "slide") and "consume" (lang_rules.c,
 * lang_window.c; docs/rule-language.md#windows-and-consume): load errors
 * naming the field, windows exactly at and just over their edges, slide
 * boundaries, the earliest window's choice, late events within the bound,
 * ties in time, consume (with dedupe), evidence beyond 64, the window bound, state shared or
 * not, the changelog round trip at every cut, no state left after expiry,
 * a brute-force differential test of windows with late events and the
 * ranged groups' prefix totals against a scan after every transaction.
 * Time is fed, never slept. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lang_rules.h"
#include "rules_file.h"

#include "lang_test_util.h"
#include "lang_state_int.h" /* lang_ranged_check */

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define MIN_MS 60000LL
#define B (1710513000000LL / (30 * MIN_MS) * (30 * MIN_MS)) /* aligned to 30m (and 5m) */

typedef struct tx {
    char id[24], amt[32], acct[16], cp[16];
    fw_txn t;
} tx;

static void mk(tx *x, const char *id, int64_t ts, const char *amt, const char *acct,
               const char *cp) {
    memset(x, 0, sizeof(*x));
    snprintf(x->id, sizeof(x->id), "%s", id);
    snprintf(x->amt, sizeof(x->amt), "%s", amt);
    snprintf(x->acct, sizeof(x->acct), "%s", acct);
    x->t.transaction_id = fw_str_c(x->id);
    x->t.ts_ms = ts;
    x->t.amount_raw = fw_str_c(x->amt);
    x->t.amount = strtod(amt, NULL);
    x->t.account_id = fw_str_c(x->acct);
    if (cp) {
        snprintf(x->cp, sizeof(x->cp), "%s", cp);
        x->t.counterparty_id = fw_str_c(x->cp);
    }
    x->t.type = cp ? FW_TXN_TRANSFER : FW_TXN_PURCHASE;
}

typedef struct got {
    char rule[FW_LANG_MAX_ID], entity[64], values[128], evidence[512];
    int64_t ts, wstart, wend;
    size_t nevidence;
} got;

typedef struct sink {
    got a[2048];
    size_t n;
} sink;

static void on_alert(void *opaque, const fw_lang_alert *a) {
    sink *s = opaque;
    assert_true(s->n < N(s->a));
    got *g = &s->a[s->n++];
    snprintf(g->rule, sizeof(g->rule), "%s", a->rule->id);
    snprintf(g->entity, sizeof(g->entity), "%.*s", (int)a->entity.len, a->entity.ptr);
    size_t o = 0;
    g->values[0] = g->evidence[0] = '\0';
    for (size_t i = 0; i < a->nvalues; i++) {
        char d[FW_DEC_STR_MAX] = "missing";
        if (a->values[i].value.type == FW_XT_NUM)
            fw_dec_format(a->values[i].value.u.num, d, sizeof(d));
        o += (size_t)snprintf(g->values + o, sizeof(g->values) - o, "%s%s=%s", i ? " " : "",
                              a->values[i].name, d);
    }
    o = 0;
    for (size_t i = 0; i < a->nevidence && o + 40 < sizeof(g->evidence); i++)
        o += (size_t)snprintf(g->evidence + o, sizeof(g->evidence) - o, "%s%.*s", i ? "," : "",
                              (int)a->evidence[i].id.len, a->evidence[i].id.ptr);
    g->ts = a->event_time;
    g->wstart = a->window_start;
    g->wend = a->window_end;
    g->nevidence = a->nevidence;
}

static void run(fw_lang_state *st, tx *x, size_t n, sink *s) {
    for (size_t i = 0; i < n; i++) {
        fw_lang_input in = { .txn = &x[i].t };
        fw_lang_eval(st, &in, INT64_MIN, on_alert, s);
    }
}

/* Velocity as a rule: 2 transactions above 1000 in one aligned 30m window. */
#define VELOCITY(extra)                                                                      \
    "{\"time\": {\"dedupe_window\": \"0s\"" extra "}, \"rules\": [{\"id\": \"v\",\n"          \
    " \"type\": \"aggregate\", \"group_by\": \"account_id\", \"window\": \"30m\",\n"          \
    " \"slide\": \"5m\", \"where\": \"amount > 1000\", \"aggregates\": {\"count\": \"count\",\n" \
    " \"top\": \"max(amount)\"}, \"having\": \"count >= 2\"}]}"

/* ---- load errors ---- */

static void test_load_errors(void **state) {
    (void)state;
    static const struct {
        const char *window, *want;
    } cases[] = {
        { "\"window\": \"30m\", \"slide\": \"7m\"", "rules[0].slide: 420000ms must divide the window (1800000ms) exactly" },
        { "\"window\": \"5m\", \"slide\": \"10m\"", "rules[0].slide: 600000ms must divide the window (300000ms)" },
        { "\"window\": \"1001s\", \"slide\": \"1s\"", "rules[0].slide: the window (1001000ms) is 1001 slides of 1000ms; at most 1000" },
        { "\"window\": \"1h\", \"lookback\": \"1h\"", "rules[0].window: an aggregate rule has \"lookback\" or \"window\"" },
        { "\"slide\": \"5m\"", "rules[0].slide: \"slide\" needs \"window\"" },
        { "\"window\": \"0s\"", "rules[0].window: expected a duration like \"1h\" between 1ms and 30 days" },
        { "\"window\": \"31d\", \"slide\": \"1d\"", "rules[0].window: expected a duration" },
        { "\"lookback\": \"1h\", \"consume\": \"yes\"", "rules[0].consume: expected true or false, got" },
        { "\"windw\": \"1h\"", "rules[0].windw: unknown key" },
        { "\"window\": \"1000s\", \"slide\": \"1s\"", NULL }, /* exactly at the bound */
        { "\"window\": \"1h\"", NULL },                       /* tumbling: slide = window */
    };
    for (size_t c = 0; c < N(cases); c++) {
        char json[512], err[512] = "";
        snprintf(json, sizeof(json),
                 "{\"rules\": [{\"id\": \"w\", \"type\": \"aggregate\", \"group_by\": "
                 "\"account_id\", %s, \"aggregates\": {\"n\": \"count\"}, \"having\": \"n >= 2\"}]}",
                 cases[c].window);
        fw_lang_rules *rs = NULL;
        fw_err rc = lang_load(json, &rs, err, sizeof(err));
        printf("  %s -> %s\n", cases[c].window, rc == FW_OK ? "ok" : err);
        if (!cases[c].want) {
            assert_int_equal(rc, FW_OK);
        } else {
            assert_int_equal(rc, FW_ERR_INVALID);
            if (!strstr(err, cases[c].want))
                fprintf(stderr, "want \"%s\"\n got \"%s\"\n", cases[c].want, err);
            assert_non_null(strstr(err, cases[c].want));
        }
        fw_lang_rules_destroy(rs);
    }
}

/* ---- windows: edges, slides, the earliest window ---- */

static void test_window_edges(void **state) {
    (void)state;
    static const struct {
        const char *name;
        int64_t t1, t2;       /* offsets from B of two transactions above 1000 */
        bool alert;
        int64_t wstart;       /* offset of the alert's window from B */
    } cases[] = {
        { "one window, first and last ms", 0, 30 * MIN_MS - 1, true, 0 },
        { "exactly a window apart", 0, 30 * MIN_MS, false, 0 },
        { "25m apart across a slide edge", 4 * MIN_MS, 29 * MIN_MS, true, 0 },
        { "29m59.999s apart, no aligned window holds both", 4 * MIN_MS, 34 * MIN_MS - 1, false, 0 },
        { "at a slide boundary", 5 * MIN_MS, 35 * MIN_MS - 1, true, 5 * MIN_MS },
        { "just over the slide boundary", 5 * MIN_MS - 1, 35 * MIN_MS - 1, false, 0 },
        { "earliest of six windows", 10 * MIN_MS, 12 * MIN_MS, true, -15 * MIN_MS },
        { "same millisecond", 7 * MIN_MS, 7 * MIN_MS, true, -20 * MIN_MS },
        { "before the epoch", -B - 3 * MIN_MS, -B - MIN_MS, true, -B - 30 * MIN_MS },
    };
    for (size_t c = 0; c < N(cases); c++) {
        fw_lang_rules *rs = lang_load_ok(VELOCITY(""));
        fw_lang_state *st = fw_lang_state_new(rs);
        static sink s;
        s.n = 0;
        tx x[3];
        mk(&x[0], "a", B + cases[c].t1, "1500", "A", NULL);
        mk(&x[1], "small", B + cases[c].t2, "999.99", "A", NULL); /* does not count */
        mk(&x[2], "b", B + cases[c].t2, "1000.01", "A", NULL);
        run(st, x, 3, &s);
        printf("  %s: %zu alert(s)", cases[c].name, s.n);
        if (s.n)
            printf(", window [B%+lldm, B%+lldm), %s, evidence %s", (long long)((s.a[0].wstart - B) / MIN_MS),
                   (long long)((s.a[0].wend - B) / MIN_MS), s.a[0].values, s.a[0].evidence);
        printf(" (want %s)\n", cases[c].alert ? "one" : "none");
        assert_int_equal(s.n, cases[c].alert ? 1 : 0);
        if (cases[c].alert) {
            assert_int_equal(s.a[0].wstart, B + cases[c].wstart);
            assert_int_equal(s.a[0].wend, B + cases[c].wstart + 30 * MIN_MS);
            assert_int_equal(s.a[0].ts, B + cases[c].t2);
            assert_string_equal(s.a[0].evidence, "a,b");
            assert_string_equal(s.a[0].values, "count=2 top=1500");
        }
        fw_lang_state_destroy(st);
        fw_lang_rules_destroy(rs);
    }
}

/* A late event (within the bound) counts where its time puts it: the
 * windows are by event time, and its evidence is in time order. Ties in
 * time go by transaction id, whatever the arrival order. */
static void test_late_and_ties(void **state) {
    (void)state;
    static const struct {
        const char *name;
        const char *ids[3];
        int64_t ts[3];
        size_t want_alerts;
        const char *want_evidence; /* of the last alert */
        int64_t wstart;
    } cases[] = {
        { "in order", { "x", "y", NULL }, { 10 * MIN_MS, 20 * MIN_MS }, 1, "x,y", -5 * MIN_MS },
        { "late by 10m", { "y", "x", NULL }, { 20 * MIN_MS, 10 * MIN_MS }, 1, "x,y", -5 * MIN_MS },
        { "late, outside every window of the newer", { "y", "x", NULL },
          { 40 * MIN_MS, 10 * MIN_MS }, 0, "", 0 },
        { "tie, ids in reverse", { "b", "a", NULL }, { 7 * MIN_MS, 7 * MIN_MS }, 1, "a,b", -20 * MIN_MS },
        { "late between two: its earliest window", { "p", "r", "q" }, { 0, 20 * MIN_MS, 10 * MIN_MS },
          2, "p,q", -15 * MIN_MS },
    };
    for (size_t c = 0; c < N(cases); c++) {
        fw_lang_rules *rs = lang_load_ok(VELOCITY(", \"allowed_lateness\": \"1h\""));
        fw_lang_state *st = fw_lang_state_new(rs);
        static sink s;
        s.n = 0;
        tx x[3];
        size_t n = 0;
        for (; n < 3 && cases[c].ids[n]; n++)
            mk(&x[n], cases[c].ids[n], B + cases[c].ts[n], "2000", "A", NULL);
        run(st, x, n, &s);
        printf("  %s: %zu alert(s)%s%s\n", cases[c].name, s.n, s.n ? ", last evidence " : "",
               s.n ? s.a[s.n - 1].evidence : "");
        assert_int_equal(s.n, cases[c].want_alerts);
        if (s.n) {
            assert_string_equal(s.a[s.n - 1].evidence, cases[c].want_evidence);
            assert_int_equal(s.a[s.n - 1].wstart, B + cases[c].wstart);
        }
        fw_lang_state_destroy(st);
        fw_lang_rules_destroy(rs);
    }
}

/* Evidence is every event of the window, past 64 (as the built-ins name them). */
static void test_evidence_beyond_64(void **state) {
    (void)state;
    fw_lang_rules *rs = lang_load_ok(
        "{\"time\": {\"dedupe_window\": \"0s\"}, \"rules\": [{\"id\": \"v\", \"type\": \"aggregate\",\n"
        " \"group_by\": \"account_id\", \"window\": \"30m\", \"slide\": \"5m\",\n"
        " \"aggregates\": {\"count\": \"count\"}, \"having\": \"count >= 100\"}]}");
    fw_lang_state *st = fw_lang_state_new(rs);
    static sink s;
    static tx x[100];
    s.n = 0;
    for (int i = 0; i < 100; i++) {
        char id[16];
        snprintf(id, sizeof(id), "e%03d", i);
        mk(&x[i], id, B + i * 1000, "1", "A", NULL);
    }
    run(st, x, 100, &s);
    printf("  alerts %zu, evidence %zu (want 1, 100)\n", s.n, s.n ? s.a[0].nevidence : 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.a[0].nevidence, 100);
    assert_int_equal(strncmp(s.a[0].evidence, "e000,e001,", 10), 0);
    fw_lang_state_destroy(st);
    fw_lang_rules_destroy(rs);
}

/* At limits.max_window_events a ranged key keeps what it has and drops the
 * newcomer (counted), as the built-ins do: the window names the first ones. */
static void test_window_bound(void **state) {
    (void)state;
    fw_lang_rules *rs = lang_load_ok(
        "{\"time\": {\"dedupe_window\": \"0s\"}, \"limits\": {\"max_window_events\": 5},\n"
        " \"rules\": [{\"id\": \"v\", \"type\": \"aggregate\", \"group_by\": \"account_id\",\n"
        " \"window\": \"30m\", \"slide\": \"5m\", \"aggregates\": {\"n\": \"count\"},\n"
        " \"having\": \"n >= 5\"}]}");
    fw_lang_state *st = fw_lang_state_new(rs);
    static sink s;
    s.n = 0;
    tx x[7];
    for (int i = 0; i < 7; i++) {
        char id[8];
        snprintf(id, sizeof(id), "e%d", i);
        mk(&x[i], id, B + i * MIN_MS, "1", "A", NULL);
    }
    run(st, x, 7, &s);
    fw_lang_stats stats;
    fw_lang_state_stats(st, &stats);
    printf("  alerts %zu, last evidence %s, overflow %llu (want 3, e0,e1,e2,e3,e4, 2)\n", s.n,
           s.n ? s.a[s.n - 1].evidence : "", (unsigned long long)stats.overflow);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.a[2].evidence, "e0,e1,e2,e3,e4");
    assert_int_equal(stats.overflow, 2);
    assert_int_equal(stats.events, 5);
    fw_lang_state_destroy(st);
    fw_lang_rules_destroy(rs);
}

/* ---- consume ---- */

#define STRUCTURING(consume, dedupe)                                                           \
    "{\"time\": {\"dedupe_window\": \"" dedupe "\", \"allowed_lateness\": \"1h\"},\n"          \
    " \"rules\": [{\"id\": \"s\", \"type\": \"aggregate\", \"entity\": \"account_pair\",\n"    \
    " \"group_by\": [\"account_id\", \"counterparty_id\"], \"lookback\": \"86399999ms\",\n"    \
    " \"where\": \"amount < 100\", \"aggregates\": {\"total\": \"sum(amount)\"},\n"            \
    " \"having\": \"total > 100\", \"consume\": " consume "}]}"

static void test_consume(void **state) {
    (void)state;
    static const struct {
        const char *name, *json;
        const char *amt[5];
        int64_t ts[5];            /* minutes after B */
        const char *want;         /* alerts: "id:evidence;" each */
    } cases[] = {
        { "consumed: a new alert needs new funds", STRUCTURING("true", "0s"),
          { "60", "50", "60", "50", "99" }, { 0, 1, 2, 3, 4 }, "t1:t0,t1;t3:t2,t3;" },
        { "not consumed: every transfer counts again", STRUCTURING("false", "0s"),
          { "60", "50", "60", "50", "99" }, { 0, 1, 2, 3, 4 }, "t1:t0,t1;t2:t0,t1,t2;t3:t0,t1,t2,t3;t4:t0,t1,t2,t3,t4;" },
        { "deduplicated still consumes", STRUCTURING("true", "150s"),
          { "60", "50", "60", "50", "99" }, { 0, 1, 2, 3, 4 }, "t1:t0,t1;" },
        { "window edge: exactly 24h older is out", STRUCTURING("true", "0s"),
          { "60", "50", NULL }, { 0, 24 * 60 }, "" },
        { "window edge: 24h less 1ms is in", STRUCTURING("true", "0s"),
          { "60", "50", NULL }, { 1, 24 * 60 }, "t1:t0,t1;" },
        { "late transfer: its window ends at its time", STRUCTURING("true", "0s"),
          { "60", "50", "45", NULL }, { 10, 30, 20 }, "t1:t0,t1;" },
        { "late completing one: newer ones stay", STRUCTURING("true", "0s"),
          { "60", "30", "50", "80", NULL }, { 10, 30, 20, 31 }, "t2:t0,t2;t3:t1,t3;" },
    };
    for (size_t c = 0; c < N(cases); c++) {
        fw_lang_rules *rs = lang_load_ok(cases[c].json);
        fw_lang_state *st = fw_lang_state_new(rs);
        static sink s;
        s.n = 0;
        tx x[5];
        size_t n = 0;
        for (; n < 5 && cases[c].amt[n]; n++) {
            char id[8];
            snprintf(id, sizeof(id), "t%zu", n);
            mk(&x[n], id, B + cases[c].ts[n] * MIN_MS - (c == 4 && n == 0 ? MIN_MS - 1 : 0),
               cases[c].amt[n], "A", "C");
        }
        run(st, x, n, &s);
        char have[512] = "";
        size_t o = 0;
        for (size_t i = 0; i < s.n; i++) {
            const char *id = "?"; /* the alerting transaction, by its unique time */
            for (size_t j = 0; j < n; j++)
                if (x[j].t.ts_ms == s.a[i].ts)
                    id = x[j].id;
            o += (size_t)snprintf(have + o, sizeof(have) - o, "%s:%.64s;", id, s.a[i].evidence);
        }
        printf("  %s: %s (want %s)\n", cases[c].name, have, cases[c].want);
        assert_string_equal(have, cases[c].want);
        if (s.n)
            assert_string_equal(s.a[0].entity, "A->C");
        fw_lang_state_destroy(st);
        fw_lang_rules_destroy(rs);
    }
}

/* Rules of one shape share a part; a consuming rule never shares its own. */
static void test_sharing(void **state) {
    (void)state;
    static const struct {
        const char *second;
        uint64_t want_parts;
    } cases[] = {
        { "\"window\": \"30m\", \"slide\": \"5m\"", 1 },
        { "\"window\": \"30m\", \"slide\": \"10m\"", 2 },
        { "\"window\": \"30m\", \"slide\": \"5m\", \"consume\": true", 2 },
        { "\"lookback\": \"30m\"", 2 },
    };
    for (size_t c = 0; c < N(cases); c++) {
        char json[1024];
        snprintf(json, sizeof(json),
                 "{\"time\": {\"dedupe_window\": \"0s\"}, \"rules\": [{\"id\": \"a\", \"type\": \"aggregate\", \"group_by\": \"account_id\",\n"
                 " \"window\": \"30m\", \"slide\": \"5m\", \"aggregates\": {\"n\": \"count\"},\n"
                 " \"having\": \"n >= 2\"}, {\"id\": \"b\", \"type\": \"aggregate\", \"group_by\":\n"
                 " \"account_id\", %s, \"aggregates\": {\"m\": \"max(amount)\"}, \"having\": \"m > 5\"}]}",
                 cases[c].second);
        fw_lang_rules *rs = lang_load_ok(json);
        fw_lang_state *st = fw_lang_state_new(rs);
        fw_lang_stats stats;
        fw_lang_state_stats(st, &stats);
        printf("  %s: %llu part(s) (want %llu)\n", cases[c].second,
               (unsigned long long)stats.parts, (unsigned long long)cases[c].want_parts);
        assert_int_equal(stats.parts, cases[c].want_parts);
        if (c == 0) { /* the shared columns answer each rule */
            static sink s;
            s.n = 0;
            tx x[2];
            mk(&x[0], "p", B, "9", "A", NULL);
            mk(&x[1], "q", B + MIN_MS, "3", "A", NULL);
            run(st, x, 2, &s);
            assert_int_equal(s.n, 3); /* b on p, a and b on q */
            assert_string_equal(s.a[1].values, "n=2");
            assert_string_equal(s.a[2].values, "m=9");
        }
        fw_lang_state_destroy(st);
        fw_lang_rules_destroy(rs);
    }
}

/* ---- state: round trip at every cut, expiry ---- */

static uint64_t rnd_state = 0x2545f4914f6cdd1dULL;
static uint64_t rnd(void) {
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

static const char state_rules[] =
    "{\"time\": {\"dedupe_window\": \"3m\", \"allowed_lateness\": \"10m\"},\n"
    " \"rules\": [{\"id\": \"v\", \"type\": \"aggregate\", \"group_by\": \"account_id\",\n"
    " \"window\": \"30m\", \"slide\": \"5m\", \"where\": \"amount > 50\",\n"
    " \"aggregates\": {\"n\": \"count\", \"s\": \"sum(amount)\", \"lo\": \"min(amount)\",\n"
    " \"d\": \"count_distinct(counterparty_id)\", \"sd\": \"stddev(amount)\"},\n"
    " \"having\": \"n >= 3 and d >= 2\"},\n"
    " {\"id\": \"s\", \"type\": \"aggregate\", \"group_by\": [\"account_id\", \"counterparty_id\"],\n"
    " \"entity\": \"account_pair\", \"lookback\": \"1h\", \"consume\": true,\n"
    " \"aggregates\": {\"t\": \"sum(amount)\"}, \"having\": \"t > 150\"}]}";

static tx *random_txns(size_t n) {
    tx *x = calloc(n, sizeof(*x));
    int64_t ts = B;
    for (size_t i = 0; i < n; i++) {
        char id[24], amt[32], acct[8], cp[8];
        snprintf(id, sizeof(id), "r%zu", i);
        snprintf(amt, sizeof(amt), "%llu.%02llu", (unsigned long long)(rnd() % 100),
                 (unsigned long long)(rnd() % 100));
        snprintf(acct, sizeof(acct), "A%llu", (unsigned long long)(rnd() % 3));
        snprintf(cp, sizeof(cp), "C%llu", (unsigned long long)(rnd() % 3));
        ts += (int64_t)(rnd() % 3 == 0 ? 0 : rnd() % (4 * MIN_MS));
        /* One in six arrives up to 8 minutes late. */
        mk(&x[i], id, rnd() % 6 ? ts : ts - (int64_t)(rnd() % (8 * MIN_MS)), amt, acct, cp);
    }
    return x;
}

static void test_round_trip_every_cut(void **state) {
    (void)state;
    const size_t n = 160;
    tx *x = random_txns(n);
    fw_lang_rules *rs = lang_load_ok(state_rules);
    static sink whole, cut;
    whole.n = 0;
    fw_lang_state *one = fw_lang_state_new(rs);
    run(one, x, n, &whole);
    size_t nv = 0, ns = 0;
    for (size_t i = 0; i < whole.n; i++)
        *(whole.a[i].rule[0] == 'v' ? &nv : &ns) += 1;
    printf("  %zu transactions: %zu window alerts, %zu consuming alerts\n", n, nv, ns);
    assert_true(nv >= 3 && ns >= 3);
    for (size_t c = 0; c <= n; c++) {
        cut.n = 0;
        fw_lang_state *first = fw_lang_state_new(rs), *second = fw_lang_state_new(rs);
        run(first, x, c, &cut);
        lang_hand_over(first, second);
        fw_lang_state_destroy(first);
        run(second, x + c, n - c, &cut);
        if (cut.n != whole.n)
            printf("  cut at %zu: %zu alerts, want %zu\n", c, cut.n, whole.n);
        assert_int_equal(cut.n, whole.n);
        for (size_t i = 0; i < whole.n; i++) {
            assert_string_equal(cut.a[i].rule, whole.a[i].rule);
            assert_string_equal(cut.a[i].entity, whole.a[i].entity);
            assert_string_equal(cut.a[i].values, whole.a[i].values);
            assert_string_equal(cut.a[i].evidence, whole.a[i].evidence);
            assert_int_equal(cut.a[i].wstart, whole.a[i].wstart);
        }
        fw_lang_state_destroy(second);
    }
    printf("  every cut of %zu gave the same %zu alerts\n", n + 1, whole.n);
    fw_lang_state_destroy(one);
    fw_lang_rules_destroy(rs);
    free(x);
}

/* A window rule keeps its events for window + allowed_lateness (a late
 * event may still need them), then nothing is left. */
static void test_expiry_leaves_nothing(void **state) {
    (void)state;
    tx *x = random_txns(100);
    fw_lang_rules *rs = lang_load_ok(state_rules);
    fw_lang_state *st = fw_lang_state_new(rs);
    static sink s;
    s.n = 0;
    run(st, x, 100, &s);
    int64_t newest = INT64_MIN;
    for (size_t i = 0; i < 100; i++)
        newest = x[i].t.ts_ms > newest ? x[i].t.ts_ms : newest;
    fw_lang_stats before, mid, after;
    fw_lang_state_stats(st, &before);
    /* The newest event is still needed one ms before window + lateness. */
    fw_lang_expire(st, newest + 40 * MIN_MS);
    fw_lang_state_stats(st, &mid);
    size_t freed = fw_lang_expire(st, newest + 71 * MIN_MS); /* the consuming rule's 1h + 10m */
    fw_lang_state_stats(st, &after);
    printf("  keys/events %llu/%llu -> %llu/%llu -> %llu/%llu (freed %zu)\n",
           (unsigned long long)before.keys, (unsigned long long)before.events,
           (unsigned long long)mid.keys, (unsigned long long)mid.events,
           (unsigned long long)after.keys, (unsigned long long)after.events, freed);
    assert_true(before.events > 0);
    assert_true(mid.events >= 1);
    assert_int_equal(after.keys, 0);
    assert_int_equal(after.events, 0);
    fw_lang_state_destroy(st);
    fw_lang_rules_destroy(rs);
    free(x);
}

/* Brute force: every alert of a windowed rule recomputed from the events
 * seen so far, by scanning (late ones included), windows earliest first. */
static void test_differential(void **state) {
    (void)state;
    static const char rules[] =
        "{\"time\": {\"dedupe_window\": \"0s\", \"allowed_lateness\": \"10m\"},\n"
        " \"rules\": [{\"id\": \"w\", \"type\": \"aggregate\", \"group_by\": \"account_id\",\n"
        " \"window\": \"20m\", \"slide\": \"4m\", \"where\": \"amount > 20\",\n"
        " \"aggregates\": {\"n\": \"count\", \"s\": \"sum(amount)\", \"lo\": \"min(amount)\",\n"
        " \"hi\": \"max(amount)\", \"d\": \"count_distinct(counterparty_id)\"},\n"
        " \"having\": \"n >= 3 and hi - lo > 30 and d >= 2\"}]}";
    const int64_t W = 20 * MIN_MS, S = 4 * MIN_MS;
    const size_t n = 1500;
    tx *x = random_txns(n);
    fw_lang_rules *rs = lang_load_ok(rules);
    fw_lang_state *st = fw_lang_state_new(rs);
    static sink s;
    s.n = 0;
    size_t want = 0, checked = 0;
    for (size_t i = 0; i < n; i++) {
        fw_lang_input in = { .txn = &x[i].t };
        size_t before = s.n;
        fw_lang_eval(st, &in, INT64_MIN, on_alert, &s);
        const fw_txn *t = &x[i].t;
        if (!(t->amount > 20)) {
            assert_int_equal(s.n, before);
            continue;
        }
        int64_t last = t->ts_ms / S * S, hit = INT64_MIN;
        char values[128] = "", evidence[512] = "";
        for (int64_t start = last - W + S; start <= last && hit == INT64_MIN; start += S) {
            /* The window's events: seen so far, same key, counted, by (time, id). */
            size_t idx[64], m = 0;
            for (size_t j = 0; j <= i; j++) {
                const fw_txn *u = &x[j].t;
                if (!(u->amount > 20) || strcmp(x[j].acct, x[i].acct) || u->ts_ms < start ||
                    u->ts_ms >= start + W)
                    continue;
                size_t k = m++;
                assert_true(m <= N(idx));
                while (k > 0 && (x[idx[k - 1]].t.ts_ms > u->ts_ms ||
                                 (x[idx[k - 1]].t.ts_ms == u->ts_ms && strcmp(x[idx[k - 1]].id, x[j].id) > 0))) {
                    idx[k] = idx[k - 1];
                    k--;
                }
                idx[k] = j;
            }
            double lo = 1e18, hi = -1e18;
            size_t d = 0;
            for (size_t k = 0; k < m; k++) {
                const fw_txn *u = &x[idx[k]].t;
                lo = u->amount < lo ? u->amount : lo;
                hi = u->amount > hi ? u->amount : hi;
                bool seen = false;
                for (size_t q = 0; q < k; q++)
                    seen = seen || !strcmp(x[idx[q]].cp, x[idx[k]].cp);
                d += !seen;
            }
            if (!(m >= 3 && hi - lo > 30 + 1e-9 && d >= 2))
                continue;
            hit = start;
            size_t o = 0;
            for (size_t k = 0; k < m; k++)
                o += (size_t)snprintf(evidence + o, sizeof(evidence) - o, "%s%s", k ? "," : "",
                                      x[idx[k]].id);
            snprintf(values, sizeof(values), "n=%zu d=%zu", m, d);
        }
        if (hit == INT64_MIN) {
            if (s.n != before)
                printf("  %s at %lld: an alert, want none\n", x[i].id, (long long)t->ts_ms);
            assert_int_equal(s.n, before);
            continue;
        }
        want++;
        assert_int_equal(s.n, before + 1);
        const got *g = &s.a[before];
        assert_int_equal(g->wstart, hit);
        assert_int_equal(g->wend, hit + W);
        assert_string_equal(g->evidence, evidence);
        char nd[64];
        int nn = 0;
        size_t dd = 0;
        assert_int_equal(sscanf(g->values, "n=%d", &nn), 1);
        assert_non_null(strstr(g->values, " d="));
        dd = (size_t)strtoul(strstr(g->values, " d=") + 3, NULL, 10);
        snprintf(nd, sizeof(nd), "n=%d d=%zu", nn, dd);
        assert_string_equal(nd, values);
        checked++;
        if (s.n >= N(s.a) - 1)
            s.n = 0; /* room for more; the checked ones are done */
    }
    printf("  %zu transactions, %zu alerts as brute force recomputes them\n", n, checked);
    assert_true(want >= 20);
    fw_lang_state_destroy(st);
    fw_lang_rules_destroy(rs);
    free(x);
}

/* The prefix totals a ranged group keeps (lang_window.c) equal a scan of the
 * ring after every transaction: random times with late ones inserted in
 * place, consuming alerts cutting events out of the middle, eviction, ring
 * growth, and a restore from the changelog halfway. */
static void test_prefix_totals(void **state) {
    (void)state;
    static const char rules[] =
        "{\"time\": {\"dedupe_window\": \"2m\", \"allowed_lateness\": \"10m\"},\n"
        " \"rules\": [{\"id\": \"w\", \"type\": \"aggregate\", \"group_by\": \"account_id\",\n"
        " \"window\": \"20m\", \"slide\": \"4m\", \"where\": \"amount > 20\",\n"
        " \"aggregates\": {\"n\": \"count\", \"s\": \"sum(amount)\", \"a\": \"avg(amount)\",\n"
        " \"lo\": \"min(amount)\", \"sd\": \"stddev(amount)\"},\n"
        " \"having\": \"n >= 4 and sd > 20\"},\n"
        " {\"id\": \"c\", \"type\": \"aggregate\", \"group_by\": [\"account_id\", \"counterparty_id\"],\n"
        " \"entity\": \"account_pair\", \"lookback\": \"30m\", \"consume\": true,\n"
        " \"aggregates\": {\"n\": \"count\", \"t\": \"sum(amount)\", \"a\": \"avg(amount)\",\n"
        " \"sd\": \"stddev(amount)\", \"d\": \"count_distinct(transaction_id)\"},\n"
        " \"having\": \"t > 180 and n >= 3\"}]}";
    const size_t n = 2000;
    tx *x = random_txns(n);
    fw_lang_rules *rs = lang_load_ok(rules);
    fw_lang_state *st = fw_lang_state_new(rs);
    static sink s;
    size_t nw = 0, nc = 0, late = 0;
    int64_t newest = INT64_MIN;
    char err[256] = "";
    for (size_t i = 0; i < n; i++) {
        fw_lang_input in = { .txn = &x[i].t };
        s.n = 0;
        fw_lang_eval(st, &in, INT64_MIN, on_alert, &s);
        for (size_t j = 0; j < s.n; j++)
            *(s.a[j].rule[0] == 'w' ? &nw : &nc) += 1;
        late += x[i].t.ts_ms < newest;
        newest = x[i].t.ts_ms > newest ? x[i].t.ts_ms : newest;
        if (!lang_ranged_check(st, err, sizeof(err)))
            fail_msg("after %s (%zu of %zu): %s", x[i].id, i + 1, n, err);
        if (i == n / 2) { /* restored from the changelog: prefixes rebuilt from the events */
            fw_lang_state *next = fw_lang_state_new(rs);
            lang_hand_over(st, next);
            fw_lang_state_destroy(st);
            st = next;
            if (!lang_ranged_check(st, err, sizeof(err)))
                fail_msg("restored after %zu: %s", i + 1, err);
        }
    }
    fw_lang_stats stats;
    fw_lang_state_stats(st, &stats);
    printf("  %zu transactions (%zu late): %zu window alerts, %zu consuming alerts, "
           "%" PRIu64 " events kept; prefixes equal a scan after each\n",
           n, late, nw, nc, stats.events);
    assert_true(late >= 100 && nw >= 20 && nc >= 20);
    fw_lang_state_destroy(st);
    fw_lang_rules_destroy(rs);
    free(x);
}

/* The window's shape names the state: another window or slide, or consume,
 * is another shape, while a lookback rule's id is unchanged by the feature. */
static void test_shape(void **state) {
    (void)state;
    static const char *const shapes[] = {
        "\"window\": \"30m\", \"slide\": \"5m\"", "\"window\": \"30m\", \"slide\": \"10m\"",
        "\"window\": \"1h\", \"slide\": \"5m\"", "\"window\": \"30m\", \"slide\": \"5m\", \"consume\": true",
        "\"lookback\": \"30m\"", "\"lookback\": \"30m\", \"consume\": true",
    };
    uint64_t ids[N(shapes)];
    for (size_t c = 0; c < N(shapes); c++) {
        char json[512];
        snprintf(json, sizeof(json),
                 "{\"rules\": [{\"id\": \"a\", \"type\": \"aggregate\", \"group_by\": "
                 "\"account_id\", %s, \"aggregates\": {\"n\": \"count\"}, \"having\": \"n >= 2\"}]}",
                 shapes[c]);
        fw_lang_rules *rs = lang_load_ok(json);
        fw_lang_state *st = fw_lang_state_new(rs);
        ids[c] = fw_lang_state_part_id(st, 0);
        printf("  %s: part %016llx\n", shapes[c], (unsigned long long)ids[c]);
        for (size_t j = 0; j < c; j++)
            assert_true(ids[j] != ids[c]);
        fw_lang_state_destroy(st);
        fw_lang_rules_destroy(rs);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_window_edges),
        cmocka_unit_test(test_late_and_ties),
        cmocka_unit_test(test_evidence_beyond_64),
        cmocka_unit_test(test_window_bound),
        cmocka_unit_test(test_consume),
        cmocka_unit_test(test_sharing),
        cmocka_unit_test(test_round_trip_every_cut),
        cmocka_unit_test(test_expiry_leaves_nothing),
        cmocka_unit_test(test_differential),
        cmocka_unit_test(test_prefix_totals),
        cmocka_unit_test(test_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
