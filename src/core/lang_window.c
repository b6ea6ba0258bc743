/* lang_window.c — an aggregate group's ring of events: pushing, evicting,
 * running totals, min/max deques and count_distinct multisets, a column's
 * result; and ranged rules ("window"/"slide", "consume"), whose ring is kept
 * sorted, with prefix totals, and aggregated by range. Apart so the window
 * arithmetic reads in one file; lang_score.c reuses the ring (lang_push,
 * lang_pop_oldest). */
#include "lang_state_int.h"

/* ---- windows ---- */

static fw_dec val_of_seq(const lkey *k, size_t naggs, uint64_t seq, size_t a) {
    uint32_t i = (uint32_t)((k->head + (seq - k->seq_head)) % k->cap);
    return k->val[(size_t)i * naggs + a];
}

/* ---- a ranged group's prefix totals ----
 * Per event (ring slot i) and subtractable column a, the count, sum and sum
 * of squares of the events before it in the ring, in pw[a]'s words of
 * k->pre; run[a] holds them over the whole ring (the prefix of slot n). The
 * totals of events [lo, hi) are prefix(hi) - prefix(lo). Appending costs
 * one store, evicting the oldest nothing (differences do not change), a
 * late insert or a cut adjusts the events it moves anyway. Sums wrap in
 * u128: the differences stay exact. Derived from the events, so restoring
 * (lang_push in order) rebuilds them and the changelog holds none. */

static i128 add128(i128 a, i128 b) { return (i128)((u128)a + (u128)b); }

/* Column @p a's prefix stored in ring slot @p slot. */
static lrun pre_load(const ltab *t, const lkey *k, uint32_t slot, size_t a) {
    lrun u = { 0 };
    const uint64_t *w = k->pre + (size_t)slot * t->npw + t->pw[a];
    fw_lang_fn fn = t->agg[a]->fn;
    if (fn != FW_LANG_SUM)
        memcpy(&u.cnt, w++, sizeof(u.cnt));
    if (fn != FW_LANG_COUNT) {
        memcpy(&u.sum, w, sizeof(u.sum));
        w += 2;
    }
    if (fn == FW_LANG_STDDEV)
        memcpy(&u.sumsq, w, sizeof(u.sumsq));
    return u;
}

/* Column @p a's prefix at position @p j of the ring (j == n: the whole ring). */
static lrun pre_get(const ltab *t, const lkey *k, uint32_t j, size_t a) {
    return j == k->n ? k->run[a] : pre_load(t, k, (k->head + j) % k->cap, a);
}

static void pre_put(const ltab *t, lkey *k, uint32_t slot, size_t a, const lrun *u) {
    uint64_t *w = k->pre + (size_t)slot * t->npw + t->pw[a];
    fw_lang_fn fn = t->agg[a]->fn;
    if (fn != FW_LANG_SUM)
        memcpy(w++, &u->cnt, sizeof(u->cnt));
    if (fn != FW_LANG_COUNT) {
        memcpy(w, &u->sum, sizeof(u->sum));
        w += 2;
    }
    if (fn == FW_LANG_STDDEV)
        memcpy(w, &u->sumsq, sizeof(u->sumsq));
}

/* @p u += @p sign x (the value of the event in ring slot @p i, column @p a). */
static void pre_add_event(const ltab *t, const lkey *k, uint32_t i, size_t a, lrun *u,
                          int sign) {
    if (!(k->ev[i].mask & (1u << a)))
        return;
    fw_dec d = k->val[(size_t)i * t->naggs + a];
    u->cnt += sign;
    u->sum = add128(u->sum, sign * (i128)d);
    u->sumsq = add128(u->sumsq, (i128)((u128)(sign * (i128)d) * (u128)(i128)d));
}

/* @p u -= @p v, wrapping. */
static void pre_sub(lrun *u, const lrun *v) {
    u->cnt -= v->cnt;
    u->sum = (i128)((u128)u->sum - (u128)v->sum);
    u->sumsq = (i128)((u128)u->sumsq - (u128)v->sumsq);
}

/* The multiset of count_distinct aggregate slot @p c: linear probing, deletion
 * by backward shift, so no tombstones pile up. */
static void set_add(lkey *k, lrun *u, size_t c, uint64_t h) {
    lslot *t = k->set + (size_t)c * k->setcap;
    uint32_t mask = k->setcap - 1, i;
    h |= 1; /* never 0 (empty) */
    i = (uint32_t)h & mask;
    while (t[i].h && t[i].h != h)
        i = (i + 1) & mask;
    if (!t[i].h) {
        t[i].h = h;
        u->ndistinct++;
    }
    t[i].cnt++;
}

