#!/usr/bin/env bash
# Transactions with malformed records among them, through the real broker:
# exactly the alerts that file mode gives, and every malformed record in the
# dead-letter topic with its reason and source partition/offset.
source "$(dirname "$0")/lib.sh"

make_input "$WORK/in.ndjson" 20000
expected_from_file "$WORK/in.ndjson" "$WORK/expected.alerts" "$WORK/expected.dlq"
[ "$(wc -l < "$WORK/expected.alerts")" -gt 100 ] || fail "too few expected alerts"

# --progress: lines with the share of the file sent even though stderr is a file.
"$FW_BIN" produce --progress -t "$PREFIX-in" -i "$WORK/in.ndjson" --partitions 3 \
    2> "$WORK/produce.err"
grep -q '^fraudwatch produce: .* (100.0%), .*; 20008 sent$' "$WORK/produce.err" ||
    fail "produce --progress: no final line with 100.0% and 20008 sent: $(tail -3 "$WORK/produce.err")"
start_engine solo --exit-at-end
wait_for_clean_exit "$LAST_PID" 120 "the engine reading its input to the end" "$WORK/solo.log"

consume_all "$PREFIX-out" > "$WORK/actual.alerts"
assert_same_lines "$WORK/expected.alerts" "$WORK/actual.alerts" "alerts"

consume_all "$PREFIX-dlq" > "$WORK/actual.dlq.values"
assert_same_lines "$WORK/in.ndjson.bad" "$WORK/actual.dlq.values" "dead-letter payloads"
consume_all "$PREFIX-dlq" --format dlq > "$WORK/actual.dlq"
assert_eq 8 "$(grep -c 'fw.error.reason=..* fw.error.field=.* fw.source.topic=' "$WORK/actual.dlq")" \
    "dead letters with reason and source"
assert_eq 8 "$(grep -cE 'fw.source.partition=[0-9]+ fw.source.offset=[0-9]+' "$WORK/actual.dlq")" \
    "dead letters with partition and offset"
assert_eq 2 "$(grep -c "fw.error.field=timestamp" "$WORK/actual.dlq")" \
    "dead letters naming the timestamp field"
grep -q 'stopped: 20008 transactions read' "$WORK/solo.log" || fail "engine summary: $(tail -1 "$WORK/solo.log")"
echo "PASS $TEST_NAME"
