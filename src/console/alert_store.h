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
/** @brief A round trip to the server (SELECT 1), reconnecting once if needed:
 *  fw_store_ok alone cannot see a server that went away since the last query. */
bool fw_store_ping(fw_store *st, char *errstr, size_t errstr_size);
/** @brief False once the connection is known to be lost. */
bool fw_store_connected(const fw_store *st);

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
    const char *verdict;     /* confirmed_fraud, false_positive, not_sure, or "none" */
    const char *status;      /* its case's: open, investigating, closed */
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

/* ---- cases, verdicts, rule health: the answer's JSON is appended to out ----
 * Each returns FW_STORE_OK, FW_STORE_NOT_FOUND, FW_STORE_CONFLICT (the
 * entity already has an open case) or FW_STORE_ERROR with errstr. Every
 * write is one database transaction, its audit entries included. */

#define FW_STORE_OK 0
#define FW_STORE_NOT_FOUND 1
#define FW_STORE_CONFLICT 2
#define FW_STORE_ERROR (-1)

/** A filter of GET /api/cases: NULL does not filter. */
typedef struct fw_case_filter {
    const char *status, *assignee;
    const char *before;      /* paging: cases updated before this case_id's */
    int limit;               /* 1..1000 */
} fw_case_filter;

int fw_store_list_cases(fw_store *st, const fw_case_filter *f, fw_buf *out, char *errstr,
                        size_t errstr_size);
/** @brief {"case":..,"alerts":[..],"notes":[..],"audit":[..]} of case @p id. */
int fw_store_get_case(fw_store *st, const char *id, fw_buf *out, char *errstr,
                      size_t errstr_size);
/** @brief Sets status and/or assignee (NULL: unchanged; "" assignee: nobody). */
int fw_store_update_case(fw_store *st, const char *id, const char *status,
                         const char *assignee, const char *actor, fw_buf *out, char *errstr,
                         size_t errstr_size);
int fw_store_add_note(fw_store *st, const char *id, const char *author, const char *text,
                      fw_buf *out, char *errstr, size_t errstr_size);
/** @brief A verdict on one alert (@p case_id NULL) or on every alert of a case;
 *  each one is also queued in feedback_outbox for the alert-feedback topic. */
int fw_store_verdict(fw_store *st, const char *alert_id, const char *case_id,
                     const char *verdict, const char *actor, const char *note, fw_buf *out,
                     char *errstr, size_t errstr_size);
/** @brief Per rule, version and shadow: alerts per day over @p days, verdicts,
 *  precision, time to verdict; flagged "silent" when the newest version has
 *  not alerted in @p silent_days, "low_precision" below @p min_precision with
 *  at least @p min_verdicts verdicts of fraud or not. */
int fw_store_rule_health(fw_store *st, int days, int silent_days, double min_precision,
                         int min_verdicts, fw_buf *out, char *errstr, size_t errstr_size);

/**
 * @brief Shadow rule @p shadow against live rule @p live over the alerts
 * stored in @p days: "both" counts shadow alerts with a live alert of the
 * same entity within @p within_minutes of event time; "only_shadow" the
 * rest; "only_live" live alerts with no such shadow alert.
 */
int fw_store_rule_compare(fw_store *st, const char *shadow, const char *live, int days,
                          int within_minutes, fw_buf *out, char *errstr, size_t errstr_size);

/* ---- the feedback outbox ---- */

/** @brief Calls @p send for up to @p max unsent verdicts, oldest first. */
int fw_store_outbox_unsent(fw_store *st, int max,
                           void (*send)(void *ctx, int64_t seq, const char *alert_id,
                                        const char *body, size_t len),
                           void *ctx, char *errstr, size_t errstr_size);
/** @brief Marks verdict @p seq published. */
bool fw_store_outbox_sent(fw_store *st, int64_t seq, char *errstr, size_t errstr_size);

/* ---- the live feed ---- */

/** @brief LISTENs for alerts stored from now on (a connection of its own). */
bool fw_store_listen(fw_store *st, char *errstr, size_t errstr_size);
/**
 * @brief Waits up to @p timeout_ms for stored alerts and appends each one's
 * JSON (as fw_store_get_alert gives it) to @p out as a server-sent event.
 * @returns the number of alerts, 0 on timeout, -1 when the connection failed.
 */
int fw_store_wait_alerts(fw_store *st, int timeout_ms, fw_buf *out, char *errstr,
                         size_t errstr_size);

/** @brief Rows in alerts (and dead_letters when @p dead), for tests and the stop line. */
int64_t fw_store_count(fw_store *st, bool dead, char *errstr, size_t errstr_size);

#endif
