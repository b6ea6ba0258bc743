/* test_schema.c — table-driven tests of mapping documents (schema.c) and of
 * decoding through them (fw_txn_decode_json_mapped): parse errors naming the
 * key and value, renamed fields and dotted paths, epoch s/ms/µs, strptime
 * patterns with a zone, value maps, and the hints of missing-field dead
 * letters. Records are decoded from exact-size heap copies (ASan sees any
 * read past them). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "schema.h"
#include "txn.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static fw_schema *compile(const char *doc, char *errstr, size_t size) {
    errstr[0] = '\0';
    return fw_schema_parse(doc, strlen(doc), errstr, size);
}

/* ---- mapping documents that are refused ---- */

typedef struct bad_case {
    const char *name;
    const char *doc;
    const char *needle; /* must appear in the message */
} bad_case;

static const bad_case bad_cases[] = {
    { "not json", "{\"fields\":", "not valid JSON" },
    { "not an object", "[1]", "expected a JSON object" },
    { "unknown section", "{\"feilds\":{}}", "\"feilds\": unknown key" },
    { "unknown field", "{\"fields\":{\"amout\":\"amt\"}}", "fields.\"amout\": not one of our" },
    { "alias is not ours", "{\"fields\":{\"Amount\":\"amt\"}}", "not one of our fields" },
    { "source not a string", "{\"fields\":{\"amount\":5}}",
      "fields.amount: expected their field name or a dotted path as a string, got 5" },
    { "empty source", "{\"fields\":{\"amount\":\"\"}}", "fields.amount: expected their" },
    { "empty segment", "{\"fields\":{\"amount\":\"payment..amt\"}}",
      "fields.amount: \"payment..amt\" has an empty segment" },
    { "trailing dot", "{\"fields\":{\"amount\":\"payment.\"}}", "empty segment" },
    { "too deep", "{\"fields\":{\"amount\":\"a.b.c.d.e.f.g.h.i\"}}", "more than 8 levels" },
    { "same source twice", "{\"fields\":{\"amount\":\"x\",\"lat\":\"x\"}}",
      "fields.lat: \"x\" is already the source of fields.amount" },
    { "through a leaf", "{\"fields\":{\"amount\":\"p\",\"lat\":\"p.lat\"}}",
      "fields.lat: \"p.lat\" runs through the source of fields.amount" },
    { "leaf over object", "{\"fields\":{\"lat\":\"p.lat\",\"amount\":\"p\"}}",
      "fields.amount: \"p\" is an object holding other mapped fields" },
    { "format unknown", "{\"timestamp\":{\"format\":\"epoch_sec\"}}",
      "timestamp.format: expected iso8601, epoch_s, epoch_ms, epoch_us or \"strptime:PATTERN\", "
      "got \"epoch_sec\"" },
    { "format number", "{\"timestamp\":{\"format\":1}}", "timestamp.format: expected a string" },
    { "timestamp key", "{\"timestamp\":{\"fmt\":\"epoch_s\"}}", "timestamp.\"fmt\": unknown key" },
    { "pattern directive", "{\"timestamp\":{\"format\":\"strptime:%d/%m/%y %H:%M\","
      "\"zone\":\"Z\"}}", "has %y; the directives are" },
    { "pattern no time", "{\"timestamp\":{\"format\":\"strptime:%d/%m/%Y\",\"zone\":\"Z\"}}",
      "needs at least %Y %m %d %H %M" },
    { "pattern twice", "{\"timestamp\":{\"format\":\"strptime:%Y %Y-%m-%d %H:%M\","
      "\"zone\":\"Z\"}}", "has %Y twice" },
    { "pattern without zone", "{\"timestamp\":{\"format\":\"strptime:%Y-%m-%d %H:%M:%S\"}}",
      "timestamp.zone: a strptime pattern has no zone" },
    { "zone bad", "{\"timestamp\":{\"format\":\"strptime:%Y-%m-%d %H:%M\","
      "\"zone\":\"Europe/Paris\"}}", "timestamp.zone: expected a fixed offset" },
    { "zone on epoch", "{\"timestamp\":{\"format\":\"epoch_s\",\"zone\":\"+01:00\"}}",
      "only a \"strptime:...\" format takes a zone" },
    { "type target", "{\"values\":{\"type\":{\"buy\":\"PURCHSE\"}}}",
      "values.type.\"buy\": \"PURCHSE\" is not one of PURCHASE" },
    { "value not string", "{\"values\":{\"channel\":{\"web\":1}}}",
      "values.channel.\"web\": expected a non-empty string without NUL, got 1" },
    { "values key", "{\"values\":{\"currency\":{}}}", "values.\"currency\": unknown key" },
    { "values not object", "{\"values\":[]}", "values: expected an object" },
};

