/* console_http.c — the console's HTTP server (console_http.h): a thread
 * per connection, so a live feed (server-sent events) may wait for alerts
 * while other requests are answered. Requests share one database
 * connection under a lock; each live feed has its own, LISTENing. */
#include "console_http.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alert_store.h"
#include "console_api.h"
#include "console_engines.h"
#include "console_static.h"
#include "http_guard.h"
#include "http_listen.h"

#define RESPONSE_MAX (64u << 20) /* a page of 1,000 alerts of 64 KB */
#define MAX_CONNECTIONS 64u
#define MAX_STREAMS 16           /* live feeds: each holds a database connection */
#define KEEPALIVE_MS 15000       /* a comment on an idle live feed, so proxies keep it */

struct fw_console_http {
    struct MHD_Daemon *d;
    fw_store *st;                /* requests' connection, under mu */
    pthread_mutex_t mu;
    char *db_url;
    const char *token;           /* NULL: writes are refused */
    fw_console_engines *engines; /* NULL: none configured */
    atomic_int streams;
    atomic_bool stopping;
};

/* A request: its parsed form and the body read so far. */
typedef struct request {
    fw_api_request api;
    char *body;
    size_t len;
    bool too_large;
} request;

static void common_headers(struct MHD_Response *r) {
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
}

static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned status, fw_buf *b) {
    struct MHD_Response *r;
    if (b->overflow) {
        static const char msg[] = "{\"error\":\"the answer is too large\"}";
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        r = MHD_create_response_from_buffer(sizeof(msg) - 1, (void *)msg,
                                            MHD_RESPMEM_PERSISTENT);
    } else {
        r = MHD_create_response_from_buffer(b->len, b->data, MHD_RESPMEM_MUST_COPY);
    }
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json; charset=utf-8");
    common_headers(r);
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *msg) {
    fw_buf b;
    fw_buf_init(&b, 4096);
    fw_buf_puts(&b, "{\"error\":");
    fw_buf_json_str(&b, fw_str_c(msg));
    fw_buf_putc(&b, '}');
    enum MHD_Result r = send_buf(c, status, &b);
    fw_buf_fini(&b);
    return r;
}

/* A built-in web file. The page's own policy: nothing but its own files runs. */
static enum MHD_Result send_static(struct MHD_Connection *c, const char *body, size_t len,
                                   const char *type) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; script-src 'self'; style-src 'self'; "
                            "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- the live feed ---- */

typedef struct stream {
    fw_console_http *h;
    fw_store *st;
    fw_buf out;      /* events not yet sent */
    size_t sent;     /* of out */
    int64_t idle_ms; /* since the last event or keep-alive */
} stream;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    stream *s = cls;
    char err[512];
    while (s->sent == s->out.len) {
        fw_buf_reset(&s->out);
        s->sent = 0;
        if (atomic_load(&s->h->stopping))
            return MHD_CONTENT_READER_END_OF_STREAM;
        int n = fw_store_wait_alerts(s->st, 1000, &s->out, err, sizeof(err));
        if (n < 0) {
            fprintf(stderr, "fraudwatch console: live feed: %s\n", err);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        s->idle_ms = n ? 0 : s->idle_ms + 1000;
        if (s->idle_ms >= KEEPALIVE_MS) {
            fw_buf_puts(&s->out, ": keep-alive\n\n");
            s->idle_ms = 0;
        }
    }
    size_t n = s->out.len - s->sent < max ? s->out.len - s->sent : max;
    memcpy(buf, s->out.data + s->sent, n);
    s->sent += n;
    return (ssize_t)n;
}

static void stream_free(void *cls) {
    stream *s = cls;
    fw_store_close(s->st);
    fw_buf_fini(&s->out);
    atomic_fetch_sub(&s->h->streams, 1);
    free(s);
}

