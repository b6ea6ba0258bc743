/* http_listen.h — the listening socket of fraudwatch's HTTP servers (serve's
 * /predict, run's /metrics). We open it ourselves rather than let
 * libmicrohttpd do it, so a failure names the port, the address and the step,
 * and port 0 reports the port the kernel chose. */
#ifndef FW_HTTP_LISTEN_H
#define FW_HTTP_LISTEN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/** @brief True when @p addr is an IPv4 or IPv6 literal ("0.0.0.0", "::1"). */
bool fw_http_addr_valid(const char *addr);

/**
 * @brief A listening TCP socket (close-on-exec) on @p bind_addr, port *@p port.
 * @param port   in: the port (0: any); out: the port bound.
 * @param v6     out: the address is IPv6 (libmicrohttpd's MHD_USE_IPv6).
 * @returns the descriptor, or -1 with @p errstr saying "cannot listen on port
 *          P of A (bind): <why>" (or that @p bind_addr is not an address).
 */
int fw_http_listen(const char *bind_addr, int *port, bool *v6, char *errstr,
                   size_t errstr_size);

/** @brief libmicrohttpd's external logger: one line on stderr, prefixed with
 *  the string @p cls ("serve: http", "fraudwatch: metrics: http"). */
void fw_http_mhd_log(void *cls, const char *fmt, va_list ap);

#endif
