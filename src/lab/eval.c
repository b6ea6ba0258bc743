/* eval.c — labels, alert scoring and the figures of `fraudwatch eval`
 * (definitions in eval.h). Built for a million labelled records: only fraud
 * transaction ids are stored (legitimate ones are counted), in one open-
 * addressing table, and each alert costs one lookup per evidence transaction. */
#include "eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fw_hash.h"
#include "gen_model.h"

#define R_COUNT FW_RULE__COUNT
#define POOL_CHUNK ((size_t)64 << 10)
#define HASH_SEED 0x6576616cULL /* "eval" */

/* ------------------------------------------------------------ string pool */

/* Copies of ids and names, in large chunks: one malloc per 64 KiB, not per id. */
typedef struct pool_chunk {
    struct pool_chunk *next;
    size_t used, cap;
    char data[];
} pool_chunk;

typedef struct str_pool {
    pool_chunk *head;
} str_pool;

/* A NUL-terminated copy of @p s, or NULL when out of memory. */
static char *pool_dup(str_pool *p, fw_str s) {
    size_t need = s.len + 1;
    if (!p->head || p->head->cap - p->head->used < need) {
        size_t cap = need > POOL_CHUNK ? need : POOL_CHUNK;
        pool_chunk *c = malloc(sizeof(*c) + cap);
        if (!c)
            return NULL;
        c->next = p->head;
        c->used = 0;
        c->cap = cap;
        p->head = c;
    }
    char *out = p->head->data + p->head->used;
    if (s.len)
        memcpy(out, s.ptr, s.len);
    out[s.len] = '\0';
    p->head->used += need;
    return out;
}

static void pool_free(str_pool *p) {
    while (p->head) {
        pool_chunk *next = p->head->next;
        free(p->head);
        p->head = next;
    }
}

/* ------------------------------------------------------------ string map */

typedef struct smap_slot {
    uint64_t hash;
    const char *key;     /* NULL: empty slot */
    uint32_t len;
    uint32_t value;
} smap_slot;

/* String → uint32, open addressing with linear probing, at most half full. */
typedef struct smap {
    smap_slot *slot;
    size_t cap;          /* power of two, or 0 */
    size_t n;
} smap;

static uint64_t str_hash(fw_str s) { return fw_hash64(s.ptr, s.len, HASH_SEED); }

static smap_slot *smap_find_slot(const smap *m, fw_str key, uint64_t h) {
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        smap_slot *s = &m->slot[i];
        if (!s->key || (s->hash == h && s->len == key.len &&
                        (key.len == 0 || memcmp(s->key, key.ptr, key.len) == 0)))
            return s;
    }
}

static uint32_t smap_get(const smap *m, fw_str key) {
    if (!m->cap || key.len > UINT32_MAX)
        return FW_EVAL_NONE;
    const smap_slot *s = smap_find_slot(m, key, str_hash(key));
    return s->key ? s->value : FW_EVAL_NONE;
}

static bool smap_grow(smap *m) {
    size_t cap = m->cap ? m->cap * 2 : 1024;
    smap_slot *slot = calloc(cap, sizeof(*slot));
    if (!slot)
        return false;
    smap bigger = { .slot = slot, .cap = cap, .n = m->n };
    for (size_t i = 0; i < m->cap; i++)
        if (m->slot[i].key)
            *smap_find_slot(&bigger, (fw_str){ m->slot[i].key, m->slot[i].len },
                            m->slot[i].hash) = m->slot[i];
    free(m->slot);
    *m = bigger;
    return true;
}

/* Inserts @p key (which must stay valid: pass a pooled copy) → @p value. */
static bool smap_put(smap *m, const char *key, uint32_t len, uint64_t h, uint32_t value) {
    if ((m->n + 1) * 2 > m->cap && !smap_grow(m))
        return false;
    smap_slot *s = smap_find_slot(m, (fw_str){ key, len }, h);
    if (!s->key)
        m->n++;
    *s = (smap_slot){ .hash = h, .key = key, .len = len, .value = value };
    return true;
}

static void smap_free(smap *m) {
    free(m->slot);
    memset(m, 0, sizeof(*m));
}

