/* test_decimal.c — table-driven tests of fixed-point decimals (decimal.c):
 * exact parsing of literals and JSON number tokens, half-even rounding past
 * four places, overflow at the edges, checked arithmetic with its rounding,
 * and the shortest exact formatting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "decimal.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_parse(void **state) {
    (void)state;
    static const struct {
        const char *in;
        fw_err rc;
        fw_dec want;
    } cases[] = {
        { "0", FW_OK, 0 },
        { "2000", FW_OK, 20000000 },
        { "2000.01", FW_OK, 20000100 },
        { "0.1", FW_OK, 1000 },
        { "-1.5", FW_OK, -15000 },
        { ".5", FW_OK, 5000 },
        { "1.2345", FW_OK, 12345 },
        /* more than four places: half-even at the fourth */
        { "1.23456", FW_OK, 12346 },
        { "1.23454", FW_OK, 12345 },
        { "0.00005", FW_OK, 0 },        /* tie, 0 is even */
        { "0.00015", FW_OK, 2 },        /* tie, up to even */
        { "0.00025", FW_OK, 2 },        /* tie, down to even */
        { "0.000250000001", FW_OK, 3 }, /* not a tie: a later digit breaks it */
        { "-0.00015", FW_OK, -2 },
        { "0.00004999999", FW_OK, 0 },
        /* either side of the plain fast path (14 integer digits, 4 places) */
        { "99999999999999.9999", FW_OK, 999999999999999999LL },
        { "123456789012345", FW_OK, 1234567890123450000LL },
        { "123456789012345.12345", FW_OK, 1234567890123451234LL },
        { "007.50", FW_OK, 75000 },
        /* JSON exponents, exactly */
        { "1e3", FW_OK, 10000000 },
        { "1.5E-2", FW_OK, 150 },
        { "25e-5", FW_OK, 2 },          /* 0.00025: tie to even */
        { "1e-100000000", FW_OK, 0 },
        { "0e999999999", FW_OK, 0 },
        /* the edges of the range */
        { "922337203685477.5807", FW_OK, INT64_MAX },
        { "-922337203685477.5807", FW_OK, -INT64_MAX },
        { "922337203685477.58074", FW_OK, INT64_MAX },
        { "922337203685477.58075", FW_ERR_LIMIT, 0 }, /* rounds past the top */
        { "922337203685477.5808", FW_ERR_LIMIT, 0 },
        { "1e15", FW_ERR_LIMIT, 0 },
        { "1e999999999", FW_ERR_LIMIT, 0 },
        { "99999999999999999999999999999999999999999", FW_ERR_LIMIT, 0 },
        /* not numbers */
        { "", FW_ERR_INVALID, 0 },
        { "-", FW_ERR_INVALID, 0 },
        { "1.", FW_ERR_INVALID, 0 },
        { "+1", FW_ERR_INVALID, 0 },
        { "1e", FW_ERR_INVALID, 0 },
        { "1x", FW_ERR_INVALID, 0 },
        { "0x10", FW_ERR_INVALID, 0 },
        { "1 ", FW_ERR_INVALID, 0 },
    };
    for (size_t i = 0; i < N(cases); i++) {
        fw_dec v = 0;
        fw_err rc = fw_dec_parse(cases[i].in, strlen(cases[i].in), &v);
        if (rc != cases[i].rc)
            fail_msg("parse \"%s\": rc %d, expected %d", cases[i].in, rc, cases[i].rc);
        if (rc == FW_OK && v != cases[i].want)
            fail_msg("parse \"%s\": %lld, expected %lld", cases[i].in, (long long)v,
                     (long long)cases[i].want);
    }
}

static fw_dec D(const char *s) {
    fw_dec v;
    if (fw_dec_parse(s, strlen(s), &v) != FW_OK)
        fail_msg("cannot parse %s", s);
    return v;
}

