/* txn.c — in-place decoders for payment transactions (one JSON object, or
 * seed 003's `<timestamp>;<origin>;<target>;<amount>` line) and the JSON
 * writer used for alerts and dead letters.
 *
 * The JSON scanner is hand-written for this one schema. It validates the whole
 * record (strict RFC 8259 grammar, UTF-8, escapes, nesting) while keeping every
 * field as a slice into the payload, so the hot path allocates nothing; only a
 * kept string with backslash escapes is unescaped into the caller's arena. The
 * first problem found rejects the record with a reason naming the field. */
#include "txn.h"
#include "schema.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define JSON_MAX_DEPTH 64     /* containers, counting the record object itself */
#define NUM_TOKEN_MAX 64      /* longest number token converted to a double */
#define SNIP_MAX 44           /* a value quoted in an error: 40 chars + "..." + NUL */
#define KEY_UNESCAPE_MAX 128  /* an escaped key longer than this is no known field */

/* Event times must fit the years ISO-8601's four digits can write, so every
 * accepted timestamp formats back (fw_time_format) and parses again. */
#define TS_MIN_MS (-62167219200000LL) /* 0000-01-01T00:00:00.000Z */
#define TS_MAX_MS 253402300799999LL   /* 9999-12-31T23:59:59.999Z */

/* Known fields. The order is the bit order of the duplicate check. */
enum {
    F_TRANSACTION_ID,
    F_TIMESTAMP,
    F_AMOUNT,
    F_ACCOUNT_ID,
    F_CARD_ID,
    F_CUSTOMER_ID,
    F_TYPE,
    F_CURRENCY,
    F_MERCHANT_ID,
    F_MERCHANT_CATEGORY,
    F_COUNTRY,
    F_LAT,
    F_LON,
    F_COUNTERPARTY_ID,
    F_CHANNEL,
    F_V1,
    F_COUNT = F_V1 + FW_TXN_NFEATURES,
    F_UNKNOWN = -1,
};
_Static_assert(F_COUNT == FW_TXN_NFIELDS, "txn.h's FW_TXN_NFIELDS counts the fields here");
_Static_assert(F_COUNT + FW_TXN_MAX_EXTRAS <= 64,
               "the duplicate check keeps one bit per field and per extra field");
_Static_assert(F_COUNT + FW_TXN_MAX_EXTRAS <= 127, "a CSV column's field is an int8_t");

/* A numeric timestamp below this (2001-01-01T00:00:00Z in ms) is far more
 * likely epoch seconds than milliseconds (which would be January 1970). */
#define TS_MIN_PLAUSIBLE_MS 978307200000LL

#define UNKNOWN_NOTED 8  /* record-level unknown keys remembered for hints */

/* Canonical names: what fw_decode_error.field reports (static strings). */
static const char *const field_names[F_COUNT] = {
    [F_TRANSACTION_ID] = "transaction_id",
    [F_TIMESTAMP] = "timestamp",
    [F_AMOUNT] = "amount",
    [F_ACCOUNT_ID] = "account_id",
    [F_CARD_ID] = "card_id",
    [F_CUSTOMER_ID] = "customer_id",
    [F_TYPE] = "type",
    [F_CURRENCY] = "currency",
    [F_MERCHANT_ID] = "merchant_id",
    [F_MERCHANT_CATEGORY] = "merchant_category",
    [F_COUNTRY] = "country",
    [F_LAT] = "lat",
    [F_LON] = "lon",
    [F_COUNTERPARTY_ID] = "counterparty_id",
    [F_CHANNEL] = "channel",
    [F_V1 + 0] = "V1",   [F_V1 + 1] = "V2",   [F_V1 + 2] = "V3",   [F_V1 + 3] = "V4",
    [F_V1 + 4] = "V5",   [F_V1 + 5] = "V6",   [F_V1 + 6] = "V7",   [F_V1 + 7] = "V8",
    [F_V1 + 8] = "V9",   [F_V1 + 9] = "V10",  [F_V1 + 10] = "V11", [F_V1 + 11] = "V12",
    [F_V1 + 12] = "V13", [F_V1 + 13] = "V14", [F_V1 + 14] = "V15", [F_V1 + 15] = "V16",
    [F_V1 + 16] = "V17", [F_V1 + 17] = "V18", [F_V1 + 18] = "V19", [F_V1 + 19] = "V20",
    [F_V1 + 20] = "V21", [F_V1 + 21] = "V22", [F_V1 + 22] = "V23", [F_V1 + 23] = "V24",
    [F_V1 + 24] = "V25", [F_V1 + 25] = "V26", [F_V1 + 26] = "V27", [F_V1 + 27] = "V28",
};

#define REQUIRED_MASK \
    ((1ull << F_TRANSACTION_ID) | (1ull << F_TIMESTAMP) | (1ull << F_AMOUNT))

/* Scanner state for one record. */
typedef struct jscan {
    const char *base;        /* record start: offsets in errors are from here */
    const char *s;           /* cursor */
    const char *end;         /* one past the last byte; the record is not NUL-terminated */
    fw_arena *scratch;       /* for unescaped strings; may be NULL */
    fw_decode_error *err;
    fw_err code;             /* FW_ERR_INVALID, or FW_ERR_LIMIT when the arena is full */
    fw_str unknown;          /* key of the unknown field being skipped, for errors */
    const fw_schema *schema; /* another team's spelling, or NULL for ours */
    const fw_txn_extras *extras; /* extra fields to capture, or NULL (none) */
    /* Record-level keys no field took, so a missing required field can name
     * what the record had instead. */
    unsigned nunknown;
    fw_str unknown_keys[UNKNOWN_NOTED];
} jscan;

typedef struct jstr {
    const char *ptr;         /* content, between the quotes */
    size_t len;
    bool esc;                /* contains backslash escapes: needs unescaping */
} jstr;

typedef struct jnum {
    const char *ptr;         /* the token as written */
    size_t len;
    bool integer;            /* no fraction, no exponent */
    /* Gathered while scanning, so converting needs no second pass:
     * value = (neg ? -1 : 1) * mant * 10^exp10 when exact. */
    bool neg;
    bool exact;              /* mant holds every significant digit */
    uint64_t mant;
    int exp10;
} jnum;

/* ---- error reporting ---- */

__attribute__((format(printf, 4, 5)))
static bool fail(fw_decode_error *err, const char *field, size_t off, const char *fmt, ...) {
    va_list ap;
    err->field = field;
    err->offset = off;
    va_start(ap, fmt);
    vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
    va_end(ap);
    return false;
}

/* Quotes up to 40 bytes of untrusted input as printable ASCII: a reason goes
 * into logs and Kafka headers, so control bytes and non-ASCII become \xNN. */
static const char *snip(const char *s, size_t n, char out[SNIP_MAX]) {
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, i = 0;
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t need = c >= 0x20 && c < 0x7f ? 1 : 4;
        if (o + need > SNIP_MAX - 4)
            break;
        if (need == 4) {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            out[o++] = (char)c;
        }
    }
    if (i < n) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

static size_t off_of(const jscan *js, const char *at) { return (size_t)(at - js->base); }

#define WHO_MAX 64

/* The subject of a message about bytes that belong to a known field, to an
 * unknown field being skipped, or to neither (a key, the structure). */
static const char *who(const jscan *js, const char *field, char out[WHO_MAX]) {
    char b[SNIP_MAX];
    if (field) {
        snprintf(out, WHO_MAX, "Field %s", field);
        return out;
    }
    if (js->unknown.ptr) {
        snprintf(out, WHO_MAX, "Unknown field \"%s\"",
                 snip(js->unknown.ptr, js->unknown.len < 24 ? js->unknown.len : 24, b));
        return out;
    }
    return "Record";
}

#define WHO_FMT "%s"
#define WHO(f) who(js, (f), wb)

static bool truncated(jscan *js, const char *field) {
    size_t off = off_of(js, js->end);
    if (field)
        return fail(js->err, field, off,
                    "Record is truncated: the input ends at byte %zu inside the value of "
                    "field %s.", off, field);
    return fail(js->err, NULL, off,
                "Record is truncated: the input ends at byte %zu before the JSON object "
                "is closed.", off);
}

/* Describes the byte at @p at for "found ..." in a syntax error. */
static const char *found(const jscan *js, const char *at, char out[SNIP_MAX]) {
    if (at >= js->end)
        return "the end of the input";
    unsigned char c = (unsigned char)*at;
    if (c > 0x20 && c < 0x7f && c != '\'' && c != '\\')
        snprintf(out, SNIP_MAX, "'%c'", c);
    else
        snprintf(out, SNIP_MAX, "byte 0x%02x", c);
    return out;
}

static bool syntax(jscan *js, const char *field, const char *expected) {
    char b[SNIP_MAX];
    if (js->s >= js->end)
        return truncated(js, field);
    return fail(js->err, field, off_of(js, js->s),
                "Record is not valid JSON: expected %s at byte %zu%s%s, found %s.", expected,
                off_of(js, js->s), field ? " in field " : "", field ? field : "",
                found(js, js->s, b));
}

/* ---- lexical pieces ---- */

static inline void skip_ws(jscan *js) {
    /* Compact JSON has none: one test for that. Whitespace is below '!'. */
    if (js->s < js->end && (unsigned char)*js->s > ' ')
        return;
    while (js->s < js->end &&
           (*js->s == ' ' || *js->s == '\n' || *js->s == '\r' || *js->s == '\t'))
        js->s++;
}

/* 1 for bytes a string can hold without a closer look: printable ASCII
 * other than '"' and '\\' (DEL is legal in JSON). */
static const unsigned char plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x80..0xff: UTF-8, checked sequence by sequence */
};

/* Length of the valid UTF-8 sequence starting at lead byte s[0] >= 0x80 (RFC
 * 3629: no overlongs, no surrogates, nothing above U+10FFFF); 0 when invalid,
 * -1 when the input ends inside an otherwise valid sequence. */
static int utf8_seq(const unsigned char *s, const unsigned char *end) {
    unsigned c = s[0], lo = 0x80, hi = 0xbf;
    int len;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;      /* overlong */
        else if (c == 0xed)
            hi = 0x9f;      /* U+D800..U+DFFF */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;      /* overlong */
        else if (c == 0xf4)
            hi = 0x8f;      /* above U+10FFFF */
    } else {
        return 0;
    }
    for (int k = 1; k < len; k++) {
        if (s + k >= end)
            return -1;
        unsigned lo_k = k == 1 ? lo : 0x80, hi_k = k == 1 ? hi : 0xbf;
        if (s[k] < lo_k || s[k] > hi_k)
            return 0;
    }
    return len;
}

