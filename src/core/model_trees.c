/* model_trees.c — reads XGBoost's JSON trees and walks them (model_trees.h). */
#include "model_trees.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define FW_TREES_MAX_DEPTH 64 /* deeper trees are scored by XGBoost */

/* A node's children are side by side (right = left + 1), so a step is one
 * compare and an add; a leaf keeps its value in cond and points at itself,
 * so a walk can take a fixed number of steps without a branch. */
typedef struct tnode {
    float cond;
    uint32_t left;
    uint16_t feat;
    uint8_t dflt_right; /* a missing value goes right */
    uint8_t leaf;
} tnode;

struct fw_trees {
    tnode *nodes;
    uint32_t *root;   /* each tree's first node */
    uint8_t *depth;   /* each tree's longest path: its walk takes that many steps */
    size_t ntrees, nnodes, nfeatures;
    float base_margin;
};

void fw_trees_free(fw_trees *t) {
    if (!t)
        return;
    free(t->nodes);
    free(t->root);
    free(t->depth);
    free(t);
}

static const fw_json *path(const fw_json *v, const char *const *keys) {
    for (; v && *keys; keys++)
        v = fw_json_get(v, *keys);
    return v;
}

static bool is_str(const fw_json *v, const char *s) {
    return v && v->type == FW_JSON_STRING && fw_str_eq_c(v->str, s);
}

/* A parameter XGBoost writes as a string ("5E-1"), or a number. */
static bool param(const fw_json *v, double *out) {
    if (v && v->type == FW_JSON_NUMBER) {
        *out = v->number;
        return true;
    }
    if (!v || v->type != FW_JSON_STRING || v->str.len == 0 || v->str.len > 63)
        return false;
    char buf[64], *end;
    memcpy(buf, v->str.ptr, v->str.len);
    buf[v->str.len] = '\0';
    *out = strtod(buf, &end);
    return *end == '\0' && isfinite(*out);
}

/* The array member @p key of @p tree with exactly @p n numbers, or NULL. */
static const fw_json *numbers(const fw_json *tree, const char *key, size_t n) {
    const fw_json *a = fw_json_get(tree, key);
    if (!a || a->type != FW_JSON_ARRAY || a->count != n)
        return NULL;
    FW_JSON_FOREACH(it, a)
        if (it->type != FW_JSON_NUMBER && it->type != FW_JSON_BOOL)
            return NULL;
    return a;
}

static double num(const fw_json *v) { return v->type == FW_JSON_BOOL ? v->boolean : v->number; }

/* Copies one tree into t->nodes from @p at, children side by side: nodes are
 * numbered in the order they are reached, two at a time. */
