/* file_runner.c — reads transactions line by line (one reused buffer),
 * runs the pipeline, writes alerts and dead letters as NDJSON. */
#include "file_runner.h"

#include "lang_live.h"
#include "memlimit.h"
#include "fw_os.h"
#include "progress.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct file_ctx {
    FILE *out;
    FILE *dlq;          /* NULL: stderr, human-readable */
    FILE *late;         /* NULL: counted only */
    uint64_t nlate;
    fw_lang_counts lang; /* language rules' alerts by id (the engine counts the built-ins) */
    fw_buf line;        /* serialized dead letter */
    bool write_error;
} file_ctx;

bool fw_dead_letter_write_json(const fw_dead_letter *dl, fw_buf *out) {
    fw_buf_puts(out, "{\"reason\":");
    fw_buf_json_str(out, fw_str_c(dl->reason));
    fw_buf_puts(out, ",\"field\":");
    if (dl->field)
        fw_buf_json_str(out, fw_str_c(dl->field));
    else
        fw_buf_puts(out, "null");
    fw_buf_puts(out, ",\"source\":{");
    if (dl->src->topic) {
        fw_buf_puts(out, "\"topic\":");
        fw_buf_json_str(out, fw_str_c(dl->src->topic));
        fw_buf_printf(out, ",\"partition\":%" PRId32 ",\"offset\":%" PRId64 "}",
                      dl->src->partition, dl->src->offset);
    } else {
        fw_buf_puts(out, "\"file\":");
        fw_buf_json_str(out, fw_str_c(dl->src->file ? dl->src->file : "-"));
        fw_buf_printf(out, ",\"line\":%" PRId64 "}", dl->src->line);
    }
    if (fw_utf8_valid(dl->payload.ptr, dl->payload.len)) {
        fw_buf_puts(out, ",\"payload\":");
        fw_buf_json_str(out, dl->payload);
    } else {
        fw_buf_puts(out, ",\"payload_base64\":\"");
        fw_buf_base64(out, dl->payload.ptr, dl->payload.len);
        fw_buf_putc(out, '"');
    }
    fw_buf_putc(out, '}');
    return !out->overflow;
}

static void on_alert(void *opaque, const fw_alert *a, fw_str key, fw_str json) {
    file_ctx *fc = opaque;
    (void)key;
    if (a->rule == FW_RULE_LANG)
        fw_lang_counts_add(&fc->lang, a->rule_name, 1);
    if (fwrite(json.ptr, 1, json.len, fc->out) != json.len || putc('\n', fc->out) == EOF)
        fc->write_error = true;
}

static void on_dead_letter(void *opaque, const fw_dead_letter *dl) {
    file_ctx *fc = opaque;
    if (!fc->dlq) {
        fprintf(stderr, "fraudwatch: dead letter at %s:%" PRId64 ": %s\n",
                dl->src->file ? dl->src->file : "-", dl->src->line, dl->reason);
        return;
    }
    fw_buf_reset(&fc->line);
    fw_dead_letter_write_json(dl, &fc->line);
    fw_buf_putc(&fc->line, '\n');
    if (fwrite(fc->line.data, 1, fc->line.len, fc->dlq) != fc->line.len)
        fc->write_error = true;
}

static void on_late(void *opaque, const fw_late_record *lr) {
    file_ctx *fc = opaque;
    fc->nlate++;
    if (!fc->late)
        return;
    char et[32], wm[32];
    fw_time_format(lr->event_time, et);
    fw_time_format(lr->watermark, wm);
    fw_buf_reset(&fc->line);
    fw_buf_printf(&fc->line, "{\"event_time\":\"%s\",\"watermark\":\"%s\",\"source\":{\"file\":",
                  et, wm);
    fw_buf_json_str(&fc->line, fw_str_c(lr->src->file ? lr->src->file : "-"));
    fw_buf_printf(&fc->line, ",\"line\":%" PRId64 "},\"payload\":", lr->src->line);
    fw_buf_json_str(&fc->line, lr->payload);
    fw_buf_puts(&fc->line, "}\n");
    if (fwrite(fc->line.data, 1, fc->line.len, fc->late) != fc->line.len)
        fc->write_error = true;
}

/* @p flag names the option in the message: the file is the user's to fix. */
static FILE *open_out(const char *path, const char *flag, const char *what) {
    if (!strcmp(path, "-"))
        return stdout;
    FILE *f = fopen(path, "w");
    if (!f)
        fprintf(stderr, "fraudwatch run: %s: cannot open %s %s: %s\n", flag, what, path,
                strerror(errno));
    return f;
}

#define FW_FILE_POLL_LINES 4096 /* lines per "poll": ml_score batches are scored and the
                                  metrics published this often */

/* The metrics from the totals the summary line prints. The watermark is
 * left as it was at the end of input (INT64_MAX: everything released). */
