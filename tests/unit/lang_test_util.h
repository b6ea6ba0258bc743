/* lang_test_util.h — scaffolding shared by the language tests (test_lang_rules.c,
 * test_lang_seq.c, test_lang_score.c, test_lang_window.c, test_lang_prev.c):
 * compiling a rules JSON into fw_lang_rules, an alert written as
 * "entity:ev1,ev2,...;", handing a state over key by key through the changelog
 * bytes, truncated bytes refused, and the cookbook blocks of
 * docs/rule-language.md. What a test's records, sinks and rules look like stays
 * in its own file. Include after cmocka.h. */
#ifndef FW_TEST_LANG_TEST_UTIL_H
#define FW_TEST_LANG_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang_rules.h"
#include "rules_file.h"

/* The document's time and limits first, then its language rules. */
static inline fw_err lang_load(const char *json, fw_lang_rules **rs, char *err, size_t size) {
    fw_rules base;
    fw_rules_defaults(&base);
    fw_err rc = fw_rules_parse_json(&base, json, strlen(json), err, size);
    if (rc != FW_OK)
        return rc;
    return fw_lang_rules_parse_json(json, strlen(json), &base, rs, err, size);
}

static inline fw_lang_rules *lang_load_ok(const char *json) {
    fw_lang_rules *rs = NULL;
    char err[1024];
    fw_err rc = lang_load(json, &rs, err, sizeof(err));
    if (rc != FW_OK)
        fprintf(stderr, "load failed: %s\n", err);
    assert_int_equal(rc, FW_OK);
    return rs;
}

/* Appends @p a to the string @p got as "entity:ev1,ev2,...;". */
static inline void lang_alert_append(char *got, size_t size, const fw_lang_alert *a) {
    size_t o = strlen(got);
    o += (size_t)snprintf(got + o, size - o, "%.*s:", (int)a->entity.len, a->entity.ptr);
    for (size_t i = 0; i < a->nevidence; i++)
        o += (size_t)snprintf(got + o, size - o, "%s%.*s", i ? "," : "",
                              (int)a->evidence[i].id.len, a->evidence[i].id.ptr);
    snprintf(got + o, size - o, ";");
}

/* A state handed over key by key, as the changelog does on a rebalance. */
typedef struct lang_snap {
    fw_lang_state *from, *to;
    fw_buf buf;
} lang_snap;

static inline void lang_copy_key(void *opaque, size_t part, fw_str key) {
    lang_snap *s = opaque;
    char err[256];
    fw_buf_reset(&s->buf);
    assert_true(fw_lang_state_write_key(s->from, part, key, &s->buf));
    fw_err rc = fw_lang_state_read_key(s->to, part, key, s->buf.data, s->buf.len, err, sizeof(err));
    if (rc != FW_OK)
        fprintf(stderr, "read_key: %s\n", err);
    assert_int_equal(rc, FW_OK);
}

/* Every key of @p from written and read into @p to. */
static inline void lang_hand_over(fw_lang_state *from, fw_lang_state *to) {
    lang_snap s = { from, to, { 0 } };
    fw_buf_init(&s.buf, 0);
    fw_lang_state_foreach(from, lang_copy_key, &s);
    fw_buf_fini(&s.buf);
}

/* What fw_lang_rules_write_json writes of @p rs (with @p indent), loaded
 * back in a document with dedupe off, is written again byte for byte. */
static inline void lang_assert_writes_back(const fw_lang_rules *rs, const char *indent) {
    fw_buf b, c;
    fw_buf_init(&b, 0);
    fw_buf_init(&c, 0);
    assert_true(fw_buf_puts(&b, "{\"time\": {\"dedupe_window\": \"0s\"}, \"rules\": [") &&
                fw_lang_rules_write_json(rs, &b, indent) && fw_buf_puts(&b, "]}") &&
                fw_buf_putc(&b, '\0'));
    fw_lang_rules *again = lang_load_ok(b.data);
    assert_true(fw_lang_rules_write_json(again, &c, indent));
    fw_buf_reset(&b);
    assert_true(fw_lang_rules_write_json(rs, &b, indent));
    assert_int_equal(b.len, c.len);
    assert_memory_equal(b.data, c.data, b.len);
    fw_buf_fini(&b);
    fw_buf_fini(&c);
    fw_lang_rules_destroy(again);
}

