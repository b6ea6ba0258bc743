/* detect.c — the ordered detectors: velocity windows, sequence patterns
 * (small_then_large, rapid_small, location_jump, account_takeover), AML
 * structuring and the risk score. Each sees one entity's transactions in
 * event-time order and decides on event time alone, so the same input gives
 * the same alerts in any arrival order within the out-of-orderness bound.
 * Time bounds are strict, as in Flink CEP's within(): a pattern spanning
 * exactly the bound does not match. */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "engine_int.h"
#include "fw_hash.h"

void fw_evrec_from_txn(fw_evrec *r, const fw_txn *t) {
    memset(r, 0, sizeof(*r));
    r->ts = t->ts_ms;
    r->amount = t->amount;
    r->type = (uint8_t)t->type;
    r->merchant = t->merchant_id.ptr ? fw_hash64(t->merchant_id.ptr, t->merchant_id.len, 7) | 1
                                     : 0;
    r->has_geo = (t->has & (FW_TXN_HAS_LAT | FW_TXN_HAS_LON)) ==
                 (FW_TXN_HAS_LAT | FW_TXN_HAS_LON);
    r->lat = (float)t->lat;
    r->lon = (float)t->lon;
    if (t->country.ptr && t->country.len < sizeof(r->country))
        memcpy(r->country, t->country.ptr, t->country.len);
    r->idlen = (uint8_t)(t->transaction_id.len < FW_ID_MAX ? t->transaction_id.len : FW_ID_MAX);
    memcpy(r->id, t->transaction_id.ptr, r->idlen);
    r->amtlen = (uint8_t)(t->amount_raw.len < FW_AMOUNT_MAX ? t->amount_raw.len
                                                            : FW_AMOUNT_MAX);
    memcpy(r->amount_raw, t->amount_raw.ptr, r->amtlen);
}

static void add_evidence(fw_engine *e, size_t *n, const fw_evrec *r) {
    e->evidence[(*n)++] = (fw_evidence){ .transaction_id = { r->id, r->idlen },
                                         .ts_ms = r->ts,
                                         .amount_raw = { r->amount_raw, r->amtlen } };
}

/* Emits unless the same rule alerted on this entity within the dedupe window. */
static void raise_alert(fw_engine *e, fw_entity *ent, fw_rule_id rule, const fw_txn *t,
                        size_t nev, int64_t wstart, int64_t wend, const fw_profile *prof) {
    int64_t last = ent->last_alert[rule];
    if (last != INT64_MIN && llabs(t->ts_ms - last) < e->rules.time.dedupe_window_ms) {
        e->stats.deduplicated[rule]++;
        return;
    }
    if (t->ts_ms > last || last == INT64_MIN)
        ent->last_alert[rule] = t->ts_ms;
    fw_engine_touch(e, ent);
    if (ent->kind == FW_ENT_PAIR) { /* "account->counterparty" */
        const char *sep = memchr(ent->key, '\x1f', ent->keylen);
        size_t a = sep ? (size_t)(sep - ent->key) : ent->keylen;
        snprintf(e->entity_id, sizeof(e->entity_id), "%.*s->%.*s", (int)a, ent->key,
                 sep ? (int)(ent->keylen - a - 1) : 0, sep ? sep + 1 : "");
    } else {
        snprintf(e->entity_id, sizeof(e->entity_id), "%.*s", (int)ent->keylen, ent->key);
    }
    fw_alert a = { .rule = rule, .rc = &e->rules.common[rule],
                   .entity_type = fw_entity_kind_name((fw_entity_kind)ent->kind),
                   .entity_id = fw_str_c(e->entity_id), .event_time = t->ts_ms,
                   .detected_at = t->ts_ms, .window_start = wstart, .window_end = wend,
                   .reason = e->reason, .evidence = e->evidence, .nevidence = nev, .txn = t,
                   .profile = prof };
    e->stats.alerts[rule]++;
    e->out->alert(e->out->opaque, &a);
}

static int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

/* The earliest aligned sliding window [start, start + size) containing @p ts
 * in which @p ok_fn holds; returns its start or INT64_MIN. */
typedef bool (*window_ok_fn)(fw_engine *e, const fw_evlist *l, int64_t start, int64_t end,
                             void *arg);
