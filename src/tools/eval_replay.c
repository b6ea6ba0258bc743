/* eval_replay.c — the input side of `fraudwatch eval` (eval_int.h): labelled
 * NDJSON held in memory as one buffer of records, the labels read from it,
 * and replays through the pipeline of `run --input`, scored or not. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "eval_int.h"
#include "fw_os.h"
#include "fw_time.h"
#include "pipeline.h"
#include "replay.h"
#include "txn.h"

void eval_corpus_push(corpus *c, size_t off, size_t len, uint64_t line) {
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1u << 16;
        record *r = realloc(c->rec, cap * sizeof(*r));
        if (!r)
            fw_die_oom("eval");
        c->rec = r;
        c->cap = cap;
    }
    c->rec[c->n++] = (record){ .off = off, .len = (uint32_t)len,
                               .line = line > UINT32_MAX ? UINT32_MAX : (uint32_t)line };
}

void eval_corpus_free(corpus *c) {
    free(c->data);
    free(c->rec);
    memset(c, 0, sizeof(*c));
}

bool eval_corpus_load(corpus *c, const char *path) {
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
            fw_die_oom("eval");
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
            eval_corpus_push(c, pos, len, line);
        }
        pos = next;
    }
    return true;
}

bool eval_replay(const corpus *c, const fw_rules *rules, const replay_ctx *rc,
                 const char *label, fw_progress_mode progress, replay_stats *st) {
    char errstr[512];
    fw_pipeline_conf pc = { .rules = *rules, .format = FW_INPUT_JSON,
                            .max_record_bytes = FW_TXN_DEFAULT_MAX_BYTES,
                            .schema = rc->schema, .lang = rc->lang };
    fw_replay r;
    if (fw_replay_init(&r, "eval", c->file, &pc, rc->model, errstr, sizeof(errstr))) {
        fprintf(stderr, "fraudwatch eval: %s\n", errstr);
        return false;
    }
    r.alert = rc->alert;
    r.opaque = rc->opaque;
    r.show_dead_letters = rc->show_dead_letters;
    double t0 = fw_mono_s();
    /* "fraudwatch eval: LABEL" without the label's trailing ": " */
    char prefix[256];
    size_t ln = strlen(label);
    snprintf(prefix, sizeof(prefix), "fraudwatch eval%s%.*s", ln ? ": " : "",
             (int)(ln >= 2 ? ln - 2 : ln), label);
    fw_progress pr;
    fw_progress_init(&pr, prefix, "records", c->n, progress, t0);
    for (size_t i = 0; i < c->n; i++) {
        fw_replay_record(&r, c->data + c->rec[i].off, c->rec[i].len, c->rec[i].line);
        if ((i & 4095) == 4095) /* the clock, not every record */
            fw_progress_update(&pr, i + 1, fw_mono_s(), NULL);
    }
    fw_replay_finish(&r);
    fw_progress_end(&pr, c->n, fw_mono_s(), NULL);
    const fw_pipeline_stats *ps = fw_pipeline_stats_get(r.p);
    *st = (replay_stats){ .records = ps->records, .dead_letters = ps->dead_letters,
                          .transactions = ps->records - ps->dead_letters, .late = r.late,
                          .seconds = fw_mono_s() - t0 };
    fw_replay_fini(&r);
    return true;
}

bool eval_load_labels(const corpus *c, const struct fw_schema *schema, fw_eval_labels *labels,
                      label_stats *ls) {
    fw_arena scratch;
    if (!fw_arena_init(&scratch, FW_TXN_DEFAULT_MAX_BYTES + 64))
        fw_die_oom("eval");
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
        int64_t ts = INT64_MIN; /* only fraud records need it: when their instance began */
        if (schema) { /* their names and timestamp format: as the engine will see them */
            fw_txn t;
            fw_decode_error derr;
            fw_arena_reset(&scratch);
            bool ok = fw_txn_decode_json_mapped(p, n, &scratch, 0, schema, &t, &derr) == FW_OK;
            id = ok ? t.transaction_id : FW_STR_NULL;
            ts = ok ? t.ts_ms : INT64_MIN;
        } else {
            if (ll.is_fraud && ll.id_escaped) { /* rare: the id as the engine will see it */
                fw_txn t;
                fw_decode_error derr;
                fw_arena_reset(&scratch);
                id = fw_txn_decode_json(p, n, &scratch, 0, &t, &derr) == FW_OK
                         ? t.transaction_id
                         : FW_STR_NULL;
            }
            if (ll.is_fraud && ll.timestamp.ptr &&
                fw_time_parse_any(ll.timestamp.ptr, ll.timestamp.len, &ts) != FW_OK)
                ts = INT64_MIN;
        }
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

static void eval_alert(void *opaque, const fw_alert *a) {
    fw_err err = fw_eval_run_alert(opaque, a);
    if (err == FW_ERR_NOMEM)
        fw_die_oom("eval");
    /* else a language rule's id past the bounds of lang_rules.h, which its
     * loader already enforces: nothing to score it under */
}

bool eval_once(const corpus *c, const fw_eval_labels *labels, const fw_rules *rules,
               const eval_opts *o, const char *label, bool show_dead, fw_eval_report *rep,
               replay_stats *st) {
    fw_eval_run *run = fw_eval_run_new(labels);
    if (!run)
        fw_die_oom("eval");
    for (size_t i = 0; o->lang && i < o->lang->n; i++) { /* a row each, in the file's order */
        const char *id = o->lang->rules[i].id;
        if (fw_rule_by_name(id) != FW_RULE__COUNT)
            continue; /* runs instead of that built-in: its alerts are that row's */
        if (fw_eval_run_set_lang_rules(run, &id, 1) == FW_ERR_NOMEM)
            fw_die_oom("eval");
    }
    replay_ctx rc = { .alert = eval_alert, .opaque = run, .show_dead_letters = show_dead,
                      .model = o->ml, .schema = o->schema, .lang = o->lang };
    bool ok = eval_replay(c, rules, &rc, label, o->progress, st);
    if (ok && fw_eval_report_build(run, rules, st->transactions, rep) != FW_OK)
        fw_die_oom("eval");
    fw_eval_run_destroy(run);
    return ok;
}

