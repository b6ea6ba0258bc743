/* lang_rules.h — rules written in the rule language (docs/rule-language.md):
 * `filter` rules (a predicate per transaction) and `aggregate` rules (keyed
 * lookback windows with count, sum, avg, min, max, count_distinct, stddev and
 * a `having` predicate; or epoch-aligned sliding windows, "window" + "slide",
 * earliest window first; "consume": an alert's events stop counting).
 * Entries of a rules file's "rules" array that carry a "type" are loaded here, beside the built-ins' fw_rules; every expression is
 * compiled once through expr.h. `sequence` rules (ordered steps per key,
 * strict or relaxed, within a duration) keep bounded partial matches per key;
 * `score` rules (weighted bands over aligned sliding windows per key, with
 * avg_before, memory, episodes and severity_by_score) keep each key's window
 * events in time order, a running average and an episode flag. A filter or
 * sequence rule reading `prev.` or `is_new` keeps its keys' history (the
 * previous transaction, the values seen). The state (fw_lang_state) keeps, per rule and
 * group key, the lookback's events compactly with running totals, and can be
 * written to and read from the changelog one key at a time.
 *
 * Pure core: no clocks, no Kafka, no threads. The engine calls fw_lang_eval
 * once per transaction in event-time order and fw_lang_expire as the
 * watermark advances. Not thread-safe: one state per task. */
#ifndef FW_LANG_RULES_H
#define FW_LANG_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decimal.h"
#include "expr.h"
#include "fw_err.h"
#include "fw_str.h"
#include "profiles.h"
#include "rules.h"
#include "txn.h"

#define FW_LANG_MAX_RULES 256     /* language rules in one file */
#define FW_LANG_MAX_AGGS 16       /* aggregates of one rule */
#define FW_LANG_MAX_GROUP 4       /* fields of one group_by tuple */
#define FW_LANG_MAX_PARAMS 32     /* params of one rule */
#define FW_LANG_MAX_EXTRA 64      /* distinct extra fields over all rules */
#define FW_LANG_MAX_ID 64         /* bytes of a rule id */
#define FW_LANG_MAX_KEY 512       /* bytes of a group key ("f=v,g=w") */
#define FW_LANG_TXN_ID_MAX 64     /* bytes of a transaction id kept as evidence */
#define FW_LANG_EVIDENCE_MAX 64   /* transaction ids named in one alert */
#define FW_LANG_REASON_MAX 1024   /* bytes of a rendered reason */
#define FW_LANG_MAX_LISTS 64      /* named lists of one file */
#define FW_LANG_MAX_LIST_VALUES 1000000 /* values of one named list */
#define FW_LANG_MAX_STEPS 8       /* steps of one sequence rule */
#define FW_LANG_MAX_TIMES 100     /* "times" of one step */
#define FW_LANG_SEQ_MAX_PARTIALS 64 /* partial matches of one sequence rule per key */
#define FW_LANG_SEQ_EVIDENCE 4    /* transaction ids a partial match keeps (+ the last one) */
#define FW_LANG_MAX_BANDS 16      /* bands of one score rule (`each` bands: at most 16 bits) */
#define FW_LANG_MAX_SEV 4         /* severity_by_score steps of one score rule */
#define FW_LANG_MAX_WINDOWS 1000  /* window / slide of a score rule */
#define FW_LANG_MAX_ENTITY 8      /* alternatives of one rule's "entity" */
#define FW_LANG_MAX_ENTITY_TYPE 32 /* bytes of an entity type */
#define FW_LANG_MAX_PANES 1000    /* window / slide of an aggregate (as velocity's) */
#define FW_LANG_MAX_SEEN 8        /* distinct fields one rule asks is_new about */
#define FW_LANG_PREV_WITHIN_MS 86400000 /* default prev_within: a day */

typedef enum fw_lang_kind {
    FW_LANG_FILTER = 0,
    FW_LANG_AGGREGATE,
    FW_LANG_SEQUENCE,
    FW_LANG_SCORE,
} fw_lang_kind;

