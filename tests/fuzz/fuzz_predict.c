/* fuzz_predict.c — libFuzzer target for /predict bodies (predict_api.c)
 * against a tiny model trained on first use (features V1, V2, V3, Amount and
 * "odd name"). Checks what must hold for any body: a known verdict; an
 * accepted body gives at most --max-batch rows of finite-or-NaN values, the
 * same rows when parsed again, scores in [0, 1], and a response that parses
 * back to the same floats; a rejected one leaves no rows and explains itself
 * in printable ASCII, and its error response is valid JSON carrying the
 * message. Then the input drives a generator of well-formed bodies (keys,
 * key order, value types), whose expected matrix or first error is known, so
 * matching by name is checked too, not only crash-freedom. The input, read as
 * a header value, also goes through serve's Content-Type and bearer-token
 * checks (http_guard.c), whose verdicts are checked against a plain reading.
 * Violations abort. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_guard.h"
#include "json.h"
#include "model.h"
#include "predict_api.h"

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "fuzz_predict: check failed: %s (%s:%d)\n", #cond, __FILE__,  \
                    __LINE__);                                                            \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

#define MAX_BATCH 64
#define NF 5
#define ROWS 300

/* Trained once and kept for the life of the process. */
static fw_model *model(void) {
    static fw_model *m;
    if (m)
        return m;
    static const char *const names[NF] = { "V1", "V2", "V3", "Amount", "odd name" };
    static float rows[ROWS * NF], labels[ROWS];
    uint64_t s = 7;
    for (size_t i = 0; i < ROWS; i++) {
        for (int j = 0; j < NF; j++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            double u = (double)(s >> 11) / 9007199254740992.0;
            rows[i * NF + j] = (float)(j == 3 ? u * 3000 : u * 10 - 5);
        }
        labels[i] = rows[i * NF] < -3 && rows[i * NF + 3] > 1000;
    }
    fw_train_params p;
    fw_train_params_defaults(&p);
    p.rounds = 3;
    p.threads = 1;
    char err[512];
    m = fw_model_train(rows, labels, ROWS, NF, names, &p, NULL, NULL, err, sizeof(err));
    if (!m) {
        fprintf(stderr, "fuzz_predict: training the model failed: %s\n", err);
        abort();
    }
    return m;
}

static void check_message(const char *err, size_t size) {
    size_t len = strnlen(err, size);
    CHECK(len > 0 && len < size);
    for (size_t i = 0; i < len; i++)
        CHECK(err[i] >= 0x20 && err[i] <= 0x7e);
}

static void parse_back(const fw_buf *out, fw_arena *a, fw_json **root) {
    char err[512];
    CHECK(out->data && !out->overflow);
    CHECK(fw_arena_init(a, fw_json_arena_bound(out->len)));
    CHECK(fw_json_parse(out->data, out->len, a, root, err, sizeof(err)) == FW_OK);
    CHECK((*root)->type == FW_JSON_OBJECT);
}

static void check_accepted(fw_model *m, const char *in, size_t size, const fw_predict_batch *b) {
    CHECK(b->nfeatures == NF && b->n <= MAX_BATCH);
    CHECK((b->n == 0) == (b->rows == NULL));
    for (size_t k = 0; k < b->n * NF; k++)
        CHECK(isnan(b->rows[k]) || isfinite(b->rows[k]));

    /* Deterministic. */
    fw_predict_batch again;
    char err[1024];
    CHECK(fw_predict_parse(m, in, size, MAX_BATCH, &again, err, sizeof(err)) == FW_OK);
    CHECK(again.n == b->n);
    for (size_t k = 0; k < b->n * NF; k++)
        CHECK((isnan(b->rows[k]) && isnan(again.rows[k])) || b->rows[k] == again.rows[k]);
    fw_predict_batch_free(&again);

    float pred[MAX_BATCH];
    CHECK(fw_model_predict(m, b->rows, b->n, pred, err, sizeof(err)) == FW_OK);
    for (size_t i = 0; i < b->n; i++)
        CHECK(pred[i] >= 0 && pred[i] <= 1);

    fw_buf out;
    fw_buf_init(&out, 0);
    CHECK(fw_predict_write_predictions(&out, pred, b->n, fw_model_id(m)));
    fw_arena a;
    fw_json *root;
    parse_back(&out, &a, &root);
    const fw_json *preds = fw_json_get(root, "predictions");
    const fw_json *id = fw_json_get(root, "model");
    CHECK(preds && preds->type == FW_JSON_ARRAY && preds->count == b->n);
    CHECK(id && id->type == FW_JSON_STRING && fw_str_eq_c(id->str, fw_model_id(m)));
    size_t i = 0;
    FW_JSON_FOREACH(v, preds) {
        CHECK(v->type == FW_JSON_NUMBER && (float)v->number == pred[i]);
        i++;
    }
    fw_arena_fini(&a);
    fw_buf_fini(&out);
}

