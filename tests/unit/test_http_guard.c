/* test_http_guard.c — what `fraudwatch serve` checks before reading a body
 * (http_guard.c), table-driven: bearer tokens (scheme case, spaces, prefixes
 * and extensions of the token, absent headers), token validation, the
 * Content-Type rule (parameters allowed, look-alikes refused), and the
 * in-flight byte budget at and around its edge, also from several threads. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "http_guard.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_bearer(void **state) {
    (void)state;
    static const struct {
        const char *header, *token;
        bool ok;
    } cases[] = {
        { "Bearer s3cret", "s3cret", true },
        { "bearer s3cret", "s3cret", true },
        { "BEARER   s3cret", "s3cret", true },
        { NULL, "s3cret", false },
        { "", "s3cret", false },
        { "Bearer ", "s3cret", false },
        { "Bearer s3cre", "s3cret", false },   /* a prefix */
        { "Bearer s3crett", "s3cret", false }, /* an extension */
        { "Bearer S3CRET", "s3cret", false },  /* the token is case-sensitive */
        { "Bearer s3cret ", "s3cret", false },
        { "Basic s3cret", "s3cret", false },
        { "Bearers3cret", "s3cret", false },
        { "s3cret", "s3cret", false },
        { "Bearer x", NULL, false },
    };
    for (size_t i = 0; i < N(cases); i++) {
        bool got = fw_http_bearer_ok(cases[i].header, cases[i].token);
        if (got != cases[i].ok)
            fail_msg("case %zu: header \"%s\", token \"%s\": got %d, expected %d", i,
                     cases[i].header ? cases[i].header : "(none)",
                     cases[i].token ? cases[i].token : "(none)", got, cases[i].ok);
    }
}

static void test_token_valid(void **state) {
    (void)state;
    char long_token[FW_HTTP_TOKEN_MAX + 2];
    memset(long_token, 'a', sizeof(long_token) - 1);
    long_token[sizeof(long_token) - 1] = '\0';
    static const struct {
        const char *token, *err; /* err NULL: valid */
    } cases[] = {
        { "s3cret", NULL },
        { "abc-._~+/=", NULL },
        { "", "empty" },
        { "two words", "position 4" },
        { "tab\there", "position 4" },
        { "caf\xc3\xa9", "position 4" },
    };
    char err[160];
    for (size_t i = 0; i < N(cases); i++) {
        err[0] = '\0';
        bool ok = fw_http_token_valid(cases[i].token, err, sizeof(err));
        if (ok != !cases[i].err)
            fail_msg("case %zu: valid %d, expected %d (%s)", i, ok, !cases[i].err, err);
        if (cases[i].err && !strstr(err, cases[i].err))
            fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, err, cases[i].err);
        if (!ok && strlen(cases[i].token) > 3 && strstr(err, cases[i].token))
            fail_msg("case %zu: message \"%s\" shows the token", i, err);
    }
    assert_false(fw_http_token_valid(long_token, err, sizeof(err)));
    assert_non_null(strstr(err, "at most 4096"));
    long_token[FW_HTTP_TOKEN_MAX] = '\0';
    assert_true(fw_http_token_valid(long_token, err, sizeof(err)));
}

static void test_content_type(void **state) {
    (void)state;
    static const struct {
        const char *ct;
        bool ok;
    } cases[] = {
        { "application/json", true },
        { "application/json; charset=utf-8", true },
        { "Application/JSON;charset=UTF-8", true },
        { " application/json ", true },
        { NULL, false }, /* curl -d without -H sends x-www-form-urlencoded; none is refused too */
        { "", false },
        { "application/x-www-form-urlencoded", false },
        { "text/plain", false },
        { "application/jsonp", false },
        { "application/json-seq", false },
        { "application/", false },
        { "multipart/form-data; boundary=x", false },
    };
    for (size_t i = 0; i < N(cases); i++) {
        bool got = fw_http_content_type_json(cases[i].ct);
        if (got != cases[i].ok)
            fail_msg("case %zu: \"%s\": got %d, expected %d", i,
                     cases[i].ct ? cases[i].ct : "(none)", got, cases[i].ok);
    }
}

static void test_budget(void **state) {
    (void)state;
    fw_http_budget b;
    fw_http_budget_init(&b, 100);
    assert_true(fw_http_budget_take(&b, 60));
    assert_false(fw_http_budget_take(&b, 41)); /* 101 > 100: nothing taken */
    assert_int_equal(fw_http_budget_used(&b), 60);
    assert_true(fw_http_budget_take(&b, 40)); /* exactly full */
    assert_int_equal(fw_http_budget_used(&b), 100);
    assert_false(fw_http_budget_take(&b, 1));
    fw_http_budget_give(&b, 60);
    assert_int_equal(fw_http_budget_used(&b), 40);
    assert_false(fw_http_budget_take(&b, SIZE_MAX)); /* no overflow */
    assert_false(fw_http_budget_take(&b, 101));
    fw_http_budget_give(&b, 40);
    assert_int_equal(fw_http_budget_used(&b), 0);
    assert_true(fw_http_budget_take(&b, 0));
}

/* Threads take and give 1 byte at a time: never over the budget, all back. */
#define THREADS 4
#define ROUNDS 20000
typedef struct budget_run {
    fw_http_budget *b;
    unsigned over; /* times used() was seen above max */
} budget_run;

static void *hammer(void *arg) {
    budget_run *r = arg;
    for (int i = 0; i < ROUNDS; i++) {
        if (fw_http_budget_take(r->b, 3)) {
            if (fw_http_budget_used(r->b) > r->b->max)
                r->over++;
            fw_http_budget_give(r->b, 3);
        }
    }
    return NULL;
}

static void test_budget_threads(void **state) {
    (void)state;
    fw_http_budget b;
    fw_http_budget_init(&b, 7); /* two takes of 3 fit, a third does not */
    pthread_t t[THREADS];
    budget_run runs[THREADS];
    for (int i = 0; i < THREADS; i++) {
        runs[i] = (budget_run){ .b = &b };
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &runs[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(runs[i].over, 0);
    }
    assert_int_equal(fw_http_budget_used(&b), 0);
}

static void test_refusal_names(void **state) {
    (void)state;
    assert_string_equal(fw_refusal_name(FW_REFUSED_CONNECTIONS), "connections");
    assert_string_equal(fw_refusal_name(FW_REFUSED_INFLIGHT_BYTES), "inflight_bytes");
    assert_string_equal(fw_refusal_name(FW_REFUSED_DEADLINE), "deadline");
    assert_string_equal(fw_refusal_name(FW_REFUSED_UNAUTHORIZED), "unauthorized");
    assert_string_equal(fw_refusal_name(FW_REFUSED_CONTENT_TYPE), "content_type");
    assert_string_equal(fw_refusal_name(FW_REFUSED_BODY_TOO_LARGE), "body_too_large");
    assert_string_equal(fw_refusal_name(FW_REFUSED__COUNT), "unknown");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bearer),
        cmocka_unit_test(test_token_valid),
        cmocka_unit_test(test_content_type),
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_budget_threads),
        cmocka_unit_test(test_refusal_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