/** One band of a score rule (docs/rule-language.md#score-rules): `each`
 *  scores every transaction of the window matching it, `if` scores the
 *  window once when the predicate over its aggregates holds. */
typedef struct fw_lang_band {
    char *name;        /* its value in the alert and the reason: the points it gave */
    bool each;         /* true: "each" or "signal" (per transaction); false: "if" (per window) */
    int signal;        /* "signal": the earlier rule whose alert on this key and
                          transaction scores (src is its id); -1: none */
    char *src;
    fw_expr *pred;     /* each: over the transaction and avg_before; if: over the aggregates */
    char *points_src;
    fw_expr *points;   /* a number: a constant, a $param or an expression */
} fw_lang_band;

/** severity_by_score: from this score on, the alert's severity. */
typedef struct fw_lang_sev {
    fw_dec at;
    fw_rule_common common; /* the rule's, with this severity */
} fw_lang_sev;

/** How a sequence step follows the previous one. */
typedef enum fw_lang_contig {
    FW_LANG_WHEN = 0,        /* the first step */
    FW_LANG_NEXT,            /* strict: the key's very next transaction must match */
    FW_LANG_FOLLOWED_BY,     /* relaxed: any later one within `within` */
} fw_lang_contig;

typedef struct fw_lang_step {
    fw_lang_contig contig;
    uint32_t times;          /* consecutive transactions matching it (1: once) */
    int times_param;         /* written as "$name": that param's index; -1: a number */
    char *src;
    fw_expr *pred;
} fw_lang_step;

typedef enum fw_lang_fn {
    FW_LANG_COUNT = 0,
    FW_LANG_SUM,
    FW_LANG_AVG,
    FW_LANG_MIN,
    FW_LANG_MAX,
    FW_LANG_COUNT_DISTINCT,
    FW_LANG_STDDEV,
} fw_lang_fn;

typedef struct fw_lang_agg {
    char *name;       /* the slot name in `having` and the reason */
    char *of;         /* as written: "sum(amount)" */
    fw_lang_fn fn;
    fw_expr *arg;     /* the field aggregated; NULL for count */
    fw_expr *where;   /* the aggregate's own filter; NULL: every counted txn */
    char *where_src;
} fw_lang_agg;

/** What an alert names as its entity (the rule's "entity"): the type, and
 *  the id from an expression, or (id NULL) the group_by values joined by
 *  "->" — so a rule can name its entities as a built-in does ("account",
 *  "account_pair" A->C), and its alert ids are the built-in's. */
typedef struct fw_lang_entity {
    char type[FW_LANG_MAX_ENTITY_TYPE];
    char *id_src;
    fw_expr *id;
} fw_lang_entity;

/** One piece of a reason template: literal text or a placeholder. */
typedef struct fw_lang_tpl {
    enum { FW_TPL_TEXT, FW_TPL_AGG, FW_TPL_PARAM, FW_TPL_LOOKBACK, FW_TPL_FIELD,
           FW_TPL_VALUE } kind; /* FW_TPL_VALUE: a score's alert value by index */
    const char *text; /* FW_TPL_TEXT: into the rule's reason (not NUL-terminated) */
    size_t len;
    int index;        /* FW_TPL_AGG, FW_TPL_PARAM */
    fw_expr *field;   /* FW_TPL_FIELD: the field as an expression */
} fw_lang_tpl;

