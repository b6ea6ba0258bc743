/* test_detect.c — every rule, table-driven, with time driven explicitly.
 * A case is an optional rule-set tweak, transactions fed in the listed
 * (arrival) order, then fw_engine_advance(INT64_MAX) to release everything,
 * and the alerts that must come out (rule, entity, evidence ids in order),
 * with the late, behind-the-watermark and deduplicated counts. Cases marked
 * `reorder` must give the same alerts for every arrival order that stays
 * within the out-of-orderness bound; every case must leave no state behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "detect.h"
#include "engine.h"

/* 2024-01-01T00:00:00Z: aligned to every window slide used here. Times in
 * the tables are offsets from it. */
#define T0 1704067200000LL
#define SEC(x) ((int64_t)((x) * 1000.0))
#define MINS(x) ((int64_t)((x) * 60000.0))
#define HOURS(x) ((int64_t)((x) * 3600000.0))

#define MAX_TX 32
#define MAX_WANT 6
#define MAX_GOT 32
#define LINE 512

#define PARIS .geo = true, .lat = 48.8566, .lon = 2.3522
#define NEW_YORK .geo = true, .lat = 40.7128, .lon = -74.0060
#define BRUSSELS .geo = true, .lat = 50.8503, .lon = 4.3517
#define LOS_ANGELES .geo = true, .lat = 34.0522, .lon = -118.2437
#define NEWARK .geo = true, .lat = 40.7357, .lon = -74.1724

/* A transfer of @p amt from account @p from to account @p to. */
#define TR(i, t, from, to, amt)                                                                \
    { .id = (i), .ts = (t), .account = (from), .counterparty = (to), .type = FW_TXN_TRANSFER,  \
      .amount = (amt) }
#define WD(i, t, from, amt)                                                                    \
    { .id = (i), .ts = (t), .account = (from), .type = FW_TXN_WITHDRAWAL, .amount = (amt) }

typedef struct tx_spec {
    const char *id;          /* NULL ends the list */
    int64_t ts;              /* ms after T0 */
    const char *account, *card, *customer, *counterparty;
    fw_txn_type type;
    double amount;
    const char *country;
    bool geo;                /* lat and lon present */
    double lat, lon;
    const char *merchant;
} tx_spec;

typedef struct want_alert {
    fw_rule_id rule;
    const char *entity_type; /* NULL ends the list */
    const char *entity_id;
    const char *evidence;    /* transaction ids in order, space-separated */
} want_alert;

