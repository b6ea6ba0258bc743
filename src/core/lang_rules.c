/* lang_rules.c — loading and writing language rules (lang_rules.h): the
 * entries of a rules file's "rules" array with a "type" of "filter" or
 * "aggregate". Every expression is compiled here, once, with errors that
 * start with the entry's JSON path; evaluation is in lang_state.c. */
#include "lang_rules.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "rules_file.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const filter_keys[] = { "id", "type", "version", "severity", "enabled",
                                           "shadow", "params", "reason", "when", "group_by",
                                           "entity", "prev_within" };
static const char *const aggregate_keys[] = { "id", "type", "version", "severity", "enabled",
                                              "shadow", "params", "reason", "group_by",
                                              "lookback", "where", "aggregates", "having",
                                              "entity", "window", "slide", "consume",
                                              "lookback_bound", "backfill" };
static const char *const sequence_keys[] = { "id", "type", "version", "severity", "enabled",
                                             "shadow", "params", "reason", "group_by",
                                             "within", "steps", "entity", "where",
                                             "after_match", "prev_within", "backfill" };
static const char *const entity_keys[] = { "type", "id" };
static const char *const score_keys[] = { "id", "type", "version", "severity", "enabled",
                                          "shadow", "params", "reason", "group_by", "window",
                                          "slide", "where", "aggregates", "avg_before", "memory",
                                          "bands", "alert_at", "episodes", "severity_by_score",
                                          "entity", "backfill" };
static const char *const band_keys[] = { "name", "each", "if", "signal", "points" };
static const char *const step_keys[] = { "when", "next", "followed_by", "times" };
static const char *const fn_names[] = { [FW_LANG_COUNT] = "count", [FW_LANG_SUM] = "sum",
                                        [FW_LANG_AVG] = "avg", [FW_LANG_MIN] = "min",
                                        [FW_LANG_MAX] = "max",
                                        [FW_LANG_COUNT_DISTINCT] = "count_distinct",
                                        [FW_LANG_STDDEV] = "stddev" };

typedef struct lctx {
    fw_lang_rules *rs;
    fw_lang_rule *r;  /* the rule being compiled: its params and aggregates */
    bool slots;       /* compile with the aggregates as slots (having) */
    size_t nslot_override; /* score bands: this many of slot[] (else the rule's naggs) */
    bool open_lists;  /* FW_LANG_OPEN_LISTS: an unknown list is registered as missing */
    const fw_rules *builtin; /* the shipped definitions: params and common from here */
    const fw_lang_rules *skip; /* ... but not those whose id a rule of this set has */
    fw_expr_slot slot[FW_LANG_MAX_AGGS];
    char *err;
    size_t err_size;
} lctx;

