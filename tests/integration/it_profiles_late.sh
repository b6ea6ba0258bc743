#!/usr/bin/env bash
# Enrichment and late data through the real broker: profiles published to the
# compacted profiles topic reach the risk score (and the alert says so), and a
# record later than the allowed lateness lands in the late topic with its
# source, never in a window.
source "$(dirname "$0")/lib.sh"

printf '%s\n' '{"user_id":"c1","avg_transaction":10,"country":"US"}' > "$WORK/profiles.ndjson"
"$FW_BIN" produce --quiet -t "$PREFIX-profiles" -i "$WORK/profiles.ndjson" --partitions 1

base=1704067200000
{
    for i in 0 1 2 3 4 5; do
        printf '{"transaction_id":"p%d","timestamp":%d,"account_id":"a1","customer_id":"c1","amount":100,"merchant_id":"m%d"}\n' \
            "$i" $((base + i * 60000)) "$i"
    done
    # An hour later, then one from before the allowed lateness (5 min): late.
    printf '{"transaction_id":"later","timestamp":%d,"account_id":"a1","customer_id":"c1","amount":1}\n' $((base + 3600000))
    printf '{"transaction_id":"too-late","timestamp":%d,"account_id":"a1","customer_id":"c1","amount":1}\n' $((base + 60000))
} > "$WORK/in.ndjson"
"$FW_BIN" produce --quiet -t "$PREFIX-in" -i "$WORK/in.ndjson" --partitions 1

start_engine solo --partitions 1 --exit-at-end --profiles-topic "$PREFIX-profiles" \
    --late-topic "$PREFIX-late"
wait_for_clean_exit "$LAST_PID" 60 "the engine reading its input to the end" "$WORK/solo.log"
grep -q "profiles: 1 customers" "$WORK/solo.log" || fail "profiles not loaded: $(grep profiles "$WORK/solo.log")"

consume_all "$PREFIX-out" > "$WORK/alerts"
assert_eq 1 "$(grep -c '"rule":"risk_score"' "$WORK/alerts")" "risk_score alerts"
grep -q '"profile":{"customer_id":"c1","avg_amount":10,"home_country":"US"}' "$WORK/alerts" \
    || fail "the alert does not carry the profile: $(cat "$WORK/alerts")"
# Five of 100 against the profile's 10 (the running average would be 100):
# each scored in the shipped definition's `large` band.
grep -q '50 points for transactions above 3x' "$WORK/alerts" ||
    fail "reason does not count five large ones against the profile: $(cat "$WORK/alerts")"

consume_all "$PREFIX-late" --format dlq > "$WORK/late"
assert_eq 1 "$(wc -l < "$WORK/late")" "late records"
grep -q 'fw.late.event_time=2024-01-01T00:01:00.000Z fw.late.watermark=2024-01-01T00:59:50.000Z fw.source.topic=.* fw.source.partition=0 fw.source.offset=7 value={"transaction_id":"too-late"' "$WORK/late" \
    || fail "late record headers: $(cat "$WORK/late")"
grep -q ' 1 late,' "$WORK/solo.log" || fail "late count: $(grep stopped "$WORK/solo.log")"
echo "PASS $TEST_NAME"