static int64_t first_window(fw_engine *e, const fw_evlist *l, int64_t ts, int64_t size,
                            int64_t slide, window_ok_fn ok, void *arg) {
    int64_t last_start = floor_div(ts, slide) * slide;
    for (int64_t start = last_start - size + slide; start <= last_start; start += slide)
        if (start + size > ts && ok(e, l, start, start + size, arg))
            return start;
    return INT64_MIN;
}

/* ---- velocity: >= N transactions above X on one account in a sliding window ---- */

static bool velocity_ok(fw_engine *e, const fw_evlist *l, int64_t start, int64_t end,
                        void *arg) {
    (void)arg;
    int n = 0;
    for (uint32_t i = 0; i < l->n; i++)
        n += l->ev[i].ts >= start && l->ev[i].ts < end;
    return n >= e->rules.velocity.min_count;
}

static void detect_velocity(fw_engine *e, fw_entity *acct, const fw_txn *t) {
    const __typeof__(e->rules.velocity) *p = &e->rules.velocity;
    if (!(t->amount > p->min_amount))
        return;
    fw_evrec r;
    fw_evrec_from_txn(&r, t);
    fw_evlist_insert(&e->state, &acct->win, &r,
                     t->ts_ms - p->window_ms - e->rules.time.allowed_lateness_ms);
    fw_engine_touch(e, acct);
    int64_t start = first_window(e, &acct->win, t->ts_ms, p->window_ms, p->slide_ms,
                                 velocity_ok, NULL);
    if (start == INT64_MIN)
        return;
    size_t nev = 0;
    for (uint32_t i = 0; i < acct->win.n; i++)
        if (acct->win.ev[i].ts >= start && acct->win.ev[i].ts < start + p->window_ms)
            add_evidence(e, &nev, &acct->win.ev[i]);
    snprintf(e->reason, sizeof(e->reason),
             "%zu transactions above %.2f within the %lld-minute window; the limit is %d",
             nev, p->min_amount, (long long)(p->window_ms / 60000), p->min_count);
    raise_alert(e, acct, FW_RULE_VELOCITY, t, nev, start, start + p->window_ms, NULL);
}

/* ---- small_then_large: a card's transaction below X, its next one above Y ---- */

static void detect_small_then_large(fw_engine *e, fw_entity *card, const fw_txn *t) {
    const __typeof__(e->rules.small_then_large) *p = &e->rules.small_then_large;
    if (card->has_prev && card->prev.amount < p->small_below && t->amount > p->large_above &&
        t->ts_ms - card->prev.ts < p->within_ms) {
        size_t nev = 0;
        fw_evrec cur;
        fw_evrec_from_txn(&cur, t);
        add_evidence(e, &nev, &card->prev);
        add_evidence(e, &nev, &cur);
        snprintf(e->reason, sizeof(e->reason),
                 "a %.2f transaction (below %.2f) followed %.1f s later on the same card by "
                 "%.2f (above %.2f), within %lld minutes",
                 card->prev.amount, p->small_below, (double)(t->ts_ms - card->prev.ts) / 1000,
                 t->amount, p->large_above, (long long)(p->within_ms / 60000));
        raise_alert(e, card, FW_RULE_SMALL_THEN_LARGE, t, nev, card->prev.ts,
                    card->prev.ts + p->within_ms, NULL);
    }
}

/* ---- rapid_small: N consecutive transactions below X within T ---- */

static void detect_rapid_small(fw_engine *e, fw_entity *cust, const fw_txn *t) {
    const __typeof__(e->rules.rapid_small) *p = &e->rules.rapid_small;
    fw_evlist *run = &cust->recent;
    if (!(t->amount < p->below) || t->type == FW_TXN_LOGIN ||
        t->type == FW_TXN_PASSWORD_CHANGE) {
        if (run->n && !(t->type == FW_TXN_LOGIN || t->type == FW_TXN_PASSWORD_CHANGE))
            run->n = 0; /* a monetary transaction that is not small breaks the run */
        return;
    }
    if (run->n >= (uint32_t)p->count) { /* keep the last count - 1, then append */
        uint32_t drop = run->n - (uint32_t)p->count + 1;
        memmove(run->ev, run->ev + drop, sizeof(fw_evrec) * (run->n - drop));
        run->n -= drop;
    }
    fw_evrec r;
    fw_evrec_from_txn(&r, t);
    fw_evlist_insert(&e->state, run, &r, INT64_MIN);
    if (run->n == (uint32_t)p->count && t->ts_ms - run->ev[0].ts < p->within_ms) {
        size_t nev = 0;
        for (uint32_t i = 0; i < run->n; i++)
            add_evidence(e, &nev, &run->ev[i]);
        snprintf(e->reason, sizeof(e->reason),
                 "%d consecutive transactions each below %.2f within %.1f minutes (limit %lld "
                 "minutes)",
                 p->count, p->below, (double)(t->ts_ms - run->ev[0].ts) / 60000,
                 (long long)(p->within_ms / 60000));
        raise_alert(e, cust, FW_RULE_RAPID_SMALL, t, nev, run->ev[0].ts,
                    run->ev[0].ts + p->within_ms, NULL);
    }
}

