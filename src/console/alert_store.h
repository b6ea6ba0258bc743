/* alert_store.h — the console's PostgreSQL store (libpq): schema migrations,
 * batches of alerts written with the consumed offsets in one transaction,
 * and the reads the JSON API serves. One fw_store is one connection, used
 * by one thread at a time. */
#ifndef FW_ALERT_STORE_H
#define FW_ALERT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert_row.h"
#include "fw_str.h"

typedef struct fw_store fw_store;

/**
 * @brief Connects to @p url (a libpq connection string or URI) and, when
 * @p migrate, applies the migrations the database has not seen, each in its
 * own transaction, under an advisory lock so two consoles starting at once
 * apply each once. A database at a newer version than this binary knows is
 * refused.
 * @returns the store, or NULL with @p errstr naming the step that failed.
 */
fw_store *fw_store_open(const char *url, bool migrate, char *errstr, size_t errstr_size);
void fw_store_close(fw_store *st);

/** @brief "database D on HOST:PORT, schema version N": for logs, without the
 *  password the URL may hold. @returns @p out. */
const char *fw_store_describe(const fw_store *st, char *out, size_t size);

/** @brief The schema version the database is at (after fw_store_open). */
int fw_store_version(const fw_store *st);

/** @brief Whether the connection is up; reconnects once when it is not. */
bool fw_store_ok(fw_store *st, char *errstr, size_t errstr_size);

/* ---- ingest: begin, put..., offsets, commit (or rollback) ---- */

bool fw_store_begin(fw_store *st, char *errstr, size_t errstr_size);
/** @brief Upserts one alert: a row already there keeps what the analysts set. */
bool fw_store_put_alert(fw_store *st, const fw_alert_row *row, const char *body, size_t len,
                        const char *topic, int32_t partition, int64_t offset, char *errstr,
                        size_t errstr_size);
/** @brief Stores a record that is not an alert, with @p reason. */
bool fw_store_put_dead_letter(fw_store *st, const char *value, size_t len, const char *reason,
                              const char *topic, int32_t partition, int64_t offset,
                              char *errstr, size_t errstr_size);
/** @brief Sets @p group's next offset of @p topic / @p partition (never backwards). */
bool fw_store_set_offset(fw_store *st, const char *group, const char *topic, int32_t partition,
                         int64_t next, char *errstr, size_t errstr_size);
bool fw_store_commit(fw_store *st, char *errstr, size_t errstr_size);
void fw_store_rollback(fw_store *st);

/**
 * @brief The next offsets of @p group for @p n partitions of @p topic:
 * out[i] for partitions[i], -1 when the group has none stored.
 */
bool fw_store_offsets(fw_store *st, const char *group, const char *topic,
                      const int32_t *partitions, int n, int64_t *out, char *errstr,
                      size_t errstr_size);

/* ---- reads for the API ---- */

/** A filter of GET /api/alerts: NULL or INT64_MIN fields do not filter. */
typedef struct fw_alert_filter {
    const char *rule, *severity, *entity_type, *entity_id;
    int shadow;              /* -1: both; 0: live only; 1: shadow only */
    int64_t from_ms, to_ms;  /* event_time in [from, to) */
    const char *before;      /* paging: alerts older than this alert_id's */
    int limit;               /* 1..1000 */
} fw_alert_filter;

/**
 * @brief Appends to @p out a JSON object {"alerts":[...],"next":ID|null}: the
 * alerts matching @p f, newest event time first, each the engine's JSON with
 * "stored" (partition, offset, stored_at) beside it; "next" the alert_id to
 * pass as before= for the page after.
 */
bool fw_store_list_alerts(fw_store *st, const fw_alert_filter *f, fw_buf *out, char *errstr,
                          size_t errstr_size);

/** @brief Appends one alert's JSON as list_alerts gives it; 0 found, 1 not found, -1 error. */
int fw_store_get_alert(fw_store *st, const char *alert_id, fw_buf *out, char *errstr,
                       size_t errstr_size);

/** @brief Rows in alerts (and dead_letters when @p dead), for tests and the stop line. */
int64_t fw_store_count(fw_store *st, bool dead, char *errstr, size_t errstr_size);

#endif
