#!/usr/bin/env bash
# it_stage_end.sh — --exit-at-end of a staged run stops soon after its stages
# are read to their end. The run asks every stage partition for its end;
# asked on the consumer's connection, each query waited behind a fetch
# long-poll (~0.5 s each: 19 stage partitions, about 9 s of nothing).
source "$(dirname "$0")/lib.sh"

# Each log line with the wall clock in ms in front (the log has no times).
stamped() { while IFS= read -r l; do printf '%s %s\n' "$(date +%s%3N)" "$l"; done; }

run_once() { # OUT LOG
    "$FW_BIN" run --input-topic "$PREFIX-in" --output-topic "$1" --dlq-topic "$PREFIX-dlq" \
        --late-topic "$PREFIX-late" --group-id "$PREFIX" --instance-id x --partitions 6 \
        --exit-at-end 2>&1 | stamped > "$2"
    [ "${PIPESTATUS[0]}" = 0 ] || { cat "$2" >&2; fail "run failed"; }
}

"$FW_BIN" generate -q -n 3000 -o "$WORK/in.ndjson"
"$FW_BIN" produce --quiet -t "$PREFIX-in" -i "$WORK/in.ndjson" --partitions 6
run_once "$PREFIX-out" "$WORK/run.log"
grep -q "stopped: 3000 transactions read" "$WORK/run.log" || { cat "$WORK/run.log" >&2; fail "not all read"; }

# Again with everything committed: the input is at its end at once, the
# watermarks go down to the stages, and the run waits for the stages' ends.
# From the last assignment (after the restore) to the first partition given
# back: about 2 s; before the fix 10 s or more.
run_once "$PREFIX-out2" "$WORK/rerun.log"
assigned=$(grep "assigned partitions" "$WORK/rerun.log" | tail -1 | cut -d' ' -f1)
revoked=$(grep "revoked partitions" "$WORK/rerun.log" | head -1 | cut -d' ' -f1)
[ -n "$assigned" ] && [ -n "$revoked" ] || { cat "$WORK/rerun.log" >&2; fail "no assignment or revocation logged"; }
ms=$((revoked - assigned))
[ "$ms" -lt 5000 ] || { cat "$WORK/rerun.log" >&2; fail "assigned to stopping took $ms ms, expected < 5000"; }
echo "ok: a staged --exit-at-end run with nothing to read stops $ms ms after its assignment (< 5000)"
echo "PASS $TEST_NAME"
