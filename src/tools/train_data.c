/* train_data.c — the input of `fraudwatch train` (train_int.h): a CSV with
 * seed 000's columns (V1..V28, Amount, Class) read as it is, or generated
 * NDJSON replayed through the pipeline of `run --input`, whose feature sink
 * on the engine receives the very vectors ml_score would score, computed by
 * the same code from the same state. Rows are held in one growing float
 * matrix, never one allocation per row; the columns trained on are chosen
 * last. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "fw_os.h"
#include "pipeline.h"
#include "profiles.h"
#include "progress.h"
#include "replay.h"
#include "report.h"
#include "rules_file.h"
#include "train_int.h"

void train_dataset_free(dataset *d) {
    free(d->x);
    free(d->y);
    free(d->scen);
    free(d->time);
    for (size_t i = 0; i < d->nscen; i++)
        free(d->scen_name[i]);
    memset(d, 0, sizeof(*d));
}

void *train_grow(void *p, size_t n, size_t size) {
    if (n && size > SIZE_MAX / n)
        fw_die_oom("train");
    void *q = realloc(p, n * size);
    if (!q)
        fw_die_oom("train");
    return q;
}

/* Appends a row labelled @p fraud; returns its width floats to fill. */
static float *dataset_push(dataset *d, bool fraud, bool with_scen, bool with_time) {
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 1u << 16;
        d->x = train_grow(d->x, d->cap, d->width * sizeof(float));
        d->y = train_grow(d->y, d->cap, sizeof(float));
        if (with_scen)
            d->scen = train_grow(d->scen, d->cap, sizeof(uint16_t));
        if (with_time)
            d->time = train_grow(d->time, d->cap, sizeof(double));
    }
    d->y[d->n] = fraud ? 1.0f : 0.0f;
    return d->x + d->n++ * d->width;
}

/* Keeps columns @p keep (ascending) of every row, moving rows down in place:
 * row r's new place never lies past its old one. */
static void dataset_select(dataset *d, const size_t *keep, size_t nkeep) {
    for (size_t r = 0; r < d->n; r++) {
        const float *src = d->x + r * d->width;
        float *dst = d->x + r * nkeep;
        for (size_t j = 0; j < nkeep; j++)
            dst[j] = src[keep[j]];
    }
    for (size_t j = 0; j < nkeep; j++)
        d->col[j] = d->col[keep[j]];
    d->width = nkeep;
    if (d->n) { /* hand the unused columns back before XGBoost copies the rows */
        float *x = realloc(d->x, d->n * nkeep * sizeof(float));
        if (x) {
            d->x = x;
            d->cap = d->n;
        }
    }
}

/* The index (1-based, 0 = legitimate) of a fraud row's scenario. */
static uint16_t scenario_index(dataset *d, fw_str name) {
    if (!name.ptr || !name.len)
        name = fw_str_c(FW_EVAL_UNNAMED_SCENARIO);
    for (size_t i = 0; i < d->nscen; i++)
        if (fw_str_eq_c(name, d->scen_name[i]))
            return (uint16_t)(i + 1);
    if (d->nscen == MAX_SCENARIOS) /* the last slot gathers every further name */
        name = fw_str_c("(other)");
    if (d->nscen > MAX_SCENARIOS)
        return (uint16_t)d->nscen;
    char *copy = malloc(name.len + 1);
    if (!copy)
        fw_die_oom("train");
    memcpy(copy, name.ptr, name.len);
    copy[name.len] = '\0';
    d->scen_name[d->nscen++] = copy;
    return (uint16_t)d->nscen;
}

/* ------------------------------------------------------------ format */

bool train_ends_with_ci(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    if (n < m)
        return false;
    for (size_t i = 0; i < m; i++)
        if (tolower((unsigned char)s[n - m + i]) != tolower((unsigned char)suffix[i]))
            return false;
    return true;
}

/* A .csv name, or a first non-blank line that is not a JSON object but has a
 * comma, is CSV; anything else goes to the JSON decoder. FMT_AUTO: the input
 * cannot be read twice (a pipe), so it cannot be guessed. */