__attribute__((format(printf, 5, 6)))
static fw_err errf(lctx *c, const char *path, const fw_json *at, fw_err rc, const char *fmt, ...) {
    if (!c->err || !c->err_size)
        return rc;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (at)
        snprintf(c->err, c->err_size, "%s: %s (line %u, column %u)", path, msg, at->line,
                 at->column);
    else
        snprintf(c->err, c->err_size, "%s: %s", path, msg);
    /* Names and text quoted from the document may hold any bytes: messages stay ASCII. */
    for (char *p = c->err; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            *p = '?';
    return rc;
}

static const char *did_you_mean(fw_str key, const char *const *names, size_t n, char *buf,
                                size_t size) {
    const char *c = fw_str_closest(key, names, n);
    if (!c)
        return "";
    snprintf(buf, size, ", did you mean \"%s\"?", c);
    return buf;
}

/* parent.key, or parent["odd key"] (quoted, ASCII) when the key is not a plain name. */
static void path_key(char *out, size_t size, const char *parent, const char *sep, fw_str key) {
    bool plain = key.len > 0 && key.len <= 48;
    for (size_t i = 0; plain && i < key.len; i++) {
        char ch = key.ptr[i];
        plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
    }
    char q[64];
    if (plain)
        snprintf(out, size, "%s%s%.*s", parent, sep, (int)key.len, key.ptr);
    else
        snprintf(out, size, "%s%s[%s]", parent, sep, fw_json_quote(key, q, sizeof(q)));
}

static char *dupn(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Extra fields: one slot per distinct name over the whole rule set. */
static int extra_field(void *ud, fw_str name) {
    lctx *c = ud;
    fw_lang_rules *rs = c->rs;
    for (size_t i = 0; i < rs->nextra; i++)
        if (fw_str_eq_c(name, rs->extra_names[i]))
            return (int)i;
    if (rs->nextra >= FW_LANG_MAX_EXTRA)
        return -1;
    char *d = dupn(name.ptr, name.len);
    if (!d)
        return -1;
    rs->extra_names[rs->nextra] = d;
    return (int)rs->nextra++;
}

/* ---- named lists ---- */

static int cmp_value(const void *a, const void *b) {
    const fw_str *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return memcmp(x->ptr, y->ptr, x->len);
}

static int list_id(void *ud, fw_str name) {
    lctx *c = ud;
    fw_lang_rules *rs = c->rs;
    for (size_t i = 0; i < rs->nlists; i++)
        if (fw_str_eq_c(name, rs->lists[i].name))
            return (int)i;
    if (!c->open_lists || rs->nlists >= FW_LANG_MAX_LISTS)
        return -1;
    /* Live lists: the rule runs, `in list` is false until the list exists. */
    fw_lang_list *l = &rs->lists[rs->nlists];
    if (!(l->name = dupn(name.ptr, name.len)))
        return -1;
    l->missing = true;
    return (int)rs->nlists++;
}

int fw_lang_list_contains(const fw_lang_rules *rs, int id, fw_str value) {
    if (id < 0 || (size_t)id >= rs->nlists || !value.ptr || rs->lists[id].missing)
        return -1;
    const fw_lang_list *l = &rs->lists[id];
    return l->n && bsearch(&value, l->values, l->n, sizeof(fw_str), cmp_value) ? 1 : 0;
}

bool fw_lang_lists_write_json(const fw_lang_rules *rs, fw_buf *b, const char *indent) {
    bool ok = true, first = true;
    for (size_t i = 0; i < rs->nlists && ok; i++) {
        const fw_lang_list *l = &rs->lists[i];
        if (l->missing)
            continue; /* named by a rule, not loaded: nothing to write back */
        ok = fw_buf_printf(b, "%s%s", first ? "" : ",\n", indent) &&
             fw_buf_json_str(b, fw_str_c(l->name)) && fw_buf_puts(b, ": [");
        for (size_t k = 0; k < l->n && ok; k++)
            ok = (!k || fw_buf_puts(b, ", ")) && fw_buf_json_str(b, l->values[k]);
        ok = ok && fw_buf_putc(b, ']');
        first = false;
    }
    return ok;
}

/* "lists": {"name": ["v", ...], ...}: strings only, each list at most
 * FW_LANG_MAX_LIST_VALUES values; duplicates are kept once. */
static fw_err load_lists(lctx *c, const fw_json *lists) {
    if (!lists)
        return FW_OK;
    if (lists->type != FW_JSON_OBJECT)
        return errf(c, "lists", lists, FW_ERR_INVALID, "expected an object of named lists "
                    "like {\"blocked_cards\": [\"c-1\", \"c-2\"]}");
    FW_JSON_FOREACH(m, lists) {
        char path[160];
        snprintf(path, sizeof(path), "lists.%.*s", (int)(m->key.len < 100 ? m->key.len : 100),
                 m->key.ptr);
        if (c->rs->nlists >= FW_LANG_MAX_LISTS)
            return errf(c, path, m, FW_ERR_LIMIT, "more than %d named lists",
                        FW_LANG_MAX_LISTS);
        if (m->type != FW_JSON_ARRAY)
            return errf(c, path, m, FW_ERR_INVALID, "expected an array of strings");
        size_t n = 0, bytes = 0;
        FW_JSON_FOREACH(v, m) {
            if (v->type != FW_JSON_STRING)
                return errf(c, path, v, FW_ERR_INVALID, "expected strings only, as the "
                            "values a field is compared with");
            n++;
            bytes += v->str.len;
        }
        if (n > FW_LANG_MAX_LIST_VALUES)
            return errf(c, path, m, FW_ERR_LIMIT, "%zu values, above the %d a list may have",
                        n, FW_LANG_MAX_LIST_VALUES);
        fw_lang_list *l = &c->rs->lists[c->rs->nlists++];
        l->name = dupn(m->key.ptr, m->key.len);
        l->values = malloc((n ? n : 1) * sizeof(fw_str));
        l->storage = malloc(bytes ? bytes : 1);
        if (!l->name || !l->values || !l->storage)
            return errf(c, path, NULL, FW_ERR_NOMEM, "out of memory");
        size_t o = 0;
        FW_JSON_FOREACH(v, m) {
            memcpy(l->storage + o, v->str.ptr, v->str.len);
            l->values[l->n++] = (fw_str){ l->storage + o, v->str.len };
            o += v->str.len;
        }
        qsort(l->values, l->n, sizeof(fw_str), cmp_value);
        size_t k = 0; /* duplicates once */
        for (size_t i = 0; i < l->n; i++)
            if (!k || cmp_value(&l->values[k - 1], &l->values[i]))
                l->values[k++] = l->values[i];
        l->n = k;
    }
    return FW_OK;
}

/* Templates see only extra fields some expression already uses. */
static int known_extra(void *ud, fw_str name) {
    lctx *c = ud;
    for (size_t i = 0; i < c->rs->nextra; i++)
        if (fw_str_eq_c(name, c->rs->extra_names[i]))
            return (int)i;
    return -1;
}

static fw_err compile(lctx *c, const char *path, const char *src, size_t n, fw_xtype want,
                      bool extra, fw_expr **out) {
    fw_expr_env env = { .params = c->r->params, .nparams = c->r->nparams,
                        .slots = c->slots ? c->slot : NULL,
                        .nslots = !c->slots ? 0
                                  : c->r->kind == FW_LANG_SCORE ? c->nslot_override
                                                                : c->r->naggs,
                        .extra_field = extra ? extra_field : known_extra,
                        .list_id = list_id, .ud = c };
    char msg[512];
    fw_err rc = fw_expr_compile(src, n, &env, want, out, msg, sizeof(msg));
    if (rc != FW_OK)
        return errf(c, path, NULL, rc, "%s", msg);
    fw_expr_uses u;
    fw_expr_uses_get(*out, &u);
    c->rs->uses_profile = c->rs->uses_profile || u.profile;
    c->r->uses_profile = c->r->uses_profile || u.profile;
    return FW_OK;
}

static fw_err compile_member(lctx *c, const char *rpath, const fw_json *m, fw_xtype want,
                             char **src, fw_expr **out) {
    char path[160], got[80];
    path_key(path, sizeof(path), rpath, ".", m->key);
    if (m->type != FW_JSON_STRING)
        return errf(c, path, m, FW_ERR_INVALID, "expected an expression string, got %s",
                    fw_json_describe(m, got, sizeof(got)));
    *src = dupn(m->str.ptr, m->str.len);
    if (!*src)
        return errf(c, path, NULL, FW_ERR_NOMEM, "out of memory");
    return compile(c, path, m->str.ptr, m->str.len, want, true, out);
}

static fw_err load_params(lctx *c, const char *rpath, const fw_json *v) {
    char path[160], got[80];
    fw_lang_rule *r = c->r;
    snprintf(path, sizeof(path), "%s.params", rpath);
    if (v->type != FW_JSON_OBJECT)
        return errf(c, path, v, FW_ERR_INVALID, "expected an object like {\"limit\": 1000}, got %s",
                    fw_json_describe(v, got, sizeof(got)));
    if (v->count > FW_LANG_MAX_PARAMS)
        return errf(c, path, v, FW_ERR_LIMIT, "%u params, above the %d a rule may have", v->count,
                    FW_LANG_MAX_PARAMS);
    FW_JSON_FOREACH(m, v) {
        path_key(path, sizeof(path), rpath, ".params.", m->key);
        size_t i = r->nparams;
        fw_expr_param *p = &r->params[i];
        char *name = dupn(m->key.ptr, m->key.len);
        if (!name)
            return errf(c, path, NULL, FW_ERR_NOMEM, "out of memory");
        p->name = name;
        r->nparams++;
        bool ok_name = m->key.len > 0;
        for (size_t k = 0; k < m->key.len; k++) {
            char ch = m->key.ptr[k];
            ok_name = ok_name && ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                                  ch == '_' || (k > 0 && ch >= '0' && ch <= '9'));
        }
        if (!ok_name)
            return errf(c, path, m, FW_ERR_INVALID, "a param name is letters, digits and '_', "
                        "not starting with a digit");
        if (m->type == FW_JSON_NUMBER) {
            p->value.type = FW_XT_NUM;
            if (fw_dec_parse(m->str.ptr, m->str.len, &p->value.u.num) != FW_OK)
                return errf(c, path, m, FW_ERR_INVALID, "%s does not fit a decimal of %d places",
                            fw_json_describe(m, got, sizeof(got)), FW_DEC_PLACES);
            r->param_json[i] = dupn(m->str.ptr, m->str.len);
        } else if (m->type == FW_JSON_STRING) {
            p->value.type = FW_XT_STR;
            r->param_text[i] = dupn(m->str.ptr, m->str.len);
            if (!r->param_text[i])
                return errf(c, path, NULL, FW_ERR_NOMEM, "out of memory");
            p->value.u.s = (fw_str){ r->param_text[i], m->str.len };
            r->param_json[i] = NULL; /* written from param_text */
            continue;
        } else if (m->type == FW_JSON_BOOL) {
            p->value.type = FW_XT_BOOL;
            p->value.u.b = m->boolean;
            r->param_json[i] = dupn(m->boolean ? "true" : "false", m->boolean ? 4 : 5);
        } else {
            return errf(c, path, m, FW_ERR_INVALID, "expected a number, string or boolean, got %s",
                        fw_json_describe(m, got, sizeof(got)));
        }
        if (!r->param_json[i])
            return errf(c, path, NULL, FW_ERR_NOMEM, "out of memory");
    }
    return FW_OK;
}

static fw_err load_group(lctx *c, const char *rpath, const fw_json *v) {
    char path[160], got[80];
    fw_lang_rule *r = c->r;
    const fw_json *one = v;
    size_t n = 1;
    r->group_is_array = v->type == FW_JSON_ARRAY;
    if (r->group_is_array) {
        if (v->count < 1 || v->count > FW_LANG_MAX_GROUP)
            return errf(c, rpath, v, FW_ERR_INVALID, "group_by: expected 1 to %d fields, got %u",
                        FW_LANG_MAX_GROUP, v->count);
        one = v->child;
        n = v->count;
    }
    for (size_t i = 0; i < n; i++, one = one->next) {
        snprintf(path, sizeof(path), r->group_is_array ? "%s.group_by[%zu]" : "%s.group_by", rpath, i);
        if (one->type != FW_JSON_STRING)
            return errf(c, path, one, FW_ERR_INVALID, "expected a field name, got %s",
                        fw_json_describe(one, got, sizeof(got)));
        r->group_src[i] = dupn(one->str.ptr, one->str.len);
        if (!r->group_src[i])
            return errf(c, path, NULL, FW_ERR_NOMEM, "out of memory");
        r->ngroup = i + 1;
        fw_err rc = compile(c, path, one->str.ptr, one->str.len, FW_XT_MISSING, true, &r->group[i]);
        if (rc != FW_OK)
            return rc;
        fw_xtype t = fw_expr_type(r->group[i]);
        if (t != FW_XT_STR && t != FW_XT_NUM && t != FW_XT_ANY)
            return errf(c, path, one, FW_ERR_INVALID, "a key field must be a string or a number, "
                        "\"%s\" is a %s", r->group_src[i], fw_xtype_name(t));
    }
    return FW_OK;
}

static fw_err entity_type(lctx *c, const char *path, const fw_json *v, fw_lang_entity *en) {
    char got[80];
    if (v->type != FW_JSON_STRING || v->str.len == 0 || v->str.len >= FW_LANG_MAX_ENTITY_TYPE ||
        memchr(v->str.ptr, '\0', v->str.len))
        return errf(c, path, v, FW_ERR_INVALID, "expected an entity type like \"account\" of 1 "
                    "to %d bytes, got %s", FW_LANG_MAX_ENTITY_TYPE - 1,
                    fw_json_describe(v, got, sizeof(got)));
    memcpy(en->type, v->str.ptr, v->str.len);
    return FW_OK;
}

/* "entity": "account" (the group_by values name it), or alternatives
 * [{"type": "account", "id": "account_id"}, ...]: the first present wins. */
static fw_err load_entity(lctx *c, const char *rpath, const fw_json *v) {
    char path[160], kpath[192], got[80], hint[96];
    fw_lang_rule *r = c->r;
    snprintf(path, sizeof(path), "%s.entity", rpath);
    if (v->type == FW_JSON_STRING) {
        if (!r->ngroup)
            return errf(c, path, v, FW_ERR_INVALID, "an entity type alone names the group_by "
                        "values, and this rule has no group_by: give [{\"type\": ..., \"id\": "
                        "\"<field>\"}]");
        r->nentity = 1;
        return entity_type(c, path, v, &r->entity[0]);
    }
    if (v->type != FW_JSON_ARRAY || v->count < 1 || v->count > FW_LANG_MAX_ENTITY)
        return errf(c, path, v, FW_ERR_INVALID, "expected an entity type or an array of 1 to %d "
                    "{\"type\": ..., \"id\": ...}, got %s", FW_LANG_MAX_ENTITY,
                    fw_json_describe(v, got, sizeof(got)));
    r->entity_is_array = true;
    size_t i = 0;
    for (const fw_json *o = v->child; o; o = o->next, i++) {
        snprintf(path, sizeof(path), "%s.entity[%zu]", rpath, i);
        if (o->type != FW_JSON_OBJECT)
            return errf(c, path, o, FW_ERR_INVALID, "expected {\"type\": ..., \"id\": ...}, got %s",
                        fw_json_describe(o, got, sizeof(got)));
        FW_JSON_FOREACH(m, o) {
            bool known = false;
            for (size_t k = 0; k < N(entity_keys); k++)
                known = known || fw_str_eq_c(m->key, entity_keys[k]);
            if (!known) {
                path_key(kpath, sizeof(kpath), path, ".", m->key);
                return errf(c, kpath, m, FW_ERR_INVALID, "unknown key in an entity%s",
                            did_you_mean(m->key, entity_keys, N(entity_keys), hint, sizeof(hint)));
            }
        }
        const fw_json *t = fw_json_get(o, "type"), *id = fw_json_get(o, "id");
        if (!t || !id)
            return errf(c, path, o, FW_ERR_INVALID, "an entity needs \"type\" and \"id\"");
        fw_lang_entity *en = &r->entity[i];
        r->nentity = i + 1;
        snprintf(kpath, sizeof(kpath), "%s.type", path);
        fw_err rc = entity_type(c, kpath, t, en);
        if (rc != FW_OK)
            return rc;
        snprintf(kpath, sizeof(kpath), "%s.id", path);
        if (id->type != FW_JSON_STRING)
            return errf(c, kpath, id, FW_ERR_INVALID, "expected a field name, got %s",
                        fw_json_describe(id, got, sizeof(got)));
        if (!(en->id_src = dupn(id->str.ptr, id->str.len)))
            return errf(c, kpath, NULL, FW_ERR_NOMEM, "out of memory");
        if ((rc = compile(c, kpath, id->str.ptr, id->str.len, FW_XT_MISSING, true, &en->id)) != FW_OK)
            return rc;
        fw_xtype ty = fw_expr_type(en->id);
        if (ty != FW_XT_STR && ty != FW_XT_NUM && ty != FW_XT_ANY)
            return errf(c, kpath, id, FW_ERR_INVALID, "an entity id must be a string or a number, "
                        "\"%s\" is a %s", en->id_src, fw_xtype_name(ty));
    }
    return FW_OK;
}

/* "sum(amount)" -> fn and argument; "count" alone or "count()". */
static fw_err parse_of(lctx *c, const char *path, const fw_json *at, fw_lang_agg *a, fw_str s) {
    char q[64], hint[80];
    size_t i = 0;
    while (i < s.len && s.ptr[i] != '(')
        i++;
    fw_str fn = { s.ptr, i };
    while (fn.len && fn.ptr[fn.len - 1] == ' ')
        fn.len--;
    while (fn.len && fn.ptr[0] == ' ')
        fn.ptr++, fn.len--;
    int k = -1;
    for (size_t j = 0; j < N(fn_names); j++)
        if (fw_str_eq_c(fn, fn_names[j]))
            k = (int)j;
    if (k < 0)
        return errf(c, path, at, FW_ERR_INVALID, "unknown aggregate %s%s; valid: count, sum(f), "
                    "avg(f), min(f), max(f), count_distinct(f), stddev(f)",
                    fw_json_quote(fn, q, sizeof(q)), did_you_mean(fn, fn_names, N(fn_names), hint,
                                                                  sizeof(hint)));
    a->fn = (fw_lang_fn)k;
    fw_str arg = { s.ptr + i, 0 };
    if (i < s.len) {
        size_t end = s.len;
        while (end > i && s.ptr[end - 1] == ' ')
            end--;
        if (end <= i + 1 || s.ptr[end - 1] != ')')
            return errf(c, path, at, FW_ERR_INVALID, "expected %s(field) with a closing ')'",
                        fn_names[k]);
        arg = (fw_str){ s.ptr + i + 1, end - i - 2 };
    }
    bool empty = true;
    for (size_t j = 0; j < arg.len; j++)
        empty = empty && arg.ptr[j] == ' ';
    if (a->fn == FW_LANG_COUNT) {
        if (!empty)
            return errf(c, path, at, FW_ERR_INVALID, "count takes no field (count_distinct(f) "
                        "counts distinct values)");
        return FW_OK;
    }
    if (empty)
        return errf(c, path, at, FW_ERR_INVALID, "%s needs a field, as in %s(amount)",
                    fn_names[k], fn_names[k]);
    fw_err rc = compile(c, path, arg.ptr, arg.len, FW_XT_MISSING, true, &a->arg);
    if (rc != FW_OK)
        return rc;
    fw_xtype t = fw_expr_type(a->arg);
    if (a->fn == FW_LANG_COUNT_DISTINCT ? (t != FW_XT_STR && t != FW_XT_NUM && t != FW_XT_ANY)
                                        : (t != FW_XT_NUM && t != FW_XT_ANY))
        return errf(c, path, at, FW_ERR_INVALID, "%s needs a %s, \"%.*s\" is a %s", fn_names[k],
                    a->fn == FW_LANG_COUNT_DISTINCT ? "string or number" : "number",
                    (int)arg.len, arg.ptr, fw_xtype_name(t));
    return FW_OK;
}

static fw_err load_aggs(lctx *c, const char *rpath, const fw_json *v) {
    char path[200], got[80], q[64];
    fw_lang_rule *r = c->r;
    snprintf(path, sizeof(path), "%s.aggregates", rpath);
    if (v->type != FW_JSON_OBJECT || v->count == 0)
        return errf(c, path, v, FW_ERR_INVALID, "expected an object like {\"count\": \"count\", "
                    "\"sum\": \"sum(amount)\"}, got %s", fw_json_describe(v, got, sizeof(got)));
    if (v->count > FW_LANG_MAX_AGGS)
        return errf(c, path, v, FW_ERR_LIMIT, "%u aggregates, above the %d a rule may have",
                    v->count, FW_LANG_MAX_AGGS);
    FW_JSON_FOREACH(m, v) {
        path_key(path, sizeof(path), rpath, ".aggregates.", m->key);
        fw_lang_agg *a = &r->aggs[r->naggs];
        a->name = dupn(m->key.ptr, m->key.len);
        if (!a->name)
            return errf(c, path, NULL, FW_ERR_NOMEM, "out of memory");
        r->naggs++;
        bool ok_name = m->key.len > 0 && m->key.len < 64;
        for (size_t k = 0; k < m->key.len; k++) {
            char ch = m->key.ptr[k];
            ok_name = ok_name && ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                                  ch == '_' || (k > 0 && ch >= '0' && ch <= '9'));
        }
        if (!ok_name)
            return errf(c, path, m, FW_ERR_INVALID, "an aggregate's name is a name (letters, "
                        "digits, '_'), used in having and the reason");
        const fw_json *of = m;
        if (m->type == FW_JSON_OBJECT) {
            FW_JSON_FOREACH(k, m)
                if (!fw_str_eq_c(k->key, "of") && !fw_str_eq_c(k->key, "where"))
                    return errf(c, path, k, FW_ERR_INVALID, "unknown key %s; valid keys: "
                                "of, where", fw_json_quote(k->key, q, sizeof(q)));
            of = fw_json_get(m, "of");
            if (!of)
                return errf(c, path, m, FW_ERR_INVALID, "missing \"of\", as in {\"of\": "
                            "\"sum(amount)\", \"where\": \"...\"}");
            const fw_json *w = fw_json_get(m, "where");
            if (w) {
                fw_err rc = compile_member(c, path, w, FW_XT_BOOL, &a->where_src, &a->where);
                if (rc != FW_OK)
                    return rc;
            }
        }
        if (of->type != FW_JSON_STRING)
            return errf(c, path, of, FW_ERR_INVALID, "expected \"count\", \"sum(amount)\", ... or "
                        "{\"of\": ..., \"where\": ...}, got %s", fw_json_describe(of, got, sizeof(got)));
        a->of = dupn(of->str.ptr, of->str.len);
        if (!a->of)
            return errf(c, path, NULL, FW_ERR_NOMEM, "out of memory");
        fw_err rc = parse_of(c, path, of, a, of->str);
        if (rc != FW_OK)
            return rc;
        for (size_t j = 0; j + 1 < r->naggs; j++)
            if (!strcmp(r->aggs[j].name, a->name))
                return errf(c, path, m, FW_ERR_INVALID, "aggregate \"%s\" is given twice", a->name);
    }
    return FW_OK;
}

