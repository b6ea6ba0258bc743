/* test_expr.c — table-driven tests of the rule language's expressions
 * (expr.c, expr_eval.c): every operator and function evaluated against
 * hand-built records (this, prev, profile, extra fields, caller slots,
 * parameters, named lists and the is_new hook), missing values, money
 * exactness, `in` lists, precedence and short-circuits, constant folding,
 * parse and type errors with their line and column and did-you-mean hints,
 * the nesting and size limits, introspection, and a timing figure. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "expr.h"
#include "expr_int.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define T0 1710513000000LL /* 2024-03-15T14:30:00Z, a Friday */

/* ---- the records, environment and hooks ------------------------------ */

static const char *const extra_names[] = { "device_id", "ip", "mcc", "risk", "email", "ammount" };

static int extra_field(void *ud, fw_str name) {
    (void)ud;
    for (size_t i = 0; i < N(extra_names); i++)
        if (fw_str_eq_c(name, extra_names[i]))
            return (int)i;
    return -1; /* a limit: no more slots */
}

static int list_id(void *ud, fw_str name) {
    (void)ud;
    return fw_str_eq_c(name, "blocked") ? 0 : fw_str_eq_c(name, "vip") ? 1 : -1;
}

typedef struct hooks {
    int in_list_calls, is_new_calls;
    int64_t last_lookback;
    int last_site;
} hooks;

static int in_list(void *ud, int id, fw_str v) {
    ((hooks *)ud)->in_list_calls++;
    return id == 0 && (fw_str_eq_c(v, "acc-1") || fw_str_eq_c(v, "bad"));
}

static int is_new(void *ud, int site, fw_str v, int64_t lookback_ms) {
    hooks *h = ud;
    h->is_new_calls++;
    h->last_lookback = lookback_ms;
    h->last_site = site;
    return fw_str_eq_c(v, "dev-new");
}

static const fw_expr_param params[] = {
    { .name = "limit", .value = { .type = FW_XT_NUM, .u.num = 10000000 } }, /* 1000 */
    { .name = "lookback", .value = { .type = FW_XT_STR, .u.s = FW_STR_LIT("30d") } },
    { .name = "cat", .value = { .type = FW_XT_STR, .u.s = FW_STR_LIT("crypto") } },
};
static const fw_expr_slot slots[] = { { "count", FW_XT_NUM }, { "sum", FW_XT_NUM } };
static const fw_expr_env env = { .params = params, .nparams = N(params), .slots = slots,
                                 .nslots = N(slots), .extra_field = extra_field,
                                 .list_id = list_id };

typedef struct world {
    fw_txn txn, prev;
    fw_profile profile;
    fw_str extra[N(extra_names)];
    fw_xval slotv[2];
    hooks h;
    fw_expr_ctx ctx;
} world;

static void world_init(world *w) {
    memset(w, 0, sizeof(*w));
    fw_txn *t = &w->txn;
    t->transaction_id = FW_STR_LIT("t1");
    t->ts_ms = T0;
    t->amount = 2500.5;
    t->amount_raw = FW_STR_LIT("2500.50");
    t->account_id = FW_STR_LIT("acc-1");
    t->customer_id = FW_STR_LIT("c1");
    t->type = FW_TXN_PURCHASE;
    t->currency = FW_STR_LIT("EUR");
    t->merchant_category = FW_STR_LIT("Crypto");
    t->country = FW_STR_LIT("FR");
    t->channel = FW_STR_LIT("web");
    t->lat = 48.8566;
    t->lon = 2.3522;
    t->has = FW_TXN_HAS_LAT | FW_TXN_HAS_LON;
    t->v[0] = 0.5f;
    t->v_mask = 1;
    fw_txn *p = &w->prev;
    p->transaction_id = FW_STR_LIT("t0");
    p->ts_ms = T0 - 3600000;
    p->amount = 10;
    p->amount_raw = FW_STR_LIT("10");
    p->country = FW_STR_LIT("GB");
    p->lat = 51.5074;
    p->lon = -0.1278;
    p->has = FW_TXN_HAS_LAT | FW_TXN_HAS_LON;
    snprintf(w->profile.customer_id, sizeof(w->profile.customer_id), "c1");
    w->profile.idlen = 2;
    w->profile.has_avg = true;
    w->profile.avg_amount = 100.25;
    snprintf(w->profile.home_country, sizeof(w->profile.home_country), "GB");
    w->extra[0] = FW_STR_LIT("dev-new");
    w->extra[1] = FW_STR_LIT("1.2.3.4");
    w->extra[2] = FW_STR_LIT("5411");
    w->extra[3] = FW_STR_LIT("0.75");
    /* email (4) and ammount (5) absent */
    w->slotv[0] = (fw_xval){ .type = FW_XT_NUM, .u.num = 30000 };     /* count 3 */
    w->slotv[1] = (fw_xval){ .type = FW_XT_NUM, .u.num = 120000000 }; /* sum 12000 */
    w->ctx = (fw_expr_ctx){ .txn = &w->txn, .prev = &w->prev, .profile = &w->profile,
                            .extra = w->extra, .nextra = N(extra_names), .slots = w->slotv,
                            .nslots = 2, .in_list = in_list, .is_new = is_new, .ud = &w->h };
}

/* A value as text: "true", "missing", "2500.5", "s:Crypto", "dur:3600000". */
static const char *show(fw_xval v, char *buf, size_t size) {
    switch (v.type) {
    case FW_XT_MISSING: snprintf(buf, size, "missing"); break;
    case FW_XT_BOOL: snprintf(buf, size, "%s", v.u.b ? "true" : "false"); break;
    case FW_XT_NUM: fw_dec_format(v.u.num, buf, size); break;
    case FW_XT_STR: snprintf(buf, size, "s:%.*s%s", (int)v.u.s.len, v.u.s.ptr, v.fold ? " (fold)" : ""); break;
    case FW_XT_DUR: snprintf(buf, size, "dur:%lld", (long long)v.u.ms); break;
    case FW_XT_TIME: snprintf(buf, size, "time:%lld", (long long)v.u.ms); break;
    default: snprintf(buf, size, "type %d", v.type); break;
    }
    return buf;
}

static fw_expr *compile_ok(const char *src, const fw_expr_env *e, fw_xtype want) {
    fw_expr *x = NULL;
    char err[256];
    /* an exact-size heap copy: the compiler must not read past n */
    size_t n = strlen(src);
    char *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, src, n);
    fw_err rc = fw_expr_compile(copy, n, e, want, &x, err, sizeof(err));
    if (rc != FW_OK)
        fail_msg("compile \"%s\": rc %d: %s", src, rc, err);
    free(copy); /* string constants live in the expression's own text */
    return x;
}

/* ---- evaluation ------------------------------------------------------ */