static void check_rejected(fw_err rc, const char *err, size_t err_size,
                           const fw_predict_batch *b) {
    CHECK(rc == FW_ERR_INVALID || rc == FW_ERR_LIMIT || rc == FW_ERR_NOMEM);
    CHECK(b->rows == NULL && b->n == 0);
    check_message(err, err_size);
    if (rc == FW_ERR_LIMIT)
        CHECK(strncmp(err, "too many transactions: ", 23) == 0);

    fw_buf out;
    fw_buf_init(&out, 0);
    CHECK(fw_predict_write_error(&out, err));
    fw_arena a;
    fw_json *root;
    parse_back(&out, &a, &root);
    const fw_json *e = fw_json_get(root, "error");
    CHECK(root->count == 1 && e && e->type == FW_JSON_STRING && fw_str_eq_c(e->str, err));
    fw_arena_fini(&a);
    fw_buf_fini(&out);
}

/* ---- generated bodies ---- */

/* Keys the generator writes and the model column each one fills (-1: none).
 * "V\u0031" is V1 spelled with an escape; it shares V1's slot, as a body
 * holding both would repeat a key. */
static const struct {
    const char *json;
    int col, slot;
} gen_keys[] = {
    { "\"V1\"", 0, 0 },       { "\"V2\"", 1, 1 },      { "\"V3\"", 2, 2 },
    { "\"Amount\"", 3, 3 },   { "\"odd name\"", 4, 4 }, { "\"V\\u0031\"", 0, 0 },
    { "\"v1\"", -1, 5 },      { "\"Time\"", -1, 6 },   { "\"\"", -1, 7 },
    { "\"V1 \"", -1, 8 },
};
#define GEN_SLOTS 9
#define GEN_KEYS (sizeof(gen_keys) / sizeof(gen_keys[0]))

/* Writes a body from @p data into @p out, the rows it must give into
 * @p want, and the first bad transaction into *bad_txn (SIZE_MAX: none).
 * @returns the number of transactions. */
static size_t generate(const uint8_t *data, size_t size, fw_buf *out, float *want,
                       size_t *bad_txn) {
    static const char *const others[] = { "null", "\"s\"", "true", "[1,2]", "{\"V1\":1}" };
    size_t i = 0, n = 0;
    *bad_txn = SIZE_MAX;
    fw_buf_puts(out, "{\"transactions\":[");
    while (i < size && n < MAX_BATCH) {
        size_t members = data[i++] % 8;
        bool used[GEN_SLOTS] = { false };
        float *row = want + n * NF;
        for (int j = 0; j < NF; j++)
            row[j] = NAN;
        fw_buf_puts(out, n ? ",{" : "{");
        for (size_t k = 0, written = 0; k < members && i + 1 < size; k++) {
            uint8_t kb = data[i++], vb = data[i++];
            size_t key = kb % GEN_KEYS;
            if (used[gen_keys[key].slot])
                continue;
            used[gen_keys[key].slot] = true;
            fw_buf_printf(out, "%s%s:", written++ ? "," : "", gen_keys[key].json);
            int col = gen_keys[key].col;
            if (vb < 160) { /* a number; some need more than a float's digits */
                double v = ((double)vb - 80) / 8 + (vb & 1 ? 1e-9 : 0);
                fw_buf_printf(out, "%.17g", v);
                if (col >= 0)
                    row[col] = (float)v;
            } else {
                size_t o = (vb - 160) % (sizeof(others) / sizeof(others[0]));
                fw_buf_puts(out, others[o]);
                if (col >= 0 && o > 0 && *bad_txn == SIZE_MAX)
                    *bad_txn = n; /* a feature that is neither number nor null */
            }
        }
        fw_buf_putc(out, '}');
        n++;
    }
    fw_buf_puts(out, "]}");
    return n;
}

