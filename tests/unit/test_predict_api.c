/* test_predict_api.c — the /predict request and response bodies of
 * `fraudwatch serve` (predict_api.c) against tiny models trained here, so no
 * fixture file is needed: seed 000's example, members matched by name in any
 * order, missing and null features as NaN, other members ignored whatever
 * their type, request order kept, every 400 message, the batch limit, and the
 * response writers (parsed back). Bodies are exact-size heap copies without a
 * NUL, so AddressSanitizer flags a read past the end. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "json.h"
#include "model.h"
#include "predict_api.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define ROWS 400

/* Equal floats, or both NaN; prints both on failure. */
#define assert_same_float(a, b)                                                            \
    do {                                                                                   \
        float a_ = (a), b_ = (b);                                                          \
        if (!(a_ == b_ || (isnan(a_) && isnan(b_))))                                       \
            fail_msg("%s is %.9g, expected %s = %.9g", #a, (double)a_, #b, (double)b_);    \
    } while (0)

typedef struct models {
    fw_model *m;   /* V1, V2, Amount */
    fw_model *odd; /* V1, "odd name", Amount: for quoted member paths */
} models;

/* Fraud when V1 < -3 and Amount > 1000, as in seed 000's toy data. */
static fw_model *train(const char *const names[3]) {
    static float rows[ROWS * 3], labels[ROWS];
    uint64_t s = 12345;
    for (size_t i = 0; i < ROWS; i++) {
        for (int j = 0; j < 3; j++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            double u = (double)(s >> 11) / 9007199254740992.0;
            rows[i * 3 + j] = (float)(j == 2 ? u * 3000 : u * 10 - 5);
        }
        labels[i] = rows[i * 3] < -3 && rows[i * 3 + 2] > 1000;
    }
    fw_train_params p;
    fw_train_params_defaults(&p);
    p.rounds = 5;
    p.threads = 1;
    char err[512];
    fw_model *m = fw_model_train(rows, labels, ROWS, 3, names, &p, NULL, NULL, err, sizeof(err));
    if (!m)
        fprintf(stderr, "training the test model failed: %s\n", err);
    return m;
}

static int setup(void **state) {
    static const char *const names[3] = { "V1", "V2", "Amount" };
    static const char *const odd_names[3] = { "V1", "odd name", "Amount" };
    models *ms = calloc(1, sizeof(*ms));
    if (!ms || !(ms->m = train(names)) || !(ms->odd = train(odd_names)))
        return -1;
    *state = ms;
    return 0;
}

static int teardown(void **state) {
    models *ms = *state;
    fw_model_free(ms->m);
    fw_model_free(ms->odd);
    free(ms);
    return 0;
}

static fw_err parse_body(const fw_model *m, const char *body, size_t max_batch,
                         fw_predict_batch *b, char *err, size_t err_size) {
    size_t n = strlen(body);
    char *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, body, n);
    err[0] = '\0';
    fw_err rc = fw_predict_parse(m, copy, n, max_batch, b, err, err_size);
    free(copy);
    return rc;
}

static void parse_ok(const fw_model *m, const char *body, fw_predict_batch *b) {
    char err[1024];
    fw_err rc = parse_body(m, body, FW_PREDICT_DEFAULT_MAX_BATCH, b, err, sizeof(err));
    if (rc != FW_OK)
        fail_msg("%s: rejected (%s): %s", body, fw_err2str(rc), err);
    assert_int_equal(b->nfeatures, 3);
}

static void predict_all(fw_model *m, const fw_predict_batch *b, float *out) {
    char err[512];
    fw_err rc = fw_model_predict(m, b->rows, b->n, out, err, sizeof(err));
    if (rc != FW_OK)
        fail_msg("predict: %s", err);
}

static float predict_row(fw_model *m, float v1, float v2, float amount) {
    float row[3] = { v1, v2, amount }, p;
    char err[512];
    assert_int_equal(fw_model_predict(m, row, 1, &p, err, sizeof(err)), FW_OK);
    return p;
}

static void assert_row(const fw_predict_batch *b, size_t i, float v1, float v2, float amount) {
    assert_true(i < b->n);
    assert_same_float(b->rows[i * 3 + 0], v1);
    assert_same_float(b->rows[i * 3 + 1], v2);
    assert_same_float(b->rows[i * 3 + 2], amount);
}