static int hex4(const char *s) {
    int v = 0;
    for (int k = 0; k < 4; k++) {
        char c = s[k];
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Validates the escape at *ps (a backslash) and moves past it. */
static bool scan_escape(jscan *js, const char *field, const char **ps) {
    const char *s = *ps, *end = js->end;
    char b[SNIP_MAX], wb[WHO_MAX];
    if (end - s < 2)
        return truncated(js, field);
    switch (s[1]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        *ps = s + 2;
        return true;
    case 'u':
        break;
    default:
        return fail(js->err, field, off_of(js, s),
                    WHO_FMT " has an invalid escape \"%s\" at byte %zu in a string.",
                    WHO(field), snip(s, 2, b), off_of(js, s));
    }
    if (end - s < 6)
        return truncated(js, field);
    int cp = hex4(s + 2);
    if (cp < 0)
        return fail(js->err, field, off_of(js, s),
                    WHO_FMT " has an invalid \\u escape \"%s\" at byte %zu (four hex digits "
                    "expected).", WHO(field), snip(s, 6, b), off_of(js, s));
    if (cp == 0)
        return fail(js->err, field, off_of(js, s),
                    WHO_FMT " contains \\u0000 at byte %zu; NUL characters are not allowed.",
                    WHO(field), off_of(js, s));
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return fail(js->err, field, off_of(js, s),
                    WHO_FMT " has an unpaired UTF-16 low surrogate \"%s\" at byte %zu.",
                    WHO(field), snip(s, 6, b), off_of(js, s));
    if (cp >= 0xd800 && cp <= 0xdbff) {
        /* A high surrogate must be followed by an escaped low surrogate. */
        if (end - s < 7 || (s[6] == '\\' && end - s < 12))
            return truncated(js, field);
        int lo = s[6] == '\\' && s[7] == 'u' ? hex4(s + 8) : -1;
        if (lo < 0xdc00 || lo > 0xdfff)
            return fail(js->err, field, off_of(js, s),
                        WHO_FMT " has an unpaired UTF-16 high surrogate \"%s\" at byte %zu.",
                        WHO(field), snip(s, 6, b), off_of(js, s));
        *ps = s + 12;
        return true;
    }
    *ps = s + 6;
    return true;
}

#if defined(__SSE2__)
/* Bit i set when s[i] needs a closer look in a string: '"', '\\', a control
 * byte or a byte >= 0x80 (the signed compare below 0x20 catches both). */
static inline unsigned special16(const char *s) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
    __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                            _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                               _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
    return (unsigned)_mm_movemask_epi8(hit);
}
#endif

/* Scans a string starting at the opening quote under the cursor. @p field
 * names the known field it belongs to (NULL for keys and unknown values). */
static bool scan_string_slow(jscan *js, const char *field, jstr *out) {
    const char *s = js->s + 1, *end = js->end;
    bool esc = false;
    char wb[WHO_MAX];
    for (;;) {
#if defined(__SSE2__)
        /* Sixteen bytes at a time while none needs a closer look. */
        while (end - s >= 16) {
            unsigned mask = special16(s);
            if (mask) {
                s += __builtin_ctz(mask);
                goto special;
            }
            s += 16;
        }
#endif
        /* Eight bytes at a time while none needs a closer look. Word-wise
         * tests: a byte below 0x20, equal to '"' or '\\', or >= 0x80. */
        while (end - s >= 8) {
            const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
            uint64_t w, q, bs;
            memcpy(&w, s, 8);
            q = w ^ (ones * '"');
            bs = w ^ (ones * '\\');
            /* (x - ones*n) & ~x & high is non-zero iff some byte of x is < n
             * (n <= 0x80); a byte >= 0x80 is caught by w & high itself. */
            uint64_t hit = (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) |
                            ((bs - ones) & ~bs) | w) & high;
            if (hit) {
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                /* False hits only sit above a true one: the lowest is exact. */
                s += __builtin_ctzll(hit) >> 3;
#endif
                break;
            }
            s += 8;
        }
        while (s < end && plain[(unsigned char)*s])
            s++;
#if defined(__SSE2__)
    special:
#endif
        if (s >= end)
            return truncated(js, field);
        unsigned char c = (unsigned char)*s;
        if (c == '"')
            break;
        if (c == '\\') {
            if (!scan_escape(js, field, &s))
                return false;
            esc = true;
        } else if (c < 0x20) {
            return fail(js->err, field, off_of(js, s),
                        WHO_FMT " has an unescaped control character 0x%02x at byte %zu in a "
                        "string.", WHO(field), c, off_of(js, s));
        } else {
            int len = utf8_seq((const unsigned char *)s, (const unsigned char *)end);
            if (len < 0)
                return truncated(js, field);
            if (len == 0)
                return fail(js->err, field, off_of(js, s),
                            WHO_FMT " has invalid UTF-8 (byte 0x%02x) at byte %zu in a "
                            "string.", WHO(field), c, off_of(js, s));
            s += len;
        }
    }
    out->ptr = js->s + 1;
    out->len = (size_t)(s - out->ptr);
    out->esc = esc;
    js->s = s + 1;
    return true;
}

/* scan_string's common case inline: a string of plain bytes whose closing
 * quote is within 32 bytes (keys, ids, codes, timestamps). Calling the full
 * scanner cost a third of its instructions in the call itself (callgrind). */
__attribute__((always_inline)) static inline bool scan_string(jscan *js, const char *field,
                                                              jstr *out) {
#if defined(__SSE2__)
    const char *s = js->s + 1;
    for (int k = 0; k < 2 && js->end - s >= 16; k++, s += 16) {
        unsigned mask = special16(s);
        if (!mask)
            continue;
        s += __builtin_ctz(mask);
        if (*s != '"')
            break;
        out->ptr = js->s + 1;
        out->len = (size_t)(s - out->ptr);
        out->esc = false;
        js->s = s + 1;
        return true;
    }
#endif
    return scan_string_slow(js, field, out);
}

