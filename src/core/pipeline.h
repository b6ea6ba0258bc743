/* pipeline.h — one record's way through the engine, shared by file mode,
 * Kafka mode, the evaluator and the benchmarks: decode the payload, run the
 * detectors, serialize each alert, or hand back a dead letter. No I/O. */
#ifndef FW_PIPELINE_H
#define FW_PIPELINE_H

#include <stdint.h>
#include "engine.h"

typedef enum fw_input_format {
    FW_INPUT_JSON = 0,
    FW_INPUT_SEMICOLON, /* seed 003: <timestamp>;<origin>;<target>;<amount> */
    FW_INPUT_CSV,       /* RFC 4180 lines named by a header (csv_header, or the first) */
} fw_input_format;

/** Where a record came from: Kafka coordinates or a file line. */
typedef struct fw_source_ref {
    const char *topic;   /* NULL in file mode */
    int32_t partition;
    int64_t offset;
    const char *file;    /* NULL in Kafka mode */
    int64_t line;        /* 1-based */
    /* What the record's event time may not run ahead of by more than
     * time.max_future_skew: the Kafka message timestamp, or the wall clock the
     * runtime read when the message had none. NULL name: no reference (file
     * mode), the record's neighbours are checked instead (time_guard.h). */
    const char *ref_time_name;  /* "the record's Kafka timestamp", "the wall clock" */
    int64_t ref_time_ms;
    /* The record's event time was checked upstream (a repartition record:
     * the input stage accepted it, or routed it here by account): neither
     * max_future_skew nor the time guard applies again. Such a record is
     * JSON in our spelling (fw_txn_write_json), whatever the input format. */
    bool checked;
} fw_source_ref;

typedef struct fw_dead_letter {
    fw_str payload;      /* the original bytes */
    const char *field;   /* the field at fault, or NULL */
    const char *reason;
    const fw_source_ref *src;
} fw_dead_letter;

/** A record that arrived after the allowed lateness: not applied. */
typedef struct fw_late_record {
    fw_str payload;      /* the original bytes */
    int64_t event_time;
    int64_t watermark;   /* the watermark it was behind */
    const fw_source_ref *src;
} fw_late_record;

typedef struct fw_pipeline_out {
    void *opaque;
    /** An alert, serialized as one JSON object; @p key is the entity id. */
    void (*alert)(void *opaque, const fw_alert *alert, fw_str key, fw_str json);
    void (*dead_letter)(void *opaque, const fw_dead_letter *dl);
    /** Optional (NULL: late records are only counted). */
    void (*late)(void *opaque, const fw_late_record *lr);
    /** Optional: each transaction the engine took (not a dead letter, a
     *  duplicate or late), decoded, valid during the call; what the input
     *  stage sends on to the later ones (stage.h). */
    void (*accepted)(void *opaque, const fw_txn *t);
    /** Optional: asked for each decoded transaction that passed its time
     *  checks, before the engine takes it. False: it belongs to another
     *  partition's task, which the caller sent it to; this engine does not
     *  take it (not counted, not deduplicated here). */
    bool (*route)(void *opaque, const fw_txn *t);
} fw_pipeline_out;

typedef struct fw_pipeline_conf {
    fw_rules rules;
    fw_input_format format;
    size_t max_record_bytes;  /* 0: FW_TXN_DEFAULT_MAX_BYTES */
    const fw_profiles *profiles; /* shared enrichment table, or NULL; outlives the pipeline */
    /* Another team's spelling of JSON records (schema.h), or NULL for ours;
     * shared, read-only, outlives the pipeline. */
    const struct fw_schema *schema;
    /* FW_INPUT_CSV: the column names; NULL: the first record processed is the
     * header line (file mode). Kafka mode needs it: a partition has no first line. */
    const char *csv_header;
    /* Extra top-level fields to capture (txn.h: device_id, ip, ...), those the
     * loaded rules reference; NULL or empty: none, at no cost. Shared,
     * read-only, outlives the pipeline. Not for semicolon records (no names). */
    const fw_txn_extras *extras;
    /* Rules written in the rule language (lang_rules.h), or NULL: run beside
     * the built-ins; their extra fields are captured when @c extras is NULL.
     * Shared, read-only, outlives the pipeline. */
    const struct fw_lang_rules *lang;
} fw_pipeline_conf;

