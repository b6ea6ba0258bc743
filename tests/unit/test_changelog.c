/* test_changelog.c — state survives a hand-over: an engine that processes the
 * first part of a stream, hands its changelog (latest record per key) to a
 * fresh engine that processes the rest, gives exactly the alerts of one
 * uninterrupted engine, wherever the cut falls; with the built-ins alone and
 * with language rules beside them (their keys 'L'). */
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
#include "lang_rules.h"

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
    char ids[16384][96];  /* id, rule, entity, event time: sortable, printable */
    int n;
} alerts;

static void on_alert(void *opaque, const fw_alert *a) {
    alerts *al = opaque;
    fw_buf scratch;
    fw_buf_init(&scratch, 0);
    assert_true(al->n < 16384);
    char id[FW_ALERT_ID_LEN + 1];
    fw_alert_id(a, &scratch, id);
    snprintf(al->ids[al->n++], sizeof(al->ids[0]), "%s %s %.*s %lld", id, fw_alert_rule_name(a),
             (int)(a->entity_id.len < 24 ? a->entity_id.len : 24), a->entity_id.ptr,
             (long long)a->event_time);
    fw_buf_fini(&scratch);
}

static int cmp_id(const void *a, const void *b) { return strcmp(a, b); }

/* Fails unless @p got (sorted here) holds the alerts of @p whole (sorted),
 * after printing the difference both ways. */
static void assert_same_alerts(const alerts *whole, alerts *got, const char *what) {
    qsort(got->ids, (size_t)got->n, sizeof(got->ids[0]), cmp_id);
    bool same = got->n == whole->n;
    for (int i = 0; same && i < whole->n; i++)
        same = !strcmp(got->ids[i], whole->ids[i]);
    if (same)
        return;
    int i = 0, j = 0;
    while (i < whole->n || j < got->n) {
        int c = i >= whole->n  ? 1
                : j >= got->n ? -1
                              : strcmp(whole->ids[i], got->ids[j]);
        if (c < 0)
            fprintf(stderr, "  only uninterrupted: %s\n", whole->ids[i++]);
        else if (c > 0)
            fprintf(stderr, "  only after the hand-over: %s\n", got->ids[j++]);
        else
            i++, j++;
    }
    fail_msg("%s: %d alerts after the hand-over, %d uninterrupted", what, got->n, whole->n);
}

static char lines[NTX][FW_GEN_JSON_MAX];
static size_t lens[NTX];

/* Feeds records; with @p fn, reads the changes out every 37 records, as the
 * runtime does at each commit, so intervals hold expiries and re-creations;
 * @p most (may be NULL): the most transactions buffered at such a commit. */
static void feed_to(fw_engine *e, int from, int to, alerts *al, fw_change_fn fn, void *opaque,
                    uint64_t *most) {
    fw_engine_out out = { .opaque = al, .alert = on_alert };
    for (int i = from; i < to; i++) {
        if (fn && i % 37 == 0) {
            uint64_t b = fw_engine_stats_get(e)->buffered;
            if (most && b > *most)
                *most = b;
            fw_engine_changes(e, fn, opaque);
        }
        fw_txn t;
        fw_decode_error derr;
        fw_arena arena;
        fw_arena_init(&arena, 4096);
        assert_int_equal(fw_txn_decode_json(lines[i], lens[i], &arena, 0, &t, &derr), FW_OK);
        fw_engine_process(e, &t, &out);
        fw_arena_fini(&arena);
    }
}

/* feed_to, the changes (with @p s) into a compacted store. */
static void feed(fw_engine *e, int from, int to, alerts *al, store *s) {
    feed_to(e, from, to, al, s ? store_put : NULL, s, NULL);
}

/* Language rules of every kind of state: two aggregate rules sharing a part
 * (count, sum, max, count_distinct, min, avg, stddev), one grouped by a tuple
 * with a where, a keyed filter (its keys hold only the last alert, for
 * dedupe) and a sequence (its keys hold partial matches). */
