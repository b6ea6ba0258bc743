/* predict_wire.h — the /predict wire format, one codec for both ends: the
 * remote-scoring client (runtime/remote_score.c) writes requests and reads
 * responses, `fraudwatch serve` (server/serve.c) parses requests and writes
 * responses. Seed 000's format:
 *
 *   request   {"transactions":[{"V1":-4,"Amount":1500,...},...]}
 *   response  {"predictions":[0.97,...],"model":"<id>"}
 *
 * Members of a transaction are matched by name to the model's features;
 * other members are ignored whatever their type, and a feature that is absent
 * or null is missing (NaN), as XGBoost expects. Pure: no sockets, no clock. */
#ifndef FW_PREDICT_WIRE_H
#define FW_PREDICT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fw_err.h"
#include "fw_str.h"
#include "ml_features.h"
#include "model.h"

#define FW_PREDICT_DEFAULT_MAX_BATCH 100000 /* transactions per request */

/* ---- request ---------------------------------------------------------------- */

/** @brief Writes finite @p v into @p out (32 bytes) as the shortest decimal
 *  that reads back as the same float: 3.2f is "3.2", not the
 *  "3.2000000476837158" its double prints; plain notation for exponents
 *  -7..20, else "1e-8". @returns the length (NUL not counted). */
size_t fw_predict_format_float(float v, char *out);

/** @brief Appends the request body for @p n rows of FW_F__COUNT floats: one
 *  JSON object a row, its finite features by fw_feature_name (NaN and
 *  infinities omitted: the service imputes them), each with
 *  fw_predict_format_float. @returns false when @p out overflowed. */
bool fw_predict_write_request(fw_buf *out, const float *rows, size_t n);

/** The feature matrix of one request, ready for fw_model_predict. */
typedef struct fw_predict_batch {
    float *rows;      /**< n x nfeatures, row-major in the model's column order; NaN = missing */
    size_t n;         /**< transactions, in request order */
    size_t nfeatures; /**< fw_model_nfeatures of the model it was filled for */
} fw_predict_batch;

/**
 * @brief Parses the /predict body @p body (@p len bytes, need not be
 * NUL-terminated) and fills @p out with one row per transaction for model @p m.
 * The body is parsed into a DOM (json.h) in an arena freed before returning;
 * only the model's feature names are read, so it may run outside the lock
 * that serializes scoring.
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

/* ---- response ----------------------------------------------------------------- */

/** @brief Appends {"predictions":[p,...],"model":"<id>"}: each p with %.9g, enough
 *  to read back the same float; a non-finite p (never from a sane model) as null. */
bool fw_predict_write_predictions(fw_buf *out, const float *p, size_t n, const char *model_id);

/**
 * @brief Reads the response @p body (@p len bytes, need not be NUL-terminated;
 * NULL with 0) into @p out: exactly @p n probabilities in [0,1].
 *
 * @param a parse arena, reused between calls: grown here when the body needs
 *        more (fw_json_arena_bound), reset first; the caller finis it.
 * @param first index of the response's first row in the whole batch, for
 *        messages ("response: prediction 1001 is 1.5, not a probability in [0,1]").
 * @returns false with @p errstr saying what was wrong, each message starting
 *          "response: ".
 */
bool fw_predict_read_predictions(const char *body, size_t len, fw_arena *a, float *out,
                                 size_t n, size_t first, char *errstr, size_t errstr_size);

#endif
