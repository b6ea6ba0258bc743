/* test_console_api.c — the console API's routes and query arguments
 * (console_api.c): which path is which route, ids taken from paths
 * (an entity id may hold '/'), the filter each argument sets, and the
 * 400 message of each bad argument. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "console_api.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_routes(void **state) {
    (void)state;
    static const struct {
        const char *url;
        fw_api_route route;
        const char *a, *b; /* the alert id, or the entity type and id */
    } cases[] = {
        { "/health", FW_API_HEALTH, NULL, NULL },
        { "/api/alerts", FW_API_ALERTS, NULL, NULL },
        { "/api/alerts/", FW_API_ALERTS, NULL, NULL },
        { "/api/alerts/fw-1", FW_API_ALERT, "fw-1", NULL },
        { "/api/alerts/fw-1/x", FW_API_NOT_FOUND, NULL, NULL },
        { "/api/entities/account/A1/alerts", FW_API_ENTITY_ALERTS, "account", "A1" },
        { "/api/entities/key/account_id=A/B/alerts", FW_API_ENTITY_ALERTS, "key",
          "account_id=A/B" },
        { "/api/entities/account//alerts", FW_API_NOT_FOUND, NULL, NULL },
        { "/api/entities/account/alerts", FW_API_NOT_FOUND, NULL, NULL },
        { "/api/entities/", FW_API_NOT_FOUND, NULL, NULL },
        { "/", FW_API_NOT_FOUND, NULL, NULL },
        { "/api/alertsx", FW_API_NOT_FOUND, NULL, NULL },
        { "/api/cases", FW_API_CASES, NULL, NULL },
        { "/api/cases/12", FW_API_CASE, "12", NULL },
        { "/api/cases/x12", FW_API_NOT_FOUND, NULL, NULL },
        { "/api/cases/1234567890123456789", FW_API_NOT_FOUND, NULL, NULL },
        { "/api/rules/health", FW_API_RULE_HEALTH, NULL, NULL },
        { "/api/stream", FW_API_STREAM, NULL, NULL },
        { "/api/rules/compare", FW_API_RULE_COMPARE, NULL, NULL },
        { "/api/engines", FW_API_ENGINES, NULL, NULL },
    };
    for (size_t i = 0; i < N(cases); i++) {
        fw_api_request r;
        fw_api_route_url(&r, "GET", cases[i].url);
        if (r.route != cases[i].route)
            fail_msg("%s: route %d, expected %d", cases[i].url, r.route, cases[i].route);
        if (r.route == FW_API_ALERT || r.route == FW_API_CASE)
            assert_string_equal(r.id, cases[i].a);
        if (r.route == FW_API_ENTITY_ALERTS) {
            assert_string_equal(r.filter.entity_type, cases[i].a);
            assert_string_equal(r.filter.entity_id, cases[i].b);
        }
    }
}

static void test_filter(void **state) {
    (void)state;
    fw_api_request r;
    fw_api_route_url(&r, "GET", "/api/alerts");
    assert_int_equal(r.filter.limit, FW_API_LIMIT_DEFAULT);
    assert_int_equal(r.filter.shadow, -1);
    fw_api_query_arg(&r, "rule", "velocity");
    fw_api_query_arg(&r, "severity", "high");
    fw_api_query_arg(&r, "entity_type", "account");
    fw_api_query_arg(&r, "entity_id", "A1");
    fw_api_query_arg(&r, "shadow", "false");
    fw_api_query_arg(&r, "from", "2024-01-01T00:00:00Z");
    fw_api_query_arg(&r, "to", "2024-01-02T00:00:00.250Z");
    fw_api_query_arg(&r, "before", "fw-9");
    fw_api_query_arg(&r, "limit", "1000");
    if (r.bad)
        fail_msg("refused: %s", r.why);
    assert_string_equal(r.filter.rule, "velocity");
    assert_string_equal(r.filter.severity, "high");
    assert_string_equal(r.filter.entity_type, "account");
    assert_string_equal(r.filter.entity_id, "A1");
    assert_int_equal(r.filter.shadow, 0);
    assert_int_equal(r.filter.from_ms, 1704067200000LL);
    assert_int_equal(r.filter.to_ms, 1704153600250LL);
    assert_string_equal(r.filter.before, "fw-9");
    assert_int_equal(r.filter.limit, 1000);
}

