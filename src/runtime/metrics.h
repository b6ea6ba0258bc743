/* metrics.h — `fraudwatch run --metrics-port`: a Prometheus endpoint.
 *
 * A small libmicrohttpd server on its own thread answers
 *
 *   GET /metrics  the counters in the text exposition format 0.0.4
 *   GET /health   200 "ok" while the processing loop turns and has not failed;
 *                 503 and the reason after a fatal error, or when the loop has
 *                 not turned (published) for longer than health_timeout_ms
 *   GET /ready    200 "ready" once the runner says so (Kafka mode: in the group,
 *                 every assigned partition restored and consuming); 503 and why not
 *
 * It never reads the engine: the runner that owns the engines (its main
 * thread) fills an fw_metrics_snapshot from the stats it already keeps and
 * publishes it, a plain struct copy under a mutex, every 100 ms at most (Kafka
 * mode) or every few thousand lines (file mode). A scrape formats the last
 * copy. Nothing here runs per event. */
#ifndef FW_METRICS_H
#define FW_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "fw_err.h"
#include "fw_str.h"
#include "lang_rules.h"
#include "rules.h"

#define FW_METRICS_PUBLISH_MS 100 /* a runner publishes at most this often */

/** The limits whose hits are counted (label limit="..." of
 *  fraudwatch_over_limit_total). */
typedef enum fw_metrics_limit {
    FW_LIMIT_ENTITIES = 0,   /* keyed state full: a new entity refused */
    FW_LIMIT_WINDOW_EVENTS,  /* an entity's window full: an event not kept */
    FW_LIMIT_REORDER_BUFFER, /* event-time buffer full: released before the watermark */
    FW_LIMIT_ENTITY_ID,      /* an entity id too long to track */
    FW_LIMIT_TRANSFERS_WEIGHED, /* cycle / mule_cashout weighed only the latest 128 */
    FW_LIMIT_TRANSACTION_IDS, /* ids for duplicates full: the oldest forgotten early */
    FW_LIMIT_MEMORY,         /* the process over --max-memory: a new key of state refused */
    FW_LIMIT__COUNT
} fw_metrics_limit;

/** Upper bounds (ms) of the alert latency histogram's buckets, then +Inf. */
#define FW_METRICS_LATENCY_BOUNDS_MS \
    { 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 15000, 30000, 60000 }
#define FW_METRICS_LATENCY_BUCKETS 15 /* the bounds and +Inf */

/** An alert latency histogram: from an alert's event time to the engine
 *  producing it. */
typedef struct fw_latency_hist {
    uint64_t bucket[FW_METRICS_LATENCY_BUCKETS]; /* not cumulative: [i] counts <= bound i */
    uint64_t count;
    double sum_s;
} fw_latency_hist;

/** @brief Counts one latency of @p ms (negative: 0). */
void fw_latency_observe(fw_latency_hist *h, int64_t ms);

/** What a runner publishes: its totals since start. Counters only grow: a
 *  value lower than the one published before (an aborted Kafka transaction
 *  rolls a partition's engine back to its last commit) is held at the higher
 *  one until the replay passes it. */
/** Results of a live rule change, the label of fraudwatch_rule_updates_total. */
typedef enum fw_rule_update {
    FW_RULE_UPDATE_ACCEPTED = 0, /* applied (or to be applied at the next boundary) */
    FW_RULE_UPDATE_REJECTED,     /* invalid, or its version does not increase */
    FW_RULE_UPDATE_DELETED,      /* a tombstone: back to --rules or the defaults */
    FW_RULE_UPDATE__COUNT
} fw_rule_update;

/** @brief "accepted", "rejected", "deleted". */
const char *fw_rule_update_name(fw_rule_update u);

/** Alerts of language rules (fw_alert.rule == FW_RULE_LANG), by rule id: at
 *  most FW_LANG_MAX_RULES ids, the bound of one rules file, in first-seen
 *  order. Plain data: copied with the snapshot. An id past the bound, or too
 *  long to be one, is counted in @c unnamed (never dropped from the totals). */
/** The rule label of alerts whose language rule id is past the bound. */
#define FW_METRICS_LANG_OTHER "__other_language_rules__"

typedef struct fw_lang_counts {
    uint32_t n;
    char id[FW_LANG_MAX_RULES][FW_LANG_MAX_ID];
    uint64_t alerts[FW_LANG_MAX_RULES];
    uint64_t unnamed;
} fw_lang_counts;

/** @brief Adds @p n alerts to rule @p id (0: only declares it, so that its
 *  series shows at 0). A scan of at most 256 ids: alerts are few next to
 *  transactions. */
void fw_lang_counts_add(fw_lang_counts *c, const char *id, uint64_t n);

/** @brief Declares every rule of @p rs (NULL: none) at 0, in the file's order. */
void fw_lang_counts_declare(fw_lang_counts *c, const fw_lang_rules *rs);

