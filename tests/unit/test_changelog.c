/* test_changelog.c — state survives a hand-over: an engine that processes the
 * first part of a stream, hands its changelog (latest record per key) to a
 * fresh engine that processes the rest, gives exactly the alerts of one
 * uninterrupted engine, wherever the cut falls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine.h"
#include "gen_model.h"

#define NTX 6000

typedef struct kv {
    char key[400];
    size_t keylen;
    char *value;
    size_t len;
} kv;

typedef struct store {
    kv *items;
    size_t n, cap;
} store;

static void store_put(void *opaque, fw_str key, const void *value, size_t len) {
    store *s = opaque;
    for (size_t i = 0; i < s->n; i++)
        if (s->items[i].keylen == key.len && !memcmp(s->items[i].key, key.ptr, key.len)) {
            free(s->items[i].value);
            s->items[i].value = value ? malloc(len + 1) : NULL;
            if (value)
                memcpy(s->items[i].value, value, len);
            s->items[i].len = len;
            return;
        }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->items = realloc(s->items, sizeof(kv) * s->cap);
    }
    kv *it = &s->items[s->n++];
    assert_true(key.len <= sizeof(it->key));
    memcpy(it->key, key.ptr, key.len);
    it->keylen = key.len;
    it->value = value ? malloc(len + 1) : NULL;
    if (value)
        memcpy(it->value, value, len);
    it->len = len;
}

static void store_free(store *s) {
    for (size_t i = 0; i < s->n; i++)
        free(s->items[i].value);
    free(s->items);
}

typedef struct alerts {
    char ids[4096][96];  /* id, rule, entity, event time: sortable, printable */
    int n;
} alerts;

static void on_alert(void *opaque, const fw_alert *a) {
    alerts *al = opaque;
    fw_buf scratch;
    fw_buf_init(&scratch, 0);
    assert_true(al->n < 4096);
    char id[FW_ALERT_ID_LEN + 1];
    fw_alert_id(a, &scratch, id);
    snprintf(al->ids[al->n++], sizeof(al->ids[0]), "%s %s %.*s %lld", id, fw_rule_name(a->rule),
             (int)(a->entity_id.len < 24 ? a->entity_id.len : 24), a->entity_id.ptr,
             (long long)a->event_time);
    fw_buf_fini(&scratch);
}

static int cmp_id(const void *a, const void *b) { return strcmp(a, b); }

static char lines[NTX][FW_GEN_JSON_MAX];
static size_t lens[NTX];

/* Feeds records; with @p s, reads the changes out every 37 records, as the
 * runtime does at each commit, so intervals hold expiries and re-creations. */
static void feed(fw_engine *e, int from, int to, alerts *al, store *s) {
    fw_engine_out out = { .opaque = al, .alert = on_alert };
    for (int i = from; i < to; i++) {
        if (s && i % 37 == 0)
            fw_engine_changes(e, store_put, s);
        fw_txn t;
        fw_decode_error derr;
        fw_arena arena;
        fw_arena_init(&arena, 4096);
        assert_int_equal(fw_txn_decode_json(lines[i], lens[i], &arena, 0, &t, &derr), FW_OK);
        fw_engine_process(e, &t, &out);
        fw_arena_fini(&arena);
    }
}

static void test_handover_at_every_cut(void **state) {
    (void)state;
    char err[256];
    /* Few customers and cards: entities expire and come back within an interval. */
    fw_gen_conf gc = { .seed = 3, .customers = 300, .fraud_ratio = 0.1,
                       .start_ms = 1704067200000, .count = NTX };
    fw_gen *g = fw_gen_new(&gc, err, sizeof(err));
    assert_non_null(g);
    fw_gen_txn gt;
    int n = 0;
    while (n < NTX && fw_gen_next(g, &gt))
        lens[n] = fw_gen_format_json(g, &gt, lines[n]), n++;
    fw_gen_destroy(g);
    assert_int_equal(n, NTX);

    fw_rules rules;
    fw_rules_defaults(&rules);
    static alerts whole, parts;
    whole.n = 0;
    fw_engine *one = fw_engine_new(&rules, err, sizeof(err));
    feed(one, 0, NTX, &whole, NULL);
    fw_engine_advance(one, INT64_MAX, &(fw_engine_out){ .opaque = &whole, .alert = on_alert });
    fw_engine_destroy(one);
    assert_true(whole.n > 100);
    qsort(whole.ids, (size_t)whole.n, sizeof(whole.ids[0]), cmp_id);

    for (int cut = 1; cut < NTX; cut += 397) {
        parts.n = 0;
        store s = { 0 };
        fw_engine *a = fw_engine_new(&rules, err, sizeof(err));
        fw_engine_track_changes(a);
        feed(a, 0, cut, &parts, &s);
        fw_engine_changes(a, store_put, &s);
        fw_engine_destroy(a);
        fw_engine *b = fw_engine_new(&rules, err, sizeof(err));
        for (size_t i = 0; i < s.n; i++)
            if (fw_engine_restore(b, (fw_str){ s.items[i].key, s.items[i].keylen },
                                  s.items[i].value, s.items[i].len, err, sizeof(err)))
                fail_msg("cut %d: restore: %s", cut, err);
        feed(b, cut, NTX, &parts, NULL);
        fw_engine_advance(b, INT64_MAX, &(fw_engine_out){ .opaque = &parts, .alert = on_alert });
        fw_engine_destroy(b);
        store_free(&s);
        qsort(parts.ids, (size_t)parts.n, sizeof(parts.ids[0]), cmp_id);
        bool same = parts.n == whole.n;
        for (int i = 0; same && i < whole.n; i++)
            same = !strcmp(parts.ids[i], whole.ids[i]);
        if (!same) {
            /* Print the difference both ways, then fail. */
            int i = 0, j = 0;
            while (i < whole.n || j < parts.n) {
                int c = i >= whole.n ? 1 : j >= parts.n ? -1 : strcmp(whole.ids[i], parts.ids[j]);
                if (c < 0)
                    fprintf(stderr, "  only without the hand-over: %s\n", whole.ids[i++]);
                else if (c > 0)
                    fprintf(stderr, "  only after the hand-over:   %s\n", parts.ids[j++]);
                else
                    i++, j++;
            }
            fail_msg("cut at %d: %d alerts after the hand-over, %d without", cut, parts.n,
                     whole.n);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handover_at_every_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
