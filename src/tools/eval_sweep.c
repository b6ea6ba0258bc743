/* eval_sweep.c — `fraudwatch eval --sweep RULE.PARAM=FROM:TO:STEP`
 * (eval_int.h): the spec, each value applied through the rules parser as a
 * one-rule rules file, one scored replay per value, the table, the JSON and
 * the line chart. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_int.h"
#include "json.h"
#include "plot.h"
#include "rules_file.h"

typedef struct sweep_row {
    double value;
    fw_eval_rule_figures rule;
    fw_eval_overall all;
} sweep_row;

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

/* The swept rule's name: a built-in's, or the language rule's id. */
static const char *sweep_rule_name(const sweep *sw) {
    return sw->rule == FW_RULE_LANG ? sw->lang_id : fw_rule_name(sw->rule);
}

/* Whether language rule @p r has param @p name; else its params into @p list. */
static bool lang_has_param(const fw_lang_rule *r, const char *name, char *list, size_t size) {
    list[0] = '\0';
    for (size_t i = 0; i < r->nparams; i++) {
        if (!strcmp(r->params[i].name, name))
            return true;
        eval_append_name(list, size, r->params[i].name);
    }
    return false;
}

bool eval_sweep_parse(const char *spec, sweep *sw, const fw_lang_rules *lang, char *errstr,
                      size_t errstr_size) {
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
    const fw_lang_rule *lr = NULL;
    /* A language rule with a built-in's id runs instead of it: its params are swept. */
    if (lang && (lr = fw_lang_rules_find(lang, buf)) != NULL) {
        sw->rule = FW_RULE_LANG;
        snprintf(sw->lang_id, sizeof(sw->lang_id), "%s", lr->id);
    } else if (sw->rule >= R_COUNT) {
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
    char params[400];
    if (lr && !lang_has_param(lr, sw->param, params, sizeof(params))) {
        snprintf(errstr, errstr_size, "--sweep: rule %s has no param \"%s\" (%s%s)", lr->id,
                 sw->param, *params ? "its params: " : "it declares no params", params);
        return false;
    }
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

bool eval_sweep_apply(const sweep *sw, size_t i, const fw_rules *base, fw_rules *out,
                 char *errstr, size_t errstr_size) {
    char value[64], doc[256], why[400];
    if (sw->rule == FW_RULE_LANG) { /* its value lives in the language rules */
        *out = *base;
        return true;
    }
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

bool eval_sweep_read_doc(const char *path, char **doc, size_t *n, char *errstr,
                         size_t errstr_size) {
    *doc = NULL;
    *n = 0;
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f) {
        snprintf(errstr, errstr_size, "--rules %s: %s", path ? path : "(none)",
                 path ? strerror(errno) : "a language rule's sweep needs the rules file");
        return false;
    }
    size_t cap = 0;
    for (;;) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 1 << 16;
            char *d = realloc(*doc, cap);
            if (!d)
                fw_die_oom("eval");
            *doc = d;
        }
        size_t got = fread(*doc + *n, 1, cap - *n, f);
        *n += got;
        if (!got)
            break;
    }
    bool ok = !ferror(f);
    fclose(f);
    if (!ok) {
        snprintf(errstr, errstr_size, "--rules %s: read error", path);
        free(*doc);
        *doc = NULL;
    }
    return ok;
}

/* The byte offset of (line, column) in @p doc; columns count UTF-8 code
 * points, as json.h reports them. */
static size_t offset_of(const char *doc, size_t n, uint32_t line, uint32_t column) {
    size_t i = 0;
    for (uint32_t l = 1; l < line && i < n; i++)
        if (doc[i] == '\n')
            l++;
    for (uint32_t c = 1; i < n; i++) {
        if (((unsigned char)doc[i] & 0xC0) == 0x80)
            continue; /* a continuation byte: same code point */
        if (c++ == column)
            break;
    }
    return i;
}

