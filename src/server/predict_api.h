/* predict_api.h — the bodies of `fraudwatch serve`'s HTTP API, without
 * sockets, so they can be unit-tested and fuzzed. The /predict request and
 * response are core/predict_wire.h's, shared with the remote-scoring client;
 * this adds the error and /health bodies:
 *
 *   POST /predict  {"transactions":[{"V1":-4.0,"Amount":1500.0},...]}
 *                  -> {"predictions":[0.97,...],"model":"<id>"}
 *   GET  /health   -> {"status":"ok","model":"<id>","features":N,
 *                      "refused":{"connections":0,...}}
 *   errors         -> {"error":"<what was wrong, where>"}  */
#ifndef FW_PREDICT_API_H
#define FW_PREDICT_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fw_err.h"
#include "fw_str.h"
#include "http_guard.h"
#include "model.h"
#include "predict_wire.h" /* the /predict bodies themselves */

/** @brief Appends {"error":"<message>"}. */
bool fw_predict_write_error(fw_buf *out, const char *message);

/** @brief Appends {"status":"ok","model":"<id>","features":N,"refused":{...}}:
 *  @p refused (FW_REFUSED__COUNT counters, by fw_refusal_name) or, when NULL,
 *  no "refused" member. */
bool fw_predict_write_health(fw_buf *out, const char *model_id, size_t nfeatures,
                             const uint64_t *refused);

#endif
