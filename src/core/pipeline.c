/* pipeline.c — decode → check the event time → detect → serialize, with no
 * allocation per record: the output buffers, the scratch arenas and the time
 * guard's slots are reused. */
#include "pipeline.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_time.h"
#include "rules_file.h"
#include "lang_rules.h"
#include "time_guard.h"

/* A record the time guard holds: its bytes and where it came from. */
typedef struct held_rec {
    char *data;
    size_t len, cap;
    bool lost;           /* could not be copied: already a dead letter */
    fw_source_ref src;
} held_rec;

#define FW_ALERT_MAX_BYTES (4u << 20)   /* one alert document */

struct fw_pipeline {
    fw_pipeline_conf conf;
    fw_engine *engine;
    fw_txn_extras lang_extras; /* the extra fields the language rules use */
    bool general_json;   /* JSON through fw_txn_decode_json_ex: a mapping or extra fields */
    fw_txn_shape shape;  /* the producers' field order, learned (our spelling only) */
    fw_arena scratch;
    fw_buf alert_json;   /* the alert being emitted */
    fw_buf id_scratch;   /* canonical bytes for alert ids */
    char synth_id[96];   /* id of a semicolon record */
    char reason[512];
    fw_pipeline_stats stats;
    const fw_pipeline_out *out; /* valid during fw_pipeline_process */
    const fw_source_ref *src;   /* of the record being processed */
    fw_str payload;
    fw_str account_id;          /* of the record last processed; into it or scratch */
    fw_engine_out engine_out;
    /* File mode's time guard (no reference time): held records and the
     * arena and synthetic id they are decoded with when accepted. */
    fw_time_guard guard;
    held_rec held[FW_TIME_GUARD_MAX_HELD];
    fw_arena held_scratch;
    char held_synth_id[96];
    /* CSV input: the compiled header; until it is read (file mode's first
     * line) csv_state is 0; -1 when the header was refused (then every record
     * is a dead letter giving csv_error). */
    int csv_state;
    char csv_error[300];
    fw_csv_columns csv;
};

static void on_alert(void *opaque, const fw_alert *a);
static void on_late(void *opaque, const fw_txn *t, int64_t watermark);
static void on_duplicate(void *opaque, const fw_txn *t, const fw_txn_pos *first);

fw_pipeline *fw_pipeline_new(const fw_pipeline_conf *conf, char *errstr, size_t errstr_size) {
    fw_pipeline *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(errstr, errstr_size, "pipeline: out of memory");
        return NULL;
    }
    p->conf = *conf;
    if (p->conf.lang && p->conf.lang->nextra && !p->conf.extras) {
        /* Captured in the language rules' slot order, so slot i is extra[i]. */
        char why[300];
        if (fw_txn_extras_init(&p->lang_extras, (const char *const *)p->conf.lang->extra_names,
                               p->conf.lang->nextra, why, sizeof(why)) != FW_OK) {
            snprintf(errstr, errstr_size, "language rules: extra fields: %s", why);
            free(p);
            return NULL;
        }
        p->conf.extras = &p->lang_extras;
    }
    if (p->conf.extras && !p->conf.extras->n)
        p->conf.extras = NULL; /* the empty set: the decoders without extras */
    p->general_json = p->conf.schema || p->conf.extras;
    if (!p->conf.max_record_bytes)
        p->conf.max_record_bytes = FW_TXN_DEFAULT_MAX_BYTES;
    fw_buf_init(&p->alert_json, FW_ALERT_MAX_BYTES);
    fw_buf_init(&p->id_scratch, FW_ALERT_MAX_BYTES);
    /* Unescaped strings never exceed the record they come from. */
    if (!fw_arena_init(&p->scratch, p->conf.max_record_bytes + 64) ||
        !fw_arena_init(&p->held_scratch, p->conf.max_record_bytes + 64)) {
        snprintf(errstr, errstr_size, "pipeline: out of memory");
        goto fail;
    }
    if (p->conf.format == FW_INPUT_CSV && p->conf.csv_header) {
        char why[400];
        if (fw_csv_columns_init_ex(&p->csv, p->conf.csv_header, strlen(p->conf.csv_header),
                                   p->conf.schema, p->conf.extras, why, sizeof(why)) != FW_OK) {
            snprintf(errstr, errstr_size, "--csv-header: %s", why);
            goto fail;
        }
        p->csv_state = 1;
    }
    fw_time_guard_init(&p->guard, p->conf.rules.time.max_event_time_jump_ms);
    p->engine = fw_engine_new(&p->conf.rules, errstr, errstr_size);
    if (!p->engine)
        goto fail;
    fw_engine_set_profiles(p->engine, p->conf.profiles);
    fw_engine_set_extras(p->engine, p->conf.extras);
    if (fw_engine_set_lang(p->engine, p->conf.lang, errstr, errstr_size) != FW_OK)
        goto fail;
    p->engine_out = (fw_engine_out){ .opaque = p, .alert = on_alert, .late = on_late,
                                     .duplicate = on_duplicate };
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
    fw_arena_fini(&p->held_scratch);
    for (int i = 0; i < FW_TIME_GUARD_MAX_HELD; i++)
        free(p->held[i].data);
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

