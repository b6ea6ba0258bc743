/* schema.c — parses and compiles a mapping document (schema.h): our field <-
 * their name or dotted path, their timestamp format, their type and channel
 * values. Every error names the key and the value, in the style of
 * rules_file.c ("fields.amount: ..."). The result is a key tree with linked
 * levels the decoder walks without allocating. */
#include "schema.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "txn.h"

#define SCHEMA_MAX_BYTES (256 * 1024)
#define SCHEMA_TEXT_CAP (64 * 1024)  /* names, paths and values of one mapping */

const char *fw_ts_format_name(fw_ts_format f) {
    switch (f) {
    case FW_TS_DEFAULT: return "default";
    case FW_TS_ISO8601: return "iso8601";
    case FW_TS_EPOCH_S: return "epoch_s";
    case FW_TS_EPOCH_MS: return "epoch_ms";
    case FW_TS_EPOCH_US: return "epoch_us";
    case FW_TS_PATTERN: return "strptime";
    }
    return "?";
}

void fw_schema_destroy(fw_schema *s) {
    if (!s)
        return;
    free(s->text);
    free(s);
}

/* Copies @p v into the schema's text storage, NUL-terminated. */
static const char *keep(fw_schema *s, fw_str v) {
    if (v.len + 1 > s->text_cap - s->text_used)
        return NULL;
    char *d = s->text + s->text_used;
    memcpy(d, v.ptr, v.len);
    d[v.len] = '\0';
    s->text_used += v.len + 1;
    return d;
}

__attribute__((format(printf, 3, 4)))
static bool err_set(char *errstr, size_t errstr_size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
    return false;
}

#define ERR(...) err_set(errstr, errstr_size, __VA_ARGS__)

static bool too_big(char *errstr, size_t errstr_size) {
    return ERR("mapping: more than %d bytes of names and values", SCHEMA_TEXT_CAP);
}

/* Adds the path @p path (segments separated by '.') for our field @p f. */
static bool add_path(fw_schema *s, int f, const char *fname, fw_str path, int16_t *root,
                     char *errstr, size_t errstr_size) {
    char q[64];
    fw_json_quote(path, q, sizeof(q));
    if (path.len == 0 || memchr(path.ptr, 0, path.len))
        return ERR("fields.%s: expected their field name or a dotted path, got %s", fname, q);
    int16_t *head = root; /* keys[] never moves, so pointers into it stay valid */
    int depth = 0;
    for (size_t i = 0;;) {
        size_t j = i;
        while (j < path.len && path.ptr[j] != '.')
            j++;
        fw_str seg = { .ptr = path.ptr + i, .len = j - i };
        bool last = j >= path.len;
        if (seg.len == 0)
            return ERR("fields.%s: %s has an empty segment (a leading, trailing or doubled "
                       "'.')", fname, q);
        if (++depth > FW_SCHEMA_MAX_DEPTH)
            return ERR("fields.%s: %s is more than %d levels deep", fname, q,
                       FW_SCHEMA_MAX_DEPTH);
        int k = *head, tail = -1;
        while (k >= 0 && !(s->keys[k].name.len == seg.len &&
                           memcmp(s->keys[k].name.ptr, seg.ptr, seg.len) == 0)) {
            tail = k;
            k = s->keys[k].next;
        }
        if (k < 0) {
            if (s->nkeys >= FW_SCHEMA_MAX_KEYS)
                return ERR("fields.%s: the mapping has more than %d names", fname,
                           FW_SCHEMA_MAX_KEYS);
            const char *name = keep(s, seg);
            if (!name)
                return too_big(errstr, errstr_size);
            k = s->nkeys++;
            s->keys[k] = (fw_schema_key){ .name = { .ptr = name, .len = seg.len },
                                          .field = -1, .child = -1, .next = -1 };
            /* Appended, so the record level starts at keys[0]. */
            if (tail < 0)
                *head = (int16_t)k;
            else
                s->keys[tail].next = (int16_t)k;
        }
        fw_schema_key *key = &s->keys[k];
        if (key->field >= 0)
            return ERR("fields.%s: %s %s the source of fields.%s", fname, q,
                       last ? "is already" : "runs through",
                       fw_txn_field_name(key->field));
        if (last) {
            if (key->child >= 0)
                return ERR("fields.%s: %s is an object holding other mapped fields", fname,
                           q);
            key->field = (int16_t)f;
            return true;
        }
        head = &key->child;
        i = j + 1;
    }
}

