-- 002_cases.sql: the analysts' work. Alerts of one entity group into its
-- open case; each alert and case gets a verdict; every change is in the
-- audit trail; each verdict also waits in feedback_outbox until the console
-- has published it to the alert-feedback topic.

CREATE TABLE cases (
    case_id     bigserial PRIMARY KEY,
    entity_type text        NOT NULL,
    entity_id   text        NOT NULL,
    status      text        NOT NULL DEFAULT 'open'
                CHECK (status IN ('open', 'investigating', 'closed')),
    assignee    text,
    opened_at   timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
-- At most one case of an entity is not closed: a new alert joins it.
CREATE UNIQUE INDEX cases_one_open ON cases (entity_type, entity_id) WHERE status <> 'closed';
CREATE INDEX cases_by_update ON cases (updated_at DESC, case_id DESC);

ALTER TABLE alerts
    ADD COLUMN case_id    bigint REFERENCES cases,
    ADD COLUMN verdict    text CHECK (verdict IN ('confirmed_fraud', 'false_positive', 'not_sure')),
    ADD COLUMN verdict_by text,
    ADD COLUMN verdict_at timestamptz;
CREATE INDEX alerts_by_case ON alerts (case_id);

CREATE TABLE case_notes (
    note_id bigserial PRIMARY KEY,
    case_id bigint      NOT NULL REFERENCES cases,
    author  text        NOT NULL,
    text    text        NOT NULL,
    at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX case_notes_by_case ON case_notes (case_id, note_id);

-- Who did what, when: never updated, never deleted.
CREATE TABLE audit (
    audit_id bigserial PRIMARY KEY,
    case_id  bigint REFERENCES cases,
    alert_id text,
    actor    text        NOT NULL,
    action   text        NOT NULL,
    detail   text        NOT NULL DEFAULT '',
    at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_by_case ON audit (case_id, audit_id);

-- Verdicts to publish, keyed by alert id; sent_at is set once Kafka has them.
CREATE TABLE feedback_outbox (
    seq        bigserial PRIMARY KEY,
    alert_id   text        NOT NULL,
    body       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz
);
CREATE INDEX feedback_unsent ON feedback_outbox (seq) WHERE sent_at IS NULL;

-- The API's JSON, built where the rows are.
CREATE FUNCTION fw_iso(t timestamptz) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- An alert as the API gives it: the engine's JSON, where it was stored, its case and verdict.
CREATE FUNCTION fw_alert_json(a alerts) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT '{"alert":' || a.body || ',"stored":'
        || json_build_object('topic', a.source_topic, 'partition', a.source_partition,
                             'offset', a.source_offset, 'stored_at', fw_iso(a.stored_at))::text
        || ',"case_id":' || coalesce(a.case_id::text, 'null')
        || ',"verdict":' || coalesce(to_json(a.verdict)::text, 'null') || '}'
$$;

CREATE FUNCTION fw_case_json(c cases) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'case_id', c.case_id, 'entity_type', c.entity_type, 'entity_id', c.entity_id,
        'status', c.status, 'assignee', c.assignee, 'opened_at', fw_iso(c.opened_at),
        'updated_at', fw_iso(c.updated_at), 'alerts', count(*),
        'verdicts', json_build_object(
            'confirmed_fraud', count(*) FILTER (WHERE verdict = 'confirmed_fraud'),
            'false_positive', count(*) FILTER (WHERE verdict = 'false_positive'),
            'not_sure', count(*) FILTER (WHERE verdict = 'not_sure')))::text
    FROM alerts WHERE case_id = c.case_id
$$;