static const struct {
    const char *src;
    const char *want;
} eval_cases[] = {
    /* numbers, exactly */
    { "amount", "2500.5" },
    { "amount > 2000", "true" },
    { "amount >= 2500.5", "true" },
    { "amount > 2500.5", "false" },
    { "amount < 2500.5", "false" },
    { "amount <= 2500.50", "true" },
    { "amount == 2500.5", "true" },
    { "amount != 2500.5", "false" },
    { "0.1 + 0.2 == 0.3", "true" },
    { "0.1 + 0.2", "0.3" },
    { "amount * 2", "5001" },
    { "amount / 4", "625.125" },
    { "amount - 0.5", "2500" },
    { "10 / 3", "3.3333" },
    { "2 / 3", "0.6667" },
    { "0.00015", "0.0002" },             /* literal past four places: half-even */
    { "0.00025", "0.0002" },
    { "-amount", "-2500.5" },
    { "- -1", "1" },
    { "1 / 0", "missing" },              /* division by zero is missing */
    { "1 / 0 > 0", "false" },
    { "not (1 / 0 > 0)", "true" },
    { "922337203685477 * 10", "missing" }, /* overflow is missing */
    /* precedence and associativity */
    { "1 + 2 * 3", "7" },
    { "(1 + 2) * 3", "9" },
    { "10 - 2 - 3", "5" },
    { "12 / 2 / 3", "2" },
    { "true or false and false", "true" },
    { "not true or true", "true" },
    { "not (true or true)", "false" },
    { "not not true", "true" },
    { "1 + 1 == 2 and 3 > 2", "true" },
    /* strings */
    { "merchant_category == \"Crypto\"", "true" },
    { "merchant_category == 'Crypto'", "true" },
    { "merchant_category", "s:Crypto" },
    { "lower(merchant_category) == \"crypto\"", "true" },
    { "lower(merchant_category)", "s:Crypto (fold)" },
    { "merchant_category in [\"crypto\", \"gambling\"]", "false" },
    { "lower(merchant_category) in [\"crypto\", \"gambling\"]", "true" },
    { "lower(merchant_category) in [\"gambling\", $cat]", "true" },
    { "lower(merchant_category) == $cat", "true" },
    { "country in [\"DE\", \"FR\", \"IT\", \"ES\", \"NL\", \"BE\"]", "true" },
    { "country not in [\"FR\"]", "false" },
    { "country in []", "false" },
    { "currency < \"USD\"", "true" },
    { "currency >= \"EUR\"", "true" },
    { "starts_with(transaction_id, \"t\")", "true" },
    { "starts_with(transaction_id, \"t1x\")", "false" },
    { "starts_with(lower(country), \"f\")", "true" },
    { "starts_with(country, lower(\"F\"))", "false" },
    { "'a\\'b' == \"a'b\"", "true" },
    { "\"\\u00e9\" == \"\xc3\xa9\"", "true" },
    { "\"tab\\there\"", "s:tab\there" },
    { "type == \"PURCHASE\"", "true" },
    { "channel != \"pos\"", "true" },
    /* times and durations */
    { "timestamp", "time:1710513000000" },
    { "timestamp - prev.timestamp", "dur:3600000" },
    { "timestamp - prev.timestamp <= 1h", "true" },
    { "timestamp - prev.timestamp < 60m", "false" },
    { "prev.timestamp + 1h == timestamp", "true" },
    { "1h + timestamp - 30m > timestamp", "true" },
    { "1h30m == 90m", "true" },
    { "\"30m\" == 30m", "true" },
    { "-1s", "dur:-1000" },
    { "abs(prev.timestamp - timestamp)", "dur:3600000" },
    /* functions */
    { "abs(-3.5)", "3.5" },
    { "abs(prev.amount - amount)", "2490.5" },
    { "hour_of_day(timestamp)", "14" },
    { "day_of_week(timestamp)", "5" },
    { "hour_of_day(prev.timestamp)", "13" },
    { "hour_of_day(timestamp - 15h)", "23" },
    { "day_of_week(timestamp - 5d)", "7" },
    { "distance_km(prev, this)", "343.5561" },
    { "distance_km(this, prev) == distance_km(prev, this)", "true" },
    { "distance_km(this, this)", "0" },
    { "speed_kmh(prev, this)", "343.5561" },
    { "is_new(device_id, 30d)", "true" },
    { "is_new(ip, 30d)", "false" },
    { "is_new(counterparty_id, 1d)", "false" },  /* missing value: false */
    { "is_new(device_id, $lookback)", "true" },
    /* missing values */
    { "merchant_id is missing", "true" },
    { "merchant_id is not missing", "false" },
    { "country is not missing", "true" },
    { "merchant_id == \"x\"", "false" },
    { "merchant_id != \"x\"", "false" },
    { "not (merchant_id == \"x\")", "true" },
    { "card_id in [\"a\"]", "false" },
    { "card_id not in [\"a\"]", "false" },
    { "lower(card_id)", "missing" },
    { "starts_with(card_id, \"a\")", "false" },
    { "V1 == 0.5", "true" },
    { "V2 is missing", "true" },
    { "V2 + 1", "missing" },
    { "lat > 48 and lon < 3", "true" },
    /* prev and profile */
    { "prev.country != country", "true" },
    { "prev.amount", "10" },
    { "prev.merchant_category is missing", "true" },
    { "amount > 10 * profile.avg_amount", "true" },
    { "profile.avg_amount", "100.25" },
    { "profile.home_country != country", "true" },
    { "profile.customer_id == customer_id", "true" },
    /* extra fields: text, numbers parsed on use */
    { "device_id == \"dev-new\"", "true" },
    { "mcc == 5411", "true" },
    { "mcc == \"5411\"", "true" },
    { "mcc > 5000", "true" },
    { "mcc in [\"5411\", \"7995\"]", "true" },
    { "mcc in [5411, 7995]", "true" },
    { "risk * 100 > 70", "true" },
    { "ip + 1", "missing" },             /* not a number: missing */
    { "device_id", "s:dev-new" },
    { "device_id == ip", "false" },
    { "email is missing", "true" },
    { "extra.ammount is missing", "true" },
    { "lower(device_id) == \"DEV-NEW\"", "false" },
    /* caller slots and parameters */
    { "count >= 3 and sum > 10000", "true" },
    { "sum / count", "4000" },
    { "amount > $limit", "true" },
    /* named lists */
    { "account_id in list(\"blocked\")", "true" },
    { "customer_id in list(\"blocked\")", "false" },
    { "account_id not in list(\"blocked\")", "false" },
    { "lower(\"BAD\") in list(\"blocked\")", "true" },
    { "card_id in list(\"blocked\")", "false" },
    /* numbers and bools in lists and comparisons */
    { "amount in [2500.5, 3]", "true" },
    { "-1 in [-1, 2]", "true" },
    { "timestamp - prev.timestamp in [1h, 2h]", "true" },
    { "(amount > 1) == true", "true" },
    { "(amount > 1) != (amount > 2)", "false" },
    /* spaces and lines */
    { "\n amount\t>\r\n2000 ", "true" },
};

static void test_eval(void **state) {
    (void)state;
    world w;
    world_init(&w);
    for (size_t i = 0; i < N(eval_cases); i++) {
        fw_expr *x = compile_ok(eval_cases[i].src, &env, FW_XT_MISSING);
        char buf[128];
        show(fw_expr_eval(x, &w.ctx), buf, sizeof(buf));
        if (strcmp(buf, eval_cases[i].want))
            fail_msg("eval \"%s\": got %s, expected %s", eval_cases[i].src, buf,
                     eval_cases[i].want);
        fw_expr_destroy(x);
    }
}

/* Records without prev, profile, extras or hooks: the names still compile
 * and read as missing. */
static void test_eval_bare(void **state) {
    (void)state;
    world w;
    world_init(&w);
    fw_expr_ctx bare = { .txn = &w.txn };
    static const struct {
        const char *src;
        const char *want;
    } cases[] = {
        { "prev.amount is missing", "true" },
        { "distance_km(prev, this)", "missing" },
        { "speed_kmh(prev, this) > 0", "false" },
        { "profile.avg_amount is missing", "true" },
        { "device_id is missing", "true" },
        { "count is missing", "true" },
        { "account_id in list(\"blocked\")", "false" },
        { "is_new(device_id, 30d)", "false" },
    };
    for (size_t i = 0; i < N(cases); i++) {
        fw_expr *x = compile_ok(cases[i].src, &env, FW_XT_MISSING);
        char buf[128];
        show(fw_expr_eval(x, &bare), buf, sizeof(buf));
        if (strcmp(buf, cases[i].want))
            fail_msg("bare eval \"%s\": got %s, expected %s", cases[i].src, buf, cases[i].want);
        fw_expr_destroy(x);
    }
    /* The amount without its token: from the double. */
    w.txn.amount_raw = FW_STR_NULL;
    w.txn.amount = 0.1;
    fw_expr *x = compile_ok("amount + 0.2 == 0.3", &env, FW_XT_BOOL);
    assert_true(fw_expr_test(x, &bare));
    fw_expr_destroy(x);
    /* No time between two places: the fastest number, never a division by 0. */
    w.prev.ts_ms = w.txn.ts_ms;
    x = compile_ok("speed_kmh(prev, this) > 1000000", &env, FW_XT_BOOL);
    assert_true(fw_expr_test(x, &w.ctx));
    fw_expr_destroy(x);
}

