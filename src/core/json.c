/* json.c — the JSON DOM parser declared in json.h: recursive descent over the
 * bytes, nodes bump-allocated from the caller's arena. Positions come from a
 * forward-only column cache, so giving every node its line and column costs
 * O(1) amortised even on a minified multi-MiB single-line document. */
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Objects with more members than this are checked for duplicate keys by
 * sorting; smaller ones pairwise, which is faster for them and allocates nothing. */
#define DUP_PAIRWISE_MAX 16

typedef struct parser {
    const unsigned char *s;
    size_t n;
    size_t pos;          /* next byte to read */
    uint32_t line;       /* line of pos (only whitespace holds line breaks) */
    size_t line_start;   /* offset of the first byte of that line */
    size_t col_pos;      /* column cache: an offset on the current line ... */
    uint32_t col;        /* ... and its column; moves forward only */
    fw_arena *a;
    char *err;
    size_t err_size;
} parser;

typedef struct loc {
    uint32_t line, column;
} loc;

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static bool is_word(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_';
}

/* Column of byte offset pos, counting UTF-8 code points as editors do. */
static loc loc_at(parser *ps, size_t pos) {
    if (pos < ps->col_pos) { /* only an error looks back: recount the line */
        ps->col_pos = ps->line_start;
        ps->col = 1;
    }
    if (pos > ps->n)
        pos = ps->n;
    while (ps->col_pos < pos) {
        if ((ps->s[ps->col_pos] & 0xc0) != 0x80)
            ps->col++;
        ps->col_pos++;
    }
    return (loc){ ps->line, ps->col };
}

static fw_err vfail(parser *ps, loc l, fw_err rc, const char *fmt, va_list ap) {
    if (ps->err && ps->err_size) {
        char msg[384];
        vsnprintf(msg, sizeof(msg), fmt, ap);
        snprintf(ps->err, ps->err_size, "%s (line %u, column %u)", msg, l.line, l.column);
    }
    return rc;
}

__attribute__((format(printf, 4, 5)))
static fw_err fail(parser *ps, size_t pos, fw_err rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fw_err r = vfail(ps, loc_at(ps, pos), rc, fmt, ap);
    va_end(ap);
    return r;
}

__attribute__((format(printf, 4, 5)))
static fw_err fail_loc(parser *ps, loc l, fw_err rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fw_err r = vfail(ps, l, rc, fmt, ap);
    va_end(ap);
    return r;
}

static fw_err arena_full(parser *ps, size_t pos) {
    return fail(ps, pos, FW_ERR_LIMIT,
                "document too large for the parse arena (%zu bytes; "
                "fw_json_arena_bound() gives a size that always suffices)",
                ps->a->cap);
}

/* What stands at pos, for "got ...": a word, a character or a byte. */
static const char *got(const parser *ps, size_t pos, char *buf, size_t size) {
    if (pos >= ps->n)
        return "end of input";
    unsigned char c = ps->s[pos];
    if (is_word(c)) {
        size_t len = 0;
        while (pos + len < ps->n && len < 24 && is_word(ps->s[pos + len]))
            len++;
        bool more = pos + len < ps->n && is_word(ps->s[pos + len]);
        snprintf(buf, size, "'%.*s%s'", (int)len, (const char *)ps->s + pos, more ? "..." : "");
    } else if (c >= 0x20 && c < 0x7f) {
        snprintf(buf, size, "'%c'", c);
    } else {
        snprintf(buf, size, "byte 0x%02X", c);
    }
    return buf;
}

/* Skips JSON whitespace, counting lines at LF (CRLF is one line break). */
static void skip_ws(parser *ps) {
    while (ps->pos < ps->n) {
        unsigned char c = ps->s[ps->pos];
        if (c == '\n') {
            ps->pos++;
            ps->line++;
            ps->line_start = ps->col_pos = ps->pos;
            ps->col = 1;
        } else if (c == ' ' || c == '\t' || c == '\r') {
            ps->pos++;
        } else {
            break;
        }
    }
}

