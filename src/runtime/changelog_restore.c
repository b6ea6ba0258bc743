/* changelog_restore.c — reads a changelog partition to its end and restores
 * the latest value of every key into an engine. Failover waits for this, so
 * it is built for speed: messages come in batches, their bytes are copied
 * into one growing arena (no allocation per record), and an open-addressing
 * table over the keys keeps the last record of each; the winners are then
 * restored in log order. The copies live only for the restore. */
#include "changelog_restore.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_hash.h"
#include "fw_os.h"

#define FW_RESTORE_TIMEOUT_MS 300000 /* a partition not at its end by then fails */
#define FW_RESTORE_BATCH 4096        /* messages taken from the queue at once */
#define FW_RESTORE_WAIT_MS 10        /* a batch call waits this long for a full batch:
                                        short, or the last one costs its whole wait */
#define FW_RESTORE_PROGRESS_MS 1000  /* fw_restore_hooks.progress_ms by default */

typedef struct changelog_rec {
    size_t off;       /* key, then value, in the arena */
    uint32_t keylen;
    uint32_t len;     /* of the value */
    bool tombstone;
    bool latest;      /* no later record of this key in the log */
} changelog_rec;

typedef struct restore_buf {
    changelog_rec *recs;
    size_t n, cap;
    char *arena;      /* grows by doubling: pointers into it are taken only at the end */
    size_t used, size;
} restore_buf;

static bool buf_add(restore_buf *b, const rd_kafka_message_t *m) {
    size_t need = m->key_len + (m->payload ? m->len : 0);
    if (m->key_len > UINT32_MAX || m->len > UINT32_MAX || b->n >= UINT32_MAX - 1)
        return false; /* mark_latest keeps 32-bit indexes */
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 65536;
        changelog_rec *r = realloc(b->recs, sizeof(*r) * cap);
        if (!r)
            return false;
        b->recs = r;
        b->cap = cap;
    }
    if (b->size - b->used < need) {
        size_t size = b->size ? b->size : (size_t)4 << 20;
        while (size - b->used < need)
            size *= 2;
        char *a = realloc(b->arena, size);
        if (!a)
            return false;
        b->arena = a;
        b->size = size;
    }
    changelog_rec *r = &b->recs[b->n++];
    r->off = b->used;
    r->keylen = (uint32_t)m->key_len;
    r->len = m->payload ? (uint32_t)m->len : 0;
    r->tombstone = !m->payload;
    r->latest = false;
    memcpy(b->arena + b->used, m->key, m->key_len);
    if (m->payload && m->len)
        memcpy(b->arena + b->used + m->key_len, m->payload, m->len);
    b->used += need;
    return true;
}

/* Marks the last record of every key: one pass over the log with a table
 * (load at most 1/2, linear probing) whose slots hold 32 bits of the key's
 * hash beside the record's index + 1, so a probe touches the record and its
 * key only when the hashes agree (at millions of records, cache misses are
 * the cost). */
static bool mark_latest(restore_buf *b) {
    size_t slots = 16;
    while (slots < b->n * 2)
        slots *= 2;
    uint64_t *table = calloc(slots, sizeof(*table)); /* 0: empty */
    if (!table)
        return false;
    for (size_t i = 0; i < b->n; i++) {
        const changelog_rec *r = &b->recs[i];
        const char *key = b->arena + r->off;
        uint64_t h = fw_hash64(key, r->keylen, 0);
        uint64_t tag = h & 0xffffffff00000000ULL;
        for (size_t s = (size_t)h & (slots - 1);; s = (s + 1) & (slots - 1)) {
            uint64_t v = table[s];
            if (v && (v & 0xffffffff00000000ULL) == tag) {
                const changelog_rec *o = &b->recs[(uint32_t)v - 1];
                if (o->keylen != r->keylen || memcmp(b->arena + o->off, key, r->keylen))
                    continue;
            } else if (v) {
                continue;
            }
            table[s] = tag | (uint64_t)(i + 1); /* the later record wins */
            break;
        }
    }
    for (size_t s = 0; s < slots; s++)
        if (table[s])
            b->recs[(uint32_t)table[s] - 1].latest = true;
    free(table);
    return true;
}

/* One partition being read back: where its records go. */
typedef struct restore_slot {
    fw_restore_job *job;
    restore_buf buf;
    bool reading;     /* assigned, not at its end yet */
    bool seen;        /* its expected commit's record was read (or none is expected) */
    int64_t waiting;  /* when its end came before that record; 0: it has not */
    int64_t t0, t_read;
} restore_slot;

