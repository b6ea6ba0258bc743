/* train_report.c — what `fraudwatch train` says about its model
 * (train_int.h): the figures of the held-out rows (AUPRC, ROC-AUC, recall at
 * 1 % FPR, confusion at 0.5 and at ml_score's threshold, per scenario), as a
 * table or JSON, and the metadata file written beside the model. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "train_int.h"

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

/* ------------------------------------------------------------ figures */

void train_compute_figures(const dataset *d, const float *scores, result *r) {
    const float *y = d->y + r->ntrain;
    if (fw_ml_summarize(scores, y, r->ntest, MAX_FPR, &r->sum) != FW_OK)
        fw_die_oom("train");
    r->at[0] = fw_ml_at_threshold(scores, y, r->ntest, 0.5f);
    r->at[1] = fw_ml_at_threshold(scores, y, r->ntest, ML_THRESHOLD);
    if (!d->scen || !d->nscen)
        return;
    r->scen = calloc(d->nscen, sizeof(*r->scen));
    if (!r->scen)
        fw_die_oom("train");
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
    fw_json_field_num(b, "recall", c->recall);
    fw_json_field_num(b, "fpr", c->fpr);
    fw_buf_putc(b, '}');
}

static double ratio(uint64_t a, uint64_t b) { return b ? (double)a / (double)b : NAN; }

/* The .meta.json document, also what --json prints. */
void train_json_report(fw_buf *b, const train_opts *o, const dataset *d,
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
    fw_buf_printf(b, "],\"feature_set\":\"%s\",\"input\":{\"file\":", train_feature_set_names[fs]);
    fw_buf_json_str(b, fw_str_c(o->input));
    fw_buf_printf(b, ",\"format\":\"%s\",\"lines\":%" PRIu64 ",\"records\":%" PRIu64
                     ",\"rows\":%zu,\"fraud_rows\":%zu",
                  train_format_names[st->format], st->lines, st->records, d->n,
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
    fw_json_field_num(b, "test_fraction", o->test_fraction);
    fw_buf_printf(b, ",\"train_rows\":%zu,\"train_fraud\":%zu,\"test_rows\":%zu,"
                     "\"test_fraud\":%zu},\"parameters\":{\"objective\":\"binary:logistic\","
                     "\"tree_method\":\"hist\",\"rounds\":%d,\"max_depth\":%d,\"eta\":",
                  r->ntrain, r->train_fraud, r->ntest, r->test_fraud, o->params.rounds,
                  o->params.max_depth);
    fw_json_num(b, o->params.eta);
    fw_json_field_num(b, "scale_pos_weight", r->spw);
    fw_buf_printf(b, ",\"scale_pos_weight_from\":\"%s\",\"threads\":%d,\"seed\":%" PRIu64 "}",
                  o->spw_given ? "option" : "sqrt(legitimate/fraud rows of the training part)",
                  o->params.threads, o->params.seed);
    fw_buf_printf(b, ",\"metrics\":{\"on\":\"held-out part\",\"defined\":%s,\"auprc\":",
                  r->sum.defined ? "true" : "false");
    fw_json_num(b, r->sum.auprc);
    fw_json_field_num(b, "roc_auc", r->sum.roc_auc);
    const fw_ml_at_fpr *af = &r->sum.at_fpr;
    fw_buf_puts(b, ",\"recall_at_fpr\":{\"max_fpr\":");
    fw_json_num(b, af->max_fpr);
    fw_json_field_num(b, "recall", af->recall);
    fw_json_field_num(b, "fpr", af->fpr);
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
            fw_json_field_num(b, "recall_at_0_5", ratio(f->at_half, f->rows));
            fw_json_field_num(b, "recall_at_0_8", ratio(f->at_ml, f->rows));
            fw_buf_putc(b, '}');
        }
        fw_buf_putc(b, ']');
    }
    fw_buf_puts(b, ",\"seconds\":{\"read\":");
    fw_json_num(b, st->seconds);
    fw_json_field_num(b, "train", r->train_seconds);
    fw_buf_puts(b, "}}");
}

void train_print_report(FILE *out, const train_opts *o, const dataset *d,
                        const input_stats *st, feature_set fs, const result *r,
                        const char *meta_path) {
    char a[32], b[32], c[32], e[32];
    fprintf(out, "fraudwatch train: %s (%s", o->input, train_format_names[st->format]);
    if (st->format == FMT_NDJSON)
        fprintf(out, ", %s records, %s dead letters, %s late", fw_count_str(st->records, a, 32),
                fw_count_str(st->dead_letters, b, 32), fw_count_str(st->late, c, 32));
    else if (st->time_column)
        fprintf(out, ", %s by Time", st->reordered ? "reordered" : "already in order");
    fprintf(out, ")\n\n");
    fprintf(out, "  features     %zu (%s): ", d->width, train_feature_set_names[fs]);
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

bool train_write_file(const char *path, const fw_buf *b) {
    size_t n = strlen(path) + 8;
    char *tmp = malloc(n);
    if (!tmp)
        fw_die_oom("train");
    snprintf(tmp, n, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    bool ok = f && fwrite(b->data, 1, b->len, f) == b->len && fputc('\n', f) != EOF;
    if (f && fclose(f) != 0)
        ok = false;
    if (ok && rename(tmp, path) != 0)
        ok = false;
    if (!ok) {
        train_fail("cannot write %s: %s", path, strerror(errno));
        remove(tmp);
    }
    free(tmp);
    return ok;
}

char *train_meta_path_of(const char *model) {
    size_t n = strlen(model);
    if (train_ends_with_ci(model, ".json"))
        n -= 5;
    char *p = malloc(n + 11);
    if (!p)
        fw_die_oom("train");
    memcpy(p, model, n);
    memcpy(p + n, ".meta.json", 11);
    return p;
}