typedef struct fw_lang_rule {
    char id[FW_LANG_MAX_ID];
    fw_lang_kind kind;
    fw_rule_common common;     /* enabled, shadow, version, severity */
    bool uses_profile;         /* an expression of the rule reads profile.<field> */
    fw_expr_param params[FW_LANG_MAX_PARAMS];
    char *param_json[FW_LANG_MAX_PARAMS]; /* each value as written, for show */
    char *param_text[FW_LANG_MAX_PARAMS]; /* a string param's text (params[i] points here) */
    size_t nparams;
    char *group_src[FW_LANG_MAX_GROUP];
    fw_expr *group[FW_LANG_MAX_GROUP]; /* the key fields; 0 of them: no key */
    size_t ngroup;
    bool group_is_array;       /* written as an array (show writes it back so) */
    int64_t lookback_ms;       /* aggregate: events in [t - lookback, t] count (with
                                  window_ms: equal to it); sequence: its `within`
                                  (last - first < within) */
    bool lookback_open;        /* aggregate: "lookback_bound": "exclusive", one exactly the
                                  lookback older does not count (lookback_ms is then the
                                  written lookback less 1 ms) */
    int lookback_param;        /* `within` or an aggregate's `lookback` written as "$name":
                                  the param's index; else -1 */
    int window_param, slide_param, memory_param; /* an aggregate's or a score's `window`,
                                  `slide`, a score's `memory` as "$name"; else -1 */
    int64_t window_ms, slide_ms; /* aggregate with "window": the aligned windows
                                  [k*slide, k*slide + window) holding t, earliest
                                  first; 0: a lookback */
    bool consume;              /* aggregate: an alert's window events stop counting */
    bool early;                /* aggregate judged on arrival (early firing): aligned
                                  windows, no consume, no history, a having no
                                  later event can make false (docs/rules.md) */
    bool backfill;             /* aggregate, sequence, score: a new rule's state is replayed
                                  from its input partition (docs/live-rules.md#backfill);
                                  its state part is its own */
    fw_lang_step steps[FW_LANG_MAX_STEPS]; /* sequence */
    size_t nsteps;
    bool no_skip;              /* sequence "after_match": "no_skip": a match consumes only
                                  itself (default "skip_past_last": every partial match) */
    /* History (prev., is_new), kept per key only for a rule that reads it. */
    uint64_t prev_fields;      /* fields of prev read (fw_expr_uses.prev_fields); 0: none */
    int64_t prev_within_ms;    /* prev older than this is missing, and freed */
    int prev_within_param;     /* "$name" or -1 */
    int seen_field[FW_LANG_MAX_SEEN]; /* is_new's fields: txn field index, or -2 - extra slot */
    size_t nseen;
    int64_t seen_keep_ms;      /* the longest is_new lookback: values older are forgotten */
    char *when_src, *where_src, *having_src;
    fw_expr *when;             /* filter */
    fw_expr *where;            /* aggregate: which transactions count; sequence: which it
                                  sees (the others neither match nor break it); NULL: all */
    fw_expr *having;           /* aggregate: over the aggregates and the txn */
    fw_lang_agg aggs[FW_LANG_MAX_AGGS];
    size_t naggs;
    /* score (lookback_ms is its window; slide_ms above its slide) */
    int64_t memory_ms;         /* a key quiet for memory + dedupe_window starts afresh */
    fw_lang_band bands[FW_LANG_MAX_BANDS];
    size_t nbands;
    char *alert_at_src;
    fw_expr *alert_at;         /* a window scoring this much alerts */
    bool episodes;             /* one alert per episode (until every window is below) */
    char *avg_src;
    fw_expr *avg;              /* avg_before's argument (NULL: avg_before is not used) */
    fw_lang_sev sev[FW_LANG_MAX_SEV]; /* ascending by at */
    size_t nsev;
    fw_lang_entity entity[FW_LANG_MAX_ENTITY]; /* the first whose id is present names the
                                  alert's entity; none: type "key", id "f=v,g=w" */
    size_t nentity;
    bool entity_is_array;      /* written as an array of {type, id} */
    char *reason;              /* the template as written; NULL: a default */
    fw_lang_tpl *tpl;
    size_t ntpl;
} fw_lang_rule;

/** A named list (`v in list("blocked_cards")`): the rules file's "lists"
 *  section, `"name": ["value", ...]`; kept sorted for a binary search. */
typedef struct fw_lang_list {
    char *name;
    fw_str *values;   /* sorted by length, then bytes; slices of storage */
    size_t n;
    char *storage;
    bool missing;     /* named by a rule but not loaded (FW_LANG_OPEN_LISTS): `in list`
                         is false until a lists file or topic brings it */
} fw_lang_list;

