/* test_txn.c — table-driven tests of the transaction decoders (txn.c): every
 * accepted form, every rejection (with the field it names), escapes, UTF-8,
 * limits, the semicolon format and the JSON writer. Inputs are decoded from
 * exact-size heap copies without a NUL, so AddressSanitizer flags any read
 * past the record; every accepted record is also checked for slices outside
 * the input and decoded twice to compare. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "txn.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define TS0 1705314600000 /* 2024-01-15T10:30:00Z */
/* The three required fields, to build records around the field under test. */
#define REQ "\"transaction_id\":\"t1\",\"timestamp\":\"2024-01-15T10:30:00Z\",\"amount\":12.5"
#define REC(extra) "{" REQ "," extra "}"
#define REQ_ID "{\"transaction_id\":\"a\","
#define T0 "1705314600000" /* TS0 as written: epoch ms from 2001 on are accepted */

/* One decoded record and the memory it points into. */
typedef struct decoded {
    char *buf;      /* exact-size copy of the input: not NUL-terminated */
    size_t n;
    fw_arena arena;
    fw_txn t;
    fw_decode_error err;
    fw_err rc;
} decoded;

static bool in_range(fw_str s, const char *lo, size_t n) {
    if (!lo)
        return false;
    return s.ptr >= lo && s.len <= n && s.ptr <= lo + n - s.len;
}

/* A present slice must point into the input or into the arena's used part. */
static void check_slice(const decoded *d, fw_str s, const char *name) {
    if (!s.ptr)
        return;
    if (in_range(s, d->buf, d->n) || in_range(s, d->arena.data, d->arena.used))
        return;
    fail_msg("slice %s (%p, %zu) is outside the input and the arena", name,
             (const void *)s.ptr, s.len);
}

static void check_slices(const decoded *d, fw_str synth) {
    const fw_txn *t = &d->t;
    if (!(t->transaction_id.ptr == synth.ptr && synth.ptr))
        check_slice(d, t->transaction_id, "transaction_id");
    check_slice(d, t->ts_raw, "ts_raw");
    check_slice(d, t->amount_raw, "amount_raw");
    check_slice(d, t->account_id, "account_id");
    check_slice(d, t->card_id, "card_id");
    check_slice(d, t->customer_id, "customer_id");
    check_slice(d, t->type_raw, "type_raw");
    check_slice(d, t->currency, "currency");
    check_slice(d, t->merchant_id, "merchant_id");
    check_slice(d, t->merchant_category, "merchant_category");
    check_slice(d, t->country, "country");
    check_slice(d, t->counterparty_id, "counterparty_id");
    check_slice(d, t->channel, "channel");
    check_slice(d, t->raw, "raw");
}

static bool str_same(fw_str a, fw_str b) {
    return (a.ptr == NULL) == (b.ptr == NULL) && fw_str_eq(a, b);
}

/* Field-by-field equality: escaped strings live at different arena addresses. */
static void assert_txn_same(const fw_txn *a, const fw_txn *b) {
    assert_true(str_same(a->transaction_id, b->transaction_id));
    assert_int_equal(a->ts_ms, b->ts_ms);
    assert_true(str_same(a->ts_raw, b->ts_raw));
    assert_memory_equal(&a->amount, &b->amount, sizeof(double));
    assert_true(str_same(a->amount_raw, b->amount_raw));
    assert_true(str_same(a->account_id, b->account_id));
    assert_true(str_same(a->card_id, b->card_id));
    assert_true(str_same(a->customer_id, b->customer_id));
    assert_int_equal(a->type, b->type);
    assert_true(str_same(a->type_raw, b->type_raw));
    assert_true(str_same(a->currency, b->currency));
    assert_true(str_same(a->merchant_id, b->merchant_id));
    assert_true(str_same(a->merchant_category, b->merchant_category));
    assert_true(str_same(a->country, b->country));
    assert_true(str_same(a->counterparty_id, b->counterparty_id));
    assert_true(str_same(a->channel, b->channel));
    assert_int_equal(a->has, b->has);
    if (a->has & FW_TXN_HAS_LAT)
        assert_memory_equal(&a->lat, &b->lat, sizeof(double));
    if (a->has & FW_TXN_HAS_LON)
        assert_memory_equal(&a->lon, &b->lon, sizeof(double));
    assert_int_equal(a->v_mask, b->v_mask);
    assert_memory_equal(a->v, b->v, sizeof(a->v));
    assert_true(str_same(a->raw, b->raw));
    assert_int_equal(a->raw_is_json, b->raw_is_json);
    assert_int_equal(a->amount_dec_set, b->amount_dec_set);
    if (a->amount_dec_set)
        assert_int_equal(a->amount_dec, b->amount_dec);
}

/* Decodes s[0..n) (n == 0: strlen) as JSON; on success also checks slices
 * and that a second decode gives the same record. */
static void dec_json_n(decoded *d, const char *s, size_t n, size_t max_bytes) {
    d->n = n;
    d->buf = malloc(n ? n : 1);
    assert_non_null(d->buf);
    memcpy(d->buf, s, n);
    assert_true(fw_arena_init(&d->arena, 4096));
    d->rc = fw_txn_decode_json(d->buf, d->n, &d->arena, max_bytes, &d->t, &d->err);
    if (d->rc != FW_OK)
        return;
    check_slices(d, FW_STR_NULL);
    fw_txn again;
    fw_decode_error err2;
    assert_int_equal(fw_txn_decode_json(d->buf, d->n, &d->arena, max_bytes, &again, &err2),
                     FW_OK);
    assert_txn_same(&d->t, &again);
}

static void dec_json(decoded *d, const char *s) { dec_json_n(d, s, strlen(s), 0); }

static void dec_release(decoded *d) {
    free(d->buf);
    fw_arena_fini(&d->arena);
}

static void expect_ok(const decoded *d, const char *input) {
    if (d->rc != FW_OK)
        fail_msg("rejected %s\n  field=%s reason=%s", input, d->err.field ? d->err.field : "-",
                 d->err.reason);
}

/* A reason is a non-empty, printable, NUL-terminated sentence. */
static void check_reason(const fw_decode_error *err) {
    size_t len = strnlen(err->reason, sizeof(err->reason));
    assert_true(len > 0 && len < sizeof(err->reason));
    for (size_t i = 0; i < len; i++)
        if (err->reason[i] < 0x20 || err->reason[i] > 0x7e)
            fail_msg("reason has a non-printable byte 0x%02x: %s",
                     (unsigned char)err->reason[i], err->reason);
}

static void expect_reject(const decoded *d, const char *name, const char *field,
                          const char *needle) {
    if (d->rc != FW_ERR_INVALID)
        fail_msg("[%s] rc=%d, expected FW_ERR_INVALID", name, d->rc);
    check_reason(&d->err);
    const char *got = d->err.field ? d->err.field : "(none)";
    const char *want = field ? field : "(none)";
    if (strcmp(got, want) != 0)
        fail_msg("[%s] field=%s, expected %s; reason: %s", name, got, want, d->err.reason);
    if (field && !strstr(d->err.reason, field))
        fail_msg("[%s] reason does not name %s: %s", name, field, d->err.reason);
    if (needle && !strstr(d->err.reason, needle))
        fail_msg("[%s] reason lacks \"%s\": %s", name, needle, d->err.reason);
}

/* ---- accepted JSON ---- */

typedef struct accept_case {
    const char *name;
    const char *in;
    const char *txn_id;
    int64_t ts_ms;
    double amount;
} accept_case;

