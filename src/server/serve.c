/* serve.c — the HTTP service behind `fraudwatch serve` (the command's
 * options live in tools/serve_cmd.c): seed 000's /predict API over a trained
 * model, on libmicrohttpd's thread pool. Bodies become feature matrices in
 * predict_api.c outside any lock; only fw_model_predict, which is not
 * thread-safe, runs under the model mutex. The main thread only waits for
 * signals and watches the model file: SIGHUP or a changed file reloads the
 * model, SIGINT or SIGTERM stops the server, and every few milliseconds it
 * cuts off connections past their deadline.
 *
 * Safe by default: it listens on 127.0.0.1; /predict can require a bearer
 * token; open connections, request-body bytes held across connections and
 * each request's total time are bounded, and what is refused is counted
 * (http_guard.h) in /health and in the stop summary. */
#include "serve.h"

#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http_guard.h"
#include "http_listen.h"
#include "model.h"
#include "predict_api.h"

#define CONNECTION_TIMEOUT_S 60u       /* idle clients are dropped (the deadline comes first) */
#define WATCH_INTERVAL_MS 1000         /* how often the model file is checked */
#define RETRY_AFTER_S "1"              /* Retry-After of a 503 */

/* A loaded model and the requests still using it: a reload swaps `current`
 * while requests holding the old one finish; the last reference frees it. */
typedef struct served_model {
    fw_model *model;
    unsigned refs; /* guarded by server.mu */
} served_model;

/* One open connection, from MHD's connection-started notification to its
 * closed one. The slot table has one per connection MHD may accept, so none
 * is allocated per connection. */
typedef struct conn_slot {
    bool used;
    bool over;         /* accepted beyond --max-connections: /predict gets 503 */
    bool in_request;   /* a request's headers are in and it is not answered yet */
    bool cut;          /* shut down by the deadline; MHD closes it next */
    unsigned answered; /* requests completed on it */
    int fd;
    int64_t start_ms;  /* accepted, or the previous request completed: the deadline's start */
} conn_slot;

typedef struct server {
    pthread_mutex_t mu;     /* guards current, every refs and every fw_model_predict */
    served_model *current;  /* written only by the main thread */
    size_t max_body, max_batch;
    const char *token;      /* NULL: /predict is open */
    fw_http_budget inflight; /* request-body bytes held */
    pthread_mutex_t conn_mu; /* guards slots, open */
    conn_slot *slots;
    size_t nslots;          /* MHD's connection limit */
    size_t open, max_connections;
    int64_t request_timeout_ms;
    atomic_uint_fast64_t refused[FW_REFUSED__COUNT];
    atomic_uint_fast64_t idle_closed; /* kept-alive connections closed at the deadline */
} server;

/* One request in progress; freed by on_completed, which also gives back the
 * bytes it took from the budget. */
typedef struct request {
    bool health;     /* GET /health, else POST /predict */
    char *body;
    size_t len, cap; /* cap bytes are taken from server.inflight */
} request;

/* ------------------------------------------------------------ models */

static served_model *acquire(server *s) {
    pthread_mutex_lock(&s->mu);
    served_model *sm = s->current;
    sm->refs++;
    pthread_mutex_unlock(&s->mu);
    return sm;
}

static void release(server *s, served_model *sm) {
    pthread_mutex_lock(&s->mu);
    bool last = --sm->refs == 0;
    pthread_mutex_unlock(&s->mu);
    if (last) {
        fw_model_free(sm->model);
        free(sm);
    }
}

/* fw_model_load's messages start with the path, which ours already name. */
static const char *reason(const char *err, const char *path) {
    size_t n = strlen(path);
    return strncmp(err, path, n) == 0 && err[n] == ':' && err[n + 1] == ' ' ? err + n + 2 : err;
}

