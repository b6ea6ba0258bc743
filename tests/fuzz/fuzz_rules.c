/* fuzz_rules.c — libFuzzer target for rules files (rules_file.c) and, through
 * them and directly, the JSON parser (json.c). Checks what must hold for any
 * input: the JSON parser never runs out of an arena of fw_json_arena_bound(n)
 * bytes, an accepted tree is well-formed (positions, counts, UTF-8, finite
 * numbers, depth), a tiny arena fails cleanly; a rejected rules document leaves
 * the rule set untouched and explains itself in printable ASCII with a
 * position; an accepted one validates (durations > 0, slides divide windows)
 * and survives write -> parse unchanged. Its language rules (lang_rules.c)
 * load or explain themselves the same way, write back to what loads to the same
 * text, and evaluate on a few transactions, expire and serialize without
 * fault. Violations abort. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "lang_rules.h"
#include "rules_file.h"

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "fuzz_rules: check failed: %s (%s:%d)\n", #cond, __FILE__,  \
                    __LINE__);                                                          \
            abort();                                                                    \
        }                                                                               \
    } while (0)

#define TINY_ARENA 512

static void check_message(const char *err, size_t size) {
    size_t len = strnlen(err, size);
    CHECK(len > 0 && len < size);
    for (size_t i = 0; i < len; i++)
        CHECK(err[i] >= 0x20 && err[i] <= 0x7e);
}

static void check_tree(const fw_json *v, const fw_json *parent, int depth) {
    CHECK(depth <= FW_JSON_MAX_DEPTH);
    CHECK(v->line >= 1 && v->column >= 1);
    bool member = parent && parent->type == FW_JSON_OBJECT;
    CHECK(member == (v->key.ptr != NULL));
    CHECK(!member || (v->key_line >= 1 && v->key_column >= 1 &&
                      (v->key_line < v->line ||
                       (v->key_line == v->line && v->key_column < v->column))));
    if (member)
        CHECK(fw_utf8_valid(v->key.ptr, v->key.len));
    switch (v->type) {
    case FW_JSON_NULL:
    case FW_JSON_BOOL:
        break;
    case FW_JSON_NUMBER:
        CHECK(isfinite(v->number) && v->str.ptr && v->str.len > 0);
        break;
    case FW_JSON_STRING:
        CHECK(v->str.ptr && fw_utf8_valid(v->str.ptr, v->str.len));
        break;
    case FW_JSON_ARRAY:
    case FW_JSON_OBJECT: {
        uint32_t n = 0;
        FW_JSON_FOREACH(e, v) {
            check_tree(e, v, depth + 1);
            n++;
        }
        CHECK(n == v->count);
        CHECK((n == 0) == (v->child == NULL));
        if (v->type == FW_JSON_OBJECT)
            FW_JSON_FOREACH(e, v)
                CHECK(fw_json_get_str(v, e->key) == e); /* keys are unique */
        break;
    }
    default:
        CHECK(!"unknown node type");
    }
}

static void fuzz_json(const char *in, size_t size) {
    char err[512];
    fw_arena a;
    fw_json *root;
    if (!fw_arena_init(&a, fw_json_arena_bound(size)))
        return;
    fw_err rc = fw_json_parse(in, size, &a, &root, err, sizeof(err));
    CHECK(rc == FW_OK || rc == FW_ERR_INVALID);
    if (rc == FW_OK) {
        CHECK(root);
        check_tree(root, NULL, 0);
    } else {
        CHECK(!root);
        check_message(err, sizeof(err));
        CHECK(strstr(err, "(line ") != NULL);
    }
    fw_arena_fini(&a);

    /* A tiny arena: the same verdict, or a clean FW_ERR_LIMIT. */
    fw_arena tiny;
    if (!fw_arena_init(&tiny, TINY_ARENA))
        return;
    fw_err rc2 = fw_json_parse(in, size, &tiny, &root, err, sizeof(err));
    CHECK(rc2 == rc || rc2 == FW_ERR_LIMIT);
    CHECK(tiny.used <= tiny.cap);
    if (rc2 != FW_OK)
        check_message(err, sizeof(err));
    fw_arena_fini(&tiny);
}

