/* model.c — XGBoost through its C API (Debian's libxgboost-dev). */
#include "model.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xgboost/c_api.h>

#include "fw_hash.h"
#include "model_trees.h"

struct fw_model {
    BoosterHandle booster;
    fw_trees *trees;      /* scores without XGBoost; NULL: XGBoost scores (why: walker_why) */
    char walker_why[256];
    bool explains;        /* trees also gives exact contributions; false: XGBoost (explain_why) */
    char explain_why[256];
    size_t nfeatures;
    char **names;
    char id[128];
};

/* XGBoost's messages carry a stack trace after the first line: keep the line. */
static void xgb_error(char *errstr, size_t errstr_size, const char *what) {
    const char *msg = XGBGetLastError();
    const char *nl = msg ? strchr(msg, '\n') : NULL;
    int len = msg ? (nl ? (int)(nl - msg) : (int)strlen(msg)) : 0;
    snprintf(errstr, errstr_size, "%s: %.*s", what, len, msg ? msg : "");
}

void fw_model_free(fw_model *m) {
    if (!m)
        return;
    if (m->booster)
        XGBoosterFree(m->booster);
    fw_trees_free(m->trees);
    for (size_t i = 0; m->names && i < m->nfeatures; i++)
        free(m->names[i]);
    free(m->names);
    free(m);
}

/* Reads the feature names out of the booster into @p m. */
static bool take_names(fw_model *m, const char *what, char *errstr, size_t errstr_size) {
    bst_ulong n = 0;
    const char **names = NULL;
    if (XGBoosterGetStrFeatureInfo(m->booster, "feature_name", &n, &names) != 0) {
        xgb_error(errstr, errstr_size, what);
        return false;
    }
    if (n == 0) {
        snprintf(errstr, errstr_size,
                 "%s: the model has no feature names (train it with fraudwatch train, or set "
                 "feature_names before saving)", what);
        return false;
    }
    if (n > FW_MODEL_MAX_FEATURES) {
        snprintf(errstr, errstr_size, "%s: %" PRIu64 " features, at most %d supported", what,
                 (uint64_t)n, FW_MODEL_MAX_FEATURES);
        return false;
    }
    m->names = calloc(n, sizeof(*m->names));
    if (!m->names)
        goto nomem;
    m->nfeatures = n;
    for (bst_ulong i = 0; i < n; i++)
        if (!(m->names[i] = strdup(names[i])))
            goto nomem;
    return true;
nomem:
    snprintf(errstr, errstr_size, "%s: out of memory", what);
    return false;
}

static fw_err predict(fw_model *m, const float *rows, size_t n, int type, float *out,
                      size_t per_row, char *errstr, size_t errstr_size);

#define PROBE_ROWS 512
/* For tables that make explaining an alert cheap: all of 200 trees of
 * depth 6 (about 20 MB); a deeper model's first trees. */
#define SHAP_TABLE_BYTES ((size_t)32 << 20)
#define PROBE_CUTS 64

/* Whether the walker's contributions of the probe rows are XGBoost's very
 * floats; if not, explain_why says where they first differ. */
static bool same_contribs(fw_model *m, const fw_trees *t, const float *rows) {
    if (!fw_trees_explains(t)) {
        snprintf(m->explain_why, sizeof(m->explain_why),
                 "a tree without covers (sum_hessian), deeper than 30 or over 256 features");
        return false;
    }
    size_t per = m->nfeatures + 1;
    float *a = malloc(sizeof(float) * PROBE_ROWS * per),
          *b = malloc(sizeof(float) * PROBE_ROWS * per);
    char err[256];
    bool same = a && b;
    if (same && predict(m, rows, PROBE_ROWS, 2, a, per, err, sizeof(err)) == FW_OK) {
        fw_trees_contribs(t, rows, PROBE_ROWS, b);
        for (size_t i = 0; i < PROBE_ROWS * per && same; i++)
            if (memcmp(&a[i], &b[i], sizeof(float)) != 0) {
                snprintf(m->explain_why, sizeof(m->explain_why),
                         "probe row %zu: contribution %zu is %.9g, XGBoost's %.9g", i / per,
                         i % per, (double)b[i], (double)a[i]);
                same = false;
            }
    } else {
        snprintf(m->explain_why, sizeof(m->explain_why), "%s", same ? err : "out of memory");
        same = false;
    }
    free(a);
    free(b);
    return same;
}

/* Scores with the native walker when it covers the model and gives XGBoost's
 * very floats on probe rows: every feature at, just below and just above its
 * split thresholds, or missing. Otherwise XGBoost goes on scoring. */
