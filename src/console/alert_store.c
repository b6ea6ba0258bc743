/* alert_store.c — the console's PostgreSQL store (alert_store.h). Statements
 * are prepared once per connection; every value travels as a parameter,
 * never spliced into SQL. */
#include "alert_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "migrations.h"

#define MIGRATION_LOCK 0x6677636f6e736f6cLL /* "fwconsol": one migrator at a time */

struct fw_store {
    PGconn *conn;
    char *url;
    bool migrate;
    int version;
};

static const struct {
    const char *name, *sql;
    int nparams;
} statements[] = {
    { "put_alert",
      "INSERT INTO alerts (alert_id, rule, rule_version, severity, entity_type, entity_id, "
      "event_time, detected_at, shadow, reason, body, source_topic, source_partition, "
      "source_offset) VALUES ($1, $2, $3::integer, $4, $5, $6, "
      "to_timestamp($7::bigint / 1000.0), to_timestamp($8::bigint / 1000.0), $9::boolean, "
      "$10, $11, $12, $13::integer, $14::bigint) "
      "ON CONFLICT (alert_id) DO UPDATE SET rule = EXCLUDED.rule, "
      "rule_version = EXCLUDED.rule_version, severity = EXCLUDED.severity, "
      "entity_type = EXCLUDED.entity_type, entity_id = EXCLUDED.entity_id, "
      "event_time = EXCLUDED.event_time, detected_at = EXCLUDED.detected_at, "
      "shadow = EXCLUDED.shadow, reason = EXCLUDED.reason, body = EXCLUDED.body "
      "WHERE alerts.body IS DISTINCT FROM EXCLUDED.body",
      14 },
    { "put_dead_letter",
      "INSERT INTO dead_letters (source_topic, source_partition, source_offset, reason, value) "
      "VALUES ($1, $2::integer, $3::bigint, $4, $5::bytea) ON CONFLICT DO NOTHING",
      5 },
    { "set_offset",
      "INSERT INTO consumer_offsets (group_id, topic, partition, next_offset) "
      "VALUES ($1, $2, $3::integer, $4::bigint) ON CONFLICT (group_id, topic, partition) "
      "DO UPDATE SET next_offset = GREATEST(consumer_offsets.next_offset, "
      "EXCLUDED.next_offset)",
      4 },
    { "get_offsets",
      "SELECT partition, next_offset FROM consumer_offsets WHERE group_id = $1 AND "
      "topic = $2",
      2 },
};

/* What a row of alerts gives the API: the engine's JSON with where it was stored. */
#define ALERT_JSON                                                                            \
    "'{\"alert\":' || body || ',\"stored\":{\"topic\":' || to_json(source_topic)::text || "  \
    "',\"partition\":' || source_partition || ',\"offset\":' || source_offset || "           \
    "',\"stored_at\":\"' || to_char(stored_at AT TIME ZONE 'UTC', "                          \
    "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') || '\"}}'"

static bool pq_fail(PGconn *c, const char *what, char *errstr, size_t n) {
    const char *m = PQerrorMessage(c);
    size_t len = strlen(m);
    while (len && (m[len - 1] == '\n' || m[len - 1] == ' '))
        len--;
    snprintf(errstr, n, "%s: %.*s", what, (int)len, m);
    return false;
}

/* Runs @p sql (no parameters); false with errstr unless it returns @p want. */
static bool exec_simple(PGconn *c, const char *sql, ExecStatusType want, const char *what,
                        char *errstr, size_t n) {
    PGresult *r = PQexec(c, sql);
    bool ok = PQresultStatus(r) == want;
    if (!ok) {
        const char *m = PQresultErrorMessage(r);
        size_t len = strlen(m);
        while (len && (m[len - 1] == '\n' || m[len - 1] == ' '))
            len--;
        snprintf(errstr, n, "%s: %.*s", what, (int)len, *m ? m : PQerrorMessage(c));
    }
    PQclear(r);
    return ok;
}

