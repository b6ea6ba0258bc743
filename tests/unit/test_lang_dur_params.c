/* test_lang_dur_params.c — table-driven tests of the duration members an
 * aggregate ("lookback", "window", "slide") and a score rule ("window",
 * "slide", "memory") take as "$param" (lang_rules.c load_duration;
 * docs/rule-language.md#params), as a sequence's "within" does: the param's
 * value is used, an unknown "$name" and a param that is not a duration are
 * rejected naming the member, the slide check sees the param's value, the
 * writer writes "$name" back, and another value of the param (what
 * `eval --sweep` and a live param change do: the document compiled again)
 * changes the windows and the state's shape, live as in a sweep. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lang_live.h"
#include "lang_rules.h"
#include "rules_file.h"

#include "lang_test_util.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define MIN_MS 60000LL

enum field { F_LOOKBACK, F_WINDOW, F_SLIDE, F_MEMORY };

static const struct row {
    const char *kind;    /* "aggregate" or "score" */
    const char *member;  /* the member given as "$span" */
    const char *members; /* the rule's duration members, %s where "$span" goes */
    const char *value, *other; /* two values of the param */
    int64_t want, want_other;  /* the field's ms for each */
    enum field field;
} rows[] = {
    { "aggregate", "lookback", "\"lookback\": \"%s\"", "45m", "2h", 45 * MIN_MS, 120 * MIN_MS, F_LOOKBACK },
    { "aggregate", "window", "\"window\": \"%s\", \"slide\": \"5m\"", "45m", "1h", 45 * MIN_MS, 60 * MIN_MS, F_WINDOW },
    { "aggregate", "window", "\"window\": \"%s\"", "45m", "1h", 45 * MIN_MS, 60 * MIN_MS, F_SLIDE },
    { "aggregate", "slide", "\"window\": \"30m\", \"slide\": \"%s\"", "10m", "15m", 10 * MIN_MS, 15 * MIN_MS, F_SLIDE },
    { "score", "window", "\"window\": \"%s\", \"slide\": \"10m\"", "2h", "30m", 120 * MIN_MS, 30 * MIN_MS, F_LOOKBACK },
    { "score", "slide", "\"window\": \"1h\", \"slide\": \"%s\"", "15m", "20m", 15 * MIN_MS, 20 * MIN_MS, F_SLIDE },
    { "score", "window", "\"window\": \"%s\"", "2h", "30m", 120 * MIN_MS, 30 * MIN_MS, F_SLIDE },
    { "score", "memory", "\"window\": \"1h\", \"memory\": \"%s\"", "48h", "12h", 48 * 60 * MIN_MS, 12 * 60 * MIN_MS, F_MEMORY },
};

/* The rule of @p r with its member written as @p ref and param "span" = @p param (JSON). */
static void rule_json(char *out, size_t size, const struct row *r, const char *ref,
                      const char *param) {
    char members[160];
    snprintf(members, sizeof(members), r->members, ref);
    if (!strcmp(r->kind, "aggregate"))
        snprintf(out, size,
                 "{\"rules\": [{\"id\": \"a\", \"type\": \"aggregate\", \"group_by\": "
                 "\"account_id\", %s, \"params\": {\"span\": %s}, \"aggregates\": {\"n\": "
                 "\"count\"}, \"having\": \"n >= 2\"}]}",
                 members, param);
    else
        snprintf(out, size,
                 "{\"rules\": [{\"id\": \"s\", \"type\": \"score\", \"group_by\": "
                 "\"account_id\", %s, \"params\": {\"span\": %s}, \"bands\": [{\"name\": "
                 "\"big\", \"each\": \"amount > 1000\", \"points\": 10}], \"alert_at\": 10}]}",
                 members, param);
}

static int64_t field_of(const fw_lang_rule *r, enum field f) {
    switch (f) {
    case F_LOOKBACK: return r->lookback_ms;
    case F_WINDOW: return r->window_ms;
    case F_SLIDE: return r->slide_ms;
    case F_MEMORY: return r->memory_ms;
    }
    return -1;
}

static void expect_error(const char *json, const char *want) {
    char err[512] = "";
    fw_lang_rules *rs = NULL;
    fw_err rc = lang_load(json, &rs, err, sizeof(err));
    printf("    want \"%s\"\n     got \"%s\"\n", want, rc == FW_OK ? "(accepted)" : err);
    assert_int_equal(rc, FW_ERR_INVALID);
    assert_non_null(strstr(err, want));
    fw_lang_rules_destroy(rs);
}

