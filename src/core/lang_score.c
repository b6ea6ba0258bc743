/* lang_score.c — score rules: a key's ring of events with the `each` bands
 * they matched and its count per band (the bound), windows scored as they
 * slide (a busy key's from per-pane band counts), and the key forgotten
 * after its memory of quiet (docs/rule-language.md#score-rules,
 * docs/internals/lang_rules.md, "Scores"). */
#include "lang_state_int.h"

/* ---- scores ---- */

static int64_t pane_of(int64_t ts, int64_t slide) {
    int64_t p = ts / slide;
    return p - (ts % slide < 0);
}

void lang_score_pane_tally(lsc_panes *p, int64_t ts, uint32_t mask, uint32_t d) {
    if (!p->valid)
        return;
    int64_t pane = pane_of(ts, p->slide_ms);
    size_t s = (size_t)((uint64_t)pane & (p->np - 1));
    uint32_t *c = p->cnt + s * p->nb;
    if (p->id[s] != pane) {
        bool held = false;
        for (uint32_t b = 0; b < p->nb; b++)
            held = held || c[b];
        if (held || d != 1) { /* another pane lives here, or a count it never had */
            p->valid = false;
            return;
        }
        p->id[s] = pane;
    }
    for (mask &= (1u << p->nb) - 1; mask; mask &= mask - 1)
        c[__builtin_ctz(mask)] += d;
}

/* The panes of busy key @p k, built from its ring when missing or invalid;
 * NULL when they cannot help (a quiet key, too many slots, no memory, a ring
 * spanning more than the slots). */
static lsc_panes *score_panes(fw_lang_state *st, const fw_lang_rule *r, lkey *k) {
    lsc_panes *p = k->sc_panes;
    if (p && p->valid)
        return p;
    if (k->n < st->sc_pane_min)
        return NULL;
    if (!p) {
        /* Room for the ring's span (window + lateness) twice over, and no
         * more slots than the key holds events: a slot (8 + 4 x bands bytes)
         * costs about what an event does, so the panes stay within its ring. */
        int64_t span = (r->lookback_ms + st->rs->allowed_lateness_ms) / r->slide_ms + 2;
        uint32_t np = 16, nb = r->nbands ? (uint32_t)r->nbands : 1;
        while ((int64_t)np < 2 * span && np < SCORE_PANE_MAX)
            np *= 2;
        if ((int64_t)np < 2 * span || (st->sc_pane_min && np > k->n))
            return NULL;
        if (!(p = malloc(sizeof(*p) + np * sizeof(int64_t) + (size_t)np * nb * sizeof(uint32_t))))
            return NULL;
        p->id = (int64_t *)(p + 1);
        p->cnt = (uint32_t *)(p->id + np);
        p->np = np;
        p->nb = nb;
        p->slide_ms = r->slide_ms;
        k->sc_panes = p;
    }
    memset(p->cnt, 0, (size_t)p->np * p->nb * sizeof(uint32_t));
    p->valid = true;
    for (uint32_t j = 0, i = k->head; j < k->n && p->valid; j++, i = i + 1 == k->cap ? 0 : i + 1)
        if (k->ev[i].mask & 0xffffu)
            lang_score_pane_tally(p, k->ev[i].ts, k->ev[i].mask, 1);
    return p->valid ? p : NULL;
}

/* Adds (@p d 1) or removes (-1) pane @p pane's band counts to @p cnt. */
static inline void pane_count(const lsc_panes *p, int64_t pane, int64_t *cnt, int d) {
    size_t s = (size_t)((uint64_t)pane & (p->np - 1));
    if (p->id[s] != pane)
        return; /* no events in a band there */
    for (uint32_t b = 0; b < p->nb; b++)
        cnt[b] += d * (int64_t)p->cnt[s * p->nb + b];
}

/* Forgets everything a score key holds: after its memory of quiet the key
 * starts afresh, as a built-in entity idle past its horizon does. */
static void score_reset(fw_lang_state *st, const ltab *t, lkey *k) {
    while (k->n)
        lang_pop_oldest(st, k, t);
    k->avg_sum = 0;
    k->avg_n = 0;
    k->episode = false;
    for (size_t m = 0; m < t->nmember; m++)
        k->last[m] = INT64_MIN;
}

/* Appends an event and moves it back to its place in time order (arrivals
 * out of order within the allowed lateness); equal times keep arrival order. */