typedef struct fw_pipeline_stats {
    uint64_t records;
    uint64_t dead_letters;
    uint64_t alerts;
    uint64_t alert_overflows; /* alerts larger than the output buffer limit */
    uint64_t future;          /* dead letters: event time beyond max_future_skew */
    uint64_t time_jumps;      /* dead letters: a jump later records contradicted */
    uint64_t duplicates;      /* dead letters: transaction id seen before */
} fw_pipeline_stats;

typedef struct fw_pipeline fw_pipeline;

fw_pipeline *fw_pipeline_new(const fw_pipeline_conf *conf, char *errstr, size_t errstr_size);
void fw_pipeline_destroy(fw_pipeline *p);

/** @brief Processes one record. Outputs are delivered through @p out before
 *  this returns; their memory (and the record's scratch) is reused by the
 *  next call, so nothing may keep pointers into it. */
void fw_pipeline_process(fw_pipeline *p, const char *payload, size_t len,
                         const fw_source_ref *src, const fw_pipeline_out *out);

/** @brief Raises the watermark (idle partition; INT64_MAX at the end of the
 *  input first decides the records the time guard holds, then releases every
 *  buffered transaction and closes every window). */
void fw_pipeline_advance(fw_pipeline *p, int64_t watermark, const fw_pipeline_out *out);

/** @brief ml_score with the engine's model (fw_engine_set_model): scores every
 *  queued transaction, one model call per batch, and emits the alerts. */
void fw_pipeline_ml_flush(fw_pipeline *p, const fw_pipeline_out *out);

/** @brief ml_score scored elsewhere: emits the alerts of a batch taken with
 *  fw_engine_ml_take (see fw_engine_ml_complete). */
void fw_pipeline_ml_complete(fw_pipeline *p, fw_ml_batch *b, const float *probs,
                             const char *model, const fw_pipeline_out *out);

/** @brief A live rule change between two records: fw_engine_set_rules. */
fw_err fw_pipeline_set_rules(fw_pipeline *p, const fw_rules *rules, char *errstr,
                             size_t errstr_size);

/**
 * @brief A live change of the language rules between two records
 * (fw_engine_set_lang: state of unchanged shapes kept). The extra fields the
 * decoder captures become the ones it had plus the new set's (a transaction
 * decoded before the change lacks a field only the new set uses: it is
 * missing for it). @p rs is shared and outlives the pipeline's use of it.
 * @returns FW_OK; FW_ERR_INVALID when the fields cannot be captured.
 */
fw_err fw_pipeline_set_lang(fw_pipeline *p, const struct fw_lang_rules *rs, char *errstr,
                            size_t errstr_size);

/** @brief fw_engine_set_stage on the pipeline's engine: from now on it runs
 *  stage @p s as partition @p partition of @p partitions. */
void fw_pipeline_set_stage(fw_pipeline *p, const fw_stage *s, const char *const *colocated,
                           int32_t partition, int32_t partitions);

/** @brief fw_engine_cap_watermark on the pipeline's engine (@p out NULL:
 *  only sets it). */
void fw_pipeline_cap_watermark(fw_pipeline *p, int64_t cap, const fw_pipeline_out *out);

/** @brief The partition's engine, for its changelog (changes and restore). */
fw_engine *fw_pipeline_engine(fw_pipeline *p);

/** @brief The account_id of the record last given to fw_pipeline_process,
 *  FW_STR_NULL when it did not decode or had none. Valid until the next call
 *  (it points into the record or the pipeline's scratch): the Kafka runner
 *  compares it with the record's key. */
fw_str fw_pipeline_last_account(const fw_pipeline *p);

const fw_pipeline_stats *fw_pipeline_stats_get(const fw_pipeline *p);
const fw_engine_stats *fw_pipeline_engine_stats(const fw_pipeline *p);

#endif
