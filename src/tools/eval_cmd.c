/* eval_cmd.c — `fraudwatch eval`: replays labelled data through the pipeline
 * that `run --input` uses and scores every alert against the labels (eval.h
 * has the definitions). Generated NDJSON is loaded once and replayed from
 * memory, once per rule set (--sweep, eval_sweep.c); AMLSim data sets are
 * turned into transaction records first (eval_amlsim.c). This file holds the
 * options and the --input run; the figures go to aligned tables, --json and
 * --plot (eval_report.c). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "eval_int.h"
#include "fw_os.h"
#include "lab_conf.h"
#include "options.h"
#include "rules_file.h"

static const char eval_usage[] =
    "Usage: fraudwatch eval --input FILE [OPTIONS]\n"
    "       fraudwatch eval --amlsim PATH [OPTIONS]\n"
    "       fraudwatch eval --feedback FILE|TOPIC [OPTIONS]\n"
    "\n"
    "Measures how well each rule detects labelled fraud: replays the data through\n"
    "the same pipeline as `fraudwatch run --input` (decode, detectors, alerts) and\n"
    "scores every alert against the labels. With --feedback, the labels are the\n"
    "analysts' verdicts instead: each rule version's precision from them. Every\n"
    "option can also be set in the environment (FW_ names); a flag wins over the\n"
    "environment.\n";

static const char eval_definitions[] =
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
    "failed), 2 usage error (a bad option or value; a --input, --amlsim, --rules,\n"
    "--schema or --model file that cannot be opened or is invalid).\n";

/* The --input run: loads the file and its labels once, then one scored replay
 * (or one per --sweep value). @returns the exit status. */
static int eval_input(const eval_opts *o, const fw_rules *rules, const sweep *sw, FILE *out) {
    corpus c;
    label_stats ls;
    char a[32], b[32], c3[32];
    double t0 = fw_mono_s();
    if (!eval_corpus_load(&c, o->input)) {
        eval_corpus_free(&c);
        return 1;
    }
    fw_eval_labels *labels = fw_eval_labels_new();
    if (!labels)
        fw_die_oom("eval");
    int rc = 1;
    fw_buf json;
    fw_buf_init(&json, (size_t)1 << 30);
    if (!eval_load_labels(&c, o->schema, labels, &ls))
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
    eval_json_rule_set(&json, rules);

    if (!sw) {
        fw_eval_report rep;
        replay_stats st;
        if (!eval_once(&c, labels, rules, o, "", true, &rep, &st))
            goto done;
        fprintf(out, "fraudwatch eval: %s\n", o->input);
        eval_print_report(out, &rep, rules, &st, labels);
        fw_buf_puts(&json, ",\"report\":");
        eval_json_report(&json, &rep, &st);
        fw_buf_putc(&json, '}');
        bool ok = !o->json_file || fw_report_write_json("eval", o->json_file, &json);
        if (ok && o->plot_file) {
            char title[512];
            snprintf(title, sizeof(title), "fraudwatch eval: %s", o->input);
            ok = eval_plot_rules(o->plot_file, &rep, title);
        }
        fw_eval_report_free(&rep);
        rc = ok ? 0 : 1;
        goto done;
    }

    rc = eval_sweep_run(o, &c, labels, rules, sw, &json, out);
done:
    fw_buf_fini(&json);
    fw_eval_labels_destroy(labels);
    eval_corpus_free(&c);
    return rc;
}

/* ------------------------------------------------------------ command */

#define OFF(field) offsetof(eval_opts, field)

