/* expr_eval.c — evaluation of a compiled expression (expr_int.h) against
 * one record: a switch over typed nodes, values unboxed in fw_xval, strings
 * as slices of the record, nothing allocated. Missing propagates through
 * arithmetic and functions; a comparison with a missing side is false. */
#include "expr_int.h"

#include <string.h>
#include "fw_geo.h"

#define MISSING ((fw_xval){ .type = FW_XT_MISSING })

static fw_xval num(fw_dec v) { return (fw_xval){ .type = FW_XT_NUM, .u.num = v }; }
static fw_xval boolean(bool v) { return (fw_xval){ .type = FW_XT_BOOL, .u.b = v }; }
static fw_xval str(fw_str s) {
    return s.ptr ? (fw_xval){ .type = FW_XT_STR, .u.s = s } : MISSING;
}
static fw_xval ms_of(fw_xtype t, int64_t ms) { return (fw_xval){ .type = t, .u.ms = ms }; }

static fw_xval from_double(double d) {
    fw_dec v;
    return fw_dec_of_double(d, &v) ? num(v) : MISSING;
}

static fw_xval txn_field(const fw_txn *t, int f) {
    if (!t)
        return MISSING;
    switch (f) {
    case XF_TRANSACTION_ID: return str(t->transaction_id);
    case XF_TIMESTAMP: return ms_of(FW_XT_TIME, t->ts_ms);
    case XF_AMOUNT: {
        fw_dec v; /* exact; the double is the fallback for records built without it */
        return fw_txn_amount_dec(t, &v) ? num(v) : from_double(t->amount);
    }
    case XF_ACCOUNT_ID: return str(t->account_id);
    case XF_CARD_ID: return str(t->card_id);
    case XF_CUSTOMER_ID: return str(t->customer_id);
    case XF_TYPE:
        if (t->type == FW_TXN_TYPE_NONE)
            return MISSING;
        if (t->type == FW_TXN_TYPE_OTHER)
            return str(t->type_raw);
        return str(fw_str_c(fw_txn_type_name(t->type)));
    case XF_CURRENCY: return str(t->currency);
    case XF_MERCHANT_ID: return str(t->merchant_id);
    case XF_MERCHANT_CATEGORY: return str(t->merchant_category);
    case XF_COUNTRY: return str(t->country);
    case XF_LAT: return t->has & FW_TXN_HAS_LAT ? from_double(t->lat) : MISSING;
    case XF_LON: return t->has & FW_TXN_HAS_LON ? from_double(t->lon) : MISSING;
    case XF_COUNTERPARTY_ID: return str(t->counterparty_id);
    case XF_CHANNEL: return str(t->channel);
    default: {
        int v = f - XF_V1;
        if (v >= 0 && v < FW_TXN_NFEATURES && (t->v_mask >> v & 1u))
            return from_double(t->v[v]);
        return MISSING;
    }
    }
}

