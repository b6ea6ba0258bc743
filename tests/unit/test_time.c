/* test_time.c — table-driven tests of fw_time.c: ISO-8601 and RFC 850
 * parsing, epoch digits through fw_time_parse_any, formatting and its round
 * trip. Every input is parsed from an exact-size heap copy without a NUL, so
 * AddressSanitizer catches any read past the end. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fw_time.h"

typedef fw_err (*parse_fn)(const char *, size_t, int64_t *);

/* Parses @p s from an unterminated heap copy of exactly strlen(s) bytes. */
static fw_err parse_copy(parse_fn fn, const char *s, int64_t *ms) {
    size_t n = strlen(s);
    char *buf = malloc(n ? n : 1);
    assert_non_null(buf);
    memcpy(buf, s, n);
    fw_err rc = fn(buf, n, ms);
    free(buf);
    return rc;
}

typedef struct ok_case {
    const char *in;
    int64_t ms;
} ok_case;

static void run_ok(parse_fn fn, const char *fn_name, const ok_case *c, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int64_t ms = -12345;
        fw_err rc = parse_copy(fn, c[i].in, &ms);
        if (rc != FW_OK)
            fail_msg("%s(\"%s\") rejected, expected %lld", fn_name, c[i].in,
                     (long long)c[i].ms);
        if (ms != c[i].ms)
            fail_msg("%s(\"%s\") = %lld, expected %lld", fn_name, c[i].in, (long long)ms,
                     (long long)c[i].ms);
        /* Every prefix is parsed too: only for bounds (some prefixes are valid). */
        for (size_t k = 0; k < strlen(c[i].in); k++) {
            char *pre = malloc(k ? k : 1);
            assert_non_null(pre);
            memcpy(pre, c[i].in, k);
            (void)fn(pre, k, &ms);
            free(pre);
        }
    }
}

static void run_bad(parse_fn fn, const char *fn_name, const char *const *c, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int64_t ms = 0;
        if (parse_copy(fn, c[i], &ms) == FW_OK)
            fail_msg("%s(\"%s\") accepted as %lld, expected a rejection", fn_name, c[i],
                     (long long)ms);
    }
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_iso_accepts(void **state) {
    (void)state;
    static const ok_case cases[] = {
        { "2024-01-15T10:30:00Z", 1705314600000 },
        { "2024-01-15T10:30:00z", 1705314600000 },
        { "2024-01-15t10:30:00Z", 1705314600000 },
        { "2024-01-15 10:30:00Z", 1705314600000 },
        { "2024-01-15T10:30Z", 1705314600000 },            /* seconds optional */
        { "2024-01-15T10:30:00.123Z", 1705314600123 },
        { "2024-01-15T10:30:00,5Z", 1705314600500 },       /* comma decimal mark */
        { "2024-01-15T10:30:00.123456789Z", 1705314600123 }, /* truncated to ms */
        { "2024-01-15T10:30:00.1+01:00", 1705311000100 },
        { "2024-01-15T10:30:00+01:00", 1705311000000 },
        { "2024-01-15T10:30:00+0100", 1705311000000 },
        { "2024-01-15T10:30:00+01", 1705311000000 },       /* hours-only offset */
        { "2024-01-15T10:30:00-05:00", 1705332600000 },
        { "2024-01-15T10:30:00-0500", 1705332600000 },
        { "2024-01-15T10:30:00+05:30", 1705294800000 },
        { "2024-01-15T10:30:00+0530", 1705294800000 },
        { "2024-01-15 10:30:00.123+01:00", 1705311000123 },
        { "2024-02-29T00:00:00Z", 1709164800000 },         /* leap year */
        { "2000-02-29T12:00:00Z", 951825600000 },          /* divisible by 400 */
        { "1970-01-01T00:00:00Z", 0 },
        { "1969-12-31T23:59:59.999Z", -1 },
        { "2016-12-31T23:59:60Z", 1483228799000 },         /* leap second → :59 */
        { "9999-12-31T23:59:59.999Z", 253402300799999 },
        { "0001-01-01T00:00:00Z", -62135596800000 },
        { "0000-01-01T00:00:00Z", -62167219200000 },
    };
    run_ok(fw_time_parse_iso8601, "fw_time_parse_iso8601", cases, N(cases));
}