/* ---- accepted bodies ---- */

static void test_seed_example(void **state) {
    models *ms = *state;
    fw_predict_batch b;
    /* V3 is not a feature of this model: ignored. */
    parse_ok(ms->m, "{\"transactions\":[{\"V1\":-4.0,\"V2\":-3.0,\"V3\":-2.0,\"Amount\":1500.0}]}",
             &b);
    assert_int_equal(b.n, 1);
    assert_row(&b, 0, -4, -3, 1500);
    float p;
    predict_all(ms->m, &b, &p);
    assert_true(p >= 0 && p <= 1);
    assert_same_float(p, predict_row(ms->m, -4, -3, 1500));
    assert_true(p > 0.5); /* the toy rule says fraud */

    fw_buf out;
    fw_buf_init(&out, 0);
    assert_true(fw_predict_write_predictions(&out, &p, 1, fw_model_id(ms->m)));
    char want[128];
    snprintf(want, sizeof(want), "{\"predictions\":[%.9g],\"model\":\"%s\"}", (double)p,
             fw_model_id(ms->m));
    assert_string_equal(out.data, want);
    fw_buf_fini(&out);
    fw_predict_batch_free(&b);
}

static void test_order_kept(void **state) {
    models *ms = *state;
    fw_predict_batch b;
    parse_ok(ms->m,
             "{\"transactions\":[{\"V1\":-4.5,\"V2\":0,\"Amount\":2500},"
             "{\"V1\":2,\"V2\":1,\"Amount\":20},{\"V1\":-3.5,\"V2\":-1,\"Amount\":1800},"
             "{\"V1\":4,\"V2\":-2,\"Amount\":5}]}",
             &b);
    assert_int_equal(b.n, 4);
    assert_row(&b, 0, -4.5f, 0, 2500);
    assert_row(&b, 1, 2, 1, 20);
    assert_row(&b, 2, -3.5f, -1, 1800);
    assert_row(&b, 3, 4, -2, 5);
    float p[4];
    predict_all(ms->m, &b, p);
    assert_same_float(p[0], predict_row(ms->m, -4.5f, 0, 2500));
    assert_same_float(p[1], predict_row(ms->m, 2, 1, 20));
    assert_same_float(p[2], predict_row(ms->m, -3.5f, -1, 1800));
    assert_same_float(p[3], predict_row(ms->m, 4, -2, 5));
    assert_true(p[0] > p[1] && p[2] > p[3]);
    fw_predict_batch_free(&b);
}

static void test_missing_is_nan(void **state) {
    models *ms = *state;
    fw_predict_batch b;
    parse_ok(ms->m,
             "{\"transactions\":[{\"V1\":-4},{\"V1\":null,\"V2\":1,\"Amount\":null},{},"
             "{\"V1\":null,\"V2\":null,\"Amount\":null}]}",
             &b);
    assert_int_equal(b.n, 4);
    assert_row(&b, 0, -4, NAN, NAN);
    assert_row(&b, 1, NAN, 1, NAN);
    assert_row(&b, 2, NAN, NAN, NAN);
    assert_row(&b, 3, NAN, NAN, NAN);
    float p[4];
    predict_all(ms->m, &b, p); /* XGBoost takes NaN as missing */
    for (size_t i = 0; i < 4; i++)
        assert_true(p[i] >= 0 && p[i] <= 1);
    assert_same_float(p[0], predict_row(ms->m, -4, NAN, NAN));
    assert_same_float(p[2], p[3]);
    fw_predict_batch_free(&b);
}

static void test_unknown_members_ignored(void **state) {
    models *ms = *state;
    fw_predict_batch b;
    parse_ok(ms->m,
             "{\"request_id\":\"r-1\",\"transactions\":[{\"note\":\"x\",\"V1\":-4,"
             "\"flag\":true,\"tags\":[1,\"a\",null],\"meta\":{\"V1\":\"nested, ignored\"},"
             "\"v1\":\"case differs\",\"V1 \":[],\"\":{},\"Time\":0,\"Class\":null,"
             "\"Amount\":1500,\"V2\":-3,\"caf\\u00e9\":\"\\u00e9\"}],\"extra\":[1,2]}",
             &b);
    assert_int_equal(b.n, 1);
    assert_row(&b, 0, -4, -3, 1500);
    fw_predict_batch_free(&b);
}

