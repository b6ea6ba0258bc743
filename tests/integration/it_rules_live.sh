#!/usr/bin/env bash
# Live rule changes through the rules control topic (docs/live-rules.md), on
# the real broker: a lower high_amount limit pushed mid-stream gives alerts of
# the new version from the switch on and none of the old after it; an invalid
# rule is rejected in the status topic while the old version keeps alerting; a
# windowed rule's new threshold counts events from before the change; and a
# SIGKILL during a change leaves a read_committed reader every alert once, the
# restarted instance applying the topic's state.
source "$(dirname "$0")/lib.sh"

# Only the rules under test, so alerts are easy to count.
builtins_off high_amount velocity
RT="$PREFIX-rules"
BASE_MS=$(( ($(date +%s) - 7200) * 1000 ))   # two hours ago: never ahead of the broker's clock
# txn ID ACCOUNT AMOUNT MINUTE — one transaction, MINUTE minutes after BASE_MS.
txn() {
    local ts=$(( BASE_MS + $4 * 60000 ))
    printf '{"transaction_id":"%s","timestamp":%d,"account_id":"%s","amount":%s,"type":"PAYMENT"}\n' \
        "$1" "$ts" "$2" "$3"
}
# count_alerts RULE VERSION — committed alerts of RULE at VERSION.
count_alerts() { alerts | grep -c "\"rule\":\"$1\",\"rule_version\":$2," || true; }
has_alerts() { [ "$(count_alerts "$1" "$2")" -ge "$3" ]; }
push() { "$FW_BIN" rules push "$1" --topic "$RT"; }

# The idle timeout would move the watermark to the wall clock, past these
# event times: long enough never to fire here.
METRICS_PORT=${FW_IT_METRICS_PORT:-$(( 20000 + $$ % 20000 ))}
start_engine live --partitions 1 --idle-timeout-ms 3600000 --metrics-port "$METRICS_PORT"
wait_for_log "$ENGINE_LOG" "rules: 0 accepted, 0 rejected, 0 deleted from $RT" 60

# ---- 1. high_amount 5000 -> 2000 mid-stream
{ txn h1 H1 3000 0; txn h2 H2 6000 1; txn h3 H3 3000 2; } | send
wait_until 60 "the first high_amount alert" "count_alerts high_amount 1" has_alerts high_amount 1 1
cat > "$WORK/limit.json" <<'JSON'
{"rules": [{"id": "high_amount", "version": 2, "params": {"limit": 2000}}]}
JSON
"$FW_BIN" rules diff "$WORK/limit.json" --topic "$RT" > "$WORK/diff.out"
grep -q '^would push high_amount: version 1 → 2 (limit 5000 → 2000)$' "$WORK/diff.out" ||
    fail "rules diff: $(cat "$WORK/diff.out")"
push "$WORK/limit.json" > "$WORK/push.out"
grep -q '^push high_amount: version 1 → 2 (limit 5000 → 2000)$' "$WORK/push.out" ||
    fail "rules push: $(cat "$WORK/push.out")"
wait_for_log "$ENGINE_LOG" 'rule high_amount: version 1 → 2 \(limit 5000 → 2000\)' 30
echo "ok: the engine logged the switch"
assert_eq "$WORK/limit.json: nothing to push, $RT holds the same rules" \
    "$(push "$WORK/limit.json")" "a second push of the same file"
{ txn h4 H4 3000 3; txn h5 H5 6000 4; txn h6 H6 1500 5; } | send
wait_until 60 "two high_amount alerts of version 2" "count_alerts high_amount 2" \
    has_alerts high_amount 2 2
alerts > "$WORK/a1"
assert_eq 1 "$(grep -c '"rule":"high_amount","rule_version":1,' "$WORK/a1")" \
    "high_amount alerts of version 1 (h2, before the switch)"
assert_eq "h4 h5" "$(grep '"rule":"high_amount","rule_version":2,' "$WORK/a1" |
    grep -o '"transaction":{"transaction_id":"[^"]*"' | cut -d'"' -f6 | sort | xargs)" \
    "transactions alerted by version 2 (after the switch)"
"$FW_BIN" rules list --topic "$RT" > "$WORK/list.out"
grep -qE '^high_amount +version 2 +enabled +from the topic: limit 5000 → 2000$' "$WORK/list.out" ||
    fail "rules list: $(cat "$WORK/list.out")"
