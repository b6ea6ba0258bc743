/* serve_cmd.c — `fraudwatch serve`: its options, environment and --help.
 * The HTTP service itself is server/serve.c (fw_serve_run); this file only
 * turns the command line into an fw_serve_conf. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "http_guard.h"
#include "http_listen.h"
#include "options.h"
#include "predict_api.h"
#include "serve.h"

static const char serve_usage[] =
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
    "Every option can also be set in the environment (FW_ names; the older names\n"
    "too); a flag wins over the environment.\n";

static const char serve_notes[] =
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
    "Exit status: 0 after SIGINT or SIGTERM; 1 the port cannot be bound or\n"
    "another failure after the start; 2 usage: a bad option, no model, or a\n"
    "model (or --token-file) that cannot be read or loaded.\n";

/* ------------------------------------------------------------ options */

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
    int port, threads, max_connections, max_per_ip, request_timeout_ms;
    size_t max_body, max_batch, max_inflight;
    bool token_flag;     /* --token or --token-file given: the other is refused */
    char token_from[32]; /* who gave the token or its file, for errors */
    char token_buf[FW_HTTP_TOKEN_MAX + 2]; /* --token-file's first line */
} serve_opts;

/* The first line of o->token_file, without its line end, into o->token_buf.
 * Messages never quote the file's content. */
static bool read_token_file(serve_opts *o, char *errstr, size_t errstr_size) {
    const char *path = o->token_file;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(errstr, errstr_size, "%s: cannot open %s: %s", o->token_from, path,
                 strerror(errno));
        return false;
    }
    bool ok = fgets(o->token_buf, sizeof(o->token_buf), f) != NULL;
    fclose(f);
    if (!ok) {
        snprintf(errstr, errstr_size, "%s: %s is empty", o->token_from, path);
        return false;
    }
    size_t n = strcspn(o->token_buf, "\r\n");
    if (n > FW_HTTP_TOKEN_MAX) {
        snprintf(errstr, errstr_size, "%s: the first line of %s is longer than %d characters",
                 o->token_from, path, FW_HTTP_TOKEN_MAX);
        return false;
    }
    o->token_buf[n] = '\0';
    o->token = o->token_buf;
    return true;
}

/* --token and --token-file: the last one given wins over the environment;
 * both on the command line is a mistake. */
static fw_err set_token(void *conf, const char *name, const char *v, char *errstr,
                        size_t errstr_size) {
    serve_opts *o = conf;
    if (name[0] == '-') {
        if (o->token_flag) {
            snprintf(errstr, errstr_size, "give one of --token and --token-file");
            return FW_ERR_INVALID;
        }
        o->token_flag = true;
    }
    bool file = strstr(name, "FILE") || strstr(name, "file");
    o->token = file ? NULL : v;
    o->token_file = file ? v : NULL;
    snprintf(o->token_from, sizeof(o->token_from), "%s", name);
    return FW_OK;
}

static fw_err size_error(const char *name, const char *v, const char *range,
                         char *errstr, size_t errstr_size) {
    snprintf(errstr, errstr_size, "%s: expected a size from 1 byte to %s, got \"%s\"", name,
             range, v);
    return FW_ERR_INVALID;
}

static fw_err set_max_body(void *field, const char *name, const char *v, char *errstr,
                           size_t errstr_size) {
    return parse_size(v, FW_SERVE_MAX_MAX_BODY, field)
               ? FW_OK
               : size_error(name, v, "1g (e.g. 8388608, 512k, 8m)", errstr, errstr_size);
}

static fw_err set_max_inflight(void *field, const char *name, const char *v, char *errstr,
                               size_t errstr_size) {
    return parse_size(v, FW_SERVE_MAX_MAX_INFLIGHT, field)
               ? FW_OK
               : size_error(name, v, "64g (e.g. 67108864, 64m)", errstr, errstr_size);
}

#define OFF(field) offsetof(serve_opts, field)
#define NB FW_OPT_NBSP

/* `serve`'s options. No -b (it is --bootstrap-servers everywhere), no -t (a
 * topic) and no -p (produce's --partitions): --bind, --threads and --port. */
