/* fuzz_console.c — libFuzzer target for what the console reads from outside:
 * records of the alert topic (alert_row.c) and API requests (console_api.c).
 * A record accepted as an alert must give columns a PostgreSQL text column
 * takes (valid UTF-8, no NUL; alert_id not empty), the same columns when
 * parsed again into a reused row, and be valid JSON as a whole (the body is
 * stored verbatim); a refused one explains itself in one printable line.
 * The input as a feedback record (eval --feedback) is tallied or refused
 * with a reason, and the tally's rows always add up to the judged alerts.
 * Then the input, read as a request (first line the path, each further line
 * KEY=VALUE or KEY; or "POST /path" and a body), must route without
 * crashing; a refused request says why, an accepted filter keeps its
 * limits, and an accepted write's values are checked ones (a known
 * verdict, names without control characters). Violations abort. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert_row.h"
#include "console_api.h"
#include "feedback.h"
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
    /* "POST /path\nBODY" or "[GET ]/path\nkey=value\n..." */
    bool post = !strncmp(text, "POST ", 5);
    char *path = post ? text + 5 : !strncmp(text, "GET ", 4) ? text + 4 : text;
    char *nl = strchr(path, '\n');
    if (nl)
        *nl = '\0';
    static fw_api_request r;
    fw_api_route_url(&r, post ? "POST" : "GET", path);
    CHECK(r.route >= FW_API_NOT_FOUND && r.route <= FW_API_ENGINES);
    CHECK(!r.write || r.route == FW_API_ALERT_VERDICT || r.route == FW_API_CASE_UPDATE ||
          r.route == FW_API_CASE_NOTE || r.route == FW_API_CASE_VERDICT);
    if (post && r.write && !r.wrong_method) {
        const char *body = nl ? nl + 1 : "";
        fw_api_body(&r, body, nl ? size - (size_t)(nl + 1 - text) : 0);
        if (!r.bad) { /* what a write goes on with: checked values */
            const char *names[] = { r.actor, r.assignee };
            CHECK(r.actor && *r.actor);
            for (size_t i = 0; i < 2; i++)
                if (names[i] && *names[i]) {
                    CHECK(strlen(names[i]) <= FW_API_NAME_MAX);
                    for (const char *p = names[i]; *p; p++)
                        CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
                    check_text(names[i]);
                }
            if (r.route == FW_API_ALERT_VERDICT || r.route == FW_API_CASE_VERDICT)
                CHECK(r.verdict && (!strcmp(r.verdict, "confirmed_fraud") ||
                                    !strcmp(r.verdict, "false_positive") ||
                                    !strcmp(r.verdict, "not_sure")));
            if (r.route == FW_API_CASE_NOTE)
                CHECK(r.text && *r.text && strlen(r.text) <= FW_API_TEXT_MAX);
        }
    } else {
        char *save = NULL, *line = nl ? strtok_r(nl + 1, "\n", &save) : NULL;
        for (; line; line = strtok_r(NULL, "\n", &save)) {
            char *eq = strchr(line, '=');
            if (eq)
                *eq = '\0';
            fw_api_query_arg(&r, line, eq ? eq + 1 : NULL);
        }
        if (!r.bad)
            CHECK(r.filter.limit >= 1 && r.filter.limit <= 1000 && r.cases.limit >= 1 &&
                  r.cases.limit <= 1000 && r.days >= 1 && r.min_precision >= 0 &&
                  r.min_precision <= 1);
    }
    if (r.bad)
        CHECK(r.why[0]);
    if (r.route == FW_API_ALERT || r.route == FW_API_ALERT_VERDICT)
        CHECK(r.id[0] && !strchr(r.id, '/'));
    if (r.route == FW_API_CASE || r.route == FW_API_CASE_UPDATE)
        CHECK(strspn(r.id, "0123456789") == strlen(r.id) && r.id[0]);
    free(text);
}

/* A feedback record (eval --feedback): accepted or refused with a reason;
 * an accepted one is one more judged alert, or the same alert again. */
static void check_feedback(const uint8_t *data, size_t size) {
    static fw_feedback_tally *t;
    if (!t)
        CHECK((t = fw_feedback_tally_new()));
    uint64_t before = fw_feedback_tally_alerts(t), bad = fw_feedback_tally_bad(t);
    char why[160] = "";
    if (fw_feedback_tally_add(t, (const char *)data, size, why, sizeof(why))) {
        CHECK(fw_feedback_tally_alerts(t) - before <= 1);
        size_t n;
        const fw_feedback_row *rows = fw_feedback_tally_rows(t, &n);
        uint64_t sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += rows[i].confirmed + rows[i].false_positive + rows[i].not_sure;
        CHECK(sum == fw_feedback_tally_alerts(t));
    } else {
        CHECK(why[0] && fw_feedback_tally_bad(t) == bad + 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check_alert(data, size);
    check_feedback(data, size);
    check_request(data, size);
    return 0;
}
