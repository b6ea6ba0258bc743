/* json.h — a small JSON DOM parser for configuration-sized documents: rules
 * files now, control-topic messages and HTTP bodies later. Strict RFC 8259
 * grammar, every node allocated from a caller-provided arena, and errors that
 * say what was expected at which line and column. The transaction hot path
 * does not use it: txn.c has its own zero-copy decoder. */
#ifndef FW_JSON_H
#define FW_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fw_err.h"
#include "fw_str.h"

/** Arrays and objects nest at most this deep; deeper documents are rejected
 *  (the parser recurses, and no configuration needs more). */
#define FW_JSON_MAX_DEPTH 64
/** Longest number token accepted, in characters (it is copied to the stack
 *  for strtod); a double needs at most 24, so this only stops abuse. */
#define FW_JSON_MAX_NUMBER_LEN 256

typedef enum fw_json_type {
    FW_JSON_NULL = 0,
    FW_JSON_BOOL,
    FW_JSON_NUMBER,
    FW_JSON_STRING,
    FW_JSON_ARRAY,
    FW_JSON_OBJECT,
} fw_json_type;

typedef struct fw_json fw_json;

/** One parsed value. Read the fields directly; the tree is not modified after
 *  fw_json_parse returns. Members of an object and elements of an array are a
 *  singly linked list in document order (child, then next). */
struct fw_json {
    fw_json_type type;
    uint32_t line;       /**< where the value starts: 1-based line */
    uint32_t column;     /**< 1-based column in characters (UTF-8 code points) */
    uint32_t key_line;   /**< members only: where the key starts (else 0) */
    uint32_t key_column;
    uint32_t count;      /**< arrays and objects: number of elements or members */
    fw_str key;          /**< members only: the unescaped key; else FW_STR_NULL */
    fw_json *next;       /**< next element or member of the parent; NULL at the end */
    fw_json *child;      /**< arrays and objects: first element or member */
    fw_str str;          /**< strings: the unescaped text (valid UTF-8, may hold NUL);
                              numbers: the token as written, e.g. "1e3" */
    double number;       /**< numbers: the value, always finite */
    bool boolean;        /**< FW_JSON_BOOL: the value */
};

/** Iterates over the elements of an array or the members of an object. */
#define FW_JSON_FOREACH(it, v) \
    for (const fw_json *it = (v) ? (v)->child : NULL; it; it = it->next)

/** @brief Arena bytes that always suffice to parse a document of @p n bytes
 *  (about 45 x n: one node per two bytes in the worst case, "[0,0,0,...]").
 *  @returns SIZE_MAX when that does not fit in a size_t. */
size_t fw_json_arena_bound(size_t n);

/**
 * @brief Parses the whole document @p p of @p n bytes (need not be
 * NUL-terminated) into a tree allocated from @p a.
 *
 * Strict: no comments, no trailing commas, no NaN/Infinity, no leading zeros,
 * no duplicate keys in an object, no control characters or invalid UTF-8 in
 * strings, no lone surrogates, nothing but whitespace after the value. A UTF-8
 * byte order mark at the start is skipped. Strings without escapes point into
 * @p p, so @p p must outlive the tree; the rest lives in @p a until it is reset.
 *
 * @param errstr on failure: what was expected and where, e.g.
 *        "expected ',' or '}' after an object member, got '\"' (line 3, column 5)".
 * @returns FW_OK and *root; FW_ERR_INVALID for a malformed document (including
 *          nesting deeper than FW_JSON_MAX_DEPTH); FW_ERR_LIMIT when the arena
 *          is full (never with an arena of fw_json_arena_bound(n) bytes).
 *          On failure the arena may hold partial allocations.
 */
fw_err fw_json_parse(const char *p, size_t n, fw_arena *a, fw_json **root, char *errstr,
                     size_t errstr_size);

/** @brief The member @p key of object @p obj; NULL when @p obj is not an
 *  object or has no such member. Linear in the number of members. */
const fw_json *fw_json_get(const fw_json *obj, const char *key);

/** @brief Like fw_json_get with a length-carrying key. */
const fw_json *fw_json_get_str(const fw_json *obj, fw_str key);

/** @brief True when @p v is a number with an integral value that an int64_t
 *  holds exactly ("42", "-7", "1e3", "2.0"; not "2.5", not 1e300), stored in *out. */
bool fw_json_int64(const fw_json *v, int64_t *out);

/** @brief Writes a short description of @p v for "got ..." in error messages:
 *  the value itself for scalars ("30 minutes" quoted, 1.5, true, null), "an
 *  array" or "an object" otherwise. Printable ASCII only, truncated with "...".
 *  @returns @p out. */
const char *fw_json_describe(const fw_json *v, char *out, size_t size);

/** @brief Writes @p s as a quoted JSON string for messages: escaped, non-ASCII
 *  as \\uXXXX, at most about 40 characters of it, then "...". @returns @p out. */
const char *fw_json_quote(fw_str s, char *out, size_t size);

#endif