static void test_bad_mappings(void **state) {
    (void)state;
    char err[512];
    for (size_t i = 0; i < N(bad_cases); i++) {
        fw_schema *s = compile(bad_cases[i].doc, err, sizeof(err));
        if (s) {
            fw_schema_destroy(s);
            fail_msg("[%s] accepted %s", bad_cases[i].name, bad_cases[i].doc);
        }
        if (!strstr(err, bad_cases[i].needle))
            fail_msg("[%s] message \"%s\" lacks \"%s\"", bad_cases[i].name, err,
                     bad_cases[i].needle);
    }
}

/* ---- records decoded through a mapping ---- */

typedef struct map_case {
    const char *name;
    const char *mapping;
    const char *record;
    const char *id;        /* expected transaction_id; NULL: rejected */
    int64_t ts_ms;         /* when accepted */
    double amount;
    const char *needle;    /* accepted: expected type name ("" none); rejected: in reason */
    const char *field;     /* rejected: field named */
} map_case;

#define M_NAMES \
    "{\"fields\":{\"transaction_id\":\"txn_id\",\"amount\":\"amt\",\"timestamp\":\"ts\"}"
#define TS0 1705314600000LL /* 2024-01-15T10:30:00Z */

static const map_case map_cases[] = {
    { "renamed", M_NAMES "}", "{\"txn_id\":\"a\",\"amt\":3,\"ts\":\"2024-01-15T10:30:00Z\"}", "a",
      TS0, 3, "", NULL },
    { "our own name of a mapped field is unknown", M_NAMES "}",
      "{\"txn_id\":\"a\",\"amount\":9,\"amt\":3,\"ts\":\"2024-01-15T10:30:00Z\"}", "a", TS0, 3,
      "", NULL },
    { "unmapped fields keep our names", "{\"fields\":{\"amount\":\"amt\"}}",
      "{\"transaction_id\":\"a\",\"amt\":3,\"timestamp\":\"2024-01-15T10:30:00Z\","
      "\"type\":\"LOGIN\"}", "a", TS0, 3, "LOGIN", NULL },
    { "nested one level", "{\"fields\":{\"amount\":\"payment.amount\"}}",
      "{\"transaction_id\":\"a\",\"payment\":{\"currency\":\"EUR\",\"amount\":4.5},"
      "\"timestamp\":\"2024-01-15T10:30:00Z\"}", "a", TS0, 4.5, "", NULL },
    { "nested three levels", "{\"fields\":{\"amount\":\"p.q.r\",\"transaction_id\":\"p.id\"}}",
      "{\"p\":{\"x\":[1,{\"r\":2}],\"q\":{\"r\":7},\"id\":\"n\"},"
      "\"timestamp\":\"2024-01-15T10:30:00Z\"}", "n", TS0, 7, "", NULL },
    { "escaped key", M_NAMES "}",
      "{\"txn\\u005fid\":\"a\",\"amt\":3,\"ts\":\"2024-01-15T10:30:00Z\"}", "a", TS0, 3, "", NULL },
    { "nested not an object", "{\"fields\":{\"amount\":\"payment.amount\"}}",
      "{\"transaction_id\":\"a\",\"payment\":5,\"timestamp\":\"2024-01-15T10:30:00Z\"}", NULL, 0,
      0, "Required field amount (mapped from \"payment.amount\") is missing", "amount" },
    { "nested given twice", "{\"fields\":{\"amount\":\"p.a\"}}",
      "{\"transaction_id\":\"a\",\"p\":{\"a\":1,\"a\":2},\"timestamp\":\"2024-01-15T10:30:00Z\"}",
      NULL, 0, 0, "given twice", "amount" },
    { "nested bad json", "{\"fields\":{\"amount\":\"p.a\"}}",
      "{\"transaction_id\":\"a\",\"p\":{\"a\":1,},\"timestamp\":\"2024-01-15T10:30:00Z\"}", NULL, 0,
      0, "not valid JSON", NULL },
    { "epoch_s", M_NAMES ",\"timestamp\":{\"format\":\"epoch_s\"}}",
      "{\"txn_id\":\"a\",\"amt\":1,\"ts\":1705314600}", "a", TS0, 1, "", NULL },
    { "epoch_s fraction", M_NAMES ",\"timestamp\":{\"format\":\"epoch_s\"}}",
      "{\"txn_id\":\"a\",\"amt\":1,\"ts\":1705314600.2999}", "a", TS0 + 299, 1, "", NULL },
    { "epoch_s string", M_NAMES ",\"timestamp\":{\"format\":\"epoch_s\"}}",
      "{\"txn_id\":\"a\",\"amt\":1,\"ts\":\"1705314600\"}", "a", TS0, 1, "", NULL },
    { "epoch_s small is fine", M_NAMES ",\"timestamp\":{\"format\":\"epoch_s\"}}",
      "{\"txn_id\":\"a\",\"amt\":1,\"ts\":0}", "a", 0, 1, "", NULL },
    { "epoch_s exponent", M_NAMES ",\"timestamp\":{\"format\":\"epoch_s\"}}",
      "{\"txn_id\":\"a\",\"amt\":1,\"ts\":1.7e9}", NULL, 0, 0,
      "is not epoch seconds (the mapping's format epoch_s)", "timestamp" },
    { "epoch_s iso string", M_NAMES ",\"timestamp\":{\"format\":\"epoch_s\"}}",
      "{\"txn_id\":\"a\",\"amt\":1,\"ts\":\"2024-01-15T10:30:00Z\"}", NULL, 0, 0,
      "epoch seconds", "timestamp" },
    { "epoch_ms", M_NAMES ",\"timestamp\":{\"format\":\"epoch_ms\"}}",
      "{\"txn_id\":\"a\",\"amt\":1,\"ts\":5}", "a", 5, 1, "", NULL },
    { "epoch_us", M_NAMES ",\"timestamp\":{\"format\":\"epoch_us\"}}",
      "{\"txn_id\":\"a\",\"amt\":1,\"ts\":1705314600123456}", "a", TS0 + 123, 1, "", NULL },
    { "epoch_us fraction refused", M_NAMES ",\"timestamp\":{\"format\":\"epoch_us\"}}",
      "{\"txn_id\":\"a\",\"amt\":1,\"ts\":1.5}", NULL, 0, 0, "epoch microseconds", "timestamp" },
    { "epoch_s past 9999", M_NAMES ",\"timestamp\":{\"format\":\"epoch_s\"}}",
      "{\"txn_id\":\"a\",\"amt\":1,\"ts\":253402300800}", NULL, 0, 0, "between years",
      "timestamp" },
    { "default still hints", M_NAMES "}", "{\"txn_id\":\"a\",\"amt\":1,\"ts\":1705314600}", NULL, 0,
      0, "if it is epoch seconds, map it", "timestamp" },
    { "iso8601 refuses numbers", M_NAMES ",\"timestamp\":{\"format\":\"iso8601\"}}",
      "{\"txn_id\":\"a\",\"amt\":1,\"ts\":1705314600000}", NULL, 0, 0,
      "the mapping's format is iso8601", "timestamp" },
    { "pattern +01:00", M_NAMES ",\"timestamp\":{\"format\":\"strptime:%d/%m/%Y %H:%M:%S\","
      "\"zone\":\"+01:00\"}}", "{\"txn_id\":\"a\",\"amt\":1,\"ts\":\"15/01/2024 11:30:00\"}", "a",
      TS0, 1, "", NULL },
    { "pattern fraction -0500", M_NAMES ",\"timestamp\":{\"format\":\"strptime:%Y%m%dT%H%M%S.%f\","
      "\"zone\":\"-0500\"}}", "{\"txn_id\":\"a\",\"amt\":1,\"ts\":\"20240115T053000.0421\"}", "a",
      TS0 + 42, 1, "", NULL },
    { "pattern literal %%", M_NAMES ",\"timestamp\":{\"format\":\"strptime:%Y-%m-%d %H:%M %%\","
      "\"zone\":\"Z\"}}", "{\"txn_id\":\"a\",\"amt\":1,\"ts\":\"2024-01-15 10:30 %\"}", "a", TS0, 1,
      "", NULL },
    { "pattern mismatch", M_NAMES ",\"timestamp\":{\"format\":\"strptime:%d/%m/%Y %H:%M:%S\","
      "\"zone\":\"Z\"}}", "{\"txn_id\":\"a\",\"amt\":1,\"ts\":\"2024-01-15 10:30:00\"}", NULL, 0, 0,
      "does not match the mapping's pattern \"%d/%m/%Y %H:%M:%S\"", "timestamp" },
    { "pattern trailing", M_NAMES ",\"timestamp\":{\"format\":\"strptime:%d/%m/%Y %H:%M\","
      "\"zone\":\"Z\"}}", "{\"txn_id\":\"a\",\"amt\":1,\"ts\":\"15/01/2024 10:30Z\"}", NULL, 0, 0,
      "does not match", "timestamp" },
    { "pattern 31 February", M_NAMES ",\"timestamp\":{\"format\":\"strptime:%d/%m/%Y %H:%M\","
      "\"zone\":\"Z\"}}", "{\"txn_id\":\"a\",\"amt\":1,\"ts\":\"31/02/2024 10:30\"}", NULL, 0, 0,
      "does not match", "timestamp" },
    { "pattern 29 February leap", M_NAMES ",\"timestamp\":{\"format\":\"strptime:%d/%m/%Y %H:%M\","
      "\"zone\":\"Z\"}}", "{\"txn_id\":\"a\",\"amt\":1,\"ts\":\"29/02/2024 00:00\"}", "a",
      1709164800000LL, 1, "", NULL },
    { "pattern number", M_NAMES ",\"timestamp\":{\"format\":\"strptime:%d/%m/%Y %H:%M\","
      "\"zone\":\"Z\"}}", "{\"txn_id\":\"a\",\"amt\":1,\"ts\":1705314600}", NULL, 0, 0,
      "must be a local time by the mapping's strptime pattern", "timestamp" },
    { "type map", "{\"fields\":{\"type\":\"kind\"},\"values\":{\"type\":{\"buy\":\"PURCHASE\"}}}",
      "{\"transaction_id\":\"a\",\"amount\":1,\"timestamp\":\"2024-01-15T10:30:00Z\","
      "\"kind\":\"buy\"}", "a", TS0, 1, "PURCHASE", NULL },
    { "type unmapped value", "{\"values\":{\"type\":{\"buy\":\"PURCHASE\"}}}",
      "{\"transaction_id\":\"a\",\"amount\":1,\"timestamp\":\"2024-01-15T10:30:00Z\","
      "\"type\":\"TRANSFER\"}", "a", TS0, 1, "TRANSFER", NULL },
    { "missing names what is there", M_NAMES "}",
      "{\"id\":\"a\",\"amt\":1,\"ts\":\"2024-01-15T10:30:00Z\"}", NULL, 0, 0,
      "Required field transaction_id (mapped from \"txn_id\") is missing; the record has id "
      "(closest: id) - map it with --schema.", "transaction_id" },
};

