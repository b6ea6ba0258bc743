/* fw_err.h — the one error enum of fraudwatch and its descriptions.
 * Functions that can fail return fw_err and, where a caller needs detail,
 * fill a caller-owned `char *errstr, size_t errstr_size` naming the field. */
#ifndef FW_ERR_H
#define FW_ERR_H

typedef enum fw_err {
    FW_OK = 0,
    FW_ERR_INVALID,      /**< bad input: record, rule, option */
    FW_ERR_NOMEM,        /**< allocation failed */
    FW_ERR_LIMIT,        /**< a configured maximum was reached */
    FW_ERR_IO,           /**< file or socket error */
    FW_ERR_KAFKA,        /**< Kafka client or broker error */
    FW_ERR_NOT_FOUND,    /**< lookup found nothing */
    FW_ERR__COUNT
} fw_err;

/** @brief Short English description of @p err (static string). */
const char *fw_err2str(fw_err err);

#endif
