/* test_rules_file.c — table-driven tests of rules files (rules_file.c): every
 * accepted form against the expected fw_rules, every rejection with the path
 * and position it must name and the rule set left untouched, the write/parse
 * round trip, examples/rules.json, the duration parser and formatter,
 * fw_rules_validate, the comparisons and loading from a file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "fw_skip.h"
#include "rules.h"
#include "rules_file.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define S 1000LL
#define M (60 * S)
#define H (60 * M)
#define D (24 * H)

/* Parses @p json (from an exact-size heap copy) on top of @p r. */
static fw_err parse_into(fw_rules *r, const char *json, char *err, size_t err_size) {
    size_t n = strlen(json);
    char *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, json, n);
    fw_err rc = fw_rules_parse_json(r, copy, n, err, err_size);
    free(copy);
    return rc;
}

static char *to_json(const fw_rules *r) {
    fw_buf b;
    fw_buf_init(&b, 0);
    assert_true(fw_rules_write_json(r, &b));
    return b.data; /* caller frees */
}

/* memcmp, and on a difference both rule sets as JSON. */
static void assert_rules_equal(const fw_rules *got, const fw_rules *want, const char *what) {
    if (!memcmp(got, want, sizeof(*got)))
        return;
    char *g = to_json(got), *w = to_json(want);
    fail_msg("[%s] rule sets differ\n--- got\n%s--- expected\n%s", what, g, w);
}

/* ---- accepted documents ---- */

typedef struct accept_case {
    const char *name;
    const char *json;
    void (*expect)(fw_rules *e); /* applied to the defaults: what the result must be */
} accept_case;

static void x_none(fw_rules *e) { (void)e; }
static void x_velocity(fw_rules *e) {
    e->common[FW_RULE_VELOCITY].version = 2;
    e->velocity.min_count = 4;
    e->velocity.min_amount = 1500.25;
    e->velocity.window_ms = 1 * H;
    e->velocity.slide_ms = 10 * M;
}
static void x_window_only(fw_rules *e) { e->velocity.window_ms = 45 * M; }
static void x_window_ms(fw_rules *e) { e->velocity.window_ms = 20 * M; }
static void x_compound(fw_rules *e) { e->structuring.window_ms = 1 * H + 30 * M; }
static void x_all_units(fw_rules *e) { e->structuring.window_ms = 1 * D + 2 * H + 3 * M + 4 * S + 5; }
static void x_days(fw_rules *e) { e->structuring.window_ms = 30 * D; }
static void x_ms(fw_rules *e) { e->small_then_large.within_ms = 500; }
static void x_common(fw_rules *e) {
    e->common[FW_RULE_HIGH_AMOUNT].enabled = false;
    e->common[FW_RULE_HIGH_AMOUNT].shadow = true;
    e->common[FW_RULE_HIGH_AMOUNT].severity = FW_SEV_LOW;
    e->common[FW_RULE_HIGH_AMOUNT].version = 7;
}
static void x_severities(fw_rules *e) {
    e->common[FW_RULE_VELOCITY].severity = FW_SEV_LOW;
    e->common[FW_RULE_SMALL_THEN_LARGE].severity = FW_SEV_MEDIUM;
    e->common[FW_RULE_RAPID_SMALL].severity = FW_SEV_HIGH;
    e->common[FW_RULE_LOCATION_JUMP].severity = FW_SEV_CRITICAL;
}
static void x_time(fw_rules *e) {
    e->time.max_out_of_orderness_ms = 0;
    e->time.allowed_lateness_ms = 1 * H;
    e->time.dedupe_window_ms = 90 * S;
}
static void x_no_early(fw_rules *e) { e->time.early_firing = false; }
static void x_limits(fw_rules *e) {
    e->limits.max_entities = 1;
    e->limits.max_window_events = 4294967295u;
}
static void x_amount_zero(fw_rules *e) { e->high_amount.limit = 0; }
static void x_amount_exp(fw_rules *e) { e->high_amount.limit = 1e6; }
static void x_amount_frac(fw_rules *e) { e->high_amount.limit = 0.1; }
static void x_int_forms(fw_rules *e) {
    e->rapid_small.count = 10;
    e->risk_score.alert_at = 100;
}
static void x_risk(fw_rules *e) {
    e->risk_score.window_ms = 2 * H;
    e->risk_score.slide_ms = 2 * H;
    e->risk_score.amount_multiple = 2.5;
    e->risk_score.large_points = 0;
    e->risk_score.max_merchants = 1;
    e->risk_score.merchant_points = 1;
    e->risk_score.alert_at = 1;
}
static void x_every_rule(fw_rules *e) {
    e->high_amount.limit = 7000;
    e->velocity.min_count = 5;
    e->small_then_large.small_below = 5;
    e->small_then_large.large_above = 2000;
    e->small_then_large.within_ms = 10 * M;
    e->rapid_small.below = 20;
    e->rapid_small.within_ms = 15 * M;
    e->location_jump.within_ms = 2 * H;
    e->location_jump.max_speed_kmh = 1000;
    e->account_takeover.min_amount = 2500;
    e->account_takeover.within_ms = 1 * H;
    e->structuring.below = 9000;
    e->structuring.total_above = 15000;
    e->risk_score.max_merchants = 30;
}
static void x_slide_equal(fw_rules *e) {
    e->velocity.window_ms = 5 * M;
}
static void x_ratio_max(fw_rules *e) {
    e->velocity.window_ms = 1000 * S;
    e->velocity.slide_ms = 1 * S;
}

static void x_ml_approx(fw_rules *e) {
    e->ml_score.contributions = FW_ML_CONTRIB_APPROX;
    e->ml_score.top_features = 3;
}

