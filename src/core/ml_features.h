/* ml_features.h — the model's view of a transaction: one code path for training
 * (fraudwatch train) and scoring (ml_score in the engine), so the two cannot
 * drift. A feature vector holds the transaction's own V1..V28 and Amount, then
 * behavioural features computed from the customer's history as it stood just
 * before the transaction (docs/model.md lists them). NaN means missing. */
#ifndef FW_ML_FEATURES_H
#define FW_ML_FEATURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "fw_str.h"
#include "profiles.h"
#include "txn.h"

typedef enum fw_feature {
    FW_F_V1 = 0,                 /* V1 .. V28: FW_F_V1 + i */
    FW_F_AMOUNT = FW_TXN_NFEATURES, /* "Amount", as seed 000 names it */
    FW_F_AMOUNT_VS_AVG,          /* amount / the customer's average so far */
    FW_F_SECS_SINCE_PREV,        /* since the customer's previous transaction */
    FW_F_COUNT_1H,               /* the customer's transactions in the last hour */
    FW_F_SUM_1H,                 /* and their amounts */
    FW_F_COUNT_24H,
    FW_F_SUM_24H,
    FW_F_MERCHANTS_24H,          /* distinct merchants in the last day */
    FW_F_COUNTRIES_24H,          /* distinct countries in the last day */
    FW_F_NEW_MERCHANT,           /* 1: a merchant not in the customer's recent history */
    FW_F_NEW_COUNTRY,
    FW_F_NEW_COUNTERPARTY,       /* transfers: a payee not paid recently */
    FW_F_HOUR,                   /* hour of day, UTC */
    FW_F_CHANNEL,                /* 1 pos, 2 online, 3 atm, 4 mobile, 5 branch, 6 other */
    FW_F_TYPE,                   /* fw_txn_type */
    FW_F_FOREIGN,                /* 1: country differs from the profile's home country */
    FW_F_SECS_SINCE_PASSWORD_CHANGE,
    FW_F_HISTORY,                /* transactions of the customer seen so far */
    FW_F_AMOUNT_VS_PREV,         /* amount / the previous transaction's (small, then large) */
    FW_F_KM_FROM_PREV,           /* distance from the previous transaction's location */
    FW_F_KMH_FROM_PREV,          /* implied travel speed since then */
    FW_F_COUNTRY_CHANGED,        /* 1: another country than the previous transaction's */
    FW_F__COUNT
} fw_feature;

/** @brief "V1".."V28", "Amount", "amount_vs_avg", ...; NULL when out of range. */
const char *fw_feature_name(fw_feature f);

/** @brief The feature named @p name (exact), or -1. */
int fw_feature_by_name(const char *name, size_t len);

#define FW_FEAT_HOUR_SLOTS 12    /* 5-minute slots: the last hour */
#define FW_FEAT_DAY_SLOTS 24     /* 1-hour slots: the last day */
#define FW_FEAT_MERCHANTS 16     /* merchants remembered per customer */
#define FW_FEAT_COUNTRIES 8
#define FW_FEAT_PAYEES 8

/** Counts and sums over time slots; a slot holds the events of one slot
 *  number (event time / slot width) and is reused when that number passes. */
typedef struct fw_feat_slot {
    int64_t no;                  /* slot number; INT64_MIN: empty */
    uint32_t n;
    double sum;
} fw_feat_slot;

typedef struct fw_feat_seen {
    uint64_t hash;               /* of the merchant, payee or country; 0 = empty */
    int64_t last;                /* event time last seen */
} fw_feat_seen;

/** One customer's history, as the behavioural features need it. Fixed size. */
typedef struct fw_feat_state {
    int64_t last_ts;             /* INT64_MIN: none yet */
    int64_t last_password_change;
    uint64_t n;
    double amount_sum;
    double prev_amount;
    double prev_lat, prev_lon;   /* NaN: the previous transaction had no location */
    uint64_t prev_country;       /* hash; 0: none */
    fw_feat_slot hour[FW_FEAT_HOUR_SLOTS];
    fw_feat_slot day[FW_FEAT_DAY_SLOTS];
    fw_feat_seen merchants[FW_FEAT_MERCHANTS];
    fw_feat_seen countries[FW_FEAT_COUNTRIES];
    fw_feat_seen payees[FW_FEAT_PAYEES];
} fw_feat_state;

void fw_feat_state_init(fw_feat_state *s);

/** @brief The feature vector of @p t against history @p s (NULL: none) and
 *  the customer's profile @p prof (may be NULL) into @p out[FW_F__COUNT]. */
void fw_features_compute(const fw_feat_state *s, const fw_txn *t, const fw_profile *prof,
                         float out[FW_F__COUNT]);

/** @brief Adds @p t to the history. */
void fw_feat_state_update(fw_feat_state *s, const fw_txn *t);

/** @brief Serializes @p s (for the changelog) onto @p b. */
void fw_feat_state_write(const fw_feat_state *s, fw_buf *b);

/** @brief Reads what fw_feat_state_write wrote from @p p (@p n bytes
 *  available); @returns the bytes used, or 0 when truncated. */
size_t fw_feat_state_read(fw_feat_state *s, const void *p, size_t n);

#endif