/* Main thread only (the one writer of current). */
static void reload(server *s, const char *path, const char *why) {
    char err[1024], old_id[160];
    snprintf(old_id, sizeof(old_id), "%s", fw_model_id(s->current->model));
    fw_model *m = fw_model_load(path, err, sizeof(err));
    served_model *sm = m ? calloc(1, sizeof(*sm)) : NULL;
    if (m && !sm)
        snprintf(err, sizeof(err), "out of memory");
    if (!sm) {
        fw_model_free(m);
        fprintf(stderr, "serve: reload of %s failed: %s; still serving %s\n", path,
                reason(err, path), old_id);
        return;
    }
    sm->model = m;
    sm->refs = 1; /* the server's reference */
    served_model *old = s->current;
    pthread_mutex_lock(&s->mu);
    s->current = sm;
    pthread_mutex_unlock(&s->mu);
    fprintf(stderr, "serve: reloaded %s (%s): model %s (%zu features), was %s\n", path, why,
            fw_model_id(m), fw_model_nfeatures(m), old_id);
    release(s, old); /* freed now, or by the last request scoring with it */
}

/* ------------------------------------------------------------ HTTP */

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void count_refusal(server *s, fw_refusal r) { atomic_fetch_add(&s->refused[r], 1); }

/* Extra response headers: NULL-terminated name, value pairs. */
#define HDRS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* Queues @p b (JSON) as the response; MHD takes over the buffer. */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, fw_buf *b,
                             const char *const *headers) {
    static const char oom[] = "{\"error\":\"out of memory\"}";
    struct MHD_Response *r = NULL;
    if (b->data && !b->overflow) {
        r = MHD_create_response_from_buffer(b->len, b->data, MHD_RESPMEM_MUST_FREE);
        if (r)
            b->data = NULL; /* MHD frees it */
    }
    fw_buf_fini(b);
    if (!r) {
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        headers = NULL;
        r = MHD_create_response_from_buffer(sizeof(oom) - 1, (void *)oom,
                                            MHD_RESPMEM_PERSISTENT);
        if (!r)
            return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    for (size_t i = 0; headers && headers[i]; i += 2)
        MHD_add_response_header(r, headers[i], headers[i + 1]);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

__attribute__((format(printf, 4, 5)))
static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status,
                                   const char *const *headers, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fw_buf b;
    fw_buf_init(&b, 0);
    fw_predict_write_error(&b, msg);
    return reply(c, status, &b, headers);
}

/* 503 with Retry-After; the connection closes after it. */
#define BUSY_HEADERS                                                                      \
    HDRS(MHD_HTTP_HEADER_RETRY_AFTER, RETRY_AFTER_S, MHD_HTTP_HEADER_CONNECTION, "close")

/* A client-supplied path or method, cut short and made printable for messages. */
static const char *printable(const char *s, char *out, size_t size) {
    return fw_str_printable(s, strnlen(s, size), out, size);
}

static enum MHD_Result health(server *s, struct MHD_Connection *c) {
    served_model *sm = acquire(s);
    uint64_t refused[FW_REFUSED__COUNT];
    for (int r = 0; r < FW_REFUSED__COUNT; r++)
        refused[r] = atomic_load(&s->refused[r]);
    fw_buf b;
    fw_buf_init(&b, 0);
    fw_predict_write_health(&b, fw_model_id(sm->model), fw_model_nfeatures(sm->model), refused);
    release(s, sm);
    return reply(c, MHD_HTTP_OK, &b, NULL);
}

static void body_free(server *s, request *req) {
    free(req->body);
    fw_http_budget_give(&s->inflight, req->cap);
    req->body = NULL;
    req->len = req->cap = 0;
}

/* The whole body is in: parse and fill outside the lock, score under it. */
static enum MHD_Result predict(server *s, struct MHD_Connection *c, request *req) {
    served_model *sm = acquire(s);
    char err[1024];
    fw_predict_batch batch;
    fw_err rc = fw_predict_parse(sm->model, req->body ? req->body : "", req->len, s->max_batch,
                                 &batch, err, sizeof(err));
    body_free(s, req); /* the matrix holds all that is needed */
    unsigned status = rc == FW_OK                                 ? MHD_HTTP_OK
                      : rc == FW_ERR_INVALID || rc == FW_ERR_LIMIT ? MHD_HTTP_BAD_REQUEST
                                                                   : MHD_HTTP_INTERNAL_SERVER_ERROR;
    float *pred = NULL;
    if (rc == FW_OK && batch.n > 0) {
        if (!(pred = malloc(batch.n * sizeof(*pred)))) {
            snprintf(err, sizeof(err), "out of memory for %zu predictions", batch.n);
            status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        } else {
            pthread_mutex_lock(&s->mu);
            rc = fw_model_predict(sm->model, batch.rows, batch.n, pred, err, sizeof(err));
            pthread_mutex_unlock(&s->mu);
            if (rc != FW_OK) {
                status = MHD_HTTP_INTERNAL_SERVER_ERROR;
                fprintf(stderr, "serve: scoring %zu transactions with %s failed: %s\n",
                        batch.n, fw_model_id(sm->model), err);
            }
        }
    }
    fw_buf out;
    fw_buf_init(&out, SIZE_MAX); /* bounded by --max-batch, not by fw_buf's default */
    if (status == MHD_HTTP_OK)
        fw_predict_write_predictions(&out, pred, batch.n, fw_model_id(sm->model));
    else
        fw_predict_write_error(&out, err);
    free(pred);
    fw_predict_batch_free(&batch);
    release(s, sm);
    return reply(c, status, &out, NULL);
}

/* Appends a piece of body, growing the buffer only with bytes taken from the
 * budget first. @returns false, counted, when the body would pass --max-body
 * or the budget. */
static bool body_append(server *s, request *req, const char *data, size_t n) {
    if (n > s->max_body - req->len) {
        count_refusal(s, FW_REFUSED_BODY_TOO_LARGE);
        fprintf(stderr, "serve: closed a connection whose request body exceeded %zu bytes "
                "(--max-body)\n", s->max_body);
        return false;
    }
    if (req->len + n > req->cap) { /* the parser needs no NUL */
        size_t cap = req->cap ? req->cap : 4096;
        while (cap < req->len + n)
            cap *= 2;
        if (cap > s->max_body)
            cap = s->max_body;
        if (!fw_http_budget_take(&s->inflight, cap - req->cap)) {
            count_refusal(s, FW_REFUSED_INFLIGHT_BYTES);
            fprintf(stderr, "serve: closed a connection whose chunked request body would pass "
                    "%zu bytes in flight (--max-inflight-bytes)\n", s->inflight.max);
            return false;
        }
        char *body = realloc(req->body, cap);
        if (!body) {
            fw_http_budget_give(&s->inflight, cap - req->cap);
            fprintf(stderr, "serve: out of memory for a request body of %zu bytes\n", cap);
            return false;
        }
        req->body = body;
        req->cap = cap;
    }
    memcpy(req->body + req->len, data, n);
    req->len += n;
    return true;
}

static conn_slot *slot_of(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Headers only: route, and refuse what need not be read. */
static enum MHD_Result on_headers(server *s, struct MHD_Connection *c, const char *url,
                                  const char *method, void **con_cls) {
    char p1[96], p2[96];
    conn_slot *slot = slot_of(c);
    bool over = true; /* no slot: MHD let in more than the table holds */
    pthread_mutex_lock(&s->conn_mu);
    if (slot) {
        slot->in_request = true;
        over = slot->over;
    }
    pthread_mutex_unlock(&s->conn_mu);

    request *req;
    if (!strcmp(url, "/health")) {
        if (strcmp(method, "GET") && strcmp(method, "HEAD"))
            return reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, HDRS(MHD_HTTP_HEADER_ALLOW, "GET, HEAD"),
                               "method %s not allowed for /health (use GET)",
                               printable(method, p1, sizeof(p1)));
        /* Answered on the next call: MHD closes a connection answered before
         * the request is complete, and health checks reuse theirs. Answered
         * even when busy: it costs nothing, and a busy server is alive. */
        if (!(req = calloc(1, sizeof(*req))))
            return MHD_NO;
        req->health = true;
        *con_cls = req;
        return MHD_YES;
    }
    if (strcmp(url, "/predict"))
        return reply_error(c, MHD_HTTP_NOT_FOUND, NULL,
                           "no such path: %s %s (the API is POST /predict and GET /health)",
                           printable(method, p1, sizeof(p1)), printable(url, p2, sizeof(p2)));
    if (strcmp(method, "POST"))
        return reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, HDRS(MHD_HTTP_HEADER_ALLOW, "POST"),
                           "method %s not allowed for /predict (use POST with "
                           "{\"transactions\":[...]})", printable(method, p1, sizeof(p1)));
    if (over) {
        count_refusal(s, FW_REFUSED_CONNECTIONS);
        return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, BUSY_HEADERS,
                           "server busy: more than %zu connections open (--max-connections); "
                           "retry later", s->max_connections);
    }
    if (s->token &&
        !fw_http_bearer_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                       MHD_HTTP_HEADER_AUTHORIZATION),
                           s->token)) {
        count_refusal(s, FW_REFUSED_UNAUTHORIZED);
        return reply_error(c, MHD_HTTP_UNAUTHORIZED,
                           HDRS(MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"fraudwatch\""),
                           "missing or wrong bearer token: send \"Authorization: Bearer "
                           "<token>\"");
    }
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!fw_http_content_type_json(ct)) {
        count_refusal(s, FW_REFUSED_CONTENT_TYPE);
        return reply_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, NULL,
                           "Content-Type must be application/json, got %s%s%s",
                           ct ? "\"" : "", ct ? printable(ct, p1, sizeof(p1)) : "none",
                           ct ? "\"" : "");
    }
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long n = 0;
    if (cl) { /* MHD has already refused a malformed Content-Length */
        errno = 0;
        n = strtoull(cl, NULL, 10);
        if (errno == ERANGE || n > s->max_body) {
            count_refusal(s, FW_REFUSED_BODY_TOO_LARGE);
            return reply_error(c, MHD_HTTP_BAD_REQUEST, NULL,
                               "request body of %s bytes is larger than the limit of %zu "
                               "bytes (--max-body)", cl, s->max_body);
        }
    }
    if (!(req = calloc(1, sizeof(*req))))
        return MHD_NO;
    /* A known length is taken from the budget whole, before any of it is
     * read, and buffered in one allocation of that size. */
    if (cl && n > 0) {
        if (!fw_http_budget_take(&s->inflight, (size_t)n)) {
            free(req);
            count_refusal(s, FW_REFUSED_INFLIGHT_BYTES);
            return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, BUSY_HEADERS,
                               "server busy: a body of %s bytes would pass the %zu bytes of "
                               "request bodies in flight (--max-inflight-bytes); retry later",
                               cl, s->inflight.max);
        }
        req->cap = (size_t)n;
        if (!(req->body = malloc(req->cap))) {
            body_free(s, req);
            free(req);
            return MHD_NO;
        }
    }
    *con_cls = req;
    return MHD_YES;
}

