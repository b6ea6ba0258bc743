/* test_lang_prev.c — table-driven tests of the language rules' per-key
 * history (lang_history.c): `prev.<field>` (per group_by key, prev_within
 * exactly at and just over, records behind the watermark), `is_new` (exactly
 * at and just over its lookback, the max_window_events bound and its
 * overflow count), a sequence's rule-level `where`, `times` and `within`
 * given as `$param`, `"after_match": "no_skip"`, the changelog round trip at
 * every cut, no state left after expiry, and load errors. Time is fed, never
 * slept. The comparison with the built-ins is tests/cli/lang_seed_equiv.sh
 * and tests/cli/lang_prev_adversarial.sh. */
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

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define T0 1710513000000LL
#define MIN_MS 60000LL

/* ---- records and alerts ---- */

typedef struct tx {
    char id[24], amt[32], acct[16], country[8], merchant[16];
    fw_txn t;
} tx;

/* One record: id, account, type, amount, ms after T0, country, merchant,
 * lat/lon (both 0: none), behind the watermark. */
typedef struct rec {
    const char *id, *acct;
    fw_txn_type type;
    const char *amt;
    int64_t dt;
    const char *country, *merchant;
    double lat, lon;
    bool behind;
} rec;

static void mk(tx *x, const rec *r) {
    memset(x, 0, sizeof(*x));
    snprintf(x->id, sizeof(x->id), "%s", r->id);
    snprintf(x->amt, sizeof(x->amt), "%s", r->amt ? r->amt : "1");
    snprintf(x->acct, sizeof(x->acct), "%s", r->acct);
    x->t.transaction_id = fw_str_c(x->id);
    x->t.amount_raw = fw_str_c(x->amt);
    x->t.amount = strtod(x->amt, NULL);
    x->t.account_id = fw_str_c(x->acct);
    x->t.ts_ms = T0 + r->dt;
    x->t.type = r->type ? r->type : FW_TXN_PURCHASE;
    if (r->country) {
        snprintf(x->country, sizeof(x->country), "%s", r->country);
        x->t.country = fw_str_c(x->country);
    }
    if (r->merchant) {
        snprintf(x->merchant, sizeof(x->merchant), "%s", r->merchant);
        x->t.merchant_id = fw_str_c(x->merchant);
    }
    if (r->lat != 0 || r->lon != 0) {
        x->t.lat = r->lat;
        x->t.lon = r->lon;
        x->t.has = FW_TXN_HAS_LAT | FW_TXN_HAS_LON;
    }
}

typedef struct sink {
    char got[2048]; /* each alert as "entity:ev1,ev2,...;" */
    int64_t wstart, wend;
} sink;

static void on_alert(void *opaque, const fw_lang_alert *a) {
    sink *s = opaque;
    lang_alert_append(s->got, sizeof(s->got), a);
    s->wstart = a->window_start;
    s->wend = a->window_end;
}

static void feed(fw_lang_state *st, const rec *r, size_t n, sink *s) {
    for (size_t i = 0; i < n && r[i].id; i++) {
        tx x;
        mk(&x, &r[i]);
        fw_lang_input in = { .txn = &x.t, .behind = r[i].behind };
        fw_lang_eval(st, &in, INT64_MIN, on_alert, s);
    }
}

LANG_FEED_TEXT(rec, sink)

/* One rule (the JSON object's members after "id"), dedupe off, at most
 * @p max events per key. */
static char *doc(const char *rule, int max) {
    static char buf[4096];
    snprintf(buf, sizeof(buf),
             "{\"time\": {\"dedupe_window\": \"0s\"}, \"limits\": {\"max_window_events\": %d}, "
             "\"rules\": [{\"id\": \"r\", %s}]}", max, rule);
    return buf;
}

#define P FW_TXN_PURCHASE
#define L FW_TXN_LOGIN
#define DROP "\"type\": \"filter\", \"group_by\": \"account_id\", \"prev_within\": \"10m\", " \
             "\"when\": \"amount < prev.amount / 2\""
#define JUMP "\"type\": \"filter\", \"group_by\": \"account_id\", " \
             "\"when\": \"country != prev.country and speed_kmh(prev, this) > 900\""
#define NEWM "\"type\": \"filter\", \"group_by\": \"account_id\", " \
             "\"when\": \"is_new(merchant_id, 10m)\""
