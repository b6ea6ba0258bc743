/* eval.c — `fraudwatch eval`: replays labelled data through the pipeline that
 * `run --input` uses and scores every alert against the labels (eval.h has
 * the definitions). Generated NDJSON is loaded once and replayed from memory,
 * once per rule set (--sweep); AMLSim data sets are turned into transaction
 * records first (amlsim.h). Figures go to aligned tables, --json and --plot. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "amlsim.h"
#include "commands.h"
#include "report.h"
#include "eval.h"
#include "fw_os.h"
#include "fw_time.h"
#include "options.h"
#include "pipeline.h"
#include "replay.h"
#include "rules_file.h"

extern char **environ;

#define R_COUNT FW_RULE__COUNT
#define MAX_SWEEP_VALUES 1000

static const char eval_help[] =
    "Usage: fraudwatch eval --input FILE [OPTIONS]\n"
    "       fraudwatch eval --amlsim PATH [OPTIONS]\n"
    "\n"
    "Measures how well each rule detects labelled fraud: replays the data through\n"
    "the same pipeline as `fraudwatch run --input` (decode, detectors, alerts) and\n"
    "scores every alert against the labels.\n"
    "\n"
    "Input (one of):\n"
    "  -i, --input FILE      NDJSON transactions labelled as `fraudwatch generate`\n"
    "                        writes them: is_fraud (true/false), scenario and\n"
    "                        scenario_instance (the engine ignores these fields).\n"
    "                        Malformed lines are counted as dead letters, not fatal\n"
    "      --amlsim PATH     IBM AMLSim data: a .tgz archive, a folder holding\n"
    "                        transactions.csv and nodes.csv, or a folder of such\n"
    "                        archives and folders (one report section each)\n"
    "\n"
    "Options:\n"
    "  -r, --rules FILE      candidate rules file applied over the built-in defaults\n"
    "                        (docs/rules.md), as `run --rules` does\n"
    "      --model FILE      score with this model (rule ml_score, docs/model.md), as\n"
    "                        `run --model` does; --fraud-threshold P (default 0.8)\n"
    "      --json FILE       also write every figure as JSON ('-' = stdout; the\n"
    "                        tables then go to stderr)\n"
    "      --plot FILE.png   chart precision and recall per rule (with --sweep:\n"
    "                        precision, recall and alerts per 1,000 against the\n"
    "                        value; with --amlsim: per data set) with gnuplot\n"
    "      --sweep RULE.PARAM=FROM:TO:STEP\n"
    "                        --input only: replay once per value of one rule\n"
    "                        parameter and tabulate the figures, e.g.\n"
    "                        velocity.min_count=2:6:1,\n"
    "                        high_amount.limit=3000:8000:500 or\n"
    "                        velocity.window=10m:60m:10m (durations as in rules\n"
    "                        files). Each value is applied as the rules file\n"
    "                        {\"rules\":[{\"id\":RULE,\"params\":{PARAM:VALUE}}]} over\n"
    "                        the rule set; at most 1000 values\n"
    "  -q, --quiet           no progress lines on stderr\n"
    "  -h, --help            this text\n"
    "\n"
    "Definitions (--input; docs/detection-quality.md):\n"
    "  transactions    of an alert: its evidence and its triggering transaction\n"
    "  TP, FP          an alert is a true positive when at least one of its\n"
    "                  transactions is labelled fraud, else a false positive\n"
    "  precision       TP / alerts\n"
    "  caught          an instance (scenario_instance) is caught by rule R when an\n"
    "                  alert of R has one of the instance's transactions\n"
    "  targets         the rules meant to catch a scenario: its targets in the\n"
    "                  generator's scenario table; a scenario whose targets name\n"
    "                  no enabled rule is listed as not targeted by any rule, one\n"
    "                  missing from the table as no rule known to target it\n"
    "  recall (rule)   instances of the scenarios R targets that R caught, over\n"
    "                  the instances of those scenarios; FN = the rest\n"
    "  F1              harmonic mean of precision and recall\n"
    "  recall (scen.)  instances caught by any rule / instances\n"
    "  delay           for the earliest alert (by detected_at) catching an\n"
    "                  instance: detected_at minus the event time of the\n"
    "                  instance's latest transaction among the alert's; median\n"
    "                  (p50) and p95 by nearest rank. Per rule: every instance it\n"
    "                  caught; per scenario: the earliest alert of any rule\n"
    "  to detect       the same alert's detected_at minus the event time of the\n"
    "                  instance's first transaction: how long the pattern ran\n"
    "  per 1k          alerts per 1,000 decoded transactions\n"
    "  overall recall  over the scenarios some enabled rule targets, and over all\n"
    "\n"
    "Definitions (--amlsim): labels are per account (nodes.csv isFraud). Each\n"
    "transfer becomes a TRANSFER record (id aml-<line of transactions.csv>,\n"
    "account and customer = source, counterparty = target) in step order; step 1\n"
    "is 2017-01-01 and one step one day, rows spread evenly over their day. An\n"
    "account is flagged when it sent or received a transaction of an alert\n"
    "(primary figures), or, entity-only, when it is an alert's entity. TP, FP, FN,\n"
    "precision, recall and F1 compare flagged accounts with fraud accounts.\n"
    "\n"
    "Exit status: 0 done, 1 failure (unreadable or unlabelled input, gnuplot\n"
    "failed), 2 usage error.\n";

typedef struct eval_opts {
    const char *input, *amlsim, *rules_file, *json_file, *plot_file, *sweep;
    const char *model, *threshold;
    bool quiet;
} eval_opts;

/* ------------------------------------------------------------ small helpers */

static void die_oom(void) {
    fprintf(stderr, "fraudwatch eval: out of memory\n");
    exit(1);
}

/* A delay for humans: 850ms, 42.0s, 3.5m, 2.1h, 1.5d. */
static const char *dur_str(int64_t ms, char *out, size_t size) {
    const char *sign = ms < 0 ? "-" : "";
    double a = fabs((double)ms);
    if (a < 1000)
        snprintf(out, size, "%s%.0fms", sign, a);
    else if (a < 60e3)
        snprintf(out, size, "%s%.1fs", sign, a / 1e3);
    else if (a < 3600e3)
        snprintf(out, size, "%s%.1fm", sign, a / 60e3);
    else if (a < 86400e3)
        snprintf(out, size, "%s%.1fh", sign, a / 3600e3);
    else
        snprintf(out, size, "%s%.1fd", sign, a / 86400e3);
    return out;
}

/* ------------------------------------------------------------ tables */

#define TCOLS 14
#define TCELL 192

typedef struct table {
    int ncols;
    char head[TCOLS][48];
    bool left[TCOLS];         /* text columns align left, numbers right */
    char (*cell)[TCOLS][TCELL];
    size_t nrows, cap;
    int col;                  /* next cell of the current row */
} table;

/* @p spec: column names separated by '|'; a leading '<' aligns a column left. */
static void table_init(table *t, const char *spec) {
    memset(t, 0, sizeof(*t));
    for (const char *p = spec; *p && t->ncols < TCOLS;) {
        bool left = *p == '<';
        p += left;
        size_t len = strcspn(p, "|");
        snprintf(t->head[t->ncols], sizeof(t->head[0]), "%.*s", (int)len, p);
        t->left[t->ncols++] = left;
        p += len + (p[len] == '|');
    }
}

static void table_row(table *t) {
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        void *c = realloc(t->cell, cap * sizeof(*t->cell));
        if (!c)
            die_oom();
        t->cell = c;
        t->cap = cap;
    }
    memset(t->cell[t->nrows], 0, sizeof(*t->cell));
    t->nrows++;
    t->col = 0;
}

__attribute__((format(printf, 2, 3))) static void tcell(table *t, const char *fmt, ...) {
    if (!t->nrows || t->col >= t->ncols)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->cell[t->nrows - 1][t->col++], TCELL, fmt, ap);
    va_end(ap);
}

/* Prints the header and every row, columns two spaces apart; frees the rows. */
static void table_print(table *t, FILE *out, const char *indent) {
    int w[TCOLS];
    for (int c = 0; c < t->ncols; c++) {
        w[c] = (int)strlen(t->head[c]);
        for (size_t r = 0; r < t->nrows; r++)
            if ((int)strlen(t->cell[r][c]) > w[c])
                w[c] = (int)strlen(t->cell[r][c]);
    }
    for (size_t r = 0; r <= t->nrows; r++) {
        fputs(indent, out);
        for (int c = 0; c < t->ncols; c++) {
            const char *s = r ? t->cell[r - 1][c] : t->head[c];
            if (c)
                fputs("  ", out);
            if (!t->left[c])
                fprintf(out, "%*s", w[c], s);
            else if (c == t->ncols - 1)
                fputs(s, out); /* no trailing blanks */
            else
                fprintf(out, "%-*s", w[c], s);
        }
        fputc('\n', out);
    }
    free(t->cell);
    t->cell = NULL;
    t->nrows = t->cap = 0;
}

