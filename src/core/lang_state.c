/* lang_state.c — language rules' keyed state (lang_state_int.h explains its
 * shape): creating and destroying it, grouping rules into parts and naming
 * them, the key tables (find, add, retire, expire, the background sweep),
 * the per-transaction loop (fw_lang_eval) that counts each group once and
 * then runs every rule in file order, and emitting alerts with their
 * reasons. What is common to every rule kind; each kind's own evaluation is
 * in lang_window.c, lang_history.c, lang_seq.c and lang_score.c. */
#include "lang_state_int.h"

/* Aggregate rules share state by shape; filters, sequences and scores keep
 * their own, and so does a consuming rule (it removes events from its state)
 * and a backfill rule (its part is replayed alone, so its id must not depend
 * on its neighbours). */
static bool same_shape(const fw_lang_rule *a, const fw_lang_rule *b) {
    if (a->kind != FW_LANG_AGGREGATE || b->kind != FW_LANG_AGGREGATE || a->consume ||
        b->consume || a->backfill || b->backfill || a->early != b->early ||
        a->window_ms != b->window_ms || a->slide_ms != b->slide_ms ||
        a->ngroup != b->ngroup || a->lookback_ms != b->lookback_ms ||
        !a->where_src != !b->where_src || (a->where_src && strcmp(a->where_src, b->where_src)))
        return false;
    for (size_t i = 0; i < a->ngroup; i++)
        if (strcmp(a->group_src[i], b->group_src[i]))
            return false;
    return true;
}

static uint64_t hash_str(uint64_t h, const char *s) {
    s = s ? s : "";
    return fw_hash64(s, strlen(s) + 1, h); /* with its NUL: "ab","c" differs from "a","bc" */
}

/* A group's identity in the changelog: a hash of everything its bytes depend
 * on (kind, group_by, lookback, where, each member's id and each column's
 * function, argument and where), not its index, which moves when a rule is
 * added before it. So a restart with the same rules finds its state, and a
 * changed shape finds no state rather than foreign bytes. A changed having or
 * param keeps the id: the state is the same. */
static uint64_t part_id(const fw_lang_rules *rs, const ltab *t) {
    const fw_lang_rule *r = t->lead;
    uint64_t h = fw_hash64(&r->kind, 1, 0x70617274u);
    char lb[32];
    snprintf(lb, sizeof(lb), "%" PRId64, r->lookback_ms);
    h = hash_str(h, lb);
    if (r->window_ms) { /* only when set: a lookback rule's id is what it was before windows */
        snprintf(lb, sizeof(lb), "w%" PRId64 "/%" PRId64, r->window_ms, r->slide_ms);
        h = hash_str(h, lb);
    }
    if (r->consume)
        h = hash_str(h, "consume");
    if (r->early) /* counted on arrival: an ordered group's state lacks what waits in the buffer */
        h = hash_str(h, "early");
    for (size_t g = 0; g < r->ngroup; g++)
        h = hash_str(h, r->group_src[g]);
    h = hash_str(h, r->kind != FW_LANG_FILTER ? r->where_src : NULL);
    if (r->kind == FW_LANG_SCORE) { /* its slides, memory, average and bands shape the bytes */
        char sl[64];
        snprintf(sl, sizeof(sl), "%" PRId64 "/%" PRId64, r->slide_ms, r->memory_ms);
        h = hash_str(hash_str(h, sl), r->avg_src);
        for (size_t i = 0; i < r->nbands; i++)
            h = hash_str(hash_str(h, r->bands[i].signal >= 0 ? "signal"
                                     : r->bands[i].each     ? "each"
                                                            : "if"),
                         r->bands[i].src);
    }
    if (r->prev_fields || r->nseen || r->no_skip) { /* history bytes follow: they are the shape */
        char hist[64];
        snprintf(hist, sizeof(hist), "h%" PRIx64 "/%zu/%d", r->prev_fields, r->nseen, r->no_skip);
        h = hash_str(h, hist);
        for (size_t i = 0; i < r->nseen; i++)
            h = fw_hash64(&r->seen_field[i], sizeof(int), h);
    }
    for (size_t i = 0; i < r->nsteps; i++) { /* a sequence: its steps give the bytes their meaning */
        char how[32];
        snprintf(how, sizeof(how), "%d/%u", (int)r->steps[i].contig, r->steps[i].times);
        h = hash_str(hash_str(h, how), r->steps[i].src);
    }
    for (size_t m = 0; m < t->nmember; m++)
        h = hash_str(h, rs->rules[t->member[m]].id);
    for (size_t a = 0; a < t->naggs; a++) {
        h = hash_str(h, t->agg[a]->of);
        h = hash_str(h, t->agg[a]->where_src);
    }
    return h;
}

