/* kafka_runtime.c — the exactly-once processing loop.
 *
 * One Kafka transaction per commit interval carries every alert, every dead
 * letter and the input offsets of the records they came from. A crash before
 * the commit leaves an aborted transaction that read_committed consumers never
 * see, and the input is re-read from the committed offsets. Errors follow
 * librdkafka's classes: retriable (retry), abortable (abort, rewind every task
 * to its committed offset), fatal (stop). Rebalances are cooperative: the
 * open transaction is committed before partitions are given up. */
#include "kafka_runtime.h"

#include <inttypes.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "changelog_restore.h"
#include "lang_live.h"
#include "lang_rules.h"
#include "memlimit.h"
#include "metrics.h"
#include "repartition.h"
#include "stage.h"
#include "profiles_follow.h"
#include "rules_file.h"
#include "backfill.h"
#include "rules_follow.h"
#include "topics.h"
#include "fw_hash.h"
#include "fw_os.h"
#include "fw_time.h"

#define FW_MAX_BATCH 10000       /* records handled between two polls that may wait */
#define FW_CLOCK_EVERY 64        /* records handled between two reads of the clock: a read
                                    per record was 4 % of the engine's time (perf) */
#define FW_TXN_RETRIES 10
#define FW_CLOSE_WAIT_MS 10000

typedef struct fw_task {
    int src;                 /* its source: 0 the input, else a stage's repartition topic */
    int32_t partition;
    fw_pipeline *pl;
    int64_t last_record_ms;  /* wall clock of the last record, for the idle timeout */
    int64_t last_event_max;  /* the highest event time its records gave, then: an idle
                                partition advances from there with the wall clock */
    int64_t next_offset;     /* offset after the last record processed */
    bool dirty;              /* records processed in the open transaction */
    bool at_end;             /* read to its end since its last record (--exit-at-end, idle) */
    bool key_warned;         /* a record not keyed by account_id was reported */
    int64_t assigned_ms;     /* monotonic time of the assignment until the first record
                                is logged (failover time, scripts/failover-bench); 0 then */
    /* An input task of a staged run: the watermark it last sent down, when. */
    int64_t wm_sent;
    int64_t wm_sent_ms;
    bool idle_sent;
    /* A stage task, or an input task that repartitions by account: what the
     * input partitions reported. */
    fw_upstream_wm up;
    /* An input task that repartitions by account (fw_krt.rekey_topic): its
     * partition of that topic is read with it, into its engine. */
    int64_t rekey_next;      /* offset after its last record read there; -1: none yet */
    bool rekey_at_end;       /* read to its end there since its last record */
    int64_t own_sent;        /* its input partition's progress as last sent (send_watermark) */
    int64_t own_sent_ms;
    bool own_idle_sent;
    int64_t input_max_ts;    /* the highest event time read from its input partition, judged
                                here or sent on (not what the account topic brought it):
                                its progress; INT64_MIN: none since assigned or reset */
    int64_t last_rekey_ms;   /* wall clock of its last record from there */
    int64_t input_max_read;  /* input_max_ts before an abort: true again once read to
                                the end (everything is read again by then) */
    int64_t read_to;         /* offset after what it read, or where a rewind put it (or
                                what its end-of-partition event gave); -1: not known */
    /* An input task that looks idle: whether the broker's end of its
     * partition was reached (input_idle), and when it was asked. */
    int64_t end_asked_ms;
    bool end_confirmed;
    /* Exactly once across a handover: each commit that touches the task
     * writes its token to the changelog partition and puts it on the
     * offsets it commits (changelog_restore.h). */
    char commit_token[40];   /* of its last commit record: the group's when assigned or
                                rewound (the restore waits for it), then the last one
                                written here; "": none */
    int64_t committed_offset; /* the group's offset then (-1: none), committed again by a
                                 commit that changes its state before it reads a record */
    int64_t rekey_committed;  /* the same for its partition of the account topic */
    bool changed;            /* state changes written in the open transaction */
} fw_task;

/* A topic the instance reads: the input (source 0) or a stage's repartition
 * topic, whose partitions are tasks with their own state and changelog. */
typedef struct fw_source {
    char topic[320];
    char changelog[340];
    fw_stage stage;          /* FW_STAGE_ALL: the input of an unstaged run */
    size_t plan_idx;         /* its index in the plan in force; SIZE_MAX: no rule runs there */
    int32_t partitions;
    fw_task **tasks;         /* by partition */
    int cap;
} fw_source;

/* A transaction copied to a stage or the account topic keeps its input
 * record's Kafka timestamp as its own, so a stage's alerts are measured from
 * the input too (fraudwatch_processing_latency_seconds). Not when that is
 * older than COPY_TS_MAX_AGE_MS (time retention would delete a closed segment
 * of such copies, read or not) or ahead of the wall clock by more than
 * COPY_TS_MAX_AHEAD_MS (a broker may refuse it: Kafka 4's
 * log.message.timestamp.after.max.ms is an hour): those copies are stamped
 * when written. A header would carry it always, at 10 % more CPU for the
 * stages' traffic. */
#define COPY_TS_MAX_AGE_MS (60 * 60 * 1000)
#define COPY_TS_MAX_AHEAD_MS (60 * 1000)
#define NO_INPUT_TS INT64_MIN

typedef struct fw_krt {
    const fw_run_conf *c;
    rd_kafka_t *consumer;
    rd_kafka_t *producer;
    rd_kafka_t *restorer;    /* reads changelog partitions back on assignment */
    fw_profiles_follower *profiler; /* the profiles topic, all partitions; NULL: none */
    fw_rules_follower *ruler; /* the rules topic and SIGHUP reloads; NULL: neither */
    fw_pipeline_conf pconf;  /* c->pipeline with the rules in force: new tasks start so */
    struct fw_lang_rules *lang_owned; /* the language rules in force when a live change gave
                                         them (pconf.lang then points here); NULL: c->lang */
    fw_scorer *scorer;       /* ml_score; NULL: off */
    fw_metrics *metrics;     /* Prometheus endpoint; NULL: off */
    fw_memlimit mem;         /* --max-memory: applied to every task once a second */
    fw_source src[FW_STAGE_MAX]; /* [0]: the input; then the stages' repartition topics */
    int nsrc;
    bool staged;             /* the input has several partitions: stages (stage.h) run behind
                                repartition topics */
    fw_stage_plan plan;      /* where each rule runs, for the rules in force */
    fw_stage_router *router; /* the keys a transaction travels under, for that plan */
    fw_buf fwd;              /* a transaction forwarded to stages, as JSON */
    /* GROUP-repartition-account_id: input records not on their account's
     * partition are sent to its partition there. Partition p of it is not
     * in the subscription: it is assigned with input partition p and read
     * into that task's engine, whose watermark waits for every input
     * partition (fw_engine_cap_watermark). "": not staged. */
    char rekey_topic[320];
    bool from_rekey;         /* the record being processed came from it */
    int64_t cur_offset;      /* input offset of the record being processed, for a log line */
    bool rekey_told;         /* the first such record was logged */
    bool caps_lifted;        /* --exit-at-end: nothing more comes through it (rekey_done) */
    bool input_done;         /* --exit-at-end: the input tasks here are read to their end */
    fw_task *cur_task;       /* the task whose record is being processed */
    fw_task **pending;       /* tasks created or reset, to restore together (restore_pending) */
    size_t npending, pending_cap;
    uint64_t forwarded;      /* records written to repartition topics */
    uint64_t rekeyed_in;     /* transactions read from the account topic */
    int64_t end_unanswered_ms; /* when the broker last did not tell a partition's end */
    uint64_t wm_records;     /* watermark records written */
    uint64_t bad_wm_records; /* watermark records a stage task could not read */
    uint64_t stage_records;  /* transactions read from repartition topics */
    bool subscribed;
    int ending;              /* --exit-at-end: 1 the input was read to its end and released,
                                2 the stages' topics too */
    int nassigned;
    bool ever_assigned;      /* closing before the first assignment crashes 2.0.2 (#4312) */
    bool txn_open;
    bool txn_failed;         /* a produce failed: the transaction must be aborted */
    int64_t txn_started_ms;
    int64_t clock_ms;         /* fw_mono_ms(), read again every FW_CLOCK_EVERY records */
    fw_str cur_key;           /* key of the record being processed, for its dead letter */
    int64_t cur_input_ts;     /* Kafka timestamp of the input record being processed, or
                                 of the one a stage or account record copies (its own:
                                 COPY_TS_MAX_AGE_MS); NO_INPUT_TS */
    int64_t first_record_ms;  /* for the final rate: first record to last commit */
    int64_t last_commit_ms;
    bool fatal;
    /* Totals, including tasks that were revoked since. */
    uint64_t records, commits, aborts, delivery_errors;
    uint64_t commit_attempts; /* for --test-abort-every */
    fw_tally tally;          /* alerts, dead letters, late, key mismatches: as committed */
    uint64_t changelog_records, restored_keys;
    /* The producer's handles of every topic it writes to, kept so their
     * metadata stays known (warm_producer). */
    rd_kafka_topic_t *warm[2 * FW_STAGE_MAX + 8];
    int nwarm;
    fw_latency_hist alert_latency; /* /metrics: event time to produce, per alert */
    fw_latency_hist processing_latency; /* /metrics: cur_input_ts to produce, per alert */
    fw_latency_hist restore_time;  /* /metrics: each restore_pending */
    uint64_t rebalances[3];        /* /metrics: assigned, revoked, lost */
    fw_latency_hist commit_time;   /* /metrics: each commit, start to end */
    int64_t commit_ms_max;
    uint64_t token_nonce;    /* this process's part of every commit token */
    uint64_t tokens;         /* commit tokens made */
    fw_metrics_snapshot retired; /* engine counters of the tasks revoked since the start */
    char errstr[512];
} fw_krt;

/* The last line logged before a fatal error: the reason /health gives (the
 * place that sets fatal logs why just before). What is logged once fatal is
 * set is its effect (deliveries purged by the abort, the final counts) and
 * does not replace it. Main thread only. */
static char last_log[256];