/* ---- location_jump: consecutive transactions in two countries within T ---- */

static double haversine_km(double lat1, double lon1, double lat2, double lon2) {
    const double rad = M_PI / 180.0;
    double dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
    double a = sin(dlat / 2) * sin(dlat / 2) +
               cos(lat1 * rad) * cos(lat2 * rad) * sin(dlon / 2) * sin(dlon / 2);
    return 2 * 6371.0 * asin(sqrt(a < 1 ? a : 1));
}

static void detect_location_jump(fw_engine *e, fw_entity *cust, const fw_txn *t,
                                 const fw_evrec *cur) {
    const __typeof__(e->rules.location_jump) *p = &e->rules.location_jump;
    const fw_evrec *prev = &cust->prev;
    if (!cust->has_prev || !prev->country[0] || !cur->country[0] ||
        !strcmp(prev->country, cur->country) || !(t->ts_ms - prev->ts < p->within_ms))
        return;
    double minutes = (double)(t->ts_ms - prev->ts) / 60000;
    if (prev->has_geo && cur->has_geo) {
        double km = haversine_km(prev->lat, prev->lon, cur->lat, cur->lon);
        double hours = (double)(t->ts_ms - prev->ts) / 3600000.0;
        double kmh = hours > 0 ? km / hours : INFINITY;
        if (!(kmh > p->max_speed_kmh))
            return; /* reachable in time: a border crossing, not a jump */
        snprintf(e->reason, sizeof(e->reason),
                 "transactions in %s then %s %.1f minutes apart: %.0f km, an implied %.0f km/h "
                 "(limit %.0f km/h)",
                 prev->country, cur->country, minutes, km, kmh, p->max_speed_kmh);
    } else {
        snprintf(e->reason, sizeof(e->reason),
                 "consecutive transactions in %s then %s %.1f minutes apart (limit %lld minutes)",
                 prev->country, cur->country, minutes, (long long)(p->within_ms / 60000));
    }
    size_t nev = 0;
    add_evidence(e, &nev, prev);
    add_evidence(e, &nev, cur);
    raise_alert(e, cust, FW_RULE_LOCATION_JUMP, t, nev, prev->ts, prev->ts + p->within_ms,
                NULL);
}

/* ---- account_takeover: PASSWORD_CHANGE, then at once a large WITHDRAWAL ---- */

static void detect_account_takeover(fw_engine *e, fw_entity *cust, const fw_txn *t,
                                    const fw_evrec *cur) {
    const __typeof__(e->rules.account_takeover) *p = &e->rules.account_takeover;
    const fw_evrec *prev = &cust->prev;
    if (!cust->has_prev || prev->type != FW_TXN_PASSWORD_CHANGE ||
        t->type != FW_TXN_WITHDRAWAL || !(t->amount > p->min_amount) ||
        !(t->ts_ms - prev->ts < p->within_ms))
        return;
    size_t nev = 0;
    add_evidence(e, &nev, prev);
    add_evidence(e, &nev, cur);
    snprintf(e->reason, sizeof(e->reason),
             "a password change followed %.1f minutes later by a %.2f withdrawal (above %.2f, "
             "within %lld minutes)",
             (double)(t->ts_ms - prev->ts) / 60000, t->amount, p->min_amount,
             (long long)(p->within_ms / 60000));
    raise_alert(e, cust, FW_RULE_ACCOUNT_TAKEOVER, t, nev, prev->ts, prev->ts + p->within_ms,
                NULL);
}

