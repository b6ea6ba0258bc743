/* rules_file.c — reading and writing rules files (rules_file.h). One table per
 * section describes every parameter (file name, type, struct offset, range),
 * so the parser, the writer and the validator cannot drift apart; the JSON
 * itself goes through json.c. */
#include "rules_file.h"
#include "schema.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "state.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define F(field) offsetof(fw_rules, field)
#define DUR_MAX FW_RULES_MAX_DURATION_MS
#define COUNT_MAX 1000000

typedef enum pkind {
    PK_AMOUNT,    /* double: finite, >= 0 */
    PK_POSITIVE,  /* double: finite, > 0 */
    PK_FRACTION,  /* double: a share in (0, 1] */
    PK_INT,       /* int in [lo, hi] */
    PK_U32,       /* uint32_t in [lo, hi] */
    PK_DURATION,  /* int64_t milliseconds in [lo, hi]; "30m" or an integer in the file */
    PK_CHOICE,    /* int: the index of one of choices' names, a string in the file */
    PK_BOOL,      /* bool: true or false in the file */
} pkind;

typedef struct param {
    const char *name;  /* in the file: the struct field without "_ms" */
    pkind kind;
    size_t off;        /* offsetof(fw_rules, ...) */
    int64_t lo, hi;    /* PK_INT, PK_U32, PK_DURATION: inclusive range */
    const char *const *choices; /* PK_CHOICE: the names, NULL-terminated, by value */
} param;

/* The time section may be zero: an ordered stream needs no out-of-orderness,
 * no lateness is a common choice, and a zero dedupe window keeps every alert. */
static const param time_params[] = {
    { "max_out_of_orderness", PK_DURATION, F(time.max_out_of_orderness_ms), 0, DUR_MAX },
    { "allowed_lateness", PK_DURATION, F(time.allowed_lateness_ms), 0, DUR_MAX },
    { "dedupe_window", PK_DURATION, F(time.dedupe_window_ms), 0, DUR_MAX },
    { "max_future_skew", PK_DURATION, F(time.max_future_skew_ms), 0, DUR_MAX },
    { "max_event_time_jump", PK_DURATION, F(time.max_event_time_jump_ms), 0, DUR_MAX },
    { "duplicate_margin", PK_DURATION, F(time.duplicate_margin_ms), 0, DUR_MAX },
    { "early_firing", PK_BOOL, F(time.early_firing), 0, 1 },
};

static const param limits_params[] = {
    { "max_entities", PK_U32, F(limits.max_entities), 1, UINT32_MAX },
    { "max_window_events", PK_U32, F(limits.max_window_events), 1, UINT32_MAX },
    { "max_transaction_ids", PK_U32, F(limits.max_transaction_ids), 0, 100000000 },
};

static const param high_amount_params[] = {
    { "limit", PK_AMOUNT, F(high_amount.limit), 0, 0 },
};
static const param velocity_params[] = {
    { "min_count", PK_INT, F(velocity.min_count), 1, COUNT_MAX },
    { "min_amount", PK_AMOUNT, F(velocity.min_amount), 0, 0 },
    { "window", PK_DURATION, F(velocity.window_ms), 1, DUR_MAX },
    { "slide", PK_DURATION, F(velocity.slide_ms), 1, DUR_MAX },
};
static const param small_then_large_params[] = {
    { "small_below", PK_AMOUNT, F(small_then_large.small_below), 0, 0 },
    { "large_above", PK_AMOUNT, F(small_then_large.large_above), 0, 0 },
    { "within", PK_DURATION, F(small_then_large.within_ms), 1, DUR_MAX },
};
/* A partial match holds up to count transactions per customer, hence the
 * tighter bound (the default max_window_events). */
static const param rapid_small_params[] = {
    { "count", PK_INT, F(rapid_small.count), 1, 10000 },
    { "below", PK_AMOUNT, F(rapid_small.below), 0, 0 },
    { "within", PK_DURATION, F(rapid_small.within_ms), 1, DUR_MAX },
};
static const param location_jump_params[] = {
    { "within", PK_DURATION, F(location_jump.within_ms), 1, DUR_MAX },
    { "max_speed_kmh", PK_POSITIVE, F(location_jump.max_speed_kmh), 0, 0 },
    { "min_distance_km", PK_AMOUNT, F(location_jump.min_distance_km), 0, 0 },
};
static const param account_takeover_params[] = {
    { "min_amount", PK_AMOUNT, F(account_takeover.min_amount), 0, 0 },
    { "within", PK_DURATION, F(account_takeover.within_ms), 1, DUR_MAX },
};
static const param structuring_params[] = {
    { "below", PK_AMOUNT, F(structuring.below), 0, 0 },
    { "total_above", PK_AMOUNT, F(structuring.total_above), 0, 0 },
    { "window", PK_DURATION, F(structuring.window_ms), 1, DUR_MAX },
};
/* Points may be 0 to switch a component of the score off. */
static const param risk_score_params[] = {
    { "window", PK_DURATION, F(risk_score.window_ms), 1, DUR_MAX },
    { "slide", PK_DURATION, F(risk_score.slide_ms), 1, DUR_MAX },
    { "amount_multiple", PK_POSITIVE, F(risk_score.amount_multiple), 0, 0 },
    { "large_points", PK_INT, F(risk_score.large_points), 0, COUNT_MAX },
    { "max_merchants", PK_INT, F(risk_score.max_merchants), 1, COUNT_MAX },
    { "merchant_points", PK_INT, F(risk_score.merchant_points), 0, COUNT_MAX },
    { "alert_at", PK_INT, F(risk_score.alert_at), 1, COUNT_MAX },
};

static const param fan_in_params[] = {
    { "min_senders", PK_INT, F(fan_in.min_senders), 1, 10000 },
    { "min_amount", PK_AMOUNT, F(fan_in.min_amount), 0, 0 },
    { "window", PK_DURATION, F(fan_in.window_ms), 1, DUR_MAX },
};
static const param fan_out_params[] = {
    { "min_counterparties", PK_INT, F(fan_out.min_counterparties), 1, 10000 },
    { "min_amount", PK_AMOUNT, F(fan_out.min_amount), 0, 0 },
    { "window", PK_DURATION, F(fan_out.window_ms), 1, DUR_MAX },
};
static const param cycle_params[] = {
    { "min_hops", PK_INT, F(cycle.min_hops), 2, 255 },
    { "min_forward", PK_FRACTION, F(cycle.min_forward), 0, 0 },
    { "hop_within", PK_DURATION, F(cycle.hop_within_ms), 1, DUR_MAX },
    { "min_amount", PK_AMOUNT, F(cycle.min_amount), 0, 0 },
};
static const param mule_cashout_params[] = {
    { "min_inbound", PK_POSITIVE, F(mule_cashout.min_inbound), 0, 0 },
    { "min_ratio", PK_FRACTION, F(mule_cashout.min_ratio), 0, 0 },
    { "within", PK_DURATION, F(mule_cashout.within_ms), 1, DUR_MAX },
};
static const char *const ml_contributions[] = { [FW_ML_CONTRIB_EXACT] = "exact",
                                                [FW_ML_CONTRIB_APPROX] = "approx", NULL };