static bool score_push(fw_lang_state *st, const ltab *t, lkey *k, int64_t ts, fw_dec amount,
                       fw_str id, uint32_t mask, const fw_dec *vals) {
    size_t na = t->naggs;
    uint32_t max = st->rs->max_window_events ? st->rs->max_window_events : 1;
    if (k->n < k->cap && k->n < max) {
        /* Room in the ring (most pushes): lang_push's store, without its
         * call, growth and overflow checks nor its running totals. */
        uint32_t i = (k->head + k->n) % k->cap;
        lev_set(&k->ev[i], ts, amount, mask, id);
        for (size_t a = 0; a < na; a++)
            k->val[(size_t)i * na + a] = vals[a];
        k->n++;
        st->stats.events++;
        lang_score_tally(t, k, ts, mask, 1);
    } else if (!lang_push(st, t, k, ts, amount, id, mask, vals)) {
        return false;
    }
    for (uint32_t j = k->n - 1; j > 0; j--) {
        uint32_t i = (k->head + j) % k->cap, p = (k->head + j - 1) % k->cap;
        if (k->ev[p].ts <= k->ev[i].ts)
            break;
        lev e = k->ev[p];
        k->ev[p] = k->ev[i];
        k->ev[i] = e;
        for (size_t a = 0; a < na; a++) {
            fw_dec d = k->val[(size_t)p * na + a];
            k->val[(size_t)p * na + a] = k->val[(size_t)i * na + a];
            k->val[(size_t)i * na + a] = d;
        }
    }
    return true;
}