/* Splits the reason into text and placeholders, resolving each name:
 * {lookback}, an aggregate, a param, then a field of the transaction. */
static fw_err load_reason(lctx *c, const char *rpath, const fw_json *v) {
    char path[160], got[80], hint[96];
    fw_lang_rule *r = c->r;
    snprintf(path, sizeof(path), "%s.reason", rpath);
    if (v->type != FW_JSON_STRING)
        return errf(c, path, v, FW_ERR_INVALID, "expected a string like \"{count} transfers\", got %s",
                    fw_json_describe(v, got, sizeof(got)));
    r->reason = dupn(v->str.ptr, v->str.len);
    r->tpl = calloc(v->str.len + 1, sizeof(*r->tpl));
    if (!r->reason || !r->tpl)
        return errf(c, path, NULL, FW_ERR_NOMEM, "out of memory");
    const char *s = r->reason, *end = s + v->str.len;
    while (s < end) {
        fw_lang_tpl *t = &r->tpl[r->ntpl];
        const char *open = memchr(s, '{', (size_t)(end - s));
        if (open != s) {
            const char *stop = open ? open : end;
            *t = (fw_lang_tpl){ .kind = FW_TPL_TEXT, .text = s, .len = (size_t)(stop - s) };
            r->ntpl++;
            s = stop;
            continue;
        }
        const char *close = memchr(s, '}', (size_t)(end - s));
        if (!close)
            return errf(c, path, v, FW_ERR_INVALID, "a '{' at offset %zu has no '}'",
                        (size_t)(s - r->reason));
        fw_str name = { s + 1, (size_t)(close - s - 1) };
        r->ntpl++;
        s = close + 1;
        if (r->kind == FW_LANG_SCORE) { /* the alert's values: score, bands, aggregates */
            int vi = fw_str_eq_c(name, "score") ? 0 : -1;
            for (size_t i = 0; i < r->nbands && vi < 0; i++)
                if (fw_str_eq_c(name, r->bands[i].name))
                    vi = (int)(1 + i);
            for (size_t i = 0; i < r->naggs && vi < 0; i++)
                if (fw_str_eq_c(name, r->aggs[i].name))
                    vi = (int)(1 + r->nbands + i);
            if (vi >= 0) {
                *t = (fw_lang_tpl){ .kind = FW_TPL_VALUE, .index = vi };
                continue;
            }
        }
        if (fw_str_eq_c(name, "lookback") ||
            (r->kind == FW_LANG_SEQUENCE && fw_str_eq_c(name, "within")) ||
            ((r->kind == FW_LANG_SCORE || r->window_ms) && fw_str_eq_c(name, "window"))) {
            t->kind = FW_TPL_LOOKBACK;
            continue;
        }
        bool done = false;
        for (size_t i = 0; i < r->naggs && !done; i++)
            if (fw_str_eq_c(name, r->aggs[i].name))
                *t = (fw_lang_tpl){ .kind = FW_TPL_AGG, .index = (int)i }, done = true;
        for (size_t i = 0; i < r->nparams && !done; i++)
            if (fw_str_eq_c(name, r->params[i].name))
                *t = (fw_lang_tpl){ .kind = FW_TPL_PARAM, .index = (int)i }, done = true;
        if (done)
            continue;
        bool plain = name.len > 0;
        for (size_t k = 0; k < name.len; k++) {
            char ch = name.ptr[k];
            plain = plain && ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                              (ch >= '0' && ch <= '9') || ch == '_' || ch == '.');
        }
        fw_expr *e = NULL;
        char msg[256];
        fw_expr_env env = { .params = r->params, .nparams = r->nparams, .extra_field = known_extra,
                            .ud = c };
        if (plain && fw_expr_compile(name.ptr, name.len, &env, FW_XT_MISSING, &e, msg,
                                     sizeof(msg)) == FW_OK) {
            *t = (fw_lang_tpl){ .kind = FW_TPL_FIELD, .field = e };
            continue;
        }
        const char *names[FW_LANG_MAX_AGGS + FW_LANG_MAX_PARAMS + FW_TXN_NFIELDS + 1];
        size_t nn = 0;
        names[nn++] = r->kind == FW_LANG_SCORE ? "window" : "lookback";
        if (r->kind == FW_LANG_SCORE)
            names[nn++] = "score";
        for (size_t i = 0; i < r->nbands && nn < FW_LANG_MAX_AGGS; i++)
            names[nn++] = r->bands[i].name;
        for (size_t i = 0; i < r->naggs; i++)
            names[nn++] = r->aggs[i].name;
        for (size_t i = 0; i < r->nparams; i++)
            names[nn++] = r->params[i].name;
        for (int f = 0; f < FW_TXN_NFIELDS; f++)
            if (fw_txn_field_name(f))
                names[nn++] = fw_txn_field_name(f);
        return errf(c, path, v, FW_ERR_INVALID, "unknown placeholder {%.*s}%s (a placeholder is "
                    "an aggregate, a param, a transaction field or {lookback})",
                    (int)(name.len > 48 ? 48 : name.len), name.ptr,
                    did_you_mean(name, names, nn, hint, sizeof(hint)));
    }
    return FW_OK;
}

/* A value written as "$name" (a duration or a count given by a param, so
 * `eval --sweep` and a threshold change reach it): the param's index, or -1
 * when @p m is not such a string. Unknown names are an error (-2). */
static int param_ref(lctx *c, const char *path, const fw_json *m, fw_err *rc) {
    char hint[96];
    if (m->type != FW_JSON_STRING || !m->str.len || m->str.ptr[0] != '$')
        return -1;
    fw_str name = { m->str.ptr + 1, m->str.len - 1 };
    const char *names[FW_LANG_MAX_PARAMS];
    for (size_t i = 0; i < c->r->nparams; i++) {
        if (fw_str_eq_c(name, c->r->params[i].name))
            return (int)i;
        names[i] = c->r->params[i].name;
    }
    *rc = errf(c, path, m, FW_ERR_INVALID, "unknown param \"$%.*s\"%s", (int)name.len, name.ptr,
               did_you_mean(name, names, c->r->nparams, hint, sizeof(hint)));
    return -2;
}

/* A duration member ("30m" or "$param" holding one) between 1ms and 30 days. */
static fw_err load_duration(lctx *c, const char *path, const fw_json *m, const char *like,
                            int64_t *ms, int *param) {
    char got[80];
    fw_err rc = FW_OK;
    int pi = param_ref(c, path, m, &rc);
    *param = pi < 0 ? -1 : pi;
    if (pi == -2)
        return rc;
    const fw_expr_param *p = pi >= 0 ? &c->r->params[pi] : NULL;
    fw_str s = p ? (p->value.type == FW_XT_STR ? p->value.u.s : FW_STR_NULL)
                 : (m->type == FW_JSON_STRING ? m->str : FW_STR_NULL);
    *ms = -1;
    if (s.ptr)
        (void)fw_rules_duration_parse(s.ptr, s.len, ms);
    if (*ms <= 0 || *ms > FW_RULES_MAX_DURATION_MS)
        return errf(c, path, m, FW_ERR_INVALID, "expected a duration like \"%s\" between 1ms and "
                    "30 days%s, got %s", like, p ? " in its param" : " (or \"$param\")",
                    p ? (s.ptr ? "a text that is none" : "a param that is not a duration")
                      : fw_json_describe(m, got, sizeof(got)));
    return FW_OK;
}

