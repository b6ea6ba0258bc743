/* test_ml_score.c — behavioural features from a customer's history, and the
 * engine's ml_score: batches, one model call each, explained alerts, dedupe,
 * scoring done elsewhere, failures, model replacement, changelog round trip.
 * Time comes from the transactions; nothing sleeps. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine.h"
#include "ml_features.h"

#define T0 1704067200000LL /* 2024-01-01T00:00:00Z */
#define MIN (60 * 1000LL)
#define HOUR (60 * MIN)
#define FW_ML_TEST_ROWS 1500 /* more than one batch */

static fw_txn pay(const char *id, const char *cust, int64_t ts, double amount,
                  const char *merchant, const char *country) {
    return (fw_txn){ .transaction_id = fw_str_c(id), .ts_ms = ts, .amount = amount,
                     .amount_raw = fw_str_c("1"), .customer_id = fw_str_c(cust),
                     .account_id = fw_str_c("acct"), .type = FW_TXN_PURCHASE,
                     .merchant_id = merchant ? fw_str_c(merchant) : FW_STR_NULL,
                     .country = country ? fw_str_c(country) : FW_STR_NULL,
                     .channel = fw_str_c("online") };
}

static void assert_feature(const float *f, fw_feature k, double want) {
    if (isnan(want) ? !isnan(f[k]) : fabs(f[k] - want) > 1e-3 * (1 + fabs(want)))
        fail_msg("%s: expected %g, got %g", fw_feature_name(k), want, (double)f[k]);
}

static void test_feature_names(void **state) {
    (void)state;
    assert_string_equal(fw_feature_name(FW_F_V1), "V1");
    assert_string_equal(fw_feature_name((fw_feature)(FW_F_V1 + 27)), "V28");
    assert_string_equal(fw_feature_name(FW_F_AMOUNT), "Amount");
    for (int f = 0; f < FW_F__COUNT; f++) {
        const char *n = fw_feature_name((fw_feature)f);
        assert_non_null(n);
        assert_int_equal(fw_feature_by_name(n, strlen(n)), f);
    }
    assert_int_equal(fw_feature_by_name("nope", 4), -1);
    assert_null(fw_feature_name(FW_F__COUNT));
}

static void test_features_from_history(void **state) {
    (void)state;
    fw_feat_state s;
    fw_feat_state_init(&s);
    float f[FW_F__COUNT];
    fw_txn a = pay("a", "c1", T0 + 10 * MIN, 100, "m1", "NL");
    fw_features_compute(&s, &a, NULL, f);
    assert_feature(f, FW_F_AMOUNT, 100);
    assert_feature(f, FW_F_AMOUNT_VS_AVG, NAN); /* no history yet */
    assert_feature(f, FW_F_SECS_SINCE_PREV, NAN);
    assert_feature(f, FW_F_COUNT_1H, 0);
    assert_feature(f, FW_F_NEW_MERCHANT, 1);
    assert_feature(f, FW_F_NEW_COUNTERPARTY, NAN); /* not a transfer */
    assert_feature(f, FW_F_HOUR, 0);
    assert_feature(f, FW_F_CHANNEL, 2);
    assert_feature(f, FW_F_TYPE, FW_TXN_PURCHASE);
    assert_feature(f, FW_F_V1, NAN);
    fw_feat_state_update(&s, &a);
    fw_txn b = pay("b", "c1", T0 + 40 * MIN, 300, "m2", "DE");
    fw_feat_state_update(&s, &b);
    /* Two hours later: both in the day, neither in the last hour. */
    fw_txn c = pay("c", "c1", T0 + 2 * HOUR + 41 * MIN, 1000, "m1", "NL");
    fw_profile home = { .home_country = "NL" };
    fw_features_compute(&s, &c, &home, f);
    assert_feature(f, FW_F_AMOUNT_VS_AVG, 1000.0 / 200.0);
    assert_feature(f, FW_F_SECS_SINCE_PREV, 2 * 3600 + 60);
    assert_feature(f, FW_F_COUNT_1H, 0);
    assert_feature(f, FW_F_COUNT_24H, 2);
    assert_feature(f, FW_F_SUM_24H, 400);
    assert_feature(f, FW_F_MERCHANTS_24H, 2);
    assert_feature(f, FW_F_COUNTRIES_24H, 2);
    assert_feature(f, FW_F_NEW_MERCHANT, 0);
    assert_feature(f, FW_F_NEW_COUNTRY, 0);
    assert_feature(f, FW_F_FOREIGN, 0);
    assert_feature(f, FW_F_HOUR, 2);
    assert_feature(f, FW_F_HISTORY, 2);
    /* Within the hour of b: counted in the last hour. */
    fw_txn d = pay("d", "c1", T0 + 50 * MIN, 5, "m3", "FR");
    fw_features_compute(&s, &d, &home, f);
    assert_feature(f, FW_F_COUNT_1H, 2);
    assert_feature(f, FW_F_SUM_1H, 400);
    assert_feature(f, FW_F_NEW_COUNTRY, 1);
    assert_feature(f, FW_F_FOREIGN, 1);
    /* A day and more later, the day's window is empty again. */
    fw_txn e = pay("e", "c1", T0 + 30 * HOUR, 5, "m1", "NL");
    fw_features_compute(&s, &e, NULL, f);
    assert_feature(f, FW_F_COUNT_24H, 0);
    assert_feature(f, FW_F_MERCHANTS_24H, 0);
    /* The changelog form reads back to the same features. */
    fw_buf buf;
    fw_buf_init(&buf, 0);
    fw_feat_state_write(&s, &buf);
    fw_feat_state back;
    assert_int_equal(fw_feat_state_read(&back, buf.data, buf.len), buf.len);
    assert_int_equal(fw_feat_state_read(&back, buf.data, buf.len - 1), 0);
    float g[FW_F__COUNT];
    fw_features_compute(&s, &d, &home, f);
    fw_features_compute(&back, &d, &home, g);
    assert_memory_equal(f, g, sizeof(f));
    fw_buf_fini(&buf);
}