static void logf_(const fw_krt *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(const fw_krt *k, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (!k->fatal) {
        va_list copy;
        va_copy(copy, ap);
        vsnprintf(last_log, sizeof(last_log), fmt, copy);
        va_end(copy);
    }
    fw_vlog(k->c->instance_id, fmt, ap);
    va_end(ap);
}

/* Up to 64 bytes of @p s for a log line, bytes outside printable ASCII
 * (and the quote) as '?': keys are any bytes. */
static void printable(char out[72], const void *s, size_t len) {
    const unsigned char *p = s;
    size_t n = len < 64 ? len : 64, i;
    for (i = 0; i < n; i++)
        out[i] = p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' ? (char)p[i] : '?';
    snprintf(out + i, 72 - i, "%s", len > 64 ? "..." : "");
}

/* --input-partitioner's name for a log line. */
static const char *partitioner_name(int p) {
    static const char *const names[] = { "consistent_random", "murmur2_random", "fnv1a_random",
                                         "consistent", "murmur2", "fnv1a" };
    return p >= 0 && p < (int)(sizeof(names) / sizeof(names[0])) ? names[p] : "?";
}

/* ---- tasks ---------------------------------------------------------------- */

static fw_task *task_get(fw_krt *k, int src, int32_t partition) {
    const fw_source *so = &k->src[src];
    return partition >= 0 && partition < so->cap ? so->tasks[partition] : NULL;
}

/* Every task of every source: for (fw_task *t = NULL; (t = task_next(k, t));). */
static fw_task *task_next(const fw_krt *k, const fw_task *prev) {
    int s = prev ? prev->src : 0;
    int32_t p = prev ? prev->partition + 1 : 0;
    for (; s < k->nsrc; s++, p = 0)
        for (; p < k->src[s].cap; p++)
            if (k->src[s].tasks[p])
                return k->src[s].tasks[p];
    return NULL;
}

/* The input's tasks: for (fw_task *t = NULL; (t = input_task_next(k, t));). */
static fw_task *input_task_next(const fw_krt *k, const fw_task *prev) {
    for (int32_t p = prev ? prev->partition + 1 : 0; p < k->src[0].cap; p++)
        if (k->src[0].tasks[p])
            return k->src[0].tasks[p];
    return NULL;
}

/* Silence on the account topic counts only while the instance was
 * listening: after a rebalance or a loop that stalled (a restore, a slow
 * commit), records other partitions routed here meanwhile have not been
 * delivered yet, and a task that looked idle would let the stages jump past
 * them. Its input partition needs no such care: input_idle asks the broker.
 * Only once the account topic carried a record: restarting the clock on
 * every abort's restore (seconds, under the sanitizers) kept keyed input from
 * ever turning idle. */
static void restart_idle_clocks(fw_krt *k, int64_t now) {
    if (!k->rekeyed_in)
        return;
    for (fw_task *t = NULL; (t = input_task_next(k, t));)
        if (t->last_rekey_ms < now)
            t->last_rekey_ms = now;
}

/* The source reading @p topic; -1: none (a topic this instance dropped). */
static int source_of(const fw_krt *k, const char *topic) {
    for (int s = 0; s < k->nsrc; s++)
        if (!strcmp(k->src[s].topic, topic))
            return s;
    return -1;
}

static bool restore_later(fw_krt *k, fw_task *t);

/* Once a second: the resident set against --max-memory, applied to every
 * task (tasks made since, restored freely, included). */
static void follow_memory(fw_krt *k, int64_t now) {
    bool changed;
    if (!fw_memlimit_check(&k->mem, now, &changed))
        return;
    char line[256];
    if (changed)
        logf_(k, "%s", fw_memlimit_describe(&k->mem, "", line, sizeof(line)));
    for (fw_task *t = NULL; (t = task_next(k, t));)
        fw_engine_set_memory_full(fw_pipeline_engine(t->pl), k->mem.full);
}

/* A task's pipeline with the rules in force, running its source's stage. */
static fw_pipeline *task_pipeline(fw_krt *k, const fw_task *t) {
    const fw_source *so = &k->src[t->src];
    fw_pipeline_conf pc = k->pconf;
    if (t->src > 0) {
        /* A stage reads what on_accepted wrote: JSON in our spelling
         * (fw_txn_write_json echoes only an unmapped JSON record), whatever
         * the input's format and schema. */
        pc.format = FW_INPUT_JSON;
        pc.schema = NULL;
        pc.csv_header = NULL;
    }
    fw_pipeline *pl = fw_pipeline_new(&pc, k->errstr, sizeof(k->errstr));
    if (!pl)
        return NULL;
    fw_engine *e = fw_pipeline_engine(pl);
    if (so->stage.kind != FW_STAGE_ALL)
        fw_engine_set_stage(e, &so->stage, k->c->colocated, t->partition, so->partitions);
    if (t->src == 0 && k->rekey_topic[0]) /* until every input partition is heard from */
        fw_engine_cap_watermark(e, k->caps_lifted ? INT64_MAX : INT64_MIN, NULL);
    fw_engine_track_changes(e);
    if (k->scorer && fw_scorer_attach(k->scorer, pl, k->errstr, sizeof(k->errstr))) {
        fw_pipeline_destroy(pl);
        return NULL;
    }
    return pl;
}

static bool task_create(fw_krt *k, int src, int32_t partition) {
    fw_source *so = &k->src[src];
    if (partition >= so->cap) {
        int cap = so->cap ? so->cap : 16;
        while (cap <= partition)
            cap *= 2;
        fw_task **t = realloc(so->tasks, sizeof(*t) * (size_t)cap);
        if (!t)
            return false;
        memset(t + so->cap, 0, sizeof(*t) * (size_t)(cap - so->cap));
        so->tasks = t;
        so->cap = cap;
    }
    if (so->tasks[partition])
        return true;
    fw_task *t = calloc(1, sizeof(*t));
    if (!t)
        return false;
    t->src = src;
    t->partition = partition;
    t->next_offset = -1;
    t->read_to = -1;
    t->end_asked_ms = INT64_MIN / 2;
    t->end_confirmed = false;
    t->wm_sent = INT64_MIN;
    t->rekey_next = -1;
    t->own_sent = INT64_MIN;
    t->input_max_ts = INT64_MIN;
    t->input_max_read = INT64_MIN;
    t->committed_offset = -1;
    t->rekey_committed = -1;
    if (((src > 0 || k->rekey_topic[0]) && !fw_upstream_wm_init(&t->up, k->src[0].partitions)) ||
        !(t->pl = task_pipeline(k, t))) {
        fw_upstream_wm_fini(&t->up);
        free(t);
        return false;
    }
    so->tasks[partition] = t;
    k->nassigned++;
    t->last_record_ms = fw_mono_ms();
    t->assigned_ms = t->last_record_ms;
    return restore_later(k, t); /* restore_pending: before any record of it */
}

static void task_destroy(fw_krt *k, int src, int32_t partition) {
    fw_task *t = task_get(k, src, partition);
    if (!t)
        return;
    fw_metrics_add_engine(&k->retired, fw_pipeline_engine(t->pl));
    k->retired.entities = 0; /* a gauge: gone with the task */
    k->retired.watermark_ms = INT64_MIN;
    if (k->scorer)
        fw_scorer_detach(k->scorer, t->pl);
    fw_pipeline_destroy(t->pl);
    fw_upstream_wm_fini(&t->up);
    free(t);
    k->src[src].tasks[partition] = NULL;
    k->nassigned--;
}

/* ---- state restore ----------------------------------------------------------- */

static bool restore_later(fw_krt *k, fw_task *t) {
    if (k->npending == k->pending_cap) {
        size_t cap = k->pending_cap ? k->pending_cap * 2 : 64;
        fw_task **p = realloc(k->pending, sizeof(*p) * cap);
        if (!p) {
            snprintf(k->errstr, sizeof(k->errstr), "out of memory");
            return false;
        }
        k->pending = p;
        k->pending_cap = cap;
    }
    k->pending[k->npending++] = t;
    return true;
}

typedef struct restore_watch {
    fw_krt *k;
    int64_t started_ms;
} restore_watch;

/* The loop turns inside a restore: /health stays ok while it reads, and
 * /ready and the restore gauges say how far it is. */
static void on_restore_progress(void *opaque, uint64_t records) {
    const restore_watch *w = opaque;
    int64_t ran = fw_mono_ms() - w->started_ms;
    char why[160];
    snprintf(why, sizeof(why), "restoring the state of %zu partition%s: %" PRIu64 " changelog "
             "records read in %" PRId64 ".%03d s", w->k->npending, w->k->npending == 1 ? "" : "s",
             records, ran / 1000, (int)(ran % 1000));
    fw_metrics_restoring(w->k->metrics, (int)w->k->npending, ran, why);
}

/* The tasks created or reset since the last call get their state back from
 * their changelogs, all partitions read at once (a failover moves an input
 * partition with its stages' partitions: one wait for the broker, not one
 * each). Until this returns their records are not processed; a failure is
 * fatal. */
static void restore_pending(fw_krt *k) {
    if (!k->npending || k->fatal)
        return;
    restore_watch watch = { .k = k, .started_ms = fw_mono_ms() };
    on_restore_progress(&watch, 0);
    fw_restore_job *jobs = calloc(k->npending, sizeof(*jobs));
    if (!jobs) {
        logf_(k, "state restore: out of memory; stopping");
        k->fatal = true;
        return;
    }
    for (size_t i = 0; i < k->npending; i++)
        jobs[i] = (fw_restore_job){ .topic = k->src[k->pending[i]->src].changelog,
                                    .partition = k->pending[i]->partition,
                                    .engine = fw_pipeline_engine(k->pending[i]->pl),
                                    .expect = k->pending[i]->commit_token };
    fw_restore_hooks hooks = { .on_progress = on_restore_progress, .opaque = &watch };
    bool restored = fw_changelog_restore_all(k->restorer, jobs, k->npending, k->c->instance_id,
                                             &hooks);
    fw_latency_observe(&k->restore_time, fw_mono_ms() - watch.started_ms);
    if (!restored) {
        logf_(k, "state restore failed; stopping");
        k->fatal = true;
    }
    for (size_t i = 0; i < k->npending; i++) {
        fw_task *t = k->pending[i];
        k->restored_keys += jobs[i].keys;
        t->last_event_max = fw_engine_stats_get(fw_pipeline_engine(t->pl))->max_event_time;
    }
    free(jobs);
    k->npending = 0;
}

/* A fresh pipeline restored from the changelog: after an abort, state must
 * match the committed offsets again. */
static void task_reset(fw_krt *k, fw_task *t) {
    fw_pipeline *pl = task_pipeline(k, t);
    if (!pl) {
        logf_(k, "cannot reset partition %" PRId32 " of %s: %s", t->partition,
              k->src[t->src].topic, k->errstr);
        k->fatal = true;
        return;
    }
    if (k->scorer)
        fw_scorer_detach(k->scorer, t->pl);
    fw_pipeline_destroy(t->pl);
    t->pl = pl;
    t->next_offset = -1;
    t->read_to = -1;
    t->end_asked_ms = INT64_MIN / 2;
    t->end_confirmed = false;
    t->dirty = false;
    t->changed = false;
    /* at_end stays: the first record read again clears it, and a partition
     * with nothing to read again gets no second end-of-partition event. */
    t->wm_sent = INT64_MIN;  /* what was sent went with the aborted transaction */
    t->own_sent = INT64_MIN;
    /* Its read progress starts again too: what the aborted transaction
     * told the account topic went with it, and the records read again are
     * routed again, after any progress sent from here on. Kept, it ran ahead
     * of them (every account task's watermark passed records being read
     * again: late, it_rekey after a rebalance's abort). With nothing to read
     * again, input_idle says it is idle, and the progress it had comes
     * back then (send_watermark). */
    if (t->input_max_ts > t->input_max_read)
        t->input_max_read = t->input_max_ts;
    t->input_max_ts = INT64_MIN;
    t->rekey_next = -1;
    t->rekey_at_end = false;
    if (t->up.n) { /* heard again from the next watermark records */
        for (int32_t i = 0; i < t->up.n; i++) {
            t->up.wm[i] = INT64_MIN;
            t->up.idle[i] = false;
        }
    }
    if (!restore_later(k, t))
        k->fatal = true;
}

/* ---- transactions ------------------------------------------------------------ */

/* How long a rewind may keep asking a busy coordinator for the committed
 * offsets: well inside librdkafka's default max.poll.interval.ms (300 s). */
#define FW_REWIND_BUDGET_MS 120000

#define FW_COMMIT_TOKEN_PREFIX "fw1." /* 4 bytes: a commit token of this format */

static void on_committed_retry(void *opaque, rd_kafka_resp_err_t err, int attempt) {
    logf_(opaque, "cannot read committed offsets yet: %s (attempt %d, retrying)",
          rd_kafka_err2str(err), attempt);
}

/* What the group holds for @p parts, as its tasks need it: the offsets a
 * commit that only changes state commits again, and the token of the last
 * commit, which the restore waits for. */
static void take_committed(fw_krt *k, const rd_kafka_topic_partition_list_t *parts) {
    for (int i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *e = &parts->elems[i];
        int src = source_of(k, e->topic);
        bool rekey = src < 0 && k->rekey_topic[0] && !strcmp(e->topic, k->rekey_topic);
        fw_task *t = src >= 0 ? task_get(k, src, e->partition)
                     : rekey  ? task_get(k, 0, e->partition)
                              : NULL;
        if (!t)
            continue;
        int64_t off = !e->err && e->offset >= 0 ? e->offset : -1;
        if (rekey) {
            t->rekey_committed = off;
            continue;
        }
        t->committed_offset = off;
        t->commit_token[0] = '\0';
        /* Ours only ("fw1."): another committer's metadata names no record. */
        if (!e->err && e->metadata && e->metadata_size > 4 &&
            e->metadata_size < sizeof(t->commit_token) &&
            !memcmp(e->metadata, FW_COMMIT_TOKEN_PREFIX, 4)) {
            memcpy(t->commit_token, e->metadata, e->metadata_size);
            t->commit_token[e->metadata_size] = '\0';
        }
    }
}

/* Seeks every assigned partition back to its committed offset, after an abort. */
static void rewind_to_committed(fw_krt *k) {
    rd_kafka_topic_partition_list_t *parts =
        rd_kafka_topic_partition_list_new(k->nassigned ? k->nassigned : 1);
    for (fw_task *t = NULL; (t = task_next(k, t));) {
        rd_kafka_topic_partition_list_add(parts, k->src[t->src].topic, t->partition);
        if (t->src == 0 && k->rekey_topic[0]) /* reset with its task (not a source) */
            rd_kafka_topic_partition_list_add(parts, k->rekey_topic, t->partition);
    }
    if (parts->cnt == 0)
        goto out;
    /* A busy or moving group coordinator is no reason to stop: ask again
     * (the loop does not poll meanwhile, hence the budget). */
    rd_kafka_resp_err_t err =
        fw_kafka_committed(k->consumer, parts, FW_REWIND_BUDGET_MS, on_committed_retry, k);
    if (err) {
        logf_(k, "cannot read committed offsets to rewind: %s", rd_kafka_err2str(err));
        k->fatal = true;
        goto out;
    }
    take_committed(k, parts);
    for (int i = 0; i < parts->cnt; i++) {
        if (parts->elems[i].offset < 0)
            parts->elems[i].offset = k->c->offset_reset_latest ? RD_KAFKA_OFFSET_END
                                                               : RD_KAFKA_OFFSET_BEGINNING;
        int src = source_of(k, parts->elems[i].topic);
        fw_task *t = src >= 0 ? task_get(k, src, parts->elems[i].partition) : NULL;
        if (t) {
            task_reset(k, t);
            t->read_to = parts->elems[i].offset; /* < 0 (logical): not known */
        }
    }
    restore_pending(k);
    rd_kafka_error_t *error = rd_kafka_seek_partitions(k->consumer, parts, 30000);
    if (error) {
        logf_(k, "cannot rewind: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        k->fatal = true;
    }
out:
    rd_kafka_topic_partition_list_destroy(parts);
}

/* Classifies a transactional error: returns true to retry the call. On an
 * abortable error it aborts and rewinds; on anything else it is fatal. */
static bool txn_error(fw_krt *k, rd_kafka_error_t *error, const char *what, int *retries) {
    bool retry = false;
    if (rd_kafka_error_is_retriable(error) && ++*retries <= FW_TXN_RETRIES) {
        logf_(k, "%s: %s (retrying)", what, rd_kafka_error_string(error));
        retry = true;
    } else if (rd_kafka_error_txn_requires_abort(error)) {
        logf_(k, "%s: %s: aborting the transaction and rewinding", what,
              rd_kafka_error_string(error));
        k->txn_failed = true;
    } else {
        logf_(k, "%s: %s: fatal, stopping", what, rd_kafka_error_string(error));
        k->fatal = true;
    }
    rd_kafka_error_destroy(error);
    return retry;
}

static void txn_abort(fw_krt *k) {
    int retries = 0;
    rd_kafka_error_t *error;
    if (k->scorer) /* results of aborted input: it is read again */
        fw_scorer_discard(k->scorer);
    while ((error = rd_kafka_abort_transaction(k->producer, 30000))) {
        if (!rd_kafka_error_is_retriable(error) || ++retries > FW_TXN_RETRIES) {
            logf_(k, "abort_transaction: %s: fatal, stopping", rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
            k->fatal = true;
            return;
        }
        rd_kafka_error_destroy(error);
    }
    k->aborts++;
    fw_tally_abort(&k->tally);
    k->txn_open = false;
    k->txn_failed = false;
    rewind_to_committed(k);
}

static void txn_begin(fw_krt *k) {
    rd_kafka_error_t *error = rd_kafka_begin_transaction(k->producer);
    if (error) {
        logf_(k, "begin_transaction: %s: fatal, stopping", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        k->fatal = true;
        return;
    }
    k->txn_open = true;
    k->txn_started_ms = fw_mono_ms();
}

static void write_changelogs(fw_krt *k);
static void write_commit_record(fw_krt *k, const fw_task *t, const char *token);
static void score_all(fw_krt *k, bool drain);
static void send_watermarks(fw_krt *k, int64_t now);

/* Commits the open transaction with the state changes of every task and the
 * offsets of every task that processed records in it; on an abortable error
 * aborts and rewinds instead. */
static void txn_commit(fw_krt *k) {
    if (!k->txn_open || k->fatal)
        return;
    rd_kafka_error_t *error;
    int retries = 0;
    char token[40];
    int64_t started = fw_mono_ms();
    snprintf(token, sizeof(token), FW_COMMIT_TOKEN_PREFIX "%016" PRIx64 ".%" PRIu64,
             k->token_nonce, ++k->tokens);
    if (!k->txn_failed)
        score_all(k, true); /* every model alert of this input rides in its transaction */
    if (!k->txn_failed)
        send_watermarks(k, fw_mono_ms()); /* after the records they cover */
    if (!k->txn_failed)
        write_changelogs(k);
    if (!k->txn_failed) {
        /* A task whose state this commit changes gets its token in its
         * changelog and on its offsets, so a restore knows when it has read
         * this commit; one whose state stays puts the last token it wrote
         * on them (no record for it: stateless rules write no changelog). */
        rd_kafka_topic_partition_list_t *offsets =
            rd_kafka_topic_partition_list_new(k->nassigned ? k->nassigned : 1);
        for (fw_task *t = NULL; (t = task_next(k, t));) {
            if (!t->dirty && !t->changed)
                continue;
            int64_t off = t->next_offset >= 0 ? t->next_offset : t->committed_offset;
            int64_t rekey_off = t->rekey_next >= 0 ? t->rekey_next : t->rekey_committed;
            if (t->changed)
                write_commit_record(k, t, token);
            const char *tok = t->changed ? token : t->commit_token;
            if (off >= 0) {
                rd_kafka_topic_partition_t *e = rd_kafka_topic_partition_list_add(
                    offsets, k->src[t->src].topic, t->partition);
                e->offset = off;
                e->metadata = (void *)tok; /* taken back before the list is destroyed */
                e->metadata_size = strlen(tok);
            }
            if (t->src == 0 && k->rekey_topic[0] && rekey_off >= 0)
                rd_kafka_topic_partition_list_add(offsets, k->rekey_topic, t->partition)
                    ->offset = rekey_off;
        }
        if (offsets->cnt > 0 && !k->txn_failed) {
            rd_kafka_consumer_group_metadata_t *cgmd =
                rd_kafka_consumer_group_metadata(k->consumer);
            do {
                error = rd_kafka_send_offsets_to_transaction(k->producer, offsets, cgmd, 30000);
            } while (error && txn_error(k, error, "send_offsets_to_transaction", &retries));
            rd_kafka_consumer_group_metadata_destroy(cgmd);
        }
        for (int i = 0; i < offsets->cnt; i++) {
            offsets->elems[i].metadata = NULL;
            offsets->elems[i].metadata_size = 0;
        }
        rd_kafka_topic_partition_list_destroy(offsets);
    }
    if (!k->txn_failed && k->c->test_abort_every &&
        ++k->commit_attempts % (uint64_t)k->c->test_abort_every == 0) {
        logf_(k, "--test-abort-every %d: aborting the transaction and rewinding",
              k->c->test_abort_every);
        k->txn_failed = true;
    }
    retries = 0;
    while (!k->txn_failed && !k->fatal &&
           (error = rd_kafka_commit_transaction(k->producer, 60000)))
        if (!txn_error(k, error, "commit_transaction", &retries))
            break;
    if (k->fatal)
        return;
    if (k->txn_failed) {
        txn_abort(k);
        return;
    }
    k->commits++;
    fw_tally_commit(&k->tally);
    k->last_commit_ms = fw_mono_ms();
    int64_t took = k->last_commit_ms - started;
    fw_latency_observe(&k->commit_time, took);
    if (took > k->commit_ms_max)
        k->commit_ms_max = took;
    k->txn_open = false;
    for (fw_task *t = NULL; (t = task_next(k, t));) {
        if (t->dirty && t->next_offset >= 0)
            t->committed_offset = t->next_offset;
        if (t->dirty && t->rekey_next >= 0)
            t->rekey_committed = t->rekey_next;
        if (t->changed)
            memcpy(t->commit_token, token, sizeof(token));
        t->dirty = false;
        t->changed = false;
    }
}

/* ---- outputs ----------------------------------------------------------------- */

/* Headers of a record sent to the dead-letter or late topic. */
typedef struct side_headers {
    const char *names[6];
    char values[6][48];
    const char *long_values[6]; /* when the value does not fit in values[] */
    int n;
} side_headers;

/* Produces one record in the open transaction; @p dl or @p sh add their
 * headers. A copy of an input record passes its @p input_ts (NO_INPUT_TS:
 * none, or not a copy). */
static void produce(fw_krt *k, const char *topic, int32_t partition, fw_str key, fw_str value,
                    const fw_dead_letter *dl, const side_headers *sh, int64_t input_ts) {
    rd_kafka_resp_err_t err;
    int64_t ts = 0; /* librdkafka's: now */
    if (input_ts > 0) { /* NO_INPUT_TS is below 0 */
        int64_t age = fw_wall_ms() - input_ts;
        if (age <= COPY_TS_MAX_AGE_MS && age >= -COPY_TS_MAX_AHEAD_MS)
            ts = input_ts;
    }
    for (;;) {
        if (sh) {
            rd_kafka_headers_t *hdrs = rd_kafka_headers_new((size_t)sh->n);
            for (int i = 0; i < sh->n; i++) {
                const char *v = sh->long_values[i] ? sh->long_values[i] : sh->values[i];
                rd_kafka_header_add(hdrs, sh->names[i], -1, v, -1);
            }
            err = rd_kafka_producev(
                k->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                RD_KAFKA_V_KEY(key.ptr, key.len), RD_KAFKA_V_VALUE((void *)value.ptr, value.len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
                RD_KAFKA_V_END);
            if (err)
                rd_kafka_headers_destroy(hdrs); /* ownership passes only on success */
        } else if (dl) {
            char part[16], off[24];
            snprintf(part, sizeof(part), "%" PRId32, dl->src->partition);
            snprintf(off, sizeof(off), "%" PRId64, dl->src->offset);
            const char *field = dl->field ? dl->field : "";
            err = rd_kafka_producev(
                k->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key.ptr, key.len),
                RD_KAFKA_V_VALUE((void *)value.ptr, value.len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_HEADER("fw.error.reason", dl->reason, (ssize_t)strlen(dl->reason)),
                RD_KAFKA_V_HEADER("fw.error.field", field, (ssize_t)strlen(field)),
                RD_KAFKA_V_HEADER("fw.source.topic", dl->src->topic,
                                  (ssize_t)strlen(dl->src->topic)),
                RD_KAFKA_V_HEADER("fw.source.partition", part, (ssize_t)strlen(part)),
                RD_KAFKA_V_HEADER("fw.source.offset", off, (ssize_t)strlen(off)),
                RD_KAFKA_V_END);
        } else {
            err = rd_kafka_producev(
                k->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                RD_KAFKA_V_KEY(key.ptr, key.len),
                RD_KAFKA_V_VALUE((void *)value.ptr, value.len), RD_KAFKA_V_TIMESTAMP(ts),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        }
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        rd_kafka_poll(k->producer, 50); /* back-pressure: let deliveries drain */
    }
    if (err) {
        logf_(k, "produce to %s: %s", topic, rd_kafka_err2str(err));
        k->txn_failed = true; /* nothing may be lost: this transaction must not commit */
    }
}

static void on_alert(void *opaque, const fw_alert *a, fw_str key, fw_str json) {
    fw_krt *k = opaque;
    if (a->rule == FW_RULE_LANG)
        fw_lang_counts_add(&k->tally.open.lang, a->rule_name, 1);
    else if ((unsigned)a->rule < FW_RULE__COUNT)
        k->tally.open.alerts[a->rule]++;
    produce(k, k->c->output_topic, RD_KAFKA_PARTITION_UA, key, json, NULL, NULL, NO_INPUT_TS);
    if (k->metrics) {
        int64_t now = fw_wall_ms();
        fw_latency_observe(&k->alert_latency, now - a->event_time);
        if (k->cur_input_ts != NO_INPUT_TS) /* not an alert a quiet watermark released */
            fw_latency_observe(&k->processing_latency, now - k->cur_input_ts);
    }
}

static void on_dead_letter(void *opaque, const fw_dead_letter *dl) {
    fw_krt *k = opaque;
    k->tally.open.dead_letters++;
    logf_(k, "dead letter %s[%" PRId32 "]@%" PRId64 ": %s", dl->src->topic, dl->src->partition,
          dl->src->offset, dl->reason);
    produce(k, k->c->dlq_topic, RD_KAFKA_PARTITION_UA, k->cur_key, dl->payload, dl, NULL,
            NO_INPUT_TS);
}

static void on_late(void *opaque, const fw_late_record *lr) {
    fw_krt *k = opaque;
    k->tally.open.late++;
    char et[32], wm[32];
    fw_time_format(lr->event_time, et);
    fw_time_format(lr->watermark, wm);
    side_headers sh = { .names = { "fw.late.event_time", "fw.late.watermark",
                                   "fw.source.topic", "fw.source.partition",
                                   "fw.source.offset" },
                        .long_values = { [2] = lr->src->topic }, .n = 5 };
    snprintf(sh.values[0], sizeof(sh.values[0]), "%s", et);
    snprintf(sh.values[1], sizeof(sh.values[1]), "%s", wm);
    snprintf(sh.values[3], sizeof(sh.values[3]), "%" PRId32, lr->src->partition);
    snprintf(sh.values[4], sizeof(sh.values[4]), "%" PRId64, lr->src->offset);
    produce(k, k->c->late_topic, RD_KAFKA_PARTITION_UA, k->cur_key, lr->payload, NULL, &sh,
            NO_INPUT_TS);
}

/* ---- repartition topics ------------------------------------------------------- */

/* An input task took a transaction: it travels to every stage that runs a
 * rule keyed by something else, keyed by that (stage.h), as the JSON the
 * alerts of that stage will show. A transfer going to the receiver stage by
 * receiver and by sender travels once when both land on one partition. */
static void on_accepted(void *opaque, const fw_txn *t) {
    fw_krt *k = opaque;
    bool written = false;
    for (int s = 1; s < k->nsrc; s++) {
        fw_source *so = &k->src[s];
        fw_stage_key keys[2];
        if (so->plan_idx == SIZE_MAX)
            continue;
        size_t n = fw_stage_router_route(k->router, so->plan_idx, t, keys);
        if (!n)
            continue;
        if (!written) {
            fw_buf_reset(&k->fwd);
            if (!fw_txn_write_json(t, &k->fwd)) {
                logf_(k, "cannot forward transaction: out of memory; stopping");
                k->fatal = true;
                return;
            }
            written = true;
        }
        fw_str value = { .ptr = k->fwd.data, .len = k->fwd.len };
        int32_t first = -1;
        for (size_t i = 0; i < n && i < 2; i++) {
            int32_t part = fw_stage_partition(keys[i].key, so->partitions);
            if (part == first)
                continue;
            first = part;
            produce(k, so->topic, part, keys[i].key, value, NULL, NULL, k->cur_input_ts);
            k->forwarded++;
        }
    }
}

/* The input partition the producers put @p account's records on
 * (--input-partitioner): the task there holds the account's state. */
static int32_t account_partition(const fw_krt *k, fw_str account) {
    int32_t n = k->src[0].partitions;
    switch ((fw_partitioner)k->c->input_partitioner) {
    case FW_PARTITIONER_MURMUR2_RANDOM:
    case FW_PARTITIONER_MURMUR2:
        return rd_kafka_msg_partitioner_murmur2(NULL, account.ptr, account.len, n, NULL, NULL);
    case FW_PARTITIONER_FNV1A_RANDOM:
    case FW_PARTITIONER_FNV1A:
        return rd_kafka_msg_partitioner_fnv1a(NULL, account.ptr, account.len, n, NULL, NULL);
    default:
        return rd_kafka_msg_partitioner_consistent(NULL, account.ptr, account.len, n, NULL,
                                                   NULL);
    }
}

/* An input record on another partition than its account's (no key, another
 * key, another partitioner) is not judged here: it goes to its account's
 * partition of the account topic, in this transaction, and the task there
 * judges it with the account's other records. */
static bool on_route(void *opaque, const fw_txn *t) {
    fw_krt *k = opaque;
    if (!k->rekey_topic[0] || k->from_rekey)
        return true;
    if (t->ts_ms > k->cur_task->input_max_ts)
        k->cur_task->input_max_ts = t->ts_ms;
    int32_t part = account_partition(k, t->account_id);
    if (part == k->cur_task->partition)
        return true;
    fw_buf_reset(&k->fwd);
    if (!fw_txn_write_json(t, &k->fwd)) {
        logf_(k, "cannot forward transaction: out of memory; stopping");
        k->fatal = true;
        return false;
    }
    produce(k, k->rekey_topic, part, t->account_id,
            (fw_str){ .ptr = k->fwd.data, .len = k->fwd.len }, NULL, NULL, k->cur_input_ts);
    k->tally.open.rekeyed++;
    if (!k->rekey_told) {
        k->rekey_told = true;
        char acc[72];
        printable(acc, t->account_id.ptr, t->account_id.len);
        logf_(k, "note: partition %" PRId32 ": record at offset %" PRId64 " belongs with "
                 "account_id \"%s\" on partition %" PRId32 " (--input-partitioner %s): input "
                 "records not on their account's partition are sent there through %s and "
                 "judged with its other records (counted in fraudwatch_input_repartitioned_"
                 "total; nearly all of them: the producers partition otherwise; told once)",
              k->cur_task->partition, k->cur_offset, acc, part,
              partitioner_name(k->c->input_partitioner), k->rekey_topic);
    }
    return false;
}

/* Writes an input task's watermark to every partition of every repartition
 * topic when it moved or the task turned idle, and once a second besides (a
 * stage task that just started hears it so). */
/* One watermark record to each of @p topic's @p partitions. */
static void send_watermark_records(fw_krt *k, const char *topic, int32_t partitions,
                                   int32_t source, int64_t wm, bool idle) {
    if (!k->txn_open)
        txn_begin(k);
    if (k->fatal)
        return;
    side_headers sh = { .names = { FW_WM_HEADER_SOURCE, FW_WM_HEADER_WATERMARK }, .n = 2 };
    snprintf(sh.values[0], sizeof(sh.values[0]), "%" PRId32, source);
    fw_upstream_wm_format(sh.values[1], sizeof(sh.values[1]), wm, idle);
    for (int32_t q = 0; q < partitions; q++) {
        produce(k, topic, q, FW_STR_NULL, FW_STR_NULL, NULL, &sh, NO_INPUT_TS);
        k->wm_records++;
    }
}

/* An input task is idle when it is silent for the idle timeout since @p last
 * and read to its end, as the broker says (asked at most once a second while
 * the task is silent). Not the end-of-partition event, nor the end this
 * consumer last fetched: both are old news when records came since but wait
 * in librdkafka behind others (an instance catching up after a restart, a
 * loaded machine). A partition with records waiting that said it is idle
 * would let the stages' time, and the other input tasks' caps, run past those
 * records: they would all be late there. Nor is there always an event:
 * librdkafka sends none again for an offset it reported before (an abort's
 * rewind, the same partition assigned again at its end), so the answer sets
 * at_end too (--exit-at-end). A broker that does not answer within a second
 * leaves the task not idle. */
static bool input_idle(fw_krt *k, fw_task *t, int64_t last, int64_t now) {
    if (now - last < k->c->idle_timeout_ms)
        return false;
    if (now - t->end_asked_ms < 1000)
        return t->end_confirmed;
    if (now - k->end_unanswered_ms < 1000)
        return false; /* one unanswered question a second blocks the loop enough */
    t->end_asked_ms = now;
    t->end_confirmed = false;
    int64_t lo = -1, hi = -1, read_to = t->read_to;
    if (read_to < 0) { /* assigned again where this consumer had read to before */
        rd_kafka_topic_partition_list_t *pos = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(pos, k->src[0].topic, t->partition);
        if (!rd_kafka_position(k->consumer, pos) && !pos->elems[0].err)
            read_to = pos->elems[0].offset;
        rd_kafka_topic_partition_list_destroy(pos);
        if (read_to < 0)
            return false;
    }
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        k->consumer, k->src[0].topic, t->partition, &lo, &hi, 1000);
    if (err)
        k->end_unanswered_ms = now;
    t->end_confirmed = !err && hi >= 0 && read_to >= hi;
    if (t->end_confirmed)
        t->at_end = true;
    else if (!err && hi >= 0)
        t->at_end = false; /* records wait: the next one read says so again */
    return t->end_confirmed;
}

static void send_watermark(fw_krt *k, fw_task *t, int64_t now) {
    const fw_engine *e = fw_pipeline_engine(t->pl);
    if (k->rekey_topic[0]) {
        /* To the account topic: how far its input partition was read (the
         * tasks waiting for records it sends them hold their watermark
         * there), as its engine's watermark would be on those records
         * alone; idle, it advances with the wall clock as advance_idle. */
        int64_t own = INT64_MIN, quiet = now - t->last_record_ms - k->c->idle_timeout_ms;
        bool idle = k->input_done || input_idle(k, t, t->last_record_ms, now);
        if (idle && t->input_max_read > t->input_max_ts)
            t->input_max_ts = t->input_max_read;
        if (t->input_max_ts != INT64_MIN) {
            own = t->input_max_ts - k->pconf.rules.time.max_out_of_orderness_ms;
            if (idle && t->input_max_ts + quiet > own)
                own = t->input_max_ts + quiet;
        }
        if ((own != INT64_MIN || idle) &&
            (own != t->own_sent || idle != t->own_idle_sent || now - t->own_sent_ms >= 1000)) {
            send_watermark_records(k, k->rekey_topic, k->src[0].partitions, t->partition, own,
                                   idle);
            t->own_sent = own;
            t->own_idle_sent = idle;
            t->own_sent_ms = now;
        }
    }
    int64_t wm = fw_engine_stats_get(e)->watermark;
    /* Read to its end and silent for the idle timeout: it holds no stage
     * back (its own windows advance with the wall clock, advance_idle). One
     * still catching up, just assigned or restored, is never idle: its
     * backlog would reach the stages behind their watermark. Nor one still
     * getting records from the account topic. */
    int64_t last = t->last_record_ms > t->last_rekey_ms ? t->last_record_ms : t->last_rekey_ms;
    bool idle = k->ending || input_idle(k, t, last, now);
    if (k->nsrc < 2 || (wm == INT64_MIN && !idle) ||
        (wm == t->wm_sent && idle == t->idle_sent && now - t->wm_sent_ms < 1000))
        return;
    for (int s = 1; s < k->nsrc && !k->fatal; s++)
        send_watermark_records(k, k->src[s].topic, k->src[s].partitions, t->partition, wm,
                               idle);
    t->wm_sent = wm;
    t->idle_sent = idle;
    t->wm_sent_ms = now;
}

static void send_watermarks(fw_krt *k, int64_t now) {
    if (!k->staged)
        return;
    for (fw_task *t = NULL; (t = input_task_next(k, t)) && !k->fatal;)
        send_watermark(k, t, now);
}

typedef struct change_ctx {
    fw_krt *k;
    const char *changelog;
    int32_t partition;
} change_ctx;

static void on_change(void *opaque, fw_str key, const void *value, size_t len) {
    change_ctx *cc = opaque;
    cc->k->changelog_records++;
    produce(cc->k, cc->changelog, cc->partition, key,
            (fw_str){ .ptr = value, .len = len }, NULL, NULL, NO_INPUT_TS);
}

static const fw_pipeline_out pipeline_out_template = {
    .alert = on_alert, .dead_letter = on_dead_letter, .late = on_late,
};

/* ml_score: the batches queued by this poll are scored (or sent) and a
 * changed model file is picked up; with @p drain, everything in flight comes
 * back first. */
static void score_all(fw_krt *k, bool drain) {
    if (!k->scorer)
        return;
    fw_pipeline_out out = pipeline_out_template;
    out.opaque = k;
    if (drain)
        fw_scorer_drain(k->scorer, &out);
    else {
        fw_scorer_poll(k->scorer, &out);
        fw_scorer_maybe_reload(k->scorer, fw_mono_ms(), &out);
    }
}

static void write_changelogs(fw_krt *k) {
    for (fw_task *t = NULL; (t = task_next(k, t));) {
        change_ctx cc = { .k = k, .changelog = k->src[t->src].changelog,
                          .partition = t->partition };
        uint64_t before = k->changelog_records;
        fw_engine_changes(fw_pipeline_engine(t->pl), on_change, &cc);
        if (k->changelog_records != before)
            t->changed = true;
    }
}

static void write_commit_record(fw_krt *k, const fw_task *t, const char *token) {
    produce(k, k->src[t->src].changelog, t->partition,
            (fw_str){ FW_CHANGELOG_COMMIT_KEY, sizeof(FW_CHANGELOG_COMMIT_KEY) - 1 },
            (fw_str){ token, strlen(token) }, NULL, NULL, NO_INPUT_TS);
    k->changelog_records++;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    fw_krt *k = opaque;
    if (m->err) {
        /* The transaction fails to commit on its own; count it to show it. */
        k->delivery_errors++;
        logf_(k, "delivery to %s failed: %s", rd_kafka_topic_name(m->rkt),
              rd_kafka_err2str(m->err));
    }
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    fw_krt *k = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[512];
        rd_kafka_fatal_error(rk, buf, sizeof(buf));
        logf_(k, "fatal Kafka error: %s", buf);
        k->fatal = true;
        return;
    }
    /* Broker down and the like: librdkafka retries by itself. */
    logf_(k, "Kafka: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/* ---- consumer group ----------------------------------------------------------- */

/* One line per topic of @p parts. */
static void log_parts(fw_krt *k, const char *what, const rd_kafka_topic_partition_list_t *parts) {
    for (int i = 0; i < parts->cnt; i++) {
        const char *topic = parts->elems[i].topic;
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            seen = !strcmp(parts->elems[j].topic, topic);
        if (seen)
            continue;
        char buf[512];
        size_t off = 0;
        buf[0] = '\0';
        for (int j = i; j < parts->cnt && off < sizeof(buf) - 16; j++)
            if (!strcmp(parts->elems[j].topic, topic))
                off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%" PRId32,
                                        off ? "," : "", parts->elems[j].partition);
        logf_(k, "%s partitions [%s] of %s (now %d)", what, buf, topic, k->nassigned);
    }
}

/* Adds to @p list what follows input partition @p p from source @p from on:
 * partition p of each stage's repartition topic (a one-partition stage's
 * follows input partition 0). */
static void add_followers(const fw_krt *k, rd_kafka_topic_partition_list_t *list, int32_t p,
                          int from) {
    for (int s = from; s < k->nsrc; s++)
        if (p < k->src[s].partitions)
            rd_kafka_topic_partition_list_add(list, k->src[s].topic, p);
}

/* @p parts and, with each input partition p, its followers: partition p of
 * the account topic (it feeds input task p) and of every stage. Only the
 * input is subscribed: the group balances the input's partitions over the
 * instances, and the stages' work goes with them (co-partitioned, as Kafka
 * Streams' tasks; a group over every topic balanced only the total, so one
 * instance could hold every input partition and another only stages). The
 * caller destroys the copy. */
static rd_kafka_topic_partition_list_t *with_followers(
    const fw_krt *k, const rd_kafka_topic_partition_list_t *parts) {
    rd_kafka_topic_partition_list_t *all = rd_kafka_topic_partition_list_copy(parts);
    for (int i = 0; i < parts->cnt; i++) {
        if (strcmp(parts->elems[i].topic, k->src[0].topic))
            continue;
        if (k->rekey_topic[0])
            rd_kafka_topic_partition_list_add(all, k->rekey_topic, parts->elems[i].partition);
        add_followers(k, all, parts->elems[i].partition, 1);
    }
    return all;
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *group_parts, void *opaque) {
    fw_krt *k = opaque;
    rd_kafka_error_t *error = NULL;
    rd_kafka_topic_partition_list_t *parts = with_followers(k, group_parts);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        k->rebalances[0]++;
        for (int i = 0; i < parts->cnt; i++) {
            int src = source_of(k, parts->elems[i].topic);
            if (src < 0) /* the account topic: read by the input task of its partition */
                continue;
            if (!task_create(k, src, parts->elems[i].partition)) {
                logf_(k, "cannot create task for partition %" PRId32 " of %s: %s",
                      parts->elems[i].partition, parts->elems[i].topic, k->errstr);
                k->fatal = true;
            }
        }
        /* The offsets first: with read_committed they come once the last
         * owner's commit is complete, and they name the commit the restore
         * must read (changelog_restore.h). The consumer starts from them. */
        rd_kafka_resp_err_t cerr =
            k->fatal ? RD_KAFKA_RESP_ERR_NO_ERROR
                     : fw_kafka_committed(rk, parts, FW_REWIND_BUDGET_MS, on_committed_retry, k);
        if (cerr) {
            logf_(k, "cannot read the committed offsets of assigned partitions: %s",
                  rd_kafka_err2str(cerr));
            k->fatal = true;
        } else {
            take_committed(k, parts);
            for (int i = 0; i < parts->cnt; i++)
                if (parts->elems[i].err || parts->elems[i].offset < 0) {
                    parts->elems[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
                    parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID; /* the reset policy */
                }
        }
        restore_pending(k);
        error = rd_kafka_incremental_assign(rk, parts);
        k->ever_assigned = true;
        if (!k->fatal && !error) /* an empty assignment too: in the group, nothing to wait */
            fw_metrics_set_ready(k->metrics, true, NULL);
        restart_idle_clocks(k, fw_mono_ms());
        log_parts(k, "assigned", parts);
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        k->rebalances[rd_kafka_assignment_lost(rk) ? 2 : 1]++;
        if (k->txn_open) {
            if (rd_kafka_assignment_lost(rk)) {
                /* Another member may own them already: our offsets would be refused. */
                logf_(k, "partitions lost (session timed out?): aborting the transaction "
                         "and rewinding");
                k->txn_failed = true;
                txn_abort(k);
            } else {
                txn_commit(k);
            }
        }
        for (int i = 0; i < parts->cnt; i++) {
            int src = source_of(k, parts->elems[i].topic);
            if (src >= 0)
                task_destroy(k, src, parts->elems[i].partition);
        }
        error = rd_kafka_incremental_unassign(rk, parts);
        log_parts(k, rd_kafka_assignment_lost(rk) ? "lost" : "revoked", parts);
        restart_idle_clocks(k, fw_mono_ms());
    } else {
        logf_(k, "rebalance error: %s", rd_kafka_err2str(err));
        error = rd_kafka_incremental_unassign(rk, parts);
    }
    if (error) {
        logf_(k, "rebalance: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        k->fatal = true;
    }
    rd_kafka_topic_partition_list_destroy(parts);
}

/* ---- setup -------------------------------------------------------------------- */

static rd_kafka_t *make_client(fw_krt *k, rd_kafka_type_t type) {
    const fw_run_conf *c = k->c;
    char tid[640], client_id[256], rderr[256];
    rd_kafka_conf_t *conf = fw_kafka_conf_new(&c->kafka, k->errstr, sizeof(k->errstr));
    if (!conf)
        return NULL;
    /* Distinct client ids: identical ones can loop the sticky assignor (#4783). */
    snprintf(client_id, sizeof(client_id), "fraudwatch-%s", c->instance_id);
    if (fw_kafka_conf_set(conf, "client.id", client_id, k->errstr, sizeof(k->errstr)))
        goto fail;
    if (type == RD_KAFKA_CONSUMER) {
        if (fw_kafka_conf_eos_consumer(conf, c->group_id, c->offset_reset_latest, k->errstr,
                                       sizeof(k->errstr)))
            goto fail;
        /* Failover in seconds (the session), unless -X says otherwise. */
        char session[24], heartbeat[24], member[640];
        const char *xs = fw_kafka_opts_get(&c->kafka, "session.timeout.ms");
        long session_ms = xs ? strtol(xs, NULL, 10) : c->session_timeout_ms;
        snprintf(session, sizeof(session), "%d", c->session_timeout_ms);
        snprintf(heartbeat, sizeof(heartbeat), "%ld",
                 c->heartbeat_interval_ms ? c->heartbeat_interval_ms
                                          : (session_ms / 3 > 0 ? session_ms / 3 : 1));
        snprintf(member, sizeof(member), "fraudwatch-%s-%s", c->group_id, c->instance_id);
        const char *group_props[][2] = {
            { "session.timeout.ms", session },
            { "heartbeat.interval.ms", heartbeat },
            { "group.instance.id", c->static_membership ? member : NULL },
        };
        for (size_t i = 0; i < sizeof(group_props) / sizeof(group_props[0]); i++)
            if (group_props[i][1] && !fw_kafka_opts_get(&c->kafka, group_props[i][0]) &&
                fw_kafka_conf_set(conf, group_props[i][0], group_props[i][1], k->errstr,
                                  sizeof(k->errstr)))
                goto fail;
        rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    } else {
        /* Stable per instance: a restarted instance fences its predecessor and
         * aborts its open transaction at once instead of waiting for a timeout. */
        snprintf(tid, sizeof(tid), "fraudwatch-%s-%s", c->group_id, c->instance_id);
        if (fw_kafka_conf_eos_producer(conf, &c->kafka, tid, k->errstr, sizeof(k->errstr)))
            goto fail;
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    }
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_opaque(conf, k);
    rd_kafka_t *rk = rd_kafka_new(type, conf, rderr, sizeof(rderr));
    if (!rk) {
        snprintf(k->errstr, sizeof(k->errstr), "Kafka client: %s", rderr);
        goto fail;
    }
    return rk;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* Every task of sources [from, to) read to its end (and one at least). */
static bool all_at_end(const fw_krt *k, int from, int to) {
    int n = 0;
    for (fw_task *t = NULL; (t = task_next(k, t));) {
        if (t->src < from || t->src >= to)
            continue;
        if (!t->at_end)
            return false;
        n++;
    }
    return n > 0;
}

static void task_advance(fw_krt *k, fw_task *t, int64_t watermark);

/* --exit-at-end with the account topic: once this instance's input tasks
 * are read to their end they say so there (input_done); each then waits
 * until every input partition has said so, which comes after all it routed
 * to it. Then nothing more comes: the caps go. True: done. */
static bool rekey_done(fw_krt *k) {
    if (!k->input_done) {
        k->input_done = true;
        send_watermarks(k, fw_mono_ms());
        txn_commit(k);
        return false;
    }
    /* Every input partition's "idle" came after all it sent here (one
     * producer, one partition: in order). Not "read to the end": the
     * watermark records of every second keep that from ever holding at once
     * for every task. */
    for (fw_task *t = NULL; (t = input_task_next(k, t));)
        if (!fw_upstream_wm_all_idle(&t->up))
            return false;
    fw_pipeline_out out = pipeline_out_template;
    out.opaque = k;
    for (fw_task *t = NULL; (t = input_task_next(k, t));) {
        if (!k->txn_open)
            txn_begin(k);
        fw_pipeline_cap_watermark(t->pl, INT64_MAX, &out);
    }
    k->caps_lifted = true;
    return !k->fatal;
}

/* --exit-at-end, between transactions: once the input is read to its end,
 * release what waits for the watermark and send it down; a staged run then
 * reads its stages' topics to their end too. True: stop now. */
static bool at_the_end(fw_krt *k) {
    if (!k->ending) {
        if (!all_at_end(k, 0, 1))
            return false;
        if (k->rekey_topic[0] && !rekey_done(k))
            return false;
        for (fw_task *t = NULL; (t = input_task_next(k, t));)
            task_advance(k, t, fw_engine_stats_get(fw_pipeline_engine(t->pl))->max_event_time);
        k->ending = 1;
        if (!k->staged)
            return true;
        send_watermarks(k, fw_mono_ms());
        txn_commit(k);
        return false;
    }
    /* A stage task has all it will get once every input partition said it
     * is idle there: each says so after all it sent (one producer per
     * partition at a time: in order), and that watermark is applied as it
     * is read. Not "read to the end": the watermark records every input task
     * sends each second keep that from holding for every stage task at one
     * instant, and an instance that took over another's partitions at its
     * end then never stopped. */
    for (fw_task *t = NULL; (t = task_next(k, t));)
        if (t->src > 0 && !fw_upstream_wm_all_idle(&t->up))
            return false;
    return true;
}


/* The input should be keyed by account_id: a record keyed otherwise may
 * land on another partition than its account's other records. It is
 * counted and reported once per partition; on_route sends it to its
 * account's partition when it is not there (one partition: it is). */
static void check_key(fw_krt *k, fw_task *t, const rd_kafka_message_t *m, fw_str account) {
    if (!account.len ||
        (m->key && m->key_len == account.len && !memcmp(m->key, account.ptr, account.len)))
        return;
    k->tally.open.key_mismatch++;
    if (t->key_warned)
        return;
    t->key_warned = true;
    char key[72], acc[72];
    printable(acc, account.ptr, account.len);
    if (m->key)
        printable(key, m->key, m->key_len);
    logf_(k, "warning: partition %" PRId32 ": record at offset %" PRId64 " has %s%s%s but "
             "account_id \"%s\"; %s (produce with key = account_id; counted, not reported "
             "again for this partition)",
          m->partition, m->offset, m->key ? "key \"" : "no key", m->key ? key : "",
          m->key ? "\"" : "", acc,
          k->rekey_topic[0] ? "records not on their account's partition take one more hop, "
                              "through the account topic"
                            : "one partition holds every account: no harm here");
}

static void task_advance(fw_krt *k, fw_task *t, int64_t watermark);

/* A watermark record (a record with no value) of @p topic, into @p t's
 * upstream watermarks. @returns false for one it cannot read: counted,
 * logged (the first five) and skipped. */
static bool take_watermark_record(fw_krt *k, fw_task *t, const rd_kafka_message_t *m,
                                  const char *topic) {
    rd_kafka_headers_t *hdrs = NULL;
    const void *src = NULL, *wm = NULL;
    size_t src_len = 0, wm_len = 0;
    if (!rd_kafka_message_headers(m, &hdrs) &&
        !rd_kafka_header_get_last(hdrs, FW_WM_HEADER_SOURCE, &src, &src_len) &&
        !rd_kafka_header_get_last(hdrs, FW_WM_HEADER_WATERMARK, &wm, &wm_len) &&
        fw_upstream_wm_take(&t->up, src, src_len, wm, wm_len))
        return true;
    if (k->bad_wm_records++ < 5)
        logf_(k, "%s[%" PRId32 "]@%" PRId64 ": not a watermark record this version reads "
                 "(empty value without readable %s and %s headers): skipped",
              topic, m->partition, m->offset, FW_WM_HEADER_SOURCE, FW_WM_HEADER_WATERMARK);
    return false;
}

/* The input timestamp a stage or account record carries: its own (see
 * COPY_TS_MAX_AGE_MS). */
static int64_t copied_input_ts(const rd_kafka_message_t *m) {
    rd_kafka_timestamp_type_t type;
    int64_t ts = rd_kafka_message_timestamp(m, &type);
    return type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE || ts < 0 ? NO_INPUT_TS : ts;
}

/* A stage task's record: a watermark record (no value) moves its event time
 * to the minimum over the input partitions; a transaction, checked upstream,
 * goes to its engine. */
static void handle_stage_record(fw_krt *k, fw_task *t, rd_kafka_message_t *m) {
    if (!m->len) {
        if (!take_watermark_record(k, t, m, k->src[t->src].topic))
            return;
        int64_t min = fw_upstream_wm_min(&t->up);
        if (min != INT64_MIN)
            task_advance(k, t, min);
        return;
    }
    fw_source_ref src = { .topic = k->src[t->src].topic, .partition = m->partition,
                          .offset = m->offset, .checked = true };
    fw_pipeline_out out = pipeline_out_template;
    out.opaque = k;
    k->cur_key = (fw_str){ .ptr = m->key, .len = m->key_len };
    k->cur_input_ts = copied_input_ts(m);
    fw_pipeline_process(t->pl, m->payload, m->len, &src, &out);
    k->stage_records++;
}

/* A record of the account topic, read by the input task of its partition:
 * a watermark record moves the cap on that task's watermark to the minimum
 * over the input partitions; a transaction another partition routed here
 * goes to the engine like an input record (and on to the stages). */
static void handle_rekey_record(fw_krt *k, fw_task *t, rd_kafka_message_t *m) {
    fw_pipeline_out out = pipeline_out_template;
    out.opaque = k;
    if (!m->len) {
        if (take_watermark_record(k, t, m, k->rekey_topic) && !k->caps_lifted)
            fw_pipeline_cap_watermark(t->pl, fw_upstream_wm_min(&t->up), &out);
        return;
    }
    fw_source_ref src = { .topic = k->rekey_topic, .partition = m->partition,
                          .offset = m->offset, .checked = true };
    out.accepted = on_accepted;
    k->cur_key = (fw_str){ .ptr = m->key, .len = m->key_len };
    k->cur_input_ts = copied_input_ts(m);
    k->from_rekey = true;
    fw_pipeline_process(t->pl, m->payload, m->len, &src, &out);
    k->from_rekey = false;
    k->rekeyed_in++;
    t->last_rekey_ms = k->clock_ms;
}

static void handle_message(fw_krt *k, rd_kafka_message_t *m) {
    /* A consumer-wide error (a refused session, say) names no topic. */
    int source = m->rkt ? source_of(k, rd_kafka_topic_name(m->rkt)) : -1;
    bool rekey = source < 0 && m->rkt && k->rekey_topic[0] &&
                 !strcmp(rd_kafka_topic_name(m->rkt), k->rekey_topic);
    fw_task *t = source >= 0 ? task_get(k, source, m->partition)
                 : rekey     ? task_get(k, 0, m->partition)
                             : NULL;
    if (m->err) {
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (t && rekey) {
                t->rekey_at_end = true;
            } else if (t) {
                t->at_end = true;
                if (m->offset > t->read_to)
                    t->read_to = m->offset;
            }
        } else if (m->err == RD_KAFKA_RESP_ERR_INVALID_SESSION_TIMEOUT) {
            /* librdkafka would ask again forever: say what to change and stop. */
            const char *xs = fw_kafka_opts_get(&k->c->kafka, "session.timeout.ms");
            char given[24];
            snprintf(given, sizeof(given), "%d", k->c->session_timeout_ms);
            logf_(k, "consumer: the broker refuses the session timeout %s%s (%s): set the "
                     "broker's group.min.session.timeout.ms at most that (Kafka's default "
                     "is 6000), or raise --session-timeout-ms (and failover time) to what "
                     "the broker allows",
                  xs ? "-X session.timeout.ms=" : "--session-timeout-ms ", xs ? xs : given,
                  rd_kafka_message_errstr(m));
            k->fatal = true;
        } else {
            logf_(k, "consumer: %s", rd_kafka_message_errstr(m));
        }
        return;
    }
    if (!t)
        return; /* revoked while in flight: its new owner reads it */
    if (!k->txn_open)
        txn_begin(k);
    if (k->fatal)
        return;
    k->cur_task = t;
    if (rekey) {
        handle_rekey_record(k, t, m);
        k->cur_input_ts = NO_INPUT_TS;
        k->cur_task = NULL;
        t->rekey_next = m->offset + 1;
        t->rekey_at_end = false;
            t->dirty = true;
        return;
    }
    if (source > 0) {
        handle_stage_record(k, t, m);
    } else {
        /* Event time may run at most max_future_skew ahead of the message's
         * timestamp, or of the wall clock when it has none (pipeline.c). */
        rd_kafka_timestamp_type_t tstype;
        int64_t ref_ms = rd_kafka_message_timestamp(m, &tstype);
        bool has_ts = tstype != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && ref_ms >= 0;
        fw_source_ref src = { .topic = k->c->input_topic, .partition = m->partition,
                              .offset = m->offset,
                              .ref_time_name = has_ts ? "the record's Kafka timestamp"
                                                      : "the wall clock",
                              .ref_time_ms = has_ts ? ref_ms : fw_wall_ms() };
        fw_pipeline_out out = pipeline_out_template;
        out.opaque = k;
        if (k->staged) {
            out.accepted = on_accepted;
            out.route = on_route;
        }
        k->cur_key = (fw_str){ .ptr = m->key, .len = m->key_len };
        k->cur_offset = m->offset;
        k->cur_input_ts = has_ts ? ref_ms : NO_INPUT_TS;
        fw_pipeline_process(t->pl, m->payload ? m->payload : "", m->len, &src, &out);
        check_key(k, t, m, fw_pipeline_last_account(t->pl));
        if (k->records++ == 0)
            k->first_record_ms = fw_mono_ms();
    }
    if (t->assigned_ms) { /* when a moved partition flows again */
        int64_t wall = fw_wall_ms();
        logf_(k, "partition %" PRId32 " of %s: first record (offset %" PRId64 ") %" PRId64
                 " ms after its assignment, at %" PRId64 ".%03d",
              m->partition, k->src[t->src].topic, m->offset, fw_mono_ms() - t->assigned_ms,
              wall / 1000, (int)(wall % 1000));
        t->assigned_ms = 0;
    }
    k->cur_task = NULL;
    k->cur_input_ts = NO_INPUT_TS; /* what a quiet watermark releases has no input record */
    t->next_offset = m->offset + 1;
    t->read_to = m->offset + 1;
    t->dirty = true;
    t->at_end = false;
    t->last_record_ms = k->clock_ms;
    t->last_event_max = fw_engine_stats_get(fw_pipeline_engine(t->pl))->max_event_time;
}

/* Advances one task's watermark outside the flow of records: alerts and
 * state changes that follow must ride in a transaction. */
static void task_advance(fw_krt *k, fw_task *t, int64_t watermark) {
    const fw_engine_stats *es = fw_engine_stats_get(fw_pipeline_engine(t->pl));
    if (watermark <= es->watermark)
        return;
    if (!k->txn_open)
        txn_begin(k);
    if (k->fatal)
        return;
    fw_pipeline_out out = pipeline_out_template;
    out.opaque = k;
    fw_pipeline_advance(t->pl, watermark, &out);
}

/* A partition silent for the idle timeout releases what it buffered and then
 * advances with the wall clock, so its windows do not stay open for ever. */
static void advance_idle(fw_krt *k, int64_t now) {
    /* A stage task's time comes from the input tasks' watermarks alone. */
    for (fw_task *t = NULL; (t = input_task_next(k, t)) && !k->fatal;) {
        /* Read to its end: one with records waiting is slow, not idle. */
        if (!input_idle(k, t, t->last_record_ms, now))
            continue;
        /* From the last record's time, not from the last advance: that
         * grew with every second it was idle (and a cap held it back). */
        if (t->last_event_max == INT64_MIN)
            continue;
        task_advance(k, t, t->last_event_max + (now - t->last_record_ms - k->c->idle_timeout_ms));
    }
}

/* Adds the live tasks' engine counters to @p s. */
static void add_tasks(const fw_krt *k, fw_metrics_snapshot *s) {
    for (fw_task *t = NULL; (t = task_next(k, t));)
        fw_metrics_add_engine(s, fw_pipeline_engine(t->pl));
}

/* The lowest watermark of each source's tasks here: where its windows stand. */
static void print_watermarks(fw_krt *k, const char *what) {
    char line[FW_STAGE_MAX * 96 + 128];
    size_t off = 0;
    line[0] = '\0';
    for (int s = 0; s < k->nsrc && off < sizeof(line); s++) {
        int64_t min = INT64_MAX;
        int n = 0;
        for (int32_t p = 0; p < k->src[s].cap; p++)
            if (k->src[s].tasks[p]) {
                int64_t wm = fw_engine_stats_get(fw_pipeline_engine(k->src[s].tasks[p]->pl))
                                 ->watermark;
                min = wm < min ? wm : min;
                n++;
            }
        char ts[32] = "-";
        if (n && min != INT64_MIN)
            fw_time_format(min, ts);
        else if (n)
            snprintf(ts, sizeof(ts), "none yet");
        off += (size_t)snprintf(line + off, sizeof(line) - off, "%s%s %s", s ? ", " : "",
                                s ? k->src[s].stage.name : "input", ts);
    }
    /* The account topic's cap: which input partition holds the lowest task. */
    fw_task *low = NULL;
    for (fw_task *t = NULL; k->rekey_topic[0] && (t = input_task_next(k, t));)
        if (!low || fw_engine_stats_get(fw_pipeline_engine(t->pl))->watermark <
                        fw_engine_stats_get(fw_pipeline_engine(low->pl))->watermark)
            low = t;
    int32_t q = low ? fw_upstream_wm_holder(&low->up) : -1;
    if (q >= 0 && off < sizeof(line)) {
        char ts[32] = "not heard from yet";
        if (low->up.wm[q] != INT64_MIN)
            fw_time_format(low->up.wm[q], ts);
        off += (size_t)snprintf(line + off, sizeof(line) - off,
                                "; input partition %" PRId32 " waits for input partition %"
                                PRId32 " (%s)", low->partition, q, ts);
    }
    /* Not "progress:"/"stopped:" lines: those are the counts scripts read. */
    logf_(k, "watermarks (%s; lowest of this instance's tasks): %s", what, line);
}

static void print_stats(fw_krt *k, const char *what, double rate) {
    fw_metrics_snapshot live;
    fw_metrics_snapshot_init(&live);
    add_tasks(k, &live);
    /* One set of numbers: the committed ones, so the rules add up to the total. */
    const fw_tally_counts *tc = &k->tally.committed;
    uint64_t dedup = 0, overflows = 0;
    for (int r = 0; r < FW_RULE__COUNT; r++)
        dedup += live.deduplicated[r];
    for (int l = 0; l < FW_LIMIT__COUNT; l++)
        overflows += live.over_limit[l];
    uint64_t behind = live.behind_watermark, entities = live.entities;
    uint64_t scored = k->retired.ml_scored + live.ml_scored;
    uint64_t unscored = k->retired.ml_unscored + live.ml_unscored;
    char rules[640 + FW_LANG_MAX_RULES * (FW_LANG_MAX_ID + 24)]; /* every rule, language rules too */
    size_t off = 0;
    for (int r = 0; r < FW_RULE__COUNT && off < sizeof(rules); r++)
        off += (size_t)snprintf(rules + off, sizeof(rules) - off, "%s%s %" PRIu64,
                                r ? ", " : "", fw_rule_name((fw_rule_id)r), tc->alerts[r]);
    for (uint32_t i = 0; i < tc->lang.n && off < sizeof(rules); i++) /* after the built-ins */
        off += (size_t)snprintf(rules + off, sizeof(rules) - off, ", %s %" PRIu64,
                                tc->lang.id[i], tc->lang.alerts[i]);
    if (tc->lang.unnamed && off < sizeof(rules))
        off += (size_t)snprintf(rules + off, sizeof(rules) - off, ", %s %" PRIu64,
                                FW_METRICS_LANG_OTHER, tc->lang.unnamed);
    logf_(k, "%s: %" PRIu64 " transactions read (%.0f/s), %" PRIu64 " alerts (%s), %" PRIu64
             " dead letters (%" PRIu64 " duplicates), %" PRIu64 " late, %" PRIu64
             " not keyed by account_id, %" PRIu64 " repartitioned by account, %d "
             "partitions, %" PRIu64 " commits, %" PRIu64 " aborts (%" PRIu64 " alerts rolled "
             "back and emitted again), %" PRIu64 " changelog records, %" PRIu64 " forwarded to "
             "and %" PRIu64 " read from repartition topics; now: %" PRIu64
             " deduplicated, %" PRIu64 " behind the watermark, %" PRIu64 " entities, %" PRIu64
             " over limits; commits took %.1f ms on average, %" PRId64 " ms at most",
          what, k->records, rate, fw_tally_alerts(tc), rules, tc->dead_letters,
          k->retired.duplicates + live.duplicates, tc->late,
          tc->key_mismatch, tc->rekeyed, k->nassigned, k->commits, k->aborts, k->tally.rolled_back_alerts,
          k->changelog_records, k->forwarded, k->stage_records, dedup, behind, entities,
          overflows, k->commit_time.count ? k->commit_time.sum_s * 1000 / (double)k->commit_time.count : 0.0,
          k->commit_ms_max);
    if (k->staged)
        print_watermarks(k, what);
    if (k->scorer) {
        fw_scorer_stats ss;
        fw_scorer_stats_get(k->scorer, &ss);
        logf_(k, "%s: ml_score with %s: %" PRIu64 " scored, %" PRIu64 " not scored; %" PRIu64
                 " model reloads (%" PRIu64 " failed); remote: %" PRIu64 " batches failed (%"
                 PRIu64 " while down), %" PRIu64 " retries, %" PRIu64 " timeouts%s%s",
              what, fw_scorer_describe(k->scorer), scored, unscored, ss.reloads,
              ss.reload_failures, ss.remote.failed_batches, ss.remote.fast_failed,
              ss.remote.retries, ss.remote.timeouts, ss.remote.last_error[0] ? "; last: " : "",
              ss.remote.last_error);
    }
}

/* The metrics: what print_stats prints, as totals over the live tasks and
 * the revoked ones. */
static void publish_metrics(fw_krt *k, int64_t now) {
    fw_metrics_snapshot s = k->retired;
    add_tasks(k, &s);
    s.transactions = k->records;
    fw_metrics_set_tally(&s, &k->tally.committed);
    s.commits = k->commits;
    s.alert_latency = k->alert_latency;
    s.processing_latency = k->processing_latency;
    s.commit_time = k->commit_time;
    s.restore_time = k->restore_time;
    memcpy(s.rebalances, k->rebalances, sizeof(s.rebalances));
    s.aborts = k->aborts;
    s.changelog_records = k->changelog_records;
    s.assigned_partitions = 0; /* of the input (the stages' partitions come with them) */
    s.nlag = 0;
    for (fw_task *t = NULL; (t = input_task_next(k, t));) {
        s.assigned_partitions++;
        int64_t lo, hi, next = t->next_offset;
        /* The high watermark librdkafka last fetched: no request to the broker here. */
        if (s.nlag == FW_METRICS_MAX_LAG ||
            rd_kafka_get_watermark_offsets(k->consumer, k->src[0].topic, t->partition, &lo,
                                           &hi) || hi < 0)
            continue;
        if (next < 0) { /* nothing processed since its assignment: where reading starts */
            rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
            rd_kafka_topic_partition_list_add(l, k->src[0].topic, t->partition);
            if (!rd_kafka_position(k->consumer, l) && l->elems[0].offset >= 0)
                next = l->elems[0].offset;
            rd_kafka_topic_partition_list_destroy(l);
        }
        if (next >= 0) {
            s.lag[s.nlag].partition = t->partition;
            s.lag[s.nlag++].records = hi > next ? hi - next : 0;
        }
    }
    if (k->ruler) {
        s.rules_known = true;
        memcpy(s.rules, k->pconf.rules.common, sizeof(s.rules));
        fw_metrics_set_lang_rules(&s, k->pconf.lang);
        fw_rules_follower_counts(k->ruler, s.rule_updates);
    }
    if (k->scorer) {
        fw_scorer_stats ss;
        fw_scorer_stats_get(k->scorer, &ss);
        s.model_reloads = ss.reloads;
        s.model_reload_failures = ss.reload_failures;
        s.ml_remote_retries = ss.remote.retries;
        s.ml_remote_timeouts = ss.remote.timeouts;
    }
    fw_metrics_publish(k->metrics, &s, now);
}

/* Gives up the assignment before closing: closing a cooperative consumer that
 * has not had its first assignment can crash librdkafka 2.0.2 (#4312), and an
 * assignment arriving during close can hang it (#4527). */
static void close_consumer(fw_krt *k) {
    int64_t deadline = fw_mono_ms() + FW_CLOSE_WAIT_MS;
    while (!k->ever_assigned && !k->fatal && fw_mono_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k->consumer, 100);
        if (m)
            rd_kafka_message_destroy(m); /* not processed, not committed: re-read later */
    }
    rd_kafka_unsubscribe(k->consumer);
    deadline = fw_mono_ms() + FW_CLOSE_WAIT_MS;
    while (k->nassigned > 0 && fw_mono_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k->consumer, 100);
        if (m)
            rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(k->consumer);
}

/* Logs what changes from @p old to @p now, one line per rule. */
static void log_rule_switch(const fw_krt *k, const fw_rules *old, const fw_rules *now) {
    char what[400];
    for (int i = 0; i < FW_RULE__COUNT; i++) {
        fw_rule_id id = (fw_rule_id)i;
        if (fw_rules_rule_equal(old, now, id))
            continue;
        int n = fw_rules_describe_change(old, now, id, what, sizeof(what));
        logf_(k, "rule %s: version %d → %d (%s)", fw_rule_name(id),
              old->common[i].version, now->common[i].version, n ? what : "no other change");
    }
}

/* Logs what changes from @p old to @p now among the language rules. */
static void log_lang_switch(const fw_krt *k, const fw_lang_rules *old, const fw_lang_rules *now) {
    for (size_t i = 0; now && i < now->n; i++) {
        const fw_lang_rule *r = &now->rules[i], *o = fw_lang_rules_find(old, r->id);
        if (!o)
            logf_(k, "rule %s: version %d, new (%s rule)", r->id, r->common.version,
                  fw_lang_kind_name(r->kind));
        else if (o->common.version != r->common.version)
            logf_(k, "rule %s: version %d → %d", r->id, o->common.version, r->common.version);
    }
    for (size_t i = 0; old && i < old->n; i++)
        if (!fw_lang_rules_find(now, old->rules[i].id))
            logf_(k, "rule %s: removed (version %d ran)", old->rules[i].id,
                  old->rules[i].common.version);
}

static void warn_lang_rules(fw_krt *k, const fw_lang_rules *rs);

/* A live change brought rules marked "backfill" whose state is new: replay
 * this task's partition into them (backfill.h) before its next record. The
 * task waits meanwhile; the moved keys ride in the next transaction. */
static void backfill_task(fw_krt *k, fw_task *t) {
    fw_engine_backfill bf[FW_LANG_MAX_RULES];
    fw_engine *e = fw_pipeline_engine(t->pl);
    size_t n = fw_engine_lang_backfill(e, bf, FW_LANG_MAX_RULES);
    if (!n)
        return;
    n = n < FW_LANG_MAX_RULES ? n : FW_LANG_MAX_RULES;
    if (t->src > 0) { /* its input is the repartition topic, whose records are not kept */
        for (size_t i = 0; i < n; i++)
            logf_(k, "rule %s: partition %d of %s: backfill is for rules keyed by account_id; "
                     "this one starts empty", bf[i].rule->id, t->partition, k->src[t->src].topic);
        return;
    }
    int64_t wm = fw_engine_stats_get(e)->watermark, to = t->next_offset;
    if (to < 0) { /* nothing processed since the assignment: where the consumer stands */
        rd_kafka_topic_partition_list_t *pos = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(pos, k->c->input_topic, t->partition);
        if (!rd_kafka_position(k->consumer, pos) && !pos->elems[0].err)
            to = pos->elems[0].offset;
        rd_kafka_topic_partition_list_destroy(pos);
    }
    if (wm == INT64_MIN || to < 0) {
        for (size_t i = 0; i < n; i++)
            logf_(k, "rule %s: partition %d: nothing to backfill (%s)", bf[i].rule->id,
                  t->partition, wm == INT64_MIN ? "no record seen yet" : "no position yet");
        return;
    }
    int64_t from = fw_backfill_from(&k->pconf.rules, bf, n, wm);
    fw_backfill_stats bs;
    size_t keys[FW_LANG_MAX_RULES];
    if (!fw_backfill_run(k->restorer, k->c->input_topic, t->partition, from, to, &k->pconf, e,
                         bf, n, keys, k->c->instance_id, &bs)) {
        for (size_t i = 0; i < n; i++)
            logf_(k, "rule %s: partition %d: backfill failed; the rule starts empty",
                  bf[i].rule->id, t->partition);
        return;
    }
    char t1[32] = "-", t2[32] = "-";
    if (bs.first_ts_ms != INT64_MIN) {
        fw_time_format(bs.first_ts_ms, t1);
        fw_time_format(bs.last_ts_ms, t2);
    }
    for (size_t i = 0; i < n; i++)
        logf_(k, "rule %s: partition %d: backfilled %" PRIu64 " records (event time %s to "
                 "%s, %" PRIu64 " dead letters ignored) in %.3f s; %zu keys",
              bf[i].rule->id, t->partition, bs.records, t1, t2, bs.dead_letters,
              (double)bs.elapsed_ms / 1000.0, keys[i]);
    if (bs.keys && !k->txn_open)
        txn_begin(k); /* so the next commit writes the moved keys to the changelog */
}

/* ---- stages -------------------------------------------------------------------- */

/* Creates (or checks) a stage's repartition topic and its changelog and
 * adds it as a source. */
static bool source_add(fw_krt *k, const fw_stage *st) {
    const fw_run_conf *c = k->c;
    if (k->nsrc == FW_STAGE_MAX) {
        snprintf(k->errstr, sizeof(k->errstr), "more than %d stages", FW_STAGE_MAX - 1);
        return false;
    }
    fw_source *so = &k->src[k->nsrc];
    memset(so, 0, sizeof(*so));
    so->stage = *st;
    fw_repartition_topic(so->topic, sizeof(so->topic), c->group_id, st->name);
    fw_repartition_changelog(so->changelog, sizeof(so->changelog), c->changelog_name, st->name);
    /* Partitioned like the input (cycle: one), state co-partitioned with it. */
    int parts = st->single_partition ? 1 : k->src[0].partitions;
    fw_topic_spec specs[] = {
        { .name = so->topic, .partitions = parts, .replication_factor = c->replication_factor,
          .must_match = true },
        { .name = so->changelog, .partitions = parts,
          .replication_factor = c->replication_factor, .compacted = true,
          .must_compact = true, .must_match = true },
    };
    if (fw_topics_ensure(&c->kafka, specs, 2, 30000, k->errstr, sizeof(k->errstr)))
        return false;
    so->partitions = parts;
    so->plan_idx = SIZE_MAX;
    k->nsrc++;
    return true;
}

/* The group shares out the input's partitions alone (with_followers). */
static bool subscribe_input(fw_krt *k) {
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, k->src[0].topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(k->consumer, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (err)
        logf_(k, "subscribe to %s: %s", k->c->input_topic, rd_kafka_err2str(err));
    k->subscribed = !err;
    return !err;
}

/* A live change brought stages from source @p from on: their partitions
 * follow the input partitions this instance holds, from now. */
static bool assign_new_followers(fw_krt *k, int from) {
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(8);
    for (fw_task *t = NULL; (t = input_task_next(k, t));)
        add_followers(k, list, t->partition, from);
    for (int i = 0; i < list->cnt && !k->fatal; i++) {
        int src = source_of(k, list->elems[i].topic);
        if (!task_create(k, src, list->elems[i].partition)) {
            logf_(k, "cannot create task for partition %" PRId32 " of %s: %s",
                  list->elems[i].partition, list->elems[i].topic, k->errstr);
            k->fatal = true;
        }
    }
    restore_pending(k);
    rd_kafka_error_t *error = list->cnt && !k->fatal
                                  ? rd_kafka_incremental_assign(k->consumer, list)
                                  : NULL;
    if (error) {
        logf_(k, "assigning the new stages' partitions: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        k->fatal = true;
    }
    if (list->cnt)
        log_parts(k, "assigned", list);
    rd_kafka_topic_partition_list_destroy(list);
    return !k->fatal;
}

/* Says where each stage's rules run, once per plan. */
static void log_plan(fw_krt *k) {
    for (int s = 1; s < k->nsrc; s++)
        if (k->src[s].plan_idx != SIZE_MAX)
            logf_(k, "stage %s: rules keyed by %s read %s (%d partition%s), state in %s",
                  k->src[s].stage.name,
                  k->src[s].stage.kind == FW_STAGE_RECEIVER ? "the receiving account"
                  : k->src[s].stage.kind == FW_STAGE_CYCLE  ? "nothing (one partition)"
                                                            : k->src[s].stage.name,
                  k->src[s].topic, k->src[s].partitions, k->src[s].partitions == 1 ? "" : "s",
                  k->src[s].changelog);
}

/* Asks the broker for the partitions of every topic the producer writes to
 * and keeps the handles. Without, the first record to a topic waits for the
 * producer's next metadata refresh (about 0.4 s with this librdkafka), and
 * the commit that flushes it with it: a stall of every alert behind it. */
static void warm_producer(fw_krt *k) {
    const char *names[2 * FW_STAGE_MAX + 8];
    int n = 0;
    names[n++] = k->c->output_topic;
    names[n++] = k->c->dlq_topic;
    names[n++] = k->c->late_topic;
    if (k->rekey_topic[0])
        names[n++] = k->rekey_topic;
    for (int s = 0; s < k->nsrc; s++) {
        if (s > 0)
            names[n++] = k->src[s].topic;
        names[n++] = k->src[s].changelog;
    }
    for (int i = 0; i < n; i++) {
        bool have = false;
        for (int j = 0; j < k->nwarm && !have; j++)
            have = !strcmp(rd_kafka_topic_name(k->warm[j]), names[i]);
        if (have || k->nwarm >= (int)(sizeof(k->warm) / sizeof(k->warm[0])))
            continue;
        rd_kafka_topic_t *t = rd_kafka_topic_new(k->producer, names[i], NULL);
        const struct rd_kafka_metadata *md = NULL;
        if (!t)
            continue;
        if (rd_kafka_metadata(k->producer, 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR)
            rd_kafka_metadata_destroy(md); /* a failure: the first produce asks, as before */
        k->warm[k->nwarm++] = t;
    }
}

/* Where the rules in force run: a stage no source reads yet gets its topics
 * and its partitions follow the input partitions held here (once the
 * consumer is subscribed). Stages no rule needs any more keep their topics, unused. */
static bool update_plan(fw_krt *k) {
    if (!k->staged) {
        warm_producer(k); /* output, dead letters, late and the changelog */
        return true;
    }
    fw_stage_plan plan;
    if (fw_stage_plan_build(&plan, &k->pconf.rules, k->pconf.lang, k->c->colocated, k->errstr,
                            sizeof(k->errstr))) {
        logf_(k, "rules: %s", k->errstr);
        return false;
    }
    int before = k->nsrc;
    for (size_t i = 1; i < plan.n; i++) {
        bool have = false;
        for (int s = 1; s < k->nsrc && !have; s++)
            have = fw_stage_equal(&k->src[s].stage, &plan.stages[i]);
        if (!have && !source_add(k, &plan.stages[i])) {
            logf_(k, "stage %s: %s", plan.stages[i].name, k->errstr);
            return false;
        }
    }
    fw_stage_router *router = fw_stage_router_new(&plan, &k->pconf.rules, k->pconf.lang,
                                                  k->c->colocated, k->errstr,
                                                  sizeof(k->errstr));
    if (!router) {
        logf_(k, "rules: %s", k->errstr);
        return false;
    }
    fw_stage_router_destroy(k->router);
    k->router = router;
    k->plan = plan;
    for (int s = 1; s < k->nsrc; s++)
        k->src[s].plan_idx = fw_stage_find(&k->plan, &k->src[s].stage);
    log_plan(k);
    warm_producer(k);
    return !k->subscribed || k->nsrc == before || assign_new_followers(k, before);
}

/* At a transaction boundary (no transaction open): every task switches to the
 * rules the follower accepted since the last switch, keeping its state. */
static void switch_rules(fw_krt *k) {
    fw_rules next;
    fw_lang_rules *lang;
    bool changed = false;
    if (k->txn_open)
        return;
    if (fw_rules_follower_take(k->ruler, &next)) {
        log_rule_switch(k, &k->pconf.rules, &next);
        for (fw_task *t = NULL; (t = task_next(k, t));)
            if (fw_pipeline_set_rules(t->pl, &next, k->errstr, sizeof(k->errstr))) {
                /* Cannot happen: the follower changes rule entries only. */
                logf_(k, "partition %d of %s: rules not switched: %s; stopping", t->partition,
                      k->src[t->src].topic, k->errstr);
                k->fatal = true;
            }
        k->pconf.rules = next;
        changed = true;
    }
    if (fw_rules_follower_take_lang(k->ruler, &lang)) {
        /* Language rules and lists: state of unchanged shapes kept (fw_engine_set_lang). */
        log_lang_switch(k, k->pconf.lang, lang);
        for (fw_task *t = NULL; (t = task_next(k, t));)
            if (fw_pipeline_set_lang(t->pl, lang, k->errstr, sizeof(k->errstr))) {
                logf_(k, "partition %d of %s: language rules not switched: %s; stopping",
                      t->partition, k->src[t->src].topic, k->errstr);
                k->fatal = true;
            }
        fw_lang_rules_destroy(k->lang_owned); /* no task runs it any more */
        k->lang_owned = lang;
        k->pconf.lang = lang;
        fw_lang_counts_declare(&k->tally.committed.lang, lang);
        warn_lang_rules(k, lang);
        for (fw_task *t = NULL; (t = task_next(k, t)) && !k->fatal;)
            backfill_task(k, t);
        changed = true;
    }
    if (changed && !update_plan(k))
        logf_(k, "error: the rules keyed by the stage above do not run until this is "
                 "fixed (the others run on)");
}

/* A list no source gives is false. */
static void warn_lang_rules(fw_krt *k, const fw_lang_rules *rs) {
    char missing[512];
    if (fw_lang_live_missing_lists(rs, missing, sizeof(missing)))
        logf_(k, "warning: rules name the list(s) %s, which no rules file, --lists or lists "
                 "topic gives: `in list` is false for them until one does", missing);
}

int fw_kafka_run(const fw_run_conf *c, fw_profiles *profiles, fw_scorer *scorer,
                 fw_metrics *metrics) {
    fw_krt krt = { .c = c, .scorer = scorer, .metrics = metrics, .pconf = c->pipeline,
                   .retired = { .watermark_ms = INT64_MIN }, .end_unanswered_ms = INT64_MIN / 2,
                   .mem = { .limit = c->max_memory }, .cur_input_ts = NO_INPUT_TS };
    fw_krt *k = &krt;
    int rc = 1;
    /* Commit tokens must differ from every other process's, restarts included. */
    struct { int64_t wall, mono; long pid; const void *at; } seed = {
        fw_wall_ms(), fw_mono_ns(), (long)getpid(), k };
    k->token_nonce = fw_hash64(&seed, sizeof(seed), 0x66773174u);
    fw_lang_counts_declare(&k->tally.committed.lang, c->lang); /* each at 0 until it alerts */
    fw_topic_spec topics[] = {
        { .name = c->input_topic, .partitions = c->partitions,
          .replication_factor = c->replication_factor },
        { .name = c->output_topic, .partitions = c->partitions,
          .replication_factor = c->replication_factor },
        { .name = c->dlq_topic, .partitions = c->partitions,
          .replication_factor = c->replication_factor },
        { .name = c->late_topic, .partitions = c->partitions,
          .replication_factor = c->replication_factor },
    };
    if (fw_topics_ensure(&c->kafka, topics, 4, 30000, k->errstr, sizeof(k->errstr))) {
        logf_(k, "%s", k->errstr);
        return 1;
    }
    /* The changelog is co-partitioned with the input: partition p of one holds
     * the state of partition p of the other. */
    fw_topic_spec changelog = { .name = c->changelog_name, .partitions = topics[0].partitions,
                                .replication_factor = c->replication_factor,
                                .compacted = true, .must_compact = true,
                                .must_match = true };
    if (fw_topics_ensure(&c->kafka, &changelog, 1, 30000, k->errstr, sizeof(k->errstr))) {
        logf_(k, "%s", k->errstr);
        return 1;
    }
    /* Source 0, the input. With several partitions, every rule keyed by
     * something else runs in a stage behind a repartition topic (stage.h). */
    fw_source *in = &k->src[0];
    snprintf(in->topic, sizeof(in->topic), "%s", c->input_topic);
    snprintf(in->changelog, sizeof(in->changelog), "%s", c->changelog_name);
    in->partitions = topics[0].partitions;
    in->plan_idx = 0;
    k->nsrc = 1;
    k->staged = in->partitions > 1;
    if (k->staged) {
        in->stage = (fw_stage){ .kind = FW_STAGE_INPUT };
        snprintf(in->stage.name, sizeof(in->stage.name), "account_id");
        /* Partitioned like the input; read with it (with_rekey), no state of its own. */
        fw_repartition_topic(k->rekey_topic, sizeof(k->rekey_topic), c->group_id, "account_id");
        fw_topic_spec rekey = { .name = k->rekey_topic, .partitions = in->partitions,
                                .replication_factor = c->replication_factor,
                                .must_match = true };
        if (fw_topics_ensure(&c->kafka, &rekey, 1, 30000, k->errstr, sizeof(k->errstr))) {
            logf_(k, "%s", k->errstr);
            return 1;
        }
    }
    fw_buf_init(&k->fwd, 0);
    warn_lang_rules(k, c->lang);
    if (!(k->producer = make_client(k, RD_KAFKA_PRODUCER)) ||
        !(k->consumer = make_client(k, RD_KAFKA_CONSUMER)) ||
        !(k->restorer = fw_kafka_reader_new(&c->kafka, c->instance_id, "restore", k->errstr,
                                            sizeof(k->errstr))) ||
        (c->profiles_topic[0] &&
         !(k->profiler = fw_profiles_follower_new(&c->kafka, c->profiles_topic, c->partitions,
                                                  c->replication_factor, c->instance_id,
                                                  profiles, k->errstr, sizeof(k->errstr)))) ||
        ((c->rules_topic[0] || c->rules_file || c->lists_file || c->lists_topic[0]) &&
         !(k->ruler = fw_rules_follower_new(
               &c->kafka, c->rules_topic, c->rules_status_topic, c->replication_factor,
               c->instance_id, &c->pipeline.rules,
               &(fw_rules_follow_lang){ .rules_file = c->rules_file,
                                        .lists_file = c->lists_file,
                                        .lists_topic = c->lists_topic },
               k->errstr, sizeof(k->errstr))))) {
        logf_(k, "%s", k->errstr);
        goto out;
    }
    rd_kafka_poll_set_consumer(k->consumer);
    rd_kafka_error_t *error = rd_kafka_init_transactions(k->producer, 60000);
    if (error) {
        logf_(k, "init_transactions: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        goto out;
    }
    fw_profiles_follower_poll(k->profiler, true);
    /* The rules topic's state is in force before the first record. */
    fw_rules_follower_poll(k->ruler, true);
    switch_rules(k);
    if (!update_plan(k) || !subscribe_input(k))
        goto out;
    fw_stop_install();
    if (c->rules_file || c->lists_file)
        fw_reload_install();
    logf_(k, "reading %s in group %s as fraudwatch-%s-%s; alerts to %s, dead letters to %s, "
             "late records to %s, state to %s",
          c->input_topic, c->group_id, c->group_id, c->instance_id, c->output_topic,
          c->dlq_topic, c->late_topic, c->changelog_name);

    int64_t last_stats = fw_mono_ms(), last_idle_check = last_stats, last_poll = last_stats;
    uint64_t last_records = 0;
    while (!fw_stop_requested() && !k->fatal) {
        if (fw_mono_ms() - last_poll > 1000) /* not listening for a while: see restart_idle_clocks */
            restart_idle_clocks(k, fw_mono_ms());
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k->consumer, 20);
        last_poll = k->clock_ms = fw_mono_ms();
        for (int n = 0; m; n++) {
            handle_message(k, m);
            rd_kafka_message_destroy(m);
            if (n % FW_CLOCK_EVERY == FW_CLOCK_EVERY - 1)
                k->clock_ms = fw_mono_ms();
            if (n >= FW_MAX_BATCH || k->fatal ||
                (k->txn_open && k->clock_ms - k->txn_started_ms >= c->commit_interval_ms))
                break;
            m = rd_kafka_consumer_poll(k->consumer, 0);
        }
        if (k->txn_open && !k->fatal)
            score_all(k, false);
        rd_kafka_poll(k->producer, 0);
        fw_profiles_follower_poll(k->profiler, false);
        fw_rules_follower_poll(k->ruler, false);
        if ((c->rules_file || c->lists_file) && fw_reload_take())
            fw_rules_follower_reload(k->ruler, c->rules_file);
        int64_t now = fw_mono_ms();
        if (k->txn_open && now - k->txn_started_ms >= c->commit_interval_ms)
            txn_commit(k);
        switch_rules(k); /* only between transactions: after a commit, before a record */
        if (c->stats_interval_s && !c->quiet && now - last_stats >= c->stats_interval_s * 1000) {
            print_stats(k, "progress",
                        (double)(k->records - last_records) * 1000.0 / (double)(now - last_stats));
            last_stats = now;
            last_records = k->records;
        }
        if (fw_metrics_due(k->metrics, now))
            publish_metrics(k, now);
        follow_memory(k, now);
        if (now - last_idle_check >= 1000) { /* idleness is a matter of seconds */
            advance_idle(k, now);
            last_idle_check = now;
        }
        if (!k->txn_open)
            send_watermarks(k, now); /* heartbeats, and idle partitions, between records */
        /* Ending, the check only reads: a transaction is open nearly always
         * then (every watermark record read opens one), and the one after
         * the loop commits it. */
        if (c->exit_at_end && (!k->txn_open || k->ending) && at_the_end(k))
            break;
    }
    if (k->fatal)
        fw_metrics_set_failed(k->metrics, last_log);
    else
        fw_metrics_set_ready(k->metrics, false, "stopping");
    txn_commit(k);
    if (!k->fatal) {
        close_consumer(k);
        rd_kafka_flush(k->producer, 30000);
        rc = 0;
    }
    double busy_s = (double)(k->last_commit_ms - k->first_record_ms) / 1000.0;
    if (!c->quiet || rc)
        print_stats(k, rc ? "stopped on error" : "stopped",
                    busy_s > 0 ? (double)k->records / busy_s : 0);
    if (k->metrics)
        publish_metrics(k, fw_mono_ms());
out:
    if (rc)
        fw_metrics_set_failed(k->metrics, last_log);
    fw_reload_uninstall();
    fw_rules_follower_destroy(k->ruler);
    fw_profiles_follower_destroy(k->profiler);
    if (k->restorer) {
        rd_kafka_consumer_close(k->restorer);
        rd_kafka_destroy(k->restorer);
    }
    if (k->consumer)
        rd_kafka_destroy(k->consumer);
    for (int i = 0; i < k->nwarm; i++)
        rd_kafka_topic_destroy(k->warm[i]);
    if (k->producer)
        rd_kafka_destroy(k->producer);
    for (int src = 0; src < k->nsrc; src++) {
        for (int32_t p = 0; p < k->src[src].cap; p++)
            task_destroy(k, src, p);
        free(k->src[src].tasks);
    }
    fw_buf_fini(&k->fwd);
    free(k->pending);
    fw_stage_router_destroy(k->router);
    fw_lang_rules_destroy(k->lang_owned); /* after the tasks that ran it */
    return rc;
}