static void publish_metrics(fw_metrics *m, fw_pipeline *p, const file_ctx *fc,
                            fw_scorer *scorer, fw_metrics_snapshot *s) {
    const fw_pipeline_stats *ps = fw_pipeline_stats_get(p);
    int64_t watermark = s->watermark_ms;
    fw_metrics_snapshot_init(s);
    fw_metrics_add_engine(s, fw_pipeline_engine(p));
    if (s->watermark_ms == INT64_MIN)
        s->watermark_ms = watermark;
    s->transactions = ps->records;
    s->dead_letters = ps->dead_letters;
    s->late = fc->nlate;
    s->lang_alerts = fc->lang;
    if (scorer) {
        fw_scorer_stats sc;
        fw_scorer_stats_get(scorer, &sc);
        s->model_reloads = sc.reloads;
        s->model_reload_failures = sc.reload_failures;
    }
    fw_metrics_publish(m, s, fw_mono_ms());
}

/* What a progress line adds to the bytes read. */
static const char *progress_detail(fw_pipeline *p, char *out, size_t size) {
    const fw_pipeline_stats *ps = fw_pipeline_stats_get(p);
    snprintf(out, size, "%" PRIu64 " records, %" PRIu64 " alerts, %" PRIu64 " dead letters",
             ps->records, ps->alerts, ps->dead_letters);
    return out;
}