/* Keys in another order than the previous transaction's: the per-position
 * column cache must notice. */
static void test_member_order(void **state) {
    models *ms = *state;
    fw_predict_batch b;
    parse_ok(ms->m,
             "{\"transactions\":[{\"V1\":1,\"V2\":2,\"Amount\":3},"
             "{\"Amount\":30,\"V1\":10,\"V2\":20},{\"V2\":200,\"x\":1,\"Amount\":300,\"V1\":100},"
             "{\"V1\":1000,\"V2\":2000,\"Amount\":3000},{\"x\":1,\"V2\":5}]}",
             &b);
    assert_int_equal(b.n, 5);
    assert_row(&b, 0, 1, 2, 3);
    assert_row(&b, 1, 10, 20, 30);
    assert_row(&b, 2, 100, 200, 300);
    assert_row(&b, 3, 1000, 2000, 3000);
    assert_row(&b, 4, NAN, 5, NAN);
    fw_predict_batch_free(&b);
}

static void test_numbers(void **state) {
    models *ms = *state;
    fw_predict_batch b;
    parse_ok(ms->m,
             "\xef\xbb\xbf {\"transactions\" : [ {\"V1\":1e3,\"V2\":-0.0,\"Amount\":"
             "3.4028234e38}, {\"V1\":1e-50,\"V2\":-2.5E+2,\"Amount\":0.1} ] }\n",
             &b);
    assert_int_equal(b.n, 2);
    assert_row(&b, 0, 1000, -0.0f, 3.4028234e38f);
    assert_row(&b, 1, 0, -250, 0.1f);
    fw_predict_batch_free(&b);
}

static void test_empty_array(void **state) {
    models *ms = *state;
    fw_predict_batch b;
    parse_ok(ms->m, "{\"transactions\":[]}", &b);
    assert_int_equal(b.n, 0);
    assert_null(b.rows);
    fw_buf out;
    fw_buf_init(&out, 0);
    assert_true(fw_predict_write_predictions(&out, NULL, 0, fw_model_id(ms->m)));
    char want[128];
    snprintf(want, sizeof(want), "{\"predictions\":[],\"model\":\"%s\"}", fw_model_id(ms->m));
    assert_string_equal(out.data, want);
    fw_buf_fini(&out);
    fw_predict_batch_free(&b);
}

/* ---- rejected bodies ---- */

typedef struct bad_case {
    const char *body;
    fw_err rc;
    const char *msg; /* the whole message */
} bad_case;

static const bad_case bad_cases[] = {
    { "", FW_ERR_INVALID,
      "invalid JSON: expected a value, got end of input (line 1, column 1)" },
    { "{\"transactions\":[", FW_ERR_INVALID,
      "invalid JSON: expected a value, got end of input (line 1, column 18)" },
    { "{\"transactions\":[{\"V1\":1,}]}", FW_ERR_INVALID,
      "invalid JSON: expected a key after ',', got '}' (JSON allows no trailing comma) "
      "(line 1, column 26)" },
    { "{\"transactions\":[{\"V1\":NaN}]}", FW_ERR_INVALID, NULL },
    { "{\"transactions\":[]}\n{}", FW_ERR_INVALID, NULL },
    { "[{\"V1\":1}]", FW_ERR_INVALID,
      "expected a JSON object {\"transactions\":[...]}, got an array" },
    { "\"transactions\"", FW_ERR_INVALID,
      "expected a JSON object {\"transactions\":[...]}, got \"transactions\"" },
    { "null", FW_ERR_INVALID, "expected a JSON object {\"transactions\":[...]}, got null" },
    { "{}", FW_ERR_INVALID, "missing \"transactions\": expected {\"transactions\":[{...},...]}" },
    { "{\"Transactions\":[]}", FW_ERR_INVALID,
      "missing \"transactions\": expected {\"transactions\":[{...},...]}" },
    { "{\"transactions\":{\"V1\":1}}", FW_ERR_INVALID,
      "\"transactions\": expected an array of objects, got an object (line 1, column 17)" },
    { "{\"transactions\":null}", FW_ERR_INVALID,
      "\"transactions\": expected an array of objects, got null (line 1, column 17)" },
    { "{\"transactions\":[{},{},{},5]}", FW_ERR_INVALID,
      "transactions[3]: expected an object, got 5 (line 1, column 27)" },
    { "{\"transactions\":[[1,2]]}", FW_ERR_INVALID,
      "transactions[0]: expected an object, got an array (line 1, column 18)" },
    { "{\"transactions\":[null]}", FW_ERR_INVALID,
      "transactions[0]: expected an object, got null (line 1, column 18)" },
    { "{\"transactions\":[{\"V1\":\"abc\"}]}", FW_ERR_INVALID,
      "transactions[0].V1: expected a number or null, got \"abc\" (line 1, column 24)" },
    { "{\"transactions\":[{\"V1\":1},\n {\"Amount\":true}]}", FW_ERR_INVALID,
      "transactions[1].Amount: expected a number or null, got true (line 2, column 12)" },
    { "{\"transactions\":[{\"V2\":[1]}]}", FW_ERR_INVALID,
      "transactions[0].V2: expected a number or null, got an array (line 1, column 24)" },
    { "{\"transactions\":[{\"V2\":{\"value\":1}}]}", FW_ERR_INVALID,
      "transactions[0].V2: expected a number or null, got an object (line 1, column 24)" },
    { "{\"transactions\":[{\"V2\":\"1.5\"}]}", FW_ERR_INVALID,
      "transactions[0].V2: expected a number or null, got \"1.5\" (line 1, column 24)" },
    { "{\"transactions\":[{\"Amount\":1e39}]}", FW_ERR_INVALID,
      "transactions[0].Amount: 1e39 is out of range for the model's 32-bit floats "
      "(line 1, column 28)" },
    { "{\"transactions\":[{\"V1\":-1e300}]}", FW_ERR_INVALID,
      "transactions[0].V1: -1e300 is out of range for the model's 32-bit floats "
      "(line 1, column 24)" },
    { "{\"transactions\":[{\"V1\":1,\"V1\":2}]}", FW_ERR_INVALID, NULL },
};