static const accept_case accepts[] = {
    { "empty object", "{}", x_none },
    { "empty sections", "{\"time\":{},\"limits\":{},\"rules\":[]}", x_none },
    { "id only", "{\"rules\":[{\"id\":\"velocity\"}]}", x_none },
    { "empty params", "{\"rules\":[{\"id\":\"velocity\",\"params\":{}}]}", x_none },
    { "ml_score choice", "{\"rules\":[{\"id\":\"ml_score\",\"params\":{\"contributions\":\"approx\","
      "\"top_features\":3}}]}", x_ml_approx },
    { "brief example",
      "{\"rules\": [{\"id\": \"velocity\", \"enabled\": true, \"shadow\": false, "
      "\"severity\": \"high\", \"version\": 2, \"params\": {\"min_count\": 4, "
      "\"min_amount\": 1500.25, \"window\": \"1h\", \"slide\": \"10m\"}}]}", x_velocity },
    { "window alone (45m / 5m)", "{\"rules\":[{\"id\":\"velocity\",\"params\":{\"window\":\"45m\"}}]}",
      x_window_only },
    { "duration as integer ms", "{\"rules\":[{\"id\":\"velocity\",\"params\":{\"window\":1200000}}]}",
      x_window_ms },
    { "duration as 1.2e6 ms", "{\"rules\":[{\"id\":\"velocity\",\"params\":{\"window\":1.2e6}}]}",
      x_window_ms },
    { "compound duration", "{\"rules\":[{\"id\":\"structuring\",\"params\":{\"window\":\"1h30m\"}}]}",
      x_compound },
    { "every unit", "{\"rules\":[{\"id\":\"structuring\",\"params\":{\"window\":\"1d2h3m4s5ms\"}}]}",
      x_all_units },
    { "30 days", "{\"rules\":[{\"id\":\"structuring\",\"params\":{\"window\":\"30d\"}}]}", x_days },
    { "720h", "{\"rules\":[{\"id\":\"structuring\",\"params\":{\"window\":\"720h\"}}]}", x_days },
    { "milliseconds", "{\"rules\":[{\"id\":\"small_then_large\",\"params\":{\"within\":\"500ms\"}}]}",
      x_ms },
    { "common fields", "{\"rules\":[{\"enabled\":false,\"shadow\":true,\"severity\":\"low\","
      "\"version\":7,\"id\":\"high_amount\"}]}", x_common },
    { "severities", "{\"rules\":[{\"id\":\"velocity\",\"severity\":\"low\"},"
      "{\"id\":\"small_then_large\",\"severity\":\"medium\"},"
      "{\"id\":\"rapid_small\",\"severity\":\"high\"},"
      "{\"id\":\"location_jump\",\"severity\":\"critical\"}]}", x_severities },
    { "time section, zero allowed", "{\"time\":{\"max_out_of_orderness\":\"0s\","
      "\"allowed_lateness\":\"1h\",\"dedupe_window\":90000}}", x_time },
    { "early firing off", "{\"time\":{\"early_firing\":false}}", x_no_early },
    { "limits at their bounds", "{\"limits\":{\"max_entities\":1,\"max_window_events\":4294967295}}",
      x_limits },
    { "amount zero", "{\"rules\":[{\"id\":\"high_amount\",\"params\":{\"limit\":0}}]}", x_amount_zero },
    { "amount exponent", "{\"rules\":[{\"id\":\"high_amount\",\"params\":{\"limit\":1E6}}]}",
      x_amount_exp },
    { "amount fraction", "{\"rules\":[{\"id\":\"high_amount\",\"params\":{\"limit\":0.1}}]}",
      x_amount_frac },
    { "integers as 1e1 and 100.0", "{\"rules\":[{\"id\":\"rapid_small\",\"params\":{\"count\":1e1}},"
      "{\"id\":\"risk_score\",\"params\":{\"alert_at\":100.0}}]}", x_int_forms },
    { "risk_score edges", "{\"rules\":[{\"id\":\"risk_score\",\"params\":{\"window\":\"2h\","
      "\"slide\":\"2h\",\"amount_multiple\":2.5,\"large_points\":0,\"max_merchants\":1,"
      "\"merchant_points\":1,\"alert_at\":1}}]}", x_risk },
    { "slide equal to window", "{\"rules\":[{\"id\":\"velocity\",\"params\":{\"window\":\"5m\"}}]}",
      x_slide_equal },
    { "1000 windows per event", "{\"rules\":[{\"id\":\"velocity\",\"params\":{\"window\":\"1000s\","
      "\"slide\":\"1s\"}}]}", x_ratio_max },
    { "every rule, pretty",
      "{\n  \"rules\": [\n"
      "    {\"id\": \"high_amount\", \"params\": {\"limit\": 7000}},\n"
      "    {\"id\": \"velocity\", \"params\": {\"min_count\": 5}},\n"
      "    {\"id\": \"small_then_large\", \"params\": {\"small_below\": 5, \"large_above\": 2000, "
      "\"within\": \"10m\"}},\n"
      "    {\"id\": \"rapid_small\", \"params\": {\"below\": 20, \"within\": \"15m\"}},\n"
      "    {\"id\": \"location_jump\", \"params\": {\"within\": \"2h\", \"max_speed_kmh\": 1000}},\n"
      "    {\"id\": \"account_takeover\", \"params\": {\"min_amount\": 2500, \"within\": \"1h\"}},\n"
      "    {\"id\": \"structuring\", \"params\": {\"below\": 9000, \"total_above\": 15000}},\n"
      "    {\"id\": \"risk_score\", \"params\": {\"max_merchants\": 30}}\n"
      "  ]\n}\n", x_every_rule },
};

