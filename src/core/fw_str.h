/* fw_str.h — length-carrying strings and bounded growable buffers.
 * Kafka payloads are not NUL-terminated, so the core passes {ptr, len}
 * slices that point into the payload instead of copying it. */
#ifndef FW_STR_H
#define FW_STR_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>

typedef struct fw_str {
    const char *ptr; /**< not NUL-terminated; NULL when absent */
    size_t len;
} fw_str;

#define FW_STR_NULL ((fw_str){ .ptr = NULL, .len = 0 })
#define FW_STR_LIT(s) ((fw_str){ .ptr = (s), .len = sizeof(s) - 1 })

static inline fw_str fw_str_c(const char *s) {
    return (fw_str){ .ptr = s, .len = s ? strlen(s) : 0 };
}
static inline bool fw_str_present(fw_str s) { return s.ptr != NULL; }
static inline bool fw_str_eq(fw_str a, fw_str b) {
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}
static inline bool fw_str_eq_c(fw_str a, const char *c) {
    return fw_str_eq(a, fw_str_c(c));
}

/** A growable byte buffer with a hard maximum (never grows past @c max).
 *  Reused across events: reset() keeps the memory. */
typedef struct fw_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;       /**< hard limit in bytes; 0 means 64 MiB */
    bool overflow;    /**< set once an append hit @c max; content truncated */
} fw_buf;

void fw_buf_init(fw_buf *b, size_t max);
void fw_buf_fini(fw_buf *b);
static inline void fw_buf_reset(fw_buf *b) { b->len = 0; b->overflow = false; }
/** @brief Edit distance of two words, ignoring ASCII case, each compared by
 *  at most its first 63 bytes: for "did you mean" hints, off the hot path. */
size_t fw_str_edit_distance(fw_str a, fw_str b);
/** @brief Of @p names, the one nearest to @p key by edit distance, within
 *  two edits or a quarter of the name's length (and fewer than its
 *  length), for "did you mean" in rules files; NULL when none is close. */
const char *fw_str_closest(fw_str key, const char *const *names, size_t n);

/** @brief Copies @p n bytes of untrusted input into @p out (@p size bytes,
 *  at least 5) for a message: bytes outside printable ASCII become '?', and
 *  what does not fit ends in "...". @returns @p out. */
const char *fw_str_printable(const char *s, size_t n, char *out, size_t size);

/** @brief The length of a record read as a line of @p n bytes, without its
 *  line end ("\n", "\r\n"); 0 for a line of only spaces and tabs, which is
 *  no record. */
size_t fw_line_record_len(const char *line, size_t n);

/** @brief 1234567 → "1,234,567", for messages. @returns @p out. */
const char *fw_count_str(uint64_t v, char *out, size_t size);

/** @returns false (and sets overflow) when @c max or memory ran out. */
bool fw_buf_append(fw_buf *b, const void *p, size_t n);
bool fw_buf_putc(fw_buf *b, char c);
bool fw_buf_puts(fw_buf *b, const char *s);
bool fw_buf_printf(fw_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** Appends @p s escaped for the inside of a JSON string (no quotes). */
bool fw_buf_json_escape(fw_buf *b, const char *s, size_t n);
/** Appends "s" (quoted, escaped). */
bool fw_buf_json_str(fw_buf *b, fw_str s);
/** Appends a finite double in the shortest form that reads back exactly. */
bool fw_buf_json_double(fw_buf *b, double v);

/** @brief Offset of the first byte that starts an invalid UTF-8 sequence
 *  (overlong, surrogate, above U+10FFFF, truncated), or SIZE_MAX when all is valid. */
size_t fw_utf8_bad_offset(const void *s, size_t n);
/** @brief True when @p s is well-formed UTF-8 (no overlongs, no surrogates). */
bool fw_utf8_valid(const char *s, size_t n);
/** @brief Appends @p n bytes as standard base64 (with padding). */
bool fw_buf_base64(fw_buf *b, const void *p, size_t n);

/** Bump allocator reset per batch: scratch memory for the rare record that
 *  needs it (an id with JSON escapes), never freed per event. */
typedef struct fw_arena {
    char *data;
    size_t used;
    size_t cap;   /**< fixed at init; alloc fails past it */
} fw_arena;

bool fw_arena_init(fw_arena *a, size_t cap);
void fw_arena_fini(fw_arena *a);
static inline void fw_arena_reset(fw_arena *a) { a->used = 0; }
/** @returns NULL when the arena is full. */
void *fw_arena_alloc(fw_arena *a, size_t n);

#endif
