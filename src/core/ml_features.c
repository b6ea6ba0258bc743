/* ml_features.c — feature vectors and the per-customer history behind them. */
#include "ml_features.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "fw_bytes.h"
#include "fw_geo.h"
#include "fw_hash.h"

#define HOUR_MS (3600 * 1000LL)
#define DAY_MS (24 * HOUR_MS)
#define SLOT_MS (5 * 60 * 1000LL)

static const char *const behavioural_names[FW_F__COUNT - FW_F_AMOUNT] = {
    [FW_F_AMOUNT - FW_F_AMOUNT] = "Amount",
    [FW_F_AMOUNT_VS_AVG - FW_F_AMOUNT] = "amount_vs_avg",
    [FW_F_SECS_SINCE_PREV - FW_F_AMOUNT] = "secs_since_prev",
    [FW_F_COUNT_1H - FW_F_AMOUNT] = "count_1h",
    [FW_F_SUM_1H - FW_F_AMOUNT] = "sum_1h",
    [FW_F_COUNT_24H - FW_F_AMOUNT] = "count_24h",
    [FW_F_SUM_24H - FW_F_AMOUNT] = "sum_24h",
    [FW_F_MERCHANTS_24H - FW_F_AMOUNT] = "merchants_24h",
    [FW_F_COUNTRIES_24H - FW_F_AMOUNT] = "countries_24h",
    [FW_F_NEW_MERCHANT - FW_F_AMOUNT] = "new_merchant",
    [FW_F_NEW_COUNTRY - FW_F_AMOUNT] = "new_country",
    [FW_F_NEW_COUNTERPARTY - FW_F_AMOUNT] = "new_counterparty",
    [FW_F_HOUR - FW_F_AMOUNT] = "hour",
    [FW_F_CHANNEL - FW_F_AMOUNT] = "channel",
    [FW_F_TYPE - FW_F_AMOUNT] = "type",
    [FW_F_FOREIGN - FW_F_AMOUNT] = "foreign",
    [FW_F_SECS_SINCE_PASSWORD_CHANGE - FW_F_AMOUNT] = "secs_since_password_change",
    [FW_F_HISTORY - FW_F_AMOUNT] = "history",
    [FW_F_AMOUNT_VS_PREV - FW_F_AMOUNT] = "amount_vs_prev",
    [FW_F_KM_FROM_PREV - FW_F_AMOUNT] = "km_from_prev",
    [FW_F_KMH_FROM_PREV - FW_F_AMOUNT] = "kmh_from_prev",
    [FW_F_COUNTRY_CHANGED - FW_F_AMOUNT] = "country_changed",
};

static const char *const v_names[FW_TXN_NFEATURES] = {
    "V1",  "V2",  "V3",  "V4",  "V5",  "V6",  "V7",  "V8",  "V9",  "V10",
    "V11", "V12", "V13", "V14", "V15", "V16", "V17", "V18", "V19", "V20",
    "V21", "V22", "V23", "V24", "V25", "V26", "V27", "V28",
};

const char *fw_feature_name(fw_feature f) {
    if ((int)f < 0 || f >= FW_F__COUNT)
        return NULL;
    return f < FW_F_AMOUNT ? v_names[f] : behavioural_names[f - FW_F_AMOUNT];
}

int fw_feature_by_name(const char *name, size_t len) {
    for (int f = 0; f < FW_F__COUNT; f++) {
        const char *n = fw_feature_name((fw_feature)f);
        if (strlen(n) == len && memcmp(n, name, len) == 0)
            return f;
    }
    return -1;
}

void fw_feat_state_init(fw_feat_state *s) {
    memset(s, 0, sizeof(*s));
    s->last_ts = INT64_MIN;
    s->last_password_change = INT64_MIN;
    s->prev_lat = s->prev_lon = NAN;
    for (int i = 0; i < FW_FEAT_HOUR_SLOTS; i++)
        s->hour[i].no = INT64_MIN;
    for (int i = 0; i < FW_FEAT_DAY_SLOTS; i++)
        s->day[i].no = INT64_MIN;
}

/* Floor division: slot numbers stay ordered for times before 1970 too. */
static int64_t slot_no(int64_t ts, int64_t width) {
    return ts >= 0 ? ts / width : -((-ts + width - 1) / width);
}