static void test_bad_requests(void **state) {
    models *ms = *state;
    for (size_t i = 0; i < N(bad_cases); i++) {
        const bad_case *c = &bad_cases[i];
        fw_predict_batch b;
        char err[1024];
        fw_err rc = parse_body(ms->m, c->body, FW_PREDICT_DEFAULT_MAX_BATCH, &b, err,
                               sizeof(err));
        if (rc != c->rc)
            fail_msg("%s: %s (%s), expected %s", c->body, fw_err2str(rc), err,
                     fw_err2str(c->rc));
        if (c->msg && strcmp(err, c->msg) != 0)
            fail_msg("%s:\n  message  %s\n  expected %s", c->body, err, c->msg);
        if (!c->msg && !strstr(err, "invalid JSON: "))
            fail_msg("%s: message \"%s\" lacks \"invalid JSON: \"", c->body, err);
        assert_null(b.rows);
        assert_int_equal(b.n, 0);
    }
}

static void test_odd_feature_name_path(void **state) {
    models *ms = *state;
    fw_predict_batch b;
    char err[1024];
    fw_err rc = parse_body(ms->odd, "{\"transactions\":[{\"odd name\":false}]}",
                           FW_PREDICT_DEFAULT_MAX_BATCH, &b, err, sizeof(err));
    assert_int_equal(rc, FW_ERR_INVALID);
    assert_string_equal(err, "transactions[0][\"odd name\"]: expected a number or null, got "
                             "false (line 1, column 30)");
    parse_ok(ms->odd, "{\"transactions\":[{\"odd name\":7,\"V1\":1}]}", &b);
    assert_row(&b, 0, 1, 7, NAN);
    fw_predict_batch_free(&b);
}

static void test_batch_limit(void **state) {
    models *ms = *state;
    const char *three = "{\"transactions\":[{},{\"V1\":1},{}]}";
    fw_predict_batch b;
    char err[1024];
    assert_int_equal(parse_body(ms->m, three, 2, &b, err, sizeof(err)), FW_ERR_LIMIT);
    assert_string_equal(err, "too many transactions: 3, at most 2 per request");
    assert_null(b.rows);
    assert_int_equal(parse_body(ms->m, three, 3, &b, err, sizeof(err)), FW_OK);
    assert_int_equal(b.n, 3);
    assert_row(&b, 1, 1, NAN, NAN);
    fw_predict_batch_free(&b);
    /* The limit is checked before anything is allocated or type-checked. */
    assert_int_equal(parse_body(ms->m, "{\"transactions\":[1,2,3]}", 2, &b, err, sizeof(err)),
                     FW_ERR_LIMIT);
}

