/* lang_history.c — a key's history for `prev.` and `is_new`: the previous
 * transaction's fields copied into the key, and the bounded set of
 * (field, value) -> last seen; plus filter rules that read them. Apart so
 * that history's rules (behind the watermark: neither seen nor changed) live
 * in one file. */
#include "lang_state_int.h"

/* ---- history: prev. and is_new ---- */

static fw_str txn_cstr(const fw_txn *t, int pf) {
    return *(const fw_str *)((const char *)t + pf_field[pf].off);
}

/* Evaluates @p e with is_new reading its own call sites. */
bool lang_xtest(fw_lang_state *st, const fw_expr *e, const fw_expr_ctx *ctx) {
    st->cur_expr = e;
    bool r = fw_expr_test(e, ctx);
    st->cur_expr = NULL;
    return r;
}

/* The key's previous transaction as the evaluator reads it; NULL when there
 * is none, it is older than prev_within, or this record is behind the
 * watermark (its place in order has passed). */
const fw_txn *lang_prev_view(fw_lang_state *st, const fw_lang_rule *r, const ltab *tb,
                             const lkey *k, const fw_txn *t) {
    const lprev *p = k->prev;
    if (!r->prev_fields || !p || st->behind || t->ts_ms - p->ts > r->prev_within_ms)
        return NULL;
    fw_txn *v = &st->prevtxn;
    v->ts_ms = p->ts;
    v->amount = p->amount;
    v->amount_dec = p->amount_dec; /* exact, for its evidence (amount_raw only when read) */
    v->amount_dec_set = p->amount_dec != FW_LANG_NO_AMOUNT;
    v->lat = p->lat;
    v->lon = p->lon;
    v->has = p->has;
    v->type = (fw_txn_type)p->type;
    size_t off = 0;
    for (uint8_t i = 0; i < tb->npf; i++) { /* the fields the rule reads: it reads no other */
        int f = tb->pf[i];
        fw_str *s = txn_str(v, f);
        *s = p->len[f] < 0 ? FW_STR_NULL : (fw_str){ p->buf + off, (size_t)p->len[f] };
        off += p->len[f] < 0 ? 0 : (size_t)p->len[f];
    }
    return v;
}


/* Copies what the rule reads of @p t (and its id, for evidence) into the
 * key's lprev; its buffer grows to the longest record and is then reused. */
bool lang_prev_keep(const ltab *tb, lkey *k, const fw_txn *t) {
    lprev *p = k->prev;
    if (!p) {
        if (!(p = k->prev_mem ? k->prev_mem : calloc(1, sizeof(*p))))
            return false;
        memset(p, 0, sizeof(*p));
        k->prev = p;
        if (p == k->prev_mem) {
            p->buf = prev_inline(k);
            p->cap = PREV_INLINE;
        }
        for (int f = 0; f < PF_N; f++)
            p->len[f] = -1; /* a field the rule does not read stays absent */
    }
    size_t need = 0;
    int32_t len[PF_N];
    const char *src[PF_N]; /* by i, as tb->pf: read once, copied below */
    for (uint8_t i = 0; i < tb->npf; i++) {
        fw_str s = txn_cstr(t, tb->pf[i]);
        src[i] = s.ptr;
        len[i] = s.ptr && s.len < INT32_MAX ? (int32_t)s.len : -1;
        need += len[i] > 0 ? (size_t)len[i] : 0;
    }
    if (!p->buf || need > p->cap) {
        size_t cap = p->cap * 2 > need ? p->cap * 2 : need < 32 ? 32 : need;
        /* The text is copied afresh below: the old bytes need not move. */
        char *nb = p->buf == prev_inline(k) ? malloc(cap) : realloc(p->buf, cap);
        if (!nb)
            return false;
        p->buf = nb;
        p->cap = (uint32_t)cap;
    }
    size_t off = 0;
    for (uint8_t i = 0; i < tb->npf; i++) { /* in PF_* order: lang_prev_view reads them so */
        p->len[tb->pf[i]] = len[i];
        if (len[i] > 0) {
            lang_copy_short(p->buf + off, src[i], (size_t)len[i]);
            off += (size_t)len[i];
        }
    }
    p->ts = t->ts_ms;
    p->amount_dec = lang_txn_amount(t);
    p->amount = t->amount;
    p->lat = t->lat;
    p->lon = t->lon;
    p->has = t->has;
    p->type = (uint8_t)t->type;
    return true;
}

static uint64_t seen_hash(int field, fw_str v) {
    return fw_hash64(v.ptr, v.len, 0x6e657700u + (uint64_t)(int64_t)field) | 1; /* never 0 */
}

static lseen *seen_find(const lkey *k, uint64_t h) {
    if (!k->seencap)
        return NULL;
    uint32_t mask = k->seencap - 1, i = (uint32_t)h & mask;
    for (; k->seen[i].h; i = (i + 1) & mask)
        if (k->seen[i].h == h)
            return &k->seen[i];
    return NULL;
}

/* Deletes slot @p i by backward shift (no tombstones). */
static void seen_del(lkey *k, uint32_t i) {
    lang_oa_delete(k->seen, sizeof(*k->seen), k->seencap - 1, i);
    k->nseen--;
}