/* Feeds records [@p from, @p from + @p n) of the test's own table @p records
 * into @p st, appending each alert's text to @p got. */
typedef void lang_feed_text_fn(const void *records, fw_lang_state *st, size_t from, size_t n,
                               char *got, size_t size);

/* Defines feed_text(), a lang_feed_text_fn over the test's own record type
 * @p rec_t, a sink type @p sink_t with a "char got[]" member, and its
 * feed(st, records, n, sink): the types are the test's, the carrying is not. */
#define LANG_FEED_TEXT(rec_t, sink_t)                                                        \
    static void feed_text(const void *r, fw_lang_state *st, size_t from, size_t n, char *got, \
                          size_t size) {                                                     \
        sink_t s = { 0 };                                                                    \
        snprintf(s.got, sizeof(s.got), "%s", got);                                           \
        feed(st, (const rec_t *)r + from, n, &s);                                            \
        snprintf(got, size, "%s", s.got);                                                    \
    }

/* Handing the state over at every cut of @p n records gives the alerts of one
 * run, @p want. */
static inline void lang_assert_every_cut(const fw_lang_rules *rs, const void *records, size_t n,
                                         lang_feed_text_fn *feed, const char *want) {
    for (size_t cut = 0; cut <= n; cut++) {
        fw_lang_state *a = fw_lang_state_new(rs), *b = fw_lang_state_new(rs);
        char got[4096] = "";
        feed(records, a, 0, cut, got, sizeof(got));
        lang_hand_over(a, b);
        feed(records, b, cut, n - cut, got, sizeof(got));
        if (strcmp(got, want))
            fprintf(stderr, "cut %zu: got %s, want %s\n", cut, got, want);
        assert_string_equal(got, want);
        fw_lang_state_destroy(a);
        fw_lang_state_destroy(b);
    }
}

/* @p key of part @p part written after the first @p n records, then read
 * into a new state one byte short: refused, with an error containing @p want. */
static inline void lang_assert_truncated_refused(const fw_lang_rules *rs, const void *records,
                                                 size_t n, lang_feed_text_fn *feed, size_t part,
                                                 const char *key, const char *want) {
    fw_lang_state *a = fw_lang_state_new(rs), *b = fw_lang_state_new(rs);
    char got[4096] = "";
    feed(records, a, 0, n, got, sizeof(got));
    fw_buf buf;
    char err[256];
    fw_buf_init(&buf, 0);
    assert_true(fw_lang_state_write_key(a, part, fw_str_c(key), &buf));
    assert_true(buf.len > 4);
    assert_int_equal(fw_lang_state_read_key(b, part, fw_str_c(key), buf.data, buf.len - 1, err,
                                            sizeof(err)), FW_ERR_INVALID);
    printf("%s\n", err);
    assert_non_null(strstr(err, want));
    fw_buf_fini(&buf);
    fw_lang_state_destroy(a);
    fw_lang_state_destroy(b);
}

/* ---- the cookbook of docs/rule-language.md ---- */

/* docs/rule-language.md (malloc'd), found from $FW_TEST_DATA (tests/); the
 * case fails, saying where it looked, when the page cannot be read. */
static inline char *lang_read_cookbook(void) {
    const char *data = getenv("FW_TEST_DATA");
    char path[1024];
    snprintf(path, sizeof(path), "%s/../docs/rule-language.md", data ? data : "tests");
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("  cannot read %s\n", path);
        fail();
    }
    char *doc = malloc(1 << 20);
    assert_non_null(doc);
    size_t n = fread(doc, 1, (1 << 20) - 1, f);
    doc[n] = '\0';
    fclose(f);
    return doc;
}

/* The JSON block following the cookbook heading that contains @p marker. */
static inline char *lang_cookbook_block(const char *doc, const char *marker) {
    const char *h = strstr(doc, marker);
    assert_non_null(h);
    const char *open = strstr(h, "```json\n");
    assert_non_null(open);
    open += 8;
    const char *close = strstr(open, "```");
    assert_non_null(close);
    char *out = malloc((size_t)(close - open) + 1);
    memcpy(out, open, (size_t)(close - open));
    out[close - open] = '\0';
    return out;
}

#endif