fw_lang_state *fw_lang_state_new(const fw_lang_rules *rs) {
    fw_lang_state *st = calloc(1, sizeof(*st));
    size_t n = rs->n ? rs->n : 1;
    if (!st)
        return NULL;
    fw_buf_init(&st->deleted, 0);
    st->rs = rs;
    st->sc_pane_min = SCORE_PANE_MIN;
    for (int f = 0; f < PF_N; f++)
        st->pf_bit[f] = fw_txn_field_index(pf_field[f].name, strlen(pf_field[f].name));
    st->tab = calloc(n, sizeof(*st->tab));
    st->group_of = malloc(n * sizeof(size_t));
    st->member_of = malloc(n * sizeof(size_t));
    st->pool = malloc(2 * n * sizeof(size_t));
    st->alerted = calloc(n, sizeof(uint64_t));
    st->dedupe_to = calloc(n, sizeof(*st->dedupe_to));
    st->key_class = malloc(n * sizeof(size_t));
    for (int ph = 0; ph < 3; ph++) {
        st->phase_rules[ph] = malloc(2 * n * sizeof(size_t));
        st->agg[ph] = malloc((ph == FW_LANG_ALL ? 2 : 1) * n * sizeof(size_t));
    }
    if (!st->tab || !st->group_of || !st->member_of || !st->pool || !st->alerted || !st->dedupe_to ||
        !st->key_class || !st->agg[0] || !st->agg[1] || !st->agg[2] || !st->phase_rules[0] ||
        !st->phase_rules[1] || !st->phase_rules[2]) {
        fw_lang_state_destroy(st);
        return NULL;
    }
    st->agg_bf = st->agg[FW_LANG_ALL] + n;
    for (int ph = 0; ph < 3; ph++)
        st->phase_bf[ph] = st->phase_rules[ph] + n;
    for (size_t i = 0; i < rs->n; i++) {
        const fw_lang_rule *r = &rs->rules[i];
        size_t c = 0;
        for (; c < i; c++) {
            const fw_lang_rule *o = &rs->rules[c];
            bool same = o->ngroup == r->ngroup;
            for (size_t g = 0; g < r->ngroup && same; g++)
                same = !strcmp(o->group_src[g], r->group_src[g]);
            if (same)
                break;
        }
        st->key_class[i] = c < i ? st->key_class[c] : st->nclass++;
    }
    st->kc = calloc(st->nclass ? st->nclass : 1, sizeof(*st->kc));
    st->kc_bytes = malloc((st->nclass ? st->nclass : 1) * (size_t)FW_LANG_MAX_KEY);
    st->kc_nlen = calloc((st->nclass ? st->nclass : 1) * (size_t)FW_LANG_MAX_GROUP,
                         sizeof(*st->kc_nlen));
    st->kc_off = calloc((st->nclass ? st->nclass : 1) * (size_t)FW_LANG_MAX_GROUP,
                        sizeof(*st->kc_off));
    if (!st->kc || !st->kc_bytes || !st->kc_nlen || !st->kc_off) {
        fw_lang_state_destroy(st);
        return NULL;
    }
    /* Each class's field names' lengths, and its first "field=" in place, so
     * a key costs its values only (make_key). A name too long for a key
     * keeps length 0 there: make_key then finds every key missing, as it did. */
    for (size_t i = 0; i < rs->n; i++) {
        const fw_lang_rule *r = &rs->rules[i];
        size_t c = st->key_class[i];
        uint16_t *nl = st->kc_nlen + c * (size_t)FW_LANG_MAX_GROUP;
        uint16_t *off = st->kc_off + c * (size_t)FW_LANG_MAX_GROUP;
        for (size_t g = 0; g < r->ngroup; g++) {
            size_t nl_g = strlen(r->group_src[g]);
            nl[g] = nl_g < FW_LANG_MAX_KEY ? (uint16_t)nl_g : FW_LANG_MAX_KEY;
            /* A text field of the record as written (not amount or type, whose
             * key text the evaluator derives): the same bytes as fw_expr_eval. */
            for (int f = 0; f < PF_N; f++)
                if (f != 1 && f != 5 && !strcmp(r->group_src[g], pf_field[f].name) &&
                    fw_expr_type(r->group[g]) == FW_XT_STR)
                    off[g] = (uint16_t)(1 + pf_field[f].off);
        }
        if (r->ngroup && nl[0] + 1 < FW_LANG_MAX_KEY) {
            char *b = st->kc_bytes + c * (size_t)FW_LANG_MAX_KEY;
            memcpy(b, r->group_src[0], nl[0]);
            b[nl[0]] = '=';
        }
    }
    st->keybuf = st->kc_bytes;
    /* Group the enabled rules, then lay out each group's members and columns. */
    for (size_t i = 0; i < rs->n; i++) {
        const fw_lang_rule *r = &rs->rules[i];
        st->group_of[i] = st->member_of[i] = SIZE_MAX;
        if (!r->common.enabled)
            continue;
        size_t g = 0;
        while (g < st->ntab && !(same_shape(st->tab[g].lead, r) &&
                                 st->tab[g].naggs + r->naggs <= GROUP_MAX_AGGS))
            g++;
        if (g == st->ntab) {
            st->tab[st->ntab].score = r->kind == FW_LANG_SCORE;
            st->tab[st->ntab++].lead = r;
        }
        st->group_of[i] = g;
        st->member_of[i] = st->tab[g].nmember++;
        st->tab[g].naggs += r->naggs;
        st->phase_rules[FW_LANG_ALL][st->nphase[FW_LANG_ALL]++] = i;
        int ph = fw_lang_rule_on_arrival(r) ? FW_LANG_ON_ARRIVAL : FW_LANG_IN_ORDER;
        st->phase_rules[ph][st->nphase[ph]++] = i;
        if (r->backfill) {
            st->phase_bf[FW_LANG_ALL][st->nphase_bf[FW_LANG_ALL]++] = i;
            st->phase_bf[ph][st->nphase_bf[ph]++] = i;
        }
    }
    size_t off = 0;
    bool need_cd = false, need_all = false;
    for (size_t g = 0; g < st->ntab; g++) {
        ltab *t = &st->tab[g];
        t->ranged = t->lead->window_ms || t->lead->consume;
        t->keep_ms = t->lead->lookback_ms + (t->ranged ? rs->allowed_lateness_ms : 0);
        if (t->lead->early) /* it counts records up to the out-of-orderness ahead of the watermark */
            t->keep_ms += rs->max_out_of_orderness_ms;
        t->member = st->pool + off;
        t->base = st->pool + rs->n + off;
        off += t->nmember;
        t->naggs = 0;
    }
    for (size_t i = 0; i < rs->n; i++) {
        if (st->group_of[i] == SIZE_MAX)
            continue;
        ltab *t = &st->tab[st->group_of[i]];
        const fw_lang_rule *r = &rs->rules[i];
        t->member[st->member_of[i]] = i;
        t->base[st->member_of[i]] = t->naggs;
        for (size_t a = 0; a < r->naggs; a++) {
            fw_lang_fn fn = r->aggs[a].fn;
            t->agg[t->naggs] = &r->aggs[a];
            bool cd = fn == FW_LANG_COUNT_DISTINCT;
            if (t->ranged) { /* no deques, no multisets: prefix totals or a scan */
                need_cd = need_cd || cd;
                need_all = true;
                t->pw[t->naggs] = -1;
                if (fn == FW_LANG_COUNT || fn == FW_LANG_SUM || fn == FW_LANG_AVG ||
                    fn == FW_LANG_STDDEV) { /* words: count 1, sum 2, avg 3, stddev 5 */
                    t->pw[t->naggs] = (int16_t)t->npw;
                    t->npw += fn == FW_LANG_COUNT ? 1 : fn == FW_LANG_SUM ? 2
                              : fn == FW_LANG_AVG ? 3 : 5;
                }
                t->slot[t->naggs++] = -1;
                continue;
            }
            t->slot[t->naggs++] = t->score ? -1 /* scores scan their windows */
                                  : fn == FW_LANG_MIN || fn == FW_LANG_MAX ? (int8_t)t->nmm++
                                  : fn == FW_LANG_COUNT_DISTINCT     ? (int8_t)t->ncd++
                                                                     : -1;
        }
    }
    for (size_t g = 0; g < st->ntab; g++) {
        ltab *t = &st->tab[g];
        const fw_lang_rule *r = t->lead;
        t->id = part_id(rs, t);
        t->grace = r->lookback_ms;
        if (r->prev_fields && r->prev_within_ms > t->grace)
            t->grace = r->prev_within_ms;
        if (r->seen_keep_ms > t->grace)
            t->grace = r->seen_keep_ms;
        for (int f = 0; f < PF_N; f++)
            if (r->prev_fields &&
                (f == 0 || (st->pf_bit[f] >= 0 && (r->prev_fields >> st->pf_bit[f] & 1))))
                t->pf[t->npf++] = (uint8_t)f;
        need_all = need_all || t->ranged;
        if (r->kind == FW_LANG_AGGREGATE) {
            int ph = r->early ? FW_LANG_ON_ARRIVAL : FW_LANG_IN_ORDER;
            st->agg[FW_LANG_ALL][st->nagg[FW_LANG_ALL]++] = g;
            st->agg[ph][st->nagg[ph]++] = g;
            if (r->backfill)
                st->agg_bf[st->nagg_bf++] = g;
        }
        size_t c = st->key_class[r - rs->rules];
        if (r->kind == FW_LANG_SEQUENCE && !has_history(r) && r->ngroup == 1 &&
            st->kc_off[c * (size_t)FW_LANG_MAX_GROUP] && st->kc_nlen[c * (size_t)FW_LANG_MAX_GROUP] + 1 < FW_LANG_MAX_KEY) {
            if (!(t->live = calloc((size_t)1 << LIVE_BITS, 1))) {
                fw_lang_state_destroy(st);
                return NULL;
            }
            t->live_skip = (uint16_t)(st->kc_nlen[c * (size_t)FW_LANG_MAX_GROUP] + 1);
        }
    }
    /* A sequence's or filter's quiet keys wait for the sweep as long as the
     * longest-lived group of their key class keeps its own (a score key lives memory past
     * its last transaction): the entity is in memory anyway, and a key
     * retired after its short grace was made again when the customer came
     * back (the seed rules: ~120k retire/add cycles per 100k records). */
    for (size_t g = 0; g < st->ntab; g++) {
        const ltab *t = &st->tab[g];
        int64_t keep = t->grace;
        if (t->score) {
            keep = t->lead->memory_ms + rs->dedupe_window_ms + rs->allowed_lateness_ms;
            keep = keep > t->grace ? keep : t->grace;
        }
        size_t c = st->key_class[t->lead - rs->rules];
        for (size_t o = 0; o < st->ntab; o++)
            if (st->key_class[st->tab[o].lead - rs->rules] == c && st->tab[o].grace < keep &&
                (st->tab[o].lead->kind == FW_LANG_SEQUENCE ||
                 st->tab[o].lead->kind == FW_LANG_FILTER)) /* keys without windows of events */
                st->tab[o].grace = keep;
    }
    uint32_t maxev = rs->max_window_events ? rs->max_window_events : 1;
    if (need_all && !(st->evall = malloc(maxev * sizeof(*st->evall)))) {
        fw_lang_state_destroy(st);
        return NULL;
    }
    if (need_cd) {
        uint64_t cap = 16;
        while (cap < 2 * (uint64_t)maxev)
            cap *= 2;
        if (!(st->cd = calloc(cap, sizeof(*st->cd)))) {
            fw_lang_state_destroy(st);
            return NULL;
        }
        st->cd_mask = (uint32_t)(cap - 1);
    }
    for (int ph = 0; ph < 3; ph++) {
        if (!(st->touch[ph] = malloc((st->ntab ? st->ntab : 1) * sizeof(size_t)))) {
            fw_lang_state_destroy(st);
            return NULL;
        }
        for (size_t g = 0; g < st->ntab; g++) {
            bool used = false;
            for (size_t i = 0; i < st->nagg[ph] && !used; i++)
                used = st->agg[ph][i] == g;
            for (size_t i = 0; i < st->nphase[ph] && !used; i++)
                used = st->group_of[st->phase_rules[ph][i]] == g;
            if (used)
                st->touch[ph][st->ntouch[ph]++] = g;
        }
    }
    return st;
}