typedef struct fw_lang_rules {
    fw_lang_rule *rules;
    size_t n;
    fw_lang_list lists[FW_LANG_MAX_LISTS];
    size_t nlists;
    char *extra_names[FW_LANG_MAX_EXTRA]; /* extra field slot -> name */
    size_t nextra;
    bool uses_profile;           /* an expression reads profile.<field> */
    /* ... of a rule judged on arrival / in order (fw_lang_phase): a phase
     * whose rules read no profile needs no profile lookup */
    bool uses_profile_on_arrival, uses_profile_in_order;
    int64_t dedupe_window_ms;    /* from fw_rules.time */
    int64_t allowed_lateness_ms; /* from fw_rules.time: windows keep events this much longer */
    int64_t max_out_of_orderness_ms; /* from fw_rules.time: early firing's windows keep
                                        events this much longer again */
    bool early_firing;          /* from fw_rules.time: rules that can fire early do */
    uint32_t max_window_events;  /* from fw_rules.limits */
    uint32_t max_keys;           /* limits.max_entities: keys of all parts together */
    bool borrowed;               /* fw_lang_rules_join: rules and lists are another set's */
} fw_lang_rules;

/**
 * @brief Loads the language rules of the rules document @p json: the entries
 * of its "rules" array that have a "type". @p base gives the time and limits
 * sections in force (load the document into an fw_rules first).
 * @param errstr e.g. `rules[3].having: unknown name "cont", did you mean
 *        "count"? (line 1, column 1)`: the JSON path, then where in the
 *        expression; JSON-level faults name the file's line and column.
 * @returns FW_OK and *out (free with fw_lang_rules_destroy; a document without
 *          language rules gives an empty set); FW_ERR_INVALID; FW_ERR_LIMIT
 *          past FW_LANG_MAX_* ; FW_ERR_NOMEM.
 */
fw_err fw_lang_rules_parse_json(const char *json, size_t n, const fw_rules *base,
                                fw_lang_rules **out, char *errstr, size_t errstr_size);

/** fw_lang_rules_parse_json_ex flags. */
#define FW_LANG_OPEN_LISTS 1u /* a list the document lacks is not an error: it is
                                 registered as missing (a lists topic may bring it later) */
#define FW_LANG_LARGE_DOC 2u  /* the document may have FW_LANG_MAX_DOC_BYTES, not
                                 FW_RULES_MAX_BYTES: rules with lists from a lists file
                                 or topic (lang_live.c composes it) */
#define FW_LANG_MAX_DOC_BYTES ((size_t)64 << 20)

/** @brief fw_lang_rules_parse_json with @p flags (FW_LANG_OPEN_LISTS). */
fw_err fw_lang_rules_parse_json_ex(const char *json, size_t n, const fw_rules *base,
                                   unsigned flags, fw_lang_rules **out, char *errstr,
                                   size_t errstr_size);

/**
 * @brief The shipped definitions of the built-in rules the language expresses
 * (rules/builtin-rules.json, built into the binary): each takes enabled,
 * shadow, severity, version and every parameter from @p r, so the rules
 * file's built-in entries configure them; a disabled built-in, or one whose
 * id @p except has (a user's rule replacing it; may be NULL), is left out.
 * @returns as fw_lang_rules_parse_json (a fault here is the build's).
 */
fw_err fw_lang_rules_builtins(const fw_rules *r, const fw_lang_rules *except,
                              fw_lang_rules **out, char *errstr, size_t errstr_size);

/** The text of rules/builtin-rules.json (generated at build time). */
extern const char fw_builtin_rules_json[];
extern const size_t fw_builtin_rules_json_len;

/**
 * @brief One set of @p a's rules then @p b's, borrowing everything from
 * both: they must outlive it, and @p b must use no list and no extra field
 * (as shipped definitions do). Time and limits come from @p a (or @p b
 * when @p a is NULL). Free it with fw_lang_rules_destroy, which frees only
 * what the join made. NULL when out of memory.
 */