static const param ml_score_params[] = {
    { "threshold", PK_FRACTION, F(ml_score.threshold), 0, 0 },
    { "top_features", PK_INT, F(ml_score.top_features), 0, 64 },
    { "contributions", PK_CHOICE, F(ml_score.contributions), 0, 1, ml_contributions },
};

typedef struct param_table {
    const param *p;
    size_t n;
} param_table;

static const param_table rule_params[FW_RULE__COUNT] = {
    [FW_RULE_HIGH_AMOUNT] = { high_amount_params, N(high_amount_params) },
    [FW_RULE_VELOCITY] = { velocity_params, N(velocity_params) },
    [FW_RULE_SMALL_THEN_LARGE] = { small_then_large_params, N(small_then_large_params) },
    [FW_RULE_RAPID_SMALL] = { rapid_small_params, N(rapid_small_params) },
    [FW_RULE_LOCATION_JUMP] = { location_jump_params, N(location_jump_params) },
    [FW_RULE_ACCOUNT_TAKEOVER] = { account_takeover_params, N(account_takeover_params) },
    [FW_RULE_STRUCTURING] = { structuring_params, N(structuring_params) },
    [FW_RULE_RISK_SCORE] = { risk_score_params, N(risk_score_params) },
    [FW_RULE_FAN_IN] = { fan_in_params, N(fan_in_params) },
    [FW_RULE_FAN_OUT] = { fan_out_params, N(fan_out_params) },
    [FW_RULE_CYCLE] = { cycle_params, N(cycle_params) },
    [FW_RULE_MULE_CASHOUT] = { mule_cashout_params, N(mule_cashout_params) },
    [FW_RULE_ML_SCORE] = { ml_score_params, N(ml_score_params) },
};

/* Rules over sliding windows: the slide must divide the window. */
typedef struct sliding {
    fw_rule_id id;
    size_t window, slide;
} sliding;

static const sliding sliding_rules[] = {
    { FW_RULE_VELOCITY, F(velocity.window_ms), F(velocity.slide_ms) },
    { FW_RULE_RISK_SCORE, F(risk_score.window_ms), F(risk_score.slide_ms) },
};

static const char *const top_keys[] = { "time", "limits", "rules", "schema", "lists" };
static const char *const entry_keys[] = { "id", "enabled", "shadow", "severity", "version",
                                          "params" };

/* ---- durations ---- */

fw_err fw_rules_duration_parse(const char *s, size_t n, int64_t *ms) {
    static const struct {
        const char *unit;
        int64_t mult;
    } units[] = { { "d", 86400000 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 },
                  { "ms", 1 } };
    if (!s || n == 0)
        return FW_ERR_INVALID;
    size_t i = 0, next_unit = 0; /* units must come largest first, each once */
    int64_t total = 0;
    bool overflow = false;
    while (i < n) {
        if (s[i] < '0' || s[i] > '9')
            return FW_ERR_INVALID;
        int64_t v = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            int digit = s[i] - '0';
            if (v > (INT64_MAX - digit) / 10)
                overflow = true; /* keep scanning: the rest must still be well-formed */
            else
                v = v * 10 + digit;
            i++;
        }
        /* "ms" before "m": the longest unit that matches. */
        size_t u = N(units), ulen = 0;
        if (i + 1 < n && s[i] == 'm' && s[i + 1] == 's') {
            u = 4;
            ulen = 2;
        } else if (i < n) {
            for (size_t k = 0; k < 4; k++)
                if (s[i] == units[k].unit[0]) {
                    u = k;
                    ulen = 1;
                }
        }
        if (u == N(units) || u < next_unit)
            return FW_ERR_INVALID;
        next_unit = u + 1;
        i += ulen;
        if (v > (INT64_MAX - total) / units[u].mult)
            overflow = true;
        else
            total += v * units[u].mult;
    }
    if (overflow)
        return FW_ERR_LIMIT;
    *ms = total;
    return FW_OK;
}

int fw_rules_duration_format(int64_t ms, char *out, size_t size) {
    if (ms == 0)
        return snprintf(out, size, "0s");
    static const struct {
        const char *unit;
        int64_t mult;
    } units[] = { { "h", 3600000 }, { "m", 60000 }, { "s", 1000 } };
    for (size_t k = 0; k < N(units); k++)
        if (ms % units[k].mult == 0)
            return snprintf(out, size, "%" PRId64 "%s", ms / units[k].mult, units[k].unit);
    return snprintf(out, size, "%" PRId64 "ms", ms);
}

/* ---- field access ---- */

static void *field(fw_rules *r, const param *p) { return (char *)r + p->off; }

static const void *cfield(const fw_rules *r, const param *p) {
    return (const char *)r + p->off;
}

static size_t kind_size(pkind k) {
    switch (k) {
    case PK_AMOUNT:
    case PK_POSITIVE:
    case PK_FRACTION: return sizeof(double);
    case PK_INT:
    case PK_CHOICE: return sizeof(int);
    case PK_U32: return sizeof(uint32_t);
    case PK_DURATION: return sizeof(int64_t);
    case PK_BOOL: return sizeof(bool);
    }
    return 0;
}

static const param *find_param(const param *tab, size_t n, fw_str key) {
    for (size_t i = 0; i < n; i++)
        if (fw_str_eq_c(key, tab[i].name))
            return &tab[i];
    return NULL;
}

/* What a value of this parameter must be, for "expected ..." messages. */
static const char *kind_expect(const param *p) {
    switch (p->kind) {
    case PK_AMOUNT: return "a number >= 0";
    case PK_POSITIVE: return "a number above 0";
    case PK_FRACTION: return "a share above 0 and at most 1";
    case PK_INT:
    case PK_U32: return "an integer";
    case PK_DURATION: return "a duration like \"30m\" or milliseconds";
    case PK_CHOICE: return "one of the names listed in docs/rules.md";
    case PK_BOOL: return "true or false";
    }
    return "a value";
}

