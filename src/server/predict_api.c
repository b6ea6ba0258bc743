/* predict_api.c — the error and /health bodies of `fraudwatch serve`
 * (predict_api.h); /predict's own are core/predict_wire.c's. */
#include "predict_api.h"

#include <inttypes.h>
#include <stdint.h>

#include "json.h"

bool fw_predict_write_error(fw_buf *out, const char *message) {
    return fw_buf_puts(out, "{\"error\":") && fw_buf_json_str(out, fw_str_c(message)) &&
           fw_buf_putc(out, '}');
}

bool fw_predict_write_health(fw_buf *out, const char *model_id, size_t nfeatures,
                             const uint64_t *refused) {
    bool ok = fw_buf_puts(out, "{\"status\":\"ok\",\"model\":") &&
              fw_buf_json_str(out, fw_str_c(model_id)) &&
              fw_buf_printf(out, ",\"features\":%zu", nfeatures);
    if (refused) {
        ok = ok && fw_buf_puts(out, ",\"refused\":{");
        for (int r = 0; ok && r < FW_REFUSED__COUNT; r++)
            ok = fw_buf_printf(out, "%s\"%s\":%" PRIu64, r ? "," : "",
                               fw_refusal_name((fw_refusal)r), refused[r]);
        ok = ok && fw_buf_putc(out, '}');
    }
    return ok && fw_buf_putc(out, '}');
}
