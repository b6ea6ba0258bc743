/* test_changelog_restore.c — the restore reads a changelog partition on to
 * the commit the group's offsets name, against the real broker.
 *
 * A commit returns before the broker writes its markers. Until they are
 * written, a read_committed read ends before that commit's records, while
 * the group already serves its offsets. At a handover, the new owner then
 * started from the new offsets with the old state, and alerts were lost.
 * Here an open transaction stands in for a commit whose markers are not
 * written yet. A restore that expects an earlier commit must not wait for
 * it. A restore that expects this commit must wait, and it gets the records
 * once the transaction commits. The commit happens in the wait callback, so
 * no step of the test depends on timing. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <librdkafka/rdkafka.h>

#include "changelog_restore.h"
#include "engine.h"
#include "fw_os.h"
#include "fw_skip.h"
#include "gen_model.h"
#include "kafka_conf.h"
#include "topics.h"

#define NTX 600 /* transactions; the first half's changes are committed first */

typedef struct change {
    char *key;
    size_t keylen;
    bool live; /* its latest value is not a tombstone */
} change;

/* The distinct keys written so far, and whether each is live. */
typedef struct keys {
    change *items;
    size_t n, cap;
    rd_kafka_t *producer;
    const char *topic;
    uint64_t records; /* produced, tombstones included */
} keys;

static void on_change(void *opaque, fw_str key, const void *value, size_t len) {
    keys *ks = opaque;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        ks->producer, RD_KAFKA_V_TOPIC(ks->topic), RD_KAFKA_V_PARTITION(0),
        RD_KAFKA_V_KEY(key.ptr, key.len), RD_KAFKA_V_VALUE((void *)value, value ? len : 0),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err)
        fail_msg("produce: %s", rd_kafka_err2str(err));
    ks->records++;
    for (size_t i = 0; i < ks->n; i++)
        if (ks->items[i].keylen == key.len && !memcmp(ks->items[i].key, key.ptr, key.len)) {
            ks->items[i].live = value != NULL;
            return;
        }
    if (ks->n == ks->cap) {
        ks->cap = ks->cap ? ks->cap * 2 : 256;
        ks->items = realloc(ks->items, sizeof(*ks->items) * ks->cap);
        assert_non_null(ks->items);
    }
    change *c = &ks->items[ks->n++];
    c->key = malloc(key.len);
    assert_non_null(c->key);
    memcpy(c->key, key.ptr, key.len);
    c->keylen = key.len;
    c->live = value != NULL;
}

static size_t live_keys(const keys *ks) {
    size_t n = 0;
    for (size_t i = 0; i < ks->n; i++)
        n += ks->items[i].live;
    return n;
}

