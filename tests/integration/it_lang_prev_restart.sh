#!/usr/bin/env bash
# A language rule's history (prev., is_new; docs/rule-language.md, "History")
# survives a crash: b0 is released, becomes its account's prev and marks its
# merchant seen, and that state reaches the changelog; the engine is then
# SIGKILLed. After the restart b1, in another country with the same merchant,
# must compare with the restored b0 (one `hop` alert naming b0 and b1) and
# must not count as a new merchant. A read_committed reader sees exactly file
# mode's alerts on the same input.
source "$(dirname "$0")/lib.sh"

cat > "$RULES" <<'JSON'
{"rules": [{"id": "fan_in", "enabled": false}, {"id": "cycle", "enabled": false},
           {"id": "mule_cashout", "enabled": false},
           {"id": "hop", "type": "filter", "group_by": "account_id", "prev_within": "2h",
            "when": "country != prev.country", "reason": "{prev.country} then {country}"},
           {"id": "newm", "type": "filter", "group_by": "account_id",
            "when": "is_new(merchant_id, 1d)", "reason": "new merchant {merchant_id}"}]}
JSON

BASE_MS=$(( ($(date +%s) - 3600) * 1000 ))
txn() { # txn ID ACCOUNT MINUTE COUNTRY MERCHANT — appended to the whole input too
    local m=""
    [ -n "$5" ] && m=",\"merchant_id\":\"$5\""
    printf '{"transaction_id":"%s","timestamp":%d,"account_id":"%s","amount":50,"country":"%s"%s}\n' \
        "$1" $(( BASE_MS + $3 * 60000 )) "$2" "$4" "$m" | tee -a "$WORK/in.ndjson"
}
lang_state_committed() {
    [ "$( (consume_all "$PREFIX-state-changelog" 2>/dev/null || true) |
          grep -ac $'^L\x03' || true)" -ge 2 ]
}
: > "$WORK/in.ndjson"

# 1. b0 is released by a later record of another account and judged: its
#    account's prev and seen merchant go to the changelog. Then SIGKILL.
start_engine first --partitions 1 --commit-interval-ms 100
wait_for_log "$ENGINE_LOG" 'assigned partitions \[0\]' 60
{ txn b0 ACC1 0 FR M1; txn y0 ACC8 1 DE M8; } | send
wait_until 60 "the history of both rules in the changelog" - lang_state_committed
kill -9 "$LAST_PID"
wait "$LAST_PID" 2>/dev/null || true
echo "killed the engine with SIGKILL with b0 judged"

# 2. Restart: b1 compares with the restored b0; z0 releases everything (an
#    empty merchant is present: it would be new, so z0 has none).
start_engine second --partitions 1 --commit-interval-ms 100
wait_for_log "$ENGINE_LOG" 'restored partition 0: [1-9][0-9]* keys' 60
{ txn b1 ACC1 2 US M1; txn z0 ACC9 30 DE ""; } | send # z0 stays buffered: no merchant, no alert
wait_for_log "$ENGINE_LOG" 'progress: [2-9][0-9]* transactions read' 60
kill -TERM "$LAST_PID"
wait_for_clean_exit "$LAST_PID" 60 "the engine after SIGTERM" "$ENGINE_LOG"

"$FW_BIN" run --quiet --rules "$RULES" --input "$WORK/in.ndjson" --output "$WORK/expected.alerts" \
    --dlq "$WORK/expected.dlq"
consume_all "$PREFIX-out" > "$WORK/actual.alerts"
assert_eq 1 "$(grep -c '"rule":"hop"' "$WORK/actual.alerts")" "read_committed hop alerts across a SIGKILL"
grep -q '"rule":"hop".*"evidence":\[{"transaction_id":"b0"[^}]*},{"transaction_id":"b1"[^}]*}\]' \
    "$WORK/actual.alerts" || fail "the hop alert's evidence is not b0, b1: $(grep '"hop"' "$WORK/actual.alerts")"
assert_eq 1 "$(grep -c '"rule":"newm".*"entity_id":"account_id=ACC1"' "$WORK/actual.alerts")" \
    "new-merchant alerts of ACC1 (M1 remembered across the SIGKILL)"
assert_same_lines "$WORK/expected.alerts" "$WORK/actual.alerts" "alerts against file mode"
echo "PASS $TEST_NAME"