static void set_remove(lkey *k, lrun *u, size_t c, uint64_t h) {
    lslot *t = k->set + (size_t)c * k->setcap;
    uint32_t mask = k->setcap - 1, i;
    h |= 1;
    i = (uint32_t)h & mask;
    while (t[i].h && t[i].h != h)
        i = (i + 1) & mask;
    if (!t[i].h || --t[i].cnt)
        return;
    u->ndistinct--;
    lang_oa_delete(t, sizeof(*t), mask, i);
}

void lang_pop_oldest(fw_lang_state *st, lkey *k, const ltab *t) {
    uint32_t i = k->head;
    if (t->score)
        lang_score_tally(t, k, k->ev[i].ts, k->ev[i].mask, (uint32_t)-1);
    for (size_t a = 0; a < t->naggs && !t->score && !t->ranged; a++) {
        if (!(k->ev[i].mask & (1u << a)))
            continue;
        fw_dec d = k->val[(size_t)i * t->naggs + a];
        lrun *u = &k->run[a];
        u->cnt--;
        switch (t->agg[a]->fn) {
        case FW_LANG_MIN:
        case FW_LANG_MAX: {
            uint64_t *q = k->dq + (size_t)t->slot[a] * k->cap;
            if (u->dq_n && q[u->dq_head] == k->seq_head) {
                u->dq_head = (u->dq_head + 1) % k->cap;
                u->dq_n--;
            }
            break;
        }
        case FW_LANG_COUNT_DISTINCT:
            set_remove(k, u, (size_t)t->slot[a], (uint64_t)d);
            break;
        default:
            u->sum -= d;
            u->sumsq -= (i128)d * d;
        }
    }
    k->head = (k->head + 1) % k->cap;
    k->seq_head++;
    k->n--;
    st->stats.events--;
}

void lang_evict_before(fw_lang_state *st, lkey *k, int64_t start, const ltab *t) {
    if (!k->n || k->ev[k->head].ts >= start)
        return; /* the usual case: nothing to evict */
    if (t->score || t->ranged) { /* no running totals to take the events out of
                                    (a ranged ring's prefix differences stay as they are) */
        uint32_t n = 0, head = k->head;
        while (n < k->n && k->ev[head].ts < start) {
            if (t->score)
                lang_score_tally(t, k, k->ev[head].ts, k->ev[head].mask, (uint32_t)-1);
            head = head + 1 == k->cap ? 0 : head + 1;
            n++;
        }
        k->head = head;
        k->seq_head += n;
        k->n -= n;
        st->stats.events -= n;
        if (!k->n && t->ranged) /* empty: the prefix totals start again from 0 */
            memset(k->run, 0, t->naggs * sizeof(*k->run));
        return;
    }
    while (k->n && k->ev[k->head].ts < start)
        lang_pop_oldest(st, k, t);
}

/* Doubles the ring (up to max), from one event: in a bank's population most
 * keys hold one or two, and a ring of 8 was 700 bytes of each key's cost.
 * Re-lays out what hangs on its size: the deques (same sequence numbers,
 * linearized) and the multisets (rebuilt). */
