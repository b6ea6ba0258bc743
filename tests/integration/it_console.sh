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
export FW_PG_PORT=${FW_PG_TEST_PORT:-55434} FW_PG_DATA="$WORK/pg"
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

# The API, from a console that keeps running.
console api "$PREFIX" --port 0
wait_for_log "$WORK/api.log" "API on http://" 60
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
echo "PASS $TEST_NAME"