static void test_bad_args(void **state) {
    (void)state;
    static const struct {
        const char *url, *key, *value, *why;
    } cases[] = {
        { "/api/alerts", "limit", "0", "limit: a whole number from 1 to 1000" },
        { "/api/alerts", "limit", "1001", "limit: a whole number from 1 to 1000" },
        { "/api/alerts", "limit", "5x", "limit: a whole number from 1 to 1000" },
        { "/api/alerts", "limit", NULL, "limit: a whole number from 1 to 1000" },
        { "/api/alerts", "shadow", "yes", "shadow: true, false or any" },
        { "/api/alerts", "from", "monday",
          "from: not an ISO 8601 time such as 2024-01-31T12:00:00Z" },
        { "/api/alerts", "rule", "", "rule: give a value (at most 512 bytes)" },
        { "/api/alerts", "colour", "red",
          "unknown query argument \"colour\" (rule, severity, entity_type, entity_id, "
          "shadow, verdict, status, from, to, before, limit)" },
        { "/api/entities/account/A1/alerts", "entity_id", "B",
          "unknown query argument \"entity_id\" (rule, severity, entity_type, entity_id, "
          "shadow, verdict, status, from, to, before, limit)" },
        { "/api/alerts/fw-1", "rule", "x", "rule: this path takes no query arguments" },
        { "/api/rules/compare", "within_minutes", "0", "within_minutes: a whole number from 1 to 10080" },
        { "/api/rules/compare", "rule", "x",
          "unknown query argument \"rule\" (shadow, live, within_minutes, days)" },
        { "/api/rules/health", "min_precision", "1.5", "min_precision: a number from 0 to 1" },
    };
    for (size_t i = 0; i < N(cases); i++) {
        fw_api_request r;
        fw_api_route_url(&r, "GET", cases[i].url);
        fw_api_query_arg(&r, cases[i].key, cases[i].value);
        if (!r.bad || strcmp(r.why, cases[i].why))
            fail_msg("case %zu (%s=%s): bad %d, why \"%s\", expected \"%s\"", i, cases[i].key,
                     cases[i].value ? cases[i].value : "(none)", r.bad, r.why, cases[i].why);
        /* The first problem is the one reported. */
        fw_api_query_arg(&r, "colour", "red");
        assert_string_equal(r.why, cases[i].why);
    }
}

/* Writes: POST only, the method decides between reading and changing a case. */
static void test_methods(void **state) {
    (void)state;
    static const struct {
        const char *method, *url;
        fw_api_route route;
        bool write, wrong;
    } cases[] = {
        { "POST", "/api/alerts/fw-1/verdict", FW_API_ALERT_VERDICT, true, false },
        { "GET", "/api/alerts/fw-1/verdict", FW_API_ALERT_VERDICT, true, true },
        { "POST", "/api/cases/7", FW_API_CASE_UPDATE, true, false },
        { "GET", "/api/cases/7", FW_API_CASE, false, false },
        { "DELETE", "/api/cases/7", FW_API_CASE, false, true },
        { "POST", "/api/cases/7/notes", FW_API_CASE_NOTE, true, false },
        { "POST", "/api/cases/7/verdict", FW_API_CASE_VERDICT, true, false },
        { "POST", "/api/alerts", FW_API_ALERTS, false, true },
        { "HEAD", "/api/alerts", FW_API_ALERTS, false, false },
    };
    for (size_t i = 0; i < N(cases); i++) {
        fw_api_request r;
        fw_api_route_url(&r, cases[i].method, cases[i].url);
        if (r.route != cases[i].route || r.write != cases[i].write ||
            r.wrong_method != cases[i].wrong)
            fail_msg("%s %s: route %d write %d wrong %d, expected %d %d %d", cases[i].method,
                     cases[i].url, r.route, r.write, r.wrong_method, cases[i].route,
                     cases[i].write, cases[i].wrong);
    }
}

