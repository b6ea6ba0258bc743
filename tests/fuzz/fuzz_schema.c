/* fuzz_schema.c — libFuzzer target for mapping documents (schema.c) and for
 * decoding through them (fw_txn_decode_json_mapped). The input is a mapping,
 * a line "===", then one record. What must hold for any input: a refused
 * mapping or record carries a printable reason; an accepted record's slices
 * stay inside the record, the arena or the mapping's own text; and the record
 * written back (our spelling) decodes with our decoder to the same values.
 * Violations abort, which the fuzzer or sanitizers report. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "txn.h"

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "fuzz_schema: check failed: %s (%s:%d)\n", #cond, __FILE__, \
                    __LINE__);                                                           \
            abort();                                                                     \
        }                                                                                \
    } while (0)

#define ARENA_BYTES 4096
#define OUT_MAX ((size_t)1 << 20)
#define SEP "\n===\n"

static bool inside(fw_str s, const char *lo, size_t n) {
    return lo && s.ptr >= lo && s.len <= n && s.ptr <= lo + n - s.len;
}

static void check_printable(const char *s, size_t size) {
    size_t len = strnlen(s, size);
    CHECK(len > 0 && len < size);
    for (size_t i = 0; i < len; i++)
        if (s[i] < 0x20 || s[i] > 0x7e) {
            fprintf(stderr, "fuzz_schema: byte 0x%02x at %zu in: %s\n", (unsigned char)s[i],
                    i, s);
            abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *in = (const char *)data, *rec = NULL;
    size_t doc_len = size, rec_len = 0;
    for (size_t i = 0; i + 5 <= size; i++)
        if (memcmp(in + i, SEP, 5) == 0) {
            doc_len = i;
            rec = in + i + 5;
            rec_len = size - i - 5;
            break;
        }
    char errstr[512];
    fw_schema *s = fw_schema_parse(in, doc_len, errstr, sizeof(errstr));
    if (!s) {
        check_printable(errstr, sizeof(errstr));
        return 0;
    }
    if (!rec) {
        fw_schema_destroy(s);
        return 0;
    }
    fw_arena arena, arena2;
    fw_buf out;
    fw_txn t, back;
    fw_decode_error err;
    if (!fw_arena_init(&arena, ARENA_BYTES) || !fw_arena_init(&arena2, ARENA_BYTES))
        abort();
    fw_buf_init(&out, OUT_MAX);
    /* A heap copy of exactly the record, so ASan sees any read past it. */
    char *copy = malloc(rec_len ? rec_len : 1);
    CHECK(copy);
    memcpy(copy, rec, rec_len);
    fw_err rc = fw_txn_decode_json_mapped(copy, rec_len, &arena, 0, s, &t, &err);
    if (rc != FW_OK) {
        CHECK(rc == FW_ERR_INVALID || rc == FW_ERR_LIMIT);
        check_printable(err.reason, sizeof(err.reason));
    } else {
        const fw_str all[] = { t.transaction_id, t.ts_raw, t.amount_raw, t.account_id,
                               t.card_id, t.customer_id, t.type_raw, t.currency,
                               t.merchant_id, t.merchant_category, t.country,
                               t.counterparty_id, t.channel, t.raw };
        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
            CHECK(!all[i].ptr || inside(all[i], copy, rec_len) ||
                  inside(all[i], arena.data, arena.used) ||
                  inside(all[i], s->text, s->text_used));
        CHECK(!t.raw_is_json);
        CHECK(isfinite(t.amount) && t.amount >= 0);
        CHECK(fw_txn_write_json(&t, &out));
        rc = fw_txn_decode_json(out.data, out.len, &arena2, OUT_MAX, &back, &err);
        if (rc != FW_OK)
            fprintf(stderr, "fuzz_schema: written JSON rejected: %s\n%.*s\n", err.reason,
                    (int)out.len, out.data);
        CHECK(rc == FW_OK);
        CHECK(back.ts_ms == t.ts_ms && back.amount == t.amount && back.type == t.type);
        CHECK(fw_str_eq(back.transaction_id, t.transaction_id));
        CHECK(fw_str_eq(back.channel, t.channel));
    }
    /* The record part as CSV too: its first line the header, the rest one line. */
    const char *nl = rec ? memchr(rec, '\n', rec_len) : NULL;
    fw_csv_columns *cols = malloc(sizeof(*cols));
    CHECK(cols);
    if (nl && fw_csv_columns_init(cols, rec, (size_t)(nl - rec), s, errstr, sizeof(errstr)) ==
                  FW_OK) {
        size_t ln = rec_len - (size_t)(nl + 1 - rec);
        char *line = malloc(ln ? ln : 1);
        CHECK(line);
        memcpy(line, nl + 1, ln);
        fw_arena_reset(&arena);
        rc = fw_txn_decode_csv(line, ln, cols, s, &arena, 0, &t, &err);
        if (rc != FW_OK) {
            CHECK(rc == FW_ERR_INVALID || rc == FW_ERR_LIMIT);
            check_printable(err.reason, sizeof(err.reason));
        } else {
            CHECK(!t.raw_is_json && t.transaction_id.len > 0);
            fw_buf_reset(&out);
            CHECK(fw_txn_write_json(&t, &out));
            fw_arena_reset(&arena2);
            rc = fw_txn_decode_json(out.data, out.len, &arena2, OUT_MAX, &back, &err);
            if (rc != FW_OK)
                fprintf(stderr, "fuzz_schema: written CSV record rejected: %s\n%.*s\n",
                        err.reason, (int)out.len, out.data);
            CHECK(rc == FW_OK && back.ts_ms == t.ts_ms && back.amount == t.amount);
        }
        free(line);
    } else if (nl) {
        check_printable(errstr, sizeof(errstr));
    }
    free(cols);
    free(copy);
    fw_buf_fini(&out);
    fw_arena_fini(&arena);
    fw_arena_fini(&arena2);
    fw_schema_destroy(s);
    return 0;
}
