/* report.h — the output of eval and train: number formats of their tables
 * and JSON documents, and the pace of their progress lines. */
#ifndef FW_REPORT_H
#define FW_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fw_str.h"

/** @brief 1234567 → "1,234,567". @returns @p out. */
const char *fw_count_str(uint64_t v, char *out, size_t size);

/** @brief A share as "97.3%", "-" for NaN, ">99.9%" just below 1 (never a
 *  rounded 100% for an imperfect figure). @returns @p out. */
const char *fw_pct_str(double v, char *out, size_t size);

/** @brief Appends @p v as a JSON number, or null when it is NaN or infinite
 *  (an undefined figure, such as precision without alerts). */
void fw_json_num(fw_buf *b, double v);

/** Progress lines on stderr at about one a second, however fast the records go. */
typedef struct fw_progress {
    double shown;             /* fw_mono_s() of the last line, or of the start */
} fw_progress;

void fw_progress_init(fw_progress *pr);

/** @brief Whether to print a progress line after @p n records (or lines). The
 *  clock is read only at every 65,536th, so a call per record is cheap. */
bool fw_progress_due(fw_progress *pr, uint64_t n);

#endif
