/* console_http.h — the console's HTTP server (libmicrohttpd): the web page
 * (console_static.h) and the JSON API of console_api.h (docs/api.md). */
#ifndef FW_CONSOLE_HTTP_H
#define FW_CONSOLE_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "console_engines.h"

typedef struct fw_console_http_conf {
    const char *bind;               /* an IPv4 or IPv6 literal */
    const char *db_url;             /* requests and live feeds connect here */
    const char *token;              /* CONSOLE_TOKEN: writes need it; NULL or "": refused */
    fw_console_engines *engines;    /* the engines' /metrics, or NULL */
} fw_console_http_conf;

typedef struct fw_console_http fw_console_http;

/**
 * @brief Listens on @p conf's address, port *@p port (0: any; the bound port
 * is written back).
 * @returns the server, or NULL with @p errstr.
 */
fw_console_http *fw_console_http_start(const fw_console_http_conf *conf, int *port,
                                       char *errstr, size_t errstr_size);
void fw_console_http_stop(fw_console_http *h);

#endif