static bool is_commit_record(const rd_kafka_message_t *m) {
    return m->key_len == sizeof(FW_CHANGELOG_COMMIT_KEY) - 1 &&
           !memcmp(m->key, FW_CHANGELOG_COMMIT_KEY, m->key_len);
}

static restore_slot *slot_of(restore_slot *slots, size_t n, size_t *hint,
                             const rd_kafka_message_t *m) {
    const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : NULL;
    if (!topic)
        return NULL;
    for (size_t k = 0; k < n; k++) {
        size_t i = (*hint + k) % n; /* records come in runs of one partition */
        if (slots[i].reading && slots[i].job->partition == m->partition &&
            !strcmp(slots[i].job->topic, topic)) {
            *hint = i;
            return &slots[i];
        }
    }
    return NULL; /* after its end, or a leftover of an earlier restore: not ours */
}

static uint64_t records_read(const restore_slot *slots, size_t n) {
    uint64_t records = 0;
    for (size_t i = 0; i < n; i++)
        records += slots[i].buf.n;
    return records;
}

/* Reads every assigned slot to its end, all at once: one round of broker
 * latency for all of them, not one each. */
static bool read_all(rd_kafka_t *reader, restore_slot *slots, size_t n, size_t reading,
                     const char *instance_id, const fw_restore_hooks *hooks) {
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(reader);
    rd_kafka_message_t *msgs[FW_RESTORE_BATCH];
    bool ok = true;
    size_t hint = 0;
    int64_t deadline = fw_mono_ms() + FW_RESTORE_TIMEOUT_MS;
    int64_t every = hooks && hooks->progress_ms > 0 ? hooks->progress_ms
                                                    : FW_RESTORE_PROGRESS_MS;
    int64_t told = fw_mono_ms();
    while (reading > 0 && ok) {
        if (hooks && hooks->on_progress && fw_mono_ms() - told >= every) {
            told = fw_mono_ms();
            hooks->on_progress(hooks->opaque, records_read(slots, n));
        }
        if (fw_mono_ms() > deadline) {
            for (size_t i = 0; i < n; i++)
                if (slots[i].reading)
                    fw_log(instance_id, "restore %s[%" PRId32 "]: not at the end after %d s",
                           slots[i].job->topic, slots[i].job->partition,
                           FW_RESTORE_TIMEOUT_MS / 1000);
            ok = false;
            break;
        }
        ssize_t got = rd_kafka_consume_batch_queue(q, FW_RESTORE_WAIT_MS, msgs,
                                                   FW_RESTORE_BATCH);
        if (got < 0) {
            fw_log(instance_id, "restore: %s", rd_kafka_err2str(rd_kafka_last_error()));
            ok = false;
            break;
        }
        for (ssize_t i = 0; i < got; i++) {
            rd_kafka_message_t *m = msgs[i];
            restore_slot *sl = ok ? slot_of(slots, n, &hint, m) : NULL;
            if (!sl) {
                /* not ours */
            } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF && !sl->seen) {
                /* The end of what is committed and marked: the expected
                 * commit's markers are not written yet. They come (it did
                 * commit), and with them its records and another end. */
                if (!sl->waiting) {
                    sl->waiting = fw_mono_ms();
                    fw_log(instance_id, "restore %s[%" PRId32 "]: at offset %" PRId64 ", "
                           "waiting for the records of commit %s, which the group's "
                           "offsets already name", sl->job->topic, m->partition, m->offset,
                           sl->job->expect);
                    if (hooks && hooks->on_wait)
                        hooks->on_wait(hooks->opaque, sl->job);
                }
            } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                sl->reading = false;
                sl->t_read = fw_mono_ms();
                if (sl->waiting)
                    fw_log(instance_id, "restore %s[%" PRId32 "]: commit %s read after "
                           "waiting %" PRId64 " ms", sl->job->topic, m->partition,
                           sl->job->expect, sl->t_read - sl->waiting);
                reading--;
            } else if (m->err) {
                fw_log(instance_id, "restore %s[%" PRId32 "]: %s", sl->job->topic,
                       m->partition, rd_kafka_message_errstr(m));
            } else if (is_commit_record(m)) {
                if (!sl->seen && m->payload && m->len == strlen(sl->job->expect) &&
                    !memcmp(m->payload, sl->job->expect, m->len))
                    sl->seen = true;
            } else if (m->key_len > 0 && !buf_add(&sl->buf, m)) {
                fw_log(instance_id, "restore %s[%" PRId32 "]: out of memory at %zu records",
                       sl->job->topic, m->partition, sl->buf.n);
                ok = false;
            }
            rd_kafka_message_destroy(m);
        }
    }
    rd_kafka_queue_destroy(q);
    if (ok && hooks && hooks->on_progress)
        hooks->on_progress(hooks->opaque, records_read(slots, n));
    return ok;
}

