/* lang_state_io.c — the state as changelog bytes: listing keys, writing and
 * reading one key (little-endian, versioned; reading checks every length and
 * rebuilds totals, deques and multisets), parts by id, and the changes since
 * the last flush. Apart from evaluation: only Kafka mode and restore use it. */
#include "lang_state_int.h"

void fw_lang_state_foreach(const fw_lang_state *st,
                           void (*fn)(void *opaque, size_t part, fw_str key), void *opaque) {
    for (size_t ri = 0; ri < st->ntab; ri++)
        for (size_t b = 0; b < st->tab[ri].nbucket; b++)
            for (lkey *k = st->tab[ri].bucket[b]; k; k = k->next)
                fn(opaque, ri, (fw_str){ k->key, k->keylen });
}

/* ---- changelog bytes: little-endian, versioned ---- */

static bool put_u64(fw_buf *b, uint64_t v) {
    uint8_t x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    return fw_buf_append(b, x, 8);
}

static bool get_u64(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    if (end - *p < 8)
        return false;
    *v = 0;
    for (int i = 0; i < 8; i++)
        *v |= (uint64_t)(*p)[i] << (8 * i);
    *p += 8;
    return true;
}

bool fw_lang_state_write_key(const fw_lang_state *st, size_t part, fw_str key, fw_buf *out) {
    if (part >= st->ntab || key.len > FW_LANG_MAX_KEY)
        return true;
    const ltab *t = &st->tab[part];
    const lkey *k = key_find(st, part, key.ptr, key.len, fw_hash64(key.ptr, key.len, KEY_SEED));
    if (!k)
        return true; /* nothing held: a tombstone */
    uint8_t hdr[4] = { STATE_MAGIC, STATE_VERSION, (uint8_t)t->naggs, (uint8_t)t->nmember };
    bool ok = fw_buf_append(out, hdr, 4) && put_u64(out, t->id);
    for (size_t m = 0; m < t->nmember && ok; m++)
        ok = put_u64(out, (uint64_t)k->last[m]);
    ok = ok && put_u64(out, k->overflow) && put_u64(out, k->n);
    for (uint32_t j = 0; j < k->n && ok; j++) {
        uint32_t i = (k->head + j) % k->cap;
        const lev *e = &k->ev[i];
        ok = put_u64(out, (uint64_t)e->ts) && put_u64(out, e->mask) &&
             fw_buf_putc(out, (char)e->idlen) && fw_buf_append(out, e->id, e->idlen) &&
             put_u64(out, (uint64_t)e->amount);
        for (size_t a = 0; a < t->naggs && ok; a++)
            ok = put_u64(out, (uint64_t)k->val[(size_t)i * t->naggs + a]);
    }
    if (t->score) /* then its running average, last transaction and episode */
        ok = ok && put_u64(out, (uint64_t)k->avg_sum) &&
             put_u64(out, (uint64_t)((unsigned __int128)k->avg_sum >> 64)) &&
             put_u64(out, (uint64_t)k->avg_n) && put_u64(out, (uint64_t)k->sc_seen) &&
             fw_buf_putc(out, k->episode ? 1 : 0);
    if (t->lead->kind == FW_LANG_SEQUENCE) { /* then its partial matches, oldest first */
        ok = ok && put_u64(out, k->npm);
        for (uint32_t j = 0; j < k->npm && ok; j++) {
            const lpm *pm = &k->pm[j];
            ok = put_u64(out, (uint64_t)pm->start) &&
                 put_u64(out, pm->step | (uint64_t)pm->cnt << 16 | (uint64_t)pm->nmatched << 32);
            for (uint32_t e = 0; e < pm->nmatched && e < FW_LANG_SEQ_EVIDENCE && ok; e++)
                ok = fw_buf_putc(out, (char)pm->idlen[e]) &&
                     fw_buf_append(out, pm->id[e], pm->idlen[e]) &&
                     put_u64(out, (uint64_t)pm->ts[e]) && put_u64(out, (uint64_t)pm->amount[e]);
        }
    }
    if (has_history(t->lead)) { /* prev (0 or 1), then is_new's (hash, last seen) pairs */
        const lprev *pv = k->prev;
        ok = ok && put_u64(out, pv != NULL);
        if (pv) {
            uint64_t bits[3];
            memcpy(&bits[0], &pv->amount, 8);
            memcpy(&bits[1], &pv->lat, 8);
            memcpy(&bits[2], &pv->lon, 8);
            ok = ok && put_u64(out, (uint64_t)pv->ts) && put_u64(out, bits[0]) &&
                 put_u64(out, bits[1]) && put_u64(out, bits[2]) &&
                 put_u64(out, pv->has | (uint64_t)pv->type << 32) &&
                 put_u64(out, (uint64_t)pv->amount_dec);
            size_t off = 0;
            for (int f = 0; f < PF_N && ok; f++) {
                ok = put_u64(out, (uint64_t)(int64_t)pv->len[f]);
                if (ok && pv->len[f] > 0) {
                    ok = fw_buf_append(out, pv->buf + off, (size_t)pv->len[f]);
                    off += (size_t)pv->len[f];
                }
            }
        }
        ok = ok && put_u64(out, k->nseen);
        for (uint32_t i = 0; i < k->seencap && ok; i++)
            if (k->seen[i].h)
                ok = put_u64(out, k->seen[i].h) && put_u64(out, (uint64_t)k->seen[i].last);
    }
    return ok && !out->overflow;
}

