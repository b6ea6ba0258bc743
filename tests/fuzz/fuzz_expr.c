/* fuzz_expr.c — libFuzzer target for the rule language's compiler (expr.c)
 * and evaluator (expr_eval.c). Checks what must hold for any input: compile
 * either succeeds or fails with FW_ERR_INVALID / FW_ERR_LIMIT, no expression
 * and a printable message with its position; compiling twice gives the same
 * verdict; a compiled expression evaluated on records derived from the input
 * (fields present or absent, with or without prev, profile, extras, slots
 * and hooks) never crashes and returns its declared type or missing.
 * Violations abort. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "fuzz_expr: check failed: %s (%s:%d)\n", #cond, __FILE__,   \
                    __LINE__);                                                          \
            abort();                                                                    \
        }                                                                               \
    } while (0)

#define NEXTRA 16

typedef struct names {
    char name[NEXTRA][32];
    size_t len[NEXTRA];
    int n;
} names;

static int extra_field(void *ud, fw_str name) {
    names *x = ud;
    for (int i = 0; i < x->n; i++)
        if (x->len[i] == name.len && !memcmp(x->name[i], name.ptr, name.len))
            return i;
    if (x->n == NEXTRA || name.len >= sizeof(x->name[0]))
        return -1;
    memcpy(x->name[x->n], name.ptr, name.len);
    x->len[x->n] = name.len;
    return x->n++;
}

static int list_id(void *ud, fw_str name) {
    (void)ud;
    return name.len == 1 && (name.ptr[0] == 'a' || name.ptr[0] == 'b') ? name.ptr[0] - 'a' : -1;
}

static int in_list(void *ud, int id, fw_str v) {
    (void)ud;
    return v.len ? ((unsigned char)v.ptr[0] + id) % 3 - 1 : 0;
}

static int is_new(void *ud, int site, fw_str v, int64_t lookback_ms) {
    (void)ud;
    CHECK(lookback_ms > 0);
    return (int)((v.len + (size_t)site) % 3) - 1;
}

static uint64_t mix(uint64_t *s) {
    *s += 0x9e3779b97f4a7c15ull;
    uint64_t z = *s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static const char *const words[] = { "", "x", "crypto", "Crypto", "FR", "5411", "0.75", "-3",
                                     "1e3", "abc\xc3\xa9", "922337203685477.5808" };

static fw_str word(uint64_t *s) {
    uint64_t r = mix(s);
    if (r % 5 == 0)
        return FW_STR_NULL;
    return fw_str_c(words[(r >> 8) % (sizeof(words) / sizeof(words[0]))]);
}

static void random_txn(fw_txn *t, uint64_t *s) {
    static const char *const amounts[] = { "0", "2000", "2000.0001", "0.00005", "1e3",
                                           "922337203685477.5807", "99999999999999999999" };
    memset(t, 0, sizeof(*t));
    t->transaction_id = fw_str_c("t");
    t->ts_ms = (int64_t)(mix(s) % 4000000000000ull) - 1000000000000ll;
    uint64_t r = mix(s);
    t->amount_raw = r & 1 ? fw_str_c(amounts[(r >> 1) % 7]) : FW_STR_NULL;
    t->amount = (double)(r % 100000) / 100;
    t->account_id = word(s);
    t->card_id = word(s);
    t->customer_id = word(s);
    t->type = (fw_txn_type)(mix(s) % (FW_TXN_TYPE_OTHER + 1));
    t->type_raw = word(s);
    t->currency = word(s);
    t->merchant_id = word(s);
    t->merchant_category = word(s);
    t->country = word(s);
    t->counterparty_id = word(s);
    t->channel = word(s);
    r = mix(s);
    t->lat = (double)(r % 180000) / 1000 - 90;
    t->lon = (double)((r >> 20) % 360000) / 1000 - 180;
    t->has = (uint32_t)(r >> 40) & 3u;
    t->v_mask = (uint32_t)mix(s);
    for (int i = 0; i < FW_TXN_NFEATURES; i++)
        t->v[i] = (float)((int)(mix(s) % 2001) - 1000) / 7.0f;
}

static void check_message(const char *err, size_t size) {
    size_t len = strnlen(err, size);
    CHECK(len > 0 && len < size);
    for (size_t i = 0; i < len; i++)
        CHECK(err[i] >= 0x20 && err[i] <= 0x7e);
    CHECK(strstr(err, "(line ") != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *in = (const char *)data;
    names x = { .n = 0 };
    static const fw_expr_param params[] = {
        { .name = "limit", .value = { .type = FW_XT_NUM, .u.num = 10000000 } },
        { .name = "window", .value = { .type = FW_XT_STR, .u.s = { "30m", 3 } } },
        { .name = "on", .value = { .type = FW_XT_BOOL, .u.b = true } },
    };
    static const fw_expr_slot slots[] = { { "count", FW_XT_NUM }, { "sum", FW_XT_NUM },
                                          { "since", FW_XT_DUR } };
    fw_expr_env env = { .params = params, .nparams = 3, .slots = slots, .nslots = 3,
                        .extra_field = extra_field, .list_id = list_id, .ud = &x };
    char err[256];
    fw_expr *e = NULL;
    fw_err rc = fw_expr_compile(in, size, &env, FW_XT_MISSING, &e, err, sizeof(err));
    names x2 = { .n = 0 };
    env.ud = &x2;
    fw_expr *e2 = NULL;
    char err2[256];
    fw_err rc2 = fw_expr_compile(in, size, &env, FW_XT_BOOL, &e2, err2, sizeof(err2));
    if (rc != FW_OK) {
        CHECK(rc == FW_ERR_INVALID || rc == FW_ERR_LIMIT);
        CHECK(e == NULL);
        check_message(err, sizeof(err));
        CHECK(rc2 == rc && e2 == NULL && !strcmp(err, err2)); /* deterministic */
        return 0;
    }
    CHECK(e != NULL);
    fw_xtype type = fw_expr_type(e);
    CHECK(rc2 == (type == FW_XT_BOOL ? FW_OK : FW_ERR_INVALID));
    if (rc2 != FW_OK)
        check_message(err2, sizeof(err2));
    fw_expr_destroy(e2);

    fw_expr_uses u;
    fw_expr_uses_get(e, &u);
    CHECK(u.nextra <= NEXTRA && u.nslots <= 3);
    for (size_t i = 0; i < u.nextra; i++)
        CHECK(fw_expr_extra_slot(e, i) >= 0 && fw_expr_extra_slot(e, i) < x.n);

    uint64_t seed = 0x1234;
    for (size_t i = 0; i < size; i++)
        seed = seed * 131 + data[i];
    for (int round = 0; round < 8; round++) {
        fw_txn t, p;
        fw_profile prof;
        random_txn(&t, &seed);
        random_txn(&p, &seed);
        memset(&prof, 0, sizeof(prof));
        prof.has_avg = mix(&seed) & 1;
        prof.avg_amount = (double)(mix(&seed) % 100000) / 3;
        snprintf(prof.home_country, sizeof(prof.home_country), "%s", round & 1 ? "FR" : "");
        fw_str extra[NEXTRA];
        for (int i = 0; i < NEXTRA; i++)
            extra[i] = word(&seed);
        fw_xval slotv[3] = { { .type = FW_XT_NUM, .u.num = (fw_dec)mix(&seed) },
                             { .type = (uint8_t)(round & 2 ? FW_XT_NUM : FW_XT_MISSING) },
                             { .type = FW_XT_DUR, .u.ms = (int64_t)(mix(&seed) >> 1) } };
        uint64_t r = mix(&seed);
        fw_expr_ctx ctx = { .txn = &t,
                            .prev = r & 1 ? &p : NULL,
                            .profile = r & 2 ? &prof : NULL,
                            .extra = r & 4 ? extra : NULL,
                            .nextra = (size_t)(r >> 8) % (NEXTRA + 1),
                            .slots = r & 8 ? slotv : NULL,
                            .nslots = (size_t)(r >> 16) % 4,
                            .in_list = r & 16 ? in_list : NULL,
                            .is_new = r & 32 ? is_new : NULL };
        fw_xval v = fw_expr_eval(e, &ctx);
        if (type == FW_XT_BOOL)
            CHECK(v.type == FW_XT_BOOL);
        else if (type == FW_XT_ANY)
            CHECK(v.type == FW_XT_STR || v.type == FW_XT_MISSING);
        else
            CHECK(v.type == type || v.type == FW_XT_MISSING);
        if (v.type == FW_XT_STR)
            CHECK(v.u.s.ptr != NULL || v.u.s.len == 0);
        (void)fw_expr_test(e, &ctx);
    }
    fw_expr_destroy(e);
    return 0;
}