/* ---- structuring: transfers below X to one counterparty summing above Y ---- */

static void detect_structuring(fw_engine *e, fw_entity *pair, const fw_txn *t) {
    const __typeof__(e->rules.structuring) *p = &e->rules.structuring;
    if (!(t->amount < p->below) || !(t->amount > 0))
        return;
    fw_evrec r;
    fw_evrec_from_txn(&r, t);
    int64_t from = t->ts_ms - p->window_ms; /* the window is (from, ts] */
    fw_evlist_insert(&e->state, &pair->win, &r, from - e->rules.time.allowed_lateness_ms);
    fw_engine_touch(e, pair);
    double sum = 0;
    for (uint32_t i = 0; i < pair->win.n; i++)
        if (pair->win.ev[i].ts > from && pair->win.ev[i].ts <= t->ts_ms)
            sum += pair->win.ev[i].amount;
    if (!(sum > p->total_above))
        return;
    size_t nev = 0;
    uint32_t keep = 0;
    for (uint32_t i = 0; i < pair->win.n; i++) {
        fw_evrec *ev = &pair->win.ev[i];
        if (ev->ts > from && ev->ts <= t->ts_ms)
            add_evidence(e, &nev, ev);
        else
            pair->win.ev[keep++] = *ev;
    }
    snprintf(e->reason, sizeof(e->reason),
             "%zu transfers each below %.2f to one counterparty total %.2f within %lld hours "
             "(limit %.2f)",
             nev, p->below, sum, (long long)(p->window_ms / 3600000), p->total_above);
    raise_alert(e, pair, FW_RULE_STRUCTURING, t, nev, from, t->ts_ms, NULL);
    /* Reported funds are reported once: a new alert needs new transfers. */
    pair->win.n = keep;
}

/* ---- risk_score: points for unusually large amounts and many merchants ---- */

typedef struct risk_arg {
    int score, large, merchants;
    uint64_t *seen;   /* scratch for distinct merchants */
} risk_arg;

static bool risk_ok(fw_engine *e, const fw_evlist *l, int64_t start, int64_t end, void *arg) {
    const __typeof__(e->rules.risk_score) *p = &e->rules.risk_score;
    risk_arg *ra = arg;
    int large = 0, distinct = 0;
    for (uint32_t i = 0; i < l->n; i++) {
        const fw_evrec *ev = &l->ev[i];
        if (ev->ts < start || ev->ts >= end)
            continue;
        large += ev->flag;
        if (ev->merchant) {
            int k = 0;
            while (k < distinct && ra->seen[k] != ev->merchant)
                k++;
            if (k == distinct)
                ra->seen[distinct++] = ev->merchant;
        }
    }
    ra->large = large;
    ra->merchants = distinct;
    ra->score = large * p->large_points + (distinct > p->max_merchants ? p->merchant_points : 0);
    return ra->score >= p->alert_at;
}

static void detect_risk_score(fw_engine *e, fw_entity *cust, const fw_txn *t) {
    const __typeof__(e->rules.risk_score) *p = &e->rules.risk_score;
    if (!(t->amount > 0))
        return; /* logins and password changes carry no amount */
    fw_evrec r;
    fw_evrec_from_txn(&r, t);
    /* The profile's typical amount when there is one, else the running average. */
    const fw_profile *prof = fw_profiles_get(e->profiles, t->customer_id);
    if (prof && !prof->has_avg)
        prof = NULL;
    double avg = prof ? prof->avg_amount
                      : cust->amount_n ? cust->amount_sum / (double)cust->amount_n : 0;
    r.flag = (prof || cust->amount_n > 0) && t->amount > p->amount_multiple * avg;
    fw_evlist_insert(&e->state, &cust->win, &r,
                     t->ts_ms - p->window_ms - e->rules.time.allowed_lateness_ms);
    fw_engine_touch(e, cust);
    risk_arg ra = { .seen = (uint64_t *)(e->evidence + e->rules.limits.max_window_events + 2) };
    int64_t start = first_window(e, &cust->win, t->ts_ms, p->window_ms, p->slide_ms, risk_ok,
                                 &ra);
    if (start == INT64_MIN)
        return;
    size_t nev = 0;
    for (uint32_t i = 0; i < cust->win.n; i++) {
        const fw_evrec *ev = &cust->win.ev[i];
        if (ev->ts >= start && ev->ts < start + p->window_ms && ev->flag)
            add_evidence(e, &nev, ev);
    }
    if (!r.flag) /* the transaction that completed the score is evidence too */
        add_evidence(e, &nev, &r);
    snprintf(e->reason, sizeof(e->reason),
             "risk score %d reached the limit of %d: %d transactions above %.1fx the %s "
             "average of %.2f (+%d each) and %d distinct merchants (+%d above %d)",
             ra.score, p->alert_at, ra.large, p->amount_multiple, prof ? "profile" : "running",
             avg, p->large_points, ra.merchants, p->merchant_points, p->max_merchants);
    raise_alert(e, cust, FW_RULE_RISK_SCORE, t, nev, start, start + p->window_ms, prof);
}