static size_t ring_index(int64_t no, size_t n) {
    int64_t m = no % (int64_t)n;
    return (size_t)(m < 0 ? m + (int64_t)n : m);
}

/* Events in the @p n slots ending with the one holding @p ts. */
static void window(const fw_feat_slot *slots, size_t n, int64_t width, int64_t ts,
                   float *count, float *sum) {
    int64_t cur = slot_no(ts, width);
    uint64_t c = 0;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        if (slots[i].no != INT64_MIN && slots[i].no <= cur && slots[i].no > cur - (int64_t)n) {
            c += slots[i].n;
            s += slots[i].sum;
        }
    *count = (float)c;
    *sum = (float)s;
}

static void slot_add(fw_feat_slot *slots, size_t n, int64_t width, int64_t ts, double amount) {
    int64_t no = slot_no(ts, width);
    fw_feat_slot *sl = &slots[ring_index(no, n)];
    if (sl->no > no)
        return; /* older than anything the ring still holds */
    if (sl->no != no)
        *sl = (fw_feat_slot){ .no = no };
    if (sl->n < UINT32_MAX)
        sl->n++;
    sl->sum += amount;
}

static uint64_t hash_of(fw_str s) {
    if (!s.ptr || !s.len)
        return 0;
    uint64_t h = fw_hash64(s.ptr, s.len, 0x66656174ULL);
    return h ? h : 1;
}

static const fw_feat_seen *seen_find(const fw_feat_seen *t, size_t n, uint64_t h) {
    for (size_t i = 0; i < n; i++)
        if (t[i].hash == h)
            return &t[i];
    return NULL;
}

/* Remembers @p h as seen at @p ts, replacing the longest-unseen entry. */
static void seen_add(fw_feat_seen *t, size_t n, uint64_t h, int64_t ts) {
    if (!h)
        return;
    fw_feat_seen *slot = NULL;
    for (size_t i = 0; i < n; i++) {
        if (t[i].hash == h) {
            if (ts > t[i].last)
                t[i].last = ts;
            return;
        }
        if (!slot || t[i].hash == 0 || (slot->hash != 0 && t[i].last < slot->last))
            slot = &t[i];
    }
    *slot = (fw_feat_seen){ .hash = h, .last = ts };
}

static float distinct_since(const fw_feat_seen *t, size_t n, int64_t from, int64_t to) {
    int c = 0;
    for (size_t i = 0; i < n; i++)
        c += t[i].hash != 0 && t[i].last > from && t[i].last <= to;
    return (float)c;
}

/* 1 when @p h (present) was not seen recently, 0 when it was; NaN when absent. */
static float is_new(const fw_feat_state *s, const fw_feat_seen *t, size_t n, uint64_t h) {
    if (!h)
        return NAN;
    if (!s)
        return 1.0f;
    return seen_find(t, n, h) ? 0.0f : 1.0f;
}

static float channel_code(fw_str c) {
    static const char *const names[] = { "pos", "online", "atm", "mobile", "branch" };
    if (!c.ptr || !c.len)
        return NAN;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == c.len && strncasecmp(names[i], c.ptr, c.len) == 0)
            return (float)(i + 1);
    return 6.0f;
}

static float secs_since(int64_t then, int64_t now) {
    if (then == INT64_MIN)
        return NAN;
    return now >= then ? (float)((double)(now - then) / 1000.0) : 0.0f;
}

