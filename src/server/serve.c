/* serve.c — `fraudwatch serve`: seed 000's /predict HTTP API over a trained
 * model, on libmicrohttpd's thread pool. Bodies become feature matrices in
 * predict_api.c outside any lock; only fw_model_predict, which is not
 * thread-safe, runs under the model mutex. The main thread only waits for
 * signals and watches the model file: SIGHUP or a changed file reloads the
 * model, SIGINT or SIGTERM stops the server. */
#include <errno.h>
#include <getopt.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "http_listen.h"
#include "model.h"
#include "predict_api.h"

#define DEFAULT_PORT 8000 /* seed 000's API port */
#define DEFAULT_BIND "0.0.0.0"
#define DEFAULT_THREADS 4
#define MAX_THREADS 1024
#define DEFAULT_MAX_BODY ((size_t)8 << 20)
#define MAX_MAX_BODY ((size_t)1 << 30) /* parsing takes up to ~50 bytes of arena per body byte */
#define CONNECTION_TIMEOUT_S 60u       /* stalled or idle clients are dropped */
#define WATCH_INTERVAL_MS 1000         /* how often the model file is checked */

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
    "  GET  /health   -> {\"status\":\"ok\",\"model\":\"...\",\"features\":N}\n"
    "\n"
    "Options:\n"
    "  -m, --model FILE      XGBoost JSON model with feature names (default:\n"
    "                        $MODEL_PATH)\n"
    "  -p, --port N          TCP port (default: $PORT, else 8000; 0 picks a free\n"
    "                        port, shown in the start-up line)\n"
    "  -b, --bind ADDR       IPv4 or IPv6 address to listen on (default 0.0.0.0)\n"
    "  -t, --threads N       threads serving requests (default 4)\n"
    "      --max-body BYTES  largest request body (default 8m = 8388608; suffixes\n"
    "                        k, m, g are powers of 1024; at most 1g). A larger\n"
    "                        Content-Length gets 400 before the body is read; a\n"
    "                        chunked body is cut off with the connection\n"
    "      --max-batch N     most transactions per request (default 100000)\n"
    "  -h, --help            this text\n"
    "\n"
    "Reload: on SIGHUP, and within a second of the model file changing (replace\n"
    "it with a rename, as fraudwatch train does), the file is loaded again and\n"
    "swapped in; requests already being scored finish with the old model. A file\n"
    "that cannot be loaded is reported and the old model keeps serving.\n"
    "SIGINT or SIGTERM stops the server.\n"
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

typedef struct server {
    pthread_mutex_t mu;     /* guards current, every refs and every fw_model_predict */
    served_model *current;  /* written only by the main thread */
    size_t max_body, max_batch;
} server;

/* One request in progress; freed by on_completed. */
typedef struct request {
    bool health; /* GET /health, else POST /predict */
    fw_buf body;
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

/* Queues @p b (JSON) as the response; MHD takes over the buffer. */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, fw_buf *b,
                             const char *allow) {
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
        r = MHD_create_response_from_buffer(sizeof(oom) - 1, (void *)oom,
                                            MHD_RESPMEM_PERSISTENT);
        if (!r)
            return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

__attribute__((format(printf, 4, 5)))
static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status,
                                   const char *allow, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fw_buf b;
    fw_buf_init(&b, 0);
    fw_predict_write_error(&b, msg);
    return reply(c, status, &b, allow);
}

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
    fw_buf b;
    fw_buf_init(&b, 0);
    fw_predict_write_health(&b, fw_model_id(sm->model), fw_model_nfeatures(sm->model));
    release(s, sm);
    return reply(c, MHD_HTTP_OK, &b, NULL);
}