/* Grows an array held in (*ptr, *cap) to room for @p need elements. */
#define GROW(ptr, cap, need)                                                      \
    ((need) <= (cap) ? true : grow_array((void **)&(ptr), &(cap), (need), sizeof(*(ptr))))

static bool grow_array(void **ptr, uint32_t *cap, size_t need, size_t elem) {
    if (need > (size_t)INT32_MAX)
        return false;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *p = realloc(*ptr, c * elem);
    if (!p)
        return false;
    *ptr = p;
    *cap = (uint32_t)c;
    return true;
}

/* ------------------------------------------------------------ line labels */

static size_t skip_ws(const char *p, size_t n, size_t i) {
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    return i;
}

/* p[*i] is '"': slices the content and moves past the closing quote. */
static bool scan_string(const char *p, size_t n, size_t *i, fw_str *content, bool *escaped) {
    size_t start = ++*i;
    bool esc = false;
    while (*i < n && p[*i] != '"') {
        if (p[*i] == '\\') {
            esc = true;
            ++*i;
        }
        ++*i;
    }
    if (*i >= n)
        return false;
    *content = (fw_str){ p + start, *i - start };
    if (escaped)
        *escaped = esc;
    ++*i;
    return true;
}

static bool is_delim(char c) {
    return c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\r' ||
           c == '\n';
}

/* Moves *i past one value of any type without judging it. */
static bool skip_value(const char *p, size_t n, size_t *i) {
    if (*i >= n)
        return false;
    fw_str ignored;
    if (p[*i] == '"')
        return scan_string(p, n, i, &ignored, NULL);
    if (p[*i] == '{' || p[*i] == '[') {
        size_t depth = 0;
        while (*i < n) {
            char c = p[*i];
            if (c == '"') {
                if (!scan_string(p, n, i, &ignored, NULL))
                    return false;
                continue;
            }
            if (c == '{' || c == '[')
                depth++;
            else if ((c == '}' || c == ']') && --depth == 0) {
                ++*i;
                return true;
            }
            ++*i;
        }
        return false;
    }
    size_t start = *i;
    while (*i < n && !is_delim(p[*i]))
        ++*i;
    return *i > start;
}

static bool literal_is(fw_str tok, const char *lit) { return fw_str_eq_c(tok, lit); }

fw_err fw_eval_scan_labels(const char *p, size_t n, fw_eval_line_labels *out) {
    memset(out, 0, sizeof(*out));
    bool fraud_given = false, fraud_value = false;
    size_t i = skip_ws(p, n, 0);
    if (i >= n || p[i] != '{')
        return FW_ERR_INVALID;
    i = skip_ws(p, n, i + 1);
    if (i < n && p[i] == '}')
        return FW_OK;
    for (;;) {
        fw_str key;
        bool key_escaped;
        if (i >= n || p[i] != '"' || !scan_string(p, n, &i, &key, &key_escaped))
            return FW_ERR_INVALID;
        i = skip_ws(p, n, i);
        if (i >= n || p[i] != ':')
            return FW_ERR_INVALID;
        i = skip_ws(p, n, i + 1);
        if (i >= n)
            return FW_ERR_INVALID;
        size_t vstart = i;
        bool is_str = p[i] == '"', escaped = false;
        fw_str sval = FW_STR_NULL;
        if (is_str) {
            if (!scan_string(p, n, &i, &sval, &escaped))
                return FW_ERR_INVALID;
        } else if (!skip_value(p, n, &i)) {
            return FW_ERR_INVALID;
        }
        fw_str tok = { p + vstart, i - vstart };
        if (!key_escaped) {
            if (fw_str_eq_c(key, "transaction_id") && !out->transaction_id.ptr) {
                if (is_str) {
                    out->transaction_id = sval;
                    out->id_escaped = escaped;
                } else if (p[vstart] == '-' || (p[vstart] >= '0' && p[vstart] <= '9')) {
                    out->transaction_id = tok;
                }
            } else if (fw_str_eq_c(key, "timestamp") && !out->timestamp.ptr) {
                out->timestamp = is_str ? sval : tok;
            } else if (fw_str_eq_c(key, "is_fraud") && !fraud_given) {
                if (literal_is(tok, "true") || literal_is(tok, "false")) {
                    fraud_given = true;
                    fraud_value = literal_is(tok, "true");
                }
            } else if (fw_str_eq_c(key, "scenario") && is_str && !out->scenario.ptr) {
                out->scenario = sval;
            } else if (fw_str_eq_c(key, "scenario_instance") && is_str && !out->instance.ptr) {
                out->instance = sval;
            }
        }
        i = skip_ws(p, n, i);
        if (i < n && p[i] == ',') {
            i = skip_ws(p, n, i + 1);
            continue;
        }
        if (i < n && p[i] == '}')
            break;
        return FW_ERR_INVALID;
    }
    out->has_label = fraud_given || out->scenario.ptr;
    out->is_fraud = fraud_given ? fraud_value : out->scenario.ptr != NULL;
    return FW_OK;
}

