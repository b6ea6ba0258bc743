/* lang_live.c — the language rules and lists in force, layer by layer
 * (lang_live.h). Entries are kept as compact JSON text (re-written from the
 * parsed tree, so what differs is what the document says, not its spacing);
 * every change composes one rules document from the layers and compiles it
 * with the rule parser, so a live rule obeys exactly what a file's does. A
 * change works on a copy of the layers and is swapped in only when the whole
 * set compiles: a rejected change leaves the set in force untouched. */
#include "lang_live.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "rules_file.h"

enum { L_SECTION = 0, L_FILE, L_TOPIC, L__COUNT }; /* list layers, the later wins */

typedef struct lentry {
    char id[FW_LANG_MAX_ID];
    char *base;          /* the --rules file's entry, or NULL */
    int base_version;
    char *topic;         /* the rules topic's entry over it, or NULL */
    int topic_version;
} lentry;

typedef struct llist {
    char *name;
    char *layer[L__COUNT]; /* a JSON array of strings per layer, or NULL */
} llist;

typedef struct layers {
    lentry *e;
    size_t n;
    llist *l;
    size_t nl;
} layers;

struct fw_lang_live {
    fw_rules base;       /* time and limits: they size the compiled rules */
    layers ly;
    fw_lang_rules *cur;  /* compiled from ly; NULL: no language rule */
    bool changed;        /* since the last fw_lang_live_take */
};

/* ---- JSON text ---- */

/* @p v as compact JSON; @p skip: a member of the top object left out. */
static bool ser(fw_buf *b, const fw_json *v, const char *skip) {
    bool ok = true, first = true;
    switch (v->type) {
    case FW_JSON_NULL: return fw_buf_puts(b, "null");
    case FW_JSON_BOOL: return fw_buf_puts(b, v->boolean ? "true" : "false");
    case FW_JSON_NUMBER: return fw_buf_append(b, v->str.ptr, v->str.len);
    case FW_JSON_STRING: return fw_buf_json_str(b, v->str);
    case FW_JSON_ARRAY:
        ok = fw_buf_putc(b, '[');
        FW_JSON_FOREACH(x, v) {
            ok = ok && (first || fw_buf_putc(b, ',')) && ser(b, x, NULL);
            first = false;
        }
        return ok && fw_buf_putc(b, ']');
    case FW_JSON_OBJECT:
        ok = fw_buf_putc(b, '{');
        FW_JSON_FOREACH(m, v) {
            if (skip && fw_str_eq_c(m->key, skip))
                continue;
            ok = ok && (first || fw_buf_putc(b, ',')) && fw_buf_json_str(b, m->key) &&
                 fw_buf_putc(b, ':') && ser(b, m, NULL);
            first = false;
        }
        return ok && fw_buf_putc(b, '}');
    }
    return false;
}

static char *ser_dup(const fw_json *v, const char *skip) {
    fw_buf b;
    fw_buf_init(&b, FW_LANG_MAX_DOC_BYTES);
    char *s = NULL;
    if (ser(&b, v, skip) && fw_buf_putc(&b, '\0') && !b.overflow)
        s = strdup(b.data);
    fw_buf_fini(&b);
    return s;
}

/* Parses @p text (an entry as kept) and writes it without its version. */
static char *without_version(const char *text) {
    fw_arena a = { 0 };
    fw_json *root;
    char jerr[200];
    char *s = NULL;
    size_t n = strlen(text);
    if (fw_arena_init(&a, fw_json_arena_bound(n)) &&
        fw_json_parse(text, n, &a, &root, jerr, sizeof(jerr)) == FW_OK)
        s = ser_dup(root, "version");
    fw_arena_fini(&a);
    return s;
}

static bool same_but_version(const char *x, const char *y) {
    char *a = without_version(x), *b = without_version(y);
    bool same = a && b && !strcmp(a, b);
    free(a);
    free(b);
    return same;
}

/* ---- layers ---- */