#define ALERT(r, type, id, ev)                                                                 \
    { .rule = FW_RULE_##r, .entity_type = (type), .entity_id = (id), .evidence = (ev) }

typedef struct detect_case {
    const char *name;
    void (*tweak)(fw_rules *r);  /* applied to the defaults; NULL: defaults */
    tx_spec tx[MAX_TX];
    want_alert want[MAX_WANT];   /* compared as a multiset */
    const char *late;            /* ids reported late, in arrival order; NULL: none */
    uint64_t behind;             /* stats.behind_watermark */
    uint64_t deduplicated;       /* stats.deduplicated summed over the rules */
    uint64_t entity_overflows;   /* state stats */
    bool reorder;                /* every bounded reordering gives the same result */
} detect_case;

/* ---- rule-set tweaks ---- */

static void risk_merchants_tip(fw_rules *r) {
    r->risk_score.alert_at = 45;                       /* 4 large (40) + merchants (5) */
    r->common[FW_RULE_RAPID_SMALL].enabled = false;    /* the small ones are 1 min apart */
}

static void no_rapid_small(fw_rules *r) { r->common[FW_RULE_RAPID_SMALL].enabled = false; }

static void two_entities(fw_rules *r) { r->limits.max_entities = 2; }

/* ---- high_amount: stateless, judged on arrival ---- */

static const detect_case high_amount_cases[] = {
    { .name = "above the limit alerts on the account (before card and customer)",
      .tx = { { .id = "h1", .ts = 0, .account = "A1", .card = "K1", .customer = "C1",
                .amount = 5000.01 } },
      .want = { ALERT(HIGH_AMOUNT, "account", "A1", "h1") } },
    { .name = "exactly the limit is silent",
      .tx = { { .id = "h1", .ts = 0, .account = "A1", .amount = 5000 } } },
    { .name = "just below the limit is silent",
      .tx = { { .id = "h1", .ts = 0, .account = "A1", .amount = 4999.99 } } },
    { .name = "a huge amount alerts",
      .tx = { { .id = "h1", .ts = 0, .account = "A1", .amount = 1e9 } },
      .want = { ALERT(HIGH_AMOUNT, "account", "A1", "h1") } },
    { .name = "no account: the card",
      .tx = { { .id = "h1", .ts = 0, .card = "K1", .customer = "C1", .amount = 6000 } },
      .want = { ALERT(HIGH_AMOUNT, "card", "K1", "h1") } },
    { .name = "no account or card: the customer",
      .tx = { { .id = "h1", .ts = 0, .customer = "C1", .amount = 6000 } },
      .want = { ALERT(HIGH_AMOUNT, "customer", "C1", "h1") } },
    { .name = "no ids: the transaction itself",
      .tx = { { .id = "h1", .ts = 0, .amount = 6000 } },
      .want = { ALERT(HIGH_AMOUNT, "transaction", "h1", "h1") } },
    { .name = "no dedupe: two within a minute give two alerts",
      .tx = { { .id = "h1", .ts = 0, .account = "A1", .amount = 6000 },
               { .id = "h2", .ts = MINS(1), .account = "A1", .amount = 7000 } },
      .want = { ALERT(HIGH_AMOUNT, "account", "A1", "h1"),
                ALERT(HIGH_AMOUNT, "account", "A1", "h2") } },
    { .name = "fires on a late arrival too",
      .tx = { { .id = "h1", .ts = 0, .account = "A1", .amount = 100 },
               { .id = "x1", .ts = MINS(10), .account = "A2", .amount = 100 },
               { .id = "h2", .ts = MINS(1), .account = "A1", .amount = 6000 } },
      .want = { ALERT(HIGH_AMOUNT, "account", "A1", "h2") },
      .late = "h2" },
    { .name = "within 10 s, any arrival order: two on one account, none on another",
      .tx = { { .id = "h1", .ts = 0, .account = "A1", .amount = 6000 },
               { .id = "h2", .ts = SEC(4), .account = "A1", .amount = 7000 },
               { .id = "h3", .ts = SEC(8), .account = "A2", .amount = 100 } },
      .want = { ALERT(HIGH_AMOUNT, "account", "A1", "h1"),
                ALERT(HIGH_AMOUNT, "account", "A1", "h2") },
      .reorder = true },
};

/* ---- velocity: >= 3 above 1000 per account in an aligned 30 min window sliding 5 min ---- */

static const detect_case velocity_cases[] = {
    { .name = "three above 1000 within one window",
      .tx = { { .id = "v1", .ts = 0, .account = "A1", .amount = 1500 },
               { .id = "v2", .ts = MINS(1), .account = "A1", .amount = 1500 },
               { .id = "v3", .ts = MINS(2), .account = "A1", .amount = 1500 } },
      .want = { ALERT(VELOCITY, "account", "A1", "v1 v2 v3") } },
    { .name = "two are not enough",
      .tx = { { .id = "v1", .ts = 0, .account = "A1", .amount = 1500 },
               { .id = "v2", .ts = MINS(1), .account = "A1", .amount = 1500 } } },
    { .name = "1000 exactly does not count",
      .tx = { { .id = "v1", .ts = 0, .account = "A1", .amount = 1500 },
               { .id = "v2", .ts = MINS(1), .account = "A1", .amount = 1000 },
               { .id = "v3", .ts = MINS(2), .account = "A1", .amount = 1500 } } },
    { .name = "1000.01 counts",
      .tx = { { .id = "v1", .ts = 0, .account = "A1", .amount = 1500 },
               { .id = "v2", .ts = MINS(1), .account = "A1", .amount = 1000.01 },
               { .id = "v3", .ts = MINS(2), .account = "A1", .amount = 1500 } },
      .want = { ALERT(VELOCITY, "account", "A1", "v1 v2 v3") } },
    { .name = "three spread over more than 30 minutes",
      .tx = { { .id = "v1", .ts = 0, .account = "A1", .amount = 1500 },
               { .id = "v2", .ts = MINS(15), .account = "A1", .amount = 1500 },
               { .id = "v3", .ts = MINS(31), .account = "A1", .amount = 1500 } } },
    { .name = "three within 29 minutes that no aligned window holds",
      .tx = { { .id = "v1", .ts = MINS(4), .account = "A1", .amount = 1500 },
               { .id = "v2", .ts = MINS(20), .account = "A1", .amount = 1500 },
               { .id = "v3", .ts = MINS(33), .account = "A1", .amount = 1500 } } },
    { .name = "three at both edges of the window [5 min, 35 min)",
      .tx = { { .id = "v1", .ts = MINS(5), .account = "A1", .amount = 1500 },
               { .id = "v2", .ts = MINS(20), .account = "A1", .amount = 1500 },
               { .id = "v3", .ts = MINS(35) - 1, .account = "A1", .amount = 1500 } },
      .want = { ALERT(VELOCITY, "account", "A1", "v1 v2 v3") } },
    { .name = "the window end is exclusive: exactly 30 minutes apart",
      .tx = { { .id = "v1", .ts = MINS(5), .account = "A1", .amount = 1500 },
               { .id = "v2", .ts = MINS(20), .account = "A1", .amount = 1500 },
               { .id = "v3", .ts = MINS(35), .account = "A1", .amount = 1500 } } },
    { .name = "evidence is the qualifying transactions only",
      .tx = { { .id = "v1", .ts = 0, .account = "A1", .amount = 1500 },
               { .id = "x1", .ts = MINS(1), .account = "A1", .amount = 500 },
               { .id = "v2", .ts = MINS(2), .account = "A1", .amount = 1500 },
               { .id = "v3", .ts = MINS(3), .account = "A1", .amount = 1500 } },
      .want = { ALERT(VELOCITY, "account", "A1", "v1 v2 v3") } },
    { .name = "evidence is the earliest window's; the next one is folded",
      .tx = { { .id = "v0", .ts = MINS(-24), .account = "A1", .amount = 1500 },
               { .id = "v1", .ts = MINS(1), .account = "A1", .amount = 1500 },
               { .id = "v2", .ts = MINS(2), .account = "A1", .amount = 1500 },
               { .id = "v3", .ts = MINS(3), .account = "A1", .amount = 1500 } },
      .want = { ALERT(VELOCITY, "account", "A1", "v0 v1 v2") },
      .deduplicated = 1 },
    { .name = "accounts are separate",
      .tx = { { .id = "v1", .ts = 0, .account = "A1", .amount = 1500 },
               { .id = "v2", .ts = MINS(1), .account = "A2", .amount = 1500 },
               { .id = "v3", .ts = MINS(2), .account = "A1", .amount = 1500 } } },
    { .name = "behind the watermark: the window end stays exclusive",
      .tx = { { .id = "v1", .ts = MINS(5), .account = "A1", .amount = 1500 },
               { .id = "v3", .ts = MINS(35), .account = "A1", .amount = 1500 },
               { .id = "x1", .ts = MINS(35) + SEC(20), .account = "A2", .amount = 100 },
               { .id = "v2", .ts = MINS(34), .account = "A1", .amount = 1500 } },
      .behind = 1 },
    { .name = "behind the watermark, within the lateness: applied",
      .tx = { { .id = "v1", .ts = 0, .account = "A1", .amount = 1500 },
               { .id = "v2", .ts = MINS(1), .account = "A1", .amount = 1500 },
               { .id = "x1", .ts = MINS(3), .account = "A2", .amount = 100 },
               { .id = "v3", .ts = MINS(2), .account = "A1", .amount = 1500 } },
      .want = { ALERT(VELOCITY, "account", "A1", "v1 v2 v3") },
      .behind = 1 },
    { .name = "within 10 s, any arrival order: three of four qualify",
      .tx = { { .id = "v1", .ts = 0, .account = "A1", .amount = 1500 },
               { .id = "x1", .ts = SEC(2), .account = "A1", .amount = 1000 },
               { .id = "v2", .ts = SEC(5), .account = "A1", .amount = 2000 },
               { .id = "v3", .ts = SEC(9), .account = "A1", .amount = 1500 } },
      .want = { ALERT(VELOCITY, "account", "A1", "v1 v2 v3") },
      .reorder = true },
    { .name = "within 10 s, any arrival order: two per account are not enough",
      .tx = { { .id = "v1", .ts = 0, .account = "A1", .amount = 1500 },
               { .id = "v2", .ts = SEC(3), .account = "A2", .amount = 1500 },
               { .id = "v3", .ts = SEC(6), .account = "A1", .amount = 1500 },
               { .id = "v4", .ts = SEC(9), .account = "A2", .amount = 1500 } },
      .reorder = true },
};

/* ---- small_then_large: a card's txn < 10, its NEXT one > 1000, < 5 min later ---- */

static const detect_case small_then_large_cases[] = {
    { .name = "small then large one minute later",
      .tx = { { .id = "s1", .ts = 0, .card = "K1", .amount = 5 },
               { .id = "s2", .ts = MINS(1), .card = "K1", .amount = 1500 } },
      .want = { ALERT(SMALL_THEN_LARGE, "card", "K1", "s1 s2") } },
    { .name = "exactly 5 minutes apart",
      .tx = { { .id = "s1", .ts = 0, .card = "K1", .amount = 5 },
               { .id = "s2", .ts = MINS(5), .card = "K1", .amount = 1500 } } },
    { .name = "1 ms under 5 minutes",
      .tx = { { .id = "s1", .ts = 0, .card = "K1", .amount = 5 },
               { .id = "s2", .ts = MINS(5) - 1, .card = "K1", .amount = 1500 } },
      .want = { ALERT(SMALL_THEN_LARGE, "card", "K1", "s1 s2") } },
    { .name = "10 exactly is not small",
      .tx = { { .id = "s1", .ts = 0, .card = "K1", .amount = 10 },
               { .id = "s2", .ts = MINS(1), .card = "K1", .amount = 1500 } } },
    { .name = "9.99 is small",
      .tx = { { .id = "s1", .ts = 0, .card = "K1", .amount = 9.99 },
               { .id = "s2", .ts = MINS(1), .card = "K1", .amount = 1500 } },
      .want = { ALERT(SMALL_THEN_LARGE, "card", "K1", "s1 s2") } },
    { .name = "1000 exactly is not large",
      .tx = { { .id = "s1", .ts = 0, .card = "K1", .amount = 5 },
               { .id = "s2", .ts = MINS(1), .card = "K1", .amount = 1000 } } },
    { .name = "an intervening transaction on the card breaks it",
      .tx = { { .id = "s1", .ts = 0, .card = "K1", .amount = 5 },
               { .id = "s2", .ts = MINS(1), .card = "K1", .amount = 50 },
               { .id = "s3", .ts = MINS(2), .card = "K1", .amount = 1500 } } },
    { .name = "a transaction on another card does not break it",
      .tx = { { .id = "s1", .ts = 0, .card = "K1", .amount = 5 },
               { .id = "s2", .ts = MINS(1), .card = "K2", .amount = 50 },
               { .id = "s3", .ts = MINS(2), .card = "K1", .amount = 1500 } },
      .want = { ALERT(SMALL_THEN_LARGE, "card", "K1", "s1 s3") } },
    { .name = "behind the watermark: skipped",
      .tx = { { .id = "s1", .ts = 0, .card = "K1", .amount = 5 },
               { .id = "x1", .ts = MINS(2), .card = "K2", .amount = 100 },
               { .id = "s2", .ts = MINS(1), .card = "K1", .amount = 1500 } },
      .behind = 1 },
    { .name = "behind the watermark: skipped, so it does not break the sequence either",
      .tx = { { .id = "s1", .ts = 0, .card = "K1", .amount = 5 },
               { .id = "x1", .ts = MINS(2), .card = "K2", .amount = 100 },
               { .id = "s2", .ts = MINS(1), .card = "K1", .amount = 500 },
               { .id = "s3", .ts = MINS(3), .card = "K1", .amount = 1500 } },
      .want = { ALERT(SMALL_THEN_LARGE, "card", "K1", "s1 s3") },
      .behind = 1 },
    { .name = "within 10 s, any arrival order: one pair among others",
      .tx = { { .id = "s1", .ts = 0, .card = "K1", .amount = 5 },
               { .id = "x1", .ts = SEC(3), .card = "K2", .amount = 50 },
               { .id = "s2", .ts = SEC(6), .card = "K1", .amount = 1500 },
               { .id = "s3", .ts = SEC(7), .card = "K1", .amount = 9 },
               { .id = "s4", .ts = SEC(8), .card = "K1", .amount = 20 },
               { .id = "s5", .ts = SEC(9), .card = "K1", .amount = 2000 } },
      .want = { ALERT(SMALL_THEN_LARGE, "card", "K1", "s1 s2") },
      .reorder = true },
    { .name = "within 10 s, any arrival order: an intervening transaction breaks it",
      .tx = { { .id = "s1", .ts = 0, .card = "K1", .amount = 5 },
               { .id = "s2", .ts = SEC(4), .card = "K1", .amount = 50 },
               { .id = "s3", .ts = SEC(8), .card = "K1", .amount = 1500 } },
      .reorder = true },
};

/* ---- rapid_small: 5 consecutive < 50 per customer, first to last < 10 min ---- */

static const detect_case rapid_small_cases[] = {
    { .name = "five below 50 within 4 minutes",
      .tx = { { .id = "r1", .ts = 0, .customer = "C1", .amount = 10 },
               { .id = "r2", .ts = MINS(1), .customer = "C1", .amount = 10 },
               { .id = "r3", .ts = MINS(2), .customer = "C1", .amount = 10 },
               { .id = "r4", .ts = MINS(3), .customer = "C1", .amount = 10 },
               { .id = "r5", .ts = MINS(4), .customer = "C1", .amount = 10 } },
      .want = { ALERT(RAPID_SMALL, "customer", "C1", "r1 r2 r3 r4 r5") } },
    { .name = "four are not enough",
      .tx = { { .id = "r1", .ts = 0, .customer = "C1", .amount = 10 },
               { .id = "r2", .ts = MINS(1), .customer = "C1", .amount = 10 },
               { .id = "r3", .ts = MINS(2), .customer = "C1", .amount = 10 },
               { .id = "r4", .ts = MINS(3), .customer = "C1", .amount = 10 } } },
    { .name = "first to last exactly 10 minutes",
      .tx = { { .id = "r1", .ts = 0, .customer = "C1", .amount = 10 },
               { .id = "r2", .ts = MINS(2.5), .customer = "C1", .amount = 10 },
               { .id = "r3", .ts = MINS(5), .customer = "C1", .amount = 10 },
               { .id = "r4", .ts = MINS(7.5), .customer = "C1", .amount = 10 },
               { .id = "r5", .ts = MINS(10), .customer = "C1", .amount = 10 } } },
    { .name = "first to last 1 ms under 10 minutes",
      .tx = { { .id = "r1", .ts = 0, .customer = "C1", .amount = 10 },
               { .id = "r2", .ts = MINS(2.5), .customer = "C1", .amount = 10 },
               { .id = "r3", .ts = MINS(5), .customer = "C1", .amount = 10 },
               { .id = "r4", .ts = MINS(7.5), .customer = "C1", .amount = 10 },
               { .id = "r5", .ts = MINS(10) - 1, .customer = "C1", .amount = 10 } },
      .want = { ALERT(RAPID_SMALL, "customer", "C1", "r1 r2 r3 r4 r5") } },
    { .name = "49.99 is small",
      .tx = { { .id = "r1", .ts = 0, .customer = "C1", .amount = 49.99 },
               { .id = "r2", .ts = MINS(1), .customer = "C1", .amount = 49.99 },
               { .id = "r3", .ts = MINS(2), .customer = "C1", .amount = 49.99 },
               { .id = "r4", .ts = MINS(3), .customer = "C1", .amount = 49.99 },
               { .id = "r5", .ts = MINS(4), .customer = "C1", .amount = 49.99 } },
      .want = { ALERT(RAPID_SMALL, "customer", "C1", "r1 r2 r3 r4 r5") } },
    { .name = "a purchase of 50 breaks the run",
      .tx = { { .id = "r1", .ts = 0, .customer = "C1", .amount = 10 },
               { .id = "r2", .ts = MINS(1), .customer = "C1", .amount = 10 },
               { .id = "x1", .ts = MINS(2), .customer = "C1", .type = FW_TXN_PURCHASE,
                 .amount = 50 },
               { .id = "r3", .ts = MINS(3), .customer = "C1", .amount = 10 },
               { .id = "r4", .ts = MINS(4), .customer = "C1", .amount = 10 },
               { .id = "r5", .ts = MINS(5), .customer = "C1", .amount = 10 },
               { .id = "r6", .ts = MINS(6), .customer = "C1", .amount = 10 } } },
    { .name = "LOGIN and PASSWORD_CHANGE neither count nor break",
      .tx = { { .id = "r1", .ts = 0, .customer = "C1", .amount = 10 },
               { .id = "r2", .ts = MINS(1), .customer = "C1", .amount = 10 },
               { .id = "l1", .ts = MINS(2), .customer = "C1", .type = FW_TXN_LOGIN },
               { .id = "r3", .ts = MINS(3), .customer = "C1", .amount = 10 },
               { .id = "p1", .ts = MINS(4), .customer = "C1", .type = FW_TXN_PASSWORD_CHANGE },
               { .id = "r4", .ts = MINS(5), .customer = "C1", .amount = 10 },
               { .id = "r5", .ts = MINS(6), .customer = "C1", .amount = 10 } },
      .want = { ALERT(RAPID_SMALL, "customer", "C1", "r1 r2 r3 r4 r5") } },
    { .name = "LOGIN and PASSWORD_CHANGE do not make up a fifth",
      .tx = { { .id = "r1", .ts = 0, .customer = "C1", .amount = 10 },
               { .id = "r2", .ts = MINS(1), .customer = "C1", .amount = 10 },
               { .id = "l1", .ts = MINS(2), .customer = "C1", .type = FW_TXN_LOGIN },
               { .id = "r3", .ts = MINS(3), .customer = "C1", .amount = 10 },
               { .id = "p1", .ts = MINS(4), .customer = "C1", .type = FW_TXN_PASSWORD_CHANGE },
               { .id = "r4", .ts = MINS(5), .customer = "C1", .amount = 10 } } },
    { .name = "a sixth within 5 minutes of the alert is folded",
      .tx = { { .id = "r1", .ts = 0, .customer = "C1", .amount = 10 },
               { .id = "r2", .ts = MINS(1), .customer = "C1", .amount = 10 },
               { .id = "r3", .ts = MINS(2), .customer = "C1", .amount = 10 },
               { .id = "r4", .ts = MINS(3), .customer = "C1", .amount = 10 },
               { .id = "r5", .ts = MINS(4), .customer = "C1", .amount = 10 },
               { .id = "r6", .ts = MINS(5), .customer = "C1", .amount = 10 } },
      .want = { ALERT(RAPID_SMALL, "customer", "C1", "r1 r2 r3 r4 r5") },
      .deduplicated = 1 },
    { .name = "the run slides: the last five within 10 minutes",
      .tx = { { .id = "r1", .ts = 0, .customer = "C1", .amount = 10 },
               { .id = "r2", .ts = MINS(6), .customer = "C1", .amount = 10 },
               { .id = "r3", .ts = MINS(7), .customer = "C1", .amount = 10 },
               { .id = "r4", .ts = MINS(8), .customer = "C1", .amount = 10 },
               { .id = "r5", .ts = MINS(11), .customer = "C1", .amount = 10 },
               { .id = "r6", .ts = MINS(12), .customer = "C1", .amount = 10 } },
      .want = { ALERT(RAPID_SMALL, "customer", "C1", "r2 r3 r4 r5 r6") } },
    { .name = "customers are separate",
      .tx = { { .id = "r1", .ts = 0, .customer = "C1", .amount = 10 },
               { .id = "r2", .ts = MINS(1), .customer = "C2", .amount = 10 },
               { .id = "r3", .ts = MINS(2), .customer = "C1", .amount = 10 },
               { .id = "r4", .ts = MINS(3), .customer = "C2", .amount = 10 },
               { .id = "r5", .ts = MINS(4), .customer = "C1", .amount = 10 } } },
    { .name = "behind the watermark: skipped",
      .tx = { { .id = "r1", .ts = 0, .customer = "C1", .amount = 10 },
               { .id = "r2", .ts = MINS(1), .customer = "C1", .amount = 10 },
               { .id = "r3", .ts = MINS(2), .customer = "C1", .amount = 10 },
               { .id = "r4", .ts = MINS(3), .customer = "C1", .amount = 10 },
               { .id = "x1", .ts = MINS(6), .customer = "C2", .amount = 10 },
               { .id = "r5", .ts = MINS(4), .customer = "C1", .amount = 10 } },
      .behind = 1 },
    { .name = "within 10 s, any arrival order: five small around a LOGIN and a PASSWORD_CHANGE",
      .tx = { { .id = "r1", .ts = 0, .customer = "C1", .amount = 10 },
               { .id = "r2", .ts = SEC(1.5), .customer = "C1", .amount = 10 },
               { .id = "l1", .ts = SEC(3), .customer = "C1", .type = FW_TXN_LOGIN },
               { .id = "r3", .ts = SEC(4.5), .customer = "C1", .amount = 10 },
               { .id = "p1", .ts = SEC(6), .customer = "C1", .type = FW_TXN_PASSWORD_CHANGE },
               { .id = "r4", .ts = SEC(7.5), .customer = "C1", .amount = 10 },
               { .id = "r5", .ts = SEC(9), .customer = "C1", .amount = 10 } },
      .want = { ALERT(RAPID_SMALL, "customer", "C1", "r1 r2 r3 r4 r5") },
      .reorder = true },
    { .name = "within 10 s, any arrival order: a purchase of 50 breaks the run",
      .tx = { { .id = "r1", .ts = 0, .customer = "C1", .amount = 10 },
               { .id = "r2", .ts = SEC(1.5), .customer = "C1", .amount = 10 },
               { .id = "r3", .ts = SEC(3), .customer = "C1", .amount = 10 },
               { .id = "x1", .ts = SEC(4.5), .customer = "C1", .type = FW_TXN_PURCHASE,
                 .amount = 50 },
               { .id = "r4", .ts = SEC(6), .customer = "C1", .amount = 10 },
               { .id = "r5", .ts = SEC(7.5), .customer = "C1", .amount = 10 },
               { .id = "r6", .ts = SEC(9), .customer = "C1", .amount = 10 } },
      .reorder = true },
};

/* ---- location_jump: consecutive txns in two countries < 1 h apart (> 900 km/h) ---- */

static const detect_case location_jump_cases[] = {
    { .name = "two countries 30 minutes apart, no coordinates",
      .tx = { { .id = "l1", .ts = 0, .customer = "C1", .amount = 100, .country = "FR" },
               { .id = "l2", .ts = MINS(30), .customer = "C1", .amount = 100, .country = "US" } },
      .want = { ALERT(LOCATION_JUMP, "customer", "C1", "l1 l2") } },
    { .name = "exactly one hour apart",
      .tx = { { .id = "l1", .ts = 0, .customer = "C1", .amount = 100, .country = "FR" },
               { .id = "l2", .ts = HOURS(1), .customer = "C1", .amount = 100, .country = "US" } } },
    { .name = "1 ms under one hour",
      .tx = { { .id = "l1", .ts = 0, .customer = "C1", .amount = 100, .country = "FR" },
               { .id = "l2", .ts = HOURS(1) - 1, .customer = "C1", .amount = 100,
                 .country = "US" } },
      .want = { ALERT(LOCATION_JUMP, "customer", "C1", "l1 l2") } },
    { .name = "impossible travel within one country: New York, then Los Angeles 30 min later",
      .tx = { { .id = "l1", .ts = 0, .customer = "C1", .amount = 100, .country = "US", NEW_YORK },
               { .id = "l2", .ts = MINS(30), .customer = "C1", .amount = 100, .country = "US",
                 LOS_ANGELES } },
      .want = { ALERT(LOCATION_JUMP, "customer", "C1", "l1 l2") } },
    { .name = "one country, fast but under the minimum distance (New York, Newark)",
      .tx = { { .id = "l1", .ts = 0, .customer = "C1", .amount = 100, .country = "US", NEW_YORK },
               { .id = "l2", .ts = SEC(30), .customer = "C1", .amount = 100, .country = "US",
                 NEWARK } } },
    { .name = "one country, far but reachable (New York, Los Angeles 6 h later)",
      .tx = { { .id = "l1", .ts = 0, .customer = "C1", .amount = 100, .country = "US", NEW_YORK },
               { .id = "l2", .ts = HOURS(6), .customer = "C1", .amount = 100, .country = "US",
                 LOS_ANGELES } } },
    { .name = "same country",
      .tx = { { .id = "l1", .ts = 0, .customer = "C1", .amount = 100, .country = "FR" },
               { .id = "l2", .ts = MINS(1), .customer = "C1", .amount = 100, .country = "FR" } } },
    { .name = "a transaction without a country in between",
      .tx = { { .id = "l1", .ts = 0, .customer = "C1", .amount = 100, .country = "FR" },
               { .id = "l2", .ts = MINS(10), .customer = "C1", .amount = 100 },
               { .id = "l3", .ts = MINS(20), .customer = "C1", .amount = 100, .country = "US" } } },
    { .name = "consecutive: compared with the previous transaction, not the first",
      .tx = { { .id = "l1", .ts = 0, .customer = "C1", .amount = 100, .country = "FR" },
               { .id = "l2", .ts = MINS(50), .customer = "C1", .amount = 100, .country = "FR" },
               { .id = "l3", .ts = MINS(100), .customer = "C1", .amount = 100,
                 .country = "US" } },
      .want = { ALERT(LOCATION_JUMP, "customer", "C1", "l2 l3") } },
    { .name = "Paris to New York in 20 minutes",
      .tx = { { .id = "l1", .ts = 0, .customer = "C1", .amount = 100, .country = "FR", PARIS },
               { .id = "l2", .ts = MINS(20), .customer = "C1", .amount = 100, .country = "US",
                 NEW_YORK } },
      .want = { ALERT(LOCATION_JUMP, "customer", "C1", "l1 l2") } },
    { .name = "Paris to Brussels in 30 minutes: 528 km/h",
      .tx = { { .id = "l1", .ts = 0, .customer = "C1", .amount = 100, .country = "FR", PARIS },
               { .id = "l2", .ts = MINS(30), .customer = "C1", .amount = 100, .country = "BE",
                 BRUSSELS } } },
    { .name = "Paris to Brussels in 10 minutes: 1584 km/h",
      .tx = { { .id = "l1", .ts = 0, .customer = "C1", .amount = 100, .country = "FR", PARIS },
               { .id = "l2", .ts = MINS(10), .customer = "C1", .amount = 100, .country = "BE",
                 BRUSSELS } },
      .want = { ALERT(LOCATION_JUMP, "customer", "C1", "l1 l2") } },
    { .name = "coordinates on one side only: the time bound alone",
      .tx = { { .id = "l1", .ts = 0, .customer = "C1", .amount = 100, .country = "FR", PARIS },
               { .id = "l2", .ts = MINS(30), .customer = "C1", .amount = 100,
                 .country = "BE" } },
      .want = { ALERT(LOCATION_JUMP, "customer", "C1", "l1 l2") } },
    { .name = "behind the watermark: skipped",
      .tx = { { .id = "l1", .ts = 0, .customer = "C1", .amount = 100, .country = "FR" },
               { .id = "x1", .ts = MINS(2), .customer = "C2", .amount = 100, .country = "FR" },
               { .id = "l2", .ts = MINS(1), .customer = "C1", .amount = 100, .country = "US" } },
      .behind = 1 },
    { .name = "within 10 s, any arrival order: only the consecutive pair in two countries",
      .tx = { { .id = "l1", .ts = 0, .customer = "C1", .amount = 100, .country = "FR" },
               { .id = "l2", .ts = SEC(2), .customer = "C1", .amount = 100 },
               { .id = "l3", .ts = SEC(4), .customer = "C1", .amount = 100, .country = "US" },
               { .id = "l4", .ts = SEC(6), .customer = "C1", .amount = 100, .country = "US" },
               { .id = "l5", .ts = SEC(8), .customer = "C1", .amount = 100, .country = "DE" } },
      .want = { ALERT(LOCATION_JUMP, "customer", "C1", "l4 l5") },
      .reorder = true },
    { .name = "within 10 s, any arrival order: Paris to Brussels in 9 s",
      .tx = { { .id = "l1", .ts = 0, .customer = "C1", .amount = 100, .country = "FR", PARIS },
               { .id = "l2", .ts = SEC(9), .customer = "C1", .amount = 100, .country = "BE",
                 BRUSSELS } },
      .want = { ALERT(LOCATION_JUMP, "customer", "C1", "l1 l2") },
      .reorder = true },
};

/* ---- account_takeover: PASSWORD_CHANGE, then at once a WITHDRAWAL > 5000, < 30 min ---- */

static const detect_case account_takeover_cases[] = {
    { .name = "password change, then a 6000 withdrawal 10 minutes later",
      .tx = { { .id = "p1", .ts = 0, .customer = "C1", .type = FW_TXN_PASSWORD_CHANGE },
               { .id = "w1", .ts = MINS(10), .customer = "C1", .type = FW_TXN_WITHDRAWAL,
                 .amount = 6000 } },
      .want = { ALERT(ACCOUNT_TAKEOVER, "customer", "C1", "p1 w1"),
                ALERT(HIGH_AMOUNT, "customer", "C1", "w1") } },
    { .name = "a withdrawal of 5000 exactly",
      .tx = { { .id = "p1", .ts = 0, .customer = "C1", .type = FW_TXN_PASSWORD_CHANGE },
               { .id = "w1", .ts = MINS(10), .customer = "C1", .type = FW_TXN_WITHDRAWAL,
                 .amount = 5000 } } },
    { .name = "exactly 30 minutes later",
      .tx = { { .id = "p1", .ts = 0, .customer = "C1", .type = FW_TXN_PASSWORD_CHANGE },
               { .id = "w1", .ts = MINS(30), .customer = "C1", .type = FW_TXN_WITHDRAWAL,
                 .amount = 6000 } },
      .want = { ALERT(HIGH_AMOUNT, "customer", "C1", "w1") } },
    { .name = "1 ms under 30 minutes later",
      .tx = { { .id = "p1", .ts = 0, .customer = "C1", .type = FW_TXN_PASSWORD_CHANGE },
               { .id = "w1", .ts = MINS(30) - 1, .customer = "C1", .type = FW_TXN_WITHDRAWAL,
                 .amount = 6000 } },
      .want = { ALERT(ACCOUNT_TAKEOVER, "customer", "C1", "p1 w1"),
                ALERT(HIGH_AMOUNT, "customer", "C1", "w1") } },
    { .name = "a LOGIN in between breaks it",
      .tx = { { .id = "p1", .ts = 0, .customer = "C1", .type = FW_TXN_PASSWORD_CHANGE },
               { .id = "l1", .ts = MINS(5), .customer = "C1", .type = FW_TXN_LOGIN },
               { .id = "w1", .ts = MINS(10), .customer = "C1", .type = FW_TXN_WITHDRAWAL,
                 .amount = 6000 } },
      .want = { ALERT(HIGH_AMOUNT, "customer", "C1", "w1") } },
    { .name = "a transfer is not a withdrawal",
      .tx = { { .id = "p1", .ts = 0, .customer = "C1", .type = FW_TXN_PASSWORD_CHANGE },
               { .id = "t1", .ts = MINS(10), .customer = "C1", .type = FW_TXN_TRANSFER,
                 .amount = 6000 } },
      .want = { ALERT(HIGH_AMOUNT, "customer", "C1", "t1") } },
    { .name = "a withdrawal without a password change before it",
      .tx = { { .id = "d1", .ts = 0, .customer = "C1", .type = FW_TXN_PURCHASE, .amount = 100 },
               { .id = "w1", .ts = MINS(10), .customer = "C1", .type = FW_TXN_WITHDRAWAL,
                 .amount = 6000 } },
      .want = { ALERT(HIGH_AMOUNT, "customer", "C1", "w1") } },
    { .name = "another customer's password change",
      .tx = { { .id = "p1", .ts = 0, .customer = "C2", .type = FW_TXN_PASSWORD_CHANGE },
               { .id = "w1", .ts = MINS(10), .customer = "C1", .type = FW_TXN_WITHDRAWAL,
                 .amount = 6000 } },
      .want = { ALERT(HIGH_AMOUNT, "customer", "C1", "w1") } },
    { .name = "behind the watermark: skipped",
      .tx = { { .id = "p1", .ts = 0, .customer = "C1", .type = FW_TXN_PASSWORD_CHANGE },
               { .id = "x1", .ts = MINS(12), .customer = "C2", .type = FW_TXN_LOGIN },
               { .id = "w1", .ts = MINS(10), .customer = "C1", .type = FW_TXN_WITHDRAWAL,
                 .amount = 6000 } },
      .want = { ALERT(HIGH_AMOUNT, "customer", "C1", "w1") },
      .behind = 1 },
    { .name = "within 10 s, any arrival order: password change then withdrawal",
      .tx = { { .id = "p1", .ts = 0, .customer = "C1", .type = FW_TXN_PASSWORD_CHANGE },
               { .id = "w1", .ts = SEC(5), .customer = "C1", .type = FW_TXN_WITHDRAWAL,
                 .amount = 6000 } },
      .want = { ALERT(ACCOUNT_TAKEOVER, "customer", "C1", "p1 w1"),
                ALERT(HIGH_AMOUNT, "customer", "C1", "w1") },
      .reorder = true },
    { .name = "within 10 s, any arrival order: a LOGIN in between breaks it",
      .tx = { { .id = "p1", .ts = 0, .customer = "C1", .type = FW_TXN_PASSWORD_CHANGE },
               { .id = "l1", .ts = SEC(3), .customer = "C1", .type = FW_TXN_LOGIN },
               { .id = "w1", .ts = SEC(6), .customer = "C1", .type = FW_TXN_WITHDRAWAL,
                 .amount = 6000 } },
      .want = { ALERT(HIGH_AMOUNT, "customer", "C1", "w1") },
      .reorder = true },
};

/* ---- structuring: transfers < 10000 from A to B summing > 10000 over (ts-24h, ts] ---- */

#define XFER .account = "A1", .counterparty = "B1", .type = FW_TXN_TRANSFER

static const detect_case structuring_cases[] = {
    { .name = "three transfers of 4000 within 4 hours",
      .tx = { { .id = "s1", .ts = 0, XFER, .amount = 4000 },
               { .id = "s2", .ts = HOURS(2), XFER, .amount = 4000 },
               { .id = "s3", .ts = HOURS(4), XFER, .amount = 4000 } },
      .want = { ALERT(STRUCTURING, "account_pair", "A1->B1", "s1 s2 s3") } },
    { .name = "a sum of exactly 10000",
      .tx = { { .id = "s1", .ts = 0, XFER, .amount = 4000 },
               { .id = "s2", .ts = HOURS(2), XFER, .amount = 4000 },
               { .id = "s3", .ts = HOURS(4), XFER, .amount = 2000 } } },
    { .name = "a transfer of 10000 exactly is ignored",
      .tx = { { .id = "s1", .ts = 0, XFER, .amount = 10000 },
               { .id = "s2", .ts = HOURS(1), XFER, .amount = 1 } },
      .want = { ALERT(HIGH_AMOUNT, "account", "A1", "s1") } },
    { .name = "a transfer of 9999.99 counts",
      .tx = { { .id = "s1", .ts = 0, XFER, .amount = 9999.99 },
               { .id = "s2", .ts = HOURS(1), XFER, .amount = 0.02 } },
      .want = { ALERT(STRUCTURING, "account_pair", "A1->B1", "s1 s2"),
                ALERT(HIGH_AMOUNT, "account", "A1", "s1") } },
    { .name = "the window is (ts - 24 h, ts]: exactly 24 h drops the first",
      .tx = { { .id = "s1", .ts = 0, XFER, .amount = 4000 },
               { .id = "s2", .ts = HOURS(12), XFER, .amount = 4000 },
               { .id = "s3", .ts = HOURS(24), XFER, .amount = 4000 } } },
    { .name = "1 ms under 24 h keeps the first",
      .tx = { { .id = "s1", .ts = 0, XFER, .amount = 4000 },
               { .id = "s2", .ts = HOURS(12), XFER, .amount = 4000 },
               { .id = "s3", .ts = HOURS(24) - 1, XFER, .amount = 4000 } },
      .want = { ALERT(STRUCTURING, "account_pair", "A1->B1", "s1 s2 s3") } },
    { .name = "alerted transfers are consumed: a later one alone does not re-alert",
      .tx = { { .id = "s1", .ts = 0, XFER, .amount = 4000 },
               { .id = "s2", .ts = HOURS(2), XFER, .amount = 4000 },
               { .id = "s3", .ts = HOURS(4), XFER, .amount = 4000 },
               { .id = "s4", .ts = HOURS(6), XFER, .amount = 4000 } },
      .want = { ALERT(STRUCTURING, "account_pair", "A1->B1", "s1 s2 s3") } },
    { .name = "after consumption, new transfers above the total alert again",
      .tx = { { .id = "s1", .ts = 0, XFER, .amount = 4000 },
               { .id = "s2", .ts = HOURS(2), XFER, .amount = 4000 },
               { .id = "s3", .ts = HOURS(4), XFER, .amount = 4000 },
               { .id = "s4", .ts = HOURS(6), XFER, .amount = 4000 },
               { .id = "s5", .ts = HOURS(8), XFER, .amount = 4000 },
               { .id = "s6", .ts = HOURS(10), XFER, .amount = 4000 } },
      .want = { ALERT(STRUCTURING, "account_pair", "A1->B1", "s1 s2 s3"),
                ALERT(STRUCTURING, "account_pair", "A1->B1", "s4 s5 s6") } },
    { .name = "counterparties are separate",
      .tx = { { .id = "s1", .ts = 0, XFER, .amount = 4000 },
               { .id = "s2", .ts = HOURS(1), .account = "A1", .counterparty = "B2",
                 .type = FW_TXN_TRANSFER, .amount = 4000 },
               { .id = "s3", .ts = HOURS(2), XFER, .amount = 4000 },
               { .id = "s4", .ts = HOURS(3), .account = "A1", .counterparty = "B2",
                 .type = FW_TXN_TRANSFER, .amount = 4000 } } },
    { .name = "only TRANSFER counts",
      .tx = { { .id = "s1", .ts = 0, .account = "A1", .counterparty = "B1",
                .type = FW_TXN_PURCHASE, .amount = 4000 },
               { .id = "s2", .ts = HOURS(2), .account = "A1", .counterparty = "B1",
                 .type = FW_TXN_PURCHASE, .amount = 4000 },
               { .id = "s3", .ts = HOURS(4), .account = "A1", .counterparty = "B1",
                 .type = FW_TXN_PURCHASE, .amount = 4000 } } },
    { .name = "a transfer without a counterparty is ignored",
      .tx = { { .id = "s1", .ts = 0, .account = "A1", .type = FW_TXN_TRANSFER, .amount = 4000 },
               { .id = "s2", .ts = HOURS(2), .account = "A1", .type = FW_TXN_TRANSFER,
                 .amount = 4000 },
               { .id = "s3", .ts = HOURS(4), .account = "A1", .type = FW_TXN_TRANSFER,
                 .amount = 4000 } } },
    { .name = "behind the watermark, within the lateness: applied",
      .tx = { { .id = "s1", .ts = 0, XFER, .amount = 4000 },
               { .id = "s2", .ts = HOURS(2), XFER, .amount = 4000 },
               { .id = "x1", .ts = HOURS(4) + MINS(2), .account = "A2", .counterparty = "B9",
                 .type = FW_TXN_TRANSFER, .amount = 100 },
               { .id = "s3", .ts = HOURS(4), XFER, .amount = 4000 } },
      .want = { ALERT(STRUCTURING, "account_pair", "A1->B1", "s1 s2 s3") },
      .behind = 1 },
    { .name = "within 10 s, any arrival order: 5000 + 5000 + 0.02, and another counterparty",
      .tx = { { .id = "s1", .ts = 0, XFER, .amount = 5000 },
               { .id = "s2", .ts = SEC(3), XFER, .amount = 5000 },
               { .id = "s3", .ts = SEC(6), XFER, .amount = 0.02 },
               { .id = "s4", .ts = SEC(9), .account = "A1", .counterparty = "B2",
                 .type = FW_TXN_TRANSFER, .amount = 0.01 } },
      .want = { ALERT(STRUCTURING, "account_pair", "A1->B1", "s1 s2 s3") },
      .reorder = true },
};

/* ---- risk_score: 10 x large (> 3 x running average) + 5 if > 20 merchants, >= 50 ---- */

#define RS(i, t, a) { .id = (i), .ts = (t), .customer = "C1", .amount = (a) }
#define RSM(i, t, m) { .id = (i), .ts = (t), .customer = "C1", .amount = 10, .merchant = (m) }
/* Ten small ones of 10.00, 3 minutes apart so that no five span < 10 min. */
#define TEN_SMALL                                                                              \
    RS("k01", MINS(0), 10), RS("k02", MINS(3), 10), RS("k03", MINS(6), 10),                    \
        RS("k04", MINS(9), 10), RS("k05", MINS(12), 10), RS("k06", MINS(15), 10),              \
        RS("k07", MINS(18), 10), RS("k08", MINS(21), 10), RS("k09", MINS(24), 10),             \
        RS("k10", MINS(27), 10)
#define TWENTY_MERCHANTS                                                                       \
    RSM("m01", MINS(0), "M01"), RSM("m02", MINS(1), "M02"), RSM("m03", MINS(2), "M03"),        \
        RSM("m04", MINS(3), "M04"), RSM("m05", MINS(4), "M05"), RSM("m06", MINS(5), "M06"),    \
        RSM("m07", MINS(6), "M07"), RSM("m08", MINS(7), "M08"), RSM("m09", MINS(8), "M09"),    \
        RSM("m10", MINS(9), "M10"), RSM("m11", MINS(10), "M11"), RSM("m12", MINS(11), "M12"),  \
        RSM("m13", MINS(12), "M13"), RSM("m14", MINS(13), "M14"), RSM("m15", MINS(14), "M15"), \
        RSM("m16", MINS(15), "M16"), RSM("m17", MINS(16), "M17"), RSM("m18", MINS(17), "M18"), \
        RSM("m19", MINS(18), "M19"), RSM("m20", MINS(19), "M20")

static const detect_case risk_score_cases[] = {
    { .name = "ten of 10.00 then five of 1000 within one window",
      .tx = { TEN_SMALL, RS("L1", MINS(28), 1000), RS("L2", MINS(29), 1000),
               RS("L3", MINS(30), 1000), RS("L4", MINS(31), 1000), RS("L5", MINS(32), 1000) },
      .want = { ALERT(RISK_SCORE, "customer", "C1", "L1 L2 L3 L4 L5") } },
    { .name = "four large ones are not enough",
      .tx = { TEN_SMALL, RS("L1", MINS(28), 1000), RS("L2", MINS(29), 1000),
               RS("L3", MINS(30), 1000), RS("L4", MINS(31), 1000) } },
    { .name = "the first transaction has no average to be large against",
      .tx = { RS("L1", 0, 1000), RS("L2", MINS(1), 1000), RS("L3", MINS(2), 1000),
               RS("L4", MINS(3), 1000), RS("L5", MINS(4), 1000) } },
    { .name = "five large ones in no common aligned hour",
      .tx = { TEN_SMALL, RS("L1", MINS(28), 1000), RS("L2", MINS(29), 1000),
               RS("L3", MINS(30), 1000), RS("L4", MINS(95), 1000), RS("L5", MINS(96), 1000) } },
    { .name = "more than 20 distinct merchants add 5 (limit 45)",
      .tweak = risk_merchants_tip,
      .tx = { TWENTY_MERCHANTS, RSM("m21", MINS(20), "M21"), RS("L1", MINS(21), 1000),
               RS("L2", MINS(22), 1000), RS("L3", MINS(23), 1000), RS("L4", MINS(24), 1000) },
      .want = { ALERT(RISK_SCORE, "customer", "C1", "L1 L2 L3 L4") } },
    { .name = "20 distinct merchants add nothing (limit 45)",
      .tweak = risk_merchants_tip,
      .tx = { TWENTY_MERCHANTS, RSM("m21", MINS(20), "M01"), RS("L1", MINS(21), 1000),
               RS("L2", MINS(22), 1000), RS("L3", MINS(23), 1000), RS("L4", MINS(24), 1000) } },
    { .name = "behind the watermark, within the lateness: applied",
      .tx = { TEN_SMALL, RS("L1", MINS(28), 1000), RS("L2", MINS(29), 1000),
               RS("L3", MINS(30), 1000), RS("L4", MINS(31), 1000),
               { .id = "x1", .ts = MINS(33), .customer = "C2", .amount = 10 },
               RS("L5", MINS(32), 1000) },
      .want = { ALERT(RISK_SCORE, "customer", "C1", "L1 L2 L3 L4 L5") },
      .behind = 1 },
    { .name = "within 10 s, any arrival order: ten small then five large",
      .tweak = no_rapid_small,
      .tx = { RS("k01", SEC(0), 10), RS("k02", SEC(0.5), 10), RS("k03", SEC(1), 10),
               RS("k04", SEC(1.5), 10), RS("k05", SEC(2), 10), RS("k06", SEC(2.5), 10),
               RS("k07", SEC(3), 10), RS("k08", SEC(3.5), 10), RS("k09", SEC(4), 10),
               RS("k10", SEC(4.5), 10), RS("L1", SEC(5), 1000), RS("L2", SEC(6), 1000),
               RS("L3", SEC(7), 1000), RS("L4", SEC(8), 1000), RS("L5", SEC(9), 1000) },
      .want = { ALERT(RISK_SCORE, "customer", "C1", "L1 L2 L3 L4 L5") },
      .reorder = true },
    { .name = "one episode over several slides is one alert; later evidence is deduplicated",
      .tx = { TEN_SMALL, RS("L1", MINS(28), 1000), RS("L2", MINS(29), 1000),
               RS("L3", MINS(30), 1000), RS("L4", MINS(31), 1000), RS("L5", MINS(32), 1000),
               RS("L6", MINS(45), 5000), RS("L7", MINS(55), 5000) },
      .want = { ALERT(RISK_SCORE, "customer", "C1", "L1 L2 L3 L4 L5") },
      .deduplicated = 2 },
    { .name = "once the score has fallen below the limit, a new episode alerts again",
      .tx = { TEN_SMALL, RS("L1", MINS(28), 1000), RS("L2", MINS(29), 1000),
               RS("L3", MINS(30), 1000), RS("L4", MINS(31), 1000), RS("L5", MINS(32), 1000),
               /* each large against the running average, which they raise */
               RS("q1", MINS(100), 10), RS("L6", MINS(101), 1000), RS("L7", MINS(102), 1500),
               RS("L8", MINS(103), 2500), RS("L9", MINS(104), 4000),
               RS("L10", MINS(105), 4900) },
      .want = { ALERT(RISK_SCORE, "customer", "C1", "L1 L2 L3 L4 L5"),
                ALERT(RISK_SCORE, "customer", "C1", "L6 L7 L8 L9 L10") } },
};

/* ---- fan_in: >= 5 distinct senders to one account within 72 h ---- */

static const detect_case fan_in_cases[] = {
    { .name = "five senders within a day",
      .tx = { TR("f1", 0, "S1", "M", 500), TR("f2", HOURS(2), "S2", "M", 600),
              TR("f3", HOURS(5), "S3", "M", 700), TR("f4", HOURS(9), "S4", "M", 800),
              TR("f5", HOURS(20), "S5", "M", 900) },
      .want = { ALERT(FAN_IN, "account", "M", "f1 f2 f3 f4 f5") } },
    { .name = "four senders, one of them twice",
      .tx = { TR("f1", 0, "S1", "M", 500), TR("f2", HOURS(1), "S2", "M", 600),
              TR("f3", HOURS(2), "S3", "M", 700), TR("f4", HOURS(3), "S4", "M", 800),
              TR("f5", HOURS(4), "S1", "M", 900) } },
    { .name = "the first sender exactly 72 h before the fifth is outside the window",
      .tx = { TR("f1", 0, "S1", "M", 500), TR("f2", HOURS(1), "S2", "M", 600),
              TR("f3", HOURS(2), "S3", "M", 700), TR("f4", HOURS(3), "S4", "M", 800),
              TR("f5", HOURS(72), "S5", "M", 900) } },
    { .name = "reported senders count once: ten senders give two alerts",
      .tx = { TR("f1", 0, "S1", "M", 100), TR("f2", HOURS(1), "S2", "M", 100),
              TR("f3", HOURS(2), "S3", "M", 100), TR("f4", HOURS(3), "S4", "M", 100),
              TR("f5", HOURS(4), "S5", "M", 100), TR("f6", HOURS(5), "S6", "M", 100),
              TR("f7", HOURS(6), "S7", "M", 100), TR("f8", HOURS(7), "S8", "M", 100),
              TR("f9", HOURS(8), "S9", "M", 100), TR("f10", HOURS(9), "S10", "M", 100) },
      .want = { ALERT(FAN_IN, "account", "M", "f1 f2 f3 f4 f5"),
                ALERT(FAN_IN, "account", "M", "f6 f7 f8 f9 f10") } },
    { .name = "transfers to oneself do not count",
      .tx = { TR("f1", 0, "S1", "M", 500), TR("f2", HOURS(1), "S2", "M", 600),
              TR("f3", HOURS(2), "S3", "M", 700), TR("f4", HOURS(3), "S4", "M", 800),
              TR("f5", HOURS(4), "M", "M", 900) } },
    { .name = "any arrival order within 10 s",
      .tx = { TR("f1", 0, "S1", "M", 500), TR("f2", SEC(2), "S2", "M", 600),
              TR("f3", SEC(4), "S3", "M", 700), TR("f4", SEC(6), "S4", "M", 800),
              TR("f5", SEC(8), "S5", "M", 900) },
      .want = { ALERT(FAN_IN, "account", "M", "f1 f2 f3 f4 f5") },
      .reorder = true },
};

/* ---- fan_out: >= 5 distinct counterparties from one account within 24 h ---- */

static const detect_case fan_out_cases[] = {
    { .name = "five receivers within six hours",
      .tx = { TR("o1", 0, "A", "R1", 500), TR("o2", HOURS(1), "A", "R2", 600),
              TR("o3", HOURS(2), "A", "R3", 700), TR("o4", HOURS(4), "A", "R4", 800),
              TR("o5", HOURS(6), "A", "R5", 900) },
      .want = { ALERT(FAN_OUT, "account", "A", "o1 o2 o3 o4 o5") } },
    { .name = "four receivers, one twice",
      .tx = { TR("o1", 0, "A", "R1", 500), TR("o2", HOURS(1), "A", "R2", 600),
              TR("o3", HOURS(2), "A", "R1", 700), TR("o4", HOURS(4), "A", "R3", 800),
              TR("o5", HOURS(6), "A", "R4", 900) } },
    { .name = "the first receiver exactly 24 h before the fifth is outside the window",
      .tx = { TR("o1", 0, "A", "R1", 500), TR("o2", HOURS(1), "A", "R2", 600),
              TR("o3", HOURS(2), "A", "R3", 700), TR("o4", HOURS(4), "A", "R4", 800),
              TR("o5", HOURS(24), "A", "R5", 900) } },
    { .name = "withdrawals are no counterparties",
      .tx = { TR("o1", 0, "A", "R1", 500), TR("o2", HOURS(1), "A", "R2", 600),
              TR("o3", HOURS(2), "A", "R3", 700), TR("o4", HOURS(4), "A", "R4", 800),
              WD("w1", HOURS(5), "A", 200), WD("w2", HOURS(6), "A", 200) } },
};

/* ---- cycle: money back at its origin through >= 3 hops, each forwarding
 * 50-100 % of what it received within 48 h ---- */

static const detect_case cycle_cases[] = {
    { .name = "A to B to C and back to A, keeping about 10 % per hop",
      .tx = { TR("c1", 0, "A", "B", 900), TR("c2", HOURS(1), "B", "C", 810),
              TR("c3", HOURS(5), "C", "A", 730) },
      .want = { ALERT(CYCLE, "account", "A", "c1 c2 c3") } },
    { .name = "four hops: the first, the one into the last sender, the last",
      .tx = { TR("c1", 0, "A", "B", 900), TR("c2", HOURS(1), "B", "C", 810),
              TR("c3", HOURS(2), "C", "D", 730), TR("c4", HOURS(3), "D", "A", 650) },
      .want = { ALERT(CYCLE, "account", "A", "c1 c3 c4") } },
    { .name = "a round trip of two hops is not a cycle",
      .tx = { TR("c1", 0, "A", "B", 900), TR("c2", HOURS(1), "B", "A", 810) } },
    { .name = "a hop forwarding less than half breaks the chain",
      .tx = { TR("c1", 0, "A", "B", 900), TR("c2", HOURS(1), "B", "C", 440),
              TR("c3", HOURS(2), "C", "A", 400) } },
    { .name = "a hop forwarding more than it received breaks the chain",
      .tx = { TR("c1", 0, "A", "B", 900), TR("c2", HOURS(1), "B", "C", 950),
              TR("c3", HOURS(2), "C", "A", 900) } },
    { .name = "a hop 48 h after receiving breaks the chain",
      .tx = { TR("c1", 0, "A", "B", 900), TR("c2", HOURS(48), "B", "C", 810),
              TR("c3", HOURS(49), "C", "A", 730) } },
    { .name = "the origin forwarding money it had received from elsewhere still closes",
      .tx = { TR("x1", 0, "X", "A", 1000), TR("c1", HOURS(1), "A", "B", 900),
              TR("c2", HOURS(2), "B", "C", 810), TR("c3", HOURS(3), "C", "A", 730) },
      .want = { ALERT(CYCLE, "account", "A", "c1 c2 c3"),
                ALERT(MULE_CASHOUT, "account", "A", "x1 c1") } },
    { .name = "six transfers (the longest remembered chain)",
      .tx = { TR("c1", 0, "A", "B", 900), TR("c2", HOURS(1), "B", "C", 850),
              TR("c3", HOURS(2), "C", "D", 800), TR("c4", HOURS(3), "D", "E", 750),
              TR("c5", HOURS(4), "E", "F", 700), TR("c6", HOURS(5), "F", "A", 650) },
      .want = { ALERT(CYCLE, "account", "A", "c1 c5 c6") } },
    { .name = "seven transfers are beyond the remembered chain",
      .tx = { TR("c1", 0, "A", "B", 900), TR("c2", HOURS(1), "B", "C", 850),
              TR("c3", HOURS(2), "C", "D", 800), TR("c4", HOURS(3), "D", "E", 750),
              TR("c5", HOURS(4), "E", "F", 700), TR("c6", HOURS(5), "F", "G", 650),
              TR("c7", HOURS(6), "G", "A", 600) } },
    { .name = "the continuation that forwards the largest share is followed",
      .tx = { TR("x1", 0, "X", "B", 2000), TR("c1", MINS(10), "A", "B", 900),
              TR("c2", HOURS(1), "B", "C", 810), TR("c3", HOURS(2), "C", "A", 730) },
      .want = { ALERT(CYCLE, "account", "A", "c1 c2 c3") } },
};

/* ---- mule_cashout: >= 1000 received, >= 80 % of it out again within 2 h ---- */

static const detect_case mule_cashout_cases[] = {
    { .name = "3000 received, 2900 withdrawn 20 minutes later",
      .tx = { TR("m1", 0, "V", "M", 3000), WD("m2", MINS(20), "M", 2900) },
      .want = { ALERT(MULE_CASHOUT, "account", "M", "m1 m2") } },
    { .name = "two victims, two withdrawals adding up",
      .tx = { TR("m1", 0, "V1", "M", 1000), TR("m2", MINS(5), "V2", "M", 2000),
              WD("w1", MINS(10), "M", 1500), WD("w2", MINS(20), "M", 1000) },
      .want = { ALERT(MULE_CASHOUT, "account", "M", "m1 m2 w1 w2") } },
    { .name = "cashed out by a transfer to another account",
      .tx = { TR("m1", 0, "V", "M", 3000), TR("m2", MINS(30), "M", "X", 2800) },
      .want = { ALERT(MULE_CASHOUT, "account", "M", "m1 m2") } },
    { .name = "an unrelated transfer received earlier does not dilute the cash-out",
      .tx = { TR("u1", 0, "U", "M", 491), TR("m1", MINS(60), "V", "M", 3000),
              WD("m2", MINS(80), "M", 2500) },
      .want = { ALERT(MULE_CASHOUT, "account", "M", "m1 m2") } },
    { .name = "the latest transfer cashed out at once: the earlier one is left out",
      .tx = { TR("m1", 0, "V1", "M", 2000), TR("m2", MINS(5), "V2", "M", 1000),
              WD("w1", MINS(10), "M", 1500) },
      .want = { ALERT(MULE_CASHOUT, "account", "M", "m2 w1") } },
    { .name = "75 % out is below the ratio",
      .tx = { TR("m1", 0, "V", "M", 2000), WD("m2", MINS(20), "M", 1500) } },
    { .name = "less than 1000 received",
      .tx = { TR("m1", 0, "V", "M", 999), WD("m2", MINS(20), "M", 999) } },
    { .name = "withdrawn 2 h after receiving",
      .tx = { TR("m1", 0, "V", "M", 3000), WD("m2", HOURS(2), "M", 2900) } },
    { .name = "money out before it came in does not count",
      .tx = { WD("m1", 0, "M", 2900), TR("m2", MINS(10), "V", "M", 3000) } },
};

/* ---- dedupe: same rule and entity within 5 min of event time: one alert ---- */

#define VELOCITY_FOLD                                                                  \
    { .id = "v1", .ts = 0, .account = "A1", .amount = 1500 },                          \
        { .id = "v2", .ts = SEC(3), .account = "A1", .amount = 1500 },                 \
        { .id = "v3", .ts = SEC(6), .account = "A1", .amount = 1500 },                 \
        { .id = "v4", .ts = SEC(9), .account = "A1", .amount = 1500 }

static const detect_case dedupe_cases[] = {
    { .name = "velocity: a fourth within 5 minutes is folded",
      .tx = { { .id = "v1", .ts = 0, .account = "A1", .amount = 1500 },
               { .id = "v2", .ts = MINS(1), .account = "A1", .amount = 1500 },
               { .id = "v3", .ts = MINS(2), .account = "A1", .amount = 1500 },
               { .id = "v4", .ts = MINS(3), .account = "A1", .amount = 1500 } },
      .want = { ALERT(VELOCITY, "account", "A1", "v1 v2 v3") },
      .deduplicated = 1 },
    { .name = "velocity: 5 minutes after the alert alerts again",
      .tx = { { .id = "v1", .ts = 0, .account = "A1", .amount = 1500 },
               { .id = "v2", .ts = MINS(1), .account = "A1", .amount = 1500 },
               { .id = "v3", .ts = MINS(2), .account = "A1", .amount = 1500 },
               { .id = "v4", .ts = MINS(7), .account = "A1", .amount = 1500 } },
      .want = { ALERT(VELOCITY, "account", "A1", "v1 v2 v3"),
                ALERT(VELOCITY, "account", "A1", "v1 v2 v3 v4") } },
    { .name = "location_jump: 5 minutes apart gives two alerts",
      .tx = { { .id = "l1", .ts = 0, .customer = "C1", .amount = 100, .country = "FR" },
               { .id = "l2", .ts = MINS(1), .customer = "C1", .amount = 100, .country = "US" },
               { .id = "l3", .ts = MINS(6), .customer = "C1", .amount = 100, .country = "FR" } },
      .want = { ALERT(LOCATION_JUMP, "customer", "C1", "l1 l2"),
                ALERT(LOCATION_JUMP, "customer", "C1", "l2 l3") } },
    { .name = "location_jump: 1 ms under 5 minutes is folded",
      .tx = { { .id = "l1", .ts = 0, .customer = "C1", .amount = 100, .country = "FR" },
               { .id = "l2", .ts = MINS(1), .customer = "C1", .amount = 100, .country = "US" },
               { .id = "l3", .ts = MINS(6) - 1, .customer = "C1", .amount = 100,
                 .country = "FR" } },
      .want = { ALERT(LOCATION_JUMP, "customer", "C1", "l1 l2") },
      .deduplicated = 1 },
    { .name = "small_then_large: a second pair 2 minutes later is folded",
      .tx = { { .id = "s1", .ts = 0, .card = "K1", .amount = 5 },
               { .id = "s2", .ts = MINS(1), .card = "K1", .amount = 1500 },
               { .id = "s3", .ts = MINS(2), .card = "K1", .amount = 5 },
               { .id = "s4", .ts = MINS(3), .card = "K1", .amount = 1500 } },
      .want = { ALERT(SMALL_THEN_LARGE, "card", "K1", "s1 s2") },
      .deduplicated = 1 },
    { .name = "small_then_large: a second pair 5 minutes later alerts",
      .tx = { { .id = "s1", .ts = 0, .card = "K1", .amount = 5 },
               { .id = "s2", .ts = MINS(1), .card = "K1", .amount = 1500 },
               { .id = "s3", .ts = MINS(5), .card = "K1", .amount = 5 },
               { .id = "s4", .ts = MINS(6), .card = "K1", .amount = 1500 } },
      .want = { ALERT(SMALL_THEN_LARGE, "card", "K1", "s1 s2"),
                ALERT(SMALL_THEN_LARGE, "card", "K1", "s3 s4") } },
    { .name = "different customers are not folded together",
      .tx = { { .id = "a1", .ts = 0, .customer = "C1", .amount = 100, .country = "FR" },
               { .id = "b1", .ts = 0, .customer = "C2", .amount = 100, .country = "FR" },
               { .id = "a2", .ts = MINS(1), .customer = "C1", .amount = 100, .country = "US" },
               { .id = "b2", .ts = MINS(1), .customer = "C2", .amount = 100, .country = "US" } },
      .want = { ALERT(LOCATION_JUMP, "customer", "C1", "a1 a2"),
                ALERT(LOCATION_JUMP, "customer", "C2", "b1 b2") } },
    { .name = "different rules on one customer are not folded together",
      .tx = { { .id = "p1", .ts = 0, .customer = "C1", .type = FW_TXN_PASSWORD_CHANGE,
                .country = "FR" },
               { .id = "w1", .ts = MINS(1), .customer = "C1", .type = FW_TXN_WITHDRAWAL,
                 .amount = 6000, .country = "US" } },
      .want = { ALERT(ACCOUNT_TAKEOVER, "customer", "C1", "p1 w1"),
                ALERT(LOCATION_JUMP, "customer", "C1", "p1 w1"),
                ALERT(HIGH_AMOUNT, "customer", "C1", "w1") } },
    /* In another arrival order the first three to arrive are the evidence:
     * test_velocity_fires_early. */
    { .name = "velocity, a fourth is folded",
      .tx = { VELOCITY_FOLD },
      .want = { ALERT(VELOCITY, "account", "A1", "v1 v2 v3") },
      .deduplicated = 1 },
    { .name = "within 10 s, any arrival order: location_jump back and forth is folded",
      .tx = { { .id = "l1", .ts = 0, .customer = "C1", .amount = 100, .country = "FR" },
               { .id = "l2", .ts = SEC(3), .customer = "C1", .amount = 100, .country = "US" },
               { .id = "l3", .ts = SEC(6), .customer = "C1", .amount = 100, .country = "FR" } },
      .want = { ALERT(LOCATION_JUMP, "customer", "C1", "l1 l2") },
      .deduplicated = 1,
      .reorder = true },
    { .name = "within 10 s, any arrival order: two customers, two rules",
      .tx = { { .id = "a1", .ts = 0, .customer = "C1", .type = FW_TXN_PASSWORD_CHANGE,
                .country = "FR" },
               { .id = "b1", .ts = 0, .customer = "C2", .amount = 100, .country = "FR" },
               { .id = "a2", .ts = SEC(5), .customer = "C1", .type = FW_TXN_WITHDRAWAL,
                 .amount = 6000, .country = "US" },
               { .id = "b2", .ts = SEC(5), .customer = "C2", .amount = 100, .country = "US" } },
      .want = { ALERT(ACCOUNT_TAKEOVER, "customer", "C1", "a1 a2"),
                ALERT(LOCATION_JUMP, "customer", "C1", "a1 a2"),
                ALERT(HIGH_AMOUNT, "customer", "C1", "a2"),
                ALERT(LOCATION_JUMP, "customer", "C2", "b1 b2") },
      .reorder = true },
};

/* ---- ordering: watermark, ties, lateness bounds ---- */

static const detect_case ordering_cases[] = {
    { .name = "out of order within 10 s: sorted by event time",
      .tx = { { .id = "s2", .ts = SEC(9), .card = "K1", .amount = 1500 },
               { .id = "s1", .ts = 0, .card = "K1", .amount = 5 } },
      .want = { ALERT(SMALL_THEN_LARGE, "card", "K1", "s1 s2") },
      .reorder = true },
    { .name = "same time: ties by id (small a, then large b)",
      .tx = { { .id = "b", .ts = 0, .card = "K1", .amount = 1500 },
               { .id = "a", .ts = 0, .card = "K1", .amount = 5 } },
      .want = { ALERT(SMALL_THEN_LARGE, "card", "K1", "a b") },
      .reorder = true },
    { .name = "same time: ties by id (large a, then small b)",
      .tx = { { .id = "a", .ts = 0, .card = "K1", .amount = 1500 },
               { .id = "b", .ts = 0, .card = "K1", .amount = 5 } },
      .reorder = true },
    { .name = "exactly at the watermark is behind it: applied to windows",
      .tx = { { .id = "v1", .ts = MINS(-2), .account = "A1", .amount = 1500 },
               { .id = "v2", .ts = MINS(-1), .account = "A1", .amount = 1500 },
               { .id = "x1", .ts = SEC(10), .account = "A2", .amount = 100 },
               { .id = "v3", .ts = 0, .account = "A1", .amount = 1500 } },
      .want = { ALERT(VELOCITY, "account", "A1", "v1 v2 v3") },
      .behind = 1 },
    { .name = "late (beyond 5 min behind the watermark): reported, not applied",
      .tx = { { .id = "v1", .ts = 0, .account = "A1", .amount = 1500 },
               { .id = "v2", .ts = MINS(1), .account = "A1", .amount = 1500 },
               { .id = "x1", .ts = MINS(10), .account = "A2", .amount = 100 },
               { .id = "v3", .ts = MINS(2), .account = "A1", .amount = 1500 } },
      .late = "v3" },
    { .name = "exactly the allowed lateness behind the watermark: applied",
      .tx = { { .id = "v1", .ts = 0, .account = "A1", .amount = 1500 },
               { .id = "v2", .ts = MINS(1), .account = "A1", .amount = 1500 },
               { .id = "x1", .ts = MINS(10), .account = "A2", .amount = 100 },
               { .id = "v3", .ts = MINS(10) - SEC(10) - MINS(5), .account = "A1",
                 .amount = 1500 } },
      .want = { ALERT(VELOCITY, "account", "A1", "v1 v2 v3") },
      .behind = 1 },
    { .name = "1 ms beyond the allowed lateness: late",
      .tx = { { .id = "v1", .ts = 0, .account = "A1", .amount = 1500 },
               { .id = "v2", .ts = MINS(1), .account = "A1", .amount = 1500 },
               { .id = "x1", .ts = MINS(10), .account = "A2", .amount = 100 },
               { .id = "v3", .ts = MINS(10) - SEC(10) - MINS(5) - 1, .account = "A1",
                 .amount = 1500 } },
      .late = "v3" },
    { .name = "late: not applied to sequences either",
      .tx = { { .id = "s1", .ts = 0, .card = "K1", .amount = 5 },
               { .id = "x1", .ts = MINS(10), .card = "K2", .amount = 100 },
               { .id = "s2", .ts = MINS(1), .card = "K1", .amount = 1500 } },
      .late = "s2" },
};

/* ---- limits ---- */

static const detect_case limits_cases[] = {
    { .name = "max_entities 2: a third customer is not tracked",
      .tweak = two_entities,
      .tx = { { .id = "c1", .ts = 0, .customer = "C1", .amount = 100, .country = "FR" },
               { .id = "c2", .ts = MINS(1), .customer = "C2", .amount = 100, .country = "FR" },
               { .id = "c3", .ts = MINS(2), .customer = "C3", .amount = 100, .country = "FR" },
               { .id = "c4", .ts = MINS(3), .customer = "C3", .amount = 6000,
                 .country = "US" } },
      /* C1's risk_score and location_jump keys fill it: no location_jump for
       * C3; stateless high_amount still judges the untracked customer. */
      .want = { ALERT(HIGH_AMOUNT, "customer", "C3", "c4") },
      .entity_overflows = 6 /* each refused key: c2, c3, c4 want those two each */ },
    { .name = "max_entities 2: the card's and the customer's first keys fill it, later are not kept",
      .tweak = two_entities,
      .tx = { { .id = "s1", .ts = 0, .account = "A1", .card = "K1", .customer = "C1",
                .amount = 5 },
               { .id = "s2", .ts = MINS(1), .account = "A1", .card = "K1", .customer = "C1",
                 .amount = 1500 } },
      /* s2 arrives before s1's turn in event time: velocity, which fires
       * early, keeps A1 on arrival; s1 then keeps K1 (small_then_large);
       * refused: C1's risk_score, rapid_small and location_jump keys, then
       * s2's risk_score and location_jump. The card's pattern completes. */
      .want = { ALERT(SMALL_THEN_LARGE, "card", "K1", "s1 s2") },
      .entity_overflows = 5 },
};

/* ---- running a case ---- */

typedef struct outcome {
    char got[MAX_GOT][LINE];
    int ngot;                 /* alerts seen, even past MAX_GOT */
    char late[LINE];          /* ids reported late, space-separated */
    uint64_t late_calls;
    fw_engine_stats stats;
    fw_state_stats state;
} outcome;

static void appendf(char *buf, size_t size, const char *fmt, const char *s, size_t n) {
    size_t len = strlen(buf);
    if (len < size)
        snprintf(buf + len, size - len, fmt, (int)n, s);
}

static void on_alert(void *opaque, const fw_alert *a) {
    outcome *o = opaque;
    if (o->ngot < MAX_GOT) {
        char *line = o->got[o->ngot];
        snprintf(line, LINE, "%s %s:%.*s [", fw_rule_name(a->rule), a->entity_type,
                 (int)a->entity_id.len, a->entity_id.ptr);
        for (size_t i = 0; i < a->nevidence; i++)
            appendf(line, LINE, i ? " %.*s" : "%.*s", a->evidence[i].transaction_id.ptr,
                    a->evidence[i].transaction_id.len);
        appendf(line, LINE, "%.*s]", "", 0);
    }
    o->ngot++;
}

static void on_late(void *opaque, const fw_txn *t, int64_t watermark) {
    outcome *o = opaque;
    (void)watermark;
    appendf(o->late, sizeof(o->late), o->late[0] ? " %.*s" : "%.*s", t->transaction_id.ptr,
            t->transaction_id.len);
    o->late_calls++;
}

static fw_txn make_txn(const tx_spec *s, char *amount, size_t amount_size) {
    snprintf(amount, amount_size, "%.2f", s->amount);
    fw_txn t = { .transaction_id = fw_str_c(s->id), .ts_ms = T0 + s->ts,
                 .amount = s->amount, .amount_raw = fw_str_c(amount),
                 .account_id = fw_str_c(s->account), .card_id = fw_str_c(s->card),
                 .customer_id = fw_str_c(s->customer),
                 .counterparty_id = fw_str_c(s->counterparty), .type = s->type,
                 .type_raw = fw_str_c(fw_txn_type_name(s->type)),
                 .country = fw_str_c(s->country), .merchant_id = fw_str_c(s->merchant) };
    if (s->geo) {
        t.lat = s->lat;
        t.lon = s->lon;
        t.has = FW_TXN_HAS_LAT | FW_TXN_HAS_LON;
    }
    return t;
}

static size_t ntx(const detect_case *c) {
    size_t n = 0;
    while (n < MAX_TX && c->tx[n].id)
        n++;
    return n;
}

static fw_rules case_rules(const detect_case *c) {
    fw_rules rules;
    fw_rules_defaults(&rules);
    if (c->tweak)
        c->tweak(&rules);
    return rules;
}

/* Feeds the case's transactions in @p order, then releases everything. */
static void run(const detect_case *c, const size_t *order, size_t n, outcome *o) {
    fw_rules rules = case_rules(c);
    char err[128];
    fw_engine *e = fw_engine_new(&rules, err, sizeof(err));
    if (!e)
        fail_msg("%s: fw_engine_new: %s", c->name, err);
    memset(o, 0, sizeof(*o));
    fw_engine_out out = { .opaque = o, .alert = on_alert, .late = on_late };
    for (size_t i = 0; i < n; i++) {
        char amount[64];
        fw_txn t = make_txn(&c->tx[order[i]], amount, sizeof(amount));
        fw_engine_process(e, &t, &out);
    }
    fw_engine_advance(e, INT64_MAX, &out);
    o->stats = *fw_engine_stats_get(e);
    o->state = *fw_engine_state_stats(e);
    fw_engine_destroy(e);
}

static int cmp_line(const void *a, const void *b) { return strcmp(a, b); }

static uint64_t dedup_total(const fw_engine_stats *s) {
    uint64_t n = 0;
    for (int r = 0; r < FW_RULE__COUNT; r++)
        n += s->deduplicated[r];
    return n;
}

static void describe_order(const detect_case *c, const size_t *order, size_t n, char *buf,
                           size_t size) {
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++)
        appendf(buf, size, i ? " %.*s" : "%.*s", c->tx[order[i]].id,
                strlen(c->tx[order[i]].id));
}