static void produce_commit_record(rd_kafka_t *p, const char *topic, const char *token) {
    rd_kafka_resp_err_t err = rd_kafka_producev(
        p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
        RD_KAFKA_V_KEY(FW_CHANGELOG_COMMIT_KEY, strlen(FW_CHANGELOG_COMMIT_KEY)),
        RD_KAFKA_V_VALUE((void *)token, strlen(token)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_END);
    if (err)
        fail_msg("produce: %s", rd_kafka_err2str(err));
}

static void on_alert(void *opaque, const fw_alert *a) {
    (void)a;
    ++*(int *)opaque;
}

/* Feeds @p n transactions to @p e and writes its changes in one
 * transaction of @p p with the commit record @p token; left open. */
static void write_changes(fw_engine *e, fw_gen *g, int n, keys *ks, const char *token) {
    int alerts = 0;
    fw_engine_out out = { .opaque = &alerts, .alert = on_alert };
    for (int i = 0; i < n; i++) {
        fw_gen_txn gt;
        assert_true(fw_gen_next(g, &gt));
        char line[FW_GEN_JSON_MAX];
        size_t len = fw_gen_format_json(g, &gt, line);
        fw_txn t;
        fw_decode_error derr;
        fw_arena arena;
        fw_arena_init(&arena, 4096);
        assert_int_equal(fw_txn_decode_json(line, len, &arena, 0, &t, &derr), FW_OK);
        fw_engine_process(e, &t, &out);
        fw_arena_fini(&arena);
    }
    rd_kafka_error_t *error = rd_kafka_begin_transaction(ks->producer);
    if (error)
        fail_msg("begin_transaction: %s", rd_kafka_error_string(error));
    fw_engine_changes(e, on_change, ks);
    produce_commit_record(ks->producer, ks->topic, token);
    rd_kafka_resp_err_t err = rd_kafka_flush(ks->producer, 30000);
    if (err)
        fail_msg("flush: %s", rd_kafka_err2str(err));
}

static void commit(rd_kafka_t *p) {
    rd_kafka_error_t *error = rd_kafka_commit_transaction(p, 30000);
    if (error)
        fail_msg("commit_transaction: %s", rd_kafka_error_string(error));
}

typedef struct waits {
    int n;
    rd_kafka_t *producer; /* commits its open transaction when the restore waits */
    int progress_calls;
    uint64_t progress_records; /* the last on_progress's */
} waits;

static void on_wait(void *opaque, const fw_restore_job *job) {
    waits *w = opaque;
    (void)job;
    w->n++;
    if (w->producer)
        commit(w->producer);
}

static void on_progress(void *opaque, uint64_t records) {
    waits *w = opaque;
    w->progress_calls++;
    w->progress_records = records;
}

/* Restores partition 0 of @p topic into a fresh engine, expecting @p token. */
static size_t restore(rd_kafka_t *reader, const char *topic, const char *token, waits *w) {
    char err[256];
    fw_rules rules;
    fw_rules_defaults(&rules);
    fw_engine *e = fw_engine_new(&rules, err, sizeof(err));
    assert_non_null(e);
    fw_restore_job job = { .topic = topic, .partition = 0, .engine = e, .expect = token };
    fw_restore_hooks hooks = { .on_wait = on_wait, .on_progress = on_progress, .opaque = w };
    w->progress_calls = 0;
    bool ok = fw_changelog_restore_all(reader, &job, 1, "test", &hooks);
    fw_engine_destroy(e);
    if (!ok || !job.ok)
        fail_msg("restore of %s expecting %s failed (ok %d, job.ok %d)", topic,
                 token ? token : "nothing", ok, job.ok);
    return job.keys;
}

static void test_restore_reads_on_to_the_expected_commit(void **state) {
    (void)state;
    char err[512];
    fw_kafka_opts o;
    fw_kafka_opts_init(&o);

    rd_kafka_conf_t *conf = fw_kafka_conf_new(&o, err, sizeof(err));
    assert_non_null(conf);
    char txid[64], topic[96];
    snprintf(txid, sizeof(txid), "test-restore-%ld-%lld", (long)getpid(),
             (long long)fw_wall_ms());
    snprintf(topic, sizeof(topic), "%s-changelog", txid);
    assert_int_equal(fw_kafka_conf_set(conf, "transactional.id", txid, err, sizeof(err)), FW_OK);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!p)
        fail_msg("producer: %s", err);
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(p, 0, NULL, &md, 5000)) {
        rd_kafka_destroy(p);
        FW_SKIP("no Kafka broker answers (scripts/kafka-local start; make test starts one)");
        return;
    }
    rd_kafka_metadata_destroy(md);
    fw_topic_spec spec = { .name = topic, .partitions = 1, .replication_factor = 1,
                           .compacted = true, .must_compact = true };
    if (fw_topics_ensure(&o, &spec, 1, 30000, err, sizeof(err)))
        fail_msg("topic %s: %s", topic, err);
    rd_kafka_error_t *error = rd_kafka_init_transactions(p, 30000);
    if (error)
        fail_msg("init_transactions: %s", rd_kafka_error_string(error));
    rd_kafka_t *reader = fw_kafka_reader_new(&o, "test", "restore", err, sizeof(err));
    if (!reader)
        fail_msg("reader: %s", err);

    fw_gen_conf gc = { .seed = 11, .customers = 200, .fraud_ratio = 0.1,
                       .start_ms = 1704067200000, .count = NTX };
    fw_gen *g = fw_gen_new(&gc, err, sizeof(err));
    assert_non_null(g);
    fw_rules rules;
    fw_rules_defaults(&rules);
    fw_engine *e = fw_engine_new(&rules, err, sizeof(err));
    assert_non_null(e);
    fw_engine_track_changes(e);
    keys ks = { .producer = p, .topic = topic };

    write_changes(e, g, NTX / 2, &ks, "fw1.test.1");
    commit(p);
    size_t first = live_keys(&ks);
    uint64_t first_records = ks.records;
    write_changes(e, g, NTX / 2, &ks, "fw1.test.2"); /* open: its markers "not yet written" */
    size_t both = live_keys(&ks);
    if (both <= first)
        fail_msg("the second transaction adds no keys (%zu, then %zu): the test means nothing",
                 first, both);

    /* The group names the first commit (the second's owner died, say): no wait. */
    waits w = { 0 };
    size_t got = restore(reader, topic, "fw1.test.1", &w);
    if (got != first || w.n != 0)
        fail_msg("expecting the committed transaction: %zu keys (want %zu), %d waits (want 0)",
                 got, first, w.n);
    /* Progress: at least the call at the end of the read and the one after the apply,
     * both counting every changelog record of the commit. */
    if (w.progress_calls < 2 || w.progress_records != first_records)
        fail_msg("progress: %d calls (want >= 2), last said %" PRIu64 " records (want %" PRIu64
                 ")", w.progress_calls, w.progress_records, first_records);
    got = restore(reader, topic, NULL, &w);
    if (got != first || w.n != 0)
        fail_msg("expecting nothing: %zu keys (want %zu), %d waits (want 0)", got, first, w.n);

    /* The group names the second: the restore waits for it, and it commits. */
    w.producer = p;
    got = restore(reader, topic, "fw1.test.2", &w);
    if (got != both || w.n != 1)
        fail_msg("expecting the open transaction: %zu keys (want %zu), %d waits (want 1)", got,
                 both, w.n);
    if (w.progress_records != ks.records)
        fail_msg("progress said %" PRIu64 " records read, want %" PRIu64, w.progress_records,
                 ks.records);

    for (size_t i = 0; i < ks.n; i++)
        free(ks.items[i].key);
    free(ks.items);
    fw_engine_destroy(e);
    fw_gen_destroy(g);
    rd_kafka_destroy(reader);
    rd_kafka_destroy(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restore_reads_on_to_the_expected_commit),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    return FW_SKIP_STATUS(rc);
}
