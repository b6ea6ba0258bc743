/* eval_cmd.c — `fraudwatch eval`: replays labelled data through the pipeline
 * that `run --input` uses and scores every alert against the labels (eval.h
 * has the definitions). Generated NDJSON is loaded once and replayed from
 * memory, once per rule set (--sweep, eval_sweep.c); AMLSim data sets are
 * turned into transaction records first (eval_amlsim.c). This file holds the
 * options and the --input run; the figures go to aligned tables, --json and
 * --plot (eval_report.c). */
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "eval_int.h"
#include "fw_os.h"
#include "options.h"
#include "rules_file.h"

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
    "      --progress        progress lines (records, percent, rate, ETA) even when\n"
    "                        stderr is not a terminal; on one they are on already\n"
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
    if (!eval_load_labels(&c, labels, &ls))
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
        if (!eval_once(&c, labels, rules, o->ml, "", o->progress, true, &rep, &st))
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

enum { OPT_AMLSIM = 256, OPT_JSON, OPT_PLOT, OPT_SWEEP, OPT_MODEL, OPT_THRESHOLD,
       OPT_PROGRESS };

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
        { "progress", no_argument, NULL, OPT_PROGRESS },
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
        case OPT_PROGRESS: o.progress = FW_PROGRESS_ALWAYS; break;
        case 'h': fputs(eval_help, stdout); return 0;
        case ':': return usage_error("option %s needs a value", argv[optind - 1]);
        default: return usage_error("unknown option %s", argv[optind - 1]);
        }
    }
    if (o.quiet) /* --quiet wins over --progress */
        o.progress = FW_PROGRESS_NEVER;
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
        if (!eval_sweep_parse(o.sweep, &sw, errstr, sizeof(errstr)))
            return usage_error("%s", errstr);
        if (!rules.common[sw.rule].enabled)
            return usage_error("--sweep %s: rule %s is disabled in the rule set", o.sweep,
                               fw_rule_name(sw.rule));
        for (size_t i = 0; i < sw.n; i++) { /* every value checked before the first replay */
            fw_rules probe;
            if (!eval_sweep_apply(&sw, i, &rules, &probe, errstr, sizeof(errstr)))
                return usage_error("%s", errstr);
        }
    }
    if (o.model && !(o.ml = fw_model_load(o.model, errstr, sizeof(errstr)))) {
        fprintf(stderr, "fraudwatch eval: %s\n", errstr);
        return 1;
    }
    /* JSON on stdout: the tables move to stderr so the document stays clean. */
    FILE *out = o.json_file && !strcmp(o.json_file, "-") ? stderr : stdout;
    int rc = o.input ? eval_input(&o, &rules, o.sweep ? &sw : NULL, out)
                     : eval_amlsim(&o, &rules, out);
    fflush(out);
    fw_model_free(o.ml);
    return rc;
}
