/* profiles.h — customer profiles for enrichment (seed 004's broadcast
 * "user_profiles"): customer id → typical amount and home country. Every
 * instance holds the whole table, loaded from a file or kept current from a
 * compacted topic; detectors read it (the risk score's average) and alerts
 * carry the values they used. Read-only during detection. */
#ifndef FW_PROFILES_H
#define FW_PROFILES_H

#include <stdbool.h>
#include <stdint.h>
#include "fw_err.h"
#include "fw_str.h"

#define FW_PROFILE_ID_MAX 64

typedef struct fw_profile {
    char customer_id[FW_PROFILE_ID_MAX + 1];
    uint8_t idlen;
    bool has_avg;
    double avg_amount;       /* "avg_amount" or seed 004's "avg_transaction" */
    char home_country[4];    /* "home_country" or seed 004's "country"; "" = unknown */
} fw_profile;

typedef struct fw_profiles fw_profiles;

fw_profiles *fw_profiles_new(void);
void fw_profiles_destroy(fw_profiles *p);

/**
 * @brief Inserts or replaces one profile from its JSON record, e.g.
 * {"customer_id":"c1","avg_amount":120.5,"home_country":"US"} (seed 004's
 * {"user_id":..,"avg_transaction":..,"country":..} too). Unknown fields are
 * ignored. With @p key present and @p json NULL (a tombstone), removes it.
 * @returns FW_ERR_INVALID with @p errstr naming the field.
 */
fw_err fw_profiles_apply(fw_profiles *p, fw_str key, const char *json, size_t len,
                         char *errstr, size_t errstr_size);

/** @brief Loads an NDJSON file of profile records; errors name file and line. */
fw_err fw_profiles_load_file(fw_profiles *p, const char *path, char *errstr,
                             size_t errstr_size);

/** @brief The profile of @p customer_id, or NULL. */
const fw_profile *fw_profiles_get(const fw_profiles *p, fw_str customer_id);

/** @brief Number of profiles held. */
size_t fw_profiles_count(const fw_profiles *p);

#endif
