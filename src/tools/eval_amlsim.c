/* eval_amlsim.c — `fraudwatch eval --amlsim PATH` (eval_int.h): each IBM
 * AMLSim data set (read by amlsim.h) turned into transfer records, replayed,
 * and scored per account: an account is flagged when an alert's transactions
 * touch it (or, entity-only, when it is an alert's entity). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlsim.h"
#include "eval_int.h"
#include "fw_os.h"
#include "plot.h"

/* Bit of fw_rule_mask for "some language rule" in the per-account masks
 * (the built-ins use bits 0 .. R_COUNT-1); each language rule has its own
 * per-account flags besides. */
#define AML_LANG_BIT ((fw_rule_mask)1 << 31)
_Static_assert(R_COUNT < 31, "AML_LANG_BIT is free");

/* A language rule's accounts, by id (at most FW_LANG_MAX_RULES, as loaded). */
typedef struct aml_lang {
    char id[FW_LANG_MAX_ID];
    uint64_t alerts;
    fw_rule_mask *evidence, *entity; /* per account: 1 when flagged */
} aml_lang;

typedef struct aml_ctx {
    const fw_amlsim_data *d;
    fw_rule_mask *evidence;   /* per account: rules whose alert evidence touched it */
    fw_rule_mask *entity;     /* per account: rules that alerted on it as the entity */
    uint64_t alerts[R_COUNT];
    aml_lang *lang;           /* [FW_LANG_MAX_RULES], columns allocated when first used */
    uint32_t nlang;
    uint64_t lang_unscored;   /* alerts of an id past the bound: in the total only */
} aml_ctx;

/* The columns of language rule @p id, added when new; NULL past the bound. */
static aml_lang *aml_lang_of(aml_ctx *ac, const char *id) {
    size_t len = id ? strlen(id) : 0;
    if (!len || len >= FW_LANG_MAX_ID)
        return NULL;
    for (uint32_t i = 0; i < ac->nlang; i++)
        if (!strcmp(ac->lang[i].id, id))
            return &ac->lang[i];
    if (ac->nlang >= FW_LANG_MAX_RULES)
        return NULL;
    uint32_t nacc = fw_amlsim_naccounts(ac->d);
    aml_lang *l = &ac->lang[ac->nlang];
    memcpy(l->id, id, len + 1);
    l->evidence = calloc(nacc ? nacc : 1, sizeof(fw_rule_mask));
    l->entity = calloc(nacc ? nacc : 1, sizeof(fw_rule_mask));
    if (!l->evidence || !l->entity)
        fw_die_oom("eval");
    ac->nlang++;
    return l;
}

/* Flags account @p acc in @p masks with @p bit, and in the language rule's
 * own flags @p lang (NULL for a built-in). */
static void aml_flag(fw_rule_mask *masks, fw_rule_mask *lang, uint32_t acc, fw_rule_mask bit) {
    masks[acc] |= bit;
    if (lang)
        lang[acc] = 1;
}

static void aml_mark_txn(aml_ctx *ac, fw_str id, fw_rule_mask bit, aml_lang *l) {
    uint32_t i = fw_amlsim_find_txn(ac->d, id);
    if (i == UINT32_MAX)
        return;
    const fw_amlsim_txn *t = &fw_amlsim_txns(ac->d)[i];
    aml_flag(ac->evidence, l ? l->evidence : NULL, t->src, bit);
    aml_flag(ac->evidence, l ? l->evidence : NULL, t->dst, bit);
}

static void aml_mark_entity(aml_ctx *ac, fw_str id, fw_rule_mask bit, aml_lang *l) {
    uint32_t a = fw_amlsim_find_account(ac->d, id);
    if (a != UINT32_MAX)
        aml_flag(ac->entity, l ? l->entity : NULL, a, bit);
}

