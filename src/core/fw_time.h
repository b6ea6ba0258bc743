/* fw_time.h — event-time parsing and formatting. Pure functions: the core
 * never reads a clock; every timestamp is epoch milliseconds UTC. */
#ifndef FW_TIME_H
#define FW_TIME_H

#include <stddef.h>
#include <stdint.h>
#include "fw_err.h"

/** @brief Parses ISO-8601 with a zone ("2024-01-15T10:30:00Z",
 *  "2024-01-15 10:30:00.123+01:00", "...-0500") into epoch ms.
 *  A timestamp without a zone is rejected: its instant is ambiguous.
 *  @returns FW_OK or FW_ERR_INVALID. */
fw_err fw_time_parse_iso8601(const char *s, size_t n, int64_t *ms);

/** @brief Parses seed 003's "Sunday, 23-Jul-17 01:06:47 UTC" (RFC 850;
 *  two-digit years are 19xx from 70, else 20xx). */
fw_err fw_time_parse_rfc850(const char *s, size_t n, int64_t *ms);

/** @brief Parses an ISO-8601 string, an RFC 850 string or epoch-ms digits. */
fw_err fw_time_parse_any(const char *s, size_t n, int64_t *ms);

/** @brief Formats epoch ms as "2024-01-15T10:30:00.000Z" (NUL-terminated). */
void fw_time_format(int64_t ms, char out[32]);

/** @brief Writes a span for people, rounded down to its largest unit:
 *  "7975 years", "3 days", "5 hours", "12 minutes", "30 seconds", "500 ms". */
void fw_time_span_format(int64_t ms, char *out, size_t size);

/** @brief Days since 1970-01-01 of a proleptic Gregorian date. */
int64_t fw_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