/* ------------------------------------------------------------ labels */

struct fw_eval_labels {
    str_pool strings;
    smap fraud_ids;          /* fraud transaction id → instance */
    smap instance_names;     /* scenario_instance → instance */
    smap scenario_names;     /* scenario → index */
    fw_eval_scenario_info *scen;
    uint32_t nscen, scen_cap;
    uint32_t *inst_scen;     /* instance → scenario */
    int64_t *inst_start;     /* instance → earliest event time, INT64_MIN: unknown */
    uint32_t ninst, inst_cap;
    uint64_t records, fraud, duplicates;
};

fw_eval_labels *fw_eval_labels_new(void) { return calloc(1, sizeof(fw_eval_labels)); }

void fw_eval_labels_destroy(fw_eval_labels *l) {
    if (!l)
        return;
    smap_free(&l->fraud_ids);
    smap_free(&l->instance_names);
    smap_free(&l->scenario_names);
    pool_free(&l->strings);
    free(l->scen);
    free(l->inst_scen);
    free(l->inst_start);
    free(l);
}

static fw_err scenario_index(fw_eval_labels *l, fw_str name, uint32_t *out) {
    if (!name.ptr || !name.len)
        name = fw_str_c(FW_EVAL_UNNAMED_SCENARIO);
    uint32_t s = smap_get(&l->scenario_names, name);
    if (s != FW_EVAL_NONE) {
        *out = s;
        return FW_OK;
    }
    if (name.len > UINT32_MAX || !GROW(l->scen, l->scen_cap, (size_t)l->nscen + 1))
        return FW_ERR_LIMIT;
    char *copy = pool_dup(&l->strings, name);
    if (!copy)
        return FW_ERR_NOMEM;
    fw_eval_scenario_info *si = &l->scen[l->nscen];
    *si = (fw_eval_scenario_info){ .name = copy };
    for (int k = 0; k < fw_gen_nscenarios; k++)
        if (fw_str_eq_c(name, fw_gen_scenarios[k].name)) {
            si->known = true;
            si->targets = fw_gen_scenarios[k].targets;
            break;
        }
    if (!smap_put(&l->scenario_names, copy, (uint32_t)name.len, str_hash(name), l->nscen))
        return FW_ERR_NOMEM;
    *out = l->nscen++;
    return FW_OK;
}

static fw_err new_instance(fw_eval_labels *l, uint32_t scen, uint32_t *out) {
    if ((size_t)l->ninst + 1 > l->inst_cap) {
        uint32_t cap = l->inst_cap, cap2 = l->inst_cap;
        if (!grow_array((void **)&l->inst_scen, &cap, (size_t)l->ninst + 1,
                        sizeof(*l->inst_scen)) ||
            !grow_array((void **)&l->inst_start, &cap2, (size_t)l->ninst + 1,
                        sizeof(*l->inst_start)))
            return FW_ERR_LIMIT;
        l->inst_cap = cap < cap2 ? cap : cap2;
    }
    l->inst_scen[l->ninst] = scen;
    l->inst_start[l->ninst] = INT64_MIN;
    l->scen[scen].instances++;
    *out = l->ninst++;
    return FW_OK;
}