/* The latest record of every key into the slot's engine. */
static bool apply_slot(restore_slot *sl, const char *instance_id) {
    fw_restore_job *j = sl->job;
    restore_buf *b = &sl->buf;
    int64_t t_mark = fw_mono_ms();
    if (b->n && !mark_latest(b)) {
        fw_log(instance_id, "restore %s[%" PRId32 "]: out of memory", j->topic, j->partition);
        return false;
    }
    int64_t t_marked = fw_mono_ms();
    size_t keys = 0, bad = 0;
    for (size_t i = 0; i < b->n; i++) {
        const changelog_rec *r = &b->recs[i];
        if (!r->latest || r->tombstone)
            continue;
        char err2[256];
        const char *key = b->arena + r->off;
        if (fw_engine_restore(j->engine, (fw_str){ key, r->keylen }, key + r->keylen, r->len,
                              err2, sizeof(err2)) != FW_OK) {
            if (bad++ < 5)
                fw_log(instance_id, "restore %s[%" PRId32 "]: skipped a record: %s", j->topic,
                       j->partition, err2);
        } else {
            keys++;
        }
    }
    j->keys = keys;
    int64_t now = fw_mono_ms();
    fw_log(instance_id,
           "restored partition %" PRId32 ": %zu keys from %zu changelog records in %" PRId64
           " ms (read %" PRId64 " ms, applied %" PRId64 " ms, of which %" PRId64
           " ms finding each key's latest record)",
           j->partition, keys, b->n, now - sl->t0, sl->t_read - sl->t0, now - sl->t_read,
           t_marked - t_mark);
    return true;
}

bool fw_changelog_restore_all(rd_kafka_t *reader, fw_restore_job *jobs, size_t n,
                              const char *instance_id, const fw_restore_hooks *hooks) {
    if (n == 0)
        return true;
    restore_slot *slots = calloc(n, sizeof(*slots));
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new((int)n);
    bool ok = slots && parts;
    size_t reading = 0;
    int64_t t0 = fw_mono_ms();
    for (size_t i = 0; ok && i < n; i++) {
        jobs[i].keys = 0;
        jobs[i].ok = false;
        slots[i].job = &jobs[i];
        slots[i].t0 = t0;
        slots[i].seen = !jobs[i].expect || !jobs[i].expect[0];
        int64_t lo = 0, hi = 0;
        rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
            reader, jobs[i].topic, jobs[i].partition, &lo, &hi, 30000);
        if (err) {
            fw_log(instance_id, "restore %s[%" PRId32 "]: %s", jobs[i].topic,
                   jobs[i].partition, rd_kafka_err2str(err));
            ok = false;
        } else if (hi > lo) {
            rd_kafka_topic_partition_list_add(parts, jobs[i].topic, jobs[i].partition)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
            slots[i].reading = true;
            reading++;
        } else {
            if (!slots[i].seen) /* cleaned away? the commit record is never deleted */
                fw_log(instance_id, "restore %s[%" PRId32 "]: empty, though the committed "
                       "offsets name commit %s; starting with no state", jobs[i].topic,
                       jobs[i].partition, jobs[i].expect);
            jobs[i].ok = true; /* nothing logged yet */
        }
    }
    if (ok && reading) {
        rd_kafka_resp_err_t err = rd_kafka_assign(reader, parts);
        if (err) {
            fw_log(instance_id, "restore: assign: %s", rd_kafka_err2str(err));
            ok = false;
        } else {
            ok = read_all(reader, slots, n, reading, instance_id, hooks);
            rd_kafka_assign(reader, NULL);
        }
    }
    for (size_t i = 0; ok && i < n; i++) {
        if (parts && slots[i].t_read) { /* it was read: apply it */
            jobs[i].ok = apply_slot(&slots[i], instance_id);
            if (hooks && hooks->on_progress) /* applying is alive too */
                hooks->on_progress(hooks->opaque, records_read(slots, n));
        }
    }
    for (size_t i = 0; slots && i < n; i++) {
        free(slots[i].buf.recs);
        free(slots[i].buf.arena);
        ok = ok && jobs[i].ok;
    }
    free(slots);
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    return ok;
}