#define RAPID "\"type\": \"sequence\", \"group_by\": \"account_id\", \"within\": \"$within\", " \
              "\"params\": {\"n\": 3, \"within\": \"10m\"}, \"where\": \"type != \\\"LOGIN\\\"\", " \
              "\"steps\": [{\"when\": \"amount < 10\", \"times\": \"$n\"}]"
#define RAPID_NS RAPID ", \"after_match\": \"no_skip\""
#define COOK "\"type\": \"sequence\", \"group_by\": \"account_id\", \"within\": \"1h\", " \
             "\"steps\": [{\"when\": \"is_new(merchant_id, 30d)\"}, " \
             "{\"followed_by\": \"amount > 100\"}]"

static void test_history(void **state) {
    (void)state;
    static const struct {
        const char *name, *rule;
        int max;
        rec r[10];
        const char *want;
    } cases[] = {
        { "prev is per key", DROP, 100,
          { { "a1", "A", P, "100", 0 }, { "b1", "B", P, "10", 1 }, { "a2", "A", P, "40", 2 },
            { "b2", "B", P, "4", 3 } },
          "A:a1,a2;B:b1,b2;" },
        { "no prev: missing, no alert", DROP, 100,
          { { "a1", "A", P, "1", 0 } }, "" },
        { "prev exactly prev_within old counts", DROP, 100,
          { { "a1", "A", P, "100", 0 }, { "a2", "A", P, "40", 10 * MIN_MS } }, "A:a1,a2;" },
        { "prev just over prev_within is missing", DROP, 100,
          { { "a1", "A", P, "100", 0 }, { "a2", "A", P, "40", 10 * MIN_MS + 1 } }, "" },
        { "behind the watermark: no prev, and it is not the prev", DROP, 100,
          { { "a1", "A", P, "100", 5 }, { "late", "A", P, "1", 1, .behind = true },
            { "a2", "A", P, "40", 6 } },
          "A:a1,a2;" },
        { "prev is the previous transaction, not the previous alert", DROP, 100,
          { { "a1", "A", P, "100", 0 }, { "a2", "A", P, "40", 1 }, { "a3", "A", P, "30", 2 },
            { "a4", "A", P, "10", 3 } },
          "A:a1,a2;A:a3,a4;" },
        { "speed_kmh(prev, this): Paris then New York in an hour", JUMP, 100,
          { { "a1", "A", P, "5", 0, "FR", .lat = 48.85, .lon = 2.35 },
            { "a2", "A", P, "5", 60 * MIN_MS, "US", .lat = 40.71, .lon = -74.0 } },
          "A:a1,a2;" },
        { "speed_kmh: missing lat/lon, no alert", JUMP, 100,
          { { "a1", "A", P, "5", 0, "FR" }, { "a2", "A", P, "5", 60 * MIN_MS, "US" } }, "" },
        { "is_new: first seen, exactly at the lookback, just over", NEWM, 100,
          { { "a1", "A", P, "1", 0, .merchant = "M1" },
            { "a2", "A", P, "1", 10 * MIN_MS, .merchant = "M1" },
            { "a3", "A", P, "1", 20 * MIN_MS + 1, .merchant = "M1" } },
          "A:a1;A:a3;" },
        { "is_new per key, and a missing value is not new", NEWM, 100,
          { { "a1", "A", P, "1", 0, .merchant = "M1" }, { "b1", "B", P, "1", 1, .merchant = "M1" },
            { "a2", "A", P, "1", 2 } },
          "A:a1;B:b1;" },
        { "is_new: the bound forgets the least recently seen", NEWM, 5,
          { { "a1", "A", P, "1", 0, .merchant = "M1" }, { "a2", "A", P, "1", 1, .merchant = "M2" },
            { "a3", "A", P, "1", 2, .merchant = "M3" }, { "a4", "A", P, "1", 3, .merchant = "M4" },
            { "a5", "A", P, "1", 4, .merchant = "M5" }, { "a6", "A", P, "1", 5, .merchant = "M6" },
            { "a7", "A", P, "1", 6, .merchant = "M2" }, { "a8", "A", P, "1", 7, .merchant = "M1" } },
          "A:a1;A:a2;A:a3;A:a4;A:a5;A:a6;A:a8;" },
        { "is_new: behind the watermark is judged but not remembered", NEWM, 100,
          { { "a1", "A", P, "1", 5, .merchant = "M1" },
            { "late", "A", P, "1", 1, .merchant = "M2", .behind = true },
            { "a2", "A", P, "1", 6, .merchant = "M2" } },
          "A:a1;A:late;A:a2;" },
        { "sequence where: a LOGIN neither matches nor breaks", RAPID, 100,
          { { "a1", "A", P, "1", 0 }, { "l", "A", L, "1", 1 }, { "a2", "A", P, "1", 2 },
            { "a3", "A", P, "1", 3 } },
          "A:a1,a2,a3;" },
        { "sequence: a purchase that is not small breaks the run", RAPID, 100,
          { { "a1", "A", P, "1", 0 }, { "x", "A", P, "99", 1 }, { "a2", "A", P, "1", 2 },
            { "a3", "A", P, "1", 3 } },
          "" },
        { "sequence: records behind the watermark are not seen", RAPID, 100,
          { { "a1", "A", P, "1", 5 }, { "late", "A", P, "99", 1, .behind = true },
            { "a2", "A", P, "1", 6 }, { "a3", "A", P, "1", 7 } },
          "A:a1,a2,a3;" },
        { "skip_past_last: the 4th small one starts afresh", RAPID, 100,
          { { "a1", "A", P, "1", 0 }, { "a2", "A", P, "1", 1 }, { "a3", "A", P, "1", 2 },
            { "a4", "A", P, "1", 3 } },
          "A:a1,a2,a3;" },
        { "no_skip: the run slides, as rapid_small's", RAPID_NS, 100,
          { { "a1", "A", P, "1", 0 }, { "a2", "A", P, "1", 1 }, { "a3", "A", P, "1", 2 },
            { "a4", "A", P, "1", 3 } },
          "A:a1,a2,a3;A:a2,a3,a4;" },
        { "no_skip: exactly at within is outside", RAPID_NS, 100,
          { { "a1", "A", P, "1", 0 }, { "a2", "A", P, "1", 5 * MIN_MS },
            { "a3", "A", P, "1", 10 * MIN_MS }, { "a4", "A", P, "1", 10 * MIN_MS + 1 } },
          "A:a2,a3,a4;" },
        { "cookbook shape: is_new in a step", COOK, 100,
          { { "a1", "A", P, "1", 0, .merchant = "M1" }, { "a2", "A", P, "500", 1, .merchant = "M1" },
            { "a3", "A", P, "500", 2, .merchant = "M1" } },
          "A:a1,a2;" },
    };
    for (size_t c = 0; c < N(cases); c++) {
        fw_lang_rules *rs = lang_load_ok(doc(cases[c].rule, cases[c].max));
        fw_lang_state *st = fw_lang_state_new(rs);
        sink s = { 0 };
        feed(st, cases[c].r, N(cases[c].r), &s);
        /* The entity is the key, "account_id=A": compare by the bare value. */
        char got[2048];
        size_t o = 0;
        for (const char *p = s.got; *p && o + 1 < sizeof(got); p++)
            if (strncmp(p, "account_id=", 11) == 0)
                p += 10;
            else
                got[o++] = *p;
        got[o] = '\0';
        printf("%s: got \"%s\", want \"%s\"\n", cases[c].name, got, cases[c].want);
        assert_string_equal(got, cases[c].want);
        fw_lang_state_destroy(st);
        fw_lang_rules_destroy(rs);
    }
}

