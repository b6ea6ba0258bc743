/* eval_report.c — one report of `fraudwatch eval --input` (eval_int.h): the
 * per-rule and per-scenario tables, the JSON document and the bar chart;
 * the rule-set JSON and the table cells --sweep and --amlsim reuse. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "eval_int.h"
#include "plot.h"
#include "rules_file.h"

static void json_delay(fw_buf *b, const fw_eval_delay *d) {
    if (!d->n) {
        fw_buf_puts(b, "{\"n\":0,\"median_ms\":null,\"p95_ms\":null,\"max_ms\":null}");
        return;
    }
    fw_buf_printf(b, "{\"n\":%" PRIu64 ",\"median_ms\":%" PRId64 ",\"p95_ms\":%" PRId64
                     ",\"max_ms\":%" PRId64 "}", d->n, d->median_ms, d->p95_ms, d->max_ms);
}

/* The rules scenario @p sf targets: built-ins, then language rules. */
static void json_rule_names(fw_buf *b, const fw_eval_report *rep,
                            const fw_eval_scenario_figures *sf) {
    fw_buf_putc(b, '[');
    bool first = true;
    for (int k = 0; k < R_COUNT; k++)
        if ((sf->targets >> k) & 1) {
            fw_buf_printf(b, "%s\"%s\"", first ? "" : ",", fw_rule_name((fw_rule_id)k));
            first = false;
        }
    for (uint32_t c = 0; sf->lang_targets && c < rep->nlang; c++)
        if (fw_eval_targets_has(sf->info->targets, rep->lang[c].id)) {
            fw_buf_puts(b, first ? "" : ",");
            fw_buf_json_str(b, fw_str_c(rep->lang[c].id));
            first = false;
        }
    fw_buf_putc(b, ']');
}

