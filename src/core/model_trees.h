/* model_trees.h — a binary:logistic tree ensemble walked natively.
 *
 * XGBoost's predictor costs about a microsecond per row for the default
 * model, much of it around the walk (adapters, per-call setup, allocations).
 * These trees are read from the model's own JSON, laid out with each node's
 * children side by side, and summed in XGBoost's order, so the margins are
 * the same floats. fw_model checks that on probe rows before it uses them. */
#ifndef FW_MODEL_TREES_H
#define FW_MODEL_TREES_H

#include <stddef.h>

typedef struct fw_trees fw_trees;

/** @brief Reads the trees of XGBoost JSON model @p json (@p len bytes) with
 *  @p nfeatures columns. NULL, with the reason in @p why, for what this walker
 *  does not cover: objectives other than binary:logistic, several classes or
 *  targets, categorical splits, vector leaves, malformed trees. */
fw_trees *fw_trees_read(const char *json, size_t len, size_t nfeatures, char *why,
                        size_t why_size);

void fw_trees_free(fw_trees *t);

/** @brief Fraud probabilities of @p n rows (@p rows: n x nfeatures floats,
 *  NaN = missing) into @p out. */
void fw_trees_predict(const fw_trees *t, const float *rows, size_t n, float *out);

/** @brief Split thresholds of feature @p f, for probe rows: up to @p max into
 *  @p out. @returns how many. */
size_t fw_trees_thresholds(const fw_trees *t, size_t f, float *out, size_t max);

#endif
