/* ml_metrics.h — how well a scoring model ranks fraud: the figures
 * `fraudwatch train` reports on its held-out part. Pure: scores and labels in,
 * numbers out; no I/O, no XGBoost.
 *
 * Inputs are @p n scores (higher = more likely fraud) and @p n labels as
 * floats, the type XGBoost trains on: a label above 0.5 is fraud (positive).
 * A row is flagged at threshold t when its score >= t. Rows with equal scores
 * form one threshold step: they are flagged together, so ties never depend on
 * row order. A NaN score ranks below every number.
 *
 * The curve figures need both classes: with no positive or no negative row
 * they are NaN and `defined` says so, rather than a made-up 0, 0.5 or 1. */
#ifndef FW_ML_METRICS_H
#define FW_ML_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fw_err.h"

/** One row as the curve figures read it, after sorting. */
typedef struct fw_ml_row {
    float score;
    uint32_t positive;       /* 1: fraud */
} fw_ml_row;

/** Rows sorted by descending score: the common input of the curve figures,
 *  so several figures cost one sort. */
typedef struct fw_ml_ranking {
    fw_ml_row *row;          /* n rows, highest score first */
    size_t n, positives, negatives;
    bool owned;              /* row was allocated by fw_ml_ranking_init */
} fw_ml_ranking;

/**
 * @brief Copies @p n scores and labels into @p scratch (n rows, caller-owned;
 * NULL: one allocation, freed by fw_ml_ranking_fini) and sorts them.
 * @returns FW_OK, or FW_ERR_NOMEM (only when @p scratch is NULL).
 */
fw_err fw_ml_ranking_init(fw_ml_ranking *r, const float *scores, const float *labels, size_t n,
                          fw_ml_row *scratch);
void fw_ml_ranking_fini(fw_ml_ranking *r);

/** @brief True when the ranking holds both classes (the curve figures exist). */
bool fw_ml_ranking_defined(const fw_ml_ranking *r);

/**
 * @brief Area under the precision-recall curve as average precision:
 * sum over threshold steps of (recall gained) x (precision at that step),
 * the step-wise definition (scikit-learn's average_precision_score), not the
 * optimistic trapezoid. NaN when not defined.
 */
double fw_ml_auprc(const fw_ml_ranking *r);

/**
 * @brief Area under the ROC curve: the probability that a random fraud row
 * scores above a random legitimate one, a tie counting one half (the
 * Mann-Whitney statistic with mid-ranks). NaN when not defined.
 */
double fw_ml_roc_auc(const fw_ml_ranking *r);

/** The best recall at a false-positive-rate budget. */
typedef struct fw_ml_at_fpr {
    bool defined;            /* both classes present; else every figure is NaN */
    double max_fpr;          /* the budget asked for */
    double recall;           /* TP / positives at the threshold below */
    double fpr;              /* FP / negatives actually reached (<= max_fpr) */
    float threshold;         /* flag score >= threshold; above every score
                                when even the top step exceeds the budget */
    uint64_t tp, fp;
} fw_ml_at_fpr;

/**
 * @brief The lowest threshold whose false-positive rate stays within
 * @p max_fpr (at most floor(max_fpr x negatives) false positives), and the
 * recall it gives: the recall a fraud team gets for that alert budget.
 */
fw_ml_at_fpr fw_ml_recall_at_fpr(const fw_ml_ranking *r, double max_fpr);

/** Confusion counts at one threshold; ratios NaN where the denominator is 0. */
typedef struct fw_ml_confusion {
    float threshold;
    uint64_t tp, fp, fn, tn;
    double precision;        /* TP / (TP + FP): NaN when nothing is flagged */
    double recall;           /* TP / (TP + FN): NaN without positives */
    double fpr;              /* FP / (FP + TN): NaN without negatives */
} fw_ml_confusion;

/** @brief Flags rows with score >= @p threshold (no sorting needed). */
fw_ml_confusion fw_ml_at_threshold(const float *scores, const float *labels, size_t n,
                                   float threshold);

/** Every ranking figure at once (one sort). */
typedef struct fw_ml_summary {
    size_t n, positives, negatives;
    bool defined;            /* false: one class only; auprc, roc_auc and at_fpr are NaN */
    double auprc, roc_auc;
    fw_ml_at_fpr at_fpr;
} fw_ml_summary;

/** @brief Ranks @p n rows (one allocation) and fills @p out; @p max_fpr as in
 *  fw_ml_recall_at_fpr. @returns FW_OK or FW_ERR_NOMEM. */
fw_err fw_ml_summarize(const float *scores, const float *labels, size_t n, double max_fpr,
                       fw_ml_summary *out);

#endif
