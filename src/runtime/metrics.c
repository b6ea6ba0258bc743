/* metrics.c — the Prometheus endpoint of `fraudwatch run`: the text format
 * of a published snapshot, and the libmicrohttpd server that answers
 * /metrics and /health on one internal thread. The main thread publishes;
 * the server thread only copies the published snapshot under the mutex and
 * formats the copy. */
#include "metrics.h"
#include "fw_os.h"

#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "http_listen.h"

#define CONNECTION_TIMEOUT_S 10u /* a stalled scraper is dropped */
#define CONNECTION_LIMIT 64u
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* ------------------------------------------------------------ text format */

void fw_metrics_snapshot_init(fw_metrics_snapshot *s) {
    memset(s, 0, sizeof(*s));
    s->watermark_ms = INT64_MIN;
}

void fw_metrics_add_engine(fw_metrics_snapshot *s, const fw_engine *e) {
    const fw_engine_stats *es = fw_engine_stats_get(e);
    const fw_state_stats *ss = fw_engine_state_stats(e);
    for (int r = 0; r < FW_RULE__COUNT; r++) {
        s->alerts[r] += es->alerts[r];
        s->deduplicated[r] += es->deduplicated[r];
    }
    s->behind_watermark += es->behind_watermark;
    s->duplicates += es->duplicates;
    s->over_limit[FW_LIMIT_TRANSACTION_IDS] += es->ids_evicted;
    s->over_limit[FW_LIMIT_ENTITIES] += ss->entity_overflows;
    s->over_limit[FW_LIMIT_MEMORY] += ss->memory_refusals;
    s->over_limit[FW_LIMIT_WINDOW_EVENTS] += ss->window_overflows;
    s->over_limit[FW_LIMIT_REORDER_BUFFER] += es->buffer_overflows;
    s->over_limit[FW_LIMIT_ENTITY_ID] += es->id_too_long;
    s->over_limit[FW_LIMIT_TRANSFERS_WEIGHED] += es->scan_limited;
    s->entities += ss->entities;
    s->ml_scored += es->ml_scored;
    s->ml_unscored += es->ml_unscored;
    s->ml_batches += es->ml_batches;
    s->ml_failed_batches += es->ml_failed_batches;
    if (es->watermark != INT64_MIN && es->watermark != INT64_MAX &&
        (s->watermark_ms == INT64_MIN || es->watermark < s->watermark_ms))
        s->watermark_ms = es->watermark;
}

void fw_lang_counts_add(fw_lang_counts *c, const char *id, uint64_t n) {
    size_t len = id ? strlen(id) : 0;
    if (!len || len >= FW_LANG_MAX_ID) {
        c->unnamed += n;
        return;
    }
    for (uint32_t i = 0; i < c->n; i++)
        if (strcmp(c->id[i], id) == 0) {
            c->alerts[i] += n;
            return;
        }
    if (c->n >= FW_LANG_MAX_RULES) {
        c->unnamed += n;
        return;
    }
    memcpy(c->id[c->n], id, len + 1);
    c->alerts[c->n++] = n;
}

void fw_metrics_set_lang_rules(fw_metrics_snapshot *s, const fw_lang_rules *rs) {
    s->nlang_rules = 0;
    for (size_t i = 0; rs && i < rs->n && i < FW_LANG_MAX_RULES; i++) {
        snprintf(s->lang_rule_id[i], sizeof(s->lang_rule_id[i]), "%s", rs->rules[i].id);
        s->lang_rules[i] = rs->rules[i].common;
        s->nlang_rules++;
    }
}

void fw_lang_counts_declare(fw_lang_counts *c, const fw_lang_rules *rs) {
    for (size_t i = 0; rs && i < rs->n; i++)
        if (fw_rule_by_name(rs->rules[i].id) == FW_RULE__COUNT) /* a built-in's counts its own */
            fw_lang_counts_add(c, rs->rules[i].id, 0);
}

uint64_t fw_lang_counts_total(const fw_lang_counts *c) {
    uint64_t n = c->unnamed;
    for (uint32_t i = 0; i < c->n; i++)
        n += c->alerts[i];
    return n;
}