static const char lang_json[] =
    "{\"rules\": ["
    "{\"id\": \"acct_burst\", \"type\": \"aggregate\", \"group_by\": \"account_id\","
    " \"lookback\": \"10m\", \"aggregates\": {\"n\": \"count\", \"total\": \"sum(amount)\","
    " \"top\": \"max(amount)\", \"shops\": \"count_distinct(merchant_id)\"},"
    " \"having\": \"n >= 4 and shops >= 3\"},"
    "{\"id\": \"acct_spread\", \"type\": \"aggregate\", \"group_by\": \"account_id\","
    " \"lookback\": \"10m\", \"aggregates\": {\"low\": \"min(amount)\", \"mean\": \"avg(amount)\","
    " \"sd\": \"stddev(amount)\"}, \"having\": \"sd > 200 and low < 20\"},"
    "{\"id\": \"online_merchant\", \"type\": \"aggregate\","
    " \"group_by\": [\"merchant_id\", \"country\"], \"lookback\": \"2h\","
    " \"where\": \"channel == \\\"online\\\"\", \"aggregates\": {\"n\": \"count\"},"
    " \"having\": \"n >= 3\"},"
    "{\"id\": \"card_big\", \"type\": \"filter\", \"group_by\": \"card_id\","
    " \"when\": \"amount > 500\"},"
    "{\"id\": \"cust_seq\", \"type\": \"sequence\", \"group_by\": \"customer_id\","
    " \"within\": \"30m\", \"steps\": [{\"when\": \"amount < 100\", \"times\": 2},"
    " {\"followed_by\": \"amount > 200\"}]}"
    "]}";

/* Runs the stream whole, then handed over at cuts; @p lr: language rules
 * beside the built-ins. @returns the alerts of the whole run. */
static int handover(const fw_rules *rulesp, const fw_lang_rules *lr);

static void test_handover_at_every_cut(void **state) {
    (void)state;
    fw_rules rules;
    fw_rules_defaults(&rules);
    handover(&rules, NULL);
}

static void test_handover_with_language_rules(void **state) {
    (void)state;
    char err[256];
    fw_rules rules;
    fw_rules_defaults(&rules);
    fw_lang_rules *lr = NULL;
    if (fw_lang_rules_parse_json(lang_json, strlen(lang_json), &rules, &lr, err, sizeof(err)))
        fail_msg("language rules: %s", err);
    int lang = handover(&rules, lr);
    if (lang < 50)
        fail_msg("language rules alerted %d times, want at least 50 for the test to mean "
                 "something", lang);
    fw_lang_rules_destroy(lr);
}

/* The seed detectors written in the language (examples/seed-rules.json), each
 * running instead of its built-in, hand over as the built-ins do. */
static void test_handover_with_seed_rules(void **state) {
    (void)state;
    char err[512], path[1024];
    const char *data = getenv("FW_TEST_DATA");
    snprintf(path, sizeof(path), "%s/../examples/seed-rules.json", data ? data : "tests");
    fw_rules rules;
    fw_rules_defaults(&rules);
    fw_lang_rules *lr = NULL;
    if (fw_lang_rules_load_file(path, &rules, &lr, err, sizeof(err)))
        fail_msg("%s", err);
    handover(&rules, lr);
    fw_lang_rules_destroy(lr);
}

static fw_engine *engine_new(const fw_rules *rules, const fw_lang_rules *lr) {
    char err[256];
    fw_engine *e = fw_engine_new(rules, err, sizeof(err));
    if (!e)
        fail_msg("engine: %s", err);
    if (fw_engine_set_lang(e, lr, err, sizeof(err)))
        fail_msg("engine: %s", err);
    return e;
}

static int count_lang(const alerts *al) {
    int n = 0;
    for (int i = 0; i < al->n; i++)
        n += strstr(al->ids[i], " lang") || strstr(al->ids[i], " acct_") ||
             strstr(al->ids[i], " online_merchant") || strstr(al->ids[i], " card_big") ||
             strstr(al->ids[i], " cust_seq");
    return n;
}

/* The stream into lines[]: few customers and cards, so entities expire and
 * come back within an interval. */
static void make_lines(void) {
    char err[256];
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
}

static int handover(const fw_rules *rulesp, const fw_lang_rules *lr) {
    char err[256];
    make_lines();

    fw_rules rules = *rulesp;
    static alerts whole, parts;
    whole.n = 0;
    fw_engine *one = engine_new(&rules, lr);
    feed(one, 0, NTX, &whole, NULL);
    fw_engine_advance(one, INT64_MAX, &(fw_engine_out){ .opaque = &whole, .alert = on_alert });
    fw_engine_destroy(one);
    assert_true(whole.n > 100);
    qsort(whole.ids, (size_t)whole.n, sizeof(whole.ids[0]), cmp_id);

    for (int cut = 1; cut < NTX; cut += 397) {
        parts.n = 0;
        store s = { 0 };
        fw_engine *a = engine_new(&rules, lr);
        fw_engine_track_changes(a);
        feed(a, 0, cut, &parts, &s);
        fw_engine_changes(a, store_put, &s);
        fw_engine_destroy(a);
        fw_engine *b = engine_new(&rules, lr);
        for (size_t i = 0; i < s.n; i++)
            if (fw_engine_restore(b, (fw_str){ s.items[i].key, s.items[i].keylen },
                                  s.items[i].value, s.items[i].len, err, sizeof(err)))
                fail_msg("cut %d: restore: %s", cut, err);
        feed(b, cut, NTX, &parts, NULL);
        fw_engine_advance(b, INT64_MAX, &(fw_engine_out){ .opaque = &parts, .alert = on_alert });
        fw_engine_destroy(b);
        store_free(&s);
        char what[32];
        snprintf(what, sizeof(what), "cut at %d", cut);
        assert_same_alerts(&whole, &parts, what);
    }
    return count_lang(&whole);
}

