/* alert.c — alert ids and the alert JSON document. */
#include "alert.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include "fw_hash.h"

/* Canonical form: fields separated by NUL, which cannot occur in decoded ids
 * (the decoder rejects \u0000), so distinct tuples never collide by layout. */
void fw_alert_id(const fw_alert *a, fw_buf *scratch, char out[FW_ALERT_ID_LEN + 1]) {
    fw_buf_reset(scratch);
    const char *rule = fw_alert_rule_name(a);
    fw_buf_append(scratch, rule, strlen(rule) + 1);
    fw_buf_append(scratch, a->entity_type, strlen(a->entity_type) + 1);
    fw_buf_append(scratch, a->entity_id.ptr, a->entity_id.len);
    for (size_t i = 0; i < a->nevidence; i++) {
        fw_buf_putc(scratch, '\0');
        fw_buf_append(scratch, a->evidence[i].transaction_id.ptr,
                      a->evidence[i].transaction_id.len);
    }
    uint64_t h1 = fw_hash64(scratch->data, scratch->len, 0x66726175647761ULL);
    uint64_t h2 = fw_hash64(scratch->data, scratch->len, 0x746368616c657274ULL);
    snprintf(out, FW_ALERT_ID_LEN + 1, "fw-%016" PRIx64 "%016" PRIx64, h1, h2);
}

static bool put_time(fw_buf *out, const char *key, int64_t ms) {
    char ts[32];
    fw_time_format(ms, ts);
    return fw_buf_printf(out, ",\"%s\":\"%s\"", key, ts);
}

bool fw_alert_write_json(const fw_alert *a, fw_buf *scratch, fw_buf *out) {
    char id[FW_ALERT_ID_LEN + 1];
    fw_alert_id(a, scratch, id);
    fw_buf_printf(out, "{\"alert_id\":\"%s\",\"rule\":\"%s\",\"rule_version\":%d,"
                       "\"severity\":\"%s\"",
                  id, fw_alert_rule_name(a), a->rc->version,
                  fw_severity_name(a->rc->severity));
    if (a->rc->shadow)
        fw_buf_puts(out, ",\"shadow\":true");
    fw_buf_printf(out, ",\"entity_type\":\"%s\",\"entity_id\":", a->entity_type);
    fw_buf_json_str(out, a->entity_id);
    put_time(out, "event_time", a->event_time);
    put_time(out, "detected_at", a->detected_at);
    if (a->window_start >= 0) {
        put_time(out, "window_start", a->window_start);
        put_time(out, "window_end", a->window_end);
    }
    fw_buf_puts(out, ",\"reason\":");
    fw_buf_json_str(out, fw_str_c(a->reason));
    fw_buf_puts(out, ",\"evidence\":[");
    for (size_t i = 0; i < a->nevidence; i++) {
        const fw_evidence *ev = &a->evidence[i];
        fw_buf_puts(out, i ? ",{\"transaction_id\":" : "{\"transaction_id\":");
        fw_buf_json_str(out, ev->transaction_id);
        if (ev->ts_ms != INT64_MIN)
            put_time(out, "timestamp", ev->ts_ms);
        if (ev->amount_raw.ptr) {
            fw_buf_puts(out, ",\"amount\":");
            fw_buf_append(out, ev->amount_raw.ptr, ev->amount_raw.len);
        }
        if (ev->located) {
            fw_buf_puts(out, ",\"lat\":");
            fw_buf_json_double(out, ev->lat);
            fw_buf_puts(out, ",\"lon\":");
            fw_buf_json_double(out, ev->lon);
        }
        fw_buf_putc(out, '}');
    }
    fw_buf_putc(out, ']');
    if (a->evidence_bound)
        fw_buf_printf(out, ",\"evidence_limit\":%" PRIu32, a->evidence_bound);
    if (a->nvalues) {
        fw_buf_puts(out, ",\"values\":{");
        for (size_t i = 0; i < a->nvalues; i++) {
            fw_buf_puts(out, i ? "," : "");
            fw_buf_json_str(out, fw_str_c(a->values[i].name));
            if (a->values[i].missing) {
                fw_buf_puts(out, ":null");
            } else {
                char num[48];
                fw_dec_format(a->values[i].num, num, sizeof(num));
                fw_buf_putc(out, ':');
                fw_buf_puts(out, num);
            }
        }
        fw_buf_putc(out, '}');
    }
    if (a->profile) {
        fw_buf_puts(out, ",\"profile\":{\"customer_id\":");
        fw_buf_json_str(out, (fw_str){ a->profile->customer_id, a->profile->idlen });
        if (a->profile->has_avg) {
            fw_buf_puts(out, ",\"avg_amount\":");
            fw_buf_json_double(out, a->profile->avg_amount);
        }
        if (a->profile->home_country[0]) {
            fw_buf_puts(out, ",\"home_country\":");
            fw_buf_json_str(out, fw_str_c(a->profile->home_country));
        }
        fw_buf_putc(out, '}');
    }
    if (a->ml) {
        fw_buf_puts(out, ",\"ml\":{\"score\":");
        fw_buf_printf(out, "%.6g", a->ml->score);
        fw_buf_printf(out, ",\"threshold\":%.6g,\"model\":", a->ml->threshold);
        fw_buf_json_str(out, fw_str_c(a->ml->model));
        fw_buf_puts(out, ",\"top_features\":[");
        for (size_t i = 0; i < a->ml->ntop; i++) {
            const fw_contribution *c = &a->ml->top[i];
            fw_buf_puts(out, i ? ",{\"feature\":" : "{\"feature\":");
            fw_buf_json_str(out, fw_str_c(c->feature));
            if (!isfinite(c->value))
                fw_buf_puts(out, ",\"value\":null");
            else
                fw_buf_printf(out, ",\"value\":%.6g", c->value);
            fw_buf_printf(out, ",\"contribution\":%.4f}", c->contribution);
        }
        fw_buf_puts(out, "]}");
    }
    fw_buf_puts(out, ",\"transaction\":");
    fw_txn_write_json(a->txn, out);
    fw_buf_putc(out, '}');
    return !out->overflow;
}
