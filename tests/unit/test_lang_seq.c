/* test_lang_seq.c — table-driven tests of `sequence` language rules
 * (lang_rules.c loads them, lang_seq.c matches them): strict (`next`) and
 * relaxed (`followed_by`) contiguity, inside / exactly at / just outside
 * `within`, repeated steps (`times`), interleaved keys, equal timestamps,
 * the partial-match bound, expiry leaving no state, the changelog round trip
 * and load errors. Time is fed, never slept. The comparison with the
 * built-ins on generated data is tests/cli/test_lang_seq_equiv.sh. */
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
    char id[24], amt[32], acct[16];
    fw_txn t;
} tx;

/* One record of a case: "id acct type amount @ms-after-T0". */
typedef struct rec {
    const char *id, *acct;
    fw_txn_type type;
    const char *amt;
    int64_t dt;
} rec;

static void mk(tx *x, const rec *r) {
    memset(x, 0, sizeof(*x));
    snprintf(x->id, sizeof(x->id), "%s", r->id);
    snprintf(x->amt, sizeof(x->amt), "%s", r->amt);
    snprintf(x->acct, sizeof(x->acct), "%s", r->acct);
    x->t.transaction_id = fw_str_c(x->id);
    x->t.amount_raw = fw_str_c(x->amt);
    x->t.amount = strtod(x->amt, NULL);
    x->t.account_id = fw_str_c(x->acct);
    x->t.ts_ms = T0 + r->dt;
    x->t.type = r->type;
}

typedef struct sink {
    char got[1024]; /* each alert as "entity:ev1,ev2,...;" */
    size_t n;
    int64_t wstart, wend;
} sink;

static void on_alert(void *opaque, const fw_lang_alert *a) {
    sink *s = opaque;
    lang_alert_append(s->got, sizeof(s->got), a);
    s->wstart = a->window_start;
    s->wend = a->window_end;
    s->n++;
}

static void feed(fw_lang_state *st, const rec *r, size_t n, sink *s) {
    for (size_t i = 0; i < n && r[i].id; i++) {
        tx x;
        mk(&x, &r[i]);
        fw_lang_input in = { .txn = &x.t };
        fw_lang_eval(st, &in, INT64_MIN, on_alert, s);
    }
}

LANG_FEED_TEXT(rec, sink)

/* A sequence rule on account_id, dedupe off, with @p steps and @p within. */
static char *doc(const char *steps, const char *within) {
    static char buf[2048];
    snprintf(buf, sizeof(buf),
             "{\"time\": {\"dedupe_window\": \"0s\"}, \"rules\": [{\"id\": \"seq\", \"type\": "
             "\"sequence\", \"group_by\": \"account_id\", \"within\": \"%s\", \"params\": "
             "{\"small\": 10, \"large\": 1000}, \"steps\": %s}]}",
             within, steps);
    return buf;
}

#define P FW_TXN_PURCHASE
#define W FW_TXN_WITHDRAWAL
#define PC FW_TXN_PASSWORD_CHANGE
#define STRICT "[{\"when\": \"amount < $small\"}, {\"next\": \"amount > $large\"}]"
#define RELAXED "[{\"when\": \"amount < $small\"}, {\"followed_by\": \"amount > $large\"}]"
#define REPEAT "[{\"when\": \"amount < $small\", \"times\": 3}, {\"next\": \"amount > $large\"}]"
#define RAPID "[{\"when\": \"amount < $small\", \"times\": 3}]"
#define THREE "[{\"when\": \"type == \\\"PASSWORD_CHANGE\\\"\"}, {\"followed_by\": \"amount < $small\"}, " \
              "{\"next\": \"type == \\\"WITHDRAWAL\\\" and amount > $large\"}]"

