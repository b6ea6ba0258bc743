/* test_lang_builtins.c — the shipped definitions of the built-ins
 * (rules/builtin-rules.json, fw_lang_rules_builtins): their own params are
 * the fw_rules defaults, a rules file's built-in entry reaches them (params,
 * enabled, severity, version, shadow), a user rule of the same id leaves its
 * definition out, the join borrows both sets, and lookback_bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lang_test_util.h"

static fw_lang_rules *shipped(const fw_rules *r, const fw_lang_rules *except) {
    fw_lang_rules *b = NULL;
    char err[1024];
    fw_err rc = fw_lang_rules_builtins(r, except, &b, err, sizeof(err));
    if (rc != FW_OK)
        fprintf(stderr, "builtins: %s\n", err);
    assert_int_equal(rc, FW_OK);
    return b;
}

static char *written(const fw_lang_rules *rs) {
    fw_buf b;
    fw_buf_init(&b, 0);
    assert_true(fw_lang_rules_write_json(rs, &b, ""));
    assert_true(fw_buf_putc(&b, '\0'));
    return b.data; /* the buffer's storage, freed by the caller */
}

/* The file's own params (its documentation) are the built-in defaults:
 * loaded as a user's rules file it writes back exactly as the definitions
 * configured by fw_rules_defaults do. */
static void test_file_params_are_the_defaults(void **state) {
    (void)state;
    fw_rules def;
    fw_rules_defaults(&def);
    fw_lang_rules *as_file = NULL, *b = shipped(&def, NULL);
    char err[1024];
    assert_int_equal(fw_lang_rules_parse_json(fw_builtin_rules_json, fw_builtin_rules_json_len,
                                              &def, &as_file, err, sizeof(err)),
                     FW_OK);
    assert_int_equal(b->n, 8);
    assert_int_equal(as_file->n, b->n);
    char *x = written(as_file), *y = written(b);
    /* The first line that differs, whole (the documents are long). */
    for (const char *p = x, *q = y; *p || *q;) {
        size_t lp = strcspn(p, "\n"), lq = strcspn(q, "\n");
        if (lp != lq || memcmp(p, q, lp))
            fail_msg("the file says %.*s\nthe defaults make %.*s", (int)lp, p, (int)lq, q);
        p += lp + (p[lp] != '\0');
        q += lq + (q[lq] != '\0');
    }
    free(x);
    free(y);
    fw_lang_rules_destroy(as_file);
    fw_lang_rules_destroy(b);
}

static const fw_lang_rule *find(const fw_lang_rules *rs, const char *id) {
    const fw_lang_rule *r = fw_lang_rules_find(rs, id);
    if (!r)
        fail_msg("no shipped rule \"%s\"", id);
    return r;
}

static const fw_xval *param(const fw_lang_rule *r, const char *name) {
    for (size_t i = 0; i < r->nparams; i++)
        if (!strcmp(r->params[i].name, name))
            return &r->params[i].value;
    fail_msg("rule %s has no param %s", r->id, name);
    return NULL;
}

/* A rules file's built-in entries configure the definitions. */
static void test_rules_file_configures_them(void **state) {
    (void)state;
    static const char doc[] =
        "{\"rules\": [{\"id\": \"velocity\", \"version\": 3, \"severity\": \"low\", \"shadow\": true,"
        " \"params\": {\"min_count\": 4, \"min_amount\": 1000.25, \"window\": \"1h\","
        " \"slide\": \"10m\"}},"
        " {\"id\": \"structuring\", \"params\": {\"window\": \"12h\"}},"
        " {\"id\": \"rapid_small\", \"enabled\": false}]}";
    fw_rules r;
    char err[512];
    fw_rules_defaults(&r);
    assert_int_equal(fw_rules_parse_json(&r, doc, strlen(doc), err, sizeof(err)), FW_OK);
    fw_lang_rules *b = shipped(&r, NULL);
    assert_int_equal(b->n, 7); /* rapid_small disabled: left out */
    assert_null(fw_lang_rules_find(b, "rapid_small"));
    const fw_lang_rule *v = find(b, "velocity");
    assert_int_equal(v->common.version, 3);
    assert_int_equal(v->common.severity, FW_SEV_LOW);
    assert_true(v->common.shadow);
    fw_dec d;
    assert_int_equal(fw_dec_parse("4", 1, &d), FW_OK);
    assert_true(param(v, "min_count")->u.num == d);
    assert_int_equal(fw_dec_parse("1000.25", 7, &d), FW_OK);
    assert_true(param(v, "min_amount")->u.num == d);
    assert_int_equal(v->window_ms, 3600000);
    assert_int_equal(v->slide_ms, 600000);
    const fw_lang_rule *s = find(b, "structuring");
    assert_true(s->lookback_open);
    assert_int_equal(s->lookback_ms, 12 * 3600000 - 1); /* (t - 12h, t] */
    fw_lang_rules_destroy(b);
}