static void layers_free(layers *ly) {
    for (size_t i = 0; i < ly->n; i++) {
        free(ly->e[i].base);
        free(ly->e[i].topic);
    }
    for (size_t i = 0; i < ly->nl; i++) {
        free(ly->l[i].name);
        for (int k = 0; k < L__COUNT; k++)
            free(ly->l[i].layer[k]);
    }
    free(ly->e);
    free(ly->l);
    memset(ly, 0, sizeof(*ly));
}

static bool dup_opt(char **to, const char *from) {
    *to = from ? strdup(from) : NULL;
    return !from || *to;
}

static bool layers_copy(layers *to, const layers *from) {
    memset(to, 0, sizeof(*to));
    to->e = calloc(from->n + 1, sizeof(*to->e));
    to->l = calloc(from->nl + 1, sizeof(*to->l));
    if (!to->e || !to->l)
        goto fail;
    for (; to->n < from->n; to->n++) {
        lentry *d = &to->e[to->n];
        *d = from->e[to->n];
        d->base = d->topic = NULL;
        if (!dup_opt(&d->base, from->e[to->n].base) || !dup_opt(&d->topic, from->e[to->n].topic)) {
            to->n++;
            goto fail;
        }
    }
    for (; to->nl < from->nl; to->nl++) {
        llist *d = &to->l[to->nl];
        memset(d, 0, sizeof(*d));
        bool ok = dup_opt(&d->name, from->l[to->nl].name);
        for (int k = 0; k < L__COUNT; k++)
            ok = ok && dup_opt(&d->layer[k], from->l[to->nl].layer[k]);
        if (!ok) {
            to->nl++;
            goto fail;
        }
    }
    return true;
fail:
    layers_free(to);
    return false;
}

static lentry *entry_find(const layers *ly, const char *id) {
    for (size_t i = 0; i < ly->n; i++)
        if (!strcmp(ly->e[i].id, id))
            return &ly->e[i];
    return NULL;
}

static lentry *entry_add(layers *ly, const char *id) {
    lentry *e = realloc(ly->e, (ly->n + 1) * sizeof(*e));
    if (!e)
        return NULL;
    ly->e = e;
    e = &ly->e[ly->n++];
    memset(e, 0, sizeof(*e));
    snprintf(e->id, sizeof(e->id), "%s", id);
    return e;
}

static void entry_drop_if_empty(layers *ly, lentry *e) {
    if (e->base || e->topic)
        return;
    size_t i = (size_t)(e - ly->e);
    memmove(&ly->e[i], &ly->e[i + 1], (ly->n - i - 1) * sizeof(*e));
    ly->n--;
}

static llist *list_get(layers *ly, fw_str name) {
    for (size_t i = 0; i < ly->nl; i++)
        if (fw_str_eq_c(name, ly->l[i].name))
            return &ly->l[i];
    llist *l = realloc(ly->l, (ly->nl + 1) * sizeof(*l));
    if (!l)
        return NULL;
    ly->l = l;
    l = &ly->l[ly->nl];
    memset(l, 0, sizeof(*l));
    if (!(l->name = malloc(name.len + 1)))
        return NULL;
    memcpy(l->name, name.ptr, name.len);
    l->name[name.len] = '\0';
    ly->nl++;
    return l;
}

static int running_version(const lentry *e) {
    return !e ? 0 : e->topic ? e->topic_version : e->base ? e->base_version : 0;
}