static const accept_case accept_cases[] = {
    { "minimal", "{" REQ "}", "t1", TS0, 12.5 },
    { "integer id", "{\"transaction_id\":12345,\"timestamp\":\"2024-01-15T10:30:00Z\","
      "\"amount\":1}", "12345", TS0, 1 },
    { "negative integer id", "{\"transaction_id\":-7,\"timestamp\":" T0 ",\"amount\":1}", "-7",
      TS0, 1 },
    { "epoch ms", "{\"transaction_id\":\"a\",\"timestamp\":1705314600000,\"amount\":3}", "a",
      TS0, 3 },
    { "epoch ms 2001", "{\"transaction_id\":\"a\",\"timestamp\":978307200000,\"amount\":3}",
      "a", 978307200000, 3 },
    { "offset and fraction", "{\"transaction_id\":\"a\",\"timestamp\":"
      "\"2024-01-15 10:30:00.123+01:00\",\"amount\":3}", "a", 1705311000123, 3 },
    { "offset hhmm", "{\"transaction_id\":\"a\",\"timestamp\":\"2024-01-15T10:30:00-0500\","
      "\"amount\":3}", "a", 1705332600000, 3 },
    { "Amount spelling", "{\"transaction_id\":\"a\",\"timestamp\":" T0 ",\"Amount\":1500.0}", "a",
      TS0, 1500 },
    { "amount first", "{\"amount\":7,\"timestamp\":" T0 ",\"transaction_id\":\"z\"}", "z", TS0, 7 },
    { "whitespace everywhere", " \t\r\n{ \"transaction_id\" :\n\"t1\" ,\t\"timestamp\" : "
      "\"2024-01-15T10:30:00Z\" , \"amount\" : 12.5 }\r\n ", "t1", TS0, 12.5 },
    { "amount 0", "{\"transaction_id\":\"a\",\"timestamp\":" T0 ",\"amount\":0}", "a", TS0, 0 },
    { "amount 0.0", "{\"transaction_id\":\"a\",\"timestamp\":" T0 ",\"amount\":0.0}", "a", TS0, 0 },
    { "amount -0", "{\"transaction_id\":\"a\",\"timestamp\":" T0 ",\"amount\":-0}", "a", TS0, 0 },
    { "amount -0.0e5", "{\"transaction_id\":\"a\",\"timestamp\":" T0 ",\"amount\":-0.0e5}", "a",
      TS0, 0 },
    { "amount 5000", "{\"transaction_id\":\"a\",\"timestamp\":" T0 ",\"amount\":5000}", "a", TS0,
      5000 },
    { "amount 5000.01", "{\"transaction_id\":\"a\",\"timestamp\":" T0 ",\"amount\":5000.01}", "a",
      TS0, 5000.01 },
    { "amount 4999.99", "{\"transaction_id\":\"a\",\"timestamp\":" T0 ",\"amount\":4999.99}", "a",
      TS0, 4999.99 },
    { "amount 1E2", "{\"transaction_id\":\"a\",\"timestamp\":" T0 ",\"amount\":1E2}", "a", TS0,
      100 },
    { "amount 1e+2", "{\"transaction_id\":\"a\",\"timestamp\":" T0 ",\"amount\":1e+2}", "a", TS0,
      100 },
    { "amount huge", "{\"transaction_id\":\"a\",\"timestamp\":" T0 ",\"amount\":1.7e308}", "a", TS0,
      1.7e308 },
    { "amount long integer", "{\"transaction_id\":\"a\",\"timestamp\":" T0 ",\"amount\":"
      "123456789012345678901234567890}", "a", TS0, 123456789012345678901234567890.0 },
    { "amount underflows to 0", "{\"transaction_id\":\"a\",\"timestamp\":" T0 ",\"amount\":1e-400}",
      "a", TS0, 0 },
    { "optional nulls", REC("\"account_id\":null,\"card_id\":null,\"type\":null,\"lat\":null,"
      "\"lon\":null,\"V1\":null,\"channel\":null"), "t1", TS0, 12.5 },
    { "unknown nested", REC("\"extra\":{\"a\":[1,{\"b\":[true,false,null,-1.5e-3]},"
      "\"s\\u00e9\\n\"],\"c\":{},\"d\":[]},\"list\":[[[]]],\"t\":true,\"n\":null,"
      "\"num\":-0.5E+10"), "t1", TS0, 12.5 },
    { "unknown spelled like known", REC("\"Transaction_id\":5,\"AMOUNT\":\"x\",\"V0\":1,"
      "\"V29\":1,\"V01\":\"s\",\"lat \":999"), "t1", TS0, 12.5 },
    { "escaped key", "{\"transaction_id\":\"a\",\"timestamp\":" T0 ",\"amo\\u0075nt\":2}", "a", TS0,
      2 },
    { "escaped unknown key", REC("\"\\u00e9\\ud83d\\ude00\":1"), "t1", TS0, 12.5 },
    { "utf-8 in unknown", REC("\"note\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""), "t1",
      TS0, 12.5 },
    { "DEL byte in string", REC("\"note\":\"a\x7f" "b\""), "t1", TS0, 12.5 },
    { "empty object field", REC("\"meta\":{}"), "t1", TS0, 12.5 },
    { "MCC as integer", REC("\"merchant_category\":5411"), "t1", TS0, 12.5 },
};

static void test_json_accepts(void **state) {
    (void)state;
    for (size_t i = 0; i < N(accept_cases); i++) {
        const accept_case *c = &accept_cases[i];
        decoded d;
        dec_json(&d, c->in);
        expect_ok(&d, c->in);
        if (!fw_str_eq_c(d.t.transaction_id, c->txn_id))
            fail_msg("[%s] transaction_id \"%.*s\", expected \"%s\"", c->name,
                     (int)d.t.transaction_id.len, d.t.transaction_id.ptr, c->txn_id);
        if (d.t.ts_ms != c->ts_ms)
            fail_msg("[%s] ts_ms %lld, expected %lld", c->name, (long long)d.t.ts_ms,
                     (long long)c->ts_ms);
        if (d.t.amount != c->amount || signbit(d.t.amount))
            fail_msg("[%s] amount %.17g, expected %.17g", c->name, d.t.amount, c->amount);
        assert_true(d.t.raw_is_json);
        assert_int_equal(d.t.raw.ptr[0], '{');
        assert_int_equal(d.t.raw.ptr[d.t.raw.len - 1], '}');
        dec_release(&d);
    }
}

/* ---- rejected JSON ---- */

typedef struct reject_case {
    const char *name;
    const char *in;
    size_t len;        /* 0: strlen(in); set when the input holds a NUL */
    size_t max_bytes;
    const char *field; /* expected fw_decode_error.field, NULL for none */
    const char *needle;/* expected in the reason */
} reject_case;

static const reject_case reject_cases[] = {
    /* not JSON, not an object */
    { "empty", "", 0, 0, NULL, "empty" },
    { "whitespace only", " \r\n\t", 0, 0, NULL, "empty" },
    { "not JSON", "hello", 0, 0, NULL, "not JSON" },
    { "csv line", "t1,2024-01-15,12.5", 0, 0, NULL, "not JSON" },
    { "BOM", "\xef\xbb\xbf{" REQ "}", 0, 0, NULL, "not JSON" },
    { "array", "[{" REQ "}]", 0, 0, NULL, "not a JSON object" },
    { "string", "\"x\"", 0, 0, NULL, "not a JSON object" },
    { "number", "42", 0, 0, NULL, "not a JSON object" },
    { "null", "null", 0, 0, NULL, "not a JSON object" },
    { "boolean", "true", 0, 0, NULL, "not a JSON object" },
    /* truncated */
    { "lone brace", "{", 0, 0, NULL, "truncated" },
    { "after comma", "{\"transaction_id\":\"t1\",", 0, 0, NULL, "truncated" },
    { "in key", "{\"transac", 0, 0, NULL, "truncated" },
    { "after key", "{\"transaction_id\"", 0, 0, NULL, "truncated" },
    { "after colon", "{\"transaction_id\":", 0, 0, NULL, "truncated" },
    { "in id string", "{\"transaction_id\":\"t1", 0, 0, "transaction_id", "truncated" },
    { "in escape", "{\"transaction_id\":\"t\\u00", 0, 0, "transaction_id", "truncated" },
    { "in surrogate pair", "{\"transaction_id\":\"\\ud83d\\ude", 0, 0, "transaction_id",
      "truncated" },
    { "in amount sign", "{\"amount\":-", 0, 0, "amount", "truncated" },
    { "in amount exponent", "{\"amount\":1e", 0, 0, "amount", "truncated" },
    { "after amount", "{" REQ, 0, 0, NULL, "truncated" },
    { "in unknown array", "{" REQ ",\"x\":[1,2", 0, 0, NULL, "truncated" },
    { "in literal", "{\"x\":tr", 0, 0, NULL, "truncated" },
    { "in null of field", "{\"lat\":nu", 0, 0, "lat", "truncated" },
    { "in UTF-8 sequence", "{\"x\":\"\xc3", 0, 0, NULL, "truncated" },
    /* trailing data */
    { "trailing garbage", "{" REQ "} x", 0, 0, NULL, "after the JSON object" },
    { "two objects", "{" REQ "}{}", 0, 0, NULL, "after the JSON object" },
    { "trailing NUL", "{" REQ "}\0", sizeof("{" REQ "}"), 0, NULL, "after the JSON object" },
    /* syntax */
    { "missing colon", "{\"transaction_id\" \"t1\"}", 0, 0, NULL, "':'" },
    { "trailing comma", "{" REQ ",}", 0, 0, NULL, "field name" },
    { "single quotes", "{'transaction_id':'t1'}", 0, 0, NULL, "field name" },
    { "unquoted key", "{transaction_id:1}", 0, 0, NULL, "field name" },
    { "missing comma", "{\"transaction_id\":\"t1\" \"amount\":1}", 0, 0, NULL, "',' or '}'" },
    { "wrong closer", "{" REQ "]", 0, 0, NULL, "',' or '}'" },
    { "array missing comma", REC("\"x\":[1 2]"), 0, 0, NULL, "',' or ']'" },
    { "array trailing comma", REC("\"x\":[1,]"), 0, 0, NULL, "a JSON value" },
    { "bad literal", REC("\"x\":tru]"), 0, 0, NULL, "a JSON value" },
    { "capital True", REC("\"x\":True"), 0, 0, NULL, "a JSON value" },
    { "bare word in field", "{\"amount\":abc}", 0, 0, "amount", "a JSON value" },
    /* number grammar, in a known field and in an unknown one */
    { "leading plus", "{\"amount\":+5}", 0, 0, "amount", "invalid number" },
    { "leading zero", "{\"amount\":05}", 0, 0, "amount", "invalid number" },
    { "negative leading zero", "{\"amount\":-05}", 0, 0, "amount", "invalid number" },
    { "trailing dot", "{\"amount\":1.}", 0, 0, "amount", "invalid number" },
    { "leading dot", "{\"amount\":.5}", 0, 0, "amount", "invalid number" },
    { "empty exponent", "{\"amount\":1e}", 0, 0, "amount", "invalid number" },
    { "signed empty exponent", "{\"amount\":1e+}", 0, 0, "amount", "invalid number" },
    { "hex", "{\"amount\":0x1F}", 0, 0, "amount", "invalid number" },
    { "NaN", "{\"amount\":NaN}", 0, 0, "amount", "invalid number" },
    { "Infinity", "{\"amount\":Infinity}", 0, 0, "amount", "invalid number" },
    { "-Infinity", "{\"amount\":-Infinity}", 0, 0, "amount", "invalid number" },
    { "two dots", "{\"amount\":1.5.2}", 0, 0, "amount", "invalid number" },
    { "lone minus", "{\"amount\":-}", 0, 0, "amount", "invalid number" },
    { "unknown leading zero", REC("\"x\":007"), 0, 0, NULL, "invalid number" },
    { "unknown NaN", REC("\"x\":NaN"), 0, 0, NULL, "invalid number" },
    { "id leading zero", "{\"transaction_id\":0012}", 0, 0, "transaction_id",
      "invalid number" },
    /* invalid UTF-8 and bad strings */
    { "overlong slash", "{\"transaction_id\":\"\xc0\xaf\"}", 0, 0, "transaction_id",
      "invalid UTF-8" },
    { "overlong 3-byte", "{\"merchant_id\":\"\xe0\x80\xaf\"}", 0, 0, "merchant_id",
      "invalid UTF-8" },
    { "overlong 4-byte", "{\"merchant_id\":\"\xf0\x80\x80\xaf\"}", 0, 0, "merchant_id",
      "invalid UTF-8" },
    { "surrogate in UTF-8", "{\"merchant_id\":\"\xed\xa0\x80\"}", 0, 0, "merchant_id",
      "invalid UTF-8" },
    { "above U+10FFFF", "{\"merchant_id\":\"\xf4\x90\x80\x80\"}", 0, 0, "merchant_id",
      "invalid UTF-8" },
    { "lone continuation", "{\"country\":\"\x80\"}", 0, 0, "country", "invalid UTF-8" },
    { "byte 0xff", "{\"country\":\"\xff\"}", 0, 0, "country", "invalid UTF-8" },
    { "cut sequence", "{\"country\":\"\xe2\x82\"}", 0, 0, "country", "invalid UTF-8" },
    { "latin-1 e-acute", REC("\"note\":\"caf\xe9\""), 0, 0, NULL,
      "Unknown field \"note\" has invalid UTF-8" },
    { "invalid UTF-8 in key", "{\"\xc3\x28\":1}", 0, 0, NULL, "invalid UTF-8" },
    { "raw tab", "{\"transaction_id\":\"a\tb\"}", 0, 0, "transaction_id",
      "control character" },
    { "raw newline in unknown", REC("\"x\":\"a\nb\""), 0, 0, NULL,
      "Unknown field \"x\" has an unescaped control character" },
    { "raw NUL", "{\"transaction_id\":\"a\0b\"}", 24, 0, "transaction_id",
      "control character" },
    { "bad escape", "{\"transaction_id\":\"a\\qb\"}", 0, 0, "transaction_id",
      "invalid escape" },
    { "bad hex escape", "{\"transaction_id\":\"\\u12G4\"}", 0, 0, "transaction_id",
      "invalid \\u escape" },
    { "escaped NUL", "{\"transaction_id\":\"a\\u0000\"}", 0, 0, "transaction_id",
      "\\u0000" },
    { "escaped NUL in unknown", REC("\"x\":\"\\u0000\""), 0, 0, NULL, "\\u0000" },
    { "lone low surrogate", "{\"transaction_id\":\"\\udc00\"}", 0, 0, "transaction_id",
      "low surrogate" },
    { "lone high surrogate", "{\"transaction_id\":\"\\ud800x\"}", 0, 0, "transaction_id",
      "high surrogate" },
    { "high then non-low", "{\"transaction_id\":\"\\ud800\\u0041\"}", 0, 0,
      "transaction_id", "high surrogate" },
    { "high at string end", "{\"transaction_id\":\"\\ud800\"}", 0, 0, "transaction_id",
      "high surrogate" },
    /* required fields */
    { "empty object", "{}", 0, 0, "transaction_id", "missing" },
    { "no transaction_id", "{\"timestamp\":" T0 ",\"amount\":1}", 0, 0, "transaction_id",
      "missing" },
    { "no timestamp", "{\"transaction_id\":\"a\",\"amount\":1}", 0, 0, "timestamp",
      "missing" },
    { "no amount", "{\"transaction_id\":\"a\",\"timestamp\":" T0 "}", 0, 0, "amount",
      "missing (it may also be spelled Amount)" },
    { "amount null", "{\"transaction_id\":\"a\",\"timestamp\":" T0 ",\"amount\":null}", 0, 0,
      "amount", "null" },
    { "transaction_id null", "{\"transaction_id\":null,\"timestamp\":" T0 ",\"amount\":1}", 0, 0,
      "transaction_id", "null" },
    { "timestamp null", "{\"transaction_id\":\"a\",\"timestamp\":null,\"amount\":1}", 0, 0,
      "timestamp", "null" },
    { "empty transaction_id", "{\"transaction_id\":\"\",\"timestamp\":" T0 ",\"amount\":1}", 0, 0,
      "transaction_id", "empty" },
    /* wrong JSON types */
    { "id boolean", "{\"transaction_id\":true}", 0, 0, "transaction_id",
      "must be a string or an integer, but is a boolean" },
    { "id fraction", "{\"transaction_id\":1.5}", 0, 0, "transaction_id",
      "must be a string or an integer, but is a number" },
    { "id exponent", "{\"transaction_id\":1e3}", 0, 0, "transaction_id",
      "must be a string or an integer" },
    { "id object", "{\"transaction_id\":{}}", 0, 0, "transaction_id", "but is an object" },
    { "account_id array", REC("\"account_id\":[1]"), 0, 0, "account_id", "but is an array" },
    { "user_id boolean", REC("\"user_id\":false"), 0, 0, "customer_id", "but is a boolean" },
    { "MCC fraction", REC("\"merchant_category\":54.11"), 0, 0, "merchant_category",
      "must be a string or an integer" },
    { "timestamp boolean", "{\"timestamp\":true}", 0, 0, "timestamp", "but is a boolean" },
    { "timestamp float", "{\"timestamp\":1.7e12}", 0, 0, "timestamp", "epoch milliseconds" },
    /* Epoch seconds read as ms would be January 1970: refused with a hint. */
    { "epoch seconds", REQ_ID "\"timestamp\":1705314600,\"amount\":3}", 0, 0, "timestamp",
      "reads as 1970-01-20T17:41:54.600Z in milliseconds; if it is epoch seconds, map it: "
      "{\"timestamp\": {\"format\": \"epoch_s\"}}" },
    { "epoch ms zero", REQ_ID "\"timestamp\":0,\"amount\":3}", 0, 0, "timestamp",
      "reads as 1970-01-01T00:00:00.000Z in milliseconds" },
    { "pre-1970 epoch", REQ_ID "\"timestamp\":-1,\"amount\":3}", 0, 0, "timestamp",
      "if it is epoch seconds" },
    { "just before 2001", REQ_ID "\"timestamp\":978307199999,\"amount\":3}", 0, 0,
      "timestamp", "reads as 2000-12-31T23:59:59.999Z in milliseconds" },
    { "timestamp object", "{\"timestamp\":{\"s\":1}}", 0, 0, "timestamp", "but is an object" },
    { "amount string", "{\"amount\":\"12.50\"}", 0, 0, "amount",
      "must be a number, but is a string" },
    { "Amount string", "{\"Amount\":\"12.50\"}", 0, 0, "amount", "must be a number" },
    { "amount boolean", "{\"amount\":true}", 0, 0, "amount", "but is a boolean" },
    { "amount array", "{\"amount\":[1]}", 0, 0, "amount", "but is an array" },
    { "lat string", REC("\"lat\":\"1\""), 0, 0, "lat", "must be a number" },
    { "currency number", REC("\"currency\":978"), 0, 0, "currency", "must be a string" },
    { "country object", REC("\"country\":{}"), 0, 0, "country", "must be a string" },
    { "channel boolean", REC("\"channel\":true"), 0, 0, "channel", "must be a string" },
    { "type number", REC("\"type\":1"), 0, 0, "type", "must be a string" },
    { "V1 string", REC("\"V1\":\"0.5\""), 0, 0, "V1", "must be a number" },
    { "V28 boolean", REC("\"V28\":false"), 0, 0, "V28", "must be a number" },
    /* timestamps */
    { "no zone", "{\"timestamp\":\"2024-01-15T10:30:00\"}", 0, 0, "timestamp",
      "ISO-8601 with a zone" },
    { "Feb 30", "{\"timestamp\":\"2024-02-30T10:30:00Z\"}", 0, 0, "timestamp", "ISO-8601" },
    { "words", "{\"timestamp\":\"yesterday\"}", 0, 0, "timestamp", "yesterday" },
    { "RFC 850 in JSON", "{\"timestamp\":\"Sunday, 23-Jul-17 01:06:47 UTC\"}", 0, 0,
      "timestamp", "ISO-8601" },
    { "digits in a string", "{\"timestamp\":\"1705314600000\"}", 0, 0, "timestamp",
      "ISO-8601" },
    { "epoch too large", "{\"timestamp\":253402300800000}", 0, 0, "timestamp",
      "epoch milliseconds" },
    { "epoch 17 digits", "{\"timestamp\":12345678901234567}", 0, 0, "timestamp",
      "epoch milliseconds" },
    { "epoch before year 0", "{\"timestamp\":-62167219200001}", 0, 0, "timestamp",
      "epoch milliseconds" },
    /* amounts */
    { "amount overflows", "{\"amount\":1e999}", 0, 0, "amount", "not a finite number" },
    { "amount -overflow", "{\"amount\":-1e999}", 0, 0, "amount", "not a finite number" },
    { "amount negative", "{\"amount\":-5}", 0, 0, "amount", "negative" },
    { "amount small negative", "{\"amount\":-0.01}", 0, 0, "amount", "-0.01" },
    { "Amount negative", "{\"Amount\":-1500.0}", 0, 0, "amount", "negative" },
    { "amount 65 chars", "{\"amount\":1234567890123456789012345678901234567890123456789012"
      "3456789012345}", 0, 0, "amount", "at most 64" },
    /* lat / lon ranges */
    { "lat above", REC("\"lat\":90.0001"), 0, 0, "lat", "outside the range -90..90" },
    { "lat below", REC("\"lat\":-91"), 0, 0, "lat", "outside" },
    { "lon above", REC("\"lon\":180.5"), 0, 0, "lon", "outside the range -180..180" },
    { "lon below", REC("\"lon\":-181"), 0, 0, "lon", "outside" },
    { "lat overflow", REC("\"lat\":1e400"), 0, 0, "lat", "not a finite number" },
    { "V1 beyond float", REC("\"V1\":1e39"), 0, 0, "V1", "32-bit float" },
    { "V2 overflow", REC("\"V2\":-1e999"), 0, 0, "V2", "not a finite number" },
    /* duplicates */
    { "amount twice", "{" REQ ",\"amount\":13}", 0, 0, "amount", "given twice" },
    { "amount and Amount", "{" REQ ",\"Amount\":13}", 0, 0, "amount", "Amount" },
    { "customer_id and user_id", REC("\"customer_id\":\"c\",\"user_id\":\"c\""), 0, 0,
      "customer_id", "user_id" },
    { "transaction_id twice", "{" REQ ",\"transaction_id\":\"t2\"}", 0, 0, "transaction_id",
      "given twice" },
    { "V1 twice", REC("\"V1\":1,\"V1\":null"), 0, 0, "V1", "given twice" },
    { "null then value", REC("\"lat\":null,\"lat\":1"), 0, 0, "lat", "given twice" },
    { "escaped duplicate", "{" REQ ",\"\\u0061mount\":1}", 0, 0, "amount", "given twice" },
    /* size */
    { "over max_bytes", "{" REQ "}", 0, 20, NULL, "over the limit of 20 bytes" },
};

static void test_json_rejects(void **state) {
    (void)state;
    for (size_t i = 0; i < N(reject_cases); i++) {
        const reject_case *c = &reject_cases[i];
        decoded d;
        dec_json_n(&d, c->in, c->len ? c->len : strlen(c->in), c->max_bytes);
        expect_reject(&d, c->name, c->field, c->needle);
        assert_true(d.err.offset <= (c->max_bytes ? c->max_bytes : d.n));
        dec_release(&d);
    }
}

/* ---- specific accepted shapes ---- */

static void assert_str(fw_str s, const char *want) {
    if (!s.ptr)
        fail_msg("absent, expected \"%s\"", want);
    if (!fw_str_eq_c(s, want))
        fail_msg("\"%.*s\", expected \"%s\"", (int)s.len, s.ptr, want);
}

static void test_full_record(void **state) {
    (void)state;
    const char *in =
        "  {\"transaction_id\":\"tx-1\",\"timestamp\":\"2024-01-15T10:30:00.250Z\","
        "\"account_id\":\"acc-9\",\"card_id\":4111,\"customer_id\":\"cust-3\","
        "\"type\":\"PURCHASE\",\"amount\":249.99,\"currency\":\"EUR\",\"merchant_id\":\"m-7\","
        "\"merchant_category\":\"5411\",\"country\":\"FR\",\"lat\":48.8566,\"lon\":-2.3522,"
        "\"counterparty_id\":\"acc-2\",\"channel\":\"online\",\"V3\":-1.5,\"V28\":0.25}\n";
    decoded d;
    dec_json(&d, in);
    expect_ok(&d, in);
    const fw_txn *t = &d.t;
    assert_str(t->transaction_id, "tx-1");
    assert_int_equal(t->ts_ms, TS0 + 250);
    assert_str(t->ts_raw, "2024-01-15T10:30:00.250Z");
    assert_true(t->amount == 249.99);
    assert_str(t->amount_raw, "249.99");
    assert_str(t->account_id, "acc-9");
    assert_str(t->card_id, "4111");
    assert_str(t->customer_id, "cust-3");
    assert_int_equal(t->type, FW_TXN_PURCHASE);
    assert_str(t->type_raw, "PURCHASE");
    assert_str(t->currency, "EUR");
    assert_str(t->merchant_id, "m-7");
    assert_str(t->merchant_category, "5411");
    assert_str(t->country, "FR");
    assert_str(t->counterparty_id, "acc-2");
    assert_str(t->channel, "online");
    assert_int_equal(t->has, FW_TXN_HAS_LAT | FW_TXN_HAS_LON);
    assert_true(t->lat == 48.8566 && t->lon == -2.3522);
    assert_int_equal(t->v_mask, (1u << 2) | (1u << 27));
    assert_true(t->v[2] == -1.5f && t->v[27] == 0.25f && t->v[0] == 0.0f);
    /* raw is the object without the surrounding whitespace */
    assert_int_equal(t->raw.len, strlen(in) - 3);
    assert_memory_equal(t->raw.ptr, in + 2, t->raw.len);
    assert_true(t->raw_is_json);
    dec_release(&d);
}

static void test_absent_fields(void **state) {
    (void)state;
    decoded d;
    dec_json(&d, REC("\"account_id\":null,\"lat\":null,\"V5\":null,\"type\":null"));
    expect_ok(&d, "nulls");
    assert_null(d.t.account_id.ptr);
    assert_null(d.t.card_id.ptr);
    assert_null(d.t.customer_id.ptr);
    assert_null(d.t.type_raw.ptr);
    assert_int_equal(d.t.type, FW_TXN_TYPE_NONE);
    assert_int_equal(d.t.has, 0);
    assert_int_equal(d.t.v_mask, 0);
    dec_release(&d);
}

static void test_types(void **state) {
    (void)state;
    static const struct {
        const char *json;
        fw_txn_type type;
        const char *raw;
    } cases[] = {
        { REC("\"type\":\"PURCHASE\""), FW_TXN_PURCHASE, "PURCHASE" },
        { REC("\"type\":\"TRANSFER\""), FW_TXN_TRANSFER, "TRANSFER" },
        { REC("\"type\":\"WITHDRAWAL\""), FW_TXN_WITHDRAWAL, "WITHDRAWAL" },
        { REC("\"type\":\"DEPOSIT\""), FW_TXN_DEPOSIT, "DEPOSIT" },
        { REC("\"type\":\"PASSWORD_CHANGE\""), FW_TXN_PASSWORD_CHANGE, "PASSWORD_CHANGE" },
        { REC("\"type\":\"LOGIN\""), FW_TXN_LOGIN, "LOGIN" },
        { REC("\"type\":\"purchase\""), FW_TXN_TYPE_OTHER, "purchase" }, /* case matters */
        { REC("\"type\":\"REFUND\""), FW_TXN_TYPE_OTHER, "REFUND" },
        { REC("\"type\":\"\""), FW_TXN_TYPE_OTHER, "" },
        { REC("\"type\":\"LOG\\u0049N\""), FW_TXN_LOGIN, "LOGIN" },  /* escaped */
    };
    for (size_t i = 0; i < N(cases); i++) {
        decoded d;
        dec_json(&d, cases[i].json);
        expect_ok(&d, cases[i].json);
        assert_int_equal(d.t.type, cases[i].type);
        assert_str(d.t.type_raw, cases[i].raw);
        dec_release(&d);
    }
}

/* Seed 000's records: V1..V28 floats, "Amount", transaction_id, timestamp. */
static void test_seed000_shape(void **state) {
    (void)state;
    char in[2048];
    size_t o = 0;
    o += (size_t)snprintf(in + o, sizeof(in) - o, "{");
    for (int i = 1; i <= 28; i++)
        o += (size_t)snprintf(in + o, sizeof(in) - o, "\"V%d\":%s%d.%07d,", i,
                              i % 3 ? "-" : "", i % 4, i * 1234567 % 9999991);
    snprintf(in + o, sizeof(in) - o,
             "\"Amount\":149.62,\"transaction_id\":\"txn_000001\","
             "\"timestamp\":\"2024-01-15T10:30:00\"}");
    /* seed 000 writes timestamps without a zone: rejected, the instant is ambiguous */
    decoded d;
    dec_json(&d, in);
    expect_reject(&d, "seed 000 zone-less", "timestamp", "ISO-8601");
    dec_release(&d);

    char *z = strstr(in, "10:30:00\"");
    assert_non_null(z);
    memcpy(z + 8, "Z\"}", 4);
    dec_json(&d, in);
    expect_ok(&d, in);
    assert_int_equal(d.t.v_mask, 0x0fffffffu);
    for (int i = 1; i <= 28; i++) {
        char tok[32];
        snprintf(tok, sizeof(tok), "%s%d.%07d", i % 3 ? "-" : "", i % 4, i * 1234567 % 9999991);
        float want = (float)strtod(tok, NULL);
        if (d.t.v[i - 1] != want)
            fail_msg("V%d = %.9g, expected %.9g (%s)", i, d.t.v[i - 1], want, tok);
    }
    assert_true(d.t.amount == 149.62);
    assert_str(d.t.amount_raw, "149.62");
    assert_str(d.t.transaction_id, "txn_000001");
    assert_int_equal(d.t.ts_ms, TS0);
    dec_release(&d);

    /* The /predict example from seed 000, with the required fields added. */
    dec_json(&d, "{\"V1\":-4.0,\"V2\":-3.0,\"V3\":-2.0,\"Amount\":1500.0,"
                 "\"transaction_id\":\"p1\",\"timestamp\":1705314600000}");
    expect_ok(&d, "predict example");
    assert_int_equal(d.t.v_mask, 7);
    assert_true(d.t.v[0] == -4.0f && d.t.v[1] == -3.0f && d.t.v[2] == -2.0f);
    assert_true(d.t.amount == 1500.0);
    dec_release(&d);
}

static void test_escapes(void **state) {
    (void)state;
    decoded d;
    dec_json(&d, "{\"transaction_id\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\","
                 "\"account_id\":\"\\u00e9\\u20AC\\ud83d\\ude00\",\"user_id\":\"x\\u0041\","
                 "\"timestamp\":\"2024-01-15T10:30:00\\u005a\",\"amount\":1}");
    expect_ok(&d, "escapes");
    assert_str(d.t.transaction_id, "a\"b\\c/d\b\f\n\r\t");
    assert_str(d.t.account_id, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    assert_str(d.t.customer_id, "xA");
    assert_str(d.t.ts_raw, "2024-01-15T10:30:00Z");
    assert_int_equal(d.t.ts_ms, TS0);
    /* unescaped strings live in the arena, the others in the input */
    assert_true(in_range(d.t.transaction_id, d.arena.data, d.arena.used));
    assert_true(in_range(d.t.amount_raw, d.buf, d.n));
    dec_release(&d);
}

static void test_utf8_valid(void **state) {
    (void)state;
    decoded d;
    const char *in = REC("\"merchant_id\":\"caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x98\x80-"
                         "\xef\xbf\xbf-\xf4\x8f\xbf\xbf\"");
    dec_json(&d, in);
    expect_ok(&d, in);
    assert_str(d.t.merchant_id,
               "caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x98\x80-\xef\xbf\xbf-\xf4\x8f\xbf\xbf");
    assert_true(in_range(d.t.merchant_id, d.buf, d.n)); /* no escapes: no copy */
    assert_int_equal(d.arena.used, 0);
    dec_release(&d);
}

/* The scanner takes 8 and 16 bytes at a time: a byte that needs a closer
 * look (escape, control, UTF-8, invalid) at every position of strings up to
 * 40 bytes, in a value far from the record's end and in the last one. */
static void test_string_scan_positions(void **state) {
    (void)state;
    static const struct {
        const char *bytes, *want; /* want NULL: rejected */
    } special[] = {
        { "\\n", "\n" }, { "\\u00e9", "\xc3\xa9" }, { "\xc3\xa9", "\xc3\xa9" },
        { "\"", "" }, { "\x01", NULL }, { "\xff", NULL }, { "\xc3", NULL },
    };
    for (size_t len = 0; len <= 40; len++) {
        for (size_t k = 0; k < N(special); k++) {
            for (size_t pos = 0; pos <= len; pos++) {
                char str[64], want[64], rec[256];
                size_t o = 0, w = 0;
                bool cut = special[k].bytes[0] == '"'; /* the quote ends it at pos */
                for (size_t j = 0; j < len; j++) {
                    if (j == pos) {
                        o += (size_t)sprintf(str + o, "%s", special[k].bytes);
                        if (special[k].want)
                            w += (size_t)sprintf(want + w, "%s", special[k].want);
                    }
                    str[o++] = (char)('a' + j % 26);
                    if (!cut || j < pos)
                        want[w++] = (char)('a' + j % 26);
                }
                if (pos == len) {
                    if (cut)
                        continue;
                    o += (size_t)sprintf(str + o, "%s", special[k].bytes);
                    if (special[k].want)
                        w += (size_t)sprintf(want + w, "%s", special[k].want);
                }
                str[o] = want[w] = '\0';
                if (cut) /* "...ab" then the rest as the next field's bytes: a syntax error */
                    continue;
                for (int last = 0; last < 2; last++) {
                    if (last)
                        snprintf(rec, sizeof(rec), "{" REQ ",\"merchant_id\":\"%s\"}", str);
                    else
                        snprintf(rec, sizeof(rec),
                                 "{\"merchant_id\":\"%s\",\"account_id\":\"a-0123456789abcdef\","
                                 REQ "}", str);
                    decoded d;
                    dec_json(&d, rec);
                    if (!special[k].want) {
                        if (d.rc == FW_OK)
                            fail_msg("accepted %s (len %zu, special %zu at %zu)", rec, len, k,
                                     pos);
                        assert_string_equal(d.err.field, "merchant_id");
                    } else {
                        expect_ok(&d, rec);
                        if (!fw_str_eq_c(d.t.merchant_id, want))
                            fail_msg("merchant_id of %s: got \"%.*s\", want \"%s\"", rec,
                                     (int)d.t.merchant_id.len, d.t.merchant_id.ptr, want);
                    }
                    dec_release(&d);
                }
            }
        }
    }
}

/* Without an arena a string with escapes cannot be unescaped: rejected. */
static void test_escapes_without_arena(void **state) {
    (void)state;
    const char *in = "{\"transaction_id\":\"a\\nb\",\"timestamp\":" T0 ",\"amount\":1}";
    fw_txn t;
    fw_decode_error err;
    assert_int_equal(fw_txn_decode_json(in, strlen(in), NULL, 0, &t, &err), FW_ERR_INVALID);
    assert_string_equal(err.field, "transaction_id");
    check_reason(&err);
    /* Escapes in unknown fields and keys need no arena. */
    in = "{\"transaction_id\":\"a\",\"timestamp\":" T0 ",\"amount\":1,\"n\\u00e9\":\"\\n\"}";
    assert_int_equal(fw_txn_decode_json(in, strlen(in), NULL, 0, &t, &err), FW_OK);
}

/* A full arena is the batch's problem, not the record's: FW_ERR_LIMIT. */
static void test_arena_full(void **state) {
    (void)state;
    fw_arena small;
    assert_true(fw_arena_init(&small, 8));
    const char *in = "{\"transaction_id\":\"0123456789\\n\",\"timestamp\":" T0 ",\"amount\":1}";
    fw_txn t;
    fw_decode_error err;
    assert_int_equal(fw_txn_decode_json(in, strlen(in), &small, 0, &t, &err), FW_ERR_LIMIT);
    assert_string_equal(err.field, "transaction_id");
    assert_non_null(strstr(err.reason, "arena is full"));
    fw_arena_reset(&small);
    in = "{\"transaction_id\":\"01\\n\",\"timestamp\":" T0 ",\"amount\":1}";
    assert_int_equal(fw_txn_decode_json(in, strlen(in), &small, 0, &t, &err), FW_OK);
    assert_str(t.transaction_id, "01\n");
    fw_arena_fini(&small);
}

/* Builds a record whose unknown field "x" nests @p arrays arrays. */
static char *nested(int arrays, char open, char close) {
    const char *head = "{" REQ ",\"x\":";
    size_t n = strlen(head) + 2 * (size_t)arrays + 8;
    char *s = malloc(n);
    assert_non_null(s);
    size_t o = (size_t)snprintf(s, n, "%s", head);
    for (int i = 0; i < arrays; i++)
        s[o++] = open;
    for (int i = 0; i < arrays; i++)
        s[o++] = close;
    s[o++] = '}';
    s[o] = '\0';
    return s;
}

static void test_nesting(void **state) {
    (void)state;
    decoded d;
    char *s = nested(63, '[', ']'); /* the record object + 63 arrays = 64 levels */
    dec_json(&d, s);
    expect_ok(&d, "64 levels");
    dec_release(&d);
    free(s);

    s = nested(64, '[', ']');       /* 65 levels */
    dec_json(&d, s);
    expect_reject(&d, "65 levels", NULL,
                  "Unknown field \"x\" nests objects and arrays deeper than 64");
    dec_release(&d);
    free(s);

    /* Objects count the same way: {"x":{"x":...}} */
    char buf[2048];
    size_t o = (size_t)snprintf(buf, sizeof(buf), "{" REQ ",\"x\":");
    for (int i = 0; i < 64; i++)
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "{\"x\":");
    o += (size_t)snprintf(buf + o, sizeof(buf) - o, "1");
    for (int i = 0; i < 65; i++)
        buf[o++] = '}';
    buf[o] = '\0';
    dec_json(&d, buf);
    expect_reject(&d, "65 object levels", NULL, "deeper than 64");
    dec_release(&d);

    /* Very deep input is rejected without deep recursion. */
    s = nested(100000, '[', ']');
    dec_json_n(&d, s, strlen(s), (size_t)1 << 20);
    expect_reject(&d, "100000 levels", NULL, "deeper than 64");
    dec_release(&d);
    free(s);
}

static void test_max_bytes(void **state) {
    (void)state;
    const char *in = "{" REQ "}";
    size_t n = strlen(in);
    decoded d;
    dec_json_n(&d, in, n, n); /* exactly at the limit */
    expect_ok(&d, in);
    dec_release(&d);
    dec_json_n(&d, in, n, n - 1);
    expect_reject(&d, "one byte over", NULL, "over the limit");
    dec_release(&d);

    /* max_bytes 0 means FW_TXN_DEFAULT_MAX_BYTES */
    size_t big = FW_TXN_DEFAULT_MAX_BYTES;
    char *s = malloc(big + 1);
    assert_non_null(s);
    size_t o = (size_t)snprintf(s, big + 1, "{" REQ ",\"pad\":\"");
    memset(s + o, 'p', big - o - 2);
    memcpy(s + big - 2, "\"}", 2);
    dec_json_n(&d, s, big, 0);
    expect_ok(&d, "65536 bytes");
    dec_release(&d);
    s[big - 2] = 'p';
    s[big - 1] = '"';
    s[big] = '}';
    dec_json_n(&d, s, big + 1, 0);
    expect_reject(&d, "65537 bytes", NULL, "over the limit of 65536 bytes");
    dec_release(&d);
    free(s);
}

/* A random number token from the xorshift state @p x: 1 to @p max_digits
 * digits, a point anywhere (or none), and half the time an exponent within
 * +-@p max_exp. */
static void random_number_token(uint64_t *x, int max_digits, int max_exp, char *tok,
                                size_t size) {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    int digits = 1 + (int)(*x % (uint64_t)max_digits);
    int point = (int)((*x >> 8) % (uint64_t)(max_digits + 2));
    int exp = (int)((*x >> 16) % (uint64_t)(2 * max_exp + 1)) - max_exp;
    size_t o = 0;
    uint64_t y = *x;
    tok[o++] = (char)('1' + y % 9);
    for (int k = 1; k < digits; k++) {
        y = y * 6364136223846793005ull + 1442695040888963407ull;
        if (k == point)
            tok[o++] = '.';
        tok[o++] = (char)('0' + (y >> 33) % 10);
    }
    if ((*x >> 24) & 1)
        o += (size_t)snprintf(tok + o, size - o, "e%d", exp);
    tok[o] = '\0';
}

/* The exact fast path and strtod must agree bit for bit on every token. */
static void test_number_conversion(void **state) {
    (void)state;
    static const char *const fixed[] = {
        "0.1", "0.2", "0.3", "1.7976931348623157e308", "2.2250738585072014e-308",
        "4.9e-324", "9007199254740993", "9007199254740992", "123456789012345.6",
        "0.0727811733098497", "1.3598071336738", "3.14159265358979323846", "1e22", "1e23",
        "1e-22", "1e-23", "5000.01", "0.000001", "100000000000000000000000",
        "8.98846567431158e307", "0.30000000000000004",
    };
    uint64_t x = 0x2545f4914f6cdd1dull;
    for (size_t i = 0; i < N(fixed) + 5000; i++) {
        char tok[64];
        if (i < N(fixed))
            snprintf(tok, sizeof(tok), "%s", fixed[i]);
        else
            random_number_token(&x, 19, 30, tok, sizeof(tok));
        char in[160];
        snprintf(in, sizeof(in), "{\"transaction_id\":\"a\",\"timestamp\":" T0 ",\"amount\":%s}",
                 tok);
        decoded d;
        dec_json(&d, in);
        expect_ok(&d, in);
        double want = strtod(tok, NULL);
        if (memcmp(&d.t.amount, &want, sizeof(double)) != 0)
            fail_msg("amount %s decoded as %.17g, strtod gives %.17g", tok, d.t.amount, want);
        dec_release(&d);
    }
}

/* Short numbers with room after them take the decoder's fast path; at a
 * record's end, the long way. Both give strtod's double, fw_dec_parse's exact
 * amount and the same verdict, for valid and invalid tokens alike. */
static void test_number_fast_path(void **state) {
    (void)state;
    static const char *const fixed[] = {
        "0", "-0", "7", "12", "0.5", "-0.5", "00.5", "01", "1.", ".5", "-", "1.5.2", "1e5",
        "1.5e3", "1234567", "12345678", "1234567.1234567", "1234567.12345678", "0.0000001",
        "0.00000001", "9999999.9999999", "5000.01", "1-2", "1+2", "1x", "1E2", "-.5", "+1",
        "2.50", "300.000",
    };
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < N(fixed) + 20000; i++) {
        char tok[40];
        if (i < N(fixed)) {
            snprintf(tok, sizeof(tok), "%s", fixed[i]);
        } else { /* up to 9 digits each side, sometimes a leading zero or sign */
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            int a = (int)(x % 10), b = (int)((x >> 8) % 11) - 1;
            size_t o = 0;
            if ((x >> 20) % 4 == 0)
                tok[o++] = '-';
            for (int k = 0; k < a; k++)
                tok[o++] = (char)('0' + (k == 0 && (x >> 24) % 5 ? 1 + (x >> (28 + k)) % 9
                                                                  : (x >> (30 + k)) % 10));
            if (b >= 0) {
                tok[o++] = '.';
                for (int k = 0; k < b; k++)
                    tok[o++] = (char)('0' + (x >> (40 + k)) % 10);
            }
            tok[o] = '\0';
        }
        char first[200], last[200];
        snprintf(first, sizeof(first),
                 "{\"amount\":%s,\"transaction_id\":\"a\",\"timestamp\":" T0 "}", tok);
        snprintf(last, sizeof(last),
                 "{\"transaction_id\":\"a\",\"timestamp\":" T0 ",\"amount\":%s}", tok);
        decoded f, l;
        dec_json(&f, first);
        dec_json(&l, last);
        if (f.rc != l.rc)
            fail_msg("%s: %s with room after it, %s at the end (%s%s)", tok,
                     f.rc == FW_OK ? "accepted" : "refused", l.rc == FW_OK ? "accepted" : "refused",
                     f.err.reason, l.err.reason);
        if (f.rc == FW_OK) {
            double want = strtod(tok, NULL);
            want = want == 0 ? 0.0 : want; /* an amount of -0 is taken as 0 */
            if (memcmp(&f.t.amount, &want, sizeof(double)) != 0 ||
                memcmp(&l.t.amount, &want, sizeof(double)) != 0)
                fail_msg("%s: %.17g and %.17g, strtod %.17g", tok, f.t.amount, l.t.amount, want);
            fw_dec dec = 0;
            bool dec_ok = fw_dec_parse(tok, strlen(tok), &dec) == FW_OK;
            if (f.t.amount_dec_set != dec_ok || l.t.amount_dec_set != dec_ok ||
                (dec_ok && (f.t.amount_dec != dec || l.t.amount_dec != dec)))
                fail_msg("%s: exact amounts %lld and %lld, fw_dec_parse %lld", tok,
                         (long long)f.t.amount_dec, (long long)l.t.amount_dec, (long long)dec);
            if (!fw_str_eq(f.t.amount_raw, l.t.amount_raw))
                fail_msg("%s: raw amounts differ", tok);
        }
        dec_release(&f);
        dec_release(&l);
    }
}