static fw_json *new_node(parser *ps, fw_json_type type, size_t pos) {
    fw_json *v = fw_arena_alloc(ps->a, sizeof(*v));
    if (!v)
        return NULL;
    memset(v, 0, sizeof(*v));
    v->type = type;
    loc l = loc_at(ps, pos);
    v->line = l.line;
    v->column = l.column;
    return v;
}

static int hex_value(unsigned char c) {
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads the 4 hex digits at s[i..i+4) (before end) into *cp. */
static bool hex4(const unsigned char *s, size_t i, size_t end, uint32_t *cp) {
    if (i > end || end - i < 4)
        return false;
    uint32_t v = 0;
    for (size_t k = 0; k < 4; k++) {
        int h = hex_value(s[i + k]);
        if (h < 0)
            return false;
        v = (v << 4) | (uint32_t)h;
    }
    *cp = v;
    return true;
}

static size_t utf8_encode(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Decodes the escapes of the raw string body s[from, end) into the arena.
 * Every escape is at least as long as what it stands for, so end - from
 * bytes always suffice. */
static fw_err unescape(parser *ps, size_t from, size_t end, fw_str *out) {
    const unsigned char *s = ps->s;
    char *buf = fw_arena_alloc(ps->a, end - from);
    if (!buf)
        return arena_full(ps, from);
    size_t o = 0, k = from;
    while (k < end) {
        if (s[k] != '\\') {
            buf[o++] = (char)s[k++];
            continue;
        }
        /* The scan in parse_string stepped over the byte after every
         * backslash, so k + 1 < end here. */
        unsigned char e = s[k + 1];
        char c1 = 0;
        switch (e) {
        case '"': c1 = '"'; break;
        case '\\': c1 = '\\'; break;
        case '/': c1 = '/'; break;
        case 'b': c1 = '\b'; break;
        case 'f': c1 = '\f'; break;
        case 'n': c1 = '\n'; break;
        case 'r': c1 = '\r'; break;
        case 't': c1 = '\t'; break;
        case 'u': {
            uint32_t cp, lo;
            if (!hex4(s, k + 2, end, &cp))
                return fail(ps, k, FW_ERR_INVALID,
                            "invalid \\u escape in a string: expected 4 hex digits");
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return fail(ps, k, FW_ERR_INVALID,
                            "lone low surrogate \\u%04X in a string (it must follow a "
                            "high surrogate \\uD800-\\uDBFF)", (unsigned)cp);
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (!(k + 7 < end && s[k + 6] == '\\' && s[k + 7] == 'u' &&
                      hex4(s, k + 8, end, &lo) && lo >= 0xdc00 && lo <= 0xdfff))
                    return fail(ps, k, FW_ERR_INVALID,
                                "lone high surrogate \\u%04X in a string (it must be "
                                "followed by a low surrogate \\uDC00-\\uDFFF)", (unsigned)cp);
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                k += 6;
            }
            o += utf8_encode(cp, buf + o);
            k += 6;
            continue;
        }
        default:
            if (e >= 0x20 && e < 0x7f)
                return fail(ps, k, FW_ERR_INVALID,
                            "invalid escape '\\%c' in a string (valid: \\\" \\\\ \\/ \\b "
                            "\\f \\n \\r \\t \\uXXXX)", e);
            return fail(ps, k, FW_ERR_INVALID,
                        "invalid escape in a string: '\\' followed by byte 0x%02X", e);
        }
        buf[o++] = c1;
        k += 2;
    }
    *out = (fw_str){ .ptr = buf, .len = o };
    return FW_OK;
}

/* A string starting at ps->pos (on its opening quote). */
static fw_err parse_string(parser *ps, fw_str *out) {
    const unsigned char *s = ps->s;
    size_t open = ps->pos, i = open + 1;
    bool escaped = false;
    for (;;) {
        if (i >= ps->n)
            return fail(ps, open, FW_ERR_INVALID, "unterminated string: no closing '\"'");
        unsigned char c = s[i];
        if (c == '"')
            break;
        if (c == '\\') {
            escaped = true;
            i += 2;
            continue;
        }
        if (c < 0x20)
            return fail(ps, i, FW_ERR_INVALID,
                        "control character U+%04X in a string (write it as an escape "
                        "such as \\n or \\u%04X)", c, c);
        i++;
    }
    size_t body = open + 1, end = i;
    ps->pos = i + 1;
    size_t bad = fw_utf8_bad_offset(s + body, end - body);
    if (bad != SIZE_MAX)
        return fail(ps, body + bad, FW_ERR_INVALID, "invalid UTF-8 in a string (byte 0x%02X)",
                    s[body + bad]);
    if (!escaped) {
        *out = (fw_str){ .ptr = (const char *)s + body, .len = end - body };
        return FW_OK;
    }
    return unescape(ps, body, end, out);
}

/* Kept out of line so the recursion does not carry the number buffer. */
__attribute__((noinline))
static fw_err parse_number(parser *ps, fw_json *v) {
    const unsigned char *s = ps->s;
    size_t start = ps->pos, i = start;
    char why[48];
    if (s[i] == '-')
        i++;
    if (i >= ps->n || !is_digit(s[i]))
        return fail(ps, i, FW_ERR_INVALID, "expected a digit after '-', got %s",
                    got(ps, i, why, sizeof(why)));
    if (s[i] == '0') {
        i++;
        if (i < ps->n && is_digit(s[i]))
            return fail(ps, start, FW_ERR_INVALID,
                        "a number cannot have a leading zero (write 7, not 07)");
    } else {
        while (i < ps->n && is_digit(s[i]))
            i++;
    }
    if (i < ps->n && s[i] == '.') {
        i++;
        if (i >= ps->n || !is_digit(s[i]))
            return fail(ps, i, FW_ERR_INVALID, "expected a digit after '.' in a number, got %s",
                        got(ps, i, why, sizeof(why)));
        while (i < ps->n && is_digit(s[i]))
            i++;
    }
    if (i < ps->n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < ps->n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= ps->n || !is_digit(s[i]))
            return fail(ps, i, FW_ERR_INVALID,
                        "expected a digit in the exponent of a number, got %s",
                        got(ps, i, why, sizeof(why)));
        while (i < ps->n && is_digit(s[i]))
            i++;
    }
    size_t len = i - start;
    if (len > FW_JSON_MAX_NUMBER_LEN)
        return fail(ps, start, FW_ERR_INVALID, "number longer than %d characters",
                    FW_JSON_MAX_NUMBER_LEN);
    char buf[FW_JSON_MAX_NUMBER_LEN + 1];
    memcpy(buf, s + start, len);
    buf[len] = '\0';
    char *endp;
    double d = strtod(buf, &endp);
    if (endp != buf + len)
        return fail(ps, start, FW_ERR_INVALID, "malformed number");
    if (!isfinite(d))
        return fail(ps, start, FW_ERR_INVALID,
                    "number out of range (its magnitude is above 1.8e308)");
    v->number = d;
    v->str = (fw_str){ .ptr = (const char *)s + start, .len = len };
    ps->pos = i;
    return FW_OK;
}

