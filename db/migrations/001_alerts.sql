-- 001_alerts.sql: the alert store. Every alert of the alert topic is one row,
-- upserted by alert_id; the consumed offsets live beside them and change in
-- the same transaction, so a crash or a replay neither doubles nor loses one.

CREATE TABLE alerts (
    alert_id         text PRIMARY KEY,
    rule             text        NOT NULL,
    rule_version     integer,
    severity         text        NOT NULL,
    entity_type      text        NOT NULL,
    entity_id        text        NOT NULL,
    event_time       timestamptz NOT NULL,
    detected_at      timestamptz,
    shadow           boolean     NOT NULL DEFAULT false,
    reason           text        NOT NULL DEFAULT '',
    body             text        NOT NULL,  -- the alert as the engine wrote it (JSON)
    source_topic     text        NOT NULL,
    source_partition integer     NOT NULL,
    source_offset    bigint      NOT NULL,
    stored_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alerts_by_time ON alerts (event_time DESC, alert_id DESC);
CREATE INDEX alerts_by_entity ON alerts (entity_type, entity_id, event_time DESC);
CREATE INDEX alerts_by_rule ON alerts (rule, event_time DESC);

-- Where each console group has read to: the next offset to read.
CREATE TABLE consumer_offsets (
    group_id    text    NOT NULL,
    topic       text    NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint  NOT NULL,
    PRIMARY KEY (group_id, topic, partition)
);

-- Records of the alert topic that are not alerts: kept with the reason and
-- where they came from, never dropped.
CREATE TABLE dead_letters (
    source_topic     text    NOT NULL,
    source_partition integer NOT NULL,
    source_offset    bigint  NOT NULL,
    reason           text    NOT NULL,
    value            bytea   NOT NULL,
    stored_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_topic, source_partition, source_offset)
);
