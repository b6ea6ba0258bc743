/* lang_seq.c — sequence rules: each key's partial matches (lpm), oldest
 * first, advanced step by step by each transaction, expired past "within",
 * bounded by FW_LANG_SEQ_MAX_PARTIALS (docs/rule-language.md#sequence-rules). */
#include "lang_state_int.h"

/* ---- sequences ---- */

uint32_t lang_seq_bound(const fw_lang_state *st) {
    uint32_t b = st->rs->max_window_events;
    return b && b < FW_LANG_SEQ_MAX_PARTIALS ? b : FW_LANG_SEQ_MAX_PARTIALS;
}

/* Drops the partial matches that can no longer end before start + within:
 * those with start <= now - within. @returns how many. */
uint32_t lang_seq_expire(lkey *k, int64_t now, int64_t within) {
    uint32_t j = 0;
    while (j < k->npm && now - k->pm[j].start >= within)
        j++;
    if (j) {
        memmove(k->pm, k->pm + j, (k->npm - j) * sizeof(*k->pm));
        k->npm -= j;
    }
    return j;
}

static void pm_note(lpm *p, const fw_txn *t) {
    if (p->nmatched < FW_LANG_SEQ_EVIDENCE) {
        fw_str id = t->transaction_id;
        size_t n = id.len < FW_LANG_TXN_ID_MAX ? id.len : FW_LANG_TXN_ID_MAX;
        lang_copy_short(p->id[p->nmatched], id.ptr, n);
        p->idlen[p->nmatched] = (uint8_t)n;
        p->ts[p->nmatched] = t->ts_ms;
        p->amount[p->nmatched] = lang_txn_amount(t);
    }
    p->nmatched++;
}

/* A partial match started by @p t, its first step matched once. Only the
 * ids it matched are set: nothing reads (or writes out) the others. */
static void pm_start(lpm *p, const fw_txn *t) {
    p->start = t->ts_ms;
    p->step = 0;
    p->cnt = 1;
    p->nmatched = 0;
    pm_note(p, t);
}

bool lang_pm_complete(const fw_lang_rule *r, const lpm *p) {
    return p->step + 1u == r->nsteps && p->cnt == r->steps[p->step].times;
}

/* A step's or where's test: is_new's set-up only for a rule with history
 * (without, no expression of it calls is_new). */
static inline bool seq_test(fw_lang_state *st, bool hist, const fw_expr *e,
                            const fw_expr_ctx *ctx) {
    return hist ? lang_xtest(st, e, ctx) : fw_expr_test_inline(e, ctx);
}

/* One transaction of a sequence rule's key (docs/rule-language.md#sequence-rules):
 * expire, advance every partial match oldest first (a strict step or a
 * repetition not matched kills it), start one when the first step matches;
 * the oldest completed match alerts and consumes every partial match of the
 * key (skip past the last event). Allocates only to grow a key's array.
 * The rest of lang_seq_eval (lang_state_int.h), apart so that most records,
 * stopped at its gate, pay for no frame of this size. */
void lang_seq_run(fw_lang_state *st, size_t ri, fw_expr_ctx *ctx, fw_lang_alert_fn fn,
                  void *opaque, bool visible, bool first) {
    const fw_lang_rule *r = &st->rs->rules[ri];
    const fw_txn *t = ctx->txn;
    size_t gi = st->group_of[ri], len = 0;
    bool hist = has_history(r);
    uint64_t h;
    const ltab *tb = &st->tab[gi];
    if (!lang_rule_key(st, r, ctx, &len, &h))
        return;
    lkey *k = key_find(st, gi, st->keybuf, len, h);
    if (hist && !k && !(k = lang_key_add(st, gi, st->keybuf, len, h)))
        return; /* prev and is_new remember every transaction of the key */
    if (k && t->ts_ms > k->used)
        k->used = t->ts_ms;
    if (hist) {
        ctx->prev = lang_prev_view(st, r, &st->tab[gi], k, t);
        st->hist = k;
    }
    /* A transaction failing `where` is invisible: it neither matches nor breaks. */
    if (!tb->live) {
        visible = !r->where || seq_test(st, hist, r->where, ctx);
        first = visible && seq_test(st, hist, r->steps[0].pred, ctx);
    }
    if (!k && !first)
        return; /* nothing to advance, nothing to start: no key made */
    if (!k && !(k = lang_key_add(st, gi, st->keybuf, len, h)))
        return;
    if (t->ts_ms > k->used)
        k->used = t->ts_ms;
    if (first || k->npm || hist) /* else nothing of the key changes: not rewritten */
        mark(st, k);
    int done = -1;
    if (!visible)
        goto out;
    lang_seq_expire(k, t->ts_ms, r->lookback_ms);
    uint32_t keep = 0;
    for (uint32_t j = 0; j < k->npm; j++) {
        lpm *p = &k->pm[j];
        const fw_lang_step *cur = &r->steps[p->step];
        bool matched = false, alive = true;
        if (p->cnt < cur->times) { /* a repetition is strict */
            if ((alive = matched = seq_test(st, hist, cur->pred, ctx)))
                p->cnt++;
        } else if (seq_test(st, hist, r->steps[p->step + 1].pred, ctx)) {
            p->step++;
            p->cnt = 1;
            matched = true;
        } else { /* relaxed: skipped; strict: the very next one did not match */
            alive = r->steps[p->step + 1].contig == FW_LANG_FOLLOWED_BY;
        }
        if (!alive)
            continue;
        if (matched) {
            pm_note(p, t);
            if (lang_pm_complete(r, p)) {
                if (done < 0) {
                    st->done = *p;
                    done = 1;
                }
                if (r->no_skip)
                    continue; /* a match consumes itself only */
            }
        }
        k->pm[keep++] = *p;
    }
    k->npm = keep;
    if ((done < 0 || r->no_skip) && first) {
        if (r->nsteps == 1 && r->steps[0].times == 1) { /* complete at once (lang_pm_complete) */
            if (done < 0) {
                pm_start(&st->done, t);
                done = 1;
            }
        } else {
            uint32_t bound = lang_seq_bound(st);
            if (k->npm == bound) { /* full: the oldest goes, counted */
                memmove(k->pm, k->pm + 1, (k->npm - 1) * sizeof(*k->pm));
                k->npm--;
                k->overflow++;
                st->stats.overflow++;
            }
            if (k->npm == k->pmcap) {
                uint32_t cap = k->pmcap ? (k->pmcap * 2 > bound ? bound : k->pmcap * 2) : 2;
                lpm *np = realloc(k->pm, cap * sizeof(*np));
                if (!np)
                    goto out;
                k->pm = np;
                k->pmcap = cap;
            }
            pm_start(&k->pm[k->npm++], t); /* in place: an lpm is ~350 bytes */
        }
    }
    if (done >= 0) {
        if (!r->no_skip)
            k->npm = 0; /* a match consumes every partial match of its key */
        ctx->slots = NULL;
        ctx->nslots = 0;
        lang_emit(st, r, k, st->member_of[ri], ctx, fn, opaque, &st->done, NULL);
    }
out:
    if (hist)
        lang_hist_update(st, r, k, ctx);
    ctx->prev = NULL;
    st->hist = NULL;
}
