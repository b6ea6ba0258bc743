#!/usr/bin/env bash
# Language rules and named lists changed live (docs/live-rules.md), on the
# real broker: a language rule pushed mid-stream alerts from the switch on and
# not on what was judged before it; an invalid one is rejected in the status
# topic with the parser's message while the previous version keeps alerting;
# an aggregate's threshold changed live keeps its state (the alert needs
# events from before the change); a list value pushed to the lists topic makes
# an `in list(...)` rule alert on it; and a SIGKILL during a change leaves a
# read_committed reader every alert once, the restarted instance running the
# topic's version.
source "$(dirname "$0")/lib.sh"

# No built-in rule: only the language rules under test alert.
builtins_off
RT="$PREFIX-rules"
LT="$PREFIX-lists"
BASE_MS=$(( ($(date +%s) - 7200) * 1000 ))   # two hours ago: never ahead of the broker's clock
# txn ID ACCOUNT AMOUNT MINUTE [MERCHANT] — MINUTE minutes after BASE_MS.
txn() {
    local ts=$(( BASE_MS + $4 * 60000 ))
    printf '{"transaction_id":"%s","timestamp":%d,"account_id":"%s","amount":%s,"type":"PAYMENT","merchant_id":"%s"}\n' \
        "$1" "$ts" "$2" "$3" "${5:-m0}"
}
count_alerts() { alerts | grep -c "\"rule\":\"$1\",\"rule_version\":$2," || true; }
has_alerts() { [ "$(count_alerts "$1" "$2")" -ge "$3" ]; }
alerted() { # alerted RULE VERSION — the transactions its alerts name, sorted
    alerts | grep "\"rule\":\"$1\",\"rule_version\":$2," |
        grep -o '"transaction":{"transaction_id":"[^"]*"' | cut -d'"' -f6 | sort | xargs
}
push() { "$FW_BIN" rules push "$1" --topic "$RT"; }
read_count() { grep -o 'progress: [0-9]* transactions read' "$ENGINE_LOG" | tail -1 | cut -d' ' -f2; }
read_at_least() { [ "$(read_count)" -ge "$1" ] 2>/dev/null; }
records_read() { wait_until 60 "$1 records read" read_count read_at_least "$1"; }

METRICS_PORT=${FW_IT_METRICS_PORT:-$(( 20000 + $$ % 20000 ))}
start_engine live --partitions 1 --idle-timeout-ms 3600000 --metrics-port "$METRICS_PORT"
wait_for_log "$ENGINE_LOG" "rules: 0 accepted, 0 rejected, 0 deleted from $RT" 60

# ---- 1. a new language rule pushed mid-stream
# Three large ones, then a small one a minute later: the watermark (10 s out
# of order) releases the three before the push.
{ txn t1 A1 500 0; txn t2 A2 500 1; txn t3 A3 500 2; txn m1 M1 10 3; } | send
records_read 4
cat > "$WORK/big.json" <<'JSON'
{"rules": [{"id": "big_spend", "type": "filter", "version": 1, "when": "amount > 400",
            "reason": "amount {amount} above 400"}]}
JSON
"$FW_BIN" rules diff "$WORK/big.json" --topic "$RT" > "$WORK/diff.out"
grep -q '^would push big_spend: new, version 1$' "$WORK/diff.out" ||
    fail "rules diff: $(cat "$WORK/diff.out")"
push "$WORK/big.json" > "$WORK/push.out"
grep -q '^push big_spend: new, version 1$' "$WORK/push.out" || fail "rules push: $(cat "$WORK/push.out")"
wait_for_log "$ENGINE_LOG" 'rule big_spend: version 1, new \(filter rule\)' 30
echo "ok: the engine switched to the new language rule"
{ txn t4 A4 500 4; txn t5 A5 500 5; txn t6 A6 30 6; txn m2 M2 10 8; } | send
wait_until 60 "two big_spend alerts" "count_alerts big_spend 1" has_alerts big_spend 1 2
assert_eq "t4 t5" "$(alerted big_spend 1)" \
    "transactions big_spend alerted (none of those judged before the switch)"
"$FW_BIN" rules list --topic "$RT" > "$WORK/list.out"
grep -qE '^big_spend +version 1 +enabled +from the topic \(filter rule\)$' "$WORK/list.out" ||
    fail "rules list: $(cat "$WORK/list.out")"
echo "ok: rules list shows the language rule from the topic"
# Output captured before grep -q: leaving at its first match, grep would
# fail a pipefail pipeline whose writer was still writing (SIGPIPE).
metrics_has() { local m; m=$(curl -s "http://127.0.0.1:$METRICS_PORT/metrics") && grep -qF "$1" <<<"$m"; }
wait_until 30 "big_spend in /metrics" - \
    metrics_has 'fraudwatch_rule_info{rule="big_spend",version="1",enabled="1",shadow="0"} 1'