/* A sequence's "steps": [{"when": P}, {"next"|"followed_by": P, "times": N}, ...]. */
static fw_err load_steps(lctx *c, const char *rpath, const fw_json *v) {
    char path[160], kpath[192], got[80], hint[96];
    fw_lang_rule *r = c->r;
    snprintf(path, sizeof(path), "%s.steps", rpath);
    if (v->type != FW_JSON_ARRAY || !v->count)
        return errf(c, path, v, FW_ERR_INVALID, "expected an array of steps like [{\"when\": "
                    "\"...\"}, {\"followed_by\": \"...\"}], got %s",
                    fw_json_describe(v, got, sizeof(got)));
    size_t i = 0;
    FW_JSON_FOREACH(o, v) {
        char spath[176];
        snprintf(spath, sizeof(spath), "%s[%zu]", path, i);
        if (i >= FW_LANG_MAX_STEPS)
            return errf(c, spath, o, FW_ERR_LIMIT, "more than %d steps", FW_LANG_MAX_STEPS);
        if (o->type != FW_JSON_OBJECT)
            return errf(c, spath, o, FW_ERR_INVALID, "expected a step object, got %s",
                        fw_json_describe(o, got, sizeof(got)));
        fw_lang_step *st = &r->steps[i];
        const fw_json *pred = NULL;
        st->times = 1;
        st->times_param = -1;
        FW_JSON_FOREACH(m, o) {
            path_key(kpath, sizeof(kpath), spath, ".", m->key);
            int k = -1;
            for (int j = 0; j < (int)N(step_keys); j++)
                if (fw_str_eq_c(m->key, step_keys[j]))
                    k = j;
            if (k < 0)
                return errf(c, kpath, m, FW_ERR_INVALID, "unknown key in a step%s",
                            did_you_mean(m->key, step_keys, N(step_keys), hint, sizeof(hint)));
            if (k == 3) {
                int64_t t = 0;
                fw_err rc = FW_OK;
                int pi = param_ref(c, kpath, m, &rc);
                if (pi == -2)
                    return rc;
                if (pi >= 0) { /* "$count": the param's value, a whole number */
                    const fw_xval *pv = &r->params[pi].value;
                    if (pv->type == FW_XT_NUM && pv->u.num % FW_DEC_SCALE == 0)
                        t = pv->u.num / FW_DEC_SCALE;
                    if (t < 1 || t > FW_LANG_MAX_TIMES)
                        return errf(c, kpath, m, FW_ERR_INVALID, "param \"%s\" must be an "
                                    "integer between 1 and %d for \"times\"",
                                    r->params[pi].name, FW_LANG_MAX_TIMES);
                    st->times_param = pi;
                } else if (m->type != FW_JSON_NUMBER || !fw_json_int64(m, &t) || t < 1 ||
                           t > FW_LANG_MAX_TIMES) {
                    return errf(c, kpath, m, FW_ERR_INVALID, "expected an integer between 1 and "
                                "%d, got %s (or \"$param\" naming one)", FW_LANG_MAX_TIMES,
                                fw_json_describe(m, got, sizeof(got)));
                }
                st->times = (uint32_t)t;
                continue;
            }
            if (pred)
                return errf(c, kpath, m, FW_ERR_INVALID, "a step has one of \"when\", \"next\" "
                            "or \"followed_by\"");
            if ((k == 0) != (i == 0))
                return errf(c, kpath, m, FW_ERR_INVALID, i == 0 ? "the first step is "
                            "{\"when\": ...}" : "a later step is {\"next\": ...} (strict) or "
                            "{\"followed_by\": ...} (relaxed), not \"when\"");
            st->contig = (fw_lang_contig)k;
            pred = m;
        }
        if (!pred)
            return errf(c, spath, o, FW_ERR_INVALID, i == 0 ? "the first step needs \"when\"" :
                        "a step needs \"next\" or \"followed_by\"");
        r->nsteps = ++i; /* counted first: rule_fini frees a half-compiled step */
        fw_err rc = compile_member(c, spath, pred, FW_XT_BOOL, &st->src, &st->pred);
        if (rc != FW_OK)
            return rc;
    }
    return FW_OK;
}

/* A duration member (`"1h"` or "$param") between 1 ms and 30 days, named by its key. */
static fw_err load_duration_member(lctx *c, const char *rpath, const fw_json *m, int64_t *out,
                                   int *param) {
    char kpath[192];
    path_key(kpath, sizeof(kpath), rpath, ".", m->key);
    return load_duration(c, kpath, m, "1h", out, param);
}

/* A number written as a JSON number or as an expression string ("$points"). */
static fw_err compile_number(lctx *c, const char *rpath, const fw_json *m, char **src,
                             fw_expr **out) {
    char path[192], got[80];
    path_key(path, sizeof(path), rpath, ".", m->key);
    if (m->type != FW_JSON_NUMBER && m->type != FW_JSON_STRING)
        return errf(c, path, m, FW_ERR_INVALID, "expected a number or an expression like "
                    "\"$points\", got %s", fw_json_describe(m, got, sizeof(got)));
    if (!(*src = dupn(m->str.ptr, m->str.len)))
        return errf(c, path, NULL, FW_ERR_NOMEM, "out of memory");
    return compile(c, path, m->str.ptr, m->str.len, FW_XT_NUM, true, out);
}

/* Whether @p s holds @p word anywhere (a name the rule did not declare). */
static bool mentions(fw_str s, const char *word) {
    size_t n = strlen(word);
    for (size_t i = 0; i + n <= s.len; i++)
        if (!memcmp(s.ptr + i, word, n))
            return true;
    return false;
}

/* A score's "bands": [{"name": N, "each"|"if": P, "points": X}, ...]. `each`
 * sees the transaction and the slot avg_before; `if` the aggregates. */
static fw_err load_bands(lctx *c, const char *rpath, const fw_json *v) {
    char path[160], spath[176], kpath[192], got[80], hint[96];
    fw_lang_rule *r = c->r;
    snprintf(path, sizeof(path), "%s.bands", rpath);
    if (v->type != FW_JSON_ARRAY || !v->count)
        return errf(c, path, v, FW_ERR_INVALID, "expected an array of bands like [{\"name\": "
                    "\"large\", \"each\": \"amount > 1000\", \"points\": 10}], got %s",
                    fw_json_describe(v, got, sizeof(got)));
    size_t i = 0;
    FW_JSON_FOREACH(o, v) {
        snprintf(spath, sizeof(spath), "%s[%zu]", path, i);
        if (i >= FW_LANG_MAX_BANDS || 1 + i + 1 + r->naggs > FW_LANG_MAX_AGGS)
            return errf(c, spath, o, FW_ERR_LIMIT, "too many bands: a score rule has at most "
                        "%d values (score, bands and aggregates)", FW_LANG_MAX_AGGS);
        if (o->type != FW_JSON_OBJECT)
            return errf(c, spath, o, FW_ERR_INVALID, "expected a band object, got %s",
                        fw_json_describe(o, got, sizeof(got)));
        FW_JSON_FOREACH(m, o) {
            bool known = false;
            for (size_t k = 0; k < N(band_keys); k++)
                known = known || fw_str_eq_c(m->key, band_keys[k]);
            path_key(kpath, sizeof(kpath), spath, ".", m->key);
            if (!known)
                return errf(c, kpath, m, FW_ERR_INVALID, "unknown key in a band%s",
                            did_you_mean(m->key, band_keys, N(band_keys), hint, sizeof(hint)));
        }
        fw_lang_band *b = &r->bands[i];
        r->nbands = ++i; /* counted first: rule_fini frees a half-built band */
        const fw_json *name = fw_json_get(o, "name"), *each = fw_json_get(o, "each"),
                      *cond = fw_json_get(o, "if"), *pts = fw_json_get(o, "points"),
                      *sig = fw_json_get(o, "signal");
        b->signal = -1;
        bool ok_name = name && name->type == FW_JSON_STRING && name->str.len > 0 &&
                       name->str.len < 64;
        for (size_t k = 0; ok_name && k < name->str.len; k++) {
            char ch = name->str.ptr[k];
            ok_name = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
                      (k > 0 && ch >= '0' && ch <= '9');
        }
        if (!ok_name)
            return errf(c, spath, name ? name : o, FW_ERR_INVALID, "a band needs a \"name\" "
                        "(letters, digits, '_'), used in the alert's values and the reason");
        if (!(b->name = dupn(name->str.ptr, name->str.len)))
            return errf(c, spath, NULL, FW_ERR_NOMEM, "out of memory");
        bool taken = !strcmp(b->name, "score");
        for (size_t k = 0; k + 1 < r->nbands; k++)
            taken = taken || !strcmp(r->bands[k].name, b->name);
        for (size_t k = 0; k < r->naggs; k++)
            taken = taken || !strcmp(r->aggs[k].name, b->name);
        if (taken)
            return errf(c, spath, name, FW_ERR_INVALID, "band name \"%s\" is taken (by score, "
                        "another band or an aggregate)", b->name);
        if ((each != NULL) + (cond != NULL) + (sig != NULL) != 1)
            return errf(c, spath, o, FW_ERR_INVALID, "a band has one of \"each\" (a predicate "
                        "per transaction), \"if\" (a predicate over the aggregates) or "
                        "\"signal\" (an earlier rule's id)");
        if (!pts)
            return errf(c, spath, o, FW_ERR_INVALID, "a band needs \"points\", like 10 or "
                        "\"$points\"");
        b->each = each != NULL || sig != NULL;
        fw_err rc;
        if (sig) { /* an earlier rule of the same key: it alerts first in the same record */
            size_t self = (size_t)(r - c->rs->rules);
            const char *ids[FW_LANG_MAX_RULES];
            path_key(kpath, sizeof(kpath), spath, ".", sig->key);
            for (size_t k = 0; k < self && sig->type == FW_JSON_STRING; k++)
                if (fw_str_eq_c(sig->str, c->rs->rules[k].id))
                    b->signal = (int)k;
            if (b->signal < 0) {
                for (size_t k = 0; k < self; k++)
                    ids[k] = c->rs->rules[k].id;
                return errf(c, kpath, sig, FW_ERR_INVALID, "expected the id of a language rule "
                            "written before this one, got %s%s",
                            fw_json_describe(sig, got, sizeof(got)),
                            sig->type == FW_JSON_STRING ? did_you_mean(sig->str, ids, self, hint,
                                                                       sizeof(hint)) : "");
            }
            const fw_lang_rule *o2 = &c->rs->rules[b->signal];
            bool same = o2->ngroup == r->ngroup;
            for (size_t g = 0; same && g < r->ngroup; g++)
                same = !strcmp(o2->group_src[g], r->group_src[g]);
            if (!same)
                return errf(c, kpath, sig, FW_ERR_INVALID, "rule \"%s\" is grouped by other "
                            "fields: a signal is counted on the same key", o2->id);
            if (!(b->src = dupn(sig->str.ptr, sig->str.len)))
                return errf(c, spath, NULL, FW_ERR_NOMEM, "out of memory");
            if ((rc = compile_number(c, spath, pts, &b->points_src, &b->points)) != FW_OK)
                return rc;
            continue;
        }
        if (each && !r->avg && each->type == FW_JSON_STRING &&
            mentions(each->str, "avg_before"))
            return errf(c, spath, each, FW_ERR_INVALID, "avg_before needs the rule's "
                        "\"avg_before\": \"<expression>\", like \"amount\"");
        if (each) {
            c->slot[0] = (fw_expr_slot){ .name = "avg_before", .type = FW_XT_NUM };
            c->nslot_override = r->avg ? 1 : 0;
        } else {
            for (size_t a = 0; a < r->naggs; a++)
                c->slot[a] = (fw_expr_slot){ .name = r->aggs[a].name, .type = FW_XT_NUM };
            c->nslot_override = r->naggs;
        }
        c->slots = true;
        rc = compile_member(c, spath, each ? each : cond, FW_XT_BOOL, &b->src, &b->pred);
        c->slots = false;
        if (rc != FW_OK)
            return rc;
        if ((rc = compile_number(c, spath, pts, &b->points_src, &b->points)) != FW_OK)
            return rc;
    }
    return FW_OK;
}

/* Adds what @p x reads of the key's history (prev., is_new) to the rule. */
static fw_err note_history(lctx *c, const char *path, const fw_expr *x) {
    fw_lang_rule *r = c->r;
    fw_expr_uses u;
    if (!x)
        return FW_OK;
    fw_expr_uses_get(x, &u);
    r->prev_fields |= u.prev_fields;
    for (size_t i = 0; i < u.nis_new; i++) {
        fw_expr_is_new_site site;
        fw_expr_is_new_get(x, i, &site);
        int f = site.field >= 0 ? site.field : -2 - site.extra_slot;
        size_t j = 0;
        while (j < r->nseen && r->seen_field[j] != f)
            j++;
        if (j == r->nseen) {
            if (r->nseen == FW_LANG_MAX_SEEN)
                return errf(c, path, NULL, FW_ERR_LIMIT, "is_new about more than %d fields",
                            FW_LANG_MAX_SEEN);
            r->seen_field[r->nseen++] = f;
        }
        if (site.lookback_ms > r->seen_keep_ms)
            r->seen_keep_ms = site.lookback_ms;
    }
    return FW_OK;
}

