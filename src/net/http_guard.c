/* http_guard.c — see http_guard.h. */
#include "http_guard.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const refusal_names[FW_REFUSED__COUNT] = {
    [FW_REFUSED_CONNECTIONS] = "connections",
    [FW_REFUSED_INFLIGHT_BYTES] = "inflight_bytes",
    [FW_REFUSED_DEADLINE] = "deadline",
    [FW_REFUSED_UNAUTHORIZED] = "unauthorized",
    [FW_REFUSED_CONTENT_TYPE] = "content_type",
    [FW_REFUSED_BODY_TOO_LARGE] = "body_too_large",
};

const char *fw_refusal_name(fw_refusal r) {
    return (unsigned)r < FW_REFUSED__COUNT ? refusal_names[r] : "unknown";
}

bool fw_http_token_valid(const char *token, char *errstr, size_t errstr_size) {
    size_t n = token ? strlen(token) : 0;
    if (n == 0) {
        snprintf(errstr, errstr_size, "the token is empty");
        return false;
    }
    if (n > FW_HTTP_TOKEN_MAX) {
        snprintf(errstr, errstr_size, "the token has %zu characters, at most %d", n,
                 FW_HTTP_TOKEN_MAX);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)token[i];
        if (c < 0x21 || c > 0x7e) {
            /* The position, not the character: the token stays out of logs. */
            snprintf(errstr, errstr_size,
                     "the token has a space, control or non-ASCII byte at position %zu "
                     "(only visible ASCII is allowed)", i + 1);
            return false;
        }
    }
    return true;
}

bool fw_http_bearer_ok(const char *authorization, const char *token) {
    if (!authorization || !token || strncasecmp(authorization, "Bearer ", 7) != 0)
        return false;
    const char *got = authorization + 7;
    while (*got == ' ')
        got++;
    size_t want_len = strlen(token), got_len = strnlen(got, FW_HTTP_TOKEN_MAX + 1);
    /* Every byte of the token is compared whatever the first difference, so
     * the time taken does not tell how much of a guess was right. */
    unsigned char diff = want_len != got_len;
    for (size_t i = 0; i < want_len; i++)
        diff |= (unsigned char)token[i] ^ (unsigned char)(i < got_len ? got[i] : 0);
    return diff == 0;
}

bool fw_http_content_type_json(const char *ct) {
    static const char json[] = "application/json";
    if (!ct)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, json, sizeof(json) - 1) != 0)
        return false;
    ct += sizeof(json) - 1;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

void fw_http_budget_init(fw_http_budget *b, size_t max) {
    atomic_init(&b->used, 0);
    b->max = max;
}

bool fw_http_budget_take(fw_http_budget *b, size_t n) {
    size_t cur = atomic_load(&b->used);
    do {
        if (n > b->max || cur > b->max - n)
            return false;
    } while (!atomic_compare_exchange_weak(&b->used, &cur, cur + n));
    return true;
}

void fw_http_budget_give(fw_http_budget *b, size_t n) { atomic_fetch_sub(&b->used, n); }

size_t fw_http_budget_used(fw_http_budget *b) { return atomic_load(&b->used); }