/* One document of every layer: {"lists": {...}, "rules": [in force...]}. */
static bool compose(const layers *ly, fw_buf *b) {
    bool ok = fw_buf_puts(b, "{\"lists\":{"), first = true;
    for (size_t i = 0; i < ly->nl && ok; i++) {
        const llist *l = &ly->l[i];
        const char *v = l->layer[L_TOPIC] ? l->layer[L_TOPIC]
                        : l->layer[L_FILE] ? l->layer[L_FILE] : l->layer[L_SECTION];
        if (!v)
            continue;
        ok = (first || fw_buf_putc(b, ',')) && fw_buf_json_str(b, fw_str_c(l->name)) &&
             fw_buf_putc(b, ':') && fw_buf_puts(b, v);
        first = false;
    }
    ok = ok && fw_buf_puts(b, "},\"rules\":[");
    first = true;
    for (size_t i = 0; i < ly->n && ok; i++) {
        const char *v = ly->e[i].topic ? ly->e[i].topic : ly->e[i].base;
        if (!v)
            continue;
        ok = (first || fw_buf_putc(b, ',')) && fw_buf_puts(b, v);
        first = false;
    }
    return ok && fw_buf_puts(b, "]}") && !b->overflow;
}

static fw_err compile(const fw_lang_live *ll, const layers *ly, fw_lang_rules **out,
                      char *errstr, size_t errstr_size) {
    fw_buf b;
    fw_buf_init(&b, FW_LANG_MAX_DOC_BYTES);
    fw_err rc;
    *out = NULL;
    if (!compose(ly, &b)) {
        snprintf(errstr, errstr_size, "the rules and lists in force exceed %zu bytes",
                 (size_t)FW_LANG_MAX_DOC_BYTES);
        rc = FW_ERR_LIMIT;
    } else {
        rc = fw_lang_rules_parse_json_ex(b.data, b.len, &ll->base,
                                         FW_LANG_OPEN_LISTS | FW_LANG_LARGE_DOC, out, errstr,
                                         errstr_size);
    }
    fw_buf_fini(&b);
    if (rc == FW_OK && !(*out)->n && !(*out)->nlists) {
        fw_lang_rules_destroy(*out);
        *out = NULL;
    }
    return rc;
}

/* Compiles @p next; when it does, it replaces the layers in force. */
static fw_err commit(fw_lang_live *ll, layers *next, char *errstr, size_t errstr_size) {
    fw_lang_rules *rs;
    fw_err rc = compile(ll, next, &rs, errstr, errstr_size);
    if (rc != FW_OK) {
        layers_free(next);
        return rc;
    }
    layers_free(&ll->ly);
    ll->ly = *next;
    fw_lang_rules_destroy(ll->cur);
    ll->cur = rs;
    ll->changed = true;
    return FW_OK;
}

/* ---- the API ---- */

fw_lang_live *fw_lang_live_new(const fw_rules *base) {
    fw_lang_live *ll = calloc(1, sizeof(*ll));
    if (ll)
        ll->base = *base;
    return ll;
}

void fw_lang_live_destroy(fw_lang_live *ll) {
    if (!ll)
        return;
    layers_free(&ll->ly);
    fw_lang_rules_destroy(ll->cur);
    free(ll);
}