/* `type == "X"` and `type in [...]` compare fw_txn.type (XFAST_*): each
 * record's kind of type against every shape, with fw_expr_test (the
 * shortcut) and fw_expr_eval (a value) agreeing. A type outside the enum
 * (FW_TXN_TYPE_OTHER) is its text; none at all is missing, which compares
 * false whatever the operator. */
static void test_type_shortcut(void **state) {
    (void)state;
    static const struct {
        fw_txn_type type;
        const char *raw; /* type_raw for FW_TXN_TYPE_OTHER */
        bool on_prev;    /* the record is prev (and this has no type) */
        const char *src;
        bool want;
    } cases[] = {
        { FW_TXN_TRANSFER, NULL, false, "type == \"TRANSFER\"", true },
        { FW_TXN_TRANSFER, NULL, false, "type != \"TRANSFER\"", false },
        { FW_TXN_PURCHASE, NULL, false, "type == \"TRANSFER\"", false },
        { FW_TXN_PURCHASE, NULL, false, "type != \"TRANSFER\"", true },
        { FW_TXN_PURCHASE, NULL, false, "type == \"transfer\"", false },
        { FW_TXN_PURCHASE, NULL, false, "type != \"NOT_A_TYPE\"", true },
        { FW_TXN_PURCHASE, NULL, false, "type == \"OTHER\"", false },
        { FW_TXN_TYPE_OTHER, "REFUND", false, "type == \"REFUND\"", true },
        { FW_TXN_TYPE_OTHER, "REFUND", false, "type != \"TRANSFER\"", true },
        { FW_TXN_TYPE_OTHER, "REFUND", false, "type == \"TRANSFER\"", false },
        { FW_TXN_TYPE_OTHER, "TRANSFER", false, "type == \"TRANSFER\"", true }, /* hand-built */
        { FW_TXN_TYPE_OTHER, NULL, false, "type != \"TRANSFER\"", false },       /* no text: missing */
        { FW_TXN_TYPE_NONE, NULL, false, "type == \"TRANSFER\"", false },
        { FW_TXN_TYPE_NONE, NULL, false, "type != \"TRANSFER\"", false },
        { FW_TXN_LOGIN, NULL, false, "type in [\"LOGIN\", \"PASSWORD_CHANGE\"]", true },
        { FW_TXN_LOGIN, NULL, false, "type not in [\"LOGIN\", \"PASSWORD_CHANGE\"]", false },
        { FW_TXN_DEPOSIT, NULL, false, "type in [\"LOGIN\", \"PASSWORD_CHANGE\"]", false },
        { FW_TXN_DEPOSIT, NULL, false, "type not in [\"LOGIN\", \"PASSWORD_CHANGE\"]", true },
        { FW_TXN_DEPOSIT, NULL, false, "type in [\"DEPOSIT\", \"XYZ\"]", true },
        { FW_TXN_TYPE_OTHER, "XYZ", false, "type in [\"DEPOSIT\", \"XYZ\"]", true },
        { FW_TXN_TYPE_OTHER, "XYZ", false, "type not in [\"DEPOSIT\", \"XYZ\"]", false },
        { FW_TXN_TYPE_NONE, NULL, false, "type not in [\"LOGIN\"]", false },
        { FW_TXN_TYPE_NONE, NULL, false, "type is missing or not (type in [\"LOGIN\"])", true },
        { FW_TXN_PURCHASE, NULL, false, "lower(type) == \"purchase\"", true }, /* no shortcut */
        { FW_TXN_PURCHASE, NULL, false, "type == lower(\"PURCHASE\")", false },
        { FW_TXN_PURCHASE, NULL, false, "type < \"TRANSFER\"", true },
        { FW_TXN_WITHDRAWAL, NULL, true, "prev.type == \"WITHDRAWAL\"", true },
        { FW_TXN_WITHDRAWAL, NULL, true, "prev.type in [\"WITHDRAWAL\"]", true },
        { FW_TXN_WITHDRAWAL, NULL, true, "type == \"WITHDRAWAL\"", false },
    };
    for (size_t i = 0; i < N(cases); i++) {
        world w;
        world_init(&w);
        fw_txn *t = cases[i].on_prev ? &w.prev : &w.txn;
        w.txn.type = FW_TXN_TYPE_NONE;
        t->type = cases[i].type;
        t->type_raw = cases[i].raw ? fw_str_c(cases[i].raw) : FW_STR_NULL;
        fw_expr *x = compile_ok(cases[i].src, &env, FW_XT_BOOL);
        bool got = fw_expr_test(x, &w.ctx);
        fw_xval v = fw_expr_eval(x, &w.ctx);
        if (got != cases[i].want || v.type != FW_XT_BOOL || v.u.b != cases[i].want)
            fail_msg("\"%s\" on type %d (%s): test %s, eval %s, expected %s", cases[i].src,
                     (int)cases[i].type, cases[i].raw ? cases[i].raw : "no text",
                     got ? "true" : "false", v.type == FW_XT_BOOL && v.u.b ? "true" : "false",
                     cases[i].want ? "true" : "false");
        /* Without prev the shortcut of prev.type is false, as missing is. */
        if (cases[i].on_prev) {
            fw_expr_ctx noprev = w.ctx;
            noprev.prev = NULL;
            assert_false(fw_expr_test(x, &noprev));
        }
        fw_expr_destroy(x);
    }
}

/* The typed shortcuts (XFAST_NUM, _MS, _STR, _AMOUNT_K, _MUL_INT, marked by
 * the compiler) against the general path: each row compiled twice, once
 * with its shortcuts and once with fw_expr_fast_off(), and evaluated with
 * fw_expr_test and fw_expr_eval on every variant of the record below
 * (without prev, profile, memo, slots...); all four results must agree, and
 * on the full record equal the row's expected value. Rows give each shape
 * its positive, negative, boundary (exactly equal), missing and `not`. */
