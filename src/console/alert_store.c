/* alert_store.c — the console's PostgreSQL store (alert_store.h). Statements
 * are prepared once per connection; every value travels as a parameter,
 * never spliced into SQL. */
#include "alert_store.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
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
    /* A new alert that is not a shadow joins its entity's open case (one is
     * opened when none is); every stored or changed alert is announced to
     * the live feed (NOTIFY, delivered at commit). */
    { "put_alert",
      "WITH c AS (INSERT INTO cases (entity_type, entity_id) SELECT $5, $6 "
      "WHERE NOT $9::boolean AND NOT EXISTS (SELECT 1 FROM alerts WHERE alert_id = $1) "
      "ON CONFLICT (entity_type, entity_id) WHERE status <> 'closed' "
      "DO UPDATE SET updated_at = now() RETURNING case_id), "
      "up AS (INSERT INTO alerts (alert_id, rule, rule_version, severity, entity_type, "
      "entity_id, event_time, detected_at, shadow, reason, body, source_topic, "
      "source_partition, source_offset, case_id) VALUES ($1, $2, $3::integer, $4, $5, $6, "
      "to_timestamp($7::bigint / 1000.0), to_timestamp($8::bigint / 1000.0), $9::boolean, "
      "$10, $11, $12, $13::integer, $14::bigint, (SELECT case_id FROM c)) "
      "ON CONFLICT (alert_id) DO UPDATE SET rule = EXCLUDED.rule, "
      "rule_version = EXCLUDED.rule_version, severity = EXCLUDED.severity, "
      "entity_type = EXCLUDED.entity_type, entity_id = EXCLUDED.entity_id, "
      "event_time = EXCLUDED.event_time, detected_at = EXCLUDED.detected_at, "
      "shadow = EXCLUDED.shadow, reason = EXCLUDED.reason, body = EXCLUDED.body "
      "WHERE alerts.body IS DISTINCT FROM EXCLUDED.body RETURNING alert_id) "
      "SELECT pg_notify('fw_alerts', alert_id) FROM up",
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

/* libpq's messages span lines ("server closed the connection unexpectedly\n\tThis
 * probably means..."): one line each in a log. */
static void one_line(char *s) {
    char *w = s;
    for (const char *r = s; *r; r++) {
        char ch = *r == '\n' || *r == '\t' ? ' ' : *r;
        if (ch != ' ' || (w > s && w[-1] != ' '))
            *w++ = ch;
    }
    while (w > s && w[-1] == ' ')
        w--;
    *w = '\0';
}

/* "WHAT: why" on one line: the result's error (@p r may be NULL), else the
 * connection's. */
static void pq_message(const char *what, PGresult *r, PGconn *c, char *errstr, size_t n) {
    const char *m = r ? PQresultErrorMessage(r) : "";
    snprintf(errstr, n, "%s: %s", what, *m ? m : PQerrorMessage(c));
    one_line(errstr);
}

static bool pq_fail(PGconn *c, const char *what, char *errstr, size_t n) {
    pq_message(what, NULL, c, errstr, n);
    return false;
}

/* Runs @p sql (no parameters); false with errstr unless it returns @p want. */
static bool exec_simple(PGconn *c, const char *sql, ExecStatusType want, const char *what,
                        char *errstr, size_t n) {
    PGresult *r = PQexec(c, sql);
    bool ok = PQresultStatus(r) == want;
    if (!ok)
        pq_message(what, r, c, errstr, n);
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

bool fw_store_ping(fw_store *st, char *errstr, size_t errstr_size) {
    if (fw_store_ok(st, errstr, errstr_size) &&
        exec_simple(st->conn, "SELECT 1", PGRES_TUPLES_OK, "ping", errstr, errstr_size))
        return true;
    return fw_store_ok(st, errstr, errstr_size) &&
           exec_simple(st->conn, "SELECT 1", PGRES_TUPLES_OK, "ping", errstr, errstr_size);
}

bool fw_store_connected(const fw_store *st) { return PQstatus(st->conn) == CONNECTION_OK; }

static bool run_prepared(fw_store *st, const char *name, int nparams, const char *const *values,
                         const int *lengths, const int *formats, char *errstr, size_t n,
                         bool tuples) {
    PGresult *r = PQexecPrepared(st->conn, name, nparams, values, lengths, formats, 0);
    bool ok = PQresultStatus(r) == (tuples ? PGRES_TUPLES_OK : PGRES_COMMAND_OK);
    if (!ok)
        pq_message(name, r, st->conn, errstr, n);
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
    return run_prepared(st, "put_alert", 14, v, lengths, formats, errstr, errstr_size, true);
}

bool fw_store_put_dead_letter(fw_store *st, const char *value, size_t len, const char *reason,
                              const char *topic, int32_t partition, int64_t offset,
                              char *errstr, size_t errstr_size) {
    char part[16], off[24];
    snprintf(part, sizeof(part), "%" PRId32, partition);
    snprintf(off, sizeof(off), "%" PRId64, offset);
    const char *v[5] = { topic, part, off, reason, value ? value : "" };
    int lengths[5] = { 0, 0, 0, 0, (int)len }, formats[5] = { 0, 0, 0, 0, 1 };
    return run_prepared(st, "put_dead_letter", 5, v, lengths, formats, errstr, errstr_size,
                        false);
}

bool fw_store_set_offset(fw_store *st, const char *group, const char *topic, int32_t partition,
                         int64_t next, char *errstr, size_t errstr_size) {
    char part[16], off[24];
    snprintf(part, sizeof(part), "%" PRId32, partition);
    snprintf(off, sizeof(off), "%" PRId64, next);
    const char *v[4] = { group, topic, part, off };
    return run_prepared(st, "set_offset", 4, v, NULL, NULL, errstr, errstr_size, false);
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
    const char *v[11] = { f->rule, f->severity, f->entity_type, f->entity_id,
                          f->shadow < 0 ? NULL : f->shadow ? "true" : "false",
                          f->from_ms == INT64_MIN ? NULL : from,
                          f->to_ms == INT64_MIN ? NULL : to, f->before, limit, f->verdict,
                          f->status };
    PGresult *r = PQexecParams(
        st->conn,
        "SELECT fw_alert_json(alerts), alert_id FROM alerts WHERE "
        "($1::text IS NULL OR rule = $1) AND ($2::text IS NULL OR severity = $2) AND "
        "($3::text IS NULL OR entity_type = $3) AND ($4::text IS NULL OR entity_id = $4) AND "
        "($5::boolean IS NULL OR shadow = $5) AND "
        "($6::bigint IS NULL OR event_time >= to_timestamp($6::bigint / 1000.0)) AND "
        "($7::bigint IS NULL OR event_time < to_timestamp($7::bigint / 1000.0)) AND "
        "($8::text IS NULL OR (event_time, alert_id) < "
        "(SELECT event_time, alert_id FROM alerts WHERE alert_id = $8)) AND "
        "($10::text IS NULL OR verdict IS NOT DISTINCT FROM nullif($10, 'none')) AND "
        "($11::text IS NULL OR case_id IN (SELECT case_id FROM cases WHERE status = $11)) "
        "ORDER BY event_time DESC, alert_id DESC LIMIT $9::integer",
        11, NULL, v, NULL, NULL, 0);
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
    PGresult *r = PQexecParams(st->conn, "SELECT fw_alert_json(a) FROM alerts a WHERE "
                               "alert_id = $1", 1, NULL, v, NULL, NULL, 0);
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

/* ---- cases, verdicts, rule health ---- */

/* The result code of a failed statement: a unique violation is a conflict
 * (a second open case of an entity), a check violation a bad value. */
static int fail_code(PGresult *r, PGconn *c, const char *what, char *errstr, size_t n) {
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (state && !strcmp(state, "23505")) {
        snprintf(errstr, n, "%s: the entity already has a case that is not closed", what);
        return FW_STORE_CONFLICT;
    }
    pq_message(what, r, c, errstr, n);
    return FW_STORE_ERROR;
}

/* Runs @p sql; appends the first column of its first row to @p out.
 * No row: FW_STORE_NOT_FOUND. */
static int query_json(fw_store *st, const char *what, const char *sql, int n,
                      const char *const *v, fw_buf *out, char *errstr, size_t errstr_size) {
    PGresult *r = PQexecParams(st->conn, sql, n, NULL, v, NULL, NULL, 0);
    int rc;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = fail_code(r, st->conn, what, errstr, errstr_size);
    } else if (PQntuples(r) == 0 || PQgetisnull(r, 0, 0)) {
        rc = FW_STORE_NOT_FOUND;
    } else {
        if (out)
            fw_buf_append(out, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
        rc = FW_STORE_OK;
    }
    PQclear(r);
    return rc;
}

/* One transaction: @p write (a statement returning a row when it found
 * what it changes), then @p read for the answer (NULL: write's row is it). */
static int write_then_read(fw_store *st, const char *what, const char *write, const char *read,
                           int n, const char *const *v, int nread, fw_buf *out, char *errstr,
                           size_t errstr_size) {
    if (!fw_store_begin(st, errstr, errstr_size))
        return FW_STORE_ERROR;
    int rc = query_json(st, what, write, n, v, read ? NULL : out, errstr, errstr_size);
    if (rc == FW_STORE_OK && read)
        rc = query_json(st, what, read, nread, v, out, errstr, errstr_size);
    if (rc == FW_STORE_OK && !fw_store_commit(st, errstr, errstr_size))
        rc = FW_STORE_ERROR;
    if (rc != FW_STORE_OK)
        fw_store_rollback(st);
    return rc;
}

int fw_store_list_cases(fw_store *st, const fw_case_filter *f, fw_buf *out, char *errstr,
                        size_t errstr_size) {
    char limit[16];
    snprintf(limit, sizeof(limit), "%d", f->limit + 1);
    const char *v[4] = { f->status, f->assignee, f->before, limit };
    PGresult *r = PQexecParams(
        st->conn,
        "SELECT fw_case_json(c), c.case_id FROM cases c WHERE "
        "($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR assignee = $2) AND "
        "($3::bigint IS NULL OR (updated_at, case_id) < "
        "(SELECT updated_at, case_id FROM cases WHERE case_id = $3::bigint)) "
        "ORDER BY updated_at DESC, case_id DESC LIMIT $4::integer",
        4, NULL, v, NULL, NULL, 0);
    int rc = FW_STORE_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = fail_code(r, st->conn, "listing cases", errstr, errstr_size);
    } else {
        int rows = PQntuples(r), shown = rows > f->limit ? f->limit : rows;
        fw_buf_puts(out, "{\"cases\":[");
        for (int i = 0; i < shown; i++) {
            if (i)
                fw_buf_putc(out, ',');
            fw_buf_append(out, PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0));
        }
        fw_buf_puts(out, "],\"next\":");
        fw_buf_puts(out, rows > f->limit ? PQgetvalue(r, shown - 1, 1) : "null");
        fw_buf_putc(out, '}');
    }
    PQclear(r);
    return rc;
}

int fw_store_get_case(fw_store *st, const char *id, fw_buf *out, char *errstr,
                      size_t errstr_size) {
    const char *v[1] = { id };
    return query_json(st, "reading a case", "SELECT fw_case_detail($1::bigint)", 1, v, out,
                      errstr, errstr_size);
}

#define CASE_READ                                                                          \
    "SELECT '{\"case\":' || fw_case_json(c) || '}' FROM cases c WHERE case_id = $1::bigint"

int fw_store_update_case(fw_store *st, const char *id, const char *status,
                         const char *assignee, const char *actor, fw_buf *out, char *errstr,
                         size_t errstr_size) {
    const char *v[5] = { id, status, assignee ? assignee : "", assignee ? "true" : "false",
                         actor };
    return write_then_read(
        st, "updating a case",
        "WITH old AS (SELECT case_id, status, assignee FROM cases WHERE case_id = $1::bigint "
        "FOR UPDATE), up AS (UPDATE cases c SET status = coalesce($2, c.status), assignee = "
        "CASE WHEN $4::boolean THEN nullif($3, '') ELSE c.assignee END, updated_at = now() "
        "FROM old WHERE c.case_id = old.case_id RETURNING c.case_id, old.status AS was, "
        "c.status, old.assignee AS had, c.assignee), au AS (INSERT INTO audit (case_id, actor, "
        "action, detail) SELECT case_id, $5, 'status', was || ' -> ' || status FROM up WHERE "
        "was <> status UNION ALL SELECT case_id, $5, 'assign', coalesce(had, '(nobody)') || "
        "' -> ' || coalesce(assignee, '(nobody)') FROM up WHERE had IS DISTINCT FROM "
        "assignee) SELECT case_id::text FROM up",
        CASE_READ, 5, v, 1, out, errstr, errstr_size);
}

int fw_store_add_note(fw_store *st, const char *id, const char *author, const char *text,
                      fw_buf *out, char *errstr, size_t errstr_size) {
    const char *v[3] = { id, author, text };
    return write_then_read(
        st, "adding a note",
        "WITH n AS (INSERT INTO case_notes (case_id, author, text) SELECT case_id, $2, $3 FROM "
        "cases WHERE case_id = $1::bigint RETURNING *), au AS (INSERT INTO audit (case_id, "
        "actor, action, detail) SELECT case_id, $2, 'note', left($3, 200) FROM n), cu AS "
        "(UPDATE cases SET updated_at = now() WHERE case_id IN (SELECT case_id FROM n)) "
        "SELECT json_build_object('note', json_build_object('note_id', note_id, 'author', "
        "author, 'text', text, 'at', fw_iso(at)))::text FROM n",
        NULL, 3, v, 0, out, errstr, errstr_size);
}

int fw_store_verdict(fw_store *st, const char *alert_id, const char *case_id,
                     const char *verdict, const char *actor, const char *note, fw_buf *out,
                     char *errstr, size_t errstr_size) {
    const char *v[5] = { alert_id, case_id, verdict, actor, note };
    return write_then_read(
        st, "recording a verdict",
        "WITH v AS (UPDATE alerts SET verdict = $3, verdict_by = $4, verdict_at = now() WHERE "
        "($1::text IS NOT NULL AND alert_id = $1) OR ($2::bigint IS NOT NULL AND case_id = "
        "$2::bigint) RETURNING *), au AS (INSERT INTO audit (case_id, alert_id, actor, action, "
        "detail) SELECT case_id, alert_id, $4, 'verdict', $3 || coalesce(': ' || $5, '') FROM "
        "v), ob AS (INSERT INTO feedback_outbox (alert_id, body) SELECT alert_id, "
        "json_build_object('alert_id', alert_id, 'verdict', $3, 'rule', rule, 'rule_version', "
        "rule_version, 'shadow', shadow, 'entity_type', entity_type, 'entity_id', entity_id, "
        "'event_time', fw_iso(event_time), 'case_id', case_id, 'actor', $4, 'note', $5, 'at', "
        "fw_iso(now()))::text FROM v), cu AS (UPDATE cases SET updated_at = now() WHERE case_id "
        "IN (SELECT case_id FROM v)) SELECT count(*)::text FROM v HAVING count(*) > 0",
        alert_id ? "SELECT fw_alert_json(a) FROM alerts a WHERE alert_id = $1"
                 : "SELECT '{\"case\":' || fw_case_json(c) || '}' FROM cases c WHERE case_id "
                   "= $2::bigint AND $1::text IS NULL",
        5, v, alert_id ? 1 : 2, out, errstr, errstr_size);
}

int fw_store_rule_health(fw_store *st, int days, int silent_days, double min_precision,
                         int min_verdicts, fw_buf *out, char *errstr, size_t errstr_size) {
    char d[16], s[16], p[32], m[16];
    snprintf(d, sizeof(d), "%d", days);
    snprintf(s, sizeof(s), "%d", silent_days);
    snprintf(p, sizeof(p), "%.6f", min_precision);
    snprintf(m, sizeof(m), "%d", min_verdicts);
    const char *v[4] = { d, s, p, m };
    return query_json(st, "rule health",
                      "SELECT fw_rule_health($1::integer, $2::integer, $3::numeric, $4::integer)",
                      4, v, out, errstr, errstr_size);
}

int fw_store_rule_compare(fw_store *st, const char *shadow, const char *live, int days,
                          int within_minutes, fw_buf *out, char *errstr, size_t errstr_size) {
    char d[16], w[16];
    snprintf(d, sizeof(d), "%d", days);
    snprintf(w, sizeof(w), "%d", within_minutes);
    const char *v[4] = { shadow, live, d, w };
    return query_json(st, "comparing rules",
                      "SELECT fw_rule_compare($1::text, $2::text, $3::integer, $4::integer)", 4,
                      v, out, errstr, errstr_size);
}

/* ---- the feedback outbox ---- */

int fw_store_outbox_unsent(fw_store *st, int max,
                           void (*send)(void *ctx, int64_t seq, const char *alert_id,
                                        const char *body, size_t len),
                           void *ctx, char *errstr, size_t errstr_size) {
    char lim[16];
    snprintf(lim, sizeof(lim), "%d", max);
    const char *v[1] = { lim };
    PGresult *r = PQexecParams(st->conn,
                               "SELECT seq, alert_id, body FROM feedback_outbox WHERE sent_at "
                               "IS NULL ORDER BY seq LIMIT $1::integer",
                               1, NULL, v, NULL, NULL, 0);
    int n = -1;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        pq_fail(st->conn, "reading the feedback outbox", errstr, errstr_size);
    } else {
        n = PQntuples(r);
        for (int i = 0; i < n; i++)
            send(ctx, strtoll(PQgetvalue(r, i, 0), NULL, 10), PQgetvalue(r, i, 1),
                 PQgetvalue(r, i, 2), (size_t)PQgetlength(r, i, 2));
    }
    PQclear(r);
    return n;
}

