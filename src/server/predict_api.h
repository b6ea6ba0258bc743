/* predict_api.h — the bodies of `fraudwatch serve`'s HTTP API, without
 * sockets, so they can be unit-tested and fuzzed:
 *
 *   POST /predict  {"transactions":[{"V1":-4.0,"Amount":1500.0},...]}
 *                  -> {"predictions":[0.97,...],"model":"<id>"}
 *   GET  /health   -> {"status":"ok","model":"<id>","features":N,
 *                      "refused":{"connections":0,...}}
 *   errors         -> {"error":"<what was wrong, where>"}
 *
 * Members of a transaction are matched by name to the model's features;
 * other members are ignored whatever their type, and a feature that is absent
 * or null is missing (NaN), as XGBoost expects. Parsing only reads the model's
 * feature names, so it may run outside the lock that serializes scoring. */
#ifndef FW_PREDICT_API_H
#define FW_PREDICT_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fw_err.h"
#include "fw_str.h"
#include "http_guard.h"
#include "model.h"

#define FW_PREDICT_DEFAULT_MAX_BATCH 100000 /* transactions per request */

/** The feature matrix of one request, ready for fw_model_predict. */
typedef struct fw_predict_batch {
    float *rows;      /**< n x nfeatures, row-major in the model's column order; NaN = missing */
    size_t n;         /**< transactions, in request order */
    size_t nfeatures; /**< fw_model_nfeatures of the model it was filled for */
} fw_predict_batch;

/**
 * @brief Parses the /predict body @p body (@p len bytes, need not be
 * NUL-terminated) and fills @p out with one row per transaction for model @p m.
 *
 * @param max_batch most transactions accepted (more: FW_ERR_LIMIT).
 * @param errstr on failure, the message for the client, e.g.
 *        "transactions[0].V1: expected a number or null, got \"abc\" (line 1, column 25)".
 * @returns FW_OK (free @p out with fw_predict_batch_free; an empty array gives
 *          n = 0 and rows = NULL); FW_ERR_INVALID for a malformed body (HTTP
 *          400); FW_ERR_LIMIT for too many transactions (400); FW_ERR_NOMEM.
 */
fw_err fw_predict_parse(const fw_model *m, const char *body, size_t len, size_t max_batch,
                        fw_predict_batch *out, char *errstr, size_t errstr_size);

/** @brief Frees the rows of @p b and zeroes it; safe on a zeroed batch. */
void fw_predict_batch_free(fw_predict_batch *b);

/** @brief Appends {"predictions":[p,...],"model":"<id>"}: each p with %.9g, enough
 *  to read back the same float; a non-finite p (never from a sane model) as null. */
bool fw_predict_write_predictions(fw_buf *out, const float *p, size_t n, const char *model_id);

/** @brief Appends {"error":"<message>"}. */
bool fw_predict_write_error(fw_buf *out, const char *message);

/** @brief Appends {"status":"ok","model":"<id>","features":N,"refused":{...}}:
 *  @p refused (FW_REFUSED__COUNT counters, by fw_refusal_name) or, when NULL,
 *  no "refused" member. */
bool fw_predict_write_health(fw_buf *out, const char *model_id, size_t nfeatures,
                             const uint64_t *refused);

#endif
