/* test_progress.c — table-driven tests of progress.c's formatting with given
 * times: rates, percent and ETA rounding, unknown totals, zero elapsed time,
 * bytes, the last line, and the lines written to a file (on and off, due and
 * not due, rewritten on a terminal). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "progress.h"

typedef struct fmt_case {
    const char *noun; /* NULL: bytes */
    uint64_t done, total;
    double elapsed;
    bool final;
    const char *want;
} fmt_case;

static const fmt_case fmt_cases[] = {
    /* known total: percent, rate, ETA */
    { "transactions", 45000, 100000, 3.6, false,
      "45,000 of 100,000 transactions (45.0%), 12,500/s, ETA 5s, elapsed 3.6s" },
    /* ETA rounds up: 1 left at 2/s is 0.5 s, shown as 1s, never 0s */
    { "records", 9, 10, 4.5, false, "9 of 10 records (90.0%), 2.0/s, ETA 1s, elapsed 4.5s" },
    /* percent rounds down: 99.96% is not 100.0% */
    { "records", 9996, 10000, 1, false,
      "9,996 of 10,000 records (99.9%), 9,996/s, ETA 1s, elapsed 1.0s" },
    /* done: 100%, ETA 0s; more than the total stays at 100% */
    { "records", 10, 10, 2, false, "10 of 10 records (100.0%), 5.0/s, ETA 0s, elapsed 2.0s" },
    { "records", 12, 10, 2, false, "12 of 10 records (100.0%), 6.0/s, ETA 0s, elapsed 2.0s" },
    /* minutes and hours of ETA and elapsed time */
    { "rows", 100, 10000, 61, false,
      "100 of 10,000 rows (1.0%), 1.6/s, ETA 1h40m, elapsed 1m01s" },
    { "rows", 1000, 2000, 245, false,
      "1,000 of 2,000 rows (50.0%), 4.1/s, ETA 4m05s, elapsed 4m05s" },
    /* unknown total: no percent, no ETA */
    { "transactions", 1234567, 0, 2, false, "1,234,567 transactions, 617,284/s, elapsed 2.0s" },
    /* zero elapsed, nothing done: no rate, no ETA */
    { "records", 5, 100, 0, false, "5 of 100 records (5.0%), -/s, ETA -, elapsed 0.0s" },
    { "records", 0, 100, 3, false, "0 of 100 records (0.0%), -/s, ETA -, elapsed 3.0s" },
    { "records", 0, 0, 0, false, "0 records, -/s, elapsed 0.0s" },
    /* elapsed time rounds down: 0.99 s is not 1.0s */
    { "records", 1, 0, 0.99, false, "1 records, 1.0/s, elapsed 0.9s" },
    /* bytes, binary units */
    { NULL, 12582912, 104857600, 4, false,
      "12.0 MiB of 100.0 MiB (12.0%), 3.0 MiB/s, ETA 30s, elapsed 4.0s" },
    { NULL, 512, 0, 1, false, "512 B, 512 B/s, elapsed 1.0s" },
    /* the last line has no ETA */
    { "rounds", 100, 100, 12.5, true, "100 of 100 rounds (100.0%), 8.0/s, elapsed 12.5s" },
};

static void test_format(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(fmt_cases) / sizeof(fmt_cases[0]); i++) {
        const fmt_case *c = &fmt_cases[i];
        char out[256];
        size_t n = fw_progress_format(out, sizeof(out), c->noun, c->done, c->total, c->elapsed,
                                      c->final);
        if (strcmp(out, c->want) || n != strlen(c->want))
            fail_msg("case %zu: got \"%s\" (%zu), expected \"%s\" (%zu)", i, out, n, c->want,
                     strlen(c->want));
    }
}

static void test_format_truncates(void **state) {
    (void)state;
    char out[10];
    size_t n = fw_progress_format(out, sizeof(out), "records", 45000, 100000, 3.6, false);
    if (n != 9 || strcmp(out, "45,000 of"))
        fail_msg("got \"%s\" (%zu), expected \"45,000 of\" (9)", out, n);
}

typedef struct dur_case {
    uint64_t s;
    const char *want;
} dur_case;

static void test_dur(void **state) {
    (void)state;
    static const dur_case cases[] = {
        { 0, "0s" },      { 59, "59s" },      { 60, "1m00s" },      { 3599, "59m59s" },
        { 3600, "1h00m" }, { 86399, "23h59m" }, { 86400, "1d00h" }, { 2 * 86400 + 7200, "2d02h" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[32];
        fw_progress_dur(cases[i].s, out, sizeof(out));
        if (strcmp(out, cases[i].want))
            fail_msg("dur(%llu) = \"%s\", expected \"%s\"", (unsigned long long)cases[i].s,
                     out, cases[i].want);
    }
}

/* What the progress object wrote to its file. */
static char *drain(FILE *f) {
    static char buf[2048];
    long n = ftell(f);
    assert_true(n >= 0 && (size_t)n < sizeof(buf));
    rewind(f);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    rewind(f);
    assert_int_equal(ftruncate(fileno(f), 0), 0);
    return buf;
}

static void expect(FILE *f, const char *want) {
    const char *got = drain(f);
    if (strcmp(got, want))
        fail_msg("wrote \"%s\", expected \"%s\"", got, want);
}

static void test_lines(void **state) {
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    fw_progress pr;
    fw_progress_init(&pr, "fw x", "records", 10, FW_PROGRESS_ALWAYS, 100.0);
    pr.out = f;
    pr.tty = false;
    fw_progress_update(&pr, 1, 100.5, NULL); /* not due before one interval */
    expect(f, "");
    fw_progress_update(&pr, 4, 102.0, "3 alerts");
    expect(f, "fw x: 4 of 10 records (40.0%), 2.0/s, ETA 3s, elapsed 2.0s; 3 alerts\n");
    fw_progress_update(&pr, 5, 102.5, NULL); /* the next one interval later */
    expect(f, "");
    fw_progress_end(&pr, 10, 104.0, NULL);
    expect(f, "fw x: 10 of 10 records (100.0%), 2.5/s, elapsed 4.0s\n");
    fw_progress_end(&pr, 10, 105.0, NULL); /* once */
    expect(f, "");

    /* a terminal: one line rewritten, a shorter one blanks the rest */
    fw_progress_init(&pr, "fw x", "records", 0, FW_PROGRESS_ALWAYS, 0.0);
    pr.out = f;
    pr.tty = true;
    fw_progress_update(&pr, 1000, 1.0, NULL);
    fw_progress_update(&pr, 2, 2.0, NULL);
    fw_progress_end(&pr, 3, 3.0, NULL);
    expect(f, "\rfw x: 1,000 records, 1,000/s, elapsed 1.0s"
              "\rfw x: 2 records, 1.0/s, elapsed 2.0s      "
              "\rfw x: 3 records, 1.0/s, elapsed 3.0s\n");

    /* off: nothing, not even the last line */
    fw_progress_init(&pr, "fw x", "records", 10, FW_PROGRESS_NEVER, 0.0);
    pr.out = f;
    fw_progress_update(&pr, 5, 50.0, NULL);
    fw_progress_end(&pr, 10, 60.0, NULL);
    expect(f, "");
    fclose(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_truncates),
        cmocka_unit_test(test_dur),
        cmocka_unit_test(test_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