/* Forgets the key's prev, freeing what lives outside the key. */
static void prev_drop(lkey *k) {
    if (!k->prev)
        return;
    if (k->prev->buf != prev_inline(k))
        free(k->prev->buf);
    if (k->prev != k->prev_mem)
        free(k->prev);
    k->prev = NULL;
}

static void key_unlink(fw_lang_state *st, size_t r, lkey *k, bool tomb);

static void key_free(lkey *k) {
    if (!k)
        return;
    free(k->ev);
    free(k->val);
    free(k->dq);
    free(k->set);
    free(k->pre);
    free(k->pm);
    free(k->sc_panes);
    prev_drop(k);
    free(k->seen);
    free(k);
}

void fw_lang_state_destroy(fw_lang_state *st) {
    if (!st)
        return;
    for (size_t r = 0; st->tab && r < st->ntab; r++) {
        for (size_t b = 0; b < st->tab[r].nbucket; b++)
            for (lkey *k = st->tab[r].bucket[b], *nx; k; k = nx) {
                nx = k->next;
                key_free(k);
            }
        for (lkey *k = st->tab[r].spare, *nx; k; k = nx) {
            nx = k->next;
            key_free(k);
        }
        free(st->tab[r].bucket);
        free(st->tab[r].live);
    }
    free(st->tab);
    free(st->group_of);
    free(st->member_of);
    free(st->pool);
    free(st->key_class);
    free(st->kc);
    free(st->kc_bytes);
    free(st->kc_nlen);
    free(st->kc_off);
    for (int ph = 0; ph < 3; ph++) {
        free(st->phase_rules[ph]);
        free(st->touch[ph]);
        free(st->agg[ph]);
    }
    free(st->dirty);
    free(st->scratch);
    free(st->alerted);
    free(st->dedupe_to);
    free(st->evall);
    free(st->cd);
    fw_buf_fini(&st->deleted);
    free(st);
}

/* ---- the table ---- */

static bool tab_grow(ltab *t) {
    size_t nb = t->nbucket ? t->nbucket * 2 : 64;
    lkey **b = calloc(nb, sizeof(*b));
    if (!b)
        return false;
    for (size_t i = 0; i < t->nbucket; i++)
        for (lkey *k = t->bucket[i], *nx; k; k = nx) {
            nx = k->next;
            k->next = b[k->hash & (nb - 1)];
            b[k->hash & (nb - 1)] = k;
        }
    free(t->bucket);
    t->bucket = b;
    t->nbucket = nb;
    return true;
}