/* "Z", "UTC", "+01:00", "-0530": a fixed offset east of UTC. */
static bool parse_zone(fw_str z, int64_t *ms) {
    if ((z.len == 1 && z.ptr[0] == 'Z') || (z.len == 3 && memcmp(z.ptr, "UTC", 3) == 0)) {
        *ms = 0;
        return true;
    }
    const char *p = z.ptr;
    int h, m;
    if (z.len == 6 && p[3] == ':')
        ;
    else if (z.len != 5)
        return false;
    if (p[0] != '+' && p[0] != '-')
        return false;
    const char *mm = z.len == 6 ? p + 4 : p + 3;
    for (int i = 1; i < 3; i++)
        if (p[i] < '0' || p[i] > '9' || mm[i - 1] < '0' || mm[i - 1] > '9')
            return false;
    h = (p[1] - '0') * 10 + (p[2] - '0');
    m = (mm[0] - '0') * 10 + (mm[1] - '0');
    if (h > 14 || m > 59)
        return false;
    *ms = (p[0] == '-' ? -1 : 1) * ((int64_t)h * 3600000 + (int64_t)m * 60000);
    return true;
}

/* Reads 1..max digits (at least min) at s[*i]. */
static bool digits(const char *s, size_t n, size_t *i, int min, int max, int64_t *v,
                   int *count) {
    int k = 0;
    int64_t x = 0;
    while (*i < n && k < max && s[*i] >= '0' && s[*i] <= '9') {
        x = x * 10 + (s[*i] - '0');
        (*i)++;
        k++;
    }
    if (k < min)
        return false;
    *v = x;
    if (count)
        *count = k;
    return true;
}

fw_err fw_schema_parse_pattern(const char *pattern, const char *s, size_t n, int64_t zone_ms,
                               int64_t *ms) {
    int64_t y = -1, mo = 1, d = 1, h = 0, mi = 0, sec = 0, frac_ms = 0, v;
    size_t i = 0;
    for (const char *p = pattern; *p; p++) {
        if (*p != '%' || p[1] == '%') {
            p += *p == '%';
            if (i >= n || s[i] != *p)
                return FW_ERR_INVALID;
            i++;
            continue;
        }
        int k;
        switch (*++p) {
        case 'Y': if (!digits(s, n, &i, 4, 4, &y, NULL)) return FW_ERR_INVALID; break;
        case 'm': if (!digits(s, n, &i, 1, 2, &mo, NULL)) return FW_ERR_INVALID; break;
        case 'd': if (!digits(s, n, &i, 1, 2, &d, NULL)) return FW_ERR_INVALID; break;
        case 'H': if (!digits(s, n, &i, 1, 2, &h, NULL)) return FW_ERR_INVALID; break;
        case 'M': if (!digits(s, n, &i, 1, 2, &mi, NULL)) return FW_ERR_INVALID; break;
        case 'S': if (!digits(s, n, &i, 1, 2, &sec, NULL)) return FW_ERR_INVALID; break;
        case 'f':
            if (!digits(s, n, &i, 1, 9, &v, &k))
                return FW_ERR_INVALID;
            while (k > 3) { v /= 10; k--; } /* milliseconds, truncated */
            while (k < 3) { v *= 10; k++; }
            frac_ms = v;
            break;
        default: return FW_ERR_INVALID; /* the mapping was validated: not reached */
        }
    }
    if (i != n || y < 0 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 60)
        return FW_ERR_INVALID;
    static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap))
        return FW_ERR_INVALID;
    if (sec == 60) /* a leap second is the last instant of its minute */
        sec = 59, frac_ms = 999;
    int64_t days = fw_days_from_civil(y, (unsigned)mo, (unsigned)d);
    *ms = days * 86400000 + h * 3600000 + mi * 60000 + sec * 1000 + frac_ms - zone_ms;
    return FW_OK;
}

