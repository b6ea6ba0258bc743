/* fuzz_txn.c — libFuzzer target for the transaction decoders (txn.c).
 * Feeds every input to the JSON and the semicolon decoder and checks what
 * must hold for any input: a rejection carries a printable reason; an
 * accepted record's slices stay inside the input (or the arena), its amount
 * is finite and >= 0, its ranges hold, and fw_txn_write_json succeeds into a
 * bounded buffer; a semicolon record written as JSON decodes back to the same
 * values. The JSON decoder runs again capturing extra fields (fw_txn_extras):
 * it accepts no more than without them and decodes our fields the same; the
 * extras are slices of the input or the arena; written in our spelling they
 * read back the same. The decoder with a learned field order (fw_txn_shape)
 * gives the very same result or error as without, whether the order was
 * learned from this input or from a typical record. Violations abort, which
 * the fuzzer or sanitizers report. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "txn.h"

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "fuzz_txn: check failed: %s (%s:%d)\n", #cond, __FILE__, \
                    __LINE__);                                                        \
            abort();                                                                  \
        }                                                                             \
    } while (0)

#define ARENA_BYTES 4096
#define OUT_MAX ((size_t)1 << 20)

static bool inside(fw_str s, const char *lo, size_t n) {
    return lo && s.ptr >= lo && s.len <= n && s.ptr <= lo + n - s.len;
}

static void check_slice(fw_str s, const char *in, size_t n, const fw_arena *a, fw_str synth) {
    if (!s.ptr)
        return;
    CHECK(inside(s, in, n) || inside(s, a->data, a->used) ||
          (s.ptr == synth.ptr && s.len == synth.len));
}

static void check_txn(const fw_txn *t, const char *in, size_t n, const fw_arena *a,
                      fw_str synth) {
    const fw_str all[] = { t->transaction_id, t->ts_raw, t->amount_raw, t->account_id,
                           t->card_id, t->customer_id, t->type_raw, t->currency,
                           t->merchant_id, t->merchant_category, t->country,
                           t->counterparty_id, t->channel, t->raw };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        check_slice(all[i], in, n, a, synth);
    CHECK(t->transaction_id.ptr && t->transaction_id.len > 0);
    CHECK(t->amount_raw.ptr && t->ts_raw.ptr);
    CHECK(isfinite(t->amount) && t->amount >= 0 && !signbit(t->amount));
    CHECK(!(t->has & FW_TXN_HAS_LAT) || (t->lat >= -90 && t->lat <= 90));
    CHECK(!(t->has & FW_TXN_HAS_LON) || (t->lon >= -180 && t->lon <= 180));
    CHECK((t->v_mask >> FW_TXN_NFEATURES) == 0);
    for (int i = 0; i < FW_TXN_NFEATURES; i++)
        CHECK(isfinite(t->v[i]));
    CHECK((unsigned)t->type <= FW_TXN_TYPE_OTHER);
    CHECK((t->type == FW_TXN_TYPE_NONE) == (t->type_raw.ptr == NULL) || !t->raw_is_json);
    CHECK(t->raw.ptr && t->raw.len > 0);
}

static void check_error(const fw_decode_error *err, size_t n, size_t max_bytes) {
    size_t len = strnlen(err->reason, sizeof(err->reason));
    CHECK(len > 0 && len < sizeof(err->reason));
    for (size_t i = 0; i < len; i++)
        CHECK(err->reason[i] >= 0x20 && err->reason[i] <= 0x7e);
    CHECK(err->offset <= (n > max_bytes ? max_bytes : n));
}

/* Extra fields captured from @p t equal those of @p u (same set). */
static bool same_extras(const fw_txn *t, const fw_txn *u) {
    if (t->extra_mask != u->extra_mask || t->extra_str != u->extra_str)
        return false;
    for (int i = 0; i < FW_TXN_MAX_EXTRAS; i++)
        if ((t->extra_mask >> i & 1) && !fw_str_eq(t->extra[i], u->extra[i]))
            return false;
    return true;
}

