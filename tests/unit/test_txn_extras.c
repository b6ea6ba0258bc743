/* test_txn_extras.c — the extra top-level fields a decoder captures for the
 * rules (fw_txn_extras): compiling the set, and capturing through our JSON
 * decoder, a --schema mapping and CSV. Table-driven: each case is a record
 * and, for every extra field, the value it must give (or absent), or the
 * error it must give (field and a phrase of the reason). Every captured
 * value must be a slice of the record or of the arena, never a copy. */
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
#define REQ "\"transaction_id\":\"t1\",\"timestamp\":\"2024-01-15T10:30:00Z\",\"amount\":12.5"

static const char *const names[] = { "device_id", "ip", "mcc", "new_device" };
enum { X_DEVICE, X_IP, X_MCC, X_NEW, X_COUNT };

/* ABSENT: the field must not be captured. */
#define ABSENT NULL

typedef struct want_extra {
    const char *value;   /* as captured, or ABSENT */
    bool str;            /* captured as a string */
} want_extra;

typedef struct extras_case {
    const char *name;
    const char *record;
    want_extra want[X_COUNT];
    const char *err_field; /* non-NULL: the record is refused naming this field */
    const char *err_has;   /* ... with this phrase in the reason */
} extras_case;

static const extras_case json_cases[] = {
    { "all present, every kind of value",
      "{" REQ ",\"device_id\":\"d-42\",\"ip\":\"10.0.0.1\",\"mcc\":5411,\"new_device\":true}",
      { { "d-42", true }, { "10.0.0.1", true }, { "5411", false }, { "true", false } } },
    { "none present", "{" REQ ",\"other\":{\"device_id\":\"nested\"}}",
      { { ABSENT }, { ABSENT }, { ABSENT }, { ABSENT } } },
    { "null is absent", "{" REQ ",\"device_id\":null,\"new_device\":false}",
      { { ABSENT }, { ABSENT }, { ABSENT }, { "false", false } } },
    { "before the required fields, number with exponent",
      "{\"mcc\":-1.5e3," REQ "}", { { ABSENT }, { ABSENT }, { "-1.5e3", false }, { ABSENT } } },
    { "escapes are undone as for every string",
      "{" REQ ",\"device_id\":\"a\\\"b\\u00e9\\n\"}",
      { { "a\"b\xc3\xa9\n", true }, { ABSENT }, { ABSENT }, { ABSENT } } },
    { "an escaped key is the same key", "{" REQ ",\"d\\u0065vice_id\":\"k\"}",
      { { "k", true }, { ABSENT }, { ABSENT }, { ABSENT } } },
    { "a name is matched exactly", "{" REQ ",\"Device_id\":\"x\",\"ip \":\"y\"}",
      { { ABSENT }, { ABSENT }, { ABSENT }, { ABSENT } } },
    { "empty string is present", "{" REQ ",\"ip\":\"\"}",
      { { ABSENT }, { "", true }, { ABSENT }, { ABSENT } } },
    { "given twice", "{" REQ ",\"ip\":\"a\",\"ip\":\"b\"}", { { 0 } }, "ip", "given twice" },
    { "twice, the first null", "{" REQ ",\"ip\":null,\"ip\":\"b\"}", { { 0 } }, "ip",
      "given twice" },
    { "an object", "{" REQ ",\"device_id\":{\"id\":1}}", { { 0 } }, "device_id",
      "must be a string, a number, true or false" },
    { "an array", "{" REQ ",\"mcc\":[1]}", { { 0 } }, "mcc", "is an array" },
    { "a bad literal", "{" REQ ",\"new_device\":tru}", { { 0 } }, "new_device", NULL },
    { "a bad number", "{" REQ ",\"mcc\":01}", { { 0 } }, "mcc", NULL },
    { "an unterminated string", "{" REQ ",\"ip\":\"10.0", { { 0 } }, "ip", NULL },
};

static fw_txn_extras the_set(void) {
    fw_txn_extras x;
    char err[256];
    assert_int_equal(fw_txn_extras_init(&x, names, N(names), err, sizeof(err)), FW_OK);
    return x;
}

static bool inside(fw_str s, const char *lo, size_t n) {
    return lo && s.ptr >= lo && s.len <= n && s.ptr <= lo + n - s.len;
}

