#!/usr/bin/env bash
# it_console.sh — `fraudwatch console` against the real broker and a real
# PostgreSQL (scripts/postgres-local): N alerts on a 3-partition alert topic,
# offered at a fixed rate, plus two records that are not alerts. The console
# is killed with SIGKILL mid-stream and started again: the store then holds
# exactly N alerts and 2 dead letters, and the restarted console stored
# exactly the alerts the killed one had not committed (its offsets were
# committed with its rows, so nothing was read twice). A console in another
# group replays the whole topic: still N rows. The JSON API then lists,
# filters, pages and finds them, and refuses bad requests with a 400.
source "$(dirname "$0")/lib.sh"

compgen -G '/usr/lib/postgresql/*/bin/postgres' > /dev/null ||
    { echo "SKIP: no PostgreSQL server (Debian package postgresql; scripts/deps.sh)" >&2; exit 77; }
command -v psql > /dev/null || { echo "SKIP: psql is not installed (postgresql-client)" >&2; exit 77; }
command -v curl > /dev/null || { echo "SKIP: curl is not installed" >&2; exit 77; }

chmod 755 "$WORK" # as root the server runs as user postgres, which must reach its data
export FW_PG_PORT=${FW_PG_TEST_PORT:-$(free_port 55434)} FW_PG_DATA="$WORK/pg"
PG="$FW_SRC/scripts/postgres-local"
trap '"$PG" stop > /dev/null 2>&1 || true; cleanup' EXIT
"$PG" start > "$WORK/pg.log" 2>&1 || { cat "$WORK/pg.log" >&2; fail "postgres-local start"; }
URL=$("$PG" url)
sql() { psql "$URL" -Atqc "$1"; }

# N alerts in the engine's shape, a tenth of them shadow alerts, then two
# records that are not alerts at the start of partition 0's stream.
N=1200
awk -v n=$N 'BEGIN { srand(7); for (i = 1; i <= n; i++) {
    rule = (i % 3 == 0) ? "velocity" : "high_amount"
    printf "{\"alert_id\":\"fw-%032x\",\"rule\":\"%s\",\"rule_version\":1,\"severity\":\"%s\",", i, rule, (i % 2) ? "high" : "medium"
    printf "\"entity_type\":\"account\",\"entity_id\":\"A%d\",\"event_time\":\"2024-01-01T%02d:%02d:%02d.000Z\",", i % 50, int(i / 3600), int(i / 60) % 60, i % 60
    printf "\"reason\":\"test %d\"%s,\"evidence\":[{\"transaction_id\":\"t%d\",\"merchant_id\":\"<script>alert(1)</script>\"}]}\n", i, (i % 10 == 0) ? ",\"shadow\":true" : "", i
} }' > "$WORK/alerts.ndjson"
printf 'not an alert\n{"alert_id":"x","rule":"r"}\n' > "$WORK/bad.ndjson"
"$FW_BIN" produce --quiet -t "$PREFIX-alerts" -i "$WORK/bad.ndjson" --partitions 3

console() { # console NAME GROUP ARGS...: in the background, log in $WORK/NAME.log
    local name=$1 group=$2; shift 2
    "$FW_BIN" console -d "$URL" --alerts-topic "$PREFIX-alerts" -g "$group" "$@" \
        > "$WORK/$name.log" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
}

console first "$PREFIX" --port -1
FIRST=$LAST_PID
wait_for_log "$WORK/first.log" "assigned partitions" 60
"$FW_BIN" produce --quiet -t "$PREFIX-alerts" -i "$WORK/alerts.ndjson" --rate 400 &
PRODUCER=$!
PIDS+=("$PRODUCER")
rows() { sql "select count(*) from alerts"; }
rows_200() { [ "$(rows)" -ge 200 ]; }
wait_until 60 "at least 200 rows stored" rows rows_200
kill -9 "$FIRST"
sleep 1 # the server rolls back the killed console's open transaction
AFTER_KILL=$(rows)
echo "killed the console with $AFTER_KILL of $N alerts stored"
[ "$AFTER_KILL" -lt "$N" ] || fail "the kill came after the last alert ($AFTER_KILL rows): not mid-stream"
wait "$PRODUCER" || fail "produce failed"