static bool read_tree(fw_trees *t, const fw_json *tree, size_t at, size_t n, uint8_t *depth,
                      char *why, size_t why_size) {
    const fw_json *lc = numbers(tree, "left_children", n), *rc = numbers(tree, "right_children", n),
                  *si = numbers(tree, "split_indices", n), *sc = numbers(tree, "split_conditions", n),
                  *dl = numbers(tree, "default_left", n), *st = fw_json_get(tree, "split_type");
    if (!lc || !rc || !si || !sc || !dl) {
        snprintf(why, why_size, "a tree's node arrays are missing or of unequal length");
        return false;
    }
    FW_JSON_FOREACH(it, st)
        if (it->type != FW_JSON_NUMBER || it->number != 0) {
            snprintf(why, why_size, "categorical splits");
            return false;
        }
    /* The arrays as plain vectors: the walk below jumps around. */
    const fw_json **col[5] = { NULL };
    const fw_json *arr[5] = { lc, rc, si, sc, dl };
    bool ok = true;
    for (int c = 0; c < 5 && ok; c++) {
        col[c] = malloc(sizeof(*col[c]) * n);
        ok = col[c] != NULL;
        size_t i = 0;
        FW_JSON_FOREACH(it, ok ? arr[c] : NULL)
            col[c][i++] = it;
    }
    uint32_t *order = ok ? malloc(sizeof(*order) * n) : NULL; /* new place -> old id */
    uint8_t *level = ok ? calloc(n, 1) : NULL; /* by new place */
    bool *seen = ok ? calloc(n, sizeof(*seen)) : NULL;
    if (!order || !seen || !level) {
        snprintf(why, why_size, "out of memory");
        ok = false;
    }
    size_t placed = 0;
    if (ok) {
        order[placed++] = 0;
        seen[0] = true;
    }
    for (size_t k = 0; ok && k < placed; k++) {
        size_t id = order[k];
        tnode *nd = &t->nodes[at + k];
        double l = num(col[0][id]), r = num(col[1][id]);
        if (l == -1 && r == -1) {
            double v = num(col[3][id]);
            *nd = (tnode){ .cond = (float)v, .left = (uint32_t)(at + k), .leaf = 1 };
            continue;
        }
        double f = num(col[2][id]);
        if (!(l >= 0 && l < (double)n && r >= 0 && r < (double)n && l == floor(l) &&
              r == floor(r) && seen[(size_t)l] + seen[(size_t)r] == 0 && l != r &&
              f >= 0 && f < (double)t->nfeatures && f == floor(f))) {
            snprintf(why, why_size, "tree node %zu has invalid children or feature", id);
            ok = false;
            break;
        }
        if (level[k] >= FW_TREES_MAX_DEPTH) {
            snprintf(why, why_size, "a tree deeper than %d", FW_TREES_MAX_DEPTH);
            ok = false;
            break;
        }
        seen[(size_t)l] = seen[(size_t)r] = true;
        level[placed] = level[placed + 1] = (uint8_t)(level[k] + 1);
        if (level[placed] > *depth)
            *depth = level[placed];
        *nd = (tnode){ .cond = (float)num(col[3][id]), .left = (uint32_t)(at + placed),
                       .feat = (uint16_t)f, .dflt_right = num(col[4][id]) == 0 };
        order[placed++] = (uint32_t)l;
        order[placed++] = (uint32_t)r;
    }
    if (ok && placed != n) {
        snprintf(why, why_size, "a tree has %zu nodes unreachable from its root", n - placed);
        ok = false;
    }
    free(level);
    for (int c = 0; c < 5; c++)
        free(col[c]);
    free(order);
    free(seen);
    return ok;
}

