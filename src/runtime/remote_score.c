/* remote_score.c — the /predict client: batches serialized on the caller's
 * thread, sent by one worker thread on a curl multi handle.
 *
 * A batch is split into requests of at most max_rows_per_request rows. The
 * worker starts waiting requests oldest batch first, at most max_inflight at
 * once (one pooled easy handle each; the multi handle keeps their connections
 * alive between requests), and retries a failed attempt after backoff_ms,
 * 2 x backoff_ms, ... A batch is done when all its requests succeeded, or
 * failed when one of them failed for good (the others are cancelled then).
 * Batches sit in one queue in submission order until fw_remote_next hands
 * them out; their buffers are reused by later batches. */
#include "remote_score.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fw_os.h"
#include "json.h"
#include "predict_wire.h"

#define BODY_MAX ((size_t)64 << 20)  /* one request body */
#define RESP_BASE ((size_t)1 << 20)  /* response limit: this plus RESP_PER_ROW a row */
#define RESP_PER_ROW 128
#define ERR_BODY_BYTES 200           /* of an error response, quoted in the message */
#define IDLE_POLL_MS 1000            /* the worker's longest sleep; submit and stop wake it */

typedef enum { REQ_WAITING, REQ_ACTIVE, REQ_DONE } req_state;
typedef enum { B_FREE, B_PENDING, B_DONE } batch_state;

struct batch;
struct conn;

typedef struct req {
    struct batch *b;
    size_t off, n;        /* rows [off, off + n) of the batch */
    fw_buf body;          /* {"transactions":[...]} */
    req_state state;
    int attempts;         /* started so far */
    int64_t next_at_ms;   /* WAITING: not before (backoff) */
    struct conn *conn;    /* ACTIVE: the easy handle carrying it */
} req;

typedef struct batch {
    struct batch *next;   /* in the queue or the free list */
    batch_state state;
    void *tag;
    size_t n;
    float *probs;
    size_t probs_cap;
    req *reqs;
    size_t nreqs, reqs_cap;
    size_t reqs_left;     /* not yet succeeded */
    bool started;         /* a request was sent: not fast-failed any more */
    bool failed;
    int64_t submitted_ms;
    char error[512];
} batch;

typedef struct conn {
    CURL *h;
    req *r;               /* NULL: free */
    fw_buf resp;
    bool too_big;
    char errbuf[CURL_ERROR_SIZE];
} conn;

struct fw_remote {
    fw_remote_conf c;
    char *url;
    struct curl_slist *headers;
    CURLM *multi;
    pthread_t thread;
    bool thread_started;

    pthread_mutex_t mu;   /* everything below, and the state of batches and requests */
    pthread_cond_t cv;    /* a batch completed, or stop */
    bool stop;
    batch *head, *tail;   /* submitted, not yet handed out; submission order */
    size_t nqueued;
    size_t npending;      /* of them B_PENDING */
    batch *held;          /* handed out by the last next(): its probs are in use */
    batch *free_list;
    int64_t down_until_ms;
    char down_reason[512];
    fw_remote_stats st;

    /* The worker's own. */
    conn *conns;          /* max_inflight */
    fw_arena arena;       /* for parsing responses; grown to the largest */
};

