-- 003_console_reads.sql: the console's larger reads as functions, so their SQL is
-- read and reviewed here rather than in C strings. Each returns the API's JSON as text.

-- A case with its newest 500 alerts, its notes and its audit trail (GET /api/cases/ID);
-- NULL when there is no such case.
CREATE FUNCTION fw_case_detail(id bigint) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT '{"case":' || fw_case_json(c)
        || ',"alerts":[' || coalesce((
            SELECT string_agg(fw_alert_json(a), ',' ORDER BY a.event_time DESC, a.alert_id DESC)
            FROM (SELECT * FROM alerts WHERE case_id = c.case_id
                  ORDER BY event_time DESC LIMIT 500) a), '')
        || '],"notes":' || coalesce((
            SELECT json_agg(json_build_object('note_id', note_id, 'author', author,
                                              'text', text, 'at', fw_iso(at)) ORDER BY note_id)
            FROM case_notes WHERE case_id = c.case_id)::text, '[]')
        || ',"audit":' || coalesce((
            SELECT json_agg(json_build_object('actor', actor, 'action', action,
                                              'detail', detail, 'alert_id', alert_id,
                                              'at', fw_iso(at)) ORDER BY audit_id)
            FROM audit WHERE case_id = c.case_id)::text, '[]')
        || '}'
    FROM cases c WHERE c.case_id = id
$$;

-- Per rule, version and shadow flag over the last `days` days (GET /api/rules/health):
-- alerts (and per day), verdicts, precision, median hours to a verdict, the last alert,
-- and the flags: 'silent' (the newest version raised nothing for `silent_days`) and
-- 'low_precision' (below `min_precision` once `min_verdicts` verdicts are in).
CREATE FUNCTION fw_rule_health(days integer, silent_days integer, min_precision numeric,
                               min_verdicts integer) RETURNS text LANGUAGE sql STABLE AS $$
    WITH w AS (SELECT now() - make_interval(days => days) AS since),
    r AS (
        SELECT rule, rule_version, shadow,
               count(*) FILTER (WHERE stored_at >= w.since) AS alerts,
               count(*) FILTER (WHERE stored_at >= w.since
                                AND verdict = 'confirmed_fraud') AS cf,
               count(*) FILTER (WHERE stored_at >= w.since
                                AND verdict = 'false_positive') AS fp,
               count(*) FILTER (WHERE stored_at >= w.since AND verdict = 'not_sure') AS ns,
               percentile_cont(0.5) WITHIN GROUP (
                   ORDER BY extract(epoch FROM verdict_at - stored_at) / 3600.0)
                   FILTER (WHERE stored_at >= w.since AND verdict_at IS NOT NULL) AS mh,
               max(stored_at) AS last,
               rank() OVER (PARTITION BY rule, shadow
                            ORDER BY rule_version DESC NULLS LAST) AS newest
        FROM alerts, w
        GROUP BY rule, rule_version, shadow),
    d AS (
        SELECT rule, rule_version, shadow,
               json_agg(json_build_object('day', day, 'alerts', n) ORDER BY day) AS per_day
        FROM (SELECT rule, rule_version, shadow,
                     to_char(stored_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
                     count(*) AS n
              FROM alerts, w WHERE stored_at >= w.since
              GROUP BY 1, 2, 3, 4) x
        GROUP BY 1, 2, 3)
    SELECT json_build_object('days', days, 'rules', coalesce(json_agg(json_build_object(
        'rule', r.rule, 'rule_version', r.rule_version, 'shadow', r.shadow,
        'alerts', r.alerts, 'alerts_per_day', coalesce(d.per_day, '[]'::json),
        'verdicts', json_build_object('confirmed_fraud', cf, 'false_positive', fp,
                                      'not_sure', ns),
        'precision', CASE WHEN cf + fp > 0 THEN round(cf::numeric / (cf + fp), 4) END,
        'median_hours_to_verdict', round(mh::numeric, 3),
        'last_alert_at', fw_iso(last),
        'flags', array_remove(ARRAY[
            CASE WHEN newest = 1 AND last < now() - make_interval(days => silent_days)
                 THEN 'silent' END,
            CASE WHEN cf + fp >= min_verdicts AND cf::numeric / (cf + fp) < min_precision
                 THEN 'low_precision' END], NULL))
        ORDER BY r.rule, r.rule_version, r.shadow), '[]'::json))::text
    FROM r LEFT JOIN d ON d.rule = r.rule
                      AND d.rule_version IS NOT DISTINCT FROM r.rule_version
                      AND d.shadow = r.shadow
$$;

-- A shadow rule against its live counterpart over the last `days` days
-- (GET /api/rules/compare): alerts both raised (same entity, event times at most
-- `within_minutes` apart), only the shadow raised, only the live raised.
CREATE FUNCTION fw_rule_compare(shadow_rule text, live_rule text, days integer,
                                within_minutes integer) RETURNS text LANGUAGE sql STABLE AS $$
    WITH s AS (SELECT entity_type, entity_id, event_time FROM alerts
               WHERE rule = shadow_rule AND shadow
                 AND stored_at >= now() - make_interval(days => days)),
    l AS (SELECT entity_type, entity_id, event_time FROM alerts
          WHERE rule = live_rule AND NOT shadow
            AND stored_at >= now() - make_interval(days => days)),
    sm AS (SELECT EXISTS (
               SELECT 1 FROM l
               WHERE l.entity_type = s.entity_type AND l.entity_id = s.entity_id
                 AND l.event_time BETWEEN s.event_time - make_interval(mins => within_minutes)
                                      AND s.event_time + make_interval(mins => within_minutes)
           ) AS hit FROM s),
    lm AS (SELECT EXISTS (
               SELECT 1 FROM s
               WHERE l.entity_type = s.entity_type AND l.entity_id = s.entity_id
                 AND s.event_time BETWEEN l.event_time - make_interval(mins => within_minutes)
                                      AND l.event_time + make_interval(mins => within_minutes)
           ) AS hit FROM l)
    SELECT json_build_object(
        'shadow', shadow_rule, 'live', live_rule, 'days', days,
        'within_minutes', within_minutes,
        'shadow_alerts', (SELECT count(*) FROM s), 'live_alerts', (SELECT count(*) FROM l),
        'both', (SELECT count(*) FROM sm WHERE hit),
        'only_shadow', (SELECT count(*) FROM sm WHERE NOT hit),
        'only_live', (SELECT count(*) FROM lm WHERE NOT hit))::text
$$;
