/* test_stages.c — the stages of a rule set (stage.h) and the engines that
 * run one stage each (fw_engine_set_stage): the plan of the default rules,
 * routing keys, partition stability, the external watermark through the
 * changelog, and a simulated cluster — input engines by account partition,
 * every accepted transaction routed to the later stages' engines, fed in
 * another interleaving than the file's — whose alerts must be exactly those
 * of one engine running everything (file mode). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gen_model.h"
#include "lang_rules.h"
#include "pipeline.h"
#include "stage.h"

/* Language rules keyed by what the input's key does not split: a merchant's
 * burst (merchant_id stage) and money converging on one counterparty from
 * several accounts (counterparty_id stage). */
static const char lang_json[] =
    "{\"rules\": ["
    "{\"id\": \"merchant_burst\", \"type\": \"aggregate\", \"group_by\": \"merchant_id\","
    " \"lookback\": \"10m\", \"aggregates\": {\"n\": \"count\","
    " \"accts\": \"count_distinct(account_id)\"}, \"having\": \"n >= 6 and accts >= 4\"},"
    "{\"id\": \"converging\", \"type\": \"aggregate\", \"group_by\": \"counterparty_id\","
    " \"lookback\": \"24h\", \"where\": \"type == \\\"TRANSFER\\\"\","
    " \"aggregates\": {\"senders\": \"count_distinct(account_id)\", \"total\": \"sum(amount)\"},"
    " \"having\": \"senders >= 3\"},"
    "{\"id\": \"merchant_big\", \"type\": \"filter\", \"group_by\": [\"merchant_id\", \"card_id\"],"
    " \"when\": \"amount > 3000\"}"
    "]}";

static fw_lang_rules *load_lang(const fw_rules *rules) {
    char err[256];
    fw_lang_rules *lr = NULL;
    if (fw_lang_rules_parse_json(lang_json, strlen(lang_json), rules, &lr, err, sizeof(err)))
        fail_msg("language rules: %s", err);
    return lr;
}

/* ---- the plan ---- */

static void expect_plan(const fw_stage_plan *plan, const char *const *want, size_t n) {
    char got[512] = "";
    for (size_t i = 0; i < plan->n; i++)
        snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s:%s", i ? " " : "",
                 fw_stage_kind_name(plan->stages[i].kind), plan->stages[i].name);
    char exp[512] = "";
    for (size_t i = 0; i < n; i++)
        snprintf(exp + strlen(exp), sizeof(exp) - strlen(exp), "%s%s", i ? " " : "", want[i]);
    if (strcmp(got, exp))
        fail_msg("plan \"%s\", expected \"%s\"", got, exp);
}

static void test_plan_default_rules(void **state) {
    (void)state;
    char err[256];
    fw_rules rules;
    fw_rules_defaults(&rules);
    fw_stage_plan plan;
    assert_int_equal(fw_stage_plan_build(&plan, &rules, NULL, NULL, err, sizeof(err)), FW_OK);
    /* small_then_large by card_id comes before the customer rules in the
     * shipped definitions; velocity and structuring hold account_id. */
    const char *want[] = { "input:account_id", "receiver:receiver", "cycle:cycle",
                           "field:card_id", "field:customer_id" };
    expect_plan(&plan, want, 5);
    assert_true(plan.stages[2].single_partition);
    assert_false(plan.stages[1].single_partition);

    const char *const colocated[] = { "customer_id", "card_id", NULL };
    assert_int_equal(fw_stage_plan_build(&plan, &rules, NULL, colocated, err, sizeof(err)),
                     FW_OK);
    const char *want_co[] = { "input:account_id", "receiver:receiver", "cycle:cycle" };
    expect_plan(&plan, want_co, 3);

    /* User rules first, then the shipped definitions; no cycle when off. */
    fw_lang_rules *lr = load_lang(&rules);
    rules.common[FW_RULE_CYCLE].enabled = false;
    assert_int_equal(fw_stage_plan_build(&plan, &rules, lr, colocated, err, sizeof(err)), FW_OK);
    const char *want_lang[] = { "input:account_id", "receiver:receiver", "field:merchant_id",
                                "field:counterparty_id" };
    expect_plan(&plan, want_lang, 4);

    fw_stage s;
    fw_stage_of_builtin(FW_RULE_FAN_OUT, NULL, &s);
    assert_int_equal(s.kind, FW_STAGE_INPUT);
    fw_stage_of_builtin(FW_RULE_MULE_CASHOUT, NULL, &s);
    assert_int_equal(s.kind, FW_STAGE_RECEIVER);
    fw_stage_of_builtin(FW_RULE_STRUCTURING, NULL, &s);
    assert_int_equal(s.kind, FW_STAGE_INPUT);
    fw_stage_of_builtin(FW_RULE_RISK_SCORE, NULL, &s);
    assert_int_equal(s.kind, FW_STAGE_FIELD);
    assert_string_equal(s.name, "customer_id");
    fw_stage_of_builtin(FW_RULE_ML_SCORE, colocated, &s);
    assert_int_equal(s.kind, FW_STAGE_INPUT);
    fw_lang_rules_destroy(lr);
}

