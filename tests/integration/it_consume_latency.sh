#!/usr/bin/env bash
# it_consume_latency.sh — `consume --format latency`, what scripts/bench-latency
# reads: for each alert its rule, then the ms from its event time to its Kafka
# timestamp and to its arrival at the reader. An alert stamped 5 s in the
# past, produced now, gives about 5000 for both. A transaction (what
# `fraudwatch pipe` copies: bench-latency --pipe) is timed from its own
# timestamp as "(record)". Anything else is reported and skipped.
source "$(dirname "$0")/lib.sh"

now_ms=$(date +%s%3N)
ago=$((now_ms - 5000))
event=$(date -u -d "@$((ago / 1000)).$(printf %03d $((ago % 1000)))" +%FT%T.%3NZ)
printf '{"alert_id":"fw-1","rule":"high_amount","event_time":"%s"}\nnot an alert\n' "$event" \
    > "$WORK/alerts.ndjson"
printf '{"transaction_id":"t1","timestamp":"%s","amount":5}\n' "$event" >> "$WORK/alerts.ndjson"
"$FW_BIN" produce --quiet -t "$PREFIX-out" -i "$WORK/alerts.ndjson" --partitions 1
"$FW_BIN" consume -t "$PREFIX-out" -e --format latency > "$WORK/latency.txt" 2> "$WORK/err.txt" ||
    fail "consume exited $?: $(cat "$WORK/err.txt")"
read -r rule engine visible < "$WORK/latency.txt"
assert_eq high_amount "$rule" "the alert's rule"
[ "$engine" -ge 5000 ] && [ "$engine" -le 65000 ] || fail "event time to Kafka timestamp: $engine ms, expected about 5000"
[ "$visible" -ge "$engine" ] || fail "arrival ($visible ms) before the Kafka timestamp ($engine ms)"
echo "ok: event time to Kafka timestamp $engine ms, to arrival $visible ms"
assert_eq 2 "$(wc -l < "$WORK/latency.txt")" "lines printed (the record that is no alert skipped)"
read -r rule engine visible < <(sed -n 2p "$WORK/latency.txt")
assert_eq "(record)" "$rule" "a transaction's name"
[ "$engine" -ge 5000 ] && [ "$engine" -le 65000 ] || fail "transaction: timestamp to Kafka timestamp: $engine ms, expected about 5000"
grep -q "offset 1: neither an alert with an event_time nor a record with a timestamp" "$WORK/err.txt" ||
    fail "the skipped record was not reported: $(cat "$WORK/err.txt")"
echo "PASS $TEST_NAME"
