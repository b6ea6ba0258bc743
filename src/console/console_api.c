/* console_api.c — routes and query arguments of the console's API
 * (console_api.h). */
#include "console_api.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_time.h"

static bool copy_id(char *dst, const char *s, size_t n) {
    if (n == 0 || n > FW_API_ID_MAX || memchr(s, '\0', n))
        return false;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

void fw_api_route_url(fw_api_request *r, const char *url) {
    *r = (fw_api_request){ .route = FW_API_NOT_FOUND };
    r->filter = (fw_alert_filter){ .shadow = -1, .from_ms = INT64_MIN, .to_ms = INT64_MIN,
                                   .limit = FW_API_LIMIT_DEFAULT };
    static const char alerts[] = "/api/alerts", entities[] = "/api/entities/";
    size_t n = strlen(url);
    if (!strcmp(url, "/health")) {
        r->route = FW_API_HEALTH;
    } else if (!strcmp(url, alerts) || !strcmp(url, "/api/alerts/")) {
        r->route = FW_API_ALERTS;
    } else if (!strncmp(url, alerts, sizeof(alerts) - 1) && url[sizeof(alerts) - 1] == '/') {
        const char *id = url + sizeof(alerts);
        if (copy_id(r->id, id, strlen(id)) && !strchr(r->id, '/'))
            r->route = FW_API_ALERT;
    } else if (!strncmp(url, entities, sizeof(entities) - 1) && n > sizeof(entities) + 8 &&
               !strcmp(url + n - 7, "/alerts")) {
        /* /api/entities/TYPE/ID/alerts: the type has no '/', the id may. */
        const char *type = url + sizeof(entities) - 1, *slash = strchr(type, '/');
        const char *id_end = url + n - 7;
        if (slash && slash < id_end && copy_id(r->entity_type, type, (size_t)(slash - type)) &&
            copy_id(r->entity_id, slash + 1, (size_t)(id_end - slash - 1))) {
            r->route = FW_API_ENTITY_ALERTS;
            r->filter.entity_type = r->entity_type;
            r->filter.entity_id = r->entity_id;
        }
    }
}

static void bad(fw_api_request *r, const char *fmt, const char *key) {
    if (r->bad)
        return; /* the first problem is the one reported */
    r->bad = true;
    snprintf(r->why, sizeof(r->why), fmt, key);
}

static bool time_arg(fw_api_request *r, const char *key, const char *v, int64_t *ms) {
    if (fw_time_parse_iso8601(v, strlen(v), ms)) {
        bad(r, "%s: not an ISO 8601 time such as 2024-01-31T12:00:00Z", key);
        return false;
    }
    return true;
}

void fw_api_query_arg(fw_api_request *r, const char *key, const char *value) {
    if (r->route != FW_API_ALERTS && r->route != FW_API_ENTITY_ALERTS) {
        bad(r, "%s: this path takes no query arguments", key);
        return;
    }
    fw_alert_filter *f = &r->filter;
    bool entity_route = r->route == FW_API_ENTITY_ALERTS;
    const char **text = !strcmp(key, "rule")                          ? &f->rule
                        : !strcmp(key, "severity")                    ? &f->severity
                        : !strcmp(key, "entity_type") && !entity_route ? &f->entity_type
                        : !strcmp(key, "entity_id") && !entity_route   ? &f->entity_id
                        : !strcmp(key, "before")                      ? &f->before
                                                                       : NULL;
    if (text) {
        if (!value || !*value || strlen(value) > FW_API_ID_MAX)
            bad(r, "%s: give a value (at most 512 bytes)", key);
        else
            *text = value;
    } else if (!strcmp(key, "limit")) {
        char *end;
        long v = value ? strtol(value, &end, 10) : 0;
        if (!value || !*value || *end || v < 1 || v > FW_API_LIMIT_MAX)
            bad(r, "%s: a whole number from 1 to 1000", key);
        else
            f->limit = (int)v;
    } else if (!strcmp(key, "shadow")) {
        if (value && !strcmp(value, "true"))
            f->shadow = 1;
        else if (value && !strcmp(value, "false"))
            f->shadow = 0;
        else if (value && !strcmp(value, "any"))
            f->shadow = -1;
        else
            bad(r, "%s: true, false or any", key);
    } else if (!strcmp(key, "from") || !strcmp(key, "to")) {
        if (!value)
            bad(r, "%s: give a time", key);
        else
            time_arg(r, key, value, !strcmp(key, "from") ? &f->from_ms : &f->to_ms);
    } else {
        bad(r, "unknown query argument \"%s\" (rule, severity, entity_type, entity_id, "
               "shadow, from, to, before, limit)", key);
    }
}
