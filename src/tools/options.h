/* options.h — option values parsed the same way by more than one subcommand,
 * so that a flag both accept takes the same values and fails with the same
 * words. */
#ifndef FW_OPTIONS_H
#define FW_OPTIONS_H

#include <stddef.h>

#include "fw_err.h"

/** @brief A probability from 0 to 1 (--fraud-threshold). On a bad value the
 *  error names @p what and quotes @p s.
 *  @returns FW_OK, or FW_ERR_INVALID with @p errstr filled. */
fw_err fw_opt_parse_probability(const char *what, const char *s, double *out, char *errstr,
                                size_t errstr_size);

#endif