static void fmt(char *dst, size_t size, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void fmt(char *dst, size_t size, const char *f, ...) {
    if (!dst || size == 0)
        return;
    va_list ap;
    va_start(ap, f);
    vsnprintf(dst, size, f, ap);
    va_end(ap);
}

void fw_remote_conf_defaults(fw_remote_conf *c) {
    *c = (fw_remote_conf){ .endpoint = NULL, .timeout_ms = 10000, .connect_timeout_ms = 2000,
                           .retries = 2, .backoff_ms = 200, .max_inflight = 4,
                           .down_ms = 5000, .max_rows_per_request = 1000 };
}

/* ---- setup ------------------------------------------------------------------ */

/* curl_global_init is not thread-safe; once per process, never cleaned up
 * (other threads may still use curl). */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init_once(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static bool has_prefix_ci(const char *s, const char *p) {
    return strncasecmp(s, p, strlen(p)) == 0;
}

/* The endpoint with "/predict" appended to its path unless already there. */
static char *make_url(const char *endpoint, char *errstr, size_t errstr_size) {
    if (!endpoint || !*endpoint) {
        fmt(errstr, errstr_size,
            "remote scoring: no endpoint URL (set API_ENDPOINT_URL, e.g. http://localhost:8000)");
        return NULL;
    }
    if (!has_prefix_ci(endpoint, "http://") && !has_prefix_ci(endpoint, "https://")) {
        const char *sep = strstr(endpoint, "://");
        if (sep)
            fmt(errstr, errstr_size,
                "remote scoring: endpoint \"%s\": scheme \"%.*s\" is not supported (http or https)",
                endpoint, (int)(sep - endpoint), endpoint);
        else
            fmt(errstr, errstr_size,
                "remote scoring: endpoint \"%s\" has no scheme (write http://%s)", endpoint,
                endpoint);
        return NULL;
    }
    CURLU *u = curl_url();
    char *path = NULL, *full = NULL, *out = NULL;
    if (!u) {
        fmt(errstr, errstr_size, "remote scoring: out of memory");
        return NULL;
    }
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, endpoint, 0);
    if (uc != CURLUE_OK) {
        fmt(errstr, errstr_size, "remote scoring: endpoint \"%s\" is not a valid URL: %s",
            endpoint, curl_url_strerror(uc));
        goto done;
    }
    uc = curl_url_get(u, CURLUPART_PATH, &path, 0);
    if (uc != CURLUE_OK) {
        fmt(errstr, errstr_size, "remote scoring: endpoint \"%s\": %s", endpoint,
            curl_url_strerror(uc));
        goto done;
    }
    size_t plen = strlen(path);
    static const char suffix[] = "/predict";
    if (plen < sizeof(suffix) - 1 || strcmp(path + plen - (sizeof(suffix) - 1), suffix) != 0) {
        while (plen > 0 && path[plen - 1] == '/')
            plen--;
        char *np = malloc(plen + sizeof(suffix));
        if (!np) {
            fmt(errstr, errstr_size, "remote scoring: out of memory");
            goto done;
        }
        memcpy(np, path, plen);
        memcpy(np + plen, suffix, sizeof(suffix));
        uc = curl_url_set(u, CURLUPART_PATH, np, 0);
        free(np);
        if (uc != CURLUE_OK) {
            fmt(errstr, errstr_size, "remote scoring: endpoint \"%s\": %s", endpoint,
                curl_url_strerror(uc));
            goto done;
        }
    }
    uc = curl_url_get(u, CURLUPART_URL, &full, 0);
    if (uc != CURLUE_OK) {
        fmt(errstr, errstr_size, "remote scoring: endpoint \"%s\": %s", endpoint,
            curl_url_strerror(uc));
        goto done;
    }
    out = strdup(full);
    if (!out)
        fmt(errstr, errstr_size, "remote scoring: out of memory");
done:
    curl_free(path);
    curl_free(full);
    curl_url_cleanup(u);
    return out;
}

static bool conf_check(const fw_remote_conf *c, char *errstr, size_t errstr_size) {
    const char *bad = NULL;
    if (c->timeout_ms <= 0)
        bad = "timeout_ms must be > 0";
    else if (c->connect_timeout_ms <= 0)
        bad = "connect_timeout_ms must be > 0";
    else if (c->retries < 0 || c->retries > 100)
        bad = "retries must be 0..100";
    else if (c->backoff_ms < 0)
        bad = "backoff_ms must be >= 0";
    else if (c->max_inflight <= 0 || c->max_inflight > 1024)
        bad = "max_inflight must be 1..1024";
    else if (c->down_ms < 0)
        bad = "down_ms must be >= 0";
    else if (c->max_rows_per_request == 0)
        bad = "max_rows_per_request must be > 0";
    if (bad)
        fmt(errstr, errstr_size, "remote scoring: %s", bad);
    return bad == NULL;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud) {
    conn *cn = ud;
    size_t n = size * nmemb;
    if (!fw_buf_append(&cn->resp, p, n)) {
        cn->too_big = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    return n;
}

/* The options that stay the same for every request on this handle. */
static bool conn_init(fw_remote *r, conn *cn) {
    fw_buf_init(&cn->resp, RESP_BASE);
    cn->h = curl_easy_init();
    if (!cn->h)
        return false;
    CURL *h = cn->h;
    bool ok = curl_easy_setopt(h, CURLOPT_URL, r->url) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_POST, 1L) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_HTTPHEADER, r->headers) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_WRITEDATA, cn) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_PRIVATE, cn) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cn->errbuf) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)r->c.timeout_ms) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)r->c.connect_timeout_ms) ==
                  CURLE_OK &&
              /* Signals would hit whichever thread; timeouts work without them. */
              curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_USERAGENT, "fraudwatch") == CURLE_OK &&