/* A filter reading prev names both records and the span prev counts in. */
static void test_prev_alert(void **state) {
    (void)state;
    static const rec r[] = { { "a1", "A", P, "100", 0 }, { "a2", "A", P, "40", 2 * MIN_MS } };
    fw_lang_rules *rs = lang_load_ok(doc(DROP, 100));
    fw_lang_state *st = fw_lang_state_new(rs);
    sink s = { 0 };
    feed(st, r, N(r), &s);
    printf("window [%lld, %lld], want [%lld, %lld]\n", (long long)s.wstart, (long long)s.wend,
           (long long)T0, (long long)(T0 + 10 * MIN_MS));
    assert_int_equal(s.wstart, T0);
    assert_int_equal(s.wend, T0 + 10 * MIN_MS);
    fw_lang_stats stats;
    fw_lang_state_stats(st, &stats);
    assert_int_equal(stats.keys, 1);
    fw_lang_state_destroy(st);
    fw_lang_rules_destroy(rs);
}

/* The is_new bound is counted as overflow. */
static void test_seen_bound(void **state) {
    (void)state;
    rec r[8];
    char ids[8][8], ms[8][8];
    for (int i = 0; i < 8; i++) {
        snprintf(ids[i], sizeof(ids[i]), "t%d", i);
        snprintf(ms[i], sizeof(ms[i]), "M%d", i);
        r[i] = (rec){ ids[i], "A", P, "1", i, .merchant = ms[i] };
    }
    fw_lang_rules *rs = lang_load_ok(doc(NEWM, 5));
    fw_lang_state *st = fw_lang_state_new(rs);
    sink s = { 0 };
    feed(st, r, N(r), &s);
    fw_lang_stats stats;
    fw_lang_state_stats(st, &stats);
    printf("overflow %llu, want 3\n", (unsigned long long)stats.overflow);
    assert_int_equal(stats.overflow, 3);
    fw_lang_state_destroy(st);
    fw_lang_rules_destroy(rs);
}

