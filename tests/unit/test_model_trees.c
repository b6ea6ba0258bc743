/* test_model_trees.c — the native tree walker gives XGBoost's very floats,
 * scores and contributions, declines what it does not cover (XGBoost then
 * scores or explains), and refuses malformed trees with a reason. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <xgboost/c_api.h>

#include "model.h"
#include "model_trees.h"

#define NF 6

static uint64_t rng = 0x2545f4914f6cdd1dULL;
static uint64_t next(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}
static float uniform(void) { return (float)(next() >> 40) / (float)(1 << 24); }

/* Rows with missing values and values on the model's thresholds. */
static void fill_rows(float *rows, size_t n, const float *cuts, size_t ncuts) {
    for (size_t i = 0; i < n * NF; i++) {
        uint64_t r = next() % 10;
        rows[i] = r == 0 ? NAN : r == 1 && ncuts ? cuts[next() % ncuts] : uniform() * 10.0f - 2.0f;
    }
}

/* The file at @p path, NUL-terminated, in a static buffer. */
static char *read_text(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char text[4 << 20];
    *len = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[*len] = '\0';
    return text;
}

/* A model of depth 6 on NF features with missing values, saved as XGBoost
 * JSON at @p path; with @p edit a text replacement in the file after. */
static void train_model(const char *path, const char *from, const char *to) {
    enum { N = 4000 };
    static float rows[N * NF], labels[N];
    fill_rows(rows, N, NULL, 0);
    for (int i = 0; i < N; i++) {
        const float *r = &rows[i * NF];
        labels[i] = (r[0] > 5 && !(r[1] < 2)) || (isnan(r[2]) && r[3] > 1) || r[4] * r[5] > 30
                        ? 1.0f : 0.0f;
    }
    const char *names[NF] = { "a", "b", "c", "d", "e", "f" };
    fw_train_params p;
    fw_train_params_defaults(&p);
    p.rounds = 40;
    p.max_depth = 6;
    p.threads = 1;
    char err[256];
    fw_model *m = fw_model_train(rows, labels, N, NF, names, &p, NULL, NULL, err, sizeof(err));
    if (!m)
        fail_msg("train: %s", err);
    assert_int_equal(fw_model_save(m, path, err, sizeof(err)), FW_OK);
    fw_model_free(m);
    if (!from)
        return;
    size_t len;
    char *text = read_text(path, &len);
    char *at = strstr(text, from);
    if (!at)
        fail_msg("%s not in the model", from);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(text, 1, (size_t)(at - text), f);
    fputs(to, f);
    fputs(at + strlen(from), f);
    fclose(f);
}

/* XGBoost's own probabilities for @p rows, from the same file. */
static void xgboost_predict(const char *path, const float *rows, size_t n, float *out) {
    BoosterHandle b;
    assert_int_equal(XGBoosterCreate(NULL, 0, &b), 0);
    assert_int_equal(XGBoosterLoadModel(b, path), 0);
    assert_int_equal(XGBoosterSetParam(b, "nthread", "1"), 0);
    char arr[160];
    snprintf(arr, sizeof(arr),
             "{\"data\":[%zu,true],\"shape\":[%zu,%d],\"typestr\":\"<f4\",\"version\":3}",
             (size_t)(uintptr_t)rows, n, NF);
    const char *cfg = "{\"type\":0,\"training\":false,\"iteration_begin\":0,"
                      "\"iteration_end\":0,\"strict_shape\":false,\"cache_id\":0,"
                      "\"missing\":NaN}";
    const bst_ulong *shape;
    bst_ulong dim;
    const float *res;
    assert_int_equal(XGBoosterPredictFromDense(b, arr, cfg, NULL, &shape, &dim, &res), 0);
    memcpy(out, res, sizeof(float) * n);
    XGBoosterFree(b);
}

static void expect_same_scores(const char *path, bool walked) {
    char err[256];
    fw_model *m = fw_model_load(path, err, sizeof(err));
    if (!m)
        fail_msg("load: %s", err);
    const char *why = fw_model_walker_why(m);
    if (walked && why)
        fail_msg("the walker declined %s: %s", path, why);
    if (!walked && !why)
        fail_msg("the walker took %s", path);
    enum { N = 20000 };
    static float rows[N * NF], ours[N], theirs[N];
    fill_rows(rows, N, (const float[]){ 0, 1, 2, 3, 5, 30 }, 6);
    assert_int_equal(fw_model_predict(m, rows, N, ours, err, sizeof(err)), FW_OK);
    xgboost_predict(path, rows, N, theirs);
    for (size_t i = 0; i < N; i++)
        if (memcmp(&ours[i], &theirs[i], sizeof(float)) != 0)
            fail_msg("row %zu (%g %g %g %g %g %g): %.9g, XGBoost %.9g", i,
                     (double)rows[i * NF], (double)rows[i * NF + 1], (double)rows[i * NF + 2],
                     (double)rows[i * NF + 3], (double)rows[i * NF + 4], (double)rows[i * NF + 5],
                     (double)ours[i], (double)theirs[i]);
    fw_model_free(m);
}