static void aml_alert(void *opaque, const fw_alert *a) {
    aml_ctx *ac = opaque;
    aml_lang *l = NULL;
    fw_rule_mask bit;
    if (a->rule == FW_RULE_LANG) {
        if (!(l = aml_lang_of(ac, a->rule_name))) {
            ac->lang_unscored++;
            return;
        }
        l->alerts++;
        bit = AML_LANG_BIT;
    } else if ((unsigned)a->rule < R_COUNT) {
        bit = (fw_rule_mask)1 << a->rule;
        ac->alerts[a->rule]++;
    } else {
        return;
    }
    for (size_t k = 0; k < a->nevidence; k++)
        aml_mark_txn(ac, a->evidence[k].transaction_id, bit, l);
    if (a->txn)
        aml_mark_txn(ac, a->txn->transaction_id, bit, l);
    const char *type = a->entity_type ? a->entity_type : "";
    if (!strcmp(type, "account_pair")) { /* "ACCOUNT->COUNTERPARTY": both sides */
        fw_str e = a->entity_id;
        for (size_t i = 0; i + 1 < e.len; i++)
            if (e.ptr[i] == '-' && e.ptr[i + 1] == '>') {
                aml_mark_entity(ac, (fw_str){ e.ptr, i }, bit, l);
                aml_mark_entity(ac, (fw_str){ e.ptr + i + 2, e.len - i - 2 }, bit, l);
                break;
            }
    } else if (!strcmp(type, "transaction")) {
        uint32_t i = fw_amlsim_find_txn(ac->d, a->entity_id);
        if (i != UINT32_MAX)
            aml_flag(ac->entity, l ? l->entity : NULL, fw_amlsim_txns(ac->d)[i].src, bit);
    } else {
        aml_mark_entity(ac, a->entity_id, bit, l); /* account, customer (= account here) */
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
    fw_json_field_num(b, "recall", s->q.recall);
    fw_json_field_num(b, "f1", s->q.f1);
    fw_buf_putc(b, '}');
}

static void score_cells(fw_table *t, const fw_eval_set_score *s) {
    eval_score_cells(t, s->flagged, s->tp, s->fp, s->fn, &s->q);
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
            fw_die_oom("eval");
        eval_corpus_push(&cp, off, recs.len - off, fw_amlsim_txns(d)[i].line);
    }
    cp.data = recs.data; /* the corpus now owns the buffer */
    cp.len = recs.len;
    aml_ctx ac = { .d = d, .evidence = calloc(nacc ? nacc : 1, sizeof(fw_rule_mask)),
                   .entity = calloc(nacc ? nacc : 1, sizeof(fw_rule_mask)),
                   .lang = calloc(FW_LANG_MAX_RULES, sizeof(aml_lang)) };
    if (!ac.evidence || !ac.entity || !ac.lang)
        fw_die_oom("eval");
    for (size_t i = 0; o->lang && i < o->lang->n; i++) /* a row each, in the file's order */
        aml_lang_of(&ac, o->lang->rules[i].id);
    replay_ctx rc = { .alert = aml_alert, .opaque = &ac, .show_dead_letters = true,
                      .model = o->ml };
    replay_stats st;
    char label[200];
    snprintf(label, sizeof(label), "%s: ", fw_amlsim_name(d));
    bool ok = eval_replay(&cp, rules, &rc, label, o->progress, &st);
    if (!ok)
        goto out;
    const uint8_t *truth = fw_amlsim_fraud(d);
    fw_rule_mask all = AML_LANG_BIT;
    for (int k = 0; k < R_COUNT; k++)
        all |= (fw_rule_mask)1 << k;
    memset(res, 0, sizeof(*res));
    snprintf(res->name, sizeof(res->name), "%s", fw_amlsim_name(d));
    for (int k = 0; k < R_COUNT; k++)
        res->alerts += ac.alerts[k];
    res->alerts += ac.lang_unscored;
    for (uint32_t i = 0; i < ac.nlang; i++)
        res->alerts += ac.lang[i].alerts;
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
    for (uint32_t i = 0; i < ac.nlang; i++) /* language rules, after the built-ins */
        if (ac.lang[i].alerts) {
            fprintf(out, "%s%s %s", any ? ", " : " (", ac.lang[i].id,
                    fw_count_str(ac.lang[i].alerts, a, 32));
            any = true;
        }
    fprintf(out, "%s\n", any ? ")" : "");
    if (fw_amlsim_naccounts(d) > fw_amlsim_nlabelled(d) || fw_amlsim_bad_lines(d) ||
        st.dead_letters)
        fprintf(out, "  note: accounts only in transactions.csv (counted as not fraud): %s, "
                     "CSV rows skipped: %s, dead letters: %s\n",
                fw_count_str(nacc - fw_amlsim_nlabelled(d), a, 32),
                fw_count_str(fw_amlsim_bad_lines(d), b, 32), fw_count_str(st.dead_letters, c, 32));
    fw_table t;
    fw_table_init(&t, "<accounts flagged by|flagged|TP|FP|FN|precision|recall|F1");
    fw_table_row(&t);
    fw_table_cell(&t, "alert transactions");
    score_cells(&t, &res->evidence);
    fw_table_row(&t);
    fw_table_cell(&t, "alert entities");
    score_cells(&t, &res->entity);
    fw_table_print(&t, out, "  ");
    fw_table_init(&t, "<rule|alerts|flagged|TP|FP|FN|precision|recall|F1|entity prec.|"
                   "entity recall");
    fw_eval_set_score per_ev[R_COUNT], per_ent[R_COUNT];
    for (int k = 0; k < R_COUNT; k++) {
        per_ev[k] = fw_eval_score_set(truth, ac.evidence, nacc, (fw_rule_mask)1 << k);
        per_ent[k] = fw_eval_score_set(truth, ac.entity, nacc, (fw_rule_mask)1 << k);
        if (!rules->common[k].enabled)
            continue;
        char name[64];
        eval_rule_label(rules, k, name, sizeof(name));
        fw_table_row(&t);
        fw_table_cell(&t, "%s", name);
        fw_table_cell(&t, "%s", fw_count_str(ac.alerts[k], a, 32));
        score_cells(&t, &per_ev[k]);
        fw_table_cell(&t, "%s", fw_pct_str(per_ent[k].q.precision, a, 32));
        fw_table_cell(&t, "%s", fw_pct_str(per_ent[k].q.recall, b, 32));
    }
    for (uint32_t i = 0; i < ac.nlang; i++) {
        const aml_lang *l = &ac.lang[i];
        fw_eval_set_score ev = fw_eval_score_set(truth, l->evidence, nacc, 1);
        fw_eval_set_score ent = fw_eval_score_set(truth, l->entity, nacc, 1);
        fw_table_row(&t);
        fw_table_cell(&t, "%s", l->id);
        fw_table_cell(&t, "%s", fw_count_str(l->alerts, a, 32));
        score_cells(&t, &ev);
        fw_table_cell(&t, "%s", fw_pct_str(ent.q.precision, a, 32));
        fw_table_cell(&t, "%s", fw_pct_str(ent.q.recall, b, 32));
    }
    fprintf(out, "  per rule (accounts flagged through the rule's alert transactions):\n");
    fw_table_print(&t, out, "  ");
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
    for (uint32_t i = 0; i < ac.nlang; i++) { /* language rules, after the built-ins */
        const aml_lang *l = &ac.lang[i];
        fw_eval_set_score ev = fw_eval_score_set(truth, l->evidence, nacc, 1);
        fw_eval_set_score ent = fw_eval_score_set(truth, l->entity, nacc, 1);
        fw_buf_putc(json, ',');
        fw_buf_json_str(json, fw_str_c(l->id));
        fw_buf_printf(json, ":{\"enabled\":true,\"language\":true,\"alerts\":%" PRIu64
                            ",\"evidence_accounts\":", l->alerts);
        json_set_score(json, &ev);
        fw_buf_puts(json, ",\"entity_accounts\":");
        json_set_score(json, &ent);
        fw_buf_putc(json, '}');
    }
    fw_buf_puts(json, "}}");
out:
    free(ac.evidence);
    free(ac.entity);
    for (uint32_t i = 0; i < ac.nlang; i++) {
        free(ac.lang[i].evidence);
        free(ac.lang[i].entity);
    }
    free(ac.lang);
    eval_corpus_free(&cp);
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
        fw_plot_tsv_num(&data, res[i].evidence.q.precision);
        fw_plot_tsv_num(&data, res[i].evidence.q.recall);
        fw_plot_tsv_num(&data, res[i].evidence.q.f1);
        fw_buf_putc(&data, '\n');
    }
    fw_buf_puts(&script, fw_plot_bars_script);
    fw_buf_puts(&script, "set title 'fraudwatch eval --amlsim: accounts flagged through alert "
                         "transactions'\nset ylabel 'share'\n"
                         "plot DATA_FILE using 2:xtic(1) title 'precision', '' using 3 title "
                         "'recall', '' using 4 title 'F1', \\\n");
    fw_plot_bar_labels(&script, 3, 2);
    bool ok = fw_plot_run("eval", png, &data, &script);
    fw_buf_fini(&data);
    fw_buf_fini(&script);
    return ok;
}