/* Expiry frees prev (past prev_within) and is_new's values (past the
 * longest lookback): no state is left. */
static void test_expiry(void **state) {
    (void)state;
    static const struct {
        const char *name, *rule;
        int64_t keep; /* still held at T0 + keep, freed at T0 + keep + 1 */
    } cases[] = {
        { "prev", DROP, 10 * MIN_MS },
        { "is_new", NEWM, 10 * MIN_MS },
        { "sequence with is_new", COOK, 30 * 24 * 60 * MIN_MS },
    };
    static const rec r[] = { { "a1", "A", P, "100", 0, .merchant = "M1" } };
    for (size_t c = 0; c < N(cases); c++) {
        fw_lang_rules *rs = lang_load_ok(doc(cases[c].rule, 100));
        fw_lang_state *st = fw_lang_state_new(rs);
        sink s = { 0 };
        feed(st, r, N(r), &s);
        fw_lang_stats stats;
        fw_lang_expire(st, T0 + cases[c].keep);
        fw_lang_state_stats(st, &stats);
        uint64_t held = stats.keys;
        fw_lang_expire(st, T0 + cases[c].keep + 1);
        fw_lang_state_stats(st, &stats);
        printf("%s: %llu keys at the bound, %llu just after; want 1, 0\n", cases[c].name,
               (unsigned long long)held, (unsigned long long)stats.keys);
        assert_int_equal(held, 1);
        assert_int_equal(stats.keys, 0);
        fw_lang_state_destroy(st);
        fw_lang_rules_destroy(rs);
    }
}

/* Handing the state over at every cut gives the same alerts as one run, for
 * prev, is_new and a no_skip sequence together; truncated bytes are refused. */
static void test_round_trip(void **state) {
    (void)state;
    static const char *json =
        "{\"time\": {\"dedupe_window\": \"0s\"}, \"rules\": ["
        "{\"id\": \"drop\", " DROP "}, {\"id\": \"newm\", " NEWM "}, "
        "{\"id\": \"rapid\", " RAPID_NS "}, {\"id\": \"cook\", " COOK "}]}";
    static const rec r[] = {
        { "a1", "A", P, "100", 0, "FR", "M1", 48.85, 2.35 }, { "b1", "B", P, "5", 1, .merchant = "M1" },
        { "a2", "A", P, "4", 2, "US", "M2" },                 { "a3", "A", L, "1", 3 },
        { "b2", "B", P, "2", 4, .merchant = "M1" },           { "a4", "A", P, "1", 5, .merchant = "M1" },
        { "a5", "A", P, "0.5", 6, .merchant = "M3" },         { "b3", "B", P, "300", 7 },
        { "a6", "A", P, "200", 8, .merchant = "M3" },
    };
    fw_lang_rules *rs = lang_load_ok(json);
    fw_lang_state *one = fw_lang_state_new(rs);
    sink want = { 0 };
    feed(one, r, N(r), &want);
    printf("one run: %s\n", want.got);
    assert_non_null(strstr(want.got, "account_id=A:a1,a2;"));
    assert_non_null(strstr(want.got, "account_id=A:a2,a4,a5;"));
    lang_assert_every_cut(rs, r, N(r), feed_text, want.got);
    for (size_t part = 0; part < 2; part++)
        lang_assert_truncated_refused(rs, r, 3, feed_text, part, "account_id=A", "state truncated");
    fw_lang_state_destroy(one);
    fw_lang_rules_destroy(rs);
}

/* A prev longer than what its key holds inline moves to the heap, shrinks
 * back, and survives the changelog (ASan checks the memory). */
