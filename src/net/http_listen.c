/* http_listen.c — see http_listen.h. */
#include "http_listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static bool parse_addr(const char *s, int port, struct sockaddr_storage *ss, socklen_t *len) {
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *len = sizeof(*a4);
        return true;
    }
    if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*a6);
        return true;
    }
    return false;
}

bool fw_http_addr_valid(const char *addr) {
    struct sockaddr_storage ss;
    socklen_t len;
    return addr && parse_addr(addr, 0, &ss, &len);
}

int fw_http_listen(const char *bind_addr, int *port, bool *v6, char *errstr,
                   size_t errstr_size) {
    struct sockaddr_storage ss;
    socklen_t len;
    if (!bind_addr || !parse_addr(bind_addr, *port, &ss, &len)) {
        snprintf(errstr, errstr_size, "\"%s\" is not an IPv4 or IPv6 address",
                 bind_addr ? bind_addr : "");
        return -1;
    }
    *v6 = ss.ss_family == AF_INET6;
    const char *step = "socket";
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        step = "bind";
        if (bind(fd, (struct sockaddr *)&ss, len) == 0) {
            step = "listen";
            if (listen(fd, SOMAXCONN) == 0) {
                len = sizeof(ss);
                step = "getsockname";
                if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
                    *port = ntohs(*v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                      : ((struct sockaddr_in *)&ss)->sin_port);
                    return fd;
                }
            }
        }
    }
    int e = errno;
    snprintf(errstr, errstr_size, "cannot listen on port %d of %s (%s): %s", *port, bind_addr,
             step, strerror(e));
    if (fd >= 0)
        close(fd);
    return -1;
}

void fw_http_mhd_log(void *cls, const char *fmt, va_list ap) {
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    fprintf(stderr, "%s: %s\n", (const char *)cls, msg);
}