static void test_accepts(void **state) {
    (void)state;
    for (size_t i = 0; i < N(accepts); i++) {
        fw_rules got, want;
        char err[512];
        fw_rules_defaults(&got);
        fw_rules_defaults(&want);
        accepts[i].expect(&want);
        fw_err rc = parse_into(&got, accepts[i].json, err, sizeof(err));
        if (rc != FW_OK)
            fail_msg("[%s] rejected: %s\n  %s", accepts[i].name, err, accepts[i].json);
        assert_rules_equal(&got, &want, accepts[i].name);
        assert_int_equal(fw_rules_validate(&got, err, sizeof(err)), FW_OK);
    }
}

/* Only what the document gives changes: start from a non-default set. */
static void test_applies_on_top(void **state) {
    (void)state;
    fw_rules r, want;
    char err[512];
    fw_rules_defaults(&r);
    r.velocity.min_count = 9;
    r.common[FW_RULE_VELOCITY].version = 3;
    r.high_amount.limit = 123;
    memcpy(&want, &r, sizeof(r));
    want.velocity.window_ms = 1 * H;
    assert_int_equal(parse_into(&r, "{\"rules\":[{\"id\":\"velocity\",\"params\":{\"window\":\"1h\"}}]}",
                                err, sizeof(err)), FW_OK);
    /* The version stays as given: no automatic bump. */
    assert_rules_equal(&r, &want, "on top");
}

/* ---- rejected documents ---- */

typedef struct reject_case {
    const char *name;
    const char *json;
    const char *msg;   /* substring: the path and the complaint */
    const char *where; /* "(line L, column C)", or NULL */
} reject_case;

#define RULE(body) "{\"rules\":[" body "]}"
#define VEL(params) RULE("{\"id\":\"velocity\",\"params\":{" params "}}")