static bool migrate(fw_store *st, char *errstr, size_t n) {
    PGconn *c = st->conn;
    char sql[160];
    snprintf(sql, sizeof(sql), "SELECT pg_advisory_lock(%lld)", MIGRATION_LOCK);
    if (!exec_simple(c, sql, PGRES_TUPLES_OK, "taking the migration lock", errstr, n))
        return false;
    bool ok = exec_simple(c,
                          "CREATE TABLE IF NOT EXISTS schema_migrations (version integer "
                          "PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL "
                          "DEFAULT now())",
                          PGRES_COMMAND_OK, "creating schema_migrations", errstr, n);
    if (ok) {
        PGresult *r = PQexec(c, "SELECT coalesce(max(version), 0) FROM schema_migrations");
        ok = PQresultStatus(r) == PGRES_TUPLES_OK;
        if (ok)
            st->version = atoi(PQgetvalue(r, 0, 0));
        else
            pq_fail(c, "reading schema_migrations", errstr, n);
        PQclear(r);
    }
    int known = fw_nmigrations ? fw_migrations[fw_nmigrations - 1].version : 0;
    if (ok && st->version > known) {
        snprintf(errstr, n, "the database is at schema version %d; this fraudwatch knows "
                 "versions up to %d: run a newer fraudwatch", st->version, known);
        ok = false;
    }
    for (size_t i = 0; ok && i < fw_nmigrations; i++) {
        const fw_migration *m = &fw_migrations[i];
        if (m->version <= st->version)
            continue;
        char what[160];
        snprintf(what, sizeof(what), "migration %s", m->name);
        ok = exec_simple(c, "BEGIN", PGRES_COMMAND_OK, what, errstr, n) &&
             exec_simple(c, m->sql, PGRES_COMMAND_OK, what, errstr, n);
        if (ok) {
            char v[16];
            snprintf(v, sizeof(v), "%d", m->version);
            const char *params[2] = { v, m->name };
            PGresult *r = PQexecParams(c, "INSERT INTO schema_migrations (version, name) "
                                          "VALUES ($1::integer, $2)",
                                       2, NULL, params, NULL, NULL, 0);
            ok = PQresultStatus(r) == PGRES_COMMAND_OK;
            PQclear(r);
            ok = ok ? exec_simple(c, "COMMIT", PGRES_COMMAND_OK, what, errstr, n)
                    : pq_fail(c, what, errstr, n);
        }
        if (!ok) {
            PQclear(PQexec(c, "ROLLBACK"));
            break;
        }
        st->version = m->version;
        fprintf(stderr, "fraudwatch console: applied %s (schema version %d)\n", m->name,
                m->version);
    }
    snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock(%lld)", MIGRATION_LOCK);
    PQclear(PQexec(c, sql));
    return ok;
}

static bool connect_and_prepare(fw_store *st, char *errstr, size_t n) {
    if (st->conn)
        PQfinish(st->conn);
    st->conn = PQconnectdb(st->url);
    if (PQstatus(st->conn) != CONNECTION_OK)
        return pq_fail(st->conn, "connecting to the database", errstr, n);
    /* Times go in as epoch ms and come out as UTC text: the session's zone must not matter. */
    if (!exec_simple(st->conn, "SET TIME ZONE 'UTC'", PGRES_COMMAND_OK, "SET TIME ZONE",
                     errstr, n))
        return false;
    if (st->migrate && !migrate(st, errstr, n))
        return false;
    for (size_t i = 0; i < sizeof(statements) / sizeof(statements[0]); i++) {
        PGresult *r = PQprepare(st->conn, statements[i].name, statements[i].sql,
                                statements[i].nparams, NULL);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok) {
            char what[96];
            snprintf(what, sizeof(what), "preparing %s (is the schema migrated?)",
                     statements[i].name);
            return pq_fail(st->conn, what, errstr, n);
        }
    }
    return true;
}

fw_store *fw_store_open(const char *url, bool do_migrate, char *errstr, size_t errstr_size) {
    fw_store *st = calloc(1, sizeof(*st));
    if (!st || !(st->url = strdup(url))) {
        free(st);
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    st->migrate = do_migrate;
    if (!connect_and_prepare(st, errstr, errstr_size)) {
        fw_store_close(st);
        return NULL;
    }
    return st;
}

void fw_store_close(fw_store *st) {
    if (!st)
        return;
    if (st->conn)
        PQfinish(st->conn);
    free(st->url);
    free(st);
}

int fw_store_version(const fw_store *st) { return st->version; }

bool fw_store_ok(fw_store *st, char *errstr, size_t errstr_size) {
    if (PQstatus(st->conn) == CONNECTION_OK)
        return true;
    return connect_and_prepare(st, errstr, errstr_size);
}

static bool run_prepared(fw_store *st, const char *name, int nparams, const char *const *values,
                         const int *lengths, const int *formats, char *errstr, size_t n) {
    PGresult *r = PQexecPrepared(st->conn, name, nparams, values, lengths, formats, 0);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) {
        const char *m = PQresultErrorMessage(r);
        size_t len = strlen(m);
        while (len && (m[len - 1] == '\n' || m[len - 1] == ' '))
            len--;
        snprintf(errstr, n, "%s: %.*s", name, (int)len, *m ? m : PQerrorMessage(st->conn));
    }
    PQclear(r);
    return ok;
}