lkey *lang_key_add(fw_lang_state *st, size_t r, const char *key, size_t len, uint64_t h) {
    ltab *t = &st->tab[r];
    if (!lang_key_room(st))
        return NULL;
    if (t->nkeys >= t->nbucket && !tab_grow(t))
        return NULL;
    lkey *k = t->spare;
    if (k && k->keycap >= len) {
        /* A quiet key freed by expiry: its arrays are empty (no events, partial
         * matches or seen values), so only the header and totals start afresh. */
        t->spare = k->next;
        t->nspare--;
        /* Field by field, not a copy of the whole header: what a key's
         * life changes, and what is set below for every new key. */
        k->overflow = 0;
        k->seq_head = 0;
        k->head = k->n = k->npm = k->nseen = 0;
        k->prev = NULL;
        k->dirty = false;
        k->avg_sum = 0;
        k->avg_n = 0;
        k->episode = false;
        k->used = 0;
        k->dirty_idx = 0;
        if (t->naggs)
            memset(k->run, 0, t->naggs * sizeof(lrun));
        if (t->score) { /* zero already when kept right (no events): a key starts clean */
            memset(lang_score_cnt(t, k), 0, SCORE_BITS * sizeof(uint32_t));
            free(k->sc_panes);
            k->sc_panes = NULL;
        }
    } else {
        /* The running totals follow the header (i128 wants 16-byte alignment),
         * then the members' last alerts, then a score key's band counts. */
        size_t cap = len < 48 ? 48 : len;
        size_t hdr = (sizeof(lkey) + cap + 15) & ~(size_t)15;
        size_t tail = t->naggs * sizeof(lrun) + t->nmember * sizeof(int64_t) +
                      (t->score ? SCORE_BITS * sizeof(uint32_t) : 0);
        tail = (tail + 15) & ~(size_t)15;
        if (!(k = calloc(1, hdr + tail + (t->npf ? sizeof(lprev) + PREV_INLINE : 0))))
            return NULL;
        k->keycap = (uint16_t)cap;
        k->run = (lrun *)((char *)k + hdr);
        k->last = (int64_t *)(k->run + t->naggs);
        if (t->npf)
            k->prev_mem = (lprev *)((char *)k + hdr + tail);
    }
    for (size_t m = 0; m < t->nmember; m++)
        k->last[m] = INT64_MIN;
    k->sc_seen = INT64_MIN;
    k->hash = h;
    k->part = (uint16_t)r;
    k->keylen = (uint16_t)len;
    memcpy(k->key, key, len);
    k->next = t->bucket[h & (t->nbucket - 1)];
    t->bucket[h & (t->nbucket - 1)] = k;
    t->nkeys++;
    if (t->live && len >= t->live_skip) {
        uint8_t *c = &t->live[lang_live_slot(key + t->live_skip, len - t->live_skip)];
        *c += *c < 255;
    }
    st->stats.keys++;
    return k;
}

/* Frees @p k; @p tomb: it leaves the changelog too (expiry), not when
 * restoring, where the log already says what it holds. */
void lang_key_remove(fw_lang_state *st, size_t r, lkey *k, bool tomb) {
    key_unlink(st, r, k, tomb);
    key_free(k);
}

/* Unlinks quiet key @p k (expiry) and keeps it for reuse, up to SPARE_KEYS
 * or the group's buckets (its most keys so far, rounded up) if more: the
 * sweep retires a group's quiet keys in one pass over it while they come
 * back one by one until the next pass, so a fixed bound freed most of them
 * only to calloc them again (a third of the keys' cost on the seed rules).
 * Spares and live keys together stay within twice the group's peak. */
static void key_retire(fw_lang_state *st, size_t r, lkey *k) {
    ltab *t = &st->tab[r];
    key_unlink(st, r, k, true);
    if (k->n || k->npm || k->nseen || (t->nspare >= SPARE_KEYS && t->nspare >= t->nbucket) ||
        k->cap > 64 ||
        k->pmcap > 64 || k->seencap > 64) { /* only small ones: spares hold their arrays */
        key_free(k);
        return;
    }
    prev_drop(k);
    k->next = t->spare;
    t->spare = k;
    t->nspare++;
}

static void key_unlink(fw_lang_state *st, size_t r, lkey *k, bool tomb) {
    ltab *t = &st->tab[r];
    if (k->dirty) { /* off the list: its tombstone is its latest state */
        lkey *last = st->dirty[--st->ndirty];
        st->dirty[k->dirty_idx] = last;
        last->dirty_idx = k->dirty_idx;
    }
    if (tomb && st->track) {
        uint16_t hdr[2] = { (uint16_t)r, k->keylen };
        fw_buf_append(&st->deleted, hdr, sizeof(hdr));
        fw_buf_append(&st->deleted, k->key, k->keylen);
    }
    for (lkey **p = &t->bucket[k->hash & (t->nbucket - 1)]; *p; p = &(*p)->next)
        if (*p == k) {
            *p = k->next;
            break;
        }
    t->nkeys--;
    if (t->live && k->keylen >= t->live_skip) {
        uint8_t *c = &t->live[lang_live_slot(k->key + t->live_skip, k->keylen - t->live_skip)];
        *c -= *c && *c < 255; /* 255: counted past, so kept for good */
    }
    st->stats.keys--;
    st->stats.events -= k->n;
}

/* ---- evaluation ---- */

/* Appends "field=value" for each key field (the first "field=" is in @p buf
 * already, @p nlen the names' lengths, @p off where a plain text field is:
 * fw_lang_state_new); false when one is missing. */
static bool make_key(char *buf, const uint16_t *nlen, const uint16_t *off,
                     const fw_lang_rule *r, const fw_expr_ctx *ctx, size_t *len) {
    size_t o = 0;
    for (size_t g = 0; g < r->ngroup; g++) {
        char tmp[FW_DEC_STR_MAX];
        fw_str s;
        fw_xval v = { .type = FW_XT_STR };
        if (off[g])
            v.u.s = txn_key_field(ctx->txn, off[g]);
        else
            v = fw_expr_eval(r->group[g], ctx);
        if (v.type == FW_XT_STR || v.type == FW_XT_ANY) {
            s = v.u.s;
        } else if (v.type == FW_XT_NUM) {
            s = (fw_str){ tmp, (size_t)fw_dec_format(v.u.num, tmp, sizeof(tmp)) };
        } else {
            return false;
        }
        if (!s.ptr)
            return false;
        /* memcpy, not snprintf: this runs per transaction and group. */
        size_t n = nlen[g], need = (g ? 1 : 0) + n + 1 + s.len;
        if (need >= FW_LANG_MAX_KEY - o)
            return false; /* longer than FW_LANG_MAX_KEY: treated as missing */
        if (g) {
            buf[o++] = '\x1f';
            memcpy(buf + o, r->group_src[g], n);
            buf[o + n] = '=';
        }
        o += n + 1;
        lang_copy_short(buf + o, s.ptr, s.len);
        o += s.len;
        buf[o] = '\0';
    }
    *len = o;
    return true;
}

