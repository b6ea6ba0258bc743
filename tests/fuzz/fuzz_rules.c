/* fuzz_rules.c — libFuzzer target for rules files (rules_file.c) and, through
 * them and directly, the JSON parser (json.c). Checks what must hold for any
 * input: the JSON parser never runs out of an arena of fw_json_arena_bound(n)
 * bytes, an accepted tree is well-formed (positions, counts, UTF-8, finite
 * numbers, depth), a tiny arena fails cleanly; a rejected rules document leaves
 * the rule set untouched and explains itself in printable ASCII with a
 * position; an accepted one validates (durations > 0, slides divide windows)
 * and survives write -> parse unchanged. Violations abort. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
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
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *in = (const char *)data;
    fuzz_json(in, size);
    fuzz_rules(in, size);
    return 0;
}