static size_t utf8_put(char *dst, unsigned cp) {
    if (cp < 0x80) {
        dst[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        dst[0] = (char)(0xc0 | (cp >> 6));
        dst[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        dst[0] = (char)(0xe0 | (cp >> 12));
        dst[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        dst[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    dst[0] = (char)(0xf0 | (cp >> 18));
    dst[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    dst[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    dst[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Unescapes string content that scan_string already validated. The result is
 * never longer than the input (\uXXXX is 6 bytes for at most 3, a surrogate
 * pair 12 for 4), so @p dst needs @p n bytes. */
static size_t unescape(const char *s, size_t n, char *dst) {
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] != '\\') {
            dst[o++] = s[i++];
            continue;
        }
        char c = s[i + 1];
        i += 2;
        switch (c) {
        case 'b': dst[o++] = '\b'; break;
        case 'f': dst[o++] = '\f'; break;
        case 'n': dst[o++] = '\n'; break;
        case 'r': dst[o++] = '\r'; break;
        case 't': dst[o++] = '\t'; break;
        case 'u': {
            unsigned cp = (unsigned)hex4(s + i);
            i += 4;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                unsigned lo = (unsigned)hex4(s + i + 2);
                i += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            o += utf8_put(dst + o, cp);
            break;
        }
        default: dst[o++] = c; break; /* '"', '\\', '/' */
        }
    }
    return o;
}

/* Makes a kept string a slice: into the payload, or into the arena when it
 * had escapes. */
static bool str_unescape(jscan *js, const char *field, const jstr *str, fw_str *dst) {
    size_t off = off_of(js, str->ptr) - 1;
    if (!js->scratch)
        return fail(js->err, field, off,
                    "Field %s at byte %zu contains JSON escapes, which this decoder was "
                    "configured without a scratch arena to unescape.", field, off);
    char *mem = fw_arena_alloc(js->scratch, str->len);
    if (!mem) {
        js->code = FW_ERR_LIMIT;
        return fail(js->err, field, off,
                    "Field %s at byte %zu needs %zu bytes of scratch space to unescape, but "
                    "the batch arena is full.", field, off, str->len);
    }
    *dst = (fw_str){ .ptr = mem, .len = unescape(str->ptr, str->len, mem) };
    return true;
}

/* A string value as a slice of the payload, or unescaped into the arena. */
__attribute__((always_inline)) static inline bool str_slice(jscan *js, const char *field,
                                                            const jstr *str, fw_str *dst) {
    if (!str->esc) {
        *dst = (fw_str){ .ptr = str->ptr, .len = str->len };
        return true;
    }
    return str_unescape(js, field, str, dst);
}

#define MANT_DIGITS 19   /* any 19 digits fit in a uint64_t */
#define EXP_CAP 100000    /* far past any double's range */

/* Reads a run of digits, appending them to the mantissa while it has room.
 * @p taken counts the digits in it; *exact turns false when one is dropped. */
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* The number written by eight digit values (0-9), one per byte, the first
 * in the lowest byte: pairs, then quads, then the octet. */
__attribute__((always_inline)) static inline uint32_t fold8(uint64_t d) {
    d = d * 10 + (d >> 8); /* byte 2i: two-digit value */
    d = ((d & 0x000000ff000000ffull) * (100 + (1000000ull << 32)) +
         ((d >> 16) & 0x000000ff000000ffull) * (1 + (10000ull << 32))) >> 32;
    return (uint32_t)d;
}
#endif

static inline const char *scan_digits(const char *s, const char *end, uint64_t *mant,
                                      int *taken, bool *exact) {
    uint64_t m = *mant;
    int k = *taken;
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* Eight digits at a time (seed 000's V1..V28 carry 15-17 digits each):
     * check all eight bytes are '0'..'9', then fold pairs, quads, octets. */
    while (end - s >= 8 && k + 8 <= MANT_DIGITS) {
        const uint64_t nib = 0xf0f0f0f0f0f0f0f0ull, zeros = 0x3030303030303030ull;
        uint64_t w;
        memcpy(&w, s, 8);
        if ((w & nib) != zeros || ((w + 0x0606060606060606ull) & nib) != zeros)
            break;
        m = m * 100000000u + fold8(w - zeros);
        k = m ? k + 8 : 0;                     /* may overcount zeros: only cautious */
        s += 8;
    }
#endif
    for (; s < end; s++) {
        unsigned d = (unsigned)(unsigned char)*s - '0';
        if (d > 9)
            break;
        if (k < MANT_DIGITS) {
            m = m * 10 + d;
            k += m != 0; /* leading zeros take no room */
        } else {
            *exact = false;
        }
    }
    *mant = m;
    *taken = k;
    return s;
}

/* Powers of ten up to 10^19, the largest a uint64_t holds. */
static const uint64_t pow10_u64[20] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull, 100000000ull,
    1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull, 10000000000000ull,
    100000000000000ull, 1000000000000000ull, 10000000000000000ull, 100000000000000000ull,
    1000000000000000000ull, 10000000000000000000ull,
};

#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* The digits that open the 8 bytes at @p s: how many (0-8), and their value
 * in @p val. The bytes after them are shifted out, not read as digits. */
__attribute__((always_inline)) static inline unsigned lead_digits8(const char *s,
                                                                   uint64_t *val) {
    const uint64_t nib = 0xf0f0f0f0f0f0f0f0ull, zeros = 0x3030303030303030ull;
    uint64_t w;
    memcpy(&w, s, 8);
    /* a byte not '0'..'9': high nibble not 3, or not 3 once 6 is added (a
     * carry runs only from such a byte to later ones) */
    uint64_t odd = ((w & nib) ^ zeros) | (((w + 0x0606060606060606ull) & nib) ^ zeros);
    unsigned n = odd ? (unsigned)__builtin_ctzll(odd) >> 3 : 8;
    if (n == 0)
        return 0;
    *val = fold8((w - zeros) << (8 * (8 - n))); /* the n digits last, zeros before */
    return n;
}
#endif

/* Whether a number token's next byte would run it on past valid JSON:
 * "01", "1.5.2", "0x1F", "1e5e". */
static inline bool runs_on(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           c == '.' || c == '+' || c == '-';
}

/* Scans a number under the cursor with the strict JSON grammar,
 * -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, gathering its digits for
 * num_to_double on the way. */
static __attribute__((noinline)) bool scan_number_slow(jscan *js, const char *field,
                                                       jnum *out) {
    const char *s = js->s, *end = js->end, *start = s, *p;
    uint64_t m = 0;
    int exp10 = 0, taken = 0;
    bool exact = true;
    out->integer = true;
    out->neg = s < end && *s == '-';
    s += out->neg;
    if (s >= end)
        goto bad;
    if (*s == '0') {
        s++;
    } else if (*s >= '1' && *s <= '9') {
        s = scan_digits(s, end, &m, &taken, &exact);
    } else {
        goto bad;
    }
    if (s < end && *s == '.') {
        out->integer = false;
        s++;
        if (s >= end || *s < '0' || *s > '9')
            goto bad;
        p = s;
        s = scan_digits(s, end, &m, &taken, &exact);
        /* While exact, every fraction digit went into the mantissa. */
        exp10 -= s - p > EXP_CAP ? EXP_CAP : (int)(s - p);
    }
    if (s < end && (*s == 'e' || *s == 'E')) {
        bool eneg;
        int ev = 0;
        out->integer = false;
        s++;
        eneg = s < end && *s == '-';
        if (s < end && (*s == '+' || *s == '-'))
            s++;
        if (s >= end || *s < '0' || *s > '9')
            goto bad;
        for (; s < end && *s >= '0' && *s <= '9'; s++)
            if (ev < EXP_CAP)
                ev = ev * 10 + (*s - '0');
        exp10 += eneg ? -ev : ev;
    }
    if (s < end && runs_on(*s))
        goto bad;
    out->ptr = start;
    out->len = (size_t)(s - start);
    out->exact = exact;
    out->mant = m;
    out->exp10 = exp10;
    js->s = s;
    return true;
bad:
    if (s >= end)
        return truncated(js, field);
    {
        const char *e = s;
        char b[SNIP_MAX], wb[WHO_MAX];
        while (e < end && e - start < 40 && (plain[(unsigned char)*e] && *e != ',' &&
                                             *e != '}' && *e != ']' && *e != ' '))
            e++;
        if (e == start)
            e = start + 1;
        return fail(js->err, field, off_of(js, start),
                    WHO_FMT " has an invalid number \"%s\" at byte %zu (JSON allows no '+', "
                    "leading zeros, hex, NaN or Infinity).", WHO(field), snip(start,
                    (size_t)(e - start), b), off_of(js, start));
    }
}

/* The common shape (120, 34.0268, -118.2314): up to 7 digits, then maybe
 * '.' and up to 7 more, a few steps each and inline; anything else, and
 * every error, the long way (scan_number_slow). */
__attribute__((always_inline)) static inline bool scan_number(jscan *js, const char *field,
                                                              jnum *out) {
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const char *start = js->s, *end = js->end;
    bool neg = start < end && *start == '-';
    const char *s = start + neg;
    if (end - s >= 17) {
        uint64_t ip, fp;
        unsigned n = lead_digits8(s, &ip), nf = 0;
        const char *r = s + n;
        if (n > 0 && n < 8 && (n == 1 || *s != '0')) {
            if (*r == '.' && (nf = lead_digits8(r + 1, &fp)) > 0 && nf < 8) {
                ip = ip * pow10_u64[nf] + fp;
                r += 1 + nf;
            } else if (*r == '.') {
                nf = 8; /* not the common shape */
            }
            if (nf < 8 && !runs_on(*r)) {
                out->integer = nf == 0;
                out->neg = neg;
                out->ptr = start;
                out->len = (size_t)(r - start);
                out->exact = true;
                out->mant = ip;
                out->exp10 = -(int)nf;
                js->s = r;
                return true;
            }
        }
    }
#endif
    return scan_number_slow(js, field, out);
}

/* Powers of ten that doubles hold exactly. */
static const double pow10_exact[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* num_to_double for the tokens its fast path does not take. */
static __attribute__((noinline)) int num_to_double_slow(const jnum *num, double *out) {
    char buf[NUM_TOKEN_MAX + 1];
    char *endp;
    memcpy(buf, num->ptr, num->len);
    buf[num->len] = '\0';
    *out = strtod(buf, &endp);
    return endp == buf + num->len ? 0 : 2;
}

/* Converts a token scan_number accepted. A mantissa up to 2^53 with a power
 * of ten up to 22 converts exactly with one correctly rounded multiply or
 * divide (Clinger's fast path): the same double strtod gives, without its
 * cost. Everything else goes to strtod on a NUL-terminated stack copy (the
 * payload itself is not terminated). strtod follows LC_NUMERIC; fraudwatch
 * never calls setlocale, so that is "C".
 * @returns 0, 1 when the token is too long, 2 when strtod disagrees. */
__attribute__((always_inline)) static inline int num_to_double(const jnum *num, double *out) {
    if (num->len > NUM_TOKEN_MAX)
        return 1;
    if (num->exact && num->mant == 0) {
        *out = num->neg ? -0.0 : 0.0;
        return 0;
    }
    if (num->exact && num->mant <= (1ull << 53) && num->exp10 >= -22 && num->exp10 <= 22) {
        double v = (double)num->mant;
        v = num->exp10 < 0 ? v / pow10_exact[-num->exp10] : v * pow10_exact[num->exp10];
        *out = num->neg ? -v : v;
        return 0;
    }
    return num_to_double_slow(num, out);
}

/* The exact amount of a token set_amount_dec's fast path does not take. */
static __attribute__((noinline)) void set_amount_dec_slow(fw_txn *t, const jnum *num) {
    fw_dec v;
    if (!num->exact) {
        if (fw_dec_parse(num->ptr, num->len, &v) != FW_OK)
            return;
    } else if (num->mant == 0) {
        v = 0;
    } else {
        uint64_t m = num->mant;
        int sh = num->exp10 + FW_DEC_PLACES; /* power of ten of the last digit, in units */
        if (sh >= 0) {
            if (sh > 18 || m > (uint64_t)FW_DEC_MAX / pow10_u64[sh])
                return; /* over FW_DEC_MAX: fw_dec_parse says FW_ERR_LIMIT */
            v = (fw_dec)(m * pow10_u64[sh]);
        } else if (sh < -19) {
            v = 0; /* m < 10^19, so below 0.1 unit: rounds to 0 */
        } else {
            uint64_t d = pow10_u64[-sh], q = m / d, r = m % d;
            /* Half-even; r vs d - r, as 2 * r may not fit. */
            if (r > d - r || (r == d - r && (q & 1)))
                q++;
            v = (fw_dec)q; /* q <= 10^18 */
        }
        if (num->neg)
            v = -v;
    }
    t->amount_dec = v;
    t->amount_dec_set = true;
}

/* Sets t->amount_dec to the token scan_number accepted as fw_dec_parse reads
 * it (half-even at the fourth place), from the digits already gathered: the
 * rule language then loads the exact amount instead of parsing it once per
 * rule phase. The common amount ("2500.5", "120") has at most four places
 * and fits without a check; others take the slow path, which hands a token
 * with more digits than the mantissa holds (inexact) to fw_dec_parse itself
 * and leaves amount_dec_set false for one beyond fw_dec's range, as
 * fw_dec_parse fails on it. For amounts only: a negative one was refused
 * before, and -0 has mantissa 0, so the fast path needs no sign. */
__attribute__((always_inline)) static inline void set_amount_dec(fw_txn *t, const jnum *num) {
    unsigned sh = (unsigned)(num->exp10 + FW_DEC_PLACES);
    if (num->exact && sh <= FW_DEC_PLACES && num->mant <= (uint64_t)FW_DEC_MAX / FW_DEC_SCALE) {
        t->amount_dec = (fw_dec)(num->mant * pow10_u64[sh]);
        t->amount_dec_set = true;
        return;
    }
    set_amount_dec_slow(t, num);
}

/* A number token under the cursor, converted and required to be finite. */
__attribute__((always_inline)) static inline bool read_double(jscan *js, const char *field,
                                                              double *v, jnum *tok) {
    char b[SNIP_MAX];
    if (!scan_number(js, field, tok))
        return false;
    size_t off = off_of(js, tok->ptr);
    int rc = num_to_double(tok, v);
    if (rc == 1)
        return fail(js->err, field, off,
                    "Field %s has a number of %zu characters at byte %zu; at most %d are "
                    "accepted.", field, tok->len, off, NUM_TOKEN_MAX);
    if (rc == 2 || !isfinite(*v))
        return fail(js->err, field, off,
                    "Field %s %s at byte %zu is not a finite number.", field,
                    snip(tok->ptr, tok->len, b), off);
    return true;
}

/* Characters that start a number, or what a writer may have meant as one
 * ('+', '.', NaN, Infinity): scan_number rejects those with a clear reason. */
__attribute__((always_inline)) static inline bool num_start(char c) {
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'N' || c == 'I';
}

__attribute__((always_inline)) static inline bool value_start(char c) {
    return c == '"' || c == '{' || c == '[' || c == 't' || c == 'f' || c == 'n' ||
           num_start(c);
}

static bool match_lit(jscan *js, const char *lit, size_t n, const char *field) {
    size_t avail = (size_t)(js->end - js->s);
    if (avail >= 4 && n <= 5) { /* true, false, null: a word compare, no call */
        uint32_t a, b;
        memcpy(&a, js->s, 4);
        memcpy(&b, lit, 4);
        if (a == b && (n == 4 || (avail >= 5 && js->s[4] == lit[4]))) {
            js->s += n;
            return true;
        }
    }
    if (avail >= n && memcmp(js->s, lit, n) == 0) {
        js->s += n;
        return true;
    }
    if (avail < n && memcmp(js->s, lit, avail) == 0)
        return truncated(js, field);
    return syntax(js, field, "a JSON value");
}

/* ---- values ---- */

static bool skip_value(jscan *js, int depth);

/* At a member of an object: reads its key and the ':' after it, leaving the
 * cursor on the value. (parse_record spells this out in its hot loop.) */
static bool member_key(jscan *js, jstr *key) {
    if (*js->s != '"')
        return syntax(js, NULL, "a field name in double quotes");
    if (!scan_string(js, NULL, key))
        return false;
    skip_ws(js);
    if (js->s >= js->end || *js->s != ':')
        return syntax(js, NULL, "':' after a field name");
    js->s++;
    skip_ws(js);
    if (js->s >= js->end)
        return truncated(js, NULL);
    return true;
}

/* After a member's value: the container closes with @p close (*more false)
 * or a ',' leads to the next member (*more true, the cursor on it). */
static bool member_end(jscan *js, char close, bool *more) {
    skip_ws(js);
    if (js->s >= js->end)
        return truncated(js, NULL);
    *more = *js->s != close;
    if (!*more) {
        js->s++;
        return true;
    }
    if (*js->s != ',')
        return syntax(js, NULL, close == '}' ? "',' or '}'" : "',' or ']'");
    js->s++;
    skip_ws(js);
    if (js->s >= js->end)
        return truncated(js, NULL);
    return true;
}

/* Skips an object or array under the cursor; @p depth is its own level. */
static bool skip_container(jscan *js, int depth) {
    const char close = *js->s == '{' ? '}' : ']';
    char wb[WHO_MAX];
    if (depth > JSON_MAX_DEPTH)
        return fail(js->err, NULL, off_of(js, js->s),
                    "%s nests objects and arrays deeper than %d levels (at byte %zu).",
                    WHO(NULL), JSON_MAX_DEPTH, off_of(js, js->s));
    js->s++;
    skip_ws(js);
    if (js->s >= js->end)
        return truncated(js, NULL);
    if (*js->s == close) {
        js->s++;
        return true;
    }
    for (bool more = true; more;) {
        jstr key;
        if ((close == '}' && !member_key(js, &key)) || !skip_value(js, depth) ||
            !member_end(js, close, &more))
            return false;
    }
    return true;
}

/* Skips any JSON value held by a container at level @p depth. */
static bool skip_value(jscan *js, int depth) {
    jstr str;
    jnum num;
    if (js->s >= js->end)
        return truncated(js, NULL);
    switch (*js->s) {
    case '{':
    case '[': return skip_container(js, depth + 1);
    case '"': return scan_string(js, NULL, &str);
    case 't': return match_lit(js, "true", 4, NULL);
    case 'f': return match_lit(js, "false", 5, NULL);
    case 'n': return match_lit(js, "null", 4, NULL);
    default:
        if (!num_start(*js->s))
            return syntax(js, NULL, "a JSON value");
        return scan_number(js, NULL, &num);
    }
}

/* ---- known fields ---- */

/* Field dispatch: switch on the key's length, then compare. */
__attribute__((always_inline)) static inline int field_lookup(const char *k, size_t n) {
#define IS(lit) (memcmp(k, lit, sizeof(lit) - 1) == 0)
    switch (n) {
    case 2:
        if (k[0] == 'V' && k[1] >= '1' && k[1] <= '9')
            return F_V1 + (k[1] - '1');
        break;
    case 3:
        if (IS("lat"))
            return F_LAT;
        if (IS("lon"))
            return F_LON;
        if (k[0] == 'V' && k[1] >= '1' && k[1] <= '2' && k[2] >= '0' && k[2] <= '9') {
            int i = (k[1] - '0') * 10 + (k[2] - '0');
            if (i <= FW_TXN_NFEATURES)
                return F_V1 + i - 1;
        }
        break;
    case 4:
        if (IS("type"))
            return F_TYPE;
        break;
    case 6:
        if (IS("amount") || IS("Amount"))
            return F_AMOUNT;
        break;
    case 7:
        if (IS("card_id"))
            return F_CARD_ID;
        if (IS("user_id"))
            return F_CUSTOMER_ID;
        if (IS("country"))
            return F_COUNTRY;
        if (IS("channel"))
            return F_CHANNEL;
        break;
    case 8:
        if (IS("currency"))
            return F_CURRENCY;
        break;
    case 9:
        if (IS("timestamp"))
            return F_TIMESTAMP;
        break;
    case 10:
        if (IS("account_id"))
            return F_ACCOUNT_ID;
        break;
    case 11:
        if (IS("merchant_id"))
            return F_MERCHANT_ID;
        if (IS("customer_id"))
            return F_CUSTOMER_ID;
        break;
    case 14:
        if (IS("transaction_id"))
            return F_TRANSACTION_ID;
        break;
    case 15:
        if (IS("counterparty_id"))
            return F_COUNTERPARTY_ID;
        break;
    case 17:
        if (IS("merchant_category"))
            return F_MERCHANT_CATEGORY;
        break;
    }
    return F_UNKNOWN;
#undef IS
}

/* A key with escapes ("amo\u0075nt") is the same key once unescaped. */
__attribute__((always_inline)) static inline int key_lookup(const jstr *key) {
    if (!key->esc)
        return field_lookup(key->ptr, key->len);
    if (key->len > KEY_UNESCAPE_MAX)
        return F_UNKNOWN;
    char buf[KEY_UNESCAPE_MAX];
    return field_lookup(buf, unescape(key->ptr, key->len, buf));
}

/* Where each string field goes in fw_txn, plus one; 0: not a string field. */
static const uint16_t str_at[F_COUNT] = {
    [F_TRANSACTION_ID] = offsetof(fw_txn, transaction_id) + 1,
    [F_ACCOUNT_ID] = offsetof(fw_txn, account_id) + 1,
    [F_CARD_ID] = offsetof(fw_txn, card_id) + 1,
    [F_CUSTOMER_ID] = offsetof(fw_txn, customer_id) + 1,
    [F_TYPE] = offsetof(fw_txn, type_raw) + 1,
    [F_CURRENCY] = offsetof(fw_txn, currency) + 1,
    [F_MERCHANT_ID] = offsetof(fw_txn, merchant_id) + 1,
    [F_MERCHANT_CATEGORY] = offsetof(fw_txn, merchant_category) + 1,
    [F_COUNTRY] = offsetof(fw_txn, country) + 1,
    [F_COUNTERPARTY_ID] = offsetof(fw_txn, counterparty_id) + 1,
    [F_CHANNEL] = offsetof(fw_txn, channel) + 1,
};

static inline fw_str *str_slot(fw_txn *t, int f) {
    return f >= 0 && f < F_COUNT && str_at[f] ? (fw_str *)(void *)((char *)t + str_at[f] - 1)
                                              : NULL;
}

static const char *json_type_name(char c) {
    switch (c) {
    case '"': return "a string";
    case '{': return "an object";
    case '[': return "an array";
    case 't': case 'f': return "a boolean";
    case 'n': return "null";
    default: return "a number";
    }
}

/* How much of the value at @p v to quote: a string through its closing
 * quote, a scalar up to its delimiter, a container's first bytes. */
static size_t value_extent(const char *v, const char *end) {
    size_t avail = (size_t)(end - v), i = 1;
    if (avail > 48)
        avail = 48;
    if (*v == '"') {
        while (i < avail && v[i] != '"')
            i += v[i] == '\\' ? 2 : 1;
        return i < avail ? i + 1 : avail;
    }
    if (*v == '{' || *v == '[')
        return avail;
    while (i < avail && v[i] != ',' && v[i] != '}' && v[i] != ']' && v[i] != ' ' &&
           v[i] != '\t' && v[i] != '\r' && v[i] != '\n')
        i++;
    return i;
}

static bool wrong_type(jscan *js, const char *field, const char *want) {
    char b[SNIP_MAX];
    const char *v = js->s;
    return fail(js->err, field, off_of(js, v),
                "Field %s must be %s, but is %s at byte %zu: %s.", field, want,
                json_type_name(*v), off_of(js, v), snip(v, value_extent(v, js->end), b));
}

__attribute__((always_inline)) static inline fw_txn_type type_from_name(const char *s, size_t n) {
#define IS(lit) (memcmp(s, lit, sizeof(lit) - 1) == 0)
    switch (n) {
    case 5: if (IS("LOGIN")) return FW_TXN_LOGIN; break;
    case 7: if (IS("DEPOSIT")) return FW_TXN_DEPOSIT; break;
    case 8:
        if (IS("PURCHASE")) return FW_TXN_PURCHASE;
        if (IS("TRANSFER")) return FW_TXN_TRANSFER;
        break;
    case 10: if (IS("WITHDRAWAL")) return FW_TXN_WITHDRAWAL; break;
    case 15: if (IS("PASSWORD_CHANGE")) return FW_TXN_PASSWORD_CHANGE; break;
    }
    return FW_TXN_TYPE_OTHER;
#undef IS
}

/* Integer epoch milliseconds, within TS_MIN_MS..TS_MAX_MS. */
static bool epoch_ms(const char *s, size_t n, int64_t *ms) {
    bool neg = n > 0 && *s == '-';
    s += neg;
    n -= neg;
    if (n == 0 || n > 15) /* 15 digits bound the range, so no overflow below */
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    v = neg ? -v : v;
    if (v < TS_MIN_MS || v > TS_MAX_MS)
        return false;
    *ms = v;
    return true;
}

/* Epoch seconds, ms or µs (@p fmt) as digits with an optional '-' and, for
 * seconds and ms, a fraction; to ms, truncated. No exponent. */
static bool epoch_scaled(const char *s, size_t n, fw_ts_format fmt, int64_t *ms) {
    bool neg = n > 0 && *s == '-';
    size_t i = neg;
    int64_t v = 0, frac = 0;
    int fd = 0, intd = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, intd++)
        if (intd < 18)
            v = v * 10 + (s[i] - '0');
    if (intd == 0 || intd > 18)
        return false;
    int want = fmt == FW_TS_EPOCH_S ? 3 : fmt == FW_TS_EPOCH_MS ? 0 : -1;
    if (i < n && s[i] == '.' && want >= 0) {
        i++;
        if (i >= n)
            return false;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            if (fd < want) {
                frac = frac * 10 + (s[i] - '0');
                fd++;
            }
        while (fd < want) {
            frac *= 10;
            fd++;
        }
    }
    if (i != n)
        return false;
    if (fmt == FW_TS_EPOCH_S) {
        if (v > TS_MAX_MS / 1000 + 1)
            return false;
        v = v * 1000 + frac;
    } else if (fmt == FW_TS_EPOCH_US) {
        v /= 1000;
    }
    v = neg ? -v : v;
    if (v < TS_MIN_MS || v > TS_MAX_MS)
        return false;
    *ms = v;
    return true;
}

/* What a mapped format expects, for messages. */
static const char *ts_expected(const fw_schema *sc) {
    switch (sc ? sc->ts_format : FW_TS_DEFAULT) {
    case FW_TS_EPOCH_S: return "epoch seconds (the mapping's format epoch_s)";
    case FW_TS_EPOCH_MS: return "epoch milliseconds (the mapping's format epoch_ms)";
    case FW_TS_EPOCH_US: return "epoch microseconds (the mapping's format epoch_us)";
    case FW_TS_PATTERN: return "a local time by the mapping's strptime pattern";
    default: return "ISO-8601 with a zone";
    }
}

/* The timestamp @p v (string content or a number token) under the mapping's
 * format, or our default. Shared by the JSON and CSV decoders. */
__attribute__((always_inline)) static inline bool timestamp_value(const fw_schema *sc,
                                                                  fw_decode_error *err,
                                                                  const char *v, size_t n,
                                                                  bool quoted, size_t off,
                                                                  int64_t *ms) {
    fw_ts_format fmt = sc ? sc->ts_format : FW_TS_DEFAULT;
    char b[SNIP_MAX], pb[SNIP_MAX], when[32];
    switch (fmt) {
    case FW_TS_EPOCH_S:
    case FW_TS_EPOCH_MS:
    case FW_TS_EPOCH_US:
        if (epoch_scaled(v, n, fmt, ms))
            return true;
        return fail(err, "timestamp", off,
                    "Field timestamp %s at byte %zu is not %s between years 0000 and 9999.",
                    snip(v, n, b), off, ts_expected(sc));
    case FW_TS_PATTERN:
        if (quoted && fw_schema_parse_pattern(sc->ts_pattern, v, n, sc->ts_zone_ms, ms) ==
                          FW_OK && *ms >= TS_MIN_MS && *ms <= TS_MAX_MS)
            return true;
        return fail(err, "timestamp", off,
                    "Field timestamp \"%s\" at byte %zu does not match the mapping's pattern "
                    "\"%s\".", snip(v, n, b), off,
                    snip(sc->ts_pattern, strlen(sc->ts_pattern), pb));
    case FW_TS_ISO8601:
    case FW_TS_DEFAULT:
        break;
    }
    if (quoted) {
        if (fw_time_parse_iso8601(v, n, ms) == FW_OK && *ms >= TS_MIN_MS && *ms <= TS_MAX_MS)
            return true;
        return fail(err, "timestamp", off,
                    "Field timestamp \"%s\" at byte %zu is not ISO-8601 with a zone, e.g. "
                    "2024-01-15T10:30:00Z or 2024-01-15 10:30:00.123+01:00.", snip(v, n, b),
                    off);
    }
    if (fmt == FW_TS_ISO8601)
        return fail(err, "timestamp", off,
                    "Field timestamp %s at byte %zu is a number, but the mapping's format is "
                    "iso8601 (a string).", snip(v, n, b), off);
    if (!epoch_ms(v, n, ms))
        return fail(err, "timestamp", off,
                    "Field timestamp %s at byte %zu is not integer epoch milliseconds between "
                    "years 0000 and 9999.", snip(v, n, b), off);
    if (*ms < TS_MIN_PLAUSIBLE_MS) {
        /* Epoch seconds read as ms land in January 1970: refuse, don't guess. */
        fw_time_format(*ms, when);
        return fail(err, "timestamp", off,
                    "Field timestamp %s at byte %zu reads as %s in milliseconds; if it is "
                    "epoch seconds, map it: {\"timestamp\": {\"format\": \"epoch_s\"}}.",
                    snip(v, n, b), off, when);
    }
    return true;
}

__attribute__((always_inline)) static inline bool read_timestamp(jscan *js, fw_txn *t) {
    const char *field = field_names[F_TIMESTAMP], *v = js->s;
    if (*v == '"') {
        jstr str;
        if (!scan_string(js, field, &str) || !str_slice(js, field, &str, &t->ts_raw))
            return false;
        return timestamp_value(js->schema, js->err, t->ts_raw.ptr, t->ts_raw.len, true,
                               off_of(js, v), &t->ts_ms);
    }
    if (!num_start(*v) || (js->schema && js->schema->ts_format == FW_TS_PATTERN))
        return wrong_type(js, field, js->schema && js->schema->ts_format != FW_TS_DEFAULT
                                         ? ts_expected(js->schema)
                                         : "an ISO-8601 string or integer epoch milliseconds");
    jnum num;
    if (!scan_number(js, field, &num))
        return false;
    t->ts_raw = (fw_str){ .ptr = num.ptr, .len = num.len };
    return timestamp_value(js->schema, js->err, num.ptr, num.len, false, off_of(js, v),
                           &t->ts_ms);
}

/* Reads the value of known field @p f under the cursor into @p t. */
/* Inlined into parse_record so our own spelling decodes as fast as before the
 * mapped path (which calls it too) existed. */
__attribute__((always_inline)) static inline bool read_field(jscan *js, int f, fw_txn *t) {
    const char *field = field_names[f], *v = js->s;
    size_t off = off_of(js, v);
    char c = *v, b[SNIP_MAX];
    jstr str;
    jnum num;
    double d;

    if (!value_start(c))
        return syntax(js, field, "a JSON value");
    if (c == 'n') { /* null: the field is absent */
        if (!match_lit(js, "null", 4, field))
            return false;
        if ((1ull << f) & REQUIRED_MASK)
            return fail(js->err, field, off, "Required field %s is null at byte %zu.", field,
                        off);
        return true;
    }
    switch (f) {
    case F_TIMESTAMP:
        return read_timestamp(js, t);
    case F_TRANSACTION_ID:
    case F_ACCOUNT_ID:
    case F_CARD_ID:
    case F_CUSTOMER_ID:
    case F_MERCHANT_ID:
    case F_MERCHANT_CATEGORY: /* MCCs are often sent as integers (5411) */
    case F_COUNTERPARTY_ID: {
        fw_str *slot = str_slot(t, f);
        if (c == '"') {
            if (!scan_string(js, field, &str) || !str_slice(js, field, &str, slot))
                return false;
        } else if (num_start(c)) {
            if (!scan_number(js, field, &num))
                return false;
            if (!num.integer) {
                js->s = v;
                return wrong_type(js, field, "a string or an integer");
            }
            *slot = (fw_str){ .ptr = num.ptr, .len = num.len };
        } else {
            return wrong_type(js, field, "a string or an integer");
        }
        if (f == F_TRANSACTION_ID && slot->len == 0)
            return fail(js->err, field, off, "Field transaction_id at byte %zu is empty.",
                        off);
        return true;
    }
    case F_TYPE:
    case F_CURRENCY:
    case F_COUNTRY:
    case F_CHANNEL: {
        fw_str *slot = str_slot(t, f);
        if (c != '"')
            return wrong_type(js, field, "a string");
        if (!scan_string(js, field, &str) || !str_slice(js, field, &str, slot))
            return false;
        if (js->schema && (f == F_TYPE || f == F_CHANNEL)) { /* their values -> ours */
            const fw_str *to =
                f == F_TYPE
                    ? fw_schema_map_value(js->schema->type_map, js->schema->ntype_map,
                                          slot->ptr, slot->len)
                    : fw_schema_map_value(js->schema->channel_map, js->schema->nchannel_map,
                                          slot->ptr, slot->len);
            if (to)
                *slot = *to;
        }
        if (f == F_TYPE)
            t->type = type_from_name(slot->ptr, slot->len);
        return true;
    }
    default:
        break;
    }
    /* The numeric fields. */
    if (!num_start(c))
        return wrong_type(js, field, "a number");
    if (!read_double(js, field, &d, &num))
        return false;
    switch (f) {
    case F_AMOUNT:
        if (d < 0)
            return fail(js->err, field, off,
                        "Field amount %s at byte %zu is negative; amounts must be >= 0.",
                        snip(num.ptr, num.len, b), off);
        t->amount = d == 0 ? 0.0 : d; /* -0 is accepted as 0 */
        t->amount_raw = (fw_str){ .ptr = num.ptr, .len = num.len };
        set_amount_dec(t, &num);
        return true;
    case F_LAT:
    case F_LON: {
        double lim = f == F_LAT ? 90 : 180;
        if (d < -lim || d > lim)
            return fail(js->err, field, off,
                        "Field %s %s at byte %zu is outside the range -%g..%g.", field,
                        snip(num.ptr, num.len, b), off, lim, lim);
        if (f == F_LAT) {
            t->lat = d;
            t->has |= FW_TXN_HAS_LAT;
        } else {
            t->lon = d;
            t->has |= FW_TXN_HAS_LON;
        }
        return true;
    }
    default: /* V1..V28 */
        if (fabs(d) > FLT_MAX) /* converting it to float would be undefined */
            return fail(js->err, field, off,
                        "Field %s %s at byte %zu is outside the range of a 32-bit float.",
                        field, snip(num.ptr, num.len, b), off);
        t->v[f - F_V1] = (float)d;
        t->v_mask |= 1u << (f - F_V1);
        return true;
    }
}

/* ---- extra fields (fw_txn_extras) ---- */

/* Index of the extra field named @p key (escapes undone), or -1. */
static int extra_lookup(const fw_txn_extras *x, const jstr *key) {
    char buf[KEY_UNESCAPE_MAX];
    const char *k = key->ptr;
    size_t n = key->len;
    if (key->esc) {
        if (n > KEY_UNESCAPE_MAX)
            return -1;
        n = unescape(k, n, buf);
        k = buf;
    }
    return fw_txn_extras_find(x, k, n);
}

/* Captures extra field @p i, the cursor on its value: a slice of the string's
 * content (unescaped into the arena when it has escapes, as every string) or
 * of the number, true or false token. null leaves it absent. */
static bool read_extra(jscan *js, int i, fw_txn *t) {
    const char *field = js->extras->name[i], *v = js->s;
    jstr str;
    jnum num;
    switch (*v) {
    case '"':
        if (!scan_string(js, field, &str) || !str_slice(js, field, &str, &t->extra[i]))
            return false;
        t->extra_str |= (uint16_t)(1u << i);
        break;
    case 'n':
        return match_lit(js, "null", 4, field);
    case 't':
    case 'f': {
        size_t len = *v == 't' ? 4 : 5;
        if (!match_lit(js, *v == 't' ? "true" : "false", len, field))
            return false;
        t->extra[i] = (fw_str){ .ptr = v, .len = len };
        break;
    }
    case '{':
    case '[':
        return wrong_type(js, field, "a string, a number, true or false");
    default:
        if (!value_start(*v))
            return syntax(js, field, "a JSON value");
        if (!scan_number(js, field, &num))
            return false;
        t->extra[i] = (fw_str){ .ptr = num.ptr, .len = num.len };
        break;
    }
    t->extra_mask |= (uint16_t)(1u << i);
    return true;
}

/* A record-level key no field of ours took: an extra field when the set
 * names it (refused when given twice, as our fields are), else skipped. */
static bool unknown_member(jscan *js, const jstr *key, const char *kpos, int depth,
                           fw_txn *t, uint64_t *seen) {
    int x = depth == 1 && js->extras ? extra_lookup(js->extras, key) : -1;
    if (x >= 0) {
        uint64_t bit = 1ull << (F_COUNT + x);
        if (*seen & bit) {
            char b[SNIP_MAX];
            return fail(js->err, js->extras->name[x], off_of(js, kpos),
                        "Field %s is given twice: \"%s\" at byte %zu repeats it.",
                        js->extras->name[x], snip(key->ptr, key->len, b), off_of(js, kpos));
        }
        *seen |= bit;
        return read_extra(js, x, t);
    }
    fw_str saved = js->unknown;
    js->unknown = (fw_str){ .ptr = key->ptr, .len = key->len };
    if (depth == 1 && js->nunknown < UNKNOWN_NOTED)
        js->unknown_keys[js->nunknown++] = js->unknown;
    if (!skip_value(js, depth))
        return false;
    js->unknown = saved;
    return true;
}

static bool not_an_object(jscan *js) {
    char b[SNIP_MAX];
    const char *what;
    size_t avail = (size_t)(js->end - js->s);
    switch (*js->s) {
    case '[': what = "a JSON array"; break;
    case '"': what = "a JSON string"; break;
    case 't':
    case 'f':
    case 'n': /* only a real literal, not any word starting with t, f or n */
        if ((avail >= 4 && memcmp(js->s, "true", 4) == 0) ||
            (avail >= 5 && memcmp(js->s, "false", 5) == 0)) {
            what = "a JSON boolean";
            break;
        }
        if (avail >= 4 && memcmp(js->s, "null", 4) == 0) {
            what = "JSON null";
            break;
        }
        return fail(js->err, NULL, off_of(js, js->s),
                    "Record is not JSON: it starts with %s at byte %zu.",
                    found(js, js->s, b), off_of(js, js->s));
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9': what = "a JSON number"; break;
    default:
        return fail(js->err, NULL, off_of(js, js->s),
                    "Record is not JSON: it starts with %s at byte %zu.",
                    found(js, js->s, b), off_of(js, js->s));
    }
    return fail(js->err, NULL, off_of(js, js->s),
                "Record is %s, not a JSON object (at byte %zu).", what, off_of(js, js->s));
}

/* ---- another team's spelling (schema.h) ---- */

/* Our field for key @p key at the mapping level starting at @p first; *child
 * is the level below when the key leads to mapped fields inside an object.
 * At the record level our own names still count unless mapped elsewhere. */
static int mapped_lookup(const jscan *js, int first, const jstr *key, int *child) {
    char buf[KEY_UNESCAPE_MAX];
    const char *k = key->ptr;
    size_t n = key->len;
    *child = -1;
    if (key->esc) {
        if (n > KEY_UNESCAPE_MAX)
            return F_UNKNOWN;
        n = unescape(k, n, buf);
        k = buf;
    }
    const fw_schema_key *sk = fw_schema_find(js->schema, first, k, n);
    if (sk) {
        *child = sk->child;
        return sk->field;
    }
    if (first != 0)
        return F_UNKNOWN;
    int f = field_lookup(k, n);
    return f != F_UNKNOWN && (js->schema->mapped & (1ull << f)) ? F_UNKNOWN : f;
}

static bool mapped_object(jscan *js, int first, int depth, fw_txn *t, uint64_t *seen);

/* One member whose key was read, the cursor on its value, at object level
 * @p depth (1: the record) and mapping level @p first. */
static bool mapped_member(jscan *js, int first, int depth, const jstr *key, const char *kpos,
                          fw_txn *t, uint64_t *seen) {
    int child;
    int f = mapped_lookup(js, first, key, &child);
    if (child >= 0 && *js->s == '{')
        return mapped_object(js, child, depth + 1, t, seen);
    if (f == F_UNKNOWN)
        return unknown_member(js, key, kpos, depth, t, seen);
    if (*seen & (1ull << f)) {
        char b[SNIP_MAX];
        return fail(js->err, field_names[f], off_of(js, kpos),
                    "Field %s is given twice: \"%s\" at byte %zu repeats it.", field_names[f],
                    snip(key->ptr, key->len, b), off_of(js, kpos));
    }
    *seen |= 1ull << f;
    return read_field(js, f, t);
}

/* An object holding mapped fields (a dotted path's inner level). */
static bool mapped_object(jscan *js, int first, int depth, fw_txn *t, uint64_t *seen) {
    if (depth > JSON_MAX_DEPTH)
        return fail(js->err, NULL, off_of(js, js->s),
                    "Record nests objects and arrays deeper than %d levels (at byte %zu).",
                    JSON_MAX_DEPTH, off_of(js, js->s));
    js->s++;
    skip_ws(js);
    if (js->s >= js->end)
        return truncated(js, NULL);
    if (*js->s == '}') {
        js->s++;
        return true;
    }
    for (bool more = true; more;) {
        jstr key;
        const char *kpos = js->s;
        if (!member_key(js, &key) || !mapped_member(js, first, depth, &key, kpos, t, seen) ||
            !member_end(js, '}', &more))
            return false;
    }
    return true;
}

/* "Required field transaction_id is missing; the record has txn_id, amt, ts
 * (closest: txn_id) — map it with --schema." */
static bool missing(fw_decode_error *err, const fw_schema *sc, int f, const fw_str *unknown,
                    unsigned nunknown, size_t off) {
    char list[160], b[SNIP_MAX], from[96] = "";
    size_t o = 0, best = SIZE_MAX;
    unsigned closest = 0;
    const char *name = field_names[f];
    if (sc && (sc->mapped & (1ull << f)))
        snprintf(from, sizeof(from), " (mapped from \"%s\")", snip(sc->source[f],
                 strlen(sc->source[f]), b));
    if (nunknown == 0)
        return fail(err, name, off, "Required field %s%s is missing%s.", name, from,
                    f == F_AMOUNT && !from[0] ? " (it may also be spelled Amount)" : "");
    list[0] = '\0';
    for (unsigned i = 0; i < nunknown; i++) {
        size_t d = fw_str_edit_distance(fw_str_c(name), unknown[i]);
        /* A shared first letter is the better guess among equals ("ts" for
         * timestamp rather than "amt"). */
        if (d > 0 && (unknown[i].ptr[0] | 32) == name[0])
            d--;
        /* A part of our name ("id" of transaction_id) is a good guess too. */
        if (unknown[i].len >= 2 && unknown[i].len < 32) {
            char low[32];
            for (size_t k = 0; k < unknown[i].len; k++)
                low[k] = (char)(unknown[i].ptr[k] | (unknown[i].ptr[k] >= 'A' &&
                                                     unknown[i].ptr[k] <= 'Z' ? 32 : 0));
            low[unknown[i].len] = '\0';
            if (strstr(name, low))
                d = d > unknown[i].len ? d - unknown[i].len : 0;
        }
        if (d < best) {
            best = d;
            closest = i;
        }
        int w = snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "",
                         snip(unknown[i].ptr, unknown[i].len < 24 ? unknown[i].len : 24, b));
        if (w < 0 || (size_t)w >= sizeof(list) - o) {
            list[o] = '\0';
            break;
        }
        o += (size_t)w;
    }
    return fail(err, name, off,
                "Required field %s%s is missing; the record has %s%s (closest: %s) - map it "
                "with --schema.", name, from, list, nunknown == UNKNOWN_NOTED ? ", ..." : "",
                snip(unknown[closest].ptr, unknown[closest].len < 24 ? unknown[closest].len
                                                                     : 24, b));
}

/* The shape's slots after the known fields: the record's start, and after
 * a field no name of ours takes. */
enum { SHAPE_START = F_COUNT, SHAPE_UNKNOWN = F_COUNT + 1 };
_Static_assert(sizeof(((fw_txn_shape *)0)->next) / sizeof(((fw_txn_shape *)0)->next[0]) ==
                   SHAPE_UNKNOWN + 1, "fw_txn_shape has a slot per field and two more");

#if defined(__SSE2__)
/* Bit i: a[i] == b[i], for 16 bytes. */
__attribute__((always_inline)) static inline uint32_t eq16(const char *a, const char *b) {
    return (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)a),
                                                      _mm_loadu_si128((const __m128i *)b)));
}
#endif

/* The field whose name the shape expects under the cursor: the name with
 * its quotes and ':' compared in one step, the cursor then after ':'. -1:
 * another name, or none learned yet. */
__attribute__((always_inline)) static inline int shape_guess(jscan *js, const fw_txn_shape *sh,
                                                             int prev) {
    uint32_t need = sh->next[prev].mask;
    size_t len = sh->next[prev].len;
    const char *k = sh->next[prev].key;
    if (!need)
        return -1;
#if defined(__SSE2__)
    if (js->end - js->s >= FW_TXN_SHAPE_KEY) {
        uint32_t eq = eq16(js->s, k) | eq16(js->s + 16, k + 16) << 16;
        if ((eq & need) != need)
            return -1;
        js->s += len;
        return sh->next[prev].field;
    }
#endif
    if ((size_t)(js->end - js->s) < len || memcmp(js->s, k, len) != 0)
        return -1;
    js->s += len;
    return sh->next[prev].field;
}

/* Learns that field @p f, named by the bytes from @p kpos to the ':' under the
 * cursor, came after @p prev. Names with space before the ':' or longer than
 * the shape compares are not learned. */
static void shape_learn(fw_txn_shape *sh, int prev, const char *kpos, const char *colon, int f) {
    size_t len = (size_t)(colon - kpos) + 1;
    if (f < 0 || len > FW_TXN_SHAPE_KEY || colon[-1] != '"') {
        sh->next[prev].mask = 0;
        return;
    }
    memset(sh->next[prev].key, 0, FW_TXN_SHAPE_KEY);
    memcpy(sh->next[prev].key, kpos, len);
    sh->next[prev].mask = len == 32 ? 0xffffffffu : (1u << len) - 1;
    sh->next[prev].len = (uint8_t)len;
    sh->next[prev].field = (int8_t)f;
}

/* @p extras is js->extras, as a constant where the caller has one: js escapes
 * into the scanner, so a NULL read from it would be tested per unknown key. */
__attribute__((always_inline)) static inline bool parse_record(jscan *js, fw_txn *t,
                                                                const fw_txn_extras *extras,
                                                                fw_txn_shape *shape) {
    uint64_t seen = 0;
    int prev = SHAPE_START;
    skip_ws(js);
    if (js->s >= js->end)
        return fail(js->err, NULL, 0, "Record is empty; a JSON object was expected.");
    if (*js->s != '{')
        return not_an_object(js);
    const char *obj = js->s++;
    skip_ws(js);
    if (js->s >= js->end)
        return truncated(js, NULL);
    if (*js->s == '}') {
        js->s++;
    } else {
        /* member_key and member_end spelled out: this is the decoder's hottest
         * loop, and through them it took 0.3-0.6 % more instructions per
         * record (callgrind). */
        for (;;) {
            jstr key;
            const char *kpos = js->s;
            int f = shape ? shape_guess(js, shape, prev) : -1;
            if (f >= 0) {
                key.ptr = kpos + 1; /* raw, for a message only */
                key.len = (size_t)(js->s - kpos) - 3;
                key.esc = false;
            } else {
                if (*js->s != '"')
                    return syntax(js, NULL, "a field name in double quotes");
                if (!scan_string(js, NULL, &key))
                    return false;
                skip_ws(js);
                if (js->s >= js->end || *js->s != ':')
                    return syntax(js, NULL, "':' after a field name");
                f = js->schema ? F_UNKNOWN : key_lookup(&key);
                if (shape)
                    shape_learn(shape, prev, kpos, js->s, f);
                js->s++;
            }
            prev = f >= 0 ? f : SHAPE_UNKNOWN;
            skip_ws(js);
            if (js->s >= js->end)
                return truncated(js, NULL);
            if (js->schema) {
                if (!mapped_member(js, 0, 1, &key, kpos, t, &seen))
                    return false;
            } else if (f == F_UNKNOWN && extras) { /* NULL in fw_txn_decode_json */
                if (!unknown_member(js, &key, kpos, 1, t, &seen))
                    return false;
            } else if (f == F_UNKNOWN) {
                js->unknown = (fw_str){ .ptr = key.ptr, .len = key.len };
                if (js->nunknown < UNKNOWN_NOTED)
                    js->unknown_keys[js->nunknown++] = js->unknown;
                if (!skip_value(js, 1))
                    return false;
                js->unknown = FW_STR_NULL;
            } else {
                if (seen & (1ull << f)) {
                    char b[SNIP_MAX];
                    return fail(js->err, field_names[f], off_of(js, kpos),
                                "Field %s is given twice: \"%s\" at byte %zu repeats it.",
                                field_names[f], snip(key.ptr, key.len, b), off_of(js, kpos));
                }
                seen |= 1ull << f;
                if (!read_field(js, f, t))
                    return false;
            }
            skip_ws(js);
            if (js->s >= js->end)
                return truncated(js, NULL);
            if (*js->s == '}') {
                js->s++;
                break;
            }
            if (*js->s != ',')
                return syntax(js, NULL, "',' or '}'");
            js->s++;
            skip_ws(js);
            if (js->s >= js->end)
                return truncated(js, NULL);
        }
    }
    t->raw = (fw_str){ .ptr = obj, .len = (size_t)(js->s - obj) };
    t->raw_is_json = !js->schema; /* a mapped record is written in our spelling */
    skip_ws(js);
    if (js->s < js->end) {
        char b[SNIP_MAX];
        size_t avail = (size_t)(js->end - js->s);
        return fail(js->err, NULL, off_of(js, js->s),
                    "Record has data after the JSON object at byte %zu: \"%s\".",
                    off_of(js, js->s), snip(js->s, avail, b));
    }
    for (int f = 0; (REQUIRED_MASK & ~seen) && f < F_V1; f++)
        if (((1ull << f) & REQUIRED_MASK) && !(seen & (1ull << f)))
            return missing(js->err, js->schema, f, js->unknown_keys, js->nunknown,
                           off_of(js, js->end));
    return true;
}

/* The fields a decode fills, zeroed with plain 16-byte stores: memset's
 * `rep stos` has a start-up cost as large as the work here. */
static inline void zero_txn(fw_txn *t) {
#if defined(__SSE2__)
    char *p = (char *)t;
    size_t i = 0;
    for (; i + 16 <= FW_TXN_ZEROED; i += 16)
        _mm_storeu_si128((__m128i *)(void *)(p + i), _mm_setzero_si128());
    memset(p + i, 0, FW_TXN_ZEROED - i);
#else
    memset(t, 0, FW_TXN_ZEROED);
#endif
}

/* Field by field, not with an initializer: unknown_keys is only read up to
 * nunknown, and zeroing it for every record would cost time. */
static inline void jscan_init(jscan *js, const char *p, size_t n, fw_arena *scratch,
                              fw_decode_error *err, const fw_schema *schema,
                              const fw_txn_extras *extras) {
    js->base = js->s = p;
    js->end = p + n;
    js->scratch = scratch;
    js->err = err;
    js->code = FW_ERR_INVALID;
    js->unknown = FW_STR_NULL;
    js->schema = schema;
    js->extras = extras;
    js->nunknown = 0;
}

static fw_decode_error *err_init(fw_decode_error *err, fw_decode_error *dummy) {
    if (!err)
        err = dummy;
    err->field = NULL;
    err->offset = 0;
    err->reason[0] = '\0';
    return err;
}

fw_err fw_txn_decode_json_shaped(const char *p, size_t n, fw_arena *scratch, size_t max_bytes,
                                 fw_txn_shape *shape, fw_txn *out, fw_decode_error *err) {
    fw_decode_error dummy;
    err = err_init(err, &dummy);
    zero_txn(out);
    if (!max_bytes)
        max_bytes = FW_TXN_DEFAULT_MAX_BYTES;
    if (n > max_bytes) {
        fail(err, NULL, max_bytes, "Record is %zu bytes, over the limit of %zu bytes.", n,
             max_bytes);
        return FW_ERR_INVALID;
    }
    if (!p) { /* no payload at all (a Kafka tombstone): an empty record */
        p = "";
        n = 0;
    }
    jscan js;
    jscan_init(&js, p, n, scratch, err, NULL, NULL);
    return parse_record(&js, out, NULL, shape) ? FW_OK : js.code;
}

fw_err fw_txn_decode_json(const char *p, size_t n, fw_arena *scratch, size_t max_bytes,
                          fw_txn *out, fw_decode_error *err) {
    return fw_txn_decode_json_shaped(p, n, scratch, max_bytes, NULL, out, err);
}

/* Through a mapping, or with extra fields: the general path. */
static fw_err decode_general(const char *p, size_t n, fw_arena *scratch, size_t max_bytes,
                             const fw_schema *schema, const fw_txn_extras *extras, fw_txn *out,
                             fw_decode_error *err) {
    fw_decode_error dummy;
    err = err_init(err, &dummy);
    zero_txn(out);
    out->extras = extras; /* read only when a field was captured */
    if (!max_bytes)
        max_bytes = FW_TXN_DEFAULT_MAX_BYTES;
    if (n > max_bytes) {
        fail(err, NULL, max_bytes, "Record is %zu bytes, over the limit of %zu bytes.", n,
             max_bytes);
        return FW_ERR_INVALID;
    }
    if (!p) {
        p = "";
        n = 0;
    }
    jscan js;
    jscan_init(&js, p, n, scratch, err, schema, extras);
    return parse_record(&js, out, extras, NULL) ? FW_OK : js.code;
}

fw_err fw_txn_decode_json_mapped(const char *p, size_t n, fw_arena *scratch, size_t max_bytes,
                                 const fw_schema *schema, fw_txn *out, fw_decode_error *err) {
    if (!schema)
        return fw_txn_decode_json(p, n, scratch, max_bytes, out, err);
    return decode_general(p, n, scratch, max_bytes, schema, NULL, out, err);
}

fw_err fw_txn_decode_json_ex(const char *p, size_t n, fw_arena *scratch, size_t max_bytes,
                             const fw_schema *schema, const fw_txn_extras *extras, fw_txn *out,
                             fw_decode_error *err) {
    if (extras && !extras->n)
        extras = NULL; /* the empty set: exactly the decoders without extras */
    if (!extras)
        return fw_txn_decode_json_mapped(p, n, scratch, max_bytes, schema, out, err);
    return decode_general(p, n, scratch, max_bytes, schema, extras, out, err);
}

fw_err fw_txn_extras_init(fw_txn_extras *x, const char *const *names, size_t n, char *errstr,
                          size_t errstr_size) {
    memset(x, 0, sizeof(*x));
    if (n > FW_TXN_MAX_EXTRAS) {
        snprintf(errstr, errstr_size, "extra fields: %zu named, at most %d", n,
                 FW_TXN_MAX_EXTRAS);
        return FW_ERR_INVALID;
    }
    for (size_t i = 0; i < n; i++) {
        size_t len = names[i] ? strlen(names[i]) : 0;
        if (len == 0 || len > FW_TXN_EXTRA_NAME_MAX) {
            snprintf(errstr, errstr_size, "extra field %zu: name \"%.*s\" must have 1 to %d "
                     "bytes", i + 1, 40, names[i] ? names[i] : "", FW_TXN_EXTRA_NAME_MAX);
            return FW_ERR_INVALID;
        }
        if (field_lookup(names[i], len) != F_UNKNOWN) {
            snprintf(errstr, errstr_size, "extra field \"%s\" is a field of the schema (%s): "
                     "use it by name", names[i], field_names[field_lookup(names[i], len)]);
            return FW_ERR_INVALID;
        }
        if (fw_txn_extras_find(x, names[i], len) >= 0) {
            snprintf(errstr, errstr_size, "extra field \"%s\" is named twice", names[i]);
            return FW_ERR_INVALID;
        }
        memcpy(x->name[x->n], names[i], len + 1);
        x->len[x->n++] = (uint8_t)len;
    }
    return FW_OK;
}

int fw_txn_extras_find(const fw_txn_extras *x, const char *name, size_t len) {
    for (unsigned i = 0; x && i < x->n; i++)
        if (x->len[i] == len && memcmp(x->name[i], name, len) == 0)
            return (int)i;
    return -1;
}

int fw_txn_field_index(const char *name, size_t n) {
    int f = name ? field_lookup(name, n) : F_UNKNOWN;
    /* Canonical spellings only: Amount and user_id are aliases. */
    if (f == F_UNKNOWN || strlen(field_names[f]) != n || memcmp(field_names[f], name, n))
        return -1;
    return f;
}

const char *fw_txn_field_name(int f) { return f >= 0 && f < F_COUNT ? field_names[f] : ""; }

/* ---- semicolon records ---- */

/* True when s[0..n) is exactly one strict JSON number. */
static bool is_json_number(const char *s, size_t n, jnum *num) {
    fw_decode_error e;
    jscan js = { .base = s, .s = s, .end = s + n, .err = &e, .code = FW_ERR_INVALID };
    return n > 0 && scan_number(&js, NULL, num) && js.s == js.end;
}

/* origin and target: non-empty, printable, valid UTF-8, and free of '"' and
 * '\\', so a built JSON object holds them without surprises. */
static bool check_account(const char *s, size_t n, const char *field, const char *what,
                          size_t off, fw_decode_error *err) {
    if (n == 0)
        return fail(err, field, off, "Field %s (%s) at byte %zu is empty.", field, what, off);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
                return fail(err, field, off + i,
                            "Field %s (%s) has a forbidden character 0x%02x at byte %zu.",
                            field, what, c, off + i);
            i++;
            continue;
        }
        int len = utf8_seq((const unsigned char *)s + i, (const unsigned char *)s + n);
        if (len <= 0)
            return fail(err, field, off + i,
                        "Field %s (%s) has invalid UTF-8 (byte 0x%02x) at byte %zu.", field,
                        what, c, off + i);
        i += (size_t)len;
    }
    return true;
}

