#!/usr/bin/env bash
# --max-memory in Kafka mode: over it (here one byte) the engine logs it,
# makes no new key of state and counts each refusal among the progress
# line's over limits, while it goes on reading and committing.
source "$(dirname "$0")/lib.sh"

make_input "$WORK/in.ndjson" 20000
"$FW_BIN" produce --quiet -t "$PREFIX-in" -i "$WORK/in.ndjson" --partitions 1
start_engine solo --partitions 1 --max-memory 1 --stats-interval 1
engine=$LAST_PID
wait_for_log "$WORK/solo.log" 'memory: [0-9.]+ MB resident, over --max-memory 0\.0 MB: no new key of state' 60
# A progress line once all is read: the refused keys counted, nothing held
# but what the first batch made.
wait_for_log "$WORK/solo.log" 'progress: 20008 transactions read.* [0-9]{4,} over limits' 120
kill -TERM "$engine"
wait_for_clean_exit "$engine" 60 "the engine after SIGTERM" "$WORK/solo.log"
line=$(grep -E 'progress: 20008 transactions read' "$WORK/solo.log" | tail -1)
echo "PASS $TEST_NAME ($(echo "$line" | grep -oE '[0-9]+ over limits'))"