static fw_err parse_value(parser *ps, int depth, fw_json **out);

static fw_err parse_array(parser *ps, int depth, fw_json **out) {
    size_t open = ps->pos;
    char why[48];
    if (depth >= FW_JSON_MAX_DEPTH)
        return fail(ps, open, FW_ERR_INVALID, "arrays and objects nested deeper than %d levels",
                    FW_JSON_MAX_DEPTH);
    fw_json *arr = new_node(ps, FW_JSON_ARRAY, open);
    if (!arr)
        return arena_full(ps, open);
    *out = arr;
    ps->pos++;
    skip_ws(ps);
    if (ps->pos < ps->n && ps->s[ps->pos] == ']') {
        ps->pos++;
        return FW_OK;
    }
    fw_json **tail = &arr->child;
    for (;;) {
        skip_ws(ps);
        if (arr->count > 0 && ps->pos < ps->n && ps->s[ps->pos] == ']')
            return fail(ps, ps->pos, FW_ERR_INVALID,
                        "expected a value after ',', got ']' (JSON allows no trailing comma)");
        fw_json *v;
        fw_err rc = parse_value(ps, depth + 1, &v);
        if (rc != FW_OK)
            return rc;
        *tail = v;
        tail = &v->next;
        arr->count++;
        skip_ws(ps);
        if (ps->pos < ps->n && ps->s[ps->pos] == ',') {
            ps->pos++;
            continue;
        }
        if (ps->pos < ps->n && ps->s[ps->pos] == ']') {
            ps->pos++;
            return FW_OK;
        }
        return fail(ps, ps->pos, FW_ERR_INVALID, "expected ',' or ']' after an array element, got %s",
                    got(ps, ps->pos, why, sizeof(why)));
    }
}