static void test_bodies(void **state) {
    (void)state;
    static const struct {
        const char *url, *body, *why; /* why NULL: accepted */
    } cases[] = {
        { "/api/alerts/a/verdict", "{\"verdict\":\"confirmed_fraud\",\"actor\":\"ann\"}", NULL },
        { "/api/alerts/a/verdict",
          "{\"verdict\":\"false_positive\",\"actor\":\"ann\",\"note\":\"known payee\"}", NULL },
        { "/api/alerts/a/verdict", "{\"verdict\":\"maybe\",\"actor\":\"ann\"}",
          "verdict: confirmed_fraud, false_positive or not_sure" },
        { "/api/alerts/a/verdict", "{\"verdict\":\"not_sure\"}", "missing \"actor\" in the body" },
        { "/api/alerts/a/verdict", "{\"verdict\":\"not_sure\",\"actor\":\"a\\nb\"}",
          "actor: a name of 1 to 100 characters without control characters" },
        { "/api/alerts/a/verdict", "{\"verdict\":\"not_sure\",\"actor\":\"ann\",\"x\":1}",
          "unknown member \"x\" in the body" },
        { "/api/alerts/a/verdict", "[1]", "the body must be a JSON object" },
        { "/api/alerts/a/verdict", "{", NULL /* a JSON error, checked below */ },
        { "/api/cases/1", "{\"actor\":\"ann\",\"status\":\"investigating\"}", NULL },
        { "/api/cases/1", "{\"actor\":\"ann\",\"assignee\":null}", NULL },
        { "/api/cases/1", "{\"actor\":\"ann\"}", "the body: give status, assignee or both" },
        { "/api/cases/1", "{\"actor\":\"ann\",\"status\":\"done\"}",
          "status: open, investigating or closed" },
        { "/api/cases/1/notes", "{\"author\":\"ann\",\"text\":\"called the customer\"}", NULL },
        { "/api/cases/1/notes", "{\"author\":\"ann\",\"text\":\"\"}",
          "text: a string of 1 to 10000 bytes" },
    };
    for (size_t i = 0; i < N(cases); i++) {
        fw_api_request *r = malloc(sizeof(*r));
        assert_non_null(r);
        fw_api_route_url(r, "POST", cases[i].url);
        fw_api_body(r, cases[i].body, strlen(cases[i].body));
        bool json_error = !strcmp(cases[i].body, "{");
        if (json_error) {
            if (!r->bad || strncmp(r->why, "the body is not JSON: ", 22))
                fail_msg("case %zu: why \"%s\"", i, r->why);
        } else if (r->bad != (cases[i].why != NULL) ||
                   (cases[i].why && strcmp(r->why, cases[i].why))) {
            fail_msg("case %zu (%s): bad %d why \"%s\", expected %s", i, cases[i].body, r->bad,
                     r->why, cases[i].why ? cases[i].why : "accepted");
        }
        free(r);
    }
    /* What an accepted body gives. */
    fw_api_request *r = malloc(sizeof(*r));
    assert_non_null(r);
    fw_api_route_url(r, "POST", "/api/cases/3");
    static const char body[] = "{\"actor\":\"ann\",\"status\":\"closed\",\"assignee\":\"bob\"}";
    fw_api_body(r, body, sizeof(body) - 1);
    assert_false(r->bad);
    assert_string_equal(r->actor, "ann");
    assert_string_equal(r->status, "closed");
    assert_string_equal(r->assignee, "bob");
    /* A body over the bound is refused before it is parsed. */
    static char big[FW_API_BODY_MAX + 2];
    memset(big, ' ', sizeof(big));
    fw_api_route_url(r, "POST", "/api/cases/3/notes");
    fw_api_body(r, big, sizeof(big));
    assert_true(r->bad);
    assert_string_equal(r->why, "the body: larger than 16384 bytes");
    free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_filter),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
