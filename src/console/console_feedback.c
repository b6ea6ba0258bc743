/* console_feedback.c — the outbox to the alert-feedback topic
 * (console_feedback.h). */
#include "console_feedback.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topics.h"

#define BATCH 1000
#define FLUSH_MS 10000

struct fw_feedback {
    rd_kafka_t *rk;
    char *topic;
    int64_t acked[BATCH]; /* outbox seqs the broker acknowledged in this round */
    int nacked, nfailed;
    char failure[256];
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    fw_feedback *f = opaque;
    int64_t seq = (int64_t)(intptr_t)m->_private;
    if (!m->err && f->nacked < BATCH) {
        f->acked[f->nacked++] = seq;
    } else if (m->err) {
        f->nfailed++;
        snprintf(f->failure, sizeof(f->failure), "%s", rd_kafka_err2str(m->err));
    }
}

fw_feedback *fw_feedback_new(const fw_kafka_opts *kafka, const char *topic, char *errstr,
                             size_t errstr_size) {
    fw_topic_spec spec = { .name = topic, .partitions = 3, .replication_factor = -1,
                           .compacted = true };
    if (fw_topics_ensure(kafka, &spec, 1, 30000, errstr, errstr_size))
        return NULL;
    fw_feedback *f = calloc(1, sizeof(*f));
    rd_kafka_conf_t *conf = f ? fw_kafka_conf_new(kafka, errstr, errstr_size) : NULL;
    if (!conf || fw_kafka_conf_set(conf, "enable.idempotence", "true", errstr, errstr_size)) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        free(f);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, f);
    if (!(f->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size)) ||
        !(f->topic = strdup(topic))) {
        if (!f->rk)
            rd_kafka_conf_destroy(conf);
        fw_feedback_free(f);
        return NULL;
    }
    return f;
}

typedef struct send_ctx {
    fw_feedback *f;
    int sent;
    rd_kafka_resp_err_t err;
} send_ctx;

static void send_one(void *ctx, int64_t seq, const char *alert_id, const char *body,
                     size_t len) {
    send_ctx *c = ctx;
    if (c->err)
        return;
    c->err = rd_kafka_producev(c->f->rk, RD_KAFKA_V_TOPIC(c->f->topic),
                               RD_KAFKA_V_KEY(alert_id, strlen(alert_id)),
                               RD_KAFKA_V_VALUE((void *)body, len),
                               RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                               RD_KAFKA_V_OPAQUE((void *)(intptr_t)seq), RD_KAFKA_V_END);
    if (!c->err)
        c->sent++;
}

int fw_feedback_publish(fw_feedback *f, fw_store *st, char *errstr, size_t errstr_size) {
    f->nacked = f->nfailed = 0;
    send_ctx c = { .f = f };
    int n = fw_store_outbox_unsent(st, BATCH, send_one, &c, errstr, errstr_size);
    if (n <= 0)
        return n;
    rd_kafka_flush(f->rk, FLUSH_MS);
    for (int i = 0; i < f->nacked; i++)
        if (!fw_store_outbox_sent(st, f->acked[i], errstr, errstr_size))
            return -1;
    if (c.err || f->nfailed || f->nacked < c.sent) {
        snprintf(errstr, errstr_size, "%d of %d verdicts not acknowledged by the broker (%s); "
                 "sent again later", n - f->nacked, n,
                 c.err ? rd_kafka_err2str(c.err) : f->nfailed ? f->failure : "timed out");
        return -1;
    }
    return f->nacked;
}

void fw_feedback_free(fw_feedback *f) {
    if (!f)
        return;
    if (f->rk) {
        rd_kafka_flush(f->rk, FLUSH_MS);
        rd_kafka_destroy(f->rk);
    }
    free(f->topic);
    free(f);
}