/* MHD calls this once with the headers, once per piece of body, and once
 * more when the body is complete. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    (void)version;
    server *s = cls;
    request *req = *con_cls;
    if (!req)
        return on_headers(s, c, url, method, con_cls);
    if (*upload_data_size > 0) {
        if (req->health) { /* a body with a GET: ignored */
            *upload_data_size = 0;
            return MHD_YES;
        }
        /* Only a chunked body can fail here (a Content-Length was checked),
         * and MHD cannot answer before the whole body is read: hang up. */
        if (!body_append(s, req, upload_data, *upload_data_size))
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    return req->health ? health(s, c) : predict(s, c, req);
}

/* Every request that reached on_request ends here, answered or not (the
 * client went away, the deadline cut it off): the bytes go back. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)toe;
    server *s = cls;
    request *req = *con_cls;
    if (req) {
        body_free(s, req);
        free(req);
        *con_cls = NULL;
    }
    conn_slot *slot = slot_of(c);
    if (slot) {
        pthread_mutex_lock(&s->conn_mu);
        slot->in_request = false;
        slot->answered++;
        slot->start_ms = mono_ms(); /* the next request's deadline */
        pthread_mutex_unlock(&s->conn_mu);
    }
}

/* A slot per connection: the deadline's start, and whether it is one too many. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
    server *s = cls;
    pthread_mutex_lock(&s->conn_mu);
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        conn_slot *slot = NULL;
        for (size_t i = 0; i < s->nslots && !slot; i++)
            if (!s->slots[i].used)
                slot = &s->slots[i];
        if (slot) {
            const union MHD_ConnectionInfo *ci =
                MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
            s->open++;
            *slot = (conn_slot){ .used = true, .over = s->open > s->max_connections,
                                 .fd = ci ? ci->connect_fd : -1, .start_ms = mono_ms() };
        }
        *socket_context = slot;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        /* MHD closes the descriptor after this returns, so the reaper, which
         * holds conn_mu, never shuts down a descriptor reused elsewhere. */
        conn_slot *slot = *socket_context;
        *slot = (conn_slot){ .fd = -1 };
        s->open--;
        *socket_context = NULL;
    }
    pthread_mutex_unlock(&s->conn_mu);
}