console second "$PREFIX" --port -1 --exit-at-end
wait_for_exit "$LAST_PID" 120 "the restarted console"
[ "$WAIT_STATUS" = 0 ] || { cat "$WORK/second.log" >&2; fail "the restarted console exited $WAIT_STATUS"; }
STORED=$(grep -oE 'stopped: [0-9]+ alert records stored' "$WORK/second.log" | grep -oE '[0-9]+')
assert_eq "$N" "$(rows)" "alerts in the store after the kill and the restart"
assert_eq "$N" "$(sql "select count(distinct alert_id) from alerts")" "distinct alert ids"
assert_eq "$((N - AFTER_KILL))" "$STORED" "alerts the restarted console stored (none read twice)"
assert_eq 2 "$(sql "select count(*) from dead_letters")" "dead letters"
assert_eq 1 "$(sql "select count(*) from dead_letters where reason = 'missing \"severity\"'")" \
    "the dead letter without a severity, with its reason"
assert_eq $((N / 10)) "$(sql "select count(*) from alerts where shadow")" "shadow alerts marked"
END_OFFSETS=$(sql "select sum(next_offset) from consumer_offsets where group_id = '$PREFIX'")
assert_eq $((N + 2)) "$END_OFFSETS" "stored next offsets (every record of the topic)"

# Another group replays the whole topic: upserts, no new rows.
console replay "$PREFIX-replay" --port 0 --exit-at-end
wait_for_exit "$LAST_PID" 120 "the replaying console"
assert_eq "$N" "$(rows)" "alerts in the store after a replay"
grep -q "stopped: $N alert records stored, 2 dead letters" "$WORK/replay.log" ||
    fail "the replay's stop line: $(grep stopped "$WORK/replay.log")"

# The API, from a console that keeps running, with writes allowed and an
# engine's /metrics to read (a file served as an engine would serve it).
mkdir "$WORK/engine"
cat > "$WORK/engine/metrics" <<'METRICS'
# TYPE fraudwatch_transactions_read_total counter
fraudwatch_transactions_read_total{partition="0"} 1000
fraudwatch_transactions_read_total{partition="1"} 500
fraudwatch_alerts_total{rule="velocity"} 7
fraudwatch_consumer_lag_records{partition="0"} 12
fraudwatch_consumer_lag_records{partition="1"} 3
fraudwatch_alert_latency_seconds_bucket{rule="velocity",le="0.01"} 90
fraudwatch_alert_latency_seconds_bucket{rule="velocity",le="0.05"} 99
fraudwatch_alert_latency_seconds_bucket{rule="velocity",le="+Inf"} 100
METRICS
python3 -m http.server --bind 127.0.0.1 --directory "$WORK/engine" 0 > "$WORK/engine.log" 2>&1 &
PIDS+=($!)
wait_for_log "$WORK/engine.log" "Serving HTTP on" 30
ENGINE_PORT=$(grep -oE 'port [0-9]+' "$WORK/engine.log" | head -1 | grep -oE '[0-9]+')
TOKEN=s3cret-token
CONSOLE_TOKEN=$TOKEN console api "$PREFIX" --port 0 --feedback-topic "$PREFIX-feedback" \
    --engines "http://127.0.0.1:$ENGINE_PORT/metrics,http://127.0.0.1:1/metrics"