static void test_mapped_records(void **state) {
    (void)state;
    char err[512];
    fw_arena arena;
    assert_true(fw_arena_init(&arena, 4096));
    for (size_t i = 0; i < N(map_cases); i++) {
        const map_case *c = &map_cases[i];
        fw_schema *s = compile(c->mapping, err, sizeof(err));
        if (!s)
            fail_msg("[%s] mapping refused: %s", c->name, err);
        size_t n = strlen(c->record);
        char *buf = malloc(n);
        assert_non_null(buf);
        memcpy(buf, c->record, n);
        fw_txn t;
        fw_decode_error derr;
        fw_arena_reset(&arena);
        fw_err rc = fw_txn_decode_json_mapped(buf, n, &arena, 0, s, &t, &derr);
        if (c->id) {
            if (rc != FW_OK)
                fail_msg("[%s] rejected: %s", c->name, derr.reason);
            if (!fw_str_eq(t.transaction_id, fw_str_c(c->id)))
                fail_msg("[%s] transaction_id \"%.*s\", expected \"%s\"", c->name,
                         (int)t.transaction_id.len, t.transaction_id.ptr, c->id);
            if (t.ts_ms != c->ts_ms)
                fail_msg("[%s] ts_ms %lld, expected %lld", c->name, (long long)t.ts_ms,
                         (long long)c->ts_ms);
            if (t.amount != c->amount)
                fail_msg("[%s] amount %g, expected %g", c->name, t.amount, c->amount);
            if (strcmp(fw_txn_type_name(t.type), c->needle))
                fail_msg("[%s] type %s, expected %s", c->name, fw_txn_type_name(t.type),
                         c->needle);
            if (t.raw_is_json)
                fail_msg("[%s] a mapped record must not be echoed in their spelling", c->name);
        } else {
            if (rc != FW_ERR_INVALID)
                fail_msg("[%s] accepted, expected a rejection with \"%s\"", c->name,
                         c->needle);
            if (!strstr(derr.reason, c->needle))
                fail_msg("[%s] reason \"%s\" lacks \"%s\"", c->name, derr.reason, c->needle);
            const char *got = derr.field ? derr.field : "(none)";
            const char *want = c->field ? c->field : "(none)";
            if (strcmp(got, want))
                fail_msg("[%s] field %s, expected %s", c->name, got, want);
        }
        free(buf);
        fw_schema_destroy(s);
    }
    fw_arena_fini(&arena);
}