#if LIBCURL_VERSION_NUM >= 0x075500
              curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
#else
              curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) ==
                  CURLE_OK;
#endif
    return ok;
}

static void *worker_main(void *arg);

static void batch_free(batch *b) {
    for (size_t i = 0; i < b->reqs_cap; i++)
        fw_buf_fini(&b->reqs[i].body);
    free(b->reqs);
    free(b->probs);
    free(b);
}

fw_remote *fw_remote_new(const fw_remote_conf *c, char *errstr, size_t errstr_size) {
    if (!conf_check(c, errstr, errstr_size))
        return NULL;
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK) {
        fmt(errstr, errstr_size, "remote scoring: curl_global_init: %s",
            curl_easy_strerror(curl_init_rc));
        return NULL;
    }
    fw_remote *r = calloc(1, sizeof(*r));
    if (!r) {
        fmt(errstr, errstr_size, "remote scoring: out of memory");
        return NULL;
    }
    r->c = *c;
    r->url = make_url(c->endpoint, errstr, errstr_size);
    if (!r->url) {
        free(r);
        return NULL;
    }
    r->c.endpoint = r->url;
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* next() waits against fw_mono_ms */
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);

    /* "Expect:" stops curl from waiting for a 100 Continue on large bodies. */
    static const char *const hdrs[] = { "Content-Type: application/json",
                                        "Accept: application/json", "Expect:" };
    for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
        struct curl_slist *l = curl_slist_append(r->headers, hdrs[i]);
        if (!l)
            goto nomem;
        r->headers = l;
    }
    if (c->token && c->token[0]) {
        size_t n = strlen("Authorization: Bearer ") + strlen(c->token) + 1;
        char *auth = malloc(n);
        struct curl_slist *l = NULL;
        if (auth) {
            snprintf(auth, n, "Authorization: Bearer %s", c->token);
            l = curl_slist_append(r->headers, auth); /* copies it */
            memset(auth, 0, n);
            free(auth);
        }
        if (!l)
            goto nomem;
        r->headers = l;
    }
    r->c.token = NULL; /* the header holds it; the caller's string is not kept */
    r->multi = curl_multi_init();
    r->conns = calloc((size_t)c->max_inflight, sizeof(*r->conns));
    if (!r->multi || !r->conns)
        goto nomem;
    /* Keep one idle connection per possible request for reuse. */
    curl_multi_setopt(r->multi, CURLMOPT_MAXCONNECTS, (long)c->max_inflight);
    for (int i = 0; i < c->max_inflight; i++)
        if (!conn_init(r, &r->conns[i]))
            goto nomem;
    int rc = pthread_create(&r->thread, NULL, worker_main, r);
    if (rc != 0) {
        fmt(errstr, errstr_size, "remote scoring: cannot start the worker thread: %s",
            strerror(rc));
        fw_remote_destroy(r);
        return NULL;
    }
    r->thread_started = true;
    return r;
nomem:
    fmt(errstr, errstr_size, "remote scoring: out of memory setting up curl");
    fw_remote_destroy(r);
    return NULL;
}

void fw_remote_destroy(fw_remote *r) {
    if (!r)
        return;
    if (r->thread_started) {
        pthread_mutex_lock(&r->mu);
        r->stop = true;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
        curl_multi_wakeup(r->multi); /* out of curl_multi_poll now, not at the next timeout */
        pthread_join(r->thread, NULL);
    }
    if (r->conns) {
        for (int i = 0; i < r->c.max_inflight; i++) {
            conn *cn = &r->conns[i];
            if (cn->r && r->multi)
                curl_multi_remove_handle(r->multi, cn->h);
            if (cn->h)
                curl_easy_cleanup(cn->h);
            fw_buf_fini(&cn->resp);
        }
        free(r->conns);
    }
    if (r->multi)
        curl_multi_cleanup(r->multi);
    curl_slist_free_all(r->headers);
    for (batch *b = r->head, *nx; b; b = nx) {
        nx = b->next;
        batch_free(b);
    }
    for (batch *b = r->free_list, *nx; b; b = nx) {
        nx = b->next;
        batch_free(b);
    }
    if (r->held)
        batch_free(r->held);
    fw_arena_fini(&r->arena);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r->url);
    free(r);
}