static void test_iso_rejects(void **state) {
    (void)state;
    static const char *const cases[] = {
        "2024-01-15T10:30:00",          /* no zone: ambiguous instant */
        /* the fixed shape "YYYY-MM-DDTHH:MM:SS.mmmZ", read on a path of its own */
        "2024-02-30T00:00:00.000Z",
        "2023-02-29T00:00:00.000Z",
        "2024-13-01T00:00:00.000Z",
        "2024-00-10T00:00:00.000Z",
        "2024-01-15T24:00:00.000Z",
        "2024-01-15T10:60:00.000Z",
        "2024-01-15T10:30:61.000Z",
        "2024-01-15T10:30:00.0a0Z",
        "2024-01-15T10:30:00.000X",
        "2024-01-15T1:30:00.0000Z",
        "2024-0a-15T10:30:00.000Z",
        "2024-01-15 10:30:00.123",      /* no zone */
        "2024-02-30T00:00:00Z",         /* Feb 30 */
        "2023-02-29T00:00:00Z",         /* not a leap year */
        "1900-02-29T00:00:00Z",         /* divisible by 100, not 400 */
        "2024-04-31T00:00:00Z",
        "2024-13-01T00:00:00Z",
        "2024-00-10T00:00:00Z",
        "2024-01-00T00:00:00Z",
        "2024-01-32T00:00:00Z",
        "2024-01-15T24:00:00Z",
        "2024-01-15T10:60:00Z",
        "2024-01-15T10:30:61Z",
        "2024-01-15T10:30:00.Z",        /* empty fraction */
        "2024-01-15T10:30:00.1234567890Z", /* more than 9 fraction digits */
        "2024-01-15T10:30:00+24:00",
        "2024-01-15T10:30:00+01:60",
        "2024-01-15T10:30:00+1",
        "2024-01-15T10:30:00+013",
        "2024-01-15T10:30:00+01:0",
        "2024-01-15T10:30:00Z ",        /* trailing space */
        "2024-01-15T10:30:00ZZ",
        "2024-01-15T10:30:00 UTC",
        "2024-01-15T10:3Z",
        "2024-01-15",
        "2024-01-15T",
        "",
        "24-01-15T10:30:00Z",
        "+2024-01-15T10:30:00Z",
        "2024/01/15T10:30:00Z",
        "2024-01-15X10:30:00Z",
        "2024-1-15T10:30:00Z",
        " 2024-01-15T10:30:00Z",
        "Sunday, 23-Jul-17 01:06:47 UTC",
        "1705314600000",
    };
    run_bad(fw_time_parse_iso8601, "fw_time_parse_iso8601", cases, N(cases));
}

static void test_rfc850_accepts(void **state) {
    (void)state;
    static const ok_case cases[] = {
        { "Sunday, 23-Jul-17 01:06:47 UTC", 1500772007000 },
        { "Sunday, 23-Jul-17 01:06:47 GMT", 1500772007000 },
        { "Sun, 23-Jul-17 01:06:47 UTC", 1500772007000 },   /* weekday not checked */
        { "Thursday, 01-Jan-70 00:00:00 GMT", 0 },           /* 70 → 1970 */
        { "Friday, 31-Dec-99 23:59:59 UTC", 946684799000 },  /* 99 → 1999 */
        { "Wednesday, 31-Dec-69 00:00:00 UTC", 3155673600000 }, /* 69 → 2069 */
        { "Tuesday, 29-Feb-00 12:00:00 UTC", 951825600000 },  /* 2000 is leap */
    };
    run_ok(fw_time_parse_rfc850, "fw_time_parse_rfc850", cases, N(cases));
}

static void test_rfc850_rejects(void **state) {
    (void)state;
    static const char *const cases[] = {
        "Sunday, 23-Jul-17 01:06:47",        /* no zone */
        "Sunday, 23-Jul-17 01:06:47 CET",    /* only UTC/GMT */
        "Sunday, 23-Jul-17 01:06:47 UTC ",
        "Sunday 23-Jul-17 01:06:47 UTC",     /* no comma */
        "Sunday,23-Jul-17 01:06:47 UTC",
        "Sunday, 23-jul-17 01:06:47 UTC",    /* month is case-sensitive */
        "Sunday, 23-Jux-17 01:06:47 UTC",
        "Sunday, 30-Feb-17 01:06:47 UTC",
        "Wednesday, 29-Feb-17 00:00:00 UTC", /* 2017 is not leap */
        "Sunday, 23-Jul-2017 01:06:47 UTC",  /* four-digit year is RFC 1123 */
        "Sunday, 3-Jul-17 01:06:47 UTC",
        "Sunday, 23-Jul-17 25:06:47 UTC",
        "Sunday, 23-Jul-17 01:66:47 UTC",
        "Sunday, 23-Jul-17 1:06:47 UTC",
        ", 23-Jul-17 01:06:47 UTC",
        "Sunday, 23-Ju",
        "",
        "2024-01-15T10:30:00Z",
    };
    run_bad(fw_time_parse_rfc850, "fw_time_parse_rfc850", cases, N(cases));
}

