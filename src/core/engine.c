/* engine.c — applies the detectors of a rule set to a transaction stream. */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>

struct fw_engine {
    fw_rules rules;
    fw_engine_stats stats;
    char reason[256]; /* reused for each alert's sentence */
};

fw_engine *fw_engine_new(const fw_rules *rules, char *errstr, size_t errstr_size) {
    fw_engine *e = calloc(1, sizeof(*e));
    if (!e) {
        snprintf(errstr, errstr_size, "engine: out of memory");
        return NULL;
    }
    e->rules = *rules;
    return e;
}

void fw_engine_destroy(fw_engine *e) { free(e); }

const fw_engine_stats *fw_engine_stats_get(const fw_engine *e) { return &e->stats; }

/* The entity a single-transaction alert is about: the account when known. */
static void txn_entity(const fw_txn *t, const char **type, fw_str *id) {
    if (fw_str_present(t->account_id)) {
        *type = "account";
        *id = t->account_id;
    } else if (fw_str_present(t->card_id)) {
        *type = "card";
        *id = t->card_id;
    } else if (fw_str_present(t->customer_id)) {
        *type = "customer";
        *id = t->customer_id;
    } else {
        *type = "transaction";
        *id = t->transaction_id;
    }
}

static void emit(fw_engine *e, fw_alert *a, fw_alert_fn fn, void *opaque) {
    e->stats.alerts[a->rule]++;
    fn(opaque, a);
}

static void detect_high_amount(fw_engine *e, const fw_txn *t, fw_alert_fn fn, void *opaque) {
    double limit = e->rules.high_amount.limit;
    if (!(t->amount > limit))
        return;
    fw_evidence ev = { .transaction_id = t->transaction_id, .ts_ms = t->ts_ms,
                       .amount_raw = t->amount_raw };
    snprintf(e->reason, sizeof(e->reason),
             "amount %.2f is above the high_amount limit of %.2f", t->amount, limit);
    fw_alert a = { .rule = FW_RULE_HIGH_AMOUNT,
                   .rc = &e->rules.common[FW_RULE_HIGH_AMOUNT],
                   .event_time = t->ts_ms, .detected_at = t->ts_ms,
                   .window_start = -1, .window_end = -1,
                   .reason = e->reason, .evidence = &ev, .nevidence = 1, .txn = t };
    txn_entity(t, &a.entity_type, &a.entity_id);
    emit(e, &a, fn, opaque);
}

void fw_engine_process(fw_engine *e, const fw_txn *t, fw_alert_fn fn, void *opaque) {
    e->stats.transactions++;
    if (e->rules.common[FW_RULE_HIGH_AMOUNT].enabled)
        detect_high_amount(e, t, fn, opaque);
}