/* Compares an outcome with the case; prints both sides on a mismatch.
 * @returns true when they agree. */
static bool check(const char *table, const detect_case *c, const outcome *o,
                  const size_t *order, size_t n) {
    static char want[MAX_WANT][LINE], got[MAX_GOT][LINE];
    int nwant = 0;
    for (; nwant < MAX_WANT && c->want[nwant].entity_type; nwant++) {
        const want_alert *w = &c->want[nwant];
        snprintf(want[nwant], LINE, "%s %s:%s [%s]", fw_rule_name(w->rule), w->entity_type,
                 w->entity_id, w->evidence);
    }
    int ngot = o->ngot < MAX_GOT ? o->ngot : MAX_GOT;
    memcpy(got, o->got, sizeof(got[0]) * (size_t)ngot);
    qsort(want, (size_t)nwant, LINE, cmp_line);
    qsort(got, (size_t)ngot, LINE, cmp_line);
    bool alerts_ok = nwant == o->ngot;
    for (int i = 0; alerts_ok && i < nwant; i++)
        alerts_ok = !strcmp(want[i], got[i]);
    const char *late = c->late ? c->late : "";
    bool late_ok = !strcmp(o->late, late) && o->stats.late == o->late_calls;
    bool behind_ok = o->stats.behind_watermark == c->behind;
    bool dedup_ok = dedup_total(&o->stats) == c->deduplicated;
    bool overflow_ok = o->state.entity_overflows == c->entity_overflows;
    bool buffered_ok = o->stats.buffered == 0 && o->stats.released + o->stats.late +
                                                         o->stats.behind_watermark ==
                                                     o->stats.transactions;
    if (alerts_ok && late_ok && behind_ok && dedup_ok && overflow_ok && buffered_ok)
        return true;
    char arrival[LINE];
    describe_order(c, order, n, arrival, sizeof(arrival));
    fprintf(stderr, "MISMATCH %s: \"%s\"\n  arrival order: %s\n", table, c->name, arrival);
    if (!alerts_ok) {
        fprintf(stderr, "  expected %d alert(s):\n", nwant);
        for (int i = 0; i < nwant; i++)
            fprintf(stderr, "    %s\n", want[i]);
        fprintf(stderr, "  actual %d alert(s):\n", o->ngot);
        for (int i = 0; i < ngot; i++)
            fprintf(stderr, "    %s\n", got[i]);
    }
    if (!late_ok)
        fprintf(stderr, "  late: expected [%s], actual [%s] (stats.late %llu, callbacks %llu)\n",
                late, o->late, (unsigned long long)o->stats.late,
                (unsigned long long)o->late_calls);
    if (!behind_ok)
        fprintf(stderr, "  behind_watermark: expected %llu, actual %llu\n",
                (unsigned long long)c->behind, (unsigned long long)o->stats.behind_watermark);
    if (!dedup_ok)
        fprintf(stderr, "  deduplicated: expected %llu, actual %llu\n",
                (unsigned long long)c->deduplicated,
                (unsigned long long)dedup_total(&o->stats));
    if (!overflow_ok)
        fprintf(stderr, "  entity_overflows: expected %llu, actual %llu\n",
                (unsigned long long)c->entity_overflows,
                (unsigned long long)o->state.entity_overflows);
    if (!buffered_ok)
        fprintf(stderr,
                "  after advance(INT64_MAX): buffered %llu (expected 0); released %llu + "
                "late %llu + behind %llu != transactions %llu\n",
                (unsigned long long)o->stats.buffered, (unsigned long long)o->stats.released,
                (unsigned long long)o->stats.late,
                (unsigned long long)o->stats.behind_watermark,
                (unsigned long long)o->stats.transactions);
    return false;
}