/* Only the directives fw_schema_parse_pattern knows; a date and a time. */
static bool check_pattern(const char *pat, char *errstr, size_t errstr_size) {
    unsigned seen = 0;
    char q[64];
    fw_json_quote(fw_str_c(pat), q, sizeof(q)); /* printable in messages */
    for (const char *p = pat; *p; p++) {
        if (*p != '%')
            continue;
        const char *at = strchr("YmdHMSf%", p[1]);
        if (!p[1] || !at)
            return ERR("timestamp.format: the pattern %s has %%%c; the directives are %%Y "
                       "%%m %%d %%H %%M %%S %%f and %%%%", q,
                       p[1] > 0x20 && p[1] < 0x7f ? p[1] : '?');
        if (seen & (1u << (at - "YmdHMSf%")) && p[1] != '%')
            return ERR("timestamp.format: the pattern %s has %%%c twice", q, p[1]);
        seen |= 1u << (at - "YmdHMSf%");
        p++;
    }
    if ((seen & 0x1f) != 0x1f)
        return ERR("timestamp.format: the pattern %s needs at least %%Y %%m %%d %%H %%M", q);
    return true;
}

static bool parse_timestamp(fw_schema *s, const fw_json *ts, char *errstr,
                            size_t errstr_size) {
    char d[64];
    if (ts->type != FW_JSON_OBJECT)
        return ERR("timestamp: expected an object {\"format\": ..., \"zone\": ...}, got %s",
                   fw_json_describe(ts, d, sizeof(d)));
    const fw_json *zone = NULL;
    FW_JSON_FOREACH(m, ts) {
        if (fw_str_eq(m->key, fw_str_c("zone"))) {
            zone = m;
            continue;
        }
        if (!fw_str_eq(m->key, fw_str_c("format")))
            return ERR("timestamp.%s: unknown key (expected format, zone)",
                       fw_json_quote(m->key, d, sizeof(d)));
        if (m->type != FW_JSON_STRING)
            return ERR("timestamp.format: expected a string, got %s",
                       fw_json_describe(m, d, sizeof(d)));
        fw_str f = m->str;
        static const struct { const char *name; fw_ts_format f; } names[] = {
            { "iso8601", FW_TS_ISO8601 },   { "epoch_s", FW_TS_EPOCH_S },
            { "epoch_ms", FW_TS_EPOCH_MS }, { "epoch_us", FW_TS_EPOCH_US },
        };
        bool found = false;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            if (fw_str_eq(f, fw_str_c(names[i].name))) {
                s->ts_format = names[i].f;
                found = true;
            }
        if (!found && f.len > 9 && memcmp(f.ptr, "strptime:", 9) == 0) {
            if (f.len - 9 >= FW_SCHEMA_PATTERN_MAX || memchr(f.ptr, '\0', f.len))
                return ERR("timestamp.format: the pattern %s is longer than %d characters",
                           fw_json_describe(m, d, sizeof(d)), FW_SCHEMA_PATTERN_MAX - 1);
            memcpy(s->ts_pattern, f.ptr + 9, f.len - 9);
            s->ts_pattern[f.len - 9] = '\0';
            if (!check_pattern(s->ts_pattern, errstr, errstr_size))
                return false;
            s->ts_format = FW_TS_PATTERN;
            found = true;
        }
        if (!found)
            return ERR("timestamp.format: expected iso8601, epoch_s, epoch_ms, epoch_us or "
                       "\"strptime:PATTERN\", got %s", fw_json_describe(m, d, sizeof(d)));
    }
    if (zone) {
        if (zone->type != FW_JSON_STRING || !parse_zone(zone->str, &s->ts_zone_ms))
            return ERR("timestamp.zone: expected a fixed offset such as \"+01:00\", \"-0500\" "
                       "or \"Z\", got %s", fw_json_describe(zone, d, sizeof(d)));
        if (s->ts_format != FW_TS_PATTERN)
            return ERR("timestamp.zone: only a \"strptime:...\" format takes a zone (%s "
                       "carries its own)", fw_ts_format_name(s->ts_format));
    } else if (s->ts_format == FW_TS_PATTERN) {
        return ERR("timestamp.zone: a strptime pattern has no zone of its own; give the zone "
                   "its local times are in, e.g. \"+01:00\" or \"Z\"");
    }
    return true;
}