static const fw_opt serve_opts_table[] = {
    { .section = "Options:", .name = "model", .short_flag = 'm', .arg = "FILE",
      .env = { "FW_MODEL", "MODEL_PATH" }, .type = FW_OPT_STRING, .offset = OFF(model),
      .help = "XGBoost JSON model with feature names, from 'fraudwatch train'; required" },
    { .name = "port", .arg = "N", .env = { "FW_SERVE_PORT", "PORT" }, .type = FW_OPT_INT,
      .min = 0, .max = 65535, .offset = OFF(port), .def = "8000",
      .help = "TCP port; 0 picks a free port, shown in the start-up line" },
    { .name = "bind", .arg = "ADDR", .env = { "FW_SERVE_BIND", "FW_BIND" },
      .type = FW_OPT_ADDRESS, .offset = OFF(bind),
      .def = "127.0.0.1," NB "this" NB "host" NB "only",
      .help = "IPv4 or IPv6 address to listen on; --bind" NB "0.0.0.0 or :: opens it to "
              "the network. (-b is not --bind but --bootstrap-servers)" },
    { .name = "threads", .arg = "N", .env = { "FW_SERVE_THREADS" }, .type = FW_OPT_INT,
      .min = 1, .max = FW_SERVE_MAX_THREADS, .offset = OFF(threads), .def = "4",
      .help = "threads serving requests" },
    { .name = "token", .arg = "TOKEN", .env = { "FW_SERVE_TOKEN", "FW_API_TOKEN" },
      .type = FW_OPT_STRING, .set = set_token, .def = "none",
      .help = "/predict requires \"Authorization: Bearer TOKEN\", else 401. Visible in "
              "ps: prefer the environment or --token-file" },
    { .name = "token-file", .arg = "FILE", .env = { "FW_SERVE_TOKEN_FILE" },
      .type = FW_OPT_STRING, .set = set_token, .help = "the token is the first line of FILE" },
    { .name = "max-body", .arg = "BYTES", .env = { "FW_SERVE_MAX_BODY" },
      .type = FW_OPT_STRING, .set = set_max_body, .offset = OFF(max_body),
      .def = "8m = 8388608",
      .help = "largest request body; suffixes k, m, g are powers of 1024; at most 1g. "
              "A larger Content-Length gets 400 before the body is read; a chunked body "
              "is cut off with the connection" },
    { .name = "max-batch", .arg = "N", .env = { "FW_SERVE_MAX_BATCH" }, .type = FW_OPT_SIZE,
      .min = 1, .max = UINT32_MAX, .offset = OFF(max_batch), .def = "100000",
      .help = "most transactions per request" },
    { .name = "max-connections", .arg = "N", .env = { "FW_SERVE_MAX_CONNECTIONS" },
      .type = FW_OPT_INT, .min = 1, .max = FW_SERVE_MAX_CONNECTIONS,
      .offset = OFF(max_connections), .def = "64",
      .help = "open connections served; up to N more get 503 with Retry-After, beyond "
              "that new ones wait in the kernel's queue" },
    { .name = "max-connections-per-ip", .arg = "N",
      .env = { "FW_SERVE_MAX_CONNECTIONS_PER_IP" }, .type = FW_OPT_INT, .min = 0,
      .max = FW_SERVE_MAX_CONNECTIONS, .offset = OFF(max_per_ip), .def = "0 = no limit",
      .help = "connections from one address; more are closed at once" },
    { .name = "max-inflight-bytes", .arg = "BYTES", .env = { "FW_SERVE_MAX_INFLIGHT_BYTES" },
      .type = FW_OPT_STRING, .set = set_max_inflight, .offset = OFF(max_inflight),
      .def = "64m; at least --max-body",
      .help = "request bodies held at once across all connections. A body that would go "
              "over gets 503 with Retry-After before it is read (a chunked one is cut "
              "off)" },
    { .name = "request-timeout-ms", .arg = "N", .env = { "FW_SERVE_REQUEST_TIMEOUT_MS" },
      .type = FW_OPT_INT, .min = 1, .max = 86400000, .offset = OFF(request_timeout_ms),
      .def = "30000",
      .help = "a request must be received, scored and answered within N ms of its "
              "connection's first byte, or of the previous answer on a kept-alive "
              "connection; else the connection is cut off" },
    { .name = "help", .short_flag = 'h', .type = FW_OPT_HELP, .help = "this text" },
};

/* Checks what no single option can. @returns FW_OK or an error in errstr. */
static fw_err check_options(void *conf, char *errstr, size_t errstr_size) {
    serve_opts *o = conf;
    if (!o->model) {
        snprintf(errstr, errstr_size, "no model: give --model FILE (or set FW_MODEL or "
                 "MODEL_PATH)");
        return FW_ERR_INVALID;
    }
    if (o->token_file && !read_token_file(o, errstr, errstr_size))
        return FW_ERR_INVALID;
    char why[160];
    if (o->token && !fw_http_token_valid(o->token, why, sizeof(why))) {
        snprintf(errstr, errstr_size, "%s: %s", o->token_from, why);
        return FW_ERR_INVALID;
    }
    if (o->max_inflight < o->max_body) {
        snprintf(errstr, errstr_size, "--max-inflight-bytes: %zu is smaller than --max-body "
                 "(%zu): a body of that size could never be read; raise it or lower "
                 "--max-body", o->max_inflight, o->max_body);
        return FW_ERR_INVALID;
    }
    return FW_OK;
}

int fw_cmd_serve(int argc, char **argv) {
    serve_opts o = {
        .port = FW_SERVE_DEFAULT_PORT, .bind = FW_SERVE_DEFAULT_BIND,
        .threads = FW_SERVE_DEFAULT_THREADS, .max_body = FW_SERVE_DEFAULT_MAX_BODY,
        .max_batch = FW_PREDICT_DEFAULT_MAX_BATCH, .max_inflight = FW_SERVE_DEFAULT_MAX_INFLIGHT,
        .max_connections = FW_SERVE_DEFAULT_MAX_CONNECTIONS,
        .request_timeout_ms = FW_SERVE_DEFAULT_REQUEST_TIMEOUT_MS,
    };
    static const fw_opts_cmd serve_cmd = {
        .name = "serve", .usage = serve_usage, .notes = serve_notes,
        .opts = serve_opts_table, .nopts = sizeof(serve_opts_table) / sizeof(serve_opts_table[0]),
        .check = check_options,
    };
    int rc = fw_opts_main(&serve_cmd, &o, argc, argv, NULL);
    if (rc >= 0)
        return rc;
    fw_serve_conf conf = {
        .model = o.model, .bind = o.bind, .token = o.token, .port = o.port,
        .threads = o.threads, .max_body = o.max_body, .max_batch = o.max_batch,
        .max_inflight = o.max_inflight, .max_connections = (unsigned)o.max_connections,
        .max_per_ip = (unsigned)o.max_per_ip, .request_timeout_ms = o.request_timeout_ms,
    };
    return fw_serve_run(&conf);
}
