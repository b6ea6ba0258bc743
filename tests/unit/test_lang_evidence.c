/* test_lang_evidence.c — table-driven tests of what a language rule's alert
 * names as evidence: each transaction's id, time and exact amount, as the
 * built-ins named theirs, for every rule kind (filter, filter with prev,
 * aggregate over a lookback and over windows, sequence, score), carried
 * through the changelog bytes (format 3) at every cut, and state of the
 * previous format (2, no amounts) still restored. Time is fed, never slept. */
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

/* ---- records and alerts ---- */

/* One record: id, account, amount as written (NULL: none), seconds after T0,
 * and whether the decoder's exact amount is set (then amount_raw is not). */
typedef struct rec {
    const char *id, *acct, *amt;
    int64_t dt;
    bool dec;
} rec;

typedef struct tx {
    char id[24], amt[32], acct[16];
    fw_txn t;
} tx;

static void mk(tx *x, const rec *r) {
    memset(x, 0, sizeof(*x));
    snprintf(x->id, sizeof(x->id), "%s", r->id);
    snprintf(x->acct, sizeof(x->acct), "%s", r->acct);
    x->t.transaction_id = fw_str_c(x->id);
    x->t.account_id = fw_str_c(x->acct);
    x->t.ts_ms = T0 + r->dt * 1000;
    if (!r->amt)
        return;
    snprintf(x->amt, sizeof(x->amt), "%s", r->amt);
    x->t.amount = strtod(x->amt, NULL);
    if (r->dec) {
        assert_int_equal(fw_dec_parse(x->amt, strlen(x->amt), &x->t.amount_dec), FW_OK);
        x->t.amount_dec_set = true;
    } else {
        x->t.amount_raw = fw_str_c(x->amt);
    }
}

typedef struct sink {
    char got[2048]; /* each alert as "entity:id@seconds$amount,...;" ('?': time not known) */
} sink;