static enum MHD_Result start_stream(fw_console_http *h, struct MHD_Connection *c) {
    if (atomic_fetch_add(&h->streams, 1) >= MAX_STREAMS) {
        atomic_fetch_sub(&h->streams, 1);
        return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                          "too many live feeds open (16): close one");
    }
    char err[512];
    stream *s = calloc(1, sizeof(*s));
    if (s)
        fw_buf_init(&s->out, 16u << 20);
    if (!s || !(s->st = fw_store_open(h->db_url, false, err, sizeof(err))) ||
        !fw_store_listen(s->st, err, sizeof(err))) {
        if (s) {
            fw_store_close(s->st);
            fw_buf_fini(&s->out);
        }
        free(s);
        atomic_fetch_sub(&h->streams, 1);
        fprintf(stderr, "fraudwatch console: live feed: %s\n", s ? err : "out of memory");
        return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "the database does not answer");
    }
    s->h = h;
    fw_buf_puts(&s->out, ": connected\n\n"); /* the client knows at once it is live */
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, s, stream_free);
    if (!r) {
        stream_free(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    common_headers(r);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- requests ---- */

static unsigned store_status(int rc) {
    return rc == FW_STORE_OK          ? MHD_HTTP_OK
           : rc == FW_STORE_NOT_FOUND ? MHD_HTTP_NOT_FOUND
           : rc == FW_STORE_CONFLICT  ? MHD_HTTP_CONFLICT
                                      : MHD_HTTP_INTERNAL_SERVER_ERROR;
}

/* Runs @p r against the store (under the lock) and answers. */
static enum MHD_Result answer(fw_console_http *h, struct MHD_Connection *c, fw_api_request *r) {
    char err[512] = "";
    fw_buf b;
    fw_buf_init(&b, RESPONSE_MAX);
    int rc = FW_STORE_OK;
    const char *missing = "no such thing";
    pthread_mutex_lock(&h->mu);
    if (!(r->route == FW_API_HEALTH ? fw_store_ping : fw_store_ok)(h->st, err, sizeof(err))) {
        pthread_mutex_unlock(&h->mu);
        fw_buf_fini(&b);
        fprintf(stderr, "fraudwatch console: http: %s\n", err);
        return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "the database does not answer");
    }
    switch (r->route) {
    case FW_API_HEALTH:
        fw_buf_puts(&b, "{\"status\":\"ok\"}");
        break;
    case FW_API_ALERT:
        rc = fw_store_get_alert(h->st, r->id, &b, err, sizeof(err));
        missing = "no alert with that id";
        break;
    case FW_API_ALERTS:
    case FW_API_ENTITY_ALERTS:
        rc = fw_store_list_alerts(h->st, &r->filter, &b, err, sizeof(err)) ? FW_STORE_OK
                                                                           : FW_STORE_ERROR;
        break;
    case FW_API_ALERT_VERDICT:
        rc = fw_store_verdict(h->st, r->id, NULL, r->verdict, r->actor, r->note, &b, err,
                              sizeof(err));
        missing = "no alert with that id";
        break;
    case FW_API_CASES:
        rc = fw_store_list_cases(h->st, &r->cases, &b, err, sizeof(err));
        break;
    case FW_API_CASE:
        rc = fw_store_get_case(h->st, r->id, &b, err, sizeof(err));
        missing = "no case with that id";
        break;
    case FW_API_CASE_UPDATE:
        rc = fw_store_update_case(h->st, r->id, r->status, r->assignee, r->actor, &b, err,
                                  sizeof(err));
        missing = "no case with that id";
        break;
    case FW_API_CASE_NOTE:
        rc = fw_store_add_note(h->st, r->id, r->actor, r->text, &b, err, sizeof(err));
        missing = "no case with that id";
        break;
    case FW_API_CASE_VERDICT:
        rc = fw_store_verdict(h->st, NULL, r->id, r->verdict, r->actor, r->note, &b, err,
                              sizeof(err));
        missing = "no case with that id, or no alerts in it";
        break;
    case FW_API_RULE_COMPARE:
        rc = fw_store_rule_compare(h->st, r->shadow_rule,
                                   r->live_rule ? r->live_rule : r->shadow_rule, r->days,
                                   r->within_minutes, &b, err, sizeof(err));
        break;
    case FW_API_RULE_HEALTH:
        rc = fw_store_rule_health(h->st, r->days, r->silent_days, r->min_precision,
                                  r->min_verdicts, &b, err, sizeof(err));
        break;
    default:
        break;
    }
    bool lost = rc == FW_STORE_ERROR && !fw_store_connected(h->st);
    pthread_mutex_unlock(&h->mu);
    enum MHD_Result ret;
    if (lost) { /* the next request reconnects */
        fprintf(stderr, "fraudwatch console: http: %s\n", err);
        ret = send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "the database does not answer");
    } else if (rc == FW_STORE_OK) {
        ret = send_buf(c, r->route == FW_API_CASE_NOTE ? MHD_HTTP_CREATED : MHD_HTTP_OK, &b);
    } else {
        if (rc == FW_STORE_ERROR)
            fprintf(stderr, "fraudwatch console: http: %s\n", err);
        ret = send_error(c, store_status(rc),
                         rc == FW_STORE_NOT_FOUND ? missing
                         : rc == FW_STORE_CONFLICT ? "the entity already has a case that is "
                                                     "not closed: close that one first"
                                                   : "the database refused the request");
    }
    fw_buf_fini(&b);
    return ret;
}

