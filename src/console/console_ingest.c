/* console_ingest.c — the alert topic into the store, exactly once
 * (console_ingest.h). The database is the truth for where each partition
 * stands: a batch the database refuses is dropped, the partitions are
 * paused, and once the database answers again they are sought back to the
 * offsets stored there. Replays are harmless (alerts are upserted by id). */
#include "console_ingest.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_os.h"

#define RETRY_MIN_MS 500
#define RETRY_MAX_MS 10000

typedef struct ipart {
    bool assigned, at_end, touched;
    int64_t next; /* in the pending batch: the offset after its last record */
} ipart;

struct fw_ingest {
    fw_ingest_conf c;
    fw_store *st;
    rd_kafka_t *rk;
    rd_kafka_message_t **pending;
    int npending;
    int64_t first_ms;         /* when the pending batch's first record came */
    fw_alert_row row;
    fw_ingest_stats stats;
    ipart *parts;
    int nparts;
    bool reseek;              /* the database failed: back to its offsets once it answers */
    int64_t retry_at_ms, retry_ms;
    bool ever_assigned, fatal;
};

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("fraudwatch console: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static ipart *part(fw_ingest *in, int32_t p) {
    if (p < 0)
        return NULL;
    if (p >= in->nparts) {
        int n = p + 1 > 2 * in->nparts ? p + 1 : 2 * in->nparts;
        ipart *np = realloc(in->parts, (size_t)n * sizeof(*np));
        if (!np)
            return NULL;
        memset(np + in->nparts, 0, (size_t)(n - in->nparts) * sizeof(*np));
        in->parts = np;
        in->nparts = n;
    }
    return &in->parts[p];
}

static void drop_pending(fw_ingest *in) {
    for (int i = 0; i < in->npending; i++)
        rd_kafka_message_destroy(in->pending[i]);
    in->npending = 0;
    for (int p = 0; p < in->nparts; p++)
        in->parts[p].touched = false;
}

/* The assigned partitions, for pause, resume and seek. */
static rd_kafka_topic_partition_list_t *assigned_list(fw_ingest *in) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(in->nparts + 1);
    for (int p = 0; p < in->nparts; p++)
        if (in->parts[p].assigned)
            rd_kafka_topic_partition_list_add(l, in->c.topic, p);
    return l;
}

