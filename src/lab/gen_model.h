/* gen_model.h — the synthetic bank behind `fraudwatch generate`: a population
 * of customers and merchants, their everyday traffic, and injected fraud
 * scenarios, labelled. Pure and clock-free: the same configuration gives the
 * same transactions byte for byte, so the evaluator can rebuild the ground
 * truth and tests can drive it without Kafka, files or sleeps.
 *
 * Event time. Normal traffic is a Poisson process whose rate follows a
 * bank's day: FW_GEN_TX_PER_CUSTOMER_DAY transactions per customer per day on
 * average (10,000 customers → 40,000 a day, a mean gap of 2.16 s), scaled by
 * an hour-of-day profile (UTC) that is quiet at 03:00 (~0.2x) and busiest
 * around 12:00 and 18:00 (~1.6x). Scenario transactions are scheduled at
 * their own offsets from the instance's start and merged in event-time order,
 * so they interleave with everyone else's traffic. Timestamps never decrease.
 *
 * Legitimate behaviour that looks odd (docs/generator.md): customers travel
 * abroad (flights take real time; a few noisy trips report the home country
 * from a phone), and on payday each salaried customer receives a salary and
 * pays bills in a burst, a few of them several large transfers in minutes.
 * These come on top of the Poisson traffic, so payday is a busy day.
 *
 * Fraud ratio. Before each record an instance starts with a probability that
 * aims the running fraction of fraudulent records at the configured ratio and
 * corrects drift, so small runs land close to it too. With a bounded count,
 * an instance starts only if all its transactions fit, so none is truncated;
 * fw_gen_drain() lets an unbounded run finish its open instances. */
#ifndef FW_GEN_MODEL_H
#define FW_GEN_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "fw_err.h"

#define FW_GEN_TX_PER_CUSTOMER_DAY 4.0   /* mean normal transactions per customer per day */
#define FW_GEN_MAX_CUSTOMERS 10000000u   /* population limit (≈90 bytes each) */
#define FW_GEN_LEGIT_LARGE_ODDS 20000u   /* 1 normal record in this many is a legitimate
                                          * purchase > 5000 (labelled is_fraud:false) */
#define FW_GEN_NORMAL_MAX_CENTS 500000   /* other normal amounts stay at or below 5000.00 */
#define FW_GEN_MAX_PENDING (1u << 20)    /* scheduled transactions at most */
#define FW_GEN_MAX_INSTANCE 16           /* transactions of one instance at most */
#define FW_GEN_MAX_SCENARIOS 16          /* rows of fw_gen_scenarios at most */
#define FW_GEN_JSON_MAX 768              /* one formatted record is never longer */
#define FW_GEN_NONE UINT32_MAX

typedef enum fw_gen_channel {
    FW_GEN_POS = 0,
    FW_GEN_ONLINE,
    FW_GEN_ATM,
    FW_GEN_MOBILE,
} fw_gen_channel;

typedef enum fw_gen_cp_kind {
    FW_GEN_CP_NONE = 0,
    FW_GEN_CP_ACCOUNT,    /* another customer's account: acct-<counterparty> */
    FW_GEN_CP_EXTERNAL,   /* outside the bank, one per instance: ext-<seed>-<instance> */
    FW_GEN_CP_EXTERNAL_K, /* outside, several per instance: ext-<seed>-<instance>-<counterparty> */
    FW_GEN_CP_PAYEE,      /* the customer's own outside payee (landlord, utility, loan,
                           * savings): ext-<seed>-c<customer>-<counterparty> */
} fw_gen_cp_kind;

/** Which legitimate behaviour made a record (is_fraud:false ones; not written
 *  out). The two noise kinds are what makes rules raise false alerts. */
typedef enum fw_gen_origin {
    FW_GEN_EVERYDAY = 0,
    FW_GEN_ABROAD,         /* made at the destination of a trip */
    FW_GEN_HOME_SIGNAL,    /* noise: abroad, but the phone reports the home country */
    FW_GEN_PAYDAY,         /* the salary and what follows it */
    FW_GEN_PAYDAY_RUSH,    /* noise: several payday transfers above 1000 within minutes */
} fw_gen_origin;

/** One generated transaction, before formatting. Integers only: amounts in
 *  cents, coordinates in 1e-4 degrees, so formatting is exact and fast. */
