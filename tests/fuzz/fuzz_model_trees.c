/* fuzz_model_trees.c — libFuzzer target for the tree walker's reader
 * (model_trees.c): any bytes as an XGBoost JSON model of 4 features. What
 * must hold: a refusal gives a printable reason; accepted trees score every
 * row, missing values included, in [0, 1], the same on a second pass; their
 * contributions are the same floats with the leaf tables as without. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_trees.h"

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "fuzz_model_trees: check failed: %s (%s:%d)\n", #cond, __FILE__, \
                    __LINE__);                                                             \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

#define NF 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char why[256] = "";
    fw_trees *t = fw_trees_read((const char *)data, size, NF, 1 << 20, why, sizeof(why));
    if (!t) {
        CHECK(why[0] != '\0');
        for (const char *p = why; *p; p++)
            CHECK(*p >= 0x20 && *p < 0x7f);
        return 0;
    }
    float rows[9 * NF], a[9], b[9];
    for (size_t i = 0; i < 9 * NF; i++)
        rows[i] = i % 5 == 0 ? NAN : (float)((int)(i * 7 % 11) - 5) * 0.75f;
    fw_trees_predict(t, rows, 9, a);
    fw_trees_predict(t, rows, 9, b);
    for (size_t i = 0; i < 9; i++) {
        CHECK(memcmp(&a[i], &b[i], sizeof(float)) == 0);
        CHECK(isnan(a[i]) || (a[i] >= 0 && a[i] <= 1));
    }
    fw_trees *u = fw_trees_read((const char *)data, size, NF, 0, why, sizeof(why));
    CHECK(u != NULL);
    CHECK(fw_trees_explains(t) == fw_trees_explains(u));
    if (fw_trees_explains(t)) {
        float ca[9 * (NF + 1)], cb[9 * (NF + 1)];
        fw_trees_contribs(t, rows, 9, ca);
        fw_trees_contribs(u, rows, 9, cb);
        for (size_t i = 0; i < 9 * (NF + 1); i++)
            CHECK(memcmp(&ca[i], &cb[i], sizeof(float)) == 0 || (isnan(ca[i]) && isnan(cb[i])));
    }
    fw_trees_free(u);
    fw_trees_free(t);
    return 0;
}