static void put(char *buf, size_t *o, const char *s, size_t n) {
    if (*o >= FW_LANG_REASON_MAX - 1)
        return;
    if (n > FW_LANG_REASON_MAX - 1 - *o)
        n = FW_LANG_REASON_MAX - 1 - *o;
    memcpy(buf + *o, s, n);
    *o += n;
}

static void put_val(char *buf, size_t *o, fw_xval v) {
    char tmp[64];
    int w = 0;
    switch (v.type) {
    case FW_XT_NUM:
        w = fw_dec_format(v.u.num, tmp, sizeof(tmp));
        break;
    case FW_XT_STR:
    case FW_XT_ANY:
        put(buf, o, v.u.s.ptr ? v.u.s.ptr : "", v.u.s.ptr ? v.u.s.len : 0);
        return;
    case FW_XT_BOOL:
        w = snprintf(tmp, sizeof(tmp), "%s", v.u.b ? "true" : "false");
        break;
    case FW_XT_DUR:
        w = fw_rules_duration_format(v.u.ms, tmp, sizeof(tmp));
        break;
    case FW_XT_TIME:
        w = snprintf(tmp, sizeof(tmp), "%" PRId64, v.u.ms);
        break;
    default:
        w = snprintf(tmp, sizeof(tmp), "(missing)");
    }
    put(buf, o, tmp, w > 0 && (size_t)w < sizeof(tmp) ? (size_t)w : 0);
}

static size_t render_reason(fw_lang_state *st, const fw_lang_rule *r, const fw_expr_ctx *ctx) {
    size_t o = 0;
    char dur[32];
    if (!r->reason) { /* default: the values, or the predicate */
        put(st->reason, &o, r->id, strlen(r->id));
        put(st->reason, &o, ": ", 2);
        if (r->kind == FW_LANG_FILTER) {
            put(st->reason, &o, r->when_src, strlen(r->when_src));
        } else if (r->kind == FW_LANG_SCORE) {
            for (size_t v = 0; v < 1 + r->nbands + r->naggs; v++) {
                if (v)
                    put(st->reason, &o, ", ", 2);
                put(st->reason, &o, st->values[v].name, strlen(st->values[v].name));
                put(st->reason, &o, "=", 1);
                put_val(st->reason, &o, st->values[v].value);
            }
            int w = fw_rules_duration_format(r->lookback_ms + r->lookback_open, dur, sizeof(dur));
            put(st->reason, &o, " within ", 8);
            put(st->reason, &o, dur, (size_t)w);
        } else {
            for (size_t a = 0; a < r->naggs; a++) {
                if (a)
                    put(st->reason, &o, ", ", 2);
                put(st->reason, &o, r->aggs[a].name, strlen(r->aggs[a].name));
                put(st->reason, &o, "=", 1);
                put_val(st->reason, &o, st->slots[a]);
            }
            int w = fw_rules_duration_format(r->lookback_ms + r->lookback_open, dur, sizeof(dur));
            put(st->reason, &o, " within ", 8);
            put(st->reason, &o, dur, (size_t)w);
        }
    }
    for (size_t i = 0; r->reason && i < r->ntpl; i++) {
        const fw_lang_tpl *t = &r->tpl[i];
        switch (t->kind) {
        case FW_TPL_TEXT:
            put(st->reason, &o, t->text, t->len);
            break;
        case FW_TPL_AGG:
            put_val(st->reason, &o, st->slots[t->index]);
            break;
        case FW_TPL_PARAM:
            put_val(st->reason, &o, r->params[t->index].value);
            break;
        case FW_TPL_LOOKBACK: {
            int w = fw_rules_duration_format(r->lookback_ms + r->lookback_open, dur, sizeof(dur));
            put(st->reason, &o, dur, (size_t)w);
            break;
        }
        case FW_TPL_FIELD:
            put_val(st->reason, &o, fw_expr_eval(t->field, ctx));
            break;
        case FW_TPL_VALUE:
            put_val(st->reason, &o, st->values[t->index].value);
            break;
        }
    }
    st->reason[o] = '\0';
    return o;
}

/* Appends @p v's text to the entity buffer at *o (truncating); false when missing. */
static bool put_entity(fw_lang_state *st, size_t *o, fw_xval v) {
    char tmp[FW_DEC_STR_MAX];
    fw_str s;
    if (v.type == FW_XT_STR || v.type == FW_XT_ANY)
        s = v.u.s;
    else if (v.type == FW_XT_NUM)
        s = (fw_str){ tmp, (size_t)fw_dec_format(v.u.num, tmp, sizeof(tmp)) };
    else
        return false;
    if (!s.ptr) /* present even when empty, as the built-ins judge it */
        return false;
    size_t room = sizeof(st->entity) - 1 - *o;
    size_t n = s.len < room ? s.len : room;
    memcpy(st->entity + *o, s.ptr, n);
    *o += n;
    return true;
}

/* The rule's "entity": its type, and its id into st->entity. The alerting
 * transaction belongs to the key, so the group_by values are its own. */
static const char *entity_name(fw_lang_state *st, const fw_lang_rule *r, const fw_expr_ctx *ctx,
                               size_t *len) {
    size_t o = 0;
    if (!r->entity_is_array) {
        for (size_t g = 0; g < r->ngroup; g++) {
            if (g && o + 2 < sizeof(st->entity)) {
                memcpy(st->entity + o, "->", 2);
                o += 2;
            }
            (void)put_entity(st, &o, fw_expr_eval(r->group[g], ctx));
        }
        *len = o;
        return r->entity[0].type;
    }
    for (size_t j = 0; j < r->nentity; j++) {
        o = 0;
        if (put_entity(st, &o, fw_expr_eval(r->entity[j].id, ctx))) {
            *len = o;
            return r->entity[j].type;
        }
    }
    /* None present: the transaction names it, as a built-in's last resort. */
    *len = 0;
    (void)put_entity(st, len, (fw_xval){ .type = FW_XT_STR, .u.s = ctx->txn->transaction_id });
    return "transaction";
}