static const struct {
    const char *src;
    xfast fast; /* a shortcut the compiled row must carry */
    bool want;  /* on the full record */
} fast_cases[] = {
    /* amount <op> constant: 2500.5 exactly at the boundary */
    { "amount > 2500.5", XFAST_AMOUNT_K, false },
    { "amount >= 2500.5", XFAST_AMOUNT_K, true },
    { "amount < 2500.5", XFAST_AMOUNT_K, false },
    { "amount <= 2500.5", XFAST_AMOUNT_K, true },
    { "amount == 2500.5", XFAST_AMOUNT_K, true },
    { "amount != 2500.5", XFAST_AMOUNT_K, false },
    { "amount > 2500.4999", XFAST_AMOUNT_K, true },
    { "amount < 2500.5001", XFAST_AMOUNT_K, true },
    { "amount > $limit", XFAST_AMOUNT_K, true },
    { "not (amount > 2500.5)", XFAST_AMOUNT_K, true },
    { "amount > 1 / 0", XFAST_NUM, false },          /* a folded missing constant */
    { "not (amount > 1 / 0)", XFAST_NUM, true },
    { "amount > 0 and amount < 10000", XFAST_AMOUNT_K, true },
    /* numbers: constant left, prev, slots, extra, profile */
    { "2500.5 < amount", XFAST_NUM, false },
    { "2500.5 <= amount", XFAST_NUM, true },
    { "prev.amount > 9.9999", XFAST_NUM, true },
    { "prev.amount >= 10.0001", XFAST_NUM, false },
    { "prev.amount == 10", XFAST_NUM, true },
    { "amount > prev.amount", XFAST_NUM, true },
    { "count >= 3", XFAST_NUM, true },
    { "count > 3", XFAST_NUM, false },
    { "sum == 12000", XFAST_NUM, true },
    { "sum != 12000", XFAST_NUM, false },
    { "risk > 0.75", XFAST_NUM, false },
    { "risk >= 0.75", XFAST_NUM, true },
    { "mcc > 5000", XFAST_NUM, true },
    { "profile.avg_amount == 100.25", XFAST_NUM, true },
    { "abs(amount - 2600) == 99.5", XFAST_NUM, true },      /* general operands */
    { "lat > 48.8", XFAST_NUM, true },
    /* a number times a whole constant */
    { "amount > 3 * profile.avg_amount", XFAST_MUL_INT, true },
    { "amount > 25 * profile.avg_amount", XFAST_MUL_INT, false },
    { "amount > profile.avg_amount * 24", XFAST_MUL_INT, true },
    { "sum == 4000 * count", XFAST_MUL_INT, true },
    { "sum > 4000 * count", XFAST_MUL_INT, false },
    { "sum >= count * 4000", XFAST_MUL_INT, true },
    { "-3 * amount == -7501.5", XFAST_MUL_INT, true },
    { "0 * amount == 0", XFAST_MUL_INT, true },
    { "amount * 922337203685477 > 0", XFAST_MUL_INT, false }, /* overflow: missing */
    { "(amount * 922337203685477) is missing", XFAST_MUL_INT, true },
    { "count * 307445734561825 > 0", XFAST_MUL_INT, true },   /* just inside the range */
    { "count * 307445734561826 > 0", XFAST_MUL_INT, false },  /* just outside */
    { "(count * 562949953421312) is missing", XFAST_MUL_INT, true },
    { "amount > 2.5 * profile.avg_amount", XFAST_NUM, true }, /* not whole: general MUL */
    /* is missing / is not missing of numbers, times, strings */
    { "profile.avg_amount is missing", XFAST_NUM, false },
    { "profile.avg_amount is not missing", XFAST_NUM, true },
    { "count is missing", XFAST_NUM, false },
    { "count is not missing", XFAST_NUM, true },
    { "sum is missing", XFAST_NUM, false },       /* the slot read in missing_fast */
    { "not (sum is not missing)", XFAST_NUM, false },
    { "amount is missing", XFAST_NUM, false },
    { "prev.amount is not missing", XFAST_NUM, true },
    { "distance_km(prev, this) is missing", XFAST_NUM, false },
    { "prev.timestamp is missing", XFAST_MS, false },
    { "(timestamp - prev.timestamp) is not missing", XFAST_MS, true },
    { "type is missing", XFAST_STR, false },
    { "prev.type is missing", XFAST_STR, true },
    { "type is not missing", XFAST_STR, true },
    { "not (prev.type is not missing)", XFAST_STR, true },
    { "merchant_id is missing", XFAST_STR, true },
    { "email is missing", XFAST_STR, true },
    { "device_id is not missing", XFAST_STR, true },
    { "not (country is missing)", XFAST_STR, true },
    { "(profile.avg_amount is not missing and amount > 3 * profile.avg_amount) or "
      "(profile.avg_amount is missing and sum is not missing and amount > 3 * sum)",
      XFAST_MUL_INT, true }, /* risk_score's band */
    /* times and durations: prev is one hour before */
    { "timestamp - prev.timestamp < 1h", XFAST_MS, false },
    { "timestamp - prev.timestamp <= 1h", XFAST_MS, true },
    { "timestamp - prev.timestamp == 60m", XFAST_MS, true },
    { "timestamp - prev.timestamp > 59m", XFAST_MS, true },
    { "timestamp - prev.timestamp < $lookback", XFAST_MS, true },
    { "timestamp == prev.timestamp", XFAST_MS, false },
    { "timestamp > prev.timestamp", XFAST_MS, true },
    { "prev.timestamp + 1h == timestamp", XFAST_MS, true },
    { "1h + prev.timestamp >= timestamp", XFAST_MS, true },
    { "not (timestamp - prev.timestamp < 1h)", XFAST_MS, true },
    /* strings: slices, fold, missing */
    { "country != \"\"", XFAST_STR, true },
    { "prev.country != \"\"", XFAST_STR, true },
    { "country != prev.country", XFAST_STR, true },
    { "country == \"FR\"", XFAST_STR, true },
    { "country == \"FRA\"", XFAST_STR, false },
    { "country < \"GB\"", XFAST_STR, true },
    { "country >= \"FR\"", XFAST_STR, true },
    { "merchant_category == \"crypto\"", XFAST_STR, false },
    { "lower(merchant_category) == \"crypto\"", XFAST_STR, true },
    { "merchant_category == lower(\"CRYPTO\")", XFAST_STR, false },
    { "lower(merchant_category) != lower(\"CRYPTO\")", XFAST_STR, false },
    { "merchant_id != \"\"", XFAST_STR, false },            /* missing */
    { "merchant_id == merchant_id", XFAST_STR, false },
    { "device_id == \"dev-new\"", XFAST_STR, true },
    { "ip > \"1.2\"", XFAST_STR, true },
    { "profile.home_country == prev.country", XFAST_STR, true },
    { "type == prev.type", XFAST_STR, false },
    { "type >= \"PURCHASE\"", XFAST_STR, true },
    /* location_jump's predicate */
    { "prev.country != \"\" and country != \"\" and timestamp - prev.timestamp < 2h and "
      "((country != prev.country and (distance_km(prev, this) is missing or "
      "timestamp == prev.timestamp or speed_kmh(prev, this) > 900)) or "
      "(speed_kmh(prev, this) > 900 and distance_km(prev, this) > 100))",
      XFAST_STR, false },
    { "prev.country != \"\" and country != \"\" and timestamp - prev.timestamp < 2h and "
      "((country != prev.country and (distance_km(prev, this) is missing or "
      "timestamp == prev.timestamp or speed_kmh(prev, this) > 300)) or "
      "(speed_kmh(prev, this) > 300 and distance_km(prev, this) > 100))",
      XFAST_MS, true },
};

/* The record variants: each changes one thing of world_init's. */
static void fast_variant(world *w, int v, fw_expr_memo *memo) {
    world_init(w);
    switch (v) {
    case 0: break;                                   /* the full record */
    case 1: w->ctx.memo = memo; break;               /* amount kept between expressions */
    case 2: w->ctx.prev = NULL; break;
    case 3: w->ctx.profile = NULL; break;
    case 4: w->profile.has_avg = false; break;
    case 5: w->ctx.slots = NULL; w->ctx.nslots = 0; break;
    case 6: w->slotv[0] = (fw_xval){ .type = FW_XT_STR, .u.s = FW_STR_LIT("3") }; break;
    case 7: w->slotv[1].type = FW_XT_MISSING; break;
    case 8: w->txn.amount_raw = FW_STR_NULL; w->txn.amount = 0.1; break;
    case 9: w->txn.amount_raw = FW_STR_LIT("x"); w->txn.amount = 1.0 / 0.0; break; /* missing */
    case 10: w->prev.ts_ms = w->txn.ts_ms; break;
    case 11: w->txn.type = FW_TXN_TYPE_OTHER; w->txn.type_raw = FW_STR_LIT("REFUND"); break;
    case 12: w->txn.type = FW_TXN_TYPE_OTHER; break; /* no text: missing */
    case 13: w->txn.type = FW_TXN_TYPE_NONE; w->prev.type = FW_TXN_PURCHASE; break;
    case 14: w->txn.country = FW_STR_LIT(""); w->prev.country = FW_STR_NULL; break;
    case 15: w->txn.has = 0; break;
    case 16: w->ctx.extra = NULL; w->ctx.nextra = 0; break;
    case 17: w->txn.amount_raw = FW_STR_LIT("-2500.50"); w->ctx.memo = memo; break;
    case 18: w->prev.ts_ms = w->txn.ts_ms - 3600001; w->prev.country = FW_STR_LIT("FR"); break;
    case 19: w->profile.avg_amount = 1e300; break;   /* no decimal: missing */
    case 20: w->slotv[0].u.num = -30000; break;              /* count -3 */
    case 21: w->slotv[0].u.num = -16384; break; /* count * 2^49 is INT64_MIN: out of range */
    }
}
#define FAST_VARIANTS 22