static int cmp_member(const void *pa, const void *pb) {
    const fw_json *a = *(const fw_json *const *)pa, *b = *(const fw_json *const *)pb;
    size_t m = a->key.len < b->key.len ? a->key.len : b->key.len;
    int c = m ? memcmp(a->key.ptr, b->key.ptr, m) : 0;
    if (c)
        return c;
    if (a->key.len != b->key.len)
        return a->key.len < b->key.len ? -1 : 1;
    /* Equal keys: document order, so the first of a group is the original. */
    if (a->key_line != b->key_line)
        return a->key_line < b->key_line ? -1 : 1;
    return (a->key_column > b->key_column) - (a->key_column < b->key_column);
}

static bool before(const fw_json *a, const fw_json *b) {
    return a->key_line < b->key_line ||
           (a->key_line == b->key_line && a->key_column < b->key_column);
}

/* Rejects an object with a key given twice, naming the duplicate that comes
 * first in the document, whichever way it is found. */
static fw_err check_duplicates(parser *ps, const fw_json *obj) {
    const fw_json *dup = NULL, *orig = NULL;
    if (obj->count <= DUP_PAIRWISE_MAX) {
        for (const fw_json *j = obj->child; j && !dup; j = j->next)
            for (const fw_json *i = obj->child; i != j; i = i->next)
                if (fw_str_eq(i->key, j->key)) {
                    dup = j;
                    orig = i;
                    break;
                }
    } else {
        /* Scratch array at the top of the arena, released before returning. */
        size_t mark = ps->a->used;
        const fw_json **m = fw_arena_alloc(ps->a, obj->count * sizeof(*m));
        if (!m)
            return arena_full(ps, ps->pos);
        size_t k = 0;
        FW_JSON_FOREACH(it, obj)
            m[k++] = it;
        qsort(m, k, sizeof(*m), cmp_member);
        for (size_t i = 1; i < k; i++) {
            /* m[i] is the second of its group when m[i-1] has the same key
             * and is the group's first (m[i-2] differs). */
            if (!fw_str_eq(m[i - 1]->key, m[i]->key))
                continue;
            if (i >= 2 && fw_str_eq(m[i - 2]->key, m[i]->key))
                continue;
            if (!dup || before(m[i], dup)) {
                dup = m[i];
                orig = m[i - 1];
            }
        }
        ps->a->used = mark;
    }
    if (!dup)
        return FW_OK;
    char q[64];
    return fail_loc(ps, (loc){ dup->key_line, dup->key_column }, FW_ERR_INVALID,
                    "duplicate key %s in an object (first at line %u, column %u)",
                    fw_json_quote(dup->key, q, sizeof(q)), orig->key_line, orig->key_column);
}

