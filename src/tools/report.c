/* report.c — the output of eval and train (report.h). */
#include "report.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include "fw_os.h"

#define PROGRESS_EVERY 65536      /* records between looks at the clock */

const char *fw_count_str(uint64_t v, char *out, size_t size) {
    char digits[32];
    int n = snprintf(digits, sizeof(digits), "%" PRIu64, v);
    size_t k = 0;
    for (int i = 0; i < n && k + 2 < size; i++) {
        if (i && (n - i) % 3 == 0)
            out[k++] = ',';
        out[k++] = digits[i];
    }
    out[k] = '\0';
    return out;
}

const char *fw_pct_str(double v, char *out, size_t size) {
    if (isnan(v))
        snprintf(out, size, "-");
    else if (v < 1 && v > 0.9995)
        snprintf(out, size, ">99.9%%");
    else
        snprintf(out, size, "%.1f%%", 100 * v);
    return out;
}

void fw_progress_init(fw_progress *pr) { pr->shown = fw_mono_s(); }

bool fw_progress_due(fw_progress *pr, uint64_t n) {
    if (n % PROGRESS_EVERY || fw_mono_s() - pr->shown < 1.0)
        return false;
    pr->shown = fw_mono_s();
    return true;
}

void fw_json_num(fw_buf *b, double v) {
    if (isfinite(v))
        fw_buf_json_double(b, v);
    else
        fw_buf_puts(b, "null");
}
