/* profiles_follow.h — following the compacted customer-profiles topic in
 * Kafka mode. Every instance reads every partition of it (no group: profiles
 * are a table every task looks customers up in, not a stream to share out),
 * reads it to its end at start-up, then applies updates between batches. */
#ifndef FW_PROFILES_FOLLOW_H
#define FW_PROFILES_FOLLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafka_conf.h"
#include "profiles.h"

typedef struct fw_profiles_follower fw_profiles_follower;

/** @brief Makes sure @p topic exists (compacted; created with @p partitions
 *  and @p replication_factor when missing) and assigns every one of its
 *  partitions from the beginning to a new reader. Updates go into
 *  @p profiles, which the caller keeps alive until the follower is destroyed.
 *  Borrowed strings must outlive the follower.
 *  @returns NULL with @p errstr saying why. */
fw_profiles_follower *fw_profiles_follower_new(const fw_kafka_opts *kafka, const char *topic,
                                               int partitions, int replication_factor,
                                               const char *instance_id, fw_profiles *profiles,
                                               char *errstr, size_t errstr_size);

/** @brief Applies what the topic has now; with @p to_end, first reads every
 *  partition to its end (at start-up, so detection starts with every known
 *  profile; at most 120 s) and logs how many customers are known. Records
 *  that fw_profiles_apply refuses are counted and the first ten logged. */
void fw_profiles_follower_poll(fw_profiles_follower *pf, bool to_end);

/** @brief Profile records applied and refused since the start. */
uint64_t fw_profiles_follower_updates(const fw_profiles_follower *pf);
uint64_t fw_profiles_follower_errors(const fw_profiles_follower *pf);

/** @brief Closes the reader. NULL is a no-op. */
void fw_profiles_follower_destroy(fw_profiles_follower *pf);

#endif
