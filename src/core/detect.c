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
#include "fw_geo.h"
#include "fw_hash.h"

/* cycle and mule_cashout weigh at most this many of the latest transfers an
 * account received (docs/rules.md); more are counted in scan_limited. A
 * busy account (an exchange, a payroll account) then costs a bounded amount
 * per transfer; mules and layering chains receive far fewer. */
#define FW_SCAN_MAX 128

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
    if (*n >= (size_t)e->rules.limits.max_window_events + 2)
        return; /* two full lists (mule_cashout) can exceed the slots: keep the first */
    e->evidence[(*n)++] = (fw_evidence){ .transaction_id = { r->id, r->idlen },
                                         .ts_ms = r->ts,
                                         .amount_raw = { r->amount_raw, r->amtlen } };
}

/* True, and counted, when the same rule alerted on this entity within the
 * dedupe window: rules whose evidence costs a walk over a window ask before
 * they assemble it. */
static bool deduplicated(fw_engine *e, const fw_entity *ent, fw_rule_id rule, int64_t ts) {
    int64_t last = ent->last_alert[rule];
    if (last != INT64_MIN && llabs(ts - last) < e->rules.time.dedupe_window_ms) {
        e->stats.deduplicated[rule]++;
        return true;
    }
    return false;
}

/* Emits an alert that deduplicated() let through. */
static void emit_alert(fw_engine *e, fw_entity *ent, fw_rule_id rule, const fw_txn *t,
                       size_t nev, int64_t wstart, int64_t wend, const fw_profile *prof) {
    int64_t last = ent->last_alert[rule];
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
    /* Inbound state belongs to the receiving account: alerts name the account. */
    fw_entity_kind kind = ent->kind == FW_ENT_INBOUND ? FW_ENT_ACCOUNT : ent->kind;
    fw_alert a = { .rule = rule, .rc = &e->rules.common[rule],
                   .entity_type = fw_entity_kind_name(kind),
                   .entity_id = fw_str_c(e->entity_id), .event_time = t->ts_ms,
                   .detected_at = t->ts_ms, .window_start = wstart, .window_end = wend,
                   .reason = e->reason, .evidence = e->evidence, .nevidence = nev, .txn = t,
                   .profile = prof };
    e->stats.alerts[rule]++;
    e->out->alert(e->out->opaque, &a);
}

/* Emits unless the same rule alerted on this entity within the dedupe window. */
static void raise_alert(fw_engine *e, fw_entity *ent, fw_rule_id rule, const fw_txn *t,
                        size_t nev, int64_t wstart, int64_t wend, const fw_profile *prof) {
    if (!deduplicated(e, ent, rule, t->ts_ms))
        emit_alert(e, ent, rule, t, nev, wstart, wend, prof);
}

static bool enabled(const fw_engine *e, fw_rule_id r) { return e->rules.common[r].enabled; }

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
    uint32_t n = fw_evlist_find(l, end, false) - fw_evlist_find(l, start, false);
    return n >= (uint32_t)e->rules.velocity.min_count;
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
    if (start == INT64_MIN || deduplicated(e, acct, FW_RULE_VELOCITY, t->ts_ms))
        return;
    size_t nev = 0;
    uint32_t end = fw_evlist_find(&acct->win, start + p->window_ms, false);
    for (uint32_t i = fw_evlist_find(&acct->win, start, false); i < end; i++)
        add_evidence(e, &nev, &acct->win.ev[i]);
    snprintf(e->reason, sizeof(e->reason),
             "%zu transactions above %.2f within the %lld-minute window; the limit is %d",
             nev, p->min_amount, (long long)(p->window_ms / 60000), p->min_count);
    emit_alert(e, acct, FW_RULE_VELOCITY, t, nev, start, start + p->window_ms, NULL);
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
            fw_evlist_clear(run); /* a monetary transaction that is not small breaks the run */
        return;
    }
    if (run->n >= (uint32_t)p->count) /* keep the last count - 1, then append */
        fw_evlist_drop_front(run, run->n - (uint32_t)p->count + 1);
    fw_evrec r;
    fw_evrec_from_txn(&r, t);
    fw_evlist_insert(&e->state, run, &r, INT64_MIN);
    if (run->n == (uint32_t)p->count && t->ts_ms - run->ev[0].ts < p->within_ms &&
        !deduplicated(e, cust, FW_RULE_RAPID_SMALL, t->ts_ms)) {
        size_t nev = 0;
        for (uint32_t i = 0; i < run->n; i++)
            add_evidence(e, &nev, &run->ev[i]);
        snprintf(e->reason, sizeof(e->reason),
                 "%d consecutive transactions each below %.2f within %.1f minutes (limit %lld "
                 "minutes)",
                 p->count, p->below, (double)(t->ts_ms - run->ev[0].ts) / 60000,
                 (long long)(p->within_ms / 60000));
        emit_alert(e, cust, FW_RULE_RAPID_SMALL, t, nev, run->ev[0].ts,
                   run->ev[0].ts + p->within_ms, NULL);
    }
}