/* The whole body is in: parse and fill outside the lock, score under it. */
static enum MHD_Result predict(server *s, struct MHD_Connection *c, request *req) {
    served_model *sm = acquire(s);
    char err[1024];
    fw_predict_batch batch;
    fw_err rc = fw_predict_parse(sm->model, req->body.data ? req->body.data : "",
                                 req->body.len, s->max_batch, &batch, err, sizeof(err));
    fw_buf_fini(&req->body); /* the matrix holds all that is needed */
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

/* MHD calls this once with the headers, once per piece of body, and once
 * more when the body is complete. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    (void)version;
    server *s = cls;
    request *req = *con_cls;
    char p1[96], p2[96];
    if (!req) {
        /* Headers only: route, and refuse what need not be read. */
        if (!strcmp(url, "/health")) {
            if (strcmp(method, "GET") && strcmp(method, "HEAD"))
                return reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET, HEAD",
                                   "method %s not allowed for /health (use GET)",
                                   printable(method, p1, sizeof(p1)));
            /* Answered on the next call: MHD closes a connection answered
             * before the request is complete, and health checks reuse theirs. */
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
            return reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "POST",
                               "method %s not allowed for /predict (use POST with "
                               "{\"transactions\":[...]})", printable(method, p1, sizeof(p1)));
        const char *cl =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) { /* MHD has already refused a malformed Content-Length */
            errno = 0;
            unsigned long long n = strtoull(cl, NULL, 10);
            if (errno == ERANGE || n > s->max_body)
                return reply_error(c, MHD_HTTP_BAD_REQUEST, NULL,
                                   "request body of %s bytes is larger than the limit of %zu "
                                   "bytes (--max-body)", cl, s->max_body);
        }
        if (!(req = calloc(1, sizeof(*req))))
            return MHD_NO;
        fw_buf_init(&req->body, s->max_body + 1); /* + 1: fw_buf keeps room for a NUL */
        *con_cls = req;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (req->health) { /* a body with a GET: ignored */
            *upload_data_size = 0;
            return MHD_YES;
        }
        if (!fw_buf_append(&req->body, upload_data, *upload_data_size)) {
            /* Only a chunked body gets here (a Content-Length was checked), and
             * MHD cannot answer before the whole body is read: hang up. */
            fprintf(stderr, "serve: closed a connection whose request body exceeded %zu bytes "
                    "(--max-body)\n", s->max_body);
            return MHD_NO;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    return req->health ? health(s, c) : predict(s, c, req);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)cls, (void)c, (void)toe;
    request *req = *con_cls;
    if (req) {
        fw_buf_fini(&req->body);
        free(req);
        *con_cls = NULL;
    }
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

/* "8388608", "512k", "8m", "8MiB", "1g": binary multiples. */
static bool parse_size(const char *s, size_t *out) {
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
    if (*end || v == 0 || v > (MAX_MAX_BODY >> shift))
        return false;
    *out = (size_t)v << shift;
    return true;
}

typedef struct serve_opts {
    const char *model, *bind;
    int port, threads;
    size_t max_body, max_batch;
} serve_opts;

/* @returns -1 to go on, else the exit status (help, usage error). */
static int parse_options(int argc, char **argv, serve_opts *o) {
    enum { OPT_MAX_BODY = 256, OPT_MAX_BATCH };
    static const struct option longopts[] = {
        { "model", required_argument, NULL, 'm' },
        { "port", required_argument, NULL, 'p' },
        { "bind", required_argument, NULL, 'b' },
        { "threads", required_argument, NULL, 't' },
        { "max-body", required_argument, NULL, OPT_MAX_BODY },
        { "max-batch", required_argument, NULL, OPT_MAX_BATCH },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    *o = (serve_opts){ .bind = DEFAULT_BIND, .port = -1, .threads = DEFAULT_THREADS,
                       .max_body = DEFAULT_MAX_BODY, .max_batch = FW_PREDICT_DEFAULT_MAX_BATCH };
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
            if (!parse_size(optarg, &o->max_body)) {
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
    if (!fw_http_addr_valid(o->bind)) {
        fprintf(stderr, "serve: --bind: \"%s\" is not an IPv4 or IPv6 address\n", o->bind);
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

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for signals (delivered synchronously: every thread blocks them) and
 * checks the model file once a second. @returns the stopping signal. */
static int wait_loop(server *s, const char *path, const sigset_t *set, file_sig last) {
    int64_t last_check = mono_ms();
    for (;;) {
        struct timespec timeout = { .tv_sec = 1 };
        int sig = sigtimedwait(set, NULL, &timeout);
        if (sig == SIGINT || sig == SIGTERM)
            return sig;
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

    server srv = { .max_body = o.max_body, .max_batch = o.max_batch };
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
    pthread_mutex_init(&srv.mu, NULL);

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

    stop_sig = wait_loop(&srv, o.model, &set, sig0);
    MHD_stop_daemon(d); /* closes the listening socket; joins the threads */
    fprintf(stderr, "serve: stopped (%s)\n", stop_sig == SIGINT ? "SIGINT" : "SIGTERM");
    rc = 0;
out_model:
    release(&srv, srv.current);
    pthread_mutex_destroy(&srv.mu);
out:
    /* Drop signals that arrived meanwhile rather than act on them once unblocked. */
    while (sigtimedwait(&set, NULL, &(struct timespec){ 0 }) > 0)
        ;
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    return rc;
}