wait_for_log "$WORK/api.log" "on http://" 60
API=$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$WORK/api.log" | head -1)
get() { curl -s -o "$WORK/body.json" -w '%{http_code}' "$API$1"; }
field() { python3 -c "import json,sys; d=json.load(open('$WORK/body.json')); print($1)"; }
assert_eq 200 "$(get /health)" "GET /health"
assert_eq 200 "$(get "/api/alerts?limit=1000&shadow=any")" "GET /api/alerts"
assert_eq 1000 "$(field "len(d['alerts'])")" "a page of 1000"
NEXT=$(field "d['next']")
assert_eq 200 "$(get "/api/alerts?limit=1000&before=$NEXT")" "the next page"
assert_eq $((N - 1000)) "$(field "len(d['alerts'])")" "the rest on the second page"
assert_eq None "$(field "d['next']")" "no page after the last"
assert_eq 200 "$(get "/api/alerts?rule=velocity&shadow=false&limit=1000")" "filtered by rule and shadow"
assert_eq "$(awk 'NR % 3 == 0 && NR % 10 != 0' "$WORK/alerts.ndjson" | wc -l)" \
    "$(field "len(d['alerts'])")" "velocity alerts that are not shadow"
assert_eq "{'velocity'}" "$(field "set(a['alert']['rule'] for a in d['alerts'])")" "their rule"
assert_eq 200 "$(get "/api/entities/account/A7/alerts?limit=1000")" "an entity's alerts"
assert_eq $((N / 50)) "$(field "len(d['alerts'])")" "A7's alerts"
ID=fw-$(printf '%032x' 7)
assert_eq 200 "$(get "/api/alerts/$ID")" "one alert"
assert_eq "$ID <script>alert(1)</script>" \
    "$(field "d['alert']['alert_id'] + ' ' + d['alert']['evidence'][0]['merchant_id']")" \
    "the alert as the engine wrote it"
assert_eq 404 "$(get /api/alerts/fw-none)" "an unknown alert"
assert_eq 400 "$(get "/api/alerts?limit=0")" "a bad limit"
assert_eq "limit: a whole number from 1 to 1000" "$(field "d['error']")" "its message"
assert_eq 405 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$API/api/alerts")" "POST"

# Cases: one per entity of the live (not shadow) alerts: A0, A10, ... have
# only shadow alerts (every tenth), so 45 of the 50 accounts.
assert_eq 200 "$(get "/api/cases?limit=1000")" "GET /api/cases"
assert_eq 45 "$(field "len(d['cases'])")" "cases (one per account with live alerts)"
assert_eq 200 "$(get "/api/alerts/$ID")" "an alert with its case"
CASE=$(field "d['case_id']")
[ "$CASE" != None ] || fail "alert $ID has no case"
assert_eq None "$(get "/api/alerts/fw-$(printf '%032x' 10)" > /dev/null; field "d['case_id']")" \
    "a shadow alert's case"
assert_eq 200 "$(get "/api/cases/$CASE")" "GET /api/cases/ID"
assert_eq "account A7 open 24" \
    "$(field "' '.join(str(d['case'][k]) for k in ('entity_type','entity_id','status','alerts'))")" \
    "the case of A7"
assert_eq 24 "$(field "len(d['alerts'])")" "its alerts listed"

# Writes: the token, the Content-Type, the body.
post() { # post PATH BODY [TOKEN [TYPE]]: the status; the answer in body.json
    curl -s -o "$WORK/body.json" -w '%{http_code}' -X POST -H "Content-Type: ${4:-application/json}" \
        ${3:+-H "Authorization: Bearer $3"} --data-binary "$2" "$API$1"
}
VERDICT='{"verdict":"confirmed_fraud","actor":"ann","note":"customer confirmed"}'
assert_eq 401 "$(post "/api/alerts/$ID/verdict" "$VERDICT")" "a verdict without the token"
assert_eq 401 "$(post "/api/alerts/$ID/verdict" "$VERDICT" wrong)" "with a wrong token"
assert_eq 415 "$(post "/api/alerts/$ID/verdict" "$VERDICT" "$TOKEN" text/plain)" "as text/plain"
assert_eq 400 "$(post "/api/alerts/$ID/verdict" '{"verdict":"maybe","actor":"ann"}' "$TOKEN")" \
    "an unknown verdict"
assert_eq 413 "$(post "/api/cases/$CASE/notes" "$(head -c 20000 /dev/zero | tr '\0' a)" "$TOKEN")" \
    "a body over 16384 bytes"
