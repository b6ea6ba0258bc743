/* feedback.c — verdicts tallied per rule version (feedback.h). Each alert's
 * latest verdict is kept in a small open-addressing table keyed by its id;
 * the rows are built from it when asked. */
#include "feedback.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_hash.h"
#include "json.h"

enum { V_CONFIRMED, V_FALSE_POSITIVE, V_NOT_SURE };

typedef struct judged {
    char *alert_id;          /* NULL: an empty slot */
    char rule[128];
    int64_t rule_version;
    bool shadow;
    int verdict;
} judged;

struct fw_feedback_tally {
    judged *slot;
    size_t cap, n;           /* cap: a power of two */
    uint64_t bad;
    fw_feedback_row *rows;
    size_t nrows;
    fw_arena arena;
};

fw_feedback_tally *fw_feedback_tally_new(void) {
    fw_feedback_tally *t = calloc(1, sizeof(*t));
    if (t && !(t->slot = calloc(t->cap = 1024, sizeof(*t->slot)))) {
        free(t);
        return NULL;
    }
    return t;
}

void fw_feedback_tally_free(fw_feedback_tally *t) {
    if (!t)
        return;
    for (size_t i = 0; i < t->cap; i++)
        free(t->slot[i].alert_id);
    free(t->slot);
    free(t->rows);
    fw_arena_fini(&t->arena);
    free(t);
}

static judged *find(judged *slot, size_t cap, const char *id) {
    size_t i = fw_hash64(id, strlen(id), 0) & (cap - 1);
    while (slot[i].alert_id && strcmp(slot[i].alert_id, id))
        i = (i + 1) & (cap - 1);
    return &slot[i];
}

static bool grow(fw_feedback_tally *t) {
    judged *ns = calloc(t->cap * 2, sizeof(*ns));
    if (!ns)
        return false;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slot[i].alert_id)
            *find(ns, t->cap * 2, t->slot[i].alert_id) = t->slot[i];
    free(t->slot);
    t->slot = ns;
    t->cap *= 2;
    return true;
}

static bool refuse(fw_feedback_tally *t, char *why, size_t n, const char *what) {
    snprintf(why, n, "%s", what);
    t->bad++;
    return false;
}

bool fw_feedback_tally_add(fw_feedback_tally *t, const char *json, size_t n, char *why,
                           size_t why_size) {
    size_t need = fw_json_arena_bound(n);
    if (t->arena.cap < need) {
        fw_arena_fini(&t->arena);
        if (!fw_arena_init(&t->arena, need))
            return refuse(t, why, why_size, "out of memory");
    }
    fw_arena_reset(&t->arena);
    fw_json *root;
    char err[200];
    if (fw_json_parse(json, n, &t->arena, &root, err, sizeof(err)) ||
        root->type != FW_JSON_OBJECT)
        return refuse(t, why, why_size, "not a JSON object");
    const fw_json *id = fw_json_get(root, "alert_id"), *rule = fw_json_get(root, "rule"),
                  *verdict = fw_json_get(root, "verdict"), *v = fw_json_get(root, "rule_version"),
                  *shadow = fw_json_get(root, "shadow");
    static const char *const verdicts[] = { "confirmed_fraud", "false_positive", "not_sure" };
    int which = -1;
    for (int i = 0; verdict && verdict->type == FW_JSON_STRING && i < 3; i++)
        if (fw_str_eq_c(verdict->str, verdicts[i]))
            which = i;
    if (!id || id->type != FW_JSON_STRING || !id->str.len || memchr(id->str.ptr, 0, id->str.len))
        return refuse(t, why, why_size, "no alert_id");
    if (!rule || rule->type != FW_JSON_STRING || !rule->str.len ||
        rule->str.len >= sizeof(((judged *)0)->rule))
        return refuse(t, why, why_size, "no rule (or one over 127 bytes)");
    if (which < 0)
        return refuse(t, why, why_size,
                      "verdict is not confirmed_fraud, false_positive or not_sure");
    int64_t version = INT64_MIN;
    if (v && v->type != FW_JSON_NULL && !fw_json_int64(v, &version))
        return refuse(t, why, why_size, "rule_version is not a whole number");
    if (t->n * 2 >= t->cap && !grow(t))
        return refuse(t, why, why_size, "out of memory");
    char key[768];
    if (id->str.len >= sizeof(key))
        return refuse(t, why, why_size, "alert_id longer than 767 bytes");
    memcpy(key, id->str.ptr, id->str.len);
    key[id->str.len] = '\0';
    judged *j = find(t->slot, t->cap, key);
    if (!j->alert_id) {
        if (!(j->alert_id = strdup(key)))
            return refuse(t, why, why_size, "out of memory");
        t->n++;
    }
    memcpy(j->rule, rule->str.ptr, rule->str.len);
    j->rule[rule->str.len] = '\0';
    j->rule_version = version;
    j->shadow = shadow && shadow->type == FW_JSON_BOOL && shadow->boolean;
    j->verdict = which;
    return true;
}

static int cmp_row(const void *a, const void *b) {
    const fw_feedback_row *x = a, *y = b;
    int c = strcmp(x->rule, y->rule);
    if (c)
        return c;
    if (x->rule_version != y->rule_version)
        return x->rule_version < y->rule_version ? -1 : 1;
    return (int)x->shadow - (int)y->shadow;
}

const fw_feedback_row *fw_feedback_tally_rows(fw_feedback_tally *t, size_t *n) {
    free(t->rows);
    t->rows = NULL;
    t->nrows = 0;
    size_t cap = 0;
    for (size_t i = 0; i < t->cap; i++) {
        const judged *j = &t->slot[i];
        if (!j->alert_id)
            continue;
        fw_feedback_row *r = NULL;
        for (size_t k = 0; k < t->nrows && !r; k++) /* rules are few: a scan will do */
            if (!strcmp(t->rows[k].rule, j->rule) && t->rows[k].rule_version == j->rule_version &&
                t->rows[k].shadow == j->shadow)
                r = &t->rows[k];
        if (!r) {
            if (t->nrows == cap) {
                fw_feedback_row *nr = realloc(t->rows, (cap = cap ? 2 * cap : 16) * sizeof(*nr));
                if (!nr)
                    break;
                t->rows = nr;
            }
            r = &t->rows[t->nrows++];
            *r = (fw_feedback_row){ .rule_version = j->rule_version, .shadow = j->shadow };
            snprintf(r->rule, sizeof(r->rule), "%s", j->rule);
        }
        if (j->verdict == V_CONFIRMED)
            r->confirmed++;
        else if (j->verdict == V_FALSE_POSITIVE)
            r->false_positive++;
        else
            r->not_sure++;
    }
    if (t->nrows)
        qsort(t->rows, t->nrows, sizeof(*t->rows), cmp_row);
    *n = t->nrows;
    return t->rows;
}

uint64_t fw_feedback_tally_alerts(const fw_feedback_tally *t) { return t->n; }
uint64_t fw_feedback_tally_bad(const fw_feedback_tally *t) { return t->bad; }

double fw_feedback_precision(const fw_feedback_row *r) {
    uint64_t judged_ = r->confirmed + r->false_positive;
    return judged_ ? (double)r->confirmed / (double)judged_ : -1;
}