fw_err fw_lang_live_set_base(fw_lang_live *ll, const char *json, size_t n, bool need_increase,
                             void (*report)(void *opaque, const char *id, int version,
                                            fw_lang_live_result r, const char *reason),
                             void *opaque, char *errstr, size_t errstr_size) {
    fw_lang_rules *rs = NULL;
    fw_arena a = { 0 };
    fw_json *root;
    layers next;
    char jerr[300], why[400];
    fw_err rc = fw_lang_rules_parse_json_ex(json, n, &ll->base, FW_LANG_OPEN_LISTS, &rs, errstr,
                                            errstr_size);
    if (rc != FW_OK)
        return rc == FW_ERR_NOMEM ? rc : FW_ERR_INVALID;
    if (!fw_arena_init(&a, fw_json_arena_bound(n)) ||
        fw_json_parse(json, n, &a, &root, jerr, sizeof(jerr)) != FW_OK ||
        !layers_copy(&next, &ll->ly)) {
        snprintf(errstr, errstr_size, "out of memory");
        fw_arena_fini(&a);
        fw_lang_rules_destroy(rs);
        return FW_ERR_NOMEM;
    }
    rc = FW_ERR_NOMEM;
    snprintf(errstr, errstr_size, "out of memory");
    /* Lists: the section layer is the document's. */
    for (size_t i = 0; i < next.nl; i++) {
        free(next.l[i].layer[L_SECTION]);
        next.l[i].layer[L_SECTION] = NULL;
    }
    FW_JSON_FOREACH(m, fw_json_get(root, "lists")) {
        llist *l = list_get(&next, m->key);
        if (!l || !(l->layer[L_SECTION] = ser_dup(m, NULL)))
            goto fail;
    }
    /* Rules: the document's typed entries, in its order (rs has them so). */
    bool *seen = calloc(next.n + rs->n + 1, sizeof(bool));
    if (!seen)
        goto fail;
    size_t k = 0;
    FW_JSON_FOREACH(e, fw_json_get(root, "rules")) {
        if (e->type != FW_JSON_OBJECT || !fw_json_get(e, "type"))
            continue;
        const fw_lang_rule *r = &rs->rules[k++];
        char *text = ser_dup(e, NULL);
        lentry *le = entry_find(&next, r->id);
        if (!text || (!le && !(le = entry_add(&next, r->id)))) {
            free(text);
            free(seen);
            goto fail;
        }
        seen[le - next.e] = true;
        bool differs = !le->base || !same_but_version(le->base, text) ||
                       le->base_version != r->common.version;
        int running = running_version(le);
        if (!differs || le->topic) { /* the topic's record stays in force */
            free(le->base);
            le->base = text;
            le->base_version = r->common.version;
            continue;
        }
        if (need_increase && le->base && r->common.version <= running) {
            snprintf(why, sizeof(why), "version %d does not increase (version %d runs)",
                     r->common.version, running);
            if (report)
                report(opaque, r->id, running, FW_LANG_LIVE_REJECTED, why);
            free(text);
            continue;
        }
        free(le->base);
        le->base = text;
        le->base_version = r->common.version;
        if (report)
            report(opaque, r->id, r->common.version, FW_LANG_LIVE_ACCEPTED, "");
    }
    /* A rule the document no longer has leaves the base. */
    for (size_t i = next.n; i-- > 0;) {
        lentry *le = &next.e[i];
        if (seen[i] || !le->base)
            continue;
        free(le->base);
        le->base = NULL;
        if (!le->topic && report)
            report(opaque, le->id, 0, FW_LANG_LIVE_DELETED, "no longer in the rules file");
        entry_drop_if_empty(&next, le);
    }
    free(seen);
    fw_arena_fini(&a);
    fw_lang_rules_destroy(rs);
    return commit(ll, &next, errstr, errstr_size);
fail:
    layers_free(&next);
    fw_arena_fini(&a);
    fw_lang_rules_destroy(rs);
    return rc;
}

static const char doc_open[] = "{\"rules\":[";
static const char doc_close[] = "]}";