assert_eq None "$(get "/api/alerts/$ID" > /dev/null; field "d['verdict']")" "no verdict yet"
assert_eq 200 "$(post "/api/alerts/$ID/verdict" "$VERDICT" "$TOKEN")" "a verdict"
assert_eq confirmed_fraud "$(field "d['verdict']")" "the alert's verdict"
assert_eq "ann|verdict|confirmed_fraud: customer confirmed" \
    "$(sql "select actor || '|' || action || '|' || detail from audit where alert_id = '$ID'")" \
    "its audit entry"
feedback_has() { # the alert-feedback topic into feedback.ndjson; holds alert $1?
    "$FW_BIN" consume -t "$PREFIX-feedback" -e --timeout-ms 5000 2>/dev/null \
        > "$WORK/feedback.ndjson" || true
    grep -q "$1" "$WORK/feedback.ndjson"
}
wait_until 30 "the verdict on the alert-feedback topic" - feedback_has "$ID"
assert_eq "confirmed_fraud ann high_amount" \
    "$(python3 -c "import json; d=json.loads(open('$WORK/feedback.ndjson').readline()); print(d['verdict'], d['actor'], d['rule'])")" \
    "the feedback record"
assert_eq 0 "$(sql "select count(*) from feedback_outbox where sent_at is null")" "verdicts left unsent"

# The case: assigned, worked, judged as a whole, noted, closed; the audit trail has it all.
assert_eq 200 "$(post "/api/cases/$CASE" '{"actor":"ann","status":"investigating","assignee":"bob"}' "$TOKEN")" \
    "assign and investigate"
assert_eq "investigating bob" "$(field "d['case']['status'] + ' ' + d['case']['assignee']")" "the case now"
assert_eq 201 "$(post "/api/cases/$CASE/notes" '{"author":"bob","text":"<b>called</b> the customer"}' "$TOKEN")" \
    "a note"
assert_eq 200 "$(post "/api/cases/$CASE/verdict" '{"verdict":"false_positive","actor":"bob"}' "$TOKEN")" \
    "a verdict on the case"
assert_eq 24 "$(field "d['case']['verdicts']['false_positive']")" "every alert of the case judged"
# The analyst changes her mind on one of them: its own verdict wins again.
assert_eq 200 "$(post "/api/alerts/$ID/verdict" "$VERDICT" "$TOKEN")" "the first alert judged again"
assert_eq 200 "$(post "/api/cases/$CASE" '{"actor":"bob","status":"closed"}' "$TOKEN")" "close it"
assert_eq 200 "$(get "/api/cases/$CASE")" "the closed case"
assert_eq "status assign note status" \
    "$(field "' '.join(a['action'] for a in d['audit'] if a['action'] != 'verdict')")" "the case's own audit entries"
assert_eq 26 "$(field "sum(1 for a in d['audit'] if a['action'] == 'verdict')")" \
    "verdict entries (1 + 24 + 1)"
assert_eq "<b>called</b> the customer" "$(field "d['notes'][0]['text']")" "the note, as written"
assert_eq 404 "$(post "/api/cases/999999/notes" '{"author":"bob","text":"x"}' "$TOKEN")" "a note on no case"
assert_eq 400 "$(post "/api/cases/$CASE" '{"actor":"bob"}' "$TOKEN")" "a case change that changes nothing"

# A new alert of A7 opens a new case; the closed one cannot be reopened beside it.
NEW_ID=fw-$(printf '%032x' 99999)
printf '{"alert_id":"%s","rule":"high_amount","rule_version":1,"severity":"high","entity_type":"account","entity_id":"A7","event_time":"2024-01-02T00:00:00.000Z","reason":"new"}\n' "$NEW_ID" \
    > "$WORK/new.ndjson"
# and two shadow velocity alerts of A7 for the comparison below: one within an hour
# of A7's live velocity alerts, one five hours after them
for at in 00:30:00 05:00:00; do
    printf '{"alert_id":"fw-shadow-%s","rule":"velocity","rule_version":2,"severity":"high","entity_type":"account","entity_id":"A7","event_time":"2024-01-01T%s.000Z","reason":"shadow","shadow":true}\n' \
        "${at//:/}" "$at" >> "$WORK/new.ndjson"