static bool ring_grow(lkey *k, const ltab *t, uint32_t max) {
    size_t naggs = t->naggs;
    uint32_t nc = k->cap ? (k->cap * 2 > max ? max : k->cap * 2) : 1;
    uint32_t nsc = 16;
    while (t->ncd && nsc < 2 * (uint64_t)nc)
        nsc *= 2;
    lev *ev = malloc((size_t)nc * sizeof(*ev));
    fw_dec *val = malloc((size_t)nc * (naggs ? naggs : 1) * sizeof(*val));
    uint64_t *dq = t->nmm ? malloc((size_t)nc * t->nmm * sizeof(*dq)) : NULL;
    lslot *set = t->ncd ? calloc((size_t)nsc * t->ncd, sizeof(*set)) : NULL;
    uint64_t *pre = t->npw ? malloc((size_t)nc * t->npw * sizeof(*pre)) : NULL;
    if (!ev || !val || (t->nmm && !dq) || (t->ncd && !set) || (t->npw && !pre)) {
        free(ev);
        free(val);
        free(dq);
        free(set);
        free(pre);
        return false;
    }
    for (uint32_t j = 0; j < k->n; j++) {
        uint32_t i = (k->head + j) % k->cap;
        ev[j] = k->ev[i];
        memcpy(val + (size_t)j * naggs, k->val + (size_t)i * naggs, naggs * sizeof(*val));
        if (t->npw)
            memcpy(pre + (size_t)j * t->npw, k->pre + (size_t)i * t->npw,
                   t->npw * sizeof(*pre));
    }
    for (size_t a = 0; a < naggs && !t->score; a++) {
        lrun *u = &k->run[a];
        if ((t->agg[a]->fn == FW_LANG_MIN || t->agg[a]->fn == FW_LANG_MAX) && t->slot[a] >= 0) {
            uint64_t *from = k->dq + (size_t)t->slot[a] * k->cap, *to = dq + (size_t)t->slot[a] * nc;
            for (uint32_t j = 0; j < u->dq_n; j++)
                to[j] = from[(u->dq_head + j) % k->cap];
            u->dq_head = 0;
        }
    }
    free(k->ev);
    free(k->val);
    free(k->dq);
    free(k->set);
    free(k->pre);
    k->pre = pre;
    k->ev = ev;
    k->val = val;
    k->dq = dq;
    k->set = set;
    k->head = 0;
    k->cap = nc;
    k->setcap = nsc;
    for (size_t a = 0; a < naggs && !t->score; a++) {
        if (t->agg[a]->fn != FW_LANG_COUNT_DISTINCT || t->slot[a] < 0)
            continue; /* a ranged group has no multisets */
        k->run[a].ndistinct = 0;
        for (uint32_t j = 0; j < k->n; j++)
            if (ev[j].mask & (1u << a))
                set_add(k, &k->run[a], (size_t)t->slot[a], (uint64_t)val[(size_t)j * naggs + a]);
    }
    return true;
}

/* Whether kept event @p e sorts after (ts, id): the built-ins' order, time
 * then transaction id. */
static bool ev_after(const lev *e, int64_t ts, fw_str id) {
    if (e->ts != ts)
        return e->ts > ts;
    size_t il = id.len < FW_LANG_TXN_ID_MAX ? id.len : FW_LANG_TXN_ID_MAX;
    size_t n = e->idlen < il ? e->idlen : il;
    int c = n ? memcmp(e->id, id.ptr, n) : 0;
    return c ? c > 0 : e->idlen > il;
}

/* Appends one event (a ranged group: in order); at max_window_events the
 * oldest makes room (counted). */
bool lang_push(fw_lang_state *st, const ltab *t, lkey *k, int64_t ts, fw_dec amount,
                 fw_str id, uint32_t mask, const fw_dec *vals) {
    uint32_t max = st->rs->max_window_events ? st->rs->max_window_events : 1;
    if (k->n == max) {
        lang_pop_oldest(st, k, t);
        k->overflow++;
        st->stats.overflow++;
    }
    if (k->n == k->cap && !ring_grow(k, t, max))
        return false;
    uint32_t i = (k->head + k->n) % k->cap;
    if (t->ranged) { /* in (time, id) order: a late event moves the newer ones up */
        uint32_t j = k->n;
        while (j > 0 && ev_after(&k->ev[(k->head + j - 1) % k->cap], ts, id)) {
            uint32_t from = (k->head + j - 1) % k->cap, to = (k->head + j) % k->cap;
            k->ev[to] = k->ev[from];
            memcpy(k->val + (size_t)to * t->naggs, k->val + (size_t)from * t->naggs,
                   t->naggs * sizeof(*k->val));
            if (t->npw)
                memcpy(k->pre + (size_t)to * t->npw, k->pre + (size_t)from * t->npw,
                       t->npw * sizeof(*k->pre));
            j--;
        }
        i = (k->head + j) % k->cap;
        lev_set(&k->ev[i], ts, amount, mask, id);
        for (size_t a = 0; a < t->naggs; a++)
            k->val[(size_t)i * t->naggs + a] = vals[a];
        /* Its prefix is what the moved event's was (or the ring's); the moved
         * events' and the ring's now count it too. */
        for (size_t a = 0; a < t->naggs; a++) {
            if (t->pw[a] < 0)
                continue;
            lrun u = j == k->n ? k->run[a] : pre_load(t, k, (k->head + j + 1) % k->cap, a);
            pre_put(t, k, i, a, &u);
            for (uint32_t m = j + 1; m <= k->n; m++) { /* the moved ones, now at j+1 .. n */
                uint32_t sm = (k->head + m) % k->cap;
                lrun v = pre_load(t, k, sm, a);
                pre_add_event(t, k, i, a, &v, 1);
                pre_put(t, k, sm, a, &v);
            }
            pre_add_event(t, k, i, a, &k->run[a], 1);
        }
        k->n++;
        st->stats.events++;
        return true;
    }
    uint64_t seq = k->seq_head + k->n;
    lev_set(&k->ev[i], ts, amount, mask, id);
    if (t->score) { /* no running totals: the values only */
        for (size_t a = 0; a < t->naggs; a++)
            k->val[(size_t)i * t->naggs + a] = vals[a];
        lang_score_tally(t, k, ts, mask, 1);
        k->n++;
        st->stats.events++;
        return true;
    }
    for (size_t a = 0; a < t->naggs; a++) {
        fw_dec d = vals[a];
        k->val[(size_t)i * t->naggs + a] = d;
        if (!(mask & (1u << a)))
            continue;
        lrun *u = &k->run[a];
        u->cnt++;
        switch (t->agg[a]->fn) {
        case FW_LANG_MIN:
        case FW_LANG_MAX: {
            /* Drop from the back what this value outlives and beats. */
            uint64_t *q = k->dq + (size_t)t->slot[a] * k->cap;
            bool is_min = t->agg[a]->fn == FW_LANG_MIN;
            while (u->dq_n) {
                fw_dec back = val_of_seq(k, t->naggs, q[(u->dq_head + u->dq_n - 1) % k->cap], a);
                if (is_min ? back < d : back > d)
                    break;
                u->dq_n--;
            }
            q[(u->dq_head + u->dq_n) % k->cap] = seq;
            u->dq_n++;
            break;
        }
        case FW_LANG_COUNT_DISTINCT:
            set_add(k, u, (size_t)t->slot[a], (uint64_t)d);
            break;
        default:
            u->sum += d;
            u->sumsq += (i128)d * d;
        }
    }
    k->n++;
    st->stats.events++;
    return true;
}