fw_err fw_lang_state_read_key(fw_lang_state *st, size_t part, fw_str key, const void *p,
                              size_t n, char *errstr, size_t errstr_size) {
#define BAD(...) do { if (errstr && errstr_size) snprintf(errstr, errstr_size, __VA_ARGS__); \
                      return FW_ERR_INVALID; } while (0)
    if (part >= st->ntab || key.len > FW_LANG_MAX_KEY)
        BAD("language rule state: part %zu or key of %zu bytes out of range", part, key.len);
    const ltab *t = &st->tab[part];
    const char *id = t->lead->id;
    uint64_t h = fw_hash64(key.ptr, key.len, KEY_SEED);
    lkey *k = key_find(st, part, key.ptr, key.len, h);
    if (k)
        lang_key_remove(st, part, k, false);
    if (n == 0)
        return FW_OK;
    const uint8_t *s = p, *end = s + n;
    uint64_t over, cnt;
    if (n < 4 || s[0] != STATE_MAGIC || (s[1] != STATE_VERSION && s[1] != 2))
        BAD("%s: state of an unknown format", id);
    /* Format 2 kept no amounts, nor the times of a partial match's steps:
     * its evidence then names the transactions without them. */
    bool v2 = s[1] == 2;
    if (s[2] != t->naggs || s[3] != t->nmember)
        BAD("%s: state with %u aggregates of %u rules, the state has %zu of %zu (its shape "
            "changed)", id, s[2], s[3], t->naggs, t->nmember);
    s += 4;
    uint64_t shape;
    if (!get_u64(&s, end, &shape) || shape != t->id)
        BAD("%s: state of another shape (group_by, lookback, where or aggregates changed)", id);
    int64_t last[FW_LANG_MAX_RULES];
    for (size_t m = 0; m < t->nmember; m++) {
        uint64_t v;
        if (!get_u64(&s, end, &v))
            BAD("%s: state truncated", id);
        last[m] = (int64_t)v;
    }
    if (!get_u64(&s, end, &over) || !get_u64(&s, end, &cnt))
        BAD("%s: state truncated", id);
    if (cnt > st->rs->max_window_events)
        BAD("%s: state with %" PRIu64 " events, above max_window_events %u", id, cnt,
            st->rs->max_window_events);
    if (!lang_key_room(st))
        return FW_OK; /* a lowered max_entities: counted, and the key starts afresh */
    if (!(k = lang_key_add(st, part, key.ptr, key.len, h)))
        return FW_ERR_NOMEM;
    memcpy(k->last, last, t->nmember * sizeof(*last));
    k->overflow = over;
    for (uint64_t j = 0; j < cnt; j++) {
        uint64_t ts, mask;
        fw_dec vals[GROUP_MAX_AGGS];
        if (!get_u64(&s, end, &ts) || !get_u64(&s, end, &mask) || s >= end)
            goto trunc;
        uint8_t idlen = *s++;
        if (idlen > FW_LANG_TXN_ID_MAX || end - s < idlen)
            goto trunc;
        fw_str tid = { (const char *)s, idlen };
        s += idlen;
        uint64_t amt = (uint64_t)FW_LANG_NO_AMOUNT;
        if (!v2 && !get_u64(&s, end, &amt))
            goto trunc;
        for (size_t a = 0; a < t->naggs; a++) {
            uint64_t v;
            if (!get_u64(&s, end, &v))
                goto trunc;
            vals[a] = (fw_dec)v;
        }
        if (j && (int64_t)ts < k->ev[(k->head + k->n - 1) % k->cap].ts && t->score) {
            lang_key_remove(st, part, k, false);
            BAD("%s: state with events out of time order", id);
        }
        if (!lang_push(st, t, k, (int64_t)ts, (fw_dec)amt, tid, (uint32_t)mask, vals)) {
            lang_key_remove(st, part, k, false);
            return FW_ERR_NOMEM;
        }
    }
    if (t->score) {
        uint64_t lo, hi, an, seen;
        if (!get_u64(&s, end, &lo) || !get_u64(&s, end, &hi) || !get_u64(&s, end, &an) ||
            !get_u64(&s, end, &seen) || s >= end || *s > 1 || (int64_t)an < 0)
            goto trunc;
        k->avg_sum = (i128)((unsigned __int128)hi << 64 | lo);
        k->avg_n = (int64_t)an;
        k->sc_seen = (int64_t)seen;
        k->episode = *s++ != 0;
    }
    if (t->lead->kind == FW_LANG_SEQUENCE) {
        const fw_lang_rule *r = t->lead;
        uint64_t npm;
        if (!get_u64(&s, end, &npm))
            goto trunc;
        if (npm > lang_seq_bound(st)) {
            lang_key_remove(st, part, k, false);
            BAD("%s: state with %" PRIu64 " partial matches, above the bound %u", id, npm,
                lang_seq_bound(st));
        }
        if (npm && !(k->pm = calloc(npm, sizeof(*k->pm)))) {
            lang_key_remove(st, part, k, false);
            return FW_ERR_NOMEM;
        }
        k->pmcap = (uint32_t)npm;
        for (uint64_t j = 0; j < npm; j++) {
            lpm *pm = &k->pm[j];
            uint64_t ts, w;
            if (!get_u64(&s, end, &ts) || !get_u64(&s, end, &w))
                goto trunc;
            *pm = (lpm){ .start = (int64_t)ts, .step = (uint16_t)w, .cnt = (uint16_t)(w >> 16),
                         .nmatched = (uint32_t)(w >> 32) };
            if (pm->step >= r->nsteps || !pm->cnt || pm->cnt > r->steps[pm->step].times ||
                lang_pm_complete(r, pm)) {
                lang_key_remove(st, part, k, false);
                BAD("%s: a partial match at step %u, %u times: not of this rule", id,
                    pm->step, pm->cnt);
            }
            for (uint32_t e = 0; e < pm->nmatched && e < FW_LANG_SEQ_EVIDENCE; e++) {
                if (s >= end || *s > FW_LANG_TXN_ID_MAX || end - s - 1 < *s)
                    goto trunc;
                pm->idlen[e] = *s++;
                memcpy(pm->id[e], s, pm->idlen[e]);
                s += pm->idlen[e];
                /* Format 2: only the first one's time is known (the start). */
                uint64_t ets = e ? (uint64_t)INT64_MIN : (uint64_t)pm->start;
                uint64_t amt = (uint64_t)FW_LANG_NO_AMOUNT;
                if (!v2 && (!get_u64(&s, end, &ets) || !get_u64(&s, end, &amt)))
                    goto trunc;
                pm->ts[e] = (int64_t)ets;
                pm->amount[e] = (fw_dec)amt;
            }
            k->npm++;
        }
    }
    if (has_history(t->lead)) {
        uint64_t has_prev, nseen;
        if (!get_u64(&s, end, &has_prev) || has_prev > 1)
            goto trunc;
        if (has_prev) {
            uint64_t ts, bits[3], w;
            int32_t len[PF_N];
            if (!get_u64(&s, end, &ts) || !get_u64(&s, end, &bits[0]) ||
                !get_u64(&s, end, &bits[1]) || !get_u64(&s, end, &bits[2]) ||
                !get_u64(&s, end, &w))
                goto trunc;
            uint64_t amt = (uint64_t)FW_LANG_NO_AMOUNT;
            if (!v2 && !get_u64(&s, end, &amt))
                goto trunc;
            /* Slices of the record, then one fw_txn made of them, copied as live. */
            fw_txn *v = &st->prevtxn;
            memset(v, 0, sizeof(*v));
            for (int f = 0; f < PF_N; f++) {
                uint64_t l;
                if (!get_u64(&s, end, &l) || ((int64_t)l >= 0 && (uint64_t)(end - s) < l) ||
                    (int64_t)l < -1)
                    goto trunc;
                len[f] = (int32_t)(int64_t)l;
                *txn_str(v, f) = len[f] < 0 ? FW_STR_NULL : (fw_str){ (const char *)s, (size_t)len[f] };
                s += len[f] < 0 ? 0 : len[f];
            }
            v->ts_ms = (int64_t)ts;
            memcpy(&v->amount, &bits[0], 8);
            memcpy(&v->lat, &bits[1], 8);
            memcpy(&v->lon, &bits[2], 8);
            v->has = (uint32_t)w;
            v->type = (fw_txn_type)(w >> 32);
            /* Format 2: the amount_raw it kept (a rule reading prev.amount), else none. */
            v->amount_dec = (fw_dec)amt;
            v->amount_dec_set = amt != (uint64_t)FW_LANG_NO_AMOUNT;
            /* Every field as written: the rule's mask picks the same ones again. */
            if (!lang_prev_keep(t, k, v)) {
                lang_key_remove(st, part, k, false);
                return FW_ERR_NOMEM;
            }
            for (int f = 0; f < PF_N; f++)
                if (k->prev->len[f] != len[f])
                    goto trunc; /* a field the rule does not read: not this rule's bytes */
        }
        if (!get_u64(&s, end, &nseen))
            goto trunc;
        if (nseen > (st->rs->max_window_events ? st->rs->max_window_events : 1)) {
            lang_key_remove(st, part, k, false);
            BAD("%s: state with %" PRIu64 " seen values, above max_window_events", id, nseen);
        }
        for (uint64_t i = 0; i < nseen; i++) {
            uint64_t hv, seen_at;
            if (!get_u64(&s, end, &hv) || !get_u64(&s, end, &seen_at) || !(hv & 1))
                goto trunc;
            lang_seen_add(st, t->lead, k, hv, (int64_t)seen_at);
        }
        if (k->nseen != nseen)
            goto trunc;
    }
    if (s != end) {
        lang_key_remove(st, part, k, false);
        BAD("%s: %zu bytes after the state", id, (size_t)(end - s));
    }
    return FW_OK;