/* XGBoost's own exact contributions (n x (NF + 1)) for @p rows. */
static void xgboost_contribs(const char *path, const float *rows, size_t n, float *out) {
    BoosterHandle b;
    DMatrixHandle d;
    assert_int_equal(XGBoosterCreate(NULL, 0, &b), 0);
    assert_int_equal(XGBoosterLoadModel(b, path), 0);
    assert_int_equal(XGBoosterSetParam(b, "nthread", "1"), 0);
    assert_int_equal(XGDMatrixCreateFromMat(rows, n, NF, NAN, &d), 0);
    const char *cfg = "{\"type\":2,\"training\":false,\"iteration_begin\":0,"
                      "\"iteration_end\":0,\"strict_shape\":false}";
    const bst_ulong *shape;
    bst_ulong dim;
    const float *res;
    assert_int_equal(XGBoosterPredictFromDMatrix(b, d, cfg, &shape, &dim, &res), 0);
    memcpy(out, res, sizeof(float) * n * (NF + 1));
    XGDMatrixFree(d);
    XGBoosterFree(b);
}

/* The contributions of the trees in @p path, read with @p table_bytes of
 * leaf tables, are XGBoost's floats on 20,000 rows with missing values and
 * values on thresholds. */
static void expect_same_contribs(const char *path, size_t table_bytes) {
    enum { N = 20000 };
    static float rows[N * NF], ours[N * (NF + 1)], theirs[N * (NF + 1)];
    size_t len;
    const char *json = read_text(path, &len);
    char why[256];
    fw_trees *t = fw_trees_read(json, len, NF, table_bytes, why, sizeof(why));
    if (!t)
        fail_msg("read: %s", why);
    assert_true(fw_trees_explains(t));
    fill_rows(rows, N, (const float[]){ 0, 1, 2, 3, 5, 30 }, 6);
    fw_trees_contribs(t, rows, N, ours);
    xgboost_contribs(path, rows, N, theirs);
    for (size_t i = 0; i < N * (NF + 1); i++)
        if (memcmp(&ours[i], &theirs[i], sizeof(float)) != 0)
            fail_msg("tables of %zu bytes, row %zu, contribution %zu: %.9g, XGBoost %.9g",
                     table_bytes, i / (NF + 1), i % (NF + 1), (double)ours[i],
                     (double)theirs[i]);
    fw_trees_free(t);
}

static char *tmp_path(char *buf, size_t size) {
    snprintf(buf, size, "/tmp/fw-test-trees-%d.json", (int)getpid());
    return buf;
}

static void test_walker_matches_xgboost(void **state) {
    (void)state;
    char path[64];
    train_model(tmp_path(path, sizeof(path)), NULL, NULL);
    expect_same_scores(path, true);
    /* Another starting point than 0.5: XGBoost starts at its log-odds. */
    train_model(path, "\"base_score\":\"5E-1\"", "\"base_score\":\"2.3E-1\"");
    expect_same_scores(path, true);
    unlink(path);
}

static void test_contribs_match_xgboost(void **state) {
    (void)state;
    char path[64], err[256];
    train_model(tmp_path(path, sizeof(path)), NULL, NULL);
    expect_same_contribs(path, (size_t)64 << 20); /* every tree from its tables */
    expect_same_contribs(path, 20000);            /* the first trees only */
    expect_same_contribs(path, 0);                /* every leaf computed per row */
    fw_model *m = fw_model_load(path, err, sizeof(err));
    assert_non_null(m);
    if (fw_model_explain_why(m))
        fail_msg("XGBoost explains: %s", fw_model_explain_why(m));
    fw_model_free(m);
    train_model(path, "\"base_score\":\"5E-1\"", "\"base_score\":\"2.3E-1\"");
    expect_same_contribs(path, (size_t)64 << 20);
    /* Without covers (XGBoost itself would not load that) the trees still
     * score, and do not explain. */
    train_model(path, "\"sum_hessian\"", "\"sum_hessians\"");
    size_t len;
    const char *json = read_text(path, &len);
    fw_trees *t = fw_trees_read(json, len, NF, (size_t)64 << 20, err, sizeof(err));
    if (!t)
        fail_msg("read: %s", err);
    assert_false(fw_trees_explains(t));
    fw_trees_free(t);
    unlink(path);
}

static void test_walker_declines(void **state) {
    (void)state;
    char path[64];
    /* Raw margins, not probabilities: XGBoost scores. */
    train_model(tmp_path(path, sizeof(path)), "\"binary:logistic\"", "\"binary:logitraw\"");
    expect_same_scores(path, false);
    unlink(path);
}