static void check_rules(const fw_rules *r) {
    char err[512];
    CHECK(fw_rules_validate(r, err, sizeof(err)) == FW_OK);
    const int64_t durations[] = { r->velocity.window_ms, r->velocity.slide_ms,
                                  r->small_then_large.within_ms, r->rapid_small.within_ms,
                                  r->location_jump.within_ms, r->account_takeover.within_ms,
                                  r->structuring.window_ms, r->risk_score.window_ms,
                                  r->risk_score.slide_ms };
    for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++)
        CHECK(durations[i] > 0 && durations[i] <= FW_RULES_MAX_DURATION_MS);
    CHECK(r->time.max_out_of_orderness_ms >= 0 && r->time.allowed_lateness_ms >= 0 &&
          r->time.dedupe_window_ms >= 0);
    CHECK(r->velocity.slide_ms <= r->velocity.window_ms &&
          r->velocity.window_ms % r->velocity.slide_ms == 0);
    CHECK(r->risk_score.slide_ms <= r->risk_score.window_ms &&
          r->risk_score.window_ms % r->risk_score.slide_ms == 0);
    CHECK(r->velocity.min_count >= 1 && r->rapid_small.count >= 1);
    CHECK(r->limits.max_entities >= 1 && r->limits.max_window_events >= 1);
    const double amounts[] = { r->high_amount.limit, r->velocity.min_amount,
                               r->small_then_large.small_below, r->small_then_large.large_above,
                               r->rapid_small.below, r->account_takeover.min_amount,
                               r->structuring.below, r->structuring.total_above };
    for (size_t i = 0; i < sizeof(amounts) / sizeof(amounts[0]); i++)
        CHECK(isfinite(amounts[i]) && amounts[i] >= 0);
    for (int i = 0; i < FW_RULE__COUNT; i++)
        CHECK(r->common[i].version >= 1 && (unsigned)r->common[i].severity < FW_SEV__COUNT);
}

static void on_lang_alert(void *opaque, const fw_lang_alert *a) {
    size_t *n = opaque;
    CHECK(a->rule && a->entity.len > 0 && a->nevidence <= FW_LANG_EVIDENCE_MAX);
    (*n)++;
}

static void copy_key(void *opaque, size_t rule, fw_str key) {
    fw_lang_state **st = opaque;
    fw_buf b;
    char err[256];
    fw_buf_init(&b, 0);
    CHECK(fw_lang_state_write_key(st[0], rule, key, &b));
    CHECK(fw_lang_state_read_key(st[1], rule, key, b.data, b.len, err, sizeof(err)) == FW_OK);
    fw_buf_fini(&b);
}