fw_err fw_eval_labels_add(fw_eval_labels *l, fw_str transaction_id, int64_t ts_ms,
                          bool is_fraud, fw_str scenario, fw_str instance) {
    l->records++;
    if (!is_fraud)
        return FW_OK;
    if (!transaction_id.ptr || !transaction_id.len || transaction_id.len > UINT32_MAX)
        return FW_ERR_INVALID;
    uint64_t h = str_hash(transaction_id);
    if (l->fraud_ids.cap && smap_find_slot(&l->fraud_ids, transaction_id, h)->key) {
        l->duplicates++;
        return FW_OK;
    }
    uint32_t s, inst = FW_EVAL_NONE;
    fw_err err = scenario_index(l, scenario, &s);
    if (err)
        return err;
    bool named = instance.ptr && instance.len && instance.len <= UINT32_MAX;
    if (named)
        inst = smap_get(&l->instance_names, instance);
    if (inst == FW_EVAL_NONE) {
        if ((err = new_instance(l, s, &inst)))
            return err;
        if (named) {
            char *copy = pool_dup(&l->strings, instance);
            if (!copy || !smap_put(&l->instance_names, copy, (uint32_t)instance.len,
                                   str_hash(instance), inst))
                return FW_ERR_NOMEM;
        }
    }
    char *id = pool_dup(&l->strings, transaction_id);
    if (!id || !smap_put(&l->fraud_ids, id, (uint32_t)transaction_id.len, h, inst))
        return FW_ERR_NOMEM;
    if (ts_ms != INT64_MIN &&
        (l->inst_start[inst] == INT64_MIN || ts_ms < l->inst_start[inst]))
        l->inst_start[inst] = ts_ms;
    l->scen[l->inst_scen[inst]].transactions++;
    l->fraud++;
    return FW_OK;
}

fw_err fw_eval_labels_set_targets(fw_eval_labels *l, uint32_t s, const char *targets) {
    if (s >= l->nscen)
        return FW_ERR_INVALID;
    const char *copy = targets ? pool_dup(&l->strings, fw_str_c(targets)) : NULL;
    if (targets && !copy)
        return FW_ERR_NOMEM;
    l->scen[s].targets = copy;
    return FW_OK;
}

uint32_t fw_eval_labels_nscenarios(const fw_eval_labels *l) { return l->nscen; }
const fw_eval_scenario_info *fw_eval_labels_scenario(const fw_eval_labels *l, uint32_t s) {
    return s < l->nscen ? &l->scen[s] : NULL;
}
uint32_t fw_eval_labels_find_scenario(const fw_eval_labels *l, fw_str name) {
    return smap_get(&l->scenario_names, name);
}
uint64_t fw_eval_labels_records(const fw_eval_labels *l) { return l->records; }
uint64_t fw_eval_labels_fraud(const fw_eval_labels *l) { return l->fraud; }
uint64_t fw_eval_labels_instances(const fw_eval_labels *l) { return l->ninst; }
uint64_t fw_eval_labels_duplicate_ids(const fw_eval_labels *l) { return l->duplicates; }

/* Calls @p each with every id of @p targets (comma-separated, spaces around
 * ids allowed; ids of 64 bytes or more skipped); stops when it returns true. */
static bool targets_each(const char *targets, bool (*each)(const char *name, void *opaque),
                         void *opaque) {
    const char *p = targets;
    while (p && *p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *end = p;
        while (*end && *end != ',')
            end++;
        const char *last = end;
        while (last > p && last[-1] == ' ')
            last--;
        char name[64];
        size_t len = (size_t)(last - p);
        if (len > 0 && len < sizeof(name)) {
            memcpy(name, p, len);
            name[len] = '\0';
            if (each(name, opaque))
                return true;
        }
        p = end;
    }
    return false;
}

typedef struct mask_ctx {
    const fw_rules *rules;
    fw_rule_mask m;
} mask_ctx;

static bool mask_one(const char *name, void *opaque) {
    mask_ctx *mc = opaque;
    fw_rule_id r = fw_rule_by_name(name);
    if (r < R_COUNT && mc->rules->common[r].enabled)
        mc->m |= (fw_rule_mask)1 << r;
    return false;
}