static void expect_refused(const char *json, const char *needle) {
    char why[256] = "";
    fw_trees *t = fw_trees_read(json, strlen(json), 2, 1 << 20, why, sizeof(why));
    if (t)
        fail_msg("accepted %s", json);
    if (!strstr(why, needle))
        fail_msg("reason \"%s\" lacks \"%s\" for %s", why, needle, json);
}

#define MODEL(trees) \
    "{\"learner\":{\"objective\":{\"name\":\"binary:logistic\"}," \
    "\"learner_model_param\":{\"base_score\":\"5E-1\",\"num_class\":\"0\"}," \
    "\"gradient_booster\":{\"name\":\"gbtree\",\"model\":{\"trees\":[" trees "]}}}}"
#define TREE(l, r, f, c, d) \
    "{\"left_children\":[" l "],\"right_children\":[" r "],\"split_indices\":[" f "]," \
    "\"split_conditions\":[" c "],\"default_left\":[" d "],\"split_type\":[]}"

static void test_malformed_trees(void **state) {
    (void)state;
    /* A stump: x0 < 1 goes left (-1), else right (+1); missing goes left. */
    const char *ok = MODEL(TREE("1,-1,-1", "2,-1,-1", "0,0,0", "1,-1,1", "1,0,0"));
    char why[256];
    fw_trees *t = fw_trees_read(ok, strlen(ok), 2, 1 << 20, why, sizeof(why));
    if (!t)
        fail_msg("stump refused: %s", why);
    float rows[] = { 0.5f, 0, 1.0f, 0, NAN, 0 }, out[3];
    fw_trees_predict(t, rows, 3, out);
    assert_float_equal(out[0], 1 / (1 + expf(1)), 0);
    assert_float_equal(out[1], 1 / (1 + expf(-1)), 0);
    assert_float_equal(out[2], out[0], 0);
    fw_trees_free(t);

    expect_refused(MODEL(TREE("1,0,-1", "2,-1,-1", "0,0,0", "1,-1,1", "1,0,0")),
                   "invalid children");                                  /* a cycle */
    expect_refused(MODEL(TREE("1,-1,-1", "5,-1,-1", "0,0,0", "1,-1,1", "1,0,0")),
                   "invalid children");                                  /* out of range */
    expect_refused(MODEL(TREE("1,-1,-1", "2,-1,-1", "7,0,0", "1,-1,1", "1,0,0")),
                   "invalid children or feature");                       /* no such feature */
    expect_refused(MODEL(TREE("1,-1,-1", "1,-1,-1", "0,0,0", "1,-1,1", "1,0,0")),
                   "invalid children");                                  /* the same child */
    expect_refused(MODEL(TREE("1,-1,-1,-1", "2,-1,-1,-1", "0,0,0,0", "1,-1,1,0", "1,0,0,0")),
                   "unreachable");
    expect_refused(MODEL(TREE("1,-1", "2,-1,-1", "0,0,0", "1,-1,1", "1,0,0")), "unequal");
    expect_refused(MODEL(TREE("1,-1,-1", "2,-1,-1", "0,0,0", "1,-1,1", "1,0,0") ","
                         "{\"left_children\":[]}"), "without nodes");
    expect_refused(MODEL(""), "no trees");
    expect_refused("{\"learner\":{\"objective\":{\"name\":\"reg:squarederror\"}}}",
                   "binary:logistic");
    expect_refused("[", "");
    /* 70 levels: one split per level, always to the left. */
    char deep[8192], l[1024] = "", r[1024] = "", f[512] = "", c[512] = "", d[512] = "";
    int n = 2 * 70 + 1;
    for (int i = 0; i < n; i++) {
        bool inner = i % 2 == 0 && i < n - 1;
        snprintf(l + strlen(l), sizeof(l) - strlen(l), "%s%d", i ? "," : "", inner ? i + 2 : -1);
        snprintf(r + strlen(r), sizeof(r) - strlen(r), "%s%d", i ? "," : "", inner ? i + 1 : -1);
        snprintf(f + strlen(f), sizeof(f) - strlen(f), "%s0", i ? "," : "");
        snprintf(c + strlen(c), sizeof(c) - strlen(c), "%s1", i ? "," : "");
        snprintf(d + strlen(d), sizeof(d) - strlen(d), "%s0", i ? "," : "");
    }
    snprintf(deep, sizeof(deep),
             "{\"learner\":{\"objective\":{\"name\":\"binary:logistic\"},"
             "\"learner_model_param\":{\"base_score\":\"5E-1\"},\"gradient_booster\":{\"name\":"
             "\"gbtree\",\"model\":{\"trees\":[{\"left_children\":[%s],\"right_children\":[%s],"
             "\"split_indices\":[%s],\"split_conditions\":[%s],\"default_left\":[%s]}]}}}}",
             l, r, f, c, d);
    expect_refused(deep, "deeper than");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walker_matches_xgboost),
        cmocka_unit_test(test_contribs_match_xgboost),
        cmocka_unit_test(test_walker_declines),
        cmocka_unit_test(test_malformed_trees),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
