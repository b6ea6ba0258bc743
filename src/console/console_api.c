/* console_api.c — routes, query arguments and bodies of the console's API
 * (console_api.h). */
#include "console_api.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_time.h"
#include "json.h"

static bool copy_id(char *dst, const char *s, size_t n) {
    if (n == 0 || n > FW_API_ID_MAX || memchr(s, '\0', n))
        return false;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

/* A case id: 1 to 18 digits. */
static bool copy_case_id(char *dst, const char *s, size_t n) {
    if (n == 0 || n > 18)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return copy_id(dst, s, n);
}

static bool ends_with(const char *s, size_t n, const char *tail, size_t *head) {
    size_t t = strlen(tail);
    if (n < t || memcmp(s + n - t, tail, t))
        return false;
    *head = n - t;
    return true;
}

/* Routes by path alone; the method is checked after. */
static void route_path(fw_api_request *r, const char *url) {
    static const char alerts[] = "/api/alerts/", entities[] = "/api/entities/",
                      cases[] = "/api/cases/";
    size_t n = strlen(url), head;
    if (!strcmp(url, "/health")) {
        r->route = FW_API_HEALTH;
    } else if (!strcmp(url, "/api/alerts") || !strcmp(url, alerts)) {
        r->route = FW_API_ALERTS;
    } else if (!strcmp(url, "/api/cases") || !strcmp(url, cases)) {
        r->route = FW_API_CASES;
    } else if (!strcmp(url, "/api/rules/health")) {
        r->route = FW_API_RULE_HEALTH;
    } else if (!strcmp(url, "/api/rules/compare")) {
        r->route = FW_API_RULE_COMPARE;
    } else if (!strcmp(url, "/api/stream")) {
        r->route = FW_API_STREAM;
    } else if (!strcmp(url, "/api/engines")) {
        r->route = FW_API_ENGINES;
    } else if (!strncmp(url, alerts, sizeof(alerts) - 1)) {
        const char *id = url + sizeof(alerts) - 1;
        size_t len = n - (sizeof(alerts) - 1);
        bool verdict = ends_with(id, len, "/verdict", &head);
        if (verdict)
            len = head;
        if (copy_id(r->id, id, len) && !strchr(r->id, '/'))
            r->route = verdict ? FW_API_ALERT_VERDICT : FW_API_ALERT;
    } else if (!strncmp(url, cases, sizeof(cases) - 1)) {
        const char *id = url + sizeof(cases) - 1;
        size_t len = n - (sizeof(cases) - 1);
        fw_api_route route = FW_API_CASE;
        if (ends_with(id, len, "/notes", &head))
            route = FW_API_CASE_NOTE, len = head;
        else if (ends_with(id, len, "/verdict", &head))
            route = FW_API_CASE_VERDICT, len = head;
        if (copy_case_id(r->id, id, len))
            r->route = route;
    } else if (!strncmp(url, entities, sizeof(entities) - 1) &&
               ends_with(url, n, "/alerts", &head) && head > sizeof(entities) - 1) {
        /* /api/entities/TYPE/ID/alerts: the type has no '/', the id may. */
        const char *type = url + sizeof(entities) - 1, *slash = strchr(type, '/');
        const char *id_end = url + head;
        if (slash && slash < id_end && copy_id(r->entity_type, type, (size_t)(slash - type)) &&
            copy_id(r->entity_id, slash + 1, (size_t)(id_end - slash - 1))) {
            r->route = FW_API_ENTITY_ALERTS;
            r->filter.entity_type = r->entity_type;
            r->filter.entity_id = r->entity_id;
        }
    }
}

void fw_api_route_url(fw_api_request *r, const char *method, const char *url) {
    r->route = FW_API_NOT_FOUND;
    r->write = r->wrong_method = r->bad = false;
    r->why[0] = r->id[0] = '\0';
    r->filter = (fw_alert_filter){ .shadow = -1, .from_ms = INT64_MIN, .to_ms = INT64_MIN,
                                   .limit = FW_API_LIMIT_DEFAULT };
    r->cases = (fw_case_filter){ .limit = FW_API_LIMIT_DEFAULT };
    r->days = 30;
    r->silent_days = 7;
    r->min_precision = 0.5;
    r->min_verdicts = 5;
    r->shadow_rule = r->live_rule = NULL;
    r->within_minutes = 60;
    r->verdict = r->actor = r->note = r->status = r->assignee = r->text = NULL;
    route_path(r, url);
    bool post = !strcmp(method, "POST"), get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    switch (r->route) {
    case FW_API_NOT_FOUND:
        break;
    case FW_API_ALERT_VERDICT:
    case FW_API_CASE_NOTE:
    case FW_API_CASE_VERDICT:
        r->write = true;
        r->wrong_method = !post;
        break;
    case FW_API_CASE: /* GET reads it, POST changes its status or assignee */
        if (post) {
            r->route = FW_API_CASE_UPDATE;
            r->write = true;
        }
        r->wrong_method = !post && !get;
        break;
    default:
        r->wrong_method = !get;
    }
}

static void bad(fw_api_request *r, const char *fmt, const char *key) {
    if (r->bad)
        return; /* the first problem is the one reported */
    r->bad = true;
    snprintf(r->why, sizeof(r->why), fmt, key);
}

static void int_arg(fw_api_request *r, const char *key, const char *value, long min, long max,
                    int *out, const char *msg) {
    char *end;
    long v = value ? strtol(value, &end, 10) : 0;
    if (!value || !*value || *end || v < min || v > max)
        bad(r, msg, key);
    else
        *out = (int)v;
}

static void text_arg(fw_api_request *r, const char *key, const char *value, const char **out) {
    if (!value || !*value || strlen(value) > FW_API_ID_MAX)
        bad(r, "%s: give a value (at most 512 bytes)", key);
    else
        *out = value;
}

static bool one_of(const char *v, const char *const *set) {
    for (; *set; set++)
        if (v && !strcmp(v, *set))
            return true;
    return false;
}

static const char *const statuses[] = { "open", "investigating", "closed", NULL };
static const char *const verdicts[] = { "confirmed_fraud", "false_positive", "not_sure", NULL };

static void alerts_arg(fw_api_request *r, const char *key, const char *value) {
    fw_alert_filter *f = &r->filter;
    bool entity_route = r->route == FW_API_ENTITY_ALERTS;
    const char **text = !strcmp(key, "rule")                          ? &f->rule
                        : !strcmp(key, "severity")                    ? &f->severity
                        : !strcmp(key, "entity_type") && !entity_route ? &f->entity_type
                        : !strcmp(key, "entity_id") && !entity_route   ? &f->entity_id
                        : !strcmp(key, "before")                      ? &f->before
                                                                       : NULL;
    if (text) {
        text_arg(r, key, value, text);
    } else if (!strcmp(key, "limit")) {
        int_arg(r, key, value, 1, FW_API_LIMIT_MAX, &f->limit,
                "%s: a whole number from 1 to 1000");
    } else if (!strcmp(key, "shadow")) {
        if (value && !strcmp(value, "true"))
            f->shadow = 1;
        else if (value && !strcmp(value, "false"))
            f->shadow = 0;
        else if (value && !strcmp(value, "any"))
            f->shadow = -1;
        else
            bad(r, "%s: true, false or any", key);
    } else if (!strcmp(key, "verdict")) {
        static const char *const with_none[] = { "confirmed_fraud", "false_positive",
                                                 "not_sure", "none", NULL };
        if (one_of(value, with_none))
            f->verdict = value;
        else
            bad(r, "%s: confirmed_fraud, false_positive, not_sure or none", key);
    } else if (!strcmp(key, "status")) {
        if (one_of(value, statuses))
            f->status = value;
        else
            bad(r, "%s: open, investigating or closed (its case's)", key);
    } else if (!strcmp(key, "from") || !strcmp(key, "to")) {
        int64_t *ms = !strcmp(key, "from") ? &f->from_ms : &f->to_ms;
        if (!value || fw_time_parse_iso8601(value, strlen(value), ms))
            bad(r, "%s: not an ISO 8601 time such as 2024-01-31T12:00:00Z", key);
    } else {
        bad(r, "unknown query argument \"%s\" (rule, severity, entity_type, entity_id, "
               "shadow, verdict, status, from, to, before, limit)", key);
    }
}

static void cases_arg(fw_api_request *r, const char *key, const char *value) {
    fw_case_filter *f = &r->cases;
    if (!strcmp(key, "status")) {
        if (one_of(value, statuses))
            f->status = value;
        else
            bad(r, "%s: open, investigating or closed", key);
    } else if (!strcmp(key, "assignee")) {
        text_arg(r, key, value, &f->assignee);
    } else if (!strcmp(key, "before")) {
        char tmp[FW_API_ID_MAX + 1];
        if (!value || !copy_case_id(tmp, value, strlen(value)))
            bad(r, "%s: a case id", key);
        else
            f->before = value;
    } else if (!strcmp(key, "limit")) {
        int_arg(r, key, value, 1, FW_API_LIMIT_MAX, &f->limit,
                "%s: a whole number from 1 to 1000");
    } else {
        bad(r, "unknown query argument \"%s\" (status, assignee, before, limit)", key);
    }
}

static void health_arg(fw_api_request *r, const char *key, const char *value) {
    if (!strcmp(key, "days")) {
        int_arg(r, key, value, 1, 3650, &r->days, "%s: a whole number from 1 to 3650");
    } else if (!strcmp(key, "silent_days")) {
        int_arg(r, key, value, 1, 3650, &r->silent_days, "%s: a whole number from 1 to 3650");
    } else if (!strcmp(key, "min_verdicts")) {
        int_arg(r, key, value, 1, 1000000, &r->min_verdicts,
                "%s: a whole number from 1 to 1000000");
    } else if (!strcmp(key, "min_precision")) {
        char *end;
        double v = value ? strtod(value, &end) : -1;
        if (!value || !*value || *end || !(v >= 0 && v <= 1))
            bad(r, "%s: a number from 0 to 1", key);
        else
            r->min_precision = v;
    } else {
        bad(r, "unknown query argument \"%s\" (days, silent_days, min_precision, "
               "min_verdicts)", key);
    }
}

static void compare_arg(fw_api_request *r, const char *key, const char *value) {
    if (!strcmp(key, "shadow"))
        text_arg(r, key, value, &r->shadow_rule);
    else if (!strcmp(key, "live"))
        text_arg(r, key, value, &r->live_rule);
    else if (!strcmp(key, "within_minutes"))
        int_arg(r, key, value, 1, 10080, &r->within_minutes,
                "%s: a whole number from 1 to 10080");
    else if (!strcmp(key, "days"))
        int_arg(r, key, value, 1, 3650, &r->days, "%s: a whole number from 1 to 3650");
    else
        bad(r, "unknown query argument \"%s\" (shadow, live, within_minutes, days)", key);
}

void fw_api_query_arg(fw_api_request *r, const char *key, const char *value) {
    switch (r->route) {
    case FW_API_ALERTS:
    case FW_API_ENTITY_ALERTS:
        alerts_arg(r, key, value);
        break;
    case FW_API_CASES:
        cases_arg(r, key, value);
        break;
    case FW_API_RULE_HEALTH:
        health_arg(r, key, value);
        break;
    case FW_API_RULE_COMPARE:
        compare_arg(r, key, value);
        break;
    default:
        bad(r, "%s: this path takes no query arguments", key);
    }
}

/* A name: 1 to FW_API_NAME_MAX bytes, no control characters. */
static bool name_ok(fw_str s) {
    if (s.len == 0 || s.len > FW_API_NAME_MAX)
        return false;
    for (size_t i = 0; i < s.len; i++)
        if ((unsigned char)s.ptr[i] < 0x20 || s.ptr[i] == 0x7f)
            return false;
    return true;
}

typedef enum { M_SET, M_NAME, M_TEXT } member_kind;

/* What each write's body may hold. */
typedef struct body_member {
    const char *name;
    bool required;
    member_kind kind;
    const char *const *set; /* M_SET */
    size_t max;             /* M_TEXT: bytes */
    const char *what;       /* the 400's words for a bad value */
} body_member;

#define VERDICTS "confirmed_fraud, false_positive or not_sure"
#define STATUSES "open, investigating or closed"
#define A_NAME "a name of 1 to 100 characters without control characters"

static const body_member verdict_body[] = {
    { "verdict", true, M_SET, verdicts, 0, VERDICTS },
    { "actor", true, M_NAME, NULL, 0, A_NAME },
    { "note", false, M_TEXT, NULL, 2000, "a string of at most 2000 bytes" },
    { NULL, false, 0, NULL, 0, NULL },
};
static const body_member case_body[] = {
    { "actor", true, M_NAME, NULL, 0, A_NAME },
    { "status", false, M_SET, statuses, 0, STATUSES },
    { "assignee", false, M_NAME, NULL, 0, A_NAME " (or null: nobody)" },
    { NULL, false, 0, NULL, 0, NULL },
};
static const body_member note_body[] = {
    { "author", true, M_NAME, NULL, 0, A_NAME },
    { "text", true, M_TEXT, NULL, FW_API_TEXT_MAX, "a string of 1 to 10000 bytes" },
    { NULL, false, 0, NULL, 0, NULL },
};

static bool member_ok(const body_member *b, const fw_json *m) {
    if (b == &case_body[2] && m->type == FW_JSON_NULL)
        return true; /* assignee null: nobody */
    if (m->type != FW_JSON_STRING || memchr(m->str.ptr, '\0', m->str.len))
        return false;
    switch (b->kind) {
    case M_SET:
        for (const char *const *v = b->set; *v; v++)
            if (fw_str_eq_c(m->str, *v))
                return true;
        return false;
    case M_NAME:
        return name_ok(m->str);
    default:
        return m->str.len >= (b->required ? 1u : 0u) && m->str.len <= b->max;
    }
}

void fw_api_body(fw_api_request *r, const char *body, size_t n) {
    const body_member *members = r->route == FW_API_CASE_UPDATE ? case_body
                                 : r->route == FW_API_CASE_NOTE ? note_body
                                                                : verdict_body;
    const char **dst[3] = { NULL, NULL, NULL };
    if (members == verdict_body) {
        dst[0] = &r->verdict, dst[1] = &r->actor, dst[2] = &r->note;
    } else if (members == case_body) {
        dst[0] = &r->actor, dst[1] = &r->status, dst[2] = &r->assignee;
    } else {
        dst[0] = &r->actor, dst[1] = &r->text;
    }
    if (n > FW_API_BODY_MAX) {
        bad(r, "%s: larger than 16384 bytes", "the body");
        return;
    }
    fw_arena a;
    if (!fw_arena_init(&a, fw_json_arena_bound(n))) {
        bad(r, "%s: out of memory", "the body");
        return;
    }
    fw_json *root;
    char err[200];
    if (fw_json_parse(body, n, &a, &root, err, sizeof(err))) {
        bad(r, "the body is not JSON: %s", err);
    } else if (root->type != FW_JSON_OBJECT) {
        bad(r, "%s must be a JSON object", "the body");
    } else {
        size_t used = 0;
        FW_JSON_FOREACH(m, root) {
            size_t k = 0;
            while (members[k].name && !fw_str_eq_c(m->key, members[k].name))
                k++;
            if (!members[k].name) {
                char name[48];
                bad(r, "unknown member %s in the body", fw_json_quote(m->key, name,
                                                                      sizeof(name)));
                break;
            }
            if (!member_ok(&members[k], m)) {
                char msg[160];
                snprintf(msg, sizeof(msg), "%s: %s", members[k].name, members[k].what);
                bad(r, "%s", msg);
                break;
            }
            char *p = r->body_buf + used;
            if (m->type == FW_JSON_STRING)
                memcpy(p, m->str.ptr, m->str.len);
            size_t len = m->type == FW_JSON_STRING ? m->str.len : 0;
            p[len] = '\0';
            used += len + 1;
            *dst[k] = p;
        }
        for (size_t k = 0; !r->bad && members[k].name; k++)
            if (members[k].required && !*dst[k])
                bad(r, "missing \"%s\" in the body", members[k].name);
        if (!r->bad && members == case_body && !r->status && !r->assignee)
            bad(r, "%s: give status, assignee or both", "the body");
    }
    fw_arena_fini(&a);
}