static void test_matching(void **state) {
    (void)state;
    static const struct {
        const char *name, *steps, *within;
        rec r[8];
        const char *want;
    } cases[] = {
        { "strict: next matches", STRICT, "5m",
          { { "a", "A", P, "5", 0 }, { "b", "A", P, "2000", 1000 } }, "account_id=A:a,b;" },
        { "strict: one between breaks it", STRICT, "5m",
          { { "a", "A", P, "5", 0 }, { "m", "A", P, "50", 1000 }, { "b", "A", P, "2000", 2000 } },
          "" },
        { "relaxed: one between is skipped", RELAXED, "5m",
          { { "a", "A", P, "5", 0 }, { "m", "A", P, "50", 1000 }, { "b", "A", P, "2000", 2000 } },
          "account_id=A:a,b;" },
        { "relaxed: the oldest partial reports, the match consumes all", RELAXED, "5m",
          { { "a", "A", P, "5", 0 }, { "c", "A", P, "6", 1000 }, { "b", "A", P, "2000", 2000 },
            { "d", "A", P, "3000", 3000 } },
          "account_id=A:a,b;" },
        { "inside within (1 ms before)", STRICT, "5m",
          { { "a", "A", P, "5", 0 }, { "b", "A", P, "2000", 5 * MIN_MS - 1 } }, "account_id=A:a,b;" },
        { "exactly at within: outside", STRICT, "5m",
          { { "a", "A", P, "5", 0 }, { "b", "A", P, "2000", 5 * MIN_MS } }, "" },
        { "just outside within", RELAXED, "5m",
          { { "a", "A", P, "5", 0 }, { "b", "A", P, "2000", 5 * MIN_MS + 1 } }, "" },
        { "equal timestamps: in arrival (transaction id) order", STRICT, "5m",
          { { "a", "A", P, "5", 0 }, { "b", "A", P, "2000", 0 } }, "account_id=A:a,b;" },
        { "equal timestamps, the large first: no match", STRICT, "5m",
          { { "a", "A", P, "2000", 0 }, { "b", "A", P, "5", 0 } }, "" },
        { "times 3 then next", REPEAT, "5m",
          { { "a", "A", P, "1", 0 }, { "b", "A", P, "2", 1 }, { "c", "A", P, "3", 2 },
            { "L", "A", P, "2000", 3 } },
          "account_id=A:a,b,c,L;" },
        { "times 3: two are not enough", REPEAT, "5m",
          { { "a", "A", P, "1", 0 }, { "b", "A", P, "2", 1 }, { "L", "A", P, "2000", 3 } }, "" },
        { "times 3: a repetition is strict", REPEAT, "5m",
          { { "a", "A", P, "1", 0 }, { "b", "A", P, "2", 1 }, { "m", "A", P, "50", 2 },
            { "c", "A", P, "3", 3 }, { "L", "A", P, "2000", 4 } },
          "" },
        { "times 3: four smalls, the last three match", REPEAT, "5m",
          { { "a", "A", P, "1", 0 }, { "b", "A", P, "2", 1 }, { "c", "A", P, "3", 2 },
            { "d", "A", P, "4", 3 }, { "L", "A", P, "2000", 4 } },
          "account_id=A:b,c,d,L;" },
        { "a single repeated step (rapid_small): a match consumes", RAPID, "5m",
          { { "a", "A", P, "1", 0 }, { "b", "A", P, "2", 1 }, { "c", "A", P, "3", 2 },
            { "d", "A", P, "4", 3 }, { "e", "A", P, "5", 4 }, { "f", "A", P, "6", 5 } },
          "account_id=A:a,b,c;account_id=A:d,e,f;" },
        { "interleaved keys keep their own order", STRICT, "5m",
          { { "a1", "A", P, "5", 0 }, { "b1", "B", P, "5", 1 }, { "a2", "A", P, "2000", 2 },
            { "b2", "B", P, "2000", 3 } },
          "account_id=A:a1,a2;account_id=B:b1,b2;" },
        { "three steps, mixed contiguity", THREE, "30m",
          { { "p", "A", PC, "0", 0 }, { "x", "A", P, "50", 1 }, { "s", "A", P, "5", 2 },
            { "w", "A", W, "6000", 3 } },
          "account_id=A:p,s,w;" },
        { "three steps: the strict last step broken", THREE, "30m",
          { { "p", "A", PC, "0", 0 }, { "s", "A", P, "5", 2 }, { "x", "A", P, "50", 3 },
            { "w", "A", W, "6000", 4 } },
          "" },
    };
    for (size_t i = 0; i < N(cases); i++) {
        fw_lang_rules *rs = lang_load_ok(doc(cases[i].steps, cases[i].within));
        fw_lang_state *st = fw_lang_state_new(rs);
        sink s = { 0 };
        feed(st, cases[i].r, N(cases[i].r), &s);
        if (strcmp(s.got, cases[i].want))
            fprintf(stderr, "case %zu (%s): got \"%s\", want \"%s\"\n", i, cases[i].name, s.got,
                    cases[i].want);
        assert_string_equal(s.got, cases[i].want);
        fw_lang_state_destroy(st);
        fw_lang_rules_destroy(rs);
    }
}

