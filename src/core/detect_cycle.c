/* detect_cycle.c — cycle: money that comes back to an account through
 * forwarding hops (AML). Runs before a transfer joins its receiver's inbound
 * list, and writes into that record the chain it continues. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "detect.h"

/* The transfer that set a cycle off: the origin's latest outflow to @p next
 * at or before @p until. Only as far back as outflows are kept for certain
 * (from @p now): older ones linger until the account's next trim, and which
 * are still there depends on what else ran. */
static const fw_evrec *find_outflow(fw_engine *e, fw_str origin, uint64_t next, int64_t until,
                                    int64_t now) {
    fw_entity *acct = fw_state_get(&e->state, FW_ENT_ACCOUNT, origin, false);
    int64_t from = now - fw_detect_outflows_kept(e);
    for (uint32_t i = acct ? acct->recent.n : 0; i-- > 0 && acct->recent.ev[i].ts >= from;)
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
    uint64_t receiver = fw_detect_id_hash(t->counterparty_id), sender = rec->merchant;
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
    const fw_evrec *first = find_outflow(e, t->counterparty_id, next, closing->ts, t->ts_ms);
    if (first)
        fw_detect_evidence(e, &nev, first);
    fw_detect_evidence(e, &nev, closing);
    fw_detect_evidence(e, &nev, rec);
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
    fw_detect_raise(e, in, FW_RULE_CYCLE, t, nev, first ? first->ts : closing->ts, t->ts_ms, NULL);
}

const fw_detector fw_detector_cycle = {
    .rule = FW_RULE_CYCLE,
    .name = "cycle",
    .phase = FW_PHASE_INBOUND_PRE,
    .needs = FW_NEEDS_INBOUND,
    .on_event = detect_cycle,
};