/* The JSON decoder with extra fields, against its result without them
 * (@p plain_ok, @p plain). */
static void check_extras(const char *in, size_t size, fw_arena *arena, fw_buf *out,
                         bool plain_ok, const fw_txn *plain) {
    static const char *const names[] = { "device_id", "ip", "mcc", "x", "new_device" };
    fw_txn_extras x;
    char errstr[128];
    fw_txn t, t2;
    fw_decode_error err;
    CHECK(fw_txn_extras_init(&x, names, sizeof(names) / sizeof(names[0]), errstr,
                             sizeof(errstr)) == FW_OK);
    fw_arena_reset(arena);
    fw_err rc = fw_txn_decode_json_ex(in, size, arena, 0, NULL, &x, &t, &err);
    if (rc != FW_OK) {
        CHECK(rc == FW_ERR_INVALID || rc == FW_ERR_LIMIT);
        check_error(&err, size, FW_TXN_DEFAULT_MAX_BYTES);
        return;
    }
    CHECK(plain_ok); /* extras refuse more (an extra twice, an object), never less */
    check_txn(&t, in, size, arena, FW_STR_NULL);
    CHECK(t.ts_ms == plain->ts_ms && t.amount == plain->amount &&
          fw_str_eq(t.transaction_id, plain->transaction_id) && t.v_mask == plain->v_mask);
    CHECK((t.extra_mask >> x.n) == 0 && (t.extra_str & ~t.extra_mask) == 0);
    CHECK(!t.extra_mask || t.extras == &x);
    for (unsigned i = 0; i < x.n; i++)
        if (t.extra_mask >> i & 1)
            check_slice(t.extra[i], in, size, arena, FW_STR_NULL);
    /* In our spelling (a mapped record's way) and back. */
    t.raw_is_json = false;
    fw_buf_reset(out);
    CHECK(fw_txn_write_json(&t, out));
    fw_arena back;
    if (!fw_arena_init(&back, out->len + 64))
        return;
    rc = fw_txn_decode_json_ex(out->data, out->len, &back, OUT_MAX, NULL, &x, &t2, &err);
    if (rc != FW_OK)
        fprintf(stderr, "fuzz_txn: written JSON rejected: %s\n%.*s\n", err.reason,
                (int)out->len, out->data);
    CHECK(rc == FW_OK);
    CHECK(same_extras(&t, &t2));
    fw_arena_fini(&back);
}