static void on_verdict(void *opaque, const fw_time_guard_verdict *v);

void fw_pipeline_advance(fw_pipeline *p, int64_t watermark, const fw_pipeline_out *out) {
    p->out = out;
    if (watermark == INT64_MAX) /* end of input: what the guard holds is decided now */
        fw_time_guard_finish(&p->guard, on_verdict, p);
    fw_engine_advance(p->engine, watermark, &p->engine_out);
}

fw_err fw_pipeline_set_rules(fw_pipeline *p, const fw_rules *rules, char *errstr,
                             size_t errstr_size) {
    fw_err rc = fw_engine_set_rules(p->engine, rules, errstr, errstr_size);
    if (rc == FW_OK)
        p->conf.rules = *rules;
    return rc;
}

fw_err fw_pipeline_set_lang(fw_pipeline *p, const fw_lang_rules *rs, char *errstr,
                            size_t errstr_size) {
    bool own = !p->conf.extras || p->conf.extras == &p->lang_extras;
    if (rs && rs->nextra && own) {
        /* Grow the captured set in place: transactions buffered before the
         * change index it too, so an index never changes its name. */
        const char *names[FW_TXN_MAX_EXTRAS];
        size_t n = 0;
        char why[300];
        for (size_t i = 0; p->conf.extras && i < p->lang_extras.n; i++)
            names[n++] = p->lang_extras.name[i];
        for (size_t i = 0; i < rs->nextra; i++) {
            const char *x = rs->extra_names[i];
            if (p->conf.extras && fw_txn_extras_find(&p->lang_extras, x, strlen(x)) >= 0)
                continue;
            if (n == FW_TXN_MAX_EXTRAS) {
                snprintf(errstr, errstr_size, "language rules: extra fields: more than %d over "
                         "the rules run since the start (restart to reset)", FW_TXN_MAX_EXTRAS);
                return FW_ERR_INVALID;
            }
            names[n++] = x;
        }
        fw_txn_extras grown;
        if (fw_txn_extras_init(&grown, names, n, why, sizeof(why)) != FW_OK) {
            snprintf(errstr, errstr_size, "language rules: extra fields: %s", why);
            return FW_ERR_INVALID;
        }
        p->lang_extras = grown;
        p->conf.extras = &p->lang_extras;
        p->general_json = true;
        fw_engine_set_extras(p->engine, p->conf.extras);
    }
    fw_err rc = fw_engine_set_lang(p->engine, rs, errstr, errstr_size);
    if (rc == FW_OK)
        p->conf.lang = rs;
    return rc;
}

fw_engine *fw_pipeline_engine(fw_pipeline *p) { return p->engine; }

void fw_pipeline_cap_watermark(fw_pipeline *p, int64_t cap, const fw_pipeline_out *out) {
    if (!out) {
        fw_engine_cap_watermark(p->engine, cap, NULL);
        return;
    }
    p->out = out;
    fw_engine_cap_watermark(p->engine, cap, &p->engine_out);
}

void fw_pipeline_ml_flush(fw_pipeline *p, const fw_pipeline_out *out) {
    p->out = out;
    fw_engine_ml_flush(p->engine, &p->engine_out);
}

void fw_pipeline_ml_complete(fw_pipeline *p, fw_ml_batch *b, const float *probs,
                             const char *model, const fw_pipeline_out *out) {
    p->out = out;
    fw_engine_ml_complete(p->engine, b, probs, NULL, model, &p->engine_out);
}

static void dead_letter(fw_pipeline *p, fw_str payload, const char *field, const char *reason,
                        const fw_source_ref *src) {
    p->stats.dead_letters++;
    fw_dead_letter dl = { .payload = payload, .field = field, .reason = reason, .src = src };
    p->out->dead_letter(p->out->opaque, &dl);
}

/* Decodes one record into @p txn; a semicolon record's id comes from its
 * source and lives in @p synth. */
