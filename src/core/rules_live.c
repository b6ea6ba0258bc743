/* rules_live.c — one control-topic record at a time onto the rule set in
 * force, and the plan of a push (rules_live.h). The entry goes through the
 * rules file parser, so a live rule obeys exactly what a file's does. */
#include "rules_live.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "rules_file.h"

static const char doc_open[] = "{\"rules\":[";
static const char doc_close[] = "]}";

/* The entry's "id" must be the record's key: a record filed under one rule
 * must not change another. */
static fw_err check_id(const char *value, size_t len, fw_rule_id id, char *errstr,
                       size_t errstr_size) {
    fw_arena arena = { 0 };
    fw_json *root;
    char jerr[300];
    fw_err rc;
    if (!fw_arena_init(&arena, fw_json_arena_bound(len))) {
        snprintf(errstr, errstr_size, "out of memory for a %zu-byte rule", len);
        return FW_ERR_NOMEM;
    }
    rc = fw_json_parse(value, len, &arena, &root, jerr, sizeof(jerr));
    if (rc != FW_OK) {
        snprintf(errstr, errstr_size, "invalid JSON: %s", jerr);
        goto out;
    }
    const fw_json *idv = root->type == FW_JSON_OBJECT ? fw_json_get(root, "id") : NULL;
    if (idv && idv->type == FW_JSON_STRING && !fw_str_eq_c(idv->str, fw_rule_name(id))) {
        snprintf(errstr, errstr_size, "id: \"%.*s\" is not the record's key \"%s\"",
                 (int)(idv->str.len > 64 ? 64 : idv->str.len), idv->str.ptr, fw_rule_name(id));
        rc = FW_ERR_INVALID;
    }
    /* Other faults (not an object, no id) are the loader's to name. */
out:
    fw_arena_fini(&arena);
    return rc;
}

fw_err fw_rules_live_apply(fw_rules *live, const fw_rules *base, fw_str key, const char *value,
                           size_t len, fw_rule_id *id, char *errstr, size_t errstr_size) {
    char name[64];
    fw_err rc;
    *id = FW_RULE__COUNT;
    if (errstr_size)
        errstr[0] = '\0';
    if (key.len == 0 || key.len >= sizeof(name)) {
        snprintf(errstr, errstr_size, "key: expected a rule id, got %zu bytes", key.len);
        return FW_ERR_INVALID;
    }
    memcpy(name, key.ptr, key.len);
    name[key.len] = '\0';
    *id = fw_rule_by_name(name);
    if (*id == FW_RULE__COUNT) {
        snprintf(errstr, errstr_size, "key: unknown rule \"%s\"", name);
        return FW_ERR_INVALID;
    }
    if (!value) {
        fw_rules_copy_rule(live, base, *id);
        return FW_OK;
    }
    if (len > FW_RULES_MAX_BYTES - sizeof(doc_open) - sizeof(doc_close)) {
        snprintf(errstr, errstr_size, "value: %zu bytes, above the %zu a rule may have", len,
                 FW_RULES_MAX_BYTES);
        return FW_ERR_INVALID;
    }
    if ((rc = check_id(value, len, *id, errstr, errstr_size)) != FW_OK)
        return rc;
    /* The entry as a one-rule document over the base rule. Not a hot path:
     * rules change a few times a day. */
    size_t n = sizeof(doc_open) - 1 + len + sizeof(doc_close) - 1;
    char *doc = malloc(n);
    if (!doc) {
        snprintf(errstr, errstr_size, "out of memory for a %zu-byte rule", len);
        return FW_ERR_NOMEM;
    }
    memcpy(doc, doc_open, sizeof(doc_open) - 1);
    memcpy(doc + sizeof(doc_open) - 1, value, len);
    memcpy(doc + sizeof(doc_open) - 1 + len, doc_close, sizeof(doc_close) - 1);
    fw_rules *tmp = malloc(sizeof(*tmp));
    if (!tmp) {
        free(doc);
        snprintf(errstr, errstr_size, "out of memory for a rule set");
        return FW_ERR_NOMEM;
    }
    *tmp = *live;
    fw_rules_copy_rule(tmp, base, *id);
    rc = fw_rules_parse_json(tmp, doc, n, errstr, errstr_size);
    if (rc == FW_OK && tmp->common[*id].version <= live->common[*id].version) {
        snprintf(errstr, errstr_size, "version %d does not increase (version %d runs)",
                 tmp->common[*id].version, live->common[*id].version);
        rc = FW_ERR_INVALID;
    }
    if (rc == FW_OK)
        fw_rules_copy_rule(live, tmp, *id);
    else if (rc == FW_ERR_LIMIT)
        rc = FW_ERR_INVALID;
    free(tmp);
    free(doc);
    return rc;
}

bool fw_rules_live_differs(const fw_rules *a, const fw_rules *b, fw_rule_id id) {
    const fw_rule_common *x = &a->common[id], *y = &b->common[id];
    return !fw_rules_params_equal(a, b, id) || x->enabled != y->enabled ||
           x->shadow != y->shadow || x->severity != y->severity;
}

int fw_rules_live_plan(const fw_rules *live, fw_rules *want, bool changed[FW_RULE__COUNT]) {
    int n = 0;
    for (int i = 0; i < FW_RULE__COUNT; i++) {
        changed[i] = fw_rules_live_differs(live, want, (fw_rule_id)i);
        if (!changed[i])
            continue;
        n++;
        if (want->common[i].version <= live->common[i].version &&
            live->common[i].version < INT_MAX)
            want->common[i].version = live->common[i].version + 1;
    }
    return n;
}
