/* lang_live.h — the language rules and named lists in force while the engine
 * runs, changed one control record at a time (docs/live-rules.md). Three
 * layers give each rule: the --rules file (the base) and the rules topic (a
 * record over it; a tombstone puts the base back, or removes a rule the base
 * lacks); each list: the --rules file's "lists", the --lists file, the lists
 * topic (the later wins; a tombstone takes the topic's away). Every change is
 * checked with the rule parser's message and, when accepted, gives a new
 * fw_lang_rules compiled from the whole document, which the runtime switches
 * its tasks to at a transaction boundary.
 *
 * Pure: no Kafka, no clock. Not a hot path: rules change a few times a day;
 * each change compiles the whole set once. */
#ifndef FW_LANG_LIVE_H
#define FW_LANG_LIVE_H

#include <stdbool.h>
#include <stddef.h>

#include "fw_err.h"
#include "fw_str.h"
#include "lang_rules.h"
#include "rules.h"

typedef struct fw_lang_live fw_lang_live;

/** What a change did, as the status topic says it. */
typedef enum fw_lang_live_result {
    FW_LANG_LIVE_ACCEPTED = 0,
    FW_LANG_LIVE_REJECTED,
    FW_LANG_LIVE_DELETED,
    FW_LANG_LIVE_UNCHANGED, /* a tombstone for a rule the topic did not hold, or the same text */
} fw_lang_live_result;

/** @brief An empty live set over @p base (its time and limits sections size
 *  the rules; copied). NULL on no memory. */
fw_lang_live *fw_lang_live_new(const fw_rules *base);
void fw_lang_live_destroy(fw_lang_live *ll);

/**
 * @brief Makes @p json (a rules document: its entries with a "type" and its
 * "lists") the base layer. Rules the topic holds a record for stay as the
 * topic says. With @p need_increase (a SIGHUP), a rule whose entry changed
 * must raise its version; @p report (may be NULL) hears of each rule that
 * changes or is refused.
 * @returns FW_OK; FW_ERR_INVALID with @p errstr when the document does not
 *          load (nothing changes).
 */
fw_err fw_lang_live_set_base(fw_lang_live *ll, const char *json, size_t n, bool need_increase,
                             void (*report)(void *opaque, const char *id, int version,
                                            fw_lang_live_result r, const char *reason),
                             void *opaque, char *errstr, size_t errstr_size);

/**
 * @brief Applies one rules-topic record whose key is no built-in rule:
 * @p value is one language rule entry (with "type" and "id" = @p key), or
 * NULL (a tombstone). The entry is compiled alone first (so a message names
 * "rules[0]..." with line and column) and then with the whole set.
 * @param version receives the version running after the record.
 * @returns the result; FW_LANG_LIVE_REJECTED with @p errstr saying why.
 */
fw_lang_live_result fw_lang_live_apply(fw_lang_live *ll, fw_str key, const char *value,
                                       size_t len, int *version, char *errstr,
                                       size_t errstr_size);

/** @brief Applies one lists-topic record: key = list name, value = a JSON
 *  array of strings (at most FW_LANG_MAX_LIST_VALUES), NULL = remove the
 *  topic's list. All-or-nothing. */
fw_lang_live_result fw_lang_live_apply_list(fw_lang_live *ll, fw_str name, const char *value,
                                            size_t len, char *errstr, size_t errstr_size);

/** @brief Makes @p json (`{"name": ["v", ...], ...}`) the lists file layer;
 *  all-or-nothing. @returns FW_OK or FW_ERR_INVALID naming the list. */
fw_err fw_lang_live_set_lists_file(fw_lang_live *ll, const char *json, size_t n,
                                   char *errstr, size_t errstr_size);

/**
 * @brief Reads @p rules_file (NULL: keep the base) into the base layer as
 * fw_lang_live_set_base does, then @p lists_file (NULL: none) into the lists
 * file layer. Messages start with the file's path and the option
 * ("--lists FILE: ...").
 * @returns FW_OK, FW_ERR_IO (cannot read), FW_ERR_INVALID, FW_ERR_NOMEM.
 */
fw_err fw_lang_live_load_files(fw_lang_live *ll, const char *rules_file, const char *lists_file,
                               bool need_increase,
                               void (*report)(void *opaque, const char *id, int version,
                                              fw_lang_live_result r, const char *reason),
                               void *opaque, char *errstr, size_t errstr_size);

/** @brief Reads the whole file @p path (at most FW_RULES_MAX_BYTES) into
 *  *@p out (free it). @returns FW_OK, FW_ERR_IO, FW_ERR_INVALID (too big). */
fw_err fw_lang_live_read_file(const char *path, char **out, size_t *n, char *errstr,
                              size_t errstr_size);

/** @brief When the set changed since the last call, hands over the compiled
 *  set in force (the caller frees it with fw_lang_rules_destroy; NULL when no
 *  language rule is left) and returns true. */
bool fw_lang_live_take(fw_lang_live *ll, fw_lang_rules **out);

/** @brief The set in force now, owned by @p ll (NULL: none). */
const fw_lang_rules *fw_lang_live_current(const fw_lang_live *ll);

/** @brief True when the rules topic holds a record for rule @p id. */
bool fw_lang_live_in_topic(const fw_lang_live *ll, const char *id);

/** @brief The version running for @p id, 0 when no such rule. */
int fw_lang_live_version(const fw_lang_live *ll, const char *id);

/** @brief Calls @p fn for every rule in force, in order: its id, version,
 *  whether the topic gives it, and its entry as JSON. */
void fw_lang_live_foreach(const fw_lang_live *ll,
                          void (*fn)(void *opaque, const char *id, int version, bool topic,
                                     const char *json),
                          void *opaque);

/**
 * @brief `rules push`: for each language rule of document @p json, whether it
 * differs from what @p ll runs (anything but its version), and the entry to
 * publish with a version above the live one (the document's when higher).
 * @p fn gets the id, the live version (0: new), the version to publish and
 * the entry text.
 * @returns FW_OK, or FW_ERR_INVALID with @p errstr when the document does not load.
 */
fw_err fw_lang_live_plan(const fw_lang_live *ll, const char *json, size_t n,
                         void (*fn)(void *opaque, const char *id, int live_version,
                                    int version, const char *entry),
                         void *opaque, char *errstr, size_t errstr_size);

/** @brief Writes the names of the lists @p rs's rules name but no source
 *  has given (`in list` is false for them), comma separated, into @p out.
 *  @returns how many there are. */
size_t fw_lang_live_missing_lists(const fw_lang_rules *rs, char *out, size_t size);

#endif
