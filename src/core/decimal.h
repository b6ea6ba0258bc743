/* decimal.h — exact money: fixed-point decimals with four places.
 * An fw_dec is an int64_t counting units of 1/10,000, the unit the windows'
 * running totals already use (state.h's fw_units), so a limit written
 * "2000.01" in a rule and an amount written "2000.01" in a record are the
 * same integer and 0.1 + 0.2 is exactly 0.3. Every operation reports
 * overflow instead of wrapping. Pure: no allocation, no locale. */
#ifndef FW_DECIMAL_H
#define FW_DECIMAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "fw_err.h"

typedef int64_t fw_dec;

#define FW_DEC_PLACES 4
#define FW_DEC_SCALE 10000
/* Symmetric range, so negation and abs never overflow: INT64_MIN is unused. */
#define FW_DEC_MAX INT64_MAX
#define FW_DEC_MIN (-INT64_MAX)
/* Longest text fw_dec_format writes, with the NUL: "-922337203685477.5807". */
#define FW_DEC_STR_MAX 24

/**
 * @brief Parses a decimal literal or a JSON number token exactly (a record's
 * amount_raw): optional '-', digits, optional '.' and digits, optional
 * exponent (e/E, sign, digits). A value with more than four places is
 * rounded half-even at the fourth ("0.00005" -> 0.0000, "0.00015" ->
 * 0.0002, "1.23456" -> 1.2346), looking at every digit written.
 * @returns FW_OK; FW_ERR_INVALID when @p s is not such a number;
 *          FW_ERR_LIMIT when its magnitude exceeds FW_DEC_MAX units.
 */
fw_err fw_dec_parse(const char *s, size_t n, fw_dec *out);

/** @brief The decimal nearest a double (half-even on the representable
 *  value, as fw_units_of), false when not finite or out of range. For
 *  fields the decoder keeps only as doubles (lat, lon, profile averages). */
bool fw_dec_of_double(double v, fw_dec *out);

/** @brief An integer as a decimal; false when out of range. */
bool fw_dec_of_int(int64_t v, fw_dec *out);

/** @brief The nearest double (for geometry and messages, never for money). */
static inline double fw_dec_to_double(fw_dec v) { return (double)v / FW_DEC_SCALE; }

/** @brief a + b; false on overflow (out untouched). Exact. */
bool fw_dec_add(fw_dec a, fw_dec b, fw_dec *out);
/** @brief a - b; false on overflow (out untouched). Exact. */
bool fw_dec_sub(fw_dec a, fw_dec b, fw_dec *out);
/** @brief a * b rounded half-even to four places; false on overflow. */
bool fw_dec_mul(fw_dec a, fw_dec b, fw_dec *out);
/** @brief a / b rounded half-even to four places; false when b is 0 or on
 *  overflow. */
bool fw_dec_div(fw_dec a, fw_dec b, fw_dec *out);

/**
 * @brief Writes @p v in its shortest exact form: no exponent, no trailing
 * zeros after the point, no point for an integer ("2000", "0.3", "-1.25").
 * @returns the length, as snprintf does (FW_DEC_STR_MAX bytes always fit).
 */
int fw_dec_format(fw_dec v, char *out, size_t size);

#endif
