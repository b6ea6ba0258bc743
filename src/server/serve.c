/* serve.c — `fraudwatch serve`: seed 000's /predict HTTP API over a trained
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
#include <errno.h>
#include <getopt.h>
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

#include "commands.h"
#include "http_guard.h"
#include "http_listen.h"
#include "model.h"
#include "predict_api.h"

#define DEFAULT_PORT 8000 /* seed 000's API port */
#define DEFAULT_BIND "127.0.0.1" /* open it with --bind 0.0.0.0 */
#define DEFAULT_THREADS 4
#define MAX_THREADS 1024
#define DEFAULT_MAX_BODY ((size_t)8 << 20)
#define MAX_MAX_BODY ((size_t)1 << 30) /* parsing takes up to ~50 bytes of arena per body byte */
#define MAX_MAX_INFLIGHT ((size_t)64 << 30)
#define DEFAULT_MAX_INFLIGHT ((size_t)64 << 20)
#define DEFAULT_MAX_CONNECTIONS 64
#define MAX_CONNECTIONS 100000
#define DEFAULT_REQUEST_TIMEOUT_MS 30000
#define CONNECTION_TIMEOUT_S 60u       /* idle clients are dropped (the deadline comes first) */
#define WATCH_INTERVAL_MS 1000         /* how often the model file is checked */
#define RETRY_AFTER_S "1"              /* Retry-After of a 503 */

static const char serve_help[] =
    "Usage: fraudwatch serve --model FILE [OPTIONS]\n"
    "\n"
    "Serves a trained XGBoost model (fraudwatch train) over HTTP with the API of\n"
    "seed 000's scoring service:\n"
    "\n"
    "  POST /predict  {\"transactions\":[{\"V1\":-4.0,\"Amount\":1500.0},...]}\n"
    "                 -> {\"predictions\":[0.97,...],\"model\":\"model.json@...\"}\n"
    "                 one fraud probability per transaction, in request order.\n"
    "                 Members are matched to the model's features by name;\n"
    "                 other members are ignored; a feature that is absent or\n"
    "                 null is missing. A malformed body gets 400 and\n"
    "                 {\"error\":\"...\"} saying what was wrong, and where.\n"
    "                 Content-Type must be application/json (else 415).\n"
    "  GET  /health   -> {\"status\":\"ok\",\"model\":\"...\",\"features\":N,\n"
    "                     \"refused\":{\"connections\":0,...}}, never needs a token\n"
    "\n"
    "Options:\n"
    "  -m, --model FILE      XGBoost JSON model with feature names (default:\n"
    "                        $MODEL_PATH)\n"
    "  -p, --port N          TCP port (default: $PORT, else 8000; 0 picks a free\n"
    "                        port, shown in the start-up line)\n"
    "  -b, --bind ADDR       IPv4 or IPv6 address to listen on (default: $FW_BIND,\n"
    "                        else 127.0.0.1, this host only; --bind 0.0.0.0 or ::\n"
    "                        opens it to the network)\n"
    "  -t, --threads N       threads serving requests (default 4)\n"
    "      --token TOKEN     /predict requires \"Authorization: Bearer TOKEN\", else\n"
    "                        401 (default: $FW_API_TOKEN, else none). Visible in\n"
    "                        ps: prefer the environment or --token-file\n"
    "      --token-file FILE the token is the first line of FILE\n"
    "      --max-body BYTES  largest request body (default 8m = 8388608; suffixes\n"
    "                        k, m, g are powers of 1024; at most 1g). A larger\n"
    "                        Content-Length gets 400 before the body is read; a\n"
    "                        chunked body is cut off with the connection\n"
    "      --max-batch N     most transactions per request (default 100000)\n"
    "      --max-connections N\n"
    "                        open connections served (default 64); up to N more\n"
    "                        get 503 with Retry-After, beyond that new ones wait\n"
    "                        in the kernel's queue\n"
    "      --max-connections-per-ip N\n"
    "                        connections from one address (default 0 = no limit);\n"
    "                        more are closed at once\n"
    "      --max-inflight-bytes BYTES\n"
    "                        request bodies held at once across all connections\n"
    "                        (default 64m; at least --max-body). A body that would\n"
    "                        go over gets 503 with Retry-After before it is read\n"
    "                        (a chunked one is cut off)\n"
    "      --request-timeout-ms N\n"
    "                        a request must be received, scored and answered\n"
    "                        within N ms of its connection's first byte, or of\n"
    "                        the previous answer on a kept-alive connection;\n"
    "                        else the connection is cut off (default 30000)\n"
    "  -h, --help            this text\n"
    "\n"
    "Reload: on SIGHUP, and within a second of the model file changing (replace\n"
    "it with a rename, as fraudwatch train does), the file is loaded again and\n"
    "swapped in; requests already being scored finish with the old model. A file\n"
    "that cannot be loaded is reported and the old model keeps serving.\n"
    "SIGINT or SIGTERM stops the server and prints what was refused.\n"
    "\n"
    "Example:\n"
    "  fraudwatch serve --model model.json &\n"
    "  curl -X POST localhost:8000/predict -H \"Content-Type: application/json\" \\\n"
    "       -d '{\"transactions\":[{\"V1\":-4.0,\"V2\":-3.0,\"V3\":-2.0,\"Amount\":1500.0}]}'\n"
    "\n"
    "Exit status: 0 after SIGINT or SIGTERM, 1 when the model cannot be loaded or\n"
    "the port cannot be bound, 2 usage error.\n";

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
    size_t i = 0;
    for (; s[i] && i + 4 < size && i < 80; i++)
        out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    if (s[i] && i + 4 <= size) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
    return out;
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