/* `eval`'s options: getopt, the environment and --help come from here. */
static const fw_opt eval_opts_table[] = {
    { .section = "Input (one of):", .name = "input", .short_flag = 'i', .arg = "FILE",
      .env = { "FW_EVAL_INPUT" }, .type = FW_OPT_STRING, .offset = OFF(input),
      .help = "NDJSON transactions labelled as `fraudwatch generate` writes them: "
              "is_fraud (true/false), scenario and scenario_instance (the engine ignores "
              "these fields). Malformed lines are counted as dead letters, not fatal" },
    { .name = "amlsim", .arg = "PATH", .env = { "FW_EVAL_AMLSIM" }, .type = FW_OPT_STRING,
      .offset = OFF(amlsim),
      .help = "IBM AMLSim data: a .tgz archive, a folder holding transactions.csv and "
              "nodes.csv, or a folder of such archives and folders (one report section "
              "each)" },
    { .name = "feedback", .arg = "FILE|TOPIC", .env = { "FW_EVAL_FEEDBACK" },
      .type = FW_OPT_STRING, .offset = OFF(feedback),
      .help = "analysts' verdicts as `fraudwatch console` publishes them (docs/api.md): "
              "an NDJSON file, or else a topic read from its beginning to its end; each "
              "alert's latest verdict counts" },
    { .name = "schema", .arg = "FILE", .env = { "FW_SCHEMA" }, .type = FW_OPT_STRING,
      .offset = OFF(schema_file), .def = "the rules file's \"schema\" section, else ours",
      .help = "--input in another team's spelling, as `run --schema` reads it "
              "(docs/schema.md); the label fields keep their names" },
    { .section = "Options:", .name = "rules", .short_flag = 'r', .arg = "FILE",
      .env = { "FW_RULES" }, .type = FW_OPT_STRING, .offset = OFF(rules_file),
      .def = "built-in defaults",
      .help = "candidate rules file applied over the built-in defaults (docs/rules.md), "
              "as `run --rules` does" },
    { .name = "model", .short_flag = 'm', .arg = "FILE", .env = { "FW_MODEL" },
      .type = FW_OPT_STRING, .offset = OFF(model), .def = "none, ml_score off",
      .help = "score with this model (rule ml_score, docs/model.md), as `run --model` "
              "does" },
    { .name = "fraud-threshold", .arg = "P", .env = { "FW_FRAUD_THRESHOLD" },
      .type = FW_OPT_PROBABILITY, .offset = OFF(threshold), .def = "0.8, or the rules file's",
      .help = "ml_score alerts when the probability > P" },
    { .name = "json", .arg = "FILE", .env = { "FW_EVAL_JSON" }, .type = FW_OPT_STRING,
      .offset = OFF(json_file),
      .help = "also write every figure as JSON ('-' = stdout; the tables then go to "
              "stderr)" },
    { .name = "plot", .arg = "FILE.png", .env = { "FW_EVAL_PLOT" }, .type = FW_OPT_STRING,
      .offset = OFF(plot_file),
      .help = "chart precision and recall per rule (with --sweep: precision, recall and "
              "alerts per 1,000 against the value; with --amlsim: per data set) with "
              "gnuplot" },
    { .name = "sweep", .arg = "RULE.PARAM=FROM:TO:STEP", .env = { "FW_EVAL_SWEEP" },
      .type = FW_OPT_STRING, .offset = OFF(sweep),
      .help = "--input only: replay once per value of one rule parameter and tabulate the "
              "figures, e.g. velocity.min_count=2:6:1, high_amount.limit=3000:8000:500 or "
              "velocity.window=10m:60m:10m (durations as in rules files). Each value is "
              "applied as the rules file {\"rules\":[{\"id\":RULE,\"params\":{PARAM:VALUE}}]} "
              "over the rule set; at most 1000 values" },
    FW_OPTS_PROGRESS(eval_opts, quiet, progress_flag),
    FW_OPTS_KAFKA(eval_opts, kafka),
    { .section = "Other:", .name = "help", .short_flag = 'h', .type = FW_OPT_HELP,
      .help = "this text" },
};

#define EVAL_NOPTS (sizeof(eval_opts_table) / sizeof(eval_opts_table[0]))

static const fw_opts_cmd eval_cmd = {
    .name = "eval", .usage = eval_usage, .notes = eval_definitions, .opts = eval_opts_table, .nopts = EVAL_NOPTS,
};

/* Checks the options and loads what they name, before any work.
 * @returns -1 to go on, else the exit status. */