static void attach_trees(fw_model *m, const char *json, size_t len) {
    fw_trees *t = fw_trees_read(json, len, m->nfeatures, SHAP_TABLE_BYTES, m->walker_why,
                                sizeof(m->walker_why));
    if (!t)
        return;
    size_t nf = m->nfeatures;
    float *rows = malloc(sizeof(float) * PROBE_ROWS * nf), *a = malloc(sizeof(float) * PROBE_ROWS),
          *b = malloc(sizeof(float) * PROBE_ROWS), cuts[PROBE_CUTS];
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    bool same = rows && a && b;
    for (size_t f = 0; same && f < nf; f++) {
        size_t nc = fw_trees_thresholds(t, f, cuts, PROBE_CUTS);
        for (size_t r = 0; r < PROBE_ROWS; r++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            float c = nc ? cuts[(x >> 8) % nc] : 0.0f, v;
            switch ((x >> 40) % 5) {
            case 0: v = NAN; break;
            case 1: v = c; break;
            case 2: v = nextafterf(c, -INFINITY); break;
            case 3: v = nextafterf(c, INFINITY); break;
            default: v = c * (float)((x >> 48) % 4) * 0.5f; break;
            }
            rows[r * nf + f] = v;
        }
    }
    char err[256];
    if (same && predict(m, rows, PROBE_ROWS, 0, a, 1, err, sizeof(err)) == FW_OK) {
        fw_trees_predict(t, rows, PROBE_ROWS, b);
        for (size_t r = 0; r < PROBE_ROWS && same; r++)
            if (memcmp(&a[r], &b[r], sizeof(float)) != 0) {
                snprintf(m->walker_why, sizeof(m->walker_why),
                         "probe row %zu scored %.9g, XGBoost %.9g", r, (double)b[r], (double)a[r]);
                same = false;
            }
    } else {
        snprintf(m->walker_why, sizeof(m->walker_why), "%s", same ? err : "out of memory");
        same = false;
    }
    if (same)
        m->explains = same_contribs(m, t, rows);
    free(rows);
    free(a);
    free(b);
    if (same)
        m->trees = t;
    else
        fw_trees_free(t);
}

const char *fw_model_walker_why(const fw_model *m) { return m->trees ? NULL : m->walker_why; }

const char *fw_model_explain_why(const fw_model *m) {
    return m->explains ? NULL : m->trees ? m->explain_why : m->walker_why;
}

fw_model *fw_model_load_buffer(const void *buf, size_t len, const char *what, char *errstr,
                               size_t errstr_size) {
    const char *p = buf;
    size_t i = 0;
    while (i < len && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t'))
        i++;
    /* XGBoost would also take its binary format; fraudwatch writes and expects JSON. */
    if (i == len || p[i] != '{') {
        snprintf(errstr, errstr_size, "%s: not an XGBoost JSON model (expected '{')", what);
        return NULL;
    }
    fw_model *m = calloc(1, sizeof(*m));
    if (!m) {
        snprintf(errstr, errstr_size, "%s: out of memory", what);
        return NULL;
    }
    /* One thread per scoring call: the engine's parallelism is its
     * partitions, and OpenMP's threads spin against a busy core (the broker,
     * another task) instead of helping (docs/benchmarks.md). */
    if (XGBoosterCreate(NULL, 0, &m->booster) != 0 ||
        XGBoosterLoadModelFromBuffer(m->booster, buf, (bst_ulong)len) != 0 ||
        XGBoosterSetParam(m->booster, "nthread", "1") != 0) {
        xgb_error(errstr, errstr_size, what);
        goto fail;
    }
    if (!take_names(m, what, errstr, errstr_size))
        goto fail;
    attach_trees(m, buf, len);
    const char *base = strrchr(what, '/');
    base = base ? base + 1 : what;
    snprintf(m->id, sizeof(m->id), "%.100s@%016" PRIx64, base, fw_hash64(buf, len, 0x6d6f64656cULL));
    return m;
fail:
    fw_model_free(m);
    return NULL;
}

fw_model *fw_model_load(const char *path, char *errstr, size_t errstr_size) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return NULL;
    }
    fw_model *m = NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            if (cap == FW_MODEL_MAX_BYTES + 1) {
                snprintf(errstr, errstr_size, "%s: larger than %u bytes", path,
                         FW_MODEL_MAX_BYTES);
                goto out;
            }
            size_t ncap = cap ? cap * 2 : 1u << 16;
            if (ncap > FW_MODEL_MAX_BYTES + 1)
                ncap = FW_MODEL_MAX_BYTES + 1;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                snprintf(errstr, errstr_size, "%s: out of memory", path);
                goto out;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        snprintf(errstr, errstr_size, "%s: read error", path);
        goto out;
    }
    m = fw_model_load_buffer(buf, len, path, errstr, errstr_size);
