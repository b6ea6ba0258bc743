/* serve_cmd.c — `fraudwatch serve`: its options, environment and --help.
 * The HTTP service itself is server/serve.c (fw_serve_run); this file only
 * turns the command line into an fw_serve_conf. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "http_guard.h"
#include "http_listen.h"
#include "predict_api.h"
#include "serve.h"

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
    o->threads = FW_SERVE_DEFAULT_THREADS;
    o->max_body = FW_SERVE_DEFAULT_MAX_BODY;
    o->max_batch = FW_PREDICT_DEFAULT_MAX_BATCH;
    o->max_inflight = FW_SERVE_DEFAULT_MAX_INFLIGHT;
    o->max_connections = FW_SERVE_DEFAULT_MAX_CONNECTIONS;
    o->request_timeout_ms = FW_SERVE_DEFAULT_REQUEST_TIMEOUT_MS;
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
            if (!parse_uint(optarg, 1, FW_SERVE_MAX_THREADS, &v)) {
                fprintf(stderr, "serve: --threads: \"%s\" is not a number from 1 to %d\n",
                        optarg, FW_SERVE_MAX_THREADS);
                return 2;
            }
            o->threads = (int)v;
            break;
        case OPT_MAX_BODY:
            if (!parse_size(optarg, FW_SERVE_MAX_MAX_BODY, &o->max_body)) {
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
            if (!parse_uint(optarg, 1, FW_SERVE_MAX_CONNECTIONS, &v)) {
                fprintf(stderr, "serve: --max-connections: \"%s\" is not a number from 1 to "
                        "%d\n", optarg, FW_SERVE_MAX_CONNECTIONS);
                return 2;
            }
            o->max_connections = (unsigned)v;
            break;
        case OPT_MAX_PER_IP:
            if (!parse_uint(optarg, 0, FW_SERVE_MAX_CONNECTIONS, &v)) {
                fprintf(stderr, "serve: --max-connections-per-ip: \"%s\" is not a number "
                        "from 0 to %d\n", optarg, FW_SERVE_MAX_CONNECTIONS);
                return 2;
            }
            o->max_per_ip = (unsigned)v;
            break;
        case OPT_MAX_INFLIGHT:
            if (!parse_size(optarg, FW_SERVE_MAX_MAX_INFLIGHT, &o->max_inflight)) {
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
        o->port = env && *env ? (int)v : FW_SERVE_DEFAULT_PORT;
    }
    if (!o->bind) {
        const char *env = getenv("FW_BIND");
        if (env && *env && !fw_http_addr_valid(env)) {
            fprintf(stderr, "serve: FW_BIND=\"%s\" is not an IPv4 or IPv6 address\n", env);
            return 2;
        }
        o->bind = env && *env ? env : FW_SERVE_DEFAULT_BIND;
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

int fw_cmd_serve(int argc, char **argv) {
    serve_opts o;
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0)
        return rc;

    fw_serve_conf conf = {
        .model = o.model, .bind = o.bind, .token = o.token, .port = o.port,
        .threads = o.threads, .max_body = o.max_body, .max_batch = o.max_batch,
        .max_inflight = o.max_inflight, .max_connections = o.max_connections,
        .max_per_ip = o.max_per_ip, .request_timeout_ms = o.request_timeout_ms,
    };
    return fw_serve_run(&conf);
}