bool fw_store_begin(fw_store *st, char *errstr, size_t errstr_size) {
    return exec_simple(st->conn, "BEGIN", PGRES_COMMAND_OK, "BEGIN", errstr, errstr_size);
}

bool fw_store_commit(fw_store *st, char *errstr, size_t errstr_size) {
    return exec_simple(st->conn, "COMMIT", PGRES_COMMAND_OK, "COMMIT", errstr, errstr_size);
}

void fw_store_rollback(fw_store *st) {
    if (PQstatus(st->conn) == CONNECTION_OK)
        PQclear(PQexec(st->conn, "ROLLBACK"));
}

bool fw_store_put_alert(fw_store *st, const fw_alert_row *row, const char *body, size_t len,
                        const char *topic, int32_t partition, int64_t offset, char *errstr,
                        size_t errstr_size) {
    char version[24], event[24], detected[24], part[16], off[24];
    snprintf(version, sizeof(version), "%" PRId64, row->rule_version);
    snprintf(event, sizeof(event), "%" PRId64, row->event_time_ms);
    snprintf(detected, sizeof(detected), "%" PRId64, row->detected_at_ms);
    snprintf(part, sizeof(part), "%" PRId32, partition);
    snprintf(off, sizeof(off), "%" PRId64, offset);
    const char *v[14] = { row->alert_id, row->rule,
                          row->rule_version == INT64_MIN ? NULL : version,
                          row->severity, row->entity_type, row->entity_id, event,
                          row->detected_at_ms == INT64_MIN ? NULL : detected,
                          row->shadow ? "true" : "false", row->reason, body, topic, part, off };
    int lengths[14] = { 0 }, formats[14] = { 0 };
    lengths[10] = (int)len; /* the body is not NUL-terminated: sent as binary text */
    formats[10] = 1;
    return run_prepared(st, "put_alert", 14, v, lengths, formats, errstr, errstr_size);
}

bool fw_store_put_dead_letter(fw_store *st, const char *value, size_t len, const char *reason,
                              const char *topic, int32_t partition, int64_t offset,
                              char *errstr, size_t errstr_size) {
    char part[16], off[24];
    snprintf(part, sizeof(part), "%" PRId32, partition);
    snprintf(off, sizeof(off), "%" PRId64, offset);
    const char *v[5] = { topic, part, off, reason, value ? value : "" };
    int lengths[5] = { 0, 0, 0, 0, (int)len }, formats[5] = { 0, 0, 0, 0, 1 };
    return run_prepared(st, "put_dead_letter", 5, v, lengths, formats, errstr, errstr_size);
}

bool fw_store_set_offset(fw_store *st, const char *group, const char *topic, int32_t partition,
                         int64_t next, char *errstr, size_t errstr_size) {
    char part[16], off[24];
    snprintf(part, sizeof(part), "%" PRId32, partition);
    snprintf(off, sizeof(off), "%" PRId64, next);
    const char *v[4] = { group, topic, part, off };
    return run_prepared(st, "set_offset", 4, v, NULL, NULL, errstr, errstr_size);
}

