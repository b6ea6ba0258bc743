/* predict_wire.c — the /predict wire format, both sides (predict_wire.h):
 * the client's request writer and response reader (runtime/remote_score.c),
 * the server's request parser and response writer (server/serve.c). Pure:
 * bodies in, bodies out; no sockets, no clock. */
#include "predict_wire.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* ---- request: client side ------------------------------------------------------ */

/* Powers of ten: exact up to 1e22, correctly rounded beyond; a float's
 * decimal exponent is -45..38, a candidate's scale 10^-54..10^38. */
static const double P10[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14,
    1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26, 1e27, 1e28,
    1e29, 1e30, 1e31, 1e32, 1e33, 1e34, 1e35, 1e36, 1e37, 1e38, 1e39, 1e40, 1e41, 1e42,
    1e43, 1e44, 1e45, 1e46, 1e47, 1e48, 1e49, 1e50, 1e51, 1e52, 1e53, 1e54, 1e55, 1e56,
    1e57, 1e58, 1e59, 1e60
};

static int put_uint(char *out, uint64_t m) {
    char tmp[24];
    int n = 0;
    do
        tmp[n++] = (char)('0' + m % 10);
    while ((m /= 10) != 0);
    for (int i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/* snprintf("%.*g") and strtof for every precision cost ~2 us a value; this
 * finds the digits with double arithmetic (~0.2 us) and lets strtof confirm
 * the result. */
size_t fw_predict_format_float(float v, char *out) {
    const float orig = v;
    char *p = out;
    if (signbit(v)) {
        *p++ = '-';
        v = -v;
    }
    if (v == 0) {
        *p++ = '0';
        *p = '\0';
        return (size_t)(p - out);
    }
    uint64_t m;
    int k; /* v is m x 10^k */
    bool exact = false;
    if (v < 16777216.0f && v == (float)(uint32_t)v) {
        /* Below 2^24 floats are spaced 1 or closer: the integer is shortest. */
        m = (uint32_t)v;
        k = 0;
        exact = true;
    } else {
        double a = v;
        int e = (int)floor(log10(a)); /* 10^e <= a < 10^(e+1), after the fix-up */
        if (e + 1 >= 0 ? a >= P10[e + 1] : a * P10[-(e + 1)] >= 1)
            e++;
        else if (e >= 0 ? a < P10[e] : a * P10[-e] < 1)
            e--;
        /* Up to 9 digits identify a float; 6 always fit a normal one (fewer
         * show as trailing zeros), subnormals may need fewer. */
        int prec;
        for (prec = v < FLT_MIN ? 1 : 6; prec <= 9; prec++) {
            k = e - prec + 1;
            m = (uint64_t)llround(k >= 0 ? a / P10[k] : a * P10[-k]);
            if (m >= (uint64_t)P10[prec]) { /* 9.9999996 rounded up to 10.000000 */
                m /= 10;
                k++;
            }
            double c = k >= 0 ? (double)m * P10[k] : (double)m / P10[-k];
            if ((float)c == v)
                break;
        }
        if (prec > 9)
            goto fallback;
    }
    while (m % 10 == 0) {
        m /= 10;
        k++;
    }
    char digits[24];
    int nd = put_uint(digits, m);
    int x = k + nd - 1; /* exponent of the first digit */
    if (x >= -7 && x < 21) { /* plain notation, as JavaScript would */
        if (k >= 0) {
            memcpy(p, digits, (size_t)nd);
            p += nd;
            memset(p, '0', (size_t)k);
            p += k;
        } else if (x >= 0) {
            memcpy(p, digits, (size_t)x + 1);
            p += x + 1;
            *p++ = '.';
            memcpy(p, digits + x + 1, (size_t)(nd - x - 1));
            p += nd - x - 1;
        } else {
            *p++ = '0';
            *p++ = '.';
            memset(p, '0', (size_t)(-x - 1));
            p += -x - 1;
            memcpy(p, digits, (size_t)nd);
            p += nd;
        }
    } else {
        *p++ = digits[0];
        if (nd > 1) {
            *p++ = '.';
            memcpy(p, digits + 1, (size_t)nd - 1);
            p += nd - 1;
        }
        *p++ = 'e';
        if (x < 0) {
            *p++ = '-';
            x = -x;
        }
        p += put_uint(p, (uint64_t)x);
    }
    *p = '\0';
    if (exact || strtof(out, NULL) == orig)
        return (size_t)(p - out);
fallback: /* the double arithmetic was off by an ulp: let libc do it */
    return (size_t)snprintf(out, 32, "%.9g", (double)orig);
}

static bool put_float(fw_buf *out, float v) {
    char tmp[32];
    size_t n = fw_predict_format_float(v, tmp);
    return fw_buf_append(out, tmp, n);
}

bool fw_predict_write_request(fw_buf *out, const float *rows, size_t n) {
    fw_buf_puts(out, "{\"transactions\":[");
    for (size_t i = 0; i < n; i++) {
        const float *row = rows + i * FW_F__COUNT;
        fw_buf_puts(out, i ? ",{" : "{");
        bool first = true;
        for (int f = 0; f < FW_F__COUNT; f++) {
            if (!isfinite(row[f]))
                continue; /* missing: the service imputes it */
            if (!first)
                fw_buf_putc(out, ',');
            first = false;
            fw_buf_putc(out, '"');
            fw_buf_puts(out, fw_feature_name((fw_feature)f)); /* identifiers: no escaping */
            fw_buf_puts(out, "\":");
            put_float(out, row[f]);
        }
        fw_buf_putc(out, '}');
    }
    fw_buf_puts(out, "]}");
    return !out->overflow;
}

/* ---- request: server side ------------------------------------------------------ */

/* Transactions of a batch nearly always list their members in one order, so
 * the column of the k-th key is remembered: one memcmp per member instead of
 * a scan of the model's feature names. */
#define KEY_CACHE 64

typedef struct key_cache {
    bool used[KEY_CACHE];
    fw_str key[KEY_CACHE];
    int col[KEY_CACHE];
} key_cache;

static int column_of(const fw_model *m, key_cache *kc, size_t pos, fw_str key) {
    if (pos < KEY_CACHE && kc->used[pos] && fw_str_eq(kc->key[pos], key))
        return kc->col[pos];
    int col = fw_model_column(m, key.ptr ? key.ptr : "", key.len);
    if (pos < KEY_CACHE) {
        kc->used[pos] = true;
        kc->key[pos] = key;
        kc->col[pos] = col;
    }
    return col;
}

/* ".V1" for a plain name, "[\"odd name\"]" otherwise, to follow "transactions[i]". */
static const char *member_path(fw_str key, char *out, size_t size) {
    bool plain = key.len > 0;
    for (size_t i = 0; plain && i < key.len; i++) {
        char c = key.ptr[i];
        plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '-';
    }
    if (plain && key.len < 64) {
        snprintf(out, size, ".%.*s", (int)key.len, key.ptr);
    } else {
        char q[128];
        snprintf(out, size, "[%s]", fw_json_quote(key, q, sizeof(q)));
    }
    return out;
}

static fw_err fill(const fw_model *m, const fw_json *root, size_t max_batch,
                   fw_predict_batch *out, char *errstr, size_t errstr_size) {
    char got[96], path[160];
    if (root->type != FW_JSON_OBJECT) {
        snprintf(errstr, errstr_size,
                 "expected a JSON object {\"transactions\":[...]}, got %s",
                 fw_json_describe(root, got, sizeof(got)));
        return FW_ERR_INVALID;
    }
    const fw_json *txns = fw_json_get(root, "transactions");
    if (!txns) {
        snprintf(errstr, errstr_size,
                 "missing \"transactions\": expected {\"transactions\":[{...},...]}");
        return FW_ERR_INVALID;
    }
    if (txns->type != FW_JSON_ARRAY) {
        snprintf(errstr, errstr_size,
                 "\"transactions\": expected an array of objects, got %s (line %u, column %u)",
                 fw_json_describe(txns, got, sizeof(got)), txns->line, txns->column);
        return FW_ERR_INVALID;
    }
    if (txns->count > max_batch) {
        snprintf(errstr, errstr_size, "too many transactions: %u, at most %zu per request",
                 txns->count, max_batch);
        return FW_ERR_LIMIT;
    }
    size_t n = txns->count, nf = out->nfeatures;
    if (n == 0)
        return FW_OK;
    if (nf == 0 || n > SIZE_MAX / sizeof(float) / nf ||
        !(out->rows = malloc(n * nf * sizeof(float)))) {
        snprintf(errstr, errstr_size, "out of memory for %zu transactions", n);
        return FW_ERR_NOMEM;
    }
    for (size_t k = 0; k < n * nf; k++)
        out->rows[k] = NAN; /* absent features stay missing */

    key_cache kc;
    memset(&kc, 0, sizeof(kc));
    size_t i = 0;
    FW_JSON_FOREACH(t, txns) {
        if (t->type != FW_JSON_OBJECT) {
            snprintf(errstr, errstr_size,
                     "transactions[%zu]: expected an object, got %s (line %u, column %u)", i,
                     fw_json_describe(t, got, sizeof(got)), t->line, t->column);
            return FW_ERR_INVALID;
        }
        float *row = out->rows + i * nf;
        size_t pos = 0;
        FW_JSON_FOREACH(v, t) {
            int col = column_of(m, &kc, pos++, v->key);
            if (col < 0 || v->type == FW_JSON_NULL)
                continue; /* not a feature of this model, or explicitly missing */
            if (v->type != FW_JSON_NUMBER) {
                snprintf(errstr, errstr_size,
                         "transactions[%zu]%s: expected a number or null, got %s "
                         "(line %u, column %u)", i, member_path(v->key, path, sizeof(path)),
                         fw_json_describe(v, got, sizeof(got)), v->line, v->column);
                return FW_ERR_INVALID;
            }
            /* The model reads 32-bit floats; a larger double does not convert. */
            if (fabs(v->number) > FLT_MAX) {
                snprintf(errstr, errstr_size,
                         "transactions[%zu]%s: %s is out of range for the model's 32-bit "
                         "floats (line %u, column %u)", i,
                         member_path(v->key, path, sizeof(path)),
                         fw_json_describe(v, got, sizeof(got)), v->line, v->column);
                return FW_ERR_INVALID;
            }
            row[col] = (float)v->number;
        }
        i++;
    }
    out->n = n;
    return FW_OK;
}

fw_err fw_predict_parse(const fw_model *m, const char *body, size_t len, size_t max_batch,
                        fw_predict_batch *out, char *errstr, size_t errstr_size) {
    *out = (fw_predict_batch){ .nfeatures = fw_model_nfeatures(m) };
    size_t cap = fw_json_arena_bound(len);
    fw_arena a;
    if (cap == SIZE_MAX || !fw_arena_init(&a, cap)) {
        snprintf(errstr, errstr_size, "out of memory parsing a body of %zu bytes", len);
        return FW_ERR_NOMEM;
    }
    fw_json *root = NULL;
    char jerr[512];
    fw_err rc = fw_json_parse(body, len, &a, &root, jerr, sizeof(jerr));
    if (rc == FW_OK) {
        rc = fill(m, root, max_batch, out, errstr, errstr_size);
    } else if (rc == FW_ERR_LIMIT) { /* never with an arena of fw_json_arena_bound */
        snprintf(errstr, errstr_size, "out of memory parsing a body of %zu bytes", len);
        rc = FW_ERR_NOMEM;
    } else {
        snprintf(errstr, errstr_size, "invalid JSON: %s", jerr);
        rc = FW_ERR_INVALID;
    }
    fw_arena_fini(&a);
    if (rc != FW_OK)
        fw_predict_batch_free(out);
    return rc;
}

void fw_predict_batch_free(fw_predict_batch *b) {
    free(b->rows);
    *b = (fw_predict_batch){ 0 };
}

/* ---- response --------------------------------------------------------------------- */

bool fw_predict_write_predictions(fw_buf *out, const float *p, size_t n, const char *model_id) {
    bool ok = fw_buf_puts(out, "{\"predictions\":[");
    for (size_t i = 0; ok && i < n; i++) {
        if (i)
            ok = fw_buf_putc(out, ',');
        /* 9 significant digits read back as the same float. */
        ok = ok && (isfinite(p[i]) ? fw_buf_printf(out, "%.9g", (double)p[i])
                                   : fw_buf_puts(out, "null"));
    }
    return ok && fw_buf_puts(out, "],\"model\":") && fw_buf_json_str(out, fw_str_c(model_id)) &&
           fw_buf_putc(out, '}');
}

static void fmt(char *dst, size_t size, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void fmt(char *dst, size_t size, const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    vsnprintf(dst, size, f, ap);
    va_end(ap);
}

bool fw_predict_read_predictions(const char *body, size_t len, fw_arena *a, float *out,
                                 size_t n, size_t first, char *errstr, size_t errstr_size) {
    const char *p = body ? body : "";
    size_t need = fw_json_arena_bound(len);
    if (need == SIZE_MAX) {
        fmt(errstr, errstr_size, "response: too large to parse (%zu bytes)", len);
        return false;
    }
    if (a->cap < need) {
        fw_arena_fini(a);
        if (!fw_arena_init(a, need)) {
            fmt(errstr, errstr_size, "response: out of memory parsing %zu bytes", len);
            return false;
        }
    }
    fw_arena_reset(a);
    fw_json *root = NULL;
    char perr[256];
    if (fw_json_parse(p, len, a, &root, perr, sizeof(perr)) != FW_OK) {
        fmt(errstr, errstr_size, "response: invalid JSON: %s", perr);
        return false;
    }
    char desc[64];
    if (root->type != FW_JSON_OBJECT) {
        fmt(errstr, errstr_size,
            "response: expected an object {\"predictions\":[...]}, got %s",
            fw_json_describe(root, desc, sizeof(desc)));
        return false;
    }
    const fw_json *preds = fw_json_get(root, "predictions");
    if (!preds) {
        fmt(errstr, errstr_size, "response: no \"predictions\" member");
        return false;
    }
    if (preds->type != FW_JSON_ARRAY) {
        fmt(errstr, errstr_size, "response: \"predictions\" is %s, expected an array",
            fw_json_describe(preds, desc, sizeof(desc)));
        return false;
    }
    if (preds->count != n) {
        fmt(errstr, errstr_size, "response: expected %zu predictions, got %u", n,
            (unsigned)preds->count);
        return false;
    }
    size_t i = 0;
    FW_JSON_FOREACH(v, preds) {
        if (v->type != FW_JSON_NUMBER) {
            fmt(errstr, errstr_size, "response: prediction %zu is %s, expected a number",
                first + i, fw_json_describe(v, desc, sizeof(desc)));
            return false;
        }
        if (!(v->number >= 0 && v->number <= 1)) {
            fmt(errstr, errstr_size,
                "response: prediction %zu is %g, not a probability in [0,1]", first + i,
                v->number);
            return false;
        }
        out[i++] = (float)v->number;
    }
    return true;
}