echo "ok: /metrics shows big_spend version 1"

# ---- 2. an invalid change is rejected with the parser's message; version 1 keeps alerting
printf '%s\n' 'big_spend|{"id": "big_spend", "type": "filter", "version": 2, "when": "ammount > 100"}' |
    "$FW_BIN" produce --quiet -t "$RT" -i - --key-separator '|'
wait_for_log "$ENGINE_LOG" 'rule big_spend: rejected .*unknown field' 30
consume_all "$PREFIX-rules-status" > "$WORK/status"
grep -qF '"rule":"big_spend","version":1,"status":"rejected","reason":"rules[0].when: unknown field \"ammount\", did you mean \"amount\"?' \
    "$WORK/status" || fail "status topic: $(cat "$WORK/status")"
echo "ok: status topic: rejected with the parser's message, version 1 running"
{ txn t7 A7 500 9; txn t8 A8 200 10; txn m3 M3 10 12; } | send
wait_until 60 "big_spend alerting after the rejection" "count_alerts big_spend 1" \
    has_alerts big_spend 1 3
assert_eq "t4 t5 t7" "$(alerted big_spend 1)" \
    "big_spend version 1 alerts (t8's 200 is under version 1's 400; the refused rule is not in force)"

# ---- 3. an aggregate's threshold changed live keeps its state
cat > "$WORK/bursts1.json" <<'JSON'
{"rules": [{"id": "big_spend", "type": "filter", "version": 1, "when": "amount > 400",
            "reason": "amount {amount} above 400"},
           {"id": "bursts", "type": "aggregate", "version": 1, "group_by": "account_id",
            "lookback": "1h", "params": {"min": 5}, "aggregates": {"count": "count"},
            "having": "count >= $min"}]}
JSON
push "$WORK/bursts1.json" > /dev/null
wait_for_log "$ENGINE_LOG" 'rule bursts: version 1, new' 30
{ txn b1 B1 100 20; txn b2 B1 100 21; txn b3 B1 100 22; txn m4 M4 10 24; } | send
records_read 15
sed -e 's/"version": 1, "group_by"/"version": 2, "group_by"/' -e 's/"min": 5/"min": 4/' \
    "$WORK/bursts1.json" > "$WORK/bursts2.json"
push "$WORK/bursts2.json" > "$WORK/push2.out"
grep -q '^push bursts: version 1 → 2$' "$WORK/push2.out" || fail "push: $(cat "$WORK/push2.out")"
wait_for_log "$ENGINE_LOG" 'rule bursts: version 1 → 2' 30
{ txn b4 B1 100 25; txn m5 M5 10 27; } | send
wait_until 60 "a bursts alert of version 2" "count_alerts bursts 2" has_alerts bursts 2 1
assert_eq 0 "$(count_alerts bursts 1)" "bursts alerts of version 1"
bursts2=$(alerts | grep '"rule":"bursts","rule_version":2,' || true)
grep -qE '"count":4(\.0*)?[,}]' <<<"$bursts2" ||
    fail "the bursts alert does not count 4: $(alerts | grep '"rule":"bursts"')"
echo "ok: bursts version 2 alerted at b4 counting the three events from before the change"

# ---- 4. a list value pushed to the lists topic
cat > "$WORK/blocked.json" <<'JSON'
{"rules": [{"id": "blocked", "type": "filter", "version": 1,
            "when": "merchant_id in list(\"bad_merchants\")"}]}
JSON
push "$WORK/blocked.json" > /dev/null
wait_for_log "$ENGINE_LOG" 'rule blocked: version 1, new' 30
wait_for_log "$ENGINE_LOG" 'warning: rules name the list\(s\) "bad_merchants"' 30
{ txn l1 L1 50 30 mx; txn m6 M6 10 32; } | send
records_read 19
printf '%s\n' 'bad_merchants|["mx", "my"]' | "$FW_BIN" produce --quiet -t "$LT" -i - --key-separator '|'
wait_for_log "$ENGINE_LOG" 'list bad_merchants: accepted' 30
{ txn l2 L2 50 33 mx; txn l3 L3 50 34 mz; txn m7 M7 10 36; } | send
wait_until 60 "a blocked alert" "count_alerts blocked 1" has_alerts blocked 1 1
assert_eq "l2" "$(alerted blocked 1)" "transactions blocked alerted (l1 came before the list)"

