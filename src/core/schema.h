/* schema.h — another team's spelling of a transaction: which of their fields
 * (a name or a dotted path into nested objects) holds each of ours, how their
 * timestamps are written, and how their type and channel values map to ours.
 * A mapping document is parsed once and compiled into a small key tree the
 * JSON decoder (txn.c) walks while it scans a record, so mapped decoding
 * stays zero-copy and allocates nothing per record. docs/schema.md. */
#ifndef FW_SCHEMA_H
#define FW_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "fw_err.h"
#include "fw_str.h"
#include "json.h"

#define FW_SCHEMA_MAX_KEYS 256     /* keys of the compiled tree, all levels */
#define FW_SCHEMA_MAX_DEPTH 8      /* segments in one dotted path */
#define FW_SCHEMA_MAX_VALUES 64    /* entries of one value map */
#define FW_SCHEMA_PATTERN_MAX 64   /* a strptime-style timestamp pattern */

typedef enum fw_ts_format {
    FW_TS_DEFAULT = 0, /* ISO-8601 strings; integers are epoch ms from 2001 on */
    FW_TS_ISO8601,     /* ISO-8601 strings only */
    FW_TS_EPOCH_S,     /* numbers or digit strings; seconds may have a fraction */
    FW_TS_EPOCH_MS,
    FW_TS_EPOCH_US,
    FW_TS_PATTERN,     /* local time by pattern, in the zone the mapping gives */
} fw_ts_format;

/** One key of the compiled tree: a name at one object level. */
typedef struct fw_schema_key {
    fw_str name;         /* their key (owned by the schema) */
    int16_t field;       /* our field index (fw_txn_field_name), or -1 */
    int16_t child;       /* first key one level down (the value is an object), or -1 */
    int16_t next;        /* next key at the same level, or -1 */
} fw_schema_key;

/** One entry of a value map: their spelling -> ours. */
typedef struct fw_schema_value {
    fw_str from;
    fw_str to;
} fw_schema_value;

/** A compiled mapping. Read-only once built; shared by every pipeline. */
typedef struct fw_schema {
    fw_schema_key keys[FW_SCHEMA_MAX_KEYS];
    int nkeys;                       /* keys[0] starts the record level, if nkeys > 0 */
    uint64_t mapped;                 /* bit f: our field f has a source; its own name
                                        then no longer counts (it may be theirs for
                                        something else) */
    const char *source[64];          /* bit f of mapped: the path as written, for
                                        messages */
    fw_ts_format ts_format;
    int64_t ts_zone_ms;              /* FW_TS_PATTERN: offset of the assumed zone */
    char ts_pattern[FW_SCHEMA_PATTERN_MAX];
    fw_schema_value type_map[FW_SCHEMA_MAX_VALUES];
    int ntype_map;
    fw_schema_value channel_map[FW_SCHEMA_MAX_VALUES];
    int nchannel_map;
    char *text;                      /* storage of every string above */
    size_t text_used, text_cap;
} fw_schema;

/**
 * @brief Compiles a mapping document:
 * `{"fields": {"transaction_id": "txn_id", "amount": "payment.amount", ...},
 *   "timestamp": {"format": "epoch_s", "zone": "+01:00"},
 *   "values": {"type": {"buy": "PURCHASE"}, "channel": {"web": "online"}}}`.
 * @param errstr on failure names the key and the value ("fields.amount: ...").
 * @returns a schema for fw_schema_destroy, or NULL.
 */
fw_schema *fw_schema_from_json(const fw_json *doc, char *errstr, size_t errstr_size);

/** @brief fw_schema_from_json on a document of @p n bytes. */
fw_schema *fw_schema_parse(const char *p, size_t n, char *errstr, size_t errstr_size);

/** @brief Reads and compiles a mapping file; errors start with its path. */
fw_schema *fw_schema_load_file(const char *path, char *errstr, size_t errstr_size);

/** @brief The `schema` section of a rules file (docs/rules.md), compiled.
 *  @returns NULL with *present false when the file has none; NULL with
 *  *present true and @p errstr set when it is invalid. */
fw_schema *fw_schema_load_rules_file(const char *path, bool *present, char *errstr,
                                     size_t errstr_size);

void fw_schema_destroy(fw_schema *s);

/** @brief The key named @p k among the keys starting at @p first at one
 *  level (first = 0 for the record), or NULL. */
static inline const fw_schema_key *fw_schema_find(const fw_schema *s, int first,
                                                  const char *k, size_t n) {
    for (int i = first; i >= 0 && i < s->nkeys; i = s->keys[i].next)
        if (s->keys[i].name.len == n && memcmp(s->keys[i].name.ptr, k, n) == 0)
            return &s->keys[i];
    return NULL;
}

/** @brief The mapped value for @p v in a value map, or NULL. */
const fw_str *fw_schema_map_value(const fw_schema_value *map, int n, const char *v,
                                  size_t len);

/**
 * @brief Parses @p s by a pattern of %Y %m %d %H %M %S %f (fraction, 1-9
 * digits), %% and literal characters, as a local time @p zone_ms east of UTC.
 * No locale, no names. @returns FW_OK or FW_ERR_INVALID.
 */
fw_err fw_schema_parse_pattern(const char *pattern, const char *s, size_t n, int64_t zone_ms,
                               int64_t *ms);

/** @brief Name of a timestamp format as a mapping writes it ("epoch_s"). */
const char *fw_ts_format_name(fw_ts_format f);

#endif
