/* stage.c — the stages of a rule set and the routing of a transaction to
 * them (stage.h): which rule runs where, each stage's key, the partition of
 * a key. The engine runs one stage's computations (fw_engine_set_stage). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "expr.h"
#include "fw_hash.h"
#include "lang_rules.h"
#include "stage.h"

/* Every transfer goes to the cycle stage under this one key. */
static const char cycle_key[] = "cycle";

static void set_stage(fw_stage *s, fw_stage_kind kind, const char *name, size_t len) {
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    if (len >= sizeof(s->name))
        len = sizeof(s->name) - 1; /* fw_stage_plan_build rejects such a name */
    memcpy(s->name, name, len);
    s->single_partition = kind == FW_STAGE_CYCLE;
}

const char *fw_stage_kind_name(fw_stage_kind k) {
    switch (k) {
    case FW_STAGE_ALL: return "all";
    case FW_STAGE_INPUT: return "input";
    case FW_STAGE_RECEIVER: return "receiver";
    case FW_STAGE_CYCLE: return "cycle";
    case FW_STAGE_FIELD: return "field";
    }
    return "unknown";
}

bool fw_stage_colocated(const char *const *colocated, const char *field, size_t len) {
    for (size_t i = 0; colocated && colocated[i]; i++)
        if (strlen(colocated[i]) == len && !memcmp(colocated[i], field, len))
            return true;
    return false;
}

void fw_stage_of_lang_rule(const fw_lang_rule *r, const char *const *colocated, fw_stage *out) {
    static const char acct[] = "account_id";
    /* A group holding account_id never spans two accounts: the input's key
     * already splits it (structuring's [account_id, counterparty_id]). */
    bool input = r->ngroup == 0;
    for (size_t g = 0; g < r->ngroup && !input; g++)
        input = r->group_src[g] && !strcmp(r->group_src[g], acct);
    if (!input && r->group_src[0])
        input = fw_stage_colocated(colocated, r->group_src[0], strlen(r->group_src[0]));
    if (input || !r->group_src[0])
        set_stage(out, FW_STAGE_INPUT, acct, sizeof(acct) - 1);
    else
        set_stage(out, FW_STAGE_FIELD, r->group_src[0], strlen(r->group_src[0]));
}

void fw_stage_of_builtin(fw_rule_id id, const char *const *colocated, fw_stage *out) {
    static const char cust[] = "customer_id";
    set_stage(out, FW_STAGE_INPUT, "account_id", 10);
    switch (id) {
    case FW_RULE_FAN_OUT:
        return;
    case FW_RULE_FAN_IN:
    case FW_RULE_MULE_CASHOUT:
        set_stage(out, FW_STAGE_RECEIVER, "receiver", 8);
        return;
    case FW_RULE_CYCLE:
        set_stage(out, FW_STAGE_CYCLE, "cycle", 5);
        return;
    case FW_RULE_ML_SCORE: /* the customer's history */
        if (!fw_stage_colocated(colocated, cust, sizeof(cust) - 1))
            set_stage(out, FW_STAGE_FIELD, cust, sizeof(cust) - 1);
        return;
    default:
        break;
    }
    /* A shipped language definition: where its group puts it. Not on a hot
     * path (plans are built at start and at a rule change). */
    fw_rules all;
    fw_rules_defaults(&all);
    for (int i = 0; i < FW_RULE__COUNT; i++)
        all.common[i].enabled = true;
    fw_lang_rules *shipped = NULL;
    char err[256];
    if (fw_lang_rules_builtins(&all, NULL, &shipped, err, sizeof(err)) != FW_OK)
        return;
    const fw_lang_rule *r = fw_lang_rules_find(shipped, fw_rule_name(id));
    if (r)
        fw_stage_of_lang_rule(r, colocated, out);
    fw_lang_rules_destroy(shipped);
}

bool fw_stage_equal(const fw_stage *a, const fw_stage *b) {
    return a->kind == b->kind && !strcmp(a->name, b->name);
}

size_t fw_stage_find(const fw_stage_plan *plan, const fw_stage *s) {
    for (size_t i = 0; i < plan->n; i++)
        if (fw_stage_equal(&plan->stages[i], s))
            return i;
    return SIZE_MAX;
}

/* Adds @p s unless the plan has it. */
static fw_err plan_add(fw_stage_plan *plan, const fw_stage *s, const char *who, char *errstr,
                       size_t errstr_size) {
    if (fw_stage_find(plan, s) != SIZE_MAX)
        return FW_OK;
    if (plan->n == FW_STAGE_MAX) {
        snprintf(errstr, errstr_size,
                 "rules: %s needs stage \"%s\", more than the %d stages a rule set may have "
                 "(rules grouped by %d different non-colocated fields at most)",
                 who, s->name, FW_STAGE_MAX, FW_STAGE_MAX - 3);
        return FW_ERR_INVALID;
    }
    plan->stages[plan->n++] = *s;
    return FW_OK;
}

/* As the engine decides: an enabled rule runs, a shadow one too (its alerts
 * are only marked); "shadow" without "enabled" runs nowhere. */
