/* scorer.h — who scores ml_score's batches for a runner: a local XGBoost
 * model (MODEL_PATH), reloaded when its file changes, or a remote /predict
 * service (API_ENDPOINT_URL), asynchronously with a bounded wait. The runners
 * (file and Kafka) attach each pipeline they create, call fw_scorer_poll
 * after each batch of input and fw_scorer_drain before they commit, so every
 * alert rides in the transaction of its input. */
#ifndef FW_SCORER_H
#define FW_SCORER_H

#include <stdbool.h>
#include <stdint.h>
#include "pipeline.h"
#include "remote_score.h"

typedef struct fw_scorer_conf {
    const char *model_path;        /* MODEL_PATH / --model; NULL: none */
    const char *endpoint;          /* API_ENDPOINT_URL / --api-endpoint; NULL: none */
    fw_remote_conf remote;
    int reload_check_ms;           /* model file checked for changes this often (1000) */
} fw_scorer_conf;

typedef struct fw_scorer fw_scorer;

/** @brief NULL (and no error) when neither a model nor an endpoint is set;
 *  NULL with @p errstr set when the model cannot be loaded or the endpoint
 *  is invalid. */
fw_scorer *fw_scorer_new(const fw_scorer_conf *c, char *errstr, size_t errstr_size);
void fw_scorer_destroy(fw_scorer *s);

/** @brief Turns ml_score on in @p p, gives it the current model and keeps
 *  it in the list of pipelines this scorer serves. */
fw_err fw_scorer_attach(fw_scorer *s, fw_pipeline *p, char *errstr, size_t errstr_size);

/** @brief Before @p p is destroyed: waits for its requests in flight and
 *  drops their results (its input will be read again by whoever owns it). */
void fw_scorer_detach(fw_scorer *s, fw_pipeline *p);

/** @brief After a batch of input: scores what the pipelines queued (local),
 *  or sends it and emits whatever came back already (remote). */
void fw_scorer_poll(fw_scorer *s, const fw_pipeline_out *out);

/** @brief Before a commit: everything queued or sent is scored (or has
 *  failed, counted) and its alerts are out. Remote: waits, at most the
 *  timeouts and retries of the requests in flight. */
void fw_scorer_drain(fw_scorer *s, const fw_pipeline_out *out);

/** @brief The transaction was aborted: waits for the requests in flight and
 *  drops their results; queued rows are left to the pipelines' reset. */
void fw_scorer_discard(fw_scorer *s);

/** @brief Checks the model file at most every reload_check_ms; a changed
 *  file is loaded and, if every attached pipeline accepts it, replaces the
 *  model (what was queued is scored by the old one first, with @p out).
 *  A model that fails to load is reported on stderr and the old one keeps
 *  scoring. @returns true when a new model was installed. */
bool fw_scorer_maybe_reload(fw_scorer *s, int64_t now_ms, const fw_pipeline_out *out);

/** @brief "model NAME@HASH" or "remote URL", for logs. */
const char *fw_scorer_describe(const fw_scorer *s);

typedef struct fw_scorer_stats {
    uint64_t reloads, reload_failures;
    fw_remote_stats remote;        /* zero when scoring locally */
} fw_scorer_stats;

void fw_scorer_stats_get(const fw_scorer *s, fw_scorer_stats *out);

#endif