/* Range check shared by the parser and the validator: NULL when the value is
 * allowed, else what it must be ("must be between 1 and 1000000"). The value
 * comes as a double for PK_AMOUNT/PK_POSITIVE and as an integer otherwise. */
static const char *range_error(const param *p, double d, int64_t x, char *buf, size_t size) {
    char lo[32], hi[32];
    switch (p->kind) {
    case PK_AMOUNT:
        return isfinite(d) && d >= 0 ? NULL : "must be a finite number >= 0";
    case PK_POSITIVE:
        return isfinite(d) && d > 0 ? NULL : "must be a finite number above 0";
    case PK_FRACTION:
        return isfinite(d) && d > 0 && d <= 1 ? NULL : "must be above 0 and at most 1";
    case PK_INT:
    case PK_U32:
        if (x >= p->lo && x <= p->hi)
            return NULL;
        snprintf(buf, size, "must be between %" PRId64 " and %" PRId64, p->lo, p->hi);
        return buf;
    case PK_CHOICE:
        return x >= p->lo && x <= p->hi ? NULL : "must be one of its names";
    case PK_BOOL:
        return x == 0 || x == 1 ? NULL : "must be true or false";
    case PK_DURATION:
        if (x >= p->lo && x <= p->hi)
            return NULL;
        fw_rules_duration_format(p->lo, lo, sizeof(lo));
        fw_rules_duration_format(p->hi, hi, sizeof(hi));
        snprintf(buf, size, "must be between %s and %s (30 days)", lo, hi);
        return buf;
    }
    return "has an unknown type";
}

/* The value of a parameter in @p r, for range_error. */
static void read_value(const fw_rules *r, const param *p, double *d, int64_t *x) {
    const void *f = cfield(r, p);
    *d = 0;
    *x = 0;
    switch (p->kind) {
    case PK_AMOUNT:
    case PK_POSITIVE:
    case PK_FRACTION: memcpy(d, f, sizeof(*d)); break;
    case PK_INT:
    case PK_CHOICE: { int v; memcpy(&v, f, sizeof(v)); *x = v; break; }
    case PK_U32: { uint32_t v; memcpy(&v, f, sizeof(v)); *x = v; break; }
    case PK_DURATION: memcpy(x, f, sizeof(*x)); break;
    case PK_BOOL: { bool v; memcpy(&v, f, sizeof(v)); *x = v; break; }
    }
}

/* The name of choice @p x of @p p; "?" when out of range. */
static const char *choice_name(const param *p, int64_t x) {
    return x >= p->lo && x <= p->hi ? p->choices[x] : "?";
}

static void format_value(const fw_rules *r, const param *p, char *out, size_t size) {
    double d;
    int64_t x;
    read_value(r, p, &d, &x);
    if (p->kind == PK_DURATION)
        fw_rules_duration_format(x, out, size);
    else if (p->kind == PK_CHOICE)
        snprintf(out, size, "%s", choice_name(p, x));
    else if (p->kind == PK_BOOL)
        snprintf(out, size, "%s", x ? "true" : "false");
    else if (p->kind == PK_AMOUNT || p->kind == PK_POSITIVE || p->kind == PK_FRACTION)
        snprintf(out, size, "%.17g", d);
    else
        snprintf(out, size, "%" PRId64, x);
}

/* ---- messages ---- */

typedef struct ctx {
    fw_rules r;      /* the copy the document is applied to */
    char *err;
    size_t err_size;
} ctx;

/* "<path>: <message> (line L, column C)"; no position when line is 0. */
__attribute__((format(printf, 5, 6)))
static fw_err errf(ctx *c, const char *path, uint32_t line, uint32_t col, const char *fmt, ...) {
    if (!c->err || !c->err_size)
        return FW_ERR_INVALID;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (line)
        snprintf(c->err, c->err_size, "%s: %s (line %u, column %u)", path, msg, line, col);
    else
        snprintf(c->err, c->err_size, "%s: %s", path, msg);
    return FW_ERR_INVALID;
}

#define AT(v) (v)->line, (v)->column
#define AT_KEY(v) (v)->key_line, (v)->key_column

/* parent.key, or parent["odd key"] when the key is not a plain name. */
static void path_key(char *out, size_t size, const char *parent, fw_str key) {
    bool plain = key.len > 0 && key.len <= 48;
    for (size_t i = 0; plain && i < key.len; i++) {
        char ch = key.ptr[i];
        plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
    }
    if (plain) {
        snprintf(out, size, "%s%s%.*s", parent, *parent ? "." : "", (int)key.len, key.ptr);
    } else {
        char q[64];
        snprintf(out, size, "%s[%s]", *parent ? parent : "document", fw_json_quote(key, q, sizeof(q)));
    }
}

static bool str_contains(const char *hay, size_t hn, const char *needle, size_t nn) {
    if (nn == 0 || nn > hn)
        return false;
    for (size_t i = 0; i + nn <= hn; i++)
        if (!memcmp(hay + i, needle, nn))
            return true;
    return false;
}

/* The valid name the user most likely meant: "window" for "window_ms" or
 * "windw", "allowed_lateness" for "lateness"; NULL when nothing is close. */
static const char *closest(fw_str key, const char *const *names, size_t n) {
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        if (key.len == len + 3 && !memcmp(key.ptr + len, "_ms", 3) &&
            !memcmp(key.ptr, names[i], len))
            return names[i];
    }
    /* Two edits, or a quarter of a long name ("max_entity"). */
    const char *best = fw_str_closest(key, names, n);
    if (best || key.len < 4)
        return best;
    for (size_t i = 0; i < n; i++)
        if (str_contains(names[i], strlen(names[i]), key.ptr, key.len) ||
            str_contains(key.ptr, key.len, names[i], strlen(names[i])))
            return names[i];
    return NULL;
}

/* " (did you mean "x"?)" or "". */
static const char *did_you_mean(fw_str key, const char *const *names, size_t n, char *buf,
                                size_t size) {
    const char *c = closest(key, names, n);
    if (!c)
        return "";
    snprintf(buf, size, " (did you mean \"%s\"?)", c);
    return buf;
}

/* "a, b, c" */
static const char *join(const char *const *names, size_t n, char *buf, size_t size) {
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && o < size; i++) {
        int w = snprintf(buf + o, size - o, "%s%s", i ? ", " : "", names[i]);
        if (w < 0)
            break;
        o += (size_t)w;
    }
    return buf;
}