done
curl -s -N "$API/api/stream" > "$WORK/stream.txt" &
PIDS+=($!)
wait_until 30 "the live feed to open" - grep -q "connected" "$WORK/stream.txt"
"$FW_BIN" produce --quiet -t "$PREFIX-alerts" -i "$WORK/new.ndjson"
wait_until 30 "the new alert on the live feed" - grep -q "$NEW_ID" "$WORK/stream.txt"
assert_eq "event: alert" "$(grep -B1 "$NEW_ID" "$WORK/stream.txt" | head -1)" "the feed's event"
assert_eq 200 "$(get "/api/alerts/$NEW_ID")" "the new alert"
NEW_CASE=$(field "d['case_id']")
[ "$NEW_CASE" != "$CASE" ] && [ "$NEW_CASE" != None ] || fail "the new alert's case: $NEW_CASE (closed: $CASE)"
assert_eq 409 "$(post "/api/cases/$CASE" '{"actor":"bob","status":"open"}' "$TOKEN")" \
    "reopening beside the new case"
assert_eq 200 "$(get "/api/alerts?status=closed&limit=1000")" "alerts of closed cases"
assert_eq 24 "$(field "len(d['alerts'])")" "A7's first case's alerts"
assert_eq 200 "$(get "/api/alerts?verdict=confirmed_fraud")" "alerts judged fraud"
assert_eq "$ID" "$(field "' '.join(a['alert']['alert_id'] for a in d['alerts'])")" \
    "the one confirmed so far"
assert_eq 200 "$(get "/api/alerts?verdict=none&entity_id=A7&limit=1000")" "A7's unjudged alerts"
assert_eq "$NEW_ID fw-shadow-050000 fw-shadow-003000" \
    "$(field "' '.join(a['alert']['alert_id'] for a in d['alerts'])")" "the new one and the shadows"

# Rule health from the verdicts: A7's 24 alerts are 16 of high_amount and 8 of
# velocity (every third alert), all false positives but the first, confirmed.
health() { # health RULE: "confirmed false_positive precision flags" of its live version
    field "' '.join(str(x) for x in [(r['verdicts']['confirmed_fraud'], r['verdicts']['false_positive'], r['precision'], r['flags']) for r in d['rules'] if r['rule'] == '$1' and not r['shadow']][0])"
}
assert_eq 200 "$(get "/api/rules/health?days=30&min_verdicts=5&min_precision=0.5")" "rule health"
assert_eq "1 15 0.0625 ['low_precision']" "$(health high_amount)" "high_amount's verdicts"
assert_eq "0 8 0.0 ['low_precision']" "$(health velocity)" "velocity's verdicts"
assert_eq 200 "$(post "/api/cases/$NEW_CASE/verdict" '{"verdict":"confirmed_fraud","actor":"bob"}' "$TOKEN")" \
    "a verdict on the new case"
get "/api/rules/health?days=30&min_verdicts=5&min_precision=0.1" > /dev/null
assert_eq "2 15 0.1176 []" "$(health high_amount)" "high_amount's precision moved by it"

# eval scores the rules against the same verdicts, read back from the topic.
outbox_empty() { [ "$(sql "select count(*) from feedback_outbox where sent_at is null")" = 0 ]; }
wait_until 30 "every verdict published" - outbox_empty
"$FW_BIN" eval --feedback "$PREFIX-feedback" --json "$WORK/eval.json" > "$WORK/eval.txt" ||
    fail "eval --feedback: $(cat "$WORK/eval.txt")"
assert_eq "2 15 0.11764705882352941" \
    "$(python3 -c "import json; r=[r for r in json.load(open('$WORK/eval.json'))['rules'] if r['rule'] == 'high_amount'][0]; print(r['confirmed_fraud'], r['false_positive'], r['precision'])")" \
    "eval --feedback: high_amount from the topic"
assert_eq 25 "$(python3 -c "import json; print(json.load(open('$WORK/eval.json'))['alerts'])")" \
    "eval --feedback: alerts judged (A7's 24 and the new one)"