fw_lang_rules *fw_lang_rules_join(const fw_lang_rules *a, const fw_lang_rules *b);

/** @brief Reads @p path and loads it as fw_lang_rules_parse_json does;
 *  messages start with the path. */
fw_err fw_lang_rules_load_file(const char *path, const fw_rules *base, fw_lang_rules **out,
                               char *errstr, size_t errstr_size);

/** @brief Frees @p rs; NULL is a no-op. */
void fw_lang_rules_destroy(fw_lang_rules *rs);

/** @brief Appends each rule as a JSON object of the input format, separated
 *  by ",\n" and indented by @p indent (for `rules show`). */
bool fw_lang_rules_write_json(const fw_lang_rules *rs, fw_buf *out, const char *indent);

/** @brief "filter", "aggregate", "sequence" or "score": the rule's "type". */
const char *fw_lang_kind_name(fw_lang_kind kind);

/** @brief The rule named @p id, or NULL. */
const fw_lang_rule *fw_lang_rules_find(const fw_lang_rules *rs, const char *id);

/** @brief `value in list(...)` for list @p id of @p rs: 1 member, 0 not,
 *  -1 no such list (the expression hook's contract). */
int fw_lang_list_contains(const fw_lang_rules *rs, int id, fw_str value);

/** @brief Appends the "lists" section's members (`"name": [...]`, comma
 *  separated, each line prefixed by @p indent) for `rules show`; nothing
 *  when there are none. */
bool fw_lang_lists_write_json(const fw_lang_rules *rs, fw_buf *b, const char *indent);

/* ---- evaluation ---- */

/** fw_lang_evidence.amount of a transaction whose amount is not known (a
 *  record without one, or state written before amounts were kept):
 *  fw_dec never holds INT64_MIN (decimal.h). */
#define FW_LANG_NO_AMOUNT INT64_MIN

/** One transaction an alert rests on, as the built-ins named theirs. */
typedef struct fw_lang_evidence {
    fw_str id;                   /* cut at FW_LANG_TXN_ID_MAX bytes when kept in state */
    int64_t ts_ms;               /* INT64_MIN: not known (state of format 2) */
    fw_dec amount;               /* exact, as the record wrote it; FW_LANG_NO_AMOUNT: not known */
    bool located;                /* lat and lon below are the record's (a filter rule's two
                                    records compared: where they happened) */
    double lat, lon;
} fw_lang_evidence;

/** A computed value named in an alert (an aggregate). */
typedef struct fw_lang_value {
    const char *name;
    fw_xval value;   /* NUM, or MISSING (min of nothing) */
} fw_lang_value;

/** What the callback gets. Every pointer is valid during the call only. */
typedef struct fw_lang_alert {
    const fw_lang_rule *rule;    /* id, common.version/severity/shadow */
    const fw_rule_common *rc;    /* the common part to report: the rule's, or a score's
                                    severity_by_score step */
    const char *entity_type;     /* the rule's "entity" type, else "key" */
    fw_str entity;               /* with "entity": its id; else the key,
                                    "account_id=A1,counterparty_id=C9", and for a
                                    filter without group_by "transaction_id=T1" */
    int64_t event_time;          /* the transaction's */
    int64_t window_start, window_end; /* [t - lookback, t]; with "window": the window
                                    [start, start + window) that alerted; a filter: [t, t] */
    const fw_lang_value *values;
    size_t nvalues;
    fw_str reason;
    const fw_lang_evidence *evidence; /* contributing transactions, oldest first */
    size_t nevidence;
    uint32_t evidence_bound;     /* at most this many are named (FW_LANG_EVIDENCE_MAX; a
                                    windowed or consuming rule: max_window_events) */
    bool evidence_whole;         /* names every transaction though as many as
                                    evidence_bound (a sequence of exactly 5 matched) */
    uint64_t window_overflow;    /* events this key dropped at max_window_events */
    uint32_t window_bound;       /* max_window_events */
    const fw_txn *txn;
} fw_lang_alert;

