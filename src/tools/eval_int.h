/* eval_int.h — what the files of `fraudwatch eval` share, private to them:
 * eval_cmd.c (options, the --input driver), eval_replay.c (records in memory,
 * their labels, replays through the pipeline), eval_report.c (tables, JSON
 * and the chart of one report), eval_sweep.c (--sweep) and eval_amlsim.c
 * (--amlsim). The figures themselves are the core's (eval.h). */
#ifndef FW_EVAL_INT_H
#define FW_EVAL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "eval.h"
#include "fw_str.h"
#include "kafka_conf.h"
#include "model.h"
#include "progress.h"
#include "report.h"
#include "rules.h"

#define R_COUNT FW_RULE__COUNT

/* The options table's conf (eval_cmd.c), then what is loaded from it. */
typedef struct eval_opts {
    const char *input, *amlsim, *feedback, *rules_file, *json_file, *plot_file, *sweep;
    fw_kafka_opts kafka;      /* --feedback TOPIC */
    const char *model, *schema_file;
    double threshold;         /* --fraud-threshold; negative: the rule set's */
    bool quiet, progress_flag;
    fw_model *ml;             /* loaded from --model, shared by every replay; NULL: none */
    const struct fw_schema *schema; /* from --schema (or the rules file); NULL: ours */
    fw_progress_mode progress; /* from --quiet and --progress */
    /* The language rules of the rules file (set where it is loaded; --sweep of a
     * language rule: the value's). Each gets its row, even without alerts. */
    const fw_lang_rules *lang;
} eval_opts;

/* ---- eval_feedback.c: --feedback ---- */

/** @brief Each rule version's precision from the verdicts in o->feedback
 *  (a file, else a topic); the table on @p out, --json as asked. */
int eval_feedback(const eval_opts *o, FILE *out);

/* ---- eval_replay.c: records, labels, replays ------------------------------------ */

typedef struct record {
    size_t off;
    uint32_t len;
    uint32_t line;            /* 1-based line in the file (or CSV line for AMLSim) */
} record;

/* Records held in memory, each replayed from its slice of @c data. */
typedef struct corpus {
    char *data;
    size_t len;
    record *rec;
    size_t n, cap;
    const char *file;         /* for dead letters */
} corpus;

void eval_corpus_push(corpus *c, size_t off, size_t len, uint64_t line);
void eval_corpus_free(corpus *c);

/* Reads the whole file at once: one buffer, one record per non-blank line
 * (lines split and blank lines skipped exactly as file mode does). */
bool eval_corpus_load(corpus *c, const char *path);

typedef struct replay_stats {
    uint64_t records, transactions, dead_letters, late;
    double seconds;
} replay_stats;

/* Who receives a replay's alerts, and whether its dead letters are shown. */
typedef struct replay_ctx {
    void (*alert)(void *opaque, const fw_alert *a);
    void *opaque;
    bool show_dead_letters;
    fw_model *model;          /* ml_score's (--model); NULL: not scored */
    const struct fw_schema *schema; /* their spelling (--schema); NULL: ours */
    const struct fw_lang_rules *lang; /* language rules beside the built-ins, or NULL */
} replay_ctx;

/* Runs every record of @p c through a new pipeline, as file mode does. */
bool eval_replay(const corpus *c, const fw_rules *rules, const replay_ctx *rc,
                 const char *label, fw_progress_mode progress, replay_stats *st);

typedef struct label_stats {
    uint64_t labelled, unlabelled, unreadable, fraud_without_id;
} label_stats;

/* Reads the labels of every record of @p c; with @p schema the transaction id
 * and timestamp are read through it (the label fields keep their names). */
bool eval_load_labels(const corpus *c, const struct fw_schema *schema, fw_eval_labels *labels,
                      label_stats *ls);

/* One replay under @p rules with o's model, mapping and progress, scored
 * against @p labels. */
bool eval_once(const corpus *c, const fw_eval_labels *labels, const fw_rules *rules,
               const eval_opts *o, const char *label, bool show_dead, fw_eval_report *rep,
               replay_stats *st);

/* ---- eval_report.c: one report ---------------------------------------------------- */

/* "velocity", or "velocity (shadow)". */
void eval_rule_label(const fw_rules *rules, int k, char *out, size_t size);
/* Appends ", name" (or "name" to an empty @p out). */
void eval_append_name(char *out, size_t size, const char *name);
/* The cells every figures table shares: alerts (or accounts flagged), TP, FP,
 * FN, precision, recall, F1. */
void eval_score_cells(fw_table *t, uint64_t alerts, uint64_t tp, uint64_t fp, uint64_t fn,
                      const fw_eval_ratio *q);
/* The cells both rule tables share: eval_score_cells of one rule's figures. */
void eval_rule_figure_cells(fw_table *t, const fw_eval_rule_figures *r);

/* The rule set: each rule's version and switches, then the whole document. */
void eval_json_rule_set(fw_buf *b, const fw_rules *rules);
void eval_json_report(fw_buf *b, const fw_eval_report *rep, const replay_stats *st);
void eval_print_report(FILE *out, const fw_eval_report *rep, const fw_rules *rules,
                       const replay_stats *st, const fw_eval_labels *labels);
bool eval_plot_rules(const char *png, const fw_eval_report *rep, const char *title);

/* ---- eval_sweep.c: --sweep --------------------------------------------------------- */

#define MAX_SWEEP_VALUES 1000

typedef struct sweep {
    char spec[256];
    fw_rule_id rule;          /* FW_RULE_LANG: the language rule lang_id */
    char lang_id[FW_LANG_MAX_ID];
    char param[64];
    bool duration;
    double from, to, step;    /* durations in milliseconds */
    size_t n;
} sweep;

/* @p lang: the language rules of the rules file (NULL: none), whose params
 * may be swept as the built-ins' (RULE.PARAM with RULE a language rule's id). */
bool eval_sweep_parse(const char *spec, sweep *sw, const fw_lang_rules *lang, char *errstr,
                      size_t errstr_size);
/* The base rule set with value @p i applied, through the rules parser (a
 * language rule's sweep: the base unchanged; see eval_sweep_apply_lang). */
bool eval_sweep_apply(const sweep *sw, size_t i, const fw_rules *base, fw_rules *out,
                      char *errstr, size_t errstr_size);
/* A language rule's sweep: the rules document @p doc (the rules file's text)
 * with value @p i written in place of the param's value, compiled through
 * fw_lang_rules_parse_json into *out (free with fw_lang_rules_destroy). */
bool eval_sweep_apply_lang(const sweep *sw, size_t i, const char *doc, size_t n,
                           const fw_rules *base, fw_lang_rules **out, char *errstr,
                           size_t errstr_size);
/* The rules file @p path whole into *doc (free it), for eval_sweep_apply_lang. */
bool eval_sweep_read_doc(const char *path, char **doc, size_t *n, char *errstr,
                         size_t errstr_size);

/* Replays @p c once per value of @p sw, appends {"sweep":...} to @p json
 * (without closing the document), prints the table and draws --plot.
 * @returns the exit status. */
int eval_sweep_run(const eval_opts *o, const corpus *c, const fw_eval_labels *labels,
                   const fw_rules *rules, const sweep *sw, fw_buf *json, FILE *out);

/* ---- eval_amlsim.c: --amlsim ------------------------------------------------------- */

/* Evaluates every AMLSim data set under o->amlsim. @returns the exit status. */
int eval_amlsim(const eval_opts *o, const fw_rules *rules, FILE *out);

#endif
