/* bench_restore.c — `fraudwatch bench --restore`: how fast a fresh engine
 * takes its state back from the changelog, without Kafka. One pass writes
 * the changelog as the runtime does (the changes every commit's worth of
 * records), kept as a compacted topic keeps it (the latest record of each
 * key); then a fresh engine applies it, timed, as a task's restore does once
 * the records are read (changelog_restore.c). The Kafka side, reading the
 * records from the broker, is scripts/bench-restore's. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_restore.h"
#include "fw_hash.h"
#include "fw_os.h"

/* Records per simulated commit: about a 100 ms commit interval at 40 k/s. */
#define COMMIT_EVERY 4096

/* The log: records appended in order; a hash of key -> latest index. */
typedef struct log_rec {
    size_t off;      /* key bytes, then value bytes, in log.bytes */
    uint32_t keylen, len;
    bool tombstone, latest;
} log_rec;

typedef struct clog {
    char *bytes;
    size_t nbytes, cap;
    log_rec *recs;
    size_t n, rcap;
    bool oom;
} clog;

static void clog_put(void *opaque, fw_str key, const void *value, size_t len) {
    clog *l = opaque;
    if (l->oom)
        return;
    size_t need = l->nbytes + key.len + len;
    if (need > l->cap) {
        size_t cap = l->cap ? l->cap : 1 << 20;
        while (cap < need)
            cap *= 2;
        char *b = realloc(l->bytes, cap);
        if (!b) {
            l->oom = true;
            return;
        }
        l->bytes = b;
        l->cap = cap;
    }
    if (l->n == l->rcap) {
        size_t cap = l->rcap ? 2 * l->rcap : 65536;
        log_rec *r = realloc(l->recs, cap * sizeof(*r));
        if (!r) {
            l->oom = true;
            return;
        }
        l->recs = r;
        l->rcap = cap;
    }
    log_rec *r = &l->recs[l->n++];
    *r = (log_rec){ .off = l->nbytes, .keylen = (uint32_t)key.len, .len = (uint32_t)len,
                    .tombstone = value == NULL };
    memcpy(l->bytes + l->nbytes, key.ptr, key.len);
    if (value)
        memcpy(l->bytes + l->nbytes + key.len, value, len);
    l->nbytes = need;
}

/* Marks the latest record of each key (open addressing on a key hash). */
static bool mark_latest(clog *l) {
    size_t cap = 1;
    while (cap < 2 * l->n + 2)
        cap *= 2;
    size_t *slot = malloc(cap * sizeof(*slot));
    if (!slot)
        return false;
    memset(slot, 0xff, cap * sizeof(*slot));
    for (size_t i = 0; i < l->n; i++) {
        log_rec *r = &l->recs[i];
        const char *k = l->bytes + r->off;
        size_t h = (size_t)fw_hash64(k, r->keylen, 0) & (cap - 1);
        for (;; h = (h + 1) & (cap - 1)) {
            if (slot[h] == SIZE_MAX) {
                slot[h] = i;
                r->latest = true;
                break;
            }
            log_rec *o = &l->recs[slot[h]];
            if (o->keylen == r->keylen && !memcmp(l->bytes + o->off, k, r->keylen)) {
                o->latest = false;
                slot[h] = i;
                r->latest = true;
                break;
            }
        }
    }
    free(slot);
    return true;
}

static void no_alert(void *opaque, const fw_alert *a, fw_str key, fw_str json) {
    (void)opaque, (void)a, (void)key, (void)json;
}

static void no_dead_letter(void *opaque, const fw_dead_letter *dl) { (void)opaque, (void)dl; }

bool fw_bench_restore(const char *data, const size_t *off, size_t n, const fw_pipeline_conf *pc) {
    char errstr[512];
    fw_pipeline *p = fw_pipeline_new(pc, errstr, sizeof(errstr));
    if (!p) {
        fprintf(stderr, "fraudwatch bench: %s\n", errstr);
        return false;
    }
    fw_engine *e = fw_pipeline_engine(p);
    fw_engine_track_changes(e);
    clog l = { 0 };
    fw_pipeline_out po = { .alert = no_alert, .dead_letter = no_dead_letter };
    fw_source_ref src = { .file = "bench" };
    for (size_t i = 0; i < n; i++) {
        src.line = (int64_t)i + 1;
        fw_pipeline_process(p, data + off[i], off[i + 1] - off[i] - 1, &src, &po);
        if ((i + 1) % COMMIT_EVERY == 0)
            fw_engine_changes(e, clog_put, &l);
    }
    fw_engine_changes(e, clog_put, &l);
    uint64_t keys_live = fw_engine_keys(e);
    fw_pipeline_destroy(p);
    bool ok = !l.oom && mark_latest(&l);
    size_t latest = 0, bytes = 0;
    for (size_t i = 0; ok && i < l.n; i++)
        if (l.recs[i].latest && !l.recs[i].tombstone) {
            latest++;
            bytes += l.recs[i].keylen + l.recs[i].len;
        }
    fw_engine *fresh = ok ? fw_engine_new(&pc->rules, errstr, sizeof(errstr)) : NULL;
    if (fresh && pc->lang && fw_engine_set_lang(fresh, pc->lang, errstr, sizeof(errstr))) {
        fw_engine_destroy(fresh);
        fresh = NULL;
    }
    if (!fresh) {
        fprintf(stderr, "fraudwatch bench: restore: %s\n", ok ? errstr : "out of memory");
        free(l.bytes);
        free(l.recs);
        return false;
    }
    size_t bad = 0;
    double t0 = fw_mono_s();
    for (size_t i = 0; i < l.n; i++) {
        const log_rec *r = &l.recs[i];
        if (!r->latest || r->tombstone)
            continue;
        const char *k = l.bytes + r->off;
        bad += fw_engine_restore(fresh, (fw_str){ k, r->keylen }, k + r->keylen, r->len, errstr,
                                 sizeof(errstr)) != FW_OK;
    }
    double dt = fw_mono_s() - t0;
    printf("  restore (no Kafka): %zu changelog records written for %zu transactions (%.2f "
           "each, a commit every %d); the latest of each key: %zu records, %.1f MB, applied "
           "to a fresh engine in %.2f s: %.0f records/s (%.2f us each), %" PRIu64
           " keys of state; %zu not read\n",
           l.n, n, (double)l.n / (double)n, COMMIT_EVERY, latest, (double)bytes / 1e6, dt,
           dt > 0 ? (double)latest / dt : 0.0, latest ? dt * 1e6 / (double)latest : 0.0,
           fw_engine_keys(fresh), bad);
    if (fw_engine_keys(fresh) != keys_live)
        printf("  restore: %" PRIu64 " keys restored, %" PRIu64 " at the end of the input\n",
               fw_engine_keys(fresh), keys_live);
    fw_engine_destroy(fresh);
    free(l.bytes);
    free(l.recs);
    return bad == 0;
}