static void test_prev_long(void **state) {
    (void)state;
    fw_lang_rules *rs = lang_load_ok(doc("\"type\": \"filter\", \"group_by\": \"account_id\", "
                                    "\"when\": \"merchant_id == prev.merchant_id\"", 100));
    char longm[300];
    memset(longm, 'm', sizeof(longm) - 1);
    longm[sizeof(longm) - 1] = '\0';
    static const char *const merch[] = { NULL, NULL, "short", "short", NULL };
    static const char *const ids[] = { "a1", "a2", "a3", "a4", "a5" };
    fw_lang_state *a = fw_lang_state_new(rs), *b = fw_lang_state_new(rs);
    sink s = { 0 };
    for (int i = 0; i < 5; i++) {
        tx x;
        mk(&x, &(rec){ ids[i], "A", P, "1", i });
        x.t.merchant_id = fw_str_c(merch[i] ? merch[i] : longm);
        fw_lang_input in = { .txn = &x.t };
        fw_lang_eval(i < 3 ? a : b, &in, INT64_MIN, on_alert, &s);
        if (i == 2) /* hand the state over after the long one went to the heap */
            lang_hand_over(a, b);
    }
    printf("got %s, want account_id=A:a1,a2;account_id=A:a3,a4;\n", s.got);
    assert_string_equal(s.got, "account_id=A:a1,a2;account_id=A:a3,a4;");
    fw_lang_state_destroy(a);
    fw_lang_state_destroy(b);
    fw_lang_rules_destroy(rs);
}

static void test_load_errors(void **state) {
    (void)state;
    static const struct {
        const char *rule, *want;
    } cases[] = {
        { "\"type\": \"filter\", \"when\": \"amount > prev.amount\"",
          "rules[0].when: prev. and is_new need \"group_by\"" },
        { "\"type\": \"filter\", \"when\": \"is_new(merchant_id, 1d)\"",
          "rules[0].when: prev. and is_new need \"group_by\"" },
        { "\"type\": \"aggregate\", \"group_by\": \"account_id\", \"lookback\": \"1h\", "
          "\"where\": \"amount > prev.amount\", \"aggregates\": {\"n\": \"count\"}, \"having\": \"n > 1\"",
          "rules[0].where: prev. and is_new are for filter and sequence rules" },
        { "\"type\": \"filter\", \"group_by\": \"account_id\", \"when\": \"prev.V1 > 1\"",
          "rules[0].when: prev. keeps the named schema fields" },
        { "\"type\": \"filter\", \"group_by\": \"account_id\", \"prev_within\": \"never\", "
          "\"when\": \"prev.amount > 1\"",
          "rules[0].prev_within: expected a duration like \"1h\"" },
        { "\"type\": \"sequence\", \"group_by\": \"account_id\", \"within\": \"$wihtin\", "
          "\"params\": {\"within\": \"5m\"}, \"steps\": [{\"when\": \"true\"}]",
          "rules[0].within: unknown param \"$wihtin\", did you mean \"within\"?" },
        { "\"type\": \"sequence\", \"group_by\": \"account_id\", \"within\": \"$n\", "
          "\"params\": {\"n\": 3}, \"steps\": [{\"when\": \"true\"}]",
          "rules[0].within: expected a duration like \"30m\" between 1ms and 30 days in its param" },
        { "\"type\": \"sequence\", \"group_by\": \"account_id\", \"within\": \"5m\", "
          "\"params\": {\"n\": 2.5}, \"steps\": [{\"when\": \"true\", \"times\": \"$n\"}]",
          "rules[0].steps[0].times: param \"n\" must be an integer between 1 and 100" },
        { "\"type\": \"sequence\", \"group_by\": \"account_id\", \"within\": \"5m\", "
          "\"after_match\": \"skip\", \"steps\": [{\"when\": \"true\"}]",
          "rules[0].after_match: expected \"skip_past_last\"" },
        { "\"type\": \"sequence\", \"group_by\": \"account_id\", \"within\": \"5m\", "
          "\"where\": \"ammount > 1\", \"steps\": [{\"when\": \"true\"}]",
          "rules[0].where: unknown field \"ammount\", did you mean \"amount\"?" },
    };
    for (size_t c = 0; c < N(cases); c++) {
        fw_lang_rules *rs = NULL;
        char err[1024] = "";
        char json[2048];
        snprintf(json, sizeof(json), "{\"rules\": [{\"id\": \"r\", %s}]}", cases[c].rule);
        fw_err rc = lang_load(json, &rs, err, sizeof(err));
        printf("case %zu: %s\n  want prefix %s\n", c, err, cases[c].want);
        assert_int_not_equal(rc, FW_OK);
        assert_null(rs);
        assert_memory_equal(err, cases[c].want, strlen(cases[c].want));
    }
}