static bool has_fast(const fw_expr *x, xfast f) {
    for (int32_t i = 0; i < x->nnodes; i++)
        if (x->node[i].fast == f)
            return true;
    return false;
}

static const char *tf(bool b) { return b ? "true" : "false"; }

static void test_fast_equals_general(void **state) {
    (void)state;
    for (size_t i = 0; i < N(fast_cases); i++) {
        fw_expr *fast = compile_ok(fast_cases[i].src, &env, FW_XT_BOOL);
        fw_expr *gen = compile_ok(fast_cases[i].src, &env, FW_XT_BOOL);
        if (!has_fast(fast, fast_cases[i].fast))
            fail_msg("\"%s\": no shortcut %d marked", fast_cases[i].src, (int)fast_cases[i].fast);
        /* a whole `amount <op> constant` is decided inline by fw_expr_test_inline */
        bool whole = fast->node[fast->root].fast == XFAST_AMOUNT_K;
        if (whole != (fast->head.amount_holds != 0))
            fail_msg("\"%s\": root shortcut %d, inline head %u", fast_cases[i].src,
                     (int)fast->node[fast->root].fast, (unsigned)fast->head.amount_holds);
        fw_expr *rec = compile_ok(fast_cases[i].src, &env, FW_XT_BOOL);
        fw_expr_fast_off(gen);
        fw_expr_flat_off(rec); /* shortcuts kept, the recursive eval_bool */
        for (int v = 0; v < FAST_VARIANTS; v++) {
            world w;
            fw_expr_memo memo = { .amount_set = false };
            fast_variant(&w, v, &memo);
            bool tg = fw_expr_test(gen, &w.ctx);
            fw_xval vg = fw_expr_eval(gen, &w.ctx);
            /* a memo filled by the general path, then read by the shortcut
             * (and by fw_expr_test_inline's, without a call) */
            bool ti = fw_expr_test_inline(fast, &w.ctx);
            if (ti != tg)
                fail_msg("\"%s\" variant %d: fw_expr_test_inline %s, general test %s",
                         fast_cases[i].src, v, tf(ti), tf(tg));
            bool tf_ = fw_expr_test(fast, &w.ctx);
            memo.amount_set = false;
            fw_xval vf = fw_expr_eval(fast, &w.ctx);
            memo.amount_set = false;
            bool tr = fw_expr_test(rec, &w.ctx);
            bool eg = vg.type == FW_XT_BOOL && vg.u.b, ef = vf.type == FW_XT_BOOL && vf.u.b;
            if (tf_ != tg || ef != tg || eg != tg || tr != tg)
                fail_msg("\"%s\" variant %d: shortcut test %s eval %s, recursive test %s, "
                         "general test %s eval %s",
                         fast_cases[i].src, v, tf(tf_), tf(ef), tf(tr), tf(tg), tf(eg));
            if (v == 0 && tg != fast_cases[i].want)
                fail_msg("\"%s\": got %s, expected %s", fast_cases[i].src, tf(tg),
                         tf(fast_cases[i].want));
        }
        fw_expr_destroy(fast);
        fw_expr_destroy(gen);
        fw_expr_destroy(rec);
    }
}

/* fw_expr_eval_inline (a bare text field of this record, or its memoized
 * amount, read without a call) against fw_expr_eval: same type and value on
 * every record variant, with the memo empty and filled; and the head set
 * exactly for those forms. */
static const struct {
    const char *src;
    bool head; /* str_off or amount_root expected */
} inline_cases[] = {
    { "merchant_id", true },    { "country", true },        { "transaction_id", true },
    { "customer_id", true },    { "counterparty_id", true }, { "channel", true },
    { "amount", true },         { "type", false },          { "prev.country", false },
    { "prev.amount", false },   { "lower(country)", false }, { "amount * 2", false },
    { "timestamp", false },
};

static bool same_xval(fw_xval a, fw_xval b) {
    if (a.type != b.type)
        return false;
    if (a.type == FW_XT_MISSING)
        return true;
    return fw_expr_compare(&a, &b) == 0 && a.fold == b.fold;
}

/* A value for a failure message: its type, and text or number. */
static const char *xval_str(fw_xval v, char *buf, size_t n) {
    if (v.type == FW_XT_STR)
        snprintf(buf, n, "type %d \"%.*s\"", (int)v.type, (int)v.u.s.len, v.u.s.ptr);
    else if (v.type == FW_XT_NUM)
        snprintf(buf, n, "type %d %lld", (int)v.type, (long long)v.u.num);
    else
        snprintf(buf, n, "type %d", (int)v.type);
    return buf;
}

static void test_eval_inline(void **state) {
    (void)state;
    for (size_t i = 0; i < N(inline_cases); i++) {
        fw_expr *x = compile_ok(inline_cases[i].src, &env, FW_XT_MISSING);
        bool head = x->head.str_off || x->head.amount_root;
        if (head != inline_cases[i].head)
            fail_msg("\"%s\": inline head %s, expected %s", inline_cases[i].src, tf(head),
                     tf(inline_cases[i].head));
        for (int v = 0; v < FAST_VARIANTS; v++) {
            for (int filled = 0; filled < 2; filled++) {
                world w;
                fw_expr_memo memo = { .amount_set = false };
                fast_variant(&w, v, &memo);
                fw_xval g = fw_expr_eval(x, &w.ctx); /* fills the memo when it is there */
                if (!filled)
                    memo.amount_set = false;
                fw_xval in = fw_expr_eval_inline(x, &w.ctx);
                char bi[96], bg[96];
                if (!same_xval(in, g))
                    fail_msg("\"%s\" variant %d (memo %s): inline %s, eval %s",
                             inline_cases[i].src, v, filled ? "filled" : "empty",
                             xval_str(in, bi, sizeof(bi)), xval_str(g, bg, sizeof(bg)));
            }
        }
        fw_expr_destroy(x);
    }
}

/* and/or/not mixes: the flat form (fw_expr_test's loop over xstep) gives
 * what the recursive eval_bool gives, shortcuts on and off, on every
 * record variant, with the same hook calls (short-circuit alike). */
static const struct {
    const char *src;
    bool want; /* on the full record (variant 0) */
} flat_cases[] = {
    { "not (merchant_id == \"x\")", true }, /* missing: the comparison false, not true */
    { "not (merchant_id == \"x\") and not (merchant_id != \"x\")", true },
    { "amount > 3000 or country == \"FR\" and not (count > 5)", true },
    { "not (amount > 3000 or country == \"GB\")", true },
    { "not (amount > 1000 and (country == \"GB\" or not (type == \"PURCHASE\")))", true },
    { "(amount > 1000 or merchant_id is not missing) and (not (count >= 3) or sum > 11999)", true },
    { "not (not (prev.country == \"GB\"))", true },
    { "(country == \"FR\" and prev.country == \"FR\") or (country == \"GB\" and "
      "prev.country == \"GB\") or (not (country == prev.country) and amount < 100)", false },
    { "not ((count > 2 or sum < 0) and not (merchant_id is missing or email is missing))", true },
    { "true and not false or false", true },
    { "not (false or (amount > 2500 and not (amount > 2500.5)))", false },
    { "type in [\"PURCHASE\", \"REFUND\"] and not (type not in [\"WITHDRAWAL\"]) or "
      "country in [\"FR\"]", true },
    { "not (not (amount > 1) or not (count > 1) or not (sum > 1))", true },
    { "amount > 1 and (country == \"XX\" or (count > 1 and (sum < 1 or not (merchant_id is "
      "missing))))", false },
    { "is_new(device_id, 30d) and not (account_id in list(\"blocked\"))", false },
    { "not (is_new(device_id, 30d)) or not (account_id in list(\"blocked\")) or amount > 1", true },
    { "not (timestamp - prev.timestamp < 1h and (distance_km(prev, this) is missing or "
      "speed_kmh(prev, this) > 300)) and not (profile.avg_amount is missing)", true },
};