/* The alert's window is [first, first + within]. */
static void test_window_bounds(void **state) {
    (void)state;
    fw_lang_rules *rs = lang_load_ok(doc(RELAXED, "5m"));
    fw_lang_state *st = fw_lang_state_new(rs);
    sink s = { 0 };
    rec r[] = { { "a", "A", P, "5", 1000 }, { "b", "A", P, "2000", 2000 } };
    feed(st, r, N(r), &s);
    printf("window [%lld, %lld], want [%lld, %lld]\n", (long long)s.wstart, (long long)s.wend,
           (long long)(T0 + 1000), (long long)(T0 + 1000 + 5 * MIN_MS));
    assert_int_equal(s.wstart, T0 + 1000);
    assert_int_equal(s.wend, T0 + 1000 + 5 * MIN_MS);
    fw_lang_state_destroy(st);
    fw_lang_rules_destroy(rs);
}

/* At most FW_LANG_SEQ_MAX_PARTIALS partial matches per key: the oldest go,
 * counted. */
static void test_partial_bound(void **state) {
    (void)state;
    fw_lang_rules *rs = lang_load_ok(doc(RELAXED, "1h"));
    fw_lang_state *st = fw_lang_state_new(rs);
    sink s = { 0 };
    char ids[FW_LANG_SEQ_MAX_PARTIALS + 10][8];
    for (int i = 0; i < FW_LANG_SEQ_MAX_PARTIALS + 10; i++) {
        snprintf(ids[i], sizeof(ids[i]), "s%d", i);
        rec r = { ids[i], "A", P, "5", i };
        feed(st, &r, 1, &s);
    }
    fw_lang_stats stats;
    fw_lang_state_stats(st, &stats);
    printf("overflow %llu, want 10\n", (unsigned long long)stats.overflow);
    assert_int_equal(stats.overflow, 10);
    rec big = { "L", "A", P, "2000", 1000 };
    feed(st, &big, 1, &s);
    printf("got %s\n", s.got);
    assert_string_equal(s.got, "account_id=A:s10,L;"); /* s0..s9 were dropped */
    fw_lang_state_destroy(st);
    fw_lang_rules_destroy(rs);
}

/* Past within (and the dedupe window) nothing is left. */
static void test_expiry(void **state) {
    (void)state;
    fw_lang_rules *rs = lang_load_ok(doc(RELAXED, "5m"));
    fw_lang_state *st = fw_lang_state_new(rs);
    sink s = { 0 };
    rec r[] = { { "a", "A", P, "5", 0 }, { "b", "B", P, "5", MIN_MS } };
    feed(st, r, N(r), &s);
    fw_lang_stats stats;
    fw_lang_state_stats(st, &stats);
    assert_int_equal(stats.keys, 2);
    size_t freed = fw_lang_expire(st, T0 + 5 * MIN_MS); /* a's partial is dead, b's is not */
    fw_lang_state_stats(st, &stats);
    printf("freed %zu keys, %llu left; want 1, 1\n", freed, (unsigned long long)stats.keys);
    assert_int_equal(freed, 1);
    assert_int_equal(stats.keys, 1);
    freed = fw_lang_expire(st, T0 + 6 * MIN_MS);
    fw_lang_state_stats(st, &stats);
    printf("freed %zu keys, %llu left; want 1, 0\n", freed, (unsigned long long)stats.keys);
    assert_int_equal(stats.keys, 0);
    fw_lang_state_destroy(st);
    fw_lang_rules_destroy(rs);
}

