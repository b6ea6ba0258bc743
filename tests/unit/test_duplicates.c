/* test_duplicates.c — one transaction is applied once, and one record cannot
 * move event time: txn_ids.c against a naive set, duplicates through the
 * pipeline (dead letters naming the first copy, evidence without repeats),
 * the id set's changelog hand-over at many cuts, and the pipeline's event-time
 * checks in file mode (time guard) and Kafka mode (max_future_skew). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gen_model.h"
#include "pipeline.h"
#include "txn_ids.h"

/* ---- txn_ids against a naive list ---- */

static void test_ids_match_naive_set(void **state) {
    (void)state;
    enum { N = 20000, MAX = 3000 };
    fw_txn_ids s;
    fw_txn_ids_init(&s, MAX);
    static uint64_t naive[N];
    static int64_t naive_ts[N];
    int lo = 0, n = 0; /* naive live window: [lo, n) */
    uint64_t rnd = 12345;
    for (int i = 0; i < N; i++) {
        rnd = rnd * 6364136223846793005ULL + 1442695040888963407ULL;
        /* Few distinct hash values share table neighbourhoods: probing and
         * backward-shift deletion get exercised. */
        uint64_t h = (rnd >> 33) % 50000 * 0x9E3779B97F4A7C15ULL;
        bool naive_has = false;
        for (int k = lo; k < n; k++)
            naive_has |= naive[k] == h;
        const fw_txn_id *f = fw_txn_ids_find(&s, h, 8);
        if ((f != NULL) != naive_has)
            fail_msg("step %d: find says %d, the naive set %d", i, f != NULL, naive_has);
        if (!f) {
            fw_txn_pos pos = { .partition = 0, .offset = i };
            fw_txn_ids_add(&s, h, 8, i, &pos);
            naive[n] = h;
            naive_ts[n++] = i;
            if (n - lo > MAX)
                lo++;
        }
        if (i % 100 == 99) { /* forget what is more than 5000 steps old */
            fw_txn_ids_expire(&s, i - 5000);
            while (lo < n && naive_ts[lo] < i - 5000)
                lo++;
        }
        if (fw_txn_ids_count(&s) != (uint64_t)(n - lo))
            fail_msg("step %d: %llu ids held, expected %d", i,
                     (unsigned long long)fw_txn_ids_count(&s), n - lo);
    }
    assert_true(s.evicted > 0); /* the limit was reached and counted */
    fw_txn_ids_fini(&s);
}

/* ---- the pipeline: capture of alerts and dead letters ---- */

typedef struct capture {
    int alerts[FW_RULE__COUNT];
    int nalerts;
    int dead;
    char reasons[64][512];
    char evidence_error[256];
} capture;

static void on_alert(void *opaque, const fw_alert *a, fw_str key, fw_str json) {
    capture *c = opaque;
    (void)key;
    (void)json;
    c->alerts[a->rule]++;
    c->nalerts++;
    for (size_t i = 0; i < a->nevidence; i++)
        for (size_t j = i + 1; j < a->nevidence; j++)
            if (fw_str_eq(a->evidence[i].transaction_id, a->evidence[j].transaction_id) &&
                !c->evidence_error[0])
                snprintf(c->evidence_error, sizeof(c->evidence_error),
                         "%s alert lists transaction %.*s twice", fw_rule_name(a->rule),
                         (int)a->evidence[i].transaction_id.len,
                         a->evidence[i].transaction_id.ptr);
}

static void on_dead(void *opaque, const fw_dead_letter *dl) {
    capture *c = opaque;
    if (c->dead < 64)
        snprintf(c->reasons[c->dead], sizeof(c->reasons[0]), "%s [%s]", dl->reason,
                 dl->field ? dl->field : "-");
    c->dead++;
}

static fw_pipeline *pipeline(void) {
    fw_pipeline_conf pc = { .format = FW_INPUT_JSON };
    fw_rules_defaults(&pc.rules);
    char err[256];
    fw_pipeline *p = fw_pipeline_new(&pc, err, sizeof(err));
    if (!p)
        fail_msg("pipeline: %s", err);
    return p;
}

static void feed_lines(fw_pipeline *p, const char *const *lines, size_t n, capture *c,
                       const fw_source_ref *tmpl) {
    fw_pipeline_out out = { .opaque = c, .alert = on_alert, .dead_letter = on_dead };
    for (size_t i = 0; i < n; i++) {
        fw_source_ref src = *tmpl;
        src.line = (int64_t)i + 1;
        src.offset = (int64_t)i;
        fw_pipeline_process(p, lines[i], strlen(lines[i]), &src, &out);
    }
    fw_pipeline_advance(p, INT64_MAX, &out);
}

