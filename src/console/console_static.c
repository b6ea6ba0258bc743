/* console_static.c — the built-in web files (console_static.h): the table
 * cmake/embed_web.cmake writes from web/ at build time. */
#include "console_static.h"

#include <string.h>

/* As the generated file declares it (cmake/embed_web.cmake). */
typedef struct fw_web_file {
    const char *path, *body; /* path from web/, with a leading '/' */
    size_t len;
    const char *type;
} fw_web_file;

extern const fw_web_file fw_web_files[];
extern const size_t fw_nweb_files;

bool fw_console_static(const char *url, const char **body, size_t *len,
                       const char **content_type) {
    if (!url || url[0] != '/' || strstr(url, ".."))
        return false;
    if (!strcmp(url, "/"))
        url = "/index.html"; /* the page; its views are hash routes, never paths */
    for (size_t i = 0; i < fw_nweb_files; i++) {
        if (!strcmp(url, fw_web_files[i].path)) {
            *body = fw_web_files[i].body;
            *len = fw_web_files[i].len;
            *content_type = fw_web_files[i].type;
            return true;
        }
    }
    return false;
}
