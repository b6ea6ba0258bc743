/* expr.h — the rule language's expressions (docs/rule-language.md).
 * A string such as `amount > 2000 and merchant_category in ["crypto"]` is
 * parsed by a recursive-descent parser into a tree of typed nodes, checked
 * as it is built (every error names line and column, and an unknown name the
 * nearest known one), folded where constant, and kept as a flat array of
 * nodes whose names are already resolved to fields, slots and hooks.
 * Evaluation walks that array against an fw_expr_ctx and allocates nothing.
 * Pure core: the caller supplies the record, the previous record, the
 * profile, extra-field slices and the hooks (named lists, is_new state).
 *
 * Threading: a compiled fw_expr is read-only during evaluation, so several
 * threads may evaluate one expression with their own contexts. */
#ifndef FW_EXPR_H
#define FW_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "decimal.h"
#include "fw_err.h"
#include "fw_str.h"
#include "profiles.h"
#include "txn.h"

#define FW_EXPR_MAX_LEN 65536    /* bytes of source */
#define FW_EXPR_MAX_DEPTH 64     /* nesting of parentheses, operators and calls */
#define FW_EXPR_MAX_NODES 4096   /* nodes of one compiled expression */
#define FW_EXPR_MAX_LIST 4096    /* elements of one `in [...]` list */
#define FW_EXPR_LOWER_MAX 1024   /* bytes lower() hands to the list hook */

/** Value types. MISSING is what a value is when its field is absent. */
typedef enum fw_xtype {
    FW_XT_MISSING = 0,
    FW_XT_BOOL,
    FW_XT_NUM,   /* fw_dec: exact, four places */
    FW_XT_STR,   /* slice into the record (no copy) or the expression */
    FW_XT_DUR,   /* milliseconds */
    FW_XT_TIME,  /* event time, epoch milliseconds UTC */
    FW_XT_ANY,   /* an extra field before use decides: text read as STR or NUM */
    FW_XT_REC,   /* `prev` or `this`: only as an argument of distance_km/speed_kmh */
} fw_xtype;

/** @brief "bool", "number", "string", "duration", "time", "missing", ... */
const char *fw_xtype_name(fw_xtype t);

/** A value. @c fold marks a string produced by lower(): compared as if its
 *  ASCII letters were lower case, so lower() copies nothing. */
typedef struct fw_xval {
    uint8_t type;    /* fw_xtype */
    bool fold;
    union {
        bool b;
        fw_dec num;
        int64_t ms;  /* DUR and TIME */
        fw_str s;
    } u;
} fw_xval;

/** A rule parameter, `$name` in an expression: typed by its value. A STR
 *  parameter used where a duration is expected is read as one ("30m"). */
typedef struct fw_expr_param {
    const char *name;
    fw_xval value;
} fw_expr_param;

/** A value the caller computes and names, e.g. an aggregate's `count` in a
 *  `having` expression: evaluation reads ctx->slots[index]. */
typedef struct fw_expr_slot {
    const char *name;
    fw_xtype type;
} fw_expr_slot;

/** What the compiler may ask of its caller. Every member may be NULL/0. */
typedef struct fw_expr_env {
    const fw_expr_param *params;
    size_t nparams;
    const fw_expr_slot *slots;  /* searched before record fields */
    size_t nslots;
    /** A name that is not a schema field, slot or keyword is an extra field
     *  of the record (`device_id`): returns its slot in ctx->extra (the same
     *  name gives the same slot), or -1 to refuse (a limit). NULL: extra
     *  fields are unknown names. */
    int (*extra_field)(void *ud, fw_str name);
    /** `list("name")`: returns the list's id for ctx->in_list, or -1 when no
     *  such list exists. NULL: no named lists. */
    int (*list_id)(void *ud, fw_str name);
    void *ud;
} fw_expr_env;

/** What evaluation works out once per record and keeps for the record's
 *  other expressions (many rules read `amount`; parsing it exactly is the
 *  cost). Zero it for each record. */
typedef struct fw_expr_memo {
    bool amount_set;
    fw_xval amount;
} fw_expr_memo;

/** One record's view for evaluation. Owned by the caller; the pointers
 *  must stay valid during fw_expr_eval only. */
typedef struct fw_expr_ctx {
    const fw_txn *txn;          /* `this`; required */
    const fw_txn *prev;         /* the same entity's previous record; NULL: none */
    const fw_profile *profile;  /* the customer's profile; NULL: none */
    /** Extra fields by slot: the JSON value's text (a string's content, a
     *  number's token); ptr NULL when absent. Numbers are parsed on use. */
    const fw_str *extra;
    size_t nextra;
    const fw_xval *slots;       /* by fw_expr_env.slots index */
    size_t nslots;
    /** `v in list("name")`: 1 member, 0 not, -1 unknown (false). */
    int (*in_list)(void *ud, int list_id, fw_str value);
    /** `is_new(field, lookback)` at call site @p site: 1 when the entity has
     *  not seen @p value within @p lookback_ms before this record, 0 when it
     *  has, -1 when it cannot tell (false). */
    int (*is_new)(void *ud, int site, fw_str value, int64_t lookback_ms);
    void *ud;
    fw_expr_memo *memo;         /* NULL: nothing kept between expressions */
} fw_expr_ctx;

typedef struct fw_expr fw_expr;

/** The first member of every fw_expr: what fw_expr_test_inline reads
 *  without a call. Set by fw_expr_compile; not for callers to change. */
