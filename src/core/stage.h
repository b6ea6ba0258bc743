/* stage.h — where each keyed computation runs when the input is split by
 * account_id (Kafka mode), and how a transaction travels there.
 *
 * Each input partition has its own engine, which sees one account's
 * transactions whole. A rule keyed by anything else (fan_in by the receiving
 * account, cycle, a language rule grouped by merchant_id, ...) would see only
 * the slice of its key that happens to share a partition: such rules run in a
 * later *stage*, whose partitions are keyed by what the rule groups by. The
 * runtime moves every transaction the input stage accepted to the stages
 * that need it (repartition topics); this module decides which stages there
 * are, which rule runs in which, and each transaction's keys and partitions.
 * Pure: no Kafka, no clock. docs/internals/engine.md, "Stages". */
#ifndef FW_STAGE_H
#define FW_STAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fw_err.h"
#include "fw_str.h"
#include "rules.h"
#include "txn.h"

#define FW_STAGE_MAX 16
#define FW_STAGE_NAME_MAX 64

typedef enum fw_stage_kind {
    FW_STAGE_ALL = 0,   /* file mode: one engine runs everything */
    FW_STAGE_INPUT,     /* the input's own tasks, keyed by account_id */
    FW_STAGE_RECEIVER,  /* fan_in, mule_cashout: transfers by receiver, outflows by sender */
    FW_STAGE_CYCLE,     /* cycle: every transfer, one partition */
    FW_STAGE_FIELD,     /* language rules (and ml_score) grouped by one field */
} fw_stage_kind;

typedef struct fw_stage {
    fw_stage_kind kind;
    char name[FW_STAGE_NAME_MAX];  /* "account_id", "receiver", "cycle", or the field's source */
    bool single_partition;         /* cycle */
} fw_stage;

typedef struct fw_stage_plan {
    fw_stage stages[FW_STAGE_MAX];
    size_t n;
} fw_stage_plan;

struct fw_lang_rule;
struct fw_lang_rules;

/**
 * @brief The stages the rules need. stages[0] is always FW_STAGE_INPUT; the
 * others only when some running rule (enabled: a shadow rule is enabled too)
 * runs there, in a deterministic order: receiver, cycle, then fields by first
 * appearance in the joined rule set (@p user's rules, then the shipped
 * definitions), then ml_score's "customer_id". @p colocated: NULL-terminated field names (NULL:
 * none) each of whose values belongs to one account; grouping by one stays
 * in the input stage.
 * @returns FW_OK; FW_ERR_INVALID (naming the rule) past FW_STAGE_MAX stages or
 *          for a group field longer than FW_STAGE_NAME_MAX - 1; FW_ERR_NOMEM.
 */
fw_err fw_stage_plan_build(fw_stage_plan *plan, const fw_rules *rules,
                           const struct fw_lang_rules *user, const char *const *colocated,
                           char *errstr, size_t errstr_size);

/** @brief The stage a language rule runs in: the input stage for a filter
 *  without group, a group that includes account_id or whose first field is
 *  colocated; else the FIELD stage named by its first group field's source. */
void fw_stage_of_lang_rule(const struct fw_lang_rule *r, const char *const *colocated,
                           fw_stage *out);

/** @brief The stage a built-in runs in: fan_out INPUT, fan_in and
 *  mule_cashout RECEIVER, cycle CYCLE, ml_score the "customer_id" FIELD stage
 *  (INPUT when customer_id is colocated), the others as their shipped
 *  language definition (rules/builtin-rules.json) groups. */
void fw_stage_of_builtin(fw_rule_id id, const char *const *colocated, fw_stage *out);

/** @brief Same kind and name. */
bool fw_stage_equal(const fw_stage *a, const fw_stage *b);

/** @brief The index of @p s in @p plan, or SIZE_MAX. */
size_t fw_stage_find(const fw_stage_plan *plan, const fw_stage *s);

/** @brief fw_stage_of_lang_rule's or fw_stage_of_builtin's question for a
 *  field name: is it one of @p colocated? */
bool fw_stage_colocated(const char *const *colocated, const char *field, size_t len);

/** @brief A transfer between two accounts, exactly as fw_detect (detect.c)
 *  counts one: the receiver stage's and the cycle's input. */
static inline bool fw_stage_is_transfer(const fw_txn *t) {
    return t->type == FW_TXN_TRANSFER && t->account_id.ptr && t->counterparty_id.ptr &&
           !fw_str_eq(t->account_id, t->counterparty_id) && t->amount > 0;
}

/** @brief Money leaving an account (a transfer out or a withdrawal), as
 *  fw_detect counts an outflow (fan_out's and mule_cashout's). */
static inline bool fw_stage_is_outflow(const fw_txn *t) {
    return fw_stage_is_transfer(t) || (t->type == FW_TXN_WITHDRAWAL && t->amount > 0);
}

/** One key a transaction travels under to a stage. */
typedef struct fw_stage_key {
    fw_str key;
} fw_stage_key;

/**
 * The routing of a plan, compiled once: the shipped definitions and, per
 * FIELD stage, the group expression whose value is the key. Routing a
 * transaction allocates nothing. Not thread-safe (one per task: the key of a
 * number is formatted into the router).
 */
typedef struct fw_stage_router fw_stage_router;

/** @brief A router for @p plan (copied), @p rules (copied), @p user (borrowed:
 *  outlives the router) and @p colocated (borrowed). @returns NULL with
 *  @p errstr on failure. */
fw_stage_router *fw_stage_router_new(const fw_stage_plan *plan, const fw_rules *rules,
                                     const struct fw_lang_rules *user,
                                     const char *const *colocated, char *errstr,
                                     size_t errstr_size);

/** @brief Frees @p r; NULL is a no-op. */
void fw_stage_router_destroy(fw_stage_router *r);

/**
 * @brief What a transaction the input stage accepted carries to stage @p s
 * of the plan: up to 2 keys (the receiver stage: by receiver, then by
 * sender; the runtime sends one record when both map to the same
 * partition). Keys point into @p t or into the router (a group expression's
 * value formatted as the language rules format keys), valid until the next
 * call. @returns how many (0: it does not travel there; always 0 for the
 * input stage and for @p s out of range).
 */
size_t fw_stage_router_route(fw_stage_router *r, size_t s, const fw_txn *t,
                             fw_stage_key out[2]);

/**
 * @brief The partition of @p key among @p n: fw_hash64(bytes, seed 0) mod n.
 * Stable across processes, machines and versions (the repartition topics'
 * records and state depend on it): changing it is a breaking change of the
 * state format. @returns 0 when n <= 1.
 */
int32_t fw_stage_partition(fw_str key, int32_t n);

/** @brief "input", "receiver", "cycle", "field" or "all". */
const char *fw_stage_kind_name(fw_stage_kind k);

#endif