/* A model that learned "fraud when Amount > 1000", or with @p second_counts
 * also when the second feature is above 3 (so both features contribute). */
static fw_model *amount_model_of(const char *second_feature, bool second_counts) {
    enum { N = 2000 };
    static float rows[N * 2], labels[N];
    for (int i = 0; i < N; i++) {
        rows[2 * i] = (float)(i % 200) * 10.0f;
        rows[2 * i + 1] = (float)(i % 7);
        labels[i] = rows[2 * i] > 1000 || (second_counts && rows[2 * i + 1] > 3) ? 1.0f
                                                                                 : 0.0f;
    }
    const char *names[] = { "Amount", second_feature };
    fw_train_params p;
    fw_train_params_defaults(&p);
    p.rounds = 20;
    p.threads = 1;
    char err[256];
    fw_model *m = fw_model_train(rows, labels, N, 2, names, &p, NULL, NULL, err, sizeof(err));
    if (!m)
        fail_msg("train: %s", err);
    return m;
}

static fw_model *amount_model(const char *second_feature) {
    return amount_model_of(second_feature, false);
}

struct pay_in {
    const char *id, *cust;
    int64_t at;
    double amount;
};

typedef struct got {
    int n;
    char ids[64][16];
    double score[64];
    char top[64][32];
    double contribution[64]; /* of the top feature */
    char entity[64][32];
} got;

static void on_alert(void *opaque, const fw_alert *a) {
    got *g = opaque;
    assert_int_equal(a->rule, FW_RULE_ML_SCORE);
    assert_non_null(a->ml);
    if (g->n >= 64)
        return;
    snprintf(g->ids[g->n], 16, "%.*s", (int)a->txn->transaction_id.len,
             a->txn->transaction_id.ptr);
    g->score[g->n] = a->ml->score;
    snprintf(g->top[g->n], 32, "%s", a->ml->ntop ? a->ml->top[0].feature : "");
    g->contribution[g->n] = a->ml->ntop ? a->ml->top[0].contribution : NAN;
    snprintf(g->entity[g->n], 32, "%s:%.*s", a->entity_type, (int)a->entity_id.len,
             a->entity_id.ptr);
    g->n++;
}

static fw_engine *ml_engine_explaining(fw_rules *r, fw_ml_contributions how) {
    fw_rules_defaults(r);
    r->ml_score.contributions = (int)how;
    for (int i = 0; i < FW_RULE__COUNT; i++) /* only the model speaks */
        r->common[i].enabled = i == FW_RULE_ML_SCORE;
    r->time.max_out_of_orderness_ms = 0;
    char err[128];
    fw_engine *e = fw_engine_new(r, err, sizeof(err));
    assert_non_null(e);
    fw_engine_ml_activate(e, true);
    return e;
}

