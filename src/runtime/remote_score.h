/* remote_score.h — scoring feature vectors with a remote model service.
 *
 * Seed 000 POSTs {"transactions":[{...}]} to $API_ENDPOINT_URL/predict and
 * reads {"predictions":[p,...]}. This client does the same in batches, off the
 * caller's thread: one worker runs every request on a libcurl multi handle
 * (several concurrently, over kept-alive connections), retries 5xx, timeouts
 * and connection errors with exponential backoff, and stops trying for a while
 * once a batch failed every attempt, so a dead service costs one timeout, not
 * one per batch. Results come back in submission order.
 *
 * Threading: submit and next are called from one thread (or serialized by the
 * caller); stats_get and inflight from any thread. */
#ifndef FW_REMOTE_SCORE_H
#define FW_REMOTE_SCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ml_features.h"
#include "fw_err.h"

typedef struct fw_remote_conf {
    const char *endpoint;   /* API_ENDPOINT_URL, e.g. http://localhost:8000; "/predict" is
                               appended unless the URL's path already ends with /predict */
    int timeout_ms;         /* per attempt, whole request (10000, as seed 000) */
    int connect_timeout_ms; /* (2000) */
    int retries;            /* further attempts after a failure (2) */
    int backoff_ms;         /* before the first retry, doubled each time (200) */
    int max_inflight;       /* batches submitted and not yet completed (4); also the
                               most requests (connections) open at once */
    int down_ms;            /* after a batch failed every attempt, new batches fail at
                               once for this long (5000); 0: never */
    size_t max_rows_per_request; /* larger batches are split into several requests (1000) */
    const char *token;      /* sent as "Authorization: Bearer TOKEN" (serve --token); NULL:
                               none. Visible ASCII only: the caller checks it */
} fw_remote_conf;

void fw_remote_conf_defaults(fw_remote_conf *c);

typedef struct fw_remote_stats {
    uint64_t batches;        /* submitted */
    uint64_t rows;           /* in submitted batches */
    uint64_t requests;       /* HTTP attempts started, retries included */
    uint64_t ok_batches;
    uint64_t failed_batches; /* fast_failed included */
    uint64_t failed_rows;
    uint64_t retries;        /* attempts after a failed one */
    uint64_t timeouts;       /* attempts that timed out (connecting or whole) */
    uint64_t fast_failed;    /* batches failed at once while the service was considered down */
    double last_latency_ms;  /* of the last HTTP attempt that got a response */
    double last_batch_ms;    /* submit to completion of the last successful batch */
    bool down;               /* the service is considered down now */
    char last_error[256];    /* of the last failed batch; "" when none */
} fw_remote_stats;

typedef struct fw_remote fw_remote;

/** @brief Starts the worker. Validates @p c: the endpoint must be an http or
 *  https URL with a host; the limits must be positive (retries, backoff_ms and
 *  down_ms may be 0). @returns NULL with the problem in @p errstr. */
fw_remote *fw_remote_new(const fw_remote_conf *c, char *errstr, size_t errstr_size);

/** @brief Cancels the requests in flight at once (does not wait for their
 *  timeouts), joins the worker, frees everything. NULL is fine. */
void fw_remote_destroy(fw_remote *r);

/** @brief The URL requests go to, "/predict" appended. */
const char *fw_remote_url(const fw_remote *r);

/**
 * @brief Submits one batch: @p n rows of FW_F__COUNT floats, serialized now
 * into the request bodies (so @p rows may be reused on return). Each row is a
 * JSON object of its finite features by fw_feature_name, NaN (missing) and
 * infinities omitted, each in the shortest decimal that reads back as the
 * same float, e.g. {"V1":-4,"Amount":1500,"amount_vs_avg":3.2}.
 * @p tag comes back with the result.
 *
 * Blocks while max_inflight batches are still in progress. While the service
 * is considered down the batch is accepted but fails at once (its result says
 * why). @returns FW_ERR_INVALID for no rows, FW_ERR_LIMIT for a request body
 * past 64 MiB, FW_ERR_NOMEM; the reason in @p errstr. The batch is not queued then.
 */
fw_err fw_remote_submit(fw_remote *r, void *tag, const float *rows, size_t n, char *errstr,
                        size_t errstr_size);

/**
 * @brief The next completed batch IN SUBMISSION ORDER. Waits up to @p wait_ms
 * (0: poll; -1: until the oldest batch completes, which its timeouts and
 * retries bound; returns at once when nothing is submitted).
 *
 * @param probs @p n probabilities in [0,1], valid until the next call; NULL
 *        when the batch failed, and then @p error says why, e.g.
 *        "POST http://x/predict: timeout after 10000 ms (3 attempts)",
 *        "POST http://x/predict: HTTP 500 (3 attempts): <first 200 bytes of body>",
 *        "POST http://x/predict: response: expected 1000 predictions, got 999".
 *        @p error is NULL on success, else valid until the next call.
 * @returns false when nothing completed in time (outputs untouched).
 */
bool fw_remote_next(fw_remote *r, int wait_ms, void **tag, const float **probs, size_t *n,
                    const char **error);

/** @brief Batches submitted and not yet returned by fw_remote_next. */
size_t fw_remote_inflight(const fw_remote *r);

/** @brief A consistent snapshot of the counters (thread-safe). */
void fw_remote_stats_get(const fw_remote *r, fw_remote_stats *out);

#endif