static void test_flat_equals_recursive(void **state) {
    (void)state;
    for (size_t i = 0; i < N(flat_cases); i++) {
        fw_expr *x[3]; /* flat, recursive with shortcuts, general */
        static const char *const name[] = { "flat", "recursive", "general" };
        for (int k = 0; k < 3; k++)
            x[k] = compile_ok(flat_cases[i].src, &env, FW_XT_BOOL);
        if (x[0]->nstep <= 0)
            fail_msg("\"%s\": no flat form (%d steps)", flat_cases[i].src, (int)x[0]->nstep);
        fw_expr_flat_off(x[1]);
        fw_expr_fast_off(x[2]);
        for (int v = 0; v < FAST_VARIANTS; v++) {
            bool got[3];
            int calls[3];
            for (int k = 0; k < 3; k++) {
                world w;
                fw_expr_memo memo = { .amount_set = false };
                fast_variant(&w, v, &memo);
                got[k] = fw_expr_test(x[k], &w.ctx);
                calls[k] = w.h.is_new_calls * 100 + w.h.in_list_calls;
            }
            for (int k = 1; k < 3; k++)
                if (got[0] != got[k] || calls[0] != calls[k])
                    fail_msg("\"%s\" variant %d: flat %s (hook calls %d), %s %s (hook calls %d)",
                             flat_cases[i].src, v, tf(got[0]), calls[0], name[k], tf(got[k]),
                             calls[k]);
            if (v == 0 && got[0] != flat_cases[i].want)
                fail_msg("\"%s\": got %s, expected %s", flat_cases[i].src, tf(got[0]),
                         tf(flat_cases[i].want));
        }
        for (int k = 0; k < 3; k++)
            fw_expr_destroy(x[k]);
    }
}

/* `and` and `or` do not evaluate their right side when the left decides. */
static void test_short_circuit(void **state) {
    (void)state;
    world w;
    world_init(&w);
    static const struct {
        const char *src;
        bool want;
        int calls;
    } cases[] = {
        { "amount < 1 and is_new(device_id, 30d)", false, 0 },
        { "amount > 1 or is_new(device_id, 30d)", true, 0 },
        { "amount > 1 and is_new(device_id, 30d)", true, 1 },
        { "amount < 1 or account_id in list(\"blocked\")", true, 1 },
        { "amount < 1 and account_id in list(\"blocked\")", false, 0 },
    };
    for (size_t i = 0; i < N(cases); i++) {
        fw_expr *x = compile_ok(cases[i].src, &env, FW_XT_BOOL);
        w.h = (hooks){ 0 };
        bool got = fw_expr_test(x, &w.ctx);
        int calls = w.h.is_new_calls + w.h.in_list_calls;
        if (got != cases[i].want || calls != cases[i].calls)
            fail_msg("\"%s\": %d with %d hook calls, expected %d with %d", cases[i].src, got, calls,
                     cases[i].want, cases[i].calls);
        fw_expr_destroy(x);
    }
    fw_expr *x = compile_ok("is_new(device_id, 1h) or is_new(ip, $lookback)", &env, FW_XT_BOOL);
    w.h = (hooks){ 0 };
    assert_true(fw_expr_test(x, &w.ctx));
    assert_int_equal(w.h.last_site, 0);
    assert_int_equal(w.h.last_lookback, 3600000);
    fw_expr_destroy(x);
}

/* ---- errors ------------------------------------------------------------ */