fw_err fw_txn_decode_semicolon(const char *p, size_t n, fw_str synth_id, size_t max_bytes,
                               fw_txn *out, fw_decode_error *err) {
    fw_decode_error dummy;
    const char *part[4];
    size_t len[4], nparts = 0;
    char b[SNIP_MAX];
    err = err_init(err, &dummy);
    memset(out, 0, sizeof(*out));
    if (!max_bytes)
        max_bytes = FW_TXN_DEFAULT_MAX_BYTES;
    if (n > max_bytes) {
        fail(err, NULL, max_bytes, "Record is %zu bytes, over the limit of %zu bytes.", n,
             max_bytes);
        return FW_ERR_INVALID;
    }
    if (!p) {
        p = "";
        n = 0;
    }
    while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r')) /* line endings */
        n--;
    if (n == 0) {
        fail(err, NULL, 0, "Record is empty; timestamp;origin;target;amount was expected.");
        return FW_ERR_INVALID;
    }
    for (const char *s = p, *end = p + n;;) {
        const char *semi = memchr(s, ';', (size_t)(end - s));
        const char *stop = semi ? semi : end;
        if (nparts == 4) {
            nparts++;
            break;
        }
        part[nparts] = s;
        len[nparts++] = (size_t)(stop - s);
        if (!semi)
            break;
        s = semi + 1;
    }
    if (nparts != 4) {
        fail(err, NULL, 0,
             "Record has %s%zu fields separated by ';'; expected 4: "
             "timestamp;origin;target;amount.", nparts > 4 ? "more than " : "",
             nparts > 4 ? (size_t)4 : nparts);
        return FW_ERR_INVALID;
    }
    size_t off[4];
    for (int i = 0; i < 4; i++)
        off[i] = (size_t)(part[i] - p);

    if (fw_time_parse_any(part[0], len[0], &out->ts_ms) != FW_OK || out->ts_ms < TS_MIN_MS ||
        out->ts_ms > TS_MAX_MS) {
        fail(err, "timestamp", 0,
             "Field timestamp \"%s\" is not RFC 850 (Sunday, 23-Jul-17 01:06:47 UTC), "
             "ISO-8601 with a zone, or epoch milliseconds.", snip(part[0], len[0], b));
        return FW_ERR_INVALID;
    }
    if (!check_account(part[1], len[1], "account_id", "origin, 2nd field", off[1], err) ||
        !check_account(part[2], len[2], "counterparty_id", "target, 3rd field", off[2], err))
        return FW_ERR_INVALID;
    jnum num;
    double d = 0;
    if (!is_json_number(part[3], len[3], &num)) {
        fail(err, "amount", off[3],
             "Field amount \"%s\" at byte %zu is not a number (digits, optional '-', "
             "fraction and exponent as in JSON).", snip(part[3], len[3], b), off[3]);
        return FW_ERR_INVALID;
    }
    int rc = num_to_double(&num, &d);
    if (rc == 1) {
        fail(err, "amount", off[3], "Field amount at byte %zu has %zu characters; at most %d "
             "are accepted.", off[3], len[3], NUM_TOKEN_MAX);
        return FW_ERR_INVALID;
    }
    if (rc == 2 || !isfinite(d)) {
        fail(err, "amount", off[3], "Field amount %s at byte %zu is not a finite number.",
             snip(part[3], len[3], b), off[3]);
        return FW_ERR_INVALID;
    }
    if (d < 0) {
        fail(err, "amount", off[3],
             "Field amount %s at byte %zu is negative; amounts must be >= 0.",
             snip(part[3], len[3], b), off[3]);
        return FW_ERR_INVALID;
    }
    out->transaction_id = synth_id;
    out->ts_raw = (fw_str){ .ptr = part[0], .len = len[0] };
    out->account_id = (fw_str){ .ptr = part[1], .len = len[1] };
    out->counterparty_id = (fw_str){ .ptr = part[2], .len = len[2] };
    out->amount = d == 0 ? 0.0 : d;
    out->amount_raw = (fw_str){ .ptr = part[3], .len = len[3] };
    set_amount_dec(out, &num);
    out->type = FW_TXN_TRANSFER;
    out->raw = (fw_str){ .ptr = p, .len = n };
    out->raw_is_json = false;
    return FW_OK;
}