static enum MHD_Result on_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                              const char *value) {
    (void)kind;
    fw_api_query_arg(cls, key, value);
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    (void)version;
    fw_console_http *h = cls;
    request *req = *con_cls;
    if (!req) { /* the headers: route it, check the token before reading a body */
        if (!(req = calloc(1, sizeof(*req))))
            return MHD_NO;
        *con_cls = req;
        fw_api_route_url(&req->api, method, url);
        return MHD_YES;
    }
    fw_api_request *r = &req->api;
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (!r->write || req->too_large)
            return MHD_YES; /* not read: a GET's body is ignored */
        if (req->len + n > FW_API_BODY_MAX) {
            req->too_large = true;
            return MHD_YES;
        }
        char *b = realloc(req->body, req->len + n);
        if (!b)
            return MHD_NO;
        memcpy(b + req->len, upload_data, n);
        req->body = b;
        req->len += n;
        return MHD_YES;
    }
    const char *file, *type;
    size_t file_len;
    if ((!strcmp(method, "GET") || !strcmp(method, "HEAD")) && strncmp(url, "/api/", 5) &&
        fw_console_static(url, &file, &file_len, &type))
        return send_static(c, file, file_len, type);
    if (r->route == FW_API_NOT_FOUND)
        return send_error(c, MHD_HTTP_NOT_FOUND, "no such path: see docs/api.md");
    if (r->wrong_method)
        return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                          r->write ? "this path takes POST" : "this path takes GET");
    if (r->write) {
        const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                       MHD_HTTP_HEADER_AUTHORIZATION);
        if (!h->token)
            return send_error(c, MHD_HTTP_UNAUTHORIZED,
                              "writes are off: the console runs without CONSOLE_TOKEN");
        if (!fw_http_bearer_ok(auth, h->token))
            return send_error(c, MHD_HTTP_UNAUTHORIZED,
                              "a write needs the header Authorization: Bearer CONSOLE_TOKEN");
        if (req->too_large)
            return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE,
                              "the body is larger than 16384 bytes");
        if (!fw_http_content_type_json(MHD_lookup_connection_value(
                c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE)))
            return send_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                              "the body must be Content-Type: application/json");
        fw_api_body(r, req->body ? req->body : "", req->len);
    } else {
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, on_arg, r);
    }
    if (!r->bad && r->route == FW_API_RULE_COMPARE && !r->shadow_rule)
        return send_error(c, MHD_HTTP_BAD_REQUEST, "shadow: the shadow rule to compare");
    if (r->bad)
        return send_error(c, MHD_HTTP_BAD_REQUEST, r->why);
    if (r->route == FW_API_STREAM)
        return start_stream(h, c);
    if (r->route == FW_API_ENGINES) {
        fw_buf b;
        fw_buf_init(&b, 1u << 20);
        fw_console_engines_json(h->engines, &b);
        enum MHD_Result ret = send_buf(c, MHD_HTTP_OK, &b);
        fw_buf_fini(&b);
        return ret;
    }
    return answer(h, c, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)c;
    (void)toe;
    request *req = *con_cls;
    if (req) {
        free(req->body);
        free(req);
        *con_cls = NULL;
    }
}

fw_console_http *fw_console_http_start(const fw_console_http_conf *conf, int *port,
                                       char *errstr, size_t errstr_size) {
    fw_console_http *h = calloc(1, sizeof(*h));
    if (!h || !(h->db_url = strdup(conf->db_url))) {
        free(h);
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&h->mu, NULL);
    h->token = conf->token && *conf->token ? conf->token : NULL;
    h->engines = conf->engines;
    if (!(h->st = fw_store_open(conf->db_url, false, errstr, errstr_size)))
        goto fail;
    bool v6;
    int fd = fw_http_listen(conf->bind, port, &v6, errstr, errstr_size);
    if (fd < 0)
        goto fail;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
                            MHD_OPTION_EXTERNAL_LOGGER, fw_http_mhd_log,
                            (void *)"fraudwatch console: http", MHD_OPTION_LISTEN_SOCKET, fd,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                            MHD_OPTION_CONNECTION_LIMIT, MAX_CONNECTIONS,
                            MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_END);
    if (!h->d) {
        snprintf(errstr, errstr_size, "cannot start the HTTP server on port %d of %s", *port,
                 conf->bind);
        close(fd);
        goto fail;
    }
    return h;
fail:
    fw_store_close(h->st);
    pthread_mutex_destroy(&h->mu);
    free(h->db_url);
    free(h);
    return NULL;
}

void fw_console_http_stop(fw_console_http *h) {
    if (!h)
        return;
    atomic_store(&h->stopping, true); /* live feeds end within a second */
    MHD_stop_daemon(h->d);
    fw_store_close(h->st);
    pthread_mutex_destroy(&h->mu);
    free(h->db_url);
    free(h);
}