/* A key freed by expiry and made again is found again by a record that
 * cannot start a match (lang_seq_eval skips keys its live counts say are
 * absent): and a freed key's record that cannot start one alerts nothing. */
static void test_key_made_again(void **state) {
    (void)state;
    fw_lang_rules *rs = lang_load_ok(doc(RELAXED, "5m"));
    fw_lang_state *st = fw_lang_state_new(rs);
    sink s = { 0 };
    rec r1[] = { { "a", "A", P, "5", 0 }, { "b", "B", P, "5", 0 } };
    feed(st, r1, N(r1), &s);
    size_t freed = fw_lang_expire(st, T0 + 10 * MIN_MS); /* both partials dead: keys freed */
    printf("freed %zu keys; want 2\n", freed);
    assert_int_equal(freed, 2);
    rec r2[] = { { "c", "A", P, "2000", 11 * MIN_MS }, /* no key, no start: nothing */
                 { "d", "A", P, "5", 12 * MIN_MS },    /* made again */
                 { "e", "B", P, "50", 12 * MIN_MS },   /* B has no key: skipped */
                 { "f", "A", P, "2000", 13 * MIN_MS } };
    feed(st, r2, N(r2), &s);
    fw_lang_stats stats;
    fw_lang_state_stats(st, &stats);
    printf("alerts \"%s\", keys %llu; want \"account_id=A:d,f;\", 1\n", s.got,
           (unsigned long long)stats.keys);
    assert_string_equal(s.got, "account_id=A:d,f;");
    assert_int_equal(stats.keys, 1); /* A, made again; B was not */
    fw_lang_state_destroy(st);
    fw_lang_rules_destroy(rs);
}

/* Handing the state over at every cut gives the same alerts as one run. */
static void test_round_trip(void **state) {
    (void)state;
    static const rec r[] = {
        { "p", "A", PC, "0", 0 }, { "q", "B", PC, "0", 1 }, { "x", "A", P, "50", 2 },
        { "s", "A", P, "5", 3 },  { "t", "B", P, "5", 4 },  { "w", "A", W, "6000", 5 },
        { "v", "B", W, "6000", 6 },
    };
    fw_lang_rules *rs = lang_load_ok(doc(THREE, "30m"));
    fw_lang_state *one = fw_lang_state_new(rs);
    sink want = { 0 };
    feed(one, r, N(r), &want);
    assert_string_equal(want.got, "account_id=A:p,s,w;account_id=B:q,t,v;");
    lang_assert_every_cut(rs, r, N(r), feed_text, want.got);
    /* Truncated bytes are refused, naming the rule. */
    lang_assert_truncated_refused(rs, r, 2, feed_text, 0, "account_id=A", "seq: state truncated");
    fw_lang_state_destroy(one);
    fw_lang_rules_destroy(rs);
}