/* More distinct group fields than FW_STAGE_MAX: refused, naming the rule. */
static void test_plan_too_many_stages(void **state) {
    (void)state;
    char json[8192] = "{\"rules\": [", err[256];
    for (int i = 0; i < FW_STAGE_MAX; i++)
        snprintf(json + strlen(json), sizeof(json) - strlen(json),
                 "%s{\"id\": \"r%d\", \"type\": \"filter\", \"group_by\": \"amount * %d\","
                 " \"when\": \"amount > 1\"}", i ? "," : "", i, i + 2);
    strcat(json, "]}");
    fw_rules rules;
    fw_rules_defaults(&rules);
    fw_lang_rules *lr = NULL;
    if (fw_lang_rules_parse_json(json, strlen(json), &rules, &lr, err, sizeof(err)))
        fail_msg("language rules: %s", err);
    fw_stage_plan plan;
    assert_int_equal(fw_stage_plan_build(&plan, &rules, lr, NULL, err, sizeof(err)),
                     FW_ERR_INVALID);
    if (!strstr(err, "rule \"r"))
        fail_msg("message \"%s\" names no rule", err);
    fw_lang_rules_destroy(lr);
}

/* ---- routing and partitions ---- */

static fw_txn txn_of(fw_txn_type type, const char *acct, const char *cp, double amount) {
    fw_txn t;
    memset(&t, 0, sizeof(t));
    t.type = type;
    t.account_id = fw_str_c(acct);
    t.customer_id = fw_str_c("cust-1");
    t.merchant_id = fw_str_c("m-7");
    if (cp)
        t.counterparty_id = fw_str_c(cp);
    t.amount = amount;
    t.transaction_id = fw_str_c("tx-1");
    return t;
}

static void expect_keys(fw_stage_router *r, size_t s, const fw_txn *t, const char *k0,
                        const char *k1) {
    fw_stage_key out[2];
    size_t n = fw_stage_router_route(r, s, t, out);
    size_t want = k1 ? 2 : k0 ? 1 : 0;
    if (n != want)
        fail_msg("stage %zu: %zu keys, expected %zu", s, n, want);
    if (n > 0 && !fw_str_eq(out[0].key, fw_str_c(k0)))
        fail_msg("stage %zu: key \"%.*s\", expected \"%s\"", s, (int)out[0].key.len,
                 out[0].key.ptr, k0);
    if (n > 1 && !fw_str_eq(out[1].key, fw_str_c(k1)))
        fail_msg("stage %zu: second key \"%.*s\", expected \"%s\"", s, (int)out[1].key.len,
                 out[1].key.ptr, k1);
}

static void test_route_keys(void **state) {
    (void)state;
    char err[256];
    fw_rules rules;
    fw_rules_defaults(&rules);
    fw_lang_rules *lr = load_lang(&rules);
    fw_stage_plan plan;
    assert_int_equal(fw_stage_plan_build(&plan, &rules, lr, NULL, err, sizeof(err)), FW_OK);
    /* input receiver cycle merchant_id counterparty_id card_id customer_id */
    assert_int_equal(plan.n, 7);
    fw_stage_router *r = fw_stage_router_new(&plan, &rules, lr, NULL, err, sizeof(err));
    if (!r)
        fail_msg("router: %s", err);
    fw_txn tr = txn_of(FW_TXN_TRANSFER, "acct-A", "acct-B", 500);
    fw_txn wd = txn_of(FW_TXN_WITHDRAWAL, "acct-A", NULL, 200);
    fw_txn self = txn_of(FW_TXN_TRANSFER, "acct-A", "acct-A", 500);
    expect_keys(r, 0, &tr, NULL, NULL);          /* the input stage: not routed */
    expect_keys(r, 1, &tr, "acct-B", "acct-A");  /* by receiver, then by sender */
    expect_keys(r, 1, &wd, "acct-A", NULL);      /* an outflow only */
    expect_keys(r, 1, &self, NULL, NULL);        /* money that stays put */
    expect_keys(r, 2, &tr, "cycle", NULL);
    expect_keys(r, 2, &wd, NULL, NULL);
    expect_keys(r, 3, &tr, "m-7", NULL);
    expect_keys(r, 4, &tr, "acct-B", NULL);
    expect_keys(r, 4, &wd, NULL, NULL);          /* no counterparty: no key */
    expect_keys(r, 5, &tr, NULL, NULL);          /* no card */
    expect_keys(r, 6, &wd, "cust-1", NULL);
    expect_keys(r, 99, &tr, NULL, NULL);
    fw_stage_router_destroy(r);

    /* Without mule_cashout an outflow does not travel to the receivers. */
    rules.common[FW_RULE_MULE_CASHOUT].enabled = false;
    assert_int_equal(fw_stage_plan_build(&plan, &rules, lr, NULL, err, sizeof(err)), FW_OK);
    r = fw_stage_router_new(&plan, &rules, lr, NULL, err, sizeof(err));
    assert_non_null(r);
    expect_keys(r, 1, &tr, "acct-B", NULL);
    expect_keys(r, 1, &wd, NULL, NULL);
    fw_stage_router_destroy(r);
    fw_lang_rules_destroy(lr);
}