/* count, sum, avg, stddev from running totals @p u; min, max, count_distinct
 * need more than totals (lang_result(), range_result()). */
static fw_xval run_result(fw_lang_fn fn, const lrun *u) {
    fw_dec d;
    switch (fn) {
    case FW_LANG_COUNT:
        return fw_dec_of_int(u->cnt, &d) ? num(d) : missing;
    case FW_LANG_SUM:
        return of_i128(u->sum);
    case FW_LANG_AVG: {
        if (!u->cnt)
            return missing;
        /* Half-even to four places, as fw_dec_div. */
        i128 q = u->sum / u->cnt, rem = u->sum % u->cnt;
        i128 twice = (rem < 0 ? -rem : rem) * 2;
        if (twice > u->cnt || (twice == u->cnt && (q & 1)))
            q += u->sum < 0 ? -1 : 1;
        return of_i128(q);
    }
    case FW_LANG_STDDEV: {
        if (!u->cnt)
            return missing;
        /* Population standard deviation: sqrt(n*sumsq - sum^2) / n, in units. */
        i128 num2 = (i128)u->cnt * u->sumsq - u->sum * u->sum;
        double sd = sqrt((double)(num2 < 0 ? 0 : num2)) / (double)u->cnt;
        return num((fw_dec)llround(sd));
    }
    default:
        return missing;
    }
}

fw_xval lang_result(const ltab *t, const lkey *k, size_t a) {
    const lrun *u = &k->run[a];
    fw_dec d;
    switch (t->agg[a]->fn) {
    case FW_LANG_COUNT_DISTINCT:
        return fw_dec_of_int((int64_t)u->ndistinct, &d) ? num(d) : missing;
    case FW_LANG_MIN:
    case FW_LANG_MAX: {
        /* The deque's front is the window's extreme. */
        if (!u->dq_n)
            return missing;
        return num(val_of_seq(k, t->naggs, k->dq[(size_t)t->slot[a] * k->cap + u->dq_head], a));
    }
    default:
        return run_result(t->agg[a]->fn, u);
    }
}
/* ---- ranged rules: aligned windows, consume ---- */

static const lev *ev_at(const lkey *k, uint32_t j) { return &k->ev[(k->head + j) % k->cap]; }

