#!/usr/bin/env bash
# Kafka mode's `run --rules FILE` reloads FILE on SIGHUP (docs/live-rules.md):
# a changed rule whose version increases is switched to, one whose version
# does not is rejected, and a file changing the time section is rejected whole;
# the status topic records each verdict. Transactions before and after show
# the switch in the alerts' rule_version.
source "$(dirname "$0")/lib.sh"

BASE_MS=$(( ($(date +%s) - 3600) * 1000 ))
txn() {
    printf '{"transaction_id":"%s","timestamp":%d,"account_id":"%s","amount":%s}\n' \
        "$1" $(( BASE_MS + $3 * 60000 )) "$1" "$2"
}
count_alerts() { (consume_all "$PREFIX-out" 2>/dev/null || true) | grep -c "$1" || true; }
has_alerts() { [ "$(count_alerts "$1")" -ge "$2" ]; }

start_engine hup --partitions 1 --idle-timeout-ms 3600000
wait_for_log "$ENGINE_LOG" 'assigned partitions \[0\]' 60
{ txn s1 3000 0; txn s2 6000 1; } | send
wait_until 60 "the version 1 alert" - has_alerts '"rule":"high_amount","rule_version":1,' 1

# Same version, new limit: rejected, version 1 keeps running.
cat > "$RULES" <<'JSON'
{"rules": [{"id": "high_amount", "params": {"limit": 2000}}]}
JSON
kill -HUP "$LAST_PID"
wait_for_log "$ENGINE_LOG" 'rule high_amount: SIGHUP rejected: .*version 1 does not increase' 30
# The time section cannot change live: the whole file is rejected.
cat > "$RULES" <<'JSON'
{"time": {"dedupe_window": "1m"}, "rules": [{"id": "high_amount", "version": 2, "params": {"limit": 2000}}]}
JSON
kill -HUP "$LAST_PID"
wait_for_log "$ENGINE_LOG" 'SIGHUP: .*the time and limits sections cannot change while running' 30
{ txn s3 3000 2; } | send
wait_for_log "$ENGINE_LOG" 'progress: 3 transactions read' 30   # s3 judged by version 1
# A raised version: accepted and switched to at the next boundary.
cat > "$RULES" <<'JSON'
{"rules": [{"id": "high_amount", "version": 2, "params": {"limit": 2000}}]}
JSON
kill -HUP "$LAST_PID"
wait_for_log "$ENGINE_LOG" 'rule high_amount: version 1 → 2 \(limit 5000 → 2000\)' 30
{ txn s4 3000 3; } | send
wait_until 60 "the version 2 alert" - has_alerts '"rule":"high_amount","rule_version":2,' 1
assert_eq 0 "$(count_alerts '"transaction_id":"s3"')" \
    "alerts for s3 (3000, read under version 1: the rejected reloads changed nothing)"
assert_eq 1 "$(count_alerts '"rule_version":2,.*"transaction_id":"s4"')" "version 2 alerts for s4"
consume_all "$PREFIX-rules-status" > "$WORK/status"
grep -q '"rule":"high_amount","version":1,"status":"rejected"' "$WORK/status" ||
    fail "status topic: no rejection: $(cat "$WORK/status")"
grep -q '"rule":"high_amount","version":2,"status":"accepted"' "$WORK/status" ||
    fail "status topic: no acceptance: $(cat "$WORK/status")"
echo "ok: status topic holds the rejection and the acceptance"
kill -TERM "$LAST_PID"
wait_for_clean_exit "$LAST_PID" 60 "the engine after SIGTERM" "$ENGINE_LOG"
echo "PASS $TEST_NAME"