fw_rule_mask fw_eval_targets_mask(const char *targets, const fw_rules *rules) {
    mask_ctx mc = { .rules = rules };
    targets_each(targets, mask_one, &mc);
    return mc.m;
}

static bool same_name(const char *name, void *opaque) { return strcmp(name, opaque) == 0; }

bool fw_eval_targets_has(const char *targets, const char *id) {
    return targets_each(targets, same_name, (void *)id);
}

/* ------------------------------------------------------------ one replay */

typedef struct touched {
    uint32_t instance;
    int64_t latest_ts;     /* latest transaction of the instance in this alert */
} touched;

/* A language rule's column: the built-ins' cells, per instance. */
typedef struct lang_col {
    char id[FW_LANG_MAX_ID];
    bool shadow;
    uint64_t alerts, tp;
    int64_t *first_at;     /* [instance] */
    int64_t *delay;
} lang_col;

struct fw_eval_run {
    const fw_eval_labels *l;
    uint32_t ninst;
    uint64_t alerts[R_COUNT], tp[R_COUNT];
    int64_t *first_at;     /* [instance * R_COUNT + rule]: earliest catching detected_at */
    int64_t *delay;        /* ... and that alert's delay for the instance */
    lang_col *lang;        /* at most FW_LANG_MAX_RULES; found by id (a scan: alerts
                              are few next to transactions) */
    uint32_t nlang, lang_cap;
    touched *tmp;
    uint32_t ntmp, tmp_cap;
};

fw_eval_run *fw_eval_run_new(const fw_eval_labels *l) {
    fw_eval_run *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->l = l;
    r->ninst = l->ninst;
    size_t cells = (size_t)r->ninst * R_COUNT;
    r->first_at = malloc((cells ? cells : 1) * sizeof(int64_t));
    r->delay = malloc((cells ? cells : 1) * sizeof(int64_t));
    if (!r->first_at || !r->delay) {
        fw_eval_run_destroy(r);
        return NULL;
    }
    for (size_t i = 0; i < cells; i++)
        r->first_at[i] = INT64_MAX;
    return r;
}

void fw_eval_run_destroy(fw_eval_run *r) {
    if (!r)
        return;
    free(r->first_at);
    free(r->delay);
    for (uint32_t c = 0; c < r->nlang; c++) {
        free(r->lang[c].first_at);
        free(r->lang[c].delay);
    }
    free(r->lang);
    free(r->tmp);
    free(r);
}

/* The column of language rule @p id, added when new. */
static fw_err lang_column(fw_eval_run *r, const char *id, lang_col **out) {
    size_t len = id ? strlen(id) : 0;
    if (!len || len >= FW_LANG_MAX_ID)
        return FW_ERR_INVALID;
    for (uint32_t c = 0; c < r->nlang; c++)
        if (strcmp(r->lang[c].id, id) == 0) {
            *out = &r->lang[c];
            return FW_OK;
        }
    if (r->nlang >= FW_LANG_MAX_RULES)
        return FW_ERR_LIMIT;
    if (!GROW(r->lang, r->lang_cap, (size_t)r->nlang + 1))
        return FW_ERR_NOMEM;
    lang_col *col = &r->lang[r->nlang];
    *col = (lang_col){ 0 };
    memcpy(col->id, id, len + 1);
    size_t cells = r->ninst ? r->ninst : 1;
    col->first_at = malloc(cells * sizeof(int64_t));
    col->delay = malloc(cells * sizeof(int64_t));
    if (!col->first_at || !col->delay) {
        free(col->first_at);
        free(col->delay);
        return FW_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < r->ninst; i++)
        col->first_at[i] = INT64_MAX;
    r->nlang++;
    *out = col;
    return FW_OK;
}

fw_err fw_eval_run_set_lang_rules(fw_eval_run *r, const char *const *ids, size_t n) {
    for (size_t i = 0; i < n; i++) {
        lang_col *col;
        fw_err err = lang_column(r, ids[i], &col);
        if (err)
            return err;
    }
    return FW_OK;
}