/* Compares a decoded record's extras with @p c, printing both values. */
static void check_case(const extras_case *c, fw_err rc, const fw_txn *t,
                       const fw_decode_error *err, const char *buf, size_t n,
                       const fw_arena *arena) {
    if (c->err_field) {
        if (rc == FW_OK || !err->field || strcmp(err->field, c->err_field) != 0 ||
            (c->err_has && !strstr(err->reason, c->err_has)))
            fail_msg("%s: want an error on %s (\"%s\"), got rc %d on %s: %s", c->name,
                     c->err_field, c->err_has ? c->err_has : "", (int)rc,
                     err->field ? err->field : "(none)", err->reason);
        return;
    }
    if (rc != FW_OK)
        fail_msg("%s: want it decoded, got: %s", c->name, err->reason);
    for (int i = 0; i < X_COUNT; i++) {
        const want_extra *w = &c->want[i];
        bool present = (t->extra_mask >> i) & 1;
        if (!w->value) {
            if (present)
                fail_msg("%s: %s: want absent, got \"%.*s\"", c->name, names[i],
                         (int)t->extra[i].len, t->extra[i].ptr);
            continue;
        }
        if (!present)
            fail_msg("%s: %s: want \"%s\", got absent", c->name, names[i], w->value);
        fw_str v = t->extra[i];
        if (v.len != strlen(w->value) || memcmp(v.ptr, w->value, v.len) != 0)
            fail_msg("%s: %s: want \"%s\", got \"%.*s\"", c->name, names[i], w->value,
                     (int)v.len, v.ptr);
        if ((bool)((t->extra_str >> i) & 1) != w->str)
            fail_msg("%s: %s: want string %d, got %d", c->name, names[i], w->str,
                     (t->extra_str >> i) & 1);
        if (v.len && !inside(v, buf, n) && !inside(v, arena->data, arena->used))
            fail_msg("%s: %s is a copy: outside the record and the arena", c->name, names[i]);
    }
    assert_ptr_not_equal(t->extras, NULL);
}

/* Runs the JSON cases through fw_txn_decode_json_ex with @p schema (NULL:
 * ours). The record is copied to an exact-size buffer, so a read past its
 * end is caught under ASan. */
static void run_json(const fw_schema *schema) {
    fw_txn_extras x = the_set();
    for (size_t k = 0; k < N(json_cases); k++) {
        const extras_case *c = &json_cases[k];
        size_t n = strlen(c->record);
        char *buf = malloc(n ? n : 1);
        assert_non_null(buf);
        memcpy(buf, c->record, n);
        fw_arena arena;
        assert_true(fw_arena_init(&arena, n + 64));
        fw_txn t;
        fw_decode_error err;
        fw_err rc = fw_txn_decode_json_ex(buf, n, &arena, 0, schema, &x, &t, &err);
        check_case(c, rc, &t, &err, buf, n, &arena);
        fw_arena_fini(&arena);
        free(buf);
    }
}

static void test_json(void **state) {
    (void)state;
    run_json(NULL);
}

/* Through a mapping: the extras are still the record's own top-level keys. */
static void test_json_mapped(void **state) {
    (void)state;
    char err[256];
    const char *doc = "{\"fields\":{\"account_id\":\"acct\"}}";
    fw_schema *s = fw_schema_parse(doc, strlen(doc), err, sizeof(err));
    if (!s)
        fail_msg("mapping refused: %s", err);
    run_json(s);
    fw_schema_destroy(s);
}

/* The empty set, and no set, decode exactly as fw_txn_decode_json: nothing
 * captured, the mask zero. */
static void test_empty_set(void **state) {
    (void)state;
    const char *rec = "{" REQ ",\"device_id\":\"d\",\"ip\":\"i\",\"ip\":\"twice is fine\"}";
    fw_txn_extras empty;
    char errstr[64];
    assert_int_equal(fw_txn_extras_init(&empty, NULL, 0, errstr, sizeof(errstr)), FW_OK);
    const fw_txn_extras *sets[] = { NULL, &empty };
    for (size_t k = 0; k < N(sets); k++) {
        fw_txn t;
        fw_decode_error err;
        fw_err rc = fw_txn_decode_json_ex(rec, strlen(rec), NULL, 0, NULL, sets[k], &t, &err);
        if (rc != FW_OK || t.extra_mask != 0)
            fail_msg("set %zu: want decoded with mask 0, got rc %d mask %u: %s", k, (int)rc,
                     t.extra_mask, err.reason);
    }
}

static const extras_case csv_cases[] = {
    { "present and empty cells",
      "t1,2024-01-15T10:30:00Z,12.5,d-42,,5411", { { "d-42", true }, { ABSENT }, { "5411", false },
                                                  { ABSENT } } },
    { "quoted with doubled quotes",
      "t1,2024-01-15T10:30:00Z,12.5,\"a \"\"b\"\"\",10.0.0.1,x",
      { { "a \"b\"", true }, { "10.0.0.1", false }, { "x", true }, { ABSENT } } },
    { "a control character", "t1,2024-01-15T10:30:00Z,12.5,\"a\x01\",,", { { 0 } }, "device_id",
      "control character" },
};