static size_t table_names(const param *tab, size_t n, const char **names, size_t max) {
    size_t k = 0;
    for (size_t i = 0; i < n && k < max; i++)
        names[k++] = tab[i].name;
    return k;
}

static size_t rule_names(const char **names) {
    for (int i = 0; i < FW_RULE__COUNT; i++)
        names[i] = fw_rule_name((fw_rule_id)i);
    return FW_RULE__COUNT;
}

/* ---- applying a document ---- */

static fw_err apply_param(ctx *c, const char *path, const param *p, const fw_json *v) {
    char got[80], why[96];
    double d = 0;
    int64_t x = 0;
    fw_json_describe(v, got, sizeof(got));
    switch (p->kind) {
    case PK_AMOUNT:
    case PK_POSITIVE:
    case PK_FRACTION:
        if (v->type != FW_JSON_NUMBER)
            return errf(c, path, AT(v), "expected %s, got %s", kind_expect(p), got);
        d = v->number;
        break;
    case PK_INT:
    case PK_U32:
        if (v->type != FW_JSON_NUMBER || !fw_json_int64(v, &x))
            return errf(c, path, AT(v), "expected an integer, got %s", got);
        break;
    case PK_DURATION:
        if (v->type == FW_JSON_NUMBER) {
            if (!fw_json_int64(v, &x))
                return errf(c, path, AT(v), "expected %s, got %s (milliseconds are whole)",
                            kind_expect(p), got);
        } else if (v->type == FW_JSON_STRING) {
            fw_err rc = fw_rules_duration_parse(v->str.ptr, v->str.len, &x);
            if (rc == FW_ERR_LIMIT)
                x = INT64_MAX; /* reported as out of range below */
            else if (rc != FW_OK)
                return errf(c, path, AT(v), "expected %s, got %s", kind_expect(p), got);
        } else {
            return errf(c, path, AT(v), "expected %s, got %s", kind_expect(p), got);
        }
        break;
    case PK_CHOICE: {
        x = -1;
        for (int64_t i = p->lo; v->type == FW_JSON_STRING && i <= p->hi && x < 0; i++)
            if (fw_str_eq_c(v->str, p->choices[i]))
                x = i;
        if (x < 0) {
            char list[128];
            size_t o = 0;
            for (int64_t i = p->lo; i <= p->hi && o < sizeof(list); i++)
                o += (size_t)snprintf(list + o, sizeof(list) - o, "%s\"%s\"",
                                      i == p->lo ? "" : i == p->hi ? " or " : ", ",
                                      p->choices[i]);
            return errf(c, path, AT(v), "expected %s, got %s", list, got);
        }
        break;
    }
    case PK_BOOL:
        if (v->type != FW_JSON_BOOL)
            return errf(c, path, AT(v), "expected true or false, got %s", got);
        x = v->boolean;
        break;
    }
    const char *bad = range_error(p, d, x, why, sizeof(why));
    if (bad)
        return errf(c, path, AT(v), "%s, got %s", bad, got);
    void *f = field(&c->r, p);
    switch (p->kind) {
    case PK_AMOUNT:
    case PK_POSITIVE:
    case PK_FRACTION: memcpy(f, &d, sizeof(d)); break;
    case PK_INT:
    case PK_CHOICE: { int iv = (int)x; memcpy(f, &iv, sizeof(iv)); break; }
    case PK_U32: { uint32_t uv = (uint32_t)x; memcpy(f, &uv, sizeof(uv)); break; }
    case PK_DURATION: memcpy(f, &x, sizeof(x)); break;
    case PK_BOOL: { bool bv = x != 0; memcpy(f, &bv, sizeof(bv)); break; }
    }
    return FW_OK;
}

/* "time" and "limits": objects of named values. */
static fw_err apply_section(ctx *c, const char *name, const fw_json *v, const param *tab,
                            size_t n) {
    char got[80], path[160], hint[64], list[256];
    const char *names[16];
    if (v->type != FW_JSON_OBJECT)
        return errf(c, name, AT(v), "expected an object, got %s",
                    fw_json_describe(v, got, sizeof(got)));
    FW_JSON_FOREACH(m, v) {
        path_key(path, sizeof(path), name, m->key);
        const param *p = find_param(tab, n, m->key);
        if (!p) {
            size_t k = table_names(tab, n, names, N(names));
            return errf(c, path, AT_KEY(m), "unknown key in \"%s\"%s; valid keys: %s", name,
                        did_you_mean(m->key, names, k, hint, sizeof(hint)),
                        join(names, k, list, sizeof(list)));
        }
        fw_err rc = apply_param(c, path, p, m);
        if (rc != FW_OK)
            return rc;
    }
    return FW_OK;
}

/* The rule whose table has a parameter of this name, for "limit is a
 * parameter of high_amount" when it sits under the wrong rule. */
static int rule_with_param(fw_str key) {
    for (int i = 0; i < FW_RULE__COUNT; i++)
        if (find_param(rule_params[i].p, rule_params[i].n, key))
            return i;
    return -1;
}

static fw_err apply_params(ctx *c, const char *path, fw_rule_id id, const fw_json *v) {
    char got[80], mpath[224], hint[96], list[256];
    const char *names[16];
    const param_table *t = &rule_params[id];
    if (v->type != FW_JSON_OBJECT)
        return errf(c, path, AT(v), "expected an object of %s parameters, got %s",
                    fw_rule_name(id), fw_json_describe(v, got, sizeof(got)));
    FW_JSON_FOREACH(m, v) {
        path_key(mpath, sizeof(mpath), path, m->key);
        const param *p = find_param(t->p, t->n, m->key);
        if (!p) {
            size_t k = table_names(t->p, t->n, names, N(names));
            const char *h = did_you_mean(m->key, names, k, hint, sizeof(hint));
            int other = rule_with_param(m->key);
            if (!*h && other >= 0) {
                char q[64];
                snprintf(hint, sizeof(hint), " (%s is a parameter of %s)",
                         fw_json_quote(m->key, q, sizeof(q)), fw_rule_name((fw_rule_id)other));
                h = hint;
            }
            return errf(c, mpath, AT_KEY(m), "unknown parameter of %s%s; valid: %s",
                        fw_rule_name(id), h, join(names, k, list, sizeof(list)));
        }
        fw_err rc = apply_param(c, mpath, p, m);
        if (rc != FW_OK)
            return rc;
    }
    return FW_OK;
}

/* Checks window and slide of a sliding-window rule; NULL when they agree,
 * else the message, naming the slide ("slide 7m does not divide ..."). */