static void on_alert(void *opaque, const fw_lang_alert *a) {
    sink *s = opaque;
    size_t o = strlen(s->got), size = sizeof(s->got);
    o += (size_t)snprintf(s->got + o, size - o, "%.*s:", (int)a->entity.len, a->entity.ptr);
    for (size_t i = 0; i < a->nevidence && o < size; i++) {
        const fw_lang_evidence *e = &a->evidence[i];
        o += (size_t)snprintf(s->got + o, size - o, "%s%.*s@", i ? "," : "", (int)e->id.len,
                              e->id.ptr);
        if (e->ts_ms == INT64_MIN)
            o += (size_t)snprintf(s->got + o, size - o, "?");
        else
            o += (size_t)snprintf(s->got + o, size - o, "%lld", (long long)((e->ts_ms - T0) / 1000));
        if (e->amount != FW_LANG_NO_AMOUNT && o < size) {
            char num[FW_DEC_STR_MAX];
            fw_dec_format(e->amount, num, sizeof(num));
            o += (size_t)snprintf(s->got + o, size - o, "$%s", num);
        }
    }
    if (o < size)
        snprintf(s->got + o, size - o, ";");
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

static char *doc(const char *rule) {
    static char buf[2048];
    snprintf(buf, sizeof(buf), "{\"time\": {\"dedupe_window\": \"0s\"}, \"rules\": [%s]}", rule);
    return buf;
}

#define FILTER "{\"id\": \"f\", \"type\": \"filter\", \"when\": \"amount > 100\"}"
#define PREV "{\"id\": \"p\", \"type\": \"filter\", \"group_by\": \"account_id\", " \
             "\"when\": \"prev.account_id == account_id and amount > 100\"}"
#define LOOKBACK "{\"id\": \"g\", \"type\": \"aggregate\", \"group_by\": \"account_id\", " \
                 "\"lookback\": \"10m\", \"aggregates\": {\"n\": \"count\"}, \"having\": \"n >= 3\"}"
#define RANGED "{\"id\": \"w\", \"type\": \"aggregate\", \"group_by\": \"account_id\", " \
               "\"window\": \"30m\", \"slide\": \"5m\", \"aggregates\": {\"n\": \"count\"}, " \
               "\"having\": \"n >= 2\"}"
#define SEQ(times) "{\"id\": \"s\", \"type\": \"sequence\", \"group_by\": \"account_id\", " \
                   "\"within\": \"10m\", \"steps\": [{\"when\": \"amount < 50\", \"times\": " #times "}]}"
#define SCORE "{\"id\": \"sc\", \"type\": \"score\", \"group_by\": \"account_id\", " \
              "\"window\": \"10m\", \"slide\": \"5m\", \"aggregates\": {\"n\": \"count\"}, " \
              "\"bands\": [{\"name\": \"large\", \"each\": \"amount > 1000\", \"points\": 10}], " \
              "\"alert_at\": 20}"

static const struct {
    const char *name, *rule;
    rec r[8];
    const char *want;
} cases[] = {
    { "filter: this transaction", FILTER,
      { { "a", "A", "150.50", 0, false } }, "transaction_id=a:a@0$150.5;" },
    { "filter: the decoder's exact amount", FILTER,
      { { "a", "A", "2000.0001", 0, true } }, "transaction_id=a:a@0$2000.0001;" },
    { "filter with prev: prev, then this (prev.amount not read)", PREV,
      { { "a", "A", "5", 0, false }, { "b", "A", "1500.00", 60, false } },
      "account_id=A:a@0$5,b@60$1500;" },
    { "lookback: the ring's events; one without an amount names none", LOOKBACK,
      { { "a", "A", "1", 0, false }, { "b", "A", NULL, 60, false }, { "c", "A", "2.25", 120, true } },
      "account_id=A:a@0$1,b@60,c@120$2.25;" },
    { "ranged window: every event of the window", RANGED,
      { { "a", "A", "10", 0, false }, { "b", "A", "20.5", 60, false } },
      "account_id=A:a@0$10,b@60$20.5;" },
    { "sequence: the matched steps", SEQ(3),
      { { "a", "A", "1", 0, false }, { "b", "A", "2", 60, true }, { "c", "A", "3.5", 120, false } },
      "account_id=A:a@0$1,b@60$2,c@120$3.5;" },
    { "sequence: the first 4 kept, then the completing one", SEQ(6),
      { { "a", "A", "1", 0, false }, { "b", "A", "2", 10, false }, { "c", "A", "3", 20, false },
        { "d", "A", "4", 30, false }, { "e", "A", "5", 40, false }, { "f", "A", "6", 50, false } },
      "account_id=A:a@0$1,b@10$2,c@20$3,d@30$4,f@50$6;" },
    { "score: the ring's events that scored", SCORE,
      { { "a", "A", "2000", 0, false }, { "m", "A", "5", 30, false }, { "b", "A", "3000.75", 60, false } },
      "account_id=A:a@0$2000,b@60$3000.75;" },
};

static void test_evidence_per_kind(void **state) {
    (void)state;
    for (size_t c = 0; c < N(cases); c++) {
        fw_lang_rules *rs = lang_load_ok(doc(cases[c].rule));
        fw_lang_state *st = fw_lang_state_new(rs);
        sink s = { 0 };
        size_t n = 0;
        while (n < N(cases[c].r) && cases[c].r[n].id)
            n++;
        feed(st, cases[c].r, n, &s);
        printf("  %s: got %s, want %s\n", cases[c].name, s.got, cases[c].want);
        assert_string_equal(s.got, cases[c].want);
        /* Handed over at every cut (format 3), the evidence is the same. */
        lang_assert_every_cut(rs, cases[c].r, n, feed_text, cases[c].want);
        fw_lang_state_destroy(st);
        fw_lang_rules_destroy(rs);
    }
}

/* ---- the previous format ---- */

static uint64_t get64(const char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)(uint8_t)p[i] << (8 * i);
    return v;
}

/* What a part's key holds after its events (format 3's tail layout). */
typedef enum { TAIL_NONE, TAIL_SEQ, TAIL_PREV } tail_kind;

/* Format 2 of a key, made from format 3's bytes @p in, as fraudwatch wrote
 * it before amounts were kept: the version byte 2, and each event, each
 * partial match's kept step and prev without its amount (and the steps
 * without their times). Score parts are not handled. */
static void write_v2(const fw_buf *in, tail_kind tail, fw_buf *out) {
    const char *s = in->data, *end = in->data + in->len;
    assert_true(in->len >= 4 && s[0] == 'L' && s[1] == 3);
    size_t naggs = (uint8_t)s[2], nmember = (uint8_t)s[3];
    fw_buf_append(out, s, 4 + 8 + 8 * nmember + 8); /* header, part id, last[], overflow */
    out->data[1] = 2;
    s += 4 + 8 + 8 * nmember + 8;
    uint64_t n = get64(s);
    fw_buf_append(out, s, 8);
    s += 8;
    for (uint64_t j = 0; j < n; j++) {
        size_t idlen = (uint8_t)s[16];
        fw_buf_append(out, s, 16 + 1 + idlen); /* ts, mask, id */
        s += 16 + 1 + idlen + 8;               /* format 3's amount dropped */
        fw_buf_append(out, s, 8 * naggs);
        s += 8 * naggs;
    }
    if (tail == TAIL_SEQ) {
        uint64_t npm = get64(s);
        fw_buf_append(out, s, 8);
        s += 8;
        for (uint64_t j = 0; j < npm; j++) {
            uint64_t nmatched = get64(s + 8) >> 32;
            fw_buf_append(out, s, 16); /* start, step | cnt | nmatched */
            s += 16;
            for (uint64_t e = 0; e < nmatched && e < FW_LANG_SEQ_EVIDENCE; e++) {
                size_t idlen = (uint8_t)s[0];
                fw_buf_append(out, s, 1 + idlen);
                s += 1 + idlen + 16; /* format 3's time and amount dropped */
            }
        }
    } else if (tail == TAIL_PREV) {
        uint64_t has_prev = get64(s);
        fw_buf_append(out, s, 8);
        s += 8;
        if (has_prev) {
            fw_buf_append(out, s, 5 * 8); /* ts, amount, lat, lon (doubles), has | type */
            s += 5 * 8 + 8;               /* format 3's exact amount dropped */
            for (int f = 0; f < 12; f++) { /* PF_N fields: length, bytes */
                int64_t l = (int64_t)get64(s);
                size_t m = 8 + (l > 0 ? (size_t)l : 0);
                fw_buf_append(out, s, m);
                s += m;
            }
        }
        fw_buf_append(out, s, (size_t)(end - s)); /* is_new's pairs: unchanged */
        s = end;
    }
    assert_true(s == end);
}