static in_format detect_format(const char *path, FILE *f) {
    if (train_ends_with_ci(path, ".csv"))
        return FMT_CSV;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    in_format fmt = FMT_NDJSON;
    while ((n = getline(&line, &cap, f)) >= 0) {
        const char *p = line;
        if (n >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
            p += 3;
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (!*p)
            continue;
        if (*p != '{' && strchr(p, ','))
            fmt = FMT_CSV;
        break;
    }
    free(line);
    if (fseek(f, 0, SEEK_SET) != 0) /* a pipe: the line read is gone */
        return FMT_AUTO;
    clearerr(f);
    return fmt;
}

/* ------------------------------------------------------------ CSV */

/* Splits @p line in place into at most @p max cells: blanks around a cell and
 * one pair of double quotes ("" inside stands for one) are removed. @returns
 * the number of cells, or -1 for an unterminated quote. */
static int csv_split(char *line, char **cell, int max) {
    int n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        char *start = p, *end;
        if (*p == '"') {
            char *w = start;
            for (p++;; p++) {
                if (!*p)
                    return -1;
                if (*p == '"') {
                    if (p[1] != '"')
                        break;
                    p++;
                }
                *w++ = *p;
            }
            end = w;
            p++;
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p && *p != ',')
                return -1;
        } else {
            while (*p && *p != ',')
                p++;
            end = p;
            while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
        }
        char sep = *p;
        *end = '\0';
        if (n < max)
            cell[n] = start;
        n++;
        if (!sep)
            return n;
        p++;
    }
}

typedef enum csv_parse { CSV_OK, CSV_EMPTY, CSV_BAD } csv_parse;

static csv_parse csv_number(const char *s, double *out) {
    if (!*s)
        return CSV_EMPTY;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || isinf(v) || (errno == ERANGE && fabs(v) > 1))
        return CSV_BAD;
    *out = v;
    return CSV_OK;
}

#define CSV_MAX_COLS 4096

/* Reads the CSV at @p path into @p d: columns V1..V28 then Amount, in that
 * order whatever the file's order. @returns 0, or 1 after a message. */