static bool running(const fw_rule_common *c) { return c->enabled; }

/* A native built-in runs: configured on and not replaced by a user rule. */
static bool native_runs(const fw_rules *rules, const fw_lang_rules *user, fw_rule_id id) {
    return running(&rules->common[id]) && !fw_lang_rules_find(user, fw_rule_name(id));
}

/* The language rules of @p rs into the plan's field stages. */
static fw_err plan_lang(fw_stage_plan *plan, const fw_lang_rules *rs,
                        const char *const *colocated, char *errstr, size_t errstr_size) {
    for (size_t i = 0; rs && i < rs->n; i++) {
        const fw_lang_rule *r = &rs->rules[i];
        if (!running(&r->common))
            continue;
        fw_stage s;
        fw_stage_of_lang_rule(r, colocated, &s);
        if (s.kind != FW_STAGE_FIELD)
            continue;
        if (strlen(r->group_src[0]) >= FW_STAGE_NAME_MAX) {
            snprintf(errstr, errstr_size,
                     "rules: rule \"%s\": group_by \"%.40s...\" is longer than %d bytes, too "
                     "long to name its stage",
                     r->id, r->group_src[0], FW_STAGE_NAME_MAX - 1);
            return FW_ERR_INVALID;
        }
        char who[FW_LANG_MAX_ID + 8];
        snprintf(who, sizeof(who), "rule \"%s\"", r->id);
        fw_err rc = plan_add(plan, &s, who, errstr, errstr_size);
        if (rc != FW_OK)
            return rc;
    }
    return FW_OK;
}

fw_err fw_stage_plan_build(fw_stage_plan *plan, const fw_rules *rules,
                           const fw_lang_rules *user, const char *const *colocated,
                           char *errstr, size_t errstr_size) {
    memset(plan, 0, sizeof(*plan));
    set_stage(&plan->stages[plan->n++], FW_STAGE_INPUT, "account_id", 10);
    fw_stage s;
    fw_err rc = FW_OK;
    if (native_runs(rules, user, FW_RULE_FAN_IN) ||
        native_runs(rules, user, FW_RULE_MULE_CASHOUT)) {
        set_stage(&s, FW_STAGE_RECEIVER, "receiver", 8);
        plan_add(plan, &s, "", errstr, errstr_size);
    }
    if (native_runs(rules, user, FW_RULE_CYCLE)) {
        set_stage(&s, FW_STAGE_CYCLE, "cycle", 5);
        plan_add(plan, &s, "", errstr, errstr_size);
    }
    fw_lang_rules *shipped = NULL;
    rc = fw_lang_rules_builtins(rules, user, &shipped, errstr, errstr_size);
    if (rc == FW_OK)
        rc = plan_lang(plan, user, colocated, errstr, errstr_size);
    if (rc == FW_OK)
        rc = plan_lang(plan, shipped, colocated, errstr, errstr_size);
    fw_lang_rules_destroy(shipped);
    if (rc == FW_OK && native_runs(rules, user, FW_RULE_ML_SCORE)) {
        fw_stage_of_builtin(FW_RULE_ML_SCORE, colocated, &s);
        if (s.kind == FW_STAGE_FIELD)
            rc = plan_add(plan, &s, "rule \"ml_score\"", errstr, errstr_size);
    }
    return rc;
}

int32_t fw_stage_partition(fw_str key, int32_t n) {
    if (n <= 1)
        return 0;
    if (!key.ptr)
        key = FW_STR_LIT("");
    return (int32_t)(fw_hash64(key.ptr, key.len, 0) % (uint64_t)n);
}

/* ---- routing ---- */

typedef struct stage_route {
    fw_stage_kind kind;
    const fw_lang_rule *rule; /* FIELD: a rule of the stage, whose first group is the key */
    bool ml;                  /* FIELD: ml_score runs here (its history key) */
} stage_route;

struct fw_stage_router {
    fw_stage_plan plan;
    fw_rules rules;
    const fw_lang_rules *user;
    fw_lang_rules *shipped;
    bool mule;                    /* mule_cashout runs: outflows travel by sender too */
    stage_route route[FW_STAGE_MAX];
    const fw_txn_extras *extras;  /* the set slot[] was worked out for */
    int8_t slot[FW_LANG_MAX_EXTRA]; /* user's extra slot -> index in extras; -1: none */
    char num[FW_DEC_STR_MAX];     /* a numeric key, formatted */
};

void fw_stage_router_destroy(fw_stage_router *r) {
    if (!r)
        return;
    fw_lang_rules_destroy(r->shipped);
    free(r);
}

/* The first running rule of @p rs in stage @p s. */
static const fw_lang_rule *rule_in(const fw_lang_rules *rs, const fw_stage *s,
                                   const char *const *colocated) {
    for (size_t i = 0; rs && i < rs->n; i++) {
        fw_stage rs_s;
        if (!running(&rs->rules[i].common))
            continue;
        fw_stage_of_lang_rule(&rs->rules[i], colocated, &rs_s);
        if (fw_stage_equal(&rs_s, s))
            return &rs->rules[i];
    }
    return NULL;
}