#define TX(id, ts, acct, amt)                                                                \
    "{\"transaction_id\":\"" id "\",\"timestamp\":\"" ts "\",\"account_id\":\"" acct           \
    "\",\"amount\":" amt "}"

static const fw_source_ref file_src = { .file = "t" };

/* The second repro: three copies of one large transaction. */
static void test_copies_alert_once(void **state) {
    (void)state;
    const char *big[] = { TX("same", "2024-01-15T10:30:00Z", "acc-1", "20000"),
                          TX("same", "2024-01-15T10:30:00Z", "acc-1", "20000"),
                          TX("same", "2024-01-15T10:30:00Z", "acc-1", "20000") };
    capture c = { 0 };
    fw_pipeline *p = pipeline();
    feed_lines(p, big, 3, &c, &file_src);
    if (c.alerts[FW_RULE_HIGH_AMOUNT] != 1 || c.dead != 2)
        fail_msg("%d high_amount alerts and %d dead letters, expected 1 and 2",
                 c.alerts[FW_RULE_HIGH_AMOUNT], c.dead);
    const char *want = "duplicate transaction_id \"same\": first seen at line 1 [transaction_id]";
    if (strcmp(c.reasons[0], want) || strcmp(c.reasons[1], want))
        fail_msg("reasons \"%s\", \"%s\", expected \"%s\"", c.reasons[0], c.reasons[1], want);
    assert_int_equal(fw_pipeline_engine_stats(p)->duplicates, 2);
    assert_int_equal(fw_pipeline_stats_get(p)->duplicates, 2);
    fw_pipeline_destroy(p);

    /* ...and velocity's evidence "same, same, same" is gone with them. */
    const char *mid[] = { TX("same", "2024-01-15T10:30:00Z", "acc-1", "2000"),
                          TX("same", "2024-01-15T10:30:00Z", "acc-1", "2000"),
                          TX("same", "2024-01-15T10:30:00Z", "acc-1", "2000") };
    memset(&c, 0, sizeof(c));
    p = pipeline();
    feed_lines(p, mid, 3, &c, &file_src);
    if (c.alerts[FW_RULE_VELOCITY] != 0 || c.dead != 2)
        fail_msg("%d velocity alerts and %d dead letters, expected 0 and 2",
                 c.alerts[FW_RULE_VELOCITY], c.dead);
    fw_pipeline_destroy(p);
}

/* Generated traffic with every 7th record sent again a few records later:
 * the alerts equal those of the traffic without copies, no alert lists a
 * transaction twice, and Kafka positions name the first copy. */
static void test_generated_with_copies(void **state) {
    (void)state;
    enum { N = 4000 };
    char err[256];
    /* Twice as many are asked for: the stream's draining tail, minutes apart,
     * is left out, so every retry comes within the horizon of its first copy. */
    fw_gen_conf gc = { .seed = 5, .customers = 5000, .fraud_ratio = 0.2,
                       .start_ms = 1704067200000, .count = 2 * N };
    fw_gen *g = fw_gen_new(&gc, err, sizeof(err));
    assert_non_null(g);
    static char rec[N][FW_GEN_JSON_MAX];
    static const char *plain[N], *copied[N + N / 7 + 1];
    fw_gen_txn t;
    int n = 0, m = 0;
    while (n < N && fw_gen_next(g, &t)) {
        fw_gen_format_json(g, &t, rec[n]);
        plain[n] = rec[n];
        copied[m++] = rec[n];
        if (n % 7 == 6)
            copied[m++] = rec[n - 3]; /* a retry, three records late */
        n++;
    }
    fw_gen_destroy(g);
    static capture a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    fw_source_ref kafka = { .topic = "in", .partition = 2,
                            .ref_time_name = "the record's Kafka timestamp",
                            .ref_time_ms = INT64_MAX / 2 };
    fw_pipeline *p = pipeline();
    feed_lines(p, plain, (size_t)n, &a, &kafka);
    fw_pipeline_destroy(p);
    p = pipeline();
    feed_lines(p, copied, (size_t)m, &b, &kafka);
    fw_pipeline_destroy(p);
    assert_true(a.nalerts > 50);
    for (int r = 0; r < FW_RULE__COUNT; r++)
        if (a.alerts[r] != b.alerts[r])
            fail_msg("%s: %d alerts with copies, %d without", fw_rule_name((fw_rule_id)r),
                     b.alerts[r], a.alerts[r]);
    if (a.evidence_error[0] || b.evidence_error[0])
        fail_msg("%s%s", a.evidence_error, b.evidence_error);
    if (b.dead != m - n || a.dead != 0)
        fail_msg("%d and %d dead letters, expected %d and 0", b.dead, a.dead, m - n);
    /* Record 3 (offset 3) comes again at offset 7. */
    if (!strstr(b.reasons[0], "first seen at partition 2 offset 3"))
        fail_msg("reason \"%s\" does not name partition 2 offset 3", b.reasons[0]);
}