static const reject_case rejects[] = {
    /* JSON */
    { "invalid JSON", "{\"rules\": [}", "invalid JSON: expected a value, got '}'", "(line 1, column 12)" },
    { "empty document", "", "invalid JSON: expected a value, got end of input", "(line 1, column 1)" },
    { "trailing garbage", "{} {}", "invalid JSON: expected end of input after the value, got '{'",
      "(line 1, column 4)" },
    { "duplicate key", "{\"rules\":[],\"rules\":[]}", "invalid JSON: duplicate key \"rules\"",
      "(line 1, column 13)" },
    { "duplicate param", VEL("\"window\":\"1h\",\"window\":\"2h\""), "duplicate key \"window\"", NULL },
    /* structure */
    { "root array", "[]", "document: expected an object like {\"rules\": [...]}, got an array",
      "(line 1, column 1)" },
    { "root string", "\"x\"", "document: expected an object", NULL },
    { "unknown top-level key", "{\n  \"rule\": []\n}",
      "rule: unknown top-level key (did you mean \"rules\"?); valid keys: time, limits, rules",
      "(line 2, column 3)" },
    { "unknown odd top-level key", "{\"a b\":1}", "document[\"a b\"]: unknown top-level key", NULL },
    { "time not object", "{\"time\":\"10s\"}", "time: expected an object, got \"10s\"", "(line 1, column 9)" },
    { "limits not object", "{\"limits\":[]}", "limits: expected an object, got an array", NULL },
    { "rules not array", "{\"rules\":{\"id\":\"velocity\"}}",
      "rules: expected an array of rules like [{\"id\": \"velocity\", ...}], got an object", NULL },
    { "rule not object", RULE("\"velocity\""), "rules[0]: expected a rule object", NULL },
    { "missing id", RULE("{\"id\":\"velocity\"},{\"enabled\":true}"),
      "rules[1]: missing \"id\" (one of high_amount, velocity, small_then_large, rapid_small, "
      "location_jump, account_takeover, structuring, risk_score, fan_in, fan_out, cycle, "
      "mule_cashout, ml_score)", "(line 1, column 29)" },
    { "id not string", RULE("{\"id\":2}"), "rules[0].id: expected a rule id string, got 2", NULL },
    { "unknown rule", RULE("{\"id\":\"velocty\"}"),
      "rules[0].id: unknown rule \"velocty\" (did you mean \"velocity\"?); valid ids: high_amount, "
      "velocity, small_then_large, rapid_small, location_jump, account_takeover, structuring, "
      "risk_score", "(line 1, column 17)" },
    { "unknown rule far off", RULE("{\"id\":\"blacklist\"}"), "unknown rule \"blacklist\"; valid ids:", NULL },
    { "rule id case", RULE("{\"id\":\"Velocity\"}"), "(did you mean \"velocity\"?)", NULL },
    { "rule twice", RULE("{\"id\":\"velocity\"},{\"id\":\"high_amount\"},{\"id\":\"velocity\"}"),
      "rules[2].id: rule \"velocity\" is given twice (first in rules[0])", NULL },
    { "unknown entry key", RULE("{\"id\":\"velocity\",\"parms\":{}}"),
      "rules[0].parms: unknown key in a rule entry (did you mean \"params\"?); valid keys: id, "
      "enabled, shadow, severity, version, params", "(line 1, column 28)" },
    { "unknown param", VEL("\"windw\":\"1h\""),
      "rules[0].params.windw: unknown parameter of velocity (did you mean \"window\"?); valid: "
      "min_count, min_amount, window, slide", NULL },
    { "param with _ms", VEL("\"window_ms\":1800000"),
      "rules[0].params.window_ms: unknown parameter of velocity (did you mean \"window\"?)", NULL },
    { "param of another rule", VEL("\"limit\":5"),
      "rules[0].params.limit: unknown parameter of velocity (\"limit\" is a parameter of high_amount)",
      NULL },
    { "unknown time key", "{\"time\":{\"lateness\":\"1m\"}}",
      "time.lateness: unknown key in \"time\" (did you mean \"allowed_lateness\"?); valid keys: "
      "max_out_of_orderness, allowed_lateness, dedupe_window", NULL },
    { "unknown limits key", "{\"limits\":{\"max_entity\":5}}",
      "limits.max_entity: unknown key in \"limits\" (did you mean \"max_entities\"?)", NULL },
    { "params not object", RULE("{\"id\":\"velocity\",\"params\":[]}"),
      "rules[0].params: expected an object of velocity parameters, got an array", NULL },
    /* types */
    { "enabled string", RULE("{\"id\":\"velocity\",\"enabled\":\"yes\"}"),
      "rules[0].enabled: expected true or false, got \"yes\"", NULL },
    { "shadow number", RULE("{\"id\":\"velocity\",\"shadow\":1}"),
      "rules[0].shadow: expected true or false, got 1", NULL },
    { "severity unknown", RULE("{\"id\":\"velocity\",\"severity\":\"urgent\"}"),
      "rules[0].severity: expected \"low\", \"medium\", \"high\" or \"critical\", got \"urgent\"", NULL },
    { "severity case", RULE("{\"id\":\"velocity\",\"severity\":\"HIGH\"}"),
      "rules[0].severity: expected", NULL },
    { "severity number", RULE("{\"id\":\"velocity\",\"severity\":2}"), "got 2", NULL },
    { "version zero", RULE("{\"id\":\"velocity\",\"version\":0}"),
      "rules[0].version: expected an integer between 1 and 2147483647, got 0", NULL },
    { "version fraction", RULE("{\"id\":\"velocity\",\"version\":1.5}"), "rules[0].version: expected an integer", NULL },
    { "version string", RULE("{\"id\":\"velocity\",\"version\":\"2\"}"), "got \"2\"", NULL },
    { "version too big", RULE("{\"id\":\"velocity\",\"version\":2147483648}"), "rules[0].version", NULL },
    { "amount string", RULE("{\"id\":\"high_amount\",\"params\":{\"limit\":\"5000\"}}"),
      "rules[0].params.limit: expected a number >= 0, got \"5000\"", NULL },
    { "amount null", RULE("{\"id\":\"high_amount\",\"params\":{\"limit\":null}}"),
      "rules[0].params.limit: expected a number >= 0, got null", NULL },
    { "count fraction", VEL("\"min_count\":2.5"), "rules[0].params.min_count: expected an integer, got 2.5", NULL },
    { "count string", VEL("\"min_count\":\"3\""), "rules[0].params.min_count: expected an integer, got \"3\"", NULL },
    { "limit fraction", "{\"limits\":{\"max_entities\":1.5}}", "limits.max_entities: expected an integer, got 1.5", NULL },
    { "duration words", "{\n  \"rules\": [\n    {\"id\": \"velocity\",\n     \"params\": {\n"
      "       \"window\": \"30 minutes\"}}]}",
      "rules[0].params.window: expected a duration like \"30m\" or milliseconds, got \"30 minutes\"",
      "(line 5, column 18)" },
    { "duration fraction ms", VEL("\"window\":1.5"), "got 1.5 (milliseconds are whole)", NULL },
    { "duration decimal string", VEL("\"window\":\"1.5h\""), "expected a duration like \"30m\"", NULL },
    { "duration bool", VEL("\"window\":true"), "expected a duration like \"30m\" or milliseconds, got true", NULL },
    { "duration bare digits string", VEL("\"window\":\"1800000\""), "got \"1800000\"", NULL },
    { "choice unknown", RULE("{\"id\":\"ml_score\",\"params\":{\"contributions\":\"fast\"}}"),
      "rules[0].params.contributions: expected \"exact\" or \"approx\", got \"fast\"", NULL },
    { "choice number", RULE("{\"id\":\"ml_score\",\"params\":{\"contributions\":1}}"),
      "rules[0].params.contributions: expected \"exact\" or \"approx\", got 1", NULL },
    /* ranges */
    { "amount negative", RULE("{\"id\":\"high_amount\",\"params\":{\"limit\":-1}}"),
      "rules[0].params.limit: must be a finite number >= 0, got -1", NULL },
    { "speed zero", RULE("{\"id\":\"location_jump\",\"params\":{\"max_speed_kmh\":0}}"),
      "rules[0].params.max_speed_kmh: must be a finite number above 0, got 0", NULL },
    { "multiple negative", RULE("{\"id\":\"risk_score\",\"params\":{\"amount_multiple\":-3}}"),
      "amount_multiple: must be a finite number above 0", NULL },
    { "count zero", VEL("\"min_count\":0"), "rules[0].params.min_count: must be between 1 and 1000000, got 0", NULL },
    { "count huge", VEL("\"min_count\":1000001"), "must be between 1 and 1000000, got 1000001", NULL },
    { "rapid count huge", RULE("{\"id\":\"rapid_small\",\"params\":{\"count\":10001}}"),
      "rules[0].params.count: must be between 1 and 10000", NULL },
    { "points negative", RULE("{\"id\":\"risk_score\",\"params\":{\"large_points\":-1}}"),
      "large_points: must be between 0 and 1000000", NULL },
    { "alert_at zero", RULE("{\"id\":\"risk_score\",\"params\":{\"alert_at\":0}}"),
      "alert_at: must be between 1 and 1000000", NULL },
    { "limits zero", "{\"limits\":{\"max_window_events\":0}}",
      "limits.max_window_events: must be between 1 and 4294967295, got 0", NULL },
    { "limits overflow", "{\"limits\":{\"max_entities\":4294967296}}", "limits.max_entities: must be between", NULL },
    { "duration zero", VEL("\"window\":\"0s\""), "rules[0].params.window: must be between 1ms and 720h (30 days), got \"0s\"", NULL },
    { "duration zero ms", RULE("{\"id\":\"structuring\",\"params\":{\"window\":0}}"), "must be between 1ms and 720h", NULL },
    { "duration negative ms", RULE("{\"id\":\"structuring\",\"params\":{\"window\":-5}}"), "got -5", NULL },
    { "duration 31d", RULE("{\"id\":\"structuring\",\"params\":{\"window\":\"31d\"}}"),
      "rules[0].params.window: must be between 1ms and 720h (30 days), got \"31d\"", NULL },
    { "duration 30d1ms", RULE("{\"id\":\"structuring\",\"params\":{\"window\":\"30d1ms\"}}"), "got \"30d1ms\"", NULL },
    { "duration overflow", RULE("{\"id\":\"structuring\",\"params\":{\"window\":\"99999999999999999999d\"}}"),
      "must be between 1ms and 720h", NULL },
    { "time negative", "{\"time\":{\"allowed_lateness\":-1}}",
      "time.allowed_lateness: must be between 0s and 720h (30 days), got -1", NULL },
    { "early firing as a string", "{\"time\":{\"early_firing\":\"no\"}}",
      "time.early_firing: expected true or false, got \"no\"", NULL },
    { "time too long", "{\"time\":{\"dedupe_window\":\"31d\"}}", "time.dedupe_window: must be between", NULL },
    /* window and slide */
    { "slide not dividing", VEL("\"slide\":\"7m\""),
      "rules[0].params.slide: the slide 7m does not divide the window 30m", NULL },
    { "window not multiple", RULE("{\"id\":\"velocity\",\"params\":{\"window\":\"32m\"}}"),
      "rules[0].params.window: the slide 5m does not divide the window 32m", NULL },
    { "slide longer", VEL("\"window\":\"10m\",\"slide\":\"20m\""),
      "rules[0].params.slide: the slide 20m is longer than the window 10m", NULL },
    { "risk slide", RULE("{\"id\":\"risk_score\",\"params\":{\"slide\":\"25m\"}}"),
      "rules[0].params.slide: the slide 25m does not divide the window 1h", NULL },
    { "too many windows", VEL("\"window\":\"24h\",\"slide\":\"1m\""),
      "rules[0].params.slide: window 24h / slide 1m puts every event in 1440 overlapping windows; at most 1000",
      NULL },
    /* a rule that could never fire under the limits: both values named */
    { "velocity beyond the window limit",
      "{\"limits\":{\"max_window_events\":2},\"rules\":[{\"id\":\"velocity\",\"version\":2,"
      "\"params\":{\"min_count\":5}}]}",
      "rules[0].params.min_count: 5 transactions can never be in one window: limits.max_window_events "
      "keeps at most 2 events per entity", NULL },
    { "limits after the rule", "{\"rules\":[{\"id\":\"fan_in\",\"params\":{\"min_senders\":9}}],"
      "\"limits\":{\"max_window_events\":8}}",
      "rules[0].params.min_senders: 9 transfers from distinct senders can never be in one window", NULL },
    { "rapid_small beyond the window limit",
      "{\"limits\":{\"max_window_events\":3},\"rules\":[{\"id\":\"velocity\",\"enabled\":false},"
      "{\"id\":\"rapid_small\",\"params\":{\"count\":4}}]}",
      "rules[1].params.count: 4 consecutive transactions can never be", NULL },
    { "risk score out of reach",
      RULE("{\"id\":\"risk_score\",\"params\":{\"large_points\":0,\"merchant_points\":5}}"),
      "rules[0].params.alert_at: 50 can never be reached: with limits.max_window_events 10000, "
      "large_points 0, merchant_points 5 and max_merchants 20 the highest score is 5", NULL },
    { "cycle too long to see", RULE("{\"id\":\"cycle\",\"params\":{\"min_hops\":7}}"),
      "rules[0].params.min_hops: 7 can never be reached: a chain remembers the last 4 accounts, so cycles "
      "of at most 6 transfers are seen", NULL },
    { "structuring out of reach",
      RULE("{\"id\":\"structuring\",\"params\":{\"below\":1,\"total_above\":20000}}"),
      "rules[0].params.total_above: 20000.00 can never be exceeded: limits.max_window_events "
      "keeps at most 10000 transfers per pair, each below 1.00", NULL },
    /* position of a fault after earlier valid entries */
    { "second entry fault", "{\"rules\":[\n{\"id\":\"velocity\"},\n{\"id\":\"structuring\",\"params\":"
      "{\"below\":true}}]}", "rules[1].params.below: expected a number >= 0, got true", "(line 3, column 39)" },
};

