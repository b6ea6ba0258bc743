/* test_pipeline.c — pipeline.c's accessor for the Kafka runner's key check:
 * fw_pipeline_last_account gives the account_id of the record just processed,
 * and nothing for a record that did not decode or has no account_id. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include <string.h>

#include "pipeline.h"

static void on_alert(void *opaque, const fw_alert *a, fw_str key, fw_str json) {
    (void)opaque, (void)a, (void)key, (void)json;
}

static void on_dead_letter(void *opaque, const fw_dead_letter *dl) {
    (void)dl;
    (*(int *)opaque)++;
}

typedef struct account_case {
    const char *record;
    const char *want;      /* NULL: no account */
    int want_dead_letters; /* after this record, in total */
} account_case;

static const account_case cases[] = {
    { "{\"transaction_id\":\"t1\",\"timestamp\":\"2024-01-01T00:00:00Z\",\"account_id\":"
      "\"acc-1\",\"amount\":10}", "acc-1", 0 },
    { "{\"transaction_id\":\"t2\",\"timestamp\":\"2024-01-01T00:00:01Z\",\"amount\":10}", NULL,
      0 },
    { "{\"transaction_id\":\"t3\",\"timestamp\":\"2024-01-01T00:00:02Z\",\"account_id\":"
      "\"acc\\u002d2\",\"amount\":10}", "acc-2", 0 }, /* unescaped, in the scratch arena */
    { "not json", NULL, 1 },
    { "{\"transaction_id\":\"t4\",\"timestamp\":\"2024-01-01T00:00:03Z\",\"account_id\":"
      "\"acc-3\",\"amount\":-1}", NULL, 2 }, /* decodes nothing: a dead letter */
};

static void test_last_account(void **state) {
    (void)state;
    fw_pipeline_conf pc = { .format = FW_INPUT_JSON };
    fw_rules_defaults(&pc.rules);
    char err[256];
    fw_pipeline *p = fw_pipeline_new(&pc, err, sizeof(err));
    assert_non_null(p);
    int dead = 0;
    fw_pipeline_out out = { .opaque = &dead, .alert = on_alert, .dead_letter = on_dead_letter };
    fw_source_ref src = { .topic = "in", .partition = 0 };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const account_case *c = &cases[i];
        src.offset = (int64_t)i;
        fw_pipeline_process(p, c->record, strlen(c->record), &src, &out);
        fw_str got = fw_pipeline_last_account(p);
        print_message("case %zu: got \"%.*s\", want \"%s\"\n", i, (int)got.len,
                      got.ptr ? got.ptr : "", c->want ? c->want : "(none)");
        assert_int_equal(dead, c->want_dead_letters);
        if (!c->want) {
            assert_int_equal(got.len, 0);
        } else {
            assert_int_equal(got.len, strlen(c->want));
            assert_memory_equal(got.ptr, c->want, got.len);
        }
    }
    fw_pipeline_destroy(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_last_account),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