/* A decoder that learns the field order (fw_txn_shape) decodes every record
 * as one that does not: records in the learned order, in another, with
 * spaces, escaped names, a name that starts like a learned one, a field
 * given twice where the order predicts it, near the record's end. */
static void test_shape(void **state) {
    (void)state;
    static const char *const recs[] = {
        "{\"transaction_id\":\"t1\",\"timestamp\":" T0 ",\"amount\":12.5,\"account_id\":\"a\","
        "\"lat\":1.5,\"lon\":2.5,\"channel\":\"pos\",\"is_fraud\":false}",
        "{\"transaction_id\":\"t2\",\"timestamp\":" T0 ",\"amount\":13,\"account_id\":\"b\","
        "\"lat\":1.5,\"lon\":2.5,\"channel\":\"pos\",\"is_fraud\":false}",
        "{\"transaction_id\":\"t3\",\"timestamp\":" T0 ",\"amount\":13,\"amount\":14,"
        "\"account_id\":\"b\"}",
        "{\"transaction_id\":\"t4\",\"timestamp\":" T0 ",\"amo\\u0075nt\":15,\"account_id\":\"c\"}",
        "{\"transaction_id\":\"t5\",\"timestamp\":" T0 ",\"amo\\u0075nt\":16,\"account_id\":\"c\"}",
        "{\"transaction_id\":\"t6\",\"timestamp\":" T0 ",\"amount\":17,\"latitude\":5,\"lat\":1}",
        "{\"transaction_id\":\"t7\",\"timestamp\":" T0 ",\"amount\":17,\"lat\":1,\"lat\":2}",
        "{ \"transaction_id\" : \"t8\", \"timestamp\": " T0 ", \"amount\": 18 }",
        "{\"account_id\":\"d\",\"amount\":19,\"timestamp\":" T0 ",\"transaction_id\":\"t9\"}",
        "{\"transaction_id\":\"t10\",\"timestamp\":" T0 ",\"amount\":20,\"account_id\":\"e\"}",
        "{\"transaction_id\":\"t11\",\"timestamp\":" T0 ",\"amount\":21,\"account_id\":\"e\"",
        "{\"transaction_id\":\"t12\",\"timestamp\":" T0 ",\"amount\":22,\"account_id\":",
        "{\"transaction_id\":\"t13\",\"timestamp\":" T0 ",\"amount\":23,\"account_id\":\"e\","
        "\"lat\":1.5,\"lon\":2.5,\"channel\":\"pos\",\"is_fraud\":false}",
    };
    fw_txn_shape shape;
    memset(&shape, 0, sizeof(shape));
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < N(recs); i++) {
            size_t n = strlen(recs[i]);
            char *buf = malloc(n); /* not terminated, as records are not */
            assert_non_null(buf);
            memcpy(buf, recs[i], n);
            fw_arena a;
            assert_true(fw_arena_init(&a, 4096));
            fw_txn t, u;
            fw_decode_error e1, e2;
            fw_err r1 = fw_txn_decode_json(buf, n, &a, 0, &t, &e1);
            fw_arena_reset(&a);
            fw_err r2 = fw_txn_decode_json_shaped(buf, n, &a, 0, &shape, &u, &e2);
            if (r1 != r2)
                fail_msg("%s: %d without the shape, %d with it (%s / %s)", recs[i], (int)r1,
                         (int)r2, e1.reason, e2.reason);
            if (r1 == FW_OK && memcmp(&t, &u, FW_TXN_ZEROED) != 0)
                fail_msg("%s decodes differently with the shape", recs[i]);
            if (r1 != FW_OK && (strcmp(e1.reason, e2.reason) || e1.offset != e2.offset))
                fail_msg("%s: \"%s\" at %zu without the shape, \"%s\" at %zu with it", recs[i],
                         e1.reason, e1.offset, e2.reason, e2.offset);
            fw_arena_fini(&a);
            free(buf);
        }
}

