#!/usr/bin/env bash
# Issue 11 in Kafka mode: a record dated in year 9999 among ordinary ones
# (its message carries the ordinary produce-time timestamp) and retried copies
# of ordinary records. The engine's alerts equal file mode's; the year-9999
# record is a dead letter naming max_future_skew, each copy one naming the
# partition and offset of its first copy. Then `generate --topic` with a start
# two days ahead of the wall clock: its messages carry their event times, so
# none of them is refused.
source "$(dirname "$0")/lib.sh"

"$FW_BIN" generate --quiet --seed 13 --count 6000 --fraud-ratio 0.05 --output "$WORK/gen.ndjson"
# A copy of the record three lines back after every 97th of the first 5000
# lines (the generator's last records are minutes apart: retries come sooner),
# and the poisoned record at line 2500.
awk 'NR == 2500 { print "{\"transaction_id\":\"poison\",\"timestamp\":\"9999-12-31T23:59:59Z\",\"account_id\":\"acct-1\",\"amount\":1}" }
     { print; line[NR] = $0 }
     NR <= 5000 && NR % 97 == 0 { print line[NR - 3]; print line[NR - 3] > copies }' \
    copies="$WORK/copies" "$WORK/gen.ndjson" > "$WORK/in.ndjson"
ncopies=$(wc -l < "$WORK/copies")

expected_from_file "$WORK/in.ndjson" "$WORK/expected.alerts" "$WORK/expected.dlq"
[ "$(wc -l < "$WORK/expected.alerts")" -gt 50 ] || fail "too few expected alerts"
assert_eq "$((ncopies + 1))" "$(wc -l < "$WORK/expected.dlq")" "file mode: dead letters"
assert_eq "$ncopies" "$(grep -c '"reason":"duplicate transaction_id' "$WORK/expected.dlq")" \
    "file mode: duplicates"

"$FW_BIN" produce --quiet -t "$PREFIX-in" -i "$WORK/in.ndjson" --partitions 3
start_engine solo --exit-at-end
wait "$LAST_PID" || fail "engine exited with $? (log: $(tail -5 "$WORK/solo.log"))"

consume_all "$PREFIX-out" > "$WORK/actual.alerts"
assert_same_lines "$WORK/expected.alerts" "$WORK/actual.alerts" "alerts"

consume_all "$PREFIX-dlq" --format dlq > "$WORK/actual.dlq"
assert_eq "$((ncopies + 1))" "$(wc -l < "$WORK/actual.dlq")" "dead letters"
assert_eq 1 "$(grep -c 'fw.error.reason=timestamp 9999-12-31T23:59:59.000Z is [0-9]* years ahead of the record.s Kafka timestamp 20[0-9-]*T[0-9:.]*Z; at most 5m ahead is accepted (max_future_skew) fw.error.field=timestamp' "$WORK/actual.dlq")" \
    "dead letter of the year-9999 record"
assert_eq "$ncopies" "$(grep -cE 'fw.error.reason=duplicate transaction_id "tx-13-[0-9]+": first seen at partition [0-2] offset [0-9]+ fw.error.field=transaction_id' "$WORK/actual.dlq")" \
    "dead letters of the copies"
# Each names the partition it came from and a first copy before it there.
sed -nE 's/.*first seen at partition ([0-9]+) offset ([0-9]+) .*fw.source.partition=([0-9]+) fw.source.offset=([0-9]+) .*/\1 \2 \3 \4/p' \
    "$WORK/actual.dlq" > "$WORK/positions"
assert_eq "$ncopies" "$(awk '$1 == $3 && $2 < $4' "$WORK/positions" | wc -l)" \
    "copies naming a first copy earlier on their own partition"
grep -qE "stopped: [0-9]+ transactions read .* $((ncopies + 1)) dead letters \\($ncopies duplicates\\)" \
    "$WORK/solo.log" || fail "engine summary: $(grep stopped: "$WORK/solo.log" | tail -1)"

# generate --topic two days ahead of the wall clock: nothing refused.
start=$(date -u -d '+2 days' +%Y-%m-%dT%H:%M:%SZ)
"$FW_BIN" generate --quiet --topic "$PREFIX-ahead" --partitions 3 --start "$start" --count 500 \
    --fraud-ratio 0.05
LOG_NAME=ahead start_engine ahead --exit-at-end --input-topic "$PREFIX-ahead" \
    --group-id "$PREFIX-ahead" --dlq-topic "$PREFIX-ahead-dlq" --output-topic "$PREFIX-ahead-out"
wait "$LAST_PID" || fail "engine exited with $? (log: $(tail -5 "$WORK/ahead.log"))"
grep -qE 'stopped: 500 transactions read .*, 0 dead letters' "$WORK/ahead.log" ||
    fail "generated traffic ahead of the clock: $(grep stopped: "$WORK/ahead.log" | tail -1)"
echo "ok: generated traffic two days ahead: 0 dead letters"
echo "PASS $TEST_NAME"