trunc:
    lang_key_remove(st, part, k, false);
    BAD("%s: state truncated", id);
#undef BAD
}

/* ---- changes for the changelog ---- */

void fw_lang_state_track_changes(fw_lang_state *st) { st->track = true; }

void fw_lang_state_set_replay(fw_lang_state *st, bool on) { st->replay = on; }

bool fw_lang_state_touch_key(fw_lang_state *st, size_t part, fw_str key) {
    if (part >= st->ntab || key.len > FW_LANG_MAX_KEY)
        return false;
    lkey *k = key_find(st, part, key.ptr, key.len, fw_hash64(key.ptr, key.len, KEY_SEED));
    if (k)
        mark(st, k);
    return k != NULL;
}

size_t fw_lang_state_nparts(const fw_lang_state *st) { return st ? st->ntab : 0; }

const fw_lang_rule *fw_lang_state_part_rule(const fw_lang_state *st, size_t part) {
    return part < st->ntab ? st->tab[part].lead : NULL;
}

uint64_t fw_lang_state_part_id(const fw_lang_state *st, size_t part) {
    return part < st->ntab ? st->tab[part].id : 0;
}

size_t fw_lang_state_find_part(const fw_lang_state *st, uint64_t id) {
    for (size_t g = 0; g < st->ntab; g++)
        if (st->tab[g].id == id)
            return g;
    return SIZE_MAX;
}

void fw_lang_state_changes(fw_lang_state *st,
                           void (*fn)(void *opaque, size_t part, fw_str key, bool held),
                           void *opaque) {
    for (size_t off = 0; off + 4 <= st->deleted.len;) {
        uint16_t hdr[2];
        memcpy(hdr, st->deleted.data + off, sizeof(hdr));
        fn(opaque, hdr[0], (fw_str){ st->deleted.data + off + 4, hdr[1] }, false);
        off += 4u + hdr[1];
    }
    fw_buf_reset(&st->deleted);
    for (uint32_t i = 0; i < st->ndirty; i++) {
        lkey *k = st->dirty[i];
        k->dirty = false;
        fn(opaque, k->part, (fw_str){ k->key, k->keylen }, true);
    }
    st->ndirty = 0;
}