/* ------------------------------------------------------------ records */

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

static void corpus_push(corpus *c, size_t off, size_t len, uint64_t line) {
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1u << 16;
        record *r = realloc(c->rec, cap * sizeof(*r));
        if (!r)
            die_oom();
        c->rec = r;
        c->cap = cap;
    }
    c->rec[c->n++] = (record){ .off = off, .len = (uint32_t)len,
                               .line = line > UINT32_MAX ? UINT32_MAX : (uint32_t)line };
}

static void corpus_free(corpus *c) {
    free(c->data);
    free(c->rec);
    memset(c, 0, sizeof(*c));
}

/* Reads the whole file at once: one buffer, one record per non-blank line
 * (lines split and blank lines skipped exactly as file mode does). */
static bool corpus_load(corpus *c, const char *path) {
    memset(c, 0, sizeof(*c));
    c->file = path;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fraudwatch eval: cannot open input %s: %s\n", path, strerror(errno));
        return false;
    }
    size_t cap = 1 << 20;
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        cap = (size_t)st.st_size + 1;
    c->data = malloc(cap);
    for (;;) {
        if (!c->data)
            die_oom();
        c->len += fread(c->data + c->len, 1, cap - c->len, f);
        if (c->len < cap || ferror(f))
            break;
        cap *= 2;
        c->data = realloc(c->data, cap);
    }
    if (ferror(f)) {
        fprintf(stderr, "fraudwatch eval: error reading %s: %s\n", path, strerror(errno));
        fclose(f);
        return false;
    }
    fclose(f);
    uint64_t line = 0;
    for (size_t pos = 0; pos < c->len;) {
        const char *start = c->data + pos;
        const char *nl = memchr(start, '\n', c->len - pos);
        size_t len = nl ? (size_t)(nl - start) : c->len - pos;
        size_t next = pos + len + (nl != NULL);
        line++;
        while (len && start[len - 1] == '\r') /* as file mode: the record keeps its blanks */
            len--;
        size_t k = 0;
        while (k < len && (start[k] == ' ' || start[k] == '\t'))
            k++;
        if (k < len) {
            if (len > UINT32_MAX) {
                fprintf(stderr, "fraudwatch eval: %s:%" PRIu64 ": line longer than 4 GiB\n",
                        path, line);
                return false;
            }
            corpus_push(c, pos, len, line);
        }
        pos = next;
    }
    return true;
}

/* ------------------------------------------------------------ replay */

typedef struct replay_stats {
    uint64_t records, transactions, dead_letters, late;
    double seconds;
} replay_stats;

/* Who receives a replay's alerts, and whether its dead letters are shown. */
typedef struct replay_ctx {
    void (*alert)(void *opaque, const fw_alert *a);
    void *opaque;
    bool show_dead_letters;
} replay_ctx;

/* ml_score's model (--model), shared by every replay; NULL: not scored. */
static fw_model *eval_model;

/* Runs every record of @p c through a new pipeline, as file mode does. */
static bool replay(const corpus *c, const fw_rules *rules, const replay_ctx *rc,
                   const char *label, bool quiet, replay_stats *st) {
    char errstr[512];
    fw_pipeline_conf pc = { .rules = *rules, .format = FW_INPUT_JSON,
                            .max_record_bytes = FW_TXN_DEFAULT_MAX_BYTES };
    fw_replay r;
    if (fw_replay_init(&r, "eval", c->file, &pc, eval_model, errstr, sizeof(errstr))) {
        fprintf(stderr, "fraudwatch eval: %s\n", errstr);
        return false;
    }
    r.alert = rc->alert;
    r.opaque = rc->opaque;
    r.show_dead_letters = rc->show_dead_letters;
    double t0 = fw_mono_s();
    fw_progress progress;
    fw_progress_init(&progress);
    char a[32], b[32];
    for (size_t i = 0; i < c->n; i++) {
        fw_replay_record(&r, c->data + c->rec[i].off, c->rec[i].len, c->rec[i].line);
        if (!quiet && fw_progress_due(&progress, i + 1))
            fprintf(stderr, "fraudwatch eval: %s%s of %s records replayed\n", label,
                    fw_count_str(i + 1, a, sizeof(a)), fw_count_str(c->n, b, sizeof(b)));
    }
    fw_replay_finish(&r);
    const fw_pipeline_stats *ps = fw_pipeline_stats_get(r.p);
    *st = (replay_stats){ .records = ps->records, .dead_letters = ps->dead_letters,
                          .transactions = ps->records - ps->dead_letters, .late = r.late,
                          .seconds = fw_mono_s() - t0 };
    fw_replay_fini(&r);
    return true;
}

/* ------------------------------------------------------------ JSON output */

static void json_delay(fw_buf *b, const fw_eval_delay *d) {
    if (!d->n) {
        fw_buf_puts(b, "{\"n\":0,\"median_ms\":null,\"p95_ms\":null,\"max_ms\":null}");
        return;
    }
    fw_buf_printf(b, "{\"n\":%" PRIu64 ",\"median_ms\":%" PRId64 ",\"p95_ms\":%" PRId64
                     ",\"max_ms\":%" PRId64 "}", d->n, d->median_ms, d->p95_ms, d->max_ms);
}

static void json_rule_names(fw_buf *b, fw_rule_mask m) {
    fw_buf_putc(b, '[');
    bool first = true;
    for (int k = 0; k < R_COUNT; k++)
        if ((m >> k) & 1) {
            fw_buf_printf(b, "%s\"%s\"", first ? "" : ",", fw_rule_name((fw_rule_id)k));
            first = false;
        }
    fw_buf_putc(b, ']');
}

/* The rule set: each rule's version and switches, then the whole document. */
static void json_rule_set(fw_buf *b, const fw_rules *rules) {
    fw_buf_puts(b, "\"rule_set\":{");
    for (int k = 0; k < R_COUNT; k++) {
        const fw_rule_common *c = &rules->common[k];
        fw_buf_printf(b, "%s\"%s\":{\"version\":%d,\"enabled\":%s,\"shadow\":%s,"
                         "\"severity\":\"%s\"}", k ? "," : "", fw_rule_name((fw_rule_id)k),
                      c->version, c->enabled ? "true" : "false", c->shadow ? "true" : "false",
                      fw_severity_name(c->severity));
    }
    fw_buf_puts(b, "},\"rules\":");
    fw_buf doc;
    fw_buf_init(&doc, 0);
    if (fw_rules_write_json(rules, &doc)) {
        while (doc.len && (doc.data[doc.len - 1] == '\n'))
            doc.len--;
        fw_buf_append(b, doc.data, doc.len);
    } else {
        fw_buf_puts(b, "null");
    }
    fw_buf_fini(&doc);
}

