#!/usr/bin/env bash
# Exactly-once under crashes: while input is still arriving, the engine is
# killed with SIGKILL several times and restarted. A read_committed consumer
# of the alert topic must see every expected alert exactly once.
source "$(dirname "$0")/lib.sh"

make_input "$WORK/in.ndjson" 60000
expected_from_file "$WORK/in.ndjson" "$WORK/expected.alerts" "$WORK/expected.dlq"
want=$(wc -l < "$WORK/expected.alerts")

# Input arrives over ~40 s, so every kill lands mid-stream: each incarnation
# is killed only once it holds partitions and has processed records.
"$FW_BIN" produce --quiet -t "$PREFIX-in" -i "$WORK/in.ndjson" --partitions 3 --rate 1500 &
producer=$!
PIDS+=("$producer")

kills=0
for delay in 1.3 2.1 0.7 1.6; do
    LOG_NAME=crashy-$kills start_engine crashy --commit-interval-ms 100
    wait_for_log "$ENGINE_LOG" 'progress: [1-9][0-9]* transactions read' 60
    sleep "$delay"
    kill -9 "$LAST_PID"
    wait "$LAST_PID" 2>/dev/null || true
    kills=$((kills + 1))
    echo "killed the engine with SIGKILL ($kills) after $(grep -o 'progress: [0-9]* transactions' "$ENGINE_LOG" | tail -1)"
done
LOG_NAME=crashy-final start_engine crashy
wait_for_clean_exit "$producer" 120 "the producer" /dev/null
wait_for_count "$PREFIX-out" "$want" 180
sleep 2   # a duplicate would show up after the expected count is reached
kill -TERM "$LAST_PID"
wait_for_clean_exit "$LAST_PID" 60 "the engine after SIGTERM" "$ENGINE_LOG"

consume_all "$PREFIX-out" > "$WORK/actual.alerts"
assert_same_lines "$WORK/expected.alerts" "$WORK/actual.alerts" "alerts after $kills SIGKILLs"
consume_all "$PREFIX-dlq" > "$WORK/actual.dlq.values"
assert_same_lines "$WORK/in.ndjson.bad" "$WORK/actual.dlq.values" "dead letters after $kills SIGKILLs"
# Evidence that the kills interrupted open transactions: a read_uncommitted
# reader also sees the aborted attempts.
raw=$(consume_all "$PREFIX-out" --read-uncommitted | wc -l)
echo "info: read_uncommitted sees $raw alert messages (committed: $want)"
echo "PASS $TEST_NAME"