const char *fw_remote_url(const fw_remote *r) { return r->url; }

/* ---- batch completion (under mu) -------------------------------------------- */

static void batch_finish(fw_remote *r, batch *b) {
    b->state = B_DONE;
    r->npending--;
    pthread_cond_broadcast(&r->cv);
}

/* Fails @p b with its error already in b->error: cancels its other requests.
 * @p down: it failed every attempt, so the service is considered down. */
static void batch_fail(fw_remote *r, batch *b, bool down) {
    for (size_t i = 0; i < b->nreqs; i++) {
        req *q = &b->reqs[i];
        if (q->state == REQ_ACTIVE && q->conn) {
            curl_multi_remove_handle(r->multi, q->conn->h);
            q->conn->r = NULL;
            q->conn = NULL;
        }
        q->state = REQ_DONE;
    }
    b->failed = true;
    r->st.failed_batches++;
    r->st.failed_rows += b->n;
    fmt(r->st.last_error, sizeof(r->st.last_error), "%s", b->error);
    if (down && r->c.down_ms > 0) {
        r->down_until_ms = fw_mono_ms() + r->c.down_ms;
        fmt(r->down_reason, sizeof(r->down_reason), "%s", b->error);
    }
    batch_finish(r, b);
}

static void batch_fast_fail(fw_remote *r, batch *b, int64_t now) {
    fmt(b->error, sizeof(b->error),
        "remote scoring: service considered down for another %lld ms after: %s",
        (long long)(r->down_until_ms - now), r->down_reason);
    r->st.fast_failed++;
    batch_fail(r, b, false);
}

/* ---- submit ------------------------------------------------------------------- */

/* Splits and serializes into @p b (owned by the caller: not in the queue). */
static fw_err batch_fill(fw_remote *r, batch *b, const float *rows, size_t n, char *errstr,
                         size_t errstr_size) {
    size_t per = r->c.max_rows_per_request;
    size_t nreqs = n / per + (n % per != 0);
    if (nreqs > b->reqs_cap) {
        req *q = realloc(b->reqs, nreqs * sizeof(*q));
        if (!q)
            goto nomem;
        for (size_t i = b->reqs_cap; i < nreqs; i++)
            fw_buf_init(&q[i].body, BODY_MAX);
        b->reqs = q;
        b->reqs_cap = nreqs;
    }
    if (n > b->probs_cap) {
        float *p = realloc(b->probs, n * sizeof(*p));
        if (!p)
            goto nomem;
        b->probs = p;
        b->probs_cap = n;
    }
    b->nreqs = nreqs;
    b->reqs_left = nreqs;
    for (size_t k = 0; k < nreqs; k++) {
        req *q = &b->reqs[k];
        q->b = b;
        q->off = k * per;
        q->n = n - q->off < per ? n - q->off : per;
        q->state = REQ_WAITING;
        q->attempts = 0;
        q->next_at_ms = 0;
        q->conn = NULL;
        fw_buf_reset(&q->body);
        if (!fw_predict_write_request(&q->body, rows + q->off * FW_F__COUNT, q->n)) {
            if (q->body.cap < q->body.max)
                goto nomem;
            fmt(errstr, errstr_size,
                "remote scoring: the request body for rows %zu..%zu is over %zu MiB "
                "(lower max_rows_per_request)",
                q->off, q->off + q->n - 1, BODY_MAX >> 20);
            return FW_ERR_LIMIT;
        }
    }
    return FW_OK;
nomem:
    fmt(errstr, errstr_size, "remote scoring: out of memory for a batch of %zu rows", n);
    return FW_ERR_NOMEM;
}