static const struct {
    const char *src;
    fw_xtype want;
    fw_err rc;
    const char *msg;
} error_cases[] = {
    { "ammount > 2000", 0, FW_ERR_INVALID,
      "unknown field \"ammount\", did you mean \"amount\"? (line 1, column 1)" },
    { "amount > 2000 and\n  merchant_categroy == \"x\"", 0, FW_ERR_INVALID,
      "unknown field \"merchant_categroy\", did you mean \"merchant_category\"? (line 2, column 3)" },
    { "Amount > 1", 0, FW_ERR_INVALID, "did you mean \"amount\"?" },
    { "prev.countri == \"FR\"", 0, FW_ERR_INVALID,
      "unknown field of prev \"prev.countri\", did you mean \"prev.country\"? (line 1, column 6)" },
    { "prev.device_id == \"x\"", 0, FW_ERR_INVALID, "unknown field of prev \"prev.device_id\"" },
    { "profile.avg_amout > 1", 0, FW_ERR_INVALID,
      "unknown profile field \"profile.avg_amout\", did you mean \"profile.avg_amount\"?" },
    { "lowr(country) == \"fr\"", 0, FW_ERR_INVALID,
      "unknown function \"lowr\", did you mean \"lower\"? (line 1, column 1)" },
    { "frobnicate(1)", 0, FW_ERR_INVALID, "unknown function \"frobnicate\" (line 1, column 1)" },
    { "cout >= 3", 0, FW_ERR_INVALID, "did you mean \"count\"?" },
    { "amount > \"big\"", 0, FW_ERR_INVALID,
      "cannot compare a number with a string using \">\" (line 1, column 8)" },
    { "amount and true", 0, FW_ERR_INVALID,
      "each side of \"and\" must be a bool, not a number (line 1, column 8)" },
    { "not amount", 0, FW_ERR_INVALID, "the operand of \"not\" must be a bool, not a number" },
    { "-country", 0, FW_ERR_INVALID, "the operand of \"-\" must be a number, not a string" },
    { "country + 1", 0, FW_ERR_INVALID, "cannot apply \"+\" to a string and a number (line 1, column 9)" },
    { "timestamp + timestamp", 0, FW_ERR_INVALID, "cannot apply \"+\" to a time and a time" },
    { "1h * 2", 0, FW_ERR_INVALID, "cannot apply \"*\" to a duration and a number" },
    { "amount = 5", 0, FW_ERR_INVALID, "to compare, write \"==\" (line 1, column 8)" },
    { "amount > 1 && true", 0, FW_ERR_INVALID, "write \"and\", \"or\"" },
    { "amount # 1", 0, FW_ERR_INVALID, "unexpected character \"#\" (line 1, column 8)" },
    { "amount > ", 0, FW_ERR_INVALID,
      "expected a value, name or \"(\", got end of expression (line 1, column 10)" },
    { "(amount > 1", 0, FW_ERR_INVALID, "expected \")\", got end of expression" },
    { "amount > 1 )", 0, FW_ERR_INVALID, "unexpected \")\" after a complete expression (line 1, column 12)" },
    { "1 < 2 < 3", 0, FW_ERR_INVALID, "comparisons do not chain" },
    { "true < false", 0, FW_ERR_INVALID, "bools compare only with == and !=" },
    { "amount in [1, \"a\"]", 0, FW_ERR_INVALID,
      "list elements must all be numbers, this is a string (line 1, column 15)" },
    { "amount in [country]", 0, FW_ERR_INVALID, "a list after \"in\" holds constants only" },
    { "amount in [1 2]", 0, FW_ERR_INVALID, "expected \",\" or \"]\" in the list" },
    { "country in [1, 2]", 0, FW_ERR_INVALID, "cannot look for a string in a list of numbers" },
    { "country in list(\"nope\")", 0, FW_ERR_INVALID, "unknown list \"nope\" (line 1, column 17)" },
    { "amount in list(\"blocked\")", 0, FW_ERR_INVALID,
      "a value looked up in a named list must be a string, not a number" },
    { "country in list(blocked)", 0, FW_ERR_INVALID, "list(...) takes the list's name as a string" },
    { "country in 5", 0, FW_ERR_INVALID, "expected \"[\" or list(\"name\") after \"in\"" },
    { "country not 5", 0, FW_ERR_INVALID, "expected \"in\" after \"not\"" },
    { "country is 5", 0, FW_ERR_INVALID, "expected \"missing\" after \"is\"" },
    { "$limt > 1", 0, FW_ERR_INVALID, "unknown parameter \"$limt\", did you mean \"$limit\"?" },
    { "$zzz > 1", 0, FW_ERR_INVALID, "unknown parameter \"$zzz\" (declare it in params)" },
    { "\"abc", 0, FW_ERR_INVALID, "string literal not closed (line 1, column 1)" },
    { "\"a\\qb\"", 0, FW_ERR_INVALID, "unknown escape \"\\q\"" },
    { "\"\\u12\"", 0, FW_ERR_INVALID, "\\u needs four hex digits" },
    { "\"\\ud800\"", 0, FW_ERR_INVALID, "surrogate" },
    { "\"a\nb\"", 0, FW_ERR_INVALID, "line break inside a string literal" },
    { "abs(1, 2)", 0, FW_ERR_INVALID, "abs takes 1 argument, got 2" },
    { "starts_with(country)", 0, FW_ERR_INVALID, "starts_with takes 2 arguments, got 1" },
    { "lower()", 0, FW_ERR_INVALID, "lower takes 1 argument, got 0" },
    { "abs(1", 0, FW_ERR_INVALID, "expected \",\" or \")\" in abs(...)" },
    { "hour_of_day(amount)", 0, FW_ERR_INVALID,
      "the argument of hour_of_day must be a time, not a number (line 1, column 13)" },
    { "lower(amount)", 0, FW_ERR_INVALID, "must be a string, not a number" },
    { "distance_km(prev, amount)", 0, FW_ERR_INVALID, "the arguments of distance_km are the records prev and this" },
    { "is_new(amount, 30d)", 0, FW_ERR_INVALID, "the first argument of is_new is a text field" },
    { "is_new(\"x\", 30d)", 0, FW_ERR_INVALID, "the first argument of is_new is a text field" },
    { "is_new(device_id, 0s)", 0, FW_ERR_INVALID, "constant duration above 0" },
    { "is_new(device_id, \"soon\")", 0, FW_ERR_INVALID, "the lookback of is_new must be a duration, not a string" },
    { "30x > 1", 0, FW_ERR_INVALID, "bad number or duration \"30x\"" },
    { "99999999999999999999 > 1", 0, FW_ERR_LIMIT, "out of range" },
    { "amount", FW_XT_BOOL, FW_ERR_INVALID, "expression must be a bool, this is a number" },
    { "", 0, FW_ERR_INVALID, "expression is empty" },
    { "  \n ", 0, FW_ERR_INVALID, "expression is empty" },
    { "prev == this", 0, FW_ERR_INVALID, "prev and this are records" },
    { "prev", 0, FW_ERR_INVALID, "prev and this are records" },
    { "prev.", 0, FW_ERR_INVALID, "expected a field name after \"prev.\"" },
    { "amount > 1 and", 0, FW_ERR_INVALID, "expected a value" },
    { "in", 0, FW_ERR_INVALID, "unexpected \"in\"" },
    { "amount > \xff", 0, FW_ERR_INVALID, "expression is not valid UTF-8 (line 1, column 10)" },
    { "\"\xc3\xa9\xc3\xa9\" == ?", 0, FW_ERR_INVALID, "unexpected character \"?\" (line 1, column 9)" },
};

static void test_errors(void **state) {
    (void)state;
    for (size_t i = 0; i < N(error_cases); i++) {
        fw_expr *x = (fw_expr *)1;
        char err[256];
        fw_err rc = fw_expr_compile(error_cases[i].src, strlen(error_cases[i].src), &env,
                                    error_cases[i].want, &x, err, sizeof(err));
        if (rc != error_cases[i].rc || !strstr(err, error_cases[i].msg))
            fail_msg("\"%s\": rc %d \"%s\", expected rc %d with \"%s\"", error_cases[i].src, rc, err,
                     error_cases[i].rc, error_cases[i].msg);
        assert_null(x);
    }
}

/* Without extra fields or lists in the environment, names are strict. */
static void test_strict_env(void **state) {
    (void)state;
    static const struct {
        const char *src;
        const char *msg;
    } cases[] = {
        { "device_id == \"x\"", "unknown field \"device_id\" (line 1, column 1)" },
        { "country in list(\"blocked\")", "unknown list \"blocked\"" },
        { "$limit > 1", "unknown parameter \"$limit\"" },
        { "extra.ip == \"x\"", "extra field \"ip\" refused" },
    };
    for (size_t i = 0; i < N(cases); i++) {
        fw_expr *x;
        char err[256];
        fw_err rc = fw_expr_compile(cases[i].src, strlen(cases[i].src), NULL, FW_XT_MISSING, &x, err,
                                    sizeof(err));
        if (rc == FW_OK || !strstr(err, cases[i].msg))
            fail_msg("\"%s\": rc %d \"%s\", expected \"%s\"", cases[i].src, rc, err, cases[i].msg);
    }
    /* A refused slot (the caller's limit) is a limit error naming the field. */
    fw_expr *x;
    char err[256];
    fw_err rc = fw_expr_compile("zzz_unknown == 1", 16, &env, 0, &x, err, sizeof(err));
    assert_int_equal(rc, FW_ERR_LIMIT);
    assert_non_null(strstr(err, "extra field \"zzz_unknown\" refused"));
}

/* ---- limits ------------------------------------------------------------ */

static char *repeat(const char *open, int n, const char *mid, const char *close) {
    size_t len = strlen(open) * (size_t)n + strlen(mid) + strlen(close) * (size_t)n + 1;
    char *s = malloc(len);
    assert_non_null(s);
    s[0] = 0;
    for (int i = 0; i < n; i++)
        strcat(s, open);
    strcat(s, mid);
    for (int i = 0; i < n; i++)
        strcat(s, close);
    return s;
}