fw_trees *fw_trees_read(const char *json, size_t len, size_t nfeatures, char *why,
                        size_t why_size) {
    fw_arena a;
    size_t bound = fw_json_arena_bound(len);
    if (bound == SIZE_MAX || !fw_arena_init(&a, bound)) {
        snprintf(why, why_size, "out of memory");
        return NULL;
    }
    fw_trees *t = calloc(1, sizeof(*t));
    fw_json *root = NULL;
    char err[256];
    if (!t || fw_json_parse(json, len, &a, &root, err, sizeof(err)) != FW_OK) {
        snprintf(why, why_size, "%s", t ? err : "out of memory");
        goto fail;
    }
    t->nfeatures = nfeatures;
    const fw_json *learner = fw_json_get(root, "learner");
    double base, nclass = 0, ntarget = 1;
    const fw_json *lmp = fw_json_get(learner, "learner_model_param");
    if (!is_str(path(learner, (const char *[]){ "objective", "name", NULL }), "binary:logistic")) {
        snprintf(why, why_size, "objective is not binary:logistic");
        goto fail;
    }
    if (!param(fw_json_get(lmp, "base_score"), &base) || !(base > 0 && base < 1) ||
        (fw_json_get(lmp, "num_class") && !param(fw_json_get(lmp, "num_class"), &nclass)) ||
        (fw_json_get(lmp, "num_target") && !param(fw_json_get(lmp, "num_target"), &ntarget)) ||
        nclass > 1 || ntarget != 1) {
        snprintf(why, why_size, "base_score, num_class or num_target not of one binary target");
        goto fail;
    }
    const fw_json *gb = fw_json_get(learner, "gradient_booster");
    if (!is_str(fw_json_get(gb, "name"), "gbtree")) {
        snprintf(why, why_size, "booster is not gbtree");
        goto fail;
    }
    const fw_json *trees = path(gb, (const char *[]){ "model", "trees", NULL });
    if (!trees || trees->type != FW_JSON_ARRAY || trees->count == 0) {
        snprintf(why, why_size, "no trees");
        goto fail;
    }
    FW_JSON_FOREACH(tr, trees) {
        const fw_json *lc = fw_json_get(tr, "left_children");
        double vec = 0;
        param(path(tr, (const char *[]){ "tree_param", "size_leaf_vector", NULL }), &vec);
        if (!lc || lc->type != FW_JSON_ARRAY || lc->count == 0 || vec > 1 ||
            lc->count > UINT32_MAX / 2 - t->nnodes) {
            snprintf(why, why_size, "a tree without nodes, or with vector leaves");
            goto fail;
        }
        t->nnodes += lc->count;
    }
    t->ntrees = trees->count;
    t->nodes = malloc(sizeof(*t->nodes) * t->nnodes);
    t->root = malloc(sizeof(*t->root) * t->ntrees);
    t->depth = calloc(t->ntrees, 1);
    if (!t->nodes || !t->root || !t->depth) {
        snprintf(why, why_size, "out of memory");
        goto fail;
    }
    size_t at = 0, k = 0;
    FW_JSON_FOREACH(tr, trees) {
        size_t n = fw_json_get(tr, "left_children")->count;
        t->root[k] = (uint32_t)at;
        if (!read_tree(t, tr, at, n, &t->depth[k], why, why_size))
            goto fail;
        k++;
        at += n;
    }
    /* XGBoost keeps base_score as a probability and starts every sum at its
     * log-odds, computed in float. */
    t->base_margin = -logf(1.0f / (float)base - 1.0f);
    fw_arena_fini(&a);
    return t;
fail:
    fw_arena_fini(&a);
    fw_trees_free(t);
    return NULL;
}

/* One step from node @p i: !(x < cond) is also true for NaN, when the
 * default decides; a leaf stays where it is. */
static inline uint32_t step(const tnode *nodes, uint32_t i, const float *row) {
    const tnode *nd = &nodes[i];
    float x = row[nd->feat];
    unsigned right = (unsigned)!(x < nd->cond) & (nd->dflt_right | (x == x)) & !nd->leaf;
    return nd->left + right;
}

#define LANES 8 /* rows walked side by side: their walks overlap in the CPU */

void fw_trees_predict(const fw_trees *t, const float *rows, size_t n, float *out) {
    const tnode *nodes = t->nodes;
    size_t nf = t->nfeatures;
    for (size_t r = 0; r < n; r += LANES) {
        size_t w = n - r < LANES ? n - r : LANES;
        const float *row[LANES];
        float m[LANES];
        for (size_t j = 0; j < LANES; j++) {
            row[j] = &rows[(r + (j < w ? j : 0)) * nf]; /* spare lanes repeat the first row */
            m[j] = t->base_margin;
        }
        for (size_t k = 0; k < t->ntrees; k++) { /* tree order, as XGBoost sums */
            uint32_t at[LANES];
            for (size_t j = 0; j < LANES; j++)
                at[j] = t->root[k];
            for (unsigned d = 0; d < t->depth[k]; d++) {
#pragma GCC unroll 8
                for (size_t j = 0; j < LANES; j++)
                    at[j] = step(nodes, at[j], row[j]);
            }
            for (size_t j = 0; j < LANES; j++)
                m[j] += nodes[at[j]].cond;
        }
        for (size_t j = 0; j < w; j++)
            out[r + j] = 1.0f / (1.0f + expf(-m[j]));
    }
}

size_t fw_trees_thresholds(const fw_trees *t, size_t f, float *out, size_t max) {
    size_t k = 0;
    for (size_t i = 0; i < t->nnodes && k < max; i++)
        if (!t->nodes[i].leaf && t->nodes[i].feat == f)
            out[k++] = t->nodes[i].cond;
    return k;
}