fw_err fw_remote_submit(fw_remote *r, void *tag, const float *rows, size_t n, char *errstr,
                        size_t errstr_size) {
    if (!rows || n == 0) {
        fmt(errstr, errstr_size, "remote scoring: a batch needs at least one row");
        return FW_ERR_INVALID;
    }
    pthread_mutex_lock(&r->mu);
    while (!r->stop && r->npending >= (size_t)r->c.max_inflight)
        pthread_cond_wait(&r->cv, &r->mu);
    if (r->stop) {
        pthread_mutex_unlock(&r->mu);
        fmt(errstr, errstr_size, "remote scoring: shutting down");
        return FW_ERR_INVALID;
    }
    batch *b = r->free_list;
    if (b)
        r->free_list = b->next;
    int64_t now = fw_mono_ms();
    bool down = r->down_until_ms > now;
    pthread_mutex_unlock(&r->mu);
    if (!b && !(b = calloc(1, sizeof(*b)))) {
        fmt(errstr, errstr_size, "remote scoring: out of memory");
        return FW_ERR_NOMEM;
    }
    b->next = NULL;
    b->tag = tag;
    b->n = n;
    b->started = b->failed = false;
    b->submitted_ms = now;
    b->error[0] = '\0';
    b->nreqs = b->reqs_left = 0;
    /* A batch that fails at once is not worth serializing. */
    fw_err err = down ? FW_OK : batch_fill(r, b, rows, n, errstr, errstr_size);

    pthread_mutex_lock(&r->mu);
    if (err != FW_OK) {
        b->state = B_FREE;
        b->next = r->free_list;
        r->free_list = b;
        pthread_mutex_unlock(&r->mu);
        return err;
    }
    if (r->tail)
        r->tail->next = b;
    else
        r->head = b;
    r->tail = b;
    r->nqueued++;
    r->npending++;
    b->state = B_PENDING;
    r->st.batches++;
    r->st.rows += n;
    if (down)
        batch_fast_fail(r, b, now);
    pthread_mutex_unlock(&r->mu);
    if (!down)
        curl_multi_wakeup(r->multi);
    return FW_OK;
}

/* ---- next ---------------------------------------------------------------------- */

bool fw_remote_next(fw_remote *r, int wait_ms, void **tag, const float **probs, size_t *n,
                    const char **error) {
    pthread_mutex_lock(&r->mu);
    if (r->held) { /* the caller is done with the previous result */
        r->held->state = B_FREE;
        r->held->next = r->free_list;
        r->free_list = r->held;
        r->held = NULL;
    }
    struct timespec deadline = { 0 };
    if (wait_ms > 0) {
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += wait_ms / 1000;
        deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
    }
    while (!r->head || r->head->state != B_DONE) {
        if (!r->head || wait_ms == 0 || r->stop) {
            pthread_mutex_unlock(&r->mu);
            return false;
        }
        if (wait_ms < 0) {
            pthread_cond_wait(&r->cv, &r->mu);
        } else if (pthread_cond_timedwait(&r->cv, &r->mu, &deadline) == ETIMEDOUT) {
            if (r->head && r->head->state == B_DONE)
                break;
            pthread_mutex_unlock(&r->mu);
            return false;
        }
    }
    batch *b = r->head;
    r->head = b->next;
    if (!r->head)
        r->tail = NULL;
    b->next = NULL;
    r->nqueued--;
    r->held = b;
    pthread_mutex_unlock(&r->mu);
    if (tag)
        *tag = b->tag;
    if (probs)
        *probs = b->failed ? NULL : b->probs;
    if (n)
        *n = b->n;
    if (error)
        *error = b->failed ? b->error : NULL;
    return true;
}

size_t fw_remote_inflight(const fw_remote *r) {
    pthread_mutex_t *mu = (pthread_mutex_t *)&r->mu; /* locking does not change the client */
    pthread_mutex_lock(mu);
    size_t n = r->nqueued;
    pthread_mutex_unlock(mu);
    return n;
}

void fw_remote_stats_get(const fw_remote *r, fw_remote_stats *out) {
    pthread_mutex_t *mu = (pthread_mutex_t *)&r->mu;
    pthread_mutex_lock(mu);
    *out = r->st;
    out->down = r->down_until_ms > fw_mono_ms();
    pthread_mutex_unlock(mu);
}

/* ---- the worker ------------------------------------------------------------------ */

/* Starts one attempt of @p q on the free handle @p cn (under mu). */
static void attempt_start(fw_remote *r, conn *cn, req *q) {
    fw_buf_reset(&cn->resp);
    cn->resp.max = RESP_BASE + RESP_PER_ROW * q->n;
    cn->too_big = false;
    cn->errbuf[0] = '\0';
    cn->r = q;
    q->conn = cn;
    q->state = REQ_ACTIVE;
    q->attempts++;
    q->b->started = true;
    r->st.requests++;
    if (q->attempts > 1)
        r->st.retries++;
    curl_easy_setopt(cn->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body.len);
    curl_easy_setopt(cn->h, CURLOPT_POSTFIELDS, q->body.data);
    CURLMcode mc = curl_multi_add_handle(r->multi, cn->h);
    if (mc != CURLM_OK) {
        cn->r = NULL;
        q->conn = NULL;
        fmt(q->b->error, sizeof(q->b->error), "POST %s: curl_multi_add_handle: %s", r->url,
            curl_multi_strerror(mc));
        batch_fail(r, q->b, false);
    }
}