/* Main thread: cuts off connections past --request-timeout-ms. shutdown()
 * wakes MHD's thread with end-of-file; it closes the connection and the
 * request-completed callback gives its bytes back. */
static void reap(server *s, int64_t now) {
    pthread_mutex_lock(&s->conn_mu);
    for (size_t i = 0; i < s->nslots; i++) {
        conn_slot *slot = &s->slots[i];
        if (!slot->used || slot->cut || slot->fd < 0 ||
            now - slot->start_ms <= s->request_timeout_ms)
            continue;
        slot->cut = true;
        shutdown(slot->fd, SHUT_RDWR);
        if (slot->in_request || slot->answered == 0)
            count_refusal(s, FW_REFUSED_DEADLINE);
        else
            atomic_fetch_add(&s->idle_closed, 1);
    }
    pthread_mutex_unlock(&s->conn_mu);
}

/* ------------------------------------------------------------ main loop */

/* What tells that the model file changed: a rename changes the inode, an
 * in-place write the size or mtime. */
typedef struct file_sig {
    int err; /* errno of stat, 0 when the file is there */
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} file_sig;

static file_sig file_signature(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0)
        return (file_sig){ .err = errno ? errno : ENOENT };
    return (file_sig){ .dev = st.st_dev, .ino = st.st_ino, .size = st.st_size,
                       .mtime = st.st_mtim };
}