/* "severity_by_score": [{"at": 80, "severity": "high"}, ...], ascending. */
static fw_err load_sev(lctx *c, const char *rpath, const fw_json *v) {
    char path[160], spath[176], got[80];
    fw_lang_rule *r = c->r;
    snprintf(path, sizeof(path), "%s.severity_by_score", rpath);
    if (v->type != FW_JSON_ARRAY || !v->count || v->count > FW_LANG_MAX_SEV)
        return errf(c, path, v, FW_ERR_INVALID, "expected 1 to %d steps like [{\"at\": 80, "
                    "\"severity\": \"high\"}], got %s", FW_LANG_MAX_SEV,
                    fw_json_describe(v, got, sizeof(got)));
    FW_JSON_FOREACH(o, v) {
        snprintf(spath, sizeof(spath), "%s[%zu]", path, r->nsev);
        const fw_json *at = o->type == FW_JSON_OBJECT ? fw_json_get(o, "at") : NULL;
        const fw_json *sv = o->type == FW_JSON_OBJECT ? fw_json_get(o, "severity") : NULL;
        fw_lang_sev *s = &r->sev[r->nsev];
        int sev = -1;
        for (int k = 0; k < FW_SEV__COUNT && sv && sv->type == FW_JSON_STRING; k++)
            if (fw_str_eq_c(sv->str, fw_severity_name((fw_severity)k)))
                sev = k;
        if (!at || at->type != FW_JSON_NUMBER || fw_dec_parse(at->str.ptr, at->str.len, &s->at) ||
            sev < 0 || o->count != 2)
            return errf(c, spath, o, FW_ERR_INVALID, "expected {\"at\": <number>, \"severity\": "
                        "\"low\"|\"medium\"|\"high\"|\"critical\"}, got %s",
                        fw_json_describe(o, got, sizeof(got)));
        if (r->nsev && s->at <= r->sev[r->nsev - 1].at)
            return errf(c, spath, at, FW_ERR_INVALID, "steps go up: \"at\" must be above the "
                        "previous step's");
        s->common = r->common; /* fixed up after the entry's common part is read */
        s->common.severity = (fw_severity)sev;
        r->nsev++;
    }
    return FW_OK;
}

static fw_err load_score(lctx *c, const char *path, const fw_json *e) {
    fw_lang_rule *r = c->r;
    const fw_json *m;
    char kpath[160], got[80];
    fw_err rc;
    if (!r->ngroup)
        return errf(c, path, e, FW_ERR_INVALID, "a score rule needs \"group_by\": a field or an "
                    "array of fields");
    if (!(m = fw_json_get(e, "window")))
        return errf(c, path, e, FW_ERR_INVALID, "a score rule needs \"window\", like \"1h\"");
    if ((rc = load_duration_member(c, path, m, &r->lookback_ms, &r->window_param)) != FW_OK)
        return rc;
    r->slide_ms = r->lookback_ms;
    r->slide_param = r->window_param; /* tumbling: written back as the window is */
    if ((m = fw_json_get(e, "slide"))) {
        if ((rc = load_duration_member(c, path, m, &r->slide_ms, &r->slide_param)) != FW_OK)
            return rc;
        snprintf(kpath, sizeof(kpath), "%s.slide", path);
        if (r->lookback_ms % r->slide_ms || r->lookback_ms / r->slide_ms > FW_LANG_MAX_WINDOWS)
            return errf(c, kpath, m, FW_ERR_INVALID, "the slide must divide the window, at most "
                        "%d slides per window", FW_LANG_MAX_WINDOWS);
    }
    r->memory_ms = 24 * 3600 * 1000LL;
    if ((m = fw_json_get(e, "memory")) && (rc = load_duration_member(c, path, m, &r->memory_ms,
                                                                &r->memory_param)) != FW_OK)
        return rc;
    if ((m = fw_json_get(e, "where")) &&
        (rc = compile_member(c, path, m, FW_XT_BOOL, &r->where_src, &r->where)) != FW_OK)
        return rc;
    if ((m = fw_json_get(e, "avg_before")) &&
        (rc = compile_member(c, path, m, FW_XT_NUM, &r->avg_src, &r->avg)) != FW_OK)
        return rc;
    if ((m = fw_json_get(e, "aggregates")) && (rc = load_aggs(c, path, m)) != FW_OK)
        return rc;
    if (!(m = fw_json_get(e, "bands")))
        return errf(c, path, e, FW_ERR_INVALID, "a score rule needs \"bands\", like [{\"name\": "
                    "\"large\", \"each\": \"amount > 1000\", \"points\": 10}]");
    if ((rc = load_bands(c, path, m)) != FW_OK)
        return rc;
    if (!(m = fw_json_get(e, "alert_at")))
        return errf(c, path, e, FW_ERR_INVALID, "a score rule needs \"alert_at\", like 50");
    if ((rc = compile_number(c, path, m, &r->alert_at_src, &r->alert_at)) != FW_OK)
        return rc;
    if ((m = fw_json_get(e, "episodes"))) {
        snprintf(kpath, sizeof(kpath), "%s.episodes", path);
        if (m->type != FW_JSON_BOOL)
            return errf(c, kpath, m, FW_ERR_INVALID, "expected true or false, got %s",
                        fw_json_describe(m, got, sizeof(got)));
        r->episodes = m->boolean;
    }
    if ((m = fw_json_get(e, "severity_by_score")) && (rc = load_sev(c, path, m)) != FW_OK)
        return rc;
    return FW_OK;
}

/* The aggregate's window: "lookback" (the last W before each transaction), or
 * "window" and "slide" (epoch-aligned [k*slide, k*slide + window), as the
 * built-in velocity's), and "consume". */
static fw_err load_window(lctx *c, const char *path, const fw_json *e) {
    char kpath[160], got[80];
    fw_lang_rule *r = c->r;
    static const char *const names[] = { "lookback", "window", "slide" };
    int64_t ms[3] = { 0, 0, 0 };
    int *pidx[3] = { &r->lookback_param, &r->window_param, &r->slide_param };
    for (int i = 0; i < 3; i++) {
        const fw_json *m = fw_json_get(e, names[i]);
        if (!m)
            continue;
        snprintf(kpath, sizeof(kpath), "%s.%s", path, names[i]);
        fw_err rc = load_duration(c, kpath, m, "1h", &ms[i], pidx[i]);
        if (rc != FW_OK)
            return rc;
    }
    const fw_json *w = fw_json_get(e, "window"), *sl = fw_json_get(e, "slide");
    if (ms[0] && ms[1]) {
        snprintf(kpath, sizeof(kpath), "%s.window", path);
        return errf(c, kpath, w, FW_ERR_INVALID, "an aggregate rule has \"lookback\" or "
                    "\"window\" (with \"slide\"), not both");
    }
    if (!ms[0] && !ms[1]) {
        if (sl) {
            snprintf(kpath, sizeof(kpath), "%s.slide", path);
            return errf(c, kpath, sl, FW_ERR_INVALID, "\"slide\" needs \"window\"");
        }
        return errf(c, path, e, FW_ERR_INVALID, "an aggregate rule needs \"lookback\", like "
                    "\"1h\", or \"window\" and \"slide\"");
    }
    if (ms[1]) {
        int64_t slide = ms[2] ? ms[2] : ms[1]; /* no slide: tumbling windows */
        snprintf(kpath, sizeof(kpath), "%s.slide", path);
        if (slide > ms[1] || ms[1] % slide)
            return errf(c, kpath, sl, FW_ERR_INVALID, "%" PRId64 "ms must divide the window "
                        "(%" PRId64 "ms) exactly", slide, ms[1]);
        if (ms[1] / slide > FW_LANG_MAX_PANES)
            return errf(c, kpath, sl, FW_ERR_INVALID, "the window (%" PRId64 "ms) is %" PRId64
                        " slides of %" PRId64 "ms; at most %d are allowed", ms[1], ms[1] / slide,
                        slide, FW_LANG_MAX_PANES);
        r->window_ms = ms[1];
        r->slide_ms = slide;
        if (!ms[2]) /* tumbling: the slide follows a "$window" when written back */
            r->slide_param = r->window_param;
    }
    r->lookback_ms = ms[0] ? ms[0] : ms[1];
    const fw_json *m = fw_json_get(e, "lookback_bound");
    if (m) {
        snprintf(kpath, sizeof(kpath), "%s.lookback_bound", path);
        bool open = m->type == FW_JSON_STRING && fw_str_eq_c(m->str, "exclusive");
        if (!open && !(m->type == FW_JSON_STRING && fw_str_eq_c(m->str, "inclusive")))
            return errf(c, kpath, m, FW_ERR_INVALID, "expected \"inclusive\" (a transaction "
                        "exactly the lookback older counts) or \"exclusive\" (it does not), "
                        "got %s", fw_json_describe(m, got, sizeof(got)));
        if (open && !ms[0])
            return errf(c, kpath, m, FW_ERR_INVALID, "\"exclusive\" applies to a \"lookback\"; "
                        "a window's bounds are fixed (start included, end excluded)");
        if (open && ms[0] < 2)
            return errf(c, kpath, m, FW_ERR_INVALID, "an exclusive lookback needs at least 2ms, "
                        "got %" PRId64 "ms", ms[0]);
        /* Event times are whole milliseconds: (t - W, t] is [t - (W - 1ms), t]. */
        r->lookback_open = open;
        r->lookback_ms -= open;
    }
    m = fw_json_get(e, "consume");
    if (m) {
        snprintf(kpath, sizeof(kpath), "%s.consume", path);
        if (m->type != FW_JSON_BOOL)
            return errf(c, kpath, m, FW_ERR_INVALID, "expected true or false, got %s",
                        fw_json_describe(m, got, sizeof(got)));
        r->consume = m->boolean;
    }
    return FW_OK;
}

/* prev. and is_new read the key's history: the rule keeps it per group_by
 * key, so it needs one, and an aggregate (whose state rules share) has none. */
static fw_err load_history(lctx *c, const char *path, const fw_json *e) {
    fw_lang_rule *r = c->r;
    char kpath[160];
    fw_err rc = FW_OK;
    const char *what = NULL;
    r->prev_within_ms = FW_LANG_PREV_WITHIN_MS;
    r->prev_within_param = -1;
    struct { const char *name; const fw_expr *x; } at[FW_LANG_MAX_STEPS + 3 + FW_LANG_MAX_ENTITY];
    size_t n = 0;
    at[n++] = (__typeof__(at[0])){ "when", r->when };
    at[n++] = (__typeof__(at[0])){ "where", r->where };
    at[n++] = (__typeof__(at[0])){ "having", r->having };
    for (size_t i = 0; i < r->nsteps; i++)
        at[n++] = (__typeof__(at[0])){ "steps", r->steps[i].pred };
    for (size_t i = 0; i < r->nentity; i++)
        at[n++] = (__typeof__(at[0])){ "entity", r->entity[i].id };
    for (size_t i = 0; i < n && rc == FW_OK; i++) {
        uint64_t had = r->prev_fields;
        size_t seen = r->nseen;
        snprintf(kpath, sizeof(kpath), "%s.%s", path, at[i].name);
        rc = note_history(c, kpath, at[i].x);
        if (!what && (r->prev_fields != had || r->nseen != seen))
            what = at[i].name;
    }
    for (size_t i = 0; i < r->ntpl && rc == FW_OK; i++)
        rc = note_history(c, path, r->tpl[i].field);
    if (rc != FW_OK)
        return rc;
    if (!what && (r->prev_fields || r->nseen))
        what = "reason";
    const fw_json *m = fw_json_get(e, "prev_within");
    if (m) {
        snprintf(kpath, sizeof(kpath), "%s.prev_within", path);
        if ((rc = load_duration(c, kpath, m, "1h", &r->prev_within_ms, &r->prev_within_param)) !=
            FW_OK)
            return rc;
    }
    if (!what)
        return FW_OK;
    snprintf(kpath, sizeof(kpath), "%s.%s", path, what);
    if (r->kind == FW_LANG_AGGREGATE)
        return errf(c, kpath, e, FW_ERR_INVALID, "prev. and is_new are for filter and sequence "
                    "rules (an aggregate's window already holds the key's history)");
    if (!r->ngroup)
        return errf(c, kpath, e, FW_ERR_INVALID, "prev. and is_new need \"group_by\": the key "
                    "whose previous transactions they read, like \"customer_id\"");
    if (r->prev_fields >> (FW_TXN_NFIELDS - FW_TXN_NFEATURES))
        return errf(c, kpath, e, FW_ERR_INVALID, "prev. keeps the named schema fields, not "
                    "v1..v28");
    return FW_OK;
}