/* Fast-fails what must not start while the service is down, starts the
 * requests that are due, oldest batch first (under mu). @p wake: when the
 * next backoff ends. */
static void schedule(fw_remote *r, int64_t now, int64_t *wake) {
    bool down = r->down_until_ms > now;
    int ci = 0; /* next conn to look at */
    for (batch *b = r->head; b; b = b->next) {
        if (b->state != B_PENDING)
            continue;
        if (!b->started && down) {
            batch_fast_fail(r, b, now);
            continue;
        }
        for (size_t i = 0; i < b->nreqs && b->state == B_PENDING; i++) {
            req *q = &b->reqs[i];
            if (q->state != REQ_WAITING)
                continue;
            if (q->next_at_ms > now) {
                if (q->next_at_ms < *wake)
                    *wake = q->next_at_ms;
                continue;
            }
            while (ci < r->c.max_inflight && r->conns[ci].r)
                ci++;
            if (ci == r->c.max_inflight)
                return; /* all handles busy: a completion brings us back */
            attempt_start(r, &r->conns[ci], q);
        }
    }
}

/* The first bytes of an error response, printable, for the message. */
static void body_snippet(const fw_buf *resp, char *out, size_t size) {
    size_t n = resp->len < ERR_BODY_BYTES ? resp->len : ERR_BODY_BYTES;
    size_t j = 0;
    for (size_t i = 0; i < n && j + 1 < size; i++) {
        unsigned char ch = (unsigned char)resp->data[i];
        out[j++] = ch == '\n' || ch == '\r' || ch == '\t' ? ' '
                   : ch >= 0x20 && ch < 0x7f             ? (char)ch
                                                          : '?';
    }
    if (resp->len > n && j + 4 < size) {
        memcpy(out + j, "...", 3);
        j += 3;
    }
    out[j < size ? j : size - 1] = '\0';
}

/* Reads {"predictions":[...]} for @p q's rows into its batch (worker only:
 * the caller does not touch a pending batch). */
static bool parse_predictions(fw_remote *r, conn *cn, req *q, char *what, size_t wsz) {
    return fw_predict_read_predictions(cn->resp.data, cn->resp.len, &r->arena,
                                       q->b->probs + q->off, q->n, q->off, what, wsz);
}

typedef enum { OUT_OK, OUT_RETRY, OUT_FAIL } outcome;

/* Classifies one finished attempt; @p what and @p detail describe a failure. */
static outcome attempt_outcome(fw_remote *r, conn *cn, req *q, CURLcode rc, bool *timed_out,
                               double *latency_ms, char *what, size_t wsz, char *detail,
                               size_t dsz) {
    if (rc == CURLE_OK) {
        long status = 0;
        curl_easy_getinfo(cn->h, CURLINFO_RESPONSE_CODE, &status);
        curl_off_t us = 0;
        if (curl_easy_getinfo(cn->h, CURLINFO_TOTAL_TIME_T, &us) == CURLE_OK)
            *latency_ms = (double)us / 1000.0;
        if (status >= 200 && status < 300)
            return parse_predictions(r, cn, q, what, wsz) ? OUT_OK : OUT_FAIL;
        body_snippet(&cn->resp, detail, dsz);
        /* 5xx: the service's trouble; 408/429: try again later. Other
         * statuses mean the request itself is wrong: retrying cannot help. */
        if (status >= 500 || status == 408 || status == 429) {
            fmt(what, wsz, "HTTP %ld", status);
            return OUT_RETRY;
        }
        fmt(what, wsz, "HTTP %ld, the request was rejected (not retried)", status);
        return OUT_FAIL;
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        *timed_out = true;
        curl_off_t connected = 0;
        curl_easy_getinfo(cn->h, CURLINFO_CONNECT_TIME_T, &connected);
        if (connected == 0 && r->c.connect_timeout_ms < r->c.timeout_ms)
            fmt(what, wsz, "no connection within %d ms", r->c.connect_timeout_ms);
        else
            fmt(what, wsz, "timeout after %d ms", r->c.timeout_ms);
        return OUT_RETRY;
    }
    if (rc == CURLE_WRITE_ERROR && cn->too_big) {
        fmt(what, wsz, "response: larger than %zu bytes", cn->resp.max);
        return OUT_FAIL;
    }
    fmt(what, wsz, "%s", cn->errbuf[0] ? cn->errbuf : curl_easy_strerror(rc));
    switch (rc) { /* mistakes of ours or of the URL: the same next time */
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_UNKNOWN_OPTION:
        return OUT_FAIL;
    default:
        return OUT_RETRY; /* connection refused, reset, DNS, TLS handshake, ... */
    }
}