/* A mapped record written back (alerts, changelog) reads with our decoder. */
static void test_written_in_our_spelling(void **state) {
    (void)state;
    char err[256];
    fw_schema *s = compile("{\"fields\":{\"transaction_id\":\"t.id\",\"amount\":\"t.amt\","
                           "\"timestamp\":\"ts\",\"channel\":\"via\"},"
                           "\"timestamp\":{\"format\":\"epoch_s\"},"
                           "\"values\":{\"channel\":{\"web\":\"online\"}}}", err, sizeof(err));
    assert_non_null(s);
    const char *rec = "{\"t\":{\"id\":\"x1\",\"amt\":12.50},\"ts\":1705314600,\"via\":\"web\"}";
    fw_txn t, back;
    fw_buf b;
    fw_buf_init(&b, 4096);
    assert_int_equal(fw_txn_decode_json_mapped(rec, strlen(rec), NULL, 0, s, &t, NULL), FW_OK);
    assert_true(fw_txn_write_json(&t, &b));
    const char *want = "{\"transaction_id\":\"x1\",\"timestamp\":\"2024-01-15T10:30:00.000Z\","
                       "\"amount\":12.50,\"channel\":\"online\"}";
    if (b.len != strlen(want) || memcmp(b.data, want, b.len))
        fail_msg("wrote %.*s\nexpected %s", (int)b.len, b.data, want);
    assert_int_equal(fw_txn_decode_json(b.data, b.len, NULL, 0, &back, NULL), FW_OK);
    assert_int_equal(back.ts_ms, t.ts_ms);
    fw_buf_fini(&b);
    fw_schema_destroy(s);
}