static void test_arith(void **state) {
    (void)state;
    static const struct {
        char op;
        const char *a, *b;
        bool ok;
        const char *want;
    } cases[] = {
        { '+', "0.1", "0.2", true, "0.3" },
        { '+', "922337203685477.5807", "0.0001", false, NULL },
        { '-', "-922337203685477.5807", "0.0001", false, NULL },
        { '-', "2000", "2000.0001", true, "-0.0001" },
        { '*', "1.5", "2", true, "3" },
        { '*', "0.0001", "0.5", true, "0" },       /* 0.00005: tie to even 0 */
        { '*', "0.0003", "0.5", true, "0.0002" },  /* 0.00015: tie to even 2 */
        { '*', "-0.0003", "0.5", true, "-0.0002" },
        { '*', "100000000000", "100000", false, NULL },
        { '/', "1", "3", true, "0.3333" },
        { '/', "2", "3", true, "0.6667" },
        { '/', "0.0001", "2", true, "0" },         /* tie to even */
        { '/', "0.0003", "2", true, "0.0002" },
        { '/', "-10", "4", true, "-2.5" },
        { '/', "1", "0", false, NULL },
        { '/', "922337203685477", "0.1", false, NULL },
    };
    for (size_t i = 0; i < N(cases); i++) {
        fw_dec a = D(cases[i].a), b = D(cases[i].b), r = 12345;
        bool ok = cases[i].op == '+'   ? fw_dec_add(a, b, &r)
                  : cases[i].op == '-' ? fw_dec_sub(a, b, &r)
                  : cases[i].op == '*' ? fw_dec_mul(a, b, &r)
                                       : fw_dec_div(a, b, &r);
        if (ok != cases[i].ok)
            fail_msg("%s %c %s: ok %d, expected %d", cases[i].a, cases[i].op, cases[i].b, ok,
                     cases[i].ok);
        if (!ok) {
            assert_int_equal(r, 12345); /* untouched */
            continue;
        }
        char buf[FW_DEC_STR_MAX];
        fw_dec_format(r, buf, sizeof(buf));
        if (strcmp(buf, cases[i].want))
            fail_msg("%s %c %s = %s, expected %s", cases[i].a, cases[i].op, cases[i].b, buf,
                     cases[i].want);
    }
}

static void test_format(void **state) {
    (void)state;
    static const struct {
        fw_dec v;
        const char *want;
    } cases[] = {
        { 0, "0" },           { 10000, "1" },      { 3000, "0.3" },
        { 12340, "1.234" },   { 1, "0.0001" },     { -1, "-0.0001" },
        { -15000, "-1.5" },   { 20000100, "2000.01" },
        { INT64_MAX, "922337203685477.5807" },     { -INT64_MAX, "-922337203685477.5807" },
        { INT64_MIN, "-922337203685477.5808" },    /* outside the range, still written */
    };
    for (size_t i = 0; i < N(cases); i++) {
        char buf[FW_DEC_STR_MAX];
        int n = fw_dec_format(cases[i].v, buf, sizeof(buf));
        if (strcmp(buf, cases[i].want) || n != (int)strlen(cases[i].want))
            fail_msg("format %lld: \"%s\" (%d), expected \"%s\"", (long long)cases[i].v, buf, n,
                     cases[i].want);
        /* what is written reads back (inside the range) */
        fw_dec back;
        if (cases[i].v != INT64_MIN) {
            assert_int_equal(fw_dec_parse(buf, (size_t)n, &back), FW_OK);
            assert_int_equal(back, cases[i].v);
        }
    }
}

static void test_conversions(void **state) {
    (void)state;
    fw_dec v;
    assert_true(fw_dec_of_double(0.1, &v));
    assert_int_equal(v, 1000);
    assert_true(fw_dec_of_double(-48.8566, &v));
    assert_int_equal(v, -488566);
    assert_false(fw_dec_of_double(1.0 / 0.0, &v));
    assert_false(fw_dec_of_double(1e300, &v));
    assert_true(fw_dec_of_int(-7, &v));
    assert_int_equal(v, -70000);
    assert_false(fw_dec_of_int(INT64_MAX / 1000, &v));
    assert_true(fw_dec_to_double(15000) == 1.5);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_arith),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_conversions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
