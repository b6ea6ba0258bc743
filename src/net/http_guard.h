/* http_guard.h — what `fraudwatch serve` and `fraudwatch console` check
 * before they read a request body, without sockets, so it can be
 * unit-tested: the bearer token, the Content-Type, and the budget of
 * request-body bytes held across all connections. Also the names of the reasons a request is refused, counted
 * in /health and in the stop summary. */
#ifndef FW_HTTP_GUARD_H
#define FW_HTTP_GUARD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#define FW_HTTP_TOKEN_MAX 4096 /* longest accepted --token */

/** Why a request was refused (not a malformed body: those are 400s). */
typedef enum fw_refusal {
    FW_REFUSED_CONNECTIONS = 0, /* 503: more than --max-connections open */
    FW_REFUSED_INFLIGHT_BYTES,  /* 503: the body would exceed --max-inflight-bytes */
    FW_REFUSED_DEADLINE,        /* cut off: a request passed --request-timeout-ms */
    FW_REFUSED_UNAUTHORIZED,    /* 401: no or wrong bearer token */
    FW_REFUSED_CONTENT_TYPE,    /* 415: not application/json */
    FW_REFUSED_BODY_TOO_LARGE,  /* 400 or cut off: over --max-body */
    FW_REFUSED__COUNT
} fw_refusal;

/** @brief "connections", "inflight_bytes", "deadline", "unauthorized",
 *  "content_type", "body_too_large". */
const char *fw_refusal_name(fw_refusal r);

/**
 * @brief Checks a token given by --token, FW_API_TOKEN or --token-file: 1 to
 * FW_HTTP_TOKEN_MAX visible ASCII characters (0x21-0x7e), as RFC 6750's
 * b64token and more.
 * @returns false with @p errstr saying what is wrong (never the token itself).
 */
bool fw_http_token_valid(const char *token, char *errstr, size_t errstr_size);

/**
 * @brief Whether the Authorization header value @p authorization (NULL when
 * absent) is "Bearer <token>" (scheme case-insensitive, spaces after it
 * skipped). The token is compared in constant time for a given token length.
 */
bool fw_http_bearer_ok(const char *authorization, const char *token);

/**
 * @brief Whether the Content-Type header value @p content_type (NULL when
 * absent) is application/json, case-insensitive, parameters such as
 * "; charset=utf-8" allowed.
 */
bool fw_http_content_type_json(const char *content_type);

/** Bytes of request bodies held across all connections, and the most allowed.
 *  Taken before a body is read or grown, given back when the request ends. */
typedef struct fw_http_budget {
    atomic_size_t used;
    size_t max;
} fw_http_budget;

/** @brief An empty budget of @p max bytes. */
void fw_http_budget_init(fw_http_budget *b, size_t max);

/** @brief Takes @p n bytes if that keeps the total within the budget.
 *  @returns false, taking nothing, when it would not. Thread-safe. */
bool fw_http_budget_take(fw_http_budget *b, size_t n);

/** @brief Gives back @p n bytes taken before. Thread-safe. */
void fw_http_budget_give(fw_http_budget *b, size_t n);

/** @brief Bytes taken now. */
size_t fw_http_budget_used(fw_http_budget *b);

#endif