static void test_limits(void **state) {
    (void)state;
    static const struct {
        const char *open, *mid, *close;
        int n;
        fw_err rc;
    } cases[] = {
        { "(", "1", ")", 60, FW_OK },
        { "(", "1", ")", 64, FW_ERR_LIMIT },
        { "(", "1", ")", 30000, FW_ERR_LIMIT },
        { "not ", "true", "", 60, FW_OK },
        { "not ", "true", "", 100, FW_ERR_LIMIT },
        { "-", "1", "", 60, FW_OK },
        { "-", "1", "", 100, FW_ERR_LIMIT },
        { "abs(", "1", ")", 60, FW_OK },
        { "abs(", "1", ")", 100, FW_ERR_LIMIT },
        { "[", "1", "]", 3, FW_ERR_INVALID },
    };
    for (size_t i = 0; i < N(cases); i++) {
        char *s = repeat(cases[i].open, cases[i].n, cases[i].mid, cases[i].close);
        fw_expr *x = NULL;
        char err[256] = "";
        fw_err rc = fw_expr_compile(s, strlen(s), &env, 0, &x, err, sizeof(err));
        if (rc != cases[i].rc)
            fail_msg("%d x \"%s\": rc %d (%s), expected %d", cases[i].n, cases[i].open, rc, err,
                     cases[i].rc);
        if (rc == FW_ERR_LIMIT && !strstr(err, "nested deeper than 64"))
            fail_msg("%d x \"%s\": \"%s\" does not name the limit", cases[i].n, cases[i].open, err);
        fw_expr_destroy(x);
        free(s);
    }
    /* A long flat chain is fine up to the node limit, then refused. */
    for (int terms = 100; terms <= 4000; terms += 3900) {
        size_t cap = (size_t)terms * 20 + 1;
        char *s = malloc(cap);
        assert_non_null(s);
        s[0] = 0;
        for (int i = 0; i < terms; i++)
            strcat(s, i ? " or amount > 1" : "amount > 1");
        fw_expr *x = NULL;
        char err[256] = "";
        fw_err rc = fw_expr_compile(s, strlen(s), &env, FW_XT_BOOL, &x, err, sizeof(err));
        if (terms == 100) {
            assert_int_equal(rc, FW_OK);
            world w;
            world_init(&w);
            assert_true(fw_expr_test(x, &w.ctx));
        } else {
            assert_int_equal(rc, FW_ERR_LIMIT);
            assert_non_null(strstr(err, "more than 4096 nodes"));
        }
        fw_expr_destroy(x);
        free(s);
    }
    /* Too long a source. */
    size_t big = FW_EXPR_MAX_LEN + 1;
    char *s = malloc(big);
    assert_non_null(s);
    memset(s, ' ', big);
    fw_expr *x;
    char err[128];
    assert_int_equal(fw_expr_compile(s, big, &env, 0, &x, err, sizeof(err)), FW_ERR_LIMIT);
    free(s);
    /* A tiny error buffer is still a terminated string. */
    char tiny[8];
    assert_int_equal(fw_expr_compile("ammount", 7, &env, 0, &x, tiny, sizeof(tiny)), FW_ERR_INVALID);
    assert_int_equal(strlen(tiny), 7);
}

/* ---- compile-time work and introspection ----------------------------- */

static void test_folding(void **state) {
    (void)state;
    static const char *const folded[] = { "1 + 2 * 3", "0.1 + 0.2 == 0.3", "-1h", "abs(-2)",
                                          "lower(\"A\") == \"a\"", "\"x\" in [\"x\", \"y\"]",
                                          "not (1 > 2)", "$limit * 2" };
    for (size_t i = 0; i < N(folded); i++) {
        fw_expr *x = compile_ok(folded[i], &env, FW_XT_MISSING);
        if (x->node[x->root].op != XOP_CONST)
            fail_msg("\"%s\" not folded: root op %d", folded[i], x->node[x->root].op);
        fw_expr_destroy(x);
    }
    fw_expr *x = compile_ok("amount > 1 + 1", &env, FW_XT_BOOL);
    assert_int_equal(x->node[x->root].op, XOP_CMP);
    assert_int_equal(x->node[x->node[x->root].b].op, XOP_CONST);
    fw_expr_destroy(x);
}

static void test_uses(void **state) {
    (void)state;
    fw_expr *x = compile_ok("amount > $limit and prev.country != country and device_id == \"x\" "
                            "and is_new(ip, 30d) and profile.avg_amount > 1 "
                            "and account_id in list(\"blocked\") and is_new(card_id, 1h) "
                            "and sum > 1 and ip != \"y\"",
                            &env, FW_XT_BOOL);
    fw_expr_uses u;
    fw_expr_uses_get(x, &u);
    uint64_t want = 1ull << fw_txn_field_index("amount", 6) | 1ull << fw_txn_field_index("country", 7) |
                    1ull << fw_txn_field_index("account_id", 10) |
                    1ull << fw_txn_field_index("card_id", 7);
    assert_int_equal(u.fields, want);
    assert_int_equal(u.prev_fields, 1ull << fw_txn_field_index("country", 7));
    assert_int_equal(u.profile, FW_EXPR_PROFILE_AVG_AMOUNT);
    assert_int_equal(u.nextra, 2);
    assert_int_equal(fw_expr_extra_slot(x, 0), 0); /* device_id */
    assert_int_equal(fw_expr_extra_slot(x, 1), 1); /* ip, once */
    assert_int_equal(fw_expr_extra_slot(x, 2), -1);
    assert_int_equal(u.nslots, 2);
    assert_int_equal(u.nlists, 1);
    assert_int_equal(u.nis_new, 2);
    fw_expr_is_new_site s;
    fw_expr_is_new_get(x, 0, &s);
    assert_int_equal(s.field, -1);
    assert_int_equal(s.extra_slot, 1);
    assert_int_equal(s.lookback_ms, 30LL * 86400000);
    fw_expr_is_new_get(x, 1, &s);
    assert_int_equal(s.field, fw_txn_field_index("card_id", 7));
    assert_int_equal(s.extra_slot, -1);
    assert_int_equal(s.lookback_ms, 3600000);
    assert_int_equal(fw_expr_type(x), FW_XT_BOOL);
    fw_expr_destroy(x);

    /* prev is kept only when read. */
    x = compile_ok("amount > 1", &env, FW_XT_BOOL);
    fw_expr_uses_get(x, &u);
    assert_int_equal(u.prev_fields, 0);
    assert_int_equal(u.nextra, 0);
    fw_expr_destroy(x);
    x = compile_ok("speed_kmh(prev, this) > 900", &env, FW_XT_BOOL);
    fw_expr_uses_get(x, &u);
    assert_true(u.prev_fields != 0);
    fw_expr_destroy(x);
    x = compile_ok("device_id", &env, FW_XT_MISSING);
    assert_int_equal(fw_expr_type(x), FW_XT_ANY);
    fw_expr_destroy(x);
    fw_expr_destroy(NULL);
}

/* Every schema field is a name of the language, with its type. */
static void test_every_field(void **state) {
    (void)state;
    world w;
    world_init(&w);
    for (int f = 0; f < FW_TXN_NFIELDS; f++) {
        char src[128];
        snprintf(src, sizeof(src), "%s is missing or prev.%s is not missing", fw_txn_field_name(f),
                 fw_txn_field_name(f));
        fw_expr *x = compile_ok(src, &env, FW_XT_BOOL);
        fw_expr_uses u;
        fw_expr_uses_get(x, &u);
        if (u.fields != 1ull << f || u.prev_fields != 1ull << f)
            fail_msg("%s: uses %llx / %llx, expected bit %d", src, (unsigned long long)u.fields,
                     (unsigned long long)u.prev_fields, f);
        (void)fw_expr_test(x, &w.ctx);
        fw_expr_destroy(x);
    }
}

/* A figure for the docs, not asserted: ns per evaluation of a typical filter. */
static void test_timing(void **state) {
    (void)state;
    world w;
    world_init(&w);
    fw_expr *x = compile_ok("amount > 2000 and merchant_category in [\"crypto\", \"gambling\", "
                            "\"Crypto\", \"wire\"] and country != \"US\"",
                            &env, FW_XT_BOOL);
    const int n = 2000000;
    int hits = 0;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < n; i++) {
        w.txn.amount_raw = i & 1 ? FW_STR_LIT("2500.50") : FW_STR_LIT("12.5");
        hits += fw_expr_test(x, &w.ctx);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / n;
    assert_int_equal(hits, n / 2);
    printf("timing: %.1f ns per evaluation of a typical filter (%d evaluations)\n", ns, n);
    fw_expr_destroy(x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eval),          cmocka_unit_test(test_eval_bare),
        cmocka_unit_test(test_short_circuit), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_strict_env),    cmocka_unit_test(test_limits),
        cmocka_unit_test(test_folding),       cmocka_unit_test(test_uses),
        cmocka_unit_test(test_every_field),   cmocka_unit_test(test_timing),
        cmocka_unit_test(test_type_shortcut), cmocka_unit_test(test_fast_equals_general),
        cmocka_unit_test(test_flat_equals_recursive),
        cmocka_unit_test(test_eval_inline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
