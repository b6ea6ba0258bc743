/* ml_metrics.c — ranking figures of a scoring model (ml_metrics.h). Every
 * curve figure walks the rows once, highest score first, one tie group (one
 * threshold step) at a time. */
#include "ml_metrics.h"

#include <math.h>
#include <stdlib.h>

/* Descending score, NaN last: a total order, so qsort is well defined. */
static int by_score_desc(const void *a, const void *b) {
    float x = ((const fw_ml_row *)a)->score, y = ((const fw_ml_row *)b)->score;
    if (isnan(x) || isnan(y))
        return isnan(x) - isnan(y);
    return (x < y) - (x > y);
}

static bool same_score(float a, float b) { return a == b || (isnan(a) && isnan(b)); }

fw_err fw_ml_ranking_init(fw_ml_ranking *r, const float *scores, const float *labels, size_t n,
                          fw_ml_row *scratch) {
    *r = (fw_ml_ranking){ .row = scratch };
    if (!scratch && n) {
        if (!(r->row = malloc(n * sizeof(*r->row))))
            return FW_ERR_NOMEM;
        r->owned = true;
    }
    r->n = n;
    for (size_t i = 0; i < n; i++) {
        uint32_t pos = labels[i] > 0.5f;
        r->row[i] = (fw_ml_row){ .score = scores[i], .positive = pos };
        r->positives += pos;
    }
    r->negatives = n - r->positives;
    if (n > 1)
        qsort(r->row, n, sizeof(*r->row), by_score_desc);
    return FW_OK;
}

void fw_ml_ranking_fini(fw_ml_ranking *r) {
    if (r->owned)
        free(r->row);
    *r = (fw_ml_ranking){ 0 };
}

bool fw_ml_ranking_defined(const fw_ml_ranking *r) { return r->positives && r->negatives; }

/* The end (exclusive) of the tie group starting at row @p i. */
static size_t group_end(const fw_ml_ranking *r, size_t i, uint64_t *pos, uint64_t *neg) {
    size_t j = i;
    *pos = *neg = 0;
    while (j < r->n && same_score(r->row[j].score, r->row[i].score)) {
        *pos += r->row[j].positive;
        *neg += !r->row[j].positive;
        j++;
    }
    return j;
}

double fw_ml_auprc(const fw_ml_ranking *r) {
    if (!fw_ml_ranking_defined(r))
        return NAN;
    uint64_t tp = 0, fp = 0, p, q;
    double ap = 0;
    for (size_t i = 0; i < r->n;) {
        i = group_end(r, i, &p, &q);
        tp += p;
        fp += q;
        if (p) /* recall rose by p / positives at precision tp / (tp + fp) */
            ap += (double)p / (double)r->positives * ((double)tp / (double)(tp + fp));
    }
    return ap;
}

double fw_ml_roc_auc(const fw_ml_ranking *r) {
    if (!fw_ml_ranking_defined(r))
        return NAN;
    /* Each positive beats the negatives of the groups below its own and ties
     * half of those in its group. */
    uint64_t neg_seen = 0, p, q;
    double wins = 0;
    for (size_t i = 0; i < r->n;) {
        i = group_end(r, i, &p, &q);
        uint64_t below = r->negatives - neg_seen - q;
        wins += (double)p * ((double)below + 0.5 * (double)q);
        neg_seen += q;
    }
    return wins / ((double)r->positives * (double)r->negatives);
}

fw_ml_at_fpr fw_ml_recall_at_fpr(const fw_ml_ranking *r, double max_fpr) {
    fw_ml_at_fpr out = { .max_fpr = max_fpr, .recall = NAN, .fpr = NAN, .threshold = NAN };
    if (!fw_ml_ranking_defined(r))
        return out;
    out.defined = true;
    /* A budget like 1 % of 39,600 is 396 false positives; the epsilon keeps
     * 0.01 x 39600 = 395.99999... from losing one. */
    double budget = max_fpr >= 1 ? (double)r->negatives
                                 : floor(max_fpr * (double)r->negatives + 1e-9);
    uint64_t tp = 0, fp = 0, p, q;
    /* Nothing flagged yet: a threshold just above the top score. */
    float top = r->row[0].score;
    out.threshold = isnan(top) ? INFINITY : nextafterf(top, INFINITY);
    for (size_t i = 0; i < r->n;) {
        size_t start = i;
        i = group_end(r, i, &p, &q);
        if ((double)(fp + q) > budget)
            break;
        tp += p;
        fp += q;
        float s = r->row[start].score;
        out.threshold = isnan(s) ? -INFINITY : s; /* the NaN group: flag everything */
    }
    out.tp = tp;
    out.fp = fp;
    out.recall = (double)tp / (double)r->positives;
    out.fpr = (double)fp / (double)r->negatives;
    return out;
}

fw_ml_confusion fw_ml_at_threshold(const float *scores, const float *labels, size_t n,
                                   float threshold) {
    fw_ml_confusion c = { .threshold = threshold };
    for (size_t i = 0; i < n; i++) {
        bool pos = labels[i] > 0.5f, flagged = scores[i] >= threshold;
        c.tp += pos && flagged;
        c.fp += !pos && flagged;
        c.fn += pos && !flagged;
        c.tn += !pos && !flagged;
    }
    c.precision = c.tp + c.fp ? (double)c.tp / (double)(c.tp + c.fp) : NAN;
    c.recall = c.tp + c.fn ? (double)c.tp / (double)(c.tp + c.fn) : NAN;
    c.fpr = c.fp + c.tn ? (double)c.fp / (double)(c.fp + c.tn) : NAN;
    return c;
}

fw_err fw_ml_summarize(const float *scores, const float *labels, size_t n, double max_fpr,
                       fw_ml_summary *out) {
    fw_ml_ranking r;
    if (fw_ml_ranking_init(&r, scores, labels, n, NULL) != FW_OK)
        return FW_ERR_NOMEM;
    *out = (fw_ml_summary){ .n = n, .positives = r.positives, .negatives = r.negatives,
                            .defined = fw_ml_ranking_defined(&r), .auprc = fw_ml_auprc(&r),
                            .roc_auc = fw_ml_roc_auc(&r),
                            .at_fpr = fw_ml_recall_at_fpr(&r, max_fpr) };
    fw_ml_ranking_fini(&r);
    return FW_OK;
}
