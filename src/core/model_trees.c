/* model_trees.c — reads XGBoost's JSON trees, walks them and explains their
 * scores (model_trees.h). */
#include "model_trees.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define FW_TREES_MAX_DEPTH 64 /* deeper trees are scored by XGBoost */
#define FW_TREES_SHAP_DEPTH 30 /* deeper trees are explained by XGBoost: paths live on the stack */
#define FW_TREES_SHAP_FEATURES 256 /* more features: explained by XGBoost, for the same reason */

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
    /* For contributions, by node: the training rows' hessian sum through it
     * (its cover) and its expected value. NULL when a tree has no covers or
     * one is deeper than FW_TREES_SHAP_DEPTH. */
    float *cover, *mean;
    unsigned max_depth;
    /* By node, for leaves of trees whose tables fit (n 0: none, computed
     * per row): what the leaf adds for each hot pattern of its path. */
    struct leaf_table *leaves;
    float *vals;
    uint16_t *feats;
};

void fw_trees_free(fw_trees *t) {
    if (!t)
        return;
    free(t->nodes);
    free(t->root);
    free(t->depth);
    free(t->cover);
    free(t->mean);
    free(t->leaves);
    free(t->vals);
    free(t->feats);
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

/* Each node's expected value: a leaf's value, or its children's weighted by
 * cover. Children are placed after their parent, so one pass backwards;
 * float operations in XGBoost's order (FillNodeMeanValue), for its floats. */
static void fill_means(fw_trees *t, size_t at, size_t n) {
    for (size_t k = n; k-- > 0;) {
        const tnode *nd = &t->nodes[at + k];
        if (nd->leaf) {
            t->mean[at + k] = nd->cond;
            continue;
        }
        uint32_t l = nd->left, r = nd->left + 1;
        float v = t->mean[l] * t->cover[l];
        v += t->mean[r] * t->cover[r];
        v /= t->cover[at + k];
        t->mean[at + k] = v;
    }
}

/* Copies one tree into t->nodes from @p at, children side by side: nodes are
 * numbered in the order they are reached, two at a time. */
static bool read_tree(fw_trees *t, const fw_json *tree, size_t at, size_t n, uint8_t *depth,
                      char *why, size_t why_size) {
    const fw_json *lc = numbers(tree, "left_children", n), *rc = numbers(tree, "right_children", n),
                  *si = numbers(tree, "split_indices", n), *sc = numbers(tree, "split_conditions", n),
                  *dl = numbers(tree, "default_left", n), *st = fw_json_get(tree, "split_type"),
                  *sh = t->cover ? numbers(tree, "sum_hessian", n) : NULL;
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
    const fw_json **cover = sh ? malloc(sizeof(*cover) * n) : NULL;
    if (cover) {
        size_t i = 0;
        FW_JSON_FOREACH(it, sh)
            cover[i++] = it;
    } else if (t->cover) { /* no covers, or no memory for them: the trees still score */
        free(t->cover);
        free(t->mean);
        t->cover = t->mean = NULL;
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
        if (cover)
            t->cover[at + k] = (float)num(cover[id]);
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
    if (ok && cover)
        fill_means(t, at, n);
    free(cover);
    free(level);
    for (int c = 0; c < 5; c++)
        free(col[c]);
    free(order);
    free(seen);
    return ok;
}

static void build_tables(fw_trees *t, size_t bytes);

fw_trees *fw_trees_read(const char *json, size_t len, size_t nfeatures, size_t table_bytes,
                        char *why, size_t why_size) {
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
    if (nfeatures <= FW_TREES_SHAP_FEATURES) {
        t->cover = malloc(sizeof(*t->cover) * t->nnodes);
        t->mean = malloc(sizeof(*t->mean) * t->nnodes);
    }
    if (!t->cover || !t->mean) { /* then the trees only score */
        free(t->cover);
        free(t->mean);
        t->cover = t->mean = NULL;
    }
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
        if (t->depth[k] > t->max_depth)
            t->max_depth = t->depth[k];
        k++;
        at += n;
    }
    /* XGBoost keeps base_score as a probability and starts every sum at its
     * log-odds, computed in float. */
    t->base_margin = -logf(1.0f / (float)base - 1.0f);
    if (t->max_depth > FW_TREES_SHAP_DEPTH) {
        free(t->cover);
        free(t->mean);
        t->cover = t->mean = NULL;
    }
    if (t->cover && table_bytes)
        build_tables(t, table_bytes);
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

/* ---- contributions: path-dependent TreeSHAP ----
 *
 * Lundberg, Erion and Lee, "Consistent individualized feature attribution
 * for tree ensembles" (2018), Algorithm 2, as XGBoost computes it: the same
 * float operations in the same order, hot branch before cold, each tree's
 * contributions summed apart and then added in tree order, so the
 * contributions are XGBoost's floats. fw_model checks that on probe rows. */

/* One split on the path from the root: its feature (-1 for the root's
 * place), the share of training rows (by cover) that take the path where
 * the feature is unknown (zero), whether this row takes it (one), and the
 * weight of the feature subsets of each size (pweight, by position). */
typedef struct shap_elem {
    int feat;
    float zero, one, pweight;
} shap_elem;

static void path_extend(shap_elem *p, unsigned depth, float zero, float one, int feat) {
    p[depth] = (shap_elem){ .feat = feat, .zero = zero, .one = one,
                            .pweight = depth == 0 ? 1.0f : 0.0f };
    for (int i = (int)depth - 1; i >= 0; i--) {
        p[i + 1].pweight += one * p[i].pweight * (float)(i + 1) / (float)(depth + 1);
        p[i].pweight = zero * p[i].pweight * (float)(depth - (unsigned)i) / (float)(depth + 1);
    }
}

/* Takes the split at @p at out of the path (a feature split on again). */
static void path_unwind(shap_elem *p, unsigned depth, unsigned at) {
    float one = p[at].one, zero = p[at].zero, next = p[depth].pweight;
    for (int i = (int)depth - 1; i >= 0; i--) {
        if (one != 0) {
            float w = p[i].pweight;
            p[i].pweight = next * (float)(depth + 1) / ((float)(i + 1) * one);
            next = w - p[i].pweight * zero * (float)(depth - (unsigned)i) / (float)(depth + 1);
        } else {
            p[i].pweight =
                p[i].pweight * (float)(depth + 1) / (zero * (float)(depth - (unsigned)i));
        }
    }
    for (unsigned i = at; i < depth; i++) {
        p[i].feat = p[i + 1].feat;
        p[i].zero = p[i + 1].zero;
        p[i].one = p[i + 1].one;
    }
}

/* For each split k in 1..depth, the path's total weight with k taken out
 * (XGBoost's UnwoundPathSum for each k). The k are independent: computed
 * side by side, their chains of divisions overlap in the CPU, and each
 * still takes its own operations in the same order. */
static void path_unwound_sums(const shap_elem *p, unsigned depth, float *total) {
    float next[FW_TREES_SHAP_DEPTH + 2];
    for (unsigned k = 1; k <= depth; k++) {
        next[k] = p[depth].pweight;
        total[k] = 0;
    }
    float up = (float)(depth + 1);
    for (int i = (int)depth - 1; i >= 0; i--) {
        float below = (float)(i + 1), share = (float)(depth - (unsigned)i) / up,
              pw = p[i].pweight;
        for (unsigned k = 1; k <= depth; k++) {
            float one = p[k].one, zero = p[k].zero;
            if (one != 0) {
                float w = next[k] * up / (below * one);
                total[k] += w;
                next[k] = pw - w * zero * share;
            } else if (zero != 0) {
                total[k] += (pw / zero) / share;
            }
        }
    }
}

/* What leaf @p path[len] adds to the contributions of a row that takes the
 * hot branch at the splits of @p path[0..len) whose bit is set in @p hot:
 * @p vals[k] to feature @p feats[k], k < the returned count. XGBoost's
 * recursion reaches the leaf through the same extends and unwinds, in the
 * same order, so these are its floats; it visits the hot child first, which
 * explain_tree does too. Nothing else about the row matters to the leaf. */
static unsigned leaf_share(const fw_trees *t, const uint32_t *path, unsigned len,
                           uint32_t hot, float *vals, uint16_t *feats) {
    shap_elem p[FW_TREES_SHAP_DEPTH + 2];
    unsigned depth = 0;
    float zero = 1, one = 1;
    int feat = -1;
    for (unsigned j = 0;; j++) {
        path_extend(p, depth, zero, one, feat);
        const tnode *nd = &t->nodes[path[j]];
        if (j == len) {
            float w[FW_TREES_SHAP_DEPTH + 2];
            path_unwound_sums(p, depth, w);
            for (unsigned k = 1; k <= depth; k++) {
                vals[k - 1] = w[k] * (p[k].one - p[k].zero) * nd->cond;
                feats[k - 1] = (uint16_t)p[k].feat;
            }
            return depth;
        }
        float in_zero = 1, in_one = 1;
        unsigned k = 0;
        while (k <= depth && p[k].feat != (int)nd->feat)
            k++;
        if (k <= depth) { /* split on again: undone, to be redone here */
            in_zero = p[k].zero;
            in_one = p[k].one;
            path_unwind(p, depth, k);
            depth--;
        }
        zero = t->cover[path[j + 1]] / t->cover[path[j]] * in_zero;
        one = hot >> j & 1 ? in_one : 0;
        feat = nd->feat;
        depth++;
    }
}

/* Tables of leaf_share for every leaf and every hot pattern of its path, for
 * the trees that fit fw_trees_read's table_bytes: 100 trees of depth 4 take
 * 0.3 MB, of depth 6 about 10 MB. A row's explanation is then a walk over
 * the tree and a few additions per leaf, not a path computation. */
typedef struct leaf_table {
    uint32_t vals;   /* t->vals[vals + hot * n + k] */
    uint32_t feats;  /* t->feats[feats + k] */
    uint8_t n;
} leaf_table;

typedef struct visit {
    uint32_t node;
    uint8_t level;
    uint8_t hot;     /* the hot child of its parent */
} visit;

/* Visits tree @p k's nodes as XGBoost's recursion does (hot child first),
 * keeping the path, and adds each leaf's share to @p phi. */
static void explain_tree(const fw_trees *t, size_t k, const float *row, float *phi) {
    visit stack[FW_TREES_SHAP_DEPTH + 2];
    uint32_t path[FW_TREES_SHAP_DEPTH + 1], hot = 0; /* bit j: path[j + 1] is hot */
    unsigned sp = 0;
    stack[sp++] = (visit){ t->root[k], 0, 1 };
    while (sp) {
        visit at = stack[--sp];
        uint32_t i = at.node;
        unsigned level = at.level;
        path[level] = i;
        if (level)
            hot = (hot & ~(1u << (level - 1))) | (uint32_t)at.hot << (level - 1);
        const tnode *nd = &t->nodes[i];
        if (nd->leaf) {
            uint32_t pattern = hot & ((1u << level) - 1);
            if (t->leaves && t->leaves[i].n) {
                const leaf_table *lt = &t->leaves[i];
                const float *v = &t->vals[lt->vals + pattern * lt->n];
                for (unsigned j = 0; j < lt->n; j++)
                    phi[t->feats[lt->feats + j]] += v[j];
            } else {
                float v[FW_TREES_SHAP_DEPTH + 1];
                uint16_t f[FW_TREES_SHAP_DEPTH + 1];
                unsigned n = leaf_share(t, path, level, pattern, v, f);
                for (unsigned j = 0; j < n; j++)
                    phi[f[j]] += v[j];
            }
            continue;
        }
        float x = row[nd->feat];
        unsigned right_hot = x == x ? !(x < nd->cond) : nd->dflt_right;
        /* cold pushed first: the hot child is visited first */
        stack[sp++] = (visit){ nd->left + !right_hot, (uint8_t)(level + 1), 0 };
        stack[sp++] = (visit){ nd->left + right_hot, (uint8_t)(level + 1), 1 };
    }
}

/* Calls @p fn for each leaf of tree @p k with its path (left first). */
static void each_leaf(fw_trees *t, size_t k,
                      void (*fn)(fw_trees *t, const uint32_t *path, unsigned len, void *arg),
                      void *arg) {
    uint32_t stack[FW_TREES_SHAP_DEPTH + 2], path[FW_TREES_SHAP_DEPTH + 1];
    uint8_t levels[FW_TREES_SHAP_DEPTH + 2];
    unsigned sp = 0;
    stack[sp] = t->root[k];
    levels[sp++] = 0;
    while (sp) {
        sp--;
        uint32_t i = stack[sp];
        unsigned level = levels[sp];
        path[level] = i;
        if (t->nodes[i].leaf) {
            fn(t, path, level, arg);
            continue;
        }
        for (uint32_t c = 2; c-- > 0;) {
            stack[sp] = t->nodes[i].left + c;
            levels[sp++] = (uint8_t)(level + 1);
        }
    }
}

static void leaf_room(fw_trees *t, const uint32_t *path, unsigned len, void *arg) {
    (void)t, (void)path;
    size_t *room = arg;
    room[0] += ((size_t)1 << len) * len;
    room[1] += len;
}

static void leaf_fill(fw_trees *t, const uint32_t *path, unsigned len, void *arg) {
    size_t *at = arg;
    leaf_table *lt = &t->leaves[path[len]];
    lt->vals = (uint32_t)at[0];
    lt->feats = (uint32_t)at[1];
    float v[FW_TREES_SHAP_DEPTH + 1];
    uint16_t f[FW_TREES_SHAP_DEPTH + 1];
    unsigned n = leaf_share(t, path, len, 0, v, f);
    lt->n = (uint8_t)n;
    memcpy(&t->feats[at[1]], f, sizeof(*f) * n);
    for (uint32_t hot = 0; hot < (1u << len); hot++)
        leaf_share(t, path, len, hot, &t->vals[at[0] + (size_t)hot * n], f);
    at[0] += ((size_t)1 << len) * n;
    at[1] += n;
}

/* Tables for the trees, in order, while they fit in @p bytes. */
static void build_tables(fw_trees *t, size_t bytes) {
    size_t room[2] = { 0, 0 }, tabled = 0;
    for (; tabled < t->ntrees && t->depth[tabled] <= 16; tabled++) {
        size_t r[2] = { 0, 0 };
        each_leaf(t, tabled, leaf_room, r);
        if ((room[0] + r[0]) * sizeof(float) + (room[1] + r[1]) * sizeof(uint16_t) > bytes)
            break;
        room[0] += r[0];
        room[1] += r[1];
    }
    if (tabled == 0)
        return;
    t->leaves = calloc(t->nnodes, sizeof(*t->leaves));
    t->vals = malloc(sizeof(*t->vals) * room[0]);
    t->feats = malloc(sizeof(*t->feats) * (room[1] ? room[1] : 1));
    if (!t->leaves || !t->vals || !t->feats) { /* then every leaf is computed per row */
        free(t->leaves);
        free(t->vals);
        free(t->feats);
        t->leaves = NULL, t->vals = NULL, t->feats = NULL;
        return;
    }
    size_t at[2] = { 0, 0 };
    for (size_t k = 0; k < tabled; k++)
        each_leaf(t, k, leaf_fill, at);
}

bool fw_trees_explains(const fw_trees *t) { return t->cover != NULL; }

void fw_trees_contribs(const fw_trees *t, const float *rows, size_t n, float *out) {
    float phi[FW_TREES_SHAP_FEATURES + 1];
    size_t nf = t->nfeatures;
    for (size_t r = 0; r < n; r++) {
        const float *row = &rows[r * nf];
        float *o = &out[r * (nf + 1)];
        memset(o, 0, sizeof(*o) * (nf + 1));
        for (size_t k = 0; k < t->ntrees; k++) {
            memset(phi, 0, sizeof(*phi) * (nf + 1));
            phi[nf] += t->mean[t->root[k]];
            explain_tree(t, k, row, phi);
            for (size_t c = 0; c <= nf; c++)
                o[c] += phi[c];
        }
        o[nf] += t->base_margin;
    }
}

size_t fw_trees_thresholds(const fw_trees *t, size_t f, float *out, size_t max) {
    size_t k = 0;
    for (size_t i = 0; i < t->nnodes && k < max; i++)
        if (!t->nodes[i].leaf && t->nodes[i].feat == f)
            out[k++] = t->nodes[i].cond;
    return k;
}