bool fw_store_outbox_sent(fw_store *st, int64_t seq, char *errstr, size_t errstr_size) {
    char s[24];
    snprintf(s, sizeof(s), "%" PRId64, seq);
    const char *v[1] = { s };
    PGresult *r = PQexecParams(st->conn,
                               "UPDATE feedback_outbox SET sent_at = now() WHERE seq = "
                               "$1::bigint",
                               1, NULL, v, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        pq_fail(st->conn, "marking a verdict published", errstr, errstr_size);
    PQclear(r);
    return ok;
}

/* ---- the live feed ---- */

bool fw_store_listen(fw_store *st, char *errstr, size_t errstr_size) {
    return exec_simple(st->conn, "LISTEN fw_alerts", PGRES_COMMAND_OK, "LISTEN", errstr,
                       errstr_size);
}

int fw_store_wait_alerts(fw_store *st, int timeout_ms, fw_buf *out, char *errstr,
                         size_t errstr_size) {
    int sock = PQsocket(st->conn);
    if (sock < 0) {
        snprintf(errstr, errstr_size, "the live feed's connection is closed");
        return -1;
    }
    struct pollfd pfd = { .fd = sock, .events = POLLIN };
    if (poll(&pfd, 1, timeout_ms) < 0 && errno != EINTR) {
        snprintf(errstr, errstr_size, "poll: %s", strerror(errno));
        return -1;
    }
    if (!PQconsumeInput(st->conn)) {
        pq_fail(st->conn, "the live feed", errstr, errstr_size);
        return -1;
    }
    int n = 0;
    PGnotify *note;
    while ((note = PQnotifies(st->conn))) {
        size_t at = out->len;
        fw_buf_puts(out, "event: alert\ndata: ");
        int rc = fw_store_get_alert(st, note->extra, out, errstr, errstr_size);
        if (rc == 0) {
            fw_buf_puts(out, "\n\n");
            n++;
        } else {
            out->len = at; /* gone again (or an error): nothing to announce */
        }
        PQfreemem(note);
        if (rc < 0)
            return -1;
    }
    return n;
}
