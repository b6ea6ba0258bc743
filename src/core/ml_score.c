/* ml_score.c — feature vectors from the customer's history, batches for the
 * model, and the explained alerts of the transactions it scores high. */
#include "engine_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_payment(const fw_txn *t) {
    return t->type != FW_TXN_PASSWORD_CHANGE && t->type != FW_TXN_LOGIN;
}

/* The history is the customer's; without a customer id, the account's, then the card's. */
static fw_str history_key(const fw_txn *t, uint8_t *kind) {
    if (t->customer_id.ptr) {
        *kind = FW_ENT_CUSTOMER;
        return t->customer_id;
    }
    if (t->account_id.ptr) {
        *kind = FW_ENT_ACCOUNT;
        return t->account_id;
    }
    *kind = FW_ENT_CARD;
    return t->card_id;
}

static void put_text(fw_ml_ctx *c, int field, fw_str s) {
    size_t n = s.ptr ? (s.len < FW_ML_TEXT ? s.len : FW_ML_TEXT) : 0;
    c->len[field] = (uint8_t)n;
    if (n)
        memcpy(c->text[field], s.ptr, n);
}

static fw_str text(const fw_ml_ctx *c, int field) {
    return c->len[field] ? (fw_str){ c->text[field], c->len[field] } : FW_STR_NULL;
}

/* The batch being filled; NULL when out of memory. */
static fw_ml_batch *filling(fw_engine *e) {
    if (e->ml_tail && e->ml_tail->n < FW_ML_BATCH_ROWS)
        return e->ml_tail;
    fw_ml_batch *b = e->ml_free;
    if (b)
        e->ml_free = b->next;
    else if (!(b = malloc(sizeof(*b))))
        return NULL;
    b->next = NULL;
    b->n = 0;
    if (e->ml_tail)
        e->ml_tail->next = b;
    else
        e->ml_head = b;
    e->ml_tail = b;
    return b;
}

void fw_ml_observe(fw_engine *e, const fw_txn *t) {
    uint8_t kind;
    fw_str key = history_key(t, &kind);
    fw_entity *ent = key.ptr ? fw_state_get(&e->state, FW_ENT_FEATURES, key, true) : NULL;
    if (ent)
        fw_engine_refresh(e, ent, t);
    float local[FW_F__COUNT];
    float *row = local;
    fw_ml_batch *b = NULL;
    bool score = e->ml_active && e->rules.common[FW_RULE_ML_SCORE].enabled &&
                 !e->lang_replaces[FW_RULE_ML_SCORE] && is_payment(t);
    if (score && !(b = filling(e)))
        e->stats.ml_unscored++;
    if (b)
        row = &b->features[b->n * FW_F__COUNT];
    const fw_profile *prof = t->customer_id.ptr ? fw_profiles_get(e->profiles, t->customer_id)
                                                : NULL;
    fw_features_compute(ent ? ent->feat : NULL, t, prof, row);
    if (e->feature_sink && is_payment(t))
        e->feature_sink(e->feature_sink_opaque, t, row);
    if (b) {
        fw_ml_ctx *c = &b->ctx[b->n++];
        e->ml_pending++;
        c->ts = t->ts_ms;
        c->amount = t->amount;
        c->lat = t->lat;
        c->lon = t->lon;
        c->has = t->has;
        c->type = (uint8_t)t->type;
        c->entity_kind = kind;
        c->ent = ent;
        if (ent)
            ent->ml_pending++;
        put_text(c, FW_MLT_ID, t->transaction_id);
        put_text(c, FW_MLT_AMOUNT, t->amount_raw);
        put_text(c, FW_MLT_ACCOUNT, t->account_id);
        put_text(c, FW_MLT_CARD, t->card_id);
        put_text(c, FW_MLT_CUSTOMER, t->customer_id);
        put_text(c, FW_MLT_MERCHANT, t->merchant_id);
        put_text(c, FW_MLT_COUNTRY, t->country);
        put_text(c, FW_MLT_COUNTERPARTY, t->counterparty_id);
        put_text(c, FW_MLT_CHANNEL, t->channel);
        put_text(c, FW_MLT_CURRENCY, t->currency);
        if (b->n == FW_ML_BATCH_ROWS && e->model && e->out)
            fw_engine_ml_flush(e, e->out); /* full: score now, one call */
    }
    if (ent) {
        fw_feat_state_update(ent->feat, t);
        fw_engine_touch(e, ent);
    }
}