fw_lang_live_result fw_lang_live_apply(fw_lang_live *ll, fw_str key, const char *value,
                                       size_t len, int *version, char *errstr,
                                       size_t errstr_size) {
    char id[FW_LANG_MAX_ID];
    layers next;
    lentry *le;
    if (errstr_size)
        errstr[0] = '\0';
    *version = 0;
    if (key.len == 0 || key.len >= sizeof(id)) {
        snprintf(errstr, errstr_size, "key: expected a rule id of 1 to %d bytes, got %zu",
                 FW_LANG_MAX_ID - 1, key.len);
        return FW_LANG_LIVE_REJECTED;
    }
    memcpy(id, key.ptr, key.len);
    id[key.len] = '\0';
    *version = running_version(entry_find(&ll->ly, id));
    if (!value) { /* tombstone: back to the base, or gone */
        le = entry_find(&ll->ly, id);
        if (!le || !le->topic)
            return FW_LANG_LIVE_UNCHANGED;
        if (!layers_copy(&next, &ll->ly)) {
            snprintf(errstr, errstr_size, "out of memory");
            return FW_LANG_LIVE_REJECTED;
        }
        le = entry_find(&next, id);
        free(le->topic);
        le->topic = NULL;
        int v = le->base ? le->base_version : 0;
        entry_drop_if_empty(&next, le);
        if (commit(ll, &next, errstr, errstr_size) != FW_OK)
            return FW_LANG_LIVE_REJECTED;
        *version = v;
        return FW_LANG_LIVE_DELETED;
    }
    if (len > FW_RULES_MAX_BYTES - sizeof(doc_open) - sizeof(doc_close)) {
        snprintf(errstr, errstr_size, "value: %zu bytes, above the %zu a rule may have", len,
                 (size_t)FW_RULES_MAX_BYTES);
        return FW_LANG_LIVE_REJECTED;
    }
    /* The entry alone first: the parser's message names rules[0] and where. */
    size_t n = sizeof(doc_open) - 1 + len + sizeof(doc_close) - 1;
    char *doc = malloc(n);
    fw_lang_rules *one = NULL;
    fw_arena a = { 0 };
    fw_json *root;
    char jerr[300];
    fw_lang_live_result res = FW_LANG_LIVE_REJECTED;
    if (!doc) {
        snprintf(errstr, errstr_size, "out of memory for a %zu-byte rule", len);
        return res;
    }
    memcpy(doc, doc_open, sizeof(doc_open) - 1);
    memcpy(doc + sizeof(doc_open) - 1, value, len);
    memcpy(doc + sizeof(doc_open) - 1 + len, doc_close, sizeof(doc_close) - 1);
    if (fw_lang_rules_parse_json_ex(doc, n, &ll->base, FW_LANG_OPEN_LISTS, &one, errstr,
                                    errstr_size) != FW_OK)
        goto out;
    if (one->n != 1) {
        snprintf(errstr, errstr_size, "key \"%s\" is no built-in rule and the value is no "
                 "language rule entry (it needs a \"type\": filter, aggregate or sequence)",
                 id);
        goto out;
    }
    const fw_lang_rule *r = &one->rules[0];
    if (strcmp(r->id, id)) {
        snprintf(errstr, errstr_size, "id: \"%s\" is not the record's key \"%s\"", r->id, id);
        goto out;
    }
    if (r->common.version <= *version) {
        snprintf(errstr, errstr_size, "version %d does not increase (version %d runs)",
                 r->common.version, *version);
        goto out;
    }
    char *text = NULL;
    if (!fw_arena_init(&a, fw_json_arena_bound(n)) ||
        fw_json_parse(doc, n, &a, &root, jerr, sizeof(jerr)) != FW_OK ||
        !(text = ser_dup(fw_json_get(root, "rules")->child, NULL)) ||
        !layers_copy(&next, &ll->ly)) {
        free(text);
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    if (!(le = entry_find(&next, id)) && !(le = entry_add(&next, id))) {
        free(text);
        layers_free(&next);
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    free(le->topic);
    le->topic = text;
    le->topic_version = r->common.version;
    if (commit(ll, &next, errstr, errstr_size) != FW_OK)
        goto out; /* e.g. past FW_LANG_MAX_RULES with the others */
    *version = r->common.version;
    res = FW_LANG_LIVE_ACCEPTED;
out:
    fw_arena_fini(&a);
    fw_lang_rules_destroy(one);
    free(doc);
    return res;
}

/* Checks @p lists (an object of lists) with the rule parser: its message
 * names "lists.<name>" and, for the list's own faults, where. */
static fw_err check_lists(const fw_lang_live *ll, const char *json, size_t n, char *errstr,
                          size_t errstr_size) {
    static const char open[] = "{\"lists\":", close[] = "}";
    char *doc = malloc(n + sizeof(open) + sizeof(close));
    fw_lang_rules *rs = NULL;
    if (!doc) {
        snprintf(errstr, errstr_size, "out of memory");
        return FW_ERR_NOMEM;
    }
    memcpy(doc, open, sizeof(open) - 1);
    memcpy(doc + sizeof(open) - 1, json, n);
    memcpy(doc + sizeof(open) - 1 + n, close, sizeof(close) - 1);
    fw_err rc = fw_lang_rules_parse_json_ex(doc, n + sizeof(open) + sizeof(close) - 2,
                                            &ll->base, FW_LANG_LARGE_DOC, &rs, errstr,
                                            errstr_size);
    fw_lang_rules_destroy(rs);
    free(doc);
    return rc == FW_ERR_LIMIT ? FW_ERR_INVALID : rc;
}

fw_lang_live_result fw_lang_live_apply_list(fw_lang_live *ll, fw_str name, const char *value,
                                            size_t len, char *errstr, size_t errstr_size) {
    layers next;
    if (errstr_size)
        errstr[0] = '\0';
    if (name.len == 0 || name.len > 200) {
        snprintf(errstr, errstr_size, "key: expected a list name of 1 to 200 bytes, got %zu",
                 name.len);
        return FW_LANG_LIVE_REJECTED;
    }
    char *text = NULL;
    if (value) {
        fw_buf obj;
        fw_buf_init(&obj, FW_LANG_MAX_DOC_BYTES);
        bool ok = fw_buf_putc(&obj, '{') && fw_buf_json_str(&obj, name) &&
                  fw_buf_putc(&obj, ':') && fw_buf_append(&obj, value, len) &&
                  fw_buf_putc(&obj, '}') && !obj.overflow;
        fw_err rc = ok ? check_lists(ll, obj.data, obj.len, errstr, errstr_size) : FW_ERR_LIMIT;
        if (!ok)
            snprintf(errstr, errstr_size, "value: %zu bytes, above the %zu a list may have",
                     len, (size_t)FW_LANG_MAX_DOC_BYTES);
        fw_arena a = { 0 };
        fw_json *root;
        char jerr[200];
        if (rc == FW_OK && fw_arena_init(&a, fw_json_arena_bound(obj.len)) &&
            fw_json_parse(obj.data, obj.len, &a, &root, jerr, sizeof(jerr)) == FW_OK)
            text = ser_dup(root->child, NULL);
        fw_arena_fini(&a);
        fw_buf_fini(&obj);
        if (rc != FW_OK)
            return FW_LANG_LIVE_REJECTED;
        if (!text) {
            snprintf(errstr, errstr_size, "out of memory");
            return FW_LANG_LIVE_REJECTED;
        }
    }
    if (!layers_copy(&next, &ll->ly)) {
        free(text);
        snprintf(errstr, errstr_size, "out of memory");
        return FW_LANG_LIVE_REJECTED;
    }
    llist *l = list_get(&next, name);
    if (!l) {
        free(text);
        layers_free(&next);
        snprintf(errstr, errstr_size, "out of memory");
        return FW_LANG_LIVE_REJECTED;
    }
    free(l->layer[L_TOPIC]);
    l->layer[L_TOPIC] = text;
    if (commit(ll, &next, errstr, errstr_size) != FW_OK)
        return FW_LANG_LIVE_REJECTED;
    return value ? FW_LANG_LIVE_ACCEPTED : FW_LANG_LIVE_DELETED;
}

fw_err fw_lang_live_set_lists_file(fw_lang_live *ll, const char *json, size_t n,
                                   char *errstr, size_t errstr_size) {
    fw_arena a = { 0 };
    fw_json *root;
    char jerr[300];
    layers next;
    fw_err rc = check_lists(ll, json, n, errstr, errstr_size);
    if (rc != FW_OK)
        return rc;
    if (!fw_arena_init(&a, fw_json_arena_bound(n)) ||
        fw_json_parse(json, n, &a, &root, jerr, sizeof(jerr)) != FW_OK ||
        !layers_copy(&next, &ll->ly)) {
        fw_arena_fini(&a);
        snprintf(errstr, errstr_size, "out of memory");
        return FW_ERR_NOMEM;
    }
    for (size_t i = 0; i < next.nl; i++) {
        free(next.l[i].layer[L_FILE]);
        next.l[i].layer[L_FILE] = NULL;
    }
    FW_JSON_FOREACH(m, root) {
        llist *l = list_get(&next, m->key);
        if (!l || !(l->layer[L_FILE] = ser_dup(m, NULL))) {
            layers_free(&next);
            fw_arena_fini(&a);
            snprintf(errstr, errstr_size, "out of memory");
            return FW_ERR_NOMEM;
        }
    }
    fw_arena_fini(&a);
    return commit(ll, &next, errstr, errstr_size);
}

bool fw_lang_live_take(fw_lang_live *ll, fw_lang_rules **out) {
    char err[300];
    *out = NULL;
    if (!ll || !ll->changed)
        return false;
    ll->changed = false;
    /* A compile of its own: the caller owns it, ll keeps the set in force. */
    if (compile(ll, &ll->ly, out, err, sizeof(err)) != FW_OK)
        *out = NULL; /* cannot happen: commit compiled the same layers */
    return true;
}

const fw_lang_rules *fw_lang_live_current(const fw_lang_live *ll) { return ll ? ll->cur : NULL; }

bool fw_lang_live_in_topic(const fw_lang_live *ll, const char *id) {
    const lentry *e = entry_find(&ll->ly, id);
    return e && e->topic;
}

int fw_lang_live_version(const fw_lang_live *ll, const char *id) {
    return running_version(entry_find(&ll->ly, id));
}

void fw_lang_live_foreach(const fw_lang_live *ll,
                          void (*fn)(void *opaque, const char *id, int version, bool topic,
                                     const char *json),
                          void *opaque) {
    for (size_t i = 0; i < ll->ly.n; i++) {
        const lentry *e = &ll->ly.e[i];
        if (e->topic || e->base)
            fn(opaque, e->id, running_version(e), e->topic != NULL,
               e->topic ? e->topic : e->base);
    }
}

fw_err fw_lang_live_plan(const fw_lang_live *ll, const char *json, size_t n,
                         void (*fn)(void *opaque, const char *id, int live_version,
                                    int version, const char *entry),
                         void *opaque, char *errstr, size_t errstr_size) {
    fw_lang_rules *rs = NULL;
    fw_arena a = { 0 };
    fw_json *root;
    char jerr[300];
    fw_err rc = fw_lang_rules_parse_json_ex(json, n, &ll->base, FW_LANG_OPEN_LISTS, &rs, errstr,
                                            errstr_size);
    if (rc != FW_OK)
        return rc == FW_ERR_NOMEM ? rc : FW_ERR_INVALID;
    if (!fw_arena_init(&a, fw_json_arena_bound(n)) ||
        fw_json_parse(json, n, &a, &root, jerr, sizeof(jerr)) != FW_OK) {
        snprintf(errstr, errstr_size, "out of memory");
        rc = FW_ERR_NOMEM;
        goto out;
    }
    size_t k = 0;
    FW_JSON_FOREACH(e, fw_json_get(root, "rules")) {
        if (e->type != FW_JSON_OBJECT || !fw_json_get(e, "type"))
            continue;
        const fw_lang_rule *r = &rs->rules[k++];
        const lentry *le = entry_find(&ll->ly, r->id);
        const char *live = le ? (le->topic ? le->topic : le->base) : NULL;
        char *text = ser_dup(e, "version");
        if (!text) {
            snprintf(errstr, errstr_size, "out of memory");
            rc = FW_ERR_NOMEM;
            goto out;
        }
        char *live_text = live ? without_version(live) : NULL;
        bool differs = !live_text || strcmp(live_text, text);
        free(live_text);
        if (differs) {
            int lv = running_version(le);
            int v = r->common.version > lv ? r->common.version : lv < INT_MAX ? lv + 1 : lv;
            fw_buf b;
            fw_buf_init(&b, FW_RULES_MAX_BYTES);
            size_t tl = strlen(text); /* "{...}": the version goes before the last brace */
            bool ok = fw_buf_append(&b, text, tl - 1) &&
                      fw_buf_printf(&b, "%s\"version\":%d}", tl > 2 ? "," : "", v) &&
                      fw_buf_putc(&b, '\0') && !b.overflow;
            if (ok)
                fn(opaque, r->id, lv, v, b.data);
            fw_buf_fini(&b);
        }
        free(text);
    }
out:
    fw_arena_fini(&a);
    fw_lang_rules_destroy(rs);
    return rc;
}

/* A whole file of at most @p max bytes. */
static fw_err read_all(const char *path, size_t max, char **out, size_t *n, char *errstr,
                       size_t errstr_size) {
    FILE *f = fopen(path, "rb");
    *out = NULL;
    if (!f) {
        snprintf(errstr, errstr_size, "%s: cannot open: %s", path, strerror(errno));
        return FW_ERR_IO;
    }
    char *buf = malloc(max + 1);
    *n = buf ? fread(buf, 1, max + 1, f) : 0;
    fw_err rc = FW_OK;
    if (!buf || ferror(f)) {
        snprintf(errstr, errstr_size, "%s: cannot read", path);
        rc = buf ? FW_ERR_IO : FW_ERR_NOMEM;
    } else if (*n > max) {
        snprintf(errstr, errstr_size, "%s: above the %zu bytes a file may have", path, max);
        rc = FW_ERR_INVALID;
    }
    fclose(f);
    if (rc != FW_OK)
        free(buf);
    else
        *out = buf;
    return rc;
}

fw_err fw_lang_live_read_file(const char *path, char **out, size_t *n, char *errstr,
                              size_t errstr_size) {
    return read_all(path, FW_RULES_MAX_BYTES, out, n, errstr, errstr_size);
}

fw_err fw_lang_live_load_files(fw_lang_live *ll, const char *rules_file, const char *lists_file,
                               bool need_increase,
                               void (*report)(void *opaque, const char *id, int version,
                                              fw_lang_live_result r, const char *reason),
                               void *opaque, char *errstr, size_t errstr_size) {
    char inner[700];
    char *text;
    size_t n;
    fw_err rc;
    if (rules_file) {
        if ((rc = read_all(rules_file, FW_RULES_MAX_BYTES, &text, &n, errstr, errstr_size)) !=
            FW_OK)
            return rc;
        rc = fw_lang_live_set_base(ll, text, n, need_increase, report, opaque, inner,
                                   sizeof(inner));
        free(text);
        if (rc != FW_OK) {
            snprintf(errstr, errstr_size, "%s: %s", rules_file, inner);
            return rc;
        }
    }
    if (lists_file) {
        if ((rc = read_all(lists_file, FW_LANG_MAX_DOC_BYTES - 16, &text, &n, errstr,
                           errstr_size)) != FW_OK)
            return rc;
        rc = fw_lang_live_set_lists_file(ll, text, n, inner, sizeof(inner));
        free(text);
        if (rc != FW_OK) {
            snprintf(errstr, errstr_size, "%s: %s", lists_file, inner);
            return rc;
        }
    }
    return FW_OK;
}

size_t fw_lang_live_missing_lists(const fw_lang_rules *rs, char *out, size_t size) {
    size_t n = 0, o = 0;
    if (size)
        out[0] = '\0';
    for (size_t i = 0; rs && i < rs->nlists; i++) {
        if (!rs->lists[i].missing)
            continue;
        if (o < size) {
            int w = snprintf(out + o, size - o, "%s\"%s\"", n ? ", " : "", rs->lists[i].name);
            o += w > 0 ? (size_t)w : 0;
        }
        n++;
    }
    return n;
}