/** @brief Every language rule's alerts, unnamed included. */
uint64_t fw_lang_counts_total(const fw_lang_counts *c);

#define FW_METRICS_MAX_LAG 256 /* input partitions whose consumer lag is exported */

typedef struct fw_metrics_snapshot {
    uint64_t transactions;                   /* records read, dead letters included */
    uint64_t alerts[FW_RULE__COUNT];         /* raised, by rule */
    uint64_t deduplicated[FW_RULE__COUNT];   /* folded into an earlier alert, by rule */
    fw_lang_counts lang_alerts;              /* raised, by language rule (after alerts[]) */
    uint64_t dead_letters;
    uint64_t late;                           /* beyond the allowed lateness */
    uint64_t behind_watermark;               /* behind it, within the lateness */
    uint64_t duplicates;                     /* transaction id seen before: dead letters */
    uint64_t over_limit[FW_LIMIT__COUNT];
    /* Kafka mode. */
    uint64_t commits, aborts;                /* transactions */
    uint64_t changelog_records;
    uint64_t key_mismatch;                   /* input records not keyed by account_id */
    uint64_t rekeyed;                        /* input records sent to their account's partition */
    /* ml_score. */
    uint64_t ml_scored, ml_unscored;         /* rows */
    uint64_t ml_batches, ml_failed_batches;  /* scoring calls */
    uint64_t model_reloads, model_reload_failures;
    fw_latency_hist alert_latency;           /* Kafka mode: from the alert's event time */
    fw_latency_hist processing_latency;      /* Kafka mode: from its input record's timestamp */
    fw_latency_hist commit_time;             /* Kafka mode: each transaction's commit */
    fw_latency_hist restore_time;            /* Kafka mode: each restore of assigned state */
    uint64_t rebalances[3];                  /* Kafka mode: assigned, revoked, lost */
    int restoring_partitions;                /* Kafka mode: in the restore running now */
    int64_t restore_running_ms;              /* how long it has run; 0: none */
    uint64_t ml_remote_retries, ml_remote_timeouts; /* --api-endpoint: HTTP attempts */
    /* Live rules (Kafka mode with a rules topic or --rules): the rule set in
     * force on every task, and control-topic records and SIGHUP reloads by
     * result (fw_rule_update). */
    bool rules_known;
    fw_rule_common rules[FW_RULE__COUNT];
    uint64_t rule_updates[FW_RULE_UPDATE__COUNT];
    /* The language rules in force (rules_known): id, version, enabled, shadow. */
    uint32_t nlang_rules;
    char lang_rule_id[FW_LANG_MAX_RULES][FW_LANG_MAX_ID];
    fw_rule_common lang_rules[FW_LANG_MAX_RULES];
    /* Gauges. */
    uint64_t entities;                       /* in keyed state now */
    int assigned_partitions;                 /* Kafka mode */
    int64_t watermark_ms;                    /* event time; INT64_MIN: none yet */
    int64_t scrape_wall_ms;                  /* the wall clock when formatted (event-time
                                                lag); set by the scrape, 0: not exported */
    /* Kafka mode: per assigned input partition (the first FW_METRICS_MAX_LAG),
     * records behind its end: its high watermark minus the next offset to process. */
    int nlag;
    struct { int32_t partition; int64_t records; } lag[FW_METRICS_MAX_LAG];
} fw_metrics_snapshot;

/** @brief Copies the id, version, enabled and shadow of each rule of @p rs
 *  (NULL: none) into @p s for fraudwatch_rule_info. */
void fw_metrics_set_lang_rules(fw_metrics_snapshot *s, const fw_lang_rules *rs);


/** What a Kafka runner's transactions carry, counted per output. */
typedef struct fw_tally_counts {
    uint64_t alerts[FW_RULE__COUNT];         /* by rule */
    fw_lang_counts lang;                     /* by language rule */
    uint64_t dead_letters;
    uint64_t late;
    uint64_t key_mismatch;                   /* input records not keyed by account_id */
    uint64_t rekeyed;                        /* input records sent to their account's partition */
} fw_tally_counts;

/** The outputs of a Kafka runner counted as a read_committed reader sees
 *  them: what the open transaction emits is counted in @c open and moves to
 *  @c committed when it commits; an abort drops it (its input is read again
 *  and emits it again). So the totals are one set of numbers — the sum over
 *  rules is the alert total, at every moment — and equal what the topics
 *  hold. Plain fields: the runner increments @c open directly. */
typedef struct fw_tally {
    fw_tally_counts committed;
    fw_tally_counts open;                    /* in the open transaction */
    uint64_t rolled_back_alerts;             /* emitted in transactions later aborted */
} fw_tally;

/** @brief The open transaction committed: its counts join the committed ones. */
void fw_tally_commit(fw_tally *t);

/** @brief The open transaction aborted: its counts are dropped (its alerts
 *  are added to rolled_back_alerts). */