/* Part 0's key "account_id=A" written after @p first, rewritten as format 2,
 * read into a new state that then sees @p rest: the alerts are @p want. */
static void restore_v2_case(const char *name, const char *rule, tail_kind tail, const rec *first,
                            size_t nfirst, const rec *rest, size_t nrest, const char *want) {
    fw_lang_rules *rs = lang_load_ok(doc(rule));
    fw_lang_state *a = fw_lang_state_new(rs), *b = fw_lang_state_new(rs);
    sink s = { 0 };
    feed(a, first, nfirst, &s);
    fw_buf v3, v2;
    fw_buf_init(&v3, 0);
    fw_buf_init(&v2, 0);
    assert_true(fw_lang_state_write_key(a, 0, fw_str_c("account_id=A"), &v3));
    write_v2(&v3, tail, &v2);
    char err[256] = "";
    fw_err rc = fw_lang_state_read_key(b, 0, fw_str_c("account_id=A"), v2.data, v2.len, err,
                                       sizeof(err));
    printf("  %s: format 3 %zu bytes, format 2 %zu; read rc %d (want %d) %s\n", name, v3.len,
           v2.len, rc, FW_OK, err);
    assert_int_equal(rc, FW_OK);
    assert_true(v2.len < v3.len);
    feed(b, rest, nrest, &s);
    printf("  %s: got %s, want %s\n", name, s.got, want);
    assert_string_equal(s.got, want);
    if (tail == TAIL_NONE) { /* a format neither 2 nor 3 is refused, naming the rule */
        v2.data[1] = 1;
        assert_int_equal(fw_lang_state_read_key(b, 0, fw_str_c("account_id=A"), v2.data, v2.len,
                                                err, sizeof(err)), FW_ERR_INVALID);
        printf("  format 1: %s\n", err);
        assert_non_null(strstr(err, "state of an unknown format"));
    }
    fw_buf_fini(&v3);
    fw_buf_fini(&v2);
    fw_lang_state_destroy(a);
    fw_lang_state_destroy(b);
    fw_lang_rules_destroy(rs);
}

/* State of format 2 restores: its events keep their times, not their
 * amounts (never written); a partial match only its first step's time (its
 * start); transactions after the restore have both. */
static void test_restore_v2(void **state) {
    (void)state;
    static const rec r[] = { { "a", "A", "1", 0, false }, { "b", "A", "7.5", 60, false },
                             { "c", "A", "2.25", 120, false } };
    restore_v2_case("lookback", LOOKBACK, TAIL_NONE, r, 2, r + 2, 1,
                    "account_id=A:a@0,b@60,c@120$2.25;");
    restore_v2_case("sequence", SEQ(3), TAIL_SEQ, r, 2, r + 2, 1,
                    "account_id=A:a@0,b@?,c@120$2.25;");
    static const rec p[] = { { "a", "A", "5", 0, false }, { "b", "A", "1500.00", 60, false } };
    restore_v2_case("prev", PREV, TAIL_PREV, p, 1, p + 1, 1, "account_id=A:a@0,b@60$1500;");
}

/* Format 3 cut short anywhere in the new fields is refused, never read past. */
static void test_v3_truncated(void **state) {
    (void)state;
    static const rec r[] = { { "a", "A", "1", 0, false }, { "b", "A", "2", 60, false } };
    fw_lang_rules *rs = lang_load_ok(doc(SEQ(3)));
    lang_assert_truncated_refused(rs, r, 2, feed_text, 0, "account_id=A", "s: state truncated");
    fw_lang_rules_destroy(rs);
    rs = lang_load_ok(doc(LOOKBACK));
    lang_assert_truncated_refused(rs, r, 2, feed_text, 0, "account_id=A", "g: state truncated");
    fw_lang_rules_destroy(rs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_evidence_per_kind),
        cmocka_unit_test(test_restore_v2),
        cmocka_unit_test(test_v3_truncated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
