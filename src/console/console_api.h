/* console_api.h — the console's JSON API without sockets or a database:
 * which route a request names, what its query asks for and what its body
 * says, checked, so a bad request gets a 400 (or 404, 405) that says what
 * was wrong. Unit-tested and fuzzed alone; console_http.c serves it
 * (docs/api.md). */
#ifndef FW_CONSOLE_API_H
#define FW_CONSOLE_API_H

#include <stdbool.h>
#include <stddef.h>

#include "alert_store.h"

#define FW_API_LIMIT_DEFAULT 50
#define FW_API_LIMIT_MAX 1000
#define FW_API_ID_MAX 512     /* longest alert id, entity type or entity id in a URL */
#define FW_API_BODY_MAX 16384 /* a longer request body is refused (413) */
#define FW_API_NAME_MAX 100   /* an actor's, author's or assignee's name */
#define FW_API_TEXT_MAX 10000 /* a note's text */

typedef enum fw_api_route {
    FW_API_NOT_FOUND = 0,
    FW_API_HEALTH,        /* GET /health */
    FW_API_ALERTS,        /* GET /api/alerts */
    FW_API_ALERT,         /* GET /api/alerts/{alert_id} */
    FW_API_ENTITY_ALERTS, /* GET /api/entities/{type}/{id}/alerts */
    FW_API_ALERT_VERDICT, /* POST /api/alerts/{alert_id}/verdict */
    FW_API_CASES,         /* GET /api/cases */
    FW_API_CASE,          /* GET /api/cases/{case_id} */
    FW_API_CASE_UPDATE,   /* POST /api/cases/{case_id}: status, assignee */
    FW_API_CASE_NOTE,     /* POST /api/cases/{case_id}/notes */
    FW_API_CASE_VERDICT,  /* POST /api/cases/{case_id}/verdict */
    FW_API_RULE_HEALTH,   /* GET /api/rules/health */
    FW_API_RULE_COMPARE,  /* GET /api/rules/compare: a shadow rule against a live one */
    FW_API_STREAM,        /* GET /api/stream: server-sent events */
    FW_API_ENGINES,       /* GET /api/engines */
} fw_api_route;

/* A request being read: its route, the ids in its path, its query and body. */
typedef struct fw_api_request {
    fw_api_route route;
    bool write;                          /* a POST: needs the token */
    bool wrong_method;                   /* a 405 */
    char id[FW_API_ID_MAX + 1];          /* the alert id or the case id */
    char entity_type[FW_API_ID_MAX + 1]; /* FW_API_ENTITY_ALERTS */
    char entity_id[FW_API_ID_MAX + 1];
    fw_alert_filter filter;              /* the alert lists */
    fw_case_filter cases;                /* FW_API_CASES */
    int days, silent_days, min_verdicts; /* FW_API_RULE_HEALTH (days: and compare) */
    double min_precision;
    const char *shadow_rule, *live_rule; /* FW_API_RULE_COMPARE */
    int within_minutes;
    /* A write's body: NULL when absent. Point into body_buf. */
    const char *verdict, *actor, *note, *status, *assignee, *text;
    char body_buf[FW_API_BODY_MAX + 64];
    bool bad;                            /* a 400: why says what */
    char why[256];
} fw_api_request;

/** @brief Starts @p r for @p method and the (already unescaped) path @p url. */
void fw_api_route_url(fw_api_request *r, const char *method, const char *url);

/**
 * @brief Takes one query argument (unescaped; @p value NULL for "?key").
 * The filters' strings point at @p value, which must outlive @p r.
 * Unknown names, bad numbers, times and booleans set bad and why.
 */
void fw_api_query_arg(fw_api_request *r, const char *key, const char *value);

/**
 * @brief Reads a write's JSON body (@p n bytes): members by route, each
 * checked (a verdict among confirmed_fraud, false_positive, not_sure; a
 * status among open, investigating, closed; names and texts within their
 * bounds, no control characters in names). Sets bad and why otherwise.
 */
void fw_api_body(fw_api_request *r, const char *body, size_t n);

#endif