out:
    fclose(f);
    free(buf);
    return m;
}

size_t fw_model_nfeatures(const fw_model *m) { return m->nfeatures; }

const char *fw_model_feature_name(const fw_model *m, size_t i) {
    return i < m->nfeatures ? m->names[i] : NULL;
}

int fw_model_column(const fw_model *m, const char *name, size_t len) {
    for (size_t i = 0; i < m->nfeatures; i++)
        if (strlen(m->names[i]) == len && memcmp(m->names[i], name, len) == 0)
            return (int)i;
    return -1;
}

const char *fw_model_id(const fw_model *m) { return m->id; }

/* In-place prediction reads the caller's matrix through an array interface:
 * no DMatrix, no copy. */
static fw_err predict(fw_model *m, const float *rows, size_t n, int type, float *out,
                      size_t per_row, char *errstr, size_t errstr_size) {
    if (n == 0)
        return FW_OK;
    char arr[160], cfg[200];
    snprintf(arr, sizeof(arr),
             "{\"data\":[%" PRIuPTR ",true],\"shape\":[%zu,%zu],\"typestr\":\"<f4\","
             "\"version\":3}", (uintptr_t)rows, n, m->nfeatures);
    snprintf(cfg, sizeof(cfg),
             "{\"type\":%d,\"training\":false,\"iteration_begin\":0,\"iteration_end\":0,"
             "\"strict_shape\":false,\"cache_id\":0,\"missing\":NaN}", type);
    const bst_ulong *shape = NULL;
    bst_ulong dim = 0;
    const float *res = NULL;
    int rc;
    if (type == 0) {
        rc = XGBoosterPredictFromDense(m->booster, arr, cfg, NULL, &shape, &dim, &res);
    } else {
        /* Contributions need a DMatrix in XGBoost 1.7. */
        DMatrixHandle d;
        rc = XGDMatrixCreateFromMat(rows, (bst_ulong)n, (bst_ulong)m->nfeatures, NAN, &d);
        if (rc == 0) {
            rc = XGBoosterPredictFromDMatrix(m->booster, d, cfg, &shape, &dim, &res);
            if (rc == 0)
                memcpy(out, res, sizeof(float) * n * per_row); /* before d is freed */
            XGDMatrixFree(d);
            res = NULL;
        }
    }
    if (rc != 0) {
        xgb_error(errstr, errstr_size, "model");
        return FW_ERR_INVALID;
    }
    if (res)
        memcpy(out, res, sizeof(float) * n * per_row);
    return FW_OK;
}

fw_err fw_model_predict(fw_model *m, const float *rows, size_t n, float *out, char *errstr,
                        size_t errstr_size) {
    if (m->trees) {
        fw_trees_predict(m->trees, rows, n, out);
        return FW_OK;
    }
    return predict(m, rows, n, 0, out, 1, errstr, errstr_size);
}

fw_err fw_model_contribs(fw_model *m, const float *rows, size_t n, bool approx, float *out,
                         char *errstr, size_t errstr_size) {
    if (!approx && m->explains) {
        fw_trees_contribs(m->trees, rows, n, out);
        return FW_OK;
    }
    /* Prediction types of XGBoost's C API: 2 contributions, 3 approximate ones. */
    return predict(m, rows, n, approx ? 3 : 2, out, m->nfeatures + 1, errstr, errstr_size);
}

void fw_train_params_defaults(fw_train_params *p) {
    /* Small trees: on generated data as accurate as 200 of depth 6 (docs/model.md)
     * and several times cheaper to score and explain in the engine. */
    *p = (fw_train_params){ .rounds = 100, .max_depth = 4, .eta = 0.2, .seed = 42 };
}

static bool set_param(BoosterHandle b, const char *k, const char *v, char *errstr,
                      size_t errstr_size) {
    if (XGBoosterSetParam(b, k, v) == 0)
        return true;
    xgb_error(errstr, errstr_size, k);
    return false;
}

