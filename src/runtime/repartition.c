/* repartition.c — topic names and the upstream watermark minimum of a stage
 * task (repartition.h). */
#include "repartition.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Kafka topic names are [a-zA-Z0-9._-]; a stage is named by a group
 * expression's source text, which may hold anything. */
static void sanitized(char *out, size_t size, const char *prefix, const char *sep,
                      const char *name) {
    int n = snprintf(out, size, "%s%s", prefix, sep);
    for (size_t i = n > 0 ? (size_t)n : 0, j = 0; name[j] && i + 1 < size; i++, j++) {
        char c = name[j];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        out[i] = ok ? c : '_';
        out[i + 1] = '\0';
    }
}

void fw_repartition_topic(char *out, size_t size, const char *group, const char *stage_name) {
    char prefix[300];
    snprintf(prefix, sizeof(prefix), "%.250s-repartition", group);
    sanitized(out, size, prefix, "-", stage_name);
}

void fw_repartition_changelog(char *out, size_t size, const char *changelog,
                              const char *stage_name) {
    sanitized(out, size, changelog, "-", stage_name);
}

bool fw_upstream_wm_init(fw_upstream_wm *u, int32_t partitions) {
    u->n = partitions > 0 ? partitions : 1;
    u->wm = malloc(sizeof(*u->wm) * (size_t)u->n);
    u->idle = calloc((size_t)u->n, sizeof(*u->idle));
    if (!u->wm || !u->idle) {
        fw_upstream_wm_fini(u);
        return false;
    }
    for (int32_t i = 0; i < u->n; i++)
        u->wm[i] = INT64_MIN;
    return true;
}

void fw_upstream_wm_fini(fw_upstream_wm *u) {
    free(u->wm);
    free(u->idle);
    u->wm = NULL;
    u->idle = NULL;
}

void fw_upstream_wm_format(char *out, size_t size, int64_t wm, bool idle) {
    if (wm == INT64_MIN)
        snprintf(out, size, "idle");
    else
        snprintf(out, size, "%s%" PRId64, idle ? "idle:" : "", wm);
}

/* A decimal integer of at most 18 digits, optionally negative. */
static bool parse_i64(const char *s, size_t len, int64_t *out) {
    bool neg = len && s[0] == '-';
    size_t i = neg;
    if (len == i || len - i > 18)
        return false;
    int64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = neg ? -v : v;
    return true;
}

bool fw_upstream_wm_take(fw_upstream_wm *u, const void *source, size_t source_len,
                         const void *value, size_t value_len) {
    int64_t src, wm = INT64_MIN;
    const char *v = value;
    bool idle = value_len >= 4 && !memcmp(v, "idle", 4);
    if (!source || !value || !parse_i64(source, source_len, &src) || src < 0 || src >= u->n)
        return false;
    if (idle && value_len > 4 && (v[4] != ':' || !parse_i64(v + 5, value_len - 5, &wm)))
        return false;
    if (!idle && !parse_i64(v, value_len, &wm))
        return false;
    /* A partition's watermark never goes back. */
    u->idle[src] = idle;
    if (wm > u->wm[src])
        u->wm[src] = wm;
    return true;
}

int64_t fw_upstream_wm_min(const fw_upstream_wm *u) {
    int64_t active = INT64_MAX, idle = INT64_MAX; /* idle: the highest; MAX for none */
    bool any_active = false;
    for (int32_t i = 0; i < u->n; i++) {
        if (!u->idle[i]) {
            any_active = true;
            active = u->wm[i] < active ? u->wm[i] : active;
        } else if (u->wm[i] != INT64_MIN && (idle == INT64_MAX || u->wm[i] > idle)) {
            idle = u->wm[i];
        }
    }
    if (any_active)
        return active;
    /* All idle: none has a record waiting, none holds the others back. */
    return idle == INT64_MAX ? INT64_MIN : idle;
}

bool fw_upstream_wm_all_idle(const fw_upstream_wm *u) {
    for (int32_t i = 0; i < u->n; i++)
        if (!u->idle[i])
            return false;
    return u->n > 0;
}

int32_t fw_upstream_wm_holder(const fw_upstream_wm *u) {
    int32_t at = -1;
    for (int32_t i = 0; i < u->n; i++)
        if (!u->idle[i] && (at < 0 || u->wm[i] < u->wm[at]))
            at = i;
    return at;
}
