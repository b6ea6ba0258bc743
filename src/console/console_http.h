/* console_http.h — the console's HTTP server (libmicrohttpd): the JSON API
 * of console_api.h read from its own database connection, on one internal
 * thread, so requests are answered one at a time. */
#ifndef FW_CONSOLE_HTTP_H
#define FW_CONSOLE_HTTP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct fw_console_http fw_console_http;

/**
 * @brief Listens on @p bind_addr, port *@p port (0: any; the bound port is
 * written back), answering from a new connection to @p db_url.
 * @returns the server, or NULL with @p errstr.
 */
fw_console_http *fw_console_http_start(const char *bind_addr, int *port, const char *db_url,
                                       char *errstr, size_t errstr_size);
void fw_console_http_stop(fw_console_http *h);

#endif