assert_eq "5" "$(field "len(d['rules'])")" \
    "rules listed (2 rules, live and shadow, and velocity's shadow version 2)"
assert_eq 400 "$(get "/api/rules/health?days=0")" "a bad days"

# A shadow rule against its live counterpart (here the same rules: every tenth alert is a
# shadow one), matched by entity within an hour of event time; expected from the data.
assert_eq 200 "$(get "/api/rules/compare?shadow=velocity&live=velocity&within_minutes=60")" \
    "compare shadow velocity with live velocity"
EXPECTED=$(python3 - "$WORK/alerts.ndjson" "$WORK/new.ndjson" <<'PY'
import json, sys
from datetime import datetime
rows = [json.loads(l) for f in sys.argv[1:] for l in open(f)]
t = lambda a: datetime.fromisoformat(a['event_time'].replace('Z', '+00:00')).timestamp()
s = [a for a in rows if a['rule'] == 'velocity' and a.get('shadow')]
l = [a for a in rows if a['rule'] == 'velocity' and not a.get('shadow')]
near = lambda a, bs: any(b['entity_id'] == a['entity_id'] and abs(t(a) - t(b)) <= 3600 for b in bs)
both = sum(near(a, l) for a in s)
print(len(s), len(l), both, len(s) - both, sum(not near(b, s) for b in l))
PY
)
assert_eq "$EXPECTED" \
    "$(field "' '.join(str(d[k]) for k in ('shadow_alerts','live_alerts','both','only_shadow','only_live'))")" \
    "shadow alerts, live alerts, both, only shadow, only live"
assert_eq "1 41" "$(field "str(d['both']) + ' ' + str(d['only_shadow'])")" "A7's near shadow alert in both"
assert_eq 400 "$(get "/api/rules/compare?live=velocity")" "a comparison without its shadow rule"

# The engine page: one engine up (its rate from the second reading on), one down.
assert_eq 200 "$(get /api/engines)" "GET /api/engines"
assert_eq "True 7 15 50 None False" \
    "$(field "' '.join(str(x) for x in (d['engines'][0]['up'], d['engines'][0]['alerts'], d['engines'][0]['lag'], d['engines'][0]['latency_p99_ms'], d['engines'][0]['transactions_per_second'], d['engines'][1]['up']))")" \
    "engines: up, alerts, lag, latency p99, no rate yet; the second down"
[ -n "$(field "d['engines'][1]['error']")" ] || fail "the engine that is down has no error"
assert_eq 200 "$(get /api/engines)" "GET /api/engines again"
assert_eq 0 "$(field "d['engines'][0]['transactions_per_second']")" "the rate from two readings"

# The database goes away mid-stream: the console answers 503, keeps its place, and
# once the database is back every alert offered meanwhile is stored, once.
"$PG" stop > /dev/null 2>&1
assert_eq 503 "$(get /health)" "/health while the database is down"
for i in 1 2 3; do
    printf '{"alert_id":"fw-outage-%d","rule":"high_amount","severity":"high","entity_type":"account","entity_id":"B%d","event_time":"2024-01-03T00:00:0%d.000Z"}\n' \
        "$i" "$i" "$i"
done > "$WORK/outage.ndjson"
"$FW_BIN" produce --quiet -t "$PREFIX-alerts" -i "$WORK/outage.ndjson"
wait_for_log "$WORK/api.log" "the database refused a batch" 60
"$PG" start > /dev/null 2>&1 || fail "postgres-local start after the outage"
outage_stored() { [ "$(sql "select count(*) from alerts where alert_id like 'fw-outage-%'")" = 3 ]; }
wait_until 60 "the alerts offered during the outage stored" - outage_stored
wait_for_log "$WORK/api.log" "the database answers again" 30
assert_eq "$((N + 6))" "$(rows)" "alerts in the store after the outage (N, the new one, two shadows, three)"
assert_eq 200 "$(get /health)" "/health once the database is back"
echo "PASS $TEST_NAME"