static void test_load_errors(void **state) {
    (void)state;
    static const struct {
        const char *rule, *want;
    } cases[] = {
        { "\"group_by\": \"account_id\", \"steps\": [{\"when\": \"true\"}]",
          "rules[0]: a sequence rule needs \"within\"" },
        { "\"within\": \"5m\", \"steps\": [{\"when\": \"true\"}]",
          "rules[0]: a sequence rule needs \"group_by\"" },
        { "\"group_by\": \"account_id\", \"within\": \"5m\"",
          "rules[0]: a sequence rule needs \"steps\"" },
        { "\"group_by\": \"account_id\", \"within\": \"soon\", \"steps\": [{\"when\": \"true\"}]",
          "rules[0].within: expected a duration" },
        { "\"group_by\": \"account_id\", \"within\": \"5m\", \"steps\": [{\"next\": \"true\"}]",
          "rules[0].steps[0].next: the first step is {\"when\": ...}" },
        { "\"group_by\": \"account_id\", \"within\": \"5m\", \"steps\": [{\"when\": \"true\"}, "
          "{\"when\": \"true\"}]",
          "rules[0].steps[1].when: a later step is {\"next\": ...}" },
        { "\"group_by\": \"account_id\", \"within\": \"5m\", \"steps\": [{\"when\": \"true\"}, "
          "{\"folowed_by\": \"true\"}]",
          "rules[0].steps[1].folowed_by: unknown key in a step, did you mean \"followed_by\"?" },
        { "\"group_by\": \"account_id\", \"within\": \"5m\", \"steps\": [{\"when\": \"true\"}, "
          "{\"followed_by\": \"ammount > 1\"}]",
          "rules[0].steps[1].followed_by: unknown field \"ammount\", did you mean \"amount\"? "
          "(line 1, column 1)" },
        { "\"group_by\": \"account_id\", \"within\": \"5m\", \"steps\": [{\"when\": \"true\", "
          "\"times\": 0}]",
          "rules[0].steps[0].times: expected an integer between 1 and 100, got 0" },
        { "\"group_by\": \"account_id\", \"within\": \"5m\", \"steps\": []",
          "rules[0].steps: expected an array of steps" },
        { "\"group_by\": \"account_id\", \"within\": \"5m\", \"steps\": [{\"times\": 2}]",
          "rules[0].steps[0]: the first step needs \"when\"" },
        { "\"group_by\": \"account_id\", \"within\": \"5m\", \"stepz\": []",
          "rules[0].stepz: unknown key in a sequence rule, did you mean \"steps\"?" },
    };
    for (size_t i = 0; i < N(cases); i++) {
        char json[1024], err[1024] = "";
        fw_lang_rules *rs = NULL;
        snprintf(json, sizeof(json), "{\"rules\": [{\"id\": \"s\", \"type\": \"sequence\", %s}]}",
                 cases[i].rule);
        fw_err rc = lang_load(json, &rs, err, sizeof(err));
        printf("case %zu: %s\n  want prefix %s\n", i, err, cases[i].want);
        assert_int_not_equal(rc, FW_OK);
        assert_null(rs);
        assert_memory_equal(err, cases[i].want, strlen(cases[i].want));
    }
}

/* rules show writes a sequence back in the input format, and it loads again
 * to the same rule. */
static void test_write_back(void **state) {
    (void)state;
    fw_lang_rules *rs = lang_load_ok(doc(REPEAT, "5m"));
    fw_buf b;
    fw_buf_init(&b, 0);
    assert_true(fw_buf_puts(&b, "{\"rules\": [") && fw_lang_rules_write_json(rs, &b, "") &&
                fw_buf_puts(&b, "]}") && fw_buf_putc(&b, '\0'));
    printf("%s\n", b.data);
    assert_non_null(strstr(b.data, "\"within\": \"5m\""));
    assert_non_null(strstr(b.data, "{ \"when\": \"amount < $small\", \"times\": 3 }"));
    assert_non_null(strstr(b.data, "{ \"next\": \"amount > $large\" }"));
    fw_lang_rules *again = lang_load_ok(b.data);
    assert_int_equal(again->rules[0].nsteps, 2);
    assert_int_equal(again->rules[0].steps[0].times, 3);
    assert_int_equal(again->rules[0].steps[1].contig, FW_LANG_NEXT);
    fw_lang_rules_destroy(again);
    fw_buf_fini(&b);
    fw_lang_rules_destroy(rs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matching),      cmocka_unit_test(test_window_bounds),
        cmocka_unit_test(test_partial_bound), cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_round_trip),    cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_write_back),    cmocka_unit_test(test_key_made_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