/* Forgets values last seen before @p before. @returns how many. */
uint32_t lang_seen_purge(lkey *k, int64_t before) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < k->seencap; i++)
        while (k->seen[i].h && k->seen[i].last < before) { /* the shift refills slot i */
            seen_del(k, i);
            n++;
        }
    return n;
}

static void seen_put(lseen *t, uint32_t cap, lseen e) {
    uint32_t i = (uint32_t)e.h & (cap - 1);
    while (t[i].h)
        i = (i + 1) & (cap - 1);
    t[i] = e;
}

/* Remembers that the key had @p h at @p ts. At max_window_events values the
 * expired go first, then the least recently seen (counted as overflow). */
void lang_seen_add(fw_lang_state *st, const fw_lang_rule *r, lkey *k, uint64_t h, int64_t ts) {
    lseen *e = seen_find(k, h);
    if (e) {
        if (ts > e->last)
            e->last = ts;
        return;
    }
    uint32_t max = st->rs->max_window_events ? st->rs->max_window_events : 1;
    if (k->nseen >= max)
        lang_seen_purge(k, ts - r->seen_keep_ms);
    if (k->nseen >= max) {
        uint32_t old = 0;
        for (uint32_t i = 0; i < k->seencap; i++)
            if (k->seen[i].h && (!k->seen[old].h || k->seen[i].last < k->seen[old].last))
                old = i;
        seen_del(k, old);
        k->overflow++;
        st->stats.overflow++;
    }
    if ((k->nseen + 1u) * 2 > k->seencap) {
        uint32_t cap = k->seencap ? k->seencap * 2 : 8;
        lseen *nt = calloc(cap, sizeof(*nt));
        if (!nt)
            return;
        for (uint32_t i = 0; i < k->seencap; i++)
            if (k->seen[i].h)
                seen_put(nt, cap, k->seen[i]);
        free(k->seen);
        k->seen = nt;
        k->seencap = cap;
    }
    seen_put(k->seen, k->seencap, (lseen){ h, ts });
    k->nseen++;
}

/* The text is_new asks about for field @p f (a field index, or -2 - slot). */
static fw_str seen_value(const fw_lang_state *st, int f, const fw_expr_ctx *ctx) {
    const fw_txn *t = ctx->txn;
    if (f < 0) {
        size_t slot = (size_t)(-2 - f);
        return slot < ctx->nextra ? ctx->extra[slot] : FW_STR_NULL;
    }
    for (int p = 0; p < PF_N; p++) {
        if (st->pf_bit[p] != f)
            continue;
        if (p == 5 && t->type != FW_TXN_TYPE_OTHER) /* type: its name, as the evaluator reads it */
            return t->type == FW_TXN_TYPE_NONE ? FW_STR_NULL : fw_str_c(fw_txn_type_name(t->type));
        return txn_cstr(t, p);
    }
    return FW_STR_NULL;
}

/* After the rule has judged the record: it becomes the key's prev, and its
 * values are seen now. Records behind the watermark change nothing. */
void lang_hist_update(fw_lang_state *st, const fw_lang_rule *r, lkey *k,
                      const fw_expr_ctx *ctx) {
    const fw_txn *t = ctx->txn;
    if (st->behind)
        return;
    if (r->prev_fields)
        (void)lang_prev_keep(&st->tab[st->group_of[r - st->rs->rules]], k, t);
    for (size_t i = 0; i < r->nseen; i++) {
        fw_str v = seen_value(st, r->seen_field[i], ctx);
        if (v.ptr)
            lang_seen_add(st, r, k, seen_hash(r->seen_field[i], v), t->ts_ms);
    }
    mark(st, k);
}

int lang_is_new_hook(void *ud, int site, fw_str value, int64_t lookback_ms) {
    fw_lang_state *st = ud;
    if (!st->cur_expr || !st->hist)
        return -1;
    fw_expr_is_new_site s;
    fw_expr_is_new_get(st->cur_expr, (size_t)site, &s);
    const lseen *e = seen_find(st->hist, seen_hash(s.field >= 0 ? s.field : -2 - s.extra_slot, value));
    /* Seen at exactly lookback before counts as seen, as a window's bound does. */
    return !e || st->prevtxn_now - e->last > lookback_ms;
}
/* A filter reading prev. or is_new: the key first (its history), then when. */
void lang_filter_hist(fw_lang_state *st, size_t ri, fw_expr_ctx *ctx, fw_lang_alert_fn fn,
                      void *opaque) {
    const fw_lang_rule *r = &st->rs->rules[ri];
    size_t len = 0;
    lkey *k;
    uint64_t h;
    if (!lang_rule_key(st, r, ctx, &len, &h) ||
        !(k = lang_key_get(st, st->group_of[ri], len, ctx->txn->ts_ms)))
        return;
    ctx->prev = lang_prev_view(st, r, &st->tab[st->group_of[ri]], k, ctx->txn);
    st->hist = k;
    if (lang_xtest(st, r->when, ctx))
        lang_emit(st, r, k, st->member_of[ri], ctx, fn, opaque, NULL, NULL);
    lang_hist_update(st, r, k, ctx);
    ctx->prev = NULL;
    st->hist = NULL;
}
