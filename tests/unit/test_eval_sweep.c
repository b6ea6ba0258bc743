/* test_eval_sweep.c — `eval --sweep RULE.PARAM=...` of a language rule
 * (eval_sweep.c): the spec names a language rule's id and one of its params;
 * each value is written into the rules document in place of the param's value
 * and compiled through lang_rules.h; a missing param, a param that is not a
 * number or duration and a value the compiler refuses are errors naming them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "eval_int.h"
#include "lang_rules.h"

/* The cookbook's crypto_merchants, its params written with blanks and a
 * non-ASCII reason before them (columns count code points), plus a filter
 * rule with a duration param. */
static const char doc[] =
    "{\n"
    "  \"rules\": [\n"
    "    { \"id\": \"crypto_merchants\", \"type\": \"aggregate\", \"reason\": \"\xc2\xbb {merchants}\",\n"
    "      \"group_by\": \"account_id\", \"lookback\": \"1h\",\n"
    "      \"aggregates\": { \"merchants\": \"count_distinct(merchant_id)\" },\n"
    "      \"having\": \"merchants > $max\", \"params\": { \"max\" :  3 , \"unused\": true } },\n"
    "    { \"id\": \"big\", \"type\": \"filter\", \"when\": \"amount > $limit\",\n"
    "      \"params\": { \"limit\": 1000.5 } }\n"
    "  ]\n"
    "}\n";

static const fw_lang_rule *param_rule(const fw_lang_rules *rs, const char *id, const char *param,
                                      size_t *index) {
    const fw_lang_rule *r = fw_lang_rules_find(rs, id);
    assert_non_null(r);
    for (size_t i = 0; i < r->nparams; i++)
        if (!strcmp(r->params[i].name, param)) {
            *index = i;
            return r;
        }
    fail_msg("rule %s has no param %s", id, param);
    return NULL;
}

static void test_sweep_language_param(void **state) {
    (void)state;
    fw_rules base;
    fw_rules_defaults(&base);
    char errstr[600];
    fw_lang_rules *rs = NULL;
    assert_int_equal(fw_lang_rules_parse_json(doc, strlen(doc), &base, &rs, errstr,
                                              sizeof(errstr)), FW_OK);
    sweep sw;
    if (!eval_sweep_parse("crypto_merchants.max=2:4:1", &sw, rs, errstr, sizeof(errstr)))
        fail_msg("parse: %s", errstr);
    assert_int_equal(sw.rule, FW_RULE_LANG);
    assert_string_equal(sw.lang_id, "crypto_merchants");
    assert_int_equal(sw.n, 3);
    /* The built-ins are left as they are. */
    fw_rules out;
    assert_true(eval_sweep_apply(&sw, 1, &base, &out, errstr, sizeof(errstr)));
    assert_memory_equal(&out, &base, sizeof(out));
    for (size_t i = 0; i < sw.n; i++) {
        fw_lang_rules *vl = NULL;
        if (!eval_sweep_apply_lang(&sw, i, doc, strlen(doc), &base, &vl, errstr,
                                   sizeof(errstr)))
            fail_msg("value %zu: %s", i, errstr);
        size_t k;
        const fw_lang_rule *r = param_rule(vl, "crypto_merchants", "max", &k);
        fw_dec want;
        assert_true(fw_dec_of_int((int64_t)(2 + i), &want));
        print_message("value %zu: max = %lld (want %lld)\n", i, (long long)r->params[k].value.u.num,
                      (long long)want);
        assert_int_equal(r->params[k].value.u.num, want);
        /* The other rule is untouched. */
        const fw_lang_rule *big = param_rule(vl, "big", "limit", &k);
        assert_int_equal(big->params[k].value.u.num, 10005000);
        assert_int_equal(vl->n, 2);
        fw_lang_rules_destroy(vl);
    }

    /* A fractional param. */
    assert_true(eval_sweep_parse("big.limit=500:2000:500", &sw, rs, errstr, sizeof(errstr)));
    fw_lang_rules *vl = NULL;
    assert_true(eval_sweep_apply_lang(&sw, 3, doc, strlen(doc), &base, &vl, errstr,
                                      sizeof(errstr)));
    size_t k;
    assert_int_equal(param_rule(vl, "big", "limit", &k)->params[k].value.u.num, 20000000);
    fw_lang_rules_destroy(vl);

    /* Errors name the rule and the param. */
    assert_false(eval_sweep_parse("crypto_merchants.min=2:4:1", &sw, rs, errstr,
                                  sizeof(errstr)));
    assert_non_null(strstr(errstr, "rule crypto_merchants has no param \"min\" (its params: "
                                   "max, unused)"));
    assert_false(eval_sweep_parse("no_such_rule.max=2:4:1", &sw, rs, errstr, sizeof(errstr)));
    assert_non_null(strstr(errstr, "unknown rule \"no_such_rule\""));
    assert_false(eval_sweep_parse("crypto_merchants.max=2:4:1", &sw, NULL, errstr,
                                  sizeof(errstr)));
    assert_true(eval_sweep_parse("crypto_merchants.unused=1:2:1", &sw, rs, errstr,
                                 sizeof(errstr)));
    assert_false(eval_sweep_apply_lang(&sw, 0, doc, strlen(doc), &base, &vl, errstr,
                                       sizeof(errstr)));
    assert_non_null(strstr(errstr, "params.unused of rule crypto_merchants is not a number"));
    assert_null(vl);
    fw_lang_rules_destroy(rs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sweep_language_param),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