static const char *sliding_error(const fw_rules *r, const sliding *s, char *buf, size_t size) {
    int64_t w, sl;
    char ws[32], ss[32];
    memcpy(&w, (const char *)r + s->window, sizeof(w));
    memcpy(&sl, (const char *)r + s->slide, sizeof(sl));
    if (w <= 0 || sl <= 0)
        return NULL; /* range_error reports these */
    fw_rules_duration_format(w, ws, sizeof(ws));
    fw_rules_duration_format(sl, ss, sizeof(ss));
    if (sl > w)
        snprintf(buf, size, "the slide %s is longer than the window %s", ss, ws);
    else if (w % sl != 0)
        snprintf(buf, size, "the slide %s does not divide the window %s (the window must be "
                 "a whole number of slides)", ss, ws);
    else if (w / sl > FW_RULES_MAX_WINDOWS_PER_EVENT)
        snprintf(buf, size, "window %s / slide %s puts every event in %" PRId64
                 " overlapping windows; at most %d", ws, ss, w / sl,
                 FW_RULES_MAX_WINDOWS_PER_EVENT);
    else
        return NULL;
    return buf;
}

static fw_err check_entry_sliding(ctx *c, const char *path, fw_rule_id id,
                                  const fw_json *entry) {
    char why[224], ppath[96];
    for (size_t i = 0; i < N(sliding_rules); i++) {
        if (sliding_rules[i].id != id || !sliding_error(&c->r, &sliding_rules[i], why, sizeof(why)))
            continue;
        /* Point at the slide if given, else the window, else the entry. */
        const fw_json *params = fw_json_get(entry, "params");
        const fw_json *at = fw_json_get(params, "slide");
        const char *name = "slide";
        if (!at) {
            at = fw_json_get(params, "window");
            name = "window";
        }
        if (!at)
            return errf(c, path, AT(entry), "%s", why);
        snprintf(ppath, sizeof(ppath), "%s.params.%s", path, name);
        return errf(c, ppath, AT(at), "%s", why);
    }
    return FW_OK;
}

static fw_err apply_entry(ctx *c, const fw_json *e, size_t idx, long seen[FW_RULE__COUNT]) {
    char path[48], kpath[160], got[80], hint[64], list[256], q[64];
    const char *names[FW_RULE__COUNT];
    snprintf(path, sizeof(path), "rules[%zu]", idx);
    rule_names(names);
    if (e->type != FW_JSON_OBJECT)
        return errf(c, path, AT(e), "expected a rule object like {\"id\": \"velocity\", ...}, got %s",
                    fw_json_describe(e, got, sizeof(got)));
    const fw_json *idv = fw_json_get(e, "id");
    if (!idv)
        return errf(c, path, AT(e), "missing \"id\" (one of %s)",
                    join(names, FW_RULE__COUNT, list, sizeof(list)));
    snprintf(kpath, sizeof(kpath), "%s.id", path);
    if (idv->type != FW_JSON_STRING)
        return errf(c, kpath, AT(idv), "expected a rule id string, got %s",
                    fw_json_describe(idv, got, sizeof(got)));
    int id = -1;
    for (int i = 0; i < FW_RULE__COUNT; i++)
        if (fw_str_eq_c(idv->str, names[i]))
            id = i;
    if (id < 0)
        return errf(c, kpath, AT(idv), "unknown rule %s%s; valid ids: %s",
                    fw_json_quote(idv->str, q, sizeof(q)),
                    did_you_mean(idv->str, names, FW_RULE__COUNT, hint, sizeof(hint)),
                    join(names, FW_RULE__COUNT, list, sizeof(list)));
    if (seen[id] >= 0)
        return errf(c, kpath, AT(idv), "rule \"%s\" is given twice (first in rules[%ld])",
                    names[id], seen[id]);
    seen[id] = (long)idx;

    fw_rule_common *rc = &c->r.common[id];
    FW_JSON_FOREACH(m, e) {
        path_key(kpath, sizeof(kpath), path, m->key);
        fw_json_describe(m, got, sizeof(got));
        if (fw_str_eq_c(m->key, "id")) {
            continue;
        } else if (fw_str_eq_c(m->key, "enabled") || fw_str_eq_c(m->key, "shadow")) {
            if (m->type != FW_JSON_BOOL)
                return errf(c, kpath, AT(m), "expected true or false, got %s", got);
            *(fw_str_eq_c(m->key, "enabled") ? &rc->enabled : &rc->shadow) = m->boolean;
        } else if (fw_str_eq_c(m->key, "severity")) {
            int sev = -1;
            for (int s = 0; s < FW_SEV__COUNT && m->type == FW_JSON_STRING; s++)
                if (fw_str_eq_c(m->str, fw_severity_name((fw_severity)s)))
                    sev = s;
            if (sev < 0)
                return errf(c, kpath, AT(m), "expected \"low\", \"medium\", \"high\" or "
                            "\"critical\", got %s", got);
            rc->severity = (fw_severity)sev;
        } else if (fw_str_eq_c(m->key, "version")) {
            int64_t v;
            if (m->type != FW_JSON_NUMBER || !fw_json_int64(m, &v) || v < 1 || v > INT_MAX)
                return errf(c, kpath, AT(m), "expected an integer between 1 and %d, got %s",
                            INT_MAX, got);
            rc->version = (int)v;
        } else if (fw_str_eq_c(m->key, "params")) {
            fw_err err = apply_params(c, kpath, (fw_rule_id)id, m);
            if (err != FW_OK)
                return err;
        } else {
            return errf(c, kpath, AT_KEY(m), "unknown key in a rule entry%s; valid keys: %s",
                        did_you_mean(m->key, entry_keys, N(entry_keys), hint, sizeof(hint)),
                        join(entry_keys, N(entry_keys), list, sizeof(list)));
        }
    }
    return check_entry_sliding(c, path, (fw_rule_id)id, e);
}

static fw_err apply_rules(ctx *c, const fw_json *v) {
    char got[80];
    long seen[FW_RULE__COUNT];
    if (v->type != FW_JSON_ARRAY)
        return errf(c, "rules", AT(v), "expected an array of rules like [{\"id\": \"velocity\", "
                    "...}], got %s", fw_json_describe(v, got, sizeof(got)));
    for (int i = 0; i < FW_RULE__COUNT; i++)
        seen[i] = -1;
    size_t idx = 0;
    FW_JSON_FOREACH(e, v) {
        /* An entry with a "type" is a language rule: lang_rules.c loads it. */
        if (e->type == FW_JSON_OBJECT && fw_json_get(e, "type")) {
            idx++;
            continue;
        }
        fw_err rc = apply_entry(c, e, idx++, seen);
        if (rc != FW_OK)
            return rc;
    }
    return FW_OK;
}