typedef struct fw_gen_txn {
    uint64_t seq;          /* transaction number n → "tx-<seed>-<n>"; while the record
                            * waits in the schedule, its insertion order (breaks ties) */
    int64_t ts_ms;         /* event time, epoch ms UTC */
    uint64_t instance;     /* scenario instance number → "si-<seed>-<instance>" */
    int64_t amount_cents;  /* >= 0; 0 for LOGIN and PASSWORD_CHANGE */
    uint32_t customer;     /* index: cust-<i>, acct-<i> (the Kafka key) */
    uint32_t merchant;     /* merchant index (m-<i>), or ATM number when atm; NONE = absent */
    uint32_t counterparty; /* TRANSFER: see cp_kind */
    int32_t lat_e4, lon_e4;
    uint8_t type;          /* fw_txn_type of txn.h */
    uint8_t card;          /* 1 or 2 → card-<customer>-<card>; 0 = no card */
    uint8_t channel;       /* fw_gen_channel */
    uint8_t city;          /* where it happened; gives "country" */
    uint8_t cp_kind;       /* fw_gen_cp_kind */
    uint8_t atm;           /* merchant is ATM number @c merchant of @c city */
    int8_t scenario;       /* index in fw_gen_scenarios of its instance; -1 = none */
    uint8_t origin;        /* fw_gen_origin of a legitimate record */
    bool legit_large;      /* the rare legitimate amount above 5000 (purchase or salary) */
    bool cardholder;       /* in an instance, but made by the customer, not the fraudster
                            * (the at-home purchase before the cloned card's): legitimate */
} fw_gen_txn;

/** Labelled is_fraud:true: part of an instance and not the cardholder's own. */
static inline bool fw_gen_txn_is_fraud(const fw_gen_txn *t) {
    return t->scenario >= 0 && !t->cardholder;
}

typedef struct fw_gen fw_gen;

/** A fraud scenario: writes one instance's transactions, in time order, for
 *  customer @p customer starting at @p t0; scenarios with several accounts
 *  pick the others themselves among idle customers. @returns how many
 *  (1..max), or 0 when it could not find the accounts it needs. */
typedef int (*fw_gen_scenario_fn)(fw_gen *g, uint32_t customer, int64_t t0, fw_gen_txn *ev,
                                  int max);

typedef struct fw_gen_scenario {
    const char *name;       /* the "scenario" label */
    fw_gen_scenario_fn generate;
    const char *targets;    /* comma-separated ids of the rules meant to catch it
                             * ("small_then_large"); NULL or "" when none is */
    const char *summary;    /* its shape in a few words, for --help */
    int min_txns, max_txns; /* instance size range, for the ratio controller */
    uint32_t min_customers; /* accounts it involves; a smaller population leaves it out */
    bool exclusive;         /* no normal traffic for any participating customer during the
                             * instance and an hour after, and no normal transfer to them:
                             * keeps consecutive and money-flow patterns intact */
} fw_gen_scenario;

/** The scenario table; add a row (and a generator) to add a scenario. */
extern const fw_gen_scenario fw_gen_scenarios[];
extern const int fw_gen_nscenarios;

/** Which field --hot-key makes hot (fw_gen_conf.hot_field). */
typedef enum fw_gen_hot_field {
    FW_GEN_HOT_NONE = 0,
    FW_GEN_HOT_ACCOUNT,   /* acct-0 (customer 0) */
    FW_GEN_HOT_MERCHANT,  /* one online-only merchant, whatever the buyer's city */
} fw_gen_hot_field;

typedef struct fw_gen_conf {
    uint64_t seed;        /* PRNG seed, also part of every generated id */
    uint32_t customers;   /* population size, 1..FW_GEN_MAX_CUSTOMERS */
    double fraud_ratio;   /* target fraction of fraudulent records, 0..1 */
    int64_t start_ms;     /* event time of the first record */
    uint64_t count;       /* records to produce; 0 = unbounded */
    /* Relative rate of each scenario (index of fw_gen_scenarios), >= 0; all
     * zero (the default) = every scenario at the same rate. Scenarios that
     * need more customers than there are get none. */
    double weights[FW_GEN_MAX_SCENARIOS];
    /* A hot key for load tests: one account or merchant carries @c hot_share
     * (0..1) of all records. NONE (the default) changes nothing, byte for
     * byte. The hot account is never part of a fraud instance or a payday
     * burst and never travels: it is a busy everyday account (a payroll or
     * processor account); the hot merchant takes normal purchases. */
    fw_gen_hot_field hot_field;
    double hot_share;
} fw_gen_conf;