static int read_csv(const train_opts *o, FILE *f, dataset *d, input_stats *st) {
    char *line = NULL, **cell = malloc(CSV_MAX_COLS * sizeof(char *));
    size_t cap = 0;
    ssize_t len;
    int rc = 1, ncols = 0;
    int feat_col[FW_F_AMOUNT + 1];   /* CSV column of each feature, -1: absent */
    int class_col = -1, time_col = -1;
    uint64_t header_line = 0;
    if (!cell)
        fw_die_oom("train");
    for (int k = 0; k <= FW_F_AMOUNT; k++)
        feat_col[k] = -1;
    fw_progress pr;
    fw_progress_init(&pr, "fraudwatch train: reading", NULL, fw_progress_file_size(f),
                     o->progress, fw_mono_s());
    char a[32];
    uint64_t bytes = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        st->lines++;
        bytes += (uint64_t)len;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        char *p = line;
        if (st->lines == 1 && len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
            p += 3; /* a byte-order mark, as spreadsheet exports write */
        size_t k = strspn(p, " \t");
        if (!p[k])
            continue;
        int n = csv_split(p, cell, CSV_MAX_COLS);
        if (n < 0) {
            train_fail("%s:%" PRIu64 ": unterminated quote", o->input, st->lines);
            goto out;
        }
        if (n > CSV_MAX_COLS) {
            train_fail("%s:%" PRIu64 ": %d columns, at most %d supported", o->input, st->lines, n,
                 CSV_MAX_COLS);
            goto out;
        }
        if (!header_line) { /* the header: find our columns */
            header_line = st->lines;
            ncols = n;
            for (int c = 0; c < n; c++) {
                int *slot = NULL;
                if (!strcmp(cell[c], "Class"))
                    slot = &class_col;
                else if (!strcmp(cell[c], "Time"))
                    slot = &time_col;
                else
                    for (int ft = 0; ft <= FW_F_AMOUNT; ft++)
                        if (!strcmp(cell[c], fw_feature_name((fw_feature)ft)))
                            slot = &feat_col[ft];
                if (!slot)
                    continue; /* a column we do not use */
                if (*slot >= 0) {
                    train_fail("%s:%" PRIu64 ": column %s appears twice in the header", o->input,
                         st->lines, cell[c]);
                    goto out;
                }
                *slot = c;
            }
            if (class_col < 0) {
                train_fail("%s:%" PRIu64 ": the CSV header has no Class column (the label: 1 = "
                     "fraud, 0 = legitimate); train needs it", o->input, st->lines);
                goto out;
            }
            d->width = 0;
            for (int ft = 0; ft <= FW_F_AMOUNT; ft++)
                if (feat_col[ft] >= 0)
                    d->col[d->width++] = (fw_feature)ft;
            if (!d->width) {
                train_fail("%s:%" PRIu64 ": the CSV header names no feature column: expected "
                     "V1..V28 and/or Amount", o->input, st->lines);
                goto out;
            }
            st->time_column = time_col >= 0;
            continue;
        }
        if (n != ncols) {
            train_fail("%s:%" PRIu64 ": %d cells, the header (line %" PRIu64 ") has %d", o->input,
                 st->lines, n, header_line, ncols);
            goto out;
        }
        double v;
        csv_parse cp = csv_number(cell[class_col], &v);
        if (cp != CSV_OK || (v != 0 && v != 1)) {
            train_fail("%s:%" PRIu64 ": column Class: expected 0 or 1, got \"%s\"", o->input,
                 st->lines, cell[class_col]);
            goto out;
        }
        float *row = dataset_push(d, v == 1, false, time_col >= 0);
        for (size_t j = 0; j < d->width; j++) {
            const char *s = cell[feat_col[d->col[j]]];
            double fv = NAN;
            cp = csv_number(s, &fv);
            if (cp == CSV_BAD || (cp == CSV_OK && !isnan(fv) && fabs(fv) > 3.4e38)) {
                train_fail("%s:%" PRIu64 ": column %s: not a number: \"%s\"", o->input, st->lines,
                     fw_feature_name(d->col[j]), s);
                goto out;
            }
            row[j] = cp == CSV_OK ? (float)fv : NAN; /* empty: missing */
        }
        if (time_col >= 0) {
            cp = csv_number(cell[time_col], &v);
            if (cp != CSV_OK || isnan(v)) {
                train_fail("%s:%" PRIu64 ": column Time: not a number: \"%s\"", o->input, st->lines,
                     cell[time_col]);
                goto out;
            }
            d->time[d->n - 1] = v;
        }
        st->records++;
        if ((st->records & 4095) == 0) { /* the clock, not every row */
            snprintf(a, sizeof(a), "%" PRIu64 " rows", st->records);
            fw_progress_update(&pr, bytes, fw_mono_s(), a);
        }
    }
    snprintf(a, sizeof(a), "%" PRIu64 " rows", st->records);
    fw_progress_end(&pr, bytes, fw_mono_s(), a);
    if (ferror(f)) {
        train_fail("error reading %s: %s", o->input, strerror(errno));
        goto out;
    }
    if (!header_line) {
        train_fail("%s: empty: no CSV header", o->input);
        goto out;
    }
    rc = 0;
out:
    free(line);
    free(cell);
    return rc;
}

typedef struct time_key {
    double t;
    size_t i;
} time_key;

static int by_time(const void *a, const void *b) {
    const time_key *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i); /* equal times keep file order */
}