/* ---- location_jump: consecutive transactions in two countries within T ---- */

static void detect_location_jump(fw_engine *e, fw_entity *cust, const fw_txn *t,
                                 const fw_evrec *cur) {
    const __typeof__(e->rules.location_jump) *p = &e->rules.location_jump;
    const fw_evrec *prev = &cust->prev;
    if (!cust->has_prev || !prev->country[0] || !cur->country[0] ||
        !(t->ts_ms - prev->ts < p->within_ms))
        return;
    bool geo = prev->has_geo && cur->has_geo;
    bool same_country = !strcmp(prev->country, cur->country);
    if (same_country && !geo)
        return; /* within one country only coordinates can show impossible travel */
    double minutes = (double)(t->ts_ms - prev->ts) / 60000;
    if (geo) {
        double km = fw_haversine_km(prev->lat, prev->lon, cur->lat, cur->lon);
        double hours = (double)(t->ts_ms - prev->ts) / 3600000.0;
        double kmh = hours > 0 ? km / hours : INFINITY;
        if (!(kmh > p->max_speed_kmh))
            return; /* reachable in time: a border crossing, not a jump */
        if (same_country && !(km > p->min_distance_km))
            return; /* one city's spread (and GPS noise) is no journey */
        if (same_country)
            snprintf(e->reason, sizeof(e->reason),
                     "impossible travel within %s: transactions %.1f minutes apart, %.0f km, an "
                     "implied %.0f km/h (limit %.0f km/h)",
                     cur->country, minutes, km, kmh, p->max_speed_kmh);
        else
            snprintf(e->reason, sizeof(e->reason),
                     "transactions in %s then %s %.1f minutes apart: %.0f km, an implied %.0f "
                     "km/h (limit %.0f km/h)",
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
    fw_evlist *w = &pair->win;
    fw_evlist_insert(&e->state, w, &r, from - e->rules.time.allowed_lateness_ms);
    fw_engine_touch(e, pair);
    uint32_t lo = fw_evlist_find(w, from, true), hi = fw_evlist_find(w, t->ts_ms, true);
    fw_units sum = fw_evlist_units(w, lo, hi);
    if (!(sum > fw_units_of(p->total_above)))
        return;
    size_t nev = 0;
    for (uint32_t i = lo; i < hi; i++)
        add_evidence(e, &nev, &w->ev[i]);
    snprintf(e->reason, sizeof(e->reason),
             "%zu transfers each below %.2f to one counterparty total %.2f within %lld hours "
             "(limit %.2f)",
             nev, p->below, (double)sum / FW_UNITS_PER_1, (long long)(p->window_ms / 3600000),
             p->total_above);
    raise_alert(e, pair, FW_RULE_STRUCTURING, t, nev, from, t->ts_ms, NULL);
    /* Reported funds are reported once: a new alert needs new transfers. In
     * time order they are the list's end, so the list is cut short. */
    if (hi < w->n) {
        memmove(w->ev + lo, w->ev + hi, sizeof(fw_evrec) * (w->n - hi));
        w->n -= hi - lo;
        fw_evlist_recount(w, lo);
    } else {
        w->n = lo;
    }
}

/* ---- distinct keys of a list: scanned when short, indexed when long ---- */

/* Whether @p r counts toward the distinct keys the entity's rule counts:
 * a customer's merchants (risk_score), an account's counterparties
 * (fan_out), a receiver's senders (fan_in) not yet in an alert. */
static bool distinct_counts(const fw_engine *e, const fw_entity *ent, const fw_evrec *r) {
    if (!r->merchant)
        return false;
    switch (ent->kind) {
    case FW_ENT_CUSTOMER:
        return true;
    case FW_ENT_ACCOUNT:
        return r->amount > e->rules.fan_out.min_amount && !(r->flags & FW_EV_FAN_REPORTED);
    case FW_ENT_INBOUND:
        return r->amount > e->rules.fan_in.min_amount && !(r->flags & FW_EV_FAN_REPORTED);
    default:
        return false;
    }
}

static const fw_evlist *distinct_list(const fw_entity *ent) {
    return ent->kind == FW_ENT_ACCOUNT ? &ent->recent : &ent->win;
}

/* The entity's distinct-key index, built from its list when stale; NULL
 * (counted) when there is no memory for it: callers then scan. */
static fw_distinct *distinct_index(fw_engine *e, fw_entity *ent) {
    if (ent->distinct && ent->distinct_valid)
        return ent->distinct;
    if (!ent->distinct && !(ent->distinct = fw_distinct_new()))
        goto fail;
    fw_distinct_clear(ent->distinct);
    const fw_evlist *l = distinct_list(ent);
    for (uint32_t i = 0; i < l->n; i++)
        if (distinct_counts(e, ent, &l->ev[i]) &&
            !fw_distinct_note(ent->distinct, l->ev[i].merchant, l->ev[i].ts))
            goto fail;
    ent->distinct_valid = true;
    return ent->distinct;
fail:
    e->state.stats.index_failures++;
    return NULL;
}

/* Keeps a live index in step with record @p r just added to its list, whose
 * events before @p keep_from are gone. */
static void distinct_added(fw_engine *e, fw_entity *ent, const fw_evrec *r, int64_t keep_from) {
    if (r->ts < ent->reported_until) /* behind a report: the next one must look at all */
        ent->reported_until = INT64_MIN;
    if (!ent->distinct_valid)
        return;
    if (distinct_counts(e, ent, r) && !fw_distinct_note(ent->distinct, r->merchant, r->ts)) {
        ent->distinct_valid = false;
        return;
    }
    fw_distinct_forget_before(ent->distinct, keep_from);
}

/* The index when it can answer for a window that ends at or after the
 * list's newest event (the detectors' time order: everything since the
 * window's start is in it); NULL when a scan must. */
static fw_distinct *distinct_for(fw_engine *e, fw_entity *ent, int64_t end) {
    const fw_evlist *l = distinct_list(ent);
    if (l->n <= e->scan_small || l->ev[l->n - 1].ts > end)
        return NULL;
    return distinct_index(e, ent);
}

/* Distinct keys that count (distinct_counts) among records [lo, hi) of the
 * entity's list, by a scan, counting no further than @p limit. */
static uint32_t scan_distinct(fw_engine *e, const fw_entity *ent, uint32_t lo, uint32_t hi,
                              uint32_t limit) {
    const fw_evlist *l = distinct_list(ent);
    uint64_t *seen = (uint64_t *)(e->evidence + e->rules.limits.max_window_events + 2);
    uint32_t n = 0;
    for (uint32_t i = lo; i < hi && n < limit; i++) {
        const fw_evrec *r = &l->ev[i];
        if (!distinct_counts(e, ent, r))
            continue;
        uint32_t k = 0;
        while (k < n && seen[k] != r->merchant)
            k++;
        if (k == n)
            seen[n++] = r->merchant;
    }
    return n;
}

/* ---- risk_score: points for unusually large amounts and many merchants ---- */

typedef struct risk_arg {
    fw_entity *cust;
    int score, large;
} risk_arg;

/* Distinct merchants of the customer in [start, end), no further than @p limit. */
static uint32_t risk_merchants(fw_engine *e, fw_entity *cust, int64_t start, int64_t end,
                               uint32_t limit) {
    fw_distinct *d = distinct_for(e, cust, end - 1);
    return d ? fw_distinct_count_since(d, start, true, limit)
             : scan_distinct(e, cust, fw_evlist_find(&cust->win, start, false),
                             fw_evlist_find(&cust->win, end, false), limit);
}

static bool risk_ok(fw_engine *e, const fw_evlist *l, int64_t start, int64_t end, void *arg) {
    const __typeof__(e->rules.risk_score) *p = &e->rules.risk_score;
    risk_arg *ra = arg;
    ra->large = (int)fw_evlist_nlarge(l, fw_evlist_find(l, start, false),
                                      fw_evlist_find(l, end, false));
    ra->score = ra->large * p->large_points;
    /* Merchants are counted only when they decide; the alert counts them
     * for its reason. */
    if (ra->score < p->alert_at && ra->score + p->merchant_points >= p->alert_at &&
        risk_merchants(e, ra->cust, start, end, (uint32_t)p->max_merchants + 1) >
            (uint32_t)p->max_merchants)
        ra->score += p->merchant_points;
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
    if ((prof || cust->amount_n > 0) && t->amount > p->amount_multiple * avg)
        r.flags |= FW_EV_LARGE;
    int64_t keep_from = t->ts_ms - p->window_ms - e->rules.time.allowed_lateness_ms;
    if (fw_evlist_insert(&e->state, &cust->win, &r, keep_from))
        distinct_added(e, cust, &r, keep_from);
    fw_engine_touch(e, cust);
    risk_arg ra = { .cust = cust };
    int64_t start = first_window(e, &cust->win, t->ts_ms, p->window_ms, p->slide_ms, risk_ok,
                                 &ra);
    /* One episode, one alert: while the score stays at the limit, later
     * transactions only add to the deduplicated count. */
    bool episode = cust->risk_episode;
    cust->risk_episode = start != INT64_MIN;
    if (start == INT64_MIN)
        return;
    if (episode) {
        e->stats.deduplicated[FW_RULE_RISK_SCORE]++;
        return;
    }
    if (deduplicated(e, cust, FW_RULE_RISK_SCORE, t->ts_ms))
        return;
    int64_t end = start + p->window_ms;
    const fw_evlist *l = &cust->win;
    size_t nev = 0;
    uint32_t hi = fw_evlist_find(l, end, false);
    for (uint32_t i = fw_evlist_find(l, start, false); i < hi; i++)
        if (l->ev[i].flags & FW_EV_LARGE)
            add_evidence(e, &nev, &l->ev[i]);
    if (!(r.flags & FW_EV_LARGE)) /* the transaction that completed the score is evidence too */
        add_evidence(e, &nev, &r);
    uint32_t merchants = risk_merchants(e, cust, start, end, UINT32_MAX);
    if (ra.large * p->large_points >= p->alert_at && merchants > (uint32_t)p->max_merchants)
        ra.score = ra.large * p->large_points + p->merchant_points; /* the whole score */
    snprintf(e->reason, sizeof(e->reason),
             "risk score %d reached the limit of %d: %d transactions above %.1fx the %s "
             "average of %.2f (+%d each) and %u distinct merchants (+%d above %d)",
             ra.score, p->alert_at, ra.large, p->amount_multiple, prof ? "profile" : "running",
             avg, p->large_points, merchants, p->merchant_points, p->max_merchants);
    emit_alert(e, cust, FW_RULE_RISK_SCORE, t, nev, start, end, prof);
}

/* ---- transfers between accounts: fan_out, mule_cashout, fan_in, cycle ----
 * An account's outflows (withdrawals, transfers out) sit in its ACCOUNT
 * entity's recent list, the transfers it received in its INBOUND entity,
 * each record carrying the other account's hash in `merchant`. */

static uint64_t id_hash(fw_str id) { return fw_hash64(id.ptr, id.len, 11) | 1; }

static int64_t max3(int64_t a, int64_t b, int64_t c) {
    int64_t m = a > b ? a : b;
    return m > c ? m : c;
}

/* A transfer fan_in / fan_out counts: in (from, to], with another account,
 * above the minimum and not yet in an alert. */
static bool fan_counts(const fw_evrec *r, int64_t from, int64_t to, double min_amount) {
    return r->ts > from && r->ts <= to && r->merchant && r->amount > min_amount &&
           !(r->flags & FW_EV_FAN_REPORTED);
}

/* Distinct other accounts among the records in (from, to] that count for the
 * entity's rule (above its min_amount, not yet in an alert of this kind);
 * stops counting at @p enough. A long list
 * whose newest record is not after @p to asks the entity's index. */
static int distinct_parties(fw_engine *e, fw_entity *ent, int64_t from, int64_t to,
                            int enough, bool *indexed) {
    fw_distinct *d = distinct_for(e, ent, to);
    *indexed = d != NULL;
    if (d)
        return (int)fw_distinct_count_since(d, from, false, (uint32_t)enough);
    const fw_evlist *l = distinct_list(ent);
    return (int)scan_distinct(e, ent, fw_evlist_find(l, from, true), fw_evlist_find(l, to, true),
                              (uint32_t)enough);
}

/* Evidence: the counted records, marked so that the next alert needs new
 * ones. When the index counted them they are all the counted records there
 * are, so it starts empty again; after a scan it is rebuilt when next asked. */
static size_t report_parties(fw_engine *e, fw_entity *ent, fw_evlist *l, int64_t from,
                             int64_t to, double min_amount, bool indexed) {
    size_t nev = 0;
    int64_t begin = from;
    if (indexed && ent->reported_until > begin)
        begin = ent->reported_until - 1; /* earlier ones are reported: skip them */
    for (uint32_t i = fw_evlist_find(l, begin, true); i < l->n; i++) {
        fw_evrec *r = &l->ev[i];
        if (!fan_counts(r, from, to, min_amount))
            continue;
        add_evidence(e, &nev, r);
        r->flags |= FW_EV_FAN_REPORTED;
    }
    if (indexed) {
        fw_distinct_clear(ent->distinct);
        ent->reported_until = to;
    } else {
        ent->distinct_valid = false;
        ent->reported_until = INT64_MIN;
    }
    return nev;
}

static void detect_fan_out(fw_engine *e, fw_entity *acct, const fw_txn *t) {
    const __typeof__(e->rules.fan_out) *p = &e->rules.fan_out;
    int64_t from = t->ts_ms - p->window_ms; /* the window is (from, ts] */
    bool indexed;
    int n = distinct_parties(e, acct, from, t->ts_ms, p->min_counterparties, &indexed);
    if (n < p->min_counterparties)
        return;
    size_t nev = report_parties(e, acct, &acct->recent, from, t->ts_ms, p->min_amount, indexed);
    snprintf(e->reason, sizeof(e->reason),
             "transfers to %d distinct accounts within %lld hours (limit %d); %zu transfers",
             n, (long long)(p->window_ms / 3600000), p->min_counterparties, nev);
    raise_alert(e, acct, FW_RULE_FAN_OUT, t, nev, from, t->ts_ms, NULL);
}

static void detect_fan_in(fw_engine *e, fw_entity *in, const fw_txn *t) {
    const __typeof__(e->rules.fan_in) *p = &e->rules.fan_in;
    int64_t from = t->ts_ms - p->window_ms;
    bool indexed;
    int n = distinct_parties(e, in, from, t->ts_ms, p->min_senders, &indexed);
    if (n < p->min_senders)
        return;
    size_t nev = report_parties(e, in, &in->win, from, t->ts_ms, p->min_amount, indexed);
    snprintf(e->reason, sizeof(e->reason),
             "transfers from %d distinct accounts within %lld hours (limit %d); %zu transfers",
             n, (long long)(p->window_ms / 3600000), p->min_senders, nev);
    raise_alert(e, in, FW_RULE_FAN_IN, t, nev, from, t->ts_ms, NULL);
}

/* Evidence of a cash-out: the records in [first, now] not yet in one. */
static void report_cashed(fw_engine *e, fw_evlist *l, int64_t first, int64_t now, size_t *nev) {
    uint32_t lo = fw_evlist_find(l, first, false), hi = fw_evlist_find(l, now, true);
    for (uint32_t i = lo; i < hi; i++) {
        fw_evrec *r = &l->ev[i];
        if (!(r->flags & FW_EV_CASHED)) {
            add_evidence(e, nev, r);
            r->flags |= FW_EV_CASHED;
        }
    }
    fw_evlist_recount(l, lo); /* cashed amounts leave the running sums */
}

/* Received money leaving again. Of the transfers received within the
 * window, the latest ones (FW_SCAN_MAX at most) are weighed against the
 * outflows since the first of them: the longest such run that was cashed out
 * alerts, so an unrelated transfer received earlier does not dilute the
 * ratio. Transfers and outflows count in one alert at most. */
static void detect_mule_cashout(fw_engine *e, fw_entity *acct, const fw_txn *t) {
    const __typeof__(e->rules.mule_cashout) *p = &e->rules.mule_cashout;
    fw_entity *in = fw_state_get(&e->state, FW_ENT_INBOUND, t->account_id, false);
    if (!in)
        return;
    const fw_evlist *ins = &in->win, *outs = &acct->recent;
    int64_t from = t->ts_ms - p->within_ms, first = INT64_MAX;
    fw_units inbound = 0, best_in = 0, best_out = 0, min_in = fw_units_of(p->min_inbound);
    uint32_t weighed = 0, out_end = fw_evlist_find(outs, t->ts_ms, true), out_from = out_end;
    for (uint32_t i = fw_evlist_find(ins, t->ts_ms, true); i-- > 0;) { /* newest first */
        const fw_evrec *r = &ins->ev[i];
        if (r->ts <= from)
            break;
        if (weighed++ == FW_SCAN_MAX) { /* those already in an alert count too */
            e->stats.scan_limited++;
            break;
        }
        if (r->flags & FW_EV_CASHED)
            continue;
        inbound += fw_units_of(r->amount);
        /* Outflows since this transfer arrived, not yet in an alert: the
         * first of them moves back with r, a few steps or a search. */
        int steps = 0;
        while (out_from > 0 && outs->ev[out_from - 1].ts >= r->ts && steps++ < 8)
            out_from--;
        if (out_from > 0 && outs->ev[out_from - 1].ts >= r->ts) {
            fw_evlist head = { .ev = outs->ev, .n = out_from };
            out_from = fw_evlist_find(&head, r->ts, false);
        }
        fw_units outflow = fw_evlist_units(outs, out_from, out_end);
        if (inbound >= min_in && (double)outflow >= p->min_ratio * (double)inbound) {
            first = r->ts;
            best_in = inbound;
            best_out = outflow;
        }
    }
    if (first == INT64_MAX)
        return;
    size_t nev = 0;
    report_cashed(e, &in->win, first, t->ts_ms, &nev);
    report_cashed(e, &acct->recent, first, t->ts_ms, &nev);
    fw_engine_touch(e, in);
    snprintf(e->reason, sizeof(e->reason),
             "received %.2f in transfers and sent or withdrew %.2f of it (%.0f %%, limit "
             "%.0f %%) within %.1f minutes",
             (double)best_in / FW_UNITS_PER_1, (double)best_out / FW_UNITS_PER_1,
             100 * (double)best_out / (double)best_in, 100 * p->min_ratio,
             (double)(t->ts_ms - first) / 60000);
    raise_alert(e, acct, FW_RULE_MULE_CASHOUT, t, nev, first, first + p->within_ms, NULL);
}

/* A withdrawal or a transfer out, recorded for fan_out and mule_cashout. */
static void on_outflow(fw_engine *e, fw_entity *acct, const fw_txn *t, const fw_evrec *cur,
                       bool transfer) {
    const fw_rules *r = &e->rules;
    fw_evrec rec = *cur;
    rec.merchant = transfer ? id_hash(t->counterparty_id) : 0;
    int64_t keep = r->fan_out.window_ms > r->mule_cashout.within_ms ? r->fan_out.window_ms
                                                                     : r->mule_cashout.within_ms;
    int64_t keep_from = t->ts_ms - keep - r->time.allowed_lateness_ms;
    if (fw_evlist_insert(&e->state, &acct->recent, &rec, keep_from))
        distinct_added(e, acct, &rec, keep_from);
    fw_engine_touch(e, acct);
    if (transfer && enabled(e, FW_RULE_FAN_OUT) && t->amount > r->fan_out.min_amount)
        detect_fan_out(e, acct, t);
    if (enabled(e, FW_RULE_MULE_CASHOUT))
        detect_mule_cashout(e, acct, t);
}

/* The transfer that set a cycle off: the origin's latest outflow to @p next
 * at or before @p until. */
static const fw_evrec *find_outflow(fw_engine *e, fw_str origin, uint64_t next, int64_t until) {
    fw_entity *acct = fw_state_get(&e->state, FW_ENT_ACCOUNT, origin, false);
    for (uint32_t i = acct ? acct->recent.n : 0; i-- > 0;)
        if (acct->recent.ev[i].merchant == next && acct->recent.ev[i].ts <= until)
            return &acct->recent.ev[i];
    return NULL;
}

/* How many transfers it took when the chain of @p r (a transfer into the
 * current sender) started at @p account: 2 when r's sender is that account,
 * 3 when the one before it is, ...; 0 when the account is not on the chain.
 * @p next receives the account that followed it on the chain. */
static int hops_from(const fw_evrec *r, uint64_t account, uint64_t sender, uint64_t *next) {
    if (r->merchant == account) {
        *next = sender;
        return 2;
    }
    for (int i = 0; i < FW_CYCLE_PATH && i + 1 < r->hops; i++)
        if (r->path[i] == account) {
            *next = i ? r->path[i - 1] : r->merchant;
            return i + 3;
        }
    return 0;
}

/* Follows money along transfers. @p rec (sender → receiver) continues the
 * chain of a transfer into the sender that it forwards (between min_forward
 * and all of it; the most completely forwarded one), remembering the last
 * FW_CYCLE_PATH accounts before the sender. The receiver on the chain of any
 * such transfer, min_hops or more transfers back, closes a cycle. */
static void detect_cycle(fw_engine *e, fw_entity *in, const fw_txn *t, fw_evrec *rec) {
    const __typeof__(e->rules.cycle) *p = &e->rules.cycle;
    uint64_t receiver = id_hash(t->counterparty_id), sender = rec->merchant;
    rec->hops = 1;
    if (!(t->amount > p->min_amount))
        return;
    fw_entity *sender_in = fw_state_get(&e->state, FW_ENT_INBOUND, t->account_id, false);
    const fw_evrec *best = NULL, *closing = NULL;
    uint64_t next = 0;
    int hops = 0;
    double best_amount = INFINITY; /* the most completely forwarded: the smallest amount */
    uint32_t lo = 0, hi = 0;
    if (sender_in) { /* the transfers it received within the hop window, FW_SCAN_MAX at most */
        lo = fw_evlist_find(&sender_in->win, t->ts_ms - p->hop_within_ms, true);
        hi = fw_evlist_find(&sender_in->win, t->ts_ms, true);
        if (hi - lo > FW_SCAN_MAX) {
            lo = hi - FW_SCAN_MAX;
            e->stats.scan_limited++;
        }
    }
    for (uint32_t i = lo; i < hi; i++) {
        const fw_evrec *r = &sender_in->win.ev[i];
        if (!r->hops || !(r->amount > p->min_amount) || t->amount > r->amount ||
            t->amount < p->min_forward * r->amount)
            continue;
        uint64_t nx = 0;
        int h = hops_from(r, receiver, sender, &nx);
        if (h >= p->min_hops && h > hops) {
            hops = h;
            closing = r;
            next = nx;
        }
        if (r->amount < best_amount) {
            best_amount = r->amount;
            best = r;
        }
    }
    if (best) {
        rec->hops = best->hops < 254 ? (uint8_t)(best->hops + 1) : 255;
        rec->path[0] = best->merchant;
        memcpy(rec->path + 1, best->path, sizeof(rec->path) - sizeof(rec->path[0]));
    }
    if (!closing)
        return;
    size_t nev = 0;
    const fw_evrec *first = find_outflow(e, t->counterparty_id, next, closing->ts);
    if (first)
        add_evidence(e, &nev, first);
    add_evidence(e, &nev, closing);
    add_evidence(e, &nev, rec);
    if (first)
        snprintf(e->reason, sizeof(e->reason),
                 "%.2f sent out came back through %d transfers within %.1f hours as %.2f "
                 "(%.0f %%); each hop forwarded at least %.0f %% of what it received",
                 first->amount, hops, (double)(t->ts_ms - first->ts) / 3600000, t->amount,
                 100 * t->amount / first->amount, 100 * p->min_forward);
    else
        snprintf(e->reason, sizeof(e->reason),
                 "money sent out came back through %d transfers as %.2f; each hop forwarded "
                 "at least %.0f %% of what it received within %lld hours",
                 hops, t->amount, 100 * p->min_forward, (long long)(p->hop_within_ms / 3600000));
    raise_alert(e, in, FW_RULE_CYCLE, t, nev, first ? first->ts : closing->ts, t->ts_ms, NULL);
}

/* A transfer arriving at its receiver: cycle, then fan_in. */
static void on_inbound(fw_engine *e, fw_entity *in, const fw_txn *t, const fw_evrec *cur) {
    const fw_rules *r = &e->rules;
    fw_evrec rec = *cur;
    rec.merchant = id_hash(t->account_id);
    if (enabled(e, FW_RULE_CYCLE))
        detect_cycle(e, in, t, &rec);
    int64_t keep = max3(r->fan_in.window_ms, r->mule_cashout.within_ms, r->cycle.hop_within_ms);
    int64_t keep_from = t->ts_ms - keep - r->time.allowed_lateness_ms;
    if (fw_evlist_insert(&e->state, &in->win, &rec, keep_from))
        distinct_added(e, in, &rec, keep_from);
    fw_engine_touch(e, in);
    if (enabled(e, FW_RULE_FAN_IN) && t->amount > r->fan_in.min_amount)
        detect_fan_in(e, in, t);
}

/* ---- dispatch ---- */

/* Starts an entity afresh when it has been idle past its logical horizon,
 * whether or not the sweep has freed it yet; then records the event time. */
fw_entity *fw_engine_refresh(fw_engine *e, fw_entity *ent, const fw_txn *t) {
    if (ent->last_ts != INT64_MIN && t->ts_ms - ent->last_ts > e->logical_horizon[ent->kind]) {
        ent->has_prev = false;
        fw_evlist_clear(&ent->recent);
        fw_evlist_clear(&ent->win);
        ent->distinct_valid = false;
        ent->reported_until = INT64_MIN;
        ent->risk_episode = false;
        ent->amount_sum = 0;
        ent->amount_n = 0;
        if (ent->kind == FW_ENT_FEATURES)
            fw_feat_state_init(ent->feat);
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
    return fw_engine_refresh(e, ent, t);
}

void fw_detect(fw_engine *e, const fw_txn *t, bool behind) {
    if (e->feature_sink || e->ml_active)
        fw_ml_observe(e, t);
    fw_evrec cur;
    fw_evrec_from_txn(&cur, t);
    fw_entity *acct = NULL, *card = NULL, *cust = NULL, *pair = NULL, *in = NULL;
    bool transfer = t->type == FW_TXN_TRANSFER && t->account_id.ptr && t->counterparty_id.ptr &&
                    !fw_str_eq(t->account_id, t->counterparty_id) && t->amount > 0;
    bool outflow = (transfer || (t->type == FW_TXN_WITHDRAWAL && t->amount > 0)) &&
                   (enabled(e, FW_RULE_FAN_OUT) || enabled(e, FW_RULE_MULE_CASHOUT));
    if ((enabled(e, FW_RULE_VELOCITY) || outflow) &&
        (acct = entity(e, FW_ENT_ACCOUNT, t->account_id, t))) {
        if (enabled(e, FW_RULE_VELOCITY))
            detect_velocity(e, acct, t);
        if (outflow)
            on_outflow(e, acct, t, &cur, transfer);
    }
    if (transfer &&
        (enabled(e, FW_RULE_FAN_IN) || enabled(e, FW_RULE_CYCLE) ||
         enabled(e, FW_RULE_MULE_CASHOUT)) &&
        (in = entity(e, FW_ENT_INBOUND, t->counterparty_id, t)))
        on_inbound(e, in, t, &cur);
    if (enabled(e, FW_RULE_STRUCTURING) && t->type == FW_TXN_TRANSFER &&
        t->counterparty_id.ptr && t->account_id.ptr &&
        (pair = fw_state_get_pair(&e->state, t->account_id, t->counterparty_id, true))) {
        fw_engine_refresh(e, pair, t);
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