typedef void (*fw_lang_alert_fn)(void *opaque, const fw_lang_alert *a);

/** Which rules an evaluation runs. A filter without group_by keeps no state
 *  and needs no order: the engine judges it the moment a transaction arrives,
 *  late ones included, as the built-in high_amount (FW_LANG_ON_ARRIVAL). So
 *  does an aggregate that fires early (fw_lang_rule.early), late ones
 *  excluded. The others see transactions in event-time order
 *  (FW_LANG_IN_ORDER). */
typedef enum fw_lang_phase {
    FW_LANG_ALL = 0,
    FW_LANG_ON_ARRIVAL,
    FW_LANG_IN_ORDER,
} fw_lang_phase;

/** The record as evaluation sees it: @p extra by fw_lang_rules.extra_names
 *  slot (ptr NULL when absent; may be NULL when nextra is 0). */
typedef struct fw_lang_input {
    fw_lang_phase phase;
    const fw_txn *txn;
    const fw_txn *prev;        /* ignored: each rule keeps its keys' previous transaction */
    const fw_profile *profile;
    const fw_str *extra;
    size_t nextra;
    /* Accepted behind the watermark (within allowed lateness): its place in
     * event-time order has passed, so sequences skip it, it has no prev and
     * it changes no key's prev or is_new memory (as the built-ins' sequences). */
    bool behind;
    /* Beyond allowed lateness (the arrival phase only): the filters without
     * group_by judge it; nothing counts it. */
    bool late;
} fw_lang_input;

typedef struct fw_lang_state fw_lang_state;

typedef struct fw_lang_stats {
    uint64_t alerts, deduplicated, overflow, keys, events;
    uint64_t key_overflows; /* keys not made: the state held max_keys */
    uint64_t memory_refusals; /* keys not made: the memory was full */
    uint64_t parts;  /* state groups: rules with one group_by, lookback and where share one */
} fw_lang_stats;

/** @brief Whether rule @p r is judged on arrival (fw_lang_phase). */
bool fw_lang_rule_on_arrival(const fw_lang_rule *r);

/** @brief A state for @p rs (which must outlive it). Enabled aggregate rules
 *  with the same group_by, lookback (or window and slide) and where, and not
 *  consuming, share one part of it (one ring of
 *  events per key, up to 32 aggregate columns); a filter rule is a part of its
 *  own. NULL on no memory. */
fw_lang_state *fw_lang_state_new(const fw_lang_rules *rs);
void fw_lang_state_destroy(fw_lang_state *st);

/** @brief Counts rule @p rule's deduplicated alerts in *@p counter too (a
 *  built-in's in fw_engine_stats; NULL: only in fw_lang_stats). */
void fw_lang_state_count_dedupes(fw_lang_state *st, size_t rule, uint64_t *counter);

/** @brief Counts the keys refused at max_keys in *@p counter too (the
 *  engine's entity_overflows; NULL: only in fw_lang_stats). */
void fw_lang_state_count_key_overflows(fw_lang_state *st, uint64_t *counter);

/** @brief While *@p full is true, a new key is refused and counted in
 *  @p counter (the engine's memory_refusals) and in fw_lang_stats. */
void fw_lang_state_follow_memory(fw_lang_state *st, const bool *full, uint64_t *counter);

/** @brief The rules @p st runs. */
const fw_lang_rules *fw_lang_state_rules(const fw_lang_state *st);

/**
 * @brief Evaluates every enabled rule on one transaction. Call in event-time
 * order (equal times in arrival order). Alerts go to @p fn; a rule alerting
 * again on the same entity within time.dedupe_window of its last alert is
 * counted as deduplicated instead (as the built-ins do). @p watermark
 * expires older state on the way (as fw_lang_expire). Allocates only for a
 * key not seen before or a window growing to a size not reached before.
 */
void fw_lang_eval(fw_lang_state *st, const fw_lang_input *in, int64_t watermark,
                  fw_lang_alert_fn fn, void *opaque);