/* Puts the rows in Time order (stable) unless they already are. */
static bool sort_by_time(dataset *d) {
    size_t i = 1;
    while (i < d->n && d->time[i - 1] <= d->time[i])
        i++;
    if (i >= d->n)
        return false;
    time_key *k = train_grow(NULL, d->n, sizeof(*k));
    for (i = 0; i < d->n; i++)
        k[i] = (time_key){ d->time[i], i };
    qsort(k, d->n, sizeof(*k), by_time);
    float *x = train_grow(NULL, d->n, d->width * sizeof(float));
    float *y = train_grow(NULL, d->n, sizeof(float));
    for (i = 0; i < d->n; i++) {
        memcpy(x + i * d->width, d->x + k[i].i * d->width, d->width * sizeof(float));
        y[i] = d->y[k[i].i];
        d->time[i] = k[i].t;
    }
    free(d->x);
    free(d->y);
    free(k);
    d->x = x;
    d->y = y;
    d->cap = d->n;
    return true;
}

/* ------------------------------------------------------------ NDJSON */

/* Where the feature sink puts its rows. */
typedef struct sink_ctx {
    dataset *d;
    input_stats *st;
    uint64_t unlabelled;        /* reached the sink without a label (also in st->unlabelled) */
} sink_ctx;

/* Every transaction reaching the ordered detectors, with the features ml_score
 * would score; the label comes from the original line. */
static void on_features(void *opaque, const fw_txn *t, const float *features) {
    sink_ctx *sc = opaque;
    fw_eval_line_labels ll;
    if (!t->raw_is_json || fw_eval_scan_labels(t->raw.ptr, t->raw.len, &ll) != FW_OK ||
        !ll.has_label) {
        sc->unlabelled++;
        return;
    }
    sc->st->v_mask |= t->v_mask;
    dataset *d = sc->d;
    uint16_t s = ll.is_fraud ? scenario_index(d, ll.scenario) : 0;
    float *row = dataset_push(d, ll.is_fraud, true, false);
    memcpy(row, features, FW_F__COUNT * sizeof(float));
    d->scen[d->n - 1] = s;
}

static int read_ndjson(const train_opts *o, FILE *f, const fw_rules *rules,
                       const fw_profiles *profiles, dataset *d, input_stats *st) {
    char errstr[512];
    fw_pipeline_conf pc = { .rules = *rules, .format = FW_INPUT_JSON,
                            .max_record_bytes = FW_TXN_DEFAULT_MAX_BYTES, .profiles = profiles };
    fw_replay r;
    if (fw_replay_init(&r, "train", o->input, &pc, NULL, errstr, sizeof(errstr)))
        return train_fail("%s", errstr);
    d->width = FW_F__COUNT;
    for (int k = 0; k < FW_F__COUNT; k++)
        d->col[k] = (fw_feature)k;
    sink_ctx sc = { .d = d, .st = st };
    fw_engine_set_feature_sink(fw_pipeline_engine(r.p), on_features, &sc);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    fw_progress pr;
    fw_progress_init(&pr, "fraudwatch train: replaying", NULL, fw_progress_file_size(f),
                     o->progress, fw_mono_s());
    char rows[48];
    uint64_t bytes = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        st->lines++;
        bytes += (uint64_t)n;
        size_t len = fw_line_record_len(line, (size_t)n);
        if (!len) /* as file mode: a blank line is no record */
            continue;
        /* Labels are looked at here too, so an unlabelled line can be named by
         * its line number; the sink reads them again from the record. */
        fw_eval_line_labels ll;
        if (fw_eval_scan_labels(line, len, &ll) == FW_OK && !ll.has_label &&
            !st->unlabelled++)
            st->first_unlabelled_line = st->lines;
        fw_replay_record(&r, line, len, (int64_t)st->lines);
        if ((st->lines & 4095) == 0) { /* the clock, not every line */
            snprintf(rows, sizeof(rows), "%" PRIu64 " lines, %zu rows", st->lines, d->n);
            fw_progress_update(&pr, bytes, fw_mono_s(), rows);
        }
    }
    int bad = ferror(f) ? errno : 0;
    fw_replay_finish(&r); /* releases the rows still held back */
    snprintf(rows, sizeof(rows), "%" PRIu64 " lines, %zu rows", st->lines, d->n);
    fw_progress_end(&pr, bytes, fw_mono_s(), rows);
    st->records = fw_pipeline_stats_get(r.p)->records;
    st->dead_letters = r.dead_letters;
    st->late = r.late;
    fw_replay_fini(&r);
    free(line);
    if (bad)
        return train_fail("error reading %s: %s", o->input, strerror(bad));
    if (st->unlabelled || sc.unlabelled) {
        uint64_t n_unl = st->unlabelled ? st->unlabelled : sc.unlabelled;
        char where[64] = "";
        if (st->first_unlabelled_line)
            snprintf(where, sizeof(where), ", the first at line %" PRIu64,
                     st->first_unlabelled_line);
        return train_fail("%s: %" PRIu64 " of %" PRIu64 " records carry no label (is_fraud or "
                    "scenario)%s; train needs labelled data as `fraudwatch generate` writes "
                    "it", o->input, n_unl, st->records, where);
    }
    return 0;
}

