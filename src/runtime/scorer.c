/* scorer.c — local model or remote service for ml_score, with reload. */
#include "scorer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fw_os.h"

typedef struct inflight {
    fw_pipeline *p;               /* NULL once detached: the result is dropped */
    fw_ml_batch *b;
} inflight;

struct fw_scorer {
    fw_scorer_conf conf;
    fw_model *model;              /* local */
    fw_remote *remote;            /* or remote */
    fw_pipeline **attached;
    size_t nattached, attached_cap;
    /* Remote batches in flight, in submission order (results come back in it). */
    inflight *fifo;
    size_t head, count, cap;
    struct stat seen;             /* the model file as last loaded or tried */
    int64_t last_check_ms;
    char describe[400];
    fw_scorer_stats stats;
};

static void note_file(fw_scorer *s) {
    if (stat(s->conf.model_path, &s->seen) != 0)
        memset(&s->seen, 0, sizeof(s->seen));
}

fw_scorer *fw_scorer_new(const fw_scorer_conf *c, char *errstr, size_t errstr_size) {
    bool local = c->model_path && c->model_path[0];
    bool remote = c->endpoint && c->endpoint[0];
    if (!local && !remote)
        return NULL;
    errstr[0] = '\0';
    if (local && remote) {
        snprintf(errstr, errstr_size,
                 "ml_score: both a model (MODEL_PATH/--model) and a remote endpoint "
                 "(API_ENDPOINT_URL/--api-endpoint) are set; choose one");
        return NULL;
    }
    fw_scorer *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(errstr, errstr_size, "ml_score: out of memory");
        return NULL;
    }
    s->conf = *c;
    if (s->conf.reload_check_ms <= 0)
        s->conf.reload_check_ms = 1000;
    if (local) {
        note_file(s);
        if (!(s->model = fw_model_load(c->model_path, errstr, errstr_size)))
            goto fail;
        snprintf(s->describe, sizeof(s->describe), "model %s (%zu features)",
                 fw_model_id(s->model), fw_model_nfeatures(s->model));
    } else {
        fw_remote_conf rc = c->remote;
        rc.endpoint = c->endpoint;
        if (!(s->remote = fw_remote_new(&rc, errstr, errstr_size)))
            goto fail;
        snprintf(s->describe, sizeof(s->describe), "remote %s (timeout %d ms, %d retries)",
                 c->endpoint, rc.timeout_ms, rc.retries);
    }
    return s;
fail:
    fw_scorer_destroy(s);
    return NULL;
}

void fw_scorer_destroy(fw_scorer *s) {
    if (!s)
        return;
    fw_remote_destroy(s->remote);
    fw_model_free(s->model);
    free(s->attached);
    free(s->fifo);
    free(s);
}

const char *fw_scorer_describe(const fw_scorer *s) { return s->describe; }

fw_err fw_scorer_attach(fw_scorer *s, fw_pipeline *p, char *errstr, size_t errstr_size) {
    fw_engine *e = fw_pipeline_engine(p);
    if (s->model && fw_engine_set_model(e, s->model, errstr, errstr_size) != FW_OK)
        return FW_ERR_INVALID;
    if (s->nattached == s->attached_cap) {
        size_t cap = s->attached_cap ? s->attached_cap * 2 : 16;
        fw_pipeline **a = realloc(s->attached, sizeof(*a) * cap);
        if (!a) {
            snprintf(errstr, errstr_size, "ml_score: out of memory");
            return FW_ERR_NOMEM;
        }
        s->attached = a;
        s->attached_cap = cap;
    }
    s->attached[s->nattached++] = p;
    fw_engine_ml_activate(e, true);
    return FW_OK;
}

/* Waits for the oldest batch in flight; @returns false when none is. */
static bool complete_oldest(fw_scorer *s, int wait_ms, const fw_pipeline_out *out) {
    if (!s->count)
        return false;
    void *tag;
    const float *probs;
    size_t n;
    const char *error;
    if (!fw_remote_next(s->remote, wait_ms, &tag, &probs, &n, &error))
        return false;
    inflight f = s->fifo[s->head];
    s->head = (s->head + 1) % s->cap;
    s->count--;
    if (!f.p) {
        fw_ml_batch_free(f.b); /* its pipeline is gone */
        return true;
    }
    if (!probs)
        fprintf(stderr, "fraudwatch: ml_score: %zu transactions not scored: %s\n",
                fw_ml_batch_rows(f.b), error ? error : "scoring failed");
    fw_pipeline_ml_complete(f.p, f.b, out ? probs : NULL, s->conf.endpoint, out);
    return true;
}