/* ---- CSV records ---- */

/* One RFC 4180 cell at *ps: its content (between the quotes when quoted),
 * whether it was quoted and holds doubled quotes. Moves past the cell and a
 * following ','. *last turns true at the end of the line. */
static bool csv_cell(const char **ps, const char *end, fw_str *cell, bool *quoted, bool *dq,
                     bool *last) {
    const char *s = *ps;
    *dq = false;
    *quoted = s < end && *s == '"';
    if (*quoted) {
        const char *c = ++s;
        for (;;) {
            const char *q = memchr(s, '"', (size_t)(end - s));
            if (!q)
                return false; /* unterminated: a record is one line */
            if (q + 1 < end && q[1] == '"') {
                *dq = true;
                s = q + 2;
                continue;
            }
            *cell = (fw_str){ .ptr = c, .len = (size_t)(q - c) };
            s = q + 1;
            break;
        }
        if (s < end && *s != ',')
            return false; /* text after the closing quote */
    } else {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *stop = comma ? comma : end;
        if (memchr(s, '"', (size_t)(stop - s)))
            return false; /* a quote inside an unquoted cell */
        *cell = (fw_str){ .ptr = s, .len = (size_t)(stop - s) };
        s = stop;
    }
    *last = s >= end;
    *ps = s + !*last;
    return true;
}

