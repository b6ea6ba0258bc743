/* engine_lang.c — the language rules (lang_rules.h) inside one partition's
 * engine: they see every transaction in event-time order, as the native
 * detectors do, and their alerts leave as any alert does. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "engine_int.h"
#include "lang_rules.h"

_Static_assert(sizeof(((fw_engine *)0)->lang_evidence) / sizeof(fw_evidence) >=
                   FW_LANG_EVIDENCE_MAX, "room for a language rule's evidence");
_Static_assert(sizeof(((fw_engine *)0)->lang_values) / sizeof(fw_alert_value) >=
                   FW_LANG_MAX_AGGS, "room for a language rule's values");

fw_err fw_engine_set_lang(fw_engine *e, const fw_lang_rules *rs, char *errstr,
                          size_t errstr_size) {
    fw_lang_state_destroy(e->lang);
    e->lang = NULL;
    if (!rs || !rs->n)
        return FW_OK;
    if (!(e->lang = fw_lang_state_new(rs))) {
        snprintf(errstr, errstr_size, "language rules: out of memory");
        return FW_ERR_NOMEM;
    }
    return FW_OK;
}

void fw_engine_lang_fini(fw_engine *e) {
    fw_lang_state_destroy(e->lang);
    e->lang = NULL;
}

static void on_lang_alert(void *opaque, const fw_lang_alert *la) {
    fw_engine *e = opaque;
    size_t nev = la->nevidence < FW_LANG_EVIDENCE_MAX ? la->nevidence : FW_LANG_EVIDENCE_MAX;
    for (size_t i = 0; i < nev; i++)
        e->lang_evidence[i] = (fw_evidence){ .transaction_id = la->evidence[i],
                                             .ts_ms = INT64_MIN };
    size_t nval = la->nvalues < FW_LANG_MAX_AGGS ? la->nvalues : FW_LANG_MAX_AGGS;
    for (size_t i = 0; i < nval; i++)
        e->lang_values[i] = (fw_alert_value){
            .name = la->values[i].name, .num = la->values[i].value.u.num,
            .missing = la->values[i].value.type != FW_XT_NUM };
    snprintf(e->reason, sizeof(e->reason), "%.*s", (int)la->reason.len, la->reason.ptr);
    bool bounded = la->nevidence >= la->evidence_bound || la->window_overflow;
    fw_alert a = { .rule = FW_RULE_LANG, .rule_name = la->rule->id, .rc = &la->rule->common,
                   .entity_type = "key", .entity_id = la->entity,
                   .event_time = la->event_time, .detected_at = la->event_time,
                   .window_start = la->window_start, .window_end = la->window_end,
                   .reason = e->reason, .evidence = e->lang_evidence, .nevidence = nev,
                   .txn = la->txn, .values = e->lang_values, .nvalues = nval,
                   .evidence_bound = bounded ? la->evidence_bound : 0 };
    e->stats.lang_alerts++;
    e->out->alert(e->out->opaque, &a);
}

void fw_engine_lang_eval(fw_engine *e, const fw_txn *t) {
    fw_str extra[FW_TXN_MAX_EXTRAS];
    size_t nextra = 0;
    if (t->extra_mask) { /* extras and the slices are valid only then */
        nextra = t->extras->n;
        for (size_t i = 0; i < nextra; i++)
            extra[i] = (t->extra_mask >> i) & 1 ? t->extra[i] : FW_STR_NULL;
    }
    const fw_profile *prof =
        e->profiles && t->customer_id.ptr ? fw_profiles_get(e->profiles, t->customer_id) : NULL;
    fw_lang_input in = { .txn = t, .profile = prof, .extra = extra, .nextra = nextra };
    fw_lang_eval(e->lang, &in, e->stats.watermark, on_lang_alert, e);
}

/* fw_lang_eval sweeps old keys on its way, now and then; this is for a
 * partition that went quiet, and for the end of the input. A sweep visits
 * every key, so not per record: once an hour of event time at most. */
#define LANG_IDLE_SWEEP_MS 3600000

void fw_engine_lang_expire(fw_engine *e, int64_t watermark) {
    if (watermark == INT64_MIN || (watermark < e->lang_next_sweep && watermark != INT64_MAX))
        return;
    fw_lang_expire(e->lang, watermark);
    e->lang_next_sweep = watermark == INT64_MAX ? INT64_MAX : watermark + LANG_IDLE_SWEEP_MS;
}