/* A shipped definition (fw_lang_rules_builtins) takes its built-in's
 * enabled, shadow, severity, version and params from the fw_rules in force,
 * so the rules file, a rules-topic record and `eval --sweep` configure it as
 * they always have; the definition's own params are the documented defaults. */
static fw_err load_builtin_params(lctx *c, const char *path) {
    fw_rule_id id = fw_rule_by_name(c->r->id);
    fw_arena arena = { 0 };
    fw_buf b;
    fw_json *root;
    char jerr[256];
    if (id == FW_RULE__COUNT)
        return errf(c, path, NULL, FW_ERR_INVALID, "\"%s\" is no built-in rule", c->r->id);
    c->r->common = c->builtin->common[id];
    fw_buf_init(&b, 0);
    fw_err rc = fw_rules_write_rule_json(c->builtin, id, &b) ? FW_OK : FW_ERR_NOMEM;
    if (rc == FW_OK && !fw_arena_init(&arena, fw_json_arena_bound(b.len)))
        rc = FW_ERR_NOMEM;
    if (rc == FW_OK && (rc = fw_json_parse(b.data, b.len, &arena, &root, jerr, sizeof(jerr))) ==
                           FW_OK) {
        const fw_json *params = fw_json_get(root, "params");
        rc = params ? load_params(c, path, params) : FW_OK;
    } else {
        rc = errf(c, path, NULL, rc, "the built-in's parameters: %s",
                  rc == FW_ERR_NOMEM ? "out of memory" : jerr);
    }
    fw_arena_fini(&arena);
    fw_buf_fini(&b);
    return rc;
}

static fw_err load_entry(lctx *c, const fw_json *e, size_t idx) {
    char path[48], kpath[160], got[80], hint[96];
    fw_lang_rule *r = c->r;
    snprintf(path, sizeof(path), "rules[%zu]", idx);
    const fw_json *type = fw_json_get(e, "type");
    snprintf(kpath, sizeof(kpath), "%s.type", path);
    static const char *const kinds[] = { "filter", "aggregate", "sequence", "score" };
    int kind = -1;
    for (int i = 0; i < (int)N(kinds) && type->type == FW_JSON_STRING; i++)
        if (fw_str_eq_c(type->str, kinds[i]))
            kind = i;
    if (kind < 0)
        return errf(c, kpath, type, FW_ERR_INVALID, "expected \"filter\", \"aggregate\", "
                    "\"sequence\" or \"score\", got %s%s", fw_json_describe(type, got, sizeof(got)),
                    type->type == FW_JSON_STRING ? did_you_mean(type->str, kinds, N(kinds), hint, sizeof(hint)) : "");
    r->kind = (fw_lang_kind)kind;
    r->common = (fw_rule_common){ .enabled = true, .version = 1, .severity = FW_SEV_MEDIUM };
    r->lookback_param = r->window_param = r->slide_param = r->memory_param = -1;
    const char *const *keys = r->kind == FW_LANG_FILTER      ? filter_keys
                              : r->kind == FW_LANG_AGGREGATE ? aggregate_keys
                              : r->kind == FW_LANG_SCORE     ? score_keys
                                                             : sequence_keys;
    size_t nkeys = r->kind == FW_LANG_FILTER      ? N(filter_keys)
                   : r->kind == FW_LANG_AGGREGATE ? N(aggregate_keys)
                   : r->kind == FW_LANG_SCORE     ? N(score_keys)
                                                  : N(sequence_keys);
    FW_JSON_FOREACH(m, e) {
        bool known = false;
        for (size_t i = 0; i < nkeys; i++)
            known = known || fw_str_eq_c(m->key, keys[i]);
        if (!known) {
            path_key(kpath, sizeof(kpath), path, ".", m->key);
            return errf(c, kpath, m, FW_ERR_INVALID, "unknown key in a %s rule%s",
                        kinds[r->kind], did_you_mean(m->key, keys, nkeys, hint, sizeof(hint)));
        }
    }
    const fw_json *idv = fw_json_get(e, "id");
    snprintf(kpath, sizeof(kpath), "%s.id", path);
    if (!idv)
        return errf(c, path, e, FW_ERR_INVALID, "missing \"id\"");
    if (idv->type != FW_JSON_STRING || idv->str.len == 0 || idv->str.len >= FW_LANG_MAX_ID ||
        memchr(idv->str.ptr, '\0', idv->str.len))
        return errf(c, kpath, idv, FW_ERR_INVALID, "expected a rule id of 1 to %d bytes, got %s",
                    FW_LANG_MAX_ID - 1, fw_json_describe(idv, got, sizeof(got)));
    memcpy(r->id, idv->str.ptr, idv->str.len);
    for (size_t i = 0; i + 1 < c->rs->n; i++)
        if (!strcmp(c->rs->rules[i].id, r->id))
            return errf(c, kpath, idv, FW_ERR_INVALID, "rule \"%s\" is given twice", r->id);
    const fw_json *m;
    if ((m = fw_json_get(e, "enabled")) || (m = fw_json_get(e, "shadow"))) {
        FW_JSON_FOREACH(b, e) {
            if (!fw_str_eq_c(b->key, "enabled") && !fw_str_eq_c(b->key, "shadow"))
                continue;
            path_key(kpath, sizeof(kpath), path, ".", b->key);
            if (b->type != FW_JSON_BOOL)
                return errf(c, kpath, b, FW_ERR_INVALID, "expected true or false, got %s",
                            fw_json_describe(b, got, sizeof(got)));
            *(fw_str_eq_c(b->key, "enabled") ? &r->common.enabled : &r->common.shadow) = b->boolean;
        }
    }
    if ((m = fw_json_get(e, "backfill"))) { /* only in the stateful kinds' key tables */
        snprintf(kpath, sizeof(kpath), "%s.backfill", path);
        if (m->type != FW_JSON_BOOL)
            return errf(c, kpath, m, FW_ERR_INVALID, "expected true or false, got %s",
                        fw_json_describe(m, got, sizeof(got)));
        r->backfill = m->boolean;
    }
    if ((m = fw_json_get(e, "severity"))) {
        int sev = -1;
        for (int s = 0; s < FW_SEV__COUNT && m->type == FW_JSON_STRING; s++)
            if (fw_str_eq_c(m->str, fw_severity_name((fw_severity)s)))
                sev = s;
        snprintf(kpath, sizeof(kpath), "%s.severity", path);
        if (sev < 0)
            return errf(c, kpath, m, FW_ERR_INVALID, "expected \"low\", \"medium\", \"high\" or "
                        "\"critical\", got %s", fw_json_describe(m, got, sizeof(got)));
        r->common.severity = (fw_severity)sev;
    }
    if ((m = fw_json_get(e, "version"))) {
        int64_t v;
        snprintf(kpath, sizeof(kpath), "%s.version", path);
        if (m->type != FW_JSON_NUMBER || !fw_json_int64(m, &v) || v < 1 || v > INT32_MAX)
            return errf(c, kpath, m, FW_ERR_INVALID, "expected an integer between 1 and %d, got %s",
                        INT32_MAX, fw_json_describe(m, got, sizeof(got)));
        r->common.version = (int)v;
    }
    fw_err rc;
    if (c->builtin)
        rc = load_builtin_params(c, path);
    else
        rc = (m = fw_json_get(e, "params")) ? load_params(c, path, m) : FW_OK;
    if (rc != FW_OK)
        return rc;
    if ((m = fw_json_get(e, "group_by")) && (rc = load_group(c, path, m)) != FW_OK)
        return rc;
    if ((m = fw_json_get(e, "entity")) && (rc = load_entity(c, path, m)) != FW_OK)
        return rc;
    if (r->kind == FW_LANG_FILTER) {
        if (!(m = fw_json_get(e, "when")))
            return errf(c, path, e, FW_ERR_INVALID, "a filter rule needs \"when\": \"<predicate>\"");
        if ((rc = compile_member(c, path, m, FW_XT_BOOL, &r->when_src, &r->when)) != FW_OK)
            return rc;
    } else if (r->kind == FW_LANG_SCORE) {
        if ((rc = load_score(c, path, e)) != FW_OK)
            return rc;
        for (size_t i = 0; i < r->nsev; i++) { /* the steps share all but the severity */
            fw_severity sev = r->sev[i].common.severity;
            r->sev[i].common = r->common;
            r->sev[i].common.severity = sev;
        }
    } else if (r->kind == FW_LANG_SEQUENCE) {
        if (!r->ngroup)
            return errf(c, path, e, FW_ERR_INVALID, "a sequence rule needs \"group_by\": a field "
                        "or an array of fields");
        if (!(m = fw_json_get(e, "within")))
            return errf(c, path, e, FW_ERR_INVALID, "a sequence rule needs \"within\", like \"30m\"");
        snprintf(kpath, sizeof(kpath), "%s.within", path);
        if ((rc = load_duration(c, kpath, m, "30m", &r->lookback_ms, &r->lookback_param)) != FW_OK)
            return rc;
        if ((m = fw_json_get(e, "where")) &&
            (rc = compile_member(c, path, m, FW_XT_BOOL, &r->where_src, &r->where)) != FW_OK)
            return rc;
        if ((m = fw_json_get(e, "after_match"))) {
            snprintf(kpath, sizeof(kpath), "%s.after_match", path);
            if (m->type == FW_JSON_STRING && fw_str_eq_c(m->str, "no_skip"))
                r->no_skip = true;
            else if (!(m->type == FW_JSON_STRING && fw_str_eq_c(m->str, "skip_past_last")))
                return errf(c, kpath, m, FW_ERR_INVALID, "expected \"skip_past_last\" (a match "
                            "consumes every partial match of its key) or \"no_skip\" (only "
                            "itself), got %s", fw_json_describe(m, got, sizeof(got)));
        }
        if (!(m = fw_json_get(e, "steps")))
            return errf(c, path, e, FW_ERR_INVALID, "a sequence rule needs \"steps\", like "
                        "[{\"when\": \"...\"}, {\"next\": \"...\"}]");
        if ((rc = load_steps(c, path, m)) != FW_OK)
            return rc;
    } else {
        if (!r->ngroup)
            return errf(c, path, e, FW_ERR_INVALID, "an aggregate rule needs \"group_by\": a field "
                        "or an array of fields");
        if ((rc = load_window(c, path, e)) != FW_OK)
            return rc;
        if ((m = fw_json_get(e, "where")) &&
            (rc = compile_member(c, path, m, FW_XT_BOOL, &r->where_src, &r->where)) != FW_OK)
            return rc;
        if (!(m = fw_json_get(e, "aggregates")))
            return errf(c, path, e, FW_ERR_INVALID, "an aggregate rule needs \"aggregates\", like "
                        "{\"count\": \"count\"}");
        if ((rc = load_aggs(c, path, m)) != FW_OK)
            return rc;
        if (!(m = fw_json_get(e, "having")))
            return errf(c, path, e, FW_ERR_INVALID, "an aggregate rule needs \"having\", like "
                        "\"count >= 3\"");
        for (size_t i = 0; i < r->naggs; i++)
            c->slot[i] = (fw_expr_slot){ .name = r->aggs[i].name, .type = FW_XT_NUM };
        c->slots = true;
        rc = compile_member(c, path, m, FW_XT_BOOL, &r->having_src, &r->having);
        c->slots = false;
        if (rc != FW_OK)
            return rc;
    }
    if ((m = fw_json_get(e, "reason")) && (rc = load_reason(c, path, m)) != FW_OK)
        return rc;
    return load_history(c, path, e);
}

