/* console_api.h — the console's JSON API without sockets or a database:
 * which route a request names and what its query asks for, checked, so a
 * bad request gets a 400 that says what was wrong. Unit-tested and fuzzed
 * alone; console_http.c serves it (docs/api.md). */
#ifndef FW_CONSOLE_API_H
#define FW_CONSOLE_API_H

#include <stdbool.h>
#include <stddef.h>

#include "alert_store.h"

#define FW_API_LIMIT_DEFAULT 50
#define FW_API_LIMIT_MAX 1000
#define FW_API_ID_MAX 512 /* longest alert id, entity type or entity id in a URL */

typedef enum fw_api_route {
    FW_API_NOT_FOUND = 0,
    FW_API_HEALTH,        /* GET /health */
    FW_API_ALERTS,        /* GET /api/alerts */
    FW_API_ALERT,         /* GET /api/alerts/{alert_id} */
    FW_API_ENTITY_ALERTS, /* GET /api/entities/{type}/{id}/alerts */
} fw_api_route;

/* A request being read: its route, the ids in its path and its filter. */
typedef struct fw_api_request {
    fw_api_route route;
    char id[FW_API_ID_MAX + 1];          /* FW_API_ALERT: the alert id */
    char entity_type[FW_API_ID_MAX + 1]; /* FW_API_ENTITY_ALERTS */
    char entity_id[FW_API_ID_MAX + 1];
    fw_alert_filter filter;              /* FW_API_ALERTS, FW_API_ENTITY_ALERTS */
    bool bad;                            /* a 400: why says what */
    char why[256];
} fw_api_request;

/** @brief Starts @p r for the (already unescaped) path @p url. */
void fw_api_route_url(fw_api_request *r, const char *url);

/**
 * @brief Takes one query argument (unescaped; @p value NULL for "?key").
 * The filter's strings point at @p value, which must outlive @p r.
 * Unknown names, bad numbers, times and booleans set bad and why.
 */
void fw_api_query_arg(fw_api_request *r, const char *key, const char *value);

#endif