static void test_parse_any(void **state) {
    (void)state;
    static const ok_case ok[] = {
        { "1705314600000", 1705314600000 },          /* epoch milliseconds */
        { "0", 0 },
        { "7", 7 },
        { "123456789012345", 123456789012345 },      /* 15 digits: the maximum */
        { "2024-01-15T10:30:00.5+01:00", 1705311000500 },
        { "Sunday, 23-Jul-17 01:06:47 UTC", 1500772007000 },
    };
    static const char *const bad[] = {
        "1234567890123456", /* 16 digits: not epoch, not a date */
        "-5",
        "+5",
        "12a",
        "1.5",
        " 17",
        "",
        "2024-01-15T10:30:00",
        "yesterday",
    };
    run_ok(fw_time_parse_any, "fw_time_parse_any", ok, N(ok));
    run_bad(fw_time_parse_any, "fw_time_parse_any", bad, N(bad));
}

static void test_format(void **state) {
    (void)state;
    static const struct {
        int64_t ms;
        const char *out;
    } cases[] = {
        { 0, "1970-01-01T00:00:00.000Z" },
        { -1, "1969-12-31T23:59:59.999Z" },
        { -1000, "1969-12-31T23:59:59.000Z" },
        { -86400000, "1969-12-31T00:00:00.000Z" },
        { 1705314600123, "2024-01-15T10:30:00.123Z" },
        { 951825600000, "2000-02-29T12:00:00.000Z" },
        { 1709164800000, "2024-02-29T00:00:00.000Z" },
        { 253402300799999, "9999-12-31T23:59:59.999Z" },
        { -62167219200000, "0000-01-01T00:00:00.000Z" },
    };
    for (size_t i = 0; i < N(cases); i++) {
        char out[32];
        fw_time_format(cases[i].ms, out);
        if (strcmp(out, cases[i].out) != 0)
            fail_msg("fw_time_format(%lld) = \"%s\", expected \"%s\"",
                     (long long)cases[i].ms, out, cases[i].out);
    }
}

/* Out-of-range instants clamp to the first or last millisecond of a 4-digit
 * year. INT64_MIN used to be negated (signed overflow, caught by UBSan) and
 * far-future instants printed a clamped year with the real month and day
 * ("9999-02-29"), which did not parse back. */
static void test_format_extremes(void **state) {
    (void)state;
    static const struct {
        int64_t ms;
        const char *out;
    } cases[] = {
        { INT64_MIN, "0000-01-01T00:00:00.000Z" },
        { INT64_MIN + 1, "0000-01-01T00:00:00.000Z" },
        { -62167219200001, "0000-01-01T00:00:00.000Z" },
        { INT64_MAX, "9999-12-31T23:59:59.999Z" },
        { 253402300800000, "9999-12-31T23:59:59.999Z" },
        { 253402300800000LL * 40 + 86400000LL * 59, "9999-12-31T23:59:59.999Z" },
    };
    for (size_t i = 0; i < N(cases); i++) {
        char out[32];
        int64_t back;
        fw_time_format(cases[i].ms, out);
        if (strcmp(out, cases[i].out) != 0)
            fail_msg("fw_time_format(%lld) = \"%s\", expected \"%s\"",
                     (long long)cases[i].ms, out, cases[i].out);
        assert_int_equal(fw_time_parse_iso8601(out, strlen(out), &back), FW_OK);
    }
}

/* format → parse gives the same instant across the whole 4-digit-year range. */
static void test_format_round_trip(void **state) {
    (void)state;
    const int64_t lo = -62167219200000, hi = 253402300799999;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t ms = i == 0 ? lo : i == 1 ? hi : lo + (int64_t)(x % (uint64_t)(hi - lo + 1));
        char out[32];
        int64_t back = 0;
        fw_time_format(ms, out);
        if (fw_time_parse_iso8601(out, strlen(out), &back) != FW_OK || back != ms)
            fail_msg("round trip of %lld via \"%s\" gave %lld", (long long)ms, out,
                     (long long)back);
        /* The same instant in a shape the fixed path does not take. */
        char general[40];
        snprintf(general, sizeof(general), "%.23s+00:00", out);
        if (fw_time_parse_iso8601(general, strlen(general), &back) != FW_OK || back != ms)
            fail_msg("\"%s\" gave %lld, expected %lld", general, (long long)back,
                     (long long)ms);
    }
}

static void test_days_from_civil(void **state) {
    (void)state;
    assert_int_equal(fw_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(fw_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(fw_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(fw_days_from_civil(2024, 1, 15), 19737);
    assert_int_equal(fw_days_from_civil(0, 1, 1), -719528);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iso_accepts),
        cmocka_unit_test(test_iso_rejects),
        cmocka_unit_test(test_rfc850_accepts),
        cmocka_unit_test(test_rfc850_rejects),
        cmocka_unit_test(test_parse_any),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_extremes),
        cmocka_unit_test(test_format_round_trip),
        cmocka_unit_test(test_days_from_civil),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
