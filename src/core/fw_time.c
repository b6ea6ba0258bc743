/* fw_time.c — ISO-8601 / RFC 850 parsing and ISO-8601 formatting, with no
 * libc time zone state (timegm/gmtime are neither pure nor portable). */
#include "fw_time.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Howard Hinnant's days_from_civil. */
int64_t fw_days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static unsigned days_in_month(int64_t y, unsigned m) {
    static const unsigned dm[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

/* Reads exactly `width` digits at s[*i]. */
static bool digits(const char *s, size_t n, size_t *i, int width, int *out) {
    int v = 0;
    for (int k = 0; k < width; k++) {
        if (*i >= n || s[*i] < '0' || s[*i] > '9')
            return false;
        v = v * 10 + (s[(*i)++] - '0');
    }
    *out = v;
    return true;
}

static bool expect(const char *s, size_t n, size_t *i, char c) {
    if (*i < n && s[*i] == c) {
        (*i)++;
        return true;
    }
    return false;
}

static fw_err make_ms(int64_t y, int mo, int d, int h, int mi, int sec, int ms,
                      int offset_min, int64_t *out) {
    if (mo < 1 || mo > 12 || d < 1 || (unsigned)d > days_in_month(y, (unsigned)mo) ||
        h > 23 || mi > 59 || sec > 60)
        return FW_ERR_INVALID;
    if (sec == 60) /* leap second: treat as the last millisecond-precise instant */
        sec = 59;
    int64_t days = fw_days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - (int64_t)offset_min * 60;
    *out = secs * 1000 + ms;
    return FW_OK;
}

/* The shape nearly every producer writes, "2024-01-15T10:30:00.123Z": fixed
 * places, so the digits are read without the general parser's steps (it was
 * a tenth of decoding a record). @returns false for any other shape. */
static bool iso8601_fixed(const char *s, size_t n, int64_t *out, fw_err *rc) {
    if (n != 24)
        return false;
    unsigned char v[24];
#if defined(__SSE2__)
    /* All 24 places at once: the separators equal, the rest digits. */
    static const char sep[32] = "0000-00-00T00:00:00.000Z";
    __m128i zero = _mm_set1_epi8('0'), nine = _mm_set1_epi8(9);
    __m128i a = _mm_loadu_si128((const __m128i *)s),
            b = _mm_loadl_epi64((const __m128i *)(s + 16));
    __m128i da = _mm_sub_epi8(a, zero), db = _mm_sub_epi8(b, zero);
    __m128i sa = _mm_loadu_si128((const __m128i *)sep),
            sb = _mm_loadu_si128((const __m128i *)(sep + 16));
    unsigned is_sep = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(a, sa)) |
                      (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(b, sb)) << 16;
    unsigned is_digit = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(da, nine), da)) |
                        ((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(db, nine), db)) &
                         0xff) << 16;
    const unsigned seps = 1u << 4 | 1u << 7 | 1u << 10 | 1u << 13 | 1u << 16 | 1u << 19 | 1u << 23;
    if ((is_sep & seps) != seps || (is_digit | seps) != 0xffffff)
        return false;
    _mm_storeu_si128((__m128i *)v, da);
    _mm_storel_epi64((__m128i *)(v + 16), db);
#else
    static const char sep[25] = "0000-00-00T00:00:00.000Z";
    for (int k = 0; k < 24; k++) {
        v[k] = (unsigned char)(s[k] - '0');
        if (sep[k] != '0' ? s[k] != sep[k] : v[k] > 9)
            return false;
    }
#endif
    int y = v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3];
    *rc = make_ms(y, v[5] * 10 + v[6], v[8] * 10 + v[9], v[11] * 10 + v[12], v[14] * 10 + v[15],
                  v[17] * 10 + v[18], v[20] * 100 + v[21] * 10 + v[22], 0, out);
    return true;
}

fw_err fw_time_parse_iso8601(const char *s, size_t n, int64_t *out) {
    fw_err rc;
    if (iso8601_fixed(s, n, out, &rc))
        return rc;
    size_t i = 0;
    int y, mo, d, h, mi, sec = 0, ms = 0;
    if (!digits(s, n, &i, 4, &y) || !expect(s, n, &i, '-') || !digits(s, n, &i, 2, &mo) ||
        !expect(s, n, &i, '-') || !digits(s, n, &i, 2, &d))
        return FW_ERR_INVALID;
    if (!(expect(s, n, &i, 'T') || expect(s, n, &i, 't') || expect(s, n, &i, ' ')))
        return FW_ERR_INVALID;
    if (!digits(s, n, &i, 2, &h) || !expect(s, n, &i, ':') || !digits(s, n, &i, 2, &mi))
        return FW_ERR_INVALID;
    if (expect(s, n, &i, ':')) {
        if (!digits(s, n, &i, 2, &sec))
            return FW_ERR_INVALID;
        if (expect(s, n, &i, '.') || expect(s, n, &i, ',')) {
            int nd = 0, frac = 0;
            while (i < n && s[i] >= '0' && s[i] <= '9') {
                if (nd < 3)
                    frac = frac * 10 + (s[i] - '0');
                nd++;
                i++;
            }
            if (nd == 0 || nd > 9)
                return FW_ERR_INVALID;
            for (int k = nd; k < 3; k++)
                frac *= 10;
            ms = frac; /* truncates below the millisecond */
        }
    }
    int offset = 0;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        int sign = s[i++] == '-' ? -1 : 1, oh, om = 0;
        if (!digits(s, n, &i, 2, &oh))
            return FW_ERR_INVALID;
        if (expect(s, n, &i, ':')) {
            if (!digits(s, n, &i, 2, &om))
                return FW_ERR_INVALID;
        } else if (i < n) {
            if (!digits(s, n, &i, 2, &om))
                return FW_ERR_INVALID;
        }
        if (oh > 23 || om > 59)
            return FW_ERR_INVALID;
        offset = sign * (oh * 60 + om);
    } else {
        return FW_ERR_INVALID; /* no zone */
    }
    if (i != n)
        return FW_ERR_INVALID;
    return make_ms(y, mo, d, h, mi, sec, ms, offset, out);
}