static void test_rejects(void **state) {
    (void)state;
    fw_rules before;
    fw_rules_defaults(&before);
    /* Start from a modified set, to see that nothing of it changes. */
    before.velocity.min_count = 4;
    before.common[FW_RULE_HIGH_AMOUNT].version = 5;
    for (size_t i = 0; i < N(rejects); i++) {
        fw_rules r;
        char err[768];
        memcpy(&r, &before, sizeof(r));
        fw_err rc = parse_into(&r, rejects[i].json, err, sizeof(err));
        if (rc != FW_ERR_INVALID)
            fail_msg("[%s] rc=%d, expected FW_ERR_INVALID; err=%s\n  %s", rejects[i].name, rc,
                     err, rejects[i].json);
        if (!strstr(err, rejects[i].msg))
            fail_msg("[%s] message\n  got      %s\n  expected %s", rejects[i].name, err,
                     rejects[i].msg);
        if (rejects[i].where && !strstr(err, rejects[i].where))
            fail_msg("[%s] position\n  got      %s\n  expected %s", rejects[i].name, err,
                     rejects[i].where);
        if (!strstr(err, "(line "))
            fail_msg("[%s] no position in: %s", rejects[i].name, err);
        for (const char *c = err; *c; c++)
            if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
                fail_msg("[%s] non-printable byte in: %s", rejects[i].name, err);
        assert_rules_equal(&r, &before, rejects[i].name);
    }
}

