/* test_json.c — table-driven tests of the JSON DOM parser (json.c): every
 * accepted form checked against a canonical re-serialisation, every rejection
 * with its message and line:column, node positions, lookups, integers, the
 * arena bound, duplicate keys in large objects and the nesting limit. Inputs
 * are parsed from exact-size heap copies without a NUL, so AddressSanitizer
 * flags any read past the document. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "json.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* One parse: the input copy and the arena stay alive as long as the tree. */
typedef struct parsed {
    char *buf;
    size_t n;
    fw_arena arena;
    fw_json *root;
    fw_err rc;
    char err[512];
} parsed;

static void parse_n(parsed *p, const char *in, size_t n, size_t arena_cap) {
    p->n = n;
    p->buf = malloc(n ? n : 1);
    assert_non_null(p->buf);
    memcpy(p->buf, in, n);
    assert_true(fw_arena_init(&p->arena, arena_cap ? arena_cap : fw_json_arena_bound(n)));
    p->rc = fw_json_parse(p->buf, n, &p->arena, &p->root, p->err, sizeof(p->err));
}

static void parse(parsed *p, const char *in) { parse_n(p, in, strlen(in), 0); }

/* Element i of an array (linear), NULL when out of range or not an array. */
static const fw_json *json_at(const fw_json *arr, size_t i) {
    if (!arr || arr->type != FW_JSON_ARRAY)
        return NULL;
    FW_JSON_FOREACH(e, arr)
        if (i-- == 0)
            return e;
    return NULL;
}

static void done(parsed *p) {
    fw_arena_fini(&p->arena);
    free(p->buf);
}

/* Compact re-serialisation: numbers as written, strings re-escaped. */
static void canon(fw_buf *b, const fw_json *v) {
    switch (v->type) {
    case FW_JSON_NULL: fw_buf_puts(b, "null"); break;
    case FW_JSON_BOOL: fw_buf_puts(b, v->boolean ? "true" : "false"); break;
    case FW_JSON_NUMBER: fw_buf_append(b, v->str.ptr, v->str.len); break;
    case FW_JSON_STRING: fw_buf_json_str(b, v->str); break;
    case FW_JSON_ARRAY:
    case FW_JSON_OBJECT: {
        fw_buf_putc(b, v->type == FW_JSON_ARRAY ? '[' : '{');
        uint32_t count = 0;
        FW_JSON_FOREACH(e, v) {
            if (count++)
                fw_buf_putc(b, ',');
            if (v->type == FW_JSON_OBJECT) {
                fw_buf_json_str(b, e->key);
                fw_buf_putc(b, ':');
            }
            canon(b, e);
        }
        assert_int_equal(count, v->count);
        fw_buf_putc(b, v->type == FW_JSON_ARRAY ? ']' : '}');
        break;
    }
    }
}

/* ---- accepted documents ---- */

typedef struct accept_case {
    const char *in;
    const char *canon;
} accept_case;