static void identity(size_t *order, size_t n) {
    for (size_t i = 0; i < n; i++)
        order[i] = i;
}

static void run_table(const char *table, const detect_case *cases, size_t ncases) {
    int failed = 0;
    static outcome o;
    for (size_t k = 0; k < ncases; k++) {
        size_t order[MAX_TX], n = ntx(&cases[k]);
        identity(order, n);
        run(&cases[k], order, n, &o);
        failed += !check(table, &cases[k], &o, order, n);
    }
    if (failed)
        fail_msg("%s: %d of %zu cases failed (printed above)", table, failed, ncases);
}

#define NCASES(t) (sizeof(t) / sizeof((t)[0]))

static void test_high_amount(void **state) {
    (void)state;
    run_table("high_amount", high_amount_cases, NCASES(high_amount_cases));
}
static void test_velocity(void **state) {
    (void)state;
    run_table("velocity", velocity_cases, NCASES(velocity_cases));
}
static void test_small_then_large(void **state) {
    (void)state;
    run_table("small_then_large", small_then_large_cases, NCASES(small_then_large_cases));
}
static void test_rapid_small(void **state) {
    (void)state;
    run_table("rapid_small", rapid_small_cases, NCASES(rapid_small_cases));
}
static void test_location_jump(void **state) {
    (void)state;
    run_table("location_jump", location_jump_cases, NCASES(location_jump_cases));
}
static void test_account_takeover(void **state) {
    (void)state;
    run_table("account_takeover", account_takeover_cases, NCASES(account_takeover_cases));
}
static void test_structuring(void **state) {
    (void)state;
    run_table("structuring", structuring_cases, NCASES(structuring_cases));
}
static void test_risk_score(void **state) {
    (void)state;
    run_table("risk_score", risk_score_cases, NCASES(risk_score_cases));
}
static void test_fan_in(void **state) {
    (void)state;
    run_table("fan_in", fan_in_cases, NCASES(fan_in_cases));
}
static void test_fan_out(void **state) {
    (void)state;
    run_table("fan_out", fan_out_cases, NCASES(fan_out_cases));
}
static void test_cycle(void **state) {
    (void)state;
    run_table("cycle", cycle_cases, NCASES(cycle_cases));
}
static void test_mule_cashout(void **state) {
    (void)state;
    run_table("mule_cashout", mule_cashout_cases, NCASES(mule_cashout_cases));
}
static void test_dedupe(void **state) {
    (void)state;
    run_table("dedupe", dedupe_cases, NCASES(dedupe_cases));
}
static void test_ordering(void **state) {
    (void)state;
    run_table("ordering", ordering_cases, NCASES(ordering_cases));
}
static void test_limits(void **state) {
    (void)state;
    run_table("limits", limits_cases, NCASES(limits_cases));
}