/* A fault after changes that were valid on their own: nothing is applied. */
static void test_all_or_nothing(void **state) {
    (void)state;
    fw_rules r, def;
    char err[512];
    fw_rules_defaults(&r);
    fw_rules_defaults(&def);
    const char *doc = "{\"time\":{\"allowed_lateness\":\"1h\"},\"limits\":{\"max_entities\":5},"
                      "\"rules\":[{\"id\":\"high_amount\",\"enabled\":false,\"params\":{\"limit\":1}},"
                      "{\"id\":\"velocity\",\"params\":{\"min_count\":0}}]}";
    assert_int_equal(parse_into(&r, doc, err, sizeof(err)), FW_ERR_INVALID);
    assert_non_null(strstr(err, "rules[1].params.min_count"));
    assert_rules_equal(&r, &def, "all or nothing");

    /* Oversized documents are refused before parsing. */
    char *big = malloc(FW_RULES_MAX_BYTES + 1);
    assert_non_null(big);
    memset(big, ' ', FW_RULES_MAX_BYTES + 1);
    big[0] = '{';
    big[FW_RULES_MAX_BYTES] = '}';
    assert_int_equal(fw_rules_parse_json(&r, big, FW_RULES_MAX_BYTES + 1, err, sizeof(err)),
                     FW_ERR_LIMIT);
    assert_non_null(strstr(err, "document:"));
    assert_int_equal(fw_rules_parse_json(&r, big + 1, FW_RULES_MAX_BYTES, err, sizeof(err)),
                     FW_ERR_INVALID); /* just at the limit: parsed (and invalid) */
    free(big);
    assert_rules_equal(&r, &def, "after oversize");

    /* An invalid starting set is caught too, naming the field. */
    r.velocity.slide_ms = 7 * M;
    assert_int_equal(parse_into(&r, "{}", err, sizeof(err)), FW_ERR_INVALID);
    assert_non_null(strstr(err, "velocity.slide: the slide 7m does not divide the window 30m"));
    /* NULL errstr and bad arguments. */
    assert_int_equal(fw_rules_parse_json(&def, "[", 1, NULL, 0), FW_ERR_INVALID);
    assert_int_equal(fw_rules_parse_json(NULL, "{}", 2, err, sizeof(err)), FW_ERR_INVALID);
    assert_int_equal(fw_rules_parse_json(&def, NULL, 2, err, sizeof(err)), FW_ERR_INVALID);
    char tiny[10];
    assert_int_equal(fw_rules_parse_json(&def, "{\"x\":1}", 7, tiny, sizeof(tiny)), FW_ERR_INVALID);
    assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
}

/* ---- round trip ---- */

static void round_trip(const fw_rules *src, const char *what) {
    char *json = to_json(src);
    fw_rules back;
    char err[512];
    fw_rules_defaults(&back);
    /* Start from something else entirely: the output must set everything. */
    back.velocity.min_count = 99;
    back.common[FW_RULE_RISK_SCORE].enabled = false;
    back.time.dedupe_window_ms = 1;
    fw_err rc = parse_into(&back, json, err, sizeof(err));
    if (rc != FW_OK)
        fail_msg("[%s] written rules rejected: %s\n%s", what, err, json);
    assert_rules_equal(&back, src, what);
    /* Writing again gives the same bytes. */
    char *again = to_json(&back);
    assert_string_equal(again, json);
    free(again);
    free(json);
}

static void test_round_trip(void **state) {
    (void)state;
    fw_rules r;
    fw_rules_defaults(&r);
    round_trip(&r, "defaults");

    for (int i = 0; i < FW_RULE__COUNT; i++) {
        r.common[i].enabled = i % 2;
        r.common[i].shadow = i % 3 == 0;
        r.common[i].severity = (fw_severity)(i % FW_SEV__COUNT);
        r.common[i].version = 1 + i * 1000;
    }
    r.time.max_out_of_orderness_ms = 0;
    r.time.allowed_lateness_ms = 1 * H + 1;
    r.time.dedupe_window_ms = 30 * D;
    r.limits.max_entities = 4294967295u;
    r.limits.max_window_events = 4294967295u;
    r.high_amount.limit = 0.1;
    r.velocity.min_count = 1000000;
    r.velocity.min_amount = 1e-300;
    r.velocity.window_ms = 7 * S;
    r.velocity.slide_ms = 7;
    r.small_then_large.small_below = 9.99;
    r.small_then_large.large_above = 1e300;
    r.small_then_large.within_ms = 1;
    r.rapid_small.count = 10000;
    r.rapid_small.below = 49.999999999999993;
    r.rapid_small.within_ms = 61 * S;
    r.location_jump.within_ms = 25 * H;
    r.location_jump.max_speed_kmh = 5e-324;
    r.account_takeover.min_amount = 123456789.125;
    r.account_takeover.within_ms = 30 * D - 1;
    r.structuring.below = 0;
    r.structuring.total_above = -0.0;
    r.structuring.window_ms = 86399999;
    r.risk_score.window_ms = 3 * H;
    r.risk_score.slide_ms = 3 * H;
    r.risk_score.amount_multiple = 1.0 / 3.0;
    r.risk_score.large_points = 0;
    r.risk_score.max_merchants = 1;
    r.risk_score.merchant_points = 1000000;
    r.risk_score.alert_at = 1;
    char err[256];
    if (fw_rules_validate(&r, err, sizeof(err)) != FW_OK)
        fail_msg("test set invalid: %s", err);
    round_trip(&r, "everything changed");
}