/* ---- dispatch ---- */

static bool enabled(const fw_engine *e, fw_rule_id r) { return e->rules.common[r].enabled; }

/* Starts an entity afresh when it has been idle past its logical horizon,
 * whether or not the sweep has freed it yet; then records the event time. */
static fw_entity *refresh(fw_engine *e, fw_entity *ent, const fw_txn *t) {
    if (ent->last_ts != INT64_MIN && t->ts_ms - ent->last_ts > e->logical_horizon[ent->kind]) {
        ent->has_prev = false;
        ent->recent.n = ent->win.n = 0;
        ent->amount_sum = 0;
        ent->amount_n = 0;
        for (int r = 0; r < FW_RULE__COUNT; r++)
            ent->last_alert[r] = INT64_MIN;
        fw_engine_touch(e, ent);
    }
    if (t->ts_ms > ent->last_ts) {
        ent->last_ts = t->ts_ms;
        fw_engine_touch(e, ent);
    }
    return ent;
}

static fw_entity *entity(fw_engine *e, fw_entity_kind k, fw_str id, const fw_txn *t) {
    if (!id.ptr)
        return NULL;
    fw_entity *ent = fw_state_get(&e->state, k, id, true);
    if (!ent) {
        if (id.len > FW_ID_MAX)
            e->stats.id_too_long++;
        return NULL;
    }
    return refresh(e, ent, t);
}

void fw_detect(fw_engine *e, const fw_txn *t, bool behind) {
    fw_evrec cur;
    fw_evrec_from_txn(&cur, t);
    fw_entity *acct = NULL, *card = NULL, *cust = NULL, *pair = NULL;
    if (enabled(e, FW_RULE_VELOCITY) && (acct = entity(e, FW_ENT_ACCOUNT, t->account_id, t)))
        detect_velocity(e, acct, t);
    if (enabled(e, FW_RULE_STRUCTURING) && t->type == FW_TXN_TRANSFER &&
        t->counterparty_id.ptr && t->account_id.ptr &&
        (pair = fw_state_get_pair(&e->state, t->account_id, t->counterparty_id, true))) {
        refresh(e, pair, t);
        detect_structuring(e, pair, t);
    }
    if (t->customer_id.ptr && (cust = entity(e, FW_ENT_CUSTOMER, t->customer_id, t))) {
        if (enabled(e, FW_RULE_RISK_SCORE))
            detect_risk_score(e, cust, t);
        if (!behind) {
            if (enabled(e, FW_RULE_RAPID_SMALL))
                detect_rapid_small(e, cust, t);
            if (enabled(e, FW_RULE_LOCATION_JUMP))
                detect_location_jump(e, cust, t, &cur);
            if (enabled(e, FW_RULE_ACCOUNT_TAKEOVER))
                detect_account_takeover(e, cust, t, &cur);
            cust->prev = cur;
            cust->has_prev = true;
        }
        if (t->amount > 0) {
            cust->amount_sum += t->amount;
            cust->amount_n++;
        }
        fw_engine_touch(e, cust);
    }
    if (!behind && t->card_id.ptr && enabled(e, FW_RULE_SMALL_THEN_LARGE) &&
        (card = entity(e, FW_ENT_CARD, t->card_id, t))) {
        detect_small_then_large(e, card, t);
        card->prev = cur;
        card->has_prev = true;
        fw_engine_touch(e, card);
    }
}