__attribute__((always_inline)) static inline fw_err decode(fw_pipeline *p, const char *payload,
                                                          size_t len, const fw_source_ref *src,
                     fw_arena *arena, char synth[96], fw_txn *txn, fw_decode_error *derr) {
    fw_arena_reset(arena); /* nothing outlives the previous record decoded into it */
    if (src->checked && (p->conf.format != FW_INPUT_JSON || p->conf.schema))
        /* Routed here by account from another partition: our own JSON. */
        return fw_txn_decode_json_ex(payload, len, arena, p->conf.max_record_bytes, NULL,
                                     p->conf.extras, txn, derr);
    if (p->conf.format == FW_INPUT_CSV) {
        if (p->csv_state > 0)
            return fw_txn_decode_csv(payload, len, &p->csv, p->conf.schema, arena,
                                     p->conf.max_record_bytes, txn, derr);
        derr->field = NULL;
        derr->offset = 0;
        snprintf(derr->reason, sizeof(derr->reason), "%s", p->csv_error);
        return FW_ERR_INVALID;
    }
    if (p->conf.format != FW_INPUT_SEMICOLON)
        return p->general_json /* a mapping or extra fields */
                   ? fw_txn_decode_json_ex(payload, len, arena, p->conf.max_record_bytes,
                                           p->conf.schema, p->conf.extras, txn, derr)
                   : fw_txn_decode_json_shaped(payload, len, arena, p->conf.max_record_bytes,
                                               &p->shape, txn, derr);
    int n = src->topic ? snprintf(synth, 96, "%s-%" PRId32 "-%" PRId64, src->topic,
                                  src->partition, src->offset)
                       : snprintf(synth, 96, "line-%" PRId64, src->line);
    fw_str id = { .ptr = synth, .len = n < 96 ? (size_t)n : 95 };
    return fw_txn_decode_semicolon(payload, len, id, p->conf.max_record_bytes, txn, derr);
}

/* Hands a transaction whose event time passed the checks to the engine. */
static void apply(fw_pipeline *p, const fw_txn *txn, fw_str payload, const fw_source_ref *src) {
    if (p->out->route && !p->out->route(p->out->opaque, txn))
        return; /* another partition's task takes it */
    p->src = src;
    p->payload = payload;
    fw_txn_pos pos = { .partition = src->topic ? src->partition : -1,
                       .offset = src->topic ? src->offset : src->line };
    const fw_engine_stats *es = fw_engine_stats_get(p->engine);
    uint64_t n = es->transactions, late = es->late;
    fw_engine_process_from(p->engine, txn, &pos, &p->engine_out);
    /* Taken: counted as arrived (not a duplicate) and not late. */
    if (p->out->accepted && es->transactions != n && es->late == late)
        p->out->accepted(p->out->opaque, txn);
}

void fw_pipeline_set_stage(fw_pipeline *p, const fw_stage *s, const char *const *colocated,
                           int32_t partition, int32_t partitions) {
    fw_engine_set_stage(p->engine, s, colocated, partition, partitions);
}

static void on_duplicate(void *opaque, const fw_txn *t, const fw_txn_pos *first) {
    fw_pipeline *p = opaque;
    int idn = t->transaction_id.len > 100 ? 100 : (int)t->transaction_id.len;
    int n = snprintf(p->reason, sizeof(p->reason),
                     "duplicate transaction_id \"%.*s\"%s: first seen ", idn,
                     t->transaction_id.ptr, idn < (int)t->transaction_id.len ? "..." : "");
    size_t off = n > 0 && (size_t)n < sizeof(p->reason) ? (size_t)n : 0;
    if (first->offset < 0)
        snprintf(p->reason + off, sizeof(p->reason) - off, "earlier");
    else if (first->partition >= 0)
        snprintf(p->reason + off, sizeof(p->reason) - off,
                 "at partition %" PRId32 " offset %" PRId64, first->partition, first->offset);
    else
        snprintf(p->reason + off, sizeof(p->reason) - off, "at line %" PRId64, first->offset);
    p->stats.duplicates++;
    dead_letter(p, p->payload, "transaction_id", p->reason, p->src);
}