/* ---- the id set across a hand-over (the changelog) ---- */

typedef struct kv {
    char key[64];
    size_t keylen;
    char *value;
    size_t len;
} kv;

typedef struct store {
    kv items[4096];
    size_t n;
} store;

static void store_put(void *opaque, fw_str key, const void *value, size_t len) {
    store *s = opaque;
    if (key.ptr[0] != 'D') /* only the id chunks are under test here */
        return;
    kv *it = NULL;
    for (size_t i = 0; i < s->n && !it; i++)
        if (s->items[i].keylen == key.len && !memcmp(s->items[i].key, key.ptr, key.len))
            it = &s->items[i];
    if (!it) {
        assert_true(s->n < 4096 && key.len <= sizeof(it->key));
        it = &s->items[s->n++];
        memcpy(it->key, key.ptr, key.len);
        it->keylen = key.len;
        it->value = NULL;
    }
    free(it->value);
    it->value = value ? malloc(len) : NULL;
    if (value)
        memcpy(it->value, value, len);
    it->len = len;
}

typedef struct dups {
    char seen[8192][80];   /* "<id> <first offset>" */
    int n;
} dups;

static void on_dup(void *opaque, const fw_txn *t, const fw_txn_pos *first) {
    dups *d = opaque;
    assert_true(d->n < 8192);
    snprintf(d->seen[d->n++], sizeof(d->seen[0]), "%.*s %lld", (int)t->transaction_id.len,
             t->transaction_id.ptr, (long long)first->offset);
}

static void ignore_alert(void *opaque, const fw_alert *a) {
    (void)opaque;
    (void)a;
}

static void engine_feed(fw_engine *e, const char *const *lines, int from, int to, dups *d,
                        store *s) {
    fw_engine_out out = { .opaque = d, .alert = ignore_alert, .duplicate = on_dup };
    for (int i = from; i < to; i++) {
        if (s && i % 37 == 0)
            fw_engine_changes(e, store_put, s);
        fw_txn t;
        fw_decode_error derr;
        fw_arena arena;
        fw_arena_init(&arena, 4096);
        assert_int_equal(fw_txn_decode_json(lines[i], strlen(lines[i]), &arena, 0, &t, &derr),
                         FW_OK);
        fw_txn_pos pos = { .partition = 0, .offset = i };
        fw_engine_process_from(e, &t, &pos, &out);
        fw_arena_fini(&arena);
    }
}

static void test_ids_survive_handover(void **state) {
    (void)state;
    enum { N = 7000 };
    char err[256];
    /* A busy hour: more than a chunk of ids within the horizon, and chunks
     * that expire (and are deleted) as the stream moves on. */
    fw_gen_conf gc = { .seed = 9, .customers = 3000, .fraud_ratio = 0.05,
                       .start_ms = 1704067200000, .count = 2 * N };
    fw_gen *g = fw_gen_new(&gc, err, sizeof(err));
    assert_non_null(g);
    static char rec[N][FW_GEN_JSON_MAX];
    static const char *lines[N + N / 5 + 1];
    fw_gen_txn t;
    int n = 0, m = 0;
    while (n < N && fw_gen_next(g, &t)) {
        fw_gen_format_json(g, &t, rec[n]);
        lines[m++] = rec[n];
        if (n % 5 == 4)
            lines[m++] = rec[n - 2 - n % 3]; /* retries a few records late */
        n++;
    }
    fw_gen_destroy(g);
    fw_rules rules;
    fw_rules_defaults(&rules);
    static dups whole, parts;
    whole.n = 0;
    fw_engine *one = fw_engine_new(&rules, err, sizeof(err));
    engine_feed(one, lines, 0, m, &whole, NULL);
    fw_engine_destroy(one);
    assert_int_equal(whole.n, m - n);
    bool deleted_some = false;
    for (int cut = 1; cut < m; cut += 811) {
        parts.n = 0;
        static store s;
        memset(&s, 0, sizeof(s));
        fw_engine *a = fw_engine_new(&rules, err, sizeof(err));
        fw_engine_track_changes(a);
        engine_feed(a, lines, 0, cut, &parts, &s);
        fw_engine_changes(a, store_put, &s);
        fw_engine_destroy(a);
        fw_engine *b = fw_engine_new(&rules, err, sizeof(err));
        size_t live = 0;
        for (size_t i = 0; i < s.n; i++) {
            deleted_some |= s.items[i].value == NULL;
            live += s.items[i].value != NULL;
            if (fw_engine_restore(b, (fw_str){ s.items[i].key, s.items[i].keylen },
                                  s.items[i].value, s.items[i].len, err, sizeof(err)))
                fail_msg("cut %d: restore: %s", cut, err);
        }
        assert_true(live <= 4); /* a horizon's worth of chunks, no more */
        /* The watermark rides in 'M', which this store leaves out: the
         * restored engine starts it from the next record, as the ids do not
         * depend on it within the horizon. */
        engine_feed(b, lines, cut, m, &parts, NULL);
        fw_engine_destroy(b);
        for (size_t i = 0; i < s.n; i++)
            free(s.items[i].value);
        if (parts.n != whole.n)
            fail_msg("cut %d: %d duplicates after the hand-over, %d in one run", cut, parts.n,
                     whole.n);
        for (int i = 0; i < whole.n; i++)
            if (strcmp(parts.seen[i], whole.seen[i]))
                fail_msg("cut %d: duplicate %d is \"%s\", in one run \"%s\"", cut, i,
                         parts.seen[i], whole.seen[i]);
    }
    assert_true(deleted_some); /* expired chunks were tombstoned */
}

