/* rules_file.h — rules files: the JSON form of fw_rules (rules.h) that
 * `--rules FILE`, `fraudwatch rules` and later the control topic use. Parsing
 * is strict and all-or-nothing: a file with one mistake changes nothing and
 * the error names the exact path, e.g. "rules[2].params.window: ...".
 * The format is documented for users in docs/rules.md. */
#ifndef FW_RULES_FILE_H
#define FW_RULES_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fw_err.h"
#include "fw_str.h"
#include "rules.h"

/** Largest rules document accepted (bytes); real files are a few KiB. */
#define FW_RULES_MAX_BYTES ((size_t)1 << 20)
/** Longest duration a rule or the time section accepts: 30 days. */
#define FW_RULES_MAX_DURATION_MS (30LL * 24 * 3600 * 1000)
/** Sliding windows: each event falls in window / slide windows; more than
 *  this many overlapping windows is refused as a likely mistake. */
#define FW_RULES_MAX_WINDOWS_PER_EVENT 1000

/**
 * @brief Applies the JSON rules document @p json (@p n bytes, need not be
 * NUL-terminated) on top of what is already in @p r (pass the defaults, or the
 * rule set in force). Only what the document gives changes.
 *
 * All-or-nothing: the document is applied to a copy, and @p r is written only
 * when the whole document and the resulting rule set are valid. The copy is
 * validated as a whole at the end (fw_rules_validate), so the result is always
 * a valid rule set.
 *
 * @param errstr on failure: the path of the fault, what was expected, what
 *        was found and where, e.g. `rules[2].params.window: expected a duration
 *        like "30m" or milliseconds, got "30 minutes" (line 7, column 19)`.
 * @returns FW_OK; FW_ERR_INVALID for invalid JSON or an invalid rule set;
 *          FW_ERR_LIMIT for a document above FW_RULES_MAX_BYTES;
 *          FW_ERR_NOMEM when the parse arena cannot be allocated.
 */
fw_err fw_rules_parse_json(fw_rules *r, const char *json, size_t n, char *errstr,
                           size_t errstr_size);

/**
 * @brief Reads the file at @p path (at most FW_RULES_MAX_BYTES) and applies it
 * to @p r as fw_rules_parse_json does. Messages start with the path:
 * "rules.json: rules[0].id: unknown rule ...", "x.json: cannot open: ...".
 * @returns as fw_rules_parse_json, or FW_ERR_IO when the file cannot be read.
 */
fw_err fw_rules_load_file(fw_rules *r, const char *path, char *errstr, size_t errstr_size);

/**
 * @brief Appends the complete rule set @p r to @p out in the input format,
 * pretty-printed with 2-space indentation and a final newline: every section,
 * every rule, every parameter; durations as "30m", "24h", "10s" (see
 * fw_rules_duration_format). For a valid rule set, fw_rules_parse_json of the
 * output over any starting set gives back a memcmp-identical fw_rules.
 * @returns false when @p out is full or a value cannot be written (a
 *          non-finite amount, an unknown severity).
 */
bool fw_rules_write_json(const fw_rules *r, fw_buf *out);

/**
 * @brief Checks every value of @p r against the ranges a rules file must obey
 * (the same ranges fw_rules_parse_json enforces), for rule sets built in code.
 * @param errstr on failure, e.g. "velocity.slide: 7m does not divide the
 *        window 30m"; paths use rule names, not file positions.
 * @returns FW_OK or FW_ERR_INVALID.
 */
fw_err fw_rules_validate(const fw_rules *r, char *errstr, size_t errstr_size);

/** @brief True when rule @p id has the same parameters in @p a and @p b
 *  (enabled, shadow, severity and version are not compared). */
bool fw_rules_params_equal(const fw_rules *a, const fw_rules *b, fw_rule_id id);

/** @brief True when rule @p id is configured identically in @p a and @p b:
 *  parameters, enabled, shadow, severity and version. */
bool fw_rules_rule_equal(const fw_rules *a, const fw_rules *b, fw_rule_id id);

/** @brief Appends rule @p id of @p r as one entry of a rules file's "rules"
 *  array (pretty-printed, final newline): the value of a rules-topic record.
 *  @returns false when @p out is full or the rule cannot be written. */
bool fw_rules_write_rule_json(const fw_rules *r, fw_rule_id id, fw_buf *out);

/** @brief Copies rule @p id (enabled, shadow, severity, version, parameters)
 *  from @p src to @p dst; nothing else of @p dst changes. */
void fw_rules_copy_rule(fw_rules *dst, const fw_rules *src, fw_rule_id id);

/**
 * @brief Describes how rule @p id differs from @p a to @p b, for logs and
 * `rules diff`: "min_count 3 → 4, window 30m → 20m" (enabled, shadow,
 * severity and every parameter; the version is not listed). Always
 * NUL-terminated when @p size > 0; truncated to fit.
 * @returns the number of differences (0: identical but for the version).
 */
int fw_rules_describe_change(const fw_rules *a, const fw_rules *b, fw_rule_id id, char *out,
                             size_t size);

/**
 * @brief Parses a duration: integer+unit groups with units d, h, m, s, ms,
 * largest first, each unit at most once: "500ms", "10s", "30m", "24h", "1d",
 * "1h30m", "0s". No sign, no spaces, no fractions, no bare number (a bare
 * number in a rules file is a JSON integer of milliseconds, not a string).
 * @returns FW_OK and *ms; FW_ERR_INVALID when malformed; FW_ERR_LIMIT when
 *          the value does not fit in an int64_t of milliseconds.
 */
fw_err fw_rules_duration_parse(const char *s, size_t n, int64_t *ms);

/**
 * @brief Writes @p ms (>= 0) with the largest of the units h, m, s, ms that
 * divides it exactly: 1800000 -> "30m", 86400000 -> "24h", 1500 -> "1500ms",
 * 0 -> "0s". Days are read but not written, so a window reads as the hours
 * operators usually quote ("24h", not "1d"). Negative values are written as
 * "-5s" though no parser accepts them.
 * @returns the length, as snprintf does.
 */
int fw_rules_duration_format(int64_t ms, char *out, size_t size);

#endif