/* `rules show` writes $param references back as written. */
static void test_write_back(void **state) {
    (void)state;
    fw_lang_rules *rs = lang_load_ok(doc(RAPID_NS ", \"reason\": \"{n} small\"", 100));
    fw_buf b;
    fw_buf_init(&b, 0);
    assert_true(fw_lang_rules_write_json(rs, &b, ""));
    printf("%.*s\n", (int)b.len, b.data);
    assert_non_null(strstr(b.data, "\"within\": \"$within\""));
    assert_non_null(strstr(b.data, "\"times\": \"$n\""));
    assert_non_null(strstr(b.data, "\"after_match\": \"no_skip\""));
    assert_non_null(strstr(b.data, "\"where\": \"type != \\\"LOGIN\\\"\""));
    fw_buf_fini(&b);
    /* ... and reads back to the same text. */
    lang_assert_writes_back(rs, "");
    fw_lang_rules_destroy(rs);
}

/* ---- the cookbook of docs/rule-language.md ---- */

/* "A new device followed by a payee change and a transfer", run as written
 * in the doc on one account's day (device_id is an extra field). */
static void test_cookbook_new_device(void **state) {
    (void)state;
    char *doc = lang_read_cookbook();
    char *json = lang_cookbook_block(doc, "### A new device followed by a payee change and a transfer");
    fw_lang_rules *rs = lang_load_ok(json);
    assert_int_equal(rs->nextra, 1);
    assert_string_equal(rs->extra_names[0], "device_id");
    fw_lang_state *st = fw_lang_state_new(rs);
    static const struct {
        const char *id, *dev, *type, *amt;
        int64_t dt;
    } r[] = {
        { "first", "D1", "PURCHASE", "20", 0 },                     /* no history: not new */
        { "d1", "D1", "PURCHASE", "20", 24 * 60 * MIN_MS },
        { "d2", "D2", "PURCHASE", "20", 24 * 60 * MIN_MS + MIN_MS }, /* new device */
        { "x", "D2", "PURCHASE", "30", 24 * 60 * MIN_MS + 5 * MIN_MS },
        { "p1", "D2", "PAYEE_CHANGE", "0", 24 * 60 * MIN_MS + 10 * MIN_MS },
        { "t1", "D2", "TRANSFER", "5000", 24 * 60 * MIN_MS + 20 * MIN_MS }, /* alert */
        { "p2", "D2", "PAYEE_CHANGE", "0", 26 * 60 * MIN_MS },     /* D2 is known now */
        { "t2", "D2", "TRANSFER", "5000", 26 * 60 * MIN_MS + MIN_MS },
        { "d3", "D3", "PURCHASE", "20", 48 * 60 * MIN_MS },        /* new, but ... */
        { "p3", "D3", "PAYEE_CHANGE", "0", 48 * 60 * MIN_MS + 30 * MIN_MS },
        { "t3", "D3", "TRANSFER", "5000", 49 * 60 * MIN_MS },      /* ... exactly at within */
    };
    sink s = { 0 };
    for (size_t i = 0; i < N(r); i++) {
        tx x;
        mk(&x, &(rec){ r[i].id, "A", FW_TXN_TYPE_OTHER, r[i].amt, r[i].dt });
        if (!strcmp(r[i].type, "TRANSFER"))
            x.t.type = FW_TXN_TRANSFER, x.t.counterparty_id = fw_str_c("PAYEE9");
        else if (!strcmp(r[i].type, "PURCHASE"))
            x.t.type = FW_TXN_PURCHASE;
        else
            x.t.type_raw = fw_str_c(r[i].type);
        fw_str extra[1] = { fw_str_c(r[i].dev) };
        fw_lang_input in = { .txn = &x.t, .extra = extra, .nextra = 1 };
        fw_lang_eval(st, &in, INT64_MIN, on_alert, &s);
    }
    printf("  new device: %s, want account_id=A:d2,p1,t1;\n", s.got);
    assert_string_equal(s.got, "account_id=A:d2,p1,t1;");
    fw_lang_state_destroy(st);
    fw_lang_rules_destroy(rs);
    free(json);
    free(doc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_history),     cmocka_unit_test(test_prev_alert),
        cmocka_unit_test(test_seen_bound),  cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_round_trip),  cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_prev_long),
        cmocka_unit_test(test_write_back),  cmocka_unit_test(test_cookbook_new_device),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
