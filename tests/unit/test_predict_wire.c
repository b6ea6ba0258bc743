/* test_predict_wire.c — the /predict codec both ends share (predict_wire.c):
 * shortest floats (table), the client's request body, the client's reading of
 * every kind of bad response (table), and the two round trips that make it
 * one format: a request the client wrote parsed by the server's parser into
 * the same floats, a response the server wrote read back by the client.
 * Bodies are exact-size heap copies without a NUL, so AddressSanitizer flags
 * a read past the end. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "predict_wire.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char *copy(const char *s, size_t len) {
    char *p = malloc(len ? len : 1);
    assert_non_null(p);
    memcpy(p, s, len);
    return p;
}

static void test_format_float(void **state) {
    (void)state;
    static const struct {
        float v;
        const char *want;
    } cases[] = {
        { 0.0f, "0" },          { -0.0f, "-0" },       { 1.0f, "1" },
        { -4.0f, "-4" },        { 1500.0f, "1500" },   { 3.2f, "3.2" },
        { 0.1f, "0.1" },        { -0.001f, "-0.001" }, { 16777216.0f, "16777216" },
        { 1e-7f, "0.0000001" }, { 1e-8f, "1e-8" },     { 1.5e21f, "1.5e21" },
        { 1e20f, "100000000000000000000" },            { 3.4028235e38f, "3.4028235e38" },
        { 1.4e-45f, "1e-45" },  { 0.333333343f, "0.33333334" },
    };
    for (size_t i = 0; i < N(cases); i++) {
        char out[32];
        size_t n = fw_predict_format_float(cases[i].v, out);
        if (strcmp(out, cases[i].want) != 0 || n != strlen(cases[i].want))
            fail_msg("case %zu: %.9g formatted as \"%s\" (%zu bytes), expected \"%s\"", i,
                     (double)cases[i].v, out, n, cases[i].want);
        if (strtof(out, NULL) != cases[i].v)
            fail_msg("case %zu: \"%s\" reads back as %.9g, not %.9g", i, out,
                     (double)strtof(out, NULL), (double)cases[i].v);
    }
}

static void test_write_request(void **state) {
    (void)state;
    float rows[2 * FW_F__COUNT];
    for (size_t i = 0; i < N(rows); i++)
        rows[i] = NAN;
    rows[FW_F_V1] = -4.0f;
    rows[FW_F_AMOUNT] = 1500.0f;
    rows[FW_F__COUNT + FW_F_AMOUNT_VS_AVG] = 3.2f;
    rows[FW_F__COUNT + FW_F_HOUR] = INFINITY; /* not finite: omitted like NaN */
    fw_buf out;
    fw_buf_init(&out, 1 << 20);
    assert_true(fw_predict_write_request(&out, rows, 2));
    char want[256];
    snprintf(want, sizeof(want), "{\"transactions\":[{\"%s\":-4,\"%s\":1500},{\"%s\":3.2}]}",
             fw_feature_name(FW_F_V1), fw_feature_name(FW_F_AMOUNT),
             fw_feature_name(FW_F_AMOUNT_VS_AVG));
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.data, want, out.len);
    fw_buf_fini(&out);

    /* A buffer too small: reported, not truncated silently. */
    fw_buf_init(&out, 16);
    assert_false(fw_predict_write_request(&out, rows, 2));
    fw_buf_fini(&out);
}

static void test_read_predictions(void **state) {
    (void)state;
    static const struct {
        const char *body;
        size_t n;
        const char *err; /* NULL: accepted */
    } cases[] = {
        { "{\"predictions\":[0.25,1,0],\"model\":\"m\"}", 3, NULL },
        { "{\"model\":\"m\",\"predictions\":[0.5]}", 1, NULL },
        { "{\"predictions\":[]}", 0, NULL },
        { "{\"predictions\":[0.25,1]}", 3, "response: expected 3 predictions, got 2" },
        { "{\"predictions\":[0.25,1.5]}", 2,
          "response: prediction 101 is 1.5, not a probability in [0,1]" },
        { "{\"predictions\":[-0.1]}", 1,
          "response: prediction 100 is -0.1, not a probability in [0,1]" },
        { "{\"predictions\":[\"0.5\"]}", 1, "response: prediction 100 is " },
        { "{\"predictions\":{}}", 1, "response: \"predictions\" is " },
        { "{\"scores\":[0.5]}", 1, "response: no \"predictions\" member" },
        { "[0.5]", 1, "response: expected an object {\"predictions\":[...]}, got " },
        { "{\"predictions\":[0.5", 1, "response: invalid JSON: " },
        { "", 1, "response: invalid JSON: " },
    };
    fw_arena a = { 0 };
    for (size_t i = 0; i < N(cases); i++) {
        float out[4] = { -1, -1, -1, -1 };
        char err[256] = "";
        size_t len = strlen(cases[i].body);
        char *body = copy(cases[i].body, len);
        bool ok = fw_predict_read_predictions(body, len, &a, out, cases[i].n, 100, err,
                                              sizeof(err));
        free(body);
        if (!cases[i].err && !ok)
            fail_msg("case %zu (%s): refused: %s", i, cases[i].body, err);
        if (cases[i].err && ok)
            fail_msg("case %zu (%s): accepted, expected \"%s\"", i, cases[i].body,
                     cases[i].err);
        if (cases[i].err && strncmp(err, cases[i].err, strlen(cases[i].err)) != 0)
            fail_msg("case %zu (%s): error \"%s\", expected it to start \"%s\"", i,
                     cases[i].body, err, cases[i].err);
    }
    fw_arena_fini(&a);
}

