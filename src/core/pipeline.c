/* pipeline.c — decode → detect → serialize, with no allocation per record:
 * the output buffers and the scratch arena are reused. */
#include "pipeline.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define FW_ALERT_MAX_BYTES (4u << 20)   /* one alert document */

struct fw_pipeline {
    fw_pipeline_conf conf;
    fw_engine *engine;
    fw_arena scratch;
    fw_buf alert_json;   /* the alert being emitted */
    fw_buf id_scratch;   /* canonical bytes for alert ids */
    char synth_id[96];   /* id of a semicolon record */
    char reason[300];
    fw_pipeline_stats stats;
    const fw_pipeline_out *out; /* valid during fw_pipeline_process */
    const fw_source_ref *src;   /* of the record being processed */
    fw_str payload;
    fw_str account_id;          /* of the record last processed; into it or scratch */
    fw_engine_out engine_out;
};

static void on_alert(void *opaque, const fw_alert *a);
static void on_late(void *opaque, const fw_txn *t, int64_t watermark);

fw_pipeline *fw_pipeline_new(const fw_pipeline_conf *conf, char *errstr, size_t errstr_size) {
    fw_pipeline *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(errstr, errstr_size, "pipeline: out of memory");
        return NULL;
    }
    p->conf = *conf;
    if (!p->conf.max_record_bytes)
        p->conf.max_record_bytes = FW_TXN_DEFAULT_MAX_BYTES;
    fw_buf_init(&p->alert_json, FW_ALERT_MAX_BYTES);
    fw_buf_init(&p->id_scratch, FW_ALERT_MAX_BYTES);
    /* Unescaped strings never exceed the record they come from. */
    if (!fw_arena_init(&p->scratch, p->conf.max_record_bytes + 64)) {
        snprintf(errstr, errstr_size, "pipeline: out of memory");
        goto fail;
    }
    p->engine = fw_engine_new(&p->conf.rules, errstr, errstr_size);
    if (!p->engine)
        goto fail;
    fw_engine_set_profiles(p->engine, p->conf.profiles);
    p->engine_out = (fw_engine_out){ .opaque = p, .alert = on_alert, .late = on_late };
    return p;
fail:
    fw_pipeline_destroy(p);
    return NULL;
}

void fw_pipeline_destroy(fw_pipeline *p) {
    if (!p)
        return;
    fw_engine_destroy(p->engine);
    fw_arena_fini(&p->scratch);
    fw_buf_fini(&p->alert_json);
    fw_buf_fini(&p->id_scratch);
    free(p);
}

static void on_alert(void *opaque, const fw_alert *a) {
    fw_pipeline *p = opaque;
    fw_buf_reset(&p->alert_json);
    if (!fw_alert_write_json(a, &p->id_scratch, &p->alert_json)) {
        p->stats.alert_overflows++; /* counted, and the alert is still not lost: */
        fw_buf_reset(&p->alert_json); /* emit it without the embedded transaction */
        fw_alert slim = *a;
        fw_txn empty = { .transaction_id = a->txn->transaction_id, .ts_ms = a->txn->ts_ms,
                         .amount = a->txn->amount, .amount_raw = a->txn->amount_raw };
        slim.txn = &empty;
        slim.nevidence = a->nevidence > 1000 ? 1000 : a->nevidence;
        fw_alert_write_json(&slim, &p->id_scratch, &p->alert_json);
    }
    p->stats.alerts++;
    p->out->alert(p->out->opaque, a, a->entity_id,
                  (fw_str){ .ptr = p->alert_json.data, .len = p->alert_json.len });
}

static void on_late(void *opaque, const fw_txn *t, int64_t watermark) {
    fw_pipeline *p = opaque;
    if (!p->out->late)
        return;
    fw_late_record lr = { .payload = p->payload, .event_time = t->ts_ms,
                          .watermark = watermark, .src = p->src };
    p->out->late(p->out->opaque, &lr);
}

void fw_pipeline_advance(fw_pipeline *p, int64_t watermark, const fw_pipeline_out *out) {
    p->out = out;
    fw_engine_advance(p->engine, watermark, &p->engine_out);
}

fw_engine *fw_pipeline_engine(fw_pipeline *p) { return p->engine; }

void fw_pipeline_ml_flush(fw_pipeline *p, const fw_pipeline_out *out) {
    p->out = out;
    fw_engine_ml_flush(p->engine, &p->engine_out);
}

void fw_pipeline_ml_complete(fw_pipeline *p, fw_ml_batch *b, const float *probs,
                             const char *model, const fw_pipeline_out *out) {
    p->out = out;
    fw_engine_ml_complete(p->engine, b, probs, NULL, model, &p->engine_out);
}

void fw_pipeline_process(fw_pipeline *p, const char *payload, size_t len,
                         const fw_source_ref *src, const fw_pipeline_out *out) {
    fw_txn txn;
    fw_decode_error derr;
    fw_err err;
    p->stats.records++;
    p->out = out;
    p->account_id = FW_STR_NULL;
    fw_arena_reset(&p->scratch); /* nothing outlives the previous record's call */
    if (p->conf.format == FW_INPUT_SEMICOLON) {
        int n = src->topic
                    ? snprintf(p->synth_id, sizeof(p->synth_id), "%s-%" PRId32 "-%" PRId64,
                               src->topic, src->partition, src->offset)
                    : snprintf(p->synth_id, sizeof(p->synth_id), "line-%" PRId64, src->line);
        fw_str id = { .ptr = p->synth_id,
                      .len = n < (int)sizeof(p->synth_id) ? (size_t)n : sizeof(p->synth_id) - 1 };
        err = fw_txn_decode_semicolon(payload, len, id, p->conf.max_record_bytes, &txn, &derr);
    } else {
        err = fw_txn_decode_json(payload, len, &p->scratch, p->conf.max_record_bytes, &txn,
                                 &derr);
    }
    if (err != FW_OK) {
        p->stats.dead_letters++;
        fw_dead_letter dl = { .payload = { .ptr = payload, .len = len },
                              .field = derr.field, .reason = derr.reason, .src = src };
        out->dead_letter(out->opaque, &dl);
        return;
    }
    p->src = src;
    p->payload = (fw_str){ .ptr = payload, .len = len };
    p->account_id = txn.account_id;
    fw_engine_process(p->engine, &txn, &p->engine_out);
}

fw_str fw_pipeline_last_account(const fw_pipeline *p) { return p->account_id; }

const fw_pipeline_stats *fw_pipeline_stats_get(const fw_pipeline *p) { return &p->stats; }

const fw_engine_stats *fw_pipeline_engine_stats(const fw_pipeline *p) {
    return fw_engine_stats_get(p->engine);
}
