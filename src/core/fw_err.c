/* fw_err.c — descriptions of fw_err values. */
#include "fw_err.h"

const char *fw_err2str(fw_err err) {
    static const char *const names[FW_ERR__COUNT] = {
        [FW_OK] = "success",
        [FW_ERR_INVALID] = "invalid input",
        [FW_ERR_NOMEM] = "out of memory",
        [FW_ERR_LIMIT] = "limit reached",
        [FW_ERR_IO] = "I/O error",
        [FW_ERR_KAFKA] = "Kafka error",
        [FW_ERR_NOT_FOUND] = "not found",
    };
    if ((unsigned)err >= FW_ERR__COUNT)
        return "unknown error";
    return names[err];
}
