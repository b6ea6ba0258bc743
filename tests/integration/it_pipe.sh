#!/usr/bin/env bash
# it_pipe.sh — `fraudwatch pipe`, the ceiling of scripts/bench-kafka.sh, copies
# a topic exactly once. Every record arrives once, key and value unchanged.
# A second run in the same group finds nothing left to copy, because the
# offsets were committed in the same transactions as the copies. A SIGKILL
# midway and a restart still give every record exactly once. Options are
# checked before any Kafka work.
source "$(dirname "$0")/lib.sh"

"$FW_BIN" generate -q -n 30000 -o "$WORK/in.ndjson"
"$FW_BIN" produce --quiet -t "$PREFIX-in" -i "$WORK/in.ndjson" --partitions 3

# 1. options
set +e
"$FW_BIN" pipe --input-topic "$PREFIX-in" > "$WORK/usage.txt" 2>&1
status=$?
set -e
assert_eq 2 "$status" "exit status without --output-topic"
grep -q "output-topic is required" "$WORK/usage.txt" || fail "no message naming --output-topic: $(cat "$WORK/usage.txt")"

# 2. whole, then nothing left
"$FW_BIN" pipe --input-topic "$PREFIX-in" --output-topic "$PREFIX-out" -g "$PREFIX" -e \
    > "$WORK/pipe.txt" 2>&1 || fail "pipe exited $?: $(cat "$WORK/pipe.txt")"
grep -q "fraudwatch pipe: 30000 records" "$WORK/pipe.txt" || fail "pipe did not report 30000 records: $(cat "$WORK/pipe.txt")"
consume_all "$PREFIX-out" > "$WORK/out.ndjson"
assert_same_lines "$WORK/in.ndjson" "$WORK/out.ndjson" "records copied"
"$FW_BIN" pipe --input-topic "$PREFIX-in" --output-topic "$PREFIX-out" -g "$PREFIX" -e \
    > "$WORK/again.txt" 2>&1 || fail "second pipe exited $?: $(cat "$WORK/again.txt")"
grep -q "fraudwatch pipe: 0 records" "$WORK/again.txt" || fail "the second run copied again: $(cat "$WORK/again.txt")"
echo "ok: a second run in the same group copies nothing"

# 3. SIGKILL once some copies are committed (a slow commit interval keeps
# more in flight; how many were done by then is printed), then a run to the
# end: still every record once.
"$FW_BIN" pipe --input-topic "$PREFIX-in" --output-topic "$PREFIX-killed" -g "$PREFIX-k" \
    --commit-interval-ms 400 > "$WORK/killed.txt" 2>&1 &
pid=$!
PIDS+=("$pid")
wait_until 60 "some copies committed" - \
    bash -c "[ \"\$(\"$FW_BIN\" consume -t $PREFIX-killed -e --timeout-ms 20000 2>/dev/null | wc -l)\" -gt 0 ]"
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
before=$(consume_all "$PREFIX-killed" 2>/dev/null | wc -l)
echo "ok: killed with $before of 30000 records committed"
"$FW_BIN" pipe --input-topic "$PREFIX-in" --output-topic "$PREFIX-killed" -g "$PREFIX-k" -e \
    > "$WORK/resumed.txt" 2>&1 || fail "resumed pipe exited $?: $(cat "$WORK/resumed.txt")"
consume_all "$PREFIX-killed" > "$WORK/killed.ndjson"
assert_same_lines "$WORK/in.ndjson" "$WORK/killed.ndjson" "records copied through a SIGKILL"
echo "PASS $TEST_NAME"