static void json_report(fw_buf *b, const fw_eval_report *rep, const replay_stats *st) {
    fw_buf_printf(b, "{\"records\":%" PRIu64 ",\"transactions\":%" PRIu64
                     ",\"dead_letters\":%" PRIu64 ",\"late\":%" PRIu64 ",\"rules\":{",
                  st->records, st->transactions, st->dead_letters, st->late);
    bool first = true;
    for (int k = 0; k < R_COUNT; k++) {
        const fw_eval_rule_figures *r = &rep->rule[k];
        fw_buf_printf(b, "%s\"%s\":{\"enabled\":%s,\"alerts\":%" PRIu64 ",\"tp\":%" PRIu64
                         ",\"fp\":%" PRIu64 ",\"fn\":%" PRIu64 ",\"target_instances\":%" PRIu64
                         ",\"caught\":%" PRIu64 ",\"caught_any_scenario\":%" PRIu64
                         ",\"precision\":",
                      first ? "" : ",", fw_rule_name((fw_rule_id)k),
                      r->enabled ? "true" : "false", r->alerts, r->tp, r->fp, r->fn,
                      r->target_instances, r->caught, r->caught_any);
        first = false;
        fw_json_num(b, r->q.precision);
        fw_buf_puts(b, ",\"recall\":");
        fw_json_num(b, r->q.recall);
        fw_buf_puts(b, ",\"f1\":");
        fw_json_num(b, r->q.f1);
        fw_buf_puts(b, ",\"alerts_per_1000\":");
        fw_json_num(b, r->alerts_per_1000);
        fw_buf_puts(b, ",\"delay\":");
        json_delay(b, &r->delay);
        fw_buf_puts(b, ",\"time_to_detect\":");
        json_delay(b, &r->from_start);
        fw_buf_puts(b, ",\"targets\":[");
        bool f2 = true;
        for (uint32_t s = 0; s < rep->nscenarios; s++)
            if ((rep->scenario[s].targets >> k) & 1) {
                fw_buf_puts(b, f2 ? "" : ",");
                fw_buf_json_str(b, fw_str_c(rep->scenario[s].info->name));
                f2 = false;
            }
        fw_buf_puts(b, "]}");
    }
    fw_buf_puts(b, "},\"scenarios\":[");
    for (uint32_t s = 0; s < rep->nscenarios; s++) {
        const fw_eval_scenario_figures *sf = &rep->scenario[s];
        fw_buf_puts(b, s ? ",{\"name\":" : "{\"name\":");
        fw_buf_json_str(b, fw_str_c(sf->info->name));
        fw_buf_printf(b, ",\"known\":%s,\"instances\":%" PRIu64 ",\"transactions\":%" PRIu64
                         ",\"caught\":%" PRIu64 ",\"recall\":",
                      sf->info->known ? "true" : "false", sf->instances,
                      sf->info->transactions, sf->caught);
        fw_json_num(b, sf->recall);
        fw_buf_puts(b, ",\"targeted_by\":");
        json_rule_names(b, sf->targets);
        fw_buf_puts(b, ",\"targets_in_table\":");
        if (sf->info->targets)
            fw_buf_json_str(b, fw_str_c(sf->info->targets));
        else
            fw_buf_puts(b, "null");
        fw_buf_puts(b, ",\"caught_by\":{");
        bool f2 = true;
        for (int k = 0; k < R_COUNT; k++)
            if (sf->caught_by_rule[k]) {
                fw_buf_printf(b, "%s\"%s\":%" PRIu64, f2 ? "" : ",",
                              fw_rule_name((fw_rule_id)k), sf->caught_by_rule[k]);
                f2 = false;
            }
        fw_buf_puts(b, "},\"delay\":");
        json_delay(b, &sf->delay);
        fw_buf_puts(b, ",\"time_to_detect\":");
        json_delay(b, &sf->from_start);
        fw_buf_putc(b, '}');
    }
    const fw_eval_overall *o = &rep->all;
    fw_buf_printf(b, "],\"overall\":{\"transactions\":%" PRIu64
                     ",\"fraud_transactions\":%" PRIu64 ",\"instances\":%" PRIu64
                     ",\"alerts\":%" PRIu64 ",\"tp\":%" PRIu64 ",\"fp\":%" PRIu64
                     ",\"targeted_instances\":%" PRIu64 ",\"targeted_caught\":%" PRIu64
                     ",\"caught\":%" PRIu64 ",\"precision\":",
                  o->transactions, o->fraud_transactions, o->instances, o->alerts, o->tp, o->fp,
                  o->targeted_instances, o->targeted_caught, o->caught);
    fw_json_num(b, o->precision);
    fw_buf_puts(b, ",\"recall_targeted\":");
    fw_json_num(b, o->recall_targeted);
    fw_buf_puts(b, ",\"recall_all\":");
    fw_json_num(b, o->recall_all);
    fw_buf_puts(b, ",\"f1_all\":");
    fw_json_num(b, o->f1_all);
    fw_buf_puts(b, ",\"alerts_per_1000\":");
    fw_json_num(b, o->alerts_per_1000);
    fw_buf_puts(b, "}}");
}

static bool write_json_file(const char *path, const fw_buf *b) {
    if (b->overflow) {
        fprintf(stderr, "fraudwatch eval: the JSON report outgrew its buffer; not written\n");
        return false;
    }
    FILE *f = strcmp(path, "-") ? fopen(path, "w") : stdout;
    if (!f) {
        fprintf(stderr, "fraudwatch eval: cannot open --json file %s: %s\n", path,
                strerror(errno));
        return false;
    }
    bool ok = fwrite(b->data, 1, b->len, f) == b->len && fputc('\n', f) != EOF;
    ok = (f == stdout ? fflush(f) == 0 : fclose(f) == 0) && ok;
    if (!ok)
        fprintf(stderr, "fraudwatch eval: error writing %s: %s\n", path, strerror(errno));
    return ok;
}

/* ------------------------------------------------------------ gnuplot */

/* Appends @p s as a gnuplot single-quoted string ('' stands for a quote). */
static void gp_quote(fw_buf *b, const char *s) {
    fw_buf_putc(b, '\'');
    for (; *s; s++) {
        if (*s == '\'')
            fw_buf_putc(b, '\'');
        fw_buf_putc(b, *s);
    }
    fw_buf_putc(b, '\'');
}

static bool write_text(const char *path, const fw_buf *b) {
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    bool ok = fwrite(b->data, 1, b->len, f) == b->len;
    return fclose(f) == 0 && ok;
}

/* Writes @p data and @p script (which reads DATA_FILE) to a temporary folder
 * and runs gnuplot on them. */
static bool run_gnuplot(const char *png, const fw_buf *data, const fw_buf *script) {
    if (strchr(png, '\n')) {
        fprintf(stderr, "fraudwatch eval: --plot: the file name holds a newline\n");
        return false;
    }
    const char *tmp = getenv("TMPDIR");
    char dir[512], data_path[600], script_path[600];
    snprintf(dir, sizeof(dir), "%s/fraudwatch-eval.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "fraudwatch eval: --plot: cannot create a temporary folder in %s: %s\n",
                tmp && *tmp ? tmp : "/tmp", strerror(errno));
        return false;
    }
    snprintf(data_path, sizeof(data_path), "%s/data.tsv", dir);
    snprintf(script_path, sizeof(script_path), "%s/plot.gp", dir);
    fw_buf full;
    fw_buf_init(&full, 0);
    fw_buf_puts(&full,
                "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
                "  set terminal pngcairo size 1100,650 font ',10' noenhanced\n"
                "} else {\n"
                "  set terminal png size 1100,650 noenhanced\n"
                "}\n"
                "set output ");
    gp_quote(&full, png);
    fw_buf_puts(&full, "\nDATA_FILE = ");
    gp_quote(&full, data_path);
    fw_buf_puts(&full, "\nset datafile separator '\\t'\nset datafile missing '-'\n"
                       "set grid ytics\nset key outside top center horizontal\n");
    fw_buf_append(&full, script->data, script->len);
    bool ok = false;
    if (!write_text(data_path, data) || !write_text(script_path, &full)) {
        fprintf(stderr, "fraudwatch eval: --plot: cannot write to %s: %s\n", dir,
                strerror(errno));
        goto out;
    }
    pid_t pid;
    char *argv[] = { "gnuplot", script_path, NULL };
    int rc = posix_spawnp(&pid, "gnuplot", NULL, NULL, argv, environ);
    if (rc != 0) {
        fprintf(stderr, "fraudwatch eval: --plot: cannot run gnuplot: %s%s\n", strerror(rc),
                rc == ENOENT ? " (install it: apt-get install gnuplot-nox, see "
                               "scripts/deps.sh)" : "");
        goto out;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        fprintf(stderr, "fraudwatch eval: --plot: gnuplot not found (install it: apt-get "
                        "install gnuplot-nox, see scripts/deps.sh)\n");
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "fraudwatch eval: --plot: gnuplot failed rendering %s (its messages "
                        "are above)\n", png);
    else
        ok = true;
out:
    unlink(data_path);
    unlink(script_path);
    rmdir(dir);
    fw_buf_fini(&full);
    return ok;
}

static void tsv_num(fw_buf *b, double v) {
    if (isfinite(v))
        fw_buf_printf(b, "\t%.6g", v);
    else
        fw_buf_puts(b, "\t-");
}

static const char bars_script[] =
    "set style data histograms\n"
    "set style histogram clustered gap 1\n"
    "set style fill solid 0.85 border -1\n"
    "set boxwidth 0.9\n"
    "set yrange [0:1.05]\n"
    "set ytics 0.1\n"
    "set xtics rotate by -30 nomirror\n";

/* Value labels over @p nseries clustered bars (columns from @p col), so a 0 %
 * bar reads differently from a missing one. Bar i of a cluster of n with
 * gap 1 sits at x + (i - (n - 1) / 2) / (n + 1). */
static void bar_labels(fw_buf *script, int nseries, int col) {
    for (int i = 0; i < nseries; i++)
        fw_buf_printf(script,
                      "     '' using ($0%+.4f):($%d):(sprintf('%%.0f%%%%', 100*$%d)) with labels "
                      "offset 0,0.7 font ',8' notitle%s\n",
                      (i - (nseries - 1) / 2.0) / (nseries + 1), col + i, col + i,
                      i + 1 < nseries ? ", \\" : "");
}

static bool plot_rules(const char *png, const fw_eval_report *rep, const char *title) {
    fw_buf data, script;
    fw_buf_init(&data, 0);
    fw_buf_init(&script, 0);
    for (int k = 0; k < R_COUNT; k++) {
        if (!rep->rule[k].enabled)
            continue;
        fw_buf_puts(&data, fw_rule_name((fw_rule_id)k));
        tsv_num(&data, rep->rule[k].q.precision);
        tsv_num(&data, rep->rule[k].q.recall);
        fw_buf_putc(&data, '\n');
    }
    fw_buf_puts(&script, bars_script);
    fw_buf_puts(&script, "set title ");
    gp_quote(&script, title);
    fw_buf_puts(&script, "\nset ylabel 'share'\n"
                         "plot DATA_FILE using 2:xtic(1) title 'precision (alerts on fraud)', "
                         "'' using 3 title 'recall (target instances caught)', \\\n");
    bar_labels(&script, 2, 2);
    bool ok = run_gnuplot(png, &data, &script);
    fw_buf_fini(&data);
    fw_buf_fini(&script);
    return ok;
}