static fw_engine *ml_engine(fw_rules *r) { return ml_engine_explaining(r, FW_ML_CONTRIB_EXACT); }

static void test_local_batches_and_explanations(void **state) {
    (void)state;
    fw_rules r;
    fw_engine *e = ml_engine(&r);
    fw_model *m = amount_model("amount_vs_avg");
    char err[256];
    assert_int_equal(fw_engine_set_model(e, m, err, sizeof(err)), FW_OK);
    got g = { 0 };
    fw_engine_out out = { .opaque = &g, .alert = on_alert };
    static const struct { const char *id, *cust; int64_t at; double amount; } in[] = {
        { "t1", "c1", 0, 50 },       { "t2", "c2", 1 * MIN, 4000 },
        { "t3", "c1", 2 * MIN, 30 }, { "t4", "c1", 3 * MIN, 1500 },
        { "t5", "c1", 4 * MIN, 1600 }, /* same customer within the dedupe window */
        { "t6", "c3", 5 * MIN, 999 },
    };
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        fw_txn t = pay(in[i].id, in[i].cust, T0 + in[i].at, in[i].amount, "m", "NL");
        fw_engine_process(e, &t, &out);
    }
    fw_engine_advance(e, INT64_MAX, &out);
    assert_int_equal(g.n, 0); /* nothing scored until the batch is flushed */
    assert_int_equal(fw_engine_ml_pending(e), 6);
    fw_engine_ml_flush(e, &out);
    const fw_engine_stats *st = fw_engine_stats_get(e);
    assert_int_equal(st->ml_batches, 1);
    assert_int_equal(st->ml_scored, 6);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.ids[0], "t2");
    assert_string_equal(g.ids[1], "t4");
    assert_string_equal(g.entity[1], "customer:c1");
    assert_int_equal(st->deduplicated[FW_RULE_ML_SCORE], 1);
    for (int i = 0; i < g.n; i++) {
        if (!(g.score[i] > 0.8))
            fail_msg("%s: score %g not above 0.8", g.ids[i], g.score[i]);
        assert_string_equal(g.top[i], "Amount");
    }
    assert_int_equal(fw_engine_ml_pending(e), 0);
    fw_engine_destroy(e);
    fw_model_free(m);
}

/* Scores @p n payments of @p in with contributions computed @p how; alerts into @p g. */
static void score_payments(const struct pay_in *in, size_t n, fw_ml_contributions how,
                           fw_model *m, got *g) {
    fw_rules r;
    fw_engine *e = ml_engine_explaining(&r, how);
    char err[256];
    assert_int_equal(fw_engine_set_model(e, m, err, sizeof(err)), FW_OK);
    fw_engine_out out = { .opaque = g, .alert = on_alert };
    for (size_t i = 0; i < n; i++) {
        fw_txn t = pay(in[i].id, in[i].cust, T0 + in[i].at, in[i].amount, "m", "NL");
        fw_engine_process(e, &t, &out);
    }
    fw_engine_advance(e, INT64_MAX, &out);
    fw_engine_ml_flush(e, &out);
    fw_engine_destroy(e);
}

/* Dedupe decides before the contributions are computed, for alerting rows
 * only: a suppressed row in between must not shift them onto another alert. */
