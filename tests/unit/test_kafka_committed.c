/* test_kafka_committed.c — fw_kafka_committed (kafka_conf.c) asks a busy or
 * moving group coordinator again instead of failing, as the rewind after an
 * aborted transaction needs: librdkafka's mock cluster (used here only to
 * inject broker errors) answers OffsetFetch with coordinator errors first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "kafka_conf.h"

#define OFFSET_FETCH 9 /* the Kafka API key of OffsetFetch */

typedef struct retries {
    int n;
    rd_kafka_resp_err_t last;
} retries;

static void on_retry(void *opaque, rd_kafka_resp_err_t err, int attempt) {
    retries *r = opaque;
    r->n++;
    r->last = err;
    assert_int_equal(attempt, r->n);
}

static rd_kafka_t *consumer(rd_kafka_mock_cluster_t **mock) {
    char err[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(c, "test.mock.num.brokers", "1", err, sizeof(err)),
                     RD_KAFKA_CONF_OK);
    assert_int_equal(rd_kafka_conf_set(c, "group.id", "g", err, sizeof(err)), RD_KAFKA_CONF_OK);
    assert_int_equal(rd_kafka_conf_set(c, "log_level", "0", err, sizeof(err)), RD_KAFKA_CONF_OK);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
    assert_non_null(rk);
    *mock = rd_kafka_handle_mock_cluster(rk);
    assert_non_null(*mock);
    assert_int_equal(rd_kafka_mock_topic_create(*mock, "t", 1, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    return rk;
}

static void test_retries_a_busy_coordinator(void **state) {
    (void)state;
    static const struct {
        const char *name;
        rd_kafka_resp_err_t err;
        int times;
        rd_kafka_resp_err_t want;
        int want_retries;
    } cases[] = {
        { "coordinator not available x3", RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, 3,
          RD_KAFKA_RESP_ERR_NO_ERROR, 3 },
        { "not coordinator x2", RD_KAFKA_RESP_ERR_NOT_COORDINATOR, 2,
          RD_KAFKA_RESP_ERR_NO_ERROR, 2 },
        { "no error", RD_KAFKA_RESP_ERR_NO_ERROR, 0, RD_KAFKA_RESP_ERR_NO_ERROR, 0 },
        { "not authorized: not retried", RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED, 1,
          RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED, 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rd_kafka_mock_cluster_t *mock;
        rd_kafka_t *rk = consumer(&mock);
        rd_kafka_resp_err_t errs[8];
        for (int j = 0; j < cases[i].times; j++)
            errs[j] = cases[i].err;
        if (cases[i].times)
            rd_kafka_mock_push_request_errors_array(mock, OFFSET_FETCH, (size_t)cases[i].times,
                                                    errs);
        rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(parts, "t", 0);
        retries r = { 0 };
        rd_kafka_resp_err_t got = fw_kafka_committed(rk, parts, 60000, on_retry, &r);
        printf("  %s: %s after %d retries\n", cases[i].name, rd_kafka_err2str(got), r.n);
        if (got != cases[i].want || r.n != cases[i].want_retries)
            fail_msg("%s: got %s after %d retries, want %s after %d", cases[i].name,
                     rd_kafka_err2str(got), r.n, rd_kafka_err2str(cases[i].want),
                     cases[i].want_retries);
        if (got == RD_KAFKA_RESP_ERR_NO_ERROR)
            assert_true(parts->elems[0].offset < 0); /* nothing committed yet */
        rd_kafka_topic_partition_list_destroy(parts);
        rd_kafka_destroy(rk);
    }
}

/* A coordinator that stays away: the budget bounds the wait. */
static void test_gives_up_within_its_budget(void **state) {
    (void)state;
    rd_kafka_mock_cluster_t *mock;
    rd_kafka_t *rk = consumer(&mock);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, "t", 0);
    /* Connected first, without errors: on a busy machine finding the
     * coordinator alone could eat the 500 ms below, and the test is about
     * the retries, not the connection. */
    retries r = { 0 };
    rd_kafka_resp_err_t warm = fw_kafka_committed(rk, parts, 60000, on_retry, &r);
    if (warm != RD_KAFKA_RESP_ERR_NO_ERROR || r.n)
        fail_msg("warm-up: got %s after %d retries, want no error after 0",
                 rd_kafka_err2str(warm), r.n);
    rd_kafka_resp_err_t errs[64];
    for (int j = 0; j < 64; j++)
        errs[j] = RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE;
    rd_kafka_mock_push_request_errors_array(mock, OFFSET_FETCH, 64, errs);
    rd_kafka_resp_err_t got = fw_kafka_committed(rk, parts, 500, on_retry, &r);
    printf("  a budget of 500 ms: %s after %d retries\n", rd_kafka_err2str(got), r.n);
    /* The last attempt gets what is left of the budget: on a busy machine it
     * may end in librdkafka's own timeout rather than the broker's answer. */
    bool gave_up = got == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE ||
                   got == RD_KAFKA_RESP_ERR__TIMED_OUT;
    if (!gave_up || r.n < 1 || r.n > 5)
        fail_msg("got %s after %d retries, want coordinator not available (or timed out) "
                 "after 1 to 5", rd_kafka_err2str(got), r.n);
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_destroy(rk);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retries_a_busy_coordinator),
        cmocka_unit_test(test_gives_up_within_its_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