/* The time guard decided about a held record: apply it or reject it. */
static void on_verdict(void *opaque, const fw_time_guard_verdict *v) {
    fw_pipeline *p = opaque;
    held_rec *h = &p->held[v->slot];
    if (h->lost)
        return;
    fw_str payload = { .ptr = h->data, .len = h->len };
    if (v->accepted) {
        fw_txn txn;
        fw_decode_error derr;
        if (decode(p, h->data, h->len, &h->src, &p->held_scratch, p->held_synth_id, &txn, &derr))
            dead_letter(p, payload, derr.field, derr.reason, &h->src); /* only OOM: it decoded */
        else
            apply(p, &txn, payload, &h->src);
        return;
    }
    char ts[32], ref[32], ahead[48], bound[32];
    fw_time_format(v->ts, ts);
    fw_time_format(v->reference, ref);
    fw_time_span_format(v->ts - v->reference, ahead, sizeof(ahead));
    fw_rules_duration_format(p->guard.max_jump_ms, bound, sizeof(bound));
    snprintf(p->reason, sizeof(p->reason),
             "timestamp %s is %s ahead of %s (%s) and %" PRIu32 " later records contradict it; "
             "at most %s ahead is accepted unless later records confirm it (max_event_time_jump)",
             ts, ahead, p->guard.newest != INT64_MIN ? "the newest event time accepted" :
             "the later records", ref, v->contradictions, bound);
    p->stats.time_jumps++;
    dead_letter(p, payload, "timestamp", p->reason, &h->src);
}

/* Copies a record the guard holds into its slot. */
static bool hold(fw_pipeline *p, uint32_t slot, const char *payload, size_t len,
                 const fw_source_ref *src) {
    held_rec *h = &p->held[slot];
    if (len > h->cap) {
        char *d = realloc(h->data, len);
        if (!d)
            return false;
        h->data = d;
        h->cap = len;
    }
    if (len)
        memcpy(h->data, payload, len);
    h->len = len;
    h->src = *src;
    h->lost = false;
    return true;
}

void fw_pipeline_process(fw_pipeline *p, const char *payload, size_t len,
                         const fw_source_ref *src, const fw_pipeline_out *out) {
    fw_txn txn;
    fw_decode_error derr;
    fw_str raw = { .ptr = payload, .len = len };
    p->out = out;
    p->account_id = FW_STR_NULL;
    if (p->conf.format == FW_INPUT_CSV && p->csv_state == 0) {
        /* File mode's first line names the columns: not a record. */
        char why[256];
        if (fw_csv_columns_init_ex(&p->csv, payload, len, p->conf.schema, p->conf.extras, why,
                                   sizeof(why)) == FW_OK) {
            p->csv_state = 1;
            return;
        }
        p->csv_state = -1;
        snprintf(p->csv_error, sizeof(p->csv_error), "no record can be read: %s", why);
        p->stats.records++;
        dead_letter(p, raw, NULL, why, src);
        return;
    }
    p->stats.records++;
    if (decode(p, payload, len, src, &p->scratch, p->synth_id, &txn, &derr) != FW_OK) {
        dead_letter(p, raw, derr.field, derr.reason, src);
        return;
    }
    p->account_id = txn.account_id;
    int64_t skew = p->conf.rules.time.max_future_skew_ms;
    if (src->checked) {
        /* The input stage checked its event time: a later stage's record. */
    } else if (src->ref_time_name) {
        /* Kafka mode: one record must not move event time arbitrarily. */
        if (skew > 0 && txn.ts_ms > src->ref_time_ms &&
            txn.ts_ms - src->ref_time_ms > skew) {
            char ts[32], ref[32], ahead[48], bound[32];
            fw_time_format(txn.ts_ms, ts);
            fw_time_format(src->ref_time_ms, ref);
            fw_time_span_format(txn.ts_ms - src->ref_time_ms, ahead, sizeof(ahead));
            fw_rules_duration_format(skew, bound, sizeof(bound));
            snprintf(p->reason, sizeof(p->reason),
                     "timestamp %s is %s ahead of %s %s; at most %s ahead is accepted "
                     "(max_future_skew)",
                     ts, ahead, src->ref_time_name, ref, bound);
            p->stats.future++;
            dead_letter(p, raw, "timestamp", p->reason, src);
            return;
        }
    } else if (p->guard.max_jump_ms > 0) {
        /* File mode: the records around it decide a jump (time_guard.h). */
        uint32_t slot;
        if (!fw_time_guard_offer(&p->guard, txn.ts_ms, &slot, on_verdict, p)) {
            if (!hold(p, slot, payload, len, src)) {
                p->held[slot].lost = true;
                dead_letter(p, raw, NULL, "out of memory holding a record whose event time "
                                          "jumps ahead", src);
            }
            return;
        }
    }
    apply(p, &txn, raw, src);
}

fw_str fw_pipeline_last_account(const fw_pipeline *p) { return p->account_id; }

const fw_pipeline_stats *fw_pipeline_stats_get(const fw_pipeline *p) { return &p->stats; }

const fw_engine_stats *fw_pipeline_engine_stats(const fw_pipeline *p) {
    return fw_engine_stats_get(p->engine);
}