static bool parse_value_map(fw_schema *s, const fw_json *obj, const char *what,
                            fw_schema_value *map, int *n, char *errstr, size_t errstr_size) {
    static const char *const types[] = { "PURCHASE", "TRANSFER", "WITHDRAWAL", "DEPOSIT",
                                         "PASSWORD_CHANGE", "LOGIN" };
    char d[64], q[64];
    if (obj->type != FW_JSON_OBJECT)
        return ERR("values.%s: expected an object {\"theirs\": \"ours\"}, got %s", what,
                   fw_json_describe(obj, d, sizeof(d)));
    FW_JSON_FOREACH(m, obj) {
        fw_json_quote(m->key, q, sizeof(q));
        if (m->type != FW_JSON_STRING || m->str.len == 0 || memchr(m->str.ptr, 0, m->str.len) ||
            memchr(m->key.ptr, 0, m->key.len))
            return ERR("values.%s.%s: expected a non-empty string without NUL, got %s", what, q,
                       fw_json_describe(m, d, sizeof(d)));
        if (!strcmp(what, "type")) {
            bool ok = false;
            for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
                ok |= fw_str_eq(m->str, fw_str_c(types[i]));
            if (!ok)
                return ERR("values.type.%s: %s is not one of PURCHASE, TRANSFER, WITHDRAWAL, "
                           "DEPOSIT, PASSWORD_CHANGE, LOGIN", q,
                           fw_json_describe(m, d, sizeof(d)));
        }
        if (*n >= FW_SCHEMA_MAX_VALUES)
            return ERR("values.%s: more than %d entries", what, FW_SCHEMA_MAX_VALUES);
        const char *from = keep(s, m->key), *to = keep(s, m->str);
        if (!from || !to)
            return too_big(errstr, errstr_size);
        map[(*n)++] = (fw_schema_value){ .from = { .ptr = from, .len = m->key.len },
                                         .to = { .ptr = to, .len = m->str.len } };
    }
    return true;
}

const fw_str *fw_schema_map_value(const fw_schema_value *map, int n, const char *v,
                                  size_t len) {
    for (int i = 0; i < n; i++)
        if (map[i].from.len == len && memcmp(map[i].from.ptr, v, len) == 0)
            return &map[i].to;
    return NULL;
}

fw_schema *fw_schema_from_json(const fw_json *doc, char *errstr, size_t errstr_size) {
    char d[64], q[64];
    fw_schema *s = calloc(1, sizeof(*s));
    if (!s || !(s->text = malloc(SCHEMA_TEXT_CAP))) {
        snprintf(errstr, errstr_size, "mapping: out of memory");
        goto fail;
    }
    s->text_cap = SCHEMA_TEXT_CAP;
    if (!doc || doc->type != FW_JSON_OBJECT) {
        ERR("mapping: expected a JSON object with fields, timestamp, values; got %s",
            doc ? fw_json_describe(doc, d, sizeof(d)) : "nothing");
        goto fail;
    }
    int16_t root = -1;
    FW_JSON_FOREACH(sec, doc) {
        if (fw_str_eq(sec->key, fw_str_c("fields"))) {
            if (sec->type != FW_JSON_OBJECT) {
                ERR("fields: expected an object {\"our_field\": \"their.path\"}, got %s",
                    fw_json_describe(sec, d, sizeof(d)));
                goto fail;
            }
            FW_JSON_FOREACH(m, sec) {
                int f = fw_txn_field_index(m->key.ptr, m->key.len);
                fw_json_quote(m->key, q, sizeof(q));
                if (f < 0) {
                    ERR("fields.%s: not one of our fields (transaction_id, timestamp, amount, "
                        "account_id, card_id, customer_id, type, currency, merchant_id, "
                        "merchant_category, country, lat, lon, counterparty_id, channel, "
                        "V1..V28)", q);
                    goto fail;
                }
                if (m->type != FW_JSON_STRING) {
                    ERR("fields.%s: expected their field name or a dotted path as a string, "
                        "got %s", m->key.ptr ? fw_txn_field_name(f) : "?",
                        fw_json_describe(m, d, sizeof(d)));
                    goto fail;
                }
                if (!add_path(s, f, fw_txn_field_name(f), m->str, &root, errstr,
                              errstr_size))
                    goto fail;
                if (!(s->source[f] = keep(s, m->str))) {
                    too_big(errstr, errstr_size);
                    goto fail;
                }
                s->mapped |= 1ull << f;
            }
        } else if (fw_str_eq(sec->key, fw_str_c("timestamp"))) {
            if (!parse_timestamp(s, sec, errstr, errstr_size))
                goto fail;
        } else if (fw_str_eq(sec->key, fw_str_c("values"))) {
            if (sec->type != FW_JSON_OBJECT) {
                ERR("values: expected an object {\"type\": {...}, \"channel\": {...}}, got %s",
                    fw_json_describe(sec, d, sizeof(d)));
                goto fail;
            }
            FW_JSON_FOREACH(m, sec) {
                bool ok;
                if (fw_str_eq(m->key, fw_str_c("type")))
                    ok = parse_value_map(s, m, "type", s->type_map, &s->ntype_map, errstr,
                                         errstr_size);
                else if (fw_str_eq(m->key, fw_str_c("channel")))
                    ok = parse_value_map(s, m, "channel", s->channel_map, &s->nchannel_map,
                                         errstr, errstr_size);
                else
                    ok = ERR("values.%s: unknown key (expected type, channel)",
                             fw_json_quote(m->key, q, sizeof(q)));
                if (!ok)
                    goto fail;
            }
        } else {
            ERR("%s: unknown key (expected fields, timestamp, values)",
                fw_json_quote(sec->key, q, sizeof(q)));
            goto fail;
        }
    }
    return s;
fail:
    fw_schema_destroy(s);
    return NULL;
}