void eval_json_rule_set(fw_buf *b, const fw_rules *rules) {
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

/* Whether scenario @p s counts built-in @p k (k >= 0) or language rule @p id
 * among its targets. */
static bool scenario_targets(const fw_eval_scenario_figures *sf, int k, const char *id) {
    return k >= 0 ? (sf->targets >> k) & 1 : fw_eval_targets_has(sf->info->targets, id);
}

/* One rule's object of "rules": built-in @p k, or (k < 0) language rule @p id. */
static void json_rule(fw_buf *b, const fw_eval_report *rep, const char *sep, const char *name,
                      const fw_eval_rule_figures *r, int k, const char *id) {
    fw_buf_puts(b, sep);
    fw_buf_json_str(b, fw_str_c(name));
    fw_buf_printf(b, ":{\"enabled\":%s,\"alerts\":%" PRIu64 ",\"tp\":%" PRIu64
                     ",\"fp\":%" PRIu64 ",\"fn\":%" PRIu64 ",\"target_instances\":%" PRIu64
                     ",\"caught\":%" PRIu64 ",\"caught_any_scenario\":%" PRIu64
                     ",\"precision\":",
                  r->enabled ? "true" : "false", r->alerts, r->tp, r->fp, r->fn,
                  r->target_instances, r->caught, r->caught_any);
    fw_json_num(b, r->q.precision);
    fw_json_field_num(b, "recall", r->q.recall);
    fw_json_field_num(b, "f1", r->q.f1);
    fw_json_field_num(b, "alerts_per_1000", r->alerts_per_1000);
    fw_buf_puts(b, ",\"delay\":");
    json_delay(b, &r->delay);
    fw_buf_puts(b, ",\"time_to_detect\":");
    json_delay(b, &r->from_start);
    if (k < 0)
        fw_buf_puts(b, ",\"language\":true");
    fw_buf_puts(b, ",\"targets\":[");
    bool f2 = true;
    for (uint32_t s = 0; s < rep->nscenarios; s++)
        if (scenario_targets(&rep->scenario[s], k, id)) {
            fw_buf_puts(b, f2 ? "" : ",");
            fw_buf_json_str(b, fw_str_c(rep->scenario[s].info->name));
            f2 = false;
        }
    fw_buf_puts(b, "]}");
}

void eval_json_report(fw_buf *b, const fw_eval_report *rep, const replay_stats *st) {
    fw_buf_printf(b, "{\"records\":%" PRIu64 ",\"transactions\":%" PRIu64
                     ",\"dead_letters\":%" PRIu64 ",\"late\":%" PRIu64 ",\"rules\":{",
                  st->records, st->transactions, st->dead_letters, st->late);
    for (int k = 0; k < R_COUNT; k++)
        json_rule(b, rep, k ? "," : "", fw_rule_name((fw_rule_id)k), &rep->rule[k], k, NULL);
    for (uint32_t c = 0; c < rep->nlang; c++) /* language rules, after the built-ins */
        json_rule(b, rep, ",", rep->lang[c].id, &rep->lang[c].fig, -1, rep->lang[c].id);
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
        json_rule_names(b, rep, sf);
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
        for (uint32_t c = 0; c < rep->nlang; c++)
            if (sf->caught_by_lang[c]) {
                fw_buf_puts(b, f2 ? "" : ",");
                fw_buf_json_str(b, fw_str_c(rep->lang[c].id));
                fw_buf_printf(b, ":%" PRIu64, sf->caught_by_lang[c]);
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
    fw_json_field_num(b, "recall_targeted", o->recall_targeted);
    fw_json_field_num(b, "recall_all", o->recall_all);
    fw_json_field_num(b, "f1_all", o->f1_all);
    fw_json_field_num(b, "alerts_per_1000", o->alerts_per_1000);
    fw_buf_puts(b, "}}");
}

bool eval_plot_rules(const char *png, const fw_eval_report *rep, const char *title) {
    fw_buf data, script;
    fw_buf_init(&data, 0);
    fw_buf_init(&script, 0);
    for (int k = 0; k < R_COUNT; k++) {
        if (!rep->rule[k].enabled)
            continue;
        fw_buf_puts(&data, fw_rule_name((fw_rule_id)k));
        fw_plot_tsv_num(&data, rep->rule[k].q.precision);
        fw_plot_tsv_num(&data, rep->rule[k].q.recall);
        fw_buf_putc(&data, '\n');
    }
    for (uint32_t c = 0; c < rep->nlang; c++) {
        fw_buf_puts(&data, rep->lang[c].id); /* ids are [A-Za-z0-9_.-]: no tab or newline */
        fw_plot_tsv_num(&data, rep->lang[c].fig.q.precision);
        fw_plot_tsv_num(&data, rep->lang[c].fig.q.recall);
        fw_buf_putc(&data, '\n');
    }
    fw_buf_puts(&script, fw_plot_bars_script);
    fw_buf_puts(&script, "set title ");
    fw_plot_quote(&script, title);
    fw_buf_puts(&script, "\nset ylabel 'share'\n"
                         "plot DATA_FILE using 2:xtic(1) title 'precision (alerts on fraud)', "
                         "'' using 3 title 'recall (target instances caught)', \\\n");
    fw_plot_bar_labels(&script, 2, 2);
    bool ok = fw_plot_run("eval", png, &data, &script);
    fw_buf_fini(&data);
    fw_buf_fini(&script);
    return ok;
}

void eval_rule_label(const fw_rules *rules, int k, char *out, size_t size) {
    snprintf(out, size, "%s%s", fw_rule_name((fw_rule_id)k),
             rules->common[k].shadow ? " (shadow)" : "");
}

void eval_append_name(char *out, size_t size, const char *name) {
    size_t n = strlen(out);
    snprintf(out + n, size - n, "%s%s", n ? ", " : "", name);
}

void eval_score_cells(fw_table *t, uint64_t alerts, uint64_t tp, uint64_t fp, uint64_t fn,
                      const fw_eval_ratio *q) {
    char buf[32];
    fw_table_cell(t, "%s", fw_count_str(alerts, buf, sizeof(buf)));
    fw_table_cell(t, "%s", fw_count_str(tp, buf, sizeof(buf)));
    fw_table_cell(t, "%s", fw_count_str(fp, buf, sizeof(buf)));
    fw_table_cell(t, "%s", fw_count_str(fn, buf, sizeof(buf)));
    fw_table_cell(t, "%s", fw_pct_str(q->precision, buf, sizeof(buf)));
    fw_table_cell(t, "%s", fw_pct_str(q->recall, buf, sizeof(buf)));
    fw_table_cell(t, "%s", fw_pct_str(q->f1, buf, sizeof(buf)));
}

void eval_rule_figure_cells(fw_table *t, const fw_eval_rule_figures *r) {
    eval_score_cells(t, r->alerts, r->tp, r->fp, r->fn, &r->q);
}

/* Median and p95 cells, "-" when nothing was caught. */
static void delay_cells(fw_table *t, const fw_eval_delay *d) {
    char a[32], b[32];
    fw_table_cell(t, "%s", d->n ? fw_dur_str(d->median_ms, a, sizeof(a)) : "-");
    fw_table_cell(t, "%s", d->n ? fw_dur_str(d->p95_ms, b, sizeof(b)) : "-");
}

/* One row of the per-rule table: built-in @p k, or (k < 0) language rule @p id. */
static void rule_row(fw_table *t, const fw_eval_report *rep, const char *name,
                     const fw_eval_rule_figures *r, int k, const char *id) {
    char targets[FW_TABLE_CELL] = "";
    for (uint32_t s = 0; s < rep->nscenarios; s++)
        if (scenario_targets(&rep->scenario[s], k, id))
            eval_append_name(targets, sizeof(targets), rep->scenario[s].info->name);
    fw_table_row(t);
    fw_table_cell(t, "%s", name);
    eval_rule_figure_cells(t, r);
    if (isnan(r->alerts_per_1000))
        fw_table_cell(t, "-");
    else
        fw_table_cell(t, "%.2f", r->alerts_per_1000);
    delay_cells(t, &r->delay);
    delay_cells(t, &r->from_start);
    fw_table_cell(t, "%s", *targets ? targets : "none");
}

void eval_print_report(FILE *out, const fw_eval_report *rep, const fw_rules *rules,
                  const replay_stats *st, const fw_eval_labels *labels) {
    char a[32], b[32], c[32], d[32];
    fw_table t;
    fw_table_init(&t, "<rule|alerts|TP|FP|FN|precision|recall|F1|per 1k|delay p50|p95|"
                   "to detect p50|p95|<targets (scenarios)");
    char disabled[256] = "";
    for (int k = 0; k < R_COUNT; k++) {
        const fw_eval_rule_figures *r = &rep->rule[k];
        if (!r->enabled) {
            eval_append_name(disabled, sizeof(disabled), fw_rule_name((fw_rule_id)k));
            continue;
        }
        char name[64];
        eval_rule_label(rules, k, name, sizeof(name));
        rule_row(&t, rep, name, r, k, NULL);
    }
    for (uint32_t j = 0; j < rep->nlang; j++) { /* language rules, after the built-ins */
        char name[FW_LANG_MAX_ID + 16];
        snprintf(name, sizeof(name), "%s%s", rep->lang[j].id,
                 rep->lang[j].shadow ? " (shadow)" : "");
        rule_row(&t, rep, name, &rep->lang[j].fig, -1, rep->lang[j].id);
    }
    fprintf(out, "\nPer rule (recall over the instances of the scenarios it targets):\n");
    fw_table_print(&t, out, "  ");
    if (*disabled)
        fprintf(out, "  disabled: %s\n", disabled);

    fw_table_init(&t, "<scenario|instances|txns|caught|recall|delay p50|p95|to detect p50|p95|"
                   "<caught by|<targeted by");
    for (uint32_t s = 0; s < rep->nscenarios; s++) {
        const fw_eval_scenario_figures *sf = &rep->scenario[s];
        char caught_by[FW_TABLE_CELL] = "", targeted[FW_TABLE_CELL] = "";
        for (int k = 0; k < R_COUNT; k++) {
            if (sf->caught_by_rule[k]) {
                char one[64];
                snprintf(one, sizeof(one), "%s %s", fw_rule_name((fw_rule_id)k),
                         fw_count_str(sf->caught_by_rule[k], a, sizeof(a)));
                eval_append_name(caught_by, sizeof(caught_by), one);
            }
            if ((sf->targets >> k) & 1)
                eval_append_name(targeted, sizeof(targeted), fw_rule_name((fw_rule_id)k));
        }
        for (uint32_t j = 0; j < rep->nlang; j++) {
            if (sf->caught_by_lang[j]) {
                char one[FW_LANG_MAX_ID + 32];
                snprintf(one, sizeof(one), "%s %s", rep->lang[j].id,
                         fw_count_str(sf->caught_by_lang[j], a, sizeof(a)));
                eval_append_name(caught_by, sizeof(caught_by), one);
            }
            if (sf->lang_targets && fw_eval_targets_has(sf->info->targets, rep->lang[j].id))
                eval_append_name(targeted, sizeof(targeted), rep->lang[j].id);
        }
        if (!sf->targets && !sf->lang_targets)
            snprintf(targeted, sizeof(targeted), "%s",
                     sf->info->known ? "not targeted by any rule" : "no rule known to target it");
        fw_table_row(&t);
        fw_table_cell(&t, "%s", sf->info->name);
        fw_table_cell(&t, "%s", fw_count_str(sf->instances, a, sizeof(a)));
        fw_table_cell(&t, "%s", fw_count_str(sf->info->transactions, b, sizeof(b)));
        fw_table_cell(&t, "%s", fw_count_str(sf->caught, c, sizeof(c)));
        fw_table_cell(&t, "%s", fw_pct_str(sf->recall, d, sizeof(d)));
        delay_cells(&t, &sf->delay);
        delay_cells(&t, &sf->from_start);
        fw_table_cell(&t, "%s", *caught_by ? caught_by : "-");
        fw_table_cell(&t, "%s", targeted);
    }
    fprintf(out, "\nPer scenario (recall: instances caught by any rule):\n");
    fw_table_print(&t, out, "  ");

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

