/* profiles.c — an open hash table of profiles, filled from JSON records. */
#include "profiles.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_hash.h"
#include "json.h"

typedef struct slot {
    fw_profile prof;
    uint64_t hash;
    bool used;
} slot;

struct fw_profiles {
    slot *slots;
    size_t cap, n;    /* cap: power of two; load kept <= 1/2 */
};

fw_profiles *fw_profiles_new(void) {
    fw_profiles *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->cap = 1024;
    p->slots = calloc(p->cap, sizeof(slot));
    if (!p->slots) {
        free(p);
        return NULL;
    }
    return p;
}

void fw_profiles_destroy(fw_profiles *p) {
    if (!p)
        return;
    free(p->slots);
    free(p);
}

size_t fw_profiles_count(const fw_profiles *p) { return p->n; }

static slot *find(const fw_profiles *p, fw_str id, uint64_t h) {
    size_t i = h & (p->cap - 1);
    for (;;) {
        slot *s = &p->slots[i];
        if (!s->used || (s->hash == h && s->prof.idlen == id.len &&
                         !memcmp(s->prof.customer_id, id.ptr, id.len)))
            return s;
        i = (i + 1) & (p->cap - 1);
    }
}

static bool grow(fw_profiles *p) {
    size_t cap = p->cap * 2;
    slot *old = p->slots, *slots = calloc(cap, sizeof(slot));
    if (!slots)
        return false;
    size_t oldcap = p->cap;
    p->slots = slots;
    p->cap = cap;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].used)
            *find(p, (fw_str){ old[i].prof.customer_id, old[i].prof.idlen }, old[i].hash) =
                old[i];
    free(old);
    return true;
}

/* Removes by backward-shift deletion, so lookups need no tombstones. */
static void erase(fw_profiles *p, slot *s) {
    size_t i = (size_t)(s - p->slots);
    p->slots[i].used = false;
    p->n--;
    for (size_t j = (i + 1) & (p->cap - 1); p->slots[j].used; j = (j + 1) & (p->cap - 1)) {
        size_t home = p->slots[j].hash & (p->cap - 1);
        bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!between) {
            p->slots[i] = p->slots[j];
            p->slots[j].used = false;
            i = j;
        }
    }
}

const fw_profile *fw_profiles_get(const fw_profiles *p, fw_str id) {
    if (!p || !id.ptr || id.len > FW_PROFILE_ID_MAX)
        return NULL;
    slot *s = find(p, id, fw_hash64(id.ptr, id.len, 11));
    return s->used ? &s->prof : NULL;
}

static const fw_json *either(const fw_json *obj, const char *a, const char *b) {
    const fw_json *v = fw_json_get(obj, a);
    return v ? v : fw_json_get(obj, b);
}

fw_err fw_profiles_apply(fw_profiles *p, fw_str key, const char *json, size_t len,
                         char *errstr, size_t errstr_size) {
    if (!json) {
        if (key.ptr && key.len <= FW_PROFILE_ID_MAX) {
            slot *s = find(p, key, fw_hash64(key.ptr, key.len, 11));
            if (s->used)
                erase(p, s);
        }
        return FW_OK;
    }
    fw_err ret = FW_ERR_INVALID;
    fw_arena a;
    fw_json *root = NULL;
    if (!fw_arena_init(&a, fw_json_arena_bound(len) < (64u << 20) ? fw_json_arena_bound(len)
                                                                   : (64u << 20))) {
        snprintf(errstr, errstr_size, "profile: out of memory");
        return FW_ERR_NOMEM;
    }
    if (fw_json_parse(json, len, &a, &root, errstr, errstr_size) != FW_OK)
        goto out;
    if (root->type != FW_JSON_OBJECT) {
        snprintf(errstr, errstr_size, "profile: expected a JSON object");
        goto out;
    }
    const fw_json *id = either(root, "customer_id", "user_id");
    fw_str cid = key;
    if (id) {
        if (id->type == FW_JSON_STRING)
            cid = id->str;
        else if (id->type == FW_JSON_NUMBER)
            cid = id->str; /* the digits as written */
        else {
            snprintf(errstr, errstr_size, "profile field customer_id: expected a string");
            goto out;
        }
    }
    if (!cid.ptr || cid.len == 0 || cid.len > FW_PROFILE_ID_MAX) {
        snprintf(errstr, errstr_size, "profile field customer_id: missing, empty or longer "
                                      "than %d bytes", FW_PROFILE_ID_MAX);
        goto out;
    }
    fw_profile prof = { .idlen = (uint8_t)cid.len };
    memcpy(prof.customer_id, cid.ptr, cid.len);
    const fw_json *avg = either(root, "avg_amount", "avg_transaction");
    if (avg && avg->type != FW_JSON_NULL) {
        if (avg->type != FW_JSON_NUMBER || !(avg->number >= 0)) {
            snprintf(errstr, errstr_size,
                     "profile %.*s field avg_amount: expected a number >= 0", (int)cid.len,
                     cid.ptr);
            goto out;
        }
        prof.has_avg = true;
        prof.avg_amount = avg->number;
    }
    const fw_json *country = either(root, "home_country", "country");
    if (country && country->type != FW_JSON_NULL) {
        if (country->type != FW_JSON_STRING || country->str.len == 0 ||
            country->str.len >= sizeof(prof.home_country)) {
            snprintf(errstr, errstr_size,
                     "profile %.*s field home_country: expected a 2- or 3-letter code",
                     (int)cid.len, cid.ptr);
            goto out;
        }
        memcpy(prof.home_country, country->str.ptr, country->str.len);
    }
    if (p->n + 1 > p->cap / 2 && !grow(p)) {
        snprintf(errstr, errstr_size, "profile: out of memory");
        ret = FW_ERR_NOMEM;
        goto out;
    }
    uint64_t h = fw_hash64(cid.ptr, cid.len, 11);
    slot *s = find(p, cid, h);
    if (!s->used)
        p->n++;
    *s = (slot){ .prof = prof, .hash = h, .used = true };
    ret = FW_OK;
out:
    fw_arena_fini(&a);
    return ret;
}

fw_err fw_profiles_load_file(fw_profiles *p, const char *path, char *errstr,
                             size_t errstr_size) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(errstr, errstr_size, "profiles %s: %s", path, strerror(errno));
        return FW_ERR_IO;
    }
    char *line = NULL, err[300];
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    fw_err ret = FW_OK;
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (n == 0)
            continue;
        if ((ret = fw_profiles_apply(p, FW_STR_NULL, line, (size_t)n, err, sizeof(err)))) {
            snprintf(errstr, errstr_size, "profiles %s line %ld: %s", path, lineno, err);
            break;
        }
    }
    free(line);
    fclose(f);
    return ret;
}