int train_choose_features(const train_opts *o, dataset *d, input_stats *st,
                          feature_set *chosen) {
    size_t keep[FW_F__COUNT], n = 0;
    feature_set fs = o->features;
    if (st->format == FMT_CSV) { /* load refused behavioural and all */
        *chosen = FEAT_V; /* the CSV's own columns, already V1..V28 then Amount */
        return 0;
    }
    if (fs == FEAT_AUTO)
        fs = st->v_mask ? FEAT_V : FEAT_BEHAVIOURAL;
    if (fs == FEAT_V && !st->v_mask)
        return train_fail("--features v: no record of %s carries V1..V28", o->input);
    for (size_t k = 0; k < FW_F__COUNT; k++) {
        bool take = fs == FEAT_ALL ||
                    (fs == FEAT_V && (k == FW_F_AMOUNT || (k < FW_F_AMOUNT &&
                                                          (st->v_mask >> k) & 1))) ||
                    (fs == FEAT_BEHAVIOURAL && k >= FW_F_AMOUNT);
        if (take)
            keep[n++] = k;
    }
    dataset_select(d, keep, n);
    *chosen = fs;
    return 0;
}

int train_load(const train_opts *o, dataset *d, input_stats *st) {
    char errstr[1024];
    FILE *f = fopen(o->input, "r");
    if (!f)
        return train_fail("cannot open input %s: %s", o->input, strerror(errno));
    st->format = o->format != FMT_AUTO ? o->format : detect_format(o->input, f);
    if (st->format == FMT_AUTO) {
        fclose(f);
        return train_usage_error("%s cannot be read twice to guess its format: give --format "
                           "ndjson or csv", o->input);
    }
    if (st->format == FMT_CSV && (o->rules_file || o->profiles_file)) {
        fclose(f);
        return train_usage_error("--rules and --profiles apply to NDJSON input; %s is read as CSV",
                           o->input);
    }
    if (st->format == FMT_CSV && (o->features == FEAT_BEHAVIOURAL || o->features == FEAT_ALL)) {
        fclose(f);
        return train_usage_error("--features %s needs NDJSON input: the behavioural features come "
                           "from replaying transactions through the engine, and %s is read "
                           "as CSV", train_feature_set_names[o->features], o->input);
    }
    double t0 = fw_mono_s();
    int rc;
    if (st->format == FMT_CSV) {
        rc = read_csv(o, f, d, st);
        if (!rc && st->time_column)
            st->reordered = sort_by_time(d);
    } else {
        fw_rules rules;
        fw_rules_defaults(&rules);
        fw_profiles *profiles = fw_profiles_new();
        if (!profiles)
            fw_die_oom("train");
        if (o->rules_file &&
            fw_rules_load_file(&rules, o->rules_file, errstr, sizeof(errstr)) != FW_OK)
            rc = train_usage_error("%s", errstr);
        else if (o->profiles_file && fw_profiles_load_file(profiles, o->profiles_file, errstr,
                                                           sizeof(errstr)) != FW_OK)
            rc = train_usage_error("%s", errstr);
        else
            rc = read_ndjson(o, f, &rules, profiles, d, st);
        fw_profiles_destroy(profiles);
    }
    fclose(f);
    st->seconds = fw_mono_s() - t0;
    return rc;
}