void lang_emit(fw_lang_state *st, const fw_lang_rule *r, lkey *k, size_t m,
               const fw_expr_ctx *ctx, fw_lang_alert_fn fn, void *opaque, const lpm *pm,
               const lrange *rg) {
    const fw_txn *t = ctx->txn;
    if (st->replay) /* the replayed past alerts nowhere: no callback, no dedupe stamp */
        return;
    if (k) {
        int64_t *last = &k->last[m];
        if (*last != INT64_MIN && llabs(t->ts_ms - *last) < st->rs->dedupe_window_ms) {
            lang_deduplicated(st, (size_t)(r - st->rs->rules));
            return;
        }
        if (*last == INT64_MIN || t->ts_ms > *last)
            *last = t->ts_ms;
        mark(st, k);
    }
    size_t elen;
    const char *etype = "key";
    if (r->nentity) {
        etype = entity_name(st, r, ctx, &elen);
    } else if (k) {
        memcpy(st->entity, k->key, k->keylen);
        for (size_t i = 0; i < k->keylen; i++)
            if (st->entity[i] == '\x1f')
                st->entity[i] = ',';
        elen = k->keylen;
    } else {
        int w = snprintf(st->entity, sizeof(st->entity), "transaction_id=%.*s",
                         (int)t->transaction_id.len, t->transaction_id.ptr);
        elen = w < 0 ? 0 : (size_t)w < sizeof(st->entity) ? (size_t)w : sizeof(st->entity) - 1;
    }
    fw_lang_alert a = { .rule = r, .rc = &r->common, .entity_type = etype, .entity = { st->entity, elen },
                        .event_time = t->ts_ms,
                        /* a filter judges one transaction: no window (as high_amount) */
                        .window_start = INT64_MIN, .window_end = INT64_MIN,
                        .values = st->values, .nvalues = r->naggs,
                        .evidence = st->evidence, .evidence_bound = FW_LANG_EVIDENCE_MAX,
                        .window_bound = st->rs->max_window_events, .txn = t };
    if (r->kind == FW_LANG_SCORE) { /* lang_score_eval laid out the evidence and values */
        a.window_start = st->sc_start;
        a.window_end = st->sc_start + r->lookback_ms;
        a.window_overflow = k->overflow;
        a.nevidence = st->sc_nev;
        a.nvalues = 1 + r->nbands + r->naggs;
        a.rc = st->sc_rc;
    } else if (rg) { /* a ranged rule: its window, and every event of it, oldest first */
        a.window_start = rg->start - r->lookback_open; /* (t - W, t]: shown as from t - W */
        a.window_end = rg->end;
        a.window_overflow = k->overflow;
        a.evidence = st->evall;
        a.evidence_bound = st->rs->max_window_events;
        for (uint32_t j = rg->lo; j < rg->hi; j++) {
            const lev *e = &k->ev[(k->head + j) % k->cap];
            st->evall[a.nevidence++] = lev_evidence(e);
        }
    } else if (pm) { /* a sequence: the match's first transactions and the one completing it */
        a.window_start = pm->start;
        a.window_end = pm->start + r->lookback_ms;
        a.window_overflow = k->overflow;
        a.window_bound = FW_LANG_SEQ_MAX_PARTIALS;
        a.evidence_bound = FW_LANG_SEQ_EVIDENCE + 1;
        for (uint32_t j = 0; j < pm->nmatched && j < FW_LANG_SEQ_EVIDENCE; j++)
            st->evidence[a.nevidence++] = (fw_lang_evidence){ { pm->id[j], pm->idlen[j] },
                                                               pm->ts[j], pm->amount[j] };
        if (pm->nmatched > FW_LANG_SEQ_EVIDENCE) /* the completing one was not kept */
            st->evidence[a.nevidence++] = lang_txn_evidence(t);
        a.evidence_whole = pm->nmatched <= FW_LANG_SEQ_EVIDENCE + 1;
    } else if (r->kind == FW_LANG_AGGREGATE && k) {
        a.window_start = t->ts_ms - r->lookback_ms - r->lookback_open;
        a.window_end = t->ts_ms;
        a.window_overflow = k->overflow;
        /* The newest FW_LANG_EVIDENCE_MAX events, oldest first. */
        uint32_t skip = k->n > FW_LANG_EVIDENCE_MAX ? k->n - FW_LANG_EVIDENCE_MAX : 0;
        for (uint32_t j = skip; j < k->n; j++) {
            const lev *e = &k->ev[(k->head + j) % k->cap];
            st->evidence[a.nevidence++] = lev_evidence(e);
        }
    } else {
        if (ctx->prev && r->kind == FW_LANG_FILTER) { /* the two records compared */
            st->evidence[a.nevidence++] = lang_txn_evidence_located(ctx->prev);
            a.window_start = ctx->prev->ts_ms;
            a.window_end = ctx->prev->ts_ms + r->prev_within_ms;
            st->evidence[a.nevidence++] = lang_txn_evidence_located(t);
        } else {
            st->evidence[a.nevidence++] = lang_txn_evidence(t);
        }
    }
    for (size_t i = 0; i < r->naggs && r->kind != FW_LANG_SCORE; i++)
        st->values[i] = (fw_lang_value){ .name = r->aggs[i].name, .value = st->slots[i] };
    size_t rl = render_reason(st, r, ctx);
    a.reason = (fw_str){ st->reason, rl };
    st->stats.alerts++;
    st->alerted[r - st->rs->rules] = st->record; /* for score rules' signal bands */
    fn(opaque, &a);
}

/* lang_rule_key's first call for a class in a record: makes the key. */
bool lang_rule_key_make(fw_lang_state *st, const fw_lang_rule *r, const fw_expr_ctx *ctx,
                        size_t *len, uint64_t *h) {
    size_t c = st->key_class[r - st->rs->rules];
    lkc *kc = &st->kc[c];
    st->keybuf = st->kc_bytes + c * (size_t)FW_LANG_MAX_KEY;
    kc->record = st->record;
    size_t at = c * (size_t)FW_LANG_MAX_GROUP;
    kc->ok = make_key(st->keybuf, st->kc_nlen + at, st->kc_off + at, r, ctx, &kc->len);
    kc->hash = kc->ok ? fw_hash64(st->keybuf, kc->len, KEY_SEED) : 0;
    *len = kc->len;
    *h = st->kc_hash = kc->hash;
    return kc->ok;
}

/* The key in st->keybuf (lang_rule_key), made when new. */
lkey *lang_key_get(fw_lang_state *st, size_t ri, size_t len, int64_t now) {
    uint64_t h = st->kc_hash;
    lkey *k = key_find(st, ri, st->keybuf, len, h);
    if (!k)
        k = lang_key_add(st, ri, st->keybuf, len, h);
    if (k && now > k->used)
        k->used = now;
    return k;
}

/* The value aggregate @p g takes from this transaction (a count_distinct: the
 * value's hash); false when it does not count in it (its where, a missing value). */