/* ------------------------------------------------------------ --input report */

static void rule_label(const fw_rules *rules, int k, char *out, size_t size) {
    snprintf(out, size, "%s%s", fw_rule_name((fw_rule_id)k),
             rules->common[k].shadow ? " (shadow)" : "");
}

static void append_name(char *out, size_t size, const char *name) {
    size_t n = strlen(out);
    snprintf(out + n, size - n, "%s%s", n ? ", " : "", name);
}


/* The cells both rule tables share: alerts, TP, FP, FN, precision, recall, F1. */
static void rule_figure_cells(table *t, const fw_eval_rule_figures *r) {
    char buf[32];
    tcell(t, "%s", fw_count_str(r->alerts, buf, sizeof(buf)));
    tcell(t, "%s", fw_count_str(r->tp, buf, sizeof(buf)));
    tcell(t, "%s", fw_count_str(r->fp, buf, sizeof(buf)));
    tcell(t, "%s", fw_count_str(r->fn, buf, sizeof(buf)));
    tcell(t, "%s", fw_pct_str(r->q.precision, buf, sizeof(buf)));
    tcell(t, "%s", fw_pct_str(r->q.recall, buf, sizeof(buf)));
    tcell(t, "%s", fw_pct_str(r->q.f1, buf, sizeof(buf)));
}

/* Median and p95 cells, "-" when nothing was caught. */
static void delay_cells(table *t, const fw_eval_delay *d) {
    char a[32], b[32];
    tcell(t, "%s", d->n ? dur_str(d->median_ms, a, sizeof(a)) : "-");
    tcell(t, "%s", d->n ? dur_str(d->p95_ms, b, sizeof(b)) : "-");
}

static void print_report(FILE *out, const fw_eval_report *rep, const fw_rules *rules,
                         const replay_stats *st, const fw_eval_labels *labels) {
    char a[32], b[32], c[32], d[32];
    table t;
    table_init(&t, "<rule|alerts|TP|FP|FN|precision|recall|F1|per 1k|delay p50|p95|"
                   "to detect p50|p95|<targets (scenarios)");
    char disabled[256] = "";
    for (int k = 0; k < R_COUNT; k++) {
        const fw_eval_rule_figures *r = &rep->rule[k];
        if (!r->enabled) {
            append_name(disabled, sizeof(disabled), fw_rule_name((fw_rule_id)k));
            continue;
        }
        char name[64], targets[TCELL] = "";
        rule_label(rules, k, name, sizeof(name));
        for (uint32_t s = 0; s < rep->nscenarios; s++)
            if ((rep->scenario[s].targets >> k) & 1)
                append_name(targets, sizeof(targets), rep->scenario[s].info->name);
        table_row(&t);
        tcell(&t, "%s", name);
        rule_figure_cells(&t, r);
        if (isnan(r->alerts_per_1000))
            tcell(&t, "-");
        else
            tcell(&t, "%.2f", r->alerts_per_1000);
        delay_cells(&t, &r->delay);
        delay_cells(&t, &r->from_start);
        tcell(&t, "%s", *targets ? targets : "none");
    }
    fprintf(out, "\nPer rule (recall over the instances of the scenarios it targets):\n");
    table_print(&t, out, "  ");
    if (*disabled)
        fprintf(out, "  disabled: %s\n", disabled);

    table_init(&t, "<scenario|instances|txns|caught|recall|delay p50|p95|to detect p50|p95|"
                   "<caught by|<targeted by");
    for (uint32_t s = 0; s < rep->nscenarios; s++) {
        const fw_eval_scenario_figures *sf = &rep->scenario[s];
        char caught_by[TCELL] = "", targeted[TCELL] = "";
        for (int k = 0; k < R_COUNT; k++) {
            if (sf->caught_by_rule[k]) {
                char one[64];
                snprintf(one, sizeof(one), "%s %s", fw_rule_name((fw_rule_id)k),
                         fw_count_str(sf->caught_by_rule[k], a, sizeof(a)));
                append_name(caught_by, sizeof(caught_by), one);
            }
            if ((sf->targets >> k) & 1)
                append_name(targeted, sizeof(targeted), fw_rule_name((fw_rule_id)k));
        }
        if (!sf->targets)
            snprintf(targeted, sizeof(targeted), "%s",
                     sf->info->known ? "not targeted by any rule" : "no rule known to target it");
        table_row(&t);
        tcell(&t, "%s", sf->info->name);
        tcell(&t, "%s", fw_count_str(sf->instances, a, sizeof(a)));
        tcell(&t, "%s", fw_count_str(sf->info->transactions, b, sizeof(b)));
        tcell(&t, "%s", fw_count_str(sf->caught, c, sizeof(c)));
        tcell(&t, "%s", fw_pct_str(sf->recall, d, sizeof(d)));
        delay_cells(&t, &sf->delay);
        delay_cells(&t, &sf->from_start);
        tcell(&t, "%s", *caught_by ? caught_by : "-");
        tcell(&t, "%s", targeted);
    }
    fprintf(out, "\nPer scenario (recall: instances caught by any rule):\n");
    table_print(&t, out, "  ");

    const fw_eval_overall *o = &rep->all;
    fprintf(out, "\nOverall:\n");
    fprintf(out, "  transactions             %s (%s records, %s dead letters, %s late)\n",
            fw_count_str(o->transactions, a, sizeof(a)), fw_count_str(st->records, b, sizeof(b)),
            fw_count_str(st->dead_letters, c, sizeof(c)), fw_count_str(st->late, d, sizeof(d)));
    fprintf(out, "  fraudulent transactions  %s in %s instances of %u scenarios\n",
            fw_count_str(o->fraud_transactions, a, sizeof(a)), fw_count_str(o->instances, b, sizeof(b)),
            rep->nscenarios);
    fprintf(out, "  alerts                   %s (%.2f per 1,000 transactions): %s TP, %s FP\n",
            fw_count_str(o->alerts, a, sizeof(a)), isnan(o->alerts_per_1000) ? 0.0
                                                                           : o->alerts_per_1000,
            fw_count_str(o->tp, b, sizeof(b)), fw_count_str(o->fp, c, sizeof(c)));
    fprintf(out, "  precision                %s\n", fw_pct_str(o->precision, a, sizeof(a)));
    fprintf(out, "  recall, targeted         %s (%s of %s instances of scenarios an enabled "
                 "rule targets)\n", fw_pct_str(o->recall_targeted, a, sizeof(a)),
            fw_count_str(o->targeted_caught, b, sizeof(b)),
            fw_count_str(o->targeted_instances, c, sizeof(c)));
    fprintf(out, "  recall, all scenarios    %s (%s of %s instances)\n",
            fw_pct_str(o->recall_all, a, sizeof(a)), fw_count_str(o->caught, b, sizeof(b)),
            fw_count_str(o->instances, c, sizeof(c)));
    if (fw_eval_labels_duplicate_ids(labels))
        fprintf(out, "  note: %s fraud transaction ids appear more than once; the first "
                     "label counts\n", fw_count_str(fw_eval_labels_duplicate_ids(labels), a,
                                                 sizeof(a)));
    fprintf(out, "  replay                   %.2f s\n", st->seconds);
}

/* ------------------------------------------------------------ labels */

typedef struct label_stats {
    uint64_t labelled, unlabelled, unreadable, fraud_without_id;
} label_stats;

/* Reads the labels of every record of @p c. */
static bool load_labels(const corpus *c, fw_eval_labels *labels, label_stats *ls) {
    fw_arena scratch;
    if (!fw_arena_init(&scratch, FW_TXN_DEFAULT_MAX_BYTES + 64))
        die_oom();
    memset(ls, 0, sizeof(*ls));
    for (size_t i = 0; i < c->n; i++) {
        const char *p = c->data + c->rec[i].off;
        size_t n = c->rec[i].len;
        fw_eval_line_labels ll;
        if (fw_eval_scan_labels(p, n, &ll) != FW_OK) {
            ls->unreadable++; /* the pipeline will dead-letter it */
            continue;
        }
        if (!ll.has_label) {
            ls->unlabelled++;
            continue;
        }
        ls->labelled++;
        fw_str id = ll.transaction_id;
        if (ll.is_fraud && ll.id_escaped) { /* rare: the id as the engine will see it */
            fw_txn t;
            fw_decode_error derr;
            fw_arena_reset(&scratch);
            id = fw_txn_decode_json(p, n, &scratch, 0, &t, &derr) == FW_OK ? t.transaction_id
                                                                            : FW_STR_NULL;
        }
        int64_t ts = INT64_MIN; /* only fraud records need it: when their instance began */
        if (ll.is_fraud && ll.timestamp.ptr &&
            fw_time_parse_any(ll.timestamp.ptr, ll.timestamp.len, &ts) != FW_OK)
            ts = INT64_MIN;
        fw_err err = fw_eval_labels_add(labels, id, ts, ll.is_fraud, ll.scenario, ll.instance);
        if (err == FW_ERR_INVALID)
            ls->fraud_without_id++;
        else if (err) {
            fw_arena_fini(&scratch);
            fprintf(stderr, "fraudwatch eval: %s:%" PRIu32 ": cannot keep the label: %s\n",
                    c->file, c->rec[i].line, fw_err2str(err));
            return false;
        }
    }
    fw_arena_fini(&scratch);
    return true;
}

