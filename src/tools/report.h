/* report.h — number formats of the human tables of eval and train. */
#ifndef FW_REPORT_H
#define FW_REPORT_H

#include <stddef.h>
#include <stdint.h>

/** @brief 1234567 → "1,234,567". @returns @p out. */
const char *fw_count_str(uint64_t v, char *out, size_t size);

/** @brief A share as "97.3%", "-" for NaN, ">99.9%" just below 1 (never a
 *  rounded 100% for an imperfect figure). @returns @p out. */
const char *fw_pct_str(double v, char *out, size_t size);

#endif