static fw_err parse_object(parser *ps, int depth, fw_json **out) {
    size_t open = ps->pos;
    char why[48], q[64];
    if (depth >= FW_JSON_MAX_DEPTH)
        return fail(ps, open, FW_ERR_INVALID, "arrays and objects nested deeper than %d levels",
                    FW_JSON_MAX_DEPTH);
    fw_json *obj = new_node(ps, FW_JSON_OBJECT, open);
    if (!obj)
        return arena_full(ps, open);
    *out = obj;
    ps->pos++;
    skip_ws(ps);
    if (ps->pos < ps->n && ps->s[ps->pos] == '}') {
        ps->pos++;
        return FW_OK;
    }
    fw_json **tail = &obj->child;
    for (;;) {
        skip_ws(ps);
        size_t kpos = ps->pos;
        if (kpos >= ps->n || ps->s[kpos] != '"') {
            if (obj->count > 0 && kpos < ps->n && ps->s[kpos] == '}')
                return fail(ps, kpos, FW_ERR_INVALID,
                            "expected a key after ',', got '}' (JSON allows no trailing comma)");
            const char *hint = kpos < ps->n && ps->s[kpos] == '\''
                                   ? " (JSON strings use double quotes)" : "";
            return fail(ps, kpos, FW_ERR_INVALID, "expected a key in double quotes, got %s%s",
                        got(ps, kpos, why, sizeof(why)), hint);
        }
        loc kl = loc_at(ps, kpos);
        fw_str key;
        fw_err rc = parse_string(ps, &key);
        if (rc != FW_OK)
            return rc;
        skip_ws(ps);
        if (ps->pos >= ps->n || ps->s[ps->pos] != ':')
            return fail(ps, ps->pos, FW_ERR_INVALID, "expected ':' after the key %s, got %s",
                        fw_json_quote(key, q, sizeof(q)), got(ps, ps->pos, why, sizeof(why)));
        ps->pos++;
        fw_json *v;
        rc = parse_value(ps, depth + 1, &v);
        if (rc != FW_OK)
            return rc;
        v->key = key;
        v->key_line = kl.line;
        v->key_column = kl.column;
        *tail = v;
        tail = &v->next;
        obj->count++;
        skip_ws(ps);
        if (ps->pos < ps->n && ps->s[ps->pos] == ',') {
            ps->pos++;
            continue;
        }
        if (ps->pos < ps->n && ps->s[ps->pos] == '}') {
            ps->pos++;
            break;
        }
        return fail(ps, ps->pos, FW_ERR_INVALID,
                    "expected ',' or '}' after an object member, got %s",
                    got(ps, ps->pos, why, sizeof(why)));
    }
    return check_duplicates(ps, obj);
}

static bool word_is(const unsigned char *w, size_t len, const char *lit) {
    return strlen(lit) == len && memcmp(w, lit, len) == 0;
}