/* examples/rules.json is exactly what the writer gives for the defaults. */
static void test_example_file(void **state) {
    (void)state;
    const char *dir = getenv("FW_TEST_DATA");
    if (!dir)
        FW_SKIP("FW_TEST_DATA is not set (ctest sets it to tests/): no examples/rules.json");
    char path[1024];
    snprintf(path, sizeof(path), "%s/../examples/rules.json", dir);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    char buf[16384];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    fw_rules def;
    fw_rules_defaults(&def);
    char *json = to_json(&def);
    if (strcmp(buf, json))
        fail_msg("%s is out of date; regenerate it with `fraudwatch rules > examples/rules.json`",
                 path);
    free(json);
    fw_rules r;
    char err[512];
    fw_rules_defaults(&r);
    assert_int_equal(fw_rules_load_file(&r, path, err, sizeof(err)), FW_OK);
    assert_rules_equal(&r, &def, "examples/rules.json");
}

static void test_write_bounds(void **state) {
    (void)state;
    fw_rules r;
    fw_rules_defaults(&r);
    fw_buf b;
    fw_buf_init(&b, 64); /* too small: false, not a crash */
    assert_false(fw_rules_write_json(&r, &b));
    fw_buf_fini(&b);
    fw_buf_init(&b, 0);
    r.high_amount.limit = 1.0 / 0.0;
    assert_false(fw_rules_write_json(&r, &b));
    fw_buf_reset(&b);
    fw_rules_defaults(&r);
    r.common[0].severity = FW_SEV__COUNT;
    assert_false(fw_rules_write_json(&r, &b));
    fw_buf_fini(&b);
}

/* ---- durations ---- */

typedef struct dur_case {
    const char *in;
    fw_err rc;
    int64_t ms;
} dur_case;

static void test_duration_parse(void **state) {
    (void)state;
    static const dur_case cases[] = {
        { "500ms", FW_OK, 500 },
        { "10s", FW_OK, 10 * S },
        { "30m", FW_OK, 30 * M },
        { "24h", FW_OK, 24 * H },
        { "1d", FW_OK, D },
        { "1h30m", FW_OK, 90 * M },
        { "1d12h", FW_OK, 36 * H },
        { "1m1ms", FW_OK, M + 1 },
        { "1d2h3m4s5ms", FW_OK, D + 2 * H + 3 * M + 4 * S + 5 },
        { "0s", FW_OK, 0 },
        { "0ms", FW_OK, 0 },
        { "007m", FW_OK, 7 * M },
        { "90m", FW_OK, 90 * M },
        { "1500ms", FW_OK, 1500 },
        { "9223372036854775807ms", FW_OK, INT64_MAX },
        { "9223372036854775808ms", FW_ERR_LIMIT, 0 },
        { "106751991167d", FW_OK, 106751991167LL * D },
        { "106751991168d", FW_ERR_LIMIT, 0 },
        { "106751991167d23h", FW_ERR_LIMIT, 0 },
        { "99999999999999999999999d", FW_ERR_LIMIT, 0 },
        { "", FW_ERR_INVALID, 0 },
        { "30", FW_ERR_INVALID, 0 },
        { "m", FW_ERR_INVALID, 0 },
        { "ms", FW_ERR_INVALID, 0 },
        { "30 m", FW_ERR_INVALID, 0 },
        { " 30m", FW_ERR_INVALID, 0 },
        { "30m ", FW_ERR_INVALID, 0 },
        { "-30m", FW_ERR_INVALID, 0 },
        { "+30m", FW_ERR_INVALID, 0 },
        { "1.5h", FW_ERR_INVALID, 0 },
        { "30M", FW_ERR_INVALID, 0 },
        { "30min", FW_ERR_INVALID, 0 },
        { "30minutes", FW_ERR_INVALID, 0 },
        { "2w", FW_ERR_INVALID, 0 },
        { "1us", FW_ERR_INVALID, 0 },
        { "30m1h", FW_ERR_INVALID, 0 },   /* largest unit first */
        { "1h1h", FW_ERR_INVALID, 0 },    /* each unit once */
        { "1s1s", FW_ERR_INVALID, 0 },
        { "1ms1s", FW_ERR_INVALID, 0 },
        { "1h30", FW_ERR_INVALID, 0 },    /* trailing number without unit */
        { "1hm", FW_ERR_INVALID, 0 },
        { "1mss", FW_ERR_INVALID, 0 },
        { "1m s", FW_ERR_INVALID, 0 },
    };
    for (size_t i = 0; i < N(cases); i++) {
        int64_t ms = -1;
        fw_err rc = fw_rules_duration_parse(cases[i].in, strlen(cases[i].in), &ms);
        if (rc != cases[i].rc || (rc == FW_OK && ms != cases[i].ms))
            fail_msg("duration \"%s\": rc=%d ms=%lld; expected rc=%d ms=%lld", cases[i].in, rc,
                     (long long)ms, cases[i].rc, (long long)cases[i].ms);
    }
    int64_t ms;
    assert_int_equal(fw_rules_duration_parse(NULL, 0, &ms), FW_ERR_INVALID);
    /* Not NUL-terminated: the length is what counts. */
    assert_int_equal(fw_rules_duration_parse("30m5s", 3, &ms), FW_OK);
    assert_int_equal(ms, 30 * M);
}

static void test_duration_format(void **state) {
    (void)state;
    static const struct {
        int64_t ms;
        const char *want;
    } cases[] = {
        { 0, "0s" },
        { 1, "1ms" },
        { 500, "500ms" },
        { 1000, "1s" },
        { 1500, "1500ms" },
        { 10 * S, "10s" },
        { 90 * S, "90s" },
        { M, "1m" },
        { 30 * M, "30m" },
        { 90 * M, "90m" },
        { H, "1h" },
        { 24 * H, "24h" },
        { 30 * D, "720h" },
        { 30 * D - 1, "2591999999ms" },
        { INT64_MAX, "9223372036854775807ms" },
        { -5 * S, "-5s" },
    };
    char out[32];
    for (size_t i = 0; i < N(cases); i++) {
        int len = fw_rules_duration_format(cases[i].ms, out, sizeof(out));
        if (strcmp(out, cases[i].want) || len != (int)strlen(cases[i].want))
            fail_msg("format(%lld) = \"%s\" (%d); expected \"%s\"", (long long)cases[i].ms, out,
                     len, cases[i].want);
        if (cases[i].ms >= 0) {
            int64_t back;
            assert_int_equal(fw_rules_duration_parse(out, strlen(out), &back), FW_OK);
            assert_int_equal(back, cases[i].ms);
        }
    }
}