/* The partition of a key is part of the state's format: these values must
 * never change (fw_hash64, seed 0, mod n). */
static void test_partition_stability(void **state) {
    (void)state;
    static const struct { const char *key; int32_t n, want; } cases[] = {
        { "acct-1", 6, 1 }, { "acct-2", 6, 3 }, { "acct-1281", 3, 1 },
        { "cust-42", 12, 2 }, { "m-737", 7, 0 }, { "cycle", 1, 0 }, { "", 5, 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int32_t got = fw_stage_partition(fw_str_c(cases[i].key), cases[i].n);
        printf("partition(\"%s\", %d) = %d\n", cases[i].key, cases[i].n, got);
        if (got != cases[i].want)
            fail_msg("partition(\"%s\", %d) = %d, expected %d", cases[i].key, cases[i].n, got,
                     cases[i].want);
    }
    assert_int_equal(fw_stage_partition(fw_str_c("x"), 0), 0);
}

/* ---- the external watermark through the changelog ---- */

typedef struct kv {
    char key[300];
    size_t keylen;
    char value[4096];
    size_t len;
    bool del;
} kv;

typedef struct store {
    kv items[256];
    size_t n;
} store;

static void store_put(void *opaque, fw_str key, const void *value, size_t len) {
    store *s = opaque;
    kv *it = NULL;
    for (size_t i = 0; i < s->n && !it; i++)
        if (s->items[i].keylen == key.len && !memcmp(s->items[i].key, key.ptr, key.len))
            it = &s->items[i];
    if (!it) {
        assert_true(s->n < 256 && key.len <= sizeof(it->key));
        it = &s->items[s->n++];
        memcpy(it->key, key.ptr, key.len);
        it->keylen = key.len;
    }
    it->del = value == NULL;
    it->len = value && len <= sizeof(it->value) ? len : 0;
    if (it->len)
        memcpy(it->value, value, len);
}

/* What @p e changed, into @p s (emptied first); @p e is destroyed. */
static void store_changes(fw_engine *e, store *s) {
    memset(s, 0, sizeof(*s));
    fw_engine_changes(e, store_put, s);
    fw_engine_destroy(e);
}

/* @p s restored into @p e, as the runtime restores a changelog. */
static void restore_store(fw_engine *e, const store *s) {
    char err[256];
    for (size_t i = 0; i < s->n; i++)
        if (fw_engine_restore(e, (fw_str){ s->items[i].key, s->items[i].keylen },
                              s->items[i].del ? NULL : s->items[i].value, s->items[i].len, err,
                              sizeof(err)) != FW_OK)
            fail_msg("restore of item %zu: %s", i, err);
}

static void no_alert(void *opaque, const fw_alert *a) {
    (void)a;
    (*(int *)opaque)++;
}

static void test_external_watermark_restore(void **state) {
    (void)state;
    char err[256];
    fw_rules rules;
    fw_rules_defaults(&rules);
    fw_stage recv = { .kind = FW_STAGE_RECEIVER, .name = "receiver" };
    fw_engine *e = fw_engine_new(&rules, err, sizeof(err));
    assert_non_null(e);
    fw_engine_set_stage(e, &recv, NULL, 0, 1);
    fw_engine_track_changes(e);
    int alerts = 0;
    fw_engine_out out = { .opaque = &alerts, .alert = no_alert };
    const int64_t w = 1704067200000; /* 2024-01-01 */
    fw_engine_advance(e, w, &out);
    /* A record ten hours ahead does not move the watermark: only the
     * upstream's advance does. */
    fw_txn t = txn_of(FW_TXN_TRANSFER, "acct-A", "acct-B", 500);
    t.ts_ms = w + 36000000;
    fw_engine_process_from(e, &t, NULL, &out);
    t.ts_ms += 1000;
    fw_engine_process_from(e, &t, NULL, &out); /* the same id: no id memory here */
    const fw_engine_stats *st = fw_engine_stats_get(e);
    if (st->watermark != w)
        fail_msg("watermark %lld after a record, expected %lld", (long long)st->watermark,
                 (long long)w);
    assert_int_equal(st->duplicates, 0);
    assert_int_equal(st->transactions, 2);
    assert_int_equal(st->buffered, 2);
    fw_engine_advance(e, w + 60000, &out);
    static store s;
    store_changes(e, &s);

    e = fw_engine_new(&rules, err, sizeof(err));
    assert_non_null(e);
    fw_engine_set_stage(e, &recv, NULL, 0, 1);
    restore_store(e, &s);
    st = fw_engine_stats_get(e);
    if (st->watermark != w + 60000)
        fail_msg("restored watermark %lld, expected %lld", (long long)st->watermark,
                 (long long)(w + 60000));
    assert_int_equal(st->buffered, 2);
    fw_engine_destroy(e);
}

/* An input task that also gets, later, records other partitions routed to
 * it (the runtime's repartition by account) holds its watermark at the
 * cap: nothing is released past it, an advance stops there too, and the
 * changelog gives back the held watermark, not the one its records allow. */
static void test_watermark_cap_restore(void **state) {
    (void)state;
    char err[256];
    fw_rules rules;
    fw_rules_defaults(&rules);
    const int64_t ooo = rules.time.max_out_of_orderness_ms;
    fw_stage in = { .kind = FW_STAGE_INPUT, .name = "account_id" };
    fw_engine *e = fw_engine_new(&rules, err, sizeof(err));
    assert_non_null(e);
    fw_engine_set_stage(e, &in, NULL, 0, 6);
    fw_engine_track_changes(e);
    fw_engine_cap_watermark(e, INT64_MIN, NULL); /* no other partition heard yet */
    int alerts = 0;
    fw_engine_out out = { .opaque = &alerts, .alert = no_alert };
    const int64_t w = 1704067200000;
    fw_txn t = txn_of(FW_TXN_TRANSFER, "acct-A", "acct-B", 50);
    t.amount_raw = fw_str_c("50"); /* as the decoder gives it: the input stage's detectors copy it */
    t.ts_ms = w;
    fw_engine_process_from(e, &t, NULL, &out);
    t.transaction_id = fw_str_c("tx-2");
    t.ts_ms = w + 600000;
    fw_engine_process_from(e, &t, NULL, &out);
    const fw_engine_stats *st = fw_engine_stats_get(e);
    if (st->watermark != INT64_MIN || st->buffered != 2)
        fail_msg("watermark %lld, %llu buffered under a cap at INT64_MIN; expected none "
                 "and 2", (long long)st->watermark, (unsigned long long)st->buffered);
    fw_engine_cap_watermark(e, w, &out); /* every partition is past w now */
    if (st->watermark != w || st->buffered != 1)
        fail_msg("watermark %lld, %llu buffered at cap %lld; expected the cap and 1",
                 (long long)st->watermark, (unsigned long long)st->buffered, (long long)w);
    fw_engine_advance(e, w + 3600000, &out); /* an idle advance stops at the cap too */
    if (st->watermark != w)
        fail_msg("watermark %lld after an advance past the cap %lld", (long long)st->watermark,
                 (long long)w);
    if (st->max_event_time != w + 3600000 + ooo) /* what the advance allows, cap or not */
        fail_msg("max_event_time %lld after the advance, expected %lld",
                 (long long)st->max_event_time, (long long)(w + 3600000 + ooo));
    static store s;
    store_changes(e, &s);

    e = fw_engine_new(&rules, err, sizeof(err));
    assert_non_null(e);
    fw_engine_set_stage(e, &in, NULL, 0, 6);
    fw_engine_cap_watermark(e, INT64_MIN, NULL);
    restore_store(e, &s);
    st = fw_engine_stats_get(e);
    if (st->watermark != w || st->buffered != 1)
        fail_msg("restored watermark %lld with %llu buffered, expected the held %lld and 1",
                 (long long)st->watermark, (unsigned long long)st->buffered, (long long)w);
    fw_engine_cap_watermark(e, INT64_MAX, &out); /* the end: the cap goes */
    if (st->watermark != w + 3600000 || st->buffered != 0)
        fail_msg("watermark %lld, %llu buffered without a cap; expected %lld and none",
                 (long long)st->watermark, (unsigned long long)st->buffered,
                 (long long)(w + 3600000));
    fw_engine_destroy(e);
}

/* ---- the simulated cluster ---- */

typedef struct lines {
    char **v;
    size_t n, cap;
} lines;

static void lines_add(lines *l, const char *s, size_t len) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 1024;
        l->v = realloc(l->v, l->cap * sizeof(*l->v));
        assert_non_null(l->v);
    }
    char *c = malloc(len + 1);
    assert_non_null(c);
    memcpy(c, s, len);
    c[len] = '\0';
    l->v[l->n++] = c;
}