/* ---- response writers ---- */

static void parse_json(const char *s, fw_arena *a, fw_json **root) {
    char err[512];
    size_t n = strlen(s);
    assert_true(fw_arena_init(a, fw_json_arena_bound(n)));
    if (fw_json_parse(s, n, a, root, err, sizeof(err)) != FW_OK)
        fail_msg("not JSON: %s: %s", s, err);
}

static void test_write_predictions(void **state) {
    (void)state;
    const float p[] = { 0.5f, 1e-9f, 0.123456789f, 1.0f, 0.0f, 0.99999994f, 0.333333343f };
    fw_buf out;
    fw_buf_init(&out, 0);
    assert_true(fw_predict_write_predictions(&out, p, N(p), "m.json@00ff"));
    assert_string_equal(out.data, "{\"predictions\":[0.5,9.99999972e-10,0.123456791,1,0,"
                                  "0.99999994,0.333333343],\"model\":\"m.json@00ff\"}");
    fw_arena a;
    fw_json *root;
    parse_json(out.data, &a, &root);
    const fw_json *preds = fw_json_get(root, "predictions");
    assert_non_null(preds);
    assert_int_equal(preds->count, N(p));
    size_t i = 0;
    FW_JSON_FOREACH(v, preds) {
        assert_int_equal(v->type, FW_JSON_NUMBER);
        assert_same_float((float)v->number, p[i]); /* %.9g reads back the same float */
        i++;
    }
    fw_arena_fini(&a);

    fw_buf_reset(&out);
    const float odd[] = { NAN, INFINITY };
    assert_true(fw_predict_write_predictions(&out, odd, 2, "q\"m"));
    assert_string_equal(out.data, "{\"predictions\":[null,null],\"model\":\"q\\\"m\"}");
    fw_buf_fini(&out);
}

static void test_write_error_and_health(void **state) {
    (void)state;
    const char *msg = "transactions[0].V1: expected a number or null, got \"a\\b\"\n\t\x01";
    fw_buf out;
    fw_buf_init(&out, 0);
    assert_true(fw_predict_write_error(&out, msg));
    fw_arena a;
    fw_json *root;
    parse_json(out.data, &a, &root);
    assert_int_equal(root->count, 1);
    const fw_json *e = fw_json_get(root, "error");
    assert_non_null(e);
    assert_int_equal(e->type, FW_JSON_STRING);
    assert_int_equal(e->str.len, strlen(msg));
    assert_memory_equal(e->str.ptr, msg, strlen(msg));
    fw_arena_fini(&a);

    fw_buf_reset(&out);
    assert_true(fw_predict_write_health(&out, "model.json@0123456789abcdef", 29, NULL));
    assert_string_equal(out.data,
                        "{\"status\":\"ok\",\"model\":\"model.json@0123456789abcdef\","
                        "\"features\":29}");
    fw_buf_reset(&out);
    const uint64_t refused[FW_REFUSED__COUNT] = {
        [FW_REFUSED_CONNECTIONS] = 1, [FW_REFUSED_INFLIGHT_BYTES] = 2,
        [FW_REFUSED_DEADLINE] = 3, [FW_REFUSED_UNAUTHORIZED] = 4,
        [FW_REFUSED_CONTENT_TYPE] = 5, [FW_REFUSED_BODY_TOO_LARGE] = 18446744073709551615u,
    };
    assert_true(fw_predict_write_health(&out, "m@1", 3, refused));
    assert_string_equal(out.data,
                        "{\"status\":\"ok\",\"model\":\"m@1\",\"features\":3,\"refused\":"
                        "{\"connections\":1,\"inflight_bytes\":2,\"deadline\":3,"
                        "\"unauthorized\":4,\"content_type\":5,"
                        "\"body_too_large\":18446744073709551615}}");
    fw_buf_fini(&out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_example),
        cmocka_unit_test(test_order_kept),
        cmocka_unit_test(test_missing_is_nan),
        cmocka_unit_test(test_unknown_members_ignored),
        cmocka_unit_test(test_member_order),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_empty_array),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_odd_feature_name_path),
        cmocka_unit_test(test_batch_limit),
        cmocka_unit_test(test_write_predictions),
        cmocka_unit_test(test_write_error_and_health),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