bool eval_sweep_apply_lang(const sweep *sw, size_t i, const char *doc, size_t n,
                           const fw_rules *base, fw_lang_rules **out, char *errstr,
                           size_t errstr_size) {
    char value[64], why[600];
    *out = NULL;
    fw_arena a;
    size_t bound = fw_json_arena_bound(n);
    if (bound == SIZE_MAX || !fw_arena_init(&a, bound))
        fw_die_oom("eval");
    bool ok = false;
    fw_json *root;
    const fw_json *v = NULL;
    if (fw_json_parse(doc, n, &a, &root, why, sizeof(why)) != FW_OK) {
        snprintf(errstr, errstr_size, "--sweep %s: the rules file: %s", sw->spec, why);
        goto out;
    }
    FW_JSON_FOREACH(r, fw_json_get(root, "rules")) {
        const fw_json *id = fw_json_get(r, "id");
        if (id && id->type == FW_JSON_STRING && fw_str_eq_c(id->str, sw->lang_id) &&
            fw_json_get(r, "type"))
            v = fw_json_get(fw_json_get(r, "params"), sw->param);
    }
    /* Where the value is written: a number token, or a string (a duration). */
    size_t from = v ? offset_of(doc, n, v->line, v->column) : n, to = from;
    if (v && v->type == FW_JSON_NUMBER && v->str.len <= n - from &&
        !memcmp(doc + from, v->str.ptr, v->str.len)) {
        to = from + v->str.len;
    } else if (v && v->type == FW_JSON_STRING && from < n && doc[from] == '"') {
        for (to = from + 1; to < n && doc[to] != '"'; to++)
            if (doc[to] == '\\')
                to++;
        to++;
    }
    if (to <= from || to > n) {
        snprintf(errstr, errstr_size, "--sweep %s: params.%s of rule %s is not a number or a "
                 "duration in the rules file", sw->spec, sw->param, sw->lang_id);
        goto out;
    }
    sweep_value_text(sw, i, value, sizeof(value), true);
    fw_buf b;
    fw_buf_init(&b, 0);
    fw_buf_append(&b, doc, from);
    fw_buf_puts(&b, value);
    fw_buf_append(&b, doc + to, n - to);
    if (b.overflow)
        fw_die_oom("eval");
    ok = fw_lang_rules_parse_json(b.data, b.len, base, out, why, sizeof(why)) == FW_OK;
    fw_buf_fini(&b);
    if (!ok) {
        sweep_value_text(sw, i, value, sizeof(value), false);
        snprintf(errstr, errstr_size, "--sweep %s: value %s: %s", sw->spec, value, why);
    }
out:
    fw_arena_fini(&a);
    return ok;
}

static bool plot_sweep(const char *png, const sweep *sw, const sweep_row *rows) {
    fw_buf data, script;
    fw_buf_init(&data, 0);
    fw_buf_init(&script, 0);
    for (size_t i = 0; i < sw->n; i++) {
        fw_buf_printf(&data, "%.10g", sw->duration ? rows[i].value / 60000.0 : rows[i].value);
        fw_plot_tsv_num(&data, rows[i].rule.q.precision);
        fw_plot_tsv_num(&data, rows[i].rule.q.recall);
        fw_plot_tsv_num(&data, rows[i].rule.alerts_per_1000);
        fw_buf_putc(&data, '\n');
    }
    char xlabel[160], title[320];
    const char *rule = sweep_rule_name(sw);
    snprintf(xlabel, sizeof(xlabel), "%s.%s%s", rule, sw->param,
             sw->duration ? " (minutes)" : "");
    snprintf(title, sizeof(title), "fraudwatch eval --sweep %s", sw->spec);
    fw_buf_puts(&script, "set title ");
    fw_plot_quote(&script, title);
    fw_buf_puts(&script, "\nset xlabel ");
    fw_plot_quote(&script, xlabel);
    fw_buf_printf(&script,
                  "\nset ylabel 'precision, recall'\nset y2label 'alerts per 1,000 "
                  "transactions'\nset yrange [0:1.05]\nset y2range [0:*]\nset ytics nomirror\n"
                  "set y2tics\n"
                  "plot DATA_FILE using 1:2 with linespoints lw 2 title '%s precision', \\\n"
                  "     '' using 1:3 with linespoints lw 2 title '%s recall', \\\n"
                  "     '' using 1:4 axes x1y2 with linespoints dt 2 title '%s alerts per "
                  "1,000'\n", rule, rule, rule);
    bool ok = fw_plot_run("eval", png, &data, &script);
    fw_buf_fini(&data);
    fw_buf_fini(&script);
    return ok;
}

static void print_sweep(FILE *out, const sweep *sw, const sweep_row *rows) {
    char a[32], h[32];
    fw_table t;
    char head[400];
    const char *rule = sweep_rule_name(sw);
    snprintf(head, sizeof(head), "%s.%s|alerts|TP|FP|FN|precision|recall|F1|per 1k|"
                                 "all precision|all recall|all per 1k", rule, sw->param);
    fw_table_init(&t, head);
    for (size_t i = 0; i < sw->n; i++) {
        const fw_eval_rule_figures *r = &rows[i].rule;
        fw_table_row(&t);
        sweep_value_text(sw, i, a, sizeof(a), false);
        fw_table_cell(&t, "%s", a);
        eval_rule_figure_cells(&t, r);
        fw_table_cell(&t, "%.2f", isnan(r->alerts_per_1000) ? 0.0 : r->alerts_per_1000);
        fw_table_cell(&t, "%s", fw_pct_str(rows[i].all.precision, h, sizeof(h)));
        fw_table_cell(&t, "%s", fw_pct_str(rows[i].all.recall_all, a, sizeof(a)));
        fw_table_cell(&t, "%.2f", isnan(rows[i].all.alerts_per_1000) ? 0.0 : rows[i].all.alerts_per_1000);
    }
    fprintf(out, "\nSweep of %s.%s (rule figures for %s; \"all\": every rule together):\n",
            rule, sw->param, rule);
    fw_table_print(&t, out, "  ");
}