/* The decoders' exact amount (amount_dec) is fw_dec_parse of the token as
 * written, rounding half-even at the fourth place, for every format; a token
 * fw_dec_parse refuses (beyond fw_dec's range) leaves amount_dec_set false,
 * so a rule falls back exactly as for a record built without a decoder. */
static void dec_semi(decoded *d, const char *s, size_t max_bytes);

static void check_amount_dec(const char *tok) {
    fw_dec want = 0;
    fw_err prc = fw_dec_parse(tok, strlen(tok), &want);
    char in[200];
    decoded d;
    for (int fmt = 0; fmt < 3; fmt++) {
        fw_csv_columns cols;
        char err[256];
        if (fmt == 0) {
            snprintf(in, sizeof(in),
                     "{\"transaction_id\":\"a\",\"timestamp\":" T0 ",\"amount\":%s}", tok);
            dec_json(&d, in);
        } else if (fmt == 1) {
            snprintf(in, sizeof(in), "1700000000000;66;26;%s", tok);
            dec_semi(&d, in, 0);
        } else {
            static const char hdr[] = "transaction_id,timestamp,amount";
            assert_int_equal(fw_csv_columns_init(&cols, hdr, strlen(hdr), NULL, err,
                                                 sizeof(err)), FW_OK);
            snprintf(in, sizeof(in), "a,1700000000000,%s", tok);
            d.n = strlen(in);
            d.buf = malloc(d.n);
            assert_non_null(d.buf);
            memcpy(d.buf, in, d.n);
            assert_true(fw_arena_init(&d.arena, 4096));
            d.rc = fw_txn_decode_csv(d.buf, d.n, &cols, NULL, &d.arena, 0, &d.t, &d.err);
        }
        if (d.rc != FW_OK)
            fail_msg("format %d: amount %s not decoded: %s", fmt, tok, d.err.reason);
        if (prc != FW_OK && d.t.amount_dec_set)
            fail_msg("format %d: amount %s: fw_dec_parse refuses it (%d), the decoder gives "
                     "%" PRId64, fmt, tok, (int)prc, d.t.amount_dec);
        if (prc == FW_OK && (!d.t.amount_dec_set || d.t.amount_dec != want))
            fail_msg("format %d: amount %s: decoder %s%" PRId64 ", fw_dec_parse %" PRId64, fmt,
                     tok, d.t.amount_dec_set ? "" : "(unset) ", d.t.amount_dec, want);
        dec_release(&d);
    }
}