static const struct table {
    const char *name;
    const detect_case *cases;
    size_t n;
} tables[] = {
    { "high_amount", high_amount_cases, NCASES(high_amount_cases) },
    { "velocity", velocity_cases, NCASES(velocity_cases) },
    { "small_then_large", small_then_large_cases, NCASES(small_then_large_cases) },
    { "rapid_small", rapid_small_cases, NCASES(rapid_small_cases) },
    { "location_jump", location_jump_cases, NCASES(location_jump_cases) },
    { "account_takeover", account_takeover_cases, NCASES(account_takeover_cases) },
    { "structuring", structuring_cases, NCASES(structuring_cases) },
    { "risk_score", risk_score_cases, NCASES(risk_score_cases) },
    { "fan_in", fan_in_cases, NCASES(fan_in_cases) },
    { "fan_out", fan_out_cases, NCASES(fan_out_cases) },
    { "cycle", cycle_cases, NCASES(cycle_cases) },
    { "mule_cashout", mule_cashout_cases, NCASES(mule_cashout_cases) },
    { "dedupe", dedupe_cases, NCASES(dedupe_cases) },
    { "ordering", ordering_cases, NCASES(ordering_cases) },
    { "limits", limits_cases, NCASES(limits_cases) },
};

/* ---- order independence ---- */

