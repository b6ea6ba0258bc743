/* model_trees.h — a binary:logistic tree ensemble walked natively.
 *
 * XGBoost's predictor costs about a microsecond per row for the default
 * model, much of it around the walk (adapters, per-call setup, allocations).
 * These trees are read from the model's own JSON, laid out with each node's
 * children side by side, and summed in XGBoost's order, so the margins are
 * the same floats. fw_model checks that on probe rows before it uses them. */
#ifndef FW_MODEL_TREES_H
#define FW_MODEL_TREES_H

#include <stdbool.h>
#include <stddef.h>

typedef struct fw_trees fw_trees;

/** @brief Reads the trees of XGBoost JSON model @p json (@p len bytes) with
 *  @p nfeatures columns. NULL, with the reason in @p why, for what this walker
 *  does not cover: objectives other than binary:logistic, several classes or
 *  targets, categorical splits, vector leaves, malformed trees. Up to
 *  @p table_bytes go to tables that make fw_trees_contribs cheap (each leaf's
 *  share for each way a row can reach it), tree by tree while they fit; the
 *  other trees are explained at the same cost as XGBoost's, with the same
 *  floats. */
fw_trees *fw_trees_read(const char *json, size_t len, size_t nfeatures, size_t table_bytes,
                        char *why, size_t why_size);

void fw_trees_free(fw_trees *t);

/** @brief Fraud probabilities of @p n rows (@p rows: n x nfeatures floats,
 *  NaN = missing) into @p out. */
void fw_trees_predict(const fw_trees *t, const float *rows, size_t n, float *out);

/** @brief Whether fw_trees_contribs can explain these trees: every tree has
 *  its covers (XGBoost's sum_hessian) and is at most 30 deep, over at most
 *  256 features. */
bool fw_trees_explains(const fw_trees *t);

/** @brief Exact contributions (path-dependent TreeSHAP) of @p n rows to their
 *  margins, as XGBoost's pred_contribs gives them: n x (nfeatures + 1) floats
 *  into @p out, the last of each row its bias. Only when fw_trees_explains. */
void fw_trees_contribs(const fw_trees *t, const float *rows, size_t n, float *out);

/** @brief Split thresholds of feature @p f, for probe rows: up to @p max into
 *  @p out. @returns how many. */
size_t fw_trees_thresholds(const fw_trees *t, size_t f, float *out, size_t max);

#endif
