/* decimal.c — fixed-point decimals with four places (decimal.h): exact
 * parsing with half-even rounding, checked arithmetic, shortest formatting. */
#include "decimal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef unsigned __int128 u128;
typedef __int128 i128;

#define EXP_CLAMP 100000 /* past any representable value either way */

/* Rounds q + rem/div half-even, where 0 <= rem < div. */
static u128 round_half_even(u128 q, u128 rem, u128 div) {
    u128 twice = rem * 2;
    if (twice > div || (twice == div && (q & 1)))
        q++;
    return q;
}

/* The common amount, "2500.50": at most 14 integer digits and 4 places, no
 * exponent, so it fits an int64 without checks. false: take the long way. */
static bool parse_plain(const char *s, size_t n, fw_dec *out) {
    size_t i = 0, nint = 0, nfrac = 0;
    int64_t v = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9' && nint < 14) {
        v = v * 10 + (s[i++] - '0');
        nint++;
    }
    if (!nint)
        return false;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9' && nfrac < FW_DEC_PLACES) {
            v = v * 10 + (s[i++] - '0');
            nfrac++;
        }
        if (!nfrac)
            return false;
    }
    if (i != n)
        return false;
    static const int64_t pow10[] = { 10000, 1000, 100, 10, 1 };
    *out = v * pow10[nfrac];
    return true;
}

fw_err fw_dec_parse(const char *s, size_t n, fw_dec *out) {
    size_t i = 0;
    bool neg = false;
    if (!s || n == 0)
        return FW_ERR_INVALID;
    if (parse_plain(s, n, out))
        return FW_OK;
    if (s[0] == '-') {
        neg = true;
        i++;
    }
    size_t int_start = i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    size_t int_end = i, frac_start = i, frac_end = i;
    if (i < n && s[i] == '.') {
        frac_start = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        frac_end = i;
        if (frac_end == frac_start)
            return FW_ERR_INVALID; /* "1." */
    }
    if (int_end == int_start && frac_end == frac_start)
        return FW_ERR_INVALID; /* no digits */
    long exp = 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        bool eneg = false;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        if (i >= n || s[i] < '0' || s[i] > '9')
            return FW_ERR_INVALID;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (exp < EXP_CLAMP)
                exp = exp * 10 + (s[i] - '0');
            i++;
        }
        if (eneg)
            exp = -exp;
    }
    if (i != n)
        return FW_ERR_INVALID;

    /* Digit d (integer digits, then fraction digits) has the power of ten
     * p in units of 1/10^4; digits at p >= 0 form the integer, the one at
     * p == -1 rounds, the rest only break ties. */
    long nfrac = (long)(frac_end - frac_start);
    long shift = exp - nfrac + FW_DEC_PLACES;         /* power of the last digit */
    long ndig = (long)(int_end - int_start) + nfrac;
    u128 acc = 0, limit = (u128)FW_DEC_MAX;
    int round_digit = 0;
    bool sticky = false, over = false;
    for (long k = 0; k < ndig; k++) {
        size_t pos = (size_t)k < int_end - int_start ? int_start + (size_t)k
                                                     : frac_start + (size_t)k - (int_end - int_start);
        int d = s[pos] - '0';
        long p = shift + (ndig - 1 - k);
        if (p >= 0) {
            if (acc > limit / 10 + 1)
                over = true;
            else
                acc = acc * 10 + (u128)d;
            if (acc > limit)
                over = true;
        } else if (p == -1) {
            round_digit = d;
        } else if (d) {
            sticky = true;
        }
    }
    if (!over && acc && shift > 0) {
        for (long k = 0; k < shift && !over; k++) {
            acc *= 10;
            if (acc > limit)
                over = true;
        }
    }
    if (over)
        return FW_ERR_LIMIT;
    if (round_digit > 5 || (round_digit == 5 && (sticky || (acc & 1))))
        acc++;
    if (acc > limit)
        return FW_ERR_LIMIT;
    *out = neg ? -(fw_dec)acc : (fw_dec)acc;
    return FW_OK;
}

bool fw_dec_of_double(double v, fw_dec *out) {
    if (!isfinite(v))
        return false;
    double u = nearbyint(v * FW_DEC_SCALE);
    if (!(u < 9223372036854775807.0 && u > -9223372036854775807.0))
        return false;
    *out = (fw_dec)u;
    return true;
}

bool fw_dec_of_int(int64_t v, fw_dec *out) {
    if (v > FW_DEC_MAX / FW_DEC_SCALE || v < FW_DEC_MIN / FW_DEC_SCALE)
        return false;
    *out = v * FW_DEC_SCALE;
    return true;
}

static bool in_range(i128 v, fw_dec *out) {
    if (v > FW_DEC_MAX || v < FW_DEC_MIN)
        return false;
    *out = (fw_dec)v;
    return true;
}

bool fw_dec_add(fw_dec a, fw_dec b, fw_dec *out) { return in_range((i128)a + b, out); }
bool fw_dec_sub(fw_dec a, fw_dec b, fw_dec *out) { return in_range((i128)a - b, out); }

/* |num| / |den| rounded half-even, with the sign of num * den. */
static bool div_round(i128 num, i128 den, fw_dec *out) {
    bool neg = (num < 0) != (den < 0);
    u128 un = num < 0 ? (u128)(-num) : (u128)num, ud = den < 0 ? (u128)(-den) : (u128)den;
    u128 q;
    if (!(un >> 64) && !(ud >> 64)) { /* the usual sizes: a 64-bit division */
        uint64_t n64 = (uint64_t)un, d64 = (uint64_t)ud;
        q = round_half_even(n64 / d64, n64 % d64, d64);
    } else {
        q = round_half_even(un / ud, un % ud, ud);
    }
    if (q > (u128)FW_DEC_MAX)
        return false;
    *out = neg ? -(fw_dec)q : (fw_dec)q;
    return true;
}

bool fw_dec_mul(fw_dec a, fw_dec b, fw_dec *out) {
    /* |a*b| < 2^126: fits; one division brings it back to four places. */
    return div_round((i128)a * b, FW_DEC_SCALE, out);
}

bool fw_dec_div(fw_dec a, fw_dec b, fw_dec *out) {
    if (b == 0)
        return false;
    return div_round((i128)a * FW_DEC_SCALE, b, out);
}

int fw_dec_format(fw_dec v, char *out, size_t size) {
    uint64_t u = v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v;
    uint64_t ip = u / FW_DEC_SCALE, fp = u % FW_DEC_SCALE;
    char frac[FW_DEC_PLACES + 2] = "";
    if (fp) {
        int places = FW_DEC_PLACES;
        while (fp % 10 == 0) {
            fp /= 10;
            places--;
        }
        snprintf(frac, sizeof(frac), ".%0*llu", places, (unsigned long long)fp);
    }
    return snprintf(out, size, "%s%llu%s", v < 0 ? "-" : "", (unsigned long long)ip, frac);
}