/* The server's response, read by the client: the same floats. */
static void test_response_round_trip(void **state) {
    (void)state;
    const float p[] = { 0.0f, 1.0f, 0.1f, 0.97123456f, 1e-7f, 0.5f };
    fw_buf out;
    fw_buf_init(&out, 1 << 20);
    assert_true(fw_predict_write_predictions(&out, p, N(p), "model-1"));
    char *body = copy(out.data, out.len);
    fw_arena a = { 0 };
    float got[N(p)];
    char err[256] = "";
    bool ok = fw_predict_read_predictions(body, out.len, &a, got, N(p), 0, err, sizeof(err));
    if (!ok)
        fail_msg("%.*s: %s", (int)out.len, out.data, err);
    for (size_t i = 0; i < N(p); i++)
        if (got[i] != p[i])
            fail_msg("prediction %zu: read %.9g, written %.9g", i, (double)got[i],
                     (double)p[i]);
    free(body);
    fw_arena_fini(&a);
    fw_buf_fini(&out);
}

/* The client's request, parsed by the server for a model with three of the
 * features: the same floats in the model's columns, the others ignored. */
static void test_request_round_trip(void **state) {
    (void)state;
    enum { ROWS = 200 };
    static float train_rows[ROWS * 3], labels[ROWS];
    const char *names[3] = { fw_feature_name(FW_F_AMOUNT), fw_feature_name(FW_F_V1),
                             fw_feature_name(FW_F_AMOUNT_VS_AVG) };
    for (size_t i = 0; i < ROWS; i++) {
        train_rows[i * 3] = (float)(i * 13 % 3000);
        train_rows[i * 3 + 1] = (float)(i % 10) - 5;
        train_rows[i * 3 + 2] = (float)(i % 7);
        labels[i] = train_rows[i * 3] > 1000 && train_rows[i * 3 + 1] < -3;
    }
    fw_train_params tp;
    fw_train_params_defaults(&tp);
    tp.rounds = 2;
    tp.threads = 1;
    char err[512];
    fw_model *m = fw_model_train(train_rows, labels, ROWS, 3, names, &tp, NULL, NULL, err,
                                 sizeof(err));
    if (!m)
        fail_msg("training the test model failed: %s", err);

    float rows[3 * FW_F__COUNT];
    for (size_t i = 0; i < N(rows); i++)
        rows[i] = (float)i * 0.37f - 11.0f; /* every feature set, most not the model's */
    rows[FW_F_AMOUNT] = 1500.25f;
    rows[FW_F__COUNT + FW_F_V1] = NAN;                 /* missing stays missing */
    rows[2 * FW_F__COUNT + FW_F_AMOUNT_VS_AVG] = 3.2f;
    fw_buf out;
    fw_buf_init(&out, 1 << 20);
    assert_true(fw_predict_write_request(&out, rows, 3));
    char *body = copy(out.data, out.len);
    fw_predict_batch b;
    fw_err rc = fw_predict_parse(m, body, out.len, FW_PREDICT_DEFAULT_MAX_BATCH, &b, err,
                                 sizeof(err));
    if (rc != FW_OK)
        fail_msg("parse: %s", err);
    assert_int_equal(b.n, 3);
    assert_int_equal(b.nfeatures, 3);
    static const fw_feature feat[3] = { FW_F_AMOUNT, FW_F_V1, FW_F_AMOUNT_VS_AVG };
    for (size_t i = 0; i < 3; i++)
        for (int c = 0; c < 3; c++) {
            int col = fw_model_column(m, names[c], strlen(names[c]));
            assert_true(col >= 0);
            float want = rows[i * FW_F__COUNT + feat[c]], got = b.rows[i * 3 + (size_t)col];
            if (!(got == want || (isnan(got) && isnan(want))))
                fail_msg("row %zu %s: parsed %.9g, written %.9g", i, names[c], (double)got,
                         (double)want);
        }
    fw_predict_batch_free(&b);
    free(body);
    fw_buf_fini(&out);
    fw_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_float),
        cmocka_unit_test(test_write_request),
        cmocka_unit_test(test_read_predictions),
        cmocka_unit_test(test_response_round_trip),
        cmocka_unit_test(test_request_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
