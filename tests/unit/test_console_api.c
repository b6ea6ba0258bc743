/* test_console_api.c — the console API's routes and query arguments
 * (console_api.c): which path is which route, ids taken from paths
 * (an entity id may hold '/'), the filter each argument sets, and the
 * 400 message of each bad argument. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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
    };
    for (size_t i = 0; i < N(cases); i++) {
        fw_api_request r;
        fw_api_route_url(&r, cases[i].url);
        if (r.route != cases[i].route)
            fail_msg("%s: route %d, expected %d", cases[i].url, r.route, cases[i].route);
        if (r.route == FW_API_ALERT)
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
    fw_api_route_url(&r, "/api/alerts");
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
          "shadow, from, to, before, limit)" },
        { "/api/entities/account/A1/alerts", "entity_id", "B",
          "unknown query argument \"entity_id\" (rule, severity, entity_type, entity_id, "
          "shadow, from, to, before, limit)" },
        { "/api/alerts/fw-1", "rule", "x", "rule: this path takes no query arguments" },
    };
    for (size_t i = 0; i < N(cases); i++) {
        fw_api_request r;
        fw_api_route_url(&r, cases[i].url);
        fw_api_query_arg(&r, cases[i].key, cases[i].value);
        if (!r.bad || strcmp(r.why, cases[i].why))
            fail_msg("case %zu (%s=%s): bad %d, why \"%s\", expected \"%s\"", i, cases[i].key,
                     cases[i].value ? cases[i].value : "(none)", r.bad, r.why, cases[i].why);
        /* The first problem is the one reported. */
        fw_api_query_arg(&r, "colour", "red");
        assert_string_equal(r.why, cases[i].why);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_filter),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
