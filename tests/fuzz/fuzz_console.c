/* fuzz_console.c — libFuzzer target for what the console reads from outside:
 * records of the alert topic (alert_row.c) and API requests (console_api.c).
 * A record accepted as an alert must give columns a PostgreSQL text column
 * takes (valid UTF-8, no NUL; alert_id not empty), the same columns when
 * parsed again into a reused row, and be valid JSON as a whole (the body is
 * stored verbatim); a refused one explains itself in one printable line.
 * Then the input, read as a request (first line the path, each further line
 * KEY=VALUE or KEY), must route without crashing; a refused request says
 * why, and an accepted filter keeps its limit within 1..1000. Violations
 * abort. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert_row.h"
#include "console_api.h"
#include "fw_str.h"

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "fuzz_console: check failed: %s (%s:%d)\n", #cond, __FILE__,  \
                    __LINE__);                                                            \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

static void check_text(const char *s) {
    CHECK(s);
    CHECK(fw_utf8_bad_offset(s, strlen(s)) == SIZE_MAX);
}

static void check_alert(const uint8_t *data, size_t size) {
    static fw_alert_row row, again;
    char why[256] = "";
    if (!fw_alert_row_parse(&row, (const char *)data, size, why, sizeof(why))) {
        CHECK(why[0]);
        for (const char *p = why; *p; p++)
            CHECK(*p != '\n');
        return;
    }
    CHECK(fw_utf8_bad_offset(data, size) == SIZE_MAX);
    CHECK(!memchr(data, '\0', size));
    const char *cols[] = { row.alert_id, row.rule, row.severity, row.entity_type,
                           row.entity_id, row.reason };
    for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
        check_text(cols[i]);
    CHECK(row.alert_id[0]);
    CHECK(fw_alert_row_parse(&again, (const char *)data, size, why, sizeof(why)));
    CHECK(!strcmp(row.alert_id, again.alert_id) && !strcmp(row.entity_id, again.entity_id));
    CHECK(row.event_time_ms == again.event_time_ms && row.shadow == again.shadow);
}

static void check_request(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    CHECK(text);
    memcpy(text, data, size);
    text[size] = '\0';
    char *save = NULL, *line = strtok_r(text, "\n", &save);
    fw_api_request r;
    fw_api_route_url(&r, line ? line : "");
    CHECK(r.route >= FW_API_NOT_FOUND && r.route <= FW_API_ENTITY_ALERTS);
    while ((line = strtok_r(NULL, "\n", &save))) {
        char *eq = strchr(line, '=');
        if (eq)
            *eq = '\0';
        fw_api_query_arg(&r, line, eq ? eq + 1 : NULL);
    }
    if (r.bad)
        CHECK(r.why[0]);
    else
        CHECK(r.filter.limit >= 1 && r.filter.limit <= 1000);
    if (r.route == FW_API_ALERT)
        CHECK(r.id[0] && !strchr(r.id, '/'));
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check_alert(data, size);
    check_request(data, size);
    return 0;
}