static void fuzz_generated(fw_model *m, const uint8_t *data, size_t size) {
    static float want[MAX_BATCH * NF];
    fw_buf body;
    fw_buf_init(&body, 0);
    size_t bad_txn, n = generate(data, size, &body, want, &bad_txn);
    CHECK(!body.overflow);
    fw_predict_batch b;
    char err[1024];
    fw_err rc = fw_predict_parse(m, body.data, body.len, MAX_BATCH, &b, err, sizeof(err));
    if (bad_txn != SIZE_MAX) {
        char prefix[48];
        snprintf(prefix, sizeof(prefix), "transactions[%zu]", bad_txn);
        if (rc != FW_ERR_INVALID || strncmp(err, prefix, strlen(prefix)) != 0 ||
            !strstr(err, ": expected a number or null, got "))
            fprintf(stderr, "fuzz_predict: %s\n  gave %s (%s), expected %s...\n", body.data,
                    fw_err2str(rc), rc ? err : "", prefix);
        CHECK(rc == FW_ERR_INVALID && strncmp(err, prefix, strlen(prefix)) == 0);
        CHECK(strstr(err, ": expected a number or null, got ") != NULL);
        CHECK(b.rows == NULL);
    } else {
        if (rc != FW_OK)
            fprintf(stderr, "fuzz_predict: %s\n  rejected: %s\n", body.data, err);
        CHECK(rc == FW_OK && b.n == n);
        for (size_t k = 0; k < n * NF; k++)
            CHECK((isnan(want[k]) && isnan(b.rows[k])) || want[k] == b.rows[k]);
        check_accepted(m, body.data, body.len, &b);
    }
    fw_predict_batch_free(&b);
    fw_buf_fini(&body);
}

/* The input up to its first NUL, as a header value. */
static void fuzz_headers(const uint8_t *data, size_t size) {
    char v[512];
    size_t n = strnlen((const char *)data, size < sizeof(v) - 1 ? size : sizeof(v) - 1);
    memcpy(v, data, n);
    v[n] = '\0';
    if (fw_http_content_type_json(v)) {
        const char *p = v + strspn(v, " \t");
        CHECK(strncasecmp(p, "application/json", 16) == 0);
        p += 16;
        p += strspn(p, " \t");
        CHECK(*p == '\0' || *p == ';');
    }
    static const char token[] = "tok-3n.x~/+=";
    bool ok = fw_http_bearer_ok(v, token);
    const char *t = v + 7;
    t += strspn(t, " ");
    CHECK(ok == (n >= 7 && strncasecmp(v, "Bearer ", 7) == 0 && strcmp(t, token) == 0));
    char err[160];
    if (fw_http_token_valid(v, err, sizeof(err)))
        CHECK(fw_http_bearer_ok("Bearer x", v) == !strcmp(v, "x"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fw_model *m = model();
    const char *in = (const char *)data;
    fw_predict_batch b;
    char err[1024];
    memset(err, 0, sizeof(err));
    fw_err rc = fw_predict_parse(m, in, size, MAX_BATCH, &b, err, sizeof(err));
    if (rc == FW_OK)
        check_accepted(m, in, size, &b);
    else
        check_rejected(rc, err, sizeof(err), &b);
    fw_predict_batch_free(&b);
    fuzz_generated(m, data, size);
    fuzz_headers(data, size);
    return 0;
}