static void test_amount_dec(void **state) {
    (void)state;
    static const char *const fixed[] = {
        "0", "-0", "-0.0", "-0e5", "7810", "2500.5", "2500.50", "0.0001", "0.00005",
        "0.00015", "0.00025", "1.23456", "1.23455", "1.234550000001", "1.2345499999",
        "0.99995", "0.99985", "9.99999e-1", "5e-5", "15e-5", "25e-5", "35e-5", "1e-30",
        "1e-100000", "1e3", "1.5E-3", "12345e-8", "1E+4", "0.5e1", "123456789012345.6789",
        "922337203685477.5807", "922337203685477.5808", "922337203685477.58075",
        "922337203685477.58065", "92233720368547758", "1e14", "1e15", "1e18", "1e19",
        "100000000000000000000000", "12345678901234567890123e-18",
        "123456789.123456789123456789", "0.000000010000000000001e20",
        "0.0000000100000000000015e4", "9999999999999999999", "99999999999999999999e-10",
        "0.00004999999999999999999999", "0.000050000000000000000000001",
    };
    for (size_t i = 0; i < N(fixed); i++)
        check_amount_dec(fixed[i]);
    /* Random tokens: up to 24 digits, a point anywhere, an exponent or not. */
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 20000; i++) {
        char tok[64];
        random_number_token(&x, 24, 20, tok, sizeof(tok));
        check_amount_dec(tok);
    }
}

