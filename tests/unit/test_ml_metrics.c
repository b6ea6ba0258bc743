/* test_ml_metrics.c — ml_metrics.c against figures computed by hand: average
 * precision, ROC-AUC with ties (the answer must not depend on row order within
 * a tie), recall at a false-positive budget, counts at a threshold, the
 * one-class case (NaN plus a flag, never a made-up number), and a brute-force
 * cross-check on random data full of ties. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ml_metrics.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define EPS 1e-12

/* This cmocka has no double assertion: print both values when they differ. */
#define assert_double_equal(actual, expected, eps)                                        \
    do {                                                                                  \
        double a_ = (actual), e_ = (expected);                                            \
        if (!(fabs(a_ - e_) < (eps)))                                                     \
            fail_msg("%s is %.15g, expected %.15g", #actual, a_, e_);                     \
    } while (0)

typedef struct figures {
    bool defined;
    double auprc, roc_auc;
} figures;

static figures rank_figures(const float *s, const float *l, size_t n) {
    fw_ml_ranking r;
    assert_int_equal(fw_ml_ranking_init(&r, s, l, n, NULL), FW_OK);
    figures f = { fw_ml_ranking_defined(&r), fw_ml_auprc(&r), fw_ml_roc_auc(&r) };
    fw_ml_ranking_fini(&r);
    return f;
}

static void test_distinct_scores(void **state) {
    (void)state;
    /* Ranked: 0.9 fraud, 0.8 legit, 0.7 fraud, 0.6 legit (given shuffled).
     * AP = 1/2 x 1 + 1/2 x 2/3 = 5/6; AUC: 0.9 beats both legit, 0.7 one: 3/4. */
    const float s[] = { 0.7f, 0.6f, 0.9f, 0.8f };
    const float l[] = { 1, 0, 1, 0 };
    figures f = rank_figures(s, l, N(s));
    assert_true(f.defined);
    assert_double_equal(f.auprc, 5.0 / 6.0, EPS);
    assert_double_equal(f.roc_auc, 0.75, EPS);
}

static void test_all_tied(void **state) {
    (void)state;
    /* One step flags everything: precision 1/2 for all the recall; AUC 1/2. */
    const float s[] = { 0.5f, 0.5f, 0.5f, 0.5f };
    const float l[] = { 1, 0, 1, 0 };
    figures f = rank_figures(s, l, N(s));
    assert_double_equal(f.auprc, 0.5, EPS);
    assert_double_equal(f.roc_auc, 0.5, EPS);
}

static void test_partial_ties_order_free(void **state) {
    (void)state;
    /* 0.9 fraud; 0.7 fraud + 0.7 legit (a tie); 0.2 legit.
     * AP = 1/2 x 1 + 1/2 x 2/3 = 5/6 (not 1, not 3/4: the tie is one step).
     * AUC = (2 + 0.5 + 1) / 4 = 0.875. Same whichever way the tie is given. */
    const float s1[] = { 0.2f, 0.7f, 0.9f, 0.7f };
    const float l1[] = { 0, 0, 1, 1 };
    const float s2[] = { 0.7f, 0.9f, 0.7f, 0.2f };
    const float l2[] = { 1, 1, 0, 0 };
    figures a = rank_figures(s1, l1, N(s1)), b = rank_figures(s2, l2, N(s2));
    assert_double_equal(a.auprc, 5.0 / 6.0, EPS);
    assert_double_equal(a.roc_auc, 0.875, EPS);
    assert_double_equal(b.auprc, a.auprc, EPS);
    assert_double_equal(b.roc_auc, a.roc_auc, EPS);
}

static void test_perfect_and_inverted(void **state) {
    (void)state;
    const float s[] = { 0.1f, 0.2f, 0.8f, 0.9f };
    const float good[] = { 0, 0, 1, 1 };
    const float bad[] = { 1, 1, 0, 0 };
    figures g = rank_figures(s, good, N(s)), b = rank_figures(s, bad, N(s));
    assert_double_equal(g.auprc, 1.0, EPS);
    assert_double_equal(g.roc_auc, 1.0, EPS);
    /* Inverted: frauds found third (P 1/3) and fourth (P 2/4): 1/6 + 1/4. */
    assert_double_equal(b.auprc, 1.0 / 6.0 + 0.25, EPS);
    assert_double_equal(b.roc_auc, 0.0, EPS);
}

static void test_nan_scores_rank_last(void **state) {
    (void)state;
    /* The fraud has no score: it comes after both legit rows. */
    const float s[] = { NAN, 0.9f, 0.1f };
    const float l[] = { 1, 0, 0 };
    figures f = rank_figures(s, l, N(s));
    assert_double_equal(f.auprc, 1.0 / 3.0, EPS);
    assert_double_equal(f.roc_auc, 0.0, EPS);
}

static void test_recall_at_fpr(void **state) {
    (void)state;
    /* Ten legit rows at 0.1 .. 1.0: each false positive is 10 % FPR.
     * Frauds at 0.95, 0.85, 0.55, 0.05. */
    float s[14], l[14];
    for (int i = 0; i < 10; i++) {
        s[i] = (float)(i + 1) / 10.0f;
        l[i] = 0;
    }
    const float fraud[] = { 0.95f, 0.85f, 0.55f, 0.05f };
    for (int i = 0; i < 4; i++) {
        s[10 + i] = fraud[i];
        l[10 + i] = 1;
    }
    fw_ml_ranking r;
    assert_int_equal(fw_ml_ranking_init(&r, s, l, 14, NULL), FW_OK);

    /* 10 %: 1.0 (FP) then 0.95 (TP); 0.9 would be a second FP. */
    fw_ml_at_fpr a = fw_ml_recall_at_fpr(&r, 0.10);
    assert_true(a.defined);
    assert_double_equal(a.recall, 0.25, EPS);
    assert_double_equal(a.fpr, 0.10, EPS);
    assert_true(a.threshold == 0.95f);
    assert_int_equal(a.tp, 1);
    assert_int_equal(a.fp, 1);

    /* 20 %: down to 0.85. */
    a = fw_ml_recall_at_fpr(&r, 0.20);
    assert_double_equal(a.recall, 0.5, EPS);
    assert_true(a.threshold == 0.85f);

    /* 0 %: the top row is legit, so nothing may be flagged: the threshold
     * sits above every score. */
    a = fw_ml_recall_at_fpr(&r, 0.0);
    assert_double_equal(a.recall, 0.0, EPS);
    assert_double_equal(a.fpr, 0.0, EPS);
    assert_true(a.threshold > 1.0f);
    assert_int_equal(a.tp, 0);

    /* 100 %: everything. */
    a = fw_ml_recall_at_fpr(&r, 1.0);
    assert_double_equal(a.recall, 1.0, EPS);
    assert_true(a.threshold == 0.05f);
    fw_ml_ranking_fini(&r);
}

static void test_recall_at_fpr_budget_rounding(void **state) {
    (void)state;
    /* 100 legit rows at 0.001 .. 0.100 and one fraud at 0.0715, below 29 of
     * them. 0.29 x 100 is 28.999999999999996 in doubles: the budget must
     * still be 29 false positives, which reaches the fraud. */
    float s[101], l[101];
    for (int i = 0; i < 100; i++) {
        s[i] = (float)(i + 1) / 1000.0f;
        l[i] = 0;
    }
    s[100] = 0.0715f;
    l[100] = 1;
    fw_ml_ranking r;
    assert_int_equal(fw_ml_ranking_init(&r, s, l, 101, NULL), FW_OK);
    fw_ml_at_fpr a = fw_ml_recall_at_fpr(&r, 0.29);
    assert_double_equal(a.recall, 1.0, EPS);
    assert_int_equal(a.fp, 29);
    assert_true(a.threshold == 0.0715f);
    a = fw_ml_recall_at_fpr(&r, 0.28);
    assert_double_equal(a.recall, 0.0, EPS);
    assert_int_equal(a.fp, 28);
    fw_ml_ranking_fini(&r);
}

static void test_at_threshold(void **state) {
    (void)state;
    const float s[] = { 0.9f, 0.8f, 0.5f, 0.4f, 0.1f };
    const float l[] = { 1, 0, 1, 1, 0 };
    /* >= 0.5 flags 0.9 (TP), 0.8 (FP) and 0.5 (TP, equal counts). */
    fw_ml_confusion c = fw_ml_at_threshold(s, l, N(s), 0.5f);
    assert_int_equal(c.tp, 2);
    assert_int_equal(c.fp, 1);
    assert_int_equal(c.fn, 1);
    assert_int_equal(c.tn, 1);
    assert_double_equal(c.precision, 2.0 / 3.0, EPS);
    assert_double_equal(c.recall, 2.0 / 3.0, EPS);
    assert_double_equal(c.fpr, 0.5, EPS);
    /* Nothing flagged: precision undefined, recall 0. */
    c = fw_ml_at_threshold(s, l, N(s), 0.95f);
    assert_int_equal(c.tp + c.fp, 0);
    assert_true(isnan(c.precision));
    assert_double_equal(c.recall, 0.0, EPS);
    /* NaN scores are never flagged. */
    const float sn[] = { NAN };
    const float ln[] = { 1 };
    c = fw_ml_at_threshold(sn, ln, 1, 0.0f);
    assert_int_equal(c.fn, 1);
    assert_true(isnan(c.fpr));
}

static void test_one_class_undefined(void **state) {
    (void)state;
    const float s[] = { 0.9f, 0.3f, 0.1f };
    const float none[] = { 0, 0, 0 };
    const float all[] = { 1, 1, 1 };
    const float *labels[] = { none, all };
    for (int k = 0; k < 2; k++) {
        fw_ml_summary sum;
        assert_int_equal(fw_ml_summarize(s, labels[k], N(s), 0.01, &sum), FW_OK);
        assert_false(sum.defined);
        assert_int_equal(sum.n, 3);
        assert_int_equal(sum.positives, k ? 3 : 0);
        assert_true(isnan(sum.auprc));
        assert_true(isnan(sum.roc_auc));
        assert_false(sum.at_fpr.defined);
        assert_true(isnan(sum.at_fpr.recall));
    }
    fw_ml_summary empty;
    assert_int_equal(fw_ml_summarize(NULL, NULL, 0, 0.01, &empty), FW_OK);
    assert_false(empty.defined);
    assert_true(isnan(empty.auprc));
}

static void test_caller_scratch(void **state) {
    (void)state;
    const float s[] = { 0.2f, 0.7f, 0.9f, 0.7f };
    const float l[] = { 0, 0, 1, 1 };
    fw_ml_row scratch[4];
    fw_ml_ranking r;
    assert_int_equal(fw_ml_ranking_init(&r, s, l, 4, scratch), FW_OK);
    assert_false(r.owned);
    assert_ptr_equal(r.row, scratch);
    assert_true(r.row[0].score == 0.9f && r.row[3].score == 0.2f);
    assert_double_equal(fw_ml_roc_auc(&r), 0.875, EPS);
    fw_ml_ranking_fini(&r);
}

/* Every (fraud, legit) pair, ties one half: the definition of ROC-AUC. */
static double brute_auc(const float *s, const float *l, size_t n) {
    double wins = 0, pairs = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (l[i] > 0.5f && l[j] < 0.5f) {
                pairs++;
                wins += s[i] > s[j] ? 1 : s[i] == s[j] ? 0.5 : 0;
            }
    return wins / pairs;
}

/* Average precision over each distinct score as a threshold, counted afresh. */
static double brute_ap(const float *s, const float *l, size_t n) {
    double ap = 0, prev_recall = 0, pos = 0;
    for (size_t i = 0; i < n; i++)
        pos += l[i] > 0.5f;
    for (int k = 20; k >= 0; k--) { /* the scores below are k x 0.05, k = 0..20 */
        float t = (float)k * 0.05f;
        double tp = 0, flagged = 0;
        for (size_t i = 0; i < n; i++)
            if (s[i] >= t) {
                flagged++;
                tp += l[i] > 0.5f;
            }
        if (flagged && tp / pos > prev_recall) {
            ap += (tp / pos - prev_recall) * (tp / flagged);
            prev_recall = tp / pos;
        }
    }
    return ap;
}

static void test_random_ties_brute_force(void **state) {
    (void)state;
    enum { n = 1500 };
    static float s[n], l[n];
    srand(7);
    for (int round = 0; round < 5; round++) {
        for (size_t i = 0; i < n; i++) {
            l[i] = rand() % 10 == 0;
            int level = rand() % 21 + (l[i] > 0.5f ? round * 2 : 0); /* 21 levels: many ties */
            s[i] = (float)(level > 20 ? 20 : level) * 0.05f;
        }
        figures f = rank_figures(s, l, n);
        assert_double_equal(f.roc_auc, brute_auc(s, l, n), 1e-9);
        assert_double_equal(f.auprc, brute_ap(s, l, n), 1e-9);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_distinct_scores),
        cmocka_unit_test(test_all_tied),
        cmocka_unit_test(test_partial_ties_order_free),
        cmocka_unit_test(test_perfect_and_inverted),
        cmocka_unit_test(test_nan_scores_rank_last),
        cmocka_unit_test(test_recall_at_fpr),
        cmocka_unit_test(test_recall_at_fpr_budget_rounding),
        cmocka_unit_test(test_at_threshold),
        cmocka_unit_test(test_one_class_undefined),
        cmocka_unit_test(test_caller_scratch),
        cmocka_unit_test(test_random_ties_brute_force),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