/* ---- validate, compare, load ---- */

static void v_version(fw_rules *r) { r->common[FW_RULE_STRUCTURING].version = 0; }
static void v_severity(fw_rules *r) { r->common[FW_RULE_VELOCITY].severity = (fw_severity)9; }
static void v_time(fw_rules *r) { r->time.allowed_lateness_ms = -1; }
static void v_limits(fw_rules *r) { r->limits.max_entities = 0; }
static void v_nan(fw_rules *r) { r->high_amount.limit = 0.0 / 0.0; }
static void v_count(fw_rules *r) { r->rapid_small.count = 0; }
static void v_duration(fw_rules *r) { r->location_jump.within_ms = 31 * D; }
static void v_slide(fw_rules *r) { r->risk_score.slide_ms = 7 * M; }

static void test_validate_cases(void **state) {
    (void)state;
    static const struct {
        void (*mutate)(fw_rules *r);
        const char *msg;
    } cases[] = {
        { v_version, "structuring.version: must be at least 1, got 0" },
        { v_severity, "velocity.severity: unknown severity 9" },
        { v_time, "time.allowed_lateness: must be between 0s and 720h (30 days), got -1ms" },
        { v_limits, "limits.max_entities: must be between 1 and 4294967295, got 0" },
        { v_nan, "high_amount.limit: must be a finite number >= 0, got" },
        { v_count, "rapid_small.count: must be between 1 and 10000, got 0" },
        { v_duration, "location_jump.within: must be between 1ms and 720h (30 days), got 744h" },
        { v_slide, "risk_score.slide: the slide 7m does not divide the window 1h" },
    };
    char err[512];
    fw_rules r;
    fw_rules_defaults(&r);
    assert_int_equal(fw_rules_validate(&r, err, sizeof(err)), FW_OK);
    assert_string_equal(err, "");
    for (size_t i = 0; i < N(cases); i++) {
        fw_rules_defaults(&r);
        cases[i].mutate(&r);
        assert_int_equal(fw_rules_validate(&r, err, sizeof(err)), FW_ERR_INVALID);
        if (!strstr(err, cases[i].msg))
            fail_msg("validate [%zu]\n  got      %s\n  expected %s", i, err, cases[i].msg);
        assert_int_equal(fw_rules_validate(&r, NULL, 0), FW_ERR_INVALID);
    }
}

static void test_equal(void **state) {
    (void)state;
    fw_rules a, b;
    fw_rules_defaults(&a);
    fw_rules_defaults(&b);
    for (int i = 0; i < FW_RULE__COUNT; i++) {
        assert_true(fw_rules_params_equal(&a, &b, (fw_rule_id)i));
        assert_true(fw_rules_rule_equal(&a, &b, (fw_rule_id)i));
    }
    b.common[FW_RULE_VELOCITY].shadow = true;
    assert_true(fw_rules_params_equal(&a, &b, FW_RULE_VELOCITY));
    assert_false(fw_rules_rule_equal(&a, &b, FW_RULE_VELOCITY));
    b.risk_score.merchant_points = 6;
    assert_false(fw_rules_params_equal(&a, &b, FW_RULE_RISK_SCORE));
    assert_true(fw_rules_params_equal(&a, &b, FW_RULE_STRUCTURING));
    b.time.dedupe_window_ms = 0; /* not part of any rule */
    assert_true(fw_rules_rule_equal(&a, &b, FW_RULE_HIGH_AMOUNT));
    assert_false(fw_rules_params_equal(&a, &b, FW_RULE__COUNT));
}

static void test_load_file(void **state) {
    (void)state;
    char path[] = "/tmp/fw_test_rules_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *doc = "{\"rules\": [\n  {\"id\": \"velocity\", \"params\": {\"slide\": \"4m\"}}\n]}\n";
    assert_int_equal(write(fd, doc, strlen(doc)), (ssize_t)strlen(doc));
    close(fd);
    fw_rules r, def;
    char err[1024];
    fw_rules_defaults(&r);
    fw_rules_defaults(&def);
    assert_int_equal(fw_rules_load_file(&r, path, err, sizeof(err)), FW_ERR_INVALID);
    char want[512];
    snprintf(want, sizeof(want), "%s: rules[0].params.slide: the slide 4m does not divide the "
             "window 30m", path);
    if (strncmp(err, want, strlen(want)))
        fail_msg("load error\n  got      %s\n  expected %s...", err, want);
    assert_non_null(strstr(err, "(line 2, column 42)"));
    assert_rules_equal(&r, &def, "load failed");
    unlink(path);

    assert_int_equal(fw_rules_load_file(&r, "/nonexistent/rules.json", err, sizeof(err)), FW_ERR_IO);
    assert_non_null(strstr(err, "/nonexistent/rules.json: cannot open: No such file"));
    assert_int_equal(fw_rules_load_file(&r, "/tmp", err, sizeof(err)), FW_ERR_IO);
    assert_non_null(strstr(err, "/tmp: cannot read"));
    assert_rules_equal(&r, &def, "load io errors");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts),
        cmocka_unit_test(test_applies_on_top),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_all_or_nothing),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_example_file),
        cmocka_unit_test(test_write_bounds),
        cmocka_unit_test(test_duration_parse),
        cmocka_unit_test(test_duration_format),
        cmocka_unit_test(test_validate_cases),
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_load_file),
    };
    return FW_SKIP_STATUS(cmocka_run_group_tests(tests, NULL, NULL));
}