bool lang_agg_value(const fw_lang_agg *g, const fw_expr_ctx *ctx, fw_dec *out) {
    *out = 0;
    if (g->where && !fw_expr_test(g->where, ctx))
        return false;
    if (!g->arg)
        return true;
    fw_xval v = fw_expr_eval_inline(g->arg, ctx);
    if (g->fn == FW_LANG_COUNT_DISTINCT) {
        char tmp[FW_DEC_STR_MAX];
        fw_str s = v.u.s;
        if (v.type == FW_XT_NUM)
            s = (fw_str){ tmp, (size_t)fw_dec_format(v.u.num, tmp, sizeof(tmp)) };
        else if ((v.type != FW_XT_STR && v.type != FW_XT_ANY) || !s.ptr)
            return false;
        *out = (fw_dec)fw_hash64(s.ptr, s.len, 0x64697374u);
        return true;
    }
    if (v.type == FW_XT_NUM) {
        *out = v.u.num;
        return true;
    }
    /* an extra field holding a number (the loader allows text only from one) */
    return (v.type == FW_XT_ANY || v.type == FW_XT_STR) && v.u.s.ptr &&
           fw_dec_parse(v.u.s.ptr, v.u.s.len, out) == FW_OK;
}

/* Counts the transaction in group @p gi's window when it has every key field
 * and passes where; sets t->cur to its key (NULL when it does not count). */
static void count_in_group(fw_lang_state *st, size_t gi, const fw_expr_ctx *ctx) {
    ltab *t = &st->tab[gi];
    const fw_lang_rule *r = t->lead;
    const fw_txn *txn = ctx->txn;
    size_t len = 0;
    lkey *k;
    t->cur = NULL;
    uint64_t h;
    /* where first: it is cheaper than building the key, and most transactions fail it */
    if (r->kind != FW_LANG_AGGREGATE || (r->where && !fw_expr_test_inline(r->where, ctx)) ||
        !lang_rule_key(st, r, ctx, &len, &h))
        return;
    fw_dec vals[GROUP_MAX_AGGS];
    uint32_t mask = 0;
    for (size_t a = 0; a < t->naggs; a++)
        if (lang_agg_value(t->agg[a], ctx, &vals[a]))
            mask |= 1u << a;
    if (!(k = lang_key_get(st, gi, len, txn->ts_ms)))
        return;
    mark(st, k);
    lang_evict_before(st, k, txn->ts_ms - t->keep_ms, t);
    if (t->ranged && k->n >= (st->rs->max_window_events ? st->rs->max_window_events : 1)) {
        /* Full: a ranged part keeps the events it has and drops this one
         * (counted), as the built-ins' windows do, so its windows still
         * name the same transactions; it is still evaluated. */
        k->overflow++;
        st->stats.overflow++;
        t->cur = k;
        return;
    }
    if (lang_push(st, t, k, txn->ts_ms, lang_txn_amount(txn), txn->transaction_id, mask, vals))
        t->cur = k;
}
static void eval_rule(
fw_lang_state *st, size_t ri, fw_expr_ctx *ctx, fw_lang_alert_fn fn,
                      void *opaque) {
    const fw_lang_rule *r = &st->rs->rules[ri];
    size_t len = 0;
    lkey *k = NULL;
    ctx->slots = NULL;
    ctx->nslots = 0;
    /* sequences and scores first: they find their own group and member */
    if (r->kind == FW_LANG_SEQUENCE) {
        lang_seq_eval(st, ri, ctx, fn, opaque);
        return;
    }
    if (r->kind == FW_LANG_SCORE) {
        lang_score_eval(st, ri, ctx, fn, opaque);
        return;
    }
    size_t gi = st->group_of[ri], m = st->member_of[ri];
    ltab *t = &st->tab[gi];
    if (r->kind == FW_LANG_FILTER && has_history(r)) {
        lang_filter_hist(st, ri, ctx, fn, opaque);
        return;
    }
    if (r->kind == FW_LANG_FILTER) {
        if (!fw_expr_test_inline(r->when, ctx))
            return;
        if (r->ngroup) {
            uint64_t h;
            if (!lang_rule_key(st, r, ctx, &len, &h) || !(k = lang_key_get(st, gi, len, ctx->txn->ts_ms)))
                return;
        }
        lang_emit(st, r, k, m, ctx, fn, opaque, NULL, NULL);
        return;
    }
    if (!(k = t->cur))
        return;
    if (t->ranged) {
        lang_ranged_eval(st, ri, k, ctx, fn, opaque);
        return;
    }
    for (size_t a = 0; a < r->naggs; a++)
        st->slots[a] = lang_result(t, k, t->base[m] + a);
    ctx->slots = st->slots;
    ctx->nslots = r->naggs;
    if (fw_expr_test(r->having, ctx))
        lang_emit(st, r, k, m, ctx, fn, opaque, NULL, NULL);
}

bool fw_lang_rule_on_arrival(const fw_lang_rule *r) {
    return (r->kind == FW_LANG_FILTER && !r->ngroup) || r->early;
}

static int in_list(void *ud, int id, fw_str value) {
    return fw_lang_list_contains(((const fw_lang_state *)ud)->rs, id, value);
}

static void sweep_some(fw_lang_state *st, int64_t watermark);

#define FW_PREFETCH_GROUPS 32 /* groups whose keys are asked for ahead, at most */

/* Asks for the keys this record touches in the groups of @p gs (@p ng of
 * them) before any is used: with a bank's population each is a cache miss
 * (its bucket, then the key), and asked together they arrive together
 * instead of one after another. The keys are made once per record anyway. */
static void prefetch_keys(fw_lang_state *st, const size_t *gs, size_t ng,
                          const fw_expr_ctx *ctx) {
    lkey **heads[FW_PREFETCH_GROUPS];
    size_t n = 0;
    for (size_t i = 0; i < ng && n < FW_PREFETCH_GROUPS; i++) {
        ltab *t = &st->tab[gs[i]];
        size_t len;
        uint64_t h;
        if (t->nbucket && lang_rule_key(st, t->lead, ctx, &len, &h)) {
            heads[n] = &t->bucket[h & (t->nbucket - 1)];
            __builtin_prefetch(heads[n++]);
        }
    }
    for (size_t i = 0; i < n; i++)
        if (*heads[i])
            __builtin_prefetch(*heads[i]);
}

/* Every group counts the transaction first; then the rules, in file order,
 * read their columns, so alerts come in rule order whatever the grouping. */