# ---- 4b. SIGHUP: the --rules file's language rules reload the same way
sed -e 's/^{"rules": \[/{"rules": [{"id": "hup_rule", "type": "filter", "when": "amount > 7000"},\n           /' \
    "$RULES" > "$WORK/rules.new" && mv "$WORK/rules.new" "$RULES"
kill -HUP "$LAST_PID"
wait_for_log "$ENGINE_LOG" 'rule hup_rule: version 1, new \(filter rule\)' 30
{ txn s1 S1 8000 40; txn m8 M8 10 42; } | send
wait_until 60 "a hup_rule alert" "count_alerts hup_rule 1" has_alerts hup_rule 1 1
echo "ok: a language rule added to --rules is live after SIGHUP"
kill -TERM "$LAST_PID"
wait_for_clean_exit "$LAST_PID" 60 "the engine after SIGTERM" "$ENGINE_LOG"

# ---- 5. SIGKILL during a change: every alert once, the topic's version after restart
# 30000 transactions, one account each: 900 (above both limits), 300 (above
# version 2's 200, under version 3's 600), 50.
awk -v base="$BASE_MS" 'BEGIN { for (i = 0; i < 30000; i++) {
        amt = (i % 3 == 0) ? 900 : (i % 3 == 1) ? 300 : 50;
        printf "{\"transaction_id\":\"k%d\",\"timestamp\":%.0f,\"account_id\":\"K%d\",\"amount\":%d,\"type\":\"PAYMENT\",\"merchant_id\":\"m0\"}\n",
               i, base + 3600000 + i * 100, i, amt } }' > "$WORK/k.ndjson"
cat > "$WORK/k2.json" <<'JSON'
{"rules": [{"id": "big_spend", "type": "filter", "version": 2, "when": "amount > 200"}]}
JSON
push "$WORK/k2.json" > /dev/null
"$FW_BIN" produce --quiet -t "$PREFIX-in" -i "$WORK/k.ndjson" --partitions 1 --rate 3000 &
producer=$!
PIDS+=("$producer")
LOG_NAME=crashy start_engine live --partitions 1 --idle-timeout-ms 3600000 \
    --commit-interval-ms 100
wait_for_log "$ENGINE_LOG" 'progress: [1-9][0-9]{3,} transactions read' 60
sed -e 's/"version": 2/"version": 3/' -e 's/amount > 200/amount > 600/' "$WORK/k2.json" > "$WORK/k3.json"
push "$WORK/k3.json" > /dev/null
wait_for_log "$ENGINE_LOG" 'rule big_spend: version 2 → 3' 30
sleep 0.3
kill -9 "$LAST_PID"
wait "$LAST_PID" 2>/dev/null || true
echo "killed the engine with SIGKILL just after it switched to big_spend version 3"
LOG_NAME=crashy-final start_engine live --partitions 1 --idle-timeout-ms 3600000
wait_for_log "$ENGINE_LOG" 'rule big_spend: version 3, new \(filter rule\)' 60
echo "ok: the restarted instance runs the topic's version 3 before processing"
wait_for_clean_exit "$producer" 120 "the producer" /dev/null
# Language rules judge a transaction when the watermark releases it: a later one releases the marker.
{ txn kend KEND 9999 115; txn kend2 KEND2 1 117; } | send
marker_seen() { alerts | grep -q '"transaction_id":"kend"'; }
wait_until 180 "the marker's alert" - marker_seen
sleep 2   # a duplicate would show up after the marker
kill -TERM "$LAST_PID"
wait_for_clean_exit "$LAST_PID" 60 "the engine after SIGTERM" "$ENGINE_LOG"
alerts | grep '"transaction":{"transaction_id":"k[0-9]' > "$WORK/k.alerts" || true
assert_eq 10000 "$(grep -c '"amount":900' "$WORK/k.alerts")" \
    "alerts of the 10000 transactions above both limits (900), version 2 or 3"
total=$(wc -l < "$WORK/k.alerts")
assert_eq "$total" "$(grep -o '"alert_id":"[^"]*"' "$WORK/k.alerts" | sort -u | wc -l)" \
    "distinct alert ids among the $total alerts (each alert once)"
assert_eq 0 "$(grep '"amount":300' "$WORK/k.alerts" | grep -vc '"rule_version":2,' || true)" \
    "alerts of 300 transactions not of version 2 (version 3's limit is 600)"
n2=$(grep -c '"amount":300' "$WORK/k.alerts" || true)
[ "$n2" -gt 0 ] && [ "$n2" -lt 10000 ] ||
    fail "version 2 alerted $n2 of the 10000 300s: the switch was not mid-stream"
echo "ok: version 2 alerted $n2 of the 300s before the switch, version 3 none"
echo "PASS $TEST_NAME"