/* The first event (by position from the oldest) at or after @p ts. */
static uint32_t score_find(const lkey *k, int64_t ts) {
    uint32_t lo = 0, hi = k->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (k->ev[(k->head + mid) % k->cap].ts < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Aggregate @p a over events [lo, hi) by a scan: windows slide, so a score
 * keeps no running totals. count_distinct uses the state's scratch set. */
static fw_xval score_agg(fw_lang_state *st, const ltab *t, const lkey *k, size_t a, uint32_t lo,
                         uint32_t hi) {
    const fw_lang_agg *g = t->agg[a];
    uint32_t bit = 1u << (16 + a);
    int64_t cnt = 0;
    i128 sum = 0, sumsq = 0;
    fw_dec ext = 0;
    size_t cap = 16, mask;
    if (g->fn == FW_LANG_COUNT_DISTINCT) {
        while (cap < 2 * (size_t)(hi - lo))
            cap *= 2;
        if (cap > st->scratch_cap) {
            uint64_t *p = realloc(st->scratch, cap * sizeof(*p));
            if (!p)
                return missing;
            st->scratch = p;
            st->scratch_cap = cap;
        }
        memset(st->scratch, 0, cap * sizeof(*st->scratch));
    }
    mask = cap - 1;
    for (uint32_t j = lo; j < hi; j++) {
        uint32_t i = (k->head + j) % k->cap;
        if (!(k->ev[i].mask & bit))
            continue;
        fw_dec d = k->val[(size_t)i * t->naggs + a];
        if (g->fn == FW_LANG_COUNT_DISTINCT) {
            uint64_t h = (uint64_t)d | 1;
            size_t s = (size_t)h & mask;
            while (st->scratch[s] && st->scratch[s] != h)
                s = (s + 1) & mask;
            if (!st->scratch[s]) {
                st->scratch[s] = h;
                cnt++;
            }
            continue;
        }
        if (!cnt || (g->fn == FW_LANG_MIN ? d < ext : d > ext))
            ext = d;
        cnt++;
        sum += d;
        sumsq += (i128)d * d;
    }
    fw_dec d;
    switch (g->fn) {
    case FW_LANG_COUNT:
    case FW_LANG_COUNT_DISTINCT:
        return fw_dec_of_int(cnt, &d) ? num(d) : missing;
    case FW_LANG_SUM:
        return of_i128(sum);
    case FW_LANG_MIN:
    case FW_LANG_MAX:
        return cnt ? num(ext) : missing;
    case FW_LANG_AVG: {
        if (!cnt)
            return missing;
        i128 q = sum / cnt, rem = sum % cnt, twice = (rem < 0 ? -rem : rem) * 2;
        if (twice > cnt || (twice == cnt && (q & 1)))
            q += sum < 0 ? -1 : 1;
        return of_i128(q);
    }
    case FW_LANG_STDDEV: {
        if (!cnt)
            return missing;
        i128 num2 = (i128)cnt * sumsq - sum * sum;
        return num((fw_dec)llround(sqrt((double)(num2 < 0 ? 0 : num2)) / (double)cnt));
    }
    }
    return missing;
}

/* Adds (@p d 1) or removes (-1) event @p j's `each` bands to @p cnt. */
static inline void score_count(const lkey *k, uint32_t j, int64_t *cnt, int d) {
    for (uint32_t m = k->ev[(k->head + j) % k->cap].mask & 0xffffu; m; m &= m - 1)
        cnt[__builtin_ctz(m)] += d;
}

/* The score of the window holding events [lo, hi), whose `each` bands matched
 * @p cnt times, into *score; with @p full, the alert's values too (score,
 * each band's points, the aggregates). The `if` bands are evaluated only when
 * they can decide (@p full: always). */
static void score_window(fw_lang_state *st, const fw_lang_rule *r, const ltab *t, const lkey *k,
                         fw_expr_ctx *ctx, const lsc_pts *sp, uint32_t lo, uint32_t hi,
                         const int64_t *cnt, fw_dec alert_at, bool full, i128 *score) {
    i128 sc = 0, each[FW_LANG_MAX_BANDS];
    for (size_t b = 0; b < r->nbands; b++)
        if (r->bands[b].each)
            sc += (each[b] = (i128)sp->points[b] * cnt[b]);
    bool need = full || sp->if_neg || (sc < alert_at && sc + sp->if_max >= alert_at);
    if (need && r->naggs) {
        for (size_t a = 0; a < r->naggs; a++)
            st->slots[a] = score_agg(st, t, k, a, lo, hi);
        ctx->slots = st->slots;
        ctx->nslots = r->naggs;
    }
    for (size_t b = 0; b < r->nbands; b++) {
        if (r->bands[b].each)
            continue;
        each[b] = need && fw_expr_test(r->bands[b].pred, ctx) ? sp->points[b] : 0;
        sc += each[b];
    }
    *score = sc;
    if (!full)
        return;
    st->values[0] = (fw_lang_value){ .name = "score", .value = of_i128(sc) };
    for (size_t b = 0; b < r->nbands; b++)
        st->values[1 + b] = (fw_lang_value){ .name = r->bands[b].name, .value = of_i128(each[b]) };
    for (size_t a = 0; a < r->naggs; a++)
        st->values[1 + r->nbands + a] = (fw_lang_value){ .name = r->aggs[a].name,
                                                         .value = st->slots[a] };
}

/* The bands' points (into *sp) and alert_at (*at) for this transaction. */
static void score_points(const fw_lang_rule *r, const fw_expr_ctx *ctx, lsc_pts *sp,
                         fw_xval *at) {
    *sp = (lsc_pts){ .if_max = 0 };
    for (size_t b = 0; b < r->nbands; b++) {
        fw_xval p = fw_expr_eval(r->bands[b].points, ctx);
        fw_dec d = sp->points[b] = p.type == FW_XT_NUM ? p.u.num : 0;
        if (r->bands[b].each) {
            sp->each_neg = sp->each_neg || d < 0;
        } else {
            sp->if_neg = sp->if_neg || d < 0;
            sp->if_max += d > 0 ? d : 0;
        }
    }
    *at = fw_expr_eval(r->alert_at, ctx);
}

static bool reads_nothing(const fw_expr *e) {
    fw_expr_uses u;
    fw_expr_uses_get(e, &u);
    return !u.fields && !u.prev_fields && !u.profile && !u.nextra && !u.nslots && !u.nlists &&
           !u.nis_new;
}

/* The points and alert_at of rule @p ri for this transaction. Usually they
 * are constants or $params: then they are worked out once and kept in the
 * state (st->rs does not change under it), not evaluated per transaction. */
static const lsc_pts *score_consts(fw_lang_state *st, size_t ri, const fw_expr_ctx *ctx,
                                   lsc_pts *buf, fw_xval *at) {
    const fw_lang_rule *r = &st->rs->rules[ri];
    lsc_consts *c = &st->sc_consts[ri % SCORE_CACHE];
    if (c->ri1 == ri + 1 && c->konst) { /* the usual case first */
        *at = c->at;
        return &c->sp;
    }
    if (c->ri1 != ri + 1) {
        c->ri1 = ri + 1;
        c->konst = reads_nothing(r->alert_at);
        for (size_t b = 0; b < r->nbands && c->konst; b++)
            c->konst = reads_nothing(r->bands[b].points);
        if (c->konst)
            score_points(r, ctx, &c->sp, &c->at);
    }
    if (c->konst) {
        *at = c->at;
        return &c->sp;
    }
    score_points(r, ctx, buf, at);
    return buf;
}

/* One transaction of a score rule's key (docs/rule-language.md#score-rules):
 * forget a key quiet past its memory; judge the transaction's `each` bands
 * against the average of the key's earlier ones (avg_before); keep it, in
 * time order, for window + allowed lateness; then score every aligned window
 * holding it, earliest first, and alert on the first reaching alert_at (once
 * per episode when `episodes`). Allocates only for a new key or a ring or
 * scratch set reaching a size not reached before. */
void lang_score_eval(fw_lang_state *st, size_t ri, fw_expr_ctx *ctx, fw_lang_alert_fn fn,
                     void *opaque) {
    const fw_lang_rule *r = &st->rs->rules[ri];
    size_t gi = st->group_of[ri], len = 0;
    ltab *t = &st->tab[gi];
    const fw_txn *txn = ctx->txn;
    int64_t ts = txn->ts_ms;
    uint64_t h;
    if (!lang_rule_key(st, r, ctx, &len, &h))
        return;
    lkey *k = key_find(st, gi, st->keybuf, len, h);
    if (k && k->sc_seen != INT64_MIN && ts - k->sc_seen > r->memory_ms + st->rs->dedupe_window_ms) {
        score_reset(st, t, k);
        mark(st, k);
    }
    if (r->where && !fw_expr_test_inline(r->where, ctx)) {
        if (k && ts > k->sc_seen) { /* seen all the same: it keeps the memory alive */
            k->sc_seen = ts;
            mark(st, k);
        }
        return;
    }
    if (!k && !(k = lang_key_add(st, gi, st->keybuf, len, h)))
        return;
    mark(st, k);
    if (ts > k->sc_seen)
        k->sc_seen = ts;
    /* The `each` bands, with avg_before: the key's earlier transactions only. */
    fw_xval avg = missing;
    if (r->avg && k->avg_n) {
        if (k->avg_sum >= INT64_MIN && k->avg_sum <= INT64_MAX && k->avg_n < INT64_MAX / 4) {
            /* usual sums: all in 64 bits */
            int64_t sum = (int64_t)k->avg_sum, n = k->avg_n;
            int64_t q = sum / n, rem = sum % n, twice = (rem < 0 ? -rem : rem) * 2;
            if (twice > n || (twice == n && (q & 1)))
                q += sum < 0 ? -1 : 1;
            avg = of_i128(q);
        } else {
            i128 q = k->avg_sum / k->avg_n, rem = k->avg_sum % k->avg_n;
            i128 twice = (rem < 0 ? -rem : rem) * 2;
            if (twice > k->avg_n || (twice == k->avg_n && (q & 1)))
                q += k->avg_sum < 0 ? -1 : 1;
            avg = of_i128(q);
        }
    }
    ctx->slots = &avg;
    ctx->nslots = 1;
    uint32_t mask = 0;
    for (size_t b = 0; b < r->nbands; b++) {
        const fw_lang_band *bd = &r->bands[b];
        if (bd->signal >= 0 ? st->alerted[bd->signal] == st->record
                            : bd->each && fw_expr_test(bd->pred, ctx))
            mask |= 1u << b;
    }
    ctx->slots = NULL;
    ctx->nslots = 0;
    fw_dec vals[FW_LANG_MAX_AGGS];
    for (size_t a = 0; a < r->naggs; a++)
        if (lang_agg_value(&r->aggs[a], ctx, &vals[a]))
            mask |= 1u << (16 + a);
    if (r->avg) {
        fw_xval v = fw_expr_eval_inline(r->avg, ctx);
        if (v.type == FW_XT_NUM) {
            k->avg_sum += v.u.num;
            k->avg_n++;
        }
    }
    int64_t cut = ts - r->lookback_ms - st->rs->allowed_lateness_ms;
    if (k->n && k->ev[k->head].ts < cut) /* most transactions evict nothing */
        lang_evict_before(st, k, cut, t);
    if (!score_push(st, t, k, ts, lang_txn_amount(txn), txn->transaction_id, mask, vals))
        return;
    lsc_pts buf;
    fw_xval at;
    const lsc_pts *sp = score_consts(st, ri, ctx, &buf, &at);
    if (at.type != FW_XT_NUM)
        return; /* no threshold: nothing can reach it */
    int64_t last_start = pane_of(ts, r->slide_ms) * r->slide_ms;
    int64_t hit = INT64_MIN, first = last_start - r->lookback_ms + r->slide_ms;
    int64_t cnt[FW_LANG_MAX_BANDS];
    /* A bound first: no window holds more of a band than the ring does, so
     * when the ring's events (at points >= 0) and every `if` band together
     * stay below alert_at, none can reach it, and the windows are not visited
     * (nor searched for). Most transactions of most keys end here, in
     * O(bands): the ring's count per band is kept as events come and go. */
    bool can = sp->if_neg || sp->each_neg;
    if (!can) {
        const uint32_t *c = lang_score_cnt(t, k);
        i128 most = sp->if_max;
        for (size_t b = 0; b < r->nbands; b++)
            most += (i128)sp->points[b] * c[b];
        can = most >= at.u.num;
    }
    /* The windows holding it, earliest first: a busy key's counts from its
     * panes (O(bands) per window, the events found by binary search only
     * when a window is scored or alerts); otherwise by two pointers, each
     * event entering and leaving the running counts once. */
    uint32_t lo = 0, hi = 0;
    const lsc_panes *pn = can ? score_panes(st, r, k) : NULL;
    if (can)
        memset(cnt, 0, r->nbands * sizeof(*cnt));
    if (pn) {
        int64_t w = r->lookback_ms / r->slide_ms, p0 = pane_of(first, r->slide_ms);
        for (int64_t q = p0; q < p0 + w; q++)
            pane_count(pn, q, cnt, 1);
        for (int64_t start = first; start <= last_start; start += r->slide_ms, p0++) {
            if (start != first) {
                pane_count(pn, p0 - 1, cnt, -1);
                pane_count(pn, p0 + w - 1, cnt, 1);
            }
            i128 sc = 0;
            for (size_t b = 0; b < r->nbands; b++)
                if (r->bands[b].each)
                    sc += (i128)sp->points[b] * cnt[b];
            bool decide = sp->if_neg || (sc < at.u.num && sc + sp->if_max >= at.u.num);
            if (decide || sc >= at.u.num) {
                lo = score_find(k, start);
                hi = score_find(k, start + r->lookback_ms);
            }
            if (decide)
                score_window(st, r, t, k, ctx, sp, lo, hi, cnt, at.u.num, false, &sc);
            if (sc >= at.u.num) {
                hit = start;
                break;
            }
        }
    } else if (can) {
        hi = lo = score_find(k, first);
    }
    for (int64_t start = first; can && !pn && start <= last_start; start += r->slide_ms) {
        i128 sc;
        while (hi < k->n && k->ev[(k->head + hi) % k->cap].ts < start + r->lookback_ms)
            score_count(k, hi++, cnt, 1);
        while (lo < hi && k->ev[(k->head + lo) % k->cap].ts < start)
            score_count(k, lo++, cnt, -1);
        if (start + r->lookback_ms <= ts)
            continue;
        /* The `each` bands first, here: score_window only when the `if`
         * bands can decide (as it would find itself). */
        sc = 0;
        for (size_t b = 0; b < r->nbands; b++)
            if (r->bands[b].each)
                sc += (i128)sp->points[b] * cnt[b];
        if (sp->if_neg || (sc < at.u.num && sc + sp->if_max >= at.u.num))
            score_window(st, r, t, k, ctx, sp, lo, hi, cnt, at.u.num, false, &sc);
        if (sc >= at.u.num) {
            hit = start;
            break;
        }
    }
    bool was = k->episode;
    if (r->episodes)
        k->episode = hit != INT64_MIN;
    if (hit == INT64_MIN)
        return;
    size_t m = st->member_of[ri];
    if (r->episodes && was) { /* the same episode: counted, not raised again */
        lang_deduplicated(st, ri);
        return;
    }
    if (k->last[m] != INT64_MIN && llabs(ts - k->last[m]) < st->rs->dedupe_window_ms) {
        lang_deduplicated(st, ri);
        return;
    }
    i128 sc;
    score_window(st, r, t, k, ctx, sp, lo, hi, cnt, at.u.num, true, &sc);
    st->sc_start = hit;
    st->sc_rc = &r->common;
    for (size_t i = 0; i < r->nsev; i++)
        if (sc >= r->sev[i].at)
            st->sc_rc = &r->sev[i].common;
    /* Evidence: the window's transactions that scored in an `each` band, then
     * this one when it did not (it completed the score all the same). */
    size_t nev = 0;
    for (uint32_t j = lo; j < hi && nev < FW_LANG_EVIDENCE_MAX; j++) {
        const lev *e = &k->ev[(k->head + j) % k->cap];
        if (e->mask & 0xffffu)
            st->evidence[nev++] = lev_evidence(e);
    }
    if (!(mask & 0xffffu) && nev < FW_LANG_EVIDENCE_MAX)
        st->evidence[nev++] = lang_txn_evidence(txn);
    st->sc_nev = nev;
    ctx->slots = NULL;
    ctx->nslots = 0;
    lang_emit(st, r, k, m, ctx, fn, opaque, NULL, NULL);
}