void fw_engine_set_feature_sink(fw_engine *e, fw_feature_sink_fn fn, void *opaque) {
    e->feature_sink = fn;
    e->feature_sink_opaque = opaque;
}

void fw_engine_ml_activate(fw_engine *e, bool on) { e->ml_active = on; }

fw_err fw_engine_set_model(fw_engine *e, fw_model *m, char *errstr, size_t errstr_size) {
    if (!m) {
        e->model = NULL;
        return FW_OK;
    }
    size_t nc = fw_model_nfeatures(m);
    int cols[FW_MODEL_MAX_FEATURES];
    for (size_t j = 0; j < nc; j++) {
        const char *name = fw_model_feature_name(m, j);
        if ((cols[j] = fw_feature_by_name(name, strlen(name))) < 0) {
            snprintf(errstr, errstr_size,
                     "model %s: feature '%s' (column %zu) is not one fraudwatch computes "
                     "(docs/model.md lists them)", fw_model_id(m), name, j + 1);
            return FW_ERR_INVALID;
        }
    }
    /* Buffers for the largest model seen: reloading a smaller one reuses them. */
    size_t have = e->model ? fw_model_nfeatures(e->model) : 0;
    if (!e->ml_matrix || nc > have) {
        float *mx = realloc(e->ml_matrix, sizeof(float) * FW_ML_BATCH_ROWS * nc);
        if (mx)
            e->ml_matrix = mx;
        float *ct = mx ? realloc(e->ml_contribs, sizeof(float) * FW_ML_BATCH_ROWS * (nc + 1))
                       : NULL;
        if (ct)
            e->ml_contribs = ct;
        if (!mx || !ct) {
            snprintf(errstr, errstr_size, "model %s: out of memory", fw_model_id(m));
            return FW_ERR_NOMEM;
        }
    }
    if (!e->ml_probs)
        e->ml_probs = malloc(sizeof(float) * FW_ML_BATCH_ROWS);
    if (!e->ml_feature_contribs)
        e->ml_feature_contribs = malloc(sizeof(float) * FW_ML_BATCH_ROWS * (FW_F__COUNT + 1));
    if (!e->ml_probs || !e->ml_feature_contribs) {
        snprintf(errstr, errstr_size, "model %s: out of memory", fw_model_id(m));
        return FW_ERR_NOMEM;
    }
    memcpy(e->model_cols, cols, sizeof(int) * nc);
    e->model = m;
    return FW_OK;
}

size_t fw_ml_batch_rows(const fw_ml_batch *b) { return b->n; }
void fw_ml_batch_free(fw_ml_batch *b) { free(b); }
const float *fw_ml_batch_features(const fw_ml_batch *b) { return b->features; }
size_t fw_engine_ml_pending(const fw_engine *e) { return e->ml_pending; }

fw_ml_batch *fw_engine_ml_take(fw_engine *e) {
    fw_ml_batch *b = e->ml_head;
    if (!b)
        return NULL;
    e->ml_head = b->next;
    if (!e->ml_head)
        e->ml_tail = NULL;
    b->next = NULL;
    e->ml_pending -= b->n;
    return b;
}

static void recycle(fw_engine *e, fw_ml_batch *b) {
    b->n = 0;
    b->next = e->ml_free;
    e->ml_free = b;
}

void fw_ml_fini(fw_engine *e) {
    fw_ml_batch *b;
    while ((b = fw_engine_ml_take(e)))
        recycle(e, b);
    while ((b = e->ml_free)) {
        e->ml_free = b->next;
        free(b);
    }
    free(e->ml_matrix);
    free(e->ml_probs);
    free(e->ml_contribs);
    free(e->ml_feature_contribs);
}

/* The @p k features that pushed the score up most, largest first. */
static size_t top_features(const float *features, const float *contribs, int k,
                           fw_contribution *out) {
    size_t n = 0;
    for (int f = 0; f < FW_F__COUNT; f++) {
        float c = contribs[f];
        if (!(c >= 0.005f)) /* pushed the score up, and visibly */
            continue;
        size_t at;
        if (n < (size_t)k)
            at = n++;
        else if (c > out[k - 1].contribution)
            at = (size_t)k - 1;
        else
            continue;
        while (at > 0 && out[at - 1].contribution < c) {
            out[at] = out[at - 1];
            at--;
        }
        out[at] = (fw_contribution){ .feature = fw_feature_name((fw_feature)f),
                                     .value = features[f], .contribution = c };
    }
    return n;
}