static unsigned char fold_ch(unsigned char c, bool fold) {
    return fold && c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* Three-way comparison of two slices, each folded (lower()) or not. */
static int cmp_slices(fw_str a, bool fa, fw_str b, bool fb) {
    size_t n = a.len < b.len ? a.len : b.len;
    if (!fa && !fb) {
        int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
        if (c)
            return c < 0 ? -1 : 1;
    } else {
        for (size_t i = 0; i < n; i++) {
            unsigned char x = fold_ch((unsigned char)a.ptr[i], fa);
            unsigned char y = fold_ch((unsigned char)b.ptr[i], fb);
            if (x != y)
                return x < y ? -1 : 1;
        }
    }
    return (a.len > b.len) - (a.len < b.len);
}

static int cmp_str(const fw_xval *a, const fw_xval *b) {
    return cmp_slices(a->u.s, a->fold, b->u.s, b->fold);
}

int fw_expr_compare(const fw_xval *a, const fw_xval *b) {
    switch (a->type) {
    case FW_XT_STR: return cmp_str(a, b);
    case FW_XT_NUM: return (a->u.num > b->u.num) - (a->u.num < b->u.num);
    case FW_XT_DUR:
    case FW_XT_TIME: return (a->u.ms > b->u.ms) - (a->u.ms < b->u.ms);
    case FW_XT_BOOL: return (int)a->u.b - (int)b->u.b;
    default: return 0;
    }
}

/* Reads an extra field's text as the node's type. */
static fw_xval extra_value(const xnode *n, const fw_expr_ctx *ctx) {
    int32_t s = n->u.idx;
    if (!ctx->extra || s < 0 || (size_t)s >= ctx->nextra || !ctx->extra[s].ptr)
        return MISSING;
    fw_str t = ctx->extra[s];
    if (n->type == FW_XT_NUM) {
        fw_dec v;
        return fw_dec_parse(t.ptr, t.len, &v) == FW_OK ? num(v) : MISSING;
    }
    return str(t);
}

static fw_xval arith(const fw_expr *e, const xnode *n, const fw_expr_ctx *ctx) {
    fw_xval a = fw_expr_eval_node(e, n->a, ctx);
    if (a.type == FW_XT_MISSING)
        return MISSING;
    fw_xval b = fw_expr_eval_node(e, n->b, ctx);
    if (b.type == FW_XT_MISSING)
        return MISSING;
    if (a.type == FW_XT_NUM && b.type == FW_XT_NUM) {
        fw_dec r;
        bool ok = n->op == XOP_ADD   ? fw_dec_add(a.u.num, b.u.num, &r)
                  : n->op == XOP_SUB ? fw_dec_sub(a.u.num, b.u.num, &r)
                  : n->op == XOP_MUL ? fw_dec_mul(a.u.num, b.u.num, &r)
                                     : fw_dec_div(a.u.num, b.u.num, &r);
        return ok ? num(r) : MISSING; /* overflow, division by zero */
    }
    /* Times and durations: milliseconds, add and subtract only. */
    int64_t r;
    bool over = n->op == XOP_ADD ? __builtin_add_overflow(a.u.ms, b.u.ms, &r)
                                 : __builtin_sub_overflow(a.u.ms, b.u.ms, &r);
    return over ? MISSING : ms_of((fw_xtype)n->type, r);
}

static bool in_set(const fw_expr *e, const xnode *n, const fw_xval *v) {
    const fw_xval *set = e->set + n->u.set.off;
    size_t lo = 0, hi = n->u.set.n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = fw_expr_compare(v, &set[mid]);
        if (c == 0)
            return true;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return false;
}

/* Days since 1970-01-01 of epoch milliseconds, rounding toward -inf. */
static int64_t day_of(int64_t ms, int64_t *ms_in_day) {
    int64_t d = ms / 86400000, r = ms % 86400000;
    if (r < 0) {
        r += 86400000;
        d--;
    }
    *ms_in_day = r;
    return d;
}

static fw_xval geo(const xnode *n, const fw_expr_ctx *ctx) {
    const fw_txn *a = n->aux & 1 ? ctx->prev : ctx->txn, *b = n->aux & 2 ? ctx->prev : ctx->txn;
    const uint32_t both = FW_TXN_HAS_LAT | FW_TXN_HAS_LON;
    if (!a || !b || (a->has & both) != both || (b->has & both) != both)
        return MISSING;
    double km = fw_haversine_km(a->lat, a->lon, b->lat, b->lon);
    if (n->op == XOP_DISTANCE)
        return from_double(km);
    int64_t dt = a->ts_ms > b->ts_ms ? a->ts_ms - b->ts_ms : b->ts_ms - a->ts_ms;
    if (dt == 0) /* no time between two places: as fast as a number goes */
        return num(km > 0 ? FW_DEC_MAX : 0);
    double kmh = km / ((double)dt / 3600000.0);
    return kmh >= (double)FW_DEC_MAX / FW_DEC_SCALE ? num(FW_DEC_MAX) : from_double(kmh);
}

/* A string for a hook: lower()'s fold applied in @p buf (stack memory). */
static fw_str hook_str(const fw_xval *v, char *buf, size_t size) {
    if (!v->fold)
        return v->u.s;
    if (v->u.s.len > size)
        return FW_STR_NULL;
    for (size_t i = 0; i < v->u.s.len; i++)
        buf[i] = (char)fold_ch((unsigned char)v->u.s.ptr[i], true);
    return (fw_str){ .ptr = buf, .len = v->u.s.len };
}

/* Out of line: its buffer must not enlarge every recursive frame. */
__attribute__((noinline))
static fw_xval in_list(const fw_expr *e, const xnode *n, const fw_expr_ctx *ctx) {
    fw_xval a = fw_expr_eval_node(e, n->a, ctx);
    char buf[FW_EXPR_LOWER_MAX];
    fw_str s = a.type == FW_XT_STR ? hook_str(&a, buf, sizeof(buf)) : FW_STR_NULL;
    if (!s.ptr || !ctx->in_list)
        return boolean(false);
    int r = ctx->in_list(ctx->ud, n->u.idx, s);
    return boolean(r >= 0 && (r == 1) != (n->aux != 0));
}

/* A record's field, the amount parsed once per record when a memo is given. */
static inline fw_xval field_value(const xnode *n, const fw_expr_ctx *ctx) {
    if (n->u.idx == XF_AMOUNT && !n->aux && ctx->memo) {
        if (!ctx->memo->amount_set) {
            ctx->memo->amount = txn_field(ctx->txn, XF_AMOUNT);
            ctx->memo->amount_set = true;
        }
        return ctx->memo->amount;
    }
    return txn_field(n->aux ? ctx->prev : ctx->txn, n->u.idx);
}

/* A comparison's operand: constants and fields without a call. */
static inline fw_xval operand(const fw_expr *e, int32_t i, const fw_expr_ctx *ctx) {
    const xnode *n = &e->node[i];
    if (n->op == XOP_CONST)
        return n->u.k;
    if (n->op == XOP_FIELD)
        return field_value(n, ctx);
    return fw_expr_eval_node(e, i, ctx);
}

/* The record a field node reads: this or prev. */
static inline const fw_txn *field_txn(const fw_expr *e, const xnode *n, const fw_expr_ctx *ctx) {
    return e->node[n->a].aux ? ctx->prev : ctx->txn;
}

/* Out of line, as in_list: its values must not enlarge every frame of the
 * recursive eval_bool. */
__attribute__((noinline))
static bool cmp_values(const fw_expr *e, const xnode *n, const fw_expr_ctx *ctx) {
    fw_xval a = operand(e, n->a, ctx);
    if (a.type == FW_XT_MISSING)
        return false;
    const xnode *nb = &e->node[n->b];
    fw_xval bv;
    const fw_xval *b = &nb->u.k;
    if (nb->op != XOP_CONST) {
        bv = operand(e, n->b, ctx);
        b = &bv;
    }
    if (b->type == FW_XT_MISSING)
        return false;
    int c;
    if (a.type == FW_XT_NUM) /* the common case, without the switch */
        c = (a.u.num > b->u.num) - (a.u.num < b->u.num);
    else
        c = fw_expr_compare(&a, b);
    switch ((xcmp)n->aux) {
    case XCMP_LT: return c < 0;
    case XCMP_LE: return c <= 0;
    case XCMP_GT: return c > 0;
    case XCMP_GE: return c >= 0;
    case XCMP_EQ: return c == 0;
    default: return c != 0;
    }
}

__attribute__((noinline))
static bool other_bool(const fw_expr *e, const xnode *n, const fw_expr_ctx *ctx) {
    fw_xval v = fw_expr_eval_node(e, (int32_t)(n - e->node), ctx);
    return v.type == FW_XT_BOOL && v.u.b;
}

__attribute__((noinline))
static bool is_missing(const fw_expr *e, const xnode *n, const fw_expr_ctx *ctx) {
    fw_xval a = operand(e, n->a, ctx);
    return (a.type == FW_XT_MISSING) != (n->aux != 0);
}

__attribute__((noinline))
static bool in_set_value(const fw_expr *e, const xnode *n, const fw_expr_ctx *ctx) {
    fw_xval a = operand(e, n->a, ctx);
    return a.type != FW_XT_MISSING && in_set(e, n, &a) != (n->aux != 0);
}

/* ---- shortcuts (xfast): operands read as a bare fw_dec, milliseconds or
 * slice, without building an fw_xval. Each gives exactly what the general
 * path (operand()) gives, false standing for missing; what a shortcut does
 * not know it hands to the general path. */

/* Out of line: the general path's fw_xval must not enlarge the frames of
 * the recursive eval_bool. */
__attribute__((noinline))
static bool num_general(const fw_expr *e, int32_t i, const fw_expr_ctx *ctx, fw_dec *out) {
    fw_xval v = operand(e, i, ctx);
    if (v.type != FW_XT_NUM)
        return false;
    *out = v.u.num;
    return true;
}

/* Out of line: the parse (field_value) is once per record. The decoder's
 * exact amount (txn_field's first case) goes to the memo without building
 * an fw_xval twice. */
__attribute__((noinline))
static bool amount_general(const fw_expr_ctx *ctx, fw_dec *out) {
    const fw_txn *t = ctx->txn;
    if (t && t->amount_dec_set) {
        if (ctx->memo) {
            ctx->memo->amount = num(t->amount_dec);
            ctx->memo->amount_set = true;
        }
        *out = t->amount_dec;
        return true;
    }
    static const xnode amount = { .op = XOP_FIELD, .type = FW_XT_NUM, .u.idx = XF_AMOUNT };
    fw_xval v = field_value(&amount, ctx);
    if (v.type != FW_XT_NUM)
        return false;
    *out = v.u.num;
    return true;
}

/* This record's amount: the memo's once it is parsed. */
static inline bool amount_of(const fw_expr_ctx *ctx, fw_dec *out) {
    const fw_expr_memo *m = ctx->memo;
    if (m && m->amount_set) {
        *out = m->amount.u.num;
        return m->amount.type == FW_XT_NUM;
    }
    return amount_general(ctx, out);
}

/* A NUM leaf's value: a constant, this record's amount, a slot; a missing
 * profile. Anything else takes the general path. */
static inline __attribute__((always_inline)) bool num_leaf(const fw_expr *e, int32_t i,
                                                            const fw_expr_ctx *ctx, fw_dec *out) {
    const xnode *n = &e->node[i];
    switch ((xop)n->op) {
    case XOP_CONST:
        *out = n->u.k.u.num;
        return n->u.k.type == FW_XT_NUM; /* a folded 1/0 is missing */
    case XOP_FIELD:
        if (n->u.idx == XF_AMOUNT && !n->aux)
            return amount_of(ctx, out);
        break;
    case XOP_PROFILE:
        if (!ctx->profile) /* no profile: every profile value is missing */
            return false;
        break;
    case XOP_SLOT: {
        if (!ctx->slots || (size_t)n->u.idx >= ctx->nslots)
            return false;
        const fw_xval *v = &ctx->slots[n->u.idx];
        *out = v->u.num;
        return v->type == FW_XT_NUM;
    }
    default: break;
    }
    return num_general(e, i, ctx, out);
}

/* A NUM node's value: num_leaf's, or a number times a whole constant over
 * a num_leaf (a deeper product takes the general path, which gives the
 * same). Inline and without recursion: the comparisons' operands. */
static inline __attribute__((always_inline)) bool num_of(const fw_expr *e, int32_t i,
                                                          const fw_expr_ctx *ctx, fw_dec *out) {
    const xnode *n = &e->node[i];
    if (n->op == XOP_MUL && n->fast == XFAST_MUL_INT) {
        /* fw_dec_mul by m * FW_DEC_SCALE is exact: m * x, missing past
         * the symmetric range (INT64_MIN included). The constant side
         * is never missing, so the order of evaluation is the same. */
        fw_dec x, r;
        if (!num_leaf(e, (int32_t)n->fx, ctx, &x) ||
            __builtin_mul_overflow(x, n->u.k.u.num, &r) || r < FW_DEC_MIN)
            return false;
        *out = r;
        return true;
    }
    return num_leaf(e, i, ctx, out);
}

__attribute__((noinline))
static bool ms_general(const fw_expr *e, int32_t i, const fw_expr_ctx *ctx, int64_t *out) {
    fw_xval v = operand(e, i, ctx);
    if (v.type != FW_XT_TIME && v.type != FW_XT_DUR)
        return false;
    *out = v.u.ms;
    return true;
}

/* A TIME or DUR node's milliseconds. */
static bool ms_node(const fw_expr *e, int32_t i, const fw_expr_ctx *ctx, int64_t *out) {
    const xnode *n = &e->node[i];
    switch ((xop)n->op) {
    case XOP_CONST:
        *out = n->u.k.u.ms;
        return n->u.k.type == FW_XT_TIME || n->u.k.type == FW_XT_DUR;
    case XOP_FIELD:
        if (n->u.idx == XF_TIMESTAMP) {
            const fw_txn *t = n->aux ? ctx->prev : ctx->txn;
            if (!t)
                return false;
            *out = t->ts_ms;
            return true;
        }
        break;
    case XOP_ADD:
    case XOP_SUB: { /* operands TIME or DUR (arith_type) */
        int64_t a, b;
        if (!ms_node(e, n->a, ctx, &a) || !ms_node(e, n->b, ctx, &b))
            return false;
        return n->op == XOP_ADD ? !__builtin_add_overflow(a, b, out)
                                : !__builtin_sub_overflow(a, b, out);
    }
    default: break;
    }
    return ms_general(e, i, ctx, out);
}

/* A STR field of @p t: ptr NULL when missing (txn_field's strings). */
static inline __attribute__((always_inline)) fw_str str_field(const fw_txn *t, int f) {
    switch ((xfield)f) {
    case XF_TRANSACTION_ID: return t->transaction_id;
    case XF_ACCOUNT_ID: return t->account_id;
    case XF_CARD_ID: return t->card_id;
    case XF_CUSTOMER_ID: return t->customer_id;
    case XF_TYPE:
        if (t->type == FW_TXN_TYPE_NONE)
            return FW_STR_NULL;
        if (t->type == FW_TXN_TYPE_OTHER)
            return t->type_raw;
        return fw_str_c(fw_txn_type_name(t->type));
    case XF_CURRENCY: return t->currency;
    case XF_MERCHANT_ID: return t->merchant_id;
    case XF_MERCHANT_CATEGORY: return t->merchant_category;
    case XF_COUNTRY: return t->country;
    case XF_COUNTERPARTY_ID: return t->counterparty_id;
    case XF_CHANNEL: return t->channel;
    default: return FW_STR_NULL; /* not a STR field: never marked */
    }
}

__attribute__((noinline))
static bool str_general(const fw_expr *e, int32_t i, const fw_expr_ctx *ctx, fw_str *out,
                        bool *fold) {
    fw_xval v = operand(e, i, ctx);
    if (v.type != FW_XT_STR)
        return false;
    *out = v.u.s;
    *fold = v.fold;
    return true;
}

/* A STR node's slice and lower() fold. */
static inline __attribute__((always_inline)) bool str_of(const fw_expr *e, int32_t i,
                                                          const fw_expr_ctx *ctx, fw_str *out,
                                                          bool *fold) {
    const xnode *n = &e->node[i];
    if (n->op == XOP_CONST) {
        *out = n->u.k.u.s;
        *fold = n->u.k.fold;
        return n->u.k.type == FW_XT_STR;
    }
    if (n->op == XOP_FIELD) {
        const fw_txn *t = n->aux ? ctx->prev : ctx->txn;
        if (!t)
            return false;
        *out = str_field(t, n->u.idx);
        *fold = false;
        return out->ptr != NULL;
    }
    return str_general(e, i, ctx, out, fold);
}

/* Bit c + 1 (c the three-way result) set when the comparison holds, by xcmp. */
static const uint8_t cmp_holds[] = {
    [XCMP_LT] = 1, [XCMP_LE] = 3, [XCMP_GT] = 4, [XCMP_GE] = 6, [XCMP_EQ] = 2, [XCMP_NE] = 5,
};

static inline bool holds(const xnode *n, int c) { return cmp_holds[n->aux] >> (c + 1) & 1u; }

/* amount <op> constant (XFAST_AMOUNT_K): most rules' filter or step. */
static inline bool amount_cmp(const xnode *n, const fw_expr_ctx *ctx) {
    fw_dec a, b = n->u.k.u.num;
    if (!amount_of(ctx, &a))
        return false;
    return holds(n, (a > b) - (a < b));
}

/* The shortcuts of CMP (fast NUM, MS, STR): left side first, missing false.
 * Inline in the leaf loop, as missing_fast and str_of: most leaves are these,
 * and a call cost about as much as the test (-8 M instructions on 100k). */
static inline __attribute__((always_inline)) bool cmp_fast(const fw_expr *e, const xnode *n,
                                                            const fw_expr_ctx *ctx) {
    switch ((xfast)n->fast) {
    case XFAST_AMOUNT_K: return amount_cmp(n, ctx);
    case XFAST_NUM: {
        fw_dec a, b;
        if (!num_of(e, n->a, ctx, &a) || !num_of(e, n->b, ctx, &b))
            return false;
        return holds(n, (a > b) - (a < b));
    }
    case XFAST_MS: {
        int64_t a, b;
        if (!ms_node(e, n->a, ctx, &a) || !ms_node(e, n->b, ctx, &b))
            return false;
        return holds(n, (a > b) - (a < b));
    }
    default: { /* XFAST_STR */
        fw_str a, b;
        bool fa, fb;
        if (!str_of(e, n->a, ctx, &a, &fa) || !str_of(e, n->b, ctx, &b, &fb))
            return false;
        if ((n->aux == XCMP_EQ || n->aux == XCMP_NE) && !fa && !fb) /* equal: same bytes */
            return (a.len == b.len && (!a.len || !memcmp(a.ptr, b.ptr, a.len))) ==
                   (n->aux == XCMP_EQ);
        return holds(n, cmp_slices(a, fa, b, fb));
    }
    }
}

/* IS_MISSING with a shortcut (fast NUM, MS, STR of its operand). */
static inline __attribute__((always_inline)) bool missing_fast(const fw_expr *e, const xnode *n,
                                                                const fw_expr_ctx *ctx) {
    bool present;
    if (n->fast == XFAST_NUM) {
        /* a caller's slot or a profile value (risk_score's bands) without
         * num_of's call */
        const xnode *a = &e->node[n->a];
        fw_dec v;
        if (a->op == XOP_SLOT)
            present = ctx->slots && (size_t)a->u.idx < ctx->nslots &&
                      ctx->slots[a->u.idx].type == FW_XT_NUM;
        else if (a->op == XOP_PROFILE && !ctx->profile)
            present = false;
        else
            present = num_of(e, n->a, ctx, &v);
    } else if (n->fast == XFAST_MS) {
        int64_t v;
        present = ms_node(e, n->a, ctx, &v);
    } else if (e->node[n->a].op == XOP_FIELD && e->node[n->a].u.idx == XF_TYPE) {
        /* `type is missing` (rapid_small): the code decides, no name looked up */
        const fw_txn *t = e->node[n->a].aux ? ctx->prev : ctx->txn;
        present = t && t->type != FW_TXN_TYPE_NONE &&
                  (t->type != FW_TXN_TYPE_OTHER || t->type_raw.ptr);
    } else {
        fw_str v;
        bool fold;
        present = str_of(e, n->a, ctx, &v, &fold);
    }
    return present == (n->aux != 0);
}

/* The test of a node other than and/or/not, to a C bool (false for
 * missing): a step of the flat form, a leaf of eval_bool. */
static inline __attribute__((always_inline)) bool test_leaf(const fw_expr *e, const xnode *n,
                                                            const fw_expr_ctx *ctx) {
    switch ((xop)n->op) {
    case XOP_CONST: return n->u.k.type == FW_XT_BOOL && n->u.k.u.b;
    case XOP_CMP:
        if (n->fast == XFAST_TYPE_CMP) {
            /* A known type is its enum; missing compares false; other
             * text (FW_TXN_TYPE_OTHER) takes the general path. */
            const fw_txn *t = field_txn(e, n, ctx);
            if (!t || t->type == FW_TXN_TYPE_NONE)
                return false;
            if (t->type != FW_TXN_TYPE_OTHER)
                return ((uint32_t)t->type == n->fx) == (n->aux == XCMP_EQ);
        } else if (n->fast != XFAST_NONE) {
            return cmp_fast(e, n, ctx);
        }
        return cmp_values(e, n, ctx);
    case XOP_IS_MISSING:
        if (n->fast != XFAST_NONE)
            return missing_fast(e, n, ctx);
        return is_missing(e, n, ctx);
    case XOP_IN_SET: {
        /* Missing is in no list, and `not in` any list is false for it
         * too, as every comparison with a missing value is. */
        if (n->fast == XFAST_TYPE_IN) {
            const fw_txn *t = field_txn(e, n, ctx);
            if (!t || t->type == FW_TXN_TYPE_NONE)
                return false;
            if (t->type != FW_TXN_TYPE_OTHER)
                return ((n->fx >> t->type & 1u) != 0) != (n->aux != 0);
        }
        return in_set_value(e, n, ctx);
    }
    default: return other_bool(e, n, ctx);
    }
}

/* Evaluates a BOOL node to a C bool (false for missing), without building
 * values for the logic in between. The general path of fw_expr_test, and
 * fw_expr_eval's for a BOOL node. */
static bool eval_bool(const fw_expr *e, int32_t i, const fw_expr_ctx *ctx) {
    const xnode *n = &e->node[i];
    for (;;) {
        switch ((xop)n->op) {
        case XOP_AND:
        case XOP_OR: {
            /* The compiler nests chains to the right: a loop walks
             * `a or b or c ...` and stops at the first deciding side. */
            uint8_t op = n->op;
            bool stop = op == XOP_OR;
            while (n->op == op) {
                if (eval_bool(e, n->a, ctx) == stop)
                    return stop;
                n = &e->node[n->b];
            }
            continue; /* the last side decides */
        }
        case XOP_NOT: return !eval_bool(e, n->a, ctx);
        default: return test_leaf(e, n, ctx);
        }
    }
}

/* The flat form (xstep): one loop over the leaf tests, and/or/not as
 * jumps; the same results as eval_bool of the root. */
static bool eval_flat(const fw_expr *e, const fw_expr_ctx *ctx) {
    const xstep *s = e->step;
    for (;;) {
        int32_t next = test_leaf(e, s->n, ctx) ? s->t : s->f;
        if (next < 0)
            return next == XSTEP_TRUE;
        s = &e->step[next];
    }
}

fw_xval fw_expr_eval_node(const fw_expr *e, int32_t i, const fw_expr_ctx *ctx) {
    const xnode *n = &e->node[i];
    switch ((xop)n->op) {
    case XOP_CONST: return n->u.k;
    case XOP_FIELD: return field_value(n, ctx);
    case XOP_PROFILE: {
        const fw_profile *p = ctx->profile;
        if (!p)
            return MISSING;
        if (n->u.idx == 0)
            return p->has_avg ? from_double(p->avg_amount) : MISSING;
        if (n->u.idx == 1)
            return p->home_country[0] ? str(fw_str_c(p->home_country)) : MISSING;
        return p->idlen ? str((fw_str){ .ptr = p->customer_id, .len = p->idlen }) : MISSING;
    }
    case XOP_EXTRA: return extra_value(n, ctx);
    case XOP_SLOT:
        if (!ctx->slots || (size_t)n->u.idx >= ctx->nslots ||
            ctx->slots[n->u.idx].type != n->type)
            return MISSING;
        return ctx->slots[n->u.idx];
    case XOP_REC: return MISSING; /* only read by distance_km / speed_kmh */
    case XOP_NEG: {
        fw_xval a = fw_expr_eval_node(e, n->a, ctx);
        if (a.type == FW_XT_NUM)
            a.u.num = -a.u.num; /* symmetric range: cannot overflow */
        else if (a.type == FW_XT_DUR && a.u.ms != INT64_MIN)
            a.u.ms = -a.u.ms;
        return a;
    }
    case XOP_ADD:
    case XOP_SUB:
    case XOP_MUL:
    case XOP_DIV: return arith(e, n, ctx);
    case XOP_CMP:
    case XOP_AND:
    case XOP_OR:
    case XOP_NOT:
    case XOP_IS_MISSING:
    case XOP_IN_SET: return boolean(eval_bool(e, i, ctx));
    case XOP_IN_LIST: return in_list(e, n, ctx);
    case XOP_ABS: {
        fw_xval a = fw_expr_eval_node(e, n->a, ctx);
        if (a.type == FW_XT_NUM && a.u.num < 0)
            a.u.num = -a.u.num;
        else if (a.type == FW_XT_DUR && a.u.ms < 0 && a.u.ms != INT64_MIN)
            a.u.ms = -a.u.ms;
        return a;
    }
    case XOP_LOWER: {
        fw_xval a = fw_expr_eval_node(e, n->a, ctx);
        if (a.type == FW_XT_STR)
            a.fold = true;
        return a;
    }
    case XOP_STARTS_WITH: {
        fw_xval a = fw_expr_eval_node(e, n->a, ctx);
        if (a.type != FW_XT_STR)
            return boolean(false);
        fw_xval b = fw_expr_eval_node(e, n->b, ctx);
        if (b.type != FW_XT_STR || b.u.s.len > a.u.s.len)
            return boolean(false);
        a.u.s.len = b.u.s.len;
        return boolean(cmp_str(&a, &b) == 0);
    }
    case XOP_HOUR:
    case XOP_DOW: {
        fw_xval a = fw_expr_eval_node(e, n->a, ctx);
        if (a.type != FW_XT_TIME)
            return MISSING;
        int64_t in_day, day = day_of(a.u.ms, &in_day);
        if (n->op == XOP_HOUR)
            return num((in_day / 3600000) * FW_DEC_SCALE);
        /* 1970-01-01 was a Thursday; ISO numbering, Monday = 1 .. Sunday = 7. */
        int64_t dow = ((day % 7) + 7 + 3) % 7 + 1;
        return num(dow * FW_DEC_SCALE);
    }
    case XOP_DISTANCE:
    case XOP_SPEED: return geo(n, ctx);
    case XOP_IS_NEW: {
        fw_xval a = fw_expr_eval_node(e, n->a, ctx);
        if (a.type != FW_XT_STR || !ctx->is_new)
            return boolean(false);
        int r = ctx->is_new(ctx->ud, n->u.idx, a.u.s, e->sites[n->u.idx].lookback_ms);
        return boolean(r == 1);
    }
    }
    return MISSING;
}

fw_xval fw_expr_eval(const fw_expr *e, const fw_expr_ctx *ctx) {
    const xnode *n = &e->node[e->root];
    if (n->op == XOP_CONST) /* a rule's points or threshold, often a $param */
        return n->u.k;
    if (n->op == XOP_FIELD) { /* a group key, an aggregate's argument */
        if (n->type == FW_XT_STR) {
            const fw_txn *t = n->aux ? ctx->prev : ctx->txn;
            return t ? str(str_field(t, n->u.idx)) : MISSING;
        }
        return field_value(n, ctx);
    }
    return fw_expr_eval_node(e, e->root, ctx);
}

bool fw_expr_test(const fw_expr *e, const fw_expr_ctx *ctx) {
    const xnode *n = &e->node[e->root];
    if (n->fast == XFAST_AMOUNT_K) /* a whole filter `amount > $limit`: no eval_bool frame */
        return amount_cmp(n, ctx);
    if (e->nstep)
        return eval_flat(e, ctx);
    return eval_bool(e, e->root, ctx);
}