int eval_amlsim(const eval_opts *o, const fw_rules *rules, FILE *out) {
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
        fw_die_oom("eval");
    fw_buf json;
    fw_buf_init(&json, (size_t)1 << 28);
    fw_buf_puts(&json, "{\"mode\":\"amlsim\",\"path\":");
    fw_buf_json_str(&json, fw_str_c(o->amlsim));
    fw_buf_putc(&json, ',');
    eval_json_rule_set(&json, rules);
    fw_buf_puts(&json, ",\"datasets\":[");
    fprintf(out, "fraudwatch eval: AMLSim %s\n", o->amlsim);
    bool ok = true;
    for (size_t i = 0; i < nsets && ok; i++)
        ok = eval_aml_set(o, rules, sets[i], out, &json, i == 0, &res[i]);
    fw_buf_puts(&json, "]}");
    if (ok && nsets > 1) {
        fw_table t;
        char a[32], b[32], c[32];
        fw_table_init(&t, "<data set|accounts|fraud|transactions|alerts|flagged|TP|FP|FN|"
                       "precision|recall|F1");
        for (size_t i = 0; i < nsets; i++) {
            fw_table_row(&t);
            fw_table_cell(&t, "%s", fw_amlsim_name(sets[i]));
            fw_table_cell(&t, "%s", fw_count_str(fw_amlsim_naccounts(sets[i]), a, sizeof(a)));
            fw_table_cell(&t, "%s", fw_count_str(fw_amlsim_nfraud(sets[i]), b, sizeof(b)));
            fw_table_cell(&t, "%s", fw_count_str(fw_amlsim_ntxn(sets[i]), c, sizeof(c)));
            fw_table_cell(&t, "%s", fw_count_str(res[i].alerts, a, sizeof(a)));
            score_cells(&t, &res[i].evidence);
        }
        fprintf(out, "\nAll data sets (accounts flagged through alert transactions):\n");
        fw_table_print(&t, out, "  ");
    }
    if (ok && o->json_file)
        ok = fw_report_write_json("eval", o->json_file, &json);
    if (ok && o->plot_file)
        ok = plot_aml(o->plot_file, res, nsets);
    fw_buf_fini(&json);
    free(res);
    for (size_t i = 0; i < nsets; i++)
        fw_amlsim_destroy(sets[i]);
    free(sets);
    return ok ? 0 : 1;
}

