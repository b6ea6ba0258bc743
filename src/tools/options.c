/* options.c — option values shared by the subcommands (options.h). */
#include "options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

fw_err fw_opt_parse_probability(const char *what, const char *s, double *out, char *errstr,
                                size_t errstr_size) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0 && v <= 1)) {
        snprintf(errstr, errstr_size, "%s: expected a probability from 0 to 1, got \"%s\"",
                 what, s);
        return FW_ERR_INVALID;
    }
    *out = v;
    return FW_OK;
}
