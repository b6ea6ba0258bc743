/* txn.h — the payment transaction model and its decoders.
 * Decoding works in place on the payload (Kafka message or file line): every
 * string field is a slice into it. Only a string with JSON escapes is
 * unescaped, into the caller's per-batch arena. Nothing is allocated per
 * record. A record that cannot be decoded yields a reason naming the field,
 * which the caller sends to the dead-letter topic with the original bytes. */
#ifndef FW_TXN_H
#define FW_TXN_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "decimal.h"
#include "fw_err.h"
#include "fw_str.h"
#include "fw_time.h"

#define FW_TXN_NFEATURES 28            /* V1..V28 of seed 000's model */
#define FW_TXN_MAX_EXTRAS 16           /* extra fields the rules may reference */
#define FW_TXN_EXTRA_NAME_MAX 64       /* longest name of an extra field */

/** The extra top-level fields a decoder captures: names our schema does not
 *  know (device_id, ip, mcc, ...) that the loaded rules reference. Compiled
 *  once (fw_txn_extras_init) and shared read-only by the decoders; an empty
 *  set costs the decoders nothing. */
typedef struct fw_txn_extras {
    unsigned n;
    uint8_t len[FW_TXN_MAX_EXTRAS];
    char name[FW_TXN_MAX_EXTRAS][FW_TXN_EXTRA_NAME_MAX + 1]; /* NUL-terminated */
} fw_txn_extras;
#define FW_TXN_DEFAULT_MAX_BYTES 65536 /* default payload size limit */

typedef enum fw_txn_type {
    FW_TXN_TYPE_NONE = 0,   /* field absent */
    FW_TXN_PURCHASE,
    FW_TXN_TRANSFER,
    FW_TXN_WITHDRAWAL,
    FW_TXN_DEPOSIT,
    FW_TXN_PASSWORD_CHANGE,
    FW_TXN_LOGIN,
    FW_TXN_TYPE_OTHER,      /* present but not one of the above; raw kept in type_raw */
} fw_txn_type;

/* Bits of fw_txn.has for the optional numeric fields. */
#define FW_TXN_HAS_LAT (1u << 0)
#define FW_TXN_HAS_LON (1u << 1)

typedef struct fw_txn {
    /* Required. */
    fw_str transaction_id;   /* string, or an integer's digits */
    int64_t ts_ms;           /* event time, epoch milliseconds UTC */
    fw_str ts_raw;           /* the timestamp as written (string content or digits) */
    double amount;           /* finite, >= 0 */
    fw_str amount_raw;       /* the number token as written, for exact echo */
    fw_dec amount_dec;       /* amount_raw as fw_dec_parse reads it, when amount_dec_set */
    /* Optional: ptr == NULL when absent. Ids accept strings or integers. */
    fw_str account_id;
    fw_str card_id;
    fw_str customer_id;      /* also read from "user_id" */
    fw_txn_type type;
    fw_str type_raw;
    fw_str currency;
    fw_str merchant_id;
    fw_str merchant_category;
    fw_str country;
    fw_str counterparty_id;  /* receiving account of a TRANSFER */
    fw_str channel;
    double lat, lon;         /* valid when FW_TXN_HAS_LAT / _LON set */
    uint32_t has;
    float v[FW_TXN_NFEATURES];
    uint32_t v_mask;         /* bit i set when V(i+1) was present and not null */
    /* The whole record. For JSON input it is the original object and can be
     * echoed verbatim; for semicolon input raw_is_json is false. */
    fw_str raw;
    bool raw_is_json;
    /* The decoders set amount_dec from the digits they scan anyway, so rules
     * load the exact amount instead of parsing amount_raw again. A record
     * built otherwise (tests, generate, a rule's view of prev) leaves it
     * false: readers then parse amount_raw or take the double. A flag of its
     * own, not a bit of has: has is copied where amount_dec is not. */
    bool amount_dec_set;
    /* Extra fields (fw_txn_extras), by index in the set. Only the masks are
     * zeroed per record (they fill padding); extras and extra[] are valid
     * when extra_mask is not 0, so that decoding and buffering cost nothing
     * more when no rule uses one. */
    uint16_t extra_mask;         /* bit i: extra[i] present (and not null) */
    uint16_t extra_str;          /* bit i: it was a JSON string (or a non-numeric CSV cell);
                                    else the number, true or false token as written */
    const fw_txn_extras *extras; /* the set decoded against */
    fw_str extra[FW_TXN_MAX_EXTRAS]; /* string content (unescaped into the arena like
                                        every string) or the token: never copied */
} fw_txn;