/* Sections are applied in document order, so the first fault in the file is
 * the one reported. */
static fw_err apply_document(ctx *c, const fw_json *root) {
    char got[80], path[160], hint[64], list[64];
    if (root->type != FW_JSON_OBJECT)
        return errf(c, "document", AT(root), "expected an object like {\"rules\": [...]}, got %s",
                    fw_json_describe(root, got, sizeof(got)));
    FW_JSON_FOREACH(m, root) {
        fw_err rc;
        if (fw_str_eq_c(m->key, "time")) {
            rc = apply_section(c, "time", m, time_params, N(time_params));
        } else if (fw_str_eq_c(m->key, "limits")) {
            rc = apply_section(c, "limits", m, limits_params, N(limits_params));
        } else if (fw_str_eq_c(m->key, "rules")) {
            rc = apply_rules(c, m);
        } else if (fw_str_eq_c(m->key, "schema")) {
            /* Input spelling (schema.h): only checked here; run compiles it with
             * fw_schema_load_rules_file and hands it to the pipeline. */
            char why[400];
            fw_schema *sc = fw_schema_from_json(m, why, sizeof(why));
            rc = sc ? FW_OK : errf(c, "schema", AT(m), "%s", why);
            fw_schema_destroy(sc);
        } else if (fw_str_eq_c(m->key, "lists")) {
            rc = FW_OK; /* the language rules' named lists: lang_rules.c reads them */
        } else {
            path_key(path, sizeof(path), "", m->key);
            rc = errf(c, path, AT_KEY(m), "unknown top-level key%s; valid keys: %s",
                      did_you_mean(m->key, top_keys, N(top_keys), hint, sizeof(hint)),
                      join(top_keys, N(top_keys), list, sizeof(list)));
        }
        if (rc != FW_OK)
            return rc;
    }
    return FW_OK;
}

static fw_err validate_ranges(const fw_rules *r, char *errstr, size_t errstr_size);
static fw_err check_reachable_doc(ctx *c, const fw_json *root);

fw_err fw_rules_parse_json(fw_rules *r, const char *json, size_t n, char *errstr,
                           size_t errstr_size) {
    ctx c = { .err = errstr, .err_size = errstr_size };
    fw_arena arena = { 0 };
    fw_json *root;
    char jerr[512];
    fw_err rc;
    if (errstr && errstr_size)
        errstr[0] = '\0';
    if (!r || (!json && n)) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "fw_rules_parse_json: invalid arguments");
        return FW_ERR_INVALID;
    }
    if (n > FW_RULES_MAX_BYTES) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "document: %zu bytes, above the %zu a rules file may have",
                     n, FW_RULES_MAX_BYTES);
        return FW_ERR_LIMIT;
    }
    /* Sized for the worst case, so a valid document never runs out. */
    if (!fw_arena_init(&arena, fw_json_arena_bound(n))) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "out of memory for a %zu-byte rules document", n);
        return FW_ERR_NOMEM;
    }
    rc = fw_json_parse(json, n, &arena, &root, jerr, sizeof(jerr));
    if (rc != FW_OK) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "invalid JSON: %s", jerr);
        goto out;
    }
    memcpy(&c.r, r, sizeof(c.r));
    rc = apply_document(&c, root);
    if (rc != FW_OK)
        goto out;
    /* Everything the document touched is already checked; this catches an
     * invalid starting set, so what we hand back is always valid. */
    rc = validate_ranges(&c.r, jerr, sizeof(jerr));
    if (rc != FW_OK) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "%s (a value the document left unchanged)", jerr);
        goto out;
    }
    /* Parameters and limits may come in any order: only the whole document
     * shows a rule that could never fire. */
    rc = check_reachable_doc(&c, root);
    if (rc != FW_OK)
        goto out;
    memcpy(r, &c.r, sizeof(*r));
out:
    fw_arena_fini(&arena);
    return rc;
}

fw_err fw_rules_load_file(fw_rules *r, const char *path, char *errstr, size_t errstr_size) {
    char inner[768];
    fw_err rc = FW_ERR_IO;
    char *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "%s: cannot open: %s", path, strerror(errno));
        return FW_ERR_IO;
    }
    /* One byte more than allowed tells "too large" from "exactly the limit". */
    buf = malloc(FW_RULES_MAX_BYTES + 1);
    if (!buf) {
        rc = FW_ERR_NOMEM;
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "%s: out of memory", path);
        goto out;
    }
    size_t n = fread(buf, 1, FW_RULES_MAX_BYTES + 1, f);
    if (ferror(f)) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "%s: cannot read: %s", path, strerror(errno));
        goto out;
    }
    if (n > FW_RULES_MAX_BYTES) {
        rc = FW_ERR_LIMIT;
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "%s: larger than %zu bytes", path, FW_RULES_MAX_BYTES);
        goto out;
    }
    rc = fw_rules_parse_json(r, buf, n, inner, sizeof(inner));
    if (rc != FW_OK && errstr && errstr_size)
        snprintf(errstr, errstr_size, "%s: %s", path, inner);
out:
    free(buf);
    fclose(f);
    return rc;
}

/* ---- validation and comparison ---- */

static fw_err validate_table(const fw_rules *r, const char *prefix, const param *tab, size_t n,
                             char *errstr, size_t errstr_size) {
    char why[96], val[48];
    for (size_t i = 0; i < n; i++) {
        double d;
        int64_t x;
        read_value(r, &tab[i], &d, &x);
        const char *bad = range_error(&tab[i], d, x, why, sizeof(why));
        if (bad) {
            format_value(r, &tab[i], val, sizeof(val));
            if (errstr && errstr_size)
                snprintf(errstr, errstr_size, "%s.%s: %s, got %s", prefix, tab[i].name, bad, val);
            return FW_ERR_INVALID;
        }
    }
    return FW_OK;
}

/* A rule that the limits (or the state it keeps) make impossible to fire:
 * NULL when it can, else the message naming the value and the bound that
 * defeats it, with the parameter at fault in @p param. */
