/* model.h — a trained XGBoost model: load, score, explain, and train.
 *
 * The model file is XGBoost's own JSON format; its feature names (stored in
 * the model by fraudwatch train) say which column is which. Scoring takes a
 * dense row-major float matrix in the model's column order, NaN for a missing
 * value, so the engine, `fraudwatch serve` and `fraudwatch train` all score
 * through the same call. Not thread-safe: callers serialize calls on one model
 * (XGBoost's output buffers belong to the booster). */
#ifndef FW_MODEL_H
#define FW_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "fw_err.h"

typedef struct fw_model fw_model;

#define FW_MODEL_MAX_FEATURES 256
#define FW_MODEL_MAX_BYTES (256u << 20)  /* a model file larger than this is refused */

/** @brief Loads an XGBoost JSON model from @p path, to score with one thread
 *  (XGBoost's nthread 1). Fails (with the reason in @p errstr) for an
 *  unreadable file, a file XGBoost cannot read, a model without feature
 *  names, or more than FW_MODEL_MAX_FEATURES features. */
fw_model *fw_model_load(const char *path, char *errstr, size_t errstr_size);

/** @brief Like fw_model_load from memory; @p what names it in messages. */
fw_model *fw_model_load_buffer(const void *buf, size_t len, const char *what, char *errstr,
                               size_t errstr_size);

/** @brief Frees @p m; NULL is a no-op. */
void fw_model_free(fw_model *m);

size_t fw_model_nfeatures(const fw_model *m);
const char *fw_model_feature_name(const fw_model *m, size_t i);

/** @brief The model's column named @p name (exact match), or -1. */
int fw_model_column(const fw_model *m, const char *name, size_t len);

/** @brief Short identity of the model: "<file name>@<16 hex of its content
 *  hash>", carried by alerts so an analyst knows which model scored. */
const char *fw_model_id(const fw_model *m);

/** @brief NULL when fw_model_predict walks the trees itself (model_trees.h),
 *  else why XGBoost scores instead ("objective is not binary:logistic"). */
const char *fw_model_walker_why(const fw_model *m);

/** @brief NULL when fw_model_contribs computes exact contributions itself
 *  (model_trees.h), else why XGBoost does. */
const char *fw_model_explain_why(const fw_model *m);

/** @brief Fraud probabilities of @p n rows (@p rows: n x nfeatures floats,
 *  NaN = missing) into @p out: the native walker's, the same floats as
 *  XGBoost's, or one XGBoost call for the whole batch. */
fw_err fw_model_predict(fw_model *m, const float *rows, size_t n, float *out, char *errstr,
                        size_t errstr_size);

/** @brief Per-feature contributions (in log-odds) of @p n rows: @p out
 *  receives n x (nfeatures + 1) floats, the last of each row being the bias.
 *  Exact TreeSHAP, or with @p approx the per-path attribution (Saabas), which
 *  is several times cheaper and mostly names the same top features. Costlier
 *  than predict either way: the engine calls it for alerting rows only. */
fw_err fw_model_contribs(fw_model *m, const float *rows, size_t n, bool approx, float *out,
                         char *errstr, size_t errstr_size);

/** Training parameters of fw_model_train. */
typedef struct fw_train_params {
    int rounds;               /* boosting rounds (100) */
    int max_depth;            /* (4) */
    double eta;               /* learning rate (0.2) */
    double scale_pos_weight;  /* class imbalance: weight of a fraud row; 0: negatives/positives */
    int threads;              /* 0: XGBoost's default */
    uint64_t seed;
} fw_train_params;

void fw_train_params_defaults(fw_train_params *p);

/** @brief Trains a binary:logistic gradient-boosted tree model on @p n rows of
 *  @p nfeatures columns named @p names, labels 0/1 in @p labels.
 *  @p progress, when not NULL, is called after each round. */
fw_model *fw_model_train(const float *rows, const float *labels, size_t n, size_t nfeatures,
                         const char *const *names, const fw_train_params *p,
                         void (*progress)(void *opaque, int round, int rounds), void *opaque,
                         char *errstr, size_t errstr_size);

/** @brief Saves @p m as XGBoost JSON at @p path (written to a temporary file
 *  and renamed, so a running engine never reads half a model). */
fw_err fw_model_save(fw_model *m, const char *path, char *errstr, size_t errstr_size);

#endif
