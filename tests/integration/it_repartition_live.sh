#!/usr/bin/env bash
# A live rule change that needs a stage no instance reads yet: an aggregate
# grouped by merchant_id pushed to the rules topic of a 3-partition engine
# running no keyed rule. The engine creates the stage's repartition topic and
# changelog, takes its partitions along with the input's, and the rule sees the transactions of a
# merchant from every input partition: three accounts paying one merchant
# within ten minutes give one alert naming all three.
source "$(dirname "$0")/lib.sh"

builtins_off
RT="$PREFIX-rules"
BASE_MS=$(( ($(date +%s) - 7200) * 1000 ))   # two hours ago: never ahead of the broker's clock
txn() { # txn ID ACCOUNT MINUTE MERCHANT
    printf '{"transaction_id":"%s","timestamp":%d,"account_id":"%s","amount":25,"type":"PAYMENT","merchant_id":"%s"}\n' \
        "$1" $(( BASE_MS + $3 * 60000 )) "$2" "$4"
}
send3() { "$FW_BIN" produce --quiet -t "$PREFIX-in" -i - --partitions 3; }

start_engine live --partitions 3 --idle-timeout-ms 2000
wait_for_log "$ENGINE_LOG" "rules: 0 accepted, 0 rejected, 0 deleted from $RT" 60
grep -q "stage merchant_id" "$ENGINE_LOG" && fail "a merchant_id stage before any rule needs it"

cat > "$WORK/merchant.json" <<'JSON'
{"rules": [{"id": "merchant_payers", "type": "aggregate", "version": 1,
            "group_by": "merchant_id", "lookback": "10m",
            "aggregates": {"payers": "count_distinct(account_id)"},
            "having": "payers >= 3",
            "reason": "{payers} accounts paid merchant {merchant_id} within {lookback}"}]}
JSON
"$FW_BIN" rules push "$WORK/merchant.json" --topic "$RT" > /dev/null
wait_for_log "$ENGINE_LOG" "stage merchant_id: rules keyed by merchant_id read $PREFIX-repartition-merchant_id" 60
wait_for_log "$ENGINE_LOG" "assigned partitions \[[0-9,]+\] of $PREFIX-repartition-merchant_id" 60
echo "ok: the rule's stage has its topic and its partitions are assigned"

# Four accounts, spread over the input partitions by the producer's partitioner.
{ txn p1 acct-1 0 m7; txn p2 acct-2 1 m7; txn p3 acct-3 2 m7; txn p4 acct-4 3 m8; } | send3
wait_until 60 "one merchant_payers alert" - \
    bash -c "[ \$(\"$FW_BIN\" consume -t \"$PREFIX-out\" -e --timeout-ms 10000 2>/dev/null | grep -c merchant_payers) -ge 1 ]"
alerts > "$WORK/actual.alerts"
assert_eq 1 "$(grep -c '"rule":"merchant_payers"' "$WORK/actual.alerts")" "merchant_payers alerts"
assert_eq "p1 p2 p3" "$(grep -o '"transaction_id":"p[0-9]"' "$WORK/actual.alerts" | cut -d'"' -f4 | sort -u | head -3 | xargs)" \
    "transactions the alert names"
parts=$("$FW_BIN" consume -t "$PREFIX-repartition-merchant_id" -e --timeout-ms 10000 2>/dev/null | grep -c '"merchant_id":"m7"' || true)
assert_eq 3 "$parts" "m7 transactions forwarded to the merchant_id stage"
echo "PASS $TEST_NAME"