fw_err fw_lang_rules_parse_json(const char *json, size_t n, const fw_rules *base,
                                fw_lang_rules **out, char *errstr, size_t errstr_size) {
    return fw_lang_rules_parse_json_ex(json, n, base, 0, out, errstr, errstr_size);
}

/* A shipped definition that this set's own rule of the same id, or the
 * built-in being disabled, leaves out. */
static bool builtin_left_out(const lctx *c, const fw_json *e) {
    const fw_json *id = fw_json_get(e, "id");
    if (!c->builtin || !id || id->type != FW_JSON_STRING)
        return false;
    for (size_t i = 0; c->skip && i < c->skip->n; i++)
        if (fw_str_eq_c(id->str, c->skip->rules[i].id))
            return true;
    for (int r = 0; r < FW_RULE__COUNT; r++)
        if (fw_str_eq_c(id->str, fw_rule_name((fw_rule_id)r)))
            return !c->builtin->common[r].enabled;
    return false;
}

static fw_err parse_doc(lctx c, const char *json, size_t n, const fw_rules *base, unsigned flags,
                        fw_lang_rules **out);

fw_err fw_lang_rules_parse_json_ex(const char *json, size_t n, const fw_rules *base,
                                   unsigned flags, fw_lang_rules **out, char *errstr,
                                   size_t errstr_size) {
    lctx c = { .err = errstr, .err_size = errstr_size,
               .open_lists = (flags & FW_LANG_OPEN_LISTS) != 0 };
    return parse_doc(c, json, n, base, flags, out);
}

fw_err fw_lang_rules_builtins(const fw_rules *r, const fw_lang_rules *except,
                              fw_lang_rules **out, char *errstr, size_t errstr_size) {
    lctx c = { .err = errstr, .err_size = errstr_size, .builtin = r, .skip = except };
    char inner[768];
    fw_err rc = parse_doc(c, fw_builtin_rules_json, fw_builtin_rules_json_len, r, 0, out);
    if (rc != FW_OK && errstr && errstr_size) { /* a fault of the build, or memory */
        snprintf(inner, sizeof(inner), "%s", errstr);
        snprintf(errstr, errstr_size, "rules/builtin-rules.json: %s", inner);
    }
    return rc;
}

/* Early firing: an aggregate over aligned windows is judged on arrival when
 * no later-arriving event can undo its alert. Its windows only gain events
 * (no consume, no prev or is_new, which need the exact order), and its
 * having, once true, stays true as they do: counts, distinct counts, maxima
 * and sums of amounts (never negative) only rise, minima only fall. */
static bool fires_early(const fw_lang_rule *r) {
    if (r->kind != FW_LANG_AGGREGATE || !r->window_ms || r->consume || r->backfill ||
        r->prev_fields || r->nseen || !r->having)
        return false;
    int8_t dir[FW_LANG_MAX_AGGS] = { 0 };
    for (size_t a = 0; a < r->naggs; a++) {
        const fw_lang_agg *g = &r->aggs[a];
        dir[a] = g->fn == FW_LANG_COUNT || g->fn == FW_LANG_COUNT_DISTINCT ||
                         g->fn == FW_LANG_MAX || (g->fn == FW_LANG_SUM && fw_expr_is_amount(g->arg))
                     ? 1
                 : g->fn == FW_LANG_MIN ? -1
                                        : 0;
    }
    return fw_expr_holds_once_true(r->having, dir, r->naggs);
}

static fw_err parse_doc(lctx c, const char *json, size_t n, const fw_rules *base, unsigned flags,
                        fw_lang_rules **out) {
    char *errstr = c.err;
    size_t errstr_size = c.err_size;
    fw_arena arena = { 0 };
    fw_json *root;
    char jerr[512];
    fw_err rc = FW_OK;
    *out = NULL;
    if (errstr && errstr_size)
        errstr[0] = '\0';
    size_t max = flags & FW_LANG_LARGE_DOC ? FW_LANG_MAX_DOC_BYTES : FW_RULES_MAX_BYTES;
    if (n > max)
        return errf(&c, "document", NULL, FW_ERR_LIMIT, "%zu bytes, above the %zu a rules file "
                    "may have", n, max);
    c.rs = calloc(1, sizeof(*c.rs));
    if (!c.rs || !fw_arena_init(&arena, fw_json_arena_bound(n))) {
        rc = errf(&c, "document", NULL, FW_ERR_NOMEM, "out of memory");
        goto out;
    }
    c.rs->dedupe_window_ms = base->time.dedupe_window_ms;
    c.rs->allowed_lateness_ms = base->time.allowed_lateness_ms;
    c.rs->max_out_of_orderness_ms = base->time.max_out_of_orderness_ms;
    c.rs->early_firing = base->time.early_firing;
    c.rs->max_window_events = base->limits.max_window_events;
    c.rs->max_keys = base->limits.max_entities;
    if ((rc = fw_json_parse(json, n, &arena, &root, jerr, sizeof(jerr))) != FW_OK) {
        errf(&c, "document", NULL, rc, "invalid JSON: %s", jerr);
        goto out;
    }
    if ((rc = load_lists(&c, fw_json_get(root, "lists"))) != FW_OK)
        goto out;
    const fw_json *rules = fw_json_get(root, "rules");
    size_t count = 0, idx = 0;
    FW_JSON_FOREACH(e, rules)
        count += fw_json_get(e, "type") != NULL && !builtin_left_out(&c, e);
    if (count > FW_LANG_MAX_RULES) {
        rc = errf(&c, "rules", rules, FW_ERR_LIMIT, "%zu language rules, above the %d a rules "
                  "file may have", count, FW_LANG_MAX_RULES);
        goto out;
    }
    if (count && !(c.rs->rules = calloc(count, sizeof(*c.rs->rules)))) {
        rc = errf(&c, "rules", NULL, FW_ERR_NOMEM, "out of memory");
        goto out;
    }
    FW_JSON_FOREACH(e, rules) {
        if (e->type == FW_JSON_OBJECT && fw_json_get(e, "type") && !builtin_left_out(&c, e)) {
            c.r = &c.rs->rules[c.rs->n++];
            if ((rc = load_entry(&c, e, idx)) != FW_OK)
                goto out;
        }
        idx++;
    }
    for (size_t i = 0; c.rs && i < c.rs->n; i++) {
        fw_lang_rule *r = &c.rs->rules[i];
        r->early = c.rs->early_firing && fires_early(r);
        if (fw_lang_rule_on_arrival(r))
            c.rs->uses_profile_on_arrival = c.rs->uses_profile_on_arrival || r->uses_profile;
        else
            c.rs->uses_profile_in_order = c.rs->uses_profile_in_order || r->uses_profile;
    }
out:
    fw_arena_fini(&arena);
    if (rc != FW_OK) {
        fw_lang_rules_destroy(c.rs);
        return rc;
    }
    *out = c.rs;
    return FW_OK;
}

fw_err fw_lang_rules_load_file(const char *path, const fw_rules *base, fw_lang_rules **out,
                               char *errstr, size_t errstr_size) {
    char inner[768];
    fw_err rc = FW_ERR_IO;
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "%s: cannot open: %s", path, strerror(errno));
        return FW_ERR_IO;
    }
    char *buf = malloc(FW_RULES_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, FW_RULES_MAX_BYTES + 1, f) : 0;
    if (!buf || ferror(f)) {
        rc = buf ? FW_ERR_IO : FW_ERR_NOMEM;
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "%s: cannot read", path);
        goto out;
    }
    rc = fw_lang_rules_parse_json(buf, n, base, out, inner, sizeof(inner));
    if (rc != FW_OK && errstr && errstr_size)
        snprintf(errstr, errstr_size, "%s: %s", path, inner);
out:
    free(buf);
    fclose(f);
    return rc;
}

static void rule_fini(fw_lang_rule *r) {
    for (size_t i = 0; i < r->nparams; i++) {
        free((char *)r->params[i].name);
        free(r->param_json[i]);
        free(r->param_text[i]);
    }
    for (size_t i = 0; i < r->ngroup; i++) {
        free(r->group_src[i]);
        fw_expr_destroy(r->group[i]);
    }
    for (size_t i = 0; i < r->naggs; i++) {
        free(r->aggs[i].name);
        free(r->aggs[i].of);
        free(r->aggs[i].where_src);
        fw_expr_destroy(r->aggs[i].arg);
        fw_expr_destroy(r->aggs[i].where);
    }
    for (size_t i = 0; i < r->nbands; i++) {
        free(r->bands[i].name);
        free(r->bands[i].src);
        free(r->bands[i].points_src);
        fw_expr_destroy(r->bands[i].pred);
        fw_expr_destroy(r->bands[i].points);
    }
    free(r->alert_at_src);
    fw_expr_destroy(r->alert_at);
    free(r->avg_src);
    fw_expr_destroy(r->avg);
    for (size_t i = 0; i < r->nentity; i++) {
        free(r->entity[i].id_src);
        fw_expr_destroy(r->entity[i].id);
    }
    for (size_t i = 0; i < r->ntpl; i++)
        fw_expr_destroy(r->tpl[i].field);
    free(r->tpl);
    free(r->reason);
    free(r->when_src);
    free(r->where_src);
    free(r->having_src);
    for (size_t i = 0; i < r->nsteps; i++) {
        free(r->steps[i].src);
        fw_expr_destroy(r->steps[i].pred);
    }
    fw_expr_destroy(r->when);
    fw_expr_destroy(r->where);
    fw_expr_destroy(r->having);
}

fw_lang_rules *fw_lang_rules_join(const fw_lang_rules *a, const fw_lang_rules *b) {
    size_t na = a ? a->n : 0, nb = b ? b->n : 0;
    fw_lang_rules *j = calloc(1, sizeof(*j));
    if (!j || (na + nb && !(j->rules = calloc(na + nb, sizeof(*j->rules))))) {
        free(j);
        return NULL;
    }
    const fw_lang_rules *first = a ? a : b;
    if (first) { /* lists, extras and limits: a's (b has no lists and no extras) */
        fw_lang_rule *rules = j->rules;
        *j = *first;
        j->rules = rules;
    }
    j->n = 0;
    for (size_t i = 0; i < na; i++)
        j->rules[j->n++] = a->rules[i];
    for (size_t i = 0; i < nb; i++)
        j->rules[j->n++] = b->rules[i];
    if (a && b) {
        j->uses_profile = a->uses_profile || b->uses_profile;
        j->uses_profile_on_arrival = a->uses_profile_on_arrival || b->uses_profile_on_arrival;
        j->uses_profile_in_order = a->uses_profile_in_order || b->uses_profile_in_order;
    }
    j->borrowed = true;
    return j;
}

