/* train.c — `fraudwatch train`: fits the XGBoost model that ml_score uses on
 * labelled data and measures it on the held-out, later part of that data.
 *
 * A CSV with seed 000's columns (V1..V28, Amount, Class) is read as it is.
 * Generated NDJSON is replayed through the pipeline of `run --input`, and a
 * feature sink on the engine receives the very vectors ml_score would score,
 * computed by the same code from the same state: training and scoring cannot
 * drift apart. Rows are held in one growing float matrix, never one
 * allocation per row. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "report.h"
#include "eval.h"
#include "fw_os.h"
#include "ml_features.h"
#include "ml_metrics.h"
#include "model.h"
#include "pipeline.h"
#include "profiles.h"
#include "replay.h"
#include "rules_file.h"

#define MIN_PART_ROWS 100         /* fewer rows in the training or test part: refused */
#define PREDICT_BATCH 4096        /* rows per fw_model_predict call, as in the engine */
#define PROGRESS_ROUNDS 10        /* boosting rounds between progress lines */
#define MAX_FPR 0.01              /* the false-positive budget of "recall at 1 % FPR" */
#define ML_THRESHOLD 0.8f         /* ml_score's default FRAUD_THRESHOLD */
#define MAX_SCENARIOS 1000        /* distinct scenario names kept; the rest: "(other)" */

static const char train_help[] =
    "Usage: fraudwatch train --input FILE [OPTIONS]\n"
    "\n"
    "Trains the XGBoost model of the ml_score rule (binary:logistic, hist trees)\n"
    "on labelled data, measures it on a held-out part and saves it as XGBoost JSON\n"
    "with its feature names, plus a .meta.json file with the feature list, the\n"
    "parameters and the figures.\n"
    "\n"
    "Input:\n"
    "  -i, --input FILE         labelled data: NDJSON as `fraudwatch generate` writes\n"
    "                           it, or a CSV with seed 000's columns\n"
    "      --format F           auto (default: a .csv name or a first line that is\n"
    "                           not a JSON object but holds a comma means CSV;\n"
    "                           a pipe such as /dev/stdin needs ndjson or csv)\n"
    "  CSV: a header naming Class (1 = fraud, 0 = legitimate; required) and any of\n"
    "       V1..V28 and Amount (at least one); quoted names and values as pandas and\n"
    "       Kaggle's creditcard.csv write them are fine, other columns are ignored.\n"
    "       An empty or NaN feature cell is a missing value; any other cell that is\n"
    "       not a number fails with its file:line and column. With a Time column\n"
    "       rows are put in Time order (stable), else kept in file order.\n"
    "  NDJSON: each line is replayed through the same pipeline as\n"
    "       `fraudwatch run --input` (same rule defaults, --rules, --profiles) and the\n"
    "       engine hands over each transaction's feature vector as ml_score sees it:\n"
    "       computed from the customer's history just before the transaction, in\n"
    "       event-time order. The label is is_fraud (or a scenario). A decodable line\n"
    "       without a label is an error (count and first line are named): training\n"
    "       on it as legitimate would teach the model wrong. Malformed lines are\n"
    "       dead letters, counted and skipped; late records never reach the\n"
    "       detectors and are skipped. Password changes and logins are no rows:\n"
    "       ml_score does not score them (their effect shows in later rows).\n"
    "\n"
    "Features and split:\n"
    "      --features SET       auto (default), v, behavioural or all:\n"
    "                           v: the V1..V28 columns present, then Amount\n"
    "                           behavioural (NDJSON only): Amount and the features\n"
    "                           the engine computes from history (docs/model.md)\n"
    "                           all (NDJSON only): every feature the engine computes\n"
    "                           auto: v when the data has V values, else behavioural\n"
    "      --test-fraction F    the last F of the rows in time order are held out\n"
    "                           for the figures (default 0.2; 0 < F < 1)\n"
    "\n"
    "XGBoost parameters:\n"
    "      --rounds N           boosting rounds (default 100)\n"
    "      --max-depth N        tree depth (default 4)\n"
    "      --eta X              learning rate (default 0.2)\n"
    "      --scale-pos-weight W weight of a fraud row (default: the square root of\n"
    "                           legitimate rows / fraud rows of the training part)\n"
    "      --threads N          XGBoost threads (default 0: all cores)\n"
    "      --seed N             random seed (default 42)\n"
    "\n"
    "Output:\n"
    "  -o, --output FILE        the model (default model.json); the metadata goes\n"
    "                           next to it as FILE minus .json plus .meta.json\n"
    "  -r, --rules FILE         NDJSON: rules file over the built-in defaults, as\n"
    "                           `run --rules`\n"
    "      --profiles FILE      NDJSON: customer profiles, as `run --profiles`\n"
    "      --json               print the report as one JSON object (the .meta.json\n"
    "                           content) instead of the table\n"
    "  -q, --quiet              no progress lines on stderr\n"
    "  -h, --help               this text\n"
    "\n"
    "Figures (on the held-out part; a row is flagged when its score >= threshold):\n"
    "  AUPRC            average precision: sum over score steps of recall gained x\n"
    "                   precision; the figure to watch when fraud is rare\n"
    "  ROC-AUC          chance that a fraud row outscores a legitimate one (ties\n"
    "                   one half)\n"
    "  recall at 1% FPR the recall of the lowest threshold that flags at most 1% of\n"
    "                   the legitimate rows, and that threshold\n"
    "  at 0.5, at 0.8   precision and recall at those thresholds (0.8 is ml_score's\n"
    "                   default FRAUD_THRESHOLD)\n"
    "  NDJSON also gets recall per fraud scenario at those thresholds.\n"
    "Refused (exit 1): a training or test part with fewer than 100 rows or\n"
    "without fraud.\n"
    "\n"
    "Exit status: 0 done, 1 failure (unreadable, unlabelled or unusable data,\n"
    "XGBoost error, cannot write), 2 usage error.\n";