static int eval_setup(eval_opts *o, fw_rules *rules, fw_schema **schema, fw_lang_rules **lang,
                      sweep *sw) {
    char errstr[1024];
    int rc;
    o->progress = fw_progress_mode_of(o->quiet, o->progress_flag);
    if (!!o->input + !!o->amlsim + !!o->feedback != 1)
        return fw_opts_usage_error("eval", "give exactly one of --input FILE, --amlsim PATH "
                                   "and --feedback FILE|TOPIC");
    if (o->feedback) {
        if (o->sweep || o->model || o->plot_file || o->rules_file || o->schema_file)
            return fw_opts_usage_error("eval", "--feedback takes no --sweep, --model, --plot, "
                                       "--rules or --schema: it replays nothing");
        if (!*o->feedback)
            return fw_opts_usage_error("eval", "--feedback needs a file or a topic");
        return -1;
    }
    if (o->sweep && o->amlsim)
        return fw_opts_usage_error("eval", "--sweep works with --input only");
    if (o->schema_file && o->amlsim)
        return fw_opts_usage_error("eval", "--schema works with --input only: AMLSim data "
                                   "is read by its own reader");
    if (o->plot_file && !*o->plot_file)
        return fw_opts_usage_error("eval", "--plot needs a file name");
    if ((rc = fw_opts_check_readable("eval", o->input ? "--input" : "--amlsim",
                                     o->input ? o->input : o->amlsim)) != 0 ||
        (rc = fw_lab_conf_load("eval", o->rules_file, o->schema_file, rules, schema,
                               lang)) != 0)
        return rc;
    o->schema = o->amlsim ? NULL : *schema; /* AMLSim records are converted to ours */
    o->lang = *lang;
    if (o->threshold >= 0)
        rules->ml_score.threshold = o->threshold;
    if (o->sweep) {
        if (!eval_sweep_parse(o->sweep, sw, o->lang, errstr, sizeof(errstr)))
            return fw_opts_usage_error("eval", "%s", errstr);
        if (sw->rule != FW_RULE_LANG && !rules->common[sw->rule].enabled)
            return fw_opts_usage_error("eval", "--sweep %s: rule %s is disabled in the rule "
                                       "set", o->sweep, fw_rule_name(sw->rule));
        char *doc = NULL;
        size_t ndoc = 0;
        if (sw->rule == FW_RULE_LANG &&
            !eval_sweep_read_doc(o->rules_file, &doc, &ndoc, errstr, sizeof(errstr)))
            return fw_opts_usage_error("eval", "%s", errstr);
        for (size_t i = 0; i < sw->n; i++) { /* every value checked before the first replay */
            fw_rules probe;
            fw_lang_rules *lprobe = NULL;
            bool ok = eval_sweep_apply(sw, i, rules, &probe, errstr, sizeof(errstr)) &&
                      (sw->rule != FW_RULE_LANG ||
                       eval_sweep_apply_lang(sw, i, doc, ndoc, rules, &lprobe, errstr,
                                             sizeof(errstr)));
            fw_lang_rules_destroy(lprobe);
            if (!ok) {
                free(doc);
                return fw_opts_usage_error("eval", "%s", errstr);
            }
        }
        free(doc);
    }
    if (o->model && !(o->ml = fw_model_load(o->model, errstr, sizeof(errstr))))
        return fw_opts_usage_error("eval", "--model: %s", errstr);
    return -1;
}

int fw_cmd_eval(int argc, char **argv) {
    eval_opts o = { .threshold = -1 };
    fw_kafka_opts_init(&o.kafka);
    int rc = fw_opts_main(&eval_cmd, &o, argc, argv, NULL);
    if (rc >= 0)
        return rc;
    fw_rules rules;
    fw_schema *schema = NULL;
    fw_lang_rules *lang = NULL;
    sweep sw;
    if ((rc = eval_setup(&o, &rules, &schema, &lang, &sw)) < 0 && o.feedback) {
        rc = eval_feedback(&o, o.json_file && !strcmp(o.json_file, "-") ? stderr : stdout);
    } else if (rc < 0) {
        /* JSON on stdout: the tables move to stderr so the document stays clean. */
        FILE *out = o.json_file && !strcmp(o.json_file, "-") ? stderr : stdout;
        rc = o.input ? eval_input(&o, &rules, o.sweep ? &sw : NULL, out)
                     : eval_amlsim(&o, &rules, out);
        fflush(out);
    }
    fw_model_free(o.ml);
    fw_schema_destroy(schema);
    fw_lang_rules_destroy(lang);
    return rc;
}