typedef struct slot_count {
    store *s;
    int puts, tombstones;
} slot_count;

static void count_slot_put(void *opaque, fw_str key, const void *value, size_t len) {
    slot_count *c = opaque;
    if (key.len && key.ptr[0] == 'b')
        value ? c->puts++ : c->tombstones++;
    store_put(c->s, key, value, len);
}

/* A buffered transaction's changelog record is keyed by a slot that the next
 * one reuses once it is released: releases write no tombstones, and the log
 * holds at most as many such keys as were ever buffered at once. (That a
 * restore drops the released ones, by the watermark, the hand-over tests
 * show: every cut restores from the latest record of each key.) */
static void test_buffered_records_need_no_tombstones(void **state) {
    (void)state;
    make_lines();
    fw_rules rules;
    fw_rules_defaults(&rules);
    fw_engine *e = engine_new(&rules, NULL);
    fw_engine_track_changes(e);
    static alerts al;
    al.n = 0;
    store s = { 0 };
    slot_count c = { .s = &s };
    uint64_t most = 0;
    feed_to(e, 0, NTX, &al, count_slot_put, &c, &most);
    fw_engine_changes(e, count_slot_put, &c);
    size_t keys = 0;
    for (size_t i = 0; i < s.n; i++)
        keys += s.items[i].keylen && s.items[i].key[0] == 'b';
    printf("  %d buffered records written, %d tombstones, %zu keys; at most %llu buffered at a "
           "commit\n", c.puts, c.tombstones, keys, (unsigned long long)most);
    if (c.puts < 100 || c.tombstones != 0 || keys > most)
        fail_msg("%d buffered records (want >= 100), %d tombstones (want 0), %zu keys (want <= "
                 "%llu, the most buffered at once)", c.puts, c.tombstones, keys,
                 (unsigned long long)most);
    fw_engine_destroy(e);
    store_free(&s);
}

/* The changelog of an earlier state version restores: tests/data holds the
 * latest record of every key after the first FIXTURE_CUT records with the
 * native detectors alone, written by version 4 (entities still carried the
 * previous transaction). A fresh
 * engine restored from it and fed the rest raises the alerts of one
 * uninterrupted run. FW_WRITE_FIXTURE=PATH writes the file from this build
 * instead (before a format change). */
#define FIXTURE_CUT 1500

static void hex_put(FILE *f, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", p[i]);
}

static size_t hex_get(const char *hex, unsigned char *out, size_t cap) {
    size_t n = 0;
    unsigned v;
    while (n < cap && sscanf(hex + 2 * n, "%2x", &v) == 1)
        out[n++] = (unsigned char)v;
    return n;
}