/** @brief Frees what no rule can need at @p watermark: events older than
 *  their rule's lookback, and keys with no events whose last alert is past
 *  the dedupe window. @returns the number of keys freed. */
size_t fw_lang_expire(fw_lang_state *st, int64_t watermark);

/** @brief The rules @p st evaluates. */
const fw_lang_rules *fw_lang_state_rules(const fw_lang_state *st);

/** @brief Counters, and the keys and events held now. */
void fw_lang_state_stats(const fw_lang_state *st, fw_lang_stats *out);

/** @brief Calls @p fn for every (part, key) held, for a changelog snapshot.
 *  Parts are numbered from 0 in the order of their first rule, so the same
 *  rule set numbers them alike. */
void fw_lang_state_foreach(const fw_lang_state *st,
                           void (*fn)(void *opaque, size_t part, fw_str key), void *opaque);

/** @brief Appends the state of part @p part's key @p key to @p out as bytes
 *  (little-endian, versioned; empty when not held: a tombstone).
 *  @returns false when @p out is full. */
bool fw_lang_state_write_key(const fw_lang_state *st, size_t part, fw_str key, fw_buf *out);

/** @brief Starts recording changed and freed keys for
 *  fw_lang_state_changes (Kafka mode); without it nothing is recorded. */
void fw_lang_state_track_changes(fw_lang_state *st);

/** @brief Replay mode (a backfill, docs/live-rules.md#backfill): only the
 *  "backfill" rules are evaluated, and they update their state as live but
 *  raise no alert — no callback, no dedupe stamp, no stats.alerts, and a
 *  consuming rule consumes nothing (a sequence match still clears its key's
 *  partial matches, as live; a score's signal band scores nothing, no rule
 *  alerting). */
void fw_lang_state_set_replay(fw_lang_state *st, bool on);

/** @brief Counts key @p key of part @p part as changed (a key put back by
 *  fw_lang_state_read_key from elsewhere than the changelog: a backfill).
 *  @returns false when not held. */
bool fw_lang_state_touch_key(fw_lang_state *st, size_t part, fw_str key);

/** @brief The number of parts of @p st (0 for NULL). */
size_t fw_lang_state_nparts(const fw_lang_state *st);

/** @brief Part @p part's first rule (a backfill rule's part holds it alone),
 *  or NULL past the end. */
const fw_lang_rule *fw_lang_state_part_rule(const fw_lang_state *st, size_t part);

/** @brief Part @p part's stable name in the changelog: a hash of its shape
 *  (kind, group_by, lookback, window and slide, consume, where, its rules' ids, each aggregate's
 *  function, argument and where), so it survives rules added or reordered
 *  around it and changes when its bytes would mean something else. */
uint64_t fw_lang_state_part_id(const fw_lang_state *st, size_t part);

/** @brief The part named @p id, or SIZE_MAX (a shape no longer loaded). */
size_t fw_lang_state_find_part(const fw_lang_state *st, uint64_t id);

/** @brief Calls @p fn for every key changed (@p held true: write its
 *  fw_lang_state_write_key bytes) or freed (false: a tombstone) since the
 *  last call or fw_lang_state_track_changes; freed ones first, so a key freed
 *  and made again within one interval ends up written. Keys put back by
 *  fw_lang_state_read_key are not changes. */
void fw_lang_state_changes(fw_lang_state *st,
                           void (*fn)(void *opaque, size_t part, fw_str key, bool held),
                           void *opaque);

/** @brief Restores what fw_lang_state_write_key wrote (0 bytes deletes it).
 *  @returns FW_OK; FW_ERR_INVALID for bytes of another shape (their part id,
 *  aggregate and rule counts must match: a changed rule set) or truncated, named in @p errstr; FW_ERR_NOMEM. */
fw_err fw_lang_state_read_key(fw_lang_state *st, size_t part, fw_str key, const void *p,
                              size_t n, char *errstr, size_t errstr_size);

#endif