static bool word_is_nocase(const unsigned char *w, size_t len, const char *lit) {
    if (strlen(lit) != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = w[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        if (c != (unsigned char)lit[i])
            return false;
    }
    return true;
}

/* true, false, null; any other word gets a hint for the usual mistakes. */
static fw_err parse_literal(parser *ps, fw_json **out) {
    size_t start = ps->pos, len = 0;
    const unsigned char *w = ps->s + start;
    while (start + len < ps->n && is_word(w[len]))
        len++;
    fw_json_type type = FW_JSON_NULL;
    bool value = false;
    if (word_is(w, len, "true")) {
        type = FW_JSON_BOOL;
        value = true;
    } else if (word_is(w, len, "false")) {
        type = FW_JSON_BOOL;
    } else if (!word_is(w, len, "null")) {
        char why[48];
        const char *hint = "";
        if (word_is_nocase(w, len, "true") || word_is_nocase(w, len, "false") ||
            word_is_nocase(w, len, "null"))
            hint = " (JSON literals are lowercase: true, false, null)";
        else if (word_is_nocase(w, len, "nan") || word_is_nocase(w, len, "infinity") ||
                 word_is_nocase(w, len, "inf"))
            hint = " (JSON has no NaN or Infinity)";
        else if (word_is(w, len, "None"))
            hint = " (use null)";
        return fail(ps, start, FW_ERR_INVALID, "expected a value, got %s%s",
                    got(ps, start, why, sizeof(why)), hint);
    }
    fw_json *v = new_node(ps, type, start);
    if (!v)
        return arena_full(ps, start);
    v->boolean = value;
    ps->pos = start + len;
    *out = v;
    return FW_OK;
}

static fw_err parse_value(parser *ps, int depth, fw_json **out) {
    skip_ws(ps);
    size_t start = ps->pos;
    char why[48];
    if (start >= ps->n)
        return fail(ps, start, FW_ERR_INVALID, "expected a value, got end of input");
    unsigned char c = ps->s[start];
    fw_json *v;
    fw_err rc;
    switch (c) {
    case '{':
        return parse_object(ps, depth, out);
    case '[':
        return parse_array(ps, depth, out);
    case '"':
        if (!(v = new_node(ps, FW_JSON_STRING, start)))
            return arena_full(ps, start);
        if ((rc = parse_string(ps, &v->str)) != FW_OK)
            return rc;
        *out = v;
        return FW_OK;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        if (!(v = new_node(ps, FW_JSON_NUMBER, start)))
            return arena_full(ps, start);
        if ((rc = parse_number(ps, v)) != FW_OK)
            return rc;
        *out = v;
        return FW_OK;
    default:
        if (is_word(c))
            return parse_literal(ps, out);
        return fail(ps, start, FW_ERR_INVALID, "expected a value, got %s%s",
                    got(ps, start, why, sizeof(why)),
                    c == '\'' ? " (JSON strings use double quotes)"
                    : c == '/' ? " (JSON has no comments)"
                    : c == '+' || c == '.' ? " (a JSON number starts with '-' or a digit)"
                    : "");
    }
}

size_t fw_json_arena_bound(size_t n) {
    /* Nodes: every value but the last of a container takes a byte and a
     * separator, so at most n / 2 + 1, plus one per open bracket of a
     * document cut short at the depth limit. Escaped strings take at most
     * 2 bytes of arena per input byte (8-byte rounding of a 2-byte "\n"
     * body), the duplicate check's scratch array another 2. */
    const size_t node = (sizeof(fw_json) + 7) & ~(size_t)7;
    size_t nodes = n / 2 + FW_JSON_MAX_DEPTH + 2;
    if (nodes > (SIZE_MAX - 64) / node || n > (SIZE_MAX - 64 - nodes * node) / 4)
        return SIZE_MAX;
    return nodes * node + 4 * n + 64;
}

fw_err fw_json_parse(const char *p, size_t n, fw_arena *a, fw_json **root, char *errstr,
                     size_t errstr_size) {
    if (errstr && errstr_size)
        errstr[0] = '\0';
    if (root)
        *root = NULL;
    if (!a || !root || (!p && n)) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "fw_json_parse: invalid arguments");
        return FW_ERR_INVALID;
    }
    parser ps = { .s = (const unsigned char *)(p ? p : ""), .n = n, .line = 1, .col = 1,
                  .a = a, .err = errstr, .err_size = errstr_size };
    if (n > UINT32_MAX)
        return fail(&ps, 0, FW_ERR_LIMIT, "document larger than 4 GiB");
    if (n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) /* a BOM is not a character */
        ps.pos = ps.line_start = ps.col_pos = 3;
    fw_json *v;
    fw_err rc = parse_value(&ps, 0, &v);
    if (rc != FW_OK)
        return rc;
    skip_ws(&ps);
    if (ps.pos < n) {
        char why[48];
        return fail(&ps, ps.pos, FW_ERR_INVALID, "expected end of input after the value, got %s",
                    got(&ps, ps.pos, why, sizeof(why)));
    }
    *root = v;
    return FW_OK;
}

const fw_json *fw_json_get_str(const fw_json *obj, fw_str key) {
    if (!obj || obj->type != FW_JSON_OBJECT)
        return NULL;
    FW_JSON_FOREACH(m, obj)
        if (fw_str_eq(m->key, key))
            return m;
    return NULL;
}

const fw_json *fw_json_get(const fw_json *obj, const char *key) {
    return key ? fw_json_get_str(obj, fw_str_c(key)) : NULL;
}