/* ------------------------------------------------------------ options */

static bool parse_uint(const char *s, unsigned long long lo, unsigned long long hi,
                       unsigned long long *out) {
    char *end;
    if (!*s || *s == '-' || *s == '+' || *s == ' ')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* "8388608", "512k", "8m", "8MiB", "1g": binary multiples, 1 to @p max. */
static bool parse_size(const char *s, size_t max, size_t *out) {
    char *end;
    if (!*s || *s == '-' || *s == '+' || *s == ' ')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return false;
    unsigned shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    }
    if (shift && (!strcmp(end, "iB") || !strcmp(end, "B") || !strcmp(end, "b")))
        end += strlen(end);
    if (*end || v == 0 || v > (max >> shift))
        return false;
    *out = (size_t)v << shift;
    return true;
}

typedef struct serve_opts {
    const char *model, *bind, *token_file;
    const char *token;   /* NULL: /predict is open; else token_buf or the argument */
    int port, threads;
    size_t max_body, max_batch, max_inflight;
    unsigned max_connections, max_per_ip;
    int64_t request_timeout_ms;
    char token_buf[FW_HTTP_TOKEN_MAX + 2]; /* --token-file's first line */
} serve_opts;

/* The first line of @p path, without its line end, into o->token_buf.
 * Messages never quote the file's content. */
static bool read_token_file(const char *path, serve_opts *o) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "serve: --token-file: cannot open %s: %s\n", path, strerror(errno));
        return false;
    }
    bool ok = fgets(o->token_buf, sizeof(o->token_buf), f) != NULL;
    fclose(f);
    if (!ok) {
        fprintf(stderr, "serve: --token-file: %s is empty\n", path);
        return false;
    }
    size_t n = strcspn(o->token_buf, "\r\n");
    if (n > FW_HTTP_TOKEN_MAX) {
        fprintf(stderr, "serve: --token-file: the first line of %s is longer than %d "
                "characters\n", path, FW_HTTP_TOKEN_MAX);
        return false;
    }
    o->token_buf[n] = '\0';
    o->token = o->token_buf;
    return true;
}

