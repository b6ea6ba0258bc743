#!/usr/bin/env bash
# An idle partition does not hold its last transactions for ever: the pattern
# completed by the newest transaction waits for the watermark (newest event
# time − 10 s), which only the idle timeout can move once input stops.
source "$(dirname "$0")/lib.sh"

base=1704067200000
printf '%s\n' \
    "{\"transaction_id\":\"k-1\",\"timestamp\":$base,\"card_id\":\"K\",\"amount\":5}" \
    "{\"transaction_id\":\"k-2\",\"timestamp\":$((base + 60000)),\"card_id\":\"K\",\"amount\":2000}" \
    > "$WORK/in.ndjson"
"$FW_BIN" produce --quiet -t "$PREFIX-in" -i "$WORK/in.ndjson" --partitions 1
start_engine solo --partitions 1 --idle-timeout-ms 1500
engine=$LAST_PID
wait_for_count "$PREFIX-out" 1 60
consume_all "$PREFIX-out" > "$WORK/alerts"
grep -q '"rule":"small_then_large"' "$WORK/alerts" || fail "expected small_then_large: $(cat "$WORK/alerts")"
kill -TERM "$engine"
wait_for_clean_exit "$engine" 60 "the engine after SIGTERM" "$ENGINE_LOG"
echo "PASS $TEST_NAME"