/* Strips a line ending and a UTF-8 byte order mark. */
static void csv_trim(const char **p, size_t *n) {
    while (*n > 0 && ((*p)[*n - 1] == '\n' || (*p)[*n - 1] == '\r'))
        (*n)--;
    if (*n >= 3 && memcmp(*p, "\xef\xbb\xbf", 3) == 0) {
        *p += 3;
        *n -= 3;
    }
}

/* Our field for a column name: a mapped source of that exact name, else
 * our own spelling unless mapped elsewhere. */
static int csv_field(const fw_schema *sc, const char *k, size_t n) {
    if (sc) {
        for (int f = 0; f < F_COUNT; f++)
            if ((sc->mapped & (1ull << f)) && strlen(sc->source[f]) == n &&
                memcmp(sc->source[f], k, n) == 0)
                return f;
    }
    int f = field_lookup(k, n);
    return f != F_UNKNOWN && sc && (sc->mapped & (1ull << f)) ? F_UNKNOWN : f;
}

/* The name of column field @p f: ours, or an extra field's. */
static const char *csv_field_name(const fw_csv_columns *c, int f) {
    return f >= F_COUNT ? c->extras->name[f - F_COUNT] : field_names[f];
}

fw_err fw_csv_columns_init(fw_csv_columns *c, const char *p, size_t n, const fw_schema *sc,
                           char *errstr, size_t errstr_size) {
    return fw_csv_columns_init_ex(c, p, n, sc, NULL, errstr, errstr_size);
}