int eval_sweep_run(const eval_opts *o, const corpus *c, const fw_eval_labels *labels,
                   const fw_rules *rules, const sweep *sw, fw_buf *json, FILE *out) {
    int rc = 1;
    char *doc = NULL;
    size_t ndoc = 0;
    fw_lang_rules *vl = NULL; /* a language rule's sweep: the value's rules */
    sweep_row *rows = calloc(sw->n, sizeof(*rows));
    if (!rows)
        fw_die_oom("eval");
    if (sw->rule == FW_RULE_LANG) {
        char errstr[600];
        if (!eval_sweep_read_doc(o->rules_file, &doc, &ndoc, errstr, sizeof(errstr))) {
            fprintf(stderr, "fraudwatch eval: %s\n", errstr);
            goto out;
        }
    }
    fw_buf_puts(json, ",\"sweep\":{\"spec\":");
    fw_buf_json_str(json, fw_str_c(sw->spec));
    fw_buf_printf(json, ",\"rule\":\"%s\",\"param\":\"%s\",\"kind\":\"%s\",\"values\":[",
                  sweep_rule_name(sw), sw->param, sw->duration ? "duration" : "number");
    for (size_t i = 0; i < sw->n; i++) {
        fw_rules vr;
        char errstr[600], label[320], value[64];
        if (!eval_sweep_apply(sw, i, rules, &vr, errstr, sizeof(errstr))) {
            fprintf(stderr, "fraudwatch eval: %s\n", errstr);
            goto out;
        }
        sweep_value_text(sw, i, value, sizeof(value), false);
        snprintf(label, sizeof(label), "value %zu/%zu (%s.%s=%s): ", i + 1, sw->n,
                 sweep_rule_name(sw), sw->param, value);
        if (!o->quiet)
            fprintf(stderr, "fraudwatch eval: %sreplaying\n", label);
        eval_opts vo = *o;
        if (sw->rule == FW_RULE_LANG) {
            fw_lang_rules_destroy(vl);
            if (!eval_sweep_apply_lang(sw, i, doc, ndoc, rules, &vl, errstr, sizeof(errstr))) {
                fprintf(stderr, "fraudwatch eval: %s\n", errstr);
                goto out;
            }
            vo.lang = vl;
        }
        fw_eval_report rep;
        replay_stats st;
        if (!eval_once(c, labels, &vr, &vo, label, i == 0, &rep, &st))
            goto out;
        rows[i] = (sweep_row){ .value = sweep_value(sw, i), .all = rep.all };
        /* A language rule with a built-in's id is counted as that built-in. */
        fw_rule_id as = sw->rule == FW_RULE_LANG ? fw_rule_by_name(sw->lang_id) : sw->rule;
        if (as < R_COUNT)
            rows[i].rule = rep.rule[as];
        for (uint32_t k = 0; as >= R_COUNT && k < rep.nlang; k++)
            if (!strcmp(rep.lang[k].id, sw->lang_id))
                rows[i].rule = rep.lang[k].fig;
        fw_buf_puts(json, i ? ",{\"value\":" : "{\"value\":");
        fw_json_num(json, sweep_value(sw, i));
        fw_buf_puts(json, ",\"value_text\":");
        fw_buf_json_str(json, fw_str_c(value));
        fw_buf_puts(json, ",\"report\":");
        eval_json_report(json, &rep, &st);
        fw_buf_putc(json, '}');
        fw_eval_report_free(&rep);
    }
    fw_buf_puts(json, "]}}");
    fprintf(out, "fraudwatch eval: %s\n", o->input);
    print_sweep(out, sw, rows);
    bool ok = !o->json_file || fw_report_write_json("eval", o->json_file, json);
    if (ok && o->plot_file)
        ok = plot_sweep(o->plot_file, sw, rows);
    rc = ok ? 0 : 1;
out:
    fw_lang_rules_destroy(vl);
    free(doc);
    free(rows);
    return rc;
}