/* "$span" is the param's value; the writer writes "$span" back. */
static void test_accepted_and_written_back(void **state) {
    (void)state;
    for (size_t i = 0; i < N(rows); i++) {
        const struct row *r = &rows[i];
        char json[1024], param[32], want[64];
        snprintf(param, sizeof(param), "\"%s\"", r->value);
        rule_json(json, sizeof(json), r, "$span", param);
        fw_lang_rules *rs = lang_load_ok(json);
        int64_t got = field_of(&rs->rules[0], r->field);
        printf("  %s %s = \"$span\" (%s): %lld ms, want %lld\n", r->kind, r->member, r->value,
               (long long)got, (long long)r->want);
        assert_int_equal(got, r->want);
        fw_buf b;
        fw_buf_init(&b, 0);
        assert_true(fw_lang_rules_write_json(rs, &b, ""));
        assert_true(fw_buf_putc(&b, '\0'));
        snprintf(want, sizeof(want), "\"%s\": \"$span\"", r->member);
        printf("    writes %s: %s\n", want, strstr(b.data, want) ? "yes" : b.data);
        assert_non_null(strstr(b.data, want));
        if (!strcmp(r->member, "window") && !strstr(json, "slide")) { /* tumbling: the slide written back follows the window */
            printf("    tumbling, writes \"slide\": \"$span\": %s\n",
                   strstr(b.data, "\"slide\": \"$span\"") ? "yes" : "no");
            assert_non_null(strstr(b.data, "\"slide\": \"$span\""));
        }
        fw_buf_fini(&b);
        lang_assert_writes_back(rs, "");
        fw_lang_rules_destroy(rs);
    }
}

/* An unknown "$name" names the member and suggests the param; a param that
 * is no duration is refused as within's is. */
static void test_rejected(void **state) {
    (void)state;
    for (size_t i = 0; i < N(rows); i++) {
        const struct row *r = &rows[i];
        char json[1024], want[160], param[32];
        printf("  %s %s\n", r->kind, r->member);
        snprintf(param, sizeof(param), "\"%s\"", r->value);
        rule_json(json, sizeof(json), r, "$spam", param);
        snprintf(want, sizeof(want), "rules[0].%s: unknown param \"$spam\", did you mean "
                 "\"span\"?", r->member);
        expect_error(json, want);
        snprintf(want, sizeof(want), "rules[0].%s: expected a duration like \"1h\" between "
                 "1ms and 30 days in its param", r->member);
        rule_json(json, sizeof(json), r, "$span", "5");
        expect_error(json, want);
        rule_json(json, sizeof(json), r, "$span", "\"soon\"");
        expect_error(json, want);
        rule_json(json, sizeof(json), r, "$span", "\"31d\"");
        expect_error(json, want);
    }
}

/* The slide check sees the params' values and names "slide". */
static void test_slide_divides(void **state) {
    (void)state;
    static const struct {
        const char *json, *want;
    } cases[] = {
        { "{\"rules\": [{\"id\": \"a\", \"type\": \"aggregate\", \"group_by\": \"account_id\", "
          "\"window\": \"$w\", \"slide\": \"$s\", \"params\": {\"w\": \"30m\", \"s\": \"7m\"}, "
          "\"aggregates\": {\"n\": \"count\"}, \"having\": \"n >= 2\"}]}",
          "rules[0].slide: 420000ms must divide the window (1800000ms) exactly" },
        { "{\"rules\": [{\"id\": \"a\", \"type\": \"aggregate\", \"group_by\": \"account_id\", "
          "\"window\": \"$w\", \"slide\": \"$s\", \"params\": {\"w\": \"1001s\", \"s\": \"1s\"}, "
          "\"aggregates\": {\"n\": \"count\"}, \"having\": \"n >= 2\"}]}",
          "rules[0].slide: the window (1001000ms) is 1001 slides of 1000ms" },
        { "{\"rules\": [{\"id\": \"s\", \"type\": \"score\", \"group_by\": \"account_id\", "
          "\"window\": \"$w\", \"slide\": \"$s\", \"params\": {\"w\": \"1h\", \"s\": \"7m\"}, "
          "\"bands\": [{\"name\": \"big\", \"each\": \"amount > 1000\", \"points\": 10}], "
          "\"alert_at\": 10}]}",
          "rules[0].slide: the slide must divide the window" },
    };
    for (size_t c = 0; c < N(cases); c++)
        expect_error(cases[c].json, cases[c].want);
}

/* Another value of the param (a sweep's step, a live param change: the
 * document compiled again) is another window and another state shape, so
 * the state kept for the old value is not read as the new one's. */