/* ---- event time: file mode's guard and Kafka mode's skew ---- */

/* The first repro. */
static void test_future_record_in_file(void **state) {
    (void)state;
    const char *in[] = { TX("p", "9999-12-31T23:59:59Z", "x", "1"),
                         TX("a1", "2024-01-15T10:01:00Z", "v", "2000"),
                         TX("a2", "2024-01-15T10:02:00Z", "v", "2000"),
                         TX("a3", "2024-01-15T10:03:00Z", "v", "2000") };
    capture c = { 0 };
    fw_pipeline *p = pipeline();
    feed_lines(p, in, 4, &c, &file_src);
    if (c.alerts[FW_RULE_VELOCITY] != 1 || c.dead != 1 || fw_pipeline_engine_stats(p)->late)
        fail_msg("%d velocity alerts, %d dead letters, %llu late; expected 1, 1, 0",
                 c.alerts[FW_RULE_VELOCITY], c.dead,
                 (unsigned long long)fw_pipeline_engine_stats(p)->late);
    if (!strstr(c.reasons[0], "timestamp 9999-12-31T23:59:59.000Z is 7975 years ahead") ||
        !strstr(c.reasons[0], "at most 1h ahead") || !strstr(c.reasons[0], "[timestamp]"))
        fail_msg("reason \"%s\" does not name the timestamp and the bound", c.reasons[0]);
    fw_pipeline_destroy(p);
}

static void test_future_record_in_kafka(void **state) {
    (void)state;
    const char *in[] = { TX("a1", "2024-01-15T10:01:00Z", "v", "2000"),
                         TX("p", "9999-12-31T23:59:59Z", "x", "1"),
                         TX("a2", "2024-01-15T10:02:00Z", "v", "2000"),
                         TX("a3", "2024-01-15T10:03:00Z", "v", "2000"),
                         TX("ok", "2024-01-15T10:08:00Z", "w", "1") };
    /* Kafka timestamps: 2024-01-15T10:03:00Z. "ok" is 5 minutes ahead: the bound itself. */
    fw_source_ref kafka = { .topic = "in", .ref_time_name = "the record's Kafka timestamp",
                            .ref_time_ms = 1705312980000 };
    capture c = { 0 };
    fw_pipeline *p = pipeline();
    fw_pipeline_out out = { .opaque = &c, .alert = on_alert, .dead_letter = on_dead };
    for (int i = 0; i < 5; i++) {
        kafka.offset = i;
        fw_pipeline_process(p, in[i], strlen(in[i]), &kafka, &out);
        if (i == 1 && fw_pipeline_engine_stats(p)->max_event_time != 1705312860000)
            fail_msg("the refused record moved event time to %lld",
                     (long long)fw_pipeline_engine_stats(p)->max_event_time);
    }
    fw_pipeline_advance(p, INT64_MAX, &out);
    const char *want = "timestamp 9999-12-31T23:59:59.000Z is 7975 years ahead of the "
                       "record's Kafka timestamp 2024-01-15T10:03:00.000Z; at most 5m ahead "
                       "is accepted (max_future_skew) [timestamp]";
    if (c.alerts[FW_RULE_VELOCITY] != 1 || c.dead != 1 || strcmp(c.reasons[0], want))
        fail_msg("%d velocity alerts, %d dead letters (\"%s\"); expected 1 and \"%s\"",
                 c.alerts[FW_RULE_VELOCITY], c.dead, c.reasons[0], want);
    fw_pipeline_destroy(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_match_naive_set),
        cmocka_unit_test(test_copies_alert_once),
        cmocka_unit_test(test_generated_with_copies),
        cmocka_unit_test(test_ids_survive_handover),
        cmocka_unit_test(test_future_record_in_file),
        cmocka_unit_test(test_future_record_in_kafka),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
