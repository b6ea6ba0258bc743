/* replay.h — labelled NDJSON through the pipeline of `run --input`, as eval
 * and train drive it: one pipeline per replay, the first dead letters shown
 * with file and line and every one counted, late records counted. The caller
 * owns the input (eval: a corpus in memory, train: a stream) and what it
 * makes of the alerts and the feature vectors. */
#ifndef FW_REPLAY_H
#define FW_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"
#include "pipeline.h"

typedef struct fw_replay {
    fw_pipeline *p;           /* for the engine's feature sink and the stats */
    fw_pipeline_out po;
    fw_source_ref src;
    const char *cmd;          /* "eval", "train": the subcommand named in messages */
    bool scored;              /* a model was given: ml_score's queue is flushed at the end */
    bool show_dead_letters;   /* default true; false: counted only (repeat replays) */
    void (*alert)(void *opaque, const fw_alert *a); /* NULL: alerts are dropped */
    void *opaque;
    uint64_t dead_letters, late;
} fw_replay;

/** @brief A new pipeline under @p pc that scores with @p model (not owned;
 *  NULL: ml_score stays off). @p cmd and @p file must outlive the replay, and
 *  @p r must not move: the pipeline's callbacks point at it.
 *  @returns FW_OK, or an error described in @p errstr. */
fw_err fw_replay_init(fw_replay *r, const char *cmd, const char *file,
                      const fw_pipeline_conf *pc, fw_model *model, char *errstr,
                      size_t errstr_size);

/** @brief Runs the record on line @p line of the input through the pipeline. */
void fw_replay_record(fw_replay *r, const char *rec, size_t len, int64_t line);

/** @brief End of input: releases every buffered transaction, closes every
 *  window, scores what ml_score still holds, and says how many dead letters
 *  went unshown. */
void fw_replay_finish(fw_replay *r);

void fw_replay_fini(fw_replay *r);

#endif