static void test_contributions_after_dedupe(void **state) {
    (void)state;
    fw_model *m = amount_model_of("amount_vs_avg", true);
    static const struct pay_in with[] = {
        { "t1", "c1", 0, 1500 }, { "t2", "c1", 1 * MIN, 1600 }, /* deduplicated */
        { "t3", "c2", 2 * MIN, 100 },
    };
    static const struct pay_in without[] = { { "t1", "c1", 0, 1500 },
                                             { "t3", "c2", 2 * MIN, 100 } };
    got a = { 0 }, b = { 0 }, approx = { 0 };
    score_payments(with, 3, FW_ML_CONTRIB_EXACT, m, &a);
    score_payments(without, 2, FW_ML_CONTRIB_EXACT, m, &b);
    /* t1 alerts on its amount, t3 (a first payment of 100) on its missing
     * average: were t2's contributions (like t1's) shifted onto t3, it would
     * name Amount. */
    assert_int_equal(a.n, 2);
    assert_int_equal(b.n, 2);
    assert_string_equal(a.top[0], "Amount");
    assert_string_equal(a.top[1], "amount_vs_avg");
    for (int i = 0; i < 2; i++) {
        assert_string_equal(a.ids[i], b.ids[i]);
        if (strcmp(a.top[i], b.top[i]) || a.contribution[i] != b.contribution[i])
            fail_msg("%s: top %s %g with a deduplicated row before it, %s %g without",
                     a.ids[i], a.top[i], a.contribution[i], b.top[i], b.contribution[i]);
    }
    /* The approximate method names the same feature, pushing up. */
    score_payments(with, 3, FW_ML_CONTRIB_APPROX, m, &approx);
    assert_int_equal(approx.n, 2);
    for (int i = 0; i < 2; i++) {
        assert_string_equal(approx.top[i], a.top[i]);
        if (!(approx.contribution[i] > 0))
            fail_msg("%s: approximate contribution %g", approx.ids[i], approx.contribution[i]);
    }
    fw_model_free(m);
}

static void test_scored_elsewhere_and_failures(void **state) {
    (void)state;
    fw_rules r;
    fw_engine *e = ml_engine(&r);
    got g = { 0 };
    fw_engine_out out = { .opaque = &g, .alert = on_alert };
    char id[16];
    for (int i = 0; i < FW_ML_TEST_ROWS; i++) {
        snprintf(id, sizeof(id), "x%d", i);
        char cust[16];
        snprintf(cust, sizeof(cust), "c%d", i);
        fw_txn t = pay(id, cust, T0 + i, 10 + i, NULL, NULL);
        fw_engine_process(e, &t, &out);
    }
    fw_engine_advance(e, INT64_MAX, &out);
    assert_int_equal(fw_engine_ml_pending(e), FW_ML_TEST_ROWS);
    /* No model here: the runtime takes the batches, in order. */
    fw_ml_batch *b1 = fw_engine_ml_take(e);
    fw_ml_batch *b2 = fw_engine_ml_take(e);
    assert_non_null(b1);
    assert_non_null(b2);
    assert_null(fw_engine_ml_take(e));
    size_t n1 = fw_ml_batch_rows(b1), n2 = fw_ml_batch_rows(b2);
    assert_int_equal(n1 + n2, FW_ML_TEST_ROWS);
    assert_int_equal(fw_ml_batch_features(b1)[FW_F_AMOUNT], 10);
    static float probs[2048];
    for (size_t i = 0; i < n1; i++)
        probs[i] = i == 3 ? 0.95f : 0.1f;
    fw_engine_ml_complete(e, b1, probs, NULL, "http://scorer", &out);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.ids[0], "x3");
    assert_string_equal(g.top[0], ""); /* remote scores carry no contributions */
    fw_engine_ml_complete(e, b2, NULL, NULL, "http://scorer", &out); /* the service failed */
    const fw_engine_stats *st = fw_engine_stats_get(e);
    assert_int_equal(st->ml_scored, n1);
    assert_int_equal(st->ml_unscored, n2);
    assert_int_equal(st->ml_failed_batches, 1);
    fw_engine_destroy(e);
    /* Without a model, a flush counts the rows unscored and drops them. */
    e = ml_engine(&r);
    fw_txn t = pay("y", "c1", T0, 5, NULL, NULL);
    fw_engine_process(e, &t, &out);
    fw_engine_advance(e, INT64_MAX, &out);
    fw_engine_ml_flush(e, &out);
    st = fw_engine_stats_get(e);
    assert_int_equal(st->ml_unscored, 1);
    assert_int_equal(fw_engine_ml_pending(e), 0);
    fw_engine_destroy(e);
}

static void test_model_replacement(void **state) {
    (void)state;
    fw_rules r;
    fw_engine *e = ml_engine(&r);
    fw_model *good = amount_model("count_1h");
    fw_model *bad = amount_model("no_such_feature");
    char err[256];
    assert_int_equal(fw_engine_set_model(e, good, err, sizeof(err)), FW_OK);
    assert_int_equal(fw_engine_set_model(e, bad, err, sizeof(err)), FW_ERR_INVALID);
    if (!strstr(err, "no_such_feature"))
        fail_msg("error does not name the feature: %s", err);
    got g = { 0 };
    fw_engine_out out = { .opaque = &g, .alert = on_alert };
    fw_txn t = pay("z", "c9", T0, 5000, NULL, NULL);
    fw_engine_process(e, &t, &out);
    fw_engine_advance(e, INT64_MAX, &out);
    fw_engine_ml_flush(e, &out); /* still the good model */
    assert_int_equal(g.n, 1);
    fw_engine_destroy(e);
    fw_model_free(good);
    fw_model_free(bad);
}