port=$METRICS_PORT
if grep -q "metrics on http://127.0.0.1:$port/metrics" "$ENGINE_LOG"; then
    curl -s "http://127.0.0.1:$port/metrics" > "$WORK/metrics"
    grep -q 'fraudwatch_rule_info{rule="high_amount",version="2",enabled="1",shadow="0"} 1' \
        "$WORK/metrics" || fail "/metrics: $(grep rule_ "$WORK/metrics" | head -5)"
    grep -q 'fraudwatch_rule_updates_total{result="accepted"} 1' "$WORK/metrics" ||
        fail "/metrics updates: $(grep rule_updates "$WORK/metrics")"
    echo "ok: /metrics shows high_amount version 2 and 1 accepted update"
else
    fail "no metrics port in the engine log: $(head -5 "$ENGINE_LOG")"
fi

# ---- 2. an invalid rule is rejected; version 2 keeps alerting
printf 'high_amount|{"id": "high_amount", "version": 3, "params": {"limit": -1}}\n' |
    "$FW_BIN" produce --quiet -t "$RT" -i - --key-separator '|'
printf 'high_amount|{"id": "high_amount", "version": 2, "params": {"limit": 100}}\n' |
    "$FW_BIN" produce --quiet -t "$RT" -i - --key-separator '|'
wait_for_log "$ENGINE_LOG" 'rule high_amount: rejected .*version 2 does not increase' 30
consume_all "$PREFIX-rules-status" > "$WORK/status"
grep -q '"rule":"high_amount","version":2,"status":"rejected","reason":"rules\[0\].params.limit' \
    "$WORK/status" || fail "status topic, invalid limit: $(cat "$WORK/status")"
grep -q '"status":"rejected","reason":"version 2 does not increase (version 2 runs)"' \
    "$WORK/status" || fail "status topic, same version: $(cat "$WORK/status")"
grep -q '"rule":"high_amount","version":2,"status":"accepted",.*"instance":"live"' \
    "$WORK/status" || fail "status topic, the accepted change: $(cat "$WORK/status")"
echo "ok: status topic: the accepted change and both rejections, with reasons"
{ txn h7 H7 3000 6; txn h8 H8 1000 7; } | send
wait_until 60 "version 2 alerting after the rejections" "count_alerts high_amount 2" \
    has_alerts high_amount 2 3
alerts > "$WORK/a2"
assert_eq 0 "$(grep -c '"transaction_id":"h8"' "$WORK/a2" || true)" \
    "alerts for h8 (1000: under version 2's limit; the refused limit 100 is not in force)"

# ---- 3. velocity: 3 -> 4 qualifying transactions; the two before the change count
{ txn v1 V1 1200 10; txn v2 V1 1200 11; } | send
cat > "$WORK/velocity.json" <<'JSON'
{"rules": [{"id": "high_amount", "version": 2, "params": {"limit": 2000}},
           {"id": "velocity", "version": 2, "params": {"min_count": 4}}]}
JSON
push "$WORK/velocity.json" > "$WORK/push2.out"
# high_amount is unchanged, but the topic's latest record for it is the
# rejected one, which compaction could leave alone: push replaces it.
assert_eq "push high_amount: version 2 → 3 (replaces a rejected record)|push velocity: version 1 → 2 (min_count 3 → 4)|pushed 2 rule(s) to $RT" \
    "$(paste -sd'|' "$WORK/push2.out")" "push of the velocity change"
wait_for_log "$ENGINE_LOG" 'rule velocity: version 1 → 2 \(min_count 3 → 4\)' 30
# The third would have fired version 1; the fourth fires version 2 with all four.
# A later transaction moves the watermark past them.
{ txn v3 V1 1200 12; txn v4 V1 1200 13; txn w1 W9 10 30; } | send
wait_until 60 "a velocity alert of version 2" "count_alerts velocity 2" has_alerts velocity 2 1
alerts > "$WORK/a3"
assert_eq 0 "$(grep -c '"rule":"velocity","rule_version":1,' "$WORK/a3" || true)" \
    "velocity alerts of version 1"
assert_eq 4 "$(grep '"rule":"velocity","rule_version":2,' "$WORK/a3" | head -1 |
    grep -o '"transaction_id":"v[1-4]"' | sort -u | wc -l)" \
    "transactions in the version 2 velocity alert's evidence (two from before the change)"
kill -TERM "$LAST_PID"
wait_for_clean_exit "$LAST_PID" 60 "the engine after SIGTERM" "$ENGINE_LOG"