/* Dedupe decides before anything is explained, so a suppressed alert costs
 * no contributions: marks the rows of @p b that alert, in order, as the
 * alerts will be raised. @returns how many. */
static size_t claim_alerts(fw_engine *e, const fw_ml_batch *b, const float *probs) {
    double thr = e->rules.ml_score.threshold;
    size_t na = 0;
    for (size_t i = 0; i < b->n; i++) {
        const fw_ml_ctx *c = &b->ctx[i];
        fw_entity *ent = c->ent;
        bool alert = probs[i] > thr;
        if (alert && ent) {
            int64_t last = ent->last_alert[FW_RULE_ML_SCORE];
            if (last != INT64_MIN && llabs(c->ts - last) < e->rules.time.dedupe_window_ms) {
                e->stats.deduplicated[FW_RULE_ML_SCORE]++;
                alert = false;
            } else {
                if (c->ts > last || last == INT64_MIN)
                    ent->last_alert[FW_RULE_ML_SCORE] = c->ts;
                fw_engine_touch(e, ent);
            }
        }
        e->ml_alerting[i] = alert;
        na += alert;
    }
    return na;
}

static void raise_ml_alert(fw_engine *e, const fw_ml_ctx *c, const float *features, float p,
                           const float *contribs, const char *model, const fw_engine_out *out) {
    fw_str key = text(c, c->entity_kind == FW_ENT_CUSTOMER  ? FW_MLT_CUSTOMER
                         : c->entity_kind == FW_ENT_ACCOUNT ? FW_MLT_ACCOUNT
                                                            : FW_MLT_CARD);
    fw_contribution top[64];
    int k = e->rules.ml_score.top_features;
    size_t ntop = contribs && k > 0 ? top_features(features, contribs, k, top) : 0;
    int len = snprintf(e->reason, sizeof(e->reason),
                       "fraud probability %.3f above the threshold %.2f (model %s)", p,
                       e->rules.ml_score.threshold, model);
    for (size_t i = 0; i < ntop && len > 0 && (size_t)len < sizeof(e->reason); i++) {
        char v[32];
        if (isfinite(top[i].value))
            snprintf(v, sizeof(v), "%.4g", top[i].value);
        else
            snprintf(v, sizeof(v), "missing");
        len += snprintf(e->reason + len, sizeof(e->reason) - (size_t)len, "%s%s=%s (%+.2f)",
                        i ? ", " : "; most telling: ", top[i].feature, v, top[i].contribution);
    }
    fw_txn t = { .transaction_id = text(c, FW_MLT_ID), .ts_ms = c->ts, .amount = c->amount,
                 .amount_raw = text(c, FW_MLT_AMOUNT), .account_id = text(c, FW_MLT_ACCOUNT),
                 .card_id = text(c, FW_MLT_CARD), .customer_id = text(c, FW_MLT_CUSTOMER),
                 .type = (fw_txn_type)c->type, .currency = text(c, FW_MLT_CURRENCY),
                 .merchant_id = text(c, FW_MLT_MERCHANT), .country = text(c, FW_MLT_COUNTRY),
                 .counterparty_id = text(c, FW_MLT_COUNTERPARTY),
                 .channel = text(c, FW_MLT_CHANNEL), .lat = c->lat, .lon = c->lon,
                 .has = c->has };
    snprintf(e->entity_id, sizeof(e->entity_id), "%.*s", (int)key.len, key.ptr ? key.ptr : "");
    e->evidence[0] = (fw_evidence){ .transaction_id = t.transaction_id, .ts_ms = c->ts,
                                    .amount_raw = t.amount_raw };
    fw_alert_ml ml = { .score = p, .threshold = e->rules.ml_score.threshold, .model = model,
                       .top = top, .ntop = ntop };
    fw_alert a = { .rule = FW_RULE_ML_SCORE, .rc = &e->rules.common[FW_RULE_ML_SCORE],
                   .entity_type = fw_entity_kind_name((fw_entity_kind)c->entity_kind),
                   .entity_id = fw_str_c(e->entity_id), .event_time = c->ts,
                   .detected_at = c->ts, .window_start = -1, .window_end = -1,
                   .reason = e->reason, .evidence = e->evidence, .nevidence = 1, .txn = &t,
                   .ml = &ml };
    e->stats.alerts[FW_RULE_ML_SCORE]++;
    out->alert(out->opaque, &a);
}