static void test_restores_state_version_4(void **state) {
    (void)state;
    char err[256], path[1024];
    const char *data = getenv("FW_TEST_DATA");
    snprintf(path, sizeof(path), "%s/data/changelog-state-v4.hex", data ? data : "tests");
    make_lines();
    fw_rules rules; /* the native detectors alone: theirs is the entity state */
    fw_rules_defaults(&rules);
    for (int r = 0; r < FW_RULE__COUNT; r++)
        rules.common[r].enabled = r == FW_RULE_FAN_IN || r == FW_RULE_FAN_OUT ||
                                  r == FW_RULE_CYCLE || r == FW_RULE_MULE_CASHOUT;
    static alerts whole, parts;
    const char *out = getenv("FW_WRITE_FIXTURE");
    if (out) {
        store s = { 0 };
        fw_engine *a = engine_new(&rules, NULL);
        fw_engine_track_changes(a);
        feed(a, 0, FIXTURE_CUT, &parts, &s);
        fw_engine_changes(a, store_put, &s);
        fw_engine_destroy(a);
        FILE *f = fopen(out, "w");
        assert_non_null(f);
        for (size_t i = 0; i < s.n; i++) {
            if (!s.items[i].value)
                continue;
            hex_put(f, (const unsigned char *)s.items[i].key, s.items[i].keylen);
            fputc(' ', f);
            hex_put(f, (const unsigned char *)s.items[i].value, s.items[i].len);
            fputc('\n', f);
        }
        fclose(f);
        store_free(&s);
        return;
    }
    whole.n = parts.n = 0;
    fw_engine *one = engine_new(&rules, NULL);
    feed(one, 0, NTX, &whole, NULL);
    fw_engine_advance(one, INT64_MAX, &(fw_engine_out){ .opaque = &whole, .alert = on_alert });
    fw_engine_destroy(one);

    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s", path);
    fw_engine *b = engine_new(&rules, NULL);
    static char line[1 << 20];
    static unsigned char key[512], value[1 << 19];
    int entities_v4 = 0, records = 0;
    while (fgets(line, sizeof(line), f)) {
        char *sp = strchr(line, ' ');
        assert_non_null(sp);
        *sp = '\0';
        size_t kn = hex_get(line, key, sizeof(key)), vn = hex_get(sp + 1, value, sizeof(value));
        entities_v4 += key[0] == 'E' && vn > 0 && value[0] == 4;
        records++;
        if (fw_engine_restore(b, (fw_str){ (const char *)key, kn }, value, vn, err,
                              sizeof(err)))
            fail_msg("record %d (key %.*s): %s", records, (int)kn, key, err);
    }
    fclose(f);
    printf("  %d records restored, %d entities of version 4\n", records, entities_v4);
    if (entities_v4 < 10)
        fail_msg("%d entities of version 4 in %s: the test means nothing", entities_v4, path);
    /* The alerts raised before the cut: the first part again, its state dropped. */
    fw_engine *c = engine_new(&rules, NULL);
    feed(c, 0, FIXTURE_CUT, &parts, NULL);
    fw_engine_destroy(c);
    feed(b, FIXTURE_CUT, NTX, &parts, NULL);
    fw_engine_advance(b, INT64_MAX, &(fw_engine_out){ .opaque = &parts, .alert = on_alert });
    fw_engine_destroy(b);
    qsort(whole.ids, (size_t)whole.n, sizeof(whole.ids[0]), cmp_id);
    assert_same_alerts(&whole, &parts, "from the version 4 state");
    printf("  %d alerts, as uninterrupted\n", parts.n);
}

/* Expiry: the whole stream through a tracking engine, then the end of input;
 * every language rule key written on the way is a tombstone at the end, and
 * the state holds none. */
static void test_language_state_expires_to_tombstones(void **state) {
    (void)state;
    char err[256];
    fw_rules rules;
    fw_rules_defaults(&rules);
    fw_lang_rules *lr = NULL;
    if (fw_lang_rules_parse_json(lang_json, strlen(lang_json), &rules, &lr, err, sizeof(err)))
        fail_msg("language rules: %s", err);
    static alerts al;
    al.n = 0;
    store s = { 0 };
    fw_engine *e = engine_new(&rules, lr);
    fw_engine_track_changes(e);
    feed(e, 0, NTX / 2, &al, &s);
    fw_engine_changes(e, store_put, &s);
    size_t held = 0;
    for (size_t i = 0; i < s.n; i++)
        held += s.items[i].key[0] == 'L' && s.items[i].value;
    if (held < 5)
        fail_msg("%zu language rule keys held in the changelog mid-stream, want >= 5", held);
    feed(e, NTX / 2, NTX, &al, &s);
    fw_engine_advance(e, INT64_MAX, &(fw_engine_out){ .opaque = &al, .alert = on_alert });
    fw_engine_changes(e, store_put, &s);
    size_t keys = 0, live = 0;
    for (size_t i = 0; i < s.n; i++)
        if (s.items[i].key[0] == 'L')
            keys++, live += s.items[i].value != NULL;
    if (live)
        fail_msg("%zu of %zu language rule keys still held in the changelog after the end of "
                 "input, want 0", live, keys);
    /* A fresh engine restored from it holds nothing, and a second flush is empty. */
    fw_engine *b = engine_new(&rules, lr);
    for (size_t i = 0; i < s.n; i++)
        if (fw_engine_restore(b, (fw_str){ s.items[i].key, s.items[i].keylen }, s.items[i].value,
                              s.items[i].len, err, sizeof(err)))
            fail_msg("restore: %s", err);
    fw_engine_destroy(b);
    store again = { 0 };
    fw_engine_changes(e, store_put, &again);
    for (size_t i = 0; i < again.n; i++)
        if (again.items[i].key[0] == 'L')
            fail_msg("a language rule key written again after the final flush");
    store_free(&again);
    store_free(&s);
    fw_engine_destroy(e);
    fw_lang_rules_destroy(lr);
}