/* True when every arrival is later than the highest event time before it
 * minus the out-of-orderness: nothing arrives behind the watermark. */
static bool bounded(const detect_case *c, const size_t *order, size_t n, int64_t ooo) {
    int64_t max = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        int64_t ts = c->tx[order[i]].ts;
        if (max != INT64_MIN && ts <= max - ooo)
            return false;
        if (ts > max)
            max = ts;
    }
    return true;
}

static bool next_permutation(size_t *a, size_t n) {
    if (n < 2)
        return false;
    size_t i = n - 1;
    while (i > 0 && a[i - 1] >= a[i])
        i--;
    if (i == 0)
        return false;
    size_t j = n - 1;
    while (a[j] <= a[i - 1])
        j--;
    size_t t = a[i - 1];
    a[i - 1] = a[j];
    a[j] = t;
    for (size_t l = i, r = n - 1; l < r; l++, r--) {
        t = a[l];
        a[l] = a[r];
        a[r] = t;
    }
    return true;
}

static uint64_t xorshift(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

typedef struct keyed {
    int64_t key;
    size_t i;
} keyed;

static int cmp_keyed(const void *a, const void *b) {
    const keyed *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* Every permutation for up to 7 transactions; otherwise 300 shuffles with a
 * fixed seed: each transaction arrives at its event time plus a random delay
 * below the out-of-orderness, which keeps every shuffle within the bound.
 * Only bounded orders count, and each case needs at least one besides the
 * listed one. */
static void test_order_independence(void **state) {
    (void)state;
    static outcome o;
    int failed = 0, checked = 0;
    uint64_t seed = 0x5eedf00dULL;
    for (size_t t = 0; t < NCASES(tables); t++) {
        for (size_t k = 0; k < tables[t].n; k++) {
            const detect_case *c = &tables[t].cases[k];
            if (!c->reorder)
                continue;
            checked++;
            fw_rules rules = case_rules(c);
            int64_t ooo = rules.time.max_out_of_orderness_ms;
            size_t n = ntx(c), order[MAX_TX], base[MAX_TX];
            identity(base, n);
            int orders = 0;
            bool ok = true;
            if (n <= 7) {
                identity(order, n);
                do {
                    if (!bounded(c, order, n, ooo) || !memcmp(order, base, n * sizeof(*order)))
                        continue;
                    orders++;
                    run(c, order, n, &o);
                    ok = check(tables[t].name, c, &o, order, n);
                } while (ok && next_permutation(order, n));
            } else {
                for (int s = 0; ok && s < 300; s++) {
                    keyed kk[MAX_TX];
                    for (size_t i = 0; i < n; i++)
                        kk[i] = (keyed){ .key = c->tx[i].ts +
                                                (int64_t)(xorshift(&seed) % (uint64_t)ooo),
                                         .i = i };
                    qsort(kk, n, sizeof(kk[0]), cmp_keyed);
                    for (size_t i = 0; i < n; i++)
                        order[i] = kk[i].i;
                    assert_true(bounded(c, order, n, ooo));
                    if (!memcmp(order, base, n * sizeof(*order)))
                        continue;
                    orders++;
                    run(c, order, n, &o);
                    ok = check(tables[t].name, c, &o, order, n);
                }
            }
            if (ok && orders == 0) {
                fprintf(stderr, "%s: \"%s\": no bounded reordering to try\n", tables[t].name,
                        c->name);
                ok = false;
            }
            failed += !ok;
        }
    }
    assert_true(checked >= 15);
    if (failed)
        fail_msg("order independence: %d of %d cases failed (printed above)", failed, checked);
}

/* velocity fires early (docs/rules.md#early-firing): on the arrival that
 * completes its count. So in every bounded arrival order of four qualifying
 * transactions there is one alert, whose evidence is the first three to
 * arrive, and the fourth is folded into it. */
static void test_velocity_fires_early(void **state) {
    (void)state;
    static outcome o;
    const detect_case c = { .name = "velocity fires early", .tx = { VELOCITY_FOLD } };
    fw_rules rules = case_rules(&c);
    size_t n = ntx(&c), order[MAX_TX];
    int orders = 0;
    identity(order, n);
    do {
        if (!bounded(&c, order, n, rules.time.max_out_of_orderness_ms))
            continue;
        orders++;
        run(&c, order, n, &o);
        bool first[MAX_TX] = { false };
        for (size_t i = 0; i < 3; i++)
            first[order[i]] = true;
        char want[LINE] = "velocity account:A1 [";
        for (size_t i = 0, w = 0; i < n; i++) /* evidence in event-time order */
            if (first[i]) {
                strcat(want, w++ ? " " : "");
                strcat(want, c.tx[i].id);
            }
        strcat(want, "]");
        if (o.ngot != 1 || strcmp(o.got[0], want) || dedup_total(&o.stats) != 1) {
            fprintf(stderr, "arrival order:");
            for (size_t i = 0; i < n; i++)
                fprintf(stderr, " %s", c.tx[order[i]].id);
            fprintf(stderr, "\n  expected 1 alert: %s, 1 deduplicated\n  actual %d: %s, %llu "
                            "deduplicated\n",
                    want, o.ngot, o.ngot ? o.got[0] : "-",
                    (unsigned long long)dedup_total(&o.stats));
            fail();
        }
    } while (next_permutation(order, n));
    assert_int_equal(orders, 24); /* 9 s apart at most: every order is within 10 s */
}

/* ---- expiry ---- */

/* After fw_engine_advance(INT64_MAX) nothing may stay: no buffered
 * transaction, no entity. */
static void test_no_state_left_behind(void **state) {
    (void)state;
    static outcome o;
    int failed = 0, total = 0;
    for (size_t t = 0; t < NCASES(tables); t++) {
        for (size_t k = 0; k < tables[t].n; k++) {
            const detect_case *c = &tables[t].cases[k];
            size_t order[MAX_TX], n = ntx(c);
            identity(order, n);
            run(c, order, n, &o);
            total++;
            if (o.state.entities != 0 || o.stats.buffered != 0) {
                fprintf(stderr,
                        "STATE LEFT %s: \"%s\": entities %llu (created %llu, expired %llu), "
                        "buffered %llu; expected 0 and 0\n",
                        tables[t].name, c->name, (unsigned long long)o.state.entities,
                        (unsigned long long)o.state.created, (unsigned long long)o.state.expired,
                        (unsigned long long)o.stats.buffered);
                failed++;
            }
        }
    }
    if (failed)
        fail_msg("no state left behind: %d of %d cases left state (printed above)", failed,
                 total);
}

static void count_change(void *opaque, fw_str key, const void *value, size_t len) {
    (void)key;
    (void)value;
    (void)len;
    (*(int *)opaque)++;
}

/* The changelog path (Kafka mode): once the changes have been read out, the
 * final advance frees every entity of every kind. */
static void count_delete(void *opaque, fw_str key, const void *value, size_t len) {
    (void)key;
    (void)len;
    if (!value && key.ptr[0] == 'E')
        (*(int *)opaque)++;
}

/* With change tracking on (the Kafka runtime), entities still expire, and
 * each one that does leaves a tombstone for the changelog. */
static void test_state_expires_with_change_tracking(void **state) {
    (void)state;
    fw_rules rules;
    fw_rules_defaults(&rules);
    char err[128];
    fw_engine *e = fw_engine_new(&rules, err, sizeof(err));
    assert_non_null(e);
    fw_engine_track_changes(e);
    static outcome o;
    memset(&o, 0, sizeof(o));
    fw_engine_out out = { .opaque = &o, .alert = on_alert, .late = on_late };
    static const tx_spec spec[] = {
        { .id = "t1", .ts = 0, .account = "A1", .card = "K1", .customer = "C1",
          .counterparty = "B1", .type = FW_TXN_TRANSFER, .amount = 5 },
        { .id = "t2", .ts = MINS(1), .account = "A1", .card = "K1", .customer = "C1",
          .counterparty = "B1", .type = FW_TXN_TRANSFER, .amount = 1500 },
    };
    char amount[64];
    for (size_t i = 0; i < NCASES(spec); i++) {
        fw_txn t = make_txn(&spec[i], amount, sizeof(amount));
        fw_engine_process(e, &t, &out);
    }
    fw_engine_advance(e, T0 + HOURS(1), &out); /* releases both */
    assert_int_equal(fw_engine_stats_get(e)->released, 2);
    /* The native detectors' entities: A1's outflows and B1's inbound
     * transfers (the rules written in the language keep their own keys). */
    assert_int_equal(fw_engine_state_stats(e)->entities, 2);
    int changes = 0;
    fw_engine_changes(e, count_change, &changes);
    assert_true(changes > 0);
    fw_engine_advance(e, INT64_MAX, &out);
    assert_int_equal(fw_engine_state_stats(e)->entities, 0);
    assert_int_equal(fw_engine_stats_get(e)->buffered, 0);
    int deletes = 0;
    fw_engine_changes(e, count_delete, &deletes);
    assert_int_equal(deletes, 2);
    fw_engine_destroy(e);
}

/* ---- the watermark step by step ---- */

static void test_watermark_holds_and_releases(void **state) {
    (void)state;
    fw_rules rules;
    fw_rules_defaults(&rules);
    char err[128];
    fw_engine *e = fw_engine_new(&rules, err, sizeof(err));
    assert_non_null(e);
    static outcome o;
    memset(&o, 0, sizeof(o));
    fw_engine_out out = { .opaque = &o, .alert = on_alert, .late = on_late };
    const fw_engine_stats *st = fw_engine_stats_get(e);
    assert_true(st->watermark == INT64_MIN);
    static const tx_spec spec[] = {
        { .id = "s1", .ts = 0, .card = "K1", .amount = 5 },
        { .id = "s2", .ts = SEC(9), .card = "K1", .amount = 1500 },
        { .id = "x1", .ts = SEC(10), .card = "K2", .amount = 100 },
        { .id = "z1", .ts = SEC(9) - MINS(5) - 1, .card = "K3", .amount = 100 },
        { .id = "z2", .ts = SEC(9) - MINS(5), .card = "K3", .amount = 100 },
    };
    char amount[64];
    fw_txn t = make_txn(&spec[0], amount, sizeof(amount));
    fw_engine_process(e, &t, &out);
    assert_int_equal(st->buffered, 1);
    assert_int_equal(st->released, 0);
    assert_true(st->watermark == T0 - SEC(10));
    t = make_txn(&spec[1], amount, sizeof(amount));
    fw_engine_process(e, &t, &out);
    assert_int_equal(st->buffered, 2);
    assert_int_equal(st->released, 0);
    t = make_txn(&spec[2], amount, sizeof(amount)); /* watermark T0: releases s1 */
    fw_engine_process(e, &t, &out);
    assert_true(st->watermark == T0);
    assert_int_equal(st->released, 1);
    assert_int_equal(st->buffered, 2);
    assert_int_equal(o.ngot, 0); /* s2 still waits */
    fw_engine_advance(e, T0 + SEC(9), &out); /* releases s2: the pattern completes */
    assert_true(st->watermark == T0 + SEC(9));
    assert_int_equal(st->released, 2);
    assert_int_equal(o.ngot, 1);
    assert_string_equal(o.got[0], "small_then_large card:K1 [s1 s2]");
    fw_engine_advance(e, T0, &out); /* never goes back */
    assert_true(st->watermark == T0 + SEC(9));
    t = make_txn(&spec[3], amount, sizeof(amount)); /* 1 ms beyond the lateness */
    fw_engine_process(e, &t, &out);
    assert_int_equal(st->late, 1);
    assert_string_equal(o.late, "z1");
    t = make_txn(&spec[4], amount, sizeof(amount)); /* exactly the lateness */
    fw_engine_process(e, &t, &out);
    assert_int_equal(st->late, 1);
    assert_int_equal(st->behind_watermark, 1);
    fw_engine_advance(e, INT64_MAX, &out);
    assert_int_equal(st->buffered, 0);
    assert_int_equal(st->released, 3);
    fw_engine_destroy(e);
}

/* The registry of native detectors: every rule but high_amount and ml_score
 * (which do not run in event-time order) has exactly one line, named as its
 * rule, in a phase the dispatch runs. */
static void test_registry(void **state) {
    (void)state;
    size_t n = 0;
    const fw_detector *const *reg = fw_detectors(&n);
    int lines[FW_RULE__COUNT] = { 0 };
    for (size_t i = 0; i < n; i++) {
        const fw_detector *d = reg[i];
        assert_true(d->rule >= 0 && d->rule < FW_RULE__COUNT);
        lines[d->rule]++;
        if (strcmp(d->name, fw_rule_name(d->rule)) != 0 || d->phase >= FW_PHASE__COUNT ||
            !d->on_event) {
            print_message("registry line %zu: name \"%s\", rule \"%s\", phase %d\n", i, d->name,
                          fw_rule_name(d->rule), (int)d->phase);
            fail();
        }
    }
    /* Every built-in is one registry line or one shipped definition, never
     * both (ml_score, batched, is neither). */
    fw_rules rules;
    fw_rules_defaults(&rules);
    fw_lang_rules *shipped = NULL;
    char err[512];
    assert_int_equal(fw_lang_rules_builtins(&rules, NULL, &shipped, err, sizeof(err)), FW_OK);
    for (size_t i = 0; i < shipped->n; i++) {
        fw_rule_id r = fw_rule_by_name(shipped->rules[i].id);
        assert_true(r != FW_RULE__COUNT);
        lines[r]++;
    }
    for (int r = 0; r < FW_RULE__COUNT; r++) {
        int want = r == FW_RULE_ML_SCORE ? 0 : 1;
        if (lines[r] != want) {
            print_message("rule %s: %d registry lines and shipped definitions, want %d\n",
                          fw_rule_name((fw_rule_id)r), lines[r], want);
            fail();
        }
    }
    assert_int_equal(n, 4); /* fan_out, mule_cashout, cycle, fan_in */
    assert_int_equal(shipped->n, 8);
    fw_lang_rules_destroy(shipped);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_high_amount),
        cmocka_unit_test(test_velocity),
        cmocka_unit_test(test_small_then_large),
        cmocka_unit_test(test_rapid_small),
        cmocka_unit_test(test_location_jump),
        cmocka_unit_test(test_account_takeover),
        cmocka_unit_test(test_structuring),
        cmocka_unit_test(test_risk_score),
        cmocka_unit_test(test_fan_in),
        cmocka_unit_test(test_fan_out),
        cmocka_unit_test(test_cycle),
        cmocka_unit_test(test_mule_cashout),
        cmocka_unit_test(test_dedupe),
        cmocka_unit_test(test_ordering),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_watermark_holds_and_releases),
        cmocka_unit_test(test_order_independence),
        cmocka_unit_test(test_velocity_fires_early),
        cmocka_unit_test(test_no_state_left_behind),
        cmocka_unit_test(test_state_expires_with_change_tracking),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