bool fw_store_offsets(fw_store *st, const char *group, const char *topic,
                      const int32_t *partitions, int n, int64_t *out, char *errstr,
                      size_t errstr_size) {
    for (int i = 0; i < n; i++)
        out[i] = -1;
    const char *v[2] = { group, topic };
    PGresult *r = PQexecPrepared(st->conn, "get_offsets", 2, v, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        pq_fail(st->conn, "reading the stored offsets", errstr, errstr_size);
    for (int row = 0; ok && row < PQntuples(r); row++) {
        int32_t p = (int32_t)atol(PQgetvalue(r, row, 0));
        for (int i = 0; i < n; i++)
            if (partitions[i] == p)
                out[i] = strtoll(PQgetvalue(r, row, 1), NULL, 10);
    }
    PQclear(r);
    return ok;
}

/* Appends each row's first column, comma-separated, inside {"alerts":[...]}. */
static bool rows_to_json(PGresult *r, fw_buf *out, int limit) {
    int n = PQntuples(r);
    int shown = n > limit ? limit : n;
    fw_buf_puts(out, "{\"alerts\":[");
    for (int i = 0; i < shown; i++) {
        if (i)
            fw_buf_putc(out, ',');
        fw_buf_append(out, PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0));
    }
    fw_buf_puts(out, "],\"next\":");
    if (n > limit)
        fw_buf_json_str(out, fw_str_c(PQgetvalue(r, shown - 1, 1)));
    else
        fw_buf_puts(out, "null");
    fw_buf_putc(out, '}');
    return !out->overflow;
}

bool fw_store_list_alerts(fw_store *st, const fw_alert_filter *f, fw_buf *out, char *errstr,
                          size_t errstr_size) {
    char from[24], to[24], limit[16];
    snprintf(from, sizeof(from), "%" PRId64, f->from_ms);
    snprintf(to, sizeof(to), "%" PRId64, f->to_ms);
    snprintf(limit, sizeof(limit), "%d", f->limit + 1); /* one more: is there a next page? */
    const char *v[10] = { f->rule, f->severity, f->entity_type, f->entity_id,
                          f->shadow < 0 ? NULL : f->shadow ? "true" : "false",
                          f->from_ms == INT64_MIN ? NULL : from,
                          f->to_ms == INT64_MIN ? NULL : to, f->before, limit };
    PGresult *r = PQexecParams(
        st->conn,
        "SELECT " ALERT_JSON ", alert_id FROM alerts WHERE "
        "($1::text IS NULL OR rule = $1) AND ($2::text IS NULL OR severity = $2) AND "
        "($3::text IS NULL OR entity_type = $3) AND ($4::text IS NULL OR entity_id = $4) AND "
        "($5::boolean IS NULL OR shadow = $5) AND "
        "($6::bigint IS NULL OR event_time >= to_timestamp($6::bigint / 1000.0)) AND "
        "($7::bigint IS NULL OR event_time < to_timestamp($7::bigint / 1000.0)) AND "
        "($8::text IS NULL OR (event_time, alert_id) < "
        "(SELECT event_time, alert_id FROM alerts WHERE alert_id = $8)) "
        "ORDER BY event_time DESC, alert_id DESC LIMIT $9::integer",
        9, NULL, v, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        pq_fail(st->conn, "listing alerts", errstr, errstr_size);
    else if (!rows_to_json(r, out, f->limit)) {
        snprintf(errstr, errstr_size, "the answer is larger than the response buffer");
        ok = false;
    }
    PQclear(r);
    return ok;
}

int fw_store_get_alert(fw_store *st, const char *alert_id, fw_buf *out, char *errstr,
                       size_t errstr_size) {
    const char *v[1] = { alert_id };
    PGresult *r = PQexecParams(st->conn, "SELECT " ALERT_JSON " FROM alerts WHERE alert_id = $1",
                               1, NULL, v, NULL, NULL, 0);
    int rc = -1;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        pq_fail(st->conn, "reading an alert", errstr, errstr_size);
    } else if (PQntuples(r) == 0) {
        rc = 1;
    } else {
        fw_buf_append(out, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
        rc = 0;
    }
    PQclear(r);
    return rc;
}

int64_t fw_store_count(fw_store *st, bool dead, char *errstr, size_t errstr_size) {
    PGresult *r = PQexec(st->conn, dead ? "SELECT count(*) FROM dead_letters"
                                        : "SELECT count(*) FROM alerts");
    int64_t n = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    else
        pq_fail(st->conn, "counting rows", errstr, errstr_size);
    PQclear(r);
    return n;
}

const char *fw_store_describe(const fw_store *st, char *out, size_t size) {
    const char *host = PQhost(st->conn), *port = PQport(st->conn);
    snprintf(out, size, "database %s on %s:%s, schema version %d", PQdb(st->conn),
             host ? host : "?", port ? port : "?", st->version);
    return out;
}