/* Without a mapping a missing field names the unknown fields and the closest. */
typedef struct hint_case {
    const char *record;
    const char *reason;
} hint_case;

static const hint_case hint_cases[] = {
    { "{\"txn_id\":\"a\",\"amt\":1,\"ts\":\"2024-01-15T10:30:00Z\"}",
      "Required field transaction_id is missing; the record has txn_id, amt, ts (closest: "
      "txn_id) - map it with --schema." },
    { "{\"transaction_id\":\"a\",\"amt\":1,\"ts\":\"2024-01-15T10:30:00Z\"}",
      "Required field timestamp is missing; the record has amt, ts (closest: ts) - map it with "
      "--schema." },
    { "{\"transaction_id\":\"a\",\"timestamp\":\"2024-01-15T10:30:00Z\",\"ts\":1,\"AMT\":1}",
      "Required field amount is missing; the record has ts, AMT (closest: AMT) - map it with "
      "--schema." },
    { "{\"transaction_id\":\"a\",\"timestamp\":\"2024-01-15T10:30:00Z\"}",
      "Required field amount is missing (it may also be spelled Amount)." },
    { "{\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,\"g\":1,\"h\":1,\"i\":1}",
      "Required field transaction_id is missing; the record has a, b, c, d, e, f, g, h, ... "
      "(closest: a) - map it with --schema." },
};

