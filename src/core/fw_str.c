/* fw_str.c — bounded buffers, JSON string escaping and the batch arena. */
#include "fw_str.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define FW_BUF_DEFAULT_MAX ((size_t)64 << 20)

void fw_buf_init(fw_buf *b, size_t max) {
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max ? max : FW_BUF_DEFAULT_MAX;
    b->overflow = false;
}

void fw_buf_fini(fw_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* Ensures room for n more bytes plus a NUL, so data can be used as a C string. */
static bool buf_reserve(fw_buf *b, size_t n) {
    if (b->len + n + 1 <= b->cap)
        return true;
    if (b->len + n + 1 > b->max) {
        b->overflow = true;
        return false;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
        cap *= 2;
    if (cap > b->max)
        cap = b->max;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->overflow = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

bool fw_buf_append(fw_buf *b, const void *p, size_t n) {
    if (!buf_reserve(b, n))
        return false;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

bool fw_buf_putc(fw_buf *b, char c) { return fw_buf_append(b, &c, 1); }

bool fw_buf_puts(fw_buf *b, const char *s) { return fw_buf_append(b, s, strlen(s)); }

bool fw_buf_printf(fw_buf *b, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return false;
    if ((size_t)n < sizeof(small))
        return fw_buf_append(b, small, (size_t)n);
    if (!buf_reserve(b, (size_t)n))
        return false;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return true;
}

bool fw_buf_json_escape(fw_buf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    size_t run = 0; /* start of the pending run that needs no escaping */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (!fw_buf_append(b, s + run, i - run))
            return false;
        run = i + 1;
        char esc[6] = { '\\', 0 };
        size_t elen = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
            esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
            elen = 6;
        }
        if (!fw_buf_append(b, esc, elen))
            return false;
    }
    return fw_buf_append(b, s + run, n - run);
}

bool fw_buf_json_str(fw_buf *b, fw_str s) {
    return fw_buf_putc(b, '"') && fw_buf_json_escape(b, s.ptr ? s.ptr : "", s.len) &&
           fw_buf_putc(b, '"');
}

bool fw_buf_json_double(fw_buf *b, double v) {
    if (!isfinite(v))
        return fw_buf_puts(b, "null");
    char tmp[40];
    /* Shortest of %.15g..%.17g that round-trips: 1500 stays "1500", 0.1 stays "0.1". */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    return fw_buf_puts(b, tmp);
}

size_t fw_utf8_bad_offset(const void *str, size_t n) {
    const unsigned char *s = str;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return i;
        }
        if (len > n - i)
            return i;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
            return i;
        i += len;
    }
    return SIZE_MAX;
}

bool fw_utf8_valid(const char *str, size_t n) { return fw_utf8_bad_offset(str, n) == SIZE_MAX; }

bool fw_buf_base64(fw_buf *b, const void *p, size_t n) {
    static const char tbl[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s = p;
    char out[4];
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < n)
            v |= s[i + 2];
        out[0] = tbl[v >> 18];
        out[1] = tbl[(v >> 12) & 63];
        out[2] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        out[3] = i + 2 < n ? tbl[v & 63] : '=';
        if (!fw_buf_append(b, out, 4))
            return false;
    }
    return true;
}

bool fw_arena_init(fw_arena *a, size_t cap) {
    a->data = malloc(cap);
    a->used = 0;
    a->cap = a->data ? cap : 0;
    return a->data != NULL;
}

void fw_arena_fini(fw_arena *a) {
    free(a->data);
    a->data = NULL;
    a->used = a->cap = 0;
}

void *fw_arena_alloc(fw_arena *a, size_t n) {
    size_t aligned = (n + 7) & ~(size_t)7;
    if (aligned < n || a->used + aligned > a->cap)
        return NULL;
    void *p = a->data + a->used;
    a->used += aligned;
    return p;
}

static char lower_ascii(char c) { return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c; }

const char *fw_str_printable(const char *s, size_t n, char *out, size_t size) {
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 < size; i++)
        out[k++] = (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f ? s[i] : '?';
    if (k + 4 >= size && n > k)
        memcpy(out + k, "...", 3), k += 3;
    out[k] = '\0';
    return out;
}

size_t fw_str_edit_distance(fw_str a, fw_str b) {
    size_t row[64], na = a.len > 63 ? 63 : a.len, nb = b.len > 63 ? 63 : b.len;
    for (size_t j = 0; j <= nb; j++)
        row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t best = diag + (lower_ascii(a.ptr[i - 1]) != lower_ascii(b.ptr[j - 1]));
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            diag = row[j];
            row[j] = best;
        }
    }
    return row[nb];
}

const char *fw_count_str(uint64_t v, char *out, size_t size) {
    char digits[32];
    int n = snprintf(digits, sizeof(digits), "%" PRIu64, v);
    size_t k = 0;
    for (int i = 0; i < n && k + 2 < size; i++) {
        if (i && (n - i) % 3 == 0)
            out[k++] = ',';
        out[k++] = digits[i];
    }
    out[k] = '\0';
    return out;
}

size_t fw_line_record_len(const char *line, size_t n) {
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    for (size_t k = 0; k < n; k++)
        if (line[k] != ' ' && line[k] != '\t')
            return n;
    return 0;
}

const char *fw_str_closest(fw_str key, const char *const *names, size_t n) {
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        size_t d = fw_str_edit_distance(key, fw_str_c(names[i])), max_d = len / 4 > 2 ? len / 4 : 2;
        if (d <= max_d && d < best_d && d < len) {
            best = names[i];
            best_d = d;
        }
    }
    return best;
}