/* ------------------------------------------------------------ --sweep */

typedef struct sweep {
    char spec[256];
    fw_rule_id rule;
    char param[64];
    bool duration;
    double from, to, step;    /* durations in milliseconds */
    size_t n;
} sweep;

static bool sweep_number(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static bool sweep_duration(const char *s, double *out) {
    int64_t ms;
    if (fw_rules_duration_parse(s, strlen(s), &ms) != FW_OK)
        return false;
    *out = (double)ms;
    return true;
}

static bool sweep_parse(const char *spec, sweep *sw, char *errstr, size_t errstr_size) {
    memset(sw, 0, sizeof(*sw));
    snprintf(sw->spec, sizeof(sw->spec), "%s", spec);
    char buf[256];
    if (strlen(spec) >= sizeof(buf)) {
        snprintf(errstr, errstr_size, "--sweep: the spec is longer than %zu characters",
                 sizeof(buf) - 1);
        return false;
    }
    strcpy(buf, spec);
    char *eq = strchr(buf, '='), *dot = strchr(buf, '.');
    if (!eq || !dot || dot > eq || dot == buf || dot + 1 == eq) {
        snprintf(errstr, errstr_size,
                 "--sweep: expected RULE.PARAM=FROM:TO:STEP (e.g. velocity.min_count=2:6:1), "
                 "got \"%s\"", spec);
        return false;
    }
    *dot = *eq = '\0';
    sw->rule = fw_rule_by_name(buf);
    if (sw->rule >= R_COUNT) {
        snprintf(errstr, errstr_size, "--sweep: unknown rule \"%s\" (see fraudwatch rules)", buf);
        return false;
    }
    if (strlen(dot + 1) >= sizeof(sw->param)) {
        snprintf(errstr, errstr_size, "--sweep: parameter name \"%s\" is too long", dot + 1);
        return false;
    }
    for (const char *q = dot + 1; *q; q++)
        if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '_')) {
            snprintf(errstr, errstr_size,
                     "--sweep: parameter name \"%s\" may hold only a-z, 0-9 and _", dot + 1);
            return false;
        }
    strcpy(sw->param, dot + 1);
    /* Exactly FROM:TO:STEP, none empty. */
    char *parts[3] = { eq + 1, NULL, NULL };
    int np = 1;
    for (char *q = eq + 1; *q; q++)
        if (*q == ':') {
            *q = '\0';
            if (np < 3)
                parts[np] = q + 1;
            np++;
        }
    if (np != 3 || !*parts[0] || !*parts[1] || !*parts[2]) {
        snprintf(errstr, errstr_size,
                 "--sweep %s: expected three values FROM:TO:STEP after '=', e.g. 2:6:1 or "
                 "10m:60m:10m", spec);
        return false;
    }
    double v[3];
    bool nums = true, durs = true;
    for (int i = 0; i < 3; i++)
        nums = nums && sweep_number(parts[i], &v[i]);
    if (!nums)
        for (int i = 0; i < 3; i++)
            durs = durs && sweep_duration(parts[i], &v[i]);
    if (!nums && !durs) {
        static const char *const what[] = { "FROM", "TO", "STEP" };
        for (int i = 0; i < 3; i++) {
            double ignored;
            if (!sweep_number(parts[i], &ignored) && !sweep_duration(parts[i], &ignored)) {
                snprintf(errstr, errstr_size,
                         "--sweep %s: %s \"%s\" is neither a number nor a duration like \"10m\"",
                         spec, what[i], parts[i]);
                return false;
            }
        }
        snprintf(errstr, errstr_size,
                 "--sweep %s: FROM, TO and STEP must be all numbers or all durations "
                 "(a duration has a unit: 60m, not 60)", spec);
        return false;
    }
    sw->duration = !nums;
    sw->from = v[0];
    sw->to = v[1];
    sw->step = v[2];
    if (!(sw->step > 0)) {
        snprintf(errstr, errstr_size, "--sweep %s: STEP must be above 0, got \"%s\"", spec,
                 parts[2]);
        return false;
    }
    if (sw->to < sw->from) {
        snprintf(errstr, errstr_size, "--sweep %s: TO (%s) is below FROM (%s)", spec, parts[1],
                 parts[0]);
        return false;
    }
    double count = floor((sw->to - sw->from) / sw->step + 1e-9) + 1;
    if (count > MAX_SWEEP_VALUES) {
        snprintf(errstr, errstr_size,
                 "--sweep %s: %.0f values; at most %d (use a larger STEP)", spec, count,
                 MAX_SWEEP_VALUES);
        return false;
    }
    sw->n = (size_t)count;
    return true;
}

static double sweep_value(const sweep *sw, size_t i) { return sw->from + (double)i * sw->step; }

/* The value as a rules file writes it: 4, 2500.5, "30m". */
static void sweep_value_text(const sweep *sw, size_t i, char *out, size_t size, bool quoted) {
    double v = sweep_value(sw, i);
    if (sw->duration) {
        char d[32];
        fw_rules_duration_format((int64_t)llround(v), d, sizeof(d));
        snprintf(out, size, quoted ? "\"%s\"" : "%s", d);
    } else {
        snprintf(out, size, "%.15g", v);
    }
}