/* Every prefix of a valid record is rejected, never read past its end. */
static void test_every_prefix(void **state) {
    (void)state;
    const char *in = "{\"transaction_id\":\"t\\u00e9\\ud83d\\ude00\",\"timestamp\":"
                     "\"2024-01-15T10:30:00Z\",\"amount\":-0.5e-1,\"x\":[{\"y\":null}],"
                     "\"country\":\"\xc3\xa9\"}";
    for (size_t k = 0; k < strlen(in); k++) {
        decoded d;
        dec_json_n(&d, in, k, 0);
        assert_int_equal(d.rc, FW_ERR_INVALID);
        check_reason(&d.err);
        dec_release(&d);
    }
}

/* ---- semicolon records ---- */

static const fw_str synth = { .ptr = "transactions-0-42", .len = 17 };

static void dec_semi(decoded *d, const char *s, size_t max_bytes) {
    d->n = strlen(s);
    d->buf = malloc(d->n ? d->n : 1);
    assert_non_null(d->buf);
    memcpy(d->buf, s, d->n);
    d->arena = (fw_arena){ 0 };
    d->rc = fw_txn_decode_semicolon(d->buf, d->n, synth, max_bytes, &d->t, &d->err);
    if (d->rc != FW_OK)
        return;
    check_slices(d, synth);
    fw_txn again;
    fw_decode_error err2;
    assert_int_equal(fw_txn_decode_semicolon(d->buf, d->n, synth, max_bytes, &again, &err2),
                     FW_OK);
    assert_txn_same(&d->t, &again);
}