fw_stage_router *fw_stage_router_new(const fw_stage_plan *plan, const fw_rules *rules,
                                     const fw_lang_rules *user, const char *const *colocated,
                                     char *errstr, size_t errstr_size) {
    fw_stage_router *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(errstr, errstr_size, "stage router: out of memory");
        return NULL;
    }
    r->plan = *plan;
    r->rules = *rules;
    r->user = user;
    if (fw_lang_rules_builtins(rules, user, &r->shipped, errstr, errstr_size) != FW_OK)
        goto fail;
    r->mule = native_runs(rules, user, FW_RULE_MULE_CASHOUT);
    fw_stage ml;
    fw_stage_of_builtin(FW_RULE_ML_SCORE, colocated, &ml);
    bool ml_runs = native_runs(rules, user, FW_RULE_ML_SCORE);
    for (size_t i = 0; i < plan->n; i++) {
        const fw_stage *s = &plan->stages[i];
        stage_route *sr = &r->route[i];
        sr->kind = s->kind;
        if (s->kind != FW_STAGE_FIELD)
            continue;
        sr->rule = rule_in(user, s, colocated);
        if (!sr->rule)
            sr->rule = rule_in(r->shipped, s, colocated);
        sr->ml = ml_runs && fw_stage_equal(&ml, s);
        if (!sr->rule && !sr->ml) {
            snprintf(errstr, errstr_size, "stage router: no rule runs in stage \"%s\"", s->name);
            goto fail;
        }
    }
    return r;
fail:
    fw_stage_router_destroy(r);
    return NULL;
}

/* The value of @p rule's first group expression for @p t, as the language
 * rules put it in a key (make_key, lang_state.c); FW_STR_NULL when missing. */
static fw_str group_value(fw_stage_router *r, const fw_lang_rule *rule, const fw_txn *t) {
    fw_str extra[FW_LANG_MAX_EXTRA];
    size_t nextra = 0;
    const fw_lang_rules *owner = r->user && rule >= r->user->rules &&
                                         rule < r->user->rules + r->user->n
                                     ? r->user
                                     : NULL; /* shipped definitions use no extra field */
    if (owner && t->extra_mask && t->extras) {
        nextra = owner->nextra < FW_LANG_MAX_EXTRA ? owner->nextra : FW_LANG_MAX_EXTRA;
        if (r->extras != t->extras) { /* the decoder's set: looked up once */
            for (size_t i = 0; i < nextra; i++)
                r->slot[i] = (int8_t)fw_txn_extras_find(t->extras, owner->extra_names[i],
                                                        strlen(owner->extra_names[i]));
            r->extras = t->extras;
        }
        for (size_t i = 0; i < nextra; i++)
            extra[i] = r->slot[i] >= 0 && (t->extra_mask >> r->slot[i]) & 1 ? t->extra[r->slot[i]]
                                                                           : FW_STR_NULL;
    }
    fw_expr_ctx ctx = { .txn = t, .extra = extra, .nextra = nextra };
    fw_xval v = fw_expr_eval(rule->group[0], &ctx);
    if (v.type == FW_XT_STR || v.type == FW_XT_ANY)
        return v.u.s.ptr ? v.u.s : FW_STR_NULL;
    if (v.type == FW_XT_NUM) {
        int n = fw_dec_format(v.u.num, r->num, sizeof(r->num));
        return n > 0 ? (fw_str){ r->num, (size_t)n } : FW_STR_NULL;
    }
    return FW_STR_NULL;
}

size_t fw_stage_router_route(fw_stage_router *r, size_t s, const fw_txn *t,
                             fw_stage_key out[2]) {
    if (s >= r->plan.n)
        return 0;
    const stage_route *sr = &r->route[s];
    switch (sr->kind) {
    case FW_STAGE_RECEIVER: {
        size_t n = 0;
        bool transfer = fw_stage_is_transfer(t);
        if (transfer)
            out[n++].key = t->counterparty_id;
        if (r->mule && fw_stage_is_outflow(t) && t->account_id.ptr)
            out[n++].key = t->account_id;
        return n;
    }
    case FW_STAGE_CYCLE:
        /* Following money through a chain of accounts is sequential in event
         * time (each hop continues the chain of the transfer it forwards), so
         * it cannot be split by key: one partition sees every transfer. */
        if (!fw_stage_is_transfer(t))
            return 0;
        out[0].key = (fw_str){ cycle_key, sizeof(cycle_key) - 1 };
        return 1;
    case FW_STAGE_FIELD: {
        fw_str k = FW_STR_NULL;
        if (sr->ml) /* ml_score's history: customer, else account, else card */
            k = t->customer_id.ptr ? t->customer_id
                : t->account_id.ptr ? t->account_id
                                    : t->card_id;
        else
            k = group_value(r, sr->rule, t);
        if (!k.ptr)
            return 0;
        out[0].key = k;
        return 1;
    }
    default:
        return 0;
    }
}