static void test_missing_hints(void **state) {
    (void)state;
    for (size_t i = 0; i < N(hint_cases); i++) {
        fw_txn t;
        fw_decode_error derr;
        const char *r = hint_cases[i].record;
        assert_int_equal(fw_txn_decode_json(r, strlen(r), NULL, 0, &t, &derr), FW_ERR_INVALID);
        if (strcmp(derr.reason, hint_cases[i].reason))
            fail_msg("[%zu] reason\n  %s\nexpected\n  %s", i, derr.reason,
                     hint_cases[i].reason);
    }
}

/* ---- CSV ---- */

typedef struct csv_case {
    const char *name;
    const char *mapping;   /* NULL: none */
    const char *header;
    const char *line;
    const char *id;        /* expected transaction_id; NULL: rejected */
    int64_t ts_ms;
    double amount;
    const char *needle;    /* accepted: expected account_id ("" none); rejected: in reason */
} csv_case;

#define H_OURS "transaction_id,timestamp,amount,account_id"

static const csv_case csv_cases[] = {
    { "plain", NULL, H_OURS, "t1,2024-01-15T10:30:00Z,12.5,acc", "t1", TS0, 12.5, "acc" },
    { "quoted", NULL, H_OURS, "\"t1\",\"2024-01-15T10:30:00Z\",\"12.5\",\"a,b\"", "t1", TS0,
      12.5, "a,b" },
    { "doubled quotes", NULL, H_OURS, "\"t \"\"1\"\"\",2024-01-15T10:30:00Z,1,\"\"\"\"", "t \"1\"",
      TS0, 1, "\"" },
    { "empty is absent", NULL, H_OURS, "t1,2024-01-15T10:30:00Z,1,", "t1", TS0, 1, "" },
    { "quoted empty is absent", NULL, H_OURS, "t1,2024-01-15T10:30:00Z,1,\"\"", "t1", TS0, 1,
      "" },
    { "CRLF", NULL, H_OURS, "t1,2024-01-15T10:30:00Z,1,a\r\n", "t1", TS0, 1, "a" },
    { "quoted header names", NULL, "\"transaction_id\",timestamp,\"amount\",account_id",
      "t1,2024-01-15T10:30:00Z,1,a", "t1", TS0, 1, "a" },
    { "mapped names and epoch_s",
      "{\"fields\":{\"transaction_id\":\"id\",\"timestamp\":\"when\",\"amount\":\"p.amt\"},"
      "\"timestamp\":{\"format\":\"epoch_s\"}}", "id,when,p.amt,account_id",
      "x,1705314600,3,a", "x", TS0, 3, "a" },
    { "epoch ms digits", NULL, H_OURS, "t1,1705314600000,1,a", "t1", TS0, 1, "a" },
    { "epoch seconds hint", NULL, H_OURS, "t1,1705314600,1,a", NULL, 0, 0,
      "if it is epoch seconds, map it" },
    { "stray quote", NULL, H_OURS, "t\"1,2024-01-15T10:30:00Z,1,a", NULL, 0, 0,
      "stray or unterminated quote in cell 1" },
    { "unterminated quote", NULL, H_OURS, "t1,2024-01-15T10:30:00Z,1,\"a", NULL, 0, 0,
      "unterminated quote in cell 4" },
    { "text after quote", NULL, H_OURS, "\"t1\"x,2024-01-15T10:30:00Z,1,a", NULL, 0, 0,
      "cell 1" },
    { "too many cells", NULL, H_OURS, "t1,2024-01-15T10:30:00Z,1,a,b", NULL, 0, 0,
      "more cells than the header's 4 columns" },
    { "too few cells", NULL, H_OURS, "t1,2024-01-15T10:30:00Z,1", NULL, 0, 0,
      "Record has 3 cells; the header has 4 columns." },
    { "missing amount", NULL, H_OURS ",amt", "t1,2024-01-15T10:30:00Z,,a,5", NULL, 0, 0,
      "Required field amount is missing; the record has amt (closest: amt)" },
    { "bad number", NULL, H_OURS, "t1,2024-01-15T10:30:00Z,1.2.3,a", NULL, 0, 0,
      "Field amount \"1.2.3\" at byte 24 is not a number" },
    { "negative", NULL, H_OURS, "t1,2024-01-15T10:30:00Z,-1,a", NULL, 0, 0, "negative" },
    { "control character", NULL, H_OURS, "t1,2024-01-15T10:30:00Z,1,a\tb", NULL, 0, 0,
      "control character" },
    { "empty line", NULL, H_OURS, "", NULL, 0, 0, "Record is empty" },
};

