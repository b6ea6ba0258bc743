/* rules_follow.h — following the compacted rules control topic in Kafka mode
 * (docs/live-rules.md). Every instance reads every partition of it (no group:
 * the rules are a table every task runs, not a stream to share out), reads it
 * to its end at start-up, then checks each new record between batches. A
 * record is checked at once (fw_rules_live_apply) and written to the status
 * topic; the runtime switches its tasks to the result at the next transaction
 * boundary (fw_rules_follower_take). */
#ifndef FW_RULES_FOLLOW_H
#define FW_RULES_FOLLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafka_conf.h"
#include "lang_live.h"
#include "metrics.h"
#include "rules.h"

typedef struct fw_rules_follower fw_rules_follower;

/** Where the language rules and named lists come from besides the topic. */
typedef struct fw_rules_follow_lang {
    const char *rules_file;   /* --rules: its language rules and lists; NULL: none */
    const char *lists_file;   /* --lists; NULL: none */
    const char *lists_topic;  /* compacted lists topic; "" or NULL: none */
} fw_rules_follow_lang;

/**
 * @brief Makes sure @p topic (compacted; "" for none: then only SIGHUP
 * reloads change rules), the lists topic of @p lang (compacted) and
 * @p status_topic ("" for none) exist, creating them with one partition and
 * @p replication_factor, and assigns every partition of both topics from the
 * beginning to a new reader. @p base is what a tombstone puts back (--rules
 * over the defaults, with the flags); it is copied. A key that is no built-in
 * rule is a language rule (lang_live.h). Borrowed strings must outlive the
 * follower.
 * @returns NULL with @p errstr saying why.
 */
fw_rules_follower *fw_rules_follower_new(const fw_kafka_opts *kafka, const char *topic,
                                         const char *status_topic, int replication_factor,
                                         const char *instance_id, const fw_rules *base,
                                         const fw_rules_follow_lang *lang, char *errstr,
                                         size_t errstr_size);

/** @brief Checks what the topic has now; with @p to_end, first reads every
 *  partition to its end (at start-up, at most 120 s). Each record is applied
 *  to the follower's rule set or rejected; both are logged when rejected,
 *  counted and written to the status topic. */
void fw_rules_follower_poll(fw_rules_follower *rf, bool to_end);

/**
 * @brief A SIGHUP: @p file applied over the defaults becomes the new base.
 * Rules the topic holds a record for stay as the topic says; every other rule
 * that differs from the one in force takes the file's version, which must
 * increase (else rejected, as a topic record would be). A file that does not
 * load, or changes the time or limits sections, is rejected as a whole.
 */
void fw_rules_follower_reload(fw_rules_follower *rf, const char *file);

/** @brief When the rule set changed since the last call, copies it into
 *  @p out and returns true: the runtime switches every task to it now. */
bool fw_rules_follower_take(fw_rules_follower *rf, fw_rules *out);

/** @brief When the language rules or lists changed since the last call,
 *  hands over the new compiled set (the caller frees it; NULL: none left)
 *  and returns true: the runtime switches every task to it now. */
bool fw_rules_follower_take_lang(fw_rules_follower *rf, struct fw_lang_rules **out);

/** @brief The language rules in force in the follower (for /metrics and
 *  logs), or NULL. */
const struct fw_lang_rules *fw_rules_follower_lang(const fw_rules_follower *rf);

/** @brief Counts by result, for /metrics. */
void fw_rules_follower_counts(const fw_rules_follower *rf,
                              uint64_t out[FW_RULE_UPDATE__COUNT]);

/** @brief Closes the reader and the status producer (flushing it, at most
 *  5 s). NULL is a no-op. */
void fw_rules_follower_destroy(fw_rules_follower *rf);

/* ---- for `fraudwatch rules list|diff|push` ---- */

/**
 * @brief Reads @p topic (created compacted with one partition when missing)
 * to its end and applies every record over @p base into @p live, as an
 * instance does at start (rejected records are skipped); @p held[i] says the
 * topic holds a record for rule i. Records of language rules go to @p ll
 * (NULL: skipped), over the base it was given.
 * @returns FW_OK, or an error with @p errstr naming the topic.
 */
fw_err fw_rules_topic_read(const fw_kafka_opts *kafka, const char *topic,
                           int replication_factor, const fw_rules *base, fw_rules *live,
                           bool held[FW_RULE__COUNT], bool *bad, fw_lang_live *ll,
                           char *errstr, size_t errstr_size);

/** @brief Publishes @p n records (@p keys[i], @p values[i]) to @p topic,
 *  waiting for every delivery. */
fw_err fw_rules_topic_publish_raw(const fw_kafka_opts *kafka, const char *topic,
                                  const char *const *keys, const char *const *values, size_t n,
                                  char *errstr, size_t errstr_size);

/**
 * @brief Publishes rule i of @p want for each @p which[i] to @p topic (key:
 * rule id, value: fw_rules_write_rule_json), waiting for every delivery.
 * @returns FW_OK, or an error with @p errstr naming the rule and the cause.
 */
fw_err fw_rules_topic_publish(const fw_kafka_opts *kafka, const char *topic,
                              const fw_rules *want, const bool which[FW_RULE__COUNT],
                              char *errstr, size_t errstr_size);

#endif