/* The base rule set with value @p i applied, through the rules parser. */
static bool sweep_apply(const sweep *sw, size_t i, const fw_rules *base, fw_rules *out,
                        char *errstr, size_t errstr_size) {
    char value[64], doc[256], why[400];
    sweep_value_text(sw, i, value, sizeof(value), true);
    snprintf(doc, sizeof(doc), "{\"rules\":[{\"id\":\"%s\",\"params\":{\"%s\":%s}}]}",
             fw_rule_name(sw->rule), sw->param, value);
    *out = *base;
    if (fw_rules_parse_json(out, doc, strlen(doc), why, sizeof(why)) != FW_OK) {
        char *pos = strstr(why, " (line 1, column "); /* a place in our one-line document */
        if (pos)
            *pos = '\0';
        sweep_value_text(sw, i, value, sizeof(value), false);
        snprintf(errstr, errstr_size, "--sweep %s: value %s: %s", sw->spec, value, why);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------ --input */

typedef struct sweep_row {
    double value;
    fw_eval_rule_figures rule;
    fw_eval_overall all;
} sweep_row;

static void eval_alert(void *opaque, const fw_alert *a) {
    if (fw_eval_run_alert(opaque, a) != FW_OK)
        die_oom();
}

/* One replay under @p rules, scored. */
static bool eval_once(const corpus *c, const fw_eval_labels *labels, const fw_rules *rules,
                      const char *label, bool quiet, bool show_dead, fw_eval_report *rep,
                      replay_stats *st) {
    fw_eval_run *run = fw_eval_run_new(labels);
    if (!run)
        die_oom();
    replay_ctx rc = { .alert = eval_alert, .opaque = run, .show_dead_letters = show_dead };
    bool ok = replay(c, rules, &rc, label, quiet, st);
    if (ok && fw_eval_report_build(run, rules, st->transactions, rep) != FW_OK)
        die_oom();
    fw_eval_run_destroy(run);
    return ok;
}

static bool plot_sweep(const char *png, const sweep *sw, const sweep_row *rows) {
    fw_buf data, script;
    fw_buf_init(&data, 0);
    fw_buf_init(&script, 0);
    for (size_t i = 0; i < sw->n; i++) {
        fw_buf_printf(&data, "%.10g", sw->duration ? rows[i].value / 60000.0 : rows[i].value);
        tsv_num(&data, rows[i].rule.q.precision);
        tsv_num(&data, rows[i].rule.q.recall);
        tsv_num(&data, rows[i].rule.alerts_per_1000);
        fw_buf_putc(&data, '\n');
    }
    char xlabel[160], title[320];
    const char *rule = fw_rule_name(sw->rule);
    snprintf(xlabel, sizeof(xlabel), "%s.%s%s", rule, sw->param,
             sw->duration ? " (minutes)" : "");
    snprintf(title, sizeof(title), "fraudwatch eval --sweep %s", sw->spec);
    fw_buf_puts(&script, "set title ");
    gp_quote(&script, title);
    fw_buf_puts(&script, "\nset xlabel ");
    gp_quote(&script, xlabel);
    fw_buf_printf(&script,
                  "\nset ylabel 'precision, recall'\nset y2label 'alerts per 1,000 "
                  "transactions'\nset yrange [0:1.05]\nset y2range [0:*]\nset ytics nomirror\n"
                  "set y2tics\n"
                  "plot DATA_FILE using 1:2 with linespoints lw 2 title '%s precision', \\\n"
                  "     '' using 1:3 with linespoints lw 2 title '%s recall', \\\n"
                  "     '' using 1:4 axes x1y2 with linespoints dt 2 title '%s alerts per "
                  "1,000'\n", rule, rule, rule);
    bool ok = run_gnuplot(png, &data, &script);
    fw_buf_fini(&data);
    fw_buf_fini(&script);
    return ok;
}

static void print_sweep(FILE *out, const sweep *sw, const sweep_row *rows) {
    char a[32], h[32];
    table t;
    char head[400];
    const char *rule = fw_rule_name(sw->rule);
    snprintf(head, sizeof(head), "%s.%s|alerts|TP|FP|FN|precision|recall|F1|per 1k|"
                                 "all precision|all recall|all per 1k", rule, sw->param);
    table_init(&t, head);
    for (size_t i = 0; i < sw->n; i++) {
        const fw_eval_rule_figures *r = &rows[i].rule;
        table_row(&t);
        sweep_value_text(sw, i, a, sizeof(a), false);
        tcell(&t, "%s", a);
        rule_figure_cells(&t, r);
        tcell(&t, "%.2f", isnan(r->alerts_per_1000) ? 0.0 : r->alerts_per_1000);
        tcell(&t, "%s", fw_pct_str(rows[i].all.precision, h, sizeof(h)));
        tcell(&t, "%s", fw_pct_str(rows[i].all.recall_all, a, sizeof(a)));
        tcell(&t, "%.2f", isnan(rows[i].all.alerts_per_1000) ? 0.0 : rows[i].all.alerts_per_1000);
    }
    fprintf(out, "\nSweep of %s.%s (rule figures for %s; \"all\": every rule together):\n",
            rule, sw->param, rule);
    table_print(&t, out, "  ");
}

static int eval_input(const eval_opts *o, const fw_rules *rules, const sweep *sw, FILE *out) {
    corpus c;
    label_stats ls;
    char a[32], b[32], c3[32];
    double t0 = fw_mono_s();
    if (!corpus_load(&c, o->input)) {
        corpus_free(&c);
        return 1;
    }
    fw_eval_labels *labels = fw_eval_labels_new();
    if (!labels)
        die_oom();
    int rc = 1;
    sweep_row *rows = NULL;
    fw_buf json;
    fw_buf_init(&json, (size_t)1 << 30);
    if (!load_labels(&c, labels, &ls))
        goto done;
    if (!ls.labelled) {
        fprintf(stderr,
                "fraudwatch eval: %s: none of its %s records carries a label (is_fraud, "
                "scenario): expected data written by `fraudwatch generate`\n",
                o->input, fw_count_str(c.n, a, sizeof(a)));
        goto done;
    }
    if (!o->quiet)
        fprintf(stderr, "fraudwatch eval: %s: %s records, %s labelled fraud in %s instances "
                        "(read in %.2f s)\n", o->input, fw_count_str(c.n, a, sizeof(a)),
                fw_count_str(fw_eval_labels_fraud(labels), b, sizeof(b)),
                fw_count_str(fw_eval_labels_instances(labels), c3, sizeof(c3)), fw_mono_s() - t0);
    if (ls.unlabelled || ls.fraud_without_id)
        fprintf(stderr, "fraudwatch eval: %s: records without a label (counted as "
                        "legitimate): %s; fraud records without a transaction_id (ignored): %s\n",
                o->input, fw_count_str(ls.unlabelled, a, sizeof(a)),
                fw_count_str(ls.fraud_without_id, b, sizeof(b)));
    fw_buf_puts(&json, "{\"mode\":\"input\",\"input\":");
    fw_buf_json_str(&json, fw_str_c(o->input));
    fw_buf_printf(&json, ",\"labels\":{\"labelled_records\":%" PRIu64
                         ",\"unlabelled_records\":%" PRIu64 ",\"unreadable_records\":%" PRIu64
                         ",\"fraud_transactions\":%" PRIu64 ",\"instances\":%" PRIu64
                         ",\"duplicate_fraud_ids\":%" PRIu64 "},",
                  ls.labelled, ls.unlabelled, ls.unreadable, fw_eval_labels_fraud(labels),
                  fw_eval_labels_instances(labels), fw_eval_labels_duplicate_ids(labels));
    json_rule_set(&json, rules);

    if (!sw) {
        fw_eval_report rep;
        replay_stats st;
        if (!eval_once(&c, labels, rules, "", o->quiet, true, &rep, &st))
            goto done;
        fprintf(out, "fraudwatch eval: %s\n", o->input);
        print_report(out, &rep, rules, &st, labels);
        fw_buf_puts(&json, ",\"report\":");
        json_report(&json, &rep, &st);
        fw_buf_putc(&json, '}');
        bool ok = !o->json_file || write_json_file(o->json_file, &json);
        if (ok && o->plot_file) {
            char title[512];
            snprintf(title, sizeof(title), "fraudwatch eval: %s", o->input);
            ok = plot_rules(o->plot_file, &rep, title);
        }
        fw_eval_report_free(&rep);
        rc = ok ? 0 : 1;
        goto done;
    }

    rows = calloc(sw->n, sizeof(*rows));
    if (!rows)
        die_oom();
    fw_buf_puts(&json, ",\"sweep\":{\"spec\":");
    fw_buf_json_str(&json, fw_str_c(sw->spec));
    fw_buf_printf(&json, ",\"rule\":\"%s\",\"param\":\"%s\",\"kind\":\"%s\",\"values\":[",
                  fw_rule_name(sw->rule), sw->param, sw->duration ? "duration" : "number");
    for (size_t i = 0; i < sw->n; i++) {
        fw_rules vr;
        char errstr[600], label[200], value[64];
        if (!sweep_apply(sw, i, rules, &vr, errstr, sizeof(errstr))) {
            fprintf(stderr, "fraudwatch eval: %s\n", errstr);
            goto done;
        }
        sweep_value_text(sw, i, value, sizeof(value), false);
        snprintf(label, sizeof(label), "value %zu/%zu (%s.%s=%s): ", i + 1, sw->n,
                 fw_rule_name(sw->rule), sw->param, value);
        if (!o->quiet)
            fprintf(stderr, "fraudwatch eval: %sreplaying\n", label);
        fw_eval_report rep;
        replay_stats st;
        if (!eval_once(&c, labels, &vr, label, o->quiet, i == 0, &rep, &st))
            goto done;
        rows[i] = (sweep_row){ .value = sweep_value(sw, i), .rule = rep.rule[sw->rule],
                               .all = rep.all };
        fw_buf_puts(&json, i ? ",{\"value\":" : "{\"value\":");
        fw_json_num(&json, sweep_value(sw, i));
        fw_buf_puts(&json, ",\"value_text\":");
        fw_buf_json_str(&json, fw_str_c(value));
        fw_buf_puts(&json, ",\"report\":");
        json_report(&json, &rep, &st);
        fw_buf_putc(&json, '}');
        fw_eval_report_free(&rep);
    }
    fw_buf_puts(&json, "]}}");
    fprintf(out, "fraudwatch eval: %s\n", o->input);
    print_sweep(out, sw, rows);
    bool ok = !o->json_file || write_json_file(o->json_file, &json);
    if (ok && o->plot_file)
        ok = plot_sweep(o->plot_file, sw, rows);
    rc = ok ? 0 : 1;
done:
    free(rows);
    fw_buf_fini(&json);
    fw_eval_labels_destroy(labels);
    corpus_free(&c);
    return rc;
}

/* ------------------------------------------------------------ --amlsim */

typedef struct aml_ctx {
    const fw_amlsim_data *d;
    fw_rule_mask *evidence;   /* per account: rules whose alert evidence touched it */
    fw_rule_mask *entity;     /* per account: rules that alerted on it as the entity */
    uint64_t alerts[R_COUNT];
} aml_ctx;

static void aml_mark_txn(aml_ctx *ac, fw_str id, fw_rule_mask bit) {
    uint32_t i = fw_amlsim_find_txn(ac->d, id);
    if (i == UINT32_MAX)
        return;
    const fw_amlsim_txn *t = &fw_amlsim_txns(ac->d)[i];
    ac->evidence[t->src] |= bit;
    ac->evidence[t->dst] |= bit;
}

static void aml_mark_entity(aml_ctx *ac, fw_str id, fw_rule_mask bit) {
    uint32_t a = fw_amlsim_find_account(ac->d, id);
    if (a != UINT32_MAX)
        ac->entity[a] |= bit;
}

static void aml_alert(void *opaque, const fw_alert *a) {
    aml_ctx *ac = opaque;
    if ((unsigned)a->rule >= R_COUNT)
        return;
    fw_rule_mask bit = (fw_rule_mask)1 << a->rule;
    ac->alerts[a->rule]++;
    for (size_t k = 0; k < a->nevidence; k++)
        aml_mark_txn(ac, a->evidence[k].transaction_id, bit);
    if (a->txn)
        aml_mark_txn(ac, a->txn->transaction_id, bit);
    const char *type = a->entity_type ? a->entity_type : "";
    if (!strcmp(type, "account_pair")) { /* "ACCOUNT->COUNTERPARTY": both sides */
        fw_str e = a->entity_id;
        for (size_t i = 0; i + 1 < e.len; i++)
            if (e.ptr[i] == '-' && e.ptr[i + 1] == '>') {
                aml_mark_entity(ac, (fw_str){ e.ptr, i }, bit);
                aml_mark_entity(ac, (fw_str){ e.ptr + i + 2, e.len - i - 2 }, bit);
                break;
            }
    } else if (!strcmp(type, "transaction")) {
        uint32_t i = fw_amlsim_find_txn(ac->d, a->entity_id);
        if (i != UINT32_MAX)
            ac->entity[fw_amlsim_txns(ac->d)[i].src] |= bit;
    } else {
        aml_mark_entity(ac, a->entity_id, bit); /* account, customer (= account here) */
    }
}

typedef struct aml_result {
    char name[128];
    uint64_t alerts;
    fw_eval_set_score evidence, entity;
} aml_result;

static void json_set_score(fw_buf *b, const fw_eval_set_score *s) {
    fw_buf_printf(b, "{\"flagged\":%" PRIu64 ",\"tp\":%" PRIu64 ",\"fp\":%" PRIu64
                     ",\"fn\":%" PRIu64 ",\"precision\":", s->flagged, s->tp, s->fp, s->fn);
    fw_json_num(b, s->q.precision);
    fw_buf_puts(b, ",\"recall\":");
    fw_json_num(b, s->q.recall);
    fw_buf_puts(b, ",\"f1\":");
    fw_json_num(b, s->q.f1);
    fw_buf_putc(b, '}');
}

static void score_cells(table *t, const fw_eval_set_score *s) {
    char a[32], b[32], c[32], d[32];
    tcell(t, "%s", fw_count_str(s->flagged, a, sizeof(a)));
    tcell(t, "%s", fw_count_str(s->tp, b, sizeof(b)));
    tcell(t, "%s", fw_count_str(s->fp, c, sizeof(c)));
    tcell(t, "%s", fw_count_str(s->fn, d, sizeof(d)));
    tcell(t, "%s", fw_pct_str(s->q.precision, a, sizeof(a)));
    tcell(t, "%s", fw_pct_str(s->q.recall, b, sizeof(b)));
    tcell(t, "%s", fw_pct_str(s->q.f1, c, sizeof(c)));
}

/* Replays one data set; prints its section and appends its JSON. */
static bool eval_aml_set(const eval_opts *o, const fw_rules *rules, const fw_amlsim_data *d,
                         FILE *out, fw_buf *json, bool first, aml_result *res) {
    char a[32], b[32], c[32], e[32];
    uint32_t nacc = fw_amlsim_naccounts(d), ntxn = fw_amlsim_ntxn(d);
    corpus cp = { .file = fw_amlsim_name(d) };
    fw_buf recs;
    fw_buf_init(&recs, SIZE_MAX / 2); /* bounded by the data set, read in full already */
    for (uint32_t i = 0; i < ntxn; i++) {
        size_t off = recs.len;
        if (!fw_amlsim_write_record(d, i, &recs) || recs.overflow)
            die_oom();
        corpus_push(&cp, off, recs.len - off, fw_amlsim_txns(d)[i].line);
    }
    cp.data = recs.data; /* the corpus now owns the buffer */
    cp.len = recs.len;
    aml_ctx ac = { .d = d, .evidence = calloc(nacc ? nacc : 1, sizeof(fw_rule_mask)),
                   .entity = calloc(nacc ? nacc : 1, sizeof(fw_rule_mask)) };
    if (!ac.evidence || !ac.entity)
        die_oom();
    replay_ctx rc = { .alert = aml_alert, .opaque = &ac, .show_dead_letters = true };
    replay_stats st;
    char label[200];
    snprintf(label, sizeof(label), "%s: ", fw_amlsim_name(d));
    bool ok = replay(&cp, rules, &rc, label, o->quiet, &st);
    if (!ok)
        goto out;
    const uint8_t *truth = fw_amlsim_fraud(d);
    fw_rule_mask all = 0;
    for (int k = 0; k < R_COUNT; k++)
        all |= (fw_rule_mask)1 << k;
    memset(res, 0, sizeof(*res));
    snprintf(res->name, sizeof(res->name), "%s", fw_amlsim_name(d));
    for (int k = 0; k < R_COUNT; k++)
        res->alerts += ac.alerts[k];
    res->evidence = fw_eval_score_set(truth, ac.evidence, nacc, all);
    res->entity = fw_eval_score_set(truth, ac.entity, nacc, all);

    fprintf(out, "\nAMLSim %s (%s)\n", fw_amlsim_name(d), fw_amlsim_source(d));
    fprintf(out, "  accounts %s (%s fraud), transactions %s, alerts %s", fw_count_str(nacc, a, 32),
            fw_count_str(fw_amlsim_nfraud(d), b, 32), fw_count_str(ntxn, c, 32),
            fw_count_str(res->alerts, e, 32));
    bool any = false;
    for (int k = 0; k < R_COUNT; k++)
        if (ac.alerts[k]) {
            fprintf(out, "%s%s %s", any ? ", " : " (", fw_rule_name((fw_rule_id)k),
                    fw_count_str(ac.alerts[k], a, 32));
            any = true;
        }
    fprintf(out, "%s\n", any ? ")" : "");
    if (fw_amlsim_naccounts(d) > fw_amlsim_nlabelled(d) || fw_amlsim_bad_lines(d) ||
        st.dead_letters)
        fprintf(out, "  note: accounts only in transactions.csv (counted as not fraud): %s, "
                     "CSV rows skipped: %s, dead letters: %s\n",
                fw_count_str(nacc - fw_amlsim_nlabelled(d), a, 32),
                fw_count_str(fw_amlsim_bad_lines(d), b, 32), fw_count_str(st.dead_letters, c, 32));
    table t;
    table_init(&t, "<accounts flagged by|flagged|TP|FP|FN|precision|recall|F1");
    table_row(&t);
    tcell(&t, "alert transactions");
    score_cells(&t, &res->evidence);
    table_row(&t);
    tcell(&t, "alert entities");
    score_cells(&t, &res->entity);
    table_print(&t, out, "  ");
    table_init(&t, "<rule|alerts|flagged|TP|FP|FN|precision|recall|F1|entity prec.|"
                   "entity recall");
    fw_eval_set_score per_ev[R_COUNT], per_ent[R_COUNT];
    for (int k = 0; k < R_COUNT; k++) {
        per_ev[k] = fw_eval_score_set(truth, ac.evidence, nacc, (fw_rule_mask)1 << k);
        per_ent[k] = fw_eval_score_set(truth, ac.entity, nacc, (fw_rule_mask)1 << k);
        if (!rules->common[k].enabled)
            continue;
        char name[64];
        rule_label(rules, k, name, sizeof(name));
        table_row(&t);
        tcell(&t, "%s", name);
        tcell(&t, "%s", fw_count_str(ac.alerts[k], a, 32));
        score_cells(&t, &per_ev[k]);
        tcell(&t, "%s", fw_pct_str(per_ent[k].q.precision, a, 32));
        tcell(&t, "%s", fw_pct_str(per_ent[k].q.recall, b, 32));
    }
    fprintf(out, "  per rule (accounts flagged through the rule's alert transactions):\n");
    table_print(&t, out, "  ");
    fprintf(out, "  replay %.2f s\n", st.seconds);

    fw_buf_puts(json, first ? "{\"name\":" : ",{\"name\":");
    fw_buf_json_str(json, fw_str_c(fw_amlsim_name(d)));
    fw_buf_puts(json, ",\"source\":");
    fw_buf_json_str(json, fw_str_c(fw_amlsim_source(d)));
    fw_buf_printf(json, ",\"accounts\":%" PRIu32 ",\"labelled_accounts\":%" PRIu32
                        ",\"fraud_accounts\":%" PRIu32 ",\"transactions\":%" PRIu32
                        ",\"skipped_csv_rows\":%" PRIu64 ",\"dead_letters\":%" PRIu64
                        ",\"alerts\":%" PRIu64 ",\"evidence_accounts\":",
                  nacc, fw_amlsim_nlabelled(d), fw_amlsim_nfraud(d), ntxn,
                  fw_amlsim_bad_lines(d), st.dead_letters, res->alerts);
    json_set_score(json, &res->evidence);
    fw_buf_puts(json, ",\"entity_accounts\":");
    json_set_score(json, &res->entity);
    fw_buf_puts(json, ",\"by_rule\":{");
    for (int k = 0; k < R_COUNT; k++) {
        fw_buf_printf(json, "%s\"%s\":{\"enabled\":%s,\"alerts\":%" PRIu64
                            ",\"evidence_accounts\":", k ? "," : "",
                      fw_rule_name((fw_rule_id)k),
                      rules->common[k].enabled ? "true" : "false", ac.alerts[k]);
        json_set_score(json, &per_ev[k]);
        fw_buf_puts(json, ",\"entity_accounts\":");
        json_set_score(json, &per_ent[k]);
        fw_buf_putc(json, '}');
    }
    fw_buf_puts(json, "}}");
out:
    free(ac.evidence);
    free(ac.entity);
    corpus_free(&cp);
    return ok;
}

typedef struct bad_line_ctx {
    uint64_t shown, total;
} bad_line_ctx;

static void aml_bad_line(void *opaque, const char *file, uint64_t line, const char *reason) {
    bad_line_ctx *bl = opaque;
    if (bl->shown < 10) {
        fprintf(stderr, "fraudwatch eval: %s:%" PRIu64 ": skipped: %s\n", file, line, reason);
        bl->shown++;
    }
    bl->total++;
}

static bool plot_aml(const char *png, const aml_result *res, size_t n) {
    fw_buf data, script;
    fw_buf_init(&data, 0);
    fw_buf_init(&script, 0);
    for (size_t i = 0; i < n; i++) {
        for (const char *p = res[i].name; *p; p++)
            fw_buf_putc(&data, *p == '\t' ? ' ' : *p);
        tsv_num(&data, res[i].evidence.q.precision);
        tsv_num(&data, res[i].evidence.q.recall);
        tsv_num(&data, res[i].evidence.q.f1);
        fw_buf_putc(&data, '\n');
    }
    fw_buf_puts(&script, bars_script);
    fw_buf_puts(&script, "set title 'fraudwatch eval --amlsim: accounts flagged through alert "
                         "transactions'\nset ylabel 'share'\n"
                         "plot DATA_FILE using 2:xtic(1) title 'precision', '' using 3 title "
                         "'recall', '' using 4 title 'F1', \\\n");
    bar_labels(&script, 3, 2);
    bool ok = run_gnuplot(png, &data, &script);
    fw_buf_fini(&data);
    fw_buf_fini(&script);
    return ok;
}

static int eval_amlsim(const eval_opts *o, const fw_rules *rules, FILE *out) {
    char errstr[1024];
    fw_amlsim_data **sets = NULL;
    size_t nsets = 0;
    bad_line_ctx bl = { 0 };
    double t0 = fw_mono_s();
    fw_err err = fw_amlsim_load(o->amlsim, &sets, &nsets, aml_bad_line, &bl, errstr,
                                sizeof(errstr));
    if (err) {
        fprintf(stderr, "fraudwatch eval: --amlsim %s\n", errstr);
        return 1;
    }
    if (bl.total > bl.shown)
        fprintf(stderr, "fraudwatch eval: ... %" PRIu64 " CSV rows skipped in all\n", bl.total);
    if (!o->quiet)
        fprintf(stderr, "fraudwatch eval: %zu AMLSim data set%s read from %s in %.2f s\n", nsets,
                nsets == 1 ? "" : "s", o->amlsim, fw_mono_s() - t0);
    aml_result *res = calloc(nsets, sizeof(*res));
    if (!res)
        die_oom();
    fw_buf json;
    fw_buf_init(&json, (size_t)1 << 28);
    fw_buf_puts(&json, "{\"mode\":\"amlsim\",\"path\":");
    fw_buf_json_str(&json, fw_str_c(o->amlsim));
    fw_buf_putc(&json, ',');
    json_rule_set(&json, rules);
    fw_buf_puts(&json, ",\"datasets\":[");
    fprintf(out, "fraudwatch eval: AMLSim %s\n", o->amlsim);
    bool ok = true;
    for (size_t i = 0; i < nsets && ok; i++)
        ok = eval_aml_set(o, rules, sets[i], out, &json, i == 0, &res[i]);
    fw_buf_puts(&json, "]}");
    if (ok && nsets > 1) {
        table t;
        char a[32], b[32], c[32];
        table_init(&t, "<data set|accounts|fraud|transactions|alerts|flagged|TP|FP|FN|"
                       "precision|recall|F1");
        for (size_t i = 0; i < nsets; i++) {
            table_row(&t);
            tcell(&t, "%s", fw_amlsim_name(sets[i]));
            tcell(&t, "%s", fw_count_str(fw_amlsim_naccounts(sets[i]), a, sizeof(a)));
            tcell(&t, "%s", fw_count_str(fw_amlsim_nfraud(sets[i]), b, sizeof(b)));
            tcell(&t, "%s", fw_count_str(fw_amlsim_ntxn(sets[i]), c, sizeof(c)));
            tcell(&t, "%s", fw_count_str(res[i].alerts, a, sizeof(a)));
            score_cells(&t, &res[i].evidence);
        }
        fprintf(out, "\nAll data sets (accounts flagged through alert transactions):\n");
        table_print(&t, out, "  ");
    }
    if (ok && o->json_file)
        ok = write_json_file(o->json_file, &json);
    if (ok && o->plot_file)
        ok = plot_aml(o->plot_file, res, nsets);
    fw_buf_fini(&json);
    free(res);
    for (size_t i = 0; i < nsets; i++)
        fw_amlsim_destroy(sets[i]);
    free(sets);
    return ok ? 0 : 1;
}

/* ------------------------------------------------------------ command */

enum { OPT_AMLSIM = 256, OPT_JSON, OPT_PLOT, OPT_SWEEP, OPT_MODEL, OPT_THRESHOLD };

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("fraudwatch eval: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n(see fraudwatch eval --help)\n", stderr);
    return 2;
}

int fw_cmd_eval(int argc, char **argv) {
    static const struct option opts[] = {
        { "input", required_argument, NULL, 'i' },
        { "amlsim", required_argument, NULL, OPT_AMLSIM },
        { "rules", required_argument, NULL, 'r' },
        { "json", required_argument, NULL, OPT_JSON },
        { "plot", required_argument, NULL, OPT_PLOT },
        { "sweep", required_argument, NULL, OPT_SWEEP },
        { "model", required_argument, NULL, OPT_MODEL },
        { "fraud-threshold", required_argument, NULL, OPT_THRESHOLD },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    eval_opts o = { 0 };
    int opt;
    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":i:r:qh", opts, NULL)) != -1) {
        switch (opt) {
        case 'i': o.input = optarg; break;
        case OPT_AMLSIM: o.amlsim = optarg; break;
        case 'r': o.rules_file = optarg; break;
        case OPT_JSON: o.json_file = optarg; break;
        case OPT_PLOT: o.plot_file = optarg; break;
        case OPT_SWEEP: o.sweep = optarg; break;
        case OPT_MODEL: o.model = optarg; break;
        case OPT_THRESHOLD: o.threshold = optarg; break;
        case 'q': o.quiet = true; break;
        case 'h': fputs(eval_help, stdout); return 0;
        case ':': return usage_error("option %s needs a value", argv[optind - 1]);
        default: return usage_error("unknown option %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument \"%s\"", argv[optind]);
    if (!o.input == !o.amlsim)
        return usage_error("give exactly one of --input FILE and --amlsim PATH");
    if (o.sweep && o.amlsim)
        return usage_error("--sweep works with --input only");
    if (o.plot_file && !*o.plot_file)
        return usage_error("--plot needs a file name");

    char errstr[1024];
    fw_rules rules;
    fw_rules_defaults(&rules);
    if (o.rules_file && fw_rules_load_file(&rules, o.rules_file, errstr, sizeof(errstr)))
        return usage_error("%s", errstr);
    if (o.threshold && fw_opt_parse_probability("--fraud-threshold", o.threshold,
                                                 &rules.ml_score.threshold, errstr,
                                                 sizeof(errstr)))
        return usage_error("%s", errstr);

    sweep sw;
    if (o.sweep) {
        if (!sweep_parse(o.sweep, &sw, errstr, sizeof(errstr)))
            return usage_error("%s", errstr);
        if (!rules.common[sw.rule].enabled)
            return usage_error("--sweep %s: rule %s is disabled in the rule set", o.sweep,
                               fw_rule_name(sw.rule));
        for (size_t i = 0; i < sw.n; i++) { /* every value checked before the first replay */
            fw_rules probe;
            if (!sweep_apply(&sw, i, &rules, &probe, errstr, sizeof(errstr)))
                return usage_error("%s", errstr);
        }
    }
    if (o.model && !(eval_model = fw_model_load(o.model, errstr, sizeof(errstr)))) {
        fprintf(stderr, "fraudwatch eval: %s\n", errstr);
        return 1;
    }
    /* JSON on stdout: the tables move to stderr so the document stays clean. */
    FILE *out = o.json_file && !strcmp(o.json_file, "-") ? stderr : stdout;
    int rc = o.input ? eval_input(&o, &rules, o.sweep ? &sw : NULL, out)
                     : eval_amlsim(&o, &rules, out);
    fflush(out);
    fw_model_free(eval_model);
    eval_model = NULL;
    return rc;
}