typedef struct fw_expr_head {
    fw_dec amount_k;          /* a whole `amount <op> constant`: the constant */
    uint8_t amount_holds;     /* 0: not that form; else bit c + 1 set when the
                                 comparison holds for three-way result c */
    bool amount_root;         /* the expression is this record's `amount` */
    uint16_t str_off;         /* it is a text field of this record as written:
                                 1 + the fw_str's offset in fw_txn; 0: not */
} fw_expr_head;

/**
 * @brief Compiles @p src (@p n bytes) against @p env. When @p want is not
 * FW_XT_MISSING the result must have that type (FW_XT_BOOL for a predicate).
 * @returns FW_OK and *out (free with fw_expr_destroy); FW_ERR_INVALID with
 *          @p errstr like `unknown field "ammount", did you mean "amount"?
 *          (line 1, column 1)`; FW_ERR_LIMIT past a FW_EXPR_MAX_* limit;
 *          FW_ERR_NOMEM.
 */
fw_err fw_expr_compile(const char *src, size_t n, const fw_expr_env *env, fw_xtype want,
                       fw_expr **out, char *errstr, size_t errstr_size);

/** @brief Frees @p e; NULL is a no-op. */
void fw_expr_destroy(fw_expr *e);

/** @brief The result type (FW_XT_ANY when the expression is one extra field). */
fw_xtype fw_expr_type(const fw_expr *e);

/** @brief Evaluates @p e; a result of type FW_XT_MISSING means missing.
 *  Allocates nothing. */
fw_xval fw_expr_eval(const fw_expr *e, const fw_expr_ctx *ctx);

/** @brief Evaluates a predicate: true only when the result is the bool true
 *  (missing is false). */
bool fw_expr_test(const fw_expr *e, const fw_expr_ctx *ctx);

/** @brief fw_expr_test, with a whole `amount <op> constant` (most rules'
 *  filter, where or first step) decided inline from the memo's amount:
 *  for a hot caller, which then pays no call for it. The same result. */
static inline bool fw_expr_test_inline(const fw_expr *e, const fw_expr_ctx *ctx) {
    const fw_expr_head *h = (const fw_expr_head *)(const void *)e;
    const fw_expr_memo *m = ctx->memo;
    if (h->amount_holds && m && m->amount_set && m->amount.type == FW_XT_NUM) {
        fw_dec a = m->amount.u.num;
        return h->amount_holds >> ((a > h->amount_k) - (a < h->amount_k) + 1) & 1u;
    }
    return fw_expr_test(e, ctx);
}

/** @brief fw_expr_eval, with a bare text field of this record or its
 *  memoized amount (an aggregate's argument, avg_before) read inline. The
 *  same result. */
static inline fw_xval fw_expr_eval_inline(const fw_expr *e, const fw_expr_ctx *ctx) {
    const fw_expr_head *h = (const fw_expr_head *)(const void *)e;
    if (h->str_off && ctx->txn) {
        fw_str s;
        memcpy(&s, (const char *)ctx->txn + h->str_off - 1, sizeof(s));
        return s.ptr ? (fw_xval){ .type = FW_XT_STR, .u.s = s } : (fw_xval){ .type = FW_XT_MISSING };
    }
    if (h->amount_root && ctx->memo && ctx->memo->amount_set)
        return ctx->memo->amount;
    return fw_expr_eval(e, ctx);
}

/* Introspection, for the rule runtime: what a record must carry for @p e. */

/** Bits of fw_expr_uses.profile. */
#define FW_EXPR_PROFILE_AVG_AMOUNT (1u << 0)
#define FW_EXPR_PROFILE_HOME_COUNTRY (1u << 1)
#define FW_EXPR_PROFILE_CUSTOMER_ID (1u << 2)

typedef struct fw_expr_uses {
    uint64_t fields;       /* bit f: fw_txn field f (fw_txn_field_index) of `this` */
    uint64_t prev_fields;  /* bit f: of `prev`; 0 = prev never read */
    uint32_t profile;      /* FW_EXPR_PROFILE_* bits */
    size_t nextra;         /* extra slots read (fw_expr_extra_slot) */
    size_t nslots;         /* caller slots read: highest index + 1 */
    size_t nlists;         /* named-list references */
    size_t nis_new;        /* is_new call sites: sites are 0 .. nis_new - 1 */
} fw_expr_uses;

/** @brief Fills @p u with what @p e reads. */
void fw_expr_uses_get(const fw_expr *e, fw_expr_uses *u);

/** @brief Whether boolean @p e, once true, stays true while caller slot i
 *  only rises (@p dir[i] +1) or only falls (-1); 0 means the slot may move
 *  either way, and slots from @p ndir on too. Only comparisons of sums and
 *  differences of slots with constants, joined by and and or, qualify: a
 *  read of the record or a profile does not. For early firing (lang_rules). */
bool fw_expr_holds_once_true(const fw_expr *e, const int8_t *dir, size_t ndir);

/** @brief Whether @p e is the record's own `amount`, nothing else. */
bool fw_expr_is_amount(const fw_expr *e);

/** @brief The @p i-th distinct extra slot @p e reads (i < nextra). */
int fw_expr_extra_slot(const fw_expr *e, size_t i);

/** An is_new call site: the value it asks about and its lookback. */
typedef struct fw_expr_is_new_site {
    int field;             /* fw_txn field index, or -1 for an extra field */
    int extra_slot;        /* the extra slot when field is -1 */
    int64_t lookback_ms;
} fw_expr_is_new_site;

/** @brief Call site @p site (< nis_new) of is_new. */
void fw_expr_is_new_get(const fw_expr *e, size_t site, fw_expr_is_new_site *out);

#endif