/* The first event at or after @p ts (@p after: after it), by binary search. */
static uint32_t ev_find(const lkey *k, int64_t ts, bool after) {
    uint32_t lo = 0, hi = k->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int64_t e = ev_at(k, mid)->ts;
        if (after ? e <= ts : e < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The totals of events [lo, hi) in the subtractable columns [from, to) of
 * @p acc (count, sum, avg, stddev): two prefixes' difference. */
static void range_totals(const ltab *t, const lkey *k, uint32_t lo, uint32_t hi, lrun *acc,
                         size_t from, size_t to) {
    for (size_t a = from; a < to; a++) {
        if (t->pw[a] < 0)
            continue;
        acc[a] = pre_get(t, k, hi, a);
        lrun l = pre_get(t, k, lo, a);
        pre_sub(&acc[a], &l);
    }
}

/* Column @p a over events [lo, hi): the running @p u for the subtractable
 * functions, a scan for min, max and count_distinct. */
static fw_xval range_result(fw_lang_state *st, const ltab *t, const lkey *k, uint32_t lo,
                            uint32_t hi, size_t a, const lrun *u) {
    fw_lang_fn fn = t->agg[a]->fn;
    if (fn != FW_LANG_MIN && fn != FW_LANG_MAX && fn != FW_LANG_COUNT_DISTINCT)
        return run_result(fn, u);
    bool any = false;
    fw_dec best = 0;
    uint64_t distinct = 0;
    if (fn == FW_LANG_COUNT_DISTINCT && ++st->cd_gen == 0) { /* wrapped: start clean */
        memset(st->cd, 0, ((size_t)st->cd_mask + 1) * sizeof(*st->cd));
        st->cd_gen = 1;
    }
    for (uint32_t j = lo; j < hi; j++) {
        uint32_t i = (k->head + j) % k->cap;
        if (!(k->ev[i].mask & (1u << a)))
            continue;
        fw_dec d = k->val[(size_t)i * t->naggs + a];
        if (fn == FW_LANG_COUNT_DISTINCT) {
            uint64_t h = (uint64_t)d | 1;
            uint32_t p = (uint32_t)h & st->cd_mask;
            while (st->cd[p].gen == st->cd_gen && st->cd[p].h != h)
                p = (p + 1) & st->cd_mask;
            if (st->cd[p].gen != st->cd_gen) {
                st->cd[p] = (lcd){ h, st->cd_gen };
                distinct++;
            }
        } else if (!any || (fn == FW_LANG_MIN ? d < best : d > best)) {
            best = d;
            any = true;
        }
    }
    fw_dec v;
    if (fn == FW_LANG_COUNT_DISTINCT)
        return fw_dec_of_int((int64_t)distinct, &v) ? num(v) : missing;
    return any ? num(best) : missing;
}

/* The rule's having over events [lo, hi) with totals @p acc. */
static bool range_having(fw_lang_state *st, const ltab *t, const lkey *k, size_t ri,
                         const lrange *rg, const lrun *acc, fw_expr_ctx *ctx) {
    const fw_lang_rule *r = &st->rs->rules[ri];
    size_t base = t->base[st->member_of[ri]];
    for (size_t a = 0; a < r->naggs; a++)
        st->slots[a] = range_result(st, t, k, rg->lo, rg->hi, base + a, &acc[base + a]);
    ctx->slots = st->slots;
    ctx->nslots = r->naggs;
    return fw_expr_test(r->having, ctx);
}

/* Drops events [lo, hi) of @p k: what a consuming rule reported. */
static void cut(fw_lang_state *st, lkey *k, const ltab *t, uint32_t lo, uint32_t hi) {
    uint32_t gone = hi - lo;
    lrun out[GROUP_MAX_AGGS]; /* the cut events' totals: the later events' prefixes lose them */
    range_totals(t, k, lo, hi, out, 0, t->naggs);
    for (uint32_t j = hi; j < k->n; j++) {
        uint32_t from = (k->head + j) % k->cap, to = (k->head + j - gone) % k->cap;
        k->ev[to] = k->ev[from];
        memcpy(k->val + (size_t)to * t->naggs, k->val + (size_t)from * t->naggs,
               t->naggs * sizeof(*k->val));
        for (size_t a = 0; a < t->naggs; a++) {
            if (t->pw[a] < 0)
                continue;
            lrun u = pre_load(t, k, from, a);
            pre_sub(&u, &out[a]);
            pre_put(t, k, to, a, &u);
        }
    }
    for (size_t a = 0; a < t->naggs; a++)
        if (t->pw[a] >= 0)
            pre_sub(&k->run[a], &out[a]);
    k->n -= gone;
    st->stats.events -= gone;
    if (!k->n)
        memset(k->run, 0, t->naggs * sizeof(*k->run));
}

/* A ranged rule on the transaction just counted in key @p k
 * (docs/rule-language.md#windows-and-consume): with "window", the aligned
 * windows holding t, earliest first, until one satisfies having; with a
 * lookback, [t - lookback, t]. The range that alerts is the alert's window
 * and evidence; a consuming rule then drops its events, deduplicated or not. */
void lang_ranged_eval(fw_lang_state *st, size_t ri, lkey *k, fw_expr_ctx *ctx,
                      fw_lang_alert_fn fn, void *opaque) {
    const fw_lang_rule *r = &st->rs->rules[ri];
    const ltab *t = &st->tab[st->group_of[ri]];
    size_t base = t->base[st->member_of[ri]];
    int64_t ts = ctx->txn->ts_ms;
    lrun acc[GROUP_MAX_AGGS];
    lrange rg;
    bool hit = false;
    memset(acc + base, 0, r->naggs * sizeof(*acc));
    if (r->window_ms) {
        int64_t s = r->slide_ms, last = ts / s * s - (ts % s < 0 ? s : 0);
        int64_t first = last - r->window_ms + s;
        uint32_t plo = UINT32_MAX, phi = UINT32_MAX;
        /* Each window's ends by binary search, its totals from the prefixes:
         * O(log n) per window, however busy the key. A window holding the
         * same events as the one before (which did not satisfy having) has
         * the same columns and the same answer. */
        for (int64_t start = first; start <= last && !hit; start += s) {
            int64_t end = start + r->window_ms;
            uint32_t lo = ev_find(k, start, false), hi = ev_find(k, end, false);
            if (lo == plo && hi == phi)
                continue;
            plo = lo, phi = hi;
            range_totals(t, k, lo, hi, acc, base, base + r->naggs);
            rg = (lrange){ start, end, lo, hi };
            hit = range_having(st, t, k, ri, &rg, acc, ctx);
        }
    } else {
        rg = (lrange){ ts - r->lookback_ms, ts, ev_find(k, ts - r->lookback_ms, false),
                       ev_find(k, ts, true) };
        range_totals(t, k, rg.lo, rg.hi, acc, base, base + r->naggs);
        hit = range_having(st, t, k, ri, &rg, acc, ctx);
    }
    if (!hit)
        return;
    lang_emit(st, r, k, st->member_of[ri], ctx, fn, opaque, NULL, &rg);
    if (r->consume && !st->replay) { /* no alert, so nothing consumed */
        cut(st, k, t, rg.lo, rg.hi);
        mark(st, k);
    }
}

/* Checks every ranged key's prefix totals against a scan of its events
 * (tests: the maintenance on push, late insert, eviction, cut, growth and
 * restore). Returns false with the first difference in @p errstr. */
bool lang_ranged_check(const fw_lang_state *st, char *errstr, size_t errstr_size) {
    for (size_t g = 0; g < st->ntab; g++) {
        const ltab *t = &st->tab[g];
        if (!t->ranged)
            continue;
        for (size_t b = 0; b < t->nbucket; b++)
            for (const lkey *k = t->bucket[b]; k; k = k->next)
                for (size_t a = 0; a < t->naggs; a++) {
                    if (t->pw[a] < 0)
                        continue;
                    lrun scan = { 0 };
                    for (uint32_t j = 0; j <= k->n; j++) {
                        lrun d = pre_get(t, k, j, a), base = pre_get(t, k, 0, a);
                        pre_sub(&d, &base);
                        fw_lang_fn fn = t->agg[a]->fn;
                        bool ok = (fn == FW_LANG_SUM || d.cnt == scan.cnt) &&
                                  (fn == FW_LANG_COUNT || d.sum == scan.sum) &&
                                  (fn != FW_LANG_STDDEV || d.sumsq == scan.sumsq);
                        if (!ok) {
                            snprintf(errstr, errstr_size,
                                     "key %.*s column %zu: events [0, %u) of %u: prefix count "
                                     "%" PRId64 " sum %.0f, a scan: count %" PRId64 " sum %.0f",
                                     (int)k->keylen, k->key, a, j, k->n, d.cnt, (double)d.sum,
                                     scan.cnt, (double)scan.sum);
                            return false;
                        }
                        if (j < k->n)
                            pre_add_event(t, k, (k->head + j) % k->cap, a, &scan, 1);
                    }
                }
    }
    return true;
}