void fw_lang_eval(fw_lang_state *st, const fw_lang_input *in, int64_t watermark,
                  fw_lang_alert_fn fn, void *opaque) {
    st->record++;
    /* The decoder's exact amount, memoized as the first read of `amount`
     * would (amount_general): nearly every record's rules read it. */
    fw_expr_memo memo = { .amount_set = in->txn->amount_dec_set,
                          .amount = { .type = FW_XT_NUM, .u.num = in->txn->amount_dec } };
    fw_expr_ctx ctx = { .txn = in->txn, .profile = in->profile, .extra = in->extra,
                        .nextra = in->nextra, .in_list = in_list, .is_new = lang_is_new_hook,
                        .ud = st, .memo = &memo };
    st->behind = in->behind;
    st->prevtxn_now = in->txn->ts_ms;
    /* Replay builds the backfill rules' state only (their parts are their
     * own): it walks their lists instead. */
    bool replay = st->replay;
    int ph = in->phase;
    bool arrival = ph == FW_LANG_ON_ARRIVAL;
    /* Backfill rules never fire early: replay counts in the ordered phase. */
    const size_t *ag = replay ? st->agg_bf : st->agg[ph];
    size_t nag = (arrival && (replay || in->late)) ? 0 : replay ? st->nagg_bf : st->nagg[ph];
    if (!replay)
        prefetch_keys(st, st->touch[ph], st->ntouch[ph], &ctx);
    for (size_t i = 0; i < nag; i++) /* only they count here */
        count_in_group(st, ag[i], &ctx);
    const size_t *pr = replay ? st->phase_bf[ph] : st->phase_rules[ph];
    size_t npr = replay ? st->nphase_bf[ph] : st->nphase[ph];
    for (size_t i = 0; i < npr; i++)
        if (!(in->late && st->rs->rules[pr[i]].early))
            eval_rule(st, pr[i], &ctx, fn, opaque);
    /* Once per transaction: the ordered phase (or ALL) sees every one; the
     * arrival phase sees them again, so it sweeps only when there is no
     * ordered phase to do it. */
    if (watermark != INT64_MIN && (!arrival || (!st->nphase[FW_LANG_IN_ORDER] && st->nagg[FW_LANG_ON_ARRIVAL])))
        sweep_some(st, watermark);
}

/* Frees what no rule can need at @p watermark in key @p k of group @p gi;
 * @p lazy (the background sweep): only a key not used within the group's
 * grace, so a busy key is not freed and made again. @returns true if freed. */
static bool expire_key(fw_lang_state *st, size_t gi, lkey *k, int64_t watermark, bool lazy) {
    ltab *t = &st->tab[gi];
    if (lazy && watermark - k->used <= t->grace)
        return false;
    uint32_t had = k->n, dropped = 0;
    if (t->score) {
        /* Later transactions are at least watermark - lateness: past seen +
         * memory + dedupe, every one would start the key afresh. */
        int64_t late = st->rs->allowed_lateness_ms;
        lang_evict_before(st, k, watermark - t->lead->lookback_ms - late, t);
        if (k->sc_seen == INT64_MIN ||
            watermark - late - k->sc_seen > t->lead->memory_ms + st->rs->dedupe_window_ms) {
            key_retire(st, gi, k);
            return true;
        }
        if (k->n != had)
            mark(st, k);
        return false;
    }
    lang_evict_before(st, k, watermark - t->keep_ms, t);
    if (t->lead->kind == FW_LANG_SEQUENCE)
        dropped = lang_seq_expire(k, watermark, t->lead->lookback_ms);
    if (k->prev && watermark - k->prev->ts > t->lead->prev_within_ms) {
        prev_drop(k); /* no later record can read it */
        dropped++;
    }
    if (k->nseen)
        dropped += lang_seen_purge(k, watermark - t->lead->seen_keep_ms);
    bool quiet = !k->n && !k->npm && !k->prev && !k->nseen;
    for (size_t m = 0; m < t->nmember && quiet; m++)
        quiet = k->last[m] == INT64_MIN || k->last[m] + st->rs->dedupe_window_ms <= watermark;
    if (quiet) {
        key_retire(st, gi, k);
        return true;
    }
    if (k->n != had || dropped)
        mark(st, k);
    return false;
}

size_t fw_lang_expire(fw_lang_state *st, int64_t watermark) {
    size_t freed = 0;
    for (size_t gi = 0; gi < st->ntab; gi++) {
        ltab *t = &st->tab[gi];
        for (size_t b = 0; b < t->nbucket; b++)
            for (lkey *k = t->bucket[b], *nx; k; k = nx) {
                nx = k->next;
                freed += expire_key(st, gi, k, watermark, false);
            }
    }
    return freed;
}

const fw_lang_rules *fw_lang_state_rules(const fw_lang_state *st) { return st->rs; }

/* The background sweep: SWEEP_BUCKETS buckets per transaction, round robin
 * over the groups, so freeing memory costs O(1) per transaction rather than
 * a pause over every key (windows drop old events as their key is used
 * anyway: a sweep only frees memory). A pass over n keys takes about n / 4
 * transactions. */
static void sweep_some(fw_lang_state *st, int64_t watermark) {
    if (!st->ntab)
        return;
    /* The cursor in locals: through st, expire_key's stores would make the
     * compiler reload and store it per bucket. Moving to the next group
     * takes one of the SWEEP_BUCKETS steps, as a bucket does. */
    size_t ti = st->sweep_tab, b = st->sweep_bucket, n = SWEEP_BUCKETS;
    while (n) {
        if (ti >= st->ntab)
            ti = 0;
        ltab *t = &st->tab[ti];
        if (b >= t->nbucket) {
            ti++;
            b = 0;
            n--;
            continue;
        }
        size_t end = t->nbucket - b > n ? b + n : t->nbucket;
        n -= end - b;
        for (; b < end; b++) /* an empty bucket: a load and a test */
            for (lkey *k = t->bucket[b], *nx; k; k = nx) {
                nx = k->next;
                /* expire_key's lazy test here: most keys swept are recent, no call */
                if (watermark - k->used > t->grace)
                    (void)expire_key(st, ti, k, watermark, true);
            }
    }
    st->sweep_tab = ti;
    st->sweep_bucket = b;
    /* The next sweep's first keys: cache misses with many keys, asked for
     * now so they arrive while the next record is evaluated. */
    if (ti < st->ntab)
        for (size_t i = b, end = b + SWEEP_BUCKETS; i < end && i < st->tab[ti].nbucket; i++)
            if (st->tab[ti].bucket[i])
                __builtin_prefetch(st->tab[ti].bucket[i]);
}

void fw_lang_state_follow_memory(fw_lang_state *st, const bool *full, uint64_t *counter) {
    st->memory_full = full;
    st->memory_refusals_to = counter;
}

void fw_lang_state_count_key_overflows(fw_lang_state *st, uint64_t *counter) {
    st->key_overflows_to = counter;
}

void fw_lang_state_count_dedupes(fw_lang_state *st, size_t rule, uint64_t *counter) {
    if (rule < st->rs->n)
        st->dedupe_to[rule] = counter;
}

void fw_lang_state_stats(const fw_lang_state *st, fw_lang_stats *out) {
    *out = st->stats;
    out->parts = st->ntab;
}