static void test_csv(void **state) {
    (void)state;
    char err[512];
    fw_arena arena;
    fw_csv_columns *cols = malloc(sizeof(*cols));
    assert_non_null(cols);
    assert_true(fw_arena_init(&arena, 4096));
    for (size_t i = 0; i < N(csv_cases); i++) {
        const csv_case *c = &csv_cases[i];
        fw_schema *s = c->mapping ? compile(c->mapping, err, sizeof(err)) : NULL;
        if (c->mapping && !s)
            fail_msg("[%s] mapping refused: %s", c->name, err);
        if (fw_csv_columns_init(cols, c->header, strlen(c->header), s, err, sizeof(err)))
            fail_msg("[%s] header refused: %s", c->name, err);
        size_t n = strlen(c->line);
        char *buf = malloc(n ? n : 1);
        assert_non_null(buf);
        memcpy(buf, c->line, n);
        fw_txn t;
        fw_decode_error derr;
        fw_arena_reset(&arena);
        fw_err rc = fw_txn_decode_csv(buf, n, cols, s, &arena, 0, &t, &derr);
        if (c->id) {
            if (rc != FW_OK)
                fail_msg("[%s] rejected: %s", c->name, derr.reason);
            if (!fw_str_eq(t.transaction_id, fw_str_c(c->id)))
                fail_msg("[%s] transaction_id \"%.*s\", expected \"%s\"", c->name,
                         (int)t.transaction_id.len, t.transaction_id.ptr, c->id);
            if (t.ts_ms != c->ts_ms || t.amount != c->amount)
                fail_msg("[%s] ts_ms %lld amount %g, expected %lld and %g", c->name,
                         (long long)t.ts_ms, t.amount, (long long)c->ts_ms, c->amount);
            fw_str want = c->needle[0] ? fw_str_c(c->needle) : FW_STR_NULL;
            if (!fw_str_eq(t.account_id, want) || (!want.ptr && t.account_id.ptr))
                fail_msg("[%s] account_id \"%.*s\", expected \"%s\"", c->name,
                         (int)t.account_id.len, t.account_id.ptr ? t.account_id.ptr : "",
                         c->needle);
            assert_false(t.raw_is_json);
        } else {
            if (rc != FW_ERR_INVALID)
                fail_msg("[%s] rc %d, expected a rejection with \"%s\"", c->name, rc,
                         c->needle);
            if (!strstr(derr.reason, c->needle))
                fail_msg("[%s] reason \"%s\" lacks \"%s\"", c->name, derr.reason, c->needle);
        }
        free(buf);
        fw_schema_destroy(s);
    }
    fw_arena_fini(&arena);
    free(cols);
}

