/* alert_row.c — an alert record's columns (alert_row.h), with the core's
 * strict JSON parser: a record the database would refuse (bad UTF-8, a NUL
 * in a text column, a time it cannot read) is refused here instead, with
 * the reason, so one bad record never fails a whole batch's transaction. */
#include "alert_row.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_time.h"
#include "json.h"

/* Arena bytes kept between records; a larger record gets a larger arena. */
#define ROW_ARENA_MIN (64 * 1024)

enum { C_ALERT_ID, C_RULE, C_SEVERITY, C_ENTITY_TYPE, C_ENTITY_ID, C_REASON, C_N };
static const char *const text_cols[C_N] = { "alert_id", "rule", "severity", "entity_type",
                                            "entity_id", "reason" };

static bool fail(char *why, size_t n, const char *fmt, const char *name) {
    snprintf(why, n, fmt, name);
    return false;
}

/* A string member's value, or NULL with @p why (absent is fine when optional). */
static bool string_member(const fw_json *obj, const char *name, bool required, fw_str *out,
                          char *why, size_t n) {
    const fw_json *v = fw_json_get(obj, name);
    *out = FW_STR_NULL;
    if (!v)
        return required ? fail(why, n, "missing \"%s\"", name) : true;
    if (v->type != FW_JSON_STRING)
        return fail(why, n, "\"%s\" is not a string", name);
    if (memchr(v->str.ptr, '\0', v->str.len))
        return fail(why, n, "\"%s\" holds U+0000, which a text column cannot", name);
    *out = v->str;
    return true;
}

static bool time_member(const fw_json *obj, const char *name, bool required, int64_t *ms,
                        char *why, size_t n) {
    fw_str s;
    *ms = INT64_MIN;
    if (!string_member(obj, name, required, &s, why, n))
        return false;
    if (s.ptr && fw_time_parse_iso8601(s.ptr, s.len, ms)) {
        char shown[64];
        snprintf(why, n, "\"%s\" is not an ISO 8601 time: %s", name,
                 fw_json_quote(s, shown, sizeof(shown)));
        return false;
    }
    return true;
}

bool fw_alert_row_parse(fw_alert_row *row, const char *json, size_t n, char *why,
                        size_t why_size) {
    if (n > FW_ALERT_ROW_MAX_BYTES) {
        snprintf(why, why_size, "%zu bytes, more than an alert may have (%d)", n,
                 FW_ALERT_ROW_MAX_BYTES);
        return false;
    }
    size_t need = fw_json_arena_bound(n);
    if (need < ROW_ARENA_MIN)
        need = ROW_ARENA_MIN;
    if (row->arena.cap < need) {
        fw_arena_fini(&row->arena);
        if (!fw_arena_init(&row->arena, need)) {
            snprintf(why, why_size, "out of memory for a record of %zu bytes", n);
            return false;
        }
    }
    fw_arena_reset(&row->arena);
    fw_json *root;
    char err[256];
    if (fw_json_parse(json, n, &row->arena, &root, err, sizeof(err))) {
        snprintf(why, why_size, "not JSON: %s", err);
        return false;
    }
    if (root->type != FW_JSON_OBJECT) {
        snprintf(why, why_size, "not a JSON object");
        return false;
    }
    fw_str text[C_N];
    size_t total = 0;
    for (int c = 0; c < C_N; c++) {
        if (!string_member(root, text_cols[c], c != C_REASON, &text[c], why, why_size))
            return false;
        total += text[c].len + 1;
    }
    if (!time_member(root, "event_time", true, &row->event_time_ms, why, why_size) ||
        !time_member(root, "detected_at", false, &row->detected_at_ms, why, why_size))
        return false;
    row->rule_version = INT64_MIN;
    const fw_json *v = fw_json_get(root, "rule_version");
    if (v && (!fw_json_int64(v, &row->rule_version) || row->rule_version < 0 ||
              row->rule_version > INT32_MAX))
        return fail(why, why_size, "\"%s\" is not a version number", "rule_version");
    v = fw_json_get(root, "shadow");
    if (v && v->type != FW_JSON_BOOL)
        return fail(why, why_size, "\"%s\" is not true or false", "shadow");
    row->shadow = v && v->boolean;
    if (total > row->cap) {
        char *b = realloc(row->buf, total);
        if (!b) {
            snprintf(why, why_size, "out of memory");
            return false;
        }
        row->buf = b;
        row->cap = total;
    }
    const char **dst[C_N] = { &row->alert_id, &row->rule,      &row->severity,
                              &row->entity_type, &row->entity_id, &row->reason };
    char *p = row->buf;
    for (int c = 0; c < C_N; c++) {
        if (text[c].len)
            memcpy(p, text[c].ptr, text[c].len);
        p[text[c].len] = '\0';
        *dst[c] = p;
        p += text[c].len + 1;
    }
    if (!*row->alert_id)
        return fail(why, why_size, "\"%s\" is empty", "alert_id");
    return true;
}

void fw_alert_row_fini(fw_alert_row *row) {
    free(row->buf);
    fw_arena_fini(&row->arena);
    *row = (fw_alert_row){ 0 };
}