# ---- 4. SIGKILL during a change: every alert once, the topic's state after restart
# 30000 transactions, one account each (no windows): 6000 (above every limit),
# 3000 (above version 3's 2000, under version 4's 4000), 50; then a marker.
awk -v base="$BASE_MS" 'BEGIN { for (i = 0; i < 30000; i++) {
        amt = (i % 3 == 0) ? 6000 : (i % 3 == 1) ? 3000 : 50;
        printf "{\"transaction_id\":\"k%d\",\"timestamp\":%.0f,\"account_id\":\"K%d\",\"amount\":%d,\"type\":\"PAYMENT\"}\n",
               i, base + 3600000 + i * 100, i, amt } }' > "$WORK/k.ndjson"
"$FW_BIN" produce --quiet -t "$PREFIX-in" -i "$WORK/k.ndjson" --partitions 1 --rate 3000 &
producer=$!
PIDS+=("$producer")
LOG_NAME=crashy start_engine live --partitions 1 --idle-timeout-ms 3600000 --commit-interval-ms 100
wait_for_log "$ENGINE_LOG" 'progress: [1-9][0-9]* transactions read' 60
cat > "$WORK/limit3.json" <<'JSON'
{"rules": [{"id": "high_amount", "version": 4, "params": {"limit": 4000}},
           {"id": "velocity", "version": 2, "params": {"min_count": 4}}]}
JSON
push "$WORK/limit3.json" > /dev/null
wait_for_log "$ENGINE_LOG" 'rule high_amount: version 3 → 4' 30
sleep 0.3
kill -9 "$LAST_PID"
wait "$LAST_PID" 2>/dev/null || true
echo "killed the engine with SIGKILL just after it switched to high_amount version 4"
LOG_NAME=crashy-final start_engine live --partitions 1 --idle-timeout-ms 3600000
wait_for_log "$ENGINE_LOG" 'rule high_amount: version 1 → 4 \(limit 5000 → 4000\)' 60
echo "ok: the restarted instance applied the topic's state before processing"
wait_for_clean_exit "$producer" 120 "the producer" /dev/null
txn kend KEND 9999 115 | send   # after the last k (minute 110), not ahead of now
marker_seen() { alerts | grep -q '"transaction_id":"kend"'; }
wait_until 180 "the marker's alert" - marker_seen
sleep 2   # a duplicate would show up after the marker
kill -TERM "$LAST_PID"
wait_for_clean_exit "$LAST_PID" 60 "the engine after SIGTERM" "$ENGINE_LOG"
alerts | grep '"transaction":{"transaction_id":"k[0-9]' > "$WORK/k.alerts" || true
assert_eq 10000 "$(grep -c '"amount":6000' "$WORK/k.alerts")" \
    "alerts of the 10000 transactions above every limit (6000), version 3 or 4"
total=$(wc -l < "$WORK/k.alerts")
assert_eq "$total" "$(grep -o '"alert_id":"[^"]*"' "$WORK/k.alerts" | sort -u | wc -l)" \
    "distinct alert ids among the $total alerts (each alert once)"
assert_eq 0 "$(grep '"amount":3000' "$WORK/k.alerts" | grep -vc '"rule_version":3,' || true)" \
    "alerts of 3000 transactions not of version 3 (version 4's limit is 4000)"
# Version 3 fired for the 3000s read before the switch, none after it: a prefix.
grep '"amount":3000' "$WORK/k.alerts" | grep -o '"transaction_id":"k[0-9]*"' | sort -u |
    tr -dc '0-9\n' | sort -n > "$WORK/k3000.alerted"
n3=$(wc -l < "$WORK/k3000.alerted")
awk -v n="$n3" 'BEGIN { for (i = 1; n > 0; i += 3) { print i; n-- } }' > "$WORK/k3000.prefix"
cmp -s "$WORK/k3000.alerted" "$WORK/k3000.prefix" ||
    fail "version 3 alerts of 3000s are not the first $n3 of them: $(diff "$WORK/k3000.prefix" "$WORK/k3000.alerted" | head -5)"
[ "$n3" -gt 0 ] && [ "$n3" -lt 10000 ] ||
    fail "version 3 alerted $n3 of the 10000 3000s: the switch was not mid-stream"
echo "ok: version 3 alerted the first $n3 of the 3000s, version 4 none after them"
echo "PASS $TEST_NAME"