static void test_other_value(void **state) {
    (void)state;
    for (size_t i = 0; i < N(rows); i++) {
        const struct row *r = &rows[i];
        char json[1024], param[32];
        uint64_t part[2];
        for (int v = 0; v < 2; v++) {
            snprintf(param, sizeof(param), "\"%s\"", v ? r->other : r->value);
            rule_json(json, sizeof(json), r, "$span", param);
            fw_lang_rules *rs = lang_load_ok(json);
            int64_t got = field_of(&rs->rules[0], r->field), want = v ? r->want_other : r->want;
            fw_lang_state *st = fw_lang_state_new(rs);
            assert_non_null(st);
            part[v] = fw_lang_state_part_id(st, 0);
            printf("  %s %s span=%s: %lld ms (want %lld), part %016llx\n", r->kind, r->member,
                   v ? r->other : r->value, (long long)got, (long long)want,
                   (unsigned long long)part[v]);
            assert_int_equal(got, want);
            fw_lang_state_destroy(st);
            fw_lang_rules_destroy(rs);
        }
        assert_true(part[0] != part[1]);
    }
}

/* A live change of the param (a rules-topic record raising the version) is
 * the new window in force and another state shape; a record naming an
 * unknown param is refused with the member's path and the set kept. */
static void test_live_change(void **state) {
    (void)state;
    static const char base[] =
        "{\"rules\": [{\"id\": \"bursts\", \"type\": \"aggregate\", \"version\": 2,"
        " \"group_by\": \"account_id\", \"window\": \"$window\", \"slide\": \"$slide\","
        " \"params\": {\"window\": \"30m\", \"slide\": \"5m\"},"
        " \"aggregates\": {\"count\": \"count\"}, \"having\": \"count >= 5\"}]}";
    static const char wider[] =
        "{\"id\": \"bursts\", \"type\": \"aggregate\", \"version\": 3,"
        " \"group_by\": \"account_id\", \"window\": \"$window\", \"slide\": \"$slide\","
        " \"params\": {\"window\": \"1h\", \"slide\": \"10m\"},"
        " \"aggregates\": {\"count\": \"count\"}, \"having\": \"count >= 5\"}";
    static const char typo[] =
        "{\"id\": \"bursts\", \"type\": \"aggregate\", \"version\": 4,"
        " \"group_by\": \"account_id\", \"window\": \"$windw\", \"slide\": \"$slide\","
        " \"params\": {\"window\": \"2h\", \"slide\": \"10m\"},"
        " \"aggregates\": {\"count\": \"count\"}, \"having\": \"count >= 5\"}";
    fw_rules r;
    char err[600] = "";
    int v = -1;
    fw_rules_defaults(&r);
    fw_lang_live *ll = fw_lang_live_new(&r);
    assert_non_null(ll);
    assert_int_equal(fw_lang_live_set_base(ll, base, strlen(base), false, NULL, NULL, err,
                                           sizeof(err)), FW_OK);
    uint64_t part[2];
    int64_t want[2][2] = { { 30 * MIN_MS, 5 * MIN_MS }, { 60 * MIN_MS, 10 * MIN_MS } };
    for (int i = 0; i < 2; i++) {
        if (i)
            assert_int_equal(fw_lang_live_apply(ll, fw_str_c("bursts"), wider, strlen(wider), &v,
                                                err, sizeof(err)), FW_LANG_LIVE_ACCEPTED);
        const fw_lang_rule *lr = &fw_lang_live_current(ll)->rules[0];
        fw_lang_state *st = fw_lang_state_new(fw_lang_live_current(ll));
        part[i] = fw_lang_state_part_id(st, 0);
        fw_lang_state_destroy(st);
        printf("  %s: window %lld slide %lld (want %lld %lld), part %016llx\n",
               i ? "after the record" : "base", (long long)lr->window_ms, (long long)lr->slide_ms,
               (long long)want[i][0], (long long)want[i][1], (unsigned long long)part[i]);
        assert_int_equal(lr->window_ms, want[i][0]);
        assert_int_equal(lr->slide_ms, want[i][1]);
    }
    assert_true(part[0] != part[1]);
    assert_int_equal(fw_lang_live_apply(ll, fw_str_c("bursts"), typo, strlen(typo), &v, err,
                                        sizeof(err)), FW_LANG_LIVE_REJECTED);
    printf("  typo: %s (version %d runs)\n", err, v);
    assert_non_null(strstr(err, "rules[0].window: unknown param \"$windw\", did you mean "
                                "\"window\"?"));
    assert_int_equal(fw_lang_live_current(ll)->rules[0].window_ms, 60 * MIN_MS);
    fw_lang_live_destroy(ll);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted_and_written_back),
        cmocka_unit_test(test_rejected),
        cmocka_unit_test(test_slide_divides),
        cmocka_unit_test(test_other_value),
        cmocka_unit_test(test_live_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