void fw_features_compute(const fw_feat_state *s, const fw_txn *t, const fw_profile *prof,
                         float out[FW_F__COUNT]) {
    for (int i = 0; i < FW_TXN_NFEATURES; i++)
        out[FW_F_V1 + i] = (t->v_mask >> i) & 1u ? t->v[i] : NAN;
    out[FW_F_AMOUNT] = (float)t->amount;
    int64_t ts = t->ts_ms;
    bool hist = s && s->n > 0;
    out[FW_F_AMOUNT_VS_AVG] = hist && s->amount_sum > 0
                                  ? (float)(t->amount / (s->amount_sum / (double)s->n))
                                  : NAN;
    out[FW_F_SECS_SINCE_PREV] = s ? secs_since(s->last_ts, ts) : NAN;
    if (s) {
        window(s->hour, FW_FEAT_HOUR_SLOTS, SLOT_MS, ts, &out[FW_F_COUNT_1H], &out[FW_F_SUM_1H]);
        window(s->day, FW_FEAT_DAY_SLOTS, HOUR_MS, ts, &out[FW_F_COUNT_24H], &out[FW_F_SUM_24H]);
        out[FW_F_MERCHANTS_24H] = distinct_since(s->merchants, FW_FEAT_MERCHANTS, ts - DAY_MS, ts);
        out[FW_F_COUNTRIES_24H] = distinct_since(s->countries, FW_FEAT_COUNTRIES, ts - DAY_MS, ts);
    } else {
        out[FW_F_COUNT_1H] = out[FW_F_SUM_1H] = out[FW_F_COUNT_24H] = out[FW_F_SUM_24H] = 0;
        out[FW_F_MERCHANTS_24H] = out[FW_F_COUNTRIES_24H] = 0;
    }
    out[FW_F_NEW_MERCHANT] = is_new(s, s ? s->merchants : NULL, FW_FEAT_MERCHANTS,
                                    hash_of(t->merchant_id));
    out[FW_F_NEW_COUNTRY] = is_new(s, s ? s->countries : NULL, FW_FEAT_COUNTRIES,
                                   hash_of(t->country));
    out[FW_F_NEW_COUNTERPARTY] = is_new(s, s ? s->payees : NULL, FW_FEAT_PAYEES,
                                        hash_of(t->counterparty_id));
    int64_t ms_of_day = ts % DAY_MS;
    if (ms_of_day < 0)
        ms_of_day += DAY_MS;
    out[FW_F_HOUR] = (float)(ms_of_day / HOUR_MS);
    out[FW_F_CHANNEL] = channel_code(t->channel);
    out[FW_F_TYPE] = t->type == FW_TXN_TYPE_NONE ? NAN : (float)t->type;
    if (prof && prof->home_country[0] && t->country.ptr && t->country.len)
        out[FW_F_FOREIGN] = fw_str_eq_c(t->country, prof->home_country) ? 0.0f : 1.0f;
    else
        out[FW_F_FOREIGN] = NAN;
    out[FW_F_SECS_SINCE_PASSWORD_CHANGE] = s ? secs_since(s->last_password_change, ts) : NAN;
    out[FW_F_HISTORY] = s ? (float)s->n : 0.0f;
    out[FW_F_AMOUNT_VS_PREV] = hist && s->prev_amount > 0
                                   ? (float)(t->amount / s->prev_amount) : NAN;
    bool geo = (t->has & FW_TXN_HAS_LAT) && (t->has & FW_TXN_HAS_LON);
    if (hist && geo && !isnan(s->prev_lat)) {
        double km = fw_haversine_km(s->prev_lat, s->prev_lon, t->lat, t->lon);
        double hours = (double)(ts - s->last_ts) / 3600000.0;
        out[FW_F_KM_FROM_PREV] = (float)km;
        /* At most one minute apart counts as one minute: no division by zero. */
        out[FW_F_KMH_FROM_PREV] = (float)(km / (hours > 1.0 / 60 ? hours : 1.0 / 60));
    } else {
        out[FW_F_KM_FROM_PREV] = out[FW_F_KMH_FROM_PREV] = NAN;
    }
    uint64_t cc = hash_of(t->country);
    out[FW_F_COUNTRY_CHANGED] = hist && cc && s->prev_country
                                    ? (cc != s->prev_country ? 1.0f : 0.0f) : NAN;
}

void fw_feat_state_update(fw_feat_state *s, const fw_txn *t) {
    int64_t ts = t->ts_ms;
    if (t->type == FW_TXN_PASSWORD_CHANGE || t->type == FW_TXN_LOGIN) {
        /* Account events, not payments: they shape no amount statistics. */
        if (t->type == FW_TXN_PASSWORD_CHANGE && ts > s->last_password_change)
            s->last_password_change = ts;
        return;
    }
    if (ts >= s->last_ts) { /* "previous" follows event time */
        s->last_ts = ts;
        s->prev_amount = t->amount;
        bool geo = (t->has & FW_TXN_HAS_LAT) && (t->has & FW_TXN_HAS_LON);
        s->prev_lat = geo ? t->lat : NAN;
        s->prev_lon = geo ? t->lon : NAN;
        s->prev_country = hash_of(t->country);
    }
    s->n++;
    s->amount_sum += t->amount;
    slot_add(s->hour, FW_FEAT_HOUR_SLOTS, SLOT_MS, ts, t->amount);
    slot_add(s->day, FW_FEAT_DAY_SLOTS, HOUR_MS, ts, t->amount);
    seen_add(s->merchants, FW_FEAT_MERCHANTS, hash_of(t->merchant_id), ts);
    seen_add(s->countries, FW_FEAT_COUNTRIES, hash_of(t->country), ts);
    seen_add(s->payees, FW_FEAT_PAYEES, hash_of(t->counterparty_id), ts);
}