static void test_semicolon_accepts(void **state) {
    (void)state;
    static const struct {
        const char *in;
        int64_t ts;
        const char *origin, *target;
        double amount;
    } cases[] = {
        { "Sunday, 23-Jul-17 01:06:47 UTC;66;26;7810", 1500772007000, "66", "26", 7810 },
        { "Sunday, 23-Jul-17 01:06:47 UTC;66;26;7810\n", 1500772007000, "66", "26", 7810 },
        { "Sunday, 23-Jul-17 01:06:47 UTC;66;26;7810\r\n", 1500772007000, "66", "26", 7810 },
        { "Sunday, 23-Jul-17 01:06:47 GMT;1;2;0", 1500772007000, "1", "2", 0 },
        { "2024-01-15T10:30:00Z;acc-1;acc-2;12.5", TS0, "acc-1", "acc-2", 12.5 },
        { "1705314600000;a;b;1e3", TS0, "a", "b", 1000 },
        { "1705314600000;a;b;-0", TS0, "a", "b", 0 },
        { "1705314600000;caf\xc3\xa9;b c;5000.01", TS0, "caf\xc3\xa9", "b c", 5000.01 },
    };
    for (size_t i = 0; i < N(cases); i++) {
        decoded d;
        dec_semi(&d, cases[i].in, 0);
        expect_ok(&d, cases[i].in);
        assert_int_equal(d.t.ts_ms, cases[i].ts);
        assert_str(d.t.account_id, cases[i].origin);
        assert_str(d.t.counterparty_id, cases[i].target);
        assert_true(d.t.amount == cases[i].amount && !signbit(d.t.amount));
        assert_int_equal(d.t.type, FW_TXN_TRANSFER);
        assert_true(d.t.transaction_id.ptr == synth.ptr);
        assert_false(d.t.raw_is_json);
        assert_true(d.t.raw.len > 0 && d.t.raw.ptr[d.t.raw.len - 1] != '\n' &&
                    d.t.raw.ptr[d.t.raw.len - 1] != '\r');
        dec_release(&d);
    }
}

