#!/usr/bin/env bash
# A language rule's state survives crashes (docs/rule-language.md, "State and
# the changelog"): an aggregate rule counting 4 payments of one account
# within 1h sees them across two SIGKILLs of the engine. The window's first
# payments are counted before the first kill (its state is in the changelog),
# the alert comes after the restart, and the payment after the second kill is
# deduplicated against the restored last alert. A read_committed reader sees
# the alert once, and the alerts equal file mode's on the same input.
source "$(dirname "$0")/lib.sh"

cat > "$RULES" <<'JSON'
{"rules": [{"id": "fan_in", "enabled": false}, {"id": "cycle", "enabled": false},
           {"id": "mule_cashout", "enabled": false},
           {"id": "acct_burst", "type": "aggregate", "group_by": "account_id", "lookback": "1h",
            "aggregates": {"n": "count", "total": "sum(amount)"}, "having": "n >= 4",
            "reason": "{n} payments totalling {total} within {lookback}"}]}
JSON

BASE_MS=$(( ($(date +%s) - 3600) * 1000 ))
txn() { # txn ID ACCOUNT MINUTE — appended to the whole input too
    printf '{"transaction_id":"%s","timestamp":%d,"account_id":"%s","amount":50}\n' \
        "$1" $(( BASE_MS + $3 * 60000 )) "$2" | tee -a "$WORK/in.ndjson"
}
count_alerts() { (consume_all "$PREFIX-out" 2>/dev/null || true) | grep -c "$1" || true; }
has_alerts() { [ "$(count_alerts "$1")" -ge "$2" ]; }
# A language rule key's value starts with 'L' and format version 3.
lang_state_committed() {
    [ "$( (consume_all "$PREFIX-state-changelog" 2>/dev/null || true) |
          grep -ac $'^L\x03' || true)" -ge 1 ]
}
: > "$WORK/in.ndjson"

# 1. Two payments: a0 is released (a1 moves the watermark past it) and
#    counted; a1 waits in the buffer. Kill once the count is in the changelog.
start_engine first --partitions 1 --commit-interval-ms 100
wait_for_log "$ENGINE_LOG" 'assigned partitions \[0\]' 60
{ txn a0 ACC1 0; txn a1 ACC1 1; } | send
wait_until 60 "the language rule's state in the changelog" - lang_state_committed
kill -9 "$LAST_PID"
wait "$LAST_PID" 2>/dev/null || true
echo "killed the engine with SIGKILL (1) with a0 counted"

# 2. Restart: a2 and a3 make 4 within the hour only with a0 restored.
start_engine second --partitions 1 --commit-interval-ms 100
wait_for_log "$ENGINE_LOG" 'restored partition 0: [1-9][0-9]* keys' 60
{ txn a2 ACC1 2; txn a3 ACC1 3; txn a4 ACC1 4; } | send
wait_until 60 "the acct_burst alert" - has_alerts '"rule":"acct_burst"' 1
kill -9 "$LAST_PID"
wait "$LAST_PID" 2>/dev/null || true
echo "killed the engine with SIGKILL (2) after the alert"

# 3. Restart: a4 (buffered) and a5 count 5 and 6, deduplicated against the
#    restored last alert; z0 (another account, later) releases everything.
start_engine third --partitions 1 --commit-interval-ms 100
wait_for_log "$ENGINE_LOG" 'restored partition 0: [1-9][0-9]* keys' 60
{ txn a5 ACC1 5; txn z0 ACC9 30; } | send
wait_for_log "$ENGINE_LOG" 'progress: [2-9][0-9]* transactions read' 60
kill -TERM "$LAST_PID"
wait_for_clean_exit "$LAST_PID" 60 "the engine after SIGTERM" "$ENGINE_LOG"

"$FW_BIN" run --quiet --rules "$RULES" --input "$WORK/in.ndjson" --output "$WORK/expected.alerts" \
    --dlq "$WORK/expected.dlq"
assert_eq 1 "$(grep -c '"rule":"acct_burst"' "$WORK/expected.alerts")" "file mode's acct_burst alerts"
consume_all "$PREFIX-out" > "$WORK/actual.alerts"
assert_eq 1 "$(grep -c '"rule":"acct_burst"' "$WORK/actual.alerts")" \
    "read_committed acct_burst alerts across two SIGKILLs"
grep -q '"rule":"acct_burst".*"evidence":\[{"transaction_id":"a0"[^}]*},{"transaction_id":"a1"[^}]*},{"transaction_id":"a2"[^}]*},{"transaction_id":"a3"[^}]*}\]' \
    "$WORK/actual.alerts" || fail "the alert's evidence is not a0..a3: $(grep acct_burst "$WORK/actual.alerts")"
assert_same_lines "$WORK/expected.alerts" "$WORK/actual.alerts" "alerts against file mode"
echo "PASS $TEST_NAME"