/* @returns -1 to go on, else the exit status (help, usage error). */
static int parse_options(int argc, char **argv, serve_opts *o) {
    enum {
        OPT_MAX_BODY = 256, OPT_MAX_BATCH, OPT_TOKEN, OPT_TOKEN_FILE, OPT_MAX_CONNECTIONS,
        OPT_MAX_PER_IP, OPT_MAX_INFLIGHT, OPT_REQUEST_TIMEOUT,
    };
    static const struct option longopts[] = {
        { "model", required_argument, NULL, 'm' },
        { "port", required_argument, NULL, 'p' },
        { "bind", required_argument, NULL, 'b' },
        { "threads", required_argument, NULL, 't' },
        { "max-body", required_argument, NULL, OPT_MAX_BODY },
        { "max-batch", required_argument, NULL, OPT_MAX_BATCH },
        { "token", required_argument, NULL, OPT_TOKEN },
        { "token-file", required_argument, NULL, OPT_TOKEN_FILE },
        { "max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS },
        { "max-connections-per-ip", required_argument, NULL, OPT_MAX_PER_IP },
        { "max-inflight-bytes", required_argument, NULL, OPT_MAX_INFLIGHT },
        { "request-timeout-ms", required_argument, NULL, OPT_REQUEST_TIMEOUT },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    memset(o, 0, sizeof(*o));
    o->port = -1;
    o->threads = DEFAULT_THREADS;
    o->max_body = DEFAULT_MAX_BODY;
    o->max_batch = FW_PREDICT_DEFAULT_MAX_BATCH;
    o->max_inflight = DEFAULT_MAX_INFLIGHT;
    o->max_connections = DEFAULT_MAX_CONNECTIONS;
    o->request_timeout_ms = DEFAULT_REQUEST_TIMEOUT_MS;
    bool token_flag = false;
    unsigned long long v;
    int c;
    optind = 0; /* glibc: rescan from scratch, so the command can run twice in a process */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:p:b:t:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm':
            o->model = optarg;
            break;
        case 'p':
            if (!parse_uint(optarg, 0, 65535, &v)) {
                fprintf(stderr, "serve: --port: \"%s\" is not a port number (0-65535)\n", optarg);
                return 2;
            }
            o->port = (int)v;
            break;
        case 'b':
            o->bind = optarg;
            break;
        case 't':
            if (!parse_uint(optarg, 1, MAX_THREADS, &v)) {
                fprintf(stderr, "serve: --threads: \"%s\" is not a number from 1 to %d\n",
                        optarg, MAX_THREADS);
                return 2;
            }
            o->threads = (int)v;
            break;
        case OPT_MAX_BODY:
            if (!parse_size(optarg, MAX_MAX_BODY, &o->max_body)) {
                fprintf(stderr, "serve: --max-body: \"%s\" is not a size from 1 byte to 1g "
                        "(e.g. 8388608, 512k, 8m)\n", optarg);
                return 2;
            }
            break;
        case OPT_MAX_BATCH:
            if (!parse_uint(optarg, 1, UINT32_MAX, &v)) {
                fprintf(stderr, "serve: --max-batch: \"%s\" is not a number from 1 to %u\n",
                        optarg, UINT32_MAX);
                return 2;
            }
            o->max_batch = (size_t)v;
            break;
        case OPT_TOKEN:
        case OPT_TOKEN_FILE:
            if (token_flag) {
                fprintf(stderr, "serve: give one of --token and --token-file\n");
                return 2;
            }
            token_flag = true;
            if (c == OPT_TOKEN)
                o->token = optarg;
            else if (!read_token_file(o->token_file = optarg, o))
                return 2;
            break;
        case OPT_MAX_CONNECTIONS:
            if (!parse_uint(optarg, 1, MAX_CONNECTIONS, &v)) {
                fprintf(stderr, "serve: --max-connections: \"%s\" is not a number from 1 to "
                        "%d\n", optarg, MAX_CONNECTIONS);
                return 2;
            }
            o->max_connections = (unsigned)v;
            break;
        case OPT_MAX_PER_IP:
            if (!parse_uint(optarg, 0, MAX_CONNECTIONS, &v)) {
                fprintf(stderr, "serve: --max-connections-per-ip: \"%s\" is not a number "
                        "from 0 to %d\n", optarg, MAX_CONNECTIONS);
                return 2;
            }
            o->max_per_ip = (unsigned)v;
            break;
        case OPT_MAX_INFLIGHT:
            if (!parse_size(optarg, MAX_MAX_INFLIGHT, &o->max_inflight)) {
                fprintf(stderr, "serve: --max-inflight-bytes: \"%s\" is not a size from 1 "
                        "byte to 64g (e.g. 67108864, 64m)\n", optarg);
                return 2;
            }
            break;
        case OPT_REQUEST_TIMEOUT:
            if (!parse_uint(optarg, 1, 86400000, &v)) {
                fprintf(stderr, "serve: --request-timeout-ms: \"%s\" is not a number from 1 "
                        "to 86400000\n", optarg);
                return 2;
            }
            o->request_timeout_ms = (int64_t)v;
            break;
        case 'h':
            fputs(serve_help, stdout);
            return 0;
        case ':':
            fprintf(stderr, "serve: option %s needs a value\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "serve: unknown option %s\n\n%s", argv[optind - 1], serve_help);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "serve: unexpected argument \"%s\" (the model is --model FILE)\n",
                argv[optind]);
        return 2;
    }
    if (!o->model) {
        const char *env = getenv("MODEL_PATH");
        o->model = env && *env ? env : NULL;
    }
    if (!o->model) {
        fprintf(stderr, "serve: no model: give --model FILE or set MODEL_PATH\n");
        return 2;
    }
    if (o->port < 0) {
        const char *env = getenv("PORT");
        if (env && *env && !parse_uint(env, 0, 65535, &v)) {
            fprintf(stderr, "serve: PORT=\"%s\" is not a port number (0-65535)\n", env);
            return 2;
        }
        o->port = env && *env ? (int)v : DEFAULT_PORT;
    }
    if (!o->bind) {
        const char *env = getenv("FW_BIND");
        if (env && *env && !fw_http_addr_valid(env)) {
            fprintf(stderr, "serve: FW_BIND=\"%s\" is not an IPv4 or IPv6 address\n", env);
            return 2;
        }
        o->bind = env && *env ? env : DEFAULT_BIND;
    }
    if (!fw_http_addr_valid(o->bind)) {
        fprintf(stderr, "serve: --bind: \"%s\" is not an IPv4 or IPv6 address\n", o->bind);
        return 2;
    }
    if (!token_flag) {
        const char *env = getenv("FW_API_TOKEN");
        o->token = env && *env ? env : NULL;
    }
    char why[160];
    if (o->token && !fw_http_token_valid(o->token, why, sizeof(why))) {
        fprintf(stderr, "serve: %s: %s\n",
                o->token_file ? "--token-file" : token_flag ? "--token" : "FW_API_TOKEN", why);
        return 2;
    }
    if (o->max_inflight < o->max_body) {
        fprintf(stderr, "serve: --max-inflight-bytes: %zu is smaller than --max-body (%zu): "
                "a body of that size could never be read; raise it or lower --max-body\n",
                o->max_inflight, o->max_body);
        return 2;
    }
    return -1;
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

int fw_cmd_serve(int argc, char **argv) {
    serve_opts o;
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0)
        return rc;

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
    size_t nslots = 2 * (size_t)o.max_connections;
    if (nslots < (size_t)o.threads)
        nslots = (size_t)o.threads;
    server srv = { .max_body = o.max_body, .max_batch = o.max_batch, .token = o.token,
                   .max_connections = o.max_connections, .nslots = nslots,
                   .request_timeout_ms = o.request_timeout_ms };
    fw_http_budget_init(&srv.inflight, o.max_inflight);
    for (int r = 0; r < FW_REFUSED__COUNT; r++)
        atomic_init(&srv.refused[r], 0);
    atomic_init(&srv.idle_closed, 0);
    pthread_mutex_init(&srv.mu, NULL);
    pthread_mutex_init(&srv.conn_mu, NULL);
    struct MHD_Daemon *d = NULL;
    int fd = -1, stop_sig = 0;
    rc = 1;
    char err[1024];
    file_sig sig0 = file_signature(o.model); /* before loading: a change in between reloads */
    fw_model *m = fw_model_load(o.model, err, sizeof(err));
    if (!m) {
        fprintf(stderr, "serve: cannot load %s: %s\n", o.model, reason(err, o.model));
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

    int port = o.port;
    bool v6;
    char why[256];
    if ((fd = fw_http_listen(o.bind, &port, &v6, why, sizeof(why))) < 0) {
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
                         MHD_OPTION_THREAD_POOL_SIZE, (unsigned)o.threads,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, &srv,
                         MHD_OPTION_NOTIFY_CONNECTION, on_connection, &srv,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned)nslots,
                         MHD_OPTION_PER_IP_CONNECTION_LIMIT, o.max_per_ip,
                         MHD_OPTION_CONNECTION_TIMEOUT, CONNECTION_TIMEOUT_S,
                         MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "serve: cannot start the HTTP server on port %d of %s\n", port, o.bind);
        close(fd);
        goto out_model;
    }
    fprintf(stderr, "serve: model %s (%zu features) on http://%s%s%s:%d (POST /predict, "
            "GET /health)\n", fw_model_id(m), fw_model_nfeatures(m), v6 ? "[" : "", o.bind,
            v6 ? "]" : "", port);
    /* Never the token itself. */
    fprintf(stderr, "serve: /predict %s; at most %u connections, %zu bytes of request bodies "
            "in flight, %lld ms per request\n",
            o.token ? "requires a bearer token" : "is open (no --token)", o.max_connections,
            o.max_inflight, (long long)o.request_timeout_ms);

    /* A tenth of the deadline, so a connection is cut at most 10% late. */
    int64_t tick = o.request_timeout_ms / 10;
    stop_sig = wait_loop(&srv, o.model, &set, sig0, tick < 10 ? 10 : tick > 1000 ? 1000 : tick);
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