static const accept_case accepts[] = {
    { "null", "null" },
    { "true", "true" },
    { "false", "false" },
    { " \t\r\n 0 \n", "0" },
    { "-0", "-0" },
    { "12345678901234567890", "12345678901234567890" },
    { "1.5e10", "1.5e10" },
    { "1E+2", "1E+2" },
    { "-1.0e-3", "-1.0e-3" },
    { "1e-400", "1e-400" },            /* underflow to 0 is still a number */
    { "1.7976931348623157e308", "1.7976931348623157e308" },
    { "\"\"", "\"\"" },
    { "\"abc\"", "\"abc\"" },
    { "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", "\"a\\\"b\\\\c/d\\b\\f\\n\\r\\t\"" },
    { "\"\\u00e9\\u00E9\"", "\"\xc3\xa9\xc3\xa9\"" },
    { "\"\\u20ac\"", "\"\xe2\x82\xac\"" },
    { "\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"" },
    { "\"\\u0000x\"", "\"\\u0000x\"" },
    { "\"\xe6\x97\xa5\xe6\x9c\xac\"", "\"\xe6\x97\xa5\xe6\x9c\xac\"" },
    { "\"\xf4\x8f\xbf\xbf\"", "\"\xf4\x8f\xbf\xbf\"" },    /* U+10FFFF */
    { "[]", "[]" },
    { "{}", "{}" },
    { "[ ]", "[]" },
    { "{ \n }", "{}" },
    { "[1,[2,[3,[]]]]", "[1,[2,[3,[]]]]" },
    { "{\"a\":{\"b\":[true,false,null]},\"c\":\"d\"}", "{\"a\":{\"b\":[true,false,null]},\"c\":\"d\"}" },
    { "{\r\n  \"a\" : 1 ,\r\n  \"b\" :\t[ 1 , 2 ]\r\n}\r\n", "{\"a\":1,\"b\":[1,2]}" },
    { "\xef\xbb\xbf{\"bom\":true}", "{\"bom\":true}" },
    { "{\"\":0,\"a\\u0000\":1,\"a\":2}", "{\"\":0,\"a\\u0000\":1,\"a\":2}" }, /* distinct keys */
    { "{\"\\u0061\":1,\"b\":2}", "{\"a\":1,\"b\":2}" },
};

static void test_accepts(void **state) {
    (void)state;
    for (size_t i = 0; i < N(accepts); i++) {
        parsed p;
        parse(&p, accepts[i].in);
        if (p.rc != FW_OK)
            fail_msg("[%zu] rejected %s: %s", i, accepts[i].in, p.err);
        fw_buf b;
        fw_buf_init(&b, 0);
        canon(&b, p.root);
        if (strcmp(b.data, accepts[i].canon))
            fail_msg("[%zu] %s\n  got      %s\n  expected %s", i, accepts[i].in, b.data,
                     accepts[i].canon);
        fw_buf_fini(&b);
        done(&p);
    }
}

/* ---- rejected documents ---- */

typedef struct reject_case {
    const char *name;
    const char *in;
    const char *msg;   /* substring of the error */
    const char *where; /* "(line L, column C)" */
} reject_case;

static const reject_case rejects[] = {
    { "empty", "", "expected a value, got end of input", "(line 1, column 1)" },
    { "blank", " \n ", "expected a value, got end of input", "(line 2, column 2)" },
    { "trailing comma object", "{\"a\":1,}", "no trailing comma", "(line 1, column 8)" },
    { "trailing comma array", "[1,]", "no trailing comma", "(line 1, column 4)" },
    { "missing comma", "[1 2]", "expected ',' or ']' after an array element, got '2'",
      "(line 1, column 4)" },
    { "missing colon", "{\"a\" 1}", "expected ':' after the key \"a\", got '1'",
      "(line 1, column 6)" },
    { "bare key", "{a:1}", "expected a key in double quotes, got 'a'", "(line 1, column 2)" },
    { "single quotes", "{'a':1}", "JSON strings use double quotes", "(line 1, column 2)" },
    { "single quoted value", "['a']", "JSON strings use double quotes", "(line 1, column 2)" },
    { "unclosed object", "{\"a\":1", "expected ',' or '}' after an object member, got end of input",
      "(line 1, column 7)" },
    { "unclosed array", "[1", "expected ',' or ']'", "(line 1, column 3)" },
    { "missing value", "{\"a\":}", "expected a value, got '}'", "(line 1, column 6)" },
    { "leading zero", "[01]", "leading zero", "(line 1, column 2)" },
    { "minus alone", "[-]", "expected a digit after '-', got ']'", "(line 1, column 3)" },
    { "minus letter", "-x", "expected a digit after '-', got 'x'", "(line 1, column 2)" },
    { "dot no digit", "[1.]", "expected a digit after '.' in a number", "(line 1, column 4)" },
    { "exponent no digit", "[1e]", "expected a digit in the exponent", "(line 1, column 4)" },
    { "exponent sign only", "1e+", "expected a digit in the exponent of a number, got end of input",
      "(line 1, column 4)" },
    { "leading dot", "[.5]", "a JSON number starts with '-' or a digit", "(line 1, column 2)" },
    { "plus", "+1", "a JSON number starts with '-' or a digit", "(line 1, column 1)" },
    { "hex", "0x1F", "expected end of input after the value, got 'x1F'", "(line 1, column 2)" },
    { "NaN", "[NaN]", "JSON has no NaN or Infinity", "(line 1, column 2)" },
    { "Infinity", "-Infinity", "expected a digit after '-'", "(line 1, column 2)" },
    { "True", "True", "JSON literals are lowercase", "(line 1, column 1)" },
    { "None", "None", "use null", "(line 1, column 1)" },
    { "partial literal", "nul", "expected a value, got 'nul'", "(line 1, column 1)" },
    { "literal with tail", "truex", "expected a value, got 'truex'", "(line 1, column 1)" },
    { "out of range", "[1e999]", "number out of range", "(line 1, column 2)" },
    { "negative out of range", "-1e400", "number out of range", "(line 1, column 1)" },
    { "unterminated string", "\"abc", "unterminated string", "(line 1, column 1)" },
    { "unterminated after escape", "\"ab\\", "unterminated string", "(line 1, column 1)" },
    { "escaped quote only", "\"ab\\\"", "unterminated string", "(line 1, column 1)" },
    { "invalid escape", "\"a\\qb\"", "invalid escape '\\q'", "(line 1, column 3)" },
    { "escape of control", "\"a\\\x01\"", "'\\' followed by byte 0x01", "(line 1, column 3)" },
    { "short \\u", "\"\\u12\"", "expected 4 hex digits", "(line 1, column 2)" },
    { "bad hex \\u", "\"\\u12G4\"", "expected 4 hex digits", "(line 1, column 2)" },
    { "lone high surrogate", "\"\\ud800\"", "lone high surrogate \\uD800", "(line 1, column 2)" },
    { "high then letter", "\"\\ud800\\u0041\"", "lone high surrogate", "(line 1, column 2)" },
    { "high then high", "\"x\\ud800\\ud800\"", "lone high surrogate", "(line 1, column 3)" },
    { "lone low surrogate", "\"\\udc00\"", "lone low surrogate \\uDC00", "(line 1, column 2)" },
    { "control char", "\"a\x01\"", "control character U+0001", "(line 1, column 3)" },
    { "raw newline", "{\"a\":\"x\ny\"}", "control character U+000A", "(line 1, column 8)" },
    { "raw tab", "\"\t\"", "control character U+0009", "(line 1, column 2)" },
    { "invalid utf8 byte", "\"\xff\"", "invalid UTF-8 in a string (byte 0xFF)", "(line 1, column 2)" },
    { "truncated utf8", "[\"ab\xc3\"]", "invalid UTF-8", "(line 1, column 5)" },
    { "utf8 surrogate", "\"\xed\xa0\x80\"", "invalid UTF-8", "(line 1, column 2)" },
    { "overlong utf8", "\"\xc0\x80\"", "invalid UTF-8", "(line 1, column 2)" },
    { "above U+10FFFF", "\"\xf4\x90\x80\x80\"", "invalid UTF-8", "(line 1, column 2)" },
    { "stray byte", "\x80", "expected a value, got byte 0x80", "(line 1, column 1)" },
    { "duplicate key", "{\"a\":1,\"a\":2}", "duplicate key \"a\" in an object (first at line 1, column 2)",
      "(line 1, column 8)" },
    { "duplicate via escape", "{\"a\":1,\"\\u0061\":2}", "duplicate key \"a\"", "(line 1, column 8)" },
    { "trailing garbage", "{} x", "expected end of input after the value, got 'x'",
      "(line 1, column 4)" },
    { "two values", "1 2", "expected end of input after the value, got '2'", "(line 1, column 3)" },
    { "trailing comment", "[1] // c", "expected end of input after the value, got '/'",
      "(line 1, column 5)" },
    { "leading comment", "/* c */ {}", "JSON has no comments", "(line 1, column 1)" },
    { "nul byte", "[1,\0]", "expected a value, got byte 0x00", "(line 1, column 4)" },
    { "multi-line", "{\n  \"a\": [1,\n    2,,\n  ]\n}", "expected a value, got ','",
      "(line 3, column 7)" },
    { "crlf lines", "{\r\n\"a\":1,\r\n\"b\" 2}", "expected ':'", "(line 3, column 5)" },
    { "utf8 columns", "{\"\xc3\xa9\xe6\x97\xa5\": x}", "expected a value, got 'x'",
      "(line 1, column 8)" },
    { "bom not a column", "\xef\xbb\xbf x", "expected a value, got 'x'", "(line 1, column 2)" },
};

static void check_reject(const char *name, const char *in, size_t n, const char *msg,
                         const char *where) {
    parsed p;
    parse_n(&p, in, n, 0);
    if (p.rc != FW_ERR_INVALID)
        fail_msg("[%s] rc=%d, expected FW_ERR_INVALID; err=%s", name, p.rc, p.err);
    if (p.root)
        fail_msg("[%s] root set on failure", name);
    if (!strstr(p.err, msg))
        fail_msg("[%s] message\n  got      %s\n  expected %s", name, p.err, msg);
    if (where && !strstr(p.err, where))
        fail_msg("[%s] position\n  got      %s\n  expected %s", name, p.err, where);
    for (const char *c = p.err; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
            fail_msg("[%s] non-printable byte 0x%02x in: %s", name, (unsigned char)*c, p.err);
    done(&p);
}

static void test_rejects(void **state) {
    (void)state;
    for (size_t i = 0; i < N(rejects); i++) {
        /* The "nul byte" case holds a NUL: its length is up to the ']'. */
        size_t n = strlen(rejects[i].in);
        if (!strcmp(rejects[i].name, "nul byte"))
            n = 5;
        check_reject(rejects[i].name, rejects[i].in, n, rejects[i].msg, rejects[i].where);
    }
}

/* ---- depth, size, arena ---- */

static char *repeat(const char *head, size_t times, const char *mid, const char *tail,
                    size_t tail_times, size_t *len) {
    size_t hl = strlen(head), ml = strlen(mid), tl = strlen(tail);
    char *s = malloc(hl * times + ml + tl * tail_times + 1);
    assert_non_null(s);
    size_t o = 0;
    for (size_t i = 0; i < times; i++, o += hl)
        memcpy(s + o, head, hl);
    memcpy(s + o, mid, ml);
    o += ml;
    for (size_t i = 0; i < tail_times; i++, o += tl)
        memcpy(s + o, tail, tl);
    s[o] = '\0';
    *len = o;
    return s;
}

static void test_depth(void **state) {
    (void)state;
    size_t n;
    char *s = repeat("[", FW_JSON_MAX_DEPTH, "1", "]", FW_JSON_MAX_DEPTH, &n);
    parsed p;
    parse_n(&p, s, n, 0);
    if (p.rc != FW_OK)
        fail_msg("64 levels rejected: %s", p.err);
    const fw_json *v = p.root;
    for (int d = 0; d < FW_JSON_MAX_DEPTH; d++) {
        assert_int_equal(v->type, FW_JSON_ARRAY);
        assert_int_equal(v->column, d + 1);
        v = v->child;
    }
    assert_int_equal(v->type, FW_JSON_NUMBER);
    done(&p);
    free(s);

    s = repeat("{\"a\":", FW_JSON_MAX_DEPTH, "[1]", "}", FW_JSON_MAX_DEPTH, &n);
    check_reject("65 levels of objects", s, n, "nested deeper than 64 levels",
                 "(line 1, column 321)");
    free(s);
    s = repeat("[", 100000, "", "", 0, &n); /* unterminated and deep */
    check_reject("deep unterminated", s, n, "nested deeper than 64 levels", "(line 1, column 65)");
    free(s);
}

static void test_arena(void **state) {
    (void)state;
    /* Too small an arena is FW_ERR_LIMIT, not a crash. */
    const char *doc = "{\"a\":[1,2,3,4,5,6,7,8,9,10],\"b\":\"\\n\\n\"}";
    parsed p;
    parse_n(&p, doc, strlen(doc), 256);
    assert_int_equal(p.rc, FW_ERR_LIMIT);
    if (!strstr(p.err, "arena"))
        fail_msg("arena message: %s", p.err);
    done(&p);
    parse_n(&p, doc, strlen(doc), 1);
    assert_int_equal(p.rc, FW_ERR_LIMIT);
    done(&p);

    /* The worst cases fit in fw_json_arena_bound(n) exactly: one node per
     * two bytes, escaped strings, a document cut short at the depth limit. */
    static const struct {
        const char *open, *item, *sep, *close;
        size_t times;
    } worst[] = {
        { "[", "0", ",", "]", 200000 },
        { "[", "\"\\n\"", ",", "]", 100000 },
        { "[", "0", ",", "", 200000 },            /* unterminated */
        { "[", "[", "", "", 63 },                 /* deepest unterminated */
        { "", "[", "", "", 65 },                  /* too deep */
        { "{", "\"\\u00e9\":0", ",", "}", 3 },
    };
    for (size_t i = 0; i < N(worst); i++) {
        fw_buf w;
        fw_buf_init(&w, 0);
        fw_buf_puts(&w, worst[i].open);
        for (size_t k = 0; k < worst[i].times; k++) {
            if (k)
                fw_buf_puts(&w, worst[i].sep);
            fw_buf_puts(&w, worst[i].item);
        }
        fw_buf_puts(&w, worst[i].close);
        parse_n(&p, w.data, w.len, fw_json_arena_bound(w.len));
        if (p.rc == FW_ERR_LIMIT)
            fail_msg("worst case %zu (%zu bytes) ran out of its bound: %s", i, w.len, p.err);
        done(&p);
        fw_buf_fini(&w);
    }

    /* An object with many members, "\"\\n0\":0," each: escaped keys, the
     * sorted duplicate check's scratch array, exact bound. */
    fw_buf b;
    fw_buf_init(&b, 0);
    fw_buf_putc(&b, '{');
    for (int i = 0; i < 5000; i++)
        fw_buf_printf(&b, "%s\"\\n%d\":0", i ? "," : "", i);
    fw_buf_putc(&b, '}');
    parse_n(&p, b.data, b.len, fw_json_arena_bound(b.len));
    if (p.rc != FW_OK)
        fail_msg("5000 escaped keys: %s", p.err);
    assert_int_equal(p.root->count, 5000);
    done(&p);
    fw_buf_fini(&b);
    assert_int_equal(fw_json_arena_bound(SIZE_MAX), SIZE_MAX);
}

/* Duplicate keys in an object large enough for the sorting check: the
 * reported one is the earliest second occurrence, as the pairwise check does. */
static void test_duplicates_large(void **state) {
    (void)state;
    fw_buf b;
    fw_buf_init(&b, 0);
    fw_buf_puts(&b, "{\n");
    for (int i = 0; i < 40; i++)
        fw_buf_printf(&b, "\"k%d\": %d,\n", i, i);
    fw_buf_puts(&b, "\"k30\": 1,\n\"k7\": 2,\n\"k7\": 3\n}");
    check_reject("large object dup", b.data, b.len,
                 "duplicate key \"k30\" in an object (first at line 32, column 1)",
                 "(line 42, column 1)");
    fw_buf_fini(&b);

    fw_buf_init(&b, 0);
    fw_buf_putc(&b, '{');
    for (int i = 0; i < 1000; i++)
        fw_buf_printf(&b, "%s\"k%d\":%d", i ? "," : "", i, i);
    fw_buf_putc(&b, '}');
    parsed p;
    parse_n(&p, b.data, b.len, 0);
    if (p.rc != FW_OK)
        fail_msg("1000 distinct keys: %s", p.err);
    const fw_json *v = fw_json_get(p.root, "k999");
    assert_non_null(v);
    assert_int_equal((int)v->number, 999);
    done(&p);
    fw_buf_fini(&b);
}

/* A few MiB on one line: positions must not make the parse quadratic. */
static void test_large_document(void **state) {
    (void)state;
    fw_buf b;
    fw_buf_init(&b, 0);
    fw_buf_putc(&b, '[');
    for (int i = 0; i < 100000; i++)
        fw_buf_printf(&b, "%s{\"id\":\"t%d\",\"amount\":%d.5,\"ok\":true,\"s\":\"\xc3\xa9\\n\"}",
                      i ? "," : "", i, i);
    fw_buf_putc(&b, ']');
    assert_true(b.len > (size_t)4 << 20);
    parsed p;
    parse_n(&p, b.data, b.len, 0);
    if (p.rc != FW_OK)
        fail_msg("large document: %s", p.err);
    assert_int_equal(p.root->count, 100000);
    const fw_json *last = json_at(p.root, 99999);
    assert_non_null(last);
    assert_int_equal(last->line, 1);
    /* Column in characters: every object before it is one character shorter
     * than its bytes because of the two-byte é. */
    assert_int_equal(last->column, (uint32_t)(b.len - strlen(
        "{\"id\":\"t99999\",\"amount\":99999.5,\"ok\":true,\"s\":\"\xc3\xa9\\n\"}]") + 1 - 99999));
    fw_str s = fw_json_get(last, "s")->str;
    assert_int_equal(s.len, 3);
    assert_memory_equal(s.ptr, "\xc3\xa9\n", 3);
    done(&p);
    fw_buf_fini(&b);
}

/* ---- API ---- */

static void test_positions_and_lookup(void **state) {
    (void)state;
    parsed p;
    parse(&p, "{\n  \"a\": [10, \"x\"],\n  \"b\": {\"c\": null},\n  \"\xc3\xa9\": true\n}");
    assert_int_equal(p.rc, FW_OK);
    const fw_json *r = p.root;
    assert_int_equal(r->type, FW_JSON_OBJECT);
    assert_int_equal(r->count, 3);
    assert_int_equal(r->line, 1);
    assert_int_equal(r->column, 1);
    assert_int_equal(r->key_line, 0);
    assert_null(r->key.ptr);

    const fw_json *a = fw_json_get(r, "a");
    assert_non_null(a);
    assert_int_equal(a->type, FW_JSON_ARRAY);
    assert_int_equal(a->key_line, 2);
    assert_int_equal(a->key_column, 3);
    assert_int_equal(a->line, 2);
    assert_int_equal(a->column, 8);
    assert_int_equal(a->count, 2);
    const fw_json *x = json_at(a, 1);
    assert_non_null(x);
    assert_int_equal(x->type, FW_JSON_STRING);
    assert_int_equal(x->column, 13);
    assert_null(x->key.ptr);
    assert_null(json_at(a, 2));
    assert_null(json_at(r, 0)); /* not an array */
    assert_int_equal(json_at(a, 0)->number, 10);

    const fw_json *c = fw_json_get(fw_json_get(r, "b"), "c");
    assert_non_null(c);
    assert_int_equal(c->type, FW_JSON_NULL);
    assert_int_equal(c->line, 3);
    assert_int_equal(c->column, 14);
    const fw_json *e = fw_json_get_str(r, (fw_str){ "\xc3\xa9", 2 });
    assert_non_null(e);
    assert_true(e->boolean);
    assert_int_equal(e->key_column, 3);
    assert_int_equal(e->column, 8); /* "é" is one column */
    assert_null(fw_json_get(r, "missing"));
    assert_null(fw_json_get(a, "a")); /* not an object */
    assert_null(fw_json_get(NULL, "a"));
    assert_null(fw_json_get(r, NULL));

    const char *order[] = { "a", "b", "\xc3\xa9" };
    size_t k = 0;
    FW_JSON_FOREACH(m, r) {
        assert_true(k < 3);
        assert_true(fw_str_eq_c(m->key, order[k]));
        k++;
    }
    assert_int_equal(k, 3);
    k = 0;
    const fw_json *none = NULL;
    FW_JSON_FOREACH(m, none)
        k++;
    assert_int_equal(k, 0);
    done(&p);
}

typedef struct int_case {
    const char *in;
    bool ok;
    int64_t value;
} int_case;

static void test_int64(void **state) {
    (void)state;
    static const int_case cases[] = {
        { "42", true, 42 },
        { "-7", true, -7 },
        { "0", true, 0 },
        { "-0", true, 0 },
        { "1e3", true, 1000 },
        { "2.0", true, 2 },
        { "2.5", false, 0 },
        { "1e-1", false, 0 },
        { "9223372036854775807", true, INT64_MAX },
        { "-9223372036854775808", true, INT64_MIN },
        { "9223372036854775808", false, 0 },
        { "123456789012345678901234", false, 0 },
        { "1e300", false, 0 },
        { "9007199254740992.0", false, 0 }, /* 2^53 written as a fraction: not exact */
        { "9007199254740991.0", true, 9007199254740991 },
        { "\"5\"", false, 0 },
        { "true", false, 0 },
        { "null", false, 0 },
    };
    for (size_t i = 0; i < N(cases); i++) {
        parsed p;
        parse(&p, cases[i].in);
        assert_int_equal(p.rc, FW_OK);
        int64_t v = -12345;
        bool ok = fw_json_int64(p.root, &v);
        if (ok != cases[i].ok || (ok && v != cases[i].value))
            fail_msg("fw_json_int64(%s) = %d, %lld; expected %d, %lld", cases[i].in, ok,
                     (long long)v, cases[i].ok, (long long)cases[i].value);
        done(&p);
    }
    assert_false(fw_json_int64(NULL, &(int64_t){ 0 }));
}

static void test_describe_and_quote(void **state) {
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        { "null", "null" },
        { "true", "true" },
        { "false", "false" },
        { "1.50", "1.50" },
        { "\"30 minutes\"", "\"30 minutes\"" },
        { "\"a\\\"b\\\\c\\n\\u0001\"", "\"a\\\"b\\\\c\\n\\u0001\"" },
        { "\"\xc3\xa9\xf0\x9f\x98\x80\"", "\"\\u00E9\\uD83D\\uDE00\"" },
        { "\"0123456789012345678901234567890123456789overflow\"",
          "\"0123456789012345678901234567890123456789...\"" },
        { "12345678901234567890123456789012345678901234567890",
          "12345678901234567890123456789..." },
        { "[1]", "an array" },
        { "{}", "an object" },
    };
    char out[128];
    for (size_t i = 0; i < N(cases); i++) {
        parsed p;
        parse(&p, cases[i].in);
        assert_int_equal(p.rc, FW_OK);
        fw_json_describe(p.root, out, sizeof(out));
        if (strcmp(out, cases[i].want))
            fail_msg("describe(%s)\n  got      %s\n  expected %s", cases[i].in, out,
                     cases[i].want);
        done(&p);
    }
    assert_string_equal(fw_json_describe(NULL, out, sizeof(out)), "nothing");
    char tiny[6];
    fw_json_quote(fw_str_c("abcdefgh"), tiny, sizeof(tiny));
    assert_string_equal(tiny, "\"abcd");
    assert_string_equal(fw_json_quote(FW_STR_NULL, out, sizeof(out)), "\"\"");
}

static void test_errstr_handling(void **state) {
    (void)state;
    fw_arena a;
    assert_true(fw_arena_init(&a, 4096));
    fw_json *root = (fw_json *)&a; /* must be reset to NULL */
    /* No errstr at all, and a tiny one: no overflow, still NUL-terminated. */
    assert_int_equal(fw_json_parse("[1,", 3, &a, &root, NULL, 0), FW_ERR_INVALID);
    assert_null(root);
    char tiny[8];
    memset(tiny, 'x', sizeof(tiny));
    assert_int_equal(fw_json_parse("[1,", 3, &a, &root, tiny, sizeof(tiny)), FW_ERR_INVALID);
    assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
    char err[128];
    assert_int_equal(fw_json_parse(NULL, 1, &a, &root, err, sizeof(err)), FW_ERR_INVALID);
    assert_int_equal(fw_json_parse("1", 1, NULL, &root, err, sizeof(err)), FW_ERR_INVALID);
    assert_int_equal(fw_json_parse(NULL, 0, &a, &root, err, sizeof(err)), FW_ERR_INVALID);
    assert_non_null(strstr(err, "got end of input"));
    /* Zero-copy: a string without escapes points into the input. */
    const char *doc = "{\"k\":\"plain\"}";
    assert_int_equal(fw_json_parse(doc, strlen(doc), &a, &root, err, sizeof(err)), FW_OK);
    assert_ptr_equal(fw_json_get(root, "k")->str.ptr, doc + 6);
    assert_ptr_equal(root->child->key.ptr, doc + 2);
    fw_arena_fini(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_duplicates_large),
        cmocka_unit_test(test_large_document),
        cmocka_unit_test(test_positions_and_lookup),
        cmocka_unit_test(test_int64),
        cmocka_unit_test(test_describe_and_quote),
        cmocka_unit_test(test_errstr_handling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
