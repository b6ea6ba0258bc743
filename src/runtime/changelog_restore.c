/* changelog_restore.c — reads a changelog partition to its end and restores
 * the latest value of every key into an engine. Records are collected, then
 * sorted by key and log position, so the last record of each key wins without
 * a hash table; the copies live only for the restore. */
#include "changelog_restore.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_os.h"

#define FW_RESTORE_TIMEOUT_MS 300000 /* a partition not at its end by then fails */

typedef struct changelog_rec {
    char *key;
    size_t keylen;
    char *value;             /* NULL: tombstone */
    size_t len;
    size_t seq;              /* position in the log: the later record wins */
} changelog_rec;

static int rec_cmp(const void *a, const void *b) {
    const changelog_rec *x = a, *y = b;
    size_t n = x->keylen < y->keylen ? x->keylen : y->keylen;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    if (x->keylen != y->keylen)
        return x->keylen < y->keylen ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

bool fw_changelog_restore(rd_kafka_t *reader, const char *topic, int32_t partition,
                          fw_engine *e, const char *instance_id, size_t *keys_out) {
    int64_t lo = 0, hi = 0, t0 = fw_mono_ms();
    if (keys_out)
        *keys_out = 0;
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(reader, topic, partition, &lo, &hi, 30000);
    if (err) {
        fw_log(instance_id, "restore %s[%" PRId32 "]: %s", topic, partition,
              rd_kafka_err2str(err));
        return false;
    }
    if (hi <= lo)
        return true; /* nothing logged yet */
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic, partition)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
    err = rd_kafka_assign(reader, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (err) {
        fw_log(instance_id, "restore %s[%" PRId32 "]: assign: %s", topic, partition,
              rd_kafka_err2str(err));
        return false;
    }
    changelog_rec *recs = NULL;
    size_t n = 0, cap = 0;
    bool ok = true, done = false;
    int64_t deadline = fw_mono_ms() + FW_RESTORE_TIMEOUT_MS;
    while (!done && ok) {
        if (fw_mono_ms() > deadline) {
            fw_log(instance_id, "restore %s[%" PRId32 "]: not at the end after %d s", topic,
                  partition, FW_RESTORE_TIMEOUT_MS / 1000);
            ok = false;
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(reader, 500);
        if (!m)
            continue;
        if (m->partition != partition) {
            /* a leftover of an earlier restore: not this partition's */
        } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            done = true;
        } else if (m->err) {
            fw_log(instance_id, "restore %s[%" PRId32 "]: %s", topic, partition,
                  rd_kafka_message_errstr(m));
        } else if (m->key_len > 0) {
            if (n == cap) {
                cap = cap ? cap * 2 : 1024;
                changelog_rec *r = realloc(recs, sizeof(*r) * cap);
                if (!r) {
                    ok = false;
                    rd_kafka_message_destroy(m);
                    break;
                }
                recs = r;
            }
            changelog_rec *r = &recs[n];
            r->key = malloc(m->key_len);
            r->value = m->payload ? malloc(m->len ? m->len : 1) : NULL;
            if (!r->key || (m->payload && !r->value)) {
                free(r->key);
                free(r->value);
                ok = false;
            } else {
                memcpy(r->key, m->key, m->key_len);
                r->keylen = m->key_len;
                if (m->payload)
                    memcpy(r->value, m->payload, m->len);
                r->len = m->len;
                r->seq = n++;
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(reader, NULL);
    if (n) /* none when every record read was of an aborted transaction */
        qsort(recs, n, sizeof(*recs), rec_cmp);
    size_t keys = 0, bad = 0;
    for (size_t i = 0; ok && i < n; i++) {
        if (i + 1 < n && recs[i].keylen == recs[i + 1].keylen &&
            !memcmp(recs[i].key, recs[i + 1].key, recs[i].keylen))
            continue; /* a later record of the same key follows */
        if (!recs[i].value)
            continue;
        char err2[256];
        if (fw_engine_restore(e, (fw_str){ recs[i].key, recs[i].keylen }, recs[i].value,
                              recs[i].len, err2, sizeof(err2)) != FW_OK) {
            if (bad++ < 5)
                fw_log(instance_id, "restore %s[%" PRId32 "]: skipped a record: %s", topic,
                      partition, err2);
        } else {
            keys++;
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(recs[i].key);
        free(recs[i].value);
    }
    free(recs);
    if (keys_out)
        *keys_out = keys;
    if (ok)
        fw_log(instance_id,
              "restored partition %" PRId32 ": %zu keys from %zu changelog records in %"
              PRId64 " ms",
              partition, keys, n, fw_mono_ms() - t0);
    return ok;
}