static void test_csv(void **state) {
    (void)state;
    fw_txn_extras x = the_set();
    fw_csv_columns cols;
    char errstr[256];
    const char *header = "transaction_id,timestamp,amount,device_id,ip,mcc";
    if (fw_csv_columns_init_ex(&cols, header, strlen(header), NULL, &x, errstr,
                               sizeof(errstr)) != FW_OK)
        fail_msg("header refused: %s", errstr);
    for (size_t k = 0; k < N(csv_cases); k++) {
        const extras_case *c = &csv_cases[k];
        size_t n = strlen(c->record);
        char *buf = malloc(n);
        assert_non_null(buf);
        memcpy(buf, c->record, n);
        fw_arena arena;
        assert_true(fw_arena_init(&arena, n + 64));
        fw_txn t;
        fw_decode_error err;
        fw_err rc = fw_txn_decode_csv(buf, n, &cols, NULL, &arena, 0, &t, &err);
        check_case(c, rc, &t, &err, buf, n, &arena);
        fw_arena_fini(&arena);
        free(buf);
    }
    /* Two columns for one extra field are refused as for one of ours. */
    const char *twice = "transaction_id,timestamp,amount,ip,mcc,ip";
    fw_err rc = fw_csv_columns_init_ex(&cols, twice, strlen(twice), NULL, &x, errstr,
                                       sizeof(errstr));
    if (rc == FW_OK || !strstr(errstr, "columns 4 and 6 are both field ip"))
        fail_msg("header with ip twice: want refused, got rc %d: %s", (int)rc, errstr);
    /* Without the set the same columns are unused. */
    assert_int_equal(fw_csv_columns_init(&cols, header, strlen(header), NULL, errstr,
                                         sizeof(errstr)), FW_OK);
    fw_txn t;
    fw_decode_error err;
    const char *rec = "t1,2024-01-15T10:30:00Z,12.5,d,i,m";
    assert_int_equal(fw_txn_decode_csv(rec, strlen(rec), &cols, NULL, NULL, 0, &t, &err), FW_OK);
    assert_int_equal(t.extra_mask, 0);
}

/* A mapped or CSV record is written in our spelling: its extras go with it
 * and read back the same. */
static void test_write_json(void **state) {
    (void)state;
    fw_txn_extras x = the_set();
    fw_csv_columns cols;
    char errstr[256];
    const char *header = "transaction_id,timestamp,amount,device_id,ip,mcc";
    assert_int_equal(fw_csv_columns_init_ex(&cols, header, strlen(header), NULL, &x, errstr,
                                            sizeof(errstr)), FW_OK);
    const char *rec = "t1,2024-01-15T10:30:00Z,12.5,\"d \"\"1\"\"\",,-7";
    char mem[256];
    fw_arena arena = { .data = mem, .cap = sizeof(mem) };
    fw_txn t, back;
    fw_decode_error err;
    assert_int_equal(fw_txn_decode_csv(rec, strlen(rec), &cols, NULL, &arena, 0, &t, &err),
                     FW_OK);
    fw_buf b;
    fw_buf_init(&b, 0);
    assert_true(fw_txn_write_json(&t, &b) && fw_buf_putc(&b, '\0'));
    b.len--; /* the NUL is for strstr only */
    const char *want = "\"device_id\":\"d \\\"1\\\"\",\"mcc\":-7}";
    if (!strstr(b.data, want))
        fail_msg("want %s in %s", want, b.data);
    char mem2[256];
    fw_arena arena2 = { .data = mem2, .cap = sizeof(mem2) };
    assert_int_equal(fw_txn_decode_json_ex(b.data, b.len, &arena2, 0, NULL, &x, &back, &err),
                     FW_OK);
    if (back.extra_mask != t.extra_mask || back.extra_str != t.extra_str)
        fail_msg("read back: mask %u str %u, want %u %u", back.extra_mask, back.extra_str,
                 t.extra_mask, t.extra_str);
    fw_buf_fini(&b);
}

typedef struct set_case {
    const char *name;
    const char *names[FW_TXN_MAX_EXTRAS + 1];
    size_t n;
    const char *err_has; /* NULL: accepted */
} set_case;

static void test_set(void **state) {
    (void)state;
    static const set_case cases[] = {
        { "two", { "device_id", "ip" }, 2, NULL },
        { "none", { NULL }, 0, NULL },
        { "empty name", { "ip", "" }, 2, "extra field 2: name \"\" must have 1 to 64" },
        { "twice", { "ip", "mcc", "ip" }, 3, "extra field \"ip\" is named twice" },
        { "one of ours", { "amount" }, 1, "\"amount\" is a field of the schema (amount)" },
        { "our alias", { "user_id" }, 1, "is a field of the schema (customer_id)" },
        { "too long",
          { "a123456789012345678901234567890123456789012345678901234567890123456789" }, 1,
          "must have 1 to 64 bytes" },
        { "seventeen",
          { "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p",
            "q" }, 17, "17 named, at most 16" },
    };
    for (size_t k = 0; k < N(cases); k++) {
        const set_case *c = &cases[k];
        fw_txn_extras x;
        char errstr[256] = "";
        fw_err rc = fw_txn_extras_init(&x, c->names, c->n, errstr, sizeof(errstr));
        if (!c->err_has) {
            if (rc != FW_OK || x.n != c->n)
                fail_msg("%s: want accepted with %zu, got rc %d n %u: %s", c->name, c->n,
                         (int)rc, x.n, errstr);
            for (size_t i = 0; i < c->n; i++)
                assert_int_equal(fw_txn_extras_find(&x, c->names[i], strlen(c->names[i])),
                                 (int)i);
        } else if (rc == FW_OK || !strstr(errstr, c->err_has)) {
            fail_msg("%s: want refused with \"%s\", got rc %d: \"%s\"", c->name, c->err_has,
                     (int)rc, errstr);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_json_mapped),
        cmocka_unit_test(test_empty_set),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_write_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