void fw_tally_abort(fw_tally *t);

/** @brief The sum of @p c's alerts over every rule, language rules included. */
uint64_t fw_tally_alerts(const fw_tally_counts *c);

/** @brief Puts @p c's counts into @p s (alerts by rule and language rule, dead letters, late,
 *  key mismatches), replacing what the engines' stats said. */
void fw_metrics_set_tally(fw_metrics_snapshot *s, const fw_tally_counts *c);

/** @brief A snapshot with every counter 0 and no watermark. */
void fw_metrics_snapshot_init(fw_metrics_snapshot *s);

struct fw_engine;

/** @brief Adds what one partition's engine counts to @p s: alerts and dedupes
 *  by rule, behind-watermark, duplicates, limit hits, ml_score rows and batches, and its
 *  entities. Its watermark lowers s->watermark_ms when it has one (neither
 *  INT64_MIN, none yet, nor INT64_MAX, everything released at end of input). */
void fw_metrics_add_engine(fw_metrics_snapshot *s, const struct fw_engine *e);

/** What does not change while the process runs. */
typedef struct fw_metrics_conf {
    const char *bind;        /* IPv4 or IPv6 address to listen on */
    int port;                /* 1-65535; 0 picks a free one (fw_metrics_port) */
    bool kafka;              /* Kafka mode: its metrics are exported */
    bool ml;                 /* ml_score is on: its metrics are exported */
    const char *instance_id; /* label of fraudwatch_info; copied */
    double start_time_s;     /* Unix time; 0: now */
    int64_t health_timeout_ms; /* /health: 503 when the loop has not turned for longer;
                                  0: not checked (file mode, whose reads may block) */
    int64_t (*clock_ms)(void); /* monotonic ms for /health; NULL: fw_mono_ms (tests feed
                                  their own) */
    int64_t (*wall_clock_ms)(void); /* Unix ms for the event-time lag; NULL: fw_wall_ms */
} fw_metrics_conf;

/**
 * @brief Appends the exposition of @p s (text format 0.0.4: # HELP, # TYPE,
 * one line per series) to @p out. Every rule and limit has its series, at 0
 * until it counts; the Kafka and ml_score metrics only when @p c says so;
 * the watermark once there is one.
 * @returns false when @p out overflowed.
 */
bool fw_metrics_format(fw_buf *out, const fw_metrics_conf *c, const fw_metrics_snapshot *s);

/** @brief Appends @p s escaped for a label value: backslash, double quote and
 *  line feed as \\, \" and \n; when @p s is not valid UTF-8, every byte
 *  above 0x7f as '?'. */
bool fw_metrics_label_escape(fw_buf *out, const char *s);

typedef struct fw_metrics fw_metrics;

/**
 * @brief Listens on c->bind:c->port and starts the server thread, with SIGINT,
 * SIGTERM and SIGHUP blocked in it (they stay the main thread's).
 * @returns NULL with @p errstr saying why (an address that is not one, the
 *          port in use).
 */
fw_metrics *fw_metrics_new(const fw_metrics_conf *c, char *errstr, size_t errstr_size);

/** @brief Stops the server (joins its thread, closes the socket); NULL is a no-op. */
void fw_metrics_destroy(fw_metrics *m);

/** @brief The port listened on (the kernel's choice when asked for 0). */
int fw_metrics_port(const fw_metrics *m);

/** @brief /ready's answer from now on: ready, or not with @p why ("restoring 3
 *  partitions of state"). Any thread; a no-op when @p m is NULL. */
void fw_metrics_set_ready(fw_metrics *m, bool ready, const char *why);

/** @brief The runner failed (@p why, one line): /health and /ready answer 503
 *  with it from now on; a later call keeps the first reason. A no-op when @p m
 *  is NULL. */
void fw_metrics_set_failed(fw_metrics *m, const char *why);

/** @brief True when @p m is set and nothing was published in the last
 *  FW_METRICS_PUBLISH_MS before @p now_ms (a monotonic clock). Main thread. */
bool fw_metrics_due(const fw_metrics *m, int64_t now_ms);

/** @brief Makes @p s what scrapes see (copied; counters never go down). Main
 *  thread; @p now_ms is remembered for fw_metrics_due. NULL @p m is a no-op. */
void fw_metrics_publish(fw_metrics *m, const fw_metrics_snapshot *s, int64_t now_ms);

/** @brief A restore of @p partitions partitions' state has run for @p running_ms
 *  and goes on (@p why, for /ready): the loop turns inside it, so /health stays
 *  ok, and the restore gauges show it. Main thread; NULL @p m is a no-op. */
void fw_metrics_restoring(fw_metrics *m, int partitions, int64_t running_ms, const char *why);

/** @brief A valid --metrics-bind address: IPv4 or IPv6. */
bool fw_metrics_bind_valid(const char *addr);

#endif