static const char *unreachable_error(const fw_rules *r, fw_rule_id id, char *buf, size_t size,
                                     const char **field) {
    static const struct {
        fw_rule_id id;
        const char *param, *what;
        size_t offset;
    } counts[] = {
        { FW_RULE_VELOCITY, "min_count", "transactions", F(velocity.min_count) },
        { FW_RULE_RAPID_SMALL, "count", "consecutive transactions", F(rapid_small.count) },
        { FW_RULE_FAN_IN, "min_senders", "transfers from distinct senders", F(fan_in.min_senders) },
        { FW_RULE_FAN_OUT, "min_counterparties", "transfers to distinct counterparties",
          F(fan_out.min_counterparties) },
    };
    int64_t maxev = r->limits.max_window_events;
    for (size_t i = 0; i < N(counts); i++) {
        int need;
        if (counts[i].id != id)
            continue;
        memcpy(&need, (const char *)r + counts[i].offset, sizeof(need));
        if (need > maxev) {
            *field = counts[i].param;
            snprintf(buf, size, "%d %s can never be in one window: limits.max_window_events "
                     "keeps at most %" PRId64 " events per entity, so the rule could never fire",
                     need, counts[i].what, maxev);
            return buf;
        }
    }
    if (id == FW_RULE_RISK_SCORE) {
        const __typeof__(r->risk_score) *p = &r->risk_score;
        int64_t best = (int64_t)p->large_points * maxev +
                       (p->max_merchants < maxev ? p->merchant_points : 0);
        if (best < p->alert_at) {
            *field = "alert_at";
            snprintf(buf, size, "%d can never be reached: with limits.max_window_events %" PRId64
                     ", large_points %d, merchant_points %d and max_merchants %d the highest "
                     "score is %" PRId64, p->alert_at, maxev, p->large_points,
                     p->merchant_points, p->max_merchants, best);
            return buf;
        }
    }
    if (id == FW_RULE_CYCLE && r->cycle.min_hops > FW_CYCLE_PATH + 2) {
        *field = "min_hops";
        snprintf(buf, size, "%d can never be reached: a chain remembers the last %d accounts, "
                 "so cycles of at most %d transfers are seen", r->cycle.min_hops, FW_CYCLE_PATH,
                 FW_CYCLE_PATH + 2);
        return buf;
    }
    if (id == FW_RULE_STRUCTURING &&
        r->structuring.below * (double)maxev <= r->structuring.total_above) {
        *field = "total_above";
        snprintf(buf, size, "%.2f can never be exceeded: limits.max_window_events keeps at most "
                 "%" PRId64 " transfers per pair, each below %.2f", r->structuring.total_above,
                 maxev, r->structuring.below);
        return buf;
    }
    return NULL;
}

static fw_err validate_ranges(const fw_rules *r, char *errstr, size_t errstr_size) {
    char why[224];
    if (errstr && errstr_size)
        errstr[0] = '\0';
    fw_err rc = validate_table(r, "time", time_params, N(time_params), errstr, errstr_size);
    if (rc == FW_OK)
        rc = validate_table(r, "limits", limits_params, N(limits_params), errstr, errstr_size);
    for (int i = 0; i < FW_RULE__COUNT && rc == FW_OK; i++) {
        const fw_rule_common *c = &r->common[i];
        const char *name = fw_rule_name((fw_rule_id)i);
        if (c->version < 1) {
            if (errstr && errstr_size)
                snprintf(errstr, errstr_size, "%s.version: must be at least 1, got %d", name,
                         c->version);
            return FW_ERR_INVALID;
        }
        if ((unsigned)c->severity >= FW_SEV__COUNT) {
            if (errstr && errstr_size)
                snprintf(errstr, errstr_size, "%s.severity: unknown severity %d", name,
                         (int)c->severity);
            return FW_ERR_INVALID;
        }
        rc = validate_table(r, name, rule_params[i].p, rule_params[i].n, errstr, errstr_size);
    }
    for (size_t i = 0; i < N(sliding_rules) && rc == FW_OK; i++) {
        if (!sliding_error(r, &sliding_rules[i], why, sizeof(why)))
            continue;
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "%s.slide: %s", fw_rule_name(sliding_rules[i].id), why);
        rc = FW_ERR_INVALID;
    }
    return rc;
}

/* Every enabled rule can fire under the limits. */
static fw_err check_reachable(const fw_rules *r, char *errstr, size_t errstr_size) {
    char why[320];
    const char *field;
    for (int i = 0; i < FW_RULE__COUNT; i++) {
        if (!r->common[i].enabled || !unreachable_error(r, (fw_rule_id)i, why, sizeof(why), &field))
            continue;
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "%s.%s: %s", fw_rule_name((fw_rule_id)i), field, why);
        return FW_ERR_INVALID;
    }
    return FW_OK;
}

/* check_reachable for a parsed document: points at the parameter in the
 * rule's entry, else at the entry, else at the limit that defeats it. */
static fw_err check_reachable_doc(ctx *c, const fw_json *root) {
    char why[320], path[160];
    const char *field;
    for (int i = 0; i < FW_RULE__COUNT; i++) {
        const char *name = fw_rule_name((fw_rule_id)i);
        if (!c->r.common[i].enabled ||
            !unreachable_error(&c->r, (fw_rule_id)i, why, sizeof(why), &field))
            continue;
        size_t k = 0;
        FW_JSON_FOREACH(entry, fw_json_get(root, "rules")) {
            const fw_json *id = fw_json_get(entry, "id");
            if (id && id->type == FW_JSON_STRING && fw_str_eq_c(id->str, name)) {
                const fw_json *at = fw_json_get(fw_json_get(entry, "params"), field);
                snprintf(path, sizeof(path), "rules[%zu].params.%s", k, field);
                return errf(c, path, AT(at ? at : entry), "%s", why);
            }
            k++;
        }
        const fw_json *lim = fw_json_get(fw_json_get(root, "limits"), "max_window_events");
        snprintf(path, sizeof(path), "%s.%s", name, field);
        return errf(c, path, lim ? lim->line : root->line, lim ? lim->column : root->column,
                    "%s", why);
    }
    return FW_OK;
}

fw_err fw_rules_validate(const fw_rules *r, char *errstr, size_t errstr_size) {
    fw_err rc = validate_ranges(r, errstr, errstr_size);
    return rc == FW_OK ? check_reachable(r, errstr, errstr_size) : rc;
}

bool fw_rules_params_equal(const fw_rules *a, const fw_rules *b, fw_rule_id id) {
    if ((unsigned)id >= FW_RULE__COUNT)
        return false;
    const param_table *t = &rule_params[id];
    for (size_t i = 0; i < t->n; i++)
        if (memcmp(cfield(a, &t->p[i]), cfield(b, &t->p[i]), kind_size(t->p[i].kind)))
            return false;
    return true;
}