static bool fifo_push(fw_scorer *s, fw_pipeline *p, fw_ml_batch *b) {
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        inflight *f = malloc(sizeof(*f) * cap);
        if (!f)
            return false;
        for (size_t i = 0; i < s->count; i++)
            f[i] = s->fifo[(s->head + i) % s->cap];
        free(s->fifo);
        s->fifo = f;
        s->head = 0;
        s->cap = cap;
    }
    s->fifo[(s->head + s->count++) % s->cap] = (inflight){ p, b };
    return true;
}

static void send_queued(fw_scorer *s, fw_pipeline *p, const fw_pipeline_out *out) {
    fw_ml_batch *b;
    char err[256];
    while ((b = fw_engine_ml_take(fw_pipeline_engine(p)))) {
        if (!fifo_push(s, p, b) ||
            fw_remote_submit(s->remote, b, fw_ml_batch_features(b), fw_ml_batch_rows(b), err,
                             sizeof(err)) != FW_OK) {
            if (s->count && s->fifo[(s->head + s->count - 1) % s->cap].b == b)
                s->count--;
            fw_pipeline_ml_complete(p, b, NULL, s->conf.endpoint, out);
        }
    }
}

void fw_scorer_poll(fw_scorer *s, const fw_pipeline_out *out) {
    for (size_t i = 0; i < s->nattached; i++) {
        if (s->model)
            fw_pipeline_ml_flush(s->attached[i], out);
        else
            send_queued(s, s->attached[i], out);
    }
    while (s->remote && complete_oldest(s, 0, out)) {
    }
}

void fw_scorer_drain(fw_scorer *s, const fw_pipeline_out *out) {
    fw_scorer_poll(s, out);
    while (s->remote && complete_oldest(s, -1, out)) {
    }
}

void fw_scorer_discard(fw_scorer *s) {
    while (s->remote && complete_oldest(s, -1, NULL)) {
    }
}

void fw_scorer_detach(fw_scorer *s, fw_pipeline *p) {
    for (size_t i = 0; i < s->count; i++) {
        inflight *f = &s->fifo[(s->head + i) % s->cap];
        if (f->p == p)
            f->p = NULL; /* the batch is ours now: freed when its result comes */
    }
    for (size_t i = 0; i < s->nattached; i++)
        if (s->attached[i] == p) {
            s->attached[i] = s->attached[--s->nattached];
            break;
        }
}

bool fw_scorer_maybe_reload(fw_scorer *s, int64_t now_ms, const fw_pipeline_out *out) {
    if (!s->model || now_ms - s->last_check_ms < s->conf.reload_check_ms)
        return false;
    s->last_check_ms = now_ms;
    struct stat st;
    if (stat(s->conf.model_path, &st) != 0)
        return false; /* being replaced, or gone: keep scoring with what we have */
    if (st.st_mtim.tv_sec == s->seen.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == s->seen.st_mtim.tv_nsec && st.st_size == s->seen.st_size &&
        st.st_ino == s->seen.st_ino)
        return false;
    s->seen = st;
    char err[512];
    fw_model *m = fw_model_load(s->conf.model_path, err, sizeof(err));
    bool ok = m != NULL;
    for (size_t i = 0; ok && i < s->nattached; i++) {
        fw_pipeline_ml_flush(s->attached[i], out); /* queued rows: the old model's */
        ok = fw_engine_set_model(fw_pipeline_engine(s->attached[i]), m, err, sizeof(err)) ==
             FW_OK;
    }
    if (!ok) {
        for (size_t i = 0; i < s->nattached; i++) /* all back on the old model */
            fw_engine_set_model(fw_pipeline_engine(s->attached[i]), s->model, err, 0);
        s->stats.reload_failures++;
        fprintf(stderr, "fraudwatch: ml_score: reload of %s failed: %s; still scoring with %s\n",
                s->conf.model_path, err, fw_model_id(s->model));
        fw_model_free(m);
        return false;
    }
    fprintf(stderr, "fraudwatch: ml_score: reloaded %s: now scoring with %s (was %s)\n",
            s->conf.model_path, fw_model_id(m), fw_model_id(s->model));
    fw_model_free(s->model);
    s->model = m;
    snprintf(s->describe, sizeof(s->describe), "model %s (%zu features)", fw_model_id(m),
             fw_model_nfeatures(m));
    s->stats.reloads++;
    return true;
}

void fw_scorer_stats_get(const fw_scorer *s, fw_scorer_stats *out) {
    *out = s->stats;
    if (s->remote)
        fw_remote_stats_get(s->remote, &out->remote);
}