static bool same_file_sig(const file_sig *a, const file_sig *b) {
    return a->err == b->err && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* Waits for signals (delivered synchronously: every thread blocks them),
 * cuts off connections past their deadline every @p tick_ms, and checks the
 * model file once a second. @returns the stopping signal. */
static int wait_loop(server *s, const char *path, const sigset_t *set, file_sig last,
                     int64_t tick_ms) {
    int64_t last_check = mono_ms();
    for (;;) {
        struct timespec timeout = { .tv_sec = tick_ms / 1000,
                                    .tv_nsec = (long)(tick_ms % 1000) * 1000000 };
        int sig = sigtimedwait(set, NULL, &timeout);
        if (sig == SIGINT || sig == SIGTERM)
            return sig;
        reap(s, mono_ms());
        if (sig == SIGHUP) {
            last = file_signature(path);
            reload(s, path, "SIGHUP");
            continue;
        }
        if (mono_ms() - last_check < WATCH_INTERVAL_MS)
            continue; /* EINTR, or a signal we do not wait for */
        last_check = mono_ms();
        file_sig now = file_signature(path);
        if (same_file_sig(&now, &last))
            continue;
        last = now;
        if (now.err)
            fprintf(stderr, "serve: %s: %s; still serving %s\n", path, strerror(now.err),
                    fw_model_id(s->current->model));
        else
            reload(s, path, "file changed");
    }
}
int fw_serve_run(const fw_serve_conf *o) {

    /* Block the signals before any thread exists, so MHD's and XGBoost's
     * threads inherit the mask and only sigtimedwait sees them. */
    sigset_t set, old_mask;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, &old_mask);

    /* Up to max_connections more are accepted only to be told 503; past
     * those MHD stops accepting (each pool thread holds nslots / threads). */
    size_t nslots = 2 * (size_t)o->max_connections;
    if (nslots < (size_t)o->threads)
        nslots = (size_t)o->threads;
    server srv = { .max_body = o->max_body, .max_batch = o->max_batch, .token = o->token,
                   .max_connections = o->max_connections, .nslots = nslots,
                   .request_timeout_ms = o->request_timeout_ms };
    fw_http_budget_init(&srv.inflight, o->max_inflight);
    for (int r = 0; r < FW_REFUSED__COUNT; r++)
        atomic_init(&srv.refused[r], 0);
    atomic_init(&srv.idle_closed, 0);
    pthread_mutex_init(&srv.mu, NULL);
    pthread_mutex_init(&srv.conn_mu, NULL);
    struct MHD_Daemon *d = NULL;
    int fd = -1, stop_sig = 0;
    int rc = 1;
    char err[1024];
    file_sig sig0 = file_signature(o->model); /* before loading: a change in between reloads */
    fw_model *m = fw_model_load(o->model, err, sizeof(err));
    if (!m) {
        fprintf(stderr, "fraudwatch serve: --model: cannot load %s: %s\n", o->model,
                reason(err, o->model));
        rc = 2; /* a file named by an option, bad before serving starts: usage */
        goto out;
    }
    if (!(srv.current = calloc(1, sizeof(*srv.current)))) {
        fw_model_free(m);
        fprintf(stderr, "serve: out of memory\n");
        goto out;
    }
    srv.current->model = m;
    srv.current->refs = 1;
    if (!(srv.slots = calloc(nslots, sizeof(*srv.slots)))) {
        fprintf(stderr, "serve: out of memory\n");
        goto out_model;
    }

    int port = o->port;
    bool v6;
    char why[256];
    if ((fd = fw_http_listen(o->bind, &port, &v6, why, sizeof(why))) < 0) {
        fprintf(stderr, "serve: %s\n", why);
        goto out_model;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
        flags |= MHD_USE_EPOLL; /* else select() */
    d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, &srv,
                         /* The logger first: MHD wants it so. */
                         MHD_OPTION_EXTERNAL_LOGGER, fw_http_mhd_log, (void *)"serve: http",
                         MHD_OPTION_LISTEN_SOCKET, fd,
                         MHD_OPTION_THREAD_POOL_SIZE, (unsigned)o->threads,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, &srv,
                         MHD_OPTION_NOTIFY_CONNECTION, on_connection, &srv,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned)nslots,
                         MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->max_per_ip,
                         MHD_OPTION_CONNECTION_TIMEOUT, CONNECTION_TIMEOUT_S,
                         MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "serve: cannot start the HTTP server on port %d of %s\n", port, o->bind);
        close(fd);
        goto out_model;
    }
    fprintf(stderr, "serve: model %s (%zu features) on http://%s%s%s:%d (POST /predict, "
            "GET /health)\n", fw_model_id(m), fw_model_nfeatures(m), v6 ? "[" : "", o->bind,
            v6 ? "]" : "", port);
    /* Never the token itself. */
    fprintf(stderr, "serve: /predict %s; at most %u connections, %zu bytes of request bodies "
            "in flight, %lld ms per request\n",
            o->token ? "requires a bearer token" : "is open (no --token)", o->max_connections,
            o->max_inflight, (long long)o->request_timeout_ms);

    /* A tenth of the deadline, so a connection is cut at most 10% late. */
    int64_t tick = o->request_timeout_ms / 10;
    stop_sig = wait_loop(&srv, o->model, &set, sig0, tick < 10 ? 10 : tick > 1000 ? 1000 : tick);
    MHD_stop_daemon(d); /* closes the listening socket; joins the threads */
    fprintf(stderr, "serve: stopped (%s); refused:", stop_sig == SIGINT ? "SIGINT" : "SIGTERM");
    for (int r = 0; r < FW_REFUSED__COUNT; r++)
        fprintf(stderr, "%s %s %" PRIu64, r ? "," : "", fw_refusal_name((fw_refusal)r),
                (uint64_t)atomic_load(&srv.refused[r]));
    fprintf(stderr, "; idle connections closed %" PRIu64 "\n",
            (uint64_t)atomic_load(&srv.idle_closed));
    rc = 0;
out_model:
    release(&srv, srv.current);
out:
    free(srv.slots);
    pthread_mutex_destroy(&srv.mu);
    pthread_mutex_destroy(&srv.conn_mu);
    /* Drop signals that arrived meanwhile rather than act on them once unblocked. */
    while (sigtimedwait(&set, NULL, &(struct timespec){ 0 }) > 0)
        ;
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    return rc;
}

