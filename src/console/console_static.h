/* console_static.h — the console's web page: HTML, CSS and JavaScript under
 * web/, built into the binary at build time and served as they are. */
#ifndef FW_CONSOLE_STATIC_H
#define FW_CONSOLE_STATIC_H

#include <stdbool.h>
#include <stddef.h>

/**
 * @brief The built-in file for the request path @p url ("/" is the page
 * itself), with its Content-Type.
 * @returns false when no built-in file has that path.
 */
bool fw_console_static(const char *url, const char **body, size_t *len,
                       const char **content_type);

#endif