/* A changed shape restores nothing: records of a part no longer loaded are
 * dropped (and tombstoned when tracking), and read_key refuses another
 * part's bytes. */
static void test_language_state_changed_shape(void **state) {
    (void)state;
    char err[256];
    fw_rules rules;
    fw_rules_defaults(&rules);
    fw_lang_rules *lr = NULL, *lr2 = NULL;
    assert_int_equal(fw_lang_rules_parse_json(lang_json, strlen(lang_json), &rules, &lr, err,
                                              sizeof(err)), FW_OK);
    static alerts al;
    al.n = 0;
    store s = { 0 };
    fw_engine *e = engine_new(&rules, lr);
    fw_engine_track_changes(e);
    feed(e, 0, 600, &al, &s);
    fw_engine_changes(e, store_put, &s);
    fw_engine_destroy(e);
    /* The same rules with acct_burst's lookback changed: its part (shared with
     * acct_spread) is another shape. */
    char json2[sizeof(lang_json)];
    memcpy(json2, lang_json, sizeof(lang_json));
    char *lb = strstr(json2, "\"10m\"");
    assert_non_null(lb);
    lb[1] = '2'; /* "20m" */
    assert_int_equal(fw_lang_rules_parse_json(json2, strlen(json2), &rules, &lr2, err,
                                              sizeof(err)), FW_OK);
    fw_engine *b = engine_new(&rules, lr2);
    fw_engine_track_changes(b);
    size_t lkeys = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (s.items[i].key[0] != 'L' || !s.items[i].value)
            continue;
        lkeys++;
        if (fw_engine_restore(b, (fw_str){ s.items[i].key, s.items[i].keylen }, s.items[i].value,
                              s.items[i].len, err, sizeof(err)))
            fail_msg("restore: %s", err);
    }
    assert_true(lkeys > 0);
    store out = { 0 };
    fw_engine_changes(b, store_put, &out);
    size_t tombs = 0;
    for (size_t i = 0; i < out.n; i++)
        tombs += out.items[i].key[0] == 'L' && !out.items[i].value;
    /* The changed part's keys are dropped and tombstoned; the other parts' kept. */
    if (tombs == 0 || tombs >= lkeys)
        fail_msg("%zu tombstones for %zu restored language rule keys, want some but not all",
                 tombs, lkeys);
    fw_engine_destroy(b);
    store_free(&out);

    /* read_key refuses another part's bytes. */
    fw_lang_state *st = fw_lang_state_new(lr);
    fw_lang_state *st2 = fw_lang_state_new(lr2);
    assert_non_null(st);
    assert_non_null(st2);
    size_t p1 = fw_lang_state_find_part(st, fw_lang_state_part_id(st, 0));
    assert_int_equal(p1, 0);
    assert_true(fw_lang_state_part_id(st, 0) != fw_lang_state_part_id(st2, 0));
    for (size_t i = 0; i < s.n; i++) {
        if (s.items[i].key[0] != 'L' || !s.items[i].value)
            continue;
        uint64_t id = 0;
        for (int j = 0; j < 8; j++)
            id = id << 8 | (unsigned char)s.items[i].key[1 + j];
        if (id != fw_lang_state_part_id(st, 0))
            continue;
        fw_str gk = { s.items[i].key + 9, s.items[i].keylen - 9 };
        assert_int_equal(fw_lang_state_read_key(st, 0, gk, s.items[i].value, s.items[i].len,
                                                err, sizeof(err)), FW_OK);
        fw_err rc = fw_lang_state_read_key(st2, 0, gk, s.items[i].value, s.items[i].len, err,
                                           sizeof(err));
        if (rc != FW_ERR_INVALID || !strstr(err, "shape"))
            fail_msg("read_key of another shape's bytes: %d (%s), want FW_ERR_INVALID", rc, err);
        break;
    }
    fw_lang_state_destroy(st);
    fw_lang_state_destroy(st2);
    store_free(&s);
    fw_lang_rules_destroy(lr);
    fw_lang_rules_destroy(lr2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handover_at_every_cut),
        cmocka_unit_test(test_buffered_records_need_no_tombstones),
        cmocka_unit_test(test_handover_with_language_rules),
        cmocka_unit_test(test_handover_with_seed_rules),
        cmocka_unit_test(test_language_state_expires_to_tombstones),
        cmocka_unit_test(test_restores_state_version_4),
        cmocka_unit_test(test_language_state_changed_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