/* Where per-record zeroing and copying stop (see extra_mask). */
#define FW_TXN_ZEROED offsetof(fw_txn, extras)

/** @brief The exact amount of @p t: the decoder's (amount_dec_set), else
 *  amount_raw parsed; false when it has neither (a record built without the
 *  token: the double is all there is). */
static inline bool fw_txn_amount_dec(const fw_txn *t, fw_dec *out) {
    if (t->amount_dec_set) {
        *out = t->amount_dec;
        return true;
    }
    return t->amount_raw.ptr && fw_dec_parse(t->amount_raw.ptr, t->amount_raw.len, out) == FW_OK;
}

/**
 * @brief Compiles the set of extra fields to capture from @p n names
 * (top-level keys, matched exactly, at most FW_TXN_MAX_EXTRAS). Refuses, naming
 * it, an empty name, one longer than FW_TXN_EXTRA_NAME_MAX, one of our own
 * fields (use it by name) and a name given twice. @p n 0 is the empty set.
 */
fw_err fw_txn_extras_init(fw_txn_extras *x, const char *const *names, size_t n, char *errstr,
                          size_t errstr_size);

/** @brief Index of extra field @p name in @p x, or -1. */
int fw_txn_extras_find(const fw_txn_extras *x, const char *name, size_t len);

/** Why a record was rejected. @c field is a static string, the name of an
 *  extra field (valid while its fw_txn_extras is), or NULL. */
typedef struct fw_decode_error {
    const char *field;   /* e.g. "amount"; NULL when not about one field */
    size_t offset;       /* byte offset in the record where it went wrong */
    char reason[320];    /* full sentence, names the field and value (and, for a
                            missing field, the unknown ones the record has) */
} fw_decode_error;

/**
 * @brief Decodes one JSON object (seed spellings `Amount`, `user_id` accepted).
 * Rejects: not JSON, not an object, truncated, trailing garbage, invalid UTF-8,
 * a required field missing, a wrong JSON type, an unparseable timestamp, a
 * non-finite or negative amount, lat/lon out of range, a duplicated known
 * field, nesting deeper than 64, more than @p max_bytes bytes.
 * Unknown fields (any JSON value) are skipped.
 * @param scratch  per-batch arena for unescaped strings; may be NULL, in which
 *                 case a string with escapes is rejected
 * @returns FW_OK, or FW_ERR_INVALID with @p err filled.
 */
fw_err fw_txn_decode_json(const char *p, size_t n, fw_arena *scratch, size_t max_bytes,
                          fw_txn *out, fw_decode_error *err);

/** Field names are compared this many bytes at a time, with the quotes and ':'. */
#define FW_TXN_SHAPE_KEY 32

/**
 * What fw_txn_decode_json_shaped learns of one stream of records: for each
 * field, the name (as spelled, with its quotes and ':') and field that came
 * next. A producer writes its fields in one order, so the next record's names
 * are each compared in one step instead of scanned and looked up. It only
 * makes decoding faster: a name that differs is read the usual way (and
 * learned), and the same bytes always name the same field. Zero-initialise;
 * one per stream, not shared between threads.
 */
typedef struct fw_txn_shape {
    struct {
        char key[FW_TXN_SHAPE_KEY]; /* "name": */
        uint32_t mask;              /* bit i: key[i] is part of it; 0: nothing learned */
        uint8_t len;                /* of key */
        int8_t field;
    } next[FW_TXN_NFEATURES + 17];  /* by the field before; the last two: the record's
                                       start, an unknown field */
} fw_txn_shape;

/** @brief fw_txn_decode_json learning and using @p shape (may be NULL). */
fw_err fw_txn_decode_json_shaped(const char *p, size_t n, fw_arena *scratch, size_t max_bytes,
                                 fw_txn_shape *shape, fw_txn *out, fw_decode_error *err);

/**
 * @brief Decodes seed 003's text record `<timestamp>;<origin>;<target>;<amount>`,
 * e.g. `Sunday, 23-Jul-17 01:06:47 UTC;66;26;7810`. The timestamp may also be
 * ISO-8601 or epoch milliseconds. origin → account_id, target →
 * counterparty_id, type = TRANSFER. Such records carry no id, so the caller
 * passes @p synth_id (e.g. "transactions-0-1234", from topic, partition, offset).
 */