/* Scoring of @p b is over: its rows no longer hold their entities and the
 * counters know how it went. @returns false when it failed (then recycled). */
static bool settle(fw_engine *e, fw_ml_batch *b, const float *probs) {
    e->stats.ml_batches++;
    for (size_t i = 0; i < b->n; i++)
        if (b->ctx[i].ent)
            b->ctx[i].ent->ml_pending--;
    if (!probs) {
        e->stats.ml_failed_batches++;
        e->stats.ml_unscored += b->n;
        recycle(e, b);
        return false;
    }
    e->stats.ml_scored += b->n;
    return true;
}

/* Raises the rows claim_alerts marked; @p contribs by row, as for
 * fw_engine_ml_complete. */
static void raise_claimed(fw_engine *e, fw_ml_batch *b, const float *probs,
                          const float *contribs, const char *model, const fw_engine_out *out) {
    for (size_t i = 0; i < b->n; i++)
        if (e->ml_alerting[i])
            raise_ml_alert(e, &b->ctx[i], &b->features[i * FW_F__COUNT], probs[i],
                           contribs ? &contribs[i * (FW_F__COUNT + 1)] : NULL, model, out);
    recycle(e, b);
}

void fw_engine_ml_complete(fw_engine *e, fw_ml_batch *b, const float *probs,
                           const float *contribs, const char *model,
                           const fw_engine_out *out) {
    if (!settle(e, b, probs))
        return;
    claim_alerts(e, b, probs);
    raise_claimed(e, b, probs, contribs, model, out);
}

void fw_engine_ml_flush(fw_engine *e, const fw_engine_out *out) {
    fw_ml_batch *b;
    while ((b = fw_engine_ml_take(e))) {
        if (!e->model) {
            e->stats.ml_unscored += b->n;
            recycle(e, b);
            continue;
        }
        size_t nc = fw_model_nfeatures(e->model);
        for (size_t i = 0; i < b->n; i++)
            for (size_t j = 0; j < nc; j++)
                e->ml_matrix[i * nc + j] = b->features[i * FW_F__COUNT + e->model_cols[j]];
        if (fw_model_predict(e->model, e->ml_matrix, b->n, e->ml_probs, e->ml_error,
                             sizeof(e->ml_error)) != FW_OK) {
            fw_engine_ml_complete(e, b, NULL, NULL, NULL, out);
            continue;
        }
        /* Explain only what alerts: move those rows to the front, one more call. */
        settle(e, b, e->ml_probs);
        size_t na = claim_alerts(e, b, e->ml_probs);
        const float *contribs = NULL;
        if (na && e->rules.ml_score.top_features > 0) {
            for (size_t i = 0, k = 0; i < b->n; i++) {
                if (!e->ml_alerting[i])
                    continue;
                if (k != i)
                    memmove(&e->ml_matrix[k * nc], &e->ml_matrix[i * nc], sizeof(float) * nc);
                k++;
            }
            bool approx = e->rules.ml_score.contributions == FW_ML_CONTRIB_APPROX;
            if (fw_model_contribs(e->model, e->ml_matrix, na, approx, e->ml_contribs,
                                  e->ml_error, sizeof(e->ml_error)) == FW_OK) {
                for (size_t i = 0, k = 0; i < b->n; i++) {
                    if (!e->ml_alerting[i])
                        continue;
                    float *row = &e->ml_feature_contribs[i * (FW_F__COUNT + 1)];
                    for (int f = 0; f <= FW_F__COUNT; f++)
                        row[f] = 0;
                    for (size_t j = 0; j < nc; j++)
                        row[e->model_cols[j]] = e->ml_contribs[k * (nc + 1) + j];
                    row[FW_F__COUNT] = e->ml_contribs[k * (nc + 1) + nc];
                    k++;
                }
                contribs = e->ml_feature_contribs;
            }
        }
        raise_claimed(e, b, e->ml_probs, contribs, fw_model_id(e->model), out);
    }
}