bool fw_json_int64(const fw_json *v, int64_t *out) {
    if (!v || v->type != FW_JSON_NUMBER)
        return false;
    const char *t = v->str.ptr;
    size_t len = v->str.len;
    if (t && !memchr(t, '.', len) && !memchr(t, 'e', len) && !memchr(t, 'E', len)) {
        /* Plain integer text: strtoll is exact where the double may not be. */
        char buf[24];
        if (len >= sizeof(buf))
            return false;
        memcpy(buf, t, len);
        buf[len] = '\0';
        errno = 0;
        char *end;
        long long x = strtoll(buf, &end, 10);
        if (errno == ERANGE || end != buf + len)
            return false;
        *out = (int64_t)x;
        return true;
    }
    /* "1e3", "2.0": integral and below 2^53, where every integer is exact. */
    double d = v->number;
    if (!isfinite(d) || d != floor(d) || fabs(d) >= 9007199254740992.0)
        return false;
    *out = (int64_t)d;
    return true;
}

const char *fw_json_quote(fw_str s, char *out, size_t size) {
    enum { SHOWN = 40 };
    static const char hex[] = "0123456789ABCDEF";
    char tmp[SHOWN * 12 + 16]; /* worst case: a surrogate pair per character */
    size_t o = 0, i = 0, shown = 0;
    const unsigned char *p = (const unsigned char *)(s.ptr ? s.ptr : "");
    tmp[o++] = '"';
    while (i < s.len && shown < SHOWN) {
        unsigned char c = p[i];
        uint32_t cp = c;
        size_t len = 1;
        if (c >= 0x80) {
            /* Parsed strings are valid UTF-8; anything else shows byte-wise. */
            size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
            if (need > 1 && need <= s.len - i && fw_utf8_bad_offset(p + i, need) == SIZE_MAX) {
                cp = need == 2 ? (c & 0x1fu) : need == 3 ? (c & 0x0fu) : (c & 0x07u);
                for (size_t k = 1; k < need; k++)
                    cp = (cp << 6) | (p[i + k] & 0x3fu);
                len = need;
            }
        }
        i += len;
        shown++;
        if (cp == '"' || cp == '\\') {
            tmp[o++] = '\\';
            tmp[o++] = (char)cp;
        } else if (cp >= 0x20 && cp < 0x7f) {
            tmp[o++] = (char)cp;
        } else if (cp == '\n' || cp == '\t' || cp == '\r') {
            tmp[o++] = '\\';
            tmp[o++] = cp == '\n' ? 'n' : cp == '\t' ? 't' : 'r';
        } else {
            uint32_t units[2] = { cp, 0 };
            int nu = 1;
            if (cp >= 0x10000) {
                units[0] = 0xd800 + ((cp - 0x10000) >> 10);
                units[1] = 0xdc00 + ((cp - 0x10000) & 0x3ff);
                nu = 2;
            }
            for (int u = 0; u < nu; u++) {
                tmp[o++] = '\\';
                tmp[o++] = 'u';
                for (int sh = 12; sh >= 0; sh -= 4)
                    tmp[o++] = hex[(units[u] >> sh) & 15];
            }
        }
    }
    if (i < s.len) {
        memcpy(tmp + o, "...", 3);
        o += 3;
    }
    tmp[o++] = '"';
    tmp[o] = '\0';
    if (size)
        snprintf(out, size, "%s", tmp);
    return out;
}

const char *fw_json_describe(const fw_json *v, char *out, size_t size) {
    if (!size)
        return out;
    if (!v) {
        snprintf(out, size, "nothing");
        return out;
    }
    switch (v->type) {
    case FW_JSON_NULL:
        snprintf(out, size, "null");
        break;
    case FW_JSON_BOOL:
        snprintf(out, size, "%s", v->boolean ? "true" : "false");
        break;
    case FW_JSON_NUMBER:
        if (v->str.len <= 32)
            snprintf(out, size, "%.*s", (int)v->str.len, v->str.ptr);
        else
            snprintf(out, size, "%.29s...", v->str.ptr);
        break;
    case FW_JSON_STRING:
        fw_json_quote(v->str, out, size);
        break;
    case FW_JSON_ARRAY:
        snprintf(out, size, "an array");
        break;
    case FW_JSON_OBJECT:
        snprintf(out, size, "an object");
        break;
    }
    return out;
}
