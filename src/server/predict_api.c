/* predict_api.c — /predict bodies to feature matrices, and the response
 * bodies of `fraudwatch serve` (predict_api.h). The body is parsed into a DOM
 * (json.h) in a per-request arena that is gone before scoring starts. */
#include "predict_api.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

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

bool fw_predict_write_error(fw_buf *out, const char *message) {
    return fw_buf_puts(out, "{\"error\":") && fw_buf_json_str(out, fw_str_c(message)) &&
           fw_buf_putc(out, '}');
}

bool fw_predict_write_health(fw_buf *out, const char *model_id, size_t nfeatures,
                             const uint64_t *refused) {
    bool ok = fw_buf_puts(out, "{\"status\":\"ok\",\"model\":") &&
              fw_buf_json_str(out, fw_str_c(model_id)) &&
              fw_buf_printf(out, ",\"features\":%zu", nfeatures);
    if (refused) {
        ok = ok && fw_buf_puts(out, ",\"refused\":{");
        for (int r = 0; ok && r < FW_REFUSED__COUNT; r++)
            ok = fw_buf_printf(out, "%s\"%s\":%" PRIu64, r ? "," : "",
                               fw_refusal_name((fw_refusal)r), refused[r]);
        ok = ok && fw_buf_putc(out, '}');
    }
    return ok && fw_buf_putc(out, '}');
}