/* A user rule of a built-in's id leaves that definition out; the join
 * runs the user's rules first, then the rest, borrowing both. */
static void test_user_rule_replaces_its_definition(void **state) {
    (void)state;
    fw_lang_rules *user = lang_load_ok(
        "{\"rules\": [{\"id\": \"velocity\", \"type\": \"filter\", \"when\": \"amount > 1\"},"
        " {\"id\": \"mine\", \"type\": \"filter\", \"when\": \"profile.avg_amount > 1\"}]}");
    fw_rules def;
    fw_rules_defaults(&def);
    fw_lang_rules *b = shipped(&def, user);
    assert_int_equal(b->n, 7);
    assert_null(fw_lang_rules_find(b, "velocity"));
    fw_lang_rules *j = fw_lang_rules_join(user, b);
    assert_non_null(j);
    assert_int_equal(j->n, 9);
    assert_string_equal(j->rules[0].id, "velocity");
    assert_int_equal(j->rules[0].kind, FW_LANG_FILTER);
    assert_string_equal(j->rules[1].id, "mine");
    assert_string_equal(j->rules[2].id, b->rules[0].id);
    assert_true(j->uses_profile); /* mine's, and risk_score's */
    assert_int_equal(j->max_keys, def.limits.max_entities);
    fw_lang_rules_destroy(j); /* frees only the join: both sets stay whole */
    assert_string_equal(user->rules[1].when_src, "profile.avg_amount > 1");
    fw_lang_rules *none = fw_lang_rules_join(NULL, b); /* no user rules */
    assert_int_equal(none->n, 7);
    fw_lang_rules_destroy(none);
    fw_lang_rules_destroy(b);
    fw_lang_rules_destroy(user);
}

/* "lookback_bound": "exclusive" is (t - W, t]: written back as given, and
 * refused where it means nothing. */
static void test_lookback_bound(void **state) {
    (void)state;
    fw_lang_rules *rs = lang_load_ok(
        "{\"rules\": [{\"id\": \"x\", \"type\": \"aggregate\", \"group_by\": \"account_id\","
        " \"lookback\": \"1h\", \"lookback_bound\": \"exclusive\","
        " \"aggregates\": {\"n\": \"count\"}, \"having\": \"n > 1\"}]}");
    assert_int_equal(rs->rules[0].lookback_ms, 3599999);
    char *w = written(rs);
    assert_non_null(strstr(w, "\"lookback\": \"1h\""));
    assert_non_null(strstr(w, "\"lookback_bound\": \"exclusive\""));
    free(w);
    fw_lang_rules_destroy(rs);
    static const struct {
        const char *doc, *want;
    } bad[] = {
        { "{\"rules\": [{\"id\": \"x\", \"type\": \"aggregate\", \"group_by\": \"account_id\","
          " \"window\": \"1h\", \"lookback_bound\": \"exclusive\","
          " \"aggregates\": {\"n\": \"count\"}, \"having\": \"n > 1\"}]}",
          "rules[0].lookback_bound: \"exclusive\" applies to a \"lookback\"" },
        { "{\"rules\": [{\"id\": \"x\", \"type\": \"aggregate\", \"group_by\": \"account_id\","
          " \"lookback\": \"1h\", \"lookback_bound\": \"open\","
          " \"aggregates\": {\"n\": \"count\"}, \"having\": \"n > 1\"}]}",
          "rules[0].lookback_bound: expected \"inclusive\"" },
        { "{\"rules\": [{\"id\": \"x\", \"type\": \"aggregate\", \"group_by\": \"account_id\","
          " \"lookback\": \"1ms\", \"lookback_bound\": \"exclusive\","
          " \"aggregates\": {\"n\": \"count\"}, \"having\": \"n > 1\"}]}",
          "rules[0].lookback_bound: an exclusive lookback needs at least 2ms" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fw_lang_rules *x = NULL;
        char err[1024];
        assert_int_equal(lang_load(bad[i].doc, &x, err, sizeof(err)), FW_ERR_INVALID);
        if (strncmp(err, bad[i].want, strlen(bad[i].want)))
            fail_msg("case %zu: expected \"%s...\", got \"%s\"", i, bad[i].want, err);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_params_are_the_defaults),
        cmocka_unit_test(test_rules_file_configures_them),
        cmocka_unit_test(test_user_rule_replaces_its_definition),
        cmocka_unit_test(test_lookback_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