static const bad_case bad_headers[] = {
    { "no transaction_id", "id,timestamp,amount",
      "CSV header has no column for transaction_id: Required field transaction_id is missing; "
      "the record has id (closest: id)" },
    { "twice", "transaction_id,timestamp,amount,Amount", "columns 3 and 4 are both field amount" },
    { "quote", "transaction_id,\"timestamp,amount", "column 2 has a stray or unterminated quote" },
    { "empty", "\r\n", "CSV header is empty" },
};

static void test_csv_headers(void **state) {
    (void)state;
    char err[512];
    fw_csv_columns *cols = malloc(sizeof(*cols));
    assert_non_null(cols);
    for (size_t i = 0; i < N(bad_headers); i++) {
        const char *h = bad_headers[i].doc;
        if (fw_csv_columns_init(cols, h, strlen(h), NULL, err, sizeof(err)) == FW_OK)
            fail_msg("[%s] header accepted: %s", bad_headers[i].name, h);
        if (!strstr(err, bad_headers[i].needle))
            fail_msg("[%s] message \"%s\" lacks \"%s\"", bad_headers[i].name, err,
                     bad_headers[i].needle);
    }
    free(cols);
}

static void test_pattern_direct(void **state) {
    (void)state;
    int64_t ms = 0;
    assert_int_equal(fw_schema_parse_pattern("%Y-%m-%d %H:%M:%S", "2024-01-15 10:30:60", 19, 0,
                                             &ms), FW_OK);
    assert_int_equal(ms, TS0 + 59999); /* a leap second: the minute's last instant */
    assert_int_equal(fw_schema_parse_pattern("%Y-%m-%d %H:%M", "2024-1-5 1:3", 12, 0, &ms),
                     FW_OK);
    assert_int_equal(ms, 1704416580000LL);
    assert_int_equal(fw_schema_parse_pattern("%Y-%m-%d %H:%M", "2024-13-01 00:00", 16, 0, &ms),
                     FW_ERR_INVALID);
    assert_int_equal(fw_schema_parse_pattern("%Y-%m-%d %H:%M", "2024-01-01 24:00", 16, 0, &ms),
                     FW_ERR_INVALID);
    assert_int_equal(fw_schema_parse_pattern("%Y-%m-%d %H:%M", "2024-01-01 00:0", 15, 0, &ms),
                     FW_OK);
    assert_int_equal(fw_schema_parse_pattern("%Y-%m-%d %H:%M", "2024-01-01 00:", 14, 0, &ms),
                     FW_ERR_INVALID);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_mappings),
        cmocka_unit_test(test_mapped_records),
        cmocka_unit_test(test_written_in_our_spelling),
        cmocka_unit_test(test_missing_hints),
        cmocka_unit_test(test_pattern_direct),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_csv_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