/* @p to += @p from, id by id (their orders may differ). */
static void lang_counts_merge(fw_lang_counts *to, const fw_lang_counts *from) {
    for (uint32_t i = 0; i < from->n; i++)
        fw_lang_counts_add(to, from->id[i], from->alerts[i]);
    to->unnamed += from->unnamed;
}

/* Empties @p c, touching only the ids in use (the open tally is reset at
 * every commit). */
static void lang_counts_clear(fw_lang_counts *c) {
    c->n = 0;
    c->unnamed = 0;
}

static void tally_add(fw_tally_counts *to, const fw_tally_counts *from) {
    for (int r = 0; r < FW_RULE__COUNT; r++)
        to->alerts[r] += from->alerts[r];
    lang_counts_merge(&to->lang, &from->lang);
    to->dead_letters += from->dead_letters;
    to->late += from->late;
    to->key_mismatch += from->key_mismatch;
    to->rekeyed += from->rekeyed;
}

/* Resets the open counts without rewriting the 16 KiB of id slots. */
static void tally_clear(fw_tally_counts *c) {
    memset(c->alerts, 0, sizeof(c->alerts));
    lang_counts_clear(&c->lang);
    c->dead_letters = c->late = c->key_mismatch = c->rekeyed = 0;
}

void fw_tally_commit(fw_tally *t) {
    tally_add(&t->committed, &t->open);
    tally_clear(&t->open);
}

void fw_tally_abort(fw_tally *t) {
    t->rolled_back_alerts += fw_tally_alerts(&t->open);
    tally_clear(&t->open);
}

uint64_t fw_tally_alerts(const fw_tally_counts *c) {
    uint64_t n = fw_lang_counts_total(&c->lang);
    for (int r = 0; r < FW_RULE__COUNT; r++)
        n += c->alerts[r];
    return n;
}

void fw_metrics_set_tally(fw_metrics_snapshot *s, const fw_tally_counts *c) {
    memcpy(s->alerts, c->alerts, sizeof(s->alerts));
    s->lang_alerts = c->lang;
    s->dead_letters = c->dead_letters;
    s->late = c->late;
    s->key_mismatch = c->key_mismatch;
    s->rekeyed = c->rekeyed;
}

static const char *const limit_names[FW_LIMIT__COUNT] = {
    [FW_LIMIT_ENTITIES] = "entities",
    [FW_LIMIT_WINDOW_EVENTS] = "window_events",
    [FW_LIMIT_REORDER_BUFFER] = "reorder_buffer",
    [FW_LIMIT_ENTITY_ID] = "entity_id_length",
    [FW_LIMIT_TRANSFERS_WEIGHED] = "transfers_weighed",
    [FW_LIMIT_TRANSACTION_IDS] = "transaction_ids",
    [FW_LIMIT_MEMORY] = "memory",
};

bool fw_metrics_label_escape(fw_buf *out, const char *s) {
    bool utf8 = fw_utf8_valid(s, strlen(s));
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '\\')
            fw_buf_puts(out, "\\\\");
        else if (ch == '"')
            fw_buf_puts(out, "\\\"");
        else if (ch == '\n')
            fw_buf_puts(out, "\\n");
        else
            fw_buf_putc(out, !utf8 && ch > 0x7f ? '?' : (char)ch);
    }
    return !out->overflow;
}

static const int64_t latency_bounds_ms[FW_METRICS_LATENCY_BUCKETS - 1] =
    FW_METRICS_LATENCY_BOUNDS_MS;

void fw_latency_observe(fw_latency_hist *h, int64_t ms) {
    if (ms < 0)
        ms = 0;
    int i = 0;
    while (i < FW_METRICS_LATENCY_BUCKETS - 1 && ms > latency_bounds_ms[i])
        i++;
    h->bucket[i]++;
    h->count++;
    h->sum_s += (double)ms / 1000.0;
}

