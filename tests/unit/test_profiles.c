/* test_profiles.c — the profile table: both spellings of the fields,
 * replacement, tombstones, growth, and errors that name the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "profiles.h"

static fw_err apply(fw_profiles *p, const char *key, const char *json, char *err) {
    return fw_profiles_apply(p, key ? fw_str_c(key) : FW_STR_NULL, json,
                             json ? strlen(json) : 0, err, 256);
}

static void test_spellings_and_replacement(void **state) {
    (void)state;
    char err[256];
    fw_profiles *p = fw_profiles_new();
    assert_int_equal(apply(p, NULL, "{\"customer_id\":\"c1\",\"avg_amount\":120.5,"
                                    "\"home_country\":\"US\",\"extra\":[1]}", err), FW_OK);
    assert_int_equal(apply(p, NULL, "{\"user_id\":\"c2\",\"avg_transaction\":7,\"country\":\"DE\"}",
                           err), FW_OK);
    assert_int_equal(apply(p, NULL, "{\"user_id\":123,\"avg_transaction\":null}", err), FW_OK);
    const fw_profile *c1 = fw_profiles_get(p, FW_STR_LIT("c1"));
    assert_non_null(c1);
    assert_true(c1->has_avg && c1->avg_amount == 120.5);
    assert_string_equal(c1->home_country, "US");
    const fw_profile *c2 = fw_profiles_get(p, FW_STR_LIT("c2"));
    assert_true(c2 && c2->avg_amount == 7.0);
    assert_string_equal(c2->home_country, "DE");
    const fw_profile *num = fw_profiles_get(p, FW_STR_LIT("123"));
    assert_true(num && !num->has_avg);
    /* A newer record replaces; the key can name a record without an id. */
    assert_int_equal(apply(p, "c1", "{\"avg_amount\":99}", err), FW_OK);
    c1 = fw_profiles_get(p, FW_STR_LIT("c1"));
    assert_true(c1->avg_amount == 99.0);
    assert_string_equal(c1->home_country, "");
    assert_int_equal(fw_profiles_count(p), 3);
    /* A tombstone removes; unknown ids are absent. */
    assert_int_equal(apply(p, "c1", NULL, err), FW_OK);
    assert_null(fw_profiles_get(p, FW_STR_LIT("c1")));
    assert_non_null(fw_profiles_get(p, FW_STR_LIT("c2")));
    assert_int_equal(fw_profiles_count(p), 2);
    fw_profiles_destroy(p);
}

static void test_growth_and_deletion(void **state) {
    (void)state;
    char err[256], doc[128], id[32];
    fw_profiles *p = fw_profiles_new();
    for (int i = 0; i < 5000; i++) {
        snprintf(doc, sizeof(doc), "{\"customer_id\":\"c%d\",\"avg_amount\":%d}", i, i);
        assert_int_equal(apply(p, NULL, doc, err), FW_OK);
    }
    for (int i = 0; i < 5000; i += 2) {
        snprintf(id, sizeof(id), "c%d", i);
        assert_int_equal(apply(p, id, NULL, err), FW_OK);
    }
    assert_int_equal(fw_profiles_count(p), 2500);
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof(id), "c%d", i);
        const fw_profile *pr = fw_profiles_get(p, fw_str_c(id));
        if (i % 2 == 0 && pr)
            fail_msg("%s should be deleted", id);
        if (i % 2 == 1 && !(pr && pr->avg_amount == i))
            fail_msg("%s: expected avg %d, got %s", id, i, pr ? "another" : "nothing");
    }
    fw_profiles_destroy(p);
}

static void test_errors_name_the_field(void **state) {
    (void)state;
    static const struct {
        const char *json, *needle;
    } cases[] = {
        { "not json", "expected" },
        { "[1]", "object" },
        { "{\"avg_amount\":1}", "customer_id" },
        { "{\"customer_id\":\"\"}", "customer_id" },
        { "{\"customer_id\":true}", "customer_id" },
        { "{\"customer_id\":\"c\",\"avg_amount\":\"12\"}", "avg_amount" },
        { "{\"customer_id\":\"c\",\"avg_amount\":-1}", "avg_amount" },
        { "{\"customer_id\":\"c\",\"home_country\":\"Germany\"}", "home_country" },
    };
    fw_profiles *p = fw_profiles_new();
    char err[256];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err[0] = '\0';
        assert_int_equal(apply(p, NULL, cases[i].json, err), FW_ERR_INVALID);
        if (!strstr(err, cases[i].needle))
            fail_msg("%s: error \"%s\" does not mention %s", cases[i].json, err,
                     cases[i].needle);
    }
    assert_int_equal(fw_profiles_count(p), 0);
    fw_profiles_destroy(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spellings_and_replacement),
        cmocka_unit_test(test_growth_and_deletion),
        cmocka_unit_test(test_errors_name_the_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
