#!/usr/bin/env bash
# tests/cli/event_time.sh — issue 11's repros in file mode: one record dated
# in year 9999 must not blind the stateful rules (it is a dead letter naming
# its timestamp and the bound; the velocity alert still fires; nothing is
# late), and copies of one transaction are applied once (dead letters naming
# the first copy's line; one high_amount alert; no velocity alert from
# "same, same, same"). Also: the options that turn the checks off, and bad
# values rejected with the option or field named.
set -euo pipefail
: "${FW_BIN:?FW_BIN must point at the fraudwatch binary}"
unset FW_MAX_FUTURE_SKEW FW_MAX_EVENT_TIME_JUMP RULES_FILE
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

fail() { echo "FAIL event_time: $*" >&2; exit 1; }
assert_eq() { # EXPECTED ACTUAL WHAT
    [ "$1" == "$2" ] || fail "$3: expected '$1', got '$2'"
    echo "ok: $3 = $2"
}
lines() { if [ -s "$1" ]; then wc -l < "$1"; else echo 0; fi; }

# --- one future-dated record
printf '%s\n' \
    '{"transaction_id":"p","timestamp":"9999-12-31T23:59:59Z","account_id":"x","amount":1}' \
    '{"transaction_id":"a1","timestamp":"2024-01-15T10:01:00Z","account_id":"v","amount":2000}' \
    '{"transaction_id":"a2","timestamp":"2024-01-15T10:02:00Z","account_id":"v","amount":2000}' \
    '{"transaction_id":"a3","timestamp":"2024-01-15T10:03:00Z","account_id":"v","amount":2000}' \
    > poison.ndjson
"$FW_BIN" run --input poison.ndjson --output out.ndjson --late late.ndjson --dlq dlq.ndjson \
    2> run.log
assert_eq 1 "$(lines out.ndjson)" "alerts with a year-9999 record first"
grep -q '"rule":"velocity".*"entity_id":"v"' out.ndjson || fail "no velocity alert for v: $(cat out.ndjson)"
for id in a1 a2 a3; do
    grep -q "\"transaction_id\":\"$id\"" out.ndjson || fail "velocity evidence lacks $id"
done
assert_eq 0 "$(lines late.ndjson)" "late records"
assert_eq 1 "$(lines dlq.ndjson)" "dead letters"
grep -q '"reason":"timestamp 9999-12-31T23:59:59.000Z is 7975 years ahead of the newest event time accepted (2024-01-15T10:02:00.000Z) and 3 later records contradict it; at most 1h ahead is accepted unless later records confirm it (max_event_time_jump)","field":"timestamp","source":{"file":"poison.ndjson","line":1}' dlq.ndjson ||
    fail "dead letter: $(cat dlq.ndjson)"
grep -q '1 dead letters (0 duplicates, 1 event-time jumps), 0 late' run.log || fail "summary: $(cat run.log)"

# Without the check the record blinds the rules, as the issue reports.
"$FW_BIN" run --quiet --max-event-time-jump off --input poison.ndjson --output off.ndjson \
    --late off-late.ndjson
assert_eq 0 "$(lines off.ndjson)" "alerts with --max-event-time-jump off"
assert_eq 3 "$(lines off-late.ndjson)" "late records with --max-event-time-jump off"
FW_MAX_EVENT_TIME_JUMP=off "$FW_BIN" run --quiet --input poison.ndjson --output env.ndjson \
    --dlq /dev/null
assert_eq 0 "$(lines env.ndjson)" "alerts with FW_MAX_EVENT_TIME_JUMP=off"
FW_MAX_EVENT_TIME_JUMP=off "$FW_BIN" run --quiet --max-event-time-jump 1h --input poison.ndjson \
    --output flag.ndjson --dlq /dev/null
assert_eq 1 "$(lines flag.ndjson)" "alerts with the flag over the env"

# --- copies of one transaction
copies() { # copies N RECORD
    local i
    for ((i = 0; i < $1; i++)); do echo "$2"; done
}
copies 3 '{"transaction_id":"same","timestamp":"2024-01-15T10:30:00Z","account_id":"acc-1","amount":2000}' \
    > copies.ndjson
"$FW_BIN" run --input copies.ndjson --output out2.ndjson --dlq dlq2.ndjson 2> run2.log
assert_eq 0 "$(lines out2.ndjson)" "velocity alerts from three copies"
assert_eq 2 "$(lines dlq2.ndjson)" "dead letters from three copies"
for line in 2 3; do
    grep -q "\"reason\":\"duplicate transaction_id \\\\\"same\\\\\": first seen at line 1\",\"field\":\"transaction_id\",\"source\":{\"file\":\"copies.ndjson\",\"line\":$line}" dlq2.ndjson ||
        fail "dead letter of line $line: $(cat dlq2.ndjson)"
done
grep -q '2 dead letters (2 duplicates, 0 event-time jumps)' run2.log || fail "summary: $(cat run2.log)"

copies 1000 '{"transaction_id":"big","timestamp":"2024-01-15T10:30:00Z","account_id":"acc-1","amount":20000}' |
    "$FW_BIN" run --quiet --input - --output out3.ndjson --dlq dlq3.ndjson
assert_eq 1 "$(lines out3.ndjson)" "high_amount alerts from 1000 copies"
assert_eq 999 "$(lines dlq3.ndjson)" "dead letters from 1000 copies"

# Without the id set the issue's velocity alert on "same, same, same" comes back.
echo '{"limits":{"max_transaction_ids":0}}' > no-ids.json
"$FW_BIN" run --quiet --rules no-ids.json --input copies.ndjson --output off2.ndjson
assert_eq 1 "$(grep -c '"rule":"velocity"' off2.ndjson)" "velocity alerts with max_transaction_ids 0"

# --- bad values name what is wrong
if "$FW_BIN" run --max-future-skew 5 --input copies.ndjson 2> err.txt; then fail "--max-future-skew 5 accepted"; fi
grep -q -- '--max-future-skew: expected a duration like "5m"' err.txt || fail "message: $(cat err.txt)"
echo '{"time":{"duplicate_margin":"soon"}}' > bad-rules.json
if "$FW_BIN" run --rules bad-rules.json --input copies.ndjson 2> err.txt; then fail "bad rules accepted"; fi
grep -q 'time.duplicate_margin' err.txt || fail "message: $(cat err.txt)"
echo "PASS event_time"