typedef struct fw_gen_stats {
    uint64_t records;
    uint64_t fraud;
    uint64_t legit_large;
    uint64_t instances;
    uint64_t scen_txns[FW_GEN_MAX_SCENARIOS];      /* per scenario: fraudulent records */
    uint64_t scen_instances[FW_GEN_MAX_SCENARIOS]; /* per scenario: instances started */
    uint64_t skipped_busy;        /* starts dropped: no idle customer (or one travelling) */
    uint64_t skipped_full;        /* starts dropped: FW_GEN_MAX_PENDING reached */
    uint64_t abroad;              /* legitimate records made on a trip abroad */
    uint64_t home_signal;         /* of which reporting the home country (noise) */
    uint64_t salaries;            /* salary deposits */
    uint64_t payday_rush;         /* customers paying several transfers > 1000 at once */
    uint64_t payday_skipped;      /* payday bursts left out: travelling, busy, no room */
    uint64_t hot;                 /* records of the hot key (fw_gen_conf.hot_field) */
} fw_gen_stats;

/** @brief Builds the population. @returns NULL with @p errstr on a bad
 *  configuration or out of memory. */
fw_gen *fw_gen_new(const fw_gen_conf *conf, char *errstr, size_t errstr_size);
/** @brief Frees @p g; NULL is a no-op. */
void fw_gen_destroy(fw_gen *g);

/** @brief The next transaction in event-time order.
 *  @returns false when the count is reached, when draining is complete, or
 *  when event time would pass 9999-12-31 (what ISO-8601 can write). */
bool fw_gen_next(fw_gen *g, fw_gen_txn *out);

/** @brief Stops new traffic: fw_gen_next() then only returns the scheduled
 *  rest of the open instances and bursts (so none is left half-written). */
void fw_gen_drain(fw_gen *g);

/** @brief Writes @p t as one JSON object (no newline) into @p out, which has
 *  room for FW_GEN_JSON_MAX bytes. Uses a per-generator cache for dates.
 *  @returns the length. */
size_t fw_gen_format_json(fw_gen *g, const fw_gen_txn *t, char *out);

/** @brief Writes the Kafka key (the account id, "acct-<i>") into @p out
 *  (32 bytes). @returns the length. */
size_t fw_gen_format_key(const fw_gen_txn *t, char *out);

const fw_gen_stats *fw_gen_get_stats(const fw_gen *g);

/** @brief Parses a scenario mix, "name[=weight],..." (weights are numbers
 *  0..1e6, 1 when left out), into @p weights (FW_GEN_MAX_SCENARIOS entries;
 *  unnamed scenarios get 0). @returns false with @p errstr on an unknown or
 *  repeated name, a bad weight, or when every weight is 0. */
bool fw_gen_parse_scenarios(const char *list, double *weights, char *errstr,
                            size_t errstr_size);

/** @brief Parses a hot key, "FIELD=SHARE" with FIELD account_id or
 *  merchant_id and SHARE a number 0..1 (0: no hot key). @returns false with
 *  @p errstr naming what is wrong. */
bool fw_gen_parse_hot_key(const char *spec, fw_gen_hot_field *field, double *share,
                          char *errstr, size_t errstr_size);

/** @brief The id of the hot key (e.g. "acct-0", "m-17") into @p out (32
 *  bytes), or "" when there is none. @returns the length. */
size_t fw_gen_hot_key_id(const fw_gen *g, char *out);

/** @brief Index of scenario @p name in fw_gen_scenarios, or -1. */
int fw_gen_scenario_index(const char *name);

/** @brief Two-letter country of a city index (fw_gen_txn.city). */
const char *fw_gen_city_country(unsigned city);
/** @brief Home country of customer @p customer. */
const char *fw_gen_customer_country(const fw_gen *g, uint32_t customer);
/** @brief Home city index of customer @p customer. */
unsigned fw_gen_customer_city(const fw_gen *g, uint32_t customer);
/** @brief Centre of city @p city in 1e-4 degrees. */
void fw_gen_city_position(unsigned city, int32_t *lat_e4, int32_t *lon_e4);

#endif