static void lines_free(lines *l) {
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

typedef struct sink {
    lines alerts;
    int per_rule[FW_RULE__COUNT + 1]; /* + 1: language rules of no built-in's id */
    int dead;
} sink;

static void sink_alert(void *opaque, const fw_alert *a, fw_str key, fw_str json) {
    (void)key;
    sink *k = opaque;
    lines_add(&k->alerts, json.ptr, json.len);
    k->per_rule[a->rule < FW_RULE__COUNT ? a->rule : FW_RULE__COUNT]++;
}

static void sink_dead(void *opaque, const fw_dead_letter *dl) {
    sink *k = opaque;
    k->dead++;
    fail_msg("dead letter: %s (%s)", dl->reason, dl->field ? dl->field : "-");
}

#define MAX_PARTS 8

typedef struct cluster {
    fw_stage_plan plan;
    fw_stage_router *router;
    int32_t nparts[FW_STAGE_MAX];          /* partitions of each stage */
    fw_pipeline *task[FW_STAGE_MAX][MAX_PARTS];
    sink *out;
    uint64_t routed;
} cluster;

static fw_pipeline *new_pipeline(const fw_rules *rules, const fw_lang_rules *lr) {
    char err[256];
    fw_pipeline_conf pc = { .format = FW_INPUT_JSON, .rules = *rules, .lang = lr };
    fw_pipeline *p = fw_pipeline_new(&pc, err, sizeof(err));
    if (!p)
        fail_msg("pipeline: %s", err);
    return p;
}

/* The input stage took @p t: on to every later stage that needs it, one
 * record per partition (a transfer whose receiver and sender share one goes
 * once). */
static void on_accepted(void *opaque, const fw_txn *t) {
    cluster *c = opaque;
    fw_pipeline_out out = { .opaque = c->out, .alert = sink_alert, .dead_letter = sink_dead };
    fw_source_ref src = { .topic = "repartition", .checked = true };
    assert_true(t->raw_is_json);
    for (size_t s = 1; s < c->plan.n; s++) {
        fw_stage_key keys[2];
        size_t n = fw_stage_router_route(c->router, s, t, keys);
        int32_t sent = -1;
        for (size_t i = 0; i < n; i++) {
            int32_t part = fw_stage_partition(keys[i].key, c->nparts[s]);
            if (part == sent)
                continue;
            sent = part;
            src.partition = part;
            fw_pipeline_process(c->task[s][part], t->raw.ptr, t->raw.len, &src, &out);
            c->routed++;
        }
    }
}

static void in_alert(void *opaque, const fw_alert *a, fw_str key, fw_str json) {
    sink_alert(((cluster *)opaque)->out, a, key, json);
}

static void in_dead(void *opaque, const fw_dead_letter *dl) {
    sink_dead(((cluster *)opaque)->out, dl);
}

static void advance_stages(cluster *c, int64_t wm) {
    fw_pipeline_out out = { .opaque = c->out, .alert = sink_alert, .dead_letter = sink_dead };
    for (size_t s = 1; s < c->plan.n; s++)
        for (int32_t p = 0; p < c->nparts[s]; p++)
            fw_pipeline_advance(c->task[s][p], wm, &out);
}

/* Runs @p in on @p parts input partitions and the plan's later stages; the
 * input is fed partition by partition in chunks of @p chunk records. */
static void run_cluster(const lines *in, const char *const *acct, const fw_rules *rules,
                        const fw_lang_rules *lr, const char *const *colocated, int32_t parts,
                        size_t chunk, sink *k) {
    char err[256];
    static cluster c;
    memset(&c, 0, sizeof(c));
    c.out = k;
    if (fw_stage_plan_build(&c.plan, rules, lr, colocated, err, sizeof(err)) != FW_OK)
        fail_msg("plan: %s", err);
    /* receiver, cycle, merchant_id, counterparty_id (and card_id, customer_id) */
    assert_int_equal(c.plan.n, colocated ? 5 : 7);
    if (!(c.router = fw_stage_router_new(&c.plan, rules, lr, colocated, err, sizeof(err))))
        fail_msg("router: %s", err);
    for (size_t s = 0; s < c.plan.n; s++) {
        /* Later stages get another partition count than the input. */
        c.nparts[s] = s == 0 ? parts : c.plan.stages[s].single_partition ? 1 : parts + 1;
        for (int32_t p = 0; p < c.nparts[s]; p++) {
            c.task[s][p] = new_pipeline(rules, lr);
            fw_pipeline_set_stage(c.task[s][p], &c.plan.stages[s], colocated, p, c.nparts[s]);
        }
    }
    /* Each input partition's records, in file order. */
    size_t *idx = malloc(in->n * sizeof(*idx)), *next = calloc((size_t)parts, sizeof(*next));
    size_t *start = calloc((size_t)parts + 1, sizeof(*start));
    assert_true(idx && next && start);
    for (size_t i = 0; i < in->n; i++)
        start[fw_stage_partition(fw_str_c(acct[i]), parts) + 1]++;
    for (int32_t p = 0; p < parts; p++)
        start[p + 1] += start[p];
    for (size_t i = 0; i < in->n; i++) {
        int32_t p = fw_stage_partition(fw_str_c(acct[i]), parts);
        idx[start[p] + next[p]++] = i;
    }
    memset(next, 0, (size_t)parts * sizeof(*next));
    /* The input tasks' own alerts go to the sink, accepted records on. */
    fw_pipeline_out in_out = { .opaque = &c, .alert = in_alert, .dead_letter = in_dead,
                               .accepted = on_accepted };
    bool more = true;
    while (more) {
        more = false;
        /* Partition by partition, a chunk each, the last first: an
         * interleaving the file never had. */
        for (int32_t p = parts - 1; p >= 0; p--) {
            size_t have = start[p + 1] - start[p];
            for (size_t j = 0; j < chunk && next[p] < have; j++, next[p]++) {
                size_t i = idx[start[p] + next[p]];
                fw_source_ref src = { .topic = "in", .partition = p,
                                      .offset = (int64_t)next[p] };
                fw_pipeline_process(c.task[0][p], in->v[i], strlen(in->v[i]), &src, &in_out);
            }
            more = more || next[p] < have;
            /* The later stages move with the slowest input partition. */
            int64_t wm = INT64_MAX;
            for (int32_t q = 0; q < parts; q++) {
                int64_t w = fw_pipeline_engine_stats(c.task[0][q])->watermark;
                wm = w < wm ? w : wm;
            }
            if (wm != INT64_MIN)
                advance_stages(&c, wm);
        }
    }
    for (int32_t p = 0; p < parts; p++)
        fw_pipeline_advance(c.task[0][p], INT64_MAX, &in_out);
    advance_stages(&c, INT64_MAX);
    for (size_t s = 0; s < c.plan.n; s++) {
        uint64_t late = 0;
        for (int32_t p = 0; p < c.nparts[s]; p++) {
            late += fw_pipeline_engine_stats(c.task[s][p])->late;
            fw_pipeline_destroy(c.task[s][p]);
        }
        if (late)
            fail_msg("stage %s: %llu late records", c.plan.stages[s].name,
                     (unsigned long long)late);
    }
    printf("%d input partitions: %llu records routed to %zu later stages\n", parts,
           (unsigned long long)c.routed, c.plan.n - 1);
    fw_stage_router_destroy(c.router);
    free(idx);
    free(next);
    free(start);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void expect_same_alerts(sink *want, sink *got, int32_t parts) {
    qsort(want->alerts.v, want->alerts.n, sizeof(char *), cmp_str);
    qsort(got->alerts.v, got->alerts.n, sizeof(char *), cmp_str);
    bool same = want->alerts.n == got->alerts.n;
    size_t i = 0;
    for (; same && i < want->alerts.n; i++)
        same = !strcmp(want->alerts.v[i], got->alerts.v[i]);
    if (same)
        return;
    for (int r = 0; r <= FW_RULE__COUNT; r++)
        printf("%-18s file mode %5d, %d partitions %5d\n",
               r < FW_RULE__COUNT ? fw_rule_name((fw_rule_id)r) : "(language)",
               want->per_rule[r], parts, got->per_rule[r]);
    for (i = 0; i < want->alerts.n && i < got->alerts.n; i++)
        if (strcmp(want->alerts.v[i], got->alerts.v[i]))
            break;
    /* Whole, here: fail_msg cuts a long message. */
    printf("first difference (sorted) at %zu:\n  file mode:   %s\n  partitioned: %s\n", i,
           i < want->alerts.n ? want->alerts.v[i] : "(none)",
           i < got->alerts.n ? got->alerts.v[i] : "(none)");
    fail_msg("%zu alerts in file mode, %zu on %d partitions; first difference (sorted) at "
             "%zu, both alerts printed above", want->alerts.n, got->alerts.n, parts, i);
}

/* ---- the pipeline: accepted records, checked event times ---- */

typedef struct taken {
    int accepted, dead;
    char ids[8][32];
} taken;

static void taken_accepted(void *opaque, const fw_txn *t) {
    taken *k = opaque;
    if (k->accepted < 8)
        snprintf(k->ids[k->accepted], sizeof(k->ids[0]), "%.*s", (int)t->transaction_id.len,
                 t->transaction_id.ptr);
    k->accepted++;
}

static void taken_dead(void *opaque, const fw_dead_letter *dl) {
    (void)dl;
    ((taken *)opaque)->dead++;
}

static void taken_alert(void *opaque, const fw_alert *a, fw_str key, fw_str json) {
    (void)opaque;
    (void)a;
    (void)key;
    (void)json;
}

#define REC(id, ts) \
    "{\"transaction_id\":\"" id "\",\"timestamp\":\"" ts "\",\"account_id\":\"a\",\"amount\":5}"

/* accepted: each record the engine took, not a copy, not a late one; a
 * checked record is not held to max_future_skew again. */
static void test_pipeline_accepted_and_checked(void **state) {
    (void)state;
    fw_rules rules;
    fw_rules_defaults(&rules);
    fw_pipeline *p = new_pipeline(&rules, NULL);
    taken k = { 0 };
    fw_pipeline_out out = { .opaque = &k, .alert = taken_alert, .dead_letter = taken_dead,
                            .accepted = taken_accepted };
    /* Kafka mode, the message stamped at 2024-01-01T00:00:00Z. */
    fw_source_ref src = { .topic = "in", .ref_time_name = "the record's Kafka timestamp",
                          .ref_time_ms = 1704067200000 };
    const char *recs[] = {
        REC("t1", "2024-01-01T00:00:00Z"),
        REC("t1", "2024-01-01T00:00:00Z"),  /* a copy: a dead letter */
        REC("t2", "2024-01-09T00:00:00Z"),  /* far ahead of its Kafka timestamp */
        REC("t3", "2024-01-09T00:00:00Z"),  /* the same, checked upstream: taken */
        REC("t4", "2023-12-01T00:00:00Z"),  /* late behind t3's watermark */
    };
    for (size_t i = 0; i < 5; i++) {
        src.offset = (int64_t)i;
        src.checked = i == 3;
        fw_pipeline_process(p, recs[i], strlen(recs[i]), &src, &out);
    }
    if (k.accepted != 2 || strcmp(k.ids[0], "t1") || strcmp(k.ids[1], "t3"))
        fail_msg("accepted %d (%s, %s), expected 2 (t1, t3)", k.accepted, k.ids[0], k.ids[1]);
    if (k.dead != 2)
        fail_msg("%d dead letters, expected 2 (the copy and the unchecked jump)", k.dead);
    assert_int_equal(fw_pipeline_engine_stats(p)->late, 1);
    fw_pipeline_destroy(p);
}

static bool route_not_b(void *opaque, const fw_txn *t) {
    (void)opaque;
    return !fw_str_eq_c(t->account_id, "b");
}

/* route: a record another task takes is neither taken nor passed on here;
 * a checked record is our JSON whatever the input's format (semicolon). */
static void test_pipeline_route(void **state) {
    (void)state;
    char err[256];
    fw_rules rules;
    fw_rules_defaults(&rules);
    fw_pipeline_conf pc = { .format = FW_INPUT_SEMICOLON, .rules = rules };
    fw_pipeline *p = fw_pipeline_new(&pc, err, sizeof(err));
    if (!p)
        fail_msg("pipeline: %s", err);
    taken k = { 0 };
    fw_pipeline_out out = { .opaque = &k, .alert = taken_alert, .dead_letter = taken_dead,
                            .accepted = taken_accepted, .route = route_not_b };
    fw_source_ref src = { .topic = "in", .ref_time_name = "the record's Kafka timestamp",
                          .ref_time_ms = 1704067200000 };
    const char *a = "2024-01-01T00:00:00Z;a;x;5", *b = "2024-01-01T00:00:01Z;b;x;5";
    const char *routed = "{\"transaction_id\":\"in-3-9\",\"timestamp\":"
                         "\"2024-01-01T00:00:02Z\",\"account_id\":\"a\",\"amount\":5}";
    fw_pipeline_process(p, a, strlen(a), &src, &out);
    src.offset = 1;
    fw_pipeline_process(p, b, strlen(b), &src, &out);
    src = (fw_source_ref){ .topic = "GROUP-repartition-account_id", .checked = true };
    fw_pipeline_process(p, routed, strlen(routed), &src, &out);
    if (k.accepted != 2 || k.dead != 0 || strcmp(k.ids[1], "in-3-9"))
        fail_msg("%d accepted (second %s), %d dead letters; expected 2 (in-3-9 second), 0",
                 k.accepted, k.ids[1], k.dead);
    assert_int_equal(fw_pipeline_engine_stats(p)->transactions, 2);
    fw_pipeline_destroy(p);
}

/* Generated traffic with fraud injected, its lines and account ids. */
static void generate(size_t n, lines *in, char ***acct) {
    char err[256];
    fw_gen_conf gc = { .seed = 14, .customers = 2000, .fraud_ratio = 0.1,
                       .start_ms = 1704067200000, .count = n };
    fw_gen *g = fw_gen_new(&gc, err, sizeof(err));
    if (!g)
        fail_msg("generator: %s", err);
    *acct = calloc(n, sizeof(**acct));
    assert_non_null(*acct);
    char rec[FW_GEN_JSON_MAX];
    fw_gen_txn t;
    while (in->n < n && fw_gen_next(g, &t)) {
        size_t len = fw_gen_format_json(g, &t, rec);
        (*acct)[in->n] = malloc(32);
        snprintf((*acct)[in->n], 32, "acct-%u", (unsigned)t.customer);
        assert_non_null(strstr(rec, (*acct)[in->n])); /* the Kafka key the record goes by */
        lines_add(in, rec, len);
    }
    fw_gen_destroy(g);
}

static void free_accts(char **acct, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(acct[i]);
    free(acct);
}

/* One engine running everything over the file (file mode). */
static void run_file_mode(const lines *in, const fw_rules *rules, const fw_lang_rules *lr,
                          sink *k) {
    fw_pipeline *p = new_pipeline(rules, lr);
    fw_pipeline_out out = { .opaque = k, .alert = sink_alert, .dead_letter = sink_dead };
    for (size_t i = 0; i < in->n; i++) {
        fw_source_ref src = { .file = "gen", .line = (int64_t)i + 1 };
        fw_pipeline_process(p, in->v[i], strlen(in->v[i]), &src, &out);
    }
    fw_pipeline_advance(p, INT64_MAX, &out);
    const fw_engine_stats *st = fw_pipeline_engine_stats(p);
    /* Records behind the watermark reach the windows out of order in file
     * mode: the comparison would not be exact. The generator makes none. */
    assert_int_equal(st->behind_watermark, 0);
    fw_pipeline_destroy(p);
}

static void cluster_equals_file_mode(int32_t parts, const char *const *colocated) {
    enum { N = 30000 };
    lines in = { 0 };
    char **acct;
    generate(N, &in, &acct);
    fw_rules rules;
    fw_rules_defaults(&rules);
    fw_lang_rules *lr = load_lang(&rules);
    static sink want, got;
    memset(&want, 0, sizeof(want));
    memset(&got, 0, sizeof(got));
    run_file_mode(&in, &rules, lr, &want);
    run_cluster(&in, (const char *const *)acct, &rules, lr, colocated, parts, 700, &got);
    printf("%zu alerts in file mode:", want.alerts.n);
    for (int r = 0; r <= FW_RULE__COUNT; r++)
        printf(" %s %d", r < FW_RULE__COUNT ? fw_rule_name((fw_rule_id)r) : "language",
               want.per_rule[r]);
    printf("\n");
    /* The test means something only when every stage alerts. */
    assert_true(want.per_rule[FW_RULE_FAN_IN] > 0 && want.per_rule[FW_RULE_MULE_CASHOUT] > 0 &&
                want.per_rule[FW_RULE_CYCLE] > 0 && want.per_rule[FW_RULE_FAN_OUT] > 0 &&
                want.per_rule[FW_RULE_SMALL_THEN_LARGE] > 0 &&
                want.per_rule[FW_RULE_RAPID_SMALL] > 0 && want.per_rule[FW_RULE__COUNT] > 0);
    expect_same_alerts(&want, &got, parts);
    lines_free(&want.alerts);
    lines_free(&got.alerts);
    lines_free(&in);
    free_accts(acct, N);
    fw_lang_rules_destroy(lr);
}

static void test_cluster_3_partitions(void **state) {
    (void)state;
    cluster_equals_file_mode(3, NULL);
}

static void test_cluster_6_partitions(void **state) {
    (void)state;
    cluster_equals_file_mode(6, NULL);
}

/* Each generated customer and card has one account: grouped by them, the
 * customer and card rules run in the input stage, with the same alerts. */
static void test_cluster_colocated(void **state) {
    (void)state;
    static const char *const colocated[] = { "customer_id", "card_id", NULL };
    cluster_equals_file_mode(4, colocated);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_default_rules),
        cmocka_unit_test(test_plan_too_many_stages),
        cmocka_unit_test(test_route_keys),
        cmocka_unit_test(test_partition_stability),
        cmocka_unit_test(test_external_watermark_restore),
        cmocka_unit_test(test_watermark_cap_restore),
        cmocka_unit_test(test_pipeline_route),
        cmocka_unit_test(test_pipeline_accepted_and_checked),
        cmocka_unit_test(test_cluster_3_partitions),
        cmocka_unit_test(test_cluster_6_partitions),
        cmocka_unit_test(test_cluster_colocated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