/* Decoding with @p shape gives what decoding without it gives. */
static void check_shaped(const char *in, size_t size, fw_arena *arena, fw_txn_shape *shape) {
    fw_txn t, u;
    fw_decode_error e1, e2;
    fw_arena_reset(arena);
    fw_err r1 = fw_txn_decode_json(in, size, arena, 0, &t, &e1);
    fw_arena_reset(arena);
    fw_err r2 = fw_txn_decode_json_shaped(in, size, arena, 0, shape, &u, &e2);
    CHECK(r1 == r2);
    if (r1 == FW_OK) {
        CHECK(memcmp(&t, &u, FW_TXN_ZEROED) == 0);
    } else {
        CHECK(e1.offset == e2.offset && e1.field == e2.field);
        CHECK(strcmp(e1.reason, e2.reason) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *in = (const char *)data;
    const fw_str synth = FW_STR_LIT("fuzz-0-0");
    fw_arena arena;
    fw_buf out;
    fw_txn t, t2;
    fw_decode_error err;

    if (!fw_arena_init(&arena, ARENA_BYTES))
        return 0;
    fw_buf_init(&out, OUT_MAX);

    /* JSON, with the default limit and with a tight one. */
    const size_t limits[] = { 0, 64 };
    bool plain_ok = false;
    for (size_t k = 0; k < 2; k++) {
        size_t max = limits[k] ? limits[k] : FW_TXN_DEFAULT_MAX_BYTES;
        fw_arena_reset(&arena);
        fw_err rc = fw_txn_decode_json(in, size, &arena, limits[k], &t, &err);
        if (rc != FW_OK) {
            CHECK(rc == FW_ERR_INVALID || rc == FW_ERR_LIMIT);
            check_error(&err, size, max);
            continue;
        }
        CHECK(size <= max);
        check_txn(&t, in, size, &arena, FW_STR_NULL);
        CHECK(t.raw_is_json);
        fw_buf_reset(&out);
        CHECK(fw_txn_write_json(&t, &out));
        CHECK(out.len == t.raw.len && memcmp(out.data, t.raw.ptr, out.len) == 0);
        /* Deterministic: the same input decodes the same way. */
        CHECK(fw_txn_decode_json(in, size, &arena, limits[k], &t2, &err) == FW_OK);
        CHECK(t2.ts_ms == t.ts_ms && t2.amount == t.amount && t2.v_mask == t.v_mask &&
              fw_str_eq(t2.transaction_id, t.transaction_id));
        if (k == 0)
            plain_ok = true;
    }
    /* t holds the default-limit decode when plain_ok (the tight one failed or
     * decoded the same record). */
    if (plain_ok)
        CHECK(fw_txn_decode_json(in, size, &arena, 0, &t, &err) == FW_OK);
    check_extras(in, size, &arena, &out, plain_ok, &t);

    /* A learned field order: from a typical record, then from this input. */
    static const char typical[] =
        "{\"transaction_id\":\"tx-1\",\"timestamp\":\"2024-01-01T00:00:00.000Z\","
        "\"account_id\":\"acct-1\",\"card_id\":\"card-1\",\"customer_id\":\"cust-1\","
        "\"type\":\"PURCHASE\",\"amount\":12.5,\"currency\":\"USD\",\"merchant_id\":\"m-1\","
        "\"merchant_category\":\"grocery\",\"country\":\"US\",\"lat\":34.0268,"
        "\"lon\":-118.2314,\"channel\":\"pos\",\"is_fraud\":false}";
    static fw_txn_shape shape;
    memset(&shape, 0, sizeof(shape));
    fw_arena_reset(&arena);
    CHECK(fw_txn_decode_json_shaped(typical, sizeof(typical) - 1, &arena, 0, &shape, &t2,
                                    &err) == FW_OK);
    check_shaped(in, size, &arena, &shape);
    check_shaped(in, size, &arena, &shape); /* now learned from this input too */

    /* Semicolon, then its JSON form back through the JSON decoder. */
    fw_err rc = fw_txn_decode_semicolon(in, size, synth, 0, &t, &err);
    if (rc != FW_OK) {
        CHECK(rc == FW_ERR_INVALID);
        check_error(&err, size, FW_TXN_DEFAULT_MAX_BYTES);
    } else {
        fw_arena_reset(&arena);
        check_txn(&t, in, size, &arena, synth);
        CHECK(!t.raw_is_json && t.type == FW_TXN_TRANSFER);
        fw_buf_reset(&out);
        CHECK(fw_txn_write_json(&t, &out));
        rc = fw_txn_decode_json(out.data, out.len, &arena, OUT_MAX, &t2, &err);
        if (rc != FW_OK)
            fprintf(stderr, "fuzz_txn: written JSON rejected: %s\n%s\n", err.reason, out.data);
        CHECK(rc == FW_OK);
        CHECK(t2.ts_ms == t.ts_ms);
        CHECK(t2.amount == t.amount);
        CHECK(fw_str_eq(t2.account_id, t.account_id));
        CHECK(fw_str_eq(t2.counterparty_id, t.counterparty_id));
        CHECK(fw_str_eq(t2.transaction_id, synth));
        CHECK(t2.type == FW_TXN_TRANSFER);
    }

    fw_buf_fini(&out);
    fw_arena_fini(&arena);
    return 0;
}