static void test_semicolon_rejects(void **state) {
    (void)state;
    static const struct {
        const char *name, *in;
        size_t max_bytes;
        const char *field, *needle;
    } cases[] = {
        { "empty", "", 0, NULL, "empty" },
        { "newline only", "\r\n", 0, NULL, "empty" },
        { "3 fields", "Sunday, 23-Jul-17 01:06:47 UTC;66;26", 0, NULL, "expected 4" },
        { "5 fields", "Sunday, 23-Jul-17 01:06:47 UTC;66;26;7810;x", 0, NULL, "more than 4" },
        { "trailing semicolon", "Sunday, 23-Jul-17 01:06:47 UTC;66;26;7810;", 0, NULL,
          "expected 4" },
        { "JSON line", "{\"transaction_id\":\"a\"}", 0, NULL, "expected 4" },
        { "bad timestamp", "23/07/2017 01:06;66;26;7810", 0, "timestamp", "RFC 850" },
        { "zone-less ISO", "2024-01-15T10:30:00;66;26;7810", 0, "timestamp", "RFC 850" },
        { "empty timestamp", ";66;26;7810", 0, "timestamp", "RFC 850" },
        { "empty origin", "Sunday, 23-Jul-17 01:06:47 UTC;;26;7810", 0, "account_id",
          "empty" },
        { "empty target", "Sunday, 23-Jul-17 01:06:47 UTC;66;;7810", 0, "counterparty_id",
          "empty" },
        { "quote in origin", "0;6\"6;26;7810", 0, "account_id", "forbidden character 0x22" },
        { "backslash in target", "0;66;2\\6;7810", 0, "counterparty_id",
          "forbidden character 0x5c" },
        { "tab in origin", "0;6\t6;26;7810", 0, "account_id", "forbidden character 0x09" },
        { "DEL in target", "0;66;2\x7f;7810", 0, "counterparty_id", "forbidden character" },
        { "CR inside", "0;66\r;26;7810", 0, "account_id", "forbidden character 0x0d" },
        { "bad UTF-8", "0;\xc0\xaf;26;7810", 0, "account_id", "invalid UTF-8" },
        { "cut UTF-8", "0;66;\xe2\x82;7810", 0, "counterparty_id", "invalid UTF-8" },
        { "empty amount", "0;66;26;", 0, "amount", "not a number" },
        { "word amount", "0;66;26;abc", 0, "amount", "not a number" },
        { "plus amount", "0;66;26;+5", 0, "amount", "not a number" },
        { "leading zero amount", "0;66;26;05", 0, "amount", "not a number" },
        { "spaced amount", "0;66;26; 7810", 0, "amount", "not a number" },
        { "comma decimal", "0;66;26;78,10", 0, "amount", "not a number" },
        { "NaN amount", "0;66;26;NaN", 0, "amount", "not a number" },
        { "overflow amount", "0;66;26;1e999", 0, "amount", "not a finite number" },
        { "negative amount", "0;66;26;-5", 0, "amount", "negative" },
        { "long amount", "0;66;26;1234567890123456789012345678901234567890123456789012345678"
          "901234567", 0, "amount", "at most 64" },
        { "over max_bytes", "Sunday, 23-Jul-17 01:06:47 UTC;66;26;7810", 10, NULL,
          "over the limit of 10 bytes" },
    };
    for (size_t i = 0; i < N(cases); i++) {
        decoded d;
        dec_semi(&d, cases[i].in, cases[i].max_bytes);
        expect_reject(&d, cases[i].name, cases[i].field, cases[i].needle);
        dec_release(&d);
    }
}

/* ---- output ---- */

static void test_write_json_raw(void **state) {
    (void)state;
    const char *in = " {\"transaction_id\":\"a\",\"timestamp\":" T0 ",\"amount\":1.50,\"zz\":[1]} ";
    decoded d;
    dec_json(&d, in);
    expect_ok(&d, in);
    fw_buf b;
    fw_buf_init(&b, 0);
    assert_true(fw_txn_write_json(&d.t, &b));
    assert_int_equal(b.len, strlen(in) - 2);
    assert_memory_equal(b.data, in + 1, b.len); /* verbatim, amount "1.50" included */
    fw_buf_fini(&b);
    dec_release(&d);
}

/* A semicolon record becomes a JSON object the JSON decoder reads back. */
static void test_write_json_semicolon(void **state) {
    (void)state;
    decoded d;
    dec_semi(&d, "Sunday, 23-Jul-17 01:06:47 UTC;66;26;7810.50\n", 0);
    expect_ok(&d, "semicolon");
    fw_buf b;
    fw_buf_init(&b, 0);
    assert_true(fw_txn_write_json(&d.t, &b));
    assert_string_equal(b.data,
                        "{\"transaction_id\":\"transactions-0-42\","
                        "\"timestamp\":\"2017-07-23T01:06:47.000Z\",\"amount\":7810.50,"
                        "\"account_id\":\"66\",\"type\":\"TRANSFER\","
                        "\"counterparty_id\":\"26\"}");
    decoded back;
    dec_json_n(&back, b.data, b.len, 0);
    expect_ok(&back, b.data);
    assert_int_equal(back.t.ts_ms, d.t.ts_ms);
    assert_true(back.t.amount == d.t.amount);
    assert_str(back.t.account_id, "66");
    assert_str(back.t.counterparty_id, "26");
    assert_str(back.t.transaction_id, "transactions-0-42");
    assert_int_equal(back.t.type, FW_TXN_TRANSFER);
    dec_release(&back);

    /* A bounded buffer that is too small reports failure. */
    fw_buf small;
    fw_buf_init(&small, 16);
    assert_false(fw_txn_write_json(&d.t, &small));
    assert_true(small.overflow);
    fw_buf_fini(&small);
    fw_buf_fini(&b);
    dec_release(&d);
}

/* A record built in code, with every field, survives write → decode. */
static void test_write_json_built(void **state) {
    (void)state;
    fw_txn t = { 0 };
    t.transaction_id = FW_STR_LIT("id \"quoted\"\n");
    t.ts_ms = TS0 + 7;
    t.amount = 0.1;
    t.account_id = FW_STR_LIT("a");
    t.card_id = FW_STR_LIT("c");
    t.customer_id = FW_STR_LIT("u");
    t.type = FW_TXN_TYPE_OTHER;
    t.type_raw = FW_STR_LIT("REFUND");
    t.currency = FW_STR_LIT("USD");
    t.merchant_id = FW_STR_LIT("m");
    t.merchant_category = FW_STR_LIT("5411");
    t.country = FW_STR_LIT("US");
    t.counterparty_id = FW_STR_LIT("b");
    t.channel = FW_STR_LIT("pos");
    t.lat = -33.5;
    t.lon = 151.25;
    t.has = FW_TXN_HAS_LAT | FW_TXN_HAS_LON;
    t.v[0] = -1.3598071f;
    t.v[27] = 0.021f;
    t.v_mask = 1u | (1u << 27);
    fw_buf b;
    fw_buf_init(&b, 0);
    assert_true(fw_txn_write_json(&t, &b));
    decoded d;
    dec_json_n(&d, b.data, b.len, 0);
    expect_ok(&d, b.data);
    assert_str(d.t.transaction_id, "id \"quoted\"\n");
    assert_int_equal(d.t.ts_ms, t.ts_ms);
    assert_true(d.t.amount == 0.1);
    assert_int_equal(d.t.type, FW_TXN_TYPE_OTHER);
    assert_str(d.t.type_raw, "REFUND");
    assert_str(d.t.merchant_category, "5411");
    assert_str(d.t.channel, "pos");
    assert_true(d.t.lat == -33.5 && d.t.lon == 151.25);
    assert_int_equal(d.t.v_mask, t.v_mask);
    assert_true(d.t.v[0] == t.v[0] && d.t.v[27] == t.v[27]);
    dec_release(&d);
    fw_buf_fini(&b);
}

static void test_type_name(void **state) {
    (void)state;
    assert_string_equal(fw_txn_type_name(FW_TXN_TYPE_NONE), "");
    assert_string_equal(fw_txn_type_name(FW_TXN_PURCHASE), "PURCHASE");
    assert_string_equal(fw_txn_type_name(FW_TXN_TRANSFER), "TRANSFER");
    assert_string_equal(fw_txn_type_name(FW_TXN_WITHDRAWAL), "WITHDRAWAL");
    assert_string_equal(fw_txn_type_name(FW_TXN_DEPOSIT), "DEPOSIT");
    assert_string_equal(fw_txn_type_name(FW_TXN_PASSWORD_CHANGE), "PASSWORD_CHANGE");
    assert_string_equal(fw_txn_type_name(FW_TXN_LOGIN), "LOGIN");
    assert_string_equal(fw_txn_type_name(FW_TXN_TYPE_OTHER), "OTHER");
    assert_string_equal(fw_txn_type_name((fw_txn_type)99), "");
}

/* A NULL err is allowed; the reason is then simply not reported. */
static void test_null_err(void **state) {
    (void)state;
    fw_txn t;
    assert_int_equal(fw_txn_decode_json("x", 1, NULL, 0, &t, NULL), FW_ERR_INVALID);
    assert_int_equal(fw_txn_decode_semicolon("x", 1, synth, 0, &t, NULL), FW_ERR_INVALID);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_accepts),
        cmocka_unit_test(test_json_rejects),
        cmocka_unit_test(test_full_record),
        cmocka_unit_test(test_absent_fields),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_seed000_shape),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_string_scan_positions),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_escapes_without_arena),
        cmocka_unit_test(test_arena_full),
        cmocka_unit_test(test_nesting),
        cmocka_unit_test(test_max_bytes),
        cmocka_unit_test(test_number_conversion),
        cmocka_unit_test(test_number_fast_path),
        cmocka_unit_test(test_shape),
        cmocka_unit_test(test_every_prefix),
        cmocka_unit_test(test_semicolon_accepts),
        cmocka_unit_test(test_semicolon_rejects),
        cmocka_unit_test(test_write_json_raw),
        cmocka_unit_test(test_write_json_semicolon),
        cmocka_unit_test(test_write_json_built),
        cmocka_unit_test(test_type_name),
        cmocka_unit_test(test_amount_dec),
        cmocka_unit_test(test_null_err),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