typedef struct kv {
    char key[256];
    size_t klen;
    unsigned char val[4096];
    size_t vlen;
    bool del;
} kv;

typedef struct store {
    kv rec[64];
    int n;
} store;

static void put(void *opaque, fw_str key, const void *value, size_t len) {
    store *s = opaque;
    assert_true(s->n < 64 && key.len <= 256 && len <= 4096);
    kv *r = &s->rec[s->n++];
    memcpy(r->key, key.ptr, key.len);
    r->klen = key.len;
    r->del = value == NULL;
    if (value)
        memcpy(r->val, value, len);
    r->vlen = len;
}

/* The history survives a hand-over: a restored engine computes the same features. */
static void test_history_in_changelog(void **state) {
    (void)state;
    fw_rules r;
    fw_engine *a = ml_engine(&r);
    fw_engine_track_changes(a);
    got g = { 0 };
    fw_engine_out out = { .opaque = &g, .alert = on_alert };
    for (int i = 0; i < 5; i++) {
        fw_txn t = pay("h", "cust", T0 + i * MIN, 100 + i, i % 2 ? "m1" : "m2", "NL");
        fw_engine_process(a, &t, &out);
    }
    fw_engine_advance(a, T0 + 10 * MIN, &out);
    static store s;
    s.n = 0;
    fw_engine_changes(a, put, &s);
    fw_engine *b = ml_engine(&r);
    char err[256];
    for (int i = 0; i < s.n; i++)
        if (fw_engine_restore(b, (fw_str){ s.rec[i].key, s.rec[i].klen },
                              s.rec[i].del ? NULL : s.rec[i].val, s.rec[i].vlen, err,
                              sizeof(err)) != FW_OK)
            fail_msg("restore record %d: %s", i, err);
    static float fa[FW_F__COUNT], fb[FW_F__COUNT];
    fw_engine_ml_flush(a, &out);
    fw_engine_ml_flush(b, &out);
    fw_txn next = pay("n", "cust", T0 + 11 * MIN, 700, "m3", "BE");
    fw_engine_process(a, &next, &out);
    fw_engine_process(b, &next, &out);
    fw_engine_advance(a, INT64_MAX, &out);
    fw_engine_advance(b, INT64_MAX, &out);
    fw_ml_batch *ba = fw_engine_ml_take(a), *bb = fw_engine_ml_take(b);
    assert_non_null(ba);
    assert_non_null(bb);
    assert_int_equal(fw_ml_batch_rows(ba), 1);
    assert_int_equal(fw_ml_batch_rows(bb), 1);
    memcpy(fa, fw_ml_batch_features(ba), sizeof(fa));
    memcpy(fb, fw_ml_batch_features(bb), sizeof(fb));
    assert_feature(fb, FW_F_COUNT_1H, 5);
    assert_feature(fb, FW_F_HISTORY, 5);
    assert_feature(fb, FW_F_NEW_COUNTRY, 1);
    for (int f = 0; f < FW_F__COUNT; f++)
        if (!(isnan(fa[f]) && isnan(fb[f])) && fa[f] != fb[f])
            fail_msg("%s: %g before the hand-over, %g after", fw_feature_name((fw_feature)f),
                     (double)fa[f], (double)fb[f]);
    fw_engine_ml_complete(a, ba, NULL, NULL, "x", &out);
    fw_engine_ml_complete(b, bb, NULL, NULL, "x", &out);
    fw_engine_destroy(a);
    fw_engine_destroy(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_feature_names),
        cmocka_unit_test(test_features_from_history),
        cmocka_unit_test(test_local_batches_and_explanations),
        cmocka_unit_test(test_contributions_after_dedupe),
        cmocka_unit_test(test_scored_elsewhere_and_failures),
        cmocka_unit_test(test_model_replacement),
        cmocka_unit_test(test_history_in_changelog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