fw_model *fw_model_train(const float *rows, const float *labels, size_t n, size_t nfeatures,
                         const char *const *names, const fw_train_params *p,
                         void (*progress)(void *opaque, int round, int rounds), void *opaque,
                         char *errstr, size_t errstr_size) {
    if (n == 0 || nfeatures == 0 || nfeatures > FW_MODEL_MAX_FEATURES) {
        snprintf(errstr, errstr_size, "train: %zu rows of %zu features: nothing to learn from",
                 n, nfeatures);
        return NULL;
    }
    double pos = 0;
    for (size_t i = 0; i < n; i++)
        pos += labels[i] > 0.5f;
    if (pos == 0 || pos == (double)n) {
        snprintf(errstr, errstr_size, "train: the training rows hold %s (need both classes)",
                 pos == 0 ? "no fraud" : "only fraud");
        return NULL;
    }
    fw_model *m = calloc(1, sizeof(*m));
    DMatrixHandle d = NULL;
    if (!m) {
        snprintf(errstr, errstr_size, "train: out of memory");
        return NULL;
    }
    if (XGDMatrixCreateFromMat(rows, (bst_ulong)n, (bst_ulong)nfeatures, NAN, &d) != 0 ||
        XGDMatrixSetFloatInfo(d, "label", labels, (bst_ulong)n) != 0 ||
        XGBoosterCreate(&d, 1, &m->booster) != 0 ||
        XGBoosterSetStrFeatureInfo(m->booster, "feature_name", (const char **)names,
                                   (bst_ulong)nfeatures) != 0) {
        xgb_error(errstr, errstr_size, "train");
        goto fail;
    }
    char v[64];
    double spw = p->scale_pos_weight > 0 ? p->scale_pos_weight : ((double)n - pos) / pos;
    snprintf(v, sizeof(v), "%d", p->max_depth);
    bool ok = set_param(m->booster, "objective", "binary:logistic", errstr, errstr_size) &&
              set_param(m->booster, "eval_metric", "aucpr", errstr, errstr_size) &&
              set_param(m->booster, "tree_method", "hist", errstr, errstr_size) &&
              set_param(m->booster, "max_depth", v, errstr, errstr_size);
    snprintf(v, sizeof(v), "%.17g", p->eta);
    ok = ok && set_param(m->booster, "eta", v, errstr, errstr_size);
    snprintf(v, sizeof(v), "%.17g", spw);
    ok = ok && set_param(m->booster, "scale_pos_weight", v, errstr, errstr_size);
    snprintf(v, sizeof(v), "%" PRIu64, p->seed);
    ok = ok && set_param(m->booster, "seed", v, errstr, errstr_size);
    if (p->threads > 0) {
        snprintf(v, sizeof(v), "%d", p->threads);
        ok = ok && set_param(m->booster, "nthread", v, errstr, errstr_size);
    }
    if (!ok)
        goto fail;
    for (int it = 0; it < p->rounds; it++) {
        if (XGBoosterUpdateOneIter(m->booster, it, d) != 0) {
            xgb_error(errstr, errstr_size, "train");
            goto fail;
        }
        if (progress)
            progress(opaque, it + 1, p->rounds);
    }
    XGDMatrixFree(d);
    d = NULL;
    if (!take_names(m, "train", errstr, errstr_size))
        goto fail;
    snprintf(m->id, sizeof(m->id), "trained");
    return m;
fail:
    if (d)
        XGDMatrixFree(d);
    fw_model_free(m);
    return NULL;
}

fw_err fw_model_save(fw_model *m, const char *path, char *errstr, size_t errstr_size) {
    const char *cfg = "{\"format\":\"json\"}";
    bst_ulong len = 0;
    const char *buf = NULL;
    if (XGBoosterSaveModelToBuffer(m->booster, cfg, &len, &buf) != 0) {
        xgb_error(errstr, errstr_size, path);
        return FW_ERR_INVALID;
    }
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 8);
    if (!tmp) {
        snprintf(errstr, errstr_size, "%s: out of memory", path);
        return FW_ERR_NOMEM;
    }
    snprintf(tmp, plen + 8, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    fw_err err = FW_OK;
    if (!f || fwrite(buf, 1, len, f) != len || fflush(f) != 0) {
        snprintf(errstr, errstr_size, "%s: %s", tmp, strerror(errno));
        err = FW_ERR_IO;
    }
    if (f && fclose(f) != 0 && !err) {
        snprintf(errstr, errstr_size, "%s: %s", tmp, strerror(errno));
        err = FW_ERR_IO;
    }
    if (!err && rename(tmp, path) != 0) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        err = FW_ERR_IO;
    }
    if (err)
        remove(tmp);
    else {
        const char *base = strrchr(path, '/');
        snprintf(m->id, sizeof(m->id), "%.100s@%016" PRIx64, base ? base + 1 : path,
                 fw_hash64(buf, len, 0x6d6f64656cULL));
    }
    free(tmp);
    return err;
}
