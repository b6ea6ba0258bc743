/* console_http.c — the console's HTTP server (console_http.h). */
#include "console_http.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alert_store.h"
#include "console_api.h"
#include "console_static.h"
#include "http_listen.h"

#define RESPONSE_MAX (64u << 20) /* a page of 1,000 alerts of 64 KB */

struct fw_console_http {
    struct MHD_Daemon *d;
    fw_store *st;
};

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
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
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
    (void)upload_data;
    fw_console_http *h = cls;
    if (!*con_cls) { /* headers only: answer on the next call, with the body read */
        *con_cls = (void *)1;
        return MHD_YES;
    }
    if (*upload_data_size) { /* the API reads no bodies yet: ignored */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET is served");
    const char *file, *type;
    size_t file_len;
    if (strncmp(url, "/api/", 5) && fw_console_static(url, &file, &file_len, &type))
        return send_static(c, file, file_len, type);
    fw_api_request *r = malloc(sizeof(*r));
    if (!r)
        return MHD_NO;
    fw_api_route_url(r, url);
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, on_arg, r);
    enum MHD_Result ret;
    char err[512];
    fw_buf b;
    fw_buf_init(&b, RESPONSE_MAX);
    if (r->route == FW_API_NOT_FOUND) {
        ret = send_error(c, MHD_HTTP_NOT_FOUND,
                         "no such path: see GET /api/alerts, /api/alerts/ID, "
                         "/api/entities/TYPE/ID/alerts, /health");
    } else if (r->bad) {
        ret = send_error(c, MHD_HTTP_BAD_REQUEST, r->why);
    } else if (!fw_store_ok(h->st, err, sizeof(err))) {
        fprintf(stderr, "fraudwatch console: http: %s\n", err);
        ret = send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "the database does not answer");
    } else if (r->route == FW_API_HEALTH) {
        fw_buf_puts(&b, "{\"status\":\"ok\"}");
        ret = send_buf(c, MHD_HTTP_OK, &b);
    } else if (r->route == FW_API_ALERT) {
        int found = fw_store_get_alert(h->st, r->id, &b, err, sizeof(err));
        ret = found == 0   ? send_buf(c, MHD_HTTP_OK, &b)
              : found == 1 ? send_error(c, MHD_HTTP_NOT_FOUND, "no alert with that id")
                           : send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, err);
    } else if (fw_store_list_alerts(h->st, &r->filter, &b, err, sizeof(err))) {
        ret = send_buf(c, MHD_HTTP_OK, &b);
    } else {
        fprintf(stderr, "fraudwatch console: http: %s\n", err);
        ret = send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, err);
    }
    fw_buf_fini(&b);
    free(r);
    return ret;
}

fw_console_http *fw_console_http_start(const char *bind_addr, int *port, const char *db_url,
                                       char *errstr, size_t errstr_size) {
    fw_console_http *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    if (!(h->st = fw_store_open(db_url, false, errstr, errstr_size))) {
        free(h);
        return NULL;
    }
    bool v6;
    int fd = fw_http_listen(bind_addr, port, &v6, errstr, errstr_size);
    if (fd < 0) {
        fw_store_close(h->st);
        free(h);
        return NULL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
                            MHD_OPTION_EXTERNAL_LOGGER, fw_http_mhd_log,
                            (void *)"fraudwatch console: http", MHD_OPTION_LISTEN_SOCKET, fd,
                            MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_CONNECTION_TIMEOUT,
                            30u, MHD_OPTION_END);
    if (!h->d) {
        snprintf(errstr, errstr_size, "cannot start the HTTP server on port %d of %s", *port,
                 bind_addr);
        close(fd);
        fw_store_close(h->st);
        free(h);
        return NULL;
    }
    return h;
}

void fw_console_http_stop(fw_console_http *h) {
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    fw_store_close(h->st);
    free(h);
}