fw_err fw_time_parse_rfc850(const char *s, size_t n, int64_t *out) {
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    size_t i = 0;
    /* Weekday name, then ", ". The name itself is not checked against the date. */
    while (i < n && ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z')))
        i++;
    if (i == 0 || !expect(s, n, &i, ',') || !expect(s, n, &i, ' '))
        return FW_ERR_INVALID;
    int d, yy, h, mi, sec;
    if (!digits(s, n, &i, 2, &d) || !expect(s, n, &i, '-') || i + 3 > n)
        return FW_ERR_INVALID;
    int mo = 0;
    for (int k = 0; k < 12; k++)
        if (memcmp(s + i, months + 3 * k, 3) == 0)
            mo = k + 1;
    if (!mo)
        return FW_ERR_INVALID;
    i += 3;
    if (!expect(s, n, &i, '-') || !digits(s, n, &i, 2, &yy) || !expect(s, n, &i, ' ') ||
        !digits(s, n, &i, 2, &h) || !expect(s, n, &i, ':') || !digits(s, n, &i, 2, &mi) ||
        !expect(s, n, &i, ':') || !digits(s, n, &i, 2, &sec) || !expect(s, n, &i, ' '))
        return FW_ERR_INVALID;
    if (!(n - i == 3 && (memcmp(s + i, "UTC", 3) == 0 || memcmp(s + i, "GMT", 3) == 0)))
        return FW_ERR_INVALID;
    return make_ms(yy >= 70 ? 1900 + yy : 2000 + yy, mo, d, h, mi, sec, 0, 0, out);
}

fw_err fw_time_parse_any(const char *s, size_t n, int64_t *out) {
    if (n > 0 && n <= 15) {
        bool all_digits = true;
        for (size_t k = 0; k < n; k++)
            all_digits &= s[k] >= '0' && s[k] <= '9';
        if (all_digits) {
            int64_t v = 0;
            for (size_t k = 0; k < n; k++)
                v = v * 10 + (s[k] - '0');
            *out = v;
            return FW_OK;
        }
    }
    if (fw_time_parse_iso8601(s, n, out) == FW_OK)
        return FW_OK;
    return fw_time_parse_rfc850(s, n, out);
}

void fw_time_format(int64_t ms, char out[32]) {
    /* Instants outside ISO-8601's 4-digit years clamp to the first or last
     * representable millisecond, so the output always parses back; this also
     * keeps the arithmetic below far from int64 overflow. */
    const int64_t min_ms = -62167219200000LL;  /* 0000-01-01T00:00:00.000Z */
    const int64_t max_ms = 253402300799999LL;  /* 9999-12-31T23:59:59.999Z */
    if (ms < min_ms)
        ms = min_ms;
    else if (ms > max_ms)
        ms = max_ms;
    /* Floor division for instants before 1970. */
    int64_t secs = ms / 1000 - (ms % 1000 < 0);
    int msec = (int)(ms % 1000);
    if (msec < 0)
        msec += 1000;
    int64_t days = secs / 86400 - (secs % 86400 < 0);
    int sod = (int)(secs % 86400);
    if (sod < 0)
        sod += 86400;
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ", (unsigned)y % 10000u, m % 13u,
             d % 32u, (unsigned)sod / 3600u % 24u, (unsigned)sod / 60u % 60u,
             (unsigned)sod % 60u, (unsigned)msec % 1000u);
}

void fw_time_span_format(int64_t ms, char *out, size_t size) {
    const int64_t s = 1000, m = 60 * s, h = 60 * m, d = 24 * h, y = 365 * d + d / 4;
    if (ms < 0)
        ms = 0;
    if (ms >= 2 * y)
        snprintf(out, size, "%lld years", (long long)(ms / y));
    else if (ms >= 2 * d)
        snprintf(out, size, "%lld days", (long long)(ms / d));
    else if (ms >= 2 * h)
        snprintf(out, size, "%lld hours", (long long)(ms / h));
    else if (ms >= 2 * m)
        snprintf(out, size, "%lld minutes", (long long)(ms / m));
    else if (ms >= 2 * s)
        snprintf(out, size, "%lld seconds", (long long)(ms / s));
    else
        snprintf(out, size, "%lld ms", (long long)ms);
}
