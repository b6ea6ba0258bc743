#!/usr/bin/env bash
# Scaling out: two instances in one group share the input partitions and
# together produce exactly the alerts of one instance.
source "$(dirname "$0")/lib.sh"

make_input "$WORK/in.ndjson" 40000
expected_from_file "$WORK/in.ndjson" "$WORK/expected.alerts" "$WORK/expected.dlq"
want=$(wc -l < "$WORK/expected.alerts")

"$FW_BIN" produce --quiet -t "$PREFIX-in" -i "$WORK/in.ndjson" --partitions 4 --rate 4000 &
producer=$!
PIDS+=("$producer")
start_engine one --partitions 4
first=$LAST_PID
sleep 2
start_engine two --partitions 4
second=$LAST_PID
wait_for_clean_exit "$producer" 120 "the producer" /dev/null
wait_for_count "$PREFIX-out" "$want" 180
sleep 2
kill -TERM "$first" "$second"
wait_for_clean_exit "$first" 60 "instance one after SIGTERM" "$WORK/one.log"
wait_for_clean_exit "$second" 60 "instance two after SIGTERM" "$WORK/two.log"

# Each instance works: input partitions, or partitions of the stages behind the
# repartition topics (4 input partitions: the rules keyed by the receiving
# account, the customer and the card run there), which the group shares out too.
for inst in one two; do
    grep -q "assigned partitions \[[0-9]" "$WORK/$inst.log" || fail "instance $inst never got a partition"
    summary=$(grep 'stopped: [0-9]* transactions' "$WORK/$inst.log" | tail -1)
    n=$(grep -o 'stopped: [0-9]* transactions' <<< "$summary" | grep -o '[0-9]*')
    staged=$(grep -o '[0-9]* read from repartition topics' <<< "$summary" | grep -o '^[0-9]*')
    [ $((${n:-0} + ${staged:-0})) -gt 0 ] || fail "instance $inst processed nothing ($summary)"
    echo "ok: instance $inst processed $n input and ${staged:-0} repartitioned transactions"
done
consume_all "$PREFIX-out" > "$WORK/actual.alerts"
assert_same_lines "$WORK/expected.alerts" "$WORK/actual.alerts" "alerts from two instances"
echo "PASS $TEST_NAME"
