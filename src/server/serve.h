/* serve.h — the HTTP service of `fraudwatch serve`: seed 000's /predict API
 * over a trained model. The command (tools/serve_cmd.c) parses options into
 * an fw_serve_conf; this layer serves it until SIGINT or SIGTERM. The
 * defaults and limits are here so the command's checks and help agree with
 * what the service was built for. */
#ifndef FW_SERVE_H
#define FW_SERVE_H

#include <stddef.h>
#include <stdint.h>

#define FW_SERVE_DEFAULT_PORT 8000 /* seed 000's API port */
#define FW_SERVE_DEFAULT_BIND "127.0.0.1" /* open it with --bind 0.0.0.0 */
#define FW_SERVE_DEFAULT_THREADS 4
#define FW_SERVE_MAX_THREADS 1024
#define FW_SERVE_DEFAULT_MAX_BODY ((size_t)8 << 20)
#define FW_SERVE_MAX_MAX_BODY ((size_t)1 << 30) /* parsing takes up to ~50 bytes of arena per body byte */
#define FW_SERVE_MAX_MAX_INFLIGHT ((size_t)64 << 30)
#define FW_SERVE_DEFAULT_MAX_INFLIGHT ((size_t)64 << 20)
#define FW_SERVE_DEFAULT_MAX_CONNECTIONS 64
#define FW_SERVE_MAX_CONNECTIONS 100000
#define FW_SERVE_DEFAULT_REQUEST_TIMEOUT_MS 30000

/** What to serve and how; every field already checked by the caller. */
typedef struct fw_serve_conf {
    const char *model;          /* model file, reloaded when it changes */
    const char *bind;           /* IPv4 or IPv6 literal */
    const char *token;          /* NULL: /predict is open (never printed) */
    int port;                   /* 0: any free port, shown in the start-up line */
    int threads;                /* libmicrohttpd's pool */
    size_t max_body, max_batch, max_inflight;
    unsigned max_connections;   /* served; as many more get 503 */
    unsigned max_per_ip;        /* 0: no limit */
    int64_t request_timeout_ms; /* receive, score and answer within it */
} fw_serve_conf;

/**
 * @brief Serves @p conf until SIGINT or SIGTERM (SIGHUP reloads the model);
 * the three signals are blocked in the calling thread meanwhile and restored
 * on return. Progress and errors go to stderr.
 * @returns the exit status: 0 after a stopping signal, 2 when the model
 *          cannot be loaded (a usage error: the file --model names), 1 when
 *          the port cannot be bound.
 */
int fw_serve_run(const fw_serve_conf *conf);

#endif