static void start_reseek(fw_ingest *in) {
    if (!in->reseek) {
        rd_kafka_topic_partition_list_t *l = assigned_list(in);
        rd_kafka_pause_partitions(in->rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        in->retry_ms = RETRY_MIN_MS;
    } else if ((in->retry_ms *= 2) > RETRY_MAX_MS) {
        in->retry_ms = RETRY_MAX_MS;
    }
    in->reseek = true;
    in->retry_at_ms = fw_mono_ms() + in->retry_ms;
}

/* Stores the pending batch in one transaction with its partitions' next offsets. */
static bool flush(fw_ingest *in) {
    if (!in->npending)
        return true;
    char err[512], why[256];
    bool ok = fw_store_ok(in->st, err, sizeof(err)) && fw_store_begin(in->st, err, sizeof(err));
    uint64_t alerts = 0, dead = 0;
    for (int i = 0; ok && i < in->npending; i++) {
        rd_kafka_message_t *m = in->pending[i];
        const char *v = m->payload ? m->payload : "";
        if (fw_alert_row_parse(&in->row, v, m->len, why, sizeof(why))) {
            ok = fw_store_put_alert(in->st, &in->row, v, m->len, in->c.topic, m->partition,
                                    m->offset, err, sizeof(err));
            alerts++;
        } else {
            ok = fw_store_put_dead_letter(in->st, v, m->len, why, in->c.topic, m->partition,
                                          m->offset, err, sizeof(err));
            dead++;
            logf_("partition %" PRId32 " offset %" PRId64 ": not an alert (%s): stored in "
                  "dead_letters", m->partition, m->offset, why);
        }
    }
    for (int p = 0; ok && p < in->nparts; p++)
        if (in->parts[p].touched)
            ok = fw_store_set_offset(in->st, in->c.group_id, in->c.topic, p, in->parts[p].next,
                                     err, sizeof(err));
    if (ok)
        ok = fw_store_commit(in->st, err, sizeof(err));
    if (!ok) {
        fw_store_rollback(in->st);
        logf_("the database refused a batch of %d records (%s); reading them again from the "
              "stored offsets once it answers", in->npending, err);
        in->stats.failures++;
        drop_pending(in);
        start_reseek(in);
        return false;
    }
    in->stats.alerts += alerts;
    in->stats.dead_letters += dead;
    in->stats.batches++;
    drop_pending(in);
    return true;
}

/* The stored offsets of @p l's partitions into their .offset (BEGINNING when none). */
static bool stored_offsets(fw_ingest *in, rd_kafka_topic_partition_list_t *l) {
    char err[512];
    int32_t *ps = malloc(((size_t)l->cnt + 1) * sizeof(*ps));
    int64_t *offs = malloc(((size_t)l->cnt + 1) * sizeof(*offs));
    bool ok = ps && offs;
    for (int i = 0; ok && i < l->cnt; i++)
        ps[i] = l->elems[i].partition;
    ok = ok && fw_store_ok(in->st, err, sizeof(err)) &&
         fw_store_offsets(in->st, in->c.group_id, in->c.topic, ps, l->cnt, offs, err,
                          sizeof(err));
    for (int i = 0; ok && i < l->cnt; i++)
        l->elems[i].offset = offs[i] >= 0 ? offs[i] : RD_KAFKA_OFFSET_BEGINNING;
    if (!ok && ps && offs)
        logf_("cannot read the stored offsets (%s): waiting for the database", err);
    free(ps);
    free(offs);
    return ok;
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *l, void *opaque) {
    fw_ingest *in = opaque;
    rd_kafka_error_t *e;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        in->ever_assigned = true;
        bool known = stored_offsets(in, l);
        for (int i = 0; i < l->cnt; i++) {
            ipart *ip = part(in, l->elems[i].partition);
            if (ip)
                *ip = (ipart){ .assigned = true };
        }
        e = rd_kafka_incremental_assign(rk, l);
        if (!known && !e) { /* paused until the database says where to start */
            in->reseek = false;
            start_reseek(in);
        }
        logf_("assigned partitions of %s: %d (stored offsets %s)", in->c.topic, l->cnt,
              known ? "read" : "not read yet");
    } else {
        flush(in); /* before giving them up; a refusal is read again by their next owner */
        for (int i = 0; i < l->cnt; i++) {
            ipart *ip = part(in, l->elems[i].partition);
            if (ip)
                *ip = (ipart){ 0 };
        }
        e = rd_kafka_incremental_unassign(rk, l);
    }
    if (e) {
        logf_("rebalance: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        in->fatal = true;
    }
}

fw_ingest *fw_ingest_new(const fw_ingest_conf *c, fw_store *st, char *errstr,
                         size_t errstr_size) {
    fw_ingest *in = calloc(1, sizeof(*in));
    if (!in || !(in->pending = calloc((size_t)c->batch_max, sizeof(*in->pending)))) {
        free(in);
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    in->c = *c;
    in->st = st;
    rd_kafka_conf_t *conf = fw_kafka_conf_new(c->kafka, errstr, errstr_size);
    if (!conf || fw_kafka_conf_eos_consumer(conf, c->group_id, false, errstr, errstr_size)) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        goto fail;
    }
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_opaque(conf, in);
    if (!(in->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size))) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    rd_kafka_poll_set_consumer(in->rk);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, c->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(in->rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (err) {
        snprintf(errstr, errstr_size, "subscribing to %s: %s", c->topic, rd_kafka_err2str(err));
        goto fail;
    }
    return in;
fail:
    if (in->rk)
        rd_kafka_destroy(in->rk);
    free(in->pending);
    free(in);
    return NULL;
}

/* Back to the stored offsets once the database answers; resumes the partitions. */
static void try_reseek(fw_ingest *in) {
    if (fw_mono_ms() < in->retry_at_ms)
        return;
    rd_kafka_topic_partition_list_t *l = assigned_list(in);
    if (!stored_offsets(in, l)) {
        rd_kafka_topic_partition_list_destroy(l);
        start_reseek(in);
        return;
    }
    rd_kafka_error_t *e = l->cnt ? rd_kafka_seek_partitions(in->rk, l, 10000) : NULL;
    if (e) {
        logf_("seeking to the stored offsets: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        rd_kafka_topic_partition_list_destroy(l);
        start_reseek(in);
        return;
    }
    rd_kafka_resume_partitions(in->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    for (int p = 0; p < in->nparts; p++)
        in->parts[p].at_end = false;
    in->reseek = false;
    logf_("the database answers again: reading from the stored offsets");
}

static bool all_at_end(const fw_ingest *in) {
    int n = 0;
    for (int p = 0; p < in->nparts; p++) {
        if (in->parts[p].assigned && !in->parts[p].at_end)
            return false;
        n += in->parts[p].assigned;
    }
    return n > 0;
}

int fw_ingest_step(fw_ingest *in, int timeout_ms) {
    if (in->reseek)
        try_reseek(in);
    rd_kafka_message_t *m = rd_kafka_consumer_poll(in->rk, timeout_ms);
    if (m) {
        ipart *ip = part(in, m->partition);
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (ip && ip->assigned && !in->reseek)
                ip->at_end = true;
            rd_kafka_message_destroy(m);
        } else if (m->err) {
            logf_("consumer: %s", rd_kafka_message_errstr(m));
            bool fatal = m->err == RD_KAFKA_RESP_ERR__FATAL;
            rd_kafka_message_destroy(m);
            if (fatal)
                return -1;
        } else if (!ip || !ip->assigned || in->reseek) {
            rd_kafka_message_destroy(m); /* read again from the stored offsets */
        } else {
            if (!in->npending)
                in->first_ms = fw_mono_ms();
            in->pending[in->npending++] = m;
            ip->touched = true;
            ip->next = m->offset + 1;
            ip->at_end = false;
        }
    }
    if (in->fatal)
        return -1;
    if (in->npending && (in->npending >= in->c.batch_max ||
                         fw_mono_ms() - in->first_ms >= in->c.batch_ms || all_at_end(in)))
        flush(in);
    if (in->c.exit_at_end && !in->npending && !in->reseek && all_at_end(in))
        return 0;
    return 1;
}

void fw_ingest_close(fw_ingest *in, fw_ingest_stats *stats) {
    if (!in)
        return;
    flush(in);
    /* Closing before the first assignment crashes librdkafka 2.0.2 (as in pipe.c). */
    for (int64_t until = fw_mono_ms() + 10000; !in->ever_assigned && fw_mono_ms() < until;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(in->rk, 100);
        if (m)
            rd_kafka_message_destroy(m); /* not stored: read again next time */
    }
    drop_pending(in);
    rd_kafka_consumer_close(in->rk);
    drop_pending(in);
    rd_kafka_destroy(in->rk);
    if (stats)
        *stats = in->stats;
    fw_alert_row_fini(&in->row);
    free(in->parts);
    free(in->pending);
    free(in);
}