fw_err fw_txn_decode_semicolon(const char *p, size_t n, fw_str synth_id, size_t max_bytes,
                               fw_txn *out, fw_decode_error *err);

struct fw_schema;

/**
 * @brief fw_txn_decode_json through another team's mapping (schema.h): their
 * names and dotted paths give our fields, their timestamp format and value
 * maps apply. @p schema NULL decodes exactly as fw_txn_decode_json. A mapped
 * record is not echoed verbatim (raw_is_json is false): alerts and the
 * changelog carry it in our spelling, which every decoder reads back.
 */
fw_err fw_txn_decode_json_mapped(const char *p, size_t n, fw_arena *scratch, size_t max_bytes,
                                 const struct fw_schema *schema, fw_txn *out,
                                 fw_decode_error *err);

/**
 * @brief fw_txn_decode_json_mapped that also captures the extra fields of
 * @p extras (NULL or empty: none) found at the record's top level, into
 * out->extra[] (see fw_txn). An extra's value must be a string, a number,
 * true, false or null (absent); an extra given twice is refused as a known
 * field is. Not applied to nested objects: names are top-level keys.
 */
fw_err fw_txn_decode_json_ex(const char *p, size_t n, fw_arena *scratch, size_t max_bytes,
                             const struct fw_schema *schema, const fw_txn_extras *extras,
                             fw_txn *out, fw_decode_error *err);

#define FW_TXN_NFIELDS (15 + FW_TXN_NFEATURES) /* our fields, V1..V28 last */

#define FW_CSV_MAX_COLUMNS 256
#define FW_CSV_HEADER_MAX 4096 /* bytes of column names kept for messages */

/** A CSV header compiled against our field names (through a mapping). */
typedef struct fw_csv_columns {
    int ncols;
    int8_t field[FW_CSV_MAX_COLUMNS];   /* our field per column, FW_TXN_NFIELDS + i for
                                           extra i, or -1 (unused) */
    const fw_txn_extras *extras;        /* the set the extra columns index, or NULL */
    uint16_t name_off[FW_CSV_MAX_COLUMNS], name_len[FW_CSV_MAX_COLUMNS]; /* into names */
    char names[FW_CSV_HEADER_MAX];      /* the header's column names, for hints */
} fw_csv_columns;

/**
 * @brief Compiles a CSV header line (RFC 4180 quoting): each column name is
 * matched against the mapping's sources (a dotted source matches a column
 * of that exact name), else our own names. A header without a column for a
 * required field, or with two columns for one field, is refused naming them.
 */
fw_err fw_csv_columns_init(fw_csv_columns *c, const char *header, size_t n,
                           const struct fw_schema *schema, char *errstr, size_t errstr_size);

/**
 * @brief fw_csv_columns_init that also gives the columns named as an extra
 * field of @p extras (NULL: none) to it; fw_txn_decode_csv then captures
 * their cells. Two columns for one extra are refused.
 */
fw_err fw_csv_columns_init_ex(fw_csv_columns *c, const char *header, size_t n,
                              const struct fw_schema *schema, const fw_txn_extras *extras,
                              char *errstr, size_t errstr_size);

/**
 * @brief Decodes one CSV record (a line; RFC 4180 quoting, no line breaks
 * inside quotes) by a compiled header. Unquoted cells are slices of the line;
 * quoted cells with doubled quotes are unescaped into @p scratch. An empty
 * cell is an absent field. The mapping's timestamp format and value maps
 * apply; raw_is_json is false.
 */
fw_err fw_txn_decode_csv(const char *p, size_t n, const fw_csv_columns *cols,
                         const struct fw_schema *schema, fw_arena *scratch, size_t max_bytes,
                         fw_txn *out, fw_decode_error *err);

/** @brief Index of our field named @p name (canonical spelling only), or -1. */
int fw_txn_field_index(const char *name, size_t n);

/** @brief Canonical name of field @p f ("transaction_id"), or "" out of range. */
const char *fw_txn_field_name(int f);

/** @brief Name of a type ("PURCHASE", ...); "" for NONE. */
const char *fw_txn_type_name(fw_txn_type t);

/** @brief Appends the transaction as a JSON object: the original bytes when
 *  raw_is_json, else an object built from the decoded fields. */
bool fw_txn_write_json(const fw_txn *t, fw_buf *b);

#endif
