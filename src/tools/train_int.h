/* train_int.h — what the files of `fraudwatch train` share, private to them:
 * train_cmd.c (options, the split, fitting), train_data.c (reading CSV or
 * NDJSON into one float matrix, choosing the feature columns) and
 * train_report.c (the held-out figures, the report and its metadata file). */
#ifndef FW_TRAIN_INT_H
#define FW_TRAIN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fw_str.h"
#include "ml_features.h"
#include "ml_metrics.h"
#include "model.h"
#include "options.h"
#include "progress.h"

#define MAX_FPR 0.01              /* the false-positive budget of "recall at 1 % FPR" */
#define ML_THRESHOLD 0.8f         /* ml_score's default FRAUD_THRESHOLD */
#define MAX_SCENARIOS 1000        /* distinct scenario names kept; the rest: "(other)" */

typedef enum in_format { FMT_AUTO, FMT_NDJSON, FMT_CSV } in_format;
typedef enum feature_set { FEAT_AUTO, FEAT_V, FEAT_BEHAVIOURAL, FEAT_ALL } feature_set;

extern const char *const train_format_names[];      /* by in_format */
extern const char *const train_feature_set_names[]; /* by feature_set */

typedef struct train_opts {
    const char *input, *output, *rules_file, *profiles_file;
    in_format format;
    feature_set features;
    double test_fraction;
    fw_train_params params;
    bool spw_given, json, quiet, progress_flag;
    fw_progress_mode progress; /* from --quiet and --progress */
} train_opts;

/* "fraudwatch train: ..." on stderr; @returns 1 (failure) or 2 (usage error). */
int train_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define train_usage_error(...) fw_opts_usage_error("train", __VA_ARGS__)

/* ---- train_data.c ----------------------------------------------------------------- */

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

void train_dataset_free(dataset *d);
/* realloc of @p n items of @p size, exiting on overflow or out of memory. */
void *train_grow(void *p, size_t n, size_t size);
bool train_ends_with_ci(const char *s, const char *suffix);

/* Reads the input into @p d; @returns 0 or the exit status. */
int train_load(const train_opts *o, dataset *d, input_stats *st);

/* Chooses the columns to train on; @returns 0, or 1 after a message. */
int train_choose_features(const train_opts *o, dataset *d, input_stats *st,
                          feature_set *chosen);

/* ---- train_report.c ----------------------------------------------------------------- */

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

/* The figures of the held-out rows' @p scores. */
void train_compute_figures(const dataset *d, const float *scores, result *r);
void train_json_report(fw_buf *b, const train_opts *o, const dataset *d,
                       const input_stats *st, feature_set fs, const result *r,
                       const char *meta_path);
void train_print_report(FILE *out, const train_opts *o, const dataset *d,
                        const input_stats *st, feature_set fs, const result *r,
                        const char *meta_path);
/* Writes @p b to @p path through a temporary file, as the model is. */
bool train_write_file(const char *path, const fw_buf *b);
/* "model.json" → "model.meta.json"; "model" → "model.meta.json". Freed by the caller. */
char *train_meta_path_of(const char *model);

#endif