bool fw_rules_rule_equal(const fw_rules *a, const fw_rules *b, fw_rule_id id) {
    if (!fw_rules_params_equal(a, b, id))
        return false;
    const fw_rule_common *x = &a->common[id], *y = &b->common[id];
    return x->enabled == y->enabled && x->shadow == y->shadow && x->version == y->version &&
           x->severity == y->severity;
}

/* ---- writing ---- */

static bool write_table(fw_buf *out, const fw_rules *r, const param *tab, size_t n,
                        const char *indent) {
    bool ok = true;
    char val[48];
    for (size_t i = 0; i < n; i++) {
        const param *p = &tab[i];
        double d;
        int64_t x;
        read_value(r, p, &d, &x);
        ok = ok && fw_buf_printf(out, "%s\"%s\": ", indent, p->name);
        switch (p->kind) {
        case PK_AMOUNT:
        case PK_POSITIVE:
        case PK_FRACTION:
            ok = ok && isfinite(d) && fw_buf_json_double(out, d);
            break;
        case PK_INT:
        case PK_U32:
            ok = ok && fw_buf_printf(out, "%" PRId64, x);
            break;
        case PK_DURATION:
            fw_rules_duration_format(x, val, sizeof(val));
            ok = ok && fw_buf_printf(out, "\"%s\"", val);
            break;
        case PK_CHOICE:
            ok = ok && fw_buf_printf(out, "\"%s\"", choice_name(p, x));
            break;
        case PK_BOOL:
            ok = ok && fw_buf_puts(out, x ? "true" : "false");
            break;
        }
        ok = ok && fw_buf_puts(out, i + 1 < n ? ",\n" : "\n");
    }
    return ok;
}

/* One rule entry at indentation @p in ("" or "    "), no trailing separator. */
static bool write_rule(fw_buf *out, const fw_rules *r, fw_rule_id id, const char *in) {
    const fw_rule_common *c = &r->common[id];
    if ((unsigned)c->severity >= FW_SEV__COUNT)
        return false;
    char pin[16];
    snprintf(pin, sizeof(pin), "%s    ", in);
    return fw_buf_printf(out,
                         "%s{\n"
                         "%s  \"id\": \"%s\",\n"
                         "%s  \"enabled\": %s,\n"
                         "%s  \"shadow\": %s,\n"
                         "%s  \"severity\": \"%s\",\n"
                         "%s  \"version\": %d,\n"
                         "%s  \"params\": {\n",
                         in, in, fw_rule_name(id), in, c->enabled ? "true" : "false", in,
                         c->shadow ? "true" : "false", in, fw_severity_name(c->severity), in,
                         c->version, in) &&
           write_table(out, r, rule_params[id].p, rule_params[id].n, pin) &&
           fw_buf_printf(out, "%s  }\n%s}", in, in);
}

bool fw_rules_write_json(const fw_rules *r, fw_buf *out) {
    bool ok = fw_buf_puts(out, "{\n  \"time\": {\n") &&
              write_table(out, r, time_params, N(time_params), "    ") &&
              fw_buf_puts(out, "  },\n  \"limits\": {\n") &&
              write_table(out, r, limits_params, N(limits_params), "    ") &&
              fw_buf_puts(out, "  },\n  \"rules\": [\n");
    for (int i = 0; i < FW_RULE__COUNT && ok; i++)
        ok = write_rule(out, r, (fw_rule_id)i, "    ") &&
             fw_buf_puts(out, i + 1 < FW_RULE__COUNT ? ",\n" : "\n");
    ok = ok && fw_buf_puts(out, "  ]\n}\n");
    return ok && !out->overflow;
}

bool fw_rules_write_rule_json(const fw_rules *r, fw_rule_id id, fw_buf *out) {
    if ((unsigned)id >= FW_RULE__COUNT)
        return false;
    return write_rule(out, r, id, "") && fw_buf_putc(out, '\n') && !out->overflow;
}

void fw_rules_copy_rule(fw_rules *dst, const fw_rules *src, fw_rule_id id) {
    if ((unsigned)id >= FW_RULE__COUNT)
        return;
    const param_table *t = &rule_params[id];
    dst->common[id] = src->common[id];
    for (size_t i = 0; i < t->n; i++)
        memcpy(field(dst, &t->p[i]), cfield(src, &t->p[i]), kind_size(t->p[i].kind));
}

int fw_rules_describe_change(const fw_rules *a, const fw_rules *b, fw_rule_id id, char *out,
                             size_t size) {
    if (size)
        out[0] = '\0';
    if ((unsigned)id >= FW_RULE__COUNT || !size)
        return 0;
    size_t len = 0;
    int n = 0;
    char x[48], y[48];
#define ADD(...)                                                                    \
    do {                                                                            \
        if (len < size) {                                                           \
            int w_ = snprintf(out + len, size - len, "%s", n ? ", " : "");          \
            len += w_ > 0 ? (size_t)w_ : 0;                                         \
        }                                                                           \
        if (len < size) {                                                           \
            int w_ = snprintf(out + len, size - len, __VA_ARGS__);                  \
            len += w_ > 0 ? (size_t)w_ : 0;                                         \
        }                                                                           \
        n++;                                                                        \
    } while (0)
    const fw_rule_common *ca = &a->common[id], *cb = &b->common[id];
    if (ca->enabled != cb->enabled)
        ADD("enabled %s → %s", ca->enabled ? "true" : "false",
            cb->enabled ? "true" : "false");
    if (ca->shadow != cb->shadow)
        ADD("shadow %s → %s", ca->shadow ? "true" : "false", cb->shadow ? "true" : "false");
    if (ca->severity != cb->severity)
        ADD("severity %s → %s", fw_severity_name(ca->severity),
            fw_severity_name(cb->severity));
    const param_table *t = &rule_params[id];
    for (size_t i = 0; i < t->n; i++) {
        const param *p = &t->p[i];
        if (!memcmp(cfield(a, p), cfield(b, p), kind_size(p->kind)))
            continue;
        format_value(a, p, x, sizeof(x));
        format_value(b, p, y, sizeof(y));
        if (p->kind == PK_AMOUNT || p->kind == PK_POSITIVE || p->kind == PK_FRACTION) {
            double d;
            int64_t i64;
            read_value(a, p, &d, &i64);
            snprintf(x, sizeof(x), "%.15g", d); /* 0.8, not 0.80000000000000004 */
            read_value(b, p, &d, &i64);
            snprintf(y, sizeof(y), "%.15g", d);
        }
        ADD("%s %s → %s", p->name, x, y);
    }
#undef ADD
    return n;
}
