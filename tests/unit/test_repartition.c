/* test_repartition.c — a stage task's event time from its upstream
 * partitions' watermark records (repartition.c), and the topic names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "repartition.h"

static bool take(fw_upstream_wm *u, const char *src, const char *wm) {
    return fw_upstream_wm_take(u, src, strlen(src), wm, strlen(wm));
}

static void expect_min(const fw_upstream_wm *u, int64_t want) {
    int64_t got = fw_upstream_wm_min(u);
    if (got != want)
        fail_msg("minimum: expected %lld, got %lld", (long long)want, (long long)got);
}

/* Nothing moves until every upstream partition has been heard from. */
static void test_waits_for_every_partition(void **state) {
    (void)state;
    fw_upstream_wm u;
    assert_true(fw_upstream_wm_init(&u, 3));
    expect_min(&u, INT64_MIN);
    assert_true(take(&u, "0", "1000"));
    assert_true(take(&u, "2", "3000"));
    expect_min(&u, INT64_MIN);
    assert_true(take(&u, "1", "2000"));
    expect_min(&u, 1000);
    assert_true(take(&u, "0", "5000"));
    expect_min(&u, 2000);
    fw_upstream_wm_fini(&u);
}

/* A watermark never goes back: a stale record (an older owner's) is ignored. */
static void test_never_back(void **state) {
    (void)state;
    fw_upstream_wm u;
    assert_true(fw_upstream_wm_init(&u, 2));
    assert_true(take(&u, "0", "5000"));
    assert_true(take(&u, "1", "6000"));
    assert_true(take(&u, "0", "4000"));
    expect_min(&u, 5000);
    fw_upstream_wm_fini(&u);
}

/* An idle partition holds nobody back while another is not idle; when all
 * are, the stage follows the highest watermark they give (nothing waits
 * upstream); an idle one that gets records again counts with its real one. */
static void test_idle(void **state) {
    (void)state;
    fw_upstream_wm u;
    assert_true(fw_upstream_wm_init(&u, 3));
    assert_true(take(&u, "0", "idle"));
    assert_true(take(&u, "1", "idle"));
    assert_true(take(&u, "2", "idle"));
    expect_min(&u, INT64_MIN); /* idle, and none has an event time */
    assert_true(take(&u, "2", "7000"));
    expect_min(&u, 7000);
    assert_true(take(&u, "0", "6500"));
    expect_min(&u, 6500);
    assert_true(take(&u, "0", "idle:6600"));
    expect_min(&u, 7000);
    assert_true(take(&u, "2", "idle:9000"));
    expect_min(&u, 9000); /* all idle: nothing waits upstream, the highest they gave */
    assert_true(take(&u, "1", "8000"));
    expect_min(&u, 8000); /* one has records again */
    char v[32];
    fw_upstream_wm_format(v, sizeof(v), 1234, true);
    assert_string_equal(v, "idle:1234");
    fw_upstream_wm_format(v, sizeof(v), 1234, false);
    assert_string_equal(v, "1234");
    fw_upstream_wm_format(v, sizeof(v), INT64_MIN, true);
    assert_string_equal(v, "idle");
    fw_upstream_wm_fini(&u);
}

/* Records it cannot read are refused and change nothing. */
static void test_bad_records(void **state) {
    (void)state;
    fw_upstream_wm u;
    assert_true(fw_upstream_wm_init(&u, 2));
    assert_true(take(&u, "0", "100"));
    assert_true(take(&u, "1", "200"));
    const char *bad[][2] = { { "2", "300" }, { "-1", "300" }, { "x", "300" }, { "", "300" },
                             { "0", "" }, { "0", "12a" }, { "0", "idle!" }, { "0", "idle:" },
                             { "0", "idle:x" }, { "0", "idlex5" },
                             { "0", "1234567890123456789" }, { "00000000000000000001", "5" } };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (take(&u, bad[i][0], bad[i][1]))
            fail_msg("source \"%s\" watermark \"%s\" was taken", bad[i][0], bad[i][1]);
    assert_false(fw_upstream_wm_take(&u, NULL, 0, "5", 1));
    expect_min(&u, 100);
    fw_upstream_wm_fini(&u);
}

static void test_names(void **state) {
    (void)state;
    char out[128];
    fw_repartition_topic(out, sizeof(out), "fraud", "merchant_id");
    assert_string_equal(out, "fraud-repartition-merchant_id");
    fw_repartition_topic(out, sizeof(out), "g", "lower(device id)");
    assert_string_equal(out, "g-repartition-lower_device_id_");
    fw_repartition_changelog(out, sizeof(out), "g-state-changelog", "receiver");
    assert_string_equal(out, "g-state-changelog-receiver");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_waits_for_every_partition),
        cmocka_unit_test(test_never_back),
        cmocka_unit_test(test_idle),
        cmocka_unit_test(test_bad_records),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
