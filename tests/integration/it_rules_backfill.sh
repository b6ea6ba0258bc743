#!/usr/bin/env bash
# "backfill": true (docs/live-rules.md#backfill), on the real broker: three
# events of one account, then a live change adds `count >= 4` twice — with
# backfill and without — and `count >= 2` with backfill. The task replays its
# partition into the backfill rules (no alert for the replayed past: the
# `count >= 2` rule, satisfied twice in the past, stays silent), the moved
# state reaches the changelog at the next commit, and survives a SIGKILL:
# after the restart (which does not rerun the backfill) the fourth event
# alerts under the backfill rule with the three old ones as evidence; the rule
# without backfill, started empty, does not alert.
source "$(dirname "$0")/lib.sh"

# No built-in rule: only the language rules under test alert.
builtins_off
RT="$PREFIX-rules"
BASE_MS=$(( ($(date +%s) - 7200) * 1000 ))   # two hours ago: never ahead of the broker's clock
# txn ID ACCOUNT AMOUNT MINUTE — MINUTE minutes after BASE_MS.
txn() {
    local ts=$(( BASE_MS + $4 * 60000 ))
    printf '{"transaction_id":"%s","timestamp":%d,"account_id":"%s","amount":%s,"type":"PAYMENT","merchant_id":"m0"}\n' \
        "$1" "$ts" "$2" "$3"
}
count_alerts() { alerts | grep -c "\"rule\":\"$1\"," || true; }
has_alerts() { [ "$(count_alerts "$1")" -ge "$2" ]; }
alerted() { # alerted RULE — the transactions its alerts name, sorted
    alerts | grep "\"rule\":\"$1\"," |
        grep -o '"transaction":{"transaction_id":"[^"]*"' | cut -d'"' -f6 | sort | xargs
}
read_count() { grep -o 'progress: [0-9]* transactions read' "$ENGINE_LOG" | tail -1 | cut -d' ' -f2; }
read_at_least() { [ "$(read_count)" -ge "$1" ] 2>/dev/null; }

start_engine live --partitions 1 --idle-timeout-ms 3600000
wait_for_log "$ENGINE_LOG" "rules: 0 accepted, 0 rejected, 0 deleted from $RT" 60

# Three events of B1, and a marker a minute later whose watermark releases them.
{ txn b1 B1 100 0; txn b2 B1 100 1; txn b3 B1 100 2; txn m1 M1 10 4; } | send
wait_until 60 "4 records read" read_count read_at_least 4

cat > "$WORK/bf.json" <<'JSON'
{"rules": [{"id": "bf_yes", "type": "aggregate", "group_by": "account_id", "lookback": "1h",
            "aggregates": {"count": "count"}, "having": "count >= 4", "backfill": true},
           {"id": "bf_no", "type": "aggregate", "group_by": "account_id", "lookback": "1h",
            "aggregates": {"count": "count"}, "having": "count >= 4"},
           {"id": "bf_past", "type": "aggregate", "group_by": "account_id", "lookback": "1h",
            "aggregates": {"count": "count"}, "having": "count >= 2", "backfill": true}]}
JSON
"$FW_BIN" rules push "$WORK/bf.json" --topic "$RT" > /dev/null
wait_for_log "$ENGINE_LOG" 'rule bf_yes: partition 0: backfilled 4 records .* in [0-9.]+ s; 1 keys' 60
grep -q 'rule bf_past: partition 0: backfilled 4 records' "$ENGINE_LOG" ||
    fail "no backfill line for bf_past: $(grep backfill "$ENGINE_LOG")"
grep -q 'rule bf_no: partition 0: backfilled' "$ENGINE_LOG" &&
    fail "bf_no (no backfill key) was backfilled"
echo "ok: the change backfilled bf_yes and bf_past from 4 records, not bf_no"
# Captured first: with pipefail, grep -q leaving at its first match would
# fail the pipeline whenever rules show was still writing (SIGPIPE).
shown=$("$FW_BIN" rules show --rules "$WORK/bf.json")
grep -q '"backfill": true' <<< "$shown" ||
    fail "rules show does not write \"backfill\": true back: $shown"

# The moved keys ride in the next commit (every 100 ms); then a SIGKILL.
sleep "$(scaled_wait 2)"
kill -9 "$LAST_PID"
wait "$LAST_PID" 2>/dev/null || true
echo "killed the engine with SIGKILL after the backfill"
LOG_NAME=after-kill start_engine live --partitions 1 --idle-timeout-ms 3600000
wait_for_log "$ENGINE_LOG" 'restored partition 0' 60
{ txn b4 B1 100 5; txn m2 M2 10 7; } | send
wait_until 60 "a bf_yes alert" "count_alerts bf_yes" has_alerts bf_yes 1
grep -q 'backfilled' "$ENGINE_LOG" && fail "the restarted instance backfilled again"
assert_eq "b4" "$(alerted bf_yes)" "transactions bf_yes alerted (the state came from the changelog)"
line=$(alerts | grep '"rule":"bf_yes",')
echo "$line" | grep -qE '"count":4(\.0*)?[,}]' || fail "the bf_yes alert does not count 4: $line"
for id in b1 b2 b3 b4; do
    echo "$line" | grep -q "\"$id\"" || fail "the bf_yes alert lacks $id as evidence: $line"
done
echo "ok: bf_yes alerted at b4 counting the three events from before the change"
assert_eq "b4" "$(alerted bf_past)" \
    "transactions bf_past alerted (none for the replayed past b2, b3)"
assert_eq 0 "$(count_alerts bf_no)" "bf_no alerts (started empty: 1 event of B1)"
kill -TERM "$LAST_PID"
wait_for_clean_exit "$LAST_PID" 60 "the engine after SIGTERM" "$ENGINE_LOG"
echo "PASS $TEST_NAME"