fw_err fw_csv_columns_init_ex(fw_csv_columns *c, const char *p, size_t n, const fw_schema *sc,
                              const fw_txn_extras *extras, char *errstr, size_t errstr_size) {
    size_t used = 0;
    uint64_t seen = 0;
    int col_of[F_COUNT + FW_TXN_MAX_EXTRAS];
    memset(c, 0, sizeof(*c));
    c->extras = extras && extras->n ? extras : NULL;
    csv_trim(&p, &n);
    if (n == 0) {
        snprintf(errstr, errstr_size, "CSV header is empty; a line of column names was "
                 "expected");
        return FW_ERR_INVALID;
    }
    for (const char *s = p, *end = p + n;;) {
        fw_str cell;
        bool quoted, dq, last;
        if (!csv_cell(&s, end, &cell, &quoted, &dq, &last)) {
            snprintf(errstr, errstr_size, "CSV header: column %d has a stray or unterminated "
                     "quote", c->ncols + 1);
            return FW_ERR_INVALID;
        }
        if (c->ncols >= FW_CSV_MAX_COLUMNS) {
            snprintf(errstr, errstr_size, "CSV header has more than %d columns",
                     FW_CSV_MAX_COLUMNS);
            return FW_ERR_INVALID;
        }
        int i = c->ncols++;
        /* Names are kept (quotes undoubled) for messages; a name with "" is no
         * field name of ours or a mapping's. */
        int f = dq ? F_UNKNOWN : csv_field(sc, cell.ptr, cell.len);
        if (f == F_UNKNOWN && !dq && c->extras) {
            int x = fw_txn_extras_find(c->extras, cell.ptr, cell.len);
            f = x >= 0 ? F_COUNT + x : F_UNKNOWN;
        }
        c->field[i] = (int8_t)f;
        size_t keep = cell.len < FW_CSV_HEADER_MAX - used ? cell.len : 0;
        memcpy(c->names + used, cell.ptr, keep);
        c->name_off[i] = (uint16_t)used;
        c->name_len[i] = (uint16_t)keep;
        used += keep;
        if (f != F_UNKNOWN) {
            if (seen & (1ull << f)) {
                snprintf(errstr, errstr_size, "CSV header: columns %d and %d are both field "
                         "%s", col_of[f] + 1, i + 1, csv_field_name(c, f));
                return FW_ERR_INVALID;
            }
            seen |= 1ull << f;
            col_of[f] = i;
        }
        if (last)
            break;
    }
    for (int f = 0; f < F_V1; f++)
        if (((1ull << f) & REQUIRED_MASK) && !(seen & (1ull << f))) {
            fw_decode_error e;
            fw_str names[UNKNOWN_NOTED];
            unsigned k = 0;
            for (int i = 0; i < c->ncols && k < UNKNOWN_NOTED; i++)
                if (c->field[i] < 0 && c->name_len[i])
                    names[k++] = (fw_str){ .ptr = c->names + c->name_off[i],
                                           .len = c->name_len[i] };
            missing(&e, sc, f, names, k, 0);
            snprintf(errstr, errstr_size, "CSV header has no column for %s: %s",
                     field_names[f], e.reason);
            return FW_ERR_INVALID;
        }
    return FW_OK;
}

/* True when s[0..n) is valid UTF-8 without control characters. */
static bool csv_text_ok(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x80) {
            if (ch < 0x20 || ch == 0x7f)
                return false;
            i++;
            continue;
        }
        int len = utf8_seq((const unsigned char *)s + i, (const unsigned char *)s + n);
        if (len <= 0)
            return false;
        i += (size_t)len;
    }
    return true;
}

/* A number cell: digits, '-', '.', exponent (timestamps: not a string). */
static bool csv_numeric(fw_str v) {
    for (size_t i = 0; i < v.len; i++)
        if (!((v.ptr[i] >= '0' && v.ptr[i] <= '9') || v.ptr[i] == '-' || v.ptr[i] == '.' ||
              v.ptr[i] == 'e' || v.ptr[i] == 'E' || v.ptr[i] == '+'))
            return false;
    return v.len > 0;
}