/* Notes transaction (id, ts) of the alert: fraud → the instance it belongs to. */
static fw_err note_txn(fw_eval_run *r, fw_str id, int64_t ts, bool *fraud) {
    uint32_t inst = smap_get(&r->l->fraud_ids, id);
    if (inst == FW_EVAL_NONE || inst >= r->ninst)
        return FW_OK;
    *fraud = true;
    for (uint32_t k = 0; k < r->ntmp; k++)
        if (r->tmp[k].instance == inst) {
            if (ts > r->tmp[k].latest_ts)
                r->tmp[k].latest_ts = ts;
            return FW_OK;
        }
    if (!GROW(r->tmp, r->tmp_cap, (size_t)r->ntmp + 1))
        return FW_ERR_NOMEM;
    r->tmp[r->ntmp++] = (touched){ .instance = inst, .latest_ts = ts };
    return FW_OK;
}

fw_err fw_eval_run_alert(fw_eval_run *r, const fw_alert *a) {
    lang_col *col = NULL;
    if (a->rule == FW_RULE_LANG) {
        fw_err err = lang_column(r, a->rule_name, &col);
        if (err)
            return err;
    } else if ((unsigned)a->rule >= R_COUNT) {
        return FW_ERR_INVALID;
    }
    bool fraud = false;
    fw_err err = FW_OK;
    r->ntmp = 0;
    for (size_t k = 0; k < a->nevidence && !err; k++)
        err = note_txn(r, a->evidence[k].transaction_id, a->evidence[k].ts_ms, &fraud);
    if (!err && a->txn)
        err = note_txn(r, a->txn->transaction_id, a->txn->ts_ms, &fraud);
    if (err)
        return err;
    /* A built-in's cells are [instance * R_COUNT + rule], a language rule's
     * [instance] in its column. */
    int64_t *first_at = col ? col->first_at : r->first_at + a->rule;
    int64_t *delay = col ? col->delay : r->delay + a->rule;
    size_t stride = col ? 1 : R_COUNT;
    if (col) {
        col->alerts++;
        col->tp += fraud;
        col->shadow = a->rc && a->rc->shadow;
    } else {
        r->alerts[a->rule]++;
        r->tp[a->rule] += fraud;
    }
    for (uint32_t k = 0; k < r->ntmp; k++) {
        size_t cell = (size_t)r->tmp[k].instance * stride;
        if (a->detected_at < first_at[cell]) {
            first_at[cell] = a->detected_at;
            delay[cell] = a->detected_at - r->tmp[k].latest_ts;
        }
    }
    return FW_OK;
}

/* ------------------------------------------------------------ figures */

static double ratio(uint64_t num, uint64_t den) {
    return den ? (double)num / (double)den : NAN;
}

/* Harmonic mean; undefined when either side is. */
static double f1_of(double precision, double recall) {
    if (isnan(precision) || isnan(recall))
        return NAN;
    return precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
}

