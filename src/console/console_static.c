/* console_static.c — the built-in web files (console_static.h). Until the
 * page exists nothing is built in. */
#include "console_static.h"

bool fw_console_static(const char *url, const char **body, size_t *len,
                       const char **content_type) {
    (void)url;
    (void)body;
    (void)len;
    (void)content_type;
    return false;
}