static void attempt_done(fw_remote *r, conn *cn, CURLcode rc) {
    req *q = cn->r;
    batch *b = q->b;
    char what[320] = "", detail[ERR_BODY_BYTES + 8] = "";
    bool timed_out = false;
    double latency_ms = -1;

    /* Outside mu: the handles are the worker's, and the parse writes only this
     * batch's probs, which the caller does not read before the batch is done. */
    curl_multi_remove_handle(r->multi, cn->h);
    cn->r = NULL;
    q->conn = NULL;
    outcome o = attempt_outcome(r, cn, q, rc, &timed_out, &latency_ms, what, sizeof(what),
                                detail, sizeof(detail));
    pthread_mutex_lock(&r->mu);
    if (timed_out)
        r->st.timeouts++;
    if (latency_ms >= 0)
        r->st.last_latency_ms = latency_ms;
    int64_t now = fw_mono_ms();
    if (o == OUT_OK) {
        q->state = REQ_DONE;
        if (--b->reqs_left == 0) {
            r->st.ok_batches++;
            r->st.last_batch_ms = (double)(now - b->submitted_ms);
            r->down_until_ms = 0; /* it answers again */
            batch_finish(r, b);
        }
    } else if (o == OUT_RETRY && q->attempts <= r->c.retries) {
        int shift = q->attempts - 1 < 20 ? q->attempts - 1 : 20;
        q->state = REQ_WAITING;
        q->next_at_ms = now + ((int64_t)r->c.backoff_ms << shift);
    } else {
        char rows[64] = "";
        if (b->nreqs > 1)
            fmt(rows, sizeof(rows), " (rows %zu..%zu of %zu)", q->off, q->off + q->n - 1, b->n);
        char tries[32] = "";
        if (q->attempts > 1)
            fmt(tries, sizeof(tries), " (%d attempts)", q->attempts);
        fmt(b->error, sizeof(b->error), "POST %s%s: %s%s%s%s", r->url, rows, what, tries,
            detail[0] ? ": " : "", detail);
        batch_fail(r, b, o == OUT_RETRY);
    }
    pthread_mutex_unlock(&r->mu);
}

/* Handles the finished transfers; @returns how many. */
static int drain(fw_remote *r) {
    int done = 0, left = 0;
    CURLMsg *m;
    while ((m = curl_multi_info_read(r->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURLcode rc = m->data.result; /* m dies with the handle's removal */
        char *priv = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        conn *cn = (conn *)(void *)priv;
        if (!cn || !cn->r)
            continue;
        attempt_done(r, cn, rc);
        done++;
    }
    return done;
}

static void *worker_main(void *arg) {
    fw_remote *r = arg;
    for (;;) {
        int64_t now = fw_mono_ms();
        int64_t wake = now + IDLE_POLL_MS;
        pthread_mutex_lock(&r->mu);
        if (r->stop) {
            pthread_mutex_unlock(&r->mu);
            break;
        }
        schedule(r, now, &wake);
        pthread_mutex_unlock(&r->mu);
        int running = 0;
        curl_multi_perform(r->multi, &running);
        if (drain(r) > 0)
            continue; /* retries may be due, handles are free: schedule again */
        int64_t wait = wake - fw_mono_ms();
        if (wait < 0)
            wait = 0;
        /* Returns early for socket activity, curl's own timers and wakeups. */
        curl_multi_poll(r->multi, NULL, 0, (int)wait, NULL);
    }
    /* Stopping: the pending batches fail; destroy frees them. */
    pthread_mutex_lock(&r->mu);
    for (batch *b = r->head; b; b = b->next)
        if (b->state == B_PENDING) {
            fmt(b->error, sizeof(b->error), "remote scoring: cancelled (shutting down)");
            batch_fail(r, b, false);
        }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}