static void fuzz_lang(const char *in, size_t size, const fw_rules *r) {
    fw_lang_rules *rs = NULL, *again = NULL;
    char err[1024];
    fw_err rc = fw_lang_rules_parse_json(in, size, r, &rs, err, sizeof(err));
    if (rc != FW_OK) {
        CHECK(rc == FW_ERR_INVALID || rc == FW_ERR_LIMIT);
        CHECK(!rs);
        check_message(err, sizeof(err));
        return;
    }
    /* show's form loads to the same rules (compared by writing again). */
    fw_buf out, out2;
    fw_buf_init(&out, (size_t)1 << 22);
    fw_buf_init(&out2, (size_t)1 << 22);
    CHECK(fw_buf_puts(&out, "{\"rules\": [") && fw_lang_rules_write_json(rs, &out, "  ") &&
          fw_buf_puts(&out, "], \"lists\": {") && fw_lang_lists_write_json(rs, &out, "") &&
          fw_buf_puts(&out, "}}"));
    rc = fw_lang_rules_parse_json(out.data, out.len, r, &again, err, sizeof(err));
    if (rc != FW_OK)
        fprintf(stderr, "fuzz_rules: written language rules rejected: %s\n%.*s\n", err,
                (int)out.len, out.data);
    CHECK(rc == FW_OK && again->n == rs->n);
    CHECK(fw_buf_puts(&out2, "{\"rules\": [") && fw_lang_rules_write_json(again, &out2, "  ") &&
          fw_buf_puts(&out2, "], \"lists\": {") && fw_lang_lists_write_json(again, &out2, "") &&
          fw_buf_puts(&out2, "}}"));
    CHECK(out.len == out2.len && !memcmp(out.data, out2.data, out.len));
    fw_buf_fini(&out);
    fw_buf_fini(&out2);
    fw_lang_rules_destroy(again);

    /* A few records through every rule; then expiry and the changelog bytes. */
    fw_lang_state *st[2] = { fw_lang_state_new(rs), fw_lang_state_new(rs) };
    CHECK(st[0] && st[1]);
    static const char *const amounts[] = { "0", "1000.5", "25000", "9999.9999", "3" };
    size_t alerts = 0;
    for (int i = 0; i < 12; i++) {
        fw_txn t = { 0 };
        t.transaction_id = fw_str_c(i % 2 ? "t-odd" : "t-even");
        t.ts_ms = 1710513000000LL + (int64_t)i * 600000;
        t.amount_raw = fw_str_c(amounts[i % 5]);
        t.amount = strtod(amounts[i % 5], NULL);
        t.account_id = fw_str_c(i % 3 ? "A1" : "A2");
        t.counterparty_id = i % 4 ? fw_str_c("C1") : FW_STR_NULL;
        t.merchant_id = fw_str_c(i % 2 ? "M1" : "M2");
        t.merchant_category = fw_str_c(i % 2 ? "crypto" : "grocery");
        t.type = i % 2 ? FW_TXN_TRANSFER : FW_TXN_PURCHASE;
        t.country = fw_str_c(i % 3 ? "FR" : "US");
        if (i % 2 == 0) { /* prev., distance_km, speed_kmh */
            t.lat = 48.8 - i;
            t.lon = 2.3 * i;
            t.has = FW_TXN_HAS_LAT | FW_TXN_HAS_LON;
        }
        fw_lang_input lin = { .txn = &t, .behind = i == 7 }; /* one behind the watermark */
        fw_lang_eval(st[0], &lin, t.ts_ms - 10000, on_lang_alert, &alerts);
    }
    fw_lang_state_foreach(st[0], copy_key, st);
    fw_lang_stats a, b;
    fw_lang_state_stats(st[0], &a);
    fw_lang_state_stats(st[1], &b);
    if (a.keys != b.keys || a.events != b.events)
        fprintf(stderr, "fuzz_rules: state %llu keys %llu events, copied %llu keys %llu events\n", (unsigned long long)a.keys, (unsigned long long)a.events, (unsigned long long)b.keys, (unsigned long long)b.events);
    CHECK(a.keys == b.keys && a.events == b.events);
    fw_lang_expire(st[0], INT64_MAX / 2);
    fw_lang_state_stats(st[0], &a);
    CHECK(a.keys == 0 && a.events == 0);
    fw_lang_state_destroy(st[0]);
    fw_lang_state_destroy(st[1]);
    fw_lang_rules_destroy(rs);
}

static void fuzz_rules(const char *in, size_t size) {
    fw_rules def, r, back;
    char err[1024];
    fw_rules_defaults(&def);
    memcpy(&r, &def, sizeof(r));
    fw_err rc = fw_rules_parse_json(&r, in, size, err, sizeof(err));
    if (rc != FW_OK) {
        CHECK(rc == FW_ERR_INVALID || rc == FW_ERR_LIMIT);
        CHECK(memcmp(&r, &def, sizeof(r)) == 0);
        check_message(err, sizeof(err));
        if (rc == FW_ERR_INVALID)
            CHECK(strstr(err, "(line ") != NULL);
        return;
    }
    check_rules(&r);

    /* Deterministic, and the written form reads back identically. */
    memcpy(&back, &def, sizeof(back));
    CHECK(fw_rules_parse_json(&back, in, size, err, sizeof(err)) == FW_OK);
    CHECK(memcmp(&back, &r, sizeof(r)) == 0);
    fw_buf out;
    fw_buf_init(&out, (size_t)1 << 20);
    CHECK(fw_rules_write_json(&r, &out));
    memcpy(&back, &def, sizeof(back));
    rc = fw_rules_parse_json(&back, out.data, out.len, err, sizeof(err));
    if (rc != FW_OK)
        fprintf(stderr, "fuzz_rules: written rules rejected: %s\n%s", err, out.data);
    CHECK(rc == FW_OK);
    CHECK(memcmp(&back, &r, sizeof(r)) == 0);
    fw_buf_fini(&out);
    fuzz_lang(in, size, &r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *in = (const char *)data;
    fuzz_json(in, size);
    fuzz_rules(in, size);
    return 0;
}
