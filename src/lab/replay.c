/* replay.c — eval's and train's replays through the pipeline (replay.h). */
#include "replay.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define DEAD_LETTERS_SHOWN 5

static void on_alert(void *opaque, const fw_alert *a, fw_str key, fw_str json) {
    fw_replay *r = opaque;
    (void)key;
    (void)json;
    if (r->alert)
        r->alert(r->opaque, a);
}

static void on_dead_letter(void *opaque, const fw_dead_letter *dl) {
    fw_replay *r = opaque;
    if (r->show_dead_letters && r->dead_letters < DEAD_LETTERS_SHOWN)
        fprintf(stderr, "fraudwatch %s: dead letter at %s:%" PRId64 ": %s\n", r->cmd,
                dl->src->file ? dl->src->file : "-", dl->src->line, dl->reason);
    r->dead_letters++;
}

static void on_late(void *opaque, const fw_late_record *lr) {
    (void)lr;
    ((fw_replay *)opaque)->late++;
}

fw_err fw_replay_init(fw_replay *r, const char *cmd, const char *file,
                      const fw_pipeline_conf *pc, fw_model *model, char *errstr,
                      size_t errstr_size) {
    memset(r, 0, sizeof(*r));
    r->cmd = cmd;
    r->src.file = file;
    r->show_dead_letters = true;
    r->po = (fw_pipeline_out){ .opaque = r, .alert = on_alert, .dead_letter = on_dead_letter,
                               .late = on_late };
    r->p = fw_pipeline_new(pc, errstr, errstr_size);
    if (!r->p)
        return FW_ERR_INVALID;
    if (model) {
        fw_err err = fw_engine_set_model(fw_pipeline_engine(r->p), model, errstr, errstr_size);
        if (err) {
            fw_replay_fini(r);
            return err;
        }
        fw_engine_ml_activate(fw_pipeline_engine(r->p), true);
        r->scored = true;
    }
    return FW_OK;
}

void fw_replay_record(fw_replay *r, const char *rec, size_t len, int64_t line) {
    r->src.line = line;
    fw_pipeline_process(r->p, rec, len, &r->src, &r->po);
}

void fw_replay_finish(fw_replay *r) {
    fw_pipeline_advance(r->p, INT64_MAX, &r->po);
    if (r->scored)
        fw_pipeline_ml_flush(r->p, &r->po);
    if (r->show_dead_letters && r->dead_letters > DEAD_LETTERS_SHOWN)
        fprintf(stderr, "fraudwatch %s: ... and %" PRIu64 " more dead letters in %s\n", r->cmd,
                r->dead_letters - DEAD_LETTERS_SHOWN, r->src.file);
}

void fw_replay_fini(fw_replay *r) {
    fw_pipeline_destroy(r->p);
    r->p = NULL;
}