/* ---- changelog form: little-endian, field by field ---- */

static void put_slots(fw_buf *b, const fw_feat_slot *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        fw_buf_put_u64le(b, (uint64_t)s[i].no);
        fw_buf_put_u64le(b, s[i].n);
        fw_buf_put_f64le(b, s[i].sum);
    }
}

static void put_seen(fw_buf *b, const fw_feat_seen *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        fw_buf_put_u64le(b, s[i].hash);
        fw_buf_put_u64le(b, (uint64_t)s[i].last);
    }
}

#define FW_FEAT_WIRE_BYTES \
    (8 * 8 + 24 * (FW_FEAT_HOUR_SLOTS + FW_FEAT_DAY_SLOTS) + \
     16 * (FW_FEAT_MERCHANTS + FW_FEAT_COUNTRIES + FW_FEAT_PAYEES))

void fw_feat_state_write(const fw_feat_state *s, fw_buf *b) {
    fw_buf_put_u64le(b, (uint64_t)s->last_ts);
    fw_buf_put_u64le(b, (uint64_t)s->last_password_change);
    fw_buf_put_u64le(b, s->n);
    fw_buf_put_f64le(b, s->amount_sum);
    fw_buf_put_f64le(b, s->prev_amount);
    fw_buf_put_f64le(b, s->prev_lat);
    fw_buf_put_f64le(b, s->prev_lon);
    fw_buf_put_u64le(b, s->prev_country);
    put_slots(b, s->hour, FW_FEAT_HOUR_SLOTS);
    put_slots(b, s->day, FW_FEAT_DAY_SLOTS);
    put_seen(b, s->merchants, FW_FEAT_MERCHANTS);
    put_seen(b, s->countries, FW_FEAT_COUNTRIES);
    put_seen(b, s->payees, FW_FEAT_PAYEES);
}

/* Readers that step over what they read; fw_feat_state_read checks the length once. */
static uint64_t get64(const unsigned char **p) {
    uint64_t v = fw_load_u64le(*p);
    *p += 8;
    return v;
}

static double getd(const unsigned char **p) {
    double d = fw_load_f64le(*p);
    *p += 8;
    return d;
}

static void get_slots(const unsigned char **p, fw_feat_slot *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        s[i].no = (int64_t)get64(p);
        uint64_t c = get64(p);
        s[i].n = c > UINT32_MAX ? UINT32_MAX : (uint32_t)c;
        s[i].sum = getd(p);
    }
}

static void get_seen(const unsigned char **p, fw_feat_seen *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        s[i].hash = get64(p);
        s[i].last = (int64_t)get64(p);
    }
}

size_t fw_feat_state_read(fw_feat_state *s, const void *data, size_t n) {
    if (n < FW_FEAT_WIRE_BYTES)
        return 0;
    const unsigned char *p = data;
    s->last_ts = (int64_t)get64(&p);
    s->last_password_change = (int64_t)get64(&p);
    s->n = get64(&p);
    s->amount_sum = getd(&p);
    s->prev_amount = getd(&p);
    s->prev_lat = getd(&p);
    s->prev_lon = getd(&p);
    s->prev_country = get64(&p);
    get_slots(&p, s->hour, FW_FEAT_HOUR_SLOTS);
    get_slots(&p, s->day, FW_FEAT_DAY_SLOTS);
    get_seen(&p, s->merchants, FW_FEAT_MERCHANTS);
    get_seen(&p, s->countries, FW_FEAT_COUNTRIES);
    get_seen(&p, s->payees, FW_FEAT_PAYEES);
    return FW_FEAT_WIRE_BYTES;
}