typedef enum in_format { FMT_AUTO, FMT_NDJSON, FMT_CSV } in_format;
typedef enum feature_set { FEAT_AUTO, FEAT_V, FEAT_BEHAVIOURAL, FEAT_ALL } feature_set;

static const char *const format_names[] = { "auto", "ndjson", "csv" };
static const char *const feature_set_names[] = { "auto", "v", "behavioural", "all" };

typedef struct train_opts {
    const char *input, *output, *rules_file, *profiles_file;
    in_format format;
    feature_set features;
    double test_fraction;
    fw_train_params params;
    bool spw_given, json, quiet;
} train_opts;

/* ------------------------------------------------------------ small helpers */

static void die_oom(void) {
    fprintf(stderr, "fraudwatch train: out of memory\n");
    exit(1);
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("fraudwatch train: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

static const char *num_str(double v, char *out, size_t size) {
    if (isnan(v))
        snprintf(out, size, "undefined");
    else
        snprintf(out, size, "%.4f", v);
    return out;
}

/* A float score as its shortest decimal (0.8, not 0.800000011920929). */
static void json_float(fw_buf *b, float v) {
    if (!isfinite(v)) {
        fw_buf_puts(b, "null");
        return;
    }
    char s[32];
    for (int p = 1; p <= 9; p++) {
        snprintf(s, sizeof(s), "%.*g", p, (double)v);
        if (strtof(s, NULL) == v)
            break;
    }
    fw_buf_puts(b, s);
}

/* ------------------------------------------------------------ the data set */

/* Rows in input (CSV) or event-time (NDJSON) order. */
typedef struct dataset {
    float *x;                 /* n x width floats, row-major, NaN = missing */
    float *y;                 /* 1 fraud, 0 legitimate */
    uint16_t *scen;           /* NDJSON: 0 legitimate, else 1 + scenario index */
    double *time;             /* CSV with a Time column */
    size_t n, cap, width;
    fw_feature col[FW_F__COUNT]; /* the feature held in each column */
    char *scen_name[MAX_SCENARIOS + 1];
    size_t nscen;
} dataset;

static void dataset_free(dataset *d) {
    free(d->x);
    free(d->y);
    free(d->scen);
    free(d->time);
    for (size_t i = 0; i < d->nscen; i++)
        free(d->scen_name[i]);
    memset(d, 0, sizeof(*d));
}

static void *grow(void *p, size_t n, size_t size) {
    if (n && size > SIZE_MAX / n)
        die_oom();
    void *q = realloc(p, n * size);
    if (!q)
        die_oom();
    return q;
}

/* Appends a row labelled @p fraud; returns its width floats to fill. */
static float *dataset_push(dataset *d, bool fraud, bool with_scen, bool with_time) {
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 1u << 16;
        d->x = grow(d->x, d->cap, d->width * sizeof(float));
        d->y = grow(d->y, d->cap, sizeof(float));
        if (with_scen)
            d->scen = grow(d->scen, d->cap, sizeof(uint16_t));
        if (with_time)
            d->time = grow(d->time, d->cap, sizeof(double));
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
        die_oom();
    memcpy(copy, name.ptr, name.len);
    copy[name.len] = '\0';
    d->scen_name[d->nscen++] = copy;
    return (uint16_t)d->nscen;
}

/* What the reading step saw, for the report. */
typedef struct input_stats {
    in_format format;
    uint64_t lines, records, dead_letters, late;
    uint64_t unlabelled;              /* NDJSON: decodable lines without a label */
    uint64_t first_unlabelled_line;
    uint32_t v_mask;                  /* NDJSON: V columns seen in any record */
    bool time_column, reordered;      /* CSV */
    double seconds;
} input_stats;

/* ------------------------------------------------------------ format */

static bool ends_with_ci(const char *s, const char *suffix) {
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
    if (ends_with_ci(path, ".csv"))
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
        die_oom();
    for (int k = 0; k <= FW_F_AMOUNT; k++)
        feat_col[k] = -1;
    fw_progress progress;
    fw_progress_init(&progress);
    char a[32];
    while ((len = getline(&line, &cap, f)) >= 0) {
        st->lines++;
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
            fail("%s:%" PRIu64 ": unterminated quote", o->input, st->lines);
            goto out;
        }
        if (n > CSV_MAX_COLS) {
            fail("%s:%" PRIu64 ": %d columns, at most %d supported", o->input, st->lines, n,
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
                    fail("%s:%" PRIu64 ": column %s appears twice in the header", o->input,
                         st->lines, cell[c]);
                    goto out;
                }
                *slot = c;
            }
            if (class_col < 0) {
                fail("%s:%" PRIu64 ": the CSV header has no Class column (the label: 1 = "
                     "fraud, 0 = legitimate); train needs it", o->input, st->lines);
                goto out;
            }
            d->width = 0;
            for (int ft = 0; ft <= FW_F_AMOUNT; ft++)
                if (feat_col[ft] >= 0)
                    d->col[d->width++] = (fw_feature)ft;
            if (!d->width) {
                fail("%s:%" PRIu64 ": the CSV header names no feature column: expected "
                     "V1..V28 and/or Amount", o->input, st->lines);
                goto out;
            }
            st->time_column = time_col >= 0;
            continue;
        }
        if (n != ncols) {
            fail("%s:%" PRIu64 ": %d cells, the header (line %" PRIu64 ") has %d", o->input,
                 st->lines, n, header_line, ncols);
            goto out;
        }
        double v;
        csv_parse cp = csv_number(cell[class_col], &v);
        if (cp != CSV_OK || (v != 0 && v != 1)) {
            fail("%s:%" PRIu64 ": column Class: expected 0 or 1, got \"%s\"", o->input,
                 st->lines, cell[class_col]);
            goto out;
        }
        float *row = dataset_push(d, v == 1, false, time_col >= 0);
        for (size_t j = 0; j < d->width; j++) {
            const char *s = cell[feat_col[d->col[j]]];
            double fv = NAN;
            cp = csv_number(s, &fv);
            if (cp == CSV_BAD || (cp == CSV_OK && !isnan(fv) && fabs(fv) > 3.4e38)) {
                fail("%s:%" PRIu64 ": column %s: not a number: \"%s\"", o->input, st->lines,
                     fw_feature_name(d->col[j]), s);
                goto out;
            }
            row[j] = cp == CSV_OK ? (float)fv : NAN; /* empty: missing */
        }
        if (time_col >= 0) {
            cp = csv_number(cell[time_col], &v);
            if (cp != CSV_OK || isnan(v)) {
                fail("%s:%" PRIu64 ": column Time: not a number: \"%s\"", o->input, st->lines,
                     cell[time_col]);
                goto out;
            }
            d->time[d->n - 1] = v;
        }
        st->records++;
        if (!o->quiet && fw_progress_due(&progress, st->records))
            fprintf(stderr, "fraudwatch train: %s rows read\n",
                    fw_count_str(st->records, a, sizeof(a)));
    }
    if (ferror(f)) {
        fail("error reading %s: %s", o->input, strerror(errno));
        goto out;
    }
    if (!header_line) {
        fail("%s: empty: no CSV header", o->input);
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
    time_key *k = grow(NULL, d->n, sizeof(*k));
    for (i = 0; i < d->n; i++)
        k[i] = (time_key){ d->time[i], i };
    qsort(k, d->n, sizeof(*k), by_time);
    float *x = grow(NULL, d->n, d->width * sizeof(float));
    float *y = grow(NULL, d->n, sizeof(float));
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
        return fail("%s", errstr);
    d->width = FW_F__COUNT;
    for (int k = 0; k < FW_F__COUNT; k++)
        d->col[k] = (fw_feature)k;
    sink_ctx sc = { .d = d, .st = st };
    fw_engine_set_feature_sink(fw_pipeline_engine(r.p), on_features, &sc);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    fw_progress progress;
    fw_progress_init(&progress);
    char a[32], b[32];
    while ((n = getline(&line, &cap, f)) >= 0) {
        st->lines++;
        size_t len = (size_t)n;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        size_t k = 0;
        while (k < len && (line[k] == ' ' || line[k] == '\t'))
            k++;
        if (k == len) /* as file mode: a blank line is no record */
            continue;
        /* Labels are looked at here too, so an unlabelled line can be named by
         * its line number; the sink reads them again from the record. */
        fw_eval_line_labels ll;
        if (fw_eval_scan_labels(line, len, &ll) == FW_OK && !ll.has_label &&
            !st->unlabelled++)
            st->first_unlabelled_line = st->lines;
        fw_replay_record(&r, line, len, (int64_t)st->lines);
        if (!o->quiet && fw_progress_due(&progress, st->lines))
            fprintf(stderr, "fraudwatch train: %s lines replayed, %s rows\n",
                    fw_count_str(st->lines, a, sizeof(a)), fw_count_str(d->n, b, sizeof(b)));
    }
    int bad = ferror(f) ? errno : 0;
    fw_replay_finish(&r);
    st->records = fw_pipeline_stats_get(r.p)->records;
    st->dead_letters = r.dead_letters;
    st->late = r.late;
    fw_replay_fini(&r);
    free(line);
    if (bad)
        return fail("error reading %s: %s", o->input, strerror(bad));
    if (st->unlabelled || sc.unlabelled) {
        uint64_t n_unl = st->unlabelled ? st->unlabelled : sc.unlabelled;
        char where[64] = "";
        if (st->first_unlabelled_line)
            snprintf(where, sizeof(where), ", the first at line %" PRIu64,
                     st->first_unlabelled_line);
        return fail("%s: %" PRIu64 " of %" PRIu64 " records carry no label (is_fraud or "
                    "scenario)%s; train needs labelled data as `fraudwatch generate` writes "
                    "it", o->input, n_unl, st->records, where);
    }
    return 0;
}

/* ------------------------------------------------------------ features */

/* Chooses the columns to train on; @returns 0, or 1 after a message. */
static int choose_features(const train_opts *o, dataset *d, input_stats *st,
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
        return fail("--features v: no record of %s carries V1..V28", o->input);
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

/* ------------------------------------------------------------ figures */

typedef struct scen_fig {
    uint64_t rows, at_fpr, at_half, at_ml;   /* held-out rows; caught at each threshold */
} scen_fig;

typedef struct result {
    size_t ntrain, ntest, train_fraud, test_fraud;
    double spw, train_seconds;
    fw_ml_summary sum;
    fw_ml_confusion at[2];     /* at 0.5 and at ML_THRESHOLD */
    scen_fig *scen;            /* d->nscen entries (NDJSON) */
} result;

typedef struct progress_ctx {
    bool quiet;
    double t0;
} progress_ctx;

static void on_round(void *opaque, int round, int rounds) {
    progress_ctx *pc = opaque;
    if (!pc->quiet && (round % PROGRESS_ROUNDS == 0 || round == rounds))
        fprintf(stderr, "fraudwatch train: round %d/%d (%.1f s)\n", round, rounds,
                fw_mono_s() - pc->t0);
}

/* Trains on the first rows, scores the rest; @returns the model or NULL. */
static fw_model *train_and_score(const train_opts *o, const dataset *d, result *r,
                                 float **scores_out) {
    char errstr[1024];
    const char *names[FW_F__COUNT];
    for (size_t j = 0; j < d->width; j++)
        names[j] = fw_feature_name(d->col[j]);
    fw_train_params p = o->params;
    p.scale_pos_weight = r->spw;
    progress_ctx pc = { .quiet = o->quiet, .t0 = fw_mono_s() };
    if (!o->quiet)
        fprintf(stderr, "fraudwatch train: training on %zu rows x %zu features, %d rounds\n",
                r->ntrain, d->width, p.rounds);
    fw_model *m = fw_model_train(d->x, d->y, r->ntrain, d->width, names, &p, on_round, &pc,
                                 errstr, sizeof(errstr));
    r->train_seconds = fw_mono_s() - pc.t0;
    if (!m) {
        fail("%s", errstr);
        return NULL;
    }
    float *scores = grow(NULL, r->ntest ? r->ntest : 1, sizeof(float));
    const float *test = d->x + r->ntrain * d->width;
    for (size_t i = 0; i < r->ntest; i += PREDICT_BATCH) {
        size_t k = r->ntest - i < PREDICT_BATCH ? r->ntest - i : PREDICT_BATCH;
        if (fw_model_predict(m, test + i * d->width, k, scores + i, errstr, sizeof(errstr))) {
            fail("scoring the held-out rows: %s", errstr);
            free(scores);
            fw_model_free(m);
            return NULL;
        }
    }
    *scores_out = scores;
    return m;
}

static void compute_figures(const dataset *d, const float *scores, result *r) {
    const float *y = d->y + r->ntrain;
    if (fw_ml_summarize(scores, y, r->ntest, MAX_FPR, &r->sum) != FW_OK)
        die_oom();
    r->at[0] = fw_ml_at_threshold(scores, y, r->ntest, 0.5f);
    r->at[1] = fw_ml_at_threshold(scores, y, r->ntest, ML_THRESHOLD);
    if (!d->scen || !d->nscen)
        return;
    r->scen = calloc(d->nscen, sizeof(*r->scen));
    if (!r->scen)
        die_oom();
    float fpr_thr = r->sum.at_fpr.threshold;
    for (size_t i = 0; i < r->ntest; i++) {
        uint16_t s = d->scen[r->ntrain + i];
        if (!s)
            continue;
        scen_fig *f = &r->scen[s - 1];
        f->rows++;
        f->at_fpr += scores[i] >= fpr_thr;
        f->at_half += scores[i] >= 0.5f;
        f->at_ml += scores[i] >= ML_THRESHOLD;
    }
}

/* ------------------------------------------------------------ report */

static void json_confusion(fw_buf *b, const fw_ml_confusion *c) {
    fw_buf_puts(b, "{\"threshold\":");
    json_float(b, c->threshold);
    fw_buf_printf(b, ",\"tp\":%" PRIu64 ",\"fp\":%" PRIu64 ",\"fn\":%" PRIu64 ",\"tn\":%" PRIu64
                     ",\"precision\":", c->tp, c->fp, c->fn, c->tn);
    fw_json_num(b, c->precision);
    fw_buf_puts(b, ",\"recall\":");
    fw_json_num(b, c->recall);
    fw_buf_puts(b, ",\"fpr\":");
    fw_json_num(b, c->fpr);
    fw_buf_putc(b, '}');
}

static double ratio(uint64_t a, uint64_t b) { return b ? (double)a / (double)b : NAN; }

/* The .meta.json document, also what --json prints. */
static void json_report(fw_buf *b, const train_opts *o, const dataset *d,
                        const input_stats *st, feature_set fs, const result *r,
                        const char *meta_path) {
    fw_buf_puts(b, "{\"model\":");
    fw_buf_json_str(b, fw_str_c(o->output));
    fw_buf_puts(b, ",\"model_format\":\"xgboost-json\",\"meta\":");
    fw_buf_json_str(b, fw_str_c(meta_path));
    fw_buf_puts(b, ",\"features\":[");
    for (size_t j = 0; j < d->width; j++) {
        fw_buf_puts(b, j ? "," : "");
        fw_buf_json_str(b, fw_str_c(fw_feature_name(d->col[j])));
    }
    fw_buf_printf(b, "],\"feature_set\":\"%s\",\"input\":{\"file\":", feature_set_names[fs]);
    fw_buf_json_str(b, fw_str_c(o->input));
    fw_buf_printf(b, ",\"format\":\"%s\",\"lines\":%" PRIu64 ",\"records\":%" PRIu64
                     ",\"rows\":%zu,\"fraud_rows\":%zu",
                  format_names[st->format], st->lines, st->records, d->n,
                  r->train_fraud + r->test_fraud);
    if (st->format == FMT_CSV)
        fw_buf_printf(b, ",\"time_column\":%s,\"reordered_by_time\":%s",
                      st->time_column ? "true" : "false", st->reordered ? "true" : "false");
    else
        fw_buf_printf(b, ",\"dead_letters\":%" PRIu64 ",\"late\":%" PRIu64 ",\"rules\":",
                      st->dead_letters, st->late);
    if (st->format == FMT_NDJSON) {
        if (o->rules_file)
            fw_buf_json_str(b, fw_str_c(o->rules_file));
        else
            fw_buf_puts(b, "null");
        fw_buf_puts(b, ",\"profiles\":");
        if (o->profiles_file)
            fw_buf_json_str(b, fw_str_c(o->profiles_file));
        else
            fw_buf_puts(b, "null");
    }
    fw_buf_puts(b, "},\"split\":{\"order\":");
    fw_buf_puts(b, st->format == FMT_NDJSON ? "\"event time\"" : st->time_column ? "\"Time\""
                                                                                : "\"file\"");
    fw_buf_puts(b, ",\"test_fraction\":");
    fw_json_num(b, o->test_fraction);
    fw_buf_printf(b, ",\"train_rows\":%zu,\"train_fraud\":%zu,\"test_rows\":%zu,"
                     "\"test_fraud\":%zu},\"parameters\":{\"objective\":\"binary:logistic\","
                     "\"tree_method\":\"hist\",\"rounds\":%d,\"max_depth\":%d,\"eta\":",
                  r->ntrain, r->train_fraud, r->ntest, r->test_fraud, o->params.rounds,
                  o->params.max_depth);
    fw_json_num(b, o->params.eta);
    fw_buf_puts(b, ",\"scale_pos_weight\":");
    fw_json_num(b, r->spw);
    fw_buf_printf(b, ",\"scale_pos_weight_from\":\"%s\",\"threads\":%d,\"seed\":%" PRIu64 "}",
                  o->spw_given ? "option" : "sqrt(legitimate/fraud rows of the training part)",
                  o->params.threads, o->params.seed);
    fw_buf_printf(b, ",\"metrics\":{\"on\":\"held-out part\",\"defined\":%s,\"auprc\":",
                  r->sum.defined ? "true" : "false");
    fw_json_num(b, r->sum.auprc);
    fw_buf_puts(b, ",\"roc_auc\":");
    fw_json_num(b, r->sum.roc_auc);
    const fw_ml_at_fpr *af = &r->sum.at_fpr;
    fw_buf_puts(b, ",\"recall_at_fpr\":{\"max_fpr\":");
    fw_json_num(b, af->max_fpr);
    fw_buf_puts(b, ",\"recall\":");
    fw_json_num(b, af->recall);
    fw_buf_puts(b, ",\"fpr\":");
    fw_json_num(b, af->fpr);
    fw_buf_puts(b, ",\"threshold\":");
    json_float(b, af->threshold);
    fw_buf_printf(b, ",\"tp\":%" PRIu64 ",\"fp\":%" PRIu64 "},\"at_threshold\":[", af->tp,
                  af->fp);
    json_confusion(b, &r->at[0]);
    fw_buf_putc(b, ',');
    json_confusion(b, &r->at[1]);
    fw_buf_puts(b, "]}");
    if (r->scen) {
        fw_buf_puts(b, ",\"scenarios\":[");
        for (size_t s = 0; s < d->nscen; s++) {
            const scen_fig *f = &r->scen[s];
            fw_buf_puts(b, s ? ",{\"name\":" : "{\"name\":");
            fw_buf_json_str(b, fw_str_c(d->scen_name[s]));
            fw_buf_printf(b, ",\"test_rows\":%" PRIu64 ",\"recall_at_fpr\":", f->rows);
            fw_json_num(b, ratio(f->at_fpr, f->rows));
            fw_buf_puts(b, ",\"recall_at_0_5\":");
            fw_json_num(b, ratio(f->at_half, f->rows));
            fw_buf_puts(b, ",\"recall_at_0_8\":");
            fw_json_num(b, ratio(f->at_ml, f->rows));
            fw_buf_putc(b, '}');
        }
        fw_buf_putc(b, ']');
    }
    fw_buf_puts(b, ",\"seconds\":{\"read\":");
    fw_json_num(b, st->seconds);
    fw_buf_puts(b, ",\"train\":");
    fw_json_num(b, r->train_seconds);
    fw_buf_puts(b, "}}");
}

static void print_report(FILE *out, const train_opts *o, const dataset *d,
                         const input_stats *st, feature_set fs, const result *r,
                         const char *meta_path) {
    char a[32], b[32], c[32], e[32];
    fprintf(out, "fraudwatch train: %s (%s", o->input, format_names[st->format]);
    if (st->format == FMT_NDJSON)
        fprintf(out, ", %s records, %s dead letters, %s late", fw_count_str(st->records, a, 32),
                fw_count_str(st->dead_letters, b, 32), fw_count_str(st->late, c, 32));
    else if (st->time_column)
        fprintf(out, ", %s by Time", st->reordered ? "reordered" : "already in order");
    fprintf(out, ")\n\n");
    fprintf(out, "  features     %zu (%s): ", d->width, feature_set_names[fs]);
    for (size_t j = 0; j < d->width; j++)
        fprintf(out, "%s%s", j ? ", " : "", fw_feature_name(d->col[j]));
    fprintf(out, "\n  training     first %s rows, %s fraud\n", fw_count_str(r->ntrain, a, 32),
            fw_count_str(r->train_fraud, b, 32));
    fprintf(out, "  held out     last %s rows (%.0f%%, in %s order), %s fraud\n",
            fw_count_str(r->ntest, a, 32), 100 * o->test_fraction,
            st->format == FMT_NDJSON ? "event-time" : st->time_column ? "Time" : "file",
            fw_count_str(r->test_fraud, b, 32));
    char threads[16] = "all";
    if (o->params.threads)
        snprintf(threads, sizeof(threads), "%d", o->params.threads);
    fprintf(out, "  parameters   %d rounds, max_depth %d, eta %g, scale_pos_weight %.4g%s, "
                 "threads %s, seed %" PRIu64 "\n", o->params.rounds, o->params.max_depth,
            o->params.eta, r->spw, o->spw_given ? "" : " (sqrt of legitimate/fraud rows)", threads,
            o->params.seed);
    fprintf(out, "  time         read %.2f s, train %.2f s\n", st->seconds, r->train_seconds);

    fprintf(out, "\nHeld-out figures:\n");
    if (!r->sum.defined)
        fprintf(out, "  (undefined: the held-out part holds one class only)\n");
    fprintf(out, "  AUPRC (average precision)  %s\n", num_str(r->sum.auprc, a, 32));
    fprintf(out, "  ROC-AUC                    %s\n", num_str(r->sum.roc_auc, a, 32));
    const fw_ml_at_fpr *af = &r->sum.at_fpr;
    fprintf(out, "  recall at 1%% FPR           %s (score >= %.6g: %s TP, %s FP, FPR %s)\n",
            fw_pct_str(af->recall, a, 32), af->threshold, fw_count_str(af->tp, b, 32),
            fw_count_str(af->fp, c, 32), fw_pct_str(af->fpr, e, 32));
    for (int k = 0; k < 2; k++) {
        const fw_ml_confusion *cf = &r->at[k];
        char name[32];
        snprintf(name, sizeof(name), "at score >= %.1f", cf->threshold);
        char fn[32];
        fprintf(out, "  %-26s precision %s, recall %s (%s TP, %s FP, %s FN)\n", name,
                fw_pct_str(cf->precision, a, 32), fw_pct_str(cf->recall, b, 32),
                fw_count_str(cf->tp, c, 32), fw_count_str(cf->fp, e, 32),
                fw_count_str(cf->fn, fn, sizeof(fn)));
    }
    if (r->scen) {
        size_t w = 8;
        for (size_t s = 0; s < d->nscen; s++)
            if (strlen(d->scen_name[s]) > w)
                w = strlen(d->scen_name[s]);
        fprintf(out, "\nHeld-out fraud per scenario (recall):\n");
        fprintf(out, "  %-*s  %10s  %10s  %8s  %8s\n", (int)w, "scenario", "fraud txns",
                "at 1% FPR", "at 0.5", "at 0.8");
        for (size_t s = 0; s < d->nscen; s++) {
            const scen_fig *f = &r->scen[s];
            fprintf(out, "  %-*s  %10s  %10s  %8s  %8s\n", (int)w, d->scen_name[s],
                    fw_count_str(f->rows, a, 32), fw_pct_str(ratio(f->at_fpr, f->rows), b, 32),
                    fw_pct_str(ratio(f->at_half, f->rows), c, 32),
                    fw_pct_str(ratio(f->at_ml, f->rows), e, 32));
        }
    }
    fprintf(out, "\nModel:     %s\nMetadata:  %s\n", o->output, meta_path);
}

/* Writes @p b to @p path through a temporary file, as the model is. */
static bool write_file(const char *path, const fw_buf *b) {
    size_t n = strlen(path) + 8;
    char *tmp = malloc(n);
    if (!tmp)
        die_oom();
    snprintf(tmp, n, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    bool ok = f && fwrite(b->data, 1, b->len, f) == b->len && fputc('\n', f) != EOF;
    if (f && fclose(f) != 0)
        ok = false;
    if (ok && rename(tmp, path) != 0)
        ok = false;
    if (!ok) {
        fail("cannot write %s: %s", path, strerror(errno));
        remove(tmp);
    }
    free(tmp);
    return ok;
}

/* "model.json" → "model.meta.json"; "model" → "model.meta.json". */
static char *meta_path_of(const char *model) {
    size_t n = strlen(model);
    if (ends_with_ci(model, ".json"))
        n -= 5;
    char *p = malloc(n + 11);
    if (!p)
        die_oom();
    memcpy(p, model, n);
    memcpy(p + n, ".meta.json", 11);
    return p;
}

/* ------------------------------------------------------------ command */

enum {
    OPT_FORMAT = 256, OPT_TEST_FRACTION, OPT_ROUNDS, OPT_MAX_DEPTH, OPT_ETA, OPT_SPW,
    OPT_THREADS, OPT_SEED, OPT_FEATURES, OPT_JSON, OPT_PROFILES
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("fraudwatch train: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n(see fraudwatch train --help)\n", stderr);
    return 2;
}

static bool parse_double(const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool parse_int(const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static int pick(const char *s, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i]))
            return i;
    return -1;
}

/* Parses the options into @p o; @returns -1 to go on, else the exit status. */
static int parse_opts(int argc, char **argv, train_opts *o) {
    static const struct option opts[] = {
        { "input", required_argument, NULL, 'i' },
        { "output", required_argument, NULL, 'o' },
        { "format", required_argument, NULL, OPT_FORMAT },
        { "test-fraction", required_argument, NULL, OPT_TEST_FRACTION },
        { "rounds", required_argument, NULL, OPT_ROUNDS },
        { "max-depth", required_argument, NULL, OPT_MAX_DEPTH },
        { "eta", required_argument, NULL, OPT_ETA },
        { "scale-pos-weight", required_argument, NULL, OPT_SPW },
        { "threads", required_argument, NULL, OPT_THREADS },
        { "seed", required_argument, NULL, OPT_SEED },
        { "features", required_argument, NULL, OPT_FEATURES },
        { "rules", required_argument, NULL, 'r' },
        { "profiles", required_argument, NULL, OPT_PROFILES },
        { "json", no_argument, NULL, OPT_JSON },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    memset(o, 0, sizeof(*o));
    o->output = "model.json";
    o->test_fraction = 0.2;
    fw_train_params_defaults(&o->params);
    int opt, k;
    long v;
    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":i:o:r:qh", opts, NULL)) != -1) {
        switch (opt) {
        case 'i': o->input = optarg; break;
        case 'o': o->output = optarg; break;
        case 'r': o->rules_file = optarg; break;
        case OPT_PROFILES: o->profiles_file = optarg; break;
        case OPT_FORMAT:
            if ((k = pick(optarg, format_names, 3)) < 0)
                return usage_error("--format: expected auto, ndjson or csv, got \"%s\"",
                                   optarg);
            o->format = (in_format)k;
            break;
        case OPT_FEATURES:
            if ((k = pick(optarg, feature_set_names, 4)) < 0)
                return usage_error("--features: expected auto, v, behavioural or all, got "
                                   "\"%s\"", optarg);
            o->features = (feature_set)k;
            break;
        case OPT_TEST_FRACTION:
            if (!parse_double(optarg, 0, 1, &o->test_fraction) || o->test_fraction <= 0 ||
                o->test_fraction >= 1)
                return usage_error("--test-fraction: expected a number between 0 and 1 "
                                   "(exclusive), got \"%s\"", optarg);
            break;
        case OPT_ROUNDS:
            if (!parse_int(optarg, 1, 100000, &v))
                return usage_error("--rounds: expected 1..100000, got \"%s\"", optarg);
            o->params.rounds = (int)v;
            break;
        case OPT_MAX_DEPTH:
            if (!parse_int(optarg, 1, 64, &v))
                return usage_error("--max-depth: expected 1..64, got \"%s\"", optarg);
            o->params.max_depth = (int)v;
            break;
        case OPT_ETA:
            if (!parse_double(optarg, 0, 1, &o->params.eta) || o->params.eta <= 0)
                return usage_error("--eta: expected a number in (0, 1], got \"%s\"", optarg);
            break;
        case OPT_SPW:
            if (!parse_double(optarg, 0, 1e9, &o->params.scale_pos_weight) ||
                o->params.scale_pos_weight <= 0)
                return usage_error("--scale-pos-weight: expected a number > 0, got \"%s\"",
                                   optarg);
            o->spw_given = true;
            break;
        case OPT_THREADS:
            if (!parse_int(optarg, 0, 1024, &v))
                return usage_error("--threads: expected 0..1024, got \"%s\"", optarg);
            o->params.threads = (int)v;
            break;
        case OPT_SEED: {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(optarg, &end, 10);
            if (end == optarg || *end || errno || optarg[0] == '-')
                return usage_error("--seed: expected a non-negative integer, got \"%s\"",
                                   optarg);
            o->params.seed = (uint64_t)s;
            break;
        }
        case OPT_JSON: o->json = true; break;
        case 'q': o->quiet = true; break;
        case 'h': fputs(train_help, stdout); return 0;
        case ':': return usage_error("option %s needs a value", argv[optind - 1]);
        default: return usage_error("unknown option %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument \"%s\"", argv[optind]);
    if (!o->input)
        return usage_error("--input FILE is required");
    if (!*o->output)
        return usage_error("--output needs a file name");
    return -1;
}

/* Reads the input into @p d; @returns 0 or the exit status. */
static int load(const train_opts *o, dataset *d, input_stats *st) {
    char errstr[1024];
    FILE *f = fopen(o->input, "r");
    if (!f)
        return fail("cannot open input %s: %s", o->input, strerror(errno));
    st->format = o->format != FMT_AUTO ? o->format : detect_format(o->input, f);
    if (st->format == FMT_AUTO) {
        fclose(f);
        return usage_error("%s cannot be read twice to guess its format: give --format "
                           "ndjson or csv", o->input);
    }
    if (st->format == FMT_CSV && (o->rules_file || o->profiles_file)) {
        fclose(f);
        return usage_error("--rules and --profiles apply to NDJSON input; %s is read as CSV",
                           o->input);
    }
    if (st->format == FMT_CSV && (o->features == FEAT_BEHAVIOURAL || o->features == FEAT_ALL)) {
        fclose(f);
        return usage_error("--features %s needs NDJSON input: the behavioural features come "
                           "from replaying transactions through the engine, and %s is read "
                           "as CSV", feature_set_names[o->features], o->input);
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
            die_oom();
        if (o->rules_file &&
            fw_rules_load_file(&rules, o->rules_file, errstr, sizeof(errstr)) != FW_OK)
            rc = usage_error("%s", errstr);
        else if (o->profiles_file && fw_profiles_load_file(profiles, o->profiles_file, errstr,
                                                           sizeof(errstr)) != FW_OK)
            rc = usage_error("%s", errstr);
        else
            rc = read_ndjson(o, f, &rules, profiles, d, st);
        fw_profiles_destroy(profiles);
    }
    fclose(f);
    st->seconds = fw_mono_s() - t0;
    return rc;
}

int fw_cmd_train(int argc, char **argv) {
    train_opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc >= 0)
        return rc;
    dataset d = { 0 };
    input_stats st = { 0 };
    result r = { 0 };
    float *scores = NULL;
    fw_model *m = NULL;
    char *meta = NULL;
    fw_buf json;
    fw_buf_init(&json, 0);
    feature_set fs = FEAT_AUTO;
    char a[32], b[32], c[32];
    if ((rc = load(&o, &d, &st)) != 0 || (rc = choose_features(&o, &d, &st, &fs)) != 0)
        goto out;
    if (!o.quiet)
        fprintf(stderr, "fraudwatch train: %s rows of %zu features read from %s in %.2f s\n",
                fw_count_str(d.n, a, sizeof(a)), d.width, o.input, st.seconds);

    /* Time-ordered split: train on the past, measure on the future. */
    rc = 1;
    r.ntest = (size_t)llround((double)d.n * o.test_fraction);
    r.ntrain = d.n - r.ntest;
    for (size_t i = 0; i < d.n; i++)
        *(i < r.ntrain ? &r.train_fraud : &r.test_fraud) += d.y[i] > 0.5f;
    const char *order = st.format == FMT_NDJSON ? "event-time" : st.time_column ? "Time"
                                                                               : "file";
    if (r.ntrain < MIN_PART_ROWS || r.ntest < MIN_PART_ROWS) {
        fail("%s: %s rows give a training part of %s and a test part of %s rows; each needs "
             "at least %d", o.input, fw_count_str(d.n, a, sizeof(a)),
             fw_count_str(r.ntrain, b, sizeof(b)), fw_count_str(r.ntest, c, sizeof(c)),
             MIN_PART_ROWS);
        goto out;
    }
    const char *part = NULL, *holds = NULL;
    size_t part_rows = 0;
    if (!r.train_fraud || r.train_fraud == r.ntrain) {
        part = "training (first)";
        part_rows = r.ntrain;
        holds = r.train_fraud ? "only fraud" : "no fraud";
    } else if (!r.test_fraud || r.test_fraud == r.ntest) {
        part = "test (last)";
        part_rows = r.ntest;
        holds = r.test_fraud ? "only fraud" : "no fraud";
    }
    if (part) {
        fail("%s: the %s part, %s rows in %s order, holds %s; both parts need fraud and "
             "legitimate rows (more data, or another --test-fraction)", o.input, part,
             fw_count_str(part_rows, a, sizeof(a)), order, holds);
        goto out;
    }
    /* The full ratio (about 100) over-weights fraud: held-out AUPRC and
     * precision at 0.8 are better with its square root on every seed tried,
     * recall at 1 % FPR no worse (docs/model.md). */
    r.spw = o.spw_given ? o.params.scale_pos_weight
                        : sqrt((double)(r.ntrain - r.train_fraud) / (double)r.train_fraud);
    if (!(m = train_and_score(&o, &d, &r, &scores)))
        goto out;
    compute_figures(&d, scores, &r);

    char errstr[1024];
    if (fw_model_save(m, o.output, errstr, sizeof(errstr)) != FW_OK) {
        fail("cannot save the model: %s", errstr);
        goto out;
    }
    meta = meta_path_of(o.output);
    json_report(&json, &o, &d, &st, fs, &r, meta);
    if (json.overflow) {
        fail("the report outgrew its buffer");
        goto out;
    }
    if (!write_file(meta, &json))
        goto out;
    if (o.json) {
        fwrite(json.data, 1, json.len, stdout);
        fputc('\n', stdout);
    } else {
        print_report(stdout, &o, &d, &st, fs, &r, meta);
    }
    rc = fflush(stdout) == 0 ? 0 : 1;
out:
    fw_model_free(m);
    free(scores);
    free(r.scen);
    free(meta);
    fw_buf_fini(&json);
    dataset_free(&d);
    return rc;
}