void fw_lang_rules_destroy(fw_lang_rules *rs) {
    if (!rs)
        return;
    if (rs->borrowed) {
        free(rs->rules);
        free(rs);
        return;
    }
    for (size_t i = 0; i < rs->n; i++)
        rule_fini(&rs->rules[i]);
    for (size_t i = 0; i < rs->nextra; i++)
        free(rs->extra_names[i]);
    for (size_t i = 0; i < rs->nlists; i++) {
        free(rs->lists[i].name);
        free(rs->lists[i].values);
        free(rs->lists[i].storage);
    }
    free(rs->rules);
    free(rs);
}

const char *fw_lang_kind_name(fw_lang_kind kind) {
    static const char *const names[] = { [FW_LANG_FILTER] = "filter",
                                         [FW_LANG_AGGREGATE] = "aggregate",
                                         [FW_LANG_SEQUENCE] = "sequence",
                                         [FW_LANG_SCORE] = "score" };
    return (unsigned)kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "unknown";
}

const fw_lang_rule *fw_lang_rules_find(const fw_lang_rules *rs, const char *id) {
    for (size_t i = 0; rs && i < rs->n; i++)
        if (!strcmp(rs->rules[i].id, id))
            return &rs->rules[i];
    return NULL;
}

static bool put_str(fw_buf *b, const char *s) { return fw_buf_json_str(b, fw_str_c(s)); }

/* `,\n<in>  "key": "<duration>"` (@p in NULL: `, "key": ...` on the same
 * line): "$name" when a param gives it (so a sweep or a param change still
 * reaches it), else its value. */
static bool put_dur(fw_buf *b, const char *in, const char *key, const fw_lang_rule *r,
                    int param, int64_t ms) {
    char dur[32];
    if (param < 0 && fw_rules_duration_format(ms, dur, sizeof(dur)) <= 0)
        return false;
    return fw_buf_printf(b, in ? ",\n%s  \"%s\": \"%s%s\"" : "%s, \"%s\": \"%s%s\"",
                         in ? in : "", key, param >= 0 ? "$" : "",
                         param >= 0 ? r->params[param].name : dur);
}

bool fw_lang_rules_write_json(const fw_lang_rules *rs, fw_buf *b, const char *in) {
    bool ok = true;
    for (size_t i = 0; i < rs->n && ok; i++) {
        const fw_lang_rule *r = &rs->rules[i];
        char dur[32];
        ok = fw_buf_printf(b, "%s%s{\n%s  \"id\": ", i ? ",\n" : "", i ? in : "", in) && put_str(b, r->id) &&
             fw_buf_printf(b, ",\n%s  \"type\": \"%s\",\n%s  \"enabled\": %s,\n%s  \"shadow\": %s,\n"
                           "%s  \"severity\": \"%s\",\n%s  \"version\": %d", in,
                           fw_lang_kind_name(r->kind), in,
                           r->common.enabled ? "true" : "false", in,
                           r->common.shadow ? "true" : "false", in,
                           fw_severity_name(r->common.severity), in, r->common.version);
        if (ok && r->nparams) {
            ok = fw_buf_printf(b, ",\n%s  \"params\": {", in);
            for (size_t p = 0; p < r->nparams && ok; p++) {
                ok = fw_buf_puts(b, p ? ", " : " ") && put_str(b, r->params[p].name) &&
                     fw_buf_puts(b, ": ") &&
                     (r->param_text[p] ? put_str(b, r->param_text[p])
                                       : fw_buf_puts(b, r->param_json[p]));
            }
            ok = ok && fw_buf_puts(b, " }");
        }
        if (ok && r->ngroup) {
            ok = fw_buf_printf(b, ",\n%s  \"group_by\": %s", in, r->group_is_array ? "[" : "");
            for (size_t g = 0; g < r->ngroup && ok; g++)
                ok = fw_buf_puts(b, g ? ", " : "") && put_str(b, r->group_src[g]);
            ok = ok && fw_buf_puts(b, r->group_is_array ? "]" : "");
        }
        if (ok && r->nentity && !r->entity_is_array)
            ok = fw_buf_printf(b, ",\n%s  \"entity\": ", in) && put_str(b, r->entity[0].type);
        for (size_t j = 0; ok && r->entity_is_array && j < r->nentity; j++)
            ok = fw_buf_printf(b, j ? ", " : ",\n%s  \"entity\": [", in) &&
                 fw_buf_puts(b, "{ \"type\": ") && put_str(b, r->entity[j].type) &&
                 fw_buf_puts(b, ", \"id\": ") && put_str(b, r->entity[j].id_src) &&
                 fw_buf_puts(b, j + 1 == r->nentity ? " }]" : " }");
        if (ok && r->when_src)
            ok = fw_buf_printf(b, ",\n%s  \"when\": ", in) && put_str(b, r->when_src);
        if (ok && r->kind == FW_LANG_SEQUENCE) {
            static const char *const how[] = { "when", "next", "followed_by" };
            ok = put_dur(b, in, "within", r, r->lookback_param, r->lookback_ms);
            if (ok && r->where_src)
                ok = fw_buf_printf(b, ",\n%s  \"where\": ", in) && put_str(b, r->where_src);
            if (ok && r->no_skip)
                ok = fw_buf_printf(b, ",\n%s  \"after_match\": \"no_skip\"", in);
            ok = ok && fw_buf_printf(b, ",\n%s  \"steps\": [", in);
            for (size_t j = 0; j < r->nsteps && ok; j++) {
                const fw_lang_step *sp = &r->steps[j];
                ok = fw_buf_printf(b, "%s\n%s    { \"%s\": ", j ? "," : "", in, how[sp->contig]) &&
                     put_str(b, sp->src) &&
                     (sp->times_param >= 0
                          ? fw_buf_printf(b, ", \"times\": \"$%s\"", r->params[sp->times_param].name)
                          : sp->times == 1 || fw_buf_printf(b, ", \"times\": %u", sp->times)) &&
                     fw_buf_puts(b, " }");
            }
            ok = ok && fw_buf_printf(b, "\n%s  ]", in);
        }
        if (ok && r->kind == FW_LANG_SCORE) {
            ok = put_dur(b, in, "window", r, r->window_param, r->lookback_ms) &&
                 put_dur(b, in, "slide", r, r->slide_param, r->slide_ms) &&
                 put_dur(b, in, "memory", r, r->memory_param, r->memory_ms);
            if (ok && r->where_src)
                ok = fw_buf_printf(b, ",\n%s  \"where\": ", in) && put_str(b, r->where_src);
            if (ok && r->avg_src)
                ok = fw_buf_printf(b, ",\n%s  \"avg_before\": ", in) && put_str(b, r->avg_src);
            if (ok && r->naggs) {
                ok = fw_buf_printf(b, ",\n%s  \"aggregates\": {", in);
                for (size_t a = 0; a < r->naggs && ok; a++) {
                    const fw_lang_agg *g = &r->aggs[a];
                    ok = fw_buf_puts(b, a ? ", " : " ") && put_str(b, g->name) &&
                         fw_buf_puts(b, ": ");
                    if (ok && g->where_src)
                        ok = fw_buf_puts(b, "{ \"of\": ") && put_str(b, g->of) &&
                             fw_buf_puts(b, ", \"where\": ") && put_str(b, g->where_src) &&
                             fw_buf_puts(b, " }");
                    else if (ok)
                        ok = put_str(b, g->of);
                }
                ok = ok && fw_buf_puts(b, " }");
            }
            ok = ok && fw_buf_printf(b, ",\n%s  \"bands\": [", in);
            for (size_t j = 0; j < r->nbands && ok; j++) {
                const fw_lang_band *bd = &r->bands[j];
                ok = fw_buf_printf(b, "%s\n%s    { \"name\": ", j ? "," : "", in) &&
                     put_str(b, bd->name) &&
                     fw_buf_printf(b, ", \"%s\": ", bd->signal >= 0 ? "signal"
                                                     : bd->each       ? "each"
                                                                      : "if") &&
                     put_str(b, bd->src) && fw_buf_puts(b, ", \"points\": ") &&
                     put_str(b, bd->points_src) && fw_buf_puts(b, " }");
            }
            ok = ok && fw_buf_printf(b, "\n%s  ],\n%s  \"alert_at\": ", in, in) &&
                 put_str(b, r->alert_at_src) &&
                 fw_buf_printf(b, ",\n%s  \"episodes\": %s", in, r->episodes ? "true" : "false");
            if (ok && r->nsev) {
                ok = fw_buf_printf(b, ",\n%s  \"severity_by_score\": [", in);
                for (size_t j = 0; j < r->nsev && ok; j++) {
                    char at[FW_DEC_STR_MAX];
                    fw_dec_format(r->sev[j].at, at, sizeof(at));
                    ok = fw_buf_printf(b, "%s{ \"at\": %s, \"severity\": \"%s\" }",
                                       j ? ", " : " ", at,
                                       fw_severity_name(r->sev[j].common.severity));
                }
                ok = ok && fw_buf_puts(b, " ]");
            }
        }
        if (ok && r->kind == FW_LANG_AGGREGATE) {
            ok = r->window_ms ? put_dur(b, in, "window", r, r->window_param, r->window_ms) &&
                                    put_dur(b, NULL, "slide", r, r->slide_param, r->slide_ms)
                              : put_dur(b, in, "lookback", r, r->lookback_param,
                                        r->lookback_ms + r->lookback_open);
            if (ok && r->lookback_open)
                ok = fw_buf_printf(b, ",\n%s  \"lookback_bound\": \"exclusive\"", in);
            if (ok && r->consume)
                ok = fw_buf_printf(b, ",\n%s  \"consume\": true", in);
            if (ok && r->where_src)
                ok = fw_buf_printf(b, ",\n%s  \"where\": ", in) && put_str(b, r->where_src);
            ok = ok && fw_buf_printf(b, ",\n%s  \"aggregates\": {", in);
            for (size_t a = 0; a < r->naggs && ok; a++) {
                const fw_lang_agg *g = &r->aggs[a];
                ok = fw_buf_printf(b, "%s\n%s    ", a ? "," : "", in) && put_str(b, g->name) &&
                     fw_buf_puts(b, ": ");
                if (ok && g->where_src)
                    ok = fw_buf_puts(b, "{ \"of\": ") && put_str(b, g->of) &&
                         fw_buf_puts(b, ", \"where\": ") && put_str(b, g->where_src) &&
                         fw_buf_puts(b, " }");
                else if (ok)
                    ok = put_str(b, g->of);
            }
            ok = ok && fw_buf_printf(b, "\n%s  },\n%s  \"having\": ", in, in) &&
                 put_str(b, r->having_src);
        }
        if (ok && r->prev_fields && r->prev_within_param >= 0)
            ok = fw_buf_printf(b, ",\n%s  \"prev_within\": \"$%s\"", in,
                               r->params[r->prev_within_param].name);
        else if (ok && r->prev_fields && r->prev_within_ms != FW_LANG_PREV_WITHIN_MS)
            ok = fw_rules_duration_format(r->prev_within_ms, dur, sizeof(dur)) > 0 &&
                 fw_buf_printf(b, ",\n%s  \"prev_within\": \"%s\"", in, dur);
        if (ok && r->backfill)
            ok = fw_buf_printf(b, ",\n%s  \"backfill\": true", in);
        if (ok && r->reason)
            ok = fw_buf_printf(b, ",\n%s  \"reason\": ", in) && put_str(b, r->reason);
        ok = ok && fw_buf_printf(b, "\n%s}", in);
    }
    return ok && !b->overflow;
}