/* Stores cell @p v (already unquoted) as field @p f of @p t. */
static bool csv_value(const fw_schema *sc, int f, fw_str v, size_t off, fw_txn *t,
                      fw_decode_error *err) {
    const char *field = field_names[f];
    char b[SNIP_MAX];
    if (!csv_text_ok(v.ptr, v.len))
        return fail(err, field, off, "Field %s at byte %zu has a control character or "
                    "invalid UTF-8: \"%s\".", field, off, snip(v.ptr, v.len, b));
    if (f == F_TIMESTAMP) {
        t->ts_raw = v;
        return timestamp_value(sc, err, v.ptr, v.len, !csv_numeric(v), off, &t->ts_ms);
    }
    fw_str *slot = str_slot(t, f);
    if (slot) {
        *slot = v;
        if (sc && (f == F_TYPE || f == F_CHANNEL)) {
            const fw_str *to = f == F_TYPE
                                   ? fw_schema_map_value(sc->type_map, sc->ntype_map, v.ptr,
                                                         v.len)
                                   : fw_schema_map_value(sc->channel_map, sc->nchannel_map,
                                                         v.ptr, v.len);
            if (to)
                *slot = *to;
        }
        if (f == F_TYPE)
            t->type = type_from_name(slot->ptr, slot->len);
        return true;
    }
    jnum num;
    double d = 0;
    if (!is_json_number(v.ptr, v.len, &num))
        return fail(err, field, off, "Field %s \"%s\" at byte %zu is not a number (digits, "
                    "optional '-', fraction and exponent as in JSON).", field,
                    snip(v.ptr, v.len, b), off);
    int rc = num_to_double(&num, &d);
    if (rc != 0 || !isfinite(d))
        return fail(err, field, off, "Field %s %s at byte %zu is not a finite number of at "
                    "most %d characters.", field, snip(v.ptr, v.len, b), off, NUM_TOKEN_MAX);
    switch (f) {
    case F_AMOUNT:
        if (d < 0)
            return fail(err, field, off, "Field amount %s at byte %zu is negative; amounts "
                        "must be >= 0.", snip(v.ptr, v.len, b), off);
        t->amount = d == 0 ? 0.0 : d;
        t->amount_raw = v;
        set_amount_dec(t, &num);
        return true;
    case F_LAT:
    case F_LON: {
        double lim = f == F_LAT ? 90 : 180;
        if (d < -lim || d > lim)
            return fail(err, field, off, "Field %s %s at byte %zu is outside the range "
                        "-%g..%g.", field, snip(v.ptr, v.len, b), off, lim, lim);
        if (f == F_LAT)
            t->lat = d;
        else
            t->lon = d;
        t->has |= f == F_LAT ? FW_TXN_HAS_LAT : FW_TXN_HAS_LON;
        return true;
    }
    default:
        if (fabs(d) > FLT_MAX)
            return fail(err, field, off, "Field %s %s at byte %zu is outside the range of a "
                        "32-bit float.", field, snip(v.ptr, v.len, b), off);
        t->v[f - F_V1] = (float)d;
        t->v_mask |= 1u << (f - F_V1);
        return true;
    }
}

/* Captures extra field @p x from cell @p v: text as every CSV text field
 * must be; marked a string unless it reads as a number. */
static bool csv_extra(const fw_csv_columns *cols, int x, fw_str v, size_t off, fw_txn *t,
                      fw_decode_error *err) {
    const char *field = cols->extras->name[x];
    char b[SNIP_MAX];
    if (!csv_text_ok(v.ptr, v.len))
        return fail(err, field, off, "Field %s at byte %zu has a control character or "
                    "invalid UTF-8: \"%s\".", field, off, snip(v.ptr, v.len, b));
    t->extra[x] = v;
    t->extra_mask |= (uint16_t)(1u << x);
    if (!csv_numeric(v))
        t->extra_str |= (uint16_t)(1u << x);
    return true;
}

fw_err fw_txn_decode_csv(const char *p, size_t n, const fw_csv_columns *cols,
                         const fw_schema *sc, fw_arena *scratch, size_t max_bytes,
                         fw_txn *out, fw_decode_error *err) {
    fw_decode_error dummy;
    uint64_t seen = 0;
    fw_str unknown[UNKNOWN_NOTED];
    unsigned nunknown = 0;
    err = err_init(err, &dummy);
    zero_txn(out);
    out->extras = cols->extras;
    if (!max_bytes)
        max_bytes = FW_TXN_DEFAULT_MAX_BYTES;
    if (n > max_bytes) {
        fail(err, NULL, max_bytes, "Record is %zu bytes, over the limit of %zu bytes.", n,
             max_bytes);
        return FW_ERR_INVALID;
    }
    if (!p) {
        p = "";
        n = 0;
    }
    const char *base = p;
    csv_trim(&p, &n);
    if (n == 0) {
        fail(err, NULL, 0, "Record is empty; a CSV line of %d cells was expected.",
             cols->ncols);
        return FW_ERR_INVALID;
    }
    int i = 0;
    for (const char *s = p, *end = p + n;; i++) {
        fw_str cell;
        bool quoted, dq, last;
        size_t off = (size_t)(s - base);
        if (!csv_cell(&s, end, &cell, &quoted, &dq, &last)) {
            fail(err, i < cols->ncols && cols->field[i] >= 0
                          ? csv_field_name(cols, cols->field[i]) : NULL, off,
                 "Record has a stray or unterminated quote in cell %d at byte %zu (RFC 4180: "
                 "a quoted cell ends with '\"', a quote inside it is doubled).", i + 1, off);
            return FW_ERR_INVALID;
        }
        if (i >= cols->ncols) {
            fail(err, NULL, off, "Record has more cells than the header's %d columns (cell "
                 "%d at byte %zu).", cols->ncols, i + 1, off);
            return FW_ERR_INVALID;
        }
        int f = cols->field[i];
        if (f < 0) {
            if (cell.len && nunknown < UNKNOWN_NOTED)
                unknown[nunknown++] = (fw_str){ .ptr = cols->names + cols->name_off[i],
                                                .len = cols->name_len[i] };
        } else if (cell.len) {
            if (dq) { /* "" inside quotes: unescape into the arena */
                char *mem = scratch ? fw_arena_alloc(scratch, cell.len) : NULL;
                if (!mem) {
                    fail(err, csv_field_name(cols, f), off, "Field %s at byte %zu has doubled "
                         "quotes and no scratch space to unescape them.",
                         csv_field_name(cols, f), off);
                    return scratch ? FW_ERR_LIMIT : FW_ERR_INVALID;
                }
                size_t o = 0;
                for (size_t k = 0; k < cell.len; k++) {
                    mem[o++] = cell.ptr[k];
                    k += cell.ptr[k] == '"'; /* skip the second of a pair */
                }
                cell = (fw_str){ .ptr = mem, .len = o };
            }
            seen |= 1ull << f;
            if (f >= F_COUNT) { /* an extra field: the cell as it is */
                if (!csv_extra(cols, f - F_COUNT, cell, off + quoted, out, err))
                    return FW_ERR_INVALID;
            } else if (!csv_value(sc, f, cell, off + quoted, out, err)) {
                return FW_ERR_INVALID;
            }
        }
        if (last)
            break;
    }
    if (i + 1 != cols->ncols) {
        fail(err, NULL, n, "Record has %d cells; the header has %d columns.", i + 1,
             cols->ncols);
        return FW_ERR_INVALID;
    }
    for (int f = 0; f < F_V1; f++)
        if (((1ull << f) & REQUIRED_MASK) && !(seen & (1ull << f))) {
            missing(err, sc, f, unknown, nunknown, n);
            return FW_ERR_INVALID;
        }
    out->raw = (fw_str){ .ptr = p, .len = n };
    out->raw_is_json = false;
    return FW_OK;
}

/* ---- names and output ---- */

const char *fw_txn_type_name(fw_txn_type t) {
    static const char *const names[] = {
        [FW_TXN_TYPE_NONE] = "",
        [FW_TXN_PURCHASE] = "PURCHASE",
        [FW_TXN_TRANSFER] = "TRANSFER",
        [FW_TXN_WITHDRAWAL] = "WITHDRAWAL",
        [FW_TXN_DEPOSIT] = "DEPOSIT",
        [FW_TXN_PASSWORD_CHANGE] = "PASSWORD_CHANGE",
        [FW_TXN_LOGIN] = "LOGIN",
        [FW_TXN_TYPE_OTHER] = "OTHER",
    };
    if ((unsigned)t >= sizeof(names) / sizeof(names[0]))
        return "";
    return names[t];
}

static bool put_str(fw_buf *b, const char *key, fw_str v) {
    if (!v.ptr)
        return true;
    return fw_buf_putc(b, ',') && fw_buf_json_str(b, fw_str_c(key)) && fw_buf_putc(b, ':') &&
           fw_buf_json_str(b, v);
}

static bool put_num(fw_buf *b, const char *key, double v) {
    return fw_buf_putc(b, ',') && fw_buf_json_str(b, fw_str_c(key)) && fw_buf_putc(b, ':') &&
           fw_buf_json_double(b, v);
}

bool fw_txn_write_json(const fw_txn *t, fw_buf *b) {
    jnum num;
    char ts[32];
    if (t->raw_is_json)
        return fw_buf_append(b, t->raw.ptr, t->raw.len);
    fw_time_format(t->ts_ms, ts);
    bool ok = fw_buf_puts(b, "{\"transaction_id\":") && fw_buf_json_str(b, t->transaction_id) &&
              fw_buf_puts(b, ",\"timestamp\":\"") && fw_buf_puts(b, ts) &&
              fw_buf_puts(b, "\",\"amount\":");
    /* The amount as written echoes exactly, but only a well-formed token is
     * trusted verbatim in JSON output. */
    if (ok && t->amount_raw.ptr && is_json_number(t->amount_raw.ptr, t->amount_raw.len, &num))
        ok = fw_buf_append(b, t->amount_raw.ptr, t->amount_raw.len);
    else if (ok)
        ok = fw_buf_json_double(b, t->amount);
    ok = ok && put_str(b, "account_id", t->account_id) && put_str(b, "card_id", t->card_id) &&
         put_str(b, "customer_id", t->customer_id);
    if (ok && t->type == FW_TXN_TYPE_OTHER)
        ok = put_str(b, "type", t->type_raw.ptr ? t->type_raw : FW_STR_LIT("OTHER"));
    else if (ok && t->type != FW_TXN_TYPE_NONE)
        ok = put_str(b, "type", fw_str_c(fw_txn_type_name(t->type)));
    ok = ok && put_str(b, "currency", t->currency) &&
         put_str(b, "merchant_id", t->merchant_id) &&
         put_str(b, "merchant_category", t->merchant_category) &&
         put_str(b, "country", t->country);
    if (ok && (t->has & FW_TXN_HAS_LAT))
        ok = put_num(b, "lat", t->lat);
    if (ok && (t->has & FW_TXN_HAS_LON))
        ok = put_num(b, "lon", t->lon);
    ok = ok && put_str(b, "counterparty_id", t->counterparty_id) &&
         put_str(b, "channel", t->channel);
    for (int i = 0; ok && i < FW_TXN_NFEATURES; i++)
        if (t->v_mask & (1u << i))
            ok = put_num(b, field_names[F_V1 + i], (double)t->v[i]);
    /* Extra fields, so that a record read back (the changelog) still has them:
     * strings as strings, tokens verbatim when they are JSON numbers. */
    for (unsigned i = 0; ok && t->extra_mask && t->extras && i < t->extras->n; i++) {
        if (!(t->extra_mask & (1u << i)))
            continue;
        fw_str v = t->extra[i];
        bool token = !(t->extra_str & (1u << i)) &&
                     (fw_str_eq(v, FW_STR_LIT("true")) || fw_str_eq(v, FW_STR_LIT("false")) ||
                      is_json_number(v.ptr, v.len, &num));
        ok = token ? fw_buf_putc(b, ',') && fw_buf_json_str(b, fw_str_c(t->extras->name[i])) &&
                         fw_buf_putc(b, ':') && fw_buf_append(b, v.ptr, v.len)
                   : put_str(b, t->extras->name[i], v);
    }
    return ok && fw_buf_putc(b, '}');
}
