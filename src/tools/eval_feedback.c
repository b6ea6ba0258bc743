/* eval_feedback.c — `fraudwatch eval --feedback FILE|TOPIC`: each rule
 * version's precision from the analysts' verdicts, as the console publishes
 * them (docs/api.md). A file is read as NDJSON; anything else is a topic,
 * read read_committed from its beginning to its end. The latest record of
 * an alert counts, as on the compacted topic. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eval_int.h"
#include "feedback.h"
#include "fw_os.h"
#include "kafka_conf.h"

/* Reports a refused record once per reason kind, and counts the rest. */
static void add(fw_feedback_tally *t, const char *p, size_t n, const char *where,
                uint64_t at) {
    char why[160];
    if (!fw_feedback_tally_add(t, p, n, why, sizeof(why)) && fw_feedback_tally_bad(t) <= 5)
        fprintf(stderr, "fraudwatch eval: %s %" PRIu64 ": not feedback (%s): skipped\n", where,
                at, why);
}

static bool read_file(fw_feedback_tally *t, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "fraudwatch eval: --feedback %s: cannot open it\n", path);
        return false;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t no = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        no++;
        size_t len = fw_line_record_len(line, (size_t)n);
        if (len)
            add(t, line, len, "line", no);
    }
    free(line);
    bool ok = !ferror(f);
    fclose(f);
    if (!ok)
        fprintf(stderr, "fraudwatch eval: --feedback %s: read error\n", path);
    return ok;
}

static bool read_topic(fw_feedback_tally *t, const fw_kafka_opts *k, const char *topic) {
    char err[512];
    rd_kafka_t *rk = fw_kafka_reader_new(k, "eval", "feedback", err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "fraudwatch eval: --feedback %s: %s\n", topic, err);
        return false;
    }
    bool ok = false;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    rd_kafka_topic_destroy(rkt);
    if (e || md->topic_cnt != 1 || md->topics[0].err) {
        fprintf(stderr, "fraudwatch eval: --feedback %s: not a file, and as a topic: %s\n",
                topic, rd_kafka_err2str(e ? e : md->topic_cnt ? md->topics[0].err
                                                              : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
        goto out;
    }
    int np = md->topics[0].partition_cnt, at_end = 0;
    parts = rd_kafka_topic_partition_list_new(np);
    for (int i = 0; i < np; i++)
        rd_kafka_topic_partition_list_add(parts, topic, md->topics[0].partitions[i].id)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    if ((e = rd_kafka_assign(rk, parts))) {
        fprintf(stderr, "fraudwatch eval: --feedback %s: assign: %s\n", topic,
                rd_kafka_err2str(e));
        goto out;
    }
    for (int64_t deadline = fw_mono_ms() + 60000; at_end < np;) {
        if (fw_mono_ms() > deadline) {
            fprintf(stderr, "fraudwatch eval: --feedback %s: not read to its end in 60 s\n",
                    topic);
            goto out;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            at_end++;
        else if (m->err)
            fprintf(stderr, "fraudwatch eval: --feedback %s: %s\n", topic,
                    rd_kafka_message_errstr(m));
        else if (m->payload) /* a tombstone deletes nothing here: verdicts are not retracted */
            add(t, m->payload, m->len, "offset", (uint64_t)m->offset);
        rd_kafka_message_destroy(m);
    }
    ok = true;
out:
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return ok;
}

static void write_json(FILE *f, const char *source, const fw_feedback_tally *t,
                       const fw_feedback_row *rows, size_t n) {
    fw_buf b;
    fw_buf_init(&b, 0);
    fw_buf_puts(&b, "{\"source\":");
    fw_buf_json_str(&b, fw_str_c(source));
    fw_buf_printf(&b, ",\"alerts\":%" PRIu64 ",\"refused\":%" PRIu64 ",\"rules\":[",
                  fw_feedback_tally_alerts(t), fw_feedback_tally_bad(t));
    for (size_t i = 0; i < n; i++) {
        const fw_feedback_row *r = &rows[i];
        fw_buf_puts(&b, i ? ",{\"rule\":" : "{\"rule\":");
        fw_buf_json_str(&b, fw_str_c(r->rule));
        if (r->rule_version == INT64_MIN)
            fw_buf_puts(&b, ",\"rule_version\":null");
        else
            fw_buf_printf(&b, ",\"rule_version\":%" PRId64, r->rule_version);
        fw_buf_printf(&b, ",\"shadow\":%s,\"confirmed_fraud\":%" PRIu64 ",\"false_positive\":%"
                      PRIu64 ",\"not_sure\":%" PRIu64 ",\"precision\":",
                      r->shadow ? "true" : "false", r->confirmed, r->false_positive, r->not_sure);
        double p = fw_feedback_precision(r);
        if (p < 0)
            fw_buf_puts(&b, "null");
        else
            fw_buf_json_double(&b, p);
        fw_buf_putc(&b, '}');
    }
    fw_buf_puts(&b, "]}\n");
    fwrite(b.data, 1, b.len, f);
    fw_buf_fini(&b);
}

int eval_feedback(const eval_opts *o, FILE *out) {
    fw_feedback_tally *t = fw_feedback_tally_new();
    if (!t) {
        fprintf(stderr, "fraudwatch eval: out of memory\n");
        return 1;
    }
    bool file = access(o->feedback, F_OK) == 0;
    bool ok = file ? read_file(t, o->feedback) : read_topic(t, &o->kafka, o->feedback);
    int rc = 1;
    if (ok) {
        size_t n;
        const fw_feedback_row *rows = fw_feedback_tally_rows(t, &n);
        fprintf(out, "verdicts from %s %s: %" PRIu64 " alerts judged (each alert's latest "
                "verdict), %" PRIu64 " records not feedback\n", file ? "file" : "topic",
                o->feedback, fw_feedback_tally_alerts(t), fw_feedback_tally_bad(t));
        fprintf(out, "%-24s %8s %6s %10s %10s %9s %10s\n", "rule", "version", "shadow",
                "confirmed", "false pos.", "not sure", "precision");
        for (size_t i = 0; i < n; i++) {
            const fw_feedback_row *r = &rows[i];
            char version[24] = "-", precision[16] = "-";
            if (r->rule_version != INT64_MIN)
                snprintf(version, sizeof(version), "%" PRId64, r->rule_version);
            double p = fw_feedback_precision(r);
            if (p >= 0)
                snprintf(precision, sizeof(precision), "%.4f", p);
            fprintf(out, "%-24s %8s %6s %10" PRIu64 " %10" PRIu64 " %9" PRIu64 " %10s\n", r->rule,
                    version, r->shadow ? "yes" : "no", r->confirmed, r->false_positive,
                    r->not_sure, precision);
        }
        fprintf(out, "precision = confirmed / (confirmed + false positives); not sure is left "
                "out\n");
        rc = 0;
        if (o->json_file) {
            FILE *jf = !strcmp(o->json_file, "-") ? stdout : fopen(o->json_file, "w");
            if (!jf) {
                fprintf(stderr, "fraudwatch eval: --json %s: cannot write it\n", o->json_file);
                rc = 1;
            } else {
                write_json(jf, o->feedback, t, rows, n);
                if (jf != stdout && fclose(jf)) {
                    fprintf(stderr, "fraudwatch eval: --json %s: write error\n", o->json_file);
                    rc = 1;
                }
            }
        }
    }
    fw_feedback_tally_free(t);
    return rc;
}