fw_eval_ratio fw_eval_ratio_of(uint64_t tp, uint64_t fp, uint64_t fn) {
    fw_eval_ratio q = { .precision = ratio(tp, tp + fp), .recall = ratio(tp, tp + fn) };
    q.f1 = f1_of(q.precision, q.recall);
    return q;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest rank: the smallest value with at least p of the values at or below it. */
static int64_t nearest_rank(const int64_t *sorted, size_t n, double p) {
    size_t k = (size_t)ceil(p * (double)n);
    return sorted[k ? k - 1 : 0];
}

fw_eval_delay fw_eval_delay_of(int64_t *ms, size_t n) {
    fw_eval_delay d = { .n = n };
    if (!n)
        return d;
    qsort(ms, n, sizeof(*ms), cmp_i64);
    d.median_ms = nearest_rank(ms, n, 0.5);
    d.p95_ms = nearest_rank(ms, n, 0.95);
    d.max_ms = ms[n - 1];
    return d;
}

/* One rule's figures from its cells (first_at[i * stride], delay[i * stride]
 * for instance i); @p targeted[s]: the rule targets scenario s. */
static void rule_figures(fw_eval_rule_figures *rf, const fw_eval_labels *l, uint32_t ninst,
                         const int64_t *first_at, const int64_t *delay, size_t stride,
                         const bool *targeted, uint64_t transactions, int64_t *delays,
                         int64_t *starts) {
    size_t nd = 0, ns = 0;
    for (uint32_t i = 0; i < ninst; i++) {
        size_t cell = (size_t)i * stride;
        bool t = targeted[l->inst_scen[i]];
        bool caught = first_at[cell] != INT64_MAX;
        rf->target_instances += t;
        rf->caught += t && caught;
        if (caught) {
            rf->caught_any++;
            delays[nd++] = delay[cell];
            if (l->inst_start[i] != INT64_MIN)
                starts[ns++] = first_at[cell] - l->inst_start[i];
        }
    }
    rf->fp = rf->alerts - rf->tp;
    rf->fn = rf->target_instances - rf->caught;
    rf->q = (fw_eval_ratio){ .precision = ratio(rf->tp, rf->alerts),
                             .recall = ratio(rf->caught, rf->target_instances) };
    rf->q.f1 = f1_of(rf->q.precision, rf->q.recall);
    rf->alerts_per_1000 = transactions ? 1000.0 * (double)rf->alerts / (double)transactions
                                       : NAN;
    rf->delay = fw_eval_delay_of(delays, nd);
    rf->from_start = fw_eval_delay_of(starts, ns);
}

fw_err fw_eval_report_build(const fw_eval_run *r, const fw_rules *rules, uint64_t transactions,
                            fw_eval_report *out) {
    memset(out, 0, sizeof(*out));
    const fw_eval_labels *l = r->l;
    uint32_t ninst = r->ninst, nlang = r->nlang;
    out->nscenarios = l->nscen;
    out->nlang = nlang;
    out->scenario = calloc(l->nscen ? l->nscen : 1, sizeof(*out->scenario));
    out->lang = calloc(nlang ? nlang : 1, sizeof(*out->lang));
    uint64_t *by_lang = calloc((size_t)(l->nscen ? l->nscen : 1) * (nlang ? nlang : 1),
                               sizeof(uint64_t));
    bool *targeted = calloc(l->nscen ? l->nscen : 1, sizeof(bool));
    int64_t *delays = malloc((ninst ? ninst : 1) * sizeof(int64_t));
    int64_t *starts = malloc((ninst ? ninst : 1) * sizeof(int64_t)); /* time to detect */
    if (out->scenario)
        out->scenario[0].caught_by_lang = by_lang; /* owns the block (fw_eval_report_free) */
    if (!out->scenario || !out->lang || !by_lang || !targeted || !delays || !starts) {
        if (!out->scenario)
            free(by_lang);
        free(targeted);
        free(delays);
        free(starts);
        fw_eval_report_free(out);
        return FW_ERR_NOMEM;
    }
    fw_eval_overall *all = &out->all;

    for (uint32_t s = 0; s < l->nscen; s++) {
        fw_eval_scenario_figures *sf = &out->scenario[s];
        sf->info = &l->scen[s];
        sf->targets = fw_eval_targets_mask(l->scen[s].targets, rules);
        sf->caught_by_lang = by_lang + (size_t)s * nlang;
        for (uint32_t c = 0; c < nlang; c++)
            sf->lang_targets |= fw_eval_targets_has(l->scen[s].targets, r->lang[c].id);
        size_t nd = 0, ns = 0;
        for (uint32_t i = 0; i < ninst; i++) {
            if (l->inst_scen[i] != s)
                continue;
            sf->instances++;
            const int64_t *at = &r->first_at[(size_t)i * R_COUNT];
            const int64_t *dl = &r->delay[(size_t)i * R_COUNT];
            bool caught = false;
            int64_t best_at = INT64_MAX, best_delay = 0; /* the earliest alert; ties: the
                                                            shorter delay, then the first rule */
            for (int k = 0; k < R_COUNT + (int)nlang; k++) {
                int64_t t = k < R_COUNT ? at[k] : r->lang[k - R_COUNT].first_at[i];
                if (t == INT64_MAX)
                    continue;
                int64_t d = k < R_COUNT ? dl[k] : r->lang[k - R_COUNT].delay[i];
                if (k < R_COUNT) {
                    sf->caught_by |= (fw_rule_mask)1 << k;
                    sf->caught_by_rule[k]++;
                } else {
                    sf->caught_by_lang[k - R_COUNT]++;
                }
                if (!caught || t < best_at || (t == best_at && d < best_delay)) {
                    best_at = t;
                    best_delay = d;
                }
                caught = true;
            }
            if (caught) {
                sf->caught++;
                delays[nd++] = best_delay;
                if (l->inst_start[i] != INT64_MIN)
                    starts[ns++] = best_at - l->inst_start[i];
            }
        }
        sf->recall = ratio(sf->caught, sf->instances);
        sf->delay = fw_eval_delay_of(delays, nd);
        sf->from_start = fw_eval_delay_of(starts, ns);
        all->instances += sf->instances;
        all->caught += sf->caught;
        if (sf->targets || sf->lang_targets) {
            all->targeted_instances += sf->instances;
            all->targeted_caught += sf->caught;
        }
    }

    for (int k = 0; k < R_COUNT; k++) {
        fw_eval_rule_figures *rf = &out->rule[k];
        rf->enabled = rules->common[k].enabled;
        rf->alerts = r->alerts[k];
        rf->tp = r->tp[k];
        for (uint32_t s = 0; s < l->nscen; s++)
            targeted[s] = (out->scenario[s].targets >> k) & 1;
        rule_figures(rf, l, ninst, r->first_at + k, r->delay + k, R_COUNT, targeted,
                     transactions, delays, starts);
        all->alerts += rf->alerts;
        all->tp += rf->tp;
    }
    for (uint32_t c = 0; c < nlang; c++) {
        const lang_col *col = &r->lang[c];
        fw_eval_lang_figures *lf = &out->lang[c];
        memcpy(lf->id, col->id, sizeof(lf->id));
        lf->shadow = col->shadow;
        lf->fig.enabled = true;
        lf->fig.alerts = col->alerts;
        lf->fig.tp = col->tp;
        for (uint32_t s = 0; s < l->nscen; s++)
            targeted[s] = fw_eval_targets_has(l->scen[s].targets, col->id);
        rule_figures(&lf->fig, l, ninst, col->first_at, col->delay, 1, targeted, transactions,
                     delays, starts);
        all->alerts += lf->fig.alerts;
        all->tp += lf->fig.tp;
    }
    free(targeted);
    free(delays);
    free(starts);

    all->transactions = transactions;
    all->fraud_transactions = l->fraud;
    all->fp = all->alerts - all->tp;
    all->precision = ratio(all->tp, all->alerts);
    all->recall_targeted = ratio(all->targeted_caught, all->targeted_instances);
    all->recall_all = ratio(all->caught, all->instances);
    all->f1_all = f1_of(all->precision, all->recall_all);
    all->alerts_per_1000 = transactions ? 1000.0 * (double)all->alerts / (double)transactions
                                        : NAN;
    return FW_OK;
}

void fw_eval_report_free(fw_eval_report *rep) {
    if (rep->scenario)
        free(rep->scenario[0].caught_by_lang);
    free(rep->scenario);
    free(rep->lang);
    rep->scenario = NULL;
    rep->lang = NULL;
    rep->nscenarios = 0;
    rep->nlang = 0;
}

/* ------------------------------------------------------------ entity sets */

fw_eval_set_score fw_eval_score_set(const uint8_t *truth, const fw_rule_mask *flags, size_t n,
                                    fw_rule_mask select) {
    fw_eval_set_score s = { 0 };
    for (size_t i = 0; i < n; i++) {
        bool flagged = (flags[i] & select) != 0;
        s.flagged += flagged;
        s.tp += flagged && truth[i];
        s.fp += flagged && !truth[i];
        s.fn += !flagged && truth[i];
    }
    s.q = fw_eval_ratio_of(s.tp, s.fp, s.fn);
    return s;
}