int fw_file_run(const fw_run_conf *c, fw_scorer *scorer, fw_metrics *metrics) {
    int rc = 2; /* until the work starts, a failure is a file an option names: usage */
    char errstr[256];
    char *line = NULL;
    size_t linecap = 0;
    file_ctx fc = { 0 };
    fw_lang_counts_declare(&fc.lang, c->lang); /* each at 0 until it alerts */
    char missing[512];
    if (fw_lang_live_missing_lists(c->lang, missing, sizeof(missing)))
        fprintf(stderr, "fraudwatch run: warning: rules name the list(s) %s, which neither the "
                        "rules file nor --lists gives: `in list` is false for them\n", missing);
    fw_buf_init(&fc.line, 0);
    FILE *in = !strcmp(c->input_file, "-") ? stdin : fopen(c->input_file, "r");
    fw_pipeline *p = NULL;
    if (!in) {
        fprintf(stderr, "fraudwatch run: --input: cannot open input %s: %s\n", c->input_file,
                strerror(errno));
        goto out;
    }
    if (!(fc.out = open_out(c->output_file, "--output", "output")))
        goto out;
    if (c->dlq_file && !(fc.dlq = open_out(c->dlq_file, "--dlq", "dead-letter file")))
        goto out;
    if (c->late_file && !(fc.late = open_out(c->late_file, "--late", "late-record file")))
        goto out;
    rc = 1; /* from here on a failure is the run's, not the command line's */
    static char outbuf[1 << 20];
    setvbuf(fc.out, outbuf, _IOFBF, sizeof(outbuf));
    if (!(p = fw_pipeline_new(&c->pipeline, errstr, sizeof(errstr)))) {
        fprintf(stderr, "fraudwatch run: %s\n", errstr);
        goto out;
    }
    if (scorer && fw_scorer_attach(scorer, p, errstr, sizeof(errstr)) != FW_OK) {
        fprintf(stderr, "fraudwatch run: %s\n", errstr);
        goto out;
    }
    fw_pipeline_out po = { .opaque = &fc, .alert = on_alert, .dead_letter = on_dead_letter,
                           .late = on_late };
    fw_source_ref src = { .file = c->input_file, .line = 0 };
    fw_metrics_snapshot snap;
    fw_metrics_snapshot_init(&snap);
    if (metrics)
        publish_metrics(metrics, p, &fc, scorer, &snap);
    double t0 = fw_mono_s();
    /* Progress in bytes of the input: its size is known when it is a file. */
    fw_progress pr;
    fw_progress_init(&pr, "fraudwatch run", NULL, fw_progress_file_size(in),
                     c->quiet || c->stats_interval_s <= 0 ? FW_PROGRESS_NEVER
                     : c->progress                        ? FW_PROGRESS_ALWAYS
                                                          : FW_PROGRESS_AUTO,
                     t0);
    if (!pr.tty) /* lines that pile up in a log: as often as Kafka mode's */
        pr.interval_s = c->stats_interval_s;
    pr.next_s = t0 + pr.interval_s;
    uint64_t blank = 0, bytes = 0;
    fw_memlimit mem = { .limit = c->max_memory };
    char detail[128];
    ssize_t n;
    while ((n = getline(&line, &linecap, in)) >= 0) {
        src.line++;
        bytes += (uint64_t)n;
        size_t len = fw_line_record_len(line, (size_t)n);
        if (!len) { /* a blank line is no record */
            blank++;
            continue;
        }
        fw_pipeline_process(p, line, len, &src, &po);
        if (fc.write_error)
            break;
        if (src.line % FW_FILE_POLL_LINES == 0) {
            bool changed;
            if (fw_memlimit_check(&mem, fw_mono_ms(), &changed) && changed) {
                fw_engine_set_memory_full(fw_pipeline_engine(p), mem.full);
                char where[40], say[256];
                snprintf(where, sizeof(where), " at line %" PRId64, src.line);
                if (!c->quiet)
                    fprintf(stderr, "fraudwatch run: %s\n",
                            fw_memlimit_describe(&mem, where, say, sizeof(say)));
            }
            if (scorer) {
                fw_scorer_poll(scorer, &po);
                fw_scorer_maybe_reload(scorer, fw_mono_ms(), &po);
            }
            if (metrics)
                publish_metrics(metrics, p, &fc, scorer, &snap);
            double now = fw_mono_s();
            if (fw_progress_due(&pr, now))
                fw_progress_update(&pr, bytes, now, progress_detail(p, detail, sizeof(detail)));
        }
    }
    if (!fc.write_error) /* end of input: release everything, close every window */
        fw_pipeline_advance(p, INT64_MAX, &po);
    if (scorer)
        fw_scorer_drain(scorer, &po);
    if (metrics)
        publish_metrics(metrics, p, &fc, scorer, &snap);
    fw_progress_end(&pr, bytes, fw_mono_s(), progress_detail(p, detail, sizeof(detail)));
    if (ferror(in)) {
        fprintf(stderr, "fraudwatch run: error reading %s: %s\n", c->input_file,
                strerror(errno));
        goto out;
    }
    if (fflush(fc.out) != 0 || (fc.dlq && fflush(fc.dlq) != 0) ||
        (fc.late && fflush(fc.late) != 0) || fc.write_error) {
        fprintf(stderr, "fraudwatch run: error writing output: %s\n", strerror(errno));
        goto out;
    }
    if (!c->quiet) {
        const fw_pipeline_stats *ps = fw_pipeline_stats_get(p);
        const fw_engine_stats *es = fw_pipeline_engine_stats(p);
        double dt = fw_mono_s() - t0;
        fprintf(stderr, "fraudwatch: %" PRIu64 " records, %" PRIu64 " alerts (", ps->records,
                ps->alerts);
        for (int r = 0; r < FW_RULE__COUNT; r++)
            fprintf(stderr, "%s%s %" PRIu64, r ? ", " : "", fw_rule_name((fw_rule_id)r),
                    es->alerts[r]);
        for (uint32_t i = 0; i < fc.lang.n; i++) /* language rules, after the built-ins */
            fprintf(stderr, ", %s %" PRIu64, fc.lang.id[i], fc.lang.alerts[i]);
        if (fc.lang.unnamed)
            fprintf(stderr, ", %s %" PRIu64, FW_METRICS_LANG_OTHER, fc.lang.unnamed);
        uint64_t dedup = 0;
        for (int r = 0; r < FW_RULE__COUNT; r++)
            dedup += es->deduplicated[r];
        const fw_state_stats *ss = fw_engine_state_stats(fw_pipeline_engine(p));
        fprintf(stderr, "), %" PRIu64 " dead letters (%" PRIu64 " duplicates, %" PRIu64
                        " event-time jumps), %" PRIu64 " late, %" PRIu64
                        " blank lines in %.2f s (%.0f records/s); %" PRIu64 " deduplicated, %"
                        PRIu64 " behind the watermark, %" PRIu64 " over limits\n",
                ps->dead_letters, ps->duplicates, ps->time_jumps, fc.nlate, blank, dt,
                dt > 0 ? (double)ps->records / dt : 0.0, dedup, es->behind_watermark,
                ss->entity_overflows + ss->memory_refusals + ss->window_overflows +
                    es->buffer_overflows +
                    es->id_too_long + es->scan_limited +
                    es->ids_evicted);
        if (scorer) {
            fw_scorer_stats sc;
            fw_scorer_stats_get(scorer, &sc);
            fprintf(stderr, "fraudwatch: ml_score with %s: %" PRIu64 " scored in %" PRIu64
                            " batches, %" PRIu64 " not scored (%" PRIu64 " batches failed)%s%s\n",
                    fw_scorer_describe(scorer), es->ml_scored, es->ml_batches, es->ml_unscored,
                    es->ml_failed_batches, sc.remote.last_error[0] ? "; last error: " : "",
                    sc.remote.last_error);
        }
    }
    rc = 0;
out:
    if (scorer && p)
        fw_scorer_detach(scorer, p);
    fw_pipeline_destroy(p);
    free(line);
    fw_buf_fini(&fc.line);
    if (in && in != stdin)
        fclose(in);
    if (fc.out && fc.out != stdout)
        fclose(fc.out);
    if (fc.dlq && fc.dlq != stdout)
        fclose(fc.dlq);
    if (fc.late && fc.late != stdout)
        fclose(fc.late);
    return rc;
}