fw_schema *fw_schema_parse(const char *p, size_t n, char *errstr, size_t errstr_size) {
    fw_arena a;
    fw_json *root = NULL;
    fw_schema *s = NULL;
    size_t cap = fw_json_arena_bound(n);
    if (n > SCHEMA_MAX_BYTES) {
        snprintf(errstr, errstr_size, "mapping: larger than %d bytes", SCHEMA_MAX_BYTES);
        return NULL;
    }
    if (!fw_arena_init(&a, cap ? cap : 64)) {
        snprintf(errstr, errstr_size, "mapping: out of memory");
        return NULL;
    }
    char inner[256];
    if (fw_json_parse(p, n, &a, &root, inner, sizeof(inner)) != FW_OK)
        snprintf(errstr, errstr_size, "mapping: not valid JSON: %s", inner);
    else
        s = fw_schema_from_json(root, errstr, errstr_size);
    fw_arena_fini(&a);
    return s;
}

/* Reads a whole file of at most SCHEMA_MAX_BYTES; NULL with errstr set. */
static char *read_all(const char *path, size_t *n, char *errstr, size_t errstr_size) {
    char *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(errstr, errstr_size, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (!(buf = malloc(SCHEMA_MAX_BYTES + 1))) {
        snprintf(errstr, errstr_size, "%s: out of memory", path);
    } else {
        *n = fread(buf, 1, SCHEMA_MAX_BYTES + 1, f);
        if (ferror(f) || *n > SCHEMA_MAX_BYTES) {
            snprintf(errstr, errstr_size, "%s: %s", path,
                     ferror(f) ? strerror(errno) : "larger than 256 KiB");
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    return buf;
}

fw_schema *fw_schema_load_rules_file(const char *path, bool *present, char *errstr,
                                     size_t errstr_size) {
    size_t n = 0;
    fw_arena a;
    fw_json *root = NULL;
    fw_schema *s = NULL;
    char inner[400];
    *present = true; /* until the file shows otherwise: errors are reported */
    char *buf = read_all(path, &n, errstr, errstr_size);
    if (!buf)
        return NULL;
    if (!fw_arena_init(&a, fw_json_arena_bound(n) ? fw_json_arena_bound(n) : 64)) {
        snprintf(errstr, errstr_size, "%s: out of memory", path);
        free(buf);
        return NULL;
    }
    if (fw_json_parse(buf, n, &a, &root, inner, sizeof(inner)) != FW_OK) {
        snprintf(errstr, errstr_size, "%s: invalid JSON: %s", path, inner);
    } else {
        const fw_json *sec = fw_json_get(root, "schema");
        *present = sec != NULL;
        if (sec && !(s = fw_schema_from_json(sec, inner, sizeof(inner))))
            snprintf(errstr, errstr_size, "%s: schema: %s", path, inner);
    }
    fw_arena_fini(&a);
    free(buf);
    return s;
}

fw_schema *fw_schema_load_file(const char *path, char *errstr, size_t errstr_size) {
    char inner[512];
    fw_schema *s = NULL;
    char *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(errstr, errstr_size, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (!(buf = malloc(SCHEMA_MAX_BYTES + 1))) {
        snprintf(errstr, errstr_size, "%s: out of memory", path);
        goto out;
    }
    size_t n = fread(buf, 1, SCHEMA_MAX_BYTES + 1, f);
    if (ferror(f)) {
        snprintf(errstr, errstr_size, "%s: cannot read: %s", path, strerror(errno));
        goto out;
    }
    if (!(s = fw_schema_parse(buf, n, inner, sizeof(inner))))
        snprintf(errstr, errstr_size, "%s: %s", path, inner);
out:
    free(buf);
    fclose(f);
    return s;
}