/* # HELP and # TYPE of one metric family. */
static void family(fw_buf *out, const char *name, const char *type, const char *help) {
    fw_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void histogram(fw_buf *out, const char *name, const char *help,
                      const fw_latency_hist *h) {
    family(out, name, "histogram", help);
    uint64_t cum = 0;
    for (int i = 0; i < FW_METRICS_LATENCY_BUCKETS; i++) {
        cum += h->bucket[i];
        if (i < FW_METRICS_LATENCY_BUCKETS - 1)
            fw_buf_printf(out, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name,
                          (double)latency_bounds_ms[i] / 1000.0, cum);
        else
            fw_buf_printf(out, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cum);
    }
    fw_buf_printf(out, "%s_sum %.3f\n", name, h->sum_s);
    fw_buf_printf(out, "%s_count %" PRIu64 "\n", name, h->count);
}

static void sample(fw_buf *out, const char *name, uint64_t v) {
    fw_buf_printf(out, "%s %" PRIu64 "\n", name, v);
}

static void counter(fw_buf *out, const char *name, const char *help, uint64_t v) {
    family(out, name, "counter", help);
    sample(out, name, v);
}

/* One series per label value: @p values[i] for @p labels[i]. */
static void labelled(fw_buf *out, const char *name, const char *type, const char *help,
                     const char *label, const char *const *labels, const uint64_t *values,
                     size_t n) {
    family(out, name, type, help);
    for (size_t i = 0; i < n; i++) {
        fw_buf_printf(out, "%s{%s=\"", name, label);
        fw_metrics_label_escape(out, labels[i]);
        fw_buf_printf(out, "\"} %" PRIu64 "\n", values[i]);
    }
}

/* The language rules' series of family @p name, after the built-ins' (whose
 * # HELP and # TYPE they share); ids past the bound as one more series. */
static void lang_series(fw_buf *out, const char *name, const fw_lang_counts *c) {
    for (uint32_t i = 0; i < c->n; i++) {
        fw_buf_printf(out, "%s{rule=\"", name);
        fw_metrics_label_escape(out, c->id[i]);
        fw_buf_printf(out, "\"} %" PRIu64 "\n", c->alerts[i]);
    }
    if (c->unnamed)
        fw_buf_printf(out, "%s{rule=\"%s\"} %" PRIu64 "\n", name, FW_METRICS_LANG_OTHER,
                      c->unnamed);
}

const char *fw_rule_update_name(fw_rule_update u) {
    static const char *const names[FW_RULE_UPDATE__COUNT] = { "accepted", "rejected",
                                                              "deleted" };
    return (unsigned)u < FW_RULE_UPDATE__COUNT ? names[u] : NULL;
}

bool fw_metrics_format(fw_buf *out, const fw_metrics_conf *c, const fw_metrics_snapshot *s) {
    const char *rules[FW_RULE__COUNT];
    for (int r = 0; r < FW_RULE__COUNT; r++)
        rules[r] = fw_rule_name((fw_rule_id)r);

    family(out, "fraudwatch_info", "gauge", "This fraudwatch run: its mode and instance id.");
    fw_buf_printf(out, "fraudwatch_info{mode=\"%s\",instance_id=\"", c->kafka ? "kafka" : "file");
    fw_metrics_label_escape(out, c->instance_id ? c->instance_id : "");
    fw_buf_puts(out, "\"} 1\n");
    family(out, "fraudwatch_start_time_seconds", "gauge",
           "Start time of the process since the Unix epoch in seconds.");
    fw_buf_printf(out, "fraudwatch_start_time_seconds %.3f\n", c->start_time_s);

    counter(out, "fraudwatch_transactions_read_total",
            "Input records read, dead letters included.", s->transactions);
    labelled(out, "fraudwatch_alerts_total", "counter", "Alerts raised, by rule.", "rule",
             rules, s->alerts, FW_RULE__COUNT);
    lang_series(out, "fraudwatch_alerts_total", &s->lang_alerts);
    labelled(out, "fraudwatch_alerts_deduplicated_total", "counter",
             "Alerts folded into an earlier one of the same rule and entity, by rule.",
             "rule", rules, s->deduplicated, FW_RULE__COUNT);
    counter(out, "fraudwatch_dead_letters_total",
            "Records that could not be decoded or were refused (event time too far ahead, "
            "duplicate transaction id).",
            s->dead_letters);
    counter(out, "fraudwatch_late_records_total",
            "Records later than the allowed lateness, not applied.", s->late);
    counter(out, "fraudwatch_behind_watermark_total",
            "Records behind the watermark but within the allowed lateness.",
            s->behind_watermark);
    counter(out, "fraudwatch_duplicates_total",
            "Transactions whose id was seen before: dead letters, not applied.",
            s->duplicates);
    labelled(out, "fraudwatch_over_limit_total", "counter",
             "Events or entities refused or released early because a configured limit "
             "was reached, by limit.",
             "limit", limit_names, s->over_limit, FW_LIMIT__COUNT);
    family(out, "fraudwatch_entities", "gauge", "Entities in keyed state now.");
    sample(out, "fraudwatch_entities", s->entities);
    if (s->watermark_ms != INT64_MIN) {
        family(out, "fraudwatch_watermark_seconds", "gauge",
               "Event-time watermark (the lowest of the assigned partitions' in Kafka mode) "
               "since the Unix epoch in seconds.");
        fw_buf_printf(out, "fraudwatch_watermark_seconds %.3f\n",
                      (double)s->watermark_ms / 1000.0);
        if (c->kafka && s->scrape_wall_ms) {
            family(out, "fraudwatch_event_time_lag_seconds", "gauge",
                   "The wall clock at this scrape minus the event-time watermark: how far "
                   "behind real time the engine's view of the stream is (on live traffic).");
            fw_buf_printf(out, "fraudwatch_event_time_lag_seconds %.3f\n",
                          (double)(s->scrape_wall_ms - s->watermark_ms) / 1000.0);
        }
    }
    if (c->kafka && s->nlag > 0) {
        family(out, "fraudwatch_consumer_lag_records", "gauge",
               "Input records not processed yet, per assigned input partition: its high "
               "watermark as last fetched minus the next offset to process.");
        for (int i = 0; i < s->nlag; i++)
            fw_buf_printf(out, "fraudwatch_consumer_lag_records{partition=\"%" PRId32 "\"} %"
                          PRId64 "\n", s->lag[i].partition, s->lag[i].records);
    }
    if (c->kafka) {
        counter(out, "fraudwatch_kafka_transactions_committed_total",
                "Kafka transactions committed.", s->commits);
        counter(out, "fraudwatch_kafka_transactions_aborted_total",
                "Kafka transactions aborted (their input is read again).", s->aborts);
        counter(out, "fraudwatch_changelog_records_total",
                "State changelog records produced.", s->changelog_records);
        counter(out, "fraudwatch_input_key_mismatch_total",
                "Input records whose Kafka key is not their account_id (or that have none).",
                s->key_mismatch);
        counter(out, "fraudwatch_input_repartitioned_total",
                "Input records not on their account's partition (no key, another key, "
                "another partitioner), sent there through GROUP-repartition-account_id.",
                s->rekeyed);
        histogram(out, "fraudwatch_alert_latency_seconds",
                  "From an alert's event time to the engine producing it. On live traffic "
                  "event time is about when the input was sent: ordered rules show their wait "
                  "for the watermark here.",
                  &s->alert_latency);
        histogram(out, "fraudwatch_processing_latency_seconds",
                  "From the Kafka timestamp of the input record whose processing raised an "
                  "alert (its append time on a LogAppendTime topic, its producer's send time "
                  "otherwise; carried through the stage topics) to the engine producing it.",
                  &s->processing_latency);
        histogram(out, "fraudwatch_commit_seconds",
                  "How long each Kafka transaction took to commit (its changelog, offsets "
                  "and commit): no record is processed meanwhile, so it bounds latency.",
                  &s->commit_time);
        histogram(out, "fraudwatch_restore_seconds",
                  "How long each restore of newly assigned partitions' state from their "
                  "changelogs took: their records wait meanwhile.",
                  &s->restore_time);
        family(out, "fraudwatch_restoring_partitions", "gauge",
               "Partitions whose state is being restored from their changelogs now.");
        fw_buf_printf(out, "fraudwatch_restoring_partitions %d\n", s->restoring_partitions);
        family(out, "fraudwatch_restore_in_progress_seconds", "gauge",
               "How long the restore running now has run (0: none).");
        fw_buf_printf(out, "fraudwatch_restore_in_progress_seconds %.3f\n",
                      (double)s->restore_running_ms / 1000.0);
        static const char *const kinds[3] = { "assigned", "revoked", "lost" };
        labelled(out, "fraudwatch_rebalances_total", "counter",
                 "Rebalances this instance took part in, by what they did to it: partitions "
                 "assigned, revoked, or lost (its session timed out).",
                 "kind", kinds, s->rebalances, 3);
        family(out, "fraudwatch_assigned_partitions", "gauge",
               "Input partitions assigned to this instance now.");
        fw_buf_printf(out, "fraudwatch_assigned_partitions %d\n", s->assigned_partitions);
    }
    if (s->rules_known) {
        family(out, "fraudwatch_rule_info", "gauge",
               "The rules in force on every task: version, enabled, shadow (changed live "
               "through the rules topic or SIGHUP).");
        for (int r = 0; r < FW_RULE__COUNT; r++) {
            bool replaced = false; /* a language rule of its id runs instead: its line says so */
            for (uint32_t i = 0; i < s->nlang_rules && !replaced; i++)
                replaced = !strcmp(s->lang_rule_id[i], rules[r]);
            if (!replaced)
                fw_buf_printf(out,
                              "fraudwatch_rule_info{rule=\"%s\",version=\"%d\",enabled=\"%d\","
                              "shadow=\"%d\"} 1\n",
                              rules[r], s->rules[r].version, s->rules[r].enabled ? 1 : 0,
                              s->rules[r].shadow ? 1 : 0);
        }
        for (uint32_t i = 0; i < s->nlang_rules; i++) { /* language rules, after the built-ins */
            fw_buf_puts(out, "fraudwatch_rule_info{rule=");
            fw_buf_json_str(out, fw_str_c(s->lang_rule_id[i])); /* ids are plain names */
            fw_buf_printf(out, ",version=\"%d\",enabled=\"%d\",shadow=\"%d\"} 1\n",
                          s->lang_rules[i].version, s->lang_rules[i].enabled ? 1 : 0,
                          s->lang_rules[i].shadow ? 1 : 0);
        }
        const char *results[FW_RULE_UPDATE__COUNT];
        for (int u = 0; u < FW_RULE_UPDATE__COUNT; u++)
            results[u] = fw_rule_update_name((fw_rule_update)u);
        labelled(out, "fraudwatch_rule_updates_total", "counter",
                 "Live rule changes (rules topic records, SIGHUP reloads), by result; a "
                 "rejected one keeps the previous version running.",
                 "result", results, s->rule_updates, FW_RULE_UPDATE__COUNT);
    }
    if (c->ml) {
        counter(out, "fraudwatch_ml_scored_transactions_total",
                "Transactions scored by the ml_score model.", s->ml_scored);
        counter(out, "fraudwatch_ml_unscored_transactions_total",
                "Transactions ml_score could not score (scoring failed, no model).",
                s->ml_unscored);
        counter(out, "fraudwatch_ml_batches_total", "ml_score batches scored or failed.",
                s->ml_batches);
        counter(out, "fraudwatch_ml_failed_batches_total", "ml_score batches that failed.",
                s->ml_failed_batches);
        counter(out, "fraudwatch_ml_remote_retries_total",
                "--api-endpoint: HTTP attempts after a failed one.", s->ml_remote_retries);
        counter(out, "fraudwatch_ml_remote_timeouts_total",
                "--api-endpoint: HTTP attempts that timed out.", s->ml_remote_timeouts);
        static const char *const results[2] = { "ok", "failed" };
        const uint64_t reloads[2] = { s->model_reloads, s->model_reload_failures };
        labelled(out, "fraudwatch_ml_model_reloads_total", "counter",
                 "Reloads of a changed model file, by result (a failed one keeps the old "
                 "model).",
                 "result", results, reloads, 2);
    }
    return !out->overflow;
}

/* ------------------------------------------------------------ server */

struct fw_metrics {
    fw_metrics_conf conf;      /* instance_id points at instance_id[] below */
    char instance_id[256];
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t mu;        /* guards published */
    fw_metrics_snapshot published;
    int64_t last_publish_ms;   /* main thread only */
    bool ever_published;       /* main thread only */
    /* /health and /ready, under mu. */
    int64_t turned_ms;         /* monotonic time of the last publish: the loop turns */
    bool ready, failed;
    char not_ready[160], failure[256];
};

static void keep_max(uint64_t *dst, const uint64_t *src, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (src[i] > dst[i])
            dst[i] = src[i];
}

/* keep_max id by id: a language rule's counter never goes down either. */
static void lang_keep_max(fw_lang_counts *p, const fw_lang_counts *s) {
    for (uint32_t i = 0; i < s->n; i++) {
        fw_lang_counts_add(p, s->id[i], 0);
        for (uint32_t j = 0; j < p->n; j++)
            if (strcmp(p->id[j], s->id[i]) == 0) {
                keep_max(&p->alerts[j], &s->alerts[i], 1);
                break;
            }
    }
    keep_max(&p->unnamed, &s->unnamed, 1);
}

void fw_metrics_publish(fw_metrics *m, const fw_metrics_snapshot *s, int64_t now_ms) {
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    fw_metrics_snapshot *p = &m->published;
    keep_max(&p->transactions, &s->transactions, 1);
    keep_max(p->alerts, s->alerts, FW_RULE__COUNT);
    keep_max(p->deduplicated, s->deduplicated, FW_RULE__COUNT);
    lang_keep_max(&p->lang_alerts, &s->lang_alerts);
    keep_max(&p->dead_letters, &s->dead_letters, 1);
    keep_max(&p->late, &s->late, 1);
    keep_max(&p->behind_watermark, &s->behind_watermark, 1);
    keep_max(&p->duplicates, &s->duplicates, 1);
    keep_max(p->over_limit, s->over_limit, FW_LIMIT__COUNT);
    keep_max(&p->commits, &s->commits, 1);
    keep_max(&p->aborts, &s->aborts, 1);
    keep_max(&p->changelog_records, &s->changelog_records, 1);
    keep_max(&p->key_mismatch, &s->key_mismatch, 1);
    keep_max(&p->rekeyed, &s->rekeyed, 1);
    keep_max(&p->ml_scored, &s->ml_scored, 1);
    keep_max(&p->ml_unscored, &s->ml_unscored, 1);
    keep_max(&p->ml_batches, &s->ml_batches, 1);
    keep_max(&p->ml_failed_batches, &s->ml_failed_batches, 1);
    keep_max(&p->model_reloads, &s->model_reloads, 1);
    keep_max(&p->model_reload_failures, &s->model_reload_failures, 1);
    keep_max(p->rule_updates, s->rule_updates, FW_RULE_UPDATE__COUNT);
    p->rules_known = s->rules_known;
    memcpy(p->rules, s->rules, sizeof(p->rules));
    p->nlang_rules = s->nlang_rules;
    memcpy(p->lang_rule_id, s->lang_rule_id, sizeof(p->lang_rule_id[0]) * s->nlang_rules);
    memcpy(p->lang_rules, s->lang_rules, sizeof(p->lang_rules[0]) * s->nlang_rules);
    p->entities = s->entities;
    p->assigned_partitions = s->assigned_partitions;
    p->watermark_ms = s->watermark_ms;
    /* The runner's own histograms: they outlive its tasks, so copied as they are. */
    p->alert_latency = s->alert_latency;
    p->commit_time = s->commit_time;
    p->restore_time = s->restore_time;
    p->processing_latency = s->processing_latency;
    p->restoring_partitions = s->restoring_partitions;
    p->restore_running_ms = s->restore_running_ms;
    keep_max(p->rebalances, s->rebalances, 3);
    keep_max(&p->ml_remote_retries, &s->ml_remote_retries, 1);
    keep_max(&p->ml_remote_timeouts, &s->ml_remote_timeouts, 1);
    p->nlag = s->nlag;
    memcpy(p->lag, s->lag, sizeof(p->lag[0]) * (size_t)s->nlag);
    m->turned_ms = m->conf.clock_ms ? m->conf.clock_ms() : fw_mono_ms();
    pthread_mutex_unlock(&m->mu);
    m->last_publish_ms = now_ms;
    m->ever_published = true;
}

bool fw_metrics_due(const fw_metrics *m, int64_t now_ms) {
    return m && (!m->ever_published || now_ms - m->last_publish_ms >= FW_METRICS_PUBLISH_MS);
}

int fw_metrics_port(const fw_metrics *m) { return m->port; }

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body,
                             size_t len, enum MHD_ResponseMemoryMode mode,
                             const char *content_type, const char *allow) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free((void *)body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

#define REPLY_TEXT(c, status, text, allow)                                              \
    reply(c, status, text, sizeof(text) - 1, MHD_RESPMEM_PERSISTENT,                     \
          "text/plain; charset=utf-8", allow)

static enum MHD_Result scrape(fw_metrics *m, struct MHD_Connection *c) {
    fw_metrics_snapshot s;
    pthread_mutex_lock(&m->mu);
    s = m->published;
    pthread_mutex_unlock(&m->mu);
    s.scrape_wall_ms = m->conf.wall_clock_ms ? m->conf.wall_clock_ms() : fw_wall_ms();
    fw_buf b;
    fw_buf_init(&b, 1 << 20);
    if (!fw_metrics_format(&b, &m->conf, &s) || !b.data) {
        fw_buf_fini(&b);
        return REPLY_TEXT(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
    }
    char *body = b.data; /* MHD frees it */
    return reply(c, MHD_HTTP_OK, body, b.len, MHD_RESPMEM_MUST_FREE, CONTENT_TYPE, NULL);
}

void fw_metrics_set_ready(fw_metrics *m, bool ready, const char *why) {
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    m->ready = ready;
    snprintf(m->not_ready, sizeof(m->not_ready), "%s", ready || !why ? "" : why);
    pthread_mutex_unlock(&m->mu);
}

void fw_metrics_restoring(fw_metrics *m, int partitions, int64_t running_ms, const char *why) {
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    m->published.restoring_partitions = partitions;
    m->published.restore_running_ms = running_ms;
    m->turned_ms = m->conf.clock_ms ? m->conf.clock_ms() : fw_mono_ms();
    m->ready = false;
    snprintf(m->not_ready, sizeof(m->not_ready), "%s", why ? why : "restoring");
    pthread_mutex_unlock(&m->mu);
}

void fw_metrics_set_failed(fw_metrics *m, const char *why) {
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    if (!m->failed) /* the first reason is the cause; what is logged after it, its effects */
        snprintf(m->failure, sizeof(m->failure), "%s", why && *why ? why : "a fatal error");
    m->failed = true;
    pthread_mutex_unlock(&m->mu);
}

/* /health (@p ready false) or /ready: 200, or 503 with the reason on one line. */
static enum MHD_Result probe(fw_metrics *m, struct MHD_Connection *c, bool ready) {
    char body[512];
    bool ok;
    pthread_mutex_lock(&m->mu);
    int64_t quiet = (m->conf.clock_ms ? m->conf.clock_ms() : fw_mono_ms()) - m->turned_ms;
    if (m->failed) {
        ok = false;
        snprintf(body, sizeof(body), "failed: %s\n", m->failure);
    } else if (!ready && m->conf.health_timeout_ms > 0 && m->turned_ms &&
               quiet > m->conf.health_timeout_ms) {
        ok = false;
        snprintf(body, sizeof(body), "stalled: the processing loop has not turned for %" PRId64
                 " ms (--health-timeout-ms %" PRId64 ")\n", quiet, m->conf.health_timeout_ms);
    } else if (ready && !m->ready) {
        ok = false;
        snprintf(body, sizeof(body), "not ready: %s\n", m->not_ready[0] ? m->not_ready
                                                                         : "starting");
    } else {
        ok = true;
        snprintf(body, sizeof(body), "%s", ready ? "ready" : "ok");
    }
    pthread_mutex_unlock(&m->mu);
    char *copy = strdup(body);
    if (!copy)
        return MHD_NO;
    return reply(c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, copy, strlen(copy),
                 MHD_RESPMEM_MUST_FREE, "text/plain; charset=utf-8", NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    static int headers_seen; /* con_cls marker: no allocation per request */
    (void)version, (void)upload_data;
    fw_metrics *m = cls;
    bool metrics = !strcmp(url, "/metrics"), health = !strcmp(url, "/health"),
         ready = !strcmp(url, "/ready");
    if (!*con_cls) {
        /* Headers only: refuse what need not be read; answer the rest on the
         * next call, as MHD closes a connection answered before the request
         * is complete, and scrapers keep theirs alive. */
        if (!metrics && !health && !ready)
            return REPLY_TEXT(c, MHD_HTTP_NOT_FOUND,
                              "not found: the paths are /metrics, /health and /ready\n", NULL);
        if (strcmp(method, "GET") && strcmp(method, "HEAD"))
            return REPLY_TEXT(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: use GET\n",
                              "GET, HEAD");
        *con_cls = &headers_seen;
        return MHD_YES;
    }
    if (*upload_data_size) { /* a body with a GET: ignored */
        *upload_data_size = 0;
        return MHD_YES;
    }
    return metrics ? scrape(m, c) : probe(m, c, ready);
}

bool fw_metrics_bind_valid(const char *addr) { return fw_http_addr_valid(addr); }

fw_metrics *fw_metrics_new(const fw_metrics_conf *c, char *errstr, size_t errstr_size) {
    fw_metrics *m = calloc(1, sizeof(*m));
    if (!m) {
        snprintf(errstr, errstr_size, "metrics: out of memory");
        return NULL;
    }
    m->conf = *c;
    snprintf(m->instance_id, sizeof(m->instance_id), "%s", c->instance_id ? c->instance_id : "");
    m->conf.instance_id = m->instance_id;
    if (m->conf.start_time_s == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        m->conf.start_time_s = (double)ts.tv_sec + (double)(ts.tv_nsec / 1000000) / 1000.0;
    }
    fw_metrics_snapshot_init(&m->published);
    pthread_mutex_init(&m->mu, NULL);
    char why[256];
    bool v6;
    m->port = m->conf.port;
    int fd = fw_http_listen(m->conf.bind, &m->port, &v6, why, sizeof(why));
    if (fd < 0) {
        snprintf(errstr, errstr_size, "metrics: %s", why);
        goto fail;
    }
    /* One internal thread; MHD_USE_AUTO picks epoll or poll over select(),
     * which cannot watch a descriptor above FD_SETSIZE in a busy process. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (v6)
        flags |= MHD_USE_IPv6;
    /* The server thread inherits the signal mask: stop signals stay with the
     * main thread, whose blocking reads they are meant to interrupt. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    m->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, m,
                            /* The logger first: MHD wants it so. */
                            MHD_OPTION_EXTERNAL_LOGGER, fw_http_mhd_log,
                            (void *)"fraudwatch: metrics: http",
                            MHD_OPTION_LISTEN_SOCKET, fd,
                            MHD_OPTION_CONNECTION_LIMIT, CONNECTION_LIMIT,
                            MHD_OPTION_CONNECTION_TIMEOUT, CONNECTION_TIMEOUT_S,
                            MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!m->d) {
        snprintf(errstr, errstr_size, "metrics: cannot start the HTTP server on port %d of %s",
                 m->port, m->conf.bind);
        close(fd);
        goto fail;
    }
    return m;
fail:
    fw_metrics_destroy(m);
    return NULL;
}

void fw_metrics_destroy(fw_metrics *m) {
    if (!m)
        return;
    if (m->d)
        MHD_stop_daemon(m->d); /* joins the thread, closes the listening socket */
    pthread_mutex_destroy(&m->mu);
    free(m);
}
